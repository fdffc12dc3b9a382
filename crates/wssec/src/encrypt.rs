//! Payload encryption per the eDelivery AS4 profile: each attachment AES-128-GCM encrypted
//! (IV ‖ ciphertext ‖ tag, Attachment-Ciphertext-Transform) under one content key, which is
//! wrapped for the recipient with RSA-OAEP (SHA-256, MGF1-SHA-256) in an xenc:EncryptedKey;
//! and decryption of such messages. Every decryption failure is the same EBMS:0102.

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::Digest as _;

use super::algorithms::{
    DigestAlg, AES128_GCM, ATTACHMENT_CIPHERTEXT, ATTACHMENT_CONTENT_ONLY, BASE64_BINARY,
    MGF1_SHA1, MGF1_SHA256, RSA_OAEP, RSA_OAEP_MGF1P, TOKEN_TYPE_ENCRYPTED_KEY, WSSE11_NS, X509V3,
    X509_SKI, XENC11_NS,
};
use super::dom::{after_start_tag, base64_text, id_index, parse_normalized, Envelope, Located};
use super::error::WsSecError;
use super::keys::{Certificate, PrivateKey};
use sedgate_as4::{Attachment, DSIG_NS, WSSE_NS, WSU_NS, XENC_NS};
use sedgate_base::xml::escape_attr_into;
use sedgate_base::xml::Element;

/// Content type of an encrypted MIME part.
pub const ENCRYPTED_PART_TYPE: &str = "application/octet-stream";
const AES128_KEY_LEN: usize = 16;
const GCM_TAG_LEN: usize = 16;

/// An attachment to encrypt: the octets as signed (compressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainPart<'a> {
    pub content_id: &'a str,
    /// The part's content type before encryption (kept in EncryptedData/@MimeType).
    pub mime_type: &'a str,
    pub body: &'a [u8],
}

/// An encrypted MIME part to send instead of the plain one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedPart {
    pub content_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A decrypted attachment: content type from EncryptedData/@MimeType.
pub type DecryptedPart = Attachment;

fn decryption(detail: impl Into<String>) -> WsSecError {
    WsSecError::Decryption(detail.into())
}

