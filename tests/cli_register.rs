//! End-to-end tests of the register commands on the shipped fixture archive and register, and on
//! temporary ones: scan with a register, check, every report, consent search, person, register
//! check/import/export, discovery, and bad registers.

use std::fs;
use std::process::Output;

use serde_json::{json, Value};

mod support;
use support::run;

const AS_OF: &str = "2026-11-22";

/// Where the commands run: a private copy of the repository's `fixtures/` (see
/// [`support::FixturesCopy`]), so that their state stays out of the repository.
fn root() -> support::FixturesCopy {
    support::fixtures_copy()
}

/// Run on a copy of the fixtures ([`root`]), with the fixture register and date.
fn fixtures(args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--register", "fixtures/register", "--as-of", AS_OF, "--quiet"]);
    run(&all, &root())
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn by_path<'a>(recs: &'a [Value], suffix: &str) -> &'a Value {
    recs.iter().find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(suffix))).unwrap_or_else(|| panic!("{suffix}"))
}

#[test]
fn scan_with_the_fixture_register_gives_every_status_and_reason() {
    let out = fixtures(&["scan", "fixtures/archive", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = jsonl(&out);
    let status = |p: &str| by_path(&recs, p)["status"].as_str().unwrap().to_string();
    assert_eq!(status("IMG_1001.jpg"), "green");
    assert_eq!(status("IMG_1002.jpg"), "yellow");
    assert_eq!(status("IMG_1003.JPG"), "red");
    assert_eq!(status("crowd.gif"), "none");
    assert_eq!(status("everything.jpg"), "exempt");
    let green = by_path(&recs, "IMG_1001.jpg");
    assert_eq!(green["usage"], json!(["print", "web"]));
    assert_eq!(green["consents"], json!(["1", "2"]));
    assert_eq!(green["valid_until"], "2099-12-31");
    assert_eq!(green["missing"], json!([]));
    // Effective consent is the AND of all persons' areas.
    assert_eq!(by_path(&recs, "stage.webp")["usage"], json!(["web", "social"]));
    // Aliases (Zoë Adams -> Zoe Adams), group consents and a named exemption (Oma Erna).
    assert_eq!(by_path(&recs, "lightroom.tif")["consents"], json!(["7.1", "7.2", "7.3"]));
    let reasons: Vec<(String, String)> = recs
        .iter()
        .flat_map(|r| r["missing"].as_array().cloned().unwrap_or_default())
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["reason"].as_str().unwrap().to_string()))
        .collect();
    for (name, reason) in [
        ("Paul Becker", "unknown"),
        ("Karl Hoffmann", "no-consent"),
        ("Jürgen Groß", "expired"),
        ("Emil Krause", "not-yet-valid"),
        ("Hannah Wolf", "revoked"),
        ("Sophie Schulz", "out-of-scope"),
        ("unnamed face 1", "unnamed-face"),
    ] {
        assert!(reasons.contains(&(name.to_string(), reason.to_string())), "{name} {reason}");
    }
    // Orphan sidecars carry no evaluation.
    assert!(by_path(&recs, "deleted-photo.xmp").get("status").is_none());
}

