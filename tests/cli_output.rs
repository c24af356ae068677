//! End-to-end tests of output safety (issue 12 part 3, SPEC.md 6): `-o` never replaces a device,
//! FIFO or link; CSV cells never run as spreadsheet formulas; control characters in file names
//! and names are shown escaped in tables and on stderr.

#![cfg(unix)]

mod support;

use support::run;

use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

const AS_OF: &str = "2025-06-01";

/// The smallest JPEG container: start and end of image, no metadata.
const BARE_JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xD9];

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\n', "&#10;")
}

/// A sidecar naming `names` (PersonInImage).
fn sidecar(names: &[&str]) -> String {
    let items: String = names.iter().map(|n| format!("<rdf:li>{}</rdf:li>", xml_text(n))).collect();
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

/// `tmp/register.csv` with `register` and an empty `tmp/archive`.
fn archive(register: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("register.csv"), register).unwrap();
    let root = tmp.path().join("archive");
    fs::create_dir(&root).unwrap();
    (tmp, root)
}

const PLAIN_REGISTER: &str = "id,person,usage,granted,expires,document\nc1,Anna Schmidt,web,2024-01-01,,\n";

/// `args` with the register, the date and no state, in `dir`.
fn consentry(args: &[&str], dir: &Path) -> Output {
    let mut all = args.to_vec();
    all.extend(["--register", "../register.csv", "--as-of", AS_OF]);
    if !matches!(args[0], "apply" | "register") {
        all.push("--no-state");
    }
    run(&all, dir)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A reader of the FIFO at `path` that does not wait for a writer (non-blocking open), so that
/// the test never hangs: whatever was written is in the pipe when the writer has finished.
fn fifo_reader(path: &Path) -> fs::File {
    fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).unwrap()
}

fn drain(mut f: fs::File) -> String {
    let mut s = String::new();
    match f.read_to_string(&mut s) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => panic!("{e}"),
    }
    s
}

/// `-o FIFO` (and `-o LINK` to a FIFO, as `/dev/stdout` is) writes into the pipe: before, the
/// output was written to a temporary file and renamed over the FIFO, which became a regular
/// 0600 file, and the reader got nothing.
#[test]
fn output_into_a_fifo_or_a_link_to_one_is_written_through_not_replaced() {
    let (_tmp, root) = archive(PLAIN_REGISTER);
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    fs::write(root.join("a.xmp"), sidecar(&["Anna Schmidt"])).unwrap();
    let fifo = root.join("out.fifo");
    mkfifo(&fifo);
    let link = root.join("out.link");
    std::os::unix::fs::symlink("out.fifo", &link).unwrap();

    for (target, args) in [
        ("out.fifo", &["scan", "a.jpg", "--format", "jsonl", "-o", "out.fifo"][..]),
        ("out.link", &["scan", "a.jpg", "--format", "jsonl", "-o", "out.link"]),
        ("out.fifo", &["report", "summary", "a.jpg", "--format", "csv", "-o", "out.fifo"]),
        ("out.fifo", &["register", "export", "-o", "out.fifo"]),
    ] {
        let reader = fifo_reader(&fifo);
        let out = consentry(args, &root);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let meta = fs::symlink_metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo(), "{args:?}: the FIFO was replaced by {:?}", meta.file_type());
        assert_eq!(meta.mode() & 0o777, 0o644, "{args:?}: the FIFO's mode changed");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{args:?}: the link was replaced");
        let got = drain(reader);
        assert!(!got.is_empty(), "{args:?}: nothing arrived through {target}");
        if args[0] == "scan" {
            assert!(got.contains("\"path\":\"a.jpg\""), "{args:?}: {got}");
        }
    }
    // Nothing left beside them (no temporary files).
    let mut names: Vec<String> =
        fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["a.jpg", "a.xmp", "out.fifo", "out.link"]);
}

