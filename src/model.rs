//! Domain types of the consent register (SPEC.md 1 and 3) and the name normalisation that the
//! register and the person sources share. No I/O; imports nothing of the crate.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use unicode_normalization::UnicodeNormalization;

/// A calendar day; consents are granted, expire and are revoked on days, not instants.
pub type Date = chrono::NaiveDate;

/// Where a register entry came from, for messages: `register.csv:12`, `register.sqlite: consent 7`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// Shared by every entry of the same file.
    pub file: Arc<str>,
    /// 1-based line (CSV) or 0 when not line-based (SQLite).
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            f.write_str(&self.file)
        }
    }
}

/// One usage area (Einsatzgebiet) with the words accepted for it on input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTerm {
    /// Canonical name (lower case), as written to output and `consentry:Usage` (`print`, `web`, ...).
    pub name: String,
    /// Other accepted words (any case): German synonyms, spellings.
    pub synonyms: Vec<String>,
    /// The name as the vocabulary spells it (`Druck` in `consentry.toml`), for the Lightroom
    /// keywords `apply` writes (`Consent|Druck`).
    pub spelling: String,
}

/// The usage vocabulary (SPEC.md 3.3): replaceable in `consentry.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    terms: Vec<UsageTerm>,
    /// Normalised, lower-cased name or synonym -> index into `terms`.
    lookup: FxHashMap<String, usize>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        let t = |name: &str, syn: &[&str]| UsageTerm {
            name: name.to_string(),
            synonyms: syn.iter().map(|s| s.to_string()).collect(),
            spelling: name.to_string(),
        };
        // The words German consent forms and registers use (README, "Usage words"): a
        // newspaper is print (`Zeitung`: the page is printed; handing a photo to journalists is
        // `press`), a poster is advertising (`Plakat`: it promotes).
        Vocabulary::new(vec![
            t("print", &["Print", "Druck", "Printmedien", "Zeitung"]),
            t("web", &["Internet", "Website", "Homepage", "Webseite"]),
            t("social", &["Social Media", "social-media", "Soziale Medien", "Soziale Netzwerke"]),
            t("intranet", &[]),
            t("press", &["Presse"]),
            t("advertising", &["Werbung", "Plakat"]),
            t("tv", &["Fernsehen", "Video"]),
            t("exhibition", &["Ausstellung"]),
            t("third-party", &["Weitergabe an Dritte", "third party"]),
            t("archive", &["Speicherung", "Archivierung", "Archiv"]),
        ])
    }
}

impl Vocabulary {
    pub fn new(terms: Vec<UsageTerm>) -> Self {
        let mut lookup = FxHashMap::default();
        for (i, t) in terms.iter().enumerate() {
            for word in std::iter::once(&t.name).chain(&t.synonyms) {
                lookup.entry(name_key(word)).or_insert(i);
            }
        }
        Vocabulary { terms, lookup }
    }

    /// The canonical name for an input word (case-insensitive, surrounding space ignored).
    pub fn resolve(&self, word: &str) -> Option<&str> {
        self.lookup.get(&name_key(word)).map(|&i| self.terms[i].name.as_str())
    }

    /// The index (in vocabulary order) of the usage area an input word names.
    pub fn index_of(&self, word: &str) -> Option<usize> {
        self.lookup.get(&name_key(word)).copied()
    }

    /// A shared usage set for vocabulary indices (sorted and deduplicated in place), the same
    /// `Arc` for the same set: a register of 100,000 consents holds a handful of sets.
    pub fn usage_set(&self, indices: &mut Vec<usize>, cache: &mut UsageSets) -> Arc<BTreeSet<String>> {
        indices.sort_unstable();
        indices.dedup();
        if let Some(set) = cache.0.get(indices.as_slice()) {
            return set.clone();
        }
        let set: Arc<BTreeSet<String>> = Arc::new(indices.iter().map(|&i| self.terms[i].name.clone()).collect());
        cache.0.insert(indices.clone(), set.clone());
        set
    }

