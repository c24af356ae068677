//! ISO base media files (MP4, MOV, 3GP, HEIF/HEIC, AVIF, CR3): walk the boxes by their headers;
//! media data (`mdat`) and sample tables are skipped by size, never read.
//!
//! Read:
//! - top-level `uuid` BE7ACFCB-97A9-42E8-9C71-999491E3AFAC: an XMP packet (also accepted in `moov`);
//! - `moov/mvhd` creation time; `moov/udta/XMP_`, `moov/trak/udta/XMP_` and the `xml ` box of
//!   a `meta` box in either `udta`: XMP packets (QuickTime; exiftool reads each);
//! - Canon CR3 `moov/uuid` 85C0B687-820F-11E0-8111-F4CE462B6A48: `CMT1` (IFD0) and `CMT2`
//!   (Exif IFD) TIFF blocks;
//! - HEIF/AVIF top-level `meta` (read whole, at most [`MAX_META_BOX`]): items of type `mime`
//!   with content type `application/rdf+xml` (XMP) and of type `Exif`, located through `iloc`
//!   (construction method 0, file offsets, or 1, offsets into `idat`).
//!
//! Box size 0 means "to the end of the file"; it is accepted only for a top-level `mdat` (media
//! data written last by a recorder), anywhere else it would hide the boxes after it and is an
//! error. Size 1 means a 64-bit size follows. Any box that runs past the end of the file (a cut
//! file whose `moov` after `mdat` is lost) or of its parent is an error.
//!
//! There is no nesting limit: only the fixed paths above are descended.
use std::collections::{HashMap, HashSet};

use super::iptc::Placed;
use super::jpeg::{hex, push_xmp};
use super::{exif, MediaError, Metadata, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_META_BOX, MAX_XMP};

const XMP_UUID: [u8; 16] =
    [0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC];
const CANON_UUID: [u8; 16] =
    [0x85, 0xC0, 0xB6, 0x87, 0x82, 0x0F, 0x11, 0xE0, 0x81, 0x11, 0xF4, 0xCE, 0x46, 0x2B, 0x6A, 0x48];

/// Read the metadata of an ISOBMFF file.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// [`read`], keeping in `meta` what was located before a problem.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let mut w = Walker { items: 0, meta };
    let file_end = src.len();
    let mut pos = 0u64;
    while let Some(h) = w.header(src, pos, file_end)? {
        if pos == 0 && !h.plausible_first() {
            return Err(MediaError::Unrecognised { expected: "ISO base media", magic: hex(&h.kind) });
        }
        if h.end > file_end {
            // A cut file: whatever followed this box (often `moov` after `mdat`) is lost.
            return Err(MediaError::Truncated {
                what: "box (the file is cut short)",
                offset: h.start,
                needed: h.size(),
                len: file_end,
            });
        }
        match &h.kind {
            b"moov" => w.moov(src, &h)?,
            b"meta" => w.heif_meta(src, &h)?,
            b"uuid" if uuid(src, &h) == Some(XMP_UUID) => w.xmp_box(src, &h, 16)?,
            _ => {}
        }
        pos = h.end;
    }
    if pos < file_end {
        // 1 to 7 bytes left: a box header cut short.
        return Err(MediaError::Truncated { what: "box header", offset: pos, needed: 8, len: file_end });
    }
    Ok(())
}

/// A box header: where the box starts, where its body starts and where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    pub start: u64,
    pub body: u64,
    pub end: u64,
}

impl BoxHeader {
    pub fn size(&self) -> u64 {
        self.end - self.start
    }
    pub fn body_len(&self) -> u64 {
        self.end - self.body
    }
    /// The box, if it ends by `parent_end`; else an error.
    pub fn within(self, parent_end: u64) -> Result<BoxHeader, MediaError> {
        if self.end > parent_end {
            return Err(MediaError::malformed(
                "box",
                self.start,
                format!("{} box of {} bytes passes its parent's end at {parent_end}", fourcc(&self.kind), self.size()),
            ));
        }
        Ok(self)
    }
    /// Whether a first box type looks like ISOBMFF (printable four-character code).
    fn plausible_first(&self) -> bool {
        self.kind.iter().all(|&b| (0x20..0x7F).contains(&b))
    }
}

