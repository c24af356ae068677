//! Replacing a file safely by its new version: the copy beside it, the locks, the checks that
//! what a decision was computed from still holds, the owner, permissions, extended attributes
//! and ACLs kept, the atomic rename, the flushes, and the removal of copies a killed run left.
//!
//! So that an archive is never damaged:
//! - A file is changed in a copy beside it (`.consentry-apply-PID-N.ext`), which is flushed to
//!   disk, given the original's permissions and owner, and renamed over the original: a crash or
//!   kill at any moment leaves either the old or the new file. Copies left by a killed run are
//!   removed by the next `apply`.
//! - A decision is written only into the content it was computed from: the stamps (device,
//!   inode, size, modification and change times) the scan took of the file and of each sidecar
//!   before reading them, and the hash of the target's content as read (its only XMP packet, or
//!   the sidecar), must still hold when the file is prepared and again just before the rename
//!   ([`Basis`]). Else it is reported ("changed while apply ran: run it again"), not written.
//! - A file another program holds locked (`flock`, `fcntl`/`lockf`) is reported, not written;
//!   apply holds its own locks on the target from reading it for the write up to the rename.
//! - A file is replaced only if the running user could write it in place (`faccessat` with the
//!   effective ids), and only with its owner, group, mode, extended attributes and ACLs kept
//!   (where the owner or group cannot be kept, it is reported, not written). A new sidecar takes
//!   the media file's permission bits (and group where the user may).
//! - A read-only file is reported, not written.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::people::PeopleRoots;
use crate::scan::{FileId, Stamp};
use crate::written::WrittenFields;

use super::plan::Target;
use super::Error;

/// Name prefix of the copies `apply` writes before renaming them over the originals.
pub const TEMP_PREFIX: &str = crate::own::APPLY_TEMP_PREFIX;

/// What happened to one file.
#[derive(Debug)]
pub enum Outcome {
    /// The XMP already holds this result: nothing written.
    Unchanged,
    /// Written (or, with `--dry-run`, would be written): the fields before.
    Written { before: WrittenFields },
    /// Not written, and why (read-only, changed meanwhile, an error). The file is untouched.
    Failed(Error),
}

/// What a decision was computed from, as the scan read it: the stamps (device, inode, size,
/// modification and change times) of the media file and of each sidecar, taken before they were
/// read, and the hash of the target's content (its only XMP packet, or the sidecar's bytes).
/// `apply` replaces a file only while all of it still holds, up to the rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// The media file (whose permissions a new sidecar takes).
    pub media: PathBuf,
    /// Every file read for the decision, with its stamp as read.
    pub inputs: Vec<(PathBuf, Stamp)>,
    /// Whether the target existed when read (else it is a new sidecar).
    pub existed: bool,
    /// The hash of the target's content as read, when known ([`crate::scan::ReadHashes`]).
    pub hash: Option<u64>,
    /// The people roots the file was read with: a rewritten copy is read back with them and
    /// must show every person the original shows.
    pub roots: PeopleRoots,
}

impl Basis {
    /// The basis of `record`'s decision for writing into `target`; an error when the scan did
    /// not record it (then nothing is written).
    pub fn of(record: &crate::scan::FileRecord, target: &Target, roots: &PeopleRoots) -> Result<Basis, Error> {
        let unknown = || Error::UnknownBasis(record.path.clone());
        let stamps = record.stamps.as_deref().ok_or_else(unknown)?;
        let hashes = record.read_hashes.as_deref().ok_or_else(unknown)?;
        if stamps.sidecars.len() != record.sidecars.len() {
            return Err(unknown());
        }
        let mut inputs = vec![(record.path.clone(), stamps.file)];
        inputs.extend(record.sidecars.iter().cloned().zip(stamps.sidecars.iter().copied()));
        let (existed, hash) = match target {
            Target::Embedded(..) => (true, hashes.packet),
            Target::Sidecar(p) => {
                let same = |s: &PathBuf| s == p || fs::canonicalize(s).is_ok_and(|c| &c == p);
                match record.sidecars.iter().position(same) {
                    Some(i) => (true, hashes.sidecars.get(i).copied().flatten()),
                    None => (false, None),
                }
            }
        };
        Ok(Basis { media: record.path.clone(), inputs, existed, hash, roots: roots.clone() })
    }

