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
    // That path leaves the database's folder: import says so.
    assert!(stderr(&out).contains("outside the database's folder"), "{}", stderr(&out));

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
