//! The MISSOC model: countries, editions, tables I–XII, categories, entries and the
//! views built from them (a comparison, a diff, a publication). Pure values, no I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use sedgate_base::domain::CountryCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{0:?} is not a MISSOC country (EU 27, IS, LI, NO, CH)")]
    Country(String),
    #[error("{0:?} is not a language of MISSOC (en, fr, de)")]
    Language(String),
    #[error("{0:?} is not a MISSOC table (I to XII)")]
    Table(String),
    #[error("{0:?} is not a category code (table numeral, '-', number, e.g. VI-8; or ORG)")]
    Category(String),
    #[error(
        "{0:?} is not an edition: editions are dated 1 January or 1 July (YYYY-01-01, YYYY-07-01)"
    )]
    Edition(String),
    #[error("{0:?} is not an edition state (open, in_review, published)")]
    EditionState(String),
    #[error(
        "{0:?} is not a change-set state (draft, submitted, accepted, sent_back, carried_over)"
    )]
    ChangeSetState(String),
    #[error("{0:?} is not a role (secretariat, correspondent, reader)")]
    Role(String),
}

/// The 31 MISSOC countries: the EU 27, the EEA (IS, LI, NO) and Switzerland.
/// Written as EESSI writes them (`EL` for Greece).
pub const MISSOC_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// A MISSOC country code (an EESSI country that MISSOC covers).
pub fn missoc_country(code: &str) -> Result<CountryCode, ModelError> {
    if MISSOC_COUNTRIES.contains(&code) {
        code.parse()
            .map_err(|_| ModelError::Country(code.to_owned()))
    } else {
        Err(ModelError::Country(code.to_owned()))
    }
}

/// The three publication languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Fr,
    De,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Fr, Language::De];

    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::De => "de",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "en" => Ok(Language::En),
            "fr" => Ok(Language::Fr),
            "de" => Ok(Language::De),
            _ => Err(ModelError::Language(s.to_owned())),
        }
    }
}

/// A text in the three languages; a missing language stays missing (never filled in
/// from another one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub de: Option<String>,
}

impl Localized {
    pub fn get(&self, language: Language) -> Option<&str> {
        match language {
            Language::En => self.en.as_deref(),
            Language::Fr => self.fr.as_deref(),
            Language::De => self.de.as_deref(),
        }
    }

    pub fn set(&mut self, language: Language, text: Option<String>) {
        let slot = match language {
            Language::En => &mut self.en,
            Language::Fr => &mut self.fr,
            Language::De => &mut self.de,
        };
        *slot = text;
    }

    /// The languages this text lacks.
    pub fn missing(&self) -> Vec<Language> {
        Language::ALL
            .into_iter()
            .filter(|l| self.get(*l).is_none())
            .collect()
    }
}

/// The EESSI business sectors a MISSOC table maps to (BUC prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EessiSector {
    /// Sickness (S_BUC_*): health care, sickness cash, maternity/paternity, long-term care.
    S,
    /// Pensions (P_BUC_*): invalidity, old age, survivors.
    P,
    /// Accidents at work and occupational diseases (AW_BUC_*).
    AW,
    /// Family benefits (FB_BUC_*).
    FB,
    /// Unemployment (UB_BUC_*).
    UB,
}

impl EessiSector {
    /// The BUC name prefix, e.g. `P_BUC_`.
    pub fn buc_prefix(self) -> &'static str {
        match self {
            EessiSector::S => "S_BUC_",
            EessiSector::P => "P_BUC_",
            EessiSector::AW => "AW_BUC_",
            EessiSector::FB => "FB_BUC_",
            EessiSector::UB => "UB_BUC_",
        }
    }
}

/// A comparative table, I to XII.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableNo(u8);

const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

