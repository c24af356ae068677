//! The scan pipeline: walk, read every media file and its sidecars in parallel, report in order.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::media::source::{self, HEAD_LEN};
use crate::media::{self, detect, FileSource, Format, MediaKind, Metadata};
use crate::people::{self, Depicted, PeopleRoots, PersonSource, EMBEDDED};
use crate::walk::{self, Job, WalkOptions};
use crate::written::WrittenFields;
use crate::xmp::{self, Prop};

mod error;
/// What [`ReadError::Unwalkable`] carries (the walk itself is internal).
pub use crate::walk::{IoProblem, WalkError};
pub use error::{Damage, PlaceError, ReadError, SidecarError};

/// What a scan needs to know besides the paths.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub roots: PeopleRoots,
    pub follow_links: bool,
    /// Worker threads (`None`: two per core).
    pub threads: Option<usize>,
    /// Files per parallel batch; results are emitted in walk order batch by batch.
    pub batch: usize,
    /// Also read the fields a previous `apply` wrote ([`FileRecord::written`]); only `apply`
    /// needs them.
    pub written: bool,
    /// The pool to parse on (`None`: a pool of `threads` for this scan). Sharing the pool with
    /// other work of the command (loading the register) lets its workers take turns instead of
    /// competing for the cores.
    pub pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    /// Records of files read before (the state of an earlier run): a media file whose stamps
    /// still match is not read again. With it, every media record carries its
    /// [`FileRecord::stamps`].
    pub reuse: Option<std::sync::Arc<dyn Reuse>>,
    /// Where each directory's files belong (their archive, SPEC.md 1): asked once per directory
    /// on the walk's thread, before its files are read. Its people roots and earlier records
    /// replace `roots` and `reuse`, and each record carries its [`FileRecord::placed`].
    pub placement: Option<std::sync::Arc<dyn Placement>>,
    /// Read only the files of this shard ([`Shard::holds`]); the others are walked, not read,
    /// and give no record.
    pub shard: Option<Shard>,
}

/// One of `n` deterministic parts of every archive (SPEC.md 7a): `--shard K/N`, K from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl Shard {
    /// A shard `k` of `n` (`k < n`, `n >= 1`).
    pub fn new(k: u32, n: u32) -> Result<Shard, String> {
        if n == 0 || k >= n {
            return Err(format!("shard {k}/{n}: K counts from 0 and must be less than N (N at least 1)"));
        }
        Ok(Shard { k, n })
    }

    /// Parse `K/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: give the shard as K/N, such as 0/4"))?;
        let number =
            |x: &str| x.trim().parse::<u32>().map_err(|_| format!("{s:?}: give the shard as K/N, such as 0/4"));
        Shard::new(number(k)?, number(n)?)
    }

    /// Whether the file whose key is `key` is in this shard. The key of a file is its path
    /// relative to its archive root (`/`-separated), so a file stays in its shard whatever the
    /// mount point, the machine or the path named on the command line ([`in_shard`]). The part is the first 8 bytes of the key's SHA-256, big-endian, modulo N: stable across
    /// versions and platforms.
    pub fn holds(&self, key: &str) -> bool {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % u64::from(self.n) == u64::from(self.k)
    }
}

/// Places the files of a scan in their archives.
pub trait Placement: Send + Sync + std::fmt::Debug {
    /// The place of the files in the directory `dir`, as walked (`""` for the current one).
    fn place(&self, dir: &Path) -> std::sync::Arc<Place>;
}

/// Where the files of one directory belong.
#[derive(Debug)]
pub struct Place {
    /// Which of the command's archives (a number the [`Placement`] gives; files in no archive
    /// are a group of their own).
    pub unit: usize,
    /// The directory's real path (`None`: it could not be resolved).
    pub real_dir: Option<PathBuf>,
    /// The archive (`None`: no `consentry.toml` above the real directory).
    pub archive: Option<std::sync::Arc<crate::config::Archive>>,
    /// Why the directory could not be placed: its files are errors (an archive not known is
    /// never guessed).
    pub error: Option<PlaceError>,
    pub roots: PeopleRoots,
    pub reuse: Option<std::sync::Arc<dyn Reuse>>,
}

impl Place {
    /// Where the file `path` of this directory belongs.
    fn placed(&self, path: &Path) -> Placed {
        let real = self.real_dir.as_ref().map(|dir| path.file_name().map_or_else(|| dir.clone(), |n| dir.join(n)));
        let rel = match (&self.archive, real) {
            (Some(archive), Some(real)) => archive.relative(&real),
            _ => None,
        };
        Placed { unit: self.unit, rel }
    }
}

/// Where a record's file belongs: the command's archive, and the file's real path relative to
/// the archive root (`None` in no archive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub unit: usize,
    pub rel: Option<String>,
}

/// Which file on disk a path reaches: its device and inode, the same whatever name (link, hard
/// link, overlapping argument) it is reached by. The one file identity of the crate: `apply`'s
/// "each file once", and the file system a copy is flushed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId { dev: meta.dev(), ino: meta.ino() }
    }
}

/// What a file and its sidecars looked like when they were read: its identity ([`FileId`]), size,
/// modification and change time. The change time moves with every write, also one that puts
/// the old modification time back (`exiftool -P`, `touch -r`), and with renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub id: FileId,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            id: FileId::of(meta),
            size: meta.size(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec()),
        }
    }

    /// The stamp of `path` (symbolic links followed, as the scan reads them).
    pub fn read(path: &Path) -> std::io::Result<Stamp> {
        std::fs::metadata(path).map(|m| Stamp::of(&m))
    }
}

/// Hashes of what was read of a media file (its only XMP packet, when it has exactly one) and
/// of its sidecars (their bytes), in the order of [`FileRecord::sidecars`]: the content a
/// decision was computed from, for `apply` to compare with what it is about to replace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadHashes {
    pub packet: Option<u64>,
    pub sidecars: Vec<Option<u64>>,
}

