//! Replacing the XMP packet of JPEG, TIFF/DNG and PSD files without touching anything else.
//!
//! Adobe's XMP Toolkit, asked to update these formats, also reconciles the XMP into the legacy
//! IPTC and Photoshop blocks (it adds an IPTC block to a JPEG that had none, an IPTC digest to
//! TIFF and PSD files): a change to data that is not consentry's. These functions change the XMP
//! packet only, every other byte is copied:
//!
//! - JPEG: the standard XMP APP1 segment is replaced (or inserted after the leading APP0/APP1
//!   segments); Extended XMP segments are kept as they are (the main packet keeps its
//!   `xmpNote:HasExtendedXMP` GUID).
//! - TIFF, DNG, BigTIFF: a packet that fits the old one's bytes is written in place (padded to
//!   the same length); a larger one is appended and the XMP entry of IFD0 points to it; a file
//!   without XMP gets a copy of IFD0 with the XMP entry added, appended and linked from the
//!   header.
//! - PSD/PSB: the image resource 0x0424 is replaced (or added after the last resource) and the
//!   resource section's length updated; the other resources and the sections after it are copied.
//! - PNG: the `XML:com.adobe.xmp` iTXt chunk is replaced by an uncompressed one (or one is
//!   inserted before the image data).
//!
//! A file holding XMP packets the writer does not replace (two tag-700 entries in IFD0, XMP in
//! the Exif IFD or after IEND, two 0x0424 resources, ...) is refused by [`packet`]: the scan reads
//! each, and one left would keep naming its persons beside consentry's result. A TIFF IFD0 with
//! two XMP entries is refused by the layout walk itself, naming the second entry.
//!
//! Each splice is planned with the layout walker of [`crate::media`] the scan reads the format
//! with, under the same limits: a file the scan calls damaged is refused here too, and one the
//! scan reads is written. Each function reads the original and writes the complete new file to
//! `out` (a fresh copy beside the original, see `apply`). [`packet`] and [`write()`] choose the
//! format's writer; a format without one is an error, never another format's writer.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use crate::media::iptc::IRB_XMP;
use crate::media::jpeg::{self, XMP_ID as XMP_SIG};
use crate::media::tiff::{self, Entry};
use crate::media::{png, psd, FileAt, Format, MediaError, ReadAt, MAX_XMP};

/// Largest XMP packet a standard APP1 segment holds.
pub const JPEG_MAX_PACKET: usize = 65535 - 2 - XMP_SIG.len();

/// Why a packet could not be read or written. Offsets are byte offsets in the file.
#[derive(Debug, thiserror::Error)]
pub enum SpliceError {
    /// The container's layout walk failed (damage, a limit reached): the scan refuses it too.
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("consentry has no embedded XMP writer for {format:?} files")]
    NoWriter { format: Format },
    #[error("the XMP packet would be {len} bytes, more than a JPEG segment holds ({JPEG_MAX_PACKET})")]
    JpegPacketTooLarge { len: usize },
    #[error("{what} at byte {offset}: {detail}")]
    Layout { what: &'static str, offset: u64, detail: String },
    #[error("the file changed while it was copied: {expected} bytes from byte {offset}, {copied} copied")]
    Changed { offset: u64, expected: u64, copied: u64 },
}

impl SpliceError {
    fn layout(what: &'static str, offset: u64, detail: impl Into<String>) -> Self {
        SpliceError::Layout { what, offset, detail: detail.into() }
    }
}

