//! Preparing one file's new version: compare the result with what its XMP holds, and unless
//! unchanged write the new version into a copy beside it (embedded by [`super::splice`] or the
//! XMP Toolkit's smart handlers, or a sidecar), checked to keep every person it shows.
//!
//! Where: embedded for JPEG, TIFF, DNG, PNG and PSD by replacing only the XMP packet
//! ([`super::splice`]; the XMP Toolkit parses and serialises it), for MP4/MOV through Adobe's
//! XMP Toolkit (`xmp_toolkit`) with its format-aware smart handlers only (never packet
//! scanning); in a sidecar for everything else (the existing one, else `name.ext.xmp`), or for
//! every file with `--sidecar always`. A file whose result is unchanged is not written at all
//! (`EvaluatedAt` and `RegisterDigest` record when and from which register the written result
//! came, and alone do not make a change).

use std::fs;
use std::io::Write;
use std::path::Path;

use xmp_toolkit::{OpenFileOptions, ToStringOptions, XmpFile, XmpMeta};

use crate::media::{Embedding, Format};
use crate::people::Depicted;
use crate::scan::ReadError;
use crate::written::WrittenFields;

use super::commit::{lock, open_locked, writable, Basis, Outcome, Ready, Temp};
use super::plan::Target;
use super::xmp_edit::{current, update, Provenance};
use super::Error;

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

/// The first half of writing one file: compare, and unless unchanged write the new version
/// into a copy beside the file ([`Prepared::Ready`]). Nothing visible changes yet.
#[allow(clippy::large_enum_variant)] // a batch holds a few hundred; boxing buys nothing
pub enum Prepared {
    Done(Outcome),
    Ready(Ready),
}

/// Compare `target`'s XMP with `fields` and, when they differ (and not `dry_run`), write its new
/// version beside it. Then flush the copies ([`super::commit::sync_copies`]),
/// [`super::commit::commit`] them and flush their directories ([`super::commit::sync_dirs`]).
///
/// `known`: the fields the scan found in the target (the file's only XMP packet, or the
/// sidecar; see [`WrittenFields::from_props`]): then an unchanged target is not read again. Without them the
/// XMP Toolkit compares.
///
/// `basis`: what the decision was computed from; the file is written only while it holds.
pub fn prepare(
    target: &Target,
    fields: &WrittenFields,
    stamp: &Provenance,
    dry_run: bool,
    known: Option<&WrittenFields>,
    basis: &Basis,
) -> Prepared {
    if known.is_some_and(|k| k.same_as(fields)) {
        return Prepared::Done(Outcome::Unchanged);
    }
    failpoint(target.path());
    let job = Job { fields, stamp, dry_run, basis };
    let result = match target {
        Target::Embedded(path, format) => match format.embedding() {
            Embedding::Splice => own(path, *format, &job),
            Embedding::Toolkit => toolkit(path, *format, &job),
            // `plan::target` never embeds into such a format; were it asked to, nothing is written.
            Embedding::SidecarOnly => Err(Error::Io {
                path: path.clone(),
                doing: "",
                source: std::io::Error::other(format!("consentry does not write XMP into {format:?} files")),
            }),
        },
        Target::Sidecar(path) => sidecar(path, &job),
    };
    result.unwrap_or_else(|e| Prepared::Done(Outcome::Failed(e)))
}

/// What one file's new version is made from: the fields, their provenance, whether only to
/// compare, and what the decision was computed from.
struct Job<'a> {
    fields: &'a WrittenFields,
    stamp: &'a Provenance,
    dry_run: bool,
    basis: &'a Basis,
}

