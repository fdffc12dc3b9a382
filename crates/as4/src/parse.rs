//! SOAP envelope + eb:Messaging → model values (`parse_envelope`), and the AS4/eDelivery/EESSI
//! profile rules as separate checks (`check_profile`, `check_attachments`).

use std::collections::HashSet;
use std::str::FromStr;

use super::error::As4Error;
use super::model::*;
use super::xml::{self, escape_attr_into, escape_text_into, Element, Node, XmlLimits};
use sedgate_base::domain::MessageId;

/// Parse a SOAP 1.1 or 1.2 envelope carrying eb:Messaging. Structure only: the profile rules
/// (SOAP 1.2, one UserMessage, one PartyId, ...) are `check_profile`.
pub fn parse_envelope(soap_xml: &[u8]) -> Result<As4Envelope, As4Error> {
    parse_envelope_with(soap_xml, &XmlLimits::default())
}

pub fn parse_envelope_with(soap_xml: &[u8], limits: &XmlLimits) -> Result<As4Envelope, As4Error> {
    let bytes = soap_xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(soap_xml);
    let doc = xml::parse(bytes, limits)?;
    let root = &doc.root;
    let soap_version = if root.is(SOAP12_NS, "Envelope") {
        SoapVersion::V12
    } else if root.is(SOAP11_NS, "Envelope") {
        SoapVersion::V11
    } else {
        return Err(As4Error::NotSoapEnvelope {
            found: qualified(root),
        });
    };
    let soap = soap_version.namespace();
    let header = single(root, soap, "Header", "soap:Header")?.ok_or(As4Error::MissingElement {
        element: "soap:Header",
    })?;
    let body = single(root, soap, "Body", "soap:Body")?.ok_or(As4Error::MissingElement {
        element: "soap:Body",
    })?;
    for el in root.elements() {
        if !(el.is(soap, "Header") || el.is(soap, "Body")) {
            return Err(unexpected(el, "soap:Envelope"));
        }
    }
    let messagings: Vec<&Element> = header.children_named(EB3_NS, "Messaging").collect();
    let mut units = Vec::new();
    for m in &messagings {
        units.extend(parse_messaging(m)?);
    }
    let security = header
        .children_named(WSSE_NS, "Security")
        .next()
        .map(|s| parse_security(s, soap));
    Ok(As4Envelope {
        soap_version,
        messaging_count: messagings.len(),
        messaging_id: messagings
            .first()
            .and_then(|m| m.attr_ns(WSU_NS, "Id"))
            .map(str::to_owned),
        body_id: body.attr_ns(WSU_NS, "Id").map(str::to_owned),
        body_element_count: body.elements().count(),
        units,
        security,
    })
}

/// Parse a bare eb:Messaging element (no SOAP envelope), e.g. a routing copy.
pub fn parse_messaging_fragment(xml_bytes: &[u8]) -> Result<Vec<MessageUnit>, As4Error> {
    let bytes = xml_bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml_bytes);
    let doc = xml::parse(bytes, &XmlLimits::default())?;
    if !doc.root.is(EB3_NS, "Messaging") {
        return Err(As4Error::MissingElement {
            element: "eb:Messaging",
        });
    }
    parse_messaging(&doc.root)
}

fn qualified(el: &Element) -> String {
    match &el.ns {
        Some(ns) => format!("{{{ns}}}{}", el.local),
        None => el.local.clone(),
    }
}

fn unexpected(el: &Element, parent: &'static str) -> As4Error {
    As4Error::UnexpectedElement {
        element: qualified(el),
        parent,
    }
}

/// The child `local` in `ns`, refusing repeats.
fn single<'a>(
    parent: &'a Element,
    ns: &str,
    local: &str,
    name: &'static str,
) -> Result<Option<&'a Element>, As4Error> {
    let mut it = parent.elements().filter(|e| e.is(ns, local));
    let first = it.next();
    let rest = it.count();
    if rest > 0 {
        return Err(As4Error::RepeatedElement {
            element: name,
            count: rest + 1,
        });
    }
    Ok(first)
}

fn required<'a>(
    parent: &'a Element,
    local: &str,
    name: &'static str,
) -> Result<&'a Element, As4Error> {
    single(parent, EB3_NS, local, name)?.ok_or(As4Error::MissingElement { element: name })
}

