//! Reports (SPEC.md 6): what a report row is ([`Row`]: its columns, its typed cells, the file it
//! is about) and the kinds of reports, each computed in its own module from evaluated files, a
//! register, a state or a register change. Printing them is `output`'s job and `html`'s.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::consent::{Decision, Status};
use crate::i18n::Lang;
use crate::model::Date;
use crate::scan::FileRecord;

mod changes;
mod consents;
mod explain;
mod files;
pub mod listing;

pub use changes::{changes, checkpoint_about, needs_attention};
pub use consents::{
    consent_rows, expiring, person, search, suggestions, summary, unknown_persons, uses, validity, ConsentFilter,
    ConsentRow, Expiring, PersonItem, SummaryKey, SummaryRow, UnknownPerson, Use,
};
pub use explain::{explain, ExplainRow, Outcome, Why};
pub use files::{check, cleared, missing, unreleased, ApplyRow, Blocking, Cleared, MissingFile, Unreleased};

/// One cell of a report row, typed: how it reads as JSON, as text in a table or CSV cell, and
/// in the HTML report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Nothing (`null` in JSON, empty in text).
    Null,
    Text(String),
    Int(i64),
    /// A list of names, usages, patterns: a JSON array of strings, joined in text.
    List(Vec<String>),
    /// Persons lacking consent with the reason: JSON objects `{name, reason}`, `name (reason)`
    /// in text.
    Missing(Vec<(String, &'static str)>),
    /// A day: `YYYY-MM-DD` in JSON and CSV, the language's form in tables and the HTML report,
    /// a real date in a spreadsheet.
    Date(Date),
    /// A file's status: its English name in JSON and CSV, the language's word in tables and the
    /// HTML report.
    Status(Status),
    /// A keyword of a machine interface (`became-red`, `no-persons`): the key itself in JSON
    /// and CSV, whatever the messages say; in tables and the HTML report the message `<prefix><key>`
    /// of the language (the key where there is none).
    Word(String, &'static str),
    /// A sentence: the message `id` of `locales/*.ftl` with its arguments, each a cell. English
    /// in JSON and CSV, the language's sentence (its arguments shown in it) in tables and the
    /// HTML report.
    Phrase(&'static str, Vec<(&'static str, Cell)>),
}

impl Cell {
    /// The cell as a JSON value (as it is serialized).
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The cell as text: lists joined with `separator`, missing persons as `name (reason)`.
    pub fn text(&self, separator: &str) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::List(items) => items.join(separator),
            Cell::Missing(m) => m.iter().map(|(n, r)| format!("{n} ({r})")).collect::<Vec<_>>().join(separator),
            Cell::Date(d) => d.to_string(),
            Cell::Status(s) => s.as_str().to_string(),
            Cell::Phrase(..) => self.display(separator, Lang::En),
            Cell::Word(key, _) => key.clone(),
        }
    }

    /// The cell as people of `lang` read it (tables, spreadsheets' text, the HTML report):
    /// statuses, reasons and dates in the language, lists joined with `separator`.
    pub fn display(&self, separator: &str, lang: Lang) -> String {
        match self {
            Cell::Date(d) => lang.date(*d),
            Cell::Status(s) => lang.status(s.as_str()),
            Cell::Word(key, prefix) => {
                let id = format!("{prefix}{key}");
                if lang.has(&id) {
                    lang.text(&id)
                } else {
                    key.clone()
                }
            }
            Cell::Phrase(id, args) => {
                let args: Vec<(&str, crate::i18n::Arg)> =
                    args.iter().map(|(name, cell)| (*name, cell.display(separator, lang).into())).collect();
                lang.tr(id, &args)
            }
            Cell::Missing(m) => {
                m.iter().map(|(n, r)| format!("{n} ({})", lang.reason(r))).collect::<Vec<_>>().join(separator)
            }
            _ => self.text(separator),
        }
    }

    /// Whether the cell is a number (right-aligned in HTML).
    pub fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_))
    }

    /// The text of a text cell.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A list cell from any strings.
    pub fn list<S: ToString>(items: impl IntoIterator<Item = S>) -> Cell {
        Cell::List(items.into_iter().map(|s| s.to_string()).collect())
    }
}

