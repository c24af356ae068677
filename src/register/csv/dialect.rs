//! The CSV dialect spreadsheets export: encoding (BOM, UTF-8, Windows-1252), line numbers of
//! byte offsets, the delimiter, and quoting the csv crate would read wrongly.

use std::collections::HashSet;

use super::Problems;

/// Bytes to text: a BOM decides (UTF-8, UTF-16); else UTF-8 when valid, otherwise Windows-1252.
/// A file that mixes UTF-8 and other bytes would come out with garbled names either way: error.
pub(super) fn decode<'b>(file: &str, bytes: &'b [u8], p: &mut Problems) -> std::borrow::Cow<'b, str> {
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
pub(super) fn is_line_break(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

pub(super) fn line_of_byte(bytes: &[u8], offset: usize) -> u64 {
    1 + (0..offset.min(bytes.len())).filter(|&i| is_line_break(bytes, i)).count() as u64
}

/// Line numbers of byte offsets.
pub(super) struct LineIndex(pub(super) Vec<usize>);

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        let b = text.as_bytes();
        LineIndex(memchr::memchr2_iter(b'\n', b'\r', b).filter(|&i| is_line_break(b, i)).collect())
    }

    /// The line a record starts on, given the reader's offset before it (which may still point
    /// at the line ends and blank lines the reader skips).
    pub(super) fn record_line(&self, text: &str, offset: usize) -> u64 {
        self.0.partition_point(|&nl| nl < Self::start(text, offset)) as u64 + 1
    }

    /// [`Self::record_line`] for records read in order: `cursor` holds the number of line breaks
    /// before the previous record, so each call steps over a line or two.
    pub(super) fn next_record_line(&self, text: &str, offset: usize, cursor: &mut usize) -> u64 {
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
    pub(super) fn start(text: &str, offset: usize) -> usize {
        offset
            + text
                .as_bytes()
                .get(offset..)
                .map_or(0, |rest| rest.iter().take_while(|&&b| b == b'\r' || b == b'\n').count())
    }
}

/// `,`, `;` or tab, whichever occurs most often outside quotes in the header line
/// (ties in that order; `,` when none occurs).
pub(super) fn detect_delimiter(text: &str) -> u8 {
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
pub(super) fn check_quoting(
    file: &str,
    text: &str,
    delimiter: u8,
    lines: &LineIndex,
    p: &mut Problems,
) -> HashSet<u64> {
    if quoting_is_clean(text.as_bytes(), delimiter) {
        return HashSet::new();
    }
    walk_quoting(file, text, delimiter, lines, p)
}

/// [`check_quoting`] field by field.
pub(super) fn walk_quoting(file: &str, text: &str, delimiter: u8, lines: &LineIndex, p: &mut Problems) -> HashSet<u64> {
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
pub(super) fn quoting_is_clean(bytes: &[u8], delimiter: u8) -> bool {
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
