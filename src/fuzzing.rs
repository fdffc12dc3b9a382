//! Entry points for the cargo-fuzz targets in `fuzz/` (and their regression tests).
//!
//! Each takes arbitrary bytes, runs one untrusted-input parser the way the gateway does and
//! checks the invariants a crash-free run alone would not show (chunking does not change the
//! MIME result, what parses also re-parses). A panic here is a bug the fuzzer reports.

use crate::as4::eessi::{payload_refs, read_user_message};
use crate::as4::gzip::{gunzip, GzipLimits};
use crate::as4::mime::{parse_all, MimeEvent, MimeLimits, MimeParser};
use crate::as4::{check_attachments, check_profile, parse_envelope, ProfileRules};
use crate::ir::import::{parse as parse_ir, ImportFormat};
use crate::wssec::{verify_envelope, CertificateTime, VerifyOptions};
use crate::xml::{parse as parse_xml, XmlLimits};

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
) -> Result<Vec<(bool, Vec<u8>)>, crate::as4::mime::MimeError> {
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
