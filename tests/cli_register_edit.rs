//! End-to-end tests of the commands that change an SQLite register: `consent add | assign |
//! revoke | extend`, `exempt` (and `remove`, `list`), `originator ...`, `person ...` and
//! `register init`, each on a copy of the fixture archive and its SQLite register: what they
//! print, what the register and its audit log hold afterwards, and what a following `scan`
//! says. Refused changes and dry runs leave the register byte for byte as it was.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The day scans evaluate on.
const TODAY: &str = "2026-11-22";

/// A copy of the fixture archive (`archive/`, its consentry.toml naming the SQLite register)
/// and register (`register/`) in a temporary directory. The evidence folder defaults to
/// `dsgvo/` beside the archive.
struct Setup {
    tmp: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let (archive, _) = support::copy_fixtures_sqlite(tmp.path());
        let _ = fs::remove_dir_all(archive.join(".consentry"));
        Setup { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn db(&self) -> PathBuf {
        self.path("register/register.sqlite")
    }

    /// Run consentry in the archive as actor `tester`.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::consentry();
        c.args(args)
            .current_dir(self.path("archive"))
            .env_remove("CONSENTRY_REGISTER")
            .env("CONSENTRY_ACTOR", "tester");
        c
    }

    /// Run and expect success; the JSON Lines it printed.
    fn ok(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.extend(["--format", "jsonl"]);
        let out = self.run(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        jsonl(&out)
    }

    /// Run and expect a refusal (exit 2, nothing on stdout); its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?} should be refused: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        err
    }

