//! The records of known files: what each file of the state contained, with the stamps it had
//! and how it was read, loaded one directory at a time ([`Dir`]) as the walk reaches it, for the
//! scan to reuse ([`Reuse`]) and the run to compare with; released when the walk has left the
//! directory. A run never holds the whole state: its memory does not grow with the archive.

use std::collections::VecDeque;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{lock_exclusive, refused, Damaged, Error, Note, Opening, State};
use crate::consent::Decision;
use crate::media::Format;
use crate::people::{Depicted, PeopleRoots, PersonSource, READER_REVISION};
use crate::scan::{FileId, FileRecord, Reuse, Stamp, Stamps};
use rusqlite::{Connection, OptionalExtension};

/// Most directories, and most of their known files, loaded by the walk and not yet taken by the
/// run ([`Known::take`]). The run follows the walk closely (a few thousand files behind: the
/// scan's queues are bounded), so this is only reached when the run takes none of them (a
/// shard whose files are all elsewhere) or the directories are many and small; the oldest are
/// then dropped, and the run loads them again when it comes to them.
const HANDED_OVER: (usize, usize) = (4096, 16_384);

impl State {
    /// The known media files, loaded one directory at a time as a run meets them, from the
    /// state as it is now (a snapshot: what this run writes, and what others write meanwhile, is
    /// not seen). Damage that shows now (in the pages at the ends of the files' table) is handled
    /// as [`State::open`] was told: the state is moved aside and a new, empty one started (with
    /// the warning to show), or it is an error. Damage found later, in a directory's pages, makes
    /// that directory's files read again and the run fail to be recorded ([`Known::damage`]).
    pub fn known(&mut self, cwd: &Path, roots: &PeopleRoots) -> Result<(Known, Option<Note>), Error> {
        match self.read_known(cwd, roots) {
            Err(e) if self.damaged == Damaged::MoveAside => match Opening::of(&e) {
                Opening::Damaged(what) => {
                    let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                    let _lock = lock_exclusive(dir)?;
                    // Closed before its files move: SQLite deletes a closed connection's WAL by
                    // name, which would then be the new state's.
                    drop(std::mem::replace(&mut self.conn, Connection::open_in_memory()?));
                    let (mut fresh, note) = State::afresh(&self.path, &what).map_err(Error::Message)?;
                    fresh.damaged = Damaged::Refuse;
                    let known = fresh.read_known(cwd, roots)?;
                    *self = fresh;
                    Ok((known, Some(note)))
                }
                _ => Err(e),
            },
            Err(e) => match Opening::of(&e) {
                Opening::Damaged(what) => Err(Error::Message(format!("{}: {}", self.path.display(), refused(&what)))),
                _ => Err(e),
            },
            Ok(known) => Ok((known, None)),
        }
    }

    /// A second connection to the state, for reading its files while the run's own connection
    /// writes what the run found: a read transaction is held on it until the run ends.
    fn read_known(&self, cwd: &Path, roots: &PeopleRoots) -> Result<Known, Error> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        conn.execute_batch("BEGIN")?;
        // The first read takes the snapshot; both ends of the table are read (its root page too).
        for order in ["ASC", "DESC"] {
            let sql = format!("SELECT count(*) FROM (SELECT 1 FROM files ORDER BY dir {order}, name {order} LIMIT 1)");
            conn.query_row(&sql, [], |r| r.get::<_, i64>(0))?;
        }
        Ok(Known {
            reader: Mutex::new(Some(conn)),
            reading: reading_fingerprint(roots),
            cwd: cwd.to_path_buf(),
            handed: Mutex::new(Handed::default()),
            damage: Mutex::new(None),
        })
    }
}

/// The columns of a [`Entry`], in [`Known::load`]'s order.
const ENTRY_COLUMNS: &str =
    "name, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record, status, valid_until, consents, missing";

