//! The HTML report (SPEC.md 7): `report KIND --format html -o DIR` writes a self-contained folder,
//! `index.html` plus `thumbs/*.jpg`, that works offline in any browser.
//!
//! Reports over files (a `path` column) show one row per file with its thumbnail, status,
//! depicted and missing persons, consents, valid-until date, usage and error, grouped by status
//! (red, yellow and unreadable first). Other reports are one table. Headers sort, a text box
//! and status boxes filter, also from the address (`index.html#q=Anna&status=red,yellow&sort=-path`),
//! all in a small inline script; styles are inline too. The page loads nothing from anywhere:
//! its Content-Security-Policy forbids it, and it links only to its own thumbnails.
//!
//! Names come from file metadata, which anyone can write: every text is HTML-escaped, and no
//! data ever goes into the script. The folder is written into a temporary directory beside DIR
//! (mode 0700, files 0600: the report names people and shows them) and renamed into place when
//! complete; a previous report there (it has a `.consentry-report` marker) is replaced, anything
//! else is refused.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::consent::Status;
use crate::media::Format;
use crate::model::Date;
use crate::report::{Evaluated, Rows, Table};
use crate::thumbnail::{self, Placeholder, Thumb, ThumbSource};

/// The file that marks a directory as a consentry HTML report (replaceable by the next one).
pub const MARKER: &str = crate::own::REPORT_MARKER;
/// The folder of thumbnails inside the report.
pub const THUMBS: &str = "thumbs";

/// Options of [`write_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest side of a thumbnail in pixels.
    pub max_side: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_side: thumbnail::DEFAULT_MAX_SIDE }
    }
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlSummary {
    /// The report's `index.html`.
    pub index: PathBuf,
    /// Rows of the report (files, for reports over files).
    pub rows: usize,
    /// Thumbnail images written (`thumbs/*.jpg`).
    pub thumbnails: usize,
    /// Of those, how many came from an embedded preview.
    pub from_previews: usize,
    /// Files shown with a placeholder instead (video, no preview, unreadable).
    pub placeholders: usize,
}

/// Write the report `table` (with the evaluated `files` it was computed from, for thumbnails and
/// details) as an HTML folder at `dir`, with default [`Options`]. Thumbnails are made in
/// parallel on the current rayon pool.
pub fn write(dir: &Path, title: &str, date: Date, table: &Table, files: &[Evaluated]) -> Result<HtmlSummary, Error> {
    write_with(dir, title, date, table, files, &Options::default())
}

/// [`write()`] with options.
pub fn write_with(
    dir: &Path,
    title: &str,
    date: Date,
    table: &Table,
    files: &[Evaluated],
    options: &Options,
) -> Result<HtmlSummary, Error> {
    let existing = check_target(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, Some("cannot create the directory"), e))?;
    let tmp = tempfile::Builder::new()
        .prefix(crate::own::REPORT_TEMP_PREFIX)
        .permissions(crate::own::private_dir_permissions())
        .tempdir_in(parent)
        .map_err(|e| Error::io(dir, Some("cannot create a temporary directory beside it"), e))?;
    let page = Page::new(title, date, table, files);
    let thumbs = make_thumbnails(tmp.path(), &page, options)?;
    let html = render(&page, &thumbs, options);
    write_private(&tmp.path().join("index.html"), html.as_bytes())?;
    write_private(&tmp.path().join(MARKER), b"consentry HTML report; this directory is replaced by the next one\n")?;
    install(tmp, dir, existing)?;
    let written: Vec<&ThumbCell> = thumbs.values().collect();
    Ok(HtmlSummary {
        index: dir.join("index.html"),
        rows: table.len(),
        thumbnails: written.iter().filter(|c| matches!(c, ThumbCell::Image { .. })).count(),
        from_previews: written
            .iter()
            .filter(|c| matches!(c, ThumbCell::Image { source: ThumbSource::Preview, .. }))
            .count(),
        placeholders: written.iter().filter(|c| matches!(c, ThumbCell::Placeholder { .. })).count(),
    })
}

// ---------------------------------------------------------------------------------------------
// The folder
// ---------------------------------------------------------------------------------------------

/// Why an HTML report could not be written. Each variant displays its whole text, causes
/// included (see `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or folder at `path` could not be made, read or put in place (`doing`: what was
    /// being done).
    #[error("{}: {}{}", .path.display(), .doing.map(|d| format!("{d}: ")).unwrap_or_default(), crate::error::with_causes(.cause))]
    Io { path: PathBuf, doing: Option<&'static str>, cause: io::Error },
    /// The target is not a place a report is written to (left as it is).
    #[error("{0}")]
    Refused(String),
}

impl Error {
    fn io(path: &Path, doing: Option<&'static str>, cause: io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), doing, cause }
    }
}

/// What is at the target path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Nothing,
    /// An empty directory, or a previous consentry report: replaced.
    Replaceable,
}

