//! End to end: `--format xlsx -o FILE` (issue 14, item 5) for `scan`, `report missing` and
//! `report expiring`, on a copy of the fixture archive with one unreadable file added. The
//! spreadsheets are read back (calamine): a bold header in the language, numbers as numbers,
//! days as real dates, statuses in the language, every file of the scan with the status the
//! JSON gives it (the unreadable one included), text never a formula, the file private (0600).
//! Without `-o` the format is a usage error before any scan.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use calamine::{Data, DataType, Range, Reader, StyleRange, Xlsx};
use chrono::NaiveDate;
use serde_json::Value;
use support::{jsonl, stderr, stdout};

const AS_OF: &str = "2026-06-01";
/// A green file of the fixtures: Anna Schmidt and Jonas Weber, cleared for print and web.
const KNOWN: &str = "2023/summer-fest/IMG_1001.jpg";
/// A copy of [`KNOWN`] cut off in the middle of the metadata naming Anna Schmidt: unreadable
/// ([`support::add_cut_copy`]).
const BROKEN: &str = "./2023/summer-fest/broken.jpg";
/// A copy of [`KNOWN`] at the archive root whose name is a formula. Jonas Weber's consent
/// covers only `2023/**`: yellow, so `report missing` lists it.
const FORMULA: &str = "=1+1.jpg";

struct Archive {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

fn archive() -> Archive {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, BROKEN);
    fs::copy(root.join(KNOWN), root.join(FORMULA)).unwrap();
    Archive { tmp, root }
}

impl Archive {
    /// `args` on the archive without state.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.push("--no-state");
        support::run(&all, &self.root)
    }

    /// A path for an output file, outside the archive.
    fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

/// A spreadsheet written by consentry: its one sheet's cells and styles.
struct Sheet {
    cells: Range<Data>,
    styles: StyleRange,
}

impl Sheet {
    fn read(path: &Path) -> Sheet {
        let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
        let names = book.sheet_names();
        assert_eq!(names, ["consentry"]);
        Sheet { cells: book.worksheet_range("consentry").unwrap(), styles: book.worksheet_style("consentry").unwrap() }
    }

    fn header(&self) -> Vec<String> {
        self.cells.rows().next().unwrap().iter().map(|c| c.to_string()).collect()
    }

    fn column(&self, name: &str) -> usize {
        self.header()
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name:?}: {:?}", self.header()))
    }

    /// The data rows (without the header).
    fn rows(&self) -> Vec<&[Data]> {
        self.cells.rows().skip(1).collect()
    }

    /// The number format of a data cell (`row` counted from the first data row).
    fn number_format(&self, row: usize, column: usize) -> Option<String> {
        let style = self.styles.get(((row + 1) as u32, column as u32))?;
        style.number_format.as_ref().map(|f| f.format_code.clone())
    }

    fn header_is_bold(&self) -> bool {
        (0..self.header().len())
            .all(|c| self.styles.get((0, c as u32)).and_then(|s| s.font.as_ref()).is_some_and(|f| f.is_bold()))
    }
}

/// The text of a cell (empty for an empty cell).
fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        other => panic!("not text: {other:?}"),
    }
}

/// The worksheet XML of a spreadsheet (what calamine does not expose: panes and the filter).
fn sheet_xml(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    xml
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn without_an_output_file_xlsx_is_a_usage_error_before_any_scan() {
    let a = archive();
    for args in [
        &["scan", "--format", "xlsx"][..],
        &["report", "missing", "--format", "xlsx"],
        &["check", "--for", "web", "--format", "xlsx"],
    ] {
        let out = a.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("--format xlsx writes a file: give it with -o FILE"), "{err}");
        assert!(!err.contains("Scanned"), "the scan ran first: {err}");
    }
}

