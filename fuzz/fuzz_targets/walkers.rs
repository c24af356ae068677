//! Every container's layout walker and its three users (locating metadata, finding previews,
//! planning a write-back splice), the format chosen by the first byte so the fuzzer need not find
//! magic numbers. None may panic or hang.
#![no_main]
use consentry::media::{layout, read_metadata, Format};
use consentry::thumbnail::preview_sizes;
use consentry::writeback::splice::packet_of;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, rest)) = data.split_first() {
        let format = Format::ALL[pick as usize % Format::ALL.len()];
        let _ = layout(&rest, format);
        let _ = read_metadata(&rest, format);
        let _ = preview_sizes(&rest, format);
        let _ = packet_of(format, &rest);
    }
});
