//! Per-shard throughput and memory (issue 15, items 1 and 6): `cargo bench --bench shards` scans
//! the benchmark archive (the one `benches/scan.rs` generates, cached under target/) as N = 1, 2,
//! 4 and 8 shards, one shard after the other (as N nodes would each run one), and prints per
//! shard the files it read, its wall and CPU time and peak memory; per N the slowest shard (the
//! time N nodes would take), the speed-up over N = 1 and the part of a shard's time that is the
//! walk every shard repeats (a `find -printf` stat walk of the whole tree, the floor of that
//! part). Then each shard writes its result file (`--results`) and `consentry merge` prints the
//! whole set's records: its time against one `scan` of the archive printing the same records.
//! Warm page cache, best of three per shard.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fastest, timed};

/// The records a shard gives (its files read).
fn count(bin: &str, dir: &Path, shard: Option<(u32, u32)>) -> usize {
    let out = common::consentry_scan(bin, dir, shard).output().unwrap();
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the test list
    }
    let bin = env!("CARGO_BIN_EXE_consentry");
    let (files, big) = common::bench_size();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (cached, (media, sidecars, bytes)) = common::bench_archive(files, big);
    // Shards are parts of an archive: a copy of the cached tree (hard links, no data copied)
    // marked as one, leaving the cached tree as the other benches use it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-shards-archive");
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new("cp").arg("-al").arg(&cached).arg(&dir).status().unwrap();
    assert!(status.success(), "cp -al {} {}", cached.display(), dir.display());
    std::fs::write(dir.join("consentry.toml"), "").unwrap();
    println!(
        "archive: {media} media files, {sidecars} sidecars, {:.0} MB; {cores} cores per shard (one shard at a time); warm page cache, best of 3",
        bytes as f64 / 1e6
    );
    let records = count(bin, &dir, None); // also warms the cache
    let walk = fastest((0..3).map(|_| timed(Command::new("find").arg(&dir).args(["-printf", "%i %s %T@ %C@\n"]))));
    println!("stat walk of the whole tree (find -printf): {:.3} s", walk.secs);
    let mut whole = None;
    let single = fastest((0..3).map(|_| timed(&mut common::consentry_scan(bin, &dir, None))));
    let results = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-shard-results");
    for n in [1u32, 2, 4, 8] {
        let mut slowest = 0.0f64;
        let mut read = 0;
        for k in 0..n {
            let shard = Some((k, n));
            let files = count(bin, &dir, shard);
            read += files;
            let run = fastest((0..3).map(|_| timed(&mut common::consentry_scan(bin, &dir, shard))));
            assert_eq!(run.code, 0, "shard {k}/{n} failed");
            println!(
                "N={n} shard {k}: {files:>6} files {:>7.3} s {:>8.0} files/s {:>6.2} s CPU {:>6.1} MB peak",
                run.secs,
                files as f64 / run.secs,
                run.cpu,
                run.max_rss_kb as f64 / 1024.0
            );
            slowest = slowest.max(run.secs);
        }
        assert_eq!(read, records, "the shards of {n} give every record of one run once");
        let base = *whole.get_or_insert(slowest);
        println!(
            "N={n}: slowest shard {slowest:.3} s: N nodes finish {:.2}x sooner than one (ideal {n}x); the walk every shard repeats is at least {:.0}% of a shard's time",
            base / slowest,
            100.0 * walk.secs / slowest
        );
        // The set's result files, then their merge.
        let set = results.join(format!("n{n}"));
        let _ = std::fs::remove_dir_all(&set);
        let mut written = 0.0f64;
        for k in 0..n {
            let run = timed(
                Command::new(bin)
                    .args(["scan", "--quiet", "--no-state", "--shard", &format!("{k}/{n}"), "--results"])
                    .arg(&set)
                    .arg(&dir),
            );
            assert_eq!(run.code, 0, "shard {k}/{n} with --results failed");
            written = written.max(run.secs);
        }
        let merge =
            fastest((0..3).map(|_| timed(Command::new(bin).args(["merge", "--quiet", "--format", "jsonl"]).arg(&set))));
        assert_eq!(merge.code, 0, "merge of {n} shards failed");
        println!(
            "N={n}: slowest shard writing its results {written:.3} s; merge of the {n} result files {:.3} s ({:.2} s CPU, {:.1} MB peak) = {:.2}x one scan printing the same records ({:.3} s)",
            merge.secs,
            merge.cpu,
            merge.max_rss_kb as f64 / 1024.0,
            merge.secs / single.secs,
            single.secs
        );
    }
}
