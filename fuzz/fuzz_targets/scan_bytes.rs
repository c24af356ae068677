//! The whole per-file path: detect the container from its bytes, locate metadata, parse XMP,
//! EXIF and IPTC, find persons.
#![no_main]
use consentry::people::PeopleRoots;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = consentry::scan::scan_bytes(data, "jpg", &PeopleRoots::default());
});