fn optional<'a>(
    parent: &'a Element,
    local: &str,
    name: &'static str,
) -> Result<Option<&'a Element>, As4Error> {
    single(parent, EB3_NS, local, name)
}

/// Only eb: children named in `allowed`.
fn only_children(parent: &Element, allowed: &[&str], name: &'static str) -> Result<(), As4Error> {
    for el in parent.elements() {
        if !(el.ns.as_deref() == Some(EB3_NS) && allowed.contains(&el.local.as_str())) {
            return Err(unexpected(el, name));
        }
    }
    Ok(())
}

fn text(el: &Element) -> String {
    el.text().trim().to_owned()
}

fn opt_attr(el: &Element, name: &str) -> Option<String> {
    el.attr(name).map(|v| v.trim().to_owned())
}

fn parse_messaging(messaging: &Element) -> Result<Vec<MessageUnit>, As4Error> {
    let mut units = Vec::new();
    for el in messaging.elements() {
        if el.is(EB3_NS, "UserMessage") {
            units.push(MessageUnit::User(Box::new(parse_user_message(el)?)));
        } else if el.is(EB3_NS, "SignalMessage") {
            units.push(MessageUnit::Signal(parse_signal_message(el)?));
        } else {
            return Err(unexpected(el, "eb:Messaging"));
        }
    }
    Ok(units)
}

fn parse_message_info(parent: &Element) -> Result<MessageInfo, As4Error> {
    let info = required(parent, "MessageInfo", "eb:MessageInfo")?;
    only_children(
        info,
        &["Timestamp", "MessageId", "RefToMessageId"],
        "eb:MessageInfo",
    )?;
    Ok(MessageInfo {
        timestamp: text(required(info, "Timestamp", "eb:Timestamp")?),
        message_id: text(required(info, "MessageId", "eb:MessageId")?),
        ref_to_message_id: optional(info, "RefToMessageId", "eb:RefToMessageId")?.map(text),
    })
}

fn parse_party(el: &Element, name: &'static str) -> Result<Party, As4Error> {
    only_children(el, &["PartyId", "Role"], name)?;
    let party_ids = el
        .children_named(EB3_NS, "PartyId")
        .map(|p| PartyId {
            value: text(p),
            party_type: opt_attr(p, "type"),
        })
        .collect();
    let role = text(required(el, "Role", "eb:Role")?);
    Ok(Party { party_ids, role })
}

fn parse_properties(
    parent: Option<&Element>,
    name: &'static str,
) -> Result<Vec<Property>, As4Error> {
    let Some(parent) = parent else {
        return Ok(Vec::new());
    };
    only_children(parent, &["Property"], name)?;
    parent
        .children_named(EB3_NS, "Property")
        .map(|p| {
            Ok(Property {
                name: opt_attr(p, "name").ok_or(As4Error::MissingAttribute {
                    element: "eb:Property",
                    attribute: "name",
                })?,
                value: text(p),
                property_type: opt_attr(p, "type"),
            })
        })
        .collect()
}

