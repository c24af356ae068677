//! Command-line interface: argument definitions, exit codes, and thin command functions.

use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::apply;
use crate::config::{self, REGISTER_ENV};
use crate::consent::{self, Decision, Status};
use crate::model::{self, parse_date, Date, Register};
use crate::output::{self, OutputFormat, RecordWriter};
use crate::people::PeopleRoots;
use crate::register;
use crate::report::{self, Evaluated};
use crate::scan::{self, FileRecord, ScanOptions, ScanSummary};
use crate::state;

/// `eprintln!` for every message of the commands: control characters in the paths, names and
/// register text it carries are shown escaped (SPEC.md 6), so that a file name cannot forge a
/// line or drive the terminal.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::eprint_escaped(&format!($($arg)*))
    };
}

mod edit;

/// Exit status of every command (SPEC.md 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// `check` found blocking files, `register check` found problems.
    Findings = 1,
    /// Bad arguments or a fatal error; nothing written.
    Usage = 2,
    /// The run completed but some files could not be read or written.
    Partial = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "consentry",
    version,
    about = "Checks that the people shown in photos and videos consented to their publication"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mark a directory as an archive: write its consentry.toml (and, without --register, an
    /// empty SQLite register beside it).
    Init(edit::InitArgs),
    /// Report, for every media file, the depicted persons and unnamed faces found in its
    /// metadata, and with a register its consent status.
    Scan(ScanArgs),
    /// The pre-publication gate: exit 0 only when every file is cleared for all given usages.
    Check(CheckArgs),
    /// Reports over the archive: missing, expiring, consents, unreleased, unknown-persons, summary.
    Report(ReportArgs),
    /// Record, revoke, extend and search the consents of the register.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Everything about one person: files showing them, their consents, statuses; or
    /// `person add | alias | rename | merge | list` to manage the register's persons.
    Person(PersonArgs),
    /// Record that a person (or `*`, everyone) needs no consent for the given files; or
    /// `exempt remove | list`.
    Exempt(edit::ExemptArgs),
    /// Manage the originators (Urheber) of consent forms: add, rename, delete, list.
    #[command(subcommand)]
    Originator(edit::OriginatorCommand),
    /// Check, import and export the register.
    #[command(subcommand)]
    Register(RegisterCommand),
    /// Write each file's evaluation into its XMP (embedded, or a sidecar), safely: unchanged
    /// files are not rewritten, files are replaced atomically.
    Apply(ApplyArgs),
}

/// Where `apply` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SidecarMode {
    /// Into the file for JPEG, TIFF, DNG, PNG, PSD, MP4 and MOV; a sidecar for the rest.
    Auto,
    /// Only sidecars (read-only archives, or to leave every file as it is).
    Always,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Show what would change, file by file, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the XMP.
    #[arg(long, value_enum, default_value = "auto")]
    pub sidecar: SidecarMode,
    /// Also write plus:ModelReleaseStatus and plus:ModelReleaseID (PLUS model release fields).
    #[arg(long)]
    pub plus: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options every command that prints records shares.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, else jsonl]
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the output to FILE (created readable by the owner only) instead of stdout; with
    /// --format html (`report` only), the report's folder.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads [default: two per core: reading waits on the disk]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Which register, and the day to evaluate on.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The consent register: a CSV file, a directory of CSV files or an SQLite database
    /// [default: $CONSENTRY_REGISTER, else `register` in consentry.toml]
    #[arg(long, value_name = "PATH")]
    pub register: Option<PathBuf>,
    /// Evaluate on this day instead of today (YYYY-MM-DD or DD.MM.YYYY).
    #[arg(long = "as-of", value_name = "DATE", value_parser = parse_date)]
    pub as_of: Option<Date>,
}

/// What to scan and how.
#[derive(Debug, Args)]
pub struct WalkArgs {
    /// Files and directories [default: the current directory]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Top-level keyword that holds person names in keyword hierarchies (repeatable)
    /// [default: People, Persons, Personen, or people_roots in consentry.toml]
    #[arg(long = "people-root", value_name = "NAME")]
    pub people_roots: Vec<String>,
    /// Do not follow symbolic links.
    #[arg(long)]
    pub no_follow: bool,
}

/// Where a run keeps what it read (SPEC.md 7).
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The state of earlier runs: files that did not change since are not read again, and each
    /// run's changes are recorded for `report changes` [default: .consentry/state.sqlite under
    /// each file's archive root; the user's cache directory when the archive is read-only; none
    /// for files in no archive]. Given, one state for every archive of the command.
    #[arg(long, value_name = "PATH", conflicts_with = "no_state")]
    pub state: Option<PathBuf>,
    /// Read every file, and keep no state.
    #[arg(long)]
    pub no_state: bool,
}

/// What to scan, where the register is, and how to print: every archive command has these.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub register: RegisterArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Usage areas the files are to be published for, separated by commas.
    #[arg(long = "for", value_name = "USAGE", value_delimiter = ',', required = true)]
    pub usages: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// Red and yellow files with the missing persons and reasons.
    Missing,
    /// Consents expiring within --within DAYS, the files they clear and which would turn.
    Expiring,
    /// Every consent with validity, document, originator and the number of files using it.
    Consents,
    /// Files that have consents but may not be published for --for USAGE.
    Unreleased,
    /// Names found in files but absent from the register, with suggestions.
    UnknownPersons,
    /// Files per status and per usage area.
    Summary,
    /// What changed at the last run (or every run since --since DATE): files that became red,
    /// yellow or green, consents that expired or were revoked, new, moved and removed files.
    Changes,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(value_enum)]
    pub kind: ReportKind,
    /// For `expiring`: the window in days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u32,
    /// For `unreleased`: the usage areas, separated by commas.
    #[arg(long = "for", value_name = "USAGE", value_delimiter = ',')]
    pub usages: Vec<String>,
    /// For `changes`: every run that finished on or after this day instead of the last run.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<Date>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// List consents by person, originator and validity, with the number of files using each.
    Search(SearchArgs),
    /// Record a consent, or with several --person a group consent (one document, the same terms).
    Add(edit::AddArgs),
    /// Record a group consent for the persons named in the given files, covering exactly those
    /// files ("apply to marked images").
    Assign(edit::AssignArgs),
    /// Revoke consents from a day on; they stay in the register as history.
    Revoke(edit::RevokeArgs),
    /// Give consents a new expiry date (and a newly signed document).
    Extend(edit::ExtendArgs),
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Person name or alias (any case).
    #[arg(long)]
    pub person: Option<String>,
    /// Originator name (any case).
    #[arg(long)]
    pub originator: Option<String>,
    /// Only consents valid on this day.
    #[arg(long = "valid-on", value_name = "DATE", value_parser = parse_date)]
    pub valid_on: Option<Date>,
    /// Only consents valid at some day between these two.
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"], value_parser = parse_date)]
    pub between: Vec<Date>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PersonArgs {
    #[command(subcommand)]
    pub edit: Option<edit::PersonCommand>,
    /// The person's name or alias (for a person called `add`, `alias`, `rename`, `merge` or
    /// `list`: `person [OPTIONS] -- NAME [PATH...]`).
    #[arg(required = true)]
    pub name: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Report every error and warning of the register; exit 0 when clean, 1 otherwise.
    Check {
        #[command(flatten)]
        register: RegisterArgs,
    },
    /// Turn a CSV register (file or directory) into an SQLite register.
    Import {
        /// The CSV register.
        csv: PathBuf,
        /// The SQLite database to create or add to.
        #[arg(long, value_name = "DB")]
        into: PathBuf,
    },
    /// Create an empty SQLite register.
    Init {
        /// The database to create (`.sqlite`, `.sqlite3` or `.db`).
        db: PathBuf,
        /// Who creates it, for the audit log [default: $CONSENTRY_ACTOR, else the login name]
        #[arg(long, value_name = "NAME")]
        actor: Option<String>,
    },
    /// Write the register as one CSV file.
    Export {
        #[command(flatten)]
        register: RegisterArgs,
        /// Write to FILE instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Parse the command line and run; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    match run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            print_error(&e);
            Exit::Usage.into()
        }
    }
}

