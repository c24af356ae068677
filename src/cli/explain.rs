//! `consentry explain FILE...`: one file's decision person by person (issue 14, item 4): which
//! consent or exemption counts for each depicted person, and why each missing one is missing.
//! Reads the files and their archive's register; keeps no state (it moves no baseline).

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;

use clap::Args;

use super::{lang, options, with_writer, CommonArgs, Exit, OutputArgs, RegisterArgs, StateArgs, WalkArgs};
use consentry::engine::{Context, Need};
use consentry::i18n::Lang;
use consentry::output::{self, OutputFormat};
use consentry::report::{self, ExplainRow};
use consentry::scan::Subject;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The media files to explain (a folder is refused: `consentry report missing DIR` lists
    /// what blocks in it).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Top-level keyword that holds person names in keyword hierarchies (repeatable)
    /// [default: People, Persons, Personen, or people_roots in consentry.toml]
    #[arg(long = "people-root", value_name = "NAME")]
    pub people_roots: Vec<String>,
    /// Do not follow symbolic links.
    #[arg(long)]
    pub no_follow: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub register: RegisterArgs,
}

/// The language of the rows in `format`: the run's for people (tables), English for the
/// machine formats (JSON, JSON Lines, CSV), whatever `--lang` says.
fn row_lang(format: OutputFormat) -> Lang {
    match format {
        OutputFormat::Json | OutputFormat::Jsonl | OutputFormat::Csv => Lang::En,
        _ => lang(),
    }
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<Exit> {
    for f in &args.files {
        if f.is_dir() {
            say!("{}", lang().tr("explain-refuse-folder", &[("path", f.display().to_string().into())]));
            return Ok(Exit::Usage);
        }
    }
    let ExplainArgs { files, people_roots, no_follow, output: out, register } = args;
    let common = CommonArgs {
        walk: WalkArgs { paths: files.clone(), people_roots, no_follow },
        state: StateArgs { state: None, no_state: true },
        output: out,
        register,
    };
    let out = &common.output;
    let ctx = Context::untracked(options(&common), Need::Register, "explain")?;
    let format = super::output_format(out);
    let row_lang = row_lang(format);
    let mut rows: Vec<ExplainRow> = Vec::new();
    let mut explained: BTreeSet<PathBuf> = BTreeSet::new();
    let summary = ctx.scan_evaluated(&|_| {}, |rec, rel, decision, register| {
        let (Some(decision), Some(register)) = (decision, register) else { return Ok(()) };
        if !matches!(rec.subject, Subject::Media(_) | Subject::Unwalkable) {
            return Ok(());
        }
        let e = rec.explain(rel.as_deref(), register, ctx.date);
        if e.decision != decision {
            // One code path makes both: never expected. Say nothing rather than something wrong.
            return Err(io::Error::other(format!("{}: the explanation differs from the decision", rec.path.display())));
        }
        rows.extend(report::explain(&rec.path, &e, rec.error().as_deref(), row_lang));
        explained.insert(rec.path.clone());
        Ok(())
    })??;
    // A file named through a link is read at its real path.
    let read =
        |f: &PathBuf| explained.contains(f) || std::fs::canonicalize(f).is_ok_and(|real| explained.contains(&real));
    let not_media: Vec<String> = files.iter().filter(|f| !read(f)).map(|f| f.display().to_string()).collect();
    if !not_media.is_empty() {
        say!("{}", lang().tr("explain-refuse-not-media", &[("paths", not_media.join(", ").into())]));
        return Ok(Exit::Usage);
    }
    with_writer(out, |w, format| output::write_rows(format, lang(), &rows, w))?;
    Ok(if summary.errors > 0 { Exit::Partial } else { Exit::Ok })
}