fn parse_user_message(um: &Element) -> Result<UserMessage, As4Error> {
    only_children(
        um,
        &[
            "MessageInfo",
            "PartyInfo",
            "CollaborationInfo",
            "MessageProperties",
            "PayloadInfo",
        ],
        "eb:UserMessage",
    )?;
    let message_info = parse_message_info(um)?;
    let party_info = required(um, "PartyInfo", "eb:PartyInfo")?;
    only_children(party_info, &["From", "To"], "eb:PartyInfo")?;
    let from = parse_party(required(party_info, "From", "eb:From")?, "eb:From")?;
    let to = parse_party(required(party_info, "To", "eb:To")?, "eb:To")?;

    let collab = required(um, "CollaborationInfo", "eb:CollaborationInfo")?;
    only_children(
        collab,
        &["AgreementRef", "Service", "Action", "ConversationId"],
        "eb:CollaborationInfo",
    )?;
    let agreement_ref =
        optional(collab, "AgreementRef", "eb:AgreementRef")?.map(|a| AgreementRef {
            value: text(a),
            agreement_type: opt_attr(a, "type"),
            pmode: opt_attr(a, "pmode"),
        });
    let service_el = required(collab, "Service", "eb:Service")?;
    let service = Service {
        value: text(service_el),
        service_type: opt_attr(service_el, "type"),
    };
    // Required by the schema, but some captured senders omit them: read as empty here and let
    // check_profile refuse (EBMS:0009) so the error can still name the message.
    let action = optional(collab, "Action", "eb:Action")?
        .map(text)
        .unwrap_or_default();
    let conversation_id = optional(collab, "ConversationId", "eb:ConversationId")?
        .map(text)
        .unwrap_or_default();

    let message_properties = parse_properties(
        optional(um, "MessageProperties", "eb:MessageProperties")?,
        "eb:MessageProperties",
    )?;
    let mut payload_info = Vec::new();
    if let Some(pi) = optional(um, "PayloadInfo", "eb:PayloadInfo")? {
        only_children(pi, &["PartInfo"], "eb:PayloadInfo")?;
        for part in pi.children_named(EB3_NS, "PartInfo") {
            only_children(
                part,
                &["Schema", "Schemas", "Description", "PartProperties"],
                "eb:PartInfo",
            )?;
            let schemas = part
                .elements()
                .filter(|e| e.is(EB3_NS, "Schemas") || e.is(EB3_NS, "Schema"))
                .flat_map(|e| {
                    if e.local == "Schema" {
                        vec![e]
                    } else {
                        e.children_named(EB3_NS, "Schema").collect()
                    }
                })
                .filter_map(|s| opt_attr(s, "location"))
                .collect();
            payload_info.push(PartInfo {
                href: part.attr("href").map(str::to_owned),
                schemas,
                properties: parse_properties(
                    optional(part, "PartProperties", "eb:PartProperties")?,
                    "eb:PartProperties",
                )?,
            });
        }
    }
    Ok(UserMessage {
        mpc: opt_attr(um, "mpc"),
        message_info,
        party_info: PartyInfo { from, to },
        collaboration_info: CollaborationInfo {
            agreement_ref,
            service,
            action,
            conversation_id,
        },
        message_properties,
        payload_info,
    })
}

fn parse_signal_message(sm: &Element) -> Result<SignalMessage, As4Error> {
    let message_info = parse_message_info(sm)?;
    let mut pull_request = None;
    let mut receipt = None;
    let mut errors = Vec::new();
    for el in sm.elements() {
        if el.is(EB3_NS, "MessageInfo") {
            continue;
        } else if el.is(EB3_NS, "PullRequest") {
            if pull_request.is_some() {
                return Err(As4Error::RepeatedElement {
                    element: "eb:PullRequest",
                    count: 2,
                });
            }
            pull_request = Some(PullRequest {
                mpc: opt_attr(el, "mpc"),
            });
        } else if el.is(EB3_NS, "Receipt") {
            if receipt.is_some() {
                return Err(As4Error::RepeatedElement {
                    element: "eb:Receipt",
                    count: 2,
                });
            }
            receipt = Some(parse_receipt(el));
        } else if el.is(EB3_NS, "Error") {
            errors.push(parse_error(el)?);
        } else {
            return Err(unexpected(el, "eb:SignalMessage"));
        }
    }
    Ok(SignalMessage {
        message_info,
        pull_request,
        receipt,
        errors,
    })
}

fn parse_receipt(el: &Element) -> Receipt {
    let mut content_xml = String::new();
    for child in &el.children {
        match child {
            Node::Element(e) => serialize_element(e, &mut content_xml, &mut Vec::new()),
            Node::Text(t) => escape_text_into(t, &mut content_xml),
        }
    }
    let nri = el.child(EBBP_NS, "NonRepudiationInformation");
    let nri_reference_count = nri
        .map(|n| {
            n.children_named(EBBP_NS, "MessagePartNRInformation")
                .flat_map(|p| p.children_named(DSIG_NS, "Reference"))
                .count()
        })
        .unwrap_or(0);
    Receipt {
        content_xml: content_xml.trim().to_owned(),
        non_repudiation: nri.is_some(),
        nri_reference_count,
        has_user_message_copy: el.child(EB3_NS, "UserMessage").is_some(),
    }
}

