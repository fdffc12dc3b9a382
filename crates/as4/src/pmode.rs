//! P-Modes: the agreed parameters of one exchange, as TOML-friendly config. Also reads the
//! AS4.NET P-Mode XML (namespace `eu:edelivery:as4:pmode`) used by the EESSI conformance test.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::{eessi, PartyId};
use super::xml::{self, Element, XmlLimits};

pub const AS4NET_PMODE_NS: &str = "eu:edelivery:as4:pmode";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PMode {
    pub id: String,
    #[serde(default)]
    pub mep_binding: MepBinding,
    pub initiator: PModeParty,
    pub responder: PModeParty,
    pub service: String,
    #[serde(default)]
    pub service_type: Option<String>,
    pub action: String,
    #[serde(default)]
    pub agreement: Option<String>,
    #[serde(default)]
    pub mpc: Option<String>,
    /// Where messages are pushed (sending P-Mode) or callbacks go (receiving P-Mode).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub multi_hop: bool,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub security: SecuritySettings,
    #[serde(default)]
    pub reliability: Reliability,
    #[serde(default)]
    pub receipt: ReceiptSettings,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MepBinding {
    #[default]
    Push,
    Pull,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PModeParty {
    pub party_id: String,
    #[serde(default)]
    pub party_id_type: Option<String>,
    pub role: String,
}

impl PModeParty {
    pub fn to_party_id(&self) -> PartyId {
        PartyId {
            value: self.party_id.clone(),
            party_type: self.party_id_type.clone(),
        }
    }
}

/// A certificate named by a lookup (store search) rather than embedded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRef {
    pub find_type: String,
    pub find_value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub client_certificate: Option<CertificateRef>,
}

/// How a received message's signature (or encryption) is treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    #[default]
    Required,
    Allowed,
    NotAllowed,
    Ignored,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    #[serde(default)]
    pub sign: bool,
    #[serde(default)]
    pub encrypt: bool,
    #[serde(default)]
    pub signing_certificate: Option<CertificateRef>,
    /// e.g. `BSTReference`.
    #[serde(default)]
    pub key_reference: Option<String>,
    #[serde(default)]
    pub signature_algorithm: Option<String>,
    #[serde(default)]
    pub hash_function: Option<String>,
    #[serde(default)]
    pub verify_signature: Policy,
    #[serde(default)]
    pub decryption: Policy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reliability {
    pub retries: u32,
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
}

impl Default for Reliability {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyPattern {
    /// On the HTTP response of the same exchange.
    #[default]
    Response,
    /// As a separate request to the sender.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSettings {
    pub required: bool,
    #[serde(default)]
    pub non_repudiation: bool,
    #[serde(default)]
    pub reply_pattern: ReplyPattern,
    #[serde(default)]
    pub sign: bool,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            required: true,
            non_repudiation: true,
            reply_pattern: ReplyPattern::Response,
            sign: true,
        }
    }
}