/// Encrypt `parts` for `recipient` and add the EncryptedKey and EncryptedData elements at the
/// start of the (signed) envelope's wsse:Security header.
pub fn encrypt_attachments(
    signed_soap: &[u8],
    parts: &[PlainPart<'_>],
    recipient: &Certificate,
) -> Result<(Vec<u8>, Vec<EncryptedPart>), WsSecError> {
    let (text, doc) = parse_normalized(signed_soap)?;
    let env = Envelope::locate(&doc.root)?;
    let security = env.security.ok_or(WsSecError::NoSecurityHeader)?;
    let rng = SystemRandom::new();
    let mut cek = [0u8; AES128_KEY_LEN];
    rng.fill(&mut cek).map_err(|_| WsSecError::Random)?;
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| WsSecError::Random)?);
    let oaep = oaep(DigestAlg::Sha256, Mgf::Sha256);
    let wrapped = recipient
        .rsa_public_key()?
        .encrypt(&mut rand::rngs::OsRng, oaep, &cek)
        .map_err(|e| WsSecError::Key(e.to_string()))?;

    let unique = uuid::Uuid::new_v4();
    let ek_id = format!("EK-{unique}");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut encrypted = Vec::with_capacity(parts.len());
    let mut data_xml = String::new();
    let mut refs = String::new();
    for (i, part) in parts.iter().enumerate() {
        let ed_id = format!("ED-{unique}-{i}");
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| WsSecError::Random)?;
        let mut body = Vec::with_capacity(NONCE_LEN + part.body.len() + GCM_TAG_LEN);
        body.extend_from_slice(&nonce);
        let mut sealed = part.body.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| WsSecError::Random)?;
        body.extend_from_slice(&sealed);
        encrypted.push(EncryptedPart {
            content_id: part.content_id.to_owned(),
            content_type: ENCRYPTED_PART_TYPE.to_owned(),
            body,
        });
        refs.push_str(&format!("<xenc:DataReference URI=\"#{ed_id}\"/>"));
        data_xml.push_str(&format!(
            "<xenc:EncryptedData xmlns:xenc=\"{XENC_NS}\" Id=\"{ed_id}\" MimeType=\""
        ));
        escape_attr_into(part.mime_type, &mut data_xml);
        data_xml.push_str(&format!(
            "\" Type=\"{ATTACHMENT_CONTENT_ONLY}\"><xenc:EncryptionMethod Algorithm=\"{AES128_GCM}\"/><ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><wsse:SecurityTokenReference xmlns:wsse11=\"{WSSE11_NS}\" wsse11:TokenType=\"{TOKEN_TYPE_ENCRYPTED_KEY}\"><wsse:Reference URI=\"#{ek_id}\"/></wsse:SecurityTokenReference></ds:KeyInfo><xenc:CipherData><xenc:CipherReference URI=\"cid:"
        ));
        escape_attr_into(part.content_id, &mut data_xml);
        data_xml.push_str(&format!(
            "\"><xenc:Transforms><ds:Transform xmlns:ds=\"{DSIG_NS}\" Algorithm=\"{ATTACHMENT_CIPHERTEXT}\"/></xenc:Transforms></xenc:CipherReference></xenc:CipherData></xenc:EncryptedData>"
        ));
    }
    // The recipient's certificate travels as a BinarySecurityToken that the EncryptedKey
    // references (as phase4 and the Python peer expect; IssuerSerial and SKI are read too).
    let bst_id = format!("X509-{unique}");
    let mut xml = format!(
        "<wsse:BinarySecurityToken xmlns:wsu=\"{WSU_NS}\" EncodingType=\"{BASE64_BINARY}\" ValueType=\"{X509V3}\" wsu:Id=\"{bst_id}\">{}</wsse:BinarySecurityToken>",
        b64.encode(recipient.der())
    );
    xml.push_str(&format!(
        "<xenc:EncryptedKey xmlns:xenc=\"{XENC_NS}\" Id=\"{ek_id}\"><xenc:EncryptionMethod Algorithm=\"{RSA_OAEP}\"><ds:DigestMethod xmlns:ds=\"{DSIG_NS}\" Algorithm=\"{}\"/><xenc11:MGF xmlns:xenc11=\"{XENC11_NS}\" Algorithm=\"{MGF1_SHA256}\"/></xenc:EncryptionMethod><ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><wsse:SecurityTokenReference><wsse:Reference URI=\"#{bst_id}\" ValueType=\"{X509V3}\"/></wsse:SecurityTokenReference></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList>{refs}</xenc:ReferenceList></xenc:EncryptedKey>",
        DigestAlg::Sha256.uri(),
        b64.encode(wrapped)
    ));
    xml.push_str(&data_xml);
    let at = after_start_tag(&text, security)?;
    let mut out = Vec::with_capacity(text.len() + xml.len());
    out.extend_from_slice(&text[..at]);
    out.extend_from_slice(xml.as_bytes());
    out.extend_from_slice(&text[at..]);
    Ok((out, encrypted))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mgf {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn oaep(digest: DigestAlg, mgf: Mgf) -> rsa::Oaep {
    fn boxed(alg: DigestAlg) -> Box<dyn sha2::digest::DynDigest + Send + Sync> {
        match alg {
            DigestAlg::Sha256 => Box::new(sha2::Sha256::new()),
            DigestAlg::Sha384 => Box::new(sha2::Sha384::new()),
            DigestAlg::Sha512 => Box::new(sha2::Sha512::new()),
        }
    }
    rsa::Oaep {
        digest: boxed(digest),
        mgf_digest: match mgf {
            // MGF1-SHA1 only as the mask function of rsa-oaep-mgf1p: no collision resistance
            // is needed there, and the vectors use it.
            Mgf::Sha1 => Box::new(sha1::Sha1::new()),
            Mgf::Sha256 => boxed(DigestAlg::Sha256),
            Mgf::Sha384 => boxed(DigestAlg::Sha384),
            Mgf::Sha512 => boxed(DigestAlg::Sha512),
        },
        label: None,
    }
}

/// The OAEP parameters of an EncryptedKey's EncryptionMethod (SHA-1 digests refused).
fn key_transport(method: &Element) -> Result<rsa::Oaep, WsSecError> {
    let uri = method.attr("Algorithm").unwrap_or_default();
    let mut digest = None;
    let mut mgf = Mgf::Sha1;
    for child in method.elements() {
        if child.is(DSIG_NS, "DigestMethod") {
            let alg = child.attr("Algorithm").unwrap_or_default();
            digest = Some(
                DigestAlg::from_uri(alg, "xenc:EncryptionMethod/ds:DigestMethod")
                    .map_err(|_| decryption(format!("OAEP digest {alg} not allowed")))?,
            );
        } else if child.is(XENC11_NS, "MGF") && uri == RSA_OAEP {
            mgf = match child.attr("Algorithm").unwrap_or_default() {
                MGF1_SHA1 => Mgf::Sha1,
                MGF1_SHA256 => Mgf::Sha256,
                "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Mgf::Sha384,
                "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Mgf::Sha512,
                other => return Err(decryption(format!("MGF {other} not allowed"))),
            };
        } else {
            return Err(decryption(format!(
                "unexpected {} in EncryptionMethod",
                child.local
            )));
        }
    }
    if uri != RSA_OAEP_MGF1P && uri != RSA_OAEP {
        return Err(decryption(format!("key transport {uri} not allowed")));
    }
    // Without ds:DigestMethod the OAEP digest defaults to SHA-1, which is refused.
    let digest = digest.ok_or_else(|| decryption("OAEP digest SHA-1 not allowed"))?;
    Ok(oaep(digest, mgf))
}

/// Does the EncryptedKey's KeyInfo designate our certificate?
fn designates(
    key_info: Option<&Element>,
    ours: &Certificate,
    ids: &std::collections::HashMap<&str, Located<'_>>,
) -> bool {
    let Some(reference) = key_info
        .and_then(|k| k.child(WSSE_NS, "SecurityTokenReference"))
        .and_then(|s| s.elements().next())
    else {
        return false;
    };
    if reference.is(DSIG_NS, "X509Data") {
        let Some(is) = reference.child(DSIG_NS, "X509IssuerSerial") else {
            return false;
        };
        let text = |local| {
            is.child(DSIG_NS, local)
                .map(|e| e.text())
                .unwrap_or_default()
        };
        return ours.matches_issuer_serial(&text("X509IssuerName"), &text("X509SerialNumber"));
    }
    if reference.is(WSSE_NS, "KeyIdentifier") && reference.attr("ValueType") == Some(X509_SKI) {
        return base64_text(reference, "wsse:KeyIdentifier")
            .is_ok_and(|ski| ours.subject_key_identifier() == Some(ski.as_slice()));
    }
    if reference.is(WSSE_NS, "Reference") {
        let id = reference
            .attr("URI")
            .unwrap_or_default()
            .trim_start_matches('#');
        return ids.get(id).is_some_and(|t| {
            t.el.is(WSSE_NS, "BinarySecurityToken")
                && t.el.attr("ValueType").is_none_or(|v| v == X509V3)
                && base64_text(t.el, "wsse:BinarySecurityToken").is_ok_and(|d| d == ours.der())
        });
    }
    false
}

/// Decrypt the attachments of an encrypted message with our key. Every attachment must be
/// covered by exactly one EncryptedData of the one EncryptedKey addressed to us. Returns the
/// attachments in the given order with plaintext bodies and their original content types.
pub fn decrypt_attachments(
    soap: &[u8],
    attachments: &[Attachment],
    key: &PrivateKey,
) -> Result<Vec<DecryptedPart>, WsSecError> {
    decrypt_inner(soap, attachments, key).map_err(|e| match e {
        WsSecError::Decryption(_) => e,
        other => WsSecError::Decryption(other.to_string()),
    })
}

fn decrypt_inner(
    soap: &[u8],
    attachments: &[Attachment],
    key: &PrivateKey,
) -> Result<Vec<DecryptedPart>, WsSecError> {
    let (_, doc) = parse_normalized(soap)?;
    let env = Envelope::locate(&doc.root)?;
    let ids = id_index(&doc.root)?;
    let security = env.security.ok_or(WsSecError::NoSecurityHeader)?;
    let keys: Vec<&Element> = security.children_named(XENC_NS, "EncryptedKey").collect();
    let [encrypted_key] = keys[..] else {
        return Err(decryption(format!(
            "{} EncryptedKey elements, expected one",
            keys.len()
        )));
    };
    if !designates(
        encrypted_key.child(DSIG_NS, "KeyInfo"),
        key.certificate(),
        &ids,
    ) {
        return Err(decryption("the EncryptedKey is not for our certificate"));
    }
    let method = encrypted_key
        .child(XENC_NS, "EncryptionMethod")
        .ok_or_else(|| decryption("EncryptedKey without EncryptionMethod"))?;
    let padding = key_transport(method)?;
    let cipher_value = encrypted_key
        .child(XENC_NS, "CipherData")
        .and_then(|c| c.child(XENC_NS, "CipherValue"))
        .ok_or_else(|| decryption("EncryptedKey without CipherValue"))?;
    let wrapped = base64_text(cipher_value, "xenc:CipherValue")?;
    let cek = key
        .rsa()
        .decrypt_blinded(&mut rand::rngs::OsRng, padding, &wrapped)
        .map_err(|_| decryption("content key does not unwrap"))?;
    if cek.len() != AES128_KEY_LEN {
        return Err(decryption("content key is not an AES-128 key"));
    }
    let aes = LessSafeKey::new(
        UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| decryption("bad content key"))?,
    );
    let ek_id = super::dom::id_of(encrypted_key);

    let mut out: Vec<Option<DecryptedPart>> = vec![None; attachments.len()];
    let list = encrypted_key
        .child(XENC_NS, "ReferenceList")
        .ok_or_else(|| decryption("EncryptedKey without ReferenceList"))?;
    for data_ref in list.elements() {
        if !data_ref.is(XENC_NS, "DataReference") {
            return Err(decryption(format!(
                "unexpected {} in ReferenceList",
                data_ref.local
            )));
        }
        let uri = data_ref.attr("URI").unwrap_or_default();
        let target = uri
            .strip_prefix('#')
            .and_then(|id| ids.get(id))
            .ok_or_else(|| decryption(format!("DataReference {uri} does not resolve")))?;
        let in_security = target
            .ancestors
            .last()
            .is_some_and(|p| std::ptr::eq(*p, security));
        if !(in_security && target.el.is(XENC_NS, "EncryptedData")) {
            return Err(decryption(format!(
                "{uri} is not an EncryptedData of this header"
            )));
        }
        let (index, part) = decrypt_data(target.el, ek_id, &aes, attachments)?;
        let slot = out
            .get_mut(index)
            .ok_or_else(|| decryption("attachment index"))?;
        if slot.is_some() {
            return Err(decryption("an attachment is encrypted twice"));
        }
        *slot = Some(part);
    }
    out.into_iter()
        .zip(attachments)
        .map(|(p, a)| {
            p.ok_or_else(|| {
                decryption(format!(
                    "attachment {:?} is not encrypted",
                    a.content_id.as_deref().unwrap_or_default()
                ))
            })
        })
        .collect()
}

