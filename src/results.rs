//! A shard's results and their merge (SPEC.md 7a).
//!
//! `scan --shard K/N --results DIR` writes every record it hands on, with its evaluation, into
//! `DIR/shard-K-of-N.jsonl` ([`ShardWriter`]): JSON Lines, a [`Header`] first (the shard, the
//! day, what was scanned and how), one [`Line`] per record in walk order, an [`End`] last (the
//! count of records, the registers' digests). It is written under a temporary name and renamed
//! when whole, so a killed shard leaves no result file.
//!
//! `consentry merge DIR` reads the N files of one set ([`open_set`]), refuses a set that is not
//! whole or not one run's (a shard missing or there twice, another N, day, register, or other
//! paths scanned), and hands the records on in the order one run over the whole archive would
//! ([`Merge`]): every record carries its place in the walk ([`FileRecord::walk_index`]), which
//! every shard counts over the whole tree.

use std::collections::BinaryHeap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::consent::Decision;
use crate::media::Format;
use crate::people::Depicted;
use crate::report::Evaluated;
use crate::scan::{FileRecord, Hint, ReadError, Shard, Subject};

/// What the first line of a result file says it is.
pub const FORMAT: &str = "consentry-shard-results";
/// The version of the layout below; merge reads only its own.
pub const VERSION: u32 = 1;

/// The first line of a result file: which shard, and what every shard of one set must share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub consentry: String,
    /// [`VERSION`].
    pub version: u32,
    pub k: u32,
    pub n: u32,
    /// The day the files were evaluated on (`YYYY-MM-DD`).
    pub date: String,
    /// Whether the records carry an evaluation (a register was found).
    pub evaluated: bool,
    /// The working directory the paths were named from.
    pub cwd: PathText,
    /// The paths scanned, as named.
    pub paths: Vec<PathText>,
    /// `--register` (absolute), when given.
    pub register: Option<PathText>,
    pub people_roots: Vec<String>,
    pub follow_links: bool,
    /// The consentry that wrote it (its reading of files may differ in another version).
    pub tool: String,
}

/// The last line of a result file: written only when the shard's scan completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    /// The number of record lines.
    pub records: u64,
    /// Entries the walk skipped (every shard walks the whole tree: the same count).
    pub skipped: u64,
    /// The digests of the registers the records were evaluated with, sorted.
    pub registers: Vec<String>,
    /// The whole walk's entries (every shard's) and a digest of their paths
    /// ([`crate::scan::ScanSummary::walk`]): the same for every shard of a set.
    #[serde(default)]
    pub walk: Option<(u64, String)>,
    /// The runs the shard recorded in its states (none: it kept no state), each with the
    /// changes it found ([`ChangeLine`]s, before this line).
    #[serde(default)]
    pub runs: Vec<RunLine>,
}

/// A run a shard recorded in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLine {
    /// When it finished (local time with offset).
    pub finished: String,
    /// The state's first run: it records no changes.
    pub baseline: bool,
}

/// A change a shard's run found, as its state recorded it (`report changes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeLine {
    pub run: String,
    pub change: String,
    pub path: Option<PathText>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub detail: Option<String>,
    /// The device and inode of a new file, and of a removed one where the state knows it: a file
    /// moved from one shard's part of the archive into another's is one shard's `removed` and
    /// another's `new`, paired by this as one run pairs them ([`merge_changes`]).
    pub file: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChangeWrap {
    change: ChangeLine,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EndLine {
    end: End,
}

/// A path kept exactly: as text when it is UTF-8, else its bytes in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathText {
    Text(String),
    Bytes { hex: String },
}

impl PathText {
    pub fn of(path: &Path) -> PathText {
        match path.to_str() {
            Some(s) => PathText::Text(s.to_string()),
            None => PathText::Bytes { hex: crate::register::digest::hex(path.as_os_str().as_bytes()) },
        }
    }

    pub fn path(&self) -> Option<PathBuf> {
        match self {
            PathText::Text(s) => Some(PathBuf::from(s)),
            PathText::Bytes { hex } => {
                let bytes: Option<Vec<u8>> = (0..hex.len())
                    .step_by(2)
                    .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                    .collect();
                bytes.filter(|_| hex.len() % 2 == 0).map(|b| PathBuf::from(OsStr::from_bytes(&b)))
            }
        }
    }
}

