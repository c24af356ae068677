//! The repository's Slurm job array (`deploy/slurm/consentry-array.sbatch`) run by a real Slurm
//! (issue 15, item 4): the test starts a one-node cluster of its own (munged, slurmctld, slurmd
//! with a `slurm.conf`, a munge key, sockets, ports, state and logs all in a temporary
//! directory), submits the script as an array of 4 over a generated archive, waits for it, and
//! compares the shards' results with one run over the whole archive. The daemons it started are
//! stopped by their pids when it ends, failed or not.
//!
//! Needs root (slurmd runs jobs as their user; munged is started as the `munge` user) and the
//! Debian packages `slurm-wlm` and `munge` (scripts/test.sh installs them): without them the
//! test is skipped with a message, and fails under `CI=true`.

#![cfg(unix)]

mod scheduler_support;
mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A program of the Slurm or munge packages: on `PATH`, or in the sbin folders a user's `PATH`
/// may lack.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut dirs: Vec<&str> = path.split(':').collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
    dirs.into_iter().map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

/// The uid and gid of a user, from `id`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok().filter(|_| out.status.success())
    };
    Some((id("-u")?, id("-g")?))
}

/// The daemons a test started, stopped (SIGTERM, then SIGKILL after 10 s) by their pids in the
/// reverse order of their start when it is dropped: at the end of the test, failed or not.
struct Daemons {
    started: Vec<(&'static str, Child)>,
}

impl Daemons {
    fn start(&mut self, name: &'static str, cmd: &mut Command) -> &mut Child {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.started.push((name, child));
        &mut self.started.last_mut().unwrap().1
    }

