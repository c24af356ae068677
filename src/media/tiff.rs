//! TIFF-structured files (TIFF, BigTIFF, DNG, CR2, NEF, ARW, ORF, RW2, PEF, ...): a bounded walk
//! of IFD0, the IFDs chained after it and the Exif IFD over positioned reads; the file is never
//! loaded.
//!
//! Read from each IFD of the chain (IFD0, IFD1, ..., as exiftool reads them; a loop in the chain
//! or a next-IFD offset that cannot be read is an error): 700 XMLPacket (XMP), 33723 IPTC-NAA (IIM), 34377 Photoshop resources (IIM in
//! 0x0404), 0x9C9E XPKeywords, and 34665 the Exif IFD pointer (0x9003 DateTimeOriginal, 0x9011
//! OffsetTimeOriginal). A value that cannot be read from IFD0 is an error (it may name persons);
//! so is an Exif IFD that cannot be read (it may hold XMP in tag 700). Only a date value that
//! cannot be read is ignored (it loses only the capture date).
use std::borrow::Cow;
use std::collections::HashSet;

use super::exif::TAG_XMP;
use super::iptc::{self, Placed};
use super::jpeg::{hex, push_xmp};
use super::{exif, MediaError, Metadata, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_XMP};

const TAG_IPTC: u16 = 33723;
const TAG_PHOTOSHOP: u16 = 34377;
const TAG_EXIF_IFD: u16 = 34665;
/// SubIFDs: the offsets of an IFD's child IFDs (DNG and RAW previews, full-size images).
pub const TAG_SUB_IFDS: u16 = 330;

/// Largest Exif date/offset value read.
const MAX_SMALL: u64 = 4096;

/// Read the metadata of a TIFF-structured file.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read the metadata of a TIFF-structured file. What was located before a problem stays in `meta`.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    read_within(src, meta, MAX_XMP, false)
}

/// [`read_into`] with the XPKeywords values of the file together within `xp_limit` bytes (an
/// EXIF block, `exif::merge_lenient`, cannot hold more distinct keywords than its own size),
/// and with `typed_xmp` an XMP entry (tag 700) of a type that holds no bytes an error. A TIFF
/// file's XMP entry is read as the bytes it holds whatever its type (writers mistype it, and
/// `apply` rewrites it as BYTE).
pub(super) fn read_within(
    src: &dyn ReadAt,
    meta: &mut Metadata,
    xp_limit: u64,
    typed_xmp: bool,
) -> Result<(), MediaError> {
    let (t, ifd0) = header(src)?;

    // IFD0 and the IFDs chained after it (IFD1, ...): exiftool reads tag 700 in each of them.
    let mut reads = PersonReads { xp_limit, typed_xmp, ..PersonReads::default() };
    for ifd in t.chain(ifd0) {
        let (offset, entries) = ifd?;
        ifd_tags(&t, &entries, offset, meta, &mut reads)?;
    }
    Ok(())
}

/// The values of person-bearing entries (XMP, IPTC-NAA, Photoshop resources, XPKeywords) read
/// from one file: an entry whose value was read already (the same tag, place and length) names
/// nobody new and is not read again, and all of them together stay within [`MAX_XMP`] bytes. A
/// hostile file with thousands of entries pointing at one large value would otherwise cost time
/// and memory without bound; past the budget the file is an error (unreadable), never cut short.
#[derive(Default)]
struct PersonReads {
    read: std::collections::HashSet<(u16, u64, u64)>,
    bytes: u64,
    /// Of those, the bytes of XPKeywords values, and their limit.
    xp_bytes: u64,
    xp_limit: u64,
    /// Whether an XMP entry must be of a type that holds bytes ([`read_within`]).
    typed_xmp: bool,
    /// The XPKeywords values taken: one written again elsewhere adds no item.
    xp: std::collections::HashSet<String>,
}

