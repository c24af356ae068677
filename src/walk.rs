//! Walking the scanned paths: media files with their sidecars, orphan sidecars, walk errors.
//!
//! Directories are read in name order with files before subdirectories, so every directory's
//! files arrive together and sidecars can be paired with their media files (SPEC.md 2.2):
//! `name.ext.xmp` (darktable, digiKam) and `name.xmp` (Adobe, Lightroom), matched without regard
//! to case, as on the file systems archives come from. Whatever is named like a sidecar of a
//! media file is paired with it, a regular file or not (a FIFO, a link to a device, a directory):
//! reading it then fails on the media file's record, which blocks that file.
//!
//! What is left out is the caller's choice ([`WalkOptions::skip`]: the scan leaves out
//! consentry's own files and folders); the walk knows no file names of its own.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::media::detect::{is_media_extension, is_sidecar_extension};

/// One unit of scanning work, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A media file and the sidecars beside it that belong to it. `shared`: the sidecar names
    /// that also belong to another media file beside it (a `name.xmp` of `DSC_1.NEF` and
    /// `DSC_1.JPG`; also this file's own `name.ext.xmp` when another file would read it as its
    /// `name.xmp`: `a.jpg.xmp` of `a.jpg` and `a.jpg.nef`), existing or not: `apply` writes none
    /// of them.
    Media { path: PathBuf, sidecars: Vec<PathBuf>, shared: Vec<PathBuf> },
    /// A sidecar with no media file beside it.
    Orphan { path: PathBuf },
    /// A path that could not be walked (permission denied, symlink loop, vanished).
    Error { path: PathBuf, error: WalkError },
}

/// Why a path could not be walked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// It could not be examined or listed.
    #[error("{0}")]
    Io(IoProblem),
    /// A symbolic link to a directory above it.
    #[error("symbolic link loop: points back to {}", .ancestor.display())]
    Loop { ancestor: PathBuf },
    /// Another error of the directory walk (its text).
    #[error("{0}")]
    Walk(String),
    /// A file named directly whose folder cannot be listed: a sidecar may hide there.
    #[error("its folder cannot be listed for sidecars: {0}")]
    FolderUnlisted(IoProblem),
    /// A FIFO, socket or device named like media or a sidecar.
    #[error("not a regular file (FIFO, socket or device)")]
    NotRegular,
}

/// An I/O error, shown as `io_message` shows it (without the path: the record carries it), shared so
/// that jobs and records stay cheap to clone; two are equal when they are of the same kind and
/// say the same.
#[derive(Debug, Clone)]
pub struct IoProblem(pub std::sync::Arc<std::io::Error>);

impl IoProblem {
    pub fn new(e: std::io::Error) -> IoProblem {
        IoProblem(std::sync::Arc::new(e))
    }

    pub fn kind(&self) -> std::io::ErrorKind {
        self.0.kind()
    }
}

impl std::fmt::Display for IoProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&io_message(&self.0))
    }
}

