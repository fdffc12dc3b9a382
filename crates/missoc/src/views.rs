//! Views built from an edition's stored values: a comparison (countries × categories in
//! one language), the publication, the review's list of missing translations, glossary
//! search. Pure functions; a missing translation is always shown as missing, never
//! filled in from another language.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{
    Category, CategoryCode, Cell, Comparison, ComparisonRow, EditionId, EditionState, Entry,
    GlossaryTerm, Language, Publication, TableNo,
};
use sedgate_base::domain::CountryCode;

/// The countries that have at least one entry, in code order.
pub fn countries_with_entries(entries: &[Entry]) -> Vec<CountryCode> {
    entries
        .iter()
        .map(|e| e.country.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Categories in table order (the organisation overview first).
pub fn sort_categories(categories: &mut [Category]) {
    categories.sort_by(|a, b| {
        (a.code.sort_key(), a.code.as_str()).cmp(&(b.code.sort_key(), b.code.as_str()))
    });
}

type EntryKey<'a> = (&'a CountryCode, &'a CategoryCode);

fn by_country_category(entries: &[Entry]) -> BTreeMap<EntryKey<'_>, Vec<&Entry>> {
    let mut map: BTreeMap<EntryKey<'_>, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        map.entry((&e.country, &e.category)).or_default().push(e);
    }
    map
}

/// The cell of one country and category in `language`.
pub fn cell(language: Language, found: Option<&Vec<&Entry>>) -> Cell {
    let Some(found) = found.filter(|f| !f.is_empty()) else {
        return Cell::NoEntry;
    };
    match found.iter().find(|e| e.language == language) {
        Some(e) => Cell::Text {
            content: e.content.clone(),
            changed_in: e.changed_in,
        },
        None => {
            let mut available_in: Vec<Language> = found.iter().map(|e| e.language).collect();
            available_in.sort();
            available_in.dedup();
            Cell::MissingTranslation { available_in }
        }
    }
}

/// Compares `countries` × `categories` (both in the order given) of one edition.
pub fn comparison(
    edition: EditionId,
    edition_state: EditionState,
    language: Language,
    countries: &[CountryCode],
    categories: &[Category],
    entries: &[Entry],
) -> Comparison {
    let index = by_country_category(entries);
    let rows = categories
        .iter()
        .map(|category| ComparisonRow {
            category: category.code.clone(),
            title: category.title.get(language).map(str::to_owned),
            cells: countries
                .iter()
                .map(|country| cell(language, index.get(&(country, &category.code))))
                .collect(),
        })
        .collect();
    Comparison {
        edition,
        edition_state,
        language,
        countries: countries.to_vec(),
        rows,
    }
}

/// The publication of an edition in one language: each country's organisation overview
/// and one comparison per table that has categories (all countries with entries).
pub fn publication(
    edition: EditionId,
    edition_state: EditionState,
    language: Language,
    categories: &[Category],
    entries: &[Entry],
) -> Publication {
    let countries = countries_with_entries(entries);
    let index = by_country_category(entries);
    let org: CategoryCode = CategoryCode::organisation();
    let overviews = countries
        .iter()
        .map(|c| (c.clone(), cell(language, index.get(&(c, &org)))))
        .collect();
    let mut sorted = categories.to_vec();
    sort_categories(&mut sorted);
    let tables = TableNo::all()
        .filter_map(|table| {
            let of_table: Vec<Category> = sorted
                .iter()
                .filter(|c| c.code.table() == Some(table))
                .cloned()
                .collect();
            (!of_table.is_empty()).then(|| {
                (
                    table,
                    comparison(
                        edition,
                        edition_state,
                        language,
                        &countries,
                        &of_table,
                        entries,
                    ),
                )
            })
        })
        .collect();
    Publication {
        edition,
        language,
        overviews,
        tables,
    }
}

/// An entry present in some languages but not all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingEntryTranslation {
    pub country: CountryCode,
    pub category: CategoryCode,
    pub available_in: Vec<Language>,
    pub missing: Vec<Language>,
}

/// A category whose title lacks a language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingTitle {
    pub category: CategoryCode,
    pub missing: Vec<Language>,
}

