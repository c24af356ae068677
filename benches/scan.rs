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

use consentry::synth::{self, Embed, People, Style, SynthFormat};
use rayon::prelude::*;

const NAMES: [&str; 24] = [
    "Anna Schmidt",
    "Ben Meyer",
    "Carla Roth",
    "Dora Klein",
    "Emil Weber",
    "Frieda Wolf",
    "Günter Groß",
    "Hans Vogel",
    "Ida Neumann",
    "Jörg Müller",
    "Karla Fischer",
    "Lena Braun",
    "Max Hoffmann",
    "Nina Schulz",
    "Otto Wagner",
    "Paula Becker",
    "Quirin Lange",
    "Rosa Krause",
    "Sven Richter",
    "Tanja Koch",
    "Uwe Bauer",
    "Vera Zimmer",
    "Willi Hartmann",
    "Zoe Schäfer",
];

/// Deterministic xorshift generator: the archive is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn names(&mut self, max: usize) -> Vec<String> {
        (0..1 + self.below(max)).map(|_| NAMES[self.below(NAMES.len())].to_string()).collect()
    }
}

/// Weighted mix of containers, roughly as in a press archive: mostly JPEG, some RAW and video.
fn pick_format(rng: &mut Rng) -> SynthFormat {
    use SynthFormat::*;
    const MIX: [(SynthFormat, usize); 16] = [
        (Jpeg, 50),
        (Png, 6),
        (PngCompressedXmp, 2),
        (Tiff, 4),
        (WebP, 4),
        (Gif, 2),
        (Psd, 2),
        (Heic, 6),
        (Avif, 2),
        (Dng, 4),
        (Cr2, 3),
        (Nef, 4),
        (Cr3, 3),
        (Raf, 2),
        (Mp4, 4),
        (Mov, 2),
    ];
    let total: usize = MIX.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (f, w) in MIX {
        if x < w {
            return f;
        }
        x -= w;
    }
    Jpeg
}

fn random_people(rng: &mut Rng) -> People {
    let mut p = People::default();
    match rng.below(8) {
        0 => p.person_in_image = rng.names(3),
        1 => p.person_details = rng.names(2),
        2 => p.region_persons = rng.names(2),
        3 => {
            p.mwg_faces = rng.names(3).into_iter().map(Some).collect();
            if rng.chance(30) {
                p.mwg_faces.push(None);
            }
        }
        4 => p.mp_faces = rng.names(3).into_iter().map(Some).collect(),
        5 => p.digikam_tags = rng.names(2).into_iter().map(|n| format!("People/{n}")).collect(),
        6 => p.lr_subjects = rng.names(2).into_iter().map(|n| format!("Personen|{n}")).collect(),
        _ => {}
    }
    p.dc_subject = vec!["Event".into(), "Berlin".into()];
    p.date_created = Some("2024-03-01T10:22:33".into());
    p
}

/// Write the archive; returns (media files, sidecars, bytes).
fn generate(dir: &Path, files: usize, big: usize) -> (usize, usize, u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let styles = Style::presets();
    let (mut sidecars, mut bytes) = (0, 0u64);
    let big_every = files.checked_div(big).map_or(usize::MAX, |n| n.max(1));
    for i in 0..files {
        let format = pick_format(&mut rng);
        let people = random_people(&mut rng);
        let style = styles[i % styles.len()].1;
        let packet = synth::xmp_for(&people, style);
        let raw = matches!(format, SynthFormat::Cr2 | SynthFormat::Nef | SynthFormat::Cr3 | SynthFormat::Raf);
        let to_sidecar = raw && rng.chance(50);
        let mut embed = Embed { xmp: (!to_sidecar).then(|| packet.clone()), ..Embed::default() };
        if format.supports_exif() && rng.chance(20) {
            embed.xp_keywords = Some(format!("People/{};Holiday", NAMES[rng.below(NAMES.len())]));
            embed.date_time_original = Some("2024:03:01 10:22:33".into());
        }
        if format.supports_iptc() && rng.chance(20) {
            embed.iptc_keywords = vec![format!("Persons/{}", NAMES[rng.below(NAMES.len())]), "Summer".into()];
        }
        if format.supports_quicktime_created() {
            embed.quicktime_created = Some(3_800_000_000);
        }
        embed.payload_bytes = if i % big_every == 0 { (2 + rng.below(7)) << 20 } else { rng.below(24 << 10) };
        let sub = dir.join(format!("{:03}/{:02}", i / 1000, (i / 100) % 10));
        fs::create_dir_all(&sub).unwrap();
        let name = format!("IMG_{i:06}.{}", format.extension());
        let data = synth::build(format, &embed);
        bytes += data.len() as u64;
        fs::write(sub.join(&name), data).unwrap();
        if to_sidecar || (format == SynthFormat::Jpeg && rng.chance(5)) {
            let sidecar = if to_sidecar { format!("IMG_{i:06}.xmp") } else { format!("{name}.xmp") };
            let body = if to_sidecar { packet } else { synth::xmp_for(&random_people(&mut rng), style) };
            fs::write(sub.join(sidecar), body).unwrap();
            sidecars += 1;
        }
    }
    (files, sidecars, bytes)
}

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
    c.args(["scan", "--quiet", "--format", "jsonl"]).arg(dir);
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
        let r = generate(&dir, files, big);
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
