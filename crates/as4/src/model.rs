//! The ebMS3 header model: what an eb:Messaging header says, as plain values.
//! Values are kept as read (trimmed text); profile rules (`parse::check_profile`) judge them.

use chrono::{DateTime, NaiveDateTime, Utc};

pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const EB3_NS: &str = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/";
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const EBBP_NS: &str = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0";

/// The ebMS test service and action (a "ping" that is not delivered to a back office).
pub const TEST_SERVICE: &str =
    "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service";
pub const TEST_ACTION: &str = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test";
/// The only compression AS4 defines.
pub const GZIP_COMPRESSION: &str = "application/gzip";

/// Values of the EESSI profile of eDelivery AS4.
pub mod eessi {
    pub const PARTY_ID_TYPE: &str = "urn:eu:europa:ec:dgempl:eessi:ir";
    pub const ROLE_INSTITUTION: &str = "urn:eu:europa:ec:dgempl:eessi:ir:institution";
    pub const SERVICE: &str = "BusinessMessaging";
    pub const SERVICE_TYPE: &str = "urn:eu:europa:ec:dgempl:eessi";
    pub const ACTION_SEND: &str = "Send";
    pub const PART_TYPE_SED: &str = "SED";
    pub const PART_TYPE_ATTACHMENT: &str = "Attachment";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }
}

/// A parsed SOAP envelope carrying an eb:Messaging header.
#[derive(Debug, Clone, PartialEq)]
pub struct As4Envelope {
    pub soap_version: SoapVersion,
    /// How many eb:Messaging elements soap:Header holds (the profile wants exactly one).
    pub messaging_count: usize,
    /// `wsu:Id` of eb:Messaging, the signature reference target.
    pub messaging_id: Option<String>,
    /// `wsu:Id` of soap:Body.
    pub body_id: Option<String>,
    /// Number of element children of soap:Body (AS4/EESSI: payloads travel as MIME parts).
    pub body_element_count: usize,
    /// Message units in document order (bundles keep their order).
    pub units: Vec<MessageUnit>,
    /// The wsse:Security header, parsed but not verified.
    pub security: Option<SecurityHeader>,
}

impl As4Envelope {
    pub fn user_messages(&self) -> impl Iterator<Item = &UserMessage> {
        self.units.iter().filter_map(|u| match u {
            MessageUnit::User(m) => Some(m.as_ref()),
            MessageUnit::Signal(_) => None,
        })
    }
    pub fn signal_messages(&self) -> impl Iterator<Item = &SignalMessage> {
        self.units.iter().filter_map(|u| match u {
            MessageUnit::Signal(s) => Some(s),
            MessageUnit::User(_) => None,
        })
    }
    /// The one UserMessage, if the envelope holds exactly one unit and it is a UserMessage.
    pub fn user_message(&self) -> Option<&UserMessage> {
        match self.units.as_slice() {
            [MessageUnit::User(m)] => Some(m.as_ref()),
            _ => None,
        }
    }
    /// The one SignalMessage, if the envelope holds exactly one unit and it is a signal.
    pub fn signal_message(&self) -> Option<&SignalMessage> {
        match self.units.as_slice() {
            [MessageUnit::Signal(s)] => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MessageUnit {
    User(Box<UserMessage>),
    Signal(SignalMessage),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// As written; `timestamp_utc()` parses it (the profile check refuses what does not parse).
    pub timestamp: String,
    pub message_id: String,
    pub ref_to_message_id: Option<String>,
}

impl MessageInfo {
    pub fn new(message_id: &sedgate_base::domain::MessageId, timestamp: DateTime<Utc>) -> Self {
        Self {
            timestamp: format_timestamp(timestamp),
            message_id: message_id.to_string(),
            ref_to_message_id: None,
        }
    }

    /// xsd:dateTime; without a zone it is UTC (the AS4 profile requires UTC).
    pub fn timestamp_utc(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.timestamp)
    }
}

/// UTC with milliseconds and `Z`, the form AS4 implementations write.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyId {
    pub value: String,
    pub party_type: Option<String>,
}

impl PartyId {
    /// An EESSI party: the institution id with the IR party id type.
    pub fn eessi(institution: &sedgate_base::domain::InstitutionId) -> Self {
        Self {
            value: institution.to_string(),
            party_type: Some(eessi::PARTY_ID_TYPE.to_owned()),
        }
    }
}

/// eb:From or eb:To. The schema allows several PartyIds; the AS4 profile wants one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub party_ids: Vec<PartyId>,
    pub role: String,
}

impl Party {
    pub fn new(party_id: PartyId, role: &str) -> Self {
        Self {
            party_ids: vec![party_id],
            role: role.to_owned(),
        }
    }
    /// The party id when there is exactly one.
    pub fn party_id(&self) -> Option<&PartyId> {
        match self.party_ids.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyInfo {
    pub from: Party,
    pub to: Party,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementRef {
    pub value: String,
    pub agreement_type: Option<String>,
    pub pmode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub value: String,
    pub service_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollaborationInfo {
    pub agreement_ref: Option<AgreementRef>,
    pub service: Service,
    pub action: String,
    pub conversation_id: String,
}

/// eb:Property of MessageProperties or PartProperties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub value: String,
    pub property_type: Option<String>,
}

impl Property {
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
            property_type: None,
        }
    }
}

/// EESSI PartType part property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartType {
    Sed,
    Attachment,
}

