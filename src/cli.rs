//! The command line: clap definitions, output selection, progress and exit codes; every
//! command calls the library ([`consentry::engine`] for the archive commands) and prints.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use consentry::config::{self, REGISTER_ENV};
use consentry::consent::Status;
use consentry::engine::{self, apply::ApplyOptions, archives::load_register, Context, Need};
use consentry::i18n::Lang;
use consentry::model::{parse_date, Date};
use consentry::output::{self, OutputFormat, RecordWriter};
use consentry::own;
use consentry::register;
use consentry::report::{self, Evaluated, Row};
use consentry::scan::{FileRecord, ScanOptions, ScanSummary, Shard};
use consentry::state;

/// `eprintln!` for every message of the commands: control characters in the paths, names and
/// register text it carries are shown escaped (SPEC.md 6), so that a file name cannot forge a
/// line or drive the terminal.
macro_rules! say {
    ($($arg:tt)*) => {
        consentry::output::eprint_escaped(&format!($($arg)*))
    };
}

mod edit;
mod explain;
mod merge;

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
    /// Language of tables, summaries, hints and the HTML report (JSON, JSON Lines and CSV stay
    /// English) [default: from LC_ALL, LC_MESSAGES or LANG]
    #[arg(long, value_enum, global = true, value_name = "LANG")]
    pub lang: Option<Lang>,
}

/// The language of this run's output, set once by [`run`] (English until then).
static LANG: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();

/// The language of what people read: tables, summaries, hints, the HTML report.
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or_default()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mark a directory as an archive: write its consentry.toml (and, without --register, an
    /// empty SQLite register beside it).
    Init(edit::InitArgs),
    /// Report, for every media file, the depicted persons and unnamed faces found in its
    /// metadata, and with a register its consent status.
    ///
    /// Statuses: unreadable, none, exempt, red, yellow, green (README: "What the statuses
    /// mean"); `consentry explain FILE` shows how a file got its status, person by person.
    Scan(ScanArgs),
    /// The pre-publication gate: exit 0 only when every file is cleared for all given usages.
    ///
    /// Statuses: unreadable, none, exempt, red, yellow, green (README: "What the statuses
    /// mean"); `consentry explain FILE` shows how a file got its status, person by person.
    Check(CheckArgs),
    /// One file's decision person by person: which consent or exemption counts for each
    /// depicted person, why each missing one is missing, the usage and valid-until.
    Explain(explain::ExplainArgs),
    /// Reports over the archive: missing, expiring, consents, unreleased, cleared, unknown-persons,
    /// summary, changes.
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
    /// Print the records, or a report, of a sharded run from its shards' result files
    /// (`scan --shard K/N --results DIR`), exactly as one run over the whole archive prints
    /// them; refused (exit 2) when a shard is missing, there twice, or from another run.
    Merge(merge::MergeArgs),
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
    #[command(flatten)]
    pub shard: ShardArgs,
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
    /// Write the output to FILE (readable by the owner only; see --share-group) instead of
    /// stdout; with --format html (`report` only), the report's folder.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads [default: two per core: reading waits on the disk]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(short, long)]
    pub quiet: bool,
    /// With -o: let the owner's group read what is written (file 0640; an HTML report's folders
    /// 0750 and files 0640) instead of the owner only (0600, 0700): for a shared drive.
    #[arg(long)]
    pub share_group: bool,
}

impl OutputArgs {
    /// Who may read what `-o` writes.
    fn access(&self) -> own::Access {
        if self.share_group {
            own::Access::Group
        } else {
            own::Access::Private
        }
    }
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

/// Which shard of every archive a command reads and judges (SPEC.md 7a): `scan`, `check`,
/// `report` and `apply`.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Read and judge only shard K of N (K from 0): the files whose path relative to their
    /// archive root hashes to K; each shard keeps its own state. `--shard auto`: from a Slurm
    /// array task (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX with --shards N or CONSENTRY_SHARDS)
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// The number of shards when the index comes from JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job) [default: $CONSENTRY_SHARDS]
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
}