/// The fatal error on stderr, its control characters escaped; a register's problems one per line.
fn print_error(e: &anyhow::Error) {
    let mut context = Vec::new();
    for cause in e.chain() {
        if let Some(errors) = cause.downcast_ref::<register::RegisterErrors>() {
            let count = errors.0.iter().filter(|p| p.severity == register::Severity::Error).count();
            context.push(format!("the register has {count} error(s) and cannot be used:"));
            say!("consentry: error: {}", context.join(": "));
            for p in &errors.0 {
                say!("  {p}");
            }
            return;
        }
        context.push(cause.to_string());
    }
    say!("consentry: error: {}", context.join(": "));
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    check_html(&cli.command)?;
    match cli.command {
        Command::Init(a) => edit::init_archive(a),
        Command::Scan(a) => scan_command(a),
        Command::Check(a) => check_command(a),
        Command::Report(a) => report_command(a),
        Command::Consent(ConsentCommand::Search(a)) => search_command(a),
        Command::Consent(ConsentCommand::Add(a)) => edit::add(a),
        Command::Consent(ConsentCommand::Assign(a)) => edit::assign(a),
        Command::Consent(ConsentCommand::Revoke(a)) => edit::revoke(a),
        Command::Consent(ConsentCommand::Extend(a)) => edit::extend(a),
        Command::Person(PersonArgs { edit: Some(c), .. }) => edit::person(c),
        Command::Person(a) => person_command(a),
        Command::Exempt(a) => edit::exempt(a),
        Command::Originator(c) => edit::originator(c),
        Command::Register(c) => register_command(c),
        Command::Apply(a) => apply_command(a),
    }
}

/// A register being loaded on the scan's pool while the archive is walked and read: the load
/// and the scan overlap, and the first evaluation waits for the register. A register with
/// errors still stops the command before it writes anything (the sink asks for the register
/// before writing its first record).
struct PendingRegister {
    loading: crossbeam_channel::Receiver<std::thread::Result<anyhow::Result<Register>>>,
    loaded: std::sync::OnceLock<Mutex<Register>>,
}

impl PendingRegister {
    /// Load on the scan's pool: one worker loads while the others read files (a thread of its
    /// own would compete with them for the cores instead).
    fn spawn(
        pool: &rayon::ThreadPool,
        path: PathBuf,
        vocabulary: model::Vocabulary,
        quiet: bool,
        options: register::Options,
        cache: Option<PathBuf>,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.spawn(move || {
            let result =
                std::panic::catch_unwind(|| load_register(&path, &vocabulary, quiet, options, cache.as_deref()));
            let _ = tx.send(result);
        });
        PendingRegister { loading: rx, loaded: std::sync::OnceLock::new() }
    }

    /// Whether [`PendingRegister::get`] would return at once.
    fn is_ready(&self) -> bool {
        self.loaded.get().is_some() || !self.loading.is_empty()
    }

    /// The register, waiting for the load to finish; its errors the first time.
    fn get(&self) -> anyhow::Result<MutexGuard<'_, Register>> {
        if self.loaded.get().is_none() {
            if let Ok(result) = self.loading.recv() {
                let register = result.map_err(|_| anyhow::anyhow!("loading the register failed (panic)"))??;
                let _ = self.loaded.set(Mutex::new(register));
            }
        }
        let loaded = self.loaded.get().ok_or_else(|| anyhow::anyhow!("the register could not be loaded"))?;
        Ok(loaded.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How many scanned records `scan` keeps while the register is still loading.
const WAITING_RECORDS: usize = 100_000;

/// What a command needs of the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
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
    fn options(self) -> register::Options {
        match self {
            Need::Optional | Need::Register => register::Options::EVALUATION,
            Need::Whole => register::Options::CONSENTS,
            Need::WithEvidence => register::Options::FULL,
        }
    }
}

/// What a command works with: the scanned paths, the archives of their files (each with its
/// register and state), the date.
struct Context {
    paths: Vec<PathBuf>,
    archives: Arc<Archives>,
    date: Date,
    opts: ScanOptions,
    command: &'static str,
    quiet: bool,
}

/// The archives of a command's files, found while they are walked (SPEC.md 1, 3.1): each with
/// its register (loaded once per register path), vocabulary, people roots and state.
struct Archives {
    cwd: PathBuf,
    /// `--register` or `CONSENTRY_REGISTER`: the register of every file.
    register: Option<PathBuf>,
    /// `--people-root`: the people roots of every file.
    people_roots: Option<PeopleRoots>,
    need: Need,
    quiet: bool,
    /// Whether runs are recorded in states, and `--state`.
    tracked: bool,
    state: Option<PathBuf>,
    pool: Arc<rayon::ThreadPool>,
    cache: Option<PathBuf>,
    /// The scanned paths, absolute, as named and as real paths (only files under them can have
    /// been removed).
    scanned: Vec<PathBuf>,
    found: Mutex<Found>,
}

impl std::fmt::Debug for Archives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Archives")
    }
}

#[derive(Default)]
struct Found {
    finder: config::Finder,
    units: Vec<Arc<Unit>>,
    /// The unit of each archive (by the finder's index; `None`: files in no archive).
    by_archive: std::collections::HashMap<Option<usize>, usize>,
    registers: std::collections::HashMap<PathBuf, Arc<PendingRegister>>,
    states: std::collections::HashMap<PathBuf, Arc<StateSlot>>,
}

/// One archive of a command (or its files in no archive).
struct Unit {
    archive: Option<Arc<config::Archive>>,
    register: Option<Arc<PendingRegister>>,
    /// Why the command cannot go on with this archive's files (it needs a register and there
    /// is none, its state cannot be opened).
    problem: Option<String>,
    roots: PeopleRoots,
    state: Option<Arc<StateSlot>>,
}

/// A state and the run recorded in it.
struct StateSlot {
    known: Arc<state::Known>,
    run: Mutex<Option<state::Run>>,
    /// The register of the first archive kept in it (for the run's digest).
    register: Option<Arc<PendingRegister>>,
    /// The people roots its files are read with (a state remembers what files showed when read
    /// with these: `--state` shared by archives reading with other roots is refused).
    roots: PeopleRoots,
}

impl scan::Placement for Archives {
    fn place(&self, dir: &Path) -> Arc<scan::Place> {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let abs = config::absolute_in(&self.cwd, dir);
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let (real_dir, archive, error) = match std::fs::canonicalize(&abs) {
            Ok(real) => match found.finder.archive_of(&real) {
                Ok(archive) => (Some(real), archive, None),
                Err(e) => (Some(real), None, Some(format!("{e:#}"))),
            },
            Err(e) => (None, None, Some(format!("{}: {}", abs.display(), crate::walk::io_message(&e)))),
        };
        let unit = self.unit_for(&mut found, archive);
        let u = &found.units[unit];
        Arc::new(scan::Place {
            unit,
            real_dir,
            archive: u.archive.clone(),
            error,
            roots: u.roots.clone(),
            reuse: u.state.as_ref().map(|s| s.known.clone() as Arc<dyn scan::Reuse>),
        })
    }
}