/// One record of a result file: what the printers and reports use of a [`FileRecord`], its
/// archive-relative path and its evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// [`FileRecord::walk_index`].
    pub i: u64,
    pub path: PathText,
    /// [`Subject::as_str`].
    pub kind: String,
    pub format: Option<Format>,
    pub depicted: Depicted,
    pub sidecars: Vec<PathText>,
    pub taken: Option<String>,
    /// The problems reading it, as text.
    pub errors: Vec<String>,
    pub hints: Vec<Hint>,
    /// The path relative to its archive root (`None`: in no archive).
    pub rel: Option<String>,
    pub decision: Option<Decision>,
}

/// A record read back: the record, its archive-relative path (`None` in no archive) and its
/// evaluation (`None` without a register, and for orphan sidecars).
pub type Parts = (FileRecord, Option<String>, Option<Decision>);

impl Line {
    /// Whether every shard reports this record ([`crate::scan::in_shard`]): a file in no
    /// archive, and a path that could not be walked.
    fn every_shards(&self) -> bool {
        self.rel.is_none() || self.kind == Subject::Unwalkable.as_str()
    }

    pub fn of(rec: &FileRecord, rel: Option<&str>, decision: Option<&Decision>) -> Line {
        Line {
            i: rec.walk_index,
            path: PathText::of(&rec.path),
            kind: rec.subject.as_str().to_string(),
            format: rec.format,
            depicted: Depicted { keywords: Default::default(), ..rec.depicted.clone() },
            sidecars: rec.sidecars.iter().map(|s| PathText::of(s)).collect(),
            taken: rec.taken.clone(),
            errors: rec.errors.iter().map(ReadError::to_string).collect(),
            hints: rec.hints.clone(),
            rel: rel.map(str::to_string),
            decision: decision.cloned(),
        }
    }

    /// The record, its archive-relative path and its evaluation again; `Err` names what does
    /// not read back.
    pub fn into_parts(self) -> Result<Parts, String> {
        let path = self.path.path().ok_or("a path that is not hex")?;
        let subject = Subject::parse(&self.kind).ok_or_else(|| format!("unknown kind {:?}", self.kind))?;
        let sidecars =
            self.sidecars.iter().map(|s| s.path().ok_or("a sidecar path that is not hex")).collect::<Result<_, _>>()?;
        let mut record = FileRecord::known(path, self.format, self.depicted, sidecars, self.taken);
        record.subject = subject;
        record.reused = false;
        record.errors = self.errors.into_iter().map(ReadError::Recorded).collect();
        record.hints = self.hints;
        record.walk_index = self.i;
        Ok((record, self.rel, self.decision))
    }
}

/// The file name of shard K of N in a results folder.
pub fn file_name(shard: Shard) -> String {
    format!("shard-{}-of-{}.jsonl", shard.k, shard.n)
}

/// The shard a result file's name names (`shard-K-of-N.jsonl`).
pub fn shard_of_name(name: &OsStr) -> Option<(u32, u32)> {
    let name = name.to_str()?.strip_prefix("shard-")?.strip_suffix(".jsonl")?;
    let (k, n) = name.split_once("-of-")?;
    let (k, n): (u32, u32) = (k.parse().ok()?, n.parse().ok()?);
    // Exactly the name a shard writes: `shard-02-of-3.jsonl` and `shard-+2-of-3.jsonl` are not
    // shard 2's.
    (format!("{k}-of-{n}") == name).then_some((k, n))
}

/// Writes one shard's result file: under a temporary name in the folder until
/// [`ShardWriter::finish`] renames it; dropped before, it leaves nothing.
pub struct ShardWriter {
    out: io::BufWriter<fs::File>,
    tmp: tempfile::TempPath,
    target: PathBuf,
    records: u64,
}

