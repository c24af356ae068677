//! The engine on archives built in temporary folders: records evaluated by their own archive's
//! register, the plan of `apply`, and `apply` writing and then finding nothing to change.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::consent::{Decision, Status};
use crate::model::Vocabulary;
use crate::people::{Depicted, PeopleRoots};
use crate::report::Evaluated;
use crate::scan::{FileRecord, Placed};
use crate::writeback::plan::Target;
use crate::writeback::xmp_edit::Provenance;

use super::apply::{self, ApplyOptions};
use super::{Context, Need, Options, RegisterCache};

/// A JPEG whose XMP names `persons`.
fn photo(path: &Path, persons: &[&str]) {
    use consentry_synth::{build, xmp_for, Embed, People, Style, SynthFormat};
    let people = People { person_in_image: persons.iter().map(|p| p.to_string()).collect(), ..People::default() };
    let embed = Embed { xmp: Some(xmp_for(&people, Style::default())), ..Embed::default() };
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, build(SynthFormat::Jpeg, &embed)).unwrap();
}

/// An archive at `dir` whose CSV register gives `consents` ((person, usage)) from 2024-01-01.
fn archive(dir: &Path, consents: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    let mut csv = "person,usage,granted\n".to_string();
    for (person, usage) in consents {
        csv.push_str(&format!("{person},{usage},2024-01-01\n"));
    }
    fs::write(dir.join("register.csv"), csv).unwrap();
    fs::write(dir.join("consentry.toml"), "register = \"register.csv\"\n").unwrap();
}

/// Options for `paths` that write nothing outside `tmp` (no state, the register cache in it),
/// collecting the notes.
fn options(tmp: &Path, paths: Vec<PathBuf>) -> (Options, Arc<Mutex<Vec<String>>>) {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let sink = notes.clone();
    let options = Options {
        no_state: true,
        register_cache: RegisterCache::At(tmp.join("cache")),
        as_of: Some("2026-11-22".parse().unwrap()),
        notes: Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
        ..Options::new(paths)
    };
    (options, notes)
}

#[test]
fn each_file_is_evaluated_by_its_own_archive_in_walk_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    archive(&a, &[("Anna", "web")]);
    archive(&b, &[("Bob", "web")]);
    photo(&a.join("x/1.jpg"), &["Anna"]);
    photo(&b.join("2.jpg"), &["Anna"]);
    let (options, _) = options(tmp.path(), vec![a.clone(), b.clone()]);
    let ctx = Context::new(options, Need::Register, "test").unwrap();
    let read = Mutex::new(0);
    let (files, summary) = ctx.collect(&|_| *read.lock().unwrap() += 1).unwrap();
    assert_eq!(summary.errors, 0);
    assert_eq!(*read.lock().unwrap(), 2, "every record is seen as it is read");
    let names: Vec<_> = files.iter().map(|f| f.rel_path.clone().unwrap()).collect();
    assert_eq!(names, ["x/1.jpg", "2.jpg"], "in walk order, relative to each archive");
    let roots: Vec<PathBuf> = files.iter().map(|f| ctx.archive_of(&f.record).unwrap().root.clone()).collect();
    assert_eq!(roots, [fs::canonicalize(&a).unwrap(), fs::canonicalize(&b).unwrap()]);
    // Anna has consent in a's register only.
    assert_eq!(files[0].decision.status, Status::Green);
    assert_eq!(files[1].decision.status, Status::Red);
    assert!(!tmp.path().join("a/.consentry").exists(), "no state kept");
}

#[test]
fn a_register_with_errors_stops_the_command_with_its_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    archive(&a, &[("Anna", "no-such-usage")]);
    photo(&a.join("1.jpg"), &["Anna"]);
    let (options, _) = options(tmp.path(), vec![a.clone()]);
    let ctx = Context::new(options, Need::Register, "test").unwrap();
    let mut emitted = 0;
    let err = ctx.scan_evaluated(&|_| {}, |_, _, _, _| {
        emitted += 1;
        Ok(())
    });
    match err {
        Err(super::Error::Register { path, source }) => {
            assert!(path.ends_with("register.csv"), "{path}");
            assert!(!source.0.is_empty());
        }
        other => panic!("expected the register's errors, got {other:?}"),
    }
    assert_eq!(emitted, 0, "nothing is emitted before the register is known to be usable");
}

/// A decision of `status` (an unreadable file's carries no usage).
fn decision(status: Status) -> Decision {
    Decision {
        status,
        usage: if status == Status::Green { vec!["web".into()] } else { Vec::new() },
        missing: Vec::new(),
        consents: Vec::new(),
        valid_until: None,
        notes: Vec::new(),
        exempted: Vec::new(),
    }
}

