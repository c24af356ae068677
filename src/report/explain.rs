//! The rows of `consentry explain FILE`: one file's decision person by person, from the
//! explanation `consent::explain_file` gives (the same code path as the file's decision).

use std::path::{Path, PathBuf};

use super::{Cell, Row};
use crate::consent::{Account, Explanation, Part, Reason, Status};
use crate::i18n::Lang;
use crate::model::{Consent, Date, ExemptReason, Scope};

/// What a row of `explain` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file as a whole: its status, effective usage and valid-until (or its read error).
    File,
    /// A person who needs no consent in this file.
    Exempt,
    /// A consent that counts for a person (one row per consent).
    Consent,
    /// A person (or unnamed face) without valid consent.
    Missing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::File => "file",
            Outcome::Exempt => "exempt",
            Outcome::Consent => "consent",
            Outcome::Missing => "missing",
        }
    }
}

/// Why a row's person counts as they do: a missing person's reason, or the reason of the
/// exemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Missing(Reason),
    Exempt(ExemptReason),
}

/// A row of `explain`. The first row of a file is about the file ([`Outcome::File`]); one row
/// follows for each exempted person, each consent that counts and each person lacking consent.
/// The words of the `outcome`, `reason` and `detail` cells are in the row's language (English
/// for the machine formats).
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRow {
    pub path: PathBuf,
    /// The file's status (on every row).
    pub status: Status,
    /// `None` on the file's row.
    pub person: Option<String>,
    pub outcome: Outcome,
    pub why: Option<Why>,
    /// The consent the row is about (that counts, that expired, ...).
    pub consent: Option<String>,
    /// The file's effective usage, or the consent's usage.
    pub usage: Option<Vec<String>>,
    pub granted: Option<Date>,
    /// The file's valid-until, or the consent's expiry.
    pub valid_until: Option<Date>,
    pub revoked: Option<Date>,
    pub document: Option<String>,
    /// The scope of the consent or exemption.
    pub scope: Option<String>,
    /// The row in a sentence, in the row's language.
    pub detail: String,
    pub lang: Lang,
}

impl Row for ExplainRow {
    const COLUMNS: &'static [&'static str] = &[
        "path",
        "status",
        "person",
        "outcome",
        "reason",
        "consent",
        "usage",
        "granted",
        "valid_until",
        "revoked",
        "document",
        "scope",
        "detail",
    ];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        let lang = self.lang;
        let reason = self.why.map(|why| match why {
            Why::Missing(r) => lang.reason(r.as_str()),
            Why::Exempt(r) => lang.text(&format!("explain-exempt-{}", r.as_str())),
        });
        vec![
            (&self.path).into(),
            self.status.into(),
            self.person.as_deref().into(),
            lang.text(&format!("explain-outcome-{}", self.outcome.as_str())).into(),
            reason.into(),
            self.consent.as_deref().into(),
            self.usage.clone().map_or(Cell::Null, Cell::List),
            self.granted.into(),
            self.valid_until.into(),
            self.revoked.into(),
            self.document.as_deref().into(),
            self.scope.as_deref().into(),
            self.detail.as_str().into(),
        ]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

fn scope_text(scope: &Scope) -> String {
    scope.patterns().join(" | ")
}