#[test]
fn as_of_moves_the_boundary_days() {
    let on = |day: &str| {
        let out = run(
            &[
                "scan",
                "fixtures/archive/2023/summer-fest/IMG_1001.jpg",
                "--register",
                "fixtures/register",
                "--as-of",
                day,
            ],
            &root(),
        );
        jsonl(&out)[0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(on("2099-12-31"), "green", "expires on that day: still valid");
    assert_eq!(on("01.01.2100"), "yellow", "Jonas Weber's consent expired");
    assert_eq!(on("2023-01-14"), "red", "before any grant");
}

#[test]
fn check_is_the_publication_gate() {
    let cleared = fixtures(&["check", "--for", "web", "fixtures/archive/raw/2024-03-10/DSC_0001.JPG"]);
    assert_eq!(cleared.status.code(), Some(0), "{}", String::from_utf8_lossy(&cleared.stderr));
    assert!(cleared.stdout.is_empty());
    let lacking = fixtures(&[
        "check",
        "--for",
        "web,Werbung",
        "fixtures/archive/raw/2024-03-10/DSC_0001.JPG",
        "--format",
        "jsonl",
    ]);
    assert_eq!(lacking.status.code(), Some(1));
    assert_eq!(jsonl(&lacking)[0]["reason"], "not released for advertising");
    let archive = fixtures(&["check", "--for", "print", "fixtures/archive", "--format", "jsonl"]);
    assert_eq!(archive.status.code(), Some(1));
    let rows = jsonl(&archive);
    assert!(rows.iter().any(|r| r["path"].as_str().unwrap().ends_with("heic-idat.heic")
        && r["reason"].as_str().unwrap().contains("Hannah Wolf (revoked)")));
    assert!(!rows.iter().any(|r| r["path"].as_str().unwrap().ends_with("IMG_1001.jpg")), "green for print");
    assert!(!rows.iter().any(|r| r["path"].as_str().unwrap().ends_with("crowd.gif")), "nobody depicted");
    let bad_usage = fixtures(&["check", "--for", "billboards", "fixtures/archive"]);
    assert_eq!(bad_usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_usage.stderr).contains("billboards"));
}

#[test]
fn unreadable_files_block_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00]).unwrap();
    fs::write(tmp.path().join("register.csv"), "person,usage,granted\nAnna,web,2024-01-01\n").unwrap();
    let out = run(&["check", "--for", "web", ".", "--register", "register.csv", "--format", "jsonl"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let rows = jsonl(&out);
    assert_eq!(rows[0]["status"], "unreadable");
    // In the summary an unreadable file is counted once, as unreadable, not also as a status.
    let summary =
        jsonl(&run(&["report", "summary", ".", "--register", "register.csv", "--format", "jsonl"], tmp.path()));
    let count =
        |key: &str| summary.iter().find(|r| r["group"] == "status" && r["key"] == key).unwrap()["files"].clone();
    assert_eq!(count("unreadable"), 1);
    assert_eq!(count("none"), 0);
}

#[test]
fn reports() {
    let report = |kind: &[&str]| {
        let mut args = vec!["report"];
        args.extend(kind);
        args.extend(["fixtures/archive", "--format", "jsonl"]);
        let out = fixtures(&args);
        assert_eq!(out.status.code(), Some(0), "{kind:?}: {}", String::from_utf8_lossy(&out.stderr));
        jsonl(&out)
    };
    let missing = report(&["missing"]);
    // Red and yellow files; and, with its status as it is, the file whose plain keyword names a
    // registered person nobody tagged (issue 14: a hint, listed with that reason only).
    let hinted = |r: &Value| r["missing"].as_array().unwrap().iter().all(|m| m["reason"] == "keyword-names-person");
    assert!(missing.iter().all(|r| r["status"] == "red" || r["status"] == "yellow" || hinted(r)));
    let keywords_only = by_path(&missing, "keywords-only.jpg");
    assert_eq!(keywords_only["status"], "none");
    assert_eq!(keywords_only["missing"], json!([{"name": "Lena Fischer", "reason": "keyword-names-person"}]));
    assert_eq!(by_path(&missing, "digikam.png")["missing"], json!([{"name": "Jürgen Groß", "reason": "expired"}]));

    let summary = report(&["summary"]);
    let count = |group: &str, key: &str| {
        summary.iter().find(|r| r["group"] == group && r["key"] == key).unwrap()["files"].as_u64().unwrap()
    };
    assert_eq!(count("status", "green"), 6);
    assert_eq!(count("status", "yellow"), 2);
    assert_eq!(count("status", "exempt"), 1);
    assert_eq!(count("status", "none"), 4);
    assert_eq!(count("status", "red"), 17);
    // Issue 14: the files with nobody on them are counted apart, not under every usage.
    assert_eq!(count("usage", "tv"), 3 + 1, "green with tv, plus the exempt file (which allows everything)");
    assert_eq!(count("no-persons", "every-usage"), 4, "the files with status none");

    let consents = report(&["consents"]);
    let c = consents.iter().find(|r| r["id"] == "6").unwrap();
    assert_eq!((c["validity"].as_str(), c["files"].as_u64()), (Some("revoked"), Some(0)));
    assert_eq!(consents.iter().find(|r| r["id"] == "13.1").unwrap()["files"], 2);
    assert_eq!(consents.iter().find(|r| r["id"] == "3.1").unwrap()["originator"], "Fotostelle Sommerfest");

    let unreleased = report(&["unreleased", "--for", "print"]);
    assert!(unreleased.iter().any(|r| r["path"].as_str().unwrap().ends_with("stage.webp")));
    assert!(!unreleased.iter().any(|r| r["path"].as_str().unwrap().ends_with("IMG_1001.jpg")));

    let unknown = report(&["unknown-persons"]);
    assert!(unknown.iter().any(|r| r["name"] == "Paul Becker" && r["files"] == 1));
    assert!(!unknown.iter().any(|r| r["name"] == "Karl Hoffmann"), "known to the register");

    // Expiring: on 2099-12-01, Jonas Weber's (2099-12-31) and the Lightroom group's consents.
    let out = run(
        &[
            "report",
            "expiring",
            "--within",
            "60",
            "fixtures/archive",
            "--register",
            "fixtures/register",
            "--as-of",
            "2099-12-01",
            "--format",
            "jsonl",
        ],
        &root(),
    );
    let expiring = jsonl(&out);
    let jonas = expiring.iter().find(|r| r["id"] == "2").unwrap();
    assert_eq!(jonas["files"], 1);
    assert_eq!(jonas["would_stop_cleared"], 1);
    assert_eq!(jonas["would_stop_cleared_paths"].as_array().unwrap().len(), 1);
    assert!(expiring.iter().any(|r| r["id"] == "7.1"));
    assert!(!expiring.iter().any(|r| r["id"] == "1"), "unlimited");
}

#[test]
fn table_and_csv_reports_render() {
    let out = fixtures(&["report", "missing", "fixtures/archive", "--format", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("path,status,missing,error\n"), "{text}");
    assert!(text.contains("Hannah Wolf (revoked)"));
    let out = fixtures(&["report", "summary", "fixtures/archive", "--format", "table"]);
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("GROUP"));
}

#[test]
fn consent_search_and_person() {
    let out = fixtures(&["consent", "search", "--person", "schmidt, anna", "fixtures/archive", "--format", "jsonl"]);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], "1");
    assert_eq!(rows[0]["files"], 1);
    for field in ["id", "person", "usage", "granted", "expires", "revoked", "document", "originator", "files"] {
        assert!(rows[0].get(field).is_some(), "{field}");
    }
    let by_originator = jsonl(&fixtures(&[
        "consent",
        "search",
        "--originator",
        "fotostelle sommerfest",
        "fixtures/archive",
        "--format",
        "jsonl",
    ]));
    assert!(by_originator.iter().all(|r| r["originator"] == "Fotostelle Sommerfest") && by_originator.len() == 8);
    let valid =
        jsonl(&fixtures(&["consent", "search", "--valid-on", "2020-06-01", "fixtures/archive", "--format", "jsonl"]));
    assert_eq!(valid.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ["4"]);

    let person = jsonl(&fixtures(&["person", "Anna Schmidt", "fixtures/archive", "--format", "jsonl"]));
    assert!(person.iter().any(|r| r["kind"] == "consent" && r["item"] == "1"));
    let files: Vec<&str> =
        person.iter().filter(|r| r["kind"] == "file").map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(files, ["green", "exempt"]);
}

