//! The JSON Lines printer: one JSON object per row, written as the rows come.

use std::io::{self, Write};

use super::json::RowObject;
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

    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &RowObject(&self.columns, cells))?;
        self.out.write_all(b"\n")
    }

    pub fn finish(self) -> io::Result<W> {
        Ok(self.out)
    }
}
