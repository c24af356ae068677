//! The reports with a row per file: `report missing`, `report unreleased`, `check` (the files
//! that block publication) and `apply` (what was written where).

use std::path::{Path, PathBuf};

use super::{Cell, Evaluated, Row};
use crate::consent::{Decision, Missing, Status};

/// Persons lacking consent, with the reasons.
fn missing_cell(missing: &[Missing]) -> Cell {
    Cell::Missing(missing.iter().map(|m| (m.name.clone(), m.reason.as_str())).collect())
}

/// A row of `report missing`: a red, yellow or unreadable file.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingFile {
    pub path: PathBuf,
    pub status: Status,
    pub missing: Vec<Missing>,
    pub error: Option<String>,
}

impl Row for MissingFile {
    const COLUMNS: &'static [&'static str] = &["path", "status", "missing", "error"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![(&self.path).into(), self.status.into(), missing_cell(&self.missing), self.error.as_deref().into()]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// Red, yellow and unreadable files with the missing persons and reasons (and the error).
pub fn missing(files: &[Evaluated]) -> Vec<MissingFile> {
    files
        .iter()
        .filter(|f| matches!(f.decision.status, Status::Red | Status::Yellow | Status::Unreadable))
        .map(|f| MissingFile {
            path: f.record.path.clone(),
            status: f.decision.status,
            missing: f.decision.missing.clone(),
            error: f.record.error(),
        })
        .collect()
}

/// A row of `report unreleased`: a file not cleared for every usage asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreleased {
    pub path: PathBuf,
    pub status: Status,
    /// The usages it is cleared for.
    pub usage: Vec<String>,
    /// The usages asked for that it is not cleared for.
    pub lacking: Vec<String>,
}

impl Row for Unreleased {
    const COLUMNS: &'static [&'static str] = &["path", "status", "usage", "lacking"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![(&self.path).into(), self.status.into(), Cell::list(&self.usage), Cell::list(&self.lacking)]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// The usages of `usages` a decision does not allow.
fn lacking(d: &Decision, usages: &[&str]) -> Vec<String> {
    usages.iter().filter(|u| !d.allows(&[u])).map(|u| u.to_string()).collect()
}

/// Files that have consents but may not be published for all of `usages`, and unreadable
/// files (released for nothing, whatever consents their persons have).
pub fn unreleased(files: &[Evaluated], usages: &[&str]) -> Vec<Unreleased> {
    files
        .iter()
        .filter(|f| {
            let d = &f.decision;
            (!d.consents.is_empty() || d.status == Status::Unreadable) && !d.allows(usages)
        })
        .map(|f| Unreleased {
            path: f.record.path.clone(),
            status: f.decision.status,
            usage: f.decision.usage.clone(),
            lacking: lacking(&f.decision, usages),
        })
        .collect()
}

/// A row of `check`: a file that blocks publication, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocking {
    pub path: PathBuf,
    pub status: Status,
    pub reason: String,
}

impl Row for Blocking {
    const COLUMNS: &'static [&'static str] = &["path", "status", "reason"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![(&self.path).into(), self.status.into(), self.reason.as_str().into()]
    }
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// The files that may not be published for all of `usages`: unreadable ones, those lacking a
/// consent, those not released for a usage.
pub fn check(files: &[Evaluated], usages: &[&str]) -> Vec<Blocking> {
    let mut rows = Vec::new();
    for f in files {
        let d = &f.decision;
        let reason = if d.status == Status::Unreadable {
            format!("unreadable: {}", f.record.error().unwrap_or_default())
        } else if !d.missing.is_empty() {
            format!("missing consent: {}", missing_cell(&d.missing).text(", "))
        } else if !d.allows(usages) {
            format!("not released for {}", lacking(d, usages).join(", "))
        } else {
            continue;
        };
        rows.push(Blocking { path: f.record.path.clone(), status: d.status, reason });
    }
    rows
}

/// A row of `apply`: what was (or would be) written for a file, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub path: String,
    /// The file written (the file itself or its sidecar); none when nothing is.
    pub target: Option<String>,
    pub action: &'static str,
    pub detail: String,
}

impl Row for Applied {
    const COLUMNS: &'static [&'static str] = &["path", "target", "action", "detail"];
    const FILES: bool = true;
    fn cells(&self) -> Vec<Cell> {
        vec![self.path.as_str().into(), self.target.as_deref().into(), self.action.into(), self.detail.as_str().into()]
    }
    fn file(&self) -> Option<&Path> {
        Some(Path::new(&self.path))
    }
}
