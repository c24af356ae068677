//! Writing each file's evaluation back into its XMP (SPEC.md 5).
//!
//! What is written: the `consentry` namespace fields, the `lr:hierarchicalSubject` items under
//! `Consent|` (consentry's subtree: stale items are removed, every other item is kept in place)
//! and, with `--plus`, `plus:ModelReleaseStatus` and `plus:ModelReleaseID`. Nothing else in
//! the XMP is touched.
//!
//! Where: embedded for JPEG, TIFF, DNG, PNG and PSD by replacing only the XMP packet
//! ([`crate::writeback`]; the XMP Toolkit parses and serialises it), for MP4/MOV through Adobe's
//! XMP Toolkit (`xmp_toolkit`) with its format-aware smart handlers only (never packet
//! scanning); in a sidecar for everything else (the existing one, else `name.ext.xmp`), or for
//! every file with `--sidecar always`.
//!
//! How, so that an archive is never damaged:
//! - The file's current consentry fields are compared with the new ones first; a file whose
//!   result is unchanged is not written at all (`EvaluatedAt` and `RegisterDigest` record when
//!   and from which register the written result came, and alone do not make a change).
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
//! - A `name.xmp` another media file beside it shares (a RAW+JPEG pair) is never written: each
//!   file gets its own `name.ext.xmp`.
//! - A read-only file is reported, not written.
//!
//! XMP Toolkit objects are created and dropped inside one file's task; the namespace is
//! registered once, before the parallel phase ([`register_namespace`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use xmp_toolkit::{OpenFileOptions, ToStringOptions, XmpFile, XmpMeta, XmpValue};

use crate::consent::{Decision, Status};
use crate::media::Format;
use crate::model::Vocabulary;
use crate::people::{Depicted, PeopleRoots};
use crate::walk;

/// The consentry XMP namespace.
pub const NS: &str = "http://ns.consentry.org/xmp/1.0/";
pub const PREFIX: &str = "consentry";
const NS_LR: &str = "http://ns.adobe.com/lightroom/1.0/";
const NS_PLUS: &str = "http://ns.useplus.org/ldf/xmp/1.0/";
const PLUS_VOCAB: &str = "http://ns.useplus.org/ldf/vocab/";
/// Prefix of the `lr:hierarchicalSubject` items consentry owns.
pub const MIRROR: &str = "Consent|";
/// Name prefix of the copies `apply` writes before renaming them over the originals.
pub const TEMP_PREFIX: &str = crate::own::APPLY_TEMP_PREFIX;

/// Register the namespaces consentry writes with the XMP Toolkit (once, before files are
/// written in parallel): its own, Lightroom's and PLUS (the Toolkit knows neither by default; a
/// file that uses them would otherwise register them in the middle of the parallel phase).
///
/// The prefixes a serialised packet uses come from this process-wide registry, filled by
/// whichever file the Toolkit parses first: the namespaces of the person sources are
/// registered here too, with their usual prefixes, so that a file is written the same whatever
/// order files are processed in.
pub fn register_namespace() -> Result<(), String> {
    use crate::people::{NS_DIGIKAM, NS_IPTC_EXT, NS_MP, NS_MPREG, NS_MPRI, NS_MWG_RS};
    let known = [
        (NS, PREFIX),
        (NS_LR, "lr"),
        (NS_PLUS, "plus"),
        (NS_DIGIKAM, "digiKam"),
        (NS_IPTC_EXT, "Iptc4xmpExt"),
        (NS_MWG_RS, "mwg-rs"),
        ("http://www.metadataworkinggroup.com/schemas/keywords/", "mwg-kw"),
        ("http://www.metadataworkinggroup.com/schemas/collections/", "mwg-coll"),
        (NS_MP, "MP"),
        (NS_MPRI, "MPRI"),
        (NS_MPREG, "MPReg"),
        ("http://ns.microsoft.com/photo/1.0/", "MicrosoftPhoto"),
        ("http://ns.acdsee.com/iptc/1.0/", "acdsee"),
        ("http://ns.adobe.com/xmp/sType/Area#", "stArea"),
        ("http://ns.adobe.com/xmp/sType/Dimensions#", "stDim"),
        ("http://ns.adobe.com/camera-raw-settings/1.0/", "crs"),
        ("http://ns.adobe.com/exif/1.0/aux/", "aux"),
        ("http://ns.adobe.com/xmp/1.0/DynamicMedia/", "xmpDM"),
        ("http://cipa.jp/exif/1.0/", "exifEX"),
    ];
    for (ns, prefix) in known {
        XmpMeta::register_namespace(ns, prefix).map_err(|e| format!("XMP Toolkit: {e}"))?;
    }
    Ok(())
}

/// The result fields consentry writes for one file. Two files with equal `Fields` need no
/// rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub status: String,
    pub usage: Vec<String>,
    pub missing: Vec<String>,
    pub valid_until: Option<String>,
    pub consent_ids: Vec<String>,
    pub notes: Option<String>,
    /// `lr:hierarchicalSubject` items under `Consent|`, in order.
    pub mirror: Vec<String>,
    /// With `--plus`: the PLUS model release status (vocabulary code) and release ids.
    pub plus: Option<(String, Vec<String>)>,
}

/// When and from which register a result was computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub evaluated_at: String,
    pub register_digest: String,
}