fn check_target(dir: &Path) -> Result<Existing, Error> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(Error::io(dir, None, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Refused(format!(
            "{}: is a symbolic link; give the report's directory itself",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        // Never written into: a file is left as it is, a FIFO or device never opened.
        return Err(Error::Refused(format!(
            "{}: is {}, not a directory; the HTML report is a folder (-o DIR)",
            dir.display(),
            crate::media::source::kind_of(meta.file_type())
        )));
    }
    if dir.join(MARKER).is_file() {
        return Ok(Existing::Replaceable);
    }
    let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, Some("cannot read the directory"), e))?;
    if entries.next().is_none() {
        return Ok(Existing::Replaceable);
    }
    Err(Error::Refused(format!(
        "{}: exists, is not empty and is not a consentry report (no {MARKER}); it is left alone: \
         choose another directory",
        dir.display()
    )))
}

/// Create `path` readable and writable by the owner only, with `data`.
fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut f = crate::own::create_private(path).map_err(|e| Error::io(path, Some("cannot create"), e))?;
    f.write_all(data).map_err(|e| Error::io(path, Some("cannot write"), e))?;
    Ok(())
}

/// Move the finished folder to `dir`: a rename when nothing is there; otherwise the two are
/// exchanged atomically where the system can (Linux), else the old one is moved aside first;
/// then the old report is removed.
fn install(tmp: tempfile::TempDir, dir: &Path, existing: Existing) -> Result<(), Error> {
    let fail = |e: io::Error| Error::io(dir, Some("cannot put the report in place"), e);
    if existing == Existing::Nothing {
        fs::rename(tmp.path(), dir).map_err(fail)?;
        let _ = tmp.keep();
        return Ok(());
    }
    if exchange(tmp.path(), dir).is_ok() {
        // The old report now sits in the temporary directory, removed when it is dropped.
        return Ok(());
    }
    let aside = tempfile::Builder::new()
        .prefix(crate::own::OLD_REPORT_PREFIX)
        .tempdir_in(tmp.path().parent().unwrap_or(Path::new(".")))
        .map_err(fail)?;
    let old = aside.path().join("report");
    fs::rename(dir, &old).map_err(fail)?;
    if let Err(e) = fs::rename(tmp.path(), dir) {
        let _ = fs::rename(&old, dir); // put the old report back
        return Err(fail(e));
    }
    let _ = tmp.keep();
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// How a file's thumbnail is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ThumbCell {
    /// `thumbs/NAME`, its size.
    Image {
        name: String,
        width: u32,
        height: u32,
        source: ThumbSource,
    },
    Placeholder {
        kind: Placeholder,
        reason: String,
    },
}

/// Make the thumbnail of every distinct file shown, in parallel, into `root/thumbs`. Named by
/// number (file names can carry names of people; thumbnail names never do).
fn make_thumbnails(root: &Path, page: &Page, options: &Options) -> Result<HashMap<PathBuf, ThumbCell>, Error> {
    let mut jobs: Vec<(&Path, Option<Format>, bool)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in &page.rows {
        if let Some(f) = row.file {
            if seen.insert(f.record.path.as_path()) {
                jobs.push((&f.record.path, f.record.format, f.record.is_media()));
            }
        }
    }
    let thumbs = root.join(THUMBS);
    crate::own::private_dir().create(&thumbs).map_err(|e| Error::io(&thumbs, Some("cannot create"), e))?;
    let cells: Vec<Result<(PathBuf, ThumbCell), Error>> = jobs
        .par_iter()
        .enumerate()
        .map(|(i, &(path, format, media))| {
            let thumb = if media {
                thumbnail::thumbnail(path, format, options.max_side)
            } else {
                Thumb::Placeholder { kind: Placeholder::Unreadable, reason: "not a readable media file".into() }
            };
            let cell = match thumb {
                Thumb::Jpeg { data, width, height, source } => {
                    let name = format!("{:06}.jpg", i + 1);
                    write_private(&thumbs.join(&name), &data)?;
                    ThumbCell::Image { name, width, height, source }
                }
                Thumb::Placeholder { kind, reason } => ThumbCell::Placeholder { kind, reason },
            };
            Ok((path.to_path_buf(), cell))
        })
        .collect();
    cells.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

/// Status groups in the order shown ([`Status::ALL`]); rows with another status come after, by
/// name.
fn group_rank(status: &str) -> usize {
    Status::ALL.iter().position(|s| s.as_str() == status).unwrap_or(Status::ALL.len())
}

/// The report laid out: rows with their file and group.
struct Page<'a> {
    title: &'a str,
    date: Date,
    table: &'a Table,
    /// Whether rows are files ([`Rows::Files`]).
    per_file: bool,
    rows: Vec<Row<'a>>,
}

struct Row<'a> {
    cells: &'a [Value],
    /// The evaluated file of a file row, when there is one with its path.
    file: Option<&'a Evaluated>,
    /// A file row's path, shown when there is no evaluated file (`report changes`).
    path: Option<&'a Path>,
    /// `red`, `yellow`, `unreadable`, ... (empty for reports not over files).
    status: String,
}