/// How records are read: the same consentry and the same people roots read a file the same
/// way. A record read another way is never reused.
pub(super) fn reading_fingerprint(roots: &PeopleRoots) -> i64 {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(READER_REVISION.to_le_bytes());
    h.update(format!("{roots:?}"));
    let d = h.finalize();
    // Never 0, which marks a record that is not to be reused.
    (i64::from_le_bytes(d[..8].try_into().unwrap_or_default()) & i64::MAX).max(1)
}

/// What a file contained, as stored: everything a record's evaluation and hints are computed
/// from (the plain keywords too, in [`Depicted::keywords`]), so that a reused record gives what
/// a fresh read gives.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) format: Option<Format>,
    pub(super) depicted: Depicted,
    pub(super) taken: Option<String>,
}

/// The first byte of a record in [`Stored::encode`]'s form (a JSON record, of states before it,
/// starts with `{`).
const BINARY: u8 = 1;

impl Stored {
    /// The record as stored: a compact binary form (decoding JSON was a good part of an
    /// unchanged rescan's time). Strings are `u32` lengths (little-endian) and UTF-8; the
    /// format and the person sources by their names ([`Format::as_str`],
    /// [`PersonSource::as_str`]).
    #[cfg(test)]
    pub(super) fn encode(&self) -> Vec<u8> {
        Stored::encode_parts(self.format, &self.depicted, self.taken.as_deref())
    }

    /// [`Stored::encode`] of a record's parts, borrowed (no copy of the record to store it).
    pub(super) fn encode_parts(format: Option<Format>, d: &Depicted, taken: Option<&str>) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        fn maybe(out: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => {
                    out.push(1);
                    text(out, s);
                }
                None => out.push(0),
            }
        }
        fn texts<'a>(out: &mut Vec<u8>, all: impl ExactSizeIterator<Item = &'a String>) {
            out.extend((all.len() as u32).to_le_bytes());
            for s in all {
                text(out, s);
            }
        }
        let mut out = vec![BINARY];
        maybe(&mut out, format.map(Format::as_str));
        texts(&mut out, d.persons.iter());
        out.extend(d.unnamed_faces.to_le_bytes());
        out.extend((d.sources.len() as u32).to_le_bytes());
        for (sidecar, source) in &d.sources {
            maybe(&mut out, sidecar.as_deref());
            text(&mut out, source.as_str());
        }
        texts(&mut out, d.keywords.iter());
        maybe(&mut out, taken);
        out
    }

    /// A stored record ([`Stored::encode`]'s form, or the JSON of states before it); `None` when
    /// it cannot be read back whole (the file is then read again).
    pub(super) fn decode(bytes: &[u8]) -> Option<Stored> {
        match bytes.split_first() {
            Some((&BINARY, rest)) => Stored::decode_binary(rest),
            Some((b'{', _)) => serde_json::from_slice(bytes).ok(),
            _ => None,
        }
    }

    fn decode_binary(mut b: &[u8]) -> Option<Stored> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = b.split_at_checked(n)?;
            *b = rest;
            Some(head)
        }
        fn number(b: &mut &[u8]) -> Option<u32> {
            Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
        }
        fn str<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
            let n = number(b)? as usize;
            std::str::from_utf8(take(b, n)?).ok()
        }
        fn text(b: &mut &[u8]) -> Option<String> {
            str(b).map(str::to_string)
        }
        fn maybe(b: &mut &[u8]) -> Option<Option<String>> {
            match take(b, 1)?[0] {
                0 => Some(None),
                1 => text(b).map(Some),
                _ => None,
            }
        }
        // Inserted one by one: the sets are small, and collecting one builds a vector and sorts
        // it first (a good part of a rescan's decoding).
        fn texts(b: &mut &[u8]) -> Option<std::collections::BTreeSet<String>> {
            let mut set = std::collections::BTreeSet::new();
            for _ in 0..number(b)? {
                set.insert(text(b)?);
            }
            Some(set)
        }
        let format = match take(&mut b, 1)?[0] {
            0 => None,
            1 => Some(named(&Format::ALL, Format::as_str, str(&mut b)?)?),
            _ => return None,
        };
        let persons = texts(&mut b)?;
        let unnamed_faces = number(&mut b)?;
        let mut sources = std::collections::BTreeSet::new();
        for _ in 0..number(&mut b)? {
            sources.insert((maybe(&mut b)?, named(&PersonSource::ALL, PersonSource::as_str, str(&mut b)?)?));
        }
        let keywords = texts(&mut b)?;
        let taken = maybe(&mut b)?;
        if !b.is_empty() {
            return None;
        }
        Some(Stored { format, depicted: Depicted { persons, unnamed_faces, sources, keywords }, taken })
    }
}

