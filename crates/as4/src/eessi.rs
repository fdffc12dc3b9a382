//! The EESSI profile's use of the ebMS header: which values carry the case, the BUC,
//! the SED type and CDM version, and the institutions. Both directions live here so
//! that what sedgate sends is exactly what it reads.
//!
//! - From/To PartyId: the sending and receiving institutions (`CC:ID`), type
//!   `urn:eu:europa:ec:dgempl:eessi:ir`, role `...:ir:institution`.
//! - CollaborationInfo: Service `BusinessMessaging`, Action `Send`, ConversationId = case id.
//! - MessageProperties: `originalSender`, `finalRecipient` (the institutions, as in the
//!   eDelivery four-corner model), `BucType`, `SedType`, `CdmVersion`.
//! - PayloadInfo: the SED first (PartType `SED`), then attachments; every part gzip.

use chrono::{DateTime, Utc};

use super::error::As4Error;
use super::model::*;
// The profile's constants, so `as4::eessi` is the one place for EESSI values.
pub use super::model::eessi::*;
use sedgate_base::domain::{BucType, CaseId, CdmVersion, InstitutionId, MessageId, SedType};

pub const PROP_ORIGINAL_SENDER: &str = "originalSender";
pub const PROP_FINAL_RECIPIENT: &str = "finalRecipient";
pub const PROP_BUC: &str = "BucType";
pub const PROP_SED: &str = "SedType";
pub const PROP_CDM: &str = "CdmVersion";

/// What an EESSI UserMessage says about the SED it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SedHeaderInfo {
    pub message_id: MessageId,
    pub timestamp: DateTime<Utc>,
    pub case_id: CaseId,
    pub buc: BucType,
    pub sed_type: SedType,
    pub cdm: CdmVersion,
    pub sender: InstitutionId,
    pub receiver: InstitutionId,
    pub pmode: Option<String>,
}

/// A payload as announced in PayloadInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRef {
    pub content_id: String,
    pub mime_type: String,
    pub part_type: PartType,
}

/// The UserMessage for a SED and its payloads (all gzip-compressed).
pub fn user_message(info: &SedHeaderInfo, payloads: &[PayloadRef]) -> UserMessage {
    let mut message_info = MessageInfo::new(&info.message_id, info.timestamp);
    message_info.ref_to_message_id = None;
    UserMessage {
        mpc: None,
        message_info,
        party_info: PartyInfo {
            from: Party::new(PartyId::eessi(&info.sender), eessi::ROLE_INSTITUTION),
            to: Party::new(PartyId::eessi(&info.receiver), eessi::ROLE_INSTITUTION),
        },
        collaboration_info: CollaborationInfo {
            agreement_ref: info.pmode.as_ref().map(|p| AgreementRef {
                value: "urn:eu:europa:ec:dgempl:eessi:agreement".to_owned(),
                agreement_type: None,
                pmode: Some(p.clone()),
            }),
            service: Service {
                value: eessi::SERVICE.to_owned(),
                service_type: Some(eessi::SERVICE_TYPE.to_owned()),
            },
            action: eessi::ACTION_SEND.to_owned(),
            conversation_id: info.case_id.to_string(),
        },
        message_properties: vec![
            Property::new(PROP_ORIGINAL_SENDER, info.sender.as_str()),
            Property::new(PROP_FINAL_RECIPIENT, info.receiver.as_str()),
            Property::new(PROP_BUC, info.buc.as_str()),
            Property::new(PROP_SED, info.sed_type.as_str()),
            Property::new(PROP_CDM, info.cdm.as_str()),
        ],
        payload_info: payloads
            .iter()
            .map(|p| {
                PartInfo::attachment(
                    &p.content_id,
                    &PartProperties {
                        mime_type: p.mime_type.clone(),
                        compression_type: Some(GZIP_COMPRESSION.to_owned()),
                        part_type: Some(p.part_type),
                        character_set: None,
                    },
                )
            })
            .collect(),
    }
}

fn property<'a>(um: &'a UserMessage, name: &'static str) -> Result<&'a str, As4Error> {
    um.message_properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.trim())
        .ok_or(As4Error::MissingElement {
            element: match name {
                PROP_BUC => "eb:Property[@name='BucType']",
                PROP_SED => "eb:Property[@name='SedType']",
                PROP_CDM => "eb:Property[@name='CdmVersion']",
                _ => "eb:Property",
            },
        })
}

