//! Printing scan records and report rows as a table, JSON, JSON Lines, CSV or a spreadsheet,
//! into any writer; and the output safety rules every printer follows. No computation here.
//!
//! A report printer is a sink over any `io::Write` ([`Printer`]): given the columns, then row
//! after row, then finished. Each format is one file (`table`, `csv`, `json`, `jsonl`): adding a
//! format is a new file (a [`Sink`]) and an arm of [`Printer::new`] (and of [`OutputFormat`]).

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use crate::consent::Decision;
use crate::i18n::Lang;
use crate::report::{Cell, Row, Table};
use crate::scan::{FileRecord, Hint};

mod csv;
mod json;
mod jsonl;
mod table;
mod xlsx;

pub use self::csv::CsvPrinter;

pub use self::json::JsonPrinter;
pub use self::jsonl::JsonlPrinter;
use self::table::write_aligned;
pub use self::table::TablePrinter;
pub use self::xlsx::XlsxPrinter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people (default on a terminal).
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line (default when not on a terminal).
    Jsonl,
    /// Comma-separated values with a header; lists joined with `|`.
    Csv,
    /// A self-contained HTML folder with thumbnails (`report` only, with `-o DIR`).
    Html,
    /// A spreadsheet (Excel .xlsx) with typed cells: numbers, real dates (with `-o FILE`).
    Xlsx,
}

/// The JSON shape of a scan record (SPEC.md 6). Field names are stable.
#[derive(Debug, Serialize)]
pub struct ScanJson<'a> {
    pub path: String,
    pub kind: &'static str,
    pub format: Option<&'static str>,
    pub persons: Vec<&'a str>,
    pub unnamed_faces: u32,
    pub sources: Vec<String>,
    pub sidecars: Vec<String>,
    pub taken: Option<&'a str>,
    pub error: Option<String>,
    /// With a register: the evaluation.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<EvalJson<'a>>,
}

/// The fields a register adds to a scan record.
#[derive(Debug, Serialize)]
pub struct EvalJson<'a> {
    pub status: &'static str,
    pub missing: Vec<MissingJson<'a>>,
    pub usage: &'a [String],
    pub consents: &'a [String],
    pub valid_until: Option<String>,
    /// Hints about the file (objects with `kind` and `name`); they change no status.
    pub hints: &'a [Hint],
}

#[derive(Debug, Serialize)]
pub struct MissingJson<'a> {
    pub name: &'a str,
    pub reason: &'static str,
}

impl<'a> EvalJson<'a> {
    pub fn from_decision(d: &'a Decision, hints: &'a [Hint]) -> Self {
        EvalJson {
            status: d.status.as_str(),
            missing: d.missing.iter().map(|m| MissingJson { name: &m.name, reason: m.reason.as_str() }).collect(),
            usage: &d.usage,
            consents: &d.consents,
            valid_until: d.valid_until.map(|v| v.to_string()),
            hints,
        }
    }
}

impl<'a> ScanJson<'a> {
    pub fn from_record(r: &'a FileRecord, decision: Option<&'a Decision>) -> Self {
        ScanJson {
            path: r.path.to_string_lossy().into_owned(),
            kind: r.subject.as_str(),
            format: r.format.map(|f| f.as_str()),
            persons: r.depicted.persons.iter().map(String::as_str).collect(),
            unnamed_faces: r.depicted.unnamed_faces,
            sources: r.depicted.source_labels(),
            sidecars: r.sidecars.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            taken: r.taken.as_deref(),
            error: r.error(),
            evaluation: decision.map(|d| EvalJson::from_decision(d, &r.hints)),
        }
    }
}

const CSV_HEADER: [&str; 9] =
    ["path", "kind", "format", "persons", "unnamed_faces", "sources", "sidecars", "taken", "error"];
const CSV_EVAL_HEADER: [&str; 6] = ["status", "missing", "usage", "consents", "valid_until", "hints"];

/// Writes records in one format to any writer.
pub struct RecordWriter<'w, W: Write> {
    format: OutputFormat,
    out: RecordOut<'w, W>,
    count: u64,
    /// Whether records carry an evaluation (a register was given): more columns.
    evaluated: bool,
    /// The language of a table's header and statuses.
    lang: Lang,
    table: Vec<Vec<String>>,
    /// A JSON record as it is serialized.
    buf: Vec<u8>,
}