impl Archives {
    /// The unit of the finder's archive `archive`, set up the first time.
    fn unit_for(&self, found: &mut Found, archive: Option<usize>) -> usize {
        if let Some(&unit) = found.by_archive.get(&archive) {
            return unit;
        }
        let index = archive;
        let archive = archive.map(|i| found.finder.archive(i).clone());
        let roots = self
            .people_roots
            .clone()
            .or_else(|| archive.as_ref().and_then(|a| a.people_roots.clone()))
            .unwrap_or_default();
        let vocabulary = archive.as_ref().map(|a| a.vocabulary.clone()).unwrap_or_default();
        let register_path = self.register.clone().or_else(|| archive.as_ref().and_then(|a| a.register.clone()));
        let mut problem = None;
        let register = match register_path {
            Some(path) => Some(
                found
                    .registers
                    .entry(config::absolute_in(&self.cwd, &path))
                    .or_insert_with(|| {
                        Arc::new(PendingRegister::spawn(
                            &self.pool,
                            path,
                            vocabulary,
                            self.quiet,
                            self.need.options(),
                            self.cache.clone(),
                        ))
                    })
                    .clone(),
            ),
            None if self.need != Need::Optional => {
                problem = Some(match &archive {
                    Some(a) => format!(
                        "this command needs a consent register: {} names none; give --register PATH or set {REGISTER_ENV}",
                        a.config_file().display()
                    ),
                    None => format!(
                        "this command needs a consent register: give --register PATH, set {REGISTER_ENV}, or mark \
                         the archive with `consentry init DIR` (no {} above the files)",
                        config::CONFIG_FILE
                    ),
                });
                None
            }
            None => None,
        };
        if archive.is_none() && register.is_some() && !self.quiet {
            say!(
                "consentry: some files are in no archive (no {} above them): only consents and exemptions \
                 scoped `*` cover them; mark the archive with `consentry init DIR`",
                config::CONFIG_FILE
            );
        }
        let state = match self.state_for(found, archive.as_deref(), &roots, register.as_ref()) {
            Ok(state) => state,
            Err(e) => {
                problem.get_or_insert(format!("{e:#}"));
                None
            }
        };
        found.units.push(Arc::new(Unit { archive, register, problem, roots, state }));
        let unit = found.units.len() - 1;
        found.by_archive.insert(index, unit);
        unit
    }

    /// The state the files of `archive` are kept in (SPEC.md 7): `--state` for every archive of
    /// the command, else each archive's own; files in no archive keep none.
    fn state_for(
        &self,
        found: &mut Found,
        archive: Option<&config::Archive>,
        roots: &PeopleRoots,
        register: Option<&Arc<PendingRegister>>,
    ) -> anyhow::Result<Option<Arc<StateSlot>>> {
        if !self.tracked {
            return Ok(None);
        }
        if let Some(slot) = self.state.as_ref().and_then(|p| found.states.get(p)) {
            if slot.roots != *roots {
                anyhow::bail!(
                    "--state {} is shared by archives that read persons with different people roots \
                     (people_roots in consentry.toml): run the command per archive, or without --state",
                    self.state.as_deref().unwrap_or(Path::new("")).display()
                );
            }
            return Ok(Some(slot.clone()));
        }
        let state = match (&self.state, archive) {
            (Some(path), _) => {
                let state = open_state(Path::new(""), Some(path), self.quiet)?;
                state.map(|s| (path.clone(), s))
            }
            (None, Some(a)) => open_state(&a.root, None, self.quiet)?.map(|s| (s.path().to_path_buf(), s)),
            (None, None) => None,
        };
        let Some((key, mut state)) = state else { return Ok(None) };
        let (known, note) = state.known(&self.cwd, roots)?;
        if let Some(note) = note {
            say!("consentry: {}: {note}; every file is read again", state.path().display());
        }
        let known = Arc::new(known);
        let run = state::Run::begin(state, known.clone(), &self.scanned);
        let slot = Arc::new(StateSlot {
            known,
            run: Mutex::new(Some(run)),
            register: register.cloned(),
            roots: roots.clone(),
        });
        found.states.insert(key, slot.clone());
        Ok(Some(slot))
    }

    fn unit(&self, unit: usize) -> Arc<Unit> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).units[unit].clone()
    }

    /// The registers of the archives met so far, each once.
    fn registers(&self) -> Vec<Arc<PendingRegister>> {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<PendingRegister>> = Vec::new();
        for r in found.units.iter().filter_map(|u| u.register.as_ref()) {
            if !out.iter().any(|o| Arc::ptr_eq(o, r)) {
                out.push(r.clone());
            }
        }
        out
    }
}

impl Context {
    /// A command over the archive that records its run in the state as `command`.
    fn new(common: &CommonArgs, need: Need, command: &'static str) -> anyhow::Result<Context> {
        Context::build(common, need, command, true)
    }

    /// A command that reads every file and records no run (`apply`, `consent assign`).
    fn untracked(common: &CommonArgs, need: Need, command: &'static str) -> anyhow::Result<Context> {
        if let Some(state) = &common.state.state {
            anyhow::bail!(
                "`{command}` reads every file and keeps no state: --state {} does not apply",
                state.display()
            );
        }
        Context::build(common, need, command, false)
    }

