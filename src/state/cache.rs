//! The records of known files: what each file of the state contained, with the stamps it had
//! and how it was read, looked up by path for a run to reuse ([`Known`], [`Reuse`]).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{lock_exclusive, refused, Damaged, Error, Note, Opening, State};
use crate::consent::Decision;
use crate::media::Format;
use crate::people::{Depicted, PeopleRoots, READER_REVISION};
use crate::scan::{FileId, FileRecord, Reuse, Stamp, Stamps};
use rusqlite::Connection;

impl State {
    /// Every known media file, for a run to reuse and compare with. Damage that shows only now
    /// (in the files' pages) is handled as [`State::open`] was told: the state is moved aside and
    /// a new, empty one started (with the warning to show), or it is an error.
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

    fn read_known(&self, cwd: &Path, roots: &PeopleRoots) -> Result<Known, Error> {
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
                    id: FileId { dev: row.get::<_, i64>(1)? as u64, ino: row.get::<_, i64>(2)? as u64 },
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
}

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

impl LastEval {
    pub(super) fn of(d: &Decision) -> LastEval {
        let missing: Vec<(&str, &str)> = d.missing.iter().map(|m| (m.name.as_str(), m.reason.as_str())).collect();
        LastEval {
            status: d.status.as_str().to_string(),
            valid_until: d.valid_until.map(|v| v.to_string()),
            consents: serde_json::to_string(&d.consents).unwrap_or_default(),
            missing: serde_json::to_string(&missing).unwrap_or_default(),
        }
    }

    pub(super) fn consent_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.consents).unwrap_or_default()
    }

    /// The missing persons as `name (reason)`, for a change's detail.
    pub(super) fn missing_text(&self) -> String {
        let missing: Vec<(String, String)> = serde_json::from_str(&self.missing).unwrap_or_default();
        missing.iter().map(|(n, r)| format!("{n} ({r})")).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug)]
pub(super) struct Entry {
    /// Absolute path.
    pub(super) key: Box<[u8]>,
    pub(super) stamp: Stamp,
    pub(super) sidecars: Vec<(Box<[u8]>, Stamp)>,
    /// Reading fingerprint; 0 when the record is not to be reused (errors, racy stamps).
    pub(super) reading: i64,
    pub(super) record: Box<[u8]>,
    pub(super) last: Option<LastEval>,
}

/// The files of a state, for one run: looked up by absolute path.
#[derive(Debug)]
pub struct Known {
    pub(super) index: hashbrown::HashTable<u32>,
    pub(super) entries: Vec<Entry>,
    pub(super) reading: i64,
    pub(super) cwd: PathBuf,
}

impl Known {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The absolute path of `path`.
    pub(super) fn key(&self, path: &Path) -> Vec<u8> {
        crate::paths::absolute_in(&self.cwd, path).into_os_string().into_encoded_bytes()
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<u32> {
        self.index.find(key_hash(key), |&i| *self.entries[i as usize].key == *key).copied()
    }

    pub(super) fn insert(&mut self, entry: Entry) {
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

pub(super) fn key_hash(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
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
        let back: Stored = serde_json::from_slice(&serde_json::to_vec(&stored).unwrap()).unwrap();
        assert_eq!(back.depicted, depicted);
    }

    #[test]
    fn records_read_another_way_are_not_reused() {
        let default = reading_fingerprint(&PeopleRoots::default());
        assert_eq!(default, reading_fingerprint(&PeopleRoots::default()));
        assert_ne!(default, reading_fingerprint(&PeopleRoots::new(["Leute"])));
        assert!(default > 0);
    }
}
