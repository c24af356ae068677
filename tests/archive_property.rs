//! Property (SPEC.md 1): a file's record depends only on the file, its own archive's register
//! and the date, never on how the command reached it. For random pairs of archives (nested
//! folders, scoped and unscoped consents, exemptions, directory links within an archive and
//! into the other one, a file link), every file's record (status, missing, usage, persons, consents) is the
//! same whether the command names the archive root, any folder, the file itself, or the root
//! together with the other archive.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;

const PERSONS: &[&str] = &["Anna Schmidt", "Ben Meyer", "Carla Roth", "Dora Lang"];
const USAGES: &[&str] = &["print", "web", "social"];
/// Folders of each archive ("" is the root).
const FOLDERS: &[&str] = &["", "f1", "f1/g1", "f2"];
const SCOPES: &[&str] = &["*", "f1/**", "f1/g1/*", "f2/**", "*.jpg", "f1/*.jpg", "**/p1.jpg", "link/**"];
/// Where a link `f2/link` of an archive may point (relative to `f2`; `{other}`: the other
/// archive), or no link.
const LINKS: &[&str] = &["", "../f1/g1", "../../{other}/f1", "../../{other}"];

#[derive(Debug, Clone)]
struct Grant {
    person: usize,
    usage: Vec<usize>,
    scope: usize,
}

#[derive(Debug, Clone)]
struct Exemption {
    /// `None`: everyone.
    person: Option<usize>,
    scope: usize,
}

#[derive(Debug, Clone)]
struct ArchiveModel {
    /// Per folder, the photos: each the persons it shows.
    photos: Vec<Vec<Vec<usize>>>,
    grants: Vec<Grant>,
    exemptions: Vec<Exemption>,
    link: usize,
}

fn archive_model() -> impl Strategy<Value = ArchiveModel> {
    let photo = prop::collection::vec(0..PERSONS.len(), 0..3);
    let folder = prop::collection::vec(photo, 0..3);
    let grant = (0..PERSONS.len(), prop::collection::vec(0..USAGES.len(), 1..3), 0..SCOPES.len())
        .prop_map(|(person, usage, scope)| Grant { person, usage, scope });
    let exemption = (prop::option::weighted(0.7, 0..PERSONS.len()), 0..SCOPES.len())
        .prop_map(|(person, scope)| Exemption { person, scope });
    (
        prop::collection::vec(folder, FOLDERS.len()),
        prop::collection::vec(grant, 0..6),
        prop::collection::vec(exemption, 0..2),
        0..LINKS.len(),
    )
        .prop_map(|(photos, grants, exemptions, link)| ArchiveModel { photos, grants, exemptions, link })
}

