//! Which container a file is, from its first bytes; which names are candidates at all.

/// Container formats consentry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Jpeg,
    Tiff,
    Dng,
    /// TIFF-structured camera RAW (CR2, NEF, ARW, ORF, RW2, PEF, SRW, ERF, 3FR, ...).
    TiffRaw,
    Png,
    WebP,
    Gif,
    Psd,
    Heif,
    Avif,
    Mp4,
    Mov,
    /// Canon CR3 (ISOBMFF).
    Cr3,
    /// Fujifilm RAF (embedded JPEG carries the metadata).
    Raf,
    /// RAW formats without embedded XMP consentry reads (CRW, MRW, X3F, ...): sidecars only.
    RawSidecarOnly,
}

impl Format {
    /// Every format, in declaration order (fuzz targets and tests run each).
    pub const ALL: [Format; 15] = [
        Format::Jpeg,
        Format::Tiff,
        Format::Dng,
        Format::TiffRaw,
        Format::Png,
        Format::WebP,
        Format::Gif,
        Format::Psd,
        Format::Heif,
        Format::Avif,
        Format::Mp4,
        Format::Mov,
        Format::Cr3,
        Format::Raf,
        Format::RawSidecarOnly,
    ];
}

/// Where a file's result is written (SPEC.md 5), decided once per format: into its own XMP
/// packet, spliced by consentry with the format's layout walker (`writeback::splice`); through
/// the XMP Toolkit's handler for the format; or into a sidecar only. A new format must choose here
/// (the match is exhaustive): nothing is embedded by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    Splice,
    Toolkit,
    SidecarOnly,
}

impl Format {
    pub fn embedding(self) -> Embedding {
        match self {
            Format::Jpeg | Format::Tiff | Format::Dng | Format::Png | Format::Psd => Embedding::Splice,
            Format::Mp4 | Format::Mov => Embedding::Toolkit,
            Format::TiffRaw
            | Format::WebP
            | Format::Gif
            | Format::Heif
            | Format::Avif
            | Format::Cr3
            | Format::Raf
            | Format::RawSidecarOnly => Embedding::SidecarOnly,
        }
    }
}

/// Broad kind of a media file, as reported in `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    Image,
    Raw,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Raw => "raw",
            MediaKind::Video => "video",
        }
    }
}

impl Format {
    pub fn kind(self) -> MediaKind {
        match self {
            Format::Jpeg
            | Format::Tiff
            | Format::Png
            | Format::WebP
            | Format::Gif
            | Format::Psd
            | Format::Heif
            | Format::Avif => MediaKind::Image,
            Format::Dng | Format::TiffRaw | Format::Cr3 | Format::Raf | Format::RawSidecarOnly => MediaKind::Raw,
            Format::Mp4 | Format::Mov => MediaKind::Video,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Tiff => "tiff",
            Format::Dng => "dng",
            Format::TiffRaw => "tiff-raw",
            Format::Png => "png",
            Format::WebP => "webp",
            Format::Gif => "gif",
            Format::Psd => "psd",
            Format::Heif => "heif",
            Format::Avif => "avif",
            Format::Mp4 => "mp4",
            Format::Mov => "mov",
            Format::Cr3 => "cr3",
            Format::Raf => "raf",
            Format::RawSidecarOnly => "raw",
        }
    }
}

/// File-name extensions (lower case) of media files consentry scans, by kind. Anything else is
/// skipped and counted. The content, not the name, decides how a candidate is parsed; the kind
/// named here is only reported for files whose content cannot be read.
pub const MEDIA_EXTENSIONS: &[(MediaKind, &[&str])] = &[
    (
        MediaKind::Image,
        &[
            "jpg", "jpeg", "jpe", "jfif", "tif", "tiff", "png", "webp", "heic", "heif", "hif", "avif", "gif", "psd",
            "psb",
        ],
    ),
    (
        MediaKind::Raw,
        &[
            "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw", "erf",
            "3fr", "fff", "iiq", "mos", "mrw", "x3f", "dcr", "kdc", "rwl", "gpr", "raw",
        ],
    ),
    (MediaKind::Video, &["mp4", "m4v", "mov", "qt", "3gp", "3g2"]),
];

/// The media kind a file-name extension (any case, without dot) names, if it names media.
pub fn media_kind_of_extension(ext: &str) -> Option<MediaKind> {
    MEDIA_EXTENSIONS.iter().find(|(_, exts)| exts.iter().any(|e| e.eq_ignore_ascii_case(ext))).map(|(k, _)| *k)
}

