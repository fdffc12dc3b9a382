//! Institution repository tables. An import is planned in memory (`ir::plan_import`) and
//! written in multi-row statements (over JSON arrays) in one transaction.

use chrono::{DateTime, Utc};
use sedgate_db::StoreResult;
use sedgate_store::ir::{
    assemble, plan_import, AccessPoint, Competence, ImportCounts, Institution, InstitutionUpsert,
    IrSnapshot,
};
use sedgate_store::{
    from_json, parse_stored, to_json, unsigned, AuditChain, AuditEvent, LastImport, Operation,
};
use sqlx::SqliteConnection;

use crate::{i64_of, sql_time, SqliteBackend};

/// Rows per multi-row statement.
const WRITE_CHUNK: usize = 1000;

impl SqliteBackend {
    pub(crate) async fn import_institutions_impl(
        &self,
        batch: &[InstitutionUpsert],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<ImportCounts> {
        let mut tx = self.begin_write().await?;
        let existing = self.load_institutions(&mut tx).await?;
        let plan = plan_import(&existing, batch, rejected);
        let total = plan.write.len() as u64 + plan.counts.unchanged;
        for (n, chunk) in plan.write.chunks(WRITE_CHUNK).enumerate() {
            progress(plan.counts.unchanged + (n * WRITE_CHUNK) as u64);
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "id": i.id.as_str(),
                        "country": i.country.as_str(),
                        "acronym": i.acronym,
                        "valid_from": i.valid_from.map(sql_time),
                        "valid_to": i.valid_to.map(sql_time),
                        "ready": i.eessi_ready,
                    })
                })
                .collect();
            let rows = to_json(&rows)?;
            // `WHERE true`: without it SQLite would read the upsert's ON as a join constraint.
            sqlx::query!(
                "INSERT INTO institutions (id, country, acronym, valid_from, valid_to, eessi_ready, updated_at) \
                 SELECT j.value ->> 'id', j.value ->> 'country', j.value ->> 'acronym', \
                 j.value ->> 'valid_from', j.value ->> 'valid_to', j.value ->> 'ready', ?2 \
                 FROM json_each(?1) AS j WHERE true \
                 ON CONFLICT (id) DO UPDATE SET country = excluded.country, acronym = excluded.acronym, \
                 valid_from = excluded.valid_from, valid_to = excluded.valid_to, \
                 eessi_ready = excluded.eessi_ready, updated_at = excluded.updated_at",
                rows,
                now,
            )
            .execute(&mut *tx)
            .await?;
            self.count(Operation::Admin, 1);
        }
        let by_id =
            |id: &sedgate_base::domain::InstitutionId| plan.write.iter().find(|i| &i.id == id);
        let name_ids: Vec<&str> = plan.replace_names.iter().map(|i| i.as_str()).collect();
        let name_ids = to_json(&name_ids)?;
        sqlx::query!(
            "DELETE FROM institution_names WHERE institution_id IN (SELECT value FROM json_each(?1))",
            name_ids
        )
        .execute(&mut *tx)
        .await?;
        let names: Vec<serde_json::Value> = plan
            .replace_names
            .iter()
            .filter_map(by_id)
            .flat_map(|inst| {
                inst.names.iter().map(|(lang, name)| {
                    serde_json::json!({ "id": inst.id.as_str(), "lang": lang, "name": name })
                })
            })
            .collect();
        for chunk in names.chunks(WRITE_CHUNK) {
            let chunk = to_json(&chunk)?;
            sqlx::query!(
                "INSERT INTO institution_names (institution_id, lang, name) \
                 SELECT j.value ->> 'id', j.value ->> 'lang', j.value ->> 'name' FROM json_each(?1) AS j",
                chunk
            )
            .execute(&mut *tx)
            .await?;
        }
        let comp_ids: Vec<&str> = plan
            .replace_competences
            .iter()
            .map(|i| i.as_str())
            .collect();
        let comp_ids = to_json(&comp_ids)?;
        sqlx::query!(
            "DELETE FROM competences WHERE institution_id IN (SELECT value FROM json_each(?1))",
            comp_ids
        )
        .execute(&mut *tx)
        .await?;
        let competences: Vec<serde_json::Value> = plan
            .replace_competences
            .iter()
            .filter_map(by_id)
            .flat_map(|inst| {
                inst.competences.iter().map(|c| {
                    serde_json::json!({
                        "id": inst.id.as_str(),
                        "buc": c.buc.as_str(),
                        "role": c.role.as_str(),
                        "valid_from": c.valid_from.map(sql_time),
                        "valid_to": c.valid_to.map(sql_time),
                        "ready": c.eessi_ready,
                    })
                })
            })
            .collect();
        for chunk in competences.chunks(WRITE_CHUNK) {
            let chunk = to_json(&chunk)?;
            sqlx::query!(
                "INSERT INTO competences (institution_id, buc, role, valid_from, valid_to, eessi_ready) \
                 SELECT j.value ->> 'id', j.value ->> 'buc', j.value ->> 'role', j.value ->> 'valid_from', \
                 j.value ->> 'valid_to', j.value ->> 'ready' FROM json_each(?1) AS j",
                chunk
            )
            .execute(&mut *tx)
            .await?;
        }
        progress(total);
        let counts = plan.counts;
        let mut linked = chain.clone();
        self.record_import(&mut tx, source, "institutions", &counts, now, &mut linked)
            .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(counts)
    }

    pub(crate) async fn import_access_points_impl(
        &self,
        batch: &[AccessPoint],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<ImportCounts> {
        let mut tx = self.begin_write().await?;
        let existing = self.load_access_points(&mut tx).await?;
        let mut counts = ImportCounts {
            rejected,
            ..ImportCounts::default()
        };
        for ap in batch {
            match existing.iter().find(|e| e.country == ap.country) {
                Some(before) if before == ap => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
                None => counts.added += 1,
            }
            let country = ap.country.as_str();
            let fingerprints = to_json(&ap.cert_fingerprints)?;
            sqlx::query!(
                "INSERT INTO access_points (country, endpoint_url, cert_fingerprints, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (country) DO UPDATE SET \
                 endpoint_url = excluded.endpoint_url, cert_fingerprints = excluded.cert_fingerprints, \
                 updated_at = excluded.updated_at",
                country,
                ap.endpoint_url,
                fingerprints,
                now
            )
            .execute(&mut *tx)
            .await?;
            self.count(Operation::Admin, 1);
        }
        let mut linked = chain.clone();
        self.record_import(&mut tx, source, "access_points", &counts, now, &mut linked)
            .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(counts)
    }

    async fn record_import(
        &self,
        conn: &mut SqliteConnection,
        source: &str,
        kind: &str,
        counts: &ImportCounts,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let (added, updated) = (i64_of(counts.added), i64_of(counts.updated));
        let (unchanged, rejected) = (i64_of(counts.unchanged), i64_of(counts.rejected));
        sqlx::query!(
            "INSERT INTO ir_imports (source, kind, at, added, updated, unchanged, rejected) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            source,
            kind,
            now,
            added,
            updated,
            unchanged,
            rejected,
        )
        .execute(&mut *conn)
        .await?;
        self.count(Operation::Admin, 1);
        let detail = format!(
            "added={} updated={} unchanged={} rejected={}",
            counts.added, counts.updated, counts.unchanged, counts.rejected
        );
        self.insert_audit(
            conn,
            chain,
            &[AuditEvent::new(
                now,
                "cli",
                &format!("ir.import.{kind}"),
                Some(source),
                Some(detail),
            )],
        )
        .await
    }

    pub(crate) async fn load_ir_impl(&self) -> StoreResult<IrSnapshot> {
        let mut conn = self.reader.acquire().await?;
        Ok(IrSnapshot {
            institutions: self.load_institutions(&mut conn).await?,
            access_points: self.load_access_points(&mut conn).await?,
        })
    }

    async fn load_institutions(
        &self,
        conn: &mut SqliteConnection,
    ) -> StoreResult<Vec<Institution>> {
        let names = sqlx::query!("SELECT institution_id, lang, name FROM institution_names")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.institution_id, r.lang, r.name))
            .collect();
        let competences = sqlx::query!(
            r#"SELECT institution_id, buc, role, valid_from AS "valid_from: DateTime<Utc>",
               valid_to AS "valid_to: DateTime<Utc>", eessi_ready FROM competences"#
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.institution_id,
                Competence {
                    buc: parse_stored("buc", &r.buc)?,
                    role: parse_stored("role", &r.role)?,
                    valid_from: r.valid_from,
                    valid_to: r.valid_to,
                    eessi_ready: r.eessi_ready,
                },
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let institutions = sqlx::query!(
            r#"SELECT id AS "id!", country, acronym, valid_from AS "valid_from: DateTime<Utc>",
               valid_to AS "valid_to: DateTime<Utc>", eessi_ready FROM institutions ORDER BY id"#
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Institution {
                id: parse_stored("id", &r.id)?,
                country: parse_stored("country", &r.country)?,
                acronym: r.acronym,
                names: Default::default(),
                valid_from: r.valid_from,
                valid_to: r.valid_to,
                eessi_ready: r.eessi_ready,
                competences: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        self.count(Operation::Read, 3);
        Ok(assemble(institutions, names, competences))
    }

    async fn load_access_points(
        &self,
        conn: &mut SqliteConnection,
    ) -> StoreResult<Vec<AccessPoint>> {
        let rows = sqlx::query!(
            r#"SELECT country AS "country!", endpoint_url, cert_fingerprints FROM access_points ORDER BY country"#
        )
        .fetch_all(&mut *conn)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter()
            .map(|r| {
                Ok(AccessPoint {
                    country: parse_stored("country", &r.country)?,
                    endpoint_url: r.endpoint_url,
                    cert_fingerprints: from_json("cert_fingerprints", &r.cert_fingerprints)?,
                })
            })
            .collect()
    }

    pub(crate) async fn last_import_impl(&self) -> StoreResult<Option<LastImport>> {
        let row = sqlx::query!(
            r#"SELECT source, at AS "at: DateTime<Utc>", added, updated, unchanged, rejected
               FROM ir_imports ORDER BY id DESC LIMIT 1"#
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        row.map(|r| {
            Ok(LastImport {
                source: r.source,
                at: r.at,
                counts: ImportCounts {
                    added: unsigned("added", r.added)?,
                    updated: unsigned("updated", r.updated)?,
                    unchanged: unsigned("unchanged", r.unchanged)?,
                    rejected: unsigned("rejected", r.rejected)?,
                },
            })
        })
        .transpose()
    }
}
