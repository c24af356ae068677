//! CSV registers (SPEC.md 3.2, 3.5): one CSV file of consents, or a directory of CSV files that
//! may add `persons.csv`, `exemptions.csv` and `originators.csv`.
//!
//! Accepts what spreadsheets export: delimiter `,`, `;` or tab (detected from the header line),
//! UTF-8 with or without BOM (UTF-16 with BOM too), otherwise Windows-1252; English and German
//! headers; dates `YYYY-MM-DD` or `DD.MM.YYYY`. Every problem of every file is collected, each
//! with file, line and column; a register with an error is never returned.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use sha2::{Digest, Sha256};

use super::{Loaded, Options, Problem, RegisterErrors, Severity};
use crate::model::{
    name_key, Consent, Date, DeferredConsents, Evidence, ExemptReason, Exemption, Origin, Originator, Person, Register,
    Scope, UsageSets, Vocabulary,
};
use crate::people::{normalize_name, normalized_name};

/// Load a register that is one CSV file of consents (no reference checks); with
/// `check_documents`, look for every evidence document.
pub fn load_file(path: &Path, vocabulary: &Vocabulary, options: Options) -> Result<Loaded, RegisterErrors> {
    load_file_cached(path, vocabulary, options, None)
}

/// [`load_file`]; for evaluation ([`Options::defer`]) with the validated rows kept in
/// `cache` (a directory) for the next load of the same content.
pub fn load_file_cached(
    path: &Path,
    vocabulary: &Vocabulary,
    options: Options,
    cache: Option<&Path>,
) -> Result<Loaded, RegisterErrors> {
    let file = path.display().to_string();
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return Err(RegisterErrors(vec![error(&file, 0, 0, format!("cannot read the register: {e}"))])),
    };
    let digest = format!("{:x}", Sha256::digest(&bytes));
    let mut p = Problems::default();
    let cx = ConsentCx {
        vocabulary,
        doc_dir: path.parent().unwrap_or(Path::new("")),
        check_documents: options.check_documents,
        defer: options.defer.then_some(0),
        stem: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        persons: None,
        originators: None,
    };
    let cache = cache.filter(|_| options.defer).map(|dir| RowCache::new(dir, path, &digest, vocabulary));
    let mut st = ConsentState::default();
    let files = consent_files(vec![(file, cx.stem.clone(), bytes)], &cx, cache.as_ref(), &mut st, &mut p);
    let mut parts = Parts {
        st,
        files,
        defer: options.defer,
        doc_dir: cx.doc_dir.to_path_buf(),
        persons: Vec::new(),
        exemptions: Vec::new(),
        originators: None,
    };
    look_for_documents(&mut parts.st, &mut p);
    p.finish(|| parts.build(vocabulary, digest))
}

/// Load a directory register: every `*.csv` directly in `dir` holds consents, except
/// `persons.csv`, `exemptions.csv` and `originators.csv` (names compared case-insensitively).
/// Hidden files and Excel lock files (`~$...`) are skipped.
pub fn load_dir(dir: &Path, vocabulary: &Vocabulary, options: Options) -> Result<Loaded, RegisterErrors> {
    load_dir_cached(dir, vocabulary, options, None)
}

/// [`load_dir`], with [`load_file_cached`]'s cache.
pub fn load_dir_cached(
    dir: &Path,
    vocabulary: &Vocabulary,
    options: Options,
    cache: Option<&Path>,
) -> Result<Loaded, RegisterErrors> {
    let dir_name = dir.display().to_string();
    let mut p = Problems::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(RegisterErrors(vec![error(&dir_name, 0, 0, format!("cannot read the register: {e}"))])),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                p.error(&dir_name, 0, 0, format!("cannot list the register directory: {e}"));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_csv = Path::new(&name).extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if is_csv && !name.starts_with('.') && !name.starts_with("~$") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    if names.is_empty() && p.0.is_empty() {
        p.error(&dir_name, 0, 0, "the register directory holds no CSV file");
    }

    // Read every file; the digest covers each file's name and content, in name order.
    let mut hasher = Sha256::new();
    let mut files: Vec<(String, String, Vec<u8>)> = Vec::new(); // (name, display path, bytes)
    for name in names {
        let shown = dir.join(&name).display().to_string();
        match fs::read(dir.join(&name)) {
            Ok(bytes) => {
                hasher.update(name.as_bytes());
                hasher.update([0]);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(&bytes);
                files.push((name, shown, bytes));
            }
            Err(e) => p.error(&shown, 0, 0, format!("cannot read: {e}")),
        }
    }
    let digest = format!("{:x}", hasher.finalize());
    let special = |wanted: &str| files.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(wanted));

    let originators = special("originators.csv").map(|(_, f, b)| read_originators(f, b, &mut p));
    let persons = special("persons.csv").map(|(_, f, b)| read_persons(f, b, &mut p));
    let person_keys: Option<HashSet<String>> = persons
        .as_ref()
        .map(|ps| ps.iter().flat_map(|x| std::iter::once(&x.name).chain(&x.aliases)).map(|n| name_key(n)).collect());
    let exemptions = special("exemptions.csv")
        .map(|(_, f, b)| read_exemptions(f, b, person_keys.as_ref(), &mut p))
        .unwrap_or_default();

    let cx = ConsentCx {
        vocabulary,
        doc_dir: dir,
        check_documents: options.check_documents,
        defer: options.defer.then_some(0),
        stem: String::new(),
        persons: person_keys.as_ref(),
        originators: originators.as_deref(),
    };
    let consents: Vec<(String, String, Vec<u8>)> = files
        .into_iter()
        .filter(|(name, _, _)| {
            let lower = name.to_ascii_lowercase();
            lower != "persons.csv" && lower != "exemptions.csv" && lower != "originators.csv"
        })
        .map(|(name, shown, bytes)| {
            let stem = Path::new(&name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            (shown, stem, bytes)
        })
        .collect();
    let cache = cache.filter(|_| options.defer).map(|c| RowCache::new(c, dir, &digest, vocabulary));
    let mut st = ConsentState::default();
    let kept = consent_files(consents, &cx, cache.as_ref(), &mut st, &mut p);
    let mut parts = Parts {
        st,
        files: kept,
        defer: options.defer,
        doc_dir: dir.to_path_buf(),
        persons: persons.unwrap_or_default(),
        exemptions,
        originators,
    };
    look_for_documents(&mut parts.st, &mut p);
    p.finish(|| parts.build(vocabulary, digest))
}

// ---------------------------------------------------------------------------------------------
// Problems

fn error(file: &str, line: u64, column: u64, message: impl Into<String>) -> Problem {
    Problem { severity: Severity::Error, file: file.to_string(), line, column, message: message.into() }
}

/// Problems found so far, and how many of them are errors (counted, not recounted per row: a
/// register of 100,000 consents may carry as many warnings).
#[derive(Default)]
struct Problems(Vec<Problem>, usize);

impl Problems {
    fn error(&mut self, file: &str, line: u64, column: u64, message: impl Into<String>) {
        self.0.push(error(file, line, column, message));
        self.1 += 1;
    }

    fn warn(&mut self, file: &str, line: u64, column: u64, message: impl Into<String>) {
        let mut w = error(file, line, column, message);
        w.severity = Severity::Warning;
        self.0.push(w);
    }

    fn errors(&self) -> usize {
        self.1
    }

    /// All problems sorted by file, line, column: an error among them means no register.
    fn finish(mut self, build: impl FnOnce() -> Register) -> Result<Loaded, RegisterErrors> {
        self.0.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        if self.errors() > 0 {
            Err(RegisterErrors(self.0))
        } else {
            Ok(Loaded { register: build(), warnings: self.0 })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generic table reading: decoding, delimiter, quoting, headers

/// A column of a table kind: canonical name, accepted headers (lower case), whether required.
struct Col {
    name: &'static str,
    headers: &'static [&'static str],
    required: bool,
}

const fn col(name: &'static str, headers: &'static [&'static str], required: bool) -> Col {
    Col { name, headers, required }
}

const CONSENT_COLUMNS: &[Col] = &[
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

const PERSON_COLUMNS: &[Col] = &[
    col("id", &["id", "nr", "nr."], false),
    col("name", &["name"], true),
    col("aliases", &["aliases", "alias", "aliase"], false),
];

const EXEMPTION_COLUMNS: &[Col] = &[
    col("scope", &["scope", "geltungsbereich", "bilder"], true),
    col("person", &["person", "name", "betroffene person"], true),
    col("reason", &["reason", "grund", "begründung"], true),
    col("note", &["note", "notiz", "bemerkung", "kommentar", "comment"], false),
];

const ORIGINATOR_COLUMNS: &[Col] = &[col("id", &["id", "nr", "nr."], false), col("name", &["name", "urheber"], true)];

/// The known columns of one CSV file.
struct Table<'a> {
    file: &'a str,
    /// Canonical column name -> index into a row's fields (a dozen at most: a list is fastest).
    columns: Vec<(&'static str, usize)>,
}

/// One data row, borrowed from the reader's reused record.
struct Row<'r> {
    line: u64,
    /// Byte offset of the record in the decoded text.
    offset: usize,
    fields: &'r csv::StringRecord,
}

/// One field of a row: its 1-based column and trimmed value (empty when the row is short).
#[derive(Clone, Copy)]
struct Field<'r> {
    column: u64,
    value: &'r str,
}

impl Table<'_> {
    /// `None` when the file has no such column.
    fn get<'r>(&self, row: &Row<'r>, name: &str) -> Option<Field<'r>> {
        let &(_, i) = self.columns.iter().find(|(n, _)| *n == name)?;
        Some(Field { column: i as u64 + 1, value: row.fields.get(i).map_or("", |v| v.trim()) })
    }

    /// The trimmed value, `None` when the column is absent or the value empty.
    fn text(&self, row: &Row, name: &str) -> Option<String> {
        self.get(row, name).map(|f| f.value).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

/// Decode, split and check a CSV file against the columns of its kind, handing each data row
/// to `each` as it is read (a register of 100,000 rows is never held as strings). Problems with
/// the file's encoding, quoting or header go to `p`; rows that cannot be split reliably are
/// left out. Returns the decoded text, delimiter and columns; `None` when the file has no
/// usable header.
fn read_table<'b>(
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
struct Layout<'b> {
    text: std::borrow::Cow<'b, str>,
    delimiter: u8,
    columns: Vec<(&'static str, usize)>,
}

/// Bytes to text: a BOM decides (UTF-8, UTF-16); else UTF-8 when valid, otherwise Windows-1252.
/// A file that mixes UTF-8 and other bytes would come out with garbled names either way: error.
fn decode<'b>(file: &str, bytes: &'b [u8], p: &mut Problems) -> std::borrow::Cow<'b, str> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let body = &bytes[bom..];
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
            return text;
        }
        let line = match std::str::from_utf8(body) {
            Err(e) if encoding == encoding_rs::UTF_8 => line_of_byte(body, e.valid_up_to()),
            _ => 0,
        };
        p.error(
            file,
            line,
            0,
            format!("the file starts with a {} byte order mark but is not valid {0}", encoding.name()),
        );
        return encoding.decode_without_bom_handling(body).0;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(e) => {
            let utf8_too = bytes.utf8_chunks().any(|c| !c.valid().is_ascii());
            if utf8_too {
                p.error(
                    file,
                    line_of_byte(bytes, e.valid_up_to()),
                    0,
                    "the file mixes UTF-8 with another encoding (this line is not UTF-8, others are); \
                     save it again in one encoding",
                );
            }
            encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0
        }
    }
}

