# consentrys Meldungen auf Deutsch. Jede Meldung hier hat ihr englisches Gegenstück in en.ftl.

## Status (SPEC.md 4).
status-unreadable = unlesbar
status-none = niemand
status-exempt = ausgenommen
status-red = rot
status-yellow = gelb
status-unknown = unbekannt
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

## Für die Unit-Tests von src/i18n.rs.
test-plural = { $count ->
    [one] { $count } Datei
   *[other] { $count } Dateien
}

## edit: consent revoke by name, consent assign, counts per consent
col-would_stop_cleared = NICHT MEHR FREIGEGEBEN
col-would_stop_cleared_paths = DATEIEN NICHT MEHR FREIGEGEBEN
edit-unlimited = unbegrenzt
edit-did-you-mean = ; meinten Sie { $names }?
edit-revoke-nobody = keine Einwilligung mit der Nummer { $arg } und keine Person dieses Namens im Register
edit-revoke-nothing-changed = nichts wurde geändert (siehe `consentry consent search` und `consentry person list`)
edit-revoke-no-consent = { $arg } hat keine Einwilligung im Register; nichts wurde geändert
edit-revoke-person = { $arg } ist Person { $id }, { $count ->
    [one] eine Einwilligung
   *[other] { $count } Einwilligungen
} zu widerrufen:
edit-revoke-consent = { $id }  Verwendung { $usage }  erteilt { $granted }  gültig bis { $expires }
edit-revoke-revoked = {"  "}widerrufen { $revoked }
edit-revoke-needs-all = --all widerruft alle, oder eine Einwilligungsnummer angeben; nichts wurde geändert
edit-assign-included = die Einwilligung gilt für { $persons ->
    [one] eine Person
   *[other] { $persons } Personen
} auf { $files ->
    [one] einer Datei
   *[other] { $files } Dateien
}:
edit-assign-person = { $name } ({ $files ->
    [one] eine Datei
   *[other] { $files } Dateien
})
edit-assign-dry-run = Probelauf: mit --yes wird eingetragen (im Terminal trägt `consent assign` nur mit --yes ein)

## xlsx: die Spalten der Scan-Datensätze (Tabellen und Tabellenkalkulationen), die Berichte nicht haben.
col-format = FORMAT
col-sidecars = FILIALDATEIEN
col-sources = QUELLEN
col-taken = AUFGENOMMEN
col-hints = HINWEISE
col-unnamed_faces = UNBENANNTE GESICHTER

## hints
hints-note = Schlagwort nennt eine registrierte Person: { $names }: als Person markieren
reason-keyword-names-person = Schlagwort nennt eine registrierte Person: als Person markieren
col-folder = ORDNER

## explain: `consentry explain DATEI`, die Entscheidung über eine Datei Person für Person.
col-outcome = ERGEBNIS
col-consent = EINWILLIGUNG
explain-outcome-file = Datei
explain-outcome-exempt = ausgenommen
explain-outcome-consent = Einwilligung
explain-outcome-missing = fehlt
explain-exempt-not-recognisable = nicht erkennbar
explain-exempt-prominent = Person des öffentlichen Lebens
explain-exempt-public-event = öffentliche Veranstaltung
explain-exempt-other = sonstiges
explain-file-unreadable = konnte nicht vollständig gelesen werden ({ $error }): nichts ist freigegeben, welche Einwilligungen die gelesenen Personen auch haben
explain-file-none = niemand abgebildet: für jede Verwendung freigegeben
explain-file-exempt = alle Abgebildeten sind ausgenommen: für jede Verwendung freigegeben
explain-file-green = alle Abgebildeten haben eingewilligt: freigegeben für { $usage }
explain-file-green-nothing = alle Abgebildeten haben eingewilligt, aber ihre Einwilligungen haben keine Verwendung gemeinsam: für nichts freigegeben
explain-file-yellow = nicht freigegeben: { $count ->
    [one] { $count } Person hat
   *[other] { $count } Personen haben
} keine Einwilligung, die anderen schon
explain-file-red = nicht freigegeben: niemand Abgebildetes hat eine Einwilligung ({ $count ->
    [one] { $count } Person
   *[other] { $count } Personen
})
explain-exempt = braucht hier keine Einwilligung: ausgenommen in { $scope }
explain-consent = zählt: am Stichtag gültig, und ihr Geltungsbereich umfasst diese Datei
explain-consent-unread = zählt nicht: die Datei konnte nicht vollständig gelesen werden
explain-missing-unknown = nicht im Register (ein Schreibfehler? siehe `consentry report unknown-persons`)
explain-missing-no-consent = im Register, aber ohne jede Einwilligung
explain-missing-expired = Einwilligung { $id } ist am { $day } abgelaufen
explain-missing-not-yet-valid = Einwilligung { $id } gilt erst ab { $day }
explain-missing-revoked = Einwilligung { $id } wurde am { $day } widerrufen
explain-missing-out-of-scope = Einwilligung { $id } gilt für { $scope }, nicht für diese Datei
explain-missing-unnamed-face = ein Gesicht ohne Namen: die Person benennen oder alle Abgebildeten ausnehmen
explain-refuse-folder = consentry: explain: { $path } ist ein Ordner: explain erklärt Mediendateien (für einen Ordner: `consentry report missing { $path }`)
explain-refuse-not-media = consentry: explain: keine Mediendatei: { $paths }

