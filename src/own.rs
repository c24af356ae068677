//! The names of the files and folders consentry itself writes beside or inside an archive: its
//! state, the temporary copies of `apply`, the temporary files of `-o`, and HTML report folders.
//! None of them is ever media (the walker skips them); every module that writes one takes its
//! name from here.

use std::ffi::OsStr;
use std::path::Path;

/// The folder consentry keeps its state in, under the archive root.
pub const STATE_DIR: &str = ".consentry";

/// Prefix of every temporary file and folder consentry creates (`-o` files before they are
/// renamed into place, `apply`'s copies, HTML report folders being written or replaced).
pub const TEMP_PREFIX: &str = ".consentry-";

/// Prefix of the copies `apply` writes before renaming them over the originals.
pub const APPLY_TEMP_PREFIX: &str = ".consentry-apply-";

/// Prefix of an HTML report folder being written.
pub const REPORT_TEMP_PREFIX: &str = ".consentry-report-";

/// Prefix of the folder an old HTML report is moved into before it is removed.
pub const OLD_REPORT_PREFIX: &str = ".consentry-old-report-";

/// The file that marks a folder as an HTML report written by consentry (replaced by the next
/// report, never scanned).
pub const REPORT_MARKER: &str = ".consentry-report";

/// Whether a directory entry named `name` is consentry's own (never scanned): the state
/// folder, a temporary file or folder, or (`dir`: the entry is a directory at `path`) an HTML
/// report folder. Costs one lookup per directory, none per file.
pub fn is_own(name: &OsStr, path: &Path, dir: bool) -> bool {
    let bytes = name.as_encoded_bytes();
    bytes == STATE_DIR.as_bytes()
        || bytes.starts_with(TEMP_PREFIX.as_bytes())
        || (dir && std::fs::symlink_metadata(path.join(REPORT_MARKER)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_temporary_name_has_the_common_prefix() {
        for p in [APPLY_TEMP_PREFIX, REPORT_TEMP_PREFIX, OLD_REPORT_PREFIX] {
            assert!(p.starts_with(TEMP_PREFIX), "{p}");
        }
    }

    #[test]
    fn own_names() {
        let tmp = tempfile::tempdir().unwrap();
        let report = tmp.path().join("report");
        std::fs::create_dir(&report).unwrap();
        assert!(!is_own(OsStr::new("report"), &report, true));
        std::fs::write(report.join(REPORT_MARKER), b"").unwrap();
        assert!(is_own(OsStr::new("report"), &report, true));
        let p = tmp.path();
        assert!(is_own(OsStr::new(".consentry"), p, true));
        assert!(is_own(OsStr::new(".consentry-apply-1-0.jpg"), p, false));
        assert!(is_own(OsStr::new(".consentry-Ab12cd"), p, false));
        assert!(!is_own(OsStr::new("consentry.jpg"), p, false));
        assert!(!is_own(OsStr::new(".consentry.jpg"), p, false));
    }
}
