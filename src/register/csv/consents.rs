//! Consent rows: each row of a consent file validated (persons, usage, dates, scope,
//! originator, evidence, ids) into consents, or in deferred mode into row references.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::cache::RowCache;
use super::rows::{kept_text, key_hash, normal_name_hash, CsvFile, RowRef};
use super::table::{read_table, Field, Layout, Row, Table, CONSENT_COLUMNS};
use super::Problems;
use crate::model::{name_key, Consent, Date, Evidence, Origin, Originator, Scope, UsageSets, Vocabulary};
use crate::people::normalized_name;

/// The names of a person field: one, or a group separated by `|`.
pub(super) fn parse_names(value: &str) -> Result<Vec<Cow<'_, str>>, String> {
    if value.trim().is_empty() {
        return Err("empty person: every consent needs the name of the person who gave it".to_string());
    }
    let names: Vec<Cow<str>> = value.split('|').map(normalized_name).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!("empty name in the group {value:?}"));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = names.iter().skip_while(|_| names.len() == 1).find(|n| !seen.insert(name_key(n))) {
        return Err(format!("{twice:?} is named twice in the group {value:?}"));
    }
    Ok(names)
}

pub(super) struct ConsentCx<'a> {
    pub(super) vocabulary: &'a Vocabulary,
    /// Evidence document paths are relative to this directory.
    pub(super) doc_dir: &'a Path,
    /// Whether to look for the evidence documents (`register check`, reports that show them).
    pub(super) check_documents: bool,
    /// Validate only, and keep where each valid row is (for [`CsvRows`]) instead of building
    /// its consents; the index of the file among the register's consent files.
    pub(super) defer: Option<u32>,
    /// File stem, for the ids of rows without one (`stem:line`).
    pub(super) stem: String,
    /// Directory form with persons.csv: every name key (names and aliases).
    pub(super) persons: Option<&'a HashSet<String>>,
    /// Directory form with originators.csv.
    pub(super) originators: Option<&'a [Originator]>,
}

/// Consent ids seen so far across the files of a register, with where each was first used:
/// one text arena and a table of indices, not 100,000 small strings.
#[derive(Default)]
pub(super) struct Ids {
    pub(super) text: String,
    /// (start, length, file, line) of each id.
    pub(super) entries: Vec<(u32, u32, u32, u32)>,
    pub(super) files: Vec<Arc<str>>,
    pub(super) table: hashbrown::HashTable<u32>,
}

impl Ids {
    /// Record `id` as used on `file:line`; where it was used before, if it was.
    pub(super) fn claim(&mut self, id: &str, file: &Arc<str>, line: u64) -> Option<(Arc<str>, u64)> {
        let (text, entries) = (&self.text, &self.entries);
        let get = |i: u32| {
            let (start, len, _, _) = entries[i as usize];
            &text[start as usize..(start + len) as usize]
        };
        let vacant = match self.table.entry(key_hash(id), |&i| get(i) == id, |&i| key_hash(get(i))) {
            hashbrown::hash_table::Entry::Occupied(o) => {
                let (_, _, file, line) = self.entries[*o.get() as usize];
                return Some((self.files[file as usize].clone(), line.into()));
            }
            hashbrown::hash_table::Entry::Vacant(v) => v,
        };
        let entry = self.entries.len() as u32;
        vacant.insert(entry);
        if !self.files.last().is_some_and(|f| Arc::ptr_eq(f, file)) {
            self.files.push(file.clone());
        }
        let start = self.text.len() as u32;
        self.text.push_str(id);
        self.entries.push((start, id.len() as u32, self.files.len() as u32 - 1, line.min(u32::MAX.into()) as u32));
        None
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
        let (text, entries) = (&self.text, &self.entries);
        self.table.reserve(n, |&i| {
            let (start, len, _, _) = entries[i as usize];
            key_hash(&text[start as usize..(start + len) as usize])
        });
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.entries.clear();
        self.files.clear();
        self.table.clear();
    }
}

