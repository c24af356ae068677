//! A run over an archive compared with the state: which files are new, moved, removed or
//! changed their status, and which consents they used ended; written in one transaction, and the
//! changes recorded read back.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::cache::{encode_sidecars, Dir, Known, LastEval, Stored};
use super::{join_key, lock_exclusive, move_aside, refused, split_key, Damaged, Error, Opening, State};
use crate::consent::Decision;
use crate::model::{Date, Register};
use crate::scan::{FileId, FileRecord, ScanSummary, Stamp, Stamps, Subject};

/// Files changed this close to the start of a run (or later) are read again next time: a change
/// within the same clock tick as the stamp would otherwise go unseen.
const RACY_NS: i64 = 2_000_000_000;

/// A run as `report changes` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRun {
    /// When it finished (local time with offset).
    pub finished: String,
    /// The first run: the baseline later runs are compared with (it records no changes).
    pub baseline: bool,
}

/// A change a run found, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChange {
    /// When the run that found it finished.
    pub run: String,
    /// `new`, `removed`, `moved`, `became-STATUS`, `consent-expired`, `consent-revoked`.
    pub change: String,
    /// The file (none for a consent's change).
    pub path: Option<PathBuf>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub detail: Option<String>,
}

/// A named checkpoint of `report changes --checkpoint NAME`: the last run it reported, and the
/// newest run read now (where it moves once the report is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub name: String,
    /// The id of the last run it reported; `None` for a checkpoint never seen before (it then
    /// reports every run recorded).
    pub reported: Option<i64>,
    /// The id of the newest run read now; `None` when there is none past `reported`.
    pub newest: Option<i64>,
}

/// A recorded run with its id.
type IdRun = (i64, RecordedRun);

/// A recorded change with the device and inode of its file ([`State::changes_with_files`]).
pub type FileChange = (RecordedChange, Option<FileId>);

/// Which recorded runs to read.
enum Select {
    /// The last run.
    Last,
    /// The runs that finished on or after a day.
    Since(Date),
    /// The runs after a run (every run for `None`).
    After(Option<i64>),
    /// One run, by its id.
    Run(i64),
}

impl State {
    /// The runs that finished on or after `since` (else the last run), and the changes they
    /// found, in order (`report changes`).
    pub fn changes(&self, since: Option<Date>) -> Result<(Vec<RecordedRun>, Vec<RecordedChange>), Error> {
        let select = since.map_or(Select::Last, Select::Since);
        let (runs, changes) = self.read_changes(&select).map_err(|e| self.damaged_read(e))?;
        Ok((runs.into_iter().map(|(_, run)| run).collect(), changes.into_iter().map(|(c, _)| c).collect()))
    }

    /// The changes the run `run` found (a shard's own run: another may have been recorded
    /// since), each with the device and inode of the file new, moved or removed (`None` for other
    /// changes, and for those recorded before schema 4): a file removed from one shard's part of
    /// the archive and new in another's is one file moved.
    pub fn run_changes_with_files(&self, run: i64) -> Result<(Vec<RecordedRun>, Vec<FileChange>), Error> {
        let (runs, changes) = self.read_changes(&Select::Run(run)).map_err(|e| self.damaged_read(e))?;
        Ok((runs.into_iter().map(|(_, run)| run).collect(), changes))
    }

    /// The runs recorded after the last one the checkpoint `name` reported (every run for a
    /// checkpoint never seen), and the changes they found, in order; the checkpoint, to move
    /// with [`State::move_checkpoint`] once they are reported.
    pub fn changes_since_checkpoint(
        &self,
        name: &str,
    ) -> Result<(Checkpoint, Vec<RecordedRun>, Vec<RecordedChange>), Error> {
        let read = || -> Result<_, Error> {
            let reported: Option<i64> =
                self.conn.query_row("SELECT run FROM checkpoints WHERE name = ?1", [name], |r| r.get(0)).optional()?;
            let (runs, changes) = self.read_changes(&Select::After(reported))?;
            let newest = runs.last().map(|(id, _)| *id);
            let checkpoint = Checkpoint { name: name.to_string(), reported, newest };
            let changes = changes.into_iter().map(|(c, _)| c).collect();
            Ok((checkpoint, runs.into_iter().map(|(_, run)| run).collect(), changes))
        };
        read().map_err(|e| self.damaged_read(e))
    }

