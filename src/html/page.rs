//! The HTML report's page: the report laid out (file rows grouped by status, each with its
//! file's details and thumbnail; other rows one table), rendered into any writer with its
//! inline styles and script, in the report's language (labels, statuses, reasons, dates and
//! column headers; `lang` on `<html>`). Above the rows: the counts of every status among the
//! files checked and a legend of what the statuses and reasons mean. A column that is empty in
//! every row is left out. Every text is HTML-escaped; no data goes into the script.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use super::{Options, THUMBS};
use crate::consent::{Reason, Status};
use crate::i18n::Lang;
use crate::model::Date;
use crate::report::{Cell, Evaluated, Rows, Table};
use crate::thumbnail::{Placeholder, ThumbSource};

/// How a file's thumbnail is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ThumbCell {
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

/// Status groups in the order shown ([`Status::ALL`]); rows with another status come after, by
/// name.
fn group_rank(status: &str) -> usize {
    Status::ALL.iter().position(|s| s.as_str() == status).unwrap_or(Status::ALL.len())
}

/// The report laid out: rows with their file and group.
pub(super) struct Page<'a> {
    title: &'a str,
    date: Date,
    lang: Lang,
    table: &'a Table,
    /// Every file the report was computed from (its status counts).
    files: &'a [Evaluated],
    /// Whether rows are files ([`Rows::Files`]).
    per_file: bool,
    pub(super) rows: Vec<Row<'a>>,
}

pub(super) struct Row<'a> {
    cells: &'a [Cell],
    /// The evaluated file of a file row, when there is one with its path.
    pub(super) file: Option<&'a Evaluated>,
    /// A file row's path, shown when there is no evaluated file (`report changes`).
    path: Option<&'a Path>,
    /// `red`, `yellow`, `unreadable`, ... (empty for reports not over files).
    status: String,
}

impl<'a> Page<'a> {
    pub(super) fn new(title: &'a str, date: Date, lang: Lang, table: &'a Table, files: &'a [Evaluated]) -> Self {
        let rows = match &table.rows {
            Rows::Other(rows) => {
                rows.iter().map(|cells| Row { cells, file: None, path: None, status: String::new() }).collect()
            }
            Rows::Files(rows) => {
                let by_path: HashMap<&Path, &Evaluated> = files.iter().map(|f| (f.record.path.as_path(), f)).collect();
                // Without an evaluated file, the row's own status: `status`, else what it became
                // (`new_status` of `report changes`).
                let status_col =
                    ["status", "new_status"].iter().find_map(|k| table.columns.iter().position(|c| c == k));
                rows.iter()
                    .map(|r| {
                        let file = r.file.as_deref().and_then(|p| by_path.get(p).copied());
                        let status = match file {
                            Some(f) => f.decision.status.as_str().to_string(),
                            None => match status_col.and_then(|i| r.cells.get(i)) {
                                Some(Cell::Status(s)) => s.as_str().to_string(),
                                Some(Cell::Text(s)) => s.clone(),
                                _ => "unknown".to_string(),
                            },
                        };
                        Row { cells: &r.cells, file, path: r.file.as_deref(), status }
                    })
                    .collect()
            }
        };
        Page { title, date, lang, table, files, per_file: table.is_per_file(), rows }
    }

    /// Rows per status, in [`group_rank`] order then by name.
    fn groups(&self) -> Vec<(&str, Vec<usize>)> {
        let mut groups: BTreeMap<(usize, &str), Vec<usize>> = BTreeMap::new();
        for (i, r) in self.rows.iter().enumerate() {
            let rank = group_rank(&r.status);
            groups.entry((rank, r.status.as_str())).or_default().push(i);
        }
        groups.into_iter().map(|((_, s), rows)| (s, rows)).collect()
    }