/// JSON: `null`, a string, a number, an array of strings, an array of `{name, reason}`.
impl serde::Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self {
            Cell::Null => s.serialize_unit(),
            Cell::Text(t) => s.serialize_str(t),
            Cell::Date(d) => s.collect_str(d),
            Cell::Status(status) => s.serialize_str(status.as_str()),
            Cell::Phrase(..) => s.serialize_str(&self.text(", ")),
            Cell::Word(key, _) => s.serialize_str(key),
            Cell::Int(n) => s.serialize_i64(*n),
            Cell::List(items) => items.serialize(s),
            Cell::Missing(m) => {
                let mut seq = s.serialize_seq(Some(m.len()))?;
                for (name, reason) in m {
                    seq.serialize_element(&NameReason(name, reason))?;
                }
                seq.end()
            }
        }
    }
}

/// A missing person as the JSON object `{"name": ..., "reason": ...}`.
struct NameReason<'a>(&'a str, &'a str);

impl serde::Serialize for NameReason<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", self.0)?;
        m.serialize_entry("reason", self.1)?;
        m.end()
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<&String> for Cell {
    fn from(s: &String) -> Cell {
        Cell::Text(s.clone())
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Null, Into::into)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

impl From<usize> for Cell {
    fn from(n: usize) -> Cell {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<Date> for Cell {
    fn from(d: Date) -> Cell {
        Cell::Date(d)
    }
}

impl From<Status> for Cell {
    fn from(s: Status) -> Cell {
        Cell::Status(s)
    }
}

impl From<&Path> for Cell {
    fn from(p: &Path) -> Cell {
        Cell::Text(p.to_string_lossy().into_owned())
    }
}

impl From<&PathBuf> for Cell {
    fn from(p: &PathBuf) -> Cell {
        p.as_path().into()
    }
}

impl From<Vec<String>> for Cell {
    fn from(items: Vec<String>) -> Cell {
        Cell::List(items)
    }
}

impl From<&[String]> for Cell {
    fn from(items: &[String]) -> Cell {
        Cell::List(items.to_vec())
    }
}

/// A row of one kind of report: the one place its columns are named and its fields become
/// cells (in column order), for every printer.
pub trait Row {
    /// The column names, in order: JSON keys and CSV header; tables show them upper-cased.
    const COLUMNS: &'static [&'static str];
    /// Whether the rows are about files: the HTML report groups them by status and shows each
    /// file with its thumbnail.
    const FILES: bool = false;
    /// The cells, one per column.
    fn cells(&self) -> Vec<Cell>;
    /// The file a row is about (for a report over files; a row may name none).
    fn file(&self) -> Option<&Path> {
        None
    }
}

/// A row given by reference is the row.
impl<R: Row> Row for &R {
    const COLUMNS: &'static [&'static str] = R::COLUMNS;
    const FILES: bool = R::FILES;
    fn cells(&self) -> Vec<Cell> {
        (**self).cells()
    }
    fn file(&self) -> Option<&Path> {
        (**self).file()
    }
}

/// A report with its rows made cells: what the HTML report lays out, and what the printers are
/// given whole. Its rows are all about files ([`Rows::Files`]) or all about something else.
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
    Other(Vec<Vec<Cell>>),
}

/// A row about one file: its cells, and the file (the evaluation of a file with that path is
/// what the HTML report shows for it).
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// `None` in a report over files for a row that names none (a consent that ended, in
    /// `report changes`).
    pub file: Option<PathBuf>,
    pub cells: Vec<Cell>,
}

