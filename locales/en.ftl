# consentry's messages in English. Every message here has its German counterpart in de.ftl
# (a unit test in src/i18n.rs keeps the two files' ids equal).

## Statuses (SPEC.md 4): how tables and the HTML report show them.
status-unreadable = unreadable
status-none = none
status-exempt = exempt
status-red = red
status-yellow = yellow
status-green = green

## Why a person lacks consent.
reason-unknown = unknown
reason-no-consent = no-consent
reason-expired = expired
reason-not-yet-valid = not-yet-valid
reason-revoked = revoked
reason-out-of-scope = out-of-scope
reason-unnamed-face = unnamed-face

## Column headers of tables, spreadsheets and the HTML report.
col-action = ACTION
col-aliases = ALIASES
col-change = CHANGE
col-consents = CONSENTS
col-days_left = DAYS LEFT
col-deleted = DELETED
col-detail = DETAIL
col-document = DOCUMENT
col-documents = DOCUMENTS
col-error = ERROR
col-exemptions = EXEMPTIONS
col-expires = EXPIRES
col-expires_before = EXPIRES BEFORE
col-files = FILES
col-granted = GRANTED
col-group = GROUP
col-id = ID
col-item = ITEM
col-key = KEY
col-kind = KIND
col-lacking = LACKING
col-missing = MISSING
col-name = NAME
col-new_status = NEW STATUS
col-note = NOTE
col-old_status = OLD STATUS
col-path = PATH
col-person = PERSON
col-persons = PERSONS
col-reason = REASON
col-revoked = REVOKED
col-revoked_before = REVOKED BEFORE
col-run = RUN
col-scope = SCOPE
col-status = STATUS
col-stored = STORED
col-suggestions = SUGGESTIONS
col-target = TARGET
col-usage = USAGE
col-valid_until = VALID UNTIL
col-validity = VALIDITY
col-would_stop_green = WOULD STOP GREEN

## Used by the unit tests of src/i18n.rs.
test-plural = { $count ->
    [one] { $count } file
   *[other] { $count } files
}

## html
# The HTML report (src/html): its labels, legend and titles (cli.rs `report_title`).
html-title-missing = Files missing consent
html-title-expiring = { $days ->
    [one] Consents expiring within { $days } day
   *[other] Consents expiring within { $days } days
}
html-title-consents = Consents
html-title-unreleased = Files not released for { $usages }
html-title-cleared = Files cleared for { $usages }
html-title-unknown-persons = Persons not in the register
html-title-summary = Summary
html-title-changes = Changes
html-written = Wrote the HTML report { $index } in { $seconds } s: { $rows } rows, { $thumbnails } thumbnails ({ $previews } from embedded previews), { $placeholders } placeholders.
html-evaluated-on = Evaluated on
html-count-files = { $count ->
    [one] { $count } file
   *[other] { $count } files
}
html-count-rows = { $count ->
    [one] { $count } row
   *[other] { $count } rows
}
html-private = This report names and shows people: keep it where only those entitled can read it.
html-counts-checked = { $count ->
    [one] { $count } file checked:
   *[other] { $count } files checked:
}
html-filter = Filter
html-filter-placeholder = name, path, reason, consent...
html-shown = { $shown } of { $all } shown
html-group-of = { $shown } of { $all }
html-empty = Nothing to report.
html-unnamed-faces = { $count ->
    [one] { $count } unnamed face
   *[other] { $count } unnamed faces
}
html-thumb-alt = thumbnail
html-thumb-preview = embedded preview
html-thumb-decoded = decoded image
html-ph-video = Video
html-ph-no-preview = No preview
html-ph-unreadable = Unreadable
html-legend-title = What the statuses mean
html-legend-red = People are on it and none of them has a valid consent: not cleared.
html-legend-yellow = Some people on it have consent, at least one has not (also after a revocation): not cleared.
html-legend-unreadable = The file could not be read completely, so who is on it is not certain: never cleared.
html-legend-green = Everyone on it has a valid consent: cleared for the usages all of them agreed to, until the earliest expiry.
html-legend-exempt = Everyone on it needs no consent here, by an exemption of the register (e.g. a public event): free to use.
html-legend-none = Nobody is on it (no person named, no face): free to use.
html-legend-reasons = Why consent is missing:
html-reason-unknown = the name is not in the register
html-reason-no-consent = in the register, but without any consent
html-reason-expired = the consent ended before the date
html-reason-not-yet-valid = the consent starts after the date
html-reason-revoked = the consent was revoked
html-reason-out-of-scope = consents exist, none covers this file
html-reason-unnamed-face = a face without a name can never have consent
