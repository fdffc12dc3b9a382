//! Verifying an incoming signed envelope. Defences against signature wrapping: `#id` references
//! resolve against one document-wide ID index that refuses duplicates; the eb:Messaging that is
//! signed must be the one eb:Messaging of soap:Header (and there is only one in the document);
//! references may only point at that eb:Messaging, soap:Body or children of the one
//! wsse:Security; every PartInfo and every MIME part is covered by exactly one `cid:` reference.
//! Only allow-listed algorithms and transforms are accepted.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::algorithms::{
    DigestAlg, SignatureAlg, ATTACHMENT_CONTENT_SIGNATURE, EXC_C14N, EXC_C14N_NS, X509V3, X509_SKI,
};
use super::c14n::{canonicalize, parse_prefix_list, scope_of};
use super::dom::{base64_text, id_index, parse_normalized, Envelope, Located};
use super::error::WsSecError;
use super::keys::Certificate;
use super::{AttachmentDigest, ReferenceTransform, SignedReference};
use sedgate_as4::{DSIG_NS, EB3_NS, WSSE_NS, WSU_NS};
use sedgate_base::xml::{Document, Element};

/// Most references a signature may carry (a header, a body and the attachments).
const MAX_REFERENCES: usize = 256;

/// When a signer certificate must be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateTime {
    At(DateTime<Utc>),
    /// Do not check the validity period (test vectors with long-expired certificates only).
    Unchecked,
}

#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
    pub time: CertificateTime,
    /// Certificates a KeyIdentifier (SKI) or X509IssuerSerial may designate. A
    /// BinarySecurityToken needs none. Which signer is acceptable is the caller's decision
    /// (trust anchors, IR entry): `Verified::signer_cert_der`.
    pub candidates: &'a [Certificate],
    /// Accept 1024-bit RSA signer keys (SHA-256/512 only). Off for real traffic; some test
    /// vectors were signed with such keys.
    pub allow_legacy_1024_bit_rsa: bool,
}

impl<'a> VerifyOptions<'a> {
    /// Certificates valid at `now`, 2048-bit keys or larger.
    pub fn at(now: DateTime<Utc>, candidates: &'a [Certificate]) -> Self {
        Self {
            time: CertificateTime::At(now),
            candidates,
            allow_legacy_1024_bit_rsa: false,
        }
    }
}

/// A verified signature: who signed, and what was digested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub signer_cert_der: Vec<u8>,
    pub references: Vec<SignedReference>,
}

