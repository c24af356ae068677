//! Domain types of the consent register (SPEC.md 1 and 3). No I/O.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::people::normalize_name;

/// A calendar day; consents are granted, expire and are revoked on days, not instants.
pub type Date = chrono::NaiveDate;

/// Where a register entry came from, for messages: `register.csv:12`, `register.sqlite: consent 7`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
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
    /// Canonical name, as written to output and XMP (`print`, `web`, ...).
    pub name: String,
    /// Other accepted words (any case): German synonyms, spellings.
    pub synonyms: Vec<String>,
}

/// The usage vocabulary (SPEC.md 3.3): replaceable in `consentry.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    terms: Vec<UsageTerm>,
    /// Normalised, lower-cased name or synonym -> index into `terms`.
    lookup: HashMap<String, usize>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        let t = |name: &str, syn: &[&str]| UsageTerm {
            name: name.to_string(),
            synonyms: syn.iter().map(|s| s.to_string()).collect(),
        };
        Vocabulary::new(vec![
            t("print", &["Print", "Druck", "Printmedien"]),
            t("web", &["Internet", "Website", "Homepage"]),
            t("social", &["Social Media", "social-media"]),
            t("intranet", &[]),
            t("press", &["Presse"]),
            t("advertising", &["Werbung"]),
            t("tv", &["Fernsehen", "Video"]),
            t("exhibition", &["Ausstellung"]),
            t("third-party", &["Weitergabe an Dritte", "third party"]),
            t("archive", &["Speicherung", "Archivierung"]),
        ])
    }
}

impl Vocabulary {
    pub fn new(terms: Vec<UsageTerm>) -> Self {
        let mut lookup = HashMap::new();
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

    /// Every canonical usage name, in vocabulary order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.name.as_str())
    }

    pub fn terms(&self) -> &[UsageTerm] {
        &self.terms
    }
}

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
        let parts: Vec<&str> = field.split('|').map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts == ["*"] {
            return Ok(Scope::All);
        }
        if let Some(scope) = SCOPES.with(|c| c.borrow().get(field).cloned()) {
            return Ok(scope);
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
    pub fn matches(&self, rel_path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Globs(globs) => globs.iter().any(|g| g.matcher.is_match(rel_path)),
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
    static SCOPES: std::cell::RefCell<HashMap<String, Scope>> = std::cell::RefCell::new(HashMap::new());
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
    /// Canonical usage names.
    pub usage: BTreeSet<String>,
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

/// Index key of a name: normalised and case-folded.
pub fn name_key(name: &str) -> String {
    normalize_name(name).to_lowercase()
}

/// A loaded, validated register: immutable, indexed for evaluation.
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
    identity: HashMap<String, usize>,
    /// Identity index -> indices into `consents`.
    by_identity: Vec<Vec<usize>>,
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
        let mut identity: HashMap<String, usize> = HashMap::new();
        let mut count = 0;
        for p in &persons {
            let id = count;
            count += 1;
            for name in std::iter::once(&p.name).chain(&p.aliases) {
                identity.entry(name_key(name)).or_insert(id);
            }
        }
        let mut by_identity: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (i, c) in consents.iter().enumerate() {
            let id = *identity.entry(name_key(&c.person)).or_insert_with(|| {
                by_identity.push(Vec::new());
                by_identity.len() - 1
            });
            by_identity[id].push(i);
        }
        Register { consents, persons, exemptions, originators, vocabulary, digest, identity, by_identity }
    }

    /// The identity a depicted name refers to (by name or alias, any case), if the register
    /// knows it.
    pub fn identity(&self, name: &str) -> Option<usize> {
        self.identity.get(&name_key(name)).copied()
    }

    /// Indices (into `consents`) of the consents of an identity, in register order.
    pub fn consent_indices(&self, identity: usize) -> &[usize] {
        self.by_identity.get(identity).map_or(&[], Vec::as_slice)
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