/// The hash of [`ReadHashes`].
pub fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The stamps of a media file and of its sidecars, in the order of [`FileRecord::sidecars`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamps {
    pub file: Stamp,
    pub sidecars: Vec<Stamp>,
}

impl Stamps {
    /// Taken before the files are read, so that a change while they are read shows next time.
    /// `None` when one of them cannot be examined (it is then read, and reports its error).
    fn read(path: &Path, sidecars: &[PathBuf]) -> Option<Stamps> {
        let file = stamp_in_dir(path)?;
        let sidecars = sidecars.iter().map(|s| stamp_in_dir(s)).collect::<Option<Vec<_>>>()?;
        Some(Stamps { file, sidecars })
    }
}

thread_local! {
    /// The directory this thread last examined a file in, open: the files of a directory come
    /// one after another, and looking up a name in an open directory skips walking its path
    /// again (a rescan of an unchanged archive is mostly these lookups).
    static LAST_DIR: std::cell::RefCell<Option<(PathBuf, std::os::fd::OwnedFd)>> =
        const { std::cell::RefCell::new(None) };
}

/// [`Stamp::read`], relative to the file's directory (kept open per thread).
fn stamp_in_dir(path: &Path) -> Option<Stamp> {
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return Stamp::read(path).ok() };
    let name = std::ffi::CString::new(name.as_bytes()).ok()?;
    LAST_DIR.with_borrow_mut(|last| {
        if last.as_ref().is_none_or(|(d, _)| d != dir) {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir });
            *last = opened.ok().map(|f| (dir.to_path_buf(), std::os::fd::OwnedFd::from(f)));
        }
        let Some((_, fd)) = last.as_ref() else { return Stamp::read(path).ok() };
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid directory descriptor, a NUL-terminated name and room for the result.
        let rc = unsafe { libc::fstatat(std::os::fd::AsRawFd::as_raw_fd(fd), name.as_ptr(), st.as_mut_ptr(), 0) };
        if rc != 0 {
            return None;
        }
        // SAFETY: fstatat succeeded and filled it.
        let st = unsafe { st.assume_init() };
        Some(Stamp {
            id: FileId { dev: st.st_dev, ino: st.st_ino },
            size: st.st_size as u64,
            mtime_ns: st.st_mtime.saturating_mul(1_000_000_000).saturating_add(st.st_mtime_nsec),
            ctime_ns: st.st_ctime.saturating_mul(1_000_000_000).saturating_add(st.st_ctime_nsec),
        })
    })
}

/// A source of records read before: the scan asks it for each media file before reading it.
pub trait Reuse: Send + Sync + std::fmt::Debug {
    /// Whether there is an earlier record of `path` (a handle to it).
    fn find(&self, path: &Path) -> Option<usize>;
    /// The earlier record `found` of `path`, when it was read with these sidecars and `stamps`
    /// still match; `None` to read the file.
    fn reuse(&self, found: usize, path: &Path, sidecars: &[PathBuf], stamps: &Stamps) -> Option<FileRecord>;
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            roots: PeopleRoots::default(),
            follow_links: true,
            threads: None,
            batch: 512,
            written: false,
            pool: None,
            reuse: None,
            placement: None,
            shard: None,
        }
    }
}

impl ScanOptions {
    /// The pool this scan parses on.
    pub fn pool(&self) -> std::io::Result<std::sync::Arc<rayon::ThreadPool>> {
        if let Some(pool) = &self.pool {
            return Ok(pool.clone());
        }
        // Reading an archive that is not in the page cache waits on the disk: two threads per
        // core keep it busier (measured on two cores: a cold scan 30% faster, a warm one the
        // same; four per core gained little more cold, lost 10% warm and doubled memory).
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(self.threads.unwrap_or(2 * cores));
        Ok(std::sync::Arc::new(pool.build().map_err(|e| std::io::Error::other(e.to_string()))?))
    }
}

/// What a scan record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A media file (its kind from its content, else guessed from its name).
    Media(MediaKind),
    /// A sidecar without a media file.
    OrphanSidecar,
    /// A path that could not be walked.
    Unwalkable,
}

impl Subject {
    /// The subject [`Subject::as_str`] names.
    pub fn parse(name: &str) -> Option<Subject> {
        Some(match name {
            "image" => Subject::Media(MediaKind::Image),
            "raw" => Subject::Media(MediaKind::Raw),
            "video" => Subject::Media(MediaKind::Video),
            "orphan-sidecar" => Subject::OrphanSidecar,
            "unreadable" => Subject::Unwalkable,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Media(k) => k.as_str(),
            Subject::OrphanSidecar => "orphan-sidecar",
            Subject::Unwalkable => "unreadable",
        }
    }
}

/// Everything read from one media file and its sidecars.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub path: PathBuf,
    pub subject: Subject,
    pub format: Option<Format>,
    pub depicted: Depicted,
    pub sidecars: Vec<PathBuf>,
    /// Capture date, ISO 8601 (`2024-03-01T10:22:33`, with offset or `Z` where known).
    pub taken: Option<String>,
    /// Problems reading this file; any problem makes the record an error record. A state keeps
    /// only their text (a change's detail): a record with errors is read again, never reused.
    pub errors: Vec<ReadError>,
    /// consentry's own fields in the file's only embedded XMP packet (`apply` compares with
    /// them before it reads the file again).
    pub written: Option<Box<WrittenFields>>,
    /// The same for the first of `sidecars`.
    pub written_sidecar: Option<Box<WrittenFields>>,
    /// With [`ScanOptions::reuse`]: the stamps of the media file and its sidecars, taken
    /// before they were read.
    pub stamps: Option<Box<Stamps>>,
    /// With [`ScanOptions::written`] (`apply`): hashes of the bytes the evaluation was computed
    /// from, beside [`FileRecord::stamps`] (which `apply` always takes): `apply` writes only
    /// while both still hold.
    pub read_hashes: Option<Box<ReadHashes>>,
    /// The sidecar names another media file beside this one also reads (the walk's pairing):
    /// `apply` writes into none of them.
    pub shared_sidecars: Vec<PathBuf>,
    /// Whether this record is an earlier one whose files did not change (not read again).
    pub reused: bool,
    /// With [`ScanOptions::placement`]: where the file belongs.
    pub placed: Option<Placed>,
    /// With a register: what its persons may lack that the file's other metadata suggests
    /// ([`FileRecord::hints_by`]; set where the file is evaluated). Never part of a decision.
    pub hints: Vec<Hint>,
    /// Its place in the walk: the number of walk entries before it, counting every entry (also
    /// those another shard reads), so that the records of a sharded run's shards merge into
    /// the order of one run ([`crate::results`]).
    pub walk_index: u64,
}

/// A hint about a file: something its metadata suggests that does not count for its decision
/// (SPEC.md 2.3: plain keywords are no person source). It changes no status and no clearing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Hint {
    pub kind: HintKind,
    /// The register's name of the person the hint is about.
    pub name: String,
}

/// What a [`Hint`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HintKind {
    /// A plain keyword names a person of the register whom no person tag of the file names.
    KeywordNamesPerson,
}

impl HintKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HintKind::KeywordNamesPerson => "keyword-names-person",
        }
    }
}

