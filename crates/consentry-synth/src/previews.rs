//! Synthetic files with embedded previews, for the thumbnail tests and the HTML benchmark: real
//! pixels (encoded by the `image` crate) in the places cameras and editors keep previews.
//!
//! - JPEG: an EXIF thumbnail in IFD1 (JPEGInterchangeFormat / JPEGInterchangeFormatLength);
//! - TIFF, DNG and TIFF-based RAW: JPEG previews in IFD0, in the IFD chain (IFD1, ...) or in
//!   SubIFDs, and small uncompressed RGB images;
//! - PSD: image resource 0x040C (JFIF after a 28-byte header), or the old 0x0409 (BGR);
//! - RAF: the embedded JPEG; CR3: the `THMB` and `PRVW` JPEGs.
//!
//! Written independently of `consentry::thumbnail`, which reads them.

use crate::{be16, be32, bx, ftyp, irb, png_chunk, segment, CANON_UUID, XMP_SIG};

/// RGB pixels of a `width`×`height` test picture: a gradient with a band whose colours depend on
/// `seed`, so that files look different from one another.
pub fn rgb_pixels(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut px = Vec::with_capacity(width as usize * height as usize * 3);
    let (w, h) = (width.max(1), height.max(1));
    for y in 0..height {
        for x in 0..width {
            let band = ((x + y + seed * 7) / (w / 8 + h / 8 + 1)).is_multiple_of(2);
            let r = (x * 255 / w) as u8;
            let g = (y * 255 / h) as u8;
            let b = (seed.wrapping_mul(53) % 256) as u8;
            px.extend_from_slice(&if band { [r, g, b] } else { [b, r, g] });
        }
    }
    px
}

/// A baseline JPEG of `width`×`height` pixels ([`rgb_pixels`]), quality 85, with a JFIF APP0.
pub fn jpeg_image(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut v = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut v, 85)
        .encode(&rgb_pixels(width, height, seed), width, height, image::ExtendedColorType::Rgb8)
        .expect("encode jpeg");
    v
}

/// A PNG of `width`×`height` pixels ([`rgb_pixels`]) with an uncompressed `iTXt` XMP chunk.
pub fn png_image(width: u32, height: u32, seed: u32, xmp: Option<&str>) -> Vec<u8> {
    let mut base = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut base),
        &rgb_pixels(width, height, seed),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )
    .expect("encode png");
    let Some(xmp) = xmp else { return base };
    // signature (8) and IHDR (8 + 13 + 4), then the XMP chunk, then the rest
    let (head, rest) = base.split_at(33);
    let mut out = head.to_vec();
    let mut data = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    data.extend_from_slice(xmp.as_bytes());
    png_chunk(&mut out, b"iTXt", &data);
    out.extend_from_slice(rest);
    out
}

/// Little-endian TIFF values for [`tiff_layout`].
#[derive(Clone, Debug)]
enum V {
    Short(Vec<u16>),
    Long(Vec<u32>),
    /// BYTE / UNDEFINED / ASCII bytes with their TIFF type.
    Bytes(u16, Vec<u8>),
    /// Offset of blob `i` (LONG).
    BlobAt(usize),
    /// Length of blob `i` (LONG).
    BlobLen(usize),
    /// Offsets of IFDs (LONG, or type IFD 13 for SubIFDs).
    Ifds(Vec<usize>),
}

impl V {
    fn typ(&self) -> u16 {
        match self {
            V::Short(_) => 3,
            V::Long(_) | V::BlobAt(_) | V::BlobLen(_) => 4,
            V::Bytes(t, _) => *t,
            V::Ifds(_) => 13,
        }
    }

