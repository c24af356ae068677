//! The HTML report's page: the report laid out (file rows grouped by status, each with its
//! file's details and thumbnail; other rows one table), rendered into any writer with its
//! inline styles and script. Every text is HTML-escaped; no data goes into the script.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use super::{Options, THUMBS};
use crate::consent::Status;
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
    table: &'a Table,
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
    pub(super) fn new(title: &'a str, date: Date, table: &'a Table, files: &'a [Evaluated]) -> Self {
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
                                .and_then(Cell::as_str)
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

/// A cell as text: lists joined with `, `, missing persons as `name (reason)`.
fn cell_text(c: &Cell) -> String {
    c.text(", ")
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
            file_table(h, page, rows, &extra, thumbs);
            h.push_str("</section>\n");
        }
    } else {
        h.push_str("<section class=\"group\">\n");
        generic_table(h, page);
        h.push_str("</section>\n");
    }
    let _ = write!(h, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
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

fn header_row(h: &mut Out, headings: &[(String, String)]) {
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

fn file_table(h: &mut Out, page: &Page, rows: &[&Row], extra: &[(usize, &str)], thumbs: &HashMap<PathBuf, ThumbCell>) {
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

fn generic_table(h: &mut Out, page: &Page) {
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
