//! Rendering scan records as a table, JSON, JSON Lines or CSV. No computation here.

use std::io::{self, Write};

use serde::Serialize;

use crate::scan::FileRecord;

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
}

impl<'a> ScanJson<'a> {
    pub fn from_record(r: &'a FileRecord) -> Self {
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
        }
    }
}

const CSV_HEADER: [&str; 9] =
    ["path", "kind", "format", "persons", "unnamed_faces", "sources", "sidecars", "taken", "error"];

/// Writes records in one format to any writer.
pub struct RecordWriter<W: Write> {
    format: OutputFormat,
    out: Sink<W>,
    count: u64,
    table: Vec<[String; 5]>,
}

enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> RecordWriter<W> {
    pub fn new(format: OutputFormat, out: W) -> Self {
        let out = match format {
            OutputFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            _ => Sink::Plain(out),
        };
        RecordWriter { format, out, count: 0, table: Vec::new() }
    }

    pub fn write(&mut self, r: &FileRecord) -> io::Result<()> {
        let rec = ScanJson::from_record(r);
        match (&mut self.out, self.format) {
            (Sink::Plain(out), OutputFormat::Jsonl) => {
                serde_json::to_writer(&mut *out, &rec)?;
                out.write_all(b"\n")?;
            }
            (Sink::Plain(out), OutputFormat::Json) => {
                out.write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &rec)?;
            }
            (Sink::Csv(w), _) => {
                if self.count == 0 {
                    w.write_record(CSV_HEADER)?;
                }
                w.write_record([
                    rec.path.as_str(),
                    rec.kind,
                    rec.format.unwrap_or(""),
                    &rec.persons.join("|"),
                    &rec.unnamed_faces.to_string(),
                    &rec.sources.join("|"),
                    &rec.sidecars.join("|"),
                    rec.taken.unwrap_or(""),
                    rec.error.as_deref().unwrap_or(""),
                ])?;
            }
            (Sink::Plain(_), _) => {
                let note = match (&rec.error, rec.kind) {
                    (Some(e), _) => format!("error: {e}"),
                    (None, "orphan-sidecar") => "sidecar without media file".to_string(),
                    (None, _) => rec.taken.map(|t| format!("taken {t}")).unwrap_or_default(),
                };
                let faces = if rec.unnamed_faces > 0 { rec.unnamed_faces.to_string() } else { String::new() };
                self.table.push([rec.path, rec.kind.to_string(), persons_cell(&rec.persons), faces, note]);
            }
        }
        self.count += 1;
        Ok(())
    }

    pub fn finish(self) -> io::Result<W> {
        let mut out = match self.out {
            Sink::Csv(mut w) => {
                if self.count == 0 {
                    w.write_record(CSV_HEADER)?;
                }
                w.into_inner().map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))?
            }
            Sink::Plain(out) => out,
        };
        match self.format {
            OutputFormat::Json => out.write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?,
            OutputFormat::Table => write_table(&mut out, &self.table)?,
            _ => {}
        }
        out.flush()?;
        Ok(out)
    }
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

fn write_table(out: &mut impl Write, rows: &[[String; 5]]) -> io::Result<()> {
    let header = ["PATH", "KIND", "PERSONS", "UNNAMED FACES", "NOTE"];
    let mut width = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 5]| -> io::Result<()> {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.extend(std::iter::repeat_n(' ', width[i] - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(header)?;
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::persons_cell;

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