impl FileRecord {
    fn new(path: PathBuf, subject: Subject) -> Self {
        FileRecord {
            path,
            subject,
            format: None,
            depicted: Depicted::default(),
            sidecars: Vec::new(),
            taken: None,
            errors: Vec::new(),
            written: None,
            written_sidecar: None,
            stamps: None,
            read_hashes: None,
            shared_sidecars: Vec::new(),
            reused: false,
            placed: None,
            hints: Vec::new(),
            walk_index: 0,
        }
    }

    /// A record of a media file, from what an earlier scan of it found.
    pub fn known(
        path: PathBuf,
        format: Option<Format>,
        depicted: Depicted,
        sidecars: Vec<PathBuf>,
        taken: Option<String>,
    ) -> Self {
        let subject = Subject::Media(format.map_or_else(|| kind_from_name(&path), Format::kind));
        FileRecord { format, depicted, sidecars, taken, reused: true, ..FileRecord::new(path, subject) }
    }

    pub fn error(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| self.errors.iter().map(ReadError::to_string).collect::<Vec<_>>().join("; "))
    }

    /// Whether the file (and its sidecars) were read completely: no problem reported, and its
    /// path could be walked. A record that is not complete is `unreadable` when evaluated.
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty() && self.subject != Subject::Unwalkable
    }

    /// The evaluation of this file (SPEC.md 4) at `rel_path` (relative to its archive root;
    /// `None` in no archive): `unreadable` unless [`FileRecord::is_complete`].
    pub fn evaluate(
        &self,
        rel_path: Option<&str>,
        register: &crate::model::Register,
        date: crate::model::Date,
    ) -> crate::consent::Decision {
        let d = &self.depicted;
        crate::consent::evaluate_file(&d.persons, d.unnamed_faces, self.is_complete(), rel_path, register, date)
    }

    /// The hints `register` gives for this file: each person of the register (by name or alias,
    /// any case, normalised) whom a plain keyword ([`Depicted::keywords`]) names and no person
    /// tag does, by the register's name, sorted. The register must be prepared for the
    /// persons ([`crate::model::Register::prepare`]) when it defers consents; the keywords it
    /// prepares itself ([`crate::model::Register::keyword_identity`]).
    pub fn hints_by(&self, register: &mut crate::model::Register) -> Vec<Hint> {
        let d = &self.depicted;
        if d.keywords.is_empty() {
            return Vec::new();
        }
        let tagged: std::collections::BTreeSet<usize> = d.persons.iter().filter_map(|p| register.identity(p)).collect();
        let mut hints = Vec::new();
        for keyword in &d.keywords {
            let Some(id) = register.keyword_identity(keyword).filter(|id| !tagged.contains(id)) else { continue };
            let name = register
                .persons
                .get(id)
                .map(|p| p.name.clone())
                .or_else(|| register.consents_of(id).next().map(|c| c.person.clone()))
                .unwrap_or_else(|| keyword.clone());
            hints.push(Hint { kind: HintKind::KeywordNamesPerson, name });
        }
        hints.sort();
        hints.dedup();
        hints
    }

    /// [`FileRecord::evaluate`] with each depicted person's account (`consentry explain`): the
    /// same evaluation, so its decision is the file's.
    pub fn explain(
        &self,
        rel_path: Option<&str>,
        register: &crate::model::Register,
        date: crate::model::Date,
    ) -> crate::consent::Explanation {
        let d = &self.depicted;
        crate::consent::explain_file(&d.persons, d.unnamed_faces, self.is_complete(), rel_path, register, date)
    }

    pub fn is_media(&self) -> bool {
        matches!(self.subject, Subject::Media(_))
    }
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    pub media_files: u64,
    pub with_persons: u64,
    pub with_unnamed_faces: u64,
    pub errors: u64,
    pub orphan_sidecars: u64,
    pub skipped: u64,
    /// With a shard ([`ScanOptions::shard`]): the entries of the whole walk, every shard's, and
    /// a digest (SHA-256, hex) of their paths in walk order. The shards of one set walked the
    /// same tree when these agree (`consentry merge` refuses a set whose shards saw different
    /// trees: a file renamed between two shards' runs would be in neither, or in both).
    pub walk: Option<(u64, String)>,
}

impl ScanSummary {
    /// Count a record as the scan hands it on.
    pub fn count(&mut self, r: &FileRecord) {
        match r.subject {
            Subject::Media(_) => self.media_files += 1,
            Subject::OrphanSidecar => self.orphan_sidecars += 1,
            Subject::Unwalkable => {}
        }
        if !r.depicted.persons.is_empty() {
            self.with_persons += 1;
        }
        if r.depicted.unnamed_faces > 0 {
            self.with_unnamed_faces += 1;
        }
        if !r.errors.is_empty() {
            self.errors += 1;
        }
    }
}

