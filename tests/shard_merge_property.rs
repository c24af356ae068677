//! Property (SPEC.md 7a, issue 15): N shards, merged, print exactly what one run over the whole
//! archive prints. For random archives (nested folders, scoped, expiring and revoked consents,
//! exemptions, unreadable sidecars, orphan sidecars, a file name that is not UTF-8, a link loop
//! that every shard reports), `consentry merge` of `scan --shard K/N --results DIR` for N = 1..4
//! gives byte-identical records and reports (every kind, in JSON Lines, CSV and a table) and the
//! same exit code as `consentry scan` and `consentry report` over the archive.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Output;

use proptest::prelude::*;

const PERSONS: &[&str] = &["Anna Schmidt", "Ben Meyer", "Carla Roth", "Dora Lang", "Emil Stranger"];
const USAGES: &[&str] = &["print", "web", "social"];
const FOLDERS: &[&str] = &["", "f1", "f1/g1", "f2", "f2/h"];
const SCOPES: &[&str] = &["*", "f1/**", "f1/g1/*", "f2/**", "*.jpg", "**/p1.jpg"];
const EXPIRES: &[&str] = &["", "2026-12-01", "2027-01-10", "2026-10-01"];
const DATE: &str = "2026-11-22";

/// A photo: the persons it shows, and whether its sidecar is broken (an unreadable file).
type Photo = (Vec<usize>, bool);

#[derive(Debug, Clone)]
struct Model {
    photos: Vec<Vec<Photo>>,
    /// person, usages, scope, expiry, revoked
    grants: Vec<(usize, Vec<usize>, usize, usize, bool)>,
    /// person (`None`: everyone), scope
    exemptions: Vec<(Option<usize>, usize)>,
    orphan: bool,
    loop_link: bool,
    odd_name: bool,
}

fn model() -> impl Strategy<Value = Model> {
    let photo = (prop::collection::vec(0..PERSONS.len(), 0..3), prop::bool::weighted(0.1));
    let folder = prop::collection::vec(photo, 0..4);
    let grant = (
        0..PERSONS.len() - 1,
        prop::collection::vec(0..USAGES.len(), 1..3),
        0..SCOPES.len(),
        0..EXPIRES.len(),
        prop::bool::weighted(0.15),
    );
    (
        prop::collection::vec(folder, FOLDERS.len()),
        prop::collection::vec(grant, 0..7),
        prop::collection::vec((prop::option::weighted(0.7, 0..PERSONS.len()), 0..SCOPES.len()), 0..2),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(photos, grants, exemptions, orphan, loop_link, odd_name)| Model {
            photos,
            grants,
            exemptions,
            orphan,
            loop_link,
            odd_name,
        })
}

