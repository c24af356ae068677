//! The state of nightly runs (SPEC.md 7), in one SQLite file: what each media file contained,
//! keyed by its stamps (device, inode, size, modification and change time), so that a file that
//! did not change is not read again; every run with its counts; and what changed in each run.
//! Evaluation always runs again: the register and the date change every night.
//!
//! The state is written in one transaction at the end of a complete run (WAL journal): a killed
//! run leaves the previous state. A state of another schema version is rebuilt when it is older
//! and refused when it is newer; a database that is not a consentry state is never touched.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::consent::Decision;
use crate::media::Format;
use crate::model::{Date, Register};
use crate::people::{Depicted, PeopleRoots, READER_REVISION};
use crate::report::Table;
use crate::scan::{FileRecord, Reuse, ScanSummary, Stamp, Stamps, Subject};

/// Why the state could not be opened, under its lock.
enum Opening {
    /// Not an SQLite database, or a corrupt one (what SQLite said).
    Damaged(String),
    /// The file cannot be created or opened for writing.
    Io(std::io::Error),
    Other(String),
}

impl Opening {
    fn of(e: &anyhow::Error) -> Opening {
        let damaged = e.chain().find_map(|c| c.downcast_ref::<rusqlite::Error>().and_then(damage));
        match damaged {
            Some(what) => Opening::Damaged(what),
            None => Opening::Other(format!("{e:#}")),
        }
    }
}

/// What SQLite said when `e` means the file is not a database or is corrupt.
fn damage(e: &rusqlite::Error) -> Option<String> {
    match e {
        rusqlite::Error::SqliteFailure(f, message)
            if matches!(f.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) =>
        {
            Some(message.clone().unwrap_or_else(|| f.to_string()))
        }
        _ => None,
    }
}

impl std::fmt::Display for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opening::Damaged(what) => write!(f, "the state is damaged ({what})"),
            Opening::Io(e) => write!(f, "{e}"),
            Opening::Other(e) => write!(f, "{e}"),
        }
    }
}

/// What to do with a damaged state that is not moved aside (SQLite said `what`).
fn refused(what: &str) -> String {
    format!(
        "it is damaged or no consentry state at all ({what}), and is left as it is: if it is consentry's \
         state, move it away (a scan moves a damaged state in its own place aside and starts afresh); \
         else give another --state, or run with --no-state"
    )
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// An exclusive `flock` of the directory `dir` (nothing is created in it), held until the
/// returned handle is dropped; waits for another holder. Where directories cannot be locked (NFS
/// emulates `flock` with `fcntl`, which needs a writable file), no lock is taken: SQLite's own
/// locks and busy timeout remain.
fn lock_exclusive(dir: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::fd::AsRawFd;
    let handle = std::fs::File::open(dir)?;
    loop {
        // SAFETY: a valid open file descriptor.
        if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(Some(handle));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EBADF | libc::ENOLCK | libc::EOPNOTSUPP) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Move the damaged state at `path` aside, with its `-wal` and `-shm`, to
/// `NAME.corrupt-YYYYMMDDTHHMMSS` (UTC; `-2`, `-3`... when taken): the new name, or what failed.
fn move_aside(path: &Path) -> Result<PathBuf, String> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    let mut n = 1;
    let aside = loop {
        let suffix = if n == 1 { format!(".corrupt-{stamp}") } else { format!(".corrupt-{stamp}-{n}") };
        let candidate = sibling(path, &suffix);
        if std::fs::symlink_metadata(&candidate).is_err() {
            break candidate;
        }
        n += 1;
    };
    for extra in ["-wal", "-shm"] {
        let from = sibling(path, extra);
        if std::fs::symlink_metadata(&from).is_ok() {
            let to = sibling(&aside, extra);
            std::fs::rename(&from, &to).map_err(|e| format!("cannot move {} aside: {e}", from.display()))?;
        }
    }
    std::fs::rename(path, &aside).map_err(|e| format!("cannot move it aside to {}: {e}", aside.display()))?;
    Ok(aside)
}

/// Schema version (`PRAGMA user_version`). Schema 1 is migrated (runs kept); older ones are rebuilt.
pub const SCHEMA: i64 = 2;
const APPLICATION: &str = "consentry-state";
/// Files changed this close to the start of a run (or later) are read again next time: a change
/// within the same clock tick as the stamp would otherwise go unseen.
const RACY_NS: i64 = 2_000_000_000;

/// Where the state of the archive at `root` is kept by default.
pub fn default_path(root: &Path) -> PathBuf {
    root.join(crate::own::STATE_DIR).join("state.sqlite")
}

/// consentry's directory in the user's cache directory (`$XDG_CACHE_HOME/consentry`, else
/// `~/.cache/consentry`).
pub fn cache_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("consentry"))
}

