//! Entry points for the cargo-fuzz targets in `fuzz/` (and their regression tests).
//!
//! Each takes arbitrary bytes, runs one untrusted-input parser the way the gateway does and
//! checks the invariants a crash-free run alone would not show (chunking does not change the
//! MIME result, what parses also re-parses). A panic here is a bug the fuzzer reports.

use crate::ir::import::{parse as parse_ir, ImportFormat};
use sedgate_as4::eessi::{payload_refs, read_user_message};
use sedgate_as4::gzip::{gunzip, GzipLimits};
use sedgate_as4::mime::{parse_all, MimeEvent, MimeLimits, MimeParser};
use sedgate_as4::{check_attachments, check_profile, parse_envelope, ProfileRules};
use sedgate_base::xml::{parse as parse_xml, XmlLimits};
use sedgate_wssec::{verify_envelope, CertificateTime, VerifyOptions};

/// Small limits so the fuzzer reaches them quickly.
fn small_xml_limits() -> XmlLimits {
    XmlLimits {
        max_bytes: 64 * 1024,
        max_depth: 16,
        max_attributes: 8,
        max_name_len: 64,
        max_text_len: 4096,
        max_nodes: 512,
    }
}

/// The hardened XML reader, with the default and with small limits.
pub fn xml(data: &[u8]) {
    let _ = parse_xml(data, &XmlLimits::default());
    if let Ok(doc) = parse_xml(data, &small_xml_limits()) {
        // Whatever passes small limits passes the default ones too.
        assert!(
            parse_xml(data, &XmlLimits::default()).is_ok(),
            "accepted under small limits but refused under default ones"
        );
        let _ = doc.root.text();
    }
}

/// The streaming MIME parser. Input: a Content-Type line, `\n`, then the body. The body is fed
/// whole and in chunks of a size taken from the first body byte; both must agree.
pub fn mime(data: &[u8]) {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let Ok(content_type) = std::str::from_utf8(&data[..nl]) else {
        return;
    };
    let body = &data[nl + 1..];
    let whole = parse_all(content_type, body);
    let chunk = usize::from(body.first().copied().unwrap_or(1)).max(1);
    let chunked = parse_chunked(content_type, body, chunk);
    match (&whole, &chunked) {
        (Ok(parts), Ok(streamed)) => {
            let flat: Vec<(bool, Vec<u8>)> =
                parts.iter().map(|p| (p.is_root, p.body.clone())).collect();
            assert_eq!(&flat, streamed, "chunking changed the parts");
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "chunk size {chunk} changed the verdict: whole {:?}, chunked {:?}",
            whole.as_ref().map(|p| p.len()),
            chunked.as_ref().map(|p| p.len())
        ),
    }
}

/// (is_root, body) of each part, parsing `body` in `chunk`-byte pieces.
fn parse_chunked(
    content_type: &str,
    body: &[u8],
    chunk: usize,
) -> Result<Vec<(bool, Vec<u8>)>, sedgate_as4::mime::MimeError> {
    let mut parser = MimeParser::new(content_type, MimeLimits::default())?;
    let mut events = Vec::new();
    for piece in body.chunks(chunk) {
        parser.feed(piece, &mut events)?;
    }
    parser.finish()?;
    let mut parts: Vec<(bool, Vec<u8>)> = Vec::new();
    for event in events {
        match event {
            MimeEvent::PartStart { is_root, .. } => parts.push((is_root, Vec::new())),
            MimeEvent::PartData(data) => {
                if let Some(p) = parts.last_mut() {
                    p.1.extend_from_slice(&data);
                }
            }
            MimeEvent::PartEnd => {}
        }
    }
    Ok(parts)
}

/// The AS4 header parser and the checks the inbound handler runs on a root part.
pub fn as4_header(data: &[u8]) {
    let Ok(envelope) = parse_envelope(data) else {
        return;
    };
    for rules in [ProfileRules::eessi(), ProfileRules::as4()] {
        let _ = check_profile(&envelope, &rules);
    }
    let _ = check_attachments(&envelope, &[Some("sed@x"), None]);
    for um in envelope.user_messages() {
        let _ = read_user_message(um);
        let _ = payload_refs(um);
    }
}

