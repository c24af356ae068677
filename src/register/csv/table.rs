//! Reading one CSV file as a table of known columns: the column kinds of each register file
//! (English and German headers), the header check, and each data row handed on as it is read.

use super::dialect::{check_quoting, decode, detect_delimiter, LineIndex};
use super::Problems;
use crate::people::normalize_name;

/// A column of a table kind: canonical name, accepted headers (lower case), whether required.
pub(super) struct Col {
    pub(super) name: &'static str,
    pub(super) headers: &'static [&'static str],
    pub(super) required: bool,
}

pub(super) const fn col(name: &'static str, headers: &'static [&'static str], required: bool) -> Col {
    Col { name, headers, required }
}

pub(super) const CONSENT_COLUMNS: &[Col] = &[
    col("id", &["id", "nr", "nr."], false),
    col("person", &["person", "name", "betroffene person"], true),
    col("usage", &["usage", "einsatzgebiete", "verwendung"], true),
    col("granted", &["granted", "erteilt", "erteilungsdatum", "beginn"], true),
    col("expires", &["expires", "ablaufdatum", "ablauf", "gültig bis"], false),
    col("document", &["document", "dokument", "einverständniserklärung", "pdf"], false),
    col("originator", &["originator", "urheber"], false),
    col("scope", &["scope", "geltungsbereich", "bilder"], false),
    col("comment", &["comment", "kommentar", "bemerkung"], false),
    col("copyright", &["copyright"], false),
    col("revoked", &["revoked", "widerrufen", "widerruf"], false),
];

pub(super) const PERSON_COLUMNS: &[Col] = &[
    col("id", &["id", "nr", "nr."], false),
    col("name", &["name"], true),
    col("aliases", &["aliases", "alias", "aliase"], false),
];

pub(super) const EXEMPTION_COLUMNS: &[Col] = &[
    col("scope", &["scope", "geltungsbereich", "bilder"], true),
    col("person", &["person", "name", "betroffene person"], true),
    col("reason", &["reason", "grund", "begründung"], true),
    col("note", &["note", "notiz", "bemerkung", "kommentar", "comment"], false),
];

pub(super) const ORIGINATOR_COLUMNS: &[Col] =
    &[col("id", &["id", "nr", "nr."], false), col("name", &["name", "urheber"], true)];

/// The known columns of one CSV file.
pub(super) struct Table<'a> {
    pub(super) file: &'a str,
    /// Canonical column name -> index into a row's fields (a dozen at most: a list is fastest).
    pub(super) columns: Vec<(&'static str, usize)>,
}

/// One data row, borrowed from the reader's reused record.
pub(super) struct Row<'r> {
    pub(super) line: u64,
    /// Byte offset of the record in the decoded text.
    pub(super) offset: usize,
    pub(super) fields: &'r csv::StringRecord,
}

/// One field of a row: its 1-based column and trimmed value (empty when the row is short).
#[derive(Clone, Copy)]
pub(super) struct Field<'r> {
    pub(super) column: u64,
    pub(super) value: &'r str,
}

impl Table<'_> {
    /// `None` when the file has no such column.
    pub(super) fn get<'r>(&self, row: &Row<'r>, name: &str) -> Option<Field<'r>> {
        let &(_, i) = self.columns.iter().find(|(n, _)| *n == name)?;
        Some(Field { column: i as u64 + 1, value: row.fields.get(i).map_or("", |v| v.trim()) })
    }

    /// The trimmed value, `None` when the column is absent or the value empty.
    pub(super) fn text(&self, row: &Row, name: &str) -> Option<String> {
        self.get(row, name).map(|f| f.value).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

/// Decode, split and check a CSV file against the columns of its kind, handing each data row
/// to `each` as it is read (a register of 100,000 rows is never held as strings). Problems with
/// the file's encoding, quoting or header go to `p`; rows that cannot be split reliably are
/// left out. Returns the decoded text, delimiter and columns; `None` when the file has no
/// usable header.
pub(super) fn read_table<'b>(
    file: &str,
    bytes: &'b [u8],
    kind: &[Col],
    p: &mut Problems,
    mut each: impl FnMut(&Table, &Row, &mut Problems),
) -> Option<Layout<'b>> {
    let text = decode(file, bytes, p);
    if text.trim().is_empty() {
        p.error(file, 0, 0, "the file is empty: no header line");
        return None;
    }
    let lines = LineIndex::new(&text);
    let delimiter = detect_delimiter(&text);
    let broken = check_quoting(file, &text, delimiter, &lines, p);

    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut cursor = 0;
    // The next record, the line it starts on and its offset; `None` at the end or after an
    // unreadable one.
    let mut next = |record: &mut csv::StringRecord, p: &mut Problems| -> Option<(u64, usize)> {
        let start = reader.position().byte();
        match reader.read_record(record) {
            Ok(true) => {
                let at = record.position().map_or(start, |pos| pos.byte()) as usize;
                Some((lines.next_record_line(&text, at, &mut cursor), at))
            }
            Ok(false) => None,
            Err(e) => {
                let line = e.position().map_or(0, |pos| lines.record_line(&text, pos.byte() as usize));
                p.error(file, line, 0, format!("cannot read the CSV: {e}"));
                None
            }
        }
    };
    let (header_line, _) = next(&mut record, p)?;
    if broken.contains(&header_line) {
        return None;
    }
    let header = record.clone();

    // Header: every column must be known, none twice, the required ones present.
    let mut columns: Vec<(&'static str, usize)> = Vec::new();
    let mut unnamed: Vec<usize> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let key = normalize_name(cell).to_lowercase();
        if key.is_empty() {
            unnamed.push(i);
            continue;
        }
        match kind.iter().find(|c| c.headers.contains(&key.as_str())) {
            None => {
                let known: Vec<&str> = kind.iter().map(|c| c.name).collect();
                p.error(
                    file,
                    header_line,
                    i as u64 + 1,
                    format!("unknown column {:?} (known columns: {})", cell.trim(), known.join(", ")),
                );
            }
            Some(c) => {
                if let Some(&(_, first)) = columns.iter().find(|(n, _)| *n == c.name) {
                    p.error(
                        file,
                        header_line,
                        i as u64 + 1,
                        format!("column {:?} given twice (column {} is already {})", cell.trim(), first + 1, c.name),
                    );
                } else {
                    columns.push((c.name, i));
                }
            }
        }
    }
    for c in kind.iter().filter(|c| c.required && !columns.iter().any(|(n, _)| *n == c.name)) {
        p.error(file, header_line, 0, format!("missing column {:?}", c.name));
    }

    let table = Table { file, columns };
    while let Some((line, offset)) = next(&mut record, p) {
        if broken.contains(&line) || record.iter().all(|f| f.trim().is_empty()) {
            continue; // unreadable (already reported) or blank (a spreadsheet's empty row)
        }
        let headerless = unnamed.iter().copied().chain(header.len()..record.len());
        for (i, v) in headerless.filter_map(|i| Some((i, record.get(i)?))) {
            if !v.trim().is_empty() {
                p.error(
                    file,
                    line,
                    i as u64 + 1,
                    format!("value {:?} in column {}, which has no header", v.trim(), i + 1),
                );
            }
        }
        each(&table, &Row { line, offset, fields: &record }, p);
    }
    let columns = table.columns;
    Some(Layout { text, delimiter, columns })
}

/// How a CSV file was read: enough to read one of its rows again.
pub(super) struct Layout<'b> {
    pub(super) text: std::borrow::Cow<'b, str>,
    pub(super) delimiter: u8,
    pub(super) columns: Vec<(&'static str, usize)>,
}
