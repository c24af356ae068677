//! Archives (SPEC.md 1, 3.1): every file belongs to the archive of the nearest `consentry.toml`
//! above its *real* path (symbolic links resolved). That file marks the archive root scope globs
//! are matched against, names the archive's register, and may replace the usage vocabulary and
//! the people roots. `--register`, else `CONSENTRY_REGISTER`, override the register for every
//! file of a command.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::model::{UsageTerm, Vocabulary};
use crate::paths::{absolute_in, normalize};
use crate::people::PeopleRoots;

pub const CONFIG_FILE: &str = "consentry.toml";

/// Why an archive's `consentry.toml` cannot be used, or the paths of a command cannot be placed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or resolved.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A `consentry.toml` that is not valid TOML or has unknown keys.
    #[error("{}: {source}", path.display())]
    Toml { path: PathBuf, source: toml::de::Error },
    #[error("{}: `usage` must list at least one usage area", .0.display())]
    NoUsage(PathBuf),
    #[error("the paths belong to different archives ({0} and {1}): run the command once per archive")]
    DifferentArchives(String, String),
    /// The working directory cannot be found.
    #[error(transparent)]
    CurrentDir(std::io::Error),
}
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

/// One archive: a directory marked by a `consentry.toml`, and what that file says.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The directory of the `consentry.toml` (a real path): scope globs are relative to it.
    pub root: PathBuf,
    /// The register named in the file, made absolute.
    pub register: Option<PathBuf>,
    pub vocabulary: Vocabulary,
    pub people_roots: Option<PeopleRoots>,
    /// `evidence` in consentry.toml, made absolute: the evidence folder.
    pub evidence: Option<PathBuf>,
}

