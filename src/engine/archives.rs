//! The archives of a command's files (SPEC.md 1, 3.1), found while they are walked: each with
//! its register (loaded once per register path, on the scan's pool while files are read),
//! vocabulary, people roots and state.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{self, REGISTER_ENV};
use crate::model::{self, Register};
use crate::people::PeopleRoots;
use crate::register;
use crate::scan;
use crate::state;

use super::{Error, Need, Notes};

/// A register being loaded on the scan's pool while the archive is walked and read: the load
/// and the scan overlap, and the first evaluation waits for the register. A register with
/// errors still stops the command before it writes anything (the sink asks for the register
/// before writing its first record).
pub struct PendingRegister {
    loading: crossbeam_channel::Receiver<std::thread::Result<Result<Register, Error>>>,
    loaded: std::sync::OnceLock<Mutex<Register>>,
}

impl PendingRegister {
    /// Load on the scan's pool: one worker loads while the others read files (a thread of its
    /// own would compete with them for the cores instead).
    fn spawn(
        pool: &rayon::ThreadPool,
        path: PathBuf,
        vocabulary: model::Vocabulary,
        notes: Option<Notes>,
        options: register::Options,
        cache: Option<PathBuf>,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                load_register(&path, &vocabulary, notes.as_ref(), options, cache.as_deref())
            }));
            let _ = tx.send(result);
        });
        PendingRegister { loading: rx, loaded: std::sync::OnceLock::new() }
    }

    /// Whether [`PendingRegister::get`] would return at once.
    pub fn is_ready(&self) -> bool {
        self.loaded.get().is_some() || !self.loading.is_empty()
    }

    /// The register, waiting for the load to finish; its errors the first time.
    pub fn get(&self) -> Result<MutexGuard<'_, Register>, Error> {
        if self.loaded.get().is_none() {
            if let Ok(result) = self.loading.recv() {
                let register = result.map_err(|_| Error::RegisterPanicked)??;
                let _ = self.loaded.set(Mutex::new(register));
            }
        }
        let loaded = self.loaded.get().ok_or(Error::RegisterNotLoaded)?;
        Ok(loaded.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The archives of a command's files, found while they are walked (SPEC.md 1, 3.1): each with
/// its register (loaded once per register path), vocabulary, people roots and state.
pub(crate) struct Archives {
    pub(crate) cwd: PathBuf,
    /// `--register` or `CONSENTRY_REGISTER`: the register of every file.
    pub(crate) register: Option<PathBuf>,
    /// `--people-root`: the people roots of every file.
    pub(crate) people_roots: Option<PeopleRoots>,
    pub(crate) need: Need,
    pub(crate) quiet: bool,
    pub(crate) notes: Notes,
    /// Whether runs are recorded in states, and `--state`.
    pub(crate) tracked: bool,
    pub(crate) state: Option<PathBuf>,
    /// `--shard K/N`: each archive's state is the shard's own.
    pub(crate) shard: Option<crate::scan::Shard>,
    pub(crate) pool: Arc<rayon::ThreadPool>,
    pub(crate) cache: Option<PathBuf>,
    /// The scanned paths, absolute, as named and as real paths (only files under them can have
    /// been removed).
    pub(crate) scanned: Vec<PathBuf>,
    pub(crate) found: Mutex<Found>,
}

impl std::fmt::Debug for Archives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Archives")
    }
}

#[derive(Default)]
pub(crate) struct Found {
    pub(crate) finder: config::Finder,
    pub(crate) units: Vec<Arc<Unit>>,
    /// The unit of each archive (by the finder's index; `None`: files in no archive).
    pub(crate) by_archive: std::collections::HashMap<Option<usize>, usize>,
    pub(crate) registers: std::collections::HashMap<PathBuf, Arc<PendingRegister>>,
    pub(crate) states: std::collections::HashMap<PathBuf, Arc<StateSlot>>,
}

/// One archive of a command (or its files in no archive).
pub(crate) struct Unit {
    pub(crate) archive: Option<Arc<config::Archive>>,
    pub(crate) register: Option<Arc<PendingRegister>>,
    /// Why the command cannot go on with this archive's files (it needs a register and there
    /// is none, its state cannot be opened).
    pub(crate) problem: Option<String>,
    pub(crate) roots: PeopleRoots,
    pub(crate) state: Option<Arc<StateSlot>>,
}

/// A state and the run recorded in it.
pub(crate) struct StateSlot {
    pub(crate) known: Arc<state::Known>,
    pub(crate) run: Mutex<Option<state::Run>>,
    /// The register of the first archive kept in it (for the run's digest).
    pub(crate) register: Option<Arc<PendingRegister>>,
    /// The people roots its files are read with (a state remembers what files showed when read
    /// with these: `--state` shared by archives reading with other roots is refused).
    pub(crate) roots: PeopleRoots,
}

