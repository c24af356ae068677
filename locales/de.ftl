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
col-unnamed_faces = UNBENANNTE GESICHTER

## hints
hints-note = Schlagwort nennt eine registrierte Person: { $names }: als Person markieren
reason-keyword-names-person = Schlagwort nennt eine registrierte Person: als Person markieren
col-folder = ORDNER
