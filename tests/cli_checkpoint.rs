//! End-to-end tests of `report changes --checkpoint NAME [--exit-code]` (issue 14, item 2): a
//! change found by a daytime `check` still reaches the nightly report, the checkpoint moves only
//! once it reported, a quiet night prints nothing in a table, `--exit-code` says whether a change
//! needs attention, and a state of schema 2 migrates with its runs.

mod support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn run(args: &[&str], dir: &Path) -> Output {
    support::consentry().args(args).current_dir(dir).env("XDG_CACHE_HOME", dir.join("cache")).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the fixture archive and register (`archive/`, `register/`), old enough that the
/// state trusts its stamps (files changed within two seconds before a run are read again).
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&support::repo().join("fixtures/archive"), &dir.path().join("archive"));
    support::copy_dir(&support::repo().join("fixtures/register"), &dir.path().join("register"));
    std::thread::sleep(Duration::from_millis(2100));
    dir
}

/// The nightly `scan` of the archive on `date`.
fn scan(dir: &Path, date: &str) {
    let out = run(&["scan", "archive", "--register", "register", "--as-of", date, "--format", "jsonl"], dir);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
}

/// `report changes archive` with `extra`: its exit code and JSON Lines rows.
fn changes(dir: &Path, extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut args = vec!["report", "changes", "archive", "--format", "jsonl"];
    args.extend(extra);
    let out = run(&args, dir);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let rows = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code(), rows)
}

fn is_img_1001_yellow(r: &Value) -> bool {
    r["change"] == "became-yellow" && r["path"].as_str().is_some_and(|p| p.ends_with("summer-fest/IMG_1001.jpg"))
}

const NIGHTLY: [&str; 3] = ["--checkpoint", "nightly", "--exit-code"];

