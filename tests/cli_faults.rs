//! End-to-end tests of the register and the state under faults (issue 12, part 4): evidence
//! paths of `register import` resolve from the register that names them, evidence outside the
//! register's folder is never read and is a warning, evidence must be a PDF; concurrent first
//! scans; a corrupt state moved aside; a locked and a damaged SQLite register told apart.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use support::run;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// (path, sha256) of every document row of the register database `db`.
fn documents(db: &Path) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT path, sha256 FROM documents ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn import_resolves_evidence_from_the_csv_folder_not_the_database_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("reg/docs")).unwrap();
    fs::create_dir_all(d.join("db/docs")).unwrap();
    let real = b"%PDF-1.4 the signed form\n";
    fs::write(d.join("reg/docs/a.pdf"), real).unwrap();
    // A decoy where the database's folder would put it.
    fs::write(d.join("db/docs/a.pdf"), b"%PDF-1.4 a decoy\n").unwrap();
    fs::write(d.join("reg/reg.csv"), "id,person,usage,granted,document\n1,Anna,web,2024-01-01,docs/a.pdf\n").unwrap();

    let out = run(&["register", "import", "reg/reg.csv", "--into", "db/r.sqlite"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The CSV's own document is hashed, and recorded relative to the database's folder.
    assert_eq!(documents(&d.join("db/r.sqlite")), [("../reg/docs/a.pdf".to_string(), Some(sha256_hex(real)))]);
    // consentry checked and hashed it: the database may keep it outside its own folder.
    let check = run(&["register", "check", "--register", "db/r.sqlite"], d);
    assert_eq!(check.status.code(), Some(0), "{}{}", stdout(&check), stderr(&check));

    // Beside the CSV: the path is kept as it is.
    let out = run(&["register", "import", "reg/reg.csv", "--into", "reg/r.sqlite"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(documents(&d.join("reg/r.sqlite")), [("docs/a.pdf".to_string(), Some(sha256_hex(real)))]);
    let check = run(&["register", "check", "--register", "reg/r.sqlite"], d);
    assert_eq!(check.status.code(), Some(0), "{}{}", stdout(&check), stderr(&check));
}

#[test]
fn evidence_outside_the_register_folder_is_never_read_and_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("a/b/c/reg")).unwrap();
    let reg = d.join("a/b/c/reg");
    fs::write(
        reg.join("reg.csv"),
        "id,person,usage,granted,document\n1,Anna,web,2024-01-01,/etc/shadow\n2,Ben,web,2024-01-01,../../../../etc/passwd\n",
    )
    .unwrap();

    let out = run(&["register", "import", "reg.csv", "--into", "reg.sqlite"], &reg);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("\"/etc/shadow\" leaves the register's folder"), "{err}");
    assert!(err.contains("\"../../../../etc/passwd\" leaves the register's folder"), "{err}");
    // Neither file was hashed.
    let docs = documents(&reg.join("reg.sqlite"));
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|(_, sha)| sha.is_none()), "{docs:?}");

    // `register check` warns about both, for the CSV and for the database (not "ok").
    for register in ["reg.csv", "reg.sqlite"] {
        let check = run(&["register", "check", "--register", register], &reg);
        assert_eq!(check.status.code(), Some(1), "{register}: {}", stderr(&check));
        let listed = stdout(&check);
        assert_eq!(
            listed.lines().filter(|l| l.contains("warning") && l.contains("leaves the register's folder")).count(),
            2,
            "{register}: {listed}"
        );
    }
    let consents = run(&["report", "consents", ".", "--register", "reg.csv", "--format", "jsonl"], &reg);
    assert_eq!(consents.status.code(), Some(0), "{}", stderr(&consents));
    for row in stdout(&consents).lines() {
        let row: serde_json::Value = serde_json::from_str(row).unwrap();
        assert_eq!(row["evidence"], "missing", "{row}");
    }
}