/// Titles and sector of each table, in table order.
const TABLES: [(&str, &str, &str, Option<EessiSector>); 12] = [
    ("Financing", "Financement", "Finanzierung", None),
    (
        "Health care",
        "Soins de santé",
        "Gesundheitsversorgung",
        Some(EessiSector::S),
    ),
    (
        "Sickness - Cash benefits",
        "Maladie - Prestations en espèces",
        "Krankheit - Geldleistungen",
        Some(EessiSector::S),
    ),
    (
        "Maternity/Paternity",
        "Maternité/Paternité",
        "Mutterschaft/Vaterschaft",
        Some(EessiSector::S),
    ),
    (
        "Invalidity",
        "Invalidité",
        "Invalidität",
        Some(EessiSector::P),
    ),
    ("Old age", "Vieillesse", "Alter", Some(EessiSector::P)),
    (
        "Survivors",
        "Survivants",
        "Hinterbliebene",
        Some(EessiSector::P),
    ),
    (
        "Employment injuries and occupational diseases",
        "Accidents du travail et maladies professionnelles",
        "Arbeitsunfälle und Berufskrankheiten",
        Some(EessiSector::AW),
    ),
    (
        "Family benefits",
        "Prestations familiales",
        "Familienleistungen",
        Some(EessiSector::FB),
    ),
    (
        "Unemployment",
        "Chômage",
        "Arbeitslosigkeit",
        Some(EessiSector::UB),
    ),
    (
        "Guaranteed minimum resources",
        "Ressources minimum garanties",
        "Garantierte Mindestsicherung",
        None,
    ),
    (
        "Long-term care",
        "Soins de longue durée",
        "Langzeitpflege",
        Some(EessiSector::S),
    ),
];

impl TableNo {
    pub fn all() -> impl Iterator<Item = TableNo> {
        (1..=12).map(TableNo)
    }

    /// 1 to 12.
    pub fn number(self) -> u8 {
        self.0
    }

    pub fn roman(self) -> &'static str {
        ROMAN[usize::from(self.0 - 1)]
    }

    pub fn title(self, language: Language) -> &'static str {
        let (en, fr, de, _) = TABLES[usize::from(self.0 - 1)];
        match language {
            Language::En => en,
            Language::Fr => fr,
            Language::De => de,
        }
    }

    /// The EESSI sector whose institutions are competent for this table's benefits
    /// (none for financing and guaranteed minimum resources).
    pub fn sector(self) -> Option<EessiSector> {
        TABLES[usize::from(self.0 - 1)].3
    }
}

impl fmt::Display for TableNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.roman())
    }
}

impl FromStr for TableNo {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        ROMAN
            .iter()
            .position(|r| *r == s)
            .map(|i| TableNo(i as u8 + 1))
            .ok_or_else(|| ModelError::Table(s.to_owned()))
    }
}

impl Serialize for TableNo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.roman())
    }
}

impl<'de> Deserialize<'de> for TableNo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A category's stable code: `<table numeral>-<n>` (e.g. `VI-8`), or `ORG` for the
/// country's organisation overview (not part of a comparative table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryCode(String);

impl CategoryCode {
    pub const ORGANISATION: &'static str = "ORG";

