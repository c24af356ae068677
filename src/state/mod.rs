//! The state of nightly runs (SPEC.md 7), in one SQLite file: what each media file contained,
//! keyed by its stamps (device, inode, size, modification and change time), so that a file that
//! did not change is not read again; every run with its counts; and what changed in each run.
//! Evaluation always runs again: the register and the date change every night.
//!
//! A run's memory does not grow with the archive (SPEC.md 7a): the known files are loaded one
//! directory at a time as the walk reaches it (the `files` table is keyed by directory and
//! name), compared with what the walk found there, and released; folders the walk never met
//! are found at the end by going through the state's directories; what the run found waits in
//! temporary tables of SQLite's temporary file. The state is written in one transaction at the
//! end of a complete run (WAL journal): a killed run leaves the previous state. A state of an
//! older schema version is migrated with its runs and records (schemas 1 to 3) or rebuilt (older
//! ones), and refused when it is newer; a database that is not a consentry state is never
//! touched.
//!
//! This module opens the state file (creation, locking, damage, schema); `cache` loads the
//! records of known files a run reuses, a directory at a time; `runs` compares a run with the
//! state, records it and reads back the changes recorded (the `changes` report is built from them
//! in [`crate::report`]) and keeps the named checkpoints of `report changes --checkpoint` (the
//! last run each reported).

mod cache;
mod runs;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

pub use cache::{Dir, Known};
pub use runs::{Checkpoint, FileChange, Recorded, RecordedChange, RecordedRun, Run, RunCounts};

/// Why the state could not be read or written. Each variant displays its whole text, causes
/// included (see `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused (a locked, damaged or foreign database; a failed statement).
    #[error("{}", crate::error::with_causes(.0))]
    Sqlite(rusqlite::Error),
    /// The state's folder or file could not be used.
    #[error("{}", crate::error::with_causes(.0))]
    Io(std::io::Error),
    /// What was being done when `cause` happened.
    #[error("{what}: {cause}")]
    Context { what: &'static str, cause: Box<Error> },
    /// Everything else, said in full.
    #[error("{0}")]
    Message(String),
}

impl Error {
    fn context(what: &'static str, cause: impl Into<Error>) -> Error {
        Error::Context { what, cause: Box::new(cause.into()) }
    }

