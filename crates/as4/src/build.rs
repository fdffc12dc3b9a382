//! Model values → SOAP 1.2 envelopes (UserMessage, Receipt, Error). eb:Messaging and soap:Body
//! carry `wsu:Id`s so the signing task can reference them; the output bytes are final (signing
//! inserts a wsse:Security header without touching them).

use super::model::*;
use sedgate_base::xml::{escape_attr_into, escape_text_into};

/// A built envelope and the ids a signature will reference (`#messaging_id`, `#body_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltEnvelope {
    pub xml: Vec<u8>,
    pub messaging_id: String,
    pub body_id: String,
}

struct Xml(String);

impl Xml {
    fn open(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) {
        self.0.push('<');
        self.0.push_str(name);
        for (k, v) in attrs {
            if let Some(v) = v {
                self.0.push(' ');
                self.0.push_str(k);
                self.0.push_str("=\"");
                escape_attr_into(v, &mut self.0);
                self.0.push('"');
            }
        }
        self.0.push('>');
    }
    fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }
    fn leaf(&mut self, name: &str, attrs: &[(&str, Option<&str>)], text: &str) {
        self.open(name, attrs);
        escape_text_into(text, &mut self.0);
        self.close(name);
    }
}

fn envelope(units: impl FnOnce(&mut Xml)) -> BuiltEnvelope {
    let id = uuid::Uuid::new_v4();
    let messaging_id = format!("messaging-{id}");
    let body_id = format!("body-{id}");
    let mut x = Xml(String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    x.open(
        "env:Envelope",
        &[
            ("xmlns:env", Some(SOAP12_NS)),
            ("xmlns:eb", Some(EB3_NS)),
            ("xmlns:wsu", Some(WSU_NS)),
        ],
    );
    x.open("env:Header", &[]);
    x.open(
        "eb:Messaging",
        &[
            ("env:mustUnderstand", Some("true")),
            ("wsu:Id", Some(&messaging_id)),
        ],
    );
    units(&mut x);
    x.close("eb:Messaging");
    x.close("env:Header");
    x.0.push_str(&format!("<env:Body wsu:Id=\"{body_id}\"/>"));
    x.close("env:Envelope");
    BuiltEnvelope {
        xml: x.0.into_bytes(),
        messaging_id,
        body_id,
    }
}

fn write_message_info(x: &mut Xml, info: &MessageInfo) {
    x.open("eb:MessageInfo", &[]);
    x.leaf("eb:Timestamp", &[], &info.timestamp);
    x.leaf("eb:MessageId", &[], &info.message_id);
    if let Some(r) = &info.ref_to_message_id {
        x.leaf("eb:RefToMessageId", &[], r);
    }
    x.close("eb:MessageInfo");
}

fn write_party(x: &mut Xml, name: &str, party: &Party) {
    x.open(name, &[]);
    for id in &party.party_ids {
        x.leaf(
            "eb:PartyId",
            &[("type", id.party_type.as_deref())],
            &id.value,
        );
    }
    x.leaf("eb:Role", &[], &party.role);
    x.close(name);
}

fn write_properties(x: &mut Xml, name: &str, props: &[Property]) {
    x.open(name, &[]);
    for p in props {
        x.leaf(
            "eb:Property",
            &[
                ("name", Some(&p.name)),
                ("type", p.property_type.as_deref()),
            ],
            &p.value,
        );
    }
    x.close(name);
}

fn write_user_message(x: &mut Xml, um: &UserMessage) {
    x.open("eb:UserMessage", &[("mpc", um.mpc.as_deref())]);
    write_message_info(x, &um.message_info);
    x.open("eb:PartyInfo", &[]);
    write_party(x, "eb:From", &um.party_info.from);
    write_party(x, "eb:To", &um.party_info.to);
    x.close("eb:PartyInfo");
    let c = &um.collaboration_info;
    x.open("eb:CollaborationInfo", &[]);
    if let Some(a) = &c.agreement_ref {
        x.leaf(
            "eb:AgreementRef",
            &[
                ("type", a.agreement_type.as_deref()),
                ("pmode", a.pmode.as_deref()),
            ],
            &a.value,
        );
    }
    x.leaf(
        "eb:Service",
        &[("type", c.service.service_type.as_deref())],
        &c.service.value,
    );
    x.leaf("eb:Action", &[], &c.action);
    x.leaf("eb:ConversationId", &[], &c.conversation_id);
    x.close("eb:CollaborationInfo");
    if !um.message_properties.is_empty() {
        write_properties(x, "eb:MessageProperties", &um.message_properties);
    }
    if !um.payload_info.is_empty() {
        x.open("eb:PayloadInfo", &[]);
        for part in &um.payload_info {
            x.open("eb:PartInfo", &[("href", part.href.as_deref())]);
            if !part.schemas.is_empty() {
                x.open("eb:Schemas", &[]);
                for s in &part.schemas {
                    x.open("eb:Schema", &[("location", Some(s))]);
                    x.close("eb:Schema");
                }
                x.close("eb:Schemas");
            }
            if !part.properties.is_empty() {
                write_properties(x, "eb:PartProperties", &part.properties);
            }
            x.close("eb:PartInfo");
        }
        x.close("eb:PayloadInfo");
    }
    x.close("eb:UserMessage");
}

/// A SOAP 1.2 envelope with one UserMessage (payloads go in MIME parts; the Body is empty).
pub fn build_user_message(um: &UserMessage) -> BuiltEnvelope {
    envelope(|x| write_user_message(x, um))
}

/// A Receipt for `received`. `info` gives the receipt's own MessageId and Timestamp; its
/// RefToMessageId is set to the received MessageId. The content is a copy of the UserMessage
/// (the form of an unsigned receipt); the signing task replaces it with
/// ebbp:NonRepudiationInformation.
pub fn build_receipt(received: &UserMessage, info: &MessageInfo) -> BuiltEnvelope {
    let mut info = info.clone();
    info.ref_to_message_id = Some(received.message_info.message_id.clone());
    envelope(|x| {
        x.open("eb:SignalMessage", &[]);
        write_message_info(x, &info);
        x.open("eb:Receipt", &[]);
        write_user_message(x, received);
        x.close("eb:Receipt");
        x.close("eb:SignalMessage");
    })
}

/// An Error signal. `info.ref_to_message_id` names the message in error, when known.
pub fn build_error(info: &MessageInfo, errors: &[EbmsError]) -> BuiltEnvelope {
    envelope(|x| {
        x.open("eb:SignalMessage", &[]);
        write_message_info(x, info);
        for e in errors {
            let ref_to = e
                .ref_to_message_in_error
                .as_deref()
                .or(info.ref_to_message_id.as_deref());
            x.open(
                "eb:Error",
                &[
                    ("errorCode", Some(&e.error_code)),
                    ("severity", Some(e.severity.as_str())),
                    ("category", e.category.as_deref()),
                    ("origin", e.origin.as_deref()),
                    ("shortDescription", e.short_description.as_deref()),
                    ("refToMessageInError", ref_to),
                ],
            );
            if let Some(d) = &e.description {
                x.leaf("eb:Description", &[("xml:lang", Some("en"))], d);
            }
            if let Some(d) = &e.error_detail {
                x.leaf("eb:ErrorDetail", &[], d);
            }
            x.close("eb:Error");
        }
        x.close("eb:SignalMessage");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{As4Error, EbmsCode};
    use crate::parse::{check_profile, parse_envelope, ProfileRules};
    use proptest::prelude::*;

    fn eessi_message(id: &str, conversation: &str) -> UserMessage {
        let party = |v: &str| {
            Party::new(
                PartyId {
                    value: v.to_owned(),
                    party_type: Some(eessi::PARTY_ID_TYPE.to_owned()),
                },
                eessi::ROLE_INSTITUTION,
            )
        };
        UserMessage {
            mpc: None,
            message_info: MessageInfo {
                timestamp: "2024-05-01T10:00:00.000Z".into(),
                message_id: id.into(),
                ref_to_message_id: None,
            },
            party_info: PartyInfo {
                from: party("AT:9900"),
                to: party("NO:NAVAT07"),
            },
            collaboration_info: CollaborationInfo {
                agreement_ref: None,
                service: Service {
                    value: eessi::SERVICE.into(),
                    service_type: Some(eessi::SERVICE_TYPE.into()),
                },
                action: eessi::ACTION_SEND.into(),
                conversation_id: conversation.into(),
            },
            message_properties: vec![],
            payload_info: vec![
                PartInfo::attachment(
                    "sed@sedgate",
                    &PartProperties {
                        mime_type: "application/xml".into(),
                        compression_type: Some(GZIP_COMPRESSION.into()),
                        part_type: Some(PartType::Sed),
                        character_set: Some("UTF-8".into()),
                    },
                ),
                PartInfo::attachment(
                    "att1@sedgate",
                    &PartProperties {
                        mime_type: "application/pdf".into(),
                        compression_type: Some(GZIP_COMPRESSION.into()),
                        part_type: Some(PartType::Attachment),
                        character_set: None,
                    },
                ),
            ],
        }
    }

    #[test]
    fn accepts_built_eessi_user_message_under_the_eessi_profile() {
        let um = eessi_message("a1@sedgate.at", "P_BUC_01-123");
        let built = build_user_message(&um);
        let env = parse_envelope(&built.xml).unwrap();
        assert_eq!(env.soap_version, SoapVersion::V12);
        assert_eq!(
            env.messaging_id.as_deref(),
            Some(built.messaging_id.as_str())
        );
        assert_eq!(env.body_id.as_deref(), Some(built.body_id.as_str()));
        assert_eq!(env.user_message(), Some(&um));
        check_profile(&env, &ProfileRules::eessi()).unwrap();
    }

    #[test]
    fn refuses_wrong_eessi_values_and_sed_not_first() {
        let mut um = eessi_message("a1@sedgate.at", "c1");
        um.payload_info.swap(0, 1);
        let env = parse_envelope(&build_user_message(&um).xml).unwrap();
        let err = check_profile(&env, &ProfileRules::eessi()).unwrap_err();
        assert!(matches!(err, As4Error::SedNotFirst { .. }), "{err}");
        let mut um = eessi_message("a1@sedgate.at", "c1");
        um.collaboration_info.action = "Other".into();
        let env = parse_envelope(&build_user_message(&um).xml).unwrap();
        let err = check_profile(&env, &ProfileRules::eessi()).unwrap_err();
        assert_eq!(err.code(), EbmsCode::ProcessingModeMismatch);
        check_profile(&env, &ProfileRules::as4()).unwrap();
    }

    #[test]
    fn builds_a_receipt_that_references_the_user_message() {
        let um = eessi_message("a1@sedgate.at", "c1");
        let info = MessageInfo {
            timestamp: "2024-05-01T10:00:01.000Z".into(),
            message_id: "r1@sedgate.no".into(),
            ref_to_message_id: None,
        };
        let env = parse_envelope(&build_receipt(&um, &info).xml).unwrap();
        check_profile(&env, &ProfileRules::eessi()).unwrap();
        let sm = env.signal_message().unwrap();
        assert_eq!(sm.message_info.message_id, "r1@sedgate.no");
        assert_eq!(
            sm.message_info.ref_to_message_id.as_deref(),
            Some("a1@sedgate.at")
        );
        let receipt = sm.receipt.as_ref().unwrap();
        assert!(receipt.has_user_message_copy);
        assert!(!receipt.non_repudiation);
        assert!(receipt
            .content_xml
            .contains("<eb:MessageId>a1@sedgate.at</eb:MessageId>"));
        assert!(receipt
            .content_xml
            .starts_with(&format!("<eb:UserMessage xmlns:eb=\"{EB3_NS}\"")));
    }

    #[test]
    fn builds_an_error_signal_from_an_as4_error() {
        let err = As4Error::UnsupportedCompression {
            found: "application/rar".into(),
        };
        let info = MessageInfo {
            timestamp: "2024-05-01T10:00:01.000Z".into(),
            message_id: "e1@sedgate.no".into(),
            ref_to_message_id: Some("a1@sedgate.at".into()),
        };
        let env = parse_envelope(&build_error(&info, &[EbmsError::from(&err)]).xml).unwrap();
        let sm = env.signal_message().unwrap();
        let e = &sm.errors[0];
        assert_eq!(e.error_code, "EBMS:0003");
        assert_eq!(e.code(), Some(EbmsCode::ValueInconsistent));
        assert_eq!(e.severity, Severity::Failure);
        assert_eq!(e.ref_to_message_in_error.as_deref(), Some("a1@sedgate.at"));
        assert!(e
            .description
            .as_deref()
            .unwrap()
            .contains("application/rar"));
    }

    fn value() -> impl Strategy<Value = String> {
        // Printable text incl. XML specials; no surrounding space (values are trimmed).
        "[A-Za-z0-9:@<>&\"'/._-][A-Za-z0-9 :@<>&\"'/._-]{0,20}[A-Za-z0-9]"
    }

    proptest! {
        #[test]
        fn build_then_parse_gives_the_same_user_message(
            id in "[a-z0-9-]{1,20}@[a-z.]{1,10}",
            conversation in value(),
            from in value(),
            to in value(),
            service in value(),
            service_type in proptest::option::of(value()),
            action in value(),
            pmode in proptest::option::of(value()),
            props in proptest::collection::vec((value(), value()), 0..3),
            parts in proptest::collection::vec((value(), value(), any::<bool>()), 0..3),
        ) {
            let mut um = eessi_message(&id, &conversation);
            um.party_info.from.party_ids[0].value = from;
            um.party_info.to.party_ids[0].value = to;
            um.collaboration_info.service = Service { value: service, service_type };
            um.collaboration_info.action = action;
            um.collaboration_info.agreement_ref = pmode.map(|p| AgreementRef {
                value: "urn:agreement".into(), agreement_type: None, pmode: Some(p),
            });
            um.message_properties = props.iter().map(|(n, v)| Property::new(n, v)).collect();
            um.payload_info = parts.iter().map(|(cid, mime, sed)| PartInfo::attachment(cid, &PartProperties {
                mime_type: mime.clone(),
                compression_type: Some(GZIP_COMPRESSION.into()),
                part_type: Some(if *sed { PartType::Sed } else { PartType::Attachment }),
                character_set: None,
            })).collect();
            let env = parse_envelope(&build_user_message(&um).xml).unwrap();
            prop_assert_eq!(env.user_message(), Some(&um));
        }
    }
}
