//! Who is depicted: person names and unnamed faces from every person source of SPEC.md 2.3.
//! Pure: works on parsed XMP properties and decoded keyword strings.

use std::collections::BTreeSet;

use crate::xmp::{self, Prop, Value};

// The namespaces of the person sources, from the one table in [`xmp::ns`].
pub use crate::xmp::ns::{
    CONSENTRY as NS_CONSENTRY, DC as NS_DC, DIGIKAM as NS_DIGIKAM, EXIF as NS_EXIF, IPTC_EXT as NS_IPTC_EXT,
    LR as NS_LR, MP as NS_MP, MPREG as NS_MPREG, MPRI as NS_MPRI, MWG_RS as NS_MWG_RS, PHOTOSHOP as NS_PHOTOSHOP,
    XMP as NS_XMP, XMP_NOTE as NS_XMP_NOTE,
};

/// Namespaces whose top-level properties consentry reads; everything else in a packet is skipped.
pub fn is_wanted_namespace(ns: &str) -> bool {
    matches!(
        ns,
        NS_IPTC_EXT
            | NS_MWG_RS
            | NS_MP
            | NS_DIGIKAM
            | NS_LR
            | NS_PHOTOSHOP
            | NS_XMP
            | NS_XMP_NOTE
            | NS_EXIF
            | NS_CONSENTRY
    )
}

/// Microsoft Photo's marker for a face region nobody has named.
const MP_UNNAMED: &str = "ffffffffffffffff";

/// Revision of what a scan reads from a file, part of every file's reading fingerprint in the
/// state (`state`): raise it when a [`PersonSource`] is added, removed or renamed, or when what a
/// source reads changes without a version change, so that no record read the old way is reused.
/// The unit test `person_sources_are_pinned_with_the_reader_revision` fails until it is raised.
/// Revision 4: the plain keywords ([`Depicted::keywords`]) are read too.
pub const READER_REVISION: u32 = 4;

/// Where a person (or unnamed face) was found. Adding one: see [`READER_REVISION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum PersonSource {
    IptcPersonInImage,
    IptcPersonDetails,
    IptcImageRegion,
    MwgRegions,
    MpRegions,
    DigikamTags,
    LrHierarchicalSubject,
    XpKeywords,
    IimKeywords,
}

impl PersonSource {
    /// Every person source, in declaration order.
    pub const ALL: [PersonSource; 9] = [
        PersonSource::IptcPersonInImage,
        PersonSource::IptcPersonDetails,
        PersonSource::IptcImageRegion,
        PersonSource::MwgRegions,
        PersonSource::MpRegions,
        PersonSource::DigikamTags,
        PersonSource::LrHierarchicalSubject,
        PersonSource::XpKeywords,
        PersonSource::IimKeywords,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonSource::IptcPersonInImage => "iptc-person-in-image",
            PersonSource::IptcPersonDetails => "iptc-person-details",
            PersonSource::IptcImageRegion => "iptc-image-region",
            PersonSource::MwgRegions => "mwg-regions",
            PersonSource::MpRegions => "mp-regions",
            PersonSource::DigikamTags => "digikam-tags",
            PersonSource::LrHierarchicalSubject => "lr-hierarchical-subject",
            PersonSource::XpKeywords => "exif-xp-keywords",
            PersonSource::IimKeywords => "iptc-iim-keywords",
        }
    }
}

/// Top-level names of keyword hierarchies that hold persons (compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleRoots(Vec<String>);

impl Default for PeopleRoots {
    fn default() -> Self {
        PeopleRoots::new(["People", "Persons", "Personen"])
    }
}

impl PeopleRoots {
    pub fn new<S: AsRef<str>>(roots: impl IntoIterator<Item = S>) -> Self {
        PeopleRoots(
            roots.into_iter().map(|r| normalize_name(r.as_ref()).to_lowercase()).filter(|r| !r.is_empty()).collect(),
        )
    }

