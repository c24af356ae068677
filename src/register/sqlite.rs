//! SQLite registers (SPEC.md 3.4): the full model with an append-only audit log.
//!
//! Schema (version [`SCHEMA_VERSION`] in `PRAGMA user_version`, see [`MIGRATIONS`]):
//! `persons` (with `aliases`), `originators`, `documents` (evidence PDF path relative to the
//! database's directory, its SHA-256, its originator), `consents` (with `consent_usage` and
//! `consent_scope` rows; no scope rows = `*`), `exemptions` and `audit_log`.
//!
//! Decisions:
//! - Foreign keys are on for every connection. A person referenced by consents or exemptions
//!   cannot be deleted; "deleting" sets `persons.deleted` (a date). Their consents load as history:
//!   revoked on the deletion day at the latest, so they stop counting but stay searchable.
//! - `persons.key` / `originators.key` keep the register's own identifiers (`persons.csv` id,
//!   `originators.csv` id); an originator without one is identified by its name, as in CSV.
//! - The originator belongs to the evidence document. A consent with an originator but no document
//!   gets a document row with an empty path ("no scan on file").
//! - A consent naming a person by alias (or in another case) is stored against that person and
//!   loads with the person's register name.
//! - `audit_log` rejects UPDATE and DELETE. Every UPDATE or DELETE of a consent, person or exemption
//!   (also one made with another SQLite tool) is logged by triggers with actor `sql` and the row
//!   before and after as JSON; `import` logs itself with its actor and counts.
//! - Loading reads the database read-only and never creates it, validates like the CSV loader
//!   (dates, expiry or revocation before grant, unknown or no usage word, unknown reason or
//!   reference) and never returns a register with errors. Problems name the database file and the
//!   row (`consent 17: ...`) with line 0; loaded entries' `Origin` reads `FILE: consent 17`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use super::{document_problems, EvidenceError, Loaded, Problem, RegisterErrors, Severity};
use crate::model::{
    name_key, Consent, Date, Evidence, ExemptReason, Exemption, Origin, Originator, Person, Register, Scope, UsageSets,
    Vocabulary,
};
use crate::people::normalize_name;

/// Why an SQLite register could not be opened, read or changed. Each variant displays its whole
/// text, causes included (see `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused (a locked, damaged or foreign database; a failed statement).
    #[error("{}", crate::error::with_causes(.0))]
    Sqlite(rusqlite::Error),
    /// A file could not be used.
    #[error("{}", crate::error::with_causes(.0))]
    Io(io::Error),
    /// An evidence document that cannot be used.
    #[error("{}", crate::error::with_causes(.0))]
    Evidence(EvidenceError),
    /// What was being done (or which row) when `cause` happened.
    #[error("{what}: {cause}")]
    Context { what: String, cause: Box<Error> },
    /// Everything else, said in full.
    #[error("{0}")]
    Message(String),
}

impl Error {
    /// The SQLite error behind this one, if any.
    fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            Error::Sqlite(e) => Some(e),
            Error::Context { cause, .. } => cause.sqlite(),
            Error::Io(_) | Error::Evidence(_) | Error::Message(_) => None,
        }
    }

    fn context(self, what: impl Into<String>) -> Error {
        Error::Context { what: what.into(), cause: Box::new(self) }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Sqlite(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<EvidenceError> for Error {
    fn from(e: EvidenceError) -> Error {
        Error::Evidence(e)
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Say what was being done when a step failed.
pub(crate) trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

/// An [`Error::Message`] formatted in place.
macro_rules! msg {
    ($($arg:tt)*) => {
        $crate::register::sqlite::Error::Message(format!($($arg)*))
    };
}

/// Return an [`Error::Message`] formatted in place.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(msg!($($arg)*))
    };
}

pub mod edit;

use super::digest::content_digest;

/// The schema version this consentry writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` brings a database from version `i` to `i + 1`. Never edit a released entry:
/// append a new one.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE persons (
    id      INTEGER PRIMARY KEY,
    key     TEXT UNIQUE,
    name    TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (trim(name) <> ''),
    deleted TEXT
);
CREATE TABLE aliases (
    person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    alias     TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (trim(alias) <> '')
);
CREATE INDEX aliases_person ON aliases(person_id);
CREATE TABLE originators (
    id   INTEGER PRIMARY KEY,
    key  TEXT UNIQUE,
    name TEXT NOT NULL COLLATE NOCASE UNIQUE
);
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL,
    sha256        TEXT,
    originator_id INTEGER REFERENCES originators(id)
);
CREATE TABLE consents (
    id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    document_id INTEGER REFERENCES documents(id),
    granted     TEXT NOT NULL,
    expires     TEXT,
    revoked     TEXT,
    comment     TEXT,
    copyright   TEXT,
    CHECK (expires IS NULL OR expires >= granted)
);
CREATE INDEX consents_person ON consents(person_id);
CREATE INDEX consents_document ON consents(document_id);
CREATE TABLE consent_usage (
    consent_id TEXT NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
    usage      TEXT NOT NULL,
    PRIMARY KEY (consent_id, usage)
);
CREATE TABLE consent_scope (
    consent_id TEXT NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
    glob       TEXT NOT NULL,
    PRIMARY KEY (consent_id, glob)
);
CREATE TABLE exemptions (
    id        INTEGER PRIMARY KEY,
    scope     TEXT NOT NULL DEFAULT '*',
    person_id INTEGER REFERENCES persons(id),
    reason    TEXT NOT NULL CHECK (reason IN ('not-recognisable', 'prominent', 'public-event', 'other')),
    note      TEXT
);
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT,
    detail TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TRIGGER consents_audit_update AFTER UPDATE ON consents BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'update', 'consent ' || OLD.id, json_object(
        'before', json_object('id', OLD.id, 'person_id', OLD.person_id, 'document_id', OLD.document_id,
            'granted', OLD.granted, 'expires', OLD.expires, 'revoked', OLD.revoked,
            'comment', OLD.comment, 'copyright', OLD.copyright),
        'after', json_object('id', NEW.id, 'person_id', NEW.person_id, 'document_id', NEW.document_id,
            'granted', NEW.granted, 'expires', NEW.expires, 'revoked', NEW.revoked,
            'comment', NEW.comment, 'copyright', NEW.copyright)));
END;
CREATE TRIGGER consents_audit_delete AFTER DELETE ON consents BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'delete', 'consent ' || OLD.id, json_object(
        'before', json_object('id', OLD.id, 'person_id', OLD.person_id, 'document_id', OLD.document_id,
            'granted', OLD.granted, 'expires', OLD.expires, 'revoked', OLD.revoked,
            'comment', OLD.comment, 'copyright', OLD.copyright),
        'after', NULL));
END;
CREATE TRIGGER persons_audit_update AFTER UPDATE ON persons BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'update', 'person ' || OLD.id, json_object(
        'before', json_object('key', OLD.key, 'name', OLD.name, 'deleted', OLD.deleted),
        'after', json_object('key', NEW.key, 'name', NEW.name, 'deleted', NEW.deleted)));
END;
CREATE TRIGGER persons_audit_delete AFTER DELETE ON persons BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'delete', 'person ' || OLD.id, json_object(
        'before', json_object('key', OLD.key, 'name', OLD.name, 'deleted', OLD.deleted), 'after', NULL));