/// `-o NODE` where NODE is a character device (a copy of /dev/null made with mknod): before, it
/// was replaced by a regular 0600 file, as `-o /dev/null` replaced /dev/null itself.
#[test]
fn output_onto_a_device_leaves_the_device() {
    // SAFETY: plain system call.
    if unsafe { libc::geteuid() } != 0 {
        support::missing("root (to create a device node with mknod)");
        return;
    }
    let (_tmp, root) = archive(PLAIN_REGISTER);
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    let null = fs::metadata("/dev/null").unwrap();
    let node = root.join("null");
    let c = std::ffi::CString::new(node.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; the device number of /dev/null.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, null.rdev() as libc::dev_t) };
    if made != 0 {
        support::missing(&format!("the right to create device nodes (mknod: {})", std::io::Error::last_os_error()));
        return;
    }
    let node_mode = fs::symlink_metadata(&node).unwrap().mode();
    for args in [
        &["scan", "a.jpg", "--format", "jsonl", "-o", "null"][..],
        &["check", "--for", "web", "a.jpg", "--format", "csv", "-o", "null"],
        &["register", "export", "-o", "null"],
    ] {
        let out = consentry(args, &root);
        let meta = fs::symlink_metadata(&node).unwrap();
        assert!(meta.file_type().is_char_device(), "{args:?}: the device was replaced by {:?}", meta.file_type());
        assert_eq!((meta.rdev(), meta.mode()), (null.rdev(), node_mode), "{args:?}");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {:?} {}", out.status.code(), stderr(&out));
    }
}

/// The HTML report is a folder: `-o FIFO` is refused with a message saying what is there, and
/// the FIFO stays.
#[test]
fn html_report_refuses_a_fifo() {
    let (_tmp, root) = archive(PLAIN_REGISTER);
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    mkfifo(&root.join("page"));
    let out = consentry(&["report", "missing", "a.jpg", "--format", "html", "-o", "page"], &root);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("page: is a FIFO, not a directory"), "{}", stderr(&out));
    assert!(fs::symlink_metadata(root.join("page")).unwrap().file_type().is_fifo());
}

const FORMULAS: [&str; 4] = ["=HYPERLINK(\"http://evil.example\",\"open\")", "@SUM(1)", "+1+1", "-2+3"];

/// Every cell of `csv` is safe in a spreadsheet: none starts with `=`, `+`, `-`, `@`, tab or CR
/// unless it is a plain number.
fn assert_safe_csv(what: &str, csv: &str) {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_bytes());
    let mut cells = 0;
    for row in rdr.records() {
        for cell in row.unwrap().iter() {
            cells += 1;
            let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
            // Only a plain negative decimal (`-3`, `-0.5`) may start so: not `+1`, `-1e5`, `-inf`.
            let negative_decimal = cell.strip_prefix('-').is_some_and(|n| {
                let (int, frac) = n.split_once('.').unwrap_or((n, "0"));
                !int.is_empty() && !frac.is_empty() && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            });
            assert!(!risky || negative_decimal, "{what}: the cell {cell:?} would run as a formula\n{csv}");
        }
    }
    assert!(cells > 0, "{what}: no CSV\n{csv}");
}

/// Names from files and the register that look like formulas are written with a leading `'` in
/// every CSV output; JSON keeps them exact. Before, they were written unchanged.
#[test]
fn csv_cells_never_run_as_formulas() {
    let register = "id,person,usage,granted,expires,document,comment\n\
                    c1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\",web,2024-01-01,,,=1+1\n\
                    c2,@SUM(1),web,2024-01-01,2025-06-20,,\n";
    let (_tmp, root) = archive(register);
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    fs::write(root.join("a.xmp"), sidecar(&FORMULAS)).unwrap();

    let scan = consentry(&["scan", "--format", "csv"], &root);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let text = stdout(&scan);
    assert_safe_csv("scan", &text);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let row = rdr.records().next().unwrap().unwrap();
    // The rule is about a cell's first character: names inside a list after `|` cannot start one.
    assert_eq!(&row[3], "'+1+1|-2+3|=HYPERLINK(\"http://evil.example\",\"open\")|@SUM(1)", "{text}");

    for args in [
        &["check", "--for", "web", "--format", "csv"][..],
        &["report", "missing", "--format", "csv"],
        &["report", "unknown-persons", "--format", "csv"],
        &["report", "consents", "--format", "csv"],
        &["report", "expiring", "--within", "30", "--format", "csv"],
        &["report", "summary", "--format", "csv"],
        &["consent", "search", "--format", "csv"],
        &["person", "@SUM(1)", "--format", "csv"],
        &["apply", "--dry-run", "--format", "csv"],
    ] {
        let out = consentry(args, &root);
        // 1: blocking files; 3: apply cannot write into the bare JPEG (its table still lists it).
        assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{args:?}: {}", stderr(&out));
        assert_safe_csv(&format!("{args:?}"), &stdout(&out));
    }
    let consents = stdout(&consentry(&["report", "consents", "--format", "csv"], &root));
    assert!(consents.contains("'@SUM(1)") && consents.contains("'=HYPERLINK("), "{consents}");

    // JSON and JSON Lines stay exact.
    let jsonl = consentry(&["scan", "--format", "jsonl"], &root);
    let rec: Value = serde_json::from_str(stdout(&jsonl).lines().next().unwrap()).unwrap();
    let mut want: Vec<&str> = FORMULAS.to_vec();
    want.sort();
    assert_eq!(rec["persons"], serde_json::json!(want));
    let json = consentry(&["report", "consents", "--format", "json"], &root);
    assert!(stdout(&json).contains("\"@SUM(1)\""), "{}", stdout(&json));
}