/// The header of the box at `pos` inside a parent ending at `parent_end`; None when fewer than 8
/// bytes remain (the end, or padding such as QuickTime's 32-bit zero terminator). The returned
/// box may end past `parent_end`: the caller decides whether that matters. Size 0 ("to the end")
/// is accepted only for a top-level `mdat`.
pub fn box_header(src: &dyn ReadAt, pos: u64, parent_end: u64) -> Result<Option<BoxHeader>, MediaError> {
    let available = parent_end.min(src.len()).saturating_sub(pos);
    if available < 8 {
        return Ok(None);
    }
    let head = src.slice("box header", pos, available.min(16), 16)?;
    let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let kind = [head[4], head[5], head[6], head[7]];
    let (body, end) = match size32 {
        // Only media data runs "to the end" in real files; elsewhere the rest would be hidden.
        0 if &kind == b"mdat" && parent_end == src.len() => (pos + 8, parent_end),
        0 => {
            return Err(MediaError::malformed(
                "box",
                pos,
                format!("{} box of size 0 (\"to the end\") would hide what follows it", fourcc(&kind)),
            ))
        }
        1 => {
            let Some(large) = head.get(8..16) else {
                return Err(MediaError::Truncated { what: "box largesize", offset: pos, needed: 16, len: parent_end });
            };
            let large = u64::from_be_bytes(large.try_into().unwrap_or([0; 8]));
            if large < 16 {
                return Err(MediaError::malformed("box", pos, format!("largesize {large}")));
            }
            let end = pos.checked_add(large).ok_or_else(|| MediaError::malformed("box", pos, "size overflows"))?;
            (pos + 16, end)
        }
        n if n < 8 => return Err(MediaError::malformed("box", pos, format!("size {n}"))),
        n => (pos + 8, pos + u64::from(n)),
    };
    Ok(Some(BoxHeader { kind, start: pos, body, end }))
}

/// The layout walk of ISOBMFF: the boxes in `src[start..end]` by their headers, in order (at
/// most [`MAX_ITEMS`]). A box that passes `end` is an error, and ends the walk.
pub fn boxes(src: &dyn ReadAt, start: u64, end: u64) -> impl Iterator<Item = Result<BoxHeader, MediaError>> + '_ {
    let (mut pos, mut items) = (start, 0usize);
    super::walk(move || {
        items += 1;
        if items > MAX_ITEMS {
            return Err(MediaError::malformed("box", pos, "too many boxes"));
        }
        let h = box_header(src, pos, end)?.map(|h| h.within(end)).transpose()?;
        if let Some(h) = &h {
            pos = h.end;
        }
        Ok(h)
    })
}

/// The 16-byte user type of a `uuid` box, when it can be read.
pub fn uuid(src: &dyn ReadAt, h: &BoxHeader) -> Option<[u8; 16]> {
    if h.body_len() < 16 {
        return None;
    }
    let b = src.slice("uuid box", h.body, 16, 16).ok()?;
    b[..].try_into().ok()
}

struct Walker<'m> {
    items: usize,
    meta: &'m mut Metadata,
}

