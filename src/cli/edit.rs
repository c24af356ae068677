//! The commands that change an SQLite register: `consent add | assign | revoke | extend`,
//! `exempt` (and `exempt remove | list`), `originator add | rename | delete | list`,
//! `person add | alias | rename | merge | list` and `register init`. The changes themselves are
//! made by `register::sqlite::edit`; this module reads arguments, finds the register, scans the
//! files `consent assign` and `exempt` are given, and prints what was done.
//!
//! Output: one row per thing changed on stdout (table on a terminal, else JSON Lines;
//! `--format`), its `action` saying what was done (`added`, `revoked`, ...) or, with `--dry-run`,
//! what would be (`would add`, ...). A one-line summary on stderr carries counts and ids only,
//! never names. Two lists on stderr come before a change, for the person making it to check:
//! `consent revoke NAME` lists the consents it names (ids, usages, days), and `consent assign`
//! the persons it includes, by name (a dry run on a terminal without `--yes`). A CSV register
//! is refused: consentry does not change CSV files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{collect, options, with_writer, CommonArgs, Exit, OutputArgs, RegisterArgs, StateArgs, WalkArgs};
use consentry::config::{self, Settings, REGISTER_ENV};
use consentry::engine::{resolve_usages, Context, Need};
use consentry::model::{name_key, parse_date, Date, ExemptReason, Scope};
use consentry::output::{self, OutputFormat};
use consentry::register::sqlite::edit::{self, Change};
use consentry::report::listing::{self, Changed, Extended};
use consentry::report::Row;

/// The environment variable naming who makes changes, for the audit log.
pub const ACTOR_ENV: &str = "CONSENTRY_ACTOR";

/// Options of every command that changes the register.
#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub target: ListArgs,
    /// Who makes the change, for the register's audit log [default: $CONSENTRY_ACTOR, else the
    /// login name]
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// Show what would be done, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No summary on stderr (errors are still reported).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Which register, and the output format: the options of the list commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The SQLite register [default: $CONSENTRY_REGISTER, else `register` in consentry.toml]
    #[arg(long, value_name = "PATH")]
    pub register: Option<PathBuf>,
    /// Output format: table, json, jsonl or csv [default: table on a terminal, else jsonl]
    #[arg(long, value_parser = list_format)]
    pub format: Option<OutputFormat>,
}

/// The formats these commands print in (an HTML folder is for reports only): refused while
/// the arguments are read, before any change.
fn list_format(s: &str) -> Result<OutputFormat, String> {
    match clap::ValueEnum::from_str(s, true)? {
        OutputFormat::Html => Err("--format html is for `consentry report KIND --format html -o DIR` only".into()),
        // These commands print to stdout only: a spreadsheet needs -o FILE. Refused while the
        // arguments are read, before the register is changed.
        OutputFormat::Xlsx => {
            Err("--format xlsx writes a file with -o FILE: these commands print table, json, jsonl or csv".into())
        }
        format => Ok(format),
    }
}

/// An expiry date on the command line: a date, or `unlimited` (`unbegrenzt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(pub Option<Date>);

fn parse_expiry(s: &str) -> Result<Expiry, String> {
    match s.trim().to_lowercase().as_str() {
        "unlimited" | "unbegrenzt" | "never" => Ok(Expiry(None)),
        _ => parse_date(s).map(|d| Expiry(Some(d))),
    }
}

fn parse_reason(s: &str) -> Result<ExemptReason, String> {
    ExemptReason::parse(s)
        .ok_or_else(|| format!("unknown reason {s:?} (known: not-recognisable, prominent, public-event, other)"))
}

/// The terms of a consent: what `consent add` and `consent assign` record.
#[derive(Debug, Args)]
pub struct Terms {
    /// Usage areas it allows, separated by commas (print, web, social, intranet, press,
    /// advertising, tv, exhibition, third-party, archive, or their German names).
    #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
    pub usage: Vec<String>,
    /// The day it was granted (YYYY-MM-DD or DD.MM.YYYY).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub granted: Date,
    /// The last day it counts, or `unlimited` [default: unlimited]
    #[arg(long, value_name = "DATE", value_parser = parse_expiry)]
    pub expires: Option<Expiry>,
    /// The scanned, signed consent form (PDF): copied into the evidence folder, its SHA-256
    /// recorded; the same document given again is stored once.
    #[arg(long, value_name = "PDF")]
    pub document: PathBuf,
    /// Who authored the form: an originator of the register (`consentry originator add`).
    #[arg(long, value_name = "NAME")]
    pub originator: Option<String>,
    /// Free text, as the consent states it.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Copyright notice to publish with the files.
    #[arg(long, value_name = "TEXT")]
    pub copyright: Option<String>,
    /// The evidence folder [default: `evidence` in consentry.toml, else `dsgvo` beside the
    /// archive root consentry.toml marks, else `dsgvo` in the register's directory]
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The person who consented; repeat for a group consent (one document, the same terms).
    #[arg(long = "person", value_name = "NAME", required = true)]
    pub persons: Vec<String>,
    /// The files it covers: globs relative to the archive root (`events/2024/**`) [default: `*`,
    /// every file showing the person]
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub scope: Vec<String>,
    #[command(flatten)]
    pub terms: Terms,
    #[command(flatten)]
    pub edit: EditArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("paths", |a| a.required(true).help("The marked files (directories: every photo and video in them)")))]
