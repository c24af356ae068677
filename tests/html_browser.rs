//! The HTML report in a real browser: headless Chromium loads it from disk (no server, no
//! network) and its DOM, after the page's script ran, is checked: every row is there, every
//! thumbnail loaded (`data-thumbs-loaded` / `data-thumbs-broken` on `<body>`), no injected
//! script ran, and the filter given in the address hides exactly the rows it should.
//! Skipped, with a message, when neither `chromium` nor `chromium-browser` is on PATH
//! (`scripts/test.sh` installs it where it may).

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
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
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
            let path = &row[row.find("<td class=\"path\">").unwrap() + 17..];
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