/// The fields for a decision.
pub fn fields(decision: &Decision, vocabulary: &Vocabulary, plus: bool) -> Fields {
    let notes = (!decision.notes.is_empty()).then(|| decision.notes.join("; "));
    let plus = plus.then(|| {
        let all = vocabulary.names().all(|u| decision.usage.iter().any(|have| have == u));
        let code = match decision.status {
            Status::None | Status::Exempt => "MR-NAP",
            Status::Green if all => "MR-UMR",
            Status::Green | Status::Yellow => "MR-LMR",
            // `apply` never writes into an unreadable file; were it asked to, no release.
            Status::Red | Status::Unreadable => "MR-NON",
        };
        (code.to_string(), decision.consents.clone())
    });
    Fields {
        status: decision.status.as_str().to_string(),
        usage: decision.usage.clone(),
        missing: decision.missing.iter().map(|m| m.name.clone()).collect(),
        valid_until: decision.valid_until.map(|d| d.to_string()),
        consent_ids: decision.consents.clone(),
        notes,
        mirror: decision.usage.iter().map(|u| format!("{MIRROR}{u}")).collect(),
        plus,
    }
}

fn text(meta: &XmpMeta, ns: &str, name: &str) -> Option<String> {
    meta.property(ns, name).map(|v| v.value)
}

fn items(meta: &XmpMeta, ns: &str, name: &str) -> Vec<String> {
    meta.property_array(ns, name).map(|v| v.value).collect()
}

/// The fields as they are in `meta` (`plus` read only when `want_plus`).
pub fn current(meta: &XmpMeta, want_plus: bool) -> Fields {
    let plus = want_plus
        .then(|| {
            let status = text(meta, NS_PLUS, "ModelReleaseStatus")?;
            let code = status.strip_prefix(PLUS_VOCAB).unwrap_or(&status).to_string();
            Some((code, items(meta, NS_PLUS, "ModelReleaseID")))
        })
        .flatten();
    Fields {
        status: text(meta, NS, "Status").unwrap_or_default(),
        usage: items(meta, NS, "Usage"),
        missing: items(meta, NS, "Missing"),
        valid_until: text(meta, NS, "ValidUntil"),
        consent_ids: items(meta, NS, "ConsentIDs"),
        notes: text(meta, NS, "Notes"),
        mirror: items(meta, NS_LR, "hierarchicalSubject").into_iter().filter(|s| s.starts_with(MIRROR)).collect(),
        plus,
    }
}

fn set_bag(meta: &mut XmpMeta, ns: &str, name: &str, values: &[String]) -> Result<(), String> {
    meta.delete_property(ns, name).map_err(xmp_err)?;
    let array = XmpValue::new(name.to_string()).set_is_array(true);
    for v in values {
        meta.append_array_item(ns, &array, &XmpValue::new(v.clone())).map_err(xmp_err)?;
    }
    Ok(())
}

fn set_text(meta: &mut XmpMeta, ns: &str, name: &str, value: Option<&str>) -> Result<(), String> {
    meta.delete_property(ns, name).map_err(xmp_err)?;
    match value {
        Some(v) if !v.is_empty() => meta.set_property(ns, name, &XmpValue::new(v.to_string())).map_err(xmp_err),
        _ => Ok(()),
    }
}

fn xmp_err(e: xmp_toolkit::XmpError) -> String {
    format!("XMP Toolkit: {e}")
}

/// Write `fields` and `stamp` into `meta`, leaving everything else as it is.
pub fn update(meta: &mut XmpMeta, fields: &Fields, stamp: &Stamp) -> Result<(), String> {
    set_text(meta, NS, "Status", Some(&fields.status))?;
    set_bag(meta, NS, "Usage", &fields.usage)?;
    set_bag(meta, NS, "Missing", &fields.missing)?;
    set_text(meta, NS, "ValidUntil", fields.valid_until.as_deref())?;
    set_bag(meta, NS, "ConsentIDs", &fields.consent_ids)?;
    set_text(meta, NS, "Notes", fields.notes.as_deref())?;
    set_text(meta, NS, "EvaluatedAt", Some(&stamp.evaluated_at))?;
    set_text(meta, NS, "RegisterDigest", Some(&stamp.register_digest))?;

    // The mirror: keep every other keyword where it is, replace consentry's own.
    let keywords = items(meta, NS_LR, "hierarchicalSubject");
    if keywords.iter().any(|k| k.starts_with(MIRROR)) || !fields.mirror.is_empty() {
        let kept: Vec<String> = keywords.into_iter().filter(|k| !k.starts_with(MIRROR)).collect();
        let all: Vec<String> = kept.into_iter().chain(fields.mirror.iter().cloned()).collect();
        set_bag(meta, NS_LR, "hierarchicalSubject", &all)?;
        if all.is_empty() {
            meta.delete_property(NS_LR, "hierarchicalSubject").map_err(xmp_err)?;
        }
    }

    if let Some((code, ids)) = &fields.plus {
        meta.delete_property(NS_PLUS, "ModelReleaseStatus").map_err(xmp_err)?;
        let uri = XmpValue::new(format!("{PLUS_VOCAB}{code}")).set_is_uri(true);
        meta.set_property(NS_PLUS, "ModelReleaseStatus", &uri).map_err(xmp_err)?;
        set_bag(meta, NS_PLUS, "ModelReleaseID", ids)?;
    }
    Ok(())
}

/// Where a file's result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Into the file itself.
    Embedded(PathBuf, Format),
    /// Into this sidecar (existing or to be created).
    Sidecar(PathBuf),
}

impl Target {
    pub fn path(&self) -> &Path {
        match self {
            Target::Embedded(p, _) | Target::Sidecar(p) => p,
        }
    }
}

/// Whether XMP is written into files of this format (else into a sidecar).
pub fn embeds(format: Format) -> bool {
    matches!(format, Format::Jpeg | Format::Tiff | Format::Dng | Format::Png | Format::Psd | Format::Mp4 | Format::Mov)
}

