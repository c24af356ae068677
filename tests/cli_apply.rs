//! End-to-end tests of `consentry apply` (SPEC.md 5): the real binary on copies of the fixture
//! archive (and of `../shared/realworld` when present). What is checked: every media file is
//! written once and a second run writes nothing; persons and evaluations read the same after
//! writing; pixel and media data stay byte-identical; exiftool reads back what `scan` reports and
//! validates the files as before; `--dry-run`, `--sidecar always`, read-only files, permissions,
//! hard and symbolic links, and copies left by killed runs.

#![cfg(unix)]

mod support;

use support::{exiftool_available, repo};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

const AS_OF: &str = "2026-11-22";

/// File name extensions of the formats written into the file itself.
const MEDIA_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "tif", "tiff", "dng", "psd", "mp4", "mov"];

fn extension(path: &str) -> String {
    path.rsplit('.').next().unwrap_or_default().to_ascii_lowercase()
}

/// The formats consentry writes into the file itself (scan's `format` field).
const EMBEDDED: &[&str] = &["jpeg", "png", "tiff", "dng", "psd", "mp4", "mov"];

/// A private copy of the fixture archive with its register beside it (`tmp/archive`,
/// `tmp/register`), as `consentry.toml` expects.
struct Archive {
    tmp: tempfile::TempDir,
    root: PathBuf,
    register: PathBuf,
}

impl Archive {
    fn new() -> Archive {
        Archive::in_tmp(tempfile::tempdir().unwrap())
    }

