//! Command-line interface: argument definitions, exit codes, and thin command functions.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::output::{OutputFormat, RecordWriter};
use crate::people::PeopleRoots;
use crate::scan::{self, ScanOptions, ScanSummary};

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
    /// Report, for every media file, the depicted persons and unnamed faces found in its metadata.
    Scan(ScanArgs),
}

/// Options every command that prints records shares.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, else jsonl]
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the records to FILE (created readable by the owner only) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads [default: number of cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No progress bar and no summary on stderr (errors are still reported).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan [default: the current directory]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Top-level keyword that holds person names in keyword hierarchies (repeatable)
    /// [default: People, Persons, Personen]
    #[arg(long = "people-root", value_name = "NAME")]
    pub people_roots: Vec<String>,
    /// Do not follow symbolic links.
    #[arg(long)]
    pub no_follow: bool,
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
    match cli.command {
        Command::Scan(args) => scan_command(args),
    }
}

fn scan_command(args: ScanArgs) -> anyhow::Result<Exit> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    for p in &paths {
        if std::fs::symlink_metadata(p).is_err() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let roots =
        if args.people_roots.is_empty() { PeopleRoots::default() } else { PeopleRoots::new(&args.people_roots) };
    let out = &args.output;
    let opts = ScanOptions {
        roots,
        follow_links: !args.no_follow,
        threads: out.threads.map(usize::from),
        ..ScanOptions::default()
    };
    let progress = Progress::new(out.quiet);
    let started = Instant::now();
    let summary = with_output(out, |writer| {
        scan::scan(&paths, &opts, |rec| {
            progress.inc();
            if let Some(e) = rec.error() {
                progress.println(&format!("consentry: {}: {e}", rec.path.display()));
            }
            writer.write(rec)
        })
    })?;
    progress.finish();
    let Some(summary) = summary else {
        return Ok(Exit::Ok); // stdout closed (e.g. piped into `head`): stop quietly
    };
    if !out.quiet {
        eprintln!("{}", summary_line(&summary, started.elapsed()));
    }
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// Run `body` with a record writer on stdout or on the `-o` file. Returns `None` for the summary
/// when stdout was closed by the reader. The `-o` file is written to a temporary file beside it
/// (mode 0600) and renamed into place only when everything was written.
fn with_output(
    out: &OutputArgs,
    body: impl FnOnce(&mut RecordWriter<Box<dyn Write + '_>>) -> io::Result<ScanSummary>,
) -> anyhow::Result<Option<ScanSummary>> {
    let default_format =
        || if out.output.is_none() && io::stdout().is_terminal() { OutputFormat::Table } else { OutputFormat::Jsonl };
    let format = out.format.unwrap_or_else(default_format);
    match &out.output {
        None => {
            let stdout = io::stdout().lock();
            let mut w =
                RecordWriter::new(format, Box::new(io::BufWriter::with_capacity(1 << 16, stdout)) as Box<dyn Write>);
            let summary = match body(&mut w).and_then(|s| w.finish().map(|_| s)) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(None),
                Err(e) => return Err(anyhow::anyhow!("writing to stdout: {e}")),
            };
            Ok(Some(summary))
        }
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".consentry-")
                .tempfile_in(dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot create output file: {e}", path.display()))?;
            let file = tmp.as_file().try_clone()?;
            let mut w = RecordWriter::new(format, Box::new(io::BufWriter::new(file)) as Box<dyn Write>);
            let summary = body(&mut w)
                .and_then(|s| w.finish().map(|_| s))
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
            tmp.persist(path).map_err(|e| anyhow::anyhow!("{}: cannot write: {}", path.display(), e.error))?;
            Ok(Some(summary))
        }
    }
}

/// Summary for stderr; counts only, never names.
pub fn summary_line(s: &ScanSummary, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { s.media_files as f64 / secs } else { 0.0 };
    let mut line = format!(
        "Scanned {} media files in {:.2} s ({:.0} files/s): {} with persons, {} with unnamed faces, {} errors",
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
