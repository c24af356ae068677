//! Writes consentry's synthetic test files: XMP packets and media containers built from scratch.
//!
//! This crate is the *writer* side of consentry's tests (a dev-dependency of tests, benches, the
//! lib's unit tests and the `make_fixtures` example; never of the binary). It imports nothing of
//! consentry: it is written independently of the readers in `consentry::media` and
//! `consentry::xmp`, so the two cross-check each other:
//!
//! - [`xmp_for`] / [`xmp_body_for`] build XMP packets for every person source of SPEC.md
//!   section 2.3, in several RDF [`Style`]s (element vs attribute form, `rdf:parseType="Resource"`
//!   vs nested `rdf:Description`, Bag vs Seq, unusual namespace prefixes, local namespace
//!   declarations, several `rdf:Description`s, compact vs pretty);
//! - [`build`] writes a small but well-formed file of every [`SynthFormat`] carrying an [`Embed`]
//!   (XMP, extended XMP, EXIF `XPKeywords`/`DateTimeOriginal`, IPTC-IIM keywords, QuickTime
//!   creation time) plus `payload_bytes` of fake pixel or media data;
//! - [`write_fixture_archive`] writes the deterministic fixture archive with its oracle
//!   `EXPECTED.json` (the persons and unnamed faces each media file carries *by construction*).
//!
//! Everything is deterministic: no clocks, no randomness.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

pub mod previews;

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/// Namespace URIs used by the XMP builders.
pub mod ns {
    /// `x:` (the `x:xmpmeta` wrapper).
    pub const X: &str = "adobe:ns:meta/";
    /// `rdf:`.
    pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    /// `Iptc4xmpExt:` (IPTC Extension).
    pub const IPTC_EXT: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
    /// `mwg-rs:` (MWG regions).
    pub const MWG_RS: &str = "http://www.metadataworkinggroup.com/schemas/regions/";
    /// `stDim:` (dimensions struct).
    pub const ST_DIM: &str = "http://ns.adobe.com/xap/1.0/sType/Dimensions#";
    /// `stArea:` (area struct).
    pub const ST_AREA: &str = "http://ns.adobe.com/xmp/sType/Area#";
    /// `MP:` (Microsoft Photo 1.2).
    pub const MP: &str = "http://ns.microsoft.com/photo/1.2/";
    /// `MPRI:` (Microsoft region info).
    pub const MPRI: &str = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#";
    /// `MPReg:` (Microsoft region).
    pub const MPREG: &str = "http://ns.microsoft.com/photo/1.2/t/Region#";
    /// `digiKam:`.
    pub const DIGIKAM: &str = "http://www.digikam.org/ns/1.0/";
    /// `lr:` (Lightroom).
    pub const LR: &str = "http://ns.adobe.com/lightroom/1.0/";
    /// `dc:` (Dublin Core).
    pub const DC: &str = "http://purl.org/dc/elements/1.1/";
    /// `photoshop:`.
    pub const PHOTOSHOP: &str = "http://ns.adobe.com/photoshop/1.0/";
    /// `xmp:` (XMP basic).
    pub const XMP: &str = "http://ns.adobe.com/xap/1.0/";
    /// `xmpNote:` (holds `HasExtendedXMP`).
    pub const XMP_NOTE: &str = "http://ns.adobe.com/xmp/note/";
    /// Private namespace of the filler property used by [`super::pad_xmp`].
    pub const FILLER: &str = "http://example.invalid/consentry-synth/filler/";
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Ns {
    IptcExt,
    MwgRs,
    StDim,
    StArea,
    Mp,
    Mpri,
    MpReg,
    DigiKam,
    Lr,
    Dc,
    Photoshop,
    Xmp,
}

impl Ns {
    fn uri(self) -> &'static str {
        match self {
            Ns::IptcExt => ns::IPTC_EXT,
            Ns::MwgRs => ns::MWG_RS,
            Ns::StDim => ns::ST_DIM,
            Ns::StArea => ns::ST_AREA,
            Ns::Mp => ns::MP,
            Ns::Mpri => ns::MPRI,
            Ns::MpReg => ns::MPREG,
            Ns::DigiKam => ns::DIGIKAM,
            Ns::Lr => ns::LR,
            Ns::Dc => ns::DC,
            Ns::Photoshop => ns::PHOTOSHOP,
            Ns::Xmp => ns::XMP,
        }
    }

    fn std_prefix(self) -> &'static str {
        match self {
            Ns::IptcExt => "Iptc4xmpExt",
            Ns::MwgRs => "mwg-rs",
            Ns::StDim => "stDim",
            Ns::StArea => "stArea",
            Ns::Mp => "MP",
            Ns::Mpri => "MPRI",
            Ns::MpReg => "MPReg",
            Ns::DigiKam => "digiKam",
            Ns::Lr => "lr",
            Ns::Dc => "dc",
            Ns::Photoshop => "photoshop",
            Ns::Xmp => "xmp",
        }
    }

    fn odd_prefix(self) -> &'static str {
        match self {
            Ns::IptcExt => "ns1",
            Ns::MwgRs => "ns2",
            Ns::StDim => "ns3",
            Ns::StArea => "ns4",
            Ns::Mp => "ns5",
            Ns::Mpri => "ns6",
            Ns::MpReg => "ns7",
            Ns::DigiKam => "ns8",
            Ns::Lr => "ns9",
            Ns::Dc => "ns10",
            Ns::Photoshop => "ns11",
            Ns::Xmp => "ns12",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// XMP styles and serialisation
// ---------------------------------------------------------------------------------------------

/// How struct values are written when [`Style::attributes`] is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StructForm {
    /// `<p:Prop rdf:parseType="Resource"><f:a>..</f:a></p:Prop>`
    ParseTypeResource,
    /// `<p:Prop><rdf:Description><f:a>..</f:a></rdf:Description></p:Prop>`
    Description,
}

/// RDF/XML serialisation style of an XMP packet. Every combination is valid RDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Style {
    /// Simple-valued properties and struct fields as XML attributes where RDF allows it
    /// (`<rdf:Description mwg-rs:Name="..."/>`, `<mwg-rs:Area stArea:x=".." .../>`); structs with
    /// complex fields then use a nested `rdf:Description` carrying the simple fields as attributes.
    pub attributes: bool,
    /// Struct form when `attributes` is off.
    pub structs: StructForm,
    /// Swap the array kinds: unordered arrays (normally Bag) are written as Seq, ordered ones
    /// (`digiKam:TagsList`, normally Seq) as Bag. Mylio writes MWG region lists this way.
    pub swap_array_kinds: bool,
    /// Unusual prefixes (`ns1:`, `ns2:`, ...) bound to the standard namespace URIs.
    pub odd_prefixes: bool,
    /// Declare namespaces on each element that uses them (as Microsoft Photo Gallery does)
    /// instead of once on the `rdf:Description`.
    pub local_ns: bool,
    /// One `rdf:Description` per person source instead of a single one.
    pub split: bool,
    /// Newlines and indentation between elements (otherwise everything on one line).
    pub pretty: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style::STANDARD
    }
}

impl Style {
    /// Element form, `rdf:parseType="Resource"`, Bag, standard prefixes, one Description, pretty.
    pub const STANDARD: Style = Style {
        attributes: false,
        structs: StructForm::ParseTypeResource,
        swap_array_kinds: false,
        odd_prefixes: false,
        local_ns: false,
        split: false,
        pretty: true,
    };
    /// Attribute form wherever possible, compact.
    pub const ATTRIBUTES: Style = Style { attributes: true, pretty: false, ..Style::STANDARD };
    /// Structs as nested `rdf:Description` elements.
    pub const NESTED: Style = Style { structs: StructForm::Description, ..Style::STANDARD };
    /// Seq where Bag is usual (and vice versa).
    pub const SWAPPED_ARRAYS: Style = Style { swap_array_kinds: true, ..Style::STANDARD };
    /// `ns1:`-style prefixes, nested descriptions, one Description per source.
    pub const ODD_PREFIXES: Style =
        Style { odd_prefixes: true, structs: StructForm::Description, split: true, ..Style::STANDARD };
    /// Like Microsoft Photo Gallery: namespaces declared locally, nested descriptions, compact.
    pub const LOCAL_NS: Style =
        Style { local_ns: true, structs: StructForm::Description, split: true, pretty: false, ..Style::STANDARD };
    /// Everything unusual at once: attributes, odd prefixes, local declarations, swapped arrays.
    pub const EXOTIC: Style = Style {
        attributes: true,
        structs: StructForm::Description,
        swap_array_kinds: true,
        odd_prefixes: true,
        local_ns: true,
        split: true,
        pretty: true,
    };

    /// The named presets, for tests that want to run over all of them.
    pub fn presets() -> [(&'static str, Style); 7] {
        [
            ("standard", Style::STANDARD),
            ("attributes", Style::ATTRIBUTES),
            ("nested", Style::NESTED),
            ("swapped-arrays", Style::SWAPPED_ARRAYS),
            ("odd-prefixes", Style::ODD_PREFIXES),
            ("local-ns", Style::LOCAL_NS),
            ("exotic", Style::EXOTIC),
        ]
    }
}

#[derive(Clone, Copy, Debug)]
enum Arr {
    Bag,
    Seq,
}

#[derive(Clone, Debug)]
enum V {
    T(String),
    Alt(String),
    Arr(Arr, Vec<V>),
    S(Vec<P>),
}

#[derive(Clone, Debug)]
struct P {
    ns: Ns,
    name: &'static str,
    v: V,
}

fn p(ns: Ns, name: &'static str, v: V) -> P {
    P { ns, name, v }
}

fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

/// Escapes a string for XML element content or a double- or single-quoted attribute value.
/// Tabs and line breaks become character references so attribute normalisation keeps them.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' => o.push_str("&#9;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

fn collect_ns(prop: &P, set: &mut BTreeSet<Ns>) {
    set.insert(prop.ns);
    collect_ns_v(&prop.v, set);
}

fn collect_ns_v(v: &V, set: &mut BTreeSet<Ns>) {
    match v {
        V::T(_) | V::Alt(_) => {}
        V::Arr(_, items) => items.iter().for_each(|i| collect_ns_v(i, set)),
        V::S(fields) => fields.iter().for_each(|f| collect_ns(f, set)),
    }
}

struct Ser {
    out: String,
    st: Style,
}

impl Ser {
    fn pfx(&self, n: Ns) -> &'static str {
        if self.st.odd_prefixes {
            n.odd_prefix()
        } else {
            n.std_prefix()
        }
    }

    fn q(&self, n: Ns, name: &str) -> String {
        format!("{}:{}", self.pfx(n), name)
    }

    fn nl(&mut self, depth: usize) {
        if self.st.pretty {
            self.out.push('\n');
            for _ in 0..depth {
                self.out.push_str("  ");
            }
        }
    }

    fn decl<'a>(&self, nss: impl IntoIterator<Item = &'a Ns>) -> String {
        let set: BTreeSet<Ns> = nss.into_iter().copied().collect();
        set.iter().map(|n| format!(" xmlns:{}=\"{}\"", self.pfx(*n), n.uri())).collect()
    }

    fn local<'a>(&self, nss: impl IntoIterator<Item = &'a Ns>) -> String {
        if self.st.local_ns {
            self.decl(nss)
        } else {
            String::new()
        }
    }

    fn attrs(&self, fields: &[&P]) -> String {
        let mut s = String::new();
        for f in fields {
            if let V::T(v) = &f.v {
                let _ = write!(s, " {}=\"{}\"", self.q(f.ns, f.name), xml_escape(v));
            }
        }
        s
    }

    fn arr_name(&self, k: Arr) -> &'static str {
        match (k, self.st.swap_array_kinds) {
            (Arr::Bag, false) | (Arr::Seq, true) => "rdf:Bag",
            (Arr::Seq, false) | (Arr::Bag, true) => "rdf:Seq",
        }
    }

    fn description(&mut self, props: &[P], depth: usize) {
        let (attr_props, child_props): (Vec<&P>, Vec<&P>) =
            props.iter().partition(|p| self.st.attributes && matches!(p.v, V::T(_)));
        let mut nss = BTreeSet::new();
        if self.st.local_ns {
            nss.extend(attr_props.iter().map(|p| p.ns));
        } else {
            props.iter().for_each(|p| collect_ns(p, &mut nss));
        }
        self.nl(depth);
        let head = format!("<rdf:Description rdf:about=\"\"{}{}", self.decl(&nss), self.attrs(&attr_props));
        self.out.push_str(&head);
        if child_props.is_empty() {
            self.out.push_str("/>");
            return;
        }
        self.out.push('>');
        for c in child_props {
            self.prop(c, depth + 1);
        }
        self.nl(depth);
        self.out.push_str("</rdf:Description>");
    }

    fn prop(&mut self, prop: &P, depth: usize) {
        let q = self.q(prop.ns, prop.name);
        let d = self.local([&prop.ns]);
        self.nl(depth);
        match &prop.v {
            V::T(text) => {
                let _ = write!(self.out, "<{q}{d}>{}</{q}>", xml_escape(text));
            }
            V::Alt(text) => {
                let _ = write!(self.out, "<{q}{d}>");
                self.nl(depth + 1);
                self.out.push_str("<rdf:Alt>");
                self.nl(depth + 2);
                let _ = write!(self.out, "<rdf:li xml:lang=\"x-default\">{}</rdf:li>", xml_escape(text));
                self.nl(depth + 1);
                self.out.push_str("</rdf:Alt>");
                self.nl(depth);
                let _ = write!(self.out, "</{q}>");
            }
            V::Arr(kind, items) => {
                let a = self.arr_name(*kind);
                let _ = write!(self.out, "<{q}{d}>");
                self.nl(depth + 1);
                let _ = write!(self.out, "<{a}>");
                for item in items {
                    self.nl(depth + 2);
                    match item {
                        V::T(text) => {
                            let _ = write!(self.out, "<rdf:li>{}</rdf:li>", xml_escape(text));
                        }
                        V::S(fields) => self.structure("rdf:li", &[], fields, depth + 2),
                        V::Alt(_) | V::Arr(..) => unreachable!("arrays hold only text or structs here"),
                    }
                }
                self.nl(depth + 1);
                let _ = write!(self.out, "</{a}>");
                self.nl(depth);
                let _ = write!(self.out, "</{q}>");
            }
            V::S(fields) => self.structure(&q, &[prop.ns], fields, depth),
        }
    }

    /// Writes a struct value as element `qname` (already indented).
    fn structure(&mut self, qname: &str, own: &[Ns], fields: &[P], depth: usize) {
        if self.st.attributes {
            let (simple, complex): (Vec<&P>, Vec<&P>) = fields.iter().partition(|f| matches!(f.v, V::T(_)));
            let simple_ns: Vec<Ns> = simple.iter().map(|f| f.ns).collect();
            if complex.is_empty() {
                let d = self.local(own.iter().chain(simple_ns.iter()));
                let _ = write!(self.out, "<{qname}{d}{}/>", self.attrs(&simple));
            } else {
                let d = self.local(own);
                let _ = write!(self.out, "<{qname}{d}>");
                self.nl(depth + 1);
                let d2 = self.local(&simple_ns);
                let _ = write!(self.out, "<rdf:Description{d2}{}>", self.attrs(&simple));
                for c in complex {
                    self.prop(c, depth + 2);
                }
                self.nl(depth + 1);
                self.out.push_str("</rdf:Description>");
                self.nl(depth);
                let _ = write!(self.out, "</{qname}>");
            }
            return;
        }
        let d = self.local(own);
        match self.st.structs {
            StructForm::ParseTypeResource => {
                let _ = write!(self.out, "<{qname}{d} rdf:parseType=\"Resource\">");
                for f in fields {
                    self.prop(f, depth + 1);
                }
                self.nl(depth);
                let _ = write!(self.out, "</{qname}>");
            }
            StructForm::Description => {
                let _ = write!(self.out, "<{qname}{d}>");
                self.nl(depth + 1);
                self.out.push_str("<rdf:Description>");
                for f in fields {
                    self.prop(f, depth + 2);
                }
                self.nl(depth + 1);
                self.out.push_str("</rdf:Description>");
                self.nl(depth);
                let _ = write!(self.out, "</{qname}>");
            }
        }
    }
}

fn serialize_groups(groups: &[Vec<P>], style: Style) -> String {
    let mut ser = Ser { out: String::new(), st: style };
    if style.split {
        for g in groups.iter().filter(|g| !g.is_empty()) {
            ser.description(g, 1);
        }
    } else {
        let all: Vec<P> = groups.iter().flatten().cloned().collect();
        ser.description(&all, 1);
    }
    if style.pretty {
        ser.out.push('\n');
    }
    ser.out
}

const XPACKET_ID: &str = "W5M0MpCehiHzreSzNTczkc9d";

/// `<x:xmpmeta><rdf:RDF>{body}</rdf:RDF></x:xmpmeta>` without the `<?xpacket?>` wrapper: the form of
/// extended XMP and of most sidecar files. `body` is one or more `rdf:Description` elements.
pub fn xmp_meta(body: &str) -> String {
    format!(
        "<x:xmpmeta xmlns:x=\"{}\" x:xmptk=\"consentry-synth\"><rdf:RDF xmlns:rdf=\"{}\">{}</rdf:RDF></x:xmpmeta>",
        ns::X,
        ns::RDF,
        body
    )
}