/// Whether a rewritten copy shows every person and unnamed face the original shows, both read
/// the way a scan reads them (`before`, `after`: the persons and the problems reading them).
/// The XMP Toolkit rewrites a packet in its own form and drops what it does not model (a second
/// root, `rdf:nodeID` references, lang-alt alternatives): a copy that would lose a person is
/// never put in place, since the next scan would clear the file.
fn keeps_persons(
    path: &Path,
    before: (Depicted, Vec<ReadError>),
    after: (Depicted, Vec<ReadError>),
) -> Result<(), Error> {
    if let Some(e) = after.1.first() {
        return Err(Error::CopyUnreadable { path: path.to_path_buf(), problem: e.clone() });
    }
    let lost = before.0.persons.difference(&after.0.persons).count();
    let faces = before.0.unnamed_faces.saturating_sub(after.0.unnamed_faces);
    if lost > 0 || faces > 0 {
        return Err(Error::LosesPersons { path: path.to_path_buf(), lost, faces });
    }
    Ok(())
}

/// JPEG, TIFF, DNG, PSD and PNG: the packet is read and replaced by [`super::splice`] (the
/// XMP Toolkit would also rewrite IPTC blocks, and adds a second XMP chunk to a PNG whose XMP
/// is compressed); the XMP Toolkit parses and serialises the packet.
fn own(path: &Path, format: Format, job: &Job<'_>) -> Result<Prepared, Error> {
    let &Job { fields, stamp, dry_run, basis } = job;
    use crate::writeback as wb;
    let fail = |e| Error::io(path, "")(e);
    let file = if dry_run { fs::File::open(path).map_err(fail)? } else { open_locked(path)? };
    let before_meta = file.metadata().map_err(fail)?;
    let old = wb::packet(format, &file).map_err(|e| fail(e.into()))?;
    if !dry_run {
        basis.check_hash(path, old.as_deref())?;
    }
    let mut meta = match &old {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::NotUtf8 { path: path.to_path_buf(), what: "the XMP packet" })?;
            let text = text.trim_end_matches(['\0', ' ', '\n', '\r', '\t']);
            text.parse::<XmpMeta>().map_err(toolkit_err(path, "cannot parse its XMP: "))?
        }
        None => XmpMeta::new()?,
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
    let packet = meta.to_string_with_options(ToStringOptions::default().set_padding(2048))?;
    let mut temp = Temp::create(path)?;
    let out = &mut temp.file;
    // A packet the old one's size is written in place (TIFF, DNG).
    let fitted = old.as_ref().filter(|_| wb::writes_in_place(format)).and_then(|o| {
        let exact = ToStringOptions::default().set_padding(o.len() as u32).exact_packet_length();
        meta.to_string_with_options(exact).ok().filter(|p| p.len() == o.len())
    });
    wb::write(format, &file, packet.as_bytes(), fitted.as_deref().map(str::as_bytes), out)
        .map_err(|e| Error::io(path, "cannot write: ")(e.into()))?;
    embedded_ready(path, temp, &before_meta, before, basis, Some(file))
}

/// MP4 and MOV: through the XMP Toolkit's smart handlers, on a copy.
fn toolkit(path: &Path, format: Format, job: &Job<'_>) -> Result<Prepared, Error> {
    let &Job { fields, stamp, dry_run, basis } = job;
    let locked = if dry_run { None } else { Some(open_locked(path)?) };
    let before_meta = fs::metadata(path).map_err(Error::io(path, ""))?;
    // Never one packet rewritten while another, naming persons too, is left beside it.
    let file = fs::File::open(path).map_err(Error::io(path, ""))?;
    super::splice::at_most_one_packet(format, &file).map_err(|e| Error::io(path, "")(e.into()))?;
    // The Toolkit mis-splits relative paths whose first directory has one character (`./a.mp4`,
    // `v/a.mp4`): it is given absolute paths only.
    let absolute = std::path::absolute(path).map_err(Error::io(path, ""))?;
    let mut file = XmpFile::new()?;
    file.open_file(&absolute, OpenFileOptions::default().for_read().only_xmp().use_smart_handler())
        .map_err(toolkit_err(path, "cannot read its XMP: "))?;
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
    let mut src = fs::File::open(path).map_err(Error::io(path, ""))?;
    std::io::copy(&mut src, &mut temp.file).map_err(Error::io(path, "cannot copy for writing: "))?;
    let temp_absolute = std::path::absolute(&temp.path).map_err(Error::io(path, ""))?;
    let mut copy = XmpFile::new()?;
    copy.open_file(&temp_absolute, OpenFileOptions::default().for_update().only_xmp().use_smart_handler())
        .map_err(toolkit_err(path, "cannot open for writing: "))?;
    let mut meta = match copy.xmp() {
        Some(m) => m,
        None => XmpMeta::new()?,
    };
    update(&mut meta, fields, stamp)?;
    if !copy.can_put_xmp(&meta) {
        copy.close();
        return Err(Error::ToolkitCannotWrite(path.to_path_buf()));
    }
    copy.put_xmp(&meta).map_err(toolkit_err(path, "cannot write XMP: "))?;
    copy.try_close().map_err(toolkit_err(path, "cannot write XMP: "))?;
    drop(copy);
    embedded_ready(path, temp, &before_meta, before, basis, locked)
}

