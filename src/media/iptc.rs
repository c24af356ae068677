//! IPTC-IIM datasets (keywords) and Photoshop image resource blocks (8BIM lists).
//!
//! Keyword text decoding: when record 1:90 (coded character set) announces UTF-8 (`ESC % G`), the
//! keywords are UTF-8. Without that announcement IIM's default is Latin-1, but many writers put
//! UTF-8 there without saying so; a keyword whose bytes are valid UTF-8 is therefore decoded as
//! UTF-8 (pure ASCII reads the same either way, and Latin-1 names almost never form valid UTF-8
//! multi-byte sequences), anything else as Latin-1.
use std::borrow::Cow;
use std::collections::HashSet;
use std::io;
use std::ops::Range;

use super::jpeg::push_xmp;
use super::{exif, MediaError, Metadata, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_XMP};

/// Photoshop resource id of IPTC-IIM data.
pub const IRB_IPTC: u16 = 0x0404;
/// Photoshop resource id of EXIF data 1 (a TIFF block).
pub const IRB_EXIF: u16 = 0x0422;
/// Photoshop resource id of an XMP packet.
pub const IRB_XMP: u16 = 0x0424;

/// Signatures of Photoshop image resources. `8BIM` is the usual one; the others occur in files
/// from other Adobe products and are skipped like any resource.
const IRB_SIGNATURES: &[&[u8; 4]] = &[b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa", b"8B64"];

/// IPTC-IIM 2:25 Keywords of an IIM block, decoded. `base` is the block's offset in the file (for
/// error messages). Zero bytes after the last dataset are padding; other bytes where a dataset
/// should start end the block (as exiftool does); a dataset running past the end is an error.
pub fn iim_keywords(data: &[u8], base: u64) -> Result<Vec<String>, MediaError> {
    let mut utf8 = false;
    let mut raw: Vec<&[u8]> = Vec::new();
    let mut pos = 0usize;
    for _ in 0..MAX_ITEMS {
        if pos >= data.len() || data[pos] != 0x1C {
            return Ok(raw.into_iter().filter_map(|k| decode_keyword(k, utf8)).collect());
        }
        let at = base + pos as u64;
        let header = data.get(pos..pos + 5).ok_or(MediaError::Truncated {
            what: "IPTC dataset header",
            offset: at,
            needed: 5,
            len: base + data.len() as u64,
        })?;
        let (record, dataset) = (header[1], header[2]);
        let size = u16::from_be_bytes([header[3], header[4]]);
        let mut start = pos + 5;
        let len = if size & 0x8000 != 0 {
            // Extended dataset: the low bits give the number of bytes of the real length.
            let n = usize::from(size & 0x7FFF);
            if n == 0 || n > 4 {
                return Err(MediaError::malformed("IPTC dataset", at, format!("extended length of {n} bytes")));
            }
            let bytes = data.get(start..start + n).ok_or(MediaError::Truncated {
                what: "IPTC extended dataset length",
                offset: base + start as u64,
                needed: n as u64,
                len: base + data.len() as u64,
            })?;
            start += n;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        } else {
            usize::from(size)
        };
        let end = start.checked_add(len).filter(|&e| e <= data.len()).ok_or(MediaError::Truncated {
            what: "IPTC dataset",
            offset: at,
            needed: len as u64,
            len: base + data.len() as u64,
        })?;
        let value = &data[start..end];
        match (record, dataset) {
            (1, 90) => utf8 = value.windows(3).any(|w| w == b"\x1b%G"),
            (2, 25) => raw.push(value),
            _ => {}
        }
        pos = end;
    }
    Err(MediaError::malformed("IPTC block", base, "too many datasets"))
}

fn decode_keyword(bytes: &[u8], declared_utf8: bool) -> Option<String> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let bytes = &bytes[..end];
    if bytes.is_empty() {
        return None;
    }
    let text = if declared_utf8 {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        }
    };
    Some(text)
}

