//! Tests of CSV registers: loading files and directories, every problem with its place, and
//! the deferred rows and their cache.

use std::path::PathBuf;

use super::dialect::{is_line_break, quoting_is_clean, walk_quoting, LineIndex};
use super::rows::{hash_key, normal_name_hash};
use super::*;
use crate::model::{Date, ExemptReason, Origin, Originator, Scope};
use crate::people::normalize_name;

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    path
}

fn load(path: &Path) -> Result<Loaded, RegisterErrors> {
    if path.is_dir() {
        load_dir(path, &Vocabulary::default(), Options::FULL)
    } else {
        load_file(path, &Vocabulary::default(), Options::FULL)
    }
}

fn loaded(path: &Path) -> Loaded {
    match load(path) {
        Ok(l) => l,
        Err(e) => panic!("expected a register, got {e}"),
    }
}

/// The errors (not warnings) of a register that must fail.
fn errors(path: &Path) -> Vec<Problem> {
    match load(path) {
        Ok(_) => panic!("expected errors"),
        Err(RegisterErrors(all)) => all.into_iter().filter(|p| p.severity == Severity::Error).collect(),
    }
}

/// Asserts exactly one error, at `file`, `line`, `column`, whose message contains `text`.
fn one_error(path: &Path, file: &Path, line: u64, column: u64, text: &str) -> Problem {
    let errs = errors(path);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!((e.file.as_str(), e.line, e.column), (file.display().to_string().as_str(), line, column), "{e}");
    assert!(e.message.contains(text), "{e}");
    e
}

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd_opt(y, m, d).unwrap()
}

fn ids(l: &Loaded) -> Vec<&str> {
    l.register.consents.iter().map(|c| c.id.as_str()).collect()
}

const HEADER: &str = "id,person,usage,granted,expires,document\n";

/// A register with `rows` (after the header) and a document `a.pdf` next to it.
fn file_with(dir: &Path, rows: &str) -> PathBuf {
    write(dir, "a.pdf", "%PDF-1.4");
    write(dir, "reg.csv", format!("{HEADER}{rows}"))
}

#[test]
fn semicolon_german_headers_and_dotted_dates() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "anna.pdf", "%PDF-1.4");
    let path = write(
        dir.path(),
        "einwilligungen.csv",
        "Nr;Betroffene Person;Einsatzgebiete;Erteilt;Gültig bis;Dokument;Urheber;Geltungsbereich;Bemerkung;Copyright;Widerruf\n\
         7;  Anna   Schmidt ;Druck, Internet|Social Media;01.03.2024;31.12.2026;anna.pdf;Studio Nord;2024/**|fest/*.jpg;Sommerfest;© Verein;\n\
         8;Bernd Meier;Presse;2.4.2024;unbegrenzt;anna.pdf;;;;;1.6.2024\n",
    );
    let l = loaded(&path);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.register.consents;
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].id, "7");
    assert_eq!(c[0].person, "Anna Schmidt");
    assert_eq!(*c[0].usage, ["print", "social", "web"].iter().map(|s| s.to_string()).collect());
    assert_eq!((c[0].granted, c[0].expires, c[0].revoked), (date(2024, 3, 1), Some(date(2026, 12, 31)), None));
    assert_eq!(c[0].document.as_deref(), Some("anna.pdf"));
    assert_eq!(c[0].originator.as_deref(), Some("Studio Nord"));
    assert_eq!(c[0].scope.patterns(), ["2024/**", "fest/*.jpg"]);
    assert!(c[0].scope.matches(Some("2024/a/b.jpg")) && !c[0].scope.matches(Some("2023/b.jpg")));
    assert_eq!(c[0].comment.as_deref(), Some("Sommerfest"));
    assert_eq!(c[0].copyright.as_deref(), Some("© Verein"));
    assert_eq!(c[0].origin, Origin { file: path.display().to_string().into(), line: 2 });
    assert_eq!((c[1].granted, c[1].expires, c[1].revoked), (date(2024, 4, 2), None, Some(date(2024, 6, 1))));
    assert_eq!(c[1].scope, Scope::All);
    assert_eq!((c[1].originator.as_ref(), c[1].comment.as_ref(), c[1].copyright.as_ref()), (None, None, None));
    assert!(l.register.identity("anna schmidt").is_some());
    assert_eq!(l.register.digest.len(), 64);
}

#[test]
fn tab_separated_with_iso_dates_and_unlimited() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pdf", "%PDF-1.4");
    let path = write(
        dir.path(),
        "reg.tsv",
        "person\tusage\tgranted\texpires\tdocument\n\
         Anna, die Große\tweb, print\t2024-03-01\tUNLIMITED\ta.pdf\n\
         Bernd\tWerbung\t2024-03-01\t\ta.pdf\n",
    );
    let c = loaded(&path).register.consents;
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].person, "Anna, die Große");
    assert_eq!(c[0].usage.len(), 2);
    assert_eq!((c[0].expires, c[1].expires), (None, None));
    assert_eq!(c[1].usage.iter().next().map(String::as_str), Some("advertising"));
    assert_eq!(c[1].id, "reg:3");
}

