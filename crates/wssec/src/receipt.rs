//! Non-repudiation receipts: an eb:Receipt whose ebbp:NonRepudiationInformation lists the
//! ds:References (with digests) of the message it acknowledges, signed like a UserMessage; and
//! the sender's check of such a receipt against the message it sent.

use chrono::{DateTime, Utc};

use super::dom::{parse_normalized, Envelope};
use super::error::WsSecError;
use super::keys::PrivateKey;
use super::sign::{sign_envelope, write_reference, SignedEnvelope};
use super::verify::{parse_reference, verify_document, Verified, VerifyOptions};
use super::SignedReference;
use sedgate_as4::{build_receipt, MessageInfo, UserMessage, DSIG_NS, EB3_NS, EBBP_NS};

/// A signed receipt for `received` (whose signature gave `verified`). `info` gives the
/// receipt's own MessageId and Timestamp; RefToMessageId is set to the received MessageId.
pub fn build_signed_receipt(
    received: &UserMessage,
    verified: &Verified,
    info: &MessageInfo,
    key: &PrivateKey,
    now: DateTime<Utc>,
) -> Result<SignedEnvelope, WsSecError> {
    // as4::build_receipt writes a UserMessage copy as the receipt content (its unsigned form);
    // a signed receipt carries the NRI instead.
    let built = build_receipt(received, info);
    let xml = String::from_utf8(built.xml)
        .map_err(|_| WsSecError::Unsignable("receipt is not UTF-8".into()))?;
    let open = "<eb:Receipt>";
    let close = "</eb:Receipt>";
    let (Some(start), Some(end)) = (xml.find(open), xml.rfind(close)) else {
        return Err(WsSecError::Unsignable("receipt has no eb:Receipt".into()));
    };
    let mut nri = format!("<ebbp:NonRepudiationInformation xmlns:ebbp=\"{EBBP_NS}\">");
    for r in &verified.references {
        nri.push_str("<ebbp:MessagePartNRInformation>");
        write_reference(&mut nri, r, true);
        nri.push_str("</ebbp:MessagePartNRInformation>");
    }
    nri.push_str("</ebbp:NonRepudiationInformation>");
    let receipt = format!("{}{nri}{}", &xml[..start + open.len()], &xml[end..]);
    sign_envelope(receipt.as_bytes(), &[], key, now)
}

/// A receipt that verified against our sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub receipt_message_id: String,
    pub verified: Verified,
}

/// Verify `receipt_soap`: its own signature, that it is a Receipt for `sent_message_id`, and
/// that its NRI lists exactly the references of `sent` with the same digests.
pub fn verify_receipt(
    receipt_soap: &[u8],
    sent_message_id: &str,
    sent: &[SignedReference],
    options: &VerifyOptions<'_>,
) -> Result<VerifiedReceipt, WsSecError> {
    let (_, doc) = parse_normalized(receipt_soap)?;
    let verified = verify_document(&doc, &[], options)?;
    let env = Envelope::locate(&doc.root)?;
    let [signal] = env.messaging.elements().collect::<Vec<_>>()[..] else {
        return Err(WsSecError::NotAReceipt("eb:Messaging must hold one signal"));
    };
    if !signal.is(EB3_NS, "SignalMessage") {
        return Err(WsSecError::NotAReceipt("not a SignalMessage"));
    }
    let info = signal
        .child(EB3_NS, "MessageInfo")
        .ok_or(WsSecError::NotAReceipt("no eb:MessageInfo"))?;
    let receipt = signal
        .child(EB3_NS, "Receipt")
        .ok_or(WsSecError::NotAReceipt("no eb:Receipt"))?;
    let ref_to = info
        .child(EB3_NS, "RefToMessageId")
        .map(|e| e.trimmed_text())
        .unwrap_or_default();
    if ref_to != sent_message_id {
        return Err(WsSecError::ReceiptRef {
            expected: sent_message_id.to_owned(),
            found: ref_to,
        });
    }
    let nri =
        receipt
            .child(EBBP_NS, "NonRepudiationInformation")
            .ok_or(WsSecError::NriMismatch(
                "no NonRepudiationInformation".into(),
            ))?;
    let mut listed = Vec::new();
    for part in nri.elements() {
        if !part.is(EBBP_NS, "MessagePartNRInformation") {
            return Err(WsSecError::NriMismatch(format!(
                "unexpected {}",
                part.local
            )));
        }
        let reference = part
            .child(DSIG_NS, "Reference")
            .ok_or(WsSecError::NriMismatch("part without ds:Reference".into()))?;
        listed
            .push(parse_reference(reference).map_err(|e| WsSecError::NriMismatch(e.to_string()))?);
    }
    if listed.len() != sent.len() {
        return Err(WsSecError::NriMismatch(format!(
            "{} references listed, {} signed",
            listed.len(),
            sent.len()
        )));
    }
    for s in sent {
        let matches = listed.iter().filter(|l| l.uri == s.uri).collect::<Vec<_>>();
        match matches[..] {
            [one] if one.digest_alg == s.digest_alg && one.digest_value == s.digest_value => {}
            [_] => return Err(WsSecError::NriMismatch(format!("digest of {}", s.uri))),
            _ => {
                return Err(WsSecError::NriMismatch(format!(
                    "{} is listed {} times",
                    s.uri,
                    matches.len()
                )))
            }
        }
    }
    let receipt_message_id = info
        .child(EB3_NS, "MessageId")
        .map(|e| e.trimmed_text())
        .unwrap_or_default();
    Ok(VerifiedReceipt {
        receipt_message_id,
        verified,
    })
}