/// Verify the signature of `soap` (the root part's exact bytes) over its header, body and the
/// given attachments (after decryption, i.e. as signed).
pub fn verify_envelope(
    soap: &[u8],
    attachments: &[AttachmentDigest<'_>],
    options: &VerifyOptions<'_>,
) -> Result<Verified, WsSecError> {
    let (_, doc) = parse_normalized(soap)?;
    verify_document(&doc, attachments, options)
}

/// The references the signature of `soap` claims, NOT verified: the digest algorithms and
/// values its attachments must have. A receiver digests attachments while they stream in,
/// verifies the envelope with these claimed values as the attachments' digests (which checks
/// the signature over exactly these values), then compares what it computed.
pub fn claimed_references(soap: &[u8]) -> Result<Vec<SignedReference>, WsSecError> {
    let (_, doc) = parse_normalized(soap)?;
    let env = Envelope::locate(&doc.root)?;
    let security = env.security.ok_or(WsSecError::NoSecurityHeader)?;
    let signature = security
        .child(DSIG_NS, "Signature")
        .ok_or(WsSecError::NoSignature)?;
    Ok(parse_signature(signature)?.references)
}

pub(crate) fn verify_document(
    doc: &Document,
    attachments: &[AttachmentDigest<'_>],
    options: &VerifyOptions<'_>,
) -> Result<Verified, WsSecError> {
    let env = Envelope::locate(&doc.root)?;
    let ids = id_index(&doc.root)?;
    let security = env.security.ok_or(WsSecError::NoSecurityHeader)?;
    let mut signatures = security.children_named(DSIG_NS, "Signature");
    let signature = signatures.next().ok_or(WsSecError::NoSignature)?;
    if signatures.next().is_some() {
        return Err(WsSecError::Count {
            element: "ds:Signature",
            count: security.children_named(DSIG_NS, "Signature").count(),
        });
    }
    let parsed = parse_signature(signature)?;

    // The signer, then the signature value over the canonical SignedInfo.
    let signer = resolve_signer(parsed.key_info, security, &ids, options.candidates)?;
    if let CertificateTime::At(now) = options.time {
        if !signer.valid_at(now) {
            return Err(WsSecError::CertificateExpired);
        }
    }
    let scope = scope_of(&[env.envelope, env.header, security, signature]);
    let signed_octets = canonicalize(parsed.signed_info, &scope, &parsed.c14n_prefixes);
    ring::signature::UnparsedPublicKey::new(
        parsed
            .algorithm
            .ring_verification(options.allow_legacy_1024_bit_rsa),
        signer.rsa_public_key_der(),
    )
    .verify(&signed_octets, &parsed.value)
    .map_err(|_| WsSecError::BadSignature)?;

    // Every reference: where it points, and its digest.
    let mut seen_uris = HashSet::new();
    let mut messaging_signed = false;
    let mut body_signed = false;
    let mut signed_cids = HashSet::new();
    for r in &parsed.references {
        if !seen_uris.insert(r.uri.as_str()) {
            return Err(WsSecError::DuplicateReference { uri: r.uri.clone() });
        }
        let actual = match &r.transform {
            ReferenceTransform::ExcC14n(prefixes) => {
                let id = r.uri.strip_prefix('#').unwrap_or_default();
                let Located { el, ancestors } = ids
                    .get(id)
                    .ok_or_else(|| WsSecError::UnresolvedReference { uri: r.uri.clone() })?;
                if std::ptr::eq(*el, env.messaging) {
                    messaging_signed = true;
                } else if std::ptr::eq(*el, env.body) {
                    body_signed = true;
                } else if !(ancestors.last().is_some_and(|p| std::ptr::eq(*p, security))
                    && (el.is(WSU_NS, "Timestamp") || el.is(WSSE_NS, "BinarySecurityToken")))
                {
                    return Err(WsSecError::ReferenceTarget {
                        uri: r.uri.clone(),
                        element: el.local.clone(),
                    });
                }
                r.digest_alg
                    .digest(&canonicalize(el, &scope_of(ancestors), prefixes))
            }
            ReferenceTransform::AttachmentContent => {
                let cid = r.uri.strip_prefix("cid:").unwrap_or_default();
                let attachment = attachments
                    .iter()
                    .find(|a| a.content_id == cid)
                    .ok_or_else(|| WsSecError::UnresolvedReference { uri: r.uri.clone() })?;
                signed_cids.insert(cid);
                attachment
                    .content
                    .digest(r.digest_alg)
                    .ok_or_else(|| WsSecError::DigestMismatch { uri: r.uri.clone() })?
            }
        };
        if actual != r.digest_value {
            return Err(WsSecError::DigestMismatch { uri: r.uri.clone() });
        }
    }
    if !messaging_signed {
        return Err(WsSecError::NotSigned {
            element: "eb:Messaging".into(),
        });
    }
    // An empty Body carries nothing; signing it is required as soon as it holds anything.
    let body_empty = env.body.elements().next().is_none() && env.body.text().trim().is_empty();
    if !body_signed && !body_empty {
        return Err(WsSecError::NotSigned {
            element: "soap:Body".into(),
        });
    }
    let mut given = HashSet::new();
    for a in attachments {
        if !given.insert(a.content_id) {
            return Err(WsSecError::DuplicateReference {
                uri: format!("cid:{}", a.content_id),
            });
        }
        if !signed_cids.contains(a.content_id) {
            return Err(WsSecError::NotSigned {
                element: format!("MIME part <{}>", a.content_id),
            });
        }
    }
    for href in part_info_hrefs(env.messaging) {
        let covered = href
            .strip_prefix("cid:")
            .is_some_and(|cid| signed_cids.contains(cid));
        if !covered {
            return Err(WsSecError::NotSigned {
                element: format!("eb:PartInfo {href}"),
            });
        }
    }
    Ok(Verified {
        signer_cert_der: signer.der().to_vec(),
        references: parsed.references,
    })
}

/// The PartInfo hrefs of the UserMessage(s) in eb:Messaging.
fn part_info_hrefs(messaging: &Element) -> Vec<String> {
    messaging
        .children_named(EB3_NS, "UserMessage")
        .flat_map(|um| um.children_named(EB3_NS, "PayloadInfo"))
        .flat_map(|pi| pi.children_named(EB3_NS, "PartInfo"))
        .map(|p| p.attr("href").unwrap_or_default().trim().to_owned())
        .collect()
}

struct ParsedSignature<'a> {
    signed_info: &'a Element,
    c14n_prefixes: Vec<Option<String>>,
    algorithm: SignatureAlg,
    references: Vec<SignedReference>,
    value: Vec<u8>,
    key_info: &'a Element,
}

fn algorithm_of<'a>(el: &'a Element, element: &'static str) -> Result<&'a str, WsSecError> {
    el.attr("Algorithm")
        .map(str::trim)
        .ok_or(WsSecError::Missing { element })
}

/// Children of `el` must be exactly these (ns, local) in order, each once.
fn exact_children<'a>(
    el: &'a Element,
    expected: &[(&str, &str)],
    element: &'static str,
) -> Result<Vec<&'a Element>, WsSecError> {
    let children: Vec<&Element> = el.elements().collect();
    let fits = children.len() == expected.len()
        && children
            .iter()
            .zip(expected)
            .all(|(c, (ns, local))| c.is(ns, local));
    if fits {
        Ok(children)
    } else {
        Err(WsSecError::Missing { element })
    }
}

