//! Time of `consentry report missing --format html -o DIR` on an archive where every file needs
//! attention, against the same report as JSON Lines (the scan and evaluation alone) and, as a
//! reference, `exiftool -b -ThumbnailImage` over the same files.
//!
//! `cargo bench --bench html` generates (once, cached under target/) `CONSENTRY_BENCH_HTML_FILES`
//! media files (default 2,000), all red or yellow against a one-line register, mixing what a
//! press archive holds: camera JPEGs (2 MP, most with an EXIF thumbnail, some 24 MP), JPEGs
//! without a thumbnail (decoded), plain TIFFs (decoded), DNGs with JPEG previews in SubIFDs,
//! CR2-style RAWs with a full-size JPEG in IFD0, PNGs, PSDs with a thumbnail resource, RAFs and
//! MP4 videos (placeholders). Then, on a warm page cache, best of three each.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{timed, Run};
use consentry_synth::previews::{
    exif_with_thumbnail, jpeg_image, jpeg_with_metadata, png_image, psd_with_thumbnail, raf_with_preview,
    tiff_with_previews, PreviewPlace,
};
use consentry_synth::{self as synth, Embed, People, Style, SynthFormat, BENCH_NAMES};

/// The register: only Anna Schmidt has consent, so every file shows someone without.
const REGISTER: &str = "person,usage,granted\nAnna Schmidt,web,2024-01-01\n";

/// Kinds of files in the archive, with their share in percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    JpegThumb,
    JpegThumbLarge,
    JpegPlain,
    JpegPlainLarge,
    Tiff,
    Dng,
    Cr2,
    Png,
    Psd,
    Raf,
    Mp4,
}

const MIX: [(Kind, usize); 11] = [
    (Kind::JpegThumb, 38),
    (Kind::JpegThumbLarge, 2),
    (Kind::JpegPlain, 15),
    (Kind::JpegPlainLarge, 1),
    (Kind::Tiff, 6),
    (Kind::Dng, 10),
    (Kind::Cr2, 6),
    (Kind::Png, 10),
    (Kind::Psd, 3),
    (Kind::Raf, 3),
    (Kind::Mp4, 6),
];

fn kind_of(i: usize) -> Kind {
    // Deterministic spread: i-th slot of every hundred.
    let slot = (i * 37) % 100;
    let mut acc = 0;
    for (k, share) in MIX {
        acc += share;
        if slot < acc {
            return k;
        }
    }
    Kind::JpegThumb
}

/// The persons of file `i`: one to three names without consent, and Anna Schmidt in every fifth
/// file (yellow instead of red).
fn persons(i: usize) -> String {
    let others = &BENCH_NAMES[1..];
    let mut names: Vec<String> = (0..1 + i % 3).map(|k| others[(i * 7 + k * 5) % others.len()].to_string()).collect();
    if i.is_multiple_of(5) {
        names.push(BENCH_NAMES[0].to_string());
    }
    synth::xmp_for(&People { person_in_image: names, ..People::default() }, Style::STANDARD)
}

/// Encoded pictures reused across files (encoding is the slow part of generating).
struct Bases {
    jpeg: Vec<Vec<u8>>,
    jpeg_large: Vec<u8>,
    thumb: Vec<Vec<u8>>,
    preview: Vec<Vec<u8>>,
    png_pixels: Vec<(u32, u32, u32)>,
}

fn bases() -> Bases {
    Bases {
        jpeg: (0..4).map(|s| jpeg_image(1600, 1200, s)).collect(),
        jpeg_large: jpeg_image(6000, 4000, 9),
        thumb: (0..4).map(|s| jpeg_image(160, 120, s + 10)).collect(),
        preview: (0..4).map(|s| jpeg_image(1024, 683, s + 20)).collect(),
        png_pixels: (0..4).map(|s| (800, 600, s + 30)).collect(),
    }
}

fn write_archive(dir: &Path, files: usize) -> (usize, u64) {
    let b = bases();
    let pngs: Vec<Vec<u8>> = b.png_pixels.iter().map(|&(w, h, s)| png_image(w, h, s, None)).collect();
    let mut bytes = 0u64;
    for i in 0..files {
        let xmp = persons(i);
        let v = i % 4;
        let kind = kind_of(i);
        let (ext, data) = match kind {
            Kind::JpegThumb => {
                ("jpg", jpeg_with_metadata(&b.jpeg[v], Some(&exif_with_thumbnail(&b.thumb[v], 1)), Some(&xmp)))
            }
            Kind::JpegThumbLarge => {
                ("jpg", jpeg_with_metadata(&b.jpeg_large, Some(&exif_with_thumbnail(&b.thumb[v], 1)), Some(&xmp)))
            }
            Kind::JpegPlain => ("jpg", jpeg_with_metadata(&b.jpeg[v], None, Some(&xmp))),
            Kind::JpegPlainLarge => ("jpg", jpeg_with_metadata(&b.jpeg_large, None, Some(&xmp))),
            Kind::Tiff => ("tif", tiff_with_previews(&[], 256, false, Some(&xmp))),
            Kind::Dng => (
                "dng",
                tiff_with_previews(
                    &[(PreviewPlace::SubIfd, &b.preview[v]), (PreviewPlace::NextIfd, &b.thumb[v])],
                    64,
                    true,
                    Some(&xmp),
                ),
            ),
            Kind::Cr2 => (
                "cr2",
                tiff_with_previews(
                    &[(PreviewPlace::Ifd0, &b.jpeg[v]), (PreviewPlace::NextIfd, &b.thumb[v])],
                    8,
                    false,
                    Some(&xmp),
                ),
            ),
            Kind::Png => {
                // The XMP goes in a sidecar: the PNGs stay shared bytes.
                fs::create_dir_all(sub(dir, i)).unwrap();
                fs::write(sub(dir, i).join(format!("IMG_{i:05}.png.xmp")), &xmp).unwrap();
                ("png", pngs[v].clone())
            }
            Kind::Psd => ("psd", psd_with_thumbnail(&b.thumb[v], 160, 120, false, Some(&xmp))),
            Kind::Raf => {
                let preview = jpeg_with_metadata(&b.preview[v], Some(&exif_with_thumbnail(&b.thumb[v], 1)), Some(&xmp));
                ("raf", raf_with_preview(&preview))
            }
            Kind::Mp4 => ("mp4", synth::build(SynthFormat::Mp4, &Embed { xmp: Some(xmp), ..Embed::default() })),
        };
        fs::create_dir_all(sub(dir, i)).unwrap();
        fs::write(sub(dir, i).join(format!("IMG_{i:05}.{ext}")), &data).unwrap();
        bytes += data.len() as u64;
    }
    (files, bytes)
}

