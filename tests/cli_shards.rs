//! End to end: `--shard K/N` (issue 15, item 1; SPEC.md 7a). The shards of an archive are a
//! partition of it: every file (with its sidecars) in exactly one shard, its record the same as
//! in one run over the whole archive; a file stays in its shard whatever path names it; the
//! shard comes from `--shard`, a Slurm array task or a Kubernetes Indexed Job's index; each shard
//! keeps its own state; `apply` of a shard touches only that shard's files.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{jsonl, stderr};

const AS_OF: &str = "2026-11-22";

/// Run in `dir` with `env`, without the Slurm and Kubernetes variables of the test's own
/// environment (a CI runner may be a Slurm job).
fn run_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = support::consentry();
    for var in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX"] {
        c.env_remove(var);
    }
    c.env_remove("CONSENTRY_SHARDS").args(args).args(["--as-of", AS_OF]).current_dir(dir);
    c.envs(env.iter().copied()).output().unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, &[], args)
}

/// The records of a scan by path (orphan sidecars and unreadable files included).
fn records(out: &Output) -> BTreeMap<String, Value> {
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(out));
    jsonl(out).into_iter().map(|r| (r["path"].as_str().unwrap().to_string(), r)).collect()
}

#[test]
fn the_shards_of_an_archive_are_a_partition_with_the_records_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    support::add_cut_copy(&root, "2024/cut.jpg");
    let whole = records(&run(&root, &["scan", "--no-state", "--format", "jsonl"]));
    assert!(whole.len() > 20 && whole.values().any(|r| r["status"] == "unreadable"));
    for n in 1..=4u32 {
        let mut union: BTreeMap<String, Value> = BTreeMap::new();
        for k in 0..n {
            let shard = format!("{k}/{n}");
            let part = records(&run(&root, &["scan", "--shard", &shard, "--format", "jsonl"]));
            for (path, record) in part {
                assert!(union.insert(path.clone(), record).is_none(), "{path} in two shards of {n}");
            }
        }
        // Every record exactly as one run gives it: persons, sidecars, status, errors.
        assert_eq!(union, whole, "{n} shards");
    }
    // Each shard kept a state of its own; the whole archive's state was never written.
    let states = root.join(".consentry");
    assert!(states.join("state-shard-0-of-4.sqlite").is_file() && states.join("state-shard-3-of-4.sqlite").is_file());
    assert!(!states.join("state.sqlite").exists());
    // A second night of a shard reads nothing again and reports no file removed.
    let out = run(&root, &["scan", "--shard", "1/3", "--format", "jsonl"]);
    assert!(stderr(&out).contains(" 0 removed"), "{}", stderr(&out));
}

#[test]
fn a_file_stays_in_its_shard_whatever_path_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let rel = |records: BTreeMap<String, Value>, prefix: &Path| -> Vec<String> {
        let prefix = prefix.to_string_lossy().into_owned();
        let mut paths: Vec<String> = records
            .keys()
            .map(|p| p.trim_start_matches(&prefix).trim_start_matches("./").trim_start_matches('/').to_string())
            .collect();
        paths.sort();
        paths
    };
    let inside =
        rel(records(&run(&root, &["scan", "--shard", "1/3", "--no-state", "--format", "jsonl"])), Path::new("."));
    // From outside, by an absolute path, and through a link to the archive.
    let absolute = records(&run(
        tmp.path(),
        &["scan", root.to_str().unwrap(), "--shard", "1/3", "--no-state", "--format", "jsonl"],
    ));
    assert_eq!(rel(absolute, &root), inside);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&root, tmp.path().join("link")).unwrap();
        let linked = records(&run(tmp.path(), &["scan", "link", "--shard", "1/3", "--no-state", "--format", "jsonl"]));
        let real = fs::canonicalize(&root).unwrap();
        let linked: BTreeMap<String, Value> =
            linked.into_iter().map(|(p, r)| (p.replacen("link", real.to_str().unwrap(), 1), r)).collect();
        assert_eq!(rel(linked, &real), inside);
    }
    assert!(!inside.is_empty());
}

