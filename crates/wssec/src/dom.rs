//! The parsed envelope as WS-Security sees it: the SOAP parts that must occur exactly once, and
//! one document-wide index of ID attributes (wsu:Id, Id, ID, xml:id) that refuses duplicates,
//! so a `#id` reference can only ever mean one element.

use std::collections::HashMap;

use base64::Engine as _;

use super::c14n::{normalize_input, XML_NS};
use super::error::WsSecError;
use sedgate_as4::{EB3_NS, SOAP11_NS, SOAP12_NS, WSSE_NS, WSU_NS};
use sedgate_base::xml::{self as xml, Document, Element, XmlLimits};

/// Parse `soap` (BOM allowed) after XML line-end and attribute normalisation.
pub(crate) fn parse_normalized(soap: &[u8]) -> Result<(Vec<u8>, Document), WsSecError> {
    let soap = soap.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(soap);
    let text = normalize_input(soap).into_owned();
    let doc = xml::parse(&text, &XmlLimits::default())?;
    Ok((text, doc))
}

/// An element with its ancestors (outermost first), for namespace scope and position checks.
#[derive(Debug, Clone)]
pub(crate) struct Located<'a> {
    pub el: &'a Element,
    pub ancestors: Vec<&'a Element>,
}

/// Every ID-valued attribute in the document. A value used by two elements is refused.
pub(crate) fn id_index(root: &Element) -> Result<HashMap<&str, Located<'_>>, WsSecError> {
    fn walk<'a>(
        el: &'a Element,
        ancestors: &mut Vec<&'a Element>,
        index: &mut HashMap<&'a str, Located<'a>>,
    ) -> Result<(), WsSecError> {
        let mut own: Vec<&str> = Vec::new();
        for a in &el.attributes {
            let is_id = match a.ns.as_deref() {
                None => a.local == "Id" || a.local == "ID",
                Some(ns) => (ns == WSU_NS && a.local == "Id") || (ns == XML_NS && a.local == "id"),
            };
            if is_id && !own.contains(&a.value.as_str()) {
                own.push(&a.value);
            }
        }
        for id in own {
            let located = Located {
                el,
                ancestors: ancestors.clone(),
            };
            if index.insert(id, located).is_some() {
                return Err(WsSecError::DuplicateId { id: id.to_owned() });
            }
        }
        ancestors.push(el);
        for child in el.elements() {
            walk(child, ancestors, index)?;
        }
        ancestors.pop();
        Ok(())
    }
    let mut index = HashMap::new();
    walk(root, &mut Vec::new(), &mut index)?;
    Ok(index)
}

/// The SOAP elements a signature is about.
pub(crate) struct Envelope<'a> {
    pub envelope: &'a Element,
    pub soap_ns: &'static str,
    pub header: &'a Element,
    pub body: &'a Element,
    pub messaging: &'a Element,
    /// The one wsse:Security header block, if any.
    pub security: Option<&'a Element>,
}

fn count_descendants(el: &Element, ns: &str, local: &str) -> usize {
    el.elements()
        .map(|c| usize::from(c.is(ns, local)) + count_descendants(c, ns, local))
        .sum()
}

fn exactly_one<'a>(
    parent: &'a Element,
    ns: &str,
    local: &str,
    element: &'static str,
) -> Result<&'a Element, WsSecError> {
    let mut it = parent.elements().filter(|e| e.is(ns, local));
    match (it.next(), it.count()) {
        (Some(one), 0) => Ok(one),
        (None, _) => Err(WsSecError::Missing { element }),
        (Some(_), more) => Err(WsSecError::Count {
            element,
            count: more + 1,
        }),
    }
}

impl<'a> Envelope<'a> {
    /// One soap:Header, one soap:Body, exactly one eb:Messaging in the whole document (and it is
    /// a child of soap:Header), at most one wsse:Security (a child of soap:Header).
    pub fn locate(root: &'a Element) -> Result<Self, WsSecError> {
        let soap_ns = if root.is(SOAP12_NS, "Envelope") {
            SOAP12_NS
        } else if root.is(SOAP11_NS, "Envelope") {
            SOAP11_NS
        } else {
            return Err(WsSecError::NotSoapEnvelope);
        };
        let header = exactly_one(root, soap_ns, "Header", "soap:Header")?;
        let body = exactly_one(root, soap_ns, "Body", "soap:Body")?;
        let messaging_total = count_descendants(root, EB3_NS, "Messaging");
        let messaging = exactly_one(header, EB3_NS, "Messaging", "eb:Messaging")?;
        if messaging_total != 1 {
            return Err(WsSecError::Count {
                element: "eb:Messaging",
                count: messaging_total,
            });
        }
        let security_total = count_descendants(root, WSSE_NS, "Security");
        let security = match header.children_named(WSSE_NS, "Security").count() {
            0 if security_total == 0 => None,
            1 if security_total == 1 => header.child(WSSE_NS, "Security"),
            _ => {
                return Err(WsSecError::Count {
                    element: "wsse:Security",
                    count: security_total,
                })
            }
        };
        Ok(Self {
            envelope: root,
            soap_ns,
            header,
            body,
            messaging,
            security,
        })
    }
}

/// Element text as base64 (white space ignored).
pub(crate) fn base64_text(el: &Element, element: &'static str) -> Result<Vec<u8>, WsSecError> {
    let text: String = el.text().split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| WsSecError::Base64 { element })
}

/// Byte offset just after the start tag of `el` in `text` (the text `el` was parsed from).
/// Errors if the element is empty (`<x/>`), since nothing can be inserted into it.
pub(crate) fn after_start_tag(text: &[u8], el: &Element) -> Result<usize, WsSecError> {
    let line_start = if el.line <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(el.line as usize - 2)
            .map(|(i, _)| i + 1)
            .ok_or_else(|| WsSecError::Unsignable("element position out of range".into()))?
    };
    let start = line_start + el.column as usize - 1;
    if text.get(start) != Some(&b'<') {
        return Err(WsSecError::Unsignable("element position mismatch".into()));
    }
    let mut quote = None;
    for (i, &b) in text.iter().enumerate().skip(start) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => {
                if text[i - 1] == b'/' {
                    return Err(WsSecError::Unsignable(format!("<{}/> is empty", el.local)));
                }
                return Ok(i + 1);
            }
            None => {}
        }
    }
    Err(WsSecError::Unsignable("start tag not closed".into()))
}

/// The `wsu:Id` (or another ID attribute) of an element.
pub(crate) fn id_of(el: &Element) -> Option<&str> {
    el.attr_ns(WSU_NS, "Id")
        .or_else(|| el.attr("Id"))
        .or_else(|| el.attr("ID"))
        .or_else(|| el.attr_ns(XML_NS, "id"))
}
