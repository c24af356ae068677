//! The reports over a register's consents and persons: `report expiring`, `report consents`
//! and `consent search`, `report unknown-persons`, `report summary` and `person NAME`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Cell, Evaluated, Row};
use crate::consent::{valid_on, Reason, Status};
use crate::model::{self, Consent, Date, Register};

/// How the evaluated files use one consent: the two counts every report over consents shows
/// under the same names (`report expiring`, `report consents`, `consent search`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Use {
    /// Files whose decision uses the consent: it is valid for the file and counts toward its
    /// decision, whatever the status (a yellow file uses the consents of those who have one).
    /// An unreadable file uses none.
    pub files: usize,
    /// Of those, the green (cleared) files that would stop being green without it: no other
    /// consent of the same person counts for them. Indices into the evaluated files.
    pub would_stop_cleared: Vec<usize>,
}

/// How the evaluated `files` use each consent of `register`, by consent id: one pass over the
/// files. A green file stops being green without a consent exactly when none of the other
/// consents its decision uses belongs to the same person (every consent valid for the file
/// is in its decision), so nothing is evaluated again.
pub fn uses<'a>(files: &[Evaluated], register: &'a Register) -> HashMap<&'a str, Use> {
    let by_id: HashMap<&'a str, &'a Consent> = register.consents.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut uses: HashMap<&'a str, Use> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        let used: Vec<(&'a str, Option<usize>)> = f
            .decision
            .consents
            .iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .map(|c| (c.id.as_str(), register.identity(&c.person)))
            .collect();
        for &(id, identity) in &used {
            let entry = uses.entry(id).or_default();
            entry.files += 1;
            let alone = identity.is_none() || used.iter().filter(|(_, other)| *other == identity).count() == 1;
            if f.decision.status == Status::Green && alone {
                entry.would_stop_cleared.push(i);
            }
        }
    }
    uses
}

/// A row of `report expiring`: a consent that expires soon, and the renewal plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub id: String,
    pub person: String,
    pub expires: Date,
    /// Days from the evaluation day to its last day.
    pub days_left: i64,
    /// Files using it ([`Use::files`]).
    pub files: usize,
    /// Green files that would stop being green when it ends because its person would then lack
    /// consent: re-evaluated on the day after its expiry, so that a file covered by two of one
    /// person's consents that both run out is listed, and one whose other person's consent runs
    /// out is not (the files its renewal keeps cleared). In `report consents` and `consent
    /// search` the consent ends today instead ([`Use::would_stop_cleared`]).
    pub would_stop_cleared: Vec<String>,
}

impl Row for Expiring {
    const COLUMNS: &'static [&'static str] =
        &["id", "person", "expires", "days_left", "files", "would_stop_cleared", "would_stop_cleared_paths"];
    fn cells(&self) -> Vec<Cell> {
        vec![
            self.id.as_str().into(),
            self.person.as_str().into(),
            self.expires.into(),
            self.days_left.into(),
            self.files.into(),
            self.would_stop_cleared.len().into(),
            Cell::list(&self.would_stop_cleared),
        ]
    }
}

