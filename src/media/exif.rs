//! The few EXIF values consentry reads, from an in-memory TIFF-structured EXIF block.
//!
//! Blocks are small (a JPEG APP1 segment, a PNG `eXIf` chunk, a HEIF `Exif` item, Canon's CR3
//! `CMT1`/`CMT2` boxes). What may name persons (tag 700, XPKeywords, IPTC, Photoshop resources)
//! is read by `tiff.rs`, the walker of whole TIFF files, strictly and within its budget; the
//! dates by kamadak-exif, each looked up alone and leniently (`continue_on_error`: a broken maker
//! note does not hide a date, and damage that loses only a date is no error).
use exif::{Context, In, Reader, Tag, Value};

use super::jpeg::push_xmp;
use super::{ExifFields, MediaError, Metadata, MAX_BLOCK};

/// TIFF tag numbers consentry reads.
pub const TAG_XP_KEYWORDS: u16 = 0x9C9E;
pub const TAG_XMP: u16 = 700;
pub const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;
pub const TAG_OFFSET_TIME_ORIGINAL: u16 = 0x9011;

/// Read XPKeywords (IFD0), DateTimeOriginal and OffsetTimeOriginal (Exif IFD) from a TIFF block
/// (starting with `II*\0` or `MM\0*`). Blocks that only hold an Exif IFD as their IFD0 (Canon
/// CR3 `CMT2`) work too: the date tags are also looked up in IFD0.
pub fn fields_from_tiff_block(block: &[u8]) -> Result<ExifFields, MediaError> {
    let mut meta = Metadata::default();
    merge_lenient(&mut meta, block, 0)?;
    Ok(meta.exif)
}

fn parse_block(block: &[u8]) -> Result<exif::Exif, MediaError> {
    if block.len() as u64 > MAX_BLOCK {
        return Err(MediaError::TooLarge { what: "EXIF block", offset: 0, size: block.len() as u64, limit: MAX_BLOCK });
    }
    Reader::new()
        .continue_on_error(true)
        .read_raw(block.to_vec())
        .or_else(|e| e.distill_partial_result(|_| ()))
        .map_err(|e| MediaError::malformed("EXIF block", 0, e.to_string()))
}

/// The dates of a parsed block (DateTimeOriginal, OffsetTimeOriginal): each looked up alone, in
/// the Exif IFD, else in IFD0 (Canon CR3 `CMT2`). kamadak-exif decodes a value only when it is
/// looked up, so the rest of the block (a maker note, hostile entries) costs nothing here.
fn dates_of(parsed: &exif::Exif) -> ExifFields {
    let get = |ctx: Context, number: u16| -> Option<&Value> {
        parsed.get_field(Tag(ctx, number), In::PRIMARY).map(|f| &f.value)
    };
    let ascii = |number: u16| -> Option<String> {
        get(Context::Exif, number).or_else(|| get(Context::Tiff, number)).and_then(ascii_value)
    };
    ExifFields {
        xp_keywords: None,
        date_time_original: ascii(TAG_DATE_TIME_ORIGINAL),
        offset_time_original: ascii(TAG_OFFSET_TIME_ORIGINAL),
    }
}

/// XPKeywords as text, by the entry's type: BYTE or UNDEFINED hold UTF-16LE bytes, SHORT holds
/// UTF-16 units in the file's byte order. Any other type holds no text: an error, never
/// keywords dropped (the file would read as showing nobody).
pub fn xp_text(typ: u16, data: &[u8], endian: super::tiff::Endian, at: u64) -> Result<Option<String>, MediaError> {
    match typ {
        1 | 7 => Ok(decode_utf16le(data)),
        3 => Ok(decode_units(data.chunks_exact(2).map(|c| endian.u16(c)).collect())),
        other => {
            Err(MediaError::malformed("XPKeywords", at, format!("stored as TIFF type {other}, which holds no text")))
        }
    }
}

/// An EXIF block as found in containers that may or may not prefix the TIFF header with the JPEG
/// APP1 identifier `Exif\0\0` (WebP, PNG, ImageMagick raw profiles): the TIFF part.
pub fn strip_exif_header(block: &[u8]) -> &[u8] {
    match block {
        [b'E', b'x', b'i', b'f', 0, _, rest @ ..] => rest,
        _ => block,
    }
}