fn sub(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{:02}", i / 200))
}

fn have_exiftool() -> bool {
    Command::new("exiftool").arg("-ver").output().is_ok_and(|o| o.status.success())
}

/// Best wall time and best CPU time of three runs of `make()` (after `before()` each time, not
/// timed), and the largest peak memory.
fn best_of_3(mut before: impl FnMut(), mut make: impl FnMut() -> Command) -> Run {
    (0..3)
        .map(|_| {
            before();
            let run = timed(&mut make());
            assert!(run.code == 0 || run.code == 3, "exit {}", run.code);
            run
        })
        .fold(Run { secs: f64::INFINITY, cpu: f64::INFINITY, max_rss_kb: 0, code: 0 }, |a, b| Run {
            secs: a.secs.min(b.secs),
            cpu: a.cpu.min(b.cpu),
            max_rss_kb: a.max_rss_kb.max(b.max_rss_kb),
            code: b.code,
        })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the test list
    }
    let bin = env!("CARGO_BIN_EXE_consentry");
    let files: usize = std::env::var("CONSENTRY_BENCH_HTML_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (archive, bytes) =
        common::cached_dir(&format!("bench-html-archive-v1-{files}"), |dir| write_archive(dir, files).1.to_string());
    let bytes: u64 = bytes.trim().parse().unwrap();
    let register = base.join("bench-html-register.csv");
    fs::write(&register, REGISTER).unwrap();
    let out = base.join("bench-html-report");
    let mix: Vec<String> = MIX.iter().map(|(k, share)| format!("{k:?} {share}%")).collect();
    println!(
        "archive: {files} media files needing attention, {:.0} MB; {cores} cores; warm page cache, best of 3",
        bytes as f64 / 1e6
    );
    println!("mix: {}", mix.join(", "));

    let report = |format: &str, out: Option<&Path>| {
        let mut c = Command::new(bin);
        c.args(["report", "missing", "--no-state", "--as-of", "2026-01-01", "--format", format, "--register"])
            .arg(&register)
            .arg(&archive);
        if let Some(o) = out {
            c.arg("-o").arg(o);
        }
        c
    };
    // Once with the summary line (and a warm cache), then checked.
    let _ = fs::remove_dir_all(&out);
    let first = report("html", Some(&out)).output().unwrap();
    let said = String::from_utf8_lossy(&first.stderr);
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let rows = html.matches("<tr class=\"row").count();
    assert_eq!(rows, files, "every file needs attention");
    println!("{}", said.lines().last().unwrap_or("").replace(&out.display().to_string(), "DIR"));

    let html = best_of_3(|| drop(fs::remove_dir_all(&out)), || report("html", Some(&out)));
    let jsonl = best_of_3(|| {}, || report("jsonl", None));
    let line = |name: &str, r: Run| {
        println!(
            "{name:<46} {:>7.2} s {:>7.0} files/s {:>7.2} s CPU {:>7.1} MB peak",
            r.secs,
            files as f64 / r.secs,
            r.cpu,
            r.max_rss_kb as f64 / 1024.0
        )
    };
    line("consentry report missing --format html -o DIR", html);
    line("consentry report missing --format jsonl", jsonl);
    println!(
        "thumbnails and page: {:.2} s ({:.1} ms CPU per file); target: well under a minute",
        html.secs - jsonl.secs,
        (html.cpu - jsonl.cpu) * 1000.0 / files as f64
    );
    if have_exiftool() {
        let exiftool = best_of_3(
            || {},
            || {
                let mut c = Command::new("exiftool");
                c.args(["-q", "-q", "-r", "-b", "-ThumbnailImage"]).arg(&archive);
                c
            },
        );
        line("exiftool -b -ThumbnailImage -r (reference)", exiftool);
        println!(
            "exiftool takes {:.1}x the time ({:.1}x the CPU) of the whole HTML report",
            exiftool.secs / html.secs,
            exiftool.cpu / html.cpu
        );
    } else {
        println!("exiftool: not installed, skipped");
    }
    let _ = fs::remove_dir_all(&out);
}