fn parsed<T: std::str::FromStr>(element: &'static str, value: &str) -> Result<T, As4Error> {
    value.parse().map_err(|_| As4Error::InvalidValue {
        element,
        value: value.to_owned(),
    })
}

/// Reads the EESSI values of a UserMessage that passed `check_profile`.
pub fn read_user_message(um: &UserMessage) -> Result<SedHeaderInfo, As4Error> {
    let party = |p: &Party, side: &'static str| -> Result<InstitutionId, As4Error> {
        let id = p.party_id().ok_or(As4Error::PartyIdCount {
            side,
            count: p.party_ids.len(),
        })?;
        parsed(
            if side == "From" {
                "eb:From/eb:PartyId"
            } else {
                "eb:To/eb:PartyId"
            },
            &id.value,
        )
    };
    let message_id = um.message_info.message_id.trim();
    Ok(SedHeaderInfo {
        message_id: message_id.parse().map_err(|_| As4Error::InvalidMessageId {
            element: "eb:MessageId",
            value: message_id.to_owned(),
        })?,
        timestamp: um
            .message_info
            .timestamp_utc()
            .ok_or_else(|| As4Error::InvalidTimestamp {
                value: um.message_info.timestamp.clone(),
            })?,
        case_id: parsed("eb:ConversationId", &um.collaboration_info.conversation_id)?,
        buc: parsed("eb:Property[@name='BucType']", property(um, PROP_BUC)?)?,
        sed_type: parsed("eb:Property[@name='SedType']", property(um, PROP_SED)?)?,
        cdm: parsed("eb:Property[@name='CdmVersion']", property(um, PROP_CDM)?)?,
        sender: party(&um.party_info.from, "From")?,
        receiver: party(&um.party_info.to, "To")?,
        pmode: um
            .collaboration_info
            .agreement_ref
            .as_ref()
            .and_then(|a| a.pmode.clone()),
    })
}

/// The payloads of a UserMessage in order, with their content ids and types.
pub fn payload_refs(um: &UserMessage) -> Result<Vec<PayloadRef>, As4Error> {
    um.payload_info
        .iter()
        .map(|p| {
            let content_id = p.content_id().ok_or_else(|| As4Error::ExternalPayload {
                href: p.href.clone().unwrap_or_default(),
            })?;
            Ok(PayloadRef {
                content_id: content_id.to_owned(),
                mime_type: p
                    .mime_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                part_type: p.part_type().unwrap_or(PartType::Attachment),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_user_message, check_profile, parse_envelope, ProfileRules};

    fn info() -> SedHeaderInfo {
        SedHeaderInfo {
            message_id: "abc@at.sedgate.test".parse().unwrap(),
            timestamp: Utc::now(),
            case_id: "case-42".parse().unwrap(),
            buc: "P_BUC_01".parse().unwrap(),
            sed_type: "P2000".parse().unwrap(),
            cdm: CdmVersion::V4_2,
            sender: "AT:9900".parse().unwrap(),
            receiver: "NO:NAVAT07".parse().unwrap(),
            pmode: Some("eessi-push".into()),
        }
    }

    #[test]
    fn accepts_its_own_user_message_under_the_eessi_profile() {
        let payloads = [
            PayloadRef {
                content_id: "sed@x".into(),
                mime_type: "application/xml".into(),
                part_type: PartType::Sed,
            },
            PayloadRef {
                content_id: "att1@x".into(),
                mime_type: "application/pdf".into(),
                part_type: PartType::Attachment,
            },
        ];
        let built = build_user_message(&user_message(&info(), &payloads));
        let env = parse_envelope(&built.xml).unwrap();
        check_profile(&env, &ProfileRules::eessi()).unwrap();
        let um = env.user_message().unwrap();
        let read = read_user_message(um).unwrap();
        let mut expected = info();
        // Timestamps travel with millisecond precision.
        expected.timestamp = read.timestamp;
        assert_eq!(read, expected);
        assert_eq!(payload_refs(um).unwrap(), payloads);
    }

    #[test]
    fn refuses_missing_sed_properties() {
        let mut um = user_message(&info(), &[]);
        um.message_properties.retain(|p| p.name != PROP_SED);
        assert!(matches!(
            read_user_message(&um),
            Err(As4Error::MissingElement { .. })
        ));
        let mut um = user_message(&info(), &[]);
        um.party_info.to.party_ids[0].value = "not-an-id".into();
        assert!(matches!(
            read_user_message(&um),
            Err(As4Error::InvalidValue { .. })
        ));
    }
}
