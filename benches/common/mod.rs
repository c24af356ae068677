//! What the benchmarks share: the generated archives they cache under `target/tmp`, and timing
//! a run with its CPU time and peak memory.
#![allow(dead_code)] // each benchmark uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A directory under `CARGO_TARGET_TMPDIR` made once by `make` (which returns what to remember
/// of it) and reused while its `.complete` marker is there; the marker's text.
pub fn cached_dir(name: &str, make: impl FnOnce(&Path) -> String) -> (PathBuf, String) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let marker = dir.join(".complete");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        return (dir, text);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let text = make(&dir);
    std::fs::write(&marker, &text).unwrap();
    eprintln!("generated {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
    (dir, text)
}

/// The benchmark archive of `files` media files, `big` of them 2-8 MB
/// (`synth::write_bench_archive`): its directory and (media files, sidecars, bytes).
pub fn bench_archive(files: usize, big: usize) -> (PathBuf, (usize, usize, u64)) {
    let (dir, text) = cached_dir(&format!("bench-archive-v1-{files}-{big}"), |dir| {
        let r = consentry_synth::write_bench_archive(dir, files, big);
        format!("{} {} {}", r.0, r.1, r.2)
    });
    let v: Vec<u64> = text.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (dir, (v[0] as usize, v[1] as usize, v[2]))
}

/// `CONSENTRY_BENCH_FILES` and `CONSENTRY_BENCH_BIG`: the size of the benchmark archive
/// (20,000 files, 300 of them big).
pub fn bench_size() -> (usize, usize) {
    let var = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    (var("CONSENTRY_BENCH_FILES", 20_000), var("CONSENTRY_BENCH_BIG", 300))
}

/// One run: wall time, CPU time (user and system, all threads and children: what the work
/// costs even when other programs share the cores), peak memory and exit code.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub secs: f64,
    pub cpu: f64,
    pub max_rss_kb: i64,
    pub code: i32,
}

/// Run a command to completion, output discarded. The child is reaped by `wait4` (which also
/// reports its resource usage), not by `Child::wait`. A killed command is a failure.
#[allow(clippy::zombie_processes)]
pub fn timed(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let secs = start.elapsed().as_secs_f64();
    let status: std::process::ExitStatus = std::os::unix::process::ExitStatusExt::from_raw(status);
    let code = status.code().unwrap_or_else(|| panic!("{cmd:?} was killed: {status:?}"));
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Run { secs, cpu: tv(usage.ru_utime) + tv(usage.ru_stime), max_rss_kb: usage.ru_maxrss, code }
}

/// The fastest of some runs: the one that measures the program rather than a disk or a page cache
/// reclaimed under it.
pub fn fastest(runs: impl IntoIterator<Item = Run>) -> Run {
    runs.into_iter().min_by(|a, b| a.secs.total_cmp(&b.secs)).expect("at least one run")
}

/// `consentry scan` of `dir` reading every file (no state), its records to stdout as JSON Lines;
/// with `shard` (K, N) only that shard's.
pub fn consentry_scan(bin: &str, dir: &Path, shard: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin);
    c.args(["scan", "--quiet", "--no-state", "--format", "jsonl"]);
    if let Some((k, n)) = shard {
        c.arg("--shard").arg(format!("{k}/{n}"));
    }
    c.arg(dir);
    c
}