impl PartialEq for IoProblem {
    fn eq(&self, other: &IoProblem) -> bool {
        self.kind() == other.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl Eq for IoProblem {}

/// Whether the walk leaves out a directory entry, asked with its name, its path, whether it is
/// a directory, and whether it is one of the walk's roots. Asked for every entry of a directory
/// walked (a directory left out is not entered) and for the entries beside a file named as a
/// root (they are not its sidecars).
pub type Skip = fn(name: &OsStr, path: &Path, dir: bool, root: bool) -> bool;

#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Follow symbolic links (loops are detected and reported).
    pub follow_links: bool,
    /// What to leave out.
    pub skip: Skip,
}

/// Walk `roots` and hand every job to `emit`, in a deterministic order, until `emit` returns
/// false. Returns the number of files that are neither media nor sidecars (skipped and counted).
///
/// Every file is handed over once (SPEC.md 1): a root inside another root is walked with it, and
/// a file reached through a symbolic link (a linked directory or file inside a root, or a root
/// that is itself a link) is handed over at its real path, and only when it is not reached
/// directly anyway. Only the real paths of such files, and of files named as roots, are kept
/// to recognise them a second time.
pub fn walk(roots: &[PathBuf], opts: WalkOptions, emit: impl FnMut(Job) -> bool) -> u64 {
    let mut skipped = 0;
    let mut emit = Emitter { f: emit, stopped: false };
    let real: Vec<Option<PathBuf>> = roots.iter().map(|r| std::fs::canonicalize(r).ok()).collect();
    let dirs: Vec<(usize, &Path)> =
        real.iter().enumerate().filter_map(|(i, r)| r.as_deref().filter(|r| r.is_dir()).map(|r| (i, r))).collect();
    let mut seen = Seen { dirs: dirs.iter().map(|(_, d)| d.to_path_buf()).collect(), files: HashSet::new() };
    for (i, root) in roots.iter().enumerate() {
        if emit.stopped {
            break;
        }
        let meta = if opts.follow_links { std::fs::metadata(root) } else { std::fs::symlink_metadata(root) };
        // Inside (or the same as) another directory root: its files come with that root.
        let inside = real[i]
            .as_deref()
            .is_some_and(|r| dirs.iter().any(|&(j, d)| j != i && r.starts_with(d) && (r != d || j < i)));
        if inside && meta.is_ok() {
            continue;
        }
        // A root that is itself a link is walked at its real path.
        let linked = opts.follow_links && std::fs::symlink_metadata(root).is_ok_and(|m| m.is_symlink());
        let walked = match (&real[i], linked) {
            (Some(r), true) => r.as_path(),
            _ => root.as_path(),
        };
        match meta {
            Ok(m) if m.is_dir() => walk_dir(walked, opts, &mut seen, &mut emit, &mut skipped),
            Ok(m) if m.is_file() => {
                if real[i].as_ref().is_none_or(|r| seen.files.insert(r.clone())) {
                    single_file(walked, opts.skip, &mut emit, &mut skipped)
                }
            }
            Ok(m) => not_regular(root, m.file_type().is_symlink(), &mut |j| emit.emit(j), &mut skipped),
            Err(e) => emit.emit(Job::Error { path: root.clone(), error: WalkError::Io(IoProblem::new(e)) }),
        }
    }
    skipped
}

/// What a walk remembers to hand every file over once.
struct Seen {
    /// The real paths of the directory roots: everything under them is reached directly.
    dirs: Vec<PathBuf>,
    /// The real paths of the files reached through a link, and of files named as roots.
    files: HashSet<PathBuf>,
}

impl Seen {
    /// Whether the real path `real` is under a directory root (and so reached directly).
    fn direct(&self, real: &Path) -> bool {
        self.dirs.iter().any(|d| real.starts_with(d))
    }
}

/// The caller's callback, and whether it asked to stop.
struct Emitter<F> {
    f: F,
    stopped: bool,
}

impl<F: FnMut(Job) -> bool> Emitter<F> {
    fn emit(&mut self, job: Job) {
        if !self.stopped {
            self.stopped = !(self.f)(job);
        }
    }
}

/// What kind of directory entry a name is, as the walk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A regular file (or a link to one, when links are followed).
    File,
    /// A symbolic link not followed.
    Link,
    /// A FIFO, socket or device.
    Special,
    /// A directory (walked on its own; here only as a sidecar's name).
    Dir,
}

/// One entry of a directory, for pairing.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    kind: Kind,
}

impl Entry {
    fn of(path: PathBuf, file_type: std::fs::FileType) -> Entry {
        Entry { path, kind: Entry::of_type(file_type) }
    }

    fn of_type(file_type: std::fs::FileType) -> Kind {
        if file_type.is_file() {
            Kind::File
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            Kind::Link
        } else {
            Kind::Special
        }
    }
}

