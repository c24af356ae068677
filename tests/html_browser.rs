//! The HTML report in a real browser: headless Chromium loads it from disk (no server, no
//! network) and its DOM, after the page's script ran, is checked: every row is there, every
//! thumbnail loaded (`data-thumbs-loaded` / `data-thumbs-broken` on `<body>`), no injected
//! script ran, and the filter given in the address hides exactly the rows it should.
//! The layout is measured too, in a 900 x 800 px frame (a probe page beside the report frames
//! it and reads its boxes with `getBoundingClientRect`): the path column stays readable, at least
//! ten rows fit on a screen, the legend and the counts of every status are above the rows, and a
//! `--lang de` report reads in German.
//! Skipped, with a message, when neither `chromium` nor `chromium-browser` is on PATH
//! (`scripts/test.sh` installs it where it may); under `CI=true` that is a failure.

mod html_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use html_support::{attr, path_td, unescape, Archive};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n))).find(|p| p.is_file())
}

/// The DOM of `url` after load, as headless Chromium serialises it.
fn dump_dom(browser: &Path, profile: &Path, url: &str) -> String {
    dump_dom_with(browser, profile, url, &[])
}

/// [`dump_dom`] with more switches.
fn dump_dom_with(browser: &Path, profile: &Path, url: &str, switches: &[&str]) -> String {
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .args(switches)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        // Chromium's crash reports and dconf settings go to the temporary profile too, not to
        // the user's home.
        .env("HOME", profile)
        .env("XDG_CONFIG_HOME", profile.join("config"))
        .env("XDG_CACHE_HOME", profile.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s: {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every row of the dumped DOM: (path, status, hidden).
fn rows(dom: &str) -> Vec<(String, String, bool)> {
    dom.match_indices("<tr class=\"row")
        .map(|(i, _)| {
            let row = &dom[i..i + dom[i..].find("</tr>").unwrap()];
            let tag = &row[..row.find('>').unwrap()];
            let path = &row[row.find("<td class=\"path\"").unwrap()..];
            let path = &path[path.find('>').unwrap() + 1..];
            let path = unescape(&path[..path.find("</td>").unwrap()].replace("<wbr>", ""));
            let status = attr(row, "tr", "data-status").unwrap();
            (path, status, tag.contains(" hidden"))
        })
        .collect()
}

fn body(dom: &str, name: &str) -> usize {
    attr(dom, "body", name).unwrap_or_else(|| panic!("no {name} on <body>")).parse().unwrap()
}

#[test]
fn the_report_renders_loads_its_thumbnails_and_filters_from_the_address() {
    let Some(browser) = chromium() else {
        support::missing("chromium");
        return;
    };
    let a = Archive::new();
    assert_eq!(a.html_report("report").status.code(), Some(3));
    let index = a.dir("report/index.html");
    let url = format!("file://{}", index.display());
    let profile = a.dir("chromium-profile");
    let expected = a.expected_paths();

    let dom = dump_dom(&browser, &profile, &url);
    assert!(dom.contains("<body"), "no DOM from chromium: {dom:.500}");
    let all = rows(&dom);
    assert_eq!(all.len(), expected.len());
    assert_eq!(all.iter().map(|r| r.0.clone()).collect::<std::collections::BTreeSet<_>>(), expected);
    assert!(all.iter().all(|r| !r.2), "nothing hidden without a filter");
    let thumbs = dom.matches("<img class=\"thumb").count();
    assert!(thumbs >= 10);
    assert_eq!(body(&dom, "data-thumbs"), thumbs);
    assert_eq!(body(&dom, "data-thumbs-loaded"), thumbs, "every thumbnail loads");
    assert_eq!(body(&dom, "data-thumbs-broken"), 0);
    assert!(!dom.contains("class=\"thumb broken\""));
    assert_eq!(body(&dom, "data-shown"), expected.len());
    // The hostile name stayed text: the only script is the page's own.
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // A name: only the files showing that person. Vera Vorschau is in one file.
    let dom = dump_dom(&browser, &profile, &format!("{url}#q=vera%20vorschau"));
    let shown: Vec<String> = rows(&dom).into_iter().filter(|r| !r.2).map(|r| r.0).collect();
    assert_eq!(shown, vec!["archive/extra/preview.jpg".to_string()]);
    assert_eq!(body(&dom, "data-shown"), 1);
    assert!(dom.contains(&format!("1 of {} shown", expected.len())), "the count follows the filter");

    // A reason, in any case: the files with an unnamed face, and no other.
    let dom = dump_dom(&browser, &profile, &format!("{url}#q=UNNAMED-face"));
    let visible: Vec<(String, String, bool)> = rows(&dom);
    let html = std::fs::read_to_string(&index).unwrap();
    for (path, _, hidden) in &visible {
        let row_start = html.find(&path_td(path)).unwrap();
        let row = &html[html[..row_start].rfind("<tr ").unwrap()..row_start];
        assert_eq!(!hidden, row.contains("unnamed-face"), "{path}");
    }
    assert!(visible.iter().any(|r| !r.2) && visible.iter().any(|r| r.2));

    // Status boxes: only yellow.
    let dom = dump_dom(&browser, &profile, &format!("{url}#status=yellow"));
    let r = rows(&dom);
    assert!(r.iter().any(|r| r.1 == "yellow"));
    for (path, status, hidden) in &r {
        assert_eq!(!hidden, status == "yellow", "{path} ({status})");
    }
    // The red group is hidden as a whole.
    assert!(dom.contains("<section class=\"group\" data-status=\"red\" hidden"), "red group hidden");

    // Sorting from the address: by path, and the other way round.
    let order = |hash: &str| -> Vec<String> {
        rows(&dump_dom(&browser, &profile, &format!("{url}#{hash}"))).into_iter().map(|r| r.0).collect()
    };
    let (up, down) = (order("sort=path"), order("sort=-path"));
    let reds: Vec<&String> = up.iter().filter(|p| all.iter().any(|r| &r.0 == *p && r.1 == "red")).collect();
    let reds_down: Vec<&String> = down.iter().filter(|p| all.iter().any(|r| &r.0 == *p && r.1 == "red")).collect();
    assert!(reds.len() > 3);
    assert_eq!(reds, reds_down.into_iter().rev().collect::<Vec<_>>(), "descending is ascending reversed");
    assert_ne!(up, down);
}

/// Measures a report framed at `width` x `height` CSS pixels, after its script ran. Written
/// beside the report: the frame is read across `file:` URLs, which Chromium allows with
/// `--allow-file-access-from-files`.
const PROBE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="margin:0">
<iframe id="f" src="REPORT" style="border:0;width:WIDTHpx;height:HEIGHTpx;display:block"></iframe>
<pre id="out">no measurement</pre>
<script>
window.addEventListener('load', function () {
  var out = document.getElementById('out');
  try {
    var w = document.getElementById('f').contentWindow, d = w.document;
    var box = function (e) { return e.getBoundingClientRect(); };
    // Lines of a cell's text: the distinct tops of its line boxes.
    var lines = function (e) {
      var r = d.createRange(); r.selectNodeContents(e);
      var tops = {};
      Array.prototype.forEach.call(r.getClientRects(), function (x) { if (x.width > 0) { tops[Math.round(x.top)] = 1; } });
      return Object.keys(tops).length;
    };
    var paths = Array.prototype.map.call(d.querySelectorAll('td.path'), function (td) {
      return { text: td.textContent, width: box(td).width, lines: lines(td) };
    });
    var legend = d.querySelector('details.legend');
    var counts = {};
    Array.prototype.forEach.call(d.querySelectorAll('ul.counts li'), function (li) {
      var st = Array.prototype.filter.call(li.classList, function (c) { return c.indexOf('st-') === 0; })[0];
      counts[st.slice(3)] = { label: li.firstChild.textContent.trim(), n: Number(li.querySelector('b').textContent) };
    });
    var result = {
      lang: d.documentElement.lang,
      width: w.innerWidth,
      scrollWidth: d.documentElement.scrollWidth,
      paths: paths,
      legendTop: legend ? box(legend).top : null,
      legendOpen: legend ? legend.open : null,
      legendEntries: d.querySelectorAll('details.legend dl div').length,
      legendTitle: legend ? legend.querySelector('summary').textContent : null,
      counts: counts,
      statuses: Array.prototype.map.call(d.querySelectorAll('td.status'), function (e) { return e.textContent; }),
      headers: Array.prototype.map.call(d.querySelectorAll('table.files')[0].tHead.rows[0].cells, function (e) { return e.textContent; }),
      placeholder: d.getElementById('q').placeholder,
      shown: d.getElementById('shown').textContent
    };
    // A screen of rows: the first row scrolled to just below the sticky controls, then the rows
    // wholly inside the frame counted.
    var nav = box(d.querySelector('nav.controls')).height;
    var rows = d.querySelectorAll('tr.row');
    w.scrollTo(0, box(rows[0]).top + w.scrollY - nav);
    result.navHeight = nav;
    result.rowsOnScreen = Array.prototype.filter.call(rows, function (r) {
      var b = box(r); return b.top >= nav - 1 && b.bottom <= w.innerHeight + 0.5;
    }).length;
    result.rowHeights = Array.prototype.map.call(rows, function (r) { return box(r).height; });
    out.textContent = JSON.stringify(result);
  } catch (e) { out.textContent = 'error: ' + e; }
});
</script>
</body></html>
"#;

/// The measurements of the report `index` (relative to the archive's folder) in a frame of
/// `width` x `height` px.
fn measure(a: &Archive, browser: &Path, index: &str, width: u32, height: u32) -> serde_json::Value {
    let name = format!("probe-{}-{width}.html", index.replace('/', "-"));
    let probe =
        PROBE.replace("REPORT", index).replace("WIDTH", &width.to_string()).replace("HEIGHT", &height.to_string());
    std::fs::write(a.dir(&name), probe).unwrap();
    let url = format!("file://{}", a.dir(&name).display());
    let dom = dump_dom_with(
        browser,
        &a.dir("chromium-profile"),
        &url,
        &["--allow-file-access-from-files", "--window-size=1600,1200", "--hide-scrollbars"],
    );
    let start = dom.find("<pre id=\"out\">").unwrap_or_else(|| panic!("no probe output: {dom:.500}")) + 14;
    let text = unescape(&dom[start..start + dom[start..].find("</pre>").unwrap()]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn at_900_px_the_report_is_dense_readable_with_legend_and_counts_and_speaks_german() {
    let Some(browser) = chromium() else {
        support::missing("chromium");
        return;
    };
    let a = Archive::new();
    assert_eq!(a.html_report("report").status.code(), Some(3));
    let de = a.run(&[
        "--lang",
        "de",
        "report",
        "missing",
        "archive",
        "--as-of",
        html_support::AS_OF,
        "--format",
        "html",
        "-o",
        "report-de",
    ]);
    assert_eq!(de.status.code(), Some(3), "{}", String::from_utf8_lossy(&de.stderr));
    let expected = a.expected_paths();

    let mut measured = Vec::new();
    for (index, lang) in [("report/index.html", "en"), ("report-de/index.html", "de")] {
        let m = measure(&a, &browser, index, 900, 800);
        assert_eq!(m["width"], 900, "{index}: the frame is 900 px wide");
        assert_eq!(m["lang"], lang, "{index}");
        // No sideways scrolling at 900 px.
        assert!(m["scrollWidth"].as_f64().unwrap() <= 900.0, "{index}: {}", m["scrollWidth"]);
        // The path column: never squeezed to a few characters, no path over three lines.
        let paths = m["paths"].as_array().unwrap();
        assert_eq!(paths.len(), expected.len(), "{index}");
        for p in paths {
            assert!(p["width"].as_f64().unwrap() >= 120.0, "{index}: {p}");
            assert!(p["lines"].as_u64().unwrap() <= 3, "{index}: {p}");
            assert!(expected.contains(p["text"].as_str().unwrap()), "{index}: the cell's text is the path: {p}");
        }
        // A screen holds at least ten rows.
        let on_screen = m["rowsOnScreen"].as_u64().unwrap();
        assert!(on_screen >= 10, "{index}: {on_screen} rows on a 900x800 screen; heights {}", m["rowHeights"]);
        // The legend, open, starts on the first screen and explains all six statuses.
        assert_eq!(m["legendOpen"], true, "{index}");
        assert!(m["legendTop"].as_f64().unwrap() < 400.0, "{index}: legend at {}", m["legendTop"]);
        assert_eq!(m["legendEntries"], 6, "{index}");
        // Counts of every status, green and none included.
        let counts = m["counts"].as_object().unwrap();
        for status in ["red", "yellow", "unreadable", "green", "exempt", "none"] {
            assert!(counts.contains_key(status), "{index}: no count of {status}: {counts:?}");
        }
        assert!(counts["green"]["n"].as_u64().unwrap() > 0, "{index}: the green files are counted");
        // The red count is of the same files as the red rows.
        let red = counts["red"]["label"].as_str().unwrap();
        let red_rows = m["statuses"].as_array().unwrap().iter().filter(|s| s.as_str() == Some(red)).count();
        assert_eq!(counts["red"]["n"].as_u64().unwrap() as usize, red_rows, "{index}");
        measured.push(m);
    }

    // The German report reads in German.
    let m = &measured[1];
    assert_eq!(m["legendTitle"], "Was die Status bedeuten");
    assert_eq!(m["counts"]["red"]["label"], "rot");
    assert_eq!(m["counts"]["green"]["label"], "grün");
    let statuses: Vec<&str> = m["statuses"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(statuses.contains(&"rot") && statuses.contains(&"gelb") && statuses.contains(&"unlesbar"), "{statuses:?}");
    assert!(!statuses.iter().any(|s| ["red", "yellow", "unreadable"].contains(s)), "{statuses:?}");
    let headers: Vec<&str> = m["headers"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(headers.contains(&"PFAD") && headers.contains(&"FEHLENDE EINWILLIGUNG"), "{headers:?}");
    assert_eq!(m["placeholder"], "Name, Pfad, Grund, Einwilligung …");
    assert!(m["shown"].as_str().unwrap().ends_with(" angezeigt"), "{}", m["shown"]);
    let html = std::fs::read_to_string(a.dir("report-de/index.html")).unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    // The English one in English.
    let m = &measured[0];
    assert_eq!(m["legendTitle"], "What the statuses mean");
    assert_eq!(m["counts"]["green"]["label"], "green");

    // Wider, the same rows fit at least as well.
    let wide = measure(&a, &browser, "report/index.html", 1400, 800);
    assert!(wide["rowsOnScreen"].as_u64().unwrap() >= 10, "{}", wide["rowHeights"]);
    assert!(wide["scrollWidth"].as_f64().unwrap() <= 1400.0);
}
