//! The rows the register-changing commands print (`consent add | assign | revoke | extend`,
//! `exempt`, `originator ...`, `person add | alias | rename | merge | list`): what was changed,
//! or with `list` what there is. A change's row is the listing's row with the `action` first
//! (and for originators and persons a `detail` last).

use super::{Cell, Row};
use crate::register::sqlite::edit::{self, ExemptionRow, NewConsent, OriginatorUse, PersonUse, Stored, Updated};

/// A row of the register as a change left it: `action` says what was done (`added`,
/// `revoked`, ...) or, in a dry run, what would be.
#[derive(Debug)]
pub struct Changed<'a, T> {
    pub action: &'static str,
    pub row: &'a T,
    /// Said about the change (originators and persons: the old name, the merged person).
    pub detail: String,
}

impl<'a, T> Changed<'a, T> {
    pub fn new(action: &'static str, row: &'a T) -> Self {
        Changed { action, row, detail: String::new() }
    }

    pub fn with_detail(action: &'static str, row: &'a T, detail: String) -> Self {
        Changed { action, row, detail }
    }
}

/// `action` followed by the cells of a listing row, then `detail` when the kind has one.
fn changed_cells<T: Row>(c: &Changed<'_, T>, detail: bool) -> Vec<Cell> {
    let mut cells = vec![c.action.into()];
    cells.extend(c.row.cells());
    if detail {
        cells.push(c.detail.as_str().into());
    }
    cells
}

/// How an evidence document was stored, or in a dry run would be.
pub fn stored(s: Stored, dry_run: bool) -> &'static str {
    match s {
        Stored::Copied if dry_run => "would be copied",
        s => s.as_str(),
    }
}

/// A row of `consent add` and `consent assign`: a consent recorded (one per person).
#[derive(Debug)]
pub struct AddedConsent<'a> {
    pub action: &'static str,
    pub consent: &'a NewConsent,
    pub added: &'a edit::Added,
    pub dry_run: bool,
}

impl Row for AddedConsent<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "action",
        "id",
        "person",
        "usage",
        "granted",
        "expires",
        "document",
        "stored",
        "sha256",
        "originator",
        "scope",
        "note",
    ];
    fn cells(&self) -> Vec<Cell> {
        let (c, a) = (self.consent, self.added);
        let scope = if c.scope.is_empty() { Cell::list(["*"]) } else { Cell::list(&c.scope) };
        vec![
            self.action.into(),
            a.id.as_str().into(),
            a.person.as_str().into(),
            Cell::list(&c.usage),
            c.granted.into(),
            c.expires.into(),
            a.document.path.as_str().into(),
            stored(a.document.stored, self.dry_run).into(),
            a.document.sha256.as_str().into(),
            a.originator.as_deref().into(),
            scope,
            (if a.new_person { "new person" } else { "" }).into(),
        ]
    }
}

/// A row of `consent assign` in a table: an [`AddedConsent`] with counts where the other
/// formats have lists (the files of the scope, the persons of the group), so that a consent
/// for many files stays one line wide.
#[derive(Debug)]
pub struct AddedCounted<'a>(pub &'a AddedConsent<'a>);

impl Row for AddedCounted<'_> {
    const COLUMNS: &'static [&'static str] =
        &["action", "id", "person", "usage", "granted", "expires", "document", "stored", "files", "persons", "note"];
    /// The full row's cells up to `stored`, the counts, and its `note`.
    fn cells(&self) -> Vec<Cell> {
        let mut cells = self.0.cells();
        let note = cells.pop();
        cells.truncate(Self::COLUMNS.len() - 3);
        let c = self.0.consent;
        cells.extend([c.scope.len().into(), c.persons.len().into()]);
        cells.extend(note);
        cells
    }
}

/// The rows of consents recorded by `consent add` or `consent assign`.
pub fn added<'a>(
    action: &'static str,
    consent: &'a NewConsent,
    added: &'a [edit::Added],
    dry_run: bool,
) -> Vec<AddedConsent<'a>> {
    added.iter().map(|a| AddedConsent { action, consent, added: a, dry_run }).collect()
}

impl Row for Changed<'_, Updated> {
    const COLUMNS: &'static [&'static str] =
        &["action", "id", "person", "granted", "expires_before", "expires", "revoked_before", "revoked"];
    fn cells(&self) -> Vec<Cell> {
        let (before, after) = (&self.row.before, &self.row.after);
        vec![
            self.action.into(),
            after.id.as_str().into(),
            after.person.as_str().into(),
            after.granted.into(),
            before.expires.into(),
            after.expires.into(),
            before.revoked.into(),
            after.revoked.into(),
        ]
    }
}