/// Parse an EXIF block found in a container at file offset `at` and merge its fields into `meta`,
/// and the XMP packets it holds (tag 700) into its packets (used for JPEG APP1, WebP, PNG `eXIf`,
/// Photoshop 0x0422, CR3 and HEIF blocks).
///
/// Lenient only about dates. A block that cannot be parsed is an error (it may name persons in
/// XPKeywords or hold XMP). kamadak-exif does not say where the errors it ignored are, so a block
/// with any is walked again by the TIFF reader, which is strict about what may name persons (the
/// IFD0/IFD1 chain, the Exif IFD, XPKeywords, tag 700, IPTC) and lenient about date values: its
/// error is the block's. What was read before an error stays in `meta` (callers keep it).
pub fn merge_lenient(meta: &mut Metadata, block: &[u8], at: u64) -> Result<(), MediaError> {
    let parsed = parse_block(block).map_err(|e| in_block(e, at))?;
    meta.exif.merge_missing(dates_of(&parsed));
    // What may name persons, by the TIFF walker that reads whole TIFF files: every tag-700 and
    // XPKeywords entry of the IFD chain and the Exif IFD (repeated ones too), IPTC and Photoshop
    // resources, each value read once and all of them within one budget; strict (its error is
    // the block's).
    let mut found = Metadata::default();
    super::tiff::read_within(&block, &mut found, MAX_BLOCK, true).map_err(|e| in_block(e, at))?;
    for packet in found.xmp {
        push_xmp(meta, packet.bytes, at + packet.offset)?;
    }
    super::iptc::push_unique(&mut meta.iptc_keywords, found.iptc_keywords);
    meta.exif.merge_missing(ExifFields { xp_keywords: found.exif.xp_keywords, ..ExifFields::default() });
    Ok(())
}

/// A problem of an EXIF block at file offset `at` (offsets in the detail are within the block).
fn in_block(e: MediaError, at: u64) -> MediaError {
    MediaError::malformed("EXIF block", at, format!("{e} (offsets within the block)"))
}

/// An ASCII value (or a byte value holding text) as written, without trailing NULs. Empty = None.
pub fn ascii_value(value: &Value) -> Option<String> {
    let bytes: &[u8] = match value {
        Value::Ascii(parts) => parts.first()?,
        Value::Byte(b) | Value::Undefined(b, _) => b,
        _ => return None,
    };
    text_from_bytes(bytes)
}