/// A complete XMP packet: [`xmp_meta`] inside `<?xpacket begin=...?>` ... `<?xpacket end="w"?>`.
/// `body` is one or more `rdf:Description` elements.
pub fn xmp_packet(body: &str) -> String {
    format!("<?xpacket begin=\"\u{feff}\" id=\"{XPACKET_ID}\"?>\n{}\n<?xpacket end=\"w\"?>", xmp_meta(body))
}

/// Persons (and a few non-person properties) to write into an XMP packet, one field per source
/// of SPEC.md section 2.3. Names are written verbatim (no normalisation), so NFD, odd whitespace
/// and XML special characters reach the packet as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct People {
    /// `Iptc4xmpExt:PersonInImage` (Bag of names).
    pub person_in_image: Vec<String>,
    /// `Iptc4xmpExt:PersonInImageWDetails[]/Iptc4xmpExt:PersonName` (lang-alt, x-default).
    pub person_details: Vec<String>,
    /// `Iptc4xmpExt:ImageRegion[]/Iptc4xmpExt:PersonInImage`, one region per name.
    pub region_persons: Vec<String>,
    /// MWG face regions (`mwg-rs:Type` = `Face`); `None` writes no `mwg-rs:Name` (unnamed face).
    pub mwg_faces: Vec<Option<String>>,
    /// Named MWG regions of `mwg-rs:Type` = `Pet`: not persons (negative test).
    pub mwg_non_face: Vec<String>,
    /// Microsoft regions; `None` writes a region without `MPReg:PersonDisplayName`;
    /// `Some(MP_UNNAMED)` writes the "unnamed" marker. Both are unnamed faces.
    pub mp_faces: Vec<Option<String>>,
    /// `digiKam:TagsList` (Seq) items such as `People/Name`.
    pub digikam_tags: Vec<String>,
    /// `lr:hierarchicalSubject` (Bag) items such as `People|Name`.
    pub lr_subjects: Vec<String>,
    /// `dc:subject` plain keywords: never persons.
    pub dc_subject: Vec<String>,
    /// `photoshop:DateCreated`.
    pub date_created: Option<String>,
    /// `xmp:CreateDate`.
    pub create_date: Option<String>,
}

/// The `MPReg:PersonDisplayName` value meaning "unnamed".
pub const MP_UNNAMED: &str = "ffffffffffffffff";

/// The default people roots of SPEC.md section 2.3 (matched case-insensitively).
pub const DEFAULT_PEOPLE_ROOTS: [&str; 3] = ["People", "Persons", "Personen"];

fn coord(i: usize) -> (f64, f64, f64, f64) {
    let x = 0.05 + 0.22 * (i % 4) as f64;
    let y = 0.1 + 0.3 * ((i / 4) % 3) as f64;
    (x, y, 0.15, 0.2)
}

fn f3(v: f64) -> String {
    format!("{v:.3}")
}

impl People {
    fn groups(&self) -> Vec<Vec<P>> {
        let mut g = Vec::new();
        if !self.person_in_image.is_empty() {
            let items = self.person_in_image.iter().map(t).collect();
            g.push(vec![p(Ns::IptcExt, "PersonInImage", V::Arr(Arr::Bag, items))]);
        }
        if !self.person_details.is_empty() {
            let items = self
                .person_details
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    V::S(vec![
                        p(Ns::IptcExt, "PersonName", V::Alt(n.clone())),
                        p(
                            Ns::IptcExt,
                            "PersonId",
                            V::Arr(Arr::Bag, vec![t(format!("https://example.org/person/{}", i + 1))]),
                        ),
                    ])
                })
                .collect();
            g.push(vec![p(Ns::IptcExt, "PersonInImageWDetails", V::Arr(Arr::Bag, items))]);
        }
        if !self.region_persons.is_empty() {
            let items = self
                .region_persons
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let (x, y, w, h) = coord(i);
                    V::S(vec![
                        p(
                            Ns::IptcExt,
                            "RegionBoundary",
                            V::S(vec![
                                p(Ns::IptcExt, "rbShape", t("rectangle")),
                                p(Ns::IptcExt, "rbUnit", t("relative")),
                                p(Ns::IptcExt, "rbX", t(f3(x))),
                                p(Ns::IptcExt, "rbY", t(f3(y))),
                                p(Ns::IptcExt, "rbW", t(f3(w))),
                                p(Ns::IptcExt, "rbH", t(f3(h))),
                            ]),
                        ),
                        p(Ns::IptcExt, "rId", t(format!("persltr{}", i + 1))),
                        p(Ns::IptcExt, "PersonInImage", V::Arr(Arr::Bag, vec![t(n.clone())])),
                    ])
                })
                .collect();
            g.push(vec![p(Ns::IptcExt, "ImageRegion", V::Arr(Arr::Bag, items))]);
        }
        if !self.mwg_faces.is_empty() || !self.mwg_non_face.is_empty() {
            let regions = self
                .mwg_faces
                .iter()
                .map(|n| ("Face", n.as_deref()))
                .chain(self.mwg_non_face.iter().map(|n| ("Pet", Some(n.as_str()))))
                .enumerate()
                .map(|(i, (ty, name))| {
                    let (x, y, w, h) = coord(i);
                    let area = p(
                        Ns::MwgRs,
                        "Area",
                        V::S(vec![
                            p(Ns::StArea, "x", t(f3(x + w / 2.0))),
                            p(Ns::StArea, "y", t(f3(y + h / 2.0))),
                            p(Ns::StArea, "w", t(f3(w))),
                            p(Ns::StArea, "h", t(f3(h))),
                            p(Ns::StArea, "unit", t("normalized")),
                        ]),
                    );
                    let mut fields = Vec::new();
                    let name = name.map(|n| p(Ns::MwgRs, "Name", t(n)));
                    // vary the field order a little
                    if i % 2 == 1 {
                        fields.extend(name);
                        fields.push(p(Ns::MwgRs, "Type", t(ty)));
                        fields.push(area);
                    } else {
                        fields.push(area);
                        fields.push(p(Ns::MwgRs, "Type", t(ty)));
                        fields.extend(name);
                    }
                    V::S(fields)
                })
                .collect();
            let regions = V::S(vec![
                p(
                    Ns::MwgRs,
                    "AppliedToDimensions",
                    V::S(vec![p(Ns::StDim, "w", t("8")), p(Ns::StDim, "h", t("8")), p(Ns::StDim, "unit", t("pixel"))]),
                ),
                p(Ns::MwgRs, "RegionList", V::Arr(Arr::Bag, regions)),
            ]);
            g.push(vec![p(Ns::MwgRs, "Regions", regions)]);
        }
        if !self.mp_faces.is_empty() {
            let items = self
                .mp_faces
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let (x, y, w, h) = coord(i);
                    let mut fields =
                        vec![p(Ns::MpReg, "Rectangle", t(format!("{:.6}, {:.6}, {:.6}, {:.6}", x, y, w, h)))];
                    if let Some(n) = n {
                        fields.push(p(Ns::MpReg, "PersonDisplayName", t(n.clone())));
                    }
                    V::S(fields)
                })
                .collect();
            let info = V::S(vec![p(Ns::Mpri, "Regions", V::Arr(Arr::Bag, items))]);
            g.push(vec![p(Ns::Mp, "RegionInfo", info)]);
        }
        if !self.digikam_tags.is_empty() {
            let items = self.digikam_tags.iter().map(t).collect();
            g.push(vec![p(Ns::DigiKam, "TagsList", V::Arr(Arr::Seq, items))]);
        }
        if !self.lr_subjects.is_empty() {
            let items = self.lr_subjects.iter().map(t).collect();
            g.push(vec![p(Ns::Lr, "hierarchicalSubject", V::Arr(Arr::Bag, items))]);
        }
        if !self.dc_subject.is_empty() {
            let items = self.dc_subject.iter().map(t).collect();
            g.push(vec![p(Ns::Dc, "subject", V::Arr(Arr::Bag, items))]);
        }
        let mut dates = Vec::new();
        if let Some(d) = &self.date_created {
            dates.push(p(Ns::Photoshop, "DateCreated", t(d.clone())));
        }
        if let Some(d) = &self.create_date {
            dates.push(p(Ns::Xmp, "CreateDate", t(d.clone())));
        }
        if !dates.is_empty() {
            g.push(dates);
        }
        g
    }

    /// The persons these sources carry by construction (normalised, with the default roots).
    pub fn persons(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let plain = self
            .person_in_image
            .iter()
            .chain(&self.person_details)
            .chain(&self.region_persons)
            .chain(self.mwg_faces.iter().flatten())
            .chain(self.mp_faces.iter().flatten().filter(|n| n.as_str() != MP_UNNAMED));
        out.extend(plain.map(|n| normalize_name(n)).filter(|n| !n.is_empty()));
        out.extend(self.digikam_tags.iter().filter_map(|k| people_leaf(k, &['/'], &DEFAULT_PEOPLE_ROOTS)));
        out.extend(self.lr_subjects.iter().filter_map(|k| people_leaf(k, &['|'], &DEFAULT_PEOPLE_ROOTS)));
        out
    }

    /// The number of unnamed faces these sources carry by construction.
    pub fn unnamed_faces(&self) -> usize {
        self.mwg_faces.iter().filter(|n| n.is_none()).count()
            + self.mp_faces.iter().filter(|n| n.as_deref().is_none_or(|n| n == MP_UNNAMED)).count()
    }
}

/// The `rdf:Description` element(s) for `people` in `style` (the `body` of [`xmp_packet`]).
pub fn xmp_body_for(people: &People, style: Style) -> String {
    serialize_groups(&people.groups(), style)
}

/// A complete XMP packet for `people` in `style`.
pub fn xmp_for(people: &People, style: Style) -> String {
    xmp_packet(&xmp_body_for(people, style))
}

/// Inserts a filler `rdf:Description` (a private property with plain text) before `</rdf:RDF>`
/// so that the packet is at least `min_len` bytes long. Used for extended XMP and size tests.
pub fn pad_xmp(packet: &str, min_len: usize) -> String {
    let Some(at) = packet.rfind("</rdf:RDF>") else { return packet.to_string() };
    let head = format!("<rdf:Description rdf:about=\"\" xmlns:fill=\"{}\"><fill:Data>", ns::FILLER);
    let tail = "</fill:Data></rdf:Description>";
    let fixed = packet.len() + head.len() + tail.len();
    let need = min_len.saturating_sub(fixed);
    let mut filler = String::with_capacity(need + 64);
    let mut i = 0u64;
    while filler.len() < need {
        let _ = writeln!(filler, "filler line {i:08} lorem ipsum dolor sit amet consectetur adipiscing elit");
        i += 1;
    }
    filler.truncate(need);
    format!("{}{head}{filler}{tail}{}", &packet[..at], &packet[at..])
}

/// Adds `n` bytes of standard XMP whitespace padding (lines of spaces) before `<?xpacket end`,
/// as editors do to allow in-place updates.
pub fn whitespace_pad(packet: &str, n: usize) -> String {
    let Some(at) = packet.rfind("<?xpacket end") else { return packet.to_string() };
    let mut pad = String::with_capacity(n);
    while pad.len() < n {
        let line = (n - pad.len()).min(100);
        pad.push_str(&" ".repeat(line - 1));
        pad.push('\n');
    }
    format!("{}{pad}{}", &packet[..at], &packet[at..])
}

// ---------------------------------------------------------------------------------------------
// Name normalisation and people roots (the oracle side)
// ---------------------------------------------------------------------------------------------

/// Unicode NFC, trimmed, inner whitespace runs collapsed to one space.
pub fn normalize_name(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// If `item` is a hierarchical keyword under one of `roots` (case-insensitive), split on any of
/// `seps`, returns its normalised leaf: `People/Family/Anna` -> `Anna`.
pub fn people_leaf(item: &str, seps: &[char], roots: &[&str]) -> Option<String> {
    let parts: Vec<&str> = item.split(|c| seps.contains(&c)).collect();
    if parts.len() < 2 {
        return None;
    }
    let root = normalize_name(parts[0]).to_lowercase();
    if !roots.iter().any(|r| r.to_lowercase() == root) {
        return None;
    }
    let leaf = normalize_name(parts[parts.len() - 1]);
    (!leaf.is_empty()).then_some(leaf)
}

/// Persons from IPTC-IIM keywords or `;`-separated XPKeywords items (either separator).
pub fn keyword_persons<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().filter_map(|k| people_leaf(k, &['/', '|'], &DEFAULT_PEOPLE_ROOTS)).collect()
}

// ---------------------------------------------------------------------------------------------
// MD5 (for the extended-XMP GUID)
// ---------------------------------------------------------------------------------------------

/// MD5 digest (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6,
        10, 15, 21,
    ];
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32).collect();
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in msg.chunks_exact(64) {
        let m: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, w) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The extended-XMP GUID: uppercase hex MD5 of the extended packet.
pub fn extended_xmp_guid(extended: &str) -> String {
    md5(extended.as_bytes()).iter().map(|b| format!("{b:02X}")).collect()
}

/// Adds `xmpNote:HasExtendedXMP="guid"` (in its own `rdf:Description`) to a main packet, or
/// creates a minimal packet holding just that property.
pub fn with_has_extended_xmp(main: Option<&str>, guid: &str) -> String {
    let desc = format!(
        "<rdf:Description rdf:about=\"\" xmlns:xmpNote=\"{}\" xmpNote:HasExtendedXMP=\"{guid}\"/>",
        ns::XMP_NOTE
    );
    match main {
        Some(m) if m.contains("HasExtendedXMP") => m.to_string(),
        Some(m) => match m.rfind("</rdf:RDF>") {
            Some(at) => format!("{}{desc}{}", &m[..at], &m[at..]),
            None => m.to_string(),
        },
        None => xmp_packet(&desc),
    }
}

// ---------------------------------------------------------------------------------------------
// File writers
// ---------------------------------------------------------------------------------------------

/// Container formats [`build`] can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SynthFormat {
    /// JPEG (JFIF from the image crate) with APP1 Exif/XMP/extended XMP and APP13 IPTC.
    Jpeg,
    /// Baseline TIFF, little-endian, IFD0 after the image data.
    Tiff,
    /// DNG (TIFF with DNGVersion), little-endian, IFD0 at the end.
    Dng,
    /// Canon CR2 (`II*\0` + `CR\x02\0` at byte 8).
    Cr2,
    /// Nikon NEF (big-endian TIFF).
    Nef,
    /// Olympus ORF (`IIRO` magic).
    Orf,
    /// Panasonic RW2 (`IIU\0` magic).
    Rw2,
    /// PNG with an uncompressed `iTXt` XMP chunk and `eXIf`.
    Png,
    /// PNG with a zlib-compressed `iTXt` XMP chunk.
    PngCompressedXmp,
    /// WebP (lossless VP8L) in the extended (VP8X) layout with `EXIF` and `XMP ` chunks.
    WebP,
    /// GIF89a with the `XMP DataXMP` application extension.
    Gif,
    /// Photoshop PSD with image resources 0x0424 (XMP), 0x0404 (IPTC), 0x0422 (EXIF).
    Psd,
    /// HEIC: XMP (`mime` item) and Exif items in `mdat` (iloc construction method 0).
    Heic,
    /// HEIC with the XMP item inside `meta/idat` (iloc construction method 1); Exif stays in `mdat`.
    /// exiftool 12.57 and exiv2 0.27 cannot read idat items.
    HeicIdat,
    /// AVIF: like [`SynthFormat::Heic`] with `av01` and brand `avif`.
    Avif,
    /// MP4 with XMP in the top-level `uuid` box.
    Mp4,
    /// QuickTime MOV with XMP in `moov/udta/XMP_` and `moov` after `mdat`.
    Mov,
    /// Canon CR3 (ftyp `crx `, CMT1/CMT2 TIFF boxes, top-level XMP `uuid` box).
    Cr3,
    /// Fujifilm RAF: header plus an embedded JPEG carrying the metadata.
    Raf,
}

impl SynthFormat {
    /// Every format.
    pub const ALL: [SynthFormat; 19] = [
        SynthFormat::Jpeg,
        SynthFormat::Tiff,
        SynthFormat::Dng,
        SynthFormat::Cr2,
        SynthFormat::Nef,
        SynthFormat::Orf,
        SynthFormat::Rw2,
        SynthFormat::Png,
        SynthFormat::PngCompressedXmp,
        SynthFormat::WebP,
        SynthFormat::Gif,
        SynthFormat::Psd,
        SynthFormat::Heic,
        SynthFormat::HeicIdat,
        SynthFormat::Avif,
        SynthFormat::Mp4,
        SynthFormat::Mov,
        SynthFormat::Cr3,
        SynthFormat::Raf,
    ];

