//! Thumbnails for the HTML report (SPEC.md 7): the embedded preview where there is one, else a
//! reduced-size decode of the image; a placeholder for video and for files without either.
//!
//! Previews, found through the layout walkers of [`crate::media`] (the ones the scan reads with,
//! under the same limits), with bounded reads (the file is never loaded whole):
//! - JPEG: the EXIF thumbnail (IFD1 JPEGInterchangeFormat / JPEGInterchangeFormatLength);
//! - TIFF, DNG and TIFF-based RAW: JPEG previews in IFD0, the IFD chain and SubIFDs (old- and
//!   new-style JPEG strips, JPEGInterchangeFormat), and uncompressed 8-bit RGB reduced images;
//!   a plain TIFF's IFD0 is the image itself, not a preview;
//! - RAF: the embedded JPEG and its EXIF thumbnail;
//! - PSD: image resource 0x040C (0x0409 in Photoshop 4, BGR), JFIF after a 28-byte header;
//! - CR3: the `THMB` JPEG (`moov/uuid` Canon) and the `PRVW` JPEG (top-level `uuid`).
//!
//! Of several previews the smallest whose longer side reaches `max_side` is used, else the
//! largest; a preview that does not decode gives way to the next. JPEG, PNG, GIF, WebP and TIFF
//! without a usable preview are decoded whole, bounded by [`MAX_PIXELS`] and [`MAX_ALLOC`]
//! (larger images are refused, not allocated); the `image` crate has no scaled JPEG decode, so
//! "reduced-size" means the result, not the work. HEIF/AVIF (no decoder here), RAW without a
//! preview, and video get placeholders. Decodes running at the same time share a memory budget
//! ([`DECODE_BUDGET`]), so many cores do not multiply the peak.
//!
//! Every thumbnail is decoded, scaled to at most `max_side`, turned as the EXIF orientation says
//! and encoded afresh as a baseline JPEG: no metadata of the original reaches the report.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use image::{DynamicImage, ImageDecoder, ImageFormat, Limits};

use crate::media::isobmff::{self, BoxHeader};
use crate::media::jpeg;
use crate::media::source::{self, FileSource};
use crate::media::tiff::{self, Entry};
use crate::media::{detect, psd, raf, Format, MediaError, ReadAt, Window, MAX_IFDS, MAX_STRIPS};

/// The default longest side of a thumbnail, in pixels.
pub const DEFAULT_MAX_SIDE: u32 = 240;
/// Largest image decoded (pixels): about 67 megapixels. Larger images get a placeholder.
pub const MAX_PIXELS: u64 = 64 << 20;
/// Largest allocation one decode may make (the decoded image included).
pub const MAX_ALLOC: u64 = 256 << 20;
/// Memory shared by all decodes running at the same time.
pub const DECODE_BUDGET: u64 = 2 * MAX_ALLOC;
/// Largest embedded preview read (the media walkers' limit).
pub const MAX_PREVIEW_BYTES: u64 = crate::media::MAX_PREVIEW;
/// Largest compressed JPEG stream read for a whole-image decode.
pub const MAX_JPEG_BYTES: u64 = 128 << 20;
/// Quality of the thumbnails written.
const JPEG_QUALITY: u8 = 82;

/// A thumbnail, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thumb {
    /// A baseline JPEG whose longer side is at most the `max_side` asked for.
    Jpeg { data: Vec<u8>, width: u32, height: u32, source: ThumbSource },
    /// No image: what to show instead, and why (for logs and tooltips; no personal data).
    Placeholder { kind: Placeholder, reason: String },
}

/// Where a thumbnail's pixels came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbSource {
    /// An embedded preview (EXIF thumbnail, RAW preview, PSD thumbnail resource).
    Preview,
    /// The image itself, decoded and scaled down.
    Decoded,
}

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// A video (no frame is decoded).
    Video,
    /// A readable file of a kind without preview or decoder here (HEIF, AVIF, RAW without
    /// preview, PSD without thumbnail), or an image too large to decode.
    NoPreview,
    /// The file or its preview could not be read or decoded.
    Unreadable,
}

impl Placeholder {
    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Video => "video",
            Placeholder::NoPreview => "no-preview",
            Placeholder::Unreadable => "unreadable",
        }
    }

    /// Short text shown in the placeholder box.
    pub fn label(self) -> &'static str {
        match self {
            Placeholder::Video => "Video",
            Placeholder::NoPreview => "No preview",
            Placeholder::Unreadable => "Unreadable",
        }
    }
}

impl Thumb {
    fn placeholder(kind: Placeholder, reason: impl Into<String>) -> Thumb {
        Thumb::Placeholder { kind, reason: reason.into() }
    }
}

/// Why no thumbnail was made: the file is broken, or there is nothing to show.
enum Failure {
    Unreadable(String),
    NoPreview(String),
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Self {
        Failure::Unreadable(e.to_string())
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Unreadable(format!("read error: {e}"))
    }
}

impl From<image::ImageError> for Failure {
    fn from(e: image::ImageError) -> Self {
        match e {
            image::ImageError::Limits(l) => Failure::NoPreview(format!("too large to decode: {l}")),
            image::ImageError::Unsupported(u) => Failure::NoPreview(format!("cannot decode: {u}")),
            e => Failure::Unreadable(format!("cannot decode: {e}")),
        }
    }
}

/// The thumbnail of the media file at `path`, of `format` as the scan detected it (`None`: from
/// the file's first bytes). The longer side is at most `max_side` (16 to 4096). Never panics;
/// every problem becomes a placeholder.
pub fn thumbnail(path: &Path, format: Option<Format>, max_side: u32) -> Thumb {
    let max_side = max_side.clamp(16, 4096);
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(path, format, max_side)));
    match made {
        Ok(Ok(t)) => t,
        Ok(Err(Failure::Unreadable(why))) => Thumb::placeholder(Placeholder::Unreadable, why),
        Ok(Err(Failure::NoPreview(why))) => Thumb::placeholder(Placeholder::NoPreview, why),
        Err(_) => Thumb::placeholder(Placeholder::Unreadable, "internal error while decoding"),
    }
}

fn make(path: &Path, format: Option<Format>, max_side: u32) -> Result<Thumb, Failure> {
    let (file, meta) = source::open_file(path)?;
    let src = FileSource::open_with_len(file, Some(meta.len()))?;
    let format = match format {
        Some(f) => f,
        None => {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            detect(src.head(), &ext).ok_or_else(|| Failure::Unreadable("not a recognised media file".into()))?
        }
    };
    from_source(&src, format, max_side)
}

