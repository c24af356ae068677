//! A command's [`Context`]: the named paths, the archives of their files and the date; the
//! scan pipeline run into a sink, each record evaluated by its own archive's register in walk
//! order, and the run recorded in the archive's state.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config;
use crate::consent::Decision;
use crate::model::{self, Date, Register};
use crate::people::PeopleRoots;
use crate::report::Evaluated;
use crate::scan::{self, FileRecord, ScanOptions, ScanSummary};
use crate::state;

use super::archives::{Archives, Found, PendingRegister, StateSlot};
use super::{Error, Need, Notes, Options, RegisterCache};

/// How many scanned records `scan` keeps while the register is still loading.
const WAITING_RECORDS: usize = 100_000;

/// What a command works with: the scanned paths, the archives of their files (each with its
/// register and state), the date.
pub struct Context {
    paths: Vec<PathBuf>,
    pub(crate) archives: Arc<Archives>,
    /// The day files are evaluated on.
    pub date: Date,
    /// How the files are scanned (the pool, their placement in archives).
    pub opts: ScanOptions,
    command: &'static str,
    quiet: bool,
    /// The language of the summaries among the notes.
    lang: crate::i18n::Lang,
    notes: Notes,
    /// The states the run was recorded in ([`Context::recorded_states`]).
    recorded: Mutex<Vec<(PathBuf, i64)>>,
}

impl Context {
    /// A command over the archive that records its run in the state as `command`.
    pub fn new(options: Options, need: Need, command: &'static str) -> Result<Context, Error> {
        Context::build(options, need, command, true)
    }

    /// A command that reads every file and records no run (`apply`, `consent assign`).
    pub fn untracked(options: Options, need: Need, command: &'static str) -> Result<Context, Error> {
        if let Some(state) = &options.state {
            return Err(Error::StateNotApplicable { command, state: state.clone() });
        }
        Context::build(options, need, command, false)
    }

    fn build(options: Options, need: Need, command: &'static str, tracked: bool) -> Result<Context, Error> {
        if let (Some(shard), Some(state)) = (&options.shard, &options.state) {
            // One state given to every shard: each would record the others' files as removed.
            return Err(Error::Archive(format!(
                "--state {} with shard {}/{}: each shard keeps its own state in its archive; leave --state out",
                state.display(),
                shard.k,
                shard.n
            )));
        }
        let paths = if options.paths.is_empty() { vec![PathBuf::from(".")] } else { options.paths.clone() };
        for p in &paths {
            if std::fs::symlink_metadata(p).is_err() {
                return Err(Error::NoSuchPath(p.clone()));
            }
        }
        let mut opts = ScanOptions {
            follow_links: options.follow_links,
            threads: options.threads,
            shard: options.shard,
            ..ScanOptions::default()
        };
        let pool = opts.pool()?;
        opts.pool = Some(pool.clone());
        let cwd = std::env::current_dir()?;
        // The validated rows of a CSV register are kept between runs in the user's cache.
        let cache = match options.register_cache {
            RegisterCache::User => state::cache_dir(),
            RegisterCache::At(dir) => Some(dir),
            RegisterCache::None => None,
        }
        .filter(|dir| crate::own::create_private_dir_all(dir).is_ok());
        let archives = Arc::new(Archives {
            // As named and as real: a root that is a link is walked at its real path, the files
            // under a root that is not are keyed as walked.
            scanned: paths
                .iter()
                .flat_map(|p| {
                    let named = crate::paths::absolute_in(&cwd, p);
                    let real = std::fs::canonicalize(&named).ok().filter(|r| *r != named);
                    std::iter::once(named).chain(real)
                })
                .collect(),
            cwd,
            register: options.register.clone(),
            people_roots: (!options.people_roots.is_empty()).then(|| PeopleRoots::new(&options.people_roots)),
            need,
            quiet: options.quiet,
            notes: options.notes.clone(),
            tracked: tracked && !options.no_state,
            state: options.state.clone(),
            shard: options.shard,
            pool,
            cache,
            found: Mutex::new(Found::default()),
        });
        // The archives of the named paths are set up first: a problem with one of them stops
        // the command before any work.
        for p in &paths {
            // A named file is placed where it really is (a link followed, as the walk places
            // its record): the archive of the link's own folder is not the file's.
            let real = (options.follow_links && !p.is_dir()).then(|| std::fs::canonicalize(p).ok()).flatten();
            let file = real.as_deref().unwrap_or(p);
            let dir = if p.is_dir() { p.as_path() } else { file.parent().unwrap_or(Path::new("")) };
            let place = scan::Placement::place(&*archives, dir);
            if let Some(e) = &place.error {
                return Err(Error::Archive(e.to_string()));
            }
            if let Some(problem) = &archives.unit(place.unit).problem {
                return Err(Error::Archive(problem.clone()));
            }
            if let Some(shard) = &options.shard {
                shard_holds(shard, p, file, &place)?;
            }
        }
        opts.placement = Some(archives.clone());
        let date = options.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(Context {
            paths,
            archives,
            date,
            opts,
            command,
            quiet: options.quiet,
            lang: options.lang,
            notes: options.notes,
            recorded: Mutex::new(Vec::new()),
        })
    }

