//! Scan throughput and memory against exiv2, exiftool and a plain read, on one generated archive.
//!
//! `cargo bench --bench scan` generates (once, cached under target/) an archive of
//! `CONSENTRY_BENCH_FILES` media files (default 20,000) mixing every container and person
//! source, `CONSENTRY_BENCH_BIG` of them (default 300) several MB large, plus sidecars; then, in
//! the same run and on the same warm page cache, times:
//!   - `consentry scan` (the release binary),
//!   - `exiv2 -PXkv pr` over all files via `xargs -P<cores>`,
//!   - `exiftool -r -fast` restricted to the person tags,
//!   - a plain open-and-read of the first 64 KiB of every file (in process, on all cores),
//!
//! and prints files per second, peak memory and the ratios the quality bars name. A second part
//! shows peak memory does not grow with file size (the same files with 1 GiB sparse tails).

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use consentry::synth::{self, Embed, People, Style, SynthFormat, BENCH_NAMES as NAMES};
use rayon::prelude::*;

struct Run {
    secs: f64,
    max_rss_kb: i64,
}

/// Run a command to completion, output discarded; wall time and peak RSS of it and its children.
/// The child is reaped by `wait4` (which also reports its resource usage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn timed(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let secs = start.elapsed().as_secs_f64();
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.code().is_some(), "{cmd:?} was killed: {status:?}");
    Run { secs, max_rss_kb: usage.ru_maxrss }
}

fn plain_read(dir: &Path) -> usize {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files
        .par_iter()
        .map(|p| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut f = fs::File::open(p).unwrap();
            let mut n = 0;
            while n < buf.len() {
                match f.read(&mut buf[n..]).unwrap() {
                    0 => break,
                    k => n += k,
                }
            }
            n
        })
        .count()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg(if tool == "exiv2" { "--version" } else { "-ver" })
        .output()
        .is_ok_and(|o| o.status.success())
}

fn consentry_scan(bin: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    // Every file read: what the comparison with exiv2 and exiftool is about (no state).
    c.args(["scan", "--quiet", "--no-state", "--format", "jsonl"]).arg(dir);
    c
}

fn line(name: &str, files: usize, run: &Run) {
    println!(
        "{name:<34} {:>9.2} s {:>10.0} files/s {:>9.1} MB peak",
        run.secs,
        files as f64 / run.secs,
        run.max_rss_kb as f64 / 1024.0
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the test list
    }
    let bin = env!("CARGO_BIN_EXE_consentry");
    let files: usize = std::env::var("CONSENTRY_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let big: usize = std::env::var("CONSENTRY_BENCH_BIG").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-archive-v1-{files}-{big}"));
    let marker = dir.join(".complete");
    let (media, sidecars, bytes) = if marker.exists() {
        let s = fs::read_to_string(&marker).unwrap();
        let v: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
        (v[0] as usize, v[1] as usize, v[2])
    } else {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let t = Instant::now();
        let r = synth::write_bench_archive(&dir, files, big);
        fs::write(&marker, format!("{} {} {}", r.0, r.1, r.2)).unwrap();
        eprintln!("generated {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
        r
    };
    println!(
        "archive: {media} media files, {sidecars} sidecars, {big} files of 2-8 MB, {:.0} MB in all; {cores} cores; warm page cache, best of 5 for the first two",
        bytes as f64 / 1e6
    );

    // Warm the cache for every tool alike, then measure plain read and consentry interleaved, best
    // of five each: the page cache of this kind of machine is reclaimed unpredictably, and the
    // fastest run is the one that measures the program rather than the disk.
    plain_read(&dir);
    timed(&mut consentry_scan(bin, &dir));
    let (mut plains, mut ourses) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        plain_read(&dir);
        plains.push(Run { secs: t.elapsed().as_secs_f64(), max_rss_kb: 0 });
        ourses.push(timed(&mut consentry_scan(bin, &dir)));
    }
    let best = |runs: Vec<Run>| runs.into_iter().min_by(|a, b| a.secs.total_cmp(&b.secs)).unwrap();
    let (plain, ours) = (best(plains), best(ourses));
    line("plain read of first 64 KiB", media + sidecars, &plain);
    line("consentry scan", media, &ours);
    let per_sec = |r: &Run| media as f64 / r.secs;
    println!("consentry vs plain read: {:.2}x the time (target: within 3x)", ours.secs / plain.secs);

    if have("exiv2") {
        let script = format!(
            "find '{}' -type f ! -iname '*.xmp' ! -name .complete -print0 | xargs -0 -P{cores} -n 64 exiv2 -PXkv pr",
            dir.display()
        );
        let exiv2 = timed(Command::new("sh").args(["-c", &script]));
        line(&format!("exiv2 -PXkv pr (xargs -P{cores})"), media, &exiv2);
        println!(
            "consentry vs exiv2: {:.1}x the files per second (target: at least 5x)",
            per_sec(&ours) / per_sec(&exiv2)
        );
    } else {
        println!("exiv2: not installed, skipped");
    }
    if have("exiftool") {
        let exiftool = timed(Command::new("exiftool").args([
            "-r",
            "-fast",
            "-j",
            "-q",
            "-q",
            "-XMP-iptcExt:PersonInImage",
            "-XMP-iptcExt:PersonInImageWDetails",
            "-XMP-iptcExt:ImageRegion",
            "-XMP-mwg-rs:RegionInfo",
            "-XMP-MP:RegionInfoMP",
            "-XMP-digiKam:TagsList",
            "-XMP-lr:HierarchicalSubject",
            "-EXIF:XPKeywords",
            "-IPTC:Keywords",
            dir.to_str().unwrap(),
        ]));
        line("exiftool -r -fast (person tags)", media, &exiftool);
        println!(
            "consentry vs exiftool: {:.0}x the files per second (target: at least 100x)",
            per_sec(&ours) / per_sec(&exiftool)
        );
    } else {
        println!("exiftool: not installed, skipped");
    }

    // Peak memory must not depend on file size: 50 JPEGs, small and then with 1 GiB sparse tails
    // (bytes after the end-of-image marker, as cameras append previews and padding).
    let mem = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-memory");
    let _ = fs::remove_dir_all(&mem);
    for (sub, len) in [("small", 0u64), ("huge", 1 << 30)] {
        fs::create_dir_all(mem.join(sub)).unwrap();
        for i in 0..50 {
            let people = People { person_in_image: vec![NAMES[i % NAMES.len()].into()], ..People::default() };
            let embed = Embed { xmp: Some(synth::xmp_for(&people, Style::STANDARD)), ..Embed::default() };
            let path = mem.join(sub).join(format!("{i}.jpg"));
            fs::write(&path, synth::build(SynthFormat::Jpeg, &embed)).unwrap();
            if len > 0 {
                fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len).unwrap();
            }
        }
    }
    let small = timed(&mut consentry_scan(bin, &mem.join("small")));
    let huge = timed(&mut consentry_scan(bin, &mem.join("huge")));
    println!(
        "peak memory, 50 small JPEGs: {:.1} MB; the same with 1 GiB each (50 GiB): {:.1} MB ({:.2} s)",
        small.max_rss_kb as f64 / 1024.0,
        huge.max_rss_kb as f64 / 1024.0,
        huge.secs
    );
    let _ = fs::remove_dir_all(&mem);
}
