//! Every container locator, chosen by the first byte, so the fuzzer need not find magic numbers.
#![no_main]
use consentry::media::{read_metadata, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, rest)) = data.split_first() {
        let format = Format::ALL[pick as usize % Format::ALL.len()];
        let _ = read_metadata(&rest, format);
    }
});
