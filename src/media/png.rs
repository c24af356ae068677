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
    let sig = src.slice("PNG signature", 0, src.len().min(8), 8)?;
    if sig[..] != *SIGNATURE {
        return Err(MediaError::Unrecognised { expected: "PNG", magic: hex(&sig) });
    }
    let mut state = State { meta: Metadata::default(), inflated: 0 };
    let mut pos = 8u64;
    for _ in 0..MAX_ITEMS {
        if src.len().saturating_sub(pos) < 8 {
            // End of file without IEND (or a cut chunk header): nothing more to find.
            return Ok(state.meta);
        }
        let head = src.slice("PNG chunk header", pos, 8, 8)?;
        let len = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        if &kind == b"IEND" {
            return Ok(state.meta);
        }
        let data_at = pos + 8;
        let limit = match &kind {
            b"eXIf" => Some(MAX_BLOCK),
            b"iTXt" | b"zTXt" | b"tEXt" => {
                // Look at the keyword first: other text chunks (comments, ...) are skipped unread.
                let peek_len = len.min(80).min(src.len().saturating_sub(data_at));
                let peek = src.slice("PNG text chunk", data_at, peek_len, 80)?;
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
            if data_at.saturating_add(len) > src.len() {
                return Err(MediaError::Truncated { what: "PNG chunk", offset: pos, needed: len + 12, len: src.len() });
            }
            let data = src.slice("PNG chunk", data_at, len, limit)?;
            state.chunk(&kind, &data, pos)?;
        }
        // Data and CRC. A truncated chunk we do not need ends the walk at the next check.
        pos = data_at.saturating_add(len + 4);
    }
    Err(MediaError::malformed("PNG", pos, "too many chunks"))
}

struct State {
    meta: Metadata,
    inflated: u64,
}

impl State {
    fn chunk(&mut self, kind: &[u8; 4], data: &[u8], at: u64) -> Result<(), MediaError> {
        if kind == b"eXIf" {
            exif::merge_lenient(&mut self.meta, exif::strip_exif_header(data));
            return Ok(());
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
        let text: Vec<u8> = match kind {
            b"tEXt" => rest.to_vec(),
            b"zTXt" => {
                let (&method, compressed) = rest.split_first().ok_or_else(|| malformed("zTXt without method"))?;
                if method != 0 {
                    return Err(malformed("zTXt compression method is not zlib"));
                }
                self.inflate(compressed, text_limit, at)?
            }
            _ => {
                // iTXt: flag, method, language NUL, translated keyword NUL, text.
                let [flag, method, tail @ ..] = rest else { return Err(malformed("iTXt header cut short")) };
                let lang_end = tail.iter().position(|&b| b == 0).ok_or_else(|| malformed("iTXt language tag"))?;
                let tail = &tail[lang_end + 1..];
                let tk_end = tail.iter().position(|&b| b == 0).ok_or_else(|| malformed("iTXt translated keyword"))?;
                let body = &tail[tk_end + 1..];
                match (flag, method) {
                    (0, _) => body.to_vec(),
                    (1, 0) => self.inflate(body, text_limit, at)?,
                    _ => return Err(malformed("iTXt compression flag/method")),
                }
            }
        };
        if is_xmp {
            return push_xmp(&mut self.meta, text, at);
        }
        let profile = profile.unwrap_or_default();
        let decoded = decode_raw_profile(&text, limit).map_err(|d| malformed(&d));
        match &profile[..] {
            b"exif" | b"app1" => {
                // An EXIF profile may be broken without hiding anything else; APP1 may hold XMP.
                let Ok(bytes) = decoded else { return Ok(()) };
                if let Some(xmp) = bytes.strip_prefix(b"http://ns.adobe.com/xap/1.0/\0") {
                    push_xmp(&mut self.meta, xmp.to_vec(), at)?;
                } else {
                    exif::merge_lenient(&mut self.meta, exif::strip_exif_header(&bytes));
                }
            }
            b"xmp" => push_xmp(&mut self.meta, decoded?, at)?,
            b"iptc" | b"8bim" => {
                let bytes = decoded?;
                let keywords = if bytes.starts_with(b"8BIM") {
                    let placed = Placed { data: &bytes, base: 0 };
                    iptc::irb_iptc_keywords(&placed, 0, placed.len(), MAX_BLOCK)
                } else {
                    iptc::iim_keywords(&bytes, 0)
                }
                // Offsets inside the decoded profile mean nothing in the file: name the chunk.
                .map_err(|e| malformed(&format!("IPTC profile: {e}")))?;
                iptc::push_unique(&mut self.meta.iptc_keywords, keywords);
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
mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};
    use crate::media::iptc::tests::{resource, sample_iim, sample_keywords};
    use std::io::Write;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
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

    fn itxt(keyword: &[u8], compressed: bool, text: &[u8]) -> Vec<u8> {
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

    fn text(keyword: &[u8], text: &[u8]) -> Vec<u8> {
        let mut d = keyword.to_vec();
        d.push(0);
        d.extend_from_slice(text);
        chunk(b"tEXt", &d)
    }

    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
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
        assert_eq!(m.xmp, vec![b"<x>plain</x>".to_vec(), b"<x>compressed</x>".to_vec()]);
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
        assert_eq!(m.xmp, vec![b"<x>profile</x>".to_vec(), b"<x>app1</x>".to_vec()]);
        assert_eq!(m.iptc_keywords, sample_keywords());
        // Raw IIM in an iptc profile.
        let f = png(&[text(b"Raw profile type iptc", &raw_profile("iptc", &sample_iim()))]);
        assert_eq!(read(&f).unwrap().iptc_keywords, sample_keywords());
    }

    #[test]
    fn zip_bomb_is_too_large() {
        let bomb = zlib(&[b' '; 10_000]);
        let mut state = State { meta: Metadata::default(), inflated: 0 };
        assert!(matches!(state.inflate(&bomb, 9_999, 0), Err(MediaError::TooLarge { .. })));
        assert_eq!(state.inflate(&bomb, 10_000, 0).unwrap().len(), 10_000);
        state.inflated = MAX_INFLATED_TOTAL - 5_000;
        assert!(matches!(state.inflate(&bomb, MAX_XMP, 0), Err(MediaError::TooLarge { .. })));
    }

    #[test]
    fn broken_xmp_container_is_error_broken_exif_is_not() {
        let mut bad = itxt(XMP_KEYWORD, true, b"<x/>");
        let n = bad.len();
        bad[n - 8] ^= 0xFF; // corrupt the zlib stream (adler32)
        assert!(read(&png(&[bad])).is_err());
        // Other text chunks are not read at all, however large they claim to be.
        let mut comment = text(b"Comment", b"hello");
        comment[..4].copy_from_slice(&0x7FFF_0000u32.to_be_bytes());
        assert_eq!(read(&png(&[comment])).unwrap(), Metadata::default());
        let f = png(&[chunk(b"eXIf", b"garbage"), itxt(XMP_KEYWORD, false, b"<x/>")]);
        assert_eq!(read(&f).unwrap().xmp.len(), 1);
    }

    #[test]
    fn truncation() {
        let f = png(&[chunk(b"IDAT", &[0xAB; 100]), itxt(XMP_KEYWORD, false, b"<x>plain</x>")]);
        // Cut inside IDAT: nothing needed was cut.
        assert_eq!(read(&f[..60].to_vec()).unwrap(), Metadata::default());
        // Cut inside the iTXt: error.
        assert!(read(&f[..f.len() - 20].to_vec()).is_err());
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