/// The rows of consents `consent revoke` or `consent extend` updated: `action` for those it
/// changed, `unchanged` for the others.
pub fn updated<'a>(action: &'static str, updated: &'a [Updated]) -> Vec<Changed<'a, Updated>> {
    updated.iter().map(|u| Changed::new(if u.changed() { action } else { "unchanged" }, u)).collect()
}

/// A row of `consent extend` given a new document: the updated consent and the document.
#[derive(Debug)]
pub struct Extended<'a> {
    pub updated: Changed<'a, Updated>,
    pub document: &'a edit::Document,
    pub dry_run: bool,
}

impl Row for Extended<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "action",
        "id",
        "person",
        "granted",
        "expires_before",
        "expires",
        "revoked_before",
        "revoked",
        "document",
        "stored",
    ];
    fn cells(&self) -> Vec<Cell> {
        let mut cells = self.updated.cells();
        cells.extend([self.document.path.as_str().into(), stored(self.document.stored, self.dry_run).into()]);
        cells
    }
}

impl Row for ExemptionRow {
    const COLUMNS: &'static [&'static str] = &["id", "scope", "person", "reason", "note"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            self.scope.as_str().into(),
            self.person.as_deref().unwrap_or("*").into(),
            self.reason.as_str().into(),
            self.note.as_deref().into(),
        ]
    }
}

impl Row for Changed<'_, ExemptionRow> {
    const COLUMNS: &'static [&'static str] = &["action", "id", "scope", "person", "reason", "note"];
    fn cells(&self) -> Vec<Cell> {
        changed_cells(self, false)
    }
}

impl Row for OriginatorUse {
    const COLUMNS: &'static [&'static str] = &["id", "key", "name", "documents", "consents"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.into(),
            self.key.as_deref().into(),
            self.name.as_str().into(),
            self.documents.into(),
            self.consents.into(),
        ]
    }
}

impl Row for Changed<'_, OriginatorUse> {
    const COLUMNS: &'static [&'static str] = &["action", "id", "key", "name", "documents", "consents", "detail"];
    fn cells(&self) -> Vec<Cell> {
        changed_cells(self, true)
    }
}

impl Row for PersonUse {
    const COLUMNS: &'static [&'static str] = &["id", "key", "name", "aliases", "consents", "exemptions", "deleted"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.row.id.into(),
            self.row.key.as_deref().into(),
            self.row.name.as_str().into(),
            Cell::list(&self.aliases),
            self.consents.into(),
            self.exemptions.into(),
            self.row.deleted.as_deref().into(),
        ]
    }
}

impl Row for Changed<'_, PersonUse> {
    const COLUMNS: &'static [&'static str] =
        &["action", "id", "key", "name", "aliases", "consents", "exemptions", "deleted", "detail"];
    fn cells(&self) -> Vec<Cell> {
        changed_cells(self, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change's columns are the listing's with `action` first (and `detail` last).
    fn action_then<T: Row>(changed: &[&str], detail: bool) {
        let mut want = vec!["action"];
        want.extend(T::COLUMNS);
        if detail {
            want.push("detail");
        }
        assert_eq!(changed, want);
    }

    #[test]
    fn change_rows_are_listing_rows_with_the_action() {
        action_then::<ExemptionRow>(<Changed<ExemptionRow>>::COLUMNS, false);
        action_then::<OriginatorUse>(<Changed<OriginatorUse>>::COLUMNS, true);
        action_then::<PersonUse>(<Changed<PersonUse>>::COLUMNS, true);
        assert_eq!(&Extended::COLUMNS[..8], <Changed<Updated>>::COLUMNS);
        let e = ExemptionRow { id: 4, scope: "a/**".into(), person: None, reason: "other".into(), note: None };
        let cells = Changed::new("removed", &e).cells();
        assert_eq!(cells.len(), <Changed<ExemptionRow>>::COLUMNS.len());
        assert_eq!(cells[..4], [Cell::from("removed"), Cell::Int(4), Cell::from("a/**"), Cell::from("*")]);
        assert_eq!(cells[5], Cell::Null);
        assert_eq!(stored(Stored::Copied, true), "would be copied");
        assert_eq!(stored(Stored::Copied, false), Stored::Copied.as_str());
    }
}