/// Whether a line ends at `bytes[i]`: `\n`, or `\r` not followed by `\n` (old Mac files).
fn is_line_break(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

fn line_of_byte(bytes: &[u8], offset: usize) -> u64 {
    1 + (0..offset.min(bytes.len())).filter(|&i| is_line_break(bytes, i)).count() as u64
}

/// Line numbers of byte offsets.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let b = text.as_bytes();
        LineIndex(memchr::memchr2_iter(b'\n', b'\r', b).filter(|&i| is_line_break(b, i)).collect())
    }

    /// The line a record starts on, given the reader's offset before it (which may still point
    /// at the line ends and blank lines the reader skips).
    fn record_line(&self, text: &str, offset: usize) -> u64 {
        self.0.partition_point(|&nl| nl < Self::start(text, offset)) as u64 + 1
    }

    /// [`Self::record_line`] for records read in order: `cursor` holds the number of line breaks
    /// before the previous record, so each call steps over a line or two.
    fn next_record_line(&self, text: &str, offset: usize, cursor: &mut usize) -> u64 {
        let start = Self::start(text, offset);
        if self.0.get(cursor.saturating_sub(1)).is_some_and(|&nl| nl >= start) {
            *cursor = 0; // not in order after all: search from the beginning
        }
        while self.0.get(*cursor).is_some_and(|&nl| nl < start) {
            *cursor += 1;
        }
        *cursor as u64 + 1
    }

    /// Where the record at `offset` starts, past the line ends the reader skips.
    fn start(text: &str, offset: usize) -> usize {
        offset
            + text
                .as_bytes()
                .get(offset..)
                .map_or(0, |rest| rest.iter().take_while(|&&b| b == b'\r' || b == b'\n').count())
    }
}

/// `,`, `;` or tab, whichever occurs most often outside quotes in the header line
/// (ties in that order; `,` when none occurs).
fn detect_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.trim_start_matches(['\r', '\n']).bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    candidates[best]
}

/// The csv crate reads malformed quoting without complaint (an unclosed quote swallows the rest
/// of the file; text after a closing quote is appended). Find both, the way it splits records,
/// report them and return the lines of the records that are not to be trusted.
fn check_quoting(file: &str, text: &str, delimiter: u8, lines: &LineIndex, p: &mut Problems) -> HashSet<u64> {
    if quoting_is_clean(text.as_bytes(), delimiter) {
        return HashSet::new();
    }
    walk_quoting(file, text, delimiter, lines, p)
}

/// [`check_quoting`] field by field.
fn walk_quoting(file: &str, text: &str, delimiter: u8, lines: &LineIndex, p: &mut Problems) -> HashSet<u64> {
    #[derive(PartialEq)]
    enum St {
        RecordStart,
        FieldStart,
        Unquoted,
        Quoted,
        AfterQuote,
    }
    let bytes = text.as_bytes();
    let mut broken = HashSet::new();
    let (mut state, mut record_start, mut column) = (St::RecordStart, 0usize, 1u64);
    let mut i = 0;
    while i < bytes.len() {
        // Inside a field only its end matters: skip to it.
        let skip = match state {
            St::Unquoted => memchr::memchr3(delimiter, b'\n', b'\r', &bytes[i..]),
            St::Quoted => memchr::memchr(b'"', &bytes[i..]),
            _ => Some(0),
        };
        let Some(skip) = skip else { break };
        i += skip;
        let b = bytes[i];
        let newline = b == b'\r' || b == b'\n';
        match state {
            St::RecordStart if !newline => {
                (state, record_start, column) = (St::FieldStart, i, 1);
                continue; // read this byte as the record's first
            }
            St::RecordStart => {}
            St::FieldStart | St::Unquoted | St::AfterQuote if b == delimiter => {
                column += 1;
                state = St::FieldStart;
            }
            St::FieldStart | St::Unquoted | St::AfterQuote if newline => state = St::RecordStart,
            St::FieldStart if b == b'"' => state = St::Quoted,
            St::FieldStart => state = St::Unquoted,
            St::Unquoted => {}
            St::Quoted if b == b'"' => state = St::AfterQuote,
            St::Quoted => {}
            St::AfterQuote if b == b'"' => state = St::Quoted, // "" inside quotes
            St::AfterQuote => {
                let line = lines.record_line(text, record_start);
                p.error(
                    file,
                    line,
                    column,
                    "text after the closing quote of a quoted field (a quote inside a quoted field is written \"\")",
                );
                broken.insert(line);
                state = St::Unquoted;
            }
        }
        i += 1;
    }
    if state == St::Quoted {
        let line = lines.record_line(text, record_start);
        p.error(
            file,
            line,
            column,
            "a quote opened in this field is never closed (the rest of the file would be read into it)",
        );
        broken.insert(line);
    }
    broken
}

/// Whether every quoted field of `bytes` is closed and ends at its closing quote: the common
/// case, found by jumping from quote to quote. Only a file where this fails is walked field by
/// field to place its problems.
fn quoting_is_clean(bytes: &[u8], delimiter: u8) -> bool {
    let mut i = 0;
    while let Some(q) = memchr::memchr(b'"', &bytes[i..]) {
        let open = i + q;
        // A quote opens a field only at the field's start; elsewhere it is a literal character.
        let at_start = open == 0 || matches!(bytes[open - 1], b'\n' | b'\r') || bytes[open - 1] == delimiter;
        if !at_start {
            i = open + 1;
            continue;
        }
        // The closing quote: the first one not doubled.
        let mut j = open + 1;
        loop {
            let Some(q) = memchr::memchr(b'"', &bytes[j..]) else { return false };
            j += q + 1;
            if bytes.get(j) != Some(&b'"') {
                break;
            }
            j += 1;
        }
        match bytes.get(j) {
            None | Some(b'\n' | b'\r') => {}
            Some(&b) if b == delimiter => {}
            Some(_) => return false,
        }
        i = j;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Values

/// The names of a person field: one, or a group separated by `|`.
fn parse_names(value: &str) -> Result<Vec<Cow<'_, str>>, String> {
    if value.trim().is_empty() {
        return Err("empty person: every consent needs the name of the person who gave it".to_string());
    }
    let names: Vec<Cow<str>> = value.split('|').map(normalized_name).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!("empty name in the group {value:?}"));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = names.iter().skip_while(|_| names.len() == 1).find(|n| !seen.insert(name_key(n))) {
        return Err(format!("{twice:?} is named twice in the group {value:?}"));
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// Consents

struct ConsentCx<'a> {
    vocabulary: &'a Vocabulary,
    /// Evidence document paths are relative to this directory.
    doc_dir: &'a Path,
    /// Whether to look for the evidence documents (`register check`, reports that show them).
    check_documents: bool,
    /// Validate only, and keep where each valid row is (for [`CsvRows`]) instead of building
    /// its consents; the index of the file among the register's consent files.
    defer: Option<u32>,
    /// File stem, for the ids of rows without one (`stem:line`).
    stem: String,
    /// Directory form with persons.csv: every name key (names and aliases).
    persons: Option<&'a HashSet<String>>,
    /// Directory form with originators.csv.
    originators: Option<&'a [Originator]>,
}

/// Consent ids seen so far across the files of a register, with where each was first used:
/// one text arena and a table of indices, not 100,000 small strings.
#[derive(Default)]
struct Ids {
    text: String,
    /// (start, length, file, line) of each id.
    entries: Vec<(u32, u32, u32, u32)>,
    files: Vec<Arc<str>>,
    table: hashbrown::HashTable<u32>,
}

impl Ids {
    /// Record `id` as used on `file:line`; where it was used before, if it was.
    fn claim(&mut self, id: &str, file: &Arc<str>, line: u64) -> Option<(Arc<str>, u64)> {
        let (text, entries) = (&self.text, &self.entries);
        let get = |i: u32| {
            let (start, len, _, _) = entries[i as usize];
            &text[start as usize..(start + len) as usize]
        };
        let vacant = match self.table.entry(key_hash(id), |&i| get(i) == id, |&i| key_hash(get(i))) {
            hashbrown::hash_table::Entry::Occupied(o) => {
                let (_, _, file, line) = self.entries[*o.get() as usize];
                return Some((self.files[file as usize].clone(), line.into()));
            }
            hashbrown::hash_table::Entry::Vacant(v) => v,
        };
        let entry = self.entries.len() as u32;
        vacant.insert(entry);
        if !self.files.last().is_some_and(|f| Arc::ptr_eq(f, file)) {
            self.files.push(file.clone());
        }
        let start = self.text.len() as u32;
        self.text.push_str(id);
        self.entries.push((start, id.len() as u32, self.files.len() as u32 - 1, line.min(u32::MAX.into()) as u32));
        None
    }

    fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
        let (text, entries) = (&self.text, &self.entries);
        self.table.reserve(n, |&i| {
            let (start, len, _, _) = entries[i as usize];
            key_hash(&text[start as usize..(start + len) as usize])
        });
    }

    fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
        self.files.clear();
        self.table.clear();
    }
}

