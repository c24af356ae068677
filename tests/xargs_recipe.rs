//! The README's xargs recipe for shards (issue 15, item 4), run as written: the one-line block
//! under "**xargs**" in "Shards (past one machine)" is read from README.md and run by `sh` in a
//! folder holding `archive/` (and its register), with the built consentry first on `PATH`. The
//! line's merged report, and every merge of the shards it wrote, is that of one run over the whole
//! archive.

#![cfg(unix)]

mod scheduler_support;
mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The shell line that follows the README's xargs recipe.
fn recipe() -> String {
    let readme = fs::read_to_string(support::repo().join("README.md")).unwrap();
    let section = readme.find("### Shards (past one machine)").expect("README: no Shards section");
    let start = section + readme[section..].find("- **xargs**").expect("README: no xargs recipe in Shards");
    let block = &readme[start..];
    let open = block.find("```sh\n").unwrap() + "```sh\n".len();
    let len = block[open..].find("```").unwrap();
    let lines: Vec<&str> = block[open..open + len].lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(lines[0].contains("xargs") && lines[0].contains("--shard {}/4") && lines[0].contains("consentry merge"));
    lines[0].to_string()
}

fn sh(dir: &Path, line: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", scheduler_support::path_with_consentry())
        .env("XDG_CACHE_HOME", support::cache_home())
        .current_dir(dir)
        .output()
        .unwrap()
}

fn today() -> String {
    let out = Command::new("date").arg("+%F").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_readme_s_xargs_line_runs_four_shards_that_make_one_run() {
    let line = recipe();
    // The line fixes the day once (`date +%F`): the single run compares on that day. A run
    // that crossed midnight is run again.
    for _ in 0..2 {
        let archive = scheduler_support::archive();
        let dir = archive.tmp.path();
        let before = today();
        let out = sh(dir, &line);
        if today() != before {
            continue;
        }
        let said =
            format!("{line}\n{}\nstdout: {}\nstderr: {}", out.status, support::stdout(&out), support::stderr(&out));
        for k in 0..4 {
            assert!(support::stderr(&out).contains(&format!("shard {k}/4")), "{said}");
        }
        // The line prints the merged report missing: that of one run over the archive.
        let whole = scheduler_support::ran(dir, &["report", "missing", "archive", "--no-state", "--as-of", &before]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{said}");
        assert!(!out.stdout.is_empty() && out.stdout == whole.stdout, "{said}\none run: {}", support::stdout(&whole));
        let results = dir.join("results");
        scheduler_support::assert_shard_files(&results, 4);
        scheduler_support::assert_merge_is_one_run(&results, dir, "archive", &before);
        return;
    }
    panic!("the day changed during both runs");
}