    fn build(common: &CommonArgs, need: Need, command: &'static str, tracked: bool) -> anyhow::Result<Context> {
        let (walk, reg, out) = (&common.walk, &common.register, &common.output);
        let paths = if walk.paths.is_empty() { vec![PathBuf::from(".")] } else { walk.paths.clone() };
        for p in &paths {
            if std::fs::symlink_metadata(p).is_err() {
                anyhow::bail!("{}: no such file or directory", p.display());
            }
        }
        let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from).filter(|p| !p.as_os_str().is_empty());
        let mut opts = ScanOptions {
            follow_links: !walk.no_follow,
            threads: out.threads.map(usize::from),
            ..ScanOptions::default()
        };
        let pool = opts.pool()?;
        opts.pool = Some(pool.clone());
        let cwd = std::env::current_dir()?;
        // The validated rows of a CSV register are kept between runs in the user's cache.
        let cache =
            state::cache_dir().filter(|dir| std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_ok());
        let archives = Arc::new(Archives {
            // As named and as real: a root that is a link is walked at its real path, the files
            // under a root that is not are keyed as walked.
            scanned: paths
                .iter()
                .flat_map(|p| {
                    let named = config::absolute_in(&cwd, p);
                    let real = std::fs::canonicalize(&named).ok().filter(|r| *r != named);
                    std::iter::once(named).chain(real)
                })
                .collect(),
            cwd,
            register: reg.register.clone().or(env),
            people_roots: (!walk.people_roots.is_empty()).then(|| PeopleRoots::new(&walk.people_roots)),
            need,
            quiet: out.quiet,
            tracked: tracked && !common.state.no_state,
            state: common.state.state.clone(),
            pool,
            cache,
            found: Mutex::new(Found::default()),
        });
        // The archives of the named paths are set up first: a problem with one of them stops
        // the command before any work.
        for p in &paths {
            let dir = if p.is_dir() { p.as_path() } else { p.parent().unwrap_or(Path::new("")) };
            let place = scan::Placement::place(&*archives, dir);
            if let Some(e) = &place.error {
                anyhow::bail!("{e}");
            }
            if let Some(problem) = &archives.unit(place.unit).problem {
                anyhow::bail!("{problem}");
            }
        }
        opts.placement = Some(archives.clone());
        let date = reg.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(Context { paths, archives, date, opts, command, quiet: out.quiet })
    }

    /// Record the runs in the states (after a complete scan). A state that cannot be written is
    /// reported and counted as an error of the run (exit 3): the next run reads every file.
    fn finish_runs(&self, summary: &mut ScanSummary) -> anyhow::Result<()> {
        let slots: Vec<Arc<StateSlot>> = {
            let found = self.archives.found.lock().unwrap_or_else(|e| e.into_inner());
            let mut slots: Vec<_> = found.states.values().cloned().collect();
            slots.sort_by_key(|s| s.run.lock().map(|r| r.as_ref().map(|r| r.path().to_path_buf())).ok().flatten());
            slots
        };
        for slot in slots {
            let Some(run) = slot.run.lock().unwrap_or_else(|e| e.into_inner()).take() else { continue };
            let register = slot.register.as_ref().map(|r| r.get()).transpose()?;
            let path = run.path().to_path_buf();
            let date = register.as_ref().map(|_| self.date);
            match run.finish(self.command, date, register.as_ref().map(|r| r.digest.as_str()), summary) {
                Ok(c) if !self.quiet => say!(
                    "State {}: {} files, {} read, {} unchanged; {} new, {} moved, {} removed; {} change(s) \
                     (`consentry report changes`).",
                    path.display(),
                    c.files,
                    c.read,
                    c.files - c.read,
                    c.new,
                    c.moved,
                    c.removed,
                    c.changes
                ),
                Ok(_) => {}
                Err(e) => {
                    say!("consentry: {}: the state could not be written: {e:#}", path.display());
                    summary.errors += 1;
                }
            }
        }
        Ok(())
    }

    /// Whether files are evaluated (a register is given, or one of the named paths' archives
    /// names one).
    fn evaluates(&self) -> bool {
        self.archives.register.is_some() || !self.archives.registers().is_empty()
    }

    /// The one register of a command that needs the whole register (listings of consents and
    /// names): its files must all use the same one.
    fn required_register(&self) -> anyhow::Result<Arc<PendingRegister>> {
        let mut registers = self.archives.registers();
        match registers.len() {
            0 => anyhow::bail!("this command needs a consent register"),
            1 => Ok(registers.remove(0)),
            _ => anyhow::bail!(
                "the files belong to archives with different registers: run this command once per archive \
                 (or give --register PATH)"
            ),
        }
    }

    /// The evaluation of a media file or an unwalkable path whose archive-relative path is `rel`
    /// (`None` in no archive; none for orphan sidecars, which are not media). A record with
    /// errors and an unwalkable path are `unreadable` ([`FileRecord::evaluate`]). Builds the
    /// consents of the persons shown first, when the register defers them.
    fn evaluate(&self, register: &mut Register, rec: &FileRecord, rel: Option<&str>) -> Option<Decision> {
        if rec.subject == scan::Subject::OrphanSidecar {
            return None;
        }
        register.prepare(rec.depicted.persons.iter().map(String::as_str));
        Some(rec.evaluate(rel, register, self.date))
    }

    /// Scan, evaluating each record in walk order by its own archive and handing it to `emit`
    /// with its archive-relative path (`None` in no archive), its decision (none without a
    /// register, for orphan sidecars and unwalkable paths) and its register. Records that
    /// arrive while their register is still loading wait (up to a bound), so that the workers
    /// go on reading meanwhile. A register with errors stops the scan before the next record is
    /// emitted; its error is returned.
    fn scan_evaluated(
        &self,
        progress: &Progress,
        mut emit: impl FnMut(FileRecord, Option<String>, Option<Decision>, Option<&Register>) -> io::Result<()>,
    ) -> anyhow::Result<Result<ScanSummary, io::Error>> {
        let mut waiting: Vec<FileRecord> = Vec::new();
        let mut register_error = None;
        let mut feed = |rec: Option<FileRecord>, waiting: &mut Vec<FileRecord>| -> io::Result<()> {
            let mut fail = |e: anyhow::Error| {
                register_error = Some(e);
                io::Error::other("the register cannot be used")
            };
            if let Some(rec) = rec {
                progress.inc();
                if let Some(e) = rec.error() {
                    progress.println(&format!("consentry: {}: {e}", rec.path.display()));
                }
                let Some(unit) = rec.placed.as_ref().map(|p| self.archives.unit(p.unit)) else {
                    return Err(fail(anyhow::anyhow!("{}: not placed in an archive", rec.path.display())));
                };
                let loading = unit.register.as_ref().is_some_and(|r| !r.is_ready());
                waiting.push(rec);
                if loading && waiting.len() < WAITING_RECORDS {
                    return Ok(());
                }
            }
            for rec in waiting.drain(..) {
                let placed = rec.placed.clone().unwrap_or(scan::Placed { unit: 0, rel: None });
                let unit = self.archives.unit(placed.unit);
                if let Some(problem) = &unit.problem {
                    return Err(fail(anyhow::anyhow!("{problem}")));
                }
                let mut register = unit.register.as_ref().map(|r| r.get()).transpose().map_err(&mut fail)?;
                let abs = config::absolute_in(&self.archives.cwd, &rec.path);
                let decision = register.as_deref_mut().and_then(|r| self.evaluate(r, &rec, placed.rel.as_deref()));
                if let Some(slot) = &unit.state {
                    if let Some(run) = slot.run.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        run.observe(abs, &rec, decision.as_ref(), register.as_deref(), self.date);
                    }
                }
                emit(rec, placed.rel, decision, register.as_deref())?;
            }
            Ok(())
        };
        let summary = scan::scan(&self.paths, &self.opts, |rec| feed(Some(rec), &mut waiting))
            .and_then(|summary| feed(None, &mut waiting).map(|()| summary));
        if let Some(e) = register_error {
            return Err(e);
        }
        // An empty archive evaluates nothing: its register is still checked.
        for register in self.archives.registers() {
            drop(register.get()?);
        }
        let mut summary = summary;
        if let Ok(summary) = &mut summary {
            self.finish_runs(summary)?;
        }
        Ok(summary)
    }

    /// Scan and evaluate everything, keeping the records (for reports), with progress and the
    /// error lines on stderr. Walk errors are kept as records too (they block `check`).
    fn collect(&self, quiet: bool) -> anyhow::Result<(Vec<Evaluated>, ScanSummary)> {
        let progress = Progress::new(quiet);
        let mut files = Vec::new();
        let summary = self.scan_evaluated(&progress, |record, rel_path, decision, _| {
            // Orphan sidecars have no decision; unwalkable paths do: they are `unreadable` and
            // block `check`.
            let Some(decision) = decision else { return Ok(()) };
            files.push(Evaluated { record, rel_path, decision });
            Ok(())
        })??;
        progress.finish();
        Ok((files, summary))
    }

    /// Resolve usage words against the vocabulary of the first named path's archive; an
    /// unknown word is a usage error.
    fn usages(&self, words: &[String]) -> anyhow::Result<Vec<String>> {
        let first = self.archives.unit(0);
        let vocabulary = first.archive.as_ref().map(|a| a.vocabulary.clone()).unwrap_or_default();
        resolve_usages(&vocabulary, words)
    }
}

/// Resolve usage words against a vocabulary; an unknown word is a usage error.
fn resolve_usages(vocabulary: &model::Vocabulary, words: &[String]) -> anyhow::Result<Vec<String>> {
    words
        .iter()
        .filter(|w| !w.trim().is_empty())
        .map(|w| {
            vocabulary.resolve(w).map(str::to_string).ok_or_else(|| {
                let known: Vec<&str> = vocabulary.names().collect();
                anyhow::anyhow!("unknown usage area {w:?}; known: {}", known.join(", "))
            })
        })
        .collect()
}

