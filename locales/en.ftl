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

## hints
hints-note = keyword names a registered person: { $names }: tag them as a person
reason-keyword-names-person = keyword names a registered person: tag them as a person
col-folder = FOLDER