/// The one of `all` whose name is `name` (`None`: a name this consentry does not know; the file
/// is read again).
fn named<T: Copy>(all: &[T], name_of: fn(T) -> &'static str, name: &str) -> Option<T> {
    all.iter().copied().find(|&t| name_of(t) == name)
}

/// The last evaluation of a file, as stored (and compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LastEval {
    pub(super) status: String,
    pub(super) valid_until: Option<String>,
    /// JSON array of consent ids.
    pub(super) consents: String,
    /// JSON array of `[name, reason]`.
    pub(super) missing: String,
}

/// The missing persons of a decision as stored: `[[name, reason], ...]`.
struct MissingJson<'a>(&'a [crate::consent::Missing]);

impl Serialize for MissingJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| (m.name.as_str(), m.reason.as_str())))
    }
}

impl LastEval {
    pub(super) fn of(d: &Decision) -> LastEval {
        LastEval {
            status: d.status.as_str().to_string(),
            valid_until: d.valid_until.map(|v| v.to_string()),
            consents: serde_json::to_string(&d.consents).unwrap_or_default(),
            missing: serde_json::to_string(&MissingJson(&d.missing)).unwrap_or_default(),
        }
    }

    /// Whether `d` is this evaluation (`LastEval::of(d) == *self`), compared in the scratch
    /// buffer `buf` instead of building it: the common case of a rescan.
    pub(super) fn is(&self, d: &Decision, buf: &mut Vec<u8>) -> bool {
        use std::io::Write;
        if self.status != d.status.as_str() {
            return false;
        }
        match (&self.valid_until, d.valid_until) {
            (None, None) => {}
            (Some(old), Some(new)) => {
                buf.clear();
                if write!(buf, "{new}").is_err() || old.as_bytes() != buf.as_slice() {
                    return false;
                }
            }
            _ => return false,
        }
        buf.clear();
        if serde_json::to_writer(&mut *buf, &d.consents).is_err() || self.consents.as_bytes() != buf.as_slice() {
            return false;
        }
        buf.clear();
        serde_json::to_writer(&mut *buf, &MissingJson(&d.missing)).is_ok() && self.missing.as_bytes() == buf.as_slice()
    }

    pub(super) fn consent_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.consents).unwrap_or_default()
    }

    /// The missing persons as `name (reason)`, for a change's detail.
    pub(super) fn missing_text(&self) -> String {
        LastEval::missing_text_of(&self.missing)
    }

    /// [`LastEval::missing_text`] of the stored `missing`.
    pub(super) fn missing_text_of(missing: &str) -> String {
        let missing: Vec<(String, String)> = serde_json::from_str(missing).unwrap_or_default();
        missing.iter().map(|(n, r)| format!("{n} ({r})")).collect::<Vec<_>>().join(", ")
    }
}

/// A known file of a directory.
#[derive(Debug)]
pub(super) struct Entry {
    /// Its name in the directory.
    pub(super) name: Box<[u8]>,
    pub(super) stamp: Stamp,
    pub(super) sidecars: Vec<(Box<[u8]>, Stamp)>,
    /// Reading fingerprint; 0 when the record is not to be reused (errors, racy stamps).
    pub(super) reading: i64,
    pub(super) record: Box<[u8]>,
    pub(super) last: Option<LastEval>,
}

