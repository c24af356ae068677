//! End-to-end tests of `person NAME` when the name matches nobody: close names from the register
//! and the files are suggested on stderr (German transliterations, case and accents folded), and
//! the exit status is 1; a name that matches still gets its report with exit 0.

use std::fs;
use std::path::Path;
use std::process::Output;

mod support;
use support::{run, stderr, stdout};

/// An archive with `photos/a.jpg` showing "Jürgen Müller" (in the register) and "Renée Groß"
/// (only depicted), `others/b.jpg` showing "Joerg Baer" (the register spells him "Jörg Bär"),
/// and a register consenting for Jürgen Müller and Jörg Bär. `person` runs on `photos`.
fn archive(d: &Path) {
    let xmp = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><I:PersonInImage><rdf:Bag><rdf:li>Jürgen Müller</rdf:li><rdf:li>Renée Groß</rdf:li></rdf:Bag></I:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#;
    fs::create_dir_all(d.join("photos")).unwrap();
    fs::write(d.join("photos/a.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    fs::write(d.join("photos/a.xmp"), xmp).unwrap();
    fs::create_dir_all(d.join("others")).unwrap();
    fs::write(d.join("others/b.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    fs::write(d.join("others/b.xmp"), xmp.replace("Jürgen Müller", "Joerg Baer")).unwrap();
    fs::write(d.join("register.csv"), "person,usage,granted\nJürgen Müller,web,2024-01-01\nJörg Bär,web,2024-01-01\n")
        .unwrap();
}

fn person(d: &Path, name: &str, format: &str) -> Output {
    run(&["person", name, "photos", "--register", "register.csv", "--as-of", "2024-06-01", "--format", format], d)
}

#[test]
fn a_transliterated_name_suggests_the_register_person_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    archive(tmp.path());
    for format in ["table", "jsonl", "csv"] {
        let out = person(tmp.path(), "Juergen Mueller", format);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{format}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains("\"Juergen Mueller\""), "{err}");
        assert!(err.contains("did you mean \"Jürgen Müller\""), "{err}");
    }
    // Case and accents fold too; a name only depicted in the files is suggested as well.
    let out = person(tmp.path(), "JUERGEN MUELLER", "table");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("\"Jürgen Müller\""), "{}", stderr(&out));
    // Too far apart letter by letter (4 edits in 10), the same once transliterated.
    let out = person(tmp.path(), "Joerg Baer", "table");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("\"Joerg Baer\" in the register or the files; did you mean \"Jörg Bär\"?\n"),
        "{}",
        stderr(&out)
    );
    let out = person(tmp.path(), "Renee Gross", "table");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("did you mean \"Renée Groß\""), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_name_close_to_nobody_says_so_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    archive(tmp.path());
    let out = person(tmp.path(), "Zoe Quast", "table");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("no person \"Zoe Quast\""), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn a_matching_name_still_reports_with_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    archive(tmp.path());
    for name in ["Jürgen Müller", "jürgen müller"] {
        let out = person(tmp.path(), name, "jsonl");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let rows = support::jsonl(&out);
        assert!(rows.iter().any(|r| r["kind"] == "consent"), "{rows:?}");
        let file = rows.iter().find(|r| r["kind"] == "file").expect("the photo");
        assert!(file["item"].as_str().unwrap().ends_with("a.jpg"), "{file}");
        assert!(!stderr(&out).contains("did you mean"));
    }
    // Only depicted, not in the register: the files showing them, exit 0.
    let out = person(tmp.path(), "Renée Groß", "jsonl");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(support::jsonl(&out).len(), 1);
}

#[test]
fn a_control_character_in_the_name_is_escaped_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    archive(tmp.path());
    let out = person(tmp.path(), "Juergen\u{1b}[31m Mueller", "table");
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains('\u{1b}'), "{:?}", stderr(&out));
}

#[test]
fn unknown_persons_suggests_by_transliteration_too() {
    let tmp = tempfile::tempdir().unwrap();
    archive(tmp.path());
    let out = run(
        &[
            "report",
            "unknown-persons",
            "others",
            "--register",
            "register.csv",
            "--as-of",
            "2024-06-01",
            "--format",
            "jsonl",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = support::jsonl(&out);
    let joerg = rows.iter().find(|r| r["name"] == "Joerg Baer").expect("Joerg Baer is unknown");
    assert_eq!(joerg["suggestions"], serde_json::json!(["Jörg Bär"]), "{rows:?}");
}