impl PMode {
    /// The EESSI push P-Mode between two institutions.
    pub fn eessi_push(id: &str, from: &str, to: &str, endpoint_url: &str) -> Self {
        let party = |p: &str| PModeParty {
            party_id: p.to_owned(),
            party_id_type: Some(eessi::PARTY_ID_TYPE.to_owned()),
            role: eessi::ROLE_INSTITUTION.to_owned(),
        };
        Self {
            id: id.to_owned(),
            mep_binding: MepBinding::Push,
            initiator: party(from),
            responder: party(to),
            service: eessi::SERVICE.to_owned(),
            service_type: Some(eessi::SERVICE_TYPE.to_owned()),
            action: eessi::ACTION_SEND.to_owned(),
            agreement: None,
            mpc: None,
            endpoint_url: Some(endpoint_url.to_owned()),
            multi_hop: false,
            tls: TlsSettings {
                enabled: true,
                min_version: Some("1.2".to_owned()),
                client_certificate: None,
            },
            security: SecuritySettings {
                sign: true,
                ..SecuritySettings::default()
            },
            reliability: Reliability::default(),
            receipt: ReceiptSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PModeError {
    #[error("P-Mode XML: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("root element is not an AS4.NET PMode")]
    NotAPMode,
    #[error("P-Mode lacks {0}")]
    Missing(&'static str),
    #[error("P-Mode {element} has unknown value {value:?}")]
    UnknownValue {
        element: &'static str,
        value: String,
    },
}

fn path<'a>(el: &'a Element, names: &[&str]) -> Option<&'a Element> {
    names
        .iter()
        .try_fold(el, |cur, n| cur.child(AS4NET_PMODE_NS, n))
}

fn path_text(el: &Element, names: &[&str]) -> Option<String> {
    path(el, names)
        .map(|e| e.text().trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn path_bool(el: &Element, names: &[&str]) -> bool {
    path_text(el, names).is_some_and(|t| t.eq_ignore_ascii_case("true"))
}

fn party(el: &Element, which: &'static str) -> Result<PModeParty, PModeError> {
    let p =
        path(el, &["MessagePackaging", "PartyInfo", which]).ok_or(PModeError::Missing(which))?;
    let id = path(p, &["PartyIds", "PartyId"]).ok_or(PModeError::Missing("PartyId"))?;
    Ok(PModeParty {
        party_id: path_text(id, &["Id"]).ok_or(PModeError::Missing("PartyId/Id"))?,
        party_id_type: path_text(id, &["Type"]),
        role: path_text(p, &["Role"]).ok_or(PModeError::Missing("Role"))?,
    })
}

fn policy(value: Option<String>, element: &'static str) -> Result<Policy, PModeError> {
    match value.as_deref() {
        None | Some("Required") => Ok(Policy::Required),
        Some("Allowed") => Ok(Policy::Allowed),
        Some("NotAllowed") => Ok(Policy::NotAllowed),
        Some("Ignored") => Ok(Policy::Ignored),
        Some(other) => Err(PModeError::UnknownValue {
            element,
            value: other.to_owned(),
        }),
    }
}

fn certificate(el: Option<&Element>, find_type: &str, find_value: &str) -> Option<CertificateRef> {
    let el = el?;
    Some(CertificateRef {
        find_type: path_text(el, &[find_type])?,
        find_value: path_text(el, &[find_value])?,
    })
}

fn tls(config: Option<&Element>) -> TlsSettings {
    let Some(t) = config.and_then(|c| path(c, &["TlsConfiguration"])) else {
        return TlsSettings::default();
    };
    TlsSettings {
        enabled: path_bool(t, &["IsEnabled"]),
        min_version: path_text(t, &["TlsVersion"]),
        client_certificate: certificate(
            path(t, &["ClientCertificateReference"]),
            "ClientCertificateFindType",
            "ClientCertificateFindValue",
        ),
    }
}

/// Signing block (`Security/Signing` of a sending P-Mode, `ReplyHandling/ResponseSigning` of a
/// receiving one) → (enabled, certificate, key reference, algorithm, hash).
type SigningBlock = (
    bool,
    Option<CertificateRef>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn signing(s: Option<&Element>) -> SigningBlock {
    let Some(s) = s else {
        return (false, None, None, None, None);
    };
    (
        path_bool(s, &["IsEnabled"]),
        certificate(
            path(s, &["CertificateFindCriteria"]),
            "CertificateFindType",
            "CertificateFindValue",
        ),
        path_text(s, &["KeyReferenceMethod"]),
        path_text(s, &["Algorithm"]),
        path_text(s, &["HashFunction"]),
    )
}

impl PMode {
    /// Read an AS4.NET sending or receiving P-Mode.
    pub fn from_as4net_xml(bytes: &[u8]) -> Result<Self, PModeError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let doc = xml::parse(bytes, &XmlLimits::default())?;
        let root = &doc.root;
        if !root.is(AS4NET_PMODE_NS, "PMode") {
            return Err(PModeError::NotAPMode);
        }
        let reply = path(root, &["ReplyHandling"]);
        let receiving = reply.is_some();
        let mep_binding = match path_text(root, &["MepBinding"]).as_deref() {
            None | Some("Push") => MepBinding::Push,
            Some("Pull") => MepBinding::Pull,
            Some(other) => {
                return Err(PModeError::UnknownValue {
                    element: "MepBinding",
                    value: other.to_owned(),
                })
            }
        };
        let endpoint_config = if receiving {
            reply.and_then(|r| path(r, &["ResponseConfiguration"]))
        } else {
            path(root, &["PushConfiguration"])
        };
        let (sign, signing_certificate, key_reference, signature_algorithm, hash_function) =
            if receiving {
                signing(reply.and_then(|r| path(r, &["ResponseSigning"])))
            } else {
                signing(path(root, &["Security", "Signing"]))
            };
        let (receipt_sign, ..) = signing(reply.and_then(|r| path(r, &["ResponseSigning"])));
        let reply_pattern = match reply
            .and_then(|r| path_text(r, &["ReplyPattern"]))
            .as_deref()
        {
            None | Some("Response") => ReplyPattern::Response,
            Some("Callback") => ReplyPattern::Callback,
            Some(other) => {
                return Err(PModeError::UnknownValue {
                    element: "ReplyPattern",
                    value: other.to_owned(),
                })
            }
        };
        Ok(PMode {
            id: path_text(root, &["Id"]).ok_or(PModeError::Missing("Id"))?,
            mep_binding,
            initiator: party(root, "FromParty")?,
            responder: party(root, "ToParty")?,
            service: path_text(
                root,
                &["MessagePackaging", "CollaborationInfo", "Service", "Value"],
            )
            .ok_or(PModeError::Missing("Service"))?,
            service_type: path_text(
                root,
                &["MessagePackaging", "CollaborationInfo", "Service", "Type"],
            ),
            action: path_text(root, &["MessagePackaging", "CollaborationInfo", "Action"])
                .ok_or(PModeError::Missing("Action"))?,
            agreement: path_text(
                root,
                &[
                    "MessagePackaging",
                    "CollaborationInfo",
                    "AgreementReference",
                    "Value",
                ],
            ),
            mpc: path_text(root, &["MessagePackaging", "Mpc"]),
            endpoint_url: endpoint_config.and_then(|c| path_text(c, &["Protocol", "Url"])),
            multi_hop: path_bool(root, &["MessagePackaging", "IsMultiHop"]),
            tls: tls(endpoint_config),
            security: SecuritySettings {
                sign,
                encrypt: path_bool(root, &["Security", "Encryption", "IsEnabled"]),
                signing_certificate,
                key_reference,
                signature_algorithm,
                hash_function,
                verify_signature: policy(
                    path_text(root, &["Security", "SigningVerification", "Signature"]),
                    "SigningVerification",
                )?,
                decryption: policy(
                    path_text(root, &["Security", "Decryption", "Encryption"]),
                    "Decryption",
                )?,
            },
            reliability: Reliability::default(),
            receipt: ReceiptSettings {
                required: true,
                non_repudiation: reply
                    .map(|r| path_bool(r, &["ReceiptHandling", "UseNRRFormat"]))
                    .unwrap_or(true),
                reply_pattern,
                sign: if receiving { receipt_sign } else { true },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/as4/eessi-as4-net/eessi-conformancetest-settings/{name}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../..")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const SIGNING_CERT: &str = "1a00000174eb3567453664bc9f000000000174";
    const TLS_CERT: &str = "1a00000173b2da572a2755f2e3000000000173";

    #[test]
    fn accepts_the_c2_push_pmode() {
        let p = PMode::from_as4net_xml(&fixture("C2/send-pmodes/c2-push-pmode.xml")).unwrap();
        assert_eq!(p.id, "push-pmode");
        assert_eq!(p.mep_binding, MepBinding::Push);
        assert_eq!(p.initiator.party_id, "UK:UK001");
        assert_eq!(p.responder.party_id, "UK:UK010");
        for party in [&p.initiator, &p.responder] {
            assert_eq!(party.party_id_type.as_deref(), Some(eessi::PARTY_ID_TYPE));
            assert_eq!(party.role, eessi::ROLE_INSTITUTION);
        }
        assert_eq!(p.service, eessi::SERVICE);
        assert_eq!(p.service_type.as_deref(), Some(eessi::SERVICE_TYPE));
        assert_eq!(p.action, eessi::ACTION_SEND);
        assert_eq!(
            p.endpoint_url.as_deref(),
            Some("https://eessidev09.eessi.be/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc")
        );
        assert!(p.multi_hop);
        assert!(p.tls.enabled);
        assert_eq!(p.tls.min_version.as_deref(), Some("Tls12"));
        assert_eq!(
            p.tls.client_certificate,
            Some(CertificateRef {
                find_type: "FindBySerialNumber".into(),
                find_value: TLS_CERT.into()
            })
        );
        assert!(p.security.sign);
        assert!(!p.security.encrypt);
        assert_eq!(p.security.key_reference.as_deref(), Some("BSTReference"));
        assert_eq!(
            p.security.signature_algorithm.as_deref(),
            Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        );
        assert_eq!(
            p.security.hash_function.as_deref(),
            Some("http://www.w3.org/2001/04/xmlenc#sha256")
        );
        assert_eq!(
            p.security
                .signing_certificate
                .as_ref()
                .map(|c| c.find_value.as_str()),
            Some(SIGNING_CERT)
        );
        assert!(p.receipt.required);
    }

    #[test]
    fn accepts_the_c3_push_and_pull_pmodes() {
        let p = PMode::from_as4net_xml(&fixture("C3/send-pmodes/c3-push-pmode.xml")).unwrap();
        assert_eq!(p.id, "c3-push-pmode");
        assert_eq!(p.initiator.party_id, "UK:UK010");
        assert_eq!(p.responder.party_id, "UK:UK001");
        let pull = PMode::from_as4net_xml(&fixture("C2/send-pmodes/c2-pull-pmode.xml")).unwrap();
        assert_eq!(pull.id, "c2-sendpullrequest-pmode");
        assert_eq!(
            pull.mpc.as_deref(),
            Some(
                "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC/UK:UK001"
            )
        );
        assert_eq!(
            pull.endpoint_url.as_deref(),
            Some("https://eessidev09.eessi.be/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc")
        );
    }

    #[test]
    fn accepts_the_receive_pmodes() {
        for (file, id, from, to) in [
            (
                "C2/receive-pmodes/c2-receive-pmode.xml",
                "c2-receive-pmode",
                "UK:UK010",
                "UK:UK001",
            ),
            (
                "C3/receive-pmodes/c3-receive-pmode.xml",
                "c3-receive-pmode",
                "UK:UK001",
                "UK:UK010",
            ),
        ] {
            let p = PMode::from_as4net_xml(&fixture(file)).unwrap();
            assert_eq!(p.id, id);
            assert_eq!(p.initiator.party_id, from);
            assert_eq!(p.responder.party_id, to);
            assert_eq!(p.receipt.reply_pattern, ReplyPattern::Callback);
            assert!(p.receipt.non_repudiation);
            assert!(p.receipt.sign);
            assert_eq!(p.security.verify_signature, Policy::Allowed);
            assert_eq!(p.security.decryption, Policy::Ignored);
            assert_eq!(p.security.key_reference.as_deref(), Some("BSTReference"));
            assert!(p.tls.enabled);
            assert_eq!(p.action, eessi::ACTION_SEND);
        }
    }

    #[test]
    fn pmode_round_trips_through_toml() {
        let p = PMode::from_as4net_xml(&fixture("C2/send-pmodes/c2-push-pmode.xml")).unwrap();
        let text = toml::to_string(&p).unwrap();
        let back: PMode = toml::from_str(&text).unwrap();
        assert_eq!(back, p);
        let minimal = r#"
            id = "at-no"
            service = "BusinessMessaging"
            action = "Send"
            endpoint_url = "https://ap.no.example/as4"
            initiator = { party_id = "AT:9900", role = "urn:eu:europa:ec:dgempl:eessi:ir:institution" }
            responder = { party_id = "NO:NAVAT07", role = "urn:eu:europa:ec:dgempl:eessi:ir:institution" }
            reliability = { retries = 8, backoff = "1m" }
            security = { sign = true, encrypt = false }
        "#;
        let p: PMode = toml::from_str(minimal).unwrap();
        assert_eq!(p.reliability.backoff, Duration::from_secs(60));
        assert!(p.receipt.required);
        assert!(toml::from_str::<PMode>(&format!("{minimal}\nbogus = 1")).is_err());
    }
}