#[test]
fn the_shard_comes_from_slurm_or_kubernetes_when_asked_and_half_of_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let scan = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["scan", "--no-state", "--format", "jsonl"];
        args.extend(extra);
        run_env(&root, env, &args)
    };
    let paths = |out: &Output| records(out).into_keys().collect::<Vec<_>>();
    let expected = paths(&scan(&[], &["--shard", "1/3"]));
    let auto = ["--shard", "auto"];
    // Slurm: the task's place in the array (from SLURM_ARRAY_TASK_MIN, in its steps) of its count.
    let slurm = scan(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")], &auto);
    assert_eq!(paths(&slurm), expected);
    assert!(stderr(&slurm).contains("shard 1/3"), "{}", stderr(&slurm));
    let from_one =
        scan(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")], &auto);
    assert_eq!(paths(&from_one), expected);
    let stepped = [("SLURM_ARRAY_TASK_ID", "6"), ("SLURM_ARRAY_TASK_MIN", "4"), ("SLURM_ARRAY_TASK_STEP", "2")];
    assert_eq!(paths(&scan(&[&stepped[..], &[("SLURM_ARRAY_TASK_COUNT", "3")]].concat(), &auto)), expected);
    // Kubernetes: the completion index with --shards or CONSENTRY_SHARDS.
    assert_eq!(paths(&scan(&[("JOB_COMPLETION_INDEX", "1")], &["--shards", "3"])), expected);
    assert_eq!(paths(&scan(&[("JOB_COMPLETION_INDEX", "1"), ("CONSENTRY_SHARDS", "3")], &auto)), expected);
    // --shard K/N wins over the environment, and without --shard the environment splits nothing
    // (a command run inside a job array is not split without being told), even quietly.
    let slurm0 = [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "3")];
    assert_eq!(paths(&scan(&slurm0, &["--shard", "1/3"])), expected);
    let whole = scan(&slurm0, &["--quiet"]);
    assert_eq!(paths(&whole).len(), paths(&scan(&[], &[])).len());
    assert!(!stderr(&whole).contains("shard"), "{}", stderr(&whole));
    // A sharded run says so on stderr even with --quiet.
    assert!(stderr(&scan(&[], &["--shard", "1/3", "--quiet"])).contains("shard 1/3"));
    // Half of a shard, or two that disagree, is never taken for a shard: exit 2, nothing on stdout.
    for (env, extra, says) in [
        (&[("JOB_COMPLETION_INDEX", "1")][..], &auto[..], "--shards N"),
        (&[][..], &["--shards", "3"][..], "no shard index"),
        (&[("CONSENTRY_SHARDS", "3")][..], &auto[..], "no shard index"),
        (&[("JOB_COMPLETION_INDEX", "3"), ("CONSENTRY_SHARDS", "3")][..], &auto[..], "less than N"),
        (&[][..], &["--shard", "3/3"][..], "less than N"),
        (&[][..], &["--shard", "1/3", "--shards", "3"][..], "leave --shards out"),
        (&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "3")][..], &auto[..], "not a number"),
        (&[("SLURM_ARRAY_TASK_ID", "1")][..], &auto[..], "without SLURM_ARRAY_TASK_COUNT"),
        (&slurm0[..], &["--shards", "4"][..], "the Slurm array 3"),
        (
            &[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_STEP", "2"), ("SLURM_ARRAY_TASK_COUNT", "3")][..],
            &auto[..],
            "multiple of its step",
        ),
    ] {
        let out = scan(env, extra);
        assert_eq!(out.status.code(), Some(2), "{env:?} {extra:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty() && stderr(&out).contains(says), "{env:?} {extra:?}: {}", stderr(&out));
    }
}

#[test]
fn what_a_shard_cannot_answer_for_is_refused_or_reported_by_every_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let refused = |dir: &Path, args: &[&str], says: &str| {
        let out = run(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty() && stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    };
    // A named file of another shard: no silent "checked 0 files", exit 0.
    let file = "2023/summer-fest/IMG_1003.JPG";
    let k = (0..2).find(|k| {
        let part = records(&run(&root, &["scan", "--shard", &format!("{k}/2"), "--no-state", "--format", "jsonl"]));
        part.keys().any(|p| p.ends_with("IMG_1003.JPG"))
    });
    let other = format!("{}/2", 1 - k.unwrap());
    refused(&root, &["check", "--for", "web", "--shard", &other, file, "--no-state"], "this file is in shard");
    // One --state for every shard: each would see the others' files as removed.
    let state = tmp.path().join("s.sqlite");
    refused(&root, &["scan", "--shard", "0/2", "--state", state.to_str().unwrap()], "each shard keeps its own state");
    // Outside any archive a file's shard would depend on where the tree is mounted.
    let loose = tmp.path().join("loose");
    fs::create_dir_all(&loose).unwrap();
    fs::copy(root.join(file), loose.join("a.jpg")).unwrap();
    refused(&loose, &["scan", "--shard", "0/2", "--no-state"], "sharding needs an archive");
    // A path that cannot be walked (a link loop) may hide files of every shard: every shard says so.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(".", root.join("2024/loop")).unwrap();
        for k in 0..3 {
            let out = run(&root, &["scan", "--shard", &format!("{k}/3"), "--no-state", "--format", "jsonl"]);
            assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
            assert!(records(&out).keys().any(|p| p.contains("loop")), "shard {k}/3: {}", stderr(&out));
        }
    }
}

#[test]
fn apply_of_a_shard_touches_only_that_shard_s_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = support::copy_fixtures(tmp.path());
    let mine: Vec<String> =
        records(&run(&root, &["scan", "--shard", "0/2", "--no-state", "--format", "jsonl"])).into_keys().collect();
    let snapshot = || -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.file_name().is_some_and(|n| n == ".consentry") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = format!("./{}", p.strip_prefix(&root).unwrap().to_string_lossy());
                    files.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        files
    };
    let before = snapshot();
    let out = run(&root, &["apply", "--shard", "0/2", "--format", "jsonl"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    let after = snapshot();
    let changed: Vec<&String> = after.keys().filter(|p| before.get(*p) != after.get(*p)).collect();
    assert!(!changed.is_empty(), "apply wrote nothing: {}", stderr(&out));
    for path in changed {
        // A file of the shard, or the sidecar of one (`name.ext.xmp` beside it).
        let media = path.trim_end_matches(".xmp");
        assert!(mine.iter().any(|m| m == path || m == media), "{path} is not in shard 0/2: {mine:?}");
    }
}
