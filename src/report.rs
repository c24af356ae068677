//! Reports over evaluated files (SPEC.md 6): computed here as tables whose rows are typed as
//! file rows (about one file) or other rows; rendered by `output` (table, CSV, JSON) and `html`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::consent::{valid_on, Decision, Reason, Status};
use crate::model::{Consent, Date, Register};
use crate::scan::FileRecord;
use crate::state::{RecordedChange, RecordedRun};

/// A report: named columns and rows of JSON values (strings, numbers, arrays, null). Its rows
/// are all about files ([`Rows::Files`]: the HTML report groups them by status and shows each
/// file) or all about something else (consents, names, counts).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Rows,
}

/// The rows of a report, by what they are about.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// One row per file.
    Files(Vec<FileRow>),
    /// Rows about anything else.
    Other(Vec<Vec<Value>>),
}

/// A row about one file: its cells, and the file as scanned (the evaluation of a file with
/// that path is what the HTML report shows for it).
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// `None` in a report over files for a row that names none (a consent that ended, in
    /// `report changes`).
    pub file: Option<PathBuf>,
    pub cells: Vec<Value>,
}

impl FileRow {
    /// A row about the file at `path`.
    pub fn new(path: &Path, cells: Vec<Value>) -> FileRow {
        FileRow { file: Some(path.to_path_buf()), cells }
    }
}

impl Table {
    /// A report with a row per file.
    pub fn files(columns: Vec<&'static str>, rows: Vec<FileRow>) -> Table {
        Table { columns, rows: Rows::Files(rows) }
    }

    /// A report whose rows are not about files.
    pub fn other(columns: Vec<&'static str>, rows: Vec<Vec<Value>>) -> Table {
        Table { columns, rows: Rows::Other(rows) }
    }

    /// Whether the rows are about files.
    pub fn is_per_file(&self) -> bool {
        matches!(self.rows, Rows::Files(_))
    }

    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Files(rows) => rows.len(),
            Rows::Other(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells of each row, in order: what the printers write.
    pub fn cells(&self) -> Box<dyn Iterator<Item = &[Value]> + '_> {
        match &self.rows {
            Rows::Files(rows) => Box::new(rows.iter().map(|r| r.cells.as_slice())),
            Rows::Other(rows) => Box::new(rows.iter().map(Vec::as_slice)),
        }
    }
}

/// A scanned media file with its evaluation and its path relative to the archive root.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub record: FileRecord,
    /// Relative to the file's archive root; `None` for a file in no archive.
    pub rel_path: Option<String>,
    pub decision: Decision,
}

impl Evaluated {
    pub fn path(&self) -> String {
        self.record.path.to_string_lossy().into_owned()
    }
}

fn missing_json(d: &Decision) -> Value {
    Value::Array(d.missing.iter().map(|m| json!({"name": m.name, "reason": m.reason.as_str()})).collect())
}

/// Red, yellow and unreadable files with the missing persons and reasons (and the error).
pub fn missing(files: &[Evaluated]) -> Table {
    let rows = files
        .iter()
        .filter(|f| matches!(f.decision.status, Status::Red | Status::Yellow | Status::Unreadable))
        .map(|f| {
            let cells = vec![
                json!(f.path()),
                json!(f.decision.status.as_str()),
                missing_json(&f.decision),
                json!(f.record.error()),
            ];
            FileRow::new(&f.record.path, cells)
        })
        .collect();
    Table::files(vec!["path", "status", "missing", "error"], rows)
}