    /// The organisation overview's code, `ORG`.
    pub fn organisation() -> CategoryCode {
        CategoryCode(Self::ORGANISATION.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The table this category belongs to; `None` for the organisation overview.
    pub fn table(&self) -> Option<TableNo> {
        let (table, _) = self.0.split_once('-')?;
        table.parse().ok()
    }

    /// The number within the table, for ordering (`VI-10` after `VI-9`).
    pub fn ordinal(&self) -> u32 {
        self.0
            .split_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }

    /// Table order, then number: the order of the printed tables.
    pub fn sort_key(&self) -> (u8, u32) {
        (self.table().map_or(0, TableNo::number), self.ordinal())
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CategoryCode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        if s == Self::ORGANISATION {
            return Ok(CategoryCode(s.to_owned()));
        }
        let bad = || ModelError::Category(s.to_owned());
        let (table, n) = s.split_once('-').ok_or_else(bad)?;
        table.parse::<TableNo>().map_err(|_| bad())?;
        let valid_number = !n.is_empty()
            && n.len() <= 3
            && n.bytes().all(|b| b.is_ascii_digit())
            && !n.starts_with('0');
        if !valid_number {
            return Err(bad());
        }
        Ok(CategoryCode(s.to_owned()))
    }
}

impl Serialize for CategoryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CategoryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A category of a table with its titles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: CategoryCode,
    pub title: Localized,
}

/// An edition, named by its date (1 January or 1 July), e.g. `2026-07-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EditionId(NaiveDate);

impl EditionId {
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The edition after this one (1 January → 1 July → 1 January of the next year).
    pub fn next(self) -> EditionId {
        let d = self.0;
        let next = if d.month() == 1 {
            NaiveDate::from_ymd_opt(d.year(), 7, 1)
        } else {
            NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
        };
        EditionId(next.unwrap_or(d))
    }
}

impl fmt::Display for EditionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for EditionId {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ModelError::Edition(s.to_owned()))?;
        if date.day() == 1 && (date.month() == 1 || date.month() == 7) && s.len() == 10 {
            Ok(EditionId(date))
        } else {
            Err(ModelError::Edition(s.to_owned()))
        }
    }
}

impl Serialize for EditionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EditionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

macro_rules! text_enum {
    ($name:ident, $err:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ModelError::$err(s.to_owned())),
                }
            }
        }
    };
}

/// Where an edition is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditionState {
    /// Correspondents may edit their country's entries.
    Open,
    /// Editing closed; the secretariat reviews the change sets.
    InReview,
    /// Immutable; visible to readers.
    Published,
}
text_enum!(EditionState, EditionState, {
    Open => "open", InReview => "in_review", Published => "published",
});

/// A country's set of changes for one edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSetState {
    Draft,
    Submitted,
    Accepted,
    /// Returned to the correspondent with comments; editable again.
    SentBack,
    /// The secretariat carries the previous edition's entries over unchanged.
    CarriedOver,
}
text_enum!(ChangeSetState, ChangeSetState, {
    Draft => "draft", Submitted => "submitted", Accepted => "accepted",
    SentBack => "sent_back", CarriedOver => "carried_over",
});

impl ChangeSetState {
    /// May the edition be published with this country in this state?
    pub fn is_final(self) -> bool {
        matches!(self, ChangeSetState::Accepted | ChangeSetState::CarriedOver)
    }
}

/// Who a MISSOC user is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Opens, reviews and publishes editions.
    Secretariat,
    /// Edits its own country only, in any of the three languages.
    Correspondent { country: CountryCode },
    /// Reads published editions only.
    Reader,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Secretariat => "secretariat",
            Role::Correspondent { .. } => "correspondent",
            Role::Reader => "reader",
        }
    }
}

/// The text of one (edition, country, category, language).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryText {
    /// Rich text: paragraphs separated by a blank line, list items starting with `- `.
    /// Stored and exported as written; rendered escaped.
    pub text: String,
    /// Legal references (e.g. "Act of 9 September 1955 (ASVG), §253").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_refs: Vec<String>,
}

/// One entry of an edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub country: CountryCode,
    pub category: CategoryCode,
    pub language: Language,
    #[serde(flatten)]
    pub content: EntryText,
    /// The edition in which this text was last changed (older than the entry's edition
    /// when it was carried forward unchanged).
    pub changed_in: EditionId,
}

/// One glossary term in the three languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlossaryTerm {
    /// Stable key, e.g. `pensionable-age`.
    pub key: String,
    pub term: Localized,
    pub definition: Localized,
}

/// What a comparison cell shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    Text {
        #[serde(flatten)]
        content: EntryText,
        changed_in: EditionId,
    },
    /// The entry exists in other languages but not in the one asked for.
    MissingTranslation { available_in: Vec<Language> },
    /// The country has no entry for this category.
    NoEntry,
}