impl scan::Placement for Archives {
    fn place(&self, walked: &Path) -> Arc<scan::Place> {
        let dir = if walked.as_os_str().is_empty() { Path::new(".") } else { walked };
        let abs = crate::paths::absolute_in(&self.cwd, dir);
        let (unit, real_dir, archive, error, roots, state) = self.unit_of(abs);
        Arc::new(scan::Place {
            unit,
            real_dir,
            archive,
            error,
            roots,
            // The directory's known files, read outside the lock (the records are taken under it).
            reuse: state.map(|s| s.known.directory(walked) as Arc<dyn scan::Reuse>),
        })
    }
}

/// What [`Archives::unit_of`] finds for a directory.
type UnitOf = (
    usize,
    Option<PathBuf>,
    Option<Arc<config::Archive>>,
    Option<scan::PlaceError>,
    PeopleRoots,
    Option<Arc<StateSlot>>,
);

impl Archives {
    /// The unit of the directory `abs` (absolute): its real path, archive, why it cannot be
    /// placed, people roots and state.
    fn unit_of(&self, abs: PathBuf) -> UnitOf {
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let (real_dir, archive, error) = match std::fs::canonicalize(&abs) {
            Ok(real) => match found.finder.archive_of(&real) {
                Ok(archive) => (Some(real), archive, None),
                Err(e) => (Some(real), None, Some(scan::PlaceError::Archive(Arc::new(e)))),
            },
            Err(e) => (None, None, Some(scan::PlaceError::Unresolved { dir: abs, error: scan::IoProblem::new(e) })),
        };
        let unit = self.unit_for(&mut found, archive);
        let u = &found.units[unit];
        (unit, real_dir, u.archive.clone(), error, u.roots.clone(), u.state.clone())
    }

    /// The unit of the finder's archive `archive`, set up the first time.
    fn unit_for(&self, found: &mut Found, archive: Option<usize>) -> usize {
        if let Some(&unit) = found.by_archive.get(&archive) {
            return unit;
        }
        let index = archive;
        let archive = archive.map(|i| found.finder.archive(i).clone());
        let roots = self
            .people_roots
            .clone()
            .or_else(|| archive.as_ref().and_then(|a| a.people_roots.clone()))
            .unwrap_or_default();
        let vocabulary = archive.as_ref().map(|a| a.vocabulary.clone()).unwrap_or_default();
        let register_path = self.register.clone().or_else(|| archive.as_ref().and_then(|a| a.register.clone()));
        let mut problem = None;
        let register = match register_path {
            Some(path) => Some(
                found
                    .registers
                    .entry(crate::paths::absolute_in(&self.cwd, &path))
                    .or_insert_with(|| {
                        Arc::new(PendingRegister::spawn(
                            &self.pool,
                            path,
                            vocabulary,
                            (!self.quiet).then(|| self.notes.clone()),
                            self.need.options(),
                            self.cache.clone(),
                        ))
                    })
                    .clone(),
            ),
            None if self.need != Need::Optional => {
                problem = Some(match &archive {
                    Some(a) => format!(
                        "this command needs a consent register: {} names none; give --register PATH or set {REGISTER_ENV}",
                        a.config_file().display()
                    ),
                    None => format!(
                        "this command needs a consent register: give --register PATH, set {REGISTER_ENV}, or mark \
                         the archive with `consentry init DIR` (no {} above the files)",
                        config::CONFIG_FILE
                    ),
                });
                None
            }
            None => None,
        };
        if archive.is_none() && register.is_some() && !self.quiet {
            note!(
                self.notes,
                "consentry: some files are in no archive (no {} above them): only consents and exemptions \
                 scoped `*` cover them; mark the archive with `consentry init DIR`",
                config::CONFIG_FILE
            );
        }
        let state = match self.state_for(found, archive.as_deref(), &roots, register.as_ref()) {
            Ok(state) => state,
            Err(e) => {
                problem.get_or_insert(format!("{e:#}"));
                None
            }
        };
        found.units.push(Arc::new(Unit { archive, register, problem, roots, state }));
        let unit = found.units.len() - 1;
        found.by_archive.insert(index, unit);
        unit
    }

    /// The state the files of `archive` are kept in (SPEC.md 7): `--state` for every archive of
    /// the command, else each archive's own; files in no archive keep none.
    fn state_for(
        &self,
        found: &mut Found,
        archive: Option<&config::Archive>,
        roots: &PeopleRoots,
        register: Option<&Arc<PendingRegister>>,
    ) -> Result<Option<Arc<StateSlot>>, Error> {
        if !self.tracked {
            return Ok(None);
        }
        if let Some(slot) = self.state.as_ref().and_then(|p| found.states.get(p)) {
            if slot.roots != *roots {
                return Err(Error::State(format!(
                    "--state {} is shared by archives that read persons with different people roots \
                     (people_roots in consentry.toml): run the command per archive, or without --state",
                    self.state.as_deref().unwrap_or(Path::new("")).display()
                )));
            }
            return Ok(Some(slot.clone()));
        }
        let state = match (&self.state, archive) {
            (Some(path), _) => {
                let state = open_state(Path::new(""), Some(path), None, self.quiet, &self.notes)?;
                state.map(|s| (path.clone(), s))
            }
            (None, Some(a)) => {
                open_state(&a.root, None, self.shard, self.quiet, &self.notes)?.map(|s| (s.path().to_path_buf(), s))
            }
            (None, None) => None,
        };
        let Some((key, mut state)) = state else { return Ok(None) };
        let (known, note) = state.known(&self.cwd, roots).map_err(|e| Error::State(format!("{e:#}")))?;
        if let Some(note) = note {
            note!(self.notes, "consentry: {}: {note}; every file is read again", state.path().display());
        }
        let known = Arc::new(known);
        let run = state::Run::begin(state, known.clone(), &self.scanned).map_err(|e| Error::State(format!("{e:#}")))?;
        let slot = Arc::new(StateSlot {
            known,
            run: Mutex::new(Some(run)),
            register: register.cloned(),
            roots: roots.clone(),
        });
        found.states.insert(key, slot.clone());
        Ok(Some(slot))
    }

