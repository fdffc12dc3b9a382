//! Back-office API clients and console operators.

use chrono::{DateTime, Utc};
use sedgate_db::{StoreError, StoreResult};
use sedgate_store::{
    from_json, parse_stored, to_json, ApiClient, AuditChain, AuditEvent, NewApiClient, Operation,
    Operator, OperatorSession,
};

use crate::SqliteBackend;

impl SqliteBackend {
    pub(crate) async fn add_api_client_impl(
        &self,
        client: &NewApiClient,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let institutions: Vec<String> = client.institutions.iter().map(|i| i.to_string()).collect();
        let institutions_json = to_json(&institutions)?;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query!(
            "INSERT INTO api_clients (id, name, token_hash, institutions, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
            client.id,
            client.name,
            client.token_hash,
            institutions_json,
            now,
            client.expires_at,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.count(Operation::Admin, 1);
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a client named {:?} exists already",
                client.name
            )));
        }
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                "cli",
                "client.add",
                Some(&client.name),
                Some(institutions.join(",")),
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn api_client_by_token_hash_impl(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<ApiClient>> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!", name, institutions, expires_at AS "expires_at: DateTime<Utc>", revoked
               FROM api_clients WHERE token_hash = ?1"#,
            token_hash
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        row.map(|r| {
            let institutions: Vec<String> = from_json("institutions", &r.institutions)?;
            Ok(ApiClient {
                id: r.id,
                name: r.name,
                institutions: institutions
                    .iter()
                    .map(|i| parse_stored("institutions", i))
                    .collect::<StoreResult<_>>()?,
                expires_at: r.expires_at,
                revoked: r.revoked,
            })
        })
        .transpose()
    }

    pub(crate) async fn revoke_api_client_impl(
        &self,
        name: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "UPDATE api_clients SET revoked = TRUE WHERE name = ?1",
            name
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.count(Operation::Admin, 1);
        if done == 0 {
            return Err(StoreError::NotFound(format!("client {name:?}")));
        }
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                "cli",
                "client.revoke",
                Some(name),
                None,
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn add_operator_impl(
        &self,
        id: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query!(
            "INSERT INTO operators (id, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO NOTHING",
            id,
            name,
            password_hash,
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.count(Operation::Admin, 1);
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "an operator named {name:?} exists"
            )));
        }
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                "cli",
                "operator.added",
                Some(name),
                None,
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn operator_by_name_impl(&self, name: &str) -> StoreResult<Option<Operator>> {
        let row = sqlx::query_as!(
            Operator,
            r#"SELECT id AS "id!", name, password_hash, disabled FROM operators WHERE name = ?1"#,
            name
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        Ok(row)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn create_operator_session_impl(
        &self,
        operator: &Operator,
        token_hash: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        chain: &mut AuditChain,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // PostgreSQL drops the expired sessions in the INSERT (a data-modifying CTE);
        // SQLite has none: two statements.
        sqlx::query!("DELETE FROM operator_sessions WHERE expires_at <= ?1", now)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "INSERT INTO operator_sessions (token_hash, operator_id, csrf_token, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            token_hash,
            operator.id,
            csrf_token,
            now,
            expires_at
        )
        .execute(&mut *tx)
        .await?;
        self.count(Operation::Admin, 2);
        let mut linked = chain.clone();
        self.insert_audit(
            &mut tx,
            &mut linked,
            &[AuditEvent::new(
                now,
                format!("operator:{}", operator.name),
                "operator.login",
                Some(&operator.name),
                None,
            )],
        )
        .await?;
        tx.commit().await?;
        *chain = linked;
        Ok(())
    }

    pub(crate) async fn operator_session_impl(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OperatorSession>> {
        let row = sqlx::query_as!(
            OperatorSession,
            r#"SELECT s.operator_id, o.name AS operator_name, s.csrf_token,
               s.expires_at AS "expires_at: DateTime<Utc>"
               FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
               WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT o.disabled"#,
            token_hash,
            now
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        Ok(row)
    }

    pub(crate) async fn delete_operator_session_impl(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query!(
            "DELETE FROM operator_sessions WHERE token_hash = ?1",
            token_hash
        )
        .execute(&self.writer)
        .await?;
        self.count(Operation::Admin, 1);
        Ok(())
    }
}
