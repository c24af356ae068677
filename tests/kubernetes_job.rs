//! The repository's Kubernetes Indexed Job (`deploy/kubernetes/indexed-job.yaml`, issue 15,
//! item 4), without a cluster: the manifest is rendered as its comment says (the day put in for
//! `${CONSENTRY_AS_OF}`), validated against the Kubernetes API's schemas (Python's
//! `kubernetes-validate`, strict: unknown fields are errors), and each completion index's
//! container command is run here as the Job's pods would run it: with the container's
//! environment and `JOB_COMPLETION_INDEX`, all indexes at once (the Job's parallelism), the
//! volumes' mount paths mapped to temporary directories. The shards' results are then compared
//! with one run over the whole archive.
//!
//! `kubernetes-validate` comes from PyPI: scripts/test.sh installs it in a virtual environment
//! under `target/kubernetes-validate`; without it the test is skipped with a message, and fails
//! under `CI=true`.

#![cfg(unix)]

mod scheduler_support;
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scheduler_support::AS_OF;
use serde_json::Value;

/// `kubernetes-validate` and a Python that reads YAML (the one it runs with): on `PATH`, or in
/// the virtual environment scripts/test.sh makes under `target/`.
fn validator() -> Option<(PathBuf, PathBuf)> {
    let venv = support::repo().join("target/kubernetes-validate/bin");
    let on_path = std::env::var("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> =
        std::iter::once(venv).chain(on_path.split(':').filter(|d| !d.is_empty()).map(PathBuf::from)).collect();
    let dir = dirs.into_iter().find(|d| d.join("kubernetes-validate").is_file())?;
    let python = ["python3", "python"].iter().map(|p| dir.join(p)).find(|p| p.is_file());
    let python = python.unwrap_or_else(|| PathBuf::from("python3"));
    let reads_yaml = Command::new(&python).args(["-c", "import yaml"]).output().is_ok_and(|o| o.status.success());
    reads_yaml.then(|| (dir.join("kubernetes-validate"), python))
}

fn said(out: &Output) -> String {
    format!("{}\nstdout: {}\nstderr: {}", out.status, support::stdout(out), support::stderr(out))
}

/// A manifest of `deploy/kubernetes` rendered for `AS_OF` into `dir`: its path there and its
/// documents.
fn render(name: &str, dir: &Path, python: &Path) -> (PathBuf, Vec<Value>) {
    let text = fs::read_to_string(support::repo().join("deploy/kubernetes").join(name)).unwrap();
    assert!(text.contains("${CONSENTRY_AS_OF}"), "{name}: the day is set at submission");
    let rendered = text.replace("${CONSENTRY_AS_OF}", AS_OF);
    assert!(!rendered.lines().filter(|l| !l.trim_start().starts_with('#')).any(|l| l.contains("${")), "{name}");
    let path = dir.join(name);
    fs::write(&path, rendered).unwrap();
    let parse = "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)";
    let out = Command::new(python).args(["-c", parse]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{name}: {}", said(&out));
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    (path, docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Validate a rendered manifest against the Kubernetes schemas; the validator's output.
fn validate(validator: &Path, file: &Path) -> Output {
    Command::new(validator).arg("--strict").arg(file).output().unwrap()
}

/// The container of a Job's pods: (its environment, its command line, its mount paths by
/// volume name).
struct Container {
    env: BTreeMap<String, String>,
    command: Vec<String>,
    mounts: BTreeMap<String, String>,
}

fn container(job: &Value) -> Container {
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never", "{job}");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{job}");
    let c = &containers[0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map_or(Vec::new(), |a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
    };
    let env = c["env"].as_array().unwrap().iter().map(|e| {
        let value = e["value"].as_str().unwrap_or_else(|| panic!("a literal value: {e}"));
        (e["name"].as_str().unwrap().to_string(), value.to_string())
    });
    let mounts = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["mountPath"].as_str().unwrap().to_string()));
    // Every volume is a claim of the shared storage.
    for v in pod["volumes"].as_array().unwrap() {
        assert!(v["persistentVolumeClaim"]["claimName"].is_string(), "{v}");
    }
    Container {
        env: env.collect(),
        command: [strings(&c["command"]), strings(&c["args"])].concat(),
        mounts: mounts.collect(),
    }
}

impl Container {
    /// Run the container's command here as a pod would: in a clean environment of the
    /// container's variables (plus `extra`), with consentry on PATH and every path under a
    /// mount of the container mapped to the directory `volumes` gives its volume. The command
    /// itself names no mount path: it reads its paths from the environment, which is mapped.
    fn spawn(&self, volumes: &BTreeMap<&str, &Path>, home: &Path, extra: &[(&str, &str)]) -> std::process::Child {
        for (volume, mount) in &self.mounts {
            assert!(volumes.contains_key(volume.as_str()), "no directory for the volume {volume}");
            assert!(!self.command.iter().any(|a| a.contains(mount.as_str())), "{mount} in {:?}", self.command);
        }
        let mapped = |value: &str| -> String {
            for (volume, mount) in &self.mounts {
                if let Some(rest) = value.strip_prefix(mount.as_str()).filter(|r| r.is_empty() || r.starts_with('/')) {
                    return format!("{}{rest}", volumes[volume.as_str()].display());
                }
            }
            value.to_string()
        };
        Command::new(&self.command[0])
            .args(&self.command[1..])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, mapped(v))))
            .envs(extra.iter().copied())
            .env("PATH", scheduler_support::path_with_consentry())
            .env("HOME", home)
            .env("XDG_CACHE_HOME", support::cache_home())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn the_repository_s_indexed_job_run_index_by_index_gives_the_records_of_one_run() {
    let Some((validator, python)) = validator() else {
        return support::missing("kubernetes-validate (PyPI; scripts/test.sh installs it under target/)");
    };
    let rendered = tempfile::tempdir().unwrap();
    let (scan_file, scan_docs) = render("indexed-job.yaml", rendered.path(), &python);
    let (merge_file, merge_docs) = render("merge-job.yaml", rendered.path(), &python);

    // Valid Kubernetes objects, each document against its kind's schema.
    for file in [&scan_file, &merge_file] {
        let out = validate(&validator, file);
        assert!(out.status.success(), "{}: {}", file.display(), said(&out));
        assert!(support::stdout(&out).contains("passed for resource job/"), "{}", said(&out));
    }
    // The validator does check: a Job whose completions are not a number is refused.
    let broken = rendered.path().join("broken.yaml");
    let text = fs::read_to_string(&scan_file).unwrap();
    assert!(text.contains("completions: 4"));
    fs::write(&broken, text.replacen("completions: 4", "completions: four", 1)).unwrap();
    let out = validate(&validator, &broken);
    assert!(!out.status.success() && support::stdout(&out).contains("completions"), "{}", said(&out));

    let jobs: Vec<&Value> = scan_docs.iter().filter(|d| d["kind"] == "Job").collect();
    assert_eq!(jobs.len(), 1, "one scan Job in indexed-job.yaml");
    let job = jobs[0];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed", "{job}");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(n, 4, "{job}");
    assert!(spec["parallelism"].as_u64().is_some_and(|p| p >= 1), "{job}");
    let scan = container(job);
    assert_eq!(scan.env.get("CONSENTRY_SHARDS").map(String::as_str), Some("4"), "the shards are the completions");
    assert_eq!(scan.env.get("CONSENTRY_AS_OF").map(String::as_str), Some(AS_OF));
    assert!(scan.command.join(" ").contains("--shard auto"), "{:?}", scan.command);
    // The results claim the file creates is the one the merge Job reads.
    let claim = scan_docs.iter().find(|d| d["kind"] == "PersistentVolumeClaim").expect("the results claim");
    assert!(claim["spec"]["accessModes"].as_array().unwrap().iter().any(|m| m == "ReadWriteMany"), "{claim}");
    let claim_name = claim["metadata"]["name"].as_str().unwrap();
    let merge_job = merge_docs.iter().find(|d| d["kind"] == "Job").expect("the merge Job");
    let claims = |job: &Value| -> Vec<String> {
        let volumes = job["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
        volumes.iter().map(|v| v["persistentVolumeClaim"]["claimName"].as_str().unwrap().to_string()).collect()
    };
    assert!(claims(job).iter().any(|c| c == claim_name) && claims(merge_job).iter().any(|c| c == claim_name));

    // The volumes: the archive and its register on the data claim, the results on theirs.
    let archive = scheduler_support::archive();
    let results = tempfile::tempdir().unwrap();
    let data = archive.root.parent().unwrap();
    let volumes: BTreeMap<&str, &Path> = [("data", data), ("results", results.path())].into();
    assert_eq!(scan.env["CONSENTRY_ARCHIVE"], format!("{}/archive", scan.mounts["data"]));

    // Every index at once, as the Job's pods.
    let pods: Vec<(u64, std::process::Child)> = (0..n)
        .map(|k| (k, scan.spawn(&volumes, rendered.path(), &[("JOB_COMPLETION_INDEX", k.to_string().as_str())])))
        .collect();
    for (k, pod) in pods {
        let out = pod.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "index {k}: {}", said(&out));
        assert!(support::stderr(&out).contains(&format!("shard {k}/4")), "index {k}: {}", said(&out));
    }
    let shards = results.path().join(format!("shards-{AS_OF}"));
    let path = archive.root.to_str().unwrap();
    scheduler_support::assert_shard_files(&shards, n as usize);
    scheduler_support::assert_merge_is_one_run(&shards, data, path, AS_OF);

    // The merge Job, as its pod would run it, over the results volume.
    let merge = container(merge_job);
    let out = merge.spawn(&volumes, rendered.path(), &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the merge Job: {}", said(&out));
    let one_run = |args: &[&str]| {
        let args = [args, &[path, "--no-state", "--as-of", AS_OF]].concat();
        scheduler_support::ran(data, &args).stdout
    };
    let written = |name: &str| fs::read(results.path().join(name)).unwrap();
    assert!(written(&format!("records-{AS_OF}.jsonl")) == one_run(&["scan"]), "merged records");
    assert!(written(&format!("missing-{AS_OF}.jsonl")) == one_run(&["report", "missing"]), "merged report missing");
    assert!(out.stdout == one_run(&["report", "summary", "--format", "table"]), "{}", said(&out));

    // A pod lost with its result: the merge refuses the set, naming the shard, and running
    // that index again completes it.
    fs::remove_file(shards.join("shard-2-of-4.jsonl")).unwrap();
    let refused = merge.spawn(&volumes, rendered.path(), &[]).wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", said(&refused));
    assert!(support::stderr(&refused).contains("shard 2/4"), "{}", said(&refused));
    assert!(refused.stdout.is_empty(), "{}", said(&refused));
    let again = scan.spawn(&volumes, rendered.path(), &[("JOB_COMPLETION_INDEX", "2")]).wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(0), "index 2 again: {}", said(&again));
    scheduler_support::assert_shard_files(&shards, n as usize);
    scheduler_support::assert_merge_is_one_run(&shards, data, path, AS_OF);
}