/// One Photoshop image resource: its id, where its header starts and the byte range of its data
/// in the source (an odd-length datum is followed by one pad byte, see [`IrbResource::end`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrbResource {
    pub id: u16,
    /// Offset of the resource's signature.
    pub at: u64,
    pub data: Range<u64>,
}

impl IrbResource {
    /// Offset just past the resource: its data and the pad byte after odd-length data, never past
    /// `section_end`.
    pub fn end(&self, section_end: u64) -> u64 {
        let len = self.data.end - self.data.start;
        self.data.end.saturating_add(len & 1).min(section_end.max(self.data.end))
    }
}

/// Walk the Photoshop image resources in `src[start..end]` by their headers, without reading
/// their data. A resource that runs past `end` (or a header cut short) is an error: resources
/// after it are lost. Fewer than 12 bytes, or only zero bytes, at the end are padding; any other
/// unknown signature is an error, and so is a block that runs past the end of the file.
pub fn irb_resources(src: &dyn ReadAt, start: u64, end: u64) -> Result<Vec<IrbResource>, MediaError> {
    let mut out = Vec::new();
    walk_irb(src, start, end, &mut out).map(|()| out)
}

/// [`irb_resources`] into `out`, which keeps the resources found before a problem.
fn walk_irb(src: &dyn ReadAt, start: u64, end: u64, out: &mut Vec<IrbResource>) -> Result<(), MediaError> {
    let cut = end > src.len();
    let end = end.min(src.len());
    let mut pos = start;
    while pos < end {
        if out.len() >= MAX_ITEMS {
            return Err(MediaError::malformed("Photoshop resources", start, "too many resources"));
        }
        let remaining = end - pos;
        if remaining < 12 {
            // Too short for any resource: padding.
            break;
        }
        // Signature, id, name length, name (<= 255, padded), size: at most 4+2+256+4 bytes.
        let head = src.slice("Photoshop resource header", pos, remaining.min(266), 266)?;
        let sig = &head[..4];
        if !IRB_SIGNATURES.iter().any(|s| &s[..] == sig) {
            if head.iter().any(|&b| b != 0) {
                return Err(MediaError::malformed(
                    "Photoshop resource",
                    pos,
                    format!("bad signature {}", String::from_utf8_lossy(sig).escape_debug()),
                ));
            }
            break;
        }
        let id = u16::from_be_bytes([head[4], head[5]]);
        let name_field = (usize::from(head[6]) + 2) & !1; // length byte + name, padded to even
        let size_at = 6 + name_field;
        let Some(size_bytes) = head.get(size_at..size_at + 4) else {
            return Err(MediaError::Truncated {
                what: "Photoshop resource header",
                offset: pos,
                needed: size_at as u64 + 4,
                len: end,
            });
        };
        let size = u64::from(u32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]));
        let data_start = pos.saturating_add(size_at as u64 + 4);
        let data_end = data_start.saturating_add(size);
        if data_end > end {
            return Err(MediaError::Truncated { what: "Photoshop resource", offset: pos, needed: size, len: end });
        }
        out.push(IrbResource { id, at: pos, data: data_start..data_end });
        pos = data_end.saturating_add(size & 1);
    }
    if cut {
        return Err(MediaError::Truncated { what: "Photoshop resources", offset: pos, needed: 1, len: src.len() });
    }
    Ok(())
}

