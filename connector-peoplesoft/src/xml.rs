//! Safe XML reading into a small namespace-aware tree, and XML writing with
//! correct escaping, both on quick-xml. Replies from a customer's gateway are
//! untrusted: DTDs and entity definitions are refused, size and depth are capped.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// Largest XML document this connector parses (a 500-row QAS reply is ~300 KB).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest element nesting accepted (SOAP + CI scrolls need about 12).
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document (defends memory against tiny-element floods).
pub const MAX_ELEMENTS: usize = 1_000_000;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The document carries a `<!DOCTYPE`: DTDs (and their entities) are never processed.
    Dtd,
    /// A reference to an entity other than the five predefined ones.
    Entity(String),
    /// Larger than [`MAX_DOCUMENT_BYTES`].
    TooLarge(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// More than [`MAX_ELEMENTS`] elements.
    TooManyElements,
    /// Not UTF-8.
    Encoding,
    /// Not well-formed (unbalanced tags, bad syntax, undeclared prefix, no root).
    Syntax(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Dtd => write!(f, "document type declarations (<!DOCTYPE) are refused"),
            XmlError::Entity(name) => write!(f, "entity reference &{name}; is refused"),
            XmlError::TooLarge(n) => write!(
                f,
                "document of {n} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit"
            ),
            XmlError::TooDeep => write!(f, "elements nested deeper than {MAX_DEPTH} levels"),
            XmlError::TooManyElements => write!(f, "more than {MAX_ELEMENTS} elements"),
            XmlError::Encoding => write!(f, "document is not UTF-8"),
            XmlError::Syntax(m) => write!(f, "malformed XML: {m}"),
        }
    }
}

/// Namespace bindings in scope at an element: prefix ("" for the default) -> URI.
pub type Scope = Rc<BTreeMap<String, String>>;

/// One attribute, its name split into prefix and local part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Prefix as written (`None` when unprefixed).
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// One parsed element: namespace-resolved name, attributes, child elements and
/// its own character data (text and CDATA concatenated, unescaped).
#[derive(Debug, Clone)]
pub struct Element {
    /// Namespace URI of the element (`None` when in no namespace).
    pub ns: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes, namespace declarations excluded.
    pub attrs: Vec<Attr>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own text (not its descendants'), exactly as decoded.
    pub text: String,
    /// Namespace bindings in scope here, for resolving QName-valued attributes.
    pub scope: Scope,
}

impl Element {
    /// Whether this element has local name `name` (namespace ignored).
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The value of unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.prefix.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The first child element with local name `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child whose local name equals `name` ignoring ASCII case.
    pub fn child_ignore_case(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// All child elements with local name `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// This element and all its descendants, depth first, document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            out.push(e);
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// The first element (self included) with local name `name`, depth first.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.descendants().into_iter().find(|e| e.name == name)
    }

    /// Resolves a QName written in an attribute value (`tns:Foo`, or `Foo` in
    /// the default namespace) against the bindings in scope at this element.
    /// Returns `(namespace, local)`; `None` when the prefix is undeclared.
    pub fn resolve_qname(&self, qname: &str) -> Option<(Option<String>, String)> {
        match qname.split_once(':') {
            Some((prefix, local)) => self
                .scope
                .get(prefix)
                .map(|ns| (Some(ns.clone()), local.to_string())),
            None => Some((self.scope.get("").cloned(), qname.to_string())),
        }
    }
}

/// Parses `bytes` into its root element, refusing DTDs, non-predefined
/// entities, oversized and over-deep documents.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Encoding)?;
    parse_str(text)
}

/// Parses XML text (see [`parse`]).
pub fn parse_str(text: &str) -> Result<Element, XmlError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError::TooLarge(text.len()));
    }
    let mut reader = Reader::from_str(text);
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let syntax = |e: quick_xml::Error| XmlError::Syntax(e.to_string());
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        match reader.read_event().map_err(syntax)? {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                let parent_scope = stack.last().map(|p| p.scope.clone());
                stack.push(open_element(&start, parent_scope)?);
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            // `expand_empty_elements` turns `<a/>` into Start + End.
            Event::Empty(_) => {
                return Err(XmlError::Syntax("unexpected empty-element event".into()));
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|_| XmlError::Encoding)?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c.xml10_content().map_err(|_| XmlError::Encoding)?;
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            return Err(XmlError::Syntax(format!(
                                "invalid character reference &{};",
                                String::from_utf8_lossy(&r)
                            )));
                        }
                    }
                } else {
                    let name = r.decode().map_err(|_| XmlError::Encoding)?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => v.to_string(),
                        None => return Err(XmlError::Entity(name.into_owned())),
                    }
                };
                push_text(&mut stack, &ch)?;
            }
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError::Syntax("no root element".into()))
}