/// The rows explaining the file at `path` (`error`: why it could not be read completely), with
/// their words in `lang`.
pub fn explain(path: &Path, explanation: &Explanation, error: Option<&str>, lang: Lang) -> Vec<ExplainRow> {
    let d = &explanation.decision;
    let row = |person: Option<&str>, outcome: Outcome, detail: String| ExplainRow {
        path: path.to_path_buf(),
        status: d.status,
        person: person.map(str::to_string),
        outcome,
        why: None,
        consent: None,
        usage: None,
        granted: None,
        valid_until: None,
        revoked: None,
        document: None,
        scope: None,
        detail,
        lang,
    };
    let lacking = d.missing.len() as u64;
    let file_detail = match d.status {
        Status::Unreadable => lang.tr("explain-file-unreadable", &[("error", error.unwrap_or_default().into())]),
        Status::None => lang.text("explain-file-none"),
        Status::Exempt => lang.text("explain-file-exempt"),
        Status::Green if d.usage.is_empty() => lang.text("explain-file-green-nothing"),
        Status::Green => lang.tr("explain-file-green", &[("usage", d.usage.join(", ").into())]),
        Status::Yellow => lang.tr("explain-file-yellow", &[("count", lacking.into())]),
        Status::Red => lang.tr("explain-file-red", &[("count", lacking.into())]),
    };
    let mut rows = vec![ExplainRow {
        usage: Some(d.usage.clone()),
        valid_until: d.valid_until,
        ..row(None, Outcome::File, file_detail)
    }];
    let unreadable = d.status == Status::Unreadable;
    for Account { name, part } in &explanation.accounts {
        let name = Some(name.as_str());
        match part {
            Part::Exempt(e) => {
                let scope = scope_text(&e.scope);
                let mut detail = lang.tr("explain-exempt", &[("scope", scope.clone().into())]);
                if let Some(note) = e.note.as_deref().filter(|n| !n.trim().is_empty()) {
                    detail.push_str(&format!(" ({note})"));
                }
                rows.push(ExplainRow {
                    why: Some(Why::Exempt(e.reason)),
                    scope: Some(scope),
                    ..row(name, Outcome::Exempt, detail)
                });
            }
            Part::Consent(consents) => {
                for c in consents {
                    let detail =
                        if unreadable { lang.text("explain-consent-unread") } else { lang.text("explain-consent") };
                    rows.push(with_consent(row(name, Outcome::Consent, detail), c));
                }
            }
            Part::Missing { reason, consent } => {
                let day = |d: Option<Date>| d.map(|d| lang.date(d)).unwrap_or_default();
                let id = consent.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                let args: Vec<(&str, crate::i18n::Arg)> = match (reason, consent) {
                    (Reason::Expired, Some(c)) => vec![("id", id.into()), ("day", day(c.expires).into())],
                    (Reason::Revoked, Some(c)) => vec![("id", id.into()), ("day", day(c.revoked).into())],
                    (Reason::NotYetValid, Some(c)) => vec![("id", id.into()), ("day", day(Some(c.granted)).into())],
                    (Reason::OutOfScope, Some(c)) => vec![("id", id.into()), ("scope", scope_text(&c.scope).into())],
                    _ => Vec::new(),
                };
                let detail = lang.tr(&format!("explain-missing-{}", reason.as_str()), &args);
                let base = ExplainRow { why: Some(Why::Missing(*reason)), ..row(name, Outcome::Missing, detail) };
                rows.push(match consent {
                    Some(c) => with_consent(base, c),
                    None => base,
                });
            }
        }
    }
    rows
}

/// A row with the columns of the consent it is about.
fn with_consent(row: ExplainRow, c: &Consent) -> ExplainRow {
    ExplainRow {
        consent: Some(c.id.clone()),
        usage: Some(c.usage.iter().cloned().collect()),
        granted: Some(c.granted),
        valid_until: c.expires,
        revoked: c.revoked,
        document: c.document.clone(),
        scope: Some(scope_text(&c.scope)),
        ..row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn explained(name: &str, lang: Lang) -> Vec<ExplainRow> {
        let register = fixture::register();
        let file = fixture::files(&register).into_iter().find(|f| f.path() == name).unwrap();
        let r = &file.record;
        let e = r.explain(file.rel_path.as_deref(), &register, fixture::day("2026-06-01"));
        assert_eq!(e.decision, file.decision, "the explanation is the decision");
        explain(&r.path, &e, r.error().as_deref(), lang)
    }

    fn texts(rows: &[ExplainRow], lang: Lang) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.cells().iter().map(|c| c.display(", ", lang)).collect()).collect()
    }

    #[test]
    fn a_yellow_file_is_explained_person_by_person() {
        let rows = explained("both.jpg", Lang::En);
        let shown: Vec<(Option<&str>, &str, Option<&str>)> =
            rows.iter().map(|r| (r.person.as_deref(), r.outcome.as_str(), r.consent.as_deref())).collect();
        assert_eq!(
            shown,
            [
                (None, "file", None),
                (Some("Anna Schmidt"), "consent", Some("1")),
                (Some("Ben Meyer"), "missing", Some("2"))
            ]
        );
        assert!(rows.iter().all(|r| r.status == Status::Yellow));
        assert_eq!(rows[2].detail, "consent 2 expired on 2025-01-01");
        assert_eq!(rows[2].cells()[4].json(), serde_json::json!("expired"));
        let de = texts(&explained("both.jpg", Lang::De), Lang::De);
        assert_eq!(de[2][1], "gelb");
        assert_eq!(de[2][4], "abgelaufen");
        assert!(de[2][12].contains("01.01.2025"), "{:?}", de[2]);
        assert_eq!(de[2][8], "01.01.2025");
    }

    #[test]
    fn an_unreadable_file_clears_nothing_whatever_its_consents() {
        let rows = explained("broken.jpg", Lang::En);
        assert_eq!(rows[0].status, Status::Unreadable);
        assert_eq!(rows[0].usage, Some(vec![]));
        assert!(rows[0].detail.contains("nothing is cleared"), "{}", rows[0].detail);
        assert!(rows[1].detail.contains("does not count"), "{}", rows[1].detail);
    }
}