    /// Move `checkpoint` to the newest run it read (never back: a report that read fewer runs,
    /// at the same time, leaves it where a later one put it).
    pub fn move_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), Error> {
        let Some(newest) = checkpoint.newest else { return Ok(()) };
        let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        self.conn
            .execute(
                "INSERT INTO checkpoints (name, run, moved) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET run = max(run, excluded.run), moved = excluded.moved",
                params![checkpoint.name, newest, now],
            )
            .map_err(|e| self.damaged_read(e.into()))?;
        Ok(())
    }

    /// `e`, said as what to do when it means the state is damaged.
    fn damaged_read(&self, e: Error) -> Error {
        match Opening::of(&e) {
            Opening::Damaged(what) => Error::Message(format!("{}: {}", self.path.display(), refused(&what))),
            _ => e,
        }
    }

    fn read_changes(&self, select: &Select) -> Result<(Vec<IdRun>, Vec<FileChange>), Error> {
        let row = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
        let runs: Vec<(i64, String, bool)> = match select {
            Select::Since(day) => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs WHERE substr(finished, 1, 10) >= ?1 ORDER BY id")?
                .query_map([day.to_string()], row)?
                .collect::<Result<_, _>>()?,
            Select::Last => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs ORDER BY id DESC LIMIT 1")?
                .query_map([], row)?
                .collect::<Result<_, _>>()?,
            Select::Run(id) => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs WHERE id = ?1")?
                .query_map([id], row)?
                .collect::<Result<_, _>>()?,
            Select::After(after) => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs WHERE id > ?1 ORDER BY id")?
                .query_map([after.unwrap_or(i64::MIN)], row)?
                .collect::<Result<_, _>>()?,
        };
        let mut rows = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT change, path, old_status, new_status, detail, dev, ino FROM changes WHERE run = ?1 ORDER BY seq",
        )?;
        for (id, finished, _) in &runs {
            let mut q = stmt.query([id])?;
            while let Some(r) = q.next()? {
                let path: Option<Vec<u8>> = r.get(1)?;
                let change = RecordedChange {
                    run: finished.clone(),
                    change: r.get(0)?,
                    path: path.map(|p| PathBuf::from(OsStr::from_bytes(&p))),
                    old_status: r.get(2)?,
                    new_status: r.get(3)?,
                    detail: r.get(4)?,
                };
                let (dev, ino): (Option<i64>, Option<i64>) = (r.get(5)?, r.get(6)?);
                let file = dev.zip(ino).map(|(dev, ino)| FileId { dev: dev as u64, ino: ino as u64 });
                rows.push((change, file));
            }
        }
        let runs = runs.into_iter().map(|(id, finished, baseline)| (id, RecordedRun { finished, baseline })).collect();
        Ok((runs, rows))
    }
}

/// What a run found, kept until it ends in temporary tables of its own connection: in SQLite's
/// temporary file, neither in the state (a killed run leaves the state as it was) nor in memory
/// (a run over ten million files holds no more than one over ten thousand).
const SCRATCH: &str = "
    PRAGMA temp_store = FILE;
    -- The files read: rows for the state's files, in walk order; `new`: the state did not know
    -- the path; `moved_from`: the path gone that it is (same device and inode).
    CREATE TEMP TABLE run_files (
        seq INTEGER PRIMARY KEY,
        dir BLOB NOT NULL, name BLOB NOT NULL,
        dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
        sidecars BLOB NOT NULL, reading INTEGER NOT NULL, record BLOB NOT NULL,
        status TEXT, valid_until TEXT, consents TEXT, missing TEXT,
        new INTEGER NOT NULL,
        moved_from BLOB, moved_status TEXT
    );
    -- New evaluations of files not read again.
    CREATE TEMP TABLE run_evaluations (
        dir BLOB NOT NULL, name BLOB NOT NULL,
        status TEXT NOT NULL, valid_until TEXT, consents TEXT NOT NULL, missing TEXT NOT NULL
    );
    -- Changes of status, in walk order.
    CREATE TEMP TABLE run_changes (
        seq INTEGER PRIMARY KEY,
        change TEXT NOT NULL, path BLOB, old_status TEXT, new_status TEXT, detail TEXT
    );
    -- Known files under the scanned paths that the walk did not meet.
    CREATE TEMP TABLE run_gone (
        path BLOB PRIMARY KEY, dir BLOB NOT NULL, name BLOB NOT NULL,
        dev INTEGER NOT NULL, ino INTEGER NOT NULL, status TEXT
    ) WITHOUT ROWID;
    -- The directories the run met (one row each).
    CREATE TEMP TABLE run_dirs (dir BLOB PRIMARY KEY) WITHOUT ROWID;
";

/// A consent that files used at the last run and that has expired or was revoked since.
struct Ended {
    kind: &'static str,
    person: String,
    on: Date,
    files: usize,
}

/// A run as [`Run::finish`] recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its id in the state (its changes: [`State::run_changes_with_files`]).
    pub run: i64,
    pub counts: RunCounts,
}

/// What a run found, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunCounts {
    pub files: u64,
    /// Files read (the others were unchanged and taken from the state).
    pub read: u64,
    pub new: u64,
    pub removed: u64,
    pub moved: u64,
    pub changes: u64,
}