fn walk_dir<F: FnMut(Job) -> bool>(
    root: &Path,
    opts: WalkOptions,
    seen: &mut Seen,
    emit: &mut Emitter<F>,
    skipped: &mut u64,
) {
    // Files first, then directories named like sidecars, then the other directories: the
    // sidecar-named ones are taken into their directory's batch (and walked after it).
    let rank = |e: &walkdir::DirEntry| match e.file_type().is_dir() {
        false => 0,
        true if is_sidecar(e.path()) => 1,
        true => 2,
    };
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(opts.follow_links)
        .sort_by(move |a, b| {
            // Siblings share their directory's path: their paths compare as their names do,
            // without taking each name out of its path again for every comparison.
            rank(a).cmp(&rank(b)).then_with(|| a.path().as_os_str().cmp(b.path().as_os_str()))
        })
        .into_iter()
        .filter_entry(move |e| !(opts.skip)(e.file_name(), e.path(), e.file_type().is_dir(), e.depth() == 0));
    // Files sort before subdirectories, so a directory's files follow its own entry directly:
    // every directory entry (but one named like a sidecar) closes the previous directory's batch.
    let mut batch: Vec<Entry> = Vec::new();
    // Directories named like sidecars, walked once their directory's batch is paired.
    let mut deferred: Vec<PathBuf> = Vec::new();
    // The directories being walked that were reached through a link: (depth, real path).
    let mut linked: Vec<(usize, PathBuf)> = Vec::new();
    // The directory of the batch, when reached through a link: its files go by their real paths.
    let mut batch_real: Option<PathBuf> = None;
    let close = |batch: &mut Vec<Entry>,
                 real: Option<PathBuf>,
                 deferred: &mut Vec<PathBuf>,
                 seen: &mut Seen,
                 emit: &mut Emitter<F>,
                 skipped: &mut u64| {
        flush(std::mem::take(batch), real, seen, emit, skipped);
        for dir in std::mem::take(deferred) {
            // Walked on its own, so its walk does not know this one's ancestors: a link back to
            // one of them is a loop.
            let real = |p: &Path| std::fs::canonicalize(p).ok();
            match (real(&dir), real(root)) {
                (Some(d), Some(r)) if r.starts_with(&d) => {
                    emit.emit(Job::Error { path: dir, error: WalkError::Loop { ancestor: d } });
                }
                _ => walk_dir(&dir, opts, seen, emit, skipped),
            }
        }
    };
    while let Some(entry) = walker.next() {
        if emit.stopped {
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                let depth = e.depth();
                let error = match e.loop_ancestor() {
                    Some(ancestor) => WalkError::Loop { ancestor: ancestor.to_path_buf() },
                    None => {
                        let text = e.to_string();
                        e.into_io_error().map_or(WalkError::Walk(text), |io| WalkError::Io(IoProblem::new(io)))
                    }
                };
                // A link named like a sidecar that loops is still that media file's sidecar.
                if matches!(error, WalkError::Loop { .. }) && depth > 0 && is_sidecar(&path) {
                    batch.push(Entry { path: path.clone(), kind: Kind::Dir });
                }
                emit.emit(Job::Error { path, error });
                continue;
            }
        };
        let file_type = entry.file_type();
        // The directories above this entry stay on the stack; a linked one is first met at its
        // own entry (links sort among the files: their type is known only once followed).
        while linked.last().is_some_and(|(depth, _)| *depth >= entry.depth()) {
            linked.pop();
        }
        if file_type.is_dir() && entry.depth() > 0 && is_sidecar(entry.path()) {
            // Its files come after this directory's batch is paired (it may be a sidecar).
            walker.skip_current_dir();
            deferred.push(entry.path().to_path_buf());
            batch.push(Entry::of(entry.into_path(), file_type));
            continue;
        }
        if file_type.is_dir() {
            close(&mut batch, batch_real.take(), &mut deferred, seen, emit, skipped);
            let real = if entry.path_is_symlink() && entry.depth() > 0 {
                std::fs::canonicalize(entry.path()).ok()
            } else {
                linked.last().map(|(_, parent)| parent.join(entry.file_name()))
            };
            if let Some(real) = real {
                if entry.path_is_symlink() && seen.direct(&real) {
                    walker.skip_current_dir(); // walked directly
                    continue;
                }
                linked.push((entry.depth(), real));
            }
            continue;
        }
        // A directory's files may come after a linked subdirectory's: a new batch per directory.
        if batch.last().is_some_and(|last| last.path.parent() != entry.path().parent()) {
            close(&mut batch, batch_real.take(), &mut deferred, seen, emit, skipped);
        }
        if batch.is_empty() {
            batch_real = linked.last().filter(|(depth, _)| depth + 1 == entry.depth()).map(|(_, real)| real.clone());
        }
        if file_type.is_file() && entry.path_is_symlink() {
            // A linked file: at its real path, with the sidecars beside it there, as when
            // it is reached directly.
            match std::fs::canonicalize(entry.path()) {
                Ok(real) if seen.direct(&real) => {} // walked directly
                Ok(real) => {
                    if seen.files.insert(real.clone()) {
                        single_file(&real, opts.skip, emit, skipped);
                    }
                }
                Err(e) => emit.emit(Job::Error { path: entry.into_path(), error: WalkError::Io(IoProblem::new(e)) }),
            }
            continue;
        }
        batch.push(Entry::of(entry.into_path(), file_type));
    }
    close(&mut batch, batch_real, &mut deferred, seen, emit, skipped);
}