/// Scan `paths`, calling `sink` with each record in walk order (files sorted by name per
/// directory). The walk runs on its own thread, reading on a pool of `opts.threads` threads,
/// `sink` on the calling thread; it owns each record. `sink` returning an error (a closed pipe,
/// a full disk) stops the scan.
pub fn scan<E: From<std::io::Error>>(
    paths: &[PathBuf],
    opts: &ScanOptions,
    mut sink: impl FnMut(FileRecord) -> Result<(), E>,
) -> Result<ScanSummary, E> {
    let pool = opts.pool()?;
    // Three stages: the walk, parsing batches on the pool, and `sink` on the calling thread, so
    // that writing one batch overlaps parsing the next. Bounded channels keep memory flat.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<(Job, Option<Arc<Place>>, u64)>(opts.batch * 4);
    let (rec_tx, rec_rx) = crossbeam_channel::bounded::<Vec<FileRecord>>(2);
    let stop = &AtomicBool::new(false);
    let walk_opts = WalkOptions { follow_links: opts.follow_links, skip: crate::own::walk_skips };
    let pool = &*pool;
    std::thread::scope(|s| {
        let walker = s.spawn(move || {
            // A directory's files come together: its place is asked for once.
            let mut last: Option<(PathBuf, Arc<Place>)> = None;
            // Every entry of the walk is counted, also another shard's (see `walk_index`), and
            // with a shard their paths are hashed (see `ScanSummary::walk`).
            let mut index = 0u64;
            let mut digest = opts.shard.map(|_| <sha2::Sha256 as sha2::Digest>::new());
            let skipped = walk::walk(paths, walk_opts, |job| {
                index += 1;
                let walk_index = index - 1;
                if let Some(d) = &mut digest {
                    use std::os::unix::ffi::OsStrExt;
                    let tag: &[u8] = match &job {
                        Job::Media { .. } => b"m",
                        Job::Orphan { .. } => b"o",
                        Job::Error { .. } => b"e",
                    };
                    sha2::Digest::update(d, tag);
                    sha2::Digest::update(d, walk::job_path(&job).as_os_str().as_bytes());
                    sha2::Digest::update(d, [0u8]);
                }
                let place = opts.placement.as_ref().map(|placement| {
                    let dir = walk::job_path(&job).parent().unwrap_or(Path::new(""));
                    match &last {
                        Some((d, place)) if d == dir => place.clone(),
                        _ => {
                            let place = placement.place(dir);
                            last = Some((dir.to_path_buf(), place.clone()));
                            place
                        }
                    }
                });
                if let Some(shard) = &opts.shard {
                    let walked = !matches!(job, Job::Error { .. });
                    if walked && !in_shard(shard, walk::job_path(&job), place.as_deref()) {
                        return !stop.load(Ordering::Relaxed); // another shard's file: not read
                    }
                }
                !stop.load(Ordering::Relaxed) && job_tx.send((job, place, walk_index)).is_ok()
            });
            let walk = digest.map(|d| {
                let hash = sha2::Digest::finalize(d);
                (index, crate::register::digest::hex(&hash))
            });
            (skipped, walk)
        });
        s.spawn(move || {
            let mut batch = Vec::with_capacity(opts.batch);
            // Block for the first job of a batch, then take up to the batch size.
            while let Ok(first) = job_rx.recv() {
                batch.push(first);
                batch.extend(job_rx.iter().take(opts.batch - 1));
                let records = pool.install(|| {
                    batch
                        .par_iter()
                        .map(|(job, place, walk_index)| {
                            let mut rec = process_in(job, opts, place.as_deref());
                            rec.walk_index = *walk_index;
                            rec
                        })
                        .collect()
                });
                batch.clear();
                if rec_tx.send(records).is_err() {
                    break;
                }
            }
        });
        let mut summary = ScanSummary::default();
        let result = rec_rx.iter().flatten().try_for_each(|r| {
            summary.count(&r);
            sink(r)
        });
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
            drop(rec_rx);
        }
        let (skipped, walk) = walker.join().unwrap_or_default();
        summary.skipped = skipped;
        summary.walk = walk;
        result.map(|()| summary)
    })
}

/// Whether `shard` reads the file `path` of the directory `place`: the shard its path relative
/// to its archive root hashes to ([`Shard::holds`]; sidecars go with their media file, one job).
/// A file with no such path (in no archive, its directory unresolved) and a path that could not
/// be walked are every shard's: keyed by where it is mounted or how it was named, it could land
/// in no shard or two, and an unlistable folder holds files of every shard. So each shard
/// reports it, never none.
pub fn in_shard(shard: &Shard, path: &Path, place: Option<&Place>) -> bool {
    match place.and_then(|p| p.placed(path).rel) {
        Some(rel) => shard.holds(&rel),
        None => true,
    }
}

/// Read one job into a record (or take the earlier record of an unchanged file), for a file of
/// `place` (its people roots and earlier records), noting where it belongs. Never panics
/// outward: a panic in a parser becomes an error.
fn process_in(job: &Job, opts: &ScanOptions, place: Option<&Place>) -> FileRecord {
    let Some(place) = place else { return read_job(job, &opts.roots, opts.reuse.as_ref(), opts.written) };
    let mut rec = read_job(job, &place.roots, place.reuse.as_ref(), opts.written);
    rec.placed = Some(place.placed(&rec.path));
    if let Some(e) = &place.error {
        rec.errors.push(ReadError::Unplaced(e.clone()));
    }
    rec
}

fn read_job(job: &Job, roots: &PeopleRoots, reuse: Option<&std::sync::Arc<dyn Reuse>>, written: bool) -> FileRecord {
    match job {
        Job::Media { path, sidecars, shared } => {
            // A file read before is examined first; a new one when it is opened, before it is
            // read (no second lookup of its path).
            let found = reuse.and_then(|r| Some((r, r.find(path)?)));
            let stamps = found.and_then(|_| Stamps::read(path, sidecars));
            if let (Some((reuse, i)), Some(stamps)) = (found, &stamps) {
                if let Some(mut rec) = reuse.reuse(i, path, sidecars, stamps) {
                    rec.stamps = Some(Box::new(stamps.clone()));
                    rec.shared_sidecars = shared.clone();
                    return rec;
                }
            }
            // `apply` (`written`) needs the stamps as read too, to write only into that content.
            let stamp_on_open = (reuse.is_some() && found.is_none()) || written;
            let read = || scan_media(path, sidecars, roots, written, stamp_on_open);
            let mut rec = catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|panic| {
                let mut r = FileRecord::new(path.clone(), Subject::Media(kind_from_name(path)));
                r.errors.push(ReadError::Panic(panic_message(&panic)));
                r
            });
            if !stamp_on_open {
                rec.stamps = stamps.map(Box::new);
            }
            rec.shared_sidecars = shared.clone();
            rec
        }
        Job::Orphan { path } => FileRecord::new(path.clone(), Subject::OrphanSidecar),
        Job::Error { path, error } => {
            let mut r = FileRecord::new(path.clone(), Subject::Unwalkable);
            r.errors.push(ReadError::Unwalkable(error.clone()));
            r
        }
    }
}

/// The message a panic was raised with.
pub fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// Media kind from the file name, for records of files whose content could not be read.
fn kind_from_name(path: &Path) -> MediaKind {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    media::detect::media_kind_of_extension(ext).unwrap_or(MediaKind::Raw)
}

/// `stamp_on_open`: take [`FileRecord::stamps`] from the opened file (and the sidecars)
/// before reading them.
fn scan_media(
    path: &Path,
    sidecars: &[PathBuf],
    roots: &PeopleRoots,
    written: bool,
    stamp_on_open: bool,
) -> FileRecord {
    let mut rec = FileRecord::new(path.to_path_buf(), Subject::Media(kind_from_name(path)));
    if path.to_str().is_none() {
        rec.errors.push(ReadError::NameNotUtf8);
    }
    let mut dates = Dates::default();
    let mut file_stamp = None;
    let embedded = read_embedded(path, stamp_on_open.then_some(&mut file_stamp));
    if let Some(file) = file_stamp {
        let sidecar_stamps = sidecars.iter().map(|s| stamp_in_dir(s)).collect::<Option<Vec<_>>>();
        rec.stamps = sidecar_stamps.map(|sidecars| Box::new(Stamps { file, sidecars }));
    }
    record_embedded(embedded, roots, written, &mut rec, &mut dates);
    if written {
        rec.read_hashes.get_or_insert_default();
    }
    for sidecar in sidecars {
        rec.sidecars.push(sidecar.clone());
        let name = sidecar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let first = rec.sidecars.len() == 1;
        let (props, problem, hash) = read_sidecar(sidecar, written);
        if let Some(h) = rec.read_hashes.as_mut() {
            h.sidecars.push(hash);
        }
        if written && first && problem.is_none() {
            rec.written_sidecar = WrittenFields::from_props(&props, true).map(Box::new);
        }
        // Persons read before a problem are kept beside it.
        people::from_xmp(&props, roots, &name, &mut rec.depicted);
        dates.read_xmp(&props);
        if let Some(e) = problem {
            rec.errors.push(ReadError::Sidecar { name: name.clone(), error: e });
        }
        cap_persons(&mut rec, &format!("sidecar {name}"));
    }
    rec.taken = dates.best();
    rec
}

