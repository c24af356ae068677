//! End-to-end tests of fail-closed reading (issue 11, SPEC.md 4 and 8): a file that could not be
//! read completely is `unreadable` in every output and blocks every gate; whatever is named like
//! a sidecar of a media file belongs to it (a FIFO, a link to a device, a directory, another
//! case); consentry's own outputs are never media; command-line dates are strict.

#![cfg(unix)]

mod support;

use support::run;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

const AS_OF: &str = "2025-06-01";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(out: &Output) -> Vec<Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}

/// `args` with the register, the date and no state, in `dir`.
fn consentry(args: &[&str], dir: &Path) -> Output {
    let mut all = args.to_vec();
    all.extend(["--register", "../register.csv", "--as-of", AS_OF]);
    if args[0] != "apply" {
        all.push("--no-state");
    }
    run(&all, dir)
}

/// Records by path (without the leading `./`).
fn by_path(recs: Vec<Value>) -> BTreeMap<String, Value> {
    recs.into_iter().map(|r| (r["path"].as_str().unwrap().trim_start_matches("./").to_string(), r)).collect()
}

fn xmp(names: &[&str]) -> String {
    let items: String = names.iter().map(|n| format!("<rdf:li>{n}</rdf:li>")).collect();
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

/// A real 16x16 JPEG whose APP1 XMP names `names`.
fn jpeg(names: &[&str]) -> Vec<u8> {
    let mut pixels = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut pixels)
        .encode(&[128u8; 16 * 16 * 3], 16, 16, image::ExtendedColorType::Rgb8)
        .unwrap();
    let mut seg = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    seg.extend_from_slice(xmp(names).as_bytes());
    let len = u16::try_from(seg.len() + 2).unwrap();
    let mut j = pixels[..2].to_vec();
    j.extend_from_slice(&[0xFF, 0xE1]);
    j.extend_from_slice(&len.to_be_bytes());
    j.extend_from_slice(&seg);
    j.extend_from_slice(&pixels[2..]);
    j
}

/// `tmp/register.csv` (Anna Schmidt may be shown in print and on the web) and `tmp/archive`.
fn archive() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("register.csv"),
        "id,person,usage,granted,expires,document\nc1,Anna Schmidt,\"print,web\",2024-01-01,,\n",
    )
    .unwrap();
    let root = tmp.path().join("archive");
    fs::create_dir(&root).unwrap();
    (tmp, root)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A file whose sidecar cannot be parsed shows Anna, who consented: before, it was `green` with
