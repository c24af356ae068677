//! End to end: `scan --results DIR` and `consentry merge DIR` (issue 15, items 2 and 5; SPEC.md
//! 7a). A set of shard results merges into exactly what one run prints (records, reports, the
//! HTML report); a set that is not whole or not one run's is refused with exit 2, naming the
//! shard; a killed shard leaves no result file, and rerunning only it completes the set.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{stderr, stdout};

const AS_OF: &str = "2026-11-22";

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut c = support::consentry();
    for var in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"] {
        c.env_remove(var);
    }
    c.env_remove("CONSENTRY_SHARDS").args(args).current_dir(dir).output().unwrap()
}

/// Shards `ks` of `n` of the archive at `dir` (`.`) into `results`, evaluated on `as_of`.
fn shards(dir: &Path, n: u32, ks: &[u32], results: &str, as_of: &str) {
    for k in ks {
        let out = run(dir, &["scan", "--shard", &format!("{k}/{n}"), "--results", results, "--as-of", as_of]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "shard {k}/{n}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "scan --results printed on stdout: {}", stdout(&out));
        assert!(stderr(&out).contains(&format!("shard-{k}-of-{n}.jsonl")), "{}", stderr(&out));
    }
}

/// Merge refused with exit 2, the message naming `names` and nothing printed on stdout.
fn refused(dir: &Path, results: &str, names: &[&str]) -> String {
    for args in [vec!["merge", results], vec!["merge", results, "--report", "missing"]] {
        let out = run(dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?} was not refused: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: a refused merge printed {}", stdout(&out));
        for name in names {
            assert!(stderr(&out).contains(name), "{args:?}: {name:?} not in {}", stderr(&out));
        }
    }
    stderr(&run(dir, &["merge", results]))
}

#[test]
fn a_merged_set_prints_what_one_run_prints_and_its_html_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, "2024/cut.jpg");
    shards(&root, 3, &[0, 1, 2], "../results", AS_OF);
    // The result files are the owner's only; the folder too.
    for k in 0..3 {
        let mode = fs::metadata(tmp.path().join(format!("results/shard-{k}-of-3.jsonl"))).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "shard {k}");
    }
    assert_eq!(fs::metadata(tmp.path().join("results")).unwrap().permissions().mode() & 0o777, 0o700);
    let single = run(&root, &["scan", "--no-state", "--as-of", AS_OF, "--format", "json"]);
    let merged = run(&root, &["merge", "../results", "--format", "json"]);
    assert_eq!(single.status.code(), Some(3), "the cut file is unreadable: {}", stderr(&single));
    assert_eq!(merged.status.code(), single.status.code(), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&single));
    assert!(stdout(&merged).contains("\"unreadable\""));
    // The summary line counts as one run's does.
    let line = |o: &Output| {
        stderr(o)
            .lines()
            .find(|l| l.starts_with("Scanned"))
            .and_then(|l| l.split(" in ").nth(1).map(|r| r.split_once("): ").unwrap().1.to_string()))
    };
    assert_eq!(line(&merged), line(&single));
    assert!(line(&merged).is_some(), "{}", stderr(&merged));

    // The HTML report: the same page and thumbnails.
    let html = |args: &[&str], out: &str| {
        let mut a = args.to_vec();
        a.extend(["--format", "html", "-o", out, "-q"]);
        let o = run(&root, &a);
        assert_eq!(o.status.code(), Some(3), "{a:?}: {}", stderr(&o));
    };
    html(&["report", "missing", "--no-state", "--as-of", AS_OF], "../one");
    html(&["merge", "../results", "--report", "missing"], "../merged");
    let diff =
        Command::new("diff").arg("-r").arg(tmp.path().join("one")).arg(tmp.path().join("merged")).output().unwrap();
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stdout));
    assert!(fs::read_to_string(tmp.path().join("merged/index.html")).unwrap().contains("cut.jpg"));

    // A report that needs the register reads it again: changed since, it is refused.
    let summary = run(&root, &["merge", "../results", "--report", "summary", "--format", "csv"]);
    assert_eq!(summary.status.code(), Some(3), "{}", stderr(&summary));
    let consents = tmp.path().join("register/consents.csv");
    let mut text = fs::read_to_string(&consents).unwrap();
    text = text.replacen("2099-06-30", "2099-06-29", 1);
    fs::write(&consents, text).unwrap();
    let changed = run(&root, &["merge", "../results", "--report", "summary"]);
    assert_eq!(changed.status.code(), Some(2), "{}", stderr(&changed));
    assert!(stderr(&changed).contains("the register changed since the shards were scanned"), "{}", stderr(&changed));
}