    /// The usual (lowercase) file extension.
    pub fn extension(self) -> &'static str {
        match self {
            SynthFormat::Jpeg => "jpg",
            SynthFormat::Tiff => "tif",
            SynthFormat::Dng => "dng",
            SynthFormat::Cr2 => "cr2",
            SynthFormat::Nef => "nef",
            SynthFormat::Orf => "orf",
            SynthFormat::Rw2 => "rw2",
            SynthFormat::Png | SynthFormat::PngCompressedXmp => "png",
            SynthFormat::WebP => "webp",
            SynthFormat::Gif => "gif",
            SynthFormat::Psd => "psd",
            SynthFormat::Heic | SynthFormat::HeicIdat => "heic",
            SynthFormat::Avif => "avif",
            SynthFormat::Mp4 => "mp4",
            SynthFormat::Mov => "mov",
            SynthFormat::Cr3 => "cr3",
            SynthFormat::Raf => "raf",
        }
    }

    /// Whether [`Embed::extended_xmp`] can be written (JPEG and the JPEG inside RAF).
    pub fn supports_extended_xmp(self) -> bool {
        matches!(self, SynthFormat::Jpeg | SynthFormat::Raf)
    }

    /// Whether EXIF ([`Embed::xp_keywords`], [`Embed::date_time_original`]) can be written.
    /// Note: exiftool does not read XPKeywords from RW2 (Panasonic IFD0), so avoid it there.
    pub fn supports_exif(self) -> bool {
        !matches!(self, SynthFormat::Gif | SynthFormat::Mp4 | SynthFormat::Mov)
    }

    /// Whether IPTC-IIM keywords can be written.
    pub fn supports_iptc(self) -> bool {
        matches!(
            self,
            SynthFormat::Jpeg
                | SynthFormat::Raf
                | SynthFormat::Psd
                | SynthFormat::Tiff
                | SynthFormat::Dng
                | SynthFormat::Cr2
                | SynthFormat::Nef
                | SynthFormat::Orf
                | SynthFormat::Rw2
        )
    }

    /// Whether [`Embed::quicktime_created`] can be written.
    pub fn supports_quicktime_created(self) -> bool {
        matches!(self, SynthFormat::Mp4 | SynthFormat::Mov | SynthFormat::Cr3)
    }

    /// Whether the `image` crate can decode the pixels of the written file.
    pub fn image_crate_decodes(self) -> bool {
        matches!(
            self,
            SynthFormat::Jpeg
                | SynthFormat::Tiff
                | SynthFormat::Png
                | SynthFormat::PngCompressedXmp
                | SynthFormat::WebP
                | SynthFormat::Gif
        )
    }
}

/// Metadata to embed in a file written by [`build`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Embed {
    /// The main XMP packet (e.g. from [`xmp_for`]).
    pub xmp: Option<String>,
    /// JPEG/RAF only: extended XMP (an `x:xmpmeta` without packet wrapper, see [`xmp_meta`]),
    /// written as APP1 extension chunks of at most 65000 bytes; the GUID (uppercase hex MD5) is
    /// added to the main packet as `xmpNote:HasExtendedXMP`.
    pub extended_xmp: Option<String>,
    /// EXIF IFD0 0x9C9E XPKeywords, `;`-separated, stored UTF-16LE.
    pub xp_keywords: Option<String>,
    /// IPTC-IIM 2:25 keywords (with 1:90 = ESC % G, UTF-8).
    pub iptc_keywords: Vec<String>,
    /// EXIF DateTimeOriginal (0x9003 in the Exif IFD), `YYYY:MM:DD HH:MM:SS`.
    pub date_time_original: Option<String>,
    /// QuickTime `mvhd` creation time, seconds since 1904-01-01.
    pub quicktime_created: Option<u64>,
    /// Size of the fake pixel / media data (to make multi-MB files). Where it goes: JPEG and GIF:
    /// trailing bytes after EOI / the trailer; PNG: a private ancillary chunk `syNt` after IDAT;
    /// WebP: an unknown RIFF chunk `SYNP`; TIFF family: an unreferenced block (before the IFDs for
    /// TIFF/DNG, after them for the RAWs); PSD: real (grey) image data; ISOBMFF: `mdat`; RAF: the
    /// CFA data after the embedded JPEG.
    pub payload_bytes: usize,
}

impl Embed {
    fn has_exif(&self) -> bool {
        self.xp_keywords.is_some() || self.date_time_original.is_some()
    }
}

/// Writes a complete, well-formed file of `format` carrying `meta`.
///
/// Panics if `meta` holds something the format cannot carry (see the `supports_*` methods of
/// [`SynthFormat`]) or if the main XMP packet of a JPEG exceeds one APP1 segment.
pub fn build(format: SynthFormat, meta: &Embed) -> Vec<u8> {
    assert!(meta.extended_xmp.is_none() || format.supports_extended_xmp(), "{format:?} cannot carry extended XMP");
    assert!(!meta.has_exif() || format.supports_exif(), "{format:?} cannot carry EXIF");
    assert!(meta.iptc_keywords.is_empty() || format.supports_iptc(), "{format:?} cannot carry IPTC-IIM");
    assert!(
        meta.quicktime_created.is_none() || format.supports_quicktime_created(),
        "{format:?} has no QuickTime creation date"
    );
    match format {
        SynthFormat::Jpeg => jpeg(meta),
        SynthFormat::Tiff
        | SynthFormat::Dng
        | SynthFormat::Cr2
        | SynthFormat::Nef
        | SynthFormat::Orf
        | SynthFormat::Rw2 => tiff_family(format, meta),
        SynthFormat::Png => png(meta, false),
        SynthFormat::PngCompressedXmp => png(meta, true),
        SynthFormat::WebP => webp(meta),
        SynthFormat::Gif => gif(meta),
        SynthFormat::Psd => psd(meta),
        SynthFormat::Heic => heif(meta, HeifKind::Heic, false),
        SynthFormat::HeicIdat => heif(meta, HeifKind::Heic, true),
        SynthFormat::Avif => heif(meta, HeifKind::Avif, false),
        SynthFormat::Mp4 => mp4(meta),
        SynthFormat::Mov => mov(meta),
        SynthFormat::Cr3 => cr3(meta),
        SynthFormat::Raf => raf(meta),
    }
}

// ----- tiny images encoded by the image crate ---------------------------------------------------

const W: u32 = 8;
const H: u32 = 8;

fn pixels() -> Vec<u8> {
    let mut px = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            px.extend_from_slice(&[(x * 32) as u8, (y * 32) as u8, 128]);
        }
    }
    px
}

fn base_jpeg() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut v, 90)
            .encode(&pixels(), W, H, image::ExtendedColorType::Rgb8)
            .expect("encode jpeg");
        v
    })
}

fn base_png() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut v),
            &pixels(),
            W,
            H,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode png");
        v
    })
}

fn base_gif() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut v);
            enc.encode(&pixels(), W, H, image::ExtendedColorType::Rgb8).expect("encode gif");
        }
        v
    })
}

fn base_webp() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut v)
            .encode(&pixels(), W, H, image::ExtendedColorType::Rgb8)
            .expect("encode webp");
        v
    })
}

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

// ----- IPTC-IIM and Photoshop image resources ---------------------------------------------------

/// IPTC-IIM block: 1:90 (ESC % G = UTF-8), 2:00 record version 4, one 2:25 per keyword.
pub fn iptc_iim(keywords: &[String]) -> Vec<u8> {
    fn ds(out: &mut Vec<u8>, rec: u8, num: u8, data: &[u8]) {
        out.extend_from_slice(&[0x1C, rec, num]);
        out.extend_from_slice(&be16(u16::try_from(data.len()).expect("IIM dataset too long")));
        out.extend_from_slice(data);
    }
    let mut out = Vec::new();
    ds(&mut out, 1, 90, b"\x1b%G");
    ds(&mut out, 2, 0, &[0, 4]);
    for k in keywords {
        ds(&mut out, 2, 25, k.as_bytes());
    }
    out
}

/// One Photoshop image resource block (`8BIM`, id, empty Pascal name, size, data, even padding).
fn irb(out: &mut Vec<u8>, id: u16, data: &[u8]) {
    out.extend_from_slice(b"8BIM");
    out.extend_from_slice(&be16(id));
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&be32(data.len() as u32));
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

// ----- TIFF ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Tv {
    Byte(Vec<u8>),
    Ascii(String),
    Short(Vec<u16>),
    Long(Vec<u32>),
    Rational(Vec<(u32, u32)>),
    Undef(Vec<u8>),
    /// Raw bytes declared as LONG (as Photoshop stores IPTC), padded to a multiple of 4.
    LongRaw(Vec<u8>),
    /// Offset of blob `i` (LONG).
    Blob(usize),
    /// Offset of the Exif IFD (LONG).
    ExifIfd,
}

impl Tv {
    fn typ(&self) -> u16 {
        match self {
            Tv::Byte(_) => 1,
            Tv::Ascii(_) => 2,
            Tv::Short(_) => 3,
            Tv::Long(_) | Tv::LongRaw(_) | Tv::Blob(_) | Tv::ExifIfd => 4,
            Tv::Rational(_) => 5,
            Tv::Undef(_) => 7,
        }
    }

    fn bytes(&self, be: bool, blobs: &[u32], exif: u32) -> Vec<u8> {
        let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        match self {
            Tv::Byte(b) | Tv::Undef(b) => b.clone(),
            Tv::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            Tv::Short(v) => v.iter().flat_map(|x| u16b(*x)).collect(),
            Tv::Long(v) => v.iter().flat_map(|x| u32b(*x)).collect(),
            Tv::Rational(v) => v.iter().flat_map(|(n, d)| u32b(*n).into_iter().chain(u32b(*d))).collect(),
            Tv::LongRaw(b) => {
                let mut b = b.clone();
                while b.len() % 4 != 0 {
                    b.push(0);
                }
                b
            }
            Tv::Blob(i) => u32b(blobs[*i]).to_vec(),
            Tv::ExifIfd => u32b(exif).to_vec(),
        }
    }

    fn count(&self, nbytes: usize) -> u32 {
        (match self.typ() {
            3 => nbytes / 2,
            4 => nbytes / 4,
            5 => nbytes / 8,
            _ => nbytes,
        }) as u32
    }
}

struct TiffSpec {
    be: bool,
    magic: u16,
    /// Bytes between the 8-byte header and the rest (CR2 signature, RW2 magic).
    extra_header: &'static [u8],
    ifd_first: bool,
    ifd0: Vec<(u16, Tv)>,
    exif: Vec<(u16, Tv)>,
    blobs: Vec<Vec<u8>>,
    payload: usize,
}

fn even(n: usize) -> usize {
    n + (n & 1)
}

fn ifd_size(entries: &[(u16, Tv)], be: bool) -> usize {
    let data: usize = entries.iter().map(|(_, v)| v.bytes(be, &[0; 16], 0).len()).filter(|l| *l > 4).map(even).sum();
    2 + 12 * entries.len() + 4 + data
}

fn write_ifd(out: &mut Vec<u8>, entries: &[(u16, Tv)], be: bool, blobs: &[u32], exif: u32) {
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut sorted: Vec<&(u16, Tv)> = entries.iter().collect();
    sorted.sort_by_key(|(tag, _)| *tag);
    let start = out.len();
    let mut cursor = start + 2 + 12 * sorted.len() + 4;
    let mut data = Vec::new();
    out.extend_from_slice(&u16b(sorted.len() as u16));
    for (tag, v) in sorted {
        let b = v.bytes(be, blobs, exif);
        out.extend_from_slice(&u16b(*tag));
        out.extend_from_slice(&u16b(v.typ()));
        out.extend_from_slice(&u32b(v.count(b.len())));
        if b.len() <= 4 {
            let mut inline = b.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&u32b(cursor as u32));
            cursor += even(b.len());
            data.extend_from_slice(&b);
            if b.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&data);
    debug_assert_eq!(out.len(), cursor);
}

fn build_tiff(s: &TiffSpec) -> Vec<u8> {
    let header = 8 + s.extra_header.len();
    let s0 = ifd_size(&s.ifd0, s.be);
    let s1 = if s.exif.is_empty() { 0 } else { ifd_size(&s.exif, s.be) };
    let blobs_total: usize = s.blobs.iter().map(|b| even(b.len())).sum();
    let payload = even(s.payload);
    let (ifd0_off, blob_start) =
        if s.ifd_first { (header, header + s0 + s1) } else { (header + blobs_total + payload, header) };
    let exif_off = ifd0_off + s0;
    let mut blob_offs = Vec::new();
    let mut at = blob_start;
    for b in &s.blobs {
        blob_offs.push(at as u32);
        at += even(b.len());
    }
    let mut out = Vec::with_capacity(header + s0 + s1 + blobs_total + payload);
    let u16b = |v: u16| if s.be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if s.be { v.to_be_bytes() } else { v.to_le_bytes() };
    out.extend_from_slice(if s.be { b"MM" } else { b"II" });
    out.extend_from_slice(&u16b(s.magic));
    out.extend_from_slice(&u32b(ifd0_off as u32));
    out.extend_from_slice(s.extra_header);
    let write_blobs = |out: &mut Vec<u8>| {
        for b in &s.blobs {
            out.extend_from_slice(b);
            if b.len() % 2 == 1 {
                out.push(0);
            }
        }
    };
    let write_ifds = |out: &mut Vec<u8>| {
        write_ifd(out, &s.ifd0, s.be, &blob_offs, exif_off as u32);
        if !s.exif.is_empty() {
            write_ifd(out, &s.exif, s.be, &blob_offs, exif_off as u32);
        }
    };
    if s.ifd_first {
        write_ifds(&mut out);
        write_blobs(&mut out);
        zeros(&mut out, payload);
    } else {
        write_blobs(&mut out);
        zeros(&mut out, payload);
        write_ifds(&mut out);
    }
    out
}

fn utf16le_z(s: &str) -> Vec<u8> {
    s.encode_utf16().chain([0]).flat_map(|u| u.to_le_bytes()).collect()
}

fn exif_ifd_entries(meta: &Embed) -> Vec<(u16, Tv)> {
    match &meta.date_time_original {
        Some(d) => vec![(0x9000, Tv::Undef(b"0232".to_vec())), (0x9003, Tv::Ascii(d.clone()))],
        None => Vec::new(),
    }
}

const CR2_HEADER: &[u8] = b"CR\x02\x00\x00\x00\x00\x00";
const RW2_HEADER: &[u8] =
    &[0x88, 0xE7, 0x74, 0xD8, 0xF8, 0x25, 0x1D, 0x4D, 0x94, 0x7A, 0x6E, 0x77, 0x82, 0x2B, 0x5D, 0x6A];

/// A stand-alone EXIF TIFF structure (as in JPEG APP1 after `Exif\0\0`, PNG eXIf, WebP EXIF,
/// PSD 0x0422, HEIF Exif items): IFD0 with XPKeywords and the Exif IFD with DateTimeOriginal.
pub fn exif_tiff(xp_keywords: Option<&str>, date_time_original: Option<&str>, big_endian: bool) -> Vec<u8> {
    let meta = Embed {
        xp_keywords: xp_keywords.map(str::to_string),
        date_time_original: date_time_original.map(str::to_string),
        ..Embed::default()
    };
    // the tags Exif 2.32 requires in a JPEG, so that `exiftool -validate` is content
    let mut ifd0 = vec![
        (0x0112, Tv::Short(vec![1])),
        (0x011A, Tv::Rational(vec![(72, 1)])),
        (0x011B, Tv::Rational(vec![(72, 1)])),
        (0x0128, Tv::Short(vec![2])),
        (0x0213, Tv::Short(vec![1])),
        (0x8769, Tv::ExifIfd),
    ];
    if let Some(x) = &meta.xp_keywords {
        ifd0.push((0x9C9E, Tv::Byte(utf16le_z(x))));
    }
    let mut exif = exif_ifd_entries(&meta);
    if exif.is_empty() {
        exif.push((0x9000, Tv::Undef(b"0232".to_vec())));
    }
    exif.extend([
        (0x9101, Tv::Undef(vec![1, 2, 3, 0])),
        (0xA000, Tv::Undef(b"0100".to_vec())),
        (0xA001, Tv::Short(vec![1])),
        (0xA002, Tv::Short(vec![W as u16])),
        (0xA003, Tv::Short(vec![H as u16])),
    ]);
    build_tiff(&TiffSpec {
        be: big_endian,
        magic: 42,
        extra_header: &[],
        ifd_first: true,
        ifd0,
        exif,
        blobs: Vec::new(),
        payload: 0,
    })
}

fn meta_exif(meta: &Embed, be: bool) -> Option<Vec<u8>> {
    meta.has_exif().then(|| exif_tiff(meta.xp_keywords.as_deref(), meta.date_time_original.as_deref(), be))
}