    fn in_tmp(tmp: tempfile::TempDir) -> Archive {
        let (root, register) = support::copy_fixtures(tmp.path());
        Archive { tmp, root, register }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The path relative to the archive root, as the key of every map here.
    fn rel(&self, path: &str) -> String {
        Path::new(path)
            .strip_prefix(&self.root)
            .unwrap_or_else(|_| panic!("{path} is not under {}", self.root.display()))
            .to_string_lossy()
            .into_owned()
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply", self.root.to_str().unwrap()];
        args.extend(["--register", self.register.to_str().unwrap(), "--as-of", AS_OF, "--format", "jsonl"]);
        args.extend(extra);
        run(&args, self.tmp.path())
    }

    /// `consentry scan` of the archive with the register: path (relative) -> record.
    fn scan(&self) -> BTreeMap<String, Value> {
        let out = run(
            &[
                "scan",
                self.root.to_str().unwrap(),
                "--register",
                self.register.to_str().unwrap(),
                "--as-of",
                AS_OF,
                "--format",
                "jsonl",
                "--quiet",
            ],
            self.tmp.path(),
        );
        assert_eq!(out.status.code(), Some(0), "scan: {}", stderr(&out));
        jsonl(&out).into_iter().map(|r| (self.rel(r["path"].as_str().unwrap()), r)).collect()
    }

    /// The media files of a scan (no orphan sidecars): path -> record.
    fn media(&self) -> BTreeMap<String, Value> {
        self.scan().into_iter().filter(|(_, r)| r["kind"] != "orphan-sidecar").collect()
    }

    /// The rows of an `apply` output by relative path; a path given twice fails the test.
    fn rows(&self, out: &Output) -> BTreeMap<String, Value> {
        let mut rows = BTreeMap::new();
        for r in jsonl(out) {
            for field in ["path", "target", "action", "detail"] {
                assert!(r.get(field).is_some(), "row without {field}: {r}");
            }
            let rel = self.rel(r["path"].as_str().unwrap());
            assert!(rows.insert(rel.clone(), r).is_none(), "two rows for {rel}: {}", stdout(out));
        }
        rows
    }
}

fn command(args: &[&str], dir: &Path) -> Command {
    let mut c = support::consentry();
    c.args(args).current_dir(dir).env_remove("CONSENTRY_REGISTER");
    c
}

fn run(args: &[&str], dir: &Path) -> Output {
    command(args, dir).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Everything about a file that a write would change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    bytes: Vec<u8>,
    mtime: (i64, i64),
    ino: u64,
    mode: u32,
}

/// Every file under `dir` (relative path -> state).
fn snapshot(dir: &Path) -> BTreeMap<String, FileState> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, FileState>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                walk(base, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
                let bytes = if m.is_file() { fs::read(e.path()).unwrap() } else { Vec::new() };
                out.insert(rel, FileState { bytes, mtime: (m.mtime(), m.mtime_nsec()), ino: m.ino(), mode: m.mode() });
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The files that differ between two snapshots, and how.
fn changes(before: &BTreeMap<String, FileState>, after: &BTreeMap<String, FileState>) -> Vec<String> {
    let mut d = Vec::new();
    for (p, a) in before {
        match after.get(p) {
            None => d.push(format!("{p}: removed")),
            Some(b) if a.bytes != b.bytes => d.push(format!("{p}: content changed")),
            Some(b) if a != b => d.push(format!("{p}: modification time, inode or mode changed")),
            Some(_) => {}
        }
    }
    d.extend(after.keys().filter(|p| !before.contains_key(*p)).map(|p| format!("{p}: created")));
    d
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::String(s) => vec![s.clone()],
        // exiftool prints number-like values (consent ids 7.1) as JSON numbers.
        other => vec![other.to_string()],
    }
}

fn missing_names(record: &Value) -> Vec<String> {
    record["missing"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect()
}

/// The sidecar `apply` writes for a media file: its first sidecar but a `name.xmp` another media
/// file beside it shares (the fixtures' `DSC_0001.xmp` of `DSC_0001.NEF` and `DSC_0001.JPG`),
/// else `name.ext.xmp`.
fn sidecar_of(a: &Archive, rel: &str, record: &Value) -> PathBuf {
    let shared = |s: &str| s.ends_with("/DSC_0001.xmp");
    match record["sidecars"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).find(|s| !shared(s)) {
        Some(s) => PathBuf::from(s),
        None => a.path(&format!("{rel}.xmp")),
    }
}

// ---------------------------------------------------------------------------------------------
// Media data of each format.

const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// The parts of a file that `apply` must not change, by the file's content.
#[derive(Debug, PartialEq, Eq)]
enum MediaData {
    /// Every segment before the scan except the standard XMP APP1 (marker, payload), and every
    /// byte from the first SOS marker to the end.
    Jpeg { segments: Vec<(u8, Vec<u8>)>, app1_other: usize, scan: Vec<u8> },
    /// The IDAT data concatenated, and every chunk but the XMP iTXt, in order.
    Png { idat: Vec<u8>, chunks: Vec<([u8; 4], Vec<u8>)> },
    /// The strips or tiles referenced from IFD0.
    Tiff { strips: Vec<Vec<u8>> },
    /// Header and colour mode section; the image resources but XMP (0x0424); everything after the
    /// image resources section (layers and image data).
    Psd { head: Vec<u8>, resources: Vec<(u16, Vec<u8>)>, rest: Vec<u8> },
    /// The payload of every `mdat` box.
    Mp4 { mdat: Vec<Vec<u8>> },
}

fn be16(b: &[u8], at: usize) -> usize {
    u16::from_be_bytes([b[at], b[at + 1]]) as usize
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn media_data(b: &[u8]) -> Option<MediaData> {
    if b.starts_with(&[0xFF, 0xD8]) {
        Some(jpeg_data(b))
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(png_data(b))
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        Some(MediaData::Tiff { strips: tiff_strips(b) })
    } else if b.starts_with(b"8BPS") {
        Some(psd_data(b))
    } else if b.len() > 8 && &b[4..8] == b"ftyp" {
        Some(MediaData::Mp4 { mdat: mp4_mdat(b) })
    } else {
        None
    }
}

fn jpeg_data(b: &[u8]) -> MediaData {
    let (mut pos, mut segments, mut app1_other) = (2, Vec::new(), 0);
    loop {
        assert_eq!(b[pos], 0xFF, "JPEG marker expected at byte {pos}");
        let marker = b[pos + 1];
        match marker {
            0xFF => pos += 1,
            0xDA | 0xD9 => return MediaData::Jpeg { segments, app1_other, scan: b[pos..].to_vec() },
            0xD0..=0xD7 | 0x01 => {
                segments.push((marker, Vec::new()));
                pos += 2;
            }
            _ => {
                let len = be16(b, pos + 2);
                let payload = &b[pos + 4..pos + 2 + len];
                if !(marker == 0xE1 && payload.starts_with(XMP_SIG)) {
                    app1_other += usize::from(marker == 0xE1);
                    segments.push((marker, payload.to_vec()));
                }
                pos += 2 + len;
            }
        }
    }
}

fn png_data(b: &[u8]) -> MediaData {
    let (mut pos, mut idat, mut chunks) = (8, Vec::new(), Vec::new());
    while pos + 12 <= b.len() {
        let len = be32(b, pos);
        let kind: [u8; 4] = b[pos + 4..pos + 8].try_into().unwrap();
        let data = &b[pos + 8..pos + 8 + len];
        if &kind == b"IDAT" {
            idat.extend_from_slice(data);
        }
        if !(&kind == b"iTXt" && data.starts_with(b"XML:com.adobe.xmp\0")) {
            chunks.push((kind, b[pos + 8..pos + 12 + len].to_vec())); // data and CRC
        }
        pos += 12 + len;
        if &kind == b"IEND" {
            break;
        }
    }
    MediaData::Png { idat, chunks }
}

/// The strips (or tiles) of a classic TIFF's IFD0.
fn tiff_strips(b: &[u8]) -> Vec<Vec<u8>> {
    let le = b[0] == b'I';
    let u16_at = |at: usize| {
        let a = [b[at], b[at + 1]];
        (if le { u16::from_le_bytes(a) } else { u16::from_be_bytes(a) }) as usize
    };
    let u32_at = |at: usize| {
        let a: [u8; 4] = b[at..at + 4].try_into().unwrap();
        (if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }) as usize
    };
    assert_eq!(u16_at(2), 42, "classic TIFF expected");
    let ifd = u32_at(4);
    let mut tags = BTreeMap::new();
    for i in 0..u16_at(ifd) {
        let e = ifd + 2 + 12 * i;
        let (tag, typ, count) = (u16_at(e), u16_at(e + 2), u32_at(e + 4));
        if ![273, 279, 324, 325].contains(&tag) {
            continue;
        }
        assert!(typ == 3 || typ == 4, "strip offsets/counts of type {typ}");
        let size = if typ == 3 { 2 } else { 4 };
        let at = if size * count <= 4 { e + 8 } else { u32_at(e + 8) };
        let values: Vec<usize> =
            (0..count).map(|k| if typ == 3 { u16_at(at + 2 * k) } else { u32_at(at + 4 * k) }).collect();
        tags.insert(tag, values);
    }
    let (offsets, counts) = match (tags.get(&273), tags.get(&279)) {
        (Some(o), Some(c)) => (o, c),
        _ => (&tags[&324], &tags[&325]),
    };
    assert_eq!(offsets.len(), counts.len());
    let strips: Vec<Vec<u8>> = offsets.iter().zip(counts).map(|(&o, &n)| b[o..o + n].to_vec()).collect();
    assert!(strips.iter().map(Vec::len).sum::<usize>() > 0, "TIFF without image data");
    strips
}

fn psd_data(b: &[u8]) -> MediaData {
    let res_at = 26 + 4 + be32(b, 26);
    let res_len = be32(b, res_at);
    let (mut i, end, mut resources) = (res_at + 4, res_at + 4 + res_len, Vec::new());
    while i < end {
        assert_eq!(&b[i..i + 4], b"8BIM");
        let id = be16(b, i + 4) as u16;
        let name_total = (1 + b[i + 6] as usize + 1) & !1;
        let size_at = i + 6 + name_total;
        let size = be32(b, size_at);
        if id != 0x0424 {
            resources.push((id, b[i + 6..size_at + 4 + size].to_vec()));
        }
        i = size_at + 4 + ((size + 1) & !1);
    }
    MediaData::Psd { head: b[..res_at].to_vec(), resources, rest: b[end..].to_vec() }
}

fn mp4_mdat(b: &[u8]) -> Vec<Vec<u8>> {
    let (mut pos, mut mdat) = (0, Vec::new());
    while pos + 8 <= b.len() {
        let (mut size, mut header) = (be32(b, pos), 8);
        if size == 1 {
            size = u64::from_be_bytes(b[pos + 8..pos + 16].try_into().unwrap()) as usize;
            header = 16;
        } else if size == 0 {
            size = b.len() - pos;
        }
        assert!(size >= header && pos + size <= b.len(), "bad box at byte {pos}");
        if &b[pos + 4..pos + 8] == b"mdat" {
            mdat.push(b[pos + header..pos + size].to_vec());
        }
        pos += size;
    }
    assert!(!mdat.is_empty(), "no mdat box");
    mdat
}

/// Pixels as the `image` crate decodes them, when it can.
fn pixels(bytes: &[u8]) -> Option<Vec<u8>> {
    let reader = if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Tiff)
    } else {
        image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().ok()?
    };
    reader.decode().ok().map(|i| i.into_bytes())
}