#[test]
fn a_set_that_is_not_whole_or_not_one_runs_is_refused_naming_the_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let dir = tmp.path().join("results");
    let file = |k: u32, n: u32| dir.join(format!("shard-{k}-of-{n}.jsonl"));
    // No results at all.
    fs::create_dir(&dir).unwrap();
    refused(&root, "../results", &["no shard results"]);

    // A shard missing.
    shards(&root, 4, &[0, 1, 3], "../results", AS_OF);
    let message = refused(&root, "../results", &["shard 2/4 is missing", "3 of 4"]);
    assert!(message.contains("never all clear"), "{message}");

    // There twice: a copy of shard 1's file under shard 2's name.
    fs::copy(file(1, 4), file(2, 4)).unwrap();
    refused(&root, "../results", &["shard-2-of-4.jsonl", "shard 1/4 is there twice"]);

    // From another day.
    shards(&root, 4, &[2], "../results", "2026-11-23");
    refused(&root, "../results", &["shard-2-of-4.jsonl", "day evaluated on"]);
    shards(&root, 4, &[2], "../results", AS_OF);
    assert_eq!(run(&root, &["merge", "../results"]).status.code(), Some(0));

    // From another register (the consents changed between two shards' runs).
    let consents = tmp.path().join("register/consents.csv");
    let before = fs::read_to_string(&consents).unwrap();
    fs::write(&consents, before.replacen("2099-06-30", "2099-06-29", 1)).unwrap();
    shards(&root, 4, &[3], "../results", AS_OF);
    refused(&root, "../results", &["shard-3-of-4.jsonl", "register"]);
    fs::write(&consents, &before).unwrap();
    shards(&root, 4, &[3], "../results", AS_OF);

    // Another N beside the set.
    shards(&root, 2, &[0], "../results", AS_OF);
    refused(&root, "../results", &["more than one set", "shard-0-of-4.jsonl"]);
    fs::remove_file(file(0, 2)).unwrap();

    // Other paths scanned.
    let out = run(&root, &["scan", "2023", "--shard", "1/4", "--results", "../results", "--as-of", AS_OF]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    refused(&root, "../results", &["shard-1-of-4.jsonl", "paths scanned"]);
    shards(&root, 4, &[1], "../results", AS_OF);

    // Cut short (no end line), and a record of another shard written into one.
    let whole = fs::read_to_string(file(0, 4)).unwrap();
    let cut: String = whole.lines().take(3).map(|l| format!("{l}\n")).collect();
    fs::write(file(0, 4), &cut).unwrap();
    refused(&root, "../results", &["shard-0-of-4.jsonl", "incomplete"]);
    let other = fs::read_to_string(file(1, 4)).unwrap();
    let foreign_record = other.lines().nth(1).unwrap();
    let mut mixed: Vec<&str> = whole.lines().collect();
    mixed.insert(1, foreign_record);
    fs::write(file(0, 4), mixed.join("\n") + "\n").unwrap();
    refused(&root, "../results", &["shard-0-of-4.jsonl", "line 2", "not a file of shard 0/4"]);
    fs::write(file(0, 4), &whole).unwrap();
    let out = run(&root, &["merge", "../results", "--format", "jsonl"]);
    let single = run(&root, &["scan", "--no-state", "--as-of", AS_OF, "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&single));
}

#[test]
fn a_killed_shard_leaves_no_result_file_and_rerunning_it_completes_the_set() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    fs::create_dir(&archive).unwrap();
    consentry_synth::write_bench_archive(&archive, 4000, 0);
    fs::write(archive.join("consentry.toml"), "register = \"../register.csv\"\n").unwrap();
    fs::write(tmp.path().join("register.csv"), consentry_synth::bench_register_csv(72)).unwrap();
    let results = tmp.path().join("results");
    shards(&archive, 2, &[0], "../results", AS_OF);
    // Shard 1, killed while it writes: one reading thread, killed once its temporary file is there.
    let mut child = support::consentry()
        .args(["scan", "--shard", "1/2", "--results", "../results", "--as-of", AS_OF, "--threads", "1", "--no-state"])
        .current_dir(&archive)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let temporary = || {
        fs::read_dir(&results)
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(".consentry-shard-1-of-2")))
            .unwrap_or(false)
    };
    while !temporary() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the shard finished before it was killed: make the archive larger");
    assert!(!results.join("shard-1-of-2.jsonl").exists(), "a killed shard left a result file");
    refused(&archive, "../results", &["shard 1/2 is missing"]);
    // Only that shard again: the set is whole, and the temporary file of the killed run is gone.
    shards(&archive, 2, &[1], "../results", AS_OF);
    assert!(!temporary(), "the killed run's temporary file is still there");
    let merged = run(&archive, &["merge", "../results", "--report", "summary", "--format", "jsonl"]);
    let single = run(&archive, &["report", "summary", "--no-state", "--as-of", AS_OF, "--format", "jsonl"]);
    assert_eq!(merged.status.code(), single.status.code(), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&single));
    assert!(stdout(&merged).contains("\"files\""), "{}", stdout(&merged));
}

#[test]
fn results_without_a_shard_are_shard_0_of_1_and_results_exclude_stdout_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let out = run(&root, &["scan", "--results", "../r", "--as-of", AS_OF]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(tmp.path().join("r/shard-0-of-1.jsonl").is_file());
    let merged = run(&root, &["merge", "../r", "--report", "cleared", "--for", "web", "--format", "csv"]);
    let single = run(&root, &["report", "cleared", "--for", "web", "--no-state", "--as-of", AS_OF, "--format", "csv"]);
    assert_eq!(stdout(&merged), stdout(&single));
    assert!(stdout(&merged).lines().count() > 1);
    for extra in [["--format", "csv"], ["-o", "x.jsonl"]] {
        let mut args = vec!["scan", "--results", "../r"];
        args.extend(extra);
        let o = run(&root, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    // `cleared` needs --for, as `report cleared` does, before anything is read.
    let o = run(&root, &["merge", "../r", "--report", "cleared"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs --for USAGE"), "{}", stderr(&o));
}
