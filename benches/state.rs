//! Incremental scans (issue 5): `consentry scan` with a state file, first run against reruns, on
//! a private copy of the 20,000-file benchmark archive (shared with `benches/scan.rs`, cached
//! under target/tmp; the copy keeps the cached archive free of state and of changed stamps).
//!
//! Times, with a small register (3 consents per archive name) and `--as-of 2025-01-01`:
//!   1. the first scan (no state yet), best of 3, and `scan --no-state` for reference;
//!   2. a rescan with nothing changed, best of 5 (target: at least 10x faster than the first);
//!   3. a rescan after touching 1% of the media files, best of 3 (target: close to 2.);
//!   4. where the page cache may be dropped (root): 1. and 2. with a cold cache, as a nightly
//!      run meets it;
//!   5. the state file's size and the peak memory of an unchanged rescan;
//!   6. the unchanged rescan against the stat walk every correct rescan must do (`find -printf
//!      '%i %s %T@ %C@'` over the same tree, best of 5; target: within 1.5x);
//!   7. memory bounded by a constant (issue 15, item 3): peak memory (max RSS) of the first scan,
//!      an unchanged rescan and a scan without state of a tree of 20,000 files and one of
//!      `CONSENTRY_BENCH_LARGE` files (1,000,000; 0 leaves this part out), both made of hard
//!      links of a small generated archive (1,000 files in 10 folders, linked again per 1,000
//!      files: the same folders' sizes at both sizes), cached under target/tmp; target: the
//!      large rescan within 1.5x of the small one's peak.
//!
//! Before timing 2. and 3. it checks, from the `State ...` line on stderr, that the rescans read
//! what they should (nothing, and about the touched files): a check of the setup, not a timing.
//! The benchmark prints ratios; it asserts no timing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use consentry_synth::{self as synth, BENCH_NAMES};

use common::{fastest, timed};

const DATE: &str = "2025-01-01";
/// Files whose mtime or ctime is within 2 s before a run's start are read again by the next one.
const RACY_WAIT: Duration = Duration::from_millis(2100);

/// The scan command: `scan ARCHIVE --register R --as-of DATE`, then `extra`.
fn scan(archive: &Path, register: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_consentry"));
    c.arg("scan").arg(archive).arg("--register").arg(register).args(["--as-of", DATE]).args(extra);
    c
}

/// Exit 0 (clean), 1 (findings) and 3 (some files unreadable) are complete runs; 2 is fatal.
fn check_status(cmd: &Command, status: std::process::ExitStatus, stderr: &str) {
    assert!(matches!(status.code(), Some(0 | 1 | 3)), "{cmd:?}: {status}\n{stderr}");
}

/// One run, output discarded; its wall-clock time.
fn time(mut cmd: Command) -> f64 {
    let t = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    let secs = t.elapsed().as_secs_f64();
    check_status(&cmd, status, "");
    secs
}

/// Best (minimum) of `n` runs, each after `before` (untimed). This VM's times swing widely; the
/// minimum is the stable figure.
fn best(n: usize, mut before: impl FnMut(usize), mut cmd: impl FnMut() -> Command) -> f64 {
    (0..n)
        .map(|i| {
            before(i);
            time(cmd())
        })
        .fold(f64::INFINITY, f64::min)
}

/// The counts of the `State PATH: N files, N read, N unchanged; ...` line of a run without
/// `--quiet`: (files, read, unchanged).
fn state_counts(mut cmd: Command) -> (u64, u64, u64) {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    check_status(&cmd, out.status, &stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("State "))
        .unwrap_or_else(|| panic!("{cmd:?}: no `State ...` line on stderr:\n{stderr}"));
    let number = |word: &str| -> u64 {
        let before = line.split(&format!(" {word}")).next().unwrap();
        let n = before.rsplit([' ', ',', ';']).next().unwrap();
        n.parse().unwrap_or_else(|_| panic!("no `N {word}` in: {line}"))
    };
    (number("files"), number("read"), number("unchanged"))
}

/// Empty the page, dentry and inode caches; false where that is not allowed.
fn drop_caches() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

fn remove_state(state: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = state.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Every media file of the archive (sidecars and the cache marker left out), in a stable order.
fn media_files(archive: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(archive)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_ascii_lowercase());
            ext.is_some_and(|e| e != "xmp") && !p.components().any(|c| c.as_os_str() == ".consentry")
        })
        .collect();
    files.sort();
    files
}

