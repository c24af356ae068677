//! consentry's own fields as recorded in a file's XMP: what `apply` writes for a decision and
//! what the scan finds a previous `apply` wrote (read with consentry's own parser, so that an
//! unchanged file is not read again).

use std::collections::BTreeMap;

use crate::consent::Status;
use crate::xmp::{self, ns};

/// Prefix of the `lr:hierarchicalSubject` items consentry owns.
pub const MIRROR: &str = "Consent|";

/// A status as recorded in a file: one consentry writes, or any other text found there (an
/// empty one when there is none). Compared and shown as the text it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedStatus {
    Known(Status),
    Other(String),
}

impl Default for RecordedStatus {
    fn default() -> Self {
        RecordedStatus::Other(String::new())
    }
}

impl RecordedStatus {
    /// The status a recorded text names, exactly as consentry writes it; any other text as it is.
    pub fn parse(text: &str) -> RecordedStatus {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .map_or_else(|| RecordedStatus::Other(text.to_string()), RecordedStatus::Known)
    }

    pub fn as_str(&self) -> &str {
        match self {
            RecordedStatus::Known(s) => s.as_str(),
            RecordedStatus::Other(t) => t,
        }
    }
}

/// The result fields consentry writes for one file. Two files with equal fields need no
/// rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenFields {
    pub status: RecordedStatus,
    pub usage: Vec<String>,
    pub missing: Vec<String>,
    pub valid_until: Option<String>,
    pub consent_ids: Vec<String>,
    pub notes: Option<String>,
    /// `lr:hierarchicalSubject` items under `Consent|`, in order.
    pub mirror: Vec<String>,
    /// With `--plus`: the PLUS model release status (vocabulary code) and release ids.
    pub plus: Option<(String, Vec<String>)>,
}

impl WrittenFields {
    /// The fields a previous `apply` wrote, read from properties parsed with consentry's own
    /// parser (the scan's parse of a file's only packet, or of its sidecar): the fast comparison
    /// that spares an unchanged file a second read and the XMP Toolkit. `None` when there are
    /// none (the file is to be written anyway) or it cannot tell (then the Toolkit decides).
    pub fn from_props(props: &[xmp::Prop], want_plus: bool) -> Option<WrittenFields> {
        let own: Vec<&xmp::Prop> = props.iter().filter(|p| ns::is_written(&p.ns)).collect();
        if !own.iter().any(|p| &*p.ns == ns::CONSENTRY) {
            return None;
        }
        // A property written twice (two rdf:Descriptions) is left to the Toolkit.
        for (i, p) in own.iter().enumerate() {
            if own[..i].iter().any(|q| q.ns == p.ns && q.name == p.name) {
                return None;
            }
        }
        let find = |ns: &str, name: &str| own.iter().find(|p| &*p.ns == ns && &*p.name == name).map(|p| &p.value);
        let text = |ns: &str, name: &str| -> Option<Option<String>> {
            match find(ns, name) {
                None => Some(None),
                Some(v) => v.as_text().map(|t| Some(t.to_string())),
            }
        };
        let items = |ns: &str, name: &str| -> Option<Vec<String>> {
            match find(ns, name) {
                None => Some(Vec::new()),
                Some(xmp::Value::Array(_, items)) => {
                    items.iter().map(|i| i.value.as_text().map(str::to_string)).collect()
                }
                Some(_) => None,
            }
        };
        let plus = if want_plus {
            match text(ns::PLUS, "ModelReleaseStatus")? {
                None => None,
                Some(status) => {
                    let code = status.strip_prefix(ns::PLUS_VOCAB).unwrap_or(&status).to_string();
                    Some((code, items(ns::PLUS, "ModelReleaseID")?))
                }
            }
        } else {
            None
        };
        Some(WrittenFields {
            status: RecordedStatus::parse(&text(ns::CONSENTRY, "Status")?.unwrap_or_default()),
            usage: items(ns::CONSENTRY, "Usage")?,
            missing: items(ns::CONSENTRY, "Missing")?,
            valid_until: text(ns::CONSENTRY, "ValidUntil")?,
            consent_ids: items(ns::CONSENTRY, "ConsentIDs")?,
            notes: text(ns::CONSENTRY, "Notes")?,
            mirror: items(ns::LR, "hierarchicalSubject")?.into_iter().filter(|s| s.starts_with(MIRROR)).collect(),
            plus,
        })
    }

    /// Whether fields read with `plus` (as the scan reads them) are `wanted` (which has `plus`
    /// only with `--plus`).
    pub fn same_as(&self, wanted: &WrittenFields) -> bool {
        if wanted.plus.is_some() {
            return self == wanted;
        }
        WrittenFields { plus: None, ..self.clone() } == *wanted
    }

    /// A short description of a change, for `--dry-run` and the output: `field: before -> after`.
    pub fn describe(&self, after: &WrittenFields) -> BTreeMap<&'static str, (String, String)> {
        let before = self;
        let mut d = BTreeMap::new();
        let list = |v: &[String]| v.join(", ");
        let mut add = |k: &'static str, a: String, b: String| {
            if a != b {
                d.insert(k, (a, b));
            }
        };
        add("status", before.status.as_str().to_string(), after.status.as_str().to_string());
        add("usage", list(&before.usage), list(&after.usage));
        add("missing", list(&before.missing), list(&after.missing));
        add(
            "valid_until",
            before.valid_until.clone().unwrap_or_default(),
            after.valid_until.clone().unwrap_or_default(),
        );
        add("consents", list(&before.consent_ids), list(&after.consent_ids));
        add("notes", before.notes.clone().unwrap_or_default(), after.notes.clone().unwrap_or_default());
        add("keywords", list(&before.mirror), list(&after.mirror));
        let plus = |p: &Option<(String, Vec<String>)>| {
            p.as_ref().map(|(c, ids)| format!("{c} {}", ids.join(","))).unwrap_or_default()
        };
        add("plus", plus(&before.plus), plus(&after.plus));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_status_is_the_text_it_was() {
        for s in Status::ALL {
            assert_eq!(RecordedStatus::parse(s.as_str()), RecordedStatus::Known(s));
        }
        // Any other text (another case, someone else's value) stays as it is, and differs.
        assert_eq!(RecordedStatus::parse("Green").as_str(), "Green");
        assert_ne!(RecordedStatus::parse("Green"), RecordedStatus::Known(Status::Green));
        assert_eq!(RecordedStatus::default().as_str(), "");
    }
}