/// Open the state: `--state`, else the archive's own, else (the archive is read-only) one in
/// the user's cache directory.
/// `None` when neither the archive nor the cache directory can be written (the run then reads
/// every file and records nothing, with a hint).
fn open_state(root: &Path, explicit: Option<&Path>, quiet: bool) -> anyhow::Result<Option<state::State>> {
    // A damaged state is moved aside only in consentry's own places: `--state` may name anything.
    let damaged = if explicit.is_some() { state::Damaged::Refuse } else { state::Damaged::MoveAside };
    let opened = |path: &Path| {
        state::State::open(path, damaged).map(|(state, note)| {
            if let Some(note) = note.filter(|n| n.warning || !quiet) {
                say!("consentry: {}: {note}; every file is read again", path.display());
            }
            state
        })
    };
    if let Some(path) = explicit {
        return opened(path).map(Some).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let own = match opened(&state::default_path(root)) {
        Ok(state) => return Ok(Some(state)),
        Err(state::OpenError::NotWritable { path, source }) => format!("{}: {source}", path.display()),
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    };
    let Some(cache) = state::cache_path(root) else {
        if !quiet {
            say!("consentry: no state kept ({own}; no cache directory): every file is read");
        }
        return Ok(None);
    };
    match opened(&cache) {
        Ok(state) => {
            if !quiet {
                say!("consentry: the archive cannot be written here; its state is kept in {}", cache.display());
            }
            Ok(Some(state))
        }
        Err(state::OpenError::NotWritable { .. }) => {
            if !quiet {
                say!("consentry: no state kept ({own}; nor in {}): every file is read", cache.display());
            }
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// Load a register or stop: every problem printed on stderr, exit 2, nothing written.
fn load_register(
    path: &Path,
    vocabulary: &model::Vocabulary,
    quiet: bool,
    options: register::Options,
    cache: Option<&Path>,
) -> anyhow::Result<Register> {
    match register::load_cached(path, vocabulary, options, cache) {
        Ok(loaded) => {
            if !quiet && !loaded.warnings.is_empty() {
                say!(
                    "consentry: the register has {} warning(s) (see `consentry register check`)",
                    loaded.warnings.len()
                );
            }
            Ok(loaded.register)
        }
        Err(errors) => Err(anyhow::Error::new(errors).context(path.display().to_string())),
    }
}

fn scan_command(args: ScanArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::Optional, "scan")?;
    let progress = Progress::new(out.quiet);
    let started = Instant::now();
    let evaluated = ctx.evaluates();
    let mut register_error = None;
    // Files per status (with a register), in [`Status::ALL`] order.
    let mut statuses = [0u64; Status::ALL.len()];
    let summary = with_writer(out, |w, format| {
        let mut writer = RecordWriter::new(format, w, evaluated);
        let scanned = ctx.scan_evaluated(&progress, |rec, _, decision, _| {
            if let Some(d) = &decision {
                statuses[d.status as usize] += 1;
            }
            writer.write(&rec, decision.as_ref())
        });
        let summary = match scanned {
            Ok(summary) => summary?,
            Err(e) => {
                register_error = Some(e);
                return Err(io::Error::other("the register cannot be used"));
            }
        };
        writer.finish()?;
        Ok(summary)
    });
    if let Some(e) = register_error {
        return Err(e);
    }
    let summary = summary?;
    progress.finish();
    let Some(summary) = summary else {
        return Ok(Exit::Ok); // stdout closed (e.g. piped into `head`): stop quietly
    };
    if !out.quiet {
        let mut line = summary_line(&summary, started.elapsed());
        if evaluated {
            let counts: Vec<String> =
                Status::ALL.iter().zip(statuses).map(|(s, n)| format!("{n} {}", s.as_str())).collect();
            line.push_str(&format!(" Status: {}.", counts.join(", ")));
        }
        say!("{line}");
    }
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

fn check_command(args: CheckArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::Register, "check")?;
    let usages = ctx.usages(&args.usages)?;
    let wanted: Vec<&str> = usages.iter().map(String::as_str).collect();
    let (files, _) = ctx.collect(out.quiet)?;
    let mut rows = Vec::new();
    for f in &files {
        let d = &f.decision;
        let why = if d.status == Status::Unreadable {
            format!("unreadable: {}", f.record.error().unwrap_or_default())
        } else if !d.missing.is_empty() {
            let m: Vec<String> = d.missing.iter().map(|m| format!("{} ({})", m.name, m.reason.as_str())).collect();
            format!("missing consent: {}", m.join(", "))
        } else if !d.allows(&wanted) {
            let lacking: Vec<&str> = wanted.iter().copied().filter(|u| !d.allows(&[u])).collect();
            format!("not released for {}", lacking.join(", "))
        } else {
            continue;
        };
        let cells = vec![serde_json::json!(f.path()), serde_json::json!(d.status.as_str()), serde_json::json!(why)];
        rows.push(report::FileRow::new(&f.record.path, cells));
    }
    let blocking = rows.len();
    let table = report::Table::files(vec!["path", "status", "reason"], rows);
    if with_writer(out, |w, format| output::write_report(format, &table, w))?.is_none() {
        return Ok(Exit::Findings);
    }
    if !out.quiet {
        say!(
            "Checked {} files for {} on {}: {} blocking, {} cleared.",
            files.len(),
            usages.join(", "),
            ctx.date,
            blocking,
            files.len() - blocking
        );
    }
    Ok(if blocking > 0 { Exit::Findings } else { Exit::Ok })
}

fn report_command(args: ReportArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    // Listings of all consents or names need the whole register; the others evaluate files.
    let need = match args.kind {
        ReportKind::Changes => return changes_command(&args),
        ReportKind::Consents => Need::WithEvidence,
        ReportKind::Expiring | ReportKind::UnknownPersons => Need::Whole,
        ReportKind::Missing | ReportKind::Unreleased | ReportKind::Summary => Need::Register,
    };
    let ctx = Context::new(&args.common, need, "report")?;
    let html = out.format == Some(OutputFormat::Html);
    let usages = ctx.usages(&args.usages)?;
    if args.kind == ReportKind::Unreleased && usages.is_empty() {
        anyhow::bail!("`report unreleased` needs --for USAGE");
    }
    let (files, summary) = ctx.collect(out.quiet)?;
    // `missing` and `unreleased` list files, each evaluated by its own archive; the other
    // reports list or count by one register, which all the files must share.
    let pending = match args.kind {
        ReportKind::Missing | ReportKind::Unreleased => None,
        _ => Some(ctx.required_register()?),
    };
    let guard = pending.as_ref().map(|p| p.get()).transpose()?;
    let register = || guard.as_deref().ok_or_else(|| anyhow::anyhow!("this report needs a consent register"));
    let wanted: Vec<&str> = usages.iter().map(String::as_str).collect();
    let table = match args.kind {
        ReportKind::Missing => report::missing(&files),
        ReportKind::Expiring => report::expiring(&files, register()?, ctx.date, args.within),
        ReportKind::Consents => {
            // Written as the rows come: a register may hold 100,000 consents.
            let rows = report::consent_rows(&files, register()?, ctx.date);
            let columns = report::CONSENT_COLUMNS;
            if !html {
                with_writer(out, |w, format| output::write_rows(format, &columns, rows, w))?;
                return Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok });
            }
            report::Table::other(columns.to_vec(), rows.collect())
        }
        ReportKind::Unreleased => report::unreleased(&files, &wanted),
        ReportKind::UnknownPersons => report::unknown_persons(&files, register()?),
        ReportKind::Summary => report::summary(&files, register()?),
        ReportKind::Changes => unreachable!("answered from the state before any scan"),
    };
    if html {
        let title = report_title(&args, &usages);
        write_html_report(out, &title, ctx.date, &*ctx.opts.pool()?, &table, &files)?;
    } else {
        with_writer(out, |w, format| output::write_report(format, &table, w))?;
    }
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// `report changes`: read from the state alone (no scan, no register).
fn changes_command(args: &ReportArgs) -> anyhow::Result<Exit> {
    let (common, out) = (&args.common, &args.common.output);
    if common.state.no_state {
        anyhow::bail!("`report changes` reads the state: it cannot go with --no-state");
    }
    let path = match &common.state.state {
        Some(path) => path.clone(),
        None => {
            let paths = if common.walk.paths.is_empty() { vec![PathBuf::from(".")] } else { common.walk.paths.clone() };
            let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from);
            let settings = config::discover(&paths, common.register.register.as_deref(), env)?;
            let Some(archive) = settings.archive else {
                anyhow::bail!(
                    "{} is in no archive (no {} above it), which keeps no state; mark it with `consentry init`, \
                     or give --state PATH",
                    paths[0].display(),
                    config::CONFIG_FILE
                );
            };
            let own = state::default_path(&archive.root);
            match state::cache_path(&archive.root) {
                Some(cache) if !own.is_file() && cache.is_file() => cache,
                _ => own,
            }
        }
    };
    let state = state::State::open_existing(&path)?;
    let (runs, changes) = state.changes(args.since)?;
    let (table, about) = report::changes(args.since, &runs, &changes);
    if !out.quiet {
        say!("consentry: {}: {about}; {} row(s).", path.display(), table.len());
    }
    if out.format == Some(OutputFormat::Html) {
        let today = chrono::Local::now().date_naive();
        let pool = ScanOptions { threads: out.threads.map(usize::from), ..ScanOptions::default() }.pool()?;
        write_html_report(out, "Changes", today, &pool, &table, &[])?;
    } else {
        with_writer(out, |w, format| output::write_report(format, &table, w))?;
    }
    Ok(Exit::Ok)
}

/// `--format html` writes a folder: only `report` does, and only with `-o DIR`. Checked before
/// any work, so that a long scan does not end in a usage error.
fn check_html(command: &Command) -> anyhow::Result<()> {
    let (out, report) = match command {
        Command::Report(a) => (&a.common.output, true),
        Command::Scan(ScanArgs { common }) | Command::Person(PersonArgs { common, .. }) => (&common.output, false),
        Command::Check(CheckArgs { common, .. }) | Command::Apply(ApplyArgs { common, .. }) => (&common.output, false),
        Command::Consent(ConsentCommand::Search(a)) => (&a.common.output, false),
        // The commands that change the register refuse html while reading their arguments.
        Command::Consent(_) | Command::Exempt(_) | Command::Originator(_) | Command::Register(_) | Command::Init(_) => {
            return Ok(())
        }
    };
    if out.format != Some(OutputFormat::Html) {
        return Ok(());
    }
    if !report {
        anyhow::bail!("--format html is for `consentry report KIND --format html -o DIR` only");
    }
    if out.output.is_none() {
        anyhow::bail!("--format html writes a folder (index.html and thumbnails): give it with -o DIR");
    }
    Ok(())
}

/// The title of a report's HTML page.
fn report_title(args: &ReportArgs, usages: &[String]) -> String {
    match args.kind {
        ReportKind::Missing => "Files missing consent".to_string(),
        ReportKind::Expiring => format!("Consents expiring within {} days", args.within),
        ReportKind::Consents => "Consents".to_string(),
        ReportKind::Unreleased => format!("Files not released for {}", usages.join(", ")),
        ReportKind::UnknownPersons => "Persons not in the register".to_string(),
        ReportKind::Summary => "Summary".to_string(),
        ReportKind::Changes => "Changes".to_string(),
    }
}

/// Write the HTML folder of a report and say on stderr where (counts only, no names).
fn write_html_report(
    out: &OutputArgs,
    title: &str,
    date: Date,
    pool: &rayon::ThreadPool,
    table: &report::Table,
    files: &[Evaluated],
) -> anyhow::Result<()> {
    let dir = out.output.as_deref().ok_or_else(|| anyhow::anyhow!("--format html needs -o DIR"))?;
    let started = Instant::now();
    let written = pool.install(|| crate::html::write(dir, title, date, table, files))?;
    if !out.quiet {
        say!(
            "Wrote the HTML report {} in {:.2} s: {} rows, {} thumbnails ({} from embedded previews), {} placeholders.",
            written.index.display(),
            started.elapsed().as_secs_f64(),
            written.rows,
            written.thumbnails,
            written.from_previews,
            written.placeholders
        );
    }
    Ok(())
}

fn search_command(args: SearchArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::WithEvidence, "consent search")?;
    let pending = ctx.required_register()?;
    let identity = match &args.person {
        Some(p) => match pending.get()?.identity(p) {
            Some(id) => Some(id),
            None => {
                say!("consentry: no person {p:?} in the register");
                return Ok(Exit::Ok);
            }
        },
        None => None,
    };
    // The register is locked while files are evaluated: take it after.
    let (files, _) = ctx.collect(out.quiet)?;
    let register = pending.get()?;
    let used = report::files_per_consent(&files);
    let between = match args.between.as_slice() {
        [from, to] => Some((*from.min(to), *from.max(to))),
        _ => None,
    };
    let rows = register
        .consents
        .iter()
        .filter(|c| identity.is_none_or(|id| register.identity(&c.person) == Some(id)))
        .filter(|c| {
            args.originator
                .as_deref()
                .is_none_or(|o| c.originator.as_deref().is_some_and(|co| co.eq_ignore_ascii_case(o)))
        })
        .filter(|c| args.valid_on.is_none_or(|d| consent::valid_on(c, d)))
        .filter(|c| {
            between.is_none_or(|(from, to)| {
                let end = [c.expires, c.revoked.map(|r| r.pred_opt().unwrap_or(r))].into_iter().flatten().min();
                c.granted <= to && end.is_none_or(|e| e >= from)
            })
        })
        .map(|c| report::consent_row(c, ctx.date, used.get(c.id.as_str()).copied().unwrap_or(0)))
        .collect();
    let table = report::Table::other(report::CONSENT_COLUMNS.to_vec(), rows);
    with_writer(out, |w, format| output::write_report(format, &table, w))?;
    Ok(Exit::Ok)
}