/// The shard of this run, asked for with `--shard K/N`, or `--shard auto` (or `--shards N`):
/// then a Slurm array task (SLURM_ARRAY_TASK_ID counted from SLURM_ARRAY_TASK_MIN in steps of
/// SLURM_ARRAY_TASK_STEP, of SLURM_ARRAY_TASK_COUNT), else a Kubernetes Indexed Job's
/// JOB_COMPLETION_INDEX of `--shards N` or CONSENTRY_SHARDS. The environment is read only when
/// asked: a command run inside a job array is not split without being told. Whatever is
/// incomplete or disagrees is refused: a run must never read a part and believe it whole.
fn shard_of(args: &ShardArgs) -> anyhow::Result<Option<Shard>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let number = |name: &str, value: String| {
        value.trim().parse::<u32>().map_err(|_| anyhow::anyhow!("{name}={value:?} is not a number"))
    };
    match args.shard.as_deref() {
        None if args.shards.is_none() => return Ok(None),
        Some(given) if given != "auto" => {
            if args.shards.is_some() {
                anyhow::bail!("--shard K/N names the number of shards: leave --shards out");
            }
            return Ok(Some(Shard::parse(given).map_err(anyhow::Error::msg)?));
        }
        _ => {}
    }
    let count = match args.shards {
        Some(n) => Some(n),
        None => var(SHARDS_ENV).map(|v| number(SHARDS_ENV, v)).transpose()?,
    };
    if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
        let id = number("SLURM_ARRAY_TASK_ID", id)?;
        let Some(n) = var("SLURM_ARRAY_TASK_COUNT") else {
            anyhow::bail!("SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: give --shard K/N")
        };
        let n = number("SLURM_ARRAY_TASK_COUNT", n)?;
        if let Some(c) = count.filter(|&c| c != n) {
            anyhow::bail!("--shards (or {SHARDS_ENV}) says {c} shards, the Slurm array {n}");
        }
        let min = var("SLURM_ARRAY_TASK_MIN").map(|v| number("SLURM_ARRAY_TASK_MIN", v)).transpose()?.unwrap_or(0);
        let step = var("SLURM_ARRAY_TASK_STEP").map(|v| number("SLURM_ARRAY_TASK_STEP", v)).transpose()?.unwrap_or(1);
        let off = id.checked_sub(min).filter(|o| step > 0 && o % step == 0).ok_or_else(|| {
            anyhow::anyhow!(
                "SLURM_ARRAY_TASK_ID {id} is not SLURM_ARRAY_TASK_MIN {min} plus a multiple of its step {step}"
            )
        })?;
        return Ok(Some(Shard::new(off / step, n).map_err(|e| anyhow::anyhow!("Slurm array task: {e}"))?));
    }
    if let Some(index) = var("JOB_COMPLETION_INDEX") {
        let index = number("JOB_COMPLETION_INDEX", index)?;
        let Some(n) = count else {
            anyhow::bail!("JOB_COMPLETION_INDEX is set: give the number of shards with --shards N or {SHARDS_ENV}")
        };
        return Ok(Some(Shard::new(index, n).map_err(anyhow::Error::msg)?));
    }
    anyhow::bail!(
        "--shard auto (or --shards N): no shard index in the environment (SLURM_ARRAY_TASK_ID or \
         JOB_COMPLETION_INDEX); give --shard K/N"
    )
}

/// The number of shards of a Kubernetes Indexed Job (`--shards`).
const SHARDS_ENV: &str = "CONSENTRY_SHARDS";

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
    pub shard: ShardArgs,
    /// Write this shard's records into DIR/shard-K-of-N.jsonl (whole or not at all) instead of
    /// printing them, for `consentry merge DIR` once every shard has run [without --shard:
    /// shard 0 of 1]
    #[arg(long, value_name = "DIR", conflicts_with_all = ["format", "output"])]
    pub results: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Usage areas the files are to be published for, separated by commas.
    #[arg(long = "for", value_name = "USAGE", value_delimiter = ',', required = true)]
    pub usages: Vec<String>,
    /// Which files to list: the blocking ones (why each blocks), or the cleared ones (as
    /// `report cleared`). The exit status is the gate's either way.
    #[arg(long, value_enum, value_name = "WHICH", default_value = "blocking")]
    pub show: Show,
    #[command(flatten)]
    pub shard: ShardArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The files `check` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Show {
    /// The files that block publication, and why.
    Blocking,
    /// The files cleared for every usage given, with who is in them and until when.
    Cleared,
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
    /// Files cleared for every usage of --for USAGE (what may be published), with who is in
    /// them and until when.
    Cleared,
    /// Names found in files but absent from the register, with suggestions.
    UnknownPersons,
    /// Files per status and per usage area.
    Summary,
    /// What changed at the last run (or every run since --since DATE, or since --checkpoint NAME
    /// last reported): files that became red, yellow or green, consents that expired or were
    /// revoked, new, moved and removed files.
    Changes,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(value_enum)]
    pub kind: ReportKind,
    /// For `expiring`: the window in days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u32,
    /// For `unreleased` and `cleared`: the usage areas, separated by commas.
    #[arg(long = "for", value_name = "USAGE", value_delimiter = ',')]
    pub usages: Vec<String>,
    /// For `changes`: every run that finished on or after this day instead of the last run.
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with = "checkpoint")]
    pub since: Option<Date>,
    /// For `changes`: every change since this checkpoint last reported (whatever other runs
    /// and reports happened in between), then move it to the newest run once the report is
    /// written; a new checkpoint reports every recorded run. Empty tables print nothing.
    #[arg(long, value_name = "NAME")]
    pub checkpoint: Option<String>,
    /// For `changes`: exit 1 when a reported change needs attention (became-red, -yellow or
    /// -unreadable, consent-expired or -revoked, a new or moved file that is red, yellow or
    /// unreadable), else 0.
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub shard: ShardArgs,
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
        /// The register to check (the same as --register)
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
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
    let _ = LANG.set(cli.lang.unwrap_or_else(Lang::from_env));
    check_format(&cli.command)?;
    match cli.command {
        Command::Init(a) => edit::init_archive(a),
        Command::Scan(a) => scan_command(a),
        Command::Check(a) => check_command(a),
        Command::Explain(a) => explain::explain(a),
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
        Command::Merge(a) => merge::merge(a),
    }
}

