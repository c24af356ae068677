//! Effective consent of one file (SPEC.md 4). Pure: no clock, no files, no logging; the same
//! answer for the same depicted persons, path, register and date.

use std::collections::BTreeSet;

use crate::model::{Consent, Date, Exemption, Register};

/// Status of a file (the reference's red / yellow / green icons, plus the cases needing none,
/// and files that could not be read). Ordered as reports group and count them ([`Status::ALL`]):
/// the files needing attention (red, yellow, unreadable) first.
/// Its serialised name is [`Status::as_str`]'s (a shard's results keep decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Relevant persons, none has consent.
    Red,
    /// Some but not all relevant persons have consent.
    Yellow,
    /// The file's metadata (or a sidecar's) could not be read completely, or its path could not
    /// be walked: who it shows is not certain, so it is cleared for nothing.
    Unreadable,
    /// Every relevant person has consent.
    Green,
    /// Persons depicted, all exempted.
    Exempt,
    /// Nobody depicted.
    None,
}

impl Status {
    /// Every status, in the enum's order: the files needing attention first.
    pub const ALL: [Status; 6] =
        [Status::Red, Status::Yellow, Status::Unreadable, Status::Green, Status::Exempt, Status::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unreadable => "unreadable",
            Status::None => "none",
            Status::Exempt => "exempt",
            Status::Red => "red",
            Status::Yellow => "yellow",
            Status::Green => "green",
        }
    }
}

/// Why a relevant person has no valid consent for the file on the date.
/// Its serialised name is [`Reason::as_str`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The name is not in the register (neither person, alias nor consent).
    Unknown,
    /// Known to the register, but no consent at all.
    NoConsent,
    /// The consent ended before the date.
    Expired,
    /// The consent starts after the date.
    NotYetValid,
    /// The consent was revoked on or before the date.
    Revoked,
    /// Consents exist, but none covers this file.
    OutOfScope,
    /// A face nobody has named: it can never have consent.
    UnnamedFace,
}

/// A reminder for [`Reason::ALL`]: a new reason fails to compile here, where it goes into the
/// match and, by the same hand, into `ALL` (nothing else lists every reason).
#[allow(dead_code)]
fn reason_is_listed(r: Reason) -> bool {
    match r {
        Reason::Unknown
        | Reason::NoConsent
        | Reason::Expired
        | Reason::NotYetValid
        | Reason::Revoked
        | Reason::OutOfScope
        | Reason::UnnamedFace => Reason::ALL.contains(&r),
    }
}

impl Reason {
    /// Every reason, in the order of the HTML report's legend.
    pub const ALL: [Reason; 7] = [
        Reason::Unknown,
        Reason::NoConsent,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::Revoked,
        Reason::OutOfScope,
        Reason::UnnamedFace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unknown => "unknown",
            Reason::NoConsent => "no-consent",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not-yet-valid",
            Reason::Revoked => "revoked",
            Reason::OutOfScope => "out-of-scope",
            Reason::UnnamedFace => "unnamed-face",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Missing {
    /// The depicted name, or `unnamed face N`.
    pub name: String,
    pub reason: Reason,
}

/// The evaluation of one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub status: Status,
    /// Effective usage areas (sorted by vocabulary order): the intersection over relevant persons
    /// of the union of their valid consents' areas for `green`; every area for `none`/`exempt`;
    /// empty for `red`/`yellow`.
    pub usage: Vec<String>,
    /// Relevant persons without valid consent, with the reason.
    pub missing: Vec<Missing>,
    /// Ids of the consents used (valid for this file on the date), in register order.
    pub consents: Vec<String>,
    /// Earliest expiry among the consents used (`green` only).
    pub valid_until: Option<Date>,
    /// Comments and copyright notices of the consents used, in register order, each once.
    pub notes: Vec<String>,
    /// Depicted persons exempted here.
    pub exempted: Vec<String>,
}

impl Decision {
    /// This decision for a file that could not be read completely: `unreadable`, no usage, no
    /// consents used, no expiry, no notes. The relevant persons read before the problem who have
    /// no consent stay in `missing` (and the exempted in `exempted`): what is known to be
    /// missing is still worth listing, but nothing read can clear the file.
    pub fn unreadable(self) -> Decision {
        Decision {
            status: Status::Unreadable,
            usage: Vec::new(),
            consents: Vec::new(),
            valid_until: None,
            notes: Vec::new(),
            ..self
        }
    }

