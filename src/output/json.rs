//! The JSON printer: one pretty-printed array of objects, keys in column order, each object
//! written as its row comes.

use std::io::{self, Write};

use super::Sink;
use crate::report::Cell;

/// Prints rows as one JSON array, as `serde_json::to_writer_pretty` writes an array of the
/// rows' objects, without holding the rows.
pub struct JsonPrinter<W: Write> {
    out: W,
    columns: Vec<&'static str>,
    rows: usize,
    /// One object, pretty-printed, before it is indented into the array.
    object: Vec<u8>,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(columns: &[&'static str], out: W) -> Self {
        JsonPrinter { out, columns: columns.to_vec(), rows: 0, object: Vec::new() }
    }
}

impl<W: Write> Sink<W> for JsonPrinter<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        self.object.clear();
        serde_json::to_writer_pretty(&mut self.object, &RowObject(&self.columns, cells))?;
        self.out.write_all(if self.rows == 0 { b"[\n" } else { b",\n" })?;
        // An element of the array is indented one level more. JSON text has no raw line
        // breaks inside strings, so every line break is the printer's own.
        for (i, line) in self.object.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.out.write_all(b"\n")?;
            }
            self.out.write_all(b"  ")?;
            self.out.write_all(line)?;
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        self.out.write_all(if self.rows == 0 { b"[]\n" } else { b"\n]\n" })?;
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