    /// A new evidence PDF beside the archive.
    fn pdf(&self, name: &str) -> String {
        let path = self.path(name);
        fs::write(&path, format!("%PDF-1.4\n% signed form {name}\n%%EOF\n")).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Status of each file a scan on `as_of` reports, by archive-relative path.
    fn statuses(&self, as_of: &str, paths: &[&str]) -> BTreeMap<String, String> {
        let mut args = vec!["scan", "--as-of", as_of, "--no-state", "--quiet", "--format", "jsonl"];
        args.extend(paths);
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        jsonl(&out)
            .into_iter()
            .filter(|r| r.get("status").is_some())
            .map(|r| (r["path"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
            .collect()
    }

    fn status(&self, as_of: &str, path: &str) -> String {
        self.statuses(as_of, &[path])[path].clone()
    }

    fn sql<T: rusqlite::types::FromSql>(&self, query: &str) -> Vec<T> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn.prepare(query).unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Audit entries after the import the fixture register starts with: (actor, action,
    /// entity, detail).
    fn audit(&self) -> Vec<(String, String, String, Value)> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn
            .prepare("SELECT actor, action, entity, detail FROM audit_log WHERE action <> 'import' ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                let detail: String = r.get(3)?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, serde_json::from_str(&detail).unwrap()))
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Action and entity of each audit entry after the import.
    fn logged(&self) -> Vec<[String; 2]> {
        self.audit().into_iter().map(|(_, action, entity, _)| [action, entity]).collect()
    }

    fn register_bytes(&self) -> Vec<u8> {
        fs::read(self.db()).unwrap()
    }
}

/// `consent add` for `person` with `usage` from `granted`, with evidence `pdf` and more options.
fn add<'a>(person: &'a str, usage: &'a str, granted: &'a str, pdf: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args =
        vec!["consent", "add", "--person", person, "--usage", usage, "--granted", granted, "--document", pdf];
    args.extend(more);
    args
}

/// The string fields `keys` of each row.
fn cells<'a>(rows: &'a [Value], keys: &[&str]) -> Vec<Vec<&'a str>> {
    rows.iter().map(|r| keys.iter().map(|k| r[*k].as_str().unwrap_or_default()).collect()).collect()
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sha256(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn consent_add_records_single_and_group_consents_and_stores_the_evidence_once() {
    let s = Setup::new();
    let pdf = s.pdf("paul-becker.pdf");
    // Paul Becker is tagged in IMG_1002.jpg with two persons who have consents, and unknown.
    assert_eq!(s.status(TODAY, "2023/summer-fest/IMG_1002.jpg"), "yellow");
    let more = [
        "--expires",
        "2030-12-31",
        "--originator",
        "pressestelle",
        "--comment",
        "Vereinsfest",
        "--copyright",
        "© Verein",
    ];
    let rows = s.ok(&add("Paul Becker", "Internet,Druck,web", "01.02.2024", &pdf, &more));
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r["action"].as_str(), r["id"].as_str(), r["person"].as_str()),
        (Some("added"), Some("15"), Some("Paul Becker"))
    );
    assert_eq!(r["usage"], serde_json::json!(["print", "web"]));
    assert_eq!((r["granted"].as_str(), r["expires"].as_str()), (Some("2024-02-01"), Some("2030-12-31")));
    assert_eq!((r["stored"].as_str(), r["originator"].as_str()), (Some("copied"), Some("Pressestelle")));
    assert_eq!(r["note"], "new person");
    // Copied beside the archive into dsgvo/ (0700), the copy 0600, recorded relative to the
    // register's directory with its SHA-256.
    let copy = s.path("dsgvo/paul-becker.pdf");
    assert_eq!(fs::read(&copy).unwrap(), fs::read(&pdf).unwrap());
    assert_eq!((mode(&s.path("dsgvo")), mode(&copy)), (0o700, 0o600));
    assert_eq!(r["document"], "../dsgvo/paul-becker.pdf");
    assert_eq!(r["sha256"], sha256(&copy));
    let docs: Vec<String> = s.sql("SELECT path || ' ' || sha256 FROM documents WHERE path LIKE '../dsgvo/%'");
    assert_eq!(docs, [format!("../dsgvo/paul-becker.pdf {}", sha256(&copy))]);
    assert_eq!(s.status(TODAY, "2023/summer-fest/IMG_1002.jpg"), "green");

    // A group consent with the same document: one consent per person, ids 16.1 and 16.2,
    // names resolved through aliases, the document stored once.
    let others = ["--person", "Schmidt, Anna", "--person", "Anna Schmidt", "--scope", "2023/summer-fest/*", "2024/**"];
    let group = s.ok(&add("Karl Hoffmann", "web", "2024-01-01", &pdf, &others));
    assert_eq!(
        cells(&group, &["id", "person", "stored"]),
        [["16.1", "Karl Hoffmann", "already in the register"], ["16.2", "Anna Schmidt", "already in the register"]]
    );
    assert_eq!(group[0]["scope"], serde_json::json!(["2023/summer-fest/*", "2024/**"]));
    assert_eq!(group[0]["originator"], "Pressestelle", "the document's originator");
    assert_eq!(fs::read_dir(s.path("dsgvo")).unwrap().count(), 1);
    let scopes: Vec<String> = s.sql("SELECT glob FROM consent_scope WHERE consent_id = '16.2' ORDER BY glob");
    assert_eq!(scopes, ["2023/summer-fest/*", "2024/**"]);
    // IMG_1003.JPG shows Karl Hoffmann (now consented) and two unnamed faces.
    let missing =
        s.run(&["scan", "2023/summer-fest/IMG_1003.JPG", "--as-of", TODAY, "--no-state", "--format", "jsonl"]);
    let rec = &jsonl(&missing)[0];
    assert_eq!(rec["status"], "yellow");
    assert_eq!(rec["consents"], serde_json::json!(["16.1"]));

    // The audit log: who, what, and the rows as recorded.
    let audit = s.audit();
    let entities: Vec<(&str, &str, &str)> =
        audit.iter().map(|(a, b, c, _)| (a.as_str(), b.as_str(), c.as_str())).collect();
    assert_eq!(
        entities,
        [
            ("tester", "consent add", "document 15"),
            ("tester", "consent add", "person 21"),
            ("tester", "consent add", "consent 15"),
            ("tester", "consent add", "consent 16.1"),
            ("tester", "consent add", "consent 16.2"),
        ]
    );
    let after = &audit[2].3["after"];
    assert_eq!(audit[2].3["before"], Value::Null);
    assert_eq!(
        (after["person"].as_str(), after["sha256"].as_str()),
        (Some("Paul Becker"), Some(sha256(&copy).as_str()))
    );
    assert_eq!((after["comment"].as_str(), after["copyright"].as_str()), (Some("Vereinsfest"), Some("© Verein")));
    // The first change upgraded the register to the current schema; it still loads and checks.
    assert_eq!(s.sql::<i64>("PRAGMA user_version"), [2]);
    let check = s.run(&["register", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));

    // consent search lists it with its document, originator and files.
    let found = s.ok(&["consent", "search", "--person", "paul becker", ".", "--no-state", "--quiet", "--as-of", TODAY]);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0]["document"].as_str(), found[0]["files"].as_u64()),
        (Some("../dsgvo/paul-becker.pdf"), Some(1))
    );
    assert_eq!(found[0]["evidence"], "ok");
}

