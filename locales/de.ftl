# consentrys Meldungen auf Deutsch. Jede Meldung hier hat ihr englisches Gegenstück in en.ftl.

## Status (SPEC.md 4).
status-unreadable = unlesbar
status-none = niemand
status-exempt = ausgenommen
status-red = rot
status-yellow = gelb
status-green = grün

## Warum einer Person die Einwilligung fehlt.
reason-unknown = unbekannt
reason-no-consent = keine Einwilligung
reason-expired = abgelaufen
reason-not-yet-valid = noch nicht gültig
reason-revoked = widerrufen
reason-out-of-scope = außerhalb des Geltungsbereichs
reason-unnamed-face = unbenanntes Gesicht

## Spaltenköpfe von Tabellen, Tabellenkalkulationen und dem HTML-Bericht.
col-action = AKTION
col-aliases = ALIASE
col-change = ÄNDERUNG
col-consents = EINWILLIGUNGEN
col-days_left = TAGE ÜBRIG
col-deleted = GELÖSCHT
col-detail = DETAIL
col-document = DOKUMENT
col-documents = DOKUMENTE
col-error = FEHLER
col-exemptions = AUSNAHMEN
col-expires = ABLAUFDATUM
col-expires_before = ABLAUF VORHER
col-files = DATEIEN
col-granted = ERTEILT
col-group = GRUPPE
col-id = ID
col-item = EINTRAG
col-key = SCHLÜSSEL
col-kind = ART
col-lacking = FEHLT
col-missing = FEHLENDE EINWILLIGUNG
col-name = NAME
col-new_status = NEUER STATUS
col-note = HINWEIS
col-old_status = ALTER STATUS
col-path = PFAD
col-person = PERSON
col-persons = PERSONEN
col-reason = GRUND
col-revoked = WIDERRUFEN
col-revoked_before = WIDERRUFEN VORHER
col-run = LAUF
col-scope = GELTUNGSBEREICH
col-status = STATUS
col-stored = GESPEICHERT
col-suggestions = VORSCHLÄGE
col-target = ZIEL
col-usage = EINSATZGEBIETE
col-valid_until = GÜLTIG BIS
col-validity = GÜLTIGKEIT
col-would_stop_green = NICHT MEHR GRÜN

## Für die Unit-Tests von src/i18n.rs.
test-plural = { $count ->
    [one] { $count } Datei
   *[other] { $count } Dateien
}

## html
# Der HTML-Bericht (src/html): Beschriftungen, Legende und Titel (cli.rs `report_title`).
html-title-missing = Dateien ohne Einwilligung
html-title-expiring = { $days ->
    [one] Einwilligungen, die innerhalb von { $days } Tag ablaufen
   *[other] Einwilligungen, die innerhalb von { $days } Tagen ablaufen
}
html-title-consents = Einwilligungen
html-title-unreleased = Dateien nicht freigegeben für { $usages }
html-title-cleared = Dateien freigegeben für { $usages }
html-title-unknown-persons = Personen, die nicht im Register stehen
html-title-summary = Übersicht
html-title-changes = Änderungen
html-written = HTML-Bericht { $index } geschrieben in { $seconds } s: { $rows } Zeilen, { $thumbnails } Vorschaubilder ({ $previews } aus eingebetteten Vorschauen), { $placeholders } Platzhalter.
html-evaluated-on = Ausgewertet am
html-count-files = { $count ->
    [one] { $count } Datei
   *[other] { $count } Dateien
}
html-count-rows = { $count ->
    [one] { $count } Zeile
   *[other] { $count } Zeilen
}
html-private = Dieser Bericht nennt und zeigt Personen: Bewahren Sie ihn so auf, dass nur Berechtigte ihn lesen können.
html-counts-checked = { $count ->
    [one] { $count } Datei geprüft:
   *[other] { $count } Dateien geprüft:
}
html-filter = Filter
html-filter-placeholder = Name, Pfad, Grund, Einwilligung …
html-shown = { $shown } von { $all } angezeigt
html-group-of = { $shown } von { $all }
html-empty = Nichts zu berichten.
html-unnamed-faces = { $count ->
    [one] { $count } unbenanntes Gesicht
   *[other] { $count } unbenannte Gesichter
}
html-thumb-alt = Vorschaubild
html-thumb-preview = eingebettete Vorschau
html-thumb-decoded = dekodiertes Bild
html-ph-video = Video
html-ph-no-preview = Keine Vorschau
html-ph-unreadable = Unlesbar
html-legend-title = Was die Status bedeuten
html-legend-red = Personen sind zu sehen, keine hat eine gültige Einwilligung: nicht freigegeben.
html-legend-yellow = Einige Personen haben eingewilligt, mindestens eine nicht (auch nach einem Widerruf): nicht freigegeben.
html-legend-unreadable = Die Datei ließ sich nicht vollständig lesen, wer zu sehen ist, ist unsicher: nie freigegeben.
html-legend-green = Alle Personen haben gültig eingewilligt: freigegeben für die Einsatzgebiete, denen alle zugestimmt haben, bis zum frühesten Ablauf.
html-legend-exempt = Alle zu sehenden Personen brauchen hier keine Einwilligung, laut einer Ausnahme im Register (z. B. öffentliche Veranstaltung): frei verwendbar.
html-legend-none = Niemand ist zu sehen (keine Person benannt, kein Gesicht): frei verwendbar.
html-legend-reasons = Warum die Einwilligung fehlt:
html-reason-unknown = der Name steht nicht im Register
html-reason-no-consent = im Register, aber ohne Einwilligung
html-reason-expired = die Einwilligung endete vor dem Stichtag
html-reason-not-yet-valid = die Einwilligung beginnt nach dem Stichtag
html-reason-revoked = die Einwilligung wurde widerrufen
html-reason-out-of-scope = es gibt Einwilligungen, aber keine gilt für diese Datei
html-reason-unnamed-face = ein Gesicht ohne Namen kann nie eingewilligt haben