    /// A message of the page's language.
    fn text(&self, id: &str) -> String {
        self.lang.text(id)
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

/// A path escaped, with a line-break opportunity after each `/` (`<wbr>`: not part of its text),
/// so that a narrow column breaks it between folders rather than anywhere.
pub(super) fn escape_path(path: &str) -> String {
    escape(path).replace('/', "/<wbr>")
}

/// Columns a file row shows from the file itself; the table's other columns follow them.
const FILE_COLUMNS: [&str; 9] =
    ["thumb", "path", "status", "persons", "missing", "consents", "valid_until", "usage", "error"];

/// Write the page into `out`, its thumbnails (made beforehand) as `thumbs` says.
pub(super) fn write_page(
    out: &mut dyn io::Write,
    page: &Page,
    thumbs: &HashMap<PathBuf, ThumbCell>,
    options: &Options,
) -> io::Result<()> {
    let mut h = Out { out, error: None };
    render(&mut h, page, thumbs, options);
    match h.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The page's text goes into a writer as it is made; the first failure to write is kept, and
/// nothing is written after it.
struct Out<'a> {
    out: &'a mut dyn io::Write,
    error: Option<io::Error>,
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        self.out.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

impl Out<'_> {
    fn push_str(&mut self, s: &str) {
        let _ = fmt::Write::write_str(self, s);
    }
}

fn render(h: &mut Out, page: &Page, thumbs: &HashMap<PathBuf, ThumbCell>, options: &Options) {
    let lang = page.lang;
    let date = lang.date(page.date);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"robots\" content=\"noindex, nofollow\">\n\
         <meta name=\"generator\" content=\"consentry {}\">\n<title>{} ({})</title>\n<style>{}</style>\n</head>\n",
        lang.tag(),
        env!("CARGO_PKG_VERSION"),
        escape(page.title),
        escape(&date),
        style(options.max_side)
    );
    let thumb_count = thumbs.values().filter(|c| matches!(c, ThumbCell::Image { .. })).count();
    // The script's own words, as templates it fills in (no data in them).
    let shown = lang.tr("html-shown", &[("shown", "{shown}".into()), ("all", "{all}".into())]);
    let of = lang.tr("html-group-of", &[("shown", "{shown}".into()), ("all", "{all}".into())]);
    let _ = writeln!(
        h,
        "<body data-rows=\"{}\" data-thumbs=\"{thumb_count}\" data-thumbs-loaded=\"0\" data-thumbs-broken=\"0\" \
         data-t-shown=\"{}\" data-t-of=\"{}\">",
        page.rows.len(),
        escape(&shown),
        escape(&of)
    );
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(page.title));
    let noun = if page.per_file { "html-count-files" } else { "html-count-rows" };
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} <time datetime=\"{}\">{}</time> &middot; {} &middot; consentry {}. {}</p>",
        escape(&page.text("html-evaluated-on")),
        page.date,
        escape(&date),
        escape(&lang.tr(noun, &[("count", page.rows.len().into())])),
        env!("CARGO_PKG_VERSION"),
        escape(&page.text("html-private")),
    );
    let groups = page.groups();
    counts(h, page, &groups);
    if page.per_file || !page.files.is_empty() {
        legend(h, page);
    }
    let _ = write!(
        h,
        "</header>\n<nav class=\"controls\">\n<label>{} <input id=\"q\" type=\"search\" autocomplete=\"off\" placeholder=\"{}\"></label>\n",
        escape(&page.text("html-filter")),
        escape(&page.text("html-filter-placeholder"))
    );
    if page.per_file && !groups.is_empty() {
        h.push_str("<span id=\"statuses\">");
        for (status, rows) in &groups {
            let _ = write!(
                h,
                "<label class=\"st-{s}\"><input type=\"checkbox\" value=\"{s}\" checked> {} ({})</label>",
                escape(&lang.status(status)),
                rows.len(),
                s = escape(status)
            );
        }
        h.push_str("</span>\n");
    }
    h.push_str("<output id=\"shown\"></output>\n</nav>\n<main>\n");
    if page.rows.is_empty() {
        let _ = writeln!(h, "<p class=\"empty\">{}</p>", escape(&page.text("html-empty")));
    } else if page.per_file {
        let views: Vec<FileView> = page.rows.iter().map(|r| FileView::new(page, r)).collect();
        for (status, rows) in &groups {
            let _ = writeln!(
                h,
                "<section class=\"group\" data-status=\"{s}\">\n<h2><span class=\"st st-{s}\">{}</span> <span class=\"n\">{}</span></h2>",
                escape(&lang.status(status)),
                rows.len(),
                s = escape(status)
            );
            let rows: Vec<(&Row, &FileView)> = rows.iter().map(|&i| (&page.rows[i], &views[i])).collect();
            // Each group's own columns: a red group has no consents to show, a green one no
            // missing persons.
            let columns = file_columns(page, rows.iter().map(|(_, v)| *v));
            file_table(h, page, &rows, &columns, thumbs);
            h.push_str("</section>\n");
        }
    } else {
        h.push_str("<section class=\"group\">\n");
        generic_table(h, page);
        h.push_str("</section>\n");
    }
    let _ = write!(h, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
}

