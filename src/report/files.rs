//! The reports with a row per file: `report missing`, `report unreleased`, `report cleared`,
//! `check` (the files that block publication) and `apply` (what was written where).

use std::path::{Path, PathBuf};

use super::{Cell, Evaluated, Row};
use crate::consent::{Decision, Missing, Status};
use crate::model::Date;
use crate::scan::Hint;

/// Persons lacking consent, with the reasons.
fn missing_cell(missing: &[Missing]) -> Cell {
    Cell::Missing(missing_pairs(missing))
}

fn missing_pairs(missing: &[Missing]) -> Vec<(String, &'static str)> {
    missing.iter().map(|m| (m.name.clone(), m.reason.as_str())).collect()
}

/// A row of `report missing`: a red, yellow or unreadable file, or one with a hint (whatever
/// its status).
#[derive(Debug, Clone, PartialEq)]
pub struct MissingFile {
    pub path: PathBuf,
    pub status: Status,
    pub missing: Vec<Missing>,
    /// Persons a plain keyword names and no person tag does: listed among the missing persons
    /// with the reason `keyword-names-person` (its status stays as it is).
    pub hints: Vec<Hint>,
    pub error: Option<String>,
}

impl Row for MissingFile {
    const COLUMNS: &'static [&'static str] = &["path", "status", "missing", "error"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        let mut missing = missing_pairs(&self.missing);
        missing.extend(self.hints.iter().map(|h| (h.name.clone(), h.kind.as_str())));
        vec![(&self.path).into(), self.status.into(), Cell::Missing(missing), self.error.as_deref().into()]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// Red, yellow and unreadable files with the missing persons and reasons (and the error); and
/// files of any status with a hint (a keyword naming a registered person nobody tagged).
pub fn missing(files: &[Evaluated]) -> Vec<MissingFile> {
    files
        .iter()
        .filter(|f| {
            matches!(f.decision.status, Status::Red | Status::Yellow | Status::Unreadable) || !f.record.hints.is_empty()
        })
        .map(|f| MissingFile {
            path: f.record.path.clone(),
            status: f.decision.status,
            missing: f.decision.missing.clone(),
            hints: f.record.hints.clone(),
            error: f.record.error(),
        })
        .collect()
}

/// A row of `report unreleased`: a file not cleared for every usage asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreleased {
    pub path: PathBuf,
    pub status: Status,
    /// The usages it is cleared for.
    pub usage: Vec<String>,
    /// The usages asked for that it is not cleared for.
    pub lacking: Vec<String>,
}

impl Row for Unreleased {
    const COLUMNS: &'static [&'static str] = &["path", "status", "usage", "lacking"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![(&self.path).into(), self.status.into(), Cell::list(&self.usage), Cell::list(&self.lacking)]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// The usages of `usages` a decision does not allow.
fn lacking(d: &Decision, usages: &[&str]) -> Vec<String> {
    usages.iter().filter(|u| !d.allows(&[u])).map(|u| u.to_string()).collect()
}

/// Files that have consents but may not be published for all of `usages`, and unreadable
/// files (released for nothing, whatever consents their persons have).
pub fn unreleased(files: &[Evaluated], usages: &[&str]) -> Vec<Unreleased> {
    files
        .iter()
        .filter(|f| {
            let d = &f.decision;
            (!d.consents.is_empty() || d.status == Status::Unreadable) && !d.allows(usages)
        })
        .map(|f| Unreleased {
            path: f.record.path.clone(),
            status: f.decision.status,
            usage: f.decision.usage.clone(),
            lacking: lacking(&f.decision, usages),
        })
        .collect()
}

/// A row of `check`: a file that blocks publication, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocking {
    pub path: PathBuf,
    pub status: Status,
    /// Why, in English (as JSON and CSV give it).
    pub reason: String,
    /// Why, as a sentence in any language ([`Cell::Phrase`]): what tables show.
    why: Cell,
}

