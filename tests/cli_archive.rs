//! End-to-end tests of archives (SPEC.md 1, 3.1): every file is judged by the archive of the
//! nearest `consentry.toml` above its real path, however the command reached it. Each test
//! builds its archives in a temporary directory and runs the binary.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const AS_OF: &str = "2026-11-22";

fn run(dir: &Path, args: &[&str]) -> Output {
    support::consentry()
        .args(args)
        .current_dir(dir)
        .env_remove("CONSENTRY_REGISTER")
        .env("CONSENTRY_ACTOR", "tester")
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run and expect `code`.
fn run_ok(dir: &Path, args: &[&str], code: i32) -> Output {
    let out = run(dir, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    out
}

/// A photo showing `persons`: a bare JPEG with an XMP sidecar naming them.
fn photo(path: &Path, persons: &[&str]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    let items: String = persons.iter().map(|n| format!("<rdf:li>{n}</rdf:li>")).collect();
    let xmp = format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
    );
    fs::write(format!("{}.xmp", path.display()), xmp).unwrap();
}

/// A CSV register: (person, usage, scope) rows granted on 2024-01-01.
fn csv_register(path: &Path, rows: &[(&str, &str, &str)]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = "person,usage,granted,scope\n".to_string();
    for (person, usage, scope) in rows {
        text.push_str(&format!("{person},\"{usage}\",2024-01-01,{scope}\n"));
    }
    fs::write(path, text).unwrap();
}

/// Mark `dir` as an archive whose register is `register` (relative to it).
fn mark(dir: &Path, register: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("consentry.toml"), format!("register = \"{register}\"\n")).unwrap();
}

/// (status, missing reasons) of every record of a JSON Lines scan, by the file's real path.
fn statuses(dir: &Path, out: &Output) -> BTreeMap<PathBuf, (String, Vec<String>)> {
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let path = dir.join(r["path"].as_str().unwrap()).canonicalize().unwrap();
        let missing = r["missing"]
            .as_array()
            .map(|m| m.iter().map(|m| format!("{}: {}", m["name"], m["reason"].as_str().unwrap())).collect())
            .unwrap_or_default();
        let status = r["status"].as_str().unwrap_or("-").to_string();
        assert!(map.insert(path.clone(), (status, missing)).is_none(), "two records of {}", path.display());
    }
    map
}

fn scan(dir: &Path, args: &[&str]) -> BTreeMap<PathBuf, (String, Vec<String>)> {
    let mut all = vec!["scan", "--format", "jsonl", "--as-of", AS_OF, "--no-state", "-q"];
    all.extend(args);
    statuses(dir, &run_ok(dir, &all, 0))
}

fn status_of(map: &BTreeMap<PathBuf, (String, Vec<String>)>, path: &Path) -> String {
    map.get(&path.canonicalize().unwrap())
        .unwrap_or_else(|| panic!("no record of {}: {map:?}", path.display()))
        .0
        .clone()
}

fn pdf(dir: &Path) -> String {
    let path = dir.join("form.pdf");
    fs::write(&path, "%PDF-1.4\n% signed form\n%%EOF\n").unwrap();
    path.to_string_lossy().into_owned()
}

