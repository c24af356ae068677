//! End to end: `consentry report missing --format html -o DIR` on a copy of the fixture archive:
//! exactly the expected rows, valid thumbnails no larger than asked, private modes, nothing
//! fetched from the network, hostile names escaped, and the folder's replace/refuse rules.

mod html_support;
mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use html_support::{attr, cells, path_td, Archive, HOSTILE, MAX_SIDE};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_folder_has_every_file_needing_attention_with_thumbnails() {
    let a = Archive::new();
    let out = a.html_report("report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A broken file is in the archive: the run completes with exit 3.
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("Wrote the HTML report report/index.html"), "{stderr}");
    assert!(stderr.contains("thumbnails"), "{stderr}");
    assert!(!stderr.contains("Vera Vorschau") && !stderr.contains("script"), "no names on stderr: {stderr}");
    assert!(out.stdout.is_empty());

    let dir = a.dir("report");
    let html = fs::read_to_string(dir.join("index.html")).unwrap();
    // Exactly the rows of the JSON report, each once.
    let expected = a.expected_paths();
    let shown = cells(&html, "path");
    assert_eq!(shown.len(), expected.len(), "{shown:?}");
    assert_eq!(shown.iter().cloned().collect::<BTreeSet<_>>(), expected);
    for p in [
        "archive/extra/hostile.jpg",
        "archive/extra/preview.jpg",
        "archive/extra/large.jpg",
        "archive/extra/broken.jpg",
    ] {
        assert!(expected.contains(p), "{p} needs attention");
    }
    // Grouped: red, then yellow, then unreadable.
    let group = |s: &str| html.find(&format!("<section class=\"group\" data-status=\"{s}\">")).unwrap();
    assert!(group("red") < group("yellow") && group("yellow") < group("unreadable"));
    assert!(html[group("unreadable")..].contains("archive/extra/broken.jpg"));

    // Thumbnails: every one referenced exists, is a JPEG within the size, with its size in the
    // page; every file in thumbs/ is referenced.
    let srcs: Vec<&str> = html
        .match_indices("src=\"thumbs/")
        .map(|(i, _)| &html[i + 5..i + 5 + html[i + 5..].find('"').unwrap()])
        .collect();
    assert!(srcs.len() >= 10, "{srcs:?}");
    let on_disk: BTreeSet<String> = fs::read_dir(dir.join("thumbs"))
        .unwrap()
        .map(|e| format!("thumbs/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(srcs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), on_disk);
    assert_eq!(srcs.len(), on_disk.len(), "each file once");
    for s in &srcs {
        let data = fs::read(dir.join(s)).unwrap();
        assert_eq!(image::guess_format(&data).unwrap(), image::ImageFormat::Jpeg, "{s}");
        let img = image::load_from_memory(&data).unwrap();
        assert!(img.width().max(img.height()) <= MAX_SIDE, "{s}: {}x{}", img.width(), img.height());
        let tag = format!("src=\"{s}\" width=\"{}\" height=\"{}\"", img.width(), img.height());
        assert!(html.contains(&tag), "{tag}");
        assert_eq!(mode(&dir.join(s)), 0o600, "{s}");
    }
    // The EXIF thumbnail was used for preview.jpg; large.jpg was decoded and scaled down.
    let thumb_of = |path: &str| {
        let row = &html[..html.find(&path_td(path)).unwrap()];
        let row = &row[row.rfind("<tr ").unwrap()..];
        attr(row, "img", "src").map(|s| image::open(dir.join(s)).unwrap())
    };
    let p = thumb_of("archive/extra/preview.jpg").unwrap();
    assert_eq!((p.width(), p.height()), (160, 120));
    let l = thumb_of("archive/extra/large.jpg").unwrap();
    assert_eq!((l.width(), l.height()), (240, 180));
    assert!(thumb_of("archive/video/clip.mp4").is_none() || !expected.contains("archive/video/clip.mp4"));
    assert!(thumb_of("archive/extra/broken.jpg").is_none());

    // Privacy and isolation.
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("thumbs")), 0o700);
    assert_eq!(mode(&dir.join("index.html")), 0o600);
    for bad in ["http://", "https://", "ftp://", "//fonts", "@import", "url("] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    // The hostile name is text, not markup.
    assert!(!html.contains(HOSTILE));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;"));
    assert_eq!(html.matches("<script").count(), 1);
    // Names and details are shown.
    assert!(html.contains("Vera Vorschau <span class=\"reason\">unknown</span>"));
    assert!(html.contains("Lars Groß"));
}

#[test]
fn html_is_only_for_report_with_a_directory() {
    let a = Archive::new();
    for args in [
        &["scan", "archive", "--format", "html", "-o", "x"][..],
        &["check", "--for", "web", "archive", "--format", "html", "-o", "x"],
        &["person", "Anna Schmidt", "archive", "--format", "html", "-o", "x"],
        &["report", "missing", "archive", "--format", "html"],
    ] {
        let out = a.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--format html"), "{args:?}: {err}");
        assert!(!a.dir("x").exists());
    }
}