/// The metadata of a Photoshop resource block in `src[start..end]` (a PSD's, a JPEG's APP13, a
/// TIFF's tag 34377): IPTC keywords (0x0404), XMP (0x0424: exiftool reads it in each of them) and
/// EXIF (0x0422; a broken EXIF block is ignored, one too large to read is not).
pub fn irb_metadata(src: &dyn ReadAt, start: u64, end: u64, meta: &mut Metadata) -> Result<(), MediaError> {
    // What comes before a problem in the list is read, then the problem is reported.
    let mut resources = Vec::new();
    let walked = walk_irb(src, start, end, &mut resources);
    for res in resources {
        let (at, len) = (res.data.start, res.data.end - res.data.start);
        match res.id {
            IRB_XMP => {
                let data = src.slice("Photoshop XMP resource", at, len, MAX_XMP)?;
                push_xmp(meta, data.into_owned(), at)?;
            }
            IRB_IPTC => {
                let data = src.slice("IPTC resource", at, len, MAX_BLOCK)?;
                let keywords = iim_keywords(&data, at)?;
                push_unique(&mut meta.iptc_keywords, keywords);
            }
            IRB_EXIF => {
                let data = src.slice("Photoshop EXIF resource", at, len, MAX_BLOCK)?;
                let tiff = exif::strip_exif_header(&data);
                exif::merge_lenient(meta, tiff, at + (data.len() - tiff.len()) as u64)?;
            }
            _ => {}
        }
    }
    walked
}

/// In-memory bytes presented as if they sat at `base` in a file, so that errors found while
/// walking them name file offsets. Reads below `base` fail.
pub struct Placed<'a> {
    pub data: &'a [u8],
    pub base: u64,
}

impl ReadAt for Placed<'_> {
    fn len(&self) -> u64 {
        self.base + self.data.len() as u64
    }
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Cow<'_, [u8]>> {
        let rel = offset.checked_sub(self.base).ok_or(io::ErrorKind::UnexpectedEof)?;
        self.data.read_exact_at(rel, len)
    }
}

