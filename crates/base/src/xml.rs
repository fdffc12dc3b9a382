//! A hardened XML reader: the only way untrusted XML enters sedgate.
//!
//! It refuses what XML attacks need (DOCTYPE and so entity definitions, external
//! references, entity references other than the five predefined ones) and enforces
//! limits on size, depth, attributes, names, text and node count *while* reading, so
//! a hostile document costs bounded time and memory. The result is a small owned tree
//! with resolved namespaces and source positions.

use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// Limits applied while reading. The defaults suit SEDs and SOAP headers.
#[derive(Debug, Clone)]
pub struct XmlLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_name_len: usize,
    /// Longest text node or attribute value, in bytes.
    pub max_text_len: usize,
    /// Most elements plus text nodes in one document.
    pub max_nodes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 5 * 1024 * 1024,
            max_depth: 64,
            max_attributes: 32,
            max_name_len: 128,
            max_text_len: 1024 * 1024,
            max_nodes: 200_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("document type declarations (DOCTYPE) are not allowed")]
    Doctype,
    #[error("entity reference &{0}; is not allowed (only the five predefined entities and character references)")]
    Entity(String),
    #[error("document is not valid UTF-8")]
    NotUtf8,
    #[error("encoding {0:?} is not supported: only UTF-8")]
    Encoding(String),
    #[error("document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("elements are nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes { limit: usize },
    #[error("a name is longer than {limit} bytes")]
    NameTooLong { limit: usize },
    #[error("a text node or attribute value is longer than {limit} bytes")]
    TextTooLong { limit: usize },
    #[error("document has more than {limit} nodes")]
    TooManyNodes { limit: usize },
    #[error("not well-formed at line {line}, column {column}: {message}")]
    Malformed {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("namespace prefix {0:?} is not declared")]
    UnboundPrefix(String),
    #[error("document has no root element")]
    Empty,
    #[error("content after the root element")]
    TrailingContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub root: Element,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub local: String,
    pub prefix: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Option<String>,
    pub local: String,
    pub prefix: Option<String>,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    pub children: Vec<Node>,
    /// 1-based position of the start tag.
    pub line: u32,
    pub column: u32,
    /// The `xmlns` / `xmlns:p` declarations made on this element: (prefix, uri).
    pub namespaces: Vec<(Option<String>, String)>,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// An attribute without a namespace.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The element's own text (not its descendants'), concatenated.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The element's text with surrounding white space removed.
    pub fn trimmed_text(&self) -> String {
        self.text().trim().to_owned()
    }
}

/// Byte offsets of line starts, to turn reader positions into line/column.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self(starts)
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.0.partition_point(|&start| start <= offset).max(1);
        let column = offset - self.0[line - 1] + 1;
        (saturating_u32(line), saturating_u32(column))
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads `bytes` as a UTF-8 XML document under `limits`.
pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<Document, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    Parser::new(text, limits).run()
}

