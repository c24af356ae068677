//! Conformance with exiftool (SPEC 2.3: every person exiftool reads from a file is read). Each
//! test generates files in the unusual forms real archives hold (several packets and roots, NUL
//! padding, stale tails, `rdf:nodeID`, language alternatives, non-standard JPEG headers, XMP in a
//! QuickTime track or `udta/meta/xml `, in TIFF IFD1 and the Exif IFD, in a JPEG's EXIF block and Photoshop APP13, in
//! PNG chunks after IEND) and damaged files, runs exiftool on
//! each, and compares the persons it reads with those `consentry scan --format json` reports.
//! Damaged files must also carry an error naming a byte offset (they are unreadable), and keep
//! the persons read before the damage.
//!
//! exiftool is asked twice: `-j -struct` (structures as exiftool builds them) and `-a -j -G1:4`
//! (flattened, with duplicates: `-struct` keeps one value of a tag that several packets or roots
//! set). Its persons are the union of both.
//!
//! Skipped when exiftool is not installed, except under `CI=true`, where that fails. With
//! `CONSENTRY_WRITE_CORPUS=1` the generated files are also written to `fuzz/regressions/`.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::exiftool_available;

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const IPTC_EXT: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";

/// A packet with its wrapper: `<?xpacket?>`, `x:xmpmeta`, `rdf:RDF`, then `descriptions`.
fn packet_with(descriptions: &str) -> String {
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">{descriptions}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#
    )
}

/// A packet whose one description holds `body` (the Iptc4xmpExt prefix is declared).
fn packet(body: &str) -> String {
    packet_with(&format!(r#"<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT}">{body}</rdf:Description>"#))
}

/// A packet naming `name` in PersonInImage.
fn person(name: &str) -> String {
    packet(&format!(
        "<Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>{name}</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage>"
    ))
}

/// A packet naming a person in PersonInImageWDetails with this PersonName value.
fn details(person_name: &str) -> String {
    packet(&format!(
        r#"<Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:PersonName>{person_name}</Iptc4xmpExt:PersonName></rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails>"#
    ))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// --- JPEG ---

const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    cat(&[&[0xFF, marker], &((body.len() + 2) as u16).to_be_bytes(), body])
}

/// A real JPEG (encoded by the image crate) with `segments` inserted after SOI.
fn jpeg(segments: &[Vec<u8>]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([(x * 30) as u8, (y * 30) as u8, 90]));
    let mut encoded = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut encoded), image::ImageFormat::Jpeg)
        .unwrap();
    cat(&[&encoded[..2], &segments.concat(), &encoded[2..]])
}

fn jpeg_xmp(packet: &[u8]) -> Vec<u8> {
    jpeg(&[segment(0xE1, &cat(&[XMP_HEADER, packet]))])
}

// --- PNG ---

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    // CRCs are not checked by exiftool (when reading) nor by consentry.
    cat(&[&(data.len() as u32).to_be_bytes(), kind, data, &[0; 4]])
}

fn itxt(text: &str) -> Vec<u8> {
    chunk(b"iTXt", &cat(&[b"XML:com.adobe.xmp\0\0\0\0\0", text.as_bytes()]))
}

fn text_chunk(text: &str) -> Vec<u8> {
    chunk(b"tEXt", &cat(&[b"XML:com.adobe.xmp\0", text.as_bytes()]))
}

fn ztxt(text: &str) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(text.as_bytes()).unwrap();
    chunk(b"zTXt", &cat(&[b"XML:com.adobe.xmp\0\0", &z.finish().unwrap()]))
}

/// A PNG: signature, IHDR, `before` chunks, IDAT of `idat_len` bytes, IEND, then `after`.
fn png(before: &[Vec<u8>], idat_len: usize, after: &[Vec<u8>]) -> Vec<u8> {
    let ihdr = cat(&[&8u32.to_be_bytes(), &8u32.to_be_bytes(), &[8, 2, 0, 0, 0]]);
    cat(&[
        b"\x89PNG\r\n\x1a\n",
        &chunk(b"IHDR", &ihdr),
        &before.concat(),
        &chunk(b"IDAT", &vec![0x55; idat_len]),
        &chunk(b"IEND", &[]),
        &after.concat(),
    ])
}

// --- ISO base media ---

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    cat(&[&((body.len() + 8) as u32).to_be_bytes(), kind, body])
}

const XMP_UUID: [u8; 16] =
    [0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC];

fn uuid_xmp(packet: &str) -> Vec<u8> {
    bx(b"uuid", &cat(&[&XMP_UUID, packet.as_bytes()]))
}

fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
    bx(b"ftyp", &cat(&[brand, &[0, 0, 2, 0], brand]))
}

fn mvhd() -> Vec<u8> {
    let mut body = vec![0u8; 100];
    body[12..16].copy_from_slice(&600u32.to_be_bytes()); // time scale
    bx(b"mvhd", &body)
}