/// An exc-c14n method/transform: no children but an optional ec:InclusiveNamespaces.
fn exc_c14n_prefixes(el: &Element) -> Result<Vec<Option<String>>, WsSecError> {
    let children: Vec<&Element> = el.elements().collect();
    match children.as_slice() {
        [] => Ok(Vec::new()),
        [inc] if inc.is(EXC_C14N_NS, "InclusiveNamespaces") => Ok(parse_prefix_list(
            inc.attr("PrefixList").unwrap_or_default(),
        )),
        _ => Err(WsSecError::Algorithm {
            element: "ds:Transform",
            uri: "(unexpected parameters)".into(),
        }),
    }
}

fn parse_signature(signature: &Element) -> Result<ParsedSignature<'_>, WsSecError> {
    let mut it = signature.elements();
    let (Some(signed_info), Some(value_el), Some(key_info), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(WsSecError::Missing {
            element: "ds:SignedInfo, ds:SignatureValue, ds:KeyInfo",
        });
    };
    if !(signed_info.is(DSIG_NS, "SignedInfo")
        && value_el.is(DSIG_NS, "SignatureValue")
        && key_info.is(DSIG_NS, "KeyInfo"))
    {
        return Err(WsSecError::Missing {
            element: "ds:SignedInfo, ds:SignatureValue, ds:KeyInfo",
        });
    }
    let mut si = signed_info.elements();
    let c14n = si
        .next()
        .filter(|e| e.is(DSIG_NS, "CanonicalizationMethod"))
        .ok_or(WsSecError::Missing {
            element: "ds:CanonicalizationMethod",
        })?;
    let c14n_uri = algorithm_of(c14n, "ds:CanonicalizationMethod/@Algorithm")?;
    if c14n_uri != EXC_C14N {
        return Err(WsSecError::Algorithm {
            element: "ds:CanonicalizationMethod",
            uri: c14n_uri.to_owned(),
        });
    }
    let c14n_prefixes = exc_c14n_prefixes(c14n)?;
    let method = si
        .next()
        .filter(|e| e.is(DSIG_NS, "SignatureMethod"))
        .ok_or(WsSecError::Missing {
            element: "ds:SignatureMethod",
        })?;
    let algorithm = SignatureAlg::from_uri(algorithm_of(method, "ds:SignatureMethod/@Algorithm")?)?;
    if method.elements().next().is_some() {
        return Err(WsSecError::Algorithm {
            element: "ds:SignatureMethod",
            uri: "(parameters)".into(),
        });
    }
    let mut references = Vec::new();
    for r in si {
        if !r.is(DSIG_NS, "Reference") {
            return Err(WsSecError::Missing {
                element: "ds:Reference",
            });
        }
        if references.len() == MAX_REFERENCES {
            return Err(WsSecError::Count {
                element: "ds:Reference",
                count: MAX_REFERENCES + 1,
            });
        }
        references.push(parse_reference(r)?);
    }
    if references.is_empty() {
        return Err(WsSecError::Missing {
            element: "ds:Reference",
        });
    }
    Ok(ParsedSignature {
        signed_info,
        c14n_prefixes,
        algorithm,
        references,
        value: base64_text(value_el, "ds:SignatureValue")?,
        key_info,
    })
}

