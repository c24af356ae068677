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
        if let Ok(props) = consentry::xmp::parse(&data, &|_| true) {
            let mut d = consentry::people::Depicted::default();
            consentry::people::from_xmp(&props, &PeopleRoots::default(), consentry::people::EMBEDDED, &mut d);
        }
    }
}
