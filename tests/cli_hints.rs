//! End to end: keyword hints (issue 14, item 7). A photo whose plain keywords (`dc:subject`,
//! IPTC IIM keywords, Lightroom leaves outside the people roots) name a person of the register
//! whom no person tag names is reported: a `hints` field in `scan`, a row of `report missing`
//! with the reason `keyword-names-person`. Its status and its clearing stay as they are, and a
//! second run that takes the records from the state gives the same hints.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use consentry_synth::{self as synth, Embed, SynthFormat};
use serde_json::{json, Value};
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";

/// An XMP packet with `dc:subject` keywords, `lr:hierarchicalSubject` items and
/// `Iptc4xmpExt:PersonInImage` persons.
fn packet(subjects: &[&str], hierarchical: &[&str], persons: &[&str]) -> String {
    let bag = |items: &[&str]| items.iter().map(|i| format!("<rdf:li>{i}</rdf:li>")).collect::<String>();
    synth::xmp_packet(&format!(
        r#"<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><dc:subject><rdf:Bag>{}</rdf:Bag></dc:subject><lr:hierarchicalSubject><rdf:Bag>{}</rdf:Bag></lr:hierarchicalSubject><Iptc4xmpExt:PersonInImage><rdf:Bag>{}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description>"#,
        bag(subjects),
        bag(hierarchical),
        bag(persons)
    ))
}

fn jpeg(path: &Path, xmp: Option<String>, iptc_keywords: &[&str]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let embed = Embed { xmp, iptc_keywords: iptc_keywords.iter().map(|k| k.to_string()).collect(), ..Embed::default() };
    fs::write(path, synth::build(SynthFormat::Jpeg, &embed)).unwrap();
}