enum RecordOut<'w, W: Write> {
    Plain(W),
    /// CSV and spreadsheets: a report printer fed each record's cells ([`record_cells`]).
    Cells(Printer<'w, W>),
}

impl<'w, W: Write + 'w> RecordWriter<'w, W> {
    pub fn new(format: OutputFormat, lang: Lang, out: W, evaluated: bool) -> io::Result<Self> {
        let out = match format {
            OutputFormat::Csv | OutputFormat::Xlsx => {
                RecordOut::Cells(Printer::new(format, lang, &record_columns(evaluated), out)?)
            }
            _ => RecordOut::Plain(out),
        };
        Ok(RecordWriter { format, out, count: 0, evaluated, lang, table: Vec::new(), buf: Vec::new() })
    }

    pub fn write(&mut self, r: &FileRecord, decision: Option<&Decision>) -> io::Result<()> {
        let rec = ScanJson::from_record(r, decision);
        match (&mut self.out, self.format) {
            // Serialized into a buffer first, written at once: serde writes a record in many
            // small pieces, each a call through the writer (a rescan writes 20,000 records in
            // a few tens of milliseconds).
            (RecordOut::Plain(out), OutputFormat::Jsonl) => {
                self.buf.clear();
                serde_json::to_writer(&mut self.buf, &rec)?;
                self.buf.push(b'\n');
                out.write_all(&self.buf)?;
            }
            (RecordOut::Plain(out), OutputFormat::Json) => {
                self.buf.clear();
                self.buf.extend_from_slice(if self.count == 0 { b"[\n" } else { b",\n" });
                serde_json::to_writer(&mut self.buf, &rec)?;
                out.write_all(&self.buf)?;
            }
            (RecordOut::Cells(printer), _) => printer.row(&record_cells(r, decision, self.evaluated))?,
            (RecordOut::Plain(_), OutputFormat::Csv | OutputFormat::Html | OutputFormat::Xlsx) => {
                // Every format is chosen here by name: a new one is added here, not printed as
                // something else. (HTML is a report's folder; commands refuse it before.)
                return Err(io::Error::other(format!("scan records are not written as {:?}", self.format)));
            }
            (RecordOut::Plain(_), OutputFormat::Table) => {
                let lang = self.lang;
                let note = match (&rec.error, rec.kind, &rec.evaluation) {
                    (Some(e), _, _) => lang.tr("note-error", &[("error", e.as_str().into())]),
                    (None, "orphan-sidecar", _) => lang.text("note-orphan-sidecar"),
                    (None, _, Some(e)) if !e.missing.is_empty() => {
                        let m: Vec<String> =
                            e.missing.iter().map(|m| format!("{} ({})", m.name, lang.reason(m.reason))).collect();
                        lang.tr("note-missing", &[("persons", m.join(", ").into())])
                    }
                    (None, _, Some(e)) if e.status == "green" => match decision.and_then(|d| d.valid_until) {
                        Some(until) => lang.tr(
                            "note-usage-until",
                            &[("usage", e.usage.join(", ").into()), ("until", lang.date(until).into())],
                        ),
                        None => e.usage.join(", "),
                    },
                    (None, _, _) => {
                        rec.taken.map(|t| lang.tr("note-taken", &[("taken", t.into())])).unwrap_or_default()
                    }
                };
                let note = match rec.evaluation.as_ref().map(|e| e.hints).filter(|h| !h.is_empty()) {
                    Some(hints) => {
                        let names: Vec<&str> = hints.iter().map(|h| h.name.as_str()).collect();
                        let hint = self.lang.tr("hints-note", &[("names", names.join(", ").into())]);
                        if note.is_empty() {
                            hint
                        } else {
                            format!("{note}; {hint}")
                        }
                    }
                    None => note,
                };
                let faces = if rec.unnamed_faces > 0 { rec.unnamed_faces.to_string() } else { String::new() };
                let mut row = vec![rec.path, rec.kind.to_string()];
                if self.evaluated {
                    row.push(
                        rec.evaluation.as_ref().map(|e| self.lang.status(e.status).to_uppercase()).unwrap_or_default(),
                    );
                }
                row.extend([persons_cell(&rec.persons), faces, note]);
                self.table.push(row);
            }
        }
        self.count += 1;
        Ok(())
    }

    pub fn finish(self) -> io::Result<W> {
        let mut out = match self.out {
            RecordOut::Cells(printer) => printer.finish()?,
            RecordOut::Plain(out) => out,
        };
        match self.format {
            OutputFormat::Json => out.write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?,
            OutputFormat::Table => {
                let mut columns = vec!["path", "kind"];
                if self.evaluated {
                    columns.push("status");
                }
                columns.extend(["persons", "unnamed_faces", "note"]);
                let header: Vec<String> = columns.iter().map(|c| self.lang.column(c)).collect();
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                write_aligned(&mut out, &header, &self.table)?
            }
            OutputFormat::Jsonl | OutputFormat::Csv | OutputFormat::Html | OutputFormat::Xlsx => {}
        }
        out.flush()?;
        Ok(out)
    }
}