    /// Whether every input is as it was read.
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (path, stamp) in &self.inputs {
            if Stamp::read(path).ok().as_ref() != Some(stamp) {
                return Err(Error::Changed(path.clone()));
            }
        }
        Ok(())
    }

    /// Whether `bytes` (the target's content now, as the writer finds it) are what was read.
    /// When they are not but no input changed, the writer finds the XMP elsewhere than the
    /// reader did (an `XMP\0` JPEG header, a packet in a later IFD, a PNG chunk after IEND):
    /// rewriting would leave the packet read beside a new one, so the file is not written, with
    /// that reason rather than a change that never happened.
    pub(crate) fn check_hash(&self, path: &Path, bytes: Option<&[u8]>) -> Result<(), Error> {
        let same = match (self.hash, bytes) {
            (Some(h), Some(b)) => crate::scan::content_hash(b) == h,
            (Some(_), None) => false,
            _ => true,
        };
        if same {
            return Ok(());
        }
        self.check()?;
        Err(Error::XmpElsewhere(path.to_path_buf()))
    }
}

/// Take a non-blocking lock on `file` (the target, open for reading) and keep it until it is
/// replaced: an exclusive `flock`, and an open-file-description `fcntl` read lock (which keeps
/// `fcntl`/`lockf` writers out), after asking whether anyone holds an `fcntl` lock on it at
/// all. A file another program holds locked is not written.
pub(crate) fn lock(file: &fs::File, path: &Path) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let locked = |how: &'static str| Error::Locked { path: path.to_path_buf(), how };
    let cannot = |source| Error::Lock { path: path.to_path_buf(), source };
    // SAFETY: a valid open file descriptor.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => locked("flock"),
            _ => cannot(e),
        });
    }
    let range = |kind: libc::c_int| libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let mut probe = range(libc::F_WRLCK);
    // SAFETY: a valid descriptor and a valid `struct flock`.
    if unsafe { libc::fcntl(fd, libc::F_OFD_GETLK, &mut probe) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::LockTest { path: path.to_path_buf(), source: e });
    }
    if probe.l_type != libc::F_UNLCK as libc::c_short {
        return Err(locked("fcntl"));
    }
    let hold = range(libc::F_RDLCK);
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_OFD_SETLK, &hold) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EACCES) => locked("fcntl"),
            _ => cannot(e),
        });
    }
    Ok(())
}

/// Open `path` for reading and [`lock`] it.
pub(crate) fn open_locked(path: &Path) -> Result<fs::File, Error> {
    let file = fs::File::open(path).map_err(Error::io(path, ""))?;
    lock(&file, path)?;
    Ok(file)
}

/// A file's new version, written in full beside it, waiting to replace it.
pub struct Ready {
    pub(crate) before: WrittenFields,
    pub(crate) temp: Temp,
    pub(crate) path: PathBuf,
    pub(crate) basis: Basis,
    /// The target, open and locked ([`lock`]) until it is replaced.
    pub(crate) _locked: Option<fs::File>,
}

impl Ready {
    /// The file it replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Flush prepared copies to disk: one `syncfs` per file system (far cheaper than one `fsync`
/// per file). A copy must be on disk before it replaces a file: after a crash the file is then
/// old or new, never empty.
pub fn sync_copies<'a>(ready: impl IntoIterator<Item = &'a Ready>) {
    let mut done = std::collections::HashSet::new();
    for r in ready {
        let dev = r.temp.file.metadata().map(|m| FileId::of(&m).dev).unwrap_or(0);
        if done.insert(dev) {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open file descriptor.
            if unsafe { libc::syncfs(r.temp.file.as_raw_fd()) } != 0 {
                let _ = r.temp.file.sync_all();
            }
        }
    }
}