#[test]
fn utf8_bom_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pdf", "%PDF-1.4");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend("ID;Person;Verwendung;Erteilt;PDF\r\n1;Jürgen Weiß;Druck;01.03.2024;a.pdf\r\n".as_bytes());
    let path = write(dir.path(), "reg.csv", bytes);
    let l = loaded(&path);
    assert_eq!(l.register.consents[0].person, "Jürgen Weiß");
    assert_eq!(l.register.consents[0].origin.line, 2);
}

#[test]
fn windows_1252_with_umlauts() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pdf", "%PDF-1.4");
    let path = write(
        dir.path(),
        "reg.csv",
        b"Person;Verwendung;Erteilt;G\xfcltig bis;PDF\r\nM\xfcller, J\xf6rg;Druck;01.03.2024;;a.pdf\r\nGro\xdfe \x80;Presse;01.03.2024;;a.pdf\r\n",
    );
    let c = loaded(&path).register.consents;
    assert_eq!(c[0].person, "Müller, Jörg");
    assert_eq!(c[1].person, "Große €");
}

#[test]
fn mixed_encodings_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "reg.csv",
        b"person;usage;granted;document\nJ\xc3\xbcrgen;print;2024-03-01;a.pdf\nM\xfcller;print;2024-03-01;a.pdf\n",
    );
    one_error(&path, &path, 3, 0, "mixes UTF-8");
}

#[test]
fn group_consents() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        dir.path(),
        "G1,Anna | Bernd|Clara,print,2024-03-01,,a.pdf\n,Dora|Emil,web,2024-03-01,,a.pdf\n,Fritz,web,2024-03-01,,a.pdf\n",
    );
    let l = loaded(&path);
    assert_eq!(ids(&l), ["G1.1", "G1.2", "G1.3", "reg:3.1", "reg:3.2", "reg:4"]);
    let persons: Vec<&str> = l.register.consents.iter().map(|c| c.person.as_str()).collect();
    assert_eq!(persons, ["Anna", "Bernd", "Clara", "Dora", "Emil", "Fritz"]);
    assert!(l.register.consents[..3].iter().all(|c| c.origin.line == 2 && c.document.as_deref() == Some("a.pdf")));
}

#[test]
fn unparseable_dates() {
    let dir = tempfile::tempdir().unwrap();
    for (value, text) in [
        ("31.02.2024", "\"31.02.2024\": there is no such day"),
        ("2024-13-01", "no such day"),
        ("1.3.24", "invalid date \"1.3.24\""),
        ("03/01/2024", "invalid date"),
        ("morgen", "invalid date \"morgen\""),
        ("2024-03-01x", "invalid date"),
    ] {
        let path = file_with(dir.path(), &format!("1,Anna,print,{value},,a.pdf\n"));
        one_error(&path, &path, 2, 4, text);
        let path = file_with(dir.path(), &format!("1,Anna,print,2024-01-01,{value},a.pdf\n"));
        one_error(&path, &path, 2, 5, text);
    }
    let path = file_with(dir.path(), "1,Anna,print,,,a.pdf\n");
    one_error(&path, &path, 2, 4, "no grant date");
}

#[test]
fn expiry_or_revocation_before_grant() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        file_with(dir.path(), "1,Anna,print,01.03.2024,28.02.2024,a.pdf\n2,Bernd,print,01.03.2024,01.03.2024,a.pdf\n");
    one_error(&path, &path, 2, 5, "expires 2024-02-28 before it was granted (2024-03-01)");
    let path =
        write(dir.path(), "reg.csv", "person,usage,granted,revoked,document\nAnna,print,2024-03-01,2024-01-01,a.pdf\n");
    one_error(&path, &path, 2, 4, "revoked 2024-01-01 before it was granted");
}

#[test]
fn unknown_and_missing_usage() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(dir.path(), "1,Anna,\"Druck, Flyer\",2024-03-01,,a.pdf\n");
    let e = one_error(&path, &path, 2, 3, "unknown usage word \"Flyer\"");
    assert!(e.message.contains("print, web"), "{e}");
    let path = file_with(dir.path(), "1,Anna, | ,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 2, 3, "no usage");
}

#[test]
fn duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        dir.path(),
        "1,Anna,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,a.pdf\n1,Clara,print,2024-03-01,,a.pdf\n",
    );
    let e = one_error(&path, &path, 4, 1, "duplicate id \"1\"");
    assert!(e.message.contains(&format!("{}:2", path.display())), "{e}");
    // A group's `ID.n` collides with an explicit id.
    let path = file_with(dir.path(), "7,Anna|Bernd,print,2024-03-01,,a.pdf\n7.2,Clara,print,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 3, 1, "duplicate id \"7.2\"");
}

