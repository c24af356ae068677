//! What the scheduler tests share (issue 15, item 4: `tests/slurm_array.rs`,
//! `tests/kubernetes_job.rs`, `tests/xargs_recipe.rs`): an archive worth splitting, and the
//! comparison of a set of shards run by a scheduler with one run over the whole archive.
#![allow(dead_code)] // each test file uses a part

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{self, stderr};

/// The day the tests that fix one evaluate on: a consent of the archive's register expires
/// within 30 days of it, others long after or before.
pub const AS_OF: &str = "2026-11-22";

/// An archive with its register in a temporary directory: a copy of the repository's fixtures
/// (every status, sidecars, exemptions, a cut file that cannot be read) and 300 generated files
/// of every container (`bench/`, `consentry_synth::write_bench_archive`), some of whose persons
/// the register holds consents for.
pub struct Archive {
    pub tmp: tempfile::TempDir,
    /// The archive's root (it names its register in `consentry.toml`).
    pub root: PathBuf,
}

pub fn archive() -> Archive {
    let tmp = tempfile::tempdir().unwrap();
    let (root, register) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, "2024/cut.jpg");
    consentry_synth::write_bench_archive(&root.join("bench"), 300, 0);
    // Consents for some of the generated files' persons: one expiring soon after AS_OF, one
    // expired, one for the web only.
    let mut consents = fs::read_to_string(register.join("consents.csv")).unwrap();
    let mut persons = fs::read_to_string(register.join("persons.csv")).unwrap();
    for (i, (person, usage, expires)) in [
        ("Ben Meyer", "print,web", "2099-12-31"),
        ("Carla Roth", "web", "2026-12-10"),
        ("Dora Klein", "print,web,press", "2025-01-31"),
        ("Emil Weber", "web", "unbegrenzt"),
    ]
    .into_iter()
    .enumerate()
    {
        persons.push_str(&format!("p{};{person};\n", 901 + i));
        consents.push_str(&format!(
            "{};{person};{usage};2024-01-01;{expires};evidence/tom-braun.pdf;o1;bench/**;;;\n",
            901 + i
        ));
    }
    fs::write(register.join("consents.csv"), consents).unwrap();
    fs::write(register.join("persons.csv"), persons).unwrap();
    Archive { tmp, root }
}

/// `PATH` with the built consentry first: how a scheduler's job finds `consentry`.
pub fn path_with_consentry() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_consentry")).parent().unwrap().to_path_buf();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
}

/// The consentry binary ([`support::consentry`]) without the Slurm and Kubernetes variables of
/// the test's own environment (a CI runner may be a Slurm job).
pub fn consentry() -> std::process::Command {
    let mut c = support::consentry();
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "CONSENTRY_SHARDS",
    ] {
        c.env_remove(var);
    }
    c
}

/// consentry run in `dir`, exit 0 or 3 (some files could not be read: the archive has one).
pub fn ran(dir: &Path, args: &[&str]) -> Output {
    let out = consentry().args(args).current_dir(dir).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)), "consentry {args:?}: {}", stderr(&out));
    out
}

/// The result files of a set of `n` shards in `results`: `shard-K-of-N.jsonl` for every K from
/// 0, and nothing else (no temporary file of an interrupted write).
pub fn assert_shard_files(results: &Path, n: usize) {
    let mut names: Vec<String> = fs::read_dir(results)
        .unwrap_or_else(|e| panic!("{}: {e}", results.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = (0..n).map(|k| format!("shard-{k}-of-{n}.jsonl")).collect();
    expected.sort();
    assert_eq!(names, expected, "in {}", results.display());
}

/// What `consentry merge` of a set of shards prints is byte for byte what one run over the
/// whole archive prints (run in `dir` over `path` on `as_of`, reading every file): the records
/// (JSON Lines and CSV) and the reports. Each output is checked to hold something, so that two
/// empty outputs never pass for agreement.
pub fn assert_merge_is_one_run(results: &Path, dir: &Path, path: &str, as_of: &str) {
    let results = results.to_str().unwrap();
    let one_run = ["--no-state", "--as-of", as_of];
    let cases: [(&[&str], Vec<&str>); 7] = [
        (&["merge", results], [&["scan", path][..], &one_run].concat()),
        (&["merge", results, "--format", "csv"], [&["scan", path, "--format", "csv"][..], &one_run].concat()),
        (&["merge", results, "--report", "missing"], [&["report", "missing", path][..], &one_run].concat()),
        (
            &["merge", results, "--report", "cleared", "--for", "web"],
            [&["report", "cleared", "--for", "web", path][..], &one_run].concat(),
        ),
        (&["merge", results, "--report", "summary"], [&["report", "summary", path][..], &one_run].concat()),
        (
            // Within a century: the register's consents that end in 2099 are in it.
            &["merge", results, "--report", "expiring", "--within", "36500"],
            [&["report", "expiring", "--within", "36500", path][..], &one_run].concat(),
        ),
        (
            &["merge", results, "--report", "unknown-persons"],
            [&["report", "unknown-persons", path][..], &one_run].concat(),
        ),
    ];
    for (merge, single) in cases {
        let merged = consentry().args(merge).current_dir(dir).output().unwrap();
        let whole = consentry().args(&single).current_dir(dir).output().unwrap();
        // 3 when the archive's unreadable file is in what is printed.
        assert!(matches!(merged.status.code(), Some(0 | 3)), "consentry {merge:?}: {}", stderr(&merged));
        assert!(matches!(whole.status.code(), Some(0 | 3)), "consentry {single:?}: {}", stderr(&whole));
        assert!(!whole.stdout.is_empty(), "consentry {single:?} printed nothing: {}", stderr(&whole));
        assert!(
            merged.stdout == whole.stdout,
            "consentry {merge:?} is not consentry {single:?}:\n--- merged\n{}\n--- one run\n{}",
            support::stdout(&merged),
            support::stdout(&whole)
        );
    }
}