impl Table {
    /// The table of typed rows: their kind says whether they are about files.
    pub fn of<R: Row>(rows: &[R]) -> Table {
        let columns = R::COLUMNS.to_vec();
        if R::FILES {
            let rows = rows.iter().map(|r| FileRow { file: r.file().map(Path::to_path_buf), cells: r.cells() });
            Table { columns, rows: Rows::Files(rows.collect()) }
        } else {
            Table { columns, rows: Rows::Other(rows.iter().map(Row::cells).collect()) }
        }
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
    pub fn cells(&self) -> Box<dyn Iterator<Item = &[Cell]> + '_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_read_as_json_and_as_text() {
        let missing = Cell::Missing(vec![("Anna".into(), "expired"), ("Ben".into(), "unknown")]);
        assert_eq!(
            missing.json(),
            json!([{"name": "Anna", "reason": "expired"}, {"name": "Ben", "reason": "unknown"}])
        );
        assert_eq!(missing.text("|"), "Anna (expired)|Ben (unknown)");
        assert_eq!(Cell::list(["web", "tv"]).text(", "), "web, tv");
        assert_eq!(Cell::list(["web", "tv"]).json(), json!(["web", "tv"]));
        assert_eq!(Cell::from(None::<String>).json(), Value::Null);
        assert_eq!(Cell::Null.text("|"), "");
        assert_eq!(Cell::from(-3i64).text("|"), "-3");
        assert!(Cell::from(3usize).is_number() && !Cell::from("3").is_number());
        assert_eq!(Cell::from(Date::from_ymd_opt(2026, 1, 2)).json(), json!("2026-01-02"));
        let day = Cell::from(Date::from_ymd_opt(2026, 1, 2).unwrap());
        assert_eq!((day.text("|"), day.display("|", Lang::De)), ("2026-01-02".into(), "02.01.2026".into()));
        let red = Cell::from(Status::Red);
        assert_eq!((red.json(), red.text("|"), red.display("|", Lang::De)), (json!("red"), "red".into(), "rot".into()));
        assert_eq!(missing.display(", ", Lang::De), "Anna (abgelaufen), Ben (unbekannt)");
    }
}

/// Evaluated files and a register for the reports' tests: Anna has a consent for print and web,
/// Ben's consent for web expired, Carla is unknown to the register.
#[cfg(test)]
pub(crate) mod fixture {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::Evaluated;
    use crate::media::Format;
    use crate::model::{Consent, Date, Evidence, Origin, Person, Register, Scope, Vocabulary};
    use crate::people::Depicted;
    use crate::scan::FileRecord;

    pub fn day(s: &str) -> Date {
        Date::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn consent(id: &str, person: &str, usage: &str, expires: &str) -> Consent {
        Consent {
            id: id.into(),
            person: person.into(),
            usage: Arc::new(usage.split(',').map(str::to_string).collect()),
            granted: day("2024-01-01"),
            expires: Some(day(expires)),
            revoked: None,
            document: Some(format!("{id}.pdf")),
            originator: Some("Studio".into()),
            scope: Scope::parse("*").unwrap(),
            comment: None,
            copyright: None,
            origin: Origin::default(),
            evidence: Evidence::Unchecked,
        }
    }

    /// Evaluated on 2026-06-01.
    pub fn register() -> Register {
        let persons = ["Anna Schmidt", "Ben Meyer"]
            .iter()
            .enumerate()
            .map(|(i, n)| Person { id: Some(i.to_string()), name: n.to_string(), aliases: vec![] })
            .collect();
        let consents = vec![
            consent("1", "Anna Schmidt", "print,web", "2026-06-20"),
            consent("2", "Ben Meyer", "web", "2025-01-01"),
        ];
        Register::new(consents, persons, vec![], vec![], Vocabulary::default(), "digest".into())
    }

    /// `anna.jpg` (green), `ben.jpg` (red: expired), `both.jpg` (yellow), `carla.jpg` (red:
    /// unknown), `broken.jpg` (unreadable, showing Anna).
    pub fn files(register: &Register) -> Vec<Evaluated> {
        let file = |name: &str, persons: &[&str], error: Option<&str>| {
            let depicted = Depicted { persons: persons.iter().map(|p| p.to_string()).collect(), ..Depicted::default() };
            let record = FileRecord {
                errors: error.map(crate::scan::ReadError::damaged_jpeg).into_iter().collect(),
                ..FileRecord::known(PathBuf::from(name), Some(Format::Jpeg), depicted, Vec::new(), None)
            };
            let decision = record.evaluate(Some(name), register, day("2026-06-01"));
            Evaluated { record, rel_path: Some(name.to_string()), decision }
        };
        vec![
            file("anna.jpg", &["Anna Schmidt"], None),
            file("ben.jpg", &["Ben Meyer"], None),
            file("both.jpg", &["Anna Schmidt", "Ben Meyer"], None),
            file("carla.jpg", &["Carla"], None),
            file("broken.jpg", &["Anna Schmidt"], Some("truncated")),
        ]
    }
}
