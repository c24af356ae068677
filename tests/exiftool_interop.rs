//! Interop: files whose person tags were written by exiftool (the reference implementation most
//! DAM scripts use) are read to the same persons by consentry, in every format exiftool writes.
//! Skipped when exiftool is not installed (`scripts/test.sh` installs it), except under `CI=true`,
//! where that fails.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::exiftool_available;

fn exiftool(args: &[&str], file: &Path) {
    let out = Command::new("exiftool").args(["-q", "-q", "-overwrite_original"]).args(args).arg(file).output().unwrap();
    assert!(out.status.success(), "exiftool {args:?} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
}

/// A small real image in `format`, encoded by the image crate.
fn base_image(path: &Path, format: image::ImageFormat) {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([(x * 16) as u8, (y * 16) as u8, 128]));
    image::DynamicImage::ImageRgb8(img).save_with_format(path, format).unwrap();
}

const XMP_SOURCES: &[&str] = &[
    "-XMP-iptcExt:PersonInImage=Anna Schmidt",
    "-XMP-iptcExt:PersonInImageWDetails={PersonName=Ben Meyer}",
    "-XMP-iptcExt:ImageRegion=[{RegionBoundary={RbShape=rectangle,RbUnit=relative,RbX=0.1,RbY=0.1,RbW=0.2,RbH=0.2},PersonInImage=Carla Roth}]",
    "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=16,H=16,Unit=pixel},RegionList=[{Area={X=0.5,Y=0.5,W=0.1,H=0.1,Unit=normalized},Type=Face,Name=Dora Klein},{Area={X=0.2,Y=0.2,W=0.1,H=0.1,Unit=normalized},Type=Face}]}",
    "-XMP-MP:RegionInfoMP={Regions=[{PersonDisplayName=Emil Weber,Rectangle=0.1|, 0.1|, 0.2|, 0.2}]}",
    "-XMP-digiKam:TagsList=People/Frieda Wolf",
    "-XMP-digiKam:TagsList=Places/Berlin",
    "-XMP-lr:HierarchicalSubject=Personen|Günter Groß",
    "-XMP-dc:Subject=Not A Person",
    "-XMP-photoshop:DateCreated=2024:03:01 10:22:33",
];

const XMP_PERSONS: &[&str] =
    &["Anna Schmidt", "Ben Meyer", "Carla Roth", "Dora Klein", "Emil Weber", "Frieda Wolf", "Günter Groß"];

fn scan(dir: &Path) -> Vec<Value> {
    let out = support::consentry().args(["scan", "--quiet", "--format", "json"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn record<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    recs.iter().find(|r| r["path"].as_str().unwrap().ends_with(name)).unwrap_or_else(|| panic!("{name}: {recs:#?}"))
}

#[test]
fn persons_written_by_exiftool_are_read_in_every_format() {
    if !exiftool_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let formats = [
        ("photo.jpg", image::ImageFormat::Jpeg, true, true),
        ("photo.tif", image::ImageFormat::Tiff, true, true),
        ("photo.png", image::ImageFormat::Png, true, false),
        ("photo.webp", image::ImageFormat::WebP, true, false),
        ("photo.gif", image::ImageFormat::Gif, false, false),
    ];
    for (name, format, exif, iptc) in formats {
        let path = d.join(name);
        base_image(&path, format);
        let mut args: Vec<&str> = XMP_SOURCES.to_vec();
        if exif {
            args.extend(["-EXIF:XPKeywords=People/Hans Vogel;Holiday", "-EXIF:DateTimeOriginal=2023:12:24 18:00:00"]);
        }
        if iptc {
            args.extend([
                "-IPTC:CodedCharacterSet=UTF8",
                "-IPTC:Keywords=Persons/Ida Neumann",
                "-IPTC:Keywords=Summer",
            ]);
        }
        exiftool(&args, &path);
    }
    let recs = scan(d);
    for (name, _, exif, iptc) in formats {
        let r = record(&recs, name);
        let mut want: Vec<&str> = XMP_PERSONS.to_vec();
        if exif {
            want.push("Hans Vogel");
        }
        if iptc {
            want.push("Ida Neumann");
        }
        want.sort();
        assert_eq!(r["persons"], json!(want), "{name}");
        assert_eq!(r["unnamed_faces"], 1, "{name}");
        // EXIF DateTimeOriginal wins over XMP photoshop:DateCreated (SPEC.md 2.4).
        let taken = if exif { "2023-12-24T18:00:00" } else { "2024-03-01T10:22:33" };
        assert_eq!(r["taken"], taken, "{name}");
    }
}

#[test]
fn sidecars_written_by_exiftool_merge_with_embedded_persons() {
    if !exiftool_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    base_image(&d.join("a.jpg"), image::ImageFormat::Jpeg);
    exiftool(&["-XMP-iptcExt:PersonInImage=In File"], &d.join("a.jpg"));
    for (sidecar, person) in [("a.xmp", "Adobe Style"), ("a.jpg.xmp", "Darktable Style")] {
        let out = Command::new("exiftool")
            .args(["-q", "-o"])
            .arg(d.join(sidecar))
            .arg(format!("-XMP-mwg-rs:RegionInfo={{RegionList=[{{Type=Face,Name={person}}}]}}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let recs = scan(d);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["persons"], json!(["Adobe Style", "Darktable Style", "In File"]));
    assert_eq!(recs[0]["sidecars"].as_array().unwrap().len(), 2);
}
