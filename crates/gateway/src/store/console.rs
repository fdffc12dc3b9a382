//! What the operator console needs: operator accounts and sessions, message search, and
//! the dashboard's aggregates over stored messages and their history.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::audit::append_audit;
use super::messages::{message_from_row, MessageRecord, MessageState, MESSAGE_COLUMNS};
use super::{from_millis, to_millis, Store, StoreError, StoreResult};
use sedgate_base::domain::{CaseId, InstitutionId, MessageId};

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub name: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub operator_id: String,
    pub operator_name: String,
    /// Every console form must carry it back.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Message search; every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub id: Option<MessageId>,
    pub case_id: Option<CaseId>,
    /// Sender or receiver.
    pub institution: Option<InstitutionId>,
    pub state: Option<MessageState>,
    /// Stored at or after.
    pub from: Option<DateTime<Utc>>,
    /// Stored before.
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// What happened since a point in time, from the messages' history.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub accepted: u64,
    pub delivered: u64,
    pub received: u64,
    pub retries: u64,
    pub dead: u64,
    /// Milliseconds from acceptance to receipt of each message delivered in the window.
    pub delivery_latencies_ms: Vec<i64>,
}

impl Store {
    pub async fn add_operator(
        &self,
        id: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO operators (id, name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(password_hash)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "an operator named {name:?} exists"
            )));
        }
        append_audit(&mut tx, now, "cli", "operator.added", Some(name), None).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn operator_by_name(&self, name: &str) -> StoreResult<Option<Operator>> {
        let row =
            sqlx::query("SELECT id, name, password_hash, disabled FROM operators WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|row| {
            Ok(Operator {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                password_hash: row.try_get("password_hash")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Starts a session (audited as a login) and drops expired ones.
    pub async fn create_operator_session(
        &self,
        operator: &Operator,
        token_hash: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM operator_sessions WHERE expires_at <= $1")
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO operator_sessions (token_hash, operator_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(&operator.id)
        .bind(csrf_token)
        .bind(to_millis(now))
        .bind(to_millis(expires_at))
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            now,
            &format!("operator:{}", operator.name),
            "operator.login",
            Some(&operator.name),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session of an enabled operator with this cookie hash.
    pub async fn operator_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OperatorSession>> {
        let row = sqlx::query(
            "SELECT s.operator_id, o.name, s.csrf_token, s.expires_at FROM operator_sessions s \
             JOIN operators o ON o.id = s.operator_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND o.disabled = 0",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(OperatorSession {
                operator_id: row.try_get("operator_id")?,
                operator_name: row.try_get("name")?,
                csrf_token: row.try_get("csrf_token")?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    pub async fn delete_operator_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Messages matching `q`, newest first.
    pub async fn search_messages(&self, q: &MessageQuery) -> StoreResult<Vec<MessageRecord>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut text: Vec<String> = Vec::new();
        let mut add = |condition: &str, value: String, uses: usize| {
            let mut c = condition.to_owned();
            for _ in 0..uses {
                text.push(value.clone());
                c = c.replacen('?', &format!("${}", text.len()), 1);
            }
            conditions.push(c);
        };
        if let Some(id) = &q.id {
            add("m.id = ?", id.to_string(), 1);
        }
        if let Some(case) = &q.case_id {
            add("m.case_id = ?", case.to_string(), 1);
        }
        if let Some(inst) = &q.institution {
            add("(m.sender = ? OR m.receiver = ?)", inst.to_string(), 2);
        }
        if let Some(state) = q.state {
            add("m.state = ?", state.as_str().to_owned(), 1);
        }
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE 1 = 1");
        for c in &conditions {
            sql.push_str(" AND ");
            sql.push_str(c);
        }
        let mut times = Vec::new();
        if let Some(from) = q.from {
            times.push(to_millis(from));
            sql.push_str(&format!(
                " AND m.created_at >= ${}",
                text.len() + times.len()
            ));
        }
        if let Some(to) = q.to {
            times.push(to_millis(to));
            sql.push_str(&format!(
                " AND m.created_at < ${}",
                text.len() + times.len()
            ));
        }
        sql.push_str(&format!(
            " ORDER BY m.created_at DESC, m.id LIMIT ${}",
            text.len() + times.len() + 1
        ));
        let mut query = sqlx::query(&sql);
        for v in &text {
            query = query.bind(v.as_str());
        }
        for t in &times {
            query = query.bind(*t);
        }
        let rows = query
            .bind(q.limit.clamp(1, 1000))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// (peer country, direction, messages), for the dashboard.
    pub async fn message_counts_by_peer(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT peer_country, direction, COUNT(*) AS n FROM messages \
             GROUP BY peer_country, direction ORDER BY peer_country, direction",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("peer_country")?,
                    row.try_get("direction")?,
                    u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Events since `since`, and how long each message delivered since then took.
    pub async fn activity_since(&self, since: DateTime<Utc>) -> StoreResult<Activity> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM message_events WHERE at >= $1 GROUP BY state",
        )
        .bind(to_millis(since))
        .fetch_all(&self.reader)
        .await?;
        let mut activity = Activity::default();
        for row in &rows {
            let state: String = row.try_get("state")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match state.as_str() {
                "accepted" => activity.accepted += n,
                "delivered" => activity.delivered += n,
                "received" => activity.received += n,
                "retry" => activity.retries += n,
                "dead_lettered" | "failed" => activity.dead += n,
                _ => {}
            }
        }
        let rows = sqlx::query(
            "SELECT e.at - m.created_at AS latency FROM message_events e \
             JOIN messages m ON m.id = e.message_id \
             WHERE e.state = 'delivered' AND e.at >= $1 ORDER BY latency",
        )
        .bind(to_millis(since))
        .fetch_all(&self.reader)
        .await?;
        activity.delivery_latencies_ms = rows
            .iter()
            .map(|row| row.try_get::<i64, _>("latency"))
            .collect::<Result<_, _>>()?;
        Ok(activity)
    }
}