#[test]
fn consent_assign_covers_exactly_the_given_files() {
    let s = Setup::new();
    let pdf = s.pdf("shooting.pdf");
    let raw = ["raw/2024-03-10/IMG_0002.CR2", "raw/2024-03-10/P0004.RW2"];
    let before = s.statuses(TODAY, &["raw"]);
    assert_eq!((before[raw[0]].as_str(), before[raw[1]].as_str()), ("red", "red"));
    let mut args = vec!["consent", "assign"];
    args.extend(raw);
    args.extend(["--usage", "web,print", "--granted", "2024-03-10", "--document", &pdf, "--format", "jsonl"]);
    let out = s.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("Created 4 consent(s) for 2 file(s)"), "{}", stderr(&out));
    let rows = jsonl(&out);
    let persons: Vec<&str> = rows.iter().map(|r| r["person"].as_str().unwrap()).collect();
    assert_eq!(persons, ["Anton Jung", "Elias Busch", "Johanna Peters", "Luise Kuhn"]);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["15.1", "15.2", "15.3", "15.4"]);
    for id in ids {
        let scope: Vec<String> =
            s.sql(&format!("SELECT glob FROM consent_scope WHERE consent_id = '{id}' ORDER BY glob"));
        assert_eq!(scope, raw, "{id}");
    }
    // Those two files are green now; the others in the folder are as they were.
    let after = s.statuses(TODAY, &["raw"]);
    assert_eq!((after[raw[0]].as_str(), after[raw[1]].as_str()), ("green", "green"));
    for (path, status) in &before {
        if !raw.contains(&path.as_str()) {
            assert_eq!(&after[path], status, "{path}");
        }
    }
    assert_eq!(s.audit().iter().filter(|e| e.1 == "consent assign" && e.2.starts_with("consent ")).count(), 4);

    // Only the named persons; a name not in any of the files is refused.
    let cr3 = |person: &'static str| {
        [
            "consent",
            "assign",
            "raw/2024-03-10/IMG_0006.CR3",
            "--person",
            person,
            "--usage",
            "web",
            "--granted",
            "2024-03-10",
        ]
    };
    let only = s.ok(&[&cr3("henry köhler")[..], &["--document", &pdf]].concat());
    assert_eq!(only.len(), 1);
    assert_eq!((only[0]["id"].as_str(), only[0]["person"].as_str()), (Some("16"), Some("Henry Köhler")));
    assert_eq!(only[0]["scope"], serde_json::json!(["raw/2024-03-10/IMG_0006.CR3"]));
    assert_eq!(s.status(TODAY, "raw/2024-03-10/IMG_0006.CR3"), "yellow", "Mila Lehmann has none");
    let err = s.refused(&[&cr3("Anna Schmidt")[..], &["--document", &pdf]].concat());
    assert!(err.contains("not named in any of the given files"), "{err}");
    // A directory stands for the files in it, each scoped exactly (names with glob characters
    // escaped).
    fs::copy(s.path("archive/video/interview.MOV"), s.path("archive/video/take [1].MOV")).unwrap();
    let video = s.ok(&["consent", "assign", "video", "--usage", "tv", "--granted", "2024-01-01", "--document", &pdf]);
    assert_eq!(video.len(), 2, "{video:?}"); // Carla Winter and Vincent Otto
    assert_eq!(
        video[0]["scope"],
        serde_json::json!(["video/clip.mp4", "video/drone.mp4", "video/interview.MOV", "video/take \\[1\\].MOV"])
    );
    assert_eq!(s.status(TODAY, "video/take [1].MOV"), "green");
}

#[test]
fn revoke_turns_green_red_from_its_day_and_keeps_the_history() {
    let s = Setup::new();
    let file = "video/interview.MOV"; // Carla Winter, consent 14
    assert_eq!(s.status(TODAY, file), "green");
    let rows = s.ok(&["consent", "revoke", "14", "--on", "2025-06-01"]);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["action"].as_str(), rows[0]["revoked"].as_str()), (Some("revoked"), Some("2025-06-01")));
    assert_eq!(rows[0]["revoked_before"], Value::Null);
    assert_eq!(s.status("2025-05-31", file), "green");
    assert_eq!(s.status("2025-06-01", file), "red");
    assert_eq!(s.status(TODAY, file), "red");
    // The consent is kept as history.
    assert_eq!(s.sql::<String>("SELECT id || ' ' || revoked FROM consents WHERE id = '14'"), ["14 2025-06-01"]);
    let search =
        s.ok(&["consent", "search", "--person", "Carla Winter", ".", "--no-state", "--quiet", "--as-of", TODAY]);
    assert_eq!((search[0]["id"].as_str(), search[0]["validity"].as_str()), (Some("14"), Some("revoked")));
    // The audit log shows who, and the row before and after.
    let audit = s.audit();
    assert_eq!(audit.len(), 1);
    let (actor, action, entity, detail) = &audit[0];
    assert_eq!((actor.as_str(), action.as_str(), entity.as_str()), ("tester", "consent revoke", "consent 14"));
    assert_eq!(detail["before"]["revoked"], Value::Null);
    assert_eq!(detail["after"]["revoked"], "2025-06-01");
    assert_eq!(detail["before"]["expires"], detail["after"]["expires"]);
    // Revoking again from a later day changes nothing and is refused; an earlier day moves it.
    assert!(s.refused(&["consent", "revoke", "14", "--on", "2025-07-01"]).contains("already revoked"));
    let earlier = s.ok(&["consent", "revoke", "14", "--on", "2025-01-01"]);
    assert_eq!(earlier[0]["revoked_before"], "2025-06-01");
    // A group consent's id revokes all its members; today by default.
    let group = s.ok(&["consent", "revoke", "13"]);
    let ids: Vec<&str> = group.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["13.1", "13.2"]);
    let today = chrono::Local::now().date_naive().to_string();
    assert!(group.iter().all(|r| r["revoked"] == today.as_str()));
    // Before it was granted: refused.
    assert!(s.refused(&["consent", "revoke", "8", "--on", "2024-01-01"]).contains("before it was granted"));
}

