//! WebP: walk the RIFF chunks by their sizes; read `XMP ` and `EXIF`, skip everything else.
use super::jpeg::{hex, push_xmp};
use super::{exif, MediaError, Metadata, ReadAt, MAX_BLOCK, MAX_ITEMS, MAX_XMP};

/// Read a WebP file's metadata.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read a WebP file's metadata. What was located before a problem stays in `meta`.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let head = src.slice("RIFF header", 0, src.len().min(12), 12)?;
    if head.len() < 12 || &head[..4] != b"RIFF" || &head[8..12] != b"WEBP" {
        return Err(MediaError::Unrecognised { expected: "WebP", magic: hex(&head) });
    }
    let riff_size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    // The RIFF size bounds the chunks; a file cut short is an error once the chunks in it are read.
    let end = (riff_size + 8).min(src.len());
    let mut pos = 12u64;
    for _ in 0..MAX_ITEMS {
        if end.saturating_sub(pos) < 8 {
            if riff_size + 8 > src.len() {
                return Err(MediaError::Truncated {
                    what: "WebP RIFF data",
                    offset: pos,
                    needed: riff_size + 8 - pos,
                    len: src.len(),
                });
            }
            return Ok(());
        }
        let h = src.slice("WebP chunk header", pos, 8, 8)?;
        let size = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        let data_at = pos + 8;
        let kind = &h[..4];
        if data_at + size > end {
            // Any chunk cut short (or passing the RIFF size): what followed it is lost.
            return Err(MediaError::Truncated { what: "WebP chunk", offset: pos, needed: size + 8, len: end });
        }
        if kind == b"XMP " || kind == b"EXIF" {
            if kind == b"XMP " {
                let data = src.slice("WebP XMP chunk", data_at, size, MAX_XMP)?;
                push_xmp(meta, data.into_owned(), data_at)?;
            } else {
                let data = src.slice("WebP EXIF chunk", data_at, size, MAX_BLOCK)?;
                let tiff = exif::strip_exif_header(&data);
                exif::merge_lenient(meta, tiff, data_at + (data.len() - tiff.len()) as u64)?;
            }
        }
        pos = data_at + size + (size & 1);
    }
    Err(MediaError::TooLarge { what: "WebP chunks", offset: pos, size: MAX_ITEMS as u64 + 1, limit: MAX_ITEMS as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = kind.to_vec();
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v
    }

    fn webp(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend(body);
        v
    }

    fn sample() -> Vec<u8> {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(sample_block(false));
        webp(&[
            chunk(b"VP8X", &[0; 10]),
            chunk(b"VP8 ", &[0x55; 33]),
            chunk(b"EXIF", &exif),
            chunk(b"XMP ", b"<x>webp</x>"),
        ])
    }

    #[test]
    fn happy_path() {
        let m = read(&sample()).unwrap();
        assert_eq!(m.xmp_bytes(), vec![b"<x>webp</x>".to_vec()]);
        assert_eq!(m.exif, sample_fields());
        // EXIF without the "Exif\0\0" prefix.
        let m = read(&webp(&[chunk(b"EXIF", &sample_block(true))])).unwrap();
        assert_eq!(m.exif, sample_fields());
    }

    #[test]
    fn truncation() {
        let f = sample();
        assert!(read(&f[..f.len() - 3].to_vec()).is_err());
        // Cut in the image data: an error that keeps the XMP before it.
        let f = webp(&[chunk(b"XMP ", b"<x/>"), chunk(b"VP8 ", &[0x55; 100]), chunk(b"XMP ", b"<y/>")]);
        let mut meta = Metadata::default();
        let e = read_into(&f[..40].to_vec(), &mut meta).unwrap_err();
        assert!(matches!(e, MediaError::Truncated { offset: 24, .. }), "{e}");
        assert_eq!(meta.xmp.len(), 1);
        assert_eq!(read(&f).unwrap().xmp.len(), 2);
        assert!(matches!(read(&b"RIFF\0\0\0\0WAVE".to_vec()), Err(MediaError::Unrecognised { .. })));
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let f = sample();
        crate::media::for_each_damaged(&f, |b| {
            let _ = read(b);
        });
    }
}