impl From<SpliceError> for io::Error {
    fn from(e: SpliceError) -> io::Error {
        match e {
            SpliceError::Io(e) => e,
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

type Result<T, E = SpliceError> = std::result::Result<T, E>;

/// The embedded writers: one per format consentry writes into itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    Jpeg,
    Tiff,
    Psd,
    Png,
}

/// The writer of `format`; every format is named here, and one without a writer is an error
/// (never another format's writer).
fn writer(format: Format) -> Result<Writer> {
    match format {
        Format::Jpeg => Ok(Writer::Jpeg),
        Format::Tiff | Format::Dng => Ok(Writer::Tiff),
        Format::Psd => Ok(Writer::Psd),
        Format::Png => Ok(Writer::Png),
        Format::TiffRaw
        | Format::WebP
        | Format::Gif
        | Format::Heif
        | Format::Avif
        | Format::Mp4
        | Format::Mov
        | Format::Cr3
        | Format::Raf
        | Format::RawSidecarOnly => Err(SpliceError::NoWriter { format }),
    }
}

/// Whether [`write()`] writes a packet of the old one's length in place (its `fitted` argument is
/// used): TIFF and DNG.
pub fn writes_in_place(format: Format) -> bool {
    matches!(writer(format), Ok(Writer::Tiff))
}

/// The XMP packet of `f`, a file of `format`, if it has one; a format consentry does not write
/// itself is an error naming it.
///
/// The packet found must be every XMP packet the scan reads in the file (or, when none is found,
/// the scan must read none): a packet left elsewhere would keep naming its persons.
pub fn packet(format: Format, f: &File) -> Result<Option<Vec<u8>>> {
    let src = FileAt::new(f)?;
    let packet = packet_of(format, &src)?;
    only_packet(&src, format, packet.as_deref())?;
    Ok(packet)
}

/// The splice's layout walk of the bytes `src` reads and the packet it finds (without
/// [`packet`]'s check that no other packet is left), for tests and fuzzing: every write plans its
/// splice with the same layout functions.
pub fn packet_of(format: Format, src: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
    match writer(format)? {
        Writer::Jpeg => jpeg_read(src),
        Writer::Tiff => tiff_read(src),
        Writer::Psd => psd_read(src),
        Writer::Png => png_read(src),
    }
}

/// What the scan reads of `src` (the packets the checks below compare with); a file the scan
/// cannot read completely is an error, the scan's.
fn scanned(src: &dyn ReadAt, format: Format) -> Result<crate::media::Metadata> {
    match crate::media::read_metadata(src, format) {
        (_, Some(e)) => Err(e.into()),
        (meta, None) => Ok(meta),
    }
}

/// Whether the packet the writer replaces (`packet`; None: it adds one) is every XMP packet the
/// scan reads in the file: then nothing the scan reads is left beside consentry's result. A
/// packet elsewhere (a second tag-700 entry, XMP in the Exif IFD or an IFD after IFD0, a 0x0424
/// resource in a JPEG's APP13 or a TIFF's tag 34377, a tag 700 in a JPEG's EXIF block, an XMP
/// chunk after IEND, ...) keeps naming its persons: the file is refused, naming that packet's
/// byte. A file the scan cannot read is refused with the scan's error.
fn only_packet(src: &dyn ReadAt, format: Format, packet: Option<&[u8]>) -> Result<()> {
    let meta = scanned(src, format)?;
    let mut others = meta.xmp.iter().filter(|p| Some(&p.bytes[..]) != packet);
    let written = meta.xmp.len() - others.clone().count();
    match (others.next(), written) {
        (None, 0 | 1) => Ok(()),
        (Some(other), _) => {
            let detail = format!(
                "the scan reads {} XMP packet{} in the file, consentry would rewrite {}: this one would be left \
                 beside it",
                meta.xmp.len(),
                if meta.xmp.len() == 1 { "" } else { "s" },
                if packet.is_some() { "another" } else { "none" }
            );
            Err(SpliceError::layout("XMP packet", other.offset, detail))
        }
        (None, _) => {
            let at = meta.xmp.get(1).map_or(0, |p| p.offset);
            Err(SpliceError::layout("XMP packet", at, "the packet consentry would rewrite is there more than once"))
        }
    }
}

/// For a file another writer (the XMP Toolkit) rewrites: that the scan reads at most one XMP
/// packet in it. The Toolkit rewrites one packet; another left beside it keeps naming its persons,
/// so such a file is refused, naming the second packet's byte, as [`packet`] refuses it for the
/// formats consentry splices. A file the scan cannot read is refused with the scan's error.
pub fn at_most_one_packet(format: Format, f: &File) -> Result<()> {
    let meta = scanned(&FileAt::new(f)?, format)?;
    match meta.xmp.get(1) {
        None => Ok(()),
        Some(second) => Err(SpliceError::layout(
            "XMP packet",
            second.offset,
            format!(
                "the scan reads {} XMP packets in the file, the XMP Toolkit would rewrite one: the others would be \
                 left beside it",
                meta.xmp.len()
            ),
        )),
    }
}

/// Write to `out` (empty, beside the original) the file `f` of `format` with its XMP packet
/// replaced by `packet`. `fitted`: the same packet serialized to exactly the old packet's length,
/// when that was possible (TIFF writes it in place). A format consentry does not write itself is
/// an error naming it, and nothing is written.
pub fn write(format: Format, f: &File, packet: &[u8], fitted: Option<&[u8]>, out: &mut File) -> Result<()> {
    match writer(format)? {
        Writer::Jpeg => jpeg_splice(f, packet, out),
        Writer::Tiff => {
            let len = f.metadata()?.len();
            let mut w = BufWriter::with_capacity(1 << 16, &mut *out);
            copy_range(f, 0, len, &mut w)?;
            w.flush()?;
            drop(w);
            tiff_patch(out, packet, fitted)
        }
        Writer::Psd => psd_splice(f, packet, out),
        Writer::Png => png_splice(f, packet, out),
    }
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// The standard XMP packet of a JPEG file, if it has one.
fn jpeg_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    Ok(jpeg_read(&FileAt::new(f)?)?)
}

fn jpeg_read(src: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
    let Some(seg) = jpeg_layout(src)?.xmp else { return Ok(None) };
    let at = seg.body() + XMP_SIG.len() as u64;
    Ok(Some(src.slice("JPEG XMP packet", at, seg.len - 2 - XMP_SIG.len() as u64, MAX_XMP)?.into_owned()))
}

/// Where a JPEG's XMP segment is, or where a new one goes.
struct JpegLayout {
    /// The standard XMP APP1 segment (the first one; a file where the scan reads another packet
    /// besides it is refused by [`packet`]).
    xmp: Option<jpeg::Segment>,
    /// Where a new XMP segment goes: after SOI and the leading APP0/APP1 segments.
    insert_at: u64,
}

/// The JPEG's segments up to the image data, walked by [`jpeg::segments`]; segments cut short or
/// no image data are errors, as they are for the scan.
fn jpeg_layout(src: &dyn ReadAt) -> Result<JpegLayout> {
    let end = src.len();
    jpeg::start_of_image(src, 0, end)?;
    let (mut xmp, mut insert_at, mut leading, mut last) = (None, 2u64, true, 2u64);
    for seg in jpeg::segments(src, 0, end) {
        let seg = seg?;
        if seg.marker == jpeg::SOS || seg.marker == jpeg::EOI {
            return Ok(JpegLayout { xmp, insert_at });
        }
        if seg.truncated {
            return Err(seg.cut_short(end).into());
        }
        last = seg.end();
        if seg.len == 0 {
            continue; // a standalone marker
        }
        if seg.marker == 0xE1 && xmp.is_none() && seg.len >= 2 + XMP_SIG.len() as u64 {
            let sig = src.slice("APP1 identifier", seg.body(), XMP_SIG.len() as u64, XMP_SIG.len() as u64)?;
            if sig[..] == *XMP_SIG {
                xmp = Some(seg);
            }
        }
        if leading && (seg.marker == 0xE0 || seg.marker == 0xE1) {
            insert_at = seg.end();
        } else {
            leading = false;
        }
    }
    Err(jpeg::no_image_data(last, end).into())
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// Copy `f` to `out` with its standard XMP packet replaced by `packet`.
fn jpeg_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    Ok(jpeg_splice(f, packet, out)?)
}

fn jpeg_splice(f: &File, packet: &[u8], out: &mut File) -> Result<()> {
    if packet.len() > JPEG_MAX_PACKET {
        return Err(SpliceError::JpegPacketTooLarge { len: packet.len() });
    }
    let layout = jpeg_layout(&FileAt::new(f)?)?;
    let (cut, resume) = match layout.xmp {
        Some(seg) => (seg.at, seg.end()),
        None => (layout.insert_at, layout.insert_at),
    };
    let len = (2 + XMP_SIG.len() + packet.len()) as u16;
    let segment = [&[0xFF, 0xE1], &len.to_be_bytes()[..], XMP_SIG, packet].concat();
    splice(f, &[(cut, resume, segment)], out)
}

/// Copy `f` to `out` with each range `cut..resume` (in order, not overlapping) replaced by its
/// bytes.
fn splice(f: &File, edits: &[(u64, u64, Vec<u8>)], out: &mut File) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let mut from = 0;
    for (cut, resume, bytes) in edits {
        copy_range(f, from, *cut, &mut w)?;
        w.write_all(bytes)?;
        from = *resume;
    }
    let end = f.metadata()?.len();
    copy_range(f, from, end, &mut w)?;
    w.flush()?;
    Ok(())
}

fn copy_range(f: &File, from: u64, to: u64, w: &mut impl Write) -> Result<()> {
    let mut r = f.try_clone()?;
    r.seek(SeekFrom::Start(from))?;
    let expected = to.saturating_sub(from);
    let copied = io::copy(&mut r.take(expected), w)?;
    if copied != expected {
        return Err(SpliceError::Changed { offset: from, expected, copied });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TIFF

/// TIFF field types whose count is in bytes.
const TIFF_BYTE: u16 = 1;
const TIFF_ASCII: u16 = 2;
const TIFF_UNDEFINED: u16 = 7;

/// IFD0 of a TIFF-structured file, walked by [`tiff::header`] and [`tiff::Tiff::ifd_and_next`].
struct TiffLayout<'a> {
    t: tiff::Tiff<'a>,
    entries: Vec<Entry>,
    next: u64,
    /// Index of the XMP entry (IFD0 has at most one: more are refused).
    xmp: Option<usize>,
}

impl TiffLayout<'_> {
    fn word(&self) -> u64 {
        self.t.inline_len()
    }
    fn put_word(&self, v: u64) -> Vec<u8> {
        let e = self.t.endian();
        if self.t.is_big() {
            e.put64(v).to_vec()
        } else {
            e.put32(v as u32).to_vec()
        }
    }
    /// The entry as it is stored in the file.
    fn raw(&self, tag: u16, typ: u16, count: u64, field: &[u8]) -> Vec<u8> {
        let e = self.t.endian();
        let mut raw = Vec::with_capacity(20);
        raw.extend(e.put16(tag));
        raw.extend(e.put16(typ));
        raw.extend(self.put_word(count));
        raw.extend(&field[..self.word() as usize]);
        raw
    }
}

fn tiff_layout(src: &dyn ReadAt) -> Result<TiffLayout<'_>> {
    let (t, ifd0) = tiff::header(src)?;
    let (entries, next) = t.ifd_and_next(ifd0)?;
    if entries.is_empty() {
        return Err(SpliceError::layout("TIFF IFD0", ifd0, "no entries"));
    }
    // The scan reads every XMP entry of an IFD as a packet of its own: rewriting one of several
    // would leave the others (and the persons they name) beside consentry's result.
    let mut xmp_entries = entries.iter().enumerate().filter(|(_, e)| e.tag == crate::media::exif::TAG_XMP);
    let xmp = xmp_entries.next().map(|(i, _)| i);
    if let Some((_, second)) = xmp_entries.next() {
        let detail = "a second XMP entry (tag 700) in IFD0: consentry does not rewrite one of several packets";
        return Err(SpliceError::layout("TIFF XMP entry", second.at(&t), detail));
    }
    Ok(TiffLayout { t, entries, next, xmp })
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// The XMP packet of a TIFF-structured file, if IFD0 has one.
fn tiff_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    Ok(tiff_read(&FileAt::new(f)?)?)
}

