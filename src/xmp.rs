//! Parsing an XMP packet (RDF/XML) into a small property tree. No file access.
//!
//! Implements the RDF/XML forms XMP allows (XMP Specification Part 1, section 7): properties as
//! attributes or elements of `rdf:Description` (or typed node elements), any namespace prefix,
//! structs as nested `rdf:Description`, `rdf:parseType="Resource"` or property attributes,
//! arrays as `rdf:Bag` / `rdf:Seq` / `rdf:Alt` of `rdf:li`, `xml:lang` qualifiers, and general
//! qualifiers via `rdf:value`.
//!
//! Hostile input: a document type declaration is refused (XMP forbids DTDs; this rules out entity
//! expansion bombs and external entities), undefined entities are errors, element nesting is
//! limited to [`MAX_DEPTH`], and the packet size is bounded by the caller.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::Reader;

pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// The one table of the XMP namespaces consentry reads or writes, with their usual prefixes.
/// The person sources ([`crate::people`]) read some, write-back
/// (`crate::writeback::xmp_edit`) writes consentry's own, Lightroom's and PLUS, and registers
/// every prefix here with the XMP Toolkit.
pub mod ns {
    pub const IPTC_EXT: &str = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
    pub const MWG_RS: &str = "http://www.metadataworkinggroup.com/schemas/regions/";
    pub const MP: &str = "http://ns.microsoft.com/photo/1.2/";
    pub const MPRI: &str = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#";
    pub const MPREG: &str = "http://ns.microsoft.com/photo/1.2/t/Region#";
    pub const DIGIKAM: &str = "http://www.digikam.org/ns/1.0/";
    pub const LR: &str = "http://ns.adobe.com/lightroom/1.0/";
    pub const PHOTOSHOP: &str = "http://ns.adobe.com/photoshop/1.0/";
    pub const XMP: &str = "http://ns.adobe.com/xap/1.0/";
    pub const XMP_NOTE: &str = "http://ns.adobe.com/xmp/note/";
    pub const EXIF: &str = "http://ns.adobe.com/exif/1.0/";
    /// Dublin Core (`dc:subject`, the plain keywords).
    pub const DC: &str = "http://purl.org/dc/elements/1.1/";
    /// consentry's own namespace (the fields `apply` writes).
    pub const CONSENTRY: &str = "http://ns.consentry.org/xmp/1.0/";
    /// The prefix consentry writes its own namespace with.
    pub const CONSENTRY_PREFIX: &str = "consentry";
    /// PLUS (model release status and ids, `apply --plus`).
    pub const PLUS: &str = "http://ns.useplus.org/ldf/xmp/1.0/";
    /// The PLUS vocabulary the model release status codes are URIs in.
    pub const PLUS_VOCAB: &str = "http://ns.useplus.org/ldf/vocab/";

    /// The prefix each namespace is serialised with: consentry's own and those it writes
    /// first, then the person sources' and others files commonly hold. The XMP Toolkit takes a
    /// packet's prefixes from a process-wide registry filled by whichever file it parses first:
    /// registering them all up front makes a file's output independent of the order files are
    /// written in.
    pub const PREFIXES: [(&str, &str); 19] = [
        (CONSENTRY, CONSENTRY_PREFIX),
        (LR, "lr"),
        (PLUS, "plus"),
        (DIGIKAM, "digiKam"),
        (IPTC_EXT, "Iptc4xmpExt"),
        (MWG_RS, "mwg-rs"),
        ("http://www.metadataworkinggroup.com/schemas/keywords/", "mwg-kw"),
        ("http://www.metadataworkinggroup.com/schemas/collections/", "mwg-coll"),
        (MP, "MP"),
        (MPRI, "MPRI"),
        (MPREG, "MPReg"),
        ("http://ns.microsoft.com/photo/1.0/", "MicrosoftPhoto"),
        ("http://ns.acdsee.com/iptc/1.0/", "acdsee"),
        ("http://ns.adobe.com/xmp/sType/Area#", "stArea"),
        ("http://ns.adobe.com/xmp/sType/Dimensions#", "stDim"),
        ("http://ns.adobe.com/camera-raw-settings/1.0/", "crs"),
        ("http://ns.adobe.com/exif/1.0/aux/", "aux"),
        ("http://ns.adobe.com/xmp/1.0/DynamicMedia/", "xmpDM"),
        ("http://cipa.jp/exif/1.0/", "exifEX"),
    ];

    /// Whether consentry writes properties in this namespace.
    pub fn is_written(ns: &str) -> bool {
        ns == CONSENTRY || ns == LR || ns == PLUS
    }
}
const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted. Real XMP nests a handful of levels (regions: about 8).
pub const MAX_DEPTH: usize = 64;

/// One property: namespace URI, local name and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    /// Shared between all properties of the packet in this namespace.
    pub ns: Rc<str>,
    /// Shared between all properties of the packet with this name.
    pub name: Rc<str>,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayKind {
    Bag,
    Seq,
    Alt,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A simple value (literal text, or the URI of `rdf:resource`).
    Text(String),
    /// A struct: named fields.
    Struct(Vec<Prop>),
    /// An array of items.
    Array(ArrayKind, Vec<Item>),
}

/// An array item with its `xml:lang` qualifier, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    pub lang: Option<String>,
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The items of an array. A simple value or struct where an array was expected counts as a
    /// one-item array (writers get this wrong; missing a person would be worse).
    pub fn items(&self) -> Vec<&Value> {
        match self {
            Value::Array(_, items) => items.iter().map(|i| &i.value).collect(),
            other => vec![other],
        }
    }

    /// Every text of a language alternative (each language, with or without `x-default`); a
    /// simple value is its own one text.
    pub fn alternatives(&self) -> Vec<&str> {
        match self {
            Value::Text(t) => vec![t],
            Value::Array(_, items) => items.iter().filter_map(|i| i.value.as_text()).collect(),
            Value::Struct(_) => Vec::new(),
        }
    }

    /// A struct field by namespace URI and local name.
    pub fn field(&self, ns: &str, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => find(fields, ns, name),
            _ => None,
        }
    }

    /// The text of a language alternative: `x-default`, else the first item. A simple value is
    /// its own text.
    pub fn lang_alt_default(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            Value::Array(_, items) => items
                .iter()
                .find(|i| i.lang.as_deref().is_some_and(|l| l.eq_ignore_ascii_case("x-default")))
                .or_else(|| items.first())
                .and_then(|i| i.value.as_text()),
            Value::Struct(_) => None,
        }
    }
}

/// The first property with this namespace URI and local name.
pub fn find<'a>(props: &'a [Prop], ns: &str, name: &str) -> Option<&'a Value> {
    props.iter().find(|p| *p.name == *name && *p.ns == *ns).map(|p| &p.value)
}

/// Every property with this namespace URI and local name (several `rdf:Description`s may repeat one).
pub fn find_all<'a>(props: &'a [Prop], ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    props.iter().filter(move |p| *p.name == *name && *p.ns == *ns).map(|p| &p.value)
}

/// Why an XMP packet could not be parsed. Offsets are byte offsets within the packet until
/// [`XmpError::in_file`] places them in the file (for UTF-16 packets: in the decoded text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmpError {
    pub offset: u64,
    pub message: String,
}