/// Whether `ext` (any case, without dot) names a media file.
pub fn is_media_extension(ext: &str) -> bool {
    media_kind_of_extension(ext).is_some()
}

/// Whether `ext` (any case) names an XMP sidecar.
pub fn is_sidecar_extension(ext: &str) -> bool {
    ext.eq_ignore_ascii_case("xmp")
}

/// Extensions of TIFF-structured camera RAW formats (besides DNG).
const TIFF_RAW_EXTENSIONS: &[&str] = &[
    "cr2", "nef", "nrw", "arw", "srf", "sr2", "pef", "srw", "erf", "3fr", "fff", "iiq", "mos", "dcr", "kdc", "rwl",
    "gpr", "raw", "orf", "rw2",
];

/// HEIF major brands (besides the structural `mif1`/`msf1`, which need the compatible brands).
const HEIF_BRANDS: &[&[u8; 4]] = &[b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"];

/// Identify a container from its first bytes (at least 32 are needed for ISOBMFF/RAF; fewer
/// bytes give `None` unless a short magic matches). `ext` (lower case, no dot) only refines
/// TIFF-structured files into DNG / RAW, which share TIFF's magic.
pub fn detect(head: &[u8], ext: &str) -> Option<Format> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    // Classic TIFF (42) and BigTIFF (43); tiff.rs reads both.
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        if ext.eq_ignore_ascii_case("dng") {
            return Some(Format::Dng);
        }
        if TIFF_RAW_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)) || head.get(8..10) == Some(b"CR") {
            return Some(Format::TiffRaw);
        }
        return Some(Format::Tiff);
    }
    // Olympus ORF and Panasonic RW2: TIFF structure with their own magic numbers.
    if starts(b"IIRO") || starts(b"IIRS") || starts(b"MMOR") || starts(b"IIU\0") {
        return Some(Format::TiffRaw);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(Format::Gif);
    }
    if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Some(Format::WebP);
    }
    if starts(b"8BPS") {
        return Some(Format::Psd);
    }
    if starts(b"FUJIFILMCCD-RAW") {
        return Some(Format::Raf);
    }
    if starts(b"II\x1a\0\0\0HEAPCCDR") || starts(b"\0MRM") || starts(b"FOVb") {
        return Some(Format::RawSidecarOnly);
    }
    if head.get(4..8) == Some(b"ftyp") {
        return Some(isobmff_brand(head));
    }
    // QuickTime files from before `ftyp`: the first box is one of these.
    if let Some(kind) = head.get(4..8) {
        if [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"].iter().any(|t| kind == &t[..]) {
            let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            // 0 = to the end of the file, 1 = 64-bit size follows; else at least a header.
            if size <= 1 || size >= 8 {
                return Some(Format::Mov);
            }
        }
    }
    None
}

