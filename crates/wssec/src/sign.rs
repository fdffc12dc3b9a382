//! Signing an outgoing envelope per the eDelivery AS4 profile: a wsse:Security header (first in
//! soap:Header) with a Timestamp, the signer's BinarySecurityToken and a ds:Signature
//! (RSA-SHA256, exclusive C14N) over eb:Messaging, soap:Body and every attachment.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use super::algorithms::{
    DigestAlg, SignatureAlg, ATTACHMENT_CONTENT_SIGNATURE, BASE64_BINARY, EXC_C14N, X509V3,
};
use super::c14n::{canonicalize, scope_of};
use super::dom::{after_start_tag, id_of, parse_normalized, Envelope};
use super::error::WsSecError;
use super::keys::PrivateKey;
use super::{AttachmentDigest, ReferenceTransform, SignedReference};
use sedgate_as4::{format_timestamp, DSIG_NS, SOAP12_NS, WSSE_NS, WSU_NS};
use sedgate_base::xml::Element;
use sedgate_base::xml::{escape_attr_into, escape_text_into};

/// How long the wsu:Timestamp says the message is fresh.
const TIMESTAMP_LIFETIME_MINUTES: i64 = 5;

/// A signed envelope and what was signed (kept as evidence; a receipt's NRI must list exactly
/// these references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    pub xml: Vec<u8>,
    pub references: Vec<SignedReference>,
    pub signature_value: Vec<u8>,
}