/// Text from TIFF ASCII bytes: up to the first NUL, lossily decoded, trimmed of trailing blanks.
pub fn text_from_bytes(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

/// XPKeywords as written by Windows: BYTE values holding UTF-16LE text.
/// Decode UTF-16LE bytes (an odd last byte is dropped), removing trailing NULs. Empty = None.
pub fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    decode_units(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
}

fn decode_units(mut units: Vec<u16>) -> Option<String> {
    while units.last() == Some(&0) {
        units.pop();
    }
    (!units.is_empty()).then(|| String::from_utf16_lossy(&units))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TIFF-structured EXIF block builder for tests: IFD0 entries and an optional Exif IFD.
    /// Each entry is (tag, type, count, value bytes).
    pub(crate) fn tiff_block(
        big_endian: bool,
        ifd0: &[(u16, u16, u32, Vec<u8>)],
        exif_ifd: &[(u16, u16, u32, Vec<u8>)],
    ) -> Vec<u8> {
        let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend_from_slice(if big_endian { b"MM\0*" } else { b"II*\0" });
        out.extend_from_slice(&u32b(8));
        let write_ifd =
            |out: &mut Vec<u8>, entries: &[(u16, u16, u32, Vec<u8>)], exif_ptr_slot: bool| -> Option<usize> {
                let start = out.len();
                let n = entries.len() + usize::from(exif_ptr_slot);
                let table_end = start + 2 + n * 12 + 4;
                let mut data = Vec::new();
                out.extend_from_slice(&u16b(n as u16));
                let mut sorted: Vec<_> = entries.to_vec();
                sorted.sort_by_key(|e| e.0);
                let mut slot = None;
                for (tag, typ, count, bytes) in &sorted {
                    out.extend_from_slice(&u16b(*tag));
                    out.extend_from_slice(&u16b(*typ));
                    out.extend_from_slice(&u32b(*count));
                    if bytes.len() <= 4 {
                        let mut v = bytes.clone();
                        v.resize(4, 0);
                        out.extend_from_slice(&v);
                    } else {
                        out.extend_from_slice(&u32b((table_end + data.len()) as u32));
                        data.extend_from_slice(bytes);
                        if data.len() % 2 == 1 {
                            data.push(0);
                        }
                    }
                }
                if exif_ptr_slot {
                    out.extend_from_slice(&u16b(0x8769));
                    out.extend_from_slice(&u16b(4));
                    out.extend_from_slice(&u32b(1));
                    slot = Some(out.len());
                    out.extend_from_slice(&[0; 4]);
                }
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&data);
                slot
            };
        let slot = write_ifd(&mut out, ifd0, !exif_ifd.is_empty());
        if let Some(slot) = slot {
            let at = out.len() as u32;
            out[slot..slot + 4].copy_from_slice(&u32b(at));
            write_ifd(&mut out, exif_ifd, false);
        }
        out
    }

    pub(crate) fn utf16(s: &str) -> Vec<u8> {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        v.extend_from_slice(&[0, 0]);
        v
    }

    pub(crate) fn ascii(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    /// An EXIF block with XPKeywords, DateTimeOriginal and OffsetTimeOriginal.
    pub(crate) fn sample_block(big_endian: bool) -> Vec<u8> {
        let kw = utf16("People/Anna Schmidt;Berlin");
        let dt = ascii("2024:03:01 10:22:33");
        let off = ascii("+01:00");
        tiff_block(
            big_endian,
            &[(0x010F, 2, 6, ascii("Canon")), (TAG_XP_KEYWORDS, 1, kw.len() as u32, kw)],
            &[(TAG_DATE_TIME_ORIGINAL, 2, dt.len() as u32, dt), (TAG_OFFSET_TIME_ORIGINAL, 2, off.len() as u32, off)],
        )
    }

    pub(crate) fn sample_fields() -> ExifFields {
        ExifFields {
            xp_keywords: Some("People/Anna Schmidt;Berlin".into()),
            date_time_original: Some("2024:03:01 10:22:33".into()),
            offset_time_original: Some("+01:00".into()),
        }
    }

    #[test]
    fn both_byte_orders() {
        for be in [false, true] {
            assert_eq!(fields_from_tiff_block(&sample_block(be)).unwrap(), sample_fields());
        }
    }

    #[test]
    fn exif_ifd_as_ifd0() {
        // Canon CMT2: the Exif tags sit directly in the block's first IFD.
        let dt = ascii("2023:12:24 18:00:00");
        let block = tiff_block(false, &[(TAG_DATE_TIME_ORIGINAL, 2, dt.len() as u32, dt)], &[]);
        let f = fields_from_tiff_block(&block).unwrap();
        assert_eq!(f.date_time_original.as_deref(), Some("2023:12:24 18:00:00"));
        assert_eq!(f.xp_keywords, None);
    }

    #[test]
    fn broken_entries_do_not_hide_others() {
        // A maker note pointing far past the end.
        let kw = utf16("People/Bob");
        let mut block =
            tiff_block(true, &[(0x927C, 7, 1000, vec![1; 8]), (TAG_XP_KEYWORDS, 1, kw.len() as u32, kw)], &[]);
        // Patch the maker note's offset (first entry, value at 8 + 2 + 8).
        block[18..22].copy_from_slice(&0xFFFF_0000u32.to_be_bytes());
        let f = fields_from_tiff_block(&block).unwrap();
        assert_eq!(f.xp_keywords.as_deref(), Some("People/Bob"));
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(fields_from_tiff_block(b"hello"), Err(MediaError::Malformed { .. })));
        assert!(matches!(fields_from_tiff_block(b"XX*\0\0\0\0\x08"), Err(MediaError::Malformed { .. })));
    }

    #[test]
    fn strip_header() {
        assert_eq!(strip_exif_header(b"Exif\0\0II*\0"), b"II*\0");
        assert_eq!(strip_exif_header(b"II*\0"), b"II*\0");
        assert_eq!(decode_utf16le(&[b'A', 0, b'B', 0, 0, 0, 7]), Some("AB".to_string()));
        assert_eq!(decode_utf16le(&[0, 0]), None);
    }

    #[test]
    fn xmp_in_an_exif_block_is_read_with_its_file_offset() {
        let packet = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>".to_vec();
        let block = tiff_block(false, &[(TAG_XMP, 7, packet.len() as u32, packet.clone())], &[]);
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &block, 1000).unwrap();
        assert_eq!(meta.xmp_bytes(), vec![packet.clone()]);
        let in_block = block.windows(4).position(|w| w == b"<x:x").unwrap() as u64;
        assert_eq!(meta.xmp_offsets(), vec![1000 + in_block]);
        // And in the Exif IFD.
        let block = tiff_block(true, &[], &[(TAG_XMP, 7, packet.len() as u32, packet.clone())]);
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &block, 0).unwrap();
        assert_eq!(meta.xmp_bytes(), vec![packet]);
    }

    /// The two XMP packets of [`repeated_block`].
    pub(crate) const REPEATED_XMP: [&[u8]; 2] = [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>first</x:xmpmeta>",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>second</x:xmpmeta>",
    ];

    /// A little-endian TIFF block whose IFD0 holds two XMP entries ([`REPEATED_XMP`], UNDEFINED
    /// then BYTE) and two XPKeywords entries (`People/Bob`, `People/Carl`), then `more`.
    pub(crate) fn repeated_block(more: &[(u16, u16, u32, Vec<u8>)]) -> Vec<u8> {
        let [a, b] = REPEATED_XMP;
        let (bob, carl) = (utf16("People/Bob"), utf16("People/Carl"));
        let mut entries = vec![
            (TAG_XMP, 7, a.len() as u32, a.to_vec()),
            (TAG_XMP, 1, b.len() as u32, b.to_vec()),
            (TAG_XP_KEYWORDS, 1, bob.len() as u32, bob),
            (TAG_XP_KEYWORDS, 1, carl.len() as u32, carl),
        ];
        entries.extend_from_slice(more);
        tiff_block(false, &entries, &[])
    }

    #[test]
    fn every_repeated_xmp_and_xp_keywords_entry_of_an_exif_block_is_read() {
        // Two tag-700 entries in IFD0 of a JPEG's EXIF block: kamadak-exif's lookup gave one of
        // them (the last), so a person named only in the other was missed.
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &repeated_block(&[]), 0).unwrap();
        assert_eq!(meta.xmp_bytes(), REPEATED_XMP.map(<[u8]>::to_vec).to_vec());
        // XPKeywords repeated too: the items of both.
        assert_eq!(meta.exif.xp_keywords.as_deref(), Some("People/Bob;People/Carl"));
        let a = REPEATED_XMP[0];
        // A tag 700 whose type holds no bytes (SHORT): an error, not a packet silently dropped.
        let short = tiff_block(false, &[(TAG_XMP, 3, (a.len() / 2) as u32, a[..a.len() / 2 * 2].to_vec())], &[]);
        let e = merge_lenient(&mut Metadata::default(), &short, 100).unwrap_err();
        assert!(e.to_string().contains("EXIF block at byte 100") && e.to_string().contains("700"), "{e}");
    }

    #[test]
    fn entries_pointing_at_one_large_value_cost_nothing_unless_they_may_name_persons() {
        // A hostile block: 60,000 maker-note entries all pointing at one 1 MiB value. Decoding
        // every value of the block (as reading all its fields did) allocates 60 GB and kills the
        // scan; the dates are looked up alone and the person tags walked by the TIFF reader.
        let n: u32 = 60_000;
        let value_at = 8 + 2 + 12 * n + 4;
        let mut block = b"II*\0\x08\0\0\0".to_vec();
        block.extend_from_slice(&u16::try_from(n).unwrap().to_le_bytes());
        for _ in 0..n {
            block.extend_from_slice(&0x927Cu16.to_le_bytes());
            block.extend_from_slice(&7u16.to_le_bytes());
            block.extend_from_slice(&(1u32 << 20).to_le_bytes());
            block.extend_from_slice(&value_at.to_le_bytes());
        }
        block.extend_from_slice(&0u32.to_le_bytes());
        block.resize(block.len() + (1 << 20), 0);
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &block, 0).unwrap();
        assert_eq!(meta, Metadata::default(), "nothing that names persons or dates");
    }

    #[test]
    fn xp_keywords_as_shorts_are_read_in_the_block_s_byte_order() {
        // SHORT units of a big-endian block: read as little-endian bytes they were garbage, and
        // the file showed nobody without an error.
        for big in [false, true] {
            let units: Vec<u8> =
                "People/Bob".encode_utf16().flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }).collect();
            let block = tiff_block(big, &[(TAG_XP_KEYWORDS, 3, (units.len() / 2) as u32, units)], &[]);
            let mut meta = Metadata::default();
            merge_lenient(&mut meta, &block, 0).unwrap();
            assert_eq!(meta.exif.xp_keywords.as_deref(), Some("People/Bob"), "big-endian: {big}");
            assert_eq!(crate::media::tiff::read(&block).unwrap().exif.xp_keywords.as_deref(), Some("People/Bob"));
        }
    }

    #[test]
    fn xp_keywords_of_a_type_that_holds_no_text_are_an_error() {
        // XPKeywords stored as LONG: they were dropped silently, so the file showed nobody.
        let block = tiff_block(false, &[(TAG_XP_KEYWORDS, 4, 2, vec![1, 0, 0, 0, 2, 0, 0, 0])], &[]);
        let e = merge_lenient(&mut Metadata::default(), &block, 9).unwrap_err();
        assert!(e.to_string().contains("XPKeywords"), "{e}");
    }

    #[test]
    fn repeated_xp_keywords_of_an_exif_block_are_read_once_and_within_a_budget() {
        // Thousands of XPKeywords entries with one value (each value distinct in the block only by
        // its place): read once, not decoded and joined thousands of times.
        let kw = utf16("People/Bob");
        let many: Vec<_> = (0..2000).map(|_| (TAG_XP_KEYWORDS, 1, kw.len() as u32, kw.clone())).collect();
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &tiff_block(false, &many, &[]), 0).unwrap();
        assert_eq!(meta.exif.xp_keywords.as_deref(), Some("People/Bob"));
        // Distinct values (entries pointing at one place with other lengths) past the budget: an
        // error naming the block.
        let counts: Vec<u32> = (0..16).map(|i| (1 << 20) - 2 * i).collect();
        let big = crate::media::tiff::tests::many_pointers_at_one_value(&counts);
        let e = merge_lenient(&mut Metadata::default(), &big, 7).unwrap_err();
        assert!(e.to_string().contains("EXIF block at byte 7") && e.to_string().contains("XPKeywords"), "{e}");
    }

    /// `block` with the value offset of its first little-endian entry whose tag and type are
    /// `entry` pointed far past the end.
    fn broken_value(mut block: Vec<u8>, entry: [u8; 4]) -> Vec<u8> {
        let at = block.windows(4).position(|w| w == entry).unwrap() + 8;
        block[at..at + 4].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
        block
    }

    #[test]
    fn damage_that_may_hide_persons_is_an_error_for_every_container() {
        let kw = utf16("People/Bob");
        let packet = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>a packet longer than four</x:xmpmeta>".to_vec();
        let dt = ascii("2024:03:01 10:22:33");
        let block = tiff_block(
            false,
            &[(TAG_XP_KEYWORDS, 1, kw.len() as u32, kw.clone())],
            &[(TAG_XMP, 7, packet.len() as u32, packet.clone()), (TAG_DATE_TIME_ORIGINAL, 2, dt.len() as u32, dt)],
        );
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &block, 0).unwrap();
        assert_eq!((meta.exif.xp_keywords.as_deref(), meta.xmp.len()), (Some("People/Bob"), 1));
        // A block that cannot be parsed at all, XPKeywords or tag 700 past the end, or the Exif
        // IFD cut off: errors (these were ignored).
        let mut cut_exif_ifd = block.clone();
        let exif_at = cut_exif_ifd.windows(4).position(|w| w == [0xBC, 0x02, 7, 0]).unwrap();
        cut_exif_ifd.truncate(exif_at + 4);
        for (what, bad) in [
            ("garbage", b"II*\0\xFF\xFF\xFF\x7F".to_vec()),
            ("XPKeywords", broken_value(block.clone(), [0x9E, 0x9C, 1, 0])),
            ("tag 700", broken_value(block.clone(), [0xBC, 0x02, 7, 0])),
            ("Exif IFD", cut_exif_ifd),
        ] {
            let mut meta = Metadata::default();
            let e = merge_lenient(&mut meta, &bad, 100).unwrap_err();
            assert!(e.to_string().contains("EXIF block at byte 100"), "{what}: {e}");
        }
        // A date value past the end loses only the date, and a maker note elsewhere nothing.
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &broken_value(block.clone(), [0x03, 0x90, 2, 0]), 0).unwrap();
        assert_eq!((meta.exif.xp_keywords.as_deref(), meta.xmp.len()), (Some("People/Bob"), 1));
        let mut note = tiff_block(false, &[(0x927C, 7, 1000, vec![1; 8]), (TAG_XP_KEYWORDS, 1, 22, kw)], &[]);
        note = broken_value(note, [0x7C, 0x92, 7, 0]);
        let mut meta = Metadata::default();
        merge_lenient(&mut meta, &note, 0).unwrap();
        assert_eq!(meta.exif.xp_keywords.as_deref(), Some("People/Bob"));
    }

    #[test]
    fn every_prefix_and_flip_is_safe() {
        for be in [false, true] {
            let block = sample_block(be);
            for n in 0..block.len() {
                let _ = fields_from_tiff_block(&block[..n]);
            }
            for i in 0..block.len() {
                let mut b = block.clone();
                b[i] ^= 0xFF;
                let _ = fields_from_tiff_block(&b);
            }
        }
    }
}