#[test]
fn evidence_must_be_a_pdf_for_import_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("form.pdf"), b"GIF89a not a scan").unwrap();
    fs::write(d.join("reg.csv"), "id,person,usage,granted,document\n1,Anna,web,2024-01-01,form.pdf\n").unwrap();
    let check = run(&["register", "check", "--register", "reg.csv"], d);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).contains("\"form.pdf\" is not a PDF"), "{}", stdout(&check));
    let out = run(&["register", "import", "reg.csv", "--into", "reg.sqlite"], d);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("reg.csv") && err.contains("\"form.pdf\" is not a PDF"), "{err}");
    assert!(!d.join("reg.sqlite").exists(), "nothing imported");
}

/// Run the binary in `dir` with the user's cache directory inside it (a read-only archive's
/// state would go there).
fn run_here(args: &[&str], dir: &Path) -> std::process::Command {
    let mut cmd = support::consentry();
    cmd.args(args).current_dir(dir).env_remove("CONSENTRY_REGISTER").env("XDG_CACHE_HOME", dir.join("cache"));
    cmd
}

/// A fresh archive `archive/` in `dir`: a few JPEGs tagged with a person, no state yet.
fn fresh_archive(dir: &Path) {
    let xmp = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><I:PersonInImage><rdf:Bag><rdf:li>Anna</rdf:li></rdf:Bag></I:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#;
    fs::create_dir_all(dir.join("archive/events")).unwrap();
    for i in 0..8 {
        fs::write(dir.join(format!("archive/events/{i}.jpg")), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
        fs::write(dir.join(format!("archive/events/{i}.xmp")), xmp).unwrap();
    }
    fs::write(dir.join("register.csv"), "id,person,usage,granted\n1,Anna,web,2024-01-01\n").unwrap();
    fs::write(dir.join("archive/consentry.toml"), "register = \"../register.csv\"\n").unwrap();
}

fn scan(dir: &Path) -> Output {
    run_here(&["scan", "archive", "--as-of", "2025-01-01"], dir).output().unwrap()
}

/// Concurrent first runs create the same state: each waits for the one creating it (on main
/// about one process in a thousand failed with "database is locked", so several rounds).
#[test]
fn concurrent_first_scans_of_one_archive_all_succeed() {
    const RUNS: usize = 32;
    const ROUNDS: usize = 4;
    for round in 0..ROUNDS {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fresh_archive(d);
        // All started before any is waited for: they create the same state at the same time.
        let children: Vec<_> = (0..RUNS)
            .map(|_| {
                run_here(&["scan", "archive", "--as-of", "2025-01-01"], d)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let failed: Vec<String> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .filter(|o| o.status.code() != Some(0))
            .map(|o| format!("{:?}: {}", o.status.code(), stderr(&o)))
            .collect();
        assert!(failed.is_empty(), "round {round}: {} of {RUNS} failed: {failed:#?}", failed.len());
        let out = scan(d);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let conn = rusqlite::Connection::open(d.join("archive/.consentry/state.sqlite")).unwrap();
        let runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
        assert_eq!(runs, RUNS as i64 + 1, "every run recorded");
    }
}

/// The files in the state directory whose names contain `part`.
fn state_files(d: &Path, part: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(d.join("archive/.consentry"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(part))
        .collect();
    names.sort();
    names
}

/// A fresh archive in `d` scanned once: its state.
fn scanned_once(d: &Path) -> std::path::PathBuf {
    fresh_archive(d);
    let first = scan(d);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    d.join("archive/.consentry/state.sqlite")
}

/// `report changes` on the damaged state of the archive in `d`: exit 2, saying what to do.
fn report_changes_says_what_to_do(d: &Path) {
    let changes = run_here(&["report", "changes", "archive"], d).output().unwrap();
    assert_eq!(changes.status.code(), Some(2));
    let err = stderr(&changes);
    assert!(err.contains("state.sqlite") && err.contains("damaged") && err.contains("--no-state"), "{err}");
}

#[test]
fn a_corrupt_state_is_moved_aside_and_the_run_starts_afresh() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, state) = (tmp.path(), scanned_once(tmp.path()));
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    fs::write(&state, &garbage).unwrap();

    // `report changes` has nothing to report: it says what to do and leaves the file alone.
    report_changes_says_what_to_do(d);
    assert!(state_files(d, "corrupt").is_empty());
    // Given with --state, it may be anything: left as it is, with what to do.
    let given = d.join("given.sqlite");
    fs::write(&given, &garbage).unwrap();
    let out = run_here(&["scan", "archive", "--state", "given.sqlite"], d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("damaged") && stderr(&out).contains("--no-state"), "{}", stderr(&out));
    assert_eq!(fs::read(&given).unwrap(), garbage);

    // A scan moves it aside with a warning (even with --quiet: a nightly run's mail shows it)
    // and runs as a first run.
    let out = run_here(&["scan", "archive", "--as-of", "2025-01-01", "--quiet"], d).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning") && err.contains("moved aside"), "{err}");
    let aside = state_files(d, "corrupt");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(aside[0].starts_with("state.sqlite.corrupt-2"), "{aside:?}");
    let stamp = &aside[0]["state.sqlite.corrupt-".len()..];
    assert!(stamp.len() == 15 && stamp.as_bytes()[8] == b'T', "YYYYMMDDTHHMMSS: {stamp}");
    assert_eq!(fs::read(d.join("archive/.consentry").join(&aside[0])).unwrap(), garbage, "kept as it was");
    let conn = rusqlite::Connection::open(&state).unwrap();
    let runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 1, "a new state with this run");

    // The next run reuses the new state.
    let next = scan(d);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert!(!stderr(&next).contains("moved aside"), "{}", stderr(&next));
    assert_eq!(state_files(d, "corrupt").len(), 1);
    let runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2);
    let changes = run_here(&["report", "changes", "archive"], d).output().unwrap();
    assert_eq!(changes.status.code(), Some(0), "{}", stderr(&changes));
}