/// Pair one directory's entries and emit them; those of a directory reached through a link at
/// their real paths (`real_dir`), and only when not reached before (through another link, or
/// named as a root), with their sidecars.
fn flush<F: FnMut(Job) -> bool>(
    batch: Vec<Entry>,
    real_dir: Option<PathBuf>,
    seen: &mut Seen,
    emit: &mut Emitter<F>,
    skipped: &mut u64,
) {
    let Some(dir) = real_dir else { return pair(batch, &mut |j| emit.emit(j), skipped) };
    let batch = batch
        .into_iter()
        .map(|e| Entry { path: e.path.file_name().map_or_else(|| e.path.clone(), |n| dir.join(n)), kind: e.kind })
        .collect();
    pair(
        batch,
        &mut |job| {
            if seen.files.insert(job_path(&job).to_path_buf()) {
                emit.emit(job);
            }
        },
        skipped,
    );
}

/// A file named directly on the command line: look for its sidecars beside it.
fn single_file<F: FnMut(Job) -> bool>(path: &Path, skip: Skip, emit: &mut Emitter<F>, skipped: &mut u64) {
    // Siblings are named the way the file was named: `x.jpg` -> `x.xmp`, `d/x.jpg` -> `d/x.xmp`.
    let dir = path.parent().unwrap_or(Path::new(""));
    let listing = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let file_name = path.file_name();
    // Its sidecars are whatever its folder holds: a folder that cannot be listed, or an entry
    // that cannot be examined, may hide one, so the file is an error (it blocks) rather than
    // read without them.
    let listed: std::io::Result<Vec<Entry>> = std::fs::read_dir(listing).and_then(|rd| {
        let mut entries = Vec::new();
        for e in rd {
            let e = e?;
            if skip(&e.file_name(), &e.path(), e.file_type().is_ok_and(|t| t.is_dir()), false) {
                continue;
            }
            let path = dir.join(e.file_name());
            // The named file itself is a regular file (or a link to one): `walk` checked.
            let kind = if path.file_name() == file_name { Kind::File } else { Entry::of_type(e.file_type()?) };
            entries.push(Entry { path, kind });
        }
        Ok(entries)
    });
    let mut siblings = match listed {
        Ok(entries) => entries,
        Err(e) => {
            let error = WalkError::FolderUnlisted(IoProblem::new(e));
            return emit.emit(Job::Error { path: path.to_path_buf(), error });
        }
    };
    siblings.sort_by(|a, b| a.path.cmp(&b.path));
    let mut found = false;
    pair(
        siblings,
        &mut |job| match job {
            Job::Media { path: p, sidecars, shared } if p.file_name() == file_name => {
                found = true;
                emit.emit(Job::Media { path: path.to_path_buf(), sidecars, shared });
            }
            Job::Orphan { path: p } if p.file_name() == file_name => {
                found = true;
                emit.emit(Job::Orphan { path: path.to_path_buf() });
            }
            _ => {}
        },
        &mut 0,
    );
    if !found {
        if is_sidecar(path) {
            // A sidecar named directly whose media file exists: it is scanned with that file.
        } else if is_media(path) {
            emit.emit(Job::Media { path: path.to_path_buf(), sidecars: Vec::new(), shared: Vec::new() });
        } else {
            *skipped += 1;
        }
    }
}

