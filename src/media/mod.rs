//! Locating metadata inside media containers, from bytes, with bounded reads.
//!
//! Each container module only *locates* metadata blocks (XMP packets, EXIF, IPTC-IIM) and
//! decodes the few small EXIF/IIM values consentry needs. Parsing XMP is `crate::xmp`'s job.
//! Every length read from a file is checked against the file size and a limit before use.

pub mod detect;
pub mod exif;
pub mod gif;
pub mod iptc;
pub mod isobmff;
pub mod jpeg;
pub mod png;
pub mod psd;
pub mod raf;
pub mod source;
pub mod tiff;
pub mod webp;

pub use detect::{detect, Embedding, Format, MediaKind};
pub use source::{FileAt, FileSource, ReadAt, Window};

// The limits of every container walk, in one table: reading metadata, finding previews and
// planning a write-back splice all walk through the walkers of this module under these limits
// (before, write-back had its own 64 MiB and 256 MiB limits beside the reader's 32 MiB).

/// Largest XMP packet (or assembled extended XMP) accepted. Real packets are kilobytes; Photoshop
/// history and thumbnails reach a few MB. Larger claims are hostile or broken.
pub const MAX_XMP: u64 = 32 << 20;
/// Most XMP packets read from one file. Real files hold one or two; thousands of tiny packets are
/// hostile (each is parsed on its own).
pub const MAX_XMP_PACKETS: usize = 1000;
/// Largest EXIF / IPTC / Photoshop resource block read into memory.
pub const MAX_BLOCK: u64 = 8 << 20;
/// Largest ISOBMFF `meta` box read whole (HEIF item tables).
pub const MAX_META_BOX: u64 = 16 << 20;
/// Most boxes / chunks / segments / IFD entries walked in one file before giving up.
pub const MAX_ITEMS: usize = 100_000;
/// Largest embedded preview (thumbnail JPEG, reduced RGB image) read.
pub const MAX_PREVIEW: u64 = 32 << 20;
/// Most IFDs visited in one TIFF structure looking for previews (chain and SubIFDs).
pub const MAX_IFDS: usize = 64;
/// Most strips of a preview (reduced images have a few).
pub const MAX_STRIPS: u64 = 4096;

/// Metadata located in one media file (not sidecars).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metadata {
    /// XMP packets in file order.
    pub xmp: Vec<Packet>,
    /// JPEG extended XMP, assembled per GUID (32 hex digits), in order of first appearance; the
    /// offset is the file offset of its first segment.
    pub extended_xmp: Vec<(String, Packet)>,
    /// EXIF fields consentry reads.
    pub exif: ExifFields,
    /// IPTC-IIM 2:25 Keywords, decoded (UTF-8 when 1:90 says so, else Latin-1).
    pub iptc_keywords: Vec<String>,
    /// QuickTime/MP4 `mvhd` creation time, seconds since 1904-01-01T00:00:00Z (0 = unset).
    pub quicktime_created: Option<u64>,
}

/// An XMP packet located in a media file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The file offset of the packet's first byte, for messages that name the byte in the file
    /// where a packet goes wrong.
    pub offset: u64,
    /// The raw bytes (UTF-8 or UTF-16 as written).
    pub bytes: Vec<u8>,
}

/// For the tests: what each packet holds and where.
#[cfg(test)]
impl Metadata {
    /// The bytes of each packet of `xmp`.
    pub(crate) fn xmp_bytes(&self) -> Vec<Vec<u8>> {
        self.xmp.iter().map(|p| p.bytes.clone()).collect()
    }

    /// The file offset of each packet of `xmp`.
    pub(crate) fn xmp_offsets(&self) -> Vec<u64> {
        self.xmp.iter().map(|p| p.offset).collect()
    }
}

/// EXIF values consentry reads.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExifFields {
    /// IFD0 0x9C9E XPKeywords, decoded from UTF-16LE (trailing NULs removed), not split.
    pub xp_keywords: Option<String>,
    /// Exif IFD 0x9003 DateTimeOriginal as written, e.g. `2024:03:01 10:22:33`.
    pub date_time_original: Option<String>,
    /// Exif IFD 0x9011 OffsetTimeOriginal as written, e.g. `+01:00`.
    pub offset_time_original: Option<String>,
}