END;
CREATE TRIGGER exemptions_audit_update AFTER UPDATE ON exemptions BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'update', 'exemption ' || OLD.id, json_object(
        'before', json_object('scope', OLD.scope, 'person_id', OLD.person_id, 'reason', OLD.reason, 'note', OLD.note),
        'after', json_object('scope', NEW.scope, 'person_id', NEW.person_id, 'reason', NEW.reason, 'note', NEW.note)));
END;
CREATE TRIGGER exemptions_audit_delete AFTER DELETE ON exemptions BEGIN
    INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'sql', 'delete', 'exemption ' || OLD.id, json_object(
        'before', json_object('scope', OLD.scope, 'person_id', OLD.person_id, 'reason', OLD.reason, 'note', OLD.note),
        'after', NULL));
END;
"#,
    MIGRATION_2,
];

/// Schema version 2: consentry's own changes log their actor and action. While a consentry
/// command changes the register, its transaction holds one row in `audit_session` (removed again
/// before it commits, so no other connection ever sees it) and the triggers log with that actor
/// and action (`consent revoke`, `person merge`, ...); changes made with other SQLite tools are
/// still logged as actor `sql`, action `update` or `delete`. Updates and deletes of originators,
/// aliases, documents and usage and scope rows are logged too. The tables are unchanged: a
/// version 1 register is read as it is and upgraded by the first change. The triggers are
/// [`audit_triggers`], run by the same migration.
const MIGRATION_2: &str = "CREATE TABLE audit_session (actor TEXT NOT NULL, action TEXT NOT NULL);";

/// The tables whose updates and deletes are logged from schema version 2 on: table, entity
/// label, the column naming the entity, the columns logged before and after. Part of a released
/// migration: never edit, add a migration instead.
const AUDITED: &[(&str, &str, &str, &[&str])] = &[
    (
        "consents",
        "consent",
        "id",
        &["id", "person_id", "document_id", "granted", "expires", "revoked", "comment", "copyright"],
    ),
    ("persons", "person", "id", &["key", "name", "deleted"]),
    ("exemptions", "exemption", "id", &["scope", "person_id", "reason", "note"]),
    ("originators", "originator", "id", &["key", "name"]),
    ("aliases", "person", "person_id", &["alias", "person_id"]),
    ("documents", "document", "id", &["path", "sha256", "originator_id"]),
    ("consent_usage", "consent", "consent_id", &["consent_id", "usage"]),
    ("consent_scope", "consent", "consent_id", &["consent_id", "glob"]),
];

/// The audit triggers of schema version 2 (replacing those of version 1), from [`AUDITED`].
fn audit_triggers() -> String {
    let mut sql = String::new();
    for (table, label, id, columns) in AUDITED {
        let row = |r: &str| {
            let pairs: Vec<String> = columns.iter().map(|c| format!("'{c}', {r}.{c}")).collect();
            format!("json_object({})", pairs.join(", "))
        };
        for (event, fallback, after) in [("UPDATE", "update", row("NEW")), ("DELETE", "delete", "NULL".to_string())] {
            let name = format!("{table}_audit_{fallback}");
            sql.push_str(&format!(
                "DROP TRIGGER IF EXISTS {name};\n\
                 CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN\n\
                 INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (\
                 strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), coalesce((SELECT actor FROM audit_session), 'sql'), \
                 coalesce((SELECT action FROM audit_session), '{fallback}'), '{label} ' || OLD.{id}, \
                 json_object('before', {before}, 'after', {after}));\nEND;\n",
                before = row("OLD"),
            ));
        }
    }
    sql
}

/// The oldest schema version this consentry reads without upgrading: migrations after it change
/// only triggers and add tables that loading does not read.
pub const READABLE_FROM: i64 = 1;

// ---------------------------------------------------------------------------------------------
// Connections and migrations

/// How long a register another process is writing is waited for. Debug builds read
/// `CONSENTRY_TEST_BUSY_TIMEOUT_MS` instead (a test hook: tests of a locked register need not
/// wait ten seconds).
fn busy_timeout() -> std::time::Duration {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("CONSENTRY_TEST_BUSY_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()) {
        return std::time::Duration::from_millis(ms);
    }
    std::time::Duration::from_secs(10)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(busy_timeout())
}

/// Say what a register database that cannot be read or written means for the user, when SQLite
/// found it locked or damaged: a locked register (another writer, beyond the busy timeout) and a
/// file that is not an SQLite database or is corrupt get distinct messages that say what to do.
pub(crate) fn explain(e: Error) -> Error {
    let code = e.sqlite().and_then(rusqlite::Error::sqlite_error_code);
    match code {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => e.context(
            "the register is locked: another consentry or another program is writing it; \
             wait until it is done and try again",
        ),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => e.context(
            "not an SQLite register, or a damaged one: restore it from a backup \
             (`consentry register check` tells whether a copy can be read)",
        ),
        _ => e,
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_one(None, "user_version")
}

/// Open (creating it, readable by the owner only, if missing) a register database for writing
/// and bring its schema to the current version.
pub fn open(path: &Path) -> Result<Connection> {
    if !path.exists() {
        match crate::own::create_private(path) {
            // Created meanwhile by another process: opened as it is, never truncated.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            r => drop(r.with_context(|| format!("{}: cannot create", path.display()))?),
        }
    }
    let mut conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_context(|| format!("{}: cannot open", path.display()))?;
    configure(&conn)?;
    migrate(&mut conn).with_context(|| path.display().to_string())?;
    Ok(conn)
}

/// Bring an empty or older database to [`SCHEMA_VERSION`] in one transaction. Refuses a database
/// of a newer consentry, and a non-empty database that is not a consentry register.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    migrate_in(&tx)?;
    tx.commit()?;
    Ok(())
}

/// [`migrate`] within a transaction the caller commits (or rolls back, with whatever else it
/// changed).
fn migrate_in(tx: &Transaction) -> Result<()> {
    let version = user_version(tx)?;
    if version > SCHEMA_VERSION {
        bail!(
            "the register's schema version {version} is newer than this consentry knows ({SCHEMA_VERSION}); \
             use a newer consentry"
        );
    }
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))?;
        if tables > 0 {
            bail!("not a consentry register: the database has tables but no consentry schema version");
        }
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).with_context(|| format!("migration to schema version {}", from + 1))?;
        if from + 1 == 2 {
            tx.execute_batch(&audit_triggers()).context("migration to schema version 2")?;
        }
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    Ok(())
}

/// Open an existing register read-only and check that this consentry can read its schema.
fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        bail!("no such register database");
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .context("cannot open the database")?;
    configure(&conn)?;
    let version = user_version(&conn).map_err(|e| explain(e.into()))?;
    if version == 0 {
        bail!("not a consentry register (schema version 0); create one with `consentry register import`");
    }
    if version > SCHEMA_VERSION {
        bail!(
            "the register's schema version {version} is newer than this consentry knows ({SCHEMA_VERSION}); \
             use a newer consentry"
        );
    }
    if version < READABLE_FROM {
        bail!("the register's schema version {version} is older than {READABLE_FROM}; import into it once to upgrade");
    }
    Ok(conn)
}

