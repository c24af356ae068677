//! End to end: `report summary` (issue 14, HTML layout): counts per status for the whole run,
//! per usage area over the files with persons on them, the files with nobody on them apart
//! (not under every usage), and a breakdown per top-level folder, in every format.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use consentry_synth::{self as synth, Embed, SynthFormat};
use serde_json::{json, Value};
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";

fn jpeg(persons: &[&str]) -> Vec<u8> {
    let items: String = persons.iter().map(|p| format!("<rdf:li>{p}</rdf:li>")).collect();
    let xmp = synth::xmp_packet(&format!(
        r#"<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description>"#
    ));
    synth::build(SynthFormat::Jpeg, &Embed { xmp: Some(xmp), ..Embed::default() })
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// An archive (`archive/`, register in `register/`: Anna Schmidt has a consent for print and
/// web, Ben Meyer none):
///
/// - `root.jpg` (Anna: green), directly in the root;
/// - `event-a/`: `anna.jpg` (green), `sub/ben.jpg` (red), `empty.jpg` (nobody: none);
/// - `event-b/`: `both.jpg` (yellow), `broken.jpg` (cut short: unreadable), `empty1.jpg` and
///   `empty2.jpg` (none).
fn archive() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("register")).unwrap();
    fs::write(d.join("register/persons.csv"), "id;name;aliases\np1;Anna Schmidt;\np2;Ben Meyer;\n").unwrap();
    fs::write(
        d.join("register/consents.csv"),
        "id;person;usage;granted;expires\n1;Anna Schmidt;print,web;2024-01-01;\n",
    )
    .unwrap();
    write(&d.join("archive/consentry.toml"), b"register = \"../register\"\n");
    let a = d.join("archive");
    let anna = jpeg(&["Anna Schmidt"]);
    write(&a.join("root.jpg"), &anna);
    write(&a.join("event-a/anna.jpg"), &anna);
    write(&a.join("event-a/sub/ben.jpg"), &jpeg(&["Ben Meyer"]));
    write(&a.join("event-a/empty.jpg"), &jpeg(&[]));
    write(&a.join("event-b/both.jpg"), &jpeg(&["Anna Schmidt", "Ben Meyer"]));
    let cut = anna.windows(4).position(|w| w == b"Anna").unwrap() + 4;
    write(&a.join("event-b/broken.jpg"), &anna[..cut]);
    write(&a.join("event-b/empty1.jpg"), &jpeg(&[]));
    write(&a.join("event-b/empty2.jpg"), &jpeg(&[]));
    tmp
}

fn summary(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["report", "summary"];
    all.extend(args);
    all.extend(["--as-of", AS_OF, "--no-state"]);
    support::consentry().args(all).current_dir(dir).env("XDG_CACHE_HOME", dir.join("cache")).output().unwrap()
}