/// A file name with an escape sequence and a newline, and a person name with a newline: tables
/// and stderr show them escaped (`\x1b`, `\n`), never raw. Before, they forged a line
/// ("FAKE: all green") and sent the escape sequence to the terminal.
#[test]
fn control_characters_are_escaped_in_tables_and_on_stderr() {
    let (_tmp, root) = archive(
        "id,person,usage,granted,expires,document\nc1,Anna Schmidt,web,2024-01-01,,\nc2,Ben\x1b[31m Red,web,2024-01-01,,\n",
    );
    let evil = "x\x1b]0;owned\x07\nFAKE: all green \u{202e}gpj.jpg";
    fs::write(root.join(evil), b"not a jpeg").unwrap(); // unreadable: its path goes to stderr
    fs::write(root.join("b.jpg"), BARE_JPEG).unwrap();
    fs::write(root.join("b.xmp"), sidecar(&["Anna Schmidt"])).unwrap();
    let shown = "x\\x1b]0;owned\\x07\\nFAKE: all green \\u{202e}gpj.jpg";

    let no_raw = |what: &str, text: &str| {
        assert!(
            !text.contains(['\x1b', '\x07', '\u{202e}']) && !text.lines().any(|l| l.starts_with("FAKE")),
            "{what}: raw control characters in {text:?}"
        );
    };
    for args in [&["scan", "--format", "table"][..], &["check", "--for", "web", "--format", "table"]] {
        let out = consentry(args, &root);
        assert!(matches!(out.status.code(), Some(1 | 3)), "{args:?}: {}", stderr(&out));
        let (table, err) = (stdout(&out), stderr(&out));
        no_raw(&format!("{args:?} table"), &table);
        no_raw(&format!("{args:?} stderr"), &err);
        assert!(table.contains(shown), "{args:?}: {table}");
        if args[0] == "scan" {
            assert!(err.contains(shown), "{args:?}: {err}");
        }
    }
    // A name from the register.
    let consents = consentry(&["report", "consents", "--format", "table"], &root);
    no_raw("report consents", &stdout(&consents));
    assert!(stdout(&consents).contains("Ben\\x1b[31m Red"), "{}", stdout(&consents));
    // A fatal error naming the path.
    let out = consentry(&["scan", "missing\x1b[2J\nFAKE.jpg"], &root);
    assert_eq!(out.status.code(), Some(2));
    no_raw("fatal error", &stderr(&out));
    assert!(stderr(&out).contains("missing\\x1b[2J\\nFAKE.jpg"), "{}", stderr(&out));
    // JSON stays exact.
    let json = consentry(&["scan", "--format", "jsonl"], &root);
    assert!(stdout(&json).lines().any(|l| serde_json::from_str::<Value>(l).unwrap()["path"] == format!("./{evil}")));
}