#[test]
fn empty_person() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(dir.path(), "1,  ,print,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 2, 2, "empty person");
    let path = file_with(dir.path(), "1,Anna||Bernd,print,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 2, 2, "empty name in the group");
    let path = file_with(dir.path(), "1,Anna|anna ,print,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 2, 2, "named twice");
}

#[test]
fn unknown_duplicate_and_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "reg.csv", "person,usage,granted,expries\nAnna,print,2024-03-01,2024-01-01\n");
    let e = one_error(&path, &path, 1, 4, "unknown column \"expries\"");
    assert!(e.message.contains("expires"), "{e}");
    let path = write(dir.path(), "reg.csv", "person,usage,granted,expires,Ablaufdatum\n");
    one_error(&path, &path, 1, 5, "given twice");
    let path = write(dir.path(), "reg.csv", "Name;Erteilt\nAnna;01.03.2024\n");
    one_error(&path, &path, 1, 0, "missing column \"usage\"");
    let path = write(dir.path(), "reg.csv", "");
    one_error(&path, &path, 0, 0, "empty");
}

#[test]
fn values_without_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "reg.csv", "person,usage,granted,\nAnna,print,2024-03-01,,\nBernd,web,2024-03-01,x,y\n");
    let errs = errors(&path);
    let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(3, 4), (3, 5)], "{errs:#?}");
}

#[test]
fn invalid_scope() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "reg.csv", "person,usage,granted,scope\nAnna,print,2024-03-01,fest/[a.jpg\n");
    one_error(&path, &path, 2, 4, "invalid scope pattern");
}

#[test]
fn malformed_quoting_is_an_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    // Text after a closing quote.
    let path = file_with(dir.path(), "1,\"Anna\" Schmidt,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,a.pdf\n");
    one_error(&path, &path, 2, 2, "after the closing quote");
    // An unclosed quote swallows the rest: reported where it opens, earlier rows still checked.
    let path = file_with(
        dir.path(),
        "1,Anna,print,morgen,,a.pdf\n2,\"Bernd,print,2024-03-01,,a.pdf\n3,Clara,print,2024-03-01,,a.pdf\n",
    );
    let errs = errors(&path);
    let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(2, 4), (3, 2)], "{errs:#?}");
    assert!(errs[1].message.contains("never closed"));
    // Quoted fields with delimiters, quotes and line breaks are fine; later lines count right.
    let path = file_with(
        dir.path(),
        "1,\"Schmidt, Anna\",\"print,web\",2024-03-01,,a.pdf\n\n2,\"Bernd \"\"B\"\"\nMeier\",print,2024-03-01,,a.pdf\n\n\n3,Clara,print,morgen,,a.pdf\n",
    );
    one_error(&path, &path, 8, 4, "morgen");
    let path = file_with(dir.path(), "1,\"Schmidt, Anna\",\"print,web\",2024-03-01,,a.pdf\n");
    assert_eq!(loaded(&path).register.consents[0].person, "Schmidt, Anna");
}

#[test]
fn several_errors_are_reported_at_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        dir.path(),
        "1,Anna,Flyer,31.02.2024,,a.pdf\n\
         1,,print,2024-03-01,2023-01-01,a.pdf\n\
         3,Clara,print,2024-03-01,,missing.pdf\n\
         4,Dora,web,2024-03-01,bald,a.pdf\n",
    );
    let Err(RegisterErrors(all)) = load(&path) else { panic!("expected errors") };
    let at: Vec<(u64, u64, Severity)> = all.iter().map(|e| (e.line, e.column, e.severity)).collect();
    use Severity::*;
    assert_eq!(
        at,
        [(2, 3, Error), (2, 4, Error), (3, 1, Error), (3, 2, Error), (3, 5, Error), (4, 6, Warning), (5, 5, Error)],
        "{all:#?}"
    );
    assert!(all.iter().all(|e| e.file == path.display().to_string()));
}

#[test]
fn document_warnings() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("docs")).unwrap();
    write(&dir.path().join("docs"), "b.pdf", "%PDF-1.4");
    let path = file_with(
        dir.path(),
        "1,Anna,print,2024-03-01,,a.pdf\n2,Bernd,print,2024-03-01,,docs/b.pdf\n3,Clara,print,2024-03-01,,docs/c.pdf\n4,Dora,print,2024-03-01,,\n5,Emil,print,2024-03-01,,docs\n",
    );
    let l = loaded(&path);
    assert_eq!(l.register.consents.len(), 5);
    let w: Vec<(u64, u64)> = l.warnings.iter().map(|w| (w.line, w.column)).collect();
    assert_eq!(w, [(4, 6), (5, 6), (6, 6)], "{:#?}", l.warnings);
    assert!(l.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert!(l.warnings[0].message.contains("\"docs/c.pdf\" not found"), "{}", l.warnings[0]);
    assert_eq!(l.warnings[1].message, "no evidence document");
    assert!(l.warnings[2].message.contains("not a file"));
    // Without a document column every row warns, on the row.
    let path = write(dir.path(), "reg.csv", "person,usage,granted\nAnna,print,2024-03-01\n");
    let l = loaded(&path);
    assert_eq!((l.warnings.len(), l.warnings[0].line, l.warnings[0].column), (1, 2, 0));
}

#[test]
fn unreadable_register() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.csv");
    one_error(&path, &path, 0, 0, "cannot read");
    let empty = tempfile::tempdir().unwrap();
    one_error(empty.path(), empty.path(), 0, 0, "no CSV file");
}

