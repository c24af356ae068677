//! The `report changes` report: the changes the recorded runs found (read from the state), and
//! a line about which runs it covers.

use std::path::Path;

use super::{Cell, Row};
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
            self.change.as_str().into(),
            self.path.as_ref().into(),
            self.old_status.as_deref().into(),
            self.new_status.as_deref().into(),
            self.detail.as_deref().into(),
        ]
    }
    fn file(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// `report changes`: the changes the runs found (see [`crate::state::State::changes`]), and a
/// line about the runs it covers (`since`: the first day asked for, else the last run).
pub fn changes<'a>(
    since: Option<Date>,
    runs: &[RecordedRun],
    changes: &'a [RecordedChange],
) -> (&'a [RecordedChange], String) {
    let about = match (since, runs) {
        (_, []) => "no runs recorded in this period".to_string(),
        (None, [RecordedRun { finished, baseline: true }]) => {
            format!("the run of {finished} was the first one: it is the baseline later runs are compared with")
        }
        (None, [RecordedRun { finished, baseline: false }]) => format!("changes found by the run of {finished}"),
        (Some(day), runs) => format!("changes found by the {} run(s) since {day}", runs.len()),
        (None, runs) => format!("changes found by the last {} runs", runs.len()),
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
pub fn checkpoint_about(name: &str, reported: bool, runs: &[RecordedRun]) -> String {
    match (reported, runs.len()) {
        (true, 0) => format!("no run since checkpoint {name:?} last reported"),
        (true, n) => format!("changes found by the {n} run(s) since checkpoint {name:?} last reported"),
        (false, 0) => format!("checkpoint {name:?} is new and no runs are recorded"),
        (false, n) => format!("checkpoint {name:?} is new: changes found by every recorded run ({n})"),
    }
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
        let (rows, about) = changes(None, &[run("T1", false)], std::slice::from_ref(&change));
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
        let Rows::Files(rows) = &table.rows else { unreachable!() };
        assert_eq!(rows[0].file.as_deref(), Some(Path::new("a/b.jpg")));
        assert_eq!(about, "changes found by the run of T1");
        assert_eq!(changes(None, &[], &[]).1, "no runs recorded in this period");
        assert!(changes(None, &[run("T0", true)], &[]).1.contains("was the first one"));
        let day = Date::from_ymd_opt(2026, 1, 1).unwrap();
        let since = changes(Some(day), &[run("T0", true), run("T1", false)], &[]).1;
        assert_eq!(since, "changes found by the 2 run(s) since 2026-01-01");
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