/// Consents expiring within `days` of `date`: how many files each clears now, and which of them
/// would stop being green the day after it expires (the renewal plan).
pub fn expiring(files: &[Evaluated], register: &Register, date: Date, days: u32) -> Table {
    let until = date + chrono::Days::new(days.into());
    // Green files (by index) per consent they use: one pass over the files, not one per consent.
    let mut green_by_consent: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in files.iter().enumerate().filter(|(_, f)| f.decision.status == Status::Green) {
        for id in &f.decision.consents {
            green_by_consent.entry(id.as_str()).or_default().push(i);
        }
    }
    // Whether a file is still green on a day: consents of one file often expire on the same
    // day, so each (file, day) is evaluated once.
    let mut green_on: HashMap<(usize, Date), bool> = HashMap::new();
    let mut rows = Vec::new();
    for c in &register.consents {
        let Some(expires) = c.expires else { continue };
        if expires < date || expires > until || !valid_on(c, date) {
            continue;
        }
        let clears = green_by_consent.get(c.id.as_str()).map_or(&[][..], Vec::as_slice);
        let after = expires + chrono::Days::new(1);
        let at_risk: Vec<String> = clears
            .iter()
            .filter(|&&i| {
                !*green_on.entry((i, after)).or_insert_with(|| {
                    let f = &files[i];
                    f.record.evaluate(f.rel_path.as_deref(), register, after).status == Status::Green
                })
            })
            .map(|&i| files[i].path())
            .collect();
        rows.push(vec![
            json!(c.id),
            json!(c.person),
            json!(expires.to_string()),
            json!((expires - date).num_days()),
            json!(clears.len()),
            json!(at_risk),
        ]);
    }
    rows.sort_by(|a, b| a[2].as_str().cmp(&b[2].as_str()).then_with(|| a[0].as_str().cmp(&b[0].as_str())));
    Table::other(vec!["id", "person", "expires", "days_left", "files", "would_stop_green"], rows)
}

/// How a consent stands on a date.
pub fn validity(c: &Consent, date: Date) -> &'static str {
    if c.revoked.is_some_and(|r| r <= date) {
        "revoked"
    } else if c.granted > date {
        "not-yet-valid"
    } else if c.expires.is_some_and(|e| e < date) {
        "expired"
    } else {
        "valid"
    }
}

/// Number of evaluated files whose decision uses each consent id.
pub fn files_per_consent(files: &[Evaluated]) -> BTreeMap<&str, usize> {
    let mut n = BTreeMap::new();
    for f in files {
        for id in &f.decision.consents {
            *n.entry(id.as_str()).or_insert(0) += 1;
        }
    }
    n
}

/// The columns of a consent listing (`report consents`, `consent search`).
pub const CONSENT_COLUMNS: [&str; 12] = [
    "id",
    "person",
    "usage",
    "granted",
    "expires",
    "revoked",
    "validity",
    "document",
    "evidence",
    "originator",
    "scope",
    "files",
];

pub fn consent_row(c: &Consent, date: Date, files: usize) -> Vec<Value> {
    vec![
        json!(c.id),
        json!(c.person),
        json!(c.usage.iter().collect::<Vec<_>>()),
        json!(c.granted.to_string()),
        json!(c.expires.map(|d| d.to_string())),
        json!(c.revoked.map(|d| d.to_string())),
        json!(validity(c, date)),
        json!(c.document),
        json!(c.evidence.as_str()),
        json!(c.originator),
        json!(c.scope.patterns()),
        json!(files),
    ]
}

/// Every consent with its validity on `date`, document, originator and files using it, row by
/// row (`report consents`).
pub fn consent_rows<'a>(
    files: &[Evaluated],
    register: &'a Register,
    date: Date,
) -> impl Iterator<Item = Vec<Value>> + 'a {
    let used: BTreeMap<String, usize> =
        files_per_consent(files).into_iter().map(|(id, n)| (id.to_string(), n)).collect();
    register.consents.iter().map(move |c| consent_row(c, date, used.get(c.id.as_str()).copied().unwrap_or(0)))
}

