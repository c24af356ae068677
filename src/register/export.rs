//! Writing a register out as CSV (SPEC.md 3.2): the single consents file and the directory
//! register (consents, persons, exemptions, originators).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::model::{Consent, Date, Exemption, Originator, Person, Register};

const CONSENT_HEADERS: [&str; 11] = [
    "id",
    "person",
    "usage",
    "granted",
    "expires",
    "document",
    "originator",
    "scope",
    "comment",
    "copyright",
    "revoked",
];

pub(super) fn write_consents<'c>(consents: impl IntoIterator<Item = &'c Consent>, out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CONSENT_HEADERS)?;
    let date = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    for c in consents {
        w.write_record([
            c.id.as_str(),
            &c.person,
            &c.usage.iter().map(String::as_str).collect::<Vec<_>>().join(","),
            &c.granted.to_string(),
            &date(c.expires),
            c.document.as_deref().unwrap_or(""),
            c.originator.as_deref().unwrap_or(""),
            &c.scope.patterns().join("|"),
            c.comment.as_deref().unwrap_or(""),
            c.copyright.as_deref().unwrap_or(""),
            &date(c.revoked),
        ])?;
    }
    w.flush()
}

pub(super) fn write_persons<'p>(persons: impl IntoIterator<Item = &'p Person>, out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["id", "name", "aliases"])?;
    for p in persons {
        w.write_record([p.id.as_deref().unwrap_or(""), &p.name, &p.aliases.join("|")])?;
    }
    w.flush()
}

pub(super) fn write_exemptions<'e>(
    exemptions: impl IntoIterator<Item = &'e Exemption>,
    out: impl Write,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["scope", "person", "reason", "note"])?;
    for e in exemptions {
        let scope = e.scope.patterns().join("|");
        w.write_record([
            &scope,
            e.person.as_deref().unwrap_or("*"),
            e.reason.as_str(),
            e.note.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()
}

pub(super) fn write_originators<'o>(
    originators: impl IntoIterator<Item = &'o Originator>,
    out: impl Write,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["id", "name"])?;
    for o in originators {
        w.write_record([&o.id, &o.name])?;
    }
    w.flush()
}

/// Write the consents as the single-file CSV register of SPEC.md 3.2: English headers, `,`
/// delimiter, ISO dates, one row per consent (group consents are not merged back), usage areas
/// separated by `,` and scope globs by `|`. Person aliases, exemptions and originator ids cannot be
/// represented in one file (use [`export_dir`]). Document paths are written as stored, relative
/// to the database's directory: place the CSV beside the database to keep them valid.
pub fn export_csv(register: &Register, out: &mut impl Write) -> io::Result<()> {
    write_consents(&register.consents, out)
}

/// Write the register as a directory register: `consents.csv` (as [`export_csv`]), `persons.csv`
/// (id, name, aliases separated by `|`), `exemptions.csv` (scope, person or `*`, reason, note) and
/// `originators.csv` (id, name). Files are readable by the owner only (they hold names).
pub fn export_dir(register: &Register, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    // Owner only; an earlier export's file is replaced.
    let create =
        |name: &str| crate::own::private_file().create_new(false).create(true).truncate(true).open(dir.join(name));
    write_consents(&register.consents, io::BufWriter::new(create("consents.csv")?))?;
    write_persons(&register.persons, io::BufWriter::new(create("persons.csv")?))?;
    write_exemptions(&register.exemptions, io::BufWriter::new(create("exemptions.csv")?))?;
    write_originators(&register.originators, io::BufWriter::new(create("originators.csv")?))
}
