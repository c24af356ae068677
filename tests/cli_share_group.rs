//! `--share-group`: what `-o` writes is readable by the owner's group (files 0640, an HTML
//! report's folders 0750) instead of the owner only (0600, 0700, the default). End to end on a
//! copy of the fixture archive: an HTML report folder, every file and folder in it, and a
//! `-o` JSON file.

#![cfg(unix)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file and folder under `dir` (itself included) with its mode.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut out = vec![(".".to_string(), true, mode(dir))];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let is_dir = p.is_dir();
            out.push((p.strip_prefix(dir).unwrap().display().to_string(), is_dir, mode(&p)));
            if is_dir {
                stack.push(p);
            }
        }
    }
    out
}

fn html_report(archive: &Path, dir: &str, share: bool) -> Vec<(String, bool, u32)> {
    let mut args = vec!["report", "missing", ".", "--no-state", "--quiet", "--format", "html", "-o", dir];
    if share {
        args.push("--share-group");
    }
    let out = support::run(&args, archive);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let all = modes(&archive.join(dir));
    assert!(all.iter().any(|(p, _, _)| p == "index.html"), "{all:?}");
    assert!(all.iter().any(|(p, _, _)| p.starts_with("thumbs/")), "thumbnails too: {all:?}");
    all
}

#[test]
fn an_html_report_with_share_group_is_readable_by_the_group() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = support::copy_fixtures(tmp.path());
    for (path, is_dir, mode) in html_report(&archive, "shared-report", true) {
        assert_eq!(mode, if is_dir { 0o750 } else { 0o640 }, "{path}");
    }
    // Without it, the owner only.
    for (path, is_dir, mode) in html_report(&archive, "private-report", false) {
        assert_eq!(mode, if is_dir { 0o700 } else { 0o600 }, "{path}");
    }
    // A report written again without it over a shared one is the owner's only again.
    for (path, is_dir, mode) in html_report(&archive, "shared-report", false) {
        assert_eq!(mode, if is_dir { 0o700 } else { 0o600 }, "{path}");
    }
}

#[test]
fn an_output_file_with_share_group_is_0640() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = support::copy_fixtures(tmp.path());
    let run = |args: &[&str]| {
        let out = support::run(args, &archive);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", support::stderr(&out));
    };
    run(&[
        "report",
        "summary",
        ".",
        "--no-state",
        "--quiet",
        "--format",
        "json",
        "-o",
        "summary.json",
        "--share-group",
    ]);
    assert_eq!(mode(&archive.join("summary.json")), 0o640);
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(archive.join("summary.json")).unwrap()).unwrap();
    assert!(summary.as_array().is_some_and(|a| !a.is_empty()));
    run(&["scan", ".", "--no-state", "--quiet", "--format", "jsonl", "-o", "scan.jsonl", "--share-group"]);
    assert_eq!(mode(&archive.join("scan.jsonl")), 0o640);
    // Replaced without it: the owner's only again.
    run(&["report", "summary", ".", "--no-state", "--quiet", "--format", "json", "-o", "summary.json"]);
    assert_eq!(mode(&archive.join("summary.json")), 0o600);
}

#[test]
fn share_group_without_an_output_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = support::copy_fixtures(tmp.path());
    let out = support::run(&["report", "summary", ".", "--no-state", "--share-group"], &archive);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("--share-group is for what -o FILE"), "{}", support::stderr(&out));
    assert!(out.stdout.is_empty());
}
