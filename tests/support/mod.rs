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
