//! The README's first screen, run as written: its three commands from a folder of photos and a
//! consent list exported from Excel (German headers and usage words, `;`, Windows-1252) to
//! "what may I publish". The block is read from README.md and run line by line by `sh` with
//! `HOME` a temporary directory (the `~` of the commands) and the built binary first on `PATH`.

#![cfg(unix)]

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

/// The shell block that follows the README's "From a folder of photos" paragraph.
fn first_screen() -> Vec<String> {
    let readme = fs::read_to_string(support::repo().join("README.md")).unwrap();
    let start = readme.find("From a folder of photos").expect("README: no first-screen paragraph");
    let block = &readme[start..];
    let open = block.find("```sh\n").unwrap() + "```sh\n".len();
    let len = block[open..].find("```").unwrap();
    let lines: Vec<String> = block[open..open + len]
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(lines.iter().all(|l| l.starts_with("consentry ")), "{lines:?}");
    lines
}

fn sh(home: &Path, line: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_consentry")).parent().unwrap().to_path_buf();
    std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .env_clear()
        .env("HOME", home)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .current_dir(home)
        .output()
        .unwrap()
}

#[test]
fn the_first_screen_goes_from_a_folder_and_an_excel_list_to_what_may_be_published() {
    let lines = first_screen();
    assert_eq!(lines.len(), 3, "init and two more commands: {lines:?}");
    assert!(lines[0].starts_with("consentry init "), "{lines:?}");

    let home = tempfile::tempdir().unwrap();
    let photos = home.path().join("Bilder/Sommerfest");
    support::copy_dir(&support::repo().join("fixtures/archive"), &photos);
    let _ = fs::remove_file(photos.join("consentry.toml"));
    let _ = fs::remove_dir_all(photos.join(".consentry"));
    // What Excel writes for "CSV (Trennzeichen-getrennt)" on a German system: `;`, Windows-1252.
    let list = "Nr;Name;Einsatzgebiete;Erteilt;Ablaufdatum;Widerrufen\r\n\
                1;Anna Schmidt;Webseite, Druck;01.03.2024;unbegrenzt;\r\n\
                2;Jonas Weber;Webseite;01.03.2024;31.12.2099;nein\r\n\
                3;Clara Vogel;Druck;01.03.2024;;\r\n";
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(list);
    assert!(!lossy);
    fs::write(home.path().join("Einwilligungen.csv"), &bytes).unwrap();

    let outputs: Vec<Output> = lines.iter().map(|l| sh(home.path(), l)).collect();
    let said = |i: usize| {
        format!(
            "{}\nstdout: {}\nstderr: {}",
            lines[i],
            String::from_utf8_lossy(&outputs[i].stdout),
            String::from_utf8_lossy(&outputs[i].stderr)
        )
    };
    assert_eq!(outputs[0].status.code(), Some(0), "{}", said(0));
    assert!(photos.join("consentry.toml").is_file());
    // `report missing` lists who lacks consent (the rest of the summer fest is not in the list).
    assert_eq!(outputs[1].status.code(), Some(0), "{}", said(1));
    let missing = support::jsonl(&outputs[1]);
    assert!(!missing.is_empty(), "{}", said(1));
    // `report cleared --for web`: Anna and Jonas both consented to the website.
    assert_eq!(outputs[2].status.code(), Some(0), "{}", said(2));
    let cleared = support::jsonl(&outputs[2]);
    let path = |r: &serde_json::Value| r["path"].as_str().unwrap().to_string();
    let green: Vec<String> = cleared.iter().filter(|r| r["status"] == "green").map(path).collect();
    assert_eq!(green.len(), 1, "{}", said(2));
    assert!(green[0].ends_with("2023/summer-fest/IMG_1001.jpg"), "{green:?}");
    assert!(cleared.iter().all(|r| ["green", "none", "exempt"].contains(&r["status"].as_str().unwrap())));
    // Nothing listed as cleared is listed as missing consent.
    for r in &missing {
        assert!(cleared.iter().all(|c| path(c) != path(r)) || r["status"] == "none", "{r}");
    }
}