/// The fallback for a read-only archive: the user's cache directory, one file per archive root.
pub fn cache_path(root: &Path) -> Option<PathBuf> {
    let id = format!("{:x}", Sha256::digest(root.as_os_str().as_bytes()));
    Some(cache_dir()?.join(format!("state-{}.sqlite", &id[..16])))
}

/// An open state file.
pub struct State {
    conn: Connection,
    path: PathBuf,
    /// What to do when damage shows only when the files are read.
    damaged: Damaged,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("path", &self.path).finish()
    }
}

/// Why a state could not be opened where it was looked for.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The place cannot be written (read-only archive): another place may do.
    #[error("{path}: {source}")]
    NotWritable { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// What [`State::open`] has to say about the state it opened (every file is read again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    /// A warning (a damaged state moved aside), shown even with `--quiet`.
    pub warning: bool,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What [`State::open`] does with a damaged state file (not an SQLite database, or corrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damaged {
    /// Move it aside (`NAME.corrupt-YYYYMMDDTHHMMSS`, with its `-wal` and `-shm`) and start
    /// afresh, with a warning: a scan, check or report with the state in its own place.
    MoveAside,
    /// Refuse it, saying what to do: `report changes` has nothing to report from it, and a file
    /// given with `--state` may be anything (it is left as it is).
    Refuse,
}

impl State {
    /// Open the state at `path`, creating it (readable by the owner only) when it does not
    /// exist. An older schema is rebuilt (its files are read again); a newer one, or a
    /// database that is not a consentry state, is an error; a damaged one is moved aside or
    /// refused (`damaged`). Creating and checking the state happens under an exclusive `flock` of
    /// its directory, so that concurrent first runs wait for each other.
    pub fn open(path: &Path, damaged: Damaged) -> Result<(State, Option<Note>), OpenError> {
        let other = |e: &dyn std::fmt::Display| OpenError::Other(format!("{}: {e}", path.display()));
        let not_writable = |e: std::io::Error| {
            if matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) {
                OpenError::NotWritable { path: path.to_path_buf(), source: e }
            } else {
                other(&e)
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(not_writable)?;
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let _lock = lock_exclusive(dir).map_err(not_writable)?;
        let opened = match State::open_locked(path) {
            Err(Opening::Damaged(e)) if damaged == Damaged::MoveAside => {
                State::afresh(path, &e).map(|(state, note)| (state, Some(note))).map_err(|e| other(&e))
            }
            Err(Opening::Damaged(e)) => Err(other(&refused(&e))),
            Err(Opening::Io(e)) => Err(not_writable(e)),
            Err(Opening::Other(e)) => Err(other(&e)),
            Ok(opened) => Ok(opened),
        };
        opened.map(|(mut state, note)| {
            state.damaged = damaged;
            (state, note)
        })
    }

    /// Move the damaged state at `path` aside (SQLite said `what`) and open a new one there, under
    /// the lock of [`State::open`]; the warning to show.
    fn afresh(path: &Path, what: &str) -> Result<(State, Note), String> {
        let aside = move_aside(path).map_err(|m| format!("the state is damaged ({what}); {m}"))?;
        let (state, _) = State::open_locked(path).map_err(|e| e.to_string())?;
        let text = format!(
            "warning: the state was damaged ({what}) and is moved aside to {}; a new one is started",
            aside.display()
        );
        Ok((state, Note { text, warning: true }))
    }

    /// [`State::open`] under its lock.
    fn open_locked(path: &Path) -> Result<(State, Option<Note>), Opening> {
        // Created here so that it is the owner's only; SQLite gives its WAL the same mode.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(Opening::Io)?;
            }
            Err(e) => return Err(Opening::Io(e)),
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| Opening::of(&e.into()))?;
        let mut state = State { conn, path: path.to_path_buf(), damaged: Damaged::Refuse };
        let note = state.prepare().map_err(|e| Opening::of(&e))?;
        Ok((state, note.map(|text| Note { text, warning: false })))
    }

    /// Open an existing state for reading reports from it.
    pub fn open_existing(path: &Path) -> anyhow::Result<State> {
        if !path.is_file() {
            anyhow::bail!(
                "{}: no state here yet; a `consentry scan` of the archive creates it (or give --state PATH)",
                path.display()
            );
        }
        let (state, _) = State::open(path, Damaged::Refuse).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Journal, timeouts and schema; a note when an old state was rebuilt.
    fn prepare(&mut self) -> anyhow::Result<Option<String>> {
        let conn = &mut self.conn;
        // Two runs on one archive wait for each other instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        // What the file is, before anything is written to it (the journal mode is).
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .context("not a database")?;
        let ours = tables == 0
            || match conn.query_row("SELECT value FROM meta WHERE key = 'application'", [], |r| r.get::<_, String>(0)) {
                Ok(application) => application == APPLICATION,
                Err(e) if damage(&e).is_some() => return Err(anyhow::Error::from(e).context("reading its meta table")),
                Err(_) => false,
            };
        if !ours {
            // A damaged state may not show that it is one: its meta table unreadable.
            let check = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get::<_, String>(0));
            match check {
                Ok(ok) if ok == "ok" => {}
                Ok(problem) => {
                    let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT);
                    return Err(rusqlite::Error::SqliteFailure(code, Some(problem.replace('\n', " "))).into());
                }
                Err(e) => return Err(e.into()),
            }
            anyhow::bail!("this is not a consentry state file; give another --state (it is left as it is)");
        }
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
        let application: Option<String> = if tables > 0 {
            tx.query_row("SELECT value FROM meta WHERE key = 'application'", [], |r| r.get(0))
                .optional()
                .unwrap_or(None)
        } else {
            None
        };
        let mut note = None;
        match (tables, application.as_deref(), version) {
            (0, _, _) => create_schema(&tx)?,
            (_, Some(APPLICATION), SCHEMA) => {}
            (_, Some(APPLICATION), v) if v > SCHEMA => anyhow::bail!(
                "this state was written by a newer consentry (schema {v}; this one knows {SCHEMA}); \
                 use that version, or give another --state"
            ),
            (_, Some(APPLICATION), 1) => {
                // Schema 2 counts unreadable files per run: the runs and their changes are kept
                // (`report changes` goes on across the upgrade). Records read by older code are
                // not reused anyway (their reading fingerprint differs).
                tx.execute_batch("ALTER TABLE runs ADD COLUMN unreadable INTEGER")?;
                tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA}"))?;
            }
            (_, Some(APPLICATION), v) => {
                // Older states hold records read by older code: nothing in them is trusted.
                let names: Vec<String> = tx
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for name in names {
                    tx.execute_batch(&format!("DROP TABLE \"{}\"", name.replace('"', "\"\"")))?;
                }
                create_schema(&tx)?;
                note = Some(format!("the state was written by an older consentry (schema {v}); rebuilt"));
            }
            _ => anyhow::bail!("this is not a consentry state file; give another --state (it is left as it is)"),
        }
        tx.commit()?;
        Ok(note)
    }

    /// Every known media file, for a run to reuse and compare with. Damage that shows only now
    /// (in the files' pages) is handled as [`State::open`] was told: the state is moved aside and
    /// a new, empty one started (with the warning to show), or it is an error.
    pub fn known(&mut self, cwd: &Path, roots: &PeopleRoots) -> anyhow::Result<(Known, Option<Note>)> {
        match self.read_known(cwd, roots) {
            Err(e) if self.damaged == Damaged::MoveAside => match Opening::of(&e) {
                Opening::Damaged(what) => {
                    let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    let _lock = lock_exclusive(dir)?;
                    // Closed before its files move: SQLite deletes a closed connection's WAL by
                    // name, which would then be the new state's.
                    drop(std::mem::replace(&mut self.conn, Connection::open_in_memory()?));
                    let (mut fresh, note) = State::afresh(&self.path, &what).map_err(anyhow::Error::msg)?;
                    fresh.damaged = Damaged::Refuse;
                    let known = fresh.read_known(cwd, roots)?;
                    *self = fresh;
                    Ok((known, Some(note)))
                }
                _ => Err(e),
            },
            Err(e) => match Opening::of(&e) {
                Opening::Damaged(what) => Err(anyhow::anyhow!("{}: {}", self.path.display(), refused(&what))),
                _ => Err(e),
            },
            Ok(known) => Ok((known, None)),
        }
    }

    fn read_known(&self, cwd: &Path, roots: &PeopleRoots) -> anyhow::Result<Known> {
        let mut stmt = self.conn.prepare(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record, \
             status, valid_until, consents, missing FROM files",
        )?;
        let mut rows = stmt.query([])?;
        let mut known = Known {
            index: hashbrown::HashTable::new(),
            entries: Vec::new(),
            reading: reading_fingerprint(roots),
            cwd: cwd.to_path_buf(),
        };
        while let Some(row) = rows.next()? {
            let path: Vec<u8> = row.get(0)?;
            let sidecars: Vec<u8> = row.get(6)?;
            let status: Option<String> = row.get(9)?;
            let last = match status {
                Some(status) => Some(LastEval {
                    status,
                    valid_until: row.get(10)?,
                    consents: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
                    missing: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                }),
                None => None,
            };
            let entry = Entry {
                key: path.into_boxed_slice(),
                stamp: Stamp {
                    dev: row.get::<_, i64>(1)? as u64,
                    ino: row.get::<_, i64>(2)? as u64,
                    size: row.get::<_, i64>(3)? as u64,
                    mtime_ns: row.get(4)?,
                    ctime_ns: row.get(5)?,
                },
                sidecars: decode_sidecars(&sidecars).unwrap_or_default(),
                reading: row.get(7)?,
                record: row.get::<_, Vec<u8>>(8)?.into_boxed_slice(),
                last,
            };
            known.insert(entry);
        }
        Ok(known)
    }

    /// The id and finish time of the most recent run.
    fn last_run(&self) -> anyhow::Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row("SELECT id, finished FROM runs ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// What changed in the last run, or in every run that finished on or after `since`
    /// (`report changes`), and a line about the runs it covers.
    pub fn changes(&self, since: Option<Date>) -> anyhow::Result<(Table, String)> {
        self.read_changes(since).map_err(|e| match Opening::of(&e) {
            Opening::Damaged(what) => anyhow::anyhow!("{}: {}", self.path.display(), refused(&what)),
            _ => e,
        })
    }

    fn read_changes(&self, since: Option<Date>) -> anyhow::Result<(Table, String)> {
        let runs: Vec<(i64, String, bool)> = match since {
            Some(day) => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs WHERE substr(finished, 1, 10) >= ?1 ORDER BY id")?
                .query_map([day.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?,
            None => self
                .conn
                .prepare("SELECT id, finished, baseline FROM runs ORDER BY id DESC LIMIT 1")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
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
                let path = path.map(|p| Path::new(OsStr::from_bytes(&p)).to_string_lossy().into_owned());
                rows.push(vec![
                    serde_json::json!(finished),
                    serde_json::json!(r.get::<_, String>(0)?),
                    serde_json::json!(path),
                    serde_json::json!(r.get::<_, Option<String>>(2)?),
                    serde_json::json!(r.get::<_, Option<String>>(3)?),
                    serde_json::json!(r.get::<_, Option<String>>(4)?),
                ]);
            }
        }
        let about = match (since, runs.as_slice()) {
            (_, []) => "no runs recorded in this period".to_string(),
            (None, [(_, finished, true)]) => {
                format!("the run of {finished} was the first one: it is the baseline later runs are compared with")
            }
            (None, [(_, finished, false)]) => format!("changes found by the run of {finished}"),
            (Some(day), runs) => format!("changes found by the {} run(s) since {day}", runs.len()),
            (None, runs) => format!("changes found by the last {} runs", runs.len()),
        };
        let columns = vec!["run", "change", "path", "old_status", "new_status", "detail"];
        Ok((Table { columns, rows }, about))
    }
}

fn create_schema(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(&format!(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('application', '{APPLICATION}'), ('created_by', 'consentry {}');
         -- One row per media file: its stamps, how it was read, what it contained (JSON), and
         -- its last evaluation (NULL status: never evaluated).
         CREATE TABLE files (
             path BLOB PRIMARY KEY,
             dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
             mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
             sidecars BLOB NOT NULL,
             reading INTEGER NOT NULL,
             record BLOB NOT NULL,
             status TEXT, valid_until TEXT, consents TEXT, missing TEXT
         ) WITHOUT ROWID;
         CREATE TABLE runs (
             id INTEGER PRIMARY KEY,
             started TEXT NOT NULL, finished TEXT NOT NULL, command TEXT NOT NULL,
             as_of TEXT, register_digest TEXT,
             files INTEGER NOT NULL, errors INTEGER NOT NULL, read INTEGER NOT NULL,
             green INTEGER, yellow INTEGER, red INTEGER, exempt INTEGER, none INTEGER, unreadable INTEGER,
             new INTEGER NOT NULL, removed INTEGER NOT NULL, moved INTEGER NOT NULL,
             baseline INTEGER NOT NULL
         );
         CREATE TABLE changes (
             run INTEGER NOT NULL REFERENCES runs (id),
             seq INTEGER NOT NULL,
             change TEXT NOT NULL, path BLOB, old_status TEXT, new_status TEXT, detail TEXT,
             PRIMARY KEY (run, seq)
         ) WITHOUT ROWID;
         PRAGMA user_version = {SCHEMA};",
        env!("CARGO_PKG_VERSION")
    ))
}

/// How records are read: the same consentry and the same people roots read a file the same
/// way. A record read another way is never reused.
fn reading_fingerprint(roots: &PeopleRoots) -> i64 {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(READER_REVISION.to_le_bytes());
    h.update(format!("{roots:?}"));
    let d = h.finalize();
    // Never 0, which marks a record that is not to be reused.
    (i64::from_le_bytes(d[..8].try_into().unwrap_or_default()) & i64::MAX).max(1)
}

/// What a file contained, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    format: Option<Format>,
    depicted: Depicted,
    taken: Option<String>,
}