#[test]
fn a_daytime_check_does_not_swallow_the_nightly_alert() {
    let dir = fixture_copy();
    let d = dir.path();
    scan(d, "2026-11-22");
    // A new checkpoint reports every recorded run: here only the baseline, which has no changes.
    assert_eq!(changes(d, &NIGHTLY), (Some(0), vec![]));

    // During the day a `check` of one folder, on a day after Jonas Weber's consent ended
    // (2099-12-31), finds IMG_1001.jpg yellow; the nightly scan then finds nothing new.
    let check = run(
        &["check", "--for", "print", "archive/2023/summer-fest", "--register", "register", "--as-of", "2100-01-01"],
        d,
    );
    assert!(matches!(check.status.code(), Some(0 | 1)), "{}", stderr(&check));
    scan(d, "2100-01-01");
    // Without --checkpoint, today's behaviour: the last run only, which found files of other
    // folders red but not IMG_1001.jpg (the check had recorded it already).
    let (code, last) = changes(d, &[]);
    assert_eq!(code, Some(0));
    assert!(last.iter().any(|r| r["change"] == "became-red"), "{last:#?}");
    assert!(!last.iter().any(is_img_1001_yellow), "{last:#?}");
    assert_eq!(changes(d, &["--exit-code"]), (Some(1), last));

    // The nightly report still has it, and exits 1: a file turned yellow.
    let (code, rows) = changes(d, &NIGHTLY);
    assert_eq!(code, Some(1), "{rows:#?}");
    assert_eq!(rows.iter().filter(|r| is_img_1001_yellow(r)).count(), 1, "{rows:#?}");
    assert!(rows.iter().any(|r| r["change"] == "consent-expired"), "{rows:#?}");

    // The checkpoint moved: the next night is quiet, exit 0, and a table prints nothing at all.
    let quiet =
        run(&["report", "changes", "archive", "--format", "table", "--checkpoint", "nightly", "--exit-code"], d);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(quiet.stdout.is_empty(), "{}", String::from_utf8_lossy(&quiet.stdout));
    assert!(quiet.stderr.is_empty(), "{}", stderr(&quiet));
    // Other formats say on stderr which runs they covered.
    let line = run(&["report", "changes", "archive", "--format", "csv", "--checkpoint", "nightly"], d);
    assert_eq!(line.status.code(), Some(0), "{}", stderr(&line));
    assert!(stderr(&line).contains("no run since checkpoint \"nightly\" last reported"), "{}", stderr(&line));
    // Other formats print for an empty report what they print today.
    let json = |extra: &[&str]| {
        let mut args = vec!["report", "changes", "archive", "--format", "json"];
        args.extend(extra);
        let out = run(&args, d);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out.stdout
    };
    assert_eq!(json(&["--checkpoint", "nightly"]), json(&["--since", "2999-01-01"]));
    // Without --checkpoint an empty table keeps its header.
    let old = run(&["report", "changes", "archive", "--format", "table", "--since", "2999-01-01"], d);
    assert!(!old.stdout.is_empty());

    // Each checkpoint is its own: one never seen reports every recorded run, the yellow included.
    let (code, rows) = changes(d, &["--checkpoint", "morning"]);
    assert_eq!(code, Some(0), "no --exit-code: exit 0");
    assert_eq!(rows.iter().filter(|r| is_img_1001_yellow(r)).count(), 1, "{rows:#?}");
    assert_eq!(changes(d, &["--checkpoint", "morning"]), (Some(0), vec![]));

    // A night whose scan finds nothing new: a run past the checkpoint, no rows, exit 0.
    scan(d, "2100-01-01");
    let out = run(&["report", "changes", "archive", "--format", "csv", "--checkpoint", "nightly", "--exit-code"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "the header only");
    assert!(stderr(&out).contains("changes found by the 1 run(s) since checkpoint"), "{}", stderr(&out));
}

#[test]
fn the_checkpoint_does_not_move_when_the_report_is_not_written() {
    let dir = fixture_copy();
    let d = dir.path();
    scan(d, "2026-11-22");
    scan(d, "2100-01-01");
    // -o into a directory that does not exist: nothing written, exit 2, the checkpoint stays.
    let out = run(
        &["report", "changes", "archive", "--format", "csv", "-o", "missing/changes.csv", "--checkpoint", "nightly"],
        d,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A pipe whose reader is gone: exit 3, the checkpoint stays.
    let mut fds = [0; 2];
    // SAFETY: two valid descriptors are written into `fds`.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: `pipe` returned these descriptors, each owned once here.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let out = support::consentry()
        .args(["report", "changes", "archive", "--format", "jsonl", "--checkpoint", "nightly"])
        .current_dir(d)
        .env("XDG_CACHE_HOME", d.join("cache"))
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("checkpoint \"nightly\" not moved"), "{}", stderr(&out));
    let (code, rows) = changes(d, &NIGHTLY);
    assert_eq!(code, Some(1));
    assert!(rows.iter().any(is_img_1001_yellow), "{rows:#?}");
    // --checkpoint goes with `report changes` only, and not with --since.
    let out = run(&["report", "changes", "archive", "--checkpoint", "nightly", "--since", "2026-01-01"], d);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["report", "missing", "archive", "--register", "register", "--checkpoint", "nightly"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("for `report changes`"), "{}", stderr(&out));
}

/// A state of schema 2 (before checkpoints) keeps its runs and gains the checkpoints.
#[test]
fn a_schema_2_state_migrates_with_its_runs() {
    let dir = fixture_copy();
    let d = dir.path();
    scan(d, "2026-11-22");
    scan(d, "2100-01-01");
    let state = d.join("archive/.consentry/state.sqlite");
    rusqlite::Connection::open(&state)
        .unwrap()
        .execute_batch("DROP TABLE checkpoints; PRAGMA user_version = 2;")
        .unwrap();
    let (code, rows) = changes(d, &NIGHTLY);
    assert_eq!(code, Some(1));
    assert!(rows.iter().any(is_img_1001_yellow), "the runs survive the upgrade: {rows:#?}");
    let db = rusqlite::Connection::open(&state).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, consentry::state::SCHEMA);
    let runs: i64 = db.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2);
    let (name, run): (String, i64) =
        db.query_row("SELECT name, run FROM checkpoints", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((name.as_str(), run), ("nightly", 2));
    drop(db);
    assert_eq!(changes(d, &NIGHTLY), (Some(0), vec![]));
}