#[test]
fn extend_sets_a_new_expiry_and_can_replace_the_document() {
    let s = Setup::new();
    let file = "2023/summer-fest/backstage/digikam.png"; // Jürgen Groß (consent 4 expired 2020) and Tom Braun
    assert_eq!(s.status(TODAY, file), "yellow");
    let pdf = s.pdf("juergen-gross-2025.pdf");
    let rows = s.ok(&["consent", "extend", "4", "--expires", "31.12.2099", "--document", &pdf]);
    assert_eq!(rows[0]["action"], "extended");
    assert_eq!(
        (rows[0]["expires_before"].as_str(), rows[0]["expires"].as_str()),
        (Some("2020-12-31"), Some("2099-12-31"))
    );
    assert_eq!(
        (rows[0]["document"].as_str(), rows[0]["stored"].as_str()),
        (Some("../dsgvo/juergen-gross-2025.pdf"), Some("copied"))
    );
    assert_eq!(s.status(TODAY, file), "green");
    let search =
        s.ok(&["consent", "search", "--person", "juergen gross", ".", "--no-state", "--quiet", "--as-of", TODAY]);
    assert_eq!(search[0]["document"], "../dsgvo/juergen-gross-2025.pdf");
    assert_eq!(search[0]["originator"], "Pressestelle", "the new document keeps the originator");
    let audit = s.audit();
    let update = audit.iter().find(|e| e.2 == "consent 4").unwrap();
    assert_eq!((update.0.as_str(), update.1.as_str()), ("tester", "consent extend"));
    assert_eq!(
        (update.3["before"]["expires"].as_str(), update.3["after"]["expires"].as_str()),
        (Some("2020-12-31"), Some("2099-12-31"))
    );
    assert_ne!(update.3["before"]["document_id"], update.3["after"]["document_id"]);
    // Unlimited; a group by its id.
    let group = s.ok(&["consent", "extend", "7", "--expires", "unlimited"]);
    assert_eq!(group.len(), 3);
    assert!(group.iter().all(|r| r["expires"].is_null() && r["expires_before"] == "2099-12-31"));
    // A revoked consent is not extended; an expiry before the grant is refused.
    assert!(s.refused(&["consent", "extend", "6", "--expires", "2099-01-01"]).contains("revoked"));
    assert!(s.refused(&["consent", "extend", "5", "--expires", "2000-01-01"]).contains("before it was granted"));
}

#[test]
fn exemptions_are_added_listed_and_removed() {
    let s = Setup::new();
    let portrait = "2024/portraits/studio/portrait.jpg"; // three unknown persons
    assert_eq!(s.status(TODAY, portrait), "red");
    let rows = s.ok(&[
        "exempt",
        portrait,
        "video",
        "--person",
        "*",
        "--reason",
        "public-event",
        "--note",
        "Tag der offenen Tür",
    ]);
    let got = cells(&rows, &["action", "scope", "person"]);
    assert_eq!(got, [["exempted", portrait, "*"], ["exempted", "video/**", "*"]]);
    let st = s.statuses(TODAY, &[portrait, "video"]);
    assert_eq!(st[portrait], "exempt");
    assert_eq!(st["video/clip.mp4"], "exempt");
    // The same again: nothing new.
    let again = s.ok(&["exempt", portrait, "--person", "*", "--reason", "public-event"]);
    assert_eq!(again[0]["action"], "already exempt");
    // One named person of three: the others still need consent.
    let greta = s.ok(&["exempt", "2024/portraits/studio", "--person", "Greta Hahn", "--reason", "prominent"]);
    assert_eq!(
        (greta[0]["scope"].as_str(), greta[0]["person"].as_str()),
        (Some("2024/portraits/studio/**"), Some("Greta Hahn"))
    );
    let list = s.ok(&["exempt", "list"]);
    assert_eq!(list.len(), 5, "two from the fixture, three new");
    // Removed by path and person, and by id.
    let removed = s.ok(&["exempt", "remove", portrait, "--person", "*"]);
    assert_eq!((removed[0]["action"].as_str(), removed[0]["scope"].as_str()), (Some("removed"), Some(portrait)));
    assert_eq!(s.status(TODAY, portrait), "red");
    let video_id = list.iter().find(|r| r["scope"] == "video/**").unwrap()["id"].as_i64().unwrap().to_string();
    s.ok(&["exempt", "remove", "--id", &video_id]);
    assert_eq!(s.status(TODAY, "video/clip.mp4"), "red");
    assert!(s.refused(&["exempt", "remove", "--id", &video_id]).contains("no exemption"));
    assert_eq!(
        s.logged(),
        [
            ["exempt", "exemption 3"],
            ["exempt", "exemption 4"],
            ["exempt", "person 21"], // Greta Hahn was not in the register
            ["exempt", "exemption 5"],
            ["exempt remove", "exemption 3"],
            ["exempt remove", "exemption 4"],
        ]
    );
    let audit = s.audit();
    assert_eq!(audit[4].3["before"]["scope"], portrait);
    assert_eq!(audit[4].3["after"], Value::Null);
    // Refused: an unknown reason, a path that does not exist, a path outside the archive.
    s.refused(&["exempt", portrait, "--person", "*", "--reason", "bored"]);
    assert!(s.refused(&["exempt", "nope.jpg", "--person", "*", "--reason", "other"]).contains("nope.jpg"));
    assert!(s
        .refused(&["exempt", "2023", "../register", "--person", "*", "--reason", "other"])
        .contains("different archives"));
    // A path in no archive has no root a scope could be relative to (`consentry init` first).
    let refused = s.refused(&[
        "exempt",
        "../register",
        "--register",
        "../register/register.sqlite",
        "--person",
        "*",
        "--reason",
        "other",
    ]);
    assert!(refused.contains("no archive") && refused.contains("consentry init"), "{refused}");
}

