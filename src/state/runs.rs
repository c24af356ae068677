//! A run over an archive compared with the state: which files are new, moved, removed or
//! changed their status, and which consents they used ended; written in one transaction, and the
//! changes recorded read back.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use rustc_hash::FxHashMap;

use super::cache::{encode_sidecars, Entry, Known, LastEval, Stored};
use super::{lock_exclusive, move_aside, refused, Damaged, Error, Opening, State};
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

/// Which recorded runs to read.
enum Select {
    /// The last run.
    Last,
    /// The runs that finished on or after a day.
    Since(Date),
    /// The runs after a run (every run for `None`).
    After(Option<i64>),
}

impl State {
    /// The runs that finished on or after `since` (else the last run), and the changes they
    /// found, in order (`report changes`).
    pub fn changes(&self, since: Option<Date>) -> Result<(Vec<RecordedRun>, Vec<RecordedChange>), Error> {
        let select = since.map_or(Select::Last, Select::Since);
        let (runs, changes) = self.read_changes(&select).map_err(|e| self.damaged_read(e))?;
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

    fn read_changes(&self, select: &Select) -> Result<(Vec<IdRun>, Vec<RecordedChange>), Error> {
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
            Select::After(after) => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs WHERE id > ?1 ORDER BY id")?
                .query_map([after.unwrap_or(i64::MIN)], row)?
                .collect::<Result<_, _>>()?,
        };
        let mut rows = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT change, path, old_status, new_status, detail FROM changes WHERE run = ?1 ORDER BY seq")?;
        for (id, finished, _) in &runs {
            let mut q = stmt.query([id])?;
            while let Some(r) = q.next()? {
                let path: Option<Vec<u8>> = r.get(1)?;
                rows.push(RecordedChange {
                    run: finished.clone(),
                    change: r.get(0)?,
                    path: path.map(|p| PathBuf::from(OsStr::from_bytes(&p))),
                    old_status: r.get(2)?,
                    new_status: r.get(3)?,
                    detail: r.get(4)?,
                });
            }
        }
        let runs = runs.into_iter().map(|(id, finished, baseline)| (id, RecordedRun { finished, baseline })).collect();
        Ok((runs, rows))
    }
}

/// A row to write for a file read in this run.
struct Upsert {
    key: Vec<u8>,
    stamps: Stamps,
    sidecars: Vec<PathBuf>,
    reading: i64,
    record: Vec<u8>,
    last: Option<LastEval>,
    /// A file the state did not know.
    new: bool,
}

/// A change found by a run.
struct Change {
    change: String,
    path: Option<Vec<u8>>,
    old_status: Option<String>,
    new_status: Option<String>,
    detail: Option<String>,
}

