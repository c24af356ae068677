//! CSV registers (SPEC.md 3.2, 3.5): one CSV file of consents, or a directory of CSV files that
//! may add `persons.csv`, `exemptions.csv` and `originators.csv`.
//!
//! Accepts what spreadsheets export: delimiter `,`, `;` or tab (detected from the header line),
//! UTF-8 with or without BOM (UTF-16 with BOM too), otherwise Windows-1252; English and German
//! headers; dates `YYYY-MM-DD` or `DD.MM.YYYY`. Every problem of every file is collected, each
//! with file, line and column; a register with an error is never returned.
//!
//! One job per module: `dialect` (encoding, delimiter, quoting), `table` (a file as rows of
//! known columns), `consents` (consent rows validated), `lists` (persons, exemptions,
//! originators), `rows` (consents built per person on demand), `cache` (validated rows kept
//! between loads); this module loads a file or a directory with them.

mod cache;
mod consents;
mod dialect;
mod lists;
mod rows;
mod table;

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Loaded, Options, Problem, RegisterErrors, Severity};
use crate::model::{name_key, Register, Vocabulary};
use cache::RowCache;
use consents::{consent_files, look_for_documents, ConsentCx, ConsentState};
use lists::{read_exemptions, read_originators, read_persons};
use rows::Parts;

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

#[cfg(test)]
mod tests;