fn trak_with_xmp(packet: &str) -> Vec<u8> {
    bx(b"trak", &cat(&[&bx(b"tkhd", &[0; 84]), &bx(b"udta", &bx(b"XMP_", packet.as_bytes()))]))
}

// --- TIFF ---

/// A little-endian TIFF whose IFD0 holds the image size and whose IFD1 holds `packet` in tag 700.
fn tiff_ifd1(packet: &str) -> Vec<u8> {
    let entry = |tag: u16, typ: u16, count: u32, value: u32| {
        cat(&[&tag.to_le_bytes(), &typ.to_le_bytes(), &count.to_le_bytes(), &value.to_le_bytes()])
    };
    let ifd0_at = 8u32;
    let ifd1_at = ifd0_at + 2 + 2 * 12 + 4;
    let xmp_at = ifd1_at + 2 + 12 + 4;
    cat(&[
        b"II*\0",
        &ifd0_at.to_le_bytes(),
        &2u16.to_le_bytes(),
        &entry(256, 3, 1, 1),
        &entry(257, 3, 1, 1),
        &ifd1_at.to_le_bytes(),
        &1u16.to_le_bytes(),
        &entry(700, 7, packet.len() as u32, xmp_at),
        &0u32.to_le_bytes(),
        packet.as_bytes(),
    ])
}

/// A little-endian TIFF block whose IFD0 points to an Exif IFD holding `packet` in tag 700; with
/// `in_ifd0` the packet is in IFD0 instead.
fn tiff_block_with_xmp(packet: &str, in_ifd0: bool) -> Vec<u8> {
    let entry = |tag: u16, typ: u16, count: u32, value: u32| {
        cat(&[&tag.to_le_bytes(), &typ.to_le_bytes(), &count.to_le_bytes(), &value.to_le_bytes()])
    };
    let data_at = 8 + 2 + 12 + 4;
    if in_ifd0 {
        return cat(&[
            b"II*\0",
            &8u32.to_le_bytes(),
            &1u16.to_le_bytes(),
            &entry(700, 7, packet.len() as u32, data_at),
            &0u32.to_le_bytes(),
            packet.as_bytes(),
        ]);
    }
    let xmp_at = data_at + 2 + 12 + 4;
    cat(&[
        b"II*\0",
        &8u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &entry(34665, 4, 1, data_at),
        &0u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &entry(700, 7, packet.len() as u32, xmp_at),
        &0u32.to_le_bytes(),
        packet.as_bytes(),
    ])
}

/// A JPEG APP13 body: Photoshop resources holding `packet` as resource 0x0424 (XMP).
fn photoshop_xmp(packet: &str) -> Vec<u8> {
    let pad: &[u8] = if packet.len() % 2 == 1 { &[0] } else { &[] };
    cat(&[
        b"Photoshop 3.0\0",
        b"8BIM",
        &0x0424u16.to_be_bytes(),
        &[0, 0],
        &(packet.len() as u32).to_be_bytes(),
        packet.as_bytes(),
        pad,
    ])
}

// --- comparison ---

/// Person names in exiftool's JSON: PersonInImage, PersonName (every language) in structures,
/// and the flattened PersonInImageName.
fn exiftool_persons(v: &Value, key: &str, out: &mut BTreeSet<String>) {
    let local = key.rsplit(':').next().unwrap_or(key);
    let is_person = ["PersonInImage", "PersonName", "PersonInImageName"]
        .iter()
        .any(|k| local == *k || local.strip_prefix(k).is_some_and(|rest| rest.starts_with('-')));
    match v {
        Value::String(s) if is_person => {
            out.insert(s.trim().to_string());
        }
        Value::Array(items) => items.iter().for_each(|i| exiftool_persons(i, key, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| exiftool_persons(v, k, out)),
        _ => {}
    }
}

fn exiftool_read(path: &Path) -> BTreeSet<String> {
    let mut persons = BTreeSet::new();
    for args in [&["-j", "-struct", "-G1"][..], &["-a", "-j", "-G1:4"]] {
        let out = Command::new("exiftool").args(args).arg(path).output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("exiftool {args:?} {}: {e}: {}", path.display(), String::from_utf8_lossy(&out.stderr))
        });
        exiftool_persons(&json, "", &mut persons);
    }
    persons
}