#[test]
fn originators_are_added_renamed_everywhere_and_deleted_only_when_unused() {
    let s = Setup::new();
    let list = s.ok(&["originator", "list"]);
    let names: Vec<(&str, i64)> =
        list.iter().map(|r| (r["name"].as_str().unwrap(), r["consents"].as_i64().unwrap())).collect();
    assert_eq!(names, [("Pressestelle", 10), ("Fotostelle Sommerfest", 8)]);
    let added = s.ok(&["originator", "add", "Medienbüro", "--key", "o3"]);
    assert_eq!((added[0]["action"].as_str(), added[0]["id"].as_i64()), (Some("added"), Some(3)));
    assert!(s.refused(&["originator", "add", "PRESSESTELLE"]).contains("already"));
    // Renamed by key: every consent shows the new name.
    let renamed = s.ok(&["originator", "rename", "o2", "Fotostelle Vereinsfest"]);
    assert_eq!(
        (renamed[0]["consents"].as_i64(), renamed[0]["detail"].as_str()),
        (Some(8), Some("was \"Fotostelle Sommerfest\""))
    );
    let consents = s.ok(&["consent", "search", "--originator", "fotostelle vereinsfest", ".", "--no-state", "--quiet"]);
    assert_eq!(consents.len(), 8);
    // A referenced one is not deleted: the count says why.
    let err = s.refused(&["originator", "delete", "Pressestelle"]);
    assert!(err.contains("referenced by 10 consent(s)"), "{err}");
    let deleted = s.ok(&["originator", "delete", "medienbüro"]);
    assert_eq!(deleted[0]["action"], "deleted");
    assert_eq!(s.ok(&["originator", "list"]).len(), 2);
    assert!(s.refused(&["originator", "delete", "Medienbüro"]).contains("no originator"));
    assert_eq!(
        s.logged(),
        [
            ["originator add", "originator 3"],
            ["originator rename", "originator 2"],
            ["originator delete", "originator 3"]
        ]
    );
    let audit = s.audit();
    assert_eq!(audit[1].3["before"]["name"], "Fotostelle Sommerfest");
    assert_eq!(audit[1].3["after"]["name"], "Fotostelle Vereinsfest");
    // A consent must name a known originator.
    let pdf = s.pdf("x.pdf");
    let err = s.refused(&add("X", "web", "2024-01-01", &pdf, &["--originator", "Unbekannt"]));
    assert!(err.contains("originator add"), "{err}");
}