fn person_command(args: PersonArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::Whole, "person")?;
    let (files, summary) = ctx.collect(out.quiet)?;
    let pending = ctx.required_register()?;
    let register = pending.get()?;
    let name = args.name.as_deref().unwrap_or_default();
    let key = model::name_key(name);
    let identity = register.identity(name);
    let same = |n: &str| match identity {
        Some(id) => register.identity(n) == Some(id),
        None => model::name_key(n) == key,
    };
    let mut rows = Vec::new();
    if let Some(id) = identity {
        for c in register.consents_of(id) {
            rows.push(vec![
                serde_json::json!("consent"),
                serde_json::json!(c.id),
                serde_json::json!(report::validity(c, ctx.date)),
                serde_json::json!(format!(
                    "{} from {} until {}",
                    c.usage.iter().cloned().collect::<Vec<_>>().join(", "),
                    c.granted,
                    c.expires.map_or("unlimited".to_string(), |e| e.to_string())
                )),
            ]);
        }
    }
    for f in files.iter().filter(|f| f.record.depicted.persons.iter().any(|p| same(p))) {
        let own = f.decision.missing.iter().find(|m| same(&m.name)).map(|m| m.reason.as_str());
        let note = match own {
            // Whatever consent the person has, a file not read completely is cleared for nothing.
            _ if f.decision.status == Status::Unreadable => {
                format!("unreadable: {}", f.record.error().unwrap_or_default())
            }
            Some(reason) => format!("no valid consent: {reason}"),
            None if f.decision.exempted.iter().any(|p| same(p)) => "exempted".to_string(),
            None => format!("consent covers {}", f.decision.usage.join(", ")),
        };
        rows.push(vec![
            serde_json::json!("file"),
            serde_json::json!(f.path()),
            serde_json::json!(f.decision.status.as_str()),
            serde_json::json!(note),
        ]);
    }
    let table = report::Table::other(vec!["kind", "item", "status", "detail"], rows);
    with_writer(out, |w, format| output::write_report(format, &table, w))?;
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

