//! Exclusive XML Canonicalization 1.0 without comments (<http://www.w3.org/2001/10/xml-exc-c14n#>)
//! of one element subtree, over the tree of our hardened reader (`sedgate_base::xml`).
//!
//! Why our own and not libxml2's: the bytes that are digested must come from the same parse
//! that the rest of sedgate interprets (a second parser invites signature-wrapping through
//! parser differences), and our reader enforces the limits. The unit tests compare the output
//! with libxml2's `xmlC14NExecute` on the vectors.
//!
//! The tree does not keep what the XML processor would have normalised, so the input goes
//! through `normalize_input` first: XML 1.0 §2.11 line ends and §3.3.3 attribute-value
//! whitespace, applied to the raw text exactly as a conforming parser would (a character
//! reference such as `&#13;` stays a CR and is rendered `&#xD;`).

use std::borrow::Cow;

use sedgate_base::xml::{Element, Node};

pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Line-end normalisation everywhere, and tab/newline → space inside attribute values.
/// Returns the input unchanged when there is nothing to do.
pub(crate) fn normalize_input(input: &[u8]) -> Cow<'_, [u8]> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Content,
        Tag,
        Value(u8),
        Until(&'static [u8]),
    }
    let mut out = Vec::with_capacity(input.len());
    let mut state = State::Content;
    let mut i = 0;
    while i < input.len() {
        let mut b = input[i];
        if b == b'\r' {
            // CRLF and lone CR both become LF.
            if input.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            b = b'\n';
        }
        match state {
            State::Content => {
                if b == b'<' {
                    let rest = &input[i..];
                    state = if rest.starts_with(b"<!--") {
                        State::Until(b"-->")
                    } else if rest.starts_with(b"<![CDATA[") {
                        State::Until(b"]]>")
                    } else if rest.starts_with(b"<?") {
                        State::Until(b"?>")
                    } else {
                        State::Tag
                    };
                }
            }
            State::Tag => match b {
                b'"' | b'\'' => state = State::Value(b),
                b'>' => state = State::Content,
                _ => {}
            },
            State::Value(q) => {
                if b == q {
                    state = State::Tag;
                } else if b == b'\n' || b == b'\t' {
                    b = b' ';
                }
            }
            State::Until(end) => {
                // `end` is ASCII and never contains CR, so comparing raw input is exact.
                if input[..=i].ends_with(end) {
                    state = State::Content;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// Namespace bindings in scope: (prefix, uri), later entries win.
pub(crate) type NsScope = Vec<(Option<String>, String)>;

/// The namespace declarations of `ancestors` (outermost first), as the scope of their child.
pub(crate) fn scope_of(ancestors: &[&Element]) -> NsScope {
    ancestors
        .iter()
        .flat_map(|a| a.namespaces.iter().cloned())
        .collect()
}

fn lookup<'a>(scope: &'a [(Option<String>, String)], prefix: Option<&str>) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p.as_deref() == prefix)
        .map(|(_, u)| u.as_str())
}

/// The InclusiveNamespaces PrefixList: whitespace-separated prefixes, `#default` for the
/// default namespace.
pub(crate) fn parse_prefix_list(list: &str) -> Vec<Option<String>> {
    list.split_ascii_whitespace()
        .map(|p| (p != "#default").then(|| p.to_owned()))
        .collect()
}

/// Canonical form of `apex` and its descendants. `ancestor_scope` is the namespace scope
/// the apex sits in (`scope_of` its ancestors); `inclusive` the PrefixList.
pub fn canonicalize(
    apex: &Element,
    ancestor_scope: &[(Option<String>, String)],
    inclusive: &[Option<String>],
) -> Vec<u8> {
    let mut c = Canonicalizer {
        in_scope: ancestor_scope.to_vec(),
        rendered: Vec::new(),
        inclusive,
        out: String::new(),
    };
    c.element(apex);
    c.out.into_bytes()
}

struct Canonicalizer<'a> {
    in_scope: NsScope,
    /// Declarations rendered on output ancestors; the empty default is implicitly rendered.
    rendered: NsScope,
    inclusive: &'a [Option<String>],
    out: String,
}

impl Canonicalizer<'_> {
    fn element(&mut self, el: &Element) {
        let scope_mark = self.in_scope.len();
        let rendered_mark = self.rendered.len();
        self.in_scope.extend(el.namespaces.iter().cloned());

        // Visibly utilised prefixes with the namespace each is bound to here.
        let mut wanted: Vec<(Option<&str>, &str)> =
            vec![(el.prefix.as_deref(), el.ns.as_deref().unwrap_or(""))];
        for a in &el.attributes {
            if let (Some(p), Some(ns)) = (a.prefix.as_deref(), a.ns.as_deref()) {
                if p != "xml" {
                    wanted.push((Some(p), ns));
                }
            }
        }
        let mut decls: Vec<(Option<String>, String)> = Vec::new();
        let mut consider = |prefix: Option<&str>, uri: &str, rendered: &NsScope| {
            let already = lookup(rendered, prefix).unwrap_or("");
            if already != uri && !decls.iter().any(|(p, _)| p.as_deref() == prefix) {
                decls.push((prefix.map(str::to_owned), uri.to_owned()));
            }
        };
        for (prefix, uri) in wanted {
            consider(prefix, uri, &self.rendered);
        }
        for prefix in self.inclusive {
            if prefix.as_deref() == Some("xml") {
                continue;
            }
            if let Some(uri) = lookup(&self.in_scope, prefix.as_deref()) {
                let uri = uri.to_owned();
                consider(prefix.as_deref(), &uri, &self.rendered);
            }
        }
        decls.sort_by(|a, b| a.0.cmp(&b.0));

        let mut attrs: Vec<_> = el.attributes.iter().collect();
        attrs.sort_by(|a, b| {
            (a.ns.as_deref().unwrap_or(""), a.local.as_str())
                .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
        });

        let qname = qualified(el.prefix.as_deref(), &el.local);
        self.out.push('<');
        self.out.push_str(&qname);
        for (prefix, uri) in &decls {
            match prefix {
                Some(p) => {
                    self.out.push_str(" xmlns:");
                    self.out.push_str(p);
                }
                None => self.out.push_str(" xmlns"),
            }
            self.out.push_str("=\"");
            escape_attr(uri, &mut self.out);
            self.out.push('"');
        }
        for a in attrs {
            self.out.push(' ');
            self.out.push_str(&qualified(a.prefix.as_deref(), &a.local));
            self.out.push_str("=\"");
            escape_attr(&a.value, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
        self.rendered.extend(decls);
        for child in &el.children {
            match child {
                Node::Element(e) => self.element(e),
                Node::Text(t) => escape_text(t, &mut self.out),
            }
        }
        self.out.push_str("</");
        self.out.push_str(&qname);
        self.out.push('>');
        self.rendered.truncate(rendered_mark);
        self.in_scope.truncate(scope_mark);
    }
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}