    /// Every canonical usage name, in vocabulary order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.name.as_str())
    }

    /// The vocabulary's spelling of a canonical usage name (the name itself when unknown).
    pub fn spelling<'a>(&'a self, name: &'a str) -> &'a str {
        self.terms.iter().find(|t| t.name == name).map_or(name, |t| t.spelling.as_str())
    }

    pub fn terms(&self) -> &[UsageTerm] {
        &self.terms
    }

    /// Every accepted word, for an error about an unknown one: the canonical names, then the
    /// other words of each area (`print, web, ...; also: Druck, Printmedien, Zeitung = print;
    /// ...`). Spellings differing from the name only in case are not repeated.
    pub fn accepted_words(&self) -> String {
        let names: Vec<&str> = self.names().collect();
        let mut text = names.join(", ");
        let others: Vec<String> = self
            .terms
            .iter()
            .filter_map(|t| {
                let key = name_key(&t.name);
                let words: Vec<&str> = t.synonyms.iter().map(String::as_str).filter(|w| name_key(w) != key).collect();
                (!words.is_empty()).then(|| format!("{} = {}", words.join(", "), t.name))
            })
            .collect();
        if !others.is_empty() {
            text.push_str("; also: ");
            text.push_str(&others.join("; "));
        }
        text
    }
}

/// The usage sets made so far by [`Vocabulary::usage_set`].
#[derive(Debug, Default)]
pub struct UsageSets(FxHashMap<Vec<usize>, Arc<BTreeSet<String>>>);

/// Which files a consent or exemption covers, as globs relative to the archive root
/// (`*` and `?` within one path segment, `**` across segments, `[a-c]` classes).
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every file (`*` as the whole scope).
    All,
    /// Shared: registers repeat the same scopes across many consents.
    Globs(std::sync::Arc<[ScopeGlob]>),
}

#[derive(Debug, Clone)]
pub struct ScopeGlob {
    pub pattern: String,
    matcher: globset::GlobMatcher,
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.patterns() == other.patterns()
    }
}

impl Scope {
    /// Parse a scope field: empty or `*` is every file; otherwise globs separated by `|`.
    pub fn parse(field: &str) -> Result<Scope, String> {
        let trimmed = field.trim();
        if trimmed.is_empty() || trimmed == "*" {
            return Ok(Scope::All);
        }
        if let Some(scope) = SCOPES.with(|c| c.borrow().get(field).cloned()) {
            return Ok(scope);
        }
        let parts: Vec<&str> = field.split('|').map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts == ["*"] {
            return Ok(Scope::All);
        }
        let scope =
            parts.into_iter().map(ScopeGlob::new).collect::<Result<Vec<_>, _>>().map(|g| Scope::Globs(g.into()))?;
        SCOPES.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.len() < 100_000 {
                cache.insert(field.to_string(), scope.clone());
            }
        });
        Ok(scope)
    }

    /// Whether the file at `rel_path` (relative to the archive root, `/`-separated) is covered.
    /// A file in no archive (`None`) has no root: only `*` covers it.
    pub fn matches(&self, rel_path: Option<&str>) -> bool {
        match (self, rel_path) {
            (Scope::All, _) => true,
            (Scope::Globs(globs), Some(rel)) => globs.iter().any(|g| g.matcher.is_match(rel)),
            (Scope::Globs(_), None) => false,
        }
    }

    /// The scope as written: `*` or the globs.
    pub fn patterns(&self) -> Vec<&str> {
        match self {
            Scope::All => vec!["*"],
            Scope::Globs(g) => g.iter().map(|g| g.pattern.as_str()).collect(),
        }
    }
}

thread_local! {
    /// Parsed scopes by field text: registers repeat the same event folders across many
    /// consents, and compiling globs costs far more than sharing compiled ones.
    static SCOPES: std::cell::RefCell<FxHashMap<String, Scope>> = std::cell::RefCell::new(FxHashMap::default());
}

impl ScopeGlob {
    pub fn new(pattern: &str) -> Result<ScopeGlob, String> {
        let p = pattern.trim().trim_start_matches("./");
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("invalid scope pattern {pattern:?}: {}", e.kind()))?;
        Ok(ScopeGlob { pattern: p.to_string(), matcher: glob.compile_matcher() })
    }
}

