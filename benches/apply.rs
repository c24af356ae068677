//! Writing back: `consentry apply` against exiv2 and exiftool setting the same fields, and a
//! second, no-change `apply` against `scan`, on a generated archive of 5,000 media files.
//!
//! `cargo bench --bench apply` generates (once, cached under target/tmp) the benchmark mix of
//! `CONSENTRY_BENCH_APPLY_FILES` files (default 5,000; mostly JPEG, some PNG, TIFF, PSD, DNG,
//! MP4/MOV, RAW with and without sidecars, HEIC/WebP/GIF that get sidecars) and a small register
//! (three consents per depicted name). Every writing run works on a fresh copy of the archive; the
//! copying is not timed, and `sync` is called before each timed run so that no run pays for
//! flushing the previous copy. Times:
//!   - `consentry apply`, first run: every file gets its result;
//!   - `exiv2 -m CMDS` (via `xargs -P<cores> -n 64`) setting the same fields (consentry's
//!     namespace, Status, Usage and ConsentIDs bags, EvaluatedAt, RegisterDigest and one
//!     `lr:hierarchicalSubject` item) on the files consentry writes: the embedded ones, and
//!     the sidecars of the rest (those consentry creates are pre-created empty, untimed: exiv2
//!     cannot create them);
//!   - `exiftool -config CFG -overwrite_original` writing the same, on every 10th of those files
//!     (`<cores>` processes, each on its share), scaled to all files;
//!   - a second `consentry apply` on the applied copy (writes nothing) and `consentry scan` with
//!     the same register on that copy.
//!
//! consentry flushes every file to disk before renaming it over the original (the atomic
//! replacement SPEC.md 5 promises); exiv2 and exiftool write in place and flush nothing, so their
//! times are also shown with a `sync` at the end, which writes their data to disk.
//!
//! Targets: the first apply faster than exiv2; the no-change apply at nearly the scan's speed.

use std::fmt::Write as _;
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use consentry_synth::BENCH_NAMES;

const AS_OF: &str = "2026-11-22";
const NS: &str = "http://ns.consentry.org/xmp/1.0/";
const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Three consents per depicted name, with different usage areas, scopes and expiry dates.
fn write_register(path: &Path) {
    const USAGES: [&str; 4] = ["print,web", "web,social", "print,web,press", "web"];
    let mut csv = String::from("id,person,usage,granted,expires,document,scope\n");
    for i in 0..3 * BENCH_NAMES.len() {
        let person = BENCH_NAMES[i % BENCH_NAMES.len()];
        let year = 2024 + (i % 6);
        let scope = if i % 7 == 0 { "00[0-1]/**" } else { "*" };
        writeln!(csv, "c{i},{person},\"{}\",2019-01-01,{year}-06-30,,{scope}", USAGES[i % USAGES.len()]).unwrap();
    }
    fs::write(path, csv).unwrap();
}

/// The packet exiv2 gets in the sidecars consentry would create (exiv2 cannot create a file).
const EMPTY_XMP: &str = "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/></x:xmpmeta><?xpacket end=\"w\"?>";

/// exiftool's definition of the consentry namespace.
const EXIFTOOL_CONFIG: &str = r"%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        consentry => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::consentry' } },
    },
);
%Image::ExifTool::UserDefined::consentry = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-consentry', 2 => 'Image' },
    NAMESPACE => { 'consentry' => 'http://ns.consentry.org/xmp/1.0/' },
    WRITABLE => 'string',
    Status => { },
    Usage => { List => 'Bag' },
    ConsentIDs => { List => 'Bag' },
    EvaluatedAt => { },
    RegisterDigest => { },
);
1;
";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg(if tool == "exiv2" { "--version" } else { "-ver" })
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sync() {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
}

