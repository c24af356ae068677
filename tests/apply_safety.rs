//! End-to-end tests of what `apply` must never do to a file (issue 12 part 1 and 2, SPEC.md 5):
//! write a decision into content it was not computed from (a file or sidecar changed after the
//! scan read it), replace a file another program holds locked, take a file from its owner or
//! group, lose its extended attributes and ACLs, create a sidecar other users cannot read, write
//! into a `name.xmp` another media file shares, or stop at a panic in one file's write.
//!
//! Interleavings are forced with apply's failpoints (debug builds only, see `apply::failpoint`):
//! `CONSENTRY_FAILPOINT_BEFORE_WRITE` runs a shell command with the target as `$1` after the
//! scan read the file and before it is written; `CONSENTRY_FAILPOINT_PANIC` names a file whose
//! write panics.

#![cfg(unix)]

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const AS_OF: &str = "2026-11-22";
const ANNA: &str = "2023/summer-fest/IMG_1001.jpg";
const RAW: &str = "raw/2024-03-10";

/// A private copy of the fixture archive and its register.
struct Archive {
    tmp: tempfile::TempDir,
    root: PathBuf,
    register: PathBuf,
}

impl Archive {
    fn new() -> Archive {
        let tmp = tempfile::tempdir().unwrap();
        let (root, register) = support::copy_fixtures(tmp.path());
        Archive { tmp, root, register }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn command(&self, target: &Path) -> Command {
        let mut c = support::consentry();
        c.args(["apply", target.to_str().unwrap(), "--register", self.register.to_str().unwrap()])
            .args(["--as-of", AS_OF, "--format", "jsonl"])
            .current_dir(self.tmp.path())
            .env_remove("CONSENTRY_REGISTER")
            .env_remove("CONSENTRY_FAILPOINT_BEFORE_WRITE")
            .env_remove("CONSENTRY_FAILPOINT_PANIC");
        c
    }

    fn apply(&self, target: &Path, env: &[(&str, &str)]) -> Output {
        let mut c = self.command(target);
        c.envs(env.iter().copied());
        c.output().unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn has_decision(path: &Path) -> bool {
    let bytes = fs::read(path).unwrap();
    bytes.windows(b"ns.consentry.org".len()).any(|w| w == b"ns.consentry.org")
}

fn tool(name: &str, probe: &str) -> bool {
    let found = Command::new(name).arg(probe).output().is_ok_and(|o| o.status.success());
    if !found {
        support::missing(name);
    }
    found
}

/// A shell command that rewrites `$1`'s sidecar (or `$1` itself) in place: same inode, same
/// size, modification time put back; only its change time and content tell.
fn in_place(what: &str, from: &str, to: &str) -> String {
    assert_eq!(from.len(), to.len());
    format!(
        r#"case "$1" in *IMG_1001.jpg|*portrait.jpg) f={what}; touch -r "$f" "$f.ref"; python3 -c 'import sys; p=sys.argv[1]; b=open(p,"rb").read(); assert b"{from}" in b; open(p,"r+b").write(b.replace(b"{from}", b"{to}"))' "$f"; touch -r "$f.ref" "$f"; rm "$f.ref";; esac"#
    )
}

#[test]
fn a_file_changed_after_it_was_read_is_not_written() {
    // Another program adds Mallory Doe (no consent) after the scan read the file: exiftool
    // (a new file renamed over it), or a rewrite in place that keeps inode, size and
    // modification time (Anna's name overwritten).
    let mut hooks = Vec::new();
    if support::exiftool_available() {
        hooks.push(r#"case "$1" in *IMG_1001.jpg) exiftool -q -overwrite_original '-XMP-iptcExt:PersonInImage+=Mallory Doe' "$1";; esac"#.to_string());
    }
    if tool("python3", "--version") {
        hooks.push(in_place(r#""$1""#, "Anna Schmidt", "Mallo Doe123"));
    }
    for hook in hooks {
        let a = Archive::new();
        let file = a.path(ANNA);
        let out = a.apply(&a.path("2023"), &[("CONSENTRY_FAILPOINT_BEFORE_WRITE", &hook)]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{hook}: {err}");
        assert!(err.contains(&format!("{}: changed while apply ran: run it again", file.display())), "{hook}: {err}");
        assert!(!has_decision(&file), "{hook}: no decision written into the changed file");
        assert!(
            fs::read(&file).unwrap().windows(5).any(|w| w == b"Mallo"),
            "{hook}: the other program's write is kept"
        );
        assert!(has_decision(&a.path("2023/summer-fest/IMG_1002.jpg")), "the other files are written");
    }
}

#[test]
fn a_file_whose_sidecar_changed_after_it_was_read_is_not_written() {
    if !tool("python3", "--version") {
        return;
    }
    let a = Archive::new();
    let dir = a.path("2024/portraits/studio");
    let file = dir.join("portrait.jpg");
    let sidecar = dir.join("portrait.jpg.xmp");
    // Moritz Schröder becomes Mallor Schröder, whom the register does not know.
    assert!(fs::read_to_string(&sidecar).unwrap().contains("Moritz Schr"));
    let hook = in_place(r#""$1.xmp""#, "Moritz", "Mallor");
    let out = a.apply(&dir, &[("CONSENTRY_FAILPOINT_BEFORE_WRITE", &hook)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}: changed while apply ran: run it again", sidecar.display())), "{err}");
    assert!(!has_decision(&file), "no decision written beside the changed sidecar");
}

/// A child holding a lock on `path` until it is dropped, started once the lock is held.
struct Holder(Child);

impl Holder {
    fn start(program: &str, args: &[&str]) -> Holder {
        let mut child = Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.stdin.take().map(|mut s| s.write_all(b"\n"));
        let _ = self.0.wait();
    }
}

fn locked_file_is_left_alone(holder: impl FnOnce(&Path) -> Holder, how: &str) {
    let a = Archive::new();
    let file = a.path(ANNA);
    let before = fs::read(&file).unwrap();
    let _held = holder(&file);
    let out = a.apply(&a.path("2023"), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}: locked by another program ({how})", file.display())), "{err}");
    assert_eq!(fs::read(&file).unwrap(), before);
    assert!(has_decision(&a.path("2023/summer-fest/IMG_1002.jpg")), "the other files are written");
}

#[test]
fn a_file_locked_with_flock_is_left_alone() {
    if !tool("flock", "--version") {
        return;
    }
    locked_file_is_left_alone(
        |f| Holder::start("flock", &[f.to_str().unwrap(), "sh", "-c", "echo locked; read x"]),
        "flock",
    );
}

#[test]
fn a_file_locked_with_fcntl_is_left_alone() {
    if !tool("python3", "--version") {
        return;
    }
    let script = "import fcntl, sys\nf = open(sys.argv[1], 'r+b')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.readline()\n";
    locked_file_is_left_alone(|f| Holder::start("python3", &["-c", script, f.to_str().unwrap()]), "fcntl");
}

fn is_root() -> bool {
    // SAFETY: a plain system call.
    unsafe { libc::geteuid() == 0 }
}

/// `apply` run as `nobody` (setpriv); `None` (skipped with a message) when not root.
fn apply_as_nobody(a: &Archive, target: &Path) -> Option<Output> {
    if !is_root() {
        support::missing("root (to run apply as another user, nobody)");
        return None;
    }
    if !tool("setpriv", "--version") {
        return None;
    }
    fs::set_permissions(a.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let cmd = a.command(target);
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]).arg(cmd.get_program()).args(cmd.get_args());
    c.current_dir(a.tmp.path()).env_remove("CONSENTRY_REGISTER");
    Some(c.output().unwrap())
}

#[test]
fn another_users_file_in_a_shared_directory_is_not_taken() {
    let a = Archive::new();
    let dir = a.path("2023/summer-fest");
    let file = a.path(ANNA);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let before = fs::read(&file).unwrap();
    let Some(out) = apply_as_nobody(&a, &file) else { return };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}: this user may not write the file", file.display())), "{err}");
    let m = fs::metadata(&file).unwrap();
    assert_eq!((m.uid(), fs::read(&file).unwrap()), (0, before));
}

#[test]
fn a_group_shared_file_keeps_its_owner_or_is_not_replaced() {
    let a = Archive::new();
    let dir = a.path("2023/summer-fest");
    let file = a.path(ANNA);
    let nogroup = 65534;
    std::os::unix::fs::chown(&dir, Some(0), Some(nogroup)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o2775)).unwrap();
    std::os::unix::fs::chown(&file, Some(0), Some(nogroup)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
    let before = fs::read(&file).unwrap();
    let Some(out) = apply_as_nobody(&a, &file) else { return };
    let err = stderr(&out);
    // nobody may write the file in place (group nogroup), but cannot give a new version to root.
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}: owned by 0:{nogroup}", file.display())), "{err}");
    let m = fs::metadata(&file).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, nogroup, 0o664));
    assert_eq!(fs::read(&file).unwrap(), before);
}

#[test]
fn extended_attributes_and_acls_are_kept() {
    if !tool("setfattr", "--version") || !tool("setfacl", "--version") {
        return;
    }
    let a = Archive::new();
    let file = a.path(ANNA);
    let f = file.to_str().unwrap();
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("setfattr").args(["-n", "user.comment", "-v", "kept by apply", f]));
    ok(Command::new("setfacl").args(["-m", "u:nobody:rw,g:nogroup:r", f]));
    let acl = |f: &str| String::from_utf8(Command::new("getfacl").args(["-c", f]).output().unwrap().stdout).unwrap();
    let acl_before = acl(f);
    assert!(acl_before.contains("user:nobody:rw-"), "{acl_before}");
    // A default ACL on the directory: the copy inherits it, the file without an ACL must not.
    let plain = a.path("2023/summer-fest/IMG_1002.jpg");
    let plain_acl = acl(plain.to_str().unwrap());
    ok(Command::new("setfacl").args(["-d", "-m", "u:nobody:r"]).arg(plain.parent().unwrap()));
    let ino = fs::metadata(&file).unwrap().ino();
    let out = a.apply(&a.path("2023"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(fs::metadata(&file).unwrap().ino(), ino, "replaced");
    assert!(has_decision(&file) && has_decision(&plain));
    let comment = Command::new("getfattr").args(["--only-values", "-n", "user.comment", f]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&comment.stdout), "kept by apply");
    assert_eq!(acl(f), acl_before);
    assert_eq!(acl(plain.to_str().unwrap()), plain_acl, "no ACL taken from the directory");
}

#[test]
fn a_new_sidecar_takes_the_media_files_permissions() {
    let a = Archive::new();
    let raw = a.path(&format!("{RAW}/P0003.ORF"));
    fs::set_permissions(&raw, fs::Permissions::from_mode(0o664)).unwrap();
    let out = a.apply(&raw, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sidecar = a.path(&format!("{RAW}/P0003.ORF.xmp"));
    assert_eq!(fs::metadata(&sidecar).unwrap().mode() & 0o777, 0o664);
}

#[test]
fn a_shared_name_xmp_is_never_written() {
    for single in [false, true] {
        let a = Archive::new();
        let shared = a.path(&format!("{RAW}/DSC_0001.xmp"));
        let before = fs::read(&shared).unwrap();
        let nef = a.path(&format!("{RAW}/DSC_0001.NEF"));
        let out = a.apply(if single { &nef } else { &a.root }, &[]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
        assert_eq!(fs::read(&shared).unwrap(), before, "single file: {single}");
        assert!(has_decision(&a.path(&format!("{RAW}/DSC_0001.NEF.xmp"))), "single file: {single}");
    }
}

#[test]
fn a_panic_in_one_files_write_is_an_error_for_that_file() {
    let a = Archive::new();
    let file = a.path(ANNA);
    let out = a.apply(&a.path("2023"), &[("CONSENTRY_FAILPOINT_PANIC", "IMG_1001.jpg")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}: internal error while writing", file.display())), "{err}");
    assert!(!has_decision(&file));
    assert!(has_decision(&a.path("2023/summer-fest/IMG_1002.jpg")), "the other files are written");
}

/// An XMP packet showing Anna Schmidt (who consented) and Mallory Doe (who did not) in a form
/// the XMP Toolkit does not keep when it rewrites the packet.
fn toolkit_lossy_forms() -> Vec<(&'static str, String)> {
    const NS: &str = r#"xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/""#;
    let root = |body: &str| {
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {NS}><rdf:Description rdf:about="">{body}</rdf:Description></rdf:RDF></x:xmpmeta>"#
        )
    };
    let anna =
        "<Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Anna Schmidt</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage>";
    let mallory =
        "<Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>Mallory Doe</rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImage>";
    let node_id = format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {NS}><rdf:Description rdf:about="">{anna}<Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:nodeID="n1"/></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails></rdf:Description><rdf:Description rdf:nodeID="n1"><Iptc4xmpExt:PersonName><rdf:Alt><rdf:li xml:lang="x-default">Mallory Doe</rdf:li></rdf:Alt></Iptc4xmpExt:PersonName></rdf:Description></rdf:RDF></x:xmpmeta>"#
    );
    vec![("second root after a NUL", format!("{}\0{}", root(anna), root(mallory))), ("rdf:nodeID", node_id)]
}

#[test]
fn apply_never_writes_a_copy_that_loses_a_depicted_person() {
    use consentry_synth::{self as synth, Embed, SynthFormat};
    for (form, packet) in toolkit_lossy_forms() {
        let a = Archive::new();
        // Embedded in a JPEG, and as the sidecar of a RAW file.
        let jpeg = a.path(ANNA);
        fs::write(&jpeg, synth::build(SynthFormat::Jpeg, &Embed { xmp: Some(packet.clone()), ..Embed::default() }))
            .unwrap();
        let raw = a.path(&format!("{RAW}/P0003.ORF"));
        for s in fs::read_dir(raw.parent().unwrap()).unwrap().map(|e| e.unwrap().path()) {
            if s.file_name().unwrap().to_string_lossy().starts_with("P0003.") && s != raw {
                fs::remove_file(s).unwrap();
            }
        }
        let sidecar = a.path(&format!("{RAW}/P0003.ORF.xmp"));
        fs::write(&sidecar, &packet).unwrap();
        for (target, file) in [(&jpeg, &jpeg), (&raw, &sidecar)] {
            let before = fs::read(file).unwrap();
            let out = a.apply(target, &[]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{form}, {}: {err}", file.display());
            assert!(err.contains("would lose 1 depicted person(s)"), "{form}, {}: {err}", file.display());
            assert_eq!(fs::read(file).unwrap(), before, "{form}: {} left as it was", file.display());
        }
    }
}