impl XmpError {
    /// The error of a packet that starts at byte `at` of its file, with the offset in the file.
    pub fn in_file(self, at: u64) -> XmpError {
        XmpError { offset: self.offset.saturating_add(at), ..self }
    }
}

impl fmt::Display for XmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid XMP at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for XmpError {}

/// Most property values (properties, array items, struct fields) built from one packet. A packet
/// naming 10 000 persons in regions builds about 100 000; past this the packet is refused
/// rather than held in memory (a 24 MB sidecar of a million names).
pub const MAX_VALUES: usize = 250_000;

/// Parse an XMP packet. Only top-level properties whose namespace URI satisfies `keep` are built;
/// the others are skipped without building their values (they may be large: thumbnails, history).
pub fn parse(packet: &[u8], keep: &dyn Fn(&str) -> bool) -> Result<Vec<Prop>, XmpError> {
    match parse_partial(packet, keep) {
        (props, None) => Ok(props),
        (_, Some(e)) => Err(e),
    }
}

/// [`parse`], returning the properties read before a problem together with it.
///
/// Recovers where exiftool recovers: what follows the end of a root (`</x:xmpmeta>`, the
/// closing `rdf:RDF`, `<?xpacket end?>`) is ignored unless another root starts there, and NUL
/// bytes end a document; every further root (after junk or NUL padding) is read too, and the
/// properties are those of all of them. An element there that is not such a root (a root with
/// another prefix, a bare `rdf:Description`, a stale tail's `rdf:li`) is an error, never silently
/// skipped: exiftool may read a person in it. Anything else that cannot be parsed is an error.
pub fn parse_partial(packet: &[u8], keep: &dyn Fn(&str) -> bool) -> (Vec<Prop>, Option<XmpError>) {
    let (props, e, _) = parse_collected(packet, keep);
    (props, e)
}

/// [`parse_partial`], and whether an `rdf:RDF` element was found.
fn parse_collected(packet: &[u8], keep: &dyn Fn(&str) -> bool) -> (Vec<Prop>, Option<XmpError>, bool) {
    let mut c = Collected::default();
    let result = match text_of(packet) {
        Ok(Text::Utf8(base, bytes)) => {
            utf8_segments(bytes, base, &mut |text, base, first| roots(text, base, first, keep, &mut c))
        }
        Ok(Text::Decoded(text)) => text
            .split('\0')
            .enumerate()
            .try_fold(0u64, |base, (i, segment)| {
                roots(segment, base, i == 0, keep, &mut c)?;
                Ok(base + segment.len() as u64 + 1)
            })
            .map(|_| ()),
        Err(e) => Err(e),
    };
    let resolved = if c.nodes.is_empty() { Ok(()) } else { resolve_nodes(&mut c.props, &c.nodes, &mut c.values) };
    (c.props, result.err().or(resolved.err()), c.rdf_seen)
}

/// [`parse_partial`] for a sidecar: a file named as a sidecar that holds no XMP (empty, or no
/// `rdf:RDF` element in it) is an error, since it cannot be trusted to say nobody is depicted.
/// (exiftool reads no XMP from such a file: an empty one is its error "File is empty", other
/// text reads as a TXT file.)
pub fn parse_sidecar_partial(packet: &[u8], keep: &dyn Fn(&str) -> bool) -> (Vec<Prop>, Option<XmpError>) {
    match parse_collected(packet, keep) {
        (props, None, false) => {
            (props, Some(XmpError { offset: 0, message: "no XMP in it (no rdf:RDF element)".into() }))
        }
        (props, e, _) => (props, e),
    }
}

/// What the roots of one packet add up to.
#[derive(Default)]
struct Collected {
    props: Vec<Prop>,
    /// Values built (bounded by [`MAX_VALUES`]).
    values: usize,
    /// Top-level nodes with an `rdf:nodeID`, by id, for references to them.
    nodes: Vec<(String, Vec<Prop>)>,
    /// An `rdf:RDF` element was found in some root.
    rdf_seen: bool,
}

enum Text<'a> {
    /// UTF-8 bytes (not yet checked) after a BOM of `base` bytes.
    Utf8(u64, &'a [u8]),
    /// UTF-16 decoded.
    Decoded(String),
}

/// Bytes to text: UTF-8 (BOM optional), or UTF-16 with BOM or detectable from `<` / `<?`.
fn text_of(packet: &[u8]) -> Result<Text<'_>, XmpError> {
    let utf16 = |bytes: &[u8], be: bool| -> Result<Text<'_>, XmpError> {
        let units = bytes.chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Text::Decoded)
            .map_err(|_| XmpError { offset: 0, message: "invalid UTF-16 text".into() })
    };
    match packet {
        [0xEF, 0xBB, 0xBF, rest @ ..] => Ok(Text::Utf8(3, rest)),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0, b'<', ..] => utf16(packet, true),
        [b'<', 0, ..] => utf16(packet, false),
        _ => Ok(Text::Utf8(0, packet)),
    }
}

