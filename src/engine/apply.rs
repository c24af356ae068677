//! `apply`: plan which file each evaluated result is written into (each file on disk once),
//! then write them in batches: new versions prepared beside the files in parallel, flushed with
//! one sync per file system by a committer thread, renamed over the files, and each directory
//! flushed once at the end.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use crate::consent::Status;
use crate::model::Vocabulary;
use crate::people::PeopleRoots;
use crate::report::Evaluated;
use crate::scan::{self, FileId, ScanSummary};
use crate::writeback::commit::{self, Basis, Outcome};
use crate::writeback::plan::{self, Target};
use crate::writeback::prepare::{self, Prepared};
use crate::writeback::xmp_edit::{self, Provenance};
use crate::writeback::Error as WriteError;
use crate::written::WrittenFields;

use super::{Context, Error, Need, Options};

/// How `apply` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Only say what would change.
    pub dry_run: bool,
    /// Only sidecars, also for formats that embed.
    pub sidecar_always: bool,
    /// Also the PLUS model release fields.
    pub plus: bool,
}

/// What happened to one file: a row of the `apply` report.
pub use crate::report::ApplyRow;

/// The result of `apply`.
#[derive(Debug)]
pub struct Applied {
    /// The files written (or, dry, to be written), then those not written.
    pub rows: Vec<ApplyRow>,
    /// Why each file was not written, in the order of the `failed` rows.
    pub failures: Vec<NotWritten>,
    /// The media files considered (written, unchanged and not written).
    pub files: usize,
    pub written: usize,
    pub unchanged: usize,
    pub summary: ScanSummary,
}

/// Why a file was not written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum NotWritten {
    /// Never a decision written into a file that could not be read completely.
    #[error("{path}: not written: the file could not be read: {problem}")]
    Unreadable { path: String, problem: String },
    /// Its archive has no register (it was not evaluated).
    #[error("{0}: not written: no register evaluated it")]
    NoRegister(String),
    /// Planning or writing it failed, or it changed meanwhile.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// One write planned: the file, where its result goes and what.
pub(crate) struct Planned<'a> {
    pub(crate) file: &'a Evaluated,
    pub(crate) target: Target,
    pub(crate) fields: WrittenFields,
    /// Why the target is a sidecar when it could have been the file.
    pub(crate) why: Option<&'static str>,
    pub(crate) provenance: &'a Provenance,
    pub(crate) roots: &'a PeopleRoots,
}

/// The writes of `files` and the files not written (the path as walked, and why): a file that
/// could not be read completely is never written; each file on disk is written once (a file
/// reached by two paths: symbolic links, overlapping arguments); a file whose archive has no
/// register is not written. `units`: each archive's provenance, vocabulary and people roots.
pub(crate) fn plan<'a>(
    files: &'a [Evaluated],
    units: &'a HashMap<usize, (Provenance, Vocabulary, PeopleRoots)>,
    options: ApplyOptions,
) -> (Vec<Planned<'a>>, Vec<(String, NotWritten)>) {
    // Sidecars: `name.xmp` shared by several files (`IMG_1.CR2` and `IMG_1.JPG`) is left to
    // none of them; each gets its own `name.ext.xmp` (`plan::target`).
    let mut planned = Vec::new();
    let mut failed: Vec<(String, NotWritten)> = Vec::new();
    for f in files {
        // Never a decision written into a file that could not be read completely.
        if f.decision.status == Status::Unreadable {
            let problem = f.record.error().unwrap_or_default();
            failed.push((f.path(), NotWritten::Unreadable { path: f.path(), problem }));
            continue;
        }
        if !f.record.is_media() {
            continue;
        }
        let r = &f.record;
        match plan::target(&r.path, r.format, &r.sidecars, &r.shared_sidecars, options.sidecar_always) {
            Ok((target, why)) => planned.push((f, target, why)),
            Err(e) => failed.push((f.path(), e.into())),
        }
    }
    let (mut seen, mut new_paths) = (HashSet::<FileId>::new(), HashSet::new());
    let mut work = Vec::new();
    for (f, target, why) in planned {
        let fresh = match std::fs::metadata(target.path()) {
            Ok(m) => seen.insert(FileId::of(&m)),
            Err(_) => new_paths.insert(target.path().to_path_buf()), // a sidecar to be created
        };
        if !fresh {
            continue;
        }
        let Some((provenance, vocabulary, roots)) = f.record.placed.as_ref().and_then(|p| units.get(&p.unit)) else {
            failed.push((f.path(), NotWritten::NoRegister(f.path())));
            continue;
        };
        let fields = plan::fields(&f.decision, vocabulary, options.plus);
        work.push(Planned { file: f, target, fields, why, provenance, roots });
    }
    (work, failed)
}