/// The target for a media file: embedded when the format allows it (and sidecars are not
/// forced), else its existing sidecar, else `name.ext.xmp`. Also why it is not the file itself
/// when it could have been.
///
/// - A symbolic link is followed: the file it points to is replaced (the link stays a link).
/// - A file with other hard links gets a sidecar: replacing it atomically (by rename) would
///   separate it from its other names.
///
/// `shared`: the sidecar names another media file beside it also reads (the walk's pairing,
/// [`crate::walk::Job::Media`]); none of them is written. When this file's own `name.ext.xmp`
/// is one of them too, it is not written at all (an error naming why).
pub fn target(
    path: &Path,
    format: Option<Format>,
    sidecars: &[PathBuf],
    shared: &[PathBuf],
    sidecar_always: bool,
) -> Result<(Target, Option<&'static str>), String> {
    use std::os::unix::fs::MetadataExt;
    let mut why = None;
    if let Some(format) = format.filter(|&f| !sidecar_always && embeds(f)) {
        let link = fs::symlink_metadata(path).ok();
        let real = match &link {
            Some(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            _ => path.to_path_buf(),
        };
        let nlink = match &link {
            Some(m) if !m.file_type().is_symlink() => m.nlink(),
            _ => fs::metadata(&real).map(|m| m.nlink()).unwrap_or(1),
        };
        if nlink > 1 {
            why = Some("the file has other hard links: written to a sidecar, not into the file");
        } else {
            return Ok((Target::Embedded(real, format), None));
        }
    }
    // A `name.xmp` shared with another media file (`DSC_1.NEF` and `DSC_1.JPG`) belongs to
    // neither: the file gets its own `name.ext.xmp`.
    let sidecar = match sidecars.iter().find(|s| !walk::is_shared(shared, s)) {
        Some(s) if fs::symlink_metadata(s).is_ok_and(|m| m.file_type().is_symlink()) => {
            fs::canonicalize(s).unwrap_or_else(|_| s.clone())
        }
        Some(s) => s.clone(),
        None if walk::is_shared(shared, &walk::own_sidecar(path)) => {
            return Err(format!(
                "{}: not written: its sidecar name {} is also another media file's sidecar",
                path.display(),
                walk::own_sidecar(path).display()
            ))
        }
        None => walk::own_sidecar(path),
    };
    Ok((Target::Sidecar(sidecar), why))
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The XMP already holds this result: nothing written.
    Unchanged,
    /// Written (or, with `--dry-run`, would be written): the fields before.
    Written { before: Fields },
    /// Not written, and why (read-only, changed meanwhile, an error). The file is untouched.
    Failed(String),
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
    pub inputs: Vec<(PathBuf, crate::scan::Stamp)>,
    /// Whether the target existed when read (else it is a new sidecar).
    pub existed: bool,
    /// The hash of the target's content as read, when known ([`crate::scan::ReadHashes`]).
    pub hash: Option<u64>,
    /// The people roots the file was read with: a rewritten copy is read back with them and
    /// must show every person the original shows ([`keeps_persons`]).
    pub roots: PeopleRoots,
}

/// The message of a file that changed since the scan read it.
fn stale(path: &Path) -> String {
    format!("{}: changed while apply ran: run it again (not written)", path.display())
}

impl Basis {
    /// The basis of `record`'s decision for writing into `target`; an error when the scan did
    /// not record it (then nothing is written).
    pub fn of(record: &crate::scan::FileRecord, target: &Target, roots: &PeopleRoots) -> Result<Basis, String> {
        let unknown = || format!("{}: not written: what it was read from is unknown", record.path.display());
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
    fn check(&self) -> Result<(), String> {
        for (path, stamp) in &self.inputs {
            if crate::scan::Stamp::read(path).ok().as_ref() != Some(stamp) {
                return Err(stale(path));
            }
        }
        Ok(())
    }

    /// Whether `bytes` (the target's content now, as the writer finds it) are what was read.
    /// When they are not but no input changed, the writer finds the XMP elsewhere than the
    /// reader did (an `XMP\0` JPEG header, a packet in a later IFD, a PNG chunk after IEND):
    /// rewriting would leave the packet read beside a new one, so the file is not written, with
    /// that reason rather than a change that never happened.
    fn check_hash(&self, path: &Path, bytes: Option<&[u8]>) -> Result<(), String> {
        let same = match (self.hash, bytes) {
            (Some(h), Some(b)) => crate::scan::content_hash(b) == h,
            (Some(_), None) => false,
            _ => true,
        };
        if same {
            return Ok(());
        }
        self.check()?;
        Err(format!(
            "{}: not written: its XMP is where apply does not rewrite it (a second packet would be left beside it)",
            path.display()
        ))
    }
}

/// Test hooks (failpoints), honoured only in debug builds, for the end-to-end tests to force
/// interleavings without sleeps: before a file is prepared for writing,
/// `CONSENTRY_FAILPOINT_BEFORE_WRITE` is run with `sh -c` and the target's path as `$1` (another
/// program changing the file after the scan read it), and the write of the file named
/// `CONSENTRY_FAILPOINT_PANIC` panics.
fn failpoint(path: &Path) {
    if !cfg!(debug_assertions) {
        return;
    }
    if let Some(cmd) = std::env::var_os("CONSENTRY_FAILPOINT_BEFORE_WRITE") {
        let _ = std::process::Command::new("sh").arg("-c").arg(cmd).arg("sh").arg(path).status();
    }
    if std::env::var_os("CONSENTRY_FAILPOINT_PANIC").is_some_and(|n| Some(n.as_os_str()) == path.file_name()) {
        panic!("failpoint: panic while writing {}", path.display());
    }
}

/// Take a non-blocking lock on `file` (the target, open for reading) and keep it until it is
/// replaced: an exclusive `flock`, and an open-file-description `fcntl` read lock (which keeps
/// `fcntl`/`lockf` writers out), after asking whether anyone holds an `fcntl` lock on it at
/// all. A file another program holds locked is not written.
fn lock(file: &fs::File, path: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let locked = |how: &str| format!("{}: locked by another program ({how}), not written", path.display());
    // SAFETY: a valid open file descriptor.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => locked("flock"),
            _ => format!("{}: cannot lock: {e}, not written", path.display()),
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
        return Err(format!("{}: cannot test its locks: {e}, not written", path.display()));
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
            _ => format!("{}: cannot lock: {e}, not written", path.display()),
        });
    }
    Ok(())
}