/// The runs of UTF-8 text between NUL bytes (writers pad packets with NULs, and some put a
/// second packet after them), each given to `f` with its offset. Only the first run and runs
/// where a root starts are checked as UTF-8: the rest is padding or a stale tail.
fn utf8_segments(
    bytes: &[u8],
    base: u64,
    f: &mut dyn FnMut(&str, u64, bool) -> Result<(), XmpError>,
) -> Result<(), XmpError> {
    let mut start = 0usize;
    let mut first = true;
    loop {
        let end = memchr::memchr(0, &bytes[start..]).map_or(bytes.len(), |n| start + n);
        let segment = &bytes[start..end];
        let from = if first { Some(0) } else { root_start(segment) };
        if from.is_none() {
            // No root here: padding or a stale tail, unless it holds an element exiftool may read
            // (`<RDF:RDF`, a bare `rdf:Description`): then the packet is not read completely.
            if let Some(at) = stray_element(segment) {
                return Err(stray_error(segment, base + (start + at) as u64, at));
            }
        }
        if let Some(from) = from {
            let at = base + (start + from) as u64;
            let text = std::str::from_utf8(&segment[from..]).map_err(|e| XmpError {
                offset: at + e.valid_up_to() as u64,
                message: "text is not valid UTF-8".into(),
            })?;
            f(text, at, first)?;
        }
        first = false;
        if end == bytes.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

/// Whether `bytes` hold the start of an XMP root (see `root_start`).
pub fn has_root(bytes: &[u8]) -> bool {
    root_start(bytes).is_some()
}

/// Where the next XMP root starts in `text`, as exiftool finds one: `<?xpacket begin`,
/// `<x:xmpmeta` (or the older `x:xapmeta`), or a bare `<rdf:RDF`.
fn root_start(text: &[u8]) -> Option<usize> {
    const ROOTS: [&[u8]; 4] = [b"<?xpacket begin", b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:RDF"];
    // The tail after a root is usually one processing instruction and padding: look at each `<`.
    memchr::memchr_iter(b'<', text).find(|&i| ROOTS.iter().any(|r| text[i..].starts_with(r)))
}

/// Where `text` holds the start of an element (`<` followed by a name) that no root found by
/// [`root_start`] covers. exiftool finds roots with other prefixes (`<X:xmpmeta`, `<RDF:RDF`) and
/// reads a bare `rdf:Description` in a stale tail; this reader does not, so such text is an error
/// rather than persons silently left unread.
///
/// The one element a stale tail may hold and exiftool ignores there is an array item outside any
/// property (`<rdf:li>Old Name</rdf:li></rdf:Bag>…`, what is left of an older, longer packet, and
/// its `rdf:Bag`/`Seq`/`Alt`): recovered from, as exiftool does. Any other element (a property,
/// a node, a root) is an error.
fn stray_element(text: &[u8]) -> Option<usize> {
    const FRAGMENTS: [&[u8]; 4] = [b"rdf:li", b"rdf:Bag", b"rdf:Seq", b"rdf:Alt"];
    memchr::memchr_iter(b'<', text).find(|&i| {
        let name = &text[i + 1..];
        let is_element = name.first().is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80);
        let fragment = FRAGMENTS.iter().any(|f| {
            name.starts_with(f) && name.get(f.len()).is_none_or(|&c| c == b'>' || c == b'/' || c.is_ascii_whitespace())
        });
        is_element && !fragment
    })
}

fn stray_error(text: &[u8], offset: u64, at: usize) -> XmpError {
    let name: String = String::from_utf8_lossy(&text[at..text.len().min(at + 40)])
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>')
        .collect();
    XmpError {
        offset,
        message: format!("element {name} after the XMP root is not read (another root or a stale tail?)"),
    }
}

/// Every root of one NUL-free run of text at file offset `base`: the first from the start (when
/// `first`: the packet may begin with a header or a BOM-less declaration), each further one where
/// [`root_start`] finds it.
fn roots(text: &str, base: u64, first: bool, keep: &dyn Fn(&str) -> bool, c: &mut Collected) -> Result<(), XmpError> {
    let mut pos = if first { 0 } else { root_start(text.as_bytes()).unwrap_or(text.len()) };
    while pos < text.len() {
        let mut p = Parser {
            reader: Reader::from_str(&text[pos..]),
            scopes: Scopes::new(),
            depth: 0,
            keep,
            names: Interner::default(),
            props: Interner::default(),
            values: c.values,
            partial: None,
            nodes: std::mem::take(&mut c.nodes),
            rdf_seen: false,
        };
        p.reader.config_mut().expand_empty_elements = false;
        let result = p.document(&mut c.props);
        c.values = p.values;
        c.nodes = std::mem::take(&mut p.nodes);
        c.rdf_seen |= p.rdf_seen;
        let at = base + pos as u64;
        result.map_err(|e| e.in_file(at))?;
        pos += p.reader.buffer_position() as usize;
        let rest = &text.as_bytes()[pos..];
        let next = root_start(rest);
        // Elements between this root and the next (or the end) are neither read nor harmless.
        if let Some(at) = stray_element(&rest[..next.unwrap_or(rest.len())]) {
            return Err(stray_error(rest, base + (pos + at) as u64, at));
        }
        match next {
            Some(next) => pos += next,
            None => break,
        }
    }
    Ok(())
}

/// Replace each `rdf:nodeID` reference (an empty property element or `rdf:li` naming a node) by
/// the properties of the `rdf:Description` with that `rdf:nodeID`, as exiftool does.
/// Nodes are looked up by id in a hash map (the first node with an id counts): a linear search
/// per reference is quadratic in a large sidecar.
fn resolve_nodes(props: &mut [Prop], nodes: &[(String, Vec<Prop>)], values: &mut usize) -> Result<(), XmpError> {
    type Nodes<'a> = HashMap<&'a str, &'a [Prop]>;
    fn walk(v: &mut Value, nodes: &Nodes<'_>, depth: usize, values: &mut usize) -> Result<(), XmpError> {
        if depth > MAX_DEPTH {
            return Err(XmpError {
                offset: 0,
                message: format!("rdf:nodeID references nested deeper than {MAX_DEPTH}"),
            });
        }
        match v {
            Value::Struct(fields) => {
                if let Some(id) = node_ref(fields) {
                    if let Some(node) = nodes.get(id.as_str()) {
                        *values += count_values(node);
                        if *values > MAX_VALUES {
                            return Err(XmpError { offset: 0, message: too_many_values() });
                        }
                        *fields = node.to_vec();
                    }
                }
                fields.iter_mut().try_for_each(|p| walk(&mut p.value, nodes, depth + 1, values))
            }
            Value::Array(_, items) => items.iter_mut().try_for_each(|i| walk(&mut i.value, nodes, depth + 1, values)),
            Value::Text(_) => Ok(()),
        }
    }
    let mut by_id: Nodes<'_> = HashMap::with_capacity(nodes.len());
    for (id, node) in nodes {
        by_id.entry(id.as_str()).or_insert(node.as_slice());
    }
    props.iter_mut().try_for_each(|p| walk(&mut p.value, &by_id, 0, values))
}

/// The node id of a reference built by [`Parser::property`].
fn node_ref(fields: &[Prop]) -> Option<String> {
    match fields {
        [Prop { ns, name, value: Value::Text(id) }] if &**ns == RDF && &**name == "nodeID" => Some(id.clone()),
        _ => None,
    }
}

fn count_values(props: &[Prop]) -> usize {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Struct(fields) => count_values(fields),
            Value::Array(_, items) => items.iter().map(|i| count(&i.value)).sum(),
            Value::Text(_) => 0,
        }
    }
    props.iter().map(|p| count(&p.value)).sum()
}

fn too_many_values() -> String {
    format!("more than {MAX_VALUES} property values (the limit per packet)")
}

struct Parser<'i, 'k> {
    reader: Reader<&'i [u8]>,
    /// Namespace prefixes in scope (resolved here rather than by quick-xml's `NsReader`, which
    /// costs more than tokenising the packet).
    scopes: Scopes,
    depth: usize,
    keep: &'k dyn Fn(&str) -> bool,
    /// Namespace URIs seen in this packet, each allocated once rather than per element.
    names: Interner,
    /// Property names, interned like namespaces: most packets repeat a dozen names.
    props: Interner,
    /// Values built so far in this packet (bounded by [`MAX_VALUES`]).
    values: usize,
    /// The part of a value built before a problem, handed outward while the error propagates
    /// (so that the persons named before a cut or a limit are kept).
    partial: Option<Value>,
    /// Top-level nodes with an `rdf:nodeID`, by id, for references to them.
    nodes: Vec<(String, Vec<Prop>)>,
    /// An `rdf:RDF` element was found.
    rdf_seen: bool,
}

/// A packet uses a dozen namespaces or so: a linear scan of the first few beats hashing every
/// element's URI. Any further ones are hashed: a hostile packet declares a new namespace on each
/// of a million elements, and a linear scan of all of them would be quadratic.
#[derive(Default)]
struct Interner {
    few: Vec<Rc<str>>,
    many: HashSet<Rc<str>>,
}

impl Interner {
    /// URIs kept in the linear list.
    const FEW: usize = 32;

    fn get(&mut self, s: &str) -> Rc<str> {
        if let Some(r) = self.few.iter().find(|r| ***r == *s).or_else(|| self.many.get(s)) {
            return r.clone();
        }
        let r: Rc<str> = Rc::from(s);
        if self.few.len() < Self::FEW {
            self.few.push(r.clone());
        } else {
            self.many.insert(r.clone());
        }
        r
    }
}

