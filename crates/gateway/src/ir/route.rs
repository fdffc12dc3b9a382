//! The routing decision taken when a back office hands in a SED: may this sender send it,
//! does the receiver exist and take part in the BUC, and which access point serves it.

use chrono::{DateTime, Utc};

use crate::ir::index::IrIndex;
use crate::ir::model::{AccessPoint, Institution};
use sedgate_base::domain::{BucRole, BucType, CountryCode, InstitutionId};

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
        if recorded
            && sender
                .competence_on(&query.buc, Some(role), query.on)
                .is_none()
        {
            return Err(RouteError::SenderNotCompetent {
                id: sender.id.clone(),
                buc: query.buc.clone(),
                role,
            });
        }
    }
    let access_point =
        index
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::test_data::{id, utc, REAL_INDEX};

    /// NO:NAVAT07 (Norway) sends a P_BUC_01 to SE:ACC2001 (Sweden) as its counterparty.
    fn query() -> RouteQuery {
        RouteQuery {
            home_country: "NO".parse().unwrap(),
            sender: id("NO:NAVAT07"),
            receiver: id("SE:ACC2001"),
            buc: "P_BUC_01".parse().unwrap(),
            receiver_role: Some(BucRole::CounterParty),
            sender_role: Some(BucRole::CaseOwner),
            on: utc(2024, 3, 1, 12, 0, 0),
        }
    }

    fn refused(query: RouteQuery) -> RouteError {
        route(&REAL_INDEX, &query).unwrap_err()
    }

    #[test]
    fn routes_to_the_receivers_access_point() {
        let route = route(&REAL_INDEX, &query()).unwrap();
        assert_eq!(route.receiver_country.as_str(), "SE");
        assert_eq!(route.receiver.id.as_str(), "SE:ACC2001");
        assert_eq!(
            route.access_point.endpoint_url,
            "https://as4.se.example:8443/as4"
        );
        // Without roles any competence for the BUC will do.
        let any_role = RouteQuery {
            receiver_role: None,
            sender_role: None,
            ..query()
        };
        assert!(super::route(&REAL_INDEX, &any_role).is_ok());
    }

    #[test]
    fn refuses_a_sender_of_another_country() {
        let err = refused(RouteQuery {
            sender: id("SE:ACC2001"),
            receiver: id("NO:NAVAT07"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::SenderNotOfThisGateway {
                sender: id("SE:ACC2001"),
                home: "NO".parse().unwrap()
            }
        );
        assert_eq!(err.code(), "sender_not_of_this_gateway");
        assert_eq!(
            err.to_string(),
            "sender SE:ACC2001 belongs to SE, not to this gateway's country NO"
        );
    }

    #[test]
    fn refuses_unknown_sender_and_receiver() {
        let err = refused(RouteQuery {
            sender: id("NO:NOSUCH1"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::UnknownSender {
                sender: id("NO:NOSUCH1")
            }
        );
        assert_eq!(err.code(), "unknown_sender");
        let err = refused(RouteQuery {
            receiver: id("SE:NOSUCH1"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::UnknownReceiver {
                receiver: id("SE:NOSUCH1")
            }
        );
        assert_eq!(err.code(), "unknown_receiver");
        assert_eq!(
            err.to_string(),
            "receiver SE:NOSUCH1 is not in the institution repository"
        );
    }

    #[test]
    fn refuses_a_receiver_in_the_same_country() {
        let err = refused(RouteQuery {
            receiver: id("NO:NAVAT05"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::SameCountry {
                receiver: id("NO:NAVAT05"),
                country: "NO".parse().unwrap()
            }
        );
        assert_eq!(err.code(), "same_country");
    }

    #[test]
    fn refuses_a_receiver_never_activated() {
        // BE:0206737385 (FAMIFED) has activation NULL in Organisations.csv.
        let err = refused(RouteQuery {
            receiver: id("BE:0206737385"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::ReceiverNotActive {
                id: id("BE:0206737385")
            }
        );
        assert_eq!(err.code(), "receiver_not_active");
    }

    #[test]
    fn refuses_a_receiver_before_its_activation() {
        // AT:9900 was activated on 31 January 2021 and holds P_BUC_01 as CounterParty.
        let on = utc(2020, 6, 1, 0, 0, 0);
        let err = refused(RouteQuery {
            receiver: id("AT:9900"),
            on,
            ..query()
        });
        assert_eq!(
            err,
            RouteError::ReceiverNotValidOn {
                id: id("AT:9900"),
                on
            }
        );
        assert_eq!(err.code(), "receiver_not_valid_on");
        assert_eq!(
            err.to_string(),
            "receiver AT:9900 is not valid on 2020-06-01 00:00:00 UTC"
        );
        let after = RouteQuery {
            receiver: id("AT:9900"),
            on: utc(2021, 1, 31, 0, 0, 0),
            ..query()
        };
        assert_eq!(
            route(&REAL_INDEX, &after)
                .unwrap()
                .receiver_country
                .as_str(),
            "AT"
        );
    }

    #[test]
    fn refuses_a_receiver_not_competent() {
        // AT:2P00 (OEBB) holds only P and H BUCs.
        let err = refused(RouteQuery {
            receiver: id("AT:2P00"),
            buc: "LA_BUC_04".parse().unwrap(),
            sender_role: None,
            ..query()
        });
        assert_eq!(
            err,
            RouteError::ReceiverNotCompetent {
                id: id("AT:2P00"),
                buc: "LA_BUC_04".parse().unwrap(),
                role: Some(BucRole::CounterParty)
            }
        );
        assert_eq!(err.code(), "receiver_not_competent");
        assert_eq!(
            err.to_string(),
            "receiver AT:2P00 is not competent for LA_BUC_04 as CounterParty on that date"
        );
        // PL:PL390050ER holds P_BUC_03 as CounterParty, but not EESSI-ready; as CaseOwner it is.
        let zus = RouteQuery {
            receiver: id("PL:PL390050ER"),
            buc: "P_BUC_03".parse().unwrap(),
            sender_role: None,
            ..query()
        };
        assert_eq!(refused(zus.clone()).code(), "receiver_not_competent");
        let as_case_owner = RouteQuery {
            receiver_role: Some(BucRole::CaseOwner),
            ..zus
        };
        assert!(route(&REAL_INDEX, &as_case_owner).is_ok());
    }

    #[test]
    fn refuses_a_sender_not_competent() {
        // NO:NAVAT07 holds no AW_BUC_01a; AT:9900 does, in both roles.
        let err = refused(RouteQuery {
            receiver: id("AT:9900"),
            buc: "AW_BUC_01a".parse().unwrap(),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::SenderNotCompetent {
                id: id("NO:NAVAT07"),
                buc: "AW_BUC_01a".parse().unwrap(),
                role: BucRole::CaseOwner
            }
        );
        assert_eq!(err.code(), "sender_not_competent");
        // NO:0104 is in Organisations.csv only: no competences recorded, so not checked.
        let csv_only_sender = RouteQuery {
            sender: id("NO:0104"),
            receiver: id("AT:9900"),
            buc: "AW_BUC_01a".parse().unwrap(),
            ..query()
        };
        assert!(route(&REAL_INDEX, &csv_only_sender).is_ok());
    }

    #[test]
    fn refuses_a_country_without_access_point() {
        // IS:6602692669 is active and competent, but no access point is configured for IS.
        let err = refused(RouteQuery {
            receiver: id("IS:6602692669"),
            ..query()
        });
        assert_eq!(
            err,
            RouteError::NoAccessPoint {
                country: "IS".parse().unwrap()
            }
        );
        assert_eq!(err.code(), "no_access_point");
        assert_eq!(err.to_string(), "no access point is configured for IS");
    }
}
