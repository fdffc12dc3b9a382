//! Stand-in for `crate::xml` (being written on main) with the same API, so this module builds
//! and is tested now. When `crate::xml` lands, delete this file and change the one
//! `use xml_stopgap as xml;` line in `as4/mod.rs` to `use crate::xml;`.
//! It refuses DOCTYPE, non-predefined entities, character references and non-UTF-8 input, and
//! enforces the same limits, so the as4 tests behave the same on the real module.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

#[derive(Debug, Clone)]
pub struct XmlLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_name_len: usize,
    pub max_text_len: usize,
    pub max_nodes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_name_len: 256,
            max_text_len: 8 * 1024 * 1024,
            max_nodes: 200_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("DOCTYPE is not allowed")]
    Doctype,
    #[error("entity reference &{0}; is not allowed")]
    Entity(String),
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("unsupported encoding {0}")]
    Encoding(String),
    #[error("document larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("nesting deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("more than {limit} attributes")]
    TooManyAttributes { limit: usize },
    #[error("name longer than {limit}")]
    NameTooLong { limit: usize },
    #[error("text longer than {limit}")]
    TextTooLong { limit: usize },
    #[error("more than {limit} nodes")]
    TooManyNodes { limit: usize },
    #[error("malformed XML at {line}:{column}: {message}")]
    Malformed {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("unbound namespace prefix {0}")]
    UnboundPrefix(String),
    #[error("empty document")]
    Empty,
    #[error("content after the root element")]
    TrailingContent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Element,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub local: String,
    pub prefix: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub ns: Option<String>,
    pub local: String,
    pub prefix: Option<String>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Node>,
    pub line: u32,
    pub column: u32,
    pub namespaces: Vec<(Option<String>, String)>,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }
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
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

fn resolve(scopes: &[Vec<(Option<String>, String)>], prefix: Option<&str>) -> Option<String> {
    if prefix == Some("xml") {
        return Some(XML_NS.to_owned());
    }
    for scope in scopes.iter().rev() {
        for (p, uri) in scope.iter().rev() {
            if p.as_deref() == prefix {
                return if uri.is_empty() {
                    None
                } else {
                    Some(uri.clone())
                };
            }
        }
    }
    None
}

fn unescape(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .ok_or_else(|| XmlError::Entity(after.chars().take(16).collect()))?;
        let name = &after[..semi];
        out.push(match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            other => return Err(XmlError::Entity(other.to_owned())),
        });
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Builder<'l> {
    limits: &'l XmlLimits,
    stack: Vec<Element>,
    scopes: Vec<Vec<(Option<String>, String)>>,
    nodes: usize,
    root: Option<Element>,
}

