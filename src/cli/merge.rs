//! `scan --results DIR` (a shard's result file) and `consentry merge DIR` (SPEC.md 7a): the
//! records and reports of a sharded run, printed as one run over the whole archive prints them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use consentry::consent::Status;
use consentry::engine::{self, Context};
use consentry::output::RecordWriter;
use consentry::report;
use consentry::results::{self, ChangeLine, Header, PathText, RunLine, ShardWriter};
use consentry::scan::{ScanSummary, Shard};
use consentry::state::{self, RecordedChange, RecordedRun};

use super::{
    lang, print_kind, report_need, report_usages, sharded_context, with_writer, Exit, OutputArgs, Progress, ReportKind,
    ScanArgs,
};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The folder of the shards' result files (`consentry scan --shard K/N --results DIR`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print this report of the merged results (as `consentry report KIND` prints it) instead
    /// of the records (as `consentry scan` prints them).
    #[arg(long, value_enum, value_name = "KIND")]
    pub report: Option<ReportKind>,
    /// For `--report expiring`: the window in days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u32,
    /// For `--report unreleased` and `--report cleared`: the usage areas, separated by commas.
    #[arg(long = "for", value_name = "USAGE", value_delimiter = ',')]
    pub usages: Vec<String>,
    /// For `--report changes`: exit 1 when a change needs attention (as `report changes
    /// --exit-code`).
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `scan --results DIR`: this shard's records, with their evaluations, into its result file,
/// written whole or not at all; nothing on stdout.
pub fn scan_to_results(args: &ScanArgs, dir: &Path) -> anyhow::Result<Exit> {
    let common = &args.common;
    let out = &common.output;
    let ctx = sharded_context(common, &args.shard, engine::Need::Optional, "scan")?;
    let shard = ctx.opts.shard.unwrap_or(Shard { k: 0, n: 1 });
    let cwd = std::env::current_dir()?;
    let named: Vec<PathBuf> =
        if common.walk.paths.is_empty() { vec![PathBuf::from(".")] } else { common.walk.paths.clone() };
    let register = super::options(common).register.map(|r| consentry::paths::absolute_in(&cwd, &r));
    let header = Header {
        consentry: results::FORMAT.into(),
        version: results::VERSION,
        k: shard.k,
        n: shard.n,
        date: ctx.date.to_string(),
        evaluated: ctx.evaluates(),
        cwd: PathText::of(&cwd),
        paths: named.iter().map(|p| PathText::of(p)).collect(),
        register: register.as_deref().map(PathText::of),
        people_roots: common.walk.people_roots.clone(),
        follow_links: !common.walk.no_follow,
        tool: env!("CARGO_PKG_VERSION").into(),
    };
    let cannot = |e: std::io::Error| anyhow::anyhow!("{}: cannot write the shard's results: {e}", dir.display());
    let mut writer = ShardWriter::create(dir, &header).map_err(cannot)?;
    let progress = Progress::new(out.quiet);
    let started = Instant::now();
    let mut statuses = [0u64; Status::ALL.len()];
    let summary = ctx.scan_evaluated(&|rec| progress.read(rec), |rec, rel, decision, _| {
        if let Some(d) = &decision {
            statuses[d.status as usize] += 1;
        }
        writer.write(&rec, rel.as_deref(), decision.as_ref())
    })?;
    let summary = summary.map_err(cannot)?;
    let digests = ctx.register_digests()?;
    // The changes the run recorded in its states, for `merge --report changes`.
    let mut runs = Vec::new();
    for (path, run) in ctx.recorded_states() {
        // This run's (another may have been recorded in the state since).
        let (recorded, changes) = state::State::open_existing(&path)?.run_changes_with_files(run)?;
        runs.extend(recorded.into_iter().map(|r| RunLine { finished: r.finished, baseline: r.baseline }));
        for (c, id) in changes {
            // The file's identity, for a move from or to another shard's part of the archive.
            let file = id.map(|id| (id.dev, id.ino));
            let line = ChangeLine {
                run: c.run,
                change: c.change,
                path: c.path.as_deref().map(PathText::of),
                old_status: c.old_status,
                new_status: c.new_status,
                detail: c.detail,
                file,
            };
            writer.write_change(line).map_err(cannot)?;
        }
    }
    let written = writer.finish(&summary, digests, runs).map_err(cannot)?;
    progress.finish();
    if !out.quiet {
        super::say_summary(&summary, started, header.evaluated, &statuses);
        say!("{}", lang().tr("cli-results-written", &[("path", written.display().to_string().into())]));
    }
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// `consentry merge DIR [--report KIND]`.
pub fn merge(args: MergeArgs) -> anyhow::Result<Exit> {
    let out = &args.output;
    let set = results::open_set(&args.dir)?;
    let first = &set[0];
    let started = Instant::now();
    let Some(kind) = args.report else {
        // The records, as `scan` prints them, as they are merged.
        let mut summary = ScanSummary::default();
        let mut statuses = [0u64; Status::ALL.len()];
        let mut failed = None;
        let evaluated = first.header.evaluated;
        // Every line checked before anything is printed.
        results::Merge::check(&set)?;
        let mut merge = results::Merge::new(&set)?;
        let progress = Progress::new(true);
        let written = with_writer(out, |w, format| {
            let mut writer = RecordWriter::new(format, lang(), w, evaluated)?;
            loop {
                match merge.next_record() {
                    Ok(Some((rec, _, decision))) => {
                        progress.read(&rec); // its problem on stderr, as the scan said it
                        summary.count(&rec);
                        if let Some(d) = &decision {
                            statuses[d.status as usize] += 1;
                        }
                        writer.write(&rec, decision.as_ref())?;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(e);
                        return Err(std::io::Error::other("the results cannot be merged"));
                    }
                }
            }
            writer.finish().map(drop)
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        if written?.is_none() {
            return Ok(Exit::Ok); // stdout closed
        }
        summary.skipped = first.end.skipped;
        if !out.quiet {
            super::say_summary(&summary, started, evaluated, &statuses);
        }
        return Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok });
    };
    if kind == ReportKind::Changes {
        return merged_changes(&args, &set);
    }
    if args.exit_code {
        anyhow::bail!("--exit-code is for `merge --report changes`");
    }
    // The archive, as the shards saw it: its vocabulary, its register and the day.
    let ctx = merged_context(&set, report_need(kind))?;
    let usages = report_usages(&ctx, kind, &args.usages)?;
    let files = results::Merge::new(&set)?.evaluated()?;
    let digests = &first.end.registers;
    if !matches!(kind, ReportKind::Missing | ReportKind::Unreleased | ReportKind::Cleared) && digests.len() > 1 {
        // As one run over these archives refuses it.
        return Err(engine::Error::DifferentRegisters.into());
    }
    // The registers are read again: they must be those the shards judged with (a consent
    // revoked since would otherwise still clear its files here).
    if ctx.register_digests()?.iter().any(|now| !digests.contains(now)) {
        anyhow::bail!(
            "{}: the register changed since the shards were scanned (their answers are the old register's): rerun the shards",
            args.dir.display()
        );
    }
    // Each file's problem on stderr, as the scan said it.
    let said = Progress::new(true);
    for f in files.iter().filter(|f| !f.record.errors.is_empty()) {
        said.read(&f.record);
    }
    print_kind(&ctx, kind, args.within, &usages, &files, out)?;
    let errors = files.iter().filter(|f| !f.record.errors.is_empty()).count();
    Ok(if errors > 0 { Exit::Partial } else { Exit::Ok })
}

/// `merge --report changes`: what the shards' runs found, as one run over the whole archive
/// would have recorded it.
fn merged_changes(args: &MergeArgs, set: &[results::ShardFile]) -> anyhow::Result<Exit> {
    let out = &args.output;
    if let Some(f) = set.iter().find(|f| f.end.runs.is_empty()) {
        anyhow::bail!(
            "{}: this shard kept no state (--no-state, or it could not be written): it recorded no changes",
            f.path.display()
        );
    }
    // A shard whose state started with this run has no changes to tell; one run over the whole
    // archive would have had either a baseline or changes everywhere.
    let baseline = |f: &&results::ShardFile| f.end.runs.iter().all(|r| r.baseline);
    if let (Some(new), Some(old)) = (set.iter().find(baseline), set.iter().find(|f| !baseline(f))) {
        anyhow::bail!(
            "{}: its state started with this run (a first run, no changes recorded) where {}'s did not: their changes are not one run's; the next runs of the set will agree",
            new.path.display(),
            old.path.display()
        );
    }
    let header = &set[0].header;
    let cwd = header
        .cwd
        .path()
        .ok_or_else(|| anyhow::anyhow!("{}: line 1: the folder does not read back", set[0].path.display()))?;
    let changes = results::Merge::new(set)?.changes(&cwd)?;
    let rows: Vec<RecordedChange> = changes
        .into_iter()
        .map(|c| RecordedChange {
            run: c.run,
            change: c.change,
            path: c.path.as_ref().and_then(PathText::path),
            old_status: c.old_status,
            new_status: c.new_status,
            detail: c.detail,
        })
        .collect();
    let runs = set.iter().flat_map(|f| &f.end.runs);
    let finished = runs.clone().map(|r| r.finished.clone()).max().unwrap_or_default();
    let run = RecordedRun { finished, baseline: runs.clone().all(|r| r.baseline) };
    let (rows, about) = report::changes(lang(), None, &[run], &rows);
    if !out.quiet {
        let message = lang().tr(
            "cli-changes-line",
            &[("path", args.dir.display().to_string().into()), ("about", about.into()), ("rows", rows.len().into())],
        );
        say!("{message}");
    }
    let page = match out.format {
        Some(consentry::output::OutputFormat::Html) => {
            let pool =
                consentry::scan::ScanOptions { threads: out.threads.map(usize::from), ..Default::default() }.pool()?;
            Some(pool)
        }
        _ => None,
    };
    let title = super::report_title(ReportKind::Changes, args.within, &[]);
    let date = chrono::Local::now().date_naive();
    let page = page.as_deref().map(|pool| super::HtmlPage { title: &title, date, pool, files: &[] });
    super::print_report(out, page, rows)?;
    let attention = args.exit_code && rows.iter().any(report::needs_attention);
    Ok(if attention { Exit::Findings } else { Exit::Ok })
}

/// A context over what the shards scanned (no scan is run with it): the paths as they named
/// them, their register and the day they evaluated on.
fn merged_context(set: &[results::ShardFile], need: engine::Need) -> anyhow::Result<Context> {
    let header = &set[0].header;
    let path = |p: &PathText| {
        p.path().ok_or_else(|| anyhow::anyhow!("{}: a path that does not read back", set[0].path.display()))
    };
    let cwd = path(&header.cwd)?;
    let paths = header
        .paths
        .iter()
        .map(|p| path(p).map(|p| consentry::paths::absolute_in(&cwd, &p)))
        .collect::<Result<Vec<_>, _>>()?;
    let date = header
        .date
        .parse()
        .map_err(|_| anyhow::anyhow!("{}: line 1: the day {:?} is not a day", set[0].path.display(), header.date))?;
    let options = engine::Options {
        people_roots: header.people_roots.clone(),
        follow_links: header.follow_links,
        register: header.register.as_ref().map(path).transpose()?,
        as_of: Some(date),
        no_state: true,
        quiet: true,
        lang: lang(),
        notes: super::notes(),
        ..engine::Options::new(paths)
    };
    Ok(Context::untracked(options, need, "merge")?)
}