/// Append `new` keywords to `list`, skipping exact duplicates (IIM is often stored twice, as
/// TIFF IPTC-NAA and inside the Photoshop resources). Hashed: a block may hold a million keywords.
pub fn push_unique(list: &mut Vec<String>, new: Vec<String>) {
    let mut seen: HashSet<String> = list.iter().cloned().collect();
    for k in new {
        if !seen.contains(&k) {
            seen.insert(k.clone());
            list.push(k);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The keywords [`irb_metadata`] finds.
    fn irb_iptc_keywords(src: &dyn ReadAt, start: u64, end: u64, _limit: u64) -> Result<Vec<String>, MediaError> {
        let mut meta = Metadata::default();
        irb_metadata(src, start, end, &mut meta).map(|()| meta.iptc_keywords)
    }

    pub(crate) fn dataset(record: u8, dataset: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![0x1C, record, dataset];
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    /// IIM with 1:90 UTF-8, a caption and two keywords.
    pub(crate) fn sample_iim() -> Vec<u8> {
        let mut v = dataset(1, 90, b"\x1b%G");
        v.extend(dataset(2, 0, &[0, 4]));
        v.extend(dataset(2, 25, "People|Jörg Müller".as_bytes()));
        v.extend(dataset(2, 120, b"A caption"));
        v.extend(dataset(2, 25, b"Berlin"));
        v
    }

    pub(crate) fn sample_keywords() -> Vec<String> {
        vec!["People|Jörg Müller".to_string(), "Berlin".to_string()]
    }

    pub(crate) fn resource(id: u16, name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = b"8BIM".to_vec();
        v.extend_from_slice(&id.to_be_bytes());
        v.push(name.len() as u8);
        v.extend_from_slice(name);
        if (name.len() + 1) % 2 == 1 {
            v.push(0);
        }
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    #[test]
    fn keywords_utf8_declared() {
        assert_eq!(iim_keywords(&sample_iim(), 0).unwrap(), sample_keywords());
    }

    #[test]
    fn keywords_latin1_and_undeclared_utf8() {
        let mut v = dataset(2, 25, b"People/J\xf6rg");
        v.extend(dataset(2, 25, "People/Zoë".as_bytes()));
        v.extend(dataset(2, 25, b""));
        v.extend_from_slice(&[0, 0, 0]); // padding
        assert_eq!(iim_keywords(&v, 0).unwrap(), vec!["People/Jörg".to_string(), "People/Zoë".to_string()]);
    }

    #[test]
    fn extended_dataset_is_skipped() {
        let mut v = vec![0x1C, 8, 10, 0x80, 0x02, 0x00, 0x03, 1, 2, 3];
        v.extend(dataset(2, 25, b"K"));
        assert_eq!(iim_keywords(&v, 0).unwrap(), vec!["K".to_string()]);
        let bad = vec![0x1C, 8, 10, 0x80, 0x09, 0, 0];
        assert!(iim_keywords(&bad, 0).is_err());
    }

    #[test]
    fn truncated_dataset_is_error() {
        let v = sample_iim();
        let err = iim_keywords(&v[..v.len() - 2], 100).unwrap_err();
        assert!(matches!(err, MediaError::Truncated { offset, .. } if offset >= 100), "{err}");
    }

    #[test]
    fn irb_walk() {
        let mut irb = resource(0x040C, b"", &[9; 11]);
        irb.extend(resource(IRB_IPTC, b"ab", &sample_iim()));
        irb.extend(resource(IRB_XMP, b"x", b"<x/>"));
        let src = Placed { data: &irb, base: 1000 };
        let list = irb_resources(&src, 1000, 1000 + irb.len() as u64).unwrap();
        assert_eq!(list.iter().map(|r| r.id).collect::<Vec<_>>(), vec![0x040C, IRB_IPTC, IRB_XMP]);
        assert_eq!(list[0].data, 1012..1023);
        assert_eq!(irb_iptc_keywords(&src, 1000, 1000 + irb.len() as u64, 1 << 20).unwrap(), sample_keywords());
        // Any truncated resource is an error (one after it is lost), also a thumbnail.
        let mut t = resource(IRB_IPTC, b"", &sample_iim());
        let thumb_at = t.len() as u64;
        t.extend(resource(0x040C, b"", &[1; 40]));
        let cut = Placed { data: &t[..t.len() - 10], base: 0 };
        let e = irb_iptc_keywords(&cut, 0, cut.len(), 1 << 20).unwrap_err();
        assert!(matches!(e, MediaError::Truncated { offset, .. } if offset == thumb_at), "{e}");
        // Zero padding at the end is not a resource.
        t.truncate(thumb_at as usize);
        t.extend([0; 20]);
        let padded = Placed { data: &t, base: 0 };
        assert_eq!(irb_iptc_keywords(&padded, 0, padded.len(), 1 << 20).unwrap(), sample_keywords());
        let t = resource(IRB_IPTC, b"", &sample_iim());
        let cut = Placed { data: &t[..t.len() - 3], base: 0 };
        assert!(irb_iptc_keywords(&cut, 0, cut.len(), 1 << 20).is_err());
        assert!(irb_resources(&Placed { data: b"garbage garbage garbage", base: 0 }, 0, 23).is_err());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let mut irb = resource(0x040C, b"", &[9; 11]);
        irb.extend(resource(IRB_IPTC, b"ab", &sample_iim()));
        for n in 0..irb.len() {
            let _ = irb_iptc_keywords(&Placed { data: &irb[..n], base: 0 }, 0, n as u64, 1 << 20);
        }
        for i in 0..irb.len() {
            let mut b = irb.clone();
            b[i] ^= 0x55;
            let _ = irb_iptc_keywords(&b, 0, b.len() as u64, 1 << 20);
            let _ = iim_keywords(&b, 0);
        }
    }

    #[test]
    fn push_unique_keeps_first_of_each_and_scales() {
        let mut list = vec!["a".to_string()];
        push_unique(&mut list, vec!["b".into(), "a".into(), "b".into(), "c".into()]);
        assert_eq!(list, ["a", "b", "c"]);
        // A block of 8 MB holds over a million distinct keywords: hashed, not quadratic.
        let many: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
        push_unique(&mut list, many.clone());
        push_unique(&mut list, many);
        assert_eq!(list.len(), 200_003);
    }
}