/// Consents expiring within `days` of `date`: how many files use each, and which of the green
/// ones would no longer be green the day after it expires (the renewal plan).
pub fn expiring(files: &[Evaluated], register: &Register, date: Date, days: u32) -> Vec<Expiring> {
    let until = date + chrono::Days::new(days.into());
    let uses = uses(files, register);
    // Green files (by index) per consent they use: one pass over the files, not one per consent.
    let mut green_by_consent: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in files.iter().enumerate().filter(|(_, f)| f.decision.status == Status::Green) {
        for id in &f.decision.consents {
            green_by_consent.entry(id.as_str()).or_default().push(i);
        }
    }
    // A file's decision on a day: consents of one file often expire on the same day, so each
    // (file, day) is evaluated once.
    let mut decided: HashMap<(usize, Date), crate::consent::Decision> = HashMap::new();
    let mut rows = Vec::new();
    for c in &register.consents {
        let Some(expires) = c.expires else { continue };
        if expires < date || expires > until || !valid_on(c, date) {
            continue;
        }
        let used = uses.get(c.id.as_str()).cloned().unwrap_or_default();
        let after = expires + chrono::Days::new(1);
        let clears = green_by_consent.get(c.id.as_str()).map_or(&[][..], Vec::as_slice);
        let person = register.identity(&c.person);
        let would_stop_cleared = clears
            .iter()
            .filter(|&&i| {
                let then = decided.entry((i, after)).or_insert_with(|| {
                    let f = &files[i];
                    f.record.evaluate(f.rel_path.as_deref(), register, after)
                });
                // Not green then because this consent's person lacks consent then: another
                // person's expiry is charged to their own consent, not to this one.
                then.status != Status::Green
                    && (person.is_none() || then.missing.iter().any(|m| register.identity(&m.name) == person))
            })
            .map(|&i| files[i].path())
            .collect();
        rows.push(Expiring {
            id: c.id.clone(),
            person: c.person.clone(),
            expires,
            days_left: (expires - date).num_days(),
            files: used.files,
            would_stop_cleared,
        });
    }
    // By the day as written, then the id.
    rows.sort_by_cached_key(|r| (r.expires.to_string(), r.id.clone()));
    rows
}

/// How a consent stands on a date.
pub fn validity(c: &Consent, date: Date) -> &'static str {
    if c.revoked.is_some_and(|r| r <= date) {
        "revoked"
    } else if c.granted > date {
        "not-yet-valid"
    } else if c.expires.is_some_and(|e| e < date) {
        "expired"
    } else {
        "valid"
    }
}

/// A row of a consent listing (`report consents`, `consent search`): a consent of the register
/// with its validity on the evaluation day and how the files use it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow<'a> {
    pub consent: &'a Consent,
    pub validity: &'static str,
    /// Files using it ([`Use::files`]).
    pub files: usize,
    /// Green files that would stop being green without it ([`Use::would_stop_cleared`]).
    pub would_stop_cleared: usize,
}

impl ConsentRow<'_> {
    fn new<'a>(consent: &'a Consent, date: Date, uses: &HashMap<&str, Use>) -> ConsentRow<'a> {
        let used = uses.get(consent.id.as_str());
        ConsentRow {
            consent,
            validity: validity(consent, date),
            files: used.map_or(0, |u| u.files),
            would_stop_cleared: used.map_or(0, |u| u.would_stop_cleared.len()),
        }
    }
}

impl Row for ConsentRow<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "person",
        "usage",
        "granted",
        "expires",
        "revoked",
        "validity",
        "document",
        "evidence",
        "originator",
        "scope",
        "files",
        "would_stop_cleared",
    ];
    fn cells(&self) -> Vec<Cell> {
        let c = self.consent;
        vec![
            c.id.as_str().into(),
            c.person.as_str().into(),
            Cell::list(c.usage.iter()),
            c.granted.into(),
            c.expires.into(),
            c.revoked.into(),
            self.validity.into(),
            c.document.as_deref().into(),
            c.evidence.as_str().into(),
            c.originator.as_deref().into(),
            Cell::list(c.scope.patterns()),
            self.files.into(),
            self.would_stop_cleared.into(),
        ]
    }
}

/// Every consent with its validity on `date`, document, originator and how the files use it,
/// row by row (`report consents`).
pub fn consent_rows<'a>(
    files: &[Evaluated],
    register: &'a Register,
    date: Date,
) -> impl Iterator<Item = ConsentRow<'a>> + 'a {
    let uses = uses(files, register);
    register.consents.iter().map(move |consent| ConsentRow::new(consent, date, &uses))
}

/// Which consents `consent search` lists.
#[derive(Debug, Clone, Default)]
pub struct ConsentFilter<'a> {
    /// Only the consents of this person ([`Register::identity`]).
    pub identity: Option<usize>,
    /// Only consents from this originator (any case).
    pub originator: Option<&'a str>,
    /// Only consents valid on this day.
    pub valid_on: Option<Date>,
    /// Only consents valid at some day between these two (either order).
    pub between: Option<(Date, Date)>,
}