    /// A daemon that has already exited, with its status: it could not start.
    fn exited(&mut self) -> Option<String> {
        self.started.iter_mut().find_map(|(name, c)| c.try_wait().ok().flatten().map(|s| format!("{name} exited: {s}")))
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for (name, child) in self.started.iter_mut().rev() {
            if child.try_wait().ok().flatten().is_some() {
                continue;
            }
            // SAFETY: a plain signal to our own child, which has not been reaped (try_wait above).
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    eprintln!("{name} (pid {}) did not stop on SIGTERM: killed", child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A TCP port on the loopback that nothing listens on now: the test's cluster does not depend
/// on (or disturb) a Slurm already running here on the default ports 6817 and 6818.
fn free_port() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// The one-node cluster's configuration: everything in `dir`; no accounting, no cgroups.
fn slurm_conf(dir: &Path, munge_socket: &Path, ctld_port: u16, slurmd_port: u16) -> String {
    let host = String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout).unwrap();
    let host = host.trim();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let d = dir.display();
    format!(
        "# consentry's tests/slurm_array.rs: a one-node cluster in a temporary directory\n\
         ClusterName=consentrytest\n\
         SlurmctldHost={host}(127.0.0.1)\n\
         SlurmctldPort={ctld_port}\n\
         SlurmdPort={slurmd_port}\n\
         SlurmUser=root\n\
         SlurmdUser=root\n\
         AuthType=auth/munge\n\
         CredType=cred/munge\n\
         AuthInfo=socket={socket}\n\
         StateSaveLocation={d}/state\n\
         SlurmdSpoolDir={d}/spool\n\
         SlurmctldPidFile={d}/slurmctld.pid\n\
         SlurmdPidFile={d}/slurmd.pid\n\
         SlurmctldLogFile={d}/slurmctld.log\n\
         SlurmdLogFile={d}/slurmd.log\n\
         ProctrackType=proctrack/linuxproc\n\
         TaskPlugin=task/none\n\
         JobAcctGatherType=jobacct_gather/none\n\
         AccountingStorageType=accounting_storage/none\n\
         JobCompType=jobcomp/none\n\
         SelectType=select/cons_tres\n\
         SelectTypeParameters=CR_Core\n\
         SchedulerType=sched/backfill\n\
         MpiDefault=none\n\
         MailProg=/bin/true\n\
         ReturnToService=2\n\
         NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
         PartitionName=consentry Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
        socket = munge_socket.display(),
    )
}

/// A Slurm client command (`sbatch`, `sinfo`, `scontrol`) of the test's cluster.
fn client(name: &str, conf: &Path) -> Command {
    let mut c = Command::new(program(name).unwrap_or_else(|| PathBuf::from(name)));
    c.env("SLURM_CONF", conf);
    c
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// What the cluster logged and the job printed, for a failure's message.
fn diagnostics(dir: &Path, submit_dir: &Path) -> String {
    let mut said = String::new();
    for file in ["munge/munged.log", "slurmctld.log", "slurmd.log"] {
        let log = fs::read_to_string(dir.join(file)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        said += &format!("\n--- {file} (last lines)\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    if let Ok(entries) = fs::read_dir(submit_dir) {
        for e in entries.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".out")) {
            said += &format!("\n--- {}\n{}", e.file_name().to_string_lossy(), fs::read_to_string(e.path()).unwrap());
        }
    }
    said
}

#[test]
fn the_repository_s_slurm_array_over_an_archive_gives_the_records_of_one_run() {
    let needed = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo"];
    if let Some(absent) = needed.iter().find(|p| program(p).is_none()) {
        return support::missing(&format!("{absent} (Debian packages slurm-wlm and munge)"));
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return support::missing("root (the test's one-node Slurm cluster runs its jobs and munged as root does)");
    }
    let Some((munge_uid, munge_gid)) = user_ids("munge") else {
        return support::missing("the munge user (Debian package munge)");
    };

    let archive = scheduler_support::archive();
    // The cluster's directory: the munge user must reach its socket there.
    let cluster = tempfile::tempdir().unwrap();
    let dir = cluster.path();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["state", "spool", "submit", "munge"] {
        fs::create_dir(dir.join(sub)).unwrap();
    }
    let munge_dir = dir.join("munge");
    // munged's own key (it accepts a key only owned by its user and readable by no one else),
    // so that the test depends on no key installed on the machine.
    let mut key = vec![0u8; 1024];
    fs::File::open("/dev/urandom").unwrap().read_exact(&mut key).unwrap();
    let key_file = munge_dir.join("munge.key");
    fs::write(&key_file, &key).unwrap();
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o400)).unwrap();
    std::os::unix::fs::chown(&key_file, Some(munge_uid), Some(munge_gid)).unwrap();
    std::os::unix::fs::chown(&munge_dir, Some(munge_uid), Some(munge_gid)).unwrap();
    let socket = munge_dir.join("munge.socket");

    let (ctld_listener, ctld_port) = free_port();
    let (slurmd_listener, slurmd_port) = free_port();
    let conf = dir.join("slurm.conf");
    fs::write(&conf, slurm_conf(dir, &socket, ctld_port, slurmd_port)).unwrap();
    drop((ctld_listener, slurmd_listener));

    let mut daemons = Daemons { started: Vec::new() };
    let quiet = || Stdio::null();
    let munged = daemons.start(
        "munged",
        Command::new(program("munged").unwrap())
            .arg("--foreground")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key_file.display()))
            .arg(format!("--pid-file={}", munge_dir.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge_dir.join("munged.log").display()))
            .arg(format!("--seed-file={}", munge_dir.join("munged.seed").display()))
            .uid(munge_uid)
            .gid(munge_gid)
            .stdout(quiet())
            .stderr(quiet()),
    );
    let munged_pid = munged.id();
    let started = Instant::now();
    while !socket.exists() {
        if let Some(why) = daemons.exited() {
            panic!("munged (pid {munged_pid}) did not start: {why}{}", diagnostics(dir, &dir.join("submit")));
        }
        assert!(started.elapsed() < Duration::from_secs(30), "munged made no socket{}", diagnostics(dir, dir));
        std::thread::sleep(Duration::from_millis(50));
    }
    // slurmctld -i: a new cluster, no state to recover.
    let daemon = |name: &str, args: &[&str]| {
        let mut c = Command::new(program(name).unwrap());
        c.args(args).env("SLURM_CONF", &conf).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    daemons.start("slurmctld", &mut daemon("slurmctld", &["-D", "-i", "-f", conf.to_str().unwrap()]));
    daemons.start("slurmd", &mut daemon("slurmd", &["-D", "-f", conf.to_str().unwrap()]));
    // Wait for the node to register with the controller (a stale daemon on our ports, or a
    // configuration this Slurm refuses, shows in its log).
    let started = Instant::now();
    loop {
        if let Some(why) = daemons.exited() {
            panic!("the cluster did not start: {why}{}", diagnostics(dir, dir));
        }
        let sinfo = client("sinfo", &conf).args(["--noheader", "--format=%T"]).output().unwrap();
        if sinfo.status.success() && String::from_utf8_lossy(&sinfo.stdout).trim() == "idle" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node did not come up within 60 s (sinfo: {}){}",
            text(&sinfo),
            diagnostics(dir, dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The repository's script as an array of 4 (its default), from the submit folder, with
    // consentry on PATH and the archive and results from the environment it documents. The
    // day is left to the script: the array's submission day.
    let submit = dir.join("submit");
    let results = dir.join("results");
    let script = support::repo().join("deploy/slurm/consentry-array.sbatch");
    let mut sbatch = client("sbatch", &conf);
    sbatch
        .args(["--parsable", "--wait"])
        .arg(&script)
        .current_dir(&submit)
        .env("PATH", scheduler_support::path_with_consentry())
        .env("CONSENTRY_ARCHIVE", &archive.root)
        .env("CONSENTRY_RESULTS", &results)
        .env("XDG_CACHE_HOME", support::cache_home())
        .env_remove("CONSENTRY_REGISTER")
        .env_remove("CONSENTRY_AS_OF")
        .env_remove("CONSENTRY_SHARD")
        .env_remove("CONSENTRY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for locale in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        sbatch.env_remove(locale);
    }
    let mut job = sbatch.spawn().unwrap();
    // `sbatch --wait` returns when every task of the array has ended. A guard against a job
    // that never runs (it fails the test with the cluster's logs; it is not what is tested).
    let started = Instant::now();
    while job.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(600) {
            let _ = job.kill();
            panic!("the job array did not finish within 10 minutes{}", diagnostics(dir, &submit));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let job = job.wait_with_output().unwrap();
    let took = started.elapsed();
    let job_id = String::from_utf8_lossy(&job.stdout).lines().next().unwrap_or_default().trim().to_string();
    assert!(job.status.success(), "sbatch --wait: {} {}{}", job.status, text(&job), diagnostics(dir, &submit));
    eprintln!("the array of 4 ran in {:.1} s", took.as_secs_f64());

    // Every task ran as a task of one array of 4, and said which shard it was.
    let show = client("scontrol", &conf).args(["show", "job", &job_id]).output().unwrap();
    let show = text(&show);
    for k in 0..4 {
        let log = fs::read_to_string(submit.join(format!("consentry-scan-{job_id}_{k}.out")))
            .unwrap_or_else(|e| panic!("task {k}'s output: {e}{}", diagnostics(dir, &submit)));
        assert!(log.contains(&format!("shard {k}/4")), "task {k}: {log}");
        assert!(show.contains(&format!("ArrayJobId={job_id} ArrayTaskId={k} ")), "{show}");
    }
    assert_eq!(show.matches("JobState=COMPLETED").count(), 4, "{show}");
    // The day the script gave every shard: the array's submission day.
    let submitted = show.split("SubmitTime=").nth(1).expect("scontrol shows the submission time");
    let as_of = &submitted[..10];

    scheduler_support::assert_shard_files(&results, 4);
    scheduler_support::assert_merge_is_one_run(&results, dir, archive.root.to_str().unwrap(), as_of);

    // The merge step the script's header shows, as a job that depends on the array.
    let wrap = format!("consentry merge {} -o merged.jsonl", results.display());
    let mut merge = client("sbatch", &conf);
    merge
        .args(["--parsable", "--wait", "--job-name=consentry-merge", "--output=merge.out"])
        .arg(format!("--dependency=afterok:{job_id}"))
        .args(["--wrap", &wrap])
        .current_dir(&submit)
        .env("PATH", scheduler_support::path_with_consentry())
        .env("XDG_CACHE_HOME", support::cache_home());
    let merged = merge.output().unwrap();
    // Exit 3: the archive's unreadable file is in the records.
    assert!(matches!(merged.status.code(), Some(0 | 3)), "{wrap}: {}{}", text(&merged), diagnostics(dir, &submit));
    let whole = scheduler_support::ran(
        archive.tmp.path(),
        &["scan", archive.root.to_str().unwrap(), "--no-state", "--as-of", as_of],
    );
    let merged = fs::read(submit.join("merged.jsonl")).unwrap();
    assert!(merged == whole.stdout, "the merge job's records are not those of one run{}", diagnostics(dir, &submit));
}