#[test]
fn persons_aliases_renames_and_merges() {
    let s = Setup::new();
    // "Schmidt, Anna" is an alias of Anna Schmidt in the fixture: a consent for the alias is hers.
    let pdf = s.pdf("form.pdf");
    let anna = s.ok(&add("Schmidt, Anna", "web", "2024-01-01", &pdf, &[]));
    assert_eq!((anna[0]["person"].as_str(), anna[0]["note"].as_str()), (Some("Anna Schmidt"), Some("")));

    // headshot-web.avif shows "Amelie Sommer", whom the register does not know yet.
    let file = "2024/portraits/studio/headshot-web.avif";
    let added = s.ok(&["person", "add", "A. Sommer", "--alias", "Sommer, A."]);
    assert_eq!(
        (added[0]["name"].as_str(), added[0]["aliases"].clone()),
        (Some("A. Sommer"), serde_json::json!(["Sommer, A."]))
    );
    assert!(s.refused(&["person", "add", "sommer, a."]).contains("another person"));
    s.ok(&add("a. sommer", "web", "2024-01-01", &pdf, &[]));
    assert_eq!(s.status(TODAY, file), "red", "tagged under another name");
    let aliased = s.ok(&["person", "alias", "A. Sommer", "Amelie Sommer"]);
    assert_eq!(aliased[0]["aliases"], serde_json::json!(["Sommer, A.", "Amelie Sommer"]));
    assert_eq!(s.status(TODAY, file), "green");
    // Renamed to the alias: still green, the alias is now the name; the old name kept as alias.
    let renamed = s.ok(&["person", "rename", "A. Sommer", "Amelie Sommer", "--keep-old-name"]);
    assert_eq!((renamed[0]["name"].as_str(), renamed[0]["consents"].as_i64()), (Some("Amelie Sommer"), Some(1)));
    assert_eq!(renamed[0]["aliases"], serde_json::json!(["Sommer, A.", "A. Sommer"]));
    assert_eq!(s.status(TODAY, file), "green");
    let removed = s.ok(&["person", "alias", "Amelie Sommer", "Sommer, A.", "--remove"]);
    assert_eq!(removed[0]["aliases"], serde_json::json!(["A. Sommer"]));

    // Two entries of one person merged: misnamed.jpg shows "Oskar Berg".
    let misnamed = "2024/portraits/studio/misnamed.jpg";
    s.ok(&add("O. Berg", "print", "2024-01-01", &pdf, &[]));
    s.ok(&["exempt", "2023", "--person", "O. Berg", "--reason", "other"]);
    s.ok(&["person", "add", "Oskar Berg", "--key", "p40"]);
    assert_eq!(s.status(TODAY, misnamed), "red");
    let merged = s.ok(&["person", "merge", "O. Berg", "p40"]);
    assert_eq!(
        (merged[0]["name"].as_str(), merged[0]["consents"].as_i64(), merged[0]["exemptions"].as_i64()),
        (Some("Oskar Berg"), Some(1), Some(1))
    );
    assert_eq!(merged[0]["aliases"], serde_json::json!(["O. Berg"]));
    assert_eq!(s.status(TODAY, misnamed), "green");
    assert!(s.refused(&["person", "merge", "O. Berg", "Oskar Berg"]).contains("same person"));

    let list = s.ok(&["person", "list"]);
    assert!(list.iter().any(|p| p["name"] == "Oskar Berg" && p["key"] == "p40"));
    assert!(!list.iter().any(|p| p["name"] == "O. Berg"));
    // The audit log has the merge: the consent and exemption moved, the old row deleted, and
    // a summary with the merged person.
    let audit = s.audit();
    let merge: Vec<&str> = audit.iter().filter(|e| e.1 == "person merge").map(|e| e.2.as_str()).collect();
    assert_eq!(merge.len(), 5, "{merge:?}");
    let summary = audit.iter().rev().find(|e| e.1 == "person merge").unwrap();
    assert_eq!(summary.3["before"]["merged"]["name"], "O. Berg");
    assert_eq!(summary.3["after"]["name"], "Oskar Berg");
    // `person NAME` still answers access requests.
    let person = s.ok(&["person", "Oskar Berg", "2024", "--no-state", "--quiet", "--as-of", TODAY]);
    assert!(person.iter().any(|r| r["kind"] == "file" && r["status"] == "green"), "{person:?}");
}

