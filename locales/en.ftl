# consentry's messages in English. Every message here has its German counterpart in de.ftl
# (a unit test in src/i18n.rs keeps the two files' ids equal).

## Statuses (SPEC.md 4): how tables and the HTML report show them.
status-unreadable = unreadable
status-none = none
status-exempt = exempt
status-red = red
status-yellow = yellow
status-unknown = unknown
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
col-hints = HINTS
col-unnamed_faces = UNNAMED FACES

## hints
hints-note = keyword names a registered person: { $names }: tag them as a person
reason-keyword-names-person = keyword names a registered person: tag them as a person
col-folder = FOLDER

## explain: `consentry explain FILE`, one file's decision person by person.
col-outcome = OUTCOME
col-consent = CONSENT
explain-outcome-file = file
explain-outcome-exempt = exempt
explain-outcome-consent = consent
explain-outcome-missing = missing
explain-exempt-not-recognisable = not-recognisable
explain-exempt-prominent = prominent
explain-exempt-public-event = public-event
explain-exempt-other = other
explain-file-unreadable = could not be read completely ({ $error }): nothing is cleared, whatever consents the persons read have
explain-file-none = nobody depicted: cleared for every usage
explain-file-exempt = everyone depicted is exempted: cleared for every usage
explain-file-green = every depicted person has consent: cleared for { $usage }
explain-file-green-nothing = every depicted person has consent, but their consents share no usage: cleared for nothing
explain-file-yellow = not cleared: { $count ->
    [one] { $count } person lacks
   *[other] { $count } persons lack
} consent, the others have it
explain-file-red = not cleared: nobody depicted has consent ({ $count ->
    [one] { $count } person
   *[other] { $count } persons
})
explain-exempt = needs no consent here: exempted in { $scope }
explain-consent = counts: valid on the day and its scope covers this file
explain-consent-unread = does not count: the file could not be read completely
explain-missing-unknown = not in the register (a misspelling? see `consentry report unknown-persons`)
explain-missing-no-consent = in the register, but without any consent
explain-missing-expired = consent { $id } expired on { $day }
explain-missing-not-yet-valid = consent { $id } is valid only from { $day }
explain-missing-revoked = consent { $id } revoked on { $day }
explain-missing-out-of-scope = consent { $id } covers { $scope }, not this file
explain-missing-unnamed-face = a face nobody has named: name the person, or exempt everyone shown
explain-refuse-folder = consentry: explain: { $path } is a folder: explain takes media files (for a folder: `consentry report missing { $path }`)
explain-refuse-not-media = consentry: explain: not a media file: { $paths }

## cli: what the commands say on stderr (summaries, hints). The English text is what the
## tests and scripts grep: keep it word for word.
cli-scan-summary = Scanned { $files } media files in { $secs } s ({ $rate } files/s): { $persons } with persons, { $faces } with unnamed faces, { $unreadable } unreadable
cli-scan-orphans = , { $count } orphan sidecars
cli-scan-skipped = , { $count } other files skipped.
cli-scan-statuses = Status: { $counts }.
cli-status-count = { $count } { $status }
cli-check-summary = Checked { $files } files for { $usage } on { $date }: { $blocking } blocking, { $cleared } cleared.
cli-apply-summary = { $files } files: wrote { $written }, { $unchanged } unchanged, { $failed } not written.
cli-apply-summary-dry-run = { $files } files: would write { $written }, { $unchanged } unchanged, { $failed } not written.
cli-changes-line = consentry: { $path }: { $about }; { $rows } row(s).
cli-changes-none = no runs recorded in this period
cli-changes-baseline = the run of { $finished } was the first one: it is the baseline later runs are compared with
cli-changes-last-run = changes found by the run of { $finished }
cli-changes-since = changes found by the { $runs } run(s) since { $day }
cli-changes-last-runs = changes found by the last { $runs } runs
cli-checkpoint-no-run = no run since checkpoint { $name } last reported
cli-checkpoint-runs = changes found by the { $runs } run(s) since checkpoint { $name } last reported
cli-checkpoint-new-empty = checkpoint { $name } is new and no runs are recorded
cli-checkpoint-new = checkpoint { $name } is new: changes found by every recorded run ({ $runs })
cli-person-none = consentry: no person { $name } in the register or the files
cli-person-suggest = consentry: no person { $name } in the register or the files; did you mean { $close }?
cli-html-written = Wrote the HTML report { $index } in { $secs } s: { $rows } rows, { $thumbnails } thumbnails ({ $previews } from embedded previews), { $placeholders } placeholders.
cli-register-check = { $path }: { $errors } error(s), { $warnings } warning(s).
cli-search-no-person = consentry: no person { $name } in the register
cli-checkpoint-not-moved = consentry: the output closed before the report was written whole: checkpoint { $name } not moved
cli-progress-scanned = files scanned

## why: why check blocks a file (the reason column of check)
why-unreadable = unreadable: { $error }
why-missing = missing consent: { $persons }
why-not-released = not released for { $usages }

## note: the NOTE column of scan's table
note-error = error: { $error }
note-orphan-sidecar = sidecar without media file
note-missing = missing: { $persons }
note-usage-until = { $usage } until { $until }
note-taken = taken { $taken }

## engine: what a run recorded in the state
engine-state-run = State { $state }: { $files } files, { $read } read, { $unchanged } unchanged; { $new } new, { $moved } moved, { $removed } removed; { $changes } change(s) (`consentry report changes`).

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

## summary: the words of report summary's group and key columns (in English, the JSON keys)
summary-status = status
summary-usage = usage
summary-no-persons = no-persons
summary-folder = folder
summary-every-usage = every-usage

## changes: the change column of report changes (in English, the JSON values)
change-new = new
change-removed = removed
change-moved = moved
change-became-red = became-red
change-became-yellow = became-yellow
change-became-green = became-green
change-became-unreadable = became-unreadable
change-became-none = became-none
change-became-exempt = became-exempt
change-consent-expired = consent-expired
change-consent-revoked = consent-revoked

## shard: a sharded run says so
cli-shard = shard { $k }/{ $n }: only this shard's files are read and judged
cli-results-written = consentry: results written to { $path }