impl Walker<'_> {
    /// [`box_header`], counting the boxes of the file (at most [`MAX_ITEMS`]).
    fn header(&mut self, src: &dyn ReadAt, pos: u64, parent_end: u64) -> Result<Option<BoxHeader>, MediaError> {
        if parent_end.min(src.len()).saturating_sub(pos) < 8 {
            return Ok(None);
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(MediaError::malformed("box", pos, "too many boxes"));
        }
        box_header(src, pos, parent_end)
    }

    /// The child boxes of `[start, end)`, each required to fit inside.
    fn children(&mut self, src: &dyn ReadAt, start: u64, end: u64) -> Result<Vec<BoxHeader>, MediaError> {
        let mut out = Vec::new();
        let mut pos = start;
        while let Some(h) = self.header(src, pos, end)? {
            let h = h.within(end)?;
            pos = h.end;
            out.push(h);
        }
        Ok(out)
    }

    fn xmp_box(&mut self, src: &dyn ReadAt, h: &BoxHeader, skip: u64) -> Result<(), MediaError> {
        let at = h.body + skip;
        let data = src.slice("XMP box", at, h.end.saturating_sub(at), MAX_XMP)?;
        push_xmp(self.meta, data.into_owned(), at)
    }

    /// `udta`: its `XMP_` boxes.
    fn udta(&mut self, src: &dyn ReadAt, udta: &BoxHeader) -> Result<(), MediaError> {
        for c in self.children(src, udta.body, udta.end)? {
            match &c.kind {
                b"XMP_" => self.xmp_box(src, &c, 0)?,
                b"meta" => self.meta_xml(src, &c)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// A `meta` box inside `udta`: its `xml ` box (version and flags, then XML), where exiftool
    /// reads XMP too.
    fn meta_xml(&mut self, src: &dyn ReadAt, meta: &BoxHeader) -> Result<(), MediaError> {
        let first = self.meta_children_at(src, meta)?;
        for c in self.children(src, first, meta.end)? {
            if &c.kind == b"xml " && c.body_len() >= 4 {
                self.xmp_box(src, &c, 4)?;
            }
        }
        Ok(())
    }

    /// Where the children of a `meta` box start: after version and flags (ISOBMFF's FullBox), or
    /// right at the body (QuickTime's, whose first child `hdlr` then sits there).
    fn meta_children_at(&self, src: &dyn ReadAt, meta: &BoxHeader) -> Result<u64, MediaError> {
        let head = src.slice("meta box", meta.body, meta.body_len().min(8), 8)?;
        Ok(if head.get(4..8) == Some(b"hdlr") { meta.body } else { meta.body + 4 })
    }

    fn moov(&mut self, src: &dyn ReadAt, moov: &BoxHeader) -> Result<(), MediaError> {
        for h in self.children(src, moov.body, moov.end)? {
            match &h.kind {
                b"mvhd" => {
                    let b = src.slice("mvhd box", h.body, h.body_len().min(12), 12)?;
                    let created = match (b.first(), b.len()) {
                        (Some(0), 8..) => u64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])),
                        (Some(1), 12..) => u64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]),
                        _ => 0,
                    };
                    if created != 0 && self.meta.quicktime_created.is_none() {
                        self.meta.quicktime_created = Some(created);
                    }
                }
                b"udta" => self.udta(src, &h)?,
                b"trak" => {
                    for c in self.children(src, h.body, h.end)? {
                        if &c.kind == b"udta" {
                            self.udta(src, &c)?;
                        }
                    }
                }
                b"uuid" => match uuid(src, &h) {
                    Some(XMP_UUID) => self.xmp_box(src, &h, 16)?,
                    Some(CANON_UUID) => {
                        for c in self.children(src, h.body + 16, h.end)? {
                            if &c.kind == b"CMT1" || &c.kind == b"CMT2" {
                                let block = src.slice("Canon CMT box", c.body, c.body_len(), MAX_BLOCK)?;
                                exif::merge_lenient(self.meta, &block, c.body)?;
                            }
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        Ok(())
    }

    /// HEIF `meta`: find XMP and Exif items and read them through `iloc`.
    fn heif_meta(&mut self, src: &dyn ReadAt, meta: &BoxHeader) -> Result<(), MediaError> {
        let bytes = src.slice("meta box", meta.start, meta.size(), MAX_META_BOX)?;
        let mem = Placed { data: &bytes, base: meta.start };
        let first = self.meta_children_at(&mem, meta)?;
        let mut items: Vec<(u32, ItemKind)> = Vec::new();
        let mut iloc = None;
        let mut idat = None;
        for h in self.children(&mem, first, meta.end)? {
            match &h.kind {
                b"iinf" => items = self.iinf(&mem, &h)?,
                b"iloc" => iloc = Some(h),
                b"idat" => idat = Some(h.body..h.end),
                _ => {}
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        let Some(iloc) = iloc else {
            return match items.iter().any(|i| i.1 == ItemKind::Xmp) {
                true => Err(MediaError::malformed("meta box", meta.start, "XMP item without iloc")),
                false => Ok(()),
            };
        };
        let at = |offset: u64| (offset - meta.start) as usize;
        let wanted: HashSet<u32> = items.iter().map(|i| i.0).collect();
        let locations = parse_iloc(&bytes[at(iloc.body)..at(iloc.end)], iloc.body, &wanted)?;
        // Items may share their extents: without a budget for all Exif items together, a small
        // file could make us read (and parse) gigabytes. XMP items are bounded by `push_xmp`.
        let mut exif_budget = MAX_BLOCK;
        for (id, kind) in items {
            let loc = locations.get(&id);
            let limit = if kind == ItemKind::Xmp { MAX_XMP } else { exif_budget };
            let data = loc
                .ok_or_else(|| format!("item {id} has no location"))
                .and_then(|loc| read_item(src, &mem, idat.clone(), loc, limit));
            match kind {
                ItemKind::Xmp => {
                    let entry_at = loc.map_or(iloc.start, |l| l.base);
                    let data = data.map_err(|d| MediaError::malformed("HEIF XMP item", entry_at, d))?;
                    let offset = loc.and_then(|l| l.file_offset(idat.as_ref())).unwrap_or(entry_at);
                    push_xmp(self.meta, data, offset)?;
                }
                ItemKind::Exif => {
                    // Lenient: a broken Exif item loses only EXIF values.
                    if let Ok(data) = data {
                        exif_budget -= data.len() as u64;
                        if let Some(tiff) = exif_item_tiff(&data) {
                            let item_at = loc.and_then(|l| l.file_offset(idat.as_ref())).unwrap_or(iloc.start);
                            exif::merge_lenient(self.meta, tiff, item_at + (data.len() - tiff.len()) as u64)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Item ids of XMP and Exif items, in `iinf` order.
    fn iinf(&mut self, mem: &Placed, iinf: &BoxHeader) -> Result<Vec<(u32, ItemKind)>, MediaError> {
        let body = mem.slice("iinf box", iinf.body, iinf.body_len(), MAX_META_BOX)?;
        let version = *body.first().ok_or_else(|| MediaError::malformed("iinf box", iinf.start, "empty"))?;
        let first = iinf.body + if version == 0 { 6 } else { 8 };
        let mut out = Vec::new();
        // Item ids are unique; a repeated id (hostile: thousands of times) counts once.
        let mut seen = HashSet::new();
        for h in self.children(mem, first, iinf.end)? {
            if &h.kind != b"infe" {
                continue;
            }
            let b = mem.slice("infe box", h.body, h.body_len(), MAX_META_BOX)?;
            let mut c = Cur { data: &b, pos: 0, base: h.body, what: "infe box" };
            let version = c.u8()?;
            c.skip(3)?;
            let (id, item_type) = match version {
                0 | 1 => (u32::from(c.u16()?), *b"mime"),
                2 | 3 => {
                    let id = if version == 2 { u32::from(c.u16()?) } else { c.u32()? };
                    c.skip(2)?; // protection index
                    (id, c.fourcc()?)
                }
                _ => continue,
            };
            if version <= 1 {
                c.skip(2)?; // protection index
            }
            if (&item_type == b"Exif" || &item_type == b"mime") && !seen.insert(id) {
                continue;
            }
            match &item_type {
                b"Exif" => out.push((id, ItemKind::Exif)),
                b"mime" => {
                    c.cstr()?; // item name
                               // Some writers omit the terminating NUL of the last string.
                    let content_type = c.cstr_or_rest();
                    let ct = String::from_utf8_lossy(content_type);
                    let ct = ct.split(';').next().unwrap_or("").trim();
                    if ct.eq_ignore_ascii_case("application/rdf+xml") {
                        out.push((id, ItemKind::Xmp));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Xmp,
    Exif,
}

/// Where an item's data lies, from `iloc`.
#[derive(Debug)]
struct Location {
    method: u8,
    /// File offset of this entry in `iloc` (for messages).
    base: u64,
    base_offset: u64,
    extents: Vec<(u64, u64)>,
}

impl Location {
    /// The file offset of the item's first byte (of its first extent).
    fn file_offset(&self, idat: Option<&std::ops::Range<u64>>) -> Option<u64> {
        let first = self.base_offset.checked_add(self.extents.first()?.0)?;
        match self.method {
            0 => Some(first),
            1 => idat?.start.checked_add(first),
            _ => None,
        }
    }
}

/// Parse `iloc` (versions 0, 1, 2), keeping the first entry of each wanted item, by item id.
fn parse_iloc(body: &[u8], at: u64, wanted: &HashSet<u32>) -> Result<HashMap<u32, Location>, MediaError> {
    let mut c = Cur { data: body, pos: 0, base: at, what: "iloc box" };
    let version = c.u8()?;
    c.skip(3)?;
    if version > 2 {
        return Err(MediaError::malformed("iloc box", at, format!("version {version}")));
    }
    let sizes = c.u8()?;
    let (offset_size, length_size) = (sizes >> 4, sizes & 15);
    let sizes = c.u8()?;
    let base_offset_size = sizes >> 4;
    let index_size = if version >= 1 { sizes & 15 } else { 0 };
    let count = if version < 2 { u32::from(c.u16()?) } else { c.u32()? };
    let mut out = HashMap::new();
    let mut extents_seen = 0usize;
    for _ in 0..count {
        let entry_at = at + c.pos as u64;
        let id = if version < 2 { u32::from(c.u16()?) } else { c.u32()? };
        let method = if version >= 1 { (c.u16()? & 15) as u8 } else { 0 };
        c.skip(2)?; // data reference index: 0 = this file
        let base_offset = c.sized(base_offset_size)?;
        let extent_count = c.u16()?;
        let keep = wanted.contains(&id) && !out.contains_key(&id);
        let mut extents = Vec::new();
        for _ in 0..extent_count {
            extents_seen += 1;
            if extents_seen > MAX_ITEMS {
                return Err(MediaError::malformed("iloc box", at, "too many extents"));
            }
            c.sized(index_size)?;
            let offset = c.sized(offset_size)?;
            let length = c.sized(length_size)?;
            if keep {
                extents.push((offset, length));
            }
        }
        if keep {
            out.insert(id, Location { method, base: entry_at, base_offset, extents });
        }
    }
    Ok(out)
}

/// The bytes of an item (its extents concatenated), at most `limit` bytes.
fn read_item(
    src: &dyn ReadAt,
    mem: &Placed,
    idat: Option<std::ops::Range<u64>>,
    loc: &Location,
    limit: u64,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for &(offset, length) in &loc.extents {
        let rel = loc.base_offset.checked_add(offset).ok_or("extent offset overflows")?;
        let (source, start, end): (&dyn ReadAt, u64, u64) = match loc.method {
            0 => (src, rel, src.len()),
            1 => {
                let idat = idat.clone().ok_or("construction method 1 without idat")?;
                let start = idat.start.checked_add(rel).ok_or("extent offset overflows")?;
                (mem, start, idat.end)
            }
            m => return Err(format!("construction method {m} is not supported")),
        };
        if start > end {
            return Err(format!("extent at {start} lies past the end at {end}"));
        }
        // Length 0: the rest of the source.
        let length = if length == 0 { end - start } else { length };
        if length > end - start {
            return Err(format!("extent of {length} bytes at {start} passes the end at {end}"));
        }
        let total = out.len() as u64 + length;
        if total > limit {
            return Err(format!("item of {total} bytes is larger than the limit of {limit}"));
        }
        let bytes = source.slice("item extent", start, length, limit).map_err(|e| e.to_string())?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// The TIFF block of a HEIF Exif item: a u32 offset to the TIFF header (past "Exif\0\0"), then data.
fn exif_item_tiff(data: &[u8]) -> Option<&[u8]> {
    let skip = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let tiff = data.get(4..)?.get(skip..)?;
    Some(exif::strip_exif_header(tiff))
}

fn fourcc(kind: &[u8; 4]) -> String {
    String::from_utf8_lossy(kind).escape_debug().to_string()
}

/// A bounds-checked big-endian reader over a box body; errors name file offsets.
struct Cur<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    what: &'static str,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MediaError> {
        let b = self.pos.checked_add(n).and_then(|end| self.data.get(self.pos..end)).ok_or(MediaError::Truncated {
            what: self.what,
            offset: self.base + self.pos as u64,
            needed: n as u64,
            len: self.base + self.data.len() as u64,
        })?;
        self.pos += n;
        Ok(b)
    }
    fn skip(&mut self, n: usize) -> Result<(), MediaError> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, MediaError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, MediaError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn fourcc(&mut self) -> Result<[u8; 4], MediaError> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }
    /// An unsigned integer of 0, 4 or 8 bytes (iloc field sizes).
    fn sized(&mut self, size: u8) -> Result<u64, MediaError> {
        match size {
            0 => Ok(0),
            4 => self.u32().map(u64::from),
            8 => {
                let b = self.take(8)?;
                Ok(u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            n => Err(MediaError::malformed(self.what, self.base + self.pos as u64, format!("field size {n}"))),
        }
    }
    /// A NUL-terminated string (without the NUL).
    fn cstr(&mut self) -> Result<&'a [u8], MediaError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == 0).ok_or(MediaError::Truncated {
            what: self.what,
            offset: self.base + self.pos as u64,
            needed: rest.len() as u64 + 1,
            len: self.base + self.data.len() as u64,
        })?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
    fn cstr_or_rest(&mut self) -> &'a [u8] {
        self.cstr().unwrap_or_else(|_| {
            let rest = &self.data[self.pos..];
            self.pos = self.data.len();
            rest
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![version, 0, 0, 0];
        b.extend_from_slice(body);
        bx(kind, &b)
    }

    fn uuid_box(uuid: &[u8; 16], body: &[u8]) -> Vec<u8> {
        bx(b"uuid", &[&uuid[..], body].concat())
    }

    const XMP: &[u8] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>iso</x:xmpmeta>";

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        bx(b"ftyp", &[&brand[..], &[0, 0, 0, 0], &brand[..], b"isom"].concat())
    }

    fn mvhd(created: u32) -> Vec<u8> {
        full(b"mvhd", 0, &[&created.to_be_bytes()[..], &[0; 92]].concat())
    }

    #[test]
    fn mp4_with_moov_after_mdat() {
        let moov = bx(
            b"moov",
            &[
                mvhd(3_000_000_000),
                bx(b"trak", &bx(b"tkhd", &[0; 20])),
                bx(b"udta", &[bx(b"XMP_", XMP), vec![0; 4]].concat()),
            ]
            .concat(),
        );
        let f = [ftyp(b"isom"), bx(b"mdat", &[0x33; 500]), moov].concat();
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(m.quicktime_created, Some(3_000_000_000));
    }

    #[test]
    fn top_level_uuid_and_largesize_and_size_zero() {
        let mut mdat = vec![0, 0, 0, 1];
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(16u64 + 100).to_be_bytes());
        mdat.extend_from_slice(&[0x44; 100]);
        let mvhd1 = full(b"mvhd", 1, &[&5_000_000_000u64.to_be_bytes()[..], &[0; 100]].concat());
        let last = [&[0, 0, 0, 0][..], b"mdat", &[0; 30]].concat();
        let f = [ftyp(b"mp42"), uuid_box(&XMP_UUID, XMP), mdat.clone(), bx(b"moov", &mvhd1), last].concat();
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(m.quicktime_created, Some(5_000_000_000));
        // Size 0 on any other box, at the top or nested, would hide what follows: an error that
        // keeps what came before.
        let free0 = [&[0, 0, 0, 0][..], b"free", &[0; 30]].concat();
        let first = uuid_box(&XMP_UUID, XMP);
        let f = [ftyp(b"mp42"), first.clone(), free0.clone(), uuid_box(&XMP_UUID, XMP)].concat();
        let mut meta = Metadata::default();
        let e = read_into(&f, &mut meta).unwrap_err();
        assert!(e.to_string().contains(&format!("at byte {}", 24 + first.len())), "{e}");
        assert_eq!(meta.xmp.len(), 1);
        let f = [ftyp(b"mp42"), bx(b"moov", &[bx(b"udta", &free0), bx(b"udta", &bx(b"XMP_", XMP))].concat())].concat();
        assert!(read(&f).is_err());
    }

    #[test]
    fn xmp_in_the_xml_box_of_a_udta_meta() {
        let xml = bx(b"xml ", &[&[0; 4][..], XMP].concat());
        let hdlr = bx(b"hdlr", &[0; 25]);
        for meta in
            [bx(b"meta", &[&[0; 4][..], &hdlr, &xml].concat()), bx(b"meta", &[hdlr.clone(), xml.clone()].concat())]
        {
            let f = [ftyp(b"qt  "), bx(b"moov", &[mvhd(7), bx(b"udta", &meta)].concat())].concat();
            let m = read(&f).unwrap();
            assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
            assert_eq!(&f[m.xmp[0].offset as usize..][..XMP.len()], XMP);
        }
    }

    #[test]
    fn xmp_in_a_track_udta() {
        let trak = bx(b"trak", &[bx(b"tkhd", &[0; 20]), bx(b"udta", &bx(b"XMP_", XMP))].concat());
        let f = [ftyp(b"qt  "), bx(b"moov", &[mvhd(7), trak].concat()), bx(b"mdat", &[1; 10])].concat();
        assert_eq!(read(&f).unwrap().xmp_bytes(), vec![XMP.to_vec()]);
    }

    #[test]
    fn any_box_cut_short_is_an_error_that_keeps_what_came_before() {
        // moov after mdat: a file cut in mdat has lost its moov.
        let f = [ftyp(b"isom"), uuid_box(&XMP_UUID, XMP), bx(b"mdat", &[0x33; 500]), bx(b"moov", &mvhd(7))].concat();
        let mut meta = Metadata::default();
        let e = read_into(&f[..f.len() - 200].to_vec(), &mut meta).unwrap_err();
        let mdat_at = 24 + 8 + 16 + XMP.len();
        assert!(matches!(e, MediaError::Truncated { offset, .. } if offset == mdat_at as u64), "{e}");
        assert_eq!(meta.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(meta.xmp_offsets(), vec![24 + 8 + 16]);
        let f = [ftyp(b"isom"), bx(b"moov", &mvhd(7))].concat();
        assert!(read(&f[..f.len() - 1].to_vec()).is_err());
        let f = [ftyp(b"isom"), uuid_box(&XMP_UUID, XMP)].concat();
        assert!(read(&f[..f.len() - 1].to_vec()).is_err());
    }

    #[test]
    fn cr3_canon_boxes() {
        let block = sample_block(false);
        // CMT1 = IFD0 (XPKeywords), CMT2 = an Exif IFD as a block's IFD0 (dates).
        let canon = uuid_box(
            &CANON_UUID,
            &[bx(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00"), bx(b"CMT1", &block), bx(b"CMT2", &block)].concat(),
        );
        let f =
            [ftyp(b"crx "), bx(b"moov", &[canon, mvhd(1)].concat()), uuid_box(&XMP_UUID, XMP), bx(b"mdat", &[0; 10])]
                .concat();
        let m = read(&f).unwrap();
        assert_eq!(m.exif, sample_fields());
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
    }

    /// A HEIF file with an XMP item and an Exif item; `method` selects iloc construction method 0
    /// (file offsets, data in mdat) or 1 (idat). The XMP item is split in two extents.
    fn heif(iloc_version: u8, method: u16) -> Vec<u8> {
        let mut exif_item = vec![0, 0, 0, 6];
        exif_item.extend_from_slice(b"Exif\0\0");
        exif_item.extend(sample_block(true));
        let infe_xmp = full(b"infe", 2, &[&[0, 1, 0, 0][..], b"mime", b"XMP\0", b"application/rdf+xml\0"].concat());
        let infe_exif = full(b"infe", 2, &[&[0, 2, 0, 0][..], b"Exif", b"\0"].concat());
        let infe_img = full(b"infe", 2, &[&[0, 3, 0, 0][..], b"hvc1", b"\0"].concat());
        let iinf = full(b"iinf", 0, &[&3u16.to_be_bytes()[..], &infe_img, &infe_xmp, &infe_exif].concat());
        let hdlr = full(b"hdlr", 0, &[&[0; 4][..], b"pict", &[0; 12], b"\0"].concat());
        let (split, rest) = XMP.split_at(10);
        // Data layout: method 1 keeps it in idat, method 0 in an mdat after meta.
        let payload = [split, rest, &exif_item].concat();
        let build_iloc = |base: u64| -> Vec<u8> {
            let mut b = vec![0x44, 0x40]; // offset 4, length 4, base offset 4, index 0
            if iloc_version < 2 {
                b.extend_from_slice(&2u16.to_be_bytes());
            } else {
                b.extend_from_slice(&2u32.to_be_bytes());
            }
            let id = |b: &mut Vec<u8>, id: u32| {
                if iloc_version < 2 {
                    b.extend_from_slice(&(id as u16).to_be_bytes())
                } else {
                    b.extend_from_slice(&id.to_be_bytes())
                }
            };
            id(&mut b, 1);
            if iloc_version >= 1 {
                b.extend_from_slice(&method.to_be_bytes());
            }
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&(base as u32).to_be_bytes());
            b.extend_from_slice(&2u16.to_be_bytes());
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&10u32.to_be_bytes());
            b.extend_from_slice(&10u32.to_be_bytes());
            b.extend_from_slice(&((XMP.len() - 10) as u32).to_be_bytes());
            id(&mut b, 2);
            if iloc_version >= 1 {
                b.extend_from_slice(&method.to_be_bytes());
            }
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&((base + XMP.len() as u64) as u32).to_be_bytes());
            b.extend_from_slice(&1u16.to_be_bytes());
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&0u32.to_be_bytes()); // length 0: to the end of the source
            full(b"iloc", iloc_version, &b)
        };
        let ft = bx(b"ftyp", &[&b"heic"[..], &[0, 0, 0, 0], b"mif1heic"].concat());
        if method == 1 {
            let meta = full(b"meta", 0, &[hdlr, iinf, build_iloc(0), bx(b"idat", &payload)].concat());
            [ft, meta, bx(b"mdat", &[0x99; 64])].concat()
        } else {
            let meta_len = full(b"meta", 0, &[hdlr.clone(), iinf.clone(), build_iloc(0)].concat()).len();
            let data_at = (ft.len() + meta_len + 8) as u64;
            let meta = full(b"meta", 0, &[hdlr, iinf, build_iloc(data_at)].concat());
            [ft, meta, bx(b"mdat", &payload)].concat()
        }
    }

    #[test]
    fn heif_items_both_construction_methods() {
        for (version, method) in [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1)] {
            let f = heif(version, method);
            let m = read(&f).unwrap_or_else(|e| panic!("v{version} m{method}: {e}"));
            assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()], "v{version} m{method}");
            assert_eq!(m.exif, sample_fields(), "v{version} m{method}");
        }
    }

    #[test]
    fn heif_truncated_item_is_error() {
        let f = heif(1, 0);
        // Cutting the file cuts the Exif item (lenient) — and with it the XMP item's data? No:
        // the XMP item comes first. Cut into the XMP bytes instead.
        let at = f.windows(4).rposition(|w| w == b"<x:x").unwrap();
        assert!(read(&f[..at + 5].to_vec()).is_err());
        // Cut after the XMP item: an error (the file is cut), and the packet is kept.
        let mut meta = Metadata::default();
        assert!(read_into(&f[..f.len() - 3].to_vec(), &mut meta).is_err());
        assert_eq!(meta.xmp.len(), 1);
    }

    #[test]
    fn shared_extents_and_repeated_item_ids_are_bounded() {
        // 1000 Exif items (each id listed twice in iinf) whose 60 extents all cover the same
        // 64 KiB of idat: 4 GB to read and parse if every item were read; the Exif budget of the
        // file stops after MAX_BLOCK bytes.
        let mut idat = vec![0, 0, 0, 6];
        idat.extend_from_slice(b"Exif\0\0");
        idat.extend(sample_block(true));
        idat.resize(64 << 10, 0);
        let n = 1000u16;
        let infe = |id: u16| full(b"infe", 2, &[&id.to_be_bytes()[..], &[0, 0], b"Exif", b"\0"].concat());
        let infes: Vec<u8> = (1..=n).flat_map(|id| [infe(id), infe(id)].concat()).collect();
        let iinf = full(b"iinf", 0, &[&(2 * n).to_be_bytes()[..], &infes].concat());
        let mut b = vec![0x44, 0x40];
        b.extend_from_slice(&n.to_be_bytes());
        for id in 1..=n {
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // method 1, data ref, base offset
            b.extend_from_slice(&60u16.to_be_bytes());
            b.extend_from_slice(&[0; 8 * 60]); // offset 0, length 0 (all of idat)
        }
        let hdlr = full(b"hdlr", 0, &[&[0; 4][..], b"pict", &[0; 12], b"\0"].concat());
        let meta = full(b"meta", 0, &[hdlr, iinf, full(b"iloc", 1, &b), bx(b"idat", &idat)].concat());
        let f = [bx(b"ftyp", &[&b"heic"[..], &[0, 0, 0, 0], b"mif1heic"].concat()), meta].concat();
        let started = std::time::Instant::now();
        let m = read(&f).unwrap();
        assert_eq!(m.exif, sample_fields());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(read(&b"\0\0\0\x04abcd".to_vec()).is_err());
        assert!(read(&b"\0\0\0\x10\x01\x02\x03\x04abcdefgh".to_vec()).is_err());
        assert_eq!(read(&Vec::new()).unwrap(), Metadata::default());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let samples = [
            heif(1, 0),
            heif(2, 1),
            [
                ftyp(b"isom"),
                bx(b"moov", &[mvhd(3), bx(b"udta", &bx(b"XMP_", b"<x/>"))].concat()),
                uuid_box(&XMP_UUID, b"<x/>"),
            ]
            .concat(),
        ];
        for f in &samples {
            crate::media::for_each_damaged(f, |b| {
                let _ = read(b);
            });
        }
    }
}
