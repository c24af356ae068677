//! Changing an SQLite register (the `consent`, `exempt`, `originator` and `person` commands):
//! consents for one person or a group, revocation and new expiry dates, exemptions, originators
//! and persons with their aliases.
//!
//! Decisions:
//! - Every change is one `BEGIN IMMEDIATE` transaction: consentry processes changing the same
//!   register queue behind each other (busy timeout, and the whole change is tried again a few
//!   times if the database stays busy), and a change is either wholly there or not at all.
//! - The audit log: while a change runs, `audit_session` holds its actor and action (schema 2),
//!   so the triggers log every updated or deleted row with them and with the row before and
//!   after; what a change inserts (consents, persons, documents, exemptions, aliases,
//!   originators) is logged here, with `before` null. Every entry of one command carries the
//!   command as its action (`consent add`) and names the row it is about (`consent 17`).
//! - Before it commits, a change reads the register back exactly as loading does; a change that
//!   would leave any error is rolled back and refused, so the register always loads.
//! - A dry run makes the whole change in its transaction, reads it back, and rolls back: it
//!   reports what the change would do (ids included) and changes nothing, and it copies no
//!   evidence document.
//! - New consent ids are the next free number (one more than the largest number any id starts
//!   with); a group consent of several persons gets `N.1`, `N.2`, ... like a group row of a CSV
//!   register.
//! - Evidence documents must be PDF files. A document is identified by its SHA-256: the same
//!   document given again reuses the stored file (and the documents row, when the originator is
//!   the same). A new one is copied into the evidence folder (created `0700`, files `0600`)
//!   under its own name, or `NAME-<sha256 prefix>.pdf` when another file has that name, and
//!   recorded relative to the register's directory.
//! - Originators must exist before consents name them (`originator add`): one spelling per
//!   originator. Persons that are not in the register yet are added with their consent or
//!   exemption (the people who sign are often new); persons marked deleted are refused.
//! - Persons and originators are found by name, alias or key, in any case.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Transaction, TransactionBehavior};
use serde_json::{json, Value};

pub use super::Error;
use super::{base_dir, collect, configure, migrate_in, Context, Importer, Reader, Result};
use crate::model::{name_key, Consent, Date, Evidence, ExemptReason, Exemption, Origin, Scope, ScopeGlob, Vocabulary};
use crate::people::normalize_name;
use crate::register::Severity;

/// How often a change is tried when the database stays busy beyond the busy timeout.
const ATTEMPTS: u32 = 5;

/// A change in progress: its transaction, and the files it created outside the database (removed
/// again when the change fails).
pub struct Change<'t> {
    tx: &'t Transaction<'t>,
    actor: String,
    action: String,
    /// The register's directory (absolute): document paths are relative to it.
    base: PathBuf,
    vocabulary: &'t Vocabulary,
    dry_run: bool,
    created_files: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
}