/// The directory evidence document paths are relative to.
fn base_dir(db_path: &Path) -> PathBuf {
    db_path.parent().map(Path::to_path_buf).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Load an SQLite register read-only, validating every row; all problems are reported at once.
pub fn load(path: &Path, vocabulary: &Vocabulary, check_documents: bool) -> Result<Loaded, RegisterErrors> {
    let file = path.display().to_string();
    let fatal = |message: String| {
        RegisterErrors(vec![Problem { severity: Severity::Error, file: file.clone(), line: 0, column: 0, message }])
    };
    let conn = open_read_only(path).map_err(|e| fatal(e.to_string()))?;
    let mut reader =
        Reader { file: file.clone(), base: base_dir(path), check_documents, vocabulary, problems: Vec::new() };
    let mut register =
        reader.read(&conn).map_err(|e| fatal(format!("cannot read the register: {}", explain(e.into()))))?;
    if reader.problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(RegisterErrors(reader.problems));
    }
    register.digest = content_digest(&register);
    Ok(Loaded { register, warnings: reader.problems })
}

struct Reader<'a> {
    file: String,
    base: PathBuf,
    /// Whether to look for the evidence documents.
    check_documents: bool,
    vocabulary: &'a Vocabulary,
    problems: Vec<Problem>,
}

struct PersonRow {
    name: String,
    deleted: Option<Date>,
}

impl Reader<'_> {
    fn problem(&mut self, severity: Severity, entity: &str, message: String) {
        let message = format!("{entity}: {message}");
        self.problems.push(Problem { severity, file: self.file.clone(), line: 0, column: 0, message });
    }

    fn error(&mut self, entity: &str, message: String) {
        self.problem(Severity::Error, entity, message);
    }

    /// Parse an optional ISO date column; an unparseable one is an error (and `None`).
    fn date(&mut self, entity: &str, column: &str, value: Option<&str>) -> Option<Date> {
        let value = value?.trim();
        match super::iso_date(value) {
            Some(d) => Some(d),
            None => {
                self.error(entity, format!("invalid {column} date {value:?} (expected YYYY-MM-DD)"));
                None
            }
        }
    }

    fn read(&mut self, conn: &Connection) -> rusqlite::Result<Register> {
        // Persons and aliases.
        let rows: Vec<(i64, Option<String>, String, Option<String>)> = collect(
            conn,
            "SELECT id, CAST(key AS TEXT), CAST(name AS TEXT), CAST(deleted AS TEXT) FROM persons ORDER BY id",
        )?;
        let mut persons: Vec<Person> = Vec::new();
        let mut person_rows: HashMap<i64, PersonRow> = HashMap::new();
        let mut person_index: HashMap<i64, usize> = HashMap::new();
        for (id, key, name, deleted) in rows {
            let entity = format!("person {id}");
            let deleted = self.date(&entity, "deleted", deleted.as_deref());
            let name = normalize_name(&name);
            if name.is_empty() {
                self.error(&entity, "empty name".into());
            }
            person_index.insert(id, persons.len());
            persons.push(Person { id: key, name: name.clone(), aliases: Vec::new() });
            person_rows.insert(id, PersonRow { name, deleted });
        }
        let aliases: Vec<(i64, String)> =
            collect(conn, "SELECT person_id, CAST(alias AS TEXT) FROM aliases ORDER BY rowid")?;
        for (person_id, alias) in aliases {
            match person_index.get(&person_id) {
                Some(&i) => persons[i].aliases.push(normalize_name(&alias)),
                None => self.error(&format!("alias {alias:?}"), format!("unknown person id {person_id}")),
            }
        }

        // Originators (an originator without an id of its own is identified by its name, as in CSV)
        // and documents.
        let rows: Vec<(i64, Option<String>, String)> =
            collect(conn, "SELECT id, CAST(key AS TEXT), CAST(name AS TEXT) FROM originators ORDER BY id")?;
        let originator_names: HashMap<i64, String> = rows.iter().map(|(id, _, name)| (*id, name.clone())).collect();
        let originators: Vec<Originator> = rows
            .into_iter()
            .map(|(_, key, name)| Originator { id: key.unwrap_or_else(|| name.clone()), name })
            .collect();
        let rows: Vec<(i64, String, Option<i64>)> =
            collect(conn, "SELECT id, CAST(path AS TEXT), originator_id FROM documents")?;
        let documents: HashMap<i64, (String, Option<i64>)> = rows.into_iter().map(|(id, p, o)| (id, (p, o))).collect();
        // Every evidence document looked for once (consents of a group share theirs), together.
        let paths: Vec<&str> = documents.values().map(|(p, _)| p.as_str()).filter(|p| !p.is_empty()).collect();
        let found = if self.check_documents {
            // Those consentry hashed when it recorded them may lie outside the register's folder.
            let hashed: HashSet<String> =
                collect::<(String,)>(conn, "SELECT CAST(path AS TEXT) FROM documents WHERE sha256 IS NOT NULL")?
                    .into_iter()
                    .map(|(p,)| p)
                    .collect();
            document_problems(&self.base, &paths, |p| hashed.contains(p))
        } else {
            Default::default()
        };

        // Usage and scope rows.
        let mut usages: HashMap<String, Vec<String>> = HashMap::new();
        let rows: Vec<(String, String)> =
            collect(conn, "SELECT CAST(consent_id AS TEXT), CAST(usage AS TEXT) FROM consent_usage ORDER BY rowid")?;
        for (consent, usage) in rows {
            usages.entry(consent).or_default().push(usage);
        }
        let mut scopes: HashMap<String, Vec<String>> = HashMap::new();
        let rows: Vec<(String, String)> =
            collect(conn, "SELECT CAST(consent_id AS TEXT), CAST(glob AS TEXT) FROM consent_scope ORDER BY rowid")?;
        for (consent, glob) in rows {
            scopes.entry(consent).or_default().push(glob);
        }

        // Consents.
        type ConsentRow = (String, i64, Option<i64>, Option<String>, Option<String>, Option<String>);
        let rows: Vec<(ConsentRow, Option<String>, Option<String>)> = {
            let mut stmt = conn.prepare(
                "SELECT CAST(id AS TEXT), person_id, document_id, CAST(granted AS TEXT), CAST(expires AS TEXT), \
                 CAST(revoked AS TEXT), CAST(comment AS TEXT), CAST(copyright AS TEXT) FROM consents ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?), r.get(6)?, r.get(7)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut consents = Vec::new();
        let mut usage_sets = UsageSets::default();
        for ((id, person_id, document_id, granted, expires, revoked), comment, copyright) in rows {
            let entity = format!("consent {id}");
            let person = match person_rows.get(&person_id) {
                Some(p) => Some((p.name.clone(), p.deleted)),
                None => {
                    self.error(&entity, format!("unknown person id {person_id}"));
                    None
                }
            };
            let granted_date = match granted {
                Some(g) => self.date(&entity, "granted", Some(&g)),
                None => {
                    self.error(&entity, "no granted date".into());
                    None
                }
            };
            let expires = self.date(&entity, "expires", expires.as_deref());
            let revoked = self.date(&entity, "revoked", revoked.as_deref());
            if let (Some(g), Some(e)) = (granted_date, expires) {
                if e < g {
                    self.error(&entity, format!("expires {e} before it was granted ({g})"));
                }
            }
            if let (Some(g), Some(r)) = (granted_date, revoked) {
                if r < g {
                    self.error(&entity, format!("revoked {r} before it was granted ({g})"));
                }
            }
            let words = usages.remove(&id).unwrap_or_default();
            if words.is_empty() {
                self.error(&entity, "no usage: a consent must name what it allows (print, web, ...)".into());
            }
            let mut indices = Vec::with_capacity(words.len());
            for word in words {
                match self.vocabulary.index_of(&word) {
                    Some(i) => indices.push(i),
                    None => {
                        let known = self.vocabulary.accepted_words();
                        self.error(&entity, format!("unknown usage word {word:?} (known: {known})"));
                    }
                }
            }
            let scope = match Scope::parse(&scopes.remove(&id).unwrap_or_default().join("|")) {
                Ok(s) => s,
                Err(e) => {
                    self.error(&entity, e);
                    Scope::All
                }
            };
            let (mut document, mut originator) = (None, None);
            if let Some(doc_id) = document_id {
                match documents.get(&doc_id) {
                    None => self.error(&entity, format!("unknown document id {doc_id}")),
                    Some((path, originator_id)) => {
                        if !path.is_empty() {
                            document = Some(path.clone());
                        }
                        if let Some(o) = originator_id {
                            match originator_names.get(o) {
                                Some(name) => originator = Some(name.clone()),
                                None => self.error(&entity, format!("unknown originator id {o}")),
                            }
                        }
                    }
                }
            }
            let evidence = match &document {
                None => {
                    self.problem(Severity::Warning, &entity, "no evidence document".into());
                    Evidence::Missing
                }
                Some(path) if self.check_documents => match found.get(path.as_str()).cloned().flatten() {
                    Some(message) => {
                        self.problem(Severity::Warning, &entity, message);
                        Evidence::Missing
                    }
                    None => Evidence::Present,
                },
                Some(_) => Evidence::Unchecked,
            };
            let usage = self.vocabulary.usage_set(&mut indices, &mut usage_sets);
            let (Some((person, deleted)), Some(granted)) = (person, granted_date) else { continue };
            // A deleted person's consents are history: they count until the deletion day at most.
            let revoked = match (revoked, deleted) {
                (Some(r), Some(d)) => Some(r.min(d)),
                (r, d) => r.or(d),
            };
            consents.push(Consent {
                origin: Origin { file: Arc::from(format!("{}: {entity}", self.file)), line: 0 },
                evidence,
                id,
                person,
                usage,
                granted,
                expires,
                revoked,
                document,
                originator,
                scope,
                comment,
                copyright,
            });
        }

        // Exemptions.
        type ExemptionRow = (i64, String, Option<i64>, String, Option<String>);
        let rows: Vec<ExemptionRow> = collect(
            conn,
            "SELECT id, CAST(scope AS TEXT), person_id, CAST(reason AS TEXT), CAST(note AS TEXT) FROM exemptions \
             ORDER BY id",
        )?;
        let mut exemptions = Vec::new();
        for (id, scope, person_id, reason, note) in rows {
            let entity = format!("exemption {id}");
            let errors = self.problems.len();
            let scope = Scope::parse(&scope).map_err(|e| self.error(&entity, e)).unwrap_or(Scope::All);
            let person = person_id.and_then(|p| match person_rows.get(&p) {
                Some(row) => Some(row.name.clone()),
                None => {
                    self.error(&entity, format!("unknown person id {p}"));
                    None
                }
            });
            let parsed = ExemptReason::parse(&reason);
            if parsed.is_none() {
                let known = ["not-recognisable", "prominent", "public-event", "other"].join(", ");
                self.error(&entity, format!("unknown exemption reason {reason:?} (known: {known})"));
            }
            if let (Some(reason), true) = (parsed, self.problems.len() == errors) {
                let origin = Origin { file: Arc::from(format!("{}: {entity}", self.file)), line: 0 };
                exemptions.push(Exemption { scope, person, reason, note, origin });
            }
        }

        Ok(Register::new(consents, persons, exemptions, originators, self.vocabulary.clone(), String::new()))
    }
}

/// Run a query and collect its rows as tuples.
fn collect<T>(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<T>>
where
    T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |row| T::try_from(row))?;
    rows.collect()
}

