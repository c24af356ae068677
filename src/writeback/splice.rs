//! Replacing the XMP packet of JPEG, TIFF/DNG and PSD files without touching anything else.
//!
//! Adobe's XMP Toolkit, asked to update these formats, also reconciles the XMP into the legacy
//! IPTC and Photoshop blocks (it adds an IPTC block to a JPEG that had none, an IPTC digest to
//! TIFF and PSD files): a change to data that is not consentry's. These functions change the XMP
//! packet only, every other byte is copied:
//!
//! - JPEG: the standard XMP APP1 segment is replaced (or inserted after the leading APP0/APP1
//!   segments); Extended XMP segments are kept as they are (the main packet keeps its
//!   `xmpNote:HasExtendedXMP` GUID).
//! - TIFF, DNG, BigTIFF: a packet that fits the old one's bytes is written in place (padded to
//!   the same length); a larger one is appended and the XMP entry of IFD0 points to it; a file
//!   without XMP gets a copy of IFD0 with the XMP entry added, appended and linked from the
//!   header.
//! - PSD/PSB: the image resource 0x0424 is replaced (or added) and the resource section's
//!   length updated; the sections after it are copied.
//!
//! Each function reads the original and writes the complete new file to `out` (a fresh copy
//! beside the original, see `apply`).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use crate::media::tiff::Endian;

/// JPEG APP1 signature of the standard XMP packet.
const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// Largest XMP packet a standard APP1 segment holds.
pub const JPEG_MAX_PACKET: usize = 65535 - 2 - XMP_SIG.len();

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn read_at(f: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// The standard XMP packet of a JPEG file, if it has one.
pub fn jpeg_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    jpeg_layout(f)?
        .xmp
        .map(|(start, len)| read_at(f, start + 4 + XMP_SIG.len() as u64, len - 2 - XMP_SIG.len()))
        .transpose()
}

struct JpegLayout {
    /// (offset of the segment's marker, segment length field) of the standard XMP APP1.
    xmp: Option<(u64, usize)>,
    /// Where a new XMP segment goes: after SOI and the leading APP0/APP1 segments.
    insert_at: u64,
}

fn jpeg_layout(f: &File) -> io::Result<JpegLayout> {
    let soi = read_at(f, 0, 2)?;
    if soi != [0xFF, 0xD8] {
        return Err(bad("not a JPEG file"));
    }
    let (mut pos, mut xmp, mut insert_at, mut leading) = (2u64, None, 2u64, true);
    loop {
        let mut h = [0u8; 4];
        f.read_exact_at(&mut h, pos).map_err(|_| bad(format!("JPEG ends inside its headers at byte {pos}")))?;
        if h[0] != 0xFF {
            return Err(bad(format!("JPEG marker expected at byte {pos}")));
        }
        let marker = h[1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break; // start of scan / end of image: the headers are over
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            pos += 2;
            continue;
        }
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        if len < 2 {
            return Err(bad(format!("JPEG segment with length {len} at byte {pos}")));
        }
        if marker == 0xE1 && len >= 2 + XMP_SIG.len() && xmp.is_none() {
            let sig = read_at(f, pos + 4, XMP_SIG.len())?;
            if sig == XMP_SIG {
                xmp = Some((pos, len));
            }
        }
        if leading && (marker == 0xE0 || marker == 0xE1) {
            insert_at = pos + 2 + len as u64;
        } else {
            leading = false;
        }
        pos += 2 + len as u64;
    }
    Ok(JpegLayout { xmp, insert_at })
}

/// Copy `f` to `out` with its standard XMP packet replaced by `packet`.
pub fn jpeg_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    if packet.len() > JPEG_MAX_PACKET {
        return Err(bad(format!(
            "the XMP packet would be {} bytes, more than a JPEG segment holds ({JPEG_MAX_PACKET})",
            packet.len()
        )));
    }
    let layout = jpeg_layout(f)?;
    let (cut, resume) = match layout.xmp {
        Some((start, len)) => (start, start + 2 + len as u64),
        None => (layout.insert_at, layout.insert_at),
    };
    let len = (2 + XMP_SIG.len() + packet.len()) as u16;
    splice(f, cut, resume, &[&[0xFF, 0xE1], &len.to_be_bytes(), XMP_SIG, packet], out)
}