/// Prefix bindings of the open elements: `xmlns:p="uri"` declarations, innermost last; `xml`
/// is bound by XML itself.
struct Scopes {
    bindings: Vec<(Box<str>, Rc<str>)>,
    /// `bindings.len()` when each open element started.
    marks: Vec<usize>,
    /// The last element was empty or ended: its bindings go before the next event.
    pending_pop: bool,
}

impl Scopes {
    fn new() -> Self {
        Scopes { bindings: vec![("xml".into(), Rc::from(XML))], marks: Vec::new(), pending_pop: false }
    }

    fn open(&mut self, e: &BytesStart<'_>, names: &mut Interner) {
        self.marks.push(self.bindings.len());
        if !e.attributes_raw().contains("xmlns") {
            return; // most elements declare nothing: skip parsing their attributes twice
        }
        for attr in e.attributes().with_checks(false).flatten() {
            let key = attr.key.into_inner();
            let prefix = match key.strip_prefix("xmlns") {
                Some("") => "",
                Some(rest) => match rest.strip_prefix(':') {
                    Some(p) => p,
                    None => continue,
                },
                None => continue,
            };
            let uri = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap_or_default();
            self.bindings.push((prefix.into(), names.get(&uri)));
        }
    }

    fn close(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.bindings.truncate(mark);
        }
    }

    /// The namespace of a qualified name's prefix (`""`: the default namespace).
    fn resolve(&self, prefix: &str) -> Option<Rc<str>> {
        self.bindings.iter().rev().find(|(p, _)| &**p == prefix).map(|(_, ns)| ns.clone()).filter(|ns| !ns.is_empty())
    }
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// An attribute: namespace URI, local name, value.
type Attr<'a> = (Rc<str>, &'a str, Cow<'a, str>);

/// An element's namespace URI (the local name stays in the event).
type Ns = Option<Rc<str>>;