fn evaluated(path: &Path, unit: usize, status: Status) -> Evaluated {
    let mut record =
        FileRecord::known(path.to_path_buf(), Some(crate::media::Format::Jpeg), Depicted::default(), Vec::new(), None);
    record.placed = Some(Placed { unit, rel: None });
    if status == Status::Unreadable {
        record.errors.push(crate::scan::ReadError::Media {
            format: crate::media::Format::Jpeg,
            error: crate::scan::Damage::new(crate::media::MediaError::malformed("segment", 2, "damaged")),
        });
    }
    Evaluated { record, rel_path: None, decision: decision(status) }
}

#[test]
fn the_plan_writes_each_file_once_and_never_an_unreadable_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, link, two, bad, other) = (
        tmp.path().join("1.jpg"),
        tmp.path().join("link.jpg"),
        tmp.path().join("2.jpg"),
        tmp.path().join("bad.jpg"),
        tmp.path().join("other.jpg"),
    );
    for p in [&one, &two, &bad, &other] {
        fs::write(p, [0xFF, 0xD8, 0xFF, 0xD9]).unwrap();
    }
    std::os::unix::fs::symlink(&one, &link).unwrap();
    let files = [
        evaluated(&one, 0, Status::Green),
        evaluated(&link, 0, Status::Green), // the same file again, through a link
        evaluated(&bad, 0, Status::Unreadable),
        evaluated(&two, 0, Status::Red),
        evaluated(&other, 1, Status::Green), // an archive without a register
    ];
    let provenance = Provenance { evaluated_at: "2026-11-22".into(), register_digest: "d".into() };
    let units = std::collections::HashMap::from([(0, (provenance, Vocabulary::default(), PeopleRoots::default()))]);
    let (work, failed) = apply::plan(&files, &units, ApplyOptions::default());
    let targets: Vec<&Path> = work.iter().map(|w| w.target.path()).collect();
    assert_eq!(targets, [one.as_path(), two.as_path()]);
    assert!(matches!(work[0].target, Target::Embedded(..)));
    let reasons: Vec<String> = failed.iter().map(|(_, e)| e.to_string()).collect();
    assert!(matches!(failed[0].1, apply::NotWritten::Unreadable { .. }));
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].ends_with(
            "bad.jpg: not written: the file could not be read: JPEG file: malformed segment at byte 2: damaged"
        ),
        "{reasons:?}"
    );
    assert!(reasons[1].ends_with("other.jpg: not written: no register evaluated it"), "{reasons:?}");
    // With sidecars forced, the file gets its own `name.ext.xmp`.
    let forced = ApplyOptions { sidecar_always: true, ..ApplyOptions::default() };
    let (work, _) = apply::plan(&files[..1], &units, forced);
    assert_eq!(work[0].target, Target::Sidecar(tmp.path().join("1.jpg.xmp")));
}

#[test]
fn apply_writes_a_changed_result_once_then_finds_it_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    archive(&a, &[("Anna", "web")]);
    photo(&a.join("1.jpg"), &["Anna"]);
    photo(&a.join("2.jpg"), &["Bob"]);
    let run = |dry_run: bool| {
        let (options, _) = options(tmp.path(), vec![a.clone()]);
        let how = ApplyOptions { dry_run, ..ApplyOptions::default() };
        apply::run(options, how, &|_| {}).unwrap()
    };
    let dry = run(true);
    assert_eq!((dry.files, dry.written, dry.unchanged), (2, 2, 0), "{:?}", dry.failures);
    assert!(dry.rows.iter().all(|r| r.action == "would write"), "{:?}", dry.rows);
    let original = fs::read(a.join("1.jpg")).unwrap();
    assert!(dry.rows.iter().all(|r| r.target.as_deref().is_some_and(|t| t.ends_with(".jpg"))), "into the files");
    assert_eq!(fs::read(a.join("1.jpg")).unwrap(), original, "a dry run writes nothing");
    let first = run(false);
    assert_eq!((first.written, first.unchanged), (2, 0), "{:?}", first.failures);
    assert!(first.failures.is_empty());
    let rows: Vec<(&str, &str)> = first.rows.iter().map(|r| (r.action, r.detail.as_str())).collect();
    assert!(rows[0].1.contains("status: - -> green"), "{rows:?}");
    assert!(rows[1].1.contains("status: - -> red"), "{rows:?}");
    let written = String::from_utf8_lossy(&fs::read(a.join("1.jpg")).unwrap()).into_owned();
    assert!(written.contains("green") && written.contains("Anna"), "the result beside the persons");
    assert!(!a.join("1.jpg.xmp").exists(), "no sidecar");
    let second = run(false);
    assert_eq!((second.written, second.unchanged), (0, 2), "{:?}", second.rows);
    assert!(second.rows.is_empty());
}