/// `consent search`: the consents `filter` keeps, with their validity on `date` and how the
/// files use them.
pub fn search<'a>(
    files: &[Evaluated],
    register: &'a Register,
    date: Date,
    filter: &ConsentFilter,
) -> Vec<ConsentRow<'a>> {
    let uses = uses(files, register);
    let between = filter.between.map(|(a, b)| (a.min(b), a.max(b)));
    register
        .consents
        .iter()
        .filter(|c| filter.identity.is_none_or(|id| register.identity(&c.person) == Some(id)))
        .filter(|c| {
            filter.originator.is_none_or(|o| c.originator.as_deref().is_some_and(|co| co.eq_ignore_ascii_case(o)))
        })
        .filter(|c| filter.valid_on.is_none_or(|d| valid_on(c, d)))
        .filter(|c| {
            between.is_none_or(|(from, to)| {
                let end = [c.expires, c.revoked.map(|r| r.pred_opt().unwrap_or(r))].into_iter().flatten().min();
                c.granted <= to && end.is_none_or(|e| e >= from)
            })
        })
        .map(|consent| ConsentRow::new(consent, date, &uses))
        .collect()
}

/// A row of `report unknown-persons`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownPerson {
    pub name: String,
    /// Files naming them.
    pub files: usize,
    /// The closest register names.
    pub suggestions: Vec<String>,
}

impl Row for UnknownPerson {
    const COLUMNS: &'static [&'static str] = &["name", "files", "suggestions"];
    fn cells(&self) -> Vec<Cell> {
        vec![self.name.as_str().into(), self.files.into(), Cell::list(&self.suggestions)]
    }
}

/// Names found in files but absent from the register, with the closest register names.
pub fn unknown_persons(files: &[Evaluated], register: &Register) -> Vec<UnknownPerson> {
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    for f in files {
        for m in f.decision.missing.iter().filter(|m| m.reason == Reason::Unknown) {
            *unknown.entry(m.name.as_str()).or_insert(0) += 1;
        }
    }
    let known = register.known_names();
    unknown
        .into_iter()
        .map(|(name, files)| UnknownPerson {
            name: name.to_string(),
            files,
            suggestions: suggestions(name, &known).into_iter().map(str::to_string).collect(),
        })
        .collect()
}

/// Up to three register names within a small edit distance (typos like "Anna Schmitt"),
/// compared folded ([`fold`]): "Juergen Mueller" finds "Jürgen Müller".
pub fn suggestions<'a>(name: &str, known: &BTreeSet<&'a str>) -> Vec<&'a str> {
    let folded = fold(name);
    let mut scored: Vec<(f64, &str)> = known
        .iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(&folded, &fold(k)), *k))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// A name as [`suggestions`] compares it: normalised and lower-cased, the German letters
/// transliterated (ä/ae, ö/oe, ü/ue, ß/ss) and other accents dropped (é/e).
fn fold(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    for c in model::name_key(name).chars() {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' | 'ẞ' => out.push_str("ss"),
            _ => out.extend(std::iter::once(c).nfd().filter(|d| !is_combining_mark(*d))),
        }
    }
    out
}

/// A row of `report summary`: files counted by status, by usage, or by status per folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// `status`: the files of the run with a status (each file once); `usage`: the files *with
    /// persons on them* that may be published for a usage area; `no-persons`: the files with
    /// nobody on them (status `none`), which every usage allows, counted once apart instead of
    /// under every usage; `folder`: the files of one top-level folder with a status.
    pub group: &'static str,
    /// For `folder` rows: the first path segment below the archive root (`.` for a file in the
    /// root itself; for a file in no archive, its directory as walked). `None` for the others.
    pub folder: Option<String>,
    pub key: SummaryKey,
    pub files: usize,
}