fn scan_command(args: ScanArgs) -> anyhow::Result<Exit> {
    if let Some(dir) = &args.results {
        return merge::scan_to_results(&args, dir);
    }
    let out = &args.common.output;
    let ctx = sharded_context(&args.common, &args.shard, Need::Optional, "scan")?;
    let progress = Progress::new(out.quiet);
    let started = Instant::now();
    let evaluated = ctx.evaluates();
    let mut register_error = None;
    // Files per status (with a register), in [`Status::ALL`] order.
    let mut statuses = [0u64; Status::ALL.len()];
    let summary = with_writer(out, |w, format| {
        let mut writer = RecordWriter::new(format, lang(), w, evaluated)?;
        let scanned = ctx.scan_evaluated(&|rec| progress.read(rec), |rec, _, decision, _| {
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
        return Err(e.into());
    }
    let summary = summary?;
    progress.finish();
    let Some(summary) = summary else {
        return Ok(Exit::Ok); // stdout closed (e.g. piped into `head`): stop quietly
    };
    if !out.quiet {
        say_summary(&summary, started, evaluated, &statuses);
    }
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// A scan's summary line on stderr (`scan`, `scan --results`, `merge`): the counts, and with a
/// register the files per status.
fn say_summary(summary: &ScanSummary, started: Instant, evaluated: bool, statuses: &[u64; Status::ALL.len()]) {
    let mut line = summary_line(lang(), summary, started.elapsed());
    if evaluated {
        line.push(' ');
        line.push_str(&status_counts(lang(), statuses));
    }
    say!("{line}");
}

fn check_command(args: CheckArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = sharded_context(&args.common, &args.shard, Need::Register, "check")?;
    let usages = ctx.usages(&args.usages)?;
    let wanted: Vec<&str> = usages.iter().map(String::as_str).collect();
    let (files, _) = collect(&ctx, out.quiet)?;
    let rows = report::check(&files, &wanted);
    let blocking = rows.len();
    let written = match args.show {
        Show::Blocking => with_writer(out, |w, format| output::write_rows(format, lang(), &rows, w))?,
        Show::Cleared => {
            let cleared = report::cleared(&files, &wanted);
            with_writer(out, |w, format| output::write_rows(format, lang(), &cleared, w))?
        }
    };
    if written.is_none() {
        return Ok(Exit::Findings);
    }
    if !out.quiet {
        let message = lang().tr(
            "cli-check-summary",
            &[
                ("files", files.len().into()),
                ("usage", usages.join(", ").into()),
                ("date", lang().date(ctx.date).into()),
                ("blocking", blocking.into()),
                ("cleared", (files.len() - blocking).into()),
            ],
        );
        say!("{message}");
    }
    Ok(if blocking > 0 { Exit::Findings } else { Exit::Ok })
}

fn report_command(args: ReportArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    // Listings of all consents or names need the whole register; the others evaluate files.
    if args.kind != ReportKind::Changes && (args.checkpoint.is_some() || args.exit_code) {
        anyhow::bail!("--checkpoint and --exit-code are for `report changes`");
    }
    if args.kind == ReportKind::Changes {
        return changes_command(&args);
    }
    let ctx = sharded_context(&args.common, &args.shard, report_need(args.kind), "report")?;
    let usages = report_usages(&ctx, args.kind, &args.usages)?;
    let (files, summary) = collect(&ctx, out.quiet)?;
    print_kind(&ctx, args.kind, args.within, &usages, &files, out)?;
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// What a report needs of the register: listings of all consents or names the whole register;
/// the others evaluate files.
fn report_need(kind: ReportKind) -> Need {
    match kind {
        ReportKind::Consents => Need::WithEvidence,
        ReportKind::Expiring | ReportKind::UnknownPersons => Need::Whole,
        ReportKind::Missing | ReportKind::Unreleased | ReportKind::Cleared | ReportKind::Summary => Need::Register,
        ReportKind::Changes => Need::Optional,
    }
}

/// The usage areas of a report's `--for`, resolved; `unreleased` and `cleared` need one.
fn report_usages(ctx: &Context, kind: ReportKind, words: &[String]) -> anyhow::Result<Vec<String>> {
    let usages = ctx.usages(words)?;
    match kind {
        ReportKind::Unreleased if usages.is_empty() => anyhow::bail!("`report unreleased` needs --for USAGE"),
        ReportKind::Cleared if usages.is_empty() => anyhow::bail!("`report cleared` needs --for USAGE"),
        _ => Ok(usages),
    }
}

/// Print the report `kind` of the evaluated `files` (a run's or a merged set's): `report KIND`
/// and `merge --report KIND` print through here, so they cannot differ.
fn print_kind(
    ctx: &Context,
    kind: ReportKind,
    within: u32,
    usages: &[String],
    files: &[Evaluated],
    out: &OutputArgs,
) -> anyhow::Result<()> {
    let html = out.format == Some(OutputFormat::Html);
    // `missing`, `unreleased` and `cleared` list files, each evaluated by its own archive; the
    // other reports list or count by one register, which all the files must share.
    let pending = match kind {
        ReportKind::Missing | ReportKind::Unreleased | ReportKind::Cleared => None,
        _ => Some(ctx.required_register()?),
    };
    let guard = pending.as_ref().map(|p| p.get()).transpose()?;
    let register = || guard.as_deref().ok_or_else(|| anyhow::anyhow!("this report needs a consent register"));
    let wanted: Vec<&str> = usages.iter().map(String::as_str).collect();
    let pool = if html { Some(ctx.opts.pool()?) } else { None };
    let title = report_title(kind, within, usages);
    let page = pool.as_deref().map(|pool| HtmlPage { title: &title, date: ctx.date, pool, files });
    match kind {
        ReportKind::Missing => print_report(out, page, &report::missing(files))?,
        ReportKind::Expiring => print_report(out, page, &report::expiring(files, register()?, ctx.date, within))?,
        ReportKind::Consents => {
            // Written as the rows come: a register may hold 100,000 consents.
            let rows = report::consent_rows(files, register()?, ctx.date);
            match page {
                None => drop(with_writer(out, |w, format| output::write_rows(format, lang(), rows, w))?),
                Some(_) => print_report(out, page, &rows.collect::<Vec<_>>())?,
            }
        }
        ReportKind::Unreleased => print_report(out, page, &report::unreleased(files, &wanted))?,
        ReportKind::Cleared => print_report(out, page, &report::cleared(files, &wanted))?,
        ReportKind::UnknownPersons => print_report(out, page, &report::unknown_persons(files, register()?))?,
        ReportKind::Summary => print_report(out, page, &report::summary(files, register()?))?,
        ReportKind::Changes => unreachable!("answered from the state before any scan"),
    }
    Ok(())
}

/// `report changes`: read from the state alone (no scan, no register).
fn changes_command(args: &ReportArgs) -> anyhow::Result<Exit> {
    let (common, out) = (&args.common, &args.common.output);
    if common.state.no_state {
        anyhow::bail!("`report changes` reads the state: it cannot go with --no-state");
    }
    let path = engine::archives::state_path(&sharded(common, &args.shard)?)?;
    let state = state::State::open_existing(&path)?;
    let (checkpoint, runs, changes) = match &args.checkpoint {
        Some(name) => {
            if name.is_empty() || name.chars().any(char::is_control) {
                anyhow::bail!("--checkpoint: give a name without control characters, such as `nightly`");
            }
            let (checkpoint, runs, changes) = state.changes_since_checkpoint(name)?;
            (Some(checkpoint), runs, changes)
        }
        None => {
            let (runs, changes) = state.changes(args.since)?;
            (None, runs, changes)
        }
    };
    let (rows, about) = match &checkpoint {
        Some(c) => (&changes[..], report::checkpoint_about(lang(), &c.name, c.reported.is_some(), &runs)),
        None => report::changes(lang(), args.since, &runs, &changes),
    };
    // A quiet night prints nothing at all in a table, on stderr neither (no mail from cron).
    let silent = checkpoint.is_some() && rows.is_empty() && output_format(out) == OutputFormat::Table;
    if !out.quiet && !silent {
        let message = lang().tr(
            "cli-changes-line",
            &[("path", path.display().to_string().into()), ("about", about.into()), ("rows", rows.len().into())],
        );
        say!("{message}");
    }
    let attention = args.exit_code && rows.iter().any(report::needs_attention);
    let done = if attention { Exit::Findings } else { Exit::Ok };
    let pool = match out.format {
        Some(OutputFormat::Html) => {
            Some(ScanOptions { threads: out.threads.map(usize::from), ..ScanOptions::default() }.pool()?)
        }
        _ => None,
    };
    let today = chrono::Local::now().date_naive();
    let title = report_title(args.kind, args.within, &[]);
    let page = pool.as_deref().map(|pool| HtmlPage { title: &title, date: today, pool, files: &[] });
    let Some(checkpoint) = checkpoint else {
        print_report(out, page, rows)?;
        return Ok(done);
    };
    let written = match page {
        Some(page) => {
            write_html_report(out, page, &report::Table::of(rows))?;
            true
        }
        // A quiet night prints nothing at all in a table (no header-only mail every night).
        None => with_writer(out, |w, format| match format {
            OutputFormat::Table if rows.is_empty() => Ok(()),
            _ => output::write_rows(format, lang(), rows, w),
        })?
        .is_some(),
    };
    // Moved only once the report is written whole: a closed output leaves it where it was.
    if !written {
        let name = format!("{:?}", checkpoint.name);
        say!("{}", lang().tr("cli-checkpoint-not-moved", &[("name", name.into())]));
        return Ok(Exit::Partial);
    }
    state.move_checkpoint(&checkpoint)?;
    Ok(done)
}

/// `--format html` writes a folder: only `report` does, and only with `-o DIR`; `--format xlsx`
/// writes a file, given with `-o FILE` (a spreadsheet on a terminal or in a pipe is no use).
/// Checked before any work, so that a long scan does not end in a usage error.
fn check_format(command: &Command) -> anyhow::Result<()> {
    let (out, report) = match command {
        Command::Report(a) => (&a.common.output, true),
        Command::Scan(ScanArgs { common, .. }) | Command::Person(PersonArgs { common, .. }) => (&common.output, false),
        Command::Check(CheckArgs { common, .. }) | Command::Apply(ApplyArgs { common, .. }) => (&common.output, false),
        Command::Consent(ConsentCommand::Search(a)) => (&a.common.output, false),
        Command::Explain(a) => (&a.output, false),
        Command::Merge(a) => (&a.output, a.report.is_some()),
        // The commands that change the register refuse html while reading their arguments.
        Command::Consent(_) | Command::Exempt(_) | Command::Originator(_) | Command::Register(_) | Command::Init(_) => {
            return Ok(())
        }
    };
    if out.share_group && out.output.is_none() {
        anyhow::bail!("--share-group is for what -o FILE (or -o DIR of an HTML report) writes; stdout has no mode");
    }
    if out.format == Some(OutputFormat::Xlsx) && out.output.is_none() {
        anyhow::bail!(XLSX_NEEDS_FILE);
    }
    if out.format != Some(OutputFormat::Html) {
        return Ok(());
    }
    if !report {
        anyhow::bail!("--format html is for reports only: `consentry report KIND --format html -o DIR` (or `consentry merge DIR --report KIND --format html -o OUT`)");
    }
    if out.output.is_none() {
        anyhow::bail!("--format html writes a folder (index.html and thumbnails): give it with -o DIR");
    }
    Ok(())
}

const XLSX_NEEDS_FILE: &str = "--format xlsx writes a file: give it with -o FILE";

/// The title of a report's HTML page, in the run's language.
fn report_title(kind: ReportKind, within: u32, usages: &[String]) -> String {
    let lang = lang();
    let usages = || [("usages", usages.join(", ").into())];
    match kind {
        ReportKind::Missing => lang.text("html-title-missing"),
        ReportKind::Expiring => lang.tr("html-title-expiring", &[("days", within.into())]),
        ReportKind::Consents => lang.text("html-title-consents"),
        ReportKind::Unreleased => lang.tr("html-title-unreleased", &usages()),
        ReportKind::Cleared => lang.tr("html-title-cleared", &usages()),
        ReportKind::UnknownPersons => lang.text("html-title-unknown-persons"),
        ReportKind::Summary => lang.text("html-title-summary"),
        ReportKind::Changes => lang.text("html-title-changes"),
    }
}

/// What a report's HTML page is made with (`--format html`).
#[derive(Clone, Copy)]
struct HtmlPage<'a> {
    title: &'a str,
    date: Date,
    /// Thumbnails are made on it.
    pool: &'a rayon::ThreadPool,
    /// The evaluated files the report was computed from, shown with their rows.
    files: &'a [Evaluated],
}

/// Print a report's rows in the chosen format, or with `page` write its HTML folder.
fn print_report<R: Row>(out: &OutputArgs, page: Option<HtmlPage>, rows: &[R]) -> anyhow::Result<()> {
    match page {
        Some(page) => write_html_report(out, page, &report::Table::of(rows)),
        None => {
            with_writer(out, |w, format| output::write_rows(format, lang(), rows, w))?;
            Ok(())
        }
    }
}

/// Write the HTML folder of a report and say on stderr where (counts only, no names).
fn write_html_report(out: &OutputArgs, page: HtmlPage, table: &report::Table) -> anyhow::Result<()> {
    let dir = out.output.as_deref().ok_or_else(|| anyhow::anyhow!("--format html needs -o DIR"))?;
    let started = Instant::now();
    let HtmlPage { title, date, pool, files } = page;
    let written = pool.install(|| consentry::html::write(dir, title, date, lang(), table, files))?;
    // Written whole for the owner only; then opened to the group when asked.
    if out.share_group {
        own::set_access(dir, out.access())
            .map_err(|e| anyhow::anyhow!("{}: cannot share with the group: {e}", dir.display()))?;
    }
    if !out.quiet {
        let message = lang().tr(
            "cli-html-written",
            &[
                ("index", written.index.display().to_string().into()),
                ("secs", decimal(lang(), started.elapsed().as_secs_f64(), 2).into()),
                ("rows", written.rows.into()),
                ("thumbnails", written.thumbnails.into()),
                ("previews", written.from_previews.into()),
                ("placeholders", written.placeholders.into()),
            ],
        );
        say!("{message}");
    }
    Ok(())
}

fn search_command(args: SearchArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = context(&args.common, Need::WithEvidence, "consent search")?;
    let pending = ctx.required_register()?;
    let identity = match &args.person {
        Some(p) => match pending.get()?.identity(p) {
            Some(id) => Some(id),
            None => {
                say!("{}", lang().tr("cli-search-no-person", &[("name", format!("{p:?}").into())]));
                return Ok(Exit::Ok);
            }
        },
        None => None,
    };
    // The register is locked while files are evaluated: take it after.
    let (files, _) = collect(&ctx, out.quiet)?;
    let register = pending.get()?;
    let filter = report::ConsentFilter {
        identity,
        originator: args.originator.as_deref(),
        valid_on: args.valid_on,
        between: match args.between.as_slice() {
            [from, to] => Some((*from, *to)),
            _ => None,
        },
    };
    let rows = report::search(&files, &register, ctx.date, &filter);
    with_writer(out, |w, format| output::write_rows(format, lang(), &rows, w))?;
    Ok(Exit::Ok)
}

fn person_command(args: PersonArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let ctx = context(&args.common, Need::Whole, "person")?;
    let (files, summary) = collect(&ctx, out.quiet)?;
    let pending = ctx.required_register()?;
    let register = pending.get()?;
    let name = args.name.as_deref().unwrap_or_default();
    let rows = report::person(&files, &register, ctx.date, name);
    if rows.is_empty() && register.identity(name).is_none() {
        // Neither a register person nor depicted anywhere: say so, with the close names.
        let mut known = register.known_names();
        known.extend(files.iter().flat_map(|f| f.record.depicted.persons.iter().map(String::as_str)));
        let close = report::suggestions(name, &known);
        let quoted = format!("{name:?}");
        let message = if close.is_empty() {
            lang().tr("cli-person-none", &[("name", quoted.into())])
        } else {
            let close: Vec<String> = close.iter().map(|c| format!("{c:?}")).collect();
            lang().tr("cli-person-suggest", &[("name", quoted.into()), ("close", close.join(", ").into())])
        };
        say!("{message}");
        // An unreadable file may show them: that is not a clean "nobody".
        return Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Findings });
    }
    with_writer(out, |w, format| output::write_rows(format, lang(), &rows, w))?;
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// The engine's notes, printed on stderr as every message of the commands.
fn notes() -> engine::Notes {
    Arc::new(|m: &str| output::eprint_escaped(m))
}

/// The engine's options from what every archive command is given.
fn options(common: &CommonArgs) -> engine::Options {
    let (walk, reg, out) = (&common.walk, &common.register, &common.output);
    engine::Options {
        paths: walk.paths.clone(),
        people_roots: walk.people_roots.clone(),
        follow_links: !walk.no_follow,
        threads: out.threads.map(usize::from),
        quiet: out.quiet,
        register: reg
            .register
            .clone()
            .or_else(|| std::env::var_os(REGISTER_ENV).map(PathBuf::from).filter(|p| !p.as_os_str().is_empty())),
        as_of: reg.as_of,
        state: common.state.state.clone(),
        no_state: common.state.no_state,
        register_cache: engine::RegisterCache::User,
        lang: lang(),
        shard: None,
        notes: notes(),
    }
}

/// A command over the archive that records its run in the state as `command`.
fn context(common: &CommonArgs, need: Need, command: &'static str) -> anyhow::Result<Context> {
    Ok(Context::new(options(common), need, command)?)
}

/// [`context`] for a command that can be sharded (`scan`, `check`, `report`).
fn sharded_context(
    common: &CommonArgs,
    shard: &ShardArgs,
    need: Need,
    command: &'static str,
) -> anyhow::Result<Context> {
    Ok(Context::new(sharded(common, shard)?, need, command)?)
}

/// [`options`] with the run's shard, said on stderr even with --quiet: a shard's answers are
/// about its part of every archive only.
fn sharded(common: &CommonArgs, args: &ShardArgs) -> anyhow::Result<engine::Options> {
    let shard = shard_of(args)?;
    if let Some(s) = shard {
        say!("consentry: {}", lang().tr("cli-shard", &[("k", s.k.into()), ("n", s.n.into())]));
    }
    Ok(engine::Options { shard, ..options(common) })
}

/// Scan and evaluate everything with the context, keeping the records (for reports), with
/// progress and the error lines on stderr.
fn collect(ctx: &Context, quiet: bool) -> anyhow::Result<(Vec<Evaluated>, ScanSummary)> {
    let progress = Progress::new(quiet);
    let collected = ctx.collect(&|rec| progress.read(rec))?;
    progress.finish();
    Ok(collected)
}

fn apply_command(args: ApplyArgs) -> anyhow::Result<Exit> {
    let out = &args.common.output;
    let how =
        ApplyOptions { dry_run: args.dry_run, sidecar_always: args.sidecar == SidecarMode::Always, plus: args.plus };
    let ctx = engine::apply::context(sharded(&args.common, &args.shard)?)?;
    let (files, summary) = collect(&ctx, out.quiet)?;
    let applied = engine::apply::apply(&ctx, &files, summary, how)?;
    for e in &applied.failures {
        say!("consentry: {e}");
    }
    with_writer(out, |w, format| output::write_rows(format, lang(), &applied.rows, w))?;
    if !out.quiet {
        let id = if args.dry_run { "cli-apply-summary-dry-run" } else { "cli-apply-summary" };
        let message = lang().tr(
            id,
            &[
                ("files", applied.files.into()),
                ("written", applied.written.into()),
                ("unchanged", applied.unchanged.into()),
                ("failed", applied.failures.len().into()),
            ],
        );
        say!("{message}");
    }
    Ok(if applied.failures.is_empty() && applied.summary.errors == 0 { Exit::Ok } else { Exit::Partial })
}

fn register_command(cmd: RegisterCommand) -> anyhow::Result<Exit> {
    let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from);
    let here = [PathBuf::from(".")];
    match cmd {
        RegisterCommand::Check { path, register: reg } => {
            let given = match (path, reg.register) {
                (Some(a), Some(b)) if a != b => {
                    say!(
                        "consentry: register check: two different registers given: {} and --register {}",
                        a.display(),
                        b.display()
                    );
                    return Ok(Exit::Usage);
                }
                (a, b) => a.or(b),
            };
            let settings = config::discover(&here, given.as_deref(), env)?;
            let Some(path) = settings.register else { anyhow::bail!("no register given (--register PATH)") };
            let problems = match register::load(&path, &settings.vocabulary) {
                Ok(loaded) => loaded.warnings,
                Err(errors) => errors.0,
            };
            for p in &problems {
                println!("{}", output::escape_controls(&p.to_string()));
            }
            let errors = problems.iter().filter(|p| p.severity == register::Severity::Error).count();
            let message = lang().tr(
                "cli-register-check",
                &[
                    ("path", path.display().to_string().into()),
                    ("errors", errors.into()),
                    ("warnings", (problems.len() - errors).into()),
                ],
            );
            say!("{message}");
            Ok(if problems.is_empty() { Exit::Ok } else { Exit::Findings })
        }
        RegisterCommand::Import { csv, into } => {
            let settings = config::discover(&here, Some(&csv), None)?;
            let register = load_register(&csv, &settings.vocabulary, Some(&notes()), register::Options::FULL, None)?;
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
            let register =
                load_register(&path, &settings.vocabulary, Some(&notes()), register::Options::CONSENTS, None)?;
            let args =
                OutputArgs { format: Some(OutputFormat::Csv), output, threads: None, quiet: true, share_group: false };
            with_writer(&args, |mut w, _| register::export::export_csv(&register, &mut w))?;
            Ok(Exit::Ok)
        }
    }
}

/// Run `body` on stdout or on the `-o` file with the chosen format. Returns `None` when stdout
/// was closed by the reader (`| head`). A new `-o` file, or one replacing a regular file, is
/// written to a temporary file beside it (mode 0600: reports name people; 0640 once written
/// with `--share-group`) and renamed into place only when everything was written. Anything else at that path (a device such as
/// `/dev/null`, a FIFO, a terminal, a symbolic link such as `/dev/stdout`) is opened and
/// written directly, its mode left alone: renaming over it would replace the device or link.
/// The format `out` asks for: `--format`, else a table on a terminal and JSON Lines elsewhere.
fn output_format(out: &OutputArgs) -> OutputFormat {
    let default_format =
        || if out.output.is_none() && io::stdout().is_terminal() { OutputFormat::Table } else { OutputFormat::Jsonl };
    out.format.unwrap_or_else(default_format)
}

fn with_writer<T>(
    out: &OutputArgs,
    body: impl FnOnce(&mut dyn Write, OutputFormat) -> io::Result<T>,
) -> anyhow::Result<Option<T>> {
    let format = output_format(out);
    match &out.output {
        // Checked before any work where the command has `-o` (`check_format`): for the
        // others, a spreadsheet is never poured onto a terminal or into a pipe.
        None if format == OutputFormat::Xlsx => Err(anyhow::anyhow!(XLSX_NEEDS_FILE)),
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
                    .prefix(consentry::own::TEMP_PREFIX)
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
                } else if out.share_group {
                    // Written whole, and only then readable by the group.
                    own::set_access(tmp.path(), out.access())
                        .map_err(|e| anyhow::anyhow!("{}: cannot share with the group: {e}", path.display()))?;
                }
                tmp.persist(&target).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", path.display(), e.error))?;
                Ok(Some(value))
            }
        },
    }
}

