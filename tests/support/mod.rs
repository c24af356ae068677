//! Helpers the end-to-end tests share.
#![allow(dead_code)] // each test file uses a part

use std::fs;
use std::path::{Path, PathBuf};

/// The repository (its `fixtures/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy a directory tree, leaving out consentry's own state (`.consentry/`): tests that scan the
/// repository's fixtures keep one there, possibly in the middle of writing it.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != consentry::walk::STATE_DIR {
                copy_dir(&e.path(), &target);
            }
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Whether exiftool can be run for a test that compares with it. Missing, the test is skipped
/// with a note, except under `CI=true`, where a missing reference tool fails the test (a skipped
/// comparison must not pass for a checked one).
pub fn exiftool_available() -> bool {
    let found = std::process::Command::new("exiftool").arg("-ver").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "exiftool is not installed, and CI=true: install it (scripts/test.sh does) instead of skipping"
        );
        eprintln!("skipped: exiftool is not installed");
    }
    found
}