/// Reproduction: without a consentry.toml the scanned directory was the root, so
/// `consent assign a/event` stored `IMG_005000.jpg`, and scanning `a/other` made a different
/// photo of the same name green.
#[test]
fn scopes_are_relative_to_the_archive_root_never_to_the_scanned_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (event, other) = (d.join("a/event/IMG_005000.jpg"), d.join("a/other/IMG_005000.jpg"));
    photo(&event, &["Anna Schmidt"]);
    photo(&other, &["Anna Schmidt"]);
    let pdf = pdf(d);
    run_ok(d, &["register", "init", "reg.sqlite"], 0);
    let assign = ["consent", "assign", "a/event", "--usage", "print", "--granted", "2024-01-01", "--document", &pdf];
    // In no archive there is no root to record the scope against: refused, nothing changed.
    let mut args = assign.to_vec();
    args.extend(["--register", "reg.sqlite"]);
    let refused = run_ok(d, &args, 2);
    assert!(stderr(&refused).contains("consentry init"), "{}", stderr(&refused));
    // A scope `IMG_005000.jpg` (as recorded before) covers no file in no archive.
    let add = ["consent", "add", "--person", "Anna Schmidt", "--usage", "print", "--granted", "2024-01-01"];
    let mut args = add.to_vec();
    args.extend(["--document", &pdf, "--scope", "IMG_005000.jpg", "--register", "reg.sqlite", "-q"]);
    run_ok(d, &args, 0);
    for path in ["a", "a/other", "a/event", "a/other/IMG_005000.jpg"] {
        let found = scan(d, &[path, "--register", "reg.sqlite"]);
        assert!(
            found.values().all(|(s, m)| s == "red" && m == &["\"Anna Schmidt\": out-of-scope"]),
            "{path}: {found:?}"
        );
    }
    // `consentry init` marks the archive; the assignment then covers exactly a/event's photo.
    run_ok(d, &["init", "a"], 0);
    assert!(d.join("a/register.sqlite").is_file());
    run_ok(d, &assign, 0);
    for path in ["a", "a/other", "a/event", "a/event/IMG_005000.jpg", "a/other/IMG_005000.jpg"] {
        let found = scan(d, &[path]);
        if path != "a/other" && path != "a/other/IMG_005000.jpg" {
            assert_eq!(status_of(&found, &event), "green", "{path}");
        }
        if path != "a/event" && path != "a/event/IMG_005000.jpg" {
            assert_eq!(status_of(&found, &other), "red", "{path}");
        }
    }
}

/// Reproduction: `scan A B` judged B's files by A's register.
#[test]
fn each_archive_of_a_command_has_its_own_register_and_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mark(&d.join("A"), "reg.csv");
    mark(&d.join("B"), "reg.csv");
    csv_register(&d.join("A/reg.csv"), &[("Anna Schmidt", "print", "*")]);
    csv_register(&d.join("B/reg.csv"), &[("Ben Meyer", "print", "*")]);
    photo(&d.join("A/x.jpg"), &["Anna Schmidt"]);
    photo(&d.join("B/y.jpg"), &["Anna Schmidt"]);
    for args in [["A", "B"], ["B", "A"]] {
        let found = scan(d, &args);
        assert_eq!(status_of(&found, &d.join("A/x.jpg")), "green", "{args:?}");
        assert_eq!(
            found[&d.join("B/y.jpg").canonicalize().unwrap()],
            ("red".into(), vec!["\"Anna Schmidt\": unknown".into()])
        );
    }
    let check = run_ok(d, &["check", "--for", "print", "A", "B", "--as-of", AS_OF, "--format", "jsonl"], 1);
    let blocking = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(blocking.contains("B/y.jpg") && !blocking.contains("A/x.jpg"), "{blocking}");
    // Each archive keeps its own state; `report changes PATH` finds PATH's.
    run_ok(d, &["scan", "A", "B", "--as-of", AS_OF, "--format", "jsonl", "-q"], 0);
    assert!(d.join("A/.consentry/state.sqlite").is_file() && d.join("B/.consentry/state.sqlite").is_file());
    let changes = run_ok(d, &["report", "changes", "B", "--format", "jsonl"], 0);
    assert!(stderr(&changes).contains(&format!("{}", d.join("B/.consentry").canonicalize().unwrap().display())));
    // `--state PATH`: one state for every archive of the command.
    let out = run_ok(d, &["scan", "A", "B", "--state", "one.sqlite", "--as-of", AS_OF, "--format", "jsonl"], 0);
    assert_eq!(stderr(&out).matches("State one.sqlite: 2 files").count(), 1, "{}", stderr(&out));
    run_ok(d, &["report", "changes", "--state", "one.sqlite", "--format", "jsonl"], 0);
    // `report missing` lists each file by its own archive.
    let missing = run_ok(d, &["report", "missing", "A", "B", "--as-of", AS_OF, "--format", "jsonl", "--no-state"], 0);
    let missing = String::from_utf8_lossy(&missing.stdout).into_owned();
    assert!(missing.contains("B/y.jpg") && !missing.contains("A/x.jpg"), "{missing}");
    // Listings of one register refuse archives with different registers.
    let refused = run_ok(d, &["report", "consents", "A", "B"], 2);
    assert!(stderr(&refused).contains("different registers"), "{}", stderr(&refused));
}