/// The counts of every status: among all the files checked when the page has them (zero counts
/// dimmed), else among the rows (`report changes`).
fn counts(h: &mut Out, page: &Page, groups: &[(&str, Vec<usize>)]) {
    let lang = page.lang;
    let counts: Vec<(String, usize)> = if !page.files.is_empty() {
        Status::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), page.files.iter().filter(|f| f.decision.status == *s).count()))
            .collect()
    } else if page.per_file {
        groups.iter().map(|(s, rows)| (s.to_string(), rows.len())).collect()
    } else {
        return;
    };
    h.push_str("<div class=\"counts\">");
    if !page.files.is_empty() {
        let _ = write!(
            h,
            "<span class=\"counts-label\">{}</span>",
            escape(&lang.tr("html-counts-checked", &[("count", page.files.len().into())]))
        );
    }
    h.push_str("<ul class=\"counts\">");
    for (status, n) in &counts {
        let zero = if *n == 0 { " zero" } else { "" };
        let _ = write!(
            h,
            "<li class=\"st st-{s}{zero}\">{} <b>{n}</b></li>",
            escape(&lang.status(status)),
            s = escape(status)
        );
    }
    h.push_str("</ul></div>\n");
}

/// What each status and each reason means, in the page's language.
fn legend(h: &mut Out, page: &Page) {
    let lang = page.lang;
    let _ = write!(
        h,
        "<details class=\"legend\" open>\n<summary>{}</summary>\n<dl class=\"legend-statuses\">",
        escape(&page.text("html-legend-title"))
    );
    for s in Status::ALL {
        let _ = write!(
            h,
            "<div><dt><span class=\"st st-{s}\">{}</span></dt><dd>{}</dd></div>",
            escape(&lang.status(s.as_str())),
            escape(&page.text(&format!("html-legend-{}", s.as_str()))),
            s = s.as_str()
        );
    }
    let _ = write!(
        h,
        "</dl>\n<p class=\"legend-reasons\"><span class=\"legend-label\">{}</span> ",
        escape(&page.text("html-legend-reasons"))
    );
    for (i, r) in Reason::ALL.iter().enumerate() {
        if i > 0 {
            h.push_str(" &middot; ");
        }
        let _ = write!(
            h,
            "<span class=\"reason-def\"><span class=\"reason\">{}</span>: {}</span>",
            escape(&lang.reason(r.as_str())),
            escape(&page.text(&format!("html-reason-{}", r.as_str())))
        );
    }
    h.push_str("</p>\n</details>\n");
}

/// What a file row shows, as text in the page's language.
struct FileView {
    path: String,
    persons: Vec<String>,
    /// Name and reason, each as shown, of the named persons lacking consent.
    missing: Vec<(String, String)>,
    /// Unnamed faces lacking consent (shown as one entry: `2 unnamed faces`).
    faces_missing: usize,
    consents: String,
    until: String,
    usage: String,
    error: String,
    /// The table's own columns ([`extra_columns`]), in order.
    extras: Vec<String>,
}