impl ShardWriter {
    /// Start the result file of `header`'s shard in `dir` (created, for the owner only, when
    /// missing).
    pub fn create(dir: &Path, header: &Header) -> io::Result<ShardWriter> {
        crate::own::create_private_dir_all(dir)?;
        let name = file_name(Shard { k: header.k, n: header.n });
        let target = dir.join(&name);
        // What a killed run of this shard left under its temporary name goes now; a run of it
        // that is still writing holds a lock on its file, and keeps it.
        let prefix = format!("{}{}-", crate::own::TEMP_PREFIX, name.trim_end_matches(".jsonl"));
        for entry in fs::read_dir(dir)?.flatten() {
            if entry.file_name().as_bytes().starts_with(prefix.as_bytes()) {
                if let Ok(stale) = fs::File::open(entry.path()) {
                    if stale.try_lock().is_ok() {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
        }
        let tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)?;
        let (file, tmp) = tmp.into_parts();
        file.lock()?;
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(ShardWriter { out, tmp, target, records: 0 })
    }

    /// Where the file goes when it is whole.
    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn write(&mut self, rec: &FileRecord, rel: Option<&str>, decision: Option<&Decision>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &Line::of(rec, rel, decision))?;
        self.out.write_all(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Write a change the shard's run found (after every record).
    pub fn write_change(&mut self, change: ChangeLine) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &ChangeWrap { change })?;
        self.out.write_all(b"\n")
    }

    /// Write the last line, make the file durable and give it its name (replacing the result of
    /// an earlier run of the same shard).
    pub fn finish(
        mut self,
        summary: &crate::scan::ScanSummary,
        mut registers: Vec<String>,
        runs: Vec<RunLine>,
    ) -> io::Result<PathBuf> {
        registers.sort();
        registers.dedup();
        let end = End { records: self.records, skipped: summary.skipped, registers, walk: summary.walk.clone(), runs };
        let end = EndLine { end };
        serde_json::to_writer(&mut self.out, &end)?;
        self.out.write_all(b"\n")?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        self.tmp.persist(&self.target).map_err(|e| e.error)?;
        if let Some(dir) = self.target.parent() {
            // The rename made durable too (best effort: some file systems refuse to sync a folder).
            let _ = fs::File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
                .and_then(|d| d.sync_all());
        }
        Ok(self.target)
    }
}

/// Why a set of result files cannot be merged. Each names the file (and line) concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {error}", .path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error(
        "{}: no shard results (shard-K-of-N.jsonl): run `consentry scan --shard K/N --results {}` for every K first",
        .0.display(), .0.display()
    )]
    Empty(PathBuf),
    #[error("{}: results of {} shards beside results of {} ({}): the folder holds more than one set; give each set its own folder", .dir.display(), .n, .other, .file)]
    MixedSets { dir: PathBuf, n: u32, other: u32, file: String },
    #[error("{}: shard {k}/{n} is missing ({found} of {n} present): rerun that shard (index {k}); a partial merge is never all clear", .dir.display())]
    Missing { dir: PathBuf, k: u32, n: u32, found: u32 },
    #[error("{}: line {line}: {message}", .path.display())]
    Bad { path: PathBuf, line: u64, message: String },
    #[error(
        "{}: says it is shard {k}/{n}, but is named for another shard: a copy of another shard's results? (shard {k}/{n} is there twice)",
        .path.display()
    )]
    Duplicate { path: PathBuf, k: u32, n: u32 },
    #[error("{}: its {what} differs from {}'s: these shards are not from one run; rerun them with one {what}", .path.display(), .first.display())]
    Foreign { path: PathBuf, first: PathBuf, what: &'static str },
    #[error("{}: incomplete: it has no end line (written by a run that did not finish?); rerun this shard", .path.display())]
    Incomplete { path: PathBuf },
    #[error("{}: lines after its end line: the file was changed after the shard wrote it; rerun this shard", .path.display())]
    AfterEnd { path: PathBuf },
    #[error("{}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    #[error(
        "{}: walked another tree than {} (files added, removed or renamed between the shards' runs: a file could be in no shard, or in two); rerun every shard of the set",
        .path.display(), .first.display()
    )]
    OtherTree { path: PathBuf, first: PathBuf },
    #[error(
        "{}: line {line}: {file} was not evaluated (its archive named no register when the shard ran): this report needs every file judged; give the archive a register and rerun the shards",
        .path.display()
    )]
    NotEvaluated { path: PathBuf, line: u64, file: String },
}

