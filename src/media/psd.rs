//! Photoshop PSD/PSB: header, colour mode data (skipped), then the image resources walked by
//! their headers: 0x0424 XMP, 0x0404 IPTC-IIM, 0x0422 EXIF data 1. Layers and pixels are never read.
use std::ops::Range;

use super::iptc::{self, IrbResource};
use super::{MediaError, Metadata, ReadAt};

/// Read a PSD or PSB file's metadata.
pub fn read(src: &dyn ReadAt) -> Result<Metadata, MediaError> {
    super::whole(src, read_into)
}

/// Read a PSD or PSB file's metadata. What was located before a problem stays in `meta`.
pub fn read_into(src: &dyn ReadAt, meta: &mut Metadata) -> Result<(), MediaError> {
    let section = resource_section(src)?;
    iptc::irb_metadata(src, section.start, section.end, meta)
}

/// The layout walk of a PSD/PSB: the header is checked and the byte range of the image resources
/// section's content (after its 4-byte length field) returned; its resources are walked with
/// [`iptc::irb_resources`]. The range may pass the end of a cut file (the resource walk says so).
/// Reading metadata, finding the thumbnail resource and replacing the XMP resource all use it.
pub fn resource_section(src: &dyn ReadAt) -> Result<Range<u64>, MediaError> {
    let head = super::fixed_header(src, "PSD header", "PSD", b"8BPS", 30)?;
    let version = u16::from_be_bytes([head[4], head[5]]);
    if version != 1 && version != 2 {
        return Err(MediaError::malformed("PSD header", 4, format!("version {version}")));
    }
    let colour_len = u64::from(be32(&head[26..30]));
    let res_len_at = 30 + colour_len;
    let res_len = src.slice("PSD image resources length", res_len_at, 4, 4)?;
    let start = res_len_at + 4;
    Ok(start..start + u64::from(be32(&res_len)))
}

/// The image resources of a PSD/PSB, with the section's range ([`resource_section`]).
pub fn resources(src: &dyn ReadAt) -> Result<(Range<u64>, Vec<IrbResource>), MediaError> {
    let section = resource_section(src)?;
    let list = iptc::irb_resources(src, section.start, section.end)?;
    Ok((section, list))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::media::exif::tests::{sample_block, sample_fields};
    use crate::media::iptc::tests::{resource, sample_iim, sample_keywords};
    use crate::media::iptc::{IRB_EXIF, IRB_IPTC, IRB_XMP};

    pub(crate) fn psd(version: u16, resources: &[Vec<u8>]) -> Vec<u8> {
        let mut v = b"8BPS".to_vec();
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(&[0; 6]);
        v.extend_from_slice(&3u16.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 4, 0, 8, 0, 3]);
        v.extend_from_slice(&4u32.to_be_bytes());
        v.extend_from_slice(&[1, 2, 3, 4]); // colour mode data
        let res: Vec<u8> = resources.concat();
        v.extend_from_slice(&(res.len() as u32).to_be_bytes());
        v.extend(res);
        v.extend_from_slice(&[0; 4]); // layer and mask info
        v.extend_from_slice(&[0x42; 64]); // image data
        v
    }

    fn sample(version: u16) -> Vec<u8> {
        psd(
            version,
            &[
                resource(0x03ED, b"", &[0; 16]),
                resource(IRB_IPTC, b"", &sample_iim()),
                resource(0x040C, b"thumb", &[0x11; 31]),
                resource(IRB_EXIF, b"", &sample_block(true)),
                resource(IRB_XMP, b"", b"<x>psd</x>"),
            ],
        )
    }

    #[test]
    fn happy_path_psd_and_psb() {
        for version in [1, 2] {
            let m = read(&sample(version)).unwrap();
            assert_eq!(m.xmp_bytes(), vec![b"<x>psd</x>".to_vec()]);
            assert_eq!(m.iptc_keywords, sample_keywords());
            assert_eq!(m.exif, sample_fields());
        }
        assert!(read(&sample(3)).is_err());
    }

    #[test]
    fn truncated_xmp_resource_is_error() {
        let f = sample(1);
        let at = f.windows(4).position(|w| w == b"<x>p").unwrap();
        assert!(read(&f[..at + 3].to_vec()).is_err());
    }

    #[test]
    fn resources_cut_short_are_an_error_that_keeps_those_before() {
        let f = psd(1, &[resource(IRB_XMP, b"", b"<x>first</x>"), resource(0x040C, b"", &[7; 300])]);
        let thumb = f.windows(4).rposition(|w| w == b"8BIM").unwrap();
        // Cut inside the thumbnail resource, and inside its header (fewer than 12 bytes left).
        for cut in [thumb + 100, thumb + 6] {
            let mut meta = Metadata::default();
            let e = read_into(&f[..cut].to_vec(), &mut meta).unwrap_err();
            assert!(matches!(e, MediaError::Truncated { .. }), "{cut}: {e}");
            assert_eq!(meta.xmp_bytes(), vec![b"<x>first</x>".to_vec()], "{cut}");
        }
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        let f = sample(1);
        crate::media::for_each_damaged(&f, |b| {
            let _ = read(b);
        });
    }
}