// ---------------------------------------------------------------------------------------------
// Import

/// Rows created by one import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportStats {
    pub persons: usize,
    pub aliases: usize,
    pub originators: usize,
    pub documents: usize,
    pub consents: usize,
    pub exemptions: usize,
}

/// What one import did: the rows it created, and a warning for every evidence document it
/// could not record with its SHA-256 (missing, or leaving the register's folder).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    pub stats: ImportStats,
    pub warnings: Vec<String>,
}

/// Write a loaded register into a new or existing database, all or nothing, and log it in the
/// audit log. Persons and originators already in the database (by name or alias, any case) are
/// reused; a consent id already in the database is an error. Evidence document paths are
/// relative to `documents`, the folder of the register that names them ([`super::documents_base`]);
/// they are recorded relative to the database's directory, with the SHA-256 of the PDF. A
/// document that is not a PDF is an error ([`super::open_pdf`], as for `consent add`); one that
/// is missing or leaves the register's folder (absolute, or `..`) is recorded without a hash
/// and never read, with a warning.
pub fn import(register: &Register, documents: &Path, db_path: &Path, actor: &str) -> Result<Imported> {
    let existed = db_path.exists();
    let result = import_into(register, documents, db_path, actor).map_err(explain);
    if result.is_err() && !existed {
        let _ = fs::remove_file(db_path); // nothing was written: leave no empty database behind
    }
    result
}

fn import_into(register: &Register, documents: &Path, db_path: &Path, actor: &str) -> Result<Imported> {
    let cwd = std::env::current_dir().context("the current directory")?;
    // Real paths: a document's path is recorded relative to the database's real folder, where
    // `register check` resolves it (a folder reached through a link would record another one).
    let real = |p: PathBuf| fs::canonicalize(&p).unwrap_or(p);
    let from = real(crate::paths::absolute_in(&cwd, documents));
    let to = real(crate::paths::absolute_in(&cwd, &base_dir(db_path)));
    let mut conn = open(db_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut importer = Importer::new(&tx, from, to)?;
    for p in &register.persons {
        importer.person(p).with_context(|| format!("person {:?}", p.name))?;
    }
    for o in &register.originators {
        importer.originator(o).with_context(|| format!("originator {:?}", o.name))?;
    }
    for c in &register.consents {
        importer.consent(c).with_context(|| format!("consent {}", c.id))?;
    }
    for e in &register.exemptions {
        importer.exemption(e).with_context(|| format!("exemption ({})", e.origin))?;
    }
    let (stats, warnings) = (importer.stats, importer.warnings);
    let detail = serde_json::json!({ "before": null, "after": { "imported": stats, "digest": register.digest } });
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, entity, detail) VALUES (?1, ?2, 'import', 'register', ?3)",
        params![chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(), actor, detail.to_string()],
    )?;
    tx.commit()?;
    Ok(Imported { stats, warnings })
}

struct Importer<'a> {
    tx: &'a Transaction<'a>,
    /// The folder of the register imported (absolute): its document paths are relative to it.
    from: PathBuf,
    /// The database's directory (absolute): recorded document paths are relative to it.
    to: PathBuf,
    warnings: Vec<String>,
    /// Name key of every person name and alias -> (row id, deleted).
    persons: HashMap<String, (i64, bool)>,
    /// Name key of originator names and keys -> row id.
    originators: HashMap<String, i64>,
    documents: HashMap<(String, Option<i64>), i64>,
    stats: ImportStats,
}