fn apply_command(args: ApplyArgs) -> anyhow::Result<Exit> {
    use rayon::prelude::*;
    let out = &args.common.output;
    // `apply` reads every file (it compares with what it wrote before) and records no run:
    // the files it rewrites are read again by the next run.
    let mut ctx = Context::untracked(&args.common, Need::Register, "apply")?;
    ctx.opts.written = true; // compare with what a previous apply wrote without reading again
    let (files, summary) = ctx.collect(out.quiet)?;
    // Each file is stamped with its own archive's register, in that register's vocabulary.
    // And its people roots, with which a rewritten copy is read back.
    let mut stamps: std::collections::HashMap<usize, (apply::Stamp, model::Vocabulary, PeopleRoots)> =
        std::collections::HashMap::new();
    for unit in files.iter().filter_map(|f| f.record.placed.as_ref().map(|p| p.unit)) {
        if stamps.contains_key(&unit) {
            continue;
        }
        let unit_of = ctx.archives.unit(unit);
        if let Some(pending) = &unit_of.register {
            let register = pending.get()?;
            let stamp = apply::Stamp { evaluated_at: ctx.date.to_string(), register_digest: register.digest.clone() };
            stamps.insert(unit, (stamp, register.vocabulary.clone(), unit_of.roots.clone()));
        }
    }
    apply::register_namespace().map_err(|e| anyhow::anyhow!(e))?;

    // Sidecars: `name.xmp` shared by several files (`IMG_1.CR2` and `IMG_1.JPG`) is left to
    // none of them; each gets its own `name.ext.xmp` (`apply::target`).
    let mut planned = Vec::new();
    // (path, message naming the path) of every file not written.
    let mut failed: Vec<(String, String)> = Vec::new();
    for f in &files {
        // Never a decision written into a file that could not be read completely.
        if f.decision.status == Status::Unreadable {
            let e = f.record.error().unwrap_or_default();
            failed.push((f.path(), format!("{}: not written: the file could not be read: {e}", f.path())));
            continue;
        }
        if !f.record.is_media() {
            continue;
        }
        let always = args.sidecar == SidecarMode::Always;
        match apply::target(&f.record.path, f.record.format, &f.record.sidecars, &f.record.shared_sidecars, always) {
            Ok((target, why)) => planned.push((f, target, why)),
            Err(e) => failed.push((f.path(), e)),
        }
    }
    // One write per file on disk: a file reached by two paths (symbolic links, overlapping
    // arguments) is written once.
    let (mut seen, mut new_paths) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    let mut work = Vec::new();
    for (f, target, why) in planned {
        let fresh = match std::fs::metadata(target.path()) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                seen.insert((m.dev(), m.ino()))
            }
            Err(_) => new_paths.insert(target.path().to_path_buf()), // a sidecar to be created
        };
        if !fresh {
            continue;
        }
        let Some((stamp, vocabulary, roots)) = f.record.placed.as_ref().and_then(|p| stamps.get(&p.unit)) else {
            failed.push((f.path(), format!("{}: not written: no register evaluated it", f.path())));
            continue;
        };
        work.push((f, target, apply::fields(&f.decision, vocabulary, args.plus), why, (stamp, roots)));
    }
    if !args.dry_run {
        let dirs: std::collections::BTreeSet<&Path> =
            work.iter().filter_map(|(_, t, _, _, _)| t.path().parent()).collect();
        for d in dirs {
            apply::remove_stale_temps(d);
        }
    }
    let pool = ctx.opts.pool()?;
    // In batches: new versions written beside the files in parallel, flushed with one sync per
    // file system, then renamed over the files; each directory flushed once at the end. A batch
    // holds its copies and the files they replace open (and locked) until the rename; up to three
    // batches are alive (committed, waiting, prepared): room for them in the open-file limit.
    raise_open_file_limit(6 * APPLY_BATCH as u64 + 256);
    // While one batch is flushed (the disk works, the cores wait) and renamed, the next is
    // prepared.
    let outcomes: Vec<apply::Outcome> = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<apply::Prepared>>(1);
        let total = work.len();
        let committer = scope.spawn(move || {
            let mut outcomes = Vec::with_capacity(total);
            for prepared in rx {
                apply::sync_copies(prepared.iter().filter_map(|p| match p {
                    apply::Prepared::Ready(r) => Some(r),
                    apply::Prepared::Done(_) => None,
                }));
                outcomes.extend(prepared.into_iter().map(|p| match p {
                    apply::Prepared::Done(o) => o,
                    apply::Prepared::Ready(r) => {
                        let path = r.path().display().to_string();
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply::commit(r))).unwrap_or_else(
                            |panic| {
                                apply::Outcome::Failed(format!(
                                    "{path}: internal error while replacing it: {}",
                                    scan::panic_message(&panic)
                                ))
                            },
                        )
                    }
                }));
            }
            outcomes
        });
        pool.install(|| {
            for batch in work.chunks(APPLY_BATCH) {
                let prepared: Vec<apply::Prepared> = batch
                    .par_iter()
                    .map(|(f, target, fields, _, (stamp, roots))| {
                        // What the scan read of the target, when the target is what it read.
                        let known = match target {
                            apply::Target::Embedded(..) => f.record.written.as_deref(),
                            apply::Target::Sidecar(p) if f.record.sidecars.first() == Some(p) => {
                                f.record.written_sidecar.as_deref()
                            }
                            apply::Target::Sidecar(_) => None,
                        };
                        // A panic in one file's write is an error for that file.
                        let write = || {
                            let basis = apply::Basis::of(&f.record, target, roots)?;
                            Ok(apply::prepare(target, fields, stamp, args.dry_run, known, &basis))
                        };
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)) {
                            Ok(Ok(prepared)) => prepared,
                            Ok(Err(e)) => apply::Prepared::Done(apply::Outcome::Failed(e)),
                            Err(panic) => apply::Prepared::Done(apply::Outcome::Failed(format!(
                                "{}: internal error while writing, not written: {}",
                                target.path().display(),
                                scan::panic_message(&panic)
                            ))),
                        }
                    })
                    .collect();
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
        drop(tx);
        committer.join().expect("the committer does not panic")
    });
    let touched: std::collections::BTreeSet<&Path> = work
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, apply::Outcome::Written { .. }) && !args.dry_run)
        .filter_map(|((_, t, _, _, _), _)| t.path().parent())
        .collect();
    apply::sync_dirs(touched);

    let (mut written, mut unchanged) = (0usize, 0usize);
    let mut rows = Vec::new();
    for ((f, target, fields, why, _), outcome) in work.iter().zip(&outcomes) {
        let (action, detail) = match outcome {
            apply::Outcome::Unchanged => {
                unchanged += 1;
                continue;
            }
            apply::Outcome::Written { before } => {
                written += 1;
                let mut changes: Vec<String> = apply::describe(before, fields)
                    .into_iter()
                    .map(|(k, (a, b))| {
                        format!(
                            "{k}: {} -> {}",
                            if a.is_empty() { "-" } else { &a },
                            if b.is_empty() { "-" } else { &b }
                        )
                    })
                    .collect();
                changes.extend(why.map(str::to_string));
                (if args.dry_run { "would write" } else { "written" }, changes.join("; "))
            }
            apply::Outcome::Failed(e) => {
                failed.push((f.path(), e.clone()));
                continue;
            }
        };
        let cells = vec![
            serde_json::json!(f.path()),
            serde_json::json!(target.path().display().to_string()),
            serde_json::json!(action),
            serde_json::json!(detail),
        ];
        rows.push(report::FileRow::new(&f.record.path, cells));
    }
    for (path, e) in &failed {
        say!("consentry: {e}");
        let cells =
            vec![serde_json::json!(path), serde_json::Value::Null, serde_json::json!("failed"), serde_json::json!(e)];
        rows.push(report::FileRow::new(Path::new(path), cells));
    }
    let table = report::Table::files(vec!["path", "target", "action", "detail"], rows);
    with_writer(out, |w, format| output::write_report(format, &table, w))?;
    if !out.quiet {
        let verb = if args.dry_run { "would write" } else { "wrote" };
        let unreadable = failed.len() - outcomes.iter().filter(|o| matches!(o, apply::Outcome::Failed(_))).count();
        say!(
            "{} files: {verb} {written}, {unchanged} unchanged, {} not written.",
            work.len() + unreadable,
            failed.len()
        );
    }
    Ok(if failed.is_empty() && summary.errors == 0 { Exit::Ok } else { Exit::Partial })
}