impl Entry {
    fn of(row: &rusqlite::Row) -> rusqlite::Result<Entry> {
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
        let sidecars = match row.get_ref(6)? {
            rusqlite::types::ValueRef::Blob(b) => decode_sidecars(b),
            _ => None,
        };
        Ok(Entry {
            name: row.get::<_, Vec<u8>>(0)?.into_boxed_slice(),
            stamp: Stamp {
                id: FileId { dev: row.get::<_, i64>(1)? as u64, ino: row.get::<_, i64>(2)? as u64 },
                size: row.get::<_, i64>(3)? as u64,
                mtime_ns: row.get(4)?,
                ctime_ns: row.get(5)?,
            },
            // Sidecars that cannot be read back: the record is not reused.
            reading: if sidecars.is_some() { row.get(7)? } else { 0 },
            sidecars: sidecars.unwrap_or_default(),
            record: row.get::<_, Vec<u8>>(8)?.into_boxed_slice(),
            last,
        })
    }
}

/// The known files of one directory, sorted by name: what the scan reuses for the directory's
/// files and the run compares them with.
#[derive(Debug)]
pub struct Dir {
    /// The directory as walked (the parent of its files' paths); `None` when loaded by the run
    /// (it reuses nothing).
    walked: Option<PathBuf>,
    /// Its absolute path, as the state keys it.
    pub(super) key: Box<[u8]>,
    pub(super) entries: Vec<Entry>,
    reading: i64,
}

impl Dir {
    /// The entry named `name`.
    pub(super) fn position(&self, name: &[u8]) -> Option<usize> {
        self.entries.binary_search_by(|e| (*e.name).cmp(name)).ok()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of `path` when it is a file of this directory as walked.
    fn name_of<'p>(&self, path: &'p Path) -> Option<&'p [u8]> {
        let walked = self.walked.as_deref()?.as_os_str().as_bytes();
        let p = path.as_os_str().as_bytes();
        // What the walk gives: `DIR/NAME` (`NAME` in the current directory).
        let name =
            if walked.is_empty() { Some(p) } else { p.strip_prefix(walked).and_then(|rest| rest.strip_prefix(b"/")) };
        match name {
            Some(name) if !name.is_empty() && !name.contains(&b'/') && name != b"." && name != b".." => Some(name),
            // Any other spelling of a path in it.
            _ => (path.parent()?.as_os_str().as_bytes() == walked)
                .then(|| path.file_name())
                .flatten()
                .map(|n| n.as_bytes()),
        }
    }
}

impl Reuse for Dir {
    fn find(&self, path: &Path) -> Option<usize> {
        self.position(self.name_of(path)?)
    }

    fn reuse(&self, found: usize, path: &Path, sidecars: &[PathBuf], stamps: &Stamps) -> Option<FileRecord> {
        let e = self.entries.get(found)?;
        if self.name_of(path)? != &*e.name {
            return None;
        }
        let same_sidecars = e.sidecars.len() == sidecars.len()
            && e.sidecars
                .iter()
                .zip(sidecars)
                .zip(&stamps.sidecars)
                .all(|(((p, old), path), new)| **p == *path.as_os_str().as_bytes() && old == new);
        if e.reading != self.reading || e.stamp != stamps.file || !same_sidecars {
            return None;
        }
        let stored = Stored::decode(&e.record)?;
        Some(FileRecord::known(path.to_path_buf(), stored.format, stored.depicted, sidecars.to_vec(), stored.taken))
    }
}

/// The directories the walk loaded for the run, in walk order, and their known files in all.
#[derive(Debug, Default)]
struct Handed {
    dirs: VecDeque<Arc<Dir>>,
    entries: usize,
}