/// A FIFO, socket or device (opening one could block or never end), or a symbolic link not
/// followed: an error when named like media, else skipped.
fn not_regular(path: &Path, symlink: bool, emit: &mut impl FnMut(Job), skipped: &mut u64) {
    if !symlink && (is_media(path) || is_sidecar(path)) {
        emit(Job::Error { path: path.to_path_buf(), error: WalkError::NotRegular });
    } else {
        *skipped += 1;
    }
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(OsStr::to_str)
}

fn is_media(path: &Path) -> bool {
    extension(path).is_some_and(is_media_extension)
}

fn is_sidecar(path: &Path) -> bool {
    extension(path).is_some_and(is_sidecar_extension)
}

/// `name.ext.xmp` beside a media file (darktable's and digiKam's sidecar name).
pub fn own_sidecar(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".xmp");
    PathBuf::from(name)
}

/// Whether `sidecar` is one of `shared` ([`Job::Media`]), compared as sidecars are matched.
pub fn is_shared(shared: &[PathBuf], sidecar: &Path) -> bool {
    let key = sidecar.file_name().map(fold);
    shared.iter().any(|s| s.parent() == sidecar.parent() && s.file_name().map(fold) == key)
}

/// A name for matching sidecars to media files: case-insensitive, as on the file systems
/// archives come from (NTFS, APFS, exFAT).
fn fold(name: &OsStr) -> String {
    name.to_string_lossy().to_lowercase()
}

/// Pair the entries of one directory (sorted) and emit jobs in name order. Linear in the number
/// of entries: directories of 100,000 files are common in archives.
///
/// Media files that are not regular files are errors. Everything named like a sidecar of a
/// media file is its sidecar, whatever it is (reading a FIFO, a device or a directory then fails
/// on the media file's record). A sidecar-named entry without a media file is an orphan when it
/// is a regular file, an error when it is a FIFO, socket or device, and otherwise left to the
/// walk (a directory) or skipped (a link not followed).
fn pair(entries: Vec<Entry>, emit: &mut impl FnMut(Job), skipped: &mut u64) {
    let (mut media, mut sidecars) = (Vec::new(), Vec::new());
    let mut jobs: Vec<Job> = Vec::new();
    for entry in entries {
        if is_media(&entry.path) && entry.kind != Kind::Dir {
            match entry.kind {
                Kind::File => media.push(entry.path),
                _ => not_regular(&entry.path, entry.kind == Kind::Link, &mut |j| jobs.push(j), skipped),
            }
        } else if is_sidecar(&entry.path) {
            sidecars.push(entry);
        } else if entry.kind != Kind::Dir {
            *skipped += 1;
        }
    }
    // `a.jpg.xmp` -> `a.jpg` (name.ext.xmp), and `a.xmp` -> `a` (name.xmp): both conventions come
    // down to "the sidecar's stem is the media file's name or the media file's stem".
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in media.iter().enumerate() {
        let (name, stem) = (m.file_name().map(fold), m.file_stem().map(fold));
        let stem = stem.filter(|s| Some(s) != name.as_ref());
        for key in [name, stem].into_iter().flatten() {
            by_key.entry(key).or_default().push(i);
        }
    }
    let mut sidecars_of: Vec<Vec<PathBuf>> = vec![Vec::new(); media.len()];
    // A file's own `name.ext.xmp` is shared when its name is another file's stem.
    let mut shared_of: Vec<Vec<PathBuf>> = media
        .iter()
        .map(|m| match m.file_name().map(fold).and_then(|n| by_key.get(&n)) {
            Some(owners) if owners.len() > 1 => vec![own_sidecar(m)],
            _ => Vec::new(),
        })
        .collect();
    for sidecar in sidecars {
        match sidecar.path.file_stem().and_then(|stem| by_key.get(&fold(stem))) {
            Some(owners) => owners.iter().for_each(|&i| {
                sidecars_of[i].push(sidecar.path.clone());
                if owners.len() > 1 {
                    shared_of[i].push(sidecar.path.clone());
                }
            }),
            None => match sidecar.kind {
                Kind::File => jobs.push(Job::Orphan { path: sidecar.path }),
                Kind::Dir => {}
                Kind::Link | Kind::Special => {
                    not_regular(&sidecar.path, sidecar.kind == Kind::Link, &mut |j| jobs.push(j), skipped)
                }
            },
        }
    }
    jobs.extend(
        media.into_iter().zip(sidecars_of.into_iter().zip(shared_of)).map(|(path, (sidecars, shared))| Job::Media {
            path,
            sidecars,
            shared,
        }),
    );
    jobs.sort_by(|a, b| job_path(a).cmp(job_path(b)));
    jobs.into_iter().for_each(emit);
}