pub struct AssignArgs {
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Only these persons [default: every person named in the files]
    #[arg(long = "person", value_name = "NAME")]
    pub persons: Vec<String>,
    /// Record without asking: on a terminal, `consent assign` is a dry run without it (who is
    /// included is listed first; check it, then give --yes). Scripts record as they are.
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub terms: Terms,
    #[command(flatten)]
    pub edit: EditArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Consent ids (the id of a group consent, `7`, names all its members `7.1`, `7.2`, ...), or
    /// persons by name or alias (any case): their consents, listed first; a person with more
    /// than one consent not yet revoked needs --all.
    #[arg(value_name = "ID|NAME", required = true)]
    pub ids: Vec<String>,
    /// Revoke every consent of the persons named (without it, a person with more than one
    /// consent is refused, and the consents are listed to choose an id from).
    #[arg(long)]
    pub all: bool,
    /// The day from which it no longer counts [default: today]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub on: Option<Date>,
    #[command(flatten)]
    pub edit: EditArgs,
}

#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// Consent ids; the id of a group consent (`7`) names all its members.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    /// The new last day, or `unlimited`.
    #[arg(long, value_name = "DATE", value_parser = parse_expiry, required = true)]
    pub expires: Option<Expiry>,
    /// A newly signed form for the new period (PDF), replacing the consents' document.
    #[arg(long, value_name = "PDF")]
    pub document: Option<PathBuf>,
    /// The evidence folder (as for `consent add`).
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    #[command(flatten)]
    pub edit: EditArgs,
}

/// `exempt PATH... --person NAME|* --reason REASON`, or `exempt remove | list`. (A file called
/// `remove` or `list` is given as `./remove`.)
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExemptArgs {
    #[command(subcommand)]
    pub command: Option<ExemptCommand>,
    /// Files and directories (a directory: everything in it) whose person needs no consent.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// The person, or `*` for everyone depicted (unnamed faces too).
    #[arg(long, value_name = "NAME|*", required = true)]
    pub person: Option<String>,
    /// not-recognisable, prominent, public-event or other.
    #[arg(long, value_name = "REASON", value_parser = parse_reason, required = true)]
    pub reason: Option<ExemptReason>,
    /// Why, in words.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub edit: EditArgs,
}

#[derive(Debug, Subcommand)]
pub enum ExemptCommand {
    /// Remove exemptions: by id (`--id`), or those of PATH... for --person.
    Remove(ExemptRemoveArgs),
    /// List the exemptions.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ExemptRemoveArgs {
    /// Exemption ids (see `exempt list`).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<i64>,
    /// Files and directories exempted with `exempt PATH...`.
    #[arg(value_name = "PATH", required_unless_present = "ids")]
    pub paths: Vec<PathBuf>,
    /// With PATH: the person, or `*`.
    #[arg(long, value_name = "NAME|*", required_unless_present = "ids")]
    pub person: Option<String>,
    #[command(flatten)]
    pub edit: EditArgs,
}

