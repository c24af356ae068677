//! The other files of a directory register: `persons.csv`, `exemptions.csv` and
//! `originators.csv`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::table::{read_table, EXEMPTION_COLUMNS, ORIGINATOR_COLUMNS, PERSON_COLUMNS};
use super::Problems;
use crate::model::{name_key, ExemptReason, Exemption, Origin, Originator, Person, Scope};
use crate::people::normalize_name;

pub(super) fn read_persons(file: &str, bytes: &[u8], p: &mut Problems) -> Vec<Person> {
    let mut out: Vec<Person> = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut names: HashMap<String, u64> = HashMap::new(); // name key -> line
    read_table(file, bytes, PERSON_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let id = t.text(row, "id");
        if let (Some(id), Some(f)) = (&id, t.get(row, "id")) {
            if let Some(first) = ids.insert(id.clone(), line) {
                p.error(file, line, f.column, format!("duplicate person id {id:?}: already used on line {first}"));
            }
        }
        let Some(name_field) = t.get(row, "name") else { return };
        let name = normalize_name(name_field.value);
        if name.is_empty() {
            p.error(file, line, name_field.column, "empty name");
            return;
        }
        let alias_field = t.get(row, "aliases");
        let aliases: Vec<String> = alias_field
            .map(|f| {
                f.value
                    .split('|')
                    .map(normalize_name)
                    .filter(|a| !a.is_empty() && name_key(a) != name_key(&name))
                    .collect()
            })
            .unwrap_or_default();
        let mut own = HashSet::new();
        for (n, column) in std::iter::once((&name, name_field.column))
            .chain(aliases.iter().map(|a| (a, alias_field.map_or(0, |f| f.column))))
        {
            let key = name_key(n);
            if !own.insert(key.clone()) {
                return;
            }
            if let Some(first) = names.insert(key, line) {
                p.error(file, line, column, format!("the name {n:?} already belongs to the person on line {first}"));
            }
        }
        out.push(Person { id, name, aliases });
    });
    out
}

pub(super) fn read_exemptions(
    file: &str,
    bytes: &[u8],
    persons: Option<&HashSet<String>>,
    p: &mut Problems,
) -> Vec<Exemption> {
    let mut out = Vec::new();
    read_table(file, bytes, EXEMPTION_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let errors_before = p.errors();
        let scope = t.get(row, "scope").and_then(|f| {
            if f.value.is_empty() {
                p.error(file, line, f.column, "empty scope (write * for every file)");
                return None;
            }
            Scope::parse(f.value).map_err(|m| p.error(file, line, f.column, m)).ok()
        });
        let person = t.get(row, "person").and_then(|f| match f.value {
            "" => {
                p.error(file, line, f.column, "empty person (write * for everyone depicted)");
                None
            }
            "*" => Some(None),
            v => {
                let name = normalize_name(v);
                if persons.is_some_and(|known| !known.contains(&name_key(&name))) {
                    p.error(
                        file,
                        line,
                        f.column,
                        format!("unknown person {name:?} (not a name or alias in persons.csv)"),
                    );
                }
                Some(Some(name))
            }
        });
        let reason = t.get(row, "reason").and_then(|f| {
            let reason = ExemptReason::parse(f.value);
            if f.value.is_empty() {
                p.error(file, line, f.column, "empty reason");
            } else if reason.is_none() {
                p.error(
                    file,
                    line,
                    f.column,
                    format!(
                        "unknown exemption reason {:?} (known: not-recognisable, prominent, public-event, other)",
                        f.value
                    ),
                );
            }
            reason
        });
        if p.errors() > errors_before {
            return;
        }
        if let (Some(scope), Some(person), Some(reason)) = (scope, person, reason) {
            out.push(Exemption {
                scope,
                person,
                reason,
                note: t.text(row, "note"),
                origin: Origin { file: Arc::from(file), line },
            });
        }
    });
    out
}

pub(super) fn read_originators(file: &str, bytes: &[u8], p: &mut Problems) -> Vec<Originator> {
    let mut out: Vec<Originator> = Vec::new();
    let mut ids: HashMap<String, u64> = HashMap::new();
    read_table(file, bytes, ORIGINATOR_COLUMNS, p, |t, row, p| {
        let line = row.line;
        let Some(name_field) = t.get(row, "name") else { return };
        if name_field.value.is_empty() {
            p.error(file, line, name_field.column, "empty name");
            return;
        }
        let name = normalize_name(name_field.value);
        // Without an id the name is the id.
        let id = t.text(row, "id").unwrap_or_else(|| name.clone());
        if let Some(first) = ids.insert(id.to_lowercase(), line) {
            let column = t.get(row, "id").map_or(name_field.column, |f| f.column);
            p.error(file, line, column, format!("duplicate originator id {id:?}: already used on line {first}"));
        }
        out.push(Originator { id, name });
    });
    out
}