/// A report printer of one format over a writer `W`: given each row's cells, then finished
/// (what it holds written, the writer given back).
pub trait Sink<W: Write> {
    /// Print one row (its cells in column order).
    fn row(&mut self, cells: &[Cell]) -> io::Result<()>;
    /// Write what is held and give the writer back.
    fn finish(self: Box<Self>) -> io::Result<W>;
}

/// A report printer in one of the formats, over any writer: a sink given the columns, then
/// each row's cells, then finished. JSON Lines, CSV and JSON are written as the rows come (a
/// listing of 100,000 consents is never held whole); a table needs every row first (its widths).
pub struct Printer<'w, W: Write>(Box<dyn Sink<W> + 'w>);

impl<'w, W: Write + 'w> Printer<'w, W> {
    /// A printer of rows with `columns` in `format` into `out`. HTML is no printer: it is a
    /// folder (`html`).
    /// Tables and spreadsheets show their headers, statuses and dates in `lang`; the machine
    /// formats ignore it.
    pub fn new(format: OutputFormat, lang: Lang, columns: &[&'static str], out: W) -> io::Result<Self> {
        Ok(Printer(match format {
            OutputFormat::Table => Box::new(TablePrinter::new(columns, lang, out)),
            OutputFormat::Csv => Box::new(CsvPrinter::new(columns, out)?),
            OutputFormat::Json => Box::new(JsonPrinter::new(columns, out)),
            OutputFormat::Jsonl => Box::new(JsonlPrinter::new(columns, out)),
            OutputFormat::Xlsx => Box::new(XlsxPrinter::new(columns, lang, out)?),
            OutputFormat::Html => return Err(io::Error::other("HTML is written as a folder, by `report -o DIR`")),
        }))
    }

    /// Print one row (its cells in column order).
    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        self.0.row(cells)
    }

    /// Write what is held, flush, and give the writer back.
    pub fn finish(self) -> io::Result<W> {
        let mut out = self.0.finish()?;
        out.flush()?;
        Ok(out)
    }
}

/// Print rows given as cells, with `columns`, in `format`.
pub fn write_cells(
    format: OutputFormat,
    lang: Lang,
    columns: &[&'static str],
    rows: impl IntoIterator<Item = impl AsRef<[Cell]>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut printer = Printer::new(format, lang, columns, out)?;
    for row in rows {
        printer.row(row.as_ref())?;
    }
    printer.finish().map(drop)
}

/// Print a report's rows, row by row as they come, in `format`.
pub fn write_rows<R: Row>(
    format: OutputFormat,
    lang: Lang,
    rows: impl IntoIterator<Item = R>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_cells(format, lang, R::COLUMNS, rows.into_iter().map(|r| r.cells()), out)
}

/// Print a report made a table in `format`.
pub fn write_report(format: OutputFormat, lang: Lang, table: &Table, out: &mut dyn Write) -> io::Result<()> {
    write_cells(format, lang, &table.columns, table.cells(), out)
}

/// The columns of a scan record in CSV and spreadsheets; with `evaluated`, the register's too.
fn record_columns(evaluated: bool) -> Vec<&'static str> {
    let mut h = CSV_HEADER.to_vec();
    if evaluated {
        h.extend(CSV_EVAL_HEADER);
    }
    h
}