/// Checks that `after` keeps the media data of `before`; the name of the format checked.
fn assert_same_media(name: &str, before: &[u8], after: &[u8]) -> &'static str {
    let old = media_data(before).unwrap_or_else(|| panic!("{name}: not a format this test knows"));
    let new = media_data(after).unwrap_or_else(|| panic!("{name}: no longer a file of its format"));
    let kind = match &old {
        MediaData::Jpeg { .. } => "jpeg",
        MediaData::Png { .. } => "png",
        MediaData::Tiff { .. } => "tiff",
        MediaData::Psd { .. } => "psd",
        MediaData::Mp4 { .. } => "mp4",
    };
    match (&old, &new) {
        (
            MediaData::Jpeg { segments: s0, app1_other: a0, scan: d0 },
            MediaData::Jpeg { segments: s1, app1_other: a1, scan: d1 },
        ) => {
            assert!(d0 == d1, "{name}: the JPEG data from SOS on changed");
            let non_app1 = |s: &[(u8, Vec<u8>)]| s.iter().filter(|x| x.0 != 0xE1).cloned().collect::<Vec<_>>();
            assert!(non_app1(s0) == non_app1(s1), "{name}: a non-APP1 segment changed");
            assert_eq!(a0, a1, "{name}: number of EXIF/extended-XMP APP1 segments");
            assert!(s0 == s1, "{name}: an EXIF or extended-XMP APP1 segment changed");
        }
        (MediaData::Png { idat: i0, chunks: c0 }, MediaData::Png { idat: i1, chunks: c1 }) => {
            assert!(!i0.is_empty());
            assert!(i0 == i1, "{name}: the IDAT data changed");
            let kinds = |c: &[([u8; 4], Vec<u8>)]| {
                c.iter().map(|x| String::from_utf8_lossy(&x.0).into_owned()).collect::<Vec<_>>()
            };
            assert_eq!(kinds(c0), kinds(c1), "{name}: chunks other than XMP");
            assert!(c0 == c1, "{name}: a chunk other than XMP changed");
        }
        (MediaData::Tiff { strips: s0 }, MediaData::Tiff { strips: s1 }) => {
            assert!(s0 == s1, "{name}: the strips/tiles of IFD0 changed");
            if let Some(p0) = pixels(before) {
                let p1 = pixels(after).unwrap_or_else(|| panic!("{name}: no longer decodes"));
                assert!(p0 == p1, "{name}: decoded pixels changed");
            }
        }
        (
            MediaData::Psd { head: h0, resources: r0, rest: t0 },
            MediaData::Psd { head: h1, resources: r1, rest: t1 },
        ) => {
            assert!(h0 == h1, "{name}: PSD header or colour mode section changed");
            assert!(r0 == r1, "{name}: an image resource other than XMP changed");
            assert!(!t0.is_empty());
            assert!(t0 == t1, "{name}: the layer and image data sections changed");
        }
        (MediaData::Mp4 { mdat: m0 }, MediaData::Mp4 { mdat: m1 }) => {
            assert!(m0 == m1, "{name}: the mdat payload changed");
        }
        _ => panic!("{name}: changed format"),
    }
    kind
}

// ---------------------------------------------------------------------------------------------
// exiftool

/// `exiftool -j ARGS FILES`: SourceFile -> tags.
fn exiftool_json(args: &[&str], files: &[PathBuf]) -> BTreeMap<String, Value> {
    let out = Command::new("exiftool").arg("-j").args(args).args(files).output().unwrap();
    assert!(out.status.success() || !out.stdout.is_empty(), "exiftool: {}", stderr(&out));
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter().map(|r| (r["SourceFile"].as_str().unwrap().to_string(), r)).collect()
}

