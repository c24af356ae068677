//! Helpers the end-to-end tests share.
#![allow(dead_code)] // each test file uses a part

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
            if e.file_name() != consentry::own::STATE_DIR {
                copy_dir(&e.path(), &target);
            }
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The consentry binary, kept from the user's environment: without `$CONSENTRY_REGISTER`, and
/// with its cache directory (`$XDG_CACHE_HOME`: the rows of CSV registers, the state of
/// read-only archives) under this test target's temporary directory instead of the user's.
/// A test may still point `XDG_CACHE_HOME` at its own temporary directory. Without the
/// locale variables (the output's language): English, whatever the developer's locale.
pub fn consentry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_consentry"));
    c.env_remove("CONSENTRY_REGISTER").env("XDG_CACHE_HOME", cache_home());
    for locale in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        c.env_remove(locale);
    }
    c
}

/// The cache directory [`consentry`] gives the binary: in `target/tmp`, never the user's.
pub fn cache_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Run the consentry binary ([`consentry`]) in `dir`.
pub fn run(args: &[&str], dir: &Path) -> Output {
    consentry().args(args).current_dir(dir).output().unwrap()
}

/// A test that cannot run here because `what` is missing: skipped with a message on a
/// developer's machine, a failure under `CI=true` (where `scripts/test.sh` installs what the
/// tests need, so a missing tool means the run would prove nothing).
pub fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing under CI=true: scripts/test.sh should have installed it");
    }
    eprintln!("skipped: {what} is missing (scripts/test.sh installs it)");
}

/// Whether exiftool can be run for a test that compares with it; when not, [`missing`] (a
/// failure under `CI=true`).
pub fn exiftool_available() -> bool {
    let found = Command::new("exiftool").arg("-ver").output().is_ok_and(|o| o.status.success());
    if !found {
        missing("exiftool");
    }
    found
}

/// A private copy of the repository's `fixtures/` (archive and register) in a temporary
/// directory: the commands the tests run there keep their state in the copy, not in the
/// repository. Dereferences to the directory holding `fixtures/`, so relative paths such as
/// `fixtures/archive` read as in the repository.
pub struct FixturesCopy(tempfile::TempDir);

/// A new [`FixturesCopy`].
pub fn fixtures_copy() -> FixturesCopy {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("fixtures"), &tmp.path().join("fixtures"));
    FixturesCopy(tmp)
}

impl std::ops::Deref for FixturesCopy {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

/// A private copy of the fixture archive and its register in `tmp` (`tmp/archive`,
/// `tmp/register`, as the archive's `consentry.toml` expects): (archive root, register).
pub fn copy_fixtures(tmp: &Path) -> (PathBuf, PathBuf) {
    let (root, register) = (tmp.join("archive"), tmp.join("register"));
    copy_dir(&repo().join("fixtures/archive"), &root);
    copy_dir(&repo().join("fixtures/register"), &register);
    (root, register)
}

/// [`copy_fixtures`] with the archive's `consentry.toml` naming the SQLite register (what the
/// commands that change the register edit): (archive root, the database).
pub fn copy_fixtures_sqlite(tmp: &Path) -> (PathBuf, PathBuf) {
    let (root, register) = copy_fixtures(tmp);
    fs::write(root.join("consentry.toml"), "register = \"../register/register.sqlite\"\n").unwrap();
    (root, register.join("register.sqlite"))
}

/// In a copy of the fixture archive at `root`, the green `2023/summer-fest/IMG_1001.jpg` (Anna
/// Schmidt and Jonas Weber) copied to `to`, cut off in the middle of the metadata naming Anna
/// Schmidt: unreadable, though what is read of it names persons who have consent.
pub fn add_cut_copy(root: &Path, to: &str) {
    let bytes = fs::read(root.join("2023/summer-fest/IMG_1001.jpg")).unwrap();
    let anna = bytes.windows(4).position(|w| w == b"Anna").expect("IMG_1001.jpg names Anna");
    fs::write(root.join(to), &bytes[..anna + 4]).unwrap();
}

/// A command's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command's stdout read as JSON Lines, one value a line.
pub fn jsonl(out: &Output) -> Vec<serde_json::Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
}