/// Open `path` for reading and [`lock`] it.
fn open_locked(path: &Path) -> Result<fs::File, String> {
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    lock(&file, path)?;
    Ok(file)
}

/// A file's new version, written in full beside it, waiting to replace it.
pub struct Ready {
    before: Fields,
    temp: Temp,
    path: PathBuf,
    basis: Basis,
    /// The target, open and locked ([`lock`]) until it is replaced.
    _locked: Option<fs::File>,
}

impl Ready {
    /// The file it replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The first half of writing one file: compare, and unless unchanged write the new version
/// into a copy beside the file ([`Prepared::Ready`]). Nothing visible changes yet.
#[allow(clippy::large_enum_variant)] // a batch holds a few hundred; boxing buys nothing
pub enum Prepared {
    Done(Outcome),
    Ready(Ready),
}

/// Compare `target`'s XMP with `fields` and, when they differ (and not `dry_run`), write its new
/// version beside it. Then flush the copies ([`sync_copies`]), [`commit`] them and flush their
/// directories ([`sync_dirs`]).
///
/// `known`: the fields the scan found in the target (the file's only XMP packet, or the
/// sidecar; see [`fields_in`]): then an unchanged target is not read again. Without them the
/// XMP Toolkit compares.
///
/// `basis`: what the decision was computed from; the file is written only while it holds.
pub fn prepare(
    target: &Target,
    fields: &Fields,
    stamp: &Stamp,
    dry_run: bool,
    known: Option<&Fields>,
    basis: &Basis,
) -> Prepared {
    if known.is_some_and(|k| same(k, fields)) {
        return Prepared::Done(Outcome::Unchanged);
    }
    failpoint(target.path());
    let result = match target {
        Target::Embedded(path, format) => match format {
            Format::Jpeg | Format::Tiff | Format::Dng | Format::Psd | Format::Png => {
                own(path, *format, fields, stamp, dry_run, basis)
            }
            _ => toolkit(path, fields, stamp, dry_run, basis),
        },
        Target::Sidecar(path) => sidecar(path, fields, stamp, dry_run, basis),
    };
    result.unwrap_or_else(|e| Prepared::Done(Outcome::Failed(e)))
}

/// Whether fields read with `plus` (as the scan reads them) are `wanted` (which has `plus` only
/// with `--plus`).
fn same(read: &Fields, wanted: &Fields) -> bool {
    if wanted.plus.is_some() {
        return read == wanted;
    }
    Fields { plus: None, ..read.clone() } == *wanted
}

/// Flush prepared copies to disk: one `syncfs` per file system (far cheaper than one `fsync`
/// per file). A copy must be on disk before it replaces a file: after a crash the file is then
/// old or new, never empty.
pub fn sync_copies<'a>(ready: impl IntoIterator<Item = &'a Ready>) {
    let mut done = std::collections::HashSet::new();
    for r in ready {
        let dev = r.temp.file.metadata().map(|m| m.dev()).unwrap_or(0);
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
fn writable(path: &Path, exists: Option<&fs::Metadata>) -> Result<(), String> {
    let may_write = |p: &Path| -> Result<bool, String> {
        let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
            .map_err(|_| format!("{}: invalid path", path.display()))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        Ok(unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) } == 0)
    };
    if let Some(m) = exists {
        if m.permissions().mode() & 0o222 == 0 {
            return Err(format!("{}: read-only file, not written", path.display()));
        }
        if !may_write(path)? {
            return Err(format!("{}: this user may not write the file, not written", path.display()));
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !may_write(dir)? {
        return Err(format!("{}: the directory is not writable, not written", path.display()));
    }
    Ok(())
}

/// Whether consentry writes properties in this namespace.
pub fn is_own_namespace(ns: &str) -> bool {
    ns == NS || ns == NS_LR || ns == NS_PLUS
}

/// The fields a previous `apply` wrote, read from properties parsed with consentry's own
/// parser (the scan's parse of a file's only packet, or of its sidecar): the fast comparison
/// that spares an unchanged file a second read and the XMP Toolkit. `None` when there are none
/// (the file is to be written anyway) or it cannot tell (then the Toolkit decides).
pub fn fields_in(props: &[crate::xmp::Prop], want_plus: bool) -> Option<Fields> {
    use crate::xmp;
    let own: Vec<&xmp::Prop> = props.iter().filter(|p| is_own_namespace(&p.ns)).collect();
    if !own.iter().any(|p| &*p.ns == NS) {
        return None;
    }
    // A property written twice (two rdf:Descriptions) is left to the Toolkit.
    for (i, p) in own.iter().enumerate() {
        if own[..i].iter().any(|q| q.ns == p.ns && q.name == p.name) {
            return None;
        }
    }
    let find = |ns: &str, name: &str| own.iter().find(|p| &*p.ns == ns && &*p.name == name).map(|p| &p.value);
    let text = |ns: &str, name: &str| -> Option<Option<String>> {
        match find(ns, name) {
            None => Some(None),
            Some(v) => v.as_text().map(|t| Some(t.to_string())),
        }
    };
    let items = |ns: &str, name: &str| -> Option<Vec<String>> {
        match find(ns, name) {
            None => Some(Vec::new()),
            Some(xmp::Value::Array(_, items)) => items.iter().map(|i| i.value.as_text().map(str::to_string)).collect(),
            Some(_) => None,
        }
    };
    let plus = if want_plus {
        match text(NS_PLUS, "ModelReleaseStatus")? {
            None => None,
            Some(status) => {
                let code = status.strip_prefix(PLUS_VOCAB).unwrap_or(&status).to_string();
                Some((code, items(NS_PLUS, "ModelReleaseID")?))
            }
        }
    } else {
        None
    };
    Some(Fields {
        status: text(NS, "Status")?.unwrap_or_default(),
        usage: items(NS, "Usage")?,
        missing: items(NS, "Missing")?,
        valid_until: text(NS, "ValidUntil")?,
        consent_ids: items(NS, "ConsentIDs")?,
        notes: text(NS, "Notes")?,
        mirror: items(NS_LR, "hierarchicalSubject")?.into_iter().filter(|s| s.starts_with(MIRROR)).collect(),
        plus,
    })
}

/// Whether a rewritten copy shows every person and unnamed face the original shows, both read
/// the way a scan reads them (`before`, `after`: the persons and the problems reading them).
/// The XMP Toolkit rewrites a packet in its own form and drops what it does not model (a second
/// root, `rdf:nodeID` references, lang-alt alternatives): a copy that would lose a person is
/// never put in place, since the next scan would clear the file.
fn keeps_persons(path: &Path, before: (Depicted, Vec<String>), after: (Depicted, Vec<String>)) -> Result<(), String> {
    let shown = path.display();
    if let Some(e) = after.1.first() {
        return Err(format!("{shown}: not written: the rewritten copy cannot be read back: {e}"));
    }
    let lost = before.0.persons.difference(&after.0.persons).count();
    let faces = before.0.unnamed_faces.saturating_sub(after.0.unnamed_faces);
    if lost > 0 || faces > 0 {
        return Err(format!(
            "{shown}: not written: rewriting its XMP would lose {lost} depicted person(s) and {faces} unnamed \
             face(s) (a form the XMP Toolkit does not keep); rewrite its tags (e.g. with exiftool) and apply again"
        ));
    }
    Ok(())
}

/// JPEG, TIFF, DNG, PSD and PNG: the packet is read and replaced by [`crate::writeback`] (the
/// XMP Toolkit would also rewrite IPTC blocks, and adds a second XMP chunk to a PNG whose XMP
/// is compressed); the XMP Toolkit parses and serialises the packet.
fn own(
    path: &Path,
    format: Format,
    fields: &Fields,
    stamp: &Stamp,
    dry_run: bool,
    basis: &Basis,
) -> Result<Prepared, String> {
    use crate::writeback as wb;
    let shown = path.display();
    let fail = |e: std::io::Error| format!("{shown}: {e}");
    let file = if dry_run { fs::File::open(path).map_err(fail)? } else { open_locked(path)? };
    let before_meta = file.metadata().map_err(fail)?;
    let old = match format {
        Format::Jpeg => wb::jpeg_packet(&file),
        Format::Psd => wb::psd_packet(&file),
        Format::Png => wb::png_packet(&file),
        _ => wb::tiff_packet(&file),
    }
    .map_err(fail)?;
    if !dry_run {
        basis.check_hash(path, old.as_deref())?;
    }
    let mut meta = match &old {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| format!("{shown}: the XMP packet is not UTF-8"))?;
            let text = text.trim_end_matches(['\0', ' ', '\n', '\r', '\t']);
            text.parse::<XmpMeta>().map_err(|e| format!("{shown}: cannot parse its XMP: {e}"))?
        }
        None => XmpMeta::new().map_err(xmp_err)?,
    };
    let before = current(&meta, fields.plus.is_some());
    if before == *fields {
        return Ok(Prepared::Done(Outcome::Unchanged));
    }
    if dry_run {
        return Ok(Prepared::Done(Outcome::Written { before }));
    }
    writable(path, Some(&before_meta))?;
    update(&mut meta, fields, stamp)?;
    let packet = meta.to_string_with_options(ToStringOptions::default().set_padding(2048)).map_err(xmp_err)?;
    let mut temp = Temp::create(path)?;
    let out = &mut temp.file;
    match format {
        Format::Jpeg => wb::jpeg_write(&file, packet.as_bytes(), out),
        Format::Psd => wb::psd_write(&file, packet.as_bytes(), out),
        Format::Png => wb::png_write(&file, packet.as_bytes(), out),
        _ => {
            let mut src = file.try_clone().map_err(fail)?;
            std::io::copy(&mut src, out).map_err(fail)?;
            // A packet the old one's size is written in place.
            let fitted = old.as_ref().and_then(|o| {
                let exact = ToStringOptions::default().set_padding(o.len() as u32).exact_packet_length();
                meta.to_string_with_options(exact).ok().filter(|p| p.len() == o.len())
            });
            wb::tiff_write(out, packet.as_bytes(), fitted.as_deref().map(str::as_bytes))
        }
    }
    .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    keeps_persons(
        path,
        crate::scan::embedded_depicted(path, &basis.roots),
        crate::scan::embedded_depicted(&temp.path, &basis.roots),
    )?;
    temp.keep_permissions(path, &before_meta)?;
    Ok(Prepared::Ready(Ready { before, temp, path: path.to_path_buf(), basis: basis.clone(), _locked: Some(file) }))
}