    /// The SQLite error behind this one, if any.
    fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            Error::Sqlite(e) => Some(e),
            Error::Context { cause, .. } => cause.sqlite(),
            Error::Io(_) | Error::Message(_) => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Sqlite(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

const NOT_A_STATE: &str = "this is not a consentry state file; give another --state (it is left as it is)";

/// Why the state could not be opened, under its lock.
enum Opening {
    /// Not an SQLite database, or a corrupt one (what SQLite said).
    Damaged(String),
    /// The file cannot be created or opened for writing.
    Io(std::io::Error),
    Other(String),
}

impl Opening {
    fn of(e: &Error) -> Opening {
        match e.sqlite().and_then(damage) {
            Some(what) => Opening::Damaged(what),
            None => Opening::Other(e.to_string()),
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

/// Schema version (`PRAGMA user_version`). Schemas 1 to 3 are migrated (runs and records kept);
/// older ones are rebuilt. Schema 2 added `runs.unreadable`, schema 3 the `checkpoints` table,
/// schema 4 keys `files` by directory and name (a run loads one directory at a time).
pub const SCHEMA: i64 = 4;
const APPLICATION: &str = "consentry-state";

/// Where the state of the archive at `root` is kept by default; a shard's own
/// (`state-shard-K-of-N.sqlite`), so that shards never see each other's files as removed.
pub fn default_path(root: &Path, shard: Option<crate::scan::Shard>) -> PathBuf {
    root.join(crate::own::STATE_DIR).join(format!("state{}.sqlite", shard_suffix(shard)))
}

/// `-shard-K-of-N` for a shard's files, nothing for the whole archive.
fn shard_suffix(shard: Option<crate::scan::Shard>) -> String {
    shard.map(|s| format!("-shard-{}-of-{}", s.k, s.n)).unwrap_or_default()
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
pub fn cache_path(root: &Path, shard: Option<crate::scan::Shard>) -> Option<PathBuf> {
    let id = format!("{:x}", Sha256::digest(root.as_os_str().as_bytes()));
    Some(cache_dir()?.join(format!("state-{}{}.sqlite", &id[..16], shard_suffix(shard))))
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
    /// exist. An older schema is migrated (schemas 1 to 3) or rebuilt (its files are read
    /// again); a newer one, or a database that is not a consentry state, is an error; a damaged
    /// one is moved aside or refused (`damaged`). Creating and checking the state happens under
    /// an exclusive `flock` of its directory, so that concurrent first runs wait for each other.
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
            crate::own::create_private_dir_all(dir).map_err(not_writable)?;
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
        match crate::own::create_private(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(Opening::Io)?;
            }
            Err(e) => return Err(Opening::Io(e)),
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| Opening::of(&Error::from(e)))?;
        let mut state = State { conn, path: path.to_path_buf(), damaged: Damaged::Refuse };
        let note = state.prepare().map_err(|e| Opening::of(&e))?;
        Ok((state, note.map(|text| Note { text, warning: false })))
    }

    /// Open an existing state for reading reports from it.
    pub fn open_existing(path: &Path) -> Result<State, Error> {
        if !path.is_file() {
            return Err(Error::Message(format!(
                "{}: no state here yet; a `consentry scan` of the archive creates it (or give --state PATH)",
                path.display()
            )));
        }
        let (state, _) = State::open(path, Damaged::Refuse).map_err(|e| Error::Message(e.to_string()))?;
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Journal, timeouts and schema; a note when an old state was rebuilt.
    fn prepare(&mut self) -> Result<Option<String>, Error> {
        let conn = &mut self.conn;
        // Two runs on one archive wait for each other instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        // What the file is, before anything is written to it (the journal mode is).
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .map_err(|e| Error::context("not a database", e))?;
        let ours = tables == 0
            || match conn.query_row("SELECT value FROM meta WHERE key = 'application'", [], |r| r.get::<_, String>(0)) {
                Ok(application) => application == APPLICATION,
                Err(e) if damage(&e).is_some() => return Err(Error::context("reading its meta table", e)),
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
            return Err(Error::Message(NOT_A_STATE.into()));
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
            (_, Some(APPLICATION), v) if v > SCHEMA => {
                return Err(Error::Message(format!(
                    "this state was written by a newer consentry (schema {v}; this one knows {SCHEMA}); \
                     use that version, or give another --state"
                )))
            }
            (_, Some(APPLICATION), v @ (1..=3)) => {
                // Schema 2 counts unreadable files per run, schema 3 keeps the checkpoints of
                // `report changes --checkpoint`, schema 4 keys the files by directory: the runs
                // and their changes are kept (`report changes` goes on across the upgrade), and
                // so are the records: reused when they were read the way this consentry reads
                // (the same version and reader revision, the same people roots: the reading
                // fingerprint), read again otherwise.
                if v < 2 {
                    tx.execute_batch("ALTER TABLE runs ADD COLUMN unreadable INTEGER")?;
                }
                tx.execute_batch(CHECKPOINTS)?;
                if v < 4 {
                    files_by_directory(&tx)?;
                    changes_with_files(&tx)?;
                }
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
            _ => return Err(Error::Message(NOT_A_STATE.into())),
        }
        tx.commit()?;
        Ok(note)
    }

    /// The id and finish time of the most recent run.
    fn last_run(&self) -> Result<Option<(i64, String)>, Error> {
        Ok(self
            .conn
            .query_row("SELECT id, finished FROM runs ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }
}

/// The checkpoints of `report changes --checkpoint NAME` (schema 3): the last run each one
/// reported, and when it was moved there.
const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    run INTEGER NOT NULL,
    moved TEXT NOT NULL
) WITHOUT ROWID;";

/// The files of a state (schema 4): one row per media file, keyed by its directory and its name
/// (the absolute path split at its last `/`: [`split_key`]), so that the files of one directory
/// are one range of the table. Its stamps, how it was read, what it contained (JSON), and its
/// last evaluation (NULL status: never evaluated).
const FILES: &str = "CREATE TABLE files (
    dir BLOB NOT NULL, name BLOB NOT NULL,
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    sidecars BLOB NOT NULL,
    reading INTEGER NOT NULL,
    record BLOB NOT NULL,
    status TEXT, valid_until TEXT, consents TEXT, missing TEXT,
    PRIMARY KEY (dir, name)
) WITHOUT ROWID;";

/// An absolute path (a key of the state) as its directory and its name: split at the last `/`
/// (the directory of `/x` is `/`).
pub(crate) fn split_key(key: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'/', key) {
        Some(0) => (&key[..1], &key[1..]),
        Some(i) => (&key[..i], &key[i + 1..]),
        None => (&[], key),
    }
}

/// The absolute path of the file `name` in the directory `dir` ([`split_key`] undone).
pub(crate) fn join_key(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(dir.len() + 1 + name.len());
    key.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        key.push(b'/');
    }
    key.extend_from_slice(name);
    key
}

/// Schema 3's `files` (keyed by path) rebuilt as schema 4's (by directory and name), row by row:
/// the records are kept.
fn files_by_directory(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let keyed_by_path: bool =
        tx.query_row("SELECT count(*) > 0 FROM pragma_table_info('files') WHERE name = 'path'", [], |r| r.get(0))?;
    if !keyed_by_path {
        return Ok(()); // keyed by directory already
    }
    tx.execute_batch(&FILES.replace("CREATE TABLE files", "CREATE TABLE files_by_directory"))?;
    {
        let mut read = tx.prepare(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record, \
             status, valid_until, consents, missing FROM files",
        )?;
        let mut put = tx.prepare(
            "INSERT OR REPLACE INTO files_by_directory (dir, name, dev, ino, size, mtime_ns, ctime_ns, sidecars, \
             reading, record, status, valid_until, consents, missing) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let path: Vec<u8> = r.get(0)?;
            let (dir, name) = split_key(&path);
            let mut values: Vec<rusqlite::types::Value> = vec![dir.to_vec().into(), name.to_vec().into()];
            for i in 1..13 {
                values.push(r.get(i)?);
            }
            put.execute(rusqlite::params_from_iter(values))?;
        }
    }
    tx.execute_batch("DROP TABLE files; ALTER TABLE files_by_directory RENAME TO files;")
}

/// Schema 4's `changes` keep the device and inode of the files new, moved and removed (none for
/// the changes recorded before).
fn changes_with_files(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    let has: bool =
        tx.query_row("SELECT count(*) > 0 FROM pragma_table_info('changes') WHERE name = 'ino'", [], |r| r.get(0))?;
    if !has {
        tx.execute_batch("ALTER TABLE changes ADD COLUMN dev INTEGER; ALTER TABLE changes ADD COLUMN ino INTEGER;")?;
    }
    Ok(())
}

fn create_schema(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(CHECKPOINTS)?;
    tx.execute_batch(FILES)?;
    tx.execute_batch(&format!(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('application', '{APPLICATION}'), ('created_by', 'consentry {}');
         CREATE TABLE runs (
             id INTEGER PRIMARY KEY,
             started TEXT NOT NULL, finished TEXT NOT NULL, command TEXT NOT NULL,
             as_of TEXT, register_digest TEXT,
             files INTEGER NOT NULL, errors INTEGER NOT NULL, read INTEGER NOT NULL,
             green INTEGER, yellow INTEGER, red INTEGER, exempt INTEGER, none INTEGER, unreadable INTEGER,
             new INTEGER NOT NULL, removed INTEGER NOT NULL, moved INTEGER NOT NULL,
             baseline INTEGER NOT NULL
         );
         -- `dev`, `ino` (schema 4): the device and inode of a new, moved or removed file.
         CREATE TABLE changes (
             run INTEGER NOT NULL REFERENCES runs (id),
             seq INTEGER NOT NULL,
             change TEXT NOT NULL, path BLOB, old_status TEXT, new_status TEXT, detail TEXT,
             dev INTEGER, ino INTEGER,
             PRIMARY KEY (run, seq)
         ) WITHOUT ROWID;
         PRAGMA user_version = {SCHEMA};",
        env!("CARGO_PKG_VERSION")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state of schema 3 (files keyed by path), with a run.
    fn schema_3(path: &Path) {
        let db = Connection::open(path).unwrap();
        db.execute_batch(&format!(
            "{CHECKPOINTS}
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('application', '{APPLICATION}');
             CREATE TABLE files (
                 path BLOB PRIMARY KEY,
                 dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
                 sidecars BLOB NOT NULL, reading INTEGER NOT NULL, record BLOB NOT NULL,
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
                 run INTEGER NOT NULL REFERENCES runs (id), seq INTEGER NOT NULL,
                 change TEXT NOT NULL, path BLOB, old_status TEXT, new_status TEXT, detail TEXT,
                 PRIMARY KEY (run, seq)
             ) WITHOUT ROWID;
             INSERT INTO runs VALUES (1, 's', '2026-11-01T02:00:00+01:00', 'scan', NULL, NULL, 2, 0, 2,
                 NULL, NULL, NULL, NULL, NULL, NULL, 2, 0, 0, 1);
             INSERT INTO files VALUES (X'2F612F622E6A7067', 1, 2, 3, 4, 5, X'', 42, X'7B7D', 'red', NULL, '[]', '[]');
             INSERT INTO files VALUES (X'2F632E6A7067', 1, 3, 3, 4, 5, X'', 42, X'7B7D', NULL, NULL, NULL, NULL);
             PRAGMA user_version = 3;"
        ))
        .unwrap();
    }

    #[test]
    fn a_schema_3_state_keeps_its_files_and_runs_keyed_by_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        schema_3(&path);
        let (state, note) = State::open(&path, Damaged::Refuse).unwrap();
        assert_eq!(note, None);
        let version: i64 = state.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA);
        type Row = (Vec<u8>, Vec<u8>, i64, Option<String>);
        let rows: Vec<Row> = state
            .conn
            .prepare("SELECT dir, name, ino, status FROM files ORDER BY dir, name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [(b"/".to_vec(), b"c.jpg".to_vec(), 3, None), (b"/a".to_vec(), b"b.jpg".to_vec(), 2, Some("red".into()))]
        );
        assert_eq!(state.last_run().unwrap().map(|(id, _)| id), Some(1), "the runs are kept");
        let ino: i64 = state
            .conn
            .query_row("SELECT count(*) FROM pragma_table_info('changes') WHERE name = 'ino'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ino, 1, "the changes keep files' device and inode");
        drop(state);
        // Opened again: nothing more to do.
        let (state, _) = State::open(&path, Damaged::Refuse).unwrap();
        let files: i64 = state.conn.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap();
        assert_eq!(files, 2);
    }
}
