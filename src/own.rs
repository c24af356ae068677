//! consentry's own files: the names of the files and folders it writes beside or inside an
//! archive (its state, the temporary copies of `apply`, the temporary files of `-o`, HTML report
//! folders) and how every file and folder holding names is created (owner only: 0600 and 0700;
//! a report written with `--share-group` is then opened to the owner's group: 0640 and 0750).
//! None of them is ever media (the walker skips them); every module that writes one takes its
//! name and its creation from here.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file consentry creates that holds names (register, state, reports, copies).
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Mode of every folder consentry creates for such files.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Options that create a new file (never an existing one) writable and readable by the owner
/// only; add `.read(true)` to read it too.
pub fn private_file() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true).mode(PRIVATE_FILE_MODE);
    options
}

/// Create the new file `path` for the owner only ([`private_file`]).
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    private_file().open(path)
}

/// A builder of folders for the owner only; add `.recursive(true)` to create missing parents
/// (with the same mode).
pub fn private_dir() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.mode(PRIVATE_DIR_MODE);
    builder
}

/// Create the folder `path` and its missing parents for the owner only; an existing folder is
/// fine (its mode is left as it is).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    private_dir().recursive(true).create(path)
}

/// The permissions of a private folder, for temporary folders (`tempfile::Builder::permissions`).
pub fn private_dir_permissions() -> fs::Permissions {
    fs::Permissions::from_mode(PRIVATE_DIR_MODE)
}

/// Mode of a report file written with `--share-group` (`-o FILE`, the files of an HTML report
/// folder): the owner's group may read it.
pub const GROUP_FILE_MODE: u32 = 0o640;

/// Mode of a report folder written with `--share-group`: the owner's group may open it.
pub const GROUP_DIR_MODE: u32 = 0o750;

/// Who may read a report consentry writes (`-o FILE`, `report --format html -o DIR`): the owner
/// only (the default: reports name and show people), or also the owner's group
/// (`--share-group`, for a shared drive). Nobody else, ever; state, register, evidence and
/// temporary copies stay the owner's only whatever is asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Access {
    #[default]
    Private,
    Group,
}

impl Access {
    /// The mode of a report file.
    pub fn file_mode(self) -> u32 {
        match self {
            Access::Private => PRIVATE_FILE_MODE,
            Access::Group => GROUP_FILE_MODE,
        }
    }

    /// The mode of a report folder.
    pub fn dir_mode(self) -> u32 {
        match self {
            Access::Private => PRIVATE_DIR_MODE,
            Access::Group => GROUP_DIR_MODE,
        }
    }
}

/// Give a report consentry has just written (created for the owner only) the modes of `access`:
/// a file, or a folder with every folder and file in it. Symbolic links are left as they are
/// and never followed. Run once the report is complete, so that a report is never readable by
/// more than its owner before it is whole.
pub fn set_access(path: &Path, access: Access) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            set_access(&entry?.path(), access)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(access.dir_mode()))
    } else if meta.is_file() {
        fs::set_permissions(path, fs::Permissions::from_mode(access.file_mode()))
    } else {
        Ok(())
    }
}

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

/// What a scan's walk leaves out (`walk::Skip`): consentry's own entries
/// ([`is_own`]), but the state folder when it is named as a root itself (`root`).
pub fn walk_skips(name: &OsStr, path: &Path, dir: bool, root: bool) -> bool {
    !(root && name == STATE_DIR) && is_own(name, path, dir)
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
    fn own_files_and_folders_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let file = tmp.path().join("f");
        create_private(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        // Never an existing file: it is not truncated or taken over.
        assert_eq!(create_private(&file).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        let deep = tmp.path().join("a/b");
        create_private_dir_all(&deep).unwrap();
        create_private_dir_all(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let one = tmp.path().join("c");
        private_dir().create(&one).unwrap();
        assert_eq!(mode(&one), 0o700);
        let t = tempfile::Builder::new().permissions(private_dir_permissions()).tempdir_in(tmp.path()).unwrap();
        assert_eq!(mode(t.path()), 0o700);
    }

    #[test]
    fn shared_reports_are_readable_by_the_group_and_nobody_else() {
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        let report = tmp.path().join("report");
        create_private_dir_all(&report.join("thumbs")).unwrap();
        create_private(&report.join("index.html")).unwrap();
        create_private(&report.join("thumbs/a.jpg")).unwrap();
        let outside = tmp.path().join("outside");
        create_private(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, report.join("link")).unwrap();
        set_access(&report, Access::Group).unwrap();
        assert_eq!((mode(&report), mode(&report.join("thumbs"))), (0o750, 0o750));
        assert_eq!((mode(&report.join("index.html")), mode(&report.join("thumbs/a.jpg"))), (0o640, 0o640));
        assert_eq!(mode(&outside), 0o600, "a link is not followed");
        set_access(&report, Access::Private).unwrap();
        assert_eq!((mode(&report), mode(&report.join("index.html"))), (0o700, 0o600));
        let file = tmp.path().join("out.json");
        create_private(&file).unwrap();
        set_access(&file, Access::Group).unwrap();
        assert_eq!(mode(&file), 0o640);
        assert_eq!(Access::default(), Access::Private);
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

    #[test]
    fn the_walk_skips_own_names_but_the_state_folder_named_as_a_root() {
        let p = Path::new("x");
        assert!(walk_skips(OsStr::new(STATE_DIR), p, true, false));
        assert!(!walk_skips(OsStr::new(STATE_DIR), p, true, true));
        assert!(walk_skips(OsStr::new(".consentry-apply-1-0.jpg"), p, false, true));
        assert!(!walk_skips(OsStr::new("a.jpg"), p, false, false));
    }
}
