//! End to end: a German consent list as people keep it in Excel (issue 14, item 5): the usage
//! words they write (`Webseite`, `Soziale Medien`, `Soziale Netzwerke`, `Archiv`, `Zeitung`,
//! `Plakat`) name the areas the README's "Usage words" table gives, and `Widerrufen = ja`
//! revokes since the grant, with a warning `register check` lists (exit 1). An unknown word is
//! refused with the accepted words, German ones included.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";

/// Fixture files and who is on them.
const FILES: [(&str, &str); 3] = [
    // Anna Schmidt, Jonas Weber
    ("2023/summer-fest/IMG_1001.jpg", "fest/anna-jonas.jpg"),
    // Clara Vogel, Felix Lang, Nina Roth
    ("2023/summer-fest/stage.webp", "fest/bühne.webp"),
    // Hannah Wolf alone
    ("2023/summer-fest/backstage/heic-idat.heic", "fest/hannah.heic"),
];

/// The register: German headers, `;`, dotted dates, the usage words people write, and the
/// revoked column as a spreadsheet habit (`nein`, empty, `ja`, `X`).
const REGISTER: &str = "\
Nr;Betroffene Person;Einsatzgebiete;Erteilt;Gültig bis;Dokument;Widerrufen
1;Anna Schmidt;Webseite, Soziale Medien, Zeitung;01.03.2024;unbegrenzt;form.pdf;nein
2;Jonas Weber;Webseite|Zeitung|Plakat|Archiv;01.03.2024;31.12.2030;form.pdf;
3;Clara Vogel;Soziale Netzwerke, Archiv;01.03.2024;;form.pdf;NEIN
4;Felix Lang;Soziale Medien|Archiv;01.03.2024;;form.pdf;
5;Nina Roth;Soziale Netzwerke, Archiv, Plakat;01.03.2024;;form.pdf;
6;Hannah Wolf;Webseite, Zeitung;01.03.2024;;form.pdf;ja
7;Hannah Wolf;Archiv;01.04.2024;;form.pdf;X
";

struct Archive {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    register: PathBuf,
}

/// An archive of [`FILES`] whose register is `register` (beside it, with its form).
fn archive(register: &str) -> Archive {
    let tmp = tempfile::tempdir().unwrap();
    let (root, reg_dir) = (tmp.path().join("archiv"), tmp.path().join("register"));
    for (from, to) in FILES {
        let to = root.join(to);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(support::repo().join("fixtures/archive").join(from), to).unwrap();
    }
    fs::create_dir_all(&reg_dir).unwrap();
    fs::write(reg_dir.join("form.pdf"), "%PDF-1.4\n").unwrap();
    let csv = reg_dir.join("einwilligungen.csv");
    fs::write(&csv, register).unwrap();
    fs::write(root.join("consentry.toml"), "register = \"../register/einwilligungen.csv\"\n").unwrap();
    Archive { _tmp: tmp, root, register: csv }
}

impl Archive {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--as-of", AS_OF, "--no-state"]);
        support::run(&all, &self.root)
    }

    fn scan(&self) -> Vec<Value> {
        let out = self.run(&["scan", "--format", "jsonl"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        jsonl(&out)
    }
}

fn record<'a>(scan: &'a [Value], path: &str) -> &'a Value {
    let path = format!("./{path}");
    scan.iter().find(|r| r["path"] == path.as_str()).unwrap_or_else(|| panic!("{path} not scanned: {scan:#?}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[test]
fn german_usage_words_evaluate_as_the_readme_maps_them() {
    let a = archive(REGISTER);
    let scan = a.scan();
    // Anna: web, social, print; Jonas: web, print, advertising, archive: both allow print, web.
    let both = record(&scan, FILES[0].1);
    assert_eq!(both["status"], "green", "{both}");
    assert_eq!(strings(&both["usage"]), ["print", "web"]);
    // Clara, Felix, Nina all allow social and archive; only Nina advertising.
    let stage = record(&scan, FILES[1].1);
    assert_eq!(stage["status"], "green", "{stage}");
    assert_eq!(strings(&stage["usage"]), ["social", "archive"], "in vocabulary order");

    // The German words work on the command line too.
    let ok = a.run(&["check", "--for", "Webseite,Zeitung", "-q", "fest/anna-jonas.jpg"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    let blocked = a.run(&["check", "--for", "Plakat", "--format", "jsonl", "-q", "fest/anna-jonas.jpg"]);
    assert_eq!(blocked.status.code(), Some(1), "Anna allowed no poster: {}", stderr(&blocked));
    let cleared = a.run(&["report", "cleared", "--for", "Soziale Netzwerke,Archiv", "--format", "jsonl", "-q"]);
    let paths: Vec<String> = jsonl(&cleared).iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(paths, [format!("./{}", FILES[1].1)]);
}

#[test]
fn widerrufen_ja_revokes_since_the_grant_with_a_warning() {
    let a = archive(REGISTER);
    let scan = a.scan();
    // Hannah Wolf's only person: both her consents are revoked (`ja`, `X`).
    let hannah = record(&scan, FILES[2].1);
    assert_eq!(hannah["status"], "red", "{hannah}");
    assert_eq!(hannah["missing"], serde_json::json!([{"name": "Hannah Wolf", "reason": "revoked"}]));
    assert_eq!(strings(&hannah["usage"]), Vec::<&str>::new());
    // Red on the very day of the grant too.
    let out = support::run(&["scan", "--as-of", "2024-03-01", "--no-state", "--format", "jsonl"], &a.root);
    assert_eq!(record(&jsonl(&out), FILES[2].1)["status"], "red");
    // `consent search` shows the day taken.
    let out = a.run(&["consent", "search", "--person", "Hannah Wolf", "--format", "jsonl"]);
    let revoked: Vec<Value> = jsonl(&out).iter().map(|c| c["revoked"].clone()).collect();
    assert_eq!(revoked, ["2024-03-01", "2024-04-01"], "{}", stderr(&out));

    // `register check` lists the two warnings with file, line and column, and exits 1.
    for args in [vec!["register", "check"], vec!["register", "check", a.register.to_str().unwrap()]] {
        let out = support::run(&args, &a.root);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        // file:line:column: the 7th column, `Widerrufen`, of the 7th and 8th lines.
        assert!(lines[0].contains("einwilligungen.csv:7:7: warning: revoked \"ja\" without a day"), "{text}");
        assert!(lines[0].contains("taken as revoked since the grant (2024-03-01)"), "{text}");
        assert!(lines[1].contains("einwilligungen.csv:8:7: warning: revoked \"X\" without a day"), "{text}");
        assert!(lines[1].contains("taken as revoked since the grant (2024-04-01)"), "{text}");
        assert!(stderr(&out).contains("0 error(s), 2 warning(s)"), "{}", stderr(&out));
    }
}

#[test]
fn an_unknown_usage_word_is_refused_with_the_german_words_accepted() {
    let a = archive(&REGISTER.replace("Webseite, Soziale Medien, Zeitung", "Flyer"));
    let out = a.run(&["scan", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("unknown usage word \"Flyer\""), "{err}");
    for word in ["Webseite", "Soziale Medien", "Soziale Netzwerke", "Archiv", "Zeitung", "Plakat"] {
        assert!(err.contains(word), "{word}: {err}");
    }
    // And on the command line.
    let out = a.run(&["check", "--for", "Flyer", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Soziale Netzwerke = social"), "{}", stderr(&out));
}
