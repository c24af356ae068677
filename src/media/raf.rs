//! Fujifilm RAF: a fixed header pointing at an embedded JPEG, whose segments carry the metadata.
use std::ops::Range;

use super::jpeg;
use super::{MediaError, Metadata, ReadAt};

const MAGIC: &[u8] = b"FUJIFILMCCD-RAW ";

/// Read a RAF file's metadata from its embedded JPEG (header: u32 BE offset at 84, length at 88).
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// [`read`], keeping in `meta` what was located before a problem.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let jpeg = embedded_jpeg(src)?;
    jpeg::read_range(src, jpeg.start, jpeg.end, meta)
}

/// The layout walk of a RAF: the byte range of the embedded JPEG the fixed header points at
/// (metadata and previews are found in it).
pub fn embedded_jpeg(src: &dyn ReadAt) -> Result<Range<u64>, MediaError> {
    let head = super::fixed_header(src, "RAF header", "RAF", MAGIC, 92)?;
    let offset = u64::from(u32::from_be_bytes([head[84], head[85], head[86], head[87]]));
    let len = u64::from(u32::from_be_bytes([head[88], head[89], head[90], head[91]]));
    if offset < 92 || len < 4 {
        return Err(MediaError::malformed("RAF header", 84, format!("embedded JPEG at {offset}, {len} bytes")));
    }
    let end = offset + len;
    if end > src.len() {
        return Err(MediaError::Truncated { what: "RAF embedded JPEG", offset, needed: len, len: src.len() });
    }
    Ok(offset..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};
    use crate::media::jpeg::tests::segment;

    fn raf() -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(b"0201FF129502");
        f.resize(84, 0);
        let jpeg = [
            &[0xFF, 0xD8][..],
            &segment(0xE1, &[&b"Exif\0\0"[..], &sample_block(true)].concat()),
            &segment(0xDA, &[0; 4]),
            &[9; 40],
        ]
        .concat();
        f.extend_from_slice(&120u32.to_be_bytes());
        f.extend_from_slice(&(jpeg.len() as u32).to_be_bytes());
        f.resize(120, 0);
        f.extend(jpeg);
        f.extend_from_slice(&[0x5A; 100]); // CFA data
        f
    }

    #[test]
    fn embedded_jpeg() {
        assert_eq!(read(&raf()).unwrap().exif, sample_fields());
    }

    #[test]
    fn bad_pointers() {
        let mut f = raf();
        f[88..92].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(read(&f).is_err());
        let mut f = raf();
        f[84..88].copy_from_slice(&0u32.to_be_bytes());
        assert!(read(&f).is_err());
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let f = raf();
        crate::media::for_each_damaged(&f, |b| {
            let _ = read(b);
        });
    }
}