/// A scan record as typed cells in [`record_columns`] order (a spreadsheet's row): counts as
/// numbers, the status and reasons as statuses and reasons, `valid_until` as a day.
fn record_cells(r: &FileRecord, decision: Option<&Decision>, evaluated: bool) -> Vec<Cell> {
    let rec = ScanJson::from_record(r, decision);
    let text = |s: Option<&str>| s.map_or(Cell::Null, Cell::from);
    let mut cells = vec![
        Cell::Text(rec.path),
        Cell::from(rec.kind),
        text(rec.format),
        Cell::list(rec.persons),
        Cell::Int(i64::from(rec.unnamed_faces)),
        Cell::List(rec.sources),
        Cell::List(rec.sidecars),
        text(rec.taken),
        rec.error.map_or(Cell::Null, Cell::Text),
    ];
    if evaluated {
        match decision {
            Some(d) => cells.extend([
                Cell::Status(d.status),
                Cell::Missing(d.missing.iter().map(|m| (m.name.clone(), m.reason.as_str())).collect()),
                Cell::List(d.usage.clone()),
                Cell::List(d.consents.clone()),
                d.valid_until.map_or(Cell::Null, Cell::Date),
                Cell::Missing(r.hints.iter().map(|h| (h.name.clone(), h.kind.as_str())).collect()),
            ]),
            None => cells.extend(std::iter::repeat_n(Cell::Null, CSV_EVAL_HEADER.len())),
        }
    }
    cells
}

/// Persons for a table cell: as many names as fit in about 60 characters, then a count.
fn persons_cell(persons: &[&str]) -> String {
    const WIDTH: usize = 60;
    let mut cell = String::new();
    for (i, p) in persons.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let rest = persons.len() - i;
        if i > 0 && cell.chars().count() + sep.len() + p.chars().count() > WIDTH {
            cell.push_str(&format!(" (+{rest} more)"));
            break;
        }
        cell.push_str(sep);
        cell.push_str(p);
    }
    cell
}

// ---------------------------------------------------------------------------------------------
// Output safety (SPEC.md 6): text from files and registers never acts on the reader's tools.
// ---------------------------------------------------------------------------------------------

/// Whether `c` is shown escaped in tables and on stderr: C0 controls, DEL, C1 controls and the
/// bidirectional embeddings, overrides and isolates (which reorder what follows on screen).
fn is_hidden_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Where an output file named `path` is written through a temporary file renamed into place:
/// `path` itself when nothing is there yet or a regular file; the file a symbolic link leads to
/// when that is a regular file (the link stays, and a failed run leaves the old file whole).
/// `None` for anything else (a device, FIFO, socket, terminal, or a link to one, or a dangling
/// link): that is written through, never replaced.
pub fn replace_target(path: &std::path::Path) -> Option<std::path::PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Some(path.to_path_buf()),
        Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(target) if target.is_file() => std::fs::canonicalize(path).ok(),
            _ => None,
        },
        Ok(_) => None,
        // Nothing there, or it cannot be looked at: creating the temporary file says why.
        Err(_) => Some(path.to_path_buf()),
    }
}

/// `s` with control characters made visible, for tables and stderr: `\n`, `\r`, `\t`, `\x1b`
/// (ESC and the other C0 controls and DEL as `\xNN`), `\u{85}` (C1 controls and bidi
/// overrides). A file name with a newline or an escape sequence thus cannot forge a line or
/// drive the terminal. Text without such characters is returned as it is. JSON output does not
/// need this: serde escapes control characters itself.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_hidden_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Print one message on stderr with its control characters escaped ([`escape_controls`]):
/// every message that may carry a path, a name or register text goes through here.
pub fn eprint_escaped(msg: &str) {
    eprintln!("{}", escape_controls(msg));
}