fn local<'a>(e: &'a BytesStart<'_>) -> &'a str {
    let name = e.name().into_inner();
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

enum Open<'i> {
    Start(BytesStart<'i>),
    Empty(BytesStart<'i>),
}

impl<'i> Parser<'i, '_> {
    fn err(&self, message: impl Into<String>) -> XmpError {
        XmpError { offset: self.reader.buffer_position(), message: message.into() }
    }

    fn xml_err(&self, e: quick_xml::Error) -> XmpError {
        XmpError { offset: self.reader.error_position(), message: e.to_string() }
    }

    /// Next event with depth accounting; DTDs refused.
    fn next(&mut self) -> Result<(Option<Ns>, Event<'i>), XmpError> {
        if std::mem::take(&mut self.scopes.pending_pop) {
            self.scopes.close();
        }
        let ev = self.reader.read_event().map_err(|e| self.xml_err(e))?;
        let name = match &ev {
            Event::Start(e) | Event::Empty(e) => {
                self.scopes.open(e, &mut self.names);
                self.scopes.pending_pop = matches!(ev, Event::Empty(_));
                Some(self.scopes.resolve(prefix_of(e.name().into_inner())))
            }
            Event::End(_) => {
                self.scopes.pending_pop = true;
                None
            }
            _ => None,
        };
        match &ev {
            Event::Start(_) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.err(format!("elements nested deeper than {MAX_DEPTH} levels")));
                }
            }
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            Event::DocType(_) => {
                return Err(self.err("document type declaration (DTD) found; XMP forbids DTDs and entities"))
            }
            _ => {}
        }
        Ok((name, ev))
    }

    fn skip(&mut self, start: &BytesStart<'_>) -> Result<(), XmpError> {
        let end = start.name().as_ref().to_string();
        self.reader.read_to_end(QName(&end)).map_err(|e| self.xml_err(e))?;
        self.depth = self.depth.saturating_sub(1);
        self.scopes.close();
        Ok(())
    }

    /// Anywhere in the document: find `rdf:RDF` elements and parse their node elements, until
    /// the root element ends, `<?xpacket end?>`, or the end of the text.
    /// Input that ends while an element (the root) is still open is an error: a packet cut
    /// there may have lost persons.
    fn document(&mut self, out: &mut Vec<Prop>) -> Result<(), XmpError> {
        let mut root: Option<String> = None;
        loop {
            match self.next()? {
                (Some(Some(ns)), Event::Start(e)) if &*ns == RDF && local(&e) == "RDF" => {
                    self.rdf_seen = true;
                    self.rdf(out)?;
                    if self.depth == 0 {
                        return Ok(()); // a bare rdf:RDF root
                    }
                }
                (_, Event::End(_)) if self.depth == 0 => return Ok(()),
                (_, Event::PI(pi)) if pi.target() == "xpacket" && pi.content().trim_start().starts_with("end") => {
                    return Ok(())
                }
                (_, Event::Eof) if self.depth == 0 => return Ok(()),
                (_, Event::Eof) => {
                    let root = root.as_deref().unwrap_or("?");
                    return Err(self.err(format!("packet ends inside <{root}>")));
                }
                (_, Event::Start(e)) if self.depth == 1 => {
                    root = Some(e.name().into_inner().to_string());
                }
                _ => {}
            }
        }
    }

    /// Count one more value built, refusing past [`MAX_VALUES`].
    #[inline]
    fn count_value(&mut self) -> Result<(), XmpError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.too_many_values());
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn too_many_values(&self) -> XmpError {
        self.err(too_many_values())
    }

    /// Children of `rdf:RDF`: node elements.
    fn rdf(&mut self, out: &mut Vec<Prop>) -> Result<(), XmpError> {
        loop {
            match self.next()? {
                (Some(_), Event::Start(e)) => self.node(Open::Start(e), out, true)?,
                (Some(_), Event::Empty(e)) => self.node(Open::Empty(e), out, true)?,
                (_, Event::End(_)) => return Ok(()),
                (_, Event::Eof) => return Err(self.err("unexpected end inside rdf:RDF")),
                _ => {}
            }
        }
    }

    /// A node element (`rdf:Description` or typed node): property attributes, then property
    /// elements. At the top level `keep` filters namespaces.
    fn node(&mut self, open: Open<'i>, out: &mut Vec<Prop>, top: bool) -> Result<(), XmpError> {
        let (start, empty) = match open {
            Open::Start(e) => (e, false),
            Open::Empty(e) => (e, true),
        };
        let keep = self.keep;
        let wanted = |ns: &str| !matches!(ns, RDF | XML) && (!top || keep(ns));
        let first = out.len();
        for (ns, name, value) in self.attributes(&start, &wanted)? {
            self.count_value()?;
            let name = self.props.get(name);
            out.push(Prop { ns, name, value: Value::Text(value.into_owned()) });
        }
        if !empty {
            self.property_elements(out, top)?;
        }
        // A node others refer to by `rdf:nodeID`: its properties stay top-level as well (it may
        // be the only description), and are kept for the references.
        if top && start.attributes_raw().contains("nodeID") {
            let id = self.attributes(&start, &|ns| ns == RDF)?.into_iter().find(|a| a.1 == "nodeID");
            if let Some((_, _, id)) = id {
                self.nodes.push((id.into_owned(), out[first..].to_vec()));
            }
        }
        Ok(())
    }

    /// Property elements until the enclosing end tag. On a problem, the struct being built (not
    /// at the top level) is left in [`Parser::partial`] for the enclosing value.
    fn property_elements(&mut self, out: &mut Vec<Prop>, filter: bool) -> Result<(), XmpError> {
        let result = self.property_elements_until_end(out, filter);
        if result.is_err() && !filter {
            self.partial = Some(Value::Struct(std::mem::take(out)));
        }
        result
    }

    fn property_elements_until_end(&mut self, out: &mut Vec<Prop>, filter: bool) -> Result<(), XmpError> {
        loop {
            let (name, ev) = self.next()?;
            let (name, open) = match (name, ev) {
                (Some(n), Event::Start(e)) => (n, Open::Start(e)),
                (Some(n), Event::Empty(e)) => (n, Open::Empty(e)),
                (_, Event::End(_)) => return Ok(()),
                (_, Event::Eof) => return Err(self.err("unexpected end of packet")),
                _ => continue,
            };
            let ns = name.as_deref().unwrap_or_default();
            if filter && !(self.keep)(ns) {
                if let Open::Start(e) = &open {
                    self.skip(e)?;
                }
                continue;
            }
            let name = match &open {
                Open::Start(e) | Open::Empty(e) => self.props.get(local(e)),
            };
            let ns = self.names.get(ns);
            let (value, _lang) = match self.property(open) {
                Ok(v) => v,
                Err(e) => {
                    // What was built of this property before the problem is kept.
                    if let Some(value) = self.partial.take() {
                        out.push(Prop { ns, name, value });
                    }
                    return Err(e);
                }
            };
            out.push(Prop { ns, name, value });
        }
    }

    /// A property element's value and its `xml:lang`.
    fn property(&mut self, open: Open<'i>) -> Result<(Value, Option<String>), XmpError> {
        let (start, empty) = match open {
            Open::Start(e) => (e, false),
            Open::Empty(e) => (e, true),
        };
        self.count_value()?;
        let mut lang = None;
        let mut parse_type = None;
        let mut resource = None;
        let mut node_id = None;
        let mut fields = Vec::new();
        for (ns, name, value) in self.attributes(&start, &|_| true)? {
            match (&*ns, name) {
                (XML, "lang") => lang = Some(value.into_owned()),
                (RDF, "parseType") => parse_type = Some(value.into_owned()),
                (RDF, "resource") => resource = Some(value.into_owned()),
                (RDF, "nodeID") => node_id = Some(value.into_owned()),
                // rdf:value (a value with qualifiers) is kept as a field; other rdf:/xml: is syntax.
                (RDF, local) if local != "value" => {}
                (XML, _) => {}
                _ => {
                    self.count_value()?;
                    fields.push(Prop { name: self.props.get(name), ns, value: Value::Text(value.into_owned()) })
                }
            }
        }
        let value = if empty {
            match resource {
                // A reference to a node, resolved once the packet is read.
                None if fields.is_empty() && node_id.is_some() => self.node_reference(node_id.unwrap_or_default()),
                Some(uri) if fields.is_empty() => Value::Text(uri),
                _ if !fields.is_empty() => Value::Struct(fields),
                _ if parse_type.as_deref() == Some("Resource") => Value::Struct(fields),
                _ => Value::Text(String::new()),
            }
        } else if parse_type.as_deref() == Some("Resource") {
            self.property_elements(&mut fields, false)?;
            Value::Struct(fields)
        } else if parse_type.as_deref() == Some("Literal") {
            let end = start.name().as_ref().to_string();
            let text = self.reader.read_text(QName(&end)).map_err(|e| self.xml_err(e))?;
            self.depth = self.depth.saturating_sub(1);
            self.scopes.close();
            Value::Text(text.into_inner().into_owned())
        } else {
            let had_fields = !fields.is_empty();
            match (node_id, self.property_content(fields)?) {
                // `<rdf:li rdf:nodeID="n"></rdf:li>` (or with whitespace) refers to a node just as
                // the empty element does.
                (Some(id), Value::Text(t)) if !had_fields && resource.is_none() && t.trim().is_empty() => {
                    self.node_reference(id)
                }
                (_, v) => v,
            }
        };
        Ok((qualified_value(value), lang))
    }

    /// A reference to the node `id`, resolved once the packet is read ([`resolve_nodes`]).
    fn node_reference(&mut self, id: String) -> Value {
        Value::Struct(vec![Prop { ns: self.names.get(RDF), name: self.props.get("nodeID"), value: Value::Text(id) }])
    }

    /// Content of a property element without parseType: text, an array, or a nested node.
    fn property_content(&mut self, mut fields: Vec<Prop>) -> Result<Value, XmpError> {
        // Text borrowed from the packet until a second piece must be appended: the whitespace
        // between elements then costs no allocation.
        let mut text: Cow<'i, str> = Cow::Borrowed("");
        let append = |text: &mut Cow<'i, str>, piece: Cow<'i, str>| {
            if text.is_empty() {
                *text = piece;
            } else {
                text.to_mut().push_str(&piece);
            }
        };
        let mut value = None;
        loop {
            let (name, ev) = self.next()?;
            match ev {
                Event::Text(t) => append(&mut text, t.into_inner()),
                Event::CData(t) => append(&mut text, t.into_inner()),
                Event::GeneralRef(r) => text.to_mut().push(self.entity(&r)?),
                Event::Start(e) | Event::Empty(e) if value.is_some() => {
                    let tag = e.name().as_ref().to_string();
                    return Err(self.err(format!("property value has a second child element <{tag}>")));
                }
                Event::Start(e) => value = Some(self.child(name.unwrap(), Open::Start(e), &mut fields)?),
                Event::Empty(e) => value = Some(self.child(name.unwrap(), Open::Empty(e), &mut fields)?),
                Event::End(_) => break,
                Event::Eof => return Err(self.err("unexpected end of packet")),
                _ => {}
            }
        }
        Ok(match value {
            Some(v) => v,
            None if !fields.is_empty() && text.trim().is_empty() => Value::Struct(fields),
            None => Value::Text(text.into_owned()),
        })
    }

    fn child(&mut self, ns: Ns, open: Open<'i>, fields: &mut Vec<Prop>) -> Result<Value, XmpError> {
        let name = match &open {
            Open::Start(e) | Open::Empty(e) => local(e),
        };
        let kind = match (ns.as_deref(), name) {
            (Some(RDF), "Bag") => Some(ArrayKind::Bag),
            (Some(RDF), "Seq") => Some(ArrayKind::Seq),
            (Some(RDF), "Alt") => Some(ArrayKind::Alt),
            _ => None,
        };
        match (kind, open) {
            (Some(kind), Open::Start(_)) => Ok(Value::Array(kind, self.items(kind)?)),
            (Some(kind), Open::Empty(_)) => Ok(Value::Array(kind, Vec::new())),
            (None, open) => {
                // A nested node element: a struct.
                let mut inner = std::mem::take(fields);
                self.node(open, &mut inner, false)?;
                Ok(Value::Struct(inner))
            }
        }
    }

    /// `rdf:li` items of an array, until the array's end tag. On a problem, the items built
    /// before it are left in [`Parser::partial`] for the enclosing value.
    fn items(&mut self, kind: ArrayKind) -> Result<Vec<Item>, XmpError> {
        let mut items = Vec::new();
        match self.items_until_end(&mut items) {
            Ok(()) => Ok(items),
            Err(e) => {
                self.partial = Some(Value::Array(kind, items));
                Err(e)
            }
        }
    }

    fn items_until_end(&mut self, items: &mut Vec<Item>) -> Result<(), XmpError> {
        loop {
            let (_, ev) = self.next()?;
            let open = match ev {
                Event::Start(e) => Open::Start(e),
                Event::Empty(e) => Open::Empty(e),
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.err("unexpected end of packet in array")),
                _ => continue,
            };
            match self.property(open) {
                Ok((value, lang)) => items.push(Item { value, lang }),
                Err(e) => {
                    if let Some(value) = self.partial.take() {
                        items.push(Item { value, lang: None });
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Namespace-qualified attributes whose namespace `wanted` accepts (xmlns declarations and
    /// unqualified attributes are not properties).
    fn attributes<'a>(
        &mut self,
        start: &'a BytesStart<'_>,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Attr<'a>>, XmpError> {
        let mut out = Vec::new();
        // Duplicate attributes are not checked for: the first one counts, as with `find`.
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| self.err(format!("bad attribute: {e}")))?;
            // Unqualified attributes and namespace declarations are not properties.
            let Some((prefix, local)) = attr.key.into_inner().split_once(':') else { continue };
            if prefix == "xmlns" {
                continue;
            }
            let Some(ns) = self.scopes.resolve(prefix) else { continue };
            if !wanted(&ns) {
                continue;
            }
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.err(format!("bad attribute value: {e}")))?;
            out.push((ns, local, value));
        }
        Ok(out)
    }

    fn entity(&self, r: &quick_xml::events::BytesRef<'_>) -> Result<char, XmpError> {
        if let Some(c) = r.resolve_char_ref().map_err(|e| self.err(e.to_string()))? {
            return Ok(c);
        }
        match &**r {
            "amp" => Ok('&'),
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "quot" => Ok('"'),
            "apos" => Ok('\''),
            other => Err(self.err(format!("undefined entity &{other};"))),
        }
    }
}

