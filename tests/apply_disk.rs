//! `apply` on a full disk: every file is reported and left as it was, exit 3, no copies left.
//! Needs a small tmpfs: runs as root where `mount` is allowed, else skips with a message (fails
//! under `CI=true`).

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use consentry_synth::{self as synth, Embed, SynthFormat};

fn photo(name: &str, payload: usize) -> Vec<u8> {
    let body = format!(
        r#"<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>{name}</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description>"#
    );
    let embed = Embed { xmp: Some(synth::xmp_packet(&body)), payload_bytes: payload, ..Embed::default() };
    synth::build(SynthFormat::Jpeg, &embed)
}

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_every_file_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=900k", "tmpfs"])
        .arg(&disk)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        support::missing("a small tmpfs (mounting one needs root)");
        return;
    }
    let _mount = Mount(disk.clone());
    let archive = disk.join("archive");
    fs::create_dir(&archive).unwrap();
    // Three photos of about 250 KB on a 900 KB disk: no room for a copy of any of them.
    let names = ["Anna Schmidt", "Ben Koch", "Cem Yilmaz"];
    let mut before = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let p = archive.join(format!("p{i}.jpg"));
        let bytes = photo(n, 250_000);
        fs::write(&p, &bytes).unwrap();
        before.push((p, bytes));
    }
    // Fill what is left but a few KB.
    let free = {
        let out = Command::new("df").args(["-B1", "--output=avail"]).arg(&disk).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
    };
    fs::write(disk.join("filler"), vec![0u8; free.saturating_sub(8 << 10) as usize]).ok();
    let register = tmp.path().join("register.csv");
    fs::write(&register, "id,person,usage,granted,document\n1,Anna Schmidt,web,2024-01-01,\n").unwrap();

    let out = support::consentry()
        .args(["apply", "--as-of", "2026-11-22", "--format", "jsonl"])
        .arg(&archive)
        .arg("--register")
        .arg(&register)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for (p, bytes) in &before {
        assert_eq!(&fs::read(p).unwrap(), bytes, "{} unchanged", p.display());
        assert!(err.contains(&*p.file_name().unwrap().to_string_lossy()), "{} reported: {err}", p.display());
    }
    assert!(err.contains("No space left") || err.contains("space"), "{err}");
    let leftovers: Vec<_> = fs::read_dir(&archive)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".consentry-apply-"))
        .collect();
    assert!(leftovers.is_empty(), "copies left behind: {leftovers:?}");
    assert!(Path::new(&archive).join("p0.jpg").exists());
}