#[test]
fn register_check_import_and_export() {
    let ok = run(&["register", "check", "--register", "fixtures/register"], &root());
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );

    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("register.sqlite");
    let import = run(&["register", "import", "fixtures/register", "--into", db.to_str().unwrap()], &root());
    assert_eq!(import.status.code(), Some(0), "{}", String::from_utf8_lossy(&import.stderr));
    // The same statuses from SQLite as from CSV.
    let statuses = |register: &str| -> Vec<(String, String)> {
        let out = run(&["scan", "fixtures/archive", "--register", register, "--as-of", AS_OF, "--quiet"], &root());
        jsonl(&out)
            .iter()
            .filter(|r| r.get("status").is_some())
            .map(|r| (r["path"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(statuses(db.to_str().unwrap()), statuses("fixtures/register"));
    // The shipped SQLite register is that import.
    assert_eq!(statuses("fixtures/register/register.sqlite"), statuses("fixtures/register"));
    let shipped = run(&["register", "check", "--register", "fixtures/register/register.sqlite"], &root());
    assert_eq!(shipped.status.code(), Some(0), "{}", String::from_utf8_lossy(&shipped.stdout));
    let export = run(&["register", "export", "--register", db.to_str().unwrap()], &root());
    assert_eq!(export.status.code(), Some(0), "{}", String::from_utf8_lossy(&export.stderr));
    let csv = String::from_utf8(export.stdout).unwrap();
    assert!(csv.lines().count() > 14 && csv.contains("Hannah Wolf"), "{csv}");
}

#[test]
fn a_bad_register_stops_the_command_with_every_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("a.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    // Windows-1252 (ü = 0xFC), an impossible date, an unknown usage word, expiry before grant.
    let mut bad = b"person;usage;granted;expires\n".to_vec();
    bad.extend_from_slice(b"J\xfcrgen M\xfcller;print;31.02.2024;\n");
    bad.extend_from_slice(b"Anna;billboards;01.03.2024;\n");
    bad.extend_from_slice(b"Ben;web;2024-05-01;2024-04-01\n");
    fs::write(d.join("bad.csv"), bad).unwrap();
    let out = run(&["scan", ".", "--register", "bad.csv"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing written");
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["bad.csv:2", "31.02.2024", "bad.csv:3", "billboards", "bad.csv:4"] {
        assert!(err.contains(needle), "{needle} in {err}");
    }
    // The register loads while the archive is read: still nothing is written, whatever the command.
    for args in [
        &["scan", ".", "--register", "bad.csv", "-o", "out.jsonl"][..],
        &["check", ".", "--for", "web", "--register", "bad.csv"],
        &["report", "missing", ".", "--register", "bad.csv"],
        &["report", "consents", ".", "--register", "bad.csv"],
        &["scan", "empty", "--register", "bad.csv"],
    ] {
        fs::create_dir_all(d.join("empty")).unwrap();
        let out = run(args, d);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing written");
        assert!(String::from_utf8_lossy(&out.stderr).contains("billboards"), "{args:?}");
    }
    assert!(!d.join("out.jsonl").exists());
    let check = run(&["register", "check", "--register", "bad.csv"], d);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&check.stdout).lines().filter(|l| l.contains("error")).count(), 3);
}

#[test]
fn evidence_documents_are_looked_for_by_listings_not_by_scans() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("here.pdf"), b"%PDF-1.4\n").unwrap();
    fs::write(
        d.join("reg.csv"),
        "id,person,usage,granted,document\n1,Anna,web,2024-01-01,here.pdf\n2,Ben,web,2024-01-01,gone.pdf\n3,Cem,web,2024-01-01,\n",
    )
    .unwrap();
    fs::create_dir_all(d.join("archive")).unwrap();
    let consents = run(&["report", "consents", "archive", "--register", "reg.csv", "--format", "jsonl"], d);
    assert_eq!(consents.status.code(), Some(0), "{}", String::from_utf8_lossy(&consents.stderr));
    let rows = jsonl(&consents);
    let evidence: Vec<(&str, &str)> =
        rows.iter().map(|r| (r["id"].as_str().unwrap(), r["evidence"].as_str().unwrap())).collect();
    assert_eq!(evidence, [("1", "ok"), ("2", "missing"), ("3", "missing")]);
    let err = String::from_utf8_lossy(&consents.stderr);
    assert!(err.contains("2 warning(s)"), "{err}");
    // Scans do not look at the evidence folder: only the consent without a document is a warning.
    let scan = run(&["scan", "archive", "--register", "reg.csv"], d);
    assert_eq!(scan.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&scan.stderr).contains("1 warning(s)"),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let check = run(&["register", "check", "--register", "reg.csv"], d);
    assert_eq!(check.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&check.stdout);
    assert!(listed.contains("gone.pdf") && listed.contains("no evidence document"), "{listed}");
}

#[test]
fn register_check_takes_the_register_as_a_positional_or_as_register() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::write(d.join("here.pdf"), b"%PDF-1.4\n").unwrap();
    fs::write(d.join("good.csv"), "id,person,usage,granted,document\n1,Anna,web,2024-01-01,here.pdf\n").unwrap();
    fs::write(d.join("bad.csv"), "id,person,usage,granted\n1,Anna,web,not-a-date\n").unwrap();
    // The positional checks the file it names, as --register does: the same findings, the same exit.
    for (path, code) in [("bad.csv", 1), ("good.csv", 0)] {
        let positional = run(&["register", "check", path], d);
        let flag = run(&["register", "check", "--register", path], d);
        assert_eq!(positional.status.code(), Some(code), "{path}: {}", support::stderr(&positional));
        assert_eq!(flag.status.code(), Some(code), "{path}");
        assert_eq!(positional.stdout, flag.stdout, "{path}");
        assert!(support::stderr(&positional).contains(path), "{path}: {}", support::stderr(&positional));
    }
    assert!(support::stdout(&run(&["register", "check", "bad.csv"], d)).contains("error"));
    // Both, naming the same register: fine.
    let same = run(&["register", "check", "bad.csv", "--register", "bad.csv"], d);
    assert_eq!(same.status.code(), Some(1), "{}", support::stderr(&same));
    // Both, naming different registers: a usage error, nothing checked.
    let both = run(&["register", "check", "good.csv", "--register", "bad.csv"], d);
    assert_eq!(both.status.code(), Some(2));
    assert!(both.stdout.is_empty());
    let err = support::stderr(&both);
    assert!(err.contains("good.csv") && err.contains("bad.csv"), "{err}");
}