/// every usage of her consent in scan output; it is `unreadable`, cleared for nothing, in every
/// output and report.
#[test]
fn a_file_with_a_read_error_is_unreadable_in_every_output() {
    let (_tmp, root) = archive();
    fs::write(root.join("good.jpg"), jpeg(&["Anna Schmidt"])).unwrap();
    fs::write(root.join("broken.jpg"), jpeg(&["Anna Schmidt"])).unwrap();
    fs::write(root.join("broken.jpg.xmp"), "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF").unwrap();
    mkfifo(&root.join("pipe.jpg")); // a path the walk cannot read

    let out = consentry(&["scan", "--format", "jsonl"], &root);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = by_path(jsonl(&out));
    assert_eq!(
        (recs["good.jpg"]["status"].clone(), recs["good.jpg"]["usage"].clone()),
        (json!("green"), json!(["print", "web"]))
    );
    let broken = &recs["broken.jpg"];
    assert_eq!(broken["status"], "unreadable", "{broken}");
    assert_eq!(broken["usage"], json!([]));
    assert_eq!(broken["consents"], json!([]));
    assert_eq!(broken["valid_until"], Value::Null);
    assert_eq!(broken["persons"], json!(["Anna Schmidt"]), "the persons read stay");
    assert!(broken["error"].as_str().unwrap().contains("broken.jpg.xmp"), "{broken}");
    assert_eq!(
        (recs["pipe.jpg"]["status"].clone(), recs["pipe.jpg"]["usage"].clone()),
        (json!("unreadable"), json!([]))
    );
    let err = stderr(&out);
    assert!(err.contains("2 unreadable") && err.contains("Status: 0 red, 0 yellow, 2 unreadable, 1 green"), "{err}");

    let csv = stdout(&consentry(&["scan", "--format", "csv", "--quiet"], &root));
    let broken_row = csv.lines().find(|l| l.starts_with("./broken.jpg,")).unwrap();
    assert!(broken_row.ends_with(",unreadable,,,,,"), "{broken_row}");
    let table = stdout(&consentry(&["scan", "--format", "table", "--quiet"], &root));
    assert!(table.lines().any(|l| l.starts_with("./broken.jpg") && l.contains("UNREADABLE")), "{table}");

    let check = consentry(&["check", "--for", "print", "--format", "jsonl"], &root);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let blocking = by_path(jsonl(&check));
    assert_eq!(blocking.keys().collect::<Vec<_>>(), ["broken.jpg", "pipe.jpg"]);
    assert_eq!(blocking["broken.jpg"]["status"], "unreadable");
    assert!(blocking["broken.jpg"]["reason"].as_str().unwrap().starts_with("unreadable: "));

    let report = |args: &[&str]| {
        let mut a = vec!["report"];
        a.extend(args);
        a.extend(["--format", "jsonl", "--quiet"]);
        jsonl(&consentry(&a, &root))
    };
    let summary: BTreeMap<String, Value> = report(&["summary"])
        .into_iter()
        .map(|r| (format!("{}:{}", r["group"].as_str().unwrap(), r["key"].as_str().unwrap()), r["files"].clone()))
        .collect();
    assert_eq!(summary["status:unreadable"], 2);
    assert_eq!(summary["status:green"], 1);
    assert_eq!(summary["status:none"], 0);
    assert_eq!(summary["usage:print"], 1);
    let missing = by_path(report(&["missing"]));
    assert_eq!(missing["broken.jpg"]["status"], "unreadable");
    assert!(missing.contains_key("pipe.jpg") && !missing.contains_key("good.jpg"));
    let unreleased = by_path(report(&["unreleased", "--for", "print"]));
    assert_eq!(unreleased.keys().collect::<Vec<_>>(), ["broken.jpg", "pipe.jpg"]);
    assert_eq!(unreleased["broken.jpg"]["lacking"], json!(["print"]));
    // Cleared: the good file only, never an unreadable one whose persons have consent.
    let cleared = by_path(report(&["cleared", "--for", "print"]));
    assert_eq!(cleared.keys().collect::<Vec<_>>(), ["good.jpg"]);
    // The consent clears one file, not the unreadable one.
    let consents = report(&["consents"]);
    assert_eq!(consents[0]["files"], 1, "{consents:?}");
    let expiring = report(&["expiring"]);
    assert!(expiring.is_empty(), "{expiring:?}");
    let person = jsonl(&consentry(&["person", "Anna Schmidt", "--format", "jsonl", "--quiet"], &root));
    let row = person.iter().find(|r| r["item"] == "./broken.jpg").unwrap();
    assert_eq!(row["status"], "unreadable");
    assert!(row["detail"].as_str().unwrap().starts_with("unreadable: "), "{row}");

    // The HTML report groups them with the files needing attention.
    let html = consentry(&["report", "missing", "--format", "html", "-o", "../html", "--quiet"], &root);
    assert_eq!(html.status.code(), Some(3), "{}", stderr(&html));
    let page = fs::read_to_string(root.join("../html/index.html")).unwrap();
    let group = page.find("<section class=\"group\" data-status=\"unreadable\">").expect("an unreadable group");
    assert!(page[group..].contains("./broken.jpg"), "broken.jpg in the unreadable group");
    assert!(page.contains("<input type=\"checkbox\" value=\"unreadable\" checked> unreadable (2)"));
}

