//! JPEG: walk the marker segments from SOI to SOS, reading only APP1 (EXIF, XMP, extended XMP)
//! and APP13 (Photoshop resources with IPTC-IIM) bodies.
use std::collections::HashMap;

use super::iptc::{self, Placed};
use super::{exif, MediaError, Metadata, Packet, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_XMP, MAX_XMP_PACKETS};

/// APP1 signature of the standard XMP packet.
pub const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_ID: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
const PHOTOSHOP_ID: &[u8] = b"Photoshop 3.0\0";

const APP1: u8 = 0xE1;
const APP13: u8 = 0xED;
/// Start of scan: the headers end here.
pub const SOS: u8 = 0xDA;
/// End of image.
pub const EOI: u8 = 0xD9;

/// Read a JPEG file's metadata.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read a JPEG file's metadata. What was located before a problem stays in `meta`.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    read_range(src, 0, src.len(), meta)
}

/// Read the metadata of a JPEG stored in `src[start..end]` (a whole file, or one embedded in a
/// RAW file) into `meta`. Error offsets are file offsets.
pub fn read_range(src: &dyn ReadAt, start: u64, end: u64, meta: &mut Metadata) -> Result<(), MediaError> {
    let end = end.min(src.len());
    start_of_image(src, start, end)?;
    let mut extended = Extended::default();
    let mut irb = Irb::default();
    let walked = walk(src, start, end, meta, &mut extended, &mut irb);
    // Photoshop resources (IPTC, XMP) of the segments read before a problem are kept too.
    if let Some(base) = irb.base {
        let placed = Placed { data: &irb.data, base };
        match iptc::irb_metadata(&placed, base, placed.len(), meta) {
            Ok(()) => {}
            Err(e) if walked.is_ok() => return Err(e),
            Err(_) => {} // resources cut by the walk's problem, which is reported
        }
    }
    walked?;
    for (guid, at, packet) in extended.assemble()? {
        meta.extended_xmp.push((guid, Packet { offset: at, bytes: packet }));
    }
    Ok(())
}

/// Photoshop resources of the APP13 segments, concatenated.
#[derive(Default)]
struct Irb {
    data: Vec<u8>,
    /// File offset of the first segment's resources.
    base: Option<u64>,
}

/// The segments up to the image data: XMP and EXIF into `meta`, extended XMP and Photoshop
/// resources collected.
fn walk(
    src: &dyn ReadAt,
    start: u64,
    end: u64,
    meta: &mut Metadata,
    extended: &mut Extended,
    irb: &mut Irb,
) -> Result<(), MediaError> {
    let mut last = start + 2;
    for seg in segments(src, start, end) {
        let seg = seg?;
        if seg.marker == SOS || seg.marker == EOI {
            return Ok(());
        }
        if seg.truncated {
            // Any segment cut short: a later one may have held metadata.
            return Err(seg.cut_short(end));
        }
        last = seg.end();
        if seg.marker == APP1 || seg.marker == APP13 {
            let body_at = seg.body();
            let body = src.slice("JPEG segment", body_at, seg.len - 2, 65535)?;
            if seg.marker == APP1 {
                app1(&body, body_at, meta, extended)?;
            } else if let Some(rest) = body.strip_prefix(PHOTOSHOP_ID) {
                irb.base.get_or_insert(body_at + PHOTOSHOP_ID.len() as u64);
                if irb.data.len() + rest.len() > MAX_BLOCK as usize {
                    return Err(MediaError::TooLarge {
                        what: "Photoshop APP13 resources",
                        offset: body_at,
                        size: (irb.data.len() + rest.len()) as u64,
                        limit: MAX_BLOCK,
                    });
                }
                irb.data.extend_from_slice(rest);
            }
        }
    }
    Err(no_image_data(last, end))
}

/// The segments of a JPEG end (at `last`, the end of the file `end`) before the image data starts.
pub fn no_image_data(last: u64, end: u64) -> MediaError {
    MediaError::Truncated { what: "JPEG segments (no image data)", offset: last, needed: 2, len: end }
}

/// Check that the JPEG in `src[start..end]` starts with its start-of-image marker (the walk of
/// [`segments`] starts after it).
pub fn start_of_image(src: &dyn ReadAt, start: u64, end: u64) -> Result<(), MediaError> {
    let soi = src.slice("JPEG start of image", start, 2.min(end.saturating_sub(start)), 2)?;
    if soi[..] != [0xFF, 0xD8] {
        return Err(MediaError::Unrecognised { expected: "JPEG", magic: hex(&soi) });
    }
    Ok(())
}