/// An archive (`archive/`, its register in `register/`): Anna Schmidt (alias Anni) has no
/// consent, Ben Meyer one for web.
///
/// - `event/keyword-only.jpg`: `dc:subject` "Anna Schmidt" and "Sommerfest", nobody tagged;
/// - `event/tagged.jpg`: `dc:subject` "Anna Schmidt" and Anna tagged as a person;
/// - `event/iptc.jpg`: IPTC keywords "Anni" (Anna's alias) and `People/Ben Meyer` (Ben tagged),
///   Lightroom `Events|Carla Neu` (a name in no register here: no hint);
/// - `event/plain.jpg`: `dc:subject` "Berlin" only.
fn archive() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("register")).unwrap();
    fs::write(d.join("register/persons.csv"), "id;name;aliases\np1;Anna Schmidt;Anni\np2;Ben Meyer;\n").unwrap();
    fs::write(d.join("register/consents.csv"), "id;person;usage;granted;expires\n1;Ben Meyer;web;2024-01-01;\n")
        .unwrap();
    fs::create_dir_all(d.join("archive")).unwrap();
    fs::write(d.join("archive/consentry.toml"), "register = \"../register\"\n").unwrap();
    let a = d.join("archive/event");
    jpeg(&a.join("keyword-only.jpg"), Some(packet(&["Anna Schmidt", "Sommerfest"], &[], &[])), &[]);
    jpeg(&a.join("tagged.jpg"), Some(packet(&["Anna Schmidt"], &[], &["Anna Schmidt"])), &[]);
    jpeg(&a.join("iptc.jpg"), Some(packet(&[], &["Events|Carla Neu"], &[])), &["Anni", "People/Ben Meyer"]);
    jpeg(&a.join("plain.jpg"), Some(packet(&["Berlin"], &[], &[])), &[]);
    tmp
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--as-of", AS_OF]);
    support::consentry()
        .args(all)
        .current_dir(dir.join("archive"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .unwrap()
}

fn by_name(rows: &[Value], name: &str) -> Value {
    rows.iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or_else(|| panic!("{name} in {rows:?}"))
        .clone()
}

fn hint(name: &str) -> Value {
    json!({"kind": "keyword-names-person", "name": name})
}

#[test]
fn a_keyword_naming_a_registered_person_nobody_tagged_is_a_hint_in_scan_and_missing() {
    let tmp = archive();
    let d = tmp.path();
    let out = run(d, &["scan", "--format", "jsonl", "--no-state"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let scan = jsonl(&out);
    let only = by_name(&scan, "keyword-only.jpg");
    // A hint, never a person: the file shows nobody, and stays `none`.
    assert_eq!(only["hints"], json!([hint("Anna Schmidt")]));
    assert_eq!(only["persons"], json!([]));
    assert_eq!(only["status"], "none");
    // Tagged as a person too: no hint (and the status is the person's).
    let tagged = by_name(&scan, "tagged.jpg");
    assert_eq!(tagged["hints"], json!([]));
    assert_eq!(tagged["status"], "red");
    // An alias in an IPTC keyword, a consent's name in a Lightroom leaf; Ben is tagged.
    let iptc = by_name(&scan, "iptc.jpg");
    assert_eq!(iptc["hints"], json!([hint("Anna Schmidt")]));
    assert_eq!((iptc["persons"].clone(), iptc["status"].clone()), (json!(["Ben Meyer"]), json!("green")));
    assert_eq!(by_name(&scan, "plain.jpg")["hints"], json!([]));

    // Without a register there is no evaluation, and no hints.
    fs::create_dir_all(d.join("loose")).unwrap();
    fs::copy(d.join("archive/event/keyword-only.jpg"), d.join("loose/k.jpg")).unwrap();
    let bare = jsonl(&support::run(&["scan", "loose", "--format", "jsonl", "--no-state"], d));
    assert_eq!(bare.len(), 1);
    assert!(bare[0].get("hints").is_none() && bare[0].get("status").is_none(), "{bare:?}");
    // A register of consents only (its names built as the files need them): a keyword naming
    // a consent's person is a hint too.
    fs::copy(d.join("archive/event/iptc.jpg"), d.join("loose/i.jpg")).unwrap();
    fs::write(d.join("consents.csv"), "person,usage,granted\nCarla Neu,web,2024-01-01\nanni,web,2024-01-01\n").unwrap();
    let out = support::run(&["scan", "loose", "--register", "consents.csv", "--format", "jsonl", "--no-state"], d);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let loose = jsonl(&out);
    assert_eq!(by_name(&loose, "i.jpg")["hints"], json!([hint("Carla Neu"), hint("anni")]));
    assert_eq!(by_name(&loose, "i.jpg")["status"], "red", "Ben Meyer has no consent in this register");
    assert_eq!(by_name(&loose, "k.jpg")["hints"], json!([]));

    // CSV: a `hints` column; table: a note.
    let csv = stdout(&run(d, &["scan", "event/keyword-only.jpg", "--format", "csv", "--no-state"]));
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let header = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    let hints = header.iter().position(|h| h == "hints").expect("hints column");
    assert_eq!(&row[hints], "Anna Schmidt (keyword-names-person)");
    let table = stdout(&run(d, &["scan", "event/iptc.jpg", "--format", "table", "--no-state"]));
    assert!(table.contains("keyword names a registered person: Anna Schmidt: tag them as a person"), "{table}");

    // `report missing` lists the files with a hint, with their status as it is.
    let out = run(d, &["report", "missing", "--format", "jsonl", "--no-state"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let missing = jsonl(&out);
    let only = by_name(&missing, "keyword-only.jpg");
    assert_eq!(only["status"], "none");
    assert_eq!(only["missing"], json!([{"name": "Anna Schmidt", "reason": "keyword-names-person"}]));
    let iptc = by_name(&missing, "iptc.jpg");
    assert_eq!(iptc["status"], "green");
    let tagged = by_name(&missing, "tagged.jpg");
    assert_eq!(tagged["missing"], json!([{"name": "Anna Schmidt", "reason": "no-consent"}]));
    assert!(!missing.iter().any(|r| r["path"].as_str().unwrap().ends_with("plain.jpg")));
    let table = stdout(&run(d, &["report", "missing", "--format", "table", "--no-state"]));
    assert!(table.contains("Anna Schmidt (keyword names a registered person: tag them as a person)"), "{table}");
    let german = stdout(&run(d, &["report", "missing", "--format", "table", "--no-state", "--lang", "de"]));
    assert!(
        german.contains("Anna Schmidt (Schlagwort nennt eine registrierte Person: als Person markieren)"),
        "{german}"
    );
    assert!(german.contains("niemand"), "{german}");
    // The HTML report names the hint as every other format does.
    let out = run(d, &["report", "missing", "--format", "html", "-o", "page", "--no-state"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = fs::read_to_string(d.join("archive/page/index.html")).unwrap();
    let hint = "keyword names a registered person: tag them as a person";
    assert!(html.contains("keyword-only.jpg") && html.contains(hint), "the hint is missing from the page");

    // A hint decides nothing: the file with nobody on it is cleared, as before.
    let out = run(d, &["check", "--for", "web", "--format", "jsonl", "--no-state"]);
    let blocking = jsonl(&out);
    assert!(!blocking.iter().any(|r| r["path"].as_str().unwrap().ends_with("keyword-only.jpg")), "{blocking:?}");
    assert!(!blocking.iter().any(|r| r["path"].as_str().unwrap().ends_with("iptc.jpg")), "{blocking:?}");
    let cleared = jsonl(&run(d, &["report", "cleared", "--for", "web", "--format", "jsonl", "--no-state"]));
    assert_eq!(by_name(&cleared, "keyword-only.jpg")["status"], "none");
}

/// The state keeps what was read: a file taken from it gives the same hints as a fresh read.
#[test]
fn records_from_the_state_give_the_same_hints() {
    let tmp = archive();
    let d = tmp.path();
    // Files changed within two seconds before a run are read again by the next one (their
    // stamps could hide a change in the same clock tick): wait that out.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let first = run(d, &["scan", "--format", "jsonl"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = run(d, &["scan", "--format", "jsonl"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    // The second run read no file: every record came from the state.
    let state_line = |out: &Output| stderr(out).lines().find(|l| l.starts_with("State ")).map(str::to_string);
    let line = state_line(&second).unwrap_or_else(|| panic!("{}", stderr(&second)));
    assert!(line.contains("4 files, 0 read, 4 unchanged"), "{line}");
    assert!(state_line(&first).unwrap().contains("4 files, 4 read"), "{}", stderr(&first));
    assert_eq!(jsonl(&second), jsonl(&first));
    assert_eq!(by_name(&jsonl(&second), "keyword-only.jpg")["hints"], json!([hint("Anna Schmidt")]));
    let missing = jsonl(&run(d, &["report", "missing", "--format", "jsonl"]));
    assert_eq!(by_name(&missing, "keyword-only.jpg")["missing"][0]["reason"], "keyword-names-person");
}

/// Keywords are hints: a `dc` property the parser refuses (two children in `dc:description`, a
/// `dc:subject` without container, embedded or in a sidecar) costs the hints, never the file's
/// reading. Before, such files became unreadable (and `report changes` said became-unreadable
/// for files nobody touched).
#[test]
fn a_malformed_dc_property_never_makes_a_file_unreadable() {
    let tmp = archive();
    let a = tmp.path().join("archive/event");
    let ben = |dc: &str| {
        synth::xmp_packet(&format!(
            r#"<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Ben Meyer</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage>{dc}</rdf:Description>"#
        ))
    };
    jpeg(&a.join("description.jpg"), Some(ben("<dc:description><dc:a>x</dc:a><dc:b>y</dc:b></dc:description>")), &[]);
    jpeg(&a.join("sidecar.jpg"), None, &[]);
    fs::write(
        a.join("sidecar.jpg.xmp"),
        ben("<dc:subject><rdf:li>Anna Schmidt</rdf:li><rdf:li>x</rdf:li></dc:subject>"),
    )
    .unwrap();
    let out = run(tmp.path(), &["scan", "--format", "jsonl", "--no-state"]);
    let rows = jsonl(&out);
    for name in ["description.jpg", "sidecar.jpg"] {
        let r = by_name(&rows, name);
        assert_eq!((r["status"].as_str(), &r["error"]), (Some("green"), &Value::Null), "{r}");
        assert_eq!(r["persons"], json!(["Ben Meyer"]), "{r}");
    }
}