/// The thumbnail of the file of `format` that `src` reads.
fn from_source(src: &dyn ReadAt, format: Format, max_side: u32) -> Result<Thumb, Failure> {
    match format {
        Format::Mp4 | Format::Mov => return Ok(Thumb::placeholder(Placeholder::Video, "video")),
        Format::Heif | Format::Avif => {
            return Ok(Thumb::placeholder(Placeholder::NoPreview, "HEIF/AVIF images are not decoded"))
        }
        Format::RawSidecarOnly => return Ok(Thumb::placeholder(Placeholder::NoPreview, "RAW without preview")),
        _ => {}
    }
    let found = previews(src, format);
    let mut failed: Option<Failure> = None;
    if let Ok(found) = &found {
        for p in choose(&found.previews, max_side) {
            match decode_preview(src, p, max_side, found.orientation) {
                Ok(t) => return Ok(t),
                Err(e) => failed = Some(e),
            }
        }
    }
    let whole = match format {
        Format::Jpeg => Some(ImageFormat::Jpeg),
        Format::Png => Some(ImageFormat::Png),
        Format::Gif => Some(ImageFormat::Gif),
        Format::WebP => Some(ImageFormat::WebP),
        Format::Tiff => Some(ImageFormat::Tiff),
        _ => None,
    };
    if let Some(image_format) = whole {
        return decode_whole(src, format, image_format, max_side);
    }
    match (found, failed) {
        (Err(e), _) => Err(e.into()),
        (Ok(_), Some(e)) => Err(e),
        (Ok(_), None) => Err(Failure::NoPreview(format!("no embedded preview in this {} file", format.as_str()))),
    }
}

// ---------------------------------------------------------------------------------------------
// Locating previews
// ---------------------------------------------------------------------------------------------

/// An embedded preview: where its bytes are and how big it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Preview {
    width: u32,
    height: u32,
    kind: PreviewKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PreviewKind {
    /// A JPEG stream at `at`, `len` bytes; `bgr`: channels stored blue first (PSD 0x0409).
    Jpeg { at: u64, len: u64, bgr: bool },
    /// Uncompressed interleaved 8-bit RGB in strips (file offset, length), in order.
    Rgb8 { strips: Vec<(u64, u64)> },
}

/// The previews of a file and the EXIF orientation of the image (1 to 8).
#[derive(Debug, Default)]
struct Found {
    previews: Vec<Preview>,
    orientation: u16,
}

/// The width and height of each embedded preview of a file of `format` that `src` reads, found
/// as [`thumbnail`] finds them (for tests and fuzzing).
pub fn preview_sizes(src: &dyn ReadAt, format: Format) -> Result<Vec<(u32, u32)>, MediaError> {
    Ok(previews(src, format)?.previews.iter().map(|p| (p.width, p.height)).collect())
}

fn previews(src: &dyn ReadAt, format: Format) -> Result<Found, MediaError> {
    let mut found = Found { previews: Vec::new(), orientation: 1 };
    match format {
        Format::Jpeg => exif_previews(src, 0, src.len(), &mut found)?,
        Format::Tiff | Format::Dng | Format::TiffRaw => {
            tiff_previews(src, 0, src.len(), format != Format::Tiff, &mut found)?
        }
        Format::Raf => raf_previews(src, &mut found)?,
        Format::Psd => psd_previews(src, &mut found)?,
        Format::Cr3 => cr3_previews(src, &mut found)?,
        _ => {}
    }
    if !(1..=8).contains(&found.orientation) {
        found.orientation = 1;
    }
    Ok(found)
}

/// Most previews tried in one file (each failing one costs a decode attempt).
const MAX_TRIES: usize = 8;

/// The previews to try, best first: the smallest reaching `max_side`, then larger ones, then
/// smaller ones from the largest down; each once, at most [`MAX_TRIES`].
fn choose(previews: &[Preview], max_side: u32) -> Vec<&Preview> {
    let side = |p: &Preview| p.width.max(p.height);
    let area = |p: &Preview| u64::from(p.width) * u64::from(p.height);
    let (mut big, mut small): (Vec<&Preview>, Vec<&Preview>) = previews.iter().partition(|p| side(p) >= max_side);
    big.sort_by_key(|p| area(p));
    small.sort_by_key(|p| std::cmp::Reverse(area(p)));
    let mut out: Vec<&Preview> = Vec::new();
    for p in big.into_iter().chain(small) {
        if !out.contains(&p) && out.len() < MAX_TRIES {
            out.push(p);
        }
    }
    out
}

/// A JPEG preview found at `at..at + len`, if it is a JPEG a baseline or progressive decoder
/// reads (lossless JPEG, as in RAW image data, is not a preview).
fn jpeg_preview(src: &dyn ReadAt, at: u64, len: u64, bgr: bool) -> Option<Preview> {
    let end = at.checked_add(len)?;
    if len < 4 || end > src.len() || len > MAX_PREVIEW_BYTES {
        return None;
    }
    let (width, height) = jpeg_size(src, at, end)?;
    Some(Preview { width, height, kind: PreviewKind::Jpeg { at, len, bgr } })
}

