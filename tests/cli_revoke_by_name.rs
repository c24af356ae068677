//! `consent revoke NAME`: a person's name or alias (any case) names their consents. They are
//! listed on stderr (id, usage, granted, expires); more than one needs `--all` (else exit 2,
//! nothing changed); a name that names nobody gets close names and exit 2; ids work as before.
//! On a copy of the fixture archive with its SQLite register.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

struct Setup {
    tmp: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        support::copy_fixtures_sqlite(tmp.path());
        Setup { tmp }
    }

    fn db(&self) -> PathBuf {
        self.tmp.path().join("register/register.sqlite")
    }

    fn run(&self, args: &[&str]) -> Output {
        support::consentry()
            .args(args)
            .current_dir(self.tmp.path().join("archive"))
            .env("CONSENTRY_ACTOR", "tester")
            .output()
            .unwrap()
    }

    /// Run, expect exit 0: the JSON Lines printed, and stderr.
    fn ok(&self, args: &[&str]) -> (Vec<Value>, String) {
        let mut all = args.to_vec();
        all.extend(["--format", "jsonl"]);
        let out = self.run(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", support::stderr(&out));
        (support::jsonl(&out), support::stderr(&out))
    }

    /// Run, expect exit 2 with nothing on stdout and the register unchanged: stderr.
    fn refused(&self, args: &[&str]) -> String {
        let before = fs::read(self.db()).unwrap();
        let out = self.run(args);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", support::stdout(&out));
        assert_eq!(fs::read(self.db()).unwrap(), before, "{args:?} changed the register");
        err
    }

    /// (id, revoked) of the consents of `person_key`.
    fn revoked(&self, person: &str) -> Vec<(String, Option<String>)> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT c.id, c.revoked FROM consents c JOIN persons p ON p.id = c.person_id WHERE p.name = ?1 \
                 ORDER BY c.rowid",
            )
            .unwrap();
        let rows = stmt.query_map([person], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// A second consent for Carla Winter (she has 14): 15, for print.
    fn second_consent_for_carla(&self) {
        let pdf = self.tmp.path().join("carla-print.pdf");
        fs::write(&pdf, "%PDF-1.4\n% print form\n%%EOF\n").unwrap();
        let args = [
            "consent",
            "add",
            "--person",
            "Carla Winter",
            "--usage",
            "print",
            "--granted",
            "2024-05-01",
            "--expires",
            "2030-12-31",
            "--document",
            pdf.to_str().unwrap(),
        ];
        let (rows, _) = self.ok(&args);
        assert_eq!(rows[0]["id"], "15");
    }
}

#[test]
fn a_person_with_several_consents_needs_all_and_is_listed_first() {
    let s = Setup::new();
    s.second_consent_for_carla();
    let err = s.refused(&["consent", "revoke", "carla winter", "--on", "2025-06-01"]);
    assert!(err.contains("\"carla winter\" is person") && err.contains("2 consents to revoke"), "{err}");
    assert!(err.contains("  14  usage tv, web  granted 2024-03-01  expires 2099-03-31"), "{err}");
    assert!(err.contains("  15  usage print  granted 2024-05-01  expires 2030-12-31"), "{err}");
    assert!(err.contains("give --all"), "{err}");
    assert_eq!(s.revoked("Carla Winter"), [("14".into(), None), ("15".into(), None)]);

    let (rows, err) = s.ok(&["consent", "revoke", "Carla Winter", "--all", "--on", "2025-06-01"]);
    let revoked: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["id"].as_str().unwrap(), r["revoked"].as_str().unwrap()))
        .collect();
    assert_eq!(revoked, [("revoked", "14", "2025-06-01"), ("revoked", "15", "2025-06-01")]);
    assert!(err.contains("  14  usage tv, web"), "listed before revoking: {err}");
    assert_eq!(
        s.revoked("Carla Winter"),
        [("14".into(), Some("2025-06-01".into())), ("15".into(), Some("2025-06-01".into()))]
    );
    // Both revoked: a person whose consents are all revoked is refused as "already revoked".
    let out = s.run(&["consent", "revoke", "Carla Winter", "--all", "--on", "2025-07-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("already revoked"), "{}", support::stderr(&out));
}

#[test]
fn one_consent_is_revoked_by_name_or_alias_and_ids_work_as_before() {
    let s = Setup::new();
    // Tom Braun has one consent (5): no --all needed.
    let (rows, err) = s.ok(&["consent", "revoke", "TOM BRAUN", "--on", "2025-06-01"]);
    assert_eq!((rows.len(), rows[0]["id"].as_str(), rows[0]["action"].as_str()), (1, Some("5"), Some("revoked")));
    assert!(err.contains("with one consent to revoke") && err.contains("  5  usage print, web"), "{err}");
    // By alias: "Juergen Gross" is Jürgen Groß (consent 4, expired, still revocable).
    let (rows, _) = s.ok(&["consent", "revoke", "juergen gross", "--on", "2020-06-01"]);
    assert_eq!(rows[0]["id"], "4");
    assert_eq!(s.revoked("Jürgen Groß"), [("4".into(), Some("2020-06-01".into()))]);
    // An id, and a group id, as before.
    let (rows, _) = s.ok(&["consent", "revoke", "14", "--on", "2025-06-01"]);
    assert_eq!(rows[0]["id"], "14");
    let (rows, _) = s.ok(&["consent", "revoke", "13", "--on", "2025-06-01"]);
    assert_eq!(rows.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ["13.1", "13.2"]);
    // --quiet: no list, no summary.
    let (_, err) = s.ok(&["consent", "revoke", "Nina Roth", "--quiet"]);
    assert!(err.is_empty(), "{err}");
}

#[test]
fn a_name_that_names_nobody_gets_close_names_and_changes_nothing() {
    let s = Setup::new();
    let err = s.refused(&["consent", "revoke", "Karla Winter"]);
    assert!(err.contains("no consent with id \"Karla Winter\" and no person of that name"), "{err}");
    assert!(err.contains("did you mean \"Carla Winter\"?"), "{err}");
    let err = s.refused(&["consent", "revoke", "Jurgen Gros"]);
    assert!(err.contains("\"Jürgen Groß\""), "{err}");
    let err = s.refused(&["consent", "revoke", "999"]);
    assert!(!err.contains("did you mean"), "{err}");
    // Nothing is revoked when one of several arguments names nobody.
    let err = s.refused(&["consent", "revoke", "5", "Nobody Atall"]);
    assert!(err.contains("\"Nobody Atall\""), "{err}");
    assert_eq!(s.revoked("Tom Braun"), [("5".into(), None)]);
}

#[test]
fn the_list_is_in_the_language_asked_for() {
    let s = Setup::new();
    s.second_consent_for_carla();
    let out = s.run(&["consent", "revoke", "Carla Winter", "--lang", "de"]);
    assert_eq!(out.status.code(), Some(2));
    let err = support::stderr(&out);
    assert!(err.contains("2 Einwilligungen zu widerrufen"), "{err}");
    assert!(err.contains("  15  Verwendung print  erteilt 01.05.2024  gültig bis 31.12.2030"), "{err}");
    assert!(err.contains("--all"), "{err}");
}