/// WS-Security signature verification of an envelope (references to attachments fail).
pub fn signature(data: &[u8]) {
    let options = VerifyOptions {
        time: CertificateTime::Unchecked,
        candidates: &[],
        allow_legacy_1024_bit_rsa: true,
    };
    let _ = verify_envelope(data, &[], &options);
}

/// IR import: the first byte picks the format, the rest is the file.
pub fn ir_import(data: &[u8]) {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let format = ImportFormat::ALL[usize::from(selector) % ImportFormat::ALL.len()];
    let _ = parse_ir(file, format);
    let _ = ImportFormat::detect("fuzz.json", file);
}

/// Capped gunzip: never more output than the limit, however the input is built.
pub fn gzip(data: &[u8]) {
    let limits = GzipLimits {
        max_output_bytes: 1024 * 1024,
        max_ratio: 100,
        ratio_free_bytes: 4096,
    };
    if let Ok(out) = gunzip(data, limits.clone()) {
        assert!(out.len() as u64 <= limits.max_output_bytes);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use sedgate_as4::mime::{build_multipart_with, MimeWriter, OutgoingPart};
    use sedgate_base::xml::{Element, Node};

    /// Every fixture the fuzzers start from passes through every entry point without a
    /// panic (and the MIME chunking oracle holds on real messages).
    #[test]
    fn seeds_run_clean_through_every_entry_point() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures");
        let mut seen = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                if data.len() > 512 * 1024 {
                    continue;
                }
                xml(&data);
                as4_header(&data);
                signature(&data);
                ir_import(&data);
                gzip(&data);
                mime(&data);
                seen += 1;
            }
        }
        assert!(seen > 100, "only {seen} fixtures found");
    }

    /// Regression inputs the fuzzers found: `tests/fixtures/fuzz/<target>/*`.
    #[test]
    fn fuzz_regressions_run_clean() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/fuzz");
        type Target = (&'static str, fn(&[u8]));
        let targets: [Target; 6] = [
            ("xml", xml),
            ("mime", mime),
            ("as4_header", as4_header),
            ("signature", signature),
            ("ir_import", ir_import),
            ("gzip", gzip),
        ];
        for (name, run) in targets {
            for entry in std::fs::read_dir(dir.join(name))
                .into_iter()
                .flatten()
                .flatten()
            {
                run(&std::fs::read(entry.path()).unwrap());
            }
        }
    }

    fn part_body() -> impl Strategy<Value = Vec<u8>> {
        // Bytes that stress the delimiter scanner: line breaks, dashes, prefixes of the
        // boundary; never the boundary itself.
        let piece = prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"--".to_vec()),
            Just(b"\r\n--b".to_vec()),
            Just(b"--bX".to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ];
        prop::collection::vec(piece, 0..12)
            .prop_map(|pieces| pieces.concat())
            .prop_filter("contains the boundary", |b| {
                !b.windows(5).any(|w| w == b"--bnd")
            })
    }

    proptest! {
        /// MimeWriter output parses back to the same parts, however it is chunked.
        #[test]
        fn mime_writer_output_parses_back(
            root in part_body(),
            bodies in prop::collection::vec(part_body(), 0..4),
            chunk in 1usize..64,
        ) {
            let writer = MimeWriter::with_boundary("bnd", "root@test");
            let parts: Vec<OutgoingPart> = bodies
                .iter()
                .enumerate()
                .map(|(i, b)| OutgoingPart {
                    content_id: format!("part{i}@test"),
                    content_type: "application/octet-stream".into(),
                    body: bytes::Bytes::from(b.clone()),
                })
                .collect();
            let (ct, chunks) = build_multipart_with(&writer, &root, &parts);
            let body: Vec<u8> = chunks.concat();
            let parsed = parse_all(&ct, &body).expect("parses");
            prop_assert_eq!(parsed.len(), 1 + bodies.len());
            prop_assert!(parsed[0].is_root);
            prop_assert_eq!(&parsed[0].body, &root);
            for (i, b) in bodies.iter().enumerate() {
                prop_assert_eq!(parsed[i + 1].headers.content_id.clone(), Some(format!("part{i}@test")));
                prop_assert_eq!(&parsed[i + 1].body, b);
            }
            let streamed = parse_chunked(&ct, &body, chunk).expect("parses in chunks");
            let whole: Vec<(bool, Vec<u8>)> = parsed.iter().map(|p| (p.is_root, p.body.clone())).collect();
            prop_assert_eq!(streamed, whole);
        }
    }

    #[derive(Debug, Clone)]
    struct Tree {
        name: String,
        attrs: Vec<(String, String)>,
        children: Vec<Child>,
    }

    #[derive(Debug, Clone)]
    enum Child {
        Text(String),
        Element(Tree),
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let name = "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}";
        let text = "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}\r]{1,20}";
        let attrs = prop::collection::btree_map(name, text, 0..3)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>());
        let leaf = (name, attrs.clone()).prop_map(|(name, attrs)| Tree {
            name,
            attrs,
            children: vec![],
        });
        leaf.prop_recursive(4, 24, 4, move |inner| {
            (
                name,
                attrs.clone(),
                prop::collection::vec(
                    prop_oneof![text.prop_map(Child::Text), inner.prop_map(Child::Element)],
                    0..4,
                ),
            )
                .prop_map(|(name, attrs, children)| Tree {
                    name,
                    attrs,
                    children,
                })
        })
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
            .replace('\t', "&#9;")
            .replace('\n', "&#10;")
    }

    fn write(t: &Tree, out: &mut String) {
        out.push('<');
        out.push_str(&t.name);
        for (k, v) in &t.attrs {
            out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        out.push('>');
        for c in &t.children {
            match c {
                Child::Text(s) => out.push_str(&escape(s)),
                Child::Element(e) => write(e, out),
            }
        }
        out.push_str(&format!("</{}>", t.name));
    }

    /// Adjacent text children merge into one text node when read back.
    fn same(t: &Tree, e: &Element) -> Result<(), String> {
        if e.local != t.name || e.ns.is_some() {
            return Err(format!("name {} vs {}", e.local, t.name));
        }
        let attrs: Vec<(String, String)> = e
            .attributes
            .iter()
            .map(|a| (a.local.clone(), a.value.clone()))
            .collect();
        if attrs != t.attrs {
            return Err(format!("attributes {attrs:?} vs {:?}", t.attrs));
        }
        let mut expected_text = String::new();
        let mut expected_elements = Vec::new();
        for c in &t.children {
            match c {
                Child::Text(s) => expected_text.push_str(s),
                Child::Element(el) => expected_elements.push(el),
            }
        }
        let text: String = e
            .children
            .iter()
            .filter_map(|n| match n {
                Node::Text(s) => Some(s.as_str()),
                Node::Element(_) => None,
            })
            .collect();
        if text != expected_text {
            return Err(format!("text {text:?} vs {expected_text:?}"));
        }
        let elements: Vec<&Element> = e.elements().collect();
        if elements.len() != expected_elements.len() {
            return Err("child count".into());
        }
        for (a, b) in expected_elements.iter().zip(elements) {
            same(a, b)?;
        }
        Ok(())
    }

    proptest! {
        /// Well-formed documents written from a tree read back as that tree.
        #[test]
        fn xml_documents_read_back_as_written(t in tree()) {
            let mut doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            write(&t, &mut doc);
            let parsed = parse_xml(doc.as_bytes(), &XmlLimits::default()).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
            same(&t, &parsed.root).map_err(|m| TestCaseError::fail(format!("{m}: {doc}")))?;
        }
    }
}