/// The path a job is about.
pub fn job_path(job: &Job) -> &Path {
    match job {
        Job::Media { path, .. } | Job::Orphan { path } | Job::Error { path, .. } => path,
    }
}

/// An I/O error as a short message without the path (the record carries the path).
pub fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        _ => {
            let s = e.to_string();
            // Strip " (os error N)" noise.
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the scan leaves out.
    const OWN: Skip = crate::own::walk_skips;
    use std::fs;

    fn jobs(root: &Path, follow: bool) -> (Vec<Job>, u64) {
        let mut out = Vec::new();
        let skipped = walk(&[root.to_path_buf()], WalkOptions { follow_links: follow, skip: OWN }, |j| {
            out.push(j);
            true
        });
        (out, skipped)
    }

    /// Create each file (and its folders) under `root`.
    fn touch(root: &Path, files: &[&str]) {
        for f in files {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), b"x").unwrap();
        }
    }

    fn rel(root: &Path, p: &Path) -> String {
        p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn pairs_both_sidecar_conventions_and_reports_orphans() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir(r.join("sub")).unwrap();
        for f in ["a.JPG", "a.JPG.xmp", "b.cr2", "b.jpg", "b.xmp", "c.xmp", "notes.txt", "sub/d.mov", "sub/D.MOV.XMP"] {
            fs::write(r.join(f), b"x").unwrap();
        }
        let (jobs, skipped) = jobs(r, false);
        assert_eq!(
            summary(r, &jobs),
            [
                r#"a.JPG <- ["a.JPG.xmp"]"#,
                r#"b.cr2 <- ["b.xmp"]"#,
                r#"b.jpg <- ["b.xmp"]"#,
                "orphan c.xmp",
                r#"sub/d.mov <- ["sub/D.MOV.XMP"]"#,
            ]
        );
        assert_eq!(skipped, 1);
    }

    fn summary(r: &Path, jobs: &[Job]) -> Vec<String> {
        jobs.iter()
            .map(|j| match j {
                Job::Media { path, sidecars, .. } => {
                    format!("{} <- {:?}", rel(r, path), sidecars.iter().map(|s| rel(r, s)).collect::<Vec<_>>())
                }
                Job::Orphan { path } => format!("orphan {}", rel(r, path)),
                Job::Error { path, error } => format!("error {} {error}", rel(r, path)),
            })
            .collect()
    }

    #[test]
    fn what_is_left_out_is_the_callers_choice() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("skip.d")).unwrap();
        fs::create_dir_all(r.join(".consentry")).unwrap();
        for f in ["a.jpg", "skip.jpg", "a.xmp", "skip.d/b.jpg", ".consentry/c.jpg", "x/d.jpg"] {
            fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
            fs::write(r.join(f), b"x").unwrap();
        }
        fs::write(r.join("x/skip.xmp"), b"x").unwrap();
        fn skip(name: &OsStr, _: &Path, _: bool, root: bool) -> bool {
            !root && name.as_encoded_bytes().starts_with(b"skip")
        }
        let walked = |roots: &[PathBuf]| {
            let mut out = Vec::new();
            walk(roots, WalkOptions { follow_links: false, skip }, |j| {
                out.push(j);
                true
            });
            summary(r, &out)
        };
        // Nothing of consentry's own names is left out unless the caller says so.
        assert_eq!(walked(&[r.to_path_buf()]), ["a.jpg <- [\"a.xmp\"]", ".consentry/c.jpg <- []", "x/d.jpg <- []"]);
        // Beside a file named as a root too: `skip.xmp` is not its sidecar.
        assert_eq!(walked(&[r.join("x/d.jpg")]), ["x/d.jpg <- []"]);
        // The roots themselves are the caller's too.
        assert_eq!(walked(&[r.join("skip.d")]), ["skip.d/b.jpg <- []"]);
    }

    #[test]
    fn sidecars_match_without_regard_to_case() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for f in ["IMG.JPG", "IMG.jpg.xmp", "Img.Xmp", "b.cr2", "B.XMP", "c.xmp"] {
            fs::write(r.join(f), b"x").unwrap();
        }
        let (jobs, _) = jobs(r, false);
        assert_eq!(
            summary(r, &jobs),
            [r#"IMG.JPG <- ["IMG.jpg.xmp", "Img.Xmp"]"#, r#"b.cr2 <- ["B.XMP"]"#, "orphan c.xmp"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn whatever_is_named_like_a_sidecar_is_paired_fifo_link_and_directory() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        touch(r, &["a.jpg", "b.jpg", "c.jpg", "d/e.jpg"]);
        let fifo = std::ffi::CString::new(r.join("a.jpg.xmp").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/dev/zero", r.join("b.XMP")).unwrap();
        fs::create_dir(r.join("c.jpg.xmp")).unwrap();
        fs::write(r.join("c.jpg.xmp/f.jpg"), b"x").unwrap();
        fs::create_dir(r.join("lone.xmp")).unwrap();
        for follow in [false, true] {
            let (jobs, _) = jobs(r, follow);
            assert_eq!(
                summary(r, &jobs),
                [
                    r#"a.jpg <- ["a.jpg.xmp"]"#,
                    r#"b.jpg <- ["b.XMP"]"#,
                    r#"c.jpg <- ["c.jpg.xmp"]"#,
                    r#"c.jpg.xmp/f.jpg <- []"#,
                    r#"d/e.jpg <- []"#,
                ],
                "follow links: {follow}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_sidecar_named_link_back_to_an_ancestor_is_a_loop() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        touch(r, &["d/x.jpg"]);
        std::os::unix::fs::symlink("..", r.join("d/x.jpg.xmp")).unwrap();
        let (found, _) = jobs(r, true);
        let s = summary(r, &found);
        assert!(s.iter().any(|j| j == r#"d/x.jpg <- ["d/x.jpg.xmp"]"#), "{s:?}");
        assert!(s.iter().any(|j| j.starts_with("error d/x.jpg.xmp symbolic link loop")), "{s:?}");
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn consentrys_own_files_and_report_folders_are_not_walked() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        touch(r, &["a.jpg", "report/thumbs/1.jpg", ".consentry/x.jpg", ".consentry-report-Xy/thumbs/2.jpg"]);
        fs::write(r.join("report").join(crate::own::REPORT_MARKER), b"").unwrap();
        fs::write(r.join(".consentry-AbCd12"), b"x").unwrap();
        fs::write(r.join(".consentry-apply-1-0.jpg"), b"x").unwrap();
        let (found, _) = jobs(r, true);
        assert_eq!(summary(r, &found), [r#"a.jpg <- []"#]);
        let (named, _) = jobs(&r.join("report"), true);
        assert!(named.is_empty(), "{named:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_reported_when_following() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir(r.join("d")).unwrap();
        fs::write(r.join("d/x.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(r.join("d"), r.join("d/loop")).unwrap();
        let (jobs, _) = jobs(r, true);
        assert!(
            jobs.iter().any(|j| matches!(j, Job::Error { error, .. } if error.to_string().contains("loop"))),
            "{jobs:?}"
        );
        assert_eq!(jobs.iter().filter(|j| matches!(j, Job::Media { .. })).count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn every_file_once_and_linked_files_at_their_real_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let r = &tmp.path().canonicalize().unwrap();
        for f in ["a/x.jpg", "a/sub/y.jpg", "out/z.jpg", "out/z.jpg.xmp"] {
            fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
            fs::write(r.join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink(r.join("out"), r.join("a/l1")).unwrap();
        std::os::unix::fs::symlink(r.join("out"), r.join("a/sub/l2")).unwrap();
        std::os::unix::fs::symlink(r.join("a/sub"), r.join("a/l3")).unwrap();
        std::os::unix::fs::symlink(r.join("out/z.jpg"), r.join("a/zl.jpg")).unwrap();
        std::os::unix::fs::symlink(r.join("out/z.jpg"), r.join("a/sub/0.jpg")).unwrap();
        let media = |roots: &[&str]| {
            let roots: Vec<PathBuf> = roots.iter().map(|p| r.join(p)).collect();
            let mut out = Vec::new();
            walk(&roots, WalkOptions { follow_links: true, skip: OWN }, |j| {
                if let Job::Media { path, sidecars, .. } = j {
                    out.push((rel(r, &path), sidecars.iter().map(|s| rel(r, s)).collect::<Vec<_>>()));
                }
                true
            });
            out.sort();
            out
        };
        let all = [
            ("a/sub/y.jpg".to_string(), vec![]),
            ("a/x.jpg".to_string(), vec![]),
            ("out/z.jpg".to_string(), vec!["out/z.jpg.xmp".to_string()]),
        ];
        for roots in [&["a"][..], &["a", "a/sub"], &["a/sub", "a"], &["a", "out"], &["out", "a"], &["a", "a/x.jpg"]] {
            assert_eq!(media(roots), all, "{roots:?}");
        }
    }

    #[test]
    fn a_file_named_alone_whose_folder_cannot_be_listed_is_an_error() {
        // Searchable but not readable: the file opens, its sidecars cannot be seen.
        use std::os::unix::fs::PermissionsExt;
        if unsafe { libc::geteuid() } == 0 {
            // root lists any folder; the rule is the same, shown on an unlistable path instead.
            let mut out = Vec::new();
            let mut emit = Emitter {
                f: |j| {
                    out.push(j);
                    true
                },
                stopped: false,
            };
            single_file(Path::new("/nonexistent-consentry-dir/x.jpg"), OWN, &mut emit, &mut 0);
            assert!(
                matches!(&out[..], [Job::Error { error, .. }] if error.to_string().contains("cannot be listed")),
                "{out:?}"
            );
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("x.jpg"), b"x").unwrap();
        fs::write(d.join("x.xmp"), b"x").unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o311)).unwrap();
        let mut out = Vec::new();
        walk(&[d.join("x.jpg")], WalkOptions { follow_links: true, skip: OWN }, |j| {
            out.push(j);
            true
        });
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            matches!(&out[..], [Job::Error { error, .. }] if error.to_string().contains("cannot be listed")),
            "{out:?}"
        );
    }

    #[test]
    fn single_file_root_gets_its_sidecars() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for f in ["x.nef", "x.xmp", "x.nef.xmp", "y.xmp"] {
            fs::write(r.join(f), b"x").unwrap();
        }
        let mut out = Vec::new();
        let skipped = walk(
            &[r.join("x.nef"), r.join("y.xmp"), r.join("x.xmp")],
            WalkOptions { follow_links: true, skip: OWN },
            |j| {
                out.push(j);
                true
            },
        );
        assert_eq!(
            out,
            [
                Job::Media {
                    path: r.join("x.nef"),
                    sidecars: vec![r.join("x.nef.xmp"), r.join("x.xmp")],
                    shared: Vec::new(),
                },
                Job::Orphan { path: r.join("y.xmp") },
            ]
        );
        assert_eq!(skipped, 0);
    }
}
