//! Where the register and the archive root are (SPEC.md 3.1): `--register`, else
//! `CONSENTRY_REGISTER`, else `register` in a `consentry.toml` found by walking up from the
//! scanned path. That file also marks the archive root scope globs are matched against, and may
//! replace the usage vocabulary and the people roots.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::model::{UsageTerm, Vocabulary};
use crate::people::PeopleRoots;

pub const CONFIG_FILE: &str = "consentry.toml";
pub const REGISTER_ENV: &str = "CONSENTRY_REGISTER";

/// `consentry.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Register path, relative to the file.
    register: Option<PathBuf>,
    /// Replaces the default people roots.
    people_roots: Option<Vec<String>>,
    /// Replaces the default usage vocabulary: `[[usage]] name = "print" synonyms = ["Druck"]`.
    usage: Option<Vec<UsageEntry>>,
    /// Where `consent add` and `consent assign` store evidence documents, relative to the file.
    evidence: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageEntry {
    name: String,
    #[serde(default)]
    synonyms: Vec<String>,
}

/// Everything a command needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory scope globs are relative to.
    pub archive_root: PathBuf,
    /// The `consentry.toml` found, if any.
    pub config_file: Option<PathBuf>,
    pub register: Option<PathBuf>,
    pub vocabulary: Vocabulary,
    pub people_roots: Option<PeopleRoots>,
    /// `evidence` in consentry.toml, made absolute: the evidence folder.
    pub evidence: Option<PathBuf>,
    /// The working directory when the command started: relative scanned paths are resolved
    /// against it once, not with a `getcwd` per file.
    cwd: PathBuf,
}

/// Work out settings for commands on `paths` (the first one decides where to look).
/// `register_arg` is `--register`; `env_register` the value of `CONSENTRY_REGISTER`.
pub fn discover(
    paths: &[PathBuf],
    register_arg: Option<&Path>,
    env_register: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    let cwd = std::env::current_dir()?;
    let start = cwd.join(paths.first().map_or(Path::new("."), PathBuf::as_path));
    let start_dir =
        if start.is_dir() { start.clone() } else { start.parent().map(Path::to_path_buf).unwrap_or(start.clone()) };
    let start_dir = normalize(&start_dir);
    let config_file = start_dir.ancestors().map(|d| d.join(CONFIG_FILE)).find(|f| f.is_file());
    let mut settings = Settings {
        archive_root: start_dir.clone(),
        config_file: config_file.clone(),
        register: None,
        vocabulary: Vocabulary::default(),
        people_roots: None,
        evidence: None,
        cwd,
    };
    let mut config_register = None;
    if let Some(file) = &config_file {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let cfg: ConfigFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        settings.archive_root = dir.clone();
        config_register = cfg.register.map(|r| dir.join(r));
        settings.people_roots = cfg.people_roots.map(PeopleRoots::new);
        settings.evidence = cfg.evidence.map(|e| normalize(&dir.join(e)));
        if let Some(usage) = cfg.usage {
            if usage.is_empty() {
                anyhow::bail!("{}: `usage` must list at least one usage area", file.display());
            }
            settings.vocabulary = Vocabulary::new(
                usage
                    .into_iter()
                    .map(|u| UsageTerm { name: u.name.trim().to_lowercase(), synonyms: u.synonyms })
                    .collect(),
            );
        }
    }
    settings.register =
        register_arg.map(Path::to_path_buf).or(env_register.filter(|p| !p.as_os_str().is_empty())).or(config_register);
    Ok(settings)
}

impl Settings {
    /// `path` made absolute against the starting directory, `.` and `..` resolved lexically.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        absolute_in(&self.cwd, path)
    }

    /// `path` relative to the archive root with `/` separators (as given when outside it).
    pub fn relative(&self, path: &Path) -> String {
        self.relative_of(&self.absolute(path))
    }

    /// [`Settings::relative`] of a path already made [`Settings::absolute`].
    pub fn relative_of(&self, abs: &Path) -> String {
        let rel = abs.strip_prefix(&self.archive_root).unwrap_or(abs);
        rel.components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

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
fn normalize(path: &Path) -> PathBuf {
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

    use super::*;
    use std::fs;

    #[test]
    fn register_precedence_and_archive_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("events/2024")).unwrap();
        fs::write(
            root.join(CONFIG_FILE),
            "register = \"reg/consents.csv\"\nevidence = \"../dsgvo\"\npeople_roots = [\"Leute\"]\n[[usage]]\nname = \"Web\"\nsynonyms = [\"Internet\"]\n",
        )
        .unwrap();
        let paths = [root.join("events/2024")];
        let s = discover(&paths, None, None).unwrap();
        assert_eq!(s.archive_root, root);
        assert_eq!(s.register, Some(root.join("reg/consents.csv")));
        assert_eq!(s.evidence, Some(root.parent().unwrap().join("dsgvo")));
        assert_eq!(s.vocabulary.resolve("internet"), Some("web"));
        assert_eq!(s.vocabulary.resolve("print"), None);
        assert_eq!(s.relative(&root.join("events/2024/./a.jpg")), "events/2024/a.jpg");
        let env = discover(&paths, None, Some(PathBuf::from("env.csv"))).unwrap();
        assert_eq!(env.register, Some(PathBuf::from("env.csv")));
        let arg = discover(&paths, Some(Path::new("arg.csv")), Some(PathBuf::from("env.csv"))).unwrap();
        assert_eq!(arg.register, Some(PathBuf::from("arg.csv")));
    }

    #[test]
    fn without_config_the_scanned_directory_is_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        fs::write(tmp.path().join("a/b/x.jpg"), b"x").unwrap();
        let s = discover(&[tmp.path().join("a")], None, None).unwrap();
        assert_eq!((s.archive_root.clone(), s.register.clone()), (tmp.path().join("a"), None));
        assert_eq!(s.relative(&tmp.path().join("a/b/x.jpg")), "b/x.jpg");
        let file = discover(&[tmp.path().join("a/b/x.jpg")], None, None).unwrap();
        assert_eq!(file.archive_root, tmp.path().join("a/b"));
    }

    #[test]
    fn bad_config_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CONFIG_FILE), "regster = \"x\"\n").unwrap();
        let e = discover(&[tmp.path().to_path_buf()], None, None).unwrap_err().to_string();
        assert!(e.contains(CONFIG_FILE) && e.contains("regster"), "{e}");
    }
}
