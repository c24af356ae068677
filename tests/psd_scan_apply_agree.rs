//! Issue 13: scan and apply read a PSD's image resources with the same walker, so they agree on
//! whether its resource section is damaged. A crafted PSD whose resources are fine for `scan`
//! (`error: null`) used to be refused by `apply` as damaged; fail closed means: a section scan
//! reads is written by apply, one scan calls damaged is left alone by apply.
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const AS_OF: &str = "2025-06-01";
const PSD: &str = "2024/portraits/studio/retouched.psd";

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// The fixture PSD with `extra` inserted as the first image resource and `tail` appended to the
/// resource section (whose length is updated).
fn crafted(extra: &[u8], tail: &[u8]) -> Vec<u8> {
    let b = fs::read(support::repo().join("fixtures/archive").join(PSD)).unwrap();
    let len_at = 26 + 4 + be32(&b, 26);
    let start = len_at + 4;
    let end = start + be32(&b, len_at);
    let mut out = b[..len_at].to_vec();
    let section = [extra, &b[start..end], tail].concat();
    out.extend((section.len() as u32).to_be_bytes());
    out.extend(section);
    out.extend(&b[end..]);
    out
}

/// A Photoshop resource with signature `sig` (`8BIM`, or another Adobe product's).
fn resource(sig: &[u8; 4], id: u16, data: &[u8]) -> Vec<u8> {
    let mut r = sig.to_vec();
    r.extend(id.to_be_bytes());
    r.extend([0, 0]); // empty name, padded
    r.extend((data.len() as u32).to_be_bytes());
    r.extend(data);
    if data.len() % 2 == 1 {
        r.push(0);
    }
    r
}

/// An archive (with the fixture register beside it) holding only `psd` as `crafted.psd`.
fn archive(psd: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (root, register) = (tmp.path().join("archive"), tmp.path().join("register"));
    fs::create_dir_all(&root).unwrap();
    fs::copy(support::repo().join("fixtures/archive/consentry.toml"), root.join("consentry.toml")).unwrap();
    support::copy_dir(&support::repo().join("fixtures/register"), &register);
    let file = root.join("crafted.psd");
    fs::write(&file, psd).unwrap();
    (tmp, root, file)
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn command(cmd: &str, root: &Path, tmp: &Path) -> Output {
    let register = tmp.join("register");
    let args = [cmd, root.to_str().unwrap(), "--register", register.to_str().unwrap(), "--as-of", AS_OF];
    support::run(&[&args[..], &["--format", "jsonl"]].concat(), tmp)
}

/// The scan record of the one file.
fn scan(root: &Path, tmp: &Path) -> Value {
    let out = command("scan", root, tmp);
    let mut records = jsonl(&out);
    assert_eq!(records.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    records.remove(0)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn resources_scan_reads_are_written_by_apply_and_every_other_byte_kept() {
    // A resource of another Adobe product (`MeSa`, odd length, padded), and zero padding of more
    // than 12 bytes at the end of the section: scan reads both as fine.
    let other = resource(b"MeSa", 0x0FA0, b"other");
    let psd = crafted(&other, &[0; 16]);
    let (tmp, root, file) = archive(&psd);
    let before = scan(&root, tmp.path());
    assert_eq!(before["error"], Value::Null, "{before}");
    assert_eq!(before["persons"].as_array().unwrap().len(), 3, "{before}");

    let out = command("apply", &root, tmp.path());
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rows[0]["action"], "written", "apply refused what scan reads: {}", rows[0]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let after_bytes = fs::read(&file).unwrap();
    assert!(contains(&after_bytes, b"consentry"), "no consentry field written");
    assert!(contains(&after_bytes, &other), "the other product's resource is kept as it was");
    // Header, colour mode data and the image data after the section are unchanged.
    let len_at = 26 + 4 + be32(&psd, 26);
    assert_eq!(&after_bytes[..len_at], &psd[..len_at]);
    let old_end = len_at + 4 + be32(&psd, len_at);
    let new_end = len_at + 4 + be32(&after_bytes, len_at);
    assert_eq!(&after_bytes[new_end..], &psd[old_end..]);

    let after = scan(&root, tmp.path());
    assert_eq!(after["error"], Value::Null, "{after}");
    assert_eq!(after["persons"], before["persons"]);
    assert_eq!(after["status"], before["status"]);
}

#[test]
fn resources_scan_calls_damaged_are_left_alone_by_apply() {
    // A resource with an unknown signature: the section is damaged for both.
    let psd = crafted(&resource(b"XXXX", 0x0FA0, b"junk"), &[]);
    let (tmp, root, file) = archive(&psd);
    let rec = scan(&root, tmp.path());
    assert_ne!(rec["error"], Value::Null, "{rec}");

    let out = command("apply", &root, tmp.path());
    assert_eq!(fs::read(&file).unwrap(), psd, "apply changed a file scan calls damaged");
    for row in jsonl(&out) {
        assert_ne!(row["action"], "written", "{row}");
    }
}