/// A consent that files used at the last run and that has expired or was revoked since.
struct Ended {
    kind: &'static str,
    person: String,
    on: Date,
    files: usize,
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

/// One run over (part of) an archive: observes every record and its evaluation, then writes
/// what it learnt in one transaction.
pub struct Run {
    state: State,
    known: Arc<Known>,
    seen: Vec<bool>,
    started: chrono::DateTime<chrono::Local>,
    started_ns: i64,
    /// Absolute scanned paths: only files under them can have been removed.
    roots: Vec<Vec<u8>>,
    /// Paths that could not be walked: files under them are not taken as removed.
    unwalkable: Vec<Vec<u8>>,
    upserts: Vec<Upsert>,
    evaluations: Vec<(u32, LastEval)>,
    changes: Vec<Change>,
    ended: BTreeMap<String, Ended>,
    statuses: BTreeMap<&'static str, u64>,
    counts: RunCounts,
}

impl Run {
    /// Begin a run over `roots` (absolute, as [`Known`] keys them).
    pub fn begin(state: State, known: Arc<Known>, roots: &[PathBuf]) -> Run {
        let started = chrono::Local::now();
        let roots = roots.iter().map(|r| known.key(r)).collect();
        Run {
            state,
            seen: vec![false; known.len()],
            known,
            started_ns: started.timestamp_nanos_opt().unwrap_or(i64::MAX),
            started,
            roots,
            unwalkable: Vec::new(),
            upserts: Vec::new(),
            evaluations: Vec::new(),
            changes: Vec::new(),
            ended: BTreeMap::new(),
            statuses: BTreeMap::new(),
            counts: RunCounts::default(),
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        self.state.path()
    }

    /// Take note of a record, at its absolute path `abs`, and its evaluation (`None` without a
    /// register). `register` and `date` look up the consents a file no longer uses.
    pub fn observe(
        &mut self,
        abs: PathBuf,
        rec: &FileRecord,
        decision: Option<&Decision>,
        register: Option<&Register>,
        date: Date,
    ) {
        let key = abs.into_os_string().into_encoded_bytes();
        match rec.subject {
            Subject::Unwalkable => {
                self.unwalkable.push(key);
                return;
            }
            Subject::OrphanSidecar => return,
            Subject::Media(_) => {}
        }
        self.counts.files += 1;
        self.counts.read += u64::from(!rec.reused);
        if let Some(d) = decision {
            *self.statuses.entry(d.status.as_str()).or_insert(0) += 1;
        }
        let last = decision.map(LastEval::of);
        let index = self.known.lookup(&key);
        let known = index.map(|i| &self.known.entries[i as usize]);
        if let Some(i) = index {
            self.seen[i as usize] = true;
        }
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
            let stored = Stored { format: rec.format, depicted: rec.depicted.clone(), taken: rec.taken.clone() };
            self.upserts.push(Upsert {
                key: key.clone(),
                sidecars: if rec.stamps.is_some() { rec.sidecars.clone() } else { Vec::new() },
                stamps,
                reading: if reusable { self.known.reading } else { 0 },
                record: serde_json::to_vec(&stored).unwrap_or_default(),
                last: last.clone().or_else(|| known.and_then(|k| k.last.clone())),
                new: known.is_none(),
            });
        }
        let Some(known) = known else {
            self.counts.new += 1;
            return; // reported as new (or moved) when the run ends
        };
        let Some(new) = last else { return };
        if known.last.as_ref() == Some(&new) {
            return;
        }
        if rec.reused {
            self.evaluations.push((index.unwrap_or_default(), new.clone()));
        }
        // A file evaluated for the first time has no change to report.
        let Some(old) = known.last.as_ref() else { return };
        if old.status != new.status {
            let detail = match new.status.as_str() {
                "red" | "yellow" => Some(format!("missing: {}", new.missing_text())),
                "unreadable" => rec.error(),
                _ => None,
            };
            self.changes.push(Change {
                change: format!("became-{}", new.status),
                path: Some(key),
                old_status: Some(old.status.clone()),
                new_status: Some(new.status.clone()),
                detail,
            });
        }
        // Consents the file used last time and no longer does: expired or revoked since?
        let (Some(register), Some(d)) = (register, decision) else { return };
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
    ) -> Result<RunCounts, Error> {
        let (path, mode) = (self.state.path.clone(), self.state.damaged);
        // The run's connection is closed when `record` returns: a state found damaged only now
        // (in pages the start of the run did not read) is moved aside then, as at the start.
        match self.record(command, date, digest, summary) {
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
    ) -> Result<RunCounts, Error> {
        // Gone: known files under the scanned paths that the walk did not meet, unless a
        // directory above them could not be read.
        let under = |key: &[u8], prefixes: &[Vec<u8>]| {
            prefixes
                .iter()
                .any(|p| key.starts_with(p) && (key.len() == p.len() || key[p.len()] == b'/' || p.ends_with(b"/")))
        };
        let known = Arc::clone(&self.known);
        let gone: Vec<(&[u8], u32)> = (known.entries.iter().zip(0..))
            .map(|(e, i)| (&e.key[..], i))
            .filter(|&(k, i)| !self.seen[i as usize] && under(k, &self.roots) && !under(k, &self.unwalkable))
            .collect();
        // Moved: a new path with the device and inode of a path gone.
        let mut arrived: FxHashMap<FileId, usize> = FxHashMap::default();
        for (n, u) in self.upserts.iter().enumerate().filter(|(_, u)| u.new && u.stamps.file.id.ino != 0) {
            arrived.insert(u.stamps.file.id, n);
        }
        let mut moved_to: FxHashMap<usize, &Entry> = FxHashMap::default();
        let mut removed = Vec::new();
        for &(k, i) in &gone {
            let e = &known.entries[i as usize];
            match arrived.remove(&e.stamp.id) {
                Some(n) => {
                    moved_to.insert(n, e);
                }
                None => removed.push((k, i)),
            }
        }
        // Reported by path: the same order whichever runs wrote the state (and the order in
        // which `consentry merge` puts the shards' removed files).
        removed.sort_by(|a, b| a.0.cmp(b.0));
        self.counts.removed = removed.len() as u64;
        self.counts.moved = moved_to.len() as u64;
        self.counts.new -= self.counts.moved;

        let baseline = self.state.last_run()?.is_none();
        let mut changes = std::mem::take(&mut self.changes);
        for (n, u) in self.upserts.iter().enumerate().filter(|(_, u)| u.new) {
            let (change, detail, old_status) = match moved_to.get(&n) {
                Some(from) => (
                    "moved",
                    Some(format!("from {}", Path::new(OsStr::from_bytes(&from.key)).display())),
                    from.last.as_ref().map(|l| l.status.clone()),
                ),
                None => ("new", None, None),
            };
            let status = u.last.as_ref().map(|l| l.status.clone());
            let detail = match (&detail, &u.last) {
                (None, Some(l)) if l.status == "red" || l.status == "yellow" => {
                    Some(format!("missing: {}", l.missing_text()))
                }
                _ => detail,
            };
            changes.push(Change {
                change: change.into(),
                path: Some(u.key.clone()),
                old_status,
                new_status: status,
                detail,
            });
        }
        for &(k, i) in &removed {
            let old = self.known.entries[i as usize].last.as_ref().map(|l| l.status.clone());
            changes.push(Change {
                change: "removed".into(),
                path: Some(k.to_vec()),
                old_status: old,
                new_status: None,
                detail: None,
            });
        }
        for (id, e) in &self.ended {
            let what = if e.kind == "consent-revoked" { "revoked" } else { "expired" };
            changes.push(Change {
                change: e.kind.into(),
                path: None,
                old_status: None,
                new_status: None,
                detail: Some(format!(
                    "{id} ({}) {what} on {}; used by {} file(s) at the previous run",
                    e.person, e.on, e.files
                )),
            });
        }
        self.counts.changes = if baseline { 0 } else { changes.len() as u64 };

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
        {
            let mut put = tx.prepare(
                "INSERT OR REPLACE INTO files (path, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record, \
                 status, valid_until, consents, missing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for u in &self.upserts {
                let s = &u.stamps.file;
                let l = u.last.as_ref();
                put.execute(params![
                    u.key,
                    s.id.dev as i64,
                    s.id.ino as i64,
                    s.size as i64,
                    s.mtime_ns,
                    s.ctime_ns,
                    encode_sidecars(&u.sidecars, &u.stamps.sidecars),
                    u.reading,
                    u.record,
                    l.map(|l| &l.status),
                    l.and_then(|l| l.valid_until.as_ref()),
                    l.map(|l| &l.consents),
                    l.map(|l| &l.missing),
                ])?;
            }
            let mut eval = tx.prepare(
                "UPDATE files SET status = ?2, valid_until = ?3, consents = ?4, missing = ?5 WHERE path = ?1",
            )?;
            for (i, l) in &self.evaluations {
                let key = &known.entries[*i as usize].key;
                eval.execute(params![key, l.status, l.valid_until, l.consents, l.missing])?;
            }
            let mut delete = tx.prepare("DELETE FROM files WHERE path = ?1")?;
            for (k, _) in &gone {
                delete.execute([k])?;
            }
            if !baseline {
                let mut add = tx.prepare(
                    "INSERT INTO changes (run, seq, change, path, old_status, new_status, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for (seq, c) in changes.iter().enumerate() {
                    add.execute(params![run, seq as i64, c.change, c.path, c.old_status, c.new_status, c.detail])?;
                }
            }
        }
        tx.commit()?;
        Ok(self.counts)
    }
}