fn tiff_family(format: SynthFormat, meta: &Embed) -> Vec<u8> {
    let (be, magic, extra_header, ifd_first, make, model): (_, _, &'static [u8], _, _, _) = match format {
        SynthFormat::Tiff => (false, 42, &[], false, None, None),
        SynthFormat::Dng => (false, 42, &[], false, Some("Synth"), Some("Synth DNG")),
        SynthFormat::Cr2 => (false, 42, CR2_HEADER, true, Some("Canon"), Some("Canon EOS 5D Mark III")),
        SynthFormat::Nef => (true, 42, &[], true, Some("NIKON CORPORATION"), Some("NIKON D850")),
        SynthFormat::Orf => (false, 0x4F52, &[], true, Some("OLYMPUS IMAGING CORP."), Some("E-M5")),
        SynthFormat::Rw2 => (false, 0x0055, RW2_HEADER, true, Some("Panasonic"), Some("DMC-GH4")),
        _ => unreachable!(),
    };
    let mut ifd0: Vec<(u16, Tv)> = if format == SynthFormat::Rw2 {
        // Panasonic's own IFD0 tags (RW2 has no baseline TIFF image tags)
        vec![
            (0x0001, Tv::Undef(b"0470".to_vec())),
            (0x0002, Tv::Short(vec![W as u16])),
            (0x0003, Tv::Short(vec![H as u16])),
            (0x0111, Tv::Blob(0)),
            (0x0112, Tv::Short(vec![1])),
            (0x0116, Tv::Short(vec![H as u16])),
            (0x0117, Tv::Long(vec![W * H * 3])),
        ]
    } else {
        vec![
            (256, Tv::Short(vec![W as u16])),
            (257, Tv::Short(vec![H as u16])),
            (258, Tv::Short(vec![8, 8, 8])),
            (259, Tv::Short(vec![1])),
            (262, Tv::Short(vec![2])),
            (273, Tv::Blob(0)),
            (274, Tv::Short(vec![1])),
            (277, Tv::Short(vec![3])),
            (278, Tv::Short(vec![H as u16])),
            (279, Tv::Long(vec![W * H * 3])),
            (282, Tv::Rational(vec![(72, 1)])),
            (283, Tv::Rational(vec![(72, 1)])),
            (284, Tv::Short(vec![1])),
            (296, Tv::Short(vec![2])),
            (305, Tv::Ascii("consentry synth".into())),
        ]
    };
    if let Some(m) = make {
        ifd0.push((271, Tv::Ascii(m.into())));
    }
    if let Some(m) = model {
        ifd0.push((272, Tv::Ascii(m.into())));
    }
    if format == SynthFormat::Dng {
        ifd0.push((50706, Tv::Byte(vec![1, 4, 0, 0])));
        ifd0.push((50707, Tv::Byte(vec![1, 1, 0, 0])));
        ifd0.push((50708, Tv::Ascii("Synth DNG".into())));
    }
    if let Some(x) = &meta.xmp {
        // CR2 declares XMP as UNDEFINED, the others as BYTE (both occur in the wild)
        let v =
            if format == SynthFormat::Cr2 { Tv::Undef(x.as_bytes().to_vec()) } else { Tv::Byte(x.as_bytes().to_vec()) };
        ifd0.push((700, v));
    }
    if !meta.iptc_keywords.is_empty() {
        let iim = iptc_iim(&meta.iptc_keywords);
        // NEF/TIFF: LONG as Photoshop writes it; the others UNDEFINED
        let v = if matches!(format, SynthFormat::Nef | SynthFormat::Tiff) { Tv::LongRaw(iim) } else { Tv::Undef(iim) };
        ifd0.push((33723, v));
    }
    if let Some(x) = &meta.xp_keywords {
        ifd0.push((0x9C9E, Tv::Byte(utf16le_z(x))));
    }
    let exif = exif_ifd_entries(meta);
    if !exif.is_empty() {
        ifd0.push((34665, Tv::ExifIfd));
    }
    build_tiff(&TiffSpec {
        be,
        magic,
        extra_header,
        ifd_first,
        ifd0,
        exif,
        blobs: vec![pixels()],
        payload: meta.payload_bytes,
    })
}

// ----- JPEG ---------------------------------------------------------------------------------------

const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_SIG: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
/// Maximum size of one extended-XMP chunk.
pub const EXTENDED_XMP_CHUNK: usize = 65000;

fn segment(out: &mut Vec<u8>, marker: u8, parts: &[&[u8]]) {
    let len: usize = 2 + parts.iter().map(|p| p.len()).sum::<usize>();
    assert!(len <= 0xFFFF, "JPEG segment too long ({len} bytes)");
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&be16(len as u16));
    for p in parts {
        out.extend_from_slice(p);
    }
}

fn jpeg(meta: &Embed) -> Vec<u8> {
    jpeg_with(meta, false)
}

/// `camera`: an Exif JPEG as cameras write it (SOI, APP1 Exif always, no JFIF APP0), e.g. the
/// preview inside a RAF; otherwise JFIF APP0 first, then the metadata segments.
fn jpeg_with(meta: &Embed, camera: bool) -> Vec<u8> {
    let base = base_jpeg();
    assert_eq!(&base[..2], &[0xFF, 0xD8]);
    let mut pos = 2;
    let mut out = Vec::with_capacity(base.len() + meta.payload_bytes + 4096);
    out.extend_from_slice(&base[..2]);
    if base[2..4] == [0xFF, 0xE0] {
        let app0_end = 4 + u16::from_be_bytes([base[4], base[5]]) as usize;
        if !camera {
            out.extend_from_slice(&base[2..app0_end]);
        }
        pos = app0_end;
    }
    let exif = if camera {
        Some(exif_tiff(meta.xp_keywords.as_deref(), meta.date_time_original.as_deref(), true))
    } else {
        meta_exif(meta, true)
    };
    if let Some(tiff) = exif {
        segment(&mut out, 0xE1, &[b"Exif\0\0", &tiff]);
    }
    let main = match &meta.extended_xmp {
        Some(ext) => Some(with_has_extended_xmp(meta.xmp.as_deref(), &extended_xmp_guid(ext))),
        None => meta.xmp.clone(),
    };
    if let Some(x) = &main {
        segment(&mut out, 0xE1, &[XMP_SIG, x.as_bytes()]);
    }
    if let Some(ext) = &meta.extended_xmp {
        let guid = extended_xmp_guid(ext);
        let bytes = ext.as_bytes();
        for (i, chunk) in bytes.chunks(EXTENDED_XMP_CHUNK).enumerate() {
            let off = (i * EXTENDED_XMP_CHUNK) as u32;
            segment(&mut out, 0xE1, &[XMP_EXT_SIG, guid.as_bytes(), &be32(bytes.len() as u32), &be32(off), chunk]);
        }
    }
    if !meta.iptc_keywords.is_empty() {
        let mut res = Vec::new();
        irb(&mut res, 0x0404, &iptc_iim(&meta.iptc_keywords));
        segment(&mut out, 0xED, &[b"Photoshop 3.0\0", &res]);
    }
    out.extend_from_slice(&base[pos..]);
    zeros(&mut out, meta.payload_bytes);
    out
}

// ----- PNG ----------------------------------------------------------------------------------------

fn png_chunk(out: &mut Vec<u8>, typ: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&be32(data.len() as u32));
    out.extend_from_slice(typ);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(typ);
    crc.update(data);
    out.extend_from_slice(&be32(crc.sum()));
}

fn png(meta: &Embed, compressed: bool) -> Vec<u8> {
    let base = base_png();
    let mut out = Vec::with_capacity(base.len() + meta.payload_bytes + 4096);
    out.extend_from_slice(&base[..8]);
    let mut pos = 8;
    while pos + 8 <= base.len() {
        let len = u32::from_be_bytes(base[pos..pos + 4].try_into().unwrap()) as usize;
        let typ: [u8; 4] = base[pos + 4..pos + 8].try_into().unwrap();
        let end = pos + 12 + len;
        if &typ == b"IEND" && meta.payload_bytes > 0 {
            let pad = vec![0u8; meta.payload_bytes];
            png_chunk(&mut out, b"syNt", &pad);
        }
        out.extend_from_slice(&base[pos..end]);
        if &typ == b"IHDR" {
            if let Some(tiff) = meta_exif(meta, false) {
                png_chunk(&mut out, b"eXIf", &tiff);
            }
            if let Some(x) = &meta.xmp {
                let mut data = b"XML:com.adobe.xmp\0".to_vec();
                if compressed {
                    data.extend_from_slice(&[1, 0, 0, 0]);
                    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                    z.write_all(x.as_bytes()).expect("zlib");
                    data.extend_from_slice(&z.finish().expect("zlib"));
                } else {
                    data.extend_from_slice(&[0, 0, 0, 0]);
                    data.extend_from_slice(x.as_bytes());
                }
                png_chunk(&mut out, b"iTXt", &data);
            }
        }
        pos = end;
    }
    out
}

// ----- WebP ---------------------------------------------------------------------------------------