impl Archive {
    /// Read the `consentry.toml` in `root` (a real directory).
    pub fn load(root: &Path) -> Result<Archive, Error> {
        let file = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Io { path: file.clone(), source })?;
        let cfg: ConfigFile = toml::from_str(&text).map_err(|source| Error::Toml { path: file.clone(), source })?;
        let mut archive = Archive {
            root: root.to_path_buf(),
            register: cfg.register.map(|r| root.join(r)),
            vocabulary: Vocabulary::default(),
            people_roots: cfg.people_roots.map(PeopleRoots::new),
            evidence: cfg.evidence.map(|e| normalize(&root.join(e))),
        };
        if let Some(usage) = cfg.usage {
            if usage.is_empty() {
                return Err(Error::NoUsage(file));
            }
            archive.vocabulary = Vocabulary::new(
                usage
                    .into_iter()
                    .map(|u| UsageTerm {
                        name: u.name.trim().to_lowercase(),
                        synonyms: u.synonyms,
                        spelling: u.name.trim().to_string(),
                    })
                    .collect(),
            );
        }
        Ok(archive)
    }

    /// The `consentry.toml` of the archive.
    pub fn config_file(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `real` (a real path) relative to the root with `/` separators; `None` outside the archive.
    pub fn relative(&self, real: &Path) -> Option<String> {
        let rel = real.strip_prefix(&self.root).ok()?;
        Some(
            rel.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// Finds the archives of real directories, remembering every directory it looked at: a walk asks
/// once per directory, and each directory's `consentry.toml` is looked for once.
#[derive(Debug, Default)]
pub struct Finder {
    dirs: HashMap<PathBuf, Option<usize>>,
    archives: Vec<Arc<Archive>>,
}

impl Finder {
    /// The archive of the real directory `dir` (an index for [`Finder::archive`]), `None` when
    /// no `consentry.toml` is above it. A `consentry.toml` that cannot be read (also one that is
    /// not a file) is an error: its files are never judged by an archive further up.
    pub fn archive_of(&mut self, dir: &Path) -> Result<Option<usize>, Error> {
        let mut looked = Vec::new();
        let mut found = None;
        for d in dir.ancestors() {
            if let Some(&known) = self.dirs.get(d) {
                found = known;
                break;
            }
            looked.push(d.to_path_buf());
            // Anything named `consentry.toml` marks an archive: one that is not a readable file
            // (a directory, a dangling link) is an error, never skipped for an archive above.
            if std::fs::symlink_metadata(d.join(CONFIG_FILE)).is_ok() {
                self.archives.push(Arc::new(Archive::load(d)?));
                found = Some(self.archives.len() - 1);
                break;
            }
        }
        for d in looked {
            self.dirs.insert(d, found);
        }
        Ok(found)
    }

    /// The archive of the file or directory `path` (resolved to its real path first).
    pub fn archive_of_path(&mut self, path: &Path) -> Result<Option<usize>, Error> {
        let real = std::fs::canonicalize(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let dir = if real.is_dir() { real.as_path() } else { real.parent().unwrap_or(Path::new("/")) };
        self.archive_of(dir)
    }

    pub fn archive(&self, index: usize) -> &Arc<Archive> {
        &self.archives[index]
    }
}

/// What a command that works on one archive knows of its surroundings (the commands that change
/// the register, and `register check | export | import`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The archive of the paths (`None`: they are in no archive).
    pub archive: Option<Arc<Archive>>,
    pub register: Option<PathBuf>,
    pub vocabulary: Vocabulary,
    /// `evidence` in consentry.toml, made absolute: the evidence folder.
    pub evidence: Option<PathBuf>,
    /// The working directory when the command started: relative paths are resolved against it.
    cwd: PathBuf,
}

/// Work out settings for a command on `paths`, which must all be in one archive (or all in
/// none). `register_arg` is `--register`; `env_register` the value of `CONSENTRY_REGISTER`.
pub fn discover(
    paths: &[PathBuf],
    register_arg: Option<&Path>,
    env_register: Option<PathBuf>,
) -> Result<Settings, Error> {
    let cwd = std::env::current_dir().map_err(Error::CurrentDir)?;
    let here = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &here[..] } else { paths };
    let mut finder = Finder::default();
    let mut archive: Option<Option<usize>> = None;
    for p in paths {
        let found = finder.archive_of_path(&absolute_in(&cwd, p))?;
        match archive {
            Some(a) if a != found => {
                let name = |a: Option<usize>| {
                    a.map_or("no archive".to_string(), |i| finder.archive(i).config_file().display().to_string())
                };
                return Err(Error::DifferentArchives(name(a), name(found)));
            }
            _ => archive = Some(found),
        }
    }
    let archive = archive.flatten().map(|i| finder.archive(i).clone());
    let config_register = archive.as_ref().and_then(|a| a.register.clone());
    Ok(Settings {
        register: register_arg
            .map(Path::to_path_buf)
            .or(env_register.filter(|p| !p.as_os_str().is_empty()))
            .or(config_register),
        vocabulary: archive.as_ref().map(|a| a.vocabulary.clone()).unwrap_or_default(),
        evidence: archive.as_ref().and_then(|a| a.evidence.clone()),
        archive,
        cwd,
    })
}

impl Settings {
    /// `path` made absolute against the starting directory, `.` and `..` resolved lexically.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        absolute_in(&self.cwd, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn register_precedence_and_archive_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = &tmp.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("events/2024")).unwrap();
        fs::write(
            root.join(CONFIG_FILE),
            "register = \"reg/consents.csv\"\nevidence = \"../dsgvo\"\npeople_roots = [\"Leute\"]\n[[usage]]\nname = \"Web\"\nsynonyms = [\"Internet\"]\n",
        )
        .unwrap();
        let paths = [root.join("events/2024")];
        let s = discover(&paths, None, None).unwrap();
        let archive = s.archive.clone().unwrap();
        assert_eq!(archive.root, *root);
        assert_eq!(s.register, Some(root.join("reg/consents.csv")));
        assert_eq!(s.evidence, Some(root.parent().unwrap().join("dsgvo")));
        assert_eq!(s.vocabulary.resolve("internet"), Some("web"));
        assert_eq!(s.vocabulary.resolve("print"), None);
        assert_eq!(archive.relative(&root.join("events/2024/a.jpg")).as_deref(), Some("events/2024/a.jpg"));
        assert_eq!(archive.relative(&root.parent().unwrap().join("a.jpg")), None);
        let env = discover(&paths, None, Some(PathBuf::from("env.csv"))).unwrap();
        assert_eq!(env.register, Some(PathBuf::from("env.csv")));
        let arg = discover(&paths, Some(Path::new("arg.csv")), Some(PathBuf::from("env.csv"))).unwrap();
        assert_eq!(arg.register, Some(PathBuf::from("arg.csv")));
    }

    #[test]
    fn without_config_there_is_no_archive_and_no_root() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        fs::write(tmp.path().join("a/b/x.jpg"), b"x").unwrap();
        let s = discover(&[tmp.path().join("a")], None, None).unwrap();
        assert!(s.archive.is_none() && s.register.is_none());
        let file = discover(&[tmp.path().join("a/b/x.jpg")], None, None).unwrap();
        assert!(file.archive.is_none());
    }

    #[test]
    fn the_archive_of_a_path_is_found_from_its_real_path() {
        let tmp = tempfile::tempdir().unwrap();
        let root = &tmp.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("one/sub")).unwrap();
        fs::create_dir_all(root.join("two")).unwrap();
        fs::write(root.join("one/consentry.toml"), "").unwrap();
        std::os::unix::fs::symlink(root.join("one/sub"), root.join("two/link")).unwrap();
        let mut finder = Finder::default();
        let one = finder.archive_of_path(&root.join("one/sub")).unwrap();
        assert_eq!(finder.archive_of_path(&root.join("two/link")).unwrap(), one, "through the link");
        assert_eq!(finder.archive(one.unwrap()).root, root.join("one"));
        assert_eq!(finder.archive_of_path(&root.join("two")).unwrap(), None);
        // Paths in two archives (or one in none) are not one archive's.
        let e = discover(&[root.join("one"), root.join("two")], None, None).unwrap_err().to_string();
        assert!(e.contains("different archives"), "{e}");
    }

    #[test]
    fn a_consentry_toml_that_is_not_a_file_is_an_error_not_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().canonicalize().unwrap();
        fs::write(outer.join(CONFIG_FILE), "").unwrap();
        let inner = outer.join("inner");
        fs::create_dir_all(inner.join("sub")).unwrap();
        std::os::unix::fs::symlink(inner.join("gone.toml"), inner.join(CONFIG_FILE)).unwrap();
        let mut finder = Finder::default();
        let e = finder.archive_of(&inner.join("sub")).unwrap_err().to_string();
        assert!(e.contains("inner/consentry.toml"), "{e}");
        fs::remove_file(inner.join(CONFIG_FILE)).unwrap();
        fs::create_dir(inner.join(CONFIG_FILE)).unwrap();
        assert!(Finder::default().archive_of(&inner.join("sub")).is_err());
    }

    #[test]
    fn bad_config_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CONFIG_FILE), "regster = \"x\"\n").unwrap();
        let e = discover(&[tmp.path().to_path_buf()], None, None).unwrap_err().to_string();
        assert!(e.contains(CONFIG_FILE) && e.contains("regster"), "{e}");
    }
}