struct Parser<'a> {
    reader: NsReader<&'a [u8]>,
    lines: LineIndex,
    limits: &'a XmlLimits,
    stack: Vec<Element>,
    nodes: usize,
    root: Option<Element>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: &'a XmlLimits) -> Self {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Self {
            reader,
            lines: LineIndex::new(text),
            limits,
            stack: Vec::new(),
            nodes: 0,
            root: None,
        }
    }

    fn malformed(&self, offset: u64, message: impl ToString) -> XmlError {
        let (line, column) = self
            .lines
            .position(usize::try_from(offset).unwrap_or(usize::MAX));
        XmlError::Malformed {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn count_node(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn run(mut self) -> Result<Document, XmlError> {
        loop {
            let start_offset = self.reader.buffer_position();
            let event = self.reader.read_resolved_event();
            let (ns, event) = match event {
                Ok((resolved, event)) => (resolve_ns(resolved)?, event),
                Err(e) => return Err(self.map_reader_error(e)),
            };
            match event {
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Decl(decl) => {
                    if let Some(Ok(enc)) = decl.encoding() {
                        let enc = String::from_utf8_lossy(&enc).into_owned();
                        if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                            return Err(XmlError::Encoding(enc));
                        }
                    }
                }
                Event::Start(start) => {
                    let element = self.open(ns.clone(), &start, start_offset)?;
                    self.stack.push(element);
                    if self.stack.len() > self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            limit: self.limits.max_depth,
                        });
                    }
                }
                Event::Empty(start) => {
                    let element = self.open(ns.clone(), &start, start_offset)?;
                    if self.stack.len() + 1 > self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            limit: self.limits.max_depth,
                        });
                    }
                    self.close(element)?;
                }
                Event::End(_) => match self.stack.pop() {
                    Some(element) => self.close(element)?,
                    None => return Err(self.malformed(start_offset, "unexpected end tag")),
                },
                Event::Text(text) => {
                    let value = text.unescape().map_err(|e| self.map_reader_error(e))?;
                    self.text(&value, start_offset)?;
                }
                Event::CData(data) => {
                    let raw = data.into_inner();
                    let value = std::str::from_utf8(&raw).map_err(|_| XmlError::NotUtf8)?;
                    self.text(value, start_offset)?;
                }
                // Comments and processing instructions carry nothing we use.
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            let offset = self.reader.buffer_position();
            return Err(self.malformed(offset, "document ends inside an element"));
        }
        self.root
            .map(|root| Document { root })
            .ok_or(XmlError::Empty)
    }

    fn text(&mut self, value: &str, offset: u64) -> Result<(), XmlError> {
        if value.len() > self.limits.max_text_len {
            return Err(XmlError::TextTooLong {
                limit: self.limits.max_text_len,
            });
        }
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(prev)) = parent.children.last_mut() {
                    if prev.len() + value.len() > self.limits.max_text_len {
                        return Err(XmlError::TextTooLong {
                            limit: self.limits.max_text_len,
                        });
                    }
                    prev.push_str(value);
                    return Ok(());
                }
                parent.children.push(Node::Text(value.to_owned()));
                self.count_node()
            }
            None if value.trim().is_empty() => Ok(()),
            None if self.root.is_some() => Err(XmlError::TrailingContent),
            None => Err(self.malformed(offset, "text outside the root element")),
        }
    }

    fn open(
        &mut self,
        ns: Option<String>,
        start: &BytesStart<'_>,
        offset: u64,
    ) -> Result<Element, XmlError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(XmlError::TrailingContent);
        }
        self.count_node()?;
        let qname = start.name();
        if qname.as_ref().len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong {
                limit: self.limits.max_name_len,
            });
        }
        let local = utf8(qname.local_name().as_ref())?.to_owned();
        let prefix = qname
            .prefix()
            .map(|p| utf8(p.as_ref()).map(str::to_owned))
            .transpose()?;

        let mut attributes = Vec::new();
        let mut namespaces = Vec::new();
        for (count, attr) in start.attributes().enumerate() {
            if count >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let attr = attr.map_err(|e| self.malformed(offset, e))?;
            let key = attr.key;
            if key.as_ref().len() > self.limits.max_name_len {
                return Err(XmlError::NameTooLong {
                    limit: self.limits.max_name_len,
                });
            }
            if attr.value.len() > self.limits.max_text_len {
                return Err(XmlError::TextTooLong {
                    limit: self.limits.max_text_len,
                });
            }
            let value = attr
                .unescape_value()
                .map_err(|e| self.map_reader_error(e))?
                .into_owned();
            if let Some(binding) = key.as_namespace_binding() {
                let prefix = match binding {
                    quick_xml::name::PrefixDeclaration::Default => None,
                    quick_xml::name::PrefixDeclaration::Named(p) => Some(utf8(p)?.to_owned()),
                };
                namespaces.push((prefix, value));
                continue;
            }
            let (attr_ns, attr_local) = self.reader.resolve_attribute(key);
            attributes.push(Attribute {
                ns: resolve_ns(attr_ns)?,
                local: utf8(attr_local.as_ref())?.to_owned(),
                prefix: key
                    .prefix()
                    .map(|p| utf8(p.as_ref()).map(str::to_owned))
                    .transpose()?,
                value,
            });
        }
        let (line, column) = self
            .lines
            .position(usize::try_from(offset).unwrap_or(usize::MAX));
        Ok(Element {
            ns,
            local,
            prefix,
            attributes,
            children: Vec::new(),
            line,
            column,
            namespaces,
        })
    }

    fn close(&mut self, element: Element) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => {
                if self.root.is_some() {
                    return Err(XmlError::TrailingContent);
                }
                self.root = Some(element);
            }
        }
        Ok(())
    }

    fn map_reader_error(&self, error: quick_xml::Error) -> XmlError {
        match error {
            quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                XmlError::Entity(name)
            }
            quick_xml::Error::Encoding(_) => XmlError::NotUtf8,
            other => self.malformed(self.reader.error_position(), other),
        }
    }
}