    fn matches(&self, segment: &str) -> bool {
        let seg = normalized_name(segment);
        // Most keywords are ASCII: compared without a lower-cased copy (the roots are lower
        // case already; an ASCII segment can equal only an ASCII root).
        if seg.is_ascii() {
            return self.0.iter().any(|root| root.eq_ignore_ascii_case(&seg));
        }
        self.0.contains(&seg.to_lowercase())
    }
}

/// Name normalisation is the register's too, so the domain layer (`model`) owns it.
pub use crate::model::{normalize_name, normalized_name};

/// Persons and unnamed faces found for one file, accumulated over its sources.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Depicted {
    pub persons: BTreeSet<String>,
    /// Unnamed face regions. Several sources (MWG and Microsoft regions, embedded XMP and a
    /// sidecar) usually describe the same faces, so this is the largest count of any one source
    /// in one document, not their sum.
    pub unnamed_faces: u32,
    /// Sources that contributed, with the sidecar's file name they were found in (`None`:
    /// embedded in the media file).
    pub sources: BTreeSet<(Option<String>, PersonSource)>,
    /// Plain keywords, normalised ([`normalize_name`]): `dc:subject`, IPTC IIM and XPKeywords
    /// items, and the leaves of `lr:hierarchicalSubject` and `digiKam:TagsList` items, all
    /// outside the people roots. Never persons (they mix people with places and topics): a
    /// keyword naming a person of the register is only a hint (`scan::Hint`). At most
    /// [`MAX_KEYWORDS`] are kept.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub keywords: BTreeSet<String>,
}

/// Most plain keywords kept for one file. They are hints, never decisions: past this the rest
/// are left out (the file's persons and status do not depend on them).
pub const MAX_KEYWORDS: usize = 10_000;

impl Depicted {
    fn add(&mut self, origin: &str, source: PersonSource, raw_name: &str) -> bool {
        let name = normalize_name(raw_name);
        if name.is_empty() {
            return false;
        }
        self.persons.insert(name);
        self.note(origin, source);
        true
    }

    fn keyword(&mut self, raw: &str) {
        if self.keywords.len() < MAX_KEYWORDS {
            let keyword = normalize_name(raw);
            if !keyword.is_empty() {
                self.keywords.insert(keyword);
            }
        }
    }

    fn note(&mut self, origin: &str, source: PersonSource) {
        let origin = (origin != EMBEDDED).then_some(origin);
        if !self.sources.iter().any(|(o, s)| o.as_deref() == origin && *s == source) {
            self.sources.insert((origin.map(str::to_string), source));
        }
    }

    fn unnamed(&mut self, origin: &str, source: PersonSource, count: u32) {
        if count > 0 {
            self.unnamed_faces = self.unnamed_faces.max(count);
            self.note(origin, source);
        }
    }

    /// Source labels for reports: `mwg-regions` for embedded metadata, `sidecar:NAME:mwg-regions`.
    pub fn source_labels(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|(origin, s)| match origin {
                None => s.as_str().to_string(),
                Some(sidecar) => format!("sidecar:{sidecar}:{}", s.as_str()),
            })
            .collect()
    }
}

/// Origin label of metadata embedded in the media file itself.
pub const EMBEDDED: &str = "embedded";