/// Scan, evaluate and write every file's result into its XMP (SPEC.md 5): [`context`],
/// [`Context::collect`] and [`apply`]. `read` sees every record as it is read (progress).
pub fn run(options: Options, how: ApplyOptions, read: &dyn Fn(&scan::FileRecord)) -> Result<Applied, Error> {
    let ctx = context(options)?;
    let (files, summary) = ctx.collect(read)?;
    apply(&ctx, &files, summary, how)
}

/// The context `apply` scans with. `apply` reads every file (it compares with what it wrote
/// before) and records no run: the files it rewrites are read again by the next run.
pub fn context(options: Options) -> Result<Context, Error> {
    let mut ctx = Context::untracked(options, Need::Register, "apply")?;
    ctx.opts.written = true; // compare with what a previous apply wrote without reading again
    Ok(ctx)
}

/// Write the results of `files` (scanned and evaluated with [`context`]; `summary` that scan's)
/// into their XMP.
pub fn apply(ctx: &Context, files: &[Evaluated], summary: ScanSummary, apply: ApplyOptions) -> Result<Applied, Error> {
    // Each file is stamped with its own archive's register, in that register's vocabulary.
    // And its people roots, with which a rewritten copy is read back.
    let mut units: HashMap<usize, (Provenance, Vocabulary, PeopleRoots)> = HashMap::new();
    for unit in files.iter().filter_map(|f| f.record.placed.as_ref().map(|p| p.unit)) {
        if units.contains_key(&unit) {
            continue;
        }
        let unit_of = ctx.archives.unit(unit);
        if let Some(pending) = &unit_of.register {
            let register = pending.get()?;
            let provenance =
                Provenance { evaluated_at: ctx.date.to_string(), register_digest: register.digest.clone() };
            units.insert(unit, (provenance, register.vocabulary.clone(), unit_of.roots.clone()));
        }
    }
    xmp_edit::register_namespaces()?;
    let (work, mut failed) = plan(files, &units, apply);
    if !apply.dry_run {
        let dirs: BTreeSet<&Path> = work.iter().filter_map(|w| w.target.path().parent()).collect();
        for d in dirs {
            commit::remove_stale_temps(d);
        }
    }
    let pool = ctx.opts.pool()?;
    let outcomes = write(&pool, &work, apply.dry_run);
    if !apply.dry_run {
        let touched: BTreeSet<&Path> = work
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Written { .. }))
            .filter_map(|(w, _)| w.target.path().parent())
            .collect();
        commit::sync_dirs(touched);
    }

    let (mut written, mut unchanged) = (0usize, 0usize);
    let mut rows = Vec::new();
    let failed_in_plan = failed.len();
    for (w, outcome) in work.iter().zip(outcomes) {
        let (action, detail) = match outcome {
            Outcome::Unchanged => {
                unchanged += 1;
                continue;
            }
            Outcome::Written { before } => {
                written += 1;
                let mut changes: Vec<String> = before
                    .describe(&w.fields)
                    .into_iter()
                    .map(|(k, (a, b))| {
                        format!(
                            "{k}: {} -> {}",
                            if a.is_empty() { "-" } else { &a },
                            if b.is_empty() { "-" } else { &b }
                        )
                    })
                    .collect();
                changes.extend(w.why.map(str::to_string));
                (if apply.dry_run { "would write" } else { "written" }, changes.join("; "))
            }
            Outcome::Failed(e) => {
                failed.push((w.file.path(), e.into()));
                continue;
            }
        };
        rows.push(ApplyRow {
            path: w.file.path(),
            target: Some(w.target.path().display().to_string()),
            action,
            detail,
        });
    }
    let mut failures = Vec::with_capacity(failed.len());
    for (path, e) in failed {
        rows.push(ApplyRow { path, target: None, action: "failed", detail: e.to_string() });
        failures.push(e);
    }
    // Files not written before any write was tried are not among `work`.
    let files_considered = work.len() + failed_in_plan;
    Ok(Applied { rows, failures, files: files_considered, written, unchanged, summary })
}

