//! Loading the consent register (SPEC.md 3): a CSV file, a directory of CSV files, or an SQLite
//! database, into an immutable [`Register`]. A register with errors is never used half-loaded:
//! loading returns every problem at once, each with file, line and column.

pub mod csv;
pub mod sqlite;

use std::fmt;
use std::path::Path;

use crate::model::{Register, Vocabulary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The register cannot be used.
    Error,
    /// The register is used; reports mark the affected consent (a missing evidence document).
    Warning,
}

/// One problem in a register, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The file, as the user named it (or relative to the register directory).
    pub file: String,
    /// 1-based line; 0 when the problem is not on a line (a missing file, an SQLite row).
    pub line: u64,
    /// 1-based column (field number in CSV); 0 when not applicable.
    pub column: u64,
    /// What is wrong, quoting the offending value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {kind}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{l}: {kind}: {}", self.file, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {kind}: {}", self.file, self.message),
        }
    }
}

/// Every error found while loading (warnings included for context), in file and line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterErrors(pub Vec<Problem>);

impl fmt::Display for RegisterErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.0.iter().filter(|p| p.severity == Severity::Error).count();
        writeln!(f, "the register has {errors} error(s) and cannot be used:")?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegisterErrors {}

/// A register that loaded without errors, with its warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub register: Register,
    pub warnings: Vec<Problem>,
}

/// How much of a register to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Look for every evidence document (a missing one is a warning, SPEC.md 3.5).
    pub check_documents: bool,
    /// Validate every row but build consents only for the persons evaluation meets
    /// ([`Register::prepare`]); `Register::consents` is then not the whole register.
    pub defer: bool,
}

impl Options {
    /// Everything: `register check`, listings of consents and documents.
    pub const FULL: Options = Options { check_documents: true, defer: false };
    /// Every consent built, the evidence folder not looked at: export and import.
    pub const CONSENTS: Options = Options { check_documents: false, defer: false };
    /// For evaluating files: the same errors as [`Options::FULL`], but the evidence folder is
    /// not looked at (a stat of every document of a 100,000-consent register costs more than a
    /// scan) and consents are built only for the persons met.
    pub const EVALUATION: Options = Options { check_documents: false, defer: true };
}

/// Load a register from a CSV file, a directory of CSV files, or an SQLite database
/// (`.sqlite`, `.db`) with [`Options::FULL`]. Usage words are resolved against `vocabulary`.
pub fn load(path: &Path, vocabulary: &Vocabulary) -> Result<Loaded, RegisterErrors> {
    load_with(path, vocabulary, Options::FULL)
}

/// Load a register with the given options. An SQLite register is always built whole.
pub fn load_with(path: &Path, vocabulary: &Vocabulary, options: Options) -> Result<Loaded, RegisterErrors> {
    load_cached(path, vocabulary, options, None)
}

/// [`load_with`]; a CSV register loaded for evaluation keeps its validated rows in `cache` (a
/// private directory, such as the one of the state) for the next load of the same content.
pub fn load_cached(
    path: &Path,
    vocabulary: &Vocabulary,
    options: Options,
    cache: Option<&Path>,
) -> Result<Loaded, RegisterErrors> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if path.is_dir() {
        csv::load_dir_cached(path, vocabulary, options, cache)
    } else if ext == "sqlite" || ext == "db" || ext == "sqlite3" {
        sqlite::load(path, vocabulary, options.check_documents)
    } else {
        csv::load_file_cached(path, vocabulary, options, cache)
    }
}

/// [`document_problem`] for many documents at once, in parallel: each directory is listed once,
/// and only the documents it lists are checked for readability (relative to the directory, not
/// by their whole path). A register of 100,000 consents names as many documents.
pub(crate) fn document_problems<'a>(base: &Path, docs: &[&'a str]) -> rustc_hash::FxHashMap<&'a str, Option<String>> {
    use rayon::prelude::*;
    use rustc_hash::FxHashMap;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStrExt;
    type Listing = Option<FxHashMap<OsString, bool>>;
    // Directory of each document -> its listing (name -> is a regular file), or None when it
    // cannot be listed (then each document is looked at one by one).
    let mut dirs: FxHashMap<std::path::PathBuf, Listing> = FxHashMap::default();
    for doc in docs {
        if let Some(dir) = base.join(doc).parent() {
            if !dirs.contains_key(dir) {
                dirs.insert(dir.to_path_buf(), None);
            }
        }
    }
    let listings: FxHashMap<std::path::PathBuf, Listing> = dirs
        .into_keys()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|dir| {
            let listing = std::fs::read_dir(&dir).ok().map(|entries| {
                entries.flatten().map(|e| (e.file_name(), e.file_type().is_ok_and(|t| t.is_file()))).collect()
            });
            (dir, listing)
        })
        .collect();
    docs.par_iter()
        .map(|&doc| {
            let path = base.join(doc);
            let quick = path.parent().zip(path.file_name()).and_then(|(dir, name)| {
                let listing = listings.get(dir)?.as_ref()?;
                match listing.get(name) {
                    None => Some(Some(format!("evidence document {doc:?} not found (looked for {})", path.display()))),
                    // A regular file: readable for us?
                    Some(true) => {
                        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
                        // SAFETY: a valid NUL-terminated path.
                        let ok =
                            unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::R_OK, libc::AT_EACCESS) } == 0;
                        // Unreadable: the full check says why.
                        ok.then_some(None)
                    }
                    // A link or something else: the full check.
                    Some(false) => None,
                }
            });
            (doc, quick.unwrap_or_else(|| document_problem(base, doc)))
        })
        .collect()
}

/// Why an evidence document (relative to `base`) cannot be used, if it cannot.
pub(crate) fn document_problem(base: &Path, doc: &str) -> Option<String> {
    let path = base.join(doc);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("evidence document {doc:?} not found (looked for {})", path.display()))
        }
        Err(e) => Some(format!("evidence document {doc:?} is unreadable: {e}")),
        Ok(m) if !m.is_file() => Some(format!("evidence document {doc:?} is not a file")),
        Ok(_) => std::fs::File::open(&path).err().map(|e| format!("evidence document {doc:?} is unreadable: {e}")),
    }
}
