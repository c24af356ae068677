//! Loading the consent register (SPEC.md 3): a CSV file, a directory of CSV files, or an SQLite
//! database, into an immutable [`Register`]. A register with errors is never used half-loaded:
//! loading returns every problem at once, each with file, line and column.

pub mod csv;
pub mod digest;
pub mod export;
pub mod sqlite;

use std::fmt;
use std::path::{Component, Path, PathBuf};

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

/// A date stored in an SQLite register: [`crate::model::parse_date`] (the one date parser: four-digit
/// years, two-digit months and days), in its ISO form only (`YYYY-MM-DD`, as consentry writes
/// it; SQL compares these texts). `value` is trimmed.
pub(crate) fn iso_date(value: &str) -> Option<crate::model::Date> {
    let value = value.trim();
    if value.contains('.') {
        return None;
    }
    crate::model::parse_date(value).ok()
}

/// The folder a register's evidence document paths are relative to: a directory register
/// itself, else the folder of the register's file (SPEC.md 3.5).
pub fn documents_base(register: &Path) -> PathBuf {
    if register.is_dir() {
        register.to_path_buf()
    } else {
        register.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// The magic bytes every evidence document starts with: evidence is the scanned, signed form
/// kept as PDF.
const PDF_MAGIC: &[u8; 5] = b"%PDF-";

/// Why an evidence document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence document {doc:?} leaves the register's folder ({}): it is not read", base.display())]
    Outside { doc: String, base: PathBuf },
    #[error("evidence document {doc:?} not found (looked for {})", path.display())]
    NotFound { doc: String, path: PathBuf },
    #[error("evidence document {doc:?} is unreadable: {source}")]
    Unreadable { doc: String, source: std::io::Error },
    #[error("evidence document {doc:?} is not a file")]
    NotAFile { doc: String },
    #[error("evidence document {doc:?} is not a PDF (the scanned, signed consent form is kept as PDF)")]
    NotPdf { doc: String },
}

/// The file of the evidence document `doc` named by a register whose documents are relative to
/// `base`; an absolute path or one with `..` leaves the register's folder and is refused unread.
pub fn evidence_path(base: &Path, doc: &str) -> Result<PathBuf, EvidenceError> {
    let inside = Path::new(doc).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(EvidenceError::Outside { doc: doc.to_string(), base: base.to_path_buf() });
    }
    Ok(base.join(doc))
}

/// Open the evidence document at `path` (named `doc`), refusing what is not a regular file
/// starting with `%PDF-`: the one check of every evidence document (`register check`,
/// `register import`, `consent add`). The file is returned positioned after the magic bytes.
pub fn open_pdf(path: &Path, doc: &str) -> Result<std::fs::File, EvidenceError> {
    use std::io::Read;
    let unreadable = |source| EvidenceError::Unreadable { doc: doc.to_string(), source };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EvidenceError::NotFound { doc: doc.to_string(), path: path.to_path_buf() },
        _ => unreadable(e),
    })?;
    if !meta.is_file() {
        return Err(EvidenceError::NotAFile { doc: doc.to_string() });
    }
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut head = [0u8; PDF_MAGIC.len()];
    match file.read_exact(&mut head) {
        Ok(()) if &head == PDF_MAGIC => Ok(file),
        Ok(()) => Err(EvidenceError::NotPdf { doc: doc.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(EvidenceError::NotPdf { doc: doc.to_string() }),
        Err(e) => Err(unreadable(e)),
    }
}

/// SHA-256 (lower-case hex) of the evidence PDF at `path` (named `doc`), checked by
/// [`open_pdf`].
pub fn pdf_sha256(path: &Path, doc: &str) -> Result<String, EvidenceError> {
    use sha2::{Digest, Sha256};
    let mut file = open_pdf(path, doc)?;
    let mut hasher = Sha256::new();
    hasher.update(PDF_MAGIC);
    std::io::copy(&mut file, &mut hasher)
        .map_err(|source| EvidenceError::Unreadable { doc: doc.to_string(), source })?;
    Ok(digest::hex(&hasher.finalize()))
}

/// [`document_problem`] for many documents at once, in parallel: each directory is listed once,
/// and a document it does not list is missing without a look of its own. A register of 100,000
/// consents names as many documents.
///
/// `recorded` tells a document whose place consentry itself checked and recorded (an SQLite
/// register's document with its SHA-256, stored by `consent add` or `register import`): it may
/// lie outside the register's folder (the evidence folder beside the archive). Any other path
/// that leaves the folder is a warning and is not read.
pub(crate) fn document_problems<'a>(
    base: &Path,
    docs: &[&'a str],
    recorded: impl Fn(&str) -> bool + Sync,
) -> rustc_hash::FxHashMap<&'a str, Option<String>> {
    use rayon::prelude::*;
    use rustc_hash::FxHashMap;
    use std::collections::HashSet;
    use std::ffi::OsString;
    type Listing = Option<HashSet<OsString>>;
    // Directory of each document inside the folder -> the names it lists, or None when it cannot
    // be listed (then each document is looked at on its own).
    let mut dirs: FxHashMap<PathBuf, Listing> = FxHashMap::default();
    for doc in docs {
        if let Some(dir) = document_path(base, doc, recorded(doc)).ok().as_deref().and_then(Path::parent) {
            if !dirs.contains_key(dir) {
                dirs.insert(dir.to_path_buf(), None);
            }
        }
    }
    let listings: FxHashMap<PathBuf, Listing> = dirs
        .into_keys()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|dir| {
            let listing =
                std::fs::read_dir(&dir).ok().map(|entries| entries.flatten().map(|e| e.file_name()).collect());
            (dir, listing)
        })
        .collect();
    docs.par_iter()
        .map(|&doc| {
            let listed = document_path(base, doc, recorded(doc)).ok().and_then(|path| {
                let (dir, name) = path.parent().zip(path.file_name())?;
                let listing = listings.get(dir)?.as_ref()?;
                Some((listing.contains(name), path))
            });
            let problem = match listed {
                Some((false, path)) => {
                    Some(EvidenceError::NotFound { doc: doc.to_string(), path: path.to_path_buf() }.to_string())
                }
                _ => document_problem(base, doc, recorded(doc)),
            };
            (doc, problem)
        })
        .collect()
}

/// Why an evidence document (relative to `base`) cannot be used, if it cannot: it leaves the
/// register's folder (unless `recorded`, see [`document_problems`]), is missing, unreadable or
/// not a PDF.
pub(crate) fn document_problem(base: &Path, doc: &str, recorded: bool) -> Option<String> {
    let problem = document_path(base, doc, recorded).and_then(|path| open_pdf(&path, doc).map(drop));
    problem.err().map(|e| e.to_string())
}

/// [`evidence_path`], or for a `recorded` document simply its place.
fn document_path(base: &Path, doc: &str, recorded: bool) -> Result<PathBuf, EvidenceError> {
    if recorded {
        Ok(base.join(doc))
    } else {
        evidence_path(base, doc)
    }
}
