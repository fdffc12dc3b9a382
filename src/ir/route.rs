//! The routing decision taken when a back office hands in a SED: may this sender send it,
//! does the receiver exist and take part in the BUC, and which access point serves it.

use chrono::{DateTime, Utc};

use crate::domain::{BucRole, BucType, CountryCode, InstitutionId};
use crate::ir::index::IrIndex;
use crate::ir::model::{AccessPoint, Institution};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQuery {
    /// The country this gateway serves.
    pub home_country: CountryCode,
    pub sender: InstitutionId,
    pub receiver: InstitutionId,
    pub buc: BucType,
    pub receiver_role: Option<BucRole>,
    pub sender_role: Option<BucRole>,
    pub on: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub receiver_country: CountryCode,
    pub access_point: AccessPoint,
    pub receiver: Institution,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("sender {sender} belongs to {}, not to this gateway's country {home}", sender.country())]
    SenderNotOfThisGateway {
        sender: InstitutionId,
        home: CountryCode,
    },
    #[error("sender {sender} is not in the institution repository")]
    UnknownSender { sender: InstitutionId },
    #[error("receiver {receiver} is not in the institution repository")]
    UnknownReceiver { receiver: InstitutionId },
    #[error("receiver {receiver} is in {country}, this gateway's own country; EESSI carries only cross-border exchanges")]
    SameCountry {
        receiver: InstitutionId,
        country: CountryCode,
    },
    #[error("receiver {id} is not active in EESSI (never activated or not EESSI-ready)")]
    ReceiverNotActive { id: InstitutionId },
    #[error("receiver {id} is not valid on {on}")]
    ReceiverNotValidOn {
        id: InstitutionId,
        on: DateTime<Utc>,
    },
    #[error("receiver {id} is not competent for {buc}{} on that date", role_suffix(*.role))]
    ReceiverNotCompetent {
        id: InstitutionId,
        buc: BucType,
        role: Option<BucRole>,
    },
    #[error("sender {id} is not competent for {buc} as {} on that date", role.as_str())]
    SenderNotCompetent {
        id: InstitutionId,
        buc: BucType,
        role: BucRole,
    },
    #[error("no access point is configured for {country}")]
    NoAccessPoint { country: CountryCode },
}

fn role_suffix(role: Option<BucRole>) -> String {
    role.map(|r| format!(" as {}", r.as_str()))
        .unwrap_or_default()
}

impl RouteError {
    /// A stable machine-readable code for API problems and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SenderNotOfThisGateway { .. } => "sender_not_of_this_gateway",
            Self::UnknownSender { .. } => "unknown_sender",
            Self::UnknownReceiver { .. } => "unknown_receiver",
            Self::SameCountry { .. } => "same_country",
            Self::ReceiverNotActive { .. } => "receiver_not_active",
            Self::ReceiverNotValidOn { .. } => "receiver_not_valid_on",
            Self::ReceiverNotCompetent { .. } => "receiver_not_competent",
            Self::SenderNotCompetent { .. } => "sender_not_competent",
            Self::NoAccessPoint { .. } => "no_access_point",
        }
    }
}

/// Decides where a SED goes, checking in this order: the sender is ours and known, the
/// receiver is known, abroad, active, valid and competent, the sender is competent (see
/// below), and the receiver's country has an access point.
///
/// The sender's competence is checked only when `sender_role` is given and the IR records
/// competences for the sender. A sender with no competences at all is known only from a
/// source without them (such as `Organisations.csv`) and is let through: refusing it would
/// make such an IR unusable for sending. A sender whose competences are recorded must hold
/// one for the BUC in that role, usable on the date.
pub fn route(index: &IrIndex, query: &RouteQuery) -> Result<Route, RouteError> {
    if query.sender.country() != query.home_country {
        return Err(RouteError::SenderNotOfThisGateway {
            sender: query.sender.clone(),
            home: query.home_country.clone(),
        });
    }
    let sender = index
        .get(&query.sender)
        .ok_or_else(|| RouteError::UnknownSender {
            sender: query.sender.clone(),
        })?;
    let receiver = index
        .get(&query.receiver)
        .ok_or_else(|| RouteError::UnknownReceiver {
            receiver: query.receiver.clone(),
        })?;
    if receiver.country == query.home_country {
        return Err(RouteError::SameCountry {
            receiver: receiver.id.clone(),
            country: receiver.country.clone(),
        });
    }
    if !receiver.eessi_ready {
        return Err(RouteError::ReceiverNotActive {
            id: receiver.id.clone(),
        });
    }
    if !receiver.is_valid_on(query.on) {
        return Err(RouteError::ReceiverNotValidOn {
            id: receiver.id.clone(),
            on: query.on,
        });
    }
    if receiver
        .competence_on(&query.buc, query.receiver_role, query.on)
        .is_none()
    {
        return Err(RouteError::ReceiverNotCompetent {
            id: receiver.id.clone(),
            buc: query.buc.clone(),
            role: query.receiver_role,
        });
    }
    if let Some(role) = query.sender_role {
        let recorded = !sender.competences.is_empty();
        if recorded && sender.competence_on(&query.buc, Some(role), query.on).is_none() {
            return Err(RouteError::SenderNotCompetent {
                id: sender.id.clone(),
                buc: query.buc.clone(),
                role,
            });
        }
    }
    let access_point = index
        .access_point(&receiver.country)
        .ok_or_else(|| RouteError::NoAccessPoint {
            country: receiver.country.clone(),
        })?;
    Ok(Route {
        receiver_country: receiver.country.clone(),
        access_point: access_point.clone(),
        receiver: receiver.clone(),
    })
}