## cli: was die Befehle auf stderr sagen (Zusammenfassungen, Hinweise).
cli-scan-summary = { $files ->
    [one] { $files } Mediendatei
   *[other] { $files } Mediendateien
} in { $secs } s gelesen ({ $rate } Dateien/s): { $persons } mit Personen, { $faces } mit unbenannten Gesichtern, { $unreadable } unlesbar
cli-scan-orphans = , { $count ->
    [one] { $count } verwaiste Sidecar-Datei
   *[other] { $count } verwaiste Sidecar-Dateien
}
cli-scan-skipped = , { $count ->
    [one] { $count } andere Datei übersprungen
   *[other] { $count } andere Dateien übersprungen
}.
cli-scan-statuses = Status: { $counts }.
cli-status-count = { $count } { $status }
cli-check-summary = { $files ->
    [one] { $files } Datei
   *[other] { $files } Dateien
} für { $usage } am { $date } geprüft: { $blocking } nicht freigegeben, { $cleared } freigegeben.
cli-apply-summary = { $files ->
    [one] { $files } Datei
   *[other] { $files } Dateien
}: { $written } geschrieben, { $unchanged } unverändert, { $failed } nicht geschrieben.
cli-apply-summary-dry-run = { $files ->
    [one] { $files } Datei
   *[other] { $files } Dateien
}: { $written } würden geschrieben, { $unchanged } unverändert, { $failed } nicht geschrieben.
cli-changes-line = consentry: { $path }: { $about }; { $rows ->
    [one] { $rows } Zeile
   *[other] { $rows } Zeilen
}.
cli-changes-none = in diesem Zeitraum sind keine Läufe verzeichnet
cli-changes-baseline = der Lauf vom { $finished } war der erste: mit ihm werden spätere Läufe verglichen
cli-changes-last-run = Änderungen, die der Lauf vom { $finished } gefunden hat
cli-changes-since = Änderungen, die { $runs ->
    [one] der { $runs } Lauf
   *[other] die { $runs } Läufe
} seit dem { $day } gefunden { $runs ->
    [one] hat
   *[other] haben
}
cli-changes-last-runs = Änderungen, die die letzten { $runs } Läufe gefunden haben
cli-checkpoint-no-run = kein Lauf, seit der Prüfpunkt { $name } zuletzt berichtet hat
cli-checkpoint-runs = Änderungen, die { $runs ->
    [one] der { $runs } Lauf
   *[other] die { $runs } Läufe
} gefunden { $runs ->
    [one] hat
   *[other] haben
}, seit der Prüfpunkt { $name } zuletzt berichtet hat
cli-checkpoint-new-empty = der Prüfpunkt { $name } ist neu, und es sind keine Läufe verzeichnet
cli-checkpoint-new = der Prüfpunkt { $name } ist neu: Änderungen aller verzeichneten Läufe ({ $runs })
cli-person-none = consentry: keine Person { $name } im Register oder in den Dateien
cli-person-suggest = consentry: keine Person { $name } im Register oder in den Dateien; meinten Sie { $close }?
cli-html-written = HTML-Bericht { $index } in { $secs } s geschrieben: { $rows ->
    [one] { $rows } Zeile
   *[other] { $rows } Zeilen
}, { $thumbnails } Vorschaubilder ({ $previews } aus eingebetteten Vorschauen), { $placeholders } Platzhalter.
cli-register-check = { $path }: { $errors } Fehler, { $warnings ->
    [one] { $warnings } Warnung
   *[other] { $warnings } Warnungen
}.
cli-search-no-person = consentry: keine Person { $name } im Register
cli-checkpoint-not-moved = consentry: die Ausgabe wurde geschlossen, bevor der Bericht ganz geschrieben war: Prüfpunkt { $name } nicht verschoben
cli-progress-scanned = Dateien gelesen

## why: warum check eine Datei blockiert (die Spalte Grund von check)
why-unreadable = unlesbar: { $error }
why-missing = Einwilligung fehlt: { $persons }
why-not-released = nicht freigegeben für { $usages }

## note: die Spalte Hinweis der Tabelle von scan
note-error = Fehler: { $error }
note-orphan-sidecar = Begleitdatei ohne Mediendatei
note-missing = fehlt: { $persons }
note-usage-until = { $usage } bis { $until }
note-taken = aufgenommen { $taken }

## engine: was ein Lauf im Zustand festhielt
engine-state-run = Zustand { $state }: { $files ->
    [one] eine Datei
   *[other] { $files } Dateien
}, { $read } gelesen, { $unchanged } unverändert; { $new } neu, { $moved } verschoben, { $removed } entfernt; { $changes ->
    [one] eine Änderung
   *[other] { $changes } Änderungen
} (`consentry report changes`).

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

## summary: die Wörter der Spalten Gruppe und Schlüssel von report summary
summary-status = Status
summary-usage = Einsatzgebiet
summary-no-persons = ohne Personen
summary-folder = Ordner
summary-every-usage = jedes Einsatzgebiet

## changes: die Spalte Änderung von report changes
change-new = neu
change-removed = entfernt
change-moved = verschoben
change-became-red = wurde rot
change-became-yellow = wurde gelb
change-became-green = wurde grün
change-became-unreadable = wurde unlesbar
change-became-none = zeigt niemanden mehr
change-became-exempt = wurde ausgenommen
change-consent-expired = Einwilligung abgelaufen
change-consent-revoked = Einwilligung widerrufen

## shard: ein aufgeteilter Lauf sagt es
cli-shard = Teil { $k }/{ $n }: nur die Dateien dieses Teils werden gelesen und beurteilt
cli-results-written = consentry: Ergebnisse geschrieben nach { $path }
