//! Lexical path arithmetic: a path made absolute against a working directory, `.` and `..`
//! resolved without touching the file system (the archive is addressed the way the user named it).

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `cwd` (absolute and normal), `.` and `..` resolved lexically.
/// A plain path (no `.`, `..`, empty components or trailing `/`: what a walk gives) is only
/// joined: this runs for every file of a scan.
pub fn absolute_in(cwd: &Path, path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    let plain = !b.is_empty()
        && !b.ends_with(b"/")
        && b.split(|&c| c == b'/').skip(usize::from(b[0] == b'/')).all(|c| !matches!(c, b"" | b"." | b".."));
    match (plain, path.is_absolute()) {
        (true, true) => path.to_path_buf(),
        (true, false) => cwd.join(path),
        _ => normalize(&cwd.join(path)),
    }
}

/// Remove `.` and resolve `..` lexically (no symlink resolution: the archive is addressed the way
/// the user named it).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_of_plain_and_other_paths() {
        let cwd = Path::new("/work/arch");
        let abs = |p: &str| absolute_in(cwd, Path::new(p));
        assert_eq!(abs("a/b.jpg"), Path::new("/work/arch/a/b.jpg"));
        assert_eq!(abs("/x/y.jpg"), Path::new("/x/y.jpg"));
        assert_eq!(abs("./a/../b.jpg"), Path::new("/work/arch/b.jpg"));
        assert_eq!(abs("a//b.jpg"), Path::new("/work/arch/a/b.jpg"));
        assert_eq!(abs("/x/./y/"), Path::new("/x/y"));
        assert_eq!(abs("../up.jpg"), Path::new("/work/up.jpg"));
        assert_eq!(abs(".hidden/x..y.jpg"), Path::new("/work/arch/.hidden/x..y.jpg"));
        assert_eq!(absolute_in(Path::new("/"), Path::new("a.jpg")), Path::new("/a.jpg"));
    }
}