/// Collect persons from the properties of one XMP packet.
pub fn from_xmp(props: &[Prop], roots: &PeopleRoots, origin: &str, out: &mut Depicted) {
    for v in xmp::find_all(props, NS_IPTC_EXT, "PersonInImage") {
        for item in v.items() {
            if let Some(name) = item.as_text() {
                out.add(origin, PersonSource::IptcPersonInImage, name);
            }
        }
    }
    for v in xmp::find_all(props, NS_IPTC_EXT, "PersonInImageWDetails") {
        person_details(v, origin, PersonSource::IptcPersonDetails, out);
    }
    for v in xmp::find_all(props, NS_IPTC_EXT, "ImageRegion") {
        for region in v.items() {
            if let Some(p) = region.field(NS_IPTC_EXT, "PersonInImage") {
                for item in p.items() {
                    if let Some(name) = item.as_text() {
                        out.add(origin, PersonSource::IptcImageRegion, name);
                    }
                }
            }
            if let Some(d) = region.field(NS_IPTC_EXT, "PersonInImageWDetails") {
                person_details(d, origin, PersonSource::IptcImageRegion, out);
            }
        }
    }
    for v in xmp::find_all(props, NS_MWG_RS, "Regions") {
        let mut unnamed = 0;
        for list in v.field(NS_MWG_RS, "RegionList").into_iter() {
            for region in list.items() {
                let is_face = region
                    .field(NS_MWG_RS, "Type")
                    .and_then(Value::as_text)
                    .map(|t| t.trim().eq_ignore_ascii_case("face"));
                let name = region.field(NS_MWG_RS, "Name").and_then(Value::as_text).unwrap_or("");
                // A named region without a type is taken as a person: missing one is worse.
                match is_face {
                    Some(true) | None if out.add(origin, PersonSource::MwgRegions, name) => {}
                    Some(true) => unnamed += 1,
                    _ => {}
                }
            }
        }
        out.unnamed(origin, PersonSource::MwgRegions, unnamed);
    }
    for v in xmp::find_all(props, NS_MP, "RegionInfo") {
        let mut unnamed = 0;
        for list in v.field(NS_MPRI, "Regions").into_iter() {
            for region in list.items() {
                let name = region.field(NS_MPREG, "PersonDisplayName").and_then(Value::as_text).unwrap_or("");
                if name.trim().eq_ignore_ascii_case(MP_UNNAMED) || !out.add(origin, PersonSource::MpRegions, name) {
                    unnamed += 1;
                }
            }
        }
        out.unnamed(origin, PersonSource::MpRegions, unnamed);
    }
    for v in xmp::find_all(props, NS_DIGIKAM, "TagsList") {
        let items: Vec<&str> = v.items().into_iter().filter_map(Value::as_text).collect();
        from_keyword_paths(&items, &['/'], roots, origin, PersonSource::DigikamTags, out);
    }
    for v in xmp::find_all(props, NS_LR, "hierarchicalSubject") {
        let items: Vec<&str> = v.items().into_iter().filter_map(Value::as_text).collect();
        from_keyword_paths(&items, &['|'], roots, origin, PersonSource::LrHierarchicalSubject, out);
    }
    // Parsed only where [`is_keyword_namespace`] let the parser keep it.
    for v in xmp::find_all(props, NS_DC, "subject") {
        let items: Vec<&str> = v.items().into_iter().filter_map(Value::as_text).collect();
        plain_keywords(&items, out, roots);
    }
}

/// The namespace of the plain keywords (`dc:subject`): parsed for the hints only. Keywords are
/// hints, never decisions, so a reader that keeps it must not let a problem there cost the
/// file's persons: it parses again without it ([`is_wanted_namespace`]) when the packet has a
/// problem (`scan` does).
pub fn is_keyword_namespace(ns: &str) -> bool {
    ns == NS_DC
}

/// The plain keywords of `dc:subject` items (no hierarchy) into [`Depicted::keywords`]; an item
/// that is a people root alone is not one.
fn plain_keywords(items: &[&str], out: &mut Depicted, roots: &PeopleRoots) {
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if !roots.matches(item) {
            out.keyword(item);
        }
    }
}

fn person_details(v: &Value, origin: &str, source: PersonSource, out: &mut Depicted) {
    for person in v.items() {
        // Every alternative of a language alternative names the person (exiftool reports each).
        for name in person.field(NS_IPTC_EXT, "PersonName").map(Value::alternatives).unwrap_or_default() {
            out.add(origin, source, name);
        }
    }
}