/// Make the renames of [`commit`] durable: flush each directory once.
pub fn sync_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>) {
    for d in dirs {
        let d = if d.as_os_str().is_empty() { Path::new(".") } else { d };
        if let Ok(f) = fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
}

/// Replace the file by its flushed copy, unless someone changed the file meanwhile.
pub fn commit(r: Ready) -> Outcome {
    match r.temp.commit(&r.path, &r.basis) {
        Ok(()) => Outcome::Written { before: r.before },
        Err(e) => Outcome::Failed(e),
    }
}

/// Whether the running user could write `path` (`exists`: the file itself, else only its
/// directory) in place: with the effective ids, as the kernel would decide.
pub(crate) fn writable(path: &Path, exists: Option<&fs::Metadata>) -> Result<(), Error> {
    let may_write = |p: &Path| -> Result<bool, Error> {
        let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
            .map_err(|_| Error::InvalidPath(path.to_path_buf()))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        Ok(unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) } == 0)
    };
    if let Some(m) = exists {
        if m.permissions().mode() & 0o222 == 0 {
            return Err(Error::ReadOnly(path.to_path_buf()));
        }
        if !may_write(path)? {
            return Err(Error::NotPermitted(path.to_path_buf()));
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !may_write(dir)? {
        return Err(Error::DirectoryNotWritable(path.to_path_buf()));
    }
    Ok(())
}

/// A copy beside the file it will replace, locked (`flock`) while this process lives so that no
/// other `apply` takes it for a leftover; removed unless committed.
pub(crate) struct Temp {
    pub(crate) path: PathBuf,
    pub(crate) file: fs::File,
    committed: bool,
}

static TEMP_COUNT: AtomicU64 = AtomicU64::new(0);

impl Temp {
    pub(crate) fn create(beside: &Path) -> Result<Temp, Error> {
        use std::os::fd::AsRawFd;
        let dir = beside.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // Keep the extension: the XMP Toolkit picks its handler by it.
        let ext = beside.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let n = TEMP_COUNT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{}-{n}{ext}", std::process::id()));
        let file = crate::own::private_file()
            .read(true)
            .open(&path)
            .map_err(Error::io(beside, "cannot create a copy to write: "))?;
        // SAFETY: a valid open file descriptor.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        Ok(Temp { path, file, committed: false })
    }

    /// Give the copy the original's owner and group, permissions, extended attributes and ACLs
    /// (the `system.posix_acl_access` attribute). Where the owner or group cannot be kept (a
    /// user may give a file only to itself and its own groups), or an attribute cannot be
    /// copied, the file is not replaced.
    pub(crate) fn keep_permissions(&self, original: &Path, m: &fs::Metadata) -> Result<(), Error> {
        use std::os::fd::AsRawFd;
        let now = self.file.metadata().map_err(Error::io(original, ""))?;
        if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
            std::os::unix::fs::fchown(&self.file, Some(m.uid()), Some(m.gid())).map_err(|source| Error::Owner {
                path: original.to_path_buf(),
                uid: m.uid(),
                gid: m.gid(),
                source,
            })?;
        }
        self.file
            .set_permissions(fs::Permissions::from_mode(m.permissions().mode() & 0o7777))
            .map_err(Error::io(original, "cannot keep the permissions: "))?;
        copy_xattrs(original, self.file.as_raw_fd())
            .map_err(|source| Error::Xattrs { path: original.to_path_buf(), source })
    }

    /// A new sidecar: the media file's permission bits, and its group where the user may.
    pub(crate) fn take_permissions_of_media(&self, sidecar: &Path, media: &Path) -> Result<(), Error> {
        let m = fs::metadata(media).map_err(Error::io(media, ""))?;
        let _ = std::os::unix::fs::fchown(&self.file, None, Some(m.gid()));
        self.file
            .set_permissions(fs::Permissions::from_mode(m.permissions().mode() & 0o777))
            .map_err(Error::io(sidecar, "cannot set the permissions: "))
    }

    /// Rename the (flushed) copy over `path` unless what the decision was computed from
    /// changed since it was read ([`Basis`]), or, for a new file, someone created it meanwhile.
    fn commit(mut self, path: &Path, basis: &Basis) -> Result<(), Error> {
        basis.check()?;
        if basis.existed {
            fs::rename(&self.path, path).map_err(Error::io(path, "cannot replace: "))?;
        } else {
            // A new sidecar: never over a file someone else created meanwhile.
            let no_replace = |from: &Path, to: &Path| -> std::io::Result<()> {
                use std::os::unix::ffi::OsStrExt;
                let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
                let (from, to) = (c(from)?, c(to)?);
                // SAFETY: valid NUL-terminated paths.
                let r = unsafe {
                    libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE)
                };
                if r == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            no_replace(&self.path, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::CreatedMeanwhile(path.to_path_buf()),
                _ => Error::Io { path: path.to_path_buf(), doing: "cannot create: ", source: e },
            })?;
        }
        self.committed = true;
        Ok(())
    }
}