impl PersonReads {
    /// Whether `e` is to be read (false: the same value was read before); an error past the
    /// budget.
    fn admit(&mut self, t: &Tiff, e: &Entry) -> Result<bool, MediaError> {
        let len = t.value_len(e).unwrap_or(0);
        if !self.read.insert((e.tag, e.value_at(t), len)) {
            return Ok(false);
        }
        self.bytes = self.bytes.saturating_add(len);
        if e.tag == exif::TAG_XP_KEYWORDS {
            self.xp_bytes = self.xp_bytes.saturating_add(len);
            if self.xp_bytes > self.xp_limit {
                return Err(MediaError::TooLarge {
                    what: "XPKeywords values",
                    offset: e.field_at,
                    size: self.xp_bytes,
                    limit: self.xp_limit,
                });
            }
        }
        if self.bytes > MAX_XMP {
            return Err(MediaError::TooLarge {
                what: "person-bearing TIFF values (XMP, IPTC, Photoshop, XPKeywords)",
                offset: e.field_at,
                size: self.bytes,
                limit: MAX_XMP,
            });
        }
        Ok(true)
    }
}

/// The layout walk of a TIFF-structured file starts here: the header's byte order and kind
/// (classic or BigTIFF) and the offset of IFD0; [`Tiff::ifd_and_next`] then walks the IFDs.
/// Reading metadata, finding previews and replacing the XMP entry all start here.
pub fn header(src: &dyn ReadAt) -> Result<(Tiff<'_>, u64), MediaError> {
    let head = src.slice("TIFF header", 0, src.len().min(16), 16)?;
    let little = match head.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Err(MediaError::Unrecognised { expected: "TIFF", magic: hex(&head[..head.len().min(4)]) }),
    };
    let need = |n: usize| -> Result<(), MediaError> {
        if head.len() < n {
            Err(MediaError::Truncated { what: "TIFF header", offset: 0, needed: n as u64, len: src.len() })
        } else {
            Ok(())
        }
    };
    need(8)?;
    let t = Tiff { src, little, big: false };
    let magic = t.u16(&head[2..4]);
    let (t, ifd0) = match magic {
        // 42; Olympus ORF "RO"/"RS"; Panasonic RW2 0x55.
        42 | 0x4F52 | 0x5352 | 0x0055 => (t, u64::from(t.u32(&head[4..8]))),
        43 => {
            need(16)?;
            if t.u16(&head[4..6]) != 8 {
                return Err(MediaError::malformed("BigTIFF header", 4, "offset size is not 8"));
            }
            let t = Tiff { big: true, ..t };
            (t, t.u64(&head[8..16]))
        }
        _ => return Err(MediaError::malformed("TIFF header", 2, format!("magic number {magic}"))),
    };
    Ok((t, ifd0))
}