/// One person's consent (a group consent is stored as one per person, sharing id prefix,
/// document and terms).
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    /// Stable identifier (the register's id; `ID.n` for the n-th person of a group row).
    pub id: String,
    /// The person's name as the register writes it (normalised).
    pub person: String,
    /// Canonical usage names (shared by the consents with the same set).
    pub usage: Arc<BTreeSet<String>>,
    pub granted: Date,
    /// Last day the consent counts; `None`: unlimited.
    pub expires: Option<Date>,
    /// From this day on the consent no longer counts.
    pub revoked: Option<Date>,
    /// Evidence document path, relative to the register's directory.
    pub document: Option<String>,
    /// Originator (Urheber) name.
    pub originator: Option<String>,
    pub scope: Scope,
    pub comment: Option<String>,
    pub copyright: Option<String>,
    pub origin: Origin,
    /// Whether the evidence document was found, when the loader was asked to look.
    pub evidence: Evidence,
}

/// The state of a consent's evidence document. Only `register check` and the reports that
/// show documents look at the evidence folder; evaluation does not depend on it (SPEC.md 3.5:
/// a consent with a missing document still counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Evidence {
    /// Not looked at.
    #[default]
    Unchecked,
    /// The document exists and is readable.
    Present,
    /// No document, or it is missing or unreadable (the register's warnings say which).
    Missing,
}

impl Evidence {
    /// Short form for reports: `unchecked`, `ok`, `missing`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Evidence::Unchecked => "unchecked",
            Evidence::Present => "ok",
            Evidence::Missing => "missing",
        }
    }
}

/// A person of the register with the other names they are tagged under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: Option<String>,
    pub name: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExemptReason {
    NotRecognisable,
    Prominent,
    PublicEvent,
    Other,
}

impl ExemptReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExemptReason::NotRecognisable => "not-recognisable",
            ExemptReason::Prominent => "prominent",
            ExemptReason::PublicEvent => "public-event",
            ExemptReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_lowercase().replace(['_', ' '], "-").as_str() {
            "not-recognisable" | "not-recognizable" | "nicht-erkennbar" => Some(ExemptReason::NotRecognisable),
            "prominent" => Some(ExemptReason::Prominent),
            "public-event" | "öffentliche-veranstaltung" => Some(ExemptReason::PublicEvent),
            "other" | "sonstiges" | "andere" => Some(ExemptReason::Other),
            _ => None,
        }
    }
}

/// A depicted person who needs no consent for the files in a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    pub scope: Scope,
    /// `None`: everyone depicted (`*`), including unnamed faces.
    pub person: Option<String>,
    pub reason: ExemptReason,
    pub note: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originator {
    pub id: String,
    pub name: String,
}

/// Name key (name or alias) -> identity index for the persons of persons.csv (identity `i` is
/// `persons[i]`), with room for `more` names.
fn person_identities(persons: &[Person], more: usize) -> FxHashMap<String, usize> {
    let mut identity: FxHashMap<String, usize> = FxHashMap::default();
    identity.reserve(persons.len() + more);
    for (id, p) in persons.iter().enumerate() {
        for name in std::iter::once(&p.name).chain(&p.aliases) {
            identity.entry(name_key(name)).or_insert(id);
        }
    }
    identity
}