/// A directory register with all four kinds of file.
fn directory(dir: &Path) {
    fs::create_dir_all(dir.join("pdf")).unwrap();
    write(dir, "pdf/anna.pdf", "%PDF-1.4");
    write(dir, "notes.txt", "not a register");
    write(dir, "._2024.csv", b"\x00\x05\x16\x07 AppleDouble");
    write(dir, "persons.csv", "id;name;aliases\nP1;Anna Schmidt;Anna|A. Schmidt\nP2;Bernd Meier;\n");
    write(dir, "originators.csv", "ID,Name\nU1,Studio Nord\nU2,Foto Süd\n");
    write(
        dir,
        "exemptions.csv",
        "scope,person,reason,note\nevents/**,*,public-event,Stadtfest\n2024/*.jpg,Bernd Meier,not recognisable,\n",
    );
    write(
        dir,
        "2024.csv",
        "id,person,usage,granted,originator,document\n1,anna,print,2024-01-01,U1,pdf/anna.pdf\n2,Bernd Meier|A. Schmidt,web,2024-01-01,foto süd,pdf/anna.pdf\n",
    );
    write(dir, "2025.csv", "person,usage,granted,document\nBernd Meier,press,2025-01-01,pdf/anna.pdf\n");
}

#[test]
fn directory_register_with_all_four_files() {
    let dir = tempfile::tempdir().unwrap();
    directory(dir.path());
    let l = loaded(dir.path());
    assert!(l.warnings.is_empty(), "{:#?}", l.warnings);
    let r = &l.register;
    assert_eq!(ids(&l), ["1", "2.1", "2.2", "2025:2"]);
    assert_eq!(r.consents[0].originator.as_deref(), Some("Studio Nord"));
    assert_eq!(r.consents[1].originator.as_deref(), Some("Foto Süd"));
    assert_eq!(&*r.consents[3].origin.file, dir.path().join("2025.csv").display().to_string());
    assert_eq!(r.persons.len(), 2);
    assert_eq!(r.persons[0].aliases, ["Anna", "A. Schmidt"]);
    assert_eq!(
        r.originators,
        [
            Originator { id: "U1".into(), name: "Studio Nord".into() },
            Originator { id: "U2".into(), name: "Foto Süd".into() }
        ]
    );
    assert_eq!(r.exemptions.len(), 2);
    assert_eq!((r.exemptions[0].person.as_ref(), r.exemptions[0].reason), (None, ExemptReason::PublicEvent));
    assert_eq!(r.exemptions[0].note.as_deref(), Some("Stadtfest"));
    assert_eq!(r.exemptions[1].person.as_deref(), Some("Bernd Meier"));
    assert_eq!(r.exemptions[1].origin.line, 3);
    // Names and aliases are one identity with their consents.
    let anna = r.identity("A. Schmidt").unwrap();
    assert_eq!(r.consents_of(anna).count(), 2);
}

#[test]
fn directory_reference_errors() {
    let dir = tempfile::tempdir().unwrap();
    directory(dir.path());
    let file = dir.path().join("2025.csv");
    write(
        dir.path(),
        "2025.csv",
        "person,usage,granted,document,originator\nBernd Meier,press,2025-01-01,pdf/anna.pdf,Studio West\n",
    );
    one_error(dir.path(), &file, 2, 5, "unknown originator \"Studio West\"");
    write(dir.path(), "2025.csv", "person,usage,granted,document\nBerndt Meier|Anna,press,2025-01-01,pdf/anna.pdf\n");
    one_error(dir.path(), &file, 2, 1, "unknown person \"Berndt Meier\"");
    fs::remove_file(&file).unwrap();
    let file = dir.path().join("exemptions.csv");
    write(dir.path(), "exemptions.csv", "Geltungsbereich;Person;Grund\n*;Clara;prominent\n");
    one_error(dir.path(), &file, 2, 2, "unknown person \"Clara\"");
    write(dir.path(), "exemptions.csv", "scope,person,reason\n*,*,weil\n");
    one_error(dir.path(), &file, 2, 3, "unknown exemption reason \"weil\"");
    write(dir.path(), "exemptions.csv", "scope,person,reason\n,,prominent\n*,*,\n,,\n");
    let errs = errors(dir.path());
    let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(2, 1), (2, 2), (3, 3)], "{errs:#?}");
    assert!(errs[2].message.contains("empty reason"));
}

#[test]
fn single_file_registers_have_no_reference_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "reg.csv", "person,usage,granted,originator,document\nNiemand,print,2024-01-01,Irgendwer,\n");
    assert_eq!(loaded(&path).register.consents[0].originator.as_deref(), Some("Irgendwer"));
}

#[test]
fn duplicates_across_the_files_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    directory(dir.path());
    write(dir.path(), "2025.csv", "id,person,usage,granted,document\n1,Bernd Meier,press,2025-01-01,pdf/anna.pdf\n");
    let e = one_error(dir.path(), &dir.path().join("2025.csv"), 2, 1, "duplicate id \"1\"");
    assert!(e.message.contains(&format!("{}:2", dir.path().join("2024.csv").display())), "{e}");
    write(dir.path(), "2025.csv", "person,usage,granted,document\nBernd Meier,press,2025-01-01,pdf/anna.pdf\n");
    write(dir.path(), "persons.csv", "id;name;aliases\nP1;Anna Schmidt;Anna|A. Schmidt\nP1;Bernd Meier;anna\n");
    let errs = errors(dir.path());
    let at: Vec<(u64, u64)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(3, 1), (3, 3)], "{errs:#?}");
}