/// Width and height from the frame header of the JPEG in `src[start..end]`, walking the marker
/// segments up to it. `None` when there is none before the scan data, or when the frame is not
/// baseline, extended or progressive Huffman (lossless, hierarchical, arithmetic coding).
fn jpeg_size(src: &dyn ReadAt, start: u64, end: u64) -> Option<(u32, u32)> {
    jpeg::start_of_image(src, start, end).ok()?;
    for seg in jpeg::segments(src, start, end) {
        let seg = seg.ok()?;
        match seg.marker {
            0xD8..=0xDA => return None,
            _ if seg.truncated => return None,
            0xC0..=0xC2 => {
                if seg.at + 9 > end {
                    return None;
                }
                let sof = src.slice("JPEG frame header", seg.body(), 5, 5).ok()?;
                let h = u32::from(u16::from_be_bytes([sof[1], sof[2]]));
                let w = u32::from(u16::from_be_bytes([sof[3], sof[4]]));
                return (w > 0 && h > 0).then_some((w, h));
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
    }
    None
}

/// The EXIF thumbnail (and orientation) of the JPEG in `src[start..end]`, from its first
/// `Exif` APP1 segment. A JPEG without one has no previews; a broken one is not an error.
fn exif_previews(src: &dyn ReadAt, start: u64, end: u64, found: &mut Found) -> Result<(), MediaError> {
    jpeg::start_of_image(src, start, end)?;
    for seg in jpeg::segments(src, start, end) {
        let seg = match seg {
            Ok(seg) => seg,
            // A damaged marker only ends the search; a failed read is an error.
            Err(MediaError::Malformed { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if seg.marker == 0xD8 || seg.marker == 0xD9 || seg.marker == 0xDA || seg.truncated {
            return Ok(());
        }
        if seg.marker == 0xE1 && seg.len >= 2 + 6 + 8 {
            let id = src.slice("APP1 identifier", seg.body(), 6, 6)?;
            if id.starts_with(b"Exif\0") {
                // Lenient: a broken EXIF block only loses the thumbnail.
                let _ = tiff_previews(src, seg.body() + 6, seg.end(), true, found);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The RAF's embedded JPEG and the EXIF thumbnail inside it.
fn raf_previews(src: &dyn ReadAt, found: &mut Found) -> Result<(), MediaError> {
    let jpeg = raf::embedded_jpeg(src)?;
    found.previews.extend(jpeg_preview(src, jpeg.start, jpeg.end - jpeg.start, false));
    exif_previews(src, jpeg.start, jpeg.end, found)
}

/// The thumbnail resource of a PSD/PSB (0x040C, else Photoshop 4's 0x0409).
fn psd_previews(src: &dyn ReadAt, found: &mut Found) -> Result<(), MediaError> {
    for res in psd::resources(src)?.1 {
        let bgr = match res.id {
            0x040C => false,
            0x0409 => true,
            _ => continue,
        };
        let len = res.data.end - res.data.start;
        if len <= 28 {
            continue;
        }
        let header = src.slice("PSD thumbnail header", res.data.start, 28, 28)?;
        if header[..4] != [0, 0, 0, 1] {
            continue; // 0: raw RGB, not written by Photoshop
        }
        found.previews.extend(jpeg_preview(src, res.data.start + 28, len - 28, bgr));
    }
    Ok(())
}

/// The boxes in `src[start..end]` ([`isobmff::boxes`]) up to the first that is damaged or runs
/// past `end`: a broken box only loses the previews after it. A failed read is an error (as in
/// [`exif_previews`]), not the end of the boxes.
fn boxes(src: &dyn ReadAt, start: u64, end: u64) -> Result<Vec<BoxHeader>, MediaError> {
    let mut out = Vec::new();
    for b in isobmff::boxes(src, start, end) {
        match b {
            Ok(b) => out.push(b),
            Err(MediaError::Io(e)) => return Err(MediaError::Io(e)),
            Err(_) => break,
        }
    }
    Ok(out)
}

const CANON_UUID: [u8; 16] =
    [0x85, 0xC0, 0xB6, 0x87, 0x82, 0x0F, 0x11, 0xE0, 0x81, 0x11, 0xF4, 0xCE, 0x46, 0x2B, 0x6A, 0x48];
const CR3_PREVIEW_UUID: [u8; 16] =
    [0xEA, 0xF4, 0x2B, 0x5E, 0x1C, 0x98, 0x4B, 0x88, 0xB9, 0xFB, 0xB7, 0xDC, 0x40, 0x6E, 0x4D, 0x16];

/// CR3: the `THMB` JPEG in `moov/uuid`(Canon) and the `PRVW` JPEG in the top-level preview `uuid`.
fn cr3_previews(src: &dyn ReadAt, found: &mut Found) -> Result<(), MediaError> {
    for top in boxes(src, 0, src.len())? {
        match &top.kind {
            b"moov" => {
                for b in boxes(src, top.body, top.end)? {
                    if &b.kind == b"uuid" && b.end - b.body > 16 && isobmff::uuid(src, &b) == Some(CANON_UUID) {
                        for t in boxes(src, b.body + 16, b.end)? {
                            if &t.kind == b"THMB" {
                                found.previews.extend(jpeg_in_box(src, t.body, t.end));
                            }
                        }
                    }
                }
            }
            b"uuid" if top.end - top.body > 24 && isobmff::uuid(src, &top) == Some(CR3_PREVIEW_UUID) => {
                // 8 bytes Canon keeps before the PRVW box
                for p in boxes(src, top.body + 24, top.end)? {
                    if &p.kind == b"PRVW" {
                        found.previews.extend(jpeg_in_box(src, p.body, p.end));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A JPEG starting within the first 64 bytes of a box body and running to its end.
fn jpeg_in_box(src: &dyn ReadAt, body: u64, end: u64) -> Option<Preview> {
    let head = src.slice("preview box", body, (end - body).min(64), 64).ok()?;
    let soi = head.windows(3).position(|w| w == [0xFF, 0xD8, 0xFF])? as u64;
    jpeg_preview(src, body + soi, end - body - soi, false)
}

// ----- TIFF ----------------------------------------------------------------------------------

const TAG_WIDTH: u16 = 256;
const TAG_HEIGHT: u16 = 257;
const TAG_BITS: u16 = 258;
const TAG_COMPRESSION: u16 = 259;
const TAG_PHOTOMETRIC: u16 = 262;
const TAG_STRIP_OFFSETS: u16 = 273;
const TAG_ORIENTATION: u16 = 274;
const TAG_SAMPLES: u16 = 277;
const TAG_STRIP_BYTES: u16 = 279;
const TAG_PLANAR: u16 = 284;
const TAG_JPEG_OFFSET: u16 = 0x0201;
const TAG_JPEG_LENGTH: u16 = 0x0202;

/// A classic TIFF structure at `base` in `src` (a whole file, or an EXIF block), walked by
/// [`tiff::Tiff`] over the window `src[base..end]`: offsets in it are relative to `base`.
struct Tiff<'a> {
    t: tiff::Tiff<'a>,
    src: &'a dyn ReadAt,
    base: u64,
    end: u64,
}

impl Tiff<'_> {
    /// The integer values of a SHORT, LONG or IFD entry (at most [`MAX_STRIPS`]).
    fn ints(&self, e: &Entry) -> Option<Vec<u64>> {
        self.t.ints(e, MAX_STRIPS)
    }

    fn int(&self, entries: &[Entry], tag: u16) -> Option<u64> {
        entries.iter().find(|e| e.tag == tag).and_then(|e| self.ints(e)).and_then(|v| v.first().copied())
    }

    fn all(&self, entries: &[Entry], tag: u16) -> Option<Vec<u64>> {
        entries.iter().find(|e| e.tag == tag).and_then(|e| self.ints(e))
    }
}

/// The previews of the TIFF structure at `base`, and its orientation: walks IFD0 and its chain
/// ([`tiff::Tiff::chain`]), and after each IFD of the chain its SubIFDs, two levels deep
/// ([`tiff::Tiff::sub_ifds`]); at most [`MAX_IFDS`] IFDs in all, each once. IFD0 counts only when
/// `ifd0_is_preview` (a plain TIFF's IFD0 is the image itself). A broken IFD0 is an error; a
/// broken later IFD only loses its preview (and, in the chain, those after it).
fn tiff_previews(
    src: &dyn ReadAt,
    base: u64,
    end: u64,
    ifd0_is_preview: bool,
    found: &mut Found,
) -> Result<(), MediaError> {
    let window = Window::new(src, base, end);
    let (walker, ifd0) = tiff::header(&window)?;
    if walker.is_big() {
        return Ok(()); // BigTIFF: no previews looked for
    }
    let t = Tiff { t: walker, src, base, end };
    let mut seen = HashSet::new();
    // An IFD not to walk: inside the header, seen before, or past the limit.
    let mut skip = |off: u64| off < 8 || seen.len() >= MAX_IFDS || !seen.insert(off);
    for (i, ifd) in walker.chain(ifd0).enumerate() {
        let (off, entries) = match ifd {
            Ok(x) => x,
            Err(e) if i == 0 => return Err(e),
            Err(_) => break, // a broken later IFD (or a loop) ends the chain
        };
        if skip(off) {
            break;
        }
        if i == 0 {
            found.orientation = t.int(&entries, TAG_ORIENTATION).unwrap_or(1) as u16;
        }
        if i > 0 || ifd0_is_preview {
            found.previews.extend(ifd_preview(&t, &entries));
        }
        // Its SubIFDs, depth first (the last listed first), two levels deep.
        let mut subs: Vec<(u64, u8)> = walker.sub_ifds(&entries, MAX_STRIPS).into_iter().map(|o| (o, 1)).collect();
        while let Some((off, depth)) = subs.pop() {
            if skip(off) {
                continue;
            }
            let Ok((entries, _)) = walker.ifd_and_next(off) else { continue };
            found.previews.extend(ifd_preview(&t, &entries));
            if depth < 2 {
                subs.extend(walker.sub_ifds(&entries, MAX_STRIPS).into_iter().map(|o| (o, depth + 1)));
            }
        }
    }
    Ok(())
}

/// The preview an IFD holds, if it holds one: a JPEG (JPEGInterchangeFormat, or one JPEG strip)
/// or an uncompressed 8-bit RGB image. Raw image data (CFA, linear raw) is not a preview.
fn ifd_preview(t: &Tiff, entries: &[Entry]) -> Option<Preview> {
    let file = |off: u64| t.base.checked_add(off);
    if let (Some(at), Some(len)) = (t.int(entries, TAG_JPEG_OFFSET), t.int(entries, TAG_JPEG_LENGTH)) {
        let at = file(at)?;
        if at.saturating_add(len) <= t.end {
            if let Some(p) = jpeg_preview(t.src, at, len, false) {
                return Some(p);
            }
        }
    }
    let photometric = t.int(entries, TAG_PHOTOMETRIC);
    let compression = t.int(entries, TAG_COMPRESSION).unwrap_or(1);
    let offsets = t.all(entries, TAG_STRIP_OFFSETS)?;
    let counts = t.all(entries, TAG_STRIP_BYTES)?;
    if offsets.len() != counts.len() {
        return None;
    }
    match compression {
        6 | 7 if offsets.len() == 1 && matches!(photometric, None | Some(1 | 2 | 6)) => {
            let at = file(offsets[0])?;
            if at.saturating_add(counts[0]) > t.end {
                return None;
            }
            jpeg_preview(t.src, at, counts[0], false)
        }
        1 if photometric == Some(2)
            && t.int(entries, TAG_SAMPLES) == Some(3)
            && t.all(entries, TAG_BITS).is_some_and(|b| b.iter().all(|&x| x == 8))
            && t.int(entries, TAG_PLANAR).unwrap_or(1) == 1 =>
        {
            let width = u32::try_from(t.int(entries, TAG_WIDTH)?).ok()?;
            let height = u32::try_from(t.int(entries, TAG_HEIGHT)?).ok()?;
            let need = u64::from(width) * u64::from(height) * 3;
            if width == 0 || height == 0 || need > MAX_PREVIEW_BYTES {
                return None;
            }
            let mut strips = Vec::new();
            let mut total = 0u64;
            for (&o, &n) in offsets.iter().zip(&counts) {
                let at = file(o)?;
                if at.saturating_add(n) > t.end {
                    return None;
                }
                strips.push((at, n));
                total += n;
            }
            (total >= need).then_some(Preview { width, height, kind: PreviewKind::Rgb8 { strips } })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Memory in use by decodes, shared by all threads.
static BUDGET: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());

/// A share of [`DECODE_BUDGET`], given back when dropped.
struct Permit(u64);

impl Permit {
    /// Wait until `bytes` fit in the budget (at once when nothing else is decoding).
    fn take(bytes: u64) -> Permit {
        let (lock, freed) = &BUDGET;
        let mut used = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + bytes > DECODE_BUDGET {
            used = freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Permit(bytes)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let (lock, freed) = &BUDGET;
        let mut used = lock.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.0);
        freed.notify_all();
    }
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_alloc = Some(MAX_ALLOC);
    l.max_image_width = Some(1 << 16);
    l.max_image_height = Some(1 << 16);
    l
}

/// Refuse images over [`MAX_PIXELS`] or whose decoded size passes [`MAX_ALLOC`].
fn check_size(width: u32, height: u32, bytes_per_pixel: u64) -> Result<u64, Failure> {
    let pixels = u64::from(width) * u64::from(height);
    let bytes = pixels * bytes_per_pixel.max(1);
    if pixels == 0 {
        return Err(Failure::Unreadable("the image has no pixels".into()));
    }
    if pixels > MAX_PIXELS || bytes > MAX_ALLOC {
        return Err(Failure::NoPreview(format!(
            "{width}x{height} pixels: too large to decode without a preview (limit {} megapixels)",
            MAX_PIXELS >> 20
        )));
    }
    Ok(bytes)
}

fn decode_preview(src: &dyn ReadAt, p: &Preview, max_side: u32, orientation: u16) -> Result<Thumb, Failure> {
    let img = match &p.kind {
        PreviewKind::Jpeg { at, len, bgr } => {
            let bytes = check_size(p.width, p.height, 4)?;
            let _permit = Permit::take(bytes + len);
            let data = src.slice("embedded preview", *at, *len, MAX_PREVIEW_BYTES)?;
            let mut decoder = image::codecs::jpeg::JpegDecoder::new(io::Cursor::new(&data[..]))?;
            decoder.set_limits(limits())?;
            let (w, h) = decoder.dimensions();
            check_size(w, h, decoder.color_type().bytes_per_pixel().into())?;
            let img = DynamicImage::from_decoder(decoder)?;
            let img = if *bgr { swap_red_blue(img) } else { img };
            shrink(img, max_side)
        }
        PreviewKind::Rgb8 { strips } => {
            let need = check_size(p.width, p.height, 3)?;
            let _permit = Permit::take(need * 2);
            let mut px = Vec::with_capacity(need as usize);
            for &(at, len) in strips {
                let take = len.min(need - px.len() as u64);
                px.extend_from_slice(&src.slice("preview strip", at, take, MAX_PREVIEW_BYTES)?);
                if px.len() as u64 == need {
                    break;
                }
            }
            let rgb = image::RgbImage::from_raw(p.width, p.height, px)
                .ok_or_else(|| Failure::Unreadable("preview strips too short".into()))?;
            shrink(DynamicImage::ImageRgb8(rgb), max_side)
        }
    };
    let orientation = image::metadata::Orientation::from_exif(orientation as u8)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    encode(orient(img, orientation), ThumbSource::Preview)
}

fn swap_red_blue(img: DynamicImage) -> DynamicImage {
    let mut rgb = img.into_rgb8();
    for px in rgb.pixels_mut() {
        px.0.swap(0, 2);
    }
    DynamicImage::ImageRgb8(rgb)
}

/// A positioned reader over `src[start..end]` (the image crate's decoders want `Read + Seek`).
struct Reader<'a> {
    src: &'a dyn ReadAt,
    start: u64,
    end: u64,
    pos: u64,
}

impl Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = self.start + self.pos;
        let n = (buf.len() as u64).min(self.end.saturating_sub(at)).min(1 << 20) as usize;
        if n == 0 {
            return Ok(0);
        }
        let data = self.src.read_exact_at(at, n)?;
        buf[..n].copy_from_slice(&data);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Reader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.end - self.start;
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

/// Where the JPEG stream starting at 0 ends (after its EOI marker), found by walking the marker
/// segments and scanning entropy-coded data for the next marker; at most `limit` bytes. Bytes
/// after EOI (camera padding, appended data) are then never read. Without an EOI: the file end.
fn jpeg_stream_end(src: &dyn ReadAt, limit: u64) -> u64 {
    let end = src.len().min(limit);
    // Where the walk starts: the SOI, then 2 bytes before the marker after each scan.
    let mut start = 0u64;
    loop {
        let mut after_scan = None;
        for seg in jpeg::segments(src, start, end) {
            let Ok(seg) = seg else { return end };
            match seg.marker {
                _ if seg.truncated => return end,
                jpeg::EOI => return seg.at + 2,
                jpeg::SOS => {
                    let Ok(len) = src.slice("JPEG scan header", seg.at + 2, 2, 2) else { return end };
                    let data = seg.at + 2 + u64::from(u16::from_be_bytes([len[0], len[1]]));
                    // Entropy-coded data: up to the next 0xFF not followed by 0x00 or a restart marker.
                    after_scan = next_marker(src, data, end);
                }
                _ => {}
            }
        }
        match after_scan {
            Some(next) if next > start + 2 => start = next - 2,
            _ => return end,
        }
    }
}

fn next_marker(src: &dyn ReadAt, mut pos: u64, end: u64) -> Option<u64> {
    const CHUNK: u64 = 1 << 16;
    while pos + 1 < end {
        let n = CHUNK.min(end - pos); // at least 2
        let data = src.read_exact_at(pos, n as usize).ok()?;
        let mut i = 0;
        while let Some(k) = memchr::memchr(0xFF, &data[i..]) {
            let at = i + k;
            let Some(&next) = data.get(at + 1) else { break };
            if !matches!(next, 0x00 | 0xD0..=0xD7 | 0xFF) {
                return Some(pos + at as u64);
            }
            i = at + 1;
        }
        // The last byte again: it may be an 0xFF whose partner is in the next chunk.
        pos += n - 1;
    }
    None
}

fn decode_whole(src: &dyn ReadAt, format: Format, image_format: ImageFormat, max_side: u32) -> Result<Thumb, Failure> {
    let end = if format == Format::Jpeg { jpeg_stream_end(src, MAX_JPEG_BYTES) } else { src.len() };
    let window = Reader { src, start: 0, end, pos: 0 };
    let mut reader = image::ImageReader::with_format(io::BufReader::with_capacity(1 << 16, window), image_format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    let bytes = check_size(w, h, decoder.color_type().bytes_per_pixel().into())?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let input = if format == Format::Jpeg { end } else { 0 }; // the JPEG decoder holds its input
    let _permit = Permit::take(bytes + input);
    let img = shrink(DynamicImage::from_decoder(decoder)?, max_side);
    encode(orient(img, orientation), ThumbSource::Decoded)
}

/// Scale down so that the longer side is at most `max_side` (never up), as 8-bit RGB with
/// transparency flattened onto white. Large images are first reduced by a whole factor with a
/// box filter (one pass, integer sums: much faster than a general resampler on megapixels),
/// then resampled to the exact size.
fn shrink(img: DynamicImage, max_side: u32) -> image::RgbImage {
    let (w, h) = (img.width(), img.height());
    // Both sides stay at least one pixel.
    let k = (w.max(h) / max_side).min(w.min(h)).clamp(1, 4096);
    let img = if k < 2 {
        img
    } else if img.color().has_alpha() {
        let rgba = img.into_rgba8();
        let raw = box_reduce::<4>(rgba.as_raw(), w, h, k);
        image::RgbaImage::from_raw(w / k, h / k, raw).map_or(DynamicImage::new_rgb8(1, 1), DynamicImage::ImageRgba8)
    } else {
        let rgb = img.into_rgb8();
        let raw = box_reduce::<3>(rgb.as_raw(), w, h, k);
        image::RgbImage::from_raw(w / k, h / k, raw).map_or(DynamicImage::new_rgb8(1, 1), DynamicImage::ImageRgb8)
    };
    let rgb = flatten(img);
    let (w, h) = rgb.dimensions();
    if w.max(h) <= max_side {
        return rgb;
    }
    let scaled =
        |a: u32, b: u32| ((u64::from(a) * u64::from(max_side) + u64::from(b) / 2) / u64::from(b)).max(1) as u32;
    let (nw, nh) = if w >= h { (max_side, scaled(h, w)) } else { (scaled(w, h), max_side) };
    bilinear(&rgb, nw, nh)
}

/// Resample `src` to `nw`×`nh` by bilinear interpolation (fixed point). For the last step of
/// [`shrink`], where the image is less than twice the size wanted; several times faster than
/// the `image` crate's general resamplers at thumbnail sizes.
fn bilinear(src: &image::RgbImage, nw: u32, nh: u32) -> image::RgbImage {
    let (w, h) = src.dimensions();
    // Source coordinate of each destination column or row, in 1/256 pixel, pixel centres aligned.
    let map = |n: u32, len: u32| -> Vec<(usize, usize, u32)> {
        (0..n)
            .map(|i| {
                let x = ((2 * u64::from(i) + 1) * u64::from(len) * 256 / (2 * u64::from(n))).saturating_sub(128);
                let x0 = ((x >> 8) as u32).min(len - 1);
                let x1 = (x0 + 1).min(len - 1);
                (x0 as usize, x1 as usize, (x & 255) as u32)
            })
            .collect()
    };
    let (xs, ys) = (map(nw, w), map(nh, h));
    let raw = src.as_raw();
    let stride = w as usize * 3;
    let mut out = Vec::with_capacity(nw as usize * nh as usize * 3);
    for &(y0, y1, fy) in &ys {
        let (r0, r1) = (&raw[y0 * stride..][..stride], &raw[y1 * stride..][..stride]);
        for &(x0, x1, fx) in &xs {
            for c in 0..3 {
                let top = u32::from(r0[x0 * 3 + c]) * (256 - fx) + u32::from(r0[x1 * 3 + c]) * fx;
                let bottom = u32::from(r1[x0 * 3 + c]) * (256 - fx) + u32::from(r1[x1 * 3 + c]) * fx;
                out.push(((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8);
            }
        }
    }
    image::RgbImage::from_raw(nw, nh, out).unwrap_or_else(|| image::RgbImage::new(nw, nh))
}

/// Average every `k`×`k` block of an interleaved 8-bit image of `C` channels (the last `w % k`
/// columns and `h % k` rows are dropped): `(w / k) × (h / k)` pixels. `k` at most 4096, so
/// that the sums fit in 32 bits.
fn box_reduce<const C: usize>(raw: &[u8], w: u32, h: u32, k: u32) -> Vec<u8> {
    let (w, nw, nh, k) = (w as usize, (w / k) as usize, (h / k) as usize, k as usize);
    let mut out = vec![0u8; nw * nh * C];
    if nw == 0 || nh == 0 {
        return out;
    }
    let mut sums = vec![[0u32; C]; nw];
    let area = (k * k) as u32;
    for (oy, out_row) in out.chunks_exact_mut(nw * C).enumerate() {
        sums.fill([0; C]);
        for y in oy * k..oy * k + k {
            let row = &raw[y * w * C..][..nw * k * C];
            for (block, sum) in row.chunks_exact(k * C).zip(sums.iter_mut()) {
                for px in block.chunks_exact(C) {
                    for c in 0..C {
                        sum[c] += u32::from(px[c]);
                    }
                }
            }
        }
        for (o, s) in out_row.chunks_exact_mut(C).zip(&sums) {
            for c in 0..C {
                o[c] = ((s[c] + area / 2) / area) as u8;
            }
        }
    }
    out
}

/// 8-bit RGB, transparency flattened onto white.
fn flatten(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = image::RgbImage::new(w, h);
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u16::from(src[c]) * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    rgb
}

/// Turn as EXIF orientation `o` (1 to 8) says.
fn orient(img: image::RgbImage, o: image::metadata::Orientation) -> image::RgbImage {
    if o == image::metadata::Orientation::NoTransforms {
        return img;
    }
    let mut img = DynamicImage::ImageRgb8(img);
    img.apply_orientation(o);
    img.into_rgb8()
}

/// The thumbnail as a baseline JPEG.
fn encode(rgb: image::RgbImage, source: ThumbSource) -> Result<Thumb, Failure> {
    let (width, height) = rgb.dimensions();
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| Failure::Unreadable(format!("cannot encode the thumbnail: {e}")))?;
    Ok(Thumb::Jpeg { data, width, height, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use consentry_synth::previews::{
        cr3_with_previews, exif_with_thumbnail, jpeg_image, jpeg_with_metadata, png_image, psd_with_thumbnail,
        raf_with_preview, tiff_with_previews, PreviewPlace,
    };
    use consentry_synth::{self as synth, Embed, SynthFormat};

    /// A JPEG of one colour.
    fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
        let px: Vec<u8> = (0..width * height).flat_map(|_| rgb).collect();
        let mut v = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut v, 90)
            .encode(&px, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        v
    }

    fn thumb(file: &[u8], format: Format, max_side: u32) -> Thumb {
        match from_source(&file.to_vec(), format, max_side) {
            Ok(t) => t,
            Err(Failure::Unreadable(r)) => Thumb::placeholder(Placeholder::Unreadable, r),
            Err(Failure::NoPreview(r)) => Thumb::placeholder(Placeholder::NoPreview, r),
        }
    }

    /// Width, height and source of a JPEG thumbnail, after checking it decodes to that size.
    fn jpeg(t: &Thumb) -> (u32, u32, ThumbSource) {
        match t {
            Thumb::Jpeg { data, width, height, source } => {
                let img = image::load_from_memory_with_format(data, ImageFormat::Jpeg).unwrap();
                assert_eq!((img.width(), img.height()), (*width, *height));
                (*width, *height, *source)
            }
            other => panic!("expected a JPEG, got {other:?}"),
        }
    }

    fn centre(t: &Thumb) -> [u8; 3] {
        let Thumb::Jpeg { data, .. } = t else { panic!("{t:?}") };
        let img = image::load_from_memory(data).unwrap().into_rgb8();
        img.get_pixel(img.width() / 2, img.height() / 2).0
    }

    fn placeholder(t: &Thumb) -> Placeholder {
        match t {
            Thumb::Placeholder { kind, .. } => *kind,
            other => panic!("expected a placeholder, got {other:?}"),
        }
    }

    fn red_thumb_jpeg(orientation: u16) -> Vec<u8> {
        let exif = exif_with_thumbnail(&solid(160, 120, [255, 0, 0]), orientation);
        jpeg_with_metadata(&jpeg_image(640, 480, 1), Some(&exif), Some("<x:xmpmeta/>"))
    }

    #[test]
    fn jpeg_uses_its_exif_thumbnail_and_orientation() {
        let t = thumb(&red_thumb_jpeg(1), Format::Jpeg, 240);
        assert_eq!(jpeg(&t), (160, 120, ThumbSource::Preview));
        let [r, g, b] = centre(&t);
        assert!(r > 200 && g < 60 && b < 60, "the thumbnail's pixels, not the image's: {r} {g} {b}");
        // Orientation 6 (turn 90 degrees clockwise) from IFD0 applies to the thumbnail.
        assert_eq!(jpeg(&thumb(&red_thumb_jpeg(6), Format::Jpeg, 240)), (120, 160, ThumbSource::Preview));
        // Smaller than asked: scaled down to the limit.
        assert_eq!(jpeg(&thumb(&red_thumb_jpeg(1), Format::Jpeg, 80)), (80, 60, ThumbSource::Preview));
    }

    #[test]
    fn a_50_megapixel_jpeg_with_a_preview_is_not_decoded() {
        // The main image's frame header says 8000 x 6250 and its scan data is gone: decoding it
        // could only fail. The EXIF thumbnail is all that is read and decoded.
        let mut file = red_thumb_jpeg(1);
        let sof = file.windows(2).rposition(|w| w == [0xFF, 0xC0]).unwrap();
        file[sof + 5..sof + 9].copy_from_slice(&[0x18, 0x6A, 0x1F, 0x40]);
        let sos = file.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        file.truncate(sos + 20);
        assert_eq!(jpeg(&thumb(&file, Format::Jpeg, 240)), (160, 120, ThumbSource::Preview));
    }

    #[test]
    fn jpeg_without_thumbnail_is_decoded_and_scaled() {
        let file = jpeg_with_metadata(&jpeg_image(640, 480, 2), None, Some("<x:xmpmeta/>"));
        assert_eq!(jpeg(&thumb(&file, Format::Jpeg, 240)), (240, 180, ThumbSource::Decoded));
        // Bytes after the end of the image (camera padding) are not needed.
        let mut padded = file.clone();
        padded.extend(std::iter::repeat_n(0xFF, 300_000));
        assert_eq!(jpeg_stream_end(&padded, u64::MAX), file.len() as u64);
        assert_eq!(jpeg(&thumb(&padded, Format::Jpeg, 240)), (240, 180, ThumbSource::Decoded));
        // A small image is not scaled up.
        let tiny = synth::build(SynthFormat::Jpeg, &Embed::default());
        assert_eq!(jpeg(&thumb(&tiny, Format::Jpeg, 240)), (8, 8, ThumbSource::Decoded));
    }

    #[test]
    fn a_broken_exif_thumbnail_falls_back_to_decoding() {
        let mut file = red_thumb_jpeg(1);
        // Break the thumbnail's SOF: its frame header is not baseline any more.
        let sof = file.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        file[sof + 1] = 0xC3;
        assert_eq!(jpeg(&thumb(&file, Format::Jpeg, 240)), (240, 180, ThumbSource::Decoded));
    }

    #[test]
    fn tiff_family_picks_the_smallest_preview_reaching_the_size() {
        let big = jpeg_image(1024, 768, 5);
        let small = solid(160, 120, [0, 0, 255]);
        let dng = tiff_with_previews(&[(PreviewPlace::SubIfd, &big), (PreviewPlace::NextIfd, &small)], 16, true, None);
        assert_eq!(jpeg(&thumb(&dng, Format::Dng, 240)), (240, 180, ThumbSource::Preview));
        let t = thumb(&dng, Format::Dng, 100);
        assert_eq!(jpeg(&t), (100, 75, ThumbSource::Preview));
        assert!(centre(&t)[2] > 200, "the 160 px preview: {:?}", centre(&t));
        // Only the 16 px RGB IFD0 and the 160 px JPEG: the largest.
        let dng = tiff_with_previews(&[(PreviewPlace::NextIfd, &small)], 16, true, None);
        assert_eq!(jpeg(&thumb(&dng, Format::Dng, 240)), (160, 120, ThumbSource::Preview));
        // Only the uncompressed RGB IFD0 of a DNG.
        let dng = tiff_with_previews(&[], 64, true, Some("<x:xmpmeta/>"));
        assert_eq!(jpeg(&thumb(&dng, Format::Dng, 240)), (64, 64, ThumbSource::Preview));
        // CR2 layout: a large JPEG as IFD0 and a small one in IFD1.
        let cr2 = tiff_with_previews(
            &[(PreviewPlace::Ifd0, &jpeg_image(1200, 800, 6)), (PreviewPlace::NextIfd, &small)],
            8,
            false,
            None,
        );
        assert_eq!(jpeg(&thumb(&cr2, Format::TiffRaw, 240)), (240, 160, ThumbSource::Preview));
        // The synthetic RAWs of the fixture archive: their 8x8 RGB IFD0.
        for f in [SynthFormat::Dng, SynthFormat::Cr2, SynthFormat::Nef, SynthFormat::Orf] {
            let file = synth::build(f, &Embed::default());
            let format = detect(&file, f.extension()).unwrap();
            assert_eq!(jpeg(&thumb(&file, format, 240)), (8, 8, ThumbSource::Preview), "{f:?}");
        }
    }

    #[test]
    fn plain_tiff_is_decoded_unless_it_has_a_preview() {
        let tif = tiff_with_previews(&[], 300, false, None);
        assert_eq!(jpeg(&thumb(&tif, Format::Tiff, 240)), (240, 240, ThumbSource::Decoded));
        let tif = tiff_with_previews(&[(PreviewPlace::NextIfd, &solid(250, 200, [0, 255, 0]))], 300, false, None);
        assert_eq!(jpeg(&thumb(&tif, Format::Tiff, 240)), (240, 192, ThumbSource::Preview));
        let tiny = synth::build(SynthFormat::Tiff, &Embed::default());
        assert_eq!(jpeg(&thumb(&tiny, Format::Tiff, 240)), (8, 8, ThumbSource::Decoded));
    }

    #[test]
    fn psd_thumbnail_resources() {
        let red = solid(160, 120, [255, 0, 0]);
        let t = thumb(&psd_with_thumbnail(&red, 160, 120, false, Some("<x/>")), Format::Psd, 240);
        assert_eq!(jpeg(&t), (160, 120, ThumbSource::Preview));
        assert!(centre(&t)[0] > 200);
        // Photoshop 4's resource keeps blue first: stored "red" is blue.
        let t = thumb(&psd_with_thumbnail(&red, 160, 120, true, None), Format::Psd, 240);
        let [r, _, b] = centre(&t);
        assert!(b > 200 && r < 60, "{r} {b}");
        let plain = synth::build(SynthFormat::Psd, &Embed::default());
        assert_eq!(placeholder(&thumb(&plain, Format::Psd, 240)), Placeholder::NoPreview);
    }

    #[test]
    fn raf_embedded_jpeg_and_its_exif_thumbnail() {
        let exif = exif_with_thumbnail(&solid(160, 120, [0, 0, 255]), 1);
        let preview = jpeg_with_metadata(&jpeg_image(1600, 1200, 7), Some(&exif), None);
        let raf = raf_with_preview(&preview);
        assert_eq!(jpeg(&thumb(&raf, Format::Raf, 240)), (240, 180, ThumbSource::Preview));
        let t = thumb(&raf, Format::Raf, 120);
        assert_eq!(jpeg(&t), (120, 90, ThumbSource::Preview));
        assert!(centre(&t)[2] > 200);
        let fixture = synth::build(SynthFormat::Raf, &Embed::default());
        assert_eq!(jpeg(&thumb(&fixture, Format::Raf, 240)), (8, 8, ThumbSource::Preview));
    }

    #[test]
    fn cr3_thmb_and_prvw() {
        let thmb = solid(160, 120, [0, 255, 0]);
        let prvw = jpeg_image(1620, 1080, 8);
        let both = cr3_with_previews(Some((&thmb, 160, 120)), Some((&prvw, 1620, 1080)));
        assert_eq!(detect(&both, "cr3"), Some(Format::Cr3));
        assert_eq!(jpeg(&thumb(&both, Format::Cr3, 240)), (240, 160, ThumbSource::Preview));
        assert_eq!(jpeg(&thumb(&both, Format::Cr3, 100)), (100, 75, ThumbSource::Preview));
        let only_thmb = cr3_with_previews(Some((&thmb, 160, 120)), None);
        assert_eq!(jpeg(&thumb(&only_thmb, Format::Cr3, 240)), (160, 120, ThumbSource::Preview));
        let none = cr3_with_previews(None, None);
        assert_eq!(placeholder(&thumb(&none, Format::Cr3, 240)), Placeholder::NoPreview);
    }

    #[test]
    fn other_images_decode_and_video_heif_get_placeholders() {
        let png = png_image(500, 250, 9, Some("<x/>"));
        assert_eq!(jpeg(&thumb(&png, Format::Png, 240)), (240, 120, ThumbSource::Decoded));
        for f in [SynthFormat::Png, SynthFormat::Gif, SynthFormat::WebP] {
            let file = synth::build(f, &Embed::default());
            let format = detect(&file, f.extension()).unwrap();
            assert_eq!(jpeg(&thumb(&file, format, 240)), (8, 8, ThumbSource::Decoded), "{f:?}");
        }
        for (f, kind) in [
            (SynthFormat::Mp4, Placeholder::Video),
            (SynthFormat::Mov, Placeholder::Video),
            (SynthFormat::Heic, Placeholder::NoPreview),
            (SynthFormat::Avif, Placeholder::NoPreview),
        ] {
            let file = synth::build(f, &Embed::default());
            let format = detect(&file, f.extension()).unwrap();
            assert_eq!(placeholder(&thumb(&file, format, 240)), kind, "{f:?}");
        }
    }

    #[test]
    fn shrinking_keeps_the_aspect_and_averages() {
        // 2x2 blocks of 4 channels: averages, rounded.
        let raw: Vec<u8> = vec![0, 10, 255, 255, 2, 10, 255, 255, 9, 9, 9, 9, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(box_reduce::<4>(&raw, 3, 2, 2), vec![1, 8, 128, 128]);
        assert!(box_reduce::<3>(&[1, 2, 3], 1, 1, 2).is_empty());
        let sizes = |w: u32, h: u32| {
            let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30])));
            let out = shrink(img, 240);
            assert!(out.pixels().all(|p| p.0 == [10, 20, 30]), "{w}x{h}");
            out.dimensions()
        };
        assert_eq!(sizes(4000, 3000), (240, 180));
        assert_eq!(sizes(3000, 4000), (180, 240));
        assert_eq!(sizes(5000, 10), (240, 1));
        assert_eq!(sizes(241, 7), (240, 7));
        assert_eq!(sizes(239, 100), (239, 100));
        assert_eq!(sizes(7, 3), (7, 3));
        // Close to the image crate's resampling on a gradient.
        let grad =
            image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x * 255 / 299) as u8, (y * 255 / 199) as u8, 77]));
        let ours = bilinear(&grad, 240, 160);
        let theirs = image::imageops::resize(&grad, 240, 160, image::imageops::FilterType::Triangle);
        let worst = ours.as_raw().iter().zip(theirs.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 3, "{worst}");
        assert_eq!(
            bilinear(&image::RgbImage::from_pixel(1, 1, image::Rgb([9, 8, 7])), 1, 1).get_pixel(0, 0).0,
            [9, 8, 7]
        );
    }

    #[test]
    fn transparency_is_flattened_onto_white() {
        let mut png = Vec::new();
        let px = [0u8, 0, 0, 0].repeat(16 * 16);
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &px,
            16,
            16,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
        let c = centre(&thumb(&png, Format::Png, 240));
        assert!(c.iter().all(|&v| v > 240), "{c:?}");
    }

    #[test]
    fn huge_images_are_refused_not_allocated() {
        // A PNG header claiming 60000 x 60000 pixels (3.6 gigapixels), and nothing else.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&ihdr);
        let mut crc = flate2::Crc::new();
        crc.update(b"IHDR");
        crc.update(&ihdr);
        png.extend_from_slice(&crc.sum().to_be_bytes());
        // The decoder reads up to the first image data chunk before it tells the size.
        png.extend_from_slice(&[0, 0, 0, 2, b'I', b'D', b'A', b'T', 0x78, 0x9C, 0, 0, 0, 0]);
        let t = thumb(&png, Format::Png, 240);
        assert_eq!(placeholder(&t), Placeholder::NoPreview, "{t:?}");
        // A JPEG whose frame header claims 65000 x 65000.
        let mut j = jpeg_image(16, 16, 1);
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        let t = thumb(&j, Format::Jpeg, 240);
        assert_eq!(placeholder(&t), Placeholder::NoPreview, "{t:?}");
    }

    #[test]
    fn files_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jpg");
        std::fs::write(&p, red_thumb_jpeg(1)).unwrap();
        assert_eq!(jpeg(&thumbnail(&p, Some(Format::Jpeg), 240)), (160, 120, ThumbSource::Preview));
        assert_eq!(jpeg(&thumbnail(&p, None, 240)), (160, 120, ThumbSource::Preview));
        let t = dir.path().join("notes.jpg");
        std::fs::write(&t, "not an image").unwrap();
        assert_eq!(placeholder(&thumbnail(&t, None, 240)), Placeholder::Unreadable);
        assert_eq!(placeholder(&thumbnail(&dir.path().join("gone.jpg"), None, 240)), Placeholder::Unreadable);
        // A cut file whose format the scan detected.
        std::fs::write(&t, &red_thumb_jpeg(1)[..300]).unwrap();
        assert_eq!(placeholder(&thumbnail(&t, Some(Format::Jpeg), 240)), Placeholder::Unreadable);
    }

    /// Small samples of every kind of preview, for the damage test.
    fn damage_samples() -> Vec<(Format, Vec<u8>)> {
        let thumb8 = solid(8, 8, [10, 200, 30]);
        let exif = exif_with_thumbnail(&thumb8, 6);
        vec![
            (Format::Jpeg, jpeg_with_metadata(&jpeg_image(16, 16, 1), Some(&exif), None)),
            (
                Format::Dng,
                tiff_with_previews(&[(PreviewPlace::SubIfd, &thumb8), (PreviewPlace::NextIfd, &thumb8)], 4, true, None),
            ),
            (Format::TiffRaw, tiff_with_previews(&[(PreviewPlace::Ifd0, &thumb8)], 4, false, None)),
            (Format::Tiff, tiff_with_previews(&[], 4, false, None)),
            (Format::Psd, psd_with_thumbnail(&thumb8, 8, 8, false, None)),
            (Format::Raf, raf_with_preview(&jpeg_with_metadata(&jpeg_image(16, 16, 2), Some(&exif), None))),
            (Format::Cr3, cr3_with_previews(Some((&thumb8, 8, 8)), Some((&thumb8, 8, 8)))),
            (Format::Png, png_image(8, 8, 1, None)),
        ]
    }

    /// Bytes whose reads from `fail_at` on fail with an I/O error (a disk error, not damage).
    struct FailingFrom {
        bytes: Vec<u8>,
        fail_at: u64,
    }

    impl ReadAt for FailingFrom {
        fn len(&self) -> u64 {
            self.bytes.len() as u64
        }
        fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<std::borrow::Cow<'_, [u8]>> {
            if offset + len as u64 > self.fail_at {
                return Err(io::Error::other("disk error"));
            }
            self.bytes.read_exact_at(offset, len)
        }
    }

    #[test]
    fn a_failed_read_among_cr3_boxes_is_an_error_not_the_end_of_the_boxes() {
        // The box walk ended silently at a failed read (`map_while(Result::ok)`), losing the
        // previews after it without a word; damage still only ends the walk.
        let bytes = cr3_with_previews(Some((&solid(8, 8, [1, 2, 3]), 8, 8)), Some((&solid(8, 8, [1, 2, 3]), 8, 8)));
        assert_eq!(preview_sizes(&bytes, Format::Cr3).unwrap().len(), 2);
        let failing = FailingFrom { fail_at: 40, bytes: bytes.clone() };
        let err = preview_sizes(&failing, Format::Cr3).unwrap_err();
        assert!(matches!(err, MediaError::Io(_)), "{err}");
        let mut damaged = bytes;
        damaged.truncate(60);
        assert!(preview_sizes(&damaged, Format::Cr3).is_ok(), "damage ends the walk, no error");
    }

    #[test]
    fn tiff_previews_walk_each_ifd_once_and_a_broken_chain_keeps_what_came_before() {
        let thumb8 = solid(8, 8, [0, 0, 255]);
        let dng =
            tiff_with_previews(&[(PreviewPlace::SubIfd, &thumb8), (PreviewPlace::NextIfd, &thumb8)], 4, true, None);
        let all = preview_sizes(&dng, Format::Dng).unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        // IFD0's next-IFD offset pointed back at IFD0: IFD0 and its SubIFD, once each, no error.
        let (walker, ifd0) = tiff::header(&dng).unwrap();
        let (entries, next) = walker.ifd_and_next(ifd0).unwrap();
        assert_ne!(next, 0);
        let next_at = (ifd0 + 2 + entries.len() as u64 * 12) as usize;
        let mut looped = dng.clone();
        looped[next_at..next_at + 4].copy_from_slice(&(ifd0 as u32).to_le_bytes());
        assert_eq!(preview_sizes(&looped, Format::Dng).unwrap(), all[..2].to_vec());
        // Pointed past the end: the same.
        looped[next_at..next_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(preview_sizes(&looped, Format::Dng).unwrap(), all[..2].to_vec());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        for (format, file) in damage_samples() {
            assert!(matches!(thumb(&file, format, 240), Thumb::Jpeg { .. }), "{format:?} sample");
            crate::media::for_each_damaged(&file, |b| {
                let r = std::panic::catch_unwind(|| thumb(b, format, 240));
                assert!(r.is_ok(), "{format:?}: panic on a damaged file of {} bytes", b.len());
            });
        }
    }
}