/// The format of an ISOBMFF file whose first box is `ftyp`, from its major and compatible brands.
fn isobmff_brand(head: &[u8]) -> Format {
    let major = match head.get(8..12) {
        Some(m) => [m[0], m[1], m[2], m[3]],
        None => return Format::Mp4,
    };
    // Compatible brands follow the minor version, up to the end of the box (or of what we have).
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = size.min(head.len());
    let compatible: Vec<&[u8]> = head.get(16..end).unwrap_or(&[]).chunks_exact(4).collect();
    let has = |brand: &[u8; 4]| compatible.iter().any(|c| c == brand);
    match &major {
        b"qt  " => Format::Mov,
        b"crx " => Format::Cr3,
        b"avif" | b"avis" => Format::Avif,
        b"mif1" | b"msf1" if has(b"avif") || has(b"avis") => Format::Avif,
        m if HEIF_BRANDS.contains(&m) => Format::Heif,
        _ => Format::Mp4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compat: &[&[u8; 4]]) -> Vec<u8> {
        let mut v = Vec::new();
        let size = 16 + 4 * compat.len() as u32;
        v.extend_from_slice(&size.to_be_bytes());
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        for c in compat {
            v.extend_from_slice(&c[..]);
        }
        v.extend_from_slice(&[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
        v
    }

    #[test]
    fn extensions_name_kinds_in_any_case() {
        assert_eq!(media_kind_of_extension("MOV"), Some(MediaKind::Video));
        assert_eq!(media_kind_of_extension("Jpeg"), Some(MediaKind::Image));
        assert_eq!(media_kind_of_extension("nef"), Some(MediaKind::Raw));
        assert_eq!(media_kind_of_extension("xmp"), None);
        assert!(is_media_extension("CR3") && !is_media_extension("txt"));
    }

    #[test]
    fn magics() {
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0], "jpg"), Some(Format::Jpeg));
        assert_eq!(detect(b"II*\0\x08\0\0\0", "tif"), Some(Format::Tiff));
        assert_eq!(detect(b"MM\0*\0\0\0\x08", "TIFF"), Some(Format::Tiff));
        assert_eq!(detect(b"II*\0\x08\0\0\0", "dng"), Some(Format::Dng));
        assert_eq!(detect(b"II*\0\x08\0\0\0", "nef"), Some(Format::TiffRaw));
        assert_eq!(detect(b"II*\0\x10\0\0\0CR\x02\0", "tif"), Some(Format::TiffRaw));
        assert_eq!(detect(b"II+\0\x08\0\0\0", "tif"), Some(Format::Tiff));
        assert_eq!(detect(b"IIRO\x08\0\0\0", "orf"), Some(Format::TiffRaw));
        assert_eq!(detect(b"MMOR\0\0\0\x08", "orf"), Some(Format::TiffRaw));
        assert_eq!(detect(b"IIU\0\x18\0\0\0", "rw2"), Some(Format::TiffRaw));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0", "png"), Some(Format::Png));
        assert_eq!(detect(b"GIF89a", "gif"), Some(Format::Gif));
        assert_eq!(detect(b"GIF87a", "gif"), Some(Format::Gif));
        assert_eq!(detect(b"RIFF\0\0\0\0WEBPVP8 ", "webp"), Some(Format::WebP));
        assert_eq!(detect(b"RIFF\0\0\0\0WAVEfmt ", "webp"), None);
        assert_eq!(detect(b"8BPS\0\x01", "psd"), Some(Format::Psd));
        assert_eq!(detect(b"FUJIFILMCCD-RAW 0201", "raf"), Some(Format::Raf));
        assert_eq!(detect(b"II\x1a\0\0\0HEAPCCDR", "crw"), Some(Format::RawSidecarOnly));
        assert_eq!(detect(b"\0MRM\0\0", "mrw"), Some(Format::RawSidecarOnly));
        assert_eq!(detect(b"FOVb", "x3f"), Some(Format::RawSidecarOnly));
        assert_eq!(detect(b"hello world, not media", "jpg"), None);
        assert_eq!(detect(b"", "jpg"), None);
        assert_eq!(detect(b"\xFF", "jpg"), None);
    }

    #[test]
    fn isobmff_brands() {
        assert_eq!(detect(&ftyp(b"qt  ", &[b"qt  "]), "mov"), Some(Format::Mov));
        assert_eq!(detect(&ftyp(b"crx ", &[b"crx ", b"isom"]), "cr3"), Some(Format::Cr3));
        assert_eq!(detect(&ftyp(b"heic", &[b"mif1", b"heic"]), "heic"), Some(Format::Heif));
        assert_eq!(detect(&ftyp(b"mif1", &[b"mif1", b"heic"]), "heic"), Some(Format::Heif));
        assert_eq!(detect(&ftyp(b"mif1", &[b"mif1", b"avif"]), "avif"), Some(Format::Avif));
        assert_eq!(detect(&ftyp(b"msf1", &[b"avis"]), "avif"), Some(Format::Avif));
        assert_eq!(detect(&ftyp(b"avif", &[b"mif1"]), "avif"), Some(Format::Avif));
        assert_eq!(detect(&ftyp(b"isom", &[b"isom", b"mp42"]), "mp4"), Some(Format::Mp4));
        assert_eq!(detect(&ftyp(b"3gp4", &[]), "3gp"), Some(Format::Mp4));
        // Old QuickTime without ftyp.
        assert_eq!(detect(b"\0\0\0\x08wide\0\0\0\0mdat", "mov"), Some(Format::Mov));
        assert_eq!(detect(b"\0\0\x01\0moov", "mov"), Some(Format::Mov));
        assert_eq!(detect(b"\0\0\0\x04moov", "mov"), None);
        // Short or odd ftyp boxes do not panic.
        assert_eq!(detect(b"\0\0\0\x08ftyp", "mp4"), Some(Format::Mp4));
        assert_eq!(detect(b"\xff\xff\xff\xffftypmif1\0\0\0\0avi", "mp4"), Some(Format::Heif));
    }

    #[test]
    fn every_prefix_is_safe() {
        let samples: Vec<Vec<u8>> =
            vec![ftyp(b"mif1", &[b"avif"]), b"FUJIFILMCCD-RAW 0201".to_vec(), b"II*\0\x10\0\0\0CR".to_vec()];
        for s in &samples {
            for n in 0..=s.len() {
                let _ = detect(&s[..n], "");
            }
        }
    }
}
