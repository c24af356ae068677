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

#[test]
fn files_a_shard_could_not_judge_refuse_the_merged_report_as_one_run_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    // An archive inside the archive that names no register: one run refuses to report on it.
    let nested = root.join("2024/nested");
    fs::create_dir_all(&nested).unwrap();
    fs::write(nested.join("consentry.toml"), "").unwrap();
    fs::copy(root.join("2023/summer-fest/IMG_1002.jpg"), nested.join("red.jpg")).unwrap();
    let one = run(&root, &["report", "missing", "--no-state", "--as-of", AS_OF]);
    assert_eq!(one.status.code(), Some(2), "{}", stderr(&one));
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    for report in [&["missing"][..], &["cleared", "--for", "web"], &["summary"]] {
        let mut args = vec!["merge", "../results", "--report"];
        args.extend_from_slice(report);
        let out = run(&root, &args);
        assert_eq!(out.status.code(), Some(2), "{report:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("red.jpg was not evaluated"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }

    // A set scanned before the archive had a register, merged after it got one.
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let toml = fs::read_to_string(root.join("consentry.toml")).unwrap();
    fs::write(root.join("consentry.toml"), "").unwrap();
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    fs::write(root.join("consentry.toml"), toml).unwrap();
    let out = run(&root, &["merge", "../results", "--report", "missing"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("was not evaluated"), "{}", stderr(&out));
}

#[test]
fn shards_that_walked_different_trees_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    shards(&root, 2, &[0], "../results", AS_OF);
    // Between the two shards' runs a file is renamed (it may move from one part to the other).
    fs::rename(root.join("2023/summer-fest/IMG_1002.jpg"), root.join("2023/summer-fest/IMG_9002.jpg")).unwrap();
    shards(&root, 2, &[1], "../results", AS_OF);
    refused(&root, "../results", &["shard-1-of-2.jsonl", "walked another tree", "shard-0-of-2.jsonl"]);
    shards(&root, 2, &[0], "../results", AS_OF);
    let out = run(&root, &["merge", "../results", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("IMG_9002.jpg") && !stdout(&out).contains("IMG_1002.jpg"));
}

#[test]
fn a_result_file_that_is_not_whole_is_refused_before_anything_is_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, "2024/cut.jpg");
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    let dir = tmp.path().join("results");
    let file = dir.join("shard-1-of-2.jsonl");
    let whole = fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let records = lines.len() - 2;
    assert!(records > 3, "{whole}");
    // The last record garbled: refused, with its line, and nothing printed before.
    let mut bad = lines.clone();
    bad[records] = "{\"i\": garbage";
    fs::write(&file, bad.join("\n") + "\n").unwrap();
    let message = refused(&root, "../results", &["shard-1-of-2.jsonl", &format!("line {}: not a record", records + 1)]);
    assert!(!message.contains("os error"), "{message}");
    // The same record twice; a line after the end line.
    let mut twice = lines.clone();
    twice.insert(2, lines[1]);
    fs::write(&file, twice.join("\n") + "\n").unwrap();
    refused(&root, "../results", &["line 3", "out of walk order"]);
    fs::write(&file, whole.clone() + &lines[1..2].join("") + "\n").unwrap();
    refused(&root, "../results", &["shard-1-of-2.jsonl", "lines after its end line"]);
    fs::write(&file, &whole).unwrap();

    // A name that only looks like a shard's is not one; a FIFO in a shard's place is refused
    // (not waited on).
    fs::copy(dir.join("shard-0-of-2.jsonl"), dir.join("shard-00-of-2.jsonl")).unwrap();
    let merged = run(&root, &["merge", "../results", "--format", "jsonl"]);
    let single = run(&root, &["scan", "--no-state", "--as-of", AS_OF, "--format", "jsonl"]);
    assert_eq!(stdout(&merged), stdout(&single));
    // The unreadable file is said on stderr, as the scan says it.
    assert!(stderr(&merged).contains("cut.jpg:"), "{}", stderr(&merged));
    fs::remove_file(&file).unwrap();
    let status = Command::new("mkfifo").arg(&file).status().unwrap();
    assert!(status.success());
    let mut child = support::consentry()
        .args(["merge", "../results"])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let waited = child.try_wait().unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(waited.and_then(|s| s.code()), Some(2), "merge waited on a FIFO");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

#[test]
fn a_shard_run_removes_its_killed_runs_temporary_file_but_not_a_running_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let dir = tmp.path().join("results");
    fs::create_dir(&dir).unwrap();
    let stale = dir.join(".consentry-shard-0-of-2-stale");
    let running = dir.join(".consentry-shard-0-of-2-running");
    let other = dir.join(".consentry-shard-1-of-2-other");
    for f in [&stale, &running, &other] {
        fs::write(f, "{}\n").unwrap();
    }
    let held = fs::File::open(&running).unwrap();
    held.lock().unwrap();
    shards(&root, 2, &[0], "../results", AS_OF);
    assert!(!stale.exists(), "a killed run's temporary file was left");
    assert!(running.exists(), "a running shard's temporary file was removed");
    assert!(other.exists(), "another shard's temporary file was removed");
    drop(held);
}

#[test]
fn changes_of_shards_whose_states_disagree_on_the_first_run_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    // The first runs: baselines everywhere, no changes.
    let out = run(&root, &["merge", "../results", "--report", "changes", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty() && stderr(&out).contains("baseline"), "{}", stderr(&out));
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    let out = run(&root, &["merge", "../results", "--report", "changes", "--format", "jsonl", "--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Shard 1's state lost: its next run starts afresh while shard 0's compares.
    fs::remove_file(root.join(".consentry/state-shard-1-of-2.sqlite")).unwrap();
    shards(&root, 2, &[0, 1], "../results", AS_OF);
    let out = run(&root, &["merge", "../results", "--report", "changes", "--exit-code"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shard-1-of-2.jsonl: its state started with this run"), "{}", stderr(&out));
    // Without a state at all, there are no changes to merge.
    let out = run(&root, &["scan", "--shard", "0/2", "--results", "../results", "--as-of", AS_OF, "--no-state"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&root, &["merge", "../results", "--report", "changes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("kept no state"), "{}", stderr(&out));
}