/// The last evaluation of a file, as stored (and compared).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LastEval {
    status: String,
    valid_until: Option<String>,
    /// JSON array of consent ids.
    consents: String,
    /// JSON array of `[name, reason]`.
    missing: String,
}

impl LastEval {
    fn of(d: &Decision) -> LastEval {
        let missing: Vec<(&str, &str)> = d.missing.iter().map(|m| (m.name.as_str(), m.reason.as_str())).collect();
        LastEval {
            status: d.status.as_str().to_string(),
            valid_until: d.valid_until.map(|v| v.to_string()),
            consents: serde_json::to_string(&d.consents).unwrap_or_default(),
            missing: serde_json::to_string(&missing).unwrap_or_default(),
        }
    }

    fn consent_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.consents).unwrap_or_default()
    }

    /// The missing persons as `name (reason)`, for a change's detail.
    fn missing_text(&self) -> String {
        let missing: Vec<(String, String)> = serde_json::from_str(&self.missing).unwrap_or_default();
        missing.iter().map(|(n, r)| format!("{n} ({r})")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug)]
struct Entry {
    /// Absolute path.
    key: Box<[u8]>,
    stamp: Stamp,
    sidecars: Vec<(Box<[u8]>, Stamp)>,
    /// Reading fingerprint; 0 when the record is not to be reused (errors, racy stamps).
    reading: i64,
    record: Box<[u8]>,
    last: Option<LastEval>,
}