/// A CSV cell safe to open in a spreadsheet (the OWASP rule against CSV injection): a cell
/// starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so that it is
/// shown as text and never run as a formula. A plain decimal number (`-3`, `-0.5`) stays as
/// it is: a spreadsheet reads it as that number, and no formula can be written that way.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = matches!(s.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    if risky && !is_plain_number(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `-?digits(.digits)?`
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty() && !frac.is_empty() && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::{
        csv_cell, escape_controls, persons_cell, write_cells, write_report, write_rows, OutputFormat, Printer,
    };
    use crate::i18n::Lang;
    use crate::report::{Cell, FileRow, Row, Rows, Table};
    use serde_json::json;

    /// A report over two files, one with a hostile name, a list and a null.
    fn report() -> Table {
        let row = |path: &str, cells: Vec<Cell>| FileRow { file: Some(path.into()), cells };
        let rows = vec![
            row("a/x.jpg", vec!["a/x.jpg".into(), Cell::Int(2), Cell::list(["web", "tv"]), Cell::Null]),
            row("=b.jpg", vec!["=b.jpg".into(), Cell::Int(-3), Cell::List(Vec::new()), "bad\nline".into()]),
        ];
        Table { columns: vec!["path", "days_left", "usage", "error"], rows: Rows::Files(rows) }
    }

    fn printed(format: OutputFormat, table: &Table) -> String {
        let mut out = Vec::new();
        write_report(format, Lang::En, table, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reports_as_json_lines() {
        assert_eq!(
            printed(OutputFormat::Jsonl, &report()),
            "{\"path\":\"a/x.jpg\",\"days_left\":2,\"usage\":[\"web\",\"tv\"],\"error\":null}\n\
             {\"path\":\"=b.jpg\",\"days_left\":-3,\"usage\":[],\"error\":\"bad\\nline\"}\n"
        );
    }

    #[test]
    fn reports_as_csv() {
        assert_eq!(
            printed(OutputFormat::Csv, &report()),
            "path,days_left,usage,error\na/x.jpg,2,web|tv,\n'=b.jpg,-3,,\"bad\nline\"\n"
        );
    }

    #[test]
    fn reports_as_aligned_tables() {
        assert_eq!(
            printed(OutputFormat::Table, &report()),
            "PATH     DAYS LEFT  USAGE   ERROR\na/x.jpg  2          web|tv\n=b.jpg   -3                 bad\\nline\n"
        );
    }

    #[test]
    fn json_is_written_row_by_row_as_serde_writes_the_whole_array() {
        use serde_json::Value;
        let table = report();
        let rows: Vec<Value> = table
            .cells()
            .map(|r| Value::Object(table.columns.iter().map(|c| c.to_string()).zip(r.iter().map(Cell::json)).collect()))
            .collect();
        let want = format!("{}\n", serde_json::to_string_pretty(&rows).unwrap());
        assert_eq!(printed(OutputFormat::Json, &table), want);
        let empty = Table { columns: vec!["a"], rows: Rows::Other(Vec::new()) };
        assert_eq!(printed(OutputFormat::Json, &empty), "[]\n");
    }

    #[test]
    fn reports_as_json() {
        let text = printed(OutputFormat::Json, &report());
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back[1], json!({"path": "=b.jpg", "days_left": -3, "usage": [], "error": "bad\nline"}));
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn rows_given_one_by_one_print_as_the_whole_report() {
        let table = report();
        for format in [OutputFormat::Jsonl, OutputFormat::Csv, OutputFormat::Table, OutputFormat::Json] {
            let mut out = Vec::new();
            write_cells(format, Lang::En, &table.columns, table.cells().map(<[_]>::to_vec), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), printed(format, &table), "{format:?}");
        }
        let mut out = Vec::new();
        assert!(write_report(OutputFormat::Html, Lang::En, &table, &mut out).is_err());
    }

    /// A kind of report row, as the report module defines them.
    struct Pair(&'static str, i64);

    impl Row for Pair {
        const COLUMNS: &'static [&'static str] = &["name", "files"];
        fn cells(&self) -> Vec<Cell> {
            vec![self.0.into(), self.1.into()]
        }
    }

    #[test]
    fn typed_rows_print_through_a_sink_over_any_writer() {
        let rows = || [Pair("=cmd", 1), Pair("Anna", 12)];
        for (format, want) in [
            (OutputFormat::Csv, "name,files\n'=cmd,1\nAnna,12\n"),
            (OutputFormat::Jsonl, "{\"name\":\"=cmd\",\"files\":1}\n{\"name\":\"Anna\",\"files\":12}\n"),
            (OutputFormat::Table, "NAME  FILES\n=cmd  1\nAnna  12\n"),
        ] {
            let mut out = Vec::new();
            write_rows(format, Lang::En, rows(), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{format:?}");
            // The sink owns its writer and gives it back.
            let mut printer = Printer::new(format, Lang::En, Pair::COLUMNS, Vec::new()).unwrap();
            for r in rows() {
                printer.row(&r.cells()).unwrap();
            }
            assert_eq!(String::from_utf8(printer.finish().unwrap()).unwrap(), want, "{format:?}");
        }
        let table = Table::of(&rows());
        assert!(!table.is_per_file());
        assert_eq!(printed(OutputFormat::Json, &table), "[\n  {\n    \"name\": \"=cmd\",\n    \"files\": 1\n  },\n  {\n    \"name\": \"Anna\",\n    \"files\": 12\n  }\n]\n");
        assert!(Printer::new(OutputFormat::Html, Lang::En, Pair::COLUMNS, Vec::new()).is_err());
    }

    /// A JPEG read completely that shows nobody.
    fn jpeg_nobody() -> crate::scan::FileRecord {
        crate::scan::FileRecord::known(
            "a.jpg".into(),
            Some(crate::media::Format::Jpeg),
            crate::people::Depicted::default(),
            Vec::new(),
            None,
        )
    }

    #[test]
    fn a_spreadsheet_row_of_a_scan_record_has_a_cell_per_column() {
        let record = jpeg_nobody();
        let register = crate::report::fixture::register();
        let day = crate::model::Date::from_ymd_opt(2026, 1, 1).unwrap();
        let decision = record.evaluate(Some("a.jpg"), &register, day);
        for (evaluated, decision) in [(false, None), (true, None), (true, Some(&decision))] {
            let cells = super::record_cells(&record, decision, evaluated);
            assert_eq!(cells.len(), super::record_columns(evaluated).len(), "{evaluated} {decision:?}");
        }
    }

    #[test]
    fn scan_records_are_never_printed_in_a_format_they_have_no_printer_for() {
        let record = jpeg_nobody();
        let mut w = super::RecordWriter::new(OutputFormat::Html, Lang::En, Vec::new(), false).unwrap();
        assert!(w.write(&record, None).is_err());
        let mut w = super::RecordWriter::new(OutputFormat::Table, Lang::En, Vec::new(), false).unwrap();
        w.write(&record, None).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(text.starts_with("PATH   KIND") && text.contains("a.jpg"), "{text}");
    }

    #[test]
    fn csv_cells_that_could_be_formulas_get_a_quote() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("@SUM(1)", "'@SUM(1)"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-1e5", "'-1e5"),
            ("-3", "-3"),
            ("-0.5", "-0.5"),
            ("Anna Schmidt", "Anna Schmidt"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(escape_controls("plain ü"), "plain ü");
        assert_eq!(escape_controls("a\x1b]0;x\x07\nFAKE\r\t\x7f"), "a\\x1b]0;x\\x07\\nFAKE\\r\\t\\x7f");
        assert_eq!(escape_controls("\u{85}\u{9b}\u{202e}\u{2067}"), "\\u{85}\\u{9b}\\u{202e}\\u{2067}");
    }

    #[test]
    fn long_person_lists_are_cut_with_a_count() {
        assert_eq!(persons_cell(&[]), "");
        assert_eq!(persons_cell(&["Anna", "Ben"]), "Anna, Ben");
        let many: Vec<String> = (0..20).map(|i| format!("Person Number {i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let cell = persons_cell(&refs);
        assert!(cell.starts_with("Person Number 0, Person Number 1") && cell.ends_with("(+17 more)"), "{cell}");
    }
}