/// Files that have consents but may not be published for all of `usages`, and unreadable
/// files (released for nothing, whatever consents their persons have).
pub fn unreleased(files: &[Evaluated], usages: &[&str]) -> Table {
    let rows = files
        .iter()
        .filter(|f| {
            let d = &f.decision;
            (!d.consents.is_empty() || d.status == Status::Unreadable) && !d.allows(usages)
        })
        .map(|f| {
            let lacking: Vec<&str> = usages.iter().copied().filter(|u| !f.decision.allows(&[u])).collect();
            let cells =
                vec![json!(f.path()), json!(f.decision.status.as_str()), json!(f.decision.usage), json!(lacking)];
            FileRow::new(&f.record.path, cells)
        })
        .collect();
    Table::files(vec!["path", "status", "usage", "lacking"], rows)
}

/// Names found in files but absent from the register, with the closest register names.
pub fn unknown_persons(files: &[Evaluated], register: &Register) -> Table {
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    for f in files {
        for m in f.decision.missing.iter().filter(|m| m.reason == Reason::Unknown) {
            *unknown.entry(m.name.as_str()).or_insert(0) += 1;
        }
    }
    let known = register.known_names();
    let rows = unknown
        .into_iter()
        .map(|(name, count)| vec![json!(name), json!(count), json!(suggestions(name, &known))])
        .collect();
    Table::other(vec!["name", "files", "suggestions"], rows)
}

/// Up to three register names within a small edit distance (typos like "Anna Schmitt").
pub fn suggestions<'a>(name: &str, known: &BTreeSet<&'a str>) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(&lower, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Files per status and, per usage area, how many files may be published for it.
pub fn summary(files: &[Evaluated], register: &Register) -> Table {
    let mut rows = Vec::new();
    // Every file has one status (unreadable ones their own): the counts add up to the files.
    for status in Status::ALL {
        let n = files.iter().filter(|f| f.decision.status == status).count();
        rows.push(vec![json!("status"), json!(status.as_str()), json!(n)]);
    }
    for usage in register.vocabulary.names() {
        let n = files.iter().filter(|f| f.decision.allows(&[usage])).count();
        rows.push(vec![json!("usage"), json!(usage), json!(n)]);
    }
    Table::other(vec!["group", "key", "files"], rows)
}

/// `report changes`: the changes the runs found (see [`crate::state::State::changes`]), and a
/// line about the runs it covers (`since`: the first day asked for, else the last run).
pub fn changes(since: Option<Date>, runs: &[RecordedRun], changes: &[RecordedChange]) -> (Table, String) {
    let rows = changes
        .iter()
        .map(|c| {
            let path = c.path.as_ref().map(|p| p.to_string_lossy().into_owned());
            let cells = vec![
                json!(c.run),
                json!(c.change),
                json!(path),
                json!(c.old_status),
                json!(c.new_status),
                json!(c.detail),
            ];
            FileRow { file: c.path.clone(), cells }
        })
        .collect();
    let about = match (since, runs) {
        (_, []) => "no runs recorded in this period".to_string(),
        (None, [RecordedRun { finished, baseline: true }]) => {
            format!("the run of {finished} was the first one: it is the baseline later runs are compared with")
        }
        (None, [RecordedRun { finished, baseline: false }]) => format!("changes found by the run of {finished}"),
        (Some(day), runs) => format!("changes found by the {} run(s) since {day}", runs.len()),
        (None, runs) => format!("changes found by the last {} runs", runs.len()),
    };
    let columns = vec!["run", "change", "path", "old_status", "new_status", "detail"];
    (Table::files(columns, rows), about)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos() {
        let known: BTreeSet<&str> = ["Anna Schmidt", "Ben Meyer", "Anna Schmid"].into_iter().collect();
        assert_eq!(suggestions("Anna Schmitt", &known), ["Anna Schmidt", "Anna Schmid"]);
        assert!(suggestions("Zoe Quast", &known).is_empty());
    }

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
        let (table, about) = changes(None, &[run("T1", false)], std::slice::from_ref(&change));
        assert_eq!(table.columns, ["run", "change", "path", "old_status", "new_status", "detail"]);
        assert!(table.is_per_file());
        assert_eq!(
            table.cells().collect::<Vec<_>>(),
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
}
