//! The binary row cache: the validated rows of a register's consent files kept between loads
//! of the same content.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::consents::ConsentState;
use super::dialect::decode;
use super::rows::{kept_text, CsvFile, RowRef};
use super::table::CONSENT_COLUMNS;
use super::Problems;
use crate::model::Vocabulary;
use crate::register::Problem;

/// The validated rows of a register's consent files, kept between loads of the same content
/// (`~/.cache/consentry/register-*.cache`): for evaluation, a register of 100,000
/// consents is otherwise parsed and checked row by row on every run. The cache is looked up by
/// the register's content digest, consentry's version and the usage vocabulary, so it can only
/// stand for a load that would give the same rows and warnings; a damaged or foreign file is
/// ignored and replaced. It holds positions and name hashes, no names.
pub(super) struct RowCache {
    pub(super) path: std::path::PathBuf,
    pub(super) key: [u8; 32],
}

/// What a cache file holds.
pub(super) struct CachedRows {
    /// Per consent file: delimiter and columns (the text is read from the file again).
    pub(super) files: Vec<(u8, Vec<(&'static str, usize)>)>,
    pub(super) rows: Vec<RowRef>,
    pub(super) index: Vec<(u64, u32)>,
    /// Warnings of the consent files: (file index, line, column, message).
    pub(super) warnings: Vec<(u32, u64, u64, String)>,
}

pub(super) const CACHE_MAGIC: &[u8] = b"consentry register rows 1\n";

impl RowCache {
    pub(super) fn new(dir: &Path, register: &Path, digest: &str, vocabulary: &Vocabulary) -> RowCache {
        let name = Sha256::digest(register.as_os_str().as_encoded_bytes());
        let path = dir.join(format!("register-{}.cache", crate::register::digest::hex(&name[..8])));
        let mut key = Sha256::new();
        key.update(env!("CARGO_PKG_VERSION"));
        key.update(format!("{:?}", vocabulary.terms()));
        key.update(digest);
        RowCache { path, key: key.finalize().into() }
    }

    /// The cached rows of exactly these files, if the cache holds them.
    pub(super) fn read(&self, files: usize) -> Option<CachedRows> {
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
    pub(super) fn write(&self, files: &[CsvFile], st: &ConsentState, warnings: &[Problem]) {
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
    pub(super) fn restore(
        self,
        files: Vec<(String, String, Vec<u8>)>,
        st: &mut ConsentState,
        p: &mut Problems,
    ) -> Vec<CsvFile> {
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
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(super) fn text(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
}
