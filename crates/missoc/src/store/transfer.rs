//! Whole editions in and out (`dataset` JSON Lines): export reads one consistent
//! snapshot; import parses and validates the whole file before it opens a transaction, then
//! writes in multi-row batches, so a file with one bad line writes nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::audit::append_audit;
use super::editions::*;
use super::{to_millis, MissocStore};
use crate::dataset::{self, EditionFile, EditionHeader};
use crate::model::{CategoryCode, ChangeSetState, EditionId, EditionState, Role};
use crate::views;
use crate::workflow::{self, MissocError};

type MissocResult<T> = Result<T, MissocError>;

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissocImportSummary {
    pub edition: EditionId,
    pub state: EditionState,
    pub sample_data: bool,
    pub categories: u64,
    pub glossary: u64,
    pub entries: u64,
    pub countries: u64,
    /// The edition existed (unpublished) and was replaced.
    pub replaced: bool,
}

impl MissocStore {
    /// A whole edition with every category and glossary term, as `dataset::write` writes it.
    pub async fn export_missoc_edition(
        &self,
        viewer: &Role,
        edition: EditionId,
    ) -> MissocResult<EditionFile> {
        let mut tx = self.pools.reader.begin().await?;
        let row = visible_edition(&mut tx, viewer, edition).await?;
        let categories = load_categories(&mut tx).await?;
        let glossary = load_glossary(&mut tx).await?;
        let entries = load_entries(&mut tx, edition, None).await?;
        tx.commit().await?;
        Ok(EditionFile {
            header: EditionHeader {
                edition,
                state: row.state,
                sample_data: row.sample_data,
                notice: row.notice,
            },
            categories,
            glossary,
            entries,
        })
    }

    /// Imports an edition file (`dataset` format) in one transaction: nothing is written if
    /// any line is bad. A published edition that exists is refused; an unpublished one is
    /// replaced. A published import gets accepted change sets, an unpublished one drafts.
    /// Categories and glossary terms are upserted (the file wins). `progress(done, total)`
    /// follows the entries written.
    pub async fn import_missoc_edition(
        &self,
        actor: &str,
        text: &str,
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> MissocResult<MissocImportSummary> {
        // Parse and validate the whole file first, off the async workers and outside any
        // transaction: a bad file never opens one, a good one holds the writer only for
        // its batched writes. Categories are only ever added, so the set read here can
        // only be smaller than the one at commit.
        let known: BTreeSet<CategoryCode> = {
            let mut conn = self.pools.reader.acquire().await?;
            load_categories(&mut conn)
                .await?
                .into_iter()
                .map(|c| c.code)
                .collect()
        };
        let owned = text.to_owned();
        let file = tokio::task::spawn_blocking(move || dataset::parse(&owned, &known))
            .await
            .map_err(|e| MissocError::Invalid(format!("parsing the edition stopped: {e}")))??;
        let header = &file.header;
        let edition = header.edition;
        let mut tx = self.pools.writer.begin().await?;
        let existing = edition_row(&mut tx, edition).await?;
        let unpublished = first_unpublished(&mut tx).await?;
        workflow::check_import(
            edition,
            header.state,
            existing.as_ref().map(|r| r.state),
            unpublished,
        )?;
        for c in &file.categories {
            sqlx::query(
                "INSERT INTO missoc_categories (code, title_en, title_fr, title_de) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET title_en = excluded.title_en, \
                 title_fr = excluded.title_fr, title_de = excluded.title_de",
            )
            .bind(c.code.as_str())
            .bind(c.title.en.as_deref())
            .bind(c.title.fr.as_deref())
            .bind(c.title.de.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        for g in &file.glossary {
            sqlx::query(
                "INSERT INTO missoc_glossary (key, term_en, term_fr, term_de, definition_en, definition_fr, definition_de) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO UPDATE SET \
                 term_en = excluded.term_en, term_fr = excluded.term_fr, term_de = excluded.term_de, \
                 definition_en = excluded.definition_en, definition_fr = excluded.definition_fr, \
                 definition_de = excluded.definition_de",
            )
            .bind(&g.key)
            .bind(g.term.en.as_deref())
            .bind(g.term.fr.as_deref())
            .bind(g.term.de.as_deref())
            .bind(g.definition.en.as_deref())
            .bind(g.definition.fr.as_deref())
            .bind(g.definition.de.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        let published_at = (header.state == EditionState::Published).then(|| to_millis(now));
        if existing.is_some() {
            for table in ["missoc_entries", "missoc_change_sets"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE edition = $1"))
                    .bind(edition.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE missoc_editions SET state = $1, published_at = $2, sample_data = $3, notice = $4 \
                 WHERE edition = $5",
            )
            .bind(header.state.as_str())
            .bind(published_at)
            .bind(i64::from(header.sample_data))
            .bind(header.notice.as_deref())
            .bind(edition.to_string())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO missoc_editions (edition, state, opened_at, published_at, sample_data, notice) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(edition.to_string())
            .bind(header.state.as_str())
            .bind(to_millis(now))
            .bind(published_at)
            .bind(i64::from(header.sample_data))
            .bind(header.notice.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        let total = file.entries.len() as u64;
        let mut done = 0;
        for batch in file.entries.chunks(INSERT_BATCH * 4) {
            progress(done, total);
            insert_entries(&mut tx, edition, batch).await?;
            done += batch.len() as u64;
        }
        progress(total, total);
        let countries = views::countries_with_entries(&file.entries);
        let set_state = if header.state == EditionState::Published {
            ChangeSetState::Accepted
        } else {
            ChangeSetState::Draft
        };
        for country in &countries {
            let set = ChangeSet {
                country: country.clone(),
                state: set_state,
                comments: None,
                updated_at: now,
                updated_by: actor.to_owned(),
            };
            save_change_set(&mut tx, edition, &set).await?;
        }
        let summary = MissocImportSummary {
            edition,
            state: header.state,
            sample_data: header.sample_data,
            categories: file.categories.len() as u64,
            glossary: file.glossary.len() as u64,
            entries: total,
            countries: countries.len() as u64,
            replaced: existing.is_some(),
        };
        append_audit(
            &mut tx,
            now,
            actor,
            "missoc.edition.import",
            Some(&format!("missoc:{edition}")),
            Some(&format!(
                "{} ({}{}): {} entries of {} countries, {} categories, {} glossary terms",
                header.state,
                if summary.replaced { "replaced" } else { "new" },
                if header.sample_data {
                    ", sample data"
                } else {
                    ""
                },
                summary.entries,
                summary.countries,
                summary.categories,
                summary.glossary
            )),
        )
        .await?;
        tx.commit().await?;
        Ok(summary)
    }
}