fn riff_chunk(out: &mut Vec<u8>, typ: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(typ);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn webp(meta: &Embed) -> Vec<u8> {
    let base = base_webp();
    assert!(&base[..4] == b"RIFF" && &base[8..16] == b"WEBPVP8L");
    let vp8l_len = u32::from_le_bytes(base[16..20].try_into().unwrap()) as usize;
    let vp8l = &base[20..20 + vp8l_len];
    let exif = meta_exif(meta, false);
    if exif.is_none() && meta.xmp.is_none() && meta.payload_bytes == 0 {
        return base.to_vec();
    }
    let mut body = b"WEBP".to_vec();
    let mut flags = 0u8;
    if exif.is_some() {
        flags |= 0x08;
    }
    if meta.xmp.is_some() {
        flags |= 0x04;
    }
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(W - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(H - 1).to_le_bytes()[..3]);
    riff_chunk(&mut body, b"VP8X", &vp8x);
    riff_chunk(&mut body, b"VP8L", vp8l);
    if let Some(e) = &exif {
        riff_chunk(&mut body, b"EXIF", e);
    }
    if let Some(x) = &meta.xmp {
        riff_chunk(&mut body, b"XMP ", x.as_bytes());
    }
    if meta.payload_bytes > 0 {
        riff_chunk(&mut body, b"SYNP", &vec![0u8; meta.payload_bytes]);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

// ----- GIF ----------------------------------------------------------------------------------------

fn gif(meta: &Embed) -> Vec<u8> {
    let base = base_gif();
    assert_eq!(&base[..6], b"GIF89a");
    let packed = base[10];
    let mut pos = 13;
    if packed & 0x80 != 0 {
        pos += 3 * (1 << ((packed & 7) + 1));
    }
    let mut out = Vec::with_capacity(base.len() + meta.payload_bytes + 4096);
    out.extend_from_slice(&base[..pos]);
    if let Some(x) = &meta.xmp {
        out.extend_from_slice(b"\x21\xFF\x0BXMP DataXMP");
        out.extend_from_slice(x.as_bytes());
        // the "magic trailer": makes the raw packet parse as data sub-blocks
        out.push(1);
        out.extend((0..=255u8).rev());
        out.push(0);
    }
    out.extend_from_slice(&base[pos..]);
    zeros(&mut out, meta.payload_bytes);
    out
}

// ----- PSD ----------------------------------------------------------------------------------------

fn psd(meta: &Embed) -> Vec<u8> {
    let (w, h) = if meta.payload_bytes <= 64 {
        (8usize, 8usize)
    } else if meta.payload_bytes <= 256 * 30000 {
        (256, meta.payload_bytes.div_ceil(256))
    } else {
        (meta.payload_bytes.div_ceil(30000), 30000)
    };
    let mut out = Vec::with_capacity(w * h + 4096);
    out.extend_from_slice(b"8BPS");
    out.extend_from_slice(&be16(1));
    zeros(&mut out, 6);
    out.extend_from_slice(&be16(1)); // channels
    out.extend_from_slice(&be32(h as u32));
    out.extend_from_slice(&be32(w as u32));
    out.extend_from_slice(&be16(8)); // depth
    out.extend_from_slice(&be16(1)); // grayscale
    out.extend_from_slice(&be32(0)); // colour mode data
    let mut res = Vec::new();
    irb(&mut res, 0x03ED, &[0, 72, 0, 0, 0, 1, 0, 1, 0, 72, 0, 0, 0, 1, 0, 1]);
    if !meta.iptc_keywords.is_empty() {
        irb(&mut res, 0x0404, &iptc_iim(&meta.iptc_keywords));
    }
    if let Some(tiff) = meta_exif(meta, true) {
        irb(&mut res, 0x0422, &tiff);
    }
    if let Some(x) = &meta.xmp {
        irb(&mut res, 0x0424, x.as_bytes());
    }
    out.extend_from_slice(&be32(res.len() as u32));
    out.extend_from_slice(&res);
    out.extend_from_slice(&be32(0)); // layer and mask information
    out.extend_from_slice(&be16(0)); // raw image data
    out.extend((0..w * h).map(|i| (i % 251) as u8));
    out
}

// ----- ISOBMFF ------------------------------------------------------------------------------------

fn box_header(out: &mut Vec<u8>, typ: &[u8; 4], body_len: usize) {
    if body_len + 8 > u32::MAX as usize {
        out.extend_from_slice(&be32(1));
        out.extend_from_slice(typ);
        out.extend_from_slice(&((body_len + 16) as u64).to_be_bytes());
    } else {
        out.extend_from_slice(&be32((body_len + 8) as u32));
        out.extend_from_slice(typ);
    }
}

fn bx(typ: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 8);
    box_header(&mut out, typ, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn fbx(typ: &[u8; 4], version: u8, flags: u32, parts: &[&[u8]]) -> Vec<u8> {
    let mut vf = be32(flags);
    vf[0] = version;
    let mut all: Vec<&[u8]> = vec![&vf];
    all.extend_from_slice(parts);
    bx(typ, &all)
}

fn ftyp(major: &[u8; 4], minor: u32, compat: &[&[u8; 4]]) -> Vec<u8> {
    let mut body = major.to_vec();
    body.extend_from_slice(&be32(minor));
    for c in compat {
        body.extend_from_slice(*c);
    }
    bx(b"ftyp", &[&body])
}

/// UUID of the XMP `uuid` box (MP4, CR3, ...).
pub const XMP_UUID: [u8; 16] =
    [0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC];
const CANON_UUID: [u8; 16] =
    [0x85, 0xC0, 0xB6, 0x87, 0x82, 0x0F, 0x11, 0xE0, 0x81, 0x11, 0xF4, 0xCE, 0x46, 0x2B, 0x6A, 0x48];

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| be32(*v)).collect()
}

fn mvhd(created: u64) -> Vec<u8> {
    let mut b = Vec::new();
    let v1 = created > u32::MAX as u64;
    if v1 {
        b.extend_from_slice(&created.to_be_bytes());
        b.extend_from_slice(&created.to_be_bytes());
        b.extend_from_slice(&be32(1000));
        b.extend_from_slice(&1000u64.to_be_bytes());
    } else {
        b.extend_from_slice(&be32(created as u32));
        b.extend_from_slice(&be32(created as u32));
        b.extend_from_slice(&be32(1000));
        b.extend_from_slice(&be32(1000));
    }
    b.extend_from_slice(&be32(0x0001_0000)); // rate
    b.extend_from_slice(&be16(0x0100)); // volume
    zeros(&mut b, 10);
    b.extend_from_slice(&matrix());
    zeros(&mut b, 24);
    b.extend_from_slice(&be32(2)); // next track id
    fbx(b"mvhd", v1 as u8, 0, &[&b])
}

fn trak(created: u64) -> Vec<u8> {
    let c = created.min(u32::MAX as u64) as u32;
    let mut tk = Vec::new();
    tk.extend_from_slice(&be32(c));
    tk.extend_from_slice(&be32(c));
    tk.extend_from_slice(&be32(1)); // track id
    zeros(&mut tk, 4);
    tk.extend_from_slice(&be32(1000)); // duration
    zeros(&mut tk, 8);
    zeros(&mut tk, 8); // layer, alternate group, volume, reserved
    tk.extend_from_slice(&matrix());
    tk.extend_from_slice(&be32(W << 16));
    tk.extend_from_slice(&be32(H << 16));
    let tkhd = fbx(b"tkhd", 0, 3, &[&tk]);
    let mut md = Vec::new();
    md.extend_from_slice(&be32(c));
    md.extend_from_slice(&be32(c));
    md.extend_from_slice(&be32(1000));
    md.extend_from_slice(&be32(1000));
    md.extend_from_slice(&be16(0x55C4)); // "und"
    md.extend_from_slice(&be16(0));
    let mdhd = fbx(b"mdhd", 0, 0, &[&md]);
    let hdlr = fbx(b"hdlr", 0, 0, &[&be32(0), b"vide", &[0; 12], b"VideoHandler\0"]);
    let vmhd = fbx(b"vmhd", 0, 1, &[&[0; 8]]);
    let url = fbx(b"url ", 0, 1, &[]);
    let dinf = bx(b"dinf", &[&fbx(b"dref", 0, 0, &[&be32(1), &url])]);
    let stbl = bx(
        b"stbl",
        &[
            &fbx(b"stsd", 0, 0, &[&be32(0)]),
            &fbx(b"stts", 0, 0, &[&be32(0)]),
            &fbx(b"stsc", 0, 0, &[&be32(0)]),
            &fbx(b"stsz", 0, 0, &[&be32(0), &be32(0)]),
            &fbx(b"stco", 0, 0, &[&be32(0)]),
        ],
    );
    let minf = bx(b"minf", &[&vmhd, &dinf, &stbl]);
    let mdia = bx(b"mdia", &[&mdhd, &hdlr, &minf]);
    bx(b"trak", &[&tkhd, &mdia])
}

fn mdat(out: &mut Vec<u8>, n: usize) {
    box_header(out, b"mdat", n);
    zeros(out, n);
}

fn xmp_uuid_box(x: &str) -> Vec<u8> {
    bx(b"uuid", &[&XMP_UUID, x.as_bytes()])
}

fn mp4(meta: &Embed) -> Vec<u8> {
    let created = meta.quicktime_created.unwrap_or(0);
    let mut out = ftyp(b"isom", 0x200, &[b"isom", b"iso2", b"mp41"]);
    out.extend_from_slice(&bx(b"moov", &[&mvhd(created), &trak(created)]));
    if let Some(x) = &meta.xmp {
        out.extend_from_slice(&xmp_uuid_box(x));
    }
    out.extend_from_slice(&bx(b"free", &[&[0; 8]]));
    mdat(&mut out, meta.payload_bytes);
    out
}

fn mov(meta: &Embed) -> Vec<u8> {
    let created = meta.quicktime_created.unwrap_or(0);
    let mut out = ftyp(b"qt  ", 0x2005_0300, &[b"qt  "]);
    out.extend_from_slice(&bx(b"wide", &[]));
    mdat(&mut out, meta.payload_bytes);
    let mut moov: Vec<Vec<u8>> = vec![mvhd(created), trak(created)];
    if let Some(x) = &meta.xmp {
        moov.push(bx(b"udta", &[&bx(b"XMP_", &[x.as_bytes()])]));
    }
    let parts: Vec<&[u8]> = moov.iter().map(|v| v.as_slice()).collect();
    out.extend_from_slice(&bx(b"moov", &parts));
    out
}

fn cr3(meta: &Embed) -> Vec<u8> {
    let created = meta.quicktime_created.unwrap_or(0);
    let mut out = ftyp(b"crx ", 1, &[b"crx ", b"isom"]);
    let mut ifd0 = vec![(271, Tv::Ascii("Canon".into())), (272, Tv::Ascii("Canon EOS R5".into()))];
    if let Some(x) = &meta.xp_keywords {
        ifd0.push((0x9C9E, Tv::Byte(utf16le_z(x))));
    }
    let tiff = |ifd0: Vec<(u16, Tv)>| {
        build_tiff(&TiffSpec {
            be: false,
            magic: 42,
            extra_header: &[],
            ifd_first: true,
            ifd0,
            exif: Vec::new(),
            blobs: Vec::new(),
            payload: 0,
        })
    };
    let cmt1 = bx(b"CMT1", &[&tiff(ifd0)]);
    let mut exif = vec![(0x9000, Tv::Undef(b"0231".to_vec()))];
    exif.extend(exif_ifd_entries(meta).into_iter().filter(|(t, _)| *t != 0x9000));
    let cmt2 = bx(b"CMT2", &[&tiff(exif)]);
    let cncv = bx(b"CNCV", &[b"CanonCR3_001/00.09.00/00.00.00"]);
    let canon = bx(b"uuid", &[&CANON_UUID, &cncv, &cmt1, &cmt2]);
    out.extend_from_slice(&bx(b"moov", &[&canon, &mvhd(created)]));
    if let Some(x) = &meta.xmp {
        out.extend_from_slice(&xmp_uuid_box(x));
    }
    mdat(&mut out, meta.payload_bytes);
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HeifKind {
    Heic,
    Avif,
}

struct HeifItem {
    id: u16,
    typ: [u8; 4],
    content_type: Option<&'static str>,
    data: Vec<u8>,
    in_idat: bool,
}

fn heif_meta(items: &[HeifItem], kind: HeifKind, offsets: &[u32]) -> Vec<u8> {
    let hdlr = fbx(b"hdlr", 0, 0, &[&be32(0), b"pict", &[0; 12], b"\0"]);
    let pitm = fbx(b"pitm", 0, 0, &[&be16(1)]);
    let mut iloc = vec![0x44, 0x00];
    iloc.extend_from_slice(&be16(items.len() as u16));
    for (it, off) in items.iter().zip(offsets) {
        iloc.extend_from_slice(&be16(it.id));
        iloc.extend_from_slice(&be16(if it.in_idat { 1 } else { 0 }));
        iloc.extend_from_slice(&be16(0));
        iloc.extend_from_slice(&be16(1));
        iloc.extend_from_slice(&be32(*off));
        iloc.extend_from_slice(&be32(it.data.len() as u32));
    }
    let iloc = fbx(b"iloc", 1, 0, &[&iloc]);
    let infes: Vec<Vec<u8>> = items
        .iter()
        .map(|it| {
            let mut b = be16(it.id).to_vec();
            b.extend_from_slice(&be16(0));
            b.extend_from_slice(&it.typ);
            b.push(0); // item_name ""
            if let Some(ct) = it.content_type {
                b.extend_from_slice(ct.as_bytes());
                b.push(0);
            }
            fbx(b"infe", 2, 0, &[&b])
        })
        .collect();
    let mut iinf_parts: Vec<&[u8]> = Vec::new();
    let count = be16(items.len() as u16);
    iinf_parts.push(&count);
    iinf_parts.extend(infes.iter().map(|v| v.as_slice()));
    let iinf = fbx(b"iinf", 0, 0, &iinf_parts);
    let cdsc: Vec<Vec<u8>> = items
        .iter()
        .filter(|it| it.id != 1)
        .map(|it| {
            let mut b = be16(it.id).to_vec();
            b.extend_from_slice(&be16(1));
            b.extend_from_slice(&be16(1));
            bx(b"cdsc", &[&b])
        })
        .collect();
    let mut iref_parts: Vec<&[u8]> = Vec::new();
    iref_parts.extend(cdsc.iter().map(|v| v.as_slice()));
    let iref = fbx(b"iref", 0, 0, &iref_parts);
    let config = match kind {
        HeifKind::Heic => {
            let mut c = vec![1u8, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90, 0xF0, 0x00, 0xFC, 0xFD, 0xF8, 0xF8];
            c.extend_from_slice(&[0, 0, 0x0F, 0]);
            bx(b"hvcC", &[&c])
        }
        HeifKind::Avif => bx(b"av1C", &[&[0x81, 0x00, 0x0C, 0x00]]),
    };
    let ispe = fbx(b"ispe", 0, 0, &[&be32(W), &be32(H)]);
    let ipco = bx(b"ipco", &[&config, &ispe]);
    let ipma = fbx(b"ipma", 0, 0, &[&be32(1), &be16(1), &[2, 0x81, 0x02]]);
    let iprp = bx(b"iprp", &[&ipco, &ipma]);
    let idat_data: Vec<u8> = items.iter().filter(|i| i.in_idat).flat_map(|i| i.data.clone()).collect();
    let mut parts: Vec<Vec<u8>> = vec![hdlr, pitm, iloc, iinf];
    if !cdsc.is_empty() {
        parts.push(iref);
    }
    parts.push(iprp);
    if !idat_data.is_empty() {
        parts.push(bx(b"idat", &[&idat_data]));
    }
    let refs: Vec<&[u8]> = parts.iter().map(|v| v.as_slice()).collect();
    fbx(b"meta", 0, 0, &refs)
}

fn heif(meta: &Embed, kind: HeifKind, use_idat: bool) -> Vec<u8> {
    let ftyp = match kind {
        HeifKind::Heic => ftyp(b"heic", 0, &[b"mif1", b"heic"]),
        HeifKind::Avif => ftyp(b"avif", 0, &[b"avif", b"mif1", b"miaf"]),
    };
    let image_typ = if kind == HeifKind::Heic { *b"hvc1" } else { *b"av01" };
    let mut items = vec![HeifItem {
        id: 1,
        typ: image_typ,
        content_type: None,
        data: vec![0u8; meta.payload_bytes.max(32)],
        in_idat: false,
    }];
    let mut next = 2;
    if let Some(tiff) = meta_exif(meta, true) {
        let mut d = be32(6).to_vec();
        d.extend_from_slice(b"Exif\0\0");
        d.extend_from_slice(&tiff);
        items.push(HeifItem { id: next, typ: *b"Exif", content_type: None, data: d, in_idat: false });
        next += 1;
    }
    if let Some(x) = &meta.xmp {
        items.push(HeifItem {
            id: next,
            typ: *b"mime",
            content_type: Some("application/rdf+xml"),
            data: x.as_bytes().to_vec(),
            in_idat: use_idat,
        });
    }
    // offsets: idat items relative to the idat data, the others absolute inside mdat
    let dummy = vec![0u32; items.len()];
    let meta_len = heif_meta(&items, kind, &dummy).len();
    let mdat_body: usize = items.iter().filter(|i| !i.in_idat).map(|i| i.data.len()).sum();
    let mdat_header = if mdat_body + 8 > u32::MAX as usize { 16 } else { 8 };
    let mut mdat_at = ftyp.len() + meta_len + mdat_header;
    let mut idat_at = 0usize;
    let mut offsets = Vec::new();
    for it in &items {
        if it.in_idat {
            offsets.push(idat_at as u32);
            idat_at += it.data.len();
        } else {
            offsets.push(mdat_at as u32);
            mdat_at += it.data.len();
        }
    }
    let meta_box = heif_meta(&items, kind, &offsets);
    assert_eq!(meta_box.len(), meta_len);
    let mut out = ftyp;
    out.extend_from_slice(&meta_box);
    box_header(&mut out, b"mdat", mdat_body);
    for it in items.iter().filter(|i| !i.in_idat) {
        out.extend_from_slice(&it.data);
    }
    out
}

// ----- RAF ----------------------------------------------------------------------------------------

const RAF_HEADER_LEN: usize = 160;

fn raf(meta: &Embed) -> Vec<u8> {
    let inner = Embed { payload_bytes: 0, ..meta.clone() };
    let jpeg = jpeg_with(&inner, true);
    let mut out = Vec::with_capacity(RAF_HEADER_LEN + jpeg.len() + meta.payload_bytes);
    out.extend_from_slice(b"FUJIFILMCCD-RAW 0201FF383501");
    let mut model = b"X-T3".to_vec();
    model.resize(32, 0);
    out.extend_from_slice(&model);
    out.extend_from_slice(b"0100");
    zeros(&mut out, 20);
    let cfa_at = RAF_HEADER_LEN + jpeg.len();
    // the CFA section: a small TIFF (as in current RAFs) followed by the fake raw data
    let cfa = build_tiff(&TiffSpec {
        be: true,
        magic: 42,
        extra_header: &[],
        ifd_first: true,
        ifd0: vec![(0x0100, Tv::Long(vec![W])), (0x0101, Tv::Long(vec![H]))],
        exif: Vec::new(),
        blobs: Vec::new(),
        payload: meta.payload_bytes,
    });
    out.extend_from_slice(&be32(RAF_HEADER_LEN as u32));
    out.extend_from_slice(&be32(jpeg.len() as u32));
    out.extend_from_slice(&be32(0)); // CFA header offset (no RAF directory)
    out.extend_from_slice(&be32(0));
    out.extend_from_slice(&be32(cfa_at as u32));
    out.extend_from_slice(&be32(cfa.len() as u32));
    out.resize(RAF_HEADER_LEN, 0);
    out.extend_from_slice(&jpeg);
    out.extend_from_slice(&cfa);
    out
}

// ---------------------------------------------------------------------------------------------
// The fixture archive
// ---------------------------------------------------------------------------------------------

/// What a media file of the fixture archive carries by construction (one `EXPECTED.json` entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Expected {
    /// Normalised persons, sorted, without duplicates.
    pub persons: Vec<String>,
    /// Number of face regions without a name.
    pub unnamed_faces: usize,
}

/// Orphan sidecars of the fixture archive (no media file beside them).
pub const FIXTURE_ORPHANS: [&str; 2] =
    ["2024/portraits/studio/deleted-photo.xmp", "2024/portraits/studio/old-scan.tif.xmp"];

/// Non-media files of the fixture archive that a scan skips (besides `EXPECTED.json`).
pub const FIXTURE_SKIPPED: [&str; 2] = ["notes.txt", "2023/summer-fest/backstage/Thumbs.db"];

#[derive(Clone, Debug)]
struct Sidecar {
    path: &'static str,
    people: People,
    style: Style,
    wrapper: bool,
}

#[derive(Clone, Debug)]
struct Fx {
    path: &'static str,
    format: SynthFormat,
    xmp: Option<(People, Style)>,
    extended: Option<(People, Style, usize)>,
    xp: Option<String>,
    iptc: Vec<String>,
    dto: Option<&'static str>,
    qt: Option<u64>,
    payload: usize,
    sidecars: Vec<Sidecar>,
}

impl Fx {
    fn new(path: &'static str, format: SynthFormat) -> Fx {
        Fx {
            path,
            format,
            xmp: None,
            extended: None,
            xp: None,
            iptc: Vec::new(),
            dto: None,
            qt: None,
            payload: 0,
            sidecars: Vec::new(),
        }
    }

    fn embed(&self) -> Embed {
        Embed {
            xmp: self.xmp.as_ref().map(|(p, s)| xmp_for(p, *s)),
            extended_xmp: self.extended.as_ref().map(|(p, s, min)| pad_xmp(&xmp_meta(&xmp_body_for(p, *s)), *min)),
            xp_keywords: self.xp.clone(),
            iptc_keywords: self.iptc.clone(),
            date_time_original: self.dto.map(str::to_string),
            quicktime_created: self.qt,
            payload_bytes: self.payload,
        }
    }

    /// What this file carries, merging every sidecar of `sidecars` that matches it.
    fn expected(&self, sidecars: &[Sidecar]) -> Expected {
        let mut persons = BTreeSet::new();
        let mut unnamed = 0;
        let all_people = self
            .xmp
            .iter()
            .map(|(p, _)| p)
            .chain(self.extended.iter().map(|(p, _, _)| p))
            .chain(sidecars.iter().filter(|s| sidecar_matches(s.path, self.path)).map(|s| &s.people));
        for p in all_people {
            persons.extend(p.persons());
            unnamed += p.unnamed_faces();
        }
        if let Some(xp) = &self.xp {
            persons.extend(keyword_persons(xp.split(';')));
        }
        persons.extend(keyword_persons(self.iptc.iter().map(String::as_str)));
        Expected { persons: persons.into_iter().collect(), unnamed_faces: unnamed }
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn nfd(v: &str) -> String {
    v.nfd().collect()
}

/// 2024-03-10 12:00:00 UTC in seconds since 1904-01-01.
const QT_2024_03_10: u64 = 3_792_916_800;

#[allow(clippy::vec_init_then_push)] // one push per file reads best
fn fixture_specs() -> Vec<Fx> {
    use SynthFormat::*;
    let mut v = Vec::new();

    // --- 2023/summer-fest: one source per file, the common styles ---
    v.push(Fx {
        xmp: Some((
            People {
                person_in_image: s(&["Anna Schmidt", " Jonas  Weber "]),
                date_created: Some("2023-07-15T14:03:00".into()),
                ..People::default()
            },
            Style::STANDARD,
        )),
        dto: Some("2023:07:15 14:03:00"),
        payload: 20_000,
        ..Fx::new("2023/summer-fest/IMG_1001.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((
            People { mwg_faces: vec![Some("Lena Fischer".into()), Some("Paul Becker".into())], ..People::default() },
            Style::ATTRIBUTES,
        )),
        xp: Some("People/Mia Wagner;Sommerfest;Berlin".into()),
        ..Fx::new("2023/summer-fest/IMG_1002.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((
            People { mp_faces: vec![Some("Karl Hoffmann".into()), None, Some(MP_UNNAMED.into())], ..People::default() },
            Style::LOCAL_NS,
        )),
        ..Fx::new("2023/summer-fest/IMG_1003.JPG", Jpeg)
    });
    v.push(Fx {
        xmp: Some((
            People {
                mwg_faces: vec![None, None],
                create_date: Some("2023-07-15T16:20:11+02:00".into()),
                ..People::default()
            },
            Style::SWAPPED_ARRAYS,
        )),
        dto: Some("2023:07:15 16:20:11"),
        ..Fx::new("2023/summer-fest/IMG_1004.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((
            People { person_details: s(&["Sophie Schulz", "Emil Krause"]), ..People::default() },
            Style::NESTED,
        )),
        ..Fx::new("2023/summer-fest/group.png", Png)
    });
    v.push(Fx {
        xmp: Some((
            People { region_persons: s(&["Felix Lang", "Nina Roth"]), ..People::default() },
            Style { attributes: true, odd_prefixes: true, ..Style::STANDARD },
        )),
        xp: Some("Personen|Clara Vogel".into()),
        payload: 10_000,
        ..Fx::new("2023/summer-fest/stage.webp", WebP)
    });
    v.push(Fx {
        xmp: Some((
            People {
                dc_subject: s(&["Crowd", "Max Mustermann", "Rock & Roll <live>"]),
                lr_subjects: s(&["Events|Sommerfest", "Places|Berlin", "People"]),
                ..People::default()
            },
            Style::STANDARD,
        )),
        payload: 5_000,
        ..Fx::new("2023/summer-fest/crowd.gif", Gif)
    });
    v.push(Fx {
        xmp: Some((
            People { dc_subject: s(&["Berlin", "Sommer", "Lena Fischer"]), ..People::default() },
            Style::ATTRIBUTES,
        )),
        iptc: s(&["Berlin", "Sommer", "Lena Fischer", "Events/Sommerfest"]),
        xp: Some("Berlin;Sommer;Lena Fischer".into()),
        ..Fx::new("2023/summer-fest/keywords-only.jpg", Jpeg)
    });

    // --- 2023/summer-fest/backstage: hierarchical keywords, root case variants, NFD, mixes ---
    v.push(Fx {
        xmp: Some((
            People {
                digikam_tags: vec![
                    "People/Tom Braun".into(),
                    "Places/Berlin".into(),
                    nfd("personen/Jürgen  Groß"),
                    "People".into(),
                ],
                ..People::default()
            },
            Style::SWAPPED_ARRAYS,
        )),
        ..Fx::new("2023/summer-fest/backstage/digikam.png", PngCompressedXmp)
    });
    v.push(Fx {
        xmp: Some((
            People {
                lr_subjects: vec![
                    "People|Ben Koch".into(),
                    nfd("PERSONS|Zoë Adams"),
                    "Events|Backstage".into(),
                    "People|Family|Oma Erna".into(),
                ],
                ..People::default()
            },
            Style::NESTED,
        )),
        iptc: s(&["People/Ida Neumann", "Backstage"]),
        payload: 30_000,
        ..Fx::new("2023/summer-fest/backstage/lightroom.tif", Tiff)
    });
    v.push(Fx {
        xmp: Some((
            People {
                person_in_image: s(&["Anna Schmidt", "Seán O'Brien"]),
                person_details: s(&["Tom \"Tommy\" Braun"]),
                region_persons: s(&["Greta Hahn"]),
                mwg_faces: vec![Some("Anna \t Schmidt".into())],
                mwg_non_face: s(&["Rex"]),
                mp_faces: vec![Some("Greta Hahn".into())],
                digikam_tags: s(&["Persons/Lukas Klein"]),
                lr_subjects: s(&["people|Marie Zimmermann"]),
                dc_subject: s(&["Rex", "Backstage"]),
                date_created: Some("2023-07-15".into()),
                create_date: Some("2023-07-15T21:00:00".into()),
            },
            Style { split: true, pretty: false, ..Style::STANDARD },
        )),
        iptc: s(&["Persons|Jan Fuchs"]),
        xp: Some("PEOPLE/Jan Fuchs; Backstage".into()),
        dto: Some("2023:07:15 21:00:00"),
        ..Fx::new("2023/summer-fest/backstage/everything.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Hannah Wolf"]), ..People::default() }, Style::EXOTIC)),
        dto: Some("2023:07:16 10:00:00"),
        ..Fx::new("2023/summer-fest/backstage/heic-idat.heic", HeicIdat)
    });

    // --- 2024/portraits/studio: sidecars, extended XMP, PSD, HEIF, magic bytes ---
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Greta Hahn"]), ..People::default() }, Style::STANDARD)),
        sidecars: vec![
            Sidecar {
                path: "2024/portraits/studio/portrait.jpg.xmp",
                people: People { person_in_image: vec![nfd("Moritz Schröder")], ..People::default() },
                style: Style::STANDARD,
                wrapper: false,
            },
            Sidecar {
                path: "2024/portraits/studio/portrait.xmp",
                people: People { lr_subjects: s(&["People|Lukas Klein"]), ..People::default() },
                style: Style::ATTRIBUTES,
                wrapper: true,
            },
        ],
        ..Fx::new("2024/portraits/studio/portrait.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Marie Zimmermann"]), ..People::default() }, Style::STANDARD)),
        extended: Some((
            People { mwg_faces: vec![Some("Leon Hartmann".into()), Some(nfd("Ella Krüger"))], ..People::default() },
            Style::NESTED,
            100_000,
        )),
        ..Fx::new("2024/portraits/studio/portrait-extended.jpg", Jpeg)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Jana Schwarz"]), ..People::default() }, Style::ODD_PREFIXES)),
        iptc: s(&["Persons/Tim Lorenz", "Studio"]),
        xp: Some("people/Lea Braun".into()),
        payload: 4_000,
        ..Fx::new("2024/portraits/studio/retouched.psd", Psd)
    });
    v.push(Fx {
        xmp: Some((
            People { mwg_faces: vec![Some("Noah Frank".into()), None], ..People::default() },
            Style::ATTRIBUTES,
        )),
        dto: Some("2024:02:01 09:30:00"),
        payload: 8_000,
        ..Fx::new("2024/portraits/studio/headshot.heic", Heic)
    });
    v.push(Fx {
        xmp: Some((People { digikam_tags: s(&["Personen/Amelie Sommer"]), ..People::default() }, Style::ODD_PREFIXES)),
        xp: Some("Persons/Amelie Sommer".into()),
        ..Fx::new("2024/portraits/studio/headshot-web.avif", Avif)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Oskar Berg"]), ..People::default() }, Style::STANDARD)),
        ..Fx::new("2024/portraits/studio/misnamed.jpg", Png)
    });
    v.push(Fx::new("2024/portraits/studio/plain.jpg", Jpeg));

    // --- raw/2024-03-10: TIFF-based RAWs, RAF, CR3, both sidecar conventions, upper-case names ---
    v.push(Fx {
        xmp: Some((People { region_persons: s(&["Sebastian Kraus"]), ..People::default() }, Style::STANDARD)),
        iptc: s(&["People/Sebastian Kraus", "Landschaft"]),
        dto: Some("2024:03:10 08:00:00"),
        payload: 20_000,
        sidecars: vec![Sidecar {
            path: "raw/2024-03-10/DSC_0001.xmp",
            people: People { person_in_image: s(&["Paula Vogt"]), ..People::default() },
            style: Style::STANDARD,
            wrapper: false,
        }],
        ..Fx::new("raw/2024-03-10/DSC_0001.NEF", Nef)
    });
    // the camera JPEG of the RAW+JPEG pair: DSC_0001.xmp (name.xmp) matches it too
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Sebastian Kraus"]), ..People::default() }, Style::NESTED)),
        dto: Some("2024:03:10 08:00:00"),
        ..Fx::new("raw/2024-03-10/DSC_0001.JPG", Jpeg)
    });
    v.push(Fx {
        xp: Some("Persons/Johanna Peters;Landscape".into()),
        dto: Some("2024:03:10 08:05:00"),
        sidecars: vec![Sidecar {
            path: "raw/2024-03-10/IMG_0002.CR2.xmp",
            people: People { mwg_faces: vec![Some("Elias Busch".into())], ..People::default() },
            style: Style::STANDARD,
            wrapper: false,
        }],
        ..Fx::new("raw/2024-03-10/IMG_0002.CR2", Cr2)
    });
    v.push(Fx {
        xmp: Some((People { mp_faces: vec![Some("Frieda Scholz".into())], ..People::default() }, Style::NESTED)),
        ..Fx::new("raw/2024-03-10/P0003.ORF", Orf)
    });
    v.push(Fx {
        xmp: Some((People { lr_subjects: s(&["People|Anton Jung"]), ..People::default() }, Style::ATTRIBUTES)),
        iptc: s(&["PERSONEN/Luise Kuhn"]),
        ..Fx::new("raw/2024-03-10/P0004.RW2", Rw2)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Theo Schmitz"]), ..People::default() }, Style::STANDARD)),
        iptc: s(&["Personen|Lina Meyer"]),
        xp: Some("People/Theo Schmitz".into()),
        dto: Some("2024:03:10 09:00:00"),
        payload: 30_000,
        ..Fx::new("raw/2024-03-10/DSCF0005.RAF", Raf)
    });
    v.push(Fx {
        xmp: Some((People { person_in_image: s(&["Mila Lehmann"]), ..People::default() }, Style::LOCAL_NS)),
        xp: Some(nfd("People/Henry Köhler")),
        dto: Some("2024:03:10 10:00:00"),
        qt: Some(QT_2024_03_10),
        payload: 20_000,
        ..Fx::new("raw/2024-03-10/IMG_0006.CR3", Cr3)
    });
    v.push(Fx {
        xmp: Some((People { digikam_tags: s(&["People/Ida Schulze"]), ..People::default() }, Style::EXOTIC)),
        payload: 40_000,
        sidecars: vec![Sidecar {
            path: "raw/2024-03-10/IMG_0007.xmp",
            people: People { person_in_image: s(&["  Ida   Schulze ", "Konrad Haas"]), ..People::default() },
            style: Style::EXOTIC,
            wrapper: true,
        }],
        ..Fx::new("raw/2024-03-10/IMG_0007.dng", Dng)
    });

    // --- video ---
    v.push(Fx {
        xmp: Some((
            People {
                person_in_image: s(&["Vincent Otto"]),
                mwg_faces: vec![Some("Vincent Otto".into())],
                ..People::default()
            },
            Style::STANDARD,
        )),
        qt: Some(QT_2024_03_10),
        payload: 60_000,
        ..Fx::new("video/clip.mp4", Mp4)
    });
    v.push(Fx {
        xmp: Some((People { person_details: s(&["Carla Winter"]), ..People::default() }, Style::ATTRIBUTES)),
        qt: Some(QT_2024_03_10 + 3600),
        payload: 40_000,
        ..Fx::new("video/interview.MOV", Mov)
    });
    v.push(Fx { qt: Some(QT_2024_03_10), payload: 10_000, ..Fx::new("video/drone.mp4", Mp4) });
    v
}

