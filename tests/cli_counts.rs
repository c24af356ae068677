//! The counts of files per consent are named the same and mean the same in every report that
//! shows them (`report expiring`, `report consents`, `consent search`): `files` is the number
//! of files whose decision uses the consent, whatever their status (a yellow file uses the
//! consent of the person who has one), and `would_stop_cleared` the number of green files that
//! would stop being green without it. Run on one copy of the fixture archive, on one day.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The day every report evaluates on: consents 13.x (2099-03-31), 14 and 3.x (2099-06-30)
/// expire within 200 days of it.
const AS_OF: &str = "2099-03-01";

fn report(archive: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.extend([".", "--as-of", AS_OF, "--no-state", "--quiet", "--format", "json"]);
    let out = support::run(&all, archive);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", support::stderr(&out));
    serde_json::from_str::<Value>(&support::stdout(&out)).unwrap().as_array().unwrap().clone()
}

/// (files, would_stop_cleared) by consent id.
fn counts(rows: &[Value]) -> BTreeMap<String, (u64, u64)> {
    rows.iter()
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} is not a count: {r}"));
            (r["id"].as_str().unwrap().to_string(), (n("files"), n("would_stop_cleared")))
        })
        .collect()
}

#[test]
fn the_same_consent_has_the_same_counts_in_every_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = support::copy_fixtures(tmp.path());
    let expiring = report(&archive, &["report", "expiring", "--within", "200"]);
    let consents = counts(&report(&archive, &["report", "consents"]));
    let expiring_counts = counts(&expiring);
    assert!(expiring_counts.len() >= 5, "{expiring:?}");
    for (id, n) in &expiring_counts {
        assert_eq!(consents.get(id), Some(n), "consent {id}: report expiring and report consents differ");
    }
    // Lena Fischer's part of the group consent 3: the summer-fest photo showing her is yellow
    // (someone else in it has none), so it uses her consent but is not cleared by it. `report
    // expiring` counted 0 files for it before, while `consent search` counted 1.
    assert_eq!(expiring_counts["3.1"], (1, 0));
    // The shooting of 2024-03: two green files, each cleared by the consent alone.
    assert_eq!(expiring_counts["13.1"], (2, 2));
    let paths = |id: &str| -> Vec<String> {
        let row = expiring.iter().find(|r| r["id"] == id).unwrap();
        row["would_stop_cleared_paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(paths("13.1").len(), 2);
    assert!(paths("3.1").is_empty());
    for (person, id) in [("Lena Fischer", "3.1"), ("paula vogt", "13.1"), ("Carla Winter", "14")] {
        let found = counts(&report(&archive, &["consent", "search", "--person", person]));
        assert_eq!(found.get(id), consents.get(id), "consent search --person {person:?}");
        assert_eq!(found.get(id), expiring_counts.get(id), "{person}");
    }
}

#[test]
fn tables_show_both_counts_under_the_same_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, _) = support::copy_fixtures(tmp.path());
    for args in [&["report", "expiring", "--within", "200"][..], &["report", "consents"], &["consent", "search"]] {
        let mut all = args.to_vec();
        all.extend([".", "--as-of", AS_OF, "--no-state", "--quiet", "--format", "table", "--lang", "en"]);
        let out = support::run(&all, &archive);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", support::stderr(&out));
        let text = support::stdout(&out);
        let header = text.lines().next().unwrap();
        assert!(header.contains("FILES") && header.contains("WOULD STOP CLEARED"), "{args:?}: {header}");
    }
}
