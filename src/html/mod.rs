//! The HTML report (SPEC.md 7): `report KIND --format html -o DIR` writes a self-contained folder,
//! `index.html` plus `thumbs/*.jpg`, that works offline in any browser.
//!
//! Reports over files (rows whose kind is about files) show one row per file with its thumbnail, status,
//! depicted and missing persons, consents, valid-until date, usage and error, grouped by status
//! (red, yellow and unreadable first); a column empty in every row is left out. Above them, the
//! counts of every status among the files checked and a legend of the statuses and reasons.
//! Other reports are one table. The page is in the run's language (`--lang`). Headers sort, a text box
//! and status boxes filter, also from the address (`index.html#q=Anna&status=red,yellow&sort=-path`),
//! all in a small inline script; styles are inline too. The page loads nothing from anywhere:
//! its Content-Security-Policy forbids it, and it links only to its own thumbnails.
//!
//! Names come from file metadata, which anyone can write: every text is HTML-escaped, and no
//! data ever goes into the script. The folder is written into a temporary directory beside DIR
//! (mode 0700, files 0600: the report names people and shows them) and renamed into place when
//! complete; a previous report there (it has a `.consentry-report` marker) is replaced, anything
//! else is refused.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::i18n::Lang;
use crate::media::Format;
use crate::model::Date;
use crate::report::{Evaluated, Table};
use crate::thumbnail::{self, Placeholder, Thumb, ThumbSource};

mod page;

pub use page::escape;
use page::{write_page, Page, ThumbCell};

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

/// Write the report `table` (with the evaluated `files` it was computed from, for thumbnails,
/// details and the counts of every status) as an HTML folder at `dir`, in the language `lang`,
/// with default [`Options`]. Thumbnails are made in parallel on the current rayon pool.
pub fn write(
    dir: &Path,
    title: &str,
    date: Date,
    lang: Lang,
    table: &Table,
    files: &[Evaluated],
) -> Result<HtmlSummary, Error> {
    write_with(dir, title, date, lang, table, files, &Options::default())
}

