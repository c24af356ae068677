//! End to end: `consentry explain FILE` (issue 14, item 4) on a temporary archive with a CSV
//! register: each file's decision person by person (which consent or exemption counts, why each
//! missing person is missing), agreeing with `scan`; in German with `--lang de` (words and
//! dd.mm.yyyy dates), English in JSON whatever the language; folders and files that are not
//! media refused with exit 2; an unreadable file cleared for nothing.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";

fn xmp(names: &[&str]) -> String {
    let items: String = names.iter().map(|n| format!("<rdf:li>{n}</rdf:li>")).collect();
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><I:PersonInImage><rdf:Bag>{items}</rdf:Bag></I:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

/// `tmp/archive` (its `consentry.toml` names `tmp/register`, a CSV register) with
/// `events/green.jpg` (Anna, consented; Holger, exempted), `events/yellow.jpg` (Anna; Ben,
/// whose consent expired; Carla, unknown), `events/scope.jpg` (Gina, whose consent covers only
/// `other/**`), `events/revoked.jpg` (Frieda, revoked), `events/broken.jpg` (Anna, its sidecar
/// cut off) and `notes.txt`.
fn archive() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (root, register) = (tmp.path().join("archive"), tmp.path().join("register"));
    fs::create_dir_all(root.join("events")).unwrap();
    fs::create_dir_all(&register).unwrap();
    fs::write(root.join("consentry.toml"), "register = \"../register\"\n").unwrap();
    fs::write(
        register.join("consents.csv"),
        "id;person;usage;granted;expires;document;scope;revoked\n\
         c1;Anna Schmidt;print,web;2024-01-01;2026-12-31;anna.pdf;*;\n\
         c2;Ben Meyer;web;2024-01-01;2025-01-01;ben.pdf;*;\n\
         c3;Gina Lang;print;2024-01-01;;gina.pdf;other/**;\n\
         c4;Frieda Wolf;print;2024-01-01;;frieda.pdf;*;2026-02-01\n",
    )
    .unwrap();
    fs::write(register.join("exemptions.csv"), "scope;person;reason;note\nevents/**;Holger Prominent;prominent;\n")
        .unwrap();
    let photo = |name: &str, sidecar: &str| {
        fs::write(root.join("events").join(format!("{name}.jpg")), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
        fs::write(root.join("events").join(format!("{name}.xmp")), sidecar).unwrap();
    };
    photo("green", &xmp(&["Anna Schmidt", "Holger Prominent"]));
    photo("yellow", &xmp(&["Anna Schmidt", "Ben Meyer", "Carla Unbekannt"]));
    photo("scope", &xmp(&["Gina Lang"]));
    photo("revoked", &xmp(&["Frieda Wolf"]));
    let full = xmp(&["Anna Schmidt"]);
    photo("broken", &full[..full.find("Anna").unwrap() + 4]);
    fs::write(root.join("notes.txt"), "not a photo").unwrap();
    (tmp, root)
}

fn explain(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["explain"];
    all.extend(args);
    all.extend(["--as-of", AS_OF]);
    support::run(&all, root)
}

/// (person, outcome, reason, consent) of each row of one file, in order.
fn accounts(rows: &[Value], file: &str) -> Vec<(Value, String, Value, Value)> {
    rows.iter()
        .filter(|r| r["path"] == file)
        .map(|r| {
            (r["person"].clone(), r["outcome"].as_str().unwrap().to_string(), r["reason"].clone(), r["consent"].clone())
        })
        .collect()
}

#[test]
fn each_person_is_explained_and_the_status_is_scans() {
    let (_tmp, root) = archive();
    let files = ["events/green.jpg", "events/yellow.jpg", "events/scope.jpg", "events/revoked.jpg"];
    let mut args = files.to_vec();
    args.extend(["--format", "jsonl"]);
    let out = explain(&root, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = jsonl(&out);

    let file_row = |f: &str| rows.iter().find(|r| r["path"] == f && r["outcome"] == "file").unwrap().clone();
    let green = file_row("events/green.jpg");
    assert_eq!(
        (&green["status"], &green["usage"], &green["valid_until"]),
        (&json!("green"), &json!(["print", "web"]), &json!("2026-12-31"))
    );
    assert_eq!(
        accounts(&rows, "events/green.jpg")[1..],
        [
            (json!("Holger Prominent"), "exempt".into(), json!("prominent"), Value::Null),
            (json!("Anna Schmidt"), "consent".into(), Value::Null, json!("c1")),
        ]
    );
    let exempt = rows.iter().find(|r| r["person"] == "Holger Prominent").unwrap();
    assert_eq!(exempt["scope"], "events/**");

    assert_eq!(file_row("events/yellow.jpg")["status"], "yellow");
    assert_eq!(file_row("events/yellow.jpg")["usage"], json!([]));
    assert_eq!(
        accounts(&rows, "events/yellow.jpg")[1..],
        [
            (json!("Anna Schmidt"), "consent".into(), Value::Null, json!("c1")),
            (json!("Ben Meyer"), "missing".into(), json!("expired"), json!("c2")),
            (json!("Carla Unbekannt"), "missing".into(), json!("unknown"), Value::Null),
        ]
    );
    let ben = rows.iter().find(|r| r["person"] == "Ben Meyer").unwrap();
    assert_eq!(ben["valid_until"], "2025-01-01", "the day it expired");
    assert_eq!(ben["detail"], "consent c2 expired on 2025-01-01");

    let gina = rows.iter().find(|r| r["person"] == "Gina Lang").unwrap();
    assert_eq!(
        (&gina["status"], &gina["reason"], &gina["consent"], &gina["scope"]),
        (&json!("red"), &json!("out-of-scope"), &json!("c3"), &json!("other/**"))
    );
    let frieda = rows.iter().find(|r| r["person"] == "Frieda Wolf").unwrap();
    assert_eq!(
        (&frieda["reason"], &frieda["consent"], &frieda["revoked"]),
        (&json!("revoked"), &json!("c4"), &json!("2026-02-01"))
    );

    // The status of every file is the one `scan` gives it.
    let scan = support::run(&["scan", "events", "--as-of", AS_OF, "--no-state", "--format", "jsonl"], &root);
    for rec in jsonl(&scan).iter().filter(|r| files.contains(&r["path"].as_str().unwrap())) {
        let path = rec["path"].as_str().unwrap();
        assert_eq!(file_row(path)["status"], rec["status"], "{path}");
        assert_eq!(file_row(path)["usage"], rec["usage"], "{path}");
    }
}

#[test]
fn an_unreadable_file_is_explained_as_cleared_for_nothing() {
    let (_tmp, root) = archive();
    for format in ["jsonl", "table"] {
        let out = explain(&root, &["events/broken.jpg", "--format", format]);
        assert_eq!(out.status.code(), Some(3), "{format}: {}", stderr(&out));
        if format == "jsonl" {
            let rows = jsonl(&out);
            assert!(rows.iter().all(|r| r["status"] == "unreadable"), "{rows:?}");
            assert_eq!(rows[0]["usage"], json!([]));
            assert_eq!(rows[0]["valid_until"], Value::Null);
            let detail = rows[0]["detail"].as_str().unwrap();
            assert!(detail.contains("broken.xmp") && detail.contains("nothing is cleared"), "{detail}");
        } else {
            let text = stdout(&out);
            assert!(text.contains("unreadable") && text.contains("nothing is cleared"), "{text}");
            assert!(!text.contains("green"), "{text}");
        }
    }
}

#[test]
fn in_german_the_table_has_german_words_and_dates_and_json_stays_english() {
    let (_tmp, root) = archive();
    let out = explain(&root, &["events/yellow.jpg", "--lang", "de", "--format", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for word in [
        "PFAD",
        "ERGEBNIS",
        "GRUND",
        "gelb",
        "abgelaufen",
        "unbekannt",
        "fehlt",
        "Einwilligung",
        "01.01.2025",
        "31.12.2026",
    ] {
        assert!(text.contains(word), "{word} missing in:\n{text}");
    }
    assert!(!text.contains("2025-01-01") && !text.contains(" yellow ") && !text.contains("expired"), "{text}");

    let english = explain(&root, &["events/yellow.jpg", "--lang", "en", "--format", "json"]);
    let german = explain(&root, &["events/yellow.jpg", "--lang", "de", "--format", "json"]);
    assert_eq!(german.status.code(), Some(0), "{}", stderr(&german));
    assert_eq!(stdout(&german), stdout(&english), "JSON is the same in every language");
    assert!(stdout(&german).contains("\"reason\": \"expired\"") || stdout(&german).contains("\"reason\":\"expired\""));
}

#[test]
fn a_folder_or_a_file_that_is_not_media_is_refused() {
    let (_tmp, root) = archive();
    let out = explain(&root, &["events"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("folder") && stderr(&out).contains("report missing"), "{}", stderr(&out));
    let out = explain(&root, &["--lang", "de", "events"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("events ist ein Ordner"), "{}", stderr(&out));
    let out = explain(&root, &["notes.txt", "events/green.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "nothing is written: {}", stdout(&out));
    assert!(stderr(&out).contains("not a media file: notes.txt"), "{}", stderr(&out));
    let out = explain(&root, &["events/missing.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    // explain keeps no state: it moves no baseline.
    assert!(!root.join(consentry::own::STATE_DIR).exists());
}

#[test]
fn the_help_of_scan_and_check_names_the_statuses_and_explain() {
    for command in ["scan", "check"] {
        let out = support::consentry().args([command, "--help"]).output().unwrap();
        let help = stdout(&out);
        assert!(help.contains("Statuses: unreadable, none, exempt, red, yellow, green"), "{command}: {help}");
        assert!(help.contains("consentry explain FILE"), "{command}: {help}");
    }
    let readme = fs::read_to_string(support::repo().join("README.md")).unwrap();
    for status in ["unreadable", "none", "exempt", "red", "yellow", "green"] {
        assert!(readme.contains(&format!("| `{status}` |")), "README: no row for {status}");
    }
    assert!(readme.contains("became-yellow"));
}

/// A media file named through a symbolic link is read (and shown) at its real path: it is
/// explained, not refused as "not a media file".
#[cfg(unix)]
#[test]
fn a_file_named_through_a_link_is_explained() {
    let (_tmp, root) = archive();
    std::os::unix::fs::symlink("green.jpg", root.join("events/link.jpg")).unwrap();
    let out = explain(&root, &["events/link.jpg", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = jsonl(&out);
    assert_eq!((&rows[0]["status"], &rows[0]["outcome"]), (&json!("green"), &json!("file")));
    assert!(rows[0]["path"].as_str().unwrap().ends_with("events/green.jpg"), "{rows:?}");
}

/// A file named through a link in a folder of no archive is judged by its real archive, as
/// `scan` judges it: `check` and `explain` agree with `scan` (before, they refused with "needs
/// a consent register", the link's folder having none).
#[cfg(unix)]
#[test]
fn a_link_from_outside_any_archive_is_judged_by_the_file_s_archive() {
    let (tmp, root) = archive();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(root.join("events/green.jpg"), outside.join("link.jpg")).unwrap();
    let scanned = support::run(&["scan", "link.jpg", "--no-state", "--format", "jsonl", "--as-of", AS_OF], &outside);
    assert_eq!(jsonl(&scanned)[0]["status"], json!("green"), "{}", stderr(&scanned));
    let out = explain(&outside, &["link.jpg", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(jsonl(&out)[0]["status"], json!("green"));
    let out = support::run(&["check", "--for", "web", "link.jpg", "--no-state", "--as-of", AS_OF], &outside);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