/// Persons from hierarchical keywords: items whose first segment is a people root; the leaf is
/// the name. The leaf of every other item is a plain keyword ([`Depicted::keywords`]). A path that is only the parent of another path in the list (`People|Family` beside
/// `People|Family|Anna`) is a category, not a person.
pub fn from_keyword_paths(
    items: &[&str],
    separators: &[char],
    roots: &PeopleRoots,
    origin: &str,
    source: PersonSource,
    out: &mut Depicted,
) {
    // Paths under a people root as keys: segments normalised and lower-cased, joined with a
    // separator no name contains (one that does has it replaced). Built segment by segment, so
    // memory stays linear in the input even for a keyword of a million segments.
    const SEP: char = '\u{1F}';
    let mut paths: Vec<(String, &str)> = Vec::new();
    for item in items {
        let mut segments = item.split(separators).map(str::trim).filter(|s| !s.is_empty());
        let Some(first) = segments.next() else { continue };
        if !roots.matches(first) {
            // A plain keyword (no person): its leaf is a hint, never a decision.
            out.keyword(segments.next_back().unwrap_or(first));
            continue;
        }
        let mut key = normalize_name(first).to_lowercase().replace(SEP, "\u{FFFD}");
        let mut leaf = None;
        for segment in segments {
            key.push(SEP);
            key.push_str(&normalize_name(segment).to_lowercase().replace(SEP, "\u{FFFD}"));
            leaf = Some(segment);
        }
        if let Some(leaf) = leaf {
            paths.push((key, leaf));
        }
    }
    // A path is a parent when another key starts with its key and SEP. Sorted, such keys follow
    // one another from the first key not below `key + SEP`, so a binary search per path finds
    // them: O(n log n) comparisons. (Hashing every prefix of every key instead is quadratic in
    // the length of one keyword: a hostile one of a million segments hangs the scan.)
    let mut sorted: Vec<&str> = paths.iter().map(|(key, _)| key.as_str()).collect();
    sorted.sort_unstable();
    let mut probe = String::new();
    for (key, leaf) in &paths {
        probe.clear();
        probe.push_str(key);
        probe.push(SEP);
        let next = sorted.partition_point(|k| *k < probe.as_str());
        if !sorted.get(next).is_some_and(|k| k.starts_with(probe.as_str())) {
            out.add(origin, source, leaf);
        }
    }
}

/// Persons from flat keyword lists that may hold hierarchical items (`People/Name`,
/// `People|Name`): EXIF XPKeywords (`;`-separated) and IPTC-IIM keywords.
/// Their plain items (outside a people root) are [`Depicted::keywords`] ([`from_keyword_paths`]).
pub fn from_flat_keywords(items: &[&str], roots: &PeopleRoots, source: PersonSource, out: &mut Depicted) {
    from_keyword_paths(items, &['/', '|'], roots, EMBEDDED, source, out);
}