#[test]
fn scan_as_a_spreadsheet_has_every_file_with_its_typed_evaluation() {
    let a = archive();
    let json = a.run(&["scan", "--as-of", AS_OF, "--format", "jsonl"]);
    assert_eq!(json.status.code(), Some(3), "{}", stderr(&json));
    let records: BTreeMap<String, Value> =
        jsonl(&json).into_iter().map(|r| (r["path"].as_str().unwrap().to_string(), r)).collect();

    let file = a.out("scan.xlsx");
    let out = a.run(&["scan", "--as-of", AS_OF, "--format", "xlsx", "-o", file.to_str().unwrap()]);
    // The unreadable file makes the run partial; the spreadsheet is written all the same.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(mode(&file), 0o600);
    let sheet = Sheet::read(&file);
    assert!(sheet.header_is_bold());
    assert_eq!(
        sheet.header(),
        [
            "PATH",
            "KIND",
            "FORMAT",
            "PERSONS",
            "UNNAMED FACES",
            "SOURCES",
            "SIDECARS",
            "TAKEN",
            "ERROR",
            "STATUS",
            "MISSING",
            "USAGE",
            "CONSENTS",
            "VALID UNTIL",
            "HINTS"
        ]
    );
    let (path, status, faces, persons, until, error) = (
        sheet.column("PATH"),
        sheet.column("STATUS"),
        sheet.column("UNNAMED FACES"),
        sheet.column("PERSONS"),
        sheet.column("VALID UNTIL"),
        sheet.column("ERROR"),
    );
    let rows = sheet.rows();
    assert_eq!(rows.len(), records.len());
    let (mut dates, mut hints) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let p = text(&row[path]);
        let r = records.get(&p).unwrap_or_else(|| panic!("{p} is not in the scan"));
        assert_eq!(text(&row[status]), r["status"].as_str().unwrap_or(""), "{p}");
        assert_eq!(row[faces], Data::Float(r["unnamed_faces"].as_f64().unwrap()), "{p}: a number");
        let names: Vec<&str> = r["persons"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(text(&row[persons]), names.join(", "), "{p}");
        // The hints column has the hints of the JSON record (a keyword naming a registered person).
        let hinted: Vec<&str> =
            r["hints"].as_array().map(|h| h.iter().map(|h| h["name"].as_str().unwrap()).collect()).unwrap_or_default();
        let shown = text(&row[sheet.column("HINTS")]);
        assert_eq!(shown.is_empty(), hinted.is_empty(), "{p}: {shown:?}");
        assert!(
            hinted.iter().all(|name| shown.contains(&format!("{name} (keyword names a registered person"))),
            "{p}: {shown:?}"
        );
        hints += hinted.len();
        match r["valid_until"].as_str() {
            Some(day) => {
                assert!(matches!(row[until], Data::DateTime(_)), "{p}: {:?} is no date", row[until]);
                assert_eq!(row[until].as_date(), NaiveDate::parse_from_str(day, "%Y-%m-%d").ok(), "{p}");
                assert_eq!(sheet.number_format(i, until).as_deref(), Some("yyyy-mm-dd"));
                dates += 1;
            }
            None => assert_eq!(row[until], Data::Empty, "{p}"),
        }
        assert_eq!(text(&row[error]), r["error"].as_str().unwrap_or(""), "{p}");
    }
    assert!(dates > 0, "some file is green until a day");
    assert!(hints > 0, "a fixture has a keyword naming a registered person");
    // The unreadable file is there, unreadable, with what went wrong.
    let broken = rows.iter().find(|r| text(&r[path]) == BROKEN).expect("the unreadable file is listed");
    assert_eq!(text(&broken[status]), "unreadable");
    assert!(!text(&broken[error]).is_empty());
    // A file name that is a formula stays text.
    let formula = format!("./{FORMULA}");
    assert!(rows.iter().any(|r| r[path] == Data::String(formula.clone())), "{formula}");
    // The header row is frozen and filtered over the used range.
    let xml = sheet_xml(&file);
    assert!(xml.contains(r#"state="frozen""#) && xml.contains(r#"ySplit="1""#), "{xml}");
    assert!(xml.contains(&format!(r#"<autoFilter ref="A1:O{}"/>"#, rows.len() + 1)), "{xml}");
    assert!(!xml.contains("<f>"), "no formula in the sheet");

    // In German: German headers and statuses, the same files.
    let file = a.out("scan-de.xlsx");
    let out = a.run(&["--lang", "de", "scan", "--as-of", AS_OF, "--format", "xlsx", "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let sheet = Sheet::read(&file);
    let [path, status, _, _] = ["PFAD", "STATUS", "UNBENANNTE GESICHTER", "GÜLTIG BIS"].map(|c| sheet.column(c));
    assert_eq!(sheet.rows().len(), records.len());
    let broken = sheet.rows().into_iter().find(|r| text(&r[path]) == BROKEN).expect("the unreadable file is listed");
    assert_eq!(text(&broken[status]), "unlesbar");
}

#[test]
fn report_missing_in_german_lists_the_unreadable_file_and_keeps_formulas_text() {
    let a = archive();
    let file = a.out("fehlend.xlsx");
    let out = a.run(&[
        "--lang",
        "de",
        "report",
        "missing",
        "--as-of",
        AS_OF,
        "--format",
        "xlsx",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert_eq!(mode(&file), 0o600);
    let sheet = Sheet::read(&file);
    assert!(sheet.header_is_bold());
    let [path, status, missing, error] = ["PFAD", "STATUS", "FEHLENDE EINWILLIGUNG", "FEHLER"].map(|c| sheet.column(c));
    assert_eq!(path, 0);
    let rows = sheet.rows();
    let row = |p: &str| *rows.iter().find(|r| text(&r[path]) == p).unwrap_or_else(|| panic!("{p} not listed"));
    let broken = row(BROKEN);
    assert_eq!(text(&broken[status]), "unlesbar");
    assert!(!text(&broken[error]).is_empty(), "the error is given");
    let formula = row(&format!("./{FORMULA}"));
    assert_eq!(text(&formula[status]), "gelb");
    assert_eq!(text(&formula[missing]), "Jonas Weber (außerhalb des Geltungsbereichs)");
    assert!(rows.iter().any(|r| text(&r[status]) == "rot"));
    assert!(!sheet_xml(&file).contains("<f>"), "no formula in the sheet");

    // The same report through JSON Lines lists the same files.
    let json = a.run(&["report", "missing", "--as-of", AS_OF, "--format", "jsonl"]);
    let mut want: Vec<String> = jsonl(&json).iter().map(|r| r["path"].as_str().unwrap().to_string()).collect();
    let mut got: Vec<String> = rows.iter().map(|r| text(&r[path])).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn report_expiring_has_numbers_and_real_dates_in_either_language() {
    let a = archive();
    // On 1 December 2099, consents 2, 7 and 11 expire on 31 December.
    let json = a.run(&["report", "expiring", "--as-of", "2099-12-01", "--within", "60", "--format", "jsonl"]);
    // Exit 3: the unreadable file.
    assert_eq!(json.status.code(), Some(3), "{}", stderr(&json));
    let want = jsonl(&json);
    assert!(want.len() >= 3, "{want:?}");
    for (lang, header, format) in [
        ("en", ["ID", "PERSON", "EXPIRES", "DAYS LEFT", "FILES"], "yyyy-mm-dd"),
        ("de", ["ID", "PERSON", "ABLAUFDATUM", "TAGE ÜBRIG", "DATEIEN"], "dd.mm.yyyy"),
    ] {
        let file = a.out(&format!("expiring-{lang}.xlsx"));
        let out = a.run(&[
            "--lang",
            lang,
            "report",
            "expiring",
            "--as-of",
            "2099-12-01",
            "--within",
            "60",
            "--format",
            "xlsx",
            "-o",
            file.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_eq!(mode(&file), 0o600);
        let sheet = Sheet::read(&file);
        assert!(sheet.header_is_bold());
        let [id, person, expires, days, files] = header.map(|c| sheet.column(c));
        let rows = sheet.rows();
        assert_eq!(rows.len(), want.len());
        for (i, (row, w)) in rows.iter().zip(&want).enumerate() {
            assert_eq!(text(&row[id]), w["id"].as_str().unwrap());
            assert_eq!(text(&row[person]), w["person"].as_str().unwrap());
            assert!(matches!(row[expires], Data::DateTime(_)), "{:?}", row[expires]);
            let day = NaiveDate::parse_from_str(w["expires"].as_str().unwrap(), "%Y-%m-%d").ok();
            assert_eq!(row[expires].as_date(), day);
            assert_eq!(sheet.number_format(i, expires).as_deref(), Some(format), "{lang}");
            assert_eq!(row[days], Data::Float(w["days_left"].as_f64().unwrap()));
            assert_eq!(row[files], Data::Float(w["files"].as_f64().unwrap()));
        }
        assert!(rows.iter().any(|r| r[days] == Data::Float(30.0)), "31 December is 30 days away");
    }
}

#[test]
fn a_run_that_fails_leaves_the_old_spreadsheet_whole() {
    let a = archive();
    let file = a.out("old.xlsx");
    fs::write(&file, b"old").unwrap();
    // A register that cannot be used (an unknown usage word): exit 2, nothing written.
    let register = a.tmp.path().join("register/consents.csv");
    let mut text = fs::read_to_string(&register).unwrap();
    text.push_str("99;Anna Schmidt;Flyer;2023-01-15;;evidence/anna-schmidt.pdf;o1;*;;;\n");
    fs::write(&register, text).unwrap();
    for args in [&["scan"][..], &["report", "missing"]] {
        let mut args = args.to_vec();
        args.extend(["--as-of", AS_OF, "--format", "xlsx", "-o", file.to_str().unwrap()]);
        let out = a.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown usage word \"Flyer\""), "{}", stderr(&out));
        assert_eq!(fs::read(&file).unwrap(), b"old", "{args:?}");
    }
    let left: Vec<String> = fs::read_dir(a.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(consentry::own::TEMP_PREFIX))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// A cell longer than a spreadsheet cell holds is cut and marked, and stderr says so: never a
/// silently shorter answer.
#[test]
fn a_cell_cut_to_what_a_spreadsheet_holds_is_said_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("crowd.jpg"), [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    let items: String = (0..3000).map(|i| format!("<rdf:li>Person {i:05}</rdf:li>")).collect();
    fs::write(
        dir.join("crowd.jpg.xmp"),
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"#
        ),
    )
    .unwrap();
    let out = support::run(&["scan", "--no-state", "--format", "xlsx", "-o", "out.xlsx", "crowd.jpg"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 cell(s) longer than a spreadsheet cell holds"), "{}", stderr(&out));
    let mut book: Xlsx<_> = calamine::open_workbook(dir.join("out.xlsx")).unwrap();
    let sheet = book.worksheet_range("consentry").unwrap();
    let persons = sheet.rows().nth(1).unwrap().iter().find(|c| c.to_string().starts_with("Person 00000")).unwrap();
    assert!(persons.to_string().ends_with('…'));
}