impl PartType {
    pub fn as_str(self) -> &'static str {
        match self {
            PartType::Sed => eessi::PART_TYPE_SED,
            PartType::Attachment => eessi::PART_TYPE_ATTACHMENT,
        }
    }
}

/// eb:PartInfo: a reference to one payload and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// `cid:...` for a MIME part; `None` means the SOAP Body (not allowed by AS4/EESSI).
    pub href: Option<String>,
    pub schemas: Vec<String>,
    pub properties: Vec<Property>,
}

impl PartInfo {
    /// A MIME-part payload with the usual AS4 part properties.
    pub fn attachment(content_id: &str, props: &PartProperties) -> Self {
        let mut properties = vec![Property::new("MimeType", &props.mime_type)];
        if let Some(c) = &props.compression_type {
            properties.push(Property::new("CompressionType", c));
        }
        if let Some(t) = props.part_type {
            properties.push(Property::new("PartType", t.as_str()));
        }
        if let Some(c) = &props.character_set {
            properties.push(Property::new("CharacterSet", c));
        }
        Self {
            href: Some(format!("cid:{content_id}")),
            schemas: Vec::new(),
            properties,
        }
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
    pub fn mime_type(&self) -> Option<&str> {
        self.property("MimeType")
    }
    pub fn compression_type(&self) -> Option<&str> {
        self.property("CompressionType")
    }
    pub fn character_set(&self) -> Option<&str> {
        self.property("CharacterSet")
    }
    pub fn part_type(&self) -> Option<PartType> {
        match self.property("PartType")? {
            eessi::PART_TYPE_SED => Some(PartType::Sed),
            eessi::PART_TYPE_ATTACHMENT => Some(PartType::Attachment),
            _ => None,
        }
    }
    /// The Content-ID the href points at (`cid:` stripped), if it is a `cid:` reference.
    pub fn content_id(&self) -> Option<&str> {
        self.href.as_deref()?.trim().strip_prefix("cid:")
    }
}

/// Typed input for `PartInfo::attachment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartProperties {
    pub mime_type: String,
    pub compression_type: Option<String>,
    pub part_type: Option<PartType>,
    pub character_set: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMessage {
    pub mpc: Option<String>,
    pub message_info: MessageInfo,
    pub party_info: PartyInfo,
    pub collaboration_info: CollaborationInfo,
    pub message_properties: Vec<Property>,
    pub payload_info: Vec<PartInfo>,
}

impl UserMessage {
    /// True for the ebMS test service/action pair (a ping).
    pub fn is_test_message(&self) -> bool {
        self.collaboration_info.service.value == TEST_SERVICE
            && self.collaboration_info.action == TEST_ACTION
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMessage {
    pub message_info: MessageInfo,
    pub pull_request: Option<PullRequest>,
    pub receipt: Option<Receipt>,
    pub errors: Vec<EbmsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub mpc: Option<String>,
}

/// eb:Receipt. Its content is any XML (a UserMessage copy or ebbp:NonRepudiationInformation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The children of eb:Receipt, re-serialised with every namespace they use declared.
    pub content_xml: String,
    /// ebbp:NonRepudiationInformation is present (a signed NRR receipt).
    pub non_repudiation: bool,
    /// Number of ds:Reference elements (XML-DSig namespace) inside MessagePartNRInformation.
    pub nri_reference_count: usize,
    /// An eb:UserMessage copy is present (the unsigned receipt form).
    pub has_user_message_copy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Failure,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Failure => "failure",
            Severity::Warning => "warning",
        }
    }
}

/// One eb:Error of an Error signal (received or to be sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbmsError {
    /// `EBMS:0001` ...; kept as text because peers may send codes we do not know.
    pub error_code: String,
    pub severity: Severity,
    pub category: Option<String>,
    pub origin: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub error_detail: Option<String>,
    pub ref_to_message_in_error: Option<String>,
}

impl EbmsError {
    pub fn code(&self) -> Option<super::error::EbmsCode> {
        self.error_code.parse().ok()
    }
}

/// What the wsse:Security header holds. Parsed for the later signing task; nothing is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityHeader {
    pub must_understand: bool,
    pub binary_security_tokens: Vec<BinarySecurityToken>,
    pub signature: Option<SignatureInfo>,
    pub encrypted_key_count: usize,
    pub encrypted_data_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinarySecurityToken {
    pub id: Option<String>,
    pub value_type: Option<String>,
    /// Base64 text as found (whitespace removed).
    pub value_base64: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInfo {
    pub signature_method: Option<String>,
    pub canonicalization_method: Option<String>,
    pub references: Vec<SignatureReference>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReference {
    pub uri: String,
    pub digest_method: Option<String>,
    pub digest_value: String,
}