impl<'a> Page<'a> {
    fn new(title: &'a str, date: Date, table: &'a Table, files: &'a [Evaluated]) -> Self {
        let rows = match &table.rows {
            Rows::Other(rows) => {
                rows.iter().map(|cells| Row { cells, file: None, path: None, status: String::new() }).collect()
            }
            Rows::Files(rows) => {
                let by_path: HashMap<&Path, &Evaluated> = files.iter().map(|f| (f.record.path.as_path(), f)).collect();
                let status_col = table.columns.iter().position(|c| *c == "status");
                rows.iter()
                    .map(|r| {
                        let file = r.file.as_deref().and_then(|p| by_path.get(p).copied());
                        let status = match file {
                            Some(f) => f.decision.status.as_str().to_string(),
                            None => status_col
                                .and_then(|i| r.cells.get(i))
                                .and_then(Value::as_str)
                                .unwrap_or("unknown")
                                .to_string(),
                        };
                        Row { cells: &r.cells, file, path: r.file.as_deref(), status }
                    })
                    .collect()
            }
        };
        Page { title, date, table, per_file: table.is_per_file(), rows }
    }

    /// Rows per status, in [`group_rank`] order then by name.
    fn groups(&self) -> Vec<(&str, Vec<&Row<'a>>)> {
        let mut groups: BTreeMap<(usize, &str), Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            let rank = group_rank(&r.status);
            groups.entry((rank, r.status.as_str())).or_default().push(r);
        }
        groups.into_iter().map(|((_, s), rows)| (s, rows)).collect()
    }
}

/// HTML-escape text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON cell as text: lists joined with `, `, objects as `name (reason)`.
fn cell_text(v: &Value) -> String {
    crate::output::cell_text_joined(v, ", ")
}

/// Column heading: `valid_until` -> `Valid until`.
fn heading(column: &str) -> String {
    let s = column.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// Columns a file row shows from the file itself; the table's other columns follow them.
const FILE_COLUMNS: [(&str, &str); 9] = [
    ("thumb", ""),
    ("path", "File"),
    ("status", "Status"),
    ("persons", "Depicted"),
    ("missing", "Missing consent"),
    ("consents", "Consents"),
    ("valid_until", "Valid until"),
    ("usage", "Usage"),
    ("error", "Error"),
];

fn render(page: &Page, thumbs: &HashMap<PathBuf, ThumbCell>, options: &Options) -> String {
    let mut h = String::with_capacity(4096 + page.rows.len() * 1024);
    let date = page.date.to_string();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <meta name=\"generator\" content=\"consentry {}\">\n<title>{} ({})</title>\n<style>{}</style>\n</head>\n",
        env!("CARGO_PKG_VERSION"),
        escape(page.title),
        escape(&date),
        style(options.max_side)
    );
    let thumb_count = thumbs.values().filter(|c| matches!(c, ThumbCell::Image { .. })).count();
    let _ = writeln!(
        h,
        "<body data-rows=\"{}\" data-thumbs=\"{thumb_count}\" data-thumbs-loaded=\"0\" data-thumbs-broken=\"0\">",
        page.rows.len()
    );
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(page.title));
    let noun = if page.per_file { "files" } else { "rows" };
    let _ = writeln!(
        h,
        "<p class=\"meta\">Evaluated on <time datetime=\"{d}\">{d}</time> &middot; {} {noun} &middot; \
         consentry {}. This report names and shows people: keep it where only those entitled can \
         read it.</p>",
        page.rows.len(),
        env!("CARGO_PKG_VERSION"),
        d = escape(&date),
    );
    let groups = page.groups();
    if page.per_file {
        h.push_str("<ul class=\"counts\">");
        for (status, rows) in &groups {
            let _ = write!(h, "<li class=\"st st-{s}\">{s} <b>{}</b></li>", rows.len(), s = escape(status));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</header>\n<nav class=\"controls\">\n<label>Filter <input id=\"q\" type=\"search\" autocomplete=\"off\" placeholder=\"name, path, reason, consent...\"></label>\n");
    if page.per_file && !groups.is_empty() {
        h.push_str("<span id=\"statuses\">");
        for (status, rows) in &groups {
            let _ = write!(
                h,
                "<label class=\"st-{s}\"><input type=\"checkbox\" value=\"{s}\" checked> {s} ({})</label>",
                rows.len(),
                s = escape(status)
            );
        }
        h.push_str("</span>\n");
    }
    h.push_str("<output id=\"shown\"></output>\n</nav>\n<main>\n");
    if page.rows.is_empty() {
        h.push_str("<p class=\"empty\">Nothing to report.</p>\n");
    } else if page.per_file {
        let extra = extra_columns(page.table);
        for (status, rows) in &groups {
            let _ = writeln!(
                h,
                "<section class=\"group\" data-status=\"{s}\">\n<h2><span class=\"st st-{s}\">{s}</span> <span class=\"n\">{}</span></h2>",
                rows.len(),
                s = escape(status)
            );
            file_table(&mut h, page, rows, &extra, thumbs);
            h.push_str("</section>\n");
        }
    } else {
        h.push_str("<section class=\"group\">\n");
        generic_table(&mut h, page);
        h.push_str("</section>\n");
    }
    let _ = write!(h, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
    h
}

/// Table columns a file row shows besides [`FILE_COLUMNS`] (e.g. `lacking` of `unreleased`).
fn extra_columns(table: &Table) -> Vec<(usize, &'static str)> {
    table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !FILE_COLUMNS.iter().any(|(k, _)| k == *c))
        .map(|(i, c)| (i, *c))
        .collect()
}