/// One result file of a set.
#[derive(Debug)]
pub struct ShardFile {
    pub path: PathBuf,
    pub header: Header,
    pub end: End,
}

/// The whole set of result files in `dir`: every shard 0..N once, each whole (its end line),
/// all of one run (the same N, day, paths, options, tool and registers). Reads only each file's
/// first and last line.
pub fn open_set(dir: &Path) -> Result<Vec<ShardFile>, Error> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, error: source }
    };
    let mut named: Vec<(u32, u32, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some((k, n)) = shard_of_name(&entry.file_name()) {
            named.push((k, n, entry.path()));
        }
    }
    named.sort();
    let Some(&(_, n, _)) = named.first() else { return Err(Error::Empty(dir.to_path_buf())) };
    if let Some((_, other, path)) = named.iter().find(|(_, m, _)| *m != n) {
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(Error::MixedSets { dir: dir.to_path_buf(), n, other: *other, file });
    }
    let found = named.len() as u32;
    if let Some(k) = (0..n).find(|k| !named.iter().any(|(j, _, _)| j == k)) {
        return Err(Error::Missing { dir: dir.to_path_buf(), k, n, found });
    }
    let mut set: Vec<ShardFile> = Vec::with_capacity(named.len());
    for (k, n, path) in named {
        if k >= n {
            return Err(Error::Bad { path, line: 1, message: format!("shard {k} of {n} does not exist") });
        }
        // A FIFO would block the merge, a device never end: only regular files are read.
        if !fs::metadata(&path).map_err(io_err(&path))?.is_file() {
            return Err(Error::NotAFile(path));
        }
        let (header, end) = first_and_last(&path)?;
        if (header.k, header.n) != (k, n) {
            return Err(Error::Duplicate { path, k: header.k, n: header.n });
        }
        let file = ShardFile { path, header, end };
        if let Some(first) = set.first() {
            let (a, b) = (&first.header, &file.header);
            let differs = [
                (a.date != b.date, "day evaluated on (--as-of)"),
                (a.paths != b.paths || a.cwd != b.cwd, "paths scanned (as named, from the same folder)"),
                (a.register != b.register || first.end.registers != file.end.registers, "register"),
                (a.evaluated != b.evaluated, "register"),
                (
                    a.people_roots != b.people_roots || a.follow_links != b.follow_links,
                    "options (--people-root, --no-follow)",
                ),
                (a.tool != b.tool, "consentry version"),
            ];
            if let Some((_, what)) = differs.into_iter().find(|(d, _)| *d) {
                return Err(Error::Foreign { path: file.path, first: first.path.clone(), what });
            }
            if first.end.walk != file.end.walk {
                return Err(Error::OtherTree { path: file.path, first: first.path.clone() });
            }
        }
        set.push(file);
    }
    Ok(set)
}

/// The header and end line of a result file.
fn first_and_last(path: &Path) -> Result<(Header, End), Error> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), error: source };
    let bad = |line: u64, message: String| Error::Bad { path: path.to_path_buf(), line, message };
    let mut file = fs::File::open(path).map_err(io_err)?;
    let mut first = String::new();
    BufReader::new(&mut file).take(1 << 20).read_line(&mut first).map_err(io_err)?;
    let header: Header =
        serde_json::from_str(first.trim_end()).map_err(|e| bad(1, format!("not a shard result header: {e}")))?;
    if header.consentry != FORMAT || header.version != VERSION {
        return Err(bad(1, format!("not consentry shard results of version {VERSION}")));
    }
    // The last line: read the file's tail.
    let len = file.metadata().map_err(io_err)?.len();
    let tail = len.min(1 << 16);
    file.seek(SeekFrom::Start(len - tail)).map_err(io_err)?;
    let mut bytes = Vec::with_capacity(tail as usize);
    file.read_to_end(&mut bytes).map_err(io_err)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.trim_end_matches('\n').rsplit('\n');
    let last = lines.next().unwrap_or_default();
    let end = serde_json::from_str::<EndLine>(last).map_err(|_| match lines.any(|l| l.starts_with("{\"end\"")) {
        true => Error::AfterEnd { path: path.to_path_buf() },
        false => Error::Incomplete { path: path.to_path_buf() },
    })?;
    Ok((header, end.end))
}

