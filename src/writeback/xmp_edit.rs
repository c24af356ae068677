//! Reading and updating consentry's fields in an XMP packet with Adobe's XMP Toolkit, leaving
//! everything else in it as it is.
//!
//! XMP Toolkit objects are created and dropped inside one file's task; the namespaces are
//! registered once, before the parallel phase ([`register_namespaces`]).

use xmp_toolkit::{XmpMeta, XmpValue};

use crate::written::{RecordedStatus, WrittenFields, MIRROR};
use crate::xmp::ns;

use super::Error;

/// When and from which register a written result was computed (`consentry:EvaluatedAt` and
/// `consentry:RegisterDigest`): where it came from, not part of the result (alone they do not
/// make a change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub evaluated_at: String,
    pub register_digest: String,
}

/// Register the namespaces of [`ns::PREFIXES`] with the XMP Toolkit (once, before files are
/// written in parallel): consentry's own, Lightroom's and PLUS (the Toolkit knows neither by
/// default; a file that uses them would otherwise register them in the middle of the parallel
/// phase), and those of the person sources with their usual prefixes, so that a file is written
/// the same whatever order files are processed in.
pub fn register_namespaces() -> Result<(), Error> {
    for (uri, prefix) in ns::PREFIXES {
        XmpMeta::register_namespace(uri, prefix)?;
    }
    Ok(())
}

fn text(meta: &XmpMeta, ns: &str, name: &str) -> Option<String> {
    meta.property(ns, name).map(|v| v.value)
}

pub(crate) fn items(meta: &XmpMeta, ns: &str, name: &str) -> Vec<String> {
    meta.property_array(ns, name).map(|v| v.value).collect()
}

/// The fields as they are in `meta` (`plus` read only when `want_plus`).
pub fn current(meta: &XmpMeta, want_plus: bool) -> WrittenFields {
    let plus = want_plus
        .then(|| {
            let status = text(meta, ns::PLUS, "ModelReleaseStatus")?;
            let code = status.strip_prefix(ns::PLUS_VOCAB).unwrap_or(&status).to_string();
            Some((code, items(meta, ns::PLUS, "ModelReleaseID")))
        })
        .flatten();
    WrittenFields {
        status: RecordedStatus::parse(&text(meta, ns::CONSENTRY, "Status").unwrap_or_default()),
        usage: items(meta, ns::CONSENTRY, "Usage"),
        missing: items(meta, ns::CONSENTRY, "Missing"),
        valid_until: text(meta, ns::CONSENTRY, "ValidUntil"),
        consent_ids: items(meta, ns::CONSENTRY, "ConsentIDs"),
        notes: text(meta, ns::CONSENTRY, "Notes"),
        mirror: items(meta, ns::LR, "hierarchicalSubject").into_iter().filter(|s| s.starts_with(MIRROR)).collect(),
        plus,
    }
}

fn set_bag(meta: &mut XmpMeta, ns: &str, name: &str, values: &[String]) -> Result<(), Error> {
    meta.delete_property(ns, name)?;
    let array = XmpValue::new(name.to_string()).set_is_array(true);
    for v in values {
        meta.append_array_item(ns, &array, &XmpValue::new(v.clone()))?;
    }
    Ok(())
}

fn set_text(meta: &mut XmpMeta, ns: &str, name: &str, value: Option<&str>) -> Result<(), Error> {
    meta.delete_property(ns, name)?;
    match value {
        Some(v) if !v.is_empty() => Ok(meta.set_property(ns, name, &XmpValue::new(v.to_string()))?),
        _ => Ok(()),
    }
}

