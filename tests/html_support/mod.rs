//! Shared by the HTML report tests: a temporary copy of the fixture archive and register with a
//! few more files (a hostile name, an EXIF thumbnail, a large JPEG without one, a broken file),
//! running the binary, and reading the page back.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use consentry_synth::previews::{exif_with_thumbnail, jpeg_image, jpeg_with_metadata};
use consentry_synth::{xmp_for, People, Style};

pub const AS_OF: &str = "2026-11-22";
/// A person name that would run script if the page did not escape it.
pub const HOSTILE: &str = "<script>alert(1)</script> \"&'";
/// The thumbnails' longest side.
pub const MAX_SIDE: u32 = 240;

fn persons_xmp(names: &[&str]) -> String {
    xmp_for(
        &People { person_in_image: names.iter().map(|n| n.to_string()).collect(), ..People::default() },
        Style::STANDARD,
    )
}

/// A copy of `fixtures/archive` and `fixtures/register` in a temporary directory, plus
/// `extra/hostile.jpg` (a hostile name), `extra/preview.jpg` (1600x1200 with a 160x120 EXIF
/// thumbnail), `extra/large.jpg` (1200x900, no thumbnail) and `extra/broken.jpg` (cut short).
pub struct Archive {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Archive {
    pub fn new() -> Archive {
        let tmp = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = tmp.path().join("archive");
        crate::support::copy_dir(&repo.join("fixtures/archive"), &root);
        crate::support::copy_dir(&repo.join("fixtures/register"), &tmp.path().join("register"));
        let extra = root.join("extra");
        fs::create_dir_all(&extra).unwrap();
        let hostile = jpeg_with_metadata(&jpeg_image(64, 48, 1), None, Some(&persons_xmp(&[HOSTILE])));
        fs::write(extra.join("hostile.jpg"), hostile).unwrap();
        let exif = exif_with_thumbnail(&jpeg_image(160, 120, 2), 1);
        let preview =
            jpeg_with_metadata(&jpeg_image(1600, 1200, 3), Some(&exif), Some(&persons_xmp(&["Vera Vorschau"])));
        fs::write(extra.join("preview.jpg"), preview).unwrap();
        let large =
            jpeg_with_metadata(&jpeg_image(1200, 900, 4), None, Some(&persons_xmp(&["Lars Groß", "Anna Schmidt"])));
        fs::write(extra.join("large.jpg"), large).unwrap();
        let full = jpeg_with_metadata(&jpeg_image(64, 48, 5), None, Some(&persons_xmp(&["Bernd Bruch"])));
        let cut = full.iter().position(|&b| b == b'<').unwrap() + 40; // inside the XMP segment
        fs::write(extra.join("broken.jpg"), &full[..cut]).unwrap();
        Archive { tmp, root }
    }

    /// Run the binary in the temporary directory (the archive is `archive`).
    pub fn run(&self, args: &[&str]) -> Output {
        crate::support::consentry()
            .args(args)
            .current_dir(self.tmp.path())
            .env_remove("CONSENTRY_REGISTER")
            .output()
            .unwrap()
    }

    /// `report missing archive --format html -o DIR`.
    pub fn html_report(&self, dir: &str) -> Output {
        self.run(&["report", "missing", "archive", "--as-of", AS_OF, "--format", "html", "-o", dir])
    }

    /// Paths (as the reports print them) of `report missing` in JSON Lines.
    pub fn expected_paths(&self) -> BTreeSet<String> {
        let out = self.run(&["report", "missing", "archive", "--as-of", AS_OF, "--format", "jsonl"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["path"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

/// Undo the page's escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The contents of every `<td class="CLASS" ...>` (unescaped, without the line-break
/// opportunities `<wbr>` the page puts into paths), in page order.
pub fn cells(html: &str, class: &str) -> Vec<String> {
    let open = format!("<td class=\"{class}\"");
    html.match_indices(&open)
        .filter(|(i, _)| matches!(html.as_bytes().get(i + open.len()), Some(b'>' | b' ')))
        .map(|(i, _)| {
            let rest = &html[i..];
            let rest = &rest[rest.find('>').unwrap() + 1..];
            unescape(&rest[..rest.find("</td>").unwrap()].replace("<wbr>", ""))
        })
        .collect()
}

/// The path cell of `path` as the page writes it: the whole path in its title, the text escaped
/// with a `<wbr>` after each `/`.
pub fn path_td(path: &str) -> String {
    let escaped = path
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    format!("<td class=\"path\" title=\"{escaped}\">{}</td>", escaped.replace('/', "/<wbr>"))
}

/// The value of attribute `name` in the first `<tag ...>` of `html`.
pub fn attr(html: &str, tag: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("<{tag} "))?;
    let element = &html[start..start + html[start..].find('>')?];
    let key = format!(" {name}=\"");
    let at = element.find(&key)? + key.len();
    Some(element[at..at + element[at..].find('"')?].to_string())
}