impl Row for Blocking {
    const COLUMNS: &'static [&'static str] = &["path", "status", "reason"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![(&self.path).into(), self.status.into(), self.why.clone()]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// Why a file may not be published for all of `usages` (unreadable, lacking a consent, not
/// released for a usage), or `None` when it is cleared: the one rule of `check` and `report
/// cleared`.
fn blocks(f: &Evaluated, usages: &[&str]) -> Option<Cell> {
    let d = &f.decision;
    if d.status == Status::Unreadable {
        Some(Cell::Phrase("why-unreadable", vec![("error", f.record.error().unwrap_or_default().into())]))
    } else if !d.missing.is_empty() {
        Some(Cell::Phrase("why-missing", vec![("persons", missing_cell(&d.missing))]))
    } else if !d.allows(usages) {
        Some(Cell::Phrase("why-not-released", vec![("usages", Cell::List(lacking(d, usages)))]))
    } else {
        None
    }
}

/// The files that may not be published for all of `usages`: unreadable ones, those lacking a
/// consent, those not released for a usage.
pub fn check(files: &[Evaluated], usages: &[&str]) -> Vec<Blocking> {
    files
        .iter()
        .filter_map(|f| {
            blocks(f, usages).map(|why| Blocking {
                path: f.record.path.clone(),
                status: f.decision.status,
                reason: why.text(", "),
                why,
            })
        })
        .collect()
}

/// A row of `report cleared` (and `check --show cleared`): a file that may be published for
/// every usage asked for, who is in it and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleared {
    pub path: PathBuf,
    /// `green`, `exempt` or `none`.
    pub status: Status,
    /// The persons depicted (exempted ones included), sorted.
    pub persons: Vec<String>,
    /// The usages it is cleared for (all of those asked for, and maybe more).
    pub usage: Vec<String>,
    /// The earliest expiry of the consents that clear it; `None` when none expires (or none is
    /// needed).
    pub valid_until: Option<Date>,
}

impl Row for Cleared {
    const COLUMNS: &'static [&'static str] = &["path", "status", "persons", "usage", "valid_until"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![
            (&self.path).into(),
            self.status.into(),
            Cell::list(&self.persons),
            Cell::list(&self.usage),
            self.valid_until.into(),
        ]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// The files that may be published for all of `usages`: exactly those `check` does not list.
/// An unreadable, red or yellow file is never among them.
pub fn cleared(files: &[Evaluated], usages: &[&str]) -> Vec<Cleared> {
    files
        .iter()
        .filter(|f| blocks(f, usages).is_none())
        .map(|f| Cleared {
            path: f.record.path.clone(),
            status: f.decision.status,
            persons: f.record.depicted.persons.iter().cloned().collect(),
            usage: f.decision.usage.clone(),
            valid_until: f.decision.valid_until,
        })
        .collect()
}

/// A row of `apply`: what happened to one file that was (or would be) written, or was not
/// written (`engine::apply` makes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRow {
    /// The media file, as walked.
    pub path: String,
    /// The file written (the media file or its sidecar); `None` when not written.
    pub target: Option<String>,
    /// `written`, `would write` or `failed`.
    pub action: &'static str,
    /// The changes (`field: before -> after; ...`), or why it was not written.
    pub detail: String,
}