impl FileView {
    fn new(page: &Page, row: &Row) -> FileView {
        let lang = page.lang;
        let col = |name: &str| page.table.columns.iter().position(|c| *c == name);
        let cell =
            |name: &str| col(name).and_then(|i| row.cells.get(i)).map(|c| c.display(", ", lang)).unwrap_or_default();
        let path = match (row.file, row.path) {
            (Some(f), _) => f.path(),
            (None, Some(p)) => p.to_string_lossy().into_owned(),
            (None, None) => String::new(),
        };
        let extras = extra_columns(page.table)
            .iter()
            .map(|(i, _)| row.cells.get(*i).map(|c| c.display(", ", lang)).unwrap_or_default())
            .collect();
        match row.file {
            Some(f) => {
                let d = &f.decision;
                let mut persons: Vec<String> = f.record.depicted.persons.iter().cloned().collect();
                let n = f.record.depicted.unnamed_faces;
                if n > 0 {
                    persons.push(lang.tr("html-unnamed-faces", &[("count", n.into())]));
                }
                // What the row's `missing` cell lists (`report missing`): the decision's missing
                // persons and the hints, as every other format shows them.
                let hints = col("missing").map_or(&[][..], |_| f.record.hints.as_slice());
                FileView {
                    path,
                    persons,
                    missing: d
                        .missing
                        .iter()
                        .filter(|m| m.reason != Reason::UnnamedFace)
                        .map(|m| (m.name.clone(), lang.reason(m.reason.as_str())))
                        .chain(hints.iter().map(|h| (h.name.clone(), lang.reason(h.kind.as_str()))))
                        .collect(),
                    faces_missing: d.missing.iter().filter(|m| m.reason == Reason::UnnamedFace).count(),
                    consents: d.consents.join(", "),
                    until: d.valid_until.map(|v| lang.date(v)).unwrap_or_default(),
                    usage: d.usage.join(", "),
                    error: f.record.error().unwrap_or_default(),
                    extras,
                }
            }
            None => FileView {
                path,
                persons: Vec::new(),
                missing: Vec::new(),
                faces_missing: 0,
                consents: String::new(),
                until: String::new(),
                usage: cell("usage"),
                error: cell("error"),
                extras,
            },
        }
    }

    /// Whether the column `name` of [`FILE_COLUMNS`] has anything in this row.
    fn has(&self, name: &str) -> bool {
        match name {
            "persons" => !self.persons.is_empty(),
            "missing" => !self.missing.is_empty() || self.faces_missing > 0,
            "consents" => !self.consents.is_empty(),
            "valid_until" => !self.until.is_empty(),
            "usage" => !self.usage.is_empty(),
            "error" => !self.error.is_empty(),
            // The thumbnail (or its placeholder), the path and the status are always shown.
            _ => true,
        }
    }

    /// The text searched by the filter, in lower case.
    fn search_text(&self, lang: Lang, status: &str) -> String {
        let mut search = vec![self.path.clone(), status.to_string()];
        search.extend(self.persons.iter().cloned());
        search.extend(self.missing.iter().map(|(n, r)| format!("{n} {r}")));
        if self.faces_missing > 0 {
            search.push(lang.tr("html-unnamed-faces", &[("count", self.faces_missing.into())]));
            search.push(lang.reason(Reason::UnnamedFace.as_str()));
        }
        search.extend([self.consents.clone(), self.until.clone(), self.usage.clone(), self.error.clone()]);
        search.extend(self.extras.iter().cloned());
        search.join(" ").to_lowercase()
    }
}

/// A column of a file table: one of [`FILE_COLUMNS`] or, with its index, one of the table's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileColumn {
    File(&'static str),
    Extra(usize, &'static str),
}

/// The columns a table of file rows shows: those with something in at least one of its rows.
/// (The script sorts every group's table by the column of the same key.)
fn file_columns<'v>(page: &Page, views: impl Iterator<Item = &'v FileView> + Clone) -> Vec<FileColumn> {
    let mut columns: Vec<FileColumn> =
        FILE_COLUMNS.iter().filter(|c| views.clone().any(|v| v.has(c))).map(|c| FileColumn::File(c)).collect();
    for (k, (i, name)) in extra_columns(page.table).into_iter().enumerate() {
        if views.clone().any(|v| v.extras.get(k).is_some_and(|e| !e.is_empty())) {
            columns.push(FileColumn::Extra(i, name));
        }
    }
    columns
}

/// Table columns a file row shows besides [`FILE_COLUMNS`] (e.g. `lacking` of `unreleased`).
fn extra_columns(table: &Table) -> Vec<(usize, &'static str)> {
    table.columns.iter().enumerate().filter(|(_, c)| !FILE_COLUMNS.contains(c)).map(|(i, c)| (i, *c)).collect()
}

