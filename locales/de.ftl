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

## hints
hints-note = Schlagwort nennt eine registrierte Person: { $names }: als Person markieren
reason-keyword-names-person = Schlagwort nennt eine registrierte Person: als Person markieren
col-folder = ORDNER
