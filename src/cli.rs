//! Command-line interface: argument definitions, exit codes, and thin command functions.

use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::apply;
use crate::config::{self, Settings, REGISTER_ENV};
use crate::consent::{self, Decision, Status};
use crate::model::{self, parse_date, Date, Register};
use crate::output::{self, OutputFormat, RecordWriter};
use crate::people::PeopleRoots;
use crate::register;
use crate::report::{self, Evaluated};
use crate::scan::{self, FileRecord, ScanOptions, ScanSummary};
use crate::state;

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
    /// the archive root; the user's cache directory when the archive is read-only]
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
            eprintln!("consentry: error: {e:#}");
            Exit::Usage.into()
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    check_html(&cli.command)?;
    match cli.command {
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

/// What a command works with: the scanned paths, settings, register and date.
struct Context {
    paths: Vec<PathBuf>,
    settings: Settings,
    register: Option<PendingRegister>,
    date: Date,
    opts: ScanOptions,
    /// The run recorded in the state (none with --no-state and for `apply`), and the command.
    run: Mutex<Option<state::Run>>,
    command: &'static str,
    quiet: bool,
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
        let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from);
        let settings = config::discover(&paths, reg.register.as_deref(), env)?;
        let roots = if walk.people_roots.is_empty() {
            settings.people_roots.clone().unwrap_or_default()
        } else {
            PeopleRoots::new(&walk.people_roots)
        };
        let mut opts = ScanOptions {
            roots,
            follow_links: !walk.no_follow,
            threads: out.threads.map(usize::from),
            ..ScanOptions::default()
        };
        let pool = opts.pool()?;
        opts.pool = Some(pool.clone());
        let tracked = tracked && !common.state.no_state;
        let state = if tracked { open_state(&settings, common.state.state.as_deref(), out.quiet)? } else { None };
        // The validated rows of a CSV register are kept between runs in the user's cache.
        let cache =
            state::cache_dir().filter(|dir| std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_ok());
        let register = match &settings.register {
            Some(path) => Some(PendingRegister::spawn(
                &pool,
                path.clone(),
                settings.vocabulary.clone(),
                out.quiet,
                need.options(),
                cache,
            )),
            None if need != Need::Optional => anyhow::bail!(
                "this command needs a consent register: give --register PATH, set {REGISTER_ENV}, or name it in {}",
                config::CONFIG_FILE
            ),
            None => None,
        };
        let date = reg.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
        let mut ctx =
            Context { paths, settings, register, date, opts, run: Mutex::new(None), command, quiet: out.quiet };
        if let Some(state) = state {
            let known = Arc::new(state.known(&std::env::current_dir()?, &ctx.opts.roots)?);
            let roots: Vec<PathBuf> = ctx.paths.iter().map(|p| ctx.settings.absolute(p)).collect();
            ctx.opts.reuse = Some(known.clone());
            ctx.run = Mutex::new(Some(state::Run::begin(state, known, &roots)));
        }
        Ok(ctx)
    }

    /// Record the run in the state (after a complete scan). A state that cannot be written is
    /// reported and counted as an error of the run (exit 3): the next run reads every file.
    fn finish_run(&self, summary: &mut ScanSummary, register: Option<&Register>) {
        let Some(run) = self.run.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        let path = run.path().to_path_buf();
        let date = register.map(|_| self.date);
        match run.finish(self.command, date, register.map(|r| r.digest.as_str()), summary) {
            Ok(c) if !self.quiet => eprintln!(
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
                eprintln!("consentry: {}: the state could not be written: {e:#}", path.display());
                summary.errors += 1;
            }
        }
    }

    /// The register, once loaded (`None` when the command runs without one).
    fn register(&self) -> anyhow::Result<Option<MutexGuard<'_, Register>>> {
        self.register.as_ref().map(PendingRegister::get).transpose()
    }

    /// The register of a command that needs one.
    fn required_register(&self) -> anyhow::Result<MutexGuard<'_, Register>> {
        self.register()?.ok_or_else(|| anyhow::anyhow!("this command needs a consent register"))
    }

    /// The evaluation of a media file or an unwalkable path whose archive-relative path is `rel`
    /// (none for orphan sidecars, which are not media). A record with errors and an unwalkable
    /// path are `unreadable` ([`consent::evaluate_record`]). Builds the consents of the persons
    /// shown first, when the register defers them.
    fn evaluate(&self, register: &mut Register, rec: &FileRecord, rel: &str) -> Option<Decision> {
        if rec.subject == scan::Subject::OrphanSidecar {
            return None;
        }
        register.prepare(rec.depicted.persons.iter().map(String::as_str));
        Some(consent::evaluate_record(rec, rel, register, self.date))
    }

    /// Scan, evaluating each record in walk order and handing it to `emit` with its
    /// archive-relative path and decision (none without a register, for orphan sidecars and
    /// unwalkable paths). Records that arrive while the register is still loading wait (up to
    /// a bound), so that the workers go on reading meanwhile. A register with errors stops the
    /// scan before the first record is emitted; its error is returned.
    fn scan_evaluated(
        &self,
        progress: &Progress,
        mut emit: impl FnMut(FileRecord, String, Option<Decision>, Option<&Register>) -> io::Result<()>,
    ) -> anyhow::Result<Result<ScanSummary, io::Error>> {
        let mut waiting: Vec<FileRecord> = Vec::new();
        let mut register_error = None;
        let mut feed = |rec: Option<FileRecord>, waiting: &mut Vec<FileRecord>| -> io::Result<()> {
            if let Some(rec) = rec {
                progress.inc();
                if let Some(e) = rec.error() {
                    progress.println(&format!("consentry: {}: {e}", rec.path.display()));
                }
                let loading = self.register.as_ref().is_some_and(|r| !r.is_ready());
                waiting.push(rec);
                if loading && waiting.len() < WAITING_RECORDS {
                    return Ok(());
                }
            }
            let mut register = self.register().map_err(|e| {
                register_error = Some(e);
                io::Error::other("the register cannot be used")
            })?;
            let mut run = self.run.lock().unwrap_or_else(|e| e.into_inner());
            for rec in waiting.drain(..) {
                let abs = self.settings.absolute(&rec.path);
                let rel = self.settings.relative_of(&abs);
                let decision = register.as_deref_mut().and_then(|r| self.evaluate(r, &rec, &rel));
                if let Some(run) = run.as_mut() {
                    run.observe(abs, &rec, decision.as_ref(), register.as_deref(), self.date);
                }
                emit(rec, rel, decision, register.as_deref())?;
            }
            Ok(())
        };
        let summary = scan::scan(&self.paths, &self.opts, |rec| feed(Some(rec), &mut waiting))
            .and_then(|summary| feed(None, &mut waiting).map(|()| summary));
        if let Some(e) = register_error {
            return Err(e);
        }
        // An empty archive evaluates nothing: the register is still checked.
        let register = self.register()?;
        let mut summary = summary;
        if let Ok(summary) = &mut summary {
            self.finish_run(summary, register.as_deref());
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

    /// Resolve usage words against the vocabulary; an unknown word is a usage error.
    fn usages(&self, words: &[String]) -> anyhow::Result<Vec<String>> {
        resolve_usages(&self.settings.vocabulary, words)
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
fn open_state(settings: &Settings, explicit: Option<&Path>, quiet: bool) -> anyhow::Result<Option<state::State>> {
    let opened = |path: &Path| {
        state::State::open(path).map(|(state, note)| {
            if let (Some(note), false) = (note, quiet) {
                eprintln!("consentry: {}: {note}; every file is read again", path.display());
            }
            state
        })
    };
    if let Some(path) = explicit {
        return opened(path).map(Some).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let own = match opened(&state::default_path(&settings.archive_root)) {
        Ok(state) => return Ok(Some(state)),
        Err(state::OpenError::NotWritable { path, source }) => format!("{}: {source}", path.display()),
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    };
    let Some(cache) = state::cache_path(&settings.archive_root) else {
        if !quiet {
            eprintln!("consentry: no state kept ({own}; no cache directory): every file is read");
        }
        return Ok(None);
    };
    match opened(&cache) {
        Ok(state) => {
            if !quiet {
                eprintln!("consentry: the archive cannot be written here; its state is kept in {}", cache.display());
            }
            Ok(Some(state))
        }
        Err(state::OpenError::NotWritable { .. }) => {
            if !quiet {
                eprintln!("consentry: no state kept ({own}; nor in {}): every file is read", cache.display());
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
                eprintln!(
                    "consentry: the register has {} warning(s) (see `consentry register check`)",
                    loaded.warnings.len()
                );
            }
            Ok(loaded.register)
        }
        Err(errors) => Err(anyhow::anyhow!("{}: {errors}", path.display())),
    }
}

fn scan_command(args: ScanArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::Optional, "scan")?;
    let progress = Progress::new(out.quiet);
    let started = Instant::now();
    let evaluated = ctx.register.is_some();
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
        eprintln!("{line}");
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
        rows.push(vec![serde_json::json!(f.path()), serde_json::json!(d.status.as_str()), serde_json::json!(why)]);
    }
    let blocking = rows.len();
    let table = report::Table { columns: vec!["path", "status", "reason"], rows };
    if with_writer(out, |w, format| output::write_report(format, &table, w))?.is_none() {
        return Ok(Exit::Findings);
    }
    if !out.quiet {
        eprintln!(
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
    let register = &*ctx.required_register()?;
    let wanted: Vec<&str> = usages.iter().map(String::as_str).collect();
    let table = match args.kind {
        ReportKind::Missing => report::missing(&files),
        ReportKind::Expiring => report::expiring(&files, register, ctx.date, args.within),
        ReportKind::Consents => {
            // Written as the rows come: a register may hold 100,000 consents.
            let rows = report::consent_rows(&files, register, ctx.date);
            let columns = report::CONSENT_COLUMNS;
            if !html {
                with_writer(out, |w, format| output::write_rows(format, &columns, rows, w))?;
                return Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok });
            }
            report::Table { columns: columns.to_vec(), rows: rows.collect() }
        }
        ReportKind::Unreleased => report::unreleased(&files, &wanted),
        ReportKind::UnknownPersons => report::unknown_persons(&files, register),
        ReportKind::Summary => report::summary(&files, register),
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
            let own = state::default_path(&settings.archive_root);
            match state::cache_path(&settings.archive_root) {
                Some(cache) if !own.is_file() && cache.is_file() => cache,
                _ => own,
            }
        }
    };
    let state = state::State::open_existing(&path)?;
    let (table, about) = state.changes(args.since)?;
    if !out.quiet {
        eprintln!("consentry: {}: {about}; {} row(s).", path.display(), table.rows.len());
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
        Command::Consent(_) | Command::Exempt(_) | Command::Originator(_) | Command::Register(_) => return Ok(()),
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
        eprintln!(
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
    let identity = match &args.person {
        Some(p) => match ctx.required_register()?.identity(p) {
            Some(id) => Some(id),
            None => {
                eprintln!("consentry: no person {p:?} in the register");
                return Ok(Exit::Ok);
            }
        },
        None => None,
    };
    // The register is locked while files are evaluated: take it after.
    let (files, _) = ctx.collect(out.quiet)?;
    let register = ctx.required_register()?;
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
    let table = report::Table { columns: report::CONSENT_COLUMNS.to_vec(), rows };
    with_writer(out, |w, format| output::write_report(format, &table, w))?;
    Ok(Exit::Ok)
}

fn person_command(args: PersonArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = Context::new(&args.common, Need::Whole, "person")?;
    let (files, summary) = ctx.collect(out.quiet)?;
    let register = ctx.required_register()?;
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
    let table = report::Table { columns: vec!["kind", "item", "status", "detail"], rows };
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
    let register = ctx.required_register()?;
    let stamp = apply::Stamp { evaluated_at: ctx.date.to_string(), register_digest: register.digest.clone() };
    apply::register_namespace().map_err(|e| anyhow::anyhow!(e))?;

    // Sidecars: `name.xmp` shared by several files (`IMG_1.CR2` and `IMG_1.JPG`) is left to
    // none of them; each gets its own `name.ext.xmp`.
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
        let (target, why) = apply::target(&f.record.path, f.record.format, &f.record.sidecars, always);
        planned.push((f, target, why));
    }
    let mut sharing: std::collections::HashMap<PathBuf, usize> = std::collections::HashMap::new();
    for (_, t, _) in &planned {
        if let apply::Target::Sidecar(p) = t {
            *sharing.entry(p.clone()).or_default() += 1;
        }
    }
    for (f, t, _) in &mut planned {
        if let apply::Target::Sidecar(p) = t {
            if sharing[p] > 1 {
                *t = apply::Target::Sidecar(apply::own_sidecar(&f.record.path));
            }
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
        work.push((f, target, apply::fields(&f.decision, &register.vocabulary, args.plus), why));
    }
    if !args.dry_run {
        let dirs: std::collections::BTreeSet<&Path> =
            work.iter().filter_map(|(_, t, _, _)| t.path().parent()).collect();
        for d in dirs {
            apply::remove_stale_temps(d);
        }
    }
    let pool = ctx.opts.pool()?;
    // In batches: new versions written beside the files in parallel, flushed with one sync per
    // file system, then renamed over the files; each directory flushed once at the end. A batch
    // holds its copies open (and locked): room for them in the open-file limit.
    raise_open_file_limit(3 * APPLY_BATCH as u64 + 256);
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
                    apply::Prepared::Ready(r) => apply::commit(r),
                }));
            }
            outcomes
        });
        pool.install(|| {
            for batch in work.chunks(APPLY_BATCH) {
                let prepared: Vec<apply::Prepared> = batch
                    .par_iter()
                    .map(|(f, target, fields, _)| {
                        // What the scan read of the target, when the target is what it read.
                        let known = match target {
                            apply::Target::Embedded(..) => f.record.written.as_deref(),
                            apply::Target::Sidecar(p) if f.record.sidecars.first() == Some(p) => {
                                f.record.written_sidecar.as_deref()
                            }
                            apply::Target::Sidecar(_) => None,
                        };
                        apply::prepare(target, fields, &stamp, args.dry_run, known)
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
        .filter_map(|((_, t, _, _), _)| t.path().parent())
        .collect();
    apply::sync_dirs(touched);

    let (mut written, mut unchanged) = (0usize, 0usize);
    let mut rows = Vec::new();
    for ((f, target, fields, why), outcome) in work.iter().zip(&outcomes) {
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
        rows.push(vec![
            serde_json::json!(f.path()),
            serde_json::json!(target.path().display().to_string()),
            serde_json::json!(action),
            serde_json::json!(detail),
        ]);
    }
    for (path, e) in &failed {
        eprintln!("consentry: {e}");
        rows.push(vec![
            serde_json::json!(path),
            serde_json::Value::Null,
            serde_json::json!("failed"),
            serde_json::json!(e),
        ]);
    }
    let table = report::Table { columns: vec!["path", "target", "action", "detail"], rows };
    with_writer(out, |w, format| output::write_report(format, &table, w))?;
    if !out.quiet {
        let verb = if args.dry_run { "would write" } else { "wrote" };
        let unreadable = failed.len() - outcomes.iter().filter(|o| matches!(o, apply::Outcome::Failed(_))).count();
        eprintln!(
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
                println!("{p}");
            }
            let errors = problems.iter().filter(|p| p.severity == register::Severity::Error).count();
            eprintln!("{}: {errors} error(s), {} warning(s).", path.display(), problems.len() - errors);
            Ok(if problems.is_empty() { Exit::Ok } else { Exit::Findings })
        }
        RegisterCommand::Import { csv, into } => {
            let settings = config::discover(&here, Some(&csv), None)?;
            let register = load_register(&csv, &settings.vocabulary, false, register::Options::FULL, None)?;
            let actor = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
            let stats = register::sqlite::import(&register, &into, &actor)?;
            eprintln!(
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
            with_writer(&args, |mut w, _| register::sqlite::export_csv(&register, &mut w))?;
            Ok(Exit::Ok)
        }
    }
}

/// Run `body` on stdout or on the `-o` file with the chosen format. Returns `None` when stdout
/// was closed by the reader (`| head`). The `-o` file is written to a temporary file beside it
/// (mode 0600: reports name people) and renamed into place only when everything was written.
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
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(crate::own::TEMP_PREFIX)
                .tempfile_in(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create output file: {e}", path.display()))?;
            let mut w = io::BufWriter::new(tmp.as_file().try_clone()?);
            let value = body(&mut w, format)
                .and_then(|v| w.flush().map(|()| v))
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
            tmp.persist(path).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", path.display(), e.error))?;
            Ok(Some(value))
        }
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
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
