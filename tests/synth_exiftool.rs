//! Cross-check of the test-file generator (`consentry-synth`) with the reference reader: exiftool
//! reads the persons, unnamed faces and dates of the fixture archive and of every XMP `Style`
//! exactly as the generator says it wrote them. Skipped when exiftool is not installed
//! (`scripts/test.sh` installs it), except under `CI=true`, where that fails.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use consentry_synth::{
    fixture_expected, fixture_files, fixture_sidecars, keyword_persons, normalize_name, people_leaf, sample_people,
    write_fixture_archive, xmp_body_for, xmp_for, xmp_meta, Expected, Style, SynthFormat, DEFAULT_PEOPLE_ROOTS,
    MP_UNNAMED,
};
use support::exiftool_available;

fn json_list(v: Option<&serde_json::Value>) -> Vec<serde_json::Value> {
    match v {
        None => Vec::new(),
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    }
}

fn json_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o.values().next().map(json_str).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Persons and unnamed faces in one exiftool `-j -struct -G1` record, by the rules of SPEC.md.
fn exiftool_people(rec: &serde_json::Map<String, serde_json::Value>, persons: &mut BTreeSet<String>) -> usize {
    let mut unnamed = 0;
    let add = |n: String, persons: &mut BTreeSet<String>| {
        let n = normalize_name(&n);
        if !n.is_empty() {
            persons.insert(n);
        }
    };
    for (key, v) in rec {
        let name = key.rsplit(':').next().unwrap();
        match name {
            "PersonInImage" => json_list(Some(v)).iter().for_each(|n| add(json_str(n), persons)),
            "PersonInImageWDetails" => {
                for d in json_list(Some(v)) {
                    json_list(d.get("PersonName")).iter().for_each(|n| add(json_str(n), persons));
                }
            }
            "ImageRegion" => {
                for r in json_list(Some(v)) {
                    json_list(r.get("PersonInImage")).iter().for_each(|n| add(json_str(n), persons));
                }
            }
            "RegionInfo" => {
                for r in json_list(v.get("RegionList")) {
                    if r.get("Type").map(json_str).as_deref() == Some("Face") {
                        match r.get("Name") {
                            Some(n) => add(json_str(n), persons),
                            None => unnamed += 1,
                        }
                    }
                }
            }
            "RegionInfoMP" => {
                for r in json_list(v.get("Regions")) {
                    match r.get("PersonDisplayName").map(json_str) {
                        Some(n) if n != MP_UNNAMED => add(n, persons),
                        _ => unnamed += 1,
                    }
                }
            }
            "TagsList" => persons.extend(
                json_list(Some(v)).iter().filter_map(|t| people_leaf(&json_str(t), &['/'], &DEFAULT_PEOPLE_ROOTS)),
            ),
            "HierarchicalSubject" => persons.extend(
                json_list(Some(v)).iter().filter_map(|t| people_leaf(&json_str(t), &['|'], &DEFAULT_PEOPLE_ROOTS)),
            ),
            "Keywords" => persons.extend(keyword_persons(
                json_list(Some(v)).iter().map(json_str).collect::<Vec<_>>().iter().map(String::as_str),
            )),
            "XPKeywords" => persons.extend(keyword_persons(json_str(v).split(';'))),
            _ => {}
        }
    }
    unnamed
}

