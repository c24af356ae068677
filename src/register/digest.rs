//! The content digest of a register (what evaluations and `apply` stamps name) and the hex
//! form of digests.

use sha2::{Digest, Sha256};

use super::export::{write_consents, write_exemptions, write_originators, write_persons};
use crate::model::{name_key, Consent, Exemption, Originator, Person, Register};

/// Lower-case hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) over a canonical dump of the register's content (the CSV exports, each sorted):
/// equal content gives equal digests whatever the row order or origin.
pub fn content_digest(register: &Register) -> String {
    let mut consents: Vec<&Consent> = register.consents.iter().collect();
    consents.sort_by(|a, b| a.id.cmp(&b.id));
    let mut persons: Vec<Person> = register.persons.clone();
    for p in &mut persons {
        p.aliases.sort_by_key(|a| name_key(a));
    }
    persons.sort_by(|a, b| (name_key(&a.name), &a.name).cmp(&(name_key(&b.name), &b.name)));
    let mut exemptions: Vec<&Exemption> = register.exemptions.iter().collect();
    exemptions.sort_by_key(|e| (e.scope.patterns().join("|"), e.person.clone(), e.reason, e.note.clone()));
    let mut originators: Vec<&Originator> = register.originators.iter().collect();
    originators.sort_by(|a, b| (&a.id, &a.name).cmp(&(&b.id, &b.name)));

    let mut dump = Vec::new();
    let sections = (|| {
        dump.extend_from_slice(b"# consents\n");
        write_consents(consents.iter().copied(), &mut dump)?;
        dump.extend_from_slice(b"# persons\n");
        write_persons(&persons, &mut dump)?;
        dump.extend_from_slice(b"# exemptions\n");
        write_exemptions(exemptions.iter().copied(), &mut dump)?;
        dump.extend_from_slice(b"# originators\n");
        write_originators(originators.iter().copied(), &mut dump)
    })();
    sections.expect("writing to memory cannot fail");
    hex(&Sha256::digest(&dump))
}