/// Write `fields` and `provenance` into `meta`, leaving everything else as it is.
pub fn update(meta: &mut XmpMeta, fields: &WrittenFields, provenance: &Provenance) -> Result<(), Error> {
    let own = ns::CONSENTRY;
    set_text(meta, own, "Status", Some(fields.status.as_str()))?;
    set_bag(meta, own, "Usage", &fields.usage)?;
    set_bag(meta, own, "Missing", &fields.missing)?;
    set_text(meta, own, "ValidUntil", fields.valid_until.as_deref())?;
    set_bag(meta, own, "ConsentIDs", &fields.consent_ids)?;
    set_text(meta, own, "Notes", fields.notes.as_deref())?;
    set_text(meta, own, "EvaluatedAt", Some(&provenance.evaluated_at))?;
    set_text(meta, own, "RegisterDigest", Some(&provenance.register_digest))?;

    // The mirror: keep every other keyword where it is, replace consentry's own.
    let keywords = items(meta, ns::LR, "hierarchicalSubject");
    if keywords.iter().any(|k| k.starts_with(MIRROR)) || !fields.mirror.is_empty() {
        let kept: Vec<String> = keywords.into_iter().filter(|k| !k.starts_with(MIRROR)).collect();
        let all: Vec<String> = kept.into_iter().chain(fields.mirror.iter().cloned()).collect();
        set_bag(meta, ns::LR, "hierarchicalSubject", &all)?;
        if all.is_empty() {
            meta.delete_property(ns::LR, "hierarchicalSubject")?;
        }
    }

    if let Some((code, ids)) = &fields.plus {
        meta.delete_property(ns::PLUS, "ModelReleaseStatus")?;
        let uri = XmpValue::new(format!("{}{code}", ns::PLUS_VOCAB)).set_is_uri(true);
        meta.set_property(ns::PLUS, "ModelReleaseStatus", &uri)?;
        set_bag(meta, ns::PLUS, "ModelReleaseID", ids)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::Status;
    use crate::model::Vocabulary;
    use crate::writeback::plan::{fields, tests::decision};
    use xmp_toolkit::ToStringOptions;

    #[test]
    fn update_owns_only_its_fields_and_the_consent_subtree() {
        register_namespaces().unwrap();
        let text = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Anna</rdf:li><rdf:li>Consent|tv</rdf:li><rdf:li>Places|Berlin</rdf:li></rdf:Bag></lr:hierarchicalSubject>
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sommerfest</rdf:li></rdf:Alt></dc:title>
            </rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let mut meta: XmpMeta = text.parse().unwrap();
        let voc = Vocabulary::default();
        let f = fields(&decision(Status::Green, &["print", "web"]), &voc, false);
        let stamp = Provenance { evaluated_at: "2026-11-22".into(), register_digest: "abc".into() };
        assert_ne!(current(&meta, false), f);
        update(&mut meta, &f, &stamp).unwrap();
        assert_eq!(current(&meta, false), f);
        assert_eq!(
            items(&meta, ns::LR, "hierarchicalSubject"),
            ["People|Anna", "Places|Berlin", "Consent|print", "Consent|web", "Consent|Status|green"]
        );
        assert!(meta.to_string().contains("Sommerfest"));
        // Serialised and parsed again: the same fields (what a second `apply` compares).
        let again: XmpMeta = meta.to_string().parse().unwrap();
        assert_eq!(current(&again, false), f);
        // A red result replaces the mirror with its status, keeps the user's keywords.
        let red = fields(&decision(Status::Red, &[]), &voc, false);
        update(&mut meta, &red, &stamp).unwrap();
        assert_eq!(items(&meta, ns::LR, "hierarchicalSubject"), ["People|Anna", "Places|Berlin", "Consent|Status|red"]);
        assert_eq!(current(&meta, false), red);
    }

    /// What the scan reads of a packet (see [`WrittenFields::from_props`]).
    fn current_fast(packet: &[u8], want_plus: bool) -> Option<WrittenFields> {
        WrittenFields::from_props(&crate::xmp::parse(packet, &ns::is_written).ok()?, want_plus)
    }

    #[test]
    fn the_fast_comparison_reads_what_the_toolkit_reads() {
        register_namespaces().unwrap();
        let voc = Vocabulary::default();
        let all: Vec<&str> = voc.names().collect();
        let stamp = Provenance { evaluated_at: "2026-11-22".into(), register_digest: "abc".into() };
        let mut with_dates = decision(Status::Green, &["web"]);
        with_dates.valid_until = Some("2030-01-31".parse().unwrap());
        for d in [
            decision(Status::Green, &all),
            with_dates,
            decision(Status::Red, &[]),
            decision(Status::None, &all),
            decision(Status::Yellow, &[]),
        ] {
            for plus in [false, true] {
                let f = fields(&d, &voc, plus);
                let mut meta: XmpMeta = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:lr="http://ns.adobe.com/lightroom/1.0/"><lr:hierarchicalSubject><rdf:Bag><rdf:li>People|Anna</rdf:li></rdf:Bag></lr:hierarchicalSubject></rdf:Description></rdf:RDF></x:xmpmeta>"#.parse().unwrap();
                update(&mut meta, &f, &stamp).unwrap();
                for options in [ToStringOptions::default(), ToStringOptions::default().use_compact_format()] {
                    let text = meta.to_string_with_options(options).unwrap();
                    assert_eq!(current_fast(text.as_bytes(), plus).as_ref(), Some(&current(&meta, plus)), "{text}");
                    assert_eq!(current_fast(text.as_bytes(), plus).unwrap(), f);
                }
            }
        }
        // Ambiguous packets are left to the Toolkit.
        let twice = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:consentry="http://ns.consentry.org/xmp/1.0/" consentry:Status="green"/>
            <rdf:Description rdf:about="" xmlns:consentry="http://ns.consentry.org/xmp/1.0/" consentry:Status="red"/>
            </rdf:RDF></x:xmpmeta>"#;
        assert_eq!(current_fast(twice.as_bytes(), false), None);
    }
}