#[derive(Debug, Subcommand)]
pub enum OriginatorCommand {
    /// Add an originator (Urheber: who authored a consent form).
    Add {
        name: String,
        /// The register's own identifier for it.
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Rename an originator: every consent shows the new name.
    Rename {
        /// Its name or key.
        old: String,
        new: String,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Delete an originator no consent refers to.
    Delete {
        /// Its name or key.
        name: String,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// List the originators with the number of documents and consents of each.
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person to the register.
    Add {
        name: String,
        /// Another name the person is tagged under (repeatable).
        #[arg(long = "alias", value_name = "NAME")]
        aliases: Vec<String>,
        /// The register's own identifier for the person.
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Give a person other names they are tagged under ("Schmidt, Anna" for "Anna Schmidt").
    Alias {
        /// The person's name, alias or key.
        name: String,
        #[arg(value_name = "ALIAS", required = true)]
        aliases: Vec<String>,
        /// Remove these aliases instead.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Rename a person; their consents follow.
    Rename {
        /// The person's name, alias or key.
        old: String,
        new: String,
        /// Keep the old name as an alias (files tagged with it still match).
        #[arg(long)]
        keep_old_name: bool,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Merge two entries of the same person: FROM's consents, exemptions and names go to INTO.
    Merge {
        from: String,
        into: String,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// List the persons with aliases and the number of consents and exemptions.
    List(ListArgs),
}

// ---------------------------------------------------------------------------------------------
// Plumbing

/// Who makes a change: `--actor`, else $CONSENTRY_ACTOR, else the login name ($USER,
/// $LOGNAME, else the user database's name for the uid), else the uid.
fn actor(arg: Option<&str>) -> String {
    let env = |name: &str| std::env::var(name).ok();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    arg.map(str::to_string)
        .into_iter()
        .chain([ACTOR_ENV, "USER", "LOGNAME"].into_iter().filter_map(env))
        .chain(user_name(uid))
        .map(|a| a.trim().to_string())
        .find(|a| !a.is_empty())
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The user database's name for `uid`.
fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwuid_r writes into the zeroed struct and the buffer we give it, and sets
    // `found` to the struct or to null.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}

/// The register a change is made to, with the settings found from `paths`.
struct Target {
    settings: Settings,
    db: PathBuf,
}

impl Target {
    fn find(paths: &[PathBuf], register: Option<&Path>) -> anyhow::Result<Target> {
        let here = [PathBuf::from(".")];
        let paths = if paths.is_empty() { &here[..] } else { paths };
        let env = std::env::var_os(REGISTER_ENV).map(PathBuf::from);
        let settings = config::discover(paths, register, env)?;
        let Some(db) = settings.register.clone() else {
            anyhow::bail!(
                "no register given: --register PATH, {REGISTER_ENV}, or `register` in {}",
                config::CONFIG_FILE
            );
        };
        if !edit::is_sqlite_path(&db) {
            anyhow::bail!(
                "{}: a CSV register is read-only for consentry; turn it into an SQLite register with \
                 `consentry register import {} --into register.sqlite` and use that one",
                db.display(),
                db.display()
            );
        }
        if !db.is_file() {
            anyhow::bail!(
                "{}: no such register; create one with `consentry register init` or `consentry register import`",
                db.display()
            );
        }
        let db = settings.absolute(&db);
        Ok(Target { settings, db })
    }

    /// Make a change as `action` with the options of `e`.
    fn change<T>(
        &self,
        e: &EditArgs,
        action: &str,
        body: impl FnMut(&mut Change) -> Result<T, edit::Error>,
    ) -> anyhow::Result<T> {
        Ok(edit::change(&self.db, &actor(e.actor.as_deref()), action, &self.settings.vocabulary, e.dry_run, body)?)
    }

    /// The evidence folder: `--evidence`, else `evidence` in consentry.toml, else `dsgvo`
    /// beside the archive root consentry.toml marks, else `dsgvo` in the register's directory.
    fn evidence_folder(&self, arg: Option<&Path>) -> PathBuf {
        let s = &self.settings;
        if let Some(dir) = arg {
            return s.absolute(dir);
        }
        if let Some(dir) = &s.evidence {
            return dir.clone();
        }
        if let Some(archive) = &s.archive {
            return archive.root.parent().unwrap_or(&archive.root).join("dsgvo");
        }
        s.absolute(&self.db).parent().map(|d| d.join("dsgvo")).unwrap_or_else(|| PathBuf::from("dsgvo"))
    }
}

/// The output of these commands: stdout in `format`, nothing on stderr but errors.
fn quiet_stdout(format: Option<OutputFormat>) -> OutputArgs {
    OutputArgs { format, output: None, threads: None, quiet: true, share_group: false }
}

/// Print rows in the chosen format.
fn print<R: Row>(format: Option<OutputFormat>, rows: &[R]) -> anyhow::Result<()> {
    with_writer(&quiet_stdout(format), |w, f| output::write_rows(f, super::lang(), rows, w))?;
    Ok(())
}

/// The summary line on stderr (counts and ids only), marked for a dry run.
fn summary(e: &EditArgs, line: String) {
    if !e.quiet {
        let dry = if e.dry_run { " (dry run: nothing was changed)" } else { "" };
        say!("{line}{dry}");
    }
}

/// What was done, or with a dry run what would be.
fn did(e: &EditArgs, done: &'static str, would: &'static str) -> &'static str {
    if e.dry_run {
        would
    } else {
        done
    }
}

/// A file's archive-relative path as a glob matching exactly that file. Refused for names a
/// scope cannot hold exactly (`|` separates globs; surrounding spaces are trimmed).
fn exact_glob(rel: &str) -> anyhow::Result<String> {
    if rel.contains('|') || rel.trim() != rel {
        anyhow::bail!("{rel:?}: a name with `|` or surrounding spaces cannot be a scope; rename the file");
    }
    let mut glob = String::with_capacity(rel.len());
    for c in rel.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            glob.push('\\');
        }
        glob.push(c);
    }
    let scope = Scope::parse(&glob).map_err(|e| anyhow::anyhow!(e))?;
    if !scope.matches(Some(rel)) || scope.patterns() != [glob.as_str()] {
        anyhow::bail!("{rel:?}: cannot be written as a scope that matches exactly this file");
    }
    Ok(glob)
}

/// The refusal to record a scope for `path`, which is in no archive.
fn no_archive(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: in no archive (no {} above it), so a scope has no root to be relative to; nothing was \
         changed: mark the archive first with `consentry init DIR`",
        path.display(),
        config::CONFIG_FILE
    )
}

/// The scope of an existing file or directory of the archive: the file exactly, or everything
/// in the directory (its real path relative to the archive root).
fn path_scope(settings: &Settings, path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let archive = settings.archive.as_ref().ok_or_else(|| no_archive(path))?;
    let real = std::fs::canonicalize(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let Some(rel) = archive.relative(&real) else {
        anyhow::bail!("{}: not under the archive root {}", path.display(), archive.root.display());
    };
    Ok(match (meta.is_dir(), rel.is_empty()) {
        (true, true) => "*".to_string(),
        (true, false) => format!("{}/**", exact_glob(&rel)?),
        (false, _) => exact_glob(&rel)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Consents

/// The consent a command records, from its terms.
fn new_consent(
    t: &Target,
    terms: &Terms,
    persons: Vec<String>,
    scope: Vec<String>,
) -> anyhow::Result<edit::NewConsent> {
    Ok(edit::NewConsent {
        persons,
        // Each once, sorted, as the register lists them.
        usage: resolve_usages(&t.settings.vocabulary, &terms.usage)?
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        granted: terms.granted,
        expires: terms.expires.and_then(|e| e.0),
        document: terms.document.clone(),
        evidence_folder: t.evidence_folder(terms.evidence.as_deref()),
        originator: terms.originator.clone(),
        scope,
        comment: terms.comment.clone(),
        copyright: terms.copyright.clone(),
    })
}

/// How the evidence document was stored, or would be.
fn stored(e: &EditArgs, s: edit::Stored) -> &'static str {
    listing::stored(s, e.dry_run)
}

/// The ids of recorded consents, for the summary.
fn ids(added: &[edit::Added]) -> String {
    added.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(", ")
}

pub(super) fn add(a: AddArgs) -> anyhow::Result<Exit> {
    let t = Target::find(&[], a.edit.target.register.as_deref())?;
    let c = new_consent(&t, &a.terms, a.persons.clone(), a.scope.clone())?;
    let added = t.change(&a.edit, "consent add", |ch| edit::add_consents(ch, &c))?;
    print(a.edit.target.format, &listing::added(did(&a.edit, "added", "would add"), &c, &added, a.edit.dry_run))?;
    let new = added.iter().filter(|x| x.new_person).count();
    summary(
        &a.edit,
        format!(
            "Recorded {} consent(s) ({}), {} new person(s); evidence document {}.",
            added.len(),
            ids(&added),
            new,
            stored(&a.edit, added[0].document.stored)
        ),
    );
    Ok(Exit::Ok)
}

/// Whether `consent assign` asks before it records: run by a person (stdin and stderr are a
/// terminal), without `--yes` and without `--dry-run`. It then makes a dry run.
fn assign_asks(yes: bool, dry_run: bool, terminal: bool) -> bool {
    terminal && !yes && !dry_run
}

/// Who `consent assign` includes, on stderr before anything is recorded: each person with the
/// number of the given files showing them, by any of their names (`same`; names: the user
/// chose these files to see them).
fn say_included(persons: &[String], media: &[&consentry::report::Evaluated], same: &dyn Fn(&str, &str) -> bool) {
    let lang = super::lang();
    say!(
        "consentry: {}",
        lang.tr("edit-assign-included", &[("persons", persons.len().into()), ("files", media.len().into())])
    );
    for p in persons {
        let files = media.iter().filter(|f| f.record.depicted.persons.iter().any(|d| same(d, p))).count();
        say!("  {}", lang.tr("edit-assign-person", &[("name", p.as_str().into()), ("files", files.into())]));
    }
}

/// Print the consents `consent assign` recorded: in a table with counts (files, persons), in the
/// other formats with the lists.
fn print_assigned(format: Option<OutputFormat>, rows: &[listing::AddedConsent]) -> anyhow::Result<()> {
    match super::output_format(&quiet_stdout(format)) {
        OutputFormat::Table => print(format, &rows.iter().map(listing::AddedCounted).collect::<Vec<_>>()),
        _ => print(format, rows),
    }
}

pub(super) fn assign(mut a: AssignArgs) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let asks = assign_asks(a.yes, a.edit.dry_run, std::io::stdin().is_terminal() && std::io::stderr().is_terminal());
    a.edit.dry_run |= asks;
    let t = Target::find(&a.walk.paths, a.edit.target.register.as_deref())?;
    // The terms are checked before the files are read.
    let mut c = new_consent(&t, &a.terms, Vec::new(), Vec::new())?;
    let common = CommonArgs {
        walk: a.walk,
        state: StateArgs { state: None, no_state: true },
        output: quiet_stdout(None),
        register: RegisterArgs { register: Some(t.db.clone()), as_of: None },
    };
    let ctx = Context::untracked(options(&common), Need::Optional, "consent assign")?;
    let (files, _) = collect(&ctx, true)?;
    let unreadable: Vec<String> = files.iter().filter(|f| !f.record.is_complete()).map(|f| f.path()).collect();
    if !unreadable.is_empty() {
        anyhow::bail!(
            "{} file(s) could not be read, so who they show is not known; nothing was changed:\n  {}",
            unreadable.len(),
            unreadable.join("\n  ")
        );
    }
    let media: Vec<_> = files.iter().filter(|f| f.record.is_media()).collect();
    if media.is_empty() {
        anyhow::bail!("no photos or videos among the given paths");
    }
    let mut scope = BTreeSet::new();
    for f in &media {
        let Some(rel) = &f.rel_path else { return Err(no_archive(&f.record.path)) };
        // Every file in the register's own archive (not one reached through a link into another).
        let archive = ctx.archive_of(&f.record);
        let root = archive.as_ref().map(|a| a.root.as_path());
        let own = t.settings.archive.as_ref().map(|a| a.root.as_path());
        if root != own {
            anyhow::bail!(
                "{}: in the archive {}, not in {}: record its consent there; nothing was changed",
                f.path(),
                root.map_or("(none)".into(), |r| r.display().to_string()),
                own.map_or("(none)".into(), |r| r.display().to_string())
            );
        }
        scope.insert(exact_glob(rel)?);
    }
    let depicted: BTreeSet<&str> =
        media.iter().flat_map(|f| f.record.depicted.persons.iter().map(String::as_str)).collect();
    let pending = ctx.required_register()?;
    let register = pending.get()?;
    // One person: the same name in any case, or names of one person of the register.
    let same = |a: &str, b: &str| {
        name_key(a) == name_key(b) || register.identity(a).is_some_and(|i| register.identity(b) == Some(i))
    };
    let persons: Vec<String> = if a.persons.is_empty() {
        depicted.iter().map(|p| p.to_string()).collect()
    } else {
        // Each as the files name them (a person new to the register is added under that name).
        a.persons
            .iter()
            .map(|p| match depicted.iter().find(|d| same(d, p)) {
                Some(d) => Ok(d.to_string()),
                None => Err(anyhow::anyhow!(
                    "{p:?} is not named in any of the given files; nothing was changed (`consent add --scope` \
                     records a consent for any files)"
                )),
            })
            .collect::<anyhow::Result<_>>()?
    };
    if persons.is_empty() {
        anyhow::bail!("nobody is named in the given files, so there is nobody to record a consent for");
    }
    say_included(&persons, &media, &same);
    drop(register);
    c.persons = persons;
    c.scope = scope.into_iter().collect();
    let added = t.change(&a.edit, "consent assign", |ch| edit::add_consents(ch, &c))?;
    print_assigned(
        a.edit.target.format,
        &listing::added(did(&a.edit, "added", "would add"), &c, &added, a.edit.dry_run),
    )?;
    let verb = did(&a.edit, "Created", "Would create");
    summary(&a.edit, format!("{verb} {} consent(s) for {} file(s) ({}).", added.len(), media.len(), ids(&added)));
    if asks {
        say!("consentry: {}", super::lang().text("edit-assign-dry-run"));
    }
    let faces = media.iter().filter(|f| f.record.depicted.unnamed_faces > 0).count();
    if faces > 0 && !a.edit.quiet {
        say!(
            "consentry: {faces} of the files show unnamed faces, which no consent covers: name them, or \
             exempt them (`consentry exempt PATH --person '*' --reason ...`)"
        );
    }
    Ok(Exit::Ok)
}

/// A consent of a person named to `consent revoke`, as listed on stderr: id, usages and days
/// (never the person's name, which the user gave).
fn revocable_line(c: &edit::Revocable) -> String {
    let lang = super::lang();
    let usage = if c.usage.is_empty() { "-".to_string() } else { c.usage.join(", ") };
    let expires = c.expires.map_or_else(|| lang.text("edit-unlimited"), |e| lang.date(e));
    let mut line = lang.tr(
        "edit-revoke-consent",
        &[
            ("id", c.id.as_str().into()),
            ("usage", usage.into()),
            ("granted", lang.date(c.granted).into()),
            ("expires", expires.into()),
        ],
    );
    if let Some(r) = c.revoked {
        line.push_str(&lang.tr("edit-revoke-revoked", &[("revoked", lang.date(r).into())]));
    }
    format!("  {line}")
}

/// The consent ids `consent revoke` is to revoke from `on`: each argument as a consent id (as
/// always), else as a person by name, alias or key: their consents not yet revoked on that day
/// (all of them when every one is, so that the refusal says "already revoked"), listed on
/// stderr; more than one needs `--all`. `Err(exit)` when it must stop, having said why on
/// stderr and changed nothing: a name that names nobody (with close names), or a person with
/// several consents and no `--all`.
fn revocation_ids(t: &Target, a: &RevokeArgs, on: Date) -> anyhow::Result<Result<Vec<String>, Exit>> {
    let lang = super::lang();
    let conn = edit::open_for_listing(&t.db)?;
    let mut ids = Vec::new();
    let mut needs_all = false;
    for arg in &a.ids {
        match edit::named(&conn, arg)? {
            edit::Named::Consent => ids.push(arg.clone()),
            edit::Named::Nothing => {
                let names = edit::person_names(&conn)?;
                let known: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                let close: Vec<String> =
                    consentry::report::suggestions(arg, &known).iter().map(|c| format!("{c:?}")).collect();
                let mut line = lang.tr("edit-revoke-nobody", &[("arg", format!("{arg:?}").into())]);
                if !close.is_empty() {
                    line.push_str(&lang.tr("edit-did-you-mean", &[("names", close.join(", ").into())]));
                }
                say!("consentry: error: {line}");
                say!("consentry: {}", lang.text("edit-revoke-nothing-changed"));
                return Ok(Err(Exit::Usage));
            }
            edit::Named::Person { id, consents, .. } => {
                if consents.is_empty() {
                    anyhow::bail!("{}", lang.tr("edit-revoke-no-consent", &[("arg", format!("{arg:?}").into())]));
                }
                let open: Vec<&edit::Revocable> = consents.iter().filter(|c| c.open_on(on)).collect();
                let chosen: Vec<&edit::Revocable> = if open.is_empty() { consents.iter().collect() } else { open };
                let refused = chosen.len() > 1 && !a.all;
                needs_all |= refused;
                if refused || !a.edit.quiet {
                    let args = [("arg", format!("{arg:?}").into()), ("id", id.into()), ("count", chosen.len().into())];
                    say!("consentry: {}", lang.tr("edit-revoke-person", &args));
                    for c in &chosen {
                        say!("{}", revocable_line(c));
                    }
                }
                ids.extend(chosen.iter().map(|c| c.id.clone()));
            }
        }
    }
    if needs_all {
        say!("consentry: error: {}", lang.text("edit-revoke-needs-all"));
        return Ok(Err(Exit::Usage));
    }
    Ok(Ok(ids))
}

pub(super) fn revoke(a: RevokeArgs) -> anyhow::Result<Exit> {
    let t = Target::find(&[], a.edit.target.register.as_deref())?;
    let on = a.on.unwrap_or_else(|| chrono::Local::now().date_naive());
    let ids = match revocation_ids(&t, &a, on)? {
        Ok(ids) => ids,
        Err(exit) => return Ok(exit),
    };
    let updated = t.change(&a.edit, "consent revoke", |ch| edit::revoke(ch, &ids, on))?;
    print(a.edit.target.format, &listing::updated(did(&a.edit, "revoked", "would revoke"), &updated))?;
    let changed: Vec<&str> = updated.iter().filter(|u| u.changed()).map(|u| u.after.id.as_str()).collect();
    summary(&a.edit, format!("Revoked {} consent(s) from {on} ({}).", changed.len(), changed.join(", ")));
    Ok(Exit::Ok)
}

pub(super) fn extend(a: ExtendArgs) -> anyhow::Result<Exit> {
    let t = Target::find(&[], a.edit.target.register.as_deref())?;
    let expires = a.expires.and_then(|e| e.0);
    let folder = t.evidence_folder(a.evidence.as_deref());
    let document = a.document.as_deref().map(|d| (d, folder.as_path()));
    let (updated, doc) = t.change(&a.edit, "consent extend", |ch| edit::extend(ch, &a.ids, expires, document))?;
    let rows = listing::updated(did(&a.edit, "extended", "would extend"), &updated);
    match &doc {
        Some(document) => {
            let dry_run = a.edit.dry_run;
            let rows: Vec<Extended> = rows.into_iter().map(|updated| Extended { updated, document, dry_run }).collect();
            print(a.edit.target.format, &rows)?
        }
        None => print(a.edit.target.format, &rows)?,
    }
    let changed: Vec<&str> = updated.iter().filter(|u| u.changed()).map(|u| u.after.id.as_str()).collect();
    let until = expires.map_or("unlimited".to_string(), |d| d.to_string());
    summary(&a.edit, format!("{} consent(s) now expire {until} ({}).", changed.len(), changed.join(", ")));
    Ok(Exit::Ok)
}

// ---------------------------------------------------------------------------------------------
// Exemptions

/// `--person NAME|*`: `None` for everyone.
fn who(person: &str) -> Option<&str> {
    (person.trim() != "*").then_some(person)
}

pub(super) fn exempt(a: ExemptArgs) -> anyhow::Result<Exit> {
    match a.command {
        Some(ExemptCommand::Remove(r)) => return exempt_remove(r),
        Some(ExemptCommand::List(l)) => return exempt_list(l),
        None => {}
    }
    let (Some(person), Some(reason)) = (a.person.as_deref(), a.reason) else {
        anyhow::bail!("`exempt` needs --person NAME|* and --reason");
    };
    let t = Target::find(&a.paths, a.edit.target.register.as_deref())?;
    let scopes: Vec<String> = a.paths.iter().map(|p| path_scope(&t.settings, p)).collect::<anyhow::Result<_>>()?;
    let rows = t.change(&a.edit, "exempt", |ch| edit::exempt(ch, &scopes, who(person), reason, a.note.as_deref()))?;
    let new = rows.iter().filter(|(_, new)| *new).count();
    let out: Vec<Changed<_>> = rows
        .iter()
        .map(|(r, new)| Changed::new(if *new { did(&a.edit, "exempted", "would exempt") } else { "already exempt" }, r))
        .collect();
    print(a.edit.target.format, &out)?;
    summary(&a.edit, format!("{new} exemption(s) recorded, {} already there.", rows.len() - new));
    Ok(Exit::Ok)
}

fn exempt_remove(a: ExemptRemoveArgs) -> anyhow::Result<Exit> {
    let t = Target::find(&a.paths, a.edit.target.register.as_deref())?;
    let scopes: Vec<String> = a.paths.iter().map(|p| path_scope(&t.settings, p)).collect::<anyhow::Result<_>>()?;
    let person = a.person.as_deref().map(who);
    let removed = t.change(&a.edit, "exempt remove", |ch| {
        let mut ids = a.ids.clone();
        if let Some(person) = person {
            ids.extend(edit::exemptions_for(ch, &scopes, person)?);
        }
        ids.sort_unstable();
        ids.dedup();
        edit::remove_exemptions(ch, &ids)
    })?;
    let action = did(&a.edit, "removed", "would remove");
    print(a.edit.target.format, &removed.iter().map(|r| Changed::new(action, r)).collect::<Vec<_>>())?;
    let ids: Vec<String> = removed.iter().map(|r| r.id.to_string()).collect();
    summary(&a.edit, format!("Removed {} exemption(s) ({}).", removed.len(), ids.join(", ")));
    Ok(Exit::Ok)
}

fn exempt_list(a: ListArgs) -> anyhow::Result<Exit> {
    let t = Target::find(&[], a.register.as_deref())?;
    let rows = edit::list_exemptions(&edit::open_for_listing(&t.db)?)?;
    print(a.format, &rows)?;
    Ok(Exit::Ok)
}

// ---------------------------------------------------------------------------------------------
// Originators

pub(super) fn originator(cmd: OriginatorCommand) -> anyhow::Result<Exit> {
    // What was done, to which originator, what is said about it, and the summary line.
    let (action, o, detail, e, line) = match cmd {
        OriginatorCommand::List(l) => {
            let t = Target::find(&[], l.register.as_deref())?;
            let all = edit::list_originators(&edit::open_for_listing(&t.db)?)?;
            print(l.format, &all)?;
            return Ok(Exit::Ok);
        }
        OriginatorCommand::Add { name, key, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let o = t.change(&e, "originator add", |ch| edit::add_originator(ch, &name, key.as_deref()))?;
            let line = format!("Originator {} added.", o.id);
            (did(&e, "added", "would add"), o, String::new(), e, line)
        }
        OriginatorCommand::Rename { old, new, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let (before, o) = t.change(&e, "originator rename", |ch| edit::rename_originator(ch, &old, &new))?;
            let line = format!("Originator {} renamed; {} consent(s) show the new name.", o.id, o.consents);
            (did(&e, "renamed", "would rename"), o, format!("was {before:?}"), e, line)
        }
        OriginatorCommand::Delete { name, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let o = t.change(&e, "originator delete", |ch| edit::delete_originator(ch, &name))?;
            let line = format!("Originator {} deleted.", o.id);
            (did(&e, "deleted", "would delete"), o, String::new(), e, line)
        }
    };
    print(e.target.format, &[Changed::with_detail(action, &o, detail)])?;
    summary(&e, line);
    Ok(Exit::Ok)
}

// ---------------------------------------------------------------------------------------------
// Persons

pub(super) fn person(cmd: PersonCommand) -> anyhow::Result<Exit> {
    // What was done, to which person, what is said about it, and the summary line.
    let (action, p, detail, e, line) = match cmd {
        PersonCommand::List(l) => {
            let t = Target::find(&[], l.register.as_deref())?;
            let all = edit::list_persons(&edit::open_for_listing(&t.db)?)?;
            print(l.format, &all)?;
            return Ok(Exit::Ok);
        }
        PersonCommand::Add { name, aliases, key, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let p = t.change(&e, "person add", |ch| edit::add_person(ch, &name, &aliases, key.as_deref()))?;
            let line = format!("Person {} added with {} alias(es).", p.row.id, p.aliases.len());
            (did(&e, "added", "would add"), p, String::new(), e, line)
        }
        PersonCommand::Alias { name, aliases, remove, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let p = t.change(&e, "person alias", |ch| edit::alias(ch, &name, &aliases, remove))?;
            let line = format!("Person {} has {} alias(es).", p.row.id, p.aliases.len());
            let action = if remove {
                did(&e, "aliases removed", "would remove aliases")
            } else {
                did(&e, "aliased", "would alias")
            };
            (action, p, String::new(), e, line)
        }
        PersonCommand::Rename { old, new, keep_old_name, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let (before, p) = t.change(&e, "person rename", |ch| edit::rename_person(ch, &old, &new, keep_old_name))?;
            let line = format!("Person {} renamed; {} consent(s) follow.", p.row.id, p.consents);
            (did(&e, "renamed", "would rename"), p, format!("was {before:?}"), e, line)
        }
        PersonCommand::Merge { from, into, edit: e } => {
            let t = Target::find(&[], e.target.register.as_deref())?;
            let m = t.change(&e, "person merge", |ch| edit::merge_persons(ch, &from, &into))?;
            let line = format!(
                "Person {} merged into person {}: {} consent(s) and {} exemption(s) moved.",
                m.from.row.id, m.into.row.id, m.from.consents, m.from.exemptions
            );
            let detail = format!("merged person {} ({:?})", m.from.row.id, m.from.row.name);
            (did(&e, "merged", "would merge"), m.into, detail, e, line)
        }
    };
    print(e.target.format, &[Changed::with_detail(action, &p, detail)])?;
    summary(&e, line);
    Ok(Exit::Ok)
}

/// `consentry init [DIR] [--register PATH]`: mark DIR as an archive.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The archive's root directory [default: the current directory]
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The archive's register (a CSV file, a directory of CSV files or an SQLite database)
    /// [default: a new empty SQLite register `register.sqlite` beside the consentry.toml]
    #[arg(long, value_name = "PATH")]
    pub register: Option<PathBuf>,
    /// Who creates the register, for its audit log [default: $CONSENTRY_ACTOR, else the login
    /// name]
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
}

/// The register `consentry init` creates beside the consentry.toml.
const INIT_REGISTER: &str = "register.sqlite";

/// `consentry init`: write DIR/consentry.toml naming the register; without `--register`, create
/// an empty SQLite register beside it. An existing consentry.toml is never overwritten.
pub(super) fn init_archive(a: InitArgs) -> anyhow::Result<Exit> {
    let meta = std::fs::metadata(&a.dir).map_err(|e| anyhow::anyhow!("{}: {e}", a.dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{}: not a directory", a.dir.display());
    }
    let root = std::fs::canonicalize(&a.dir).map_err(|e| anyhow::anyhow!("{}: {e}", a.dir.display()))?;
    let file = root.join(config::CONFIG_FILE);
    if std::fs::symlink_metadata(&file).is_ok() {
        anyhow::bail!("{}: already exists; it is left as it is", file.display());
    }
    let register = match &a.register {
        Some(path) => {
            // Inside the archive: relative to it, so that the archive can move.
            let abs = consentry::paths::absolute_in(&std::env::current_dir()?, path);
            let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
            abs.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(abs)
        }
        None => PathBuf::from(INIT_REGISTER),
    };
    let text = format!(
        "# consentry archive: files below this folder are judged by this register, and scope globs\n\
         # are relative to this folder (see the README).\nregister = {}\n",
        toml::Value::String(register.to_string_lossy().into_owned())
    );
    if a.register.is_none() {
        let db = root.join(INIT_REGISTER);
        if std::fs::symlink_metadata(&db).is_ok() {
            anyhow::bail!("{}: already exists: name it with --register {}", db.display(), db.display());
        }
        init(&db, a.actor.as_deref())?;
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    std::io::Write::write_all(&mut out, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    say!("Created {}: the archive {} uses the register {}.", file.display(), root.display(), register.display());
    Ok(Exit::Ok)
}

/// `register init DB`: an empty SQLite register.
pub(super) fn init(db: &Path, actor_arg: Option<&str>) -> anyhow::Result<Exit> {
    edit::init(db, &actor(actor_arg))?;
    say!("Created the empty register {}.", db.display());
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_asks_only_a_person_at_a_terminal_who_gave_neither_yes_nor_dry_run() {
        assert!(assign_asks(false, false, true));
        assert!(!assign_asks(true, false, true), "--yes records");
        assert!(!assign_asks(false, true, true), "a dry run asked for is one already");
        assert!(!assign_asks(false, false, false), "scripts record as before");
    }
}