fn push_text(stack: &mut [Element], s: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(e) => {
            e.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(XmlError::Syntax("text outside the root element".into())),
    }
}

fn open_element(start: &BytesStart<'_>, parent_scope: Option<Scope>) -> Result<Element, XmlError> {
    let mut declared: Vec<(String, String)> = Vec::new();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Syntax(e.to_string()))?;
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(|_| XmlError::Encoding)?;
        let value = attr.unescape_value().map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, n)) => {
                XmlError::Entity(n)
            }
            other => XmlError::Syntax(other.to_string()),
        })?;
        if key == "xmlns" {
            declared.push((String::new(), value.into_owned()));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            declared.push((prefix.to_string(), value.into_owned()));
        } else {
            let (prefix, name) = split_qname(key);
            attrs.push(Attr {
                prefix,
                name,
                value: value.into_owned(),
            });
        }
    }
    let scope = match (parent_scope, declared.is_empty()) {
        (Some(parent), true) => parent,
        (parent, _) => {
            let mut map = parent.map(|p| (*p).clone()).unwrap_or_default();
            map.insert("xml".into(), "http://www.w3.org/XML/1998/namespace".into());
            for (prefix, uri) in declared {
                map.insert(prefix, uri);
            }
            Rc::new(map)
        }
    };
    let qname = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| XmlError::Encoding)?
        .to_string();
    let (prefix, name) = split_qname(&qname);
    let ns =
        match &prefix {
            Some(p) => Some(scope.get(p.as_str()).cloned().ok_or_else(|| {
                XmlError::Syntax(format!("undeclared prefix {p:?} on <{qname}>"))
            })?),
            None => scope.get("").cloned().filter(|u| !u.is_empty()),
        };
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        scope,
    })
}

fn split_qname(qname: &str) -> (Option<String>, String) {
    match qname.split_once(':') {
        Some((p, l)) => (Some(p.to_string()), l.to_string()),
        None => (None, qname.to_string()),
    }
}

/// An element to write: a name, an optional namespace (declared with `xmlns=`
/// wherever it differs from the parent's), text or children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutElement {
    /// Element name (written unprefixed).
    pub name: String,
    /// Default namespace of this element; `None` inherits the parent's.
    pub ns: Option<String>,
    /// Character data (escaped on output).
    pub text: Option<String>,
    /// Child elements.
    pub children: Vec<OutElement>,
}

impl OutElement {
    /// An element without namespace change, text or children.
    pub fn new(name: impl Into<String>) -> Self {
        OutElement {
            name: name.into(),
            ns: None,
            text: None,
            children: Vec::new(),
        }
    }

    /// A leaf holding `text`.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        OutElement {
            text: Some(text.into()),
            ..OutElement::new(name)
        }
    }

    /// Sets the default namespace (builder style).
    pub fn in_ns(mut self, ns: impl Into<String>) -> Self {
        self.ns = Some(ns.into());
        self
    }

    /// Appends a child (builder style).
    pub fn with(mut self, child: OutElement) -> Self {
        self.children.push(child);
        self
    }
}

/// Writes `element` (and its subtree) with `writer`, declaring namespaces as needed.
pub fn write_element<W: std::io::Write>(
    writer: &mut Writer<W>,
    element: &OutElement,
    parent_ns: Option<&str>,
) -> std::io::Result<()> {
    let mut start = BytesStart::new(element.name.as_str());
    let own_ns = element.ns.as_deref().or(parent_ns);
    if let Some(ns) = element.ns.as_deref()
        && Some(ns) != parent_ns
    {
        start.push_attribute(("xmlns", ns));
    }
    writer.write_event(Event::Start(start))?;
    if let Some(text) = &element.text {
        writer.write_event(Event::Text(BytesText::new(text)))?;
    }
    for child in &element.children {
        write_element(writer, child, own_ns)?;
    }
    writer.write_event(Event::End(BytesEnd::new(element.name.as_str())))
}