fn parse_error(el: &Element) -> Result<EbmsError, As4Error> {
    let error_code = opt_attr(el, "errorCode").ok_or(As4Error::MissingAttribute {
        element: "eb:Error",
        attribute: "errorCode",
    })?;
    // Case-insensitive: some senders write "Failure" (phase4's ErrorMessageWithFault.xml).
    let severity = match opt_attr(el, "severity")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        Some("failure") => Severity::Failure,
        Some("warning") => Severity::Warning,
        Some(other) => {
            return Err(As4Error::InvalidValue {
                element: "eb:Error/@severity",
                value: other.to_owned(),
            })
        }
        None => {
            return Err(As4Error::MissingAttribute {
                element: "eb:Error",
                attribute: "severity",
            })
        }
    };
    only_children(el, &["Description", "ErrorDetail"], "eb:Error")?;
    Ok(EbmsError {
        error_code,
        severity,
        category: opt_attr(el, "category"),
        origin: opt_attr(el, "origin"),
        short_description: opt_attr(el, "shortDescription"),
        description: optional(el, "Description", "eb:Description")?.map(text),
        error_detail: optional(el, "ErrorDetail", "eb:ErrorDetail")?.map(text),
        ref_to_message_in_error: opt_attr(el, "refToMessageInError"),
    })
}

fn parse_security(sec: &Element, soap_ns: &str) -> SecurityHeader {
    let must_understand = matches!(sec.attr_ns(soap_ns, "mustUnderstand"), Some("true" | "1"));
    let binary_security_tokens = sec
        .children_named(WSSE_NS, "BinarySecurityToken")
        .map(|t| BinarySecurityToken {
            id: t.attr_ns(WSU_NS, "Id").map(str::to_owned),
            value_type: t.attr("ValueType").map(str::to_owned),
            value_base64: t.text().split_whitespace().collect(),
        })
        .collect();
    let signature = sec.child(DSIG_NS, "Signature").map(|sig| {
        let signed_info = sig.child(DSIG_NS, "SignedInfo");
        let algorithm = |local: &str| {
            signed_info
                .and_then(|si| si.child(DSIG_NS, local))
                .and_then(|m| m.attr("Algorithm"))
                .map(str::to_owned)
        };
        SignatureInfo {
            signature_method: algorithm("SignatureMethod"),
            canonicalization_method: algorithm("CanonicalizationMethod"),
            references: signed_info
                .into_iter()
                .flat_map(|si| si.children_named(DSIG_NS, "Reference"))
                .map(|r| SignatureReference {
                    uri: r.attr("URI").unwrap_or_default().to_owned(),
                    digest_method: r
                        .child(DSIG_NS, "DigestMethod")
                        .and_then(|d| d.attr("Algorithm"))
                        .map(str::to_owned),
                    digest_value: r
                        .child(DSIG_NS, "DigestValue")
                        .map(|d| d.text().split_whitespace().collect())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    });
    SecurityHeader {
        must_understand,
        binary_security_tokens,
        signature,
        encrypted_key_count: sec.children_named(XENC_NS, "EncryptedKey").count(),
        encrypted_data_count: sec.children_named(XENC_NS, "EncryptedData").count(),
    }
}

fn lookup<'a>(scope: &'a [(Option<String>, String)], prefix: Option<&str>) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p.as_deref() == prefix)
        .map(|(_, ns)| ns.as_str())
}

