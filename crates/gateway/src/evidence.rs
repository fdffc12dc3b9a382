//! Evidence of signed exchanges, re-verified from the stored bytes alone: the envelope's
//! signature (header, body and the recorded attachment digests), the receipt's signature
//! and its NonRepudiationInformation against that envelope's references, and both signers'
//! certificate chains to the trust anchors, all at the time the evidence was recorded.

use std::path::Path;

use base64::Engine as _;
use serde::Serialize;

use crate::store::{Evidence, EvidenceReference};
use crate::transport::MessageSecurity;
use sedgate_wssec::{
    self as wssec, AttachmentContent, AttachmentDigest, CertificateTime, DigestAlg,
};

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("stored reference {uri}: {message}")]
    Reference { uri: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    pub subject: String,
    pub fingerprint: String,
}

/// The outcome of re-verifying one evidence record.
#[derive(Debug, Clone, Serialize)]
pub struct Reverification {
    pub message_id: String,
    /// `out` (we sent the message) or `in` (we received it).
    pub direction: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// What was concluded when the exchange happened.
    pub recorded_verification: String,
    /// True when every check passed now and the exchange was accepted when it happened.
    pub verified: bool,
    pub message_signer: Option<Signer>,
    pub receipt_signer: Option<Signer>,
    pub references: Vec<EvidenceReference>,
    /// The first failed check, if any.
    pub error: Option<String>,
}

fn signer(der: &[u8]) -> Signer {
    Signer {
        subject: crate::transport::identity::from_der(der)
            .map(|i| i.subject)
            .unwrap_or_else(|e| format!("(unreadable: {e})")),
        fingerprint: crate::transport::identity::fingerprint(der),
    }
}

fn attachment_digests(
    references: &[EvidenceReference],
) -> Result<Vec<(String, DigestAlg, Vec<u8>)>, EvidenceError> {
    references
        .iter()
        .filter_map(|r| r.uri.strip_prefix("cid:").map(|cid| (cid, r)))
        .map(|(cid, r)| {
            let bad = |message: String| EvidenceError::Reference {
                uri: r.uri.clone(),
                message,
            };
            let alg = DigestAlg::from_uri(&r.digest_alg, "ds:DigestMethod")
                .map_err(|e| bad(e.to_string()))?;
            let value = base64::engine::general_purpose::STANDARD
                .decode(&r.digest)
                .map_err(|e| bad(e.to_string()))?;
            Ok((cid.to_owned(), alg, value))
        })
        .collect()
}

/// Re-verifies `evidence`; `security` supplies the trust anchors for the chain checks.
pub fn reverify(
    evidence: &Evidence,
    security: &MessageSecurity,
) -> Result<Reverification, EvidenceError> {
    let digests = attachment_digests(&evidence.references)?;
    let attachments: Vec<AttachmentDigest<'_>> = digests
        .iter()
        .map(|(cid, alg, value)| AttachmentDigest {
            content_id: cid,
            content: AttachmentContent::Digest {
                alg: *alg,
                value: value.clone(),
            },
        })
        .collect();
    let options = wssec::VerifyOptions {
        time: CertificateTime::At(evidence.at),
        candidates: &[],
        allow_legacy_1024_bit_rsa: false,
    };
    let mut report = Reverification {
        message_id: evidence.message_id.to_string(),
        direction: evidence.direction.as_str().to_owned(),
        recorded_at: evidence.at,
        recorded_verification: evidence.verification.clone(),
        verified: false,
        message_signer: None,
        receipt_signer: None,
        references: evidence.references.clone(),
        error: None,
    };
    let message = match wssec::verify_envelope(&evidence.envelope, &attachments, &options) {
        Ok(v) => v,
        Err(e) => {
            report.error = Some(format!("message signature: {e}"));
            return Ok(report);
        }
    };
    report.message_signer = Some(signer(&message.signer_cert_der));
    let Some(receipt) = &evidence.receipt else {
        report.error = Some("no receipt recorded".into());
        return Ok(report);
    };
    let receipt = match wssec::verify_receipt(
        receipt,
        evidence.message_id.as_str(),
        &message.references,
        &options,
    ) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("receipt: {e}"));
            return Ok(report);
        }
    };
    report.receipt_signer = Some(signer(&receipt.verified.signer_cert_der));
    for (what, der) in [
        ("message signer", &message.signer_cert_der),
        ("receipt signer", &receipt.verified.signer_cert_der),
    ] {
        if let Err(e) = security.check_chain(der, evidence.at) {
            report.error = Some(format!("{what}: {e}"));
            return Ok(report);
        }
    }
    if evidence.verification != "verified" {
        report.error = Some(format!("recorded as {}", evidence.verification));
        return Ok(report);
    }
    report.verified = true;
    Ok(report)
}

/// Writes `envelope.xml`, `receipt.xml` and `verification.json` of one record into `dir`.
pub fn export(
    dir: &Path,
    evidence: &Evidence,
    report: &Reverification,
) -> Result<Vec<std::path::PathBuf>, EvidenceError> {
    let write = |name: &str, bytes: &[u8]| -> Result<std::path::PathBuf, EvidenceError> {
        let path = dir.join(name);
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|source| EvidenceError::Write {
                path: path.display().to_string(),
                source,
            })?;
        Ok(path)
    };
    let mut written = vec![write("envelope.xml", &evidence.envelope)?];
    if let Some(receipt) = &evidence.receipt {
        written.push(write("receipt.xml", receipt)?);
    }
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    written.push(write("verification.json", &json)?);
    Ok(written)
}