#[test]
fn register_discovery_by_environment_and_consentry_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("events/2024")).unwrap();
    fs::create_dir_all(d.join("reg")).unwrap();
    let xmp = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><I:PersonInImage><rdf:Bag><rdf:li>Anna</rdf:li></rdf:Bag></I:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#;
    fs::write(d.join("events/2024/a.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    fs::write(d.join("events/2024/a.xmp"), xmp).unwrap();
    // Scoped to the folder, relative to the archive root that consentry.toml marks.
    fs::write(d.join("reg/consents.csv"), "person,usage,granted,scope\nAnna,Plakat,2024-01-01,events/2024/*\n")
        .unwrap();
    fs::write(
        d.join("consentry.toml"),
        "register = \"reg/consents.csv\"\n[[usage]]\nname = \"poster\"\nsynonyms = [\"Plakat\"]\n",
    )
    .unwrap();
    let out = run(&["scan", "events/2024", "--as-of", "2024-06-01"], &d.join(""));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rec = &jsonl(&out)[0];
    assert_eq!((rec["status"].as_str(), rec["usage"].clone()), (Some("green"), json!(["poster"])));
    // The environment variable overrides the file; --register overrides both.
    fs::write(d.join("other.csv"), "person,usage,granted\nBen,poster,2024-01-01\n").unwrap();
    let env = support::consentry()
        .args(["scan", "events/2024", "--as-of", "2024-06-01"])
        .current_dir(d)
        .env("CONSENTRY_REGISTER", d.join("other.csv"))
        .output()
        .unwrap();
    assert_eq!(jsonl(&env)[0]["status"], "red");
}