/// Sign a UserMessage envelope (as `as4::build_user_message` makes it) and its attachments.
/// Every attachment must be given (the octets as sent, i.e. compressed) and is referenced as
/// `cid:<content_id>`.
pub fn sign_user_message(
    envelope_xml: &[u8],
    attachments: &[AttachmentDigest<'_>],
    key: &PrivateKey,
    now: DateTime<Utc>,
) -> Result<SignedEnvelope, WsSecError> {
    sign_envelope(envelope_xml, attachments, key, now)
}

/// Sign any AS4 envelope with eb:Messaging and soap:Body carrying ID attributes (UserMessage
/// or signal).
pub fn sign_envelope(
    envelope_xml: &[u8],
    attachments: &[AttachmentDigest<'_>],
    key: &PrivateKey,
    now: DateTime<Utc>,
) -> Result<SignedEnvelope, WsSecError> {
    let (text, doc) = parse_normalized(envelope_xml)?;
    let env = Envelope::locate(&doc.root)?;
    if env.security.is_some() {
        return Err(WsSecError::Unsignable(
            "the envelope already has a wsse:Security header".into(),
        ));
    }
    let mut references = Vec::with_capacity(2 + attachments.len());
    for (el, ancestors, what) in [
        (
            env.messaging,
            vec![env.envelope, env.header],
            "eb:Messaging",
        ),
        (env.body, vec![env.envelope], "soap:Body"),
    ] {
        let id =
            id_of(el).ok_or_else(|| WsSecError::Unsignable(format!("{what} has no wsu:Id")))?;
        references.push(xml_reference(id, el, &ancestors));
    }
    for a in attachments {
        let alg = match &a.content {
            super::AttachmentContent::Bytes(_) => DigestAlg::Sha256,
            super::AttachmentContent::Digest { alg, .. } => *alg,
        };
        references.push(SignedReference {
            uri: format!("cid:{}", a.content_id),
            transform: ReferenceTransform::AttachmentContent,
            digest_alg: alg,
            digest_value: a.content.digest(alg).unwrap_or_default(),
        });
    }

    let soap_prefix = env.header.prefix.clone();
    let (head, tail) = security_header(
        soap_prefix.as_deref(),
        env.soap_ns,
        &references,
        key.certificate().der(),
        &uuid::Uuid::new_v4().to_string(),
        now,
    );
    let insert_at = after_start_tag(&text, env.header)?;
    let mut unsigned = Vec::with_capacity(text.len() + head.len() + tail.len() + 512);
    unsigned.extend_from_slice(&text[..insert_at]);
    unsigned.extend_from_slice(head.as_bytes());
    let value_at = unsigned.len();
    unsigned.extend_from_slice(tail.as_bytes());
    unsigned.extend_from_slice(&text[insert_at..]);

    // Canonicalise SignedInfo in its final place, so its namespace context is the real one.
    let signature_value = {
        let (_, doc) = parse_normalized(&unsigned)?;
        let env = Envelope::locate(&doc.root)?;
        let security = env
            .security
            .ok_or_else(|| WsSecError::Unsignable("security header not inserted".into()))?;
        let signature = security
            .child(DSIG_NS, "Signature")
            .ok_or(WsSecError::NoSignature)?;
        let signed_info = signature
            .child(DSIG_NS, "SignedInfo")
            .ok_or(WsSecError::Missing {
                element: "ds:SignedInfo",
            })?;
        let scope = scope_of(&[env.envelope, env.header, security, signature]);
        key.sign(
            SignatureAlg::RsaSha256,
            &canonicalize(signed_info, &scope, &[]),
        )?
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&signature_value);
    let mut xml = Vec::with_capacity(unsigned.len() + b64.len());
    xml.extend_from_slice(&unsigned[..value_at]);
    xml.extend_from_slice(b64.as_bytes());
    xml.extend_from_slice(&unsigned[value_at..]);
    Ok(SignedEnvelope {
        xml,
        references,
        signature_value,
    })
}

fn xml_reference(id: &str, el: &Element, ancestors: &[&Element]) -> SignedReference {
    let octets = canonicalize(el, &scope_of(ancestors), &[]);
    SignedReference {
        uri: format!("#{id}"),
        transform: ReferenceTransform::ExcC14n(Vec::new()),
        digest_alg: DigestAlg::Sha256,
        digest_value: DigestAlg::Sha256.digest(&octets),
    }
}

/// A ds:Reference element. `declare_ds` puts the ds namespace on it (outside ds:Signature).
pub(crate) fn write_reference(out: &mut String, r: &SignedReference, declare_ds: bool) {
    out.push_str("<ds:Reference");
    if declare_ds {
        out.push_str(&format!(" xmlns:ds=\"{DSIG_NS}\""));
    }
    out.push_str(" URI=\"");
    escape_attr_into(&r.uri, out);
    out.push_str("\"><ds:Transforms>");
    match &r.transform {
        ReferenceTransform::ExcC14n(prefixes) => {
            out.push_str(&format!("<ds:Transform Algorithm=\"{EXC_C14N}\""));
            if prefixes.is_empty() {
                out.push_str("/>");
            } else {
                let list: Vec<&str> = prefixes
                    .iter()
                    .map(|p| p.as_deref().unwrap_or("#default"))
                    .collect();
                out.push_str(&format!(
                    "><ec:InclusiveNamespaces xmlns:ec=\"{EXC_C14N}\" PrefixList=\""
                ));
                escape_attr_into(&list.join(" "), out);
                out.push_str("\"/></ds:Transform>");
            }
        }
        ReferenceTransform::AttachmentContent => {
            out.push_str(&format!(
                "<ds:Transform Algorithm=\"{ATTACHMENT_CONTENT_SIGNATURE}\"/>"
            ));
        }
    }
    out.push_str(&format!(
        "</ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference>",
        r.digest_alg.uri(),
        base64::engine::general_purpose::STANDARD.encode(&r.digest_value)
    ));
}

/// The wsse:Security header split where the SignatureValue goes.
/// `unique` makes the wsu:Ids of the token, signature and timestamp.
fn security_header(
    soap_prefix: Option<&str>,
    soap_ns: &str,
    references: &[SignedReference],
    cert_der: &[u8],
    unique: &str,
    now: DateTime<Utc>,
) -> (String, String) {
    let (bst_id, signature_id, timestamp_id) = (
        format!("X509-{unique}"),
        format!("SIG-{unique}"),
        format!("TS-{unique}"),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let (soap_decl, soap_p) = match soap_prefix {
        Some(p) => (String::new(), p.to_owned()),
        None => (format!(" xmlns:soap=\"{soap_ns}\""), "soap".to_owned()),
    };
    let must_understand = if soap_ns == SOAP12_NS { "true" } else { "1" };
    let mut h = String::with_capacity(4096);
    h.push_str(&format!(
        "<wsse:Security xmlns:wsse=\"{WSSE_NS}\" xmlns:wsu=\"{WSU_NS}\"{soap_decl} {soap_p}:mustUnderstand=\"{must_understand}\">"
    ));
    h.push_str(&format!(
        "<wsu:Timestamp wsu:Id=\"{timestamp_id}\"><wsu:Created>"
    ));
    escape_text_into(&format_timestamp(now), &mut h);
    h.push_str("</wsu:Created><wsu:Expires>");
    escape_text_into(
        &format_timestamp(now + Duration::minutes(TIMESTAMP_LIFETIME_MINUTES)),
        &mut h,
    );
    h.push_str("</wsu:Expires></wsu:Timestamp>");
    h.push_str(&format!(
        "<wsse:BinarySecurityToken EncodingType=\"{BASE64_BINARY}\" ValueType=\"{X509V3}\" wsu:Id=\"{bst_id}\">{}</wsse:BinarySecurityToken>",
        b64.encode(cert_der)
    ));
    h.push_str(&format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\" Id=\"{signature_id}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{}\"/>",
        SignatureAlg::RsaSha256.uri()
    ));
    for r in references {
        write_reference(&mut h, r, false);
    }
    h.push_str("</ds:SignedInfo><ds:SignatureValue>");
    let tail = format!(
        "</ds:SignatureValue><ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI=\"#{bst_id}\" ValueType=\"{X509V3}\"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>"
    );
    (h, tail)
}