impl Handed {
    fn push(&mut self, dir: Arc<Dir>) {
        self.entries += dir.len();
        self.dirs.push_back(dir);
        while self.dirs.len() > HANDED_OVER.0 || (self.entries > HANDED_OVER.1 && self.dirs.len() > 1) {
            self.pop();
        }
    }

    fn pop(&mut self) -> Option<Arc<Dir>> {
        let dir = self.dirs.pop_front()?;
        self.entries -= dir.len();
        Some(dir)
    }

    /// The directory `key`, dropping those before it (the run has passed them).
    fn take(&mut self, key: &[u8]) -> Option<Arc<Dir>> {
        let i = self.dirs.iter().position(|d| *d.key == *key)?;
        (0..i).for_each(|_| drop(self.pop()));
        self.pop()
    }

    fn clear(&mut self) {
        self.dirs.clear();
        self.entries = 0;
    }
}

/// The files of a state, for one run: each directory's loaded when the walk reaches it.
#[derive(Debug)]
pub struct Known {
    /// A connection holding a read transaction (the state as the run began); `None` once the
    /// run ended.
    reader: Mutex<Option<Connection>>,
    pub(super) reading: i64,
    pub(super) cwd: PathBuf,
    /// The directories the walk loaded, in walk order, for the run to take ([`Known::take`]).
    handed: Mutex<Handed>,
    /// The first failure to read a directory: the run is not recorded.
    damage: Mutex<Option<Error>>,
}

impl Known {
    /// The absolute path of `path`, as the state keys it.
    pub(super) fn key(&self, path: &Path) -> Vec<u8> {
        crate::paths::absolute_in(&self.cwd, path).into_os_string().into_encoded_bytes()
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The known files of the directory `walked` (as the walk names it), for its files to be
    /// reused: also handed over to the run, which compares them with what the walk found.
    pub fn directory(&self, walked: &Path) -> Arc<Dir> {
        let key = self.key(if walked.as_os_str().is_empty() { Path::new(".") } else { walked });
        let dir = Arc::new(self.load(key, Some(walked.to_path_buf())));
        Self::lock(&self.handed).push(dir.clone());
        dir
    }

    /// The known files of the directory whose key is `key`, for the run: the ones the walk
    /// loaded (those it loaded before are dropped: the run has passed them), else loaded now.
    pub(super) fn take(&self, key: &[u8]) -> Arc<Dir> {
        if let Some(dir) = Self::lock(&self.handed).take(key) {
            return dir;
        }
        Arc::new(self.load(key.to_vec(), None))
    }

    /// Read the directory `key`; nothing when it cannot be read (its files are read again, and
    /// the failure is kept for [`Known::damage`]).
    fn load(&self, key: Vec<u8>, walked: Option<PathBuf>) -> Dir {
        let read = |conn: &Connection| -> rusqlite::Result<Vec<Entry>> {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM files WHERE dir = ?1 ORDER BY name"))?;
            let mut rows = stmt.query([&key])?;
            let mut entries = Vec::new();
            while let Some(row) = rows.next()? {
                entries.push(Entry::of(row)?);
            }
            Ok(entries)
        };
        let entries = match self.read(read) {
            Ok(entries) => entries,
            Err(e) => {
                Self::lock(&self.damage).get_or_insert(e);
                Vec::new()
            }
        };
        Dir { walked, key: key.into_boxed_slice(), entries, reading: self.reading }
    }

    /// The known file `name` of the directory `dir`.
    pub(super) fn entry(&self, dir: &[u8], name: &[u8]) -> Result<Option<Entry>, Error> {
        self.read(|conn| {
            let sql = format!("SELECT {ENTRY_COLUMNS} FROM files WHERE dir = ?1 AND name = ?2");
            conn.prepare_cached(&sql)?.query_row([dir, name], Entry::of).optional()
        })
    }

    /// `f` on the reader (the state as the run began).
    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let reader = Self::lock(&self.reader);
        let conn = reader.as_ref().ok_or_else(|| Error::Message("the run has ended".into()))?;
        Ok(f(conn)?)
    }