/// One shard's records as they are read.
struct Reader {
    path: PathBuf,
    k: u32,
    n: u32,
    lines: io::Lines<BufReader<fs::File>>,
    line: u64,
    records: u64,
    expected: u64,
    last: Option<u64>,
    /// The changes read after the records.
    changes: Vec<ChangeLine>,
}

impl Reader {
    fn open(file: &ShardFile) -> Result<Reader, Error> {
        let f = fs::File::open(&file.path).map_err(|source| Error::Io { path: file.path.clone(), error: source })?;
        let mut lines = BufReader::with_capacity(1 << 16, f).lines();
        lines.next(); // the header, read before
        Ok(Reader {
            path: file.path.clone(),
            k: file.header.k,
            n: file.header.n,
            lines,
            line: 1,
            records: 0,
            expected: file.end.records,
            last: None,
            changes: Vec::new(),
        })
    }

    fn read_line(&mut self) -> Result<String, Error> {
        let Some(text) = self.lines.next() else { return Err(Error::Incomplete { path: self.path.clone() }) };
        self.line += 1;
        text.map_err(|source| Error::Io { path: self.path.clone(), error: source })
    }

    /// The next record, checked: in walk order, in this shard; `None` after the end line (the
    /// changes before it kept).
    fn next(&mut self) -> Result<Option<Line>, Error> {
        let path = self.path.clone();
        let bad = |line: u64, message: String| Error::Bad { path: path.clone(), line, message };
        let mut text = self.read_line()?;
        while text.starts_with("{\"change\"") {
            let line: ChangeWrap =
                serde_json::from_str(&text).map_err(|e| bad(self.line, format!("not a change: {e}")))?;
            self.changes.push(line.change);
            text = self.read_line()?;
            if !text.starts_with("{\"change\"") && !text.starts_with("{\"end\"") {
                return Err(bad(self.line, "a record after the changes".into()));
            }
        }
        if text.starts_with("{\"end\"") {
            if self.records != self.expected {
                return Err(bad(self.line, format!("{} records, the end line says {}", self.records, self.expected)));
            }
            if let Some(more) = self.lines.next() {
                more.map_err(|source| Error::Io { path: self.path.clone(), error: source })?;
                return Err(bad(self.line + 1, "a line after the end line".into()));
            }
            return Ok(None);
        }
        let line: Line = serde_json::from_str(&text).map_err(|e| bad(self.line, format!("not a record: {e}")))?;
        if self.last.is_some_and(|last| line.i <= last) {
            return Err(bad(self.line, "records out of walk order".into()));
        }
        if let Some(rel) = line.rel.as_ref().filter(|_| !line.every_shards()) {
            if !(Shard { k: self.k, n: self.n }).holds(rel) {
                return Err(bad(
                    self.line,
                    format!("{rel:?} is not a file of shard {}/{}: the results were changed or mixed", self.k, self.n),
                ));
            }
        }
        self.last = Some(line.i);
        self.records += 1;
        Ok(Some(line))
    }
}

/// The records of a set of result files in the order of one run over the whole archive: by
/// their place in the walk. A file every shard reports (one in no archive, a path that could not
/// be walked) comes once.
pub struct Merge<'a> {
    files: &'a [ShardFile],
    readers: Vec<Reader>,
    heads: BinaryHeap<std::cmp::Reverse<(u64, usize)>>,
    /// Each shard's next record, with its line number.
    pending: Vec<Option<(Line, u64)>>,
    /// The last record handed on: its place and path, for the records every shard reports.
    last: Option<(u64, PathText)>,
    /// Where the last record handed on was read: its file and line.
    at: (PathBuf, u64),
}