/// Every entry that lacks a language, by country then table order.
pub fn missing_entry_translations(entries: &[Entry]) -> Vec<MissingEntryTranslation> {
    let mut out: Vec<MissingEntryTranslation> = by_country_category(entries)
        .into_iter()
        .filter_map(|((country, category), found)| {
            let available: BTreeSet<Language> = found.iter().map(|e| e.language).collect();
            let missing: Vec<Language> = Language::ALL
                .into_iter()
                .filter(|l| !available.contains(l))
                .collect();
            (!missing.is_empty()).then(|| MissingEntryTranslation {
                country: country.clone(),
                category: category.clone(),
                available_in: available.into_iter().collect(),
                missing,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.country.as_str(), a.category.sort_key())
            .cmp(&(b.country.as_str(), b.category.sort_key()))
    });
    out
}

/// Every category whose title lacks a language, in table order.
pub fn missing_titles(categories: &[Category]) -> Vec<MissingTitle> {
    let mut sorted = categories.to_vec();
    sort_categories(&mut sorted);
    sorted
        .into_iter()
        .filter_map(|c| {
            let missing = c.title.missing();
            (!missing.is_empty()).then_some(MissingTitle {
                category: c.code,
                missing,
            })
        })
        .collect()
}

/// Does the term or its definition contain `q` (case-insensitive), in `language` or, without
/// one, in any language? An empty query matches everything.
pub fn glossary_matches(term: &GlossaryTerm, q: &str, language: Option<Language>) -> bool {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let languages: Vec<Language> = language.map_or_else(|| Language::ALL.to_vec(), |l| vec![l]);
    languages.into_iter().any(|l| {
        [term.term.get(l), term.definition.get(l)]
            .into_iter()
            .flatten()
            .any(|text| text.to_lowercase().contains(&q))
    })
}

/// An entry for unit tests (no legal references).
#[cfg(test)]
pub(crate) fn test_entry(
    country: &str,
    category: &str,
    language: Language,
    text: &str,
    changed_in: &str,
) -> Entry {
    Entry {
        country: country.parse().expect("test country"),
        category: category.parse().expect("test category"),
        language,
        content: super::model::EntryText {
            text: text.into(),
            legal_refs: vec![],
        },
        changed_in: changed_in.parse().expect("test edition"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Localized;

    fn entry(country: &str, category: &str, language: Language, text: &str) -> Entry {
        test_entry(country, category, language, text, "2026-01-01")
    }

    fn category(code: &str, en: Option<&str>, fr: Option<&str>) -> Category {
        Category {
            code: code.parse().unwrap(),
            title: Localized {
                en: en.map(Into::into),
                fr: fr.map(Into::into),
                de: None,
            },
        }
    }

    fn fixture() -> (Vec<Category>, Vec<Entry>) {
        (
            vec![
                category("VI-8", Some("Pensionable age"), Some("Âge")),
                category("II-1", Some("Coverage"), None),
            ],
            vec![
                entry("AT", "VI-8", Language::En, "65"),
                entry("AT", "VI-8", Language::De, "65 Jahre"),
                entry("DE", "VI-8", Language::Fr, "67 ans"),
                entry("AT", "ORG", Language::En, "Organisation of AT"),
            ],
        )
    }

    #[test]
    fn a_missing_translation_is_shown_as_missing_never_as_another_language() {
        let (categories, entries) = fixture();
        let countries: Vec<CountryCode> = ["AT", "DE", "FR"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let c = comparison(
            "2026-01-01".parse().unwrap(),
            EditionState::Published,
            Language::Fr,
            &countries,
            &categories,
            &entries,
        );
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].title.as_deref(), Some("Âge"));
        assert_eq!(
            c.rows[0].cells[0],
            Cell::MissingTranslation {
                available_in: vec![Language::En, Language::De]
            }
        );
        assert!(
            matches!(&c.rows[0].cells[1], Cell::Text { content, .. } if content.text == "67 ans")
        );
        assert_eq!(c.rows[0].cells[2], Cell::NoEntry);
        assert_eq!(
            c.rows[1].title, None,
            "no French title, and no English one instead"
        );
        assert_eq!(c.rows[1].cells, vec![Cell::NoEntry; 3]);
    }

    #[test]
    fn the_review_lists_every_missing_translation() {
        let (categories, entries) = fixture();
        let missing = missing_entry_translations(&entries);
        let listed: Vec<(&str, &str, Vec<Language>)> = missing
            .iter()
            .map(|m| (m.country.as_str(), m.category.as_str(), m.missing.clone()))
            .collect();
        assert_eq!(
            listed,
            [
                ("AT", "ORG", vec![Language::Fr, Language::De]),
                ("AT", "VI-8", vec![Language::Fr]),
                ("DE", "VI-8", vec![Language::En, Language::De]),
            ]
        );
        let titles = missing_titles(&categories);
        assert_eq!(titles.len(), 2);
        assert_eq!(titles[0].category.as_str(), "II-1");
        assert_eq!(titles[0].missing, [Language::Fr, Language::De]);
        assert_eq!(titles[1].missing, [Language::De]);
    }

    #[test]
    fn the_publication_has_overviews_and_one_comparison_per_table() {
        let (categories, entries) = fixture();
        let p = publication(
            "2026-01-01".parse().unwrap(),
            EditionState::Published,
            Language::En,
            &categories,
            &entries,
        );
        let tables: Vec<&str> = p.tables.iter().map(|(t, _)| t.roman()).collect();
        assert_eq!(tables, ["II", "VI"]);
        assert_eq!(p.tables[1].1.countries.len(), 2);
        let at: CountryCode = "AT".parse().unwrap();
        let de: CountryCode = "DE".parse().unwrap();
        assert!(
            matches!(&p.overviews[&at], Cell::Text { content, .. } if content.text.contains("AT"))
        );
        assert_eq!(p.overviews[&de], Cell::NoEntry);
    }

    #[test]
    fn glossary_search_is_case_insensitive_and_per_language() {
        let term = GlossaryTerm {
            key: "pensionable-age".into(),
            term: Localized {
                en: Some("Pensionable age".into()),
                fr: Some("Âge de la retraite".into()),
                de: None,
            },
            definition: Localized {
                en: Some("The age at which a pension can be drawn.".into()),
                ..Localized::default()
            },
        };
        assert!(glossary_matches(&term, "PENSION", None));
        assert!(glossary_matches(&term, "drawn", Some(Language::En)));
        assert!(!glossary_matches(&term, "pension", Some(Language::Fr)));
        assert!(glossary_matches(&term, "retraite", Some(Language::Fr)));
        assert!(glossary_matches(&term, "âge de", None));
        assert!(!glossary_matches(&term, "retraite", Some(Language::De)));
    }
}