/// The files of a state, for one run: looked up by absolute path.
#[derive(Debug)]
pub struct Known {
    index: hashbrown::HashTable<u32>,
    entries: Vec<Entry>,
    reading: i64,
    cwd: PathBuf,
}

impl Known {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The absolute path of `path`.
    fn key(&self, path: &Path) -> Vec<u8> {
        crate::config::absolute_in(&self.cwd, path).into_os_string().into_encoded_bytes()
    }

    fn lookup(&self, key: &[u8]) -> Option<u32> {
        self.index.find(key_hash(key), |&i| *self.entries[i as usize].key == *key).copied()
    }

    fn insert(&mut self, entry: Entry) {
        let n = self.entries.len() as u32;
        let entries = &self.entries;
        self.index.insert_unique(key_hash(&entry.key), n, |&i| key_hash(&entries[i as usize].key));
        self.entries.push(entry);
    }
}

impl Reuse for Known {
    fn find(&self, path: &Path) -> Option<usize> {
        self.lookup(&self.key(path)).map(|i| i as usize)
    }

    fn reuse(&self, found: usize, path: &Path, sidecars: &[PathBuf], stamps: &Stamps) -> Option<FileRecord> {
        let e = self.entries.get(found)?;
        let same_sidecars = e.sidecars.len() == sidecars.len()
            && e.sidecars
                .iter()
                .zip(sidecars)
                .zip(&stamps.sidecars)
                .all(|(((p, old), path), new)| **p == *path.as_os_str().as_bytes() && old == new);
        if e.reading != self.reading || e.stamp != stamps.file || !same_sidecars {
            return None;
        }
        let stored: Stored = serde_json::from_slice(&e.record).ok()?;
        Some(FileRecord::known(path.to_path_buf(), stored.format, stored.depicted, sidecars.to_vec(), stored.taken))
    }
}

