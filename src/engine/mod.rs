//! The engine every archive command runs on: find the archives of the named paths (each with
//! its register and state), run the scan pipeline into a sink, evaluate every file by its own
//! archive, record the run, and apply the results to the files. The command line only calls
//! it: it prints, chooses the output and the exit code.
//!
//! - [`archives`]: the archives of a command's files, their registers (loaded while the files
//!   are read) and states;
//! - [`evaluate`]: the [`Context`] of a command: scan, evaluate in walk order, record the runs;
//! - [`apply`]: plan the writes of `apply` and run them in batches.

/// A note for [`Notes`], formatted.
macro_rules! note {
    ($notes:expr, $($arg:tt)*) => {
        ($notes)(&format!($($arg)*))
    };
}

pub mod apply;
pub mod archives;
pub mod evaluate;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

pub use evaluate::{resolve_usages, Context};

use crate::model::Date;

/// Where the engine's notes go (warnings and what it did, one message at a time; never
/// records). The command line prints them on stderr.
pub type Notes = Arc<dyn Fn(&str) + Send + Sync>;

/// What a command over an archive was given.
#[derive(Clone)]
pub struct Options {
    /// Files and directories (empty: the current directory).
    pub paths: Vec<PathBuf>,
    /// `--people-root`: the people roots of every file (empty: each archive's own).
    pub people_roots: Vec<String>,
    pub follow_links: bool,
    /// Worker threads (`None`: two per core).
    pub threads: Option<usize>,
    /// No notes but warnings.
    pub quiet: bool,
    /// The register of every file (`--register`, else `CONSENTRY_REGISTER`; `None`: each
    /// archive's own).
    pub register: Option<PathBuf>,
    /// The day to evaluate on (`None`: today).
    pub as_of: Option<Date>,
    /// `--state`: one state for every archive of the command.
    pub state: Option<PathBuf>,
    /// Keep no state.
    pub no_state: bool,
    /// Where the validated rows of CSV registers are kept between runs.
    pub register_cache: RegisterCache,
    /// The language of the notes that are summaries (what a run recorded in the state).
    pub lang: crate::i18n::Lang,
    /// `--shard K/N`: only this shard's files are read and evaluated (SPEC.md 7a), and each
    /// archive's state is the shard's own.
    pub shard: Option<crate::scan::Shard>,
    pub notes: Notes,
}

/// Where the validated rows of CSV registers are kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RegisterCache {
    /// In the user's cache directory.
    #[default]
    User,
    /// In this directory.
    At(PathBuf),
    /// Nowhere: a CSV register is validated in full every time.
    None,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl Options {
    /// Options for `paths` with every default, notes dropped.
    pub fn new(paths: Vec<PathBuf>) -> Options {
        Options {
            paths,
            people_roots: Vec::new(),
            follow_links: true,
            threads: None,
            quiet: true,
            register: None,
            as_of: None,
            state: None,
            no_state: false,
            register_cache: RegisterCache::User,
            lang: crate::i18n::Lang::En,
            shard: None,
            notes: Arc::new(|_| {}),
        }
    }
}

/// What a command needs of the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Evaluate when a register is found.
    Optional,
    /// A register, to evaluate files.
    Register,
    /// The whole register built (listings of consents and names).
    Whole,
    /// The whole register, with its evidence documents looked for (listings of documents).
    WithEvidence,
}

impl Need {
    fn options(self) -> crate::register::Options {
        use crate::register::Options;
        match self {
            Need::Optional | Need::Register => Options::EVALUATION,
            Need::Whole => Options::CONSENTS,
            Need::WithEvidence => Options::FULL,
        }
    }
}

/// Why a command cannot go on. The messages are those the command prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file or directory", .0.display())]
    NoSuchPath(PathBuf),
    /// Why the files of an archive cannot be worked on (it needs a register and there is none,
    /// its `consentry.toml` or state cannot be read), or a directory cannot be placed.
    #[error("{0}")]
    Archive(String),
    #[error("`{command}` reads every file and keeps no state: --state {} does not apply", state.display())]
    StateNotApplicable { command: &'static str, state: PathBuf },
    /// The register has errors: the path, and every problem as the source.
    #[error("{path}")]
    Register {
        path: String,
        #[source]
        source: crate::register::RegisterErrors,
    },
    #[error("loading the register failed (panic)")]
    RegisterPanicked,
    #[error("the register could not be loaded")]
    RegisterNotLoaded,
    #[error("this command needs a consent register")]
    NoRegister,
    #[error(
        "the files belong to archives with different registers: run this command once per archive \
         (or give --register PATH)"
    )]
    DifferentRegisters,
    #[error("unknown usage area {word:?}; known: {known}")]
    UnknownUsage { word: String, known: String },
    #[error(
        "{} is in no archive (no {} above it), which keeps no state; mark it with `consentry init`, or give --state PATH",
        .0.display(),
        crate::config::CONFIG_FILE
    )]
    NoArchive(PathBuf),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error("{}: not placed in an archive", .0.display())]
    NotPlaced(PathBuf),
    /// A state that cannot be opened or read.
    #[error("{0}")]
    State(String),
    /// The XMP Toolkit cannot be set up for writing.
    #[error(transparent)]
    Writeback(#[from] crate::writeback::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