impl<'a> Merge<'a> {
    pub fn new(set: &'a [ShardFile]) -> Result<Merge<'a>, Error> {
        let mut merge = Merge {
            files: set,
            readers: set.iter().map(Reader::open).collect::<Result<_, _>>()?,
            heads: BinaryHeap::new(),
            pending: Vec::new(),
            last: None,
            at: (PathBuf::new(), 0),
        };
        merge.pending = (0..merge.readers.len()).map(|_| None).collect();
        for r in 0..merge.readers.len() {
            merge.advance(r)?;
        }
        Ok(merge)
    }

    fn advance(&mut self, r: usize) -> Result<(), Error> {
        if let Some(line) = self.readers[r].next()? {
            self.heads.push(std::cmp::Reverse((line.i, r)));
            self.pending[r] = Some((line, self.readers[r].line));
        }
        Ok(())
    }

    /// The next record in walk order, with its archive-relative path and evaluation.
    pub fn next_record(&mut self) -> Result<Option<Parts>, Error> {
        loop {
            let Some(std::cmp::Reverse((_, r))) = self.heads.pop() else { return Ok(None) };
            let (line, at) = self.pending[r].take().expect("a head has its line");
            self.advance(r)?;
            let key = (line.i, line.path.clone());
            if line.every_shards() && self.last.as_ref() == Some(&key) {
                continue; // every shard's record, handed on once
            }
            self.last = Some(key);
            let path = &self.readers[r].path;
            self.at = (path.clone(), at);
            return line.into_parts().map(Some).map_err(|message| Error::Bad { path: path.clone(), line: at, message });
        }
    }

    /// Every evaluated record (orphan sidecars and records without an evaluation left out, as
    /// a report over the archive leaves them), in walk order.
    ///
    /// A file the shards did not evaluate (its archive named no register then) refuses the
    /// whole report, as a report over the archive refuses to run without a register: left out,
    /// the file would read as one that needs nothing.
    pub fn evaluated(mut self) -> Result<Vec<Evaluated>, Error> {
        let mut files = Vec::new();
        while let Some((record, rel_path, decision)) = self.next_record()? {
            match decision {
                Some(decision) => files.push(Evaluated { record, rel_path, decision }),
                None if record.subject == Subject::OrphanSidecar => {}
                None => {
                    let (path, line) = self.at.clone();
                    let file = record.path.display().to_string();
                    return Err(Error::NotEvaluated { path, line, file });
                }
            }
        }
        Ok(files)
    }

    /// Read the whole set through, checking every line, before anything is printed from it (a
    /// line found bad halfway would otherwise stop the output halfway); each shard's changes.
    pub fn check(set: &[ShardFile]) -> Result<Vec<Vec<ChangeLine>>, Error> {
        let mut merge = Merge::new(set)?;
        while merge.next_record()?.is_some() {}
        Ok(merge.readers.into_iter().map(|r| r.changes).collect())
    }
}

impl Merge<'_> {
    /// Every record read (their place in the walk kept by absolute path, from `cwd`), then the
    /// changes the shards' runs found, merged as one run over the whole archive finds them
    /// ([`merge_changes`]).
    /// Only the places of the files the changes name are kept.
    pub fn changes(mut self, cwd: &Path) -> Result<Vec<ChangeLine>, Error> {
        let shards = Merge::check(self.files)?;
        let named: std::collections::HashSet<PathBuf> =
            shards.iter().flatten().filter_map(|c| c.path.as_ref().and_then(PathText::path)).collect();
        let mut walk: std::collections::HashMap<PathBuf, u64> = std::collections::HashMap::new();
        while let Some((record, _, _)) = self.next_record()? {
            let path = crate::paths::absolute_in(cwd, &record.path);
            if named.contains(&path) {
                walk.insert(path, record.walk_index);
            }
        }
        Ok(merge_changes(shards, |p| walk.get(p).copied()))
    }
}