#[test]
fn digest_follows_content() {
    let dir = tempfile::tempdir().unwrap();
    let a = file_with(dir.path(), "1,Anna,print,2024-03-01,,a.pdf\n");
    let first = loaded(&a).register.digest;
    assert_eq!(loaded(&a).register.digest, first);
    let other = tempfile::tempdir().unwrap();
    assert_eq!(loaded(&file_with(other.path(), "1,Anna,print,2024-03-01,,a.pdf\n")).register.digest, first);
    assert_ne!(loaded(&file_with(dir.path(), "1,Anna,web,2024-03-01,,a.pdf\n")).register.digest, first);

    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    directory(d1.path());
    directory(d2.path());
    let digest = loaded(d1.path()).register.digest;
    assert_eq!(loaded(d2.path()).register.digest, digest);
    assert_ne!(digest, first);
    write(d2.path(), "notes.txt", "not part of the register");
    assert_eq!(loaded(d2.path()).register.digest, digest);
    // The same bytes under another file name are another register.
    fs::rename(d2.path().join("2025.csv"), d2.path().join("2026.csv")).unwrap();
    assert_ne!(loaded(d2.path()).register.digest, digest);
}

/// Test data: random valid registers, and damaged copies of them.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A valid register of `rows` rows (every row with a distinct id, groups included) and the
    /// number of consents it holds.
    fn register(&mut self, rows: usize) -> (String, usize) {
        const NAMES: &[&str] =
            &["Anna Schmidt", "Jürgen Weiß", "Ève Dupont", "Bernd \"B\" Meier", "Çelik, Ayşe", "O'Neil"];
        const USAGE: &[&str] = &["print", "Druck", "Internet", "Social Media", "Presse", "Weitergabe an Dritte", "tv"];
        let delimiter = self.pick(&[",", ";", "\t"]);
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = ["Nr", "Person", "usage", "Beginn", "Ablauf", "PDF", "scope"].join(delimiter) + "\r\n";
        let mut consents = 0;
        for i in 0..rows {
            let group = 1 + self.below(3);
            let mut names: Vec<&str> = Vec::new();
            while names.len() < group {
                let n = self.pick(NAMES);
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            consents += group;
            let usage: Vec<&str> = (0..1 + self.below(3)).map(|_| self.pick(USAGE)).collect();
            let (y, m, d) = (2000 + self.below(30), 1 + self.below(12), 1 + self.below(28));
            let granted = if self.below(2) == 0 { format!("{y}-{m:02}-{d:02}") } else { format!("{d}.{m}.{y}") };
            let expires = self.pick(&["", "unbegrenzt", "Unlimited", "31.12.2099", "2100-01-01"]);
            let scope = self.pick(&["", "*", "2024/**", "a/*.jpg|b/[a-c]?.png"]);
            let fields = [
                i.to_string(),
                quote(&names.join("|")),
                quote(&usage.join(",")),
                granted,
                expires.into(),
                "a.pdf".into(),
                quote(scope),
            ];
            out += &(fields.join(delimiter) + "\r\n");
        }
        (out, consents)
    }

    /// `text` with a few random bytes changed: quotes, delimiters, line breaks, high bytes, cuts.
    fn damage(&mut self, text: &str) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(6) {
                0 => bytes.insert(at, b'"'),
                1 => bytes.insert(at, *[b',', b';', b'\t'].get(self.below(3)).unwrap()),
                2 => bytes.insert(at, *[b'\n', b'\r'].get(self.below(2)).unwrap()),
                3 => bytes.insert(at, 0x80 + self.below(128) as u8),
                4 => bytes.truncate(at),
                _ => {
                    if at < bytes.len() {
                        bytes.remove(at);
                    }
                }
            }
        }
        bytes
    }
}

#[test]
fn generated_registers_load_completely() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pdf", "%PDF-1.4");
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..50 {
        let rows = g.below(20);
        let (text, consents) = g.register(rows);
        let path = write(dir.path(), "reg.csv", &text);
        let l = loaded(&path);
        assert_eq!(l.register.consents.len(), consents, "{text}");
        assert!(l.warnings.is_empty());
    }
}