fn photo(path: &Path, persons: &[usize]) {
    fs::write(path, [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    let items: String = persons.iter().map(|&p| format!("<rdf:li>{}</rdf:li>", PERSONS[p])).collect();
    fs::write(
        format!("{}.xmp", path.display()),
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
        ),
    )
    .unwrap();
}

/// Write archive `name` under `base`: its folders and photos, its register (a directory of
/// CSV files beside the photos' folders) and consentry.toml. Returns its photos.
fn write(base: &Path, name: &str, m: &ArchiveModel) -> Vec<PathBuf> {
    let root = base.join(name);
    let mut files = Vec::new();
    for (folder, photos) in FOLDERS.iter().zip(&m.photos) {
        let dir = root.join(folder);
        fs::create_dir_all(&dir).unwrap();
        for (i, persons) in photos.iter().enumerate() {
            let path = dir.join(format!("p{i}.jpg"));
            photo(&path, persons);
            files.push(path);
        }
    }
    let reg = base.join(format!("reg-{name}"));
    fs::create_dir_all(&reg).unwrap();
    let mut consents = "id,person,usage,granted,scope\n".to_string();
    for (i, g) in m.grants.iter().enumerate() {
        let usage: Vec<&str> = g.usage.iter().map(|&u| USAGES[u]).collect();
        consents.push_str(&format!(
            "{name}{i},{},\"{}\",2024-01-01,{}\n",
            PERSONS[g.person],
            usage.join(","),
            SCOPES[g.scope]
        ));
    }
    fs::write(reg.join("consents.csv"), consents).unwrap();
    let mut exemptions = "scope,person,reason,note\n".to_string();
    for e in &m.exemptions {
        let person = e.person.map_or("*", |p| PERSONS[p]);
        exemptions.push_str(&format!("{},{person},other,\n", SCOPES[e.scope]));
    }
    fs::write(reg.join("exemptions.csv"), exemptions).unwrap();
    fs::write(root.join("consentry.toml"), format!("register = \"../reg-{name}\"\n")).unwrap();
    files
}

/// The fields compared, of every record of a scan, by real path.
fn scan(dir: &Path, paths: &[&Path]) -> BTreeMap<PathBuf, Value> {
    let mut cmd = support::consentry();
    cmd.args(["scan", "--format", "jsonl", "--as-of", "2026-11-22", "--no-state", "-q", "--threads", "2"])
        .args(paths)
        .current_dir(dir)
        .env_remove("CONSENTRY_REGISTER")
        .env("XDG_CACHE_HOME", dir.join(".cache"));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{paths:?}: {}", String::from_utf8_lossy(&out.stderr));
    let mut records = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let path = dir.join(r["path"].as_str().unwrap()).canonicalize().unwrap();
        let fields: serde_json::Map<String, Value> = ["status", "missing", "usage", "persons", "consents", "error"]
            .iter()
            .map(|k| (k.to_string(), r[*k].clone()))
            .collect();
        let before = records.insert(path.clone(), Value::Object(fields));
        assert!(before.is_none(), "{paths:?}: two records of {}", path.display());
    }
    records
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_files_record_does_not_depend_on_how_the_command_reached_it(
        a in archive_model(),
        b in archive_model(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let d = &tmp.path().canonicalize().unwrap();
        let mut files = write(d, "A", &a);
        files.extend(write(d, "B", &b));
        for (name, other, m) in [("A", "B", &a), ("B", "A", &b)] {
            // Not both into the other: that is a loop, reported as an error of the walk.
            let back = name == "B" && a.link >= 2 && b.link >= 2;
            if !LINKS[m.link].is_empty() && !back {
                let target = LINKS[m.link].replace("{other}", other);
                std::os::unix::fs::symlink(target, d.join(name).join("f2/link")).unwrap();
            }
        }
        // A file link into the other archive (its sidecar stays beside the real file).
        if a.link % 2 == 1 && d.join("B/p0.jpg").is_file() {
            std::os::unix::fs::symlink("../../B/p0.jpg", d.join("A/f1/zlink.jpg")).unwrap();
        }
        let (root_a, root_b) = (d.join("A"), d.join("B"));
        // Both archives in one command: every file once, each by its own archive.
        let reference = scan(d, &[&root_a, &root_b]);
        for f in &files {
            prop_assert!(reference.contains_key(f), "{} missing from `scan A B`", f.display());
        }
        let mut calls: Vec<Vec<PathBuf>> = vec![
            vec![root_a.clone()],
            vec![root_b.clone()],
            vec![root_b.clone(), root_a.clone()],
            vec![root_a.join("f1"), root_a.clone()],
        ];
        for root in [&root_a, &root_b] {
            for folder in FOLDERS.iter().chain(&["f2/link"]).filter(|f| !f.is_empty()) {
                if root.join(folder).is_dir() {
                    calls.push(vec![root.join(folder)]);
                }
            }
        }
        calls.extend(files.iter().map(|f| vec![f.clone()]));
        if root_a.join("f1/zlink.jpg").is_file() {
            calls.push(vec![root_a.join("f1/zlink.jpg")]);
        }
        if a.link != 0 && root_a.join("f2/link").is_dir() {
            calls.push(vec![root_a.join("f2/link/p0.jpg")]);
        }
        for call in calls {
            let paths: Vec<&Path> = call.iter().map(PathBuf::as_path).filter(|p| p.exists()).collect();
            if paths.is_empty() {
                continue;
            }
            for (path, record) in scan(d, &paths) {
                prop_assert_eq!(Some(&record), reference.get(&path), "{} by {:?}", path.display(), paths);
            }
        }
    }
}
