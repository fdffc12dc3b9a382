//! Editions, categories, glossary, entries and change sets. Every public method is one transaction; the rules (who may do what, the
//! state machines, views and diffs) are the pure functions of `crate`, asked here
//! with the states read inside the transaction. Every workflow step appends an audit entry
//! in the same transaction, with the user's name as actor.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit;
use super::{
    from_millis, opt_from_millis, parse_col, to_millis, MissocStore, StoreError, StoreResult,
};
use sedgate_base::domain::CountryCode;

use crate::diff::{self, DiffFilter};
use crate::model::{
    Category, CategoryCode, ChangeSetState, Comparison, EditionDiff, EditionId, EditionState,
    Entry, EntryText, GlossaryTerm, Language, Localized, Publication, Role,
};
use crate::views::{self, MissingEntryTranslation, MissingTitle};
use crate::workflow::{self, ChangeSetAction, EntryKey, MissocError, MissocUser};

type MissocResult<T> = Result<T, MissocError>;

/// A country's change set in one edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    pub country: CountryCode,
    pub state: ChangeSetState,
    /// The secretariat's (or correspondent's) last comment.
    pub comments: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// An edition with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditionSummary {
    pub edition: EditionId,
    pub state: EditionState,
    pub opened_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub sample_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    pub entries: u64,
    pub countries: u64,
    /// Change sets per state (`draft`, `submitted`, …).
    pub change_sets: BTreeMap<String, u64>,
}

/// What the secretariat reviews: every country's change set and every missing translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub edition: EditionId,
    pub state: EditionState,
    pub change_sets: Vec<ChangeSet>,
    pub missing_translations: Vec<MissingEntryTranslation>,
    pub missing_titles: Vec<MissingTitle>,
}

pub(super) struct EditionRow {
    pub(super) edition: EditionId,
    pub(super) state: EditionState,
    pub(super) opened_at: DateTime<Utc>,
    pub(super) published_at: Option<DateTime<Utc>>,
    pub(super) sample_data: bool,
    pub(super) notice: Option<String>,
}

pub(super) const EDITION_COLUMNS: &str =
    "edition, state, opened_at, published_at, sample_data, notice";

pub(super) fn edition_from_row(row: &AnyRow) -> StoreResult<EditionRow> {
    Ok(EditionRow {
        edition: parse_col(row, "edition")?,
        state: parse_col(row, "state")?,
        opened_at: from_millis(row.try_get("opened_at")?)?,
        published_at: opt_from_millis(row.try_get("published_at")?)?,
        sample_data: row.try_get::<i64, _>("sample_data")? != 0,
        notice: row.try_get("notice")?,
    })
}

pub(super) async fn edition_row(
    conn: &mut AnyConnection,
    edition: EditionId,
) -> StoreResult<Option<EditionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {EDITION_COLUMNS} FROM missoc_editions WHERE edition = $1"
    ))
    .bind(edition.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(edition_from_row).transpose()
}

/// The edition as `viewer` may see it; one they may not see does not exist for them.
pub(super) async fn visible_edition(
    conn: &mut AnyConnection,
    viewer: &Role,
    edition: EditionId,
) -> MissocResult<EditionRow> {
    match edition_row(conn, edition).await? {
        Some(row) if workflow::may_read(viewer, row.state) => Ok(row),
        _ => Err(MissocError::UnknownEdition(edition)),
    }
}

/// Locks the edition's row for the rest of the transaction (PostgreSQL; SQLite has one
/// writer) and returns its state, so that a concurrent publish and edit cannot interleave.
/// Copies the entries of `from` (of one country, or all) into `to` unchanged, their
/// `changed_in` kept: carrying an edition forward and carrying a country over.
pub(super) async fn copy_entries(
    conn: &mut AnyConnection,
    from: EditionId,
    to: EditionId,
    country: Option<&CountryCode>,
) -> StoreResult<u64> {
    let copied = sqlx::query(
        "INSERT INTO missoc_entries (edition, country, category, language, text, legal_refs, changed_in) \
         SELECT $1, country, category, language, text, legal_refs, changed_in \
         FROM missoc_entries WHERE edition = $2 AND country = COALESCE($3, country)",
    )
    .bind(to.to_string())
    .bind(from.to_string())
    .bind(country.map(CountryCode::as_str))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(copied)
}