/// The binary in `dir` with a short busy timeout for SQLite registers (a debug-build test hook:
/// a locked register is waited for ten seconds otherwise).
fn run_impatient(args: &[&str], dir: &Path) -> Output {
    run_here(args, dir).env("CONSENTRY_TEST_BUSY_TIMEOUT_MS", "300").output().unwrap()
}

#[test]
fn a_locked_register_and_a_damaged_one_get_distinct_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fresh_archive(d);
    let out = run(&["register", "import", "register.csv", "--into", "register.sqlite"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::write(d.join("damaged.sqlite"), b"this is no database, only a file with its name".repeat(100)).unwrap();
    let commands = |register: &'static str| -> Vec<Vec<&'static str>> {
        vec![
            vec!["register", "check", "--register", register],
            vec!["scan", "archive", "--register", register],
            vec!["check", "archive", "--for", "web", "--register", register],
            vec!["register", "import", "register.csv", "--into", register],
        ]
    };

    {
        // Another process (this test) writes the register: holds an exclusive transaction.
        let writer = rusqlite::Connection::open(d.join("register.sqlite")).unwrap();
        writer.execute_batch("BEGIN EXCLUSIVE; INSERT INTO originators (name) VALUES ('busy');").unwrap();
        for args in commands("register.sqlite") {
            let out = run_impatient(&args, d);
            let all = stdout(&out) + &stderr(&out);
            assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {all}");
            assert!(all.contains("register.sqlite"), "{args:?}: names the register: {all}");
            assert!(all.contains("the register is locked") && all.contains("try again"), "{args:?}: {all}");
            assert!(!all.contains("not an SQLite"), "{args:?}: {all}");
        }
        writer.execute_batch("ROLLBACK").unwrap();
    }
    // Free again: the same commands work.
    let out = run_impatient(&["register", "check", "--register", "register.sqlite"], d);
    assert!(stderr(&out).contains("0 error(s)"), "{}{}", stdout(&out), stderr(&out));

    for args in commands("damaged.sqlite") {
        let out = run_impatient(&args, d);
        let all = stdout(&out) + &stderr(&out);
        assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?}: {all}");
        assert!(all.contains("damaged.sqlite"), "{args:?}: names the register: {all}");
        assert!(all.contains("not an SQLite register, or a damaged one") && all.contains("backup"), "{args:?}: {all}");
        assert!(!all.contains("locked"), "{args:?}: {all}");
    }
    assert_eq!(
        fs::read(d.join("damaged.sqlite")).unwrap(),
        b"this is no database, only a file with its name".repeat(100),
        "left as it was"
    );
}