/// What was located in a media file: its format, its metadata, and the problem that ended the
/// reading early (the metadata then holds what was located before it); or why nothing could be.
type Located = Result<(Format, Metadata, Option<ReadError>), ReadError>;

/// Open, identify and locate the metadata of a media file; with `stamp`, its stamp as opened.
fn read_embedded(path: &Path, stamp: Option<&mut Option<Stamp>>) -> Located {
    let (file, meta) = source::open_file(path).map_err(|e| ReadError::Open(IoProblem::new(e)))?;
    // Asked once, when the file was opened: its stamp, and the length the source needs.
    if let Some(stamp) = stamp {
        *stamp = Some(Stamp::of(&meta));
    }
    let src = FileSource::open_with_len(file, Some(meta.len())).map_err(|e| ReadError::Read(IoProblem::new(e)))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    locate(&src, src.head(), &ext)
}

/// Identify a container from its first bytes and locate its metadata.
fn locate(src: &dyn media::ReadAt, head: &[u8], ext: &str) -> Located {
    if head.is_empty() {
        return Err(ReadError::Empty);
    }
    let format =
        detect(head, ext).ok_or_else(|| ReadError::Unrecognised { magic: head.iter().take(8).copied().collect() })?;
    let (meta, problem) = media::read_metadata(src, format);
    Ok((format, meta, problem.map(|e| ReadError::Media { format, error: Damage::new(e) })))
}

/// Read a media file given as bytes (no sidecars): what a scan reports for it. For fuzzing and
/// regression tests; panics are *not* caught here, so they surface.
pub fn scan_bytes(data: &[u8], ext: &str, roots: &PeopleRoots) -> FileRecord {
    let mut rec = FileRecord::new(PathBuf::from(format!("bytes.{ext}")), Subject::Media(MediaKind::Image));
    let mut dates = Dates::default();
    record_embedded(locate(&data, &data[..data.len().min(HEAD_LEN)], ext), roots, false, &mut rec, &mut dates);
    rec.taken = dates.best();
    rec
}

/// The persons a file's own metadata shows (not its sidecars), read as a scan reads them, with
/// the problems met: `apply` reads a rewritten copy back with it.
pub fn embedded_depicted(path: &Path, roots: &PeopleRoots) -> (Depicted, Vec<ReadError>) {
    let mut rec = FileRecord::new(path.to_path_buf(), Subject::Media(kind_from_name(path)));
    record_embedded(read_embedded(path, None), roots, false, &mut rec, &mut Dates::default());
    (rec.depicted, rec.errors)
}

/// The persons an XMP packet (a sidecar's content) shows, read as a scan reads a sidecar, with
/// the problem met.
pub fn packet_depicted(bytes: &[u8], roots: &PeopleRoots) -> (Depicted, Vec<ReadError>) {
    let (props, problem) = parse_sidecar(bytes, false);
    let mut depicted = Depicted::default();
    people::from_xmp(&props, roots, "", &mut depicted);
    (depicted, problem.map(ReadError::Xmp).into_iter().collect())
}

fn record_embedded(located: Located, roots: &PeopleRoots, written: bool, rec: &mut FileRecord, dates: &mut Dates) {
    match located {
        Ok((format, meta, problem)) => {
            rec.format = Some(format);
            rec.subject = Subject::Media(format.kind());
            dates.exif = exif_date(&meta);
            dates.quicktime = meta.quicktime_created.and_then(quicktime_date);
            // Persons located before a problem are kept beside it.
            embedded_persons(&meta, roots, written, rec, dates);
            rec.errors.extend(problem);
        }
        Err(e) => rec.errors.push(e),
    }
}

/// Parse a packet for its persons, plain keywords and dates, and with `written` for the fields
/// `apply` wrote: the properties read before a problem, and the problem.
fn parse_packet(bytes: &[u8], written: bool) -> (Vec<Prop>, Option<xmp::XmpError>) {
    with_keywords(bytes, written, xmp::parse_partial)
}

/// [`parse_packet`] for a sidecar's content: one without XMP in it is an error.
fn parse_sidecar(bytes: &[u8], written: bool) -> (Vec<Prop>, Option<xmp::XmpError>) {
    with_keywords(bytes, written, xmp::parse_sidecar_partial)
}

type Parse = fn(&[u8], &dyn Fn(&str) -> bool) -> (Vec<Prop>, Option<xmp::XmpError>);

/// One parse for the persons and the plain keywords (`dc`); a packet with a problem is parsed
/// again without `dc`, whose keywords are only hints: a problem there (a malformed
/// `dc:description`, a `dc:subject` of 300,000 items) costs the hints after it, never the
/// persons or the file's reading. The problem reported is the one of the parse without `dc`.
fn with_keywords(bytes: &[u8], written: bool, parse: Parse) -> (Vec<Prop>, Option<xmp::XmpError>) {
    let (props, problem) = parse(bytes, &|ns| wanted(ns, written) || people::is_keyword_namespace(ns));
    if problem.is_none() {
        return (props, None);
    }
    let (mut persons, problem) = parse(bytes, &|ns| wanted(ns, written));
    persons.extend(props.into_iter().filter(|p| people::is_keyword_namespace(&p.ns)));
    (persons, problem)
}

fn wanted(ns: &str, written: bool) -> bool {
    people::is_wanted_namespace(ns) || (written && xmp::ns::is_written(ns))
}

/// Most persons kept for one file (embedded and sidecars together). Real files name a few dozen;
/// past this the file is unreadable (its record would be as large as an archive's).
pub const MAX_PERSONS: usize = 10_000;