/// The `Validate` and `Warning` lines exiftool prints for each file (file name -> lines).
fn exiftool_validate(files: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("exiftool").args(["-validate", "-warning", "-a"]).args(files).output().unwrap();
    let text = stdout(&out);
    let mut by_file = BTreeMap::new();
    if files.len() == 1 {
        let lines = text.lines().filter(|l| l.starts_with("Validate") || l.starts_with("Warning"));
        by_file.insert(files[0].to_string_lossy().into_owned(), lines.map(str::to_string).collect());
        return by_file;
    }
    let mut current = None;
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("======== ") {
            current = Some(f.to_string());
            by_file.insert(f.to_string(), Vec::new());
        } else if line.starts_with("Validate") || line.starts_with("Warning") {
            by_file.get_mut(current.as_ref().expect("a file header first")).unwrap().push(line.to_string());
        }
    }
    by_file
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn first_apply_writes_every_media_file_and_a_second_writes_nothing() {
    let a = Archive::new();
    let media = a.media();
    assert_eq!(media.len(), 30, "{:?}", media.keys());
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    assert_eq!(rows.keys().collect::<Vec<_>>(), media.keys().collect::<Vec<_>>(), "one row per media file");
    for (rel, row) in &rows {
        let rec = &media[rel];
        assert_eq!(row["action"], "written", "{rel}: {row}");
        let status = rec["status"].as_str().unwrap();
        let detail = row["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("status: - -> {status}")), "{rel}: {detail}");
        let target = PathBuf::from(row["target"].as_str().unwrap());
        if EMBEDDED.contains(&rec["format"].as_str().unwrap()) {
            assert_eq!(target, a.path(rel), "{rel} is written into the file");
        } else {
            assert_eq!(target, sidecar_of(&a, rel, rec), "{rel} is written into its sidecar");
        }
        let text = fs::read(&target).unwrap();
        assert!(contains_bytes(&text, b"consentry"), "{rel}: {} holds no consentry field", target.display());
    }
    assert!(stderr(&out).contains("wrote 30,"), "{}", stderr(&out));

    let before = snapshot(a.tmp.path());
    std::thread::sleep(Duration::from_millis(50));
    let again = a.apply(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(stdout(&again), "", "a second apply has nothing to report");
    let err = stderr(&again);
    assert!(err.contains("wrote 0,") && err.contains("30 unchanged"), "{err}");
    let changed = changes(&before, &snapshot(a.tmp.path()));
    assert!(changed.is_empty(), "a second apply touched files: {changed:#?}");
}

#[test]
fn persons_dates_and_evaluations_read_the_same_after_apply() {
    let a = Archive::new();
    let before = a.scan();
    let out = a.apply(&["--plus"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(a.rows(&out).len(), 30);
    let after = a.scan();
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "the same records");
    let fields = [
        "kind",
        "format",
        "persons",
        "unnamed_faces",
        "taken",
        "error",
        "status",
        "usage",
        "missing",
        "consents",
        "valid_until",
    ];
    let mut diffs = Vec::new();
    for (path, b) in &before {
        for f in fields {
            if b.get(f) != after[path].get(f) {
                diffs.push(format!("{path}: {f} was {} and is {}", b[f], after[path][f]));
            }
        }
    }
    assert!(diffs.is_empty(), "{diffs:#?}");
    // The test reads something: persons, unnamed faces and dates are there to compare.
    assert_eq!(before["2023/summer-fest/IMG_1001.jpg"]["persons"], json!(["Anna Schmidt", "Jonas Weber"]));
    assert_eq!(before["2023/summer-fest/IMG_1004.jpg"]["unnamed_faces"], 2);
    assert_eq!(before["video/clip.mp4"]["taken"], "2024-03-10T12:00:00Z");
}

#[test]
fn media_data_stays_byte_identical() {
    let a = Archive::new();
    let originals = snapshot(&a.root);
    let out = a.apply(&["--plus"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = snapshot(&a.root);
    let mut checked = BTreeMap::new();
    for (rel, old) in &originals {
        if !MEDIA_EXTENSIONS.contains(&extension(rel).as_str()) {
            continue;
        }
        let new = &after[rel];
        assert!(old.bytes != new.bytes, "{rel} was not written, so this test checks nothing");
        let kind = assert_same_media(rel, &old.bytes, &new.bytes);
        checked.entry(kind).or_insert_with(Vec::new).push(rel.clone());
    }
    // Every format and every such fixture file: 10 JPEG, 3 PNG (one named .jpg), 2 TIFF (one
    // DNG), 1 PSD, 3 MP4/MOV.
    let count = |k: &str| checked.get(k).map_or(0, Vec::len);
    assert_eq!(
        (count("jpeg"), count("png"), count("tiff"), count("psd"), count("mp4")),
        (10, 3, 2, 1, 3),
        "{checked:#?}"
    );
    // The .tif is decoded by the image crate: the check above compared pixels too.
    assert!(pixels(&originals["2023/summer-fest/backstage/lightroom.tif"].bytes).is_some());
}

#[test]
fn exiftool_reads_back_what_scan_reports_and_validates_as_before() {
    if !exiftool_available() {
        return;
    }
    let a = Archive::new();
    let pristine = a.tmp.path().join("pristine");
    support::copy_dir(&a.root, &pristine);
    let media = a.media();
    // The keywords of every file and sidecar before apply.
    let existing: Vec<PathBuf> = snapshot(&a.root).keys().map(|p| a.path(p)).collect();
    let keywords_before = exiftool_json(&["-struct", "-XMP-lr:HierarchicalSubject"], &existing);

    let out = a.apply(&["--plus"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    assert_eq!(rows.len(), media.len());
    let targets: Vec<PathBuf> = media.keys().map(|p| PathBuf::from(rows[p]["target"].as_str().unwrap())).collect();
    let read =
        exiftool_json(&["-struct", "-XMP-consentry:all", "-XMP-lr:HierarchicalSubject", "-XMP-plus:all"], &targets);
    let codes = exiftool_json(&["-n", "-XMP-plus:ModelReleaseStatus"], &targets);
    // Every usage area: what a file without persons may be used for.
    let all_areas = strings(&media["2023/summer-fest/crowd.gif"]["usage"]);
    assert!(all_areas.len() >= 5, "{all_areas:?}");

    let mut digests = BTreeSet::new();
    let mut mismatches = Vec::new();
    for ((rel, rec), target) in media.iter().zip(&targets) {
        let key = target.to_string_lossy().into_owned();
        let x = read.get(&key).unwrap_or_else(|| panic!("exiftool did not read {key}"));
        let mut check = |what: &str, got: Value, want: Value| {
            if got != want {
                mismatches.push(format!("{rel}: {what}: exiftool reads {got}, scan reports {want}"));
            }
        };
        check("Status", x["Status"].clone(), rec["status"].clone());
        check("Usage", json!(strings(&x["Usage"])), json!(strings(&rec["usage"])));
        check("ConsentIDs", json!(strings(&x["ConsentIDs"])), json!(strings(&rec["consents"])));
        check("ValidUntil", x.get("ValidUntil").cloned().unwrap_or(Value::Null), rec["valid_until"].clone());
        check("Missing", json!(strings(&x["Missing"])), json!(missing_names(rec)));
        check("EvaluatedAt", x["EvaluatedAt"].clone(), json!(AS_OF));
        digests.insert(x["RegisterDigest"].as_str().unwrap_or_default().to_string());
        // The mirror: Consent|<usage> for every usage area, then Consent|Status|<status>, after
        // the user's own keywords.
        let usage = strings(&rec["usage"]);
        let subjects = strings(&x["HierarchicalSubject"]);
        let mirror: Vec<String> = subjects.iter().filter(|s| s.starts_with("Consent|")).cloned().collect();
        check(
            "Consent| keywords",
            json!(mirror),
            json!(usage
                .iter()
                .map(|u| format!("Consent|{u}"))
                .chain([format!("Consent|Status|{}", rec["status"].as_str().unwrap())])
                .collect::<Vec<_>>()),
        );
        let own: Vec<String> = subjects.iter().filter(|s| !s.starts_with("Consent|")).cloned().collect();
        let own_before = keywords_before.get(&key).map(|k| strings(&k["HierarchicalSubject"])).unwrap_or_default();
        check("own keywords", json!(own), json!(own_before));
        // PLUS: the release status and ids.
        let status = rec["status"].as_str().unwrap();
        let code = match status {
            "none" | "exempt" => "MR-NAP",
            "red" => "MR-NON",
            "green" if all_areas.iter().all(|u| usage.contains(u)) => "MR-UMR",
            _ => "MR-LMR",
        };
        check("ModelReleaseStatus", codes[&key]["ModelReleaseStatus"].clone(), json!(code));
        check("ModelReleaseID", json!(strings(&x["ModelReleaseID"])), json!(strings(&rec["consents"])));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(digests.len(), 1, "one register digest: {digests:?}");
    assert!(digests.iter().all(|d| d.len() >= 16), "{digests:?}");

    // The user's own keywords of lightroom.tif, in their order, then consentry's.
    let tif = a.path("2023/summer-fest/backstage/lightroom.tif");
    let subjects = strings(&read[&tif.to_string_lossy().into_owned()]["HierarchicalSubject"]);
    assert_eq!(
        subjects,
        [
            "People|Ben Koch",
            "PERSONS|Zoe\u{308} Adams", // decomposed, as in the fixture
            "Events|Backstage",
            "People|Family|Oma Erna",
            "Consent|print",
            "Consent|web",
            "Consent|archive",
            "Consent|Status|green"
        ]
    );
    let notes = &read[&a.path("2023/summer-fest/IMG_1001.jpg").to_string_lossy().into_owned()]["Notes"];
    let notes = notes.as_str().unwrap_or_default();
    assert!(notes.contains("nur Vereinsmedien") && notes.contains("© Verein 2023"), "Notes: {notes:?}");

    // exiftool -validate: the same verdict and warnings before and after, for every format.
    let rels: Vec<&String> =
        media.iter().filter(|(_, r)| EMBEDDED.contains(&r["format"].as_str().unwrap())).map(|(p, _)| p).collect();
    assert_eq!(rels.len(), 19);
    let old = exiftool_validate(&rels.iter().map(|p| pristine.join(p)).collect::<Vec<_>>());
    let new = exiftool_validate(&rels.iter().map(|p| a.path(p)).collect::<Vec<_>>());
    let mut differ = Vec::new();
    for rel in &rels {
        let o = &old[&pristine.join(rel).to_string_lossy().into_owned()];
        let n = &new[&a.path(rel).to_string_lossy().into_owned()];
        assert!(!o.is_empty(), "{rel}: exiftool printed no Validate line");
        if o != n {
            differ.push(format!("{rel}:\n  before: {o:?}\n  after:  {n:?}"));
        }
    }
    assert!(differ.is_empty(), "exiftool -validate differs:\n{}", differ.join("\n"));
}

#[test]
fn a_later_evaluation_replaces_the_stale_result() {
    let a = Archive::new();
    assert_eq!(a.apply(&["--plus"]).status.code(), Some(0));
    // On 2100-01-01 the consents valid until 2099 have expired.
    let mut args = vec!["apply", a.root.to_str().unwrap(), "--register", a.register.to_str().unwrap()];
    args.extend(["--as-of", "2100-01-01", "--format", "jsonl", "--plus"]);
    let out = run(&args, a.tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    for (rel, change) in [
        ("2023/summer-fest/IMG_1001.jpg", "status: green -> yellow"),
        ("2023/summer-fest/backstage/lightroom.tif", "status: green -> red"),
        ("2023/summer-fest/stage.webp", "status: green -> yellow"),
        ("video/interview.MOV", "status: green -> red"),
    ] {
        assert_eq!(rows[rel]["action"], "written", "{rel}");
        assert!(rows[rel]["detail"].as_str().unwrap().contains(change), "{rel}: {}", rows[rel]);
    }
    let targets = ["2023/summer-fest/IMG_1001.jpg", "2023/summer-fest/backstage/lightroom.tif", "video/interview.MOV"];
    for rel in targets {
        let bytes = fs::read(a.path(rel)).unwrap();
        assert!(!contains_bytes(&bytes, b"Consent|Status|green"), "{rel} keeps a stale status keyword");
        for usage in ["print", "web", "archive"] {
            let stale = format!("Consent|{usage}");
            assert!(!contains_bytes(&bytes, stale.as_bytes()), "{rel} keeps a stale {stale} keyword");
        }
        assert!(!contains_bytes(&bytes, b"2099-"), "{rel} keeps a stale ValidUntil");
    }
    assert!(contains_bytes(&fs::read(a.path(targets[1])).unwrap(), b"People|Family|Oma Erna"));
    if exiftool_available() {
        let files: Vec<PathBuf> = targets.iter().map(|p| a.path(p)).collect();
        let read =
            exiftool_json(&["-struct", "-XMP-consentry:all", "-XMP-lr:HierarchicalSubject", "-XMP-plus:all"], &files);
        let tif = &read[&files[1].to_string_lossy().into_owned()];
        assert_eq!(tif["Status"], "red");
        assert_eq!(tif.get("Usage"), None);
        assert_eq!(tif.get("ValidUntil"), None);
        assert_eq!(tif.get("ModelReleaseID"), None);
        assert_eq!(
            strings(&tif["HierarchicalSubject"]),
            [
                "People|Ben Koch",
                "PERSONS|Zoe\u{308} Adams",
                "Events|Backstage",
                "People|Family|Oma Erna",
                "Consent|Status|red"
            ]
        );
        assert_eq!(read[&files[0].to_string_lossy().into_owned()]["EvaluatedAt"], "2100-01-01");
    }
}

#[test]
fn dry_run_changes_nothing_and_shows_each_change() {
    let a = Archive::new();
    let media = a.media();
    let before = snapshot(a.tmp.path());
    let out = a.apply(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    assert_eq!(rows.keys().collect::<Vec<_>>(), media.keys().collect::<Vec<_>>());
    for (rel, row) in &rows {
        assert_eq!(row["action"], "would write", "{rel}");
        let want = format!("status: - -> {}", media[rel]["status"].as_str().unwrap());
        assert!(row["detail"].as_str().unwrap().contains(&want), "{rel}: {row}");
    }
    assert!(stderr(&out).contains("would write 30"), "{}", stderr(&out));
    let changed = changes(&before, &snapshot(a.tmp.path()));
    assert!(changed.is_empty(), "--dry-run changed files: {changed:#?}");

    // After a real apply, a dry run has nothing to show; a later day shows the status change.
    assert_eq!(a.apply(&[]).status.code(), Some(0));
    let written = snapshot(a.tmp.path());
    let out = a.apply(&["--dry-run"]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    let mut args = vec!["apply", a.root.to_str().unwrap(), "--register", a.register.to_str().unwrap()];
    args.extend(["--as-of", "2100-01-01", "--format", "jsonl", "--dry-run"]);
    let later = run(&args, a.tmp.path());
    assert_eq!(later.status.code(), Some(0), "{}", stderr(&later));
    let rows = a.rows(&later);
    let row = &rows["2023/summer-fest/IMG_1001.jpg"];
    assert_eq!(row["action"], "would write");
    assert!(row["detail"].as_str().unwrap().contains("status: green -> yellow"), "{row}");
    let changed = changes(&written, &snapshot(a.tmp.path()));
    assert!(changed.is_empty(), "--dry-run changed files: {changed:#?}");
}

#[test]
fn sidecar_always_leaves_every_media_file_as_it_is() {
    let a = Archive::new();
    let media = a.media();
    let before = snapshot(&a.root);
    let out = a.apply(&["--sidecar", "always"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = snapshot(&a.root);
    let rows = a.rows(&out);
    // A `name.xmp` shared by several files (DSC_0001.JPG and DSC_0001.NEF) is left to none of
    // them: each gets its own `name.ext.xmp`.
    let mut users: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (rel, rec) in &media {
        *users.entry(sidecar_of(&a, rel, rec)).or_default() += 1;
    }
    let mut sidecars = BTreeMap::new();
    for (rel, rec) in &media {
        assert!(before[rel] == after[rel], "{rel} changed");
        let shared = sidecar_of(&a, rel, rec);
        let sidecar = if users[&shared] > 1 { a.path(&format!("{rel}.xmp")) } else { shared };
        if let Some(row) = rows.get(rel) {
            assert_eq!(row["action"], "written", "{rel}");
            assert_eq!(PathBuf::from(row["target"].as_str().unwrap()), sidecar, "{rel}");
        }
        sidecars.insert(rel, sidecar);
    }
    let files: Vec<PathBuf> = sidecars.values().cloned().collect();
    let read = exiftool_available().then(|| exiftool_json(&["-XMP-consentry:Status"], &files));
    for (rel, sidecar) in &sidecars {
        let text = fs::read_to_string(sidecar).unwrap_or_else(|e| panic!("{}: {e}", sidecar.display()));
        match &read {
            Some(read) => {
                let status = &read[&sidecar.to_string_lossy().into_owned()]["Status"];
                assert_eq!(status, &media[*rel]["status"], "{}", sidecar.display());
            }
            None => assert!(text.contains("consentry:Status"), "{}: {text}", sidecar.display()),
        }
    }
    assert_eq!(rows.len(), media.len(), "{}", stdout(&out));
    // The existing sidecars (portrait.jpg.xmp, IMG_0007.xmp, ...) still give the same persons.
    let again = a.media();
    for (rel, rec) in &media {
        assert_eq!(rec["persons"], again[rel]["persons"], "{rel}");
        assert_eq!(rec["status"], again[rel]["status"], "{rel}");
    }
    let second = a.apply(&["--sidecar", "always"]);
    assert_eq!((second.status.code(), stdout(&second)), (Some(0), String::new()), "{}", stderr(&second));
}

#[test]
fn read_only_files_are_reported_and_left_alone() {
    let a = Archive::new();
    let read_only = ["2023/summer-fest/IMG_1002.jpg", "video/drone.mp4"];
    for rel in read_only {
        fs::set_permissions(a.path(rel), fs::Permissions::from_mode(0o444)).unwrap();
    }
    let before = snapshot(&a.root);
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let after = snapshot(&a.root);
    let rows = a.rows(&out);
    let err = stderr(&out);
    for rel in read_only {
        assert!(before[rel] == after[rel], "{rel} changed");
        assert_eq!(after[rel].mode & 0o777, 0o444);
        assert_eq!(rows[rel]["action"], "failed", "{rel}");
        assert!(rows[rel]["detail"].as_str().unwrap().contains("read-only"), "{}", rows[rel]);
        assert!(err.contains(&a.path(rel).display().to_string()), "{rel} not named in {err}");
    }
    let written: Vec<&String> = rows.iter().filter(|(_, r)| r["action"] == "written").map(|(p, _)| p).collect();
    assert_eq!(written.len(), 28, "{}", stdout(&out));
    assert!(err.contains("wrote 28,") && err.contains("2 not written"), "{err}");
}

#[test]
fn permissions_and_owner_are_kept() {
    let a = Archive::new();
    let files = [
        "2023/summer-fest/IMG_1001.jpg",
        "2023/summer-fest/group.png",
        "2023/summer-fest/backstage/lightroom.tif",
        "2024/portraits/studio/retouched.psd",
        "raw/2024-03-10/IMG_0007.dng",
        "raw/2024-03-10/IMG_0002.CR2.xmp",
        "video/clip.mp4",
        "video/interview.MOV",
    ];
    for rel in files {
        fs::set_permissions(a.path(rel), fs::Permissions::from_mode(0o640)).unwrap();
    }
    // As root, the owner is kept too.
    let as_root = unsafe { libc::geteuid() } == 0;
    let owned = a.path("2023/summer-fest/IMG_1003.JPG");
    if as_root {
        std::os::unix::fs::chown(&owned, Some(65534), Some(65534)).unwrap();
    }
    let before = snapshot(&a.root);
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = snapshot(&a.root);
    for rel in files {
        assert!(before[rel].bytes != after[rel].bytes, "{rel} was not written");
        assert_eq!(after[rel].mode & 0o7777, 0o640, "{rel}");
    }
    if as_root {
        let m = fs::metadata(&owned).unwrap();
        assert!(before["2023/summer-fest/IMG_1003.JPG"].bytes != fs::read(&owned).unwrap(), "not written");
        assert_eq!((m.uid(), m.gid()), (65534, 65534));
    }
}

#[test]
fn hard_linked_files_get_a_sidecar_once_and_stay_linked() {
    // Replacing a file by rename would separate it from its other names: each name gets its
    // result in its own sidecar (which DAMs pair by name), the file itself stays as it is.
    let a = Archive::new();
    let one = "2023/summer-fest/IMG_1001.jpg";
    let two = "2023/summer-fest/IMG_1001-hardlink.jpg";
    fs::hard_link(a.path(one), a.path(two)).unwrap();
    let original = fs::read(a.path(one)).unwrap();
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    for name in [one, two] {
        let row = &rows[name];
        assert_eq!(row["action"], "written", "{row}");
        assert_eq!(PathBuf::from(row["target"].as_str().unwrap()), a.path(&format!("{name}.xmp")), "{row}");
        assert!(row["detail"].as_str().unwrap().contains("hard links"), "{row}");
        let sidecar = fs::read_to_string(a.path(&format!("{name}.xmp"))).unwrap();
        assert!(sidecar.contains("consentry:Status"), "{sidecar}");
        assert_eq!(fs::read(a.path(name)).unwrap(), original, "{name}: the file itself is not changed");
    }
    assert_eq!(fs::metadata(a.path(one)).unwrap().ino(), fs::metadata(a.path(two)).unwrap().ino());
    assert_eq!(fs::metadata(a.path(one)).unwrap().nlink(), 2);
    // And a second run writes nothing.
    let again = a.apply(&[]);
    assert!(a.rows(&again).is_empty(), "{}", stdout(&again));
}

#[test]
fn symbolic_links_stay_links() {
    let a = Archive::new();
    let elsewhere = a.tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::rename(a.path("2023/summer-fest/IMG_1001.jpg"), elsewhere.join("IMG_1001.jpg")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("IMG_1001.jpg"), a.path("2023/summer-fest/IMG_1001.jpg")).unwrap();
    let original = fs::read(elsewhere.join("IMG_1001.jpg")).unwrap();
    let out = a.apply(&[]);
    let link = fs::symlink_metadata(a.path("2023/summer-fest/IMG_1001.jpg")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced by a file: {}", stdout(&out));
    // A file reached through a link is reported at its real path (here outside the archive).
    let real = elsewhere.canonicalize().unwrap().join("IMG_1001.jpg");
    let rows = jsonl(&out);
    let row = rows.iter().find(|r| r["path"] == real.to_str().unwrap()).unwrap_or_else(|| panic!("{rows:?}"));
    // Either the link's target holds the result, or the file is reported as not written.
    let now = fs::read(elsewhere.join("IMG_1001.jpg")).unwrap();
    match row["action"].as_str().unwrap() {
        "written" => assert!(now != original, "reported written, but the linked file is unchanged"),
        "failed" => assert!(now == original, "reported failed, but the linked file changed"),
        other => panic!("{other}"),
    }
}

/// A process id that is not running.
fn dead_pid() -> u32 {
    (999_999..).find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap()
}

#[test]
fn copies_left_by_a_killed_run_are_removed_and_never_scanned() {
    let a = Archive::new();
    let stale = a.path(&format!("2023/summer-fest/.consentry-apply-{}-0.jpg", dead_pid()));
    fs::copy(a.path("2023/summer-fest/IMG_1001.jpg"), &stale).unwrap();
    let listed = |recs: &BTreeMap<String, Value>| recs.keys().filter(|p| p.contains(".consentry-apply-")).count();
    assert_eq!(listed(&a.scan()), 0, "scan lists apply's copies");
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stale.exists(), "the stale copy is still there");
    assert!(!stdout(&out).contains(".consentry-apply-"), "{}", stdout(&out));
    let left: Vec<String> = snapshot(a.tmp.path()).into_keys().filter(|p| p.contains(".consentry-apply-")).collect();
    assert!(left.is_empty(), "copies left behind: {left:?}");
    assert_eq!(listed(&a.scan()), 0);
}

#[test]
fn copies_of_another_users_running_apply_are_kept() {
    // As root, run apply as `nobody`; the copy belongs to this (root-owned, running) process.
    let as_root = unsafe { libc::geteuid() } == 0;
    if !as_root || Command::new("setpriv").arg("--version").output().is_err() {
        support::missing("root and setpriv (to run apply as another user)");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("consentry-apply").tempdir_in(std::env::temp_dir()).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let a = Archive::in_tmp(tmp);
    let live = a.path(&format!("2023/summer-fest/.consentry-apply-{}-0.jpg", std::process::id()));
    fs::copy(a.path("2023/summer-fest/IMG_1001.jpg"), &live).unwrap();
    // The files are nobody's (apply never gives another user's file a new owner).
    for rel in snapshot(a.tmp.path()).keys() {
        std::os::unix::fs::chown(a.tmp.path().join(rel), Some(65534), Some(65534)).unwrap();
        fs::set_permissions(a.tmp.path().join(rel), fs::Permissions::from_mode(0o666)).unwrap();
    }
    fn open_dirs(d: &Path) {
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
        for e in fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                open_dirs(&e.path());
            }
        }
    }
    open_dirs(&a.root);
    open_dirs(&a.register);
    // A running apply holds its copy locked (flock) until it renames or removes it.
    let held = fs::File::open(&live).unwrap();
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&held), libc::LOCK_EX) }, 0);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_consentry"), "apply"])
        .arg(&a.root)
        .args(["--register", a.register.to_str().unwrap(), "--as-of", AS_OF, "--format", "jsonl"])
        .current_dir(a.tmp.path())
        .env_remove("CONSENTRY_REGISTER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(a.rows(&out).len(), 30, "apply as nobody wrote the archive");
    assert!(live.exists(), "the copy of a running process (pid {}) was removed", std::process::id());
    // Once its process let go of it (a killed run), the next apply removes it.
    drop(held);
    let again = a.apply(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(!live.exists(), "a copy nobody holds is a leftover");
}

#[test]
fn apply_inside_the_archive_writes_videos_too() {
    let a = Archive::new();
    // The everyday use: in the archive, no path, the register found by consentry.toml.
    let out = run(&["apply", "--as-of", AS_OF, "--format", "jsonl"], &a.root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: BTreeMap<String, Value> =
        jsonl(&out).into_iter().map(|r| (r["path"].as_str().unwrap().to_string(), r)).collect();
    assert_eq!(rows.len(), 30, "{}", stdout(&out));
    for video in ["./video/clip.mp4", "./video/drone.mp4", "./video/interview.MOV"] {
        assert_eq!(rows[video]["action"], "written", "{}", rows[video]);
    }
    // A file named in the current directory: the copy beside it is `./.consentry-apply-…`.
    let out =
        run(&["apply", "interview.MOV", "--as-of", "2100-01-01", "--register", "../../register"], &a.path("video"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn real_world_files_keep_their_persons() {
    let shared = repo().join("../shared/realworld");
    if !shared.join("expected.json").is_file() {
        support::missing("../shared/realworld");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("realworld");
    support::copy_dir(&shared, &dir);
    for e in fs::read_dir(&dir).unwrap().flatten() {
        fs::set_permissions(e.path(), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let register = tmp.path().join("register.csv");
    fs::write(
        &register,
        "person,usage,granted,expires\nMarie Curie,\"print,web\",2024-01-01,\nBill Murray,web,2024-01-01,2030-12-31\nGopher,print,2027-01-01,\n",
    )
    .unwrap();
    let scan = || -> BTreeMap<String, Value> {
        let out = run(
            &[
                "scan",
                dir.to_str().unwrap(),
                "--register",
                register.to_str().unwrap(),
                "--as-of",
                AS_OF,
                "--format",
                "jsonl",
                "--quiet",
            ],
            tmp.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        jsonl(&out).into_iter().map(|r| (r["path"].as_str().unwrap().to_string(), r)).collect()
    };
    let before = scan();
    let originals = snapshot(&dir);
    let apply = || {
        run(
            &[
                "apply",
                dir.to_str().unwrap(),
                "--register",
                register.to_str().unwrap(),
                "--as-of",
                AS_OF,
                "--format",
                "jsonl",
            ],
            tmp.path(),
        )
    };
    let out = apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = jsonl(&out);
    assert_eq!(rows.len(), before.len(), "{}", stdout(&out));
    assert!(rows.iter().all(|r| r["action"] == "written"), "{}", stdout(&out));
    let after = scan();
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (path, b) in &before {
        for f in ["persons", "unnamed_faces", "taken", "error", "status"] {
            assert_eq!(b[f], after[path][f], "{path}: {f}");
        }
    }
    assert!(before.values().any(|r| r["status"] == "green"), "the register clears something");
    // The media data of the real files is untouched too.
    let now = snapshot(&dir);
    let mut checked = 0;
    for (rel, old) in &originals {
        if MEDIA_EXTENSIONS.contains(&extension(rel).as_str()) {
            assert_same_media(rel, &old.bytes, &now[rel].bytes);
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked}");
    let again = apply();
    assert_eq!((again.status.code(), stdout(&again)), (Some(0), String::new()), "{}", stderr(&again));
}

#[test]
fn lightroom_keywords_name_the_status_in_the_vocabulary_spelling() {
    if !exiftool_available() {
        return;
    }
    let a = Archive::new();
    let rel = "2023/summer-fest/backstage/lightroom.tif";
    let tif = a.path(rel);
    let key = tif.to_string_lossy().into_owned();
    let subjects = || -> Vec<String> {
        let read = exiftool_json(&["-struct", "-XMP-lr:HierarchicalSubject"], std::slice::from_ref(&tif));
        strings(&read[&key]["HierarchicalSubject"])
    };
    let own = ["People|Ben Koch", "PERSONS|Zoe\u{308} Adams", "Events|Backstage", "People|Family|Oma Erna"];
    let with = |mirror: &[&str]| -> Vec<String> { own.iter().chain(mirror).map(|s| s.to_string()).collect() };

    // The default vocabulary: its names, then the status.
    assert_eq!(a.apply(&[]).status.code(), Some(0));
    assert_eq!(subjects(), with(&["Consent|print", "Consent|web", "Consent|archive", "Consent|Status|green"]));

    // A vocabulary spelling `Druck` and `Web`: only the keywords differ, and the file is
    // rewritten for them; the user's keywords stay as they were.
    let toml = a.root.join("consentry.toml");
    let mut cfg = fs::read_to_string(&toml).unwrap();
    cfg.push_str(concat!(
        "[[usage]]\nname = \"Druck\"\nsynonyms = [\"print\"]\n",
        "[[usage]]\nname = \"Web\"\nsynonyms = [\"Internet\"]\n",
        "[[usage]]\nname = \"archive\"\n[[usage]]\nname = \"social\"\nsynonyms = [\"Social Media\"]\n",
        "[[usage]]\nname = \"press\"\n[[usage]]\nname = \"tv\"\n",
    ));
    fs::write(&toml, cfg).unwrap();
    let out = a.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = a.rows(&out);
    assert_eq!(rows[rel]["action"], "written", "{}", stdout(&out));
    assert!(rows[rel]["detail"].as_str().unwrap().contains("keywords:"), "{}", rows[rel]);
    assert_eq!(subjects(), with(&["Consent|Druck", "Consent|Web", "Consent|archive", "Consent|Status|green"]));

    // A second apply finds every file unchanged.
    let again = a.apply(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(stdout(&again), "", "a second apply has nothing to report");
    assert!(stderr(&again).contains("wrote 0,"), "{}", stderr(&again));

    // A changed status replaces the status keyword and the stale usage keywords.
    let mut args = vec!["apply", a.root.to_str().unwrap(), "--register", a.register.to_str().unwrap()];
    args.extend(["--as-of", "2100-01-01", "--format", "jsonl"]);
    let out = run(&args, a.tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(a.rows(&out)[rel]["detail"].as_str().unwrap().contains("status: green -> red"));
    assert_eq!(subjects(), with(&["Consent|Status|red"]));
}