pub(super) async fn lock_edition(
    conn: &mut AnyConnection,
    edition: EditionId,
) -> MissocResult<EditionState> {
    let locked = sqlx::query("UPDATE missoc_editions SET state = state WHERE edition = $1")
        .bind(edition.to_string())
        .execute(&mut *conn)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(MissocError::UnknownEdition(edition));
    }
    let row = edition_row(conn, edition)
        .await?
        .ok_or(MissocError::UnknownEdition(edition))?;
    Ok(row.state)
}

pub(super) fn entry_from_row(row: &AnyRow) -> StoreResult<Entry> {
    let refs: String = row.try_get("legal_refs")?;
    let legal_refs: Vec<String> = serde_json::from_str(&refs)
        .map_err(|e| StoreError::Corrupt(format!("legal_refs {refs:?}: {e}")))?;
    Ok(Entry {
        country: parse_col(row, "country")?,
        category: parse_col(row, "category")?,
        language: parse_col(row, "language")?,
        content: EntryText {
            text: row.try_get("text")?,
            legal_refs,
        },
        changed_in: parse_col(row, "changed_in")?,
    })
}

/// The entries of an edition (of one country), in export order.
pub(super) async fn load_entries(
    conn: &mut AnyConnection,
    edition: EditionId,
    country: Option<&CountryCode>,
) -> StoreResult<Vec<Entry>> {
    let rows = match country {
        Some(c) => sqlx::query(
            "SELECT country, category, language, text, legal_refs, changed_in FROM missoc_entries \
             WHERE edition = $1 AND country = $2",
        )
        .bind(edition.to_string())
        .bind(c.as_str())
        .fetch_all(&mut *conn)
        .await?,
        None => sqlx::query(
            "SELECT country, category, language, text, legal_refs, changed_in FROM missoc_entries \
             WHERE edition = $1",
        )
        .bind(edition.to_string())
        .fetch_all(&mut *conn)
        .await?,
    };
    let mut entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    entries.sort_by(|a, b| crate::dataset::entry_order(a).cmp(&crate::dataset::entry_order(b)));
    Ok(entries)
}

pub(super) async fn insert_entry(
    conn: &mut AnyConnection,
    edition: EditionId,
    entry: &Entry,
) -> StoreResult<()> {
    insert_entries(conn, edition, std::slice::from_ref(entry)).await
}

/// Rows per multi-row INSERT: 7 parameters each, far below every engine's limit.
pub(super) const INSERT_BATCH: usize = 128;

/// Inserts (or replaces) entries, `INSERT_BATCH` rows per statement.
pub(super) async fn insert_entries(
    conn: &mut AnyConnection,
    edition: EditionId,
    entries: &[Entry],
) -> StoreResult<()> {
    for chunk in entries.chunks(INSERT_BATCH) {
        let mut sql = String::from(
            "INSERT INTO missoc_entries (edition, country, category, language, text, legal_refs, changed_in) VALUES ",
        );
        for n in 0..chunk.len() {
            let p = n * 7;
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7
            ));
        }
        sql.push_str(
            " ON CONFLICT (edition, country, category, language) DO UPDATE SET \
             text = excluded.text, legal_refs = excluded.legal_refs, changed_in = excluded.changed_in",
        );
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            let refs = serde_json::to_string(&entry.content.legal_refs)
                .map_err(|e| StoreError::Corrupt(format!("legal_refs: {e}")))?;
            query = query
                .bind(edition.to_string())
                .bind(entry.country.as_str().to_owned())
                .bind(entry.category.as_str().to_owned())
                .bind(entry.language.code())
                .bind(entry.content.text.clone())
                .bind(refs)
                .bind(entry.changed_in.to_string());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// All categories, in table order.