impl<'a> Importer<'a> {
    fn new(tx: &'a Transaction<'a>, from: PathBuf, to: PathBuf) -> Result<Self> {
        let mut persons = HashMap::new();
        for (id, name, deleted) in
            collect::<(i64, String, bool)>(tx, "SELECT id, name, deleted IS NOT NULL FROM persons")?
        {
            persons.insert(name_key(&name), (id, deleted));
        }
        let sql =
            "SELECT a.person_id, a.alias, p.deleted IS NOT NULL FROM aliases a JOIN persons p ON p.id = a.person_id";
        for (id, alias, deleted) in collect::<(i64, String, bool)>(tx, sql)? {
            persons.insert(name_key(&alias), (id, deleted));
        }
        let mut originators = HashMap::new();
        for (id, key, name) in collect::<(i64, Option<String>, String)>(tx, "SELECT id, key, name FROM originators")? {
            originators.insert(name_key(&name), id);
            if let Some(key) = key {
                originators.entry(name_key(&key)).or_insert(id);
            }
        }
        let mut documents = HashMap::new();
        for (id, path, originator) in
            collect::<(i64, String, Option<i64>)>(tx, "SELECT id, path, originator_id FROM documents")?
        {
            documents.insert((path, originator), id);
        }
        let stats = ImportStats::default();
        Ok(Importer { tx, from, to, warnings: Vec::new(), persons, originators, documents, stats })
    }

    /// The row of a person known by name or alias; a new one otherwise.
    fn person_id(&mut self, name: &str) -> Result<i64> {
        match self.persons.get(&name_key(name)) {
            Some(&(_, true)) => bail!("person {name:?} is deleted in the register; restore them first"),
            Some(&(id, false)) => Ok(id),
            None => self.person(&Person { id: None, name: name.to_string(), aliases: Vec::new() }),
        }
    }

    fn person(&mut self, p: &Person) -> Result<i64> {
        let names: Vec<&String> = std::iter::once(&p.name).chain(&p.aliases).collect();
        let known: BTreeSet<(i64, bool)> =
            names.iter().filter_map(|n| self.persons.get(&name_key(n)).copied()).collect();
        let id = match known.iter().next() {
            _ if known.len() > 1 => bail!("its name and aliases belong to different persons in the database"),
            Some(&(_, true)) => bail!("the person is deleted in the register; restore them first"),
            Some(&(id, false)) => id,
            None => {
                self.tx.execute("INSERT INTO persons (key, name) VALUES (?1, ?2)", params![p.id, p.name])?;
                self.stats.persons += 1;
                let id = self.tx.last_insert_rowid();
                self.persons.insert(name_key(&p.name), (id, false));
                id
            }
        };
        for alias in &p.aliases {
            if self.persons.contains_key(&name_key(alias)) {
                continue;
            }
            self.tx.execute("INSERT INTO aliases (person_id, alias) VALUES (?1, ?2)", params![id, alias])?;
            self.stats.aliases += 1;
            self.persons.insert(name_key(alias), (id, false));
        }
        Ok(id)
    }

    fn originator(&mut self, o: &Originator) -> Result<i64> {
        if let Some(&id) = self.originators.get(&name_key(&o.name)) {
            return Ok(id);
        }
        self.tx.execute("INSERT INTO originators (key, name) VALUES (?1, ?2)", params![o.id, o.name])?;
        self.stats.originators += 1;
        let id = self.tx.last_insert_rowid();
        self.originators.insert(name_key(&o.name), id);
        self.originators.entry(name_key(&o.id)).or_insert(id);
        Ok(id)
    }

    /// The row of an originator named by a consent (by name, else by id); a new one otherwise.
    fn originator_id(&mut self, name: &str) -> Result<i64> {
        if let Some(&id) = self.originators.get(&name_key(name)) {
            return Ok(id);
        }
        self.tx.execute("INSERT INTO originators (name) VALUES (?1)", params![name])?;
        self.stats.originators += 1;
        let id = self.tx.last_insert_rowid();
        self.originators.insert(name_key(name), id);
        Ok(id)
    }

    fn document_id(&mut self, path: Option<&str>, originator: Option<i64>) -> Result<Option<i64>> {
        if path.is_none() && originator.is_none() {
            return Ok(None);
        }
        let doc = path.unwrap_or("");
        let path = if doc.is_empty() { String::new() } else { self.recorded_path(doc) };
        if let Some(&id) = self.documents.get(&(path.clone(), originator)) {
            return Ok(Some(id));
        }
        let sha256 = if doc.is_empty() { None } else { self.sha256(doc)? };
        self.tx.execute(
            "INSERT INTO documents (path, sha256, originator_id) VALUES (?1, ?2, ?3)",
            params![path, sha256, originator],
        )?;
        self.stats.documents += 1;
        let id = self.tx.last_insert_rowid();
        self.documents.insert((path, originator), id);
        Ok(Some(id))
    }

    /// The path to record for the evidence document `doc` of the imported register: relative to
    /// the database's directory (an absolute one as it is).
    fn recorded_path(&self, doc: &str) -> String {
        if Path::new(doc).is_absolute() || self.from == self.to {
            return doc.to_string();
        }
        let target = crate::paths::absolute_in(&self.from, Path::new(doc));
        edit::relative_to(&self.to, &target).to_string_lossy().into_owned()
    }