/// State shared by the rows of a register's consent files.
#[derive(Default)]
struct ConsentState {
    ids: Ids,
    usage_sets: UsageSets,
    /// Reused buffer of vocabulary indices.
    usage_buf: Vec<usize>,
    /// Usage field text -> its valid vocabulary indices.
    usage_seen: FxHashMap<String, Vec<usize>>,
    out: Vec<Consent>,
    /// Deferred mode: the valid rows, and (hash of a person's name key, row) pairs.
    rows: Vec<RowRef>,
    index: Vec<(u64, u32)>,
    /// Evidence documents to look for, relative to `doc_dir` (the same for every file of a
    /// register).
    documents: Vec<DocumentUse>,
    doc_dir: std::path::PathBuf,
}

/// A row's evidence document and the consents it backs.
struct DocumentUse {
    consents: std::ops::Range<usize>,
    file: Arc<str>,
    line: u64,
    column: u64,
    path: String,
}

/// Look for the evidence documents of the rows read (each distinct file once, in parallel: a
/// register of 100,000 consents names as many documents), mark the consents and warn about
/// missing or unreadable ones.
fn look_for_documents(st: &mut ConsentState, p: &mut Problems) {
    let mut distinct: Vec<&str> = st.documents.iter().map(|d| d.path.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let found = super::document_problems(&st.doc_dir, &distinct, |_| false);
    for d in &st.documents {
        let problem = &found[d.path.as_str()];
        let evidence = if problem.is_some() { Evidence::Missing } else { Evidence::Present };
        for c in &mut st.out[d.consents.clone()] {
            c.evidence = evidence;
        }
        if let Some(problem) = problem {
            p.warn(&d.file, d.line, d.column, problem.clone());
        }
    }
}

/// A valid consent row of a CSV register, to be read again when its persons are met.
#[derive(Debug, Clone, Copy)]
struct RowRef {
    file: u32,
    line: u64,
    offset: usize,
}

fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The index hash of a name key.
fn hash_key(key: &str) -> u64 {
    if key.is_ascii() {
        ascii_lower_hash(key)
    } else {
        key_hash(key)
    }
}

/// `hash_key(&name_key(n))` of a normalised name, without building the key for the common
/// printable-ASCII name.
fn normal_name_hash(n: &str) -> u64 {
    if n.is_ascii() {
        ascii_lower_hash(n)
    } else {
        hash_key(&name_key(n))
    }
}

/// The hash of the ASCII lower case of `s`.
fn ascii_lower_hash(s: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    let mut buf = [0u8; 64];
    for chunk in s.as_bytes().chunks(64) {
        let lower = &mut buf[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        h.write(lower);
    }
    h.finish()
}

/// The consents of a CSV register, validated but built only per person on demand.
#[derive(Debug)]
struct CsvRows {
    files: Vec<CsvFile>,
    rows: Vec<RowRef>,
    /// (hash of name key, index into `rows`), sorted.
    index: Vec<(u64, u32)>,
    vocabulary: Vocabulary,
    doc_dir: std::path::PathBuf,
    /// Directory form with originators.csv.
    originators: Option<Vec<Originator>>,
}

#[derive(Debug)]
struct CsvFile {
    name: Arc<str>,
    stem: String,
    /// The decoded text (valid UTF-8) from byte `start` on (after a byte order mark).
    text: Vec<u8>,
    start: usize,
    delimiter: u8,
    columns: Vec<(&'static str, usize)>,
}

impl DeferredConsents for CsvRows {
    fn consents_of_key(&self, key: &str) -> Vec<(u64, Consent)> {
        let h = hash_key(key);
        let from = self.index.partition_point(|&(x, _)| x < h);
        let mut rows: Vec<u32> = self.index[from..].iter().take_while(|&&(x, _)| x == h).map(|&(_, r)| r).collect();
        rows.sort_unstable();
        rows.dedup();
        let mut st = ConsentState::default();
        let mut out = Vec::new();
        for r in rows {
            let at = self.rows[r as usize];
            let f = &self.files[at.file as usize];
            let cx = ConsentCx {
                vocabulary: &self.vocabulary,
                doc_dir: &self.doc_dir,
                check_documents: false,
                defer: None,
                stem: f.stem.clone(),
                persons: None,
                originators: self.originators.as_deref(),
            };
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(f.delimiter)
                .flexible(true)
                .has_headers(false)
                .from_reader(&f.text[f.start + at.offset..]);
            let mut record = csv::StringRecord::new();
            if !matches!(reader.read_record(&mut record), Ok(true)) {
                continue; // cannot happen: the row was read at load time
            }
            let table = Table { file: &f.name, columns: f.columns.clone() };
            let row = Row { line: at.line, offset: at.offset, fields: &record };
            // Ids are unique (checked at load time): a fresh id table for each row.
            st.ids.clear();
            consent_row(&table, &row, &cx, &f.name, &mut st, &mut Problems::default());
            // The n-th person of a group row comes n places after the row in register order.
            for (n, c) in st.out.drain(..).enumerate() {
                if name_key(&c.person) == key {
                    out.push(((r as u64) << 16 | n as u64, c));
                }
            }
        }
        out
    }
}

/// How a file's decoded text is kept for reading its rows again: from byte `start` of the
/// file's own bytes when the text is them (UTF-8, the usual case: a register is not copied),
/// else the decoded text.
fn kept_text(text: Cow<'_, str>, bytes: &[u8]) -> (usize, Option<Vec<u8>>) {
    match text {
        Cow::Borrowed(text) => (text.as_ptr() as usize - bytes.as_ptr() as usize, None),
        Cow::Owned(text) => (0, Some(text.into_bytes())),
    }
}

/// Read the consent files of a register, `(shown name, id stem, bytes)` each, into `st`; in
/// deferred mode return what reading their rows again needs. With a `cache` holding this
/// content's validated rows, those are taken instead of validating every row again; after a
/// load without errors the cache is written.
fn consent_files(
    files: Vec<(String, String, Vec<u8>)>,
    cx: &ConsentCx,
    cache: Option<&RowCache>,
    st: &mut ConsentState,
    p: &mut Problems,
) -> Vec<CsvFile> {
    if let Some(hit) = cache.and_then(|c| c.read(files.len())) {
        return hit.restore(files, st, p);
    }
    let problems_before = p.0.len();
    let mut kept = Vec::new();
    for (shown, stem, bytes) in files {
        let file_cx = ConsentCx {
            vocabulary: cx.vocabulary,
            doc_dir: cx.doc_dir,
            check_documents: cx.check_documents,
            defer: cx.defer.map(|_| kept.len() as u32),
            stem,
            persons: cx.persons,
            originators: cx.originators,
        };
        kept.extend(read_consents(&shown, bytes, &file_cx, st, p));
    }
    if let Some(cache) = cache.filter(|_| p.errors() == 0) {
        cache.write(&kept, st, &p.0[problems_before..]);
    }
    kept
}

/// Read a file of consents into `st`; in deferred mode, return what reading its rows again
/// needs.
fn read_consents(
    file: &str,
    bytes: Vec<u8>,
    cx: &ConsentCx,
    st: &mut ConsentState,
    p: &mut Problems,
) -> Option<CsvFile> {
    let shared: Arc<str> = Arc::from(file);
    st.doc_dir = cx.doc_dir.to_path_buf();
    // Room for one consent per line (more only for group rows): a register of 100,000 consents
    // is not copied while it grows.
    let lines = memchr::memchr_iter(b'\n', &bytes).count() + 1;
    if cx.defer.is_some() {
        st.rows.reserve(lines);
        st.index.reserve(lines);
    } else {
        st.out.reserve(lines);
    }
    st.ids.reserve(lines);
    let layout = read_table(file, &bytes, CONSENT_COLUMNS, p, |t, row, p| consent_row(t, row, cx, &shared, st, p))?;
    cx.defer?;
    let Layout { text, delimiter, columns } = layout;
    let (start, decoded) = kept_text(text, &bytes);
    Some(CsvFile { name: shared, stem: cx.stem.clone(), text: decoded.unwrap_or(bytes), start, delimiter, columns })
}

/// The validated rows of a register's consent files, kept between loads of the same content
/// (`~/.cache/consentry/register-*.cache`): for evaluation, a register of 100,000
/// consents is otherwise parsed and checked row by row on every run. The cache is looked up by
/// the register's content digest, consentry's version and the usage vocabulary, so it can only
/// stand for a load that would give the same rows and warnings; a damaged or foreign file is
/// ignored and replaced. It holds positions and name hashes, no names.
struct RowCache {
    path: std::path::PathBuf,
    key: [u8; 32],
}

/// What a cache file holds.
struct CachedRows {
    /// Per consent file: delimiter and columns (the text is read from the file again).
    files: Vec<(u8, Vec<(&'static str, usize)>)>,
    rows: Vec<RowRef>,
    index: Vec<(u64, u32)>,
    /// Warnings of the consent files: (file index, line, column, message).
    warnings: Vec<(u32, u64, u64, String)>,
}

const CACHE_MAGIC: &[u8] = b"consentry register rows 1\n";

impl RowCache {
    fn new(dir: &Path, register: &Path, digest: &str, vocabulary: &Vocabulary) -> RowCache {
        let name = Sha256::digest(register.as_os_str().as_encoded_bytes());
        let path = dir.join(format!("register-{}.cache", super::digest::hex(&name[..8])));
        let mut key = Sha256::new();
        key.update(env!("CARGO_PKG_VERSION"));
        key.update(format!("{:?}", vocabulary.terms()));
        key.update(digest);
        RowCache { path, key: key.finalize().into() }
    }

    /// The cached rows of exactly these files, if the cache holds them.
    fn read(&self, files: usize) -> Option<CachedRows> {
        let bytes = fs::read(&self.path).ok()?;
        let body = bytes.strip_prefix(CACHE_MAGIC)?;
        let (body, sum) = body.split_at_checked(body.len().checked_sub(32)?)?;
        if Sha256::digest(body)[..] != *sum {
            return None;
        }
        let mut r = Reader(body);
        if r.take(32)? != self.key {
            return None;
        }
        let n = r.u64()? as usize;
        if n != files {
            return None;
        }
        let mut cached = CachedRows { files: Vec::new(), rows: Vec::new(), index: Vec::new(), warnings: Vec::new() };
        for _ in 0..n {
            let delimiter = r.take(1)?[0];
            let mut columns = Vec::new();
            for _ in 0..r.u64()? {
                let name = r.text()?;
                let col = CONSENT_COLUMNS.iter().find(|c| c.name == name)?;
                columns.push((col.name, r.u64()? as usize));
            }
            cached.files.push((delimiter, columns));
        }
        for _ in 0..r.u64()? {
            let row = RowRef { file: r.u64()? as u32, line: r.u64()?, offset: r.u64()? as usize };
            if row.file as usize >= n {
                return None;
            }
            cached.rows.push(row);
        }
        for _ in 0..r.u64()? {
            let entry = (r.u64()?, r.u64()? as u32);
            if entry.1 as usize >= cached.rows.len() {
                return None;
            }
            cached.index.push(entry);
        }
        for _ in 0..r.u64()? {
            cached.warnings.push((r.u64()? as u32, r.u64()?, r.u64()?, r.text()?.to_string()));
        }
        r.0.is_empty().then_some(cached)
    }

    /// Keep what a load without errors found (a cache that cannot be written is no error).
    fn write(&self, files: &[CsvFile], st: &ConsentState, warnings: &[Problem]) {
        let mut w = Vec::with_capacity(64 + st.rows.len() * 24 + st.index.len() * 16);
        let put = |w: &mut Vec<u8>, v: u64| w.extend(v.to_le_bytes());
        let text = |w: &mut Vec<u8>, t: &str| {
            w.extend((t.len() as u64).to_le_bytes());
            w.extend(t.as_bytes());
        };
        w.extend(self.key);
        put(&mut w, files.len() as u64);
        for f in files {
            w.push(f.delimiter);
            put(&mut w, f.columns.len() as u64);
            for (name, i) in &f.columns {
                text(&mut w, name);
                put(&mut w, *i as u64);
            }
        }
        put(&mut w, st.rows.len() as u64);
        for r in &st.rows {
            for v in [u64::from(r.file), r.line, r.offset as u64] {
                put(&mut w, v);
            }
        }
        put(&mut w, st.index.len() as u64);
        for &(h, r) in &st.index {
            put(&mut w, h);
            put(&mut w, u64::from(r));
        }
        put(&mut w, warnings.len() as u64);
        for p in warnings {
            // Every warning of a consent file names that file; anything else is not kept.
            let Some(i) = files.iter().position(|f| *f.name == *p.file) else { return };
            for v in [i as u64, p.line, p.column] {
                put(&mut w, v);
            }
            text(&mut w, &p.message);
        }
        let sum = Sha256::digest(&w);
        let Some(dir) = self.path.parent() else { return };
        let Ok(mut tmp) = tempfile::Builder::new().prefix(".register-").tempfile_in(dir) else { return };
        use std::io::Write as _;
        let written = tmp.write_all(CACHE_MAGIC).and_then(|()| tmp.write_all(&w)).and_then(|()| tmp.write_all(&sum));
        if written.is_ok() {
            let _ = tmp.persist(&self.path);
        }
    }
}

impl CachedRows {
    /// The consent files as a load would have kept them, and their rows and warnings.
    fn restore(self, files: Vec<(String, String, Vec<u8>)>, st: &mut ConsentState, p: &mut Problems) -> Vec<CsvFile> {
        let names: Vec<String> = files.iter().map(|(shown, _, _)| shown.clone()).collect();
        for (file, line, column, message) in self.warnings {
            p.warn(&names[file as usize], line, column, message);
        }
        st.rows = self.rows;
        st.index = self.index;
        files
            .into_iter()
            .zip(self.files)
            .map(|((shown, stem, bytes), (delimiter, columns))| {
                // Decoded as the load did (the digest says the bytes are the same).
                let (start, decoded) = kept_text(decode(&shown, &bytes, &mut Problems::default()), &bytes);
                let text = decoded.unwrap_or(bytes);
                CsvFile { name: Arc::from(shown), stem, text, start, delimiter, columns }
            })
            .collect()
    }
}

/// Reads a cache file's fields; `None` past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

/// The register from what the files gave: built, or deferred when `files` were kept.
struct Parts {
    st: ConsentState,
    files: Vec<CsvFile>,
    defer: bool,
    doc_dir: std::path::PathBuf,
    persons: Vec<Person>,
    exemptions: Vec<Exemption>,
    originators: Option<Vec<Originator>>,
}

impl Parts {
    fn build(self, vocabulary: &Vocabulary, digest: String) -> Register {
        let Parts { mut st, files, defer, doc_dir, persons, exemptions, originators } = self;
        if !defer {
            return Register::new(
                st.out,
                persons,
                exemptions,
                originators.unwrap_or_default(),
                vocabulary.clone(),
                digest,
            );
        }
        st.index.sort_unstable();
        let rows = CsvRows {
            files,
            rows: st.rows,
            index: st.index,
            vocabulary: vocabulary.clone(),
            doc_dir,
            originators: originators.clone(),
        };
        Register::deferred(
            Arc::new(rows),
            persons,
            exemptions,
            originators.unwrap_or_default(),
            vocabulary.clone(),
            digest,
        )
    }
}

fn consent_row(t: &Table, row: &Row, cx: &ConsentCx, shared: &Arc<str>, st: &mut ConsentState, p: &mut Problems) {
    let (file, line) = (t.file, row.line);
    let errors_before = p.errors();

    let names = t.get(row, "person").and_then(|f| {
        let names = parse_names(f.value).map_err(|m| p.error(file, line, f.column, m)).ok()?;
        for name in &names {
            if cx.persons.is_some_and(|known| !known.contains(&name_key(name))) {
                p.error(file, line, f.column, format!("unknown person {name:?} (not a name or alias in persons.csv)"));
            }
        }
        Some(names)
    });

    let usage = t.get(row, "usage").and_then(|f| {
        // Registers repeat a handful of usage lists: each is resolved once.
        if let Some(known) = st.usage_seen.get(f.value) {
            st.usage_buf.clone_from(known);
            return Some(());
        }
        st.usage_buf.clear();
        let mut ok = true;
        for word in f.value.split([',', '|']).map(str::trim).filter(|w| !w.is_empty()) {
            match cx.vocabulary.index_of(word) {
                Some(i) => st.usage_buf.push(i),
                None => {
                    ok = false;
                    let known: Vec<&str> = cx.vocabulary.names().collect();
                    p.error(file, line, f.column, format!("unknown usage word {word:?} (known: {})", known.join(", ")));
                }
            }
        }
        if ok && st.usage_buf.is_empty() {
            p.error(file, line, f.column, "no usage: a consent must name what it allows (print, web, ...)");
            ok = false;
        }
        if ok && st.usage_seen.len() < 10_000 {
            st.usage_seen.insert(f.value.to_string(), st.usage_buf.clone());
        }
        Some(()).filter(|_| ok)
    });

    let mut date = |name: &str, optional: bool| -> Option<(Field, Option<Date>)> {
        let f = t.get(row, name)?;
        let v = f.value;
        if v.is_empty()
            || (name == "expires" && (v.eq_ignore_ascii_case("unbegrenzt") || v.eq_ignore_ascii_case("unlimited")))
        {
            if !optional {
                p.error(file, line, f.column, "no grant date");
                return None;
            }
            return Some((f, None));
        }
        match crate::model::parse_date(v) {
            Ok(d) => Some((f, Some(d))),
            Err(m) => {
                p.error(file, line, f.column, m);
                None
            }
        }
    };
    let granted = date("granted", false);
    let expires = date("expires", true);
    let revoked = date("revoked", true);
    if let Some((_, Some(g))) = granted {
        if let Some((f, Some(e))) = expires {
            if e < g {
                p.error(file, line, f.column, format!("expires {e} before it was granted ({g})"));
            }
        }
        if let Some((f, Some(r))) = revoked {
            if r < g {
                p.error(file, line, f.column, format!("revoked {r} before it was granted ({g})"));
            }
        }
    }

    let scope = match t.get(row, "scope") {
        None => Some(Scope::All),
        Some(f) => Scope::parse(f.value).map_err(|m| p.error(file, line, f.column, m)).ok(),
    };

    let originator = match (t.get(row, "originator"), cx.originators) {
        (Some(f), Some(known)) if !f.value.is_empty() => {
            let found = known
                .iter()
                .find(|o| o.id.eq_ignore_ascii_case(f.value) || name_key(&o.name) == name_key(f.value))
                .map(|o| o.name.clone());
            if found.is_none() {
                p.error(file, line, f.column, format!("unknown originator {:?} (not in originators.csv)", f.value));
            }
            found
        }
        _ => t.text(row, "originator"),
    };

    let document_field = t.get(row, "document").filter(|f| !f.value.is_empty());
    let evidence = match (document_field, t.get(row, "document")) {
        // Looked for once all rows are read, in parallel (`look_for_documents`).
        (Some(_), _) => Evidence::Unchecked,
        (None, f) => {
            p.warn(file, line, f.map_or(0, |f| f.column), "no evidence document");
            Evidence::Missing
        }
    };

    // Ids: `ID` for one person, `ID.n` for the n-th of a group; `stem:line` when none is given.
    let id_field = t.get(row, "id").filter(|f| !f.value.is_empty());
    let base: Cow<str> = id_field.map_or_else(|| Cow::Owned(format!("{}:{line}", cx.stem)), |f| Cow::Borrowed(f.value));
    let group = names.as_ref().map_or(0, |n| if n.len() > 1 { n.len() } else { 0 });
    let members: Vec<String> = (1..=group).map(|i| format!("{base}.{i}")).collect();
    let claimed = std::iter::once(&*base).chain(members.iter().map(String::as_str));
    let mut duplicate = None;
    for id in claimed {
        if let Some(first) = st.ids.claim(id, shared, line) {
            duplicate = duplicate.or(Some((id, first)));
        }
    }
    if let Some((id, (f, l))) = duplicate {
        p.error(file, line, id_field.map_or(0, |f| f.column), format!("duplicate id {id:?}: already used on {f}:{l}"));
    }

    if p.errors() > errors_before {
        return;
    }
    let (Some(names), Some(()), Some((_, Some(granted))), Some(scope)) = (names, usage, granted, scope) else {
        return; // a required column is missing: reported with the header
    };
    if let Some(file_index) = cx.defer {
        let r = st.rows.len() as u32;
        st.rows.push(RowRef { file: file_index, line, offset: row.offset });
        st.index.extend(names.iter().map(|n| (normal_name_hash(n), r)));
        return;
    }
    let usage = cx.vocabulary.usage_set(&mut st.usage_buf, &mut st.usage_sets);
    let document = document_field.map(|f| f.value.to_string());
    let (comment, copyright) = (t.text(row, "comment"), t.text(row, "copyright"));
    if let (true, Some(doc)) = (cx.check_documents, document_field) {
        st.documents.push(DocumentUse {
            consents: st.out.len()..st.out.len() + names.len(),
            file: shared.clone(),
            line,
            column: doc.column,
            path: doc.value.to_string(),
        });
    }
    let consent_ids = if members.is_empty() { vec![base.into_owned()] } else { members };
    for (name, id) in names.into_iter().zip(consent_ids) {
        st.out.push(Consent {
            id,
            person: name.into_owned(),
            usage: usage.clone(),
            granted,
            expires: expires.and_then(|(_, d)| d),
            revoked: revoked.and_then(|(_, d)| d),
            document: document.clone(),
            originator: originator.clone(),
            scope: scope.clone(),
            comment: comment.clone(),
            copyright: copyright.clone(),
            origin: Origin { file: shared.clone(), line },
            evidence,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// persons.csv, exemptions.csv, originators.csv

fn read_persons(file: &str, bytes: &[u8], p: &mut Problems) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut names: HashMap<String, u64> = HashMap::new(); // name key -> line
    read_table(file, bytes, PERSON_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let id = t.text(row, "id");
        if let (Some(id), Some(f)) = (&id, t.get(row, "id")) {
            if let Some(first) = ids.insert(id.clone(), line) {
                p.error(file, line, f.column, format!("duplicate person id {id:?}: already used on line {first}"));
            }
        }
        let Some(name_field) = t.get(row, "name") else { return };
        let name = normalize_name(name_field.value);
        if name.is_empty() {
            p.error(file, line, name_field.column, "empty name");
            return;
        }
        let alias_field = t.get(row, "aliases");
        let aliases: Vec<String> = alias_field
            .map(|f| {
                f.value
                    .split('|')
                    .map(normalize_name)
                    .filter(|a| !a.is_empty() && name_key(a) != name_key(&name))
                    .collect()
            })
            .unwrap_or_default();
        let mut own = HashSet::new();
        for (n, column) in std::iter::once((&name, name_field.column))
            .chain(aliases.iter().map(|a| (a, alias_field.map_or(0, |f| f.column))))
        {
            let key = name_key(n);
            if !own.insert(key.clone()) {
                return;
            }
            if let Some(first) = names.insert(key, line) {
                p.error(file, line, column, format!("the name {n:?} already belongs to the person on line {first}"));
            }
        }
        out.push(Person { id, name, aliases });
    });
    out
}

fn read_exemptions(file: &str, bytes: &[u8], persons: Option<&HashSet<String>>, p: &mut Problems) -> Vec<Exemption> {
    let mut out = Vec::new();
    read_table(file, bytes, EXEMPTION_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let errors_before = p.errors();
        let scope = t.get(row, "scope").and_then(|f| {
            if f.value.is_empty() {
                p.error(file, line, f.column, "empty scope (write * for every file)");
                return None;
            }
            Scope::parse(f.value).map_err(|m| p.error(file, line, f.column, m)).ok()
        });
        let person = t.get(row, "person").and_then(|f| match f.value {
            "" => {
                p.error(file, line, f.column, "empty person (write * for everyone depicted)");
                None
            }
            "*" => Some(None),
            v => {
                let name = normalize_name(v);
                if persons.is_some_and(|known| !known.contains(&name_key(&name))) {
                    p.error(
                        file,
                        line,
                        f.column,
                        format!("unknown person {name:?} (not a name or alias in persons.csv)"),
                    );
                }
                Some(Some(name))
            }
        });
        let reason = t.get(row, "reason").and_then(|f| {
            let reason = ExemptReason::parse(f.value);
            if f.value.is_empty() {
                p.error(file, line, f.column, "empty reason");
            } else if reason.is_none() {
                p.error(
                    file,
                    line,
                    f.column,
                    format!(
                        "unknown exemption reason {:?} (known: not-recognisable, prominent, public-event, other)",
                        f.value
                    ),
                );
            }
            reason
        });
        if p.errors() > errors_before {
            return;
        }
        if let (Some(scope), Some(person), Some(reason)) = (scope, person, reason) {
            out.push(Exemption {
                scope,
                person,
                reason,
                note: t.text(row, "note"),
                origin: Origin { file: Arc::from(file), line },
            });
        }
    });
    out
}

fn read_originators(file: &str, bytes: &[u8], p: &mut Problems) -> Vec<Originator> {
    let mut out: Vec<Originator> = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    read_table(file, bytes, ORIGINATOR_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let Some(name_field) = t.get(row, "name") else { return };
        if name_field.value.is_empty() {
            p.error(file, line, name_field.column, "empty name");
            return;
        }
        let name = normalize_name(name_field.value);
        // Without an id the name is the id.
        let id = t.text(row, "id").unwrap_or_else(|| name.clone());
        if let Some(first) = ids.insert(id.to_lowercase(), line) {
            let column = t.get(row, "id").map_or(name_field.column, |f| f.column);
            p.error(file, line, column, format!("duplicate originator id {id:?}: already used on line {first}"));
        }
        out.push(Originator { id, name });
    });
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn load(path: &Path) -> Result<Loaded, RegisterErrors> {
        if path.is_dir() {
            load_dir(path, &Vocabulary::default(), Options::FULL)
        } else {
            load_file(path, &Vocabulary::default(), Options::FULL)
        }
    }

    fn loaded(path: &Path) -> Loaded {
        match load(path) {
            Ok(l) => l,
            Err(e) => panic!("expected a register, got {e}"),
        }
    }

    /// The errors (not warnings) of a register that must fail.
    fn errors(path: &Path) -> Vec<Problem> {
        match load(path) {
            Ok(_) => panic!("expected errors"),
            Err(RegisterErrors(all)) => all.into_iter().filter(|p| p.severity == Severity::Error).collect(),
        }
    }

    /// Asserts exactly one error, at `file`, `line`, `column`, whose message contains `text`.
    fn one_error(path: &Path, file: &Path, line: u64, column: u64, text: &str) -> Problem {
        let errs = errors(path);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let e = errs.into_iter().next().unwrap();
        assert_eq!((e.file.as_str(), e.line, e.column), (file.display().to_string().as_str(), line, column), "{e}");
        assert!(e.message.contains(text), "{e}");
        e
    }

    fn date(y: i32, m: u32, d: u32) -> Date {
        Date::from_ymd_opt(y, m, d).unwrap()
    }

    fn ids(l: &Loaded) -> Vec<&str> {
        l.register.consents.iter().map(|c| c.id.as_str()).collect()
    }

    const HEADER: &str = "id,person,usage,granted,expires,document\n";

    /// A register with `rows` (after the header) and a document `a.pdf` next to it.
    fn file_with(dir: &Path, rows: &str) -> PathBuf {
        write(dir, "a.pdf", "%PDF-1.4");
        write(dir, "reg.csv", format!("{HEADER}{rows}"))
    }

    #[test]
    fn semicolon_german_headers_and_dotted_dates() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "anna.pdf", "%PDF-1.4");
        let path = write(
            dir.path(),
            "einwilligungen.csv",
            "Nr;Betroffene Person;Einsatzgebiete;Erteilt;Gültig bis;Dokument;Urheber;Geltungsbereich;Bemerkung;Copyright;Widerruf\n\
             7;  Anna   Schmidt ;Druck, Internet|Social Media;01.03.2024;31.12.2026;anna.pdf;Studio Nord;2024/**|fest/*.jpg;Sommerfest;© Verein;\n\
             8;Bernd Meier;Presse;2.4.2024;unbegrenzt;anna.pdf;;;;;1.6.2024\n",
        );
        let l = loaded(&path);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let c = &l.register.consents;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].id, "7");
        assert_eq!(c[0].person, "Anna Schmidt");
        assert_eq!(*c[0].usage, ["print", "social", "web"].iter().map(|s| s.to_string()).collect());
        assert_eq!((c[0].granted, c[0].expires, c[0].revoked), (date(2024, 3, 1), Some(date(2026, 12, 31)), None));
        assert_eq!(c[0].document.as_deref(), Some("anna.pdf"));
        assert_eq!(c[0].originator.as_deref(), Some("Studio Nord"));
        assert_eq!(c[0].scope.patterns(), ["2024/**", "fest/*.jpg"]);
        assert!(c[0].scope.matches(Some("2024/a/b.jpg")) && !c[0].scope.matches(Some("2023/b.jpg")));
        assert_eq!(c[0].comment.as_deref(), Some("Sommerfest"));
        assert_eq!(c[0].copyright.as_deref(), Some("© Verein"));
        assert_eq!(c[0].origin, Origin { file: path.display().to_string().into(), line: 2 });
        assert_eq!((c[1].granted, c[1].expires, c[1].revoked), (date(2024, 4, 2), None, Some(date(2024, 6, 1))));
        assert_eq!(c[1].scope, Scope::All);
        assert_eq!((c[1].originator.as_ref(), c[1].comment.as_ref(), c[1].copyright.as_ref()), (None, None, None));
        assert!(l.register.identity("anna schmidt").is_some());
        assert_eq!(l.register.digest.len(), 64);
    }

    #[test]
    fn tab_separated_with_iso_dates_and_unlimited() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.pdf", "%PDF-1.4");
        let path = write(
            dir.path(),
            "reg.tsv",
            "person\tusage\tgranted\texpires\tdocument\n\
             Anna, die Große\tweb, print\t2024-03-01\tUNLIMITED\ta.pdf\n\
             Bernd\tWerbung\t2024-03-01\t\ta.pdf\n",
        );
        let c = loaded(&path).register.consents;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].person, "Anna, die Große");
        assert_eq!(c[0].usage.len(), 2);
        assert_eq!((c[0].expires, c[1].expires), (None, None));
        assert_eq!(c[1].usage.iter().next().map(String::as_str), Some("advertising"));
        assert_eq!(c[1].id, "reg:3");
    }

    #[test]
    fn utf8_bom_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.pdf", "%PDF-1.4");
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend("ID;Person;Verwendung;Erteilt;PDF\r\n1;Jürgen Weiß;Druck;01.03.2024;a.pdf\r\n".as_bytes());
        let path = write(dir.path(), "reg.csv", bytes);
        let l = loaded(&path);
        assert_eq!(l.register.consents[0].person, "Jürgen Weiß");
        assert_eq!(l.register.consents[0].origin.line, 2);
    }

    #[test]
    fn windows_1252_with_umlauts() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.pdf", "%PDF-1.4");
        let path = write(
            dir.path(),
            "reg.csv",
            b"Person;Verwendung;Erteilt;G\xfcltig bis;PDF\r\nM\xfcller, J\xf6rg;Druck;01.03.2024;;a.pdf\r\nGro\xdfe \x80;Presse;01.03.2024;;a.pdf\r\n",
        );
        let c = loaded(&path).register.consents;
        assert_eq!(c[0].person, "Müller, Jörg");
        assert_eq!(c[1].person, "Große €");
    }

    #[test]
    fn mixed_encodings_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "reg.csv",
            b"person;usage;granted;document\nJ\xc3\xbcrgen;print;2024-03-01;a.pdf\nM\xfcller;print;2024-03-01;a.pdf\n",
        );
        one_error(&path, &path, 3, 0, "mixes UTF-8");
    }

    #[test]
    fn group_consents() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(
            dir.path(),
            "G1,Anna | Bernd|Clara,print,2024-03-01,,a.pdf\n,Dora|Emil,web,2024-03-01,,a.pdf\n,Fritz,web,2024-03-01,,a.pdf\n",
        );
        let l = loaded(&path);
        assert_eq!(ids(&l), ["G1.1", "G1.2", "G1.3", "reg:3.1", "reg:3.2", "reg:4"]);
        let persons: Vec<&str> = l.register.consents.iter().map(|c| c.person.as_str()).collect();
        assert_eq!(persons, ["Anna", "Bernd", "Clara", "Dora", "Emil", "Fritz"]);
        assert!(l.register.consents[..3].iter().all(|c| c.origin.line == 2 && c.document.as_deref() == Some("a.pdf")));
    }

    #[test]
    fn unparseable_dates() {
        let dir = tempfile::tempdir().unwrap();
        for (value, text) in [
            ("31.02.2024", "\"31.02.2024\": there is no such day"),
            ("2024-13-01", "no such day"),
            ("1.3.24", "invalid date \"1.3.24\""),
            ("03/01/2024", "invalid date"),
            ("morgen", "invalid date \"morgen\""),
            ("2024-03-01x", "invalid date"),
        ] {
            let path = file_with(dir.path(), &format!("1,Anna,print,{value},,a.pdf\n"));
            one_error(&path, &path, 2, 4, text);
            let path = file_with(dir.path(), &format!("1,Anna,print,2024-01-01,{value},a.pdf\n"));
            one_error(&path, &path, 2, 5, text);
        }
        let path = file_with(dir.path(), "1,Anna,print,,,a.pdf\n");
        one_error(&path, &path, 2, 4, "no grant date");
    }

    #[test]
    fn expiry_or_revocation_before_grant() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(
            dir.path(),
            "1,Anna,print,01.03.2024,28.02.2024,a.pdf\n2,Bernd,print,01.03.2024,01.03.2024,a.pdf\n",
        );
        one_error(&path, &path, 2, 5, "expires 2024-02-28 before it was granted (2024-03-01)");
        let path = write(
            dir.path(),
            "reg.csv",
            "person,usage,granted,revoked,document\nAnna,print,2024-03-01,2024-01-01,a.pdf\n",
        );
        one_error(&path, &path, 2, 4, "revoked 2024-01-01 before it was granted");
    }

    #[test]
    fn unknown_and_missing_usage() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "1,Anna,\"Druck, Flyer\",2024-03-01,,a.pdf\n");
        let e = one_error(&path, &path, 2, 3, "unknown usage word \"Flyer\"");
        assert!(e.message.contains("print, web"), "{e}");
        let path = file_with(dir.path(), "1,Anna, | ,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 2, 3, "no usage");
    }

    #[test]
    fn duplicate_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(
            dir.path(),
            "1,Anna,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,a.pdf\n1,Clara,print,2024-03-01,,a.pdf\n",
        );
        let e = one_error(&path, &path, 4, 1, "duplicate id \"1\"");
        assert!(e.message.contains(&format!("{}:2", path.display())), "{e}");
        // A group's `ID.n` collides with an explicit id.
        let path = file_with(dir.path(), "7,Anna|Bernd,print,2024-03-01,,a.pdf\n7.2,Clara,print,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 3, 1, "duplicate id \"7.2\"");
    }

    #[test]
    fn empty_person() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "1,  ,print,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 2, 2, "empty person");
        let path = file_with(dir.path(), "1,Anna||Bernd,print,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 2, 2, "empty name in the group");
        let path = file_with(dir.path(), "1,Anna|anna ,print,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 2, 2, "named twice");
    }

    #[test]
    fn unknown_duplicate_and_missing_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "reg.csv", "person,usage,granted,expries\nAnna,print,2024-03-01,2024-01-01\n");
        let e = one_error(&path, &path, 1, 4, "unknown column \"expries\"");
        assert!(e.message.contains("expires"), "{e}");
        let path = write(dir.path(), "reg.csv", "person,usage,granted,expires,Ablaufdatum\n");
        one_error(&path, &path, 1, 5, "given twice");
        let path = write(dir.path(), "reg.csv", "Name;Erteilt\nAnna;01.03.2024\n");
        one_error(&path, &path, 1, 0, "missing column \"usage\"");
        let path = write(dir.path(), "reg.csv", "");
        one_error(&path, &path, 0, 0, "empty");
    }

    #[test]
    fn values_without_a_column() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            write(dir.path(), "reg.csv", "person,usage,granted,\nAnna,print,2024-03-01,,\nBernd,web,2024-03-01,x,y\n");
        let errs = errors(&path);
        let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(3, 4), (3, 5)], "{errs:#?}");
    }

    #[test]
    fn invalid_scope() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "reg.csv", "person,usage,granted,scope\nAnna,print,2024-03-01,fest/[a.jpg\n");
        one_error(&path, &path, 2, 4, "invalid scope pattern");
    }

    #[test]
    fn malformed_quoting_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        // Text after a closing quote.
        let path =
            file_with(dir.path(), "1,\"Anna\" Schmidt,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,a.pdf\n");
        one_error(&path, &path, 2, 2, "after the closing quote");
        // An unclosed quote swallows the rest: reported where it opens, earlier rows still checked.
        let path = file_with(
            dir.path(),
            "1,Anna,print,morgen,,a.pdf\n2,\"Bernd,print,2024-03-01,,a.pdf\n3,Clara,print,2024-03-01,,a.pdf\n",
        );
        let errs = errors(&path);
        let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(2, 4), (3, 2)], "{errs:#?}");
        assert!(errs[1].message.contains("never closed"));
        // Quoted fields with delimiters, quotes and line breaks are fine; later lines count right.
        let path = file_with(
            dir.path(),
            "1,\"Schmidt, Anna\",\"print,web\",2024-03-01,,a.pdf\n\n2,\"Bernd \"\"B\"\"\nMeier\",print,2024-03-01,,a.pdf\n\n\n3,Clara,print,morgen,,a.pdf\n",
        );
        one_error(&path, &path, 8, 4, "morgen");
        let path = file_with(dir.path(), "1,\"Schmidt, Anna\",\"print,web\",2024-03-01,,a.pdf\n");
        assert_eq!(loaded(&path).register.consents[0].person, "Schmidt, Anna");
    }

    #[test]
    fn several_errors_are_reported_at_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(
            dir.path(),
            "1,Anna,Flyer,31.02.2024,,a.pdf\n\
             1,,print,2024-03-01,2023-01-01,a.pdf\n\
             3,Clara,print,2024-03-01,,missing.pdf\n\
             4,Dora,web,2024-03-01,bald,a.pdf\n",
        );
        let Err(RegisterErrors(all)) = load(&path) else { panic!("expected errors") };
        let at: Vec<(u64, u64, Severity)> = all.iter().map(|e| (e.line, e.column, e.severity)).collect();
        use Severity::*;
        assert_eq!(
            at,
            [(2, 3, Error), (2, 4, Error), (3, 1, Error), (3, 2, Error), (3, 5, Error), (4, 6, Warning), (5, 5, Error)],
            "{all:#?}"
        );
        assert!(all.iter().all(|e| e.file == path.display().to_string()));
    }

    #[test]
    fn document_warnings() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("docs")).unwrap();
        write(&dir.path().join("docs"), "b.pdf", "%PDF-1.4");
        let path = file_with(
            dir.path(),
            "1,Anna,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,docs/b.pdf\n3,Clara,print,2024-03-01,,docs/c.pdf\n4,Dora,print,2024-03-01,,\n5,Emil,print,2024-03-01,,docs\n",
        );
        let l = loaded(&path);
        assert_eq!(l.register.consents.len(), 5);
        let w: Vec<(u64, u64)> = l.warnings.iter().map(|w| (w.line, w.column)).collect();
        assert_eq!(w, [(4, 6), (5, 6), (6, 6)], "{:#?}", l.warnings);
        assert!(l.warnings.iter().all(|w| w.severity == Severity::Warning));
        assert!(l.warnings[0].message.contains("\"docs/c.pdf\" not found"), "{}", l.warnings[0]);
        assert_eq!(l.warnings[1].message, "no evidence document");
        assert!(l.warnings[2].message.contains("not a file"));
        // Without a document column every row warns, on the row.
        let path = write(dir.path(), "reg.csv", "person,usage,granted\nAnna,print,2024-03-01\n");
        let l = loaded(&path);
        assert_eq!((l.warnings.len(), l.warnings[0].line, l.warnings[0].column), (1, 2, 0));
    }

    #[test]
    fn unreadable_register() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.csv");
        one_error(&path, &path, 0, 0, "cannot read");
        let empty = tempfile::tempdir().unwrap();
        one_error(empty.path(), empty.path(), 0, 0, "no CSV file");
    }

    /// A directory register with all four kinds of file.
    fn directory(dir: &Path) {
        fs::create_dir_all(dir.join("pdf")).unwrap();
        write(dir, "pdf/anna.pdf", "%PDF-1.4");
        write(dir, "notes.txt", "not a register");
        write(dir, "._2024.csv", b"\x00\x05\x16\x07 AppleDouble");
        write(dir, "persons.csv", "id;name;aliases\nP1;Anna Schmidt;Anna|A. Schmidt\nP2;Bernd Meier;\n");
        write(dir, "originators.csv", "ID,Name\nU1,Studio Nord\nU2,Foto Süd\n");
        write(
            dir,
            "exemptions.csv",
            "scope,person,reason,note\nevents/**,*,public-event,Stadtfest\n2024/*.jpg,Bernd Meier,not recognisable,\n",
        );
        write(
            dir,
            "2024.csv",
            "id,person,usage,granted,originator,document\n1,anna,print,2024-01-01,U1,pdf/anna.pdf\n2,Bernd Meier|A. Schmidt,web,2024-01-01,foto süd,pdf/anna.pdf\n",
        );
        write(dir, "2025.csv", "person,usage,granted,document\nBernd Meier,press,2025-01-01,pdf/anna.pdf\n");
    }

    #[test]
    fn directory_register_with_all_four_files() {
        let dir = tempfile::tempdir().unwrap();
        directory(dir.path());
        let l = loaded(dir.path());
        assert!(l.warnings.is_empty(), "{:#?}", l.warnings);
        let r = &l.register;
        assert_eq!(ids(&l), ["1", "2.1", "2.2", "2025:2"]);
        assert_eq!(r.consents[0].originator.as_deref(), Some("Studio Nord"));
        assert_eq!(r.consents[1].originator.as_deref(), Some("Foto Süd"));
        assert_eq!(&*r.consents[3].origin.file, dir.path().join("2025.csv").display().to_string());
        assert_eq!(r.persons.len(), 2);
        assert_eq!(r.persons[0].aliases, ["Anna", "A. Schmidt"]);
        assert_eq!(
            r.originators,
            [
                Originator { id: "U1".into(), name: "Studio Nord".into() },
                Originator { id: "U2".into(), name: "Foto Süd".into() }
            ]
        );
        assert_eq!(r.exemptions.len(), 2);
        assert_eq!((r.exemptions[0].person.as_ref(), r.exemptions[0].reason), (None, ExemptReason::PublicEvent));
        assert_eq!(r.exemptions[0].note.as_deref(), Some("Stadtfest"));
        assert_eq!(r.exemptions[1].person.as_deref(), Some("Bernd Meier"));
        assert_eq!(r.exemptions[1].origin.line, 3);
        // Names and aliases are one identity with their consents.
        let anna = r.identity("A. Schmidt").unwrap();
        assert_eq!(r.consents_of(anna).count(), 2);
    }

    #[test]
    fn directory_reference_errors() {
        let dir = tempfile::tempdir().unwrap();
        directory(dir.path());
        let file = dir.path().join("2025.csv");
        write(
            dir.path(),
            "2025.csv",
            "person,usage,granted,document,originator\nBernd Meier,press,2025-01-01,pdf/anna.pdf,Studio West\n",
        );
        one_error(dir.path(), &file, 2, 5, "unknown originator \"Studio West\"");
        write(
            dir.path(),
            "2025.csv",
            "person,usage,granted,document\nBerndt Meier|Anna,press,2025-01-01,pdf/anna.pdf\n",
        );
        one_error(dir.path(), &file, 2, 1, "unknown person \"Berndt Meier\"");
        fs::remove_file(&file).unwrap();
        let file = dir.path().join("exemptions.csv");
        write(dir.path(), "exemptions.csv", "Geltungsbereich;Person;Grund\n*;Clara;prominent\n");
        one_error(dir.path(), &file, 2, 2, "unknown person \"Clara\"");
        write(dir.path(), "exemptions.csv", "scope,person,reason\n*,*,weil\n");
        one_error(dir.path(), &file, 2, 3, "unknown exemption reason \"weil\"");
        write(dir.path(), "exemptions.csv", "scope,person,reason\n,,prominent\n*,*,\n,,\n");
        let errs = errors(dir.path());
        let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(2, 1), (2, 2), (3, 3)], "{errs:#?}");
        assert!(errs[2].message.contains("empty reason"));
    }

    #[test]
    fn single_file_registers_have_no_reference_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "reg.csv",
            "person,usage,granted,originator,document\nNiemand,print,2024-01-01,Irgendwer,\n",
        );
        assert_eq!(loaded(&path).register.consents[0].originator.as_deref(), Some("Irgendwer"));
    }

    #[test]
    fn duplicates_across_the_files_of_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        directory(dir.path());
        write(
            dir.path(),
            "2025.csv",
            "id,person,usage,granted,document\n1,Bernd Meier,press,2025-01-01,pdf/anna.pdf\n",
        );
        let e = one_error(dir.path(), &dir.path().join("2025.csv"), 2, 1, "duplicate id \"1\"");
        assert!(e.message.contains(&format!("{}:2", dir.path().join("2024.csv").display())), "{e}");
        write(dir.path(), "2025.csv", "person,usage,granted,document\nBernd Meier,press,2025-01-01,pdf/anna.pdf\n");
        write(dir.path(), "persons.csv", "id;name;aliases\nP1;Anna Schmidt;Anna|A. Schmidt\nP1;Bernd Meier;anna\n");
        let errs = errors(dir.path());
        let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, [(3, 1), (3, 3)], "{errs:#?}");
    }

    #[test]
    fn digest_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        let a = file_with(dir.path(), "1,Anna,print,2024-03-01,,a.pdf\n");
        let first = loaded(&a).register.digest;
        assert_eq!(loaded(&a).register.digest, first);
        let other = tempfile::tempdir().unwrap();
        assert_eq!(loaded(&file_with(other.path(), "1,Anna,print,2024-03-01,,a.pdf\n")).register.digest, first);
        assert_ne!(loaded(&file_with(dir.path(), "1,Anna,web,2024-03-01,,a.pdf\n")).register.digest, first);

        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        directory(d1.path());
        directory(d2.path());
        let digest = loaded(d1.path()).register.digest;
        assert_eq!(loaded(d2.path()).register.digest, digest);
        assert_ne!(digest, first);
        write(d2.path(), "notes.txt", "not part of the register");
        assert_eq!(loaded(d2.path()).register.digest, digest);
        // The same bytes under another file name are another register.
        fs::rename(d2.path().join("2025.csv"), d2.path().join("2026.csv")).unwrap();
        assert_ne!(loaded(d2.path()).register.digest, digest);
    }

    /// Test data: random valid registers, and damaged copies of them.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        /// A valid register of `rows` rows (every row with a distinct id, groups included) and the
        /// number of consents it holds.
        fn register(&mut self, rows: usize) -> (String, usize) {
            const NAMES: &[&str] =
                &["Anna Schmidt", "Jürgen Weiß", "Ève Dupont", "Bernd \"B\" Meier", "Çelik, Ayşe", "O'Neil"];
            const USAGE: &[&str] =
                &["print", "Druck", "Internet", "Social Media", "Presse", "Weitergabe an Dritte", "tv"];
            let delimiter = self.pick(&[",", ";", "\t"]);
            let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let mut out = ["Nr", "Person", "usage", "Beginn", "Ablauf", "PDF", "scope"].join(delimiter) + "\r\n";
            let mut consents = 0;
            for i in 0..rows {
                let group = 1 + self.below(3);
                let mut names: Vec<&str> = Vec::new();
                while names.len() < group {
                    let n = self.pick(NAMES);
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                consents += group;
                let usage: Vec<&str> = (0..1 + self.below(3)).map(|_| self.pick(USAGE)).collect();
                let (y, m, d) = (2000 + self.below(30), 1 + self.below(12), 1 + self.below(28));
                let granted = if self.below(2) == 0 { format!("{y}-{m:02}-{d:02}") } else { format!("{d}.{m}.{y}") };
                let expires = self.pick(&["", "unbegrenzt", "Unlimited", "31.12.2099", "2100-01-01"]);
                let scope = self.pick(&["", "*", "2024/**", "a/*.jpg|b/[a-c]?.png"]);
                let fields = [
                    i.to_string(),
                    quote(&names.join("|")),
                    quote(&usage.join(",")),
                    granted,
                    expires.into(),
                    "a.pdf".into(),
                    quote(scope),
                ];
                out += &(fields.join(delimiter) + "\r\n");
            }
            (out, consents)
        }

        /// `text` with a few random bytes changed: quotes, delimiters, line breaks, high bytes, cuts.
        fn damage(&mut self, text: &str) -> Vec<u8> {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..1 + self.below(4) {
                let at = self.below(bytes.len() + 1);
                match self.below(6) {
                    0 => bytes.insert(at, b'"'),
                    1 => bytes.insert(at, *[b',', b';', b'\t'].get(self.below(3)).unwrap()),
                    2 => bytes.insert(at, *[b'\n', b'\r'].get(self.below(2)).unwrap()),
                    3 => bytes.insert(at, 0x80 + self.below(128) as u8),
                    4 => bytes.truncate(at),
                    _ => {
                        if at < bytes.len() {
                            bytes.remove(at);
                        }
                    }
                }
            }
            bytes
        }
    }

    #[test]
    fn generated_registers_load_completely() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.pdf", "%PDF-1.4");
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        for _ in 0..50 {
            let rows = g.below(20);
            let (text, consents) = g.register(rows);
            let path = write(dir.path(), "reg.csv", &text);
            let l = loaded(&path);
            assert_eq!(l.register.consents.len(), consents, "{text}");
            assert!(l.warnings.is_empty());
        }
    }

    /// Evaluations of `names` (each alone, and all together) on `paths` and dates with a register
    /// loaded whole and deferred: the same decisions, and the deferred register built only the
    /// consents of the names evaluated.
    fn same_decisions_deferred(path: &Path, names: &[&str], paths: &[&str]) {
        let voc = Vocabulary::default();
        let load = |o| if path.is_dir() { load_dir(path, &voc, o) } else { load_file(path, &voc, o) };
        let whole = load(Options::CONSENTS).unwrap();
        // Deferred: validated afresh, then with the row cache written, then read from it.
        let cache = tempfile::tempdir().unwrap();
        let cached = || crate::register::load_cached(path, &voc, Options::EVALUATION, Some(cache.path())).unwrap();
        let fresh = load(Options::EVALUATION).unwrap();
        let (written, from_cache) = (cached(), cached());
        let files = fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(files, 1, "one cache file per register");
        let row_cache = RowCache::new(cache.path(), path, &whole.register.digest, &voc);
        let special = ["persons.csv", "exemptions.csv", "originators.csv"];
        let consent_files = if path.is_dir() {
            let names = fs::read_dir(path).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase());
            names.filter(|n| n.ends_with(".csv") && !n.starts_with('.') && !special.contains(&n.as_str())).count()
        } else {
            1
        };
        assert!(row_cache.read(consent_files).is_some(), "the second load read the cache: {}", path.display());
        for deferred in [fresh, written, from_cache] {
            same_decisions(&whole, deferred, names, paths);
        }
    }

    fn same_decisions(whole: &Loaded, mut deferred: Loaded, names: &[&str], paths: &[&str]) {
        assert_eq!(whole.warnings, deferred.warnings);
        assert_eq!(whole.register.digest, deferred.register.digest);
        assert!(deferred.register.is_deferred());
        let reg = &mut deferred.register;
        let mut sets: Vec<Vec<&str>> = names.iter().map(|n| vec![*n]).collect();
        sets.push(names.to_vec());
        for set in &sets {
            reg.prepare(set.iter().copied());
            for rel in paths {
                for day in ["2000-01-01", "2024-06-01", "2026-01-11", "2099-12-31"] {
                    let date: Date = day.parse().unwrap();
                    let a = crate::consent::evaluate(set, 1, Some(rel), &whole.register, date);
                    let b = crate::consent::evaluate(set, 1, Some(rel), reg, date);
                    assert_eq!(a, b, "{set:?} {rel} {day}");
                }
            }
        }
        // Only consents of the names met (and of their aliases and exempted persons) were built.
        assert!(reg.consents.len() <= whole.register.consents.len());
        let built: HashSet<&str> = reg.consents.iter().map(|c| c.id.as_str()).collect();
        for c in &whole.register.consents {
            let met = names
                .iter()
                .any(|n| whole.register.identity(n).is_some_and(|i| whole.register.identity(&c.person) == Some(i)));
            if met {
                assert!(built.contains(c.id.as_str()), "{} not built", c.id);
            }
        }
    }

    #[test]
    fn the_row_cache_stands_only_for_the_same_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        fs::create_dir(&cache).unwrap();
        let (text, _) = Gen(99).register(40);
        let path = write(dir.path(), "reg.csv", &text);
        let voc = Vocabulary::default();
        let load = |voc: &Vocabulary| crate::register::load_cached(&path, voc, Options::EVALUATION, Some(&cache));
        let names = ["Anna Schmidt", "jürgen weiß", "Çelik, Ayşe", "X"];
        let paths = ["2024/a.jpg", "z.jpg"];
        let whole = load_file(&path, &voc, Options::CONSENTS).unwrap();
        same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
        let cache_file = fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();

        // A damaged cache is ignored (the register is validated again) and written anew.
        let mut bytes = fs::read(&cache_file).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x40;
        fs::write(&cache_file, &bytes).unwrap();
        same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
        assert_ne!(fs::read(&cache_file).unwrap(), bytes, "rewritten");
        // Cut short, or of another program: the same.
        fs::write(&cache_file, &bytes[..n / 3]).unwrap();
        same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
        fs::write(&cache_file, b"something else").unwrap();
        same_decisions(&whole, load(&voc).unwrap(), &names, &paths);

        // Another vocabulary validates usage words otherwise: not the same load.
        let key = |v: &Vocabulary| RowCache::new(&cache, &path, &whole.register.digest, v).key;
        let other = Vocabulary::new(vec![crate::model::UsageTerm { name: "print".into(), synonyms: vec![] }]);
        assert_ne!(key(&voc), key(&other));
        let errors = load(&other).map(|_| ()).unwrap_err().0;
        assert!(errors.iter().any(|p| p.message.contains("unknown usage word")), "{errors:#?}");

        // A register that breaks after a cached load reports its errors (new content, new key).
        fs::write(&path, "id,person,usage,granted\n1,Anna Schmidt,print,31.02.2024\n").unwrap();
        let errors = load(&voc).map(|_| ()).unwrap_err().0;
        assert!(errors.iter().any(|p| p.message.contains("31.02.2024")), "{errors:#?}");
        // And a register with errors leaves the cache as it was: the good content still hits.
        fs::write(&path, &text).unwrap();
        same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
        assert!(RowCache::new(&cache, &path, &whole.register.digest, &voc).read(1).is_some());
    }

    #[test]
    fn deferred_registers_decide_as_whole_ones() {
        let dir = tempfile::tempdir().unwrap();
        directory(dir.path());
        let names = ["anna", "A. Schmidt", "BERND MEIER", "Anna  Schmidt", "Clara", "Bernd Meier"];
        same_decisions_deferred(dir.path(), &names, &["a.jpg", "2024/x.jpg", "events/e.jpg"]);

        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/register");
        let names = [
            "Anna Schmidt",
            "schmidt, anna",
            "Zoë Adams",
            "Lena Fischer",
            "Mia Wagner",
            "Jürgen Groß",
            "Oma Erna",
            "Nobody",
        ];
        let paths = ["2023/summer-fest/a.jpg", "2023/summer-fest/backstage/everything.jpg", "2024/b.jpg", "c.jpg"];
        same_decisions_deferred(&fixtures, &names, &paths);

        // Generated registers: groups, quoting, every delimiter, non-ASCII names.
        let mut g = Gen(0x2545_F491_4F6C_DD1D);
        write(dir.path(), "a.pdf", "%PDF-1.4");
        for _ in 0..20 {
            let rows = 1 + g.below(30);
            let (text, _) = g.register(rows);
            // Rows are read again at their offsets: in the file itself, after a byte order mark,
            // or in the text decoded from Windows-1252.
            let (with_bom, cp1252) = (
                [&[0xEF, 0xBB, 0xBF], text.as_bytes()].concat(),
                encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
            );
            for bytes in [text.as_bytes(), &with_bom[..], &cp1252[..]] {
                let path = write(dir.path(), "reg.csv", bytes);
                let names =
                    ["Anna Schmidt", "jürgen weiß", "ÈVE DUPONT", "Bernd \"B\" Meier", "Çelik, Ayşe", "O'Neil", "X"];
                same_decisions_deferred(&path, &names, &["2024/a.jpg", "a/x.jpg", "b/c1.png", "z.jpg"]);
            }
        }
    }

    #[test]
    fn name_hashes_agree_for_names_and_their_keys() {
        for name in [
            "Anna Schmidt",
            "ANNA  schmidt ",
            "Jürgen Groß",
            "Zoe\u{308} Adams",
            "\u{212A}arl",
            "İpek",
            "a".repeat(200).as_str(),
        ] {
            let key = name_key(name);
            assert_eq!(normal_name_hash(&normalize_name(name)), hash_key(&key), "{name:?}");
        }
    }

    #[test]
    fn quick_quoting_check_agrees_with_the_field_walk() {
        let mut g = Gen(7);
        let (mut clean, mut broken) = (0, 0);
        for _ in 0..3000 {
            let rows = 1 + g.below(6);
            let (text, _) = g.register(rows);
            let mut bytes = g.damage(&text);
            // Quote-heavy damage as well: doubled quotes, quotes around and inside fields.
            for _ in 0..g.below(3) {
                let at = g.below(bytes.len() + 1);
                let piece = g.pick(&["\"\"", "\"x\"", ",\"", "\",", "\"\n"]);
                bytes.splice(at..at, piece.bytes());
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for delimiter in [b',', b';', b'\t'] {
                let walked = walk_quoting("f", &text, delimiter, &LineIndex::new(&text), &mut Problems::default());
                assert_eq!(quoting_is_clean(text.as_bytes(), delimiter), walked.is_empty(), "{text:?}");
                if walked.is_empty() {
                    clean += 1;
                } else {
                    broken += 1;
                }
            }
        }
        assert!(clean > 1000 && broken > 1000, "{clean} clean, {broken} broken");
    }

    #[test]
    fn damaged_registers_never_panic_and_errors_have_places() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.pdf", "%PDF-1.4");
        let mut g = Gen(42);
        for _ in 0..400 {
            let rows = 1 + g.below(8);
            let (text, _) = g.register(rows);
            let bytes = g.damage(&text);
            let path = write(dir.path(), "reg.csv", &bytes);
            let lines = 1 + (0..bytes.len()).filter(|&i| is_line_break(&bytes, i)).count() as u64;
            match load(&path) {
                Ok(l) => assert!(l.register.consents.iter().all(|c| c.origin.line >= 2 && c.origin.line <= lines)),
                Err(RegisterErrors(all)) => {
                    assert!(all.iter().any(|p| p.severity == Severity::Error));
                    assert!(all.iter().all(|p| p.line <= lines && !p.message.is_empty()), "{all:#?}");
                }
            }
        }
    }
}