fn photo(path: &Path, persons: &[usize], broken: bool) {
    fs::write(path, [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    let items: String = persons.iter().map(|&p| format!("<rdf:li>{}</rdf:li>", PERSONS[p])).collect();
    let end = if broken { "" } else { "</rdf:RDF></x:xmpmeta>" };
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(".xmp");
    fs::write(
        sidecar,
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description>{end}"#
        ),
    )
    .unwrap();
}

/// The archive `A` of the model under `base`, with its register `reg` beside it.
fn write(base: &Path, m: &Model) {
    let root = base.join("A");
    for (folder, photos) in FOLDERS.iter().zip(&m.photos) {
        let dir = root.join(folder);
        fs::create_dir_all(&dir).unwrap();
        for (i, (persons, broken)) in photos.iter().enumerate() {
            photo(&dir.join(format!("p{i}.jpg")), persons, *broken);
        }
    }
    if m.orphan {
        fs::write(root.join("f1/lonely.xmp"), "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    }
    if m.loop_link {
        std::os::unix::fs::symlink("..", root.join("f2/h/up")).unwrap();
    }
    if m.odd_name {
        photo(&root.join("f2").join(OsStr::from_bytes(b"caf\xe9.jpg")), &[0, 1], false);
    }
    let reg = base.join("reg");
    fs::create_dir_all(&reg).unwrap();
    let mut consents = "id,person,usage,granted,expires,revoked,scope\n".to_string();
    for (i, (person, usage, scope, expires, revoked)) in m.grants.iter().enumerate() {
        let usage: Vec<&str> = usage.iter().map(|&u| USAGES[u]).collect();
        let revoked = if *revoked { "2026-11-01" } else { "" };
        consents.push_str(&format!(
            "c{i},{},\"{}\",2024-01-01,{},{revoked},{}\n",
            PERSONS[*person],
            usage.join(","),
            EXPIRES[*expires],
            SCOPES[*scope]
        ));
    }
    fs::write(reg.join("consents.csv"), consents).unwrap();
    let mut exemptions = "scope,person,reason,note\n".to_string();
    for (person, scope) in &m.exemptions {
        let person = person.map_or("*", |p| PERSONS[p]);
        exemptions.push_str(&format!("{},{person},other,\n", SCOPES[*scope]));
    }
    fs::write(reg.join("exemptions.csv"), exemptions).unwrap();
    fs::write(root.join("consentry.toml"), "register = \"../reg\"\n").unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    support::consentry()
        .args(args)
        .args(["--threads", "2", "-q"])
        .current_dir(dir)
        .env_remove("CONSENTRY_REGISTER")
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .output()
        .unwrap()
}

/// What is compared of a run: its exit code and its stdout.
fn outcome(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The report kinds with their options.
const REPORTS: &[&[&str]] = &[
    &["missing"],
    &["expiring", "--within", "60"],
    &["consents"],
    &["unreleased", "--for", "web"],
    &["cleared", "--for", "web,print"],
    &["unknown-persons"],
    &["summary"],
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merged_shards_print_what_one_run_prints(m in model(), formats in prop::sample::subsequence(vec!["jsonl", "csv", "table"], 1..=3)) {
        let tmp = tempfile::tempdir().unwrap();
        let d = &tmp.path().canonicalize().unwrap();
        write(d, &m);
        // One run over the archive: the records and every report, in each format.
        let mut single = Vec::new();
        for format in &formats {
            single.push(outcome(&run(d, &["scan", "A", "--as-of", DATE, "--no-state", "--format", format])));
            for report in REPORTS {
                let mut args = vec!["report"];
                args.extend_from_slice(report);
                args.extend(["A", "--as-of", DATE, "--no-state", "--format", format]);
                single.push(outcome(&run(d, &args)));
            }
        }
        for n in 1..=4u32 {
            let results = format!("results-{n}");
            for k in 0..n {
                let o = run(d, &["scan", "A", "--as-of", DATE, "--no-state", "--shard", &format!("{k}/{n}"), "--results", &results]);
                prop_assert!(matches!(o.status.code(), Some(0 | 3)), "shard {k}/{n}: {}", String::from_utf8_lossy(&o.stderr));
                prop_assert!(o.stdout.is_empty(), "scan --results printed records");
            }
            let mut expected = single.iter();
            for format in &formats {
                let merged = run(d, &["merge", &results, "--format", format]);
                prop_assert_eq!(&outcome(&merged), expected.next().unwrap(), "records, {} shards, {}: {}", n, format, String::from_utf8_lossy(&merged.stderr));
                for report in REPORTS {
                    let mut args = vec!["merge", results.as_str(), "--report"];
                    args.extend_from_slice(report);
                    args.extend(["--format", format]);
                    let merged = run(d, &args);
                    prop_assert_eq!(
                        &outcome(&merged),
                        expected.next().unwrap(),
                        "report {:?}, {} shards, {}: {}",
                        report, n, format, String::from_utf8_lossy(&merged.stderr)
                    );
                }
            }
        }
    }
}

/// What a round of changes does to the archive between two nightly runs: photos removed, moved
/// (with their sidecars, the same files) to another folder, and retagged.
#[derive(Debug, Clone)]
struct Night {
    /// (folder, photo) picks, taken modulo what exists.
    removed: Vec<(usize, usize)>,
    moved: Vec<(usize, usize, usize)>,
    retagged: Vec<(usize, usize, Vec<usize>)>,
}

fn night() -> impl Strategy<Value = Night> {
    let pick = (0..FOLDERS.len(), 0..4usize);
    (
        prop::collection::vec(pick.clone(), 0..3),
        prop::collection::vec((0..FOLDERS.len(), 0..4usize, 0..FOLDERS.len()), 0..4),
        prop::collection::vec((0..FOLDERS.len(), 0..4usize, prop::collection::vec(0..PERSONS.len(), 0..3)), 0..3),
    )
        .prop_map(|(removed, moved, retagged)| Night { removed, moved, retagged })
}

/// Apply a night's changes to the archive `A` under `d`.
fn change(d: &Path, night: &Night) {
    let root = d.join("A");
    let photo_at = |folder: usize, i: usize| root.join(FOLDERS[folder]).join(format!("p{i}.jpg"));
    let sidecar = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".xmp");
        std::path::PathBuf::from(s)
    };
    for &(folder, i) in &night.removed {
        let p = photo_at(folder, i);
        if p.is_file() {
            fs::remove_file(&p).unwrap();
            let _ = fs::remove_file(sidecar(&p));
        }
    }
    for (n, &(folder, i, to)) in night.moved.iter().enumerate() {
        let p = photo_at(folder, i);
        if p.is_file() {
            let dest = root.join(FOLDERS[to]).join(format!("m{n}.jpg"));
            fs::rename(&p, &dest).unwrap();
            let _ = fs::rename(sidecar(&p), sidecar(&dest));
        }
    }
    for (folder, i, persons) in &night.retagged {
        let p = photo_at(*folder, *i);
        if p.is_file() {
            photo(&p, persons, false);
        }
    }
}

/// `report changes` (or the merge's) as JSON Lines without the run's time (two runs at two
/// times), and the exit code of `--exit-code`.
fn changes_of(o: &Output) -> (Option<i32>, Vec<String>) {
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("run");
            v.to_string()
        })
        .collect();
    (o.status.code(), lines)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merged_shards_report_the_changes_one_run_reports(m in model(), night in night(), n in 2..=3u32) {
        let tmp = tempfile::tempdir().unwrap();
        let d = &tmp.path().canonicalize().unwrap();
        write(d, &m);
        // Two nights: the first a baseline, the second after the changes, later (consents
        // expire in between), each as one run (its own state) and as N shards (theirs).
        for (night_of, date) in [(1, DATE), (2, "2026-12-05")] {
            if night_of == 2 {
                change(d, &night);
            }
            let one = run(d, &["scan", "A", "--as-of", date, "--format", "jsonl"]);
            prop_assert!(matches!(one.status.code(), Some(0 | 3)), "{}", String::from_utf8_lossy(&one.stderr));
            let results = format!("results-{night_of}");
            for k in 0..n {
                let o = run(d, &["scan", "A", "--as-of", date, "--shard", &format!("{k}/{n}"), "--results", &results]);
                prop_assert!(matches!(o.status.code(), Some(0 | 3)), "shard {k}/{n}: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
        let single = run(d, &["report", "changes", "A", "--format", "jsonl", "--exit-code"]);
        let merged = run(d, &["merge", "results-2", "--report", "changes", "--format", "jsonl", "--exit-code"]);
        prop_assert_eq!(changes_of(&merged), changes_of(&single), "{}", String::from_utf8_lossy(&merged.stderr));
    }
}
