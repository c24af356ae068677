//! GIF: walk the blocks (image descriptors and extensions) by their sub-block length bytes and
//! read the XMP application extension ("XMP DataXMP").
//!
//! XMP in GIF is stored raw after the application identifier: the packet's own bytes pose as
//! sub-block lengths, and a 258-byte "magic trailer" (0x01, 0xFF down to 0x00, then the block
//! terminator) makes any sub-block walk land on the terminator. The packet is the bytes before
//! the trailer. GIF has no block index, so the whole file is walked, in 64 KiB windows.
use super::jpeg::{hex, push_xmp};
use super::{MediaError, Metadata, ReadAt, MAX_ITEMS, MAX_XMP};

const XMP_APP_ID: &[u8] = b"XMP DataXMP";
const TRAILER_LEN: u64 = 258;
const WINDOW: u64 = 64 * 1024;

/// Read a GIF file's metadata.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read a GIF file's metadata. What was located before a problem stays in `meta`.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let head = src.slice("GIF header", 0, src.len().min(13), 13)?;
    if !(head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        return Err(MediaError::Unrecognised { expected: "GIF", magic: hex(&head[..head.len().min(6)]) });
    }
    if head.len() < 13 {
        return Err(MediaError::Truncated { what: "GIF screen descriptor", offset: 6, needed: 7, len: src.len() });
    }
    let mut r = Bytes { src, start: 0, buf: Vec::new() };
    let mut pos = 13 + colour_table(head[10]);
    for _ in 0..MAX_ITEMS {
        // A file cut short before its trailer: a later extension may have held XMP.
        let cut =
            |offset: u64| MediaError::Truncated { what: "GIF block (no trailer)", offset, needed: 1, len: src.len() };
        let intro = r.byte(pos).map_err(cut)?;
        match intro {
            0x3B => return Ok(()),
            0x00 => pos += 1, // stray padding between blocks
            0x2C => {
                let packed = r.byte(pos + 9).map_err(|_| cut(pos))?;
                // Descriptor, local colour table, LZW minimum code size, data sub-blocks.
                pos += 10 + colour_table(packed) + 1;
                pos = r.skip_sub_blocks(pos).map_err(cut)?;
            }
            0x21 => {
                let label = r.byte(pos + 1).map_err(|_| cut(pos))?;
                pos += 2;
                if label == 0xFF && r.byte(pos) == Ok(11) && r.bytes(pos + 1, 11).as_deref() == Some(XMP_APP_ID) {
                    let at = pos + 12;
                    let end = r.skip_sub_blocks(at).map_err(|off| MediaError::Truncated {
                        what: "GIF XMP extension",
                        offset: off,
                        needed: 1,
                        len: src.len(),
                    })?;
                    let data = src.slice("GIF XMP extension", at, end - at, MAX_XMP + TRAILER_LEN)?;
                    push_xmp(meta, xmp_before_trailer(&data, at)?.to_vec(), at)?;
                    pos = end;
                } else {
                    pos = r.skip_sub_blocks(pos).map_err(cut)?;
                }
            }
            other => {
                return Err(MediaError::malformed("GIF block", pos, format!("unknown introducer 0x{other:02X}")));
            }
        }
    }
    Err(MediaError::TooLarge { what: "GIF blocks", offset: pos, size: MAX_ITEMS as u64 + 1, limit: MAX_ITEMS as u64 })
}

/// Size of a colour table announced by a packed field (global or local).
fn colour_table(packed: u8) -> u64 {
    if packed & 0x80 != 0 {
        3 << ((packed & 7) + 1)
    } else {
        0
    }
}

/// The XMP packet in the raw extension data (up to and including the block terminator).
fn xmp_before_trailer(data: &[u8], at: u64) -> Result<&[u8], MediaError> {
    let n = data.len();
    if n as u64 >= TRAILER_LEN {
        let t = &data[n - TRAILER_LEN as usize..];
        let ramp_ok = t[1..257].iter().enumerate().all(|(i, &b)| usize::from(b) == 255 - i);
        if t[0] == 0x01 && ramp_ok && t[257] == 0 {
            return Ok(&data[..n - TRAILER_LEN as usize]);
        }
    }
    // A damaged trailer: XMP text never holds 0x01, so the packet ends before the first one.
    match data.iter().position(|&b| b == 0x01) {
        Some(i) => Ok(&data[..i]),
        None => Err(MediaError::malformed("GIF XMP extension", at, "no magic trailer")),
    }
}