/// Serialise an element with every namespace it uses declared, so the fragment stands alone.
fn serialize_element(el: &Element, out: &mut String, scope: &mut Vec<(Option<String>, String)>) {
    let mark = scope.len();
    let qname = |prefix: &Option<String>, local: &str| match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    };
    out.push('<');
    out.push_str(&qname(&el.prefix, &el.local));
    let declare = |prefix: Option<&str>, ns: &str, out: &mut String, scope: &mut Vec<_>| {
        if lookup(scope, prefix) != Some(ns) {
            match prefix {
                Some(p) => out.push_str(&format!(" xmlns:{p}=\"")),
                None => out.push_str(" xmlns=\""),
            }
            escape_attr_into(ns, out);
            out.push('"');
            scope.push((prefix.map(str::to_owned), ns.to_owned()));
        }
    };
    for (p, ns) in &el.namespaces {
        declare(p.as_deref(), ns, out, scope);
    }
    declare(
        el.prefix.as_deref(),
        el.ns.as_deref().unwrap_or(""),
        out,
        scope,
    );
    for a in &el.attributes {
        if let (Some(p), Some(ns)) = (&a.prefix, &a.ns) {
            if p != "xml" {
                declare(Some(p), ns, out, scope);
            }
        }
    }
    for a in &el.attributes {
        out.push(' ');
        out.push_str(&qname(&a.prefix, &a.local));
        out.push_str("=\"");
        escape_attr_into(&a.value, out);
        out.push('"');
    }
    if el.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for child in &el.children {
            match child {
                Node::Element(e) => serialize_element(e, out, scope),
                Node::Text(t) => escape_text_into(t, out),
            }
        }
        out.push_str("</");
        out.push_str(&qname(&el.prefix, &el.local));
        out.push('>');
    }
    scope.truncate(mark);
}

/// Which profile to hold a message to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRules {
    /// SOAP 1.1 is refused unless this is set (parsing test vectors only).
    pub allow_soap11: bool,
    /// EESSI values: party id type, institution role, BusinessMessaging/Send, the SED first.
    pub eessi: bool,
}

impl ProfileRules {
    /// The EESSI profile of eDelivery AS4: what sedgate sends and accepts.
    pub fn eessi() -> Self {
        Self {
            allow_soap11: false,
            eessi: true,
        }
    }
    /// eDelivery AS4 without the EESSI values.
    pub fn as4() -> Self {
        Self {
            allow_soap11: false,
            eessi: false,
        }
    }
}

/// The AS4/eDelivery (and optionally EESSI) rules on a parsed envelope. The first broken rule
/// is reported; its `EbmsCode` is what goes on the wire.
pub fn check_profile(env: &As4Envelope, rules: &ProfileRules) -> Result<(), As4Error> {
    if env.soap_version == SoapVersion::V11 && !rules.allow_soap11 {
        return Err(As4Error::Soap11NotAllowed);
    }
    if env.messaging_count != 1 {
        return Err(As4Error::MessagingCount {
            count: env.messaging_count,
        });
    }
    let users = env.user_messages().count();
    if users > 1 {
        return Err(As4Error::MultipleUserMessages { count: users });
    }
    match env.units.as_slice() {
        [] => Err(As4Error::EmptyMessaging),
        [MessageUnit::User(um)] => check_user_message(env, um, rules),
        [MessageUnit::Signal(sm)] => check_signal_message(sm),
        units => Err(As4Error::Bundling { count: units.len() }),
    }
}

fn check_message_info(info: &MessageInfo) -> Result<(), As4Error> {
    if MessageId::from_str(&info.message_id).is_err() {
        return Err(As4Error::InvalidMessageId {
            element: "eb:MessageId",
            value: info.message_id.clone(),
        });
    }
    if let Some(r) = &info.ref_to_message_id {
        if MessageId::from_str(r).is_err() {
            return Err(As4Error::InvalidMessageId {
                element: "eb:RefToMessageId",
                value: r.clone(),
            });
        }
    }
    if info.timestamp_utc().is_none() {
        return Err(As4Error::InvalidTimestamp {
            value: info.timestamp.clone(),
        });
    }
    Ok(())
}