/// A sidecar that is a FIFO, a link to /dev/zero or a directory made the media file green
/// (its error went to a separate record), and `apply` wrote green into it; a sidecar whose name
/// differs in case was an orphan. Now each belongs to its media file: unreadable and not written,
/// or for the sidecar in another case, yellow (it names someone without consent).
#[test]
fn sidecars_that_are_not_regular_files_or_differ_in_case_belong_to_their_media_file() {
    let (_tmp, root) = archive();
    for name in ["fifo.jpg", "zero.jpg", "dir.jpg", "IMG.JPG"] {
        fs::write(root.join(name), jpeg(&["Anna Schmidt"])).unwrap();
    }
    mkfifo(&root.join("fifo.jpg.xmp"));
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.jpg.xmp")).unwrap();
    fs::create_dir(root.join("dir.jpg.xmp")).unwrap();
    fs::write(root.join("IMG.jpg.xmp"), xmp(&["Ben Ohne"])).unwrap();

    for follow in [&[][..], &["--no-follow"]] {
        let mut args = vec!["scan", "--format", "jsonl"];
        args.extend(follow);
        let out = consentry(&args, &root);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let recs = by_path(jsonl(&out));
        assert_eq!(recs.keys().collect::<Vec<_>>(), ["IMG.JPG", "dir.jpg", "fifo.jpg", "zero.jpg"], "{follow:?}");
        for (name, what) in [("fifo.jpg", "FIFO"), ("zero.jpg", "device"), ("dir.jpg", "directory")] {
            let r = &recs[name];
            assert_eq!((r["status"].as_str(), r["usage"].clone()), (Some("unreadable"), json!([])), "{r}");
            let e = r["error"].as_str().unwrap();
            assert!(e.contains(&format!("sidecar {name}.xmp")) && e.contains(what), "{e}");
        }
        let img = &recs["IMG.JPG"];
        assert_eq!(img["status"], "yellow", "{img}");
        assert_eq!(img["persons"], json!(["Anna Schmidt", "Ben Ohne"]));
        assert_eq!(img["sidecars"], json!(["./IMG.jpg.xmp"]));
    }
    let csv = stdout(&consentry(&["scan", "--format", "csv", "--quiet"], &root));
    for name in ["fifo.jpg", "zero.jpg", "dir.jpg"] {
        let row = csv.lines().find(|l| l.starts_with(&format!("./{name},"))).unwrap();
        assert!(row.ends_with(",unreadable,,,,,"), "{row}");
    }

    let check = consentry(&["check", "--for", "print", "--format", "jsonl"], &root);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(jsonl(&check).len(), 4);

    let before: Vec<Vec<u8>> =
        ["fifo.jpg", "zero.jpg", "dir.jpg"].iter().map(|n| fs::read(root.join(n)).unwrap()).collect();
    let apply = consentry(&["apply", ".", "--format", "jsonl"], &root);
    assert_eq!(apply.status.code(), Some(3), "{}", stderr(&apply));
    let rows = by_path(jsonl(&apply));
    for (i, name) in ["fifo.jpg", "zero.jpg", "dir.jpg"].iter().enumerate() {
        assert_eq!(rows[*name]["action"], "failed", "{:?}", rows[*name]);
        assert_eq!(fs::read(root.join(name)).unwrap(), before[i], "{name} was written");
    }
    assert_eq!(rows["IMG.JPG"]["action"], "written");
    assert!(!root.join("fifo.jpg.xmp").is_file() && root.join("dir.jpg.xmp").is_dir());
}

