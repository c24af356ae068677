//! End to end: a run compares the archive with its state one directory at a time (issue 15,
//! item 3: a run's memory does not grow with the archive). What that must not change: a deleted
//! folder's files (and its subfolders') are removed, a file moved to another folder is moved, a
//! folder the walk comes back to (files named on the command line) loses none of its files, a
//! shard's run removes only that shard's files, and the state keeps only what is there.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::stderr;

const AS_OF: &str = "2026-11-22";

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut c = support::consentry();
    for var in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"] {
        c.env_remove(var);
    }
    c.env_remove("CONSENTRY_SHARDS").env_remove("CONSENTRY_REGISTER").env("XDG_CACHE_HOME", dir.join("cache"));
    c.args(args).current_dir(dir).output().unwrap()
}

/// A copy of the fixture archive (`archive/`, marked, with its register), old enough that the
/// state trusts its stamps.
fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&support::repo().join("fixtures/archive"), &tmp.path().join("archive"));
    support::copy_dir(&support::repo().join("fixtures/register"), &tmp.path().join("register"));
    settle();
    tmp
}

/// Files changed within two seconds before a run are read again by the next one.
fn settle() {
    std::thread::sleep(Duration::from_millis(2100));
}

/// `scan` with `paths` (in `dir`) and `extra`; (files, read, new, moved, removed) of its state
/// line.
fn scan(dir: &Path, paths: &[&str], extra: &[&str]) -> (u64, u64, u64, u64, u64) {
    let mut args = vec!["scan"];
    args.extend(paths);
    args.extend(["--register", "register", "--as-of", AS_OF, "--format", "jsonl"]);
    args.extend(extra);
    let out = run(dir, &args);
    assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err.lines().find(|l| l.starts_with("State ")).unwrap_or_else(|| panic!("no state line: {err}"));
    let number = |word: &str| -> u64 {
        let before = line.split(&format!(" {word}")).next().unwrap();
        before.rsplit([' ', ',', ';', ':']).next().unwrap().parse().unwrap_or_else(|_| panic!("{word} in {line}"))
    };
    (number("files"), number("read"), number("new"), number("moved"), number("removed"))
}

/// The changes of the last run (`report changes`), with `extra`.
fn changes(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["report", "changes", "archive", "--format", "jsonl"];
    args.extend(extra);
    let out = run(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn rows_of<'a>(rows: &'a [Value], change: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["change"] == change).collect()
}

fn path_of(row: &Value) -> &str {
    row["path"].as_str().unwrap_or_default()
}

