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

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{timed, Run};
use consentry_synth::{self as synth, Embed, People, Style, SynthFormat, BENCH_NAMES as NAMES};
use rayon::prelude::*;

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
    let (files, big) = common::bench_size();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (dir, (media, sidecars, bytes)) = common::bench_archive(files, big);
    println!(
        "archive: {media} media files, {sidecars} sidecars, {big} files of 2-8 MB, {:.0} MB in all; {cores} cores; warm page cache, best of 5 for the first two",
        bytes as f64 / 1e6
    );

    // Warm the cache for every tool alike, then measure plain read and consentry interleaved, best
    // of five each: the page cache of this kind of machine is reclaimed unpredictably, and the
    // fastest run is the one that measures the program rather than the disk.
    plain_read(&dir);
    timed(&mut common::consentry_scan(bin, &dir, None));
    let (mut plains, mut ourses) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        plain_read(&dir);
        plains.push(Run { secs: t.elapsed().as_secs_f64(), cpu: 0.0, max_rss_kb: 0, code: 0 });
        ourses.push(timed(&mut common::consentry_scan(bin, &dir, None)));
    }
    let (plain, ours) = (common::fastest(plains), common::fastest(ourses));
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
    let small = timed(&mut common::consentry_scan(bin, &mem.join("small"), None));
    let huge = timed(&mut common::consentry_scan(bin, &mem.join("huge"), None));
    println!(
        "peak memory, 50 small JPEGs: {:.1} MB; the same with 1 GiB each (50 GiB): {:.1} MB ({:.2} s)",
        small.max_rss_kb as f64 / 1024.0,
        huge.max_rss_kb as f64 / 1024.0,
        huge.secs
    );
    let _ = fs::remove_dir_all(&mem);
}