/// Past [`MAX_PERSONS`]: keep that many and report the file.
fn cap_persons(rec: &mut FileRecord, origin: &str) {
    if rec.depicted.persons.len() > MAX_PERSONS {
        let mut persons = std::mem::take(&mut rec.depicted.persons);
        let beyond = persons.len();
        let last = persons.iter().nth(MAX_PERSONS).cloned();
        if let Some(last) = last {
            persons.split_off(&last);
        }
        rec.depicted.persons = persons;
        rec.errors.push(ReadError::TooManyPersons { origin: origin.to_string(), count: beyond });
    }
}

fn embedded_persons(meta: &Metadata, roots: &PeopleRoots, written: bool, rec: &mut FileRecord, dates: &mut Dates) {
    let packets = meta
        .xmp
        .iter()
        .map(|p| (false, &p.bytes, p.offset))
        .chain(meta.extended_xmp.iter().map(|(_, p)| (true, &p.bytes, p.offset)));
    for (i, (extended, packet, at)) in packets.enumerate() {
        let (props, problem) = parse_packet(packet, written);
        // Only from the file's only main packet: the one `apply` replaces.
        if written && i == 0 && meta.xmp.len() == 1 {
            rec.read_hashes.get_or_insert_default().packet = Some(content_hash(packet));
        }
        if written && i == 0 && meta.xmp.len() == 1 && problem.is_none() {
            // What a previous `apply` wrote, for the next one to compare with.
            rec.written = WrittenFields::from_props(&props, true).map(Box::new);
        }
        people::from_xmp(&props, roots, EMBEDDED, &mut rec.depicted);
        dates.read_xmp(&props);
        if let Some(e) = problem {
            rec.errors.push(if extended {
                // Extended XMP is assembled from segments: the offset is in the assembled packet.
                ReadError::ExtendedXmp { at, error: e }
            } else {
                ReadError::Xmp(e.in_file(at))
            });
        }
        cap_persons(rec, "embedded XMP");
    }
    if let Some(xp) = &meta.exif.xp_keywords {
        people::from_flat_keywords(&people::split_xp_keywords(xp), roots, PersonSource::XpKeywords, &mut rec.depicted);
    }
    let iim: Vec<&str> = meta.iptc_keywords.iter().map(String::as_str).collect();
    people::from_flat_keywords(&iim, roots, PersonSource::IimKeywords, &mut rec.depicted);
    cap_persons(rec, "embedded keywords");
}