/// A marker of a JPEG's segments (from [`segments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The marker code, the byte after 0xFF.
    pub marker: u8,
    /// Offset of the marker's 0xFF.
    pub at: u64,
    /// What the length field gives: the length bytes and the body; 0 for a standalone marker
    /// (TEM, RSTn, a repeated SOI), for SOS and EOI, and for one whose length bytes are cut off.
    pub len: u64,
    /// The segment's length bytes are cut off, or it runs past the end: the walk ends here.
    pub truncated: bool,
}

impl Segment {
    /// Offset of the body (after the marker and the length).
    pub fn body(&self) -> u64 {
        self.at + 4
    }

    /// Offset just past the segment.
    pub fn end(&self) -> u64 {
        self.at + 2 + self.len
    }

    /// The error for a `truncated` segment of a JPEG ending at `end`.
    pub fn cut_short(&self, end: u64) -> MediaError {
        if self.len == 0 {
            MediaError::Truncated { what: "JPEG segment length", offset: self.at, needed: 4, len: end }
        } else {
            MediaError::Truncated { what: "JPEG segment", offset: self.at, needed: self.len + 2, len: end }
        }
    }
}

/// The marker segments of the JPEG whose start-of-image marker is at `start` (checked by the
/// caller), up to `end`, in order. Fill bytes are skipped. The walk ends with SOS or EOI (scan
/// data follows, not walked), at the end, after a truncated segment, or with an error: a byte that is not
/// a marker, 0xFF00, a length below 2, more than [`MAX_ITEMS`] markers, or a failed read.
pub fn segments(src: &dyn ReadAt, start: u64, end: u64) -> impl Iterator<Item = Result<Segment, MediaError>> + '_ {
    let end = end.min(src.len());
    let (mut pos, mut items, mut done) = (start + 2, 0usize, false);
    std::iter::from_fn(move || loop {
        if done || pos >= end {
            return None;
        }
        items += 1;
        if items > MAX_ITEMS {
            done = true;
            return Some(Err(MediaError::malformed("JPEG segment", pos, "too many segments")));
        }
        let head = match src.slice("JPEG marker", pos, (end - pos).min(4), 4) {
            Ok(head) => head,
            Err(e) => {
                done = true;
                return Some(Err(e));
            }
        };
        if head[0] != 0xFF {
            done = true;
            let found = format!("expected 0xFF, found 0x{:02X}", head[0]);
            return Some(Err(MediaError::malformed("JPEG marker", pos, found)));
        }
        let &marker = head.get(1)?;
        let at = pos;
        match marker {
            0xFF => {
                pos += 1;
                continue;
            }
            0x01 | 0xD0..=0xD8 => {
                pos += 2;
                return Some(Ok(Segment { marker, at, len: 0, truncated: false }));
            }
            // Scan data or the end follows: not walked (their length is not looked at).
            SOS | EOI => {
                done = true;
                return Some(Ok(Segment { marker, at, len: 0, truncated: false }));
            }
            0x00 => {
                done = true;
                return Some(Err(MediaError::malformed("JPEG marker", pos, "0xFF00 outside entropy-coded data")));
            }
            _ => {}
        }
        let Some(len_bytes) = head.get(2..4) else {
            done = true;
            return Some(Ok(Segment { marker, at, len: 0, truncated: true }));
        };
        let len = u64::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            done = true;
            return Some(Err(MediaError::malformed("JPEG segment", pos, format!("length {len}"))));
        }
        let seg = Segment { marker, at, len, truncated: at.saturating_add(2 + len) > end };
        pos = seg.end();
        done = seg.truncated;
        return Some(Ok(seg));
    })
}