/// Summary for stderr in `lang`; counts only, never names.
pub fn summary_line(lang: Lang, s: &ScanSummary, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.media_files as f64 / secs } else { 0.0 };
    let mut line = lang.tr(
        "cli-scan-summary",
        &[
            ("files", s.media_files.into()),
            ("secs", decimal(lang, secs, 2).into()),
            ("rate", decimal(lang, rate, 0).into()),
            ("persons", s.with_persons.into()),
            ("faces", s.with_unnamed_faces.into()),
            ("unreadable", s.errors.into()),
        ],
    );
    if s.orphan_sidecars > 0 {
        line.push_str(&lang.tr("cli-scan-orphans", &[("count", s.orphan_sidecars.into())]));
    }
    line.push_str(&lang.tr("cli-scan-skipped", &[("count", s.skipped.into())]));
    line
}

/// The files per status (counts in [`Status::ALL`] order) for stderr, in `lang`.
fn status_counts(lang: Lang, counts: &[u64; Status::ALL.len()]) -> String {
    let counts: Vec<String> = Status::ALL
        .iter()
        .zip(counts)
        .map(|(s, &n)| lang.tr("cli-status-count", &[("count", n.into()), ("status", lang.status(s.as_str()).into())]))
        .collect();
    lang.tr("cli-scan-statuses", &[("counts", counts.join(", ").into())])
}

