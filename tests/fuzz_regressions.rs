//! Every input the fuzzers (`fuzz/`) ever crashed or hung on, kept in `fuzz/regressions/`, must
//! now scan to a record (usually an error record) without panicking.

use std::path::PathBuf;

use consentry::people::PeopleRoots;

#[test]
fn fuzz_regressions_scan_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_none_or(|e| e != "md"));
    files.sort();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        for ext in ["jpg", "dng", "cr2", "png"] {
            let rec = consentry::scan::scan_bytes(&data, ext, &PeopleRoots::default());
            // Either something was read or the reason is given.
            assert!(rec.format.is_some() || rec.error().is_some(), "{}", path.display());
        }
        // Files the exiftool conformance test generated: each form is read whole, with its
        // persons; each damaged file is in error.
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("exiftool-form-") || name.starts_with("damaged-") {
            let rec = consentry::scan::scan_bytes(&data, "jpg", &PeopleRoots::default());
            assert!(!rec.depicted.persons.is_empty(), "{name}: {:?}", rec.error());
            assert_eq!(rec.error().is_some(), name.starts_with("damaged-"), "{name}: {:?}", rec.error());
        }
        if let Ok(props) = consentry::xmp::parse(&data, &|_| true) {
            let mut d = consentry::people::Depicted::default();
            consentry::people::from_xmp(&props, &PeopleRoots::default(), consentry::people::EMBEDDED, &mut d);
        }
    }
}