/// The changes the runs of a set's shards found, as one run over the whole archive records
/// them (`state::Run::finish`): first the files whose status changed, then the new and moved
/// files, each group in walk order (`walk_index` of a path); then the removed files by path;
/// then the consents that expired or were revoked, by id, with the files of every shard counted
/// together. A file removed from one shard's part and new in another's with the same device and
/// inode is moved, as one run pairs them. Every row carries the latest of the shards' run times:
/// the set is one run.
pub fn merge_changes(shards: Vec<Vec<ChangeLine>>, walk_index: impl Fn(&Path) -> Option<u64>) -> Vec<ChangeLine> {
    let run = shards.iter().flatten().map(|c| c.run.clone()).max().unwrap_or_default();
    let (mut status, mut arrived, mut removed, mut consents, mut other) = (vec![], vec![], vec![], vec![], vec![]);
    for (shard, changes) in shards.into_iter().enumerate() {
        for c in changes {
            let group = match c.change.as_str() {
                s if s.starts_with("became-") => &mut status,
                "new" | "moved" => &mut arrived,
                "removed" => &mut removed,
                "consent-expired" | "consent-revoked" => &mut consents,
                _ => &mut other,
            };
            group.push((shard, c));
        }
    }
    let place =
        |c: &ChangeLine| c.path.as_ref().and_then(PathText::path).and_then(|p| walk_index(&p)).unwrap_or(u64::MAX);
    let key =
        |c: &ChangeLine| c.path.as_ref().and_then(PathText::path).map(|p| p.into_os_string().into_encoded_bytes());
    status.sort_by_key(|(shard, c)| (place(c), *shard));
    arrived.sort_by_key(|(shard, c)| (place(c), *shard));
    removed.sort_by_key(|(_, c)| key(c));
    // Moves across shards: the last new file (in walk order) of each device and inode.
    let mut by_file: std::collections::HashMap<(u64, u64), usize> = std::collections::HashMap::new();
    for (i, (_, c)) in arrived.iter().enumerate().filter(|(_, (_, c))| c.change == "new") {
        if let Some(file) = c.file {
            by_file.insert(file, i);
        }
    }
    let mut kept_removed = Vec::new();
    for (shard, gone) in removed {
        let paired = gone.file.and_then(|f| by_file.remove(&f)).filter(|&i| arrived[i].0 != shard);
        match paired {
            Some(i) => {
                let to = &mut arrived[i].1;
                let from = gone.path.as_ref().and_then(PathText::path).unwrap_or_default();
                to.change = "moved".into();
                to.detail = Some(format!("from {}", from.display()));
                to.old_status = gone.old_status.clone();
            }
            None => kept_removed.push(gone),
        }
    }
    // A consent's files, counted by every shard: `ID (PERSON) WHAT on DAY; used by N file(s) ...`.
    const USED: &str = "; used by ";
    let mut ended: std::collections::BTreeMap<(String, String), u64> = std::collections::BTreeMap::new();
    for (_, c) in consents {
        let detail = c.detail.unwrap_or_default();
        let (about, files) = match detail.split_once(USED) {
            Some((about, rest)) => {
                (about.to_string(), rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0))
            }
            None => (detail.clone(), 0),
        };
        *ended.entry((about, c.change)).or_insert(0) += files;
    }
    let consent_rows = ended.into_iter().map(|((about, change), files)| ChangeLine {
        run: String::new(),
        change,
        path: None,
        old_status: None,
        new_status: None,
        detail: Some(format!("{about}{USED}{files} file(s) at the previous run")),
        file: None,
    });
    status
        .into_iter()
        .map(|(_, c)| c)
        .chain(arrived.into_iter().map(|(_, c)| c))
        .chain(kept_removed)
        .chain(consent_rows)
        .chain(other.into_iter().map(|(_, c)| c))
        .map(|c| ChangeLine { run: run.clone(), file: None, ..c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_file_names_read_back() {
        assert_eq!(file_name(Shard { k: 2, n: 8 }), "shard-2-of-8.jsonl");
        assert_eq!(shard_of_name(OsStr::new("shard-2-of-8.jsonl")), Some((2, 8)));
        for other in
            ["shard-2-of-8.json", "shard--of-8.jsonl", "shard-+2-of-8.jsonl", ".consentry-x", "shard-2-8.jsonl"]
        {
            assert_eq!(shard_of_name(OsStr::new(other)), None, "{other}");
        }
    }

    #[test]
    fn paths_that_are_not_utf8_keep_their_bytes() {
        let raw = PathBuf::from(OsStr::from_bytes(b"dir/caf\xe9.jpg"));
        let text = PathText::of(&raw);
        assert!(matches!(text, PathText::Bytes { .. }));
        let json = serde_json::to_string(&text).unwrap();
        let back: PathText = serde_json::from_str(&json).unwrap();
        assert_eq!(back.path(), Some(raw));
        let plain = PathText::of(Path::new("a/b.jpg"));
        assert_eq!(serde_json::to_string(&plain).unwrap(), "\"a/b.jpg\"");
        assert_eq!(PathText::Bytes { hex: "6".into() }.path(), None);
    }

    fn change(
        run: &str,
        change: &str,
        path: Option<&str>,
        file: Option<(u64, u64)>,
        detail: Option<&str>,
    ) -> ChangeLine {
        ChangeLine {
            run: run.into(),
            change: change.into(),
            path: path.map(|p| PathText::Text(p.into())),
            old_status: (change == "removed" || change.starts_with("became")).then(|| "green".to_string()),
            new_status: (change != "removed").then(|| "red".to_string()),
            detail: detail.map(str::to_string),
            file,
        }
    }

    #[test]
    fn the_shards_changes_merge_into_one_runs_order_and_counts() {
        let walk: std::collections::HashMap<PathBuf, u64> =
            [("/a/1.jpg", 1), ("/a/2.jpg", 2), ("/a/3.jpg", 3), ("/b/moved.jpg", 4), ("/b/new.jpg", 5)]
                .into_iter()
                .map(|(p, i)| (PathBuf::from(p), i))
                .collect();
        let used = |n: u32| format!("c1 (Anna) expired on 2026-11-01; used by {n} file(s) at the previous run");
        let shard0 = vec![
            change("t1", "became-red", Some("/a/3.jpg"), None, None),
            change("t1", "new", Some("/b/moved.jpg"), Some((1, 77)), None),
            change("t1", "removed", Some("/z/gone.jpg"), Some((1, 5)), None),
            change("t1", "consent-expired", None, None, Some(&used(2))),
        ];
        let shard1 = vec![
            change("t2", "became-yellow", Some("/a/1.jpg"), None, None),
            change("t2", "new", Some("/b/new.jpg"), Some((1, 8)), None),
            change("t2", "removed", Some("/a/old.jpg"), Some((1, 77)), None),
            change("t2", "consent-expired", None, None, Some(&used(3))),
            change(
                "t2",
                "consent-revoked",
                None,
                None,
                Some("b2 (Ben) revoked on 2026-10-01; used by 1 file(s) at the previous run"),
            ),
        ];
        let merged = merge_changes(vec![shard0, shard1], |p| walk.get(p).copied());
        let summary: Vec<(String, Option<String>, Option<String>)> = merged
            .iter()
            .map(|c| {
                (
                    c.change.clone(),
                    c.path.as_ref().and_then(PathText::path).map(|p| p.display().to_string()),
                    c.detail.clone(),
                )
            })
            .collect();
        let s =
            |c: &str, p: Option<&str>, d: Option<&str>| (c.to_string(), p.map(str::to_string), d.map(str::to_string));
        assert_eq!(
            summary,
            [
                s("became-yellow", Some("/a/1.jpg"), None),
                s("became-red", Some("/a/3.jpg"), None),
                // Removed from shard 1's part, new in shard 0's: one file moved.
                s("moved", Some("/b/moved.jpg"), Some("from /a/old.jpg")),
                s("new", Some("/b/new.jpg"), None),
                s("removed", Some("/z/gone.jpg"), None),
                s(
                    "consent-revoked",
                    None,
                    Some("b2 (Ben) revoked on 2026-10-01; used by 1 file(s) at the previous run")
                ),
                s("consent-expired", None, Some(&used(5))),
            ]
        );
        assert_eq!(merged[2].old_status.as_deref(), Some("green"), "a moved file's old status is the removed one's");
        assert!(merged.iter().all(|c| c.run == "t2" && c.file.is_none()), "one run: the latest time");
    }
}