pub(super) async fn load_categories(conn: &mut AnyConnection) -> StoreResult<Vec<Category>> {
    let rows = sqlx::query("SELECT code, title_en, title_fr, title_de FROM missoc_categories")
        .fetch_all(&mut *conn)
        .await?;
    let mut categories = rows
        .iter()
        .map(|row| {
            Ok(Category {
                code: parse_col(row, "code")?,
                title: Localized {
                    en: row.try_get("title_en")?,
                    fr: row.try_get("title_fr")?,
                    de: row.try_get("title_de")?,
                },
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    views::sort_categories(&mut categories);
    Ok(categories)
}

pub(super) async fn load_glossary(conn: &mut AnyConnection) -> StoreResult<Vec<GlossaryTerm>> {
    let rows = sqlx::query(
        "SELECT key, term_en, term_fr, term_de, definition_en, definition_fr, definition_de \
         FROM missoc_glossary ORDER BY key",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(GlossaryTerm {
                key: row.try_get("key")?,
                term: Localized {
                    en: row.try_get("term_en")?,
                    fr: row.try_get("term_fr")?,
                    de: row.try_get("term_de")?,
                },
                definition: Localized {
                    en: row.try_get("definition_en")?,
                    fr: row.try_get("definition_fr")?,
                    de: row.try_get("definition_de")?,
                },
            })
        })
        .collect()
}

pub(super) fn change_set_from_row(row: &AnyRow) -> StoreResult<ChangeSet> {
    Ok(ChangeSet {
        country: parse_col(row, "country")?,
        state: parse_col(row, "state")?,
        comments: row.try_get("comments")?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
        updated_by: row.try_get("updated_by")?,
    })
}

pub(super) async fn load_change_sets(
    conn: &mut AnyConnection,
    edition: EditionId,
) -> StoreResult<Vec<ChangeSet>> {
    let rows = sqlx::query(
        "SELECT country, state, comments, updated_at, updated_by FROM missoc_change_sets \
         WHERE edition = $1 ORDER BY country",
    )
    .bind(edition.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(change_set_from_row).collect()
}

pub(super) async fn change_set(
    conn: &mut AnyConnection,
    edition: EditionId,
    country: &CountryCode,
) -> StoreResult<Option<ChangeSet>> {
    let row = sqlx::query(
        "SELECT country, state, comments, updated_at, updated_by FROM missoc_change_sets \
         WHERE edition = $1 AND country = $2",
    )
    .bind(edition.to_string())
    .bind(country.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(change_set_from_row).transpose()
}

/// Creates or updates a change set.
pub(super) async fn save_change_set(
    conn: &mut AnyConnection,
    edition: EditionId,
    set: &ChangeSet,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO missoc_change_sets (edition, country, state, comments, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (edition, country) DO UPDATE SET state = excluded.state, \
         comments = excluded.comments, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(edition.to_string())
    .bind(set.country.as_str())
    .bind(set.state.as_str())
    .bind(set.comments.as_deref())
    .bind(to_millis(set.updated_at))
    .bind(&set.updated_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn category_exists(
    conn: &mut AnyConnection,
    code: &CategoryCode,
) -> StoreResult<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM missoc_categories WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

/// The oldest edition not yet published, if any.
pub(super) async fn first_unpublished(conn: &mut AnyConnection) -> StoreResult<Option<EditionId>> {
    sqlx::query("SELECT edition FROM missoc_editions WHERE state <> $1 ORDER BY edition LIMIT 1")
        .bind(EditionState::Published.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| parse_col(&row, "edition"))
        .transpose()
}

/// The latest edition and its state.
pub(super) async fn latest_edition(
    conn: &mut AnyConnection,
) -> StoreResult<Option<(EditionId, EditionState)>> {
    let row = sqlx::query(&format!(
        "SELECT {EDITION_COLUMNS} FROM missoc_editions ORDER BY edition DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row
        .as_ref()
        .map(edition_from_row)
        .transpose()?
        .map(|r| (r.edition, r.state)))
}

pub(super) async fn summarize_one(
    conn: &mut AnyConnection,
    row: EditionRow,
) -> MissocResult<EditionSummary> {
    let edition = row.edition;
    summarize(conn, vec![row])
        .await?
        .pop()
        .ok_or(MissocError::UnknownEdition(edition))
}

pub(super) async fn summarize(
    conn: &mut AnyConnection,
    rows: Vec<EditionRow>,
) -> StoreResult<Vec<EditionSummary>> {
    let counts = sqlx::query(
        "SELECT edition, COUNT(*) AS entries, COUNT(DISTINCT country) AS countries \
         FROM missoc_entries GROUP BY edition",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_edition: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in &counts {
        let n = |col: &str| -> StoreResult<u64> {
            Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
        };
        by_edition.insert(row.try_get("edition")?, (n("entries")?, n("countries")?));
    }
    let sets = sqlx::query(
        "SELECT edition, state, COUNT(*) AS n FROM missoc_change_sets GROUP BY edition, state",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut set_counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for row in &sets {
        set_counts
            .entry(row.try_get("edition")?)
            .or_default()
            .insert(
                row.try_get("state")?,
                u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            );
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let key = r.edition.to_string();
            let (entries, countries) = by_edition.get(&key).copied().unwrap_or_default();
            EditionSummary {
                edition: r.edition,
                state: r.state,
                opened_at: r.opened_at,
                published_at: r.published_at,
                sample_data: r.sample_data,
                notice: r.notice,
                entries,
                countries,
                change_sets: set_counts.remove(&key).unwrap_or_default(),
            }
        })
        .collect())
}

/// Locks the edition, checks that `user` may write `country`'s entries now, and makes
/// sure the country has a change set (a draft on its first edit).
pub(super) async fn check_entry_write(
    conn: &mut AnyConnection,
    user: &MissocUser,
    edition: EditionId,
    country: &CountryCode,
    now: DateTime<Utc>,
) -> MissocResult<()> {
    let state = lock_edition(conn, edition).await?;
    let set = change_set(conn, edition, country).await?;
    workflow::check_edit(
        &user.role,
        edition,
        state,
        country,
        set.as_ref().map(|s| s.state),
    )?;
    let set = ChangeSet {
        updated_at: now,
        updated_by: user.name.clone(),
        ..set.unwrap_or(ChangeSet {
            country: country.clone(),
            state: ChangeSetState::Draft,
            comments: None,
            updated_at: now,
            updated_by: user.name.clone(),
        })
    };
    save_change_set(conn, edition, &set).await?;
    Ok(())
}

impl MissocStore {
    // ---- editions ----

    /// The editions `viewer` may see, newest first, with their counts.
    pub async fn missoc_editions(&self, viewer: &Role) -> MissocResult<Vec<EditionSummary>> {
        let mut tx = self.pools.reader.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT {EDITION_COLUMNS} FROM missoc_editions ORDER BY edition DESC"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let rows = rows
            .iter()
            .map(edition_from_row)
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .filter(|r| workflow::may_read(viewer, r.state))
            .collect();
        let out = summarize(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// One edition with its counts.
    pub async fn missoc_edition(
        &self,
        viewer: &Role,
        edition: EditionId,
    ) -> MissocResult<EditionSummary> {
        let mut tx = self.pools.reader.begin().await?;
        let row = visible_edition(&mut tx, viewer, edition).await?;
        let summary = summarize_one(&mut tx, row).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Opens `edition` (secretariat): it must follow the latest edition, which must be
    /// published. Every entry of the latest edition is carried forward unchanged (its
    /// `changed_in` kept), and every country with entries gets a draft change set.
    pub async fn open_missoc_edition(
        &self,
        user: &MissocUser,
        edition: EditionId,
        now: DateTime<Utc>,
    ) -> MissocResult<EditionSummary> {
        workflow::require_secretariat(&user.role, "open an edition")?;
        let mut tx = self.pools.writer.begin().await?;
        let latest = latest_edition(&mut tx).await?;
        if edition_row(&mut tx, edition).await?.is_some() {
            return Err(MissocError::EditionExists(edition));
        }
        let unpublished = first_unpublished(&mut tx).await?;
        workflow::check_open(latest, unpublished, edition)?;
        // Two secretaries opening the same edition at once: the second meets the key.
        let inserted = sqlx::query(
            "INSERT INTO missoc_editions (edition, state, opened_at, published_at, sample_data, notice) \
             VALUES ($1, $2, $3, NULL, 0, NULL) ON CONFLICT (edition) DO NOTHING",
        )
        .bind(edition.to_string())
        .bind(EditionState::Open.as_str())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(MissocError::EditionExists(edition));
        }
        let mut carried = 0u64;
        if let Some((previous, _)) = latest {
            carried = copy_entries(&mut tx, previous, edition, None).await?;
            let countries = sqlx::query(
                "SELECT DISTINCT country FROM missoc_entries WHERE edition = $1 ORDER BY country",
            )
            .bind(edition.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for row in &countries {
                let set = ChangeSet {
                    country: parse_col(row, "country")?,
                    state: ChangeSetState::Draft,
                    comments: None,
                    updated_at: now,
                    updated_by: user.name.clone(),
                };
                save_change_set(&mut tx, edition, &set).await?;
            }
        }
        append_audit(
            &mut tx,
            now,
            &user.name,
            "missoc.edition.open",
            Some(&format!("missoc:{edition}")),
            Some(&format!("{carried} entries carried forward")),
        )
        .await?;
        let row = edition_row(&mut tx, edition)
            .await?
            .ok_or(MissocError::UnknownEdition(edition))?;
        let summary = summarize_one(&mut tx, row).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Moves an edition between open and in review (secretariat).
    pub async fn transition_missoc_edition(
        &self,
        user: &MissocUser,
        edition: EditionId,
        to: EditionState,
        now: DateTime<Utc>,
    ) -> MissocResult<()> {
        workflow::require_secretariat(&user.role, "move an edition")?;
        let mut tx = self.pools.writer.begin().await?;
        let from = lock_edition(&mut tx, edition).await?;
        workflow::check_edition_transition(edition, from, to)?;
        sqlx::query("UPDATE missoc_editions SET state = $1 WHERE edition = $2")
            .bind(to.as_str())
            .bind(edition.to_string())
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            now,
            &user.name,
            "missoc.edition.transition",
            Some(&format!("missoc:{edition}")),
            Some(&format!("{from} -> {to}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Publishes an edition in review whose change sets are all accepted or carried over
    /// (secretariat). From then on it is immutable.
    pub async fn publish_missoc_edition(
        &self,
        user: &MissocUser,
        edition: EditionId,
        now: DateTime<Utc>,
    ) -> MissocResult<()> {
        workflow::require_secretariat(&user.role, "publish an edition")?;
        let mut tx = self.pools.writer.begin().await?;
        let state = lock_edition(&mut tx, edition).await?;
        let sets: Vec<(CountryCode, ChangeSetState)> = load_change_sets(&mut tx, edition)
            .await?
            .into_iter()
            .map(|s| (s.country, s.state))
            .collect();
        workflow::check_publish(edition, state, &sets)?;
        sqlx::query("UPDATE missoc_editions SET state = $1, published_at = $2 WHERE edition = $3")
            .bind(EditionState::Published.as_str())
            .bind(to_millis(now))
            .bind(edition.to_string())
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            now,
            &user.name,
            "missoc.edition.publish",
            Some(&format!("missoc:{edition}")),
            Some(&format!("{} change sets", sets.len())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- entries ----

    /// One entry. When the language is missing but others exist, the error names them.
    pub async fn missoc_entry(&self, viewer: &Role, key: &EntryKey) -> MissocResult<Entry> {
        let EntryKey {
            edition,
            country,
            category,
            language,
        } = key;
        let (edition, language) = (*edition, *language);
        let mut tx = self.pools.reader.begin().await?;
        visible_edition(&mut tx, viewer, edition).await?;
        let found: Vec<Entry> = load_entries(&mut tx, edition, Some(country))
            .await?
            .into_iter()
            .filter(|e| &e.category == category)
            .collect();
        tx.commit().await?;
        let available_in: Vec<Language> = found.iter().map(|e| e.language).collect();
        found
            .into_iter()
            .find(|e| e.language == language)
            .ok_or(MissocError::UnknownEntry {
                edition,
                country: country.clone(),
                category: category.clone(),
                language,
                available_in,
            })
    }

    /// Writes an entry (its correspondent, while the edition and the change set allow it);
    /// its `changed_in` becomes this edition.
    pub async fn put_missoc_entry(
        &self,
        user: &MissocUser,
        key: &EntryKey,
        content: &EntryText,
        now: DateTime<Utc>,
    ) -> MissocResult<Entry> {
        let EntryKey {
            edition,
            country,
            category,
            language,
        } = key;
        let (edition, language) = (*edition, *language);
        if content.text.trim().is_empty() {
            return Err(MissocError::Invalid(
                "the text is empty; delete the entry to leave the translation missing".into(),
            ));
        }
        let mut tx = self.pools.writer.begin().await?;
        check_entry_write(&mut tx, user, edition, country, now).await?;
        if !category_exists(&mut tx, category).await? {
            return Err(MissocError::UnknownCategory(category.clone()));
        }
        let entry = Entry {
            country: country.clone(),
            category: category.clone(),
            language,
            content: content.clone(),
            changed_in: edition,
        };
        insert_entry(&mut tx, edition, &entry).await?;
        append_audit(
            &mut tx,
            now,
            &user.name,
            "missoc.entry.put",
            Some(&format!("missoc:{key}")),
            Some(&format!(
                "{} characters, {} legal references",
                content.text.chars().count(),
                content.legal_refs.len()
            )),
        )
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Deletes an entry (same rules as writing one).
    pub async fn delete_missoc_entry(
        &self,
        user: &MissocUser,
        key: &EntryKey,
        now: DateTime<Utc>,
    ) -> MissocResult<()> {
        let EntryKey {
            edition,
            country,
            category,
            language,
        } = key;
        let (edition, language) = (*edition, *language);
        let mut tx = self.pools.writer.begin().await?;
        check_entry_write(&mut tx, user, edition, country, now).await?;
        let deleted = sqlx::query(
            "DELETE FROM missoc_entries WHERE edition = $1 AND country = $2 AND category = $3 AND language = $4",
        )
        .bind(edition.to_string())
        .bind(country.as_str())
        .bind(category.as_str())
        .bind(language.code())
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(MissocError::UnknownEntry {
                edition,
                country: country.clone(),
                category: category.clone(),
                language,
                available_in: Vec::new(),
            });
        }
        append_audit(
            &mut tx,
            now,
            &user.name,
            "missoc.entry.delete",
            Some(&format!("missoc:{key}")),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- change sets ----

    /// Takes a step of a country's change set. `comment` replaces the set's comments when
    /// given; sending back needs one. Carrying over restores the previous edition's entries
    /// of the country (with their `changed_in`).
    pub async fn missoc_change_set_action(
        &self,
        user: &MissocUser,
        edition: EditionId,
        country: &CountryCode,
        action: ChangeSetAction,
        comment: Option<&str>,
        now: DateTime<Utc>,
    ) -> MissocResult<ChangeSet> {
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if action == ChangeSetAction::SendBack && comment.is_none() {
            return Err(MissocError::CommentRequired);
        }
        let mut tx = self.pools.writer.begin().await?;
        let state = lock_edition(&mut tx, edition).await?;
        if state == EditionState::Published {
            return Err(MissocError::EditionPublished(edition));
        }
        let current = change_set(&mut tx, edition, country)
            .await?
            .ok_or_else(|| MissocError::UnknownChangeSet {
                edition,
                country: country.clone(),
            })?;
        let next = workflow::next_change_set_state(
            &user.role,
            edition,
            state,
            country,
            current.state,
            action,
        )?;
        let mut detail = format!("{} -> {next}", current.state);
        if action == ChangeSetAction::CarryOver {
            let previous = sqlx::query(
                "SELECT edition FROM missoc_editions WHERE edition < $1 ORDER BY edition DESC LIMIT 1",
            )
            .bind(edition.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| parse_col::<EditionId>(&row, "edition"))
            .transpose()?
            .ok_or(MissocError::NoPreviousEdition { edition })?;
            sqlx::query("DELETE FROM missoc_entries WHERE edition = $1 AND country = $2")
                .bind(edition.to_string())
                .bind(country.as_str())
                .execute(&mut *tx)
                .await?;
            let restored = copy_entries(&mut tx, previous, edition, Some(country)).await?;
            detail.push_str(&format!("; {restored} entries restored from {previous}"));
        }
        let set = ChangeSet {
            country: country.clone(),
            state: next,
            comments: comment.map(str::to_owned).or(current.comments),
            updated_at: now,
            updated_by: user.name.clone(),
        };
        save_change_set(&mut tx, edition, &set).await?;
        if let Some(c) = comment {
            detail.push_str(&format!("; comment: {c}"));
        }
        append_audit(
            &mut tx,
            now,
            &user.name,
            &format!("missoc.change_set.{}", action.as_str()),
            Some(&format!("missoc:{edition}/{country}")),
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(set)
    }

    // ---- views ----

    /// Change-set states and comments, and every missing translation (secretariat and
    /// correspondents).
    pub async fn missoc_review(&self, viewer: &Role, edition: EditionId) -> MissocResult<Review> {
        workflow::may_review(viewer)?;
        let mut tx = self.pools.reader.begin().await?;
        let row = visible_edition(&mut tx, viewer, edition).await?;
        let change_sets = load_change_sets(&mut tx, edition).await?;
        let entries = load_entries(&mut tx, edition, None).await?;
        let categories = load_categories(&mut tx).await?;
        tx.commit().await?;
        Ok(Review {
            edition,
            state: row.state,
            change_sets,
            missing_translations: views::missing_entry_translations(&entries),
            missing_titles: views::missing_titles(&categories),
        })
    }

    /// `countries` × `categories` of an edition in `language`. An empty list of countries
    /// means every country with entries; an empty list of categories every category of the
    /// tables (not the organisation overview), in table order.
    pub async fn missoc_comparison(
        &self,
        viewer: &Role,
        edition: EditionId,
        language: Language,
        countries: &[CountryCode],
        categories: &[CategoryCode],
    ) -> MissocResult<Comparison> {
        let mut tx = self.pools.reader.begin().await?;
        let row = visible_edition(&mut tx, viewer, edition).await?;
        let all = load_categories(&mut tx).await?;
        let entries = load_entries(&mut tx, edition, None).await?;
        tx.commit().await?;
        let chosen: Vec<Category> = if categories.is_empty() {
            all.into_iter()
                .filter(|c| c.code.table().is_some())
                .collect()
        } else {
            categories
                .iter()
                .map(|code| {
                    all.iter()
                        .find(|c| &c.code == code)
                        .cloned()
                        .ok_or_else(|| MissocError::UnknownCategory(code.clone()))
                })
                .collect::<MissocResult<_>>()?
        };
        let countries = if countries.is_empty() {
            views::countries_with_entries(&entries)
        } else {
            countries.to_vec()
        };
        Ok(views::comparison(
            edition, row.state, language, &countries, &chosen, &entries,
        ))
    }

    /// What changed from one edition to another (both visible to `viewer`).
    pub async fn missoc_diff(
        &self,
        viewer: &Role,
        from: EditionId,
        to: EditionId,
        filter: &DiffFilter,
    ) -> MissocResult<EditionDiff> {
        let mut tx = self.pools.reader.begin().await?;
        visible_edition(&mut tx, viewer, from).await?;
        visible_edition(&mut tx, viewer, to).await?;
        let before = load_entries(&mut tx, from, filter.country.as_ref()).await?;
        let after = load_entries(&mut tx, to, filter.country.as_ref()).await?;
        tx.commit().await?;
        Ok(diff::diff(from, to, &before, &after, filter))
    }

    /// Everything the publication of an edition in one language needs.
    pub async fn missoc_publication(
        &self,
        viewer: &Role,
        edition: EditionId,
        language: Language,
    ) -> MissocResult<Publication> {
        let mut tx = self.pools.reader.begin().await?;
        let row = visible_edition(&mut tx, viewer, edition).await?;
        let categories = load_categories(&mut tx).await?;
        let entries = load_entries(&mut tx, edition, None).await?;
        tx.commit().await?;
        Ok(views::publication(
            edition,
            row.state,
            language,
            &categories,
            &entries,
        ))
    }

    /// All categories, in table order.
    pub async fn missoc_categories(&self) -> StoreResult<Vec<Category>> {
        let mut conn = self.pools.reader.acquire().await?;
        load_categories(&mut conn).await
    }

    /// Glossary terms whose term or definition contains `q` (case-insensitive), in
    /// `language` or in any; by key.
    pub async fn missoc_glossary(
        &self,
        q: &str,
        language: Option<Language>,
    ) -> StoreResult<Vec<GlossaryTerm>> {
        let mut conn = self.pools.reader.acquire().await?;
        Ok(load_glossary(&mut conn)
            .await?
            .into_iter()
            .filter(|t| views::glossary_matches(t, q, language))
            .collect())
    }
}
