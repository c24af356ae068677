//! Why a file (or its sidecars) could not be read completely: [`ReadError`], what a scan
//! record carries for each problem, with the byte offsets the inner layers report. Its text is
//! what every output format and the state show for the record.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::media::{self, Format, MediaError};
use crate::walk::{IoProblem, WalkError};
use crate::xmp::XmpError;

use super::MAX_PERSONS;

/// One problem met reading a media file and its sidecars; any makes the record an error
/// record ([`super::FileRecord::is_complete`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// The media file could not be opened.
    #[error("cannot open: {0}")]
    Open(IoProblem),
    /// The media file was opened but could not be read.
    #[error("cannot read: {0}")]
    Read(IoProblem),
    #[error("empty file")]
    Empty,
    /// Neither its content nor its name says what container it is.
    #[error("not a recognised image or video file (content starts with {})", crate::media::jpeg::hex(.magic))]
    Unrecognised {
        /// Its first bytes (up to 8).
        magic: Vec<u8>,
    },
    /// The container is damaged or over a limit (the error has the byte offset in the file).
    #[error("{} file: {error}", .format.as_str().to_uppercase())]
    Media { format: Format, error: Damage },
    /// An embedded XMP packet is invalid (the error's offset is in the file).
    #[error("embedded XMP: {0}")]
    Xmp(XmpError),
    /// An extended XMP packet (JPEG) assembled from segments is invalid: the error's offset is
    /// in the assembled packet, whose first segment starts at byte `at` of the file.
    #[error(
        "embedded extended XMP: invalid XMP at byte {} of the packet assembled from the segments from byte {at}: {}",
        .error.offset,
        .error.message
    )]
    ExtendedXmp { at: u64, error: XmpError },
    /// A sidecar (by its file name) could not be read or parsed.
    #[error("sidecar {name}: {error}")]
    Sidecar { name: String, error: SidecarError },
    /// The file and its sidecars name more persons than a record keeps ([`MAX_PERSONS`]).
    #[error("{origin}: {count} persons or more, past the limit of {MAX_PERSONS} per file")]
    TooManyPersons {
        /// Where the limit was passed (`embedded XMP`, `embedded keywords`, `sidecar NAME`).
        origin: String,
        count: usize,
    },
    #[error("file name is not valid UTF-8 (shown with replacement characters)")]
    NameNotUtf8,
    /// A parser panicked on this file (its message).
    #[error("internal error while reading this file: {0}")]
    Panic(String),
    /// The path could not be walked.
    #[error("{0}")]
    Unwalkable(WalkError),
    /// The file's directory could not be placed in an archive ([`super::Place::error`]).
    #[error("{0}")]
    Unplaced(PlaceError),
    /// A problem as a shard's results recorded it (`consentry merge`): its text.
    #[error("{0}")]
    Recorded(String),
}

/// Why the files of a directory could not be placed in an archive (an archive not known is
/// never guessed: they are errors).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlaceError {
    /// The directory's real path could not be resolved.
    #[error("{}: {error}", .dir.display())]
    Unresolved { dir: PathBuf, error: IoProblem },
    /// The archive's `consentry.toml` above it cannot be used.
    #[error("{0:#}")]
    Archive(Arc<crate::config::Error>),
}

impl PartialEq for PlaceError {
    fn eq(&self, other: &PlaceError) -> bool {
        match (self, other) {
            (PlaceError::Unresolved { dir: a, error: e }, PlaceError::Unresolved { dir: b, error: f }) => {
                a == b && e == f
            }
            (PlaceError::Archive(a), PlaceError::Archive(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// Why a sidecar could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SidecarError {
    #[error("cannot open: {0}")]
    Open(IoProblem),
    /// Larger than [`media::MAX_XMP`] by its length: not read at all.
    #[error("{len} bytes, larger than the limit of {} bytes", media::MAX_XMP)]
    TooLarge { len: u64 },
    #[error("cannot read: {0}")]
    Read(IoProblem),
    /// Grew past [`media::MAX_XMP`] while it was read.
    #[error("larger than the limit of {} bytes", media::MAX_XMP)]
    Grew,
    /// Its content is not valid XMP (the offset is in the sidecar).
    #[error("{0}")]
    Xmp(XmpError),
}

/// A container's damage ([`MediaError`]), shared so that records stay cheap to clone; two are
/// equal when they say the same.
#[derive(Debug, Clone)]
pub struct Damage(pub Arc<MediaError>);

impl ReadError {
    /// Damage `detail` at byte 0 of a JPEG, as the reader reports it: for tests that need a
    /// record that could not be read.
    #[cfg(test)]
    pub(crate) fn damaged_jpeg(detail: &str) -> ReadError {
        ReadError::Media {
            format: crate::media::Format::Jpeg,
            error: Damage::new(MediaError::malformed("data", 0, detail)),
        }
    }
}

impl Damage {
    pub fn new(e: MediaError) -> Damage {
        Damage(Arc::new(e))
    }

    /// The error the container's reader reported.
    pub fn error(&self) -> &MediaError {
        &self.0
    }

    /// The byte of the file the damage is at, where the reader knows it.
    pub fn offset(&self) -> Option<u64> {
        match *self.0 {
            MediaError::Truncated { offset, .. }
            | MediaError::Malformed { offset, .. }
            | MediaError::TooLarge { offset, .. } => Some(offset),
            MediaError::Io(_) | MediaError::Unrecognised { .. } => None,
        }
    }
}

impl std::ops::Deref for Damage {
    type Target = MediaError;
    fn deref(&self) -> &MediaError {
        &self.0
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Damage {
    fn eq(&self, other: &Damage) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}