fn app1(body: &[u8], at: u64, meta: &mut Metadata, extended: &mut Extended) -> Result<(), MediaError> {
    if let Some(tiff) = body.strip_prefix(b"Exif\0") {
        // "Exif\0\0" (a few writers put 0xFF as the second pad byte).
        if let Some(tiff) = tiff.get(1..) {
            exif::merge_lenient(meta, tiff, at + 6)?;
        }
    } else if let Some(packet) = body.strip_prefix(XMP_ID) {
        push_xmp(meta, packet.to_vec(), at + XMP_ID.len() as u64)?;
    } else if let Some(rest) = body.strip_prefix(XMP_EXT_ID) {
        let Some(header) = rest.get(..40) else {
            return Err(MediaError::malformed("extended XMP segment", at, "header shorter than 40 bytes"));
        };
        let guid = String::from_utf8_lossy(&header[..32]).into_owned();
        let full = u32::from_be_bytes([header[32], header[33], header[34], header[35]]);
        let offset = u32::from_be_bytes([header[36], header[37], header[38], header[39]]);
        extended.add(guid, full, offset, &rest[40..], at)?;
    } else if (body.starts_with(b"http") || body.starts_with(b"XMP\0") || has_xmp_markup(body))
        && crate::xmp::has_root(body)
    {
        // A non-standard XMP header (`XMP\0`, the standard one without its NUL, another URL) or
        // none: exiftool parses such a segment as XMP from its first byte, and so does this. One
        // without an XMP root yields nothing there, and is not taken for XMP here.
        push_xmp(meta, body.to_vec(), at)?;
    }
    Ok(())
}

/// Whether an APP1 body holds XMP markup exiftool recognises without a header.
fn has_xmp_markup(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"<?xpacket").is_some() || memchr::memmem::find(body, b"<exif:").is_some()
}

/// Extended XMP chunks collected per GUID, assembled once every segment has been seen.
#[derive(Default)]
struct Extended {
    guids: Vec<Guid>,
    /// Index into `guids` by GUID (a hostile file holds tens of thousands of GUIDs).
    index: HashMap<String, usize>,
    total: u64,
}

struct Guid {
    guid: String,
    full: u32,
    at: u64,
    chunks: Vec<(u32, Vec<u8>)>,
}

impl Extended {
    fn add(&mut self, guid: String, full: u32, offset: u32, data: &[u8], at: u64) -> Result<(), MediaError> {
        let what = "extended XMP segment";
        if u64::from(full) > MAX_XMP {
            return Err(MediaError::TooLarge { what, offset: at, size: full.into(), limit: MAX_XMP });
        }
        if u64::from(offset) + data.len() as u64 > u64::from(full) {
            return Err(MediaError::malformed(
                what,
                at,
                format!("chunk {offset}+{} passes the full length {full} of GUID {guid}", data.len()),
            ));
        }
        self.total += data.len() as u64;
        if self.total > MAX_XMP {
            return Err(MediaError::TooLarge { what: "extended XMP", offset: at, size: self.total, limit: MAX_XMP });
        }
        let entry = match self.index.get(&guid) {
            Some(&i) => &mut self.guids[i],
            None => {
                self.index.insert(guid.clone(), self.guids.len());
                self.guids.push(Guid { guid, full, at, chunks: Vec::new() });
                self.guids.last_mut().expect("just pushed")
            }
        };
        if entry.full != full {
            return Err(MediaError::malformed(
                what,
                at,
                format!("GUID {} has full lengths {} and {full}", entry.guid, entry.full),
            ));
        }
        entry.chunks.push((offset, data.to_vec()));
        Ok(())
    }

    /// GUID, offset of the first segment seen, and the packet, per GUID.
    fn assemble(self) -> Result<Vec<(String, u64, Vec<u8>)>, MediaError> {
        let mut out = Vec::with_capacity(self.guids.len());
        for mut g in self.guids {
            g.chunks.sort_by_key(|c| c.0);
            let mut covered = 0u64;
            for (offset, data) in &g.chunks {
                if u64::from(*offset) > covered {
                    break;
                }
                covered = covered.max(u64::from(*offset) + data.len() as u64);
            }
            if covered != u64::from(g.full) {
                return Err(MediaError::malformed(
                    "extended XMP",
                    g.at,
                    format!("GUID {}: chunks cover {covered} of {} bytes", g.guid, g.full),
                ));
            }
            // `full` is covered by chunk bytes already held, so this allocation is bounded.
            let mut buf = vec![0u8; g.full as usize];
            for (offset, data) in &g.chunks {
                let o = *offset as usize;
                buf[o..o + data.len()].copy_from_slice(data);
            }
            out.push((g.guid, g.at, buf));
        }
        Ok(out)
    }
}