fn header_row(h: &mut Out, lang: Lang, keys: &[&str]) {
    h.push_str("<thead><tr>");
    for key in keys {
        if *key == "thumb" {
            h.push_str("<th class=\"thumb\"></th>");
        } else {
            let _ = write!(
                h,
                "<th class=\"sortable\" data-key=\"{}\" tabindex=\"0\">{}</th>",
                escape(key),
                escape(&lang.column(key))
            );
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
    h: &mut Out,
    page: &Page,
    rows: &[(&Row, &FileView)],
    columns: &[FileColumn],
    thumbs: &HashMap<PathBuf, ThumbCell>,
) {
    let lang = page.lang;
    let keys: Vec<&str> = columns
        .iter()
        .map(|c| match c {
            FileColumn::File(k) | FileColumn::Extra(_, k) => *k,
        })
        .collect();
    h.push_str("<table class=\"files\">\n");
    header_row(h, lang, &keys);
    h.push_str("<tbody>\n");
    for (row, view) in rows {
        let s = escape(&row.status);
        let shown_status = lang.status(&row.status);
        let _ = write!(
            h,
            "<tr class=\"row st-{s}\" data-status=\"{s}\" data-text=\"{}\">",
            escape(&view.search_text(lang, &shown_status))
        );
        let mut extras = view.extras.iter();
        for column in columns {
            let name = match column {
                FileColumn::Extra(..) => {
                    let _ = write!(h, "<td>{}</td>", escape(extras.next().map(String::as_str).unwrap_or_default()));
                    continue;
                }
                FileColumn::File(name) => *name,
            };
            match name {
                "thumb" => thumb_cell(h, lang, row.file.and_then(|f| thumbs.get(&f.record.path))),
                "path" => {
                    // The whole path in one line on hovering, and as it is in the page's source.
                    let _ = write!(
                        h,
                        "<td class=\"path\" title=\"{}\">{}</td>",
                        escape(&view.path),
                        escape_path(&view.path)
                    );
                }
                "status" => {
                    let _ = write!(
                        h,
                        "<td class=\"status\"><span class=\"st st-{s}\">{}</span></td>",
                        escape(&shown_status)
                    );
                }
                "persons" => {
                    let persons: Vec<String> = view.persons.iter().map(|p| escape(p)).collect();
                    let _ = write!(h, "<td class=\"persons\">{}</td>", list(&persons));
                }
                "missing" => {
                    let mut missing: Vec<String> = view
                        .missing
                        .iter()
                        // A reason breaks at its spaces, never at its hyphens (`no-consent`).
                        .map(|(n, r)| {
                            format!(
                                "{} <span class=\"reason\">{}</span>",
                                escape(n),
                                escape(&r.replace('-', "\u{2011}"))
                            )
                        })
                        .collect();
                    if view.faces_missing > 0 {
                        let faces = lang.tr("html-unnamed-faces", &[("count", view.faces_missing.into())]);
                        missing.push(format!(
                            "<span class=\"reason\" title=\"{}\">{}</span>",
                            escape(&lang.reason(Reason::UnnamedFace.as_str())),
                            escape(&faces)
                        ));
                    }
                    let _ = write!(h, "<td class=\"missing\">{}</td>", list(&missing));
                }
                "consents" => {
                    let _ = write!(h, "<td class=\"consents\">{}</td>", escape(&view.consents));
                }
                "valid_until" => {
                    let _ = write!(h, "<td class=\"until\">{}</td>", escape(&view.until));
                }
                "usage" => {
                    let _ = write!(h, "<td class=\"usage\">{}</td>", escape(&view.usage));
                }
                _ => {
                    let _ = write!(h, "<td class=\"error\">{}</td>", escape(&view.error));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn thumb_cell(h: &mut Out, lang: Lang, thumb: Option<&ThumbCell>) {
    h.push_str("<td class=\"thumb\">");
    match thumb {
        Some(ThumbCell::Image { name, width, height, source }) => {
            let from = match source {
                ThumbSource::Preview => lang.text("html-thumb-preview"),
                ThumbSource::Decoded => lang.text("html-thumb-decoded"),
            };
            let _ = write!(
                h,
                "<img class=\"thumb\" src=\"{THUMBS}/{}\" width=\"{width}\" height=\"{height}\" alt=\"{}\" title=\"{}\">",
                escape(name),
                escape(&lang.text("html-thumb-alt")),
                escape(&from)
            );
        }
        Some(ThumbCell::Placeholder { kind, reason }) => {
            let _ = write!(
                h,
                "<div class=\"ph ph-{}\" role=\"img\" aria-label=\"{l}\" title=\"{}\">{l}</div>",
                kind.as_str(),
                escape(reason),
                l = escape(&lang.text(&format!("html-ph-{}", kind.as_str())))
            );
        }
        None => {
            let _ = write!(
                h,
                "<div class=\"ph ph-no-preview\" role=\"img\" aria-label=\"{l}\">{l}</div>",
                l = escape(&lang.text("html-ph-no-preview"))
            );
        }
    }
    h.push_str("</td>");
}

/// A report not over files: one table, without the columns that are empty in every row.
fn generic_table(h: &mut Out, page: &Page) {
    let lang = page.lang;
    let texts: Vec<Vec<String>> =
        page.rows.iter().map(|r| r.cells.iter().map(|c| c.display(", ", lang)).collect()).collect();
    let shown: Vec<usize> = (0..page.table.columns.len())
        .filter(|&i| texts.iter().any(|t| t.get(i).is_some_and(|s| !s.is_empty())))
        .collect();
    let keys: Vec<&str> = shown.iter().map(|&i| page.table.columns[i]).collect();
    h.push_str("<table class=\"plain\">\n");
    header_row(h, lang, &keys);
    h.push_str("<tbody>\n");
    for (row, texts) in page.rows.iter().zip(&texts) {
        let _ = write!(h, "<tr class=\"row\" data-text=\"{}\">", escape(&texts.join(" ").to_lowercase()));
        for &i in &shown {
            let t = texts.get(i).map(String::as_str).unwrap_or_default();
            if row.cells.get(i).is_some_and(Cell::is_number) {
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

/// Thumbnails are shown at most this large in the table (the files are larger: a hover zooms).
const SHOWN_THUMB: (u32, u32) = (64, 48);

fn style(max_side: u32) -> String {
    let (tw, th) = SHOWN_THUMB;
    let zoom = (max_side as f32 / tw as f32).clamp(1.0, 4.0);
    format!(
        r#"
:root {{ color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
body {{ margin: 0 1rem 2rem; color: #1d1d1f; background: #fafafa; font-size: 15px; }}
h1 {{ font-size: 1.35rem; margin: .8rem 0 .2rem; }}
h2 {{ font-size: 1rem; margin: 1rem 0 .3rem; }}
.meta {{ color: #555; margin: 0 0 .4rem; font-size: .85rem; }}
div.counts {{ display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .3rem 0; }}
.counts-label {{ color: #555; font-size: .85rem; }}
ul.counts {{ list-style: none; padding: 0; margin: 0; display: flex; gap: .4rem; flex-wrap: wrap; }}
ul.counts li {{ padding: .1rem .55rem; border-radius: .8rem; background: #e0e0e0; }}
ul.counts li.zero {{ opacity: .45; }}
details.legend {{ margin: .3rem 0 .5rem; font-size: .8rem; color: #333; }}
details.legend summary {{ cursor: pointer; color: #555; }}
dl.legend-statuses {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: .2rem 1.2rem;
  margin: .3rem 0; }}
dl.legend-statuses dt {{ display: inline; margin-right: .3rem; }}
dl.legend-statuses dd {{ display: inline; margin: 0; }}
.legend-reasons {{ margin: .2rem 0 0; line-height: 1.5; }}
.legend-label {{ color: #555; }}
.reason-def {{ white-space: normal; }}
.controls {{ position: sticky; top: 0; background: #fafafa; padding: .4rem 0; border-bottom: 1px solid #ddd;
  display: flex; gap: .8rem; flex-wrap: wrap; align-items: center; z-index: 2; font-size: .9rem; }}
.controls input[type=search] {{ width: 18rem; max-width: 60vw; padding: .2rem .4rem; font: inherit; }}
#statuses label {{ margin-right: .4rem; white-space: nowrap; }}
#shown {{ color: #555; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; font-size: .85rem; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: .2rem .4rem; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; position: relative; font-size: .72rem; letter-spacing: .02em; color: #444; }}
th.sortable {{ cursor: pointer; user-select: none; }}
th.sortable::after {{ content: "\00a0\2195"; color: #aaa; }}
th[aria-sort=ascending]::after {{ content: "\00a0\2191"; color: #333; }}
th[aria-sort=descending]::after {{ content: "\00a0\2193"; color: #333; }}
table.plain {{ width: auto; min-width: min(36rem, 100%); max-width: 100%; }}
td.thumb, th.thumb {{ width: {tw}px; padding-right: .2rem; }}
td.path {{ font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .8rem; min-width: 11rem;
  overflow-wrap: anywhere; }}
td.status {{ white-space: nowrap; }}
td.until {{ white-space: nowrap; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td ul {{ display: inline; margin: 0; padding: 0; list-style: none; }}
td li {{ display: inline; }}
td li:not(:last-child)::after {{ content: ", "; }}
td.error {{ color: #7b1fa2; font-size: .8rem; min-width: 6rem; overflow-wrap: anywhere; }}
.reason {{ color: #b71c1c; font-size: .8rem; }}
img.thumb {{ display: block; max-width: {tw}px; max-height: {th}px; width: auto; height: auto; background: #eee;
  transform-origin: left top; transition: transform .1s; position: relative; }}
img.thumb:hover {{ transform: scale({zoom}); z-index: 1; box-shadow: 0 2px 8px rgba(0,0,0,.3); }}
img.thumb.broken {{ outline: 2px dashed #b71c1c; min-width: 3rem; min-height: 2rem; }}
.ph {{ width: {tw}px; height: {th}px; display: flex; align-items: center; justify-content: center; text-align: center;
  background: repeating-linear-gradient(45deg, #eee, #eee 6px, #e4e4e4 6px, #e4e4e4 12px); color: #666;
  border: 1px solid #ddd; font-size: .65rem; line-height: 1.1; box-sizing: border-box; overflow: hidden; }}
.ph-video::before {{ content: "\25B6\FE0E"; margin-right: .2rem; }}
.ph-unreadable {{ color: #7b1fa2; }}
.st {{ display: inline-block; padding: 0 .4rem; border-radius: .6rem; font-weight: 600; font-size: .8rem;
  background: #e0e0e0; color: #333; }}
.st-red .st, span.st-red, li.st-red {{ background: #ffcdd2; color: #b71c1c; }}
.st-yellow .st, span.st-yellow, li.st-yellow {{ background: #fff3c4; color: #7a5c00; }}
.st-unreadable .st, span.st-unreadable, li.st-unreadable {{ background: #e1bee7; color: #4a148c; }}
.st-green .st, span.st-green, li.st-green {{ background: #c8e6c9; color: #1b5e20; }}
.empty {{ color: #555; font-style: italic; }}
@media (min-width: 1200px) {{ td.path {{ min-width: 20rem; }} }}
[hidden] {{ display: none !important; }}
@media print {{ .controls {{ display: none; }} img.thumb:hover {{ transform: none; }} }}
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
  // The page's words for the counts, in its language: templates with {shown} and {all}.
  function words(name, shown, all) {
    return (body.getAttribute(name) || '{shown} / {all}').replace('{shown}', String(shown)).replace('{all}', String(all));
  }

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
      if (n) { n.textContent = visible === all ? String(all) : words('data-t-of', visible, all); }
      g.hidden = all > 0 && visible === 0;
    });
    shownOut.textContent = words('data-t-shown', shown, rows.length);
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
    var key = th.getAttribute('data-key');
    if (!dir) { dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1; }
    sorted = (dir === 1 ? '' : '-') + key;
    document.querySelectorAll('th.sortable').forEach(function (other) {
      other.removeAttribute('aria-sort');
      if (other.getAttribute('data-key') === key) {
        other.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      }
    });
    // Every group's table by the column of the same key, so that the groups stay comparable; a
    // table without it (empty in that group) keeps its order.
    var tables = table.classList.contains('files') ? document.querySelectorAll('table.files') : [table];
    Array.prototype.forEach.call(tables, function (t) {
      var index = -1;
      Array.prototype.forEach.call(t.tHead.rows[0].cells, function (c, i) {
        if (c.getAttribute('data-key') === key) { index = i; }
      });
      if (index < 0) { return; }
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