/// [`write()`] with options.
pub fn write_with(
    dir: &Path,
    title: &str,
    date: Date,
    lang: Lang,
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
    let page = Page::new(title, date, lang, table, files);
    let thumbs = make_thumbnails(tmp.path(), &page, options)?;
    let index = tmp.path().join("index.html");
    let file = crate::own::create_private(&index).map_err(|e| Error::io(&index, Some("cannot create"), e))?;
    let mut w = io::BufWriter::new(file);
    write_page(&mut w, &page, &thumbs, options)
        .and_then(|()| w.flush())
        .map_err(|e| Error::io(&index, Some("cannot write"), e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{Decision, Missing, Reason, Status};
    use crate::people::Depicted;
    use crate::report::{Cell, FileRow, Rows};
    use crate::scan::FileRecord;

    /// The page of a report, as written into the folder.
    fn render(page: &Page, thumbs: &HashMap<PathBuf, ThumbCell>, options: &Options) -> String {
        let mut out = Vec::new();
        write_page(&mut out, page, thumbs, options).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn files_table(columns: Vec<&'static str>, rows: Vec<FileRow>) -> Table {
        Table { columns, rows: Rows::Files(rows) }
    }

    fn other_table(columns: Vec<&'static str>, rows: Vec<Vec<Cell>>) -> Table {
        Table { columns, rows: Rows::Other(rows) }
    }

    fn file_row(path: &Path, cells: Vec<Cell>) -> FileRow {
        FileRow { file: Some(path.to_path_buf()), cells }
    }

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
                errors: error.map(crate::scan::ReadError::damaged_jpeg).into_iter().collect(),
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
                file_row(&f.record.path, vec![f.path().into(), f.decision.status.into(), Cell::list(["web", "tv"])])
            })
            .collect();
        files_table(vec!["path", "status", "lacking"], rows)
    }

    fn date() -> Date {
        Date::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn page_html(files: &[Evaluated], table: &Table) -> String {
        let page = Page::new("Files <missing>", date(), Lang::En, table, files);
        render(&page, &HashMap::new(), &Options::default())
    }

    /// A writer that takes `left` bytes, then fails.
    struct Full {
        left: usize,
        written: Vec<u8>,
    }

    impl io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_page_goes_into_any_writer_and_a_failed_write_is_an_error() {
        let files = sample();
        let t = table(&files);
        let page = Page::new("Files", date(), Lang::En, &t, &files);
        let whole = render(&page, &HashMap::new(), &Options::default());
        let mut full = Full { left: 1000, written: Vec::new() };
        let e = write_page(&mut full, &page, &HashMap::new(), &Options::default()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        // Nothing is written after the failure: what is there is the page's beginning.
        assert_eq!(full.written, whole.as_bytes()[..1000]);
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
        // Headers as the tables print them (`Lang::column`).
        assert!(html.contains("<th class=\"sortable\" data-key=\"lacking\" tabindex=\"0\">LACKING</th>"));
        assert!(html.contains("<td>web, tv</td>"));
        assert!(html.contains("Ben <span class=\"reason\">unknown</span>"));
        // Search text covers names and reasons, in lower case.
        assert!(html.contains("data-text=\"a/yellow.jpg yellow ben ben unknown"));
        // Counts per status in the header and the boxes.
        assert!(html.contains("<li class=\"st st-red\">red <b>1</b></li>"));
        assert!(html.contains("<input type=\"checkbox\" value=\"unreadable\" checked> unreadable (1)"));
    }

    fn page_in(lang: Lang, files: &[Evaluated], table: &Table) -> String {
        let page = Page::new("Dateien", date(), lang, table, files);
        render(&page, &HashMap::new(), &Options::default())
    }

    /// A sample with an unnamed face on the red file.
    fn sample_with_a_face() -> Vec<Evaluated> {
        let mut files = sample();
        files[3].record.depicted.unnamed_faces = 1;
        files[3].decision.missing.push(Missing { name: "unnamed face 1".into(), reason: Reason::UnnamedFace });
        files
    }

    #[test]
    fn a_german_page_has_german_labels_statuses_reasons_and_dates() {
        let files = sample_with_a_face();
        let html = page_in(Lang::De, &files, &table(&files));
        assert!(html.contains("<html lang=\"de\">"));
        assert!(html.contains("<title>Dateien (22.11.2026)</title>"));
        assert!(html.contains("Ausgewertet am <time datetime=\"2026-11-22\">22.11.2026</time> &middot; 5 Dateien"));
        // Statuses in the groups, the rows, the counts and the boxes.
        assert!(html.contains("<h2><span class=\"st st-red\">rot</span>"));
        assert!(html.contains("<td class=\"status\"><span class=\"st st-green\">grün</span></td>"));
        assert!(html.contains("<li class=\"st st-yellow\">gelb <b>1</b></li>"));
        assert!(html.contains("<input type=\"checkbox\" value=\"unreadable\" checked> unlesbar (1)"));
        // Reasons, unnamed faces, dates and headers.
        assert!(html.contains("Ben <span class=\"reason\">unbekannt</span>"));
        // Unnamed faces lacking consent: one entry.
        assert!(
            html.contains("<li><span class=\"reason\" title=\"unbenanntes Gesicht\">1 unbenanntes Gesicht</span></li>")
        );
        assert!(html.contains("<li>1 unbenanntes Gesicht</li>"));
        assert!(html.contains("<td class=\"until\">31.12.2099</td>"));
        assert!(html.contains("data-key=\"valid_until\" tabindex=\"0\">GÜLTIG BIS</th>"));
        assert!(html.contains("data-key=\"path\" tabindex=\"0\">PFAD</th>"));
        assert!(html.contains("Was die Status bedeuten"));
        assert!(html.contains("data-t-shown=\"{shown} von {all} angezeigt\""));
        // The filter finds what the page shows: the German words.
        assert!(html.contains("data-text=\"a/yellow.jpg gelb ben ben unbekannt"));
        // No English label is left, and every message exists (a missing one shows as its id).
        for english in ["Evaluated", "What the statuses mean", "files checked", " unknown<", ">red<", "Valid until"] {
            assert!(!html.contains(english), "{english}");
        }
        // Machine values stay: the status keys that the address and the styles use.
        assert!(html.contains("data-status=\"red\""));
        let empty = page_in(Lang::De, &[], &files_table(vec!["path"], Vec::new()));
        assert!(empty.contains("Nichts zu berichten."));
        for page in [&html, &empty, &page_in(Lang::En, &files, &table(&files))] {
            assert!(!page.contains("html-"), "a message id instead of its text");
        }
    }

    #[test]
    fn the_counts_show_every_status_among_all_files_checked() {
        let files = sample();
        // A report of the red file alone (as `missing` lists only some files): the counts are
        // of every file evaluated, zero ones dimmed.
        let red: Vec<Evaluated> = files.iter().filter(|f| f.decision.status == Status::Red).cloned().collect();
        let html = page_in(Lang::En, &files, &table(&red));
        assert!(html.contains("<span class=\"counts-label\">5 files checked:</span>"));
        for (status, n) in [("red", 1), ("yellow", 1), ("unreadable", 1), ("green", 1), ("exempt", 1)] {
            assert!(html.contains(&format!("<li class=\"st st-{status}\">{status} <b>{n}</b></li>")), "{status}");
        }
        assert!(html.contains("<li class=\"st st-none zero\">none <b>0</b></li>"));
        // The filter boxes are the groups of the rows shown.
        assert!(html.contains("value=\"red\" checked> red (1)"));
        assert!(!html.contains("value=\"green\""));
    }

    #[test]
    fn the_legend_says_what_every_status_and_reason_means_in_each_language() {
        let files = sample();
        for lang in Lang::ALL {
            let html = page_in(lang, &files, &table(&files));
            let legend = &html[html.find("<details class=\"legend\" open>").unwrap()..html.find("</details>").unwrap()];
            for s in Status::ALL {
                let id = format!("html-legend-{}", s.as_str());
                assert!(lang.has(&id), "{id}");
                let entry = format!(
                    "<dt><span class=\"st st-{}\">{}</span></dt><dd>{}</dd>",
                    s.as_str(),
                    lang.status(s.as_str()),
                    escape(&lang.text(&id))
                );
                assert!(legend.contains(&entry), "{lang:?}: {entry}");
            }
            for r in Reason::ALL {
                let text = lang.text(&format!("html-reason-{}", r.as_str()));
                assert!(legend.contains(&format!("{}</span>: {}", lang.reason(r.as_str()), escape(&text))), "{r:?}");
            }
            // Before the rows: seen without scrolling past them.
            assert!(html.find("<details class=\"legend\"").unwrap() < html.find("<main>").unwrap());
        }
        // Not on a page about something else than files.
        let other = other_table(vec!["name"], vec![vec!["Anna".into()]]);
        assert!(!page_in(Lang::En, &[], &other).contains("class=\"legend\""));
    }

    #[test]
    fn a_column_empty_in_every_row_is_left_out() {
        let files = sample();
        // Red and yellow files only (the missing report): no consents, valid-until or usage.
        let needing: Vec<Evaluated> = files[1..4].iter().filter(|f| f.record.errors.is_empty()).cloned().collect();
        let rows = needing.iter().map(|f| file_row(&f.record.path, vec![f.path().into(), Cell::Null])).collect();
        let html = page_in(Lang::En, &needing, &files_table(vec!["path", "note"], rows));
        for gone in ["consents", "valid_until", "usage", "error", "note"] {
            assert!(!html.contains(&format!("data-key=\"{gone}\"")), "{gone}");
        }
        for kept in ["path", "status", "persons", "missing"] {
            assert!(html.contains(&format!("data-key=\"{kept}\"")), "{kept}");
        }
        assert!(!html.contains("<td class=\"until\">") && !html.contains("<td class=\"usage\">"));
        // Each group's table by itself: only the green one has consents, valid-until and usage,
        // only the unreadable one an error, and the green and exempt ones no missing persons.
        let with = page_in(Lang::En, &files, &table(&files));
        let group = |status: &str| {
            let start = with.find(&format!("<section class=\"group\" data-status=\"{status}\">")).unwrap();
            with[start..start + with[start..].find("</section>").unwrap()].to_string()
        };
        for key in ["consents", "valid_until", "usage"] {
            assert!(group("green").contains(&format!("data-key=\"{key}\"")), "{key}");
            assert_eq!(with.matches(&format!("data-key=\"{key}\"")).count(), 1, "{key}");
        }
        assert_eq!(with.matches("<td class=\"until\">").count(), 1);
        assert!(group("unreadable").contains("data-key=\"error\"") && !group("red").contains("data-key=\"error\""));
        assert!(group("red").contains("data-key=\"missing\"") && !group("green").contains("data-key=\"missing\""));
        for status in ["red", "yellow", "unreadable", "green", "exempt"] {
            let g = group(status);
            for key in ["path", "status", "lacking"] {
                assert!(g.contains(&format!("data-key=\"{key}\"")), "{status}: {key}");
            }
        }
        // A table not over files too.
        let other = other_table(
            vec!["name", "empty", "files"],
            vec![vec!["Anna".into(), Cell::Null, Cell::Int(0)], vec!["Ben".into(), "".into(), Cell::Int(2)]],
        );
        let html = page_in(Lang::En, &[], &other);
        assert!(!html.contains("data-key=\"empty\""));
        assert!(html.contains("<td>Anna</td><td class=\"num\">0</td>"));
    }

    #[test]
    fn file_rows_without_an_evaluated_file_are_grouped_by_their_own_status() {
        // `report changes`: rows about files from the state, with what they became.
        let rows = vec![
            file_row(Path::new("a/x.jpg"), vec!["a/x.jpg".into(), "green".into(), "red".into()]),
            file_row(Path::new("a/y.jpg"), vec!["a/y.jpg".into(), "red".into(), "green".into()]),
            file_row(Path::new("a/z.jpg"), vec!["a/z.jpg".into(), "red".into(), Cell::Null]),
        ];
        let t = files_table(vec!["path", "old_status", "new_status"], rows);
        let html = page_in(Lang::De, &[], &t);
        let at = |s: &str| html.find(&format!("<section class=\"group\" data-status=\"{s}\">")).unwrap();
        assert!(at("red") < at("green") && at("green") < at("unknown"));
        assert!(html.contains("<h2><span class=\"st st-red\">rot</span> <span class=\"n\">1</span></h2>"));
        // A row that became nothing known (a removed file) is in a group named in the language.
        assert!(html.contains("<h2><span class=\"st st-unknown\">unbekannt</span>"), "{html}");
        // Counted among the rows (no files were evaluated).
        assert!(html.contains("<li class=\"st st-green\">grün <b>1</b></li>"));
        assert!(!html.contains("<span class=\"counts-label\">"));
    }

    #[test]
    fn paths_break_between_folders() {
        let files = sample();
        let html = page_in(Lang::En, &files, &table(&files));
        assert!(html.contains("<td class=\"path\" title=\"a/red.jpg\">a/<wbr>red.jpg</td>"));
        assert_eq!(page::escape_path("<a>/b/c.jpg"), "&lt;a&gt;/<wbr>b/<wbr>c.jpg");
    }

    #[test]
    fn reports_not_over_files_are_one_table() {
        let t = other_table(
            vec!["name", "files", "suggestions"],
            vec![vec![HOSTILE.into(), Cell::Int(3), Cell::list(["Anna Schmidt", "Anna Schmid"])]],
        );
        let html = page_html(&[], &t);
        assert!(!html.contains("<section class=\"group\" data-status"));
        assert!(html.contains("<td class=\"num\">3</td><td>Anna Schmidt, Anna Schmid</td>"));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("id=\"statuses\""));
        let empty = page_html(&[], &files_table(vec!["path", "status"], Vec::new()));
        assert!(empty.contains("Nothing to report."));
    }

    #[test]
    fn file_rows_are_known_by_their_type_not_by_a_column_name() {
        let files = sample();
        // Rows about files, whatever their columns are called: grouped, with each file's details.
        let rows = files.iter().map(|f| file_row(&f.record.path, vec![f.path().into()])).collect();
        let html = page_html(&files, &files_table(vec!["file"], rows));
        assert!(html.contains("<section class=\"group\" data-status=\"red\">"));
        assert!(html.contains("Ben <span class=\"reason\">unknown</span>"));
        assert_eq!(html.matches("<tr class=\"row st-").count(), 5);
        // Rows about something else that happen to have a `path` column: one plain table.
        let other = other_table(vec!["path", "status"], vec![vec!["a/red.jpg".into(), "red".into()]]);
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
        let e = write(&file, "t", date(), Lang::En, &other_table(vec!["a"], Vec::new()), &[]).unwrap_err();
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
        let s = write(&dir, "Missing", date(), Lang::En, &t, &files).unwrap();
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
        write(&dir, "Missing", date(), Lang::En, &t, &files[..1]).unwrap();
        assert!(!dir.join("stale.txt").exists());
        assert!(fs::read_to_string(dir.join("index.html")).unwrap().contains("data-rows=\"5\""));
        let beside: Vec<_> = fs::read_dir(dir.parent().unwrap()).unwrap().collect();
        assert_eq!(beside.len(), 1);

        // An empty directory is used; anything else is refused and left alone.
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write(&empty, "Missing", date(), Lang::En, &t, &files).unwrap();
        assert!(empty.join("index.html").exists());
        let other = tmp.path().join("photos");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("keep.jpg"), "x").unwrap();
        let err = write(&other, "Missing", date(), Lang::En, &t, &files).unwrap_err().to_string();
        assert!(err.contains("not a consentry report"), "{err}");
        assert!(other.join("keep.jpg").exists() && !other.join("index.html").exists());
        let file = tmp.path().join("file.html");
        fs::write(&file, "x").unwrap();
        assert!(write(&file, "Missing", date(), Lang::En, &t, &files)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(write(&link, "Missing", date(), Lang::En, &t, &files)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        let leftovers = fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".consentry"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