/// Serializes `element` alone (no declaration) to a string.
pub fn to_string(element: &OutElement) -> String {
    let mut writer = Writer::new(Vec::new());
    // Writing into a Vec cannot fail: io errors only come from the sink.
    let _ = write_element(&mut writer, element, None);
    String::from_utf8_lossy(&writer.into_inner()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_resolves_prefixes_and_default_namespace() {
        let root = parse_str(
            r#"<a:root xmlns:a="urn:a" xmlns="urn:d"><child x="1">t</child><a:other/></a:root>"#,
        )
        .unwrap();
        assert_eq!(root.ns.as_deref(), Some("urn:a"));
        assert_eq!(root.children[0].ns.as_deref(), Some("urn:d"));
        assert_eq!(root.children[0].attr("x"), Some("1"));
        assert_eq!(root.children[1].ns.as_deref(), Some("urn:a"));
        assert_eq!(
            root.children[0].resolve_qname("a:Foo"),
            Some((Some("urn:a".into()), "Foo".into()))
        );
        assert_eq!(root.children[0].resolve_qname("zz:Foo"), None);
    }

    #[test]
    fn parse_unescapes_predefined_and_character_references_and_cdata() {
        let root =
            parse_str("<r>a &amp; b &lt;c&gt; &quot;&apos; &#233;&#x6771;<![CDATA[<raw&>]]></r>")
                .unwrap();
        assert_eq!(root.text, "a & b <c> \"' é東<raw&>");
    }

    #[test]
    fn parse_refuses_doctype() {
        assert_eq!(
            parse_str("<!DOCTYPE r [<!ELEMENT r ANY>]><r/>").unwrap_err(),
            XmlError::Dtd
        );
    }

    #[test]
    fn parse_refuses_billion_laughs() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
        assert_eq!(parse_str(bomb).unwrap_err(), XmlError::Dtd);
    }

    #[test]
    fn parse_refuses_undefined_entity_without_dtd() {
        assert_eq!(
            parse_str("<r>&lol;</r>").unwrap_err(),
            XmlError::Entity("lol".into())
        );
        assert_eq!(
            parse_str(r#"<r a="&lol;"/>"#).unwrap_err(),
            XmlError::Entity("lol".into())
        );
    }

    #[test]
    fn parse_caps_depth_and_size() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse_str(&deep).unwrap_err(), XmlError::TooDeep);
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(parse(&big), Err(XmlError::TooLarge(_))));
    }

    #[test]
    fn parse_refuses_mismatched_tags_and_bad_utf8() {
        assert!(matches!(
            parse_str("<a><b></a></b>"),
            Err(XmlError::Syntax(_))
        ));
        assert!(matches!(parse_str("not xml"), Err(XmlError::Syntax(_))));
        assert_eq!(parse(&[b'<', 0xff, b'>']).unwrap_err(), XmlError::Encoding);
    }

    #[test]
    fn write_escapes_text_and_declares_namespaces_once() {
        let e = OutElement::new("Root")
            .in_ns("urn:m")
            .with(OutElement::leaf("NAME1", "A&B <x> \"q\" 'a'"))
            .with(
                OutElement::new("Inner")
                    .in_ns("urn:p")
                    .with(OutElement::leaf("X", "1")),
            );
        assert_eq!(
            to_string(&e),
            r#"<Root xmlns="urn:m"><NAME1>A&amp;B &lt;x&gt; &quot;q&quot; &apos;a&apos;</NAME1><Inner xmlns="urn:p"><X>1</X></Inner></Root>"#
        );
    }

    #[test]
    fn written_text_round_trips_through_the_parser() {
        for s in [
            "Barnes & Noble Office <B2B>",
            "O'Brien \"Quality\" Fasteners",
            "Café Société Catering",
            "東京精密機器株式会社",
            "Würth  Industrie\tService ]]> end",
        ] {
            let xml = to_string(&OutElement::leaf("V", s));
            assert_eq!(parse_str(&xml).unwrap().text, s, "round trip of {s:?}");
        }
    }
}