/// Read and parse an XMP sidecar (bounded like an embedded packet): the properties read before
/// a problem, and the problem.
/// With `written`, also the hash of its bytes ([`ReadHashes`]).
fn read_sidecar(path: &Path, written: bool) -> (Vec<Prop>, Option<SidecarError>, Option<u64>) {
    let (file, meta) = match source::open_file(path) {
        Ok(opened) => opened,
        Err(e) => return (Vec::new(), Some(SidecarError::Open(IoProblem::new(e))), None),
    };
    // Sized once from the file's length (a growing buffer would hold twice the packet while
    // it is copied), and a sidecar over the limit is not read at all.
    let len = meta.len();
    if len > media::MAX_XMP {
        return (Vec::new(), Some(SidecarError::TooLarge { len }), None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    if let Err(e) = file.take(media::MAX_XMP + 1).read_to_end(&mut bytes) {
        return (Vec::new(), Some(SidecarError::Read(IoProblem::new(e))), None);
    }
    if bytes.len() as u64 > media::MAX_XMP {
        return (Vec::new(), Some(SidecarError::Grew), None);
    }
    let (props, problem) = parse_sidecar(&bytes, written);
    (props, problem.map(SidecarError::Xmp), written.then(|| content_hash(&bytes)))
}

/// Capture date candidates, in order of preference (SPEC.md 2.4).
#[derive(Default)]
struct Dates {
    exif: Option<String>,
    photoshop: Option<String>,
    xmp_create: Option<String>,
    xmp_exif: Option<String>,
    quicktime: Option<String>,
}

impl Dates {
    fn read_xmp(&mut self, props: &[Prop]) {
        let text = |ns, name| {
            xmp::find(props, ns, name)
                .and_then(xmp::Value::as_text)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        self.photoshop = self.photoshop.take().or_else(|| text(people::NS_PHOTOSHOP, "DateCreated"));
        self.xmp_create = self.xmp_create.take().or_else(|| text(people::NS_XMP, "CreateDate"));
        self.xmp_exif = self.xmp_exif.take().or_else(|| text(people::NS_EXIF, "DateTimeOriginal"));
    }

    fn best(self) -> Option<String> {
        self.exif.or(self.photoshop).or(self.xmp_exif).or(self.xmp_create).or(self.quicktime)
    }
}

/// EXIF `YYYY:MM:DD HH:MM:SS` (+ offset) as ISO 8601; blank or zero dates are absent.
fn exif_date(meta: &Metadata) -> Option<String> {
    let raw = meta.exif.date_time_original.as_deref()?.trim().trim_end_matches('\0');
    let dt = chrono::NaiveDateTime::parse_from_str(raw, "%Y:%m:%d %H:%M:%S").ok()?;
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if let Some(off) = meta.exif.offset_time_original.as_deref().map(str::trim) {
        if off.len() == 6 && (off.starts_with('+') || off.starts_with('-')) {
            s.push_str(off);
        }
    }
    Some(s)
}

/// QuickTime seconds since 1904-01-01 UTC; 0 means unset.
fn quicktime_date(secs: u64) -> Option<String> {
    const EPOCH_1904_TO_1970: i64 = 2_082_844_800;
    if secs == 0 {
        return None;
    }
    let unix = i64::try_from(secs).ok()?.checked_sub(EPOCH_1904_TO_1970)?;
    let dt = chrono::DateTime::from_timestamp(unix, 0)?;
    Some(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_in_an_open_directory_equal_those_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        for (name, body) in [("a.jpg", "1"), ("b.jpg", "22"), ("sub/c.jpg", "333")] {
            std::fs::write(d.join(name), body).unwrap();
        }
        std::os::unix::fs::symlink(d.join("b.jpg"), d.join("link.jpg")).unwrap();
        // Alternating directories, so the open one is replaced and reused.
        for name in ["a.jpg", "b.jpg", "sub/c.jpg", "link.jpg", "a.jpg", "sub/c.jpg"] {
            let path = d.join(name);
            assert_eq!(stamp_in_dir(&path), Some(Stamp::read(&path).unwrap()), "{name}");
        }
        assert_eq!(stamp_in_dir(&d.join("link.jpg")), stamp_in_dir(&d.join("b.jpg")), "links are followed");
        assert_eq!(stamp_in_dir(&d.join("missing.jpg")), None);
        assert_eq!(stamp_in_dir(&d.join("nodir/x.jpg")), None);
        let stamps = Stamps::read(&d.join("a.jpg"), &[d.join("b.jpg")]).unwrap();
        assert_eq!(stamps.sidecars, vec![Stamp::read(&d.join("b.jpg")).unwrap()]);
        assert_eq!(Stamps::read(&d.join("a.jpg"), &[d.join("gone.xmp")]), None);
    }

    fn packet(body: &str) -> String {
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:I="{}">{body}</rdf:Description></rdf:RDF></x:xmpmeta>"#,
            people::NS_IPTC_EXT
        )
    }

    fn persons(names: impl Iterator<Item = String>) -> String {
        let items: String = names.map(|n| format!("<rdf:li>{n}</rdf:li>")).collect();
        packet(&format!("<I:PersonInImage><rdf:Bag>{items}</rdf:Bag></I:PersonInImage>"))
    }

    /// A JPEG holding `packets` in APP1 segments, then `tail` (image data or a cut).
    fn jpeg(packets: &[&str], tail: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        for p in packets {
            let body = [&b"http://ns.adobe.com/xap/1.0/\0"[..], p.as_bytes()].concat();
            j.extend([0xFF, 0xE1]);
            j.extend(((body.len() + 2) as u16).to_be_bytes());
            j.extend(body);
        }
        j.extend(tail);
        j
    }

    #[test]
    fn persons_before_damage_are_kept_beside_the_error() {
        let anna = persons(["Anna".to_string()].into_iter());
        // Cut inside a second segment.
        let j = jpeg(&[&anna], &[0xFF, 0xE1, 0x10, 0x00, 1, 2, 3]);
        let rec = scan_bytes(&j, "jpg", &PeopleRoots::default());
        assert_eq!(rec.depicted.persons.iter().collect::<Vec<_>>(), ["Anna"]);
        let e = rec.error().unwrap();
        assert!(e.contains(&format!("at byte {}", j.len() - 7)), "{e}");
    }

    #[test]
    fn xmp_errors_name_the_byte_in_the_file() {
        let broken = packet("<I:PersonInImage><rdf:Bag><rdf:li>Anna</rdf:Bag></I:PersonInImage>");
        let j = jpeg(&[&broken], &[0xFF, 0xD9]);
        let rec = scan_bytes(&j, "jpg", &PeopleRoots::default());
        let e = rec.error().unwrap();
        let packet_at = 2 + 4 + 29;
        let in_packet = broken.find("</rdf:Bag>").unwrap();
        // quick-xml reports the position after the mismatched end tag's name.
        let offset: u64 = e.split("at byte ").nth(1).unwrap().split(':').next().unwrap().parse().unwrap();
        assert!((packet_at + in_packet..packet_at + in_packet + 12).contains(&(offset as usize)), "{e}");
    }

    #[test]
    fn persons_and_values_are_capped_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("a.jpg");
        std::fs::write(&media, jpeg(&[], &[0xFF, 0xD9])).unwrap();
        let sidecar = dir.path().join("a.jpg.xmp");
        // More persons than the cap (fewer values than the value limit): the cap's worth are
        // kept, and the file is in error.
        std::fs::write(&sidecar, persons((0..MAX_PERSONS + 5).map(|i| format!("P{i:06}")))).unwrap();
        let rec = scan_media(&media, std::slice::from_ref(&sidecar), &PeopleRoots::default(), false, false);
        assert_eq!(rec.depicted.persons.len(), MAX_PERSONS);
        assert!(rec.error().unwrap().contains("limit of 10000 per file"), "{:?}", rec.error());
        // More values than the parser builds: it stops there, keeping what it built (capped).
        std::fs::write(&sidecar, persons((0..xmp::MAX_VALUES + 5).map(|i| format!("P{i:06}")))).unwrap();
        let rec = scan_media(&media, std::slice::from_ref(&sidecar), &PeopleRoots::default(), false, false);
        assert_eq!(rec.depicted.persons.len(), MAX_PERSONS);
        assert!(rec.error().unwrap().contains("property values"), "{:?}", rec.error());
    }

    #[test]
    fn a_media_error_keeps_its_byte_offset_and_its_text() {
        let anna = persons(["Anna".to_string()].into_iter());
        let j = jpeg(&[&anna], &[0xFF, 0xE1, 0x10, 0x00, 1, 2, 3]);
        let rec = scan_bytes(&j, "jpg", &PeopleRoots::default());
        let [ReadError::Media { format: Format::Jpeg, error }] = &rec.errors[..] else {
            panic!("{:?}", rec.errors);
        };
        assert_eq!(error.offset(), Some(j.len() as u64 - 7));
        assert_eq!(rec.error(), Some(format!("JPEG file: {error}")));
    }

    #[test]
    fn read_errors_show_as_before() {
        let xmp = xmp::XmpError { offset: 5, message: "bad".into() };
        let cases = [
            (ReadError::Empty, "empty file".to_string()),
            (
                ReadError::Unrecognised { magic: vec![0, 1, 0xAB] },
                "not a recognised image or video file (content starts with 00 01 AB)".to_string(),
            ),
            (ReadError::Xmp(xmp.clone().in_file(10)), "embedded XMP: invalid XMP at byte 15: bad".to_string()),
            (
                ReadError::ExtendedXmp { at: 10, error: xmp.clone() },
                "embedded extended XMP: invalid XMP at byte 5 of the packet assembled from the segments from byte \
                 10: bad"
                    .to_string(),
            ),
            (
                ReadError::Sidecar { name: "a.xmp".into(), error: SidecarError::TooLarge { len: 7 } },
                format!("sidecar a.xmp: 7 bytes, larger than the limit of {} bytes", media::MAX_XMP),
            ),
            (
                ReadError::Sidecar {
                    name: "a.xmp".into(),
                    error: SidecarError::Open(IoProblem::new(std::io::ErrorKind::NotFound.into())),
                },
                "sidecar a.xmp: cannot open: no such file or directory".to_string(),
            ),
            (
                ReadError::Sidecar { name: "a.xmp".into(), error: SidecarError::Xmp(xmp) },
                "sidecar a.xmp: invalid XMP at byte 5: bad".to_string(),
            ),
            (
                ReadError::TooManyPersons { origin: "embedded XMP".into(), count: 10_001 },
                "embedded XMP: 10001 persons or more, past the limit of 10000 per file".to_string(),
            ),
            (ReadError::Panic("boom".into()), "internal error while reading this file: boom".to_string()),
            (
                ReadError::Unwalkable(walk::WalkError::NotRegular),
                "not a regular file (FIFO, socket or device)".to_string(),
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
        let unresolved = PlaceError::Unresolved {
            dir: "/a/b".into(),
            error: IoProblem::new(std::io::ErrorKind::PermissionDenied.into()),
        };
        assert_eq!(ReadError::Unplaced(unresolved).to_string(), "/a/b: permission denied");
        let config = || crate::config::Error::NoUsage("/a/consentry.toml".into());
        let text = format!("{:#}", config());
        assert_eq!(ReadError::Unplaced(PlaceError::Archive(Arc::new(config()))).to_string(), text);
    }

    #[test]
    fn shards_are_parsed_checked_and_stable() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { k: 1, n: 4 }));
        assert_eq!(Shard::parse(" 0 / 1 "), Ok(Shard { k: 0, n: 1 }));
        for bad in ["4/4", "0/0", "1", "-1/4", "a/b", "1/4/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        // The part of a key is pinned: SHA-256's first 8 bytes, big-endian, modulo N (a change
        // would move files between shards and their states).
        for (key, n, k) in [("2023/summer-fest/IMG_1001.jpg", 4, 2), ("a/b.jpg", 7, 4), ("ü/ß.jpg", 1000, 46)] {
            let holders: Vec<u32> = (0..n).filter(|&i| Shard { k: i, n }.holds(key)).collect();
            assert_eq!(holders, [k], "{key}");
        }
    }

    #[test]
    fn a_dc_property_the_parser_refuses_costs_hints_never_the_persons() {
        let packet = |dc: &str| {
            format!(
                r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:dc="http://purl.org/dc/elements/1.1/"><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Anna Schmidt</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage>{dc}</rdf:Description></rdf:RDF></x:xmpmeta>"#
            )
        };
        let subject = "<dc:subject><rdf:Bag><rdf:li>Ben Meyer</rdf:li></rdf:Bag></dc:subject>";
        for (dc, keywords) in [
            (subject.to_string(), vec!["Ben Meyer"]),
            // Two children: a parse error in the `dc` namespace, before the subject.
            (format!("<dc:description><dc:a>x</dc:a><dc:b>y</dc:b></dc:description>{subject}"), vec![]),
            // Items without a container.
            ("<dc:subject><rdf:li>Ben</rdf:li><rdf:li>Meyer</rdf:li></dc:subject>".to_string(), vec![]),
        ] {
            let packet = packet(&dc);
            for (props, problem) in [parse_packet(packet.as_bytes(), true), parse_sidecar(packet.as_bytes(), false)] {
                assert!(problem.is_none(), "{dc}: {problem:?}");
                let mut d = Depicted::default();
                people::from_xmp(&props, &PeopleRoots::default(), "", &mut d);
                assert_eq!(d.persons.iter().map(String::as_str).collect::<Vec<_>>(), ["Anna Schmidt"], "{dc}");
                assert_eq!(d.keywords.iter().map(String::as_str).collect::<Vec<_>>(), keywords, "{dc}");
            }
        }
        // A problem outside `dc` is the file's problem, as ever.
        let broken = packet(&format!(
            "<Iptc4xmpExt:PersonInImage><rdf:li>x</rdf:li><rdf:li>y</rdf:li></Iptc4xmpExt:PersonInImage>{subject}"
        ));
        assert!(parse_packet(broken.as_bytes(), false).1.is_some());
    }

    #[test]
    fn hints_name_registered_persons_a_keyword_names_and_no_tag_does() {
        use crate::model::{Person, Register, Vocabulary};
        let persons = vec![
            Person { id: Some("1".into()), name: "Anna Schmidt".into(), aliases: vec!["Anni".into()] },
            Person { id: Some("2".into()), name: "Ben Meyer".into(), aliases: vec![] },
        ];
        let register = Register::new(Vec::new(), persons, vec![], vec![], Vocabulary::default(), "d".into());
        let record = |persons: &[&str], keywords: &[&str]| {
            let depicted = Depicted {
                persons: persons.iter().map(|p| p.to_string()).collect(),
                keywords: keywords.iter().map(|k| k.to_string()).collect(),
                ..Depicted::default()
            };
            FileRecord::known("a.jpg".into(), Some(Format::Jpeg), depicted, Vec::new(), None)
        };
        let names = |r: &FileRecord| r.hints_by(&mut register.clone()).into_iter().map(|h| h.name).collect::<Vec<_>>();
        // By name or alias, any case, once per person, by the register's name.
        assert_eq!(names(&record(&[], &["anna schmidt", "ANNI", "Berlin"])), ["Anna Schmidt"]);
        assert_eq!(names(&record(&[], &["Ben Meyer", "Anni"])), ["Anna Schmidt", "Ben Meyer"]);
        // A person tag naming the person (by any of their names) leaves no hint.
        assert!(names(&record(&["Anni"], &["Anna Schmidt"])).is_empty());
        assert_eq!(names(&record(&["Anna Schmidt"], &["Anna Schmidt", "Ben Meyer"])), ["Ben Meyer"]);
        assert!(names(&record(&["Carla"], &["Carla", "Sommerfest"])).is_empty(), "not in the register");
        let hint = &record(&[], &["Ben Meyer"]).hints_by(&mut register.clone())[0];
        assert_eq!(
            serde_json::to_value(hint).unwrap(),
            serde_json::json!({"kind": "keyword-names-person", "name": "Ben Meyer"})
        );
        // A hint is no person: the status is the one of a file without persons.
        let r = record(&[], &["Ben Meyer"]);
        let day = crate::model::Date::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(r.evaluate(None, &register, day).status, crate::consent::Status::None);
    }

    #[test]
    fn records_with_errors_or_unwalkable_paths_are_not_complete() {
        let ok = FileRecord::new("a.jpg".into(), Subject::Media(MediaKind::Image));
        assert!(ok.is_complete());
        let mut damaged = ok.clone();
        damaged.errors.push(ReadError::Empty);
        assert!(!damaged.is_complete());
        assert!(!FileRecord::new("d".into(), Subject::Unwalkable).is_complete());
    }

    #[test]
    fn dates() {
        let mut m = Metadata::default();
        m.exif.date_time_original = Some("2024:03:01 10:22:33".into());
        assert_eq!(exif_date(&m).as_deref(), Some("2024-03-01T10:22:33"));
        m.exif.offset_time_original = Some("+01:00".into());
        assert_eq!(exif_date(&m).as_deref(), Some("2024-03-01T10:22:33+01:00"));
        m.exif.date_time_original = Some("0000:00:00 00:00:00".into());
        assert_eq!(exif_date(&m), None);
        assert_eq!(quicktime_date(0), None);
        assert_eq!(quicktime_date(2_082_844_800 + 86_400).as_deref(), Some("1970-01-02T00:00:00Z"));
    }
}
