//! End to end: `consentry report cleared --for USAGE` (issue 14, item 1) and `check`'s count
//! and `--show cleared`, on a copy of the fixture archive with one unreadable file added: the
//! cleared files are exactly those `scan` evaluates as cleared for every usage asked for, with
//! who is in them and until when; an unreadable file is never among them.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";
/// A green file of the fixtures: Anna Schmidt and Jonas Weber, cleared for print and web.
const KNOWN: &str = "./2023/summer-fest/IMG_1001.jpg";
/// A copy of [`KNOWN`] the tests add, cut off in the middle of the metadata naming Anna Schmidt:
/// unreadable, though what is read of it names persons who have consent.
const BROKEN: &str = "./2023/summer-fest/broken.jpg";

/// A private copy of the fixtures (its state folder and register in the temporary directory)
/// with [`BROKEN`] added.
struct Archive {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

fn archive() -> Archive {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, BROKEN);
    Archive { _tmp: tmp, root }
}

impl Archive {
    /// `args` on the archive on [`AS_OF`], without state.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--as-of", AS_OF, "--no-state"]);
        support::run(&all, &self.root)
    }

    fn path(&self) -> &Path {
        &self.root
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// What `report cleared --for usages` must list, computed from `scan`: each record whose status
/// needs no further consent (green, exempt, none: never unreadable, red or yellow) and whose
/// usage holds every usage asked for, as (path, status, persons, usage, valid_until).
fn expected(scan: &[Value], usages: &[&str]) -> Vec<Value> {
    scan.iter()
        .filter(|r| matches!(r["status"].as_str(), Some("green" | "exempt" | "none")))
        .filter(|r| {
            let usage = strings(&r["usage"]);
            usages.iter().all(|u| usage.iter().any(|have| have == u))
        })
        .map(|r| {
            serde_json::json!({
                "path": r["path"],
                "status": r["status"],
                "persons": r["persons"],
                "usage": r["usage"],
                "valid_until": r["valid_until"],
            })
        })
        .collect()
}

fn paths(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["path"].as_str().unwrap()).collect()
}

#[test]
fn cleared_is_what_scan_evaluates_as_cleared_for_every_usage_asked_for() {
    let a = archive();
    let scan = a.run(&["scan", "--format", "jsonl", "-q"]);
    let scan = jsonl(&scan);
    let broken = scan.iter().find(|r| r["path"] == BROKEN).expect("the truncated file is scanned");
    assert_eq!(broken["status"], "unreadable", "{broken}");
    let known = scan.iter().find(|r| r["path"] == KNOWN).unwrap();
    assert_eq!(known["status"], "green", "{known}");

    for usages in ["web", "print,web", "tv", "web,social", "press"] {
        let out = a.run(&["report", "cleared", "--for", usages, "--format", "jsonl", "-q"]);
        assert_eq!(out.status.code(), Some(3), "the unreadable file makes the run partial: {}", stderr(&out));
        let rows = jsonl(&out);
        let wanted: Vec<&str> = usages.split(',').collect();
        assert_eq!(rows, expected(&scan, &wanted), "--for {usages}");
        assert!(!paths(&rows).contains(&BROKEN), "an unreadable file is never cleared ({usages})");
        for r in &rows {
            assert!(matches!(r["status"].as_str(), Some("green" | "exempt" | "none")), "{r}");
        }
    }

    // Pinned by name: who is in the green file and until when, and that it is not cleared for tv.
    let web = jsonl(&a.run(&["report", "cleared", "--for", "web", "--format", "jsonl", "-q"]));
    let row = web.iter().find(|r| r["path"] == KNOWN).expect("IMG_1001.jpg is cleared for web");
    assert_eq!(strings(&row["persons"]), ["Anna Schmidt", "Jonas Weber"]);
    assert_eq!(strings(&row["usage"]), ["print", "web"]);
    assert_eq!(row["valid_until"], "2099-12-31");
    assert_eq!(row["status"], "green");
    // A yellow and a red file of the fixtures are not cleared.
    for blocked in ["./2023/summer-fest/IMG_1002.jpg", "./2023/summer-fest/IMG_1003.JPG"] {
        assert!(!paths(&web).contains(&blocked), "{blocked}");
    }
    let tv = jsonl(&a.run(&["report", "cleared", "--for", "tv", "--format", "jsonl", "-q"]));
    assert!(!paths(&tv).contains(&KNOWN));
    assert!(paths(&tv).contains(&"./video/interview.MOV"));
}