/// The directory a run is in: its known files, and which of them it met.
struct Current {
    dir: Arc<Dir>,
    seen: Vec<bool>,
    /// Met before in this run (the walk comes back to a directory only for files named on the
    /// command line or beside a linked folder): its files not met were noted as gone then.
    again: bool,
}

/// Whether `key` is `prefix` or under it.
fn under(key: &[u8], prefix: &[u8]) -> bool {
    key.starts_with(prefix) && (key.len() == prefix.len() || key[prefix.len()] == b'/' || prefix.ends_with(b"/"))
}

/// The keys under `prefix` (not `prefix` itself) as a range: `[from, to)`.
fn range_under(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut from = prefix.to_vec();
    if !from.ends_with(b"/") {
        from.push(b'/');
    }
    // `/` is followed by `0` in byte order.
    let mut to = from.clone();
    to.pop();
    to.push(b'0');
    (from, to)
}

/// One run over (part of) an archive: observes every record and its evaluation in walk order,
/// a directory at a time, then writes what it found in one transaction.
pub struct Run {
    state: State,
    known: Arc<Known>,
    started: chrono::DateTime<chrono::Local>,
    started_ns: i64,
    /// Absolute scanned paths: only files under them can have been removed.
    roots: Vec<Vec<u8>>,
    /// Paths that could not be walked: files under them are not taken as removed.
    unwalkable: Vec<Vec<u8>>,
    current: Option<Current>,
    ended: BTreeMap<String, Ended>,
    statuses: BTreeMap<&'static str, u64>,
    counts: RunCounts,
    /// The first failure to keep what the run found: the run is not recorded.
    failed: Option<Error>,
    /// A buffer to compare evaluations in ([`LastEval::is`]).
    scratch: Vec<u8>,
}

impl Run {
    /// Begin a run over `roots` (absolute, as [`Known`] keys them).
    pub fn begin(state: State, known: Arc<Known>, roots: &[PathBuf]) -> Result<Run, Error> {
        state.conn.execute_batch(SCRATCH).map_err(|e| Error::context("preparing the run", e))?;
        let started = chrono::Local::now();
        let roots = roots.iter().map(|r| known.key(r)).collect();
        Ok(Run {
            state,
            known,
            started_ns: started.timestamp_nanos_opt().unwrap_or(i64::MAX),
            started,
            roots,
            unwalkable: Vec::new(),
            current: None,
            ended: BTreeMap::new(),
            statuses: BTreeMap::new(),
            counts: RunCounts::default(),
            failed: None,
            scratch: Vec::new(),
        })
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        self.state.path()
    }