#[test]
fn invalid_input_is_refused_and_changes_nothing() {
    let s = Setup::new();
    let pdf = s.pdf("ok.pdf");
    fs::write(s.path("photo.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    let not_pdf = s.path("photo.jpg").to_string_lossy().into_owned();
    let missing = s.path("missing.pdf").to_string_lossy().into_owned();
    let before = s.register_bytes();
    let add = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["consent", "add", "--person", "Neu Person"].iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (add(&["--usage", "billboards", "--granted", "2024-01-01", "--document", &pdf]), "billboards"),
        (
            add(&["--usage", "web", "--granted", "2024-05-01", "--expires", "2024-04-30", "--document", &pdf]),
            "before the grant",
        ),
        (add(&["--usage", "web", "--granted", "2024-01-01", "--document", &missing]), "missing.pdf"),
        (add(&["--usage", "web", "--granted", "2024-01-01", "--document", &not_pdf]), "not a PDF"),
        (add(&["--usage", "web", "--granted", "31.02.2024", "--document", &pdf]), "31.02.2024"),
        (add(&["--usage", "web", "--granted", "2024-01-01", "--document", &pdf, "--scope", "a|b"]), "`|`"),
        (add(&["--usage", "web", "--granted", "2024-01-01", "--document", &pdf, "--originator", "Niemand"]), "Niemand"),
        (add(&["--usage", "web", "--granted", "2024-01-01"]), "--document"),
        (["consent", "revoke", "999"].map(String::from).to_vec(), "no consent with id \"999\""),
        (["consent", "extend", "999", "--expires", "2030-01-01"].map(String::from).to_vec(), "no consent with id"),
        (["consent", "revoke", "1", "--on", "2000-01-01"].map(String::from).to_vec(), "before it was granted"),
        (["person", "add", "Schmidt, Anna"].map(String::from).to_vec(), "another person"),
        (["person", "rename", "Niemand", "X"].map(String::from).to_vec(), "no person"),
        (["person", "alias", "Anna Schmidt", "Karl Hoffmann"].map(String::from).to_vec(), "another person"),
        (["originator", "delete", "Pressestelle"].map(String::from).to_vec(), "referenced"),
        (["exempt", "2023", "--person", "*", "--reason", "weil"].map(String::from).to_vec(), "weil"),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = s.refused(&args);
        assert!(err.contains(needle), "{args:?}: {needle:?} in {err}");
        assert!(s.register_bytes() == before, "{args:?} changed the register");
    }
    assert!(!s.path("dsgvo").exists(), "no evidence folder for refused changes");
    // A register that is not there is not created.
    let err = s.refused(&["person", "add", "X", "--register", "../nowhere.sqlite"]);
    assert!(err.contains("register init"), "{err}");
    assert!(!s.path("nowhere.sqlite").exists());
}

#[test]
fn a_csv_register_is_refused_with_a_pointer_to_register_import() {
    let s = Setup::new();
    let pdf = s.pdf("ok.pdf");
    let before = fs::read(s.path("register/consents.csv")).unwrap();
    for register in ["../register", "../register/consents.csv"] {
        for args in [
            &add("A", "web", "2024-01-01", &pdf, &[])[..],
            &["consent", "revoke", "1"],
            &["exempt", "2023", "--person", "*", "--reason", "other"],
            &["originator", "add", "X"],
            &["person", "add", "X"],
            &["person", "list"],
        ] {
            let mut all = args.to_vec();
            all.extend(["--register", register]);
            let err = s.refused(&all);
            assert!(err.contains("read-only") && err.contains("consentry register import"), "{all:?}: {err}");
        }
    }
    assert_eq!(fs::read(s.path("register/consents.csv")).unwrap(), before);
    // consentry.toml naming a CSV register: the same.
    fs::write(s.path("archive/consentry.toml"), "register = \"../register\"\n").unwrap();
    assert!(s.refused(&["consent", "revoke", "1"]).contains("register import"));
}

#[test]
fn dry_runs_show_what_would_change_and_change_nothing() {
    let s = Setup::new();
    let pdf = s.pdf("dry.pdf");
    s.ok(&["originator", "add", "Unbenutzt"]);
    s.ok(&["exempt", "video", "--person", "*", "--reason", "public-event"]);
    let before = s.register_bytes();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["consent", "add", "--person", "Neu", "--usage", "web", "--granted", "2024-01-01", "--document", &pdf],
            "would add",
        ),
        (
            vec![
                "consent",
                "assign",
                "raw/2024-03-10/P0003.ORF",
                "--usage",
                "web",
                "--granted",
                "2024-01-01",
                "--document",
                &pdf,
            ],
            "would add",
        ),
        (vec!["consent", "revoke", "14"], "would revoke"),
        (vec!["consent", "extend", "4", "--expires", "2099-01-01", "--document", &pdf], "would extend"),
        (vec!["exempt", "2023", "--person", "*", "--reason", "other"], "would exempt"),
        (vec!["exempt", "remove", "video", "--person", "*"], "would remove"),
        (vec!["originator", "add", "Neu"], "would add"),
        (vec!["originator", "rename", "Pressestelle", "Presse"], "would rename"),
        (vec!["originator", "delete", "Unbenutzt"], "would delete"),
        (vec!["person", "add", "Neu"], "would add"),
        (vec!["person", "alias", "Anna Schmidt", "Anni"], "would alias"),
        (vec!["person", "rename", "Anna Schmidt", "Anna Schmitz"], "would rename"),
        (vec!["person", "merge", "Tom Braun", "Anna Schmidt"], "would merge"),
    ];
    for (mut args, action) in cases {
        args.push("--dry-run");
        let out = s.run(&[&args[..], &["--format", "jsonl"]].concat());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let rows = jsonl(&out);
        assert!(!rows.is_empty() && rows.iter().all(|r| r["action"] == action), "{args:?}: {rows:?}");
        assert!(stderr(&out).contains("dry run: nothing was changed"), "{args:?}: {}", stderr(&out));
        assert!(s.register_bytes() == before, "{args:?} changed the register");
        assert!(!s.path("dsgvo").exists(), "{args:?} wrote the evidence folder");
    }
    // The dry run shows the ids the change would get.
    let dry = s.ok(&add("Neu", "web", "2024-01-01", &pdf, &["--dry-run"]));
    assert_eq!((dry[0]["id"].as_str(), dry[0]["stored"].as_str()), (Some("15"), Some("would be copied")));
    let real = s.ok(&add("Neu", "web", "2024-01-01", &pdf, &[]));
    assert_eq!(real[0]["id"], "15");
}

