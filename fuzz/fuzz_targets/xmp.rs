//! The XMP/RDF parser and person extraction on arbitrary packets.
#![no_main]
use consentry::people::{self, Depicted, PeopleRoots};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(props) = consentry::xmp::parse(data, &|_| true) {
        let mut d = Depicted::default();
        people::from_xmp(&props, &PeopleRoots::default(), people::EMBEDDED, &mut d);
    }
});
