//! The table printer: columns aligned for people, control characters shown escaped.

use std::borrow::Cow;
use std::io::{self, Write};

use super::escape_controls;
use super::Sink;
use crate::i18n::Lang;
use crate::report::Cell;

/// Prints rows as aligned columns under an upper-case header in the language (`days_left` ->
/// `DAYS LEFT`, `TAGE ÜBRIG`), statuses and dates in the language, lists joined with `|`. The
/// widths need every row: they are held until [`finish`](Self::finish).
pub struct TablePrinter<W: Write> {
    out: W,
    lang: Lang,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl<W: Write> TablePrinter<W> {
    pub fn new(columns: &[&str], lang: Lang, out: W) -> Self {
        let header = columns.iter().map(|c| lang.column(c)).collect();
        TablePrinter { out, lang, header, rows: Vec::new() }
    }
}

impl<W: Write> Sink<W> for TablePrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        self.rows.push(cells.iter().map(|c| c.display("|", self.lang)).collect());
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        write_aligned(&mut self.out, &header, &self.rows)?;
        Ok(self.out)
    }
}

/// Columns aligned with two spaces between them; the last column is not padded. Control
/// characters in cells are shown escaped ([`escape_controls`]).
pub(super) fn write_aligned(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<Cow<'_, str>>> = rows.iter().map(|r| r.iter().map(|c| escape_controls(c)).collect()).collect();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            s.push_str(cell);
            if i + 1 < width.len() {
                s.extend(std::iter::repeat_n(' ', width[i] - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(&mut header.iter().copied())?;
    for row in &rows {
        line(&mut row.iter().map(|c| c.as_ref()))?;
    }
    Ok(())
}
