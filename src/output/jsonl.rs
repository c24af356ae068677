//! The JSON Lines printer: one JSON object per row, written as the rows come.

use std::io::{self, Write};

use super::json::RowObject;
use super::Sink;
use crate::report::Cell;

/// Prints each row as a JSON object on its own line, keys in column order.
pub struct JsonlPrinter<W: Write> {
    out: W,
    columns: Vec<&'static str>,
}

impl<W: Write> JsonlPrinter<W> {
    pub fn new(columns: &[&'static str], out: W) -> Self {
        JsonlPrinter { out, columns: columns.to_vec() }
    }
}

impl<W: Write> Sink<W> for JsonlPrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &RowObject(&self.columns, cells))?;
        self.out.write_all(b"\n")
    }

    fn finish(self: Box<Self>) -> io::Result<W> {
        Ok(self.out)
    }
}