/// consentry's records of the files in `dir`, by file name.
fn consentry_read(dir: &Path) -> Vec<(String, BTreeSet<String>, Option<String>)> {
    let out = support::consentry().args(["scan", "--quiet", "--format", "json"]).arg(dir).output().unwrap();
    let recs: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    recs.iter()
        .map(|r| {
            let name = Path::new(r["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            let persons = r["persons"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
            (name, persons, r["error"].as_str().map(str::to_string))
        })
        .collect()
}

/// Write `files` into a temporary archive (and with `CONSENTRY_WRITE_CORPUS=1` into the fuzz
/// corpus), then check each: consentry reads `want`, with an error exactly when the file is
/// `damaged`. Of a whole file exiftool reads the same persons; of a damaged one it reads no
/// more (it may give up on a damaged file altogether, where consentry keeps what came before
/// the damage: the file is unreadable either way).
fn check(files: &[(&str, Vec<u8>, &[&str], bool)]) {
    if !exiftool_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let corpus = std::env::var_os("CONSENTRY_WRITE_CORPUS")
        .map(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions"));
    for (name, bytes, _, damaged) in files {
        std::fs::write(tmp.path().join(name), bytes).unwrap();
        if let Some(corpus) = &corpus {
            let kind = if *damaged { "damaged" } else { "exiftool-form" };
            std::fs::write(corpus.join(format!("{kind}-{}.bin", name.replace('.', "-"))), bytes).unwrap();
        }
    }
    let records = consentry_read(tmp.path());
    for (name, _, want, damaged) in files {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        let by_exiftool = exiftool_read(&tmp.path().join(name));
        let (_, persons, error) = records.iter().find(|r| r.0 == *name).unwrap_or_else(|| panic!("{name}: no record"));
        assert_eq!(*persons, want, "{name}: consentry's persons ({error:?}); exiftool's: {by_exiftool:?}");
        if *damaged {
            assert!(by_exiftool.is_subset(&want), "{name}: exiftool reads {by_exiftool:?}, consentry {want:?}");
        } else {
            assert_eq!(by_exiftool, want, "{name}: exiftool's persons differ");
        }
        if *damaged {
            let e = error.as_deref().unwrap_or_else(|| panic!("{name}: damaged, but no error"));
            assert!(e.contains("at byte "), "{name}: the error names no byte offset: {e}");
        } else {
            assert_eq!(*error, None, "{name}");
        }
    }
}

#[test]
fn several_packets_and_roots_are_all_read() {
    let (a, b) = (person("Anna Alt"), person("Bruno Bauer"));
    let stale =
        "<rdf:li>Stale Tail</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>";
    // An x:xmpmeta root without a wrapper after a NUL byte.
    let bare_b = b.trim_start_matches(|c| c != '>').trim_start_matches('>');
    check(&[
        ("nul-second-root.jpg", jpeg_xmp(format!("{a}\0{bare_b}").as_bytes()), &["Anna Alt", "Bruno Bauer"], false),
        (
            "nul-padding-second-packet.jpg",
            jpeg_xmp(format!("{a}{}{b}", "\0".repeat(64)).as_bytes()),
            &["Anna Alt", "Bruno Bauer"],
            false,
        ),
        // A stale tail of array items is recovered from, as exiftool does (other elements there
        // are errors: see xmp's unit tests).
        ("stale-tail.jpg", jpeg_xmp(format!("{a}{stale}").as_bytes()), &["Anna Alt"], false),
        ("junk-then-root.jpg", jpeg_xmp(format!("{a}junk{b}").as_bytes()), &["Anna Alt", "Bruno Bauer"], false),
    ]);
}

#[test]
fn node_ids_and_language_alternatives() {
    let node_id = packet_with(&format!(
        r#"<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT}"><Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:nodeID="n1"/></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails></rdf:Description><rdf:Description rdf:nodeID="n1" xmlns:Iptc4xmpExt="{IPTC_EXT}"><Iptc4xmpExt:PersonName>Nora Node</Iptc4xmpExt:PersonName></rdf:Description>"#
    ));
    let two = details(
        r#"<rdf:Alt><rdf:li xml:lang="x-default">Lena Lang</rdf:li><rdf:li xml:lang="de">Lena Lange</rdf:li></rdf:Alt>"#,
    );
    let no_default = details(
        r#"<rdf:Alt><rdf:li xml:lang="en">Otto Other</rdf:li><rdf:li xml:lang="fr">Otto Autre</rdf:li></rdf:Alt>"#,
    );
    check(&[
        ("node-id.jpg", jpeg_xmp(node_id.as_bytes()), &["Nora Node"], false),
        ("lang-alt-two.jpg", jpeg_xmp(two.as_bytes()), &["Lena Lang", "Lena Lange"], false),
        ("lang-alt-no-default.jpg", jpeg_xmp(no_default.as_bytes()), &["Otto Autre", "Otto Other"], false),
    ]);
}

#[test]
fn xmp_where_exiftool_finds_it() {
    let p = |name: &str| person(name);
    let xmp0 = jpeg(&[segment(0xE1, &cat(&[b"XMP\0", p("Xaver Null").as_bytes()]))]);
    let no_nul = jpeg(&[segment(0xE1, &cat(&[&XMP_HEADER[..XMP_HEADER.len() - 1], p("Nina Ohne").as_bytes()]))]);
    let mov = cat(&[
        &ftyp(b"qt  "),
        &bx(b"moov", &cat(&[&mvhd(), &trak_with_xmp(&p("Tara Track"))])),
        &bx(b"mdat", &[0; 64]),
    ]);
    let hdlr = bx(b"hdlr", &[&[0; 8][..], b"mdta", &[0; 13]].concat());
    let xml = bx(b"xml ", &cat(&[&[0; 4], p("Uwe Meta").as_bytes()]));
    let udta_meta_xml = cat(&[
        &ftyp(b"isom"),
        &bx(b"moov", &cat(&[&mvhd(), &bx(b"udta", &bx(b"meta", &cat(&[&[0; 4], &hdlr, &xml])))])),
        &bx(b"mdat", &[0; 64]),
    ]);
    check(&[
        ("header-xmp0.jpg", xmp0, &["Xaver Null"], false),
        ("header-without-nul.jpg", no_nul, &["Nina Ohne"], false),
        ("trak-udta.mov", mov, &["Tara Track"], false),
        ("udta-meta-xml.mp4", udta_meta_xml, &["Uwe Meta"], false),
        ("ifd1.tif", tiff_ifd1(&p("Ida Eins")), &["Ida Eins"], false),
        ("exif-ifd.tif", tiff_block_with_xmp(&p("Eva Exif"), false), &["Eva Exif"], false),
        (
            "photoshop-app13.jpg",
            jpeg(&[segment(0xED, &photoshop_xmp(&p("Paul Photoshop")))]),
            &["Paul Photoshop"],
            false,
        ),
        (
            "exif-block.jpg",
            jpeg(&[segment(0xE1, &cat(&[b"Exif\0\0", &tiff_block_with_xmp(&p("Jens Exif"), true)]))]),
            &["Jens Exif"],
            false,
        ),
        ("itxt-after-iend.png", png(&[], 16, &[itxt(&p("Ines Itxt"))]), &["Ines Itxt"], false),
        ("text-after-iend.png", png(&[], 16, &[text_chunk(&p("Tom Text"))]), &["Tom Text"], false),
        ("ztxt-after-iend.png", png(&[], 16, &[ztxt(&p("Zoe Ztxt"))]), &["Zoe Ztxt"], false),
    ]);
}

#[test]
fn damaged_files_are_errors_that_keep_the_persons_before_the_damage() {
    let p = |name: &str| person(name);
    let cut = |mut f: Vec<u8>, n: usize| {
        f.truncate(f.len() - n);
        f
    };
    // moov after mdat, the file cut in mdat: moov is lost.
    let mp4 = cat(&[
        &ftyp(b"isom"),
        &uuid_xmp(&p("Mona Movie")),
        &bx(b"mdat", &[0; 4000]),
        &bx(b"moov", &cat(&[&mvhd(), &bx(b"udta", &bx(b"XMP_", p("Lost Later").as_bytes()))])),
    ]);
    let mp4_cut = cut(mp4, 3000);
    // A free box of size 0 ("to the end") before a second XMP box.
    let size0 =
        cat(&[&ftyp(b"isom"), &uuid_xmp(&p("Sara Size")), &[0, 0, 0, 0], b"free", &uuid_xmp(&p("Hidden Behind"))]);
    // A PNG cut inside IDAT, and one whose last chunk's length runs past the end.
    let png_cut = cut(png(&[itxt(&p("Paula Png"))], 4000, &[]), 2000);
    let mut past_end = png(&[itxt(&p("Pia Past"))], 16, &[]);
    let iend = past_end.len() - 12;
    past_end.splice(iend..iend, chunk(b"tEXt", b"Comment\0x")[..12].iter().copied().chain([0; 4]));
    past_end[iend..iend + 4].copy_from_slice(&0x00FF_0000u32.to_be_bytes());
    past_end.truncate(iend + 16);
    // A JPEG whose second XMP segment is cut.
    let jpeg_cut = {
        let f = jpeg(&[
            segment(0xE1, &cat(&[XMP_HEADER, p("Jana Jpeg").as_bytes()])),
            segment(0xE1, &cat(&[XMP_HEADER, p("Cut Off").as_bytes()])),
        ]);
        let second = 2 + 4 + XMP_HEADER.len() + p("Jana Jpeg").len();
        f[..second + 40].to_vec()
    };
    check(&[
        ("moov-lost.mp4", mp4_cut, &["Mona Movie"], true),
        ("size-zero-free.mp4", size0, &["Sara Size"], true),
        ("cut-in-idat.png", png_cut, &["Paula Png"], true),
        ("chunk-past-end.png", past_end, &["Pia Past"], true),
        ("cut-in-app1.jpg", jpeg_cut, &["Jana Jpeg"], true),
    ]);
}
