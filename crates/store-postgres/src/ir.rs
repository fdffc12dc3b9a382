//! Institution repository tables. An import is planned in memory (`ir::plan_import`) and
//! written in multi-row statements in one transaction.

use chrono::{DateTime, Utc};
use sedgate_db::StoreResult;
use sedgate_store::ir::{
    assemble, plan_import, AccessPoint, Competence, ImportCounts, Institution, InstitutionUpsert,
    IrSnapshot,
};
use sedgate_store::{parse_stored, unsigned, AuditChain, AuditEvent, LastImport, Operation};
use sqlx::PgConnection;

use crate::{i64_of, PgBackend};

/// Rows per multi-row statement.
const WRITE_CHUNK: usize = 1000;

impl PgBackend {
    pub(crate) async fn import_institutions_impl(
        &self,
        batch: &[InstitutionUpsert],
        source: &str,
        rejected: u64,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<ImportCounts> {
        let mut tx = self.pool.begin().await?;
        let existing = self.load_institutions(&mut tx).await?;
        let plan = plan_import(&existing, batch, rejected);
        let total = plan.write.len() as u64 + plan.counts.unchanged;
        for (n, chunk) in plan.write.chunks(WRITE_CHUNK).enumerate() {
            progress(plan.counts.unchanged + (n * WRITE_CHUNK) as u64);
            let ids: Vec<String> = chunk.iter().map(|i| i.id.to_string()).collect();
            let countries: Vec<String> = chunk.iter().map(|i| i.country.to_string()).collect();
            let acronyms: Vec<Option<String>> = chunk.iter().map(|i| i.acronym.clone()).collect();
            let froms: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|i| i.valid_from).collect();
            let tos: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|i| i.valid_to).collect();
            let ready: Vec<bool> = chunk.iter().map(|i| i.eessi_ready).collect();
            sqlx::query!(
                "INSERT INTO institutions (id, country, acronym, valid_from, valid_to, eessi_ready, updated_at) \
                 SELECT t.id, t.country, t.acronym, t.valid_from, t.valid_to, t.ready, $7 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bool[]) \
                 AS t(id, country, acronym, valid_from, valid_to, ready) \
                 ON CONFLICT (id) DO UPDATE SET country = excluded.country, acronym = excluded.acronym, \
                 valid_from = excluded.valid_from, valid_to = excluded.valid_to, \
                 eessi_ready = excluded.eessi_ready, updated_at = excluded.updated_at",
                &ids,
                &countries,
                &acronyms as &[Option<String>],
                &froms as &[Option<DateTime<Utc>>],
                &tos as &[Option<DateTime<Utc>>],
                &ready,
                now,
            )
            .execute(&mut *tx)
            .await?;
            self.count(Operation::Admin, 1);
        }
        let by_id =
            |id: &sedgate_base::domain::InstitutionId| plan.write.iter().find(|i| &i.id == id);
        let name_ids: Vec<String> = plan.replace_names.iter().map(|i| i.to_string()).collect();
        sqlx::query!(
            "DELETE FROM institution_names WHERE institution_id = ANY($1)",
            &name_ids
        )
        .execute(&mut *tx)
        .await?;
        let names: Vec<(String, String, String)> = plan
            .replace_names
            .iter()
            .filter_map(by_id)
            .flat_map(|inst| {
                inst.names
                    .iter()
                    .map(|(lang, name)| (inst.id.to_string(), lang.clone(), name.clone()))
            })
            .collect();
        for chunk in names.chunks(WRITE_CHUNK) {
            let (ids, langs, texts): (Vec<String>, Vec<String>, Vec<String>) =
                chunk.iter().cloned().fold(
                    (Vec::new(), Vec::new(), Vec::new()),
                    |(mut a, mut b, mut c), (x, y, z)| {
                        a.push(x);
                        b.push(y);
                        c.push(z);
                        (a, b, c)
                    },
                );
            sqlx::query!(
                "INSERT INTO institution_names (institution_id, lang, name) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
                &ids,
                &langs,
                &texts
            )
            .execute(&mut *tx)
            .await?;
        }
        let comp_ids: Vec<String> = plan
            .replace_competences
            .iter()
            .map(|i| i.to_string())
            .collect();
        sqlx::query!(
            "DELETE FROM competences WHERE institution_id = ANY($1)",
            &comp_ids
        )
        .execute(&mut *tx)
        .await?;
        let competences: Vec<(String, &Competence)> = plan
            .replace_competences
            .iter()
            .filter_map(by_id)
            .flat_map(|inst| inst.competences.iter().map(|c| (inst.id.to_string(), c)))
            .collect();
        for chunk in competences.chunks(WRITE_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            let bucs: Vec<String> = chunk.iter().map(|(_, c)| c.buc.to_string()).collect();
            let roles: Vec<String> = chunk
                .iter()
                .map(|(_, c)| c.role.as_str().to_owned())
                .collect();
            let froms: Vec<Option<DateTime<Utc>>> =
                chunk.iter().map(|(_, c)| c.valid_from).collect();
            let tos: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|(_, c)| c.valid_to).collect();
            let ready: Vec<bool> = chunk.iter().map(|(_, c)| c.eessi_ready).collect();
            sqlx::query!(
                "INSERT INTO competences (institution_id, buc, role, valid_from, valid_to, eessi_ready) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bool[])",
                &ids,
                &bucs,
                &roles,
                &froms as &[Option<DateTime<Utc>>],
                &tos as &[Option<DateTime<Utc>>],
                &ready,
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
        let mut tx = self.pool.begin().await?;
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
            sqlx::query!(
                "INSERT INTO access_points (country, endpoint_url, cert_fingerprints, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (country) DO UPDATE SET \
                 endpoint_url = excluded.endpoint_url, cert_fingerprints = excluded.cert_fingerprints, \
                 updated_at = excluded.updated_at",
                ap.country.as_str(),
                ap.endpoint_url,
                &ap.cert_fingerprints,
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
        conn: &mut PgConnection,
        source: &str,
        kind: &str,
        counts: &ImportCounts,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        sqlx::query!(
            "INSERT INTO ir_imports (source, kind, at, added, updated, unchanged, rejected) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            source,
            kind,
            now,
            i64_of(counts.added),
            i64_of(counts.updated),
            i64_of(counts.unchanged),
            i64_of(counts.rejected),
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
        let mut conn = self.pool.acquire().await?;
        Ok(IrSnapshot {
            institutions: self.load_institutions(&mut conn).await?,
            access_points: self.load_access_points(&mut conn).await?,
        })
    }

    async fn load_institutions(&self, conn: &mut PgConnection) -> StoreResult<Vec<Institution>> {
        let names = sqlx::query!("SELECT institution_id, lang, name FROM institution_names")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.institution_id, r.lang, r.name))
            .collect();
        let competences = sqlx::query!(
            "SELECT institution_id, buc, role, valid_from, valid_to, eessi_ready FROM competences"
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
            "SELECT id, country, acronym, valid_from, valid_to, eessi_ready FROM institutions ORDER BY id"
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

    async fn load_access_points(&self, conn: &mut PgConnection) -> StoreResult<Vec<AccessPoint>> {
        let rows = sqlx::query!(
            "SELECT country, endpoint_url, cert_fingerprints FROM access_points ORDER BY country"
        )
        .fetch_all(&mut *conn)
        .await?;
        self.count(Operation::Read, 1);
        rows.into_iter()
            .map(|r| {
                Ok(AccessPoint {
                    country: parse_stored("country", &r.country)?,
                    endpoint_url: r.endpoint_url,
                    cert_fingerprints: r.cert_fingerprints,
                })
            })
            .collect()
    }

    pub(crate) async fn last_import_impl(&self) -> StoreResult<Option<LastImport>> {
        let row = sqlx::query!(
            "SELECT source, at, added, updated, unchanged, rejected FROM ir_imports ORDER BY id DESC LIMIT 1"
        )
        .fetch_optional(&self.pool)
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