/// A number with `places` decimals as `lang` writes it (a decimal comma in German).
fn decimal(lang: Lang, x: f64, places: usize) -> String {
    let text = format!("{x:.places$}");
    match lang {
        Lang::En => text,
        Lang::De => text.replace('.', ","),
    }
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
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {{pos}} {} ({{per_sec}}) {{elapsed}}",
                lang().text("cli-progress-scanned")
            ))
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

    /// A record read: counted, and its problem shown.
    fn read(&self, rec: &FileRecord) {
        self.inc();
        if let Some(e) = rec.error() {
            self.println(&format!("consentry: {}: {e}", rec.path.display()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_in_each_language_with_plurals() {
        let s = ScanSummary {
            media_files: 1,
            with_persons: 1,
            with_unnamed_faces: 0,
            errors: 0,
            orphan_sidecars: 2,
            skipped: 1,
            walk: None,
        };
        let elapsed = Duration::from_millis(1500);
        // English word for word as before --lang (scripts and tests grep it).
        assert_eq!(
            summary_line(Lang::En, &s, elapsed),
            "Scanned 1 media files in 1.50 s (1 files/s): 1 with persons, 0 with unnamed faces, 0 unreadable, \
             2 orphan sidecars, 1 other files skipped."
        );
        assert_eq!(
            summary_line(Lang::De, &s, elapsed),
            "1 Mediendatei in 1,50 s gelesen (1 Dateien/s): 1 mit Personen, 0 mit unbenannten Gesichtern, 0 unlesbar, \
             2 verwaiste Sidecar-Dateien, 1 andere Datei übersprungen."
        );
        let many = ScanSummary { media_files: 50_000, skipped: 3, ..ScanSummary::default() };
        let de = summary_line(Lang::De, &many, elapsed);
        assert!(
            de.starts_with("50000 Mediendateien in 1,50 s gelesen") && de.ends_with("3 andere Dateien übersprungen.")
        );
        let counts = [1, 2, 0, 3, 0, 4];
        assert_eq!(
            status_counts(Lang::En, &counts),
            "Status: 1 red, 2 yellow, 0 unreadable, 3 green, 0 exempt, 4 none."
        );
        assert_eq!(
            status_counts(Lang::De, &counts),
            "Status: 1 rot, 2 gelb, 0 unlesbar, 3 grün, 0 ausgenommen, 4 niemand."
        );
    }
}