/// Two-digit years were read as the year 24 on the command line; they are refused, naming the
/// accepted forms.
#[test]
fn command_line_dates_are_strict() {
    let (tmp, root) = archive();
    for date in ["1.3.24", "24-3-1"] {
        let out = run(&["scan", ".", "--register", "../register.csv", "--as-of", date, "--no-state"], &root);
        assert_eq!(out.status.code(), Some(2), "{date}: {}", stderr(&out));
        assert!(stderr(&out).contains("YYYY-MM-DD or DD.MM.YYYY"), "{}", stderr(&out));
        let add = run(
            &["consent", "add", "--register", "register.csv", "--person", "Anna", "--usage", "web", "--granted", date],
            tmp.path(),
        );
        assert_eq!(add.status.code(), Some(2), "{date}: {}", stderr(&add));
        assert!(stderr(&add).contains("YYYY-MM-DD or DD.MM.YYYY"), "{}", stderr(&add));
    }
    let ok = run(&["scan", ".", "--register", "../register.csv", "--as-of", "01.03.2024", "--no-state"], &root);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}

/// An HTML report written inside the archive was scanned on the next run as media files (its
/// thumbnails), and `apply` would have written consent fields into them.
#[test]
fn consentrys_own_outputs_are_never_media() {
    let (_tmp, root) = archive();
    fs::write(root.join("anna.jpg"), jpeg(&["Anna Schmidt"])).unwrap();
    fs::write(root.join("ben.jpg"), jpeg(&["Ben Ohne"])).unwrap();
    let out = consentry(&["report", "missing", "--format", "html", "-o", "report"], &root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let thumbs: Vec<_> = fs::read_dir(root.join("report/thumbs")).unwrap().collect();
    assert!(!thumbs.is_empty(), "the report has thumbnails");
    // What a killed `-o` run or `apply` may leave behind.
    fs::write(root.join(".consentry-Ab12cd.jpg"), jpeg(&[])).unwrap();
    fs::write(root.join(".consentry-apply-1-0.jpg"), jpeg(&[])).unwrap();

    let scan = consentry(&["scan", "--format", "jsonl"], &root);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    assert_eq!(by_path(jsonl(&scan)).keys().collect::<Vec<_>>(), ["anna.jpg", "ben.jpg"]);
    let named = consentry(&["scan", "report", "--format", "jsonl"], &root);
    assert!(jsonl(&named).is_empty(), "{}", stdout(&named));

    let apply = consentry(&["apply", ".", "--dry-run", "--format", "jsonl"], &root);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert_eq!(by_path(jsonl(&apply)).keys().collect::<Vec<_>>(), ["anna.jpg", "ben.jpg"]);
}

/// The state records the status `unreadable`: a green file whose sidecar becomes a FIFO
/// `became-unreadable` (before, the FIFO was a record of its own and the file stayed green),
/// and each run counts its unreadable files.
#[test]
fn the_state_records_files_that_became_unreadable() {
    let (tmp, root) = archive();
    fs::write(root.join("x.jpg"), jpeg(&["Anna Schmidt"])).unwrap();
    let state = tmp.path().join("state.sqlite");
    let state_arg = state.to_str().unwrap();
    let scan = |root: &Path| {
        let args = ["scan", "--register", "../register.csv", "--as-of", AS_OF, "--state", state_arg, "--quiet"];
        run(&args, root)
    };
    assert_eq!(scan(&root).status.code(), Some(0));
    mkfifo(&root.join("X.JPG.xmp"));
    assert_eq!(scan(&root).status.code(), Some(3));
    let out = run(&["report", "changes", "--state", state_arg, "--format", "jsonl", "--quiet"], &root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = jsonl(&out);
    let row = rows.iter().find(|r| r["change"] == "became-unreadable").unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!((row["old_status"].as_str(), row["new_status"].as_str()), (Some("green"), Some("unreadable")));
    assert!(row["detail"].as_str().unwrap().contains("sidecar X.JPG.xmp"), "{row}");
    let db = rusqlite::Connection::open(&state).unwrap();
    let counts: (i64, i64) = db
        .query_row("SELECT green, unreadable FROM runs ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(counts, (0, 1));
}