    /// Record the runs in the states (after a complete scan). A state that cannot be written is
    /// reported and counted as an error of the run (exit 3): the next run reads every file.
    fn finish_runs(&self, summary: &mut ScanSummary) -> Result<(), Error> {
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
            let finished = run.finish(self.command, date, register.as_ref().map(|r| r.digest.as_str()), summary);
            if let Ok(r) = &finished {
                self.recorded.lock().unwrap_or_else(|e| e.into_inner()).push((path.clone(), r.run));
            }
            match finished.map(|r| r.counts) {
                Ok(c) if !self.quiet => (self.notes)(&self.lang.tr(
                    "engine-state-run",
                    &[
                        ("state", path.display().to_string().into()),
                        ("files", c.files.into()),
                        ("read", c.read.into()),
                        ("unchanged", (c.files - c.read).into()),
                        ("new", c.new.into()),
                        ("moved", c.moved.into()),
                        ("removed", c.removed.into()),
                        ("changes", c.changes.into()),
                    ],
                )),
                Ok(_) => {}
                Err(e) => {
                    note!(self.notes, "consentry: {}: the state could not be written: {e:#}", path.display());
                    summary.errors += 1;
                }
            }
        }
        Ok(())
    }

    /// The states this command's scan recorded its run in (after [`Context::scan_evaluated`]),
    /// in the order of their paths, each with the id of the run recorded there.
    pub fn recorded_states(&self) -> Vec<(PathBuf, i64)> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The archive a scanned record was placed in (`None`: in no archive, or not placed).
    pub fn archive_of(&self, record: &FileRecord) -> Option<Arc<config::Archive>> {
        record.placed.as_ref().and_then(|p| self.archives.unit(p.unit).archive.clone())
    }

    /// Whether files are evaluated (a register is given, or one of the named paths' archives
    /// names one).
    pub fn evaluates(&self) -> bool {
        self.archives.register.is_some() || !self.archives.registers().is_empty()
    }

    /// The digests of the registers of the archives met, sorted, each once (a shard's results
    /// name them: a set is merged only when every shard used the same).
    pub fn register_digests(&self) -> Result<Vec<String>, Error> {
        let mut digests = self
            .archives
            .registers()
            .iter()
            .map(|r| r.get().map(|g| g.digest.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        digests.sort();
        digests.dedup();
        Ok(digests)
    }

    /// The one register of a command that needs the whole register (listings of consents and
    /// names): its files must all use the same one.
    pub fn required_register(&self) -> Result<Arc<PendingRegister>, Error> {
        let mut registers = self.archives.registers();
        match registers.len() {
            0 => Err(Error::NoRegister),
            1 => Ok(registers.remove(0)),
            _ => Err(Error::DifferentRegisters),
        }
    }

    /// The evaluation of a media file or an unwalkable path whose archive-relative path is `rel`
    /// (`None` in no archive; none for orphan sidecars, which are not media). A record with
    /// errors and an unwalkable path are `unreadable` ([`FileRecord::evaluate`]). Builds the
    /// consents of the persons shown first, when the register defers them. Sets the record's
    /// hints ([`FileRecord::hints_by`]; they change no decision).
    fn evaluate(&self, register: &mut Register, rec: &mut FileRecord, rel: Option<&str>) -> Option<Decision> {
        if rec.subject == scan::Subject::OrphanSidecar {
            return None;
        }
        register.prepare(rec.depicted.persons.iter().map(String::as_str));
        rec.hints = rec.hints_by(register);
        Some(rec.evaluate(rel, register, self.date))
    }

    /// Scan, evaluating each record in walk order by its own archive and handing it to `emit`
    /// with its archive-relative path (`None` in no archive), its decision (none without a
    /// register, for orphan sidecars and unwalkable paths) and its register. Records that
    /// arrive while their register is still loading wait (up to a bound), so that the workers
    /// go on reading meanwhile. A register with errors stops the scan before the next record is
    /// emitted; its error is returned. `read` sees every record as it is read (before it may
    /// wait): the command's progress.
    ///
    /// The outer error is the engine's (a register or state that cannot be used); the inner one
    /// the sink's or the walk's.
    pub fn scan_evaluated(
        &self,
        read: &dyn Fn(&FileRecord),
        mut emit: impl FnMut(FileRecord, Option<String>, Option<Decision>, Option<&Register>) -> io::Result<()>,
    ) -> Result<Result<ScanSummary, io::Error>, Error> {
        let mut waiting: Vec<FileRecord> = Vec::new();
        let mut register_error = None;
        let mut feed = |rec: Option<FileRecord>, waiting: &mut Vec<FileRecord>| -> io::Result<()> {
            let mut fail = |e: Error| {
                register_error = Some(e);
                io::Error::other("the register cannot be used")
            };
            if let Some(rec) = rec {
                read(&rec);
                let Some(unit) = rec.placed.as_ref().map(|p| self.archives.unit(p.unit)) else {
                    return Err(fail(Error::NotPlaced(rec.path.clone())));
                };
                let loading = unit.register.as_ref().is_some_and(|r| !r.is_ready());
                waiting.push(rec);
                if loading && waiting.len() < WAITING_RECORDS {
                    return Ok(());
                }
            }
            for mut rec in waiting.drain(..) {
                let placed = rec.placed.clone().unwrap_or(scan::Placed { unit: 0, rel: None });
                let unit = self.archives.unit(placed.unit);
                if let Some(problem) = &unit.problem {
                    return Err(fail(Error::Archive(problem.clone())));
                }
                let mut register = unit.register.as_ref().map(|r| r.get()).transpose().map_err(&mut fail)?;
                let abs = crate::paths::absolute_in(&self.archives.cwd, &rec.path);
                let decision = register.as_deref_mut().and_then(|r| self.evaluate(r, &mut rec, placed.rel.as_deref()));
                if let Some(slot) = &unit.state {
                    if let Some(run) = slot.run.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        run.observe(abs, &rec, decision.as_ref(), register.as_deref(), self.date);
                    }
                }
                // The plain keywords were read for the hints (and are in the state for the
                // next run's): the record handed on does not carry them.
                rec.depicted.keywords = Default::default();
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

    /// Scan and evaluate everything, keeping the records (for reports); `read` as for
    /// [`Context::scan_evaluated`]. Walk errors are kept as records too (they block `check`).
    pub fn collect(&self, read: &dyn Fn(&FileRecord)) -> Result<(Vec<Evaluated>, ScanSummary), Error> {
        let mut files = Vec::new();
        let summary = self.scan_evaluated(read, |record, rel_path, decision, _| {
            // Orphan sidecars have no decision; unwalkable paths do: they are `unreadable` and
            // block `check`.
            let Some(decision) = decision else { return Ok(()) };
            files.push(Evaluated { record, rel_path, decision });
            Ok(())
        })??;
        Ok((files, summary))
    }

    /// Resolve usage words against the vocabulary of the first named path's archive; an
    /// unknown word is a usage error.
    pub fn usages(&self, words: &[String]) -> Result<Vec<String>, Error> {
        let first = self.archives.unit(0);
        let vocabulary = first.archive.as_ref().map(|a| a.vocabulary.clone()).unwrap_or_default();
        resolve_usages(&vocabulary, words)
    }
}

/// Resolve usage words against a vocabulary; an unknown word is a usage error.
pub fn resolve_usages(vocabulary: &model::Vocabulary, words: &[String]) -> Result<Vec<String>, Error> {
    words
        .iter()
        .filter(|w| !w.trim().is_empty())
        .map(|w| {
            vocabulary
                .resolve(w)
                .map(str::to_string)
                .ok_or_else(|| Error::UnknownUsage { word: w.clone(), known: vocabulary.accepted_words() })
        })
        .collect()
}

/// A path named to a sharded command: in an archive (a file's shard is its archive-relative
/// path's; outside any archive it would depend on where the tree is mounted), and a named file
/// in this shard (else the command would answer about nothing and exit 0).
fn shard_holds(shard: &scan::Shard, named: &Path, file: &Path, place: &scan::Place) -> Result<(), Error> {
    let no = |why: String| Err(Error::Archive(format!("{}: {why}", named.display())));
    if place.archive.is_none() {
        return no(format!(
            "shard {}/{}: sharding needs an archive (a file's shard is its path relative to the archive \
             root): mark it with `consentry init DIR`",
            shard.k, shard.n
        ));
    }
    if !named.is_dir() && !scan::in_shard(shard, file, Some(place)) {
        let other = (0..shard.n).find(|&k| scan::in_shard(&scan::Shard { k, n: shard.n }, file, Some(place)));
        return no(format!(
            "this file is in shard {}/{}, not in {}/{}: name it to that shard, or leave --shard out",
            other.unwrap_or_default(),
            shard.n,
            shard.k,
            shard.n
        ));
    }
    Ok(())
}
