//! MISSOC users (bearer tokens, only their hash stored) and their page sessions.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append_audit;
use super::{from_millis, to_millis, MissocStore, StoreError, StoreResult};
use crate::model::Role;
use crate::workflow::{role_country, role_from_parts, MissocUser};

/// A user to create. The caller makes the token (`sedgate_base::secret::generate_token`)
/// and shows it once; only its hash is stored.
#[derive(Debug, Clone)]
pub struct NewMissocUser {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// `sedgate_base::secret::hash_token` of the bearer token.
    pub token_hash: String,
}

/// A live page session.
#[derive(Debug, Clone)]
pub struct MissocSession {
    pub user: MissocUser,
    /// Every form of the pages must carry it back.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

fn user_from_row(row: &AnyRow) -> StoreResult<MissocUser> {
    let role: String = row.try_get("role")?;
    let country: Option<String> = row.try_get("country")?;
    Ok(MissocUser {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role_from_parts(&role, country.as_deref())
            .map_err(|e| StoreError::Corrupt(format!("missoc user role: {e}")))?,
    })
}

impl MissocStore {
    /// Creates a user (audited with `actor`). A taken name is a conflict.
    pub async fn add_missoc_user(
        &self,
        user: &NewMissocUser,
        actor: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pools.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO missoc_users (id, name, role, country, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(user.role.name())
        .bind(role_country(&user.role).map(|c| c.as_str().to_owned()))
        .bind(&user.token_hash)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a MISSOC user named {:?} exists",
                user.name
            )));
        }
        let detail = match role_country(&user.role) {
            Some(c) => format!("{} {c}", user.role.name()),
            None => user.role.name().to_owned(),
        };
        append_audit(
            &mut tx,
            now,
            actor,
            "missoc.user.add",
            Some(&user.name),
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn missoc_user_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<MissocUser>> {
        let row =
            sqlx::query("SELECT id, name, role, country FROM missoc_users WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pools.reader)
                .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Starts a page session for `user_id` and drops expired ones.
    pub async fn create_missoc_session(
        &self,
        user_id: &str,
        token_hash: &str,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pools.writer.begin().await?;
        sqlx::query("DELETE FROM missoc_sessions WHERE expires_at <= $1")
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO missoc_sessions (token_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(to_millis(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session with this cookie hash, with its user.
    pub async fn missoc_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MissocSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.country, s.csrf, s.expires_at FROM missoc_sessions s \
             JOIN missoc_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.pools.reader)
        .await?;
        row.map(|row| {
            Ok(MissocSession {
                user: user_from_row(&row)?,
                csrf: row.try_get("csrf")?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    pub async fn delete_missoc_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM missoc_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pools.writer)
            .await?;
        Ok(())
    }
}
