//! A small namespace-aware XML tree for incoming SOAP requests (parsed with
//! quick-xml, DTDs refused) and an escaping writer for the gateway's replies.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

/// Deepest element nesting accepted; a PO is at most ~8 levels inside a SOAP
/// envelope, so anything far deeper is an attack or a broken client.
const MAX_DEPTH: usize = 64;

/// One element of a parsed document. Text is the concatenation of the
/// element's own character data (text, CDATA and references), unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI the element's name resolved to (`None`: no namespace).
    pub ns: Option<String>,
    /// Local name (no prefix).
    pub local: String,
    /// Attributes other than namespace declarations: (namespace, local name, value).
    pub attrs: Vec<(Option<String>, String, String)>,
    /// Namespace declarations made on this element: (prefix, URI), prefix `""`
    /// for the default namespace. Needed to resolve QNames inside attribute
    /// values (WSDL `element="prefix:Name"`).
    pub ns_decls: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own character data.
    pub text: String,
}

impl Element {
    /// The first child element with local name `local`, in any namespace.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local)
    }

    /// All child elements with local name `local`.
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.local == local)
    }

    /// Text of the first child named `local`.
    pub fn child_text(&self, local: &str) -> Option<&str> {
        self.child(local).map(|c| c.text.as_str())
    }

    /// Value of the attribute with local name `local` (any namespace).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(_, name, _)| name == local)
            .map(|(_, _, v)| v.as_str())
    }

    /// The first element child in document order, if any.
    pub fn first_child(&self) -> Option<&Element> {
        self.children.first()
    }

    /// Every descendant (depth first, document order) with local name `local`.
    pub fn descendants<'a>(&'a self, local: &'a str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            if e.local == local {
                out.push(e);
            }
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// `true` when the element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    /// The document declares a DTD (`<!DOCTYPE`), which the gateway refuses
    /// (entity expansion and external entities are attack vectors).
    #[error("DOCTYPE declarations are not allowed")]
    Dtd,
    /// Nesting deeper than the limit.
    #[error("element nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Not well-formed, with quick-xml's explanation or ours.
    #[error("{0}")]
    Malformed(String),
}

/// Parses a complete document into its root element.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(input);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(format!("at byte {position}: {e}")))?;
        let ns = resolve(resolved)?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::Malformed(
                    "a second element after the root element".to_owned(),
                ));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(element(&reader, &start, ns)?);
            }
            Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let done = element(&reader, &start, ns)?;
                close(&mut stack, &mut root, done);
            }
            Event::End(_) => {
                // check_end_names guarantees the end tag matches the open one.
                let done = stack.pop().ok_or_else(|| {
                    XmlError::Malformed(format!("at byte {position}: unexpected end tag"))
                })?;
                close(&mut stack, &mut root, done);
            }
            Event::Text(text) => {
                let text = text
                    .xml_content()
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(cdata) => {
                let text = cdata
                    .xml_content()
                    .map_err(|e| XmlError::Malformed(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|e| XmlError::Malformed(e.to_string()))?
                {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = reference
                            .decode()
                            .map_err(|e| XmlError::Malformed(e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                XmlError::Malformed(format!("undefined entity '&{name};'"))
                            })?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed(
            "document ends inside an element".to_owned(),
        ));
    }
    root.ok_or_else(|| XmlError::Malformed("document has no root element".to_owned()))
}

fn resolve(result: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match result {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "namespace prefix '{}' is not declared",
            String::from_utf8_lossy(&prefix)
        ))),
    }
}

fn element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    ns: Option<String>,
) -> Result<Element, XmlError> {
    let local = utf8(start.local_name().as_ref())?;
    let mut attrs = Vec::new();
    let mut ns_decls = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
        if let Some(binding) = attr.key.as_namespace_binding() {
            let prefix = match binding {
                PrefixDeclaration::Default => String::new(),
                PrefixDeclaration::Named(prefix) => utf8(prefix)?,
            };
            let uri = attr
                .unescape_value()
                .map_err(|e| XmlError::Malformed(e.to_string()))?
                .into_owned();
            ns_decls.push((prefix, uri));
            continue;
        }
        let (attr_ns, attr_local) = reader.resolve_attribute(attr.key);
        let attr_ns = resolve(attr_ns)?;
        let value = attr
            .unescape_value()
            .map_err(|e| XmlError::Malformed(e.to_string()))?
            .into_owned();
        attrs.push((attr_ns, utf8(attr_local.as_ref())?, value));
    }
    Ok(Element {
        ns,
        local,
        attrs,
        ns_decls,
        children: Vec::new(),
        text: String::new(),
    })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, done: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => *root = Some(done),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(current) => {
            current.text.push_str(text);
            Ok(())
        }
        // Whitespace between the prolog and the root is allowed; anything else is not.
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed(
            "character data outside the root element".to_owned(),
        )),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, XmlError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| XmlError::Malformed("a name is not valid UTF-8".to_owned()))
}

