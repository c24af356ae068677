//! The JSON printer: one pretty-printed array of objects, keys in column order.

use std::io::{self, Write};

use super::Sink;
use crate::report::Cell;

/// Prints rows as one JSON array; the array is written whole at [`finish`](Self::finish).
pub struct JsonPrinter<W: Write> {
    out: W,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(columns: &[&'static str], out: W) -> Self {
        JsonPrinter { out, columns: columns.to_vec(), rows: Vec::new() }
    }
}

impl<W: Write> Sink<W> for JsonPrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        self.rows.push(cells.to_vec());
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        let all: Vec<RowObject> = self.rows.iter().map(|r| RowObject(&self.columns, r)).collect();
        serde_json::to_writer_pretty(&mut self.out, &all)?;
        self.out.write_all(b"\n")?;
        Ok(self.out)
    }
}

/// A row as a JSON object (columns in order), without copying it into a map.
pub(super) struct RowObject<'a>(pub &'a [&'static str], pub &'a [Cell]);

impl serde::Serialize for RowObject<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (c, v) in self.0.iter().zip(self.1) {
            m.serialize_entry(c, v)?;
        }
        m.end()
    }
}