/// Decrypt the attachment an EncryptedData points at: (its index, the plaintext part).
fn decrypt_data(
    data: &Element,
    ek_id: Option<&str>,
    aes: &LessSafeKey,
    attachments: &[Attachment],
) -> Result<(usize, DecryptedPart), WsSecError> {
    if data.attr("Type") != Some(ATTACHMENT_CONTENT_ONLY) {
        return Err(decryption("EncryptedData is not Attachment-Content-Only"));
    }
    let method = data
        .child(XENC_NS, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .unwrap_or_default();
    if method != AES128_GCM {
        return Err(decryption(format!("data encryption {method} not allowed")));
    }
    // If the EncryptedData names its key, it must be the EncryptedKey that lists it.
    if let Some(key_info) = data.child(DSIG_NS, "KeyInfo") {
        let named = key_info
            .child(WSSE_NS, "SecurityTokenReference")
            .and_then(|s| s.child(WSSE_NS, "Reference"))
            .and_then(|r| r.attr("URI"))
            .and_then(|u| u.strip_prefix('#'));
        if named.is_none() || named != ek_id {
            return Err(decryption("EncryptedData names another key"));
        }
    }
    let reference = data
        .child(XENC_NS, "CipherData")
        .and_then(|c| c.child(XENC_NS, "CipherReference"))
        .ok_or_else(|| decryption("EncryptedData without CipherReference"))?;
    let transforms: Vec<&Element> = reference
        .child(XENC_NS, "Transforms")
        .map(|t| t.elements().collect())
        .unwrap_or_default();
    match transforms[..] {
        [t] if t.is(DSIG_NS, "Transform") && t.attr("Algorithm") == Some(ATTACHMENT_CIPHERTEXT) => {
        }
        _ => {
            return Err(decryption(
                "CipherReference must use the Attachment-Ciphertext-Transform",
            ))
        }
    }
    let uri = reference.attr("URI").unwrap_or_default();
    let cid = uri
        .strip_prefix("cid:")
        .ok_or_else(|| decryption(format!("CipherReference {uri} is not cid:")))?;
    let index = attachments
        .iter()
        .position(|a| a.content_id.as_deref() == Some(cid))
        .ok_or_else(|| decryption(format!("no MIME part {cid}")))?;
    let attachment = &attachments[index];
    if attachment.body.len() < NONCE_LEN + GCM_TAG_LEN {
        return Err(decryption("ciphertext too short"));
    }
    let (nonce, sealed) = attachment.body.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| decryption("bad IV"))?;
    let mut buffer = sealed.to_vec();
    let plain_len = aes
        .open_in_place(nonce, Aad::empty(), &mut buffer)
        .map_err(|_| decryption("authentication tag does not verify"))?
        .len();
    buffer.truncate(plain_len);
    Ok((
        index,
        Attachment {
            content_id: attachment.content_id.clone(),
            content_type: data
                .attr("MimeType")
                .map(str::to_owned)
                .or_else(|| attachment.content_type.clone()),
            body: buffer,
        },
    ))
}
