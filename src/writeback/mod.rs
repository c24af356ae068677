//! Writing each file's evaluation back into its XMP (SPEC.md 5): which target, the XMP edit,
//! the splice into the container, and the safe replacement of the file.
//!
//! What is written: the `consentry` namespace fields, the `lr:hierarchicalSubject` items under
//! `Consent|` (consentry's subtree: stale items are removed, every other item is kept in place)
//! and, with `--plus`, `plus:ModelReleaseStatus` and `plus:ModelReleaseID`. Nothing else in
//! the XMP is touched.
//!
//! The parts, in the order a file goes through them:
//! - [`plan`]: where a file's result goes (embedded or a sidecar) and the fields for a decision;
//! - [`prepare`]: compare with what the file holds and write its new version into a copy;
//! - [`xmp_edit`]: reading and updating consentry's fields with the XMP Toolkit;
//! - [`splice`]: replacing only the XMP packet of a JPEG, TIFF/DNG, PNG or PSD file, every other
//!   byte copied; each splice is planned through the layout walkers of [`crate::media`], the
//!   ones the scan reads with;
//! - [`commit`]: the copy, locks, the checks that the file is still what was read, permissions
//!   kept, the atomic rename and the flushes.

pub mod commit;
pub mod plan;
pub mod prepare;
pub mod splice;
pub mod xmp_edit;

pub use splice::*;

use std::path::PathBuf;

/// Why a file was not written. Every variant names the file; the messages are those the
/// command prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the decision was computed from changed since the scan read it.
    #[error("{}: changed while apply ran: run it again (not written)", .0.display())]
    Changed(PathBuf),
    /// The scan did not record what the decision was computed from.
    #[error("{}: not written: what it was read from is unknown", .0.display())]
    UnknownBasis(PathBuf),
    /// The writer finds the XMP elsewhere than the reader did.
    #[error(
        "{}: not written: its XMP is where apply does not rewrite it (a second packet would be left beside it)",
        .0.display()
    )]
    XmpElsewhere(PathBuf),
    /// Its own `name.ext.xmp` is another media file's sidecar too.
    #[error(
        "{}: not written: its sidecar name {} is also another media file's sidecar",
        path.display(),
        sidecar.display()
    )]
    SharedSidecar { path: PathBuf, sidecar: PathBuf },
    #[error("{}: locked by another program ({how}), not written", path.display())]
    Locked { path: PathBuf, how: &'static str },
    #[error("{}: cannot lock: {source}, not written", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot test its locks: {source}, not written", path.display())]
    LockTest { path: PathBuf, source: std::io::Error },
    #[error("{}: read-only file, not written", .0.display())]
    ReadOnly(PathBuf),
    #[error("{}: this user may not write the file, not written", .0.display())]
    NotPermitted(PathBuf),
    #[error("{}: the directory is not writable, not written", .0.display())]
    DirectoryNotWritable(PathBuf),
    #[error("{}: invalid path", .0.display())]
    InvalidPath(PathBuf),
    #[error(
        "{}: owned by {uid}:{gid}, which this user cannot keep for the new version ({source}), not written",
        path.display()
    )]
    Owner { path: PathBuf, uid: u32, gid: u32, source: std::io::Error },
    #[error("{}: cannot keep its extended attributes: {source}, not written", path.display())]
    Xattrs { path: PathBuf, source: std::io::Error },
    #[error("{}: created by someone else meanwhile, not written", .0.display())]
    CreatedMeanwhile(PathBuf),
    /// Reading, copying or replacing it failed; `doing` says what (it may be empty).
    #[error("{}: {doing}{source}", path.display())]
    Io { path: PathBuf, doing: &'static str, source: std::io::Error },
    /// Its XMP (`what`: "the XMP packet", "the sidecar") is not UTF-8.
    #[error("{}: {what} is not UTF-8", path.display())]
    NotUtf8 { path: PathBuf, what: &'static str },
    /// The XMP Toolkit failed on this file; `doing` says at what.
    #[error("{}: {doing}{source}", path.display())]
    ToolkitFile { path: PathBuf, doing: &'static str, source: xmp_toolkit::XmpError },
    #[error("{}: the XMP Toolkit cannot write this file's XMP", .0.display())]
    ToolkitCannotWrite(PathBuf),
    /// The XMP Toolkit failed editing a packet (the file is not named, as before).
    #[error("XMP Toolkit: {0}")]
    Toolkit(#[from] xmp_toolkit::XmpError),
    #[error("{}: not written: the rewritten copy cannot be read back: {problem}", path.display())]
    CopyUnreadable { path: PathBuf, problem: crate::scan::ReadError },
    #[error(
        "{}: not written: rewriting its XMP would lose {lost} depicted person(s) and {faces} unnamed \
         face(s) (a form the XMP Toolkit does not keep); rewrite its tags (e.g. with exiftool) and apply again",
        path.display()
    )]
    LosesPersons { path: PathBuf, lost: usize, faces: u32 },
    /// A panic while writing (`doing`: "writing, not written") or replacing it.
    #[error("{}: internal error while {doing}: {message}", path.display())]
    Panicked { path: PathBuf, doing: &'static str, message: String },
}

impl Error {
    /// An I/O error of `path` while `doing` (`""`, or e.g. `"cannot write: "`).
    pub(crate) fn io<'a>(path: &'a std::path::Path, doing: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |source| Error::Io { path: path.to_path_buf(), doing, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages are the ones `apply` printed when they were strings (tests of the binary
    /// compare some of them; these pin the rest).
    #[test]
    fn the_messages_name_the_file_as_before() {
        let p = || PathBuf::from("d/a.jpg");
        let io = || std::io::Error::from_raw_os_error(libc::EACCES);
        let cases: [(Error, &str); 8] = [
            (Error::Changed(p()), "d/a.jpg: changed while apply ran: run it again (not written)"),
            (Error::Locked { path: p(), how: "flock" }, "d/a.jpg: locked by another program (flock), not written"),
            (
                Error::Lock { path: p(), source: io() },
                "d/a.jpg: cannot lock: Permission denied (os error 13), not written",
            ),
            (
                Error::Io { path: p(), doing: "cannot write: ", source: io() },
                "d/a.jpg: cannot write: Permission denied (os error 13)",
            ),
            (Error::Io { path: p(), doing: "", source: io() }, "d/a.jpg: Permission denied (os error 13)"),
            (
                Error::Owner { path: p(), uid: 1, gid: 2, source: io() },
                "d/a.jpg: owned by 1:2, which this user cannot keep for the new version (Permission denied (os \
                 error 13)), not written",
            ),
            (
                Error::LosesPersons { path: p(), lost: 1, faces: 0 },
                "d/a.jpg: not written: rewriting its XMP would lose 1 depicted person(s) and 0 unnamed face(s) (a \
                 form the XMP Toolkit does not keep); rewrite its tags (e.g. with exiftool) and apply again",
            ),
            (
                Error::Panicked { path: p(), doing: "writing, not written", message: "boom".into() },
                "d/a.jpg: internal error while writing, not written: boom",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