/// Byte access through a 64 KiB window, so that walking sub-blocks costs few reads.
struct Bytes<'a> {
    src: &'a dyn ReadAt,
    start: u64,
    buf: Vec<u8>,
}

impl Bytes<'_> {
    /// The byte at `pos`; Err(pos) past the end of the file.
    fn byte(&mut self, pos: u64) -> Result<u8, u64> {
        if pos < self.start || pos - self.start >= self.buf.len() as u64 {
            if pos >= self.src.len() {
                return Err(pos);
            }
            let len = (self.src.len() - pos).min(WINDOW);
            self.buf = self.src.slice("GIF data", pos, len, WINDOW).map_err(|_| pos)?.into_owned();
            self.start = pos;
        }
        Ok(self.buf[(pos - self.start) as usize])
    }

    fn bytes(&mut self, pos: u64, n: u64) -> Option<Vec<u8>> {
        (0..n).map(|i| self.byte(pos + i).ok()).collect()
    }

    /// Skip data sub-blocks starting at `pos`; the position after the terminator, or Err(offset)
    /// where the file ends first.
    fn skip_sub_blocks(&mut self, mut pos: u64) -> Result<u64, u64> {
        loop {
            let n = self.byte(pos)?;
            pos += 1;
            if n == 0 {
                return Ok(pos);
            }
            pos += u64::from(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub_blocks(data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for c in data.chunks(255) {
            v.push(c.len() as u8);
            v.extend_from_slice(c);
        }
        v.push(0);
        v
    }

    fn trailer() -> Vec<u8> {
        let mut t = vec![0x01];
        t.extend((0..=255u8).rev());
        t.push(0);
        t
    }

    fn xmp_ext(xmp: &[u8]) -> Vec<u8> {
        let mut v = vec![0x21, 0xFF, 11];
        v.extend_from_slice(XMP_APP_ID);
        v.extend_from_slice(xmp);
        v.extend(trailer());
        v
    }

    fn image(data_len: usize) -> Vec<u8> {
        let mut v = vec![0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0x81]; // local colour table of 4 entries
        v.extend_from_slice(&[0; 12]);
        v.push(2);
        v.extend(sub_blocks(&vec![0x77; data_len]));
        v
    }

    fn gif(blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut v = b"GIF89a\x02\0\x02\0\x80\0\0".to_vec(); // global colour table of 2 entries
        v.extend_from_slice(&[0; 6]);
        for b in blocks {
            v.extend_from_slice(b);
        }
        v.push(0x3B);
        v
    }

    const XMP: &[u8] =
        b"<?xpacket begin='\xEF\xBB\xBF'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>gif</x:xmpmeta><?xpacket end='w'?>";

    fn sample() -> Vec<u8> {
        let netscape = [&[0x21, 0xFF, 11][..], b"NETSCAPE2.0", &[3, 1, 0, 0, 0]].concat();
        let gce = vec![0x21, 0xF9, 4, 0, 0, 0, 0, 0];
        gif(&[netscape, gce, image(600), xmp_ext(XMP), image(10)])
    }

    #[test]
    fn happy_path() {
        assert_eq!(read(&sample()).unwrap().xmp_bytes(), vec![XMP.to_vec()]);
    }

    #[test]
    fn large_frames_are_walked() {
        let f = gif(&[image(300_000), xmp_ext(XMP)]);
        assert_eq!(read(&f).unwrap().xmp_bytes(), vec![XMP.to_vec()]);
    }

    #[test]
    fn truncation() {
        let f = sample();
        let xmp_at = f.windows(4).position(|w| w == b"<x:x").unwrap();
        assert!(read(&f[..xmp_at + 10].to_vec()).is_err());
        // Cut in the last image: an error, which keeps the complete XMP before it.
        let mut meta = Metadata::default();
        let e = read_into(&f[..f.len() - 5].to_vec(), &mut meta).unwrap_err();
        assert!(matches!(e, MediaError::Truncated { .. }), "{e}");
        assert_eq!(meta.xmp.len(), 1);
        let mut bad = sample();
        let n = bad.len();
        bad[n - 1] = 0x99;
        assert!(read(&bad).is_err());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let f = gif(&[image(20), xmp_ext(b"<x>a</x>")]);
        crate::media::for_each_damaged(&f, |b| {
            let _ = read(b);
        });
    }
}