impl ExifFields {
    /// Fill fields that are still empty from `other` (first source wins).
    pub fn merge_missing(&mut self, other: ExifFields) {
        if self.xp_keywords.is_none() {
            self.xp_keywords = other.xp_keywords;
        }
        if self.date_time_original.is_none() {
            self.date_time_original = other.date_time_original;
            if self.offset_time_original.is_none() {
                self.offset_time_original = other.offset_time_original;
            }
        }
    }
}

/// Why a container could not be read. Offsets are byte offsets from the start of the file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    #[error("truncated: {what} at byte {offset} needs {needed} bytes, but the file has {len}")]
    Truncated { what: &'static str, offset: u64, needed: u64, len: u64 },
    #[error("malformed {what} at byte {offset}: {detail}")]
    Malformed { what: &'static str, offset: u64, detail: String },
    #[error("{what} at byte {offset} is {size} bytes, more than the limit of {limit}")]
    TooLarge { what: &'static str, offset: u64, size: u64, limit: u64 },
    #[error("not a recognised {expected} file (starts with {magic})")]
    Unrecognised { expected: &'static str, magic: String },
}

impl MediaError {
    pub fn malformed(what: &'static str, offset: u64, detail: impl Into<String>) -> Self {
        MediaError::Malformed { what, offset, detail: detail.into() }
    }
}

/// Locate the metadata of a file whose format was detected from its first bytes.
/// Formats without embedded metadata consentry can read (some RAW kinds) return empty metadata.
///
/// A file that cannot be read completely (damage, a limit reached) returns what was located
/// before the problem together with the problem: persons named there stay known, and the
/// problem makes the file unreadable.
pub fn read_metadata(src: &dyn ReadAt, format: Format) -> (Metadata, Option<MediaError>) {
    let mut meta = Metadata::default();
    let result = match format {
        Format::Jpeg => jpeg::read_into(src, &mut meta),
        Format::Tiff | Format::Dng | Format::TiffRaw => tiff::read_into(src, &mut meta),
        Format::Png => png::read_into(src, &mut meta),
        Format::WebP => webp::read_into(src, &mut meta),
        Format::Gif => gif::read_into(src, &mut meta),
        Format::Psd => psd::read_into(src, &mut meta),
        Format::Heif | Format::Avif | Format::Mp4 | Format::Mov | Format::Cr3 => isobmff::read_into(src, &mut meta),
        Format::Raf => raf::read_into(src, &mut meta),
        Format::RawSidecarOnly => Ok(()),
    };
    (meta, result.err())
}

/// One block of a container's layout, as its walker yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// What the block is in its format: a JPEG marker, a TIFF tag, a PNG chunk type or an ISOBMFF
    /// box type (four bytes, big-endian), a Photoshop resource id; 0 for a RAF's embedded JPEG.
    pub id: u32,
    /// File offset of the block's first byte (marker, entry, chunk length, box size, signature).
    pub at: u64,
    /// Its length in bytes (for an IFD entry: the entry's own bytes).
    pub len: u64,
}

/// The blocks of a file of `format`, walked by its format's layout walker (the ones reading
/// metadata, finding previews and planning a write-back use): JPEG segments up to the image data,
/// the entries of each IFD of a TIFF chain (IFD0, IFD1, ...), PNG chunks, ISOBMFF top-level boxes and the children
/// of `moov`, PSD image resources, a RAF's embedded JPEG and its segments. GIF and WebP have no
/// walker here (an empty list). Bounded like every walk ([`MAX_ITEMS`]); for tests
/// and fuzzing, and to look at a file.
pub fn layout(src: &dyn ReadAt, format: Format) -> Result<Vec<Block>, MediaError> {
    let mut out = Vec::new();
    let jpeg = |start: u64, end: u64, out: &mut Vec<Block>| -> Result<(), MediaError> {
        jpeg::start_of_image(src, start, end)?;
        for seg in jpeg::segments(src, start, end) {
            let seg = seg?;
            if seg.truncated {
                return Err(seg.cut_short(end));
            }
            out.push(Block { id: u32::from(seg.marker), at: seg.at, len: seg.len + 2 });
        }
        Ok(())
    };
    let fourcc = |k: [u8; 4]| u32::from_be_bytes(k);
    match format {
        Format::Jpeg => jpeg(0, src.len(), &mut out)?,
        Format::Tiff | Format::Dng | Format::TiffRaw => {
            let (t, ifd0) = tiff::header(src)?;
            for ifd in t.chain(ifd0) {
                for e in ifd?.1 {
                    out.push(Block { id: u32::from(e.tag), at: e.at(&t), len: t.entry_len() });
                }
            }
        }
        Format::Png => {
            for chunk in png::chunks(src) {
                let c = chunk?;
                out.push(Block { id: fourcc(c.kind), at: c.at, len: c.end() - c.at });
            }
        }
        Format::Heif | Format::Avif | Format::Mp4 | Format::Mov | Format::Cr3 => {
            for top in isobmff::boxes(src, 0, src.len()) {
                let top = top?;
                out.push(Block { id: fourcc(top.kind), at: top.start, len: top.size() });
                if &top.kind == b"moov" {
                    for b in isobmff::boxes(src, top.body, top.end) {
                        let b = b?;
                        out.push(Block { id: fourcc(b.kind), at: b.start, len: b.size() });
                    }
                }
            }
        }
        Format::Psd => {
            let (section, resources) = psd::resources(src)?;
            for r in resources {
                out.push(Block { id: u32::from(r.id), at: r.at, len: r.end(section.end) - r.at });
            }
        }
        Format::Raf => {
            let embedded = raf::embedded_jpeg(src)?;
            out.push(Block { id: 0, at: embedded.start, len: embedded.end - embedded.start });
            jpeg(embedded.start, embedded.end, &mut out)?;
        }
        Format::WebP | Format::Gif | Format::RawSidecarOnly => {}
    }
    Ok(out)
}

/// The fixed header of a format: the first `len` bytes of `src`, which start with `magic`
/// (`expected` names the format); a file starting otherwise is not of the format, a shorter one
/// is truncated.
pub(crate) fn fixed_header<'a>(
    src: &'a dyn ReadAt,
    what: &'static str,
    expected: &'static str,
    magic: &[u8],
    len: u64,
) -> Result<std::borrow::Cow<'a, [u8]>, MediaError> {
    let head = src.slice(what, 0, src.len().min(len), len)?;
    if !head.starts_with(magic) {
        return Err(MediaError::Unrecognised { expected, magic: jpeg::hex(&head[..head.len().min(magic.len())]) });
    }
    if (head.len() as u64) < len {
        return Err(MediaError::Truncated { what, offset: 0, needed: len, len: src.len() });
    }
    Ok(head)
}