fn tiff_read(src: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
    let l = tiff_layout(src)?;
    let Some(i) = l.xmp else { return Ok(None) };
    let e = &l.entries[i];
    // The value's bytes (a count of SHORTs is twice as many bytes), as the scan reads them.
    if l.t.value_len(e).is_none_or(|len| len <= l.word()) {
        return Err(SpliceError::layout("TIFF XMP entry", e.field_at, "too small to hold a packet"));
    }
    Ok(Some(l.t.value(e, "XMP (TIFF tag 700)", MAX_XMP)?.into_owned()))
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// Change the copy `out` (a byte-identical copy of the TIFF file) so that its XMP is `packet`.
/// `fitted`: the same packet serialized to exactly the old packet's length, when that was
/// possible (then it is written in place).
fn tiff_write(out: &File, packet: &[u8], fitted: Option<&[u8]>) -> io::Result<()> {
    Ok(tiff_patch(out, packet, fitted)?)
}

fn tiff_patch(out: &File, packet: &[u8], fitted: Option<&[u8]>) -> Result<()> {
    let src = FileAt::new(out)?;
    let l = tiff_layout(&src)?;
    let end = src.len();
    // Appended data starts on a word boundary.
    let append_at = (end + 1) & !1;
    let tag = crate::media::exif::TAG_XMP;
    match l.xmp.map(|i| (l.entries[i], l.t.value_len(&l.entries[i]).unwrap_or(0))) {
        // In place: the value's bytes (not its count, which is in units of its type) are replaced
        // by as many bytes; the entry is unchanged.
        Some((e, bytes)) if bytes > l.word() && fitted.is_some_and(|p| p.len() as u64 == bytes) => {
            out.write_all_at(fitted.expect("checked"), l.t.offset_field(&e))?;
        }
        Some((e, bytes)) => {
            out.write_all_at(packet, append_at)?;
            // The old packet, no longer referenced, is blanked: a tool scanning the bytes for
            // XMP must not find a stale result.
            let offset = l.t.offset_field(&e);
            if bytes > l.word() && bytes <= MAX_XMP && offset.saturating_add(bytes) <= end {
                out.write_all_at(&vec![b' '; bytes as usize], offset)?;
            }
            // The new count is in bytes: the entry keeps a byte type (BYTE, ASCII or UNDEFINED);
            // another (a SHORT would claim twice the packet's bytes) becomes BYTE.
            let typ = if matches!(e.typ, TIFF_BYTE | TIFF_ASCII | TIFF_UNDEFINED) { e.typ } else { TIFF_BYTE };
            let raw = l.raw(tag, typ, packet.len() as u64, &l.put_word(append_at));
            out.write_all_at(&raw, e.at(&l.t))?;
        }
        None => {
            // A new IFD0: the old entries with the XMP entry in tag order, after the packet.
            out.write_all_at(packet, append_at)?;
            let ifd_at = (append_at + packet.len() as u64 + 1) & !1;
            let mut entries: Vec<Vec<u8>> = l.entries.iter().map(|e| l.raw(e.tag, e.typ, e.count, &e.field)).collect();
            let pos = l.entries.iter().position(|e| e.tag > tag).unwrap_or(entries.len());
            entries.insert(pos, l.raw(tag, TIFF_UNDEFINED, packet.len() as u64, &l.put_word(append_at)));
            let mut block = if l.t.is_big() {
                l.t.endian().put64(entries.len() as u64).to_vec()
            } else {
                l.t.endian().put16(entries.len() as u16).to_vec()
            };
            for x in &entries {
                block.extend(x);
            }
            block.extend(l.put_word(l.next));
            out.write_all_at(&block, ifd_at)?;
            let header_at = if l.t.is_big() { 8 } else { 4 };
            out.write_all_at(&l.put_word(ifd_at), header_at)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PSD

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// The XMP packet of a PSD file, if it has one.
fn psd_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    Ok(psd_read(&FileAt::new(f)?)?)
}

fn psd_read(src: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
    let (_, resources) = psd::resources(src)?;
    let Some(r) = resources.iter().find(|r| r.id == IRB_XMP) else { return Ok(None) };
    let len = r.data.end - r.data.start;
    Ok(Some(src.slice("Photoshop XMP resource", r.data.start, len, MAX_XMP)?.into_owned()))
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// Copy the PSD file `f` to `out` with its XMP resource replaced by (or extended with) `packet`.
fn psd_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    Ok(psd_splice(f, packet, out)?)
}

fn psd_splice(f: &File, packet: &[u8], out: &mut File) -> Result<()> {
    let src = FileAt::new(f)?;
    let (section, resources) = psd::resources(&src)?;
    // The XMP resource keeps its signature, id and name; a new one goes after the last resource
    // (before any padding at the end of the section).
    let (cut, resume, mut resource) = match resources.iter().find(|r| r.id == IRB_XMP) {
        Some(r) => {
            let header = src.slice("Photoshop resource header", r.at, r.data.start - 4 - r.at, 266)?;
            (r.at, r.end(section.end), header.into_owned())
        }
        None => {
            let at = resources.last().map_or(section.start, |r| r.end(section.end));
            let mut header = b"8BIM".to_vec();
            header.extend(IRB_XMP.to_be_bytes());
            header.extend([0, 0]); // empty name, padded
            (at, at, header)
        }
    };
    let size = u32::try_from(packet.len()).map_err(|_| SpliceError::layout("PSD XMP resource", cut, "too large"))?;
    resource.extend(size.to_be_bytes());
    resource.extend(packet);
    if packet.len() % 2 == 1 {
        resource.push(0);
    }
    let section_len = (section.end - section.start) - (resume - cut) + resource.len() as u64;
    let section_len = u32::try_from(section_len)
        .map_err(|_| SpliceError::layout("PSD image resources", section.start - 4, "longer than 4 GiB"))?;
    let length = (section.start - 4, section.start, section_len.to_be_bytes().to_vec());
    splice(f, &[length, (cut, resume, resource)], out)
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG_XMP_KEY: &[u8] = b"XML:com.adobe.xmp\0";

/// Every chunk up to IEND (walked by [`png::chunks`], the chunks after it too: a damaged one is an
/// error, as for the scan), and the index of the first XMP iTXt chunk before IEND. (A file where
/// the scan reads another XMP packet besides it is refused by [`packet`].)
fn png_layout(src: &dyn ReadAt) -> Result<(Vec<png::Chunk>, Option<usize>)> {
    let (mut chunks, mut xmp, mut ended) = (Vec::new(), None, false);
    for chunk in png::chunks(src) {
        let chunk = chunk?;
        if ended {
            continue; // after IEND: walked for damage only
        }
        ended = &chunk.kind == b"IEND";
        if xmp.is_none()
            && &chunk.kind == b"iTXt"
            && chunk.len >= PNG_XMP_KEY.len() as u64
            && src.slice("PNG chunk", chunk.at + 8, PNG_XMP_KEY.len() as u64, 64)?[..] == *PNG_XMP_KEY
        {
            xmp = Some(chunks.len());
        }
        chunks.push(chunk);
    }
    Ok((chunks, xmp))
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// The XMP packet of a PNG file (its `XML:com.adobe.xmp` iTXt chunk), if it has one.
fn png_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    Ok(png_read(&FileAt::new(f)?)?)
}

fn png_read(src: &dyn ReadAt) -> Result<Option<Vec<u8>>> {
    let (chunks, xmp) = png_layout(src)?;
    let Some(i) = xmp else { return Ok(None) };
    let c = chunks[i];
    let data = src.slice("PNG XMP chunk", c.at + 8, c.len, MAX_XMP)?;
    // keyword\0, then the iTXt header and text, read as the scan reads them.
    let text = match png::itxt_text(&data[PNG_XMP_KEY.len()..], c.at)? {
        png::ItxtText::Plain(text) => return Ok(Some(text.to_vec())),
        png::ItxtText::Zlib(text) => text,
    };
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(text)
        .take(MAX_XMP + 1)
        .read_to_end(&mut out)
        .map_err(|e| MediaError::malformed("PNG compressed text", c.at, e.to_string()))?;
    if out.len() as u64 > MAX_XMP {
        let size = out.len() as u64;
        return Err(MediaError::TooLarge { what: "PNG compressed XMP", offset: c.at, size, limit: MAX_XMP }.into());
    }
    Ok(Some(out))
}

#[cfg(test)] // the tests' shorthand for `packet` and `write`
/// Copy the PNG file `f` to `out` with its first XMP chunk replaced by an uncompressed one
/// holding `packet` (or one inserted before the image data).
fn png_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    Ok(png_splice(f, packet, out)?)
}

fn png_splice(f: &File, packet: &[u8], out: &mut File) -> Result<()> {
    let (chunks, xmp) = png_layout(&FileAt::new(f)?)?;
    let (cut, resume) = match xmp {
        Some(i) => (chunks[i].at, chunks[i].end()),
        None => {
            let at = chunks.iter().find(|c| &c.kind == b"IDAT" || &c.kind == b"IEND").map(|c| c.at);
            let at = at.ok_or_else(|| SpliceError::layout("PNG", 8, "no image data"))?;
            (at, at)
        }
    };
    let mut data = Vec::with_capacity(PNG_XMP_KEY.len() + 4 + packet.len());
    data.extend_from_slice(PNG_XMP_KEY);
    data.extend_from_slice(&[0, 0, 0, 0]); // uncompressed, method 0, no language, no translation
    data.extend_from_slice(packet);
    let mut crc = flate2::Crc::new();
    crc.update(b"iTXt");
    crc.update(&data);
    let chunk = [&(data.len() as u32).to_be_bytes()[..], b"iTXt", &data, &crc.sum().to_be_bytes()].concat();
    splice(f, &[(cut, resume, chunk)], out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use consentry_synth::{self as synth, Embed, SynthFormat};

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        let f = File::open(&p).unwrap();
        (dir, f)
    }

    fn written(write: impl FnOnce(&mut File)) -> Vec<u8> {
        let mut out = tempfile::tempfile().unwrap();
        write(&mut out);
        out.seek(SeekFrom::Start(0)).unwrap();
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    }

    fn packet(text: &str) -> Vec<u8> {
        synth::xmp_packet(&format!(
            r#"<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{text}</dc:title></rdf:Description>"#
        ))
        .into_bytes()
    }

    fn embed(format: SynthFormat, xmp: Option<String>) -> Embed {
        Embed {
            xmp,
            iptc_keywords: if format.supports_iptc() { vec!["kw".into()] } else { Vec::new() },
            date_time_original: format.supports_exif().then(|| "2024:03:01 10:00:00".into()),
            payload_bytes: 3000,
            ..Embed::default()
        }
    }

    /// (start, length) of the image resources section's content of a PSD.
    fn psd_section(b: &[u8]) -> (u64, u64) {
        let r = psd::resource_section(&b.to_vec()).unwrap();
        (r.start, r.end - r.start)
    }

    /// JPEG segments before the scan, as (marker, bytes), and the scan data.
    fn jpeg_parts(b: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
        let (mut i, mut segs) = (2, Vec::new());
        loop {
            let m = b[i + 1];
            if m == 0xDA {
                return (segs, b[i..].to_vec());
            }
            let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
            segs.push((m, b[i..i + 2 + len].to_vec()));
            i += 2 + len;
        }
    }

    #[test]
    fn jpeg_packet_replaced_or_inserted_and_nothing_else_changes() {
        for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
            let original = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, old.clone()));
            let (_d, f) = file_with(&original);
            assert_eq!(jpeg_packet(&f).unwrap().is_some(), old.is_some());
            let new = packet("new value");
            let out = written(|o| jpeg_write(&f, &new, o).unwrap());
            let (_d2, g) = file_with(&out);
            assert_eq!(jpeg_packet(&g).unwrap().unwrap(), new);
            let is_xmp = |s: &(u8, Vec<u8>)| s.0 == 0xE1 && s.1[4..].starts_with(XMP_SIG);
            let (a, scan_a) = jpeg_parts(&original);
            let (b, scan_b) = jpeg_parts(&out);
            assert_eq!(scan_a, scan_b, "image data");
            let others = |v: &[(u8, Vec<u8>)]| v.iter().filter(|s| !is_xmp(s)).cloned().collect::<Vec<_>>();
            assert_eq!(others(&a), others(&b), "every other segment, in order");
            // The packet sits after JFIF/Exif, before IPTC and the tables.
            let at = b.iter().position(is_xmp).unwrap();
            assert!(
                b[..at].iter().all(|s| s.0 == 0xE0 || s.0 == 0xE1),
                "{:?}",
                b.iter().map(|s| s.0).collect::<Vec<_>>()
            );
        }
        let (_d, f) = file_with(&synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, None)));
        let err = jpeg_write(&f, &vec![b' '; JPEG_MAX_PACKET + 1], &mut tempfile::tempfile().unwrap()).unwrap_err();
        assert!(err.to_string().contains("more than a JPEG segment holds"), "{err}");
    }

    #[test]
    fn tiff_in_place_appended_and_added() {
        for format in [SynthFormat::Tiff, SynthFormat::Dng, SynthFormat::Nef] {
            // In place: same length, the file keeps its size and only the packet bytes change.
            let old = packet("old");
            let original = synth::build(format, &embed(format, Some(String::from_utf8(old.clone()).unwrap())));
            let (_d, f) = file_with(&original);
            assert_eq!(tiff_packet(&f).unwrap().unwrap(), old);
            let mut fitted = packet("new");
            fitted.resize(old.len(), b' ');
            let copy = |bytes: &[u8]| {
                let mut out = tempfile::tempfile().unwrap();
                out.write_all(bytes).unwrap();
                out
            };
            let out = copy(&original);
            tiff_write(&out, &packet("unused"), Some(&fitted)).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), fitted);
            assert_eq!(out.metadata().unwrap().len(), original.len() as u64);

            // Appended: a longer packet; the original bytes stay except the XMP entry.
            let long = packet(&"x".repeat(5000));
            let out = copy(&original);
            tiff_write(&out, &long, None).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), long);
            let mut now = vec![0; original.len()];
            out.read_exact_at(&mut now, 0).unwrap();
            // Only the entry and the old packet (now blank) differ.
            let old_at = original.windows(old.len()).position(|w| w == old.as_slice()).unwrap();
            assert!(now[old_at..old_at + old.len()].iter().all(|&b| b == b' '));
            let differing = (0..original.len())
                .filter(|&i| !(old_at..old_at + old.len()).contains(&i) && original[i] != now[i])
                .count();
            assert!(differing <= 8, "{format:?}: {differing} bytes changed besides the entry");

            // Added: no XMP before; a new IFD0 with the entry; every old byte but the header's
            // IFD offset is kept.
            let bare = synth::build(format, &embed(format, None));
            let (_d3, g) = file_with(&bare);
            assert!(tiff_packet(&g).unwrap().is_none());
            let out = copy(&bare);
            tiff_write(&out, &long, None).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), long);
            let mut now = vec![0; bare.len()];
            out.read_exact_at(&mut now, 0).unwrap();
            assert_eq!(&now[8..], &bare[8..]);
            // Still a TIFF our reader and the image crate read, with the same pixels.
            let mut all = Vec::new();
            (&out).seek(SeekFrom::Start(0)).unwrap();
            (&out).read_to_end(&mut all).unwrap();
            let rec = crate::scan::scan_bytes(&all, format.extension(), &crate::people::PeopleRoots::default());
            assert!(rec.errors.is_empty(), "{format:?}: {:?}", rec.errors);
            if format == SynthFormat::Tiff {
                let a = image::load_from_memory(&bare).unwrap();
                let b = image::load_from_memory(&all).unwrap();
                assert_eq!(a.as_bytes(), b.as_bytes());
            }
        }
    }

    #[test]
    fn psd_resource_replaced_or_added() {
        for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
            let original = synth::build(SynthFormat::Psd, &embed(SynthFormat::Psd, old.clone()));
            let (_d, f) = file_with(&original);
            assert_eq!(psd_packet(&f).unwrap().is_some(), old.is_some());
            let new = packet("new, odd length!");
            let out = written(|o| psd_write(&f, &new, o).unwrap());
            let (_d2, g) = file_with(&out);
            assert_eq!(psd_packet(&g).unwrap().unwrap(), new);
            // Other resources unchanged, image data after the section byte-identical.
            let (sa, la) = psd_section(&original);
            let (sb, lb) = psd_section(&out);
            let without = |b: &[u8]| -> Vec<Vec<u8>> {
                let (_, list) = psd::resources(&b.to_vec()).unwrap();
                let others = list.iter().filter(|r| r.id != IRB_XMP);
                others.map(|r| b[r.at as usize..r.data.end as usize].to_vec()).collect()
            };
            assert_eq!(without(&original), without(&out));
            assert_eq!(&original[(sa + la) as usize..], &out[(sb + lb) as usize..]);
            assert_eq!(&original[..sa as usize - 4], &out[..sb as usize - 4]);
        }
    }

    #[test]
    fn png_chunk_replaced_or_inserted() {
        for format in [SynthFormat::Png, SynthFormat::PngCompressedXmp] {
            for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
                let original = synth::build(format, &embed(format, old.clone()));
                let (_d, f) = file_with(&original);
                assert_eq!(png_packet(&f).unwrap().map(|p| String::from_utf8(p).unwrap()), old);
                let new = packet("neu – ü");
                let out = written(|o| png_write(&f, &new, o).unwrap());
                let (_d2, g) = file_with(&out);
                assert_eq!(png_packet(&g).unwrap().unwrap(), new);
                let (chunks, _) = png_layout(&FileAt::new(&g).unwrap()).unwrap();
                let xmp_chunks = chunks.iter().filter(|c| &c.kind == b"iTXt").count();
                assert_eq!(xmp_chunks, 1, "one XMP chunk");
                let a = image::load_from_memory(&original).unwrap();
                let b = image::load_from_memory(&out).unwrap();
                assert_eq!(a.as_bytes(), b.as_bytes());
                // CRCs are right: the png crate checks them while decoding every chunk.
                let rec = crate::scan::scan_bytes(&out, "png", &crate::people::PeopleRoots::default());
                assert!(rec.errors.is_empty(), "{:?}", rec.errors);
            }
        }
    }

    /// The bytes of `out`.
    fn read_all(out: &File) -> Vec<u8> {
        let mut all = Vec::new();
        (&*out).seek(SeekFrom::Start(0)).unwrap();
        (&*out).read_to_end(&mut all).unwrap();
        all
    }

    #[test]
    fn a_tiff_ifd0_with_two_xmp_entries_is_refused_naming_the_second() {
        // The scan reads both packets; rewriting the first left the second (and the person only
        // it names) beside consentry's result, which said `green`.
        use crate::media::exif::tests::tiff_block;
        let (a, b) = (packet("first"), packet("second"));
        let f = tiff_block(
            false,
            &[(256, 3, 1, vec![0, 1]), (700, 7, a.len() as u32, a.clone()), (700, 1, b.len() as u32, b.clone())],
            &[],
        );
        // IFD0 at 8: count, then 12-byte entries; the second XMP entry is the third.
        let second_at = 8 + 2 + 2 * 12;
        assert_eq!(&f[second_at..second_at + 2], &700u16.to_le_bytes());
        let err = packet_of(Format::Tiff, &f).unwrap_err();
        assert!(
            matches!(err, SpliceError::Layout { offset, .. } if offset == second_at as u64),
            "{err} (the second entry is at byte {second_at})"
        );
        assert!(err.to_string().contains("second XMP entry"), "{err}");
        let mut out = tempfile::tempfile().unwrap();
        out.write_all(&f).unwrap();
        for fitted in [None, Some(&a[..])] {
            assert!(tiff_write(&out, &packet("new"), fitted).is_err());
            assert_eq!(read_all(&out), f, "nothing written");
        }
    }

    #[test]
    fn a_tiff_xmp_entry_of_type_short_is_rewritten_as_bytes() {
        // Tag 700 stored as SHORTs (count = half the bytes): the scan reads its bytes. The entry
        // was rewritten with its type kept and a count in bytes, claiming twice the packet.
        use crate::media::exif::tests::tiff_block;
        let mut old = packet("old");
        if old.len() % 2 == 1 {
            old.push(b' ');
        }
        let f = tiff_block(false, &[(256, 3, 1, vec![0, 1]), (700, 3, (old.len() / 2) as u32, old.clone())], &[]);
        assert_eq!(crate::media::tiff::read(&f).unwrap().xmp_bytes(), vec![old.clone()]);
        assert_eq!(packet_of(Format::Tiff, &f).unwrap().unwrap(), old);
        let entry_at = 8 + 2 + 12;
        let copy = || {
            let mut out = tempfile::tempfile().unwrap();
            out.write_all(&f).unwrap();
            out
        };
        // Appended: the entry becomes BYTE with the packet's byte count.
        let long = packet(&"y".repeat(3000));
        let out = copy();
        tiff_write(&out, &long, None).unwrap();
        let now = read_all(&out);
        let typ = u16::from_le_bytes([now[entry_at + 2], now[entry_at + 3]]);
        let count = u32::from_le_bytes(now[entry_at + 4..entry_at + 8].try_into().unwrap());
        assert_eq!((typ, count as usize), (1, long.len()), "type BYTE, count in bytes");
        assert_eq!(crate::media::tiff::read(&now).unwrap().xmp_bytes(), vec![long]);
        // In place: a packet of the old one's bytes (twice its count) is written over it.
        let mut fitted = packet("new");
        fitted.resize(old.len(), b' ');
        let out = copy();
        tiff_write(&out, &packet("unused"), Some(&fitted)).unwrap();
        let now = read_all(&out);
        assert_eq!(now.len(), f.len());
        assert_eq!(crate::media::tiff::read(&now).unwrap().xmp_bytes(), vec![fitted]);
    }

    #[test]
    fn several_xmp_packets_where_one_would_be_rewritten_are_refused() {
        use crate::media::jpeg::tests::segment;
        use crate::media::png::tests::{chunk, itxt, png, text};
        let (a, b) = (packet("first"), packet("second"));
        // `packet` (which apply reads the old packet with, before it writes) refuses them.
        let refused = |format: Format, bytes: &[u8], what: &str| {
            let (_d, f) = file_with(bytes);
            let err = super::packet(format, &f).unwrap_err();
            assert!(err.to_string().contains(what), "{format:?}: {err}");
        };
        // PSD: two 0x0424 resources.
        let res = |p: &[u8]| crate::media::iptc::tests::resource(IRB_XMP, b"", p);
        let two = crate::media::psd::tests::psd(1, &[res(&a), res(&b)]);
        assert_eq!(crate::media::psd::read(&two).unwrap().xmp.len(), 2, "the scan reads both");
        refused(Format::Psd, &two, "left beside it");
        // PNG: two XMP iTXt chunks; an XMP tEXt chunk; an XMP iTXt chunk after IEND.
        let key = b"XML:com.adobe.xmp";
        let two = png(&[itxt(key, false, &a), chunk(b"IDAT", &[0; 4]), itxt(key, false, &b)]);
        assert_eq!(crate::media::png::read(&two).unwrap().xmp.len(), 2, "the scan reads both");
        refused(Format::Png, &two, "left beside it");
        let plain = png(&[text(key, &a), chunk(b"IDAT", &[0; 4])]);
        assert_eq!(crate::media::png::read(&plain).unwrap().xmp.len(), 1, "the scan reads it");
        refused(Format::Png, &plain, "left beside it");
        let mut after = png(&[chunk(b"IDAT", &[0; 4])]);
        after.extend(itxt(key, false, &a));
        assert_eq!(crate::media::png::read(&after).unwrap().xmp.len(), 1, "the scan reads it");
        refused(Format::Png, &after, "left beside it");
        // JPEG: two standard XMP segments.
        let jpeg = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, Some(String::from_utf8(a).unwrap())));
        let two = [&jpeg[..2], &segment(0xE1, &[XMP_SIG, &b[..]].concat()), &jpeg[2..]].concat();
        assert_eq!(crate::media::jpeg::read(&two).unwrap().xmp.len(), 2, "the scan reads both");
        refused(Format::Jpeg, &two, "left beside it");
    }

    #[test]
    fn a_packet_the_scan_reads_where_the_writer_does_not_look_is_refused() {
        // The writer replaces (or adds) the packet of IFD0, the APP1 segment, ...; a packet the
        // scan reads elsewhere would be left beside consentry's result, naming its persons.
        use crate::media::exif::tests::tiff_block;
        use crate::media::jpeg::tests::segment;
        let (a, b) = (packet("first"), packet("second"));
        let refused = |format: Format, bytes: &Vec<u8>, second: &[u8]| {
            let at = bytes.windows(second.len()).position(|w| w == second).unwrap() as u64;
            let (_d, f) = file_with(bytes);
            let err = super::packet(format, &f).unwrap_err();
            assert!(matches!(err, SpliceError::Layout { offset, .. } if offset == at), "{format:?}: {err} (not {at})");
            assert!(err.to_string().contains("left beside it"), "{err}");
        };
        // TIFF: XMP in IFD0 and in the Exif IFD; XMP in the Exif IFD only (a new IFD0 entry would
        // be added beside it).
        let entry = |p: &[u8]| (700, 7, p.len() as u32, p.to_vec());
        refused(Format::Tiff, &tiff_block(false, &[entry(&a)], &[entry(&b)]), &b);
        refused(Format::Tiff, &tiff_block(false, &[(256, 3, 1, vec![0, 1])], &[entry(&b)]), &b);
        // JPEG: the APP1 packet and one in APP13's 0x0424 resource; a packet under a
        // non-standard `XMP\0` header only (the writer would add a standard one).
        let jpeg = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, Some(String::from_utf8(a).unwrap())));
        let irb = crate::media::iptc::tests::resource(IRB_XMP, b"", &b);
        let app13 = segment(0xED, &[&b"Photoshop 3.0\0"[..], &irb].concat());
        refused(Format::Jpeg, &[&jpeg[..2], &app13, &jpeg[2..]].concat(), &b);
        let bare = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, None));
        // (The scan reads such a segment as XMP from its first byte.)
        let body = [&b"XMP\0"[..], &b].concat();
        refused(Format::Jpeg, &[&bare[..2], &segment(0xE1, &body), &bare[2..]].concat(), &body);
        // The packet the writer finds, alone: written as before.
        let (_d, f) = file_with(&jpeg);
        assert_eq!(super::packet(Format::Jpeg, &f).unwrap().unwrap(), packet("first"));
    }

    #[test]
    fn a_png_xmp_chunk_the_scan_refuses_is_refused() {
        // The splice parsed the iTXt header itself: any compression flag but 1 was read as
        // uncompressed, any method accepted; the scan refuses both.
        use crate::media::png::tests::{chunk, png};
        for (flag, method) in [(2u8, 0u8), (1, 5)] {
            let mut data = b"XML:com.adobe.xmp\0".to_vec();
            data.extend([flag, method, 0, 0]);
            data.extend(packet("x"));
            let f = png(&[chunk(b"iTXt", &data), chunk(b"IDAT", &[0; 4])]);
            assert!(crate::media::png::read(&f).is_err(), "the scan refuses it");
            let err = packet_of(Format::Png, &f).unwrap_err();
            assert!(err.to_string().contains("compression flag/method"), "{flag} {method}: {err}");
        }
    }

    #[test]
    fn a_splice_writer_exists_exactly_for_the_formats_whose_embedding_is_a_splice() {
        for format in Format::ALL {
            let spliced = format.embedding() == crate::media::Embedding::Splice;
            assert_eq!(writer(format).is_ok(), spliced, "{format:?}: media's embedding and the splice table disagree");
        }
    }

    #[test]
    fn formats_without_an_embedded_writer_are_errors_naming_them() {
        // A TIFF-structured RAW file would be written by the TIFF writer if the dispatch fell back
        // to it: it must not.
        let raw = synth::build(SynthFormat::Nef, &embed(SynthFormat::Nef, None));
        let (_d, f) = file_with(&raw);
        for format in [Format::TiffRaw, Format::WebP, Format::Gif, Format::Heif, Format::Mp4, Format::Raf] {
            let err = super::packet(format, &f).unwrap_err();
            assert!(matches!(err, SpliceError::NoWriter { format: f } if f == format), "{format:?}: {err}");
            assert!(err.to_string().contains(&format!("{format:?}")), "{err}");
            let mut out = tempfile::tempfile().unwrap();
            let err = write(format, &f, b"p", None, &mut out).unwrap_err();
            assert!(matches!(err, SpliceError::NoWriter { .. }), "{format:?}: {err}");
            assert_eq!(out.metadata().unwrap().len(), 0, "{format:?}: nothing written");
        }
        // The formats with a writer go through the same dispatch.
        let tiff = synth::build(SynthFormat::Tiff, &embed(SynthFormat::Tiff, None));
        let (_d, f) = file_with(&tiff);
        assert_eq!(super::packet(Format::Tiff, &f).unwrap(), None);
        let mut out = tempfile::tempfile().unwrap();
        write(Format::Tiff, &f, &packet("t"), None, &mut out).unwrap();
        assert_eq!(super::packet(Format::Tiff, &out).unwrap().unwrap(), packet("t"));
    }

    #[test]
    fn errors_name_the_byte_where_the_layout_walk_failed() {
        let whole = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, None));
        let (_d, f) = file_with(&whole[..40]);
        let err = super::packet(Format::Jpeg, &f).unwrap_err();
        assert!(matches!(err, SpliceError::Media(MediaError::Truncated { .. })), "{err}");
        assert!(err.to_string().contains("at byte"), "{err}");
    }

    #[test]
    fn damaged_containers_are_errors_not_panics() {
        for (format, write) in
            [(SynthFormat::Jpeg, 0), (SynthFormat::Tiff, 1), (SynthFormat::Psd, 2), (SynthFormat::Png, 3)]
        {
            let whole = synth::build(format, &embed(format, Some(String::from_utf8(packet("x")).unwrap())));
            for cut in [3, 11, 40, whole.len() / 3, whole.len() / 2] {
                let damaged = &whole[..cut.min(whole.len())];
                let (_d, f) = file_with(damaged);
                let mut out = tempfile::tempfile().unwrap();
                let _ = match write {
                    0 => jpeg_write(&f, b"p", &mut out),
                    // TIFF is patched in a writable copy.
                    1 => out.write_all(damaged).and_then(|()| tiff_write(&out, b"p", None)),
                    2 => psd_write(&f, b"p", &mut out),
                    _ => png_write(&f, b"p", &mut out),
                };
            }
        }
    }
}
