//! The CSV printer: a header, then a record per row as it comes, every cell made safe for
//! spreadsheets ([`super::csv_cell`]).

use std::io::{self, Write};

use super::csv_cell;
use super::Sink;
use crate::report::Cell;

/// Prints rows as CSV, lists joined with `|`.
pub struct CsvPrinter<W: Write> {
    w: ::csv::Writer<W>,
}

impl<W: Write> CsvPrinter<W> {
    pub fn new(columns: &[&str], out: W) -> io::Result<Self> {
        let mut w = ::csv::Writer::from_writer(out);
        w.write_record(columns)?;
        Ok(CsvPrinter { w })
    }
}

impl<W: Write> Sink<W> for CsvPrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        Ok(write_csv_row(&mut self.w, cells.iter().map(|c| c.text("|")))?)
    }

    fn finish(self: Box<Self>) -> io::Result<W> {
        into_inner(self.w)
    }
}

/// The writer under a CSV writer, everything written to it.
fn into_inner<W: Write>(w: ::csv::Writer<W>) -> io::Result<W> {
    w.into_inner().map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))
}

/// Write one CSV record with every cell made safe by [`csv_cell`]: the one way consentry's CSV
/// outputs write their rows.
fn write_csv_row<W: Write, S: AsRef<str>>(
    w: &mut ::csv::Writer<W>,
    row: impl IntoIterator<Item = S>,
) -> ::csv::Result<()> {
    w.write_record(row.into_iter().map(|c| csv_cell(c.as_ref()).into_owned()))
}