/// MP4 and MOV: through the XMP Toolkit's smart handlers, on a copy.
fn toolkit(path: &Path, fields: &Fields, stamp: &Stamp, dry_run: bool, basis: &Basis) -> Result<Prepared, String> {
    let shown = path.display();
    let locked = if dry_run { None } else { Some(open_locked(path)?) };
    let before_meta = fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    // The Toolkit mis-splits relative paths whose first directory has one character (`./a.mp4`,
    // `v/a.mp4`): it is given absolute paths only.
    let absolute = std::path::absolute(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut file = XmpFile::new().map_err(xmp_err)?;
    file.open_file(&absolute, OpenFileOptions::default().for_read().only_xmp().use_smart_handler())
        .map_err(|e| format!("{shown}: cannot read its XMP: {e}"))?;
    let meta = file.xmp();
    file.close();
    let before = meta.as_ref().map(|m| current(m, fields.plus.is_some())).unwrap_or_default();
    if before == *fields {
        return Ok(Prepared::Done(Outcome::Unchanged));
    }
    if dry_run {
        return Ok(Prepared::Done(Outcome::Written { before }));
    }
    writable(path, Some(&before_meta))?;

    let mut temp = Temp::create(path)?;
    let mut src = fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    std::io::copy(&mut src, &mut temp.file).map_err(|e| format!("{shown}: cannot copy for writing: {e}"))?;
    let temp_absolute = std::path::absolute(&temp.path).map_err(|e| format!("{shown}: {e}"))?;
    let mut copy = XmpFile::new().map_err(xmp_err)?;
    copy.open_file(&temp_absolute, OpenFileOptions::default().for_update().only_xmp().use_smart_handler())
        .map_err(|e| format!("{shown}: cannot open for writing: {e}"))?;
    let mut meta = match copy.xmp() {
        Some(m) => m,
        None => XmpMeta::new().map_err(xmp_err)?,
    };
    update(&mut meta, fields, stamp)?;
    if !copy.can_put_xmp(&meta) {
        copy.close();
        return Err(format!("{shown}: the XMP Toolkit cannot write this file's XMP"));
    }
    copy.put_xmp(&meta).map_err(|e| format!("{shown}: cannot write XMP: {e}"))?;
    copy.try_close().map_err(|e| format!("{shown}: cannot write XMP: {e}"))?;
    drop(copy);
    keeps_persons(
        path,
        crate::scan::embedded_depicted(path, &basis.roots),
        crate::scan::embedded_depicted(&temp.path, &basis.roots),
    )?;
    temp.keep_permissions(path, &before_meta)?;
    Ok(Prepared::Ready(Ready { before, temp, path: path.to_path_buf(), basis: basis.clone(), _locked: locked }))
}

fn sidecar(path: &Path, fields: &Fields, stamp: &Stamp, dry_run: bool, basis: &Basis) -> Result<Prepared, String> {
    use std::io::Read;
    let shown = path.display();
    let (bytes, before_meta, locked) = match fs::File::open(path) {
        Ok(mut file) => {
            if !dry_run {
                lock(&file, path)?;
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(|e| format!("{shown}: {e}"))?;
            let m = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
            (Some(bytes), Some(m), Some(file))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None, None),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    if !dry_run {
        if !basis.existed && bytes.is_some() {
            return Err(stale(path)); // created since the scan: the decision did not see it
        }
        basis.check_hash(path, bytes.as_deref())?;
    }
    let mut meta = match &bytes {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| format!("{shown}: the sidecar is not UTF-8"))?;
            text.parse::<XmpMeta>().map_err(|e| format!("{shown}: cannot parse the sidecar: {e}"))?
        }
        None => XmpMeta::new().map_err(xmp_err)?,
    };
    let before = current(&meta, fields.plus.is_some());
    if before_meta.is_some() && before == *fields {
        return Ok(Prepared::Done(Outcome::Unchanged));
    }
    if dry_run {
        return Ok(Prepared::Done(Outcome::Written { before }));
    }
    writable(path, before_meta.as_ref())?;
    update(&mut meta, fields, stamp)?;
    let text = meta.to_string_with_options(ToStringOptions::default().set_padding(0)).map_err(xmp_err)?;
    if let Some(bytes) = &bytes {
        let read = |b: &[u8]| crate::scan::packet_depicted(b, &basis.roots);
        keeps_persons(path, read(bytes), read(text.as_bytes()))?;
    }
    let mut temp = Temp::create(path)?;
    temp.file.write_all(text.as_bytes()).map_err(|e| format!("{shown}: cannot write: {e}"))?;
    match &before_meta {
        Some(m) => temp.keep_permissions(path, m)?,
        None => temp.take_permissions_of_media(path, &basis.media)?,
    }
    Ok(Prepared::Ready(Ready { before, temp, path: path.to_path_buf(), basis: basis.clone(), _locked: locked }))
}

/// A copy beside the file it will replace, locked (`flock`) while this process lives so that no
/// other `apply` takes it for a leftover; removed unless committed.
struct Temp {
    path: PathBuf,
    file: fs::File,
    committed: bool,
}

static TEMP_COUNT: AtomicU64 = AtomicU64::new(0);

impl Temp {
    fn create(beside: &Path) -> Result<Temp, String> {
        use std::os::fd::AsRawFd;
        let dir = beside.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // Keep the extension: the XMP Toolkit picks its handler by it.
        let ext = beside.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let n = TEMP_COUNT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{}-{n}{ext}", std::process::id()));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: cannot create a copy to write: {e}", beside.display()))?;
        // SAFETY: a valid open file descriptor.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        Ok(Temp { path, file, committed: false })
    }

    /// Give the copy the original's owner and group, permissions, extended attributes and ACLs
    /// (the `system.posix_acl_access` attribute). Where the owner or group cannot be kept (a
    /// user may give a file only to itself and its own groups), or an attribute cannot be
    /// copied, the file is not replaced.
    fn keep_permissions(&self, original: &Path, m: &fs::Metadata) -> Result<(), String> {
        use std::os::fd::AsRawFd;
        let shown = original.display();
        let now = self.file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
            std::os::unix::fs::fchown(&self.file, Some(m.uid()), Some(m.gid())).map_err(|e| {
                format!(
                    "{shown}: owned by {}:{}, which this user cannot keep for the new version ({e}), not written",
                    m.uid(),
                    m.gid()
                )
            })?;
        }
        self.file
            .set_permissions(fs::Permissions::from_mode(m.permissions().mode() & 0o7777))
            .map_err(|e| format!("{shown}: cannot keep the permissions: {e}"))?;
        copy_xattrs(original, self.file.as_raw_fd())
            .map_err(|e| format!("{shown}: cannot keep its extended attributes: {e}, not written"))
    }

    /// A new sidecar: the media file's permission bits, and its group where the user may.
    fn take_permissions_of_media(&self, sidecar: &Path, media: &Path) -> Result<(), String> {
        let m = fs::metadata(media).map_err(|e| format!("{}: {e}", media.display()))?;
        let _ = std::os::unix::fs::fchown(&self.file, None, Some(m.gid()));
        self.file
            .set_permissions(fs::Permissions::from_mode(m.permissions().mode() & 0o777))
            .map_err(|e| format!("{}: cannot set the permissions: {e}", sidecar.display()))
    }

    /// Rename the (flushed) copy over `path` unless what the decision was computed from
    /// changed since it was read ([`Basis`]), or, for a new file, someone created it meanwhile.
    fn commit(mut self, path: &Path, basis: &Basis) -> Result<(), String> {
        let shown = path.display();
        basis.check()?;
        if basis.existed {
            fs::rename(&self.path, path).map_err(|e| format!("{shown}: cannot replace: {e}"))?;
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
                std::io::ErrorKind::AlreadyExists => format!("{shown}: created by someone else meanwhile, not written"),
                _ => format!("{shown}: cannot create: {e}"),
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

/// A short description of a change, for `--dry-run` and the output: `field: before -> after`.
pub fn describe(before: &Fields, after: &Fields) -> BTreeMap<&'static str, (String, String)> {
    let mut d = BTreeMap::new();
    let list = |v: &[String]| v.join(", ");
    let mut add = |k: &'static str, a: String, b: String| {
        if a != b {
            d.insert(k, (a, b));
        }
    };
    add("status", before.status.clone(), after.status.clone());
    add("usage", list(&before.usage), list(&after.usage));
    add("missing", list(&before.missing), list(&after.missing));
    add("valid_until", before.valid_until.clone().unwrap_or_default(), after.valid_until.clone().unwrap_or_default());
    add("consents", list(&before.consent_ids), list(&after.consent_ids));
    add("notes", before.notes.clone().unwrap_or_default(), after.notes.clone().unwrap_or_default());
    add("keywords", list(&before.mirror), list(&after.mirror));
    let plus = |p: &Option<(String, Vec<String>)>| {
        p.as_ref().map(|(c, ids)| format!("{c} {}", ids.join(","))).unwrap_or_default()
    };
    add("plus", plus(&before.plus), plus(&after.plus));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{Missing, Reason};

    fn decision(status: Status, usage: &[&str]) -> Decision {
        Decision {
            status,
            usage: usage.iter().map(|s| s.to_string()).collect(),
            missing: if status == Status::Red {
                vec![Missing { name: "Anna".into(), reason: Reason::Unknown }]
            } else {
                Vec::new()
            },
            consents: vec!["c1".into()],
            valid_until: None,
            notes: vec!["© Verein".into(), "nur intern".into()],
            exempted: Vec::new(),
        }
    }

    #[test]
    fn plus_release_status_follows_the_decision() {
        let voc = Vocabulary::default();
        let all: Vec<&str> = voc.names().collect();
        let code = |d: &Decision| fields(d, &voc, true).plus.unwrap().0;
        assert_eq!(code(&decision(Status::None, &all)), "MR-NAP");
        assert_eq!(code(&decision(Status::Exempt, &all)), "MR-NAP");
        assert_eq!(code(&decision(Status::Green, &all)), "MR-UMR");
        assert_eq!(code(&decision(Status::Green, &["web"])), "MR-LMR");
        assert_eq!(code(&decision(Status::Yellow, &[])), "MR-LMR");
        assert_eq!(code(&decision(Status::Unreadable, &[])), "MR-NON");
        assert_eq!(code(&decision(Status::Red, &[])), "MR-NON");
        assert!(fields(&decision(Status::Red, &[]), &voc, false).plus.is_none());
        assert_eq!(
            fields(&decision(Status::Green, &["web"]), &voc, false).notes.as_deref(),
            Some("© Verein; nur intern")
        );
    }

    #[test]
    fn update_owns_only_its_fields_and_the_consent_subtree() {
        register_namespace().unwrap();
        let text = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Anna</rdf:li><rdf:li>Consent|tv</rdf:li><rdf:li>Places|Berlin</rdf:li></rdf:Bag></lr:hierarchicalSubject>
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sommerfest</rdf:li></rdf:Alt></dc:title>
            </rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let mut meta: XmpMeta = text.parse().unwrap();
        let voc = Vocabulary::default();
        let f = fields(&decision(Status::Green, &["print", "web"]), &voc, false);
        let stamp = Stamp { evaluated_at: "2026-11-22".into(), register_digest: "abc".into() };
        assert_ne!(current(&meta, false), f);
        update(&mut meta, &f, &stamp).unwrap();
        assert_eq!(current(&meta, false), f);
        assert_eq!(
            items(&meta, NS_LR, "hierarchicalSubject"),
            ["People|Anna", "Places|Berlin", "Consent|print", "Consent|web"]
        );
        assert!(meta.to_string().contains("Sommerfest"));
        // Serialised and parsed again: the same fields (what a second `apply` compares).
        let again: XmpMeta = meta.to_string().parse().unwrap();
        assert_eq!(current(&again, false), f);
        // A red result removes the mirror, keeps the user's keywords.
        let red = fields(&decision(Status::Red, &[]), &voc, false);
        update(&mut meta, &red, &stamp).unwrap();
        assert_eq!(items(&meta, NS_LR, "hierarchicalSubject"), ["People|Anna", "Places|Berlin"]);
        assert_eq!(current(&meta, false), red);
    }

    /// What the scan reads of a packet (see [`fields_in`]).
    fn current_fast(packet: &[u8], want_plus: bool) -> Option<Fields> {
        fields_in(&crate::xmp::parse(packet, &is_own_namespace).ok()?, want_plus)
    }

    #[test]
    fn the_fast_comparison_reads_what_the_toolkit_reads() {
        register_namespace().unwrap();
        let voc = Vocabulary::default();
        let all: Vec<&str> = voc.names().collect();
        let stamp = Stamp { evaluated_at: "2026-11-22".into(), register_digest: "abc".into() };
        let mut with_dates = decision(Status::Green, &["web"]);
        with_dates.valid_until = Some("2030-01-31".parse().unwrap());
        for d in [
            decision(Status::Green, &all),
            with_dates,
            decision(Status::Red, &[]),
            decision(Status::None, &all),
            decision(Status::Yellow, &[]),
        ] {
            for plus in [false, true] {
                let f = fields(&d, &voc, plus);
                let mut meta: XmpMeta = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/"><lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Anna</rdf:li></rdf:Bag></lr:hierarchicalSubject></rdf:Description></rdf:RDF></x:xmpmeta>"#.parse().unwrap();
                update(&mut meta, &f, &stamp).unwrap();
                for options in [ToStringOptions::default(), ToStringOptions::default().use_compact_format()] {
                    let text = meta.to_string_with_options(options).unwrap();
                    assert_eq!(current_fast(text.as_bytes(), plus).as_ref(), Some(&current(&meta, plus)), "{text}");
                    assert_eq!(current_fast(text.as_bytes(), plus).unwrap(), f);
                }
            }
        }
        // Ambiguous packets are left to the Toolkit.
        let twice = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:consentry="http://ns.consentry.org/xmp/1.0/" consentry:Status="green"/>
            <rdf:Description rdf:about="" xmlns:consentry="http://ns.consentry.org/xmp/1.0/" consentry:Status="red"/>
            </rdf:RDF></x:xmpmeta>"#;
        assert_eq!(current_fast(twice.as_bytes(), false), None);
    }

    #[test]
    fn a_file_changed_meanwhile_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        fs::write(&path, b"old").unwrap();
        let basis_of = |p: &Path| Basis {
            media: p.to_path_buf(),
            inputs: vec![(p.to_path_buf(), crate::scan::Stamp::read(p).unwrap())],
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
        let err = temp.commit(&path, &basis).unwrap_err();
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
    fn a_sidecar_another_media_file_pairs_with_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["DSC_1.NEF", "dsc_1.jpg", "DSC_1.XMP", "x.jpg", "x.jpg.nef", "x.jpg.xmp", "solo.cr2", "solo.xmp"];
        for n in names {
            fs::write(dir.path().join(n), b"").unwrap();
        }
        let p = |n: &str| dir.path().join(n);
        // The walk's pairing: (sidecars, shared) of each media file.
        let mut jobs = std::collections::HashMap::new();
        walk::walk(&[dir.path().to_path_buf()], walk::WalkOptions { follow_links: true }, |j| {
            if let walk::Job::Media { path, sidecars, shared } = j {
                jobs.insert(path.file_name().unwrap().to_string_lossy().into_owned(), (sidecars, shared));
            }
            true
        });
        let shared = |media: &str, sidecar: &str| walk::is_shared(&jobs[media].1, &p(sidecar));
        assert!(shared("DSC_1.NEF", "DSC_1.XMP"));
        assert!(shared("dsc_1.jpg", "DSC_1.XMP"));
        assert!(shared("x.jpg.nef", "x.jpg.xmp"), "x.jpg's own sidecar");
        // x.jpg's own `name.ext.xmp` is x.jpg.nef's `name.xmp` too: shared, so x.jpg is not
        // written at all (before, x.jpg's decision went into the file x.jpg.nef also reads).
        assert!(shared("x.jpg", "x.jpg.xmp"));
        assert!(!shared("solo.cr2", "solo.xmp"));
        let target_of = |media: &str| {
            let (sidecars, shared) = &jobs[media];
            target(&p(media), None, sidecars, shared, false)
        };
        assert_eq!(target_of("DSC_1.NEF").unwrap().0, Target::Sidecar(p("DSC_1.NEF.xmp")));
        assert_eq!(target_of("solo.cr2").unwrap().0, Target::Sidecar(p("solo.xmp")));
        assert!(target_of("x.jpg").unwrap_err().contains("also another media file's sidecar"));
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