/// The media files under `dir` (sidecars and other files left out), as paths relative to the
/// archive.
fn media_under(archive: &Path, dir: &str) -> Vec<String> {
    let mut out: Vec<String> = walk(&archive.join(dir))
        .into_iter()
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            !matches!(ext.as_str(), "xmp" | "txt" | "json" | "toml" | "")
        })
        .map(|p| p.strip_prefix(archive).unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The rows of the state's files whose directory contains `part`.
fn state_rows(state: &Path, part: &str) -> i64 {
    let db = rusqlite::Connection::open(state).unwrap();
    db.query_row("SELECT count(*) FROM files WHERE instr(CAST(dir AS TEXT), ?1) > 0", [part], |r| r.get(0)).unwrap()
}

#[test]
fn deleted_folders_and_files_moved_to_other_folders_are_found() {
    let tmp = fixture_copy();
    let d = tmp.path();
    let a = d.join("archive");
    let (files, ..) = scan(d, &["archive"], &[]);
    let raw = media_under(&a, "raw");
    let portraits = media_under(&a, "2024/portraits");
    assert!(raw.len() >= 5 && !portraits.is_empty(), "{raw:?} {portraits:?}");
    assert!(portraits.iter().any(|p| p.starts_with("2024/portraits/studio/")), "a subfolder too: {portraits:?}");

    // A folder deleted (with its sidecars), a folder and its subfolder deleted, one file moved
    // into another folder and one into a new folder.
    fs::remove_dir_all(a.join("raw")).unwrap();
    fs::remove_dir_all(a.join("2024/portraits")).unwrap();
    fs::rename(a.join("2023/summer-fest/IMG_1002.jpg"), a.join("video/IMG_1002.jpg")).unwrap();
    fs::create_dir(a.join("2025")).unwrap();
    fs::rename(a.join("2023/summer-fest/IMG_1004.jpg"), a.join("2025/IMG_1004.jpg")).unwrap();
    settle();

    let gone = (raw.len() + portraits.len()) as u64;
    let counts = scan(d, &["archive"], &[]);
    assert_eq!(counts, (files - gone, 2, 0, 2, gone), "(files, read, new, moved, removed)");
    let rows = changes(d, &[]);
    let mut removed: Vec<String> = rows_of(&rows, "removed")
        .iter()
        .map(|r| path_of(r).split("/archive/").nth(1).unwrap_or_default().to_string())
        .collect();
    removed.sort();
    let mut expected = [raw, portraits].concat();
    expected.sort();
    assert_eq!(removed, expected, "{rows:#?}");
    let moved = rows_of(&rows, "moved");
    assert_eq!(moved.len(), 2, "{rows:#?}");
    for (to, from) in [
        ("video/IMG_1002.jpg", "2023/summer-fest/IMG_1002.jpg"),
        ("2025/IMG_1004.jpg", "2023/summer-fest/IMG_1004.jpg"),
    ] {
        let row = moved.iter().find(|r| path_of(r).ends_with(&format!("archive/{to}"))).expect(to);
        assert!(row["detail"].as_str().unwrap().ends_with(&format!("archive/{from}")), "{row:#?}");
    }
    assert!(rows_of(&rows, "new").is_empty(), "{rows:#?}");

    // The state keeps nothing of the deleted folders; the next run finds nothing more.
    let state = a.join(".consentry/state.sqlite");
    assert_eq!(state_rows(&state, "/archive/raw"), 0);
    assert_eq!(state_rows(&state, "/archive/2024/portraits"), 0);
    assert_eq!(state_rows(&state, "/archive/2025"), 1);
    assert_eq!(scan(d, &["archive"], &[]), (files - gone, 0, 0, 0, 0));
    assert!(changes(d, &[]).is_empty());
}

#[test]
fn a_folder_the_walk_comes_back_to_loses_none_of_its_files() {
    let tmp = fixture_copy();
    let d = tmp.path();
    let (files, ..) = scan(d, &["archive"], &[]);
    // Files named one by one, their folder left and entered again: none of them is removed,
    // nor any other file of the folder (only the named paths were scanned).
    let named = [
        "archive/2023/summer-fest/IMG_1001.jpg",
        "archive/video/clip.mp4",
        "archive/2023/summer-fest/IMG_1003.JPG",
        "archive/raw/2024-03-10/DSC_0001.NEF",
        "archive/2023/summer-fest/group.png",
    ];
    assert_eq!(scan(d, &named, &[]), (5, 0, 0, 0, 0));
    assert!(changes(d, &[]).is_empty());
    // One of them deleted in between: that one, and only that one, is removed.
    fs::remove_file(d.join("archive/2023/summer-fest/IMG_1003.JPG")).unwrap();
    let mut named: Vec<&str> = named.to_vec();
    named.retain(|p| !p.ends_with("IMG_1003.JPG"));
    named.push("archive/2023/summer-fest"); // the folder itself, after its files
    let (_, read, new, moved, removed) = scan(d, &named, &[]);
    assert_eq!((read, new, moved, removed), (0, 0, 0, 1));
    let rows = changes(d, &[]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(path_of(&rows[0]).ends_with("summer-fest/IMG_1003.JPG") && rows[0]["change"] == "removed");
    assert_eq!(scan(d, &["archive"], &[]), (files - 1, 0, 0, 0, 0));
}

#[test]
fn a_shard_removes_only_its_own_files_of_a_deleted_folder() {
    let tmp = fixture_copy();
    let d = tmp.path();
    let raw = media_under(&d.join("archive"), "raw");
    let mut held = Vec::new();
    for k in 0..2 {
        let shard = format!("{k}/2");
        let (files, ..) = scan(d, &["archive"], &["--shard", &shard]);
        held.push(files);
    }
    fs::remove_dir_all(d.join("archive/raw")).unwrap();
    settle();
    let mut all_removed = Vec::new();
    for (k, before) in held.into_iter().enumerate() {
        let shard = format!("{k}/2");
        let (files, read, new, moved, removed) = scan(d, &["archive"], &["--shard", &shard]);
        assert_eq!((read, new, moved), (0, 0, 0), "shard {shard}");
        assert_eq!(files + removed, before, "shard {shard}: its files before, less those removed");
        let rows = changes(d, &["--shard", &shard]);
        assert_eq!(rows.len() as u64, removed, "shard {shard}: {rows:#?}");
        for r in rows {
            assert_eq!(r["change"], "removed");
            all_removed.push(path_of(&r).split("/archive/").nth(1).unwrap_or_default().to_string());
        }
    }
    // Each removed file once, by its own shard.
    all_removed.sort();
    assert_eq!(all_removed, raw);
}