/// Appends `text` escaped for element content. `\r` becomes a character
/// reference so that it survives the parser's end-of-line normalisation.
pub fn escape_text_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            other => out.push(other),
        }
    }
}

/// Appends `text` escaped for a double-quoted attribute value (whitespace
/// other than a plain space is kept as references, which attribute-value
/// normalisation would otherwise turn into spaces).
pub fn escape_attr_into(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            other => out.push(other),
        }
    }
}

/// A string builder for XML with escaping helpers. Callers open and close
/// elements in order; names are trusted (they come from the emulator's own
/// definitions), text and attribute values are escaped.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// A writer that starts with the XML declaration.
    pub fn with_declaration() -> Self {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        }
    }

    /// Opens `<name a="v" ...>`.
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push('>');
        self
    }

    /// Writes `<name a="v" .../>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push_str("/>");
        self
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_attr_into(&mut self.out, value);
            self.out.push('"');
        }
    }

    /// Writes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Writes `<name>text</name>` (text escaped).
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name, &[]);
        self.text(text);
        self.close(name)
    }

    /// Writes escaped character data.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_text_into(&mut self.out, text);
        self
    }

    /// Writes `text` as CDATA, splitting any `]]>` inside it across two sections.
    pub fn cdata(&mut self, text: &str) -> &mut Self {
        self.out.push_str("<![CDATA[");
        self.out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
        self.out.push_str("]]>");
        self
    }

    /// Appends already-serialised XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    /// The document so far.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_resolves_default_and_prefixed_namespaces() {
        let doc = br#"<?xml version="1.0"?><s:Envelope xmlns:s="urn:s"><s:Body><Root xmlns="urn:m"><A x="1">t</A><B xmlns=""/></Root></s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:s", "Envelope"));
        let body = root.child("Body").unwrap();
        let payload = &body.children[0];
        assert!(payload.is("urn:m", "Root"));
        assert!(payload.child("A").unwrap().is("urn:m", "A"));
        assert_eq!(payload.child("A").unwrap().attr("x"), Some("1"));
        assert_eq!(payload.child("B").unwrap().ns, None);
    }

    #[test]
    fn parse_refuses_doctype() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#;
        assert_eq!(parse(doc), Err(XmlError::Dtd));
    }

    #[test]
    fn parse_refuses_undeclared_prefix_and_unclosed_elements() {
        assert!(matches!(parse(b"<p:x/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<x><y></x>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<x>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<x/><y/>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn parse_refuses_excessive_nesting() {
        let doc = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(doc.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn escaped_text_round_trips_through_parse() {
        let samples = [
            "Barnes & Noble Office <B2B>",
            "O'Brien \"Quality\" Fasteners",
            "Café Société ]]> Catering",
            "東京精密機器株式会社",
            "line1\r\nline2\ttab",
        ];
        for sample in samples {
            let mut w = XmlWriter::with_declaration();
            w.open("r", &[("a", sample)]).text(sample).close("r");
            let root = parse(w.finish().as_bytes()).unwrap();
            assert_eq!(root.text, sample);
            assert_eq!(root.attr("a"), Some(sample));

            let mut w = XmlWriter::default();
            w.open("r", &[]).cdata(sample).close("r");
            let cdata_root = parse(w.finish().as_bytes()).unwrap();
            // CDATA cannot carry a bare \r through end-of-line normalisation.
            assert_eq!(cdata_root.text, sample.replace("\r\n", "\n"));
        }
    }

    #[test]
    fn character_references_resolve() {
        let root = parse(b"<x>&#233;&#x6771;&amp;&lt;</x>").unwrap();
        assert_eq!(root.text, "\u{e9}\u{6771}&<");
    }
}