fn orphan_specs() -> Vec<Sidecar> {
    vec![
        Sidecar {
            path: FIXTURE_ORPHANS[0],
            people: People { person_in_image: s(&["Orphan Person"]), ..People::default() },
            style: Style::STANDARD,
            wrapper: true,
        },
        Sidecar {
            path: FIXTURE_ORPHANS[1],
            people: People { mwg_faces: vec![Some("Another Orphan".into())], ..People::default() },
            style: Style::NESTED,
            wrapper: false,
        },
    ]
}

fn sidecar_text(sc: &Sidecar) -> String {
    let body = xmp_body_for(&sc.people, sc.style);
    if sc.wrapper {
        xmp_packet(&body)
    } else {
        xmp_meta(&body)
    }
}

/// Whether `sidecar` is a sidecar of `media` (relative paths): `name.ext.xmp` or `name.xmp`.
fn sidecar_matches(sidecar: &str, media: &str) -> bool {
    let stem = match media.rfind('.') {
        Some(dot) if !media[dot..].contains('/') => &media[..dot],
        _ => media,
    };
    sidecar == format!("{media}.xmp") || sidecar == format!("{stem}.xmp")
}

fn all_sidecars(specs: &[Fx]) -> Vec<Sidecar> {
    specs.iter().flat_map(|f| f.sidecars.iter().cloned()).chain(orphan_specs()).collect()
}

/// The oracle of the fixture archive: relative path (with `/`) of every media file -> what it
/// carries (embedded XMP, extended XMP, EXIF, IPTC and every matching sidecar merged).
pub fn fixture_expected() -> BTreeMap<String, Expected> {
    let specs = fixture_specs();
    let sidecars = all_sidecars(&specs);
    specs.iter().map(|f| (f.path.to_string(), f.expected(&sidecars))).collect()
}

/// One media file of the fixture archive as written: its container and the EXIF and QuickTime
/// dates it carries (what a reference reader such as exiftool must find besides the persons of
/// [`fixture_expected`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureFile {
    /// Relative path with `/`.
    pub path: &'static str,
    /// The container written.
    pub format: SynthFormat,
    /// EXIF `DateTimeOriginal` (`YYYY:MM:DD HH:MM:SS`), if written.
    pub date_time_original: Option<&'static str>,
    /// QuickTime creation time in seconds since 1904-01-01 UTC, if written.
    pub quicktime_created: Option<u64>,
}

/// Every media file of the fixture archive, in the order they are written.
pub fn fixture_files() -> Vec<FixtureFile> {
    fixture_specs()
        .iter()
        .map(|f| FixtureFile { path: f.path, format: f.format, date_time_original: f.dto, quicktime_created: f.qt })
        .collect()
}

/// Every (sidecar path, media path) pair of the fixture archive. A `name.xmp` sidecar can belong
/// to several media files (`DSC_0001.NEF` and `DSC_0001.JPG` share `DSC_0001.xmp`).
pub fn fixture_sidecars() -> Vec<(String, String)> {
    let specs = fixture_specs();
    let mut out = Vec::new();
    for sc in all_sidecars(&specs) {
        for f in specs.iter().filter(|f| sidecar_matches(sc.path, f.path)) {
            out.push((sc.path.to_string(), f.path.to_string()));
        }
    }
    out
}

fn write_file(dir: &Path, rel: &str, data: &[u8]) -> io::Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, data)
}

/// Writes the deterministic fixture archive into `dir` (created if needed): every
/// [`SynthFormat`], every person source and [`Style`] preset, unnamed faces, sidecars of both
/// conventions, orphan sidecars ([`FIXTURE_ORPHANS`]), skipped non-media files
/// ([`FIXTURE_SKIPPED`]), and `EXPECTED.json` ([`fixture_expected`]).
pub fn write_fixture_archive(dir: &Path) -> io::Result<()> {
    let specs = fixture_specs();
    let sidecars = all_sidecars(&specs);
    for f in &specs {
        write_file(dir, f.path, &build(f.format, &f.embed()))?;
        for sc in &f.sidecars {
            write_file(dir, sc.path, sidecar_text(sc).as_bytes())?;
        }
    }
    for sc in orphan_specs() {
        write_file(dir, sc.path, sidecar_text(&sc).as_bytes())?;
    }
    write_file(
        dir,
        FIXTURE_SKIPPED[0],
        "Fotoarchiv Sommerfest 2023\n\nPeople/Not A Person -- text files are skipped, not scanned.\n".as_bytes(),
    )?;
    write_file(dir, FIXTURE_SKIPPED[1], &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0])?;
    let expected: BTreeMap<String, Expected> =
        specs.iter().map(|f| (f.path.to_string(), f.expected(&sidecars))).collect();
    let mut json = serde_json::to_string_pretty(&expected).map_err(io::Error::other)?;
    json.push('\n');
    write_file(dir, "EXPECTED.json", json.as_bytes())?;
    // Marks the archive root (scope globs are relative to it) and names the shipped register.
    write_file(dir, "consentry.toml", FIXTURE_CONFIG.as_bytes())
}

/// `consentry.toml` of the fixture archive: the register beside it (`fixtures/register`).
pub const FIXTURE_CONFIG: &str =
    "# The fixture archive's root; its consent register lies beside it.\nregister = \"../register\"\n";

// ---- The benchmark archive (benches/) ----

/// Names the benchmark archive depicts.
pub const BENCH_NAMES: [&str; 24] = [
    "Anna Schmidt",
    "Ben Meyer",
    "Carla Roth",
    "Dora Klein",
    "Emil Weber",
    "Frieda Wolf",
    "Günter Groß",
    "Hans Vogel",
    "Ida Neumann",
    "Jörg Müller",
    "Karla Fischer",
    "Lena Braun",
    "Max Hoffmann",
    "Nina Schulz",
    "Otto Wagner",
    "Paula Becker",
    "Quirin Lange",
    "Rosa Krause",
    "Sven Richter",
    "Tanja Koch",
    "Uwe Bauer",
    "Vera Zimmer",
    "Willi Hartmann",
    "Zoe Schäfer",
];

/// A CSV register of `consents` consents for the benchmarks: three for every name of
/// [`BENCH_NAMES`] first, the rest for people the archive does not show (as in a real register,
/// most of whose people are in no given folder). Expiries spread over 2020-2040; every seventh
/// consent is scoped to a few folders. Evidence documents are `evidence/c{i}.pdf`.
pub fn bench_register_csv(consents: usize) -> String {
    const USAGES: [&str; 4] = ["print,web", "web,social", "print,web,press", "web"];
    let mut csv = String::from("id,person,usage,granted,expires,document,scope\n");
    for i in 0..consents {
        let depicted = 3 * BENCH_NAMES.len();
        let person =
            if i < depicted { BENCH_NAMES[i % BENCH_NAMES.len()].to_string() } else { format!("Person {i:06}") };
        let year = 2020 + (i % 21);
        let scope = if i % 7 == 0 { "0[0-1]?/**" } else { "*" };
        let usage = USAGES[i % USAGES.len()];
        csv.push_str(&format!("c{i},{person},\"{usage}\",2019-01-01,{year}-06-30,evidence/c{i}.pdf,{scope}\n"));
    }
    csv
}

/// Deterministic xorshift generator: the archive is the same on every machine.
struct BenchRng(u64);

impl BenchRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn names(&mut self, max: usize) -> Vec<String> {
        (0..1 + self.below(max)).map(|_| BENCH_NAMES[self.below(BENCH_NAMES.len())].to_string()).collect()
    }
}

/// Weighted mix of containers, roughly as in a press archive: mostly JPEG, some RAW and video.
fn bench_format(rng: &mut BenchRng) -> SynthFormat {
    use SynthFormat::*;
    const MIX: [(SynthFormat, usize); 16] = [
        (Jpeg, 50),
        (Png, 6),
        (PngCompressedXmp, 2),
        (Tiff, 4),
        (WebP, 4),
        (Gif, 2),
        (Psd, 2),
        (Heic, 6),
        (Avif, 2),
        (Dng, 4),
        (Cr2, 3),
        (Nef, 4),
        (Cr3, 3),
        (Raf, 2),
        (Mp4, 4),
        (Mov, 2),
    ];
    let total: usize = MIX.iter().map(|(_, w)| w).sum();
    let mut x = rng.below(total);
    for (f, w) in MIX {
        if x < w {
            return f;
        }
        x -= w;
    }
    Jpeg
}

fn bench_people(rng: &mut BenchRng) -> People {
    let mut p = People::default();
    match rng.below(8) {
        0 => p.person_in_image = rng.names(3),
        1 => p.person_details = rng.names(2),
        2 => p.region_persons = rng.names(2),
        3 => {
            p.mwg_faces = rng.names(3).into_iter().map(Some).collect();
            if rng.chance(30) {
                p.mwg_faces.push(None);
            }
        }
        4 => p.mp_faces = rng.names(3).into_iter().map(Some).collect(),
        5 => p.digikam_tags = rng.names(2).into_iter().map(|n| format!("People/{n}")).collect(),
        6 => p.lr_subjects = rng.names(2).into_iter().map(|n| format!("Personen|{n}")).collect(),
        _ => {}
    }
    p.dc_subject = vec!["Event".into(), "Berlin".into()];
    p.date_created = Some("2024-03-01T10:22:33".into());
    p
}

