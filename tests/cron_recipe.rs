//! The README's cron recipe ("Running it every night"), run as written: its cron line is read
//! from README.md, only its paths are replaced (the installed binary by the built one, the
//! archive and the scan directory by temporary ones), and it runs under cron's environment
//! (`env -i PATH=/usr/bin:/bin sh -c LINE`) night after night: quiet nights print nothing (cron
//! mails nothing); a revocation is mailed although a daytime `check` saw it first (the
//! checkpoint `nightly`); an unreadable file (exit 3) and a broken register (exit 2) are mailed.

#![cfg(unix)]

mod support;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// The paths the README's recipe uses, which the test replaces.
const BINARY: &str = "/usr/local/bin/consentry";
const ARCHIVE: &str = "/srv/archive";
const SCAN_DIR: &str = "/var/lib/consentry";

const CSV_HEADER: &str = "run,change,path,old_status,new_status,detail";

/// The README's "Running it every night" section.
fn section() -> String {
    let readme = fs::read_to_string(support::repo().join("README.md")).unwrap();
    let start = readme.find("### Running it every night").expect("README: no \"Running it every night\"");
    let rest = &readme[start + 4..];
    let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

/// The lines of the section's first ```cron block.
fn cron_block(section: &str) -> Vec<String> {
    let start = section.find("```cron\n").expect("README: no ```cron block") + "```cron\n".len();
    let len = section[start..].find("```").unwrap();
    section[start..start + len].lines().map(str::to_string).collect()
}

/// The command of a crontab line: what follows its five time fields.
fn command_of(line: &str) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..5 {
        let field_end = rest.find(char::is_whitespace).expect("a cron line has five time fields and a command");
        rest = rest[field_end..].trim_start();
    }
    rest
}

/// The README's one cron command, its paths replaced by `binary`, `archive` and `scan_dir`.
fn recipe(binary: &Path, archive: &Path, scan_dir: &Path) -> String {
    let lines = cron_block(&section());
    let jobs: Vec<&String> = lines
        .iter()
        .filter(|l| {
            let l = l.trim();
            // Blank lines, comments and environment settings (MAILTO=...) are not jobs.
            !l.is_empty() && !l.starts_with('#') && !l.split_whitespace().next().unwrap().contains('=')
        })
        .collect();
    assert_eq!(jobs.len(), 1, "README: one cron job expected: {jobs:?}");
    let command = command_of(jobs[0]);
    for path in [BINARY, ARCHIVE, SCAN_DIR] {
        assert!(command.contains(path), "README's cron line no longer uses {path}: {command}");
    }
    for p in [binary, archive, scan_dir] {
        let p = p.to_str().unwrap();
        assert!(!p.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)), "{p}: not usable unquoted");
    }
    command
        .replace(BINARY, binary.to_str().unwrap())
        .replace(ARCHIVE, archive.to_str().unwrap())
        .replace(SCAN_DIR, scan_dir.to_str().unwrap())
}