/// What a [`SummaryRow`] counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SummaryKey {
    /// A status (shown in the output's language in tables).
    Status(Status),
    /// A usage area of the vocabulary.
    Usage(String),
    /// Every usage (the `no-persons` row).
    EveryUsage,
}

impl SummaryKey {
    /// The key as JSON and CSV write it.
    pub fn as_str(&self) -> &str {
        match self {
            SummaryKey::Status(s) => s.as_str(),
            SummaryKey::Usage(u) => u,
            SummaryKey::EveryUsage => "every-usage",
        }
    }
}

impl PartialEq<&str> for SummaryKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Row for SummaryRow {
    const COLUMNS: &'static [&'static str] = &["group", "folder", "key", "files"];
    fn cells(&self) -> Vec<Cell> {
        // The words are keys in JSON and CSV, words of the language in tables (`summary-<key>`).
        let key = match &self.key {
            SummaryKey::Status(s) => Cell::Status(*s),
            SummaryKey::EveryUsage => Cell::Word("every-usage".into(), "summary-"),
            SummaryKey::Usage(u) => u.as_str().into(),
        };
        let group = Cell::Word(self.group.into(), "summary-");
        vec![group, self.folder.as_deref().into(), key, self.files.into()]
    }
}

/// The top-level folder of a file for `report summary` ([`SummaryRow::folder`]).
fn top_folder(f: &Evaluated) -> String {
    use std::path::{Component, Path};
    match &f.rel_path {
        Some(rel) => {
            let mut segments = Path::new(rel).components().filter_map(|c| match c {
                Component::Normal(s) => Some(s),
                _ => None,
            });
            match (segments.next(), segments.next()) {
                (Some(first), Some(_)) => first.to_string_lossy().into_owned(),
                _ => ".".to_string(),
            }
        }
        None => match f.record.path.parent().map(Path::to_string_lossy) {
            Some(dir) if !dir.is_empty() => dir.into_owned(),
            _ => ".".to_string(),
        },
    }
}

/// Files per status; per usage area, how many files with persons on them may be published for
/// it, and the files with nobody on them apart; then, per top-level folder, its files per
/// status (statuses no file of the folder has are left out).
pub fn summary(files: &[Evaluated], register: &Register) -> Vec<SummaryRow> {
    let row = |group, folder, key, files| SummaryRow { group, folder, key, files };
    let mut rows = Vec::new();
    // Every file has one status (unreadable ones their own): the counts add up to the files.
    for status in Status::ALL {
        let n = files.iter().filter(|f| f.decision.status == status).count();
        rows.push(row("status", None, SummaryKey::Status(status), n));
    }
    // A file with nobody on it is allowed every usage: counted under each usage, three empty
    // photos would read as three photos cleared for advertising.
    let with_persons = || files.iter().filter(|f| f.decision.status != Status::None);
    for usage in register.vocabulary.names() {
        let n = with_persons().filter(|f| f.decision.allows(&[usage])).count();
        rows.push(row("usage", None, SummaryKey::Usage(usage.to_string()), n));
    }
    let empty = files.iter().filter(|f| f.decision.status == Status::None).count();
    rows.push(row("no-persons", None, SummaryKey::EveryUsage, empty));
    let mut folders: BTreeMap<String, [usize; Status::ALL.len()]> = BTreeMap::new();
    for f in files {
        let counts = folders.entry(top_folder(f)).or_default();
        if let Some(i) = Status::ALL.iter().position(|s| *s == f.decision.status) {
            counts[i] += 1;
        }
    }
    for (folder, counts) in folders {
        for (status, n) in Status::ALL.into_iter().zip(counts).filter(|(_, n)| *n > 0) {
            rows.push(row("folder", Some(folder.clone()), SummaryKey::Status(status), n));
        }
    }
    rows
}

/// A row of `person NAME`: one of their consents, or a file showing them.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonItem {
    /// `consent` or `file`.
    pub kind: &'static str,
    /// The consent's id, or the file's path.
    pub item: String,
    /// The consent's validity, or the file's status.
    pub status: &'static str,
    pub detail: String,
}