/// `touch` `count` media files spread evenly over the archive (shifted by `round`, so that each
/// round touches others), then wait out the racy window.
fn touch(media: &[PathBuf], count: usize, round: usize) {
    let step = media.len() / count;
    let picked = (0..count).map(|i| &media[(i * step + round * 7) % media.len()]);
    let status = Command::new("touch").args(picked).status().unwrap();
    assert!(status.success(), "touch: {status}");
    std::thread::sleep(RACY_WAIT);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the test list
    }
    let (files, big) = common::bench_size();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (cached, _) = common::bench_archive(files, big);

    // A fresh private copy: the runs below write a state and change stamps.
    let work = tmp.join("bench-state");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let archive = work.join("archive");
    let t = Instant::now();
    let status = Command::new("cp").arg("-a").arg(&cached).arg(&archive).status().unwrap();
    assert!(status.success(), "cp -a {} {}: {status}", cached.display(), archive.display());
    eprintln!("copied the archive to {} in {:.1} s", archive.display(), t.elapsed().as_secs_f64());
    let register = work.join("register.csv");
    std::fs::write(&register, synth::bench_register_csv(3 * BENCH_NAMES.len())).unwrap();
    let state = work.join("state.sqlite");
    let state_arg = state.to_str().unwrap();
    let media = media_files(&archive);
    let touched = media.len() / 100;
    // The copy's ctimes are new: wait them out, else the first scan's records would be racy.
    std::thread::sleep(RACY_WAIT);

    println!(
        "archive: {} media files (a private copy); register: {} consents; evaluated on {DATE}; --quiet, stdout to /dev/null",
        media.len(),
        3 * BENCH_NAMES.len()
    );
    // Warm the page cache once.
    time(scan(&archive, &register, &["--quiet", "--no-state"]));

    let no_state = best(3, |_| {}, || scan(&archive, &register, &["--quiet", "--no-state"]));
    let first = best(3, |_| remove_state(&state), || scan(&archive, &register, &["--quiet", "--state", state_arg]));

    // Nothing changed since the first scan: nothing is read.
    let (n, read, unchanged) = state_counts(scan(&archive, &register, &["--state", state_arg]));
    assert_eq!(read, 0, "the unchanged rescan read {read} of {n} files ({unchanged} unchanged); expected 0");
    let rescan = best(5, |_| {}, || scan(&archive, &register, &["--quiet", "--state", state_arg]));

    // 1% touched: about those are read (a touch changes mtime and ctime).
    touch(&media, touched, 3);
    let (n1, read1, unchanged1) = state_counts(scan(&archive, &register, &["--state", state_arg]));
    assert!(
        (touched as u64..=touched as u64 + touched as u64 / 10).contains(&read1),
        "the rescan after touching {touched} files read {read1} of {n1} ({unchanged1} unchanged); expected about {touched}"
    );
    let rescan1 = best(
        3,
        |round| touch(&media, touched, round),
        || scan(&archive, &register, &["--quiet", "--state", state_arg]),
    );

    let row = |name: &str, secs: f64| {
        println!("{name:<46} {secs:>7.2} s {:>9.0} files/s", media.len() as f64 / secs);
    };
    row("scan --no-state (reference, best of 3)", no_state);
    row("first scan, no state file yet (best of 3)", first);
    row("rescan, nothing changed (best of 5)", rescan);
    row(&format!("rescan, {touched} files (1%) touched (best of 3)"), rescan1);
    println!("stderr check: unchanged rescan read {read} of {n} files; after touching {touched}, read {read1} of {n1}");
    println!("first scan / unchanged rescan: {:.1}x (target: at least 10x)", first / rescan);
    println!(
        "first scan / rescan after 1% touched: {:.1}x (target: close to the unchanged rescan's {:.1}x)",
        first / rescan1,
        first / rescan
    );

    // A nightly run meets a cold page cache: the files' data (and often their inodes) were
    // pushed out during the day. Measured where the page cache may be dropped (root).
    if drop_caches() {
        let cold_first = best(
            2,
            |_| {
                remove_state(&state);
                drop_caches();
            },
            || scan(&archive, &register, &["--quiet", "--state", state_arg]),
        );
        let cold_rescan = best(
            3,
            |_| {
                drop_caches();
            },
            || scan(&archive, &register, &["--quiet", "--state", state_arg]),
        );
        row("cold page cache: first scan (best of 2)", cold_first);
        row("cold page cache: rescan, nothing changed (best of 3)", cold_rescan);
        println!("cold: first scan / unchanged rescan: {:.1}x (target: at least 10x)", cold_first / cold_rescan);
    } else {
        println!("cold page cache: not measured (cannot write /proc/sys/vm/drop_caches here)");
    }

    let size: u64 =
        ["", "-wal"].iter().filter_map(|s| std::fs::metadata(format!("{state_arg}{s}")).ok()).map(|m| m.len()).sum();
    println!("state file: {:.1} MB ({} bytes, with its WAL if any)", size as f64 / 1e6, size);
    if Path::new("/usr/bin/time").exists() {
        let rss = work.join("rss.txt");
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%M", "-o"]).arg(&rss).arg(env!("CARGO_BIN_EXE_consentry"));
        cmd.arg("scan").arg(&archive).arg("--register").arg(&register);
        cmd.args(["--as-of", DATE, "--quiet", "--state", state_arg]);
        time(cmd);
        let kb: f64 = std::fs::read_to_string(&rss)
            .unwrap()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next_back()
            .expect("no %M figure from /usr/bin/time");
        println!("peak memory (max RSS) of the unchanged rescan: {:.1} MB", kb / 1024.0);
    } else {
        println!("peak memory: /usr/bin/time not installed, skipped");
    }
    // 6. The floor of a correct rescan: a stat of every file.
    let find = || {
        let mut c = Command::new("find");
        c.arg(&archive).args(["-printf", "%i %s %T@ %C@\n"]);
        c
    };
    let walk = fastest((0..5).map(|_| timed(&mut find())));
    let rescan_again = best(5, |_| {}, || scan(&archive, &register, &["--quiet", "--state", state_arg]));
    let rescan = rescan.min(rescan_again);
    println!("stat walk (find -printf '%i %s %T@ %C@', best of 5): {:.3} s", walk.secs);
    println!(
        "unchanged rescan / stat walk: {:.2}x ({:.3} s / {:.3} s; target: within 1.5x)",
        rescan / walk.secs,
        rescan,
        walk.secs
    );
    let _ = std::fs::remove_dir_all(&work);

    // 7. Memory against the number of files.
    let large = std::env::var("CONSENTRY_BENCH_LARGE").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000usize);
    if large > 0 {
        memory(&register_text(), &[20_000, large]);
    } else {
        println!("memory against the number of files: left out (CONSENTRY_BENCH_LARGE=0)");
    }
}

