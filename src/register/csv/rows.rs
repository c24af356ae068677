//! Lazy rows: a register validated at load time whose consents are built per person when
//! evaluation meets them, by reading their rows again.

use std::borrow::Cow;
use std::sync::Arc;

use super::consents::{consent_row, ConsentCx, ConsentState};
use super::table::{Row, Table};
use super::Problems;
use crate::model::{name_key, Consent, DeferredConsents, Exemption, Originator, Person, Register, Vocabulary};

/// A valid consent row of a CSV register, to be read again when its persons are met.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowRef {
    pub(super) file: u32,
    pub(super) line: u64,
    pub(super) offset: usize,
}

pub(super) fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The index hash of a name key.
pub(super) fn hash_key(key: &str) -> u64 {
    if key.is_ascii() {
        ascii_lower_hash(key)
    } else {
        key_hash(key)
    }
}

/// `hash_key(&name_key(n))` of a normalised name, without building the key for the common
/// printable-ASCII name.
pub(super) fn normal_name_hash(n: &str) -> u64 {
    if n.is_ascii() {
        ascii_lower_hash(n)
    } else {
        hash_key(&name_key(n))
    }
}

/// The hash of the ASCII lower case of `s`.
pub(super) fn ascii_lower_hash(s: &str) -> u64 {
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
pub(super) struct CsvRows {
    pub(super) files: Vec<CsvFile>,
    pub(super) rows: Vec<RowRef>,
    /// (hash of name key, index into `rows`), sorted.
    pub(super) index: Vec<(u64, u32)>,
    pub(super) vocabulary: Vocabulary,
    pub(super) doc_dir: std::path::PathBuf,
    /// Directory form with originators.csv.
    pub(super) originators: Option<Vec<Originator>>,
}

#[derive(Debug)]
pub(super) struct CsvFile {
    pub(super) name: Arc<str>,
    pub(super) stem: String,
    /// The decoded text (valid UTF-8) from byte `start` on (after a byte order mark).
    pub(super) text: Vec<u8>,
    pub(super) start: usize,
    pub(super) delimiter: u8,
    pub(super) columns: Vec<(&'static str, usize)>,
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
pub(super) fn kept_text(text: Cow<'_, str>, bytes: &[u8]) -> (usize, Option<Vec<u8>>) {
    match text {
        Cow::Borrowed(text) => (text.as_ptr() as usize - bytes.as_ptr() as usize, None),
        Cow::Owned(text) => (0, Some(text.into_bytes())),
    }
}

/// The register from what the files gave: built, or deferred when `files` were kept.
pub(super) struct Parts {
    pub(super) st: ConsentState,
    pub(super) files: Vec<CsvFile>,
    pub(super) defer: bool,
    pub(super) doc_dir: std::path::PathBuf,
    pub(super) persons: Vec<Person>,
    pub(super) exemptions: Vec<Exemption>,
    pub(super) originators: Option<Vec<Originator>>,
}

impl Parts {
    pub(super) fn build(self, vocabulary: &Vocabulary, digest: String) -> Register {
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
