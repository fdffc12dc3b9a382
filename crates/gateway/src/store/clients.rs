//! Back-office API clients: a hashed token bound to the institutions it may act for.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::audit::append_audit;
use super::{opt_from_millis, to_millis, Store, StoreError, StoreResult};
use sedgate_base::domain::InstitutionId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: String,
    pub name: String,
    pub institutions: Vec<InstitutionId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewApiClient {
    pub id: String,
    pub name: String,
    /// SHA-256 of the token, hex. The token itself is never stored.
    pub token_hash: String,
    pub institutions: Vec<InstitutionId>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn add_api_client(
        &self,
        client: &NewApiClient,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let taken = sqlx::query("SELECT 1 FROM api_clients WHERE name = $1")
            .bind(&client.name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a client named {:?} exists already",
                client.name
            )));
        }
        let institutions: Vec<&str> = client.institutions.iter().map(|i| i.as_str()).collect();
        sqlx::query(
            "INSERT INTO api_clients (id, name, token_hash, institutions, created_at, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.token_hash)
        .bind(institutions.join(","))
        .bind(to_millis(now))
        .bind(client.expires_at.map(to_millis))
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            now,
            "cli",
            "client.add",
            Some(&client.name),
            Some(&institutions.join(",")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn api_client_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<ApiClient>> {
        let row = sqlx::query(
            "SELECT id, name, institutions, expires_at, revoked FROM api_clients WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            let list: String = row.try_get("institutions")?;
            let institutions = list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|e| StoreError::Corrupt(format!("client institution {s:?}: {e}")))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(ApiClient {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                institutions,
                expires_at: opt_from_millis(row.try_get("expires_at")?)?,
                revoked: row.try_get::<i64, _>("revoked")? != 0,
            })
        })
        .transpose()
    }

    pub async fn revoke_api_client(&self, name: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE api_clients SET revoked = 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client {name:?}")));
        }
        append_audit(&mut tx, now, "cli", "client.revoke", Some(name), None).await?;
        tx.commit().await?;
        Ok(())
    }
}
