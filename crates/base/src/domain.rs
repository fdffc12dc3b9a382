//! Newtypes for the identifiers that cross module boundaries. Each has one `FromStr`
//! that is the only way in, so inner code never sees an unchecked string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("institution id {0:?} is not of the form CC:ID (two-letter country code, colon, 1-32 letters, digits, '-', '_' or '.')")]
    Institution(String),
    #[error("country code {0:?} is not an EESSI country code")]
    Country(String),
    #[error("BUC type {0:?} is not of the form SECTOR_BUC_NN (e.g. P_BUC_01)")]
    Buc(String),
    #[error("SED type {0:?} is not a SED type (e.g. P2000, A001, X005)")]
    Sed(String),
    #[error("CDM version {0:?} is not one of 4.1, 4.2, 4.3, 4.4")]
    Cdm(String),
    #[error("message id {0:?} is not of the form local@domain")]
    Message(String),
    #[error("case id {0:?} must be 1-64 characters of letters, digits, '-', '_', ':' or '.'")]
    Case(String),
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }
    };
}

/// The 32 countries of EESSI (EU 27, EEA, Switzerland, the UK) plus `EU` for
/// EU-level bodies. `EL` is Greece and `UK` the United Kingdom, as EESSI writes them.
pub const EESSI_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "EU", "FI", "FR", "HR", "HU",
    "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
    "UK",
];

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(String);
string_newtype!(CountryCode);

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for CountryCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if EESSI_COUNTRIES.contains(&s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Country(s.to_owned()))
        }
    }
}

/// An institution id `CC:ID`, e.g. `AT:9900`, `NO:NAVAT07`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionId(String);
string_newtype!(InstitutionId);

impl fmt::Debug for InstitutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl InstitutionId {
    pub fn country(&self) -> CountryCode {
        // Checked on construction: the first two characters are a known country code.
        CountryCode(self.0[..2].to_owned())
    }
}

impl FromStr for InstitutionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::Institution(s.to_owned());
        let (cc, local) = s.split_once(':').ok_or_else(bad)?;
        cc.parse::<CountryCode>().map_err(|_| bad())?;
        let ok_local = !local.is_empty()
            && local.len() <= 32
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok_local {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }
}

/// A BUC type such as `P_BUC_01`, `LA_BUC_04`, `H_BUC_01`, `AD_BUC_01`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucType(String);
string_newtype!(BucType);

impl BucType {
    /// The sector prefix, e.g. `P` for `P_BUC_01`.
    pub fn sector(&self) -> &str {
        self.0.split('_').next().unwrap_or_default()
    }
}

impl FromStr for BucType {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut parts = s.split('_');
        let ok = matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(sector), Some("BUC"), Some(num), None)
                if (1..=3).contains(&sector.len())
                    && sector.bytes().all(|b| b.is_ascii_uppercase())
                    && (1..=4).contains(&num.len())
                    && num.bytes().all(|b| b.is_ascii_alphanumeric())
        );
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Buc(s.to_owned()))
        }
    }
}

/// A SED type such as `P2000`, `A001`, `X005`, `H001`, `DA010`, `S040`, and the
/// document variants with a letter suffix such as `DA003A`, `U001CB`, `S053R`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SedType(String);
string_newtype!(SedType);

impl FromStr for SedType {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let letters = s.bytes().take_while(|b| b.is_ascii_uppercase()).count();
        let rest = &s[letters..];
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        let suffix = &rest[digits..];
        let ok = (1..=3).contains(&letters)
            && (3..=5).contains(&digits)
            && suffix.len() <= 2
            && suffix.bytes().all(|b| b.is_ascii_uppercase());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Sed(s.to_owned()))
        }
    }
}

/// A CDM (common data model) version; SED namespaces carry it as `4_2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CdmVersion {
    V4_1,
    V4_2,
    V4_3,
    V4_4,
}

impl CdmVersion {
    pub const ALL: [CdmVersion; 4] = [Self::V4_1, Self::V4_2, Self::V4_3, Self::V4_4];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4_1 => "4.1",
            Self::V4_2 => "4.2",
            Self::V4_3 => "4.3",
            Self::V4_4 => "4.4",
        }
    }

    /// The form used in SED namespaces: `4_2`.
    pub fn namespace_segment(self) -> &'static str {
        match self {
            Self::V4_1 => "4_1",
            Self::V4_2 => "4_2",
            Self::V4_3 => "4_3",
            Self::V4_4 => "4_4",
        }
    }
}

impl fmt::Display for CdmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CdmVersion {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| IdError::Cdm(s.to_owned()))
    }
}

impl Serialize for CdmVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CdmVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// An ebMS MessageId: `local@domain` (RFC 2822 msg-id without angle brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);
string_newtype!(MessageId);

impl MessageId {
    /// A fresh id `uuid@domain`.
    pub fn generate(domain: &str) -> Self {
        Self(format!("{}@{}", uuid::Uuid::new_v4(), domain))
    }
}

impl FromStr for MessageId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = s.len() <= 255
            && matches!(s.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'))
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Message(s.to_owned()))
        }
    }
}

/// A case (BUC instance) id; the ebMS ConversationId.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId(String);
string_newtype!(CaseId);

impl FromStr for CaseId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Case(s.to_owned()))
        }
    }
}

/// The role an institution plays in a BUC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BucRole {
    CaseOwner,
    CounterParty,
}

impl BucRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaseOwner => "CaseOwner",
            Self::CounterParty => "CounterParty",
        }
    }
}

impl FromStr for BucRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "CaseOwner" | "PO" => Ok(Self::CaseOwner),
            "CounterParty" | "CP" => Ok(Self::CounterParty),
            other => Err(format!(
                "unknown BUC role {other:?} (CaseOwner or CounterParty)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_institution_ids() {
        for id in [
            "AT:9900",
            "NO:NAVAT07",
            "UK:UK001",
            "NO:noinst002",
            "EL:1234",
        ] {
            let parsed: InstitutionId = id.parse().expect(id);
            assert_eq!(parsed.as_str(), id);
        }
        assert_eq!(
            "NO:NAVAT07"
                .parse::<InstitutionId>()
                .unwrap()
                .country()
                .as_str(),
            "NO"
        );
    }

    #[test]
    fn refuses_bad_institution_ids() {
        for id in ["AT9900", "XX:1", "at:9900", "AT:", "AT:a b", ":1", "AT:1:2"] {
            assert!(id.parse::<InstitutionId>().is_err(), "{id} accepted");
        }
    }

    #[test]
    fn parses_buc_sed_cdm() {
        assert_eq!("LA_BUC_04".parse::<BucType>().unwrap().sector(), "LA");
        assert!("P_BUC_1X_".parse::<BucType>().is_err());
        assert!("P2000".parse::<SedType>().is_ok());
        assert!("DA010".parse::<SedType>().is_ok());
        assert!("P20".parse::<SedType>().is_err());
        assert!("DA003A".parse::<SedType>().is_ok());
        assert!("U001CB".parse::<SedType>().is_ok());
        assert!("P2000abc".parse::<SedType>().is_err());
        assert_eq!(
            "4.2".parse::<CdmVersion>().unwrap().namespace_segment(),
            "4_2"
        );
        assert!("4.5".parse::<CdmVersion>().is_err());
        assert!("a@b".parse::<MessageId>().is_ok());
        assert!("ab".parse::<MessageId>().is_err());
    }
}
