//! What changed between two editions: entries added, removed or changed (text or legal
//! references), optionally for one country and/or one category. Unchanged entries are not
//! listed; an entry whose text is the same but whose `changed_in` moved is unchanged.

use std::collections::BTreeMap;

use super::model::{
    CategoryCode, DiffItem, EditionDiff, EditionId, Entry, EntryChange, EntryText, Language,
};
use sedgate_base::domain::CountryCode;

/// Restricts a diff to one country and/or one category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffFilter {
    pub country: Option<CountryCode>,
    pub category: Option<CategoryCode>,
}

impl DiffFilter {
    fn keeps(&self, e: &Entry) -> bool {
        self.country.as_ref().is_none_or(|c| c == &e.country)
            && self.category.as_ref().is_none_or(|c| c == &e.category)
    }
}

type Key = (CountryCode, (u8, u32), CategoryCode, Language);

fn keyed<'a>(entries: &'a [Entry], filter: &DiffFilter) -> BTreeMap<Key, &'a EntryText> {
    entries
        .iter()
        .filter(|e| filter.keeps(e))
        .map(|e| {
            (
                (
                    e.country.clone(),
                    e.category.sort_key(),
                    e.category.clone(),
                    e.language,
                ),
                &e.content,
            )
        })
        .collect()
}

/// The differences from `before` (edition `from`) to `after` (edition `to`), by country,
/// then table order, then language.
pub fn diff(
    from: EditionId,
    to: EditionId,
    before: &[Entry],
    after: &[Entry],
    filter: &DiffFilter,
) -> EditionDiff {
    let old = keyed(before, filter);
    let new = keyed(after, filter);
    let mut keys: Vec<&Key> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let items = keys
        .into_iter()
        .filter_map(|key| {
            let change = match (old.get(key), new.get(key)) {
                (Some(b), Some(a)) if b == a => return None,
                (Some(b), Some(a)) => EntryChange::Changed {
                    before: (*b).clone(),
                    after: (*a).clone(),
                },
                (None, Some(a)) => EntryChange::Added {
                    after: (*a).clone(),
                },
                (Some(b), None) => EntryChange::Removed {
                    before: (*b).clone(),
                },
                (None, None) => return None,
            };
            let (country, _, category, language) = key.clone();
            Some(DiffItem {
                country,
                category,
                language,
                change,
            })
        })
        .collect();
    EditionDiff { from, to, items }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::views::test_entry as entry;

    #[test]
    fn lists_exactly_what_was_added_removed_or_changed() {
        let from: EditionId = "2026-01-01".parse().unwrap();
        let to = from.next();
        let before = vec![
            entry("AT", "VI-8", Language::En, "65", "2026-01-01"),
            entry("AT", "VI-8", Language::De, "65", "2026-01-01"),
            entry("DE", "VI-8", Language::En, "67", "2026-01-01"),
            entry("DE", "II-1", Language::En, "All residents", "2026-01-01"),
        ];
        let mut refs_changed = entry("DE", "II-1", Language::En, "All residents", "2026-07-01");
        refs_changed.content.legal_refs.push("Act §2".into());
        let after = vec![
            entry(
                "AT",
                "VI-8",
                Language::En,
                "65 (men), 62 (women)",
                "2026-07-01",
            ),
            // Same text saved again: not a change.
            entry("AT", "VI-8", Language::De, "65", "2026-07-01"),
            entry("AT", "VI-10", Language::Fr, "nouveau", "2026-07-01"),
            refs_changed,
        ];
        let d = diff(from, to, &before, &after, &DiffFilter::default());
        let listed: Vec<(&str, &str, Language, &str)> = d
            .items
            .iter()
            .map(|i| {
                let kind = match i.change {
                    EntryChange::Added { .. } => "added",
                    EntryChange::Removed { .. } => "removed",
                    EntryChange::Changed { .. } => "changed",
                };
                (i.country.as_str(), i.category.as_str(), i.language, kind)
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("AT", "VI-8", Language::En, "changed"),
                ("AT", "VI-10", Language::Fr, "added"),
                ("DE", "II-1", Language::En, "changed"),
                ("DE", "VI-8", Language::En, "removed"),
            ]
        );
        let only_de = diff(
            from,
            to,
            &before,
            &after,
            &DiffFilter {
                country: Some("DE".parse().unwrap()),
                category: None,
            },
        );
        assert_eq!(only_de.items.len(), 2);
        let only_vi8_at = diff(
            from,
            to,
            &before,
            &after,
            &DiffFilter {
                country: Some("AT".parse().unwrap()),
                category: Some("VI-8".parse().unwrap()),
            },
        );
        assert_eq!(only_vi8_at.items.len(), 1);
        assert!(matches!(
            &only_vi8_at.items[0].change,
            EntryChange::Changed { before, after } if before.text == "65" && after.text.contains("62")
        ));
        assert!(diff(from, to, &before, &before, &DiffFilter::default())
            .items
            .is_empty());
    }
}