/// A ds:Reference (also used for the references listed in a receipt's NRI).
pub(crate) fn parse_reference(r: &Element) -> Result<SignedReference, WsSecError> {
    let uri = r.attr("URI").unwrap_or_default().to_owned();
    let [transforms, digest_method, digest_value] = exact_children(
        r,
        &[
            (DSIG_NS, "Transforms"),
            (DSIG_NS, "DigestMethod"),
            (DSIG_NS, "DigestValue"),
        ],
        "ds:Transforms, ds:DigestMethod, ds:DigestValue",
    )?[..] else {
        return Err(WsSecError::Missing {
            element: "ds:Reference children",
        });
    };
    let transform_list: Vec<&Element> = transforms.elements().collect();
    let (transform, expected) = if uri.starts_with('#') && uri.len() > 1 {
        (EXC_C14N, "exclusive C14N")
    } else if uri.starts_with("cid:") && uri.len() > 4 {
        (
            ATTACHMENT_CONTENT_SIGNATURE,
            "Attachment-Content-Signature-Transform",
        )
    } else {
        return Err(WsSecError::ReferenceUri { uri });
    };
    let [only] = transform_list[..] else {
        return Err(WsSecError::Transforms { uri, expected });
    };
    if !only.is(DSIG_NS, "Transform") {
        return Err(WsSecError::Transforms { uri, expected });
    }
    let found = algorithm_of(only, "ds:Transform/@Algorithm")?;
    if found != transform {
        return Err(WsSecError::Algorithm {
            element: "ds:Transform",
            uri: found.to_owned(),
        });
    }
    let transform = if transform == EXC_C14N {
        ReferenceTransform::ExcC14n(exc_c14n_prefixes(only)?)
    } else {
        if only.elements().next().is_some() {
            return Err(WsSecError::Transforms { uri, expected });
        }
        ReferenceTransform::AttachmentContent
    };
    Ok(SignedReference {
        digest_alg: DigestAlg::from_uri(
            algorithm_of(digest_method, "ds:DigestMethod/@Algorithm")?,
            "ds:DigestMethod",
        )?,
        digest_value: base64_text(digest_value, "ds:DigestValue")?,
        uri,
        transform,
    })
}

/// The certificate ds:KeyInfo designates: a BinarySecurityToken of this security header, or a
/// candidate matched by SubjectKeyIdentifier or IssuerSerial.
fn resolve_signer(
    key_info: &Element,
    security: &Element,
    ids: &std::collections::HashMap<&str, Located<'_>>,
    candidates: &[Certificate],
) -> Result<Certificate, WsSecError> {
    let [str_el] = key_info.elements().collect::<Vec<_>>()[..] else {
        return Err(WsSecError::KeyReference(
            "ds:KeyInfo must hold one wsse:SecurityTokenReference".into(),
        ));
    };
    if !str_el.is(WSSE_NS, "SecurityTokenReference") {
        return Err(WsSecError::KeyReference(format!(
            "ds:KeyInfo holds {}",
            str_el.local
        )));
    }
    let [reference] = str_el.elements().collect::<Vec<_>>()[..] else {
        return Err(WsSecError::KeyReference(
            "wsse:SecurityTokenReference must hold one reference".into(),
        ));
    };
    if reference.is(WSSE_NS, "Reference") {
        let uri = reference.attr("URI").unwrap_or_default();
        let id = uri.strip_prefix('#').ok_or_else(|| {
            WsSecError::KeyReference(format!("token reference {uri:?} is not local"))
        })?;
        let Located { el, ancestors } =
            ids.get(id).ok_or_else(|| WsSecError::UnresolvedReference {
                uri: uri.to_owned(),
            })?;
        let in_security = ancestors.last().is_some_and(|p| std::ptr::eq(*p, security));
        if !(in_security && el.is(WSSE_NS, "BinarySecurityToken")) {
            return Err(WsSecError::KeyReference(
                "token reference must point at a BinarySecurityToken of this header".into(),
            ));
        }
        if el.attr("ValueType").is_some_and(|v| v != X509V3) {
            return Err(WsSecError::KeyReference(
                "BinarySecurityToken is not an X.509v3 certificate".into(),
            ));
        }
        let der = base64_text(el, "wsse:BinarySecurityToken")?;
        return Certificate::from_der(&der);
    }
    if reference.is(WSSE_NS, "KeyIdentifier") {
        if reference.attr("ValueType") != Some(X509_SKI) {
            return Err(WsSecError::KeyReference(format!(
                "KeyIdentifier type {:?}",
                reference.attr("ValueType").unwrap_or_default()
            )));
        }
        let ski = base64_text(reference, "wsse:KeyIdentifier")?;
        return candidates
            .iter()
            .find(|c| c.subject_key_identifier() == Some(ski.as_slice()))
            .cloned()
            .ok_or(WsSecError::SignerNotFound);
    }
    if reference.is(DSIG_NS, "X509Data") {
        let issuer_serial = reference
            .child(DSIG_NS, "X509IssuerSerial")
            .ok_or_else(|| WsSecError::KeyReference("ds:X509Data without IssuerSerial".into()))?;
        let name = issuer_serial
            .child(DSIG_NS, "X509IssuerName")
            .map(|e| e.text())
            .unwrap_or_default();
        let serial = issuer_serial
            .child(DSIG_NS, "X509SerialNumber")
            .map(|e| e.text())
            .unwrap_or_default();
        return candidates
            .iter()
            .find(|c| c.matches_issuer_serial(&name, &serial))
            .cloned()
            .ok_or(WsSecError::SignerNotFound);
    }
    Err(WsSecError::KeyReference(format!(
        "unsupported token reference {}",
        reference.local
    )))
}