/// Whether an error is the database being busy or locked (worth trying again).
fn is_busy(e: &Error) -> bool {
    matches!(
        e.sqlite(),
        Some(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Make one change to the register at `db` with `body`, as `actor` doing `action`: in one
/// transaction, read back before it commits, rolled back for a dry run. Tried again when the
/// database stays busy.
pub fn change<T>(
    db: &Path,
    actor: &str,
    action: &str,
    vocabulary: &Vocabulary,
    dry_run: bool,
    mut body: impl FnMut(&mut Change) -> Result<T>,
) -> Result<T> {
    let mut attempt = 1;
    loop {
        match change_once(db, actor, action, vocabulary, dry_run, &mut body) {
            Err(e) if attempt < ATTEMPTS && is_busy(&e) => {
                std::thread::sleep(Duration::from_millis(50 << attempt));
                attempt += 1;
            }
            result => return result.map_err(super::explain).with_context(|| db.display().to_string()),
        }
    }
}

fn change_once<T>(
    db: &Path,
    actor: &str,
    action: &str,
    vocabulary: &Vocabulary,
    dry_run: bool,
    body: &mut impl FnMut(&mut Change) -> Result<T>,
) -> Result<T> {
    if !db.is_file() {
        bail!("no such register database");
    }
    let mut conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("cannot open the database")?;
    configure(&conn)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    migrate_in(&tx)?;
    tx.execute("INSERT INTO audit_session (actor, action) VALUES (?1, ?2)", params![actor, action])?;
    let base = crate::paths::absolute_in(&std::env::current_dir()?, &base_dir(db));
    let mut change = Change {
        tx: &tx,
        actor: actor.to_string(),
        action: action.to_string(),
        base,
        vocabulary,
        dry_run,
        created_files: Vec::new(),
        created_dirs: Vec::new(),
    };
    let result = body(&mut change).and_then(|value| {
        change.read_back()?;
        change.tx.execute("DELETE FROM audit_session", [])?;
        Ok(value)
    });
    let created = (std::mem::take(&mut change.created_files), std::mem::take(&mut change.created_dirs));
    let result = match result {
        Ok(value) if dry_run => Ok(value), // dropping the transaction rolls it back
        Ok(value) => tx.commit().map(|()| value).map_err(Error::from),
        Err(e) => Err(e),
    };
    if result.is_err() {
        remove_created(created);
    }
    result
}

/// Remove what a failed change created outside the database: files, then the directories made
/// for them (those that are empty again).
fn remove_created((files, dirs): (Vec<PathBuf>, Vec<PathBuf>)) {
    for f in files {
        let _ = fs::remove_file(f);
    }
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

impl Change<'_> {
    /// Whether this change is a dry run (then nothing is committed and no file is written).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Log an entry for a row this change inserted or changed (updates and deletes are logged by
    /// the triggers).
    fn log(&self, entity: &str, before: Value, after: Value) -> Result<()> {
        self.tx.execute(
            "INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                self.actor,
                self.action,
                entity,
                json!({ "before": before, "after": after }).to_string()
            ],
        )?;
        Ok(())
    }

    /// Read the register back as loading does; any error refuses the change.
    fn read_back(&self) -> Result<()> {
        let mut reader = Reader {
            file: "the register".into(),
            base: self.base.clone(),
            check_documents: false,
            vocabulary: self.vocabulary,
            problems: Vec::new(),
        };
        reader.read(self.tx)?;
        let errors: Vec<String> =
            reader.problems.iter().filter(|p| p.severity == Severity::Error).map(|p| p.message.clone()).collect();
        if !errors.is_empty() {
            bail!(
                "the change would leave the register with errors, so nothing was changed:\n  {}",
                errors.join("\n  ")
            );
        }
        Ok(())
    }

    fn importer(&self) -> Result<Importer<'_>> {
        Importer::new(self.tx, self.base.clone(), self.base.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups

/// A person row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: i64,
    pub key: Option<String>,
    pub name: String,
    pub deleted: Option<String>,
}

/// The persons of the register by name, alias and key (any case): one read for many lookups.
struct Persons {
    rows: HashMap<i64, PersonRow>,
    /// Name key of each name, alias and key -> person id; names before aliases before keys.
    by_name: HashMap<String, i64>,
}

impl Persons {
    fn load(tx: &rusqlite::Connection) -> Result<Persons> {
        let rows: Vec<(i64, Option<String>, String, Option<String>)> =
            collect(tx, "SELECT id, key, name, deleted FROM persons")?;
        let aliases: Vec<(i64, String)> = collect(tx, "SELECT person_id, alias FROM aliases")?;
        let mut by_name = HashMap::new();
        for (id, key, _, _) in &rows {
            if let Some(k) = key {
                by_name.insert(name_key(k), *id);
            }
        }
        for (id, alias) in &aliases {
            by_name.insert(name_key(alias), *id);
        }
        for (id, _, name, _) in &rows {
            by_name.insert(name_key(name), *id);
        }
        let rows =
            rows.into_iter().map(|(id, key, name, deleted)| (id, PersonRow { id, key, name, deleted })).collect();
        Ok(Persons { rows, by_name })
    }

    fn find(&self, name: &str) -> Option<&PersonRow> {
        self.by_name.get(&name_key(name)).and_then(|id| self.rows.get(id))
    }
}

/// The person a name, alias or key refers to (any case).
fn find_person(tx: &Transaction, name: &str) -> Result<Option<PersonRow>> {
    Ok(Persons::load(tx)?.find(name).cloned())
}

fn person(tx: &Transaction, name: &str) -> Result<PersonRow> {
    find_person(tx, name)?.ok_or_else(|| msg!("no person {name:?} in the register (see `consentry person list`)"))
}

fn aliases_of(tx: &rusqlite::Connection, id: i64) -> Result<Vec<String>> {
    let mut stmt = tx.prepare("SELECT alias FROM aliases WHERE person_id = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An originator row: id, key, name.
type OriginatorRow = (i64, Option<String>, String);

/// The originator a name or key refers to (any case).
fn find_originator(tx: &Transaction, name: &str) -> Result<Option<OriginatorRow>> {
    let key = name_key(name);
    let rows: Vec<OriginatorRow> = collect(tx, "SELECT id, key, name FROM originators ORDER BY id")?;
    let by_name = rows.iter().position(|r| name_key(&r.2) == key);
    let by_key = || rows.iter().position(|r| r.1.as_deref().is_some_and(|k| name_key(k) == key));
    Ok(by_name.or_else(by_key).map(|i| rows[i].clone()))
}

fn originator(tx: &Transaction, name: &str) -> Result<OriginatorRow> {
    find_originator(tx, name)?.ok_or_else(|| {
        msg!("no originator {name:?} in the register; add it with `consentry originator add` (see `originator list`)")
    })
}

/// A name as the register keeps it: normalised, not empty, and without `|` (which separates
/// names in CSV registers).
fn clean_name(what: &str, raw: &str) -> Result<String> {
    let name = normalize_name(raw);
    if name.is_empty() {
        bail!("empty {what}");
    }
    if name.contains('|') {
        bail!("{what} {name:?} contains `|`, which separates names in CSV registers; give each name on its own");
    }
    Ok(name)
}

// ---------------------------------------------------------------------------------------------
// Evidence documents

/// How a change stored an evidence document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Copied into the evidence folder (or, in a dry run, would be).
    Copied,
    /// The same content was already in the evidence folder under that name.
    InFolder,
    /// The register already recorded a document with this content: reused.
    Known,
}

impl Stored {
    pub fn as_str(self) -> &'static str {
        match self {
            Stored::Copied => "copied",
            Stored::InFolder => "already in the evidence folder",
            Stored::Known => "already in the register",
        }
    }
}

/// An evidence document as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: i64,
    /// Relative to the register's directory.
    pub path: String,
    pub sha256: String,
    pub stored: Stored,
    /// The document's originator (a document given without one takes that of the same
    /// document recorded before).
    pub originator_id: Option<i64>,
}

/// SHA-256 (hex) of a PDF file, refusing what is not one ([`crate::register::open_pdf`]).
fn pdf_sha256(file: &Path) -> Result<String> {
    Ok(crate::register::pdf_sha256(file, &file.display().to_string())?)
}

/// `target` relative to `base` (both absolute and normal), with `..` where needed.
pub fn relative_to(base: &Path, target: &Path) -> PathBuf {
    let (b, t): (Vec<Component>, Vec<Component>) = (base.components().collect(), target.components().collect());
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel
}

impl Change<'_> {
    /// Record the evidence document `file` (with `originator`): the documents row of the same
    /// content and originator when there is one; else the stored file of the same content with
    /// a new row; else a copy in `folder` with a new row.
    fn document(&mut self, file: &Path, originator: Option<i64>, folder: &Path) -> Result<Document> {
        let sha256 = pdf_sha256(file)?;
        let known: Vec<(i64, String, Option<i64>)> = {
            let mut stmt =
                self.tx.prepare("SELECT id, path, originator_id FROM documents WHERE sha256 = ?1 ORDER BY id")?;
            let rows = stmt.query_map([&sha256], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let same = known.iter().find(|(_, _, o)| originator.is_none() || *o == originator);
        if let Some((id, path, o)) = same {
            return Ok(Document { id: *id, path: path.clone(), sha256, stored: Stored::Known, originator_id: *o });
        }
        let (path, stored) = match known.first() {
            Some((_, path, _)) => (path.clone(), Stored::Known),
            None => {
                let (target, stored) = self.store(file, &sha256, folder)?;
                (relative_to(&self.base, &target).to_string_lossy().into_owned(), stored)
            }
        };
        self.tx.execute(
            "INSERT INTO documents (path, sha256, originator_id) VALUES (?1, ?2, ?3)",
            params![path, sha256, originator],
        )?;
        let id = self.tx.last_insert_rowid();
        let after = json!({ "path": path, "sha256": sha256, "originator_id": originator, "source": file.display().to_string(), "stored": stored.as_str() });
        self.log(&format!("document {id}"), Value::Null, after)?;
        Ok(Document { id, path, sha256, stored, originator_id: originator })
    }

    /// Put `file` (of content `sha256`) into `folder` under its own name, or one with the hash
    /// when that name is taken by other content. Returns where it is.
    fn store(&mut self, file: &Path, sha256: &str, folder: &Path) -> Result<(PathBuf, Stored)> {
        let name = file.file_name().ok_or_else(|| msg!("{}: not a file name", file.display()))?;
        let stem = Path::new(name).file_stem().unwrap_or(name).to_string_lossy().into_owned();
        let ext = Path::new(name).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or("pdf".into());
        let candidates: [OsString; 3] =
            [name.to_owned(), format!("{stem}-{}.{ext}", &sha256[..12]).into(), format!("{sha256}.{ext}").into()];
        for candidate in candidates {
            let target = folder.join(&candidate);
            match fs::symlink_metadata(&target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !self.dry_run {
                        self.copy_private(file, &target)
                            .with_context(|| format!("cannot copy the evidence document to {}", target.display()))?;
                    }
                    return Ok((target, Stored::Copied));
                }
                Err(e) => return Err(e).with_context(|| target.display().to_string()),
                Ok(m) if m.is_file() && pdf_sha256(&target).ok().as_deref() == Some(sha256) => {
                    return Ok((target, Stored::InFolder));
                }
                Ok(_) => continue,
            }
        }
        bail!("no free name for the evidence document in {}", folder.display())
    }

    /// Copy `from` to the new file `to` (mode 0600, flushed), creating its directory (mode 0700).
    fn copy_private(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let dir = to.parent().ok_or_else(|| io::Error::other("no directory"))?;
        let missing: Vec<PathBuf> = dir.ancestors().take_while(|d| !d.exists()).map(Path::to_path_buf).collect();
        crate::own::create_private_dir_all(dir)?;
        self.created_dirs.extend(missing.into_iter().rev());
        let mut out = crate::own::create_private(to)?;
        self.created_files.push(to.to_path_buf());
        io::copy(&mut fs::File::open(from)?, &mut out)?;
        out.flush()?;
        out.sync_all()?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Consents

/// What `consent add` and `consent assign` record: one consent, or a group consent of several
/// persons sharing document and terms.
#[derive(Debug, Clone)]
pub struct NewConsent {
    /// The persons (names or aliases; new names become new persons).
    pub persons: Vec<String>,
    /// Canonical usage names.
    pub usage: Vec<String>,
    pub granted: Date,
    pub expires: Option<Date>,
    /// The evidence PDF as given.
    pub document: PathBuf,
    /// Where new evidence documents are copied to (absolute).
    pub evidence_folder: PathBuf,
    pub originator: Option<String>,
    /// Globs relative to the archive root; empty: every file (`*`).
    pub scope: Vec<String>,
    pub comment: Option<String>,
    pub copyright: Option<String>,
}

/// A consent a change recorded.
#[derive(Debug, Clone)]
pub struct Added {
    pub id: String,
    /// The person's name in the register.
    pub person: String,
    /// Whether the person was added to the register with it.
    pub new_person: bool,
    pub document: Document,
    pub originator: Option<String>,
}

/// The next free consent number: one more than the largest number an id starts with.
fn next_consent_number(tx: &Transaction) -> Result<u64> {
    let ids: Vec<(String,)> = collect(tx, "SELECT CAST(id AS TEXT) FROM consents")?;
    let largest = ids.iter().filter_map(|(id,)| id.split('.').next()?.trim().parse::<u64>().ok()).max();
    Ok(largest.map_or(1, |n| n + 1))
}

fn check_terms(c: &NewConsent) -> Result<()> {
    if c.usage.is_empty() {
        bail!("no usage: a consent must name what it allows (--usage print,web,...)");
    }
    if let Some(e) = c.expires.filter(|e| *e < c.granted) {
        bail!("the expiry date {e} is before the grant date {}", c.granted);
    }
    for glob in &c.scope {
        if glob.contains('|') {
            bail!("scope {glob:?} contains `|`; give each glob with its own --scope");
        }
        ScopeGlob::new(glob).map_err(Error::Message)?;
    }
    Ok(())
}

/// Record a consent (one person) or a group consent (several persons: ids `N.1`, `N.2`, ...).
/// Names of the same person count once.
pub fn add_consents(ch: &mut Change, c: &NewConsent) -> Result<Vec<Added>> {
    check_terms(c)?;
    let origin = c.originator.as_deref().map(|o| originator(ch.tx, o)).transpose()?;
    // The persons, each once, known ones by their row.
    let mut persons: Vec<(String, Option<i64>)> = Vec::new();
    let register = Persons::load(ch.tx)?;
    for raw in &c.persons {
        let name = clean_name("person name", raw)?;
        let known = register.find(&name).cloned();
        if let Some(p) = known.as_ref().filter(|p| p.deleted.is_some()) {
            bail!("person {:?} is deleted in the register (person {})", p.name, p.id);
        }
        let entry = match known {
            Some(p) => (p.name, Some(p.id)),
            None => (name, None),
        };
        if !persons.iter().any(|(n, id)| (id.is_some() && *id == entry.1) || name_key(n) == name_key(&entry.0)) {
            persons.push(entry);
        }
    }
    if persons.is_empty() {
        bail!("no person: give --person NAME");
    }
    let document = ch.document(&c.document, origin.as_ref().map(|o| o.0), &c.evidence_folder)?;
    let origin: Option<OriginatorRow> = match document.originator_id {
        Some(id) => Some(ch.tx.query_row("SELECT id, key, name FROM originators WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?),
        None => None,
    };
    let number = next_consent_number(ch.tx)?;
    let scope =
        if c.scope.is_empty() { Scope::All } else { Scope::parse(&c.scope.join("|")).map_err(Error::Message)? };
    let mut importer = ch.importer()?;
    importer.documents.insert((document.path.clone(), origin.as_ref().map(|o| o.0)), document.id);
    let mut added = Vec::new();
    let mut new_persons = Vec::new();
    for (i, (name, known)) in persons.iter().enumerate() {
        let id = if persons.len() == 1 { number.to_string() } else { format!("{number}.{}", i + 1) };
        let consent = Consent {
            id: id.clone(),
            person: name.clone(),
            usage: Arc::new(c.usage.iter().cloned().collect()),
            granted: c.granted,
            expires: c.expires,
            revoked: None,
            document: Some(document.path.clone()),
            originator: origin.as_ref().map(|o| o.2.clone()),
            scope: scope.clone(),
            comment: c.comment.clone(),
            copyright: c.copyright.clone(),
            origin: Origin::default(),
            evidence: Evidence::Unchecked,
        };
        importer.consent(&consent).with_context(|| format!("consent {id}"))?;
        let person_id = importer.persons.get(&name_key(name)).map(|p| p.0);
        if known.is_none() {
            new_persons.push((person_id, name.clone()));
        }
        added.push((consent, person_id, known.is_none()));
    }
    drop(importer);
    for (id, name) in new_persons {
        ch.log(&format!("person {}", id.unwrap_or_default()), Value::Null, json!({ "name": name }))?;
    }
    for (consent, person_id, _) in &added {
        let after = json!({
            "id": consent.id,
            "person": consent.person,
            "person_id": person_id,
            "usage": consent.usage.iter().collect::<Vec<_>>(),
            "granted": consent.granted.to_string(),
            "expires": consent.expires.map(|d| d.to_string()),
            "document": document.path,
            "document_id": document.id,
            "sha256": document.sha256,
            "originator": consent.originator,
            "scope": consent.scope.patterns(),
            "comment": consent.comment,
            "copyright": consent.copyright,
        });
        ch.log(&format!("consent {}", consent.id), Value::Null, after)?;
    }
    Ok(added
        .into_iter()
        .map(|(consent, _, new_person)| Added {
            id: consent.id,
            person: consent.person,
            new_person,
            document: document.clone(),
            originator: consent.originator,
        })
        .collect())
}

/// A consent row as revocation and expiry changes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub id: String,
    pub person: String,
    pub granted: Date,
    pub expires: Option<Date>,
    pub revoked: Option<Date>,
    pub document_id: Option<i64>,
}

/// A date column read back (`YYYY-MM-DD`), as a conversion error when it is not one.
fn date_column(s: Option<String>) -> rusqlite::Result<Option<Date>> {
    s.map(|s| {
        crate::register::iso_date(&s).ok_or_else(|| {
            let e = format!("invalid date {s:?} (expected YYYY-MM-DD)");
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}

/// The consents an id names: that consent, or when there is none, the members `ID.1`, `ID.2`,
/// ... of the group consent `ID`; none when it names no consent.
fn consents_with_id(conn: &rusqlite::Connection, id: &str) -> Result<Vec<ConsentRow>> {
    let id = id.trim();
    let mut stmt = conn.prepare(
        "SELECT CAST(c.id AS TEXT), p.name, CAST(c.granted AS TEXT), CAST(c.expires AS TEXT), CAST(c.revoked AS TEXT), \
         c.document_id FROM consents c JOIN persons p ON p.id = c.person_id \
         WHERE c.id = ?1 OR (NOT EXISTS (SELECT 1 FROM consents WHERE id = ?1) AND substr(c.id, 1, length(?1) + 1) = ?1 || '.') \
         ORDER BY c.rowid",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(ConsentRow {
            id: r.get(0)?,
            person: r.get(1)?,
            granted: date_column(r.get(2)?)?.unwrap_or_default(),
            expires: date_column(r.get(3)?)?,
            revoked: date_column(r.get(4)?)?,
            document_id: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The consents an id names ([`consents_with_id`]); refused when it names none.
fn consents_named(tx: &Transaction, id: &str) -> Result<Vec<ConsentRow>> {
    let rows = consents_with_id(tx, id)?;
    if rows.is_empty() {
        bail!("no consent with id {:?} in the register (see `consentry consent search`)", id.trim());
    }
    Ok(rows)
}

/// A consent as `consent revoke NAME` lists it before revoking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocable {
    pub id: String,
    /// Its usage areas, sorted.
    pub usage: Vec<String>,
    pub granted: Date,
    pub expires: Option<Date>,
    pub revoked: Option<Date>,
}

impl Revocable {
    /// Whether revoking it from `on` changes it (it is not revoked on or before that day).
    pub fn open_on(&self, on: Date) -> bool {
        self.revoked.is_none_or(|r| r > on)
    }
}

/// What an argument of `consent revoke` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A consent id, or the id of a group consent (its members).
    Consent,
    /// A person of the register (by name, alias or key, in any case), with all their consents
    /// in register order.
    Person { id: i64, name: String, consents: Vec<Revocable> },
    /// Neither a consent id nor a person.
    Nothing,
}

/// What `arg` names: a consent id first (as `consent revoke ID` always read it), else a
/// person's name, alias or key.
pub fn named(conn: &rusqlite::Connection, arg: &str) -> Result<Named> {
    if !consents_with_id(conn, arg)?.is_empty() {
        return Ok(Named::Consent);
    }
    let Some(person) = Persons::load(conn)?.find(arg).cloned() else { return Ok(Named::Nothing) };
    let mut stmt = conn.prepare(
        "SELECT CAST(c.id AS TEXT), CAST(c.granted AS TEXT), CAST(c.expires AS TEXT), CAST(c.revoked AS TEXT), \
         (SELECT group_concat(u.usage, char(31)) FROM consent_usage u WHERE u.consent_id = c.id) \
         FROM consents c WHERE c.person_id = ?1 ORDER BY c.rowid",
    )?;
    let rows = stmt.query_map([person.id], |r| {
        let usage: Option<String> = r.get(4)?;
        let mut usage: Vec<String> = usage.iter().flat_map(|u| u.split('\u{1f}')).map(str::to_string).collect();
        usage.sort();
        Ok(Revocable {
            id: r.get(0)?,
            usage,
            granted: date_column(r.get(1)?)?.unwrap_or_default(),
            expires: date_column(r.get(2)?)?,
            revoked: date_column(r.get(3)?)?,
        })
    })?;
    let consents = rows.collect::<rusqlite::Result<_>>()?;
    Ok(Named::Person { id: person.id, name: person.name, consents })
}

/// Every name, alias and key of the register's persons: what a name that names nobody is
/// compared with for suggestions.
pub fn person_names(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let persons = Persons::load(conn)?;
    let mut names: Vec<String> = persons.rows.values().map(|p| p.name.clone()).collect();
    names.extend(collect::<(String,)>(conn, "SELECT alias FROM aliases")?.into_iter().map(|(a,)| a));
    names.sort();
    names.dedup();
    Ok(names)
}

/// The consents all `ids` name, each once, in the order given.
fn consents_of_ids(tx: &Transaction, ids: &[String]) -> Result<Vec<ConsentRow>> {
    let mut all: Vec<ConsentRow> = Vec::new();
    for id in ids {
        for row in consents_named(tx, id)? {
            if !all.iter().any(|r| r.id == row.id) {
                all.push(row);
            }
        }
    }
    Ok(all)
}

/// What happened to one consent of a revocation or a new expiry date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    pub before: ConsentRow,
    pub after: ConsentRow,
}

impl Updated {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Revoke consents from day `on` (kept as history). A consent already revoked on or before
/// that day stays as it is; one revoked later is revoked from `on` instead. Refused when
/// nothing would change, and for a day before a consent was granted.
pub fn revoke(ch: &mut Change, ids: &[String], on: Date) -> Result<Vec<Updated>> {
    let rows = consents_of_ids(ch.tx, ids)?;
    let mut out = Vec::new();
    for before in rows {
        if on < before.granted {
            bail!("consent {}: revocation day {on} is before it was granted ({})", before.id, before.granted);
        }
        let mut after = before.clone();
        if before.revoked.is_none_or(|r| r > on) {
            after.revoked = Some(on);
            ch.tx.execute("UPDATE consents SET revoked = ?1 WHERE id = ?2", params![on.to_string(), before.id])?;
        }
        out.push(Updated { before, after });
    }
    if !out.iter().any(Updated::changed) {
        let ids: Vec<String> =
            out.iter().map(|u| format!("{} (on {})", u.before.id, u.before.revoked.unwrap_or(on))).collect();
        bail!("already revoked: {}", ids.join(", "));
    }
    Ok(out)
}

/// Give consents a new expiry date (`None`: unlimited), and with `document` a new evidence
/// document (a renewal is usually signed again). Refused for revoked consents and for a date
/// before a consent was granted.
pub fn extend(
    ch: &mut Change,
    ids: &[String],
    expires: Option<Date>,
    document: Option<(&Path, &Path)>,
) -> Result<(Vec<Updated>, Option<Document>)> {
    let rows = consents_of_ids(ch.tx, ids)?;
    for row in &rows {
        if let Some(r) = row.revoked {
            bail!("consent {} was revoked on {r}; a revoked consent is not extended (add a new one)", row.id);
        }
        if let Some(e) = expires.filter(|e| *e < row.granted) {
            bail!("consent {}: the expiry date {e} is before it was granted ({})", row.id, row.granted);
        }
    }
    let document = match document {
        Some((file, folder)) => {
            // The new document keeps the originator of the consents' current one.
            let originators: BTreeSet<Option<i64>> = rows
                .iter()
                .map(|r| -> Result<Option<i64>> {
                    let Some(d) = r.document_id else { return Ok(None) };
                    Ok(ch.tx.query_row("SELECT originator_id FROM documents WHERE id = ?1", [d], |r| r.get(0))?)
                })
                .collect::<Result<_>>()?;
            if originators.len() > 1 {
                bail!("the consents have documents of different originators; give them a new document one by one");
            }
            Some(ch.document(file, originators.into_iter().next().flatten(), folder)?)
        }
        None => None,
    };
    let mut out = Vec::new();
    for before in rows {
        let mut after = before.clone();
        after.expires = expires;
        if let Some(d) = &document {
            after.document_id = Some(d.id);
        }
        if after != before {
            ch.tx.execute(
                "UPDATE consents SET expires = ?1, document_id = ?2 WHERE id = ?3",
                params![expires.map(|d| d.to_string()), after.document_id, before.id],
            )?;
        }
        out.push(Updated { before, after });
    }
    Ok((out, document))
}

// ---------------------------------------------------------------------------------------------
// Exemptions

/// An exemption row: id, scope, person (`None`: everyone), reason, note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptionRow {
    pub id: i64,
    pub scope: String,
    pub person: Option<String>,
    pub reason: String,
    pub note: Option<String>,
}

const EXEMPTIONS: &str = "SELECT e.id, CAST(e.scope AS TEXT), p.name, CAST(e.reason AS TEXT), CAST(e.note AS TEXT) \
                          FROM exemptions e LEFT JOIN persons p ON p.id = e.person_id";

fn exemption_rows(tx: &rusqlite::Connection, filter: &str, args: impl rusqlite::Params) -> Result<Vec<ExemptionRow>> {
    let mut stmt = tx.prepare(&format!("{EXEMPTIONS} {filter} ORDER BY e.id"))?;
    let rows = stmt.query_map(args, |r| {
        Ok(ExemptionRow { id: r.get(0)?, scope: r.get(1)?, person: r.get(2)?, reason: r.get(3)?, note: r.get(4)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Scopes as the register keeps them (`./` and surrounding space gone); invalid globs refused.
fn normal_scopes(scopes: &[String]) -> Result<Vec<String>> {
    scopes.iter().map(|s| Ok(Scope::parse(s).map_err(Error::Message)?.patterns().join("|"))).collect()
}

/// Exempt `who` (`None`: everyone depicted) in each scope (one exemption per scope). A scope
/// that already has the same exemption is left as it is (`false` in the result).
pub fn exempt(
    ch: &mut Change,
    scopes: &[String],
    who: Option<&str>,
    reason: ExemptReason,
    note: Option<&str>,
) -> Result<Vec<(ExemptionRow, bool)>> {
    let person = who.map(|p| clean_name("person name", p)).transpose()?;
    let known = person.as_deref().map(|p| find_person(ch.tx, p)).transpose()?.flatten();
    if let Some(p) = known.as_ref().filter(|p| p.deleted.is_some()) {
        bail!("person {:?} is deleted in the register (person {})", p.name, p.id);
    }
    let scopes = normal_scopes(scopes)?;
    // A known person by their register name (they may be given by key).
    let person = known.as_ref().map(|p| p.name.clone()).or(person);
    let mut importer = ch.importer()?;
    let person_id = person.as_deref().map(|p| importer.person_id(p)).transpose()?;
    let mut out = Vec::new();
    let mut inserted = Vec::new();
    for scope in &scopes {
        let existing = exemption_rows(
            ch.tx,
            "WHERE e.scope = ?1 AND e.person_id IS ?2 AND e.reason = ?3",
            params![scope, person_id, reason.as_str()],
        )?;
        if let Some(row) = existing.into_iter().next() {
            out.push((row, false));
            continue;
        }
        let exemption = Exemption {
            scope: Scope::parse(scope).map_err(Error::Message)?,
            person: person.clone(),
            reason,
            note: note.map(str::to_string),
            origin: Origin::default(),
        };
        importer.exemption(&exemption)?;
        let id = ch.tx.last_insert_rowid();
        inserted.push(id);
        let row = exemption_rows(ch.tx, "WHERE e.id = ?1", [id])?.remove(0);
        out.push((row, true));
    }
    let new_person = known.is_none() && importer.stats.persons > 0;
    drop(importer);
    if let (true, Some(id), Some(name)) = (new_person, person_id, &person) {
        ch.log(&format!("person {id}"), Value::Null, json!({ "name": name }))?;
    }
    for (row, _) in out.iter().filter(|(r, _)| inserted.contains(&r.id)) {
        let after = json!({ "scope": row.scope, "person": row.person, "person_id": person_id, "reason": row.reason, "note": row.note });
        ch.log(&format!("exemption {}", row.id), Value::Null, after)?;
    }
    Ok(out)
}

/// Remove exemptions by id.
pub fn remove_exemptions(ch: &mut Change, ids: &[i64]) -> Result<Vec<ExemptionRow>> {
    let mut out = Vec::new();
    for &id in ids {
        let row = exemption_rows(ch.tx, "WHERE e.id = ?1", [id])?
            .pop()
            .ok_or_else(|| msg!("no exemption {id} in the register (see `consentry exempt list`)"))?;
        ch.tx.execute("DELETE FROM exemptions WHERE id = ?1", [id])?;
        out.push(row);
    }
    Ok(out)
}

/// The exemptions with exactly one of `scopes` for `person` (`None`: those for everyone).
pub fn exemptions_for(ch: &Change, scopes: &[String], who: Option<&str>) -> Result<Vec<i64>> {
    let person_id = match who {
        Some(p) => Some(person(ch.tx, p)?.id),
        None => None,
    };
    let mut ids = Vec::new();
    for scope in &normal_scopes(scopes)? {
        let rows = exemption_rows(ch.tx, "WHERE e.scope = ?1 AND e.person_id IS ?2", params![scope, person_id])?;
        if rows.is_empty() {
            bail!("no exemption for {scope:?} and this person (see `consentry exempt list`)");
        }
        ids.extend(rows.iter().map(|r| r.id));
    }
    Ok(ids)
}

/// Every exemption.
pub fn list_exemptions(conn: &rusqlite::Connection) -> Result<Vec<ExemptionRow>> {
    exemption_rows(conn, "", [])
}

// ---------------------------------------------------------------------------------------------
// Originators

/// An originator with the number of documents and consents referring to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginatorUse {
    pub id: i64,
    pub key: Option<String>,
    pub name: String,
    pub documents: i64,
    pub consents: i64,
}

const ORIGINATOR_USE: &str = "SELECT o.id, o.key, o.name, \
     (SELECT count(*) FROM documents d WHERE d.originator_id = o.id), \
     (SELECT count(*) FROM consents c JOIN documents d ON d.id = c.document_id WHERE d.originator_id = o.id) \
     FROM originators o";

fn originator_uses(
    conn: &rusqlite::Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<OriginatorUse>> {
    let mut stmt = conn.prepare(&format!("{ORIGINATOR_USE} {filter} ORDER BY o.id"))?;
    let rows = stmt.query_map(args, |r| {
        Ok(OriginatorUse { id: r.get(0)?, key: r.get(1)?, name: r.get(2)?, documents: r.get(3)?, consents: r.get(4)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every originator, with its use.
pub fn list_originators(conn: &rusqlite::Connection) -> Result<Vec<OriginatorUse>> {
    originator_uses(conn, "", [])
}

/// A name that no other originator has (as name or key).
fn free_originator_name(tx: &Transaction, name: &str, except: Option<i64>) -> Result<String> {
    let name = clean_name("originator name", name)?;
    if let Some(o) = find_originator(tx, &name)?.filter(|o| Some(o.0) != except) {
        bail!("there is an originator {:?} already (originator {})", o.2, o.0);
    }
    Ok(name)
}

pub fn add_originator(ch: &mut Change, name: &str, key: Option<&str>) -> Result<OriginatorUse> {
    let name = free_originator_name(ch.tx, name, None)?;
    if let Some(k) = key {
        free_originator_name(ch.tx, k, None)?;
    }
    ch.tx.execute("INSERT INTO originators (key, name) VALUES (?1, ?2)", params![key, name])?;
    let id = ch.tx.last_insert_rowid();
    ch.log(&format!("originator {id}"), Value::Null, json!({ "key": key, "name": name }))?;
    Ok(originator_uses(ch.tx, "WHERE o.id = ?1", [id])?.remove(0))
}

/// Rename an originator: every consent refers to it by id, so the new name applies everywhere.
pub fn rename_originator(ch: &mut Change, old: &str, new: &str) -> Result<(String, OriginatorUse)> {
    let (id, _, before) = originator(ch.tx, old)?;
    let name = free_originator_name(ch.tx, new, Some(id))?;
    if name == before {
        bail!("originator {id} is called {name:?} already");
    }
    ch.tx.execute("UPDATE originators SET name = ?1 WHERE id = ?2", params![name, id])?;
    Ok((before, originator_uses(ch.tx, "WHERE o.id = ?1", [id])?.remove(0)))
}

/// Delete an originator no document refers to; refused with the count when referenced.
pub fn delete_originator(ch: &mut Change, name: &str) -> Result<OriginatorUse> {
    let (id, _, _) = originator(ch.tx, name)?;
    let used = originator_uses(ch.tx, "WHERE o.id = ?1", [id])?.remove(0);
    if used.documents > 0 {
        bail!(
            "originator {:?} is referenced by {} consent(s) ({} document(s)) and cannot be deleted; rename it instead",
            used.name,
            used.consents,
            used.documents
        );
    }
    ch.tx.execute("DELETE FROM originators WHERE id = ?1", [id])?;
    Ok(used)
}

// ---------------------------------------------------------------------------------------------
// Persons

/// A person with aliases and the number of consents and exemptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonUse {
    pub row: PersonRow,
    pub aliases: Vec<String>,
    pub consents: i64,
    pub exemptions: i64,
}

fn person_use(conn: &rusqlite::Connection, row: PersonRow) -> Result<PersonUse> {
    let aliases = aliases_of(conn, row.id)?;
    let count = |sql: &str| -> rusqlite::Result<i64> { conn.query_row(sql, [row.id], |r| r.get(0)) };
    let consents = count("SELECT count(*) FROM consents WHERE person_id = ?1")?;
    let exemptions = count("SELECT count(*) FROM exemptions WHERE person_id = ?1")?;
    Ok(PersonUse { row, aliases, consents, exemptions })
}

/// Every person with aliases and use, by name.
pub fn list_persons(conn: &rusqlite::Connection) -> Result<Vec<PersonUse>> {
    let rows: Vec<(i64, Option<String>, String, Option<String>)> =
        collect(conn, "SELECT id, key, name, deleted FROM persons")?;
    let mut out = rows
        .into_iter()
        .map(|(id, key, name, deleted)| person_use(conn, PersonRow { id, key, name, deleted }))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|p| (name_key(&p.row.name), p.row.id));
    Ok(out)
}

/// A name or alias no person has yet (`except`: this person may have it).
fn free_person_name(tx: &Transaction, name: &str, except: Option<i64>) -> Result<String> {
    let name = clean_name("person name", name)?;
    if let Some(p) = find_person(tx, &name)?.filter(|p| Some(p.id) != except) {
        bail!("{name:?} is a name of another person already (person {}, {:?})", p.id, p.name);
    }
    Ok(name)
}

fn insert_alias(ch: &Change, id: i64, alias: &str) -> Result<()> {
    ch.tx.execute("INSERT INTO aliases (person_id, alias) VALUES (?1, ?2)", params![id, alias])?;
    ch.log(&format!("person {id}"), Value::Null, json!({ "alias": alias }))
}

pub fn add_person(ch: &mut Change, name: &str, aliases: &[String], key: Option<&str>) -> Result<PersonUse> {
    let name = free_person_name(ch.tx, name, None)?;
    let aliases: Vec<String> = aliases.iter().map(|a| free_person_name(ch.tx, a, None)).collect::<Result<_>>()?;
    if let Some(k) = key {
        free_person_name(ch.tx, k, None)?;
    }
    ch.tx.execute("INSERT INTO persons (key, name) VALUES (?1, ?2)", params![key, name])?;
    let id = ch.tx.last_insert_rowid();
    ch.log(&format!("person {id}"), Value::Null, json!({ "key": key, "name": name }))?;
    let mut seen = BTreeSet::from([name_key(&name)]);
    for a in aliases.iter().filter(|a| seen.insert(name_key(a))) {
        insert_alias(ch, id, a)?;
    }
    person_use(ch.tx, person(ch.tx, &name)?)
}

/// Add aliases to a person, or with `remove` take them away.
pub fn alias(ch: &mut Change, name: &str, aliases: &[String], remove: bool) -> Result<PersonUse> {
    let p = person(ch.tx, name)?;
    let own = aliases_of(ch.tx, p.id)?;
    for raw in aliases {
        let alias = clean_name("alias", raw)?;
        let mine = own.iter().find(|a| name_key(a) == name_key(&alias));
        match (remove, mine) {
            (true, Some(a)) => {
                ch.tx.execute("DELETE FROM aliases WHERE person_id = ?1 AND alias = ?2", params![p.id, a])?;
            }
            (true, None) => bail!("{alias:?} is not an alias of person {} ({:?})", p.id, p.name),
            (false, Some(_)) => {}
            (false, None) => {
                if name_key(&alias) == name_key(&p.name) {
                    continue;
                }
                let alias = free_person_name(ch.tx, &alias, None)?;
                insert_alias(ch, p.id, &alias)?;
            }
        }
    }
    person_use(ch.tx, person(ch.tx, &p.name)?)
}

/// Rename a person (every consent follows: they refer to the person by id). The new name may be
/// one of the person's aliases (it stops being one). With `keep_old`, the old name becomes an
/// alias, so files tagged with it still match.
pub fn rename_person(ch: &mut Change, old: &str, new: &str, keep_old: bool) -> Result<(String, PersonUse)> {
    let p = person(ch.tx, old)?;
    let name = free_person_name(ch.tx, new, Some(p.id))?;
    if name == p.name {
        bail!("person {} is called {name:?} already", p.id);
    }
    // The new name may be one of the person's aliases: it stops being one.
    for alias in aliases_of(ch.tx, p.id)?.iter().filter(|a| name_key(a) == name_key(&name)) {
        ch.tx.execute("DELETE FROM aliases WHERE person_id = ?1 AND alias = ?2", params![p.id, alias])?;
    }
    ch.tx.execute("UPDATE persons SET name = ?1 WHERE id = ?2", params![name, p.id])?;
    if keep_old && name_key(&name) != name_key(&p.name) {
        insert_alias(ch, p.id, &p.name)?;
    }
    Ok((p.name, person_use(ch.tx, person(ch.tx, &name)?)?))
}

/// What a merge moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub from: PersonUse,
    pub into: PersonUse,
}

/// Merge person `from` into `into`: `from`'s consents, exemptions and aliases move to `into`,
/// `from`'s name becomes an alias of `into`, and `from`'s row goes (the audit log keeps it).
pub fn merge_persons(ch: &mut Change, from: &str, into: &str) -> Result<Merged> {
    let (f, i) = (person(ch.tx, from)?, person(ch.tx, into)?);
    if f.id == i.id {
        bail!("{from:?} and {into:?} are the same person already (person {})", f.id);
    }
    for p in [&f, &i] {
        if p.deleted.is_some() {
            bail!("person {} ({:?}) is deleted in the register", p.id, p.name);
        }
    }
    let from_use = person_use(ch.tx, f.clone())?;
    for sql in [
        "UPDATE consents SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE exemptions SET person_id = ?2 WHERE person_id = ?1",
        "UPDATE aliases SET person_id = ?2 WHERE person_id = ?1",
    ] {
        ch.tx.execute(sql, params![f.id, i.id])?;
    }
    ch.tx.execute("DELETE FROM persons WHERE id = ?1", [f.id])?;
    if name_key(&f.name) != name_key(&i.name) {
        insert_alias(ch, i.id, &f.name)?;
    }
    let into_use = person_use(ch.tx, person(ch.tx, &i.name)?)?;
    let before = json!({ "merged": { "id": f.id, "key": f.key, "name": f.name, "aliases": from_use.aliases,
        "consents": from_use.consents, "exemptions": from_use.exemptions } });
    let after = json!({ "id": i.id, "name": i.name, "aliases": into_use.aliases, "consents": into_use.consents,
        "exemptions": into_use.exemptions });
    ch.log(&format!("person {}", i.id), before, after)?;
    Ok(Merged { from: from_use, into: into_use })
}

/// Open a register read-only for the list commands.
pub fn open_for_listing(db: &Path) -> Result<rusqlite::Connection> {
    super::open_read_only(db).with_context(|| db.display().to_string())
}

/// Whether `path` names an SQLite register by its extension (`.sqlite`, `.sqlite3`, `.db`), as
/// loading decides.
pub fn is_sqlite_path(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    !path.is_dir() && matches!(ext.as_str(), "sqlite" | "sqlite3" | "db")
}

/// Create an empty register at `db` (refused when the file exists), logging who created it.
pub fn init(db: &Path, actor: &str) -> Result<()> {
    if !is_sqlite_path(db) {
        bail!("{}: an SQLite register's name ends in .sqlite, .sqlite3 or .db", db.display());
    }
    if db.exists() {
        bail!("{}: exists already", db.display());
    }
    let conn = super::open(db)?;
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (?1, ?2, 'register init', 'register', ?3)",
        params![
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            actor,
            json!({ "before": null, "after": { "schema_version": super::SCHEMA_VERSION } }).to_string()
        ],
    )?;
    Ok(())
}
