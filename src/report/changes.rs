//! The `report changes` report: the changes the recorded runs found (read from the state), and
//! a line about which runs it covers.

use std::path::Path;

use super::{Cell, Row};
use crate::consent::Status;
use crate::i18n::Lang;
use crate::model::Date;
use crate::state::{RecordedChange, RecordedRun};

/// A row of `report changes`: one change a run found (a file's, or a consent's), as the state
/// recorded it.
impl Row for RecordedChange {
    const COLUMNS: &'static [&'static str] = &["run", "change", "path", "old_status", "new_status", "detail"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.run.as_str().into(),
            change_cell(&self.change),
            self.path.as_ref().into(),
            status_cell(self.old_status.as_deref()),
            status_cell(self.new_status.as_deref()),
            self.detail.as_deref().into(),
        ]
    }
    fn file(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// A status as the state recorded it: a status cell (a word of the language in tables), or the
/// text as recorded when it names none.
fn status_cell(status: Option<&str>) -> Cell {
    match status {
        Some(s) => Status::ALL.iter().find(|k| k.as_str() == s).map_or_else(|| s.into(), |k| Cell::Status(*k)),
        None => Cell::Null,
    }
}

/// A change as the state recorded it (`became-red`, `new`, ...): the key in JSON and CSV, its
/// words in the language in tables (`change-<key>`).
fn change_cell(change: &str) -> Cell {
    Cell::Word(change.to_string(), "change-")
}

/// `report changes`: the changes the runs found (see [`crate::state::State::changes`]), and a
/// line about the runs it covers in `lang` (`since`: the first day asked for, else the last run).
pub fn changes<'a>(
    lang: Lang,
    since: Option<Date>,
    runs: &[RecordedRun],
    changes: &'a [RecordedChange],
) -> (&'a [RecordedChange], String) {
    let about = match (since, runs) {
        (_, []) => lang.text("cli-changes-none"),
        (None, [RecordedRun { finished, baseline: true }]) => {
            lang.tr("cli-changes-baseline", &[("finished", finished.as_str().into())])
        }
        (None, [RecordedRun { finished, baseline: false }]) => {
            lang.tr("cli-changes-last-run", &[("finished", finished.as_str().into())])
        }
        (Some(day), runs) => {
            lang.tr("cli-changes-since", &[("runs", runs.len().into()), ("day", lang.date(day).into())])
        }
        (None, runs) => lang.tr("cli-changes-last-runs", &[("runs", runs.len().into())]),
    };
    (changes, about)
}

/// Whether a change needs someone's attention (`report changes --exit-code` exits 1): a file
/// that became red, yellow or unreadable, a consent files used that expired or was revoked, and a
/// new or moved file that arrives red, yellow or unreadable (with another status than before).
pub fn needs_attention(c: &RecordedChange) -> bool {
    let alarming = |s: Option<&str>| matches!(s, Some("red" | "yellow" | "unreadable"));
    match c.change.as_str() {
        "became-red" | "became-yellow" | "became-unreadable" | "consent-expired" | "consent-revoked" => true,
        "new" | "moved" => alarming(c.new_status.as_deref()) && c.old_status != c.new_status,
        _ => false,
    }
}

/// The line about the runs a checkpoint's report covers (`reported`: whether the checkpoint
/// reported before).
/// In `lang`.
pub fn checkpoint_about(lang: Lang, name: &str, reported: bool, runs: &[RecordedRun]) -> String {
    let name = format!("{name:?}");
    let id = match (reported, runs.len()) {
        (true, 0) => "cli-checkpoint-no-run",
        (true, _) => "cli-checkpoint-runs",
        (false, 0) => "cli-checkpoint-new-empty",
        (false, _) => "cli-checkpoint-new",
    };
    lang.tr(id, &[("name", name.into()), ("runs", runs.len().into())])
}

#[cfg(test)]
mod tests {
    use super::super::{Rows, Table};
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn changes_of_runs_become_a_table_and_a_line() {
        let run = |finished: &str, baseline| RecordedRun { finished: finished.into(), baseline };
        let change = RecordedChange {
            run: "2026-01-02T03:04:05+01:00".into(),
            change: "became-red".into(),
            path: Some("a/b.jpg".into()),
            old_status: Some("green".into()),
            new_status: Some("red".into()),
            detail: None,
        };
        let (rows, about) = changes(Lang::En, None, &[run("T1", false)], std::slice::from_ref(&change));
        let table = Table::of(rows);
        assert_eq!(table.columns, ["run", "change", "path", "old_status", "new_status", "detail"]);
        assert!(table.is_per_file());
        assert_eq!(
            table.cells().map(|r| r.iter().map(Cell::json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            [[
                json!("2026-01-02T03:04:05+01:00"),
                json!("became-red"),
                json!("a/b.jpg"),
                json!("green"),
                json!("red"),
                Value::Null
            ]]
        );
        // In a German table: the change and the statuses in German; an unknown word as recorded.
        let shown: Vec<String> = table.cells().next().unwrap().iter().map(|c| c.display("|", Lang::De)).collect();
        assert_eq!(shown[1..5], ["wurde rot", "a/b.jpg", "grün", "rot"]);
        assert_eq!(change_cell("became-purple").display("|", Lang::De), "became-purple");
        assert_eq!(status_cell(Some("purple")).json(), json!("purple"));
        let Rows::Files(rows) = &table.rows else { unreachable!() };
        assert_eq!(rows[0].file.as_deref(), Some(Path::new("a/b.jpg")));
        assert_eq!(about, "changes found by the run of T1");
        assert_eq!(changes(Lang::En, None, &[], &[]).1, "no runs recorded in this period");
        assert!(changes(Lang::En, None, &[run("T0", true)], &[]).1.contains("was the first one"));
        let day = Date::from_ymd_opt(2026, 1, 1).unwrap();
        let since = changes(Lang::En, Some(day), &[run("T0", true), run("T1", false)], &[]).1;
        assert_eq!(since, "changes found by the 2 run(s) since 2026-01-01");
        let seit = changes(Lang::De, Some(day), &[run("T0", true), run("T1", false)], &[]).1;
        assert_eq!(seit, "Änderungen, die die 2 Läufe seit dem 01.01.2026 gefunden haben");
        assert_eq!(
            checkpoint_about(Lang::De, "nightly", true, &[run("T1", false)]),
            "Änderungen, die der 1 Lauf gefunden hat, seit der Prüfpunkt \"nightly\" zuletzt berichtet hat"
        );
        assert_eq!(
            checkpoint_about(Lang::En, "nightly", false, &[]),
            "checkpoint \"nightly\" is new and no runs are recorded"
        );
    }

    #[test]
    fn the_changes_that_need_attention() {
        let change = |change: &str, old: Option<&str>, new: Option<&str>| RecordedChange {
            run: "T".into(),
            change: change.into(),
            path: None,
            old_status: old.map(Into::into),
            new_status: new.map(Into::into),
            detail: None,
        };
        for kind in ["became-red", "became-yellow", "became-unreadable", "consent-expired", "consent-revoked"] {
            assert!(needs_attention(&change(kind, None, None)), "{kind}");
        }
        for kind in ["became-green", "became-exempt", "became-none", "removed"] {
            assert!(!needs_attention(&change(kind, None, None)), "{kind}");
        }
        assert!(needs_attention(&change("new", None, Some("red"))));
        assert!(!needs_attention(&change("new", None, Some("green"))));
        assert!(needs_attention(&change("moved", Some("green"), Some("yellow"))));
        assert!(!needs_attention(&change("moved", Some("red"), Some("red"))));
    }
}