    /// Whether the file may be published for every one of `usages`.
    pub fn allows(&self, usages: &[&str]) -> bool {
        usages.iter().all(|u| self.usage.iter().any(|have| have == u))
    }
}

/// Whether a consent is valid on `date`: granted <= date <= expires, and not revoked on or
/// before the date.
pub fn valid_on(c: &Consent, date: Date) -> bool {
    c.granted <= date && c.expires.is_none_or(|e| date <= e) && c.revoked.is_none_or(|r| date < r)
}

/// Evaluate the file at `rel_path` (relative to the archive root, `/`-separated; `None` for a
/// file in no archive, which only consents and exemptions scoped `*` cover), showing
/// `persons` (normalised names) and `unnamed_faces`, against `register` on `date`.
pub fn evaluate<'a, S: AsRef<str> + ?Sized + 'a>(
    persons: impl IntoIterator<Item = &'a S>,
    unnamed_faces: u32,
    rel_path: Option<&str>,
    register: &Register,
    date: Date,
) -> Decision {
    let persons: Vec<&str> = persons.into_iter().map(AsRef::as_ref).collect();
    decide(&persons, unnamed_faces, rel_path, register, date, &mut ())
}

/// One depicted person's (or unnamed face's) part in a file's decision: why they do or do not
/// stand in the way of its publication (`consentry explain`).
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The depicted name, or `unnamed face N`.
    pub name: String,
    pub part: Part,
}

/// How a depicted person counts in a file's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Needs no consent here: the (first) exemption covering them in this file.
    Exempt(Exemption),
    /// Has consent: the consents that count (valid on the date, their scope covering the file),
    /// in register order.
    Consent(Vec<Consent>),
    /// Lacks consent, and why; with the consent the reason is about, where there is one (the
    /// expired, revoked or not yet valid consent; one whose scope does not cover the file).
    Missing { reason: Reason, consent: Option<Consent> },
}

/// A file's decision with the account of every depicted person, made by the one code path of
/// [`evaluate`]: its decision is the decision [`evaluate`] gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub decision: Decision,
    /// Exempted persons first, then the relevant persons and unnamed faces, in the order
    /// evaluated.
    pub accounts: Vec<Account>,
}

/// [`evaluate`], with each person's account.
pub fn explain<'a, S: AsRef<str> + ?Sized + 'a>(
    persons: impl IntoIterator<Item = &'a S>,
    unnamed_faces: u32,
    rel_path: Option<&str>,
    register: &Register,
    date: Date,
) -> Explanation {
    let persons: Vec<&str> = persons.into_iter().map(AsRef::as_ref).collect();
    let mut accounts = Accounts(Vec::new());
    let decision = decide(&persons, unnamed_faces, rel_path, register, date, &mut accounts);
    Explanation { decision, accounts: accounts.0 }
}