/// Add an XMP packet found at file offset `at`, keeping the packets of one file within [`MAX_XMP`]
/// bytes and [`MAX_XMP_PACKETS`] packets in total (shared by all containers).
pub(crate) fn push_xmp(meta: &mut Metadata, packet: Vec<u8>, at: u64) -> Result<(), MediaError> {
    if meta.xmp.len() >= MAX_XMP_PACKETS {
        return Err(MediaError::malformed("XMP packets", at, format!("more than {MAX_XMP_PACKETS} in one file")));
    }
    let total = meta.xmp.iter().map(|p| p.bytes.len() as u64).sum::<u64>() + packet.len() as u64;
    if total > MAX_XMP {
        return Err(MediaError::TooLarge { what: "XMP packets", offset: at, size: total, limit: MAX_XMP });
    }
    meta.xmp.push(Packet { offset: at, bytes: packet });
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};
    use crate::media::iptc::tests::{dataset, resource, sample_iim, sample_keywords};

    pub(crate) fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn ext_chunk(guid: &str, full: u32, offset: u32, data: &[u8]) -> Vec<u8> {
        segment(APP1, &cat(&[XMP_EXT_ID, guid.as_bytes(), &full.to_be_bytes(), &offset.to_be_bytes(), data]))
    }

    /// End of image, for test files without image data.
    const END: &[u8] = &[0xFF, 0xD9];

    const GUID: &str = "0123456789ABCDEF0123456789ABCDEF";

    /// A JPEG with EXIF, XMP, extended XMP (out of order), split APP13 IPTC, then scan data.
    pub(crate) fn sample_jpeg() -> Vec<u8> {
        let irb = resource(iptc::IRB_IPTC, b"", &sample_iim());
        let (a, b) = irb.split_at(9);
        cat(&[
            &[0xFF, 0xD8],
            &segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
            &segment(APP1, &cat(&[b"Exif\0\0", &sample_block(false)])),
            &[0xFF, 0xFF], // fill bytes
            &segment(APP1, &cat(&[XMP_ID, b"<x:xmpmeta>main</x:xmpmeta>"])),
            &ext_chunk(GUID, 10, 6, b"6789"),
            &ext_chunk(GUID, 10, 0, b"012345"),
            &segment(APP13, &cat(&[PHOTOSHOP_ID, a])),
            &segment(APP13, &cat(&[PHOTOSHOP_ID, b])),
            &[0xFF, 0xD0],
            &segment(0xDB, &[0; 65]),
            &segment(SOS, &[1, 2, 3]),
            &[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9],
        ])
    }

    #[test]
    fn happy_path() {
        let m = read(&sample_jpeg()).unwrap();
        assert_eq!(m.xmp_bytes(), vec![b"<x:xmpmeta>main</x:xmpmeta>".to_vec()]);
        let extended: Vec<_> = m.extended_xmp.iter().map(|(g, p)| (g.clone(), p.bytes.clone())).collect();
        assert_eq!(extended, vec![(GUID.to_string(), b"0123456789".to_vec())]);
        assert_eq!(m.exif, sample_fields());
        assert_eq!(m.iptc_keywords, sample_keywords());
        assert_eq!(m.quicktime_created, None);
    }

    #[test]
    fn broken_exif_is_an_error() {
        // Was `broken_exif_is_ignored`: damaged EXIF may hide XPKeywords or tag-700 XMP, so it is
        // an error now (fail closed); the XMP located before it is kept beside the error.
        let j =
            cat(&[&[0xFF, 0xD8], &segment(APP1, &cat(&[XMP_ID, b"<x/>"])), &segment(APP1, b"Exif\0\0garbage"), END]);
        let mut m = Metadata::default();
        let e = read_into(&j, &mut m).unwrap_err();
        assert!(e.to_string().contains("EXIF block"), "{e}");
        assert_eq!(m.xmp.len(), 1);
        assert_eq!(m.exif, Default::default());
    }

    #[test]
    fn incomplete_extended_xmp_names_guid() {
        let j = cat(&[&[0xFF, 0xD8], &ext_chunk(GUID, 10, 0, b"0123"), &ext_chunk(GUID, 10, 6, b"6789"), END]);
        let err = read(&j).unwrap_err().to_string();
        assert!(err.contains(GUID), "{err}");
        let j = cat(&[&[0xFF, 0xD8], &ext_chunk(GUID, 4, 2, b"0123"), END]);
        assert!(read(&j).is_err());
        let j = cat(&[&[0xFF, 0xD8], &ext_chunk(GUID, u32::MAX, 0, b"0123"), END]);
        assert!(matches!(read(&j), Err(MediaError::TooLarge { .. })));
    }

    #[test]
    fn any_cut_before_the_image_data_is_an_error_that_keeps_the_packets_before() {
        let xmp = segment(APP1, &cat(&[XMP_ID, b"<x/>"]));
        let j = cat(&[&[0xFF, 0xD8], &xmp, &segment(0xDB, &[0; 65]), &segment(SOS, &[1, 2, 3])]);
        assert_eq!(read(&j).unwrap().xmp.len(), 1);
        let table_at = 2 + xmp.len() as u64;
        // Cut in the XMP segment, in the quantisation table, and at the end of a segment.
        for (cut, at) in [(j.len() - 80, 2), (j.len() - 10, table_at), (j.len() - 7, table_at + 69)] {
            let mut meta = Metadata::default();
            let e = read_into(&j[..cut].to_vec(), &mut meta).unwrap_err();
            assert!(matches!(e, MediaError::Truncated { offset, .. } if offset == at), "{cut}: {e}");
            assert_eq!(meta.xmp.len(), usize::from(at > 2), "{cut}");
        }
        assert!(matches!(read(&b"\xFF\xD9"[..].to_vec()), Err(MediaError::Unrecognised { .. })));
    }

    #[test]
    fn keywords_before_a_cut_are_kept() {
        let irb = resource(iptc::IRB_IPTC, b"", &sample_iim());
        let j = cat(&[&[0xFF, 0xD8], &segment(APP13, &cat(&[PHOTOSHOP_ID, &irb])), &segment(0xDB, &[0; 65])]);
        let mut meta = Metadata::default();
        assert!(read_into(&j[..j.len() - 5].to_vec(), &mut meta).is_err());
        assert_eq!(meta.iptc_keywords, sample_keywords());
    }

    #[test]
    fn non_standard_xmp_headers_are_read_like_exiftool() {
        let packet = b"<?xpacket begin=''?><x:xmpmeta xmlns:x='adobe:ns:meta/'/><?xpacket end='w'?>";
        for body in [cat(&[b"XMP\0", packet]), cat(&[&XMP_ID[..XMP_ID.len() - 1], packet]), cat(&[b"junk ", packet])] {
            let j = cat(&[&[0xFF, 0xD8], &segment(APP1, &body), END]);
            let m = read(&j).unwrap();
            assert_eq!(m.xmp_bytes(), vec![body.clone()]);
            assert_eq!(m.xmp_offsets(), vec![6]);
        }
        // Other APP1 segments are not XMP, nor is another URL without XMP in it.
        for other in [&b"FLIR\0data"[..], b"http://ns.example.com/\0\xff\xfe binary"] {
            let j = cat(&[&[0xFF, 0xD8], &segment(APP1, other), END]);
            assert!(read(&j).unwrap().xmp.is_empty());
        }
    }

    #[test]
    fn iptc_in_single_app13_with_latin1() {
        let irb = resource(iptc::IRB_IPTC, b"", &dataset(2, 25, b"Personen/J\xfcrgen"));
        let j = cat(&[&[0xFF, 0xD8], &segment(APP13, &cat(&[PHOTOSHOP_ID, &irb])), END]);
        assert_eq!(read(&j).unwrap().iptc_keywords, vec!["Personen/Jürgen".to_string()]);
    }

    #[test]
    fn many_packets_and_guids() {
        // Tens of thousands of tiny packets: refused past the packet limit, without quadratic work.
        let mut j = vec![0xFF, 0xD8];
        for _ in 0..=MAX_XMP_PACKETS {
            j.extend(segment(APP1, &cat(&[XMP_ID, b"<x/>"])));
        }
        j.extend(END);
        let err = read(&j).unwrap_err().to_string();
        assert!(err.contains("XMP packets"), "{err}");
        // As many extended XMP GUIDs, each complete: found by index, not by linear search.
        let mut j = vec![0xFF, 0xD8];
        for i in 0..20_000 {
            j.extend(ext_chunk(&format!("{i:032}"), 1, 0, b" "));
        }
        j.extend(END);
        assert_eq!(read(&j).unwrap().extended_xmp.len(), 20_000);
    }

    #[test]
    fn range_inside_larger_file() {
        let mut f = vec![0xAA; 100];
        f.extend(sample_jpeg());
        f.extend([0xBB; 50]);
        let m = crate::media::whole(&f, |src, meta| read_range(src, 100, f.len() as u64 - 50, meta)).unwrap();
        assert_eq!(m.iptc_keywords, sample_keywords());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let j = sample_jpeg();
        crate::media::for_each_damaged(&j, |b| {
            let _ = read(b);
        });
    }
}