    /// What went wrong reading a directory, if anything did (taken).
    pub(super) fn damage(&self) -> Option<Error> {
        Self::lock(&self.damage).take()
    }

    /// End the read transaction and close the reader (and drop what is still handed over).
    pub(super) fn close(&self) {
        Self::lock(&self.handed).clear();
        if let Some(conn) = Self::lock(&self.reader).take() {
            let _ = conn.execute_batch("COMMIT");
            drop(conn);
        }
    }
}

/// Sidecar paths with their stamps: `len u32, path, dev, ino, size, mtime, ctime` each.
pub(super) fn encode_sidecars(sidecars: &[PathBuf], stamps: &[Stamp]) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, s) in sidecars.iter().zip(stamps) {
        let p = p.as_os_str().as_bytes();
        out.extend((p.len() as u32).to_le_bytes());
        out.extend(p);
        for v in [s.id.dev, s.id.ino, s.size, s.mtime_ns as u64, s.ctime_ns as u64] {
            out.extend(v.to_le_bytes());
        }
    }
    out
}

pub(super) fn decode_sidecars(mut b: &[u8]) -> Option<Vec<(Box<[u8]>, Stamp)>> {
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
        let stamp =
            Stamp { id: FileId { dev: v[0], ino: v[1] }, size: v[2], mtime_ns: v[3] as i64, ctime_ns: v[4] as i64 };
        out.push((path, stamp));
    }
    Some(out)
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn stamp(n: u64) -> Stamp {
        Stamp {
            id: FileId { dev: n, ino: n ^ 1 },
            size: n / 2,
            mtime_ns: -(n as i64),
            ctime_ns: (n as i64).wrapping_mul(7),
        }
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
    fn a_stored_record_keeps_its_plain_keywords() {
        let mut depicted = Depicted::default();
        depicted.persons.insert("Ben Meyer".into());
        depicted.keywords.extend(["Anna Schmidt".to_string(), "Sommerfest".to_string()]);
        let stored = Stored { format: Some(Format::Jpeg), depicted: depicted.clone(), taken: None };
        // In the stored form, and in the JSON form of states before it (still read).
        for bytes in [stored.encode(), serde_json::to_vec(&stored).unwrap()] {
            let back = Stored::decode(&bytes).unwrap();
            assert_eq!(back.depicted, depicted);
        }
    }

    #[test]
    fn stored_records_round_trip_and_cut_or_foreign_ones_are_refused() {
        let mut depicted = Depicted::default();
        depicted.persons.extend(["Anna Schmidt".to_string(), "Zoë Ünal".to_string()]);
        depicted.unnamed_faces = 3;
        depicted.sources.insert((None, crate::people::PersonSource::MwgRegions));
        depicted.sources.insert((Some("a.jpg.xmp".into()), crate::people::PersonSource::IptcPersonInImage));
        depicted.keywords.insert("Sommerfest".into());
        let stored = Stored { format: Some(Format::Heif), depicted, taken: Some("2024-03-01T10:22:33".into()) };
        let bytes = stored.encode();
        let back = Stored::decode(&bytes).unwrap();
        assert_eq!((back.format, &back.depicted, &back.taken), (stored.format, &stored.depicted, &stored.taken));
        let empty = Stored { format: None, depicted: Depicted::default(), taken: None };
        let back = Stored::decode(&empty.encode()).unwrap();
        assert_eq!((back.format, back.depicted, back.taken), (None, Depicted::default(), None));
        // Every cut, and anything after the end, is refused (the file is then read again).
        for n in 0..bytes.len() {
            assert!(Stored::decode(&bytes[..n]).is_none(), "{n}");
        }
        assert!(Stored::decode(&[bytes.as_slice(), b"x"].concat()).is_none());
        // A format or source this consentry does not know, a bad flag, text that is no UTF-8.
        let mut unknown = bytes.clone();
        let heif = Format::Heif.as_str().as_bytes();
        let at = unknown.windows(heif.len()).position(|w| w == heif).unwrap();
        unknown[at + 1] = b'x';
        assert!(Stored::decode(&unknown).is_none());
        let mut flag = bytes.clone();
        flag[1] = 7;
        assert!(Stored::decode(&flag).is_none());
        let mut utf8 = bytes.clone();
        let at = utf8.windows(4).position(|w| w == b"Anna").unwrap();
        utf8[at] = 0xff;
        assert!(Stored::decode(&utf8).is_none());
        // The JSON records of states before are still read.
        let json = serde_json::to_vec(&stored).unwrap();
        assert_eq!(Stored::decode(&json).unwrap().depicted, stored.depicted);
        assert!(Stored::decode(b"").is_none() && Stored::decode(b"[1]").is_none());
    }

    #[test]
    fn a_directory_finds_only_its_own_files() {
        let entry = |name: &str| Entry {
            name: name.as_bytes().into(),
            stamp: stamp(1),
            sidecars: Vec::new(),
            reading: 1,
            record: Box::new([]),
            last: None,
        };
        let dir = |walked: Option<&str>| Dir {
            walked: walked.map(PathBuf::from),
            key: b"/w/a".as_slice().into(),
            entries: vec![entry("1.jpg"), entry("2.jpg")],
            reading: 1,
        };
        let a = dir(Some("a"));
        assert_eq!(a.find(Path::new("a/2.jpg")), Some(1));
        assert_eq!(a.find(Path::new("a//1.jpg")), Some(0), "another spelling of a path in it");
        for other in ["b/1.jpg", "a/b/1.jpg", "1.jpg", "ab/1.jpg", "a/3.jpg", "a"] {
            assert_eq!(a.find(Path::new(other)), None, "{other}");
        }
        let here = Dir { key: b"/w".as_slice().into(), ..dir(Some("")) };
        assert_eq!(here.find(Path::new("2.jpg")), Some(1));
        assert_eq!(here.find(Path::new("a/2.jpg")), None);
        // Loaded by the run, not the walk: it reuses nothing.
        assert_eq!(dir(None).find(Path::new("a/1.jpg")), None);
    }

    #[test]
    fn an_evaluation_is_compared_as_stored() {
        use crate::consent::{Missing, Reason, Status};
        let day = |d| crate::model::Date::from_ymd_opt(2027, 6, d);
        let decision = |status, valid_until, consents: &[&str], missing: &[(&str, Reason)]| Decision {
            status,
            usage: Vec::new(),
            missing: missing.iter().map(|(n, r)| Missing { name: n.to_string(), reason: *r }).collect(),
            consents: consents.iter().map(|c| c.to_string()).collect(),
            valid_until,
            notes: Vec::new(),
            exempted: Vec::new(),
        };
        let all = [
            decision(Status::Green, day(30), &["c1", "c\"2"], &[]),
            decision(Status::Green, day(29), &["c1", "c\"2"], &[]),
            decision(Status::Green, day(30), &["c1"], &[]),
            decision(Status::Green, None, &["c1"], &[]),
            decision(Status::Red, None, &[], &[("Anna \"A\"", Reason::Unknown)]),
            decision(Status::Red, None, &[], &[("Anna \"A\"", Reason::Expired)]),
            decision(Status::Yellow, None, &[], &[("Anna \"A\"", Reason::Expired), ("Ben", Reason::Revoked)]),
        ];
        let mut buf = Vec::new();
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert_eq!(LastEval::of(a).is(b, &mut buf), i == j, "{i} {j}");
                assert_eq!(LastEval::of(a) == LastEval::of(b), i == j, "{i} {j}");
            }
        }
    }

    #[test]
    fn directories_handed_over_are_bounded_and_taken_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (mut state, _) = State::open(&path, Damaged::Refuse).unwrap();
        let names: Vec<(String, String)> =
            (0..HANDED_OVER.0 + 10).map(|i| (format!("/s/d{i:05}"), "x.jpg".into())).collect();
        for (dir, name) in &names {
            state
                .conn
                .execute(
                    "INSERT INTO files (dir, name, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record) \
                     VALUES (?1, ?2, 1, 2, 3, 4, 5, X'', 1, X'')",
                    [dir.as_bytes(), name.as_bytes()],
                )
                .unwrap();
        }
        let (known, _) = state.known(Path::new("/"), &PeopleRoots::default()).unwrap();
        for (dir, _) in &names {
            assert_eq!(known.directory(Path::new(dir)).len(), 1);
        }
        assert_eq!(Known::lock(&known.handed).dirs.len(), HANDED_OVER.0, "the oldest were dropped");
        // Dropped ones are loaded again; taking one drops those before it.
        assert_eq!(known.take(b"/s/d00000").len(), 1);
        assert_eq!(Known::lock(&known.handed).dirs.len(), HANDED_OVER.0);
        let last = &names[names.len() - 2].0;
        assert_eq!(known.take(last.as_bytes()).len(), 1);
        assert_eq!(Known::lock(&known.handed).dirs.len(), 1);
        assert!(known.take(b"/s/none").is_empty());
        assert!(known.damage().is_none());
    }

    #[test]
    fn a_directory_in_damaged_pages_is_read_again_and_the_damage_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let dirs: Vec<String> = (0..2000).map(|i| format!("/s/d{i:05}")).collect();
        {
            let (mut state, _) = State::open(&path, Damaged::Refuse).unwrap();
            let tx = state.conn.transaction().unwrap();
            for d in &dirs {
                tx.execute(
                    "INSERT INTO files (dir, name, dev, ino, size, mtime_ns, ctime_ns, sidecars, reading, record) \
                     VALUES (?1, CAST('x.jpg' AS BLOB), 1, 2, 3, 4, 5, X'', 1, zeroblob(300))",
                    [d.as_bytes()],
                )
                .unwrap();
            }
            tx.commit().unwrap();
            state.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        }
        {
            let (mut state, _) = State::open(&path, Damaged::Refuse).unwrap();
            let (known, _) = state.known(Path::new("/"), &PeopleRoots::default()).unwrap();
            let loaded: usize = dirs.iter().map(|d| known.directory(Path::new(d)).len()).sum();
            assert_eq!(loaded, dirs.len(), "undamaged");
        }
        // A page in the middle of the file (the files' table fills it) overwritten.
        let mut bytes = std::fs::read(&path).unwrap();
        let page = 4096;
        let middle = bytes.len() / page / 2 * page;
        bytes[middle..middle + page].iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8).wrapping_mul(37) ^ 0x5a);
        std::fs::write(&path, &bytes).unwrap();
        let (mut state, _) = State::open(&path, Damaged::Refuse).unwrap();
        let (known, _) = state.known(Path::new("/"), &PeopleRoots::default()).unwrap();
        let loaded: usize = dirs.iter().map(|d| known.directory(Path::new(d)).len()).sum();
        assert!(loaded < dirs.len(), "the damaged directories give nothing to reuse");
        let damage = known.damage().expect("the damage is kept for the end of the run");
        assert!(matches!(Opening::of(&damage), Opening::Damaged(_)), "{damage}");
    }

    #[test]
    fn records_read_another_way_are_not_reused() {
        let default = reading_fingerprint(&PeopleRoots::default());
        assert_eq!(default, reading_fingerprint(&PeopleRoots::default()));
        assert_ne!(default, reading_fingerprint(&PeopleRoots::new(["Leute"])));
        assert!(default > 0);
    }
}