/// Reproduction: a directory link inside a scope made a file outside it green under the link's
/// path, and `apply` wrote that green into the real file.
#[test]
fn a_file_reached_through_a_link_is_judged_once_at_its_real_path() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mark(&d.join("archive"), "reg.csv");
    csv_register(&d.join("archive/reg.csv"), &[("Anna Schmidt", "print", "2023/**")]);
    photo(&d.join("archive/2023/old.jpg"), &["Anna Schmidt"]);
    let new = d.join("archive/2024/new/x.jpg");
    photo(&new, &["Anna Schmidt"]);
    std::os::unix::fs::symlink("../2024/new", d.join("archive/2023/link")).unwrap();
    for args in [
        &["archive/2023"][..],
        &["archive"],
        &["archive/2023/link"],
        &["archive/2023/link/x.jpg"],
        &["archive/2023", "archive/2024"],
    ] {
        let found = scan(d, args);
        assert_eq!(
            found[&new.canonicalize().unwrap()],
            ("red".into(), vec!["\"Anna Schmidt\": out-of-scope".into()]),
            "{args:?}"
        );
    }
    let via_link = run_ok(d, &["scan", "archive/2023", "--format", "jsonl", "--no-state", "-q"], 0);
    let text = String::from_utf8_lossy(&via_link.stdout).into_owned();
    assert!(
        text.contains(&format!("\"path\":\"{}\"", new.canonicalize().unwrap().display())),
        "reported at its real path: {text}"
    );
    // `apply` through the link writes the real file's own (red) evaluation.
    let apply =
        run_ok(d, &["apply", "archive/2023", "--sidecar", "always", "--as-of", AS_OF, "--format", "jsonl", "-q"], 0);
    let rows = String::from_utf8_lossy(&apply.stdout).into_owned();
    let row = rows.lines().find(|l| l.contains("x.jpg")).unwrap_or_else(|| panic!("{rows}"));
    assert!(row.contains("red") && !row.contains("green"), "{row}");
    let after = scan(d, &["archive"]);
    assert_eq!(status_of(&after, &new), "red");
}

/// Overlapping arguments and two links to one folder give one record per file.
#[test]
fn a_file_reached_twice_gives_one_record() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mark(&d.join("a"), "reg.csv");
    csv_register(&d.join("a/reg.csv"), &[("Anna Schmidt", "print", "*")]);
    photo(&d.join("a/sub/x.jpg"), &["Anna Schmidt"]);
    photo(&d.join("outside/y.jpg"), &["Anna Schmidt"]);
    std::os::unix::fs::symlink(d.join("outside"), d.join("a/l1")).unwrap();
    std::os::unix::fs::symlink(d.join("outside"), d.join("a/sub/l2")).unwrap();
    for args in
        [&["a", "a/sub"][..], &["a/sub", "a"], &["a/sub/x.jpg", "a"], &["a", "a"], &["a", "outside"], &["outside", "a"]]
    {
        // `statuses` fails on a second record of a file.
        let mut args = args.to_vec();
        args.extend(["--register", "a/reg.csv"]);
        let found = scan(d, &args);
        assert_eq!(found.len(), 2, "{args:?}: {found:?}");
        // The linked file is outside every archive: only `*` consents cover it.
        assert_eq!(status_of(&found, &d.join("outside/y.jpg")), "green", "{args:?}");
    }
}