/// Copy every extended attribute of `from` (symbolic links followed) onto `to`.
fn copy_xattrs(from: &Path, to: std::os::fd::RawFd) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(from.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // Asked with a size, then read; grown while another process adds some in between.
    let read = |get: &dyn Fn(*mut libc::c_void, usize) -> isize| -> std::io::Result<Vec<u8>> {
        loop {
            let n = get(std::ptr::null_mut(), 0);
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut buf = vec![0u8; n as usize];
            let got = get(buf.as_mut_ptr().cast(), buf.len());
            if got >= 0 {
                buf.truncate(got as usize);
                return Ok(buf);
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ERANGE) {
                return Err(e);
            }
        }
    };
    // SAFETY: a valid path, and a buffer of the size given (or none).
    let names = match read(&|buf, len| unsafe { libc::listxattr(c.as_ptr(), buf.cast(), len) }) {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
        Err(e) => return Err(e),
    };
    let list = |names: &[u8]| -> Vec<Vec<u8>> {
        names.split(|&b| b == 0).filter(|n| !n.is_empty()).map(<[u8]>::to_vec).collect()
    };
    let names = list(&names);
    // What the copy got from its directory (a default ACL) and the original has not: removed.
    // SAFETY: a valid descriptor, and a buffer of the size given (or none).
    let inherited = read(&|buf, len| unsafe { libc::flistxattr(to, buf.cast(), len) })?;
    for name in list(&inherited).into_iter().filter(|n| !names.contains(n)) {
        let c_name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: a valid descriptor and name.
        if unsafe { libc::fremovexattr(to, c_name.as_ptr()) } != 0 && !c_name.as_bytes().starts_with(b"security.") {
            let e = std::io::Error::last_os_error();
            return Err(std::io::Error::new(e.kind(), format!("{}: {e}", c_name.to_string_lossy())));
        }
    }
    for name in names {
        let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: valid NUL-terminated strings, and a buffer of the size given.
        let value = read(&|buf, len| unsafe { libc::getxattr(c.as_ptr(), name.as_ptr(), buf, len) })?;
        // SAFETY: a valid descriptor, name and value.
        if unsafe { libc::fsetxattr(to, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) } != 0 {
            let e = std::io::Error::last_os_error();
            // Already there with this value (set by the kernel, as a security label): fine.
            let mut same = vec![0u8; value.len() + 1];
            // SAFETY: as above.
            let n = unsafe { libc::fgetxattr(to, name.as_ptr(), same.as_mut_ptr().cast(), same.len()) };
            if n < 0 || same[..n as usize] != value[..] {
                return Err(std::io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy())));
            }
        }
    }
    Ok(())
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Remove copies a killed `apply` left in `dir`: those no running process holds locked.
pub fn remove_stale_temps(dir: &Path) -> usize {
    use std::os::fd::AsRawFd;
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for e in entries.flatten() {
        if !e.file_name().as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        let Ok(f) = fs::File::open(e.path()) else { continue };
        // SAFETY: a valid open file descriptor; the lock is released when `f` is closed.
        let free = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if free && fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_changed_meanwhile_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        fs::write(&path, b"old").unwrap();
        let basis_of = |p: &Path| Basis {
            media: p.to_path_buf(),
            inputs: vec![(p.to_path_buf(), Stamp::read(p).unwrap())],
            existed: true,
            hash: None,
            roots: PeopleRoots::default(),
        };
        let basis = basis_of(&path);
        let mut temp = Temp::create(&path).unwrap();
        temp.file.write_all(b"new").unwrap();
        let temp_path = temp.path.clone();
        // The same size, and the modification time put back: the change time still tells.
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        fs::write(&path, b"oth").unwrap();
        fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        let err = temp.commit(&path, &basis).unwrap_err().to_string();
        assert!(err.contains("changed while apply ran: run it again"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"oth");
        assert!(!temp_path.exists(), "the copy is removed");
        // Unchanged: replaced, with the original's permissions.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let m = fs::metadata(&path).unwrap();
        let mut temp = Temp::create(&path).unwrap();
        temp.file.write_all(b"new").unwrap();
        temp.keep_permissions(&path, &m).unwrap();
        temp.commit(&path, &basis_of(&path)).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    }

    #[test]
    fn stale_copies_are_those_no_process_holds() {
        let dir = tempfile::tempdir().unwrap();
        // Left by killed runs, whatever process now has their pid.
        let dead = dir.path().join(format!("{TEMP_PREFIX}999999999-0.jpg"));
        let reused = dir.path().join(format!("{TEMP_PREFIX}1-0.jpg"));
        let other = dir.path().join("photo.jpg");
        for p in [&dead, &reused, &other] {
            fs::write(p, b"x").unwrap();
        }
        // A copy being written right now (by this process, as by any other).
        let live = Temp::create(&other).unwrap();
        assert_eq!(remove_stale_temps(dir.path()), 2);
        assert!(!dead.exists() && !reused.exists() && other.exists());
        assert!(live.path.exists(), "a locked copy is kept");
        drop(live);
        assert!(fs::read_dir(dir.path()).unwrap().count() == 1);
    }
}