fn check_user_message(
    env: &As4Envelope,
    um: &UserMessage,
    rules: &ProfileRules,
) -> Result<(), As4Error> {
    for (side, party) in [("From", &um.party_info.from), ("To", &um.party_info.to)] {
        let id = match party.party_ids.as_slice() {
            [one] => one,
            ids => {
                return Err(As4Error::PartyIdCount {
                    side,
                    count: ids.len(),
                })
            }
        };
        if id.value.is_empty() {
            return Err(As4Error::EmptyPartyId { side });
        }
        if party.role.is_empty() {
            return Err(As4Error::EmptyRole { side });
        }
    }
    let collab = &um.collaboration_info;
    if collab.conversation_id.is_empty() {
        return Err(As4Error::EmptyConversationId);
    }
    if collab.service.value.is_empty() {
        return Err(As4Error::EmptyService);
    }
    if collab.action.is_empty() {
        return Err(As4Error::EmptyAction);
    }
    check_message_info(&um.message_info)?;
    if env.body_element_count > 0 {
        return Err(As4Error::BodyPayloadNotAllowed);
    }
    let mut seen = HashSet::new();
    for part in &um.payload_info {
        let href = part.href.as_deref().map(str::trim).unwrap_or("");
        if href.is_empty() {
            return Err(As4Error::BodyPayloadNotAllowed);
        }
        if !href.starts_with("cid:") || href.len() == 4 {
            return Err(As4Error::ExternalPayload {
                href: href.to_owned(),
            });
        }
        if !seen.insert(href) {
            return Err(As4Error::DuplicatePayloadReference {
                href: href.to_owned(),
            });
        }
        if let Some(c) = part.compression_type() {
            if c != GZIP_COMPRESSION {
                return Err(As4Error::UnsupportedCompression {
                    found: c.to_owned(),
                });
            }
            if part.mime_type().is_none() {
                return Err(As4Error::CompressedWithoutMimeType);
            }
        }
    }
    if rules.eessi {
        check_eessi(um)?;
    }
    Ok(())
}

fn require(
    element: &'static str,
    found: Option<&str>,
    expected: &'static str,
) -> Result<(), As4Error> {
    if found == Some(expected) {
        Ok(())
    } else {
        Err(As4Error::ProfileValue {
            element,
            found: found.unwrap_or_default().to_owned(),
            expected,
        })
    }
}

fn check_eessi(um: &UserMessage) -> Result<(), As4Error> {
    for party in [&um.party_info.from, &um.party_info.to] {
        let id = party.party_id().map(|p| p.party_type.as_deref());
        require("eb:PartyId/@type", id.flatten(), eessi::PARTY_ID_TYPE)?;
        require("eb:Role", Some(&party.role), eessi::ROLE_INSTITUTION)?;
    }
    if um.is_test_message() {
        return Ok(());
    }
    let collab = &um.collaboration_info;
    require("eb:Service", Some(&collab.service.value), eessi::SERVICE)?;
    require(
        "eb:Service/@type",
        collab.service.service_type.as_deref(),
        eessi::SERVICE_TYPE,
    )?;
    require("eb:Action", Some(&collab.action), eessi::ACTION_SEND)?;
    let first = um.payload_info.first();
    if first.and_then(PartInfo::part_type) != Some(PartType::Sed) {
        return Err(As4Error::SedNotFirst {
            found: first
                .and_then(|p| p.property("PartType"))
                .map(str::to_owned),
        });
    }
    Ok(())
}

fn check_signal_message(sm: &SignalMessage) -> Result<(), As4Error> {
    check_message_info(&sm.message_info)?;
    if sm.receipt.is_some() && sm.message_info.ref_to_message_id.is_none() {
        return Err(As4Error::ReceiptWithoutRef);
    }
    Ok(())
}

/// Every `cid:` PartInfo has exactly one MIME part and every MIME part (other than the root)
/// is referenced. `content_ids` are the attachment Content-IDs without angle brackets
/// (`None` for a part without one); usable while streaming, once all part headers are known.
pub fn check_attachments(env: &As4Envelope, content_ids: &[Option<&str>]) -> Result<(), As4Error> {
    let mut ids = HashSet::new();
    for id in content_ids {
        let Some(id) = id else {
            return Err(As4Error::UnreferencedPart { content_id: None });
        };
        if !ids.insert(*id) {
            return Err(As4Error::DuplicateContentId {
                content_id: (*id).to_owned(),
            });
        }
    }
    let mut referenced = HashSet::new();
    for part in env.user_messages().flat_map(|um| &um.payload_info) {
        if let Some(cid) = part.content_id() {
            if !ids.contains(cid) {
                return Err(As4Error::MissingPayloadPart {
                    content_id: cid.to_owned(),
                });
            }
            referenced.insert(cid);
        }
    }
    for id in ids {
        if !referenced.contains(id) {
            return Err(As4Error::UnreferencedPart {
                content_id: Some(id.to_owned()),
            });
        }
    }
    Ok(())
}
