//! `consentry apply` replaces files atomically (SPEC.md 5): a SIGKILL at any moment leaves every
//! file either old or new, never anything else, and the next `apply` removes the copies the killed
//! run left behind and finishes the job.
//!
//! A generated archive (the benchmark mix: mostly JPEG, some PNG, TIFF, PSD, MP4/MOV, RAW with
//! sidecars, formats written to new sidecars) is applied once to completion on copy B, which gives
//! the "new" version of every file. Copies of the original are then applied and killed mid-run,
//! at moments chosen from the measured run time and from the progress seen on disk (files whose
//! inode changed, sidecars that appeared), so that the kill falls between the first and the last
//! replaced file whatever the machine's speed. After each kill every file must equal its old or
//! its new version byte for byte; after a final complete run every file equals B's and no copy
//! `.consentry-apply-*` is left.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use consentry_synth::{self as synth, BENCH_NAMES};

const FILES: usize = 2_500;
const AS_OF: &str = "2026-11-22";
const TEMP_PREFIX: &str = ".consentry-apply-";

/// Every name has two or three consents with different usage areas, scopes and expiry dates around
/// the evaluation day, so that the archive gets every status and different fields per file.
fn write_register(path: &Path) {
    const USAGES: [&str; 4] = ["print,web", "web,social", "print,web,press", "web"];
    let mut csv = String::from("id,person,usage,granted,expires,document,scope\n");
    for (n, name) in BENCH_NAMES.iter().enumerate() {
        for k in 0..3 {
            if n % 5 == 4 && k > 0 {
                continue; // some people have a single consent, for red and yellow files
            }
            let i = 3 * n + k;
            let expires = ["2026-06-30", "2027-01-31", "2030-12-31", "unlimited"][i % 4];
            let scope = if i % 7 == 0 { "00[0-1]/**" } else { "*" };
            writeln!(csv, "c{i},{name},\"{}\",2019-01-01,{expires},,{scope}", USAGES[i % USAGES.len()]).unwrap();
        }
    }
    fs::write(path, csv).unwrap();
}

/// Every regular file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_path_buf(), e.into_path()))
        .collect()
}

fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(dir).into_iter().map(|(rel, p)| (rel, fs::read(p).unwrap())).collect()
}

fn is_temp(rel: &Path) -> bool {
    rel.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, p) in files(from) {
        let dest = to.join(&rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(p, dest).unwrap();
    }
}

fn apply(dir: &Path, register: &Path) -> Command {
    let mut c = support::consentry();
    c.arg("apply")
        .arg(dir)
        .arg("--register")
        .arg(register)
        .args(["--as-of", AS_OF, "--quiet", "--format", "jsonl"])
        .env_remove("CONSENTRY_REGISTER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Run `apply` to completion; its wall time.
fn apply_to_completion(dir: &Path, register: &Path) -> Duration {
    let t = Instant::now();
    let out = apply(dir, register).output().unwrap();
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "apply {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    took
}

/// The old and the new version of every file (`None`: the file does not exist in that version,
/// a sidecar `apply` creates).
struct Versions {
    old: BTreeMap<PathBuf, Vec<u8>>,
    new: BTreeMap<PathBuf, Vec<u8>>,
}

impl Versions {
    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.old.keys().chain(self.new.keys().filter(|p| !self.old.contains_key(*p)))
    }

    /// Paths whose new version differs from the old one: what `apply` writes.
    fn changing(&self) -> Vec<PathBuf> {
        self.paths().filter(|p| self.old.get(*p) != self.new.get(*p)).cloned().collect()
    }
}

/// The state of a copy after a kill: the changing files that are still old, how many are new,
/// and how many copies `.consentry-apply-*` are left. Panics on any file that is neither its old
/// nor its new version, and on any other file that was not there before.
struct State {
    old: Vec<PathBuf>,
    new: usize,
    temps: usize,
}

fn check_old_or_new(dir: &Path, v: &Versions, round: &str) -> State {
    let now = files(dir);
    let mut temps = 0;
    for rel in now.keys() {
        if is_temp(rel) {
            temps += 1;
        } else {
            assert!(v.old.contains_key(rel) || v.new.contains_key(rel), "{round}: unexpected file {}", rel.display());
        }
    }
    let (mut old, mut new) = (Vec::new(), 0);
    for rel in v.changing() {
        let have = now.get(&rel).map(|p| fs::read(p).unwrap());
        let (o, n) = (v.old.get(&rel), v.new.get(&rel));
        if have.as_ref() == o {
            old.push(rel);
        } else if have.as_ref() == n {
            new += 1;
        } else {
            panic!(
                "{round}: {} is neither its old ({:?} bytes) nor its new version ({:?} bytes): {:?} bytes",
                rel.display(),
                o.map(Vec::len),
                n.map(Vec::len),
                have.as_ref().map(Vec::len)
            );
        }
    }
    // The files apply does not change are untouched.
    for rel in v.paths().filter(|p| v.old.get(*p) == v.new.get(*p)) {
        assert_eq!(now.get(rel).map(|p| fs::read(p).unwrap()).as_ref(), v.old.get(rel), "{round}: {}", rel.display());
    }
    State { old, new, temps }
}

/// (device, inode) of every path of the archive (`None`: absent). `apply` replaces a file by
/// renaming a copy over it, so a changed inode or a new file is a file written.
fn identities(dir: &Path, paths: &[PathBuf]) -> Vec<Option<(u64, u64)>> {
    paths.iter().map(|p| fs::symlink_metadata(dir.join(p)).ok().map(|m| (m.dev(), m.ino()))).collect()
}

/// When to kill a run.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// This fraction of the complete run's wall time after the start.
    Time(f64),
    /// As soon as this fraction of the files the run will write have been replaced.
    Written(f64),
}

