//! `consent assign` says whom it includes before it records (every person named in the files
//! when no --person is given: the teacher, the mayor), on stderr; on a terminal it is a dry run
//! unless --yes is given; scripts record as before. Its table shows counts (files, persons)
//! where JSON has the lists. On a copy of the fixture archive with its SQLite register.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FILES: [&str; 2] = ["raw/2024-03-10/IMG_0002.CR2", "raw/2024-03-10/P0004.RW2"];

struct Setup {
    tmp: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        support::copy_fixtures_sqlite(tmp.path());
        fs::write(tmp.path().join("form.pdf"), "%PDF-1.4\n% signed\n%%EOF\n").unwrap();
        Setup { tmp }
    }

    fn archive(&self) -> PathBuf {
        self.tmp.path().join("archive")
    }

    fn db(&self) -> Vec<u8> {
        fs::read(self.tmp.path().join("register/register.sqlite")).unwrap()
    }

    fn args(&self, more: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["consent", "assign"].iter().map(|s| s.to_string()).collect();
        args.extend(FILES.iter().map(|s| s.to_string()));
        let pdf = self.tmp.path().join("form.pdf");
        args.extend(
            ["--usage", "web", "--granted", "2024-03-10", "--document", pdf.to_str().unwrap()].map(String::from),
        );
        args.extend(more.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, more: &[&str]) -> Output {
        support::consentry()
            .args(self.args(more))
            .current_dir(self.archive())
            .env("CONSENTRY_ACTOR", "tester")
            .output()
            .unwrap()
    }

    /// Run under a pseudo-terminal (`script`): stdin, stdout and stderr are a terminal. The
    /// terminal's output (stdout and stderr together), or `None` without `script`.
    fn on_terminal(&self, more: &[&str]) -> Option<(Option<i32>, String)> {
        if Command::new("script").arg("--version").output().is_err() {
            support::missing("script (util-linux)");
            return None;
        }
        let mut line = shell_quote(Path::new(env!("CARGO_BIN_EXE_consentry")).to_str().unwrap());
        for a in self.args(more) {
            line.push(' ');
            line.push_str(&shell_quote(&a));
        }
        let out = Command::new("script")
            .args(["-qefc", &line, "/dev/null"])
            .current_dir(self.archive())
            .env("CONSENTRY_ACTOR", "tester")
            .env_remove("CONSENTRY_REGISTER")
            .env("XDG_CACHE_HOME", support::cache_home())
            .env("SHELL", "/bin/sh")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Some((out.status.code(), support::stdout(&out).replace("\r\n", "\n")))
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

const INCLUDED: [&str; 5] = [
    "consentry: the consent is for 4 persons on 2 files:",
    "  Anton Jung (one file)",
    "  Elias Busch (one file)",
    "  Johanna Peters (one file)",
    "  Luise Kuhn (one file)",
];

#[test]
fn a_script_records_and_is_told_who_is_included_first() {
    let s = Setup::new();
    let before = s.db();
    let out = s.run(&["--format", "jsonl"]);
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[..5], INCLUDED, "{err}");
    assert!(lines[5].starts_with("Created 4 consent(s) for 2 file(s)"), "after the list: {err}");
    assert_ne!(s.db(), before, "recorded");
    // JSON: the lists.
    let rows = support::jsonl(&out);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["scope"], serde_json::json!(FILES));
    // --quiet drops the summary, not the list of who is included.
    let out = s.run(&["--format", "jsonl", "--quiet", "--dry-run"]);
    assert_eq!(support::stderr(&out).lines().collect::<Vec<_>>(), INCLUDED);
}

#[test]
fn its_table_counts_the_files_and_persons() {
    let s = Setup::new();
    let out = s.run(&["--format", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    let header = text.lines().next().unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert!(columns.contains(&"FILES") && columns.contains(&"PERSONS") && !columns.contains(&"SCOPE"), "{text}");
    assert!(!text.contains("IMG_0002.CR2"), "no file list in the table: {text}");
    for person in ["Anton Jung", "Elias Busch", "Johanna Peters", "Luise Kuhn"] {
        let row = text.lines().find(|l| l.contains(person)).unwrap();
        let cell = |column: &str| row[header.find(column).unwrap()..].split_whitespace().next().unwrap();
        assert_eq!((cell("FILES"), cell("PERSONS")), ("2", "4"), "{person}: {text}");
    }
    assert!(text.lines().all(|l| l.chars().count() < 160), "{text}");
}

#[test]
fn on_a_terminal_it_is_a_dry_run_without_yes() {
    let s = Setup::new();
    let before = s.db();
    let Some((code, screen)) = s.on_terminal(&[]) else { return };
    assert_eq!(code, Some(0), "{screen}");
    for line in INCLUDED {
        assert!(screen.contains(line), "{line:?}: {screen}");
    }
    assert!(screen.contains("would add"), "{screen}");
    assert!(screen.contains("dry run: give --yes to record"), "{screen}");
    assert_eq!(s.db(), before, "nothing recorded without --yes");
    let Some((code, screen)) = s.on_terminal(&["--yes"]) else { return };
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains(INCLUDED[0]) && screen.contains("Created 4 consent(s)"), "{screen}");
    assert!(!screen.contains("dry run"), "{screen}");
    assert_ne!(s.db(), before, "recorded with --yes");
}

/// A person the files name in two spellings (any case) is counted on every file showing them,
/// as the consent covers them: the list the user checks before `--yes` says two files.
#[test]
fn a_person_named_in_two_spellings_is_counted_on_every_file() {
    let s = Setup::new();
    let dir = s.archive().join("raw/2024-03-10");
    fs::copy(dir.join("IMG_0002.CR2"), dir.join("IMG_0009.CR2")).unwrap();
    let xmp = fs::read_to_string(dir.join("IMG_0002.CR2.xmp")).unwrap();
    assert!(xmp.contains("Elias Busch"));
    fs::write(dir.join("IMG_0009.CR2.xmp"), xmp.replace("Elias Busch", "ELIAS BUSCH")).unwrap();
    let pdf = s.tmp.path().join("form.pdf");
    let out = support::consentry()
        .args(["consent", "assign", "raw/2024-03-10/IMG_0002.CR2", "raw/2024-03-10/IMG_0009.CR2"])
        .args(["--person", "Elias Busch", "--usage", "web", "--granted", "2024-03-10", "--dry-run", "--document"])
        .arg(&pdf)
        .current_dir(s.archive())
        .env("CONSENTRY_ACTOR", "tester")
        .output()
        .unwrap();
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // Named as a file names them (the first spelling in order), on both files.
    assert!(err.to_lowercase().contains("  elias busch (2 files)"), "{err}");
}