fn register_text() -> String {
    synth::bench_register_csv(3 * BENCH_NAMES.len())
}

/// Files per copy of the small archive the large trees are linked from.
const UNIT: usize = 1_000;

/// A tree of `files` media files (a multiple of [`UNIT`]): hard links of the small generated
/// archive, `c{copy}/` per copy (its folders `000/0N` of 100 files each), cached.
fn linked_tree(files: usize) -> PathBuf {
    let (unit, _) = common::bench_archive(UNIT, 0);
    let copies = files.div_ceil(UNIT);
    let (dir, _) = common::cached_dir(&format!("bench-linked-v1-{}", copies * UNIT), |dir| {
        let sources: Vec<(PathBuf, PathBuf)> = walkdir::WalkDir::new(&unit)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.file_name() != ".complete")
            .map(|e| (e.path().to_path_buf(), e.path().strip_prefix(&unit).unwrap().to_path_buf()))
            .collect();
        for copy in 0..copies {
            let base = dir.join(format!("c{copy:04}"));
            for (from, rel) in &sources {
                let to = base.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                std::fs::hard_link(from, &to).unwrap();
            }
        }
        format!("{}", copies * UNIT)
    });
    dir
}

/// Peak memory of the first scan, the unchanged rescan and a scan without state, per tree size.
fn memory(register_csv: &str, sizes: &[usize]) {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let work = tmp.join("bench-state-memory");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let register = work.join("register.csv");
    std::fs::write(&register, register_csv).unwrap();
    let trees: Vec<PathBuf> = sizes.iter().map(|&n| linked_tree(n)).collect();
    // Linking changes the files' ctimes: wait them out, else the first scans' records are racy.
    std::thread::sleep(RACY_WAIT);
    println!("memory against the number of files (hard-linked trees, folders of 100 files; max RSS):");
    let mut rescans = Vec::new();
    for (&n, tree) in sizes.iter().zip(&trees) {
        let state = work.join(format!("state-{n}.sqlite"));
        remove_state(&state);
        let state_arg = state.to_str().unwrap();
        let first = timed(&mut scan(tree, &register, &["--quiet", "--state", state_arg]));
        let (files, read, _) = state_counts(scan(tree, &register, &["--state", state_arg]));
        assert_eq!((files, read), (n as u64, 0), "the unchanged rescan of {n} files read {read} of {files}");
        let rescan = fastest((0..3).map(|_| timed(&mut scan(tree, &register, &["--quiet", "--state", state_arg]))));
        let no_state = timed(&mut scan(tree, &register, &["--quiet", "--no-state"]));
        let mb = |r: &common::Run| r.max_rss_kb as f64 / 1024.0;
        println!(
            "{n:>9} files: first scan {:>6.1} MB ({:.1} s), unchanged rescan {:>6.1} MB ({:.2} s), --no-state {:>6.1} MB ({:.1} s)",
            mb(&first),
            first.secs,
            mb(&rescan),
            rescan.secs,
            mb(&no_state),
            no_state.secs
        );
        rescans.push((n, rescan, first));
        remove_state(&state);
    }
    if let [(small, s, sf), .., (big, b, bf)] = rescans[..] {
        println!(
            "peak memory, unchanged rescan of {big} files / of {small}: {:.2}x (target: within 1.5x); first scan: {:.2}x",
            b.max_rss_kb as f64 / s.max_rss_kb as f64,
            bf.max_rss_kb as f64 / sf.max_rss_kb as f64
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
