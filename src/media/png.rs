//! PNG: walk the chunks by their lengths (image data is skipped, never read) up to IEND.
//!
//! Read: `iTXt` "XML:com.adobe.xmp" (plain or zlib), `eXIf`, and ImageMagick's hex-encoded raw
//! profiles in `tEXt`/`zTXt`/`iTXt` ("Raw profile type exif|APP1|xmp|iptc|8bim"). CRCs are not
//! checked. Decompression is capped (zip bombs) per chunk and per file.
use std::io::Read;

use super::iptc::{self, Placed};
use super::jpeg::{hex, push_xmp};
use super::{exif, MediaError, Metadata, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_XMP};

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp";
const RAW_PROFILE: &[u8] = b"Raw profile type ";

/// Most bytes inflated from all chunks of one file.
const MAX_INFLATED_TOTAL: u64 = 4 * MAX_XMP;

/// Read a PNG file's metadata.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read a PNG file's metadata. What was located before a problem stays in `meta`.
///
/// Every chunk up to IEND must be whole: a file that ends before IEND, or a chunk whose length
/// runs past the end (a PNG cut inside IDAT), is an error. Chunks after IEND are read too, as
/// exiftool reads them (text chunks written after the image); trailing bytes there that do not
/// form a chunk header (fewer than 8 bytes, or no valid chunk type) end the walk, while a chunk
/// header whose chunk runs past the end is an error (a cut chunk may name persons).
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let mut state = State { meta, inflated: 0 };
    for chunk in chunks(src) {
        let Chunk { kind, at, len, after_end } = chunk?;
        if after_end && &kind == b"IEND" {
            continue;
        }
        let data_at = at + 8;
        let limit = match &kind {
            b"eXIf" => Some(MAX_BLOCK),
            b"iTXt" | b"zTXt" | b"tEXt" => {
                // Look at the keyword first: other text chunks (comments, ...) are skipped unread.
                let peek = src.slice("PNG text chunk", data_at, len.min(80), 80)?;
                let keyword = peek.iter().position(|&b| b == 0).map(|n| &peek[..n]);
                match keyword {
                    Some(k) if k == XMP_KEYWORD => Some(MAX_XMP),
                    // Hex-encoded profiles take twice their size and more.
                    Some(k) if k.starts_with(RAW_PROFILE) => Some(2 * MAX_XMP + (1 << 20)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(limit) = limit {
            let data = src.slice("PNG chunk", data_at, len, limit)?;
            state.chunk(&kind, &data, at)?;
        }
    }
    Ok(())
}

/// A PNG chunk (from [`chunks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// The chunk type.
    pub kind: [u8; 4],
    /// Offset of the chunk's length field.
    pub at: u64,
    /// Length of the chunk's data (the chunk is `len + 12` bytes with length, type and CRC).
    pub len: u64,
    /// The chunk is IEND or comes after it.
    pub after_end: bool,
}

impl Chunk {
    /// Offset just past the chunk's CRC.
    pub fn end(&self) -> u64 {
        self.at + 12 + self.len
    }
}

/// The layout walk of a PNG: its chunks by their lengths, in order, data never read. The
/// signature is checked first. Every chunk up to IEND must be whole: a file that ends before IEND
/// or a chunk running past the end is an error. Chunks after IEND are walked too (exiftool reads
/// text chunks there); trailing bytes after IEND that do not form a chunk header (fewer than 8
/// bytes, or no valid chunk type) end the walk, while a chunk header whose chunk runs past the end
/// is an error. More than [`MAX_ITEMS`] chunks is an error.
pub fn chunks(src: &dyn ReadAt) -> impl Iterator<Item = Result<Chunk, MediaError>> + '_ {
    let (mut pos, mut after_end, mut items) = (8u64, false, 0usize);
    super::walk(move || {
        if pos == 8 {
            let sig = src.slice("PNG signature", 0, src.len().min(8), 8)?;
            if sig[..] != *SIGNATURE {
                return Err(MediaError::Unrecognised { expected: "PNG", magic: hex(&sig) });
            }
        }
        let left = src.len().saturating_sub(pos);
        if after_end && left < 8 {
            return Ok(None); // the end of the file, or a trailer too short to be a chunk header
        }
        if !after_end && left < 12 {
            let what = "PNG chunk (no IEND)";
            return Err(MediaError::Truncated { what, offset: pos, needed: 12, len: src.len() });
        }
        items += 1;
        if items > MAX_ITEMS {
            let limit = MAX_ITEMS as u64;
            return Err(MediaError::TooLarge { what: "PNG chunks", offset: pos, size: limit + 1, limit });
        }
        let head = src.slice("PNG chunk header", pos, 8, 8)?;
        let len = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        if after_end && !kind.iter().all(u8::is_ascii_alphabetic) {
            return Ok(None); // a trailer that does not form a chunk header
        }
        // Data and CRC. After IEND too, a chunk header (a valid chunk type) whose chunk runs
        // past the end is a cut chunk, not a harmless trailer: it may be a text chunk naming
        // persons.
        let chunk = Chunk { kind, at: pos, len, after_end: after_end || &kind == b"IEND" };
        if chunk.end() > src.len() {
            let what = if after_end { "PNG chunk after IEND" } else { "PNG chunk" };
            return Err(MediaError::Truncated { what, offset: pos, needed: len + 12, len: src.len() });
        }
        after_end = chunk.after_end;
        pos = chunk.end();
        Ok(Some(chunk))
    })
}

/// The text of an `iTXt` chunk, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItxtText<'a> {
    /// Uncompressed (compression flag 0).
    Plain(&'a [u8]),
    /// zlib-compressed (flag 1, method 0).
    Zlib(&'a [u8]),
}

/// The text of an `iTXt` chunk from what follows its keyword's NUL (`rest`): compression flag,
/// method, language tag NUL, translated keyword NUL, text. A header cut short or a compression
/// flag/method other than 0/any and 1/0 is an error naming the chunk at `at`. Reading metadata
/// and replacing the XMP chunk both read iTXt headers with it.
pub fn itxt_text(rest: &[u8], at: u64) -> Result<ItxtText<'_>, MediaError> {
    let malformed = |detail: &str| MediaError::malformed("PNG text chunk", at, detail);
    let [flag, method, tail @ ..] = rest else { return Err(malformed("iTXt header cut short")) };
    let lang_end = tail.iter().position(|&b| b == 0).ok_or_else(|| malformed("iTXt language tag"))?;
    let tail = &tail[lang_end + 1..];
    let tk_end = tail.iter().position(|&b| b == 0).ok_or_else(|| malformed("iTXt translated keyword"))?;
    let body = &tail[tk_end + 1..];
    match (flag, method) {
        (0, _) => Ok(ItxtText::Plain(body)),
        (1, 0) => Ok(ItxtText::Zlib(body)),
        _ => Err(malformed("iTXt compression flag/method")),
    }
}

struct State<'m> {
    meta: &'m mut Metadata,
    inflated: u64,
}