/// Copy `f` to `out` with its bytes `cut..resume` replaced by `parts`, one after the other.
fn splice(f: &File, cut: u64, resume: u64, parts: &[&[u8]], out: &mut File) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    copy_range(f, 0, cut, &mut w)?;
    for part in parts {
        w.write_all(part)?;
    }
    let end = f.metadata()?.len();
    copy_range(f, resume, end, &mut w)?;
    w.flush()
}

fn copy_range(f: &File, from: u64, to: u64, w: &mut impl Write) -> io::Result<()> {
    let mut r = f.try_clone()?;
    r.seek(SeekFrom::Start(from))?;
    let copied = io::copy(&mut r.take(to.saturating_sub(from)), w)?;
    if copied != to.saturating_sub(from) {
        return Err(bad("the file changed while it was copied"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TIFF

#[derive(Clone, Copy)]
struct Tiff {
    le: bool,
    big: bool,
    ifd0: u64,
}

impl Tiff {
    fn e(&self) -> Endian {
        Endian(self.le)
    }
    fn u16(&self, b: &[u8]) -> u16 {
        self.e().u16(b)
    }
    fn u32(&self, b: &[u8]) -> u32 {
        self.e().u32(b)
    }
    fn u64(&self, b: &[u8]) -> u64 {
        self.e().u64(b)
    }
    fn put16(&self, v: u16) -> [u8; 2] {
        self.e().put16(v)
    }
    fn put64(&self, v: u64) -> [u8; 8] {
        self.e().put64(v)
    }
    fn entry_len(&self) -> usize {
        if self.big {
            20
        } else {
            12
        }
    }
    fn count_len(&self) -> usize {
        if self.big {
            8
        } else {
            2
        }
    }
    /// Offset or count field width.
    fn word(&self) -> usize {
        if self.big {
            8
        } else {
            4
        }
    }
    fn word_at(&self, b: &[u8]) -> u64 {
        if self.big {
            self.u64(b)
        } else {
            self.u32(b) as u64
        }
    }
    fn put_word(&self, v: u64) -> Vec<u8> {
        if self.big {
            self.put64(v).to_vec()
        } else {
            self.e().put32(v as u32).to_vec()
        }
    }
}

const TAG_XMP: u16 = 700;

fn tiff_header(f: &File) -> io::Result<Tiff> {
    let h = read_at(f, 0, 16).or_else(|_| read_at(f, 0, 8))?;
    let le = match &h[..2] {
        b"II" => true,
        b"MM" => false,
        _ => return Err(bad("not a TIFF file")),
    };
    let mut t = Tiff { le, big: false, ifd0: 0 };
    match t.u16(&h[2..4]) {
        43 if h.len() >= 16 => {
            t.big = true;
            t.ifd0 = t.u64(&h[8..16]);
        }
        // 42 and the RAW variants that keep the TIFF layout (ORF 0x4F52, RW2 0x55).
        _ => t.ifd0 = t.u32(&h[4..8]) as u64,
    }
    Ok(t)
}

/// IFD0: its entry count, its raw entries, and the index and fields of the XMP entry.
struct Ifd0 {
    entries: Vec<u8>,
    next: u64,
    /// (index, type, count, value/offset) of the XMP entry.
    xmp: Option<(usize, u16, u64, u64)>,
}

fn read_ifd0(f: &File, t: &Tiff) -> io::Result<Ifd0> {
    let n_raw = read_at(f, t.ifd0, t.count_len())?;
    let n = if t.big { t.u64(&n_raw) } else { t.u16(&n_raw) as u64 };
    if n == 0 || n > 10_000 {
        return Err(bad(format!("TIFF IFD0 at byte {} has {n} entries", t.ifd0)));
    }
    let entries = read_at(f, t.ifd0 + t.count_len() as u64, n as usize * t.entry_len())?;
    let next_raw = read_at(f, t.ifd0 + t.count_len() as u64 + entries.len() as u64, t.word())?;
    let next = t.word_at(&next_raw);
    let mut xmp = None;
    for (i, e) in entries.chunks(t.entry_len()).enumerate() {
        if t.u16(&e[0..2]) == TAG_XMP {
            let typ = t.u16(&e[2..4]);
            let w = t.word();
            let count = t.word_at(&e[4..4 + w]);
            let value = t.word_at(&e[4 + w..4 + 2 * w]);
            xmp = Some((i, typ, count, value));
        }
    }
    Ok(Ifd0 { entries, next, xmp })
}

/// The XMP packet of a TIFF-structured file, if IFD0 has one.
pub fn tiff_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    let t = tiff_header(f)?;
    let ifd = read_ifd0(f, &t)?;
    let Some((_, _, count, offset)) = ifd.xmp else { return Ok(None) };
    if count as usize <= t.word() {
        return Err(bad("TIFF XMP entry too small to hold a packet"));
    }
    if count > 64 << 20 {
        return Err(bad(format!("TIFF XMP packet of {count} bytes")));
    }
    read_at(f, offset, count as usize).map(Some)
}

/// Change the copy `out` (a byte-identical copy of the TIFF file) so that its XMP is `packet`.
/// `fitted`: the same packet serialized to exactly the old packet's length, when that was
/// possible (then it is written in place).
pub fn tiff_write(out: &File, packet: &[u8], fitted: Option<&[u8]>) -> io::Result<()> {
    let t = tiff_header(out)?;
    let ifd = read_ifd0(out, &t)?;
    let end = out.metadata()?.len();
    // Appended data starts on a word boundary.
    let append_at = (end + 1) & !1;
    match ifd.xmp {
        Some((_, _, count, offset)) if fitted.is_some_and(|p| p.len() as u64 == count) => {
            out.write_all_at(fitted.expect("checked"), offset)?;
        }
        Some((i, typ, count, offset)) => {
            out.write_all_at(packet, append_at)?;
            // The old packet, no longer referenced, is blanked: a tool scanning the bytes for
            // XMP must not find a stale result.
            if count <= 64 << 20 && offset + count <= end {
                out.write_all_at(&vec![b' '; count as usize], offset)?;
            }
            // The entry keeps its type (BYTE or UNDEFINED); the new count and offset.
            let at = t.ifd0 + t.count_len() as u64 + (i * t.entry_len()) as u64;
            let mut e = Vec::new();
            e.extend(t.put16(TAG_XMP));
            e.extend(t.put16(typ));
            e.extend(t.put_word(packet.len() as u64));
            e.extend(t.put_word(append_at));
            out.write_all_at(&e, at)?;
        }
        None => {
            // A new IFD0: the old entries with the XMP entry in tag order, after the packet.
            out.write_all_at(packet, append_at)?;
            let ifd_at = (append_at + packet.len() as u64 + 1) & !1;
            let mut entries: Vec<Vec<u8>> = ifd.entries.chunks(t.entry_len()).map(<[u8]>::to_vec).collect();
            let mut e = Vec::new();
            e.extend(t.put16(TAG_XMP));
            e.extend(t.put16(7));
            e.extend(t.put_word(packet.len() as u64));
            e.extend(t.put_word(append_at));
            let pos = entries.iter().position(|x| t.u16(&x[0..2]) > TAG_XMP).unwrap_or(entries.len());
            entries.insert(pos, e);
            let mut block = Vec::new();
            if t.big {
                block.extend(t.put64(entries.len() as u64));
            } else {
                block.extend(t.put16(entries.len() as u16));
            }
            for x in &entries {
                block.extend(x);
            }
            block.extend(t.put_word(ifd.next));
            out.write_all_at(&block, ifd_at)?;
            let header_at = if t.big { 8 } else { 4 };
            out.write_all_at(&t.put_word(ifd_at), header_at)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PSD

const PSD_XMP_ID: u16 = 0x0424;

/// (start, length) of the image resources section's content, after its length field.
fn psd_resources(f: &File) -> io::Result<(u64, u64)> {
    let h = read_at(f, 0, 26)?;
    if &h[..4] != b"8BPS" {
        return Err(bad("not a PSD file"));
    }
    let cm_len = u32::from_be_bytes(read_at(f, 26, 4)?.try_into().expect("4")) as u64;
    let res_len_at = 26 + 4 + cm_len;
    let res_len = u32::from_be_bytes(read_at(f, res_len_at, 4)?.try_into().expect("4")) as u64;
    if res_len > 256 << 20 || res_len_at + 4 + res_len > f.metadata()?.len() {
        return Err(bad(format!("PSD image resources of {res_len} bytes at byte {res_len_at} do not fit the file")));
    }
    Ok((res_len_at + 4, res_len))
}

/// An image resource: id, name (Pascal string with its padding), data.
type Resource = (u16, Vec<u8>, Vec<u8>);

/// The image resources of a PSD resource section.
fn psd_parse(section: &[u8]) -> io::Result<Vec<Resource>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 12 <= section.len() {
        if &section[i..i + 4] != b"8BIM" {
            return Err(bad(format!("PSD image resource without signature at section byte {i}")));
        }
        let id = u16::from_be_bytes([section[i + 4], section[i + 5]]);
        let name_len = section[i + 6] as usize;
        let name_total = (1 + name_len + 1) & !1;
        let size_at = i + 6 + name_total;
        if size_at + 4 > section.len() {
            return Err(bad("PSD image resource cut short"));
        }
        let size = u32::from_be_bytes(section[size_at..size_at + 4].try_into().expect("4")) as usize;
        let data_at = size_at + 4;
        if data_at + size > section.len() {
            return Err(bad("PSD image resource longer than its section"));
        }
        out.push((id, section[i + 6..size_at].to_vec(), section[data_at..data_at + size].to_vec()));
        i = data_at + ((size + 1) & !1);
    }
    Ok(out)
}

/// The XMP packet of a PSD file, if it has one.
pub fn psd_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    let (start, len) = psd_resources(f)?;
    let section = read_at(f, start, len as usize)?;
    Ok(psd_parse(&section)?.into_iter().find(|r| r.0 == PSD_XMP_ID).map(|r| r.2))
}

/// Copy the PSD file `f` to `out` with its XMP resource replaced by (or extended with) `packet`.
pub fn psd_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    let (start, len) = psd_resources(f)?;
    let section = read_at(f, start, len as usize)?;
    let mut resources = psd_parse(&section)?;
    match resources.iter_mut().find(|r| r.0 == PSD_XMP_ID) {
        Some(r) => r.2 = packet.to_vec(),
        None => resources.push((PSD_XMP_ID, vec![0, 0], packet.to_vec())),
    }
    let mut new = Vec::with_capacity(section.len() + packet.len());
    for (id, name, data) in &resources {
        new.extend_from_slice(b"8BIM");
        new.extend(id.to_be_bytes());
        new.extend(name);
        new.extend((data.len() as u32).to_be_bytes());
        new.extend(data);
        if data.len() % 2 == 1 {
            new.push(0);
        }
    }
    splice(f, start - 4, start + len, &[&(new.len() as u32).to_be_bytes(), &new], out)
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
const PNG_XMP_KEY: &[u8] = b"XML:com.adobe.xmp\0";

/// A PNG chunk: offset, data length, type.
type Chunk = (u64, u32, [u8; 4]);

/// Every chunk, and the index of the first XMP iTXt chunk.
fn png_chunks(f: &File) -> io::Result<(Vec<Chunk>, Option<usize>)> {
    if read_at(f, 0, 8)? != PNG_SIG {
        return Err(bad("not a PNG file"));
    }
    let end = f.metadata()?.len();
    let (mut pos, mut chunks, mut xmp) = (8u64, Vec::new(), None);
    while pos + 12 <= end {
        let h = read_at(f, pos, 8)?;
        let len = u32::from_be_bytes(h[..4].try_into().expect("4"));
        let kind: [u8; 4] = h[4..8].try_into().expect("4");
        if pos + 12 + len as u64 > end {
            return Err(bad(format!("PNG chunk at byte {pos} runs past the end of the file")));
        }
        if xmp.is_none()
            && &kind == b"iTXt"
            && len as usize >= PNG_XMP_KEY.len()
            && read_at(f, pos + 8, PNG_XMP_KEY.len())? == PNG_XMP_KEY
        {
            xmp = Some(chunks.len());
        }
        chunks.push((pos, len, kind));
        pos += 12 + len as u64;
        if &kind == b"IEND" {
            break;
        }
    }
    Ok((chunks, xmp))
}

/// The XMP packet of a PNG file (its first `XML:com.adobe.xmp` iTXt chunk), if it has one.
pub fn png_packet(f: &File) -> io::Result<Option<Vec<u8>>> {
    let (chunks, xmp) = png_chunks(f)?;
    let Some(i) = xmp else { return Ok(None) };
    let (pos, len, _) = chunks[i];
    if len > 64 << 20 {
        return Err(bad("PNG XMP chunk larger than 64 MiB"));
    }
    let data = read_at(f, pos + 8, len as usize)?;
    // keyword\0, compression flag, method, language\0, translated keyword\0, text
    let rest = &data[PNG_XMP_KEY.len()..];
    let (compressed, rest) = match rest {
        [flag, _method, rest @ ..] => (*flag == 1, rest),
        _ => return Err(bad("PNG XMP chunk cut short")),
    };
    let skip_nul = |b: &[u8]| b.iter().position(|&c| c == 0).map(|p| p + 1);
    let lang = skip_nul(rest).ok_or_else(|| bad("PNG XMP chunk cut short"))?;
    let translated = skip_nul(&rest[lang..]).ok_or_else(|| bad("PNG XMP chunk cut short"))?;
    let text = &rest[lang + translated..];
    if !compressed {
        return Ok(Some(text.to_vec()));
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(text).take(64 << 20).read_to_end(&mut out)?;
    Ok(Some(out))
}

/// Copy the PNG file `f` to `out` with its first XMP chunk replaced by an uncompressed one
/// holding `packet` (or one inserted before the image data).
pub fn png_write(f: &File, packet: &[u8], out: &mut File) -> io::Result<()> {
    let (chunks, xmp) = png_chunks(f)?;
    let (cut, resume) = match xmp {
        Some(i) => (chunks[i].0, chunks[i].0 + 12 + chunks[i].1 as u64),
        None => {
            let at = chunks.iter().find(|c| &c.2 == b"IDAT" || &c.2 == b"IEND").map(|c| c.0);
            let at = at.ok_or_else(|| bad("PNG without image data"))?;
            (at, at)
        }
    };
    let mut data = Vec::with_capacity(PNG_XMP_KEY.len() + 4 + packet.len());
    data.extend_from_slice(PNG_XMP_KEY);
    data.extend_from_slice(&[0, 0, 0, 0]); // uncompressed, method 0, no language, no translation
    data.extend_from_slice(packet);
    let mut crc = flate2::Crc::new();
    crc.update(b"iTXt");
    crc.update(&data);
    let len = (data.len() as u32).to_be_bytes();
    splice(f, cut, resume, &[&len, b"iTXt", &data, &crc.sum().to_be_bytes()], out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use consentry_synth::{self as synth, Embed, SynthFormat};

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        let f = File::open(&p).unwrap();
        (dir, f)
    }

    fn written(write: impl FnOnce(&mut File)) -> Vec<u8> {
        let mut out = tempfile::tempfile().unwrap();
        write(&mut out);
        out.seek(SeekFrom::Start(0)).unwrap();
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    }

    fn packet(text: &str) -> Vec<u8> {
        synth::xmp_packet(&format!(
            r#"<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{text}</dc:title></rdf:Description>"#
        ))
        .into_bytes()
    }

    fn embed(format: SynthFormat, xmp: Option<String>) -> Embed {
        Embed {
            xmp,
            iptc_keywords: if format.supports_iptc() { vec!["kw".into()] } else { Vec::new() },
            date_time_original: format.supports_exif().then(|| "2024:03:01 10:00:00".into()),
            payload_bytes: 3000,
            ..Embed::default()
        }
    }

    /// JPEG segments before the scan, as (marker, bytes), and the scan data.
    fn jpeg_parts(b: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
        let (mut i, mut segs) = (2, Vec::new());
        loop {
            let m = b[i + 1];
            if m == 0xDA {
                return (segs, b[i..].to_vec());
            }
            let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
            segs.push((m, b[i..i + 2 + len].to_vec()));
            i += 2 + len;
        }
    }

    #[test]
    fn jpeg_packet_replaced_or_inserted_and_nothing_else_changes() {
        for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
            let original = synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, old.clone()));
            let (_d, f) = file_with(&original);
            assert_eq!(jpeg_packet(&f).unwrap().is_some(), old.is_some());
            let new = packet("new value");
            let out = written(|o| jpeg_write(&f, &new, o).unwrap());
            let (_d2, g) = file_with(&out);
            assert_eq!(jpeg_packet(&g).unwrap().unwrap(), new);
            let is_xmp = |s: &(u8, Vec<u8>)| s.0 == 0xE1 && s.1[4..].starts_with(XMP_SIG);
            let (a, scan_a) = jpeg_parts(&original);
            let (b, scan_b) = jpeg_parts(&out);
            assert_eq!(scan_a, scan_b, "image data");
            let others = |v: &[(u8, Vec<u8>)]| v.iter().filter(|s| !is_xmp(s)).cloned().collect::<Vec<_>>();
            assert_eq!(others(&a), others(&b), "every other segment, in order");
            // The packet sits after JFIF/Exif, before IPTC and the tables.
            let at = b.iter().position(is_xmp).unwrap();
            assert!(
                b[..at].iter().all(|s| s.0 == 0xE0 || s.0 == 0xE1),
                "{:?}",
                b.iter().map(|s| s.0).collect::<Vec<_>>()
            );
        }
        let (_d, f) = file_with(&synth::build(SynthFormat::Jpeg, &embed(SynthFormat::Jpeg, None)));
        let err = jpeg_write(&f, &vec![b' '; JPEG_MAX_PACKET + 1], &mut tempfile::tempfile().unwrap()).unwrap_err();
        assert!(err.to_string().contains("more than a JPEG segment holds"), "{err}");
    }

    #[test]
    fn tiff_in_place_appended_and_added() {
        for format in [SynthFormat::Tiff, SynthFormat::Dng, SynthFormat::Nef] {
            // In place: same length, the file keeps its size and only the packet bytes change.
            let old = packet("old");
            let original = synth::build(format, &embed(format, Some(String::from_utf8(old.clone()).unwrap())));
            let (_d, f) = file_with(&original);
            assert_eq!(tiff_packet(&f).unwrap().unwrap(), old);
            let mut fitted = packet("new");
            fitted.resize(old.len(), b' ');
            let copy = |bytes: &[u8]| {
                let mut out = tempfile::tempfile().unwrap();
                out.write_all(bytes).unwrap();
                out
            };
            let out = copy(&original);
            tiff_write(&out, &packet("unused"), Some(&fitted)).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), fitted);
            assert_eq!(out.metadata().unwrap().len(), original.len() as u64);

            // Appended: a longer packet; the original bytes stay except the XMP entry.
            let long = packet(&"x".repeat(5000));
            let out = copy(&original);
            tiff_write(&out, &long, None).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), long);
            let mut now = vec![0; original.len()];
            out.read_exact_at(&mut now, 0).unwrap();
            // Only the entry and the old packet (now blank) differ.
            let old_at = original.windows(old.len()).position(|w| w == old.as_slice()).unwrap();
            assert!(now[old_at..old_at + old.len()].iter().all(|&b| b == b' '));
            let differing = (0..original.len())
                .filter(|&i| !(old_at..old_at + old.len()).contains(&i) && original[i] != now[i])
                .count();
            assert!(differing <= 8, "{format:?}: {differing} bytes changed besides the entry");

            // Added: no XMP before; a new IFD0 with the entry; every old byte but the header's
            // IFD offset is kept.
            let bare = synth::build(format, &embed(format, None));
            let (_d3, g) = file_with(&bare);
            assert!(tiff_packet(&g).unwrap().is_none());
            let out = copy(&bare);
            tiff_write(&out, &long, None).unwrap();
            assert_eq!(tiff_packet(&out).unwrap().unwrap(), long);
            let mut now = vec![0; bare.len()];
            out.read_exact_at(&mut now, 0).unwrap();
            assert_eq!(&now[8..], &bare[8..]);
            // Still a TIFF our reader and the image crate read, with the same pixels.
            let mut all = Vec::new();
            (&out).seek(SeekFrom::Start(0)).unwrap();
            (&out).read_to_end(&mut all).unwrap();
            let rec = crate::scan::scan_bytes(&all, format.extension(), &crate::people::PeopleRoots::default());
            assert!(rec.errors.is_empty(), "{format:?}: {:?}", rec.errors);
            if format == SynthFormat::Tiff {
                let a = image::load_from_memory(&bare).unwrap();
                let b = image::load_from_memory(&all).unwrap();
                assert_eq!(a.as_bytes(), b.as_bytes());
            }
        }
    }

    #[test]
    fn psd_resource_replaced_or_added() {
        for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
            let original = synth::build(SynthFormat::Psd, &embed(SynthFormat::Psd, old.clone()));
            let (_d, f) = file_with(&original);
            assert_eq!(psd_packet(&f).unwrap().is_some(), old.is_some());
            let new = packet("new, odd length!");
            let out = written(|o| psd_write(&f, &new, o).unwrap());
            let (_d2, g) = file_with(&out);
            assert_eq!(psd_packet(&g).unwrap().unwrap(), new);
            // Other resources unchanged, image data after the section byte-identical.
            let (sa, la) = psd_resources(&f).unwrap();
            let (sb, lb) = psd_resources(&g).unwrap();
            let res = |b: &[u8], s: u64, l: u64| psd_parse(&b[s as usize..(s + l) as usize]).unwrap();
            let without = |v: Vec<Resource>| v.into_iter().filter(|r| r.0 != PSD_XMP_ID).collect::<Vec<_>>();
            assert_eq!(without(res(&original, sa, la)), without(res(&out, sb, lb)));
            assert_eq!(&original[(sa + la) as usize..], &out[(sb + lb) as usize..]);
            assert_eq!(&original[..sa as usize - 4], &out[..sb as usize - 4]);
        }
    }

    #[test]
    fn png_chunk_replaced_or_inserted() {
        for format in [SynthFormat::Png, SynthFormat::PngCompressedXmp] {
            for old in [Some(String::from_utf8(packet("old")).unwrap()), None] {
                let original = synth::build(format, &embed(format, old.clone()));
                let (_d, f) = file_with(&original);
                assert_eq!(png_packet(&f).unwrap().map(|p| String::from_utf8(p).unwrap()), old);
                let new = packet("neu – ü");
                let out = written(|o| png_write(&f, &new, o).unwrap());
                let (_d2, g) = file_with(&out);
                assert_eq!(png_packet(&g).unwrap().unwrap(), new);
                let (chunks, _) = png_chunks(&g).unwrap();
                let xmp_chunks = chunks.iter().filter(|c| &c.2 == b"iTXt").count();
                assert_eq!(xmp_chunks, 1, "one XMP chunk");
                let a = image::load_from_memory(&original).unwrap();
                let b = image::load_from_memory(&out).unwrap();
                assert_eq!(a.as_bytes(), b.as_bytes());
                // CRCs are right: the png crate checks them while decoding every chunk.
                let rec = crate::scan::scan_bytes(&out, "png", &crate::people::PeopleRoots::default());
                assert!(rec.errors.is_empty(), "{:?}", rec.errors);
            }
        }
    }

    #[test]
    fn damaged_containers_are_errors_not_panics() {
        for (format, write) in
            [(SynthFormat::Jpeg, 0), (SynthFormat::Tiff, 1), (SynthFormat::Psd, 2), (SynthFormat::Png, 3)]
        {
            let whole = synth::build(format, &embed(format, Some(String::from_utf8(packet("x")).unwrap())));
            for cut in [3, 11, 40, whole.len() / 3, whole.len() / 2] {
                let damaged = &whole[..cut.min(whole.len())];
                let (_d, f) = file_with(damaged);
                let mut out = tempfile::tempfile().unwrap();
                let _ = match write {
                    0 => jpeg_write(&f, b"p", &mut out),
                    // TIFF is patched in a writable copy.
                    1 => out.write_all(damaged).and_then(|()| tiff_write(&out, b"p", None)),
                    2 => psd_write(&f, b"p", &mut out),
                    _ => png_write(&f, b"p", &mut out),
                };
            }
        }
    }
}