/// Split EXIF XPKeywords into items.
pub fn split_xp_keywords(raw: &str) -> Vec<&str> {
    raw.split(';').map(str::trim).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The person sources (and their tags) that [`READER_REVISION`] stands for. When the list
    /// changes, raise `READER_REVISION` and pin the new revision with the new list here.
    const PINNED_SOURCES: (u32, [&str; 9]) = (
        4,
        [
            "iptc-person-in-image",
            "iptc-person-details",
            "iptc-image-region",
            "mwg-regions",
            "mp-regions",
            "digikam-tags",
            "lr-hierarchical-subject",
            "exif-xp-keywords",
            "iptc-iim-keywords",
        ],
    );

    #[test]
    fn person_sources_are_pinned_with_the_reader_revision() {
        // Exhaustive on purpose: a new source does not compile here until it is in `ALL` (and
        // so in the list compared below).
        let listed = |s: PersonSource| match s {
            PersonSource::IptcPersonInImage
            | PersonSource::IptcPersonDetails
            | PersonSource::IptcImageRegion
            | PersonSource::MwgRegions
            | PersonSource::MpRegions
            | PersonSource::DigikamTags
            | PersonSource::LrHierarchicalSubject
            | PersonSource::XpKeywords
            | PersonSource::IimKeywords => PersonSource::ALL.contains(&s),
        };
        assert!(PersonSource::ALL.into_iter().all(listed));
        let tags: Vec<&str> = PersonSource::ALL.iter().map(|s| s.as_str()).collect();
        let (pinned_revision, pinned_tags) = PINNED_SOURCES;
        assert!(
            tags == pinned_tags || READER_REVISION > pinned_revision,
            "the person sources changed from {pinned_tags:?} to {tags:?} but people::READER_REVISION is still \
             {READER_REVISION}: raise it (so no state record read without the change is reused), then pin the new \
             revision and list in PINNED_SOURCES"
        );
        assert_eq!(
            (READER_REVISION, tags.as_slice()),
            (pinned_revision, pinned_tags.as_slice()),
            "pin people::READER_REVISION together with the person sources in PINNED_SOURCES"
        );
        let unique: BTreeSet<&str> = tags.iter().copied().collect();
        assert_eq!(unique.len(), tags.len(), "two person sources share a tag");
    }

    fn depicted(body: &str) -> Depicted {
        let packet = format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{body}</rdf:RDF></x:xmpmeta>"#
        );
        let props = xmp::parse(packet.as_bytes(), &|ns| is_wanted_namespace(ns) || is_keyword_namespace(ns)).unwrap();
        let mut d = Depicted::default();
        from_xmp(&props, &PeopleRoots::default(), EMBEDDED, &mut d);
        d
    }

    #[test]
    fn normalisation_is_nfc_trimmed_and_collapsed() {
        assert_eq!(normalize_name("  Jo\u{0308}rg \t  Mu\u{0308}ller \n"), "J\u{f6}rg M\u{fc}ller");
        assert_eq!(normalize_name("   "), "");
    }

    #[test]
    fn person_in_image_bag_any_prefix() {
        let d = depicted(
            r#"<rdf:Description xmlns:foo="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><foo:PersonInImage><rdf:Bag><rdf:li>Anna Schmidt</rdf:li><rdf:li> Ben  Meyer </rdf:li></rdf:Bag></foo:PersonInImage></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Anna Schmidt", "Ben Meyer"]);
        assert_eq!(d.source_labels(), ["iptc-person-in-image"]);
    }

    #[test]
    fn person_details_lang_alt_every_alternative_is_a_name() {
        // With x-default, and without one: every language names the person (exiftool reads each).
        let d = depicted(
            r#"<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:PersonName><rdf:Alt><rdf:li xml:lang="de">Anna S.</rdf:li><rdf:li xml:lang="x-default">Anna Schmidt</rdf:li></rdf:Alt></Iptc4xmpExt:PersonName></rdf:li><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:PersonName><rdf:Alt><rdf:li xml:lang="en">Ben</rdf:li><rdf:li xml:lang="fr">Benoît</rdf:li></rdf:Alt></Iptc4xmpExt:PersonName></rdf:li></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Anna S.", "Anna Schmidt", "Ben", "Benoît"]);
    }

    #[test]
    fn node_id_references_are_followed() {
        let d = depicted(
            r#"<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonInImageWDetails><rdf:Bag><rdf:li rdf:nodeID="n1"/></rdf:Bag></Iptc4xmpExt:PersonInImageWDetails></rdf:Description><rdf:Description rdf:nodeID="n1" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><Iptc4xmpExt:PersonName>Anna Schmidt</Iptc4xmpExt:PersonName></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Anna Schmidt"]);
    }

    #[test]
    fn image_region_persons() {
        let d = depicted(
            r#"<rdf:Description xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><I:ImageRegion><rdf:Bag><rdf:li><rdf:Description><I:PersonInImage><rdf:Bag><rdf:li>Carla</rdf:li></rdf:Bag></I:PersonInImage></rdf:Description></rdf:li></rdf:Bag></I:ImageRegion></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Carla"]);
        assert_eq!(d.source_labels(), ["iptc-image-region"]);
    }

    #[test]
    fn mwg_regions_named_unnamed_and_non_face() {
        let d = depicted(
            r#"<rdf:Description xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"><mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Seq>
              <rdf:li mwg-rs:Type="Face" mwg-rs:Name="Dora"/>
              <rdf:li><rdf:Description mwg-rs:Type="Face"/></rdf:li>
              <rdf:li rdf:parseType="Resource"><mwg-rs:Type>Face</mwg-rs:Type></rdf:li>
              <rdf:li mwg-rs:Type="Pet" mwg-rs:Name="Rex"/>
              <rdf:li mwg-rs:Name="Emil"/>
            </rdf:Seq></mwg-rs:RegionList></mwg-rs:Regions></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Dora", "Emil"]);
        assert_eq!(d.unnamed_faces, 2);
    }

    #[test]
    fn mp_regions_unnamed_marker() {
        let d = depicted(
            r#"<rdf:Description xmlns:MP="http://ns.microsoft.com/photo/1.2/" xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#"><MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
              <rdf:li MPReg:PersonDisplayName="Fritz" MPReg:Rectangle="0.1, 0.1, 0.2, 0.2"/>
              <rdf:li MPReg:PersonDisplayName="ffffffffffffffff"/>
            </rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Fritz"]);
        assert_eq!(d.unnamed_faces, 1);
    }

    #[test]
    fn unnamed_faces_are_max_not_sum_across_schemas() {
        let d = depicted(
            r#"<rdf:Description xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" xmlns:MP="http://ns.microsoft.com/photo/1.2/" xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">
            <mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag><rdf:li mwg-rs:Type="Face"/><rdf:li mwg-rs:Type="Face"/></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>
            <MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag><rdf:li MPReg:Rectangle="0,0,1,1"/><rdf:li MPReg:Rectangle="0,0,1,1"/></rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description>"#,
        );
        assert_eq!(d.unnamed_faces, 2);
    }

    #[test]
    fn keyword_hierarchies_under_people_roots_only() {
        let d = depicted(
            r#"<rdf:Description xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <digiKam:TagsList><rdf:Seq><rdf:li>People/Gina</rdf:li><rdf:li>Places/Berlin</rdf:li><rdf:li>personen/Familie</rdf:li><rdf:li>Personen/Familie/Hans</rdf:li><rdf:li>People</rdf:li></rdf:Seq></digiKam:TagsList>
            <lr:hierarchicalSubject><rdf:Bag><rdf:li>PERSONS|Ida</rdf:li><rdf:li>Events|People|Not A Person</rdf:li></rdf:Bag></lr:hierarchicalSubject>
            <dc:subject><rdf:Bag><rdf:li>Jan</rdf:li></rdf:Bag></dc:subject></rdf:Description>"#,
        );
        assert_eq!(names(&d), ["Gina", "Hans", "Ida"]);
        assert_eq!(d.source_labels(), ["digikam-tags", "lr-hierarchical-subject"]);
    }

    fn names(d: &Depicted) -> Vec<&str> {
        d.persons.iter().map(String::as_str).collect()
    }

    #[test]
    fn plain_keywords_are_read_apart_from_persons() {
        let d = depicted(
            r#"<rdf:Description xmlns:digiKam="http://www.digikam.org/ns/1.0/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <digiKam:TagsList><rdf:Seq><rdf:li>People/Gina</rdf:li><rdf:li>Places/Berlin</rdf:li><rdf:li>People</rdf:li></rdf:Seq></digiKam:TagsList>
            <lr:hierarchicalSubject><rdf:Bag><rdf:li>PERSONS|Ida</rdf:li><rdf:li>Events|Sommerfest</rdf:li></rdf:Bag></lr:hierarchicalSubject>
            <dc:subject><rdf:Bag><rdf:li> Anna   Schmidt </rdf:li><rdf:li>Jan</rdf:li><rdf:li>Gina</rdf:li><rdf:li>AC/DC</rdf:li><rdf:li> </rdf:li></rdf:Bag></dc:subject></rdf:Description>"#,
        );
        // Plain keywords are no person source (SPEC.md 2.3): the persons are the tagged ones.
        assert_eq!(names(&d), ["Gina", "Ida"]);
        let keywords: Vec<&str> = d.keywords.iter().map(String::as_str).collect();
        assert_eq!(keywords, ["AC/DC", "Anna Schmidt", "Berlin", "Gina", "Jan", "Sommerfest"]);
        assert_eq!(d.source_labels(), ["digikam-tags", "lr-hierarchical-subject"]);

        let mut d = Depicted::default();
        let roots = PeopleRoots::new(["Leute"]);
        let items = split_xp_keywords("Leute/Karl; Urlaub ;Events|Fest");
        from_flat_keywords(&items, &roots, PersonSource::XpKeywords, &mut d);
        from_flat_keywords(&["Lena Berg"], &roots, PersonSource::IimKeywords, &mut d);
        assert_eq!(names(&d), ["Karl"]);
        assert_eq!(d.keywords.iter().map(String::as_str).collect::<Vec<_>>(), ["Fest", "Lena Berg", "Urlaub"]);
        // A record without keywords is stored as before (no `keywords` field).
        let json = serde_json::to_string(&Depicted::default()).unwrap();
        assert!(!json.contains("keywords"), "{json}");
        let back: Depicted = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn flat_keywords_both_separators() {
        let mut d = Depicted::default();
        let roots = PeopleRoots::new(["Leute"]);
        from_flat_keywords(
            &split_xp_keywords("Leute/Karl; Urlaub ;Leute|Lena"),
            &roots,
            PersonSource::XpKeywords,
            &mut d,
        );
        from_flat_keywords(&["People/Not Root Here"], &roots, PersonSource::IimKeywords, &mut d);
        assert_eq!(names(&d), ["Karl", "Lena"]);
        assert_eq!(d.source_labels(), ["exif-xp-keywords"]);
    }

    #[test]
    fn parent_paths_among_many_keywords() {
        // 100 000 keywords, half of them parents of the other half: must not take quadratic time.
        let mut owned = Vec::new();
        for i in 0..50_000 {
            owned.push(format!("People|Group {i}"));
            owned.push(format!("people | group  {i} |Name {i}"));
        }
        owned.push("People|Solo".to_string());
        owned.push("People|Solo".to_string()); // a duplicate is not a child
        let items: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut d = Depicted::default();
        from_keyword_paths(
            &items,
            &['|'],
            &PeopleRoots::default(),
            EMBEDDED,
            PersonSource::LrHierarchicalSubject,
            &mut d,
        );
        assert_eq!(d.persons.len(), 50_001);
        assert!(d.persons.contains("Name 49999") && d.persons.contains("Solo"));
        assert!(!d.persons.contains("Group 7"));
    }

    #[test]
    fn one_keyword_of_many_segments() {
        // A single keyword of 200 000 segments (and its parent): linear in its length.
        let long = format!("People{}|Leaf", "|a".repeat(200_000));
        let parent = format!("People{}", "|a".repeat(200_000));
        let mut d = Depicted::default();
        let roots = PeopleRoots::default();
        from_keyword_paths(
            &[&long, &parent, "People|x\u{1F}y", "People|x"],
            &['|'],
            &roots,
            EMBEDDED,
            PersonSource::LrHierarchicalSubject,
            &mut d,
        );
        assert_eq!(names(&d), ["Leaf", "x", "x\u{1F}y"]);
    }

    #[test]
    fn sidecar_sources_are_labelled() {
        let mut d = Depicted::default();
        d.add("IMG_1.xmp", PersonSource::MwgRegions, "X");
        d.add(EMBEDDED, PersonSource::MwgRegions, "X");
        assert_eq!(d.source_labels(), ["mwg-regions", "sidecar:IMG_1.xmp:mwg-regions"]);
        assert_eq!(names(&d), ["X"]);
    }
}