/// A row of a comparison: one category across the chosen countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub category: CategoryCode,
    /// The title in the chosen language; `None` when that translation is missing.
    pub title: Option<String>,
    /// One cell per country, in the order of `Comparison::countries`.
    pub cells: Vec<Cell>,
}

/// Chosen countries × chosen categories of one edition, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub edition: EditionId,
    pub edition_state: EditionState,
    pub language: Language,
    pub countries: Vec<CountryCode>,
    pub rows: Vec<ComparisonRow>,
}

/// How one entry differs between two editions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum EntryChange {
    Added { after: EntryText },
    Removed { before: EntryText },
    Changed { before: EntryText, after: EntryText },
}

/// One changed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffItem {
    pub country: CountryCode,
    pub category: CategoryCode,
    pub language: Language,
    #[serde(flatten)]
    pub change: EntryChange,
}

/// What changed between two editions (for a country or a category); unchanged
/// entries are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditionDiff {
    pub from: EditionId,
    pub to: EditionId,
    pub items: Vec<DiffItem>,
}

/// Everything the PDF publication of one edition in one language needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub edition: EditionId,
    pub language: Language,
    /// Per country, its organisation overview (`ORG` entry) in this language, if any.
    pub overviews: BTreeMap<CountryCode, Cell>,
    /// One comparison per table (all countries, all of the table's categories).
    pub tables: Vec<(TableNo, Comparison)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_codes_parse_and_sort_in_table_order() {
        let mut codes: Vec<CategoryCode> = ["VI-10", "VI-8", "II-1", "ORG", "XII-2"]
            .iter()
            .map(|c| c.parse().expect("valid code"))
            .collect();
        codes.sort_by_key(CategoryCode::sort_key);
        let sorted: Vec<&str> = codes.iter().map(CategoryCode::as_str).collect();
        assert_eq!(sorted, ["ORG", "II-1", "VI-8", "VI-10", "XII-2"]);
        assert_eq!(codes[2].table().map(TableNo::roman), Some("VI"));
        for bad in [
            "VI", "XIII-1", "VI-0", "VI-08", "vi-8", "VI-", "-8", "VI-1a",
        ] {
            assert!(bad.parse::<CategoryCode>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn editions_are_first_of_january_or_july() {
        let e: EditionId = "2026-01-01".parse().expect("edition");
        assert_eq!(e.next().to_string(), "2026-07-01");
        assert_eq!(e.next().next().to_string(), "2027-01-01");
        for bad in ["2026-02-01", "2026-07-02", "2026-7-1", "26-07-01"] {
            assert!(bad.parse::<EditionId>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tables_map_to_eessi_sectors() {
        let sector = |r: &str| r.parse::<TableNo>().ok().and_then(TableNo::sector);
        assert_eq!(sector("I"), None);
        assert_eq!(sector("II"), Some(EessiSector::S));
        assert_eq!(sector("VI"), Some(EessiSector::P));
        assert_eq!(sector("VIII"), Some(EessiSector::AW));
        assert_eq!(sector("IX"), Some(EessiSector::FB));
        assert_eq!(sector("X"), Some(EessiSector::UB));
        assert_eq!(sector("XII"), Some(EessiSector::S));
        assert_eq!(TableNo::all().count(), 12);
    }

    #[test]
    fn only_the_31_missoc_countries() {
        assert_eq!(MISSOC_COUNTRIES.len(), 31);
        assert!(missoc_country("NO").is_ok());
        assert!(missoc_country("UK").is_err());
        assert!(missoc_country("EU").is_err());
    }

    #[test]
    fn a_missing_translation_stays_missing() {
        let mut t = Localized::default();
        t.set(Language::En, Some("Old age".into()));
        assert_eq!(t.get(Language::Fr), None);
        assert_eq!(t.missing(), vec![Language::Fr, Language::De]);
    }
}