/// Write the benchmark archive: `files` media files mixing every container and person source,
/// `big` of them 2-8 MB, about 8% with sidecars. Deterministic. Returns (media files, sidecars,
/// bytes).
pub fn write_bench_archive(dir: &Path, files: usize, big: usize) -> (usize, usize, u64) {
    let mut rng = BenchRng(0x9E37_79B9_7F4A_7C15);
    let styles = Style::presets();
    let (mut sidecars, mut bytes) = (0, 0u64);
    let big_every = files.checked_div(big).map_or(usize::MAX, |n| n.max(1));
    for i in 0..files {
        let format = bench_format(&mut rng);
        let people = bench_people(&mut rng);
        let style = styles[i % styles.len()].1;
        let packet = xmp_for(&people, style);
        let raw = matches!(format, SynthFormat::Cr2 | SynthFormat::Nef | SynthFormat::Cr3 | SynthFormat::Raf);
        let to_sidecar = raw && rng.chance(50);
        let mut embed = Embed { xmp: (!to_sidecar).then(|| packet.clone()), ..Embed::default() };
        if format.supports_exif() && rng.chance(20) {
            embed.xp_keywords = Some(format!("People/{};Holiday", BENCH_NAMES[rng.below(BENCH_NAMES.len())]));
            embed.date_time_original = Some("2024:03:01 10:22:33".into());
        }
        if format.supports_iptc() && rng.chance(20) {
            embed.iptc_keywords =
                vec![format!("Persons/{}", BENCH_NAMES[rng.below(BENCH_NAMES.len())]), "Summer".into()];
        }
        if format.supports_quicktime_created() {
            embed.quicktime_created = Some(3_800_000_000);
        }
        embed.payload_bytes = if i % big_every == 0 { (2 + rng.below(7)) << 20 } else { rng.below(24 << 10) };
        let sub = dir.join(format!("{:03}/{:02}", i / 1000, (i / 100) % 10));
        std::fs::create_dir_all(&sub).unwrap();
        let name = format!("IMG_{i:06}.{}", format.extension());
        let data = build(format, &embed);
        bytes += data.len() as u64;
        std::fs::write(sub.join(&name), data).unwrap();
        if to_sidecar || (format == SynthFormat::Jpeg && rng.chance(5)) {
            let sidecar = if to_sidecar { format!("IMG_{i:06}.xmp") } else { format!("{name}.xmp") };
            let body = if to_sidecar { packet } else { xmp_for(&bench_people(&mut rng), style) };
            std::fs::write(sub.join(sidecar), body).unwrap();
            sidecars += 1;
        }
    }
    (files, sidecars, bytes)
}