#[test]
fn a_previous_report_is_replaced_anything_else_refused() {
    let a = Archive::new();
    assert_eq!(a.html_report("report").status.code(), Some(3));
    fs::write(a.dir("report/thumbs/999999.jpg"), "stale").unwrap();
    assert_eq!(a.html_report("report").status.code(), Some(3));
    assert!(!a.dir("report/thumbs/999999.jpg").exists());

    fs::create_dir(a.dir("holiday")).unwrap();
    fs::write(a.dir("holiday/IMG_1.jpg"), "mine").unwrap();
    let out = a.html_report("holiday");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a consentry report"));
    assert_eq!(fs::read_dir(a.dir("holiday")).unwrap().count(), 1);
    assert_eq!(fs::read(a.dir("holiday/IMG_1.jpg")).unwrap(), b"mine");
    // Nothing half-written is left beside the reports.
    let stray: Vec<_> = fs::read_dir(a.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".consentry"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn reports_not_over_files_render_as_one_table() {
    let a = Archive::new();
    for kind in ["consents", "summary", "unknown-persons", "expiring"] {
        let dir = format!("r-{kind}");
        let out = a.run(&[
            "report",
            kind,
            "archive",
            "--as-of",
            html_support::AS_OF,
            "--format",
            "html",
            "-o",
            &dir,
            "--within",
            "36500",
        ]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        let html = fs::read_to_string(a.dir(&dir).join("index.html")).unwrap();
        assert!(html.contains("<table class=\"plain\">"), "{kind}");
        assert!(!html.contains("<script>alert"), "{kind}");
        assert!(!html.contains("https://") && !html.contains("http://"), "{kind}");
    }
    let html = fs::read_to_string(a.dir("r-unknown-persons/index.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Vera Vorschau"));
    let html = fs::read_to_string(a.dir("r-unreleased/index.html")).ok();
    assert!(html.is_none());
    let out = a.run(&[
        "report",
        "unreleased",
        "--for",
        "web",
        "archive",
        "--as-of",
        html_support::AS_OF,
        "--format",
        "html",
        "-o",
        "r-unreleased",
    ]);
    assert!(matches!(out.status.code(), Some(0 | 3)));
    let html = fs::read_to_string(a.dir("r-unreleased/index.html")).unwrap();
    assert!(html.contains("data-key=\"lacking\""), "unreleased is over files, with its own column");
}

#[test]
fn a_report_in_german_has_german_titles_labels_statuses_and_dates() {
    let a = Archive::new();
    let out = a.run(&[
        "--lang",
        "de",
        "report",
        "cleared",
        "--for",
        "web",
        "archive",
        "--as-of",
        html_support::AS_OF,
        "--format",
        "html",
        "-o",
        "cleared-de",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{stderr}");
    assert!(
        stderr.contains("HTML-Bericht cleared-de/index.html in ") && stderr.contains(" s geschrieben: "),
        "{stderr}"
    );
    assert!(stderr.contains(" Vorschaubilder (") && !stderr.contains("Anna Schmidt"), "{stderr}");
    let html = fs::read_to_string(a.dir("cleared-de/index.html")).unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("<title>Dateien freigegeben für web (22.11.2026)</title>"), "{:.600}", html);
    assert!(html.contains("<h1>Dateien freigegeben für web</h1>"));
    assert!(html.contains("Ausgewertet am <time datetime=\"2026-11-22\">22.11.2026</time>"));
    assert!(html.contains("<h2><span class=\"st st-green\">grün</span>"));
    // Valid-until dates as Germans write them, never ISO in a cell.
    let until = cells(&html, "until");
    assert!(!until.is_empty() && until.iter().any(|d| !d.is_empty()));
    for d in until.iter().filter(|d| !d.is_empty()) {
        let parts: Vec<&str> = d.split('.').collect();
        assert!(parts.len() == 3 && parts[0].len() == 2 && parts[1].len() == 2 && parts[2].len() == 4, "{d}");
    }
    assert!(html.contains("Was die Status bedeuten"));
    for english in ["Evaluated on", "What the statuses mean", "files checked", ">green<"] {
        assert!(!html.contains(english), "{english}");
    }

    // Without --lang, the language comes from the locale; a report not over files too.
    let out = support::consentry()
        .args(["report", "summary", "archive", "--as-of", html_support::AS_OF, "--format", "html", "-o", "sum-de"])
        .current_dir(a.tmp.path())
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "de_DE.UTF-8")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", String::from_utf8_lossy(&out.stderr));
    let html = fs::read_to_string(a.dir("sum-de/index.html")).unwrap();
    assert!(html.contains("<html lang=\"de\">") && html.contains("<h1>Übersicht</h1>"));
    assert!(html.contains("data-key=\"files\" tabindex=\"0\">DATEIEN</th>"));
    assert!(html.contains("<li class=\"st st-green\">grün <b>"));
    // And English when the locale says so.
    let out = support::consentry()
        .args(["report", "summary", "archive", "--as-of", html_support::AS_OF, "--format", "html", "-o", "sum-en"])
        .current_dir(a.tmp.path())
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)));
    let html = fs::read_to_string(a.dir("sum-en/index.html")).unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("<h1>Summary</h1>"));
}