    fn bytes(&self, blobs: &[(u32, u32)], ifds: &[u32]) -> Vec<u8> {
        match self {
            V::Short(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            V::Long(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            V::Bytes(_, b) => b.clone(),
            V::BlobAt(i) => blobs[*i].0.to_le_bytes().to_vec(),
            V::BlobLen(i) => blobs[*i].1.to_le_bytes().to_vec(),
            V::Ifds(v) => v.iter().flat_map(|i| ifds[*i].to_le_bytes()).collect(),
        }
    }

    fn count(&self, nbytes: usize) -> u32 {
        (match self.typ() {
            3 => nbytes / 2,
            4 | 13 => nbytes / 4,
            _ => nbytes,
        }) as u32
    }
}

/// One IFD of [`tiff_layout`]: entries and the index of the next IFD in the chain.
struct Ifd {
    entries: Vec<(u16, V)>,
    next: Option<usize>,
}

/// A little-endian TIFF: `header` (8 bytes or more, IFD0 offset at 4..8 filled in), the blobs,
/// then the IFDs (IFD 0 first), each followed by its out-of-line values.
fn tiff_layout(header: &[u8], blobs: &[&[u8]], ifds: &[Ifd]) -> Vec<u8> {
    let mut at = header.len();
    let mut blob_pos = Vec::new();
    for b in blobs {
        blob_pos.push((at as u32, b.len() as u32));
        at += b.len() + (b.len() & 1);
    }
    let size = |ifd: &Ifd| {
        let data: usize = ifd
            .entries
            .iter()
            .map(|(_, v)| v.bytes(&blob_pos, &vec![0; ifds.len()]).len())
            .filter(|&n| n > 4)
            .map(|n| n + (n & 1))
            .sum();
        2 + 12 * ifd.entries.len() + 4 + data
    };
    let mut ifd_pos = Vec::new();
    for ifd in ifds {
        ifd_pos.push(at as u32);
        at += size(ifd);
    }
    let mut out = header.to_vec();
    out[4..8].copy_from_slice(&ifd_pos[0].to_le_bytes());
    for b in blobs {
        out.extend_from_slice(b);
        if b.len() % 2 == 1 {
            out.push(0);
        }
    }
    for (k, ifd) in ifds.iter().enumerate() {
        assert_eq!(out.len(), ifd_pos[k] as usize);
        let mut entries: Vec<&(u16, V)> = ifd.entries.iter().collect();
        entries.sort_by_key(|(tag, _)| *tag);
        let mut cursor = out.len() + 2 + 12 * entries.len() + 4;
        let mut data = Vec::new();
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, v) in entries {
            let b = v.bytes(&blob_pos, &ifd_pos);
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&v.typ().to_le_bytes());
            out.extend_from_slice(&v.count(b.len()).to_le_bytes());
            if b.len() <= 4 {
                let mut inline = b.clone();
                inline.resize(4, 0);
                out.extend_from_slice(&inline);
            } else {
                out.extend_from_slice(&(cursor as u32).to_le_bytes());
                cursor += b.len() + (b.len() & 1);
                data.extend_from_slice(&b);
                if b.len() % 2 == 1 {
                    data.push(0);
                }
            }
        }
        out.extend_from_slice(&ifd.next.map_or(0, |n| ifd_pos[n]).to_le_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// An EXIF TIFF block as in a JPEG's APP1 after `Exif\0\0`: IFD0 with Orientation, and IFD1
/// holding `thumbnail` through JPEGInterchangeFormat / JPEGInterchangeFormatLength.
pub fn exif_with_thumbnail(thumbnail: &[u8], orientation: u16) -> Vec<u8> {
    let ifd0 = Ifd { entries: vec![(0x0112, V::Short(vec![orientation]))], next: Some(1) };
    let ifd1 = Ifd {
        entries: vec![
            (0x0103, V::Short(vec![6])),
            (0x011A, V::Long(vec![72, 1])),
            (0x0201, V::BlobAt(0)),
            (0x0202, V::BlobLen(0)),
        ],
        next: None,
    };
    tiff_layout(b"II*\0\0\0\0\0", &[thumbnail], &[ifd0, ifd1])
}

/// `image` (a JPEG) with, after SOI and its JFIF APP0, an Exif APP1 holding `exif` (a TIFF block)
/// and an XMP APP1 holding `xmp`.
pub fn jpeg_with_metadata(image: &[u8], exif: Option<&[u8]>, xmp: Option<&str>) -> Vec<u8> {
    assert_eq!(&image[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut pos = 2;
    if image[2..4] == [0xFF, 0xE0] {
        pos = 4 + u16::from_be_bytes([image[4], image[5]]) as usize;
    }
    let mut out = image[..pos].to_vec();
    if let Some(tiff) = exif {
        segment(&mut out, 0xE1, &[b"Exif\0\0", tiff]);
    }
    if let Some(x) = xmp {
        segment(&mut out, 0xE1, &[XMP_SIG, x.as_bytes()]);
    }
    out.extend_from_slice(&image[pos..]);
    out
}

/// Where a TIFF-structured file keeps a JPEG preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewPlace {
    /// IFD0 itself is the preview: old-style JPEG (compression 6) in one strip, as in CR2.
    Ifd0,
    /// An IFD of the chain after IFD0 with JPEGInterchangeFormat/Length (CR2 IFD1, NEF, ...).
    NextIfd,
    /// A SubIFD holding a JPEG (compression 7) in one strip, NewSubfileType 1 (DNG previews).
    SubIfd,
}

/// A little-endian TIFF-structured file with JPEG previews at the given places, XMP (tag 700) in
/// IFD0, and, unless a preview takes IFD0, an uncompressed RGB IFD0 of `rgb_side`×`rgb_side`
/// pixels (a DNG's thumbnail; a TIFF's image). `dng` adds the DNG version tags; previews in
/// SubIFDs sit beside a CFA raw SubIFD as in real DNGs.
pub fn tiff_with_previews(previews: &[(PreviewPlace, &[u8])], rgb_side: u32, dng: bool, xmp: Option<&str>) -> Vec<u8> {
    let rgb = rgb_pixels(rgb_side, rgb_side, 3);
    let cfa = vec![0x40u8; 64];
    let mut blobs: Vec<&[u8]> = vec![&rgb, &cfa];
    let mut ifds = vec![Ifd { entries: Vec::new(), next: None }];
    let ifd0_jpeg = previews.iter().find(|(p, _)| *p == PreviewPlace::Ifd0);
    let mut ifd0 = match ifd0_jpeg {
        Some((_, jpeg)) => {
            blobs.push(jpeg);
            vec![
                (259, V::Short(vec![6])),
                (262, V::Short(vec![6])),
                (273, V::BlobAt(blobs.len() - 1)),
                (279, V::BlobLen(blobs.len() - 1)),
            ]
        }
        None => vec![
            (254, V::Long(vec![u32::from(dng)])),
            (256, V::Long(vec![rgb_side])),
            (257, V::Long(vec![rgb_side])),
            (258, V::Short(vec![8, 8, 8])),
            (259, V::Short(vec![1])),
            (262, V::Short(vec![2])),
            (273, V::BlobAt(0)),
            (277, V::Short(vec![3])),
            (278, V::Long(vec![rgb_side])),
            (279, V::BlobLen(0)),
            (284, V::Short(vec![1])),
        ],
    };
    ifd0.push((0x0112, V::Short(vec![1])));
    if dng {
        ifd0.push((50706, V::Bytes(1, vec![1, 4, 0, 0])));
        ifd0.push((271, V::Bytes(2, b"Synth\0".to_vec())));
    }
    if let Some(x) = xmp {
        ifd0.push((700, V::Bytes(1, x.as_bytes().to_vec())));
    }
    let mut sub = Vec::new();
    let mut last_in_chain = 0;
    for (place, jpeg) in previews {
        match place {
            PreviewPlace::Ifd0 => {}
            PreviewPlace::NextIfd => {
                blobs.push(jpeg);
                ifds.push(Ifd {
                    entries: vec![
                        (259, V::Short(vec![6])),
                        (0x0201, V::BlobAt(blobs.len() - 1)),
                        (0x0202, V::BlobLen(blobs.len() - 1)),
                    ],
                    next: None,
                });
                let k = ifds.len() - 1;
                ifds[last_in_chain].next = Some(k);
                last_in_chain = k;
            }
            PreviewPlace::SubIfd => {
                blobs.push(jpeg);
                ifds.push(Ifd {
                    entries: vec![
                        (254, V::Long(vec![1])),
                        (258, V::Short(vec![8, 8, 8])),
                        (259, V::Short(vec![7])),
                        (262, V::Short(vec![6])),
                        (273, V::BlobAt(blobs.len() - 1)),
                        (277, V::Short(vec![3])),
                        (279, V::BlobLen(blobs.len() - 1)),
                    ],
                    next: None,
                });
                sub.push(ifds.len() - 1);
            }
        }
    }
    if !sub.is_empty() {
        // the raw image: CFA, 16 bits, not a preview
        ifds.push(Ifd {
            entries: vec![
                (254, V::Long(vec![0])),
                (256, V::Long(vec![4])),
                (257, V::Long(vec![4])),
                (258, V::Short(vec![16])),
                (259, V::Short(vec![1])),
                (262, V::Short(vec![32803])),
                (273, V::BlobAt(1)),
                (277, V::Short(vec![1])),
                (279, V::BlobLen(1)),
            ],
            next: None,
        });
        sub.insert(0, ifds.len() - 1);
        ifd0.push((330, V::Ifds(sub)));
    }
    ifds[0].entries = ifd0;
    tiff_layout(b"II*\0\0\0\0\0", &blobs, &ifds)
}

/// A grey 8×8 PSD with image resource 0x040C holding `thumbnail` (JFIF after the 28-byte header),
/// or, with `legacy_bgr`, the Photoshop 4 resource 0x0409 (same layout, channels stored BGR), and
/// XMP in 0x0424.
pub fn psd_with_thumbnail(thumbnail: &[u8], width: u32, height: u32, legacy_bgr: bool, xmp: Option<&str>) -> Vec<u8> {
    let mut out = b"8BPS".to_vec();
    out.extend_from_slice(&be16(1));
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&be16(1)); // channels
    out.extend_from_slice(&be32(8));
    out.extend_from_slice(&be32(8));
    out.extend_from_slice(&be16(8));
    out.extend_from_slice(&be16(1)); // grayscale
    out.extend_from_slice(&be32(0)); // colour mode data
    let mut thumb = Vec::new();
    thumb.extend_from_slice(&be32(1)); // kJpegRGB
    thumb.extend_from_slice(&be32(width));
    thumb.extend_from_slice(&be32(height));
    thumb.extend_from_slice(&be32((width * 24).div_ceil(32) * 4));
    thumb.extend_from_slice(&be32((width * 24).div_ceil(32) * 4 * height));
    thumb.extend_from_slice(&be32(thumbnail.len() as u32));
    thumb.extend_from_slice(&be16(24));
    thumb.extend_from_slice(&be16(1));
    thumb.extend_from_slice(thumbnail);
    let mut res = Vec::new();
    irb(&mut res, 0x03ED, &[0, 72, 0, 0, 0, 1, 0, 1, 0, 72, 0, 0, 0, 1, 0, 1]);
    irb(&mut res, if legacy_bgr { 0x0409 } else { 0x040C }, &thumb);
    if let Some(x) = xmp {
        irb(&mut res, 0x0424, x.as_bytes());
    }
    out.extend_from_slice(&be32(res.len() as u32));
    out.extend_from_slice(&res);
    out.extend_from_slice(&be32(0)); // layer and mask information
    out.extend_from_slice(&be16(0)); // raw image data
    out.extend_from_slice(&[0x80; 64]);
    out
}

/// A Fujifilm RAF whose header points at `preview` (a JPEG, typically with an EXIF thumbnail of
/// its own), followed by fake CFA data.
pub fn raf_with_preview(preview: &[u8]) -> Vec<u8> {
    let mut out = b"FUJIFILMCCD-RAW 0201FF383501".to_vec();
    let mut model = b"X-T3".to_vec();
    model.resize(32, 0);
    out.extend_from_slice(&model);
    out.extend_from_slice(b"0100");
    out.resize(84, 0);
    out.extend_from_slice(&be32(160));
    out.extend_from_slice(&be32(preview.len() as u32));
    out.resize(160, 0);
    out.extend_from_slice(preview);
    out.extend_from_slice(&[0x5A; 256]);
    out
}

/// UUID of the top-level CR3 box holding the `PRVW` preview.
pub const CR3_PREVIEW_UUID: [u8; 16] =
    [0xEA, 0xF4, 0x2B, 0x5E, 0x1C, 0x98, 0x4B, 0x88, 0xB9, 0xFB, 0xB7, 0xDC, 0x40, 0x6E, 0x4D, 0x16];

/// A Canon CR3 with `THMB` (in `moov/uuid` Canon) and `PRVW` (in its own top-level `uuid`) JPEGs,
/// laid out as Canon writes them: `THMB` width, height and JPEG size before the JPEG, `PRVW`
/// likewise after a few unknown bytes.
pub fn cr3_with_previews(thmb: Option<(&[u8], u16, u16)>, prvw: Option<(&[u8], u16, u16)>) -> Vec<u8> {
    let mut out = ftyp(b"crx ", 1, &[b"crx ", b"isom"]);
    let mut canon: Vec<u8> = CANON_UUID.to_vec();
    canon.extend_from_slice(&bx(b"CNCV", &[b"CanonCR3_001/00.09.00/00.00.00"]));
    if let Some((jpeg, w, h)) = thmb {
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&be16(w));
        body.extend_from_slice(&be16(h));
        body.extend_from_slice(&be32(jpeg.len() as u32));
        body.extend_from_slice(&[0, 1, 0, 0]);
        canon.extend_from_slice(&bx(b"THMB", &[&body, jpeg]));
    }
    out.extend_from_slice(&bx(b"moov", &[&bx(b"uuid", &[&canon])]));
    if let Some((jpeg, w, h)) = prvw {
        let mut body = vec![0, 0, 0, 0, 0, 0, 0, 1];
        body.extend_from_slice(&be16(w));
        body.extend_from_slice(&be16(h));
        body.extend_from_slice(&[0, 1]);
        body.extend_from_slice(&be32(jpeg.len() as u32));
        let prvw_box = bx(b"PRVW", &[&body, jpeg]);
        out.extend_from_slice(&bx(b"uuid", &[&CR3_PREVIEW_UUID, &[0, 0, 0, 0, 0, 0, 0, 1], &prvw_box]));
    }
    out.extend_from_slice(&bx(b"mdat", &[&[0u8; 128]]));
    out
}