impl Row for PersonItem {
    const COLUMNS: &'static [&'static str] = &["kind", "item", "status", "detail"];
    fn cells(&self) -> Vec<Cell> {
        vec![self.kind.into(), self.item.as_str().into(), self.status.into(), self.detail.as_str().into()]
    }
}

/// `person NAME`: the person's consents (when the register knows them), then every file showing
/// them (under any of their names) with what stands in the way of its publication.
pub fn person(files: &[Evaluated], register: &Register, date: Date, name: &str) -> Vec<PersonItem> {
    let key = model::name_key(name);
    let identity = register.identity(name);
    let same = |n: &str| match identity {
        Some(id) => register.identity(n) == Some(id),
        None => model::name_key(n) == key,
    };
    let mut rows = Vec::new();
    if let Some(id) = identity {
        for c in register.consents_of(id) {
            rows.push(PersonItem {
                kind: "consent",
                item: c.id.clone(),
                status: validity(c, date),
                detail: format!(
                    "{} from {} until {}",
                    c.usage.iter().cloned().collect::<Vec<_>>().join(", "),
                    c.granted,
                    c.expires.map_or("unlimited".to_string(), |e| e.to_string())
                ),
            });
        }
    }
    for f in files.iter().filter(|f| f.record.depicted.persons.iter().any(|p| same(p))) {
        let own = f.decision.missing.iter().find(|m| same(&m.name)).map(|m| m.reason.as_str());
        let detail = match own {
            // Whatever consent the person has, a file not read completely is cleared for nothing.
            _ if f.decision.status == Status::Unreadable => {
                format!("unreadable: {}", f.record.error().unwrap_or_default())
            }
            Some(reason) => format!("no valid consent: {reason}"),
            None if f.decision.exempted.iter().any(|p| same(p)) => "exempted".to_string(),
            None => format!("consent covers {}", f.decision.usage.join(", ")),
        };
        rows.push(PersonItem { kind: "file", item: f.path(), status: f.decision.status.as_str(), detail });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, day};
    use super::*;

    fn ids(rows: &[ConsentRow]) -> Vec<String> {
        rows.iter().map(|r| r.consent.id.clone()).collect()
    }

    #[test]
    fn expiring_consents_come_with_the_files_that_would_turn() {
        let register = fixture::register();
        let files = fixture::files(&register);
        let rows = expiring(&files, &register, day("2026-06-01"), 30);
        assert_eq!(rows.len(), 1, "Ben's consent expired already");
        let r = &rows[0];
        // anna.jpg (green) and both.jpg (yellow: Ben's consent expired) use it; only anna.jpg
        // is cleared, and would not be without it.
        assert_eq!((r.id.as_str(), r.expires, r.days_left, r.files), ("1", day("2026-06-20"), 19, 2));
        assert_eq!(r.would_stop_cleared, ["anna.jpg"]);
        assert_eq!(r.cells()[2], Cell::Date(day("2026-06-20")));
        assert_eq!(r.cells()[3], Cell::Int(19));
        assert_eq!((r.cells()[4].clone(), r.cells()[5].clone()), (Cell::Int(2), Cell::Int(1)));
        assert!(expiring(&files, &register, day("2026-06-01"), 10).is_empty());
    }

    #[test]
    fn the_renewal_plan_charges_a_file_to_the_consent_whose_person_would_lack_it() {
        use crate::model::{Person, Vocabulary};
        let fixture = fixture::register();
        // Anna: 1 (print, web) ends 2026-06-20, 3 (web) never; Ben: 4 (print, web) ends 2026-06-20.
        let mut a1 = fixture.consents[0].clone();
        a1.id = "1".into();
        let mut a2 = a1.clone();
        a2.id = "3".into();
        a2.expires = None;
        let mut b1 = a1.clone();
        b1.id = "4".into();
        b1.person = "Ben Meyer".into();
        let persons = ["Anna Schmidt", "Ben Meyer"]
            .iter()
            .enumerate()
            .map(|(i, n)| Person { id: Some(i.to_string()), name: n.to_string(), aliases: vec![] })
            .collect();
        let register = Register::new(vec![a1, a2, b1], persons, vec![], vec![], Vocabulary::default(), "d".into());
        let files: Vec<Evaluated> = fixture::files(&register)
            .into_iter()
            .filter(|f| f.path() == "both.jpg")
            .map(|mut f| {
                f.decision = f.record.evaluate(f.rel_path.as_deref(), &register, day("2026-06-01"));
                f
            })
            .collect();
        assert_eq!(files[0].decision.status, Status::Green);
        let soon = expiring(&files, &register, day("2026-06-01"), 30);
        let plan: Vec<(&str, usize)> = soon.iter().map(|r| (r.id.as_str(), r.would_stop_cleared.len())).collect();
        // both.jpg turns on 2026-06-21 because of Ben; Anna keeps consent 3 for web.
        assert_eq!(plan, [("1", 0), ("4", 1)]);
    }

    #[test]
    fn a_second_consent_of_the_same_person_keeps_the_file_cleared() {
        use crate::model::{Person, Vocabulary};
        let fixture = fixture::register();
        let mut consents = fixture.consents.clone();
        let mut again = consents[0].clone();
        again.id = "3".into();
        consents.push(again);
        let persons = ["Anna Schmidt", "Ben Meyer"]
            .iter()
            .enumerate()
            .map(|(i, n)| Person { id: Some(i.to_string()), name: n.to_string(), aliases: vec![] })
            .collect();
        let register = Register::new(consents, persons, vec![], vec![], Vocabulary::default(), "digest".into());
        let files: Vec<Evaluated> = fixture::files(&register)
            .into_iter()
            .map(|mut f| {
                f.decision = f.record.evaluate(f.rel_path.as_deref(), &register, day("2026-06-01"));
                f
            })
            .collect();
        let uses = uses(&files, &register);
        // Both are used by anna.jpg and both.jpg; without either, anna.jpg stays green.
        for id in ["1", "3"] {
            assert_eq!(uses[id], Use { files: 2, would_stop_cleared: vec![] }, "{id}");
        }
        // But both run out on 2026-06-20: the renewal plan names anna.jpg under each, as the file
        // is no longer green the day after.
        let soon = expiring(&files, &register, day("2026-06-01"), 30);
        assert_eq!(
            soon.iter().map(|r| (r.id.as_str(), r.would_stop_cleared.clone())).collect::<Vec<_>>(),
            [("1", vec!["anna.jpg".to_string()]), ("3", vec!["anna.jpg".to_string()])]
        );
        assert!(!uses.contains_key("2"), "expired: used by no file");
        let rows = consent_rows(&files, &register, day("2026-06-01")).collect::<Vec<_>>();
        assert_eq!(rows.iter().map(|r| (r.files, r.would_stop_cleared)).collect::<Vec<_>>(), [(2, 0), (0, 0), (2, 0)]);
        // A renewal already signed (the second consent runs a year longer): nothing would turn.
        let mut renewed = register.consents.clone();
        renewed[2].expires = Some(day("2027-06-20"));
        let persons = register.persons.clone();
        let register = Register::new(renewed, persons, vec![], vec![], Vocabulary::default(), "digest".into());
        let soon = expiring(&files, &register, day("2026-06-01"), 30);
        assert_eq!(soon.len(), 1);
        assert!(soon[0].would_stop_cleared.is_empty(), "{:?}", soon[0]);
    }

    #[test]
    fn search_keeps_the_consents_the_filter_asks_for() {
        let register = fixture::register();
        let files = fixture::files(&register);
        let date = day("2026-06-01");
        let all = search(&files, &register, date, &ConsentFilter::default());
        assert_eq!(ids(&all), ["1", "2"]);
        assert_eq!((all[0].validity, all[0].files), ("valid", 2), "anna.jpg and both.jpg use it");
        assert_eq!(all[0].would_stop_cleared, 1, "anna.jpg is green by it alone; both.jpg is yellow");
        // The same consent, the same counts as `report expiring`.
        let soon = &expiring(&files, &register, date, 30)[0];
        assert_eq!((soon.files, soon.would_stop_cleared.len()), (all[0].files, all[0].would_stop_cleared));
        assert_eq!(all[1].validity, "expired");
        let ben = ConsentFilter { identity: register.identity("ben meyer"), ..ConsentFilter::default() };
        assert_eq!(ids(&search(&files, &register, date, &ben)), ["2"]);
        let valid = ConsentFilter { valid_on: Some(date), ..ConsentFilter::default() };
        assert_eq!(ids(&search(&files, &register, date, &valid)), ["1"]);
        // The two days in either order.
        let between =
            ConsentFilter { between: Some((day("2025-03-01"), day("2025-02-01"))), ..ConsentFilter::default() };
        assert_eq!(ids(&search(&files, &register, date, &between)), ["1"]);
        let studio = ConsentFilter { originator: Some("STUDIO"), ..ConsentFilter::default() };
        assert_eq!(search(&files, &register, date, &studio).len(), 2);
        let other = ConsentFilter { originator: Some("other"), ..ConsentFilter::default() };
        assert!(search(&files, &register, date, &other).is_empty());
        // `report consents` lists the same rows, all of them.
        assert_eq!(consent_rows(&files, &register, date).collect::<Vec<_>>(), all);
        let cells = all[0].cells();
        assert_eq!(cells.len(), ConsentRow::COLUMNS.len());
        assert_eq!(cells[2], Cell::list(["print", "web"]));
        assert_eq!(cells[5], Cell::Null);
        assert_eq!(cells[10], Cell::list(["*"]));
    }

    #[test]
    fn a_person_is_shown_with_their_consents_and_files() {
        let register = fixture::register();
        let files = fixture::files(&register);
        let rows = person(&files, &register, day("2026-06-01"), "ben meyer");
        let items: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.kind, r.item.as_str(), r.status)).collect();
        assert_eq!(items, [("consent", "2", "expired"), ("file", "ben.jpg", "red"), ("file", "both.jpg", "yellow")]);
        assert_eq!(rows[0].detail, "web from 2024-01-01 until 2025-01-01");
        assert_eq!(rows[1].detail, "no valid consent: expired");
        let anna = person(&files, &register, day("2026-06-01"), "Anna Schmidt");
        assert_eq!(anna[1].detail, "consent covers print, web");
        assert_eq!(anna.last().unwrap().detail, "unreadable: JPEG file: malformed data at byte 0: truncated");
        // A name the register does not know: only files, matched by the name.
        let carla = person(&files, &register, day("2026-06-01"), "carla");
        assert_eq!(carla.len(), 1);
        assert_eq!((carla[0].item.as_str(), carla[0].detail.as_str()), ("carla.jpg", "no valid consent: unknown"));
    }

    #[test]
    fn summary_counts_every_file_once_by_status() {
        let register = fixture::register();
        let rows = summary(&fixture::files(&register), &register);
        let statuses: Vec<(&str, usize)> =
            rows.iter().filter(|r| r.group == "status").map(|r| (r.key.as_str(), r.files)).collect();
        assert_eq!(statuses, [("red", 2), ("yellow", 1), ("unreadable", 1), ("green", 1), ("exempt", 0), ("none", 0)]);
        assert!(rows.iter().any(|r| r.group == "usage" && r.key == "web"));
        let unknown = unknown_persons(&fixture::files(&register), &register);
        assert_eq!(unknown, [UnknownPerson { name: "Carla".into(), files: 1, suggestions: vec![] }]);
    }

    #[test]
    fn summary_counts_files_without_persons_apart_and_per_top_level_folder() {
        let register = fixture::register();
        let mut files = fixture::files(&register);
        // An empty photo: status none, allowed every usage, but counted apart.
        let mut empty = files[0].clone();
        empty.record.depicted = crate::people::Depicted::default();
        empty.record.path = "event-b/empty.jpg".into();
        empty.decision = empty.record.evaluate(Some("event-b/empty.jpg"), &register, day("2026-06-01"));
        assert_eq!(empty.decision.status, Status::None);
        assert!(empty.decision.allows(&["web"]));
        files.push(empty);
        // anna (green) and ben (red) in event-a, both (yellow) and the empty one in event-b,
        // carla (red) in the root, broken (unreadable) in no archive under in/dir.
        let places =
            [Some("event-a/anna.jpg"), Some("event-a/sub/ben.jpg"), Some("event-b/both.jpg"), Some("carla.jpg"), None];
        for (f, rel) in files.iter_mut().zip(places) {
            f.rel_path = rel.map(str::to_string);
        }
        files[4].record.path = "in/dir/broken.jpg".into();
        files[5].rel_path = Some("event-b/empty.jpg".into());
        let rows = summary(&files, &register);
        let count = |group: &str, folder: Option<&str>, key: &str| {
            rows.iter()
                .filter(|r| r.group == group && r.folder.as_deref() == folder && r.key == key)
                .map(|r| r.files)
                .sum::<usize>()
        };
        // The whole run's statuses, unchanged.
        assert_eq!(count("status", None, "none"), 1);
        assert_eq!(count("status", None, "red"), 2);
        // Usage: only files with persons (anna's); the empty one apart.
        assert_eq!(count("usage", None, "web"), 1);
        assert_eq!(count("usage", None, "print"), 1);
        assert_eq!(count("no-persons", None, "every-usage"), 1);
        let folders: Vec<(&str, &str, usize)> = rows
            .iter()
            .filter(|r| r.group == "folder")
            .map(|r| (r.folder.as_deref().unwrap(), r.key.as_str(), r.files))
            .collect();
        assert_eq!(
            folders,
            [
                (".", "red", 1),
                ("event-a", "red", 1),
                ("event-a", "green", 1),
                ("event-b", "yellow", 1),
                ("event-b", "none", 1),
                ("in/dir", "unreadable", 1),
            ]
        );
        // Per folder the counts add up to the files.
        assert_eq!(folders.iter().map(|f| f.2).sum::<usize>(), files.len());
        // Statuses are typed cells (the language's word in tables), the folder a text or null.
        let cells = rows[0].cells();
        assert_eq!(
            cells,
            [Cell::Word("status".into(), "summary-"), Cell::Null, Cell::Status(Status::Red), Cell::Int(2)]
        );
        assert_eq!(
            (cells[0].json(), cells[0].display("|", crate::i18n::Lang::De)),
            (serde_json::json!("status"), "Status".into())
        );
        assert_eq!(rows.last().unwrap().cells()[1], Cell::from("in/dir"));
        assert_eq!(cells.len(), SummaryRow::COLUMNS.len());
    }

    #[test]
    fn suggestions_catch_typos() {
        let known: BTreeSet<&str> = ["Anna Schmidt", "Ben Meyer", "Anna Schmid"].into_iter().collect();
        assert_eq!(suggestions("Anna Schmitt", &known), ["Anna Schmidt", "Anna Schmid"]);
        assert!(suggestions("Zoe Quast", &known).is_empty());
    }

    #[test]
    fn suggestions_match_transliterations_case_and_accents() {
        let known: BTreeSet<&str> = ["Jürgen Müller", "Renée Groß", "Ben Meyer"].into_iter().collect();
        assert_eq!(suggestions("Juergen Mueller", &known), ["Jürgen Müller"]);
        assert_eq!(suggestions("JUERGEN MÜLLER", &known), ["Jürgen Müller"]);
        assert_eq!(suggestions("Renee Gross", &known), ["Renée Groß"]);
        // Decomposed input (u + combining diaeresis) folds like the composed letter.
        assert_eq!(suggestions("Ju\u{308}rgen Mu\u{308}ller", &known), ["Jürgen Müller"]);
        assert_eq!(fold("Jürgen Müller"), "juergen mueller");
    }
}