/// A fresh copy of `archive` at `dest`, flushed to disk. `sidecars`: files to create with an
/// empty packet (those consentry creates, for the tools that cannot create them).
fn fresh_copy(archive: &Path, dest: &Path, sidecars: &[&PathBuf]) {
    let status = Command::new("cp").arg("-a").arg(archive).arg(dest).status().unwrap();
    assert!(status.success(), "cp -a {} {}", archive.display(), dest.display());
    fs::remove_file(dest.join(".complete")).unwrap();
    for s in sidecars {
        fs::write(dest.join(s), EMPTY_XMP).unwrap();
    }
    sync();
}

/// Run to completion with the output discarded: wall time, and the time including a `sync`.
fn timed(cmd: &mut Command, ok: impl Fn(Option<i32>) -> bool) -> (f64, f64) {
    let t = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let secs = t.elapsed().as_secs_f64();
    assert!(ok(status.code()), "{cmd:?}: {status}");
    sync();
    (secs, t.elapsed().as_secs_f64())
}

fn consentry(args: &[&str], dir: &Path, register: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_consentry"));
    c.args(args).arg(dir).arg("--register").arg(register).args(["--as-of", AS_OF, "--quiet", "--format", "jsonl"]);
    c.env_remove("CONSENTRY_REGISTER");
    c
}

/// consentry's exit codes: 0, or 1-3 for findings and partial results; not 4 or a signal.
fn consentry_ok(code: Option<i32>) -> bool {
    code.is_some_and(|c| c <= 3)
}

/// How many of `targets` (relative paths) differ between `a` and `b`.
fn changed(a: &Path, b: &Path, targets: &[PathBuf]) -> usize {
    targets.iter().filter(|t| fs::read(a.join(t)).ok() != fs::read(b.join(t)).ok()).count()
}

/// The targets a tool left as prepared (the archive's version, or the empty packet of a
/// pre-created sidecar), counted by extension.
fn unwritten(archive: &Path, copy: &Path, targets: &[&PathBuf]) -> (usize, String) {
    let mut by_ext = std::collections::BTreeMap::<String, usize>::new();
    for t in targets {
        let before = fs::read(archive.join(t)).unwrap_or_else(|_| EMPTY_XMP.as_bytes().to_vec());
        if fs::read(copy.join(t)).unwrap() == before {
            *by_ext.entry(t.extension().map_or(String::new(), |e| e.to_string_lossy().to_lowercase())).or_default() +=
                1;
        }
    }
    let total = by_ext.values().sum();
    (total, by_ext.iter().map(|(e, k)| format!("{k} {e}")).collect::<Vec<_>>().join(", "))
}

fn line(name: &str, files: usize, secs: f64) {
    println!("{name:<58} {secs:>8.2} s {:>9.0} files/s", files as f64 / secs);
}

