//! Review of issue 13: a TIFF whose IFD0 holds two XMP entries (tag 700). The scan read only the
//! first, so a person named only in the second was missed and the file was `green`; apply then
//! wrote `green` into the first packet, leaving the second. Fail closed: the scan reads both
//! packets, and apply refuses to rewrite one of several. And a tag-700 entry of type SHORT is
//! rewritten as BYTE with a byte count (its type was kept, so the entry claimed twice the bytes);
//! and a packet elsewhere (a PNG chunk after IEND, a second XMP box in an MP4 written through the
//! XMP Toolkit) keeps apply from writing too.
mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

const AS_OF: &str = "2025-06-01";

fn packet(name: &str) -> Vec<u8> {
    format!(
        concat!(
            r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">"#,
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="""#,
            r#" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage>"#,
            r#"<rdf:Bag><rdf:li>{}</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF>"#,
            r#"</x:xmpmeta><?xpacket end="w"?>"#
        ),
        name
    )
    .into_bytes()
}

/// A 2x2 grey little-endian TIFF whose IFD0 holds `xmp` entries (type, packet) after the image
/// tags, the packets after the pixels.
fn tiff(xmp: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let n = 4 + xmp.len();
    let pixels_at = 8 + 2 + n * 12 + 4;
    let entry = |tag: u16, typ: u16, count: usize, value: usize| {
        [&tag.to_le_bytes()[..], &typ.to_le_bytes(), &(count as u32).to_le_bytes(), &(value as u32).to_le_bytes()]
            .concat()
    };
    let mut f = b"II*\0".to_vec();
    f.extend(8u32.to_le_bytes());
    f.extend((n as u16).to_le_bytes());
    for (tag, value) in [(256, 2), (257, 2), (258, 8)] {
        f.extend(entry(tag, 3, 1, value));
    }
    f.extend(entry(273, 4, 1, pixels_at));
    let mut data_at = pixels_at + 4;
    for (typ, p) in xmp {
        let unit = if *typ == 3 { 2 } else { 1 };
        f.extend(entry(700, *typ, p.len() / unit, data_at));
        data_at += p.len().next_multiple_of(2);
    }
    f.extend(0u32.to_le_bytes());
    f.extend([0x80; 4]);
    for (_, p) in xmp {
        f.extend(p);
        if p.len() % 2 == 1 {
            f.push(0);
        }
    }
    f
}

/// An archive (with the fixture register beside it) holding only `bytes` as `photo.tif`.
fn archive(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("archive");
    fs::create_dir_all(&root).unwrap();
    fs::copy(support::repo().join("fixtures/archive/consentry.toml"), root.join("consentry.toml")).unwrap();
    support::copy_dir(&support::repo().join("fixtures/register"), &tmp.path().join("register"));
    fs::write(root.join("photo.tif"), bytes).unwrap();
    (tmp, root)
}

fn command(cmd: &str, tmp: &Path) -> (Vec<Value>, Output) {
    let (root, register) = (tmp.join("archive"), tmp.join("register"));
    let args =
        [cmd, root.to_str().unwrap(), "--register", register.to_str().unwrap(), "--as-of", AS_OF, "--format", "jsonl"];
    let out = support::run(&args, tmp);
    let rows = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (rows, out)
}

fn scan(tmp: &Path) -> Value {
    let (mut rows, out) = command("scan", tmp);
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    rows.remove(0)
}

#[test]
fn a_person_named_only_in_the_second_xmp_entry_is_found_and_apply_writes_nothing() {
    let bytes = tiff(&[(7, packet("Anna Schmidt")), (7, packet("Bernd Meier"))]);
    let (tmp, root) = archive(&bytes);
    let rec = scan(tmp.path());
    assert_eq!(rec["error"], Value::Null, "{rec}");
    assert_eq!(rec["persons"], serde_json::json!(["Anna Schmidt", "Bernd Meier"]), "{rec}");
    assert_ne!(rec["status"], "green", "a person without consent is named in the second packet: {rec}");

    let (rows, out) = command("apply", tmp.path());
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(rows[0]["action"], "written", "{}", rows[0]);
    assert!(rows[0]["detail"].as_str().unwrap().contains("second XMP entry"), "{}", rows[0]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 not written"), "{stderr}");
    assert_eq!(fs::read(root.join("photo.tif")).unwrap(), bytes, "apply changed the file");
}

#[test]
fn an_xmp_entry_of_type_short_is_written_as_bytes() {
    let mut p = packet("Anna Schmidt");
    if p.len() % 2 == 1 {
        p.push(b' ');
    }
    let bytes = tiff(&[(3, p)]);
    let (tmp, root) = archive(&bytes);
    assert_eq!(scan(tmp.path())["persons"], serde_json::json!(["Anna Schmidt"]));

    let (rows, out) = command("apply", tmp.path());
    assert_eq!(rows[0]["action"], "written", "{}", String::from_utf8_lossy(&out.stderr));
    let after = fs::read(root.join("photo.tif")).unwrap();
    // The XMP entry is the fifth of IFD0: type BYTE, and its count is the bytes its value holds
    // (with the SHORT type kept, the entry claimed twice as many, running past the end).
    let e = 8 + 2 + 4 * 12;
    assert_eq!(u16::from_le_bytes([after[e], after[e + 1]]), 700);
    let typ = u16::from_le_bytes([after[e + 2], after[e + 3]]);
    let count = u32::from_le_bytes(after[e + 4..e + 8].try_into().unwrap()) as usize;
    let value_at = u32::from_le_bytes(after[e + 8..e + 12].try_into().unwrap()) as usize;
    assert_eq!(typ, 1, "type BYTE");
    assert!(value_at + count <= after.len(), "the entry claims {count} bytes from {value_at} of {}", after.len());
    let value = &after[value_at..value_at + count];
    assert!(value.starts_with(b"<?xpacket begin") && value.ends_with(b"<?xpacket end=\"w\"?>"), "one whole packet");
    let rec = scan(tmp.path());
    assert_eq!((rec["error"].clone(), rec["status"].clone()), (Value::Null, "green".into()), "{rec}");
}

/// A PNG chunk of `kind` holding `data`, with its CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc.sum().to_be_bytes()].concat()
}

#[test]
fn a_packet_apply_does_not_rewrite_keeps_the_file_unwritten() {
    // The same failure in another place: a PNG's XMP chunk after IEND (exiftool and the scan read
    // it) beside the one apply rewrites. With two packets the scan recorded no packet hash, so
    // apply rewrote the first and left the second naming its person.
    let png = fs::read(support::repo().join("fixtures/archive/2023/summer-fest/group.png")).unwrap();
    let itxt = [&b"XML:com.adobe.xmp\0\0\0\0\0"[..], &packet("Bernd Meier")].concat();
    let bytes = [png.clone(), png_chunk(b"iTXt", &itxt)].concat();
    let (tmp, root) = archive(b"");
    fs::remove_file(root.join("photo.tif")).unwrap();
    fs::write(root.join("group.png"), &bytes).unwrap();
    let rec = scan(tmp.path());
    assert!(rec["persons"].as_array().unwrap().contains(&"Bernd Meier".into()), "{rec}");

    let (rows, out) = command("apply", tmp.path());
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(rows[0]["action"], "written", "{}", rows[0]);
    assert!(rows[0]["detail"].as_str().unwrap().contains("left beside it"), "{}", rows[0]);
    assert_eq!(fs::read(root.join("group.png")).unwrap(), bytes, "apply changed the file");
}

#[test]
fn a_video_with_two_xmp_packets_is_not_rewritten_by_the_toolkit() {
    // MP4 and MOV are written through the XMP Toolkit, which rewrites one packet: a second one
    // (here a top-level XMP `uuid` box appended to the file) kept naming its person beside
    // consentry's result. Found by the review of issue 13; the Toolkit path had no such check.
    const XMP_UUID: [u8; 16] =
        [0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC];
    let clip = fs::read(support::repo().join("fixtures/archive/video/clip.mp4")).unwrap();
    let p = packet("Bernd Meier");
    let uuid_box = [&((8 + 16 + p.len()) as u32).to_be_bytes()[..], b"uuid", &XMP_UUID, &p].concat();
    let bytes = [clip, uuid_box].concat();
    let (tmp, root) = archive(b"");
    fs::remove_file(root.join("photo.tif")).unwrap();
    fs::write(root.join("clip.mp4"), &bytes).unwrap();
    let rec = scan(tmp.path());
    assert_eq!(rec["error"], Value::Null, "{rec}");
    assert!(rec["persons"].as_array().unwrap().contains(&"Bernd Meier".into()), "{rec}");

    let (rows, out) = command("apply", tmp.path());
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(rows[0]["action"], "written", "{}", rows[0]);
    assert!(rows[0]["detail"].as_str().unwrap().contains("left beside it"), "{}", rows[0]);
    assert_eq!(fs::read(root.join("clip.mp4")).unwrap(), bytes, "apply changed the file");
}