/// `register export` is the exception to the CSV rule: it writes the register exactly, so that
/// `register import` reads back the same names (a name with a `'` added would no longer match
/// the files showing that person).
#[test]
fn register_export_stays_exact_and_round_trips() {
    let register = "id,person,usage,granted,expires,document,comment\n\
                    c1,@SUM(1),web,2024-01-01,,,=1+1\n";
    let (tmp, root) = archive(register);
    let out = consentry(&["register", "export", "-o", "../export.csv"], &root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let exported = fs::read_to_string(tmp.path().join("export.csv")).unwrap();
    assert!(exported.contains(",@SUM(1),") && exported.contains(",=1+1"), "{exported}");
    let out = run(&["register", "import", "export.csv", "--into", "again.sqlite"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["register", "export", "--register", "again.sqlite"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), exported);
}

/// A register's problems name its file: `register check` and the fatal error of a scan show a
/// file name with control characters escaped, still one problem per line. (The problems quote
/// the register's own text with Rust's `{:?}`, which escapes it already.)
#[test]
fn register_problems_are_escaped_one_per_line() {
    let (tmp, root) = archive("");
    let name = "reg\x1b]0;x\x07\nFAKE.csv";
    fs::write(tmp.path().join(name), "id,person,usage,granted\nc1,Anna,web,31.02.2024\nc2,Ben,web,2024-13-01\n")
        .unwrap();
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    let register = format!("../{name}");
    let check = run(&["register", "check", "--register", &register], &root);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let scan = run(&["scan", "--no-state", "--register", &register], &root);
    assert_eq!(scan.status.code(), Some(2), "{}", stderr(&scan));
    let shown = "../reg\\x1b]0;x\\x07\\nFAKE.csv";
    for (what, text) in [("register check", stdout(&check)), ("check summary", stderr(&check)), ("scan", stderr(&scan))]
    {
        assert!(!text.contains(['\x1b', '\x07']), "{what}: raw control characters in {text:?}");
        assert!(!text.lines().any(|l| l.starts_with("FAKE")), "{what}: a forged line in {text}");
        assert!(text.contains(shown), "{what}: {text}");
    }
    // The fatal error keeps one line per problem (errors and warnings).
    let problems = stderr(&scan).lines().filter(|l| l.starts_with(&format!("  {shown}:"))).count();
    assert_eq!(problems, 4, "{}", stderr(&scan)); // two errors, two warnings
}

/// `-o LINK` to a regular file writes through the link: the link stays and the file it names
/// gets the output (a new version renamed over it, so a failed run leaves it whole), its mode
/// left alone (before, the link was replaced by a new 0600 file). A dangling link is refused
/// rather than followed to create a file.
#[test]
fn output_through_a_link_to_a_regular_file_keeps_the_link() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, root) = archive(PLAIN_REGISTER);
    fs::write(root.join("a.jpg"), BARE_JPEG).unwrap();
    fs::write(root.join("target.jsonl"), "old content that is longer than the new one\n".repeat(20)).unwrap();
    fs::set_permissions(root.join("target.jsonl"), fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("target.jsonl", root.join("link")).unwrap();
    let out = consentry(&["scan", "a.jpg", "--format", "jsonl", "-o", "link"], &root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(fs::symlink_metadata(root.join("link")).unwrap().file_type().is_symlink());
    let text = fs::read_to_string(root.join("target.jsonl")).unwrap();
    assert!(text.starts_with("{\"path\":\"a.jpg\"") && !text.contains("old content"), "{text}");
    assert_eq!(fs::metadata(root.join("target.jsonl")).unwrap().mode() & 0o777, 0o640);
    // A run that fails while writing leaves the file the link names whole.
    fs::write(root.join("bad.csv"), "person,usage,granted\nX,web,not a date\n").unwrap();
    let out = consentry(&["scan", "a.jpg", "--format", "jsonl", "-o", "link", "--register", "bad.csv"], &root);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(root.join("target.jsonl")).unwrap(), text, "left whole");

    std::os::unix::fs::symlink("nowhere.jsonl", root.join("dangling")).unwrap();
    let out = consentry(&["scan", "a.jpg", "-o", "dangling"], &root);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("dangling: cannot open for writing"), "{}", stderr(&out));
    assert!(!root.join("nowhere.jsonl").exists());
}