fn key_hash(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// Sidecar paths with their stamps: `len u32, path, dev, ino, size, mtime, ctime` each.
fn encode_sidecars(sidecars: &[PathBuf], stamps: &[Stamp]) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, s) in sidecars.iter().zip(stamps) {
        let p = p.as_os_str().as_bytes();
        out.extend((p.len() as u32).to_le_bytes());
        out.extend(p);
        for v in [s.dev, s.ino, s.size, s.mtime_ns as u64, s.ctime_ns as u64] {
            out.extend(v.to_le_bytes());
        }
    }
    out
}

fn decode_sidecars(mut b: &[u8]) -> Option<Vec<(Box<[u8]>, Stamp)>> {
    let mut out = Vec::new();
    let take = |b: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let (head, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(head.to_vec())
    };
    while !b.is_empty() {
        let len = u32::from_le_bytes(take(&mut b, 4)?.try_into().ok()?) as usize;
        let path = take(&mut b, len)?.into_boxed_slice();
        let mut v = [0u64; 5];
        for x in &mut v {
            *x = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
        }
        let stamp = Stamp { dev: v[0], ino: v[1], size: v[2], mtime_ns: v[3] as i64, ctime_ns: v[4] as i64 };
        out.push((path, stamp));
    }
    Some(out)
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
                file: Stamp { dev: 0, ino: 0, size: 0, mtime_ns: 0, ctime_ns: 0 },
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
    ) -> anyhow::Result<RunCounts> {
        let (path, mode) = (self.state.path.clone(), self.state.damaged);
        // The run's connection is closed when `record` returns: a state found damaged only now
        // (in pages the start of the run did not read) is moved aside then, as at the start.
        match self.record(command, date, digest, summary) {
            Err(e) if mode == Damaged::MoveAside => match Opening::of(&e) {
                Opening::Damaged(what) => {
                    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    let _lock = lock_exclusive(dir)?;
                    let aside = move_aside(&path).map_err(|m| anyhow::anyhow!("the state is damaged ({what}); {m}"))?;
                    anyhow::bail!(
                        "the state is damaged ({what}); moved aside to {}: the next run starts a new one",
                        aside.display()
                    )
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
    ) -> anyhow::Result<RunCounts> {
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
        let mut arrived: FxHashMap<(u64, u64), usize> = FxHashMap::default();
        for (n, u) in self.upserts.iter().enumerate().filter(|(_, u)| u.new && u.stamps.file.ino != 0) {
            arrived.insert((u.stamps.file.dev, u.stamps.file.ino), n);
        }
        let mut moved_to: FxHashMap<usize, &Entry> = FxHashMap::default();
        let mut removed = Vec::new();
        for &(k, i) in &gone {
            let e = &known.entries[i as usize];
            match arrived.remove(&(e.stamp.dev, e.stamp.ino)) {
                Some(n) => {
                    moved_to.insert(n, e);
                }
                None => removed.push((k, i)),
            }
        }
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
                    s.dev as i64,
                    s.ino as i64,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(n: u64) -> Stamp {
        Stamp { dev: n, ino: n ^ 1, size: n / 2, mtime_ns: -(n as i64), ctime_ns: (n as i64).wrapping_mul(7) }
    }

    #[test]
    fn sidecar_stamps_round_trip_and_damage_is_refused() {
        let paths = [PathBuf::from("/a/b.xmp"), PathBuf::from(OsStr::from_bytes(b"/a/\xff.jpg.xmp"))];
        let bytes = encode_sidecars(&paths, &[stamp(1), stamp(u64::MAX / 3)]);
        let back = decode_sidecars(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(&*back[1].0, b"/a/\xff.jpg.xmp");
        assert_eq!(back[1].1, stamp(u64::MAX / 3));
        assert_eq!(decode_sidecars(&[]), Some(Vec::new()));
        // Every cut is refused but the one between the two entries (4 + 8 + 40 bytes in).
        for n in 1..bytes.len() {
            let cut = decode_sidecars(&bytes[..n]);
            assert_eq!(cut.map(|v| v.len()), (n == 52).then_some(1), "{n}");
        }
    }

    #[test]
    fn records_read_another_way_are_not_reused() {
        let default = reading_fingerprint(&PeopleRoots::default());
        assert_eq!(default, reading_fingerprint(&PeopleRoots::default()));
        assert_ne!(default, reading_fingerprint(&PeopleRoots::new(["Leute"])));
        assert!(default > 0);
    }
}