fn resolve_ns(resolved: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(utf8(ns.as_ref())?.to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::UnboundPrefix(
            String::from_utf8_lossy(&prefix).into_owned(),
        )),
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)
}

/// Appends `s` escaped as XML character data.
pub fn escape_text_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Appends `s` escaped for a double-quoted XML attribute value.
pub fn escape_attr_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_default(xml: &str) -> Result<Document, XmlError> {
        parse(xml.as_bytes(), &XmlLimits::default())
    }

    #[test]
    fn accepts_namespaced_document_with_positions() {
        let doc = parse_default(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a:root xmlns:a=\"urn:a\" xmlns=\"urn:d\" id=\"1\">\n  <child a:x=\"&lt;y&gt;\">t&amp;&#65;<![CDATA[<c>]]></child>\n</a:root>",
        )
        .unwrap();
        let root = &doc.root;
        assert!(root.is("urn:a", "root"));
        assert_eq!(root.attr("id"), Some("1"));
        assert_eq!((root.line, root.column), (2, 1));
        assert_eq!(root.namespaces.len(), 2);
        let child = root.child("urn:d", "child").unwrap();
        assert_eq!((child.line, child.column), (3, 3));
        assert_eq!(child.attr_ns("urn:a", "x"), Some("<y>"));
        assert_eq!(child.text(), "t&A<c>");
    }

    #[test]
    fn refuses_doctype_and_xxe() {
        let xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
        assert_eq!(parse_default(xxe), Err(XmlError::Doctype));
    }

    #[test]
    fn refuses_billion_laughs() {
        let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            doc.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            ));
        }
        doc.push_str("]><lolz>&lol9;</lolz>");
        assert_eq!(parse_default(&doc), Err(XmlError::Doctype));
    }

    #[test]
    fn refuses_undeclared_entity_reference() {
        assert_eq!(
            parse_default("<r>&foo;</r>"),
            Err(XmlError::Entity("foo".into()))
        );
    }

    #[test]
    fn refuses_deep_nesting_in_bounded_memory() {
        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        assert_eq!(parse_default(&deep), Err(XmlError::TooDeep { limit: 64 }));
    }

    #[test]
    fn refuses_over_limits() {
        let limits = XmlLimits {
            max_bytes: 100,
            ..XmlLimits::default()
        };
        assert_eq!(
            parse(&[b' '; 101], &limits),
            Err(XmlError::TooLarge { limit: 100 })
        );
        let attrs: String = (0..40).map(|i| format!(" a{i}=\"1\"")).collect();
        assert_eq!(
            parse_default(&format!("<r{attrs}/>")),
            Err(XmlError::TooManyAttributes { limit: 32 })
        );
        let huge = "x".repeat(2 * 1024 * 1024);
        assert_eq!(
            parse_default(&format!("<r a=\"{huge}\"/>")),
            Err(XmlError::TextTooLong { limit: 1024 * 1024 })
        );
        let long_name = "n".repeat(200);
        assert_eq!(
            parse_default(&format!("<{long_name}/>")),
            Err(XmlError::NameTooLong { limit: 128 })
        );
    }

    #[test]
    fn refuses_non_utf8_and_other_encodings() {
        assert_eq!(
            parse(b"<r>\xff</r>", &XmlLimits::default()),
            Err(XmlError::NotUtf8)
        );
        assert_eq!(
            parse_default("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>"),
            Err(XmlError::Encoding("ISO-8859-1".into()))
        );
    }

    #[test]
    fn refuses_malformed_and_trailing_content() {
        assert!(matches!(
            parse_default("<a><b></a>"),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            parse_default("<a>"),
            Err(XmlError::Malformed { .. })
        ));
        assert_eq!(parse_default("<a/><b/>"), Err(XmlError::TrailingContent));
        assert_eq!(parse_default("  "), Err(XmlError::Empty));
        assert_eq!(
            parse_default("<p:a/>"),
            Err(XmlError::UnboundPrefix("p".into()))
        );
        assert!(matches!(
            parse_default("<a x=\"1\" x=\"2\"/>"),
            Err(XmlError::Malformed { .. })
        ));
    }

    #[test]
    fn accepts_bom_and_comments() {
        let doc = parse(
            b"\xEF\xBB\xBF<!-- c --><r><!-- d -->x</r>",
            &XmlLimits::default(),
        )
        .unwrap();
        assert_eq!(doc.root.text(), "x");
    }
}
