//! End to end: the output's language (issue 14, item 5): from `LC_ALL`/`LC_MESSAGES`/`LANG`
//! without `--lang` (a German locale gives German table headers and summaries, `LC_ALL=C`
//! English), `--lang` over the environment, and the machine formats (JSON, JSON Lines, CSV)
//! byte for byte the same in every language.

mod support;

use std::path::Path;
use std::process::Output;

use support::{stderr, stdout};

const AS_OF: &str = "2026-06-01";

/// `args` on the fixture archive at `root` on [`AS_OF`] without state, with the locale
/// variables `env` set and every other one removed.
fn run(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = support::consentry();
    c.args(args).args(["--as-of", AS_OF, "--no-state"]).current_dir(root);
    for var in ["LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

const GERMAN: &[(&str, &str)] = &[("LANG", "de_DE.UTF-8")];

#[test]
fn a_german_locale_gives_german_tables_and_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let out = run(&root, GERMAN, &["scan", "--format", "table"]);
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 3), "{}", stderr(&out));
    let (table, err) = (stdout(&out), stderr(&out));
    assert!(table.lines().next().is_some_and(|h| h.contains("PFAD") && h.contains("STATUS")), "{table}");
    let statuses = table.to_lowercase();
    assert!(statuses.contains("grün") && statuses.contains("rot"), "{table}");
    assert!(err.contains("Mediendateien in") && err.contains("Status: ") && err.contains(" grün"), "{err}");
    assert!(!err.contains("Scanned"), "{err}");
    // What a run recorded in its state, too.
    let mut c = support::consentry();
    c.args(["scan", "--as-of", AS_OF, "--format", "json", "--state"]).arg(tmp.path().join("state.sqlite"));
    let out = c.current_dir(&root).env("LANG", "de_DE.UTF-8").output().unwrap();
    let err = stderr(&out);
    assert!(err.contains("Zustand ") && err.contains(" gelesen, ") && !err.contains("State "), "{err}");

    // The notes of scan's table: missing persons with their reasons, usage until a German day.
    assert!(table.contains("fehlt: ") && table.contains("(unbekannt)") && table.contains(" bis "), "{table}");
    assert!(!table.contains("missing: ") && !table.contains(" until "), "{table}");

    let out = run(&root, GERMAN, &["check", "--for", "web", "--format", "table"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (table, err) = (stdout(&out), stderr(&out));
    assert!(err.contains("für web am 01.06.2026 geprüft:") && err.contains("freigegeben."), "{err}");
    // Why each file blocks, in German; JSON keeps the English sentence.
    assert!(table.contains("Einwilligung fehlt: ") && !table.contains("missing consent"), "{table}");
    let out = run(&root, GERMAN, &["check", "--for", "web", "--format", "json"]);
    assert!(stdout(&out).contains("\"missing consent: "), "{}", stdout(&out));
}

#[test]
fn lc_all_c_gives_english_and_lang_overrides_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let english = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["check", "--for", "web", "--format", "table"]);
        let out = run(&root, env, &args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let (table, err) = (stdout(&out), stderr(&out));
        assert!(table.lines().next().is_some_and(|h| h.starts_with("PATH")), "{env:?} {extra:?}: {table}");
        assert!(err.contains("Checked ") && err.contains(" on 2026-06-01: ") && err.contains(" blocking, "), "{err}");
        assert!(!err.contains("geprüft"), "{err}");
    };
    english(&[("LC_ALL", "C"), ("LANG", "de_DE.UTF-8")], &[]);
    english(GERMAN, &["--lang", "en"]);
    english(&[], &[]);
    // LC_MESSAGES comes before LANG, LC_ALL before both.
    english(&[("LC_MESSAGES", "en_GB.UTF-8"), ("LANG", "de_DE.UTF-8")], &[]);
    let out = run(&root, &[("LC_ALL", "de_AT.UTF-8"), ("LC_MESSAGES", "C")], &["check", "--for", "web"]);
    assert!(stderr(&out).contains("geprüft"), "{}", stderr(&out));
    // `--lang de` under an English locale.
    let out = run(&root, &[("LANG", "C")], &["--lang", "de", "check", "--for", "web", "--format", "table"]);
    assert!(stdout(&out).starts_with("PFAD"), "{}", stdout(&out));
}

#[test]
fn machine_formats_are_byte_identical_in_every_language() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let commands: &[&[&str]] = &[
        &["scan"],
        &["check", "--for", "web"],
        &["report", "missing"],
        &["report", "summary"],
        &["report", "expiring", "--within", "40000"],
    ];
    for command in commands {
        for format in ["json", "jsonl", "csv"] {
            let mut args = command.to_vec();
            args.extend(["--format", format]);
            let english = run(&root, &[("LANG", "C")], &args);
            let german = run(&root, GERMAN, &args);
            assert_eq!(english.status.code(), german.status.code(), "{args:?}");
            // A command that ran (a refused one prints nothing in either language).
            assert!(matches!(english.status.code(), Some(0 | 1 | 3)), "{args:?}: {}", stderr(&english));
            assert!(!english.stdout.is_empty(), "{args:?}: {}", stderr(&english));
            assert!(english.stdout == german.stdout, "{args:?}:\n{}\n---\n{}", stdout(&english), stdout(&german));
            let mut lang_de = vec!["--lang", "de"];
            lang_de.extend(&args);
            assert!(run(&root, &[], &lang_de).stdout == english.stdout, "--lang de {args:?}");
        }
    }
}