/// Run `command` as cron does: `sh -c` with nothing in the environment but cron's PATH.
fn cron(command: &str, cwd: &Path) -> Output {
    Command::new("/usr/bin/env")
        .args(["-i", "PATH=/usr/bin:/bin", "sh", "-c", command])
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn the_readme_says_how_to_install_the_binary_and_create_the_scan_directory() {
    let section = section();
    assert!(
        section.contains(&format!(
            "install -m 755 target/release/consentry {}/",
            Path::new(BINARY).parent().unwrap().display()
        )),
        "{section}"
    );
    let creates = section.lines().any(|l| l.contains("install -d -m 700") && l.trim_end().ends_with(SCAN_DIR));
    assert!(creates, "README: no `install -d -m 700 ... {SCAN_DIR}`: {section}");
}

#[test]
fn the_readme_cron_recipe_runs_under_crons_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, register) = support::copy_fixtures(tmp.path());
    // What the README's `install -d -m 700 ... /var/lib/consentry` creates.
    let scan_dir = tmp.path().join("scan-dir");
    fs::create_dir(&scan_dir).unwrap();
    fs::set_permissions(&scan_dir, fs::Permissions::from_mode(0o700)).unwrap();
    let line = recipe(Path::new(env!("CARGO_BIN_EXE_consentry")), &archive, &scan_dir);
    let last_scan = scan_dir.join("last-scan.jsonl");
    // cron starts in the user's home directory, not in the archive.
    let home = tmp.path().join("home");
    fs::create_dir(&home).unwrap();

    // Night 1: a clean scan; the report of the first run has no changes yet: nothing printed,
    // so cron mails nothing.
    let night = cron(&line, &home);
    let (out, err) = (support::stdout(&night), support::stderr(&night));
    assert_eq!(night.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.is_empty(), "a quiet night prints nothing: {out}");
    let scan = fs::read_to_string(&last_scan).unwrap();
    let records: Vec<serde_json::Value> = scan.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.iter().any(|r| r["path"].as_str().is_some_and(|p| p.ends_with("IMG_1001.jpg"))), "{scan}");
    assert!(records.iter().all(|r| r["error"].is_null()), "{scan}");
    assert_eq!(fs::metadata(&last_scan).unwrap().permissions().mode() & 0o777, 0o600);
    let changes = scan_dir.join("changes.csv");
    assert_eq!(fs::read_to_string(&changes).unwrap(), format!("{CSV_HEADER}\n"), "the night's (empty) changes");
    assert_eq!(fs::metadata(&changes).unwrap().permissions().mode() & 0o777, 0o600);

    // Night 2: nothing changed: nothing printed again.
    let night = cron(&line, &home);
    assert_eq!(night.status.code(), Some(0), "{}", support::stderr(&night));
    assert!(night.stdout.is_empty() && night.stderr.is_empty(), "{}", support::stdout(&night));

    // Day 3: Carla Winter revokes her consent; someone runs `check` on the video folder during
    // the day, which records the change in the state. The night still mails it.
    let consents = register.join("consents.csv");
    let text = fs::read_to_string(&consents).unwrap();
    let revoked = text.replace("video/interview.MOV;;;\n", "video/interview.MOV;;;2025-01-01\n");
    assert_ne!(revoked, text);
    fs::write(&consents, revoked).unwrap();
    let day = support::run(&["check", "--for", "web", "video", "--quiet"], &archive);
    assert_eq!(day.status.code(), Some(1), "{}", support::stderr(&day));
    let night = cron(&line, &home);
    let (out, err) = (support::stdout(&night), support::stderr(&night));
    assert_eq!(night.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    assert!(err.is_empty(), "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER), "{out}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|l| l.contains(",became-red,") && l.contains("interview.MOV")), "{out}");
    assert!(rows.iter().any(|l| l.contains(",consent-revoked,")), "{out}");
    assert_eq!(fs::read_to_string(&changes).unwrap(), out, "the mail is the night's CSV");
    // The next night, nothing new: quiet again.
    let night = cron(&line, &home);
    assert!(night.stdout.is_empty() && night.stderr.is_empty(), "{}", support::stdout(&night));

    // Night 5: a file became unreadable (its sidecar is a FIFO): exit 3 is said in the mail, and
    // the report still comes, listing it.
    mkfifo(&archive.join("2023/summer-fest/IMG_1001.jpg.xmp"));
    let night = cron(&line, &home);
    let (out, err) = (support::stdout(&night), support::stderr(&night));
    assert_eq!(night.status.code(), Some(0), "stdout: {out}\nstderr: {err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("consentry scan: exit 3, some files could not be read (see became-unreadable)"),
        "{out}"
    );
    assert_eq!(lines.next(), Some(CSV_HEADER), "{out}");
    let unreadable: Vec<&str> = lines.filter(|l| l.contains(",became-unreadable,")).collect();
    assert_eq!(unreadable.len(), 1, "{out}");
    assert!(unreadable[0].contains("IMG_1001.jpg,") && unreadable[0].contains(",unreadable,"), "{out}");
    assert!(err.contains("IMG_1001.jpg"), "the scan names the file on stderr: {err}");
    let scan = fs::read_to_string(&last_scan).unwrap();
    let errors: Vec<serde_json::Value> = scan
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| !r["error"].is_null())
        .collect();
    assert_eq!(errors.len(), 1, "{scan}");
    assert!(errors[0]["path"].as_str().unwrap().ends_with("IMG_1001.jpg"), "{scan}");

    // Night 6: the register is broken: the scan does not run (exit 2), the mail says so, the
    // line fails with 2, no report is sent and the last scan is left as it was.
    fs::write(register.join("consents.csv"), "id,person,usage,granted\n1,Anna,web,not-a-date\n").unwrap();
    let night = cron(&line, &home);
    let (out, err) = (support::stdout(&night), support::stderr(&night));
    assert_eq!(night.status.code(), Some(2), "stdout: {out}\nstderr: {err}");
    assert_eq!(out, "consentry scan failed: exit 2\n");
    assert!(err.contains("consents.csv"), "{err}");
    assert_eq!(fs::read_to_string(&last_scan).unwrap(), scan);
}