/// State shared by the rows of a register's consent files.
#[derive(Default)]
pub(super) struct ConsentState {
    pub(super) ids: Ids,
    pub(super) usage_sets: UsageSets,
    /// Reused buffer of vocabulary indices.
    pub(super) usage_buf: Vec<usize>,
    /// Usage field text -> its valid vocabulary indices.
    pub(super) usage_seen: FxHashMap<String, Vec<usize>>,
    pub(super) out: Vec<Consent>,
    /// Deferred mode: the valid rows, and (hash of a person's name key, row) pairs.
    pub(super) rows: Vec<RowRef>,
    pub(super) index: Vec<(u64, u32)>,
    /// Evidence documents to look for, relative to `doc_dir` (the same for every file of a
    /// register).
    pub(super) documents: Vec<DocumentUse>,
    pub(super) doc_dir: std::path::PathBuf,
}

/// A row's evidence document and the consents it backs.
pub(super) struct DocumentUse {
    pub(super) consents: std::ops::Range<usize>,
    pub(super) file: Arc<str>,
    pub(super) line: u64,
    pub(super) column: u64,
    pub(super) path: String,
}

/// Look for the evidence documents of the rows read (each distinct file once, in parallel: a
/// register of 100,000 consents names as many documents), mark the consents and warn about
/// missing or unreadable ones.
pub(super) fn look_for_documents(st: &mut ConsentState, p: &mut Problems) {
    let mut distinct: Vec<&str> = st.documents.iter().map(|d| d.path.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let found = crate::register::document_problems(&st.doc_dir, &distinct, |_| false);
    for d in &st.documents {
        let problem = &found[d.path.as_str()];
        let evidence = if problem.is_some() { Evidence::Missing } else { Evidence::Present };
        for c in &mut st.out[d.consents.clone()] {
            c.evidence = evidence;
        }
        if let Some(problem) = problem {
            p.warn(&d.file, d.line, d.column, problem.clone());
        }
    }
}

/// Read the consent files of a register, `(shown name, id stem, bytes)` each, into `st`; in
/// deferred mode return what reading their rows again needs. With a `cache` holding this
/// content's validated rows, those are taken instead of validating every row again; after a
/// load without errors the cache is written.
pub(super) fn consent_files(
    files: Vec<(String, String, Vec<u8>)>,
    cx: &ConsentCx,
    cache: Option<&RowCache>,
    st: &mut ConsentState,
    p: &mut Problems,
) -> Vec<CsvFile> {
    if let Some(hit) = cache.and_then(|c| c.read(files.len())) {
        return hit.restore(files, st, p);
    }
    let problems_before = p.0.len();
    let mut kept = Vec::new();
    for (shown, stem, bytes) in files {
        let file_cx = ConsentCx {
            vocabulary: cx.vocabulary,
            doc_dir: cx.doc_dir,
            check_documents: cx.check_documents,
            defer: cx.defer.map(|_| kept.len() as u32),
            stem,
            persons: cx.persons,
            originators: cx.originators,
        };
        kept.extend(read_consents(&shown, bytes, &file_cx, st, p));
    }
    if let Some(cache) = cache.filter(|_| p.errors() == 0) {
        cache.write(&kept, st, &p.0[problems_before..]);
    }
    kept
}

/// Read a file of consents into `st`; in deferred mode, return what reading its rows again
/// needs.
pub(super) fn read_consents(
    file: &str,
    bytes: Vec<u8>,
    cx: &ConsentCx,
    st: &mut ConsentState,
    p: &mut Problems,
) -> Option<CsvFile> {
    let shared: Arc<str> = Arc::from(file);
    st.doc_dir = cx.doc_dir.to_path_buf();
    // Room for one consent per line (more only for group rows): a register of 100,000 consents
    // is not copied while it grows.
    let lines = memchr::memchr_iter(b'\n', &bytes).count() + 1;
    if cx.defer.is_some() {
        st.rows.reserve(lines);
        st.index.reserve(lines);
    } else {
        st.out.reserve(lines);
    }
    st.ids.reserve(lines);
    let layout = read_table(file, &bytes, CONSENT_COLUMNS, p, |t, row, p| consent_row(t, row, cx, &shared, st, p))?;
    cx.defer?;
    let Layout { text, delimiter, columns } = layout;
    let (start, decoded) = kept_text(text, &bytes);
    Some(CsvFile { name: shared, stem: cx.stem.clone(), text: decoded.unwrap_or(bytes), start, delimiter, columns })
}

pub(super) fn consent_row(
    t: &Table,
    row: &Row,
    cx: &ConsentCx,
    shared: &Arc<str>,
    st: &mut ConsentState,
    p: &mut Problems,
) {
    let (file, line) = (t.file, row.line);
    let errors_before = p.errors();

    let names = t.get(row, "person").and_then(|f| {
        let names = parse_names(f.value).map_err(|m| p.error(file, line, f.column, m)).ok()?;
        for name in &names {
            if cx.persons.is_some_and(|known| !known.contains(&name_key(name))) {
                p.error(file, line, f.column, format!("unknown person {name:?} (not a name or alias in persons.csv)"));
            }
        }
        Some(names)
    });

    let usage = t.get(row, "usage").and_then(|f| {
        // Registers repeat a handful of usage lists: each is resolved once.
        if let Some(known) = st.usage_seen.get(f.value) {
            st.usage_buf.clone_from(known);
            return Some(());
        }
        st.usage_buf.clear();
        let mut ok = true;
        for word in f.value.split([',', '|']).map(str::trim).filter(|w| !w.is_empty()) {
            match cx.vocabulary.index_of(word) {
                Some(i) => st.usage_buf.push(i),
                None => {
                    ok = false;
                    let known = cx.vocabulary.accepted_words();
                    p.error(file, line, f.column, format!("unknown usage word {word:?} (known: {known})"));
                }
            }
        }
        if ok && st.usage_buf.is_empty() {
            p.error(file, line, f.column, "no usage: a consent must name what it allows (print, web, ...)");
            ok = false;
        }
        if ok && st.usage_seen.len() < 10_000 {
            st.usage_seen.insert(f.value.to_string(), st.usage_buf.clone());
        }
        Some(()).filter(|_| ok)
    });

    let mut date = |name: &str, optional: bool| -> Option<(Field, Option<Date>)> {
        let f = t.get(row, name)?;
        let v = f.value;
        if v.is_empty()
            || (name == "expires" && (v.eq_ignore_ascii_case("unbegrenzt") || v.eq_ignore_ascii_case("unlimited")))
        {
            if !optional {
                p.error(file, line, f.column, "no grant date");
                return None;
            }
            return Some((f, None));
        }
        match crate::model::parse_date(v) {
            Ok(d) => Some((f, Some(d))),
            Err(m) => {
                p.error(file, line, f.column, m);
                None
            }
        }
    };
    let granted = date("granted", false);
    let expires = date("expires", true);
    // `ja`, `x` (the spreadsheet habit): revoked, on a day nobody wrote down. Taken as revoked
    // since the grant (fail closed: no file is cleared by it on any day), with a warning.
    let revoked = match t.get(row, "revoked") {
        Some(f) if revoked_word(f.value) == Some(true) => {
            let since = granted.and_then(|(_, g)| g);
            if let Some(g) = since {
                p.warn(
                    file,
                    line,
                    f.column,
                    format!(
                        "revoked {:?} without a day: taken as revoked since the grant ({g}); write the day it was revoked",
                        f.value
                    ),
                );
            }
            Some((f, since))
        }
        Some(f) if revoked_word(f.value) == Some(false) => Some((f, None)),
        _ => date("revoked", true),
    };
    if let Some((_, Some(g))) = granted {
        if let Some((f, Some(e))) = expires {
            if e < g {
                p.error(file, line, f.column, format!("expires {e} before it was granted ({g})"));
            }
        }
        if let Some((f, Some(r))) = revoked {
            if r < g {
                p.error(file, line, f.column, format!("revoked {r} before it was granted ({g})"));
            }
        }
    }

    let scope = match t.get(row, "scope") {
        None => Some(Scope::All),
        Some(f) => Scope::parse(f.value).map_err(|m| p.error(file, line, f.column, m)).ok(),
    };

    let originator = match (t.get(row, "originator"), cx.originators) {
        (Some(f), Some(known)) if !f.value.is_empty() => {
            let found = known
                .iter()
                .find(|o| o.id.eq_ignore_ascii_case(f.value) || name_key(&o.name) == name_key(f.value))
                .map(|o| o.name.clone());
            if found.is_none() {
                p.error(file, line, f.column, format!("unknown originator {:?} (not in originators.csv)", f.value));
            }
            found
        }
        _ => t.text(row, "originator"),
    };

    let document_field = t.get(row, "document").filter(|f| !f.value.is_empty());
    let evidence = match (document_field, t.get(row, "document")) {
        // Looked for once all rows are read, in parallel (`look_for_documents`).
        (Some(_), _) => Evidence::Unchecked,
        (None, f) => {
            p.warn(file, line, f.map_or(0, |f| f.column), "no evidence document");
            Evidence::Missing
        }
    };

    // Ids: `ID` for one person, `ID.n` for the n-th of a group; `stem:line` when none is given.
    let id_field = t.get(row, "id").filter(|f| !f.value.is_empty());
    let base: Cow<str> = id_field.map_or_else(|| Cow::Owned(format!("{}:{line}", cx.stem)), |f| Cow::Borrowed(f.value));
    let group = names.as_ref().map_or(0, |n| if n.len() > 1 { n.len() } else { 0 });
    let members: Vec<String> = (1..=group).map(|i| format!("{base}.{i}")).collect();
    let claimed = std::iter::once(&*base).chain(members.iter().map(String::as_str));
    let mut duplicate = None;
    for id in claimed {
        if let Some(first) = st.ids.claim(id, shared, line) {
            duplicate = duplicate.or(Some((id, first)));
        }
    }
    if let Some((id, (f, l))) = duplicate {
        p.error(file, line, id_field.map_or(0, |f| f.column), format!("duplicate id {id:?}: already used on {f}:{l}"));
    }

    if p.errors() > errors_before {
        return;
    }
    let (Some(names), Some(()), Some((_, Some(granted))), Some(scope)) = (names, usage, granted, scope) else {
        return; // a required column is missing: reported with the header
    };
    if let Some(file_index) = cx.defer {
        let r = st.rows.len() as u32;
        st.rows.push(RowRef { file: file_index, line, offset: row.offset });
        st.index.extend(names.iter().map(|n| (normal_name_hash(n), r)));
        return;
    }
    let usage = cx.vocabulary.usage_set(&mut st.usage_buf, &mut st.usage_sets);
    let document = document_field.map(|f| f.value.to_string());
    let (comment, copyright) = (t.text(row, "comment"), t.text(row, "copyright"));
    if let (true, Some(doc)) = (cx.check_documents, document_field) {
        st.documents.push(DocumentUse {
            consents: st.out.len()..st.out.len() + names.len(),
            file: shared.clone(),
            line,
            column: doc.column,
            path: doc.value.to_string(),
        });
    }
    let consent_ids = if members.is_empty() { vec![base.into_owned()] } else { members };
    for (name, id) in names.into_iter().zip(consent_ids) {
        st.out.push(Consent {
            id,
            person: name.into_owned(),
            usage: usage.clone(),
            granted,
            expires: expires.and_then(|(_, d)| d),
            revoked: revoked.and_then(|(_, d)| d),
            document: document.clone(),
            originator: originator.clone(),
            scope: scope.clone(),
            comment: comment.clone(),
            copyright: copyright.clone(),
            origin: Origin { file: shared.clone(), line },
            evidence,
        });
    }
}

/// What a word in the revoked column says without a day: `Some(true)` for yes (`ja`, `j`, `x`,
/// `yes`, `true`), `Some(false)` for no (`nein`, `n`, `no`, `false`), any case; `None` for
/// anything else (a day, or an error).
pub(super) fn revoked_word(value: &str) -> Option<bool> {
    const YES: [&str; 5] = ["ja", "j", "x", "yes", "true"];
    const NO: [&str; 4] = ["nein", "n", "no", "false"];
    let v = value.trim();
    if YES.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if NO.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}