#[test]
fn parallel_processes_lose_nothing() {
    let s = Setup::new();
    let shared = s.pdf("shared.pdf");
    let children: Vec<_> = (0..8)
        .map(|i| {
            let doc = if i % 2 == 0 { shared.clone() } else { s.pdf(&format!("own-{i}.pdf")) };
            let person = format!("Parallel Person {i}");
            let actor = format!("worker {i}");
            s.command(&add(&person, "web", "2024-01-01", &doc, &["--actor", &actor, "--quiet"])).spawn().unwrap()
        })
        .collect();
    for mut child in children {
        let out = child.wait().unwrap();
        assert_eq!(out.code(), Some(0));
    }
    let consents: Vec<String> = s.sql(
        "SELECT c.id FROM consents c JOIN persons p ON p.id = c.person_id WHERE p.name LIKE 'Parallel Person %' ORDER BY CAST(c.id AS INTEGER)",
    );
    assert_eq!(consents, (15..23).map(|i| i.to_string()).collect::<Vec<_>>());
    let audit = s.audit();
    let adds: Vec<&str> = audit.iter().filter(|e| e.2.starts_with("consent ")).map(|e| e.0.as_str()).collect();
    assert_eq!(adds.len(), 8);
    for i in 0..8 {
        assert!(adds.contains(&format!("worker {i}").as_str()), "{adds:?}");
    }
    // The shared document is stored once, each other once.
    assert_eq!(fs::read_dir(s.path("dsgvo")).unwrap().count(), 5);
    assert_eq!(s.sql::<i64>("SELECT count(DISTINCT sha256) FROM documents WHERE path LIKE '../dsgvo/%'"), [5]);
    let check = s.run(&["register", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    // Another program holding the register for a while: consentry waits for it.
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let waiting = s.command(&add("Waiting Person", "web", "2024-01-01", &shared, &["--quiet"])).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(waiting.wait_with_output().unwrap().status.code(), Some(0));
    assert_eq!(s.sql::<String>("SELECT id FROM consents WHERE id = '23'"), ["23"]);
}

#[test]
fn register_init_and_the_actor() {
    let s = Setup::new();
    let db = s.path("new.sqlite");
    let db_arg = db.to_string_lossy().into_owned();
    let out = s.run(&["register", "init", &db_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mode(&db), 0o600);
    assert!(s.refused(&["register", "init", &db_arg]).contains("exists already"));
    assert!(s.refused(&["register", "init", "x.csv"]).contains(".sqlite"));
    // The actor: --actor, else $CONSENTRY_ACTOR, else the login name.
    let pdf = s.pdf("a.pdf");
    let run = |person: &str, more: &[&str], env: &[(&str, &str)]| {
        let mut args = add(person, "web", "2024-01-01", &pdf, &["--register", &db_arg]);
        args.extend(more);
        let mut c = s.command(&args);
        c.env_remove("CONSENTRY_ACTOR").env_remove("USER").env_remove("LOGNAME");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    run("A", &[], &[("USER", "alice")]);
    run("B", &[], &[("USER", "alice"), ("CONSENTRY_ACTOR", "press office")]);
    run("C", &["--actor", "bob"], &[("USER", "alice")]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn.prepare("SELECT actor, action, entity FROM audit_log ORDER BY id").unwrap();
    let log: Vec<(String, String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(log[0], ("tester".into(), "register init".into(), "register".into()));
    let consents: Vec<(&str, &str)> =
        log.iter().filter(|l| l.2.starts_with("consent ")).map(|l| (l.0.as_str(), l.2.as_str())).collect();
    assert_eq!(consents, [("alice", "consent 1"), ("press office", "consent 2"), ("bob", "consent 3")]);
    // The evidence folder: `dsgvo` beside the archive root that the consentry.toml found from
    // the working directory marks (whichever register is given).
    assert!(s.path("dsgvo/a.pdf").is_file());
}

#[test]
fn a_spreadsheet_format_is_refused_before_the_register_changes() {
    let s = Setup::new();
    let before = sha256(&s.db());
    let pdf = s.pdf("xlsx.pdf");
    let args = add("Anna Schmidt", "print", "2024-03-01", &pdf, &["--format", "xlsx"]);
    let err = s.refused(&args);
    assert!(err.contains("--format xlsx writes a file with -o FILE"), "{err}");
    assert_eq!(sha256(&s.db()), before, "nothing recorded");
}