/// A media file's rewritten copy, once it is known to show every person the file shows and
/// has the file's permissions: ready to replace it.
fn embedded_ready(
    path: &Path,
    temp: Temp,
    before_meta: &fs::Metadata,
    before: WrittenFields,
    basis: &Basis,
    locked: Option<fs::File>,
) -> Result<Prepared, Error> {
    keeps_persons(
        path,
        crate::scan::embedded_depicted(path, &basis.roots),
        crate::scan::embedded_depicted(&temp.path, &basis.roots),
    )?;
    temp.keep_permissions(path, before_meta)?;
    Ok(Prepared::Ready(Ready { before, temp, path: path.to_path_buf(), basis: basis.clone(), _locked: locked }))
}

fn sidecar(path: &Path, job: &Job<'_>) -> Result<Prepared, Error> {
    let &Job { fields, stamp, dry_run, basis } = job;
    use std::io::Read;
    let (bytes, before_meta, locked) = match fs::File::open(path) {
        Ok(mut file) => {
            if !dry_run {
                lock(&file, path)?;
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(Error::io(path, ""))?;
            let m = file.metadata().map_err(Error::io(path, ""))?;
            (Some(bytes), Some(m), Some(file))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None, None),
        Err(e) => return Err(Error::io(path, "")(e)),
    };
    if !dry_run {
        if !basis.existed && bytes.is_some() {
            return Err(Error::Changed(path.to_path_buf())); // created since the scan: the decision did not see it
        }
        basis.check_hash(path, bytes.as_deref())?;
    }
    let mut meta = match &bytes {
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::NotUtf8 { path: path.to_path_buf(), what: "the sidecar" })?;
            text.parse::<XmpMeta>().map_err(toolkit_err(path, "cannot parse the sidecar: "))?
        }
        None => XmpMeta::new()?,
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
    let text = meta.to_string_with_options(ToStringOptions::default().set_padding(0))?;
    if let Some(bytes) = &bytes {
        let read = |b: &[u8]| crate::scan::packet_depicted(b, &basis.roots);
        keeps_persons(path, read(bytes), read(text.as_bytes()))?;
    }
    let mut temp = Temp::create(path)?;
    temp.file.write_all(text.as_bytes()).map_err(Error::io(path, "cannot write: "))?;
    match &before_meta {
        Some(m) => temp.keep_permissions(path, m)?,
        None => temp.take_permissions_of_media(path, &basis.media)?,
    }
    Ok(Prepared::Ready(Ready { before, temp, path: path.to_path_buf(), basis: basis.clone(), _locked: locked }))
}

/// An XMP Toolkit error of `path` while `doing`.
fn toolkit_err<'a>(path: &'a Path, doing: &'static str) -> impl FnOnce(xmp_toolkit::XmpError) -> Error + 'a {
    move |source| Error::ToolkitFile { path: path.to_path_buf(), doing, source }
}