/// The tags consentry reads from one IFD of the chain. Every entry of a tag that may name persons
/// is read, repeated or not (XMP, IPTC-NAA, Photoshop resources, XPKeywords: exiftool reads each
/// repeated XMP entry as a packet of its own, and a person named only in the second must not be
/// missed); of the Exif IFD pointer the first counts.
fn ifd_tags(
    t: &Tiff,
    entries: &[Entry],
    ifd_at: u64,
    meta: &mut Metadata,
    reads: &mut PersonReads,
) -> Result<(), MediaError> {
    let mut seen = std::collections::HashSet::new();
    // XPKeywords are taken from this IFD unless an IFD before gave them; a repeated entry's
    // items are added (`;`-separated).
    let xp_here = meta.exif.xp_keywords.is_none();
    for e in entries {
        let names_persons = matches!(e.tag, TAG_XMP | TAG_IPTC | TAG_PHOTOSHOP | exif::TAG_XP_KEYWORDS);
        if seen.contains(&e.tag) && !names_persons {
            continue; // a repeated tag that names no one: the first one counts
        }
        if names_persons && !reads.admit(t, e)? {
            continue; // the same value again: nobody new
        }
        match e.tag {
            TAG_XMP => {
                if reads.typed_xmp {
                    xmp_type(e)?;
                }
                let data = t.value(e, "XMP (TIFF tag 700)", MAX_XMP)?;
                push_xmp(meta, data.into_owned(), e.value_at(t))?;
            }
            TAG_IPTC => {
                let data = t.value(e, "IPTC-NAA (TIFF tag 33723)", MAX_BLOCK)?;
                let keywords = iptc::iim_keywords(&data, e.value_at(t))?;
                iptc::push_unique(&mut meta.iptc_keywords, keywords);
            }
            TAG_PHOTOSHOP => {
                let data = t.value(e, "Photoshop resources (TIFF tag 34377)", MAX_BLOCK)?;
                let base = e.value_at(t);
                let placed = Placed { data: &data, base };
                iptc::irb_metadata(&placed, base, placed.len(), meta)?;
            }
            exif::TAG_XP_KEYWORDS => {
                let data = t.value(e, "XPKeywords", MAX_BLOCK)?;
                let text = exif::xp_text(e.typ, &data, t.endian(), e.field_at)?;
                if let Some(more) = text.filter(|v| xp_here && reads.xp.insert(v.clone())) {
                    let xp = &mut meta.exif.xp_keywords;
                    match xp {
                        Some(before) => {
                            before.push(';');
                            before.push_str(&more);
                        }
                        None => *xp = Some(more),
                    }
                }
            }
            TAG_EXIF_IFD => {
                if let Some(offset) = t.pointer(e) {
                    if offset != ifd_at {
                        t.exif_ifd(offset, meta, reads.typed_xmp)?;
                    }
                }
            }
            _ => continue,
        }
        seen.insert(e.tag);
    }
    Ok(())
}

/// An XMP entry (tag 700) holds bytes (BYTE, ASCII or UNDEFINED); of any other type it is an
/// error, never a packet read as something else or dropped.
fn xmp_type(e: &Entry) -> Result<(), MediaError> {
    match e.typ {
        1 | 2 | 7 => Ok(()),
        other => Err(MediaError::malformed(
            "XMP (TIFF tag 700)",
            e.field_at,
            format!("stored as TIFF type {other}, not as bytes"),
        )),
    }
}

/// One IFD entry, its value field kept raw (4 bytes in TIFF, 8 in BigTIFF; the rest zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u64,
    pub field: [u8; 8],
    /// File offset of the value field.
    pub field_at: u64,
}

impl Entry {
    /// File offset of the entry's first byte (its tag).
    pub fn at(&self, t: &Tiff) -> u64 {
        self.field_at - (t.entry_len() - t.inline_len())
    }

    /// File offset of the value (for error messages and IIM offsets).
    pub fn value_at(&self, t: &Tiff) -> u64 {
        match t.value_len(self) {
            Some(n) if n > t.inline_len() => t.offset_field(self),
            _ => self.field_at,
        }
    }
}

/// TIFF byte order: reading and writing integers (`true`: little-endian, `II`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endian(pub bool);