    /// The SHA-256 of the evidence document `doc` of the imported register: `None`, with a
    /// warning, for one that is missing or leaves the register's folder (never read); an error
    /// for one that is not a PDF or cannot be read.
    fn sha256(&mut self, doc: &str) -> Result<Option<String>> {
        match super::evidence_path(&self.from, doc).and_then(|file| super::pdf_sha256(&file, doc)) {
            Ok(sha256) => Ok(Some(sha256)),
            Err(e @ (EvidenceError::Outside { .. } | EvidenceError::NotFound { .. })) => {
                self.warnings.push(format!("{e}; recorded without its SHA-256"));
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn consent(&mut self, c: &Consent) -> Result<()> {
        let exists: Option<i64> =
            self.tx.query_row("SELECT 1 FROM consents WHERE id = ?1", [&c.id], |r| r.get(0)).optional()?;
        if exists.is_some() {
            bail!("the database already has a consent with this id");
        }
        let person = self.person_id(&c.person)?;
        let originator = c.originator.as_deref().map(|o| self.originator_id(o)).transpose()?;
        let document = self.document_id(c.document.as_deref(), originator)?;
        self.tx.execute(
            "INSERT INTO consents (id, person_id, document_id, granted, expires, revoked, comment, copyright) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                c.id,
                person,
                document,
                c.granted.to_string(),
                c.expires.map(|d| d.to_string()),
                c.revoked.map(|d| d.to_string()),
                c.comment,
                c.copyright
            ],
        )?;
        for usage in c.usage.iter() {
            self.tx.execute("INSERT INTO consent_usage (consent_id, usage) VALUES (?1, ?2)", params![c.id, usage])?;
        }
        if let Scope::Globs(globs) = &c.scope {
            for g in globs.iter() {
                self.tx.execute(
                    "INSERT OR IGNORE INTO consent_scope (consent_id, glob) VALUES (?1, ?2)",
                    params![c.id, g.pattern],
                )?;
            }
        }
        self.stats.consents += 1;
        Ok(())
    }

    fn exemption(&mut self, e: &Exemption) -> Result<()> {
        let person = e.person.as_deref().map(|p| self.person_id(p)).transpose()?;
        self.tx.execute(
            "INSERT INTO exemptions (scope, person_id, reason, note) VALUES (?1, ?2, ?3, ?4)",
            params![e.scope.patterns().join("|"), person, e.reason.as_str(), e.note],
        )?;
        self.stats.exemptions += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScopeGlob;
    use crate::register::digest::hex;
    use crate::register::export::{export_csv, export_dir};
    use sha2::{Digest, Sha256};

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn consent(id: &str, person: &str, usage: &[&str], granted: &str) -> Consent {
        Consent {
            id: id.into(),
            person: person.into(),
            usage: Arc::new(usage.iter().map(|u| u.to_string()).collect()),
            granted: d(granted),
            expires: None,
            revoked: None,
            document: None,
            originator: None,
            scope: Scope::All,
            comment: None,
            copyright: None,
            origin: Origin::default(),
            evidence: Evidence::Unchecked,
        }
    }

    /// A register exercising every field: group consent sharing a document, globs, expiry,
    /// revocation, aliases, exemptions for a person and for everyone.
    fn sample() -> Register {
        let mut c1 = consent("G1.1", "Anna Schmidt", &["print", "web"], "2024-01-10");
        c1.document = Some("docs/group.pdf".into());
        c1.originator = Some("Press Office".into());
        c1.expires = Some(d("2026-01-10"));
        c1.comment = Some("summer party, \"all\" photos".into());
        c1.copyright = Some("© Example".into());
        let mut c2 = c1.clone();
        c2.id = "G1.2".into();
        c2.person = "Jörg Müller".into();
        let mut c3 = consent("7", "Anna Schmidt", &["social"], "2023-05-01");
        c3.scope =
            Scope::Globs(vec![ScopeGlob::new("events/2023/**").unwrap(), ScopeGlob::new("x/a?.jpg").unwrap()].into());
        c3.revoked = Some(d("2024-02-01"));
        c3.document = Some("docs/missing.pdf".into());
        let c4 = consent("8", "Ben Ode", &["archive"], "2022-02-02");
        let persons = vec![
            Person {
                id: Some("P1".into()),
                name: "Anna Schmidt".into(),
                aliases: vec!["Anni".into(), "A. Schmidt".into()],
            },
            Person { id: None, name: "Jörg Müller".into(), aliases: vec![] },
            Person { id: None, name: "Ben Ode".into(), aliases: vec![] },
        ];
        let exemptions = vec![
            Exemption {
                scope: Scope::parse("events/public/**").unwrap(),
                person: None,
                reason: ExemptReason::PublicEvent,
                note: Some("open day".into()),
                origin: Origin::default(),
            },
            Exemption {
                scope: Scope::All,
                person: Some("Jörg Müller".into()),
                reason: ExemptReason::Prominent,
                note: None,
                origin: Origin::default(),
            },
        ];
        let originators = vec![Originator { id: "U1".into(), name: "Press Office".into() }];
        Register::new(vec![c1, c2, c3, c4], persons, exemptions, originators, Vocabulary::default(), String::new())
    }

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("docs")).unwrap();
        fs::write(dir.path().join("docs/group.pdf"), b"%PDF-1.4 signed").unwrap();
        let db = dir.path().join("register.sqlite");
        (dir, db)
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    /// Without what depends on where a consent was read (origin, whether its document was
    /// looked for).
    fn strip(consents: &[Consent]) -> Vec<Consent> {
        consents
            .iter()
            .map(|c| Consent { origin: Origin::default(), evidence: Evidence::Unchecked, ..c.clone() })
            .collect()
    }

    fn strip_ex(exemptions: &[Exemption]) -> Vec<Exemption> {
        exemptions.iter().map(|e| Exemption { origin: Origin::default(), ..e.clone() }).collect()
    }

    fn errors(result: Result<Loaded, RegisterErrors>) -> Vec<Problem> {
        match result {
            Ok(_) => panic!("expected errors"),
            Err(RegisterErrors(p)) => p,
        }
    }

    #[test]
    fn migrate_creates_schema() {
        let (_dir, db) = setup();
        let conn = open(&db).unwrap();
        let tables: Vec<(String,)> = collect(&conn, "SELECT name FROM sqlite_schema WHERE type = 'table'").unwrap();
        let tables: BTreeSet<String> = tables.into_iter().map(|t| t.0).collect();
        for t in [
            "persons",
            "aliases",
            "originators",
            "documents",
            "consents",
            "consent_usage",
            "consent_scope",
            "exemptions",
            "audit_log",
        ] {
            assert!(tables.contains(t), "missing table {t}");
        }
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let fk: i64 = conn.pragma_query_one(None, "foreign_keys").unwrap();
        assert_eq!(fk, 1);
        drop(conn);
        // Idempotent; an empty but valid register loads.
        let mut conn = open(&db).unwrap();
        migrate(&mut conn).unwrap();
        let loaded = load(&db, &Vocabulary::default(), true).unwrap();
        assert!(loaded.register.consents.is_empty() && loaded.warnings.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    /// An empty version 1 register, as consentry 0.1 wrote it.
    fn version_1(db: &Path) {
        let mut conn = Connection::open(db).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn version_1_is_read_and_upgraded_by_the_next_change() {
        let (_dir, db) = setup();
        version_1(&db);
        import_into(&sample(), &base_dir(&db), &db, "t").unwrap();
        let conn = Connection::open(&db).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let n = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(n("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), 2 + 2 * AUDITED.len() as i64);
        // Other tools are logged as `sql`; consentry's own changes with the session's actor and action.
        conn.execute("UPDATE originators SET name = 'Presse' WHERE key = 'U1'", []).unwrap();
        conn.execute_batch(
            "BEGIN; INSERT INTO audit_session VALUES ('anna', 'consent revoke');
             UPDATE consents SET revoked = '2025-01-01' WHERE id = '8'; DELETE FROM audit_session; COMMIT;",
        )
        .unwrap();
        let rows: Vec<(String, String, String, String)> =
            collect(&conn, "SELECT actor, action, entity, detail FROM audit_log WHERE action <> 'import' ORDER BY id")
                .unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!((rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()), ("sql", "update", "originator 1"));
        assert_eq!(
            (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.as_str()),
            ("anna", "consent revoke", "consent 8")
        );
        let v: serde_json::Value = serde_json::from_str(&rows[1].3).unwrap();
        assert_eq!(
            (v["before"]["revoked"].clone(), v["after"]["revoked"].clone()),
            (serde_json::Value::Null, "2025-01-01".into())
        );
        // A version 1 register loads without being upgraded.
        let (_dir, old) = setup();
        version_1(&old);
        assert!(load(&old, &Vocabulary::default(), true).is_ok());
        assert_eq!(user_version(&Connection::open(&old).unwrap()).unwrap(), 1);
    }

    #[test]
    fn future_schema_version_is_refused() {
        let (_dir, db) = setup();
        open(&db).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        let problems = errors(load(&db, &Vocabulary::default(), true));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("newer"), "{}", problems[0].message);
        let err = open(&db).unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
        let err = import(&sample(), &base_dir(&db), &db, "test").unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }

    #[test]
    fn foreign_database_and_missing_file_are_refused() {
        let (dir, db) = setup();
        let p = errors(load(&db, &Vocabulary::default(), true));
        assert!(p[0].message.contains("no such"), "{}", p[0].message);
        assert!(!db.exists(), "loading must never create the database");
        let other = dir.path().join("other.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(format!("{:#}", open(&other).unwrap_err()).contains("not a consentry register"));
        assert!(errors(load(&other, &Vocabulary::default(), true))[0].message.contains("not a consentry register"));
    }

    #[test]
    fn import_then_load_round_trips() {
        let (_dir, db) = setup();
        let reg = sample();
        let stats = import(&reg, &base_dir(&db), &db, "tester").unwrap().stats;
        assert_eq!(
            stats,
            ImportStats { persons: 3, aliases: 2, originators: 1, documents: 2, consents: 4, exemptions: 2 }
        );
        let loaded = load(&db, &Vocabulary::default(), true).unwrap();
        let got = &loaded.register;
        assert_eq!(strip(&got.consents), strip(&reg.consents));
        assert_eq!(got.persons, reg.persons);
        assert_eq!(strip_ex(&got.exemptions), strip_ex(&reg.exemptions));
        assert_eq!(got.originators, reg.originators);
        assert_eq!(got.consents[2].origin.to_string(), format!("{}: consent 7", db.display()));
        // A missing evidence document is a warning, not an error.
        let warnings: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("consent 7: evidence document \"docs/missing.pdf\" not found"));
        assert_eq!(warnings[1], "consent 8: no evidence document");
        assert!(loaded.warnings.iter().all(|w| w.severity == Severity::Warning && w.line == 0));
        // Aliases resolve; the group document's hash is recorded.
        assert_eq!(got.identity("anni"), got.identity("Anna Schmidt"));
        let conn = open(&db).unwrap();
        let sha: Option<String> =
            conn.query_row("SELECT sha256 FROM documents WHERE path = 'docs/group.pdf'", [], |r| r.get(0)).unwrap();
        assert_eq!(sha.unwrap(), hex(&Sha256::digest(b"%PDF-1.4 signed")));
        let (actor, detail): (String, String) = conn
            .query_row("SELECT actor, detail FROM audit_log WHERE action = 'import'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(actor, "tester");
        assert!(detail.contains("\"consents\":4"), "{detail}");
    }

    #[test]
    fn import_reuses_persons_and_originators() {
        let (_dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let mut more = consent("9", "ANNI", &["print"], "2025-01-01");
        more.originator = Some("press office".into());
        let reg = Register::new(vec![more], vec![], vec![], vec![], Vocabulary::default(), String::new());
        let stats = import(&reg, &base_dir(&db), &db, "t").unwrap().stats;
        assert_eq!(stats, ImportStats { documents: 1, consents: 1, ..Default::default() });
        let got = load(&db, &Vocabulary::default(), true).unwrap().register;
        let c = got.consents.iter().find(|c| c.id == "9").unwrap();
        assert_eq!((c.person.as_str(), c.originator.as_deref()), ("Anna Schmidt", Some("Press Office")));
    }

    #[test]
    fn import_is_atomic() {
        let (dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let conn = open(&db).unwrap();
        let before: Vec<i64> = ["persons", "aliases", "consents", "consent_usage", "documents", "audit_log"]
            .iter()
            .map(|t| count(&conn, t))
            .collect();
        // A new person and consent first, then a consent id the database already has.
        let reg = Register::new(
            vec![
                consent("100", "New Person", &["web"], "2025-01-01"),
                consent("G1.1", "Anna Schmidt", &[], "2025-01-01"),
            ],
            vec![],
            vec![],
            vec![],
            Vocabulary::default(),
            String::new(),
        );
        let err = import(&reg, &base_dir(&db), &db, "t").unwrap_err();
        assert!(format!("{err:#}").contains("consent G1.1"), "{err:#}");
        let after: Vec<i64> = ["persons", "aliases", "consents", "consent_usage", "documents", "audit_log"]
            .iter()
            .map(|t| count(&conn, t))
            .collect();
        assert_eq!(before, after);
        // The same id twice within one import into a new database: nothing is left behind.
        let fresh = dir.path().join("fresh.sqlite");
        let twice = Register::new(
            vec![consent("1", "A", &[], "2025-01-01"), consent("1", "B", &[], "2025-01-01")],
            vec![],
            vec![],
            vec![],
            Vocabulary::default(),
            String::new(),
        );
        assert!(import(&twice, &base_dir(&fresh), &fresh, "t").is_err());
        assert!(!fresh.exists());
    }

    #[test]
    fn audit_log_is_append_only_and_records_changes() {
        let (_dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let conn = open(&db).unwrap();
        let err = conn.execute("UPDATE audit_log SET actor = 'x'", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = conn.execute("DELETE FROM audit_log", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        conn.execute("UPDATE consents SET revoked = '2025-03-01' WHERE id = '8'", []).unwrap();
        let detail: String = conn
            .query_row("SELECT detail FROM audit_log WHERE entity = 'consent 8' AND action = 'update'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&detail).unwrap();
        assert_eq!(v["before"]["revoked"], serde_json::Value::Null);
        assert_eq!(v["after"]["revoked"], "2025-03-01");
        assert_eq!(count(&conn, "audit_log"), 2);
    }

    #[test]
    fn load_reports_all_problems_at_once() {
        let (_dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let conn = open(&db).unwrap();
        conn.execute_batch(
            "INSERT INTO consent_usage VALUES ('8', 'flying');
             UPDATE consents SET granted = '2024-02-30' WHERE id = 'G1.2';
             UPDATE consents SET revoked = 'soon' WHERE id = '7';
             DELETE FROM consent_usage WHERE consent_id = '7';
             UPDATE consents SET revoked = '2000-01-01' WHERE id = '8';
             PRAGMA foreign_keys = OFF;
             UPDATE exemptions SET person_id = 999 WHERE person_id IS NOT NULL;
             PRAGMA foreign_keys = ON;
             PRAGMA ignore_check_constraints = ON;
             UPDATE consents SET expires = '2020-01-01' WHERE id = 'G1.1';
             UPDATE exemptions SET reason = 'bored' WHERE person_id IS NULL;
             PRAGMA ignore_check_constraints = OFF;",
        )
        .unwrap();
        let problems = errors(load(&db, &Vocabulary::default(), true));
        let messages: Vec<&str> =
            problems.iter().filter(|p| p.severity == Severity::Error).map(|p| p.message.as_str()).collect();
        let expected = [
            "consent G1.1: expires 2020-01-01 before it was granted (2024-01-10)",
            "consent G1.2: invalid granted date \"2024-02-30\" (expected YYYY-MM-DD)",
            "consent 7: invalid revoked date \"soon\" (expected YYYY-MM-DD)",
            "consent 7: no usage: a consent must name what it allows",
            "consent 8: revoked 2000-01-01 before it was granted (2022-02-02)",
            "consent 8: unknown usage word \"flying\" (known: print, web,",
            "exemption 1: unknown exemption reason \"bored\" (known: not-recognisable,",
            "exemption 2: unknown person id 999",
        ];
        assert_eq!(messages.len(), expected.len(), "{messages:#?}");
        for (m, e) in messages.iter().zip(expected) {
            assert!(m.starts_with(e), "{m:?} should start with {e:?}");
        }
        assert!(problems.iter().all(|p| p.line == 0 && p.file == db.display().to_string()));
        // The warning for the missing document comes along for context.
        assert!(problems.iter().any(|p| p.severity == Severity::Warning));
    }

    #[test]
    fn errors_say_everything_once_however_they_are_printed() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let e = explain(Error::from(busy).context("consent 7")).context("r.sqlite");
        let text = "r.sqlite: the register is locked: another consentry or another program is writing it; \
                    wait until it is done and try again: consent 7: database is locked: Error code 5: \
                    database is locked";
        assert_eq!(e.to_string(), text);
        assert_eq!(format!("{e:#}"), text);
        // The command line prints an error's chain: nothing is said twice.
        let top = anyhow::Error::from(e).context("cannot import");
        assert_eq!(format!("{top:#}"), format!("cannot import: {text}"));
        let e: Error = Err::<(), _>(io::Error::other("gone")).context("copying").unwrap_err();
        assert_eq!(e.to_string(), "copying: gone");
    }

    #[test]
    fn dates_are_read_by_the_one_strict_parser() {
        // chrono's "%Y-%m-%d" read "24-03-01" as the year 24, "2024- 3- 1" with inner blanks and
        // "+2024-03-01" with a sign; the register's parser (model::parse_date) refuses them all.
        for bad in ["24-03-01", "2024- 3- 1", "+2024-03-01", "01.03.2024"] {
            let (_dir, db) = setup();
            import(&sample(), &base_dir(&db), &db, "t").unwrap();
            let conn = open(&db).unwrap();
            conn.execute("UPDATE consents SET granted = ?1 WHERE id = '7'", [bad]).unwrap();
            let problems = errors(load(&db, &Vocabulary::default(), false));
            let expected = format!("consent 7: invalid granted date {bad:?} (expected YYYY-MM-DD)");
            assert!(problems.iter().any(|p| p.message == expected), "{bad}: {problems:#?}");
        }
    }

    #[test]
    fn digest_depends_on_content_only() {
        let (dir, db) = setup();
        let reg = sample();
        import(&reg, &base_dir(&db), &db, "t").unwrap();
        let a = load(&db, &Vocabulary::default(), true).unwrap().register.digest;
        assert_eq!(a, load(&db, &Vocabulary::default(), true).unwrap().register.digest);
        assert_eq!(a.len(), 64);
        // The same content inserted in another order.
        let mut rev = reg.clone();
        rev.consents.reverse();
        rev.persons.reverse();
        rev.exemptions.reverse();
        let rev = Register::new(
            rev.consents,
            rev.persons,
            rev.exemptions,
            rev.originators,
            Vocabulary::default(),
            String::new(),
        );
        let other = dir.path().join("other.sqlite");
        import(&rev, &base_dir(&other), &other, "t").unwrap();
        assert_eq!(a, load(&other, &Vocabulary::default(), true).unwrap().register.digest);
        // A change of content changes it.
        open(&db).unwrap().execute("UPDATE consents SET comment = 'changed' WHERE id = '8'", []).unwrap();
        assert_ne!(a, load(&db, &Vocabulary::default(), true).unwrap().register.digest);
    }

    #[test]
    fn deleted_person_keeps_consents_as_history() {
        let (_dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let conn = open(&db).unwrap();
        assert!(conn.execute("DELETE FROM persons WHERE name = 'Anna Schmidt'", []).is_err(), "consents refer to Anna");
        conn.execute("UPDATE persons SET deleted = '2024-06-01' WHERE name = 'Anna Schmidt'", []).unwrap();
        let got = load(&db, &Vocabulary::default(), true).unwrap().register;
        let of_anna: Vec<(&str, Option<Date>)> =
            got.consents.iter().filter(|c| c.person == "Anna Schmidt").map(|c| (c.id.as_str(), c.revoked)).collect();
        // Still there, revoked on the deletion day at the latest; an earlier revocation stays.
        assert_eq!(of_anna, vec![("G1.1", Some(d("2024-06-01"))), ("7", Some(d("2024-02-01")))]);
        assert_eq!(got.identity("Anni"), got.identity("Anna Schmidt"));
        // New consents for a deleted person are refused.
        let reg = Register::new(
            vec![consent("50", "anna schmidt", &[], "2025-01-01")],
            vec![],
            vec![],
            vec![],
            Vocabulary::default(),
            String::new(),
        );
        assert!(format!("{:#}", import(&reg, &base_dir(&db), &db, "t").unwrap_err()).contains("deleted"));
    }

    #[test]
    fn export_writes_spec_csv() {
        let reg = sample();
        let mut out = Vec::new();
        export_csv(&reg, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id,person,usage,granted,expires,document,originator,scope,comment,copyright,revoked");
        assert_eq!(
            lines[1],
            "G1.1,Anna Schmidt,\"print,web\",2024-01-10,2026-01-10,docs/group.pdf,Press Office,*,\
             \"summer party, \"\"all\"\" photos\",© Example,"
        );
        assert_eq!(
            lines[3],
            "7,Anna Schmidt,social,2023-05-01,,docs/missing.pdf,,events/2023/**|x/a?.jpg,,,2024-02-01"
        );
        assert_eq!(lines.len(), 5);

        let dir = tempfile::tempdir().unwrap();
        export_dir(&reg, dir.path()).unwrap();
        let read = |f: &str| fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("consents.csv"), text);
        assert_eq!(read("persons.csv"), "id,name,aliases\nP1,Anna Schmidt,Anni|A. Schmidt\n,Jörg Müller,\n,Ben Ode,\n");
        assert_eq!(
            read("exemptions.csv"),
            "scope,person,reason,note\nevents/public/**,*,public-event,open day\n*,Jörg Müller,prominent,\n"
        );
        assert_eq!(read("originators.csv"), "id,name\nU1,Press Office\n");
    }

    #[test]
    fn export_reloads_with_the_csv_loader() {
        let (dir, db) = setup();
        import(&sample(), &base_dir(&db), &db, "t").unwrap();
        let reg = load(&db, &Vocabulary::default(), true).unwrap().register;

        let file = dir.path().join("export.csv");
        let mut out = Vec::new();
        export_csv(&reg, &mut out).unwrap();
        fs::write(&file, out).unwrap();
        let from_file = crate::register::csv::load_file(&file, &Vocabulary::default(), crate::register::Options::FULL)
            .unwrap()
            .register;
        assert_eq!(strip(&from_file.consents), strip(&reg.consents));

        let sub = dir.path().join("export");
        export_dir(&reg, &sub).unwrap();
        let from_dir = crate::register::csv::load_dir(&sub, &Vocabulary::default(), crate::register::Options::FULL)
            .unwrap()
            .register;
        assert_eq!(strip(&from_dir.consents), strip(&reg.consents));
        assert_eq!(from_dir.persons, reg.persons);
        assert_eq!(strip_ex(&from_dir.exemptions), strip_ex(&reg.exemptions));
        assert_eq!(from_dir.originators, reg.originators);
        assert_eq!(content_digest(&from_dir), reg.digest);
    }
}