/// A [`People`] filling every person source, with the awkward cases (NFD, extra spaces, XML
/// metacharacters, a tab, unnamed faces, a non-face region, non-person keywords): what the
/// generator's tests and the exiftool cross-check (`tests/synth_exiftool.rs`) write in every
/// [`Style`].
pub fn sample_people() -> People {
    People {
        person_in_image: s(&["Anna Schmidt", " Jonas  Weber "]),
        person_details: vec![nfd("Jürgen Groß"), "Tom \"Tommy\" <T> & Co".into()],
        region_persons: s(&["Seán O'Brien", "Tab\tName"]),
        mwg_faces: vec![Some("Lena Fischer".into()), None],
        mwg_non_face: s(&["Rex"]),
        mp_faces: vec![Some("Karl Hoffmann".into()), None, Some(MP_UNNAMED.into())],
        digikam_tags: s(&["People/Tom Braun", "Places/Berlin"]),
        lr_subjects: s(&["Persons|Ben Koch", "Events|Fest"]),
        dc_subject: s(&["Rock & Roll", "<live>"]),
        date_created: Some("2023-07-15T14:03:00".into()),
        create_date: Some("2023-07-15T14:03:00+02:00".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_embed(format: SynthFormat, payload: usize) -> Embed {
        Embed {
            xmp: Some(xmp_for(&sample_people(), Style::STANDARD)),
            extended_xmp: format.supports_extended_xmp().then(|| {
                let people = People { person_in_image: s(&["Extended Person"]), ..People::default() };
                pad_xmp(&xmp_meta(&xmp_body_for(&people, Style::NESTED)), 140_000)
            }),
            xp_keywords: format.supports_exif().then(|| "People/Mia Wagner;Berlin".to_string()),
            iptc_keywords: if format.supports_iptc() { s(&["Persons/Tim Lorenz", "Studio"]) } else { Vec::new() },
            date_time_original: format.supports_exif().then(|| "2023:07:15 14:03:00".to_string()),
            quicktime_created: format.supports_quicktime_created().then_some(QT_2024_03_10),
            payload_bytes: payload,
        }
    }

    // ----- XML well-formedness -------------------------------------------------------------------

    /// Parses `xml` with namespace resolution; returns every text content and attribute value
    /// (unescaped). Panics on malformed XML or an unbound prefix.
    fn xml_values(xml: &str) -> Vec<String> {
        use quick_xml::events::Event;
        use quick_xml::name::ResolveResult;
        let mut r = quick_xml::NsReader::from_str(xml);
        r.config_mut().check_end_names = true;
        let mut values = Vec::new();
        let mut text = String::new();
        let mut depth = 0i32;
        loop {
            let (res, ev) = r.read_resolved_event().unwrap_or_else(|e| panic!("malformed XML: {e}\n{xml}"));
            let elem = match &ev {
                Event::Start(e) | Event::Empty(e) => Some(e.clone()),
                _ => None,
            };
            if let Some(e) = elem {
                assert!(!matches!(res, ResolveResult::Unknown(_)), "unbound prefix in {:?}", e.name());
                for a in e.attributes() {
                    let a = a.expect("attribute");
                    if a.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let (ares, _) = r.resolver().resolve_attribute(a.key);
                    assert!(!matches!(ares, ResolveResult::Unknown(_)), "unbound attribute prefix {:?}", a.key);
                    values.push(
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("attribute value").into_owned(),
                    );
                }
            }
            match ev {
                Event::Start(_) => {
                    depth += 1;
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(g) => {
                    let _ = write!(text, "&{};", &*g);
                }
                Event::End(_) => {
                    depth -= 1;
                    if !text.trim().is_empty() {
                        values.push(quick_xml::escape::unescape(&text).expect("unescape").into_owned());
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "unbalanced XML");
        values
    }

    fn raw_names(p: &People) -> Vec<String> {
        p.person_in_image
            .iter()
            .chain(&p.person_details)
            .chain(&p.region_persons)
            .chain(p.mwg_faces.iter().flatten())
            .chain(&p.mwg_non_face)
            .chain(p.mp_faces.iter().flatten())
            .chain(&p.digikam_tags)
            .chain(&p.lr_subjects)
            .chain(&p.dc_subject)
            .cloned()
            .collect()
    }

    #[test]
    fn xmp_packets_are_well_formed_in_every_style() {
        let people = sample_people();
        for (name, style) in Style::presets() {
            for s2 in [style, Style { split: !style.split, pretty: !style.pretty, ..style }] {
                let packet = xmp_for(&people, s2);
                assert!(packet.starts_with("<?xpacket begin=\"\u{feff}\""));
                assert!(packet.ends_with("<?xpacket end=\"w\"?>"));
                let values = xml_values(&packet);
                for n in raw_names(&people) {
                    assert!(values.contains(&n), "{name}: {n:?} did not round-trip through {packet}");
                }
                if s2.odd_prefixes {
                    assert!(packet.contains("ns1:PersonInImage") && !packet.contains("Iptc4xmpExt:"), "{name}");
                }
                if s2.attributes {
                    assert!(packet.contains("stArea:x=\"") || packet.contains("ns4:x=\""), "{name}");
                }
                assert_eq!(packet.matches("<rdf:Description rdf:about").count() > 1, s2.split, "{name}");
            }
        }
        // helpers keep packets well-formed
        let p = xmp_for(&people, Style::STANDARD);
        let padded = pad_xmp(&p, 50_000);
        assert!(padded.len() >= 50_000 && padded.len() < 50_200, "{}", padded.len());
        xml_values(&padded);
        let ws = whitespace_pad(&p, 2048);
        assert_eq!(ws.len(), p.len() + 2048);
        xml_values(&ws);
        let with_guid = with_has_extended_xmp(Some(&p), "0123456789ABCDEF0123456789ABCDEF");
        assert!(xml_values(&with_guid).contains(&"0123456789ABCDEF0123456789ABCDEF".to_string()));
        xml_values(&with_has_extended_xmp(None, "X"));
        xml_values(&xmp_meta(&xmp_body_for(&People::default(), Style::STANDARD)));
    }

    #[test]
    fn oracle_rules() {
        assert_eq!(normalize_name(&nfd("  Jürgen \t Groß ")), "Jürgen Groß");
        assert_eq!(people_leaf("people|Family|Oma Erna", &['|'], &DEFAULT_PEOPLE_ROOTS).as_deref(), Some("Oma Erna"));
        assert_eq!(people_leaf("People", &['/'], &DEFAULT_PEOPLE_ROOTS), None);
        assert_eq!(people_leaf("Places/Berlin", &['/'], &DEFAULT_PEOPLE_ROOTS), None);
        assert_eq!(people_leaf("PERSONEN/ Ida ", &['/'], &DEFAULT_PEOPLE_ROOTS).as_deref(), Some("Ida"));
        let p = sample_people();
        let persons: Vec<String> = p.persons().into_iter().collect();
        assert_eq!(
            persons,
            s(&[
                "Anna Schmidt",
                "Ben Koch",
                "Jonas Weber",
                "Jürgen Groß",
                "Karl Hoffmann",
                "Lena Fischer",
                "Seán O'Brien",
                "Tab Name",
                "Tom \"Tommy\" <T> & Co",
                "Tom Braun"
            ])
        );
        assert_eq!(p.unnamed_faces(), 3);
    }

    #[test]
    fn md5_known_vectors() {
        let hex = |d: &[u8]| md5(d).iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(b"The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(hex(&[b'a'; 1000]), "cabe45dcc9ae5b66ba86600cca6b8ba8");
        assert_eq!(extended_xmp_guid("abc"), "900150983CD24FB0D6963F7D28E17F72");
    }

    // ----- pixels ------------------------------------------------------------------------------

    #[test]
    fn image_crate_decodes_the_pixels() {
        for f in SynthFormat::ALL.into_iter().filter(|f| f.image_crate_decodes()) {
            for embed in [Embed::default(), full_embed(f, 3000)] {
                let data = build(f, &embed);
                let img = image::load_from_memory(&data).unwrap_or_else(|e| panic!("{f:?}: {e}"));
                assert_eq!((img.width(), img.height()), (W, H), "{f:?}");
                let rgb = img.to_rgb8();
                let px = rgb.get_pixel(7, 0);
                assert!(px[0] > 180 && px[1] < 60, "{f:?}: pixel {px:?}");
            }
        }
    }

    // ----- structural walkers ------------------------------------------------------------------

    fn be_u16(d: &[u8], at: usize) -> usize {
        u16::from_be_bytes([d[at], d[at + 1]]) as usize
    }

    fn be_u32(d: &[u8], at: usize) -> usize {
        u32::from_be_bytes(d[at..at + 4].try_into().unwrap()) as usize
    }

    fn le_u32(d: &[u8], at: usize) -> usize {
        u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) as usize
    }

    /// What a walker found in a file.
    #[derive(Default, Debug)]
    struct Found {
        xmp: Vec<String>,
        extended: Option<String>,
        exif: Vec<Vec<u8>>,
        iptc: Vec<Vec<u8>>,
        mvhd_created: Option<u64>,
    }

    fn walk_jpeg(d: &[u8], f: &mut Found) {
        assert_eq!(&d[..2], &[0xFF, 0xD8]);
        let mut pos = 2;
        let mut ext: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut ext_total = 0;
        loop {
            assert_eq!(d[pos], 0xFF, "marker expected at {pos}");
            let m = d[pos + 1];
            let len = be_u16(d, pos + 2);
            let seg = &d[pos + 4..pos + 2 + len];
            match m {
                0xE1 if seg.starts_with(XMP_SIG) => {
                    f.xmp.push(String::from_utf8(seg[XMP_SIG.len()..].to_vec()).unwrap())
                }
                0xE1 if seg.starts_with(XMP_EXT_SIG) => {
                    let h = &seg[XMP_EXT_SIG.len()..];
                    ext_total = be_u32(h, 32);
                    ext.insert(be_u32(h, 36), h[40..].to_vec());
                    assert!(h.len() - 40 <= EXTENDED_XMP_CHUNK);
                    assert!(h[..32].iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
                }
                0xE1 if seg.starts_with(b"Exif\0\0") => f.exif.push(seg[6..].to_vec()),
                0xED => {
                    assert!(seg.starts_with(b"Photoshop 3.0\0"));
                    f.iptc.extend(walk_irb(&seg[14..]).into_iter().filter(|(id, _)| *id == 0x0404).map(|(_, v)| v));
                }
                _ => {}
            }
            pos += 2 + len;
            if m == 0xDA {
                break;
            }
        }
        // entropy-coded data, then EOI; anything after is the payload
        let eoi = (pos..d.len() - 1).find(|&i| d[i] == 0xFF && d[i + 1] == 0xD9).expect("EOI");
        assert!(d[eoi + 2..].iter().all(|b| *b == 0));
        if !ext.is_empty() {
            let mut all = Vec::new();
            for (off, chunk) in ext {
                assert_eq!(off, all.len(), "extended XMP chunks contiguous");
                all.extend(chunk);
            }
            assert_eq!(all.len(), ext_total);
            let ext = String::from_utf8(all).unwrap();
            let guid = extended_xmp_guid(&ext);
            assert!(f.xmp[0].contains(&format!("xmpNote:HasExtendedXMP=\"{guid}\"")));
            f.extended = Some(ext);
        }
    }

    fn walk_irb(mut d: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        while !d.is_empty() {
            assert_eq!(&d[..4], b"8BIM");
            let id = be_u16(d, 4) as u16;
            let name_len = d[6] as usize;
            let mut at = 7 + name_len;
            at += at % 2;
            let size = be_u32(d, at);
            out.push((id, d[at + 4..at + 4 + size].to_vec()));
            d = &d[at + 4 + even(size)..];
        }
        out
    }

    fn iim_keywords(d: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut utf8 = false;
        while pos < d.len() {
            assert_eq!(d[pos], 0x1C);
            let (rec, ds, len) = (d[pos + 1], d[pos + 2], be_u16(d, pos + 3));
            let v = &d[pos + 5..pos + 5 + len];
            if (rec, ds) == (1, 90) {
                utf8 = v == b"\x1b%G";
            }
            if (rec, ds) == (2, 25) {
                out.push(String::from_utf8(v.to_vec()).unwrap());
            }
            pos += 5 + len;
        }
        assert!(utf8, "1:90 must announce UTF-8");
        assert_eq!(pos, d.len());
        out
    }

    /// Minimal TIFF reader: IFD0 (and the Exif IFD) as tag -> value bytes.
    type Ifd = BTreeMap<u16, Vec<u8>>;

    fn read_tiff(d: &[u8]) -> (Ifd, Ifd, u16) {
        let be = match &d[..2] {
            b"MM" => true,
            b"II" => false,
            other => panic!("bad TIFF byte order {other:?}"),
        };
        let r16 = |at: usize| {
            let b = [d[at], d[at + 1]];
            if be {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let r32 = |at: usize| {
            let b: [u8; 4] = d[at..at + 4].try_into().unwrap();
            (if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }) as usize
        };
        let read_ifd = |off: usize| {
            let n = r16(off) as usize;
            let mut tags = BTreeMap::new();
            let mut last = 0;
            for i in 0..n {
                let e = off + 2 + 12 * i;
                let (tag, typ, count) = (r16(e), r16(e + 2), r32(e + 4));
                assert!(tag > last || i == 0, "tags sorted");
                last = tag;
                let size = count * [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8][typ as usize];
                let at = if size <= 4 { e + 8 } else { r32(e + 8) };
                assert!(at + size <= d.len(), "tag {tag:#x} out of bounds");
                tags.insert(tag, d[at..at + size].to_vec());
            }
            assert_eq!(r32(off + 2 + 12 * n), 0, "single IFD chain");
            tags
        };
        let ifd0 = read_ifd(r32(4));
        let exif = match ifd0.get(&0x8769).or_else(|| ifd0.get(&34665)) {
            Some(v) => {
                let b: [u8; 4] = v[..4].try_into().unwrap();
                read_ifd((if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }) as usize)
            }
            None => BTreeMap::new(),
        };
        (ifd0, exif, r16(2))
    }

    fn walk_tiff(d: &[u8], f: &mut Found) {
        let (ifd0, _, _) = read_tiff(d);
        if let Some(x) = ifd0.get(&700) {
            f.xmp.push(String::from_utf8(x.clone()).unwrap());
        }
        if let Some(i) = ifd0.get(&33723) {
            let mut i = i.clone();
            while i.last() == Some(&0) {
                i.pop();
            }
            f.iptc.push(i);
        }
        f.exif.push(d.to_vec());
    }

    fn walk_png(d: &[u8], f: &mut Found) {
        assert_eq!(&d[..8], b"\x89PNG\r\n\x1a\n");
        let mut pos = 8;
        let mut types = Vec::new();
        while pos < d.len() {
            let len = be_u32(d, pos);
            let typ = &d[pos + 4..pos + 8];
            let data = &d[pos + 8..pos + 8 + len];
            let mut crc = flate2::Crc::new();
            crc.update(&d[pos + 4..pos + 8 + len]);
            assert_eq!(crc.sum() as usize, be_u32(d, pos + 8 + len), "CRC of {}", String::from_utf8_lossy(typ));
            match typ {
                b"iTXt" => {
                    let (kw, rest) = data.split_at(data.iter().position(|b| *b == 0).unwrap());
                    assert_eq!(kw, b"XML:com.adobe.xmp");
                    let (flag, rest) = (rest[1], &rest[3..]);
                    let rest = &rest[rest.iter().position(|b| *b == 0).unwrap() + 1..];
                    let text = &rest[rest.iter().position(|b| *b == 0).unwrap() + 1..];
                    let text = if flag == 1 {
                        let mut out = String::new();
                        io::Read::read_to_string(&mut flate2::read::ZlibDecoder::new(text), &mut out).unwrap();
                        out
                    } else {
                        String::from_utf8(text.to_vec()).unwrap()
                    };
                    f.xmp.push(text);
                }
                b"eXIf" => f.exif.push(data.to_vec()),
                _ => {}
            }
            types.push(String::from_utf8(typ.to_vec()).unwrap());
            pos += 12 + len;
        }
        assert_eq!(pos, d.len());
        assert_eq!(types.first().map(String::as_str), Some("IHDR"));
        assert_eq!(types.last().map(String::as_str), Some("IEND"));
        let idat = types.iter().position(|t| t == "IDAT").unwrap();
        for meta in ["iTXt", "eXIf"] {
            assert!(types.iter().position(|t| t == meta).is_none_or(|p| p < idat), "{meta} before IDAT");
        }
    }

    fn walk_webp(d: &[u8], f: &mut Found) {
        assert_eq!(&d[..4], b"RIFF");
        assert_eq!(le_u32(d, 4) + 8, d.len());
        assert_eq!(&d[8..12], b"WEBP");
        let mut pos = 12;
        let mut flags = None;
        while pos < d.len() {
            let typ = &d[pos..pos + 4];
            let len = le_u32(d, pos + 4);
            let data = &d[pos + 8..pos + 8 + len];
            match typ {
                b"VP8X" => {
                    assert_eq!(pos, 12, "VP8X first");
                    flags = Some(data[0]);
                    assert_eq!(data[4..10], [7, 0, 0, 7, 0, 0]);
                }
                b"EXIF" => {
                    assert!(flags.unwrap() & 0x08 != 0);
                    f.exif.push(data.to_vec());
                }
                b"XMP " => {
                    assert!(flags.unwrap() & 0x04 != 0);
                    f.xmp.push(String::from_utf8(data.to_vec()).unwrap());
                }
                _ => {}
            }
            pos += 8 + even(len);
        }
        assert_eq!(pos, d.len());
    }

    fn walk_gif(d: &[u8], f: &mut Found) {
        assert_eq!(&d[..6], b"GIF89a");
        let mut pos = 13;
        if d[10] & 0x80 != 0 {
            pos += 3 << ((d[10] & 7) + 1);
        }
        let sub_blocks = |mut pos: usize| loop {
            let n = d[pos] as usize;
            pos += 1 + n;
            if n == 0 {
                return pos;
            }
        };
        loop {
            match d[pos] {
                0x21 => {
                    let label = d[pos + 1];
                    if label == 0xFF && &d[pos + 2..pos + 14] == b"\x0BXMP DataXMP" {
                        let start = pos + 14;
                        let end = sub_blocks(start);
                        // raw packet, then the 258-byte magic trailer
                        assert_eq!(d[end - 258], 1);
                        assert_eq!(d[end - 257], 0xFF);
                        f.xmp.push(String::from_utf8(d[start..end - 258].to_vec()).unwrap());
                        pos = end;
                    } else {
                        pos = sub_blocks(pos + 2);
                    }
                }
                0x2C => {
                    let packed = d[pos + 9];
                    pos += 10;
                    if packed & 0x80 != 0 {
                        pos += 3 << ((packed & 7) + 1);
                    }
                    pos = sub_blocks(pos + 1);
                }
                0x3B => break,
                b => panic!("unexpected GIF block {b:#x} at {pos}"),
            }
        }
        assert!(d[pos + 1..].iter().all(|b| *b == 0));
    }

    fn walk_psd(d: &[u8], f: &mut Found) {
        assert_eq!(&d[..6], b"8BPS\0\x01");
        let (h, w, channels) = (be_u32(d, 14), be_u32(d, 18), be_u16(d, 12));
        let mut pos = 26;
        pos += 4 + be_u32(d, pos); // colour mode data
        let res_len = be_u32(d, pos);
        for (id, v) in walk_irb(&d[pos + 4..pos + 4 + res_len]) {
            match id {
                0x0424 => f.xmp.push(String::from_utf8(v).unwrap()),
                0x0404 => f.iptc.push(v),
                0x0422 => f.exif.push(v),
                _ => {}
            }
        }
        pos += 4 + res_len;
        pos += 4 + be_u32(d, pos); // layers
        assert_eq!(be_u16(d, pos), 0, "raw image data");
        assert_eq!(d.len(), pos + 2 + w * h * channels);
    }

    /// Walks ISOBMFF boxes in `d[start..end]`, checking that sizes nest exactly.
    fn walk_boxes(d: &[u8], start: usize, end: usize, path: &str, f: &mut Found, items: &mut HeifItems) {
        let mut pos = start;
        while pos < end {
            let mut size = be_u32(d, pos);
            let typ = std::str::from_utf8(&d[pos + 4..pos + 8]).unwrap().to_string();
            let mut header = 8;
            if size == 1 {
                size = u64::from_be_bytes(d[pos + 8..pos + 16].try_into().unwrap()) as usize;
                header = 16;
            }
            assert!(size >= header && pos + size <= end, "box {path}/{typ} overflows");
            let body = pos + header..pos + size;
            let here = format!("{path}/{typ}");
            match typ.as_str() {
                "moov" | "trak" | "mdia" | "minf" | "dinf" | "stbl" | "udta" | "iprp" | "ipco" => {
                    walk_boxes(d, body.start, body.end, &here, f, items)
                }
                "meta" => walk_boxes(d, body.start + 4, body.end, &here, f, items),
                "iinf" => {
                    let n = be_u16(d, body.start + 4);
                    let mut p = body.start + 6;
                    for _ in 0..n {
                        let sz = be_u32(d, p);
                        assert_eq!(&d[p + 4..p + 8], b"infe");
                        assert_eq!(d[p + 8], 2, "infe v2");
                        let id = be_u16(d, p + 12);
                        let typ = d[p + 16..p + 20].to_vec();
                        let ct = d[p + 21..p + sz].split(|b| *b == 0).next().unwrap().to_vec();
                        items.types.insert(id, (typ, ct));
                        p += sz;
                    }
                    assert_eq!(p, body.end);
                }
                "iloc" => {
                    assert_eq!(d[body.start], 1, "iloc v1");
                    assert_eq!(d[body.start + 4..body.start + 6], [0x44, 0x00]);
                    let n = be_u16(d, body.start + 6);
                    let mut p = body.start + 8;
                    for _ in 0..n {
                        let id = be_u16(d, p);
                        let method = be_u16(d, p + 2) & 0xF;
                        assert_eq!(be_u16(d, p + 6), 1, "one extent");
                        items.locs.insert(id, (method, be_u32(d, p + 8), be_u32(d, p + 12)));
                        p += 16;
                    }
                    assert_eq!(p, body.end);
                }
                "idat" => items.idat = Some(body.start),
                "uuid" => {
                    if d[body.start..body.start + 16] == XMP_UUID {
                        assert_eq!(path, "", "XMP uuid box at top level");
                        f.xmp.push(String::from_utf8(d[body.start + 16..body.end].to_vec()).unwrap());
                    } else if d[body.start..body.start + 16] == CANON_UUID {
                        walk_boxes(d, body.start + 16, body.end, &here, f, items);
                    }
                }
                "XMP_" => {
                    assert_eq!(path, "/moov/udta");
                    f.xmp.push(String::from_utf8(d[body.clone()].to_vec()).unwrap());
                }
                "CMT1" | "CMT2" => f.exif.push(d[body.clone()].to_vec()),
                "mvhd" => {
                    f.mvhd_created = Some(if d[body.start] == 1 {
                        u64::from_be_bytes(d[body.start + 4..body.start + 12].try_into().unwrap())
                    } else {
                        be_u32(d, body.start + 4) as u64
                    })
                }
                _ => {}
            }
            pos += size;
        }
        assert_eq!(pos, end, "boxes of {path} fill it exactly");
    }

    #[derive(Default)]
    struct HeifItems {
        types: BTreeMap<usize, (Vec<u8>, Vec<u8>)>,
        locs: BTreeMap<usize, (usize, usize, usize)>,
        idat: Option<usize>,
    }

    fn walk_isobmff(d: &[u8], f: &mut Found) {
        let mut items = HeifItems::default();
        walk_boxes(d, 0, d.len(), "", f, &mut items);
        for (id, (typ, ct)) in &items.types {
            let (method, off, len) = items.locs[id];
            let base = if method == 1 { items.idat.expect("idat") } else { 0 };
            let data = &d[base + off..base + off + len];
            if typ == b"mime" {
                assert_eq!(ct, b"application/rdf+xml");
                f.xmp.push(String::from_utf8(data.to_vec()).unwrap());
            } else if typ == b"Exif" {
                let skip = be_u32(data, 0);
                assert_eq!(&data[4..4 + skip], b"Exif\0\0");
                f.exif.push(data[4 + skip..].to_vec());
            }
        }
    }

    fn walk_raf(d: &[u8], f: &mut Found) {
        assert!(d.starts_with(b"FUJIFILMCCD-RAW 0201FF383501"));
        let (jo, jl, co, cl) = (be_u32(d, 84), be_u32(d, 88), be_u32(d, 100), be_u32(d, 104));
        walk_jpeg(&d[jo..jo + jl], f);
        assert_eq!(co, jo + jl);
        assert_eq!(co + cl, d.len());
        read_tiff(&d[co..co + cl]);
    }

    fn walk(format: SynthFormat, d: &[u8]) -> Found {
        let mut f = Found::default();
        match format {
            SynthFormat::Jpeg => walk_jpeg(d, &mut f),
            SynthFormat::Tiff
            | SynthFormat::Dng
            | SynthFormat::Cr2
            | SynthFormat::Nef
            | SynthFormat::Orf
            | SynthFormat::Rw2 => walk_tiff(d, &mut f),
            SynthFormat::Png | SynthFormat::PngCompressedXmp => walk_png(d, &mut f),
            SynthFormat::WebP => walk_webp(d, &mut f),
            SynthFormat::Gif => walk_gif(d, &mut f),
            SynthFormat::Psd => walk_psd(d, &mut f),
            SynthFormat::Heic
            | SynthFormat::HeicIdat
            | SynthFormat::Avif
            | SynthFormat::Mp4
            | SynthFormat::Mov
            | SynthFormat::Cr3 => walk_isobmff(d, &mut f),
            SynthFormat::Raf => walk_raf(d, &mut f),
        }
        f
    }

    fn exif_values(tiffs: &[Vec<u8>]) -> (Option<String>, Option<String>) {
        let (mut xp, mut dto) = (None, None);
        for t in tiffs {
            let (ifd0, exif, _) = read_tiff(t);
            if let Some(v) = ifd0.get(&0x9C9E) {
                let units: Vec<u16> = v.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                xp = Some(String::from_utf16(&units).unwrap().trim_end_matches('\0').to_string());
            }
            // CR3's CMT2 is the Exif IFD itself
            for ifd in [&exif, &ifd0] {
                if let Some(v) = ifd.get(&0x9003) {
                    dto = Some(String::from_utf8(v.clone()).unwrap().trim_end_matches('\0').to_string());
                }
            }
        }
        (xp, dto)
    }

    #[test]
    fn containers_are_well_formed_and_carry_the_metadata() {
        for format in SynthFormat::ALL {
            for payload in [0, 1, 4097] {
                for embed in [Embed { payload_bytes: payload, ..Embed::default() }, full_embed(format, payload)] {
                    let data = build(format, &embed);
                    let found = walk(format, &data);
                    match &embed.xmp {
                        Some(x) if embed.extended_xmp.is_none() => assert_eq!(found.xmp, vec![x.clone()], "{format:?}"),
                        Some(_) => assert_eq!(found.xmp.len(), 1),
                        None => assert!(found.xmp.is_empty(), "{format:?}"),
                    }
                    assert_eq!(found.extended, embed.extended_xmp, "{format:?}");
                    let kws: Vec<String> = found.iptc.iter().flat_map(|i| iim_keywords(i)).collect();
                    assert_eq!(kws, embed.iptc_keywords, "{format:?}");
                    let (xp, dto) = exif_values(&found.exif);
                    assert_eq!(xp, embed.xp_keywords, "{format:?}");
                    assert_eq!(dto, embed.date_time_original, "{format:?}");
                    if format.supports_quicktime_created() {
                        assert_eq!(found.mvhd_created, Some(embed.quicktime_created.unwrap_or(0)), "{format:?}");
                    }
                    assert!(data.len() >= payload, "{format:?}");
                    assert_eq!(build(format, &embed), data, "{format:?} deterministic");
                }
            }
        }
    }

    #[test]
    fn big_payloads_stay_well_formed() {
        for format in [SynthFormat::Jpeg, SynthFormat::Mov, SynthFormat::Psd, SynthFormat::Heic, SynthFormat::Dng] {
            let embed = full_embed(format, 3 << 20);
            let data = build(format, &embed);
            assert!(data.len() >= 3 << 20 && data.len() < (3 << 20) + 300_000, "{format:?}: {}", data.len());
            walk(format, &data);
        }
        let mvhd64 =
            build(SynthFormat::Mp4, &Embed { quicktime_created: Some(u32::MAX as u64 + 5), ..Embed::default() });
        assert_eq!(walk(SynthFormat::Mp4, &mvhd64).mvhd_created, Some(u32::MAX as u64 + 5));
    }

    #[test]
    fn magic_bytes() {
        let m = |f| build(f, &Embed::default());
        assert_eq!(&m(SynthFormat::Orf)[..4], b"IIRO");
        assert_eq!(&m(SynthFormat::Rw2)[..4], b"IIU\0");
        assert_eq!(&m(SynthFormat::Cr2)[8..12], b"CR\x02\0");
        assert_eq!(&m(SynthFormat::Nef)[..4], b"MM\0*");
        assert_eq!(&m(SynthFormat::Cr3)[4..12], b"ftypcrx ");
        assert_eq!(&m(SynthFormat::Heic)[4..12], b"ftypheic");
        assert_eq!(&m(SynthFormat::Avif)[4..12], b"ftypavif");
        assert_eq!(&m(SynthFormat::Mov)[4..12], b"ftypqt  ");
        assert_eq!(&m(SynthFormat::Psd)[..4], b"8BPS");
        assert_eq!(read_tiff(&m(SynthFormat::Dng)).0.get(&50706), Some(&vec![1, 4, 0, 0]));
        // MOV: moov after mdat
        let mov = m(SynthFormat::Mov);
        let find = |t: &[u8]| mov.windows(4).position(|w| w == t).unwrap();
        assert!(find(b"moov") > find(b"mdat"));
    }

    #[test]
    #[should_panic(expected = "cannot carry EXIF")]
    fn unsupported_metadata_panics() {
        build(SynthFormat::Gif, &Embed { xp_keywords: Some("x".into()), ..Embed::default() });
    }

    // ----- the fixture archive -----------------------------------------------------------------

    #[test]
    fn fixture_archive_is_complete_and_consistent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fixtures");
        write_fixture_archive(&dir).unwrap();
        let expected = fixture_expected();
        let on_disk: BTreeMap<String, Expected> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("EXPECTED.json")).unwrap()).unwrap();
        assert_eq!(on_disk, expected);
        let specs = fixture_specs();
        let formats: BTreeSet<SynthFormat> = specs.iter().map(|f| f.format).collect();
        assert_eq!(formats.len(), SynthFormat::ALL.len(), "every format covered");
        for (name, style) in Style::presets() {
            assert!(specs.iter().any(|f| f.xmp.as_ref().is_some_and(|(_, s)| *s == style)), "style {name} covered");
        }
        let mut total = 0;
        for f in &specs {
            let data = std::fs::read(dir.join(f.path)).unwrap();
            total += data.len();
            walk(f.format, &data);
        }
        for orphan in FIXTURE_ORPHANS {
            assert!(dir.join(orphan).is_file());
            assert!(!specs.iter().any(|f| sidecar_matches(orphan, f.path)), "{orphan} is an orphan");
        }
        for (sc, media) in fixture_sidecars() {
            assert!(dir.join(&sc).is_file() && dir.join(&media).is_file());
        }
        assert!(fixture_sidecars().iter().any(|(s, m)| s.ends_with("DSC_0001.xmp") && m.ends_with(".JPG")));
        for skipped in FIXTURE_SKIPPED {
            assert!(dir.join(skipped).is_file());
        }
        assert!(total < 1 << 20, "fixture archive is {total} bytes");
        let unnamed: usize = expected.values().map(|e| e.unnamed_faces).sum();
        assert!(unnamed >= 4);
        assert_eq!(expected["2023/summer-fest/keywords-only.jpg"], Expected::default());
        assert_eq!(expected["2023/summer-fest/backstage/digikam.png"].persons, s(&["Jürgen Groß", "Tom Braun"]));
        // a second run writes identical bytes
        let dir2 = tmp.path().join("fixtures2");
        write_fixture_archive(&dir2).unwrap();
        for f in &specs {
            assert_eq!(std::fs::read(dir.join(f.path)).unwrap(), std::fs::read(dir2.join(f.path)).unwrap());
        }
    }
}