/// Files `apply` prepares before one flush: each flush waits for the disk, so fewer are faster.
const APPLY_BATCH: usize = 256;

/// Raise the soft limit of open files to at least `want` (up to the hard limit).
fn raise_open_file_limit(want: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn register_command(cmd: RegisterCommand) -> anyhow::Result<Exit> {
    let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from);
    let here = [PathBuf::from(".")];
    match cmd {
        RegisterCommand::Check { register: reg } => {
            let settings = config::discover(&here, reg.register.as_deref(), env)?;
            let Some(path) = settings.register else { anyhow::bail!("no register given (--register PATH)") };
            let problems = match register::load(&path, &settings.vocabulary) {
                Ok(loaded) => loaded.warnings,
                Err(errors) => errors.0,
            };
            for p in &problems {
                println!("{}", output::escape_controls(&p.to_string()));
            }
            let errors = problems.iter().filter(|p| p.severity == register::Severity::Error).count();
            say!("{}: {errors} error(s), {} warning(s).", path.display(), problems.len() - errors);
            Ok(if problems.is_empty() { Exit::Ok } else { Exit::Findings })
        }
        RegisterCommand::Import { csv, into } => {
            let settings = config::discover(&here, Some(&csv), None)?;
            let register = load_register(&csv, &settings.vocabulary, false, register::Options::FULL, None)?;
            let actor = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
            let imported = register::sqlite::import(&register, &register::documents_base(&csv), &into, &actor)
                .map_err(|e| {
                    anyhow::Error::from(e).context(format!("{}: cannot import into {}", csv.display(), into.display()))
                })?;
            for warning in &imported.warnings {
                say!("consentry: {}: warning: {warning}", csv.display());
            }
            let stats = imported.stats;
            say!(
                "Imported {} consents, {} persons ({} aliases), {} originators, {} documents and {} exemptions from {} into {}.",
                stats.consents,
                stats.persons,
                stats.aliases,
                stats.originators,
                stats.documents,
                stats.exemptions,
                csv.display(),
                into.display()
            );
            Ok(Exit::Ok)
        }
        RegisterCommand::Init { db, actor } => edit::init(&db, actor.as_deref()),
        RegisterCommand::Export { register: reg, output } => {
            let settings = config::discover(&here, reg.register.as_deref(), env)?;
            let Some(path) = settings.register else { anyhow::bail!("no register given (--register PATH)") };
            let register = load_register(&path, &settings.vocabulary, false, register::Options::CONSENTS, None)?;
            let args = OutputArgs { format: Some(OutputFormat::Csv), output, threads: None, quiet: true };
            with_writer(&args, |mut w, _| register::export::export_csv(&register, &mut w))?;
            Ok(Exit::Ok)
        }
    }
}

/// Run `body` on stdout or on the `-o` file with the chosen format. Returns `None` when stdout
/// was closed by the reader (`| head`). A new `-o` file, or one replacing a regular file, is
/// written to a temporary file beside it (mode 0600: reports name people) and renamed into
/// place only when everything was written. Anything else at that path (a device such as
/// `/dev/null`, a FIFO, a terminal, a symbolic link such as `/dev/stdout`) is opened and
/// written directly, its mode left alone: renaming over it would replace the device or link.
fn with_writer<T>(
    out: &OutputArgs,
    body: impl FnOnce(&mut dyn Write, OutputFormat) -> io::Result<T>,
) -> anyhow::Result<Option<T>> {
    let default_format =
        || if out.output.is_none() && io::stdout().is_terminal() { OutputFormat::Table } else { OutputFormat::Jsonl };
    let format = out.format.unwrap_or_else(default_format);
    match &out.output {
        None => {
            let mut w = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            match body(&mut w, format).and_then(|v| w.flush().map(|()| v)) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(None),
                Err(e) => Err(anyhow::anyhow!("writing to stdout: {e}")),
            }
        }
        Some(path) => match output::replace_target(path) {
            None => {
                // A device, FIFO or terminal (or a link to one): written to, never replaced.
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| anyhow::anyhow!("{}: cannot open for writing: {e}", path.display()))?;
                let mut w = io::BufWriter::new(file);
                let value = body(&mut w, format)
                    .and_then(|v| w.flush().map(|()| v))
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
                Ok(Some(value))
            }
            Some(target) => {
                let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tmp = tempfile::Builder::new()
                    .prefix(crate::own::TEMP_PREFIX)
                    .tempfile_in(dir)
                    .map_err(|e| anyhow::anyhow!("{}: cannot create output file: {e}", path.display()))?;
                let mut w = io::BufWriter::new(tmp.as_file().try_clone()?);
                let value = body(&mut w, format)
                    .and_then(|v| w.flush().map(|()| v))
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
                if target != *path {
                    // Through a link: the file it names keeps its mode, as when written in place.
                    if let Ok(m) = std::fs::metadata(&target) {
                        let _ = tmp.as_file().set_permissions(m.permissions());
                    }
                }
                tmp.persist(&target).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", path.display(), e.error))?;
                Ok(Some(value))
            }
        },
    }
}

/// Summary for stderr; counts only, never names.
pub fn summary_line(s: &ScanSummary, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.media_files as f64 / secs } else { 0.0 };
    let mut line = format!(
        "Scanned {} media files in {:.2} s ({:.0} files/s): {} with persons, {} with unnamed faces, {} unreadable",
        s.media_files, secs, rate, s.with_persons, s.with_unnamed_faces, s.errors
    );
    if s.orphan_sidecars > 0 {
        line.push_str(&format!(", {} orphan sidecars", s.orphan_sidecars));
    }
    line.push_str(&format!(", {} other files skipped.", s.skipped));
    line
}

/// A spinner with a count on stderr, only when stderr is a terminal.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(quiet: bool) -> Self {
        if quiet || !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} files scanned ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    fn println(&self, msg: &str) {
        match &self.0 {
            Some(b) => b.suspend(|| output::eprint_escaped(msg)),
            None => output::eprint_escaped(msg),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