/// What the evaluation saw of each person as it decided: [`evaluate`] ignores it, [`explain`]
/// keeps it. One code path for both, so that an explanation cannot tell another story.
trait Witness<'r> {
    fn exempt(&mut self, _name: &str, _by: &'r Exemption) {}
    fn consent(&mut self, _name: &str, _consent: &'r Consent) {}
    fn missing(&mut self, _name: &str, _reason: Reason, _about: Option<&'r Consent>) {}
}

impl Witness<'_> for () {}

/// The accounts of [`explain`].
struct Accounts(Vec<Account>);

impl<'r> Witness<'r> for Accounts {
    fn exempt(&mut self, name: &str, by: &'r Exemption) {
        self.0.push(Account { name: name.to_string(), part: Part::Exempt(by.clone()) });
    }
    fn consent(&mut self, name: &str, consent: &'r Consent) {
        if let Some(Account { name: last, part: Part::Consent(consents) }) = self.0.last_mut() {
            if last == name {
                consents.push(consent.clone());
                return;
            }
        }
        self.0.push(Account { name: name.to_string(), part: Part::Consent(vec![consent.clone()]) });
    }
    fn missing(&mut self, name: &str, reason: Reason, about: Option<&'r Consent>) {
        self.0.push(Account { name: name.to_string(), part: Part::Missing { reason, consent: about.cloned() } });
    }
}

/// The evaluation itself (SPEC.md 4), telling `witness` what it sees.
fn decide<'r>(
    persons: &[&str],
    unnamed_faces: u32,
    rel_path: Option<&str>,
    register: &'r Register,
    date: Date,
    witness: &mut impl Witness<'r>,
) -> Decision {
    // A deferred register must have built these persons' consents ([`Register::prepare`]).
    // Were it not, they would read as unknown: red, never a wrong green.
    debug_assert!(persons.iter().all(|p| register.is_prepared(p)), "evaluate before Register::prepare");
    let exemptions: Vec<&Exemption> = register.exemptions.iter().filter(|e| e.scope.matches(rel_path)).collect();
    let everyone = exemptions.iter().copied().find(|e| e.person.is_none());
    let exemption_of = |name: &str| {
        everyone.or_else(|| {
            exemptions.iter().copied().find(|e| {
                e.person.as_deref().is_some_and(|p| {
                    // Same person when both names lead to the same register identity, or same name.
                    match (register.identity(p), register.identity(name)) {
                        (Some(a), Some(b)) => a == b,
                        _ => crate::model::name_key(p) == crate::model::name_key(name),
                    }
                })
            })
        })
    };
    let mut decision = Decision {
        status: Status::None,
        usage: Vec::new(),
        missing: Vec::new(),
        consents: Vec::new(),
        valid_until: None,
        notes: Vec::new(),
        exempted: Vec::new(),
    };
    if persons.is_empty() && unnamed_faces == 0 {
        decision.usage = register.vocabulary.names().map(str::to_string).collect();
        return decision;
    }
    let mut relevant = Vec::new();
    for &p in persons {
        if let Some(by) = exemption_of(p) {
            witness.exempt(p, by);
            decision.exempted.push(p.to_string());
        } else {
            relevant.push(p);
        }
    }
    let relevant_faces = if everyone.is_some() { 0 } else { unnamed_faces };
    if relevant.is_empty() && relevant_faces == 0 {
        if let Some(by) = everyone {
            for i in 1..=unnamed_faces {
                witness.exempt(&format!("unnamed face {i}"), by);
            }
        }
        decision.status = Status::Exempt;
        decision.usage = register.vocabulary.names().map(str::to_string).collect();
        return decision;
    }

    // (register order, index into register.consents) of the consents used.
    let mut used: BTreeSet<(u64, usize)> = BTreeSet::new();
    let mut permitted: Option<BTreeSet<&str>> = None; // intersection so far
    let mut with_consent = 0;
    for name in &relevant {
        let Some(identity) = register.identity(name) else {
            witness.missing(name, Reason::Unknown, None);
            decision.missing.push(Missing { name: name.to_string(), reason: Reason::Unknown });
            continue;
        };
        let mut areas: BTreeSet<&str> = BTreeSet::new();
        let mut any_valid = false;
        for &i in register.consent_indices(identity) {
            let c = &register.consents[i];
            if c.scope.matches(rel_path) && valid_on(c, date) {
                witness.consent(name, c);
                any_valid = true;
                areas.extend(c.usage.iter().map(String::as_str));
                used.insert((register.order_of(i), i));
            }
        }
        if any_valid {
            with_consent += 1;
            permitted = Some(match permitted {
                None => areas,
                Some(p) => p.intersection(&areas).copied().collect(),
            });
        } else {
            let (reason, about) = why_not(register.consents_of(identity), rel_path, date);
            witness.missing(name, reason, about);
            decision.missing.push(Missing { name: name.to_string(), reason });
        }
    }
    for i in 1..=relevant_faces {
        let name = format!("unnamed face {i}");
        witness.missing(&name, Reason::UnnamedFace, None);
        decision.missing.push(Missing { name, reason: Reason::UnnamedFace });
    }

    decision.consents = used.iter().map(|&(_, i)| register.consents[i].id.clone()).collect();
    decision.status = match (with_consent, decision.missing.is_empty()) {
        (_, true) => Status::Green,
        (0, false) => Status::Red,
        (_, false) => Status::Yellow,
    };
    if decision.status == Status::Green {
        let permitted = permitted.unwrap_or_default();
        decision.usage = register.vocabulary.names().filter(|u| permitted.contains(u)).map(str::to_string).collect();
        decision.valid_until = used.iter().filter_map(|&(_, i)| register.consents[i].expires).min();
        for &(_, i) in &used {
            let c = &register.consents[i];
            for note in [&c.comment, &c.copyright].into_iter().flatten() {
                if !note.trim().is_empty() && !decision.notes.contains(note) {
                    decision.notes.push(note.clone());
                }
            }
        }
    }
    decision
}

/// [`evaluate`] for a file that was read completely (`complete`), else the same evaluation made
/// [`Decision::unreadable`]: SPEC.md 4, a file whose metadata or sidecars could not be read
/// completely, or whose path could not be walked, is cleared for nothing. The one place that
/// decides a file is unreadable: every command, report and the state evaluate files through it
/// (`FileRecord::evaluate`).
pub fn evaluate_file<'a, S: AsRef<str> + ?Sized + 'a>(
    persons: impl IntoIterator<Item = &'a S>,
    unnamed_faces: u32,
    complete: bool,
    rel_path: Option<&str>,
    register: &Register,
    date: Date,
) -> Decision {
    finish(evaluate(persons, unnamed_faces, rel_path, register, date), complete)
}

/// [`evaluate_file`], with each person's account ([`explain`]). For a file not read completely
/// the accounts are those of what was read (a consent found there does not clear the file).
pub fn explain_file<'a, S: AsRef<str> + ?Sized + 'a>(
    persons: impl IntoIterator<Item = &'a S>,
    unnamed_faces: u32,
    complete: bool,
    rel_path: Option<&str>,
    register: &Register,
    date: Date,
) -> Explanation {
    let Explanation { decision, accounts } = explain(persons, unnamed_faces, rel_path, register, date);
    Explanation { decision: finish(decision, complete), accounts }
}

/// A decision of a file read completely as it is, else made [`Decision::unreadable`].
fn finish(decision: Decision, complete: bool) -> Decision {
    if complete {
        decision
    } else {
        decision.unreadable()
    }
}

/// The reason a known person has no valid consent, with the consent it is about: none at all;
/// all out of scope (the one granted last); else the state of the in-scope consent granted last
/// (a pending renewal says not-yet-valid, a revoked one revoked, an old one expired).
fn why_not<'a>(
    consents: impl Iterator<Item = &'a Consent>,
    rel_path: Option<&str>,
    date: Date,
) -> (Reason, Option<&'a Consent>) {
    let all: Vec<&Consent> = consents.collect();
    if all.is_empty() {
        return (Reason::NoConsent, None);
    }
    let Some(latest) = all.iter().copied().filter(|c| c.scope.matches(rel_path)).max_by_key(|c| c.granted) else {
        return (Reason::OutOfScope, all.iter().copied().max_by_key(|c| c.granted));
    };
    let reason = if latest.revoked.is_some_and(|r| r <= date) {
        Reason::Revoked
    } else if latest.granted > date {
        Reason::NotYetValid
    } else {
        Reason::Expired
    };
    (reason, Some(latest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons_serialise_as_their_names() {
        for s in Status::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("{:?}", s.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&format!("{:?}", s.as_str())).unwrap(), s);
        }
        for r in Reason::ALL {
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("{:?}", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&format!("{:?}", r.as_str())).unwrap(), r);
        }
    }
    use crate::model::{ExemptReason, Exemption, Origin, Person, Scope, Vocabulary};

    fn d(s: &str) -> Date {
        Date::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// `consent("c1", "Anna", "print,web", "2024-01-01", Some("2024-12-31"), None, "*")`
    fn consent(
        id: &str,
        person: &str,
        usage: &str,
        granted: &str,
        expires: Option<&str>,
        revoked: Option<&str>,
        scope: &str,
    ) -> Consent {
        Consent {
            id: id.into(),
            person: person.into(),
            usage: std::sync::Arc::new(usage.split(',').map(str::to_string).collect()),
            granted: d(granted),
            expires: expires.map(d),
            revoked: revoked.map(d),
            document: Some(format!("{id}.pdf")),
            originator: None,
            scope: Scope::parse(scope).unwrap(),
            comment: None,
            copyright: None,
            origin: Origin::default(),
            evidence: crate::model::Evidence::Unchecked,
        }
    }

    fn exemption(person: Option<&str>, scope: &str) -> Exemption {
        Exemption {
            scope: Scope::parse(scope).unwrap(),
            person: person.map(str::to_string),
            reason: ExemptReason::PublicEvent,
            note: None,
            origin: Origin::default(),
        }
    }

    fn register(consents: Vec<Consent>, exemptions: Vec<Exemption>) -> Register {
        let persons = vec![
            Person { id: Some("1".into()), name: "Anna Schmidt".into(), aliases: vec!["Schmidt, Anna".into()] },
            Person { id: Some("2".into()), name: "Otto Ohne".into(), aliases: vec![] },
        ];
        Register::new(consents, persons, exemptions, vec![], Vocabulary::default(), "digest".into())
    }

    fn base() -> Register {
        register(
            vec![
                consent("a1", "Anna Schmidt", "print,web", "2024-01-01", Some("2024-12-31"), None, "*"),
                consent("a2", "Anna Schmidt", "social", "2024-01-01", None, None, "events/**"),
                consent("b1", "Ben Meyer", "web,press", "2024-01-01", Some("2024-06-30"), None, "*"),
                consent("c1", "Carla Roth", "print", "2024-01-01", Some("2024-03-31"), None, "*"),
                consent("e1", "Emil Weber", "print", "2024-07-01", None, None, "*"),
                consent("f1", "Frieda Wolf", "print", "2024-01-01", None, Some("2024-05-01"), "*"),
                consent("g1", "Gina Lang", "print", "2024-01-01", None, None, "events/2023/*.jpg"),
            ],
            vec![exemption(Some("Holger Prominent"), "*"), exemption(None, "public/**")],
        )
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn missing(dec: &Decision) -> Vec<(String, &'static str)> {
        dec.missing.iter().map(|m| (m.name.clone(), m.reason.as_str())).collect()
    }

    #[test]
    fn statuses() {
        let reg = base();
        let date = d("2024-05-15");
        // (persons, unnamed faces, path, status)
        let table: &[(&[&str], u32, &str, Status)] = &[
            (&[], 0, "a.jpg", Status::None),
            (&["Holger Prominent"], 0, "a.jpg", Status::Exempt),
            (&["Anna Schmidt", "Nobody Known"], 2, "public/fest/a.jpg", Status::Exempt),
            (&["Nobody Known"], 0, "a.jpg", Status::Red),
            (&["Otto Ohne"], 0, "a.jpg", Status::Red),
            (&[], 1, "a.jpg", Status::Red),
            (&["Anna Schmidt", "Nobody Known"], 0, "a.jpg", Status::Yellow),
            (&["Anna Schmidt"], 1, "a.jpg", Status::Yellow),
            (&["Anna Schmidt"], 0, "a.jpg", Status::Green),
            (&["Anna Schmidt", "Ben Meyer"], 0, "a.jpg", Status::Green),
            (&["Anna Schmidt", "Holger Prominent"], 0, "a.jpg", Status::Green),
        ];
        for (persons, faces, path, want) in table {
            let dec = evaluate(&names(persons), *faces, Some(*path), &reg, date);
            assert_eq!(dec.status, *want, "{persons:?} {faces} {path}: {dec:?}");
        }
    }

    #[test]
    fn a_file_in_no_archive_is_covered_only_by_scope_star() {
        let reg = base();
        let date = d("2024-05-15");
        // Gina's consent is scoped to events/2023/*.jpg: without a root it cannot cover the file.
        let gina = evaluate(&names(&["Gina Lang"]), 0, None, &reg, date);
        assert_eq!((gina.status, missing(&gina)), (Status::Red, vec![("Gina Lang".to_string(), "out-of-scope")]));
        // Anna's `*` consent still counts, her `events/**` one does not.
        let anna = evaluate(&names(&["Anna Schmidt"]), 0, None, &reg, date);
        assert_eq!((anna.status, anna.consents.clone()), (Status::Green, vec!["a1".to_string()]));
        // The `public/**` exemption of everyone does not reach it; the `*` one of Holger does.
        assert_eq!(evaluate(&names(&["Holger Prominent"]), 0, None, &reg, date).status, Status::Exempt);
        assert_eq!(evaluate(&names(&[]), 1, None, &reg, date).status, Status::Red);
    }

    #[test]
    fn none_and_exempt_allow_every_usage_red_and_yellow_none() {
        let reg = base();
        let date = d("2024-05-15");
        let all: Vec<String> = Vocabulary::default().names().map(str::to_string).collect();
        assert_eq!(evaluate(&names(&[]), 0, Some("a.jpg"), &reg, date).usage, all);
        assert_eq!(evaluate(&names(&["Holger Prominent"]), 0, Some("a.jpg"), &reg, date).usage, all);
        let yellow = evaluate(&names(&["Anna Schmidt", "Otto Ohne"]), 0, Some("a.jpg"), &reg, date);
        assert_eq!((yellow.status, yellow.usage.len(), yellow.valid_until), (Status::Yellow, 0, None));
    }

    #[test]
    fn effective_usage_is_union_per_person_and_intersection_across_persons() {
        let reg = base();
        let date = d("2024-05-15");
        // Anna: print, web everywhere; social only under events/.
        let anna = evaluate(&names(&["Anna Schmidt"]), 0, Some("events/x.jpg"), &reg, date);
        assert_eq!(anna.usage, ["print", "web", "social"]);
        assert_eq!(anna.consents, ["a1", "a2"]);
        let anna_elsewhere = evaluate(&names(&["Anna Schmidt"]), 0, Some("other/x.jpg"), &reg, date);
        assert_eq!(anna_elsewhere.usage, ["print", "web"]);
        // With Ben (web, press): only web is allowed for both.
        let both = evaluate(&names(&["Anna Schmidt", "Ben Meyer"]), 0, Some("events/x.jpg"), &reg, date);
        assert_eq!(both.usage, ["web"]);
        assert_eq!(both.consents, ["a1", "a2", "b1"]);
        assert!(both.allows(&["web"]) && !both.allows(&["web", "print"]));
    }

    #[test]
    fn valid_until_is_the_earliest_expiry_and_notes_are_joined_once() {
        let mut reg = base();
        reg.consents[0].comment = Some("nur Jahresbericht".into());
        reg.consents[0].copyright = Some("© Verein".into());
        reg.consents[2].copyright = Some("© Verein".into());
        reg.consents[2].comment = Some("keine Bildbearbeitung".into());
        let reg = Register::new(reg.consents, reg.persons, reg.exemptions, vec![], Vocabulary::default(), "x".into());
        let dec = evaluate(&names(&["Ben Meyer", "Anna Schmidt"]), 0, Some("a.jpg"), &reg, d("2024-05-15"));
        assert_eq!(dec.valid_until, Some(d("2024-06-30")));
        assert_eq!(dec.notes, ["nur Jahresbericht", "© Verein", "keine Bildbearbeitung"]);
        let anna = evaluate(&names(&["Anna Schmidt"]), 0, Some("events/a.jpg"), &reg, d("2024-05-15"));
        assert_eq!(anna.valid_until, Some(d("2024-12-31")), "the unlimited consent does not hide the limited one");
    }

    #[test]
    fn every_missing_reason() {
        let reg = base();
        let date = d("2024-05-15");
        let table: &[(&str, &str, &str)] = &[
            ("Nobody Known", "a.jpg", "unknown"),
            ("Otto Ohne", "a.jpg", "no-consent"),
            ("Carla Roth", "a.jpg", "expired"),
            ("Emil Weber", "a.jpg", "not-yet-valid"),
            ("Frieda Wolf", "a.jpg", "revoked"),
            ("Gina Lang", "events/2024/a.jpg", "out-of-scope"),
        ];
        for (person, path, reason) in table {
            let dec = evaluate(&names(&[person]), 0, Some(*path), &reg, date);
            assert_eq!(missing(&dec), [(person.to_string(), *reason)], "{person}");
            assert_eq!(dec.status, Status::Red);
        }
        let faces = evaluate(&names(&[]), 2, Some("a.jpg"), &reg, date);
        assert_eq!(
            missing(&faces),
            [("unnamed face 1".into(), "unnamed-face"), ("unnamed face 2".into(), "unnamed-face")]
        );
    }

    #[test]
    fn status_all_is_the_enum_order() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{s:?}");
        }
    }

    #[test]
    fn a_file_not_read_completely_is_unreadable_and_cleared_for_nothing() {
        let reg = base();
        let date = d("2024-05-15");
        let file = |persons: &[&str], complete| evaluate_file(&names(persons), 0, complete, Some("a.jpg"), &reg, date);
        // Read completely: the plain evaluation.
        let green = file(&["Anna Schmidt"], true);
        assert_eq!(green, evaluate(&names(&["Anna Schmidt"]), 0, Some("a.jpg"), &reg, date));
        assert_eq!(green.status, Status::Green);
        // Not read completely: somebody who consented is not cleared, nobody at all is not `none`.
        for persons in [&["Anna Schmidt"][..], &[], &["Anna Schmidt", "Nobody Known"], &["Holger Prominent"]] {
            let dec = file(persons, false);
            assert_eq!(dec.status, Status::Unreadable, "{persons:?}");
            assert!(dec.usage.is_empty() && dec.consents.is_empty() && dec.notes.is_empty(), "{dec:?}");
            assert_eq!(dec.valid_until, None);
            assert!(!dec.allows(&["print"]));
        }
        // The persons known to lack consent are still listed.
        assert_eq!(missing(&file(&["Anna Schmidt", "Nobody Known"], false)), [("Nobody Known".to_string(), "unknown")]);
    }

    #[test]
    fn boundary_days() {
        let reg = register(
            vec![
                consent("g", "Anna Schmidt", "print", "2024-03-10", None, None, "*"),
                consent("x", "Ben Meyer", "print", "2024-01-01", Some("2024-03-10"), None, "*"),
                consent("r", "Carla Roth", "print", "2024-01-01", None, Some("2024-03-10"), "*"),
            ],
            vec![],
        );
        let status = |p: &str, day: &str| evaluate(&names(&[p]), 0, Some("a.jpg"), &reg, d(day)).status;
        assert_eq!(status("Anna Schmidt", "2024-03-09"), Status::Red, "granted tomorrow");
        assert_eq!(status("Anna Schmidt", "2024-03-10"), Status::Green, "granted today");
        assert_eq!(status("Ben Meyer", "2024-03-10"), Status::Green, "expires today: still valid");
        assert_eq!(status("Ben Meyer", "2024-03-11"), Status::Red, "expired yesterday");
        assert_eq!(status("Carla Roth", "2024-03-09"), Status::Green, "revoked tomorrow");
        assert_eq!(status("Carla Roth", "2024-03-10"), Status::Red, "revoked today");
    }

    #[test]
    fn scopes_star_folder_glob_and_single_file() {
        let reg = register(
            vec![
                consent("all", "Anna Schmidt", "print", "2024-01-01", None, None, "*"),
                consent("dir", "Ben Meyer", "print", "2024-01-01", None, None, "events/2024/**"),
                consent("one", "Carla Roth", "print", "2024-01-01", None, None, "events/2024/fest/IMG_1.jpg"),
                consent("seg", "Dora Klein", "print", "2024-01-01", None, None, "events/*.jpg | press/[a-c]?.png"),
            ],
            vec![],
        );
        let ok =
            |p: &str, path: &str| evaluate(&names(&[p]), 0, Some(path), &reg, d("2024-05-01")).status == Status::Green;
        assert!(ok("Anna Schmidt", "anything/at/all.jpg"));
        assert!(ok("Ben Meyer", "events/2024/fest/IMG_9.jpg") && !ok("Ben Meyer", "events/2023/IMG_9.jpg"));
        assert!(ok("Carla Roth", "events/2024/fest/IMG_1.jpg") && !ok("Carla Roth", "events/2024/fest/IMG_2.jpg"));
        assert!(ok("Dora Klein", "events/a.jpg") && !ok("Dora Klein", "events/sub/a.jpg"), "* stays in one segment");
        assert!(ok("Dora Klein", "press/b1.png") && !ok("Dora Klein", "press/d1.png"));
    }

    #[test]
    fn aliases_case_and_exemptions() {
        let reg = register(
            vec![consent("a", "Anna Schmidt", "print", "2024-01-01", None, None, "*")],
            vec![exemption(Some("Schmidt, Anna"), "press/**"), exemption(Some("Otto Ohne"), "*")],
        );
        let date = d("2024-05-01");
        // Matched by alias and case-insensitively.
        for name in ["Schmidt, Anna", "anna schmidt", "ANNA SCHMIDT"] {
            assert_eq!(evaluate(&names(&[name]), 0, Some("x.jpg"), &reg, date).status, Status::Green, "{name}");
        }
        // An exemption naming an alias exempts the person, only in its scope.
        let dec = evaluate(&names(&["Anna Schmidt"]), 0, Some("press/a.jpg"), &reg, date);
        assert_eq!((dec.status, dec.exempted.clone()), (Status::Exempt, names(&["Anna Schmidt"])));
        // A named exemption does not exempt unnamed faces; only `*` does.
        let dec = evaluate(&names(&["Otto Ohne"]), 1, Some("x.jpg"), &reg, date);
        assert_eq!((dec.status, missing(&dec)), (Status::Red, vec![("unnamed face 1".into(), "unnamed-face")]));
    }

    #[test]
    fn adding_a_person_or_a_revocation_empties_the_effective_consent() {
        let reg = base();
        let date = d("2024-05-15");
        assert_eq!(evaluate(&names(&["Anna Schmidt"]), 0, Some("a.jpg"), &reg, date).status, Status::Green);
        let more = evaluate(&names(&["Anna Schmidt", "Otto Ohne"]), 0, Some("a.jpg"), &reg, date);
        assert!(more.usage.is_empty() && more.valid_until.is_none());
        let mut revoked = base();
        revoked.consents[0].revoked = Some(d("2024-05-01"));
        let revoked = Register::new(
            revoked.consents,
            revoked.persons,
            revoked.exemptions,
            vec![],
            Vocabulary::default(),
            "y".into(),
        );
        let dec = evaluate(&names(&["Anna Schmidt"]), 0, Some("a.jpg"), &revoked, date);
        assert_eq!((dec.status, missing(&dec)), (Status::Red, vec![("Anna Schmidt".into(), "revoked")]));
    }

    /// The missing persons and the exempted ones an explanation's accounts name.
    fn accounts_of(e: &Explanation) -> (Vec<(String, &'static str)>, Vec<String>, Vec<String>) {
        let mut missing = Vec::new();
        let mut exempted = Vec::new();
        let mut consents = Vec::new();
        for a in &e.accounts {
            match &a.part {
                Part::Missing { reason, .. } => missing.push((a.name.clone(), reason.as_str())),
                Part::Exempt(_) if !a.name.starts_with("unnamed face ") => exempted.push(a.name.clone()),
                Part::Exempt(_) => {}
                Part::Consent(cs) => consents.extend(cs.iter().map(|c| c.id.clone())),
            }
        }
        (missing, exempted, consents)
    }

    #[test]
    fn the_accounts_say_which_consent_exemption_or_reason_counts() {
        let reg = base();
        let date = d("2024-05-15");
        let persons =
            names(&["Holger Prominent", "Anna Schmidt", "Carla Roth", "Frieda Wolf", "Emil Weber", "Gina Lang"]);
        let e = explain(&persons, 1, Some("events/2024/a.jpg"), &reg, date);
        let parts: Vec<(&str, String)> = e
            .accounts
            .iter()
            .map(|a| {
                let part = match &a.part {
                    Part::Exempt(x) => format!("exempt {:?} {}", x.person, x.reason.as_str()),
                    Part::Consent(cs) => {
                        format!("consent {}", cs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(","))
                    }
                    Part::Missing { reason, consent } => {
                        format!("missing {} {}", reason.as_str(), consent.as_ref().map_or("-", |c| c.id.as_str()))
                    }
                };
                (a.name.as_str(), part)
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("Holger Prominent", "exempt Some(\"Holger Prominent\") public-event".to_string()),
                ("Anna Schmidt", "consent a1,a2".into()),
                ("Carla Roth", "missing expired c1".into()),
                ("Frieda Wolf", "missing revoked f1".into()),
                ("Emil Weber", "missing not-yet-valid e1".into()),
                ("Gina Lang", "missing out-of-scope g1".into()),
                ("unnamed face 1", "missing unnamed-face -".into()),
            ]
        );
        assert_eq!(e.decision.status, Status::Yellow);
        // Everyone exempted: the faces too, by the `*` exemption.
        let e = explain(&names(&["Nobody Known"]), 2, Some("public/x.jpg"), &reg, date);
        assert_eq!(e.decision.status, Status::Exempt);
        assert!(e.accounts.iter().all(|a| matches!(&a.part, Part::Exempt(x) if x.person.is_none())), "{e:?}");
        assert_eq!(e.accounts.len(), 3);
    }

    proptest::proptest! {
        /// The explanation is the decision's own account: the same decision as `evaluate`, for
        /// files read completely or not, and its accounts name exactly the decision's missing
        /// and exempted persons and the consents it used.
        #[test]
        fn an_explanation_never_disagrees_with_the_decision(
            picks in proptest::collection::btree_set(0usize..10, 0..6),
            faces in 0u32..3,
            path in 0usize..4,
            day in 0i64..400,
            complete in proptest::bool::ANY,
        ) {
            let reg = base();
            let people = ["Anna Schmidt", "Ben Meyer", "Carla Roth", "Emil Weber", "Frieda Wolf", "Gina Lang",
                "Holger Prominent", "Otto Ohne", "Nobody Known", "schmidt, anna"];
            let persons: Vec<String> = picks.iter().map(|&i| people[i].to_string()).collect();
            let rel = ["a.jpg", "events/2023/x.jpg", "public/p.jpg", "events/2024/y.jpg"][path];
            let date = d("2024-01-01") + chrono::Days::new(day as u64);
            let decision = evaluate_file(&persons, faces, complete, Some(rel), &reg, date);
            let e = explain_file(&persons, faces, complete, Some(rel), &reg, date);
            proptest::prop_assert_eq!(e.decision.status, decision.status);
            proptest::prop_assert_eq!(&e.decision, &decision);
            let (missing_named, exempted, mut consents) = accounts_of(&e);
            proptest::prop_assert_eq!(missing_named, missing(&decision));
            proptest::prop_assert_eq!(exempted, decision.exempted.clone());
            if decision.status == Status::Green {
                // A person tagged under two of their names ("schmidt, anna" is Anna's alias)
                // has an account per name, each with the same consents.
                consents.sort();
                consents.dedup();
                let mut used = decision.consents.clone();
                used.sort();
                proptest::prop_assert_eq!(consents, used);
            }
        }
    }
}