#[test]
fn cleared_needs_usages_and_resolves_them_as_check_does() {
    let a = archive();
    let out = a.run(&["report", "cleared", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`report cleared` needs --for USAGE"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // An unknown usage word is refused, as by `check`.
    let out = a.run(&["report", "cleared", "--for", "nosuchusage", "-q"]);
    let check = a.run(&["check", "--for", "nosuchusage", "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(check.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn cleared_renders_in_every_format() {
    let a = archive();
    let base = ["report", "cleared", "--for", "print,web", "-q", "--format"];
    let jsonl_rows = jsonl(&a.run(&[&base[..], &["jsonl"]].concat()));
    assert!(!jsonl_rows.is_empty());

    let json = a.run(&[&base[..], &["json"]].concat());
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.as_array().unwrap(), &jsonl_rows);

    let csv = stdout(&a.run(&[&base[..], &["csv"]].concat()));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("path,status,persons,usage,valid_until"));
    assert!(csv.contains(&format!("{KNOWN},green,Anna Schmidt|Jonas Weber,print|web,2099-12-31")), "{csv}");
    assert_eq!(lines.count(), jsonl_rows.len());

    let table = stdout(&a.run(&[&base[..], &["table"]].concat()));
    let header = table.lines().next().unwrap();
    for column in ["PATH", "STATUS", "PERSONS", "USAGE", "VALID UNTIL"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains(KNOWN) && table.contains("2099-12-31"), "{table}");
    assert!(!table.contains("broken.jpg"));

    let out = a.run(&["report", "cleared", "--for", "print,web", "--format", "html", "-o", "page"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let html = fs::read_to_string(a.path().join("page/index.html")).unwrap();
    assert!(html.contains("Files cleared for print, web"), "the title");
    assert!(html.contains("2023/summer-fest/IMG_1001.jpg"));
    assert!(html.contains("Anna Schmidt"));
    assert!(html.contains("2099-12-31"));
    assert!(!html.contains("broken.jpg"), "the unreadable file is not on the page");
    assert!(html.contains("<section class=\"group\" data-status=\"green\">"));
    assert!(!html.contains("data-status=\"unreadable\""));
}

#[test]
fn check_prints_how_many_files_are_cleared_and_lists_them_with_show_cleared() {
    let a = archive();
    let cleared = jsonl(&a.run(&["report", "cleared", "--for", "web", "--format", "jsonl", "-q"]));
    let check = a.run(&["check", "--for", "web", "--format", "jsonl"]);
    assert_eq!(check.status.code(), Some(1), "blocking files: {}", stderr(&check));
    let blocking = jsonl(&check);
    assert!(paths(&blocking).contains(&BROKEN));
    let line = format!("{} blocking, {} cleared.", blocking.len(), cleared.len());
    assert!(stderr(&check).contains(&line), "{line:?} in {}", stderr(&check));
    assert!(cleared.len() >= 5, "the fixtures have cleared files: {cleared:?}");

    let show = a.run(&["check", "--for", "web", "--show", "cleared", "--format", "jsonl"]);
    assert_eq!(show.status.code(), Some(1), "still the gate's answer: {}", stderr(&show));
    assert_eq!(jsonl(&show), cleared, "the same rows as `report cleared`");
    assert!(stderr(&show).contains(&line), "{}", stderr(&show));
    // Neither list holds a file of the other.
    for row in &blocking {
        assert!(!paths(&cleared).contains(&row["path"].as_str().unwrap()), "{row}");
    }

    // --quiet: no count, the rows alone.
    let quiet = a.run(&["check", "--for", "web", "--show", "cleared", "--format", "jsonl", "-q"]);
    assert!(!stderr(&quiet).contains("cleared."), "{}", stderr(&quiet));
    assert_eq!(jsonl(&quiet), cleared);

    // Cleared for all: exit 0, and the count says every file.
    let out = a.run(&["check", "--for", "web", "--show", "cleared", "--format", "jsonl", KNOWN]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(paths(&jsonl(&out)), [KNOWN]);
    assert!(stderr(&out).contains("0 blocking, 1 cleared."), "{}", stderr(&out));
}
