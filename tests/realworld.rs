//! Conformance: persons and unnamed faces read from files written by other software equal what
//! exiftool reads (`../shared/realworld/expected.json`). Skipped when the folder is absent, except
//! under `CI=true`, where it fails.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

fn realworld() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld");
    dir.join("expected.json").is_file().then_some(dir)
}

#[test]
fn persons_and_unnamed_faces_match_exiftool() {
    let Some(dir) = realworld() else {
        support::missing("../shared/realworld");
        return;
    };
    let expected: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    // The state goes to a temporary directory: the shared folder is read by other checkouts
    // (of other state schemas) too, and records reused from a state would not be read again.
    let state = tempfile::tempdir().unwrap();
    let out = support::consentry()
        .args(["scan", "--format", "json", "--quiet", "--state"])
        .arg(state.path().join("state.sqlite"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen = BTreeMap::new();
    for r in &records {
        let name = PathBuf::from(r["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(r["error"], Value::Null, "{name}: {}", r["error"]);
        seen.insert(name, (r["persons"].clone(), r["unnamed_faces"].clone()));
    }
    let mut mismatches = Vec::new();
    for (name, want) in &expected {
        match seen.get(name) {
            None => mismatches.push(format!("{name}: not scanned")),
            Some((persons, faces)) => {
                if *persons != want["persons"] || *faces != want["unnamed_faces"] {
                    mismatches.push(format!(
                        "{name}: got persons {persons} faces {faces}, exiftool reads {} faces {}",
                        want["persons"], want["unnamed_faces"]
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // photoshop.xmp is a sidecar, merged into photoshop.jpg, not a record of its own.
    assert_eq!(records.len(), expected.len());
    let ps = records.iter().find(|r| r["path"].as_str().unwrap().ends_with("photoshop.jpg")).unwrap();
    assert!(ps["sidecars"][0].as_str().unwrap().ends_with("photoshop.xmp"));
}