/// Damage that shows only when the files are read (the state's first page and its meta table
/// intact) is handled the same way.
#[test]
fn a_state_damaged_inside_its_files_table_is_moved_aside_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, state) = (tmp.path(), scanned_once(tmp.path()));
    let (page_size, roots): (i64, Vec<i64>) = {
        let conn = rusqlite::Connection::open(&state).unwrap();
        let size = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = |table: &str| -> i64 {
            conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0)).unwrap()
        };
        (size, vec![root("files"), root("runs")])
    };
    assert!(!d.join("archive/.consentry/state.sqlite-wal").exists(), "checkpointed when the run ended");
    let mut bytes = fs::read(&state).unwrap();
    for root in roots {
        let page = ((root - 1) * page_size) as usize..(root * page_size) as usize;
        for (i, b) in bytes[page].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0x5a;
        }
    }
    fs::write(&state, &bytes).unwrap();

    // `report changes` cannot read its runs: it says what to do.
    report_changes_says_what_to_do(d);

    let out = run_here(&["scan", "archive", "--as-of", "2025-01-01", "--quiet"], d).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("moved aside"), "{}", stderr(&out));
    assert_eq!(state_files(d, "corrupt").len(), 1);
    let next = scan(d);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert!(!stderr(&next).contains("moved aside"), "{}", stderr(&next));
    let conn = rusqlite::Connection::open(&state).unwrap();
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let runs: i64 = conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0)).unwrap();
    assert_eq!(runs, 2, "the new state kept both runs since");
}

/// Review: damage only in the `runs` table (read when the run is recorded, not when it starts)
/// made every later scan exit 3 ("could not be written") and was never moved aside. It is moved
/// aside when the run ends; the next run starts a new state.
#[test]
fn a_state_damaged_only_in_its_runs_is_moved_aside_when_the_run_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, state) = (tmp.path(), scanned_once(tmp.path()));
    let (page_size, root): (i64, i64) = {
        let conn = rusqlite::Connection::open(&state).unwrap();
        let size = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'runs'", [], |r| r.get(0)).unwrap();
        (size, root)
    };
    let mut bytes = fs::read(&state).unwrap();
    let page = ((root - 1) * page_size) as usize..(root * page_size) as usize;
    for (i, b) in bytes[page].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    fs::write(&state, &bytes).unwrap();
    let out = run_here(&["scan", "archive", "--as-of", "2025-01-01", "--quiet"], d).output().unwrap();
    assert!(stderr(&out).contains("moved aside"), "{}", stderr(&out));
    assert_eq!(state_files(d, "corrupt").len(), 1);
    let next = scan(d);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    let again = scan(d);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let conn = rusqlite::Connection::open(&state).unwrap();
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

/// Review: importing into a folder reached through a link recorded the document relative to the
/// link's folder, so `register check` looked for it elsewhere (where a decoy could stand).
#[test]
fn import_through_a_linked_folder_records_where_check_finds_the_document() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("reg/docs")).unwrap();
    fs::create_dir_all(d.join("deep/inner")).unwrap();
    std::os::unix::fs::symlink("deep/inner", d.join("dblink")).unwrap();
    let real = b"%PDF-1.4 the signed form\n";
    fs::write(d.join("reg/docs/a.pdf"), real).unwrap();
    fs::write(d.join("reg/reg.csv"), "id,person,usage,granted,document\n1,Anna,web,2024-01-01,docs/a.pdf\n").unwrap();
    let out = run(&["register", "import", "reg/reg.csv", "--into", "dblink/r.sqlite"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = documents(&d.join("deep/inner/r.sqlite"));
    assert_eq!(docs[0].1.as_deref(), Some(sha256_hex(real).as_str()));
    let recorded = d.join("deep/inner").join(&docs[0].0);
    assert_eq!(fs::read(&recorded).unwrap(), real, "{} leads to the document", docs[0].0);
    for register in ["dblink/r.sqlite", "deep/inner/r.sqlite"] {
        let check = run(&["register", "check", "--register", register], d);
        assert_eq!(check.status.code(), Some(0), "{register}: {}{}", stdout(&check), stderr(&check));
    }
}