impl State<'_> {
    fn chunk(&mut self, kind: &[u8; 4], data: &[u8], at: u64) -> Result<(), MediaError> {
        if kind == b"eXIf" {
            let tiff = exif::strip_exif_header(data);
            return exif::merge_lenient(self.meta, tiff, at + 8 + (data.len() - tiff.len()) as u64);
        }
        // Text chunks: keyword NUL ...
        let Some(nul) = data.iter().position(|&b| b == 0) else { return Ok(()) };
        let keyword = &data[..nul];
        let rest = &data[nul + 1..];
        let is_xmp = keyword == XMP_KEYWORD;
        let profile = keyword.strip_prefix(RAW_PROFILE).map(|t| t.to_ascii_lowercase());
        if !is_xmp && profile.is_none() {
            return Ok(());
        }
        let malformed = |detail: &str| MediaError::malformed("PNG text chunk", at, detail);
        // The text, with the limit of what it may hold once decoded.
        let limit = if is_xmp || profile.as_deref() == Some(&b"xmp"[..]) || profile.as_deref() == Some(&b"app1"[..]) {
            MAX_XMP
        } else {
            MAX_BLOCK
        };
        // Hex text is twice the bytes plus line breaks.
        let text_limit = if is_xmp { limit } else { limit * 3 + 1024 };
        // Where uncompressed text starts in the file (XMP errors name bytes there); compressed
        // text is named by its chunk.
        let text_at = |text: &[u8]| at + 8 + (data.len() - text.len()) as u64;
        let mut packet_at = at;
        let text: Vec<u8> = match kind {
            b"tEXt" => {
                packet_at = text_at(rest);
                rest.to_vec()
            }
            b"zTXt" => {
                let (&method, compressed) = rest.split_first().ok_or_else(|| malformed("zTXt without method"))?;
                if method != 0 {
                    return Err(malformed("zTXt compression method is not zlib"));
                }
                self.inflate(compressed, text_limit, at)?
            }
            _ => match itxt_text(rest, at)? {
                ItxtText::Plain(body) => {
                    packet_at = text_at(body);
                    body.to_vec()
                }
                ItxtText::Zlib(body) => self.inflate(body, text_limit, at)?,
            },
        };
        if is_xmp {
            return push_xmp(self.meta, text, packet_at);
        }
        let profile = profile.unwrap_or_default();
        let decoded = decode_raw_profile(&text, limit).map_err(|d| malformed(&d));
        match &profile[..] {
            b"exif" | b"app1" => {
                // An EXIF profile may be broken without hiding anything else; an APP1 profile may
                // hold XMP, and one that cannot be decoded is an error.
                let bytes = match decoded {
                    Ok(bytes) => bytes,
                    Err(e) if &profile[..] == b"app1" => return Err(e),
                    Err(_) => return Ok(()),
                };
                if let Some(xmp) = bytes.strip_prefix(b"http://ns.adobe.com/xap/1.0/\0") {
                    push_xmp(self.meta, xmp.to_vec(), at)?;
                } else {
                    // Decoded from hex: offsets in it are not in the file; the chunk is named.
                    exif::merge_lenient(self.meta, exif::strip_exif_header(&bytes), at)?;
                }
            }
            b"xmp" => push_xmp(self.meta, decoded?, at)?,
            b"iptc" | b"8bim" => {
                let bytes = decoded?;
                // Offsets inside the decoded profile mean nothing in the file: name the chunk.
                let in_profile = |e: MediaError| malformed(&format!("IPTC profile: {e}"));
                if bytes.starts_with(b"8BIM") {
                    let placed = Placed { data: &bytes, base: 0 };
                    iptc::irb_metadata(&placed, 0, placed.len(), self.meta).map_err(in_profile)?;
                } else {
                    let keywords = iptc::iim_keywords(&bytes, 0).map_err(in_profile)?;
                    iptc::push_unique(&mut self.meta.iptc_keywords, keywords);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// zlib-inflate `data`, failing when the output would pass `limit` or the per-file budget.
    fn inflate(&mut self, data: &[u8], limit: u64, at: u64) -> Result<Vec<u8>, MediaError> {
        let budget = limit.min(MAX_INFLATED_TOTAL.saturating_sub(self.inflated));
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .take(budget + 1)
            .read_to_end(&mut out)
            .map_err(|e| MediaError::malformed("PNG compressed text", at, e.to_string()))?;
        if out.len() as u64 > budget {
            return Err(MediaError::TooLarge {
                what: "PNG compressed text",
                offset: at,
                size: out.len() as u64,
                limit: budget,
            });
        }
        self.inflated += out.len() as u64;
        Ok(out)
    }
}

/// Decode ImageMagick's raw profile text: "\n<type>\n<spaces><decimal length>\n<hex digits with
/// line breaks>".
fn decode_raw_profile(text: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let text = text.strip_prefix(b"\n").unwrap_or(text);
    // Skip the type line.
    let nl = text.iter().position(|&b| b == b'\n').ok_or("raw profile without type line")?;
    let text = &text[nl + 1..];
    let nl = text.iter().position(|&b| b == b'\n').ok_or("raw profile without length line")?;
    let len: u64 = std::str::from_utf8(&text[..nl])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("raw profile length is not a number")?;
    if len > limit {
        return Err(format!("raw profile of {len} bytes is larger than the limit of {limit}"));
    }
    let mut out = Vec::with_capacity(len as usize);
    let mut high: Option<u8> = None;
    for &c in &text[nl + 1..] {
        if out.len() as u64 == len {
            break;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            c if c.is_ascii_whitespace() => continue,
            0 => break,
            _ => return Err(format!("raw profile contains byte 0x{c:02X}")),
        };
        match high.take() {
            None => high = Some(v),
            Some(h) => out.push(h << 4 | v),
        }
    }
    if (out.len() as u64) < len {
        return Err(format!("raw profile holds {} of {len} bytes", out.len()));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};
    use crate::media::iptc::tests::{resource, sample_iim, sample_keywords};
    use std::io::Write;

    pub(crate) fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0; 4]);
        v
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    pub(crate) fn itxt(keyword: &[u8], compressed: bool, text: &[u8]) -> Vec<u8> {
        let mut d = keyword.to_vec();
        d.extend_from_slice(&[0, u8::from(compressed), 0, 0, 0]);
        if compressed {
            d.extend(zlib(text));
        } else {
            d.extend_from_slice(text);
        }
        chunk(b"iTXt", &d)
    }

    fn raw_profile(kind: &str, data: &[u8]) -> Vec<u8> {
        let mut t = format!("\n{kind}\n{:8}\n", data.len()).into_bytes();
        for (i, b) in data.iter().enumerate() {
            t.extend_from_slice(format!("{b:02x}").as_bytes());
            if i % 36 == 35 {
                t.push(b'\n');
            }
        }
        t.push(b'\n');
        t
    }

    fn ztxt(keyword: &[u8], text: &[u8]) -> Vec<u8> {
        let mut d = keyword.to_vec();
        d.extend_from_slice(&[0, 0]);
        d.extend(zlib(text));
        chunk(b"zTXt", &d)
    }

    pub(crate) fn text(keyword: &[u8], text: &[u8]) -> Vec<u8> {
        let mut d = keyword.to_vec();
        d.push(0);
        d.extend_from_slice(text);
        chunk(b"tEXt", &d)
    }

    pub(crate) fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend(chunk(b"IHDR", &[0; 13]));
        for c in chunks {
            v.extend_from_slice(c);
        }
        v.extend(chunk(b"IEND", &[]));
        v
    }

    #[test]
    fn itxt_plain_and_compressed_and_exif() {
        let f = png(&[
            itxt(XMP_KEYWORD, false, b"<x>plain</x>"),
            chunk(b"IDAT", &[0xAB; 100]),
            itxt(XMP_KEYWORD, true, b"<x>compressed</x>"),
            chunk(b"eXIf", &sample_block(true)),
        ]);
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), vec![b"<x>plain</x>".to_vec(), b"<x>compressed</x>".to_vec()]);
        assert_eq!(m.exif, sample_fields());
    }

    #[test]
    fn raw_profiles() {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(sample_block(false));
        let irb = resource(iptc::IRB_IPTC, b"", &sample_iim());
        let f = png(&[
            ztxt(b"Raw profile type exif", &raw_profile("exif", &exif)),
            ztxt(b"Raw profile type xmp", &raw_profile("xmp", b"<x>profile</x>")),
            text(b"Raw profile type iptc", &raw_profile("iptc", &irb)),
            itxt(b"Raw profile type APP1", false, &raw_profile("APP1", b"http://ns.adobe.com/xap/1.0/\0<x>app1</x>")),
        ]);
        let m = read(&f).unwrap();
        assert_eq!(m.exif, sample_fields());
        assert_eq!(m.xmp_bytes(), vec![b"<x>profile</x>".to_vec(), b"<x>app1</x>".to_vec()]);
        assert_eq!(m.iptc_keywords, sample_keywords());
        // Raw IIM in an iptc profile.
        let f = png(&[text(b"Raw profile type iptc", &raw_profile("iptc", &sample_iim()))]);
        assert_eq!(read(&f).unwrap().iptc_keywords, sample_keywords());
    }

    #[test]
    fn zip_bomb_is_too_large() {
        let bomb = zlib(&[b' '; 10_000]);
        let mut meta = Metadata::default();
        let mut state = State { meta: &mut meta, inflated: 0 };
        assert!(matches!(state.inflate(&bomb, 9_999, 0), Err(MediaError::TooLarge { .. })));
        assert_eq!(state.inflate(&bomb, 10_000, 0).unwrap().len(), 10_000);
        state.inflated = MAX_INFLATED_TOTAL - 5_000;
        assert!(matches!(state.inflate(&bomb, MAX_XMP, 0), Err(MediaError::TooLarge { .. })));
    }

    #[test]
    fn broken_xmp_container_and_broken_exif_are_errors() {
        let mut bad = itxt(XMP_KEYWORD, true, b"<x/>");
        let n = bad.len();
        bad[n - 8] ^= 0xFF; // corrupt the zlib stream (adler32)
        assert!(read(&png(&[bad])).is_err());
        // Other text chunks are not read, but one whose length runs past the end is damage.
        assert_eq!(read(&png(&[text(b"Comment", b"hello")])).unwrap(), Metadata::default());
        let mut comment = text(b"Comment", b"hello");
        comment[..4].copy_from_slice(&0x7FFF_0000u32.to_be_bytes());
        let e = read(&png(&[comment])).unwrap_err();
        assert!(e.to_string().contains("at byte 33"), "{e}");
        // A broken eXIf chunk is an error now (it may hide XPKeywords or tag-700 XMP; it was
        // ignored): the XMP before it is kept beside the error.
        let f = png(&[itxt(XMP_KEYWORD, false, b"<x/>"), chunk(b"eXIf", b"garbage")]);
        let mut m = Metadata::default();
        assert!(read_into(&f, &mut m).unwrap_err().to_string().contains("EXIF block"));
        assert_eq!(m.xmp.len(), 1);
    }

    #[test]
    fn truncation_is_an_error_that_keeps_what_came_before() {
        let f = png(&[
            itxt(XMP_KEYWORD, false, b"<x>first</x>"),
            chunk(b"IDAT", &[0xAB; 100]),
            itxt(XMP_KEYWORD, false, b"<x>plain</x>"),
        ]);
        let idat_at = 8 + 25 + 12 + XMP_KEYWORD.len() as u64 + 5 + 12;
        // Cut inside IDAT, inside the iTXt, inside IEND, before IEND: each an error naming the
        // chunk's offset; the packet before the cut is kept.
        for cut in [idat_at as usize + 60, f.len() - 20, f.len() - 2, f.len() - 12] {
            let mut meta = Metadata::default();
            let e = read_into(&f[..cut].to_vec(), &mut meta).unwrap_err();
            assert!(matches!(e, MediaError::Truncated { .. }), "{cut}: {e}");
            assert_eq!(meta.xmp[0].bytes, b"<x>first</x>".to_vec(), "{cut}");
            // The packet's own offset in the file.
            assert_eq!(meta.xmp[0].offset, 8 + 25 + 8 + XMP_KEYWORD.len() as u64 + 5);
            assert_eq!(&f[meta.xmp[0].offset as usize..][..12], b"<x>first</x>");
        }
        let e = read(&f[..idat_at as usize + 60].to_vec()).unwrap_err();
        assert!(e.to_string().contains(&format!("at byte {idat_at}")), "{e}");
        // A whole file, and one whose IEND is complete: fine.
        assert_eq!(read(&f).unwrap().xmp.len(), 2);
    }

    #[test]
    fn text_chunks_after_iend_are_read_and_a_trailer_is_ignored() {
        let mut f = png(&[]);
        f.extend(itxt(XMP_KEYWORD, false, b"<x>itxt</x>"));
        f.extend(text(XMP_KEYWORD, b"<x>text</x>"));
        f.extend(ztxt(XMP_KEYWORD, b"<x>ztxt</x>"));
        let m = read(&f).unwrap();
        assert_eq!(m.xmp_bytes(), [&b"<x>itxt</x>"[..], b"<x>text</x>", b"<x>ztxt</x>"].map(<[u8]>::to_vec));
        // Bytes after IEND that are not a chunk (exiftool stops there too).
        f.extend_from_slice(b"PK\x03\x04 an appended archive");
        assert_eq!(read(&f).unwrap().xmp.len(), 3);
    }

    #[test]
    fn a_chunk_after_iend_that_runs_past_the_end_is_truncated() {
        let mut f = png(&[]);
        f.extend(itxt(XMP_KEYWORD, false, b"<x>first</x>"));
        let whole = f.len();
        let second = itxt(XMP_KEYWORD, false, b"<x>second, cut</x>");
        // A text chunk after IEND cut anywhere from its type on: an error (it was ignored),
        // keeping the packet before it.
        for keep in [8, 12, 30, second.len() - 1] {
            let mut cut = f.clone();
            cut.extend_from_slice(&second[..keep]);
            let mut meta = Metadata::default();
            let e = read_into(&cut, &mut meta).unwrap_err();
            assert!(matches!(e, MediaError::Truncated { offset, .. } if offset == whole as u64), "{keep}: {e}");
            assert_eq!(meta.xmp_bytes(), vec![b"<x>first</x>".to_vec()]);
        }
        // Any chunk type, not only text.
        let mut cut = f.clone();
        cut.extend_from_slice(&0x100u32.to_be_bytes());
        cut.extend_from_slice(b"abCD");
        assert!(matches!(read(&cut), Err(MediaError::Truncated { .. })));
        // Fewer than 8 bytes, or bytes that are no chunk type: a trailer.
        for trailer in [&b"iTXt"[..], b"\0\0\0\x10iTX", b"\0\0\0\x10i\0Xt and more"] {
            let mut t = f.clone();
            t.extend_from_slice(trailer);
            assert_eq!(read(&t).unwrap().xmp.len(), 1, "{trailer:?}");
        }
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let irb = resource(iptc::IRB_IPTC, b"", &sample_iim());
        let f = png(&[
            itxt(XMP_KEYWORD, true, b"<x>compressed</x>"),
            chunk(b"eXIf", &sample_block(true)),
            ztxt(b"Raw profile type iptc", &raw_profile("iptc", &irb)),
        ]);
        crate::media::for_each_damaged(&f, |b| {
            let _ = read(b);
        });
    }
}