/// Files `apply` prepares before one flush: each flush waits for the disk, so fewer are faster.
const APPLY_BATCH: usize = 256;

/// Write the planned files in batches, one outcome per planned file, in order.
fn write(pool: &rayon::ThreadPool, work: &[Planned<'_>], dry_run: bool) -> Vec<Outcome> {
    use rayon::prelude::*;
    // In batches: new versions written beside the files in parallel, flushed with one sync per
    // file system, then renamed over the files; each directory flushed once at the end. A batch
    // holds its copies and the files they replace open (and locked) until the rename; up to three
    // batches are alive (committed, waiting, prepared): room for them in the open-file limit.
    raise_open_file_limit(6 * APPLY_BATCH as u64 + 256);
    // While one batch is flushed (the disk works, the cores wait) and renamed, the next is
    // prepared.
    std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Prepared>>(1);
        let total = work.len();
        let committer = scope.spawn(move || {
            let mut outcomes = Vec::with_capacity(total);
            for prepared in rx {
                commit::sync_copies(prepared.iter().filter_map(|p| match p {
                    Prepared::Ready(r) => Some(r),
                    Prepared::Done(_) => None,
                }));
                outcomes.extend(prepared.into_iter().map(|p| match p {
                    Prepared::Done(o) => o,
                    Prepared::Ready(r) => {
                        let path = r.path().to_path_buf();
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit::commit(r))).unwrap_or_else(
                            |panic| {
                                Outcome::Failed(WriteError::Panicked {
                                    path,
                                    doing: "replacing it",
                                    message: scan::panic_message(&panic),
                                })
                            },
                        )
                    }
                }));
            }
            outcomes
        });
        pool.install(|| {
            for batch in work.chunks(APPLY_BATCH) {
                let prepared: Vec<Prepared> = batch.par_iter().map(|w| prepare_one(w, dry_run)).collect();
                if tx.send(prepared).is_err() {
                    break;
                }
            }
        });
        drop(tx);
        committer.join().expect("the committer does not panic")
    })
}

/// Prepare one planned file; a panic in its write is an error for that file.
fn prepare_one(w: &Planned<'_>, dry_run: bool) -> Prepared {
    let record = &w.file.record;
    // What the scan read of the target, when the target is what it read.
    let known = match &w.target {
        Target::Embedded(..) => record.written.as_deref(),
        Target::Sidecar(p) if record.sidecars.first() == Some(p) => record.written_sidecar.as_deref(),
        Target::Sidecar(_) => None,
    };
    let write = || {
        let basis = Basis::of(record, &w.target, w.roots)?;
        Ok::<_, WriteError>(prepare::prepare(&w.target, &w.fields, w.provenance, dry_run, known, &basis))
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)) {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(e)) => Prepared::Done(Outcome::Failed(e)),
        Err(panic) => Prepared::Done(Outcome::Failed(WriteError::Panicked {
            path: w.target.path().to_path_buf(),
            doing: "writing, not written",
            message: scan::panic_message(&panic),
        })),
    }
}

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