fn header_row(h: &mut String, headings: &[(String, String)]) {
    h.push_str("<thead><tr>");
    for (key, label) in headings {
        if key == "thumb" {
            h.push_str("<th class=\"thumb\"></th>");
        } else {
            let _ =
                write!(h, "<th class=\"sortable\" data-key=\"{}\" tabindex=\"0\">{}</th>", escape(key), escape(label));
        }
    }
    h.push_str("</tr></thead>\n");
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut s = String::from("<ul>");
    for i in items {
        let _ = write!(s, "<li>{i}</li>");
    }
    s.push_str("</ul>");
    s
}

fn file_table(
    h: &mut String,
    page: &Page,
    rows: &[&Row],
    extra: &[(usize, &str)],
    thumbs: &HashMap<PathBuf, ThumbCell>,
) {
    let mut headings: Vec<(String, String)> =
        FILE_COLUMNS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect();
    headings.extend(extra.iter().map(|(_, c)| (c.to_string(), heading(c))));
    h.push_str("<table class=\"files\">\n");
    header_row(h, &headings);
    h.push_str("<tbody>\n");
    let col = |name: &str| page.table.columns.iter().position(|c| *c == name);
    for row in rows {
        let cell = |name: &str| col(name).and_then(|i| row.cells.get(i)).map(cell_text).unwrap_or_default();
        let mut search = Vec::new();
        let path = match (row.file, row.path) {
            (Some(f), _) => f.path(),
            (None, Some(p)) => p.to_string_lossy().into_owned(),
            (None, None) => String::new(),
        };
        let (persons, missing, consents, until, usage, error) = match row.file {
            Some(f) => {
                let d = &f.decision;
                let mut persons: Vec<String> = f.record.depicted.persons.iter().cloned().collect();
                if f.record.depicted.unnamed_faces > 0 {
                    let n = f.record.depicted.unnamed_faces;
                    persons.push(format!("{n} unnamed face{}", if n == 1 { "" } else { "s" }));
                }
                let missing: Vec<(String, &str)> =
                    d.missing.iter().map(|m| (m.name.clone(), m.reason.as_str())).collect();
                (
                    persons,
                    missing,
                    d.consents.clone(),
                    d.valid_until.map(|v| v.to_string()).unwrap_or_default(),
                    d.usage.join(", "),
                    f.record.error().unwrap_or_default(),
                )
            }
            None => (Vec::new(), Vec::new(), Vec::new(), String::new(), cell("usage"), cell("error")),
        };
        search.push(path.clone());
        search.push(row.status.clone());
        search.extend(persons.iter().cloned());
        search.extend(missing.iter().map(|(n, r)| format!("{n} {r}")));
        search.extend(consents.iter().cloned());
        search.extend([until.clone(), usage.clone(), error.clone()]);
        let extras: Vec<String> =
            extra.iter().map(|(i, _)| row.cells.get(*i).map(cell_text).unwrap_or_default()).collect();
        search.extend(extras.iter().cloned());
        let s = escape(&row.status);
        let _ = write!(
            h,
            "<tr class=\"row st-{s}\" data-status=\"{s}\" data-text=\"{}\">",
            escape(&search.join(" ").to_lowercase())
        );
        // thumbnail
        h.push_str("<td class=\"thumb\">");
        match row.file.and_then(|f| thumbs.get(&f.record.path)) {
            Some(ThumbCell::Image { name, width, height, source }) => {
                let from = match source {
                    ThumbSource::Preview => "embedded preview",
                    ThumbSource::Decoded => "decoded image",
                };
                let _ = write!(
                    h,
                    "<img class=\"thumb\" src=\"{THUMBS}/{}\" width=\"{width}\" height=\"{height}\" alt=\"thumbnail\" title=\"{from}\">",
                    escape(name)
                );
            }
            Some(ThumbCell::Placeholder { kind, reason }) => {
                let _ = write!(
                    h,
                    "<div class=\"ph ph-{}\" role=\"img\" aria-label=\"{l}\" title=\"{}\">{l}</div>",
                    kind.as_str(),
                    escape(reason),
                    l = kind.label()
                );
            }
            None => {
                h.push_str("<div class=\"ph ph-no-preview\" role=\"img\" aria-label=\"No preview\">No preview</div>")
            }
        }
        h.push_str("</td>");
        let _ = write!(h, "<td class=\"path\">{}</td>", escape(&path));
        let _ = write!(h, "<td class=\"status\"><span class=\"st st-{s}\">{s}</span></td>");
        let persons: Vec<String> = persons.iter().map(|p| escape(p)).collect();
        let _ = write!(h, "<td class=\"persons\">{}</td>", list(&persons));
        let missing: Vec<String> =
            missing.iter().map(|(n, r)| format!("{} <span class=\"reason\">{}</span>", escape(n), escape(r))).collect();
        let _ = write!(h, "<td class=\"missing\">{}</td>", list(&missing));
        let _ = write!(h, "<td class=\"consents\">{}</td>", escape(&consents.join(", ")));
        let _ = write!(h, "<td class=\"until\">{}</td>", escape(&until));
        let _ = write!(h, "<td class=\"usage\">{}</td>", escape(&usage));
        let _ = write!(h, "<td class=\"error\">{}</td>", escape(&error));
        for e in &extras {
            let _ = write!(h, "<td>{}</td>", escape(e));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn generic_table(h: &mut String, page: &Page) {
    let headings: Vec<(String, String)> = page.table.columns.iter().map(|c| (c.to_string(), heading(c))).collect();
    h.push_str("<table class=\"plain\">\n");
    header_row(h, &headings);
    h.push_str("<tbody>\n");
    for row in &page.rows {
        let texts: Vec<String> = row.cells.iter().map(cell_text).collect();
        let _ = write!(h, "<tr class=\"row\" data-text=\"{}\">", escape(&texts.join(" ").to_lowercase()));
        for (v, t) in row.cells.iter().zip(&texts) {
            if v.is_number() {
                let _ = write!(h, "<td class=\"num\">{}</td>", escape(t));
            } else {
                let _ = write!(h, "<td>{}</td>", escape(t));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// Nothing may be fetched from anywhere; only the page's own styles, script and thumbnails.
const CSP: &str = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; \
                   script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

fn style(max_side: u32) -> String {
    let (pw, ph) = (max_side / 2, max_side * 3 / 8);
    format!(
        r#"
:root {{ color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
body {{ margin: 0 1.5rem 2rem; color: #1d1d1f; background: #fafafa; }}
h1 {{ font-size: 1.5rem; margin: 1.2rem 0 .3rem; }}
h2 {{ font-size: 1.1rem; margin: 1.5rem 0 .5rem; }}
.meta {{ color: #555; margin: 0 0 .6rem; }}
.counts {{ list-style: none; padding: 0; margin: .4rem 0; display: flex; gap: .5rem; flex-wrap: wrap; }}
.controls {{ position: sticky; top: 0; background: #fafafa; padding: .6rem 0; border-bottom: 1px solid #ddd;
  display: flex; gap: 1rem; flex-wrap: wrap; align-items: center; z-index: 1; }}
.controls input[type=search] {{ width: 22rem; max-width: 80vw; padding: .3rem .5rem; font: inherit; }}
#statuses label {{ margin-right: .6rem; white-space: nowrap; }}
#shown {{ color: #555; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: .35rem .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; position: relative; }}
th.sortable {{ cursor: pointer; user-select: none; white-space: nowrap; }}
th.sortable::after {{ content: " \2195"; color: #aaa; }}
th[aria-sort=ascending]::after {{ content: " \2191"; color: #333; }}
th[aria-sort=descending]::after {{ content: " \2193"; color: #333; }}
td.thumb {{ width: {max_side}px; }}
td.path {{ font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; word-break: break-all; max-width: 28rem; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td ul {{ margin: 0; padding-left: 1.1rem; }}
td.error {{ color: #7b1fa2; font-size: .85rem; max-width: 24rem; }}
.reason {{ color: #b71c1c; font-size: .85rem; }}
img.thumb {{ display: block; max-width: {max_side}px; max-height: {max_side}px; width: auto; height: auto; background: #eee; }}
img.thumb.broken {{ outline: 2px dashed #b71c1c; min-width: 4rem; min-height: 3rem; }}
.ph {{ width: {pw}px; height: {ph}px; max-width: 100%; display: flex; align-items: center; justify-content: center;
  background: repeating-linear-gradient(45deg, #eee, #eee 8px, #e4e4e4 8px, #e4e4e4 16px); color: #666;
  border: 1px solid #ddd; font-size: .9rem; box-sizing: border-box; }}
.ph-video::before {{ content: "\25B6\FE0E"; margin-right: .4rem; }}
.ph-unreadable {{ color: #7b1fa2; }}
.st {{ display: inline-block; padding: .05rem .45rem; border-radius: .6rem; font-weight: 600; font-size: .85rem;
  background: #e0e0e0; color: #333; }}
.st-red .st, span.st-red, li.st-red {{ background: #ffcdd2; color: #b71c1c; }}
.st-yellow .st, span.st-yellow, li.st-yellow {{ background: #fff3c4; color: #7a5c00; }}
.st-unreadable .st, span.st-unreadable, li.st-unreadable {{ background: #e1bee7; color: #4a148c; }}
.st-green .st, span.st-green, li.st-green {{ background: #c8e6c9; color: #1b5e20; }}
.counts li {{ padding: .15rem .6rem; border-radius: .8rem; background: #e0e0e0; }}
.empty {{ color: #555; font-style: italic; }}
[hidden] {{ display: none !important; }}
@media print {{ .controls {{ display: none; }} }}
"#
    )
}

/// Sorting, filtering, the filter from the address, and the thumbnail check. It reads the page,
/// never data: nothing from the files reaches the script's text.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  var body = document.body;
  var q = document.getElementById('q');
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#statuses input'));
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.row'));
  var groups = Array.prototype.slice.call(document.querySelectorAll('section.group'));
  var shownOut = document.getElementById('shown');

  function apply() {
    var terms = q.value.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var shown = 0;
    rows.forEach(function (r) {
      var text = r.getAttribute('data-text') || '';
      var status = r.getAttribute('data-status');
      var ok = (!status || on[status] !== false) && terms.every(function (t) { return text.indexOf(t) >= 0; });
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    groups.forEach(function (g) {
      var all = g.querySelectorAll('tr.row').length;
      var visible = g.querySelectorAll('tr.row:not([hidden])').length;
      var n = g.querySelector('.n');
      if (n) { n.textContent = visible === all ? String(all) : visible + ' of ' + all; }
      g.hidden = all > 0 && visible === 0;
    });
    shownOut.textContent = shown + ' of ' + rows.length + ' shown';
    body.setAttribute('data-shown', String(shown));
  }

  var sorted = '';

  function toHash() {
    var parts = [];
    if (q.value) { parts.push('q=' + encodeURIComponent(q.value)); }
    if (sorted) { parts.push('sort=' + encodeURIComponent(sorted)); }
    var off = boxes.filter(function (b) { return !b.checked; });
    if (off.length) {
      parts.push('status=' + boxes.filter(function (b) { return b.checked; })
        .map(function (b) { return encodeURIComponent(b.value); }).join(','));
    }
    try { history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname); } catch (e) { /* file: URLs */ }
  }

  function fromHash() {
    var h = location.hash.replace(/^#/, '');
    if (!h) { return; }
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i < 0) { return; }
      var k = kv.slice(0, i), v;
      try { v = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' ')); } catch (e) { return; }
      if (k === 'q') { q.value = v; }
      if (k === 'status') {
        var want = v.split(',');
        boxes.forEach(function (b) { b.checked = want.indexOf(b.value) >= 0; });
      }
      if (k === 'sort') {
        var down = v.charAt(0) === '-', name = down ? v.slice(1) : v;
        var th = Array.prototype.filter.call(document.querySelectorAll('th.sortable'), function (t) {
          return t.getAttribute('data-key') === name;
        })[0];
        if (th) { sortBy(th, down ? -1 : 1); }
      }
    });
  }

  // Sort by the column of `th`: `dir` 1 ascending, -1 descending, none: the other way round.
  function sortBy(th, dir) {
    var table = th.closest('table');
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var key = th.getAttribute('data-key');
    if (!dir) { dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1; }
    sorted = (dir === 1 ? '' : '-') + key;
    document.querySelectorAll('th.sortable').forEach(function (other) {
      other.removeAttribute('aria-sort');
      if (other.getAttribute('data-key') === key) {
        other.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      }
    });
    // Every group's table by the same column, so that the groups stay comparable.
    var tables = table.classList.contains('files') ? document.querySelectorAll('table.files') : [table];
    Array.prototype.forEach.call(tables, function (t) {
      var tbody = t.tBodies[0];
      var list = Array.prototype.slice.call(tbody.rows);
      var text = function (r) { var c = r.cells[index]; return c ? c.textContent.trim() : ''; };
      list.sort(function (a, b) {
        var x = text(a), y = text(b);
        var nx = parseFloat(x), ny = parseFloat(y);
        if (x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y) {
          return (nx - ny) * dir;
        }
        if (x === '' && y !== '') { return 1; }
        if (y === '' && x !== '') { return -1; }
        return x.localeCompare(y, undefined, { numeric: true, sensitivity: 'base' }) * dir;
      });
      list.forEach(function (r) { tbody.appendChild(r); });
    });
  }

  document.querySelectorAll('th.sortable').forEach(function (th) {
    th.addEventListener('click', function () { sortBy(th); toHash(); });
    th.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); toHash(); }
    });
  });
  q.addEventListener('input', function () { apply(); toHash(); });
  boxes.forEach(function (b) { b.addEventListener('change', function () { apply(); toHash(); }); });
  window.addEventListener('hashchange', function () { fromHash(); apply(); });

  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.thumb'));
  function countThumbs() {
    var loaded = 0, broken = 0;
    imgs.forEach(function (img) {
      if (!img.complete) { return; }
      if (img.naturalWidth > 0) { loaded++; img.classList.remove('broken'); }
      else { broken++; img.classList.add('broken'); }
    });
    body.setAttribute('data-thumbs-loaded', String(loaded));
    body.setAttribute('data-thumbs-broken', String(broken));
  }
  imgs.forEach(function (img) {
    img.addEventListener('load', countThumbs);
    img.addEventListener('error', countThumbs);
  });
  window.addEventListener('load', countThumbs);

  fromHash();
  apply();
  countThumbs();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{Decision, Missing, Reason};
    use crate::media::MediaError;
    use crate::people::Depicted;
    use crate::report::FileRow;
    use crate::scan::{Damage, FileRecord, ReadError};
    use serde_json::json;

    const HOSTILE: &str = "<script>alert(1)</script> \"&'";

    fn evaluated(path: &str, status: Status, persons: &[&str], error: Option<&str>) -> Evaluated {
        let depicted = Depicted { persons: persons.iter().map(|p| p.to_string()).collect(), ..Depicted::default() };
        let missing = match status {
            Status::Red | Status::Yellow => {
                persons.iter().map(|p| Missing { name: p.to_string(), reason: Reason::Unknown }).collect()
            }
            _ => Vec::new(),
        };
        Evaluated {
            record: FileRecord {
                errors: error
                    .map(|e| ReadError::Media {
                        format: Format::Jpeg,
                        error: Damage::new(MediaError::malformed("data", 0, e)),
                    })
                    .into_iter()
                    .collect(),
                ..FileRecord::known(PathBuf::from(path), Some(Format::Jpeg), depicted, Vec::new(), None)
            },
            rel_path: Some(path.to_string()),
            decision: Decision {
                status,
                usage: if status == Status::Green { vec!["print".into()] } else { Vec::new() },
                missing,
                consents: if status == Status::Green { vec!["7".into()] } else { Vec::new() },
                valid_until: (status == Status::Green).then(|| Date::from_ymd_opt(2099, 12, 31).unwrap()),
                notes: Vec::new(),
                exempted: Vec::new(),
            },
        }
    }

    fn sample() -> Vec<Evaluated> {
        vec![
            evaluated("a/green.jpg", Status::Green, &["Anna"], None),
            evaluated("a/yellow.jpg", Status::Yellow, &["Ben"], None),
            evaluated("a/broken.jpg", Status::Unreadable, &[], Some("truncated <EOF>")),
            evaluated("a/red.jpg", Status::Red, &[HOSTILE], None),
            evaluated("a/exempt.jpg", Status::Exempt, &["Oma"], None),
        ]
    }

    fn table(files: &[Evaluated]) -> Table {
        let rows = files
            .iter()
            .map(|f| {
                FileRow::new(
                    &f.record.path,
                    vec![json!(f.path()), json!(f.decision.status.as_str()), json!(["web", "tv"])],
                )
            })
            .collect();
        Table::files(vec!["path", "status", "lacking"], rows)
    }

    fn date() -> Date {
        Date::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn page_html(files: &[Evaluated], table: &Table) -> String {
        let page = Page::new("Files <missing>", date(), table, files);
        render(&page, &HashMap::new(), &Options::default())
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(HOSTILE), "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;");
        assert_eq!(escape("Jürgen Groß"), "Jürgen Groß");
        let files = sample();
        let html = page_html(&files, &table(&files));
        assert!(!html.contains("<script>alert"), "raw hostile name in the page");
        assert!(!html.contains("\"&'"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;"));
        assert!(html.contains("<title>Files &lt;missing&gt; (2026-11-22)</title>"));
        assert!(html.contains("truncated &lt;EOF&gt;"));
        // One script element: the page's own.
        assert_eq!(html.matches("<script").count(), 1);
        for bad in ["http://", "https://", "//cdn", "src=\"/"] {
            assert!(!html.contains(bad), "{bad}");
        }
    }

    #[test]
    fn rows_are_grouped_by_status_red_yellow_unreadable_first() {
        let files = sample();
        let html = page_html(&files, &table(&files));
        let at = |s: &str| {
            html.find(&format!("<section class=\"group\" data-status=\"{s}\">")).unwrap_or_else(|| panic!("{s}"))
        };
        assert!(at("red") < at("yellow"));
        assert!(at("yellow") < at("unreadable"));
        assert!(at("unreadable") < at("green"));
        assert!(at("green") < at("exempt"));
        assert_eq!(html.matches("<tr class=\"row").count(), 5);
        // The unreadable file is in its group.
        let broken = html.find("a/broken.jpg").unwrap();
        assert!(broken > at("unreadable") && broken < at("green"));
        // Details from the evaluation, and the report's own extra column.
        assert!(html.contains(
            "<td class=\"consents\">7</td><td class=\"until\">2099-12-31</td><td class=\"usage\">print</td>"
        ));
        assert!(html.contains("<th class=\"sortable\" data-key=\"lacking\" tabindex=\"0\">Lacking</th>"));
        assert!(html.contains("<td>web, tv</td>"));
        assert!(html.contains("Ben <span class=\"reason\">unknown</span>"));
        // Search text covers names and reasons, in lower case.
        assert!(html.contains("data-text=\"a/yellow.jpg yellow ben ben unknown"));
        // Counts per status in the header and the boxes.
        assert!(html.contains("<li class=\"st st-red\">red <b>1</b></li>"));
        assert!(html.contains("<input type=\"checkbox\" value=\"unreadable\" checked> unreadable (1)"));
    }

    #[test]
    fn reports_not_over_files_are_one_table() {
        let t = Table::other(
            vec!["name", "files", "suggestions"],
            vec![vec![json!(HOSTILE), json!(3), json!(["Anna Schmidt", "Anna Schmid"])]],
        );
        let html = page_html(&[], &t);
        assert!(!html.contains("<section class=\"group\" data-status"));
        assert!(html.contains("<td class=\"num\">3</td><td>Anna Schmidt, Anna Schmid</td>"));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("id=\"statuses\""));
        let empty = page_html(&[], &Table::files(vec!["path", "status"], Vec::new()));
        assert!(empty.contains("Nothing to report."));
    }

    #[test]
    fn file_rows_are_known_by_their_type_not_by_a_column_name() {
        let files = sample();
        // Rows about files, whatever their columns are called: grouped, with each file's details.
        let rows = files.iter().map(|f| FileRow::new(&f.record.path, vec![json!(f.path())])).collect();
        let html = page_html(&files, &Table::files(vec!["file"], rows));
        assert!(html.contains("<section class=\"group\" data-status=\"red\">"));
        assert!(html.contains("Ben <span class=\"reason\">unknown</span>"));
        assert_eq!(html.matches("<tr class=\"row st-").count(), 5);
        // Rows about something else that happen to have a `path` column: one plain table.
        let other = Table::other(vec!["path", "status"], vec![vec![json!("a/red.jpg"), json!("red")]]);
        let html = page_html(&files, &other);
        assert!(!html.contains("<section class=\"group\" data-status"));
        assert!(!html.contains("id=\"statuses\""));
        assert!(html.contains("<td>a/red.jpg</td><td>red</td>"));
    }

    #[test]
    fn errors_name_the_path_and_what_failed() {
        let e = Error::io(Path::new("out/r"), Some("cannot create"), io::Error::other("disk full"));
        assert_eq!(e.to_string(), "out/r: cannot create: disk full");
        assert_eq!(Error::io(Path::new("out/r"), None, io::Error::other("gone")).to_string(), "out/r: gone");
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        fs::write(&file, b"x").unwrap();
        let e = write(&file, "t", date(), &Table::other(vec!["a"], Vec::new()), &[]).unwrap_err();
        assert!(matches!(e, Error::Refused(_)));
        assert_eq!(
            e.to_string(),
            format!("{}: is a regular file, not a directory; the HTML report is a folder (-o DIR)", file.display())
        );
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folder_is_private_complete_and_replaces_only_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let img = tmp.path().join("img.jpg");
        fs::write(&img, consentry_synth::previews::jpeg_image(320, 200, 1)).unwrap();
        let mut files = sample();
        files[3].record.path = img.clone();
        let t = table(&files);
        let dir = tmp.path().join("out/report");
        let s = write(&dir, "Missing", date(), &t, &files).unwrap();
        assert_eq!(s.rows, 5);
        assert_eq!(s.thumbnails, 1);
        assert_eq!(s.placeholders, 4); // the other paths do not exist
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(THUMBS)), 0o700);
        assert_eq!(mode(&dir.join("index.html")), 0o600);
        assert_eq!(mode(&dir.join("thumbs/000004.jpg")), 0o600);
        let thumb = image::open(dir.join("thumbs/000004.jpg")).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (240, 150));
        let html = fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(html.contains("src=\"thumbs/000004.jpg\" width=\"240\" height=\"150\""));
        // Nothing left beside it.
        let beside: Vec<_> = fs::read_dir(dir.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(beside, vec![std::ffi::OsString::from("report")]);

        // A second run replaces the first.
        fs::write(dir.join("stale.txt"), "old").unwrap();
        write(&dir, "Missing", date(), &t, &files[..1]).unwrap();
        assert!(!dir.join("stale.txt").exists());
        assert!(fs::read_to_string(dir.join("index.html")).unwrap().contains("data-rows=\"5\""));
        let beside: Vec<_> = fs::read_dir(dir.parent().unwrap()).unwrap().collect();
        assert_eq!(beside.len(), 1);

        // An empty directory is used; anything else is refused and left alone.
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write(&empty, "Missing", date(), &t, &files).unwrap();
        assert!(empty.join("index.html").exists());
        let other = tmp.path().join("photos");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("keep.jpg"), "x").unwrap();
        let err = write(&other, "Missing", date(), &t, &files).unwrap_err().to_string();
        assert!(err.contains("not a consentry report"), "{err}");
        assert!(other.join("keep.jpg").exists() && !other.join("index.html").exists());
        let file = tmp.path().join("file.html");
        fs::write(&file, "x").unwrap();
        assert!(write(&file, "Missing", date(), &t, &files).unwrap_err().to_string().contains("not a directory"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(write(&link, "Missing", date(), &t, &files).unwrap_err().to_string().contains("symbolic link"));
        let leftovers = fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".consentry"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