/// A layout walk as an iterator: `step` gives the next block, `None` at the end or an error; the
/// walk ends after the end or the first error.
pub(crate) fn walk<T>(
    mut step: impl FnMut() -> Result<Option<T>, MediaError>,
) -> impl Iterator<Item = Result<T, MediaError>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let next = step().transpose();
        done = !matches!(next, Some(Ok(_)));
        next
    })
}

/// A reader that fills `Metadata` as it goes, as a function returning all of it or the error
/// (for callers and tests that do not need what was located before a problem).
pub(crate) fn whole(
    src: &dyn ReadAt,
    read_into: impl FnOnce(&dyn ReadAt, &mut Metadata) -> Result<(), MediaError>,
) -> Result<Metadata, MediaError> {
    let mut meta = Metadata::default();
    read_into(src, &mut meta).map(|()| meta)
}

/// Test helper: calls `f` with every prefix of `file` and with every single-byte flip of it (three
/// masks per byte), the damage real files suffer. Readers must return, never panic or hang.
#[cfg(test)]
pub(crate) fn for_each_damaged(file: &[u8], mut f: impl FnMut(&Vec<u8>)) {
    for n in 0..file.len() {
        f(&file[..n].to_vec());
    }
    for i in 0..file.len() {
        for x in [0x01, 0x80, 0xFF] {
            let mut b = file.to_vec();
            b[i] ^= x;
            f(&b);
        }
    }
}