/// Evaluations of `names` (each alone, and all together) on `paths` and dates with a register
/// loaded whole and deferred: the same decisions, and the deferred register built only the
/// consents of the names evaluated.
fn same_decisions_deferred(path: &Path, names: &[&str], paths: &[&str]) {
    let voc = Vocabulary::default();
    let load = |o| if path.is_dir() { load_dir(path, &voc, o) } else { load_file(path, &voc, o) };
    let whole = load(Options::CONSENTS).unwrap();
    // Deferred: validated afresh, then with the row cache written, then read from it.
    let cache = tempfile::tempdir().unwrap();
    let cached = || crate::register::load_cached(path, &voc, Options::EVALUATION, Some(cache.path())).unwrap();
    let fresh = load(Options::EVALUATION).unwrap();
    let (written, from_cache) = (cached(), cached());
    let files = fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(files, 1, "one cache file per register");
    let row_cache = RowCache::new(cache.path(), path, &whole.register.digest, &voc);
    let special = ["persons.csv", "exemptions.csv", "originators.csv"];
    let consent_files = if path.is_dir() {
        let names = fs::read_dir(path).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase());
        names.filter(|n| n.ends_with(".csv") && !n.starts_with('.') && !special.contains(&n.as_str())).count()
    } else {
        1
    };
    assert!(row_cache.read(consent_files).is_some(), "the second load read the cache: {}", path.display());
    for deferred in [fresh, written, from_cache] {
        same_decisions(&whole, deferred, names, paths);
    }
}

fn same_decisions(whole: &Loaded, mut deferred: Loaded, names: &[&str], paths: &[&str]) {
    assert_eq!(whole.warnings, deferred.warnings);
    assert_eq!(whole.register.digest, deferred.register.digest);
    assert!(deferred.register.is_deferred());
    let reg = &mut deferred.register;
    let mut sets: Vec<Vec<&str>> = names.iter().map(|n| vec![*n]).collect();
    sets.push(names.to_vec());
    for set in &sets {
        reg.prepare(set.iter().copied());
        for rel in paths {
            for day in ["2000-01-01", "2024-06-01", "2026-01-11", "2099-12-31"] {
                let date: Date = day.parse().unwrap();
                let a = crate::consent::evaluate(set, 1, Some(rel), &whole.register, date);
                let b = crate::consent::evaluate(set, 1, Some(rel), reg, date);
                assert_eq!(a, b, "{set:?} {rel} {day}");
            }
        }
    }
    // Only consents of the names met (and of their aliases and exempted persons) were built.
    assert!(reg.consents.len() <= whole.register.consents.len());
    let built: HashSet<&str> = reg.consents.iter().map(|c| c.id.as_str()).collect();
    for c in &whole.register.consents {
        let met = names
            .iter()
            .any(|n| whole.register.identity(n).is_some_and(|i| whole.register.identity(&c.person) == Some(i)));
        if met {
            assert!(built.contains(c.id.as_str()), "{} not built", c.id);
        }
    }
}

#[test]
fn the_row_cache_stands_only_for_the_same_content() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    fs::create_dir(&cache).unwrap();
    let (text, _) = Gen(99).register(40);
    let path = write(dir.path(), "reg.csv", &text);
    let voc = Vocabulary::default();
    let load = |voc: &Vocabulary| crate::register::load_cached(&path, voc, Options::EVALUATION, Some(&cache));
    let names = ["Anna Schmidt", "jürgen weiß", "Çelik, Ayşe", "X"];
    let paths = ["2024/a.jpg", "z.jpg"];
    let whole = load_file(&path, &voc, Options::CONSENTS).unwrap();
    same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
    let cache_file = fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();

    // A damaged cache is ignored (the register is validated again) and written anew.
    let mut bytes = fs::read(&cache_file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    fs::write(&cache_file, &bytes).unwrap();
    same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
    assert_ne!(fs::read(&cache_file).unwrap(), bytes, "rewritten");
    // Cut short, or of another program: the same.
    fs::write(&cache_file, &bytes[..n / 3]).unwrap();
    same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
    fs::write(&cache_file, b"something else").unwrap();
    same_decisions(&whole, load(&voc).unwrap(), &names, &paths);

    // Another vocabulary validates usage words otherwise: not the same load.
    let key = |v: &Vocabulary| RowCache::new(&cache, &path, &whole.register.digest, v).key;
    let other = Vocabulary::new(vec![crate::model::UsageTerm {
        name: "print".into(),
        synonyms: vec![],
        spelling: "print".into(),
    }]);
    assert_ne!(key(&voc), key(&other));
    let errors = load(&other).map(|_| ()).unwrap_err().0;
    assert!(errors.iter().any(|p| p.message.contains("unknown usage word")), "{errors:#?}");

    // A register that breaks after a cached load reports its errors (new content, new key).
    fs::write(&path, "id,person,usage,granted\n1,Anna Schmidt,print,31.02.2024\n").unwrap();
    let errors = load(&voc).map(|_| ()).unwrap_err().0;
    assert!(errors.iter().any(|p| p.message.contains("31.02.2024")), "{errors:#?}");
    // And a register with errors leaves the cache as it was: the good content still hits.
    fs::write(&path, &text).unwrap();
    same_decisions(&whole, load(&voc).unwrap(), &names, &paths);
    assert!(RowCache::new(&cache, &path, &whole.register.digest, &voc).read(1).is_some());
}