    pub(crate) fn unit(&self, unit: usize) -> Arc<Unit> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).units[unit].clone()
    }

    /// The registers of the archives met so far, each once.
    pub(crate) fn registers(&self) -> Vec<Arc<PendingRegister>> {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<PendingRegister>> = Vec::new();
        for r in found.units.iter().filter_map(|u| u.register.as_ref()) {
            if !out.iter().any(|o| Arc::ptr_eq(o, r)) {
                out.push(r.clone());
            }
        }
        out
    }
}

/// Open the state: `--state`, else the archive's own, else (the archive is read-only) one in
/// the user's cache directory.
/// `None` when neither the archive nor the cache directory can be written (the run then reads
/// every file and records nothing, with a hint).
pub fn open_state(
    root: &Path,
    explicit: Option<&Path>,
    shard: Option<crate::scan::Shard>,
    quiet: bool,
    notes: &Notes,
) -> Result<Option<state::State>, Error> {
    // A damaged state is moved aside only in consentry's own places: `--state` may name anything.
    let damaged = if explicit.is_some() { state::Damaged::Refuse } else { state::Damaged::MoveAside };
    let opened = |path: &Path| {
        state::State::open(path, damaged).map(|(state, note)| {
            if let Some(note) = note.filter(|n| n.warning || !quiet) {
                note!(notes, "consentry: {}: {note}; every file is read again", path.display());
            }
            state
        })
    };
    if let Some(path) = explicit {
        return opened(path).map(Some).map_err(|e| Error::State(e.to_string()));
    }
    let own = match opened(&state::default_path(root, shard)) {
        Ok(state) => return Ok(Some(state)),
        Err(state::OpenError::NotWritable { path, source }) => format!("{}: {source}", path.display()),
        Err(e) => return Err(Error::State(e.to_string())),
    };
    let Some(cache) = state::cache_path(root, shard) else {
        if !quiet {
            note!(notes, "consentry: no state kept ({own}; no cache directory): every file is read");
        }
        return Ok(None);
    };
    match opened(&cache) {
        Ok(state) => {
            if !quiet {
                note!(notes, "consentry: the archive cannot be written here; its state is kept in {}", cache.display());
            }
            Ok(Some(state))
        }
        Err(state::OpenError::NotWritable { .. }) => {
            if !quiet {
                note!(notes, "consentry: no state kept ({own}; nor in {}): every file is read", cache.display());
            }
            Ok(None)
        }
        Err(e) => Err(Error::State(e.to_string())),
    }
}

/// The state `report changes` reads for `options`: `--state`, else the archive's own, or the
/// one kept for it in the user's cache directory when the archive has none.
pub fn state_path(options: &super::Options) -> Result<PathBuf, Error> {
    if let Some(path) = &options.state {
        return Ok(path.clone());
    }
    let paths = if options.paths.is_empty() { vec![PathBuf::from(".")] } else { options.paths.clone() };
    let settings = config::discover(&paths, options.register.as_deref(), None)?;
    let Some(archive) = settings.archive else {
        return Err(Error::NoArchive(paths[0].clone()));
    };
    let own = state::default_path(&archive.root, options.shard);
    Ok(match state::cache_path(&archive.root, options.shard) {
        Some(cache) if !own.is_file() && cache.is_file() => cache,
        _ => own,
    })
}

/// Load a register or stop (every problem in the error: the command prints them, and writes
/// nothing). Its warnings are counted in a note unless `notes` is `None` (quiet).
pub fn load_register(
    path: &Path,
    vocabulary: &model::Vocabulary,
    notes: Option<&Notes>,
    options: register::Options,
    cache: Option<&Path>,
) -> Result<Register, Error> {
    match register::load_cached(path, vocabulary, options, cache) {
        Ok(loaded) => {
            if let Some(notes) = notes.filter(|_| !loaded.warnings.is_empty()) {
                note!(
                    notes,
                    "consentry: the register has {} warning(s) (see `consentry register check`)",
                    loaded.warnings.len()
                );
            }
            Ok(loaded.register)
        }
        Err(errors) => Err(Error::Register { path: path.display().to_string(), source: errors }),
    }
}