struct Killed {
    after: Duration,
    /// Whether the run had already ended when the signal was due.
    finished: bool,
}

/// Start `apply` on `dir` and SIGKILL it at `moment`. `pending`: the files the run will write
/// (those still old).
fn apply_and_kill(dir: &Path, register: &Path, pending: &[PathBuf], full: Duration, moment: Moment) -> Killed {
    let before = identities(dir, pending);
    let start = Instant::now();
    let mut child: Child = apply(dir, register).stderr(Stdio::null()).spawn().unwrap();
    // A run that never gets there (it fails early, say) is killed anyway after a while.
    let deadline = start + full.mul_f64(5.0) + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            return Killed { after: start.elapsed(), finished: true };
        }
        let due = match moment {
            Moment::Time(f) => start.elapsed() >= full.mul_f64(f),
            Moment::Written(f) => {
                let written = identities(dir, pending).iter().zip(&before).filter(|(now, was)| now != was).count();
                written > 0 && written as f64 >= f * pending.len() as f64
            }
        };
        if due || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = start.elapsed();
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    // The process may have ended by itself between the last look and the signal.
    Killed { after, finished: status.code().is_some() }
}

#[test]
fn a_killed_apply_leaves_every_file_old_or_new_and_the_next_run_finishes() {
    let tmp = tempfile::Builder::new().prefix("apply-kill-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = tmp.path();
    let orig = base.join("orig");
    synth::write_bench_archive(&orig, FILES, 0);
    let register = base.join("register.csv");
    write_register(&register);

    // B: the complete run, which gives every file's new version and the run time.
    let b = base.join("B");
    copy_tree(&orig, &b);
    let full = apply_to_completion(&b, &register);
    let v = Versions { old: contents(&orig), new: contents(&b) };
    assert!(v.new.keys().all(|p| !is_temp(p)), "a complete run left copies behind");
    let changing = v.changing();
    let created = v.new.keys().filter(|p| !v.old.contains_key(*p)).count();
    eprintln!(
        "{} files, {} sidecars created, {} files written by apply; a complete run took {:.2} s",
        v.old.len(),
        created,
        changing.len(),
        full.as_secs_f64()
    );
    assert!(changing.len() > FILES / 2, "apply changed only {} files", changing.len());
    assert!(created > 0, "no sidecar created: the test should cover them");

    // A second complete run on B writes nothing.
    apply_to_completion(&b, &register);
    assert_eq!(contents(&b), v.new, "a second apply changed files");

    // Rounds: a fresh copy killed at a moment of the measured run time, then re-run on the
    // partially written copy and killed again; a fresh copy killed by progress, early, then re-run
    // and killed late. The run time of this machine's fsync-bound writes varies by a factor of
    // several from run to run, hence the kills by progress.
    let mut copies: Vec<PathBuf> = (1..=2).map(|i| base.join(format!("A{i}"))).collect();
    for c in &copies {
        copy_tree(&orig, c);
    }
    let mut rounds: VecDeque<(String, PathBuf, Moment)> = VecDeque::from([
        ("A1 fresh, kill at 45% of the run time".into(), copies[0].clone(), Moment::Time(0.45)),
        ("A1 re-run, kill at 50% of the rest written".into(), copies[0].clone(), Moment::Written(0.5)),
        ("A2 fresh, kill at 15% written".into(), copies[1].clone(), Moment::Written(0.15)),
        ("A2 re-run, kill at 70% of the rest written".into(), copies[1].clone(), Moment::Written(0.7)),
    ]);
    let mut mid_run = 0;
    let mut extra = 0;
    while let Some((name, dir, moment)) = rounds.pop_front() {
        let pending = check_old_or_new(&dir, &v, &name).old;
        let killed = apply_and_kill(&dir, &register, &pending, full, moment);
        let state = check_old_or_new(&dir, &v, &name);
        eprintln!(
            "{name}: {} after {:.2} s: {} files old, {} new, {} copies left",
            if killed.finished { "finished before the kill" } else { "killed" },
            killed.after.as_secs_f64(),
            state.old.len(),
            state.new,
            state.temps
        );
        // Mid-run: this run replaced some of the files it had to write, not all.
        if !killed.finished && !state.old.is_empty() && state.old.len() < pending.len() {
            mid_run += 1;
        }
        // Should no kill have fallen mid-run (a machine far faster or slower than expected),
        // try again on fresh copies, a few times.
        if rounds.is_empty() && mid_run == 0 && extra < 3 {
            extra += 1;
            let name = format!("A{}", copies.len() + 1);
            let c = base.join(&name);
            copy_tree(&orig, &c);
            rounds.push_back((format!("{name} fresh, kill at 30% written"), c.clone(), Moment::Written(0.3)));
            copies.push(c);
        }
    }
    assert!(mid_run > 0, "no kill fell in the middle of a run: the test tested nothing");

    // Finish every copy: every file is B's version and no copy is left.
    for dir in &copies {
        apply_to_completion(dir, &register);
        let now = contents(dir);
        let temps: Vec<&PathBuf> = now.keys().filter(|p| is_temp(p)).collect();
        assert!(temps.is_empty(), "{}: copies left after a complete run: {temps:?}", dir.display());
        for (rel, bytes) in &v.new {
            assert!(now.get(rel) == Some(bytes), "{}: {} differs from B's version", dir.display(), rel.display());
        }
        assert_eq!(now.len(), v.new.len(), "{}: files that B does not have", dir.display());
    }
}