#[test]
fn exiftool_reads_the_intended_persons() {
    if !exiftool_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_fixture_archive(dir).unwrap();
    let out = Command::new("exiftool")
        .args(["-j", "-struct", "-G1", "-charset", "utf8"])
        .args(["-XMP:all", "-IPTC:Keywords", "-EXIF:XPKeywords", "-EXIF:DateTimeOriginal"])
        .args(["-QuickTime:CreateDate", "-Warning", "-Error", "-r", "-ext", "*", "."])
        .current_dir(dir)
        .output()
        .expect("run exiftool");
    let records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("exiftool JSON: {e}"));
    let by_path: BTreeMap<String, &serde_json::Map<String, serde_json::Value>> =
        records.iter().map(|r| (r["SourceFile"].as_str().unwrap().trim_start_matches("./").to_string(), r)).collect();
    let sidecars = fixture_sidecars();
    let oracle = fixture_expected();
    let mut checked = 0;
    for f in fixture_files() {
        let rec = by_path.get(f.path).unwrap_or_else(|| panic!("exiftool did not report {}", f.path));
        for (k, v) in rec.iter() {
            if k.ends_with(":Error") || k == "Error" {
                panic!("{}: exiftool error {v}", f.path);
            }
            if k.ends_with("Warning") {
                let w = json_str(v);
                let allowed = (f.format == SynthFormat::HeicIdat && w.contains("construction method 1"))
                    || (f.path.ends_with("misnamed.jpg") && w.contains("wrong extension"));
                assert!(allowed, "{}: exiftool warning {w}", f.path);
            }
        }
        let expected = oracle[f.path].clone();
        if f.format == SynthFormat::HeicIdat {
            eprintln!("note: exiftool cannot read idat items; {} checked structurally only", f.path);
            continue;
        }
        let mut persons = BTreeSet::new();
        let mut unnamed = exiftool_people(rec, &mut persons);
        for (sc, _) in sidecars.iter().filter(|(_, m)| m == f.path) {
            unnamed += exiftool_people(by_path[sc.as_str()], &mut persons);
        }
        let got = Expected { persons: persons.into_iter().collect(), unnamed_faces: unnamed };
        assert_eq!(got, expected, "{}: exiftool disagrees with the construction", f.path);
        let dto = rec.iter().find(|(k, _)| k.ends_with(":DateTimeOriginal")).map(|(_, v)| json_str(v));
        assert_eq!(dto.as_deref(), f.date_time_original, "{}", f.path);
        if let Some(qt) = f.quicktime_created {
            let days = (qt / 86_400) as i64 - 24_107; // 1904-01-01 -> 1970-01-01
            let date = chrono::DateTime::from_timestamp(days * 86_400 + (qt % 86_400) as i64, 0).unwrap();
            let want = date.format("%Y:%m:%d %H:%M:%S").to_string();
            // exiftool appends "+00:00" for CR3 (whose QuickTime dates it knows to be UTC)
            let got = rec.get("QuickTime:CreateDate").map(json_str);
            assert_eq!(got.as_deref().map(|d| d.trim_end_matches("+00:00")), Some(want.as_str()), "{}", f.path);
        }
        checked += 1;
    }
    assert!(checked >= 25);
}

#[test]
fn exiftool_reads_every_source_in_every_style() {
    if !exiftool_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let people = sample_people();
    let mut files = Vec::new();
    for (name, style) in Style::presets() {
        for (i, st) in [style, Style { split: !style.split, pretty: !style.pretty, ..style }].into_iter().enumerate() {
            let file = format!("{name}-{i}.xmp");
            let text = if i == 0 { xmp_for(&people, st) } else { xmp_meta(&xmp_body_for(&people, st)) };
            std::fs::write(dir.join(&file), text).unwrap();
            files.push(file);
        }
    }
    let out = Command::new("exiftool")
        .args(["-j", "-struct", "-G1", "-charset", "utf8", "-XMP:all", "-Warning", "-Error"])
        .args(&files)
        .current_dir(dir)
        .output()
        .expect("run exiftool");
    let records: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.len(), files.len());
    let want = Expected { persons: people.persons().into_iter().collect(), unnamed_faces: people.unnamed_faces() };
    for rec in &records {
        let file = rec["SourceFile"].as_str().unwrap();
        assert!(!rec.keys().any(|k| k.ends_with("Warning") || k.ends_with("Error")), "{file}: {rec:?}");
        let mut persons = BTreeSet::new();
        let unnamed = exiftool_people(rec, &mut persons);
        let got = Expected { persons: persons.into_iter().collect(), unnamed_faces: unnamed };
        assert_eq!(got, want, "{file}");
        let subject: Vec<String> = json_list(rec.get("XMP-dc:Subject")).iter().map(json_str).collect();
        assert_eq!(subject, people.dc_subject, "{file}");
        assert!(rec.contains_key("XMP-photoshop:DateCreated") && rec.contains_key("XMP-xmp:CreateDate"), "{file}");
    }
}