fn best(runs: &[(f64, f64)]) -> (f64, f64) {
    let min = |f: fn(&(f64, f64)) -> f64| runs.iter().map(f).fold(f64::INFINITY, f64::min);
    (min(|r| r.0), min(|r| r.1))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the test list
    }
    let files: usize = std::env::var("CONSENTRY_BENCH_APPLY_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (archive, _) = common::bench_archive(files, 0);
    let work = tmp.join("bench-apply");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let register = work.join("register.csv");
    write_register(&register);

    // What consentry writes: the file itself or its sidecar (existing or new), from a dry run.
    let out = consentry(&["apply", "--dry-run"], &archive, &register).output().unwrap();
    assert!(consentry_ok(out.status.code()), "apply --dry-run: {}", String::from_utf8_lossy(&out.stderr));
    let mut targets: Vec<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["target"].as_str().map(|t| Path::new(t).strip_prefix(&archive).unwrap().to_path_buf())
        })
        .collect();
    targets.sort();
    let n = targets.len();
    let new_sidecars: Vec<&PathBuf> = targets.iter().filter(|t| !archive.join(t).exists()).collect();
    let sidecars = targets.iter().filter(|t| t.extension().is_some_and(|e| e == "xmp")).count();
    println!(
        "archive: {files} media files; apply writes {n}: {} embedded, {sidecars} sidecars ({} of them new); \
         {cores} cores",
        n - sidecars,
        new_sidecars.len()
    );
    println!(
        "every writing run on a fresh copy, synced before the run (copying not timed); exiv2 and exiftool get the \
         same files, the new sidecars pre-created empty"
    );

    // exiv2: one command file, the files (relative to the copy) NUL-separated for xargs.
    let exiv2 = have("exiv2");
    let mut list = Vec::new();
    for t in &targets {
        list.extend_from_slice(t.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    fs::write(work.join("targets.list"), list).unwrap();
    fs::write(
        work.join("exiv2.cmd"),
        format!(
            "reg consentry {NS}\nset Xmp.consentry.Status XmpText green\nset Xmp.consentry.Usage XmpBag print\n\
             set Xmp.consentry.Usage XmpBag web\nset Xmp.consentry.ConsentIDs XmpBag c1\n\
             set Xmp.consentry.ConsentIDs XmpBag c2\nset Xmp.consentry.EvaluatedAt XmpText {AS_OF}\n\
             set Xmp.consentry.RegisterDigest XmpText {DIGEST}\nset Xmp.lr.hierarchicalSubject XmpBag Consent|print\n"
        ),
    )
    .unwrap();
    let exiv2_script =
        format!("xargs -0 -a '{w}/targets.list' -P{cores} -n 64 exiv2 -m '{w}/exiv2.cmd'", w = work.display());

    // exiftool: every 10th file, one list per process.
    let exiftool = have("exiftool");
    fs::write(work.join("exiftool.config"), EXIFTOOL_CONFIG).unwrap();
    let subset: Vec<&PathBuf> = targets.iter().step_by(10).collect();
    let tags = [
        "-XMP-consentry:Status=green".to_string(),
        "-XMP-consentry:Usage=print".into(),
        "-XMP-consentry:Usage=web".into(),
        "-XMP-consentry:ConsentIDs=c1".into(),
        "-XMP-consentry:ConsentIDs=c2".into(),
        format!("-XMP-consentry:EvaluatedAt={AS_OF}"),
        format!("-XMP-consentry:RegisterDigest={DIGEST}"),
        "-XMP-lr:HierarchicalSubject+=Consent|print".into(),
    ]
    .map(|t| format!("'{t}'"))
    .join(" ");
    let mut exiftool_script = String::new();
    for k in 0..cores {
        let names: String = subset.iter().skip(k).step_by(cores).map(|t| format!("{}\n", t.display())).collect();
        fs::write(work.join(format!("exiftool-{k}.list")), names).unwrap();
        write!(
            exiftool_script,
            "exiftool -config '{w}/exiftool.config' -q -q -overwrite_original {tags} -@ '{w}/exiftool-{k}.list' & ",
            w = work.display()
        )
        .unwrap();
    }
    exiftool_script.push_str("wait");

    // The runs, interleaved (this VM's disk speed drifts), each on a copy of its own: a copy is
    // removed only at the end, since ext4 allocates inodes slowly right after many were freed.
    let copies = work.join("copies");
    fs::create_dir_all(&copies).unwrap();
    let mut count = 0;
    let mut next_copy = |sidecars: &[&PathBuf]| {
        count += 1;
        let c = copies.join(count.to_string());
        fresh_copy(&archive, &c, sidecars);
        c
    };
    let in_dir = |script: &str, dir: &Path| {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script).current_dir(dir);
        c
    };
    let (mut ours, mut exiv2_runs, mut exiftool_runs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut exiv2_left, mut exiftool_left) = (None, None);
    let mut applied = PathBuf::new();
    for round in 0..5 {
        applied = next_copy(&[]);
        ours.push(timed(&mut consentry(&["apply"], &applied, &register), consentry_ok));
        let written = changed(&archive, &applied, &targets);
        assert_eq!(written, n, "consentry apply wrote {written} of {n} files");
        if exiv2 && round < 3 {
            let c = next_copy(&new_sidecars);
            // exiv2 exits non-zero when it cannot write some of the files.
            exiv2_runs.push(timed(&mut in_dir(&exiv2_script, &c), |code| code.is_some()));
            exiv2_left.get_or_insert_with(|| unwritten(&archive, &c, &targets.iter().collect::<Vec<_>>()));
        }
        if exiftool && round < 2 {
            let c = next_copy(&new_sidecars);
            exiftool_runs.push(timed(&mut in_dir(&exiftool_script, &c), |code| code.is_some()));
            exiftool_left.get_or_insert_with(|| unwritten(&archive, &c, &subset));
        }
    }

    // The last applied copy: a second apply and a scan, interleaved, best of 5.
    let (mut again, mut scans) = (Vec::new(), Vec::new());
    // The scan reads every file as `apply` does (no state).
    timed(&mut consentry(&["scan", "--no-state"], &applied, &register), consentry_ok); // warm the cache
    for _ in 0..5 {
        again.push(timed(&mut consentry(&["apply"], &applied, &register), consentry_ok));
        scans.push(timed(&mut consentry(&["scan", "--no-state"], &applied, &register), consentry_ok));
    }
    assert_eq!(changed(&archive, &applied, &targets), n, "the second apply changed files back");

    let (apply_secs, apply_synced) = best(&ours);
    line("consentry apply, first run (best of 5)", n, apply_secs);
    line("  the same, with a sync at the end", n, apply_synced);
    let exiv2_secs = exiv2.then(|| {
        let (secs, synced) = best(&exiv2_runs);
        line(&format!("exiv2 -m (xargs -P{cores} -n 64), best of 3"), n, secs);
        line("  the same, with a sync at the end", n, synced);
        if let Some((left, which)) = exiv2_left.as_ref().filter(|l| l.0 > 0) {
            println!("  (exiv2 wrote {} of the {n} files; it left {which} unchanged)", n - left);
        }
        (secs, synced)
    });
    if !exiv2 {
        println!("exiv2: not installed, skipped");
    }
    let exiftool_secs = exiftool.then(|| {
        let scale = n as f64 / subset.len() as f64;
        let (secs, synced) = best(&exiftool_runs);
        let (secs, synced) = (secs * scale, synced * scale);
        let name = format!("exiftool ({cores} processes), {} files scaled to {n}, best of 2", subset.len());
        line(&name, n, secs);
        line("  the same, with a sync at the end", n, synced);
        if let Some((left, which)) = exiftool_left.as_ref().filter(|l| l.0 > 0) {
            println!(
                "  (exiftool wrote {} of the {} files; it left {which} unchanged)",
                subset.len() - left,
                subset.len()
            );
        }
        (secs, synced)
    });
    if !exiftool {
        println!("exiftool: not installed, skipped");
    }
    let (again_secs, _) = best(&again);
    let (scan_secs, _) = best(&scans);
    line("consentry apply, second run: nothing to write (best of 5)", n, again_secs);
    line("consentry scan with the same register (best of 5)", n, scan_secs);
    println!();
    if let Some((secs, synced)) = exiv2_secs {
        println!(
            "consentry vs exiv2: {:.2}x the files per second; {:.2}x with a sync at the end of each \
             (target: above 1x)",
            secs / apply_secs,
            synced / apply_synced
        );
    }
    if let Some((secs, synced)) = exiftool_secs {
        println!(
            "consentry vs exiftool: {:.1}x the files per second; {:.1}x with a sync at the end of each",
            secs / apply_secs,
            synced / apply_synced
        );
    }
    println!("no-change apply vs scan: {:.2}x the time (target: close to 1x)", again_secs / scan_secs);
    println!(
        "(consentry writes a copy, flushes it (fsync) and renames it over the file, then flushes the directory; \
         exiv2 rewrites the file in place (truncate, write) and exiftool renames a temporary copy over it, \
         neither flushes)"
    );
    let _ = fs::remove_dir_all(&copies);
}