impl Builder<'_> {
    fn count_node(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn start(&mut self, e: &BytesStart<'_>, line: u32, column: u32) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::TrailingContent);
        }
        self.count_node()?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let name = std::str::from_utf8(e.name().as_ref())
            .map_err(|_| XmlError::NotUtf8)?
            .to_owned();
        if name.len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong {
                limit: self.limits.max_name_len,
            });
        }
        let mut declared = Vec::new();
        let mut raw_attrs = Vec::new();
        for attr in e.attributes().with_checks(true) {
            let attr = attr.map_err(|err| XmlError::Malformed {
                line,
                column,
                message: err.to_string(),
            })?;
            if raw_attrs.len() + declared.len() >= self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                });
            }
            let key = std::str::from_utf8(attr.key.as_ref())
                .map_err(|_| XmlError::NotUtf8)?
                .to_owned();
            if key.len() > self.limits.max_name_len {
                return Err(XmlError::NameTooLong {
                    limit: self.limits.max_name_len,
                });
            }
            let raw = std::str::from_utf8(&attr.value).map_err(|_| XmlError::NotUtf8)?;
            let value = unescape(raw)?;
            if key == "xmlns" {
                declared.push((None, value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                declared.push((Some(p.to_owned()), value));
            } else {
                raw_attrs.push((key, value));
            }
        }
        self.scopes.push(declared.clone());
        let (prefix, local) = split_name(&name);
        let ns = resolve(&self.scopes, prefix);
        if prefix.is_some() && ns.is_none() {
            return Err(XmlError::UnboundPrefix(
                prefix.unwrap_or_default().to_owned(),
            ));
        }
        let mut attributes = Vec::with_capacity(raw_attrs.len());
        for (key, value) in raw_attrs {
            let (aprefix, alocal) = split_name(&key);
            let ans = match aprefix {
                None => None,
                Some(p) => Some(
                    resolve(&self.scopes, Some(p))
                        .ok_or_else(|| XmlError::UnboundPrefix(p.to_owned()))?,
                ),
            };
            attributes.push(Attribute {
                ns: ans,
                local: alocal.to_owned(),
                prefix: aprefix.map(str::to_owned),
                value,
            });
        }
        self.stack.push(Element {
            ns,
            local: local.to_owned(),
            prefix: prefix.map(str::to_owned),
            attributes,
            children: Vec::new(),
            line,
            column,
            namespaces: declared,
        });
        Ok(())
    }

    fn end(&mut self) -> Result<(), XmlError> {
        self.scopes.pop();
        let el = self.stack.pop().ok_or(XmlError::Empty)?;
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => self.root = Some(el),
        }
        Ok(())
    }

    fn text(&mut self, text: String) -> Result<(), XmlError> {
        if text.len() > self.limits.max_text_len {
            return Err(XmlError::TextTooLong {
                limit: self.limits.max_text_len,
            });
        }
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(prev)) = parent.children.last_mut() {
                    prev.push_str(&text);
                    if prev.len() > self.limits.max_text_len {
                        return Err(XmlError::TextTooLong {
                            limit: self.limits.max_text_len,
                        });
                    }
                    return Ok(());
                }
                parent.children.push(Node::Text(text));
                self.count_node()
            }
            None if text.trim().is_empty() => Ok(()),
            None => Err(XmlError::TrailingContent),
        }
    }
}

fn line_col(bytes: &[u8], pos: usize) -> (u32, u32) {
    let upto = &bytes[..pos.min(bytes.len())];
    let line = upto.iter().filter(|b| **b == b'\n').count() as u32 + 1;
    let col = upto.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
    (line, col)
}

pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<Document, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        scopes: Vec::new(),
        nodes: 0,
        root: None,
    };
    loop {
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|err| {
            let (line, column) = line_col(body, reader.error_position() as usize);
            XmlError::Malformed {
                line,
                column,
                message: err.to_string(),
            }
        })?;
        let (line, column) = line_col(body, pos);
        match event {
            Event::Start(e) => b.start(&e, line, column)?,
            Event::Empty(e) => {
                b.start(&e, line, column)?;
                b.end()?;
            }
            Event::End(_) => b.end()?,
            Event::Text(t) => {
                let raw = std::str::from_utf8(&t).map_err(|_| XmlError::NotUtf8)?;
                if b.stack.is_empty() {
                    if !raw.trim().is_empty() {
                        return Err(if b.root.is_some() {
                            XmlError::TrailingContent
                        } else {
                            XmlError::Malformed {
                                line,
                                column,
                                message: "text before the root element".into(),
                            }
                        });
                    }
                    continue;
                }
                b.text(unescape(raw)?)?;
            }
            Event::CData(t) => {
                let raw = std::str::from_utf8(&t).map_err(|_| XmlError::NotUtf8)?;
                b.text(raw.to_owned())?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(XmlError::Encoding(enc));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !b.stack.is_empty() {
        let (line, column) = line_col(body, body.len());
        return Err(XmlError::Malformed {
            line,
            column,
            message: "unexpected end of document".into(),
        });
    }
    b.root.map(|root| Document { root }).ok_or(XmlError::Empty)
}