#[test]
fn deferred_registers_decide_as_whole_ones() {
    let dir = tempfile::tempdir().unwrap();
    directory(dir.path());
    let names = ["anna", "A. Schmidt", "BERND MEIER", "Anna  Schmidt", "Clara", "Bernd Meier"];
    same_decisions_deferred(dir.path(), &names, &["a.jpg", "2024/x.jpg", "events/e.jpg"]);

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/register");
    let names = [
        "Anna Schmidt",
        "schmidt, anna",
        "Zoë Adams",
        "Lena Fischer",
        "Mia Wagner",
        "Jürgen Groß",
        "Oma Erna",
        "Nobody",
    ];
    let paths = ["2023/summer-fest/a.jpg", "2023/summer-fest/backstage/everything.jpg", "2024/b.jpg", "c.jpg"];
    same_decisions_deferred(&fixtures, &names, &paths);

    // Generated registers: groups, quoting, every delimiter, non-ASCII names.
    let mut g = Gen(0x2545_F491_4F6C_DD1D);
    write(dir.path(), "a.pdf", "%PDF-1.4");
    for _ in 0..20 {
        let rows = 1 + g.below(30);
        let (text, _) = g.register(rows);
        // Rows are read again at their offsets: in the file itself, after a byte order mark,
        // or in the text decoded from Windows-1252.
        let (with_bom, cp1252) =
            ([&[0xEF, 0xBB, 0xBF], text.as_bytes()].concat(), encoding_rs::WINDOWS_1252.encode(&text).0.into_owned());
        for bytes in [text.as_bytes(), &with_bom[..], &cp1252[..]] {
            let path = write(dir.path(), "reg.csv", bytes);
            let names =
                ["Anna Schmidt", "jürgen weiß", "ÈVE DUPONT", "Bernd \"B\" Meier", "Çelik, Ayşe", "O'Neil", "X"];
            same_decisions_deferred(&path, &names, &["2024/a.jpg", "a/x.jpg", "b/c1.png", "z.jpg"]);
        }
    }
}

#[test]
fn name_hashes_agree_for_names_and_their_keys() {
    for name in [
        "Anna Schmidt",
        "ANNA  schmidt ",
        "Jürgen Groß",
        "Zoe\u{308} Adams",
        "\u{212A}arl",
        "İpek",
        "a".repeat(200).as_str(),
    ] {
        let key = name_key(name);
        assert_eq!(normal_name_hash(&normalize_name(name)), hash_key(&key), "{name:?}");
    }
}

#[test]
fn quick_quoting_check_agrees_with_the_field_walk() {
    let mut g = Gen(7);
    let (mut clean, mut broken) = (0, 0);
    for _ in 0..3000 {
        let rows = 1 + g.below(6);
        let (text, _) = g.register(rows);
        let mut bytes = g.damage(&text);
        // Quote-heavy damage as well: doubled quotes, quotes around and inside fields.
        for _ in 0..g.below(3) {
            let at = g.below(bytes.len() + 1);
            let piece = g.pick(&["\"\"", "\"x\"", ",\"", "\",", "\"\n"]);
            bytes.splice(at..at, piece.bytes());
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for delimiter in [b',', b';', b'\t'] {
            let walked = walk_quoting("f", &text, delimiter, &LineIndex::new(&text), &mut Problems::default());
            assert_eq!(quoting_is_clean(text.as_bytes(), delimiter), walked.is_empty(), "{text:?}");
            if walked.is_empty() {
                clean += 1;
            } else {
                broken += 1;
            }
        }
    }
    assert!(clean > 1000 && broken > 1000, "{clean} clean, {broken} broken");
}

#[test]
fn damaged_registers_never_panic_and_errors_have_places() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pdf", "%PDF-1.4");
    let mut g = Gen(42);
    for _ in 0..400 {
        let rows = 1 + g.below(8);
        let (text, _) = g.register(rows);
        let bytes = g.damage(&text);
        let path = write(dir.path(), "reg.csv", &bytes);
        let lines = 1 + (0..bytes.len()).filter(|&i| is_line_break(&bytes, i)).count() as u64;
        match load(&path) {
            Ok(l) => assert!(l.register.consents.iter().all(|c| c.origin.line >= 2 && c.origin.line <= lines)),
            Err(RegisterErrors(all)) => {
                assert!(all.iter().any(|p| p.severity == Severity::Error));
                assert!(all.iter().all(|p| p.line <= lines && !p.message.is_empty()), "{all:#?}");
            }
        }
    }
}

#[test]
fn german_usage_words_name_their_areas() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(
        dir.path(),
        "1,Anna,\"Webseite, Soziale Medien\",2024-03-01,,a.pdf\n\
         2,Bernd,Soziale Netzwerke|Archiv,2024-03-01,,a.pdf\n\
         3,Clara,\"Zeitung, Plakat\",2024-03-01,,a.pdf\n",
    );
    let l = loaded(&path);
    let usage = |i: usize| l.register.consents[i].usage.iter().cloned().collect::<Vec<_>>();
    assert_eq!(usage(0), ["social", "web"]);
    assert_eq!(usage(1), ["archive", "social"]);
    assert_eq!(usage(2), ["advertising", "print"]);
}

#[test]
fn an_unknown_usage_word_lists_the_accepted_words_with_the_german_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_with(dir.path(), "1,Anna,Flyer,2024-03-01,,a.pdf\n");
    let e = one_error(&path, &path, 2, 3, "unknown usage word \"Flyer\"");
    for word in ["print, web", "Webseite", "Soziale Medien", "Soziale Netzwerke", "Archiv", "Zeitung", "Plakat"] {
        assert!(e.message.contains(word), "{word}: {e}");
    }
}