/// A file in no archive: scoped consents and exemptions never cover it, with one hint.
#[test]
fn a_file_in_no_archive_is_covered_only_by_scope_star() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    csv_register(&d.join("reg.csv"), &[("Anna Schmidt", "print", "*"), ("Ben Meyer", "print", "**")]);
    photo(&d.join("p/a.jpg"), &["Anna Schmidt"]);
    photo(&d.join("p/b.jpg"), &["Ben Meyer"]);
    let out =
        run_ok(d, &["scan", "p", "--register", "reg.csv", "--as-of", AS_OF, "--format", "jsonl", "--no-state"], 0);
    let found = statuses(d, &out);
    assert_eq!(status_of(&found, &d.join("p/a.jpg")), "green");
    assert_eq!(
        found[&d.join("p/b.jpg").canonicalize().unwrap()],
        ("red".into(), vec!["\"Ben Meyer\": out-of-scope".into()])
    );
    assert_eq!(stderr(&out).matches("consentry init").count(), 1, "{}", stderr(&out));
}

#[test]
fn init_writes_the_config_and_a_register_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("arch")).unwrap();
    run_ok(d, &["init", "arch"], 0);
    let toml = fs::read_to_string(d.join("arch/consentry.toml")).unwrap();
    assert!(toml.contains("register = \"register.sqlite\""), "{toml}");
    run_ok(d, &["register", "check", "--register", "arch/register.sqlite"], 0);
    // Never over an existing one.
    let again = run_ok(d, &["init", "arch", "--register", "x.csv"], 2);
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert_eq!(fs::read_to_string(d.join("arch/consentry.toml")).unwrap(), toml);
    // With --register: no register is created, the given one is named.
    fs::create_dir_all(d.join("two")).unwrap();
    csv_register(&d.join("regs/r.csv"), &[("Anna Schmidt", "print", "*")]);
    run_ok(d, &["init", "two", "--register", "regs/r.csv"], 0);
    assert!(!d.join("two/register.sqlite").exists());
    photo(&d.join("two/x.jpg"), &["Anna Schmidt"]);
    assert_eq!(status_of(&scan(d, &["two"]), &d.join("two/x.jpg")), "green");
}

/// Reproduction (review): one `--state` for two archives whose people roots differ reused B's
/// file as read with A's roots (nobody depicted), so `check` cleared it in one argument order
/// and blocked it in the other. Such a shared state is refused.
#[test]
fn one_state_for_archives_with_other_people_roots_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    mark(&d.join("A"), "reg.csv");
    fs::create_dir_all(d.join("B")).unwrap();
    fs::write(d.join("B/consentry.toml"), "register = \"reg.csv\"\npeople_roots = [\"Leute\"]\n").unwrap();
    csv_register(&d.join("A/reg.csv"), &[("Anna Schmidt", "print", "*")]);
    csv_register(&d.join("B/reg.csv"), &[("Anna Schmidt", "print", "*")]);
    photo(&d.join("A/x.jpg"), &["Anna Schmidt"]);
    fs::create_dir_all(d.join("B")).unwrap();
    fs::write(d.join("B/b.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    fs::write(
        d.join("B/b.jpg.xmp"),
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:lr="http://ns.adobe.com/lightroom/1.0/"><lr:hierarchicalSubject><rdf:Bag><rdf:li>Leute|Mallory Doe</rdf:li></rdf:Bag></lr:hierarchicalSubject></rdf:Description></rdf:RDF></x:xmpmeta>"#,
    )
    .unwrap();
    for order in [["A", "B"], ["B", "A"]] {
        let out = run(d, &["check", "--for", "print", order[0], order[1], "--state", "s.sqlite", "--as-of", AS_OF]);
        assert_eq!(out.status.code(), Some(2), "{order:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("different people roots"), "{order:?}: {}", stderr(&out));
        // Each archive's own state: B's file blocks in either order.
        run_ok(d, &["check", "--for", "print", order[0], order[1], "--as-of", AS_OF], 1);
    }
}