/// (group, folder, key, files) of each row.
fn rows(out: &Output) -> Vec<(String, Option<String>, String, u64)> {
    jsonl(out)
        .iter()
        .map(|r| {
            let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["group", "folder", "key", "files"], "{r}");
            (
                r["group"].as_str().unwrap().to_string(),
                r["folder"].as_str().map(str::to_string),
                r["key"].as_str().unwrap().to_string(),
                r["files"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn count(rows: &[(String, Option<String>, String, u64)], group: &str, folder: Option<&str>, key: &str) -> u64 {
    let found: Vec<u64> =
        rows.iter().filter(|r| r.0 == group && r.1.as_deref() == folder && r.2 == key).map(|r| r.3).collect();
    assert!(found.len() <= 1, "{group} {folder:?} {key}: {found:?}");
    found.first().copied().unwrap_or(0)
}

#[test]
fn summary_counts_per_status_usage_and_top_level_folder_with_empty_photos_apart() {
    let tmp = archive();
    let root = tmp.path().join("archive");
    let out = summary(&root, &["--format", "jsonl"]);
    // 3: the run read an unreadable file.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let rows = rows(&out);
    // The whole run: every file once by status (as before).
    let statuses: Vec<(&str, u64)> = rows.iter().filter(|r| r.0 == "status").map(|r| (r.2.as_str(), r.3)).collect();
    assert_eq!(statuses, [("red", 1), ("yellow", 1), ("unreadable", 1), ("green", 2), ("exempt", 0), ("none", 3)]);
    assert!(rows.iter().filter(|r| r.0 == "status" || r.0 == "usage" || r.0 == "no-persons").all(|r| r.1.is_none()));
    // Usage: only the files with persons on them (Anna's two green files), the three empty
    // photos once, apart.
    assert_eq!(count(&rows, "usage", None, "web"), 2);
    assert_eq!(count(&rows, "usage", None, "print"), 2);
    assert_eq!(count(&rows, "usage", None, "advertising"), 0, "empty photos are not counted as advertising");
    assert_eq!(count(&rows, "no-persons", None, "every-usage"), 3);
    // Per top-level folder: its files per status (statuses no file has left out).
    let folders: Vec<(&str, &str, u64)> =
        rows.iter().filter(|r| r.0 == "folder").map(|r| (r.1.as_deref().unwrap(), r.2.as_str(), r.3)).collect();
    assert_eq!(
        folders,
        [
            (".", "green", 1),
            ("event-a", "red", 1),
            ("event-a", "green", 1),
            ("event-a", "none", 1),
            ("event-b", "yellow", 1),
            ("event-b", "unreadable", 1),
            ("event-b", "none", 2),
        ]
    );
    assert_eq!(folders.iter().map(|f| f.2).sum::<u64>(), 8, "every file in one folder");

    // JSON: the same rows, one array.
    let json: Value = serde_json::from_str(&stdout(&summary(&root, &["--format", "json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), rows.len());
    assert!(json
        .as_array()
        .unwrap()
        .contains(&json!({"group": "folder", "folder": "event-b", "key": "none", "files": 2})));
    assert!(json.as_array().unwrap().contains(&json!({"group": "status", "folder": null, "key": "green", "files": 2})));

    // CSV: English keys, a folder column.
    let csv = stdout(&summary(&root, &["--format", "csv"]));
    assert!(csv.starts_with("group,folder,key,files\n"), "{csv}");
    assert!(csv.contains("\nstatus,,red,1\n") && csv.contains("\nno-persons,,every-usage,3\n"), "{csv}");
    assert!(csv.contains("\nfolder,event-a,green,1\n"), "{csv}");

    // A table in German: the headers and statuses in the language.
    let table = stdout(&summary(&root, &["--format", "table", "--lang", "de"]));
    let header = table.lines().next().unwrap();
    assert!(header.contains("ORDNER") && header.contains("GRUPPE"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("Ordner") && l.contains("event-b") && l.contains("niemand")),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with("Status") && l.contains("grün")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("ohne Personen") && l.contains("jedes Einsatzgebiet")), "{table}");
    assert!(!table.contains("every-usage") && !table.contains("folder"), "{table}");
}

#[test]
fn a_file_in_no_archive_is_counted_under_its_directory() {
    let tmp = archive();
    let d = tmp.path();
    write(&d.join("loose/day one/a.jpg"), &jpeg(&["Anna Schmidt"]));
    write(&d.join("loose/b.jpg"), &jpeg(&[]));
    let out = summary(d, &["loose", "--register", "register", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = rows(&out);
    assert_eq!(count(&rows, "folder", Some("loose/day one"), "green"), 1, "{rows:?}");
    assert_eq!(count(&rows, "folder", Some("loose"), "none"), 1, "{rows:?}");
    assert_eq!(count(&rows, "no-persons", None, "every-usage"), 1);
    assert_eq!(count(&rows, "usage", None, "web"), 1);
}
