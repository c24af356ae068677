//! `scan --results DIR` (a shard's result file) and `consentry merge DIR` (SPEC.md 7a): the
//! records and reports of a sharded run, printed as one run over the whole archive prints them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use consentry::consent::Status;
use consentry::engine::{self, Context};
use consentry::output::RecordWriter;
use consentry::results::{self, Header, PathText, ShardWriter};
use consentry::scan::{ScanSummary, Shard};

use super::{
    lang, print_kind, report_need, report_usages, sharded_context, status_counts, summary_line, with_writer, Exit,
    OutputArgs, Progress, ReportKind, ScanArgs,
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
    let written = writer.finish(summary.skipped, digests).map_err(cannot)?;
    progress.finish();
    if !out.quiet {
        say_summary(&summary, started, header.evaluated, &statuses);
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
        let mut merge = results::Merge::new(&set)?;
        let written = with_writer(out, |w, format| {
            let mut writer = RecordWriter::new(format, lang(), w, evaluated)?;
            loop {
                match merge.next_record() {
                    Ok(Some((rec, _, decision))) => {
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
            say_summary(&summary, started, evaluated, &statuses);
        }
        return Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok });
    };
    if kind == ReportKind::Changes {
        anyhow::bail!("`merge --report changes`: each shard's changes are in its own state: run `consentry report changes --shard K/N` per shard");
    }
    // The archive, as the shards saw it: its vocabulary, its register and the day.
    let ctx = merged_context(&set, report_need(kind))?;
    let usages = report_usages(&ctx, kind, &args.usages)?;
    let files = results::Merge::new(&set)?.evaluated()?;
    let digests = first.end.registers.clone();
    if !matches!(kind, ReportKind::Missing | ReportKind::Unreleased | ReportKind::Cleared) {
        // The register is read again for this report: it must be the one the shards used.
        let now = ctx.register_digests()?;
        if now != digests {
            anyhow::bail!(
                "{}: the register changed since the shards were scanned: this report would mix two registers; rerun the shards",
                args.dir.display()
            );
        }
    }
    print_kind(&ctx, kind, args.within, &usages, &files, out)?;
    let errors = files.iter().filter(|f| !f.record.errors.is_empty()).count();
    Ok(if errors > 0 { Exit::Partial } else { Exit::Ok })
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

/// The summary line of a scan on stderr.
fn say_summary(summary: &ScanSummary, started: Instant, evaluated: bool, statuses: &[u64; Status::ALL.len()]) {
    let mut line = summary_line(lang(), summary, started.elapsed());
    if evaluated {
        line.push(' ');
        line.push_str(&status_counts(lang(), statuses));
    }
    say!("{line}");
}