/// A register whose revoked column holds the words people write instead of a day.
fn revoked_words(dir: &Path) -> PathBuf {
    write(dir, "a.pdf", "%PDF-1.4");
    write(
        dir,
        "reg.csv",
        "Nr;Person;Einsatzgebiete;Erteilt;Widerrufen;Dokument\n\
         1;Anna;Druck;01.03.2024;ja;a.pdf\n\
         2;Bernd;Druck;02.03.2024;X;a.pdf\n\
         3;Clara;Druck;03.03.2024; Yes ;a.pdf\n\
         4;Dora;Druck;04.03.2024;TRUE;a.pdf\n\
         5;Emil;Druck;05.03.2024;j;a.pdf\n\
         6;Fritz;Druck;06.03.2024;nein;a.pdf\n\
         7;Gina;Druck;07.03.2024;No;a.pdf\n\
         8;Hans;Druck;08.03.2024;;a.pdf\n\
         9;Ida;Druck;09.03.2024;01.06.2024;a.pdf\n",
    )
}

#[test]
fn revoked_yes_is_revoked_since_the_grant_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = revoked_words(dir.path());
    let l = loaded(&path);
    let c = &l.register.consents;
    let revoked: Vec<Option<Date>> = c.iter().map(|c| c.revoked).collect();
    let granted: Vec<Date> = c.iter().map(|c| c.granted).collect();
    assert_eq!(&revoked[..5], &granted[..5].iter().copied().map(Some).collect::<Vec<_>>()[..]);
    assert_eq!(&revoked[5..], [None, None, None, Some(date(2024, 6, 1))]);
    // One warning per yes-word, at its cell, saying what was assumed.
    let w: Vec<(u64, u64)> = l.warnings.iter().map(|w| (w.line, w.column)).collect();
    assert_eq!(w, [(2, 5), (3, 5), (4, 5), (5, 5), (6, 5)], "{:#?}", l.warnings);
    assert!(l.warnings.iter().all(|w| w.severity == Severity::Warning && w.file == path.display().to_string()));
    let first = &l.warnings[0].message;
    assert!(first.contains("\"ja\"") && first.contains("revoked since the grant (2024-03-01)"), "{first}");
    // Never valid on any day: the grant day itself included.
    for day in [date(2024, 3, 1), date(2024, 3, 2), date(2030, 1, 1)] {
        let d = crate::consent::evaluate(&["Anna"], 0, None, &l.register, day);
        assert_eq!(d.status, crate::consent::Status::Red, "{day}: {d:?}");
    }
    // Deferred and cached loads read the words alike.
    same_decisions_deferred(&path, &["Anna", "Fritz", "Ida"], &["a.jpg"]);
}

#[test]
fn other_words_in_the_revoked_column_stay_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "reg.csv", "person,usage,granted,revoked,document\nAnna,print,2024-03-01,vielleicht,a.pdf\n");
    one_error(&path, &path, 2, 4, "vielleicht");
}

#[test]
fn the_words_of_the_revoked_column() {
    for yes in ["ja", "JA", "j", "x", "X", "yes", "True", " ja "] {
        assert_eq!(consents::revoked_word(yes), Some(true), "{yes}");
    }
    for no in ["nein", "Nein", "n", "no", "NO", "false"] {
        assert_eq!(consents::revoked_word(no), Some(false), "{no}");
    }
    for other in ["", "2024-01-01", "jein", "xx", "widerrufen"] {
        assert_eq!(consents::revoked_word(other), None, "{other}");
    }
}

#[test]
fn keywords_prepare_only_the_names_the_register_knows() {
    let voc = Vocabulary::default();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/register");
    // A register with persons.csv, and one with only consents (names known by their consents).
    let dir = tempfile::tempdir().unwrap();
    let consents_only = write(dir.path(), "reg.csv", "id;person;usage;granted\n1;Anna Schmidt;web;2024-01-01\n");
    for path in [fixtures, consents_only] {
        let load = |o| if path.is_dir() { load_dir(&path, &voc, o) } else { load_file(&path, &voc, o) };
        let whole = load(Options::CONSENTS).unwrap().register;
        let mut deferred = load(Options::EVALUATION).unwrap().register;
        assert!(deferred.is_deferred());
        let keywords = ["Anna Schmidt", "ANNA  schmidt", "Sommerfest", "Berlin", "Lena Fischer", "Nobody"];
        for k in keywords {
            // A keyword names the same person as in the whole register (what the hints ask)...
            let (id, expected) = (deferred.keyword_identity(k), whole.identity(k));
            assert_eq!(id.is_some(), expected.is_some(), "{k} in {}", path.display());
            assert_eq!(id.is_some(), deferred.identity(k).is_some(), "{k}");
        }
        // ...and one naming nobody is not remembered (a run's memory stays the register's).
        assert!(!deferred.is_prepared("Sommerfest") && !deferred.is_prepared("Nobody"));
    }
}
