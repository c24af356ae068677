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

## Used by the unit tests of src/i18n.rs.
test-plural = { $count ->
    [one] { $count } file
   *[other] { $count } files
}

## edit: consent revoke by name, consent assign, counts per consent
col-would_stop_cleared = WOULD STOP CLEARED
col-would_stop_cleared_paths = FILES THAT WOULD STOP CLEARED
edit-unlimited = unlimited
edit-did-you-mean = ; did you mean { $names }?
edit-revoke-nobody = no consent with id { $arg } and no person of that name in the register
edit-revoke-nothing-changed = nothing was changed (see `consentry consent search` and `consentry person list`)
edit-revoke-no-consent = { $arg } has no consent in the register; nothing was changed
edit-revoke-person = { $arg } is person { $id }, with { $count ->
    [one] one consent
   *[other] { $count } consents
} to revoke:
edit-revoke-consent = { $id }  usage { $usage }  granted { $granted }  expires { $expires }
edit-revoke-revoked = {"  "}revoked { $revoked }
edit-revoke-needs-all = give --all to revoke them all, or a consent id; nothing was changed
edit-assign-included = the consent is for { $persons ->
    [one] one person
   *[other] { $persons } persons
} on { $files ->
    [one] one file
   *[other] { $files } files
}:
edit-assign-person = { $name } ({ $files ->
    [one] one file
   *[other] { $files } files
})
edit-assign-dry-run = dry run: give --yes to record (on a terminal, `consent assign` records only with --yes)

## xlsx: the columns of scan records (tables and spreadsheets) that reports do not have.
col-format = FORMAT
col-sidecars = SIDECARS
col-sources = SOURCES
col-taken = TAKEN
col-unnamed_faces = UNNAMED FACES

## hints
hints-note = keyword names a registered person: { $names }: tag them as a person
reason-keyword-names-person = keyword names a registered person: tag them as a person
col-folder = FOLDER