/// A date as the register and the command line write it: `YYYY-MM-DD` or `DD.MM.YYYY` (day and
/// month may have one digit, the year has four). The one date parser of consentry: `1.3.24`
/// or `24-3-1` are refused, never read as the year 24.
pub fn parse_date(value: &str) -> Result<Date, String> {
    let v = value.trim();
    let bad = || format!("invalid date {v:?} (expected YYYY-MM-DD or DD.MM.YYYY)");
    let number = |s: &str, max_len: usize| -> Option<u32> {
        if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let iso = v.contains('-');
    let mut parts = v.split(if iso { '-' } else { '.' });
    let (Some(a), Some(b), Some(c), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (y, m, d) = if iso { (a, b, c) } else { (c, b, a) };
    if y.len() != 4 {
        return Err(bad());
    }
    let (Some(y), Some(m), Some(d)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err(bad());
    };
    Date::from_ymd_opt(y as i32, m, d).ok_or_else(|| format!("invalid date {v:?}: there is no such day"))
}

/// NFC, trimmed, inner whitespace collapsed to one space.
pub fn normalize_name(raw: &str) -> String {
    normalized_name(raw).into_owned()
}

/// [`normalize_name`] without a copy when the name is already normal (the common case).
pub fn normalized_name(raw: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII with single inner spaces is normal: one pass over the bytes.
    let b = raw.as_bytes();
    if b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && b.iter().all(|&c| c.is_ascii_graphic() || c == b' ')
        && !b.windows(2).any(|w| w == b"  ")
    {
        return std::borrow::Cow::Borrowed(raw);
    }
    let tidy = !raw.starts_with(char::is_whitespace)
        && !raw.ends_with(char::is_whitespace)
        && !raw.contains(|c: char| c.is_whitespace() && c != ' ')
        && !raw.contains("  ");
    if tidy && unicode_normalization::is_nfc_quick(raw.chars()) == unicode_normalization::IsNormalized::Yes {
        return std::borrow::Cow::Borrowed(raw);
    }
    let nfc: String = raw.nfc().collect();
    std::borrow::Cow::Owned(nfc.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Index key of a name: normalised and case-folded.
pub fn name_key(name: &str) -> String {
    let name = normalized_name(name);
    if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.to_lowercase()
    }
}

/// Consents a loader validated but did not build: a register of 100,000 consents, of whom a
/// scan meets a few hundred, is built only for the persons the scan meets
/// ([`Register::prepare`]).
pub trait DeferredConsents: Send + Sync + fmt::Debug {
    /// Every consent whose person's name key ([`name_key`]) is `key`, in register order, each
    /// with its place in the whole register (increasing in register order).
    fn consents_of_key(&self, key: &str) -> Vec<(u64, Consent)>;
}

/// A loaded, validated register, indexed for evaluation. Its consents are either all built
/// (listings, export) or deferred: then [`Register::prepare`] builds those of the names about to
/// be evaluated, and `consents` holds only the consents built so far.
#[derive(Debug, Clone)]
pub struct Register {
    pub consents: Vec<Consent>,
    pub persons: Vec<Person>,
    pub exemptions: Vec<Exemption>,
    pub originators: Vec<Originator>,
    pub vocabulary: Vocabulary,
    /// SHA-256 (hex) of the register's content, to trace results to the register.
    pub digest: String,
    /// Name key (name or alias) -> identity index.
    identity: FxHashMap<String, usize>,
    /// Identity `i`'s consents are `by_identity[starts[i]..starts[i + 1]]` (indices into
    /// `consents`, in register order): one allocation for all identities.
    starts: Vec<usize>,
    by_identity: Vec<usize>,
    deferred: Option<Deferred>,
}

#[derive(Debug, Clone)]
struct Deferred {
    source: Arc<dyn DeferredConsents>,
    /// Identity -> indices into `consents` of its consents built so far.
    lists: FxHashMap<usize, Vec<usize>>,
    /// Place in the whole register of each consent built.
    order: Vec<u64>,
    /// Name keys whose consents are built.
    built: rustc_hash::FxHashSet<String>,
    /// Identities assigned so far.
    identities: usize,
}

impl Register {
    /// Index a register. Persons of `persons` and their aliases are one identity each; a name
    /// that appears only in consents is an identity of its own.
    pub fn new(
        consents: Vec<Consent>,
        persons: Vec<Person>,
        exemptions: Vec<Exemption>,
        originators: Vec<Originator>,
        vocabulary: Vocabulary,
        digest: String,
    ) -> Register {
        let mut identity = person_identities(&persons, consents.len());
        let mut count = persons.len();
        // The identity of each consent, then a counting sort into one index array.
        let owner: Vec<usize> = consents
            .iter()
            .map(|c| {
                *identity.entry(name_key(&c.person)).or_insert_with(|| {
                    count += 1;
                    count - 1
                })
            })
            .collect();
        let mut starts = vec![0usize; count + 1];
        for &o in &owner {
            starts[o + 1] += 1;
        }
        for i in 0..count {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut by_identity = vec![0usize; consents.len()];
        for (i, &o) in owner.iter().enumerate() {
            by_identity[next[o]] = i;
            next[o] += 1;
        }
        Register {
            consents,
            persons,
            exemptions,
            originators,
            vocabulary,
            digest,
            identity,
            starts,
            by_identity,
            deferred: None,
        }
    }

    /// A register whose consents are built on demand from `source` ([`Register::prepare`]).
    /// The names of exemptions are prepared at once (evaluation compares them by identity).
    pub fn deferred(
        source: Arc<dyn DeferredConsents>,
        persons: Vec<Person>,
        exemptions: Vec<Exemption>,
        originators: Vec<Originator>,
        vocabulary: Vocabulary,
        digest: String,
    ) -> Register {
        let identity = person_identities(&persons, 0);
        let deferred = Deferred {
            source,
            lists: FxHashMap::default(),
            order: Vec::new(),
            built: Default::default(),
            identities: persons.len(),
        };
        let mut register = Register {
            consents: Vec::new(),
            persons,
            exemptions,
            originators,
            vocabulary,
            digest,
            identity,
            starts: Vec::new(),
            by_identity: Vec::new(),
            deferred: Some(deferred),
        };
        let exempted: Vec<String> = register.exemptions.iter().filter_map(|e| e.person.clone()).collect();
        register.prepare(exempted.iter().map(String::as_str));
        register
    }

    /// Build the consents of `names` (and of every other name of the same persons) when they
    /// are deferred; call before evaluating files that show them. Without deferred consents,
    /// or for names already prepared, this does nothing.
    pub fn prepare<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let Some(deferred) = self.deferred.as_mut() else { return };
        for name in names {
            let key = name_key(name);
            if deferred.built.contains(&key) {
                continue;
            }
            // Every name of the person: a person of persons.csv has aliases.
            let keys: Vec<String> = match self.identity.get(&key) {
                Some(&id) if id < self.persons.len() => {
                    let p = &self.persons[id];
                    std::iter::once(&p.name).chain(&p.aliases).map(|n| name_key(n)).collect()
                }
                _ => vec![key],
            };
            for key in keys {
                if !deferred.built.insert(key.clone()) {
                    continue;
                }
                let consents = deferred.source.consents_of_key(&key);
                if consents.is_empty() {
                    continue;
                }
                let id = *self.identity.entry(key).or_insert_with(|| {
                    deferred.identities += 1;
                    deferred.identities - 1
                });
                let list = deferred.lists.entry(id).or_default();
                for (order, c) in consents {
                    list.push(self.consents.len());
                    deferred.order.push(order);
                    self.consents.push(c);
                }
            }
        }
    }

    /// The identity a plain keyword names (for the hints), building the consents of a
    /// consents-only name when they are deferred: like [`Register::identity`] after
    /// [`Register::prepare`], but a keyword that names nobody is not remembered, so that the
    /// memory of a run stays bounded by the register, not by the archive's distinct keywords.
    pub fn keyword_identity(&mut self, keyword: &str) -> Option<usize> {
        let key = name_key(keyword);
        if let Some(&id) = self.identity.get(&key) {
            return Some(id);
        }
        let deferred = self.deferred.as_ref()?;
        if deferred.built.contains(&key) || deferred.source.consents_of_key(&key).is_empty() {
            return None;
        }
        self.prepare([keyword]);
        self.identity.get(&key).copied()
    }

    /// Whether `name` can be evaluated: its consents are built (always so when none are
    /// deferred).
    pub fn is_prepared(&self, name: &str) -> bool {
        self.deferred.as_ref().is_none_or(|d| d.built.contains(&name_key(name)))
    }

    /// The place of `consents[i]` in the whole register: decisions list consents in this order.
    pub fn order_of(&self, i: usize) -> u64 {
        self.deferred.as_ref().map_or(i as u64, |d| d.order[i])
    }

    /// Whether consents are built on demand (then `consents` is not the whole register).
    pub fn is_deferred(&self) -> bool {
        self.deferred.is_some()
    }

    /// The identity a depicted name refers to (by name or alias, any case), if the register
    /// knows it.
    pub fn identity(&self, name: &str) -> Option<usize> {
        self.identity.get(&name_key(name)).copied()
    }

    /// Indices (into `consents`) of the consents of an identity, in register order.
    pub fn consent_indices(&self, identity: usize) -> &[usize] {
        if let Some(d) = &self.deferred {
            return d.lists.get(&identity).map_or(&[], Vec::as_slice);
        }
        match (self.starts.get(identity), self.starts.get(identity + 1)) {
            (Some(&a), Some(&b)) => &self.by_identity[a..b],
            _ => &[],
        }
    }

    /// The consents of an identity.
    pub fn consents_of(&self, identity: usize) -> impl Iterator<Item = &Consent> {
        self.consent_indices(identity).iter().map(move |&i| &self.consents[i])
    }

    /// All register names (persons, aliases, consent names), for typo suggestions.
    pub fn known_names(&self) -> BTreeSet<&str> {
        self.persons
            .iter()
            .flat_map(|p| std::iter::once(p.name.as_str()).chain(p.aliases.iter().map(String::as_str)))
            .chain(self.consents.iter().map(|c| c.person.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn both_spellings_with_four_digit_years_only() {
        let day = Date::from_ymd_opt(2024, 3, 1);
        for ok in ["2024-03-01", "01.03.2024", "1.3.2024", "2024-3-1", " 2024-03-01 "] {
            assert_eq!(parse_date(ok).ok(), day, "{ok}");
        }
        for bad in ["1.3.24", "24-3-1", "01.03.24", "0024-03-01x", "2024/03/01", "", "2024-03", "+2024-03-01"] {
            let e = parse_date(bad).unwrap_err();
            assert!(e.contains("YYYY-MM-DD or DD.MM.YYYY"), "{bad}: {e}");
        }
        assert!(parse_date("31.02.2024").unwrap_err().contains("31.02.2024"));
    }
}

#[cfg(test)]
mod vocabulary_tests {
    use super::*;

    #[test]
    fn the_german_words_people_write_name_their_areas() {
        let v = Vocabulary::default();
        for (word, area) in [
            ("Webseite", "web"),
            ("webseite", "web"),
            ("Soziale Medien", "social"),
            ("soziale netzwerke", "social"),
            (" Archiv ", "archive"),
            ("Zeitung", "print"),
            ("PLAKAT", "advertising"),
            ("Druck", "print"),
            ("Internet", "web"),
        ] {
            assert_eq!(v.resolve(word), Some(area), "{word}");
        }
        assert_eq!(v.resolve("Flyer"), None);
    }

    #[test]
    fn the_accepted_words_name_every_area_with_its_synonyms() {
        let words = Vocabulary::default().accepted_words();
        assert!(words.starts_with("print, web, social, intranet, press, advertising, tv,"), "{words}");
        for part in [
            "also: Druck, Printmedien, Zeitung = print;",
            "Internet, Website, Homepage, Webseite = web;",
            "Soziale Medien, Soziale Netzwerke = social;",
            "Werbung, Plakat = advertising;",
            "Speicherung, Archivierung, Archiv = archive",
        ] {
            assert!(words.contains(part), "{part}: {words}");
        }
        // `Print` only differs from `print` in case; `intranet` has no other word.
        assert!(!words.contains("Print,") && !words.contains("= intranet"), "{words}");
        let plain = Vocabulary::new(vec![UsageTerm { name: "web".into(), synonyms: vec![], spelling: "web".into() }]);
        assert_eq!(plain.accepted_words(), "web");
    }
}
