//! End-to-end tests of `consentry scan`: the real binary on temporary archives.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn consentry(args: &[&str], dir: &Path) -> Output {
    support::consentry().args(args).current_dir(dir).output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn by_path<'a>(recs: &'a [Value], path: &str) -> &'a Value {
    recs.iter().find(|r| r["path"] == path).unwrap_or_else(|| panic!("no record for {path} in {recs:#?}"))
}

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

fn sidecar(body: &str) -> String {
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">{body}</rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

fn person_in_image(names: &[&str]) -> String {
    let items: String = names.iter().map(|n| format!("<rdf:li>{n}</rdf:li>")).collect();
    sidecar(&format!("<Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage>"))
}

/// The smallest JPEG container: start and end of image, no metadata.
const BARE_JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xD9];

/// A JPEG whose first APP1 segment holds `payload` after the XMP signature.
fn jpeg_with_app1_xmp(payload: &[u8]) -> Vec<u8> {
    let mut seg = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    seg.extend_from_slice(payload);
    let len = u16::try_from(seg.len() + 2).unwrap();
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
    j.extend_from_slice(&len.to_be_bytes());
    j.extend_from_slice(&seg);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

#[test]
fn bad_arguments_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in
        [&["scan", "--no-such-flag"][..], &["scan", "does-not-exist"], &["scan", "--threads", "0"], &["frobnicate"]]
    {
        let out = consentry(args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let out = consentry(&["scan", "does-not-exist"], tmp.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
}

#[test]
fn empty_archive_gives_empty_outputs_and_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("readme.txt"), "not media").unwrap();
    let out = consentry(&["scan", "--format", "json"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), Value::Array(vec![]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Scanned 0 media files") && stderr.contains("1 other files skipped"), "{stderr}");
    let out = consentry(&["scan", "--format", "csv", "--quiet"], tmp.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "path,kind,format,persons,unnamed_faces,sources,sidecars,taken,error\n"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn records_have_the_spec_fields_and_sidecars_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("a.jpg"), jpeg_with_app1_xmp(person_in_image(&["Anna Schmidt"]).as_bytes())).unwrap();
    fs::write(d.join("a.jpg.xmp"), person_in_image(&["Ben Meyer", "Anna Schmidt"])).unwrap();
    fs::write(d.join("a.xmp"), person_in_image(&["Carla Roth"])).unwrap();
    fs::write(d.join("orphan.xmp"), person_in_image(&["Nobody"])).unwrap();
    let out = consentry(&["scan", "."], d);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    let a = by_path(&recs, "./a.jpg");
    for field in ["path", "kind", "persons", "unnamed_faces", "sources", "taken", "error"] {
        assert!(a.get(field).is_some(), "missing field {field}");
    }
    assert_eq!(a["kind"], "image");
    assert_eq!(a["persons"], serde_json::json!(["Anna Schmidt", "Ben Meyer", "Carla Roth"]));
    assert_eq!(a["unnamed_faces"], 0);
    assert_eq!(
        a["sources"],
        serde_json::json!([
            "iptc-person-in-image",
            "sidecar:a.jpg.xmp:iptc-person-in-image",
            "sidecar:a.xmp:iptc-person-in-image"
        ])
    );
    assert_eq!(a["error"], Value::Null);
    let orphan = by_path(&recs, "./orphan.xmp");
    assert_eq!(orphan["kind"], "orphan-sidecar");
    assert_eq!(orphan["persons"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 orphan sidecars"));
}

#[test]
fn hostile_and_broken_files_are_one_error_record_each_and_the_scan_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("good.jpg"), BARE_JPEG).unwrap();
    fs::write(d.join("good.jpg.xmp"), person_in_image(&["Dora"])).unwrap();
    // A segment claiming more bytes than the file has.
    fs::write(d.join("truncated.jpg"), [0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00, b'E', b'x']).unwrap();
    // Billion laughs inside the embedded XMP.
    let bomb = format!(
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><rdf:RDF xmlns:rdf="{RDF}"><rdf:Description><x>&c;</x></rdf:Description></rdf:RDF>"#
    );
    fs::write(d.join("bomb.jpg"), jpeg_with_app1_xmp(bomb.as_bytes())).unwrap();
    // An external entity in a sidecar.
    fs::write(d.join("xxe.jpg"), BARE_JPEG).unwrap();
    fs::write(
        d.join("xxe.jpg.xmp"),
        format!(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><rdf:RDF xmlns:rdf="{RDF}">&e;</rdf:RDF>"#),
    )
    .unwrap();
    // Deeply nested XML.
    fs::write(
        d.join("deep.jpg"),
        jpeg_with_app1_xmp(format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)).as_bytes()),
    )
    .unwrap();
    // A sidecar larger than any real XMP packet (sparse, so cheap).
    fs::write(d.join("huge.jpg"), BARE_JPEG).unwrap();
    fs::File::create(d.join("huge.jpg.xmp")).unwrap().set_len(100 << 20).unwrap();
    // Extended XMP claiming a 100 MB packet.
    let mut ext = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
    ext.extend_from_slice(b"0123456789ABCDEF0123456789ABCDEF");
    ext.extend_from_slice(&(100u32 << 20).to_be_bytes());
    ext.extend_from_slice(&0u32.to_be_bytes());
    ext.extend_from_slice(b"<x/>");
    let mut claim = vec![0xFF, 0xD8, 0xFF, 0xE1];
    claim.extend_from_slice(&u16::try_from(ext.len() + 2).unwrap().to_be_bytes());
    claim.extend_from_slice(&ext);
    claim.extend_from_slice(&[0xFF, 0xD9]);
    fs::write(d.join("claim.jpg"), claim).unwrap();
    // Not an image at all, and an empty file.
    fs::write(d.join("text.jpg"), "<html>not an image</html>").unwrap();
    fs::write(d.join("empty.png"), b"").unwrap();

    let out = consentry(&["scan", "--format", "jsonl"], d);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out);
    let good = by_path(&recs, "./good.jpg");
    assert_eq!(good["persons"], serde_json::json!(["Dora"]));
    assert_eq!(good["error"], Value::Null);
    let expect = [
        ("./truncated.jpg", "truncated"),
        ("./bomb.jpg", "DTD"),
        ("./xxe.jpg", "DTD"),
        ("./deep.jpg", "nested deeper"),
        ("./huge.jpg", "limit"),
        ("./claim.jpg", "limit"),
        ("./text.jpg", "not a recognised"),
        ("./empty.png", "empty file"),
    ];
    for (path, needle) in expect {
        let e = by_path(&recs, path)["error"].as_str().unwrap_or_else(|| panic!("{path} has no error")).to_string();
        assert!(e.contains(needle), "{path}: {e:?} should mention {needle:?}");
    }
    assert_eq!(recs.len(), 1 + expect.len());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("./truncated.jpg: ") && stderr.contains("8 unreadable"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn fifos_symlink_loops_and_non_utf8_names_are_reported_not_fatal() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(d.join("sub/ok.jpg"), BARE_JPEG).unwrap();
    std::os::unix::fs::symlink(d.join("sub"), d.join("sub/loop")).unwrap();
    let fifo = std::ffi::CString::new(d.join("pipe.jpg").as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let latin1 = d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.jpg"));
    fs::write(&latin1, BARE_JPEG).unwrap();

    let out = consentry(&["scan", "--format", "jsonl"], d);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out);
    assert_eq!(by_path(&recs, "./sub/ok.jpg")["error"], Value::Null);
    assert!(by_path(&recs, "./pipe.jpg")["error"].as_str().unwrap().contains("not a regular file"));
    assert!(by_path(&recs, "./caf\u{FFFD}.jpg")["error"].as_str().unwrap().contains("not valid UTF-8"));
    assert!(
        recs.iter().any(|r| r["path"] == "./sub/loop" && r["error"].as_str().unwrap().contains("loop")),
        "{recs:#?}"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_directories_are_error_records() {
    use std::os::unix::fs::PermissionsExt;
    // Root reads everything: as root (CI), run the scan as `nobody` so permissions apply.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root && Command::new("setpriv").arg("--version").output().is_err() {
        support::missing("setpriv (to scan as another user than root)");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("consentry-perm").tempdir_in(std::env::temp_dir()).unwrap();
    let d = tmp.path();
    fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(d.join("ok.jpg"), BARE_JPEG).unwrap();
    fs::write(d.join("secret.jpg"), BARE_JPEG).unwrap();
    fs::set_permissions(d.join("secret.jpg"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::create_dir(d.join("locked")).unwrap();
    fs::write(d.join("locked/inside.jpg"), BARE_JPEG).unwrap();
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    let bin = env!("CARGO_BIN_EXE_consentry");
    let mut cmd = if as_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.args(["scan", "--format", "jsonl"]).current_dir(d).output().unwrap();
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out);
    assert_eq!(by_path(&recs, "./ok.jpg")["error"], Value::Null);
    assert!(by_path(&recs, "./secret.jpg")["error"].as_str().unwrap().contains("permission denied"));
    let locked = by_path(&recs, "./locked");
    assert_eq!(locked["kind"], "unreadable");
    assert!(locked["error"].as_str().unwrap().contains("permission denied"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("./locked: permission denied"));
}

#[cfg(unix)]
#[test]
fn output_file_is_owner_only_and_formats_agree() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("x.jpg"), BARE_JPEG).unwrap();
    fs::write(d.join("x.xmp"), person_in_image(&["Emil", "Frieda, Anna"])).unwrap();
    let out = consentry(&["scan", "x.jpg", "-o", "report.csv", "--format", "csv"], d);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let mode = fs::metadata(d.join("report.csv")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let csv = fs::read_to_string(d.join("report.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let row = rdr.records().next().unwrap().unwrap();
    assert_eq!(&row[0], "x.jpg");
    assert_eq!(&row[3], "Emil|Frieda, Anna");
    assert_eq!(&row[6], "x.xmp");
    let json = consentry(&["scan", "x.jpg", "--format", "json"], d);
    let arr: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(arr[0]["persons"], serde_json::json!(["Emil", "Frieda, Anna"]));
    let table = consentry(&["scan", "x.jpg", "--format", "table"], d);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("PATH") && text.contains("Emil, Frieda, Anna"), "{text}");
}
