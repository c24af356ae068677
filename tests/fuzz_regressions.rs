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

/// The regression inputs and the fixture archive's files.
fn corpus() -> Vec<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![repo.join("fuzz/regressions"), repo.join("fixtures/archive")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else if e.path().extension().is_none_or(|x| x != "md" && x != "json" && x != "toml") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

/// Each input, read as every format, through each layout walker and its three users: locating
/// metadata, finding previews, planning a write-back splice. None panics, each walk stays within
/// its limits, and where the scan reads a file of a format consentry writes without a problem,
/// the splice plan reads it too (and finds one of the packets the scan found): the three users
/// walk the same layout.
#[test]
fn walkers_and_their_users_agree_on_the_corpus() {
    use consentry::media::{layout, read_metadata, Format, MAX_ITEMS};
    use consentry::thumbnail::preview_sizes;
    use consentry::writeback::splice::{packet_of, SpliceError};

    let files = corpus();
    assert!(files.len() > 40, "{}", files.len());
    let mut planned = 0;
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let src = data.as_slice();
        for format in Format::ALL {
            let shown = format!("{} as {format:?}", path.display());
            if let Ok(blocks) = layout(&src, format) {
                assert!(blocks.len() <= 2 * MAX_ITEMS, "{shown}");
                for b in &blocks {
                    assert!(b.at.saturating_add(b.len) <= data.len() as u64, "{shown}: {b:?}");
                }
            }
            let (meta, problem) = read_metadata(&src, format);
            let _ = preview_sizes(&src, format);
            match packet_of(format, &src) {
                Err(SpliceError::NoWriter { .. }) => {}
                Err(e) => assert!(problem.is_some(), "{shown}: the scan reads it, the splice plan refuses it: {e}"),
                Ok(packet) => {
                    planned += 1;
                    if let Some(p) = packet {
                        assert!(meta.xmp.iter().any(|m| m.bytes == p), "{shown}: a packet the scan did not find");
                    }
                }
            }
        }
    }
    assert!(planned > 10, "{planned} splice plans");
}

/// Each file of the fixture archive, read as the format it is: its walker lays it out in order,
/// block after block inside the file, exactly when the scan reads it without a problem.
#[test]
fn fixture_files_are_laid_out_by_their_walker() {
    use consentry::media::{detect, layout, read_metadata, Format};

    let mut walked = 0;
    for path in corpus().iter().filter(|p| p.starts_with(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"))) {
        let data = std::fs::read(path).unwrap();
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let Some(format) = detect(&data, &ext) else { continue };
        let (_, problem) = read_metadata(&data.as_slice(), format);
        let blocks = layout(&data.as_slice(), format);
        if matches!(format, Format::WebP | Format::Gif | Format::RawSidecarOnly) {
            continue; // no walker of their own
        }
        let shown = format!("{} ({format:?})", path.display());
        match (&blocks, &problem) {
            (Ok(blocks), None) => {
                assert!(!blocks.is_empty(), "{shown}");
                if format != Format::Tiff && format != Format::Dng && format != Format::TiffRaw {
                    // Segments, chunks, boxes and resources follow one another, or lie inside the
                    // one before (the children of `moov`, a RAF's embedded JPEG's segments).
                    for pair in blocks.windows(2) {
                        let (a, b) = (pair[0], pair[1]);
                        let follows = a.at + a.len <= b.at;
                        let inside = a.at < b.at && b.at + b.len <= a.at + a.len;
                        assert!(follows || inside, "{shown}: {pair:?}");
                    }
                }
                walked += 1;
            }
            (Err(e), None) => panic!("{shown}: the scan reads it, its walker fails: {e}"),
            (_, Some(_)) => {}
        }
    }
    assert!(walked >= 15, "{walked} fixture files walked");
}