impl Endian {
    pub fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.0 {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }
    pub fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.0 {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }
    pub fn u64(self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        if self.0 {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
    pub fn put16(self, v: u16) -> [u8; 2] {
        if self.0 {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }
    pub fn put32(self, v: u32) -> [u8; 4] {
        if self.0 {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }
    pub fn put64(self, v: u64) -> [u8; 8] {
        if self.0 {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }
}

/// A TIFF structure being walked: where it is read from, its byte order and kind.
#[derive(Clone, Copy)]
pub struct Tiff<'a> {
    src: &'a dyn ReadAt,
    little: bool,
    big: bool,
}

impl<'a> Tiff<'a> {
    /// The byte order.
    pub fn endian(&self) -> Endian {
        Endian(self.little)
    }
    /// Bytes of one IFD entry: 12, 20 in BigTIFF.
    pub fn entry_len(&self) -> u64 {
        if self.big {
            20
        } else {
            12
        }
    }
    /// Whether this is a BigTIFF (8-byte counts and offsets, 20-byte entries).
    pub fn is_big(&self) -> bool {
        self.big
    }
    fn u16(&self, b: &[u8]) -> u16 {
        Endian(self.little).u16(b)
    }
    fn u32(&self, b: &[u8]) -> u32 {
        Endian(self.little).u32(b)
    }
    fn u64(&self, b: &[u8]) -> u64 {
        Endian(self.little).u64(b)
    }

    pub fn inline_len(&self) -> u64 {
        if self.big {
            8
        } else {
            4
        }
    }

    /// The IFD chain from `ifd0`: each IFD's offset and entries, in order. A loop in the chain, an
    /// IFD that cannot be read or more than [`MAX_ITEMS`] entries in all is an error.
    pub fn chain(self, ifd0: u64) -> impl Iterator<Item = Result<(u64, Vec<Entry>), MediaError>> + 'a {
        let (mut offset, mut seen, mut entries_read) = (ifd0, HashSet::new(), 0usize);
        super::walk(move || {
            if offset == 0 {
                return Ok(None);
            }
            if !seen.insert(offset) {
                return Err(MediaError::malformed("TIFF IFD chain", offset, "loops back to an IFD read before"));
            }
            let (entries, next) = self.ifd_and_next(offset)?;
            entries_read += entries.len() + 1;
            if entries_read > MAX_ITEMS {
                let (size, limit) = (entries_read as u64, MAX_ITEMS as u64);
                return Err(MediaError::TooLarge { what: "TIFF IFD entries", offset, size, limit });
            }
            let at = std::mem::replace(&mut offset, next);
            Ok(Some((at, entries)))
        })
    }

    /// The entries of the IFD at `offset`.
    fn ifd(&self, offset: u64) -> Result<Vec<Entry>, MediaError> {
        self.read_ifd(offset, false).map(|(entries, _)| entries)
    }

    /// The entries of the IFD at `offset` and the offset of the next IFD (0: none).
    pub fn ifd_and_next(&self, offset: u64) -> Result<(Vec<Entry>, u64), MediaError> {
        self.read_ifd(offset, true)
    }

    /// The entries of the IFD at `offset`, and with `next` the next IFD's offset after them (read
    /// with the table, in one read).
    fn read_ifd(&self, offset: u64, next: bool) -> Result<(Vec<Entry>, u64), MediaError> {
        let (count_len, entry_len) = (if self.big { 8u64 } else { 2 }, self.entry_len());
        let count_bytes = self.src.slice("TIFF IFD entry count", offset, count_len, 8)?;
        let count = if self.big { self.u64(&count_bytes) } else { u64::from(self.u16(&count_bytes)) };
        if count > MAX_ITEMS as u64 {
            return Err(MediaError::TooLarge { what: "TIFF IFD", offset, size: count, limit: MAX_ITEMS as u64 });
        }
        let table_at = offset
            .checked_add(count_len)
            .ok_or_else(|| MediaError::malformed("TIFF IFD", offset, "offset overflows"))?;
        let next_len = if next { self.inline_len() } else { 0 };
        let table = self.src.slice("TIFF IFD", table_at, count * entry_len + next_len, MAX_ITEMS as u64 * 20 + 8)?;
        let (entries, next_bytes) = table.split_at((count * entry_len) as usize);
        let mut out = Vec::with_capacity(count as usize);
        for (i, raw) in entries.chunks_exact(entry_len as usize).enumerate() {
            let field_at = table_at + i as u64 * entry_len + if self.big { 12 } else { 8 };
            let (count, field) = if self.big {
                (self.u64(&raw[4..12]), raw[12..20].try_into().unwrap_or([0; 8]))
            } else {
                let mut f = [0u8; 8];
                f[..4].copy_from_slice(&raw[8..12]);
                (u64::from(self.u32(&raw[4..8])), f)
            };
            out.push(Entry { tag: self.u16(&raw[0..2]), typ: self.u16(&raw[2..4]), count, field, field_at });
        }
        let next = match next_bytes.len() {
            8 => self.u64(next_bytes),
            4 => u64::from(self.u32(next_bytes)),
            _ => 0,
        };
        Ok((out, next))
    }

    /// Byte length of an entry's value; None for unknown types or an overflowing count.
    pub fn value_len(&self, e: &Entry) -> Option<u64> {
        let unit = match e.typ {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 | 16 | 17 | 18 => 8,
            _ => return None,
        };
        e.count.checked_mul(unit)
    }

    pub fn offset_field(&self, e: &Entry) -> u64 {
        if self.big {
            self.u64(&e.field)
        } else {
            u64::from(self.u32(&e.field[..4]))
        }
    }

    /// The raw bytes of an entry's value (inline or at its offset), at most `limit` bytes.
    pub fn value(&self, e: &Entry, what: &'static str, limit: u64) -> Result<Cow<'a, [u8]>, MediaError> {
        let len = self
            .value_len(e)
            .ok_or_else(|| MediaError::malformed(what, e.field_at, format!("type {} count {}", e.typ, e.count)))?;
        if len <= self.inline_len() {
            return Ok(Cow::Owned(e.field[..len as usize].to_vec()));
        }
        self.src.slice(what, self.offset_field(e), len, limit)
    }

    /// The integer values of a SHORT, LONG or IFD entry, at most `limit` of them (None: another
    /// type, no values, more than `limit`, or a value that cannot be read).
    pub fn ints(&self, e: &Entry, limit: u64) -> Option<Vec<u64>> {
        let unit = match e.typ {
            3 => 2,
            4 | 13 => 4,
            _ => return None,
        };
        if e.count == 0 || e.count > limit {
            return None;
        }
        let data = self.value(e, "TIFF value", limit * 4).ok()?;
        let endian = self.endian();
        Some(
            data.chunks_exact(unit)
                .map(|c| if unit == 2 { u64::from(endian.u16(c)) } else { u64::from(endian.u32(c)) })
                .collect(),
        )
    }

    /// The SubIFD step of the layout walk (beside [`Tiff::chain`]): the offsets of the child
    /// IFDs an IFD's `entries` name in their first SubIFDs entry (tag 330), at most `limit`; none
    /// when it has none or it cannot be read. Finding previews walks them.
    pub fn sub_ifds(&self, entries: &[Entry], limit: u64) -> Vec<u64> {
        let first = entries.iter().find(|e| e.tag == TAG_SUB_IFDS);
        first.and_then(|e| self.ints(e, limit)).unwrap_or_default()
    }

    /// An IFD pointer value (LONG, IFD, LONG8, IFD8 with count 1).
    pub fn pointer(&self, e: &Entry) -> Option<u64> {
        match (e.typ, e.count) {
            (4 | 13, 1) => Some(u64::from(self.u32(&e.field[..4]))),
            (16 | 18, 1) if self.big => Some(self.u64(&e.field)),
            _ => None,
        }
    }

    /// From the Exif IFD at `offset`: DateTimeOriginal and OffsetTimeOriginal (unless a date is
    /// known), and XMP (tag 700, which exiftool reads there too). Lenient only about the dates:
    /// a date value that cannot be read loses only the capture date; an Exif IFD or an XMP value
    /// that cannot be read is an error (the IFD may hold a packet naming persons).
    fn exif_ifd(&self, offset: u64, meta: &mut Metadata, typed_xmp: bool) -> Result<(), MediaError> {
        let entries = self.ifd(offset)?;
        let mut date = None;
        let mut zone = None;
        for e in entries {
            let slot = match e.tag {
                TAG_XMP => {
                    if typed_xmp {
                        xmp_type(&e)?;
                    }
                    let data = self.value(&e, "XMP (TIFF tag 700 in the Exif IFD)", MAX_XMP)?;
                    push_xmp(meta, data.into_owned(), e.value_at(self))?;
                    continue;
                }
                exif::TAG_DATE_TIME_ORIGINAL => &mut date,
                exif::TAG_OFFSET_TIME_ORIGINAL => &mut zone,
                _ => continue,
            };
            if slot.is_none() {
                *slot = self.value(&e, "Exif date", MAX_SMALL).ok().and_then(|v| exif::text_from_bytes(&v));
            }
        }
        if meta.exif.date_time_original.is_none() {
            meta.exif.date_time_original = date;
            meta.exif.offset_time_original = zone;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::media::exif::tests::{ascii, repeated_block, sample_fields, tiff_block, utf16, REPEATED_XMP};
    use crate::media::exif::{TAG_DATE_TIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL, TAG_XP_KEYWORDS};
    use crate::media::iptc::tests::{resource, sample_iim, sample_keywords};

    const XMP: &[u8] = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>tiff</x:xmpmeta>";

    fn sample(big_endian: bool) -> Vec<u8> {
        let kw = utf16("People/Anna Schmidt;Berlin");
        let dt = ascii("2024:03:01 10:22:33");
        let off = ascii("+01:00");
        let mut iim = sample_iim();
        iim.resize(iim.len().div_ceil(4) * 4, 0);
        let irb = resource(iptc::IRB_IPTC, b"", &crate::media::iptc::tests::dataset(2, 25, b"Extra"));
        tiff_block(
            big_endian,
            &[
                (256, 3, 1, vec![0, 1]),
                (TAG_XMP, 1, XMP.len() as u32, XMP.to_vec()),
                (TAG_IPTC, 4, (iim.len() / 4) as u32, iim),
                (TAG_PHOTOSHOP, 7, irb.len() as u32, irb),
                (TAG_XP_KEYWORDS, 1, kw.len() as u32, kw),
            ],
            &[(TAG_DATE_TIME_ORIGINAL, 2, dt.len() as u32, dt), (TAG_OFFSET_TIME_ORIGINAL, 2, off.len() as u32, off)],
        )
    }

    fn check(m: &Metadata) {
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(m.exif, sample_fields());
        let mut kw = sample_keywords();
        kw.push("Extra".into());
        assert_eq!(m.iptc_keywords, kw);
    }

    #[test]
    fn both_byte_orders() {
        check(&read(&sample(false)).unwrap());
        check(&read(&sample(true)).unwrap());
    }

    #[test]
    fn raw_magics() {
        for magic in [&b"IIRO"[..], b"IIRS", b"IIU\0"] {
            let mut f = sample(false);
            f[..4].copy_from_slice(magic);
            check(&read(&f).unwrap());
        }
        let mut f = sample(true);
        f[..4].copy_from_slice(b"MMOR");
        check(&read(&f).unwrap());
        let mut f = sample(true);
        f[2] = 9;
        assert!(read(&f).is_err());
    }

    #[test]
    fn bigtiff() {
        // II 43 8 0, IFD at 16: 1 entry XMP (20 bytes), next 0, then the XMP.
        let mut f = b"II+\0\x08\0\0\0".to_vec();
        f.extend_from_slice(&16u64.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&TAG_XMP.to_le_bytes());
        f.extend_from_slice(&7u16.to_le_bytes());
        f.extend_from_slice(&(XMP.len() as u64).to_le_bytes());
        f.extend_from_slice(&(16u64 + 8 + 20 + 8).to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(XMP);
        assert_eq!(read(&f).unwrap().xmp_bytes(), vec![XMP.to_vec()]);
    }

    #[test]
    fn exif_ifd_loop_and_broken_exif_ifd() {
        // Exif IFD pointing back at IFD0: ignored, no loop.
        let kw = utf16("People/X");
        let mut f =
            tiff_block(false, &[(TAG_XP_KEYWORDS, 1, kw.len() as u32, kw)], &[(0x9000, 7, 4, b"0231".to_vec())]);
        // The Exif pointer entry is the last of IFD0 (2 entries): value at 8 + 2 + 12 + 8.
        f[30..34].copy_from_slice(&8u32.to_le_bytes());
        let m = read(&f).unwrap();
        assert_eq!(m.exif.xp_keywords.as_deref(), Some("People/X"));
        // An Exif IFD pointer outside the file: an error (it may hold XMP), and what IFD0 gave
        // is kept beside it. (This was ignored before, as if only the date were lost.)
        f[30..34].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let mut meta = Metadata::default();
        assert!(read_into(&f, &mut meta).is_err());
        assert_eq!(meta.exif.xp_keywords.as_deref(), Some("People/X"));
    }

    #[test]
    fn a_cut_exif_ifd_table_is_an_error() {
        let f = sample(false);
        // Cut inside the Exif IFD's entry table (at its DateTimeOriginal entry): an error now.
        // (A broken Exif IFD was ignored, as if it could only hold a date.)
        let entry = f.windows(4).position(|w| w == [0x03, 0x90, 2, 0]).unwrap();
        let mut meta = Metadata::default();
        assert!(read_into(&f[..entry + 6].to_vec(), &mut meta).is_err());
        assert_eq!(meta.xmp_bytes(), vec![XMP.to_vec()], "what IFD0 gave is kept");
    }

    #[test]
    fn a_long_ifd_chain_is_read_to_its_end() {
        // 90 000 empty IFDs chained one after the other, read without a loop being seen (the IFDs
        // seen are a set: a linear search per IFD was quadratic).
        let n = 90_000u32;
        let mut f = b"II*\0".to_vec();
        f.extend_from_slice(&8u32.to_le_bytes());
        for i in 0..n {
            let next = if i + 1 == n { 0 } else { 8 + (i + 1) * 6 };
            f.extend_from_slice(&0u16.to_le_bytes());
            f.extend_from_slice(&next.to_le_bytes());
        }
        read(&f).unwrap();
    }

    #[test]
    fn truncated_xmp_is_error() {
        let f = sample(false);
        let cut = f.len() - 1;
        // The XMP value sits in the IFD0 data area, well before the end: cut into it.
        let xmp_at = f.windows(4).position(|w| w == b"<x:x").unwrap();
        assert!(read(&f[..xmp_at + 5].to_vec()).is_err());
        // Cut in the last Exif date value (the IFD's table intact): only the date is lost.
        assert!(read(&f[..cut].to_vec()).is_ok());
    }

    /// A little-endian TIFF: IFD0 (one entry) chained to IFD1 holding tag 700; `ifd1_next` is
    /// IFD1's next-IFD offset.
    fn two_ifds(ifd1_next: u32) -> Vec<u8> {
        let mut f = b"II*\0".to_vec();
        f.extend_from_slice(&8u32.to_le_bytes());
        // IFD0 at 8: 1 entry, next = 26.
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&[0, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        f.extend_from_slice(&26u32.to_le_bytes());
        // IFD1 at 26: 1 entry (XMP at 44), next = ifd1_next.
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&TAG_XMP.to_le_bytes());
        f.extend_from_slice(&7u16.to_le_bytes());
        f.extend_from_slice(&(XMP.len() as u32).to_le_bytes());
        f.extend_from_slice(&44u32.to_le_bytes());
        f.extend_from_slice(&ifd1_next.to_le_bytes());
        f.extend_from_slice(XMP);
        f
    }

    #[test]
    fn every_repeated_xmp_iptc_and_xp_keywords_entry_of_an_ifd_is_read() {
        // Two tag-700 entries in IFD0 (exiftool shows both): a person named only in the second
        // must not be missed. The first alone counted before.
        let mut iim2 = crate::media::iptc::tests::dataset(2, 25, b"Second");
        iim2.resize(iim2.len().div_ceil(4) * 4, 0);
        let iim3 = crate::media::iptc::tests::dataset(2, 25, b"Third");
        let f = repeated_block(&[(TAG_IPTC, 7, iim2.len() as u32, iim2), (TAG_IPTC, 7, iim3.len() as u32, iim3)]);
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), REPEATED_XMP.map(<[u8]>::to_vec).to_vec());
        for p in &m.xmp {
            assert_eq!(&f[p.offset as usize..][..p.bytes.len()], &p.bytes[..], "offsets name the packets");
        }
        assert_eq!(m.iptc_keywords, vec!["Second".to_string(), "Third".to_string()]);
        assert_eq!(m.exif.xp_keywords.as_deref(), Some("People/Bob;People/Carl"));
        // The second packet cut off: an error, not a file read from its first packet alone.
        let second = REPEATED_XMP[1];
        let at = f.windows(second.len()).position(|w| w == second).unwrap();
        assert!(read(&f[..at + 10].to_vec()).is_err());
    }

    /// A little-endian TIFF whose IFD0 holds one XPKeywords entry per count of `counts`, all
    /// pointing at the same 1 MiB value (UTF-16 `People/X` and padding).
    pub(crate) fn many_pointers_at_one_value(counts: &[u32]) -> Vec<u8> {
        let n = counts.len();
        let table_end = 8 + 2 + n * 12 + 4;
        let mut f = b"II*\0".to_vec();
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&(n as u16).to_le_bytes());
        for &count in counts {
            f.extend_from_slice(&exif::TAG_XP_KEYWORDS.to_le_bytes());
            f.extend_from_slice(&1u16.to_le_bytes());
            f.extend_from_slice(&count.to_le_bytes());
            f.extend_from_slice(&(table_end as u32).to_le_bytes());
        }
        f.extend_from_slice(&0u32.to_le_bytes());
        let mut value: Vec<u8> = "People/X".encode_utf16().flat_map(u16::to_le_bytes).collect();
        value.resize(1 << 20, 0);
        f.extend_from_slice(&value);
        f
    }

    #[test]
    fn repeated_entries_pointing_at_one_value_are_read_once_and_within_a_budget() {
        // A hostile file: thousands of entries naming one large value cost time and memory
        // without bound when each was read and appended. The same value is read once.
        let same = many_pointers_at_one_value(&[1 << 20; 2000]);
        let m = read(&same).unwrap();
        assert_eq!(m.exif.xp_keywords.as_deref(), Some("People/X"));
        // Distinct values (here: lengths) past the per-file budget: an error, never a file read
        // in part.
        let counts: Vec<u32> = (0..64).map(|i| (1 << 20) - 2 * i).collect();
        let e = read(&many_pointers_at_one_value(&counts)).unwrap_err();
        assert!(matches!(e, MediaError::TooLarge { limit: MAX_XMP, .. }), "{e}");
    }

    #[test]
    fn xmp_in_the_exif_ifd_is_read() {
        let f = tiff_block(false, &[(256, 3, 1, vec![0, 1])], &[(TAG_XMP, 7, XMP.len() as u32, XMP.to_vec())]);
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(&f[m.xmp[0].offset as usize..][..XMP.len()], XMP);
        // Its value cut off: an error, not a lost packet.
        assert!(read(&f[..f.len() - 4].to_vec()).is_err());
    }

    #[test]
    fn xmp_in_ifd1_is_read() {
        let m = read(&two_ifds(0)).unwrap();
        assert_eq!(m.xmp_bytes(), vec![XMP.to_vec()]);
        assert_eq!(m.xmp_offsets(), vec![44]);
    }

    #[test]
    fn ifd_chain_loops_and_cut_chains_are_errors_keeping_what_came_before() {
        for (next, what) in [(8, "loops"), (26, "loops"), (0xFFFF_0000, "truncated")] {
            let mut meta = Metadata::default();
            let e = read_into(&two_ifds(next), &mut meta).unwrap_err();
            assert!(e.to_string().contains(what) || matches!(e, MediaError::Truncated { .. }), "{next}: {e}");
            assert_eq!(meta.xmp.len(), 1, "{next}");
        }
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        for be in [false, true] {
            let f = sample(be);
            crate::media::for_each_damaged(&f, |b| {
                let _ = read(b);
            });
        }
    }
}