impl Row for ApplyRow {
    const COLUMNS: &'static [&'static str] = &["path", "target", "action", "detail"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![self.path.as_str().into(), self.target.as_deref().into(), self.action.into(), self.detail.as_str().into()]
    }
    fn file(&self) -> Option<&Path> {
        Some(Path::new(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;
    use crate::consent::Reason;

    fn paths<R: Row>(rows: &[R]) -> Vec<String> {
        rows.iter().map(|r| r.file().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn missing_lists_the_files_needing_attention_with_the_persons_and_reasons() {
        let register = fixture::register();
        let rows = missing(&fixture::files(&register));
        assert_eq!(paths(&rows), ["ben.jpg", "both.jpg", "carla.jpg", "broken.jpg"]);
        assert_eq!(rows[0].status, Status::Red);
        assert_eq!(rows[0].missing[0].reason, Reason::Expired);
        assert_eq!(rows[2].missing[0].reason, Reason::Unknown);
        assert_eq!(rows[3].status, Status::Unreadable);
        let cells = rows[1].cells();
        assert_eq!(cells.len(), MissingFile::COLUMNS.len());
        assert_eq!(cells[2], Cell::Missing(vec![("Ben Meyer".into(), "expired")]));
        assert_eq!(rows[3].cells()[3], Cell::Text("JPEG file: malformed data at byte 0: truncated".into()));
        assert_eq!(cells[3], Cell::Null);
    }

    #[test]
    fn missing_lists_files_with_a_hint_whatever_their_status() {
        let register = fixture::register();
        let mut files = fixture::files(&register);
        let hint = Hint { kind: crate::scan::HintKind::KeywordNamesPerson, name: "Ben Meyer".into() };
        // Anna's green file names Ben in a keyword only: listed, still green.
        files[0].record.hints = vec![hint.clone()];
        let rows = missing(&files);
        assert_eq!(paths(&rows), ["anna.jpg", "ben.jpg", "both.jpg", "carla.jpg", "broken.jpg"]);
        assert_eq!(rows[0].status, Status::Green);
        assert_eq!(rows[0].cells()[2], Cell::Missing(vec![("Ben Meyer".into(), "keyword-names-person")]));
        assert_eq!(
            rows[0].cells()[2].display(", ", crate::i18n::Lang::En),
            "Ben Meyer (keyword names a registered person: tag them as a person)"
        );
        // Beside the persons lacking consent.
        files[1].record.hints = vec![Hint { name: "Anna Schmidt".into(), ..hint }];
        let rows = missing(&files);
        assert_eq!(
            rows[1].cells()[2],
            Cell::Missing(vec![("Ben Meyer".into(), "expired"), ("Anna Schmidt".into(), "keyword-names-person")])
        );
    }

    #[test]
    fn check_says_why_each_blocking_file_blocks() {
        let register = fixture::register();
        let files = fixture::files(&register);
        let rows = check(&files, &["web"]);
        assert_eq!(paths(&rows), ["ben.jpg", "both.jpg", "carla.jpg", "broken.jpg"]);
        assert_eq!(rows[0].reason, "missing consent: Ben Meyer (expired)");
        assert_eq!(rows[3].reason, "unreadable: JPEG file: malformed data at byte 0: truncated");
        // Anna's file is green but not released for television.
        let rows = check(&files, &["web", "tv"]);
        assert_eq!(rows[0].path, PathBuf::from("anna.jpg"));
        assert_eq!(rows[0].reason, "not released for tv");
        // Tables say it in their language; JSON and CSV in English.
        let why = &rows[0].cells()[2];
        assert_eq!(
            (why.text("|"), why.json()),
            ("not released for tv".to_string(), serde_json::json!("not released for tv"))
        );
        assert_eq!(why.display("|", crate::i18n::Lang::De), "nicht freigegeben für tv");
        let expired = &check(&files, &["web"])[0].cells()[2];
        assert_eq!(expired.display(", ", crate::i18n::Lang::De), "Einwilligung fehlt: Ben Meyer (abgelaufen)");
        assert_eq!(rows[0].cells()[..2], [Cell::from("anna.jpg"), Cell::Status(crate::consent::Status::Green)]);
    }

    #[test]
    fn cleared_is_every_file_check_does_not_list() {
        let register = fixture::register();
        let files = fixture::files(&register);
        let rows = cleared(&files, &["web"]);
        assert_eq!(paths(&rows), ["anna.jpg"]);
        assert_eq!(rows[0].persons, ["Anna Schmidt"]);
        assert_eq!(rows[0].valid_until, Some(fixture::day("2026-06-20")));
        assert_eq!(rows[0].cells()[4], Cell::Date(fixture::day("2026-06-20")));
        assert_eq!(rows[0].cells().len(), Cleared::COLUMNS.len());
        for usages in [&["web"][..], &["print", "web"], &["web", "tv"], &[]] {
            let (blocking, cleared) = (check(&files, usages), cleared(&files, usages));
            assert_eq!(blocking.len() + cleared.len(), files.len(), "{usages:?}");
            assert!(cleared.iter().all(|c| blocking.iter().all(|b| b.path != c.path)));
        }
        // Not released for television: cleared for nothing.
        assert!(cleared(&files, &["web", "tv"]).is_empty());
    }

    #[test]
    fn unreleased_lists_files_with_consents_lacking_a_usage() {
        let register = fixture::register();
        let rows = unreleased(&fixture::files(&register), &["print", "tv"]);
        // Anna's file (print and web, not tv), the yellow one that uses Anna's consent, and the
        // unreadable one; Ben's and Carla's files have no consent at all.
        assert_eq!(paths(&rows), ["anna.jpg", "both.jpg", "broken.jpg"]);
        assert_eq!(rows[0].lacking, ["tv"]);
        assert_eq!(rows[2].lacking, ["print", "tv"]);
        assert_eq!(rows[0].cells()[2], Cell::list(["print", "web"]));
    }

    #[test]
    fn apply_rows_are_about_their_file() {
        let row = ApplyRow { path: "a.jpg".into(), target: None, action: "unchanged", detail: String::new() };
        const { assert!(ApplyRow::FILES) };
        assert_eq!(row.file(), Some(Path::new("a.jpg")));
        assert_eq!(row.cells()[1], Cell::Null);
    }
}
