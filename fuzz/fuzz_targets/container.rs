//! Every container locator, chosen by the first byte, so the fuzzer need not find magic numbers.
#![no_main]
use consentry::media::{read_metadata, Format};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 15] = [
    Format::Jpeg,
    Format::Tiff,
    Format::Dng,
    Format::TiffRaw,
    Format::Png,
    Format::WebP,
    Format::Gif,
    Format::Psd,
    Format::Heif,
    Format::Avif,
    Format::Mp4,
    Format::Mov,
    Format::Cr3,
    Format::Raf,
    Format::RawSidecarOnly,
];

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, rest)) = data.split_first() {
        let format = FORMATS[pick as usize % FORMATS.len()];
        let _ = read_metadata(&rest, format);
    }
});