    /// Take note of a record, at its absolute path `abs`, and its evaluation (`None` without a
    /// register). `register` and `date` look up the consents a file no longer uses. Records come
    /// in walk order: a directory's files together.
    pub fn observe(
        &mut self,
        abs: PathBuf,
        rec: &FileRecord,
        decision: Option<&Decision>,
        register: Option<&Register>,
        date: Date,
    ) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.note(abs, rec, decision, register, date) {
            self.failed = Some(e);
        }
    }

    fn note(
        &mut self,
        abs: PathBuf,
        rec: &FileRecord,
        decision: Option<&Decision>,
        register: Option<&Register>,
        date: Date,
    ) -> Result<(), Error> {
        let key = abs.into_os_string().into_encoded_bytes();
        match rec.subject {
            Subject::Unwalkable => {
                self.unwalkable.push(key);
                return Ok(());
            }
            Subject::OrphanSidecar => return Ok(()),
            Subject::Media(_) => {}
        }
        self.counts.files += 1;
        self.counts.read += u64::from(!rec.reused);
        if let Some(d) = decision {
            *self.statuses.entry(d.status.as_str()).or_insert(0) += 1;
        }
        let (dir, name) = split_key(&key);
        let (known_dir, index) = {
            let current = self.enter(dir)?;
            let index = current.dir.position(name);
            if let Some(i) = index {
                current.seen[i] = true;
            }
            (current.dir.clone(), index.map(|i| (i, current.again)))
        };
        let known = index.map(|(i, _)| &known_dir.entries[i]);
        let conn = &self.state.conn;
        if let Some((_, true)) = index {
            // Noted as gone when the run first met the directory.
            conn.prepare_cached("DELETE FROM temp.run_gone WHERE path = ?1")?.execute([&key])?;
        }
        // Most files of a rescan: not read, evaluated as before (or not evaluated).
        if rec.reused {
            let old = known.and_then(|k| k.last.as_ref());
            match decision {
                None => return Ok(()),
                Some(d) if old.is_some_and(|old| old.is(d, &mut self.scratch)) => return Ok(()),
                Some(_) => {}
            }
        }
        let last = decision.map(LastEval::of);
        if !rec.reused {
            let stamps = rec.stamps.as_deref().cloned().unwrap_or(Stamps {
                file: Stamp { id: FileId { dev: 0, ino: 0 }, size: 0, mtime_ns: 0, ctime_ns: 0 },
                sidecars: Vec::new(),
            });
            // Not reused next time: records with errors (the cause may pass), files without
            // stamps, and files changed too close to now to trust their stamps.
            let racy = std::iter::once(&stamps.file)
                .chain(&stamps.sidecars)
                .any(|s| s.mtime_ns.max(s.ctime_ns) >= self.started_ns - RACY_NS);
            let reusable = rec.errors.is_empty() && rec.stamps.is_some() && !racy;
            let record = Stored::encode_parts(rec.format, &rec.depicted, rec.taken.as_deref());
            let sidecars = if rec.stamps.is_some() { rec.sidecars.as_slice() } else { &[] };
            let l = last.as_ref().or_else(|| known.and_then(|k| k.last.as_ref()));
            let s = &stamps.file;
            conn.prepare_cached(
                "INSERT INTO temp.run_files (dir, name, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, \
                 record, status, valid_until, consents, missing, new) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                dir,
                name,
                s.id.dev as i64,
                s.id.ino as i64,
                s.size as i64,
                s.mtime_ns,
                s.ctime_ns,
                encode_sidecars(sidecars, &stamps.sidecars),
                if reusable { self.known.reading } else { 0 },
                record,
                l.map(|l| &l.status),
                l.and_then(|l| l.valid_until.as_ref()),
                l.map(|l| &l.consents),
                l.map(|l| &l.missing),
                known.is_none(),
            ])?;
        }
        let Some(known) = known else {
            self.counts.new += 1;
            return Ok(()); // reported as new (or moved) when the run ends
        };
        let Some(new) = last else { return Ok(()) };
        if known.last.as_ref() == Some(&new) {
            return Ok(());
        }
        if rec.reused {
            conn.prepare_cached(
                "INSERT INTO temp.run_evaluations (dir, name, status, valid_until, consents, missing) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![dir, name, new.status, new.valid_until, new.consents, new.missing])?;
        }
        // A file evaluated for the first time has no change to report.
        let Some(old) = known.last.as_ref() else { return Ok(()) };
        if old.status != new.status {
            let detail = match new.status.as_str() {
                "red" | "yellow" => Some(format!("missing: {}", new.missing_text())),
                "unreadable" => rec.error(),
                _ => None,
            };
            conn.prepare_cached(
                "INSERT INTO temp.run_changes (change, path, old_status, new_status, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![format!("became-{}", new.status), key, old.status, new.status, detail])?;
        }
        // Consents the file used last time and no longer does: expired or revoked since?
        let (Some(register), Some(d)) = (register, decision) else { return Ok(()) };
        for id in old.consent_ids().into_iter().filter(|id| !d.consents.contains(id)) {
            if let Some(e) = self.ended.get_mut(&id) {
                e.files += 1;
                continue;
            }
            let consent = rec
                .depicted
                .persons
                .iter()
                .filter_map(|name| register.identity(name))
                .flat_map(|i| register.consents_of(i))
                .find(|c| c.id == id);
            let Some(c) = consent else { continue };
            let ended = match (c.revoked, c.expires) {
                (Some(r), _) if r <= date => Some(("consent-revoked", r)),
                (_, Some(e)) if e < date => Some(("consent-expired", e)),
                _ => None,
            };
            if let Some((kind, on)) = ended {
                self.ended.insert(id, Ended { kind, person: c.person.clone(), on, files: 1 });
            }
        }
        Ok(())
    }

    /// The directory `dir` (a key), entered when the walk comes to it: the one left is done.
    fn enter(&mut self, dir: &[u8]) -> Result<&mut Current, Error> {
        if self.current.as_ref().is_none_or(|c| *c.dir.key != *dir) {
            self.leave()?;
            let first = self
                .state
                .conn
                .prepare_cached("INSERT OR IGNORE INTO temp.run_dirs (dir) VALUES (?1)")?
                .execute([dir])?
                == 1;
            let known = self.known.take(dir);
            self.current = Some(Current { seen: vec![false; known.len()], dir: known, again: !first });
        }
        self.current.as_mut().ok_or_else(|| Error::Message("no directory".into()))
    }

    /// Done with the current directory: its known files the walk did not meet (under the
    /// scanned paths, and not under a path that could not be walked) are gone, unless the walk
    /// met them before, or comes back to them.
    fn leave(&mut self) -> Result<(), Error> {
        let Some(current) = self.current.take() else { return Ok(()) };
        if current.again {
            return Ok(());
        }
        let dir = &current.dir;
        let unseen = dir.entries.iter().zip(&current.seen).filter(|(_, seen)| !**seen).map(|(e, _)| e);
        self.gone(&dir.key, unseen)
    }

    /// Note the known files `entries` of the directory `dir` as gone (those under the scanned
    /// paths, and not under a path that could not be walked).
    fn gone<'e>(&self, dir: &[u8], entries: impl Iterator<Item = &'e super::cache::Entry>) -> Result<(), Error> {
        let mut put = self.state.conn.prepare_cached(
            "INSERT OR IGNORE INTO temp.run_gone (path, dir, name, dev, ino, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in entries {
            let key = join_key(dir, &e.name);
            if !self.roots.iter().any(|r| under(&key, r)) || self.unwalkable.iter().any(|u| under(&key, u)) {
                continue;
            }
            let (dev, ino) = (e.stamp.id.dev as i64, e.stamp.id.ino as i64);
            put.execute(params![key, dir, &*e.name, dev, ino, e.last.as_ref().map(|l| &l.status)])?;
        }
        Ok(())
    }

    /// Whether the run met the directory `dir`.
    fn met(&self, dir: &[u8]) -> Result<bool, Error> {
        let mut stmt = self.state.conn.prepare_cached("SELECT 1 FROM temp.run_dirs WHERE dir = ?1")?;
        Ok(stmt.exists([dir])?)
    }

    /// The known files of directories under the scanned paths that the run never met (deleted
    /// folders, and folders with none of this run's files any more) are gone: found by going
    /// through the state's directories there, one query each (none through their files).
    fn unmet(&mut self) -> Result<(), Error> {
        for root in self.roots.clone() {
            // The root as a file of its directory (when the run met that, it is done).
            let (parent, name) = split_key(&root);
            if !self.met(parent)? {
                let entry = self.known.entry(parent, name)?;
                self.gone(parent, entry.iter())?;
            }
            // The root as a directory, and the directories under it.
            let (from, to) = range_under(&root);
            let mut at = Some(root.clone());
            let mut after: Option<Vec<u8>> = None;
            loop {
                let dir = match at.take() {
                    Some(root) => Some(root),
                    None => self.known.read(|c| {
                        let (sql, low) = match &after {
                            None => ("SELECT dir FROM files WHERE dir >= ?1 AND dir < ?2 ORDER BY dir LIMIT 1", &from),
                            Some(a) => ("SELECT dir FROM files WHERE dir > ?1 AND dir < ?2 ORDER BY dir LIMIT 1", a),
                        };
                        c.prepare_cached(sql)?.query_row(params![low, to], |r| r.get(0)).optional()
                    })?,
                };
                let Some(dir) = dir else { break };
                if !self.met(&dir)? {
                    let known = self.known.take(&dir);
                    self.gone(&dir, known.entries.iter())?;
                }
                // Below the root, go on after it; the root itself is below only `/` (`range_under`
                // starts other roots past their own name, so that `/x-1` is not under `/x`).
                if dir != root || root.ends_with(b"/") {
                    after = Some(dir);
                }
            }
        }
        Ok(())
    }

    /// Write what the run found, in one transaction: the files read, the evaluations that
    /// changed, the files gone, the run and its changes. `date`: the day evaluated on (`None`
    /// without a register).
    pub fn finish(
        self,
        command: &str,
        date: Option<Date>,
        digest: Option<&str>,
        summary: &ScanSummary,
    ) -> Result<Recorded, Error> {
        let (path, mode) = (self.state.path.clone(), self.state.damaged);
        let known = self.known.clone();
        // The run's connection is closed when `record` returns: a state found damaged only now
        // (in pages the start of the run did not read) is moved aside then, as at the start.
        let recorded = self.record(command, date, digest, summary);
        known.close();
        match recorded {
            Err(e) if mode == Damaged::MoveAside => match Opening::of(&e) {
                Opening::Damaged(what) => {
                    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    let _lock = lock_exclusive(dir)?;
                    let aside =
                        move_aside(&path).map_err(|m| Error::Message(format!("the state is damaged ({what}); {m}")))?;
                    Err(Error::Message(format!(
                        "the state is damaged ({what}); moved aside to {}: the next run starts a new one",
                        aside.display()
                    )))
                }
                _ => Err(e),
            },
            result => result,
        }
    }

    /// [`Run::finish`] on an undamaged state.
    fn record(
        mut self,
        command: &str,
        date: Option<Date>,
        digest: Option<&str>,
        summary: &ScanSummary,
    ) -> Result<Recorded, Error> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.leave()?;
        self.unmet()?;
        if let Some(e) = self.known.damage() {
            return Err(e);
        }
        // The state as the run began is read no more: the run's own transaction may begin.
        self.known.close();
        let conn = &self.state.conn;
        // Files under a path that could not be walked are not gone (whenever the walk said so).
        for u in &self.unwalkable {
            let (from, to) = range_under(u);
            conn.execute("DELETE FROM temp.run_gone WHERE path = ?1", [u])?;
            conn.execute("DELETE FROM temp.run_gone WHERE path >= ?1 AND path < ?2", params![from, to])?;
        }
        // Moved: a new path with the device and inode of a path gone (each paired once).
        let gone: i64 = conn.query_row("SELECT count(*) FROM temp.run_gone", [], |r| r.get(0))?;
        let mut moved = 0u64;
        if gone > 0 {
            conn.execute_batch(
                "CREATE INDEX temp.run_files_id ON run_files (dev, ino) WHERE new = 1;
                 CREATE INDEX temp.run_files_moved ON run_files (moved_from) WHERE moved_from IS NOT NULL;",
            )?;
            let mut pair = conn.prepare(
                "UPDATE temp.run_files SET moved_from = ?3, moved_status = ?4 WHERE seq = (SELECT seq FROM \
                 temp.run_files WHERE new = 1 AND ino != 0 AND dev = ?1 AND ino = ?2 AND moved_from IS NULL \
                 ORDER BY seq DESC LIMIT 1)",
            )?;
            let mut stmt = conn.prepare("SELECT dev, ino, path, status FROM temp.run_gone ORDER BY path")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (dev, ino, path, status): (i64, i64, Vec<u8>, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                moved += pair.execute(params![dev, ino, path, status])? as u64;
            }
        }
        self.counts.removed = gone as u64 - moved;
        self.counts.moved = moved;
        self.counts.new -= self.counts.moved;

        let baseline = self.state.last_run()?.is_none();
        let finished = chrono::Local::now();
        let stamp = |t: chrono::DateTime<chrono::Local>| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        // Counts per status and the date exist when the run evaluated (had a register).
        let count = |s: &str| date.map(|_| self.statuses.get(s).copied().unwrap_or(0) as i64);
        let tx = self.state.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO runs (started, finished, command, as_of, register_digest, files, errors, read, \
             green, yellow, red, exempt, none, unreadable, new, removed, moved, baseline) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                stamp(self.started),
                stamp(finished),
                command,
                date.map(|d| d.to_string()),
                digest,
                self.counts.files as i64,
                summary.errors as i64,
                self.counts.read as i64,
                count("green"),
                count("yellow"),
                count("red"),
                count("exempt"),
                count("none"),
                count("unreadable"),
                self.counts.new as i64,
                self.counts.removed as i64,
                self.counts.moved as i64,
                baseline,
            ],
        )?;
        let run = tx.last_insert_rowid();
        tx.execute_batch(
            "INSERT OR REPLACE INTO main.files (dir, name, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, \
             record, status, valid_until, consents, missing) SELECT dir, name, dev, ino, size, mtime_ns, ctime_ns, \
             sidecars, reading, record, status, valid_until, consents, missing FROM temp.run_files ORDER BY seq;
             UPDATE main.files SET status = e.status, valid_until = e.valid_until, consents = e.consents, \
             missing = e.missing FROM temp.run_evaluations AS e WHERE files.dir = e.dir AND files.name = e.name;
             DELETE FROM main.files WHERE (dir, name) IN (SELECT dir, name FROM temp.run_gone);",
        )?;
        let mut changes = 0u64;
        if !baseline {
            let mut add = tx.prepare(
                "INSERT INTO changes (run, seq, change, path, old_status, new_status, detail, dev, ino) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut put = |change: &str,
                           path: Option<&[u8]>,
                           old: Option<&str>,
                           new: Option<&str>,
                           detail: Option<&str>,
                           file: Option<(i64, i64)>|
             -> rusqlite::Result<()> {
                let (dev, ino) = (file.map(|f| f.0), file.map(|f| f.1));
                add.execute(params![run, changes as i64, change, path, old, new, detail, dev, ino])?;
                changes += 1;
                Ok(())
            };
            // Changes of status, in walk order.
            let mut stmt =
                tx.prepare("SELECT change, path, old_status, new_status, detail FROM temp.run_changes ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (change, path): (String, Option<Vec<u8>>) = (r.get(0)?, r.get(1)?);
                let (old, new, detail): (Option<String>, Option<String>, Option<String>) =
                    (r.get(2)?, r.get(3)?, r.get(4)?);
                put(&change, path.as_deref(), old.as_deref(), new.as_deref(), detail.as_deref(), None)?;
            }
            // New and moved files, in walk order.
            let mut stmt = tx.prepare(
                "SELECT dir, name, status, missing, moved_from, moved_status, dev, ino FROM temp.run_files \
                 WHERE new = 1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (dir, name): (Vec<u8>, Vec<u8>) = (r.get(0)?, r.get(1)?);
                let (status, missing): (Option<String>, Option<String>) = (r.get(2)?, r.get(3)?);
                let (from, old): (Option<Vec<u8>>, Option<String>) = (r.get(4)?, r.get(5)?);
                let detail = match (&from, status.as_deref()) {
                    (Some(from), _) => Some(format!("from {}", Path::new(OsStr::from_bytes(from)).display())),
                    (None, Some("red" | "yellow")) => {
                        Some(format!("missing: {}", LastEval::missing_text_of(missing.as_deref().unwrap_or(""))))
                    }
                    _ => None,
                };
                let change = if from.is_some() { "moved" } else { "new" };
                // A file without stamps (it could not be examined) has no identity.
                let file = Some((r.get::<_, i64>(6)?, r.get::<_, i64>(7)?)).filter(|&(_, ino)| ino != 0);
                let path = join_key(&dir, &name);
                put(change, Some(&path), old.as_deref(), status.as_deref(), detail.as_deref(), file)?;
            }
            // Removed files, by path.
            let mut stmt = tx.prepare(
                "SELECT path, status, dev, ino FROM temp.run_gone AS g WHERE NOT EXISTS \
                 (SELECT 1 FROM temp.run_files AS f WHERE f.moved_from = g.path) ORDER BY path",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (path, old): (Vec<u8>, Option<String>) = (r.get(0)?, r.get(1)?);
                let file = Some((r.get::<_, i64>(2)?, r.get::<_, i64>(3)?)).filter(|&(_, ino)| ino != 0);
                put("removed", Some(&path), old.as_deref(), None, None, file)?;
            }
            for (id, e) in &self.ended {
                let what = if e.kind == "consent-revoked" { "revoked" } else { "expired" };
                let detail =
                    format!("{id} ({}) {what} on {}; used by {} file(s) at the previous run", e.person, e.on, e.files);
                put(e.kind, None, None, None, Some(&detail), None)?;
            }
        }
        tx.commit()?;
        self.counts.changes = changes;
        Ok(Recorded { run, counts: self.counts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Format;
    use crate::people::{Depicted, PeopleRoots};

    /// A record of `path` read now (not reused), of the file with inode `ino`.
    fn read(path: &str, ino: u64) -> FileRecord {
        let mut r = FileRecord::known(PathBuf::from(path), Some(Format::Jpeg), Depicted::default(), vec![], None);
        r.reused = false;
        let file = Stamp { id: FileId { dev: 7, ino }, size: 10, mtime_ns: 1_000, ctime_ns: 1_000 };
        r.stamps = Some(Box::new(Stamps { file, sidecars: vec![] }));
        r
    }

    /// A record of `path` taken from the state.
    fn reused(path: &str, ino: u64) -> FileRecord {
        FileRecord { reused: true, ..read(path, ino) }
    }

    fn unwalkable(path: &str) -> FileRecord {
        FileRecord { subject: Subject::Unwalkable, ..read(path, 0) }
    }

    /// One run over `roots` observing `records` in this order.
    fn run(state: &Path, roots: &[&str], records: &[FileRecord]) -> RunCounts {
        let (mut state, _) = State::open(state, Damaged::Refuse).unwrap();
        let (known, _) = state.known(Path::new("/"), &PeopleRoots::default()).unwrap();
        let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
        let mut run = Run::begin(state, Arc::new(known), &roots).unwrap();
        let day = Date::from_ymd_opt(2026, 12, 5).unwrap();
        for r in records {
            run.observe(r.path.clone(), r, None, None, day);
        }
        run.finish("scan", None, None, &ScanSummary::default()).unwrap().counts
    }

    /// The paths the state knows, in order.
    fn known(state: &Path) -> Vec<String> {
        let db = rusqlite::Connection::open(state).unwrap();
        let mut stmt = db.prepare("SELECT dir, name FROM files ORDER BY dir, name").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))).unwrap();
        rows.map(|r| {
            let (dir, name) = r.unwrap();
            String::from_utf8(join_key(&dir, &name)).unwrap()
        })
        .collect()
    }

    /// The changes recorded by the last run: (change, path, detail).
    fn changes(state: &Path) -> Vec<(String, String, String)> {
        let (state, _) = State::open(state, Damaged::Refuse).unwrap();
        let (_, changes) = state.changes(None).unwrap();
        changes
            .into_iter()
            .map(|c| {
                let path = c.path.map(|p| p.display().to_string()).unwrap_or_default();
                (c.change, path, c.detail.unwrap_or_default())
            })
            .collect()
    }

    fn counts(files: u64, read: u64, new: u64, moved: u64, removed: u64, changes: u64) -> RunCounts {
        RunCounts { files, read, new, moved, removed, changes }
    }

    /// The first run's files: two folders of `/x` (one with a subfolder) and one of `/y`.
    fn first(state: &Path) {
        let files = [
            read("/x/a/1.jpg", 1),
            read("/x/a/2.jpg", 2),
            read("/x/b/3.jpg", 3),
            read("/x/b/c/4.jpg", 4),
            read("/y/5.jpg", 5),
        ];
        assert_eq!(run(state, &["/x", "/y"], &files), counts(5, 5, 5, 0, 0, 0), "the baseline");
    }

    #[test]
    fn files_gone_from_a_folder_met_or_not_are_removed_or_moved() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        first(&state);
        // `/x/a` met without its 2.jpg; `/x/b` and `/x/b/c` never met (deleted), their 3.jpg
        // now in a new folder `/x/d`; `/y` not scanned.
        let c = run(&state, &["/x"], &[reused("/x/a/1.jpg", 1), read("/x/d/3.jpg", 3)]);
        assert_eq!(c, counts(2, 1, 0, 1, 2, 3));
        assert_eq!(known(&state), ["/x/a/1.jpg", "/x/d/3.jpg", "/y/5.jpg"]);
        let (_, with_files) = State::open(&state, Damaged::Refuse).unwrap().0.run_changes_with_files(2).unwrap();
        let files: Vec<Option<u64>> = with_files.iter().map(|(_, f)| f.map(|f| f.ino)).collect();
        assert_eq!(files, [Some(3), Some(2), Some(4)], "the device and inode of the files moved and removed");
        assert_eq!(
            changes(&state),
            [
                ("moved".to_string(), "/x/d/3.jpg".to_string(), "from /x/b/3.jpg".to_string()),
                ("removed".to_string(), "/x/a/2.jpg".to_string(), String::new()),
                ("removed".to_string(), "/x/b/c/4.jpg".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn a_run_over_the_root_folder_ends_and_finds_what_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        run(&state, &["/"], &[read("/1.jpg", 1), read("/x/2.jpg", 2), read("/x-1/3.jpg", 3)]);
        // Every folder of `/` met but the root's own file gone; then the root folder not met.
        assert_eq!(run(&state, &["/"], &[reused("/x/2.jpg", 2), reused("/x-1/3.jpg", 3)]), counts(2, 0, 0, 0, 1, 1));
        assert_eq!(run(&state, &["/"], &[reused("/x-1/3.jpg", 3)]), counts(1, 0, 0, 0, 1, 1));
        assert_eq!(known(&state), ["/x-1/3.jpg"]);
    }

    #[test]
    fn a_folder_met_again_or_not_walkable_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        first(&state);
        // `/x/a` left after 1.jpg and met again for 2.jpg; `/x/b/c` could not be walked (said
        // after its folder `/x/b` was left); `/x/b/3.jpg` named as a root of its own.
        let records = [reused("/x/a/1.jpg", 1), reused("/x/b/3.jpg", 3), reused("/x/a/2.jpg", 2), unwalkable("/x/b/c")];
        assert_eq!(run(&state, &["/x/a", "/x/b/3.jpg", "/x/b/c"], &records), counts(3, 0, 0, 0, 0, 0));
        assert_eq!(known(&state).len(), 5);
        // A named file that is gone is removed, and only that one.
        let c = run(&state, &["/x/a/1.jpg", "/x/b/3.jpg", "/x/a/2.jpg"], &[reused("/x/a/1.jpg", 1)]);
        assert_eq!(c, counts(1, 0, 0, 0, 2, 2));
        assert_eq!(known(&state), ["/x/a/1.jpg", "/x/b/c/4.jpg", "/y/5.jpg"]);
    }

    #[test]
    fn hard_links_pair_each_gone_path_with_one_new_path() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite");
        // Three names of one file (hard links), and another file.
        let files = [read("/x/a/1.jpg", 9), read("/x/a/2.jpg", 9), read("/x/b/1.jpg", 9), read("/x/b/x.jpg", 1)];
        run(&state, &["/x"], &files);
        // Two of its names moved to a new folder, one name gone, one new name of the other file.
        let now = [read("/x/b/1.jpg", 9), read("/x/b/y.jpg", 1), read("/x/c/1.jpg", 9), read("/x/c/2.jpg", 9)];
        let c = run(&state, &["/x"], &now);
        assert_eq!(c, counts(4, 4, 0, 3, 0, 3), "each gone name moved once");
        let changes = changes(&state);
        let mut from: Vec<&str> = changes.iter().map(|(_, _, d)| d.as_str()).collect();
        from.sort();
        assert_eq!(from, ["from /x/a/1.jpg", "from /x/a/2.jpg", "from /x/b/x.jpg"]);
        assert!(changes.iter().all(|(c, _, _)| c == "moved"));
    }

    #[test]
    fn keys_split_at_their_last_slash() {
        for (key, dir, name) in
            [("/a/b/c.jpg", "/a/b", "c.jpg"), ("/c.jpg", "/", "c.jpg"), ("/a b/ü.jpg", "/a b", "ü.jpg")]
        {
            assert_eq!(split_key(key.as_bytes()), (dir.as_bytes(), name.as_bytes()));
            assert_eq!(join_key(dir.as_bytes(), name.as_bytes()), key.as_bytes());
        }
        assert_eq!(range_under(b"/a"), (b"/a/".to_vec(), b"/a0".to_vec()));
        assert_eq!(range_under(b"/"), (b"/".to_vec(), b"0".to_vec()));
        assert!(under(b"/a/b", b"/a") && under(b"/a", b"/a") && !under(b"/ab", b"/a") && under(b"/a", b"/"));
    }
}
