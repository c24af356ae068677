//! Where a file's result goes (embedded or a sidecar) and which fields are written for a
//! decision.

use std::fs;
use std::path::{Path, PathBuf};

use crate::consent::{Decision, Status};
use crate::media::{Embedding, Format};
use crate::model::Vocabulary;
use crate::walk;
use crate::written::{RecordedStatus, WrittenFields, MIRROR};

use super::Error;

/// Where a file's result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Into the file itself.
    Embedded(PathBuf, Format),
    /// Into this sidecar (existing or to be created).
    Sidecar(PathBuf),
}

impl Target {
    pub fn path(&self) -> &Path {
        match self {
            Target::Embedded(p, _) | Target::Sidecar(p) => p,
        }
    }
}

/// Whether XMP is written into files of this format (else into a sidecar): the format's
/// [`Embedding`].
pub fn embeds(format: Format) -> bool {
    format.embedding() != Embedding::SidecarOnly
}

/// The target for a media file: embedded when the format allows it (and sidecars are not
/// forced), else its existing sidecar, else `name.ext.xmp`. Also why it is not the file itself
/// when it could have been.
///
/// - A symbolic link is followed: the file it points to is replaced (the link stays a link).
/// - A file with other hard links gets a sidecar: replacing it atomically (by rename) would
///   separate it from its other names.
///
/// `shared`: the sidecar names another media file beside it also reads (the walk's pairing,
/// `walk::Job::Media`); none of them is written. When this file's own `name.ext.xmp`
/// is one of them too, it is not written at all (an error naming why).
pub fn target(
    path: &Path,
    format: Option<Format>,
    sidecars: &[PathBuf],
    shared: &[PathBuf],
    sidecar_always: bool,
) -> Result<(Target, Option<&'static str>), Error> {
    use std::os::unix::fs::MetadataExt;
    let mut why = None;
    if let Some(format) = format.filter(|&f| !sidecar_always && embeds(f)) {
        let link = fs::symlink_metadata(path).ok();
        let real = match &link {
            Some(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            _ => path.to_path_buf(),
        };
        let nlink = match &link {
            Some(m) if !m.file_type().is_symlink() => m.nlink(),
            _ => fs::metadata(&real).map(|m| m.nlink()).unwrap_or(1),
        };
        if nlink > 1 {
            why = Some("the file has other hard links: written to a sidecar, not into the file");
        } else {
            return Ok((Target::Embedded(real, format), None));
        }
    }
    // A `name.xmp` shared with another media file (`DSC_1.NEF` and `DSC_1.JPG`) belongs to
    // neither: the file gets its own `name.ext.xmp`.
    let sidecar = match sidecars.iter().find(|s| !walk::is_shared(shared, s)) {
        Some(s) if fs::symlink_metadata(s).is_ok_and(|m| m.file_type().is_symlink()) => {
            fs::canonicalize(s).unwrap_or_else(|_| s.clone())
        }
        Some(s) => s.clone(),
        None if walk::is_shared(shared, &walk::own_sidecar(path)) => {
            return Err(Error::SharedSidecar { path: path.to_path_buf(), sidecar: walk::own_sidecar(path) })
        }
        None => walk::own_sidecar(path),
    };
    Ok((Target::Sidecar(sidecar), why))
}

/// The fields written for a decision.
pub fn fields(decision: &Decision, vocabulary: &Vocabulary, plus: bool) -> WrittenFields {
    let notes = (!decision.notes.is_empty()).then(|| decision.notes.join("; "));
    let plus = plus.then(|| {
        let all = vocabulary.names().all(|u| decision.usage.iter().any(|have| have == u));
        let code = match decision.status {
            Status::None | Status::Exempt => "MR-NAP",
            Status::Green if all => "MR-UMR",
            Status::Green | Status::Yellow => "MR-LMR",
            // `apply` never writes into an unreadable file; were it asked to, no release.
            Status::Red | Status::Unreadable => "MR-NON",
        };
        (code.to_string(), decision.consents.clone())
    });
    WrittenFields {
        status: RecordedStatus::Known(decision.status),
        usage: decision.usage.clone(),
        missing: decision.missing.iter().map(|m| m.name.clone()).collect(),
        valid_until: decision.valid_until.map(|d| d.to_string()),
        consent_ids: decision.consents.clone(),
        notes,
        mirror: mirror(decision, vocabulary),
        plus,
    }
}

/// The Lightroom keywords for a decision: each usage in the vocabulary's spelling
/// (`Consent|Druck`), then the status (`Consent|Status|green`), for Library filters.
fn mirror(decision: &Decision, vocabulary: &Vocabulary) -> Vec<String> {
    decision
        .usage
        .iter()
        .map(|u| format!("{MIRROR}{}", vocabulary.spelling(u)))
        .chain(std::iter::once(format!("{MIRROR}{STATUS_KEYWORD}{}", decision.status.as_str())))
        .collect()
}

/// The part of the status keyword after [`MIRROR`]: `Consent|Status|red`.
pub const STATUS_KEYWORD: &str = "Status|";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::consent::{Missing, Reason};

    pub(crate) fn decision(status: Status, usage: &[&str]) -> Decision {
        Decision {
            status,
            usage: usage.iter().map(|s| s.to_string()).collect(),
            missing: if status == Status::Red {
                vec![Missing { name: "Anna".into(), reason: Reason::Unknown }]
            } else {
                Vec::new()
            },
            consents: vec!["c1".into()],
            valid_until: None,
            notes: vec!["© Verein".into(), "nur intern".into()],
            exempted: Vec::new(),
        }
    }

    #[test]
    fn plus_release_status_follows_the_decision() {
        let voc = Vocabulary::default();
        let all: Vec<&str> = voc.names().collect();
        let code = |d: &Decision| fields(d, &voc, true).plus.unwrap().0;
        assert_eq!(code(&decision(Status::None, &all)), "MR-NAP");
        assert_eq!(code(&decision(Status::Exempt, &all)), "MR-NAP");
        assert_eq!(code(&decision(Status::Green, &all)), "MR-UMR");
        assert_eq!(code(&decision(Status::Green, &["web"])), "MR-LMR");
        assert_eq!(code(&decision(Status::Yellow, &[])), "MR-LMR");
        assert_eq!(code(&decision(Status::Unreadable, &[])), "MR-NON");
        assert_eq!(code(&decision(Status::Red, &[])), "MR-NON");
        assert!(fields(&decision(Status::Red, &[]), &voc, false).plus.is_none());
        assert_eq!(
            fields(&decision(Status::Green, &["web"]), &voc, false).notes.as_deref(),
            Some("© Verein; nur intern")
        );
    }

    #[test]
    fn a_sidecar_another_media_file_pairs_with_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["DSC_1.NEF", "dsc_1.jpg", "DSC_1.XMP", "x.jpg", "x.jpg.nef", "x.jpg.xmp", "solo.cr2", "solo.xmp"];
        for n in names {
            fs::write(dir.path().join(n), b"").unwrap();
        }
        let p = |n: &str| dir.path().join(n);
        // The walk's pairing: (sidecars, shared) of each media file.
        let mut jobs = std::collections::HashMap::new();
        walk::walk(
            &[dir.path().to_path_buf()],
            walk::WalkOptions { follow_links: true, skip: crate::own::walk_skips },
            |j| {
                if let walk::Job::Media { path, sidecars, shared } = j {
                    jobs.insert(path.file_name().unwrap().to_string_lossy().into_owned(), (sidecars, shared));
                }
                true
            },
        );
        let shared = |media: &str, sidecar: &str| walk::is_shared(&jobs[media].1, &p(sidecar));
        assert!(shared("DSC_1.NEF", "DSC_1.XMP"));
        assert!(shared("dsc_1.jpg", "DSC_1.XMP"));
        assert!(shared("x.jpg.nef", "x.jpg.xmp"), "x.jpg's own sidecar");
        // x.jpg's own `name.ext.xmp` is x.jpg.nef's `name.xmp` too: shared, so x.jpg is not
        // written at all (before, x.jpg's decision went into the file x.jpg.nef also reads).
        assert!(shared("x.jpg", "x.jpg.xmp"));
        assert!(!shared("solo.cr2", "solo.xmp"));
        let target_of = |media: &str| {
            let (sidecars, shared) = &jobs[media];
            target(&p(media), None, sidecars, shared, false)
        };
        assert_eq!(target_of("DSC_1.NEF").unwrap().0, Target::Sidecar(p("DSC_1.NEF.xmp")));
        assert_eq!(target_of("solo.cr2").unwrap().0, Target::Sidecar(p("solo.xmp")));
        assert!(target_of("x.jpg").unwrap_err().to_string().contains("also another media file's sidecar"));
    }
}