/// A struct with `rdf:value` is a value with qualifiers: keep the value.
fn qualified_value(v: Value) -> Value {
    if let Value::Struct(fields) = &v {
        if let Some(pos) = fields.iter().position(|p| &*p.ns == RDF && &*p.name == "value") {
            let Value::Struct(mut fields) = v else { unreachable!() };
            return fields.swap_remove(pos).value;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const DC: &str = "http://purl.org/dc/elements/1.1/";

    fn all(packet: &str) -> Result<Vec<Prop>, XmpError> {
        parse(packet.as_bytes(), &|_| true)
    }

    fn wrap(desc: &str) -> String {
        format!(
            r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}" xmlns:dc="{DC}">{desc}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#
        )
    }

    #[test]
    fn attribute_and_element_forms_are_equivalent() {
        let a = all(&wrap(r#"<rdf:Description rdf:about="" dc:format="image/jpeg"/>"#)).unwrap();
        let b =
            all(&wrap(r#"<rdf:Description rdf:about=""><dc:format>image/jpeg</dc:format></rdf:Description>"#)).unwrap();
        assert_eq!(a, b);
        assert_eq!(find(&a, DC, "format").and_then(Value::as_text), Some("image/jpeg"));
    }

    #[test]
    fn arrays_structs_and_languages() {
        let props = all(&wrap(
            r#"<rdf:Description><dc:subject><rdf:Bag><rdf:li>a</rdf:li><rdf:li>b &amp; c&#x21;</rdf:li></rdf:Bag></dc:subject>
               <dc:title><rdf:Alt><rdf:li xml:lang="de">Titel</rdf:li><rdf:li xml:lang="x-default">Title</rdf:li></rdf:Alt></dc:title>
               <dc:s1 rdf:parseType="Resource"><dc:f>1</dc:f></dc:s1>
               <dc:s2><rdf:Description dc:f="2"/></dc:s2>
               <dc:s3 dc:f="3"/>
               <dc:q rdf:parseType="Resource"><rdf:value>v</rdf:value><dc:qual>x</dc:qual></dc:q>
               <dc:r rdf:resource="http://example.org/"/></rdf:Description>"#,
        ))
        .unwrap();
        let subject = find(&props, DC, "subject").unwrap();
        assert_eq!(subject.items().iter().map(|v| v.as_text().unwrap()).collect::<Vec<_>>(), ["a", "b & c!"]);
        assert_eq!(find(&props, DC, "title").unwrap().lang_alt_default(), Some("Title"));
        for (name, want) in [("s1", "1"), ("s2", "2"), ("s3", "3")] {
            assert_eq!(find(&props, DC, name).unwrap().field(DC, "f").and_then(Value::as_text), Some(want), "{name}");
        }
        assert_eq!(find(&props, DC, "q").and_then(Value::as_text), Some("v"));
        assert_eq!(find(&props, DC, "r").and_then(Value::as_text), Some("http://example.org/"));
    }

    #[test]
    fn several_descriptions_and_no_wrapper() {
        let packet = format!(
            r#"<rdf:RDF xmlns:rdf="{RDF}"><rdf:Description xmlns:a="{DC}" a:x="1"/><rdf:Description xmlns:b="{DC}"><b:y>2</b:y></rdf:Description></rdf:RDF>"#
        );
        let props = all(&packet).unwrap();
        assert_eq!(props.len(), 2);
    }

    #[test]
    fn namespace_scopes_follow_xml_rules() {
        // Default namespace for elements (not attributes), a prefix rebound in an inner element
        // and unbound again after it, and a prefix declared on an empty element.
        let packet = format!(
            r#"<rdf:RDF xmlns:rdf="{RDF}" xmlns:p="urn:outer">
              <rdf:Description xmlns="{DC}" p:a="outer" b="unqualified"><format>x</format>
                <p:s rdf:parseType="Resource" xmlns:p="urn:inner"><p:f>inner</p:f></p:s>
                <p:t>outer again</p:t></rdf:Description>
              <rdf:Description xmlns:q="urn:q" q:z="1"/><rdf:Description q:z="2" xmlns:q="urn:q2"/>
            </rdf:RDF>"#
        );
        let props = all(&packet).unwrap();
        assert_eq!(find(&props, DC, "format").and_then(Value::as_text), Some("x"));
        assert_eq!(find(&props, "urn:outer", "a").and_then(Value::as_text), Some("outer"));
        assert!(props.iter().all(|p| &*p.name != "b"), "unqualified attributes are not properties");
        assert_eq!(
            find(&props, "urn:inner", "s").unwrap().field("urn:inner", "f").and_then(Value::as_text),
            Some("inner")
        );
        assert_eq!(find(&props, "urn:outer", "t").and_then(Value::as_text), Some("outer again"));
        assert_eq!(find(&props, "urn:q", "z").and_then(Value::as_text), Some("1"));
        assert_eq!(find(&props, "urn:q2", "z").and_then(Value::as_text), Some("2"));
    }

    #[test]
    fn namespace_filter_skips_unwanted_properties() {
        let props = parse(
            wrap(r#"<rdf:Description dc:format="x"><dc:big><rdf:Bag><rdf:li>1</rdf:li></rdf:Bag></dc:big></rdf:Description>"#).as_bytes(),
            &|ns| ns != DC,
        )
        .unwrap();
        assert!(props.is_empty());
    }

    #[test]
    fn utf16_and_bom_packets() {
        let text = wrap(r#"<rdf:Description dc:format="Jörg"/>"#);
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(text.as_bytes());
        for bytes in [le, be, bom8] {
            let props = parse(&bytes, &|_| true).unwrap();
            assert_eq!(find(&props, DC, "format").and_then(Value::as_text), Some("Jörg"));
        }
    }

    #[test]
    fn dtd_and_entity_bombs_are_refused() {
        let bomb = format!(
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rdf:RDF xmlns:rdf="{RDF}" xmlns:dc="{DC}"><rdf:Description><dc:x>&lol2;</dc:x></rdf:Description></rdf:RDF>"#
        );
        let e = all(&bomb).unwrap_err();
        assert!(e.message.contains("DTD"), "{e}");
        let external =
            format!(r#"<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rdf:RDF xmlns:rdf="{RDF}"/>"#);
        assert!(all(&external).unwrap_err().message.contains("DTD"));
        let undefined = wrap(r#"<rdf:Description><dc:x>&xxe;</dc:x></rdf:Description>"#);
        let e = all(&undefined).unwrap_err();
        assert!(e.message.contains("undefined entity &xxe;"), "{e}");
        assert!(e.offset > 0);
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion_overflow() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let e = all(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let deep_value = wrap(&format!(
            r#"<rdf:Description><dc:x>{}{}</dc:x></rdf:Description>"#,
            "<rdf:Bag><rdf:li>".repeat(1000),
            "</rdf:li></rdf:Bag>".repeat(1000)
        ));
        assert!(all(&deep_value).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn many_distinct_namespaces() {
        // Each property in a namespace of its own (100 000 of them): interned by hash, not by a
        // linear scan per element.
        let body: String = (0..100_000).map(|i| format!("<a:p xmlns:a='urn:{i:08}'>{i}</a:p>")).collect();
        let props = all(&wrap(&format!("<rdf:Description>{body}</rdf:Description>"))).unwrap();
        assert_eq!(props.len(), 100_000);
        assert_eq!(find(&props, "urn:00099999", "p").and_then(Value::as_text), Some("99999"));
    }

    #[test]
    fn malformed_xml_reports_offset() {
        let e = all(&wrap(r#"<rdf:Description><dc:x>1</dc:y></rdf:Description>"#)).unwrap_err();
        assert!(e.offset > 100, "{e}");
        assert!(all("\u{0}").unwrap().is_empty());
        let e = parse(b"<a>\xff\xfe\xfd</a>", &|_| true).unwrap_err();
        assert_eq!(e.offset, 3);
    }

    fn person(name: &str) -> String {
        wrap(&format!(r#"<rdf:Description dc:subject="{name}"/>"#))
    }

    fn subjects(props: &[Prop]) -> Vec<&str> {
        find_all(props, DC, "subject").filter_map(Value::as_text).collect()
    }

    #[test]
    fn recovers_where_exiftool_recovers() {
        let (a, b) = (person("Anna"), person("Bob"));
        // A stale tail of an older packet after the end marker: only end tags, ignored.
        let stale = format!("{a}</rdf:Bag></dc:x></rdf:Description></rdf:RDF></x:xmpmeta>");
        assert_eq!(subjects(&all(&stale).unwrap()), ["Anna"]);
        // One with array items of an older packet: ignored, as exiftool ignores them.
        let stale = format!("{a}<rdf:li>Stale</rdf:li></rdf:Bag></dc:x></rdf:Description></rdf:RDF></x:xmpmeta>");
        assert_eq!(subjects(&all(&stale).unwrap()), ["Anna"]);
        // One with a property element (exiftool reads it): not read, so an error.
        let stale = format!("{a}<rdf:li>Stale</rdf:li></rdf:Bag></dc:x><dc:x><rdf:Bag><rdf:li>Old</rdf:li>");
        let (props, e) = parse_partial(stale.as_bytes(), &|_| true);
        assert_eq!(subjects(&props), ["Anna"]);
        assert!(e.unwrap().message.contains("element <dc:x"));
        // A second root after the first, after a NUL, after NUL padding, after junk: all read.
        for both in
            [format!("{a}{b}"), format!("{a}\0{b}"), format!("{a}{}{b}", "\0".repeat(100)), format!("{a}junk{b}")]
        {
            assert_eq!(subjects(&all(&both).unwrap()), ["Anna", "Bob"], "{both:?}");
        }
        // A root cut by a NUL, and a broken second root: errors, in file offsets.
        let cut = format!("{}\0{}", &a[..a.len() - 40], &a[a.len() - 40..]);
        assert!(all(&cut).is_err());
        let broken = format!("{a}\0{}", &b[..b.len() - 50]);
        let (props, e) = parse_partial(broken.as_bytes(), &|_| true);
        assert_eq!(subjects(&props), ["Anna"], "what came before the problem is kept");
        let e = e.unwrap();
        assert!(e.offset > a.len() as u64, "{e}");
        assert_eq!(e.clone().in_file(1000).offset, e.offset + 1000);
        let offset = e.offset;
        assert!(e.in_file(1000).to_string().starts_with(&format!("invalid XMP at byte {}", 1000 + offset)));
    }

    #[test]
    fn values_built_before_a_problem_are_kept() {
        // A packet cut inside the third item of a bag of structs inside a struct: the first two
        // items, and the fields before the cut, are kept beside the error.
        let packet = wrap(
            r#"<rdf:Description><dc:r rdf:parseType="Resource"><dc:a>x</dc:a><dc:list><rdf:Bag><rdf:li rdf:parseType="Resource"><dc:n>One</dc:n></rdf:li><rdf:li><rdf:Description dc:n="Two"/></rdf:li><rdf:li rdf:parseType="Resource"><dc:n>Three</dc:n><dc:m>cut"#,
        );
        let cut = &packet[..packet.find("cut").unwrap()];
        let (props, e) = parse_partial(cut.as_bytes(), &|_| true);
        assert!(e.is_some());
        let r = find(&props, DC, "r").unwrap();
        assert_eq!(r.field(DC, "a").and_then(Value::as_text), Some("x"));
        let names: Vec<_> =
            r.field(DC, "list").unwrap().items().iter().filter_map(|i| i.field(DC, "n")?.as_text()).collect();
        assert_eq!(names, ["One", "Two", "Three"]);
    }

    #[test]
    fn values_per_packet_are_bounded() {
        let items = "<rdf:li>x</rdf:li>".repeat(MAX_VALUES + 1);
        let big =
            wrap(&format!("<rdf:Description><dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject></rdf:Description>"));
        let e = all(&big).unwrap_err();
        assert!(e.message.contains("more than 250000 property values"), "{e}");
        // Skipped namespaces build nothing and count nothing.
        assert!(parse(big.as_bytes(), &|ns| ns != DC).unwrap().is_empty());
        // References do not multiply a node past the bound.
        let node = format!(
            r#"<rdf:Description rdf:nodeID="n"><dc:v><rdf:Bag>{}</rdf:Bag></dc:v></rdf:Description>"#,
            "<rdf:li>x</rdf:li>".repeat(1000)
        );
        let refs = r#"<rdf:li rdf:nodeID="n"/>"#.repeat(1000);
        let bomb = wrap(&format!("{node}<rdf:Description><dc:r><rdf:Bag>{refs}</rdf:Bag></dc:r></rdf:Description>"));
        assert!(all(&bomb).unwrap_err().message.contains("property values"));
    }

    #[test]
    fn node_id_references() {
        let packet = wrap(
            r#"<rdf:Description><dc:p><rdf:Bag><rdf:li rdf:nodeID="n1"/><rdf:li rdf:nodeID="missing"/></rdf:Bag></dc:p><dc:q rdf:nodeID="n1"/></rdf:Description>
               <rdf:Description rdf:nodeID="n1"><dc:name>Anna</dc:name></rdf:Description>"#,
        );
        let props = all(&packet).unwrap();
        let p = find(&props, DC, "p").unwrap().items();
        assert_eq!(p[0].field(DC, "name").and_then(Value::as_text), Some("Anna"));
        assert_eq!(find(&props, DC, "q").unwrap().field(DC, "name").and_then(Value::as_text), Some("Anna"));
        // The same references written as non-empty elements (empty content or whitespace).
        let packet = wrap(
            r#"<rdf:Description><dc:p><rdf:Bag><rdf:li rdf:nodeID="n1"></rdf:li><rdf:li rdf:nodeID="n1">
               </rdf:li></rdf:Bag></dc:p><dc:q rdf:nodeID="n1"> </dc:q></rdf:Description>
               <rdf:Description rdf:nodeID="n1"><dc:name>Anna</dc:name></rdf:Description>"#,
        );
        let props = all(&packet).unwrap();
        let p = find(&props, DC, "p").unwrap().items();
        assert_eq!(p.len(), 2);
        for item in p {
            assert_eq!(item.field(DC, "name").and_then(Value::as_text), Some("Anna"));
        }
        assert_eq!(find(&props, DC, "q").unwrap().field(DC, "name").and_then(Value::as_text), Some("Anna"));
        // A node referring to itself ends at the nesting limit instead of looping.
        let selfref = wrap(r#"<rdf:Description rdf:nodeID="n"><dc:me rdf:nodeID="n"/></rdf:Description>"#);
        assert!(all(&selfref).is_err());
    }

    #[test]
    fn end_inside_an_open_root_is_an_error() {
        let cut = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/">"#;
        let e = all(cut).unwrap_err();
        assert!(e.message.contains("packet ends inside <x:xmpmeta>"), "{e}");
        assert_eq!(e.offset, cut.len() as u64);
        let cut = r#"<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/">  "#;
        assert!(all(cut).unwrap_err().message.contains("inside <x:xmpmeta>"));
        // A complete root is still fine, and so is text without any root (embedded packets).
        assert!(all(&person("Anna")).is_ok());
    }

    #[test]
    fn a_sidecar_without_xmp_is_an_error() {
        for text in ["", "hello world", "\0\0", r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>"#] {
            let (props, e) = parse_sidecar_partial(text.as_bytes(), &|_| true);
            assert!(props.is_empty());
            assert!(e.unwrap().message.contains("no XMP in it"), "{text:?}");
        }
        let (props, e) = parse_sidecar_partial(person("Anna").as_bytes(), &|_| true);
        assert_eq!((subjects(&props), e), (vec!["Anna"], None));
        // An embedded packet keeps its behaviour: no root, nothing read, no error.
        assert!(all("hello world").unwrap().is_empty());
    }

    #[test]
    fn many_node_id_references_resolve() {
        // 60 000 nodes each referred to once (looked up in a map: a linear search per reference
        // took 15 s here; speed is the benchmarks' to measure, not a timed test's).
        let n = 60_000;
        let nodes: String = (0..n)
            .map(|i| format!(r#"<rdf:Description rdf:nodeID="n{i}"><dc:name>P{i}</dc:name></rdf:Description>"#))
            .collect();
        let refs: String = (0..n).rev().map(|i| format!(r#"<rdf:li rdf:nodeID="n{i}"/>"#)).collect();
        let packet = wrap(&format!("<rdf:Description><dc:p><rdf:Bag>{refs}</rdf:Bag></dc:p></rdf:Description>{nodes}"));
        let props = all(&packet).unwrap();
        let p = find(&props, DC, "p").unwrap().items();
        assert_eq!(p.len(), n);
        assert_eq!(p[0].field(DC, "name").and_then(Value::as_text), Some("P59999"));
        assert_eq!(p[n - 1].field(DC, "name").and_then(Value::as_text), Some("P0"));
        // The first node with an id counts.
        let twice = wrap(
            r#"<rdf:Description><dc:q rdf:nodeID="d"/></rdf:Description><rdf:Description rdf:nodeID="d" dc:v="first"/><rdf:Description rdf:nodeID="d" dc:v="second"/>"#,
        );
        let props = all(&twice).unwrap();
        assert_eq!(find(&props, DC, "q").unwrap().field(DC, "v").and_then(Value::as_text), Some("first"));
    }

    #[test]
    fn elements_after_the_last_root_are_never_silently_ignored() {
        // exiftool reads the person in each of these tails; this reader does not find them as
        // roots, so each is an error (after the end marker, after a NUL, after NUL padding).
        let a = person("Anna");
        let tails = [
            format!(
                r#"<X:xmpmeta xmlns:X="adobe:ns:meta/"><RDF:RDF xmlns:RDF="{RDF}"><RDF:Description xmlns:dc="{DC}" dc:creator="Bob"/></RDF:RDF></X:xmpmeta>"#
            ),
            format!(r#"<RDF:RDF xmlns:RDF="{RDF}"><RDF:Description xmlns:dc="{DC}" dc:creator="Dora"/></RDF:RDF>"#),
            format!(r#"<rdf:Description xmlns:rdf="{RDF}" xmlns:dc="{DC}" dc:creator="Carl"/>"#),
        ];
        for tail in &tails {
            for sep in ["", "\0", "\0\0\0 \n"] {
                let packet = format!("{a}{sep}{tail}");
                let (props, e) = parse_partial(packet.as_bytes(), &|_| true);
                assert_eq!(subjects(&props), ["Anna"], "{packet}");
                let e = e.unwrap_or_else(|| panic!("no error: {packet:?}"));
                assert!(e.message.contains("after the XMP root"), "{e}");
                assert_eq!(e.offset, (a.len() + sep.len()) as u64, "{packet:?}");
            }
        }
        // Whitespace, NUL padding, end tags and processing instructions stay harmless.
        let fine = format!("{a} \n\0\0</rdf:RDF><?xpacket end='w'?>\0");
        assert_eq!(subjects(&all(&fine).unwrap()), ["Anna"]);
    }

    #[test]
    fn truncations_never_panic() {
        let text = wrap(
            r#"<rdf:Description dc:a="1"><dc:subject><rdf:Bag><rdf:li xml:lang="x">a</rdf:li></rdf:Bag></dc:subject><dc:s rdf:parseType="Resource"><dc:f>1</dc:f></dc:s></rdf:Description>"#,
        );
        for end in 0..text.len() {
            let _ = parse(&text.as_bytes()[..end], &|_| true);
        }
    }
}
