//! The hot path of one SED: intake (payloads + messages, two statements), settlement
//! (one), inbound (payloads + message, two; evidence when signed), each with its audit
//! entries written once per transaction. Multi-row inserts are one statement over a JSON
//! array (`json_each`), bytes hex-encoded in it.

use chrono::{DateTime, Utc};
use sedgate_base::domain::{CaseId, InstitutionId, MessageId};
use sedgate_db::{StoreError, StoreResult};
use sedgate_store::rows::{event_json, message_audit, CaseRow, SavedRow};
use sedgate_store::{
    to_json, AcceptOutcome, AuditChain, AuditEvent, BatchOutcome, CaseInfo, Delivery, Evidence,
    GroupDone, GroupWrite, InboundMessage, InboundOutcome, MessageEvent, NewPart, Operation,
    PartRecord, SavedResponse, StagedPayload, StoredPayload, Submission,
};
use sqlx::SqliteConnection;

use crate::{i64_of, SqliteBackend};

/// A write ran into a row that exists (an idempotency key used before, a message received
/// before): only a transaction of its own can tell what to answer.
struct Conflict;

impl SqliteBackend {
    pub(crate) async fn case_info_impl(
        &self,
        case: &CaseId,
        local: &InstitutionId,
    ) -> StoreResult<Option<CaseInfo>> {
        let (case, local) = (case.as_str(), local.as_str());
        // The first message (by seq) gives the BUC and who started the case; no row at all
        // when our institution has no message of the case.
        let row = sqlx::query_as!(
            CaseRow,
            r#"WITH mine AS (
                   SELECT seq, buc, direction,
                          CASE WHEN direction = 'out' THEN receiver ELSE sender END AS other
                   FROM messages
                   WHERE case_id = ?1
                     AND ((direction = 'out' AND sender = ?2) OR (direction = 'in' AND receiver = ?2)))
               SELECT first.buc AS "buc!: String",
                      first.direction AS "direction!: String",
                      (SELECT COUNT(*) FROM mine) AS "messages!: i64",
                      (SELECT json_group_array(DISTINCT other) FROM mine) AS "participants!: String"
               FROM (SELECT buc, direction FROM mine ORDER BY seq LIMIT 1) AS first"#,
            case,
            local,
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::CaseRead, 1);
        row.map(CaseRow::info).transpose()
    }

    pub(crate) async fn saved_response_impl(
        &self,
        client_id: &str,
        key: &str,
    ) -> StoreResult<Option<SavedResponse>> {
        let row = sqlx::query_as!(
            SavedRow,
            r#"SELECT request_hash AS "request_hash?", response_status AS "response_status?: i32",
               response AS "response?" FROM messages
               WHERE client_id = ?1 AND idempotency_key = ?2"#,
            client_id,
            key
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        row.map(SavedRow::saved).transpose()
    }

    pub(crate) async fn inbound_receipt_impl(
        &self,
        id: &MessageId,
        peer_country: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let id = id.as_str();
        let receipt = sqlx::query_scalar!(
            "SELECT receipt FROM messages WHERE id = ?1 AND direction = 'in' AND peer_country = ?2",
            id,
            peer_country
        )
        .fetch_optional(&self.reader)
        .await?;
        self.count(Operation::Read, 1);
        Ok(receipt.flatten())
    }

    pub(crate) async fn write_batch_impl(
        &self,
        writes: &[GroupWrite],
        chain: &mut AuditChain,
    ) -> StoreResult<BatchOutcome> {
        let mut tx = self.begin_write().await?;
        let mut events = Vec::new();
        let mut results = Vec::with_capacity(writes.len());
        for (at, write) in writes.iter().enumerate() {
            match self.run_write(&mut tx, write, &mut events).await {
                Ok(Ok(done)) => results.push(done),
                Ok(Err(Conflict)) | Err(_) => {
                    tx.rollback().await?;
                    return Ok(BatchOutcome::Isolate { at });
                }
            }
        }
        let mut linked = chain.clone();
        self.insert_audit(&mut tx, &mut linked, &events).await?;
        tx.commit().await?;
        *chain = linked;
        self.stats.batch_committed(writes.len() as u64);
        Ok(BatchOutcome::Committed(results))
    }

    pub(crate) async fn write_alone_impl(
        &self,
        write: &GroupWrite,
        chain: &mut AuditChain,
    ) -> StoreResult<GroupDone> {
        let mut tx = self.begin_write().await?;
        let mut events = Vec::new();
        match self.run_write(&mut tx, write, &mut events).await {
            Ok(Ok(done)) => {
                let mut linked = chain.clone();
                self.insert_audit(&mut tx, &mut linked, &events).await?;
                tx.commit().await?;
                *chain = linked;
                self.stats.batch_committed(1);
                Ok(done)
            }
            Ok(Err(Conflict)) => {
                tx.rollback().await?;
                self.resolve_conflict(write).await
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    /// What a conflicting write answers, read after its transaction rolled back.
    async fn resolve_conflict(&self, write: &GroupWrite) -> StoreResult<GroupDone> {
        match write {
            GroupWrite::Accept(sub) => {
                let saved = match &sub.idempotency {
                    Some(idem) => self.saved_response_impl(&sub.client_id, &idem.key).await?,
                    None => None,
                };
                match (saved, &sub.idempotency) {
                    (Some(saved), Some(idem)) if saved.request_hash == idem.request_hash => {
                        Ok(GroupDone::Accept(AcceptOutcome::Replayed(saved)))
                    }
                    (Some(_), Some(_)) => Ok(GroupDone::Accept(AcceptOutcome::KeyReused)),
                    _ => Err(StoreError::Conflict(
                        "a message id of this submission is in use".into(),
                    )),
                }
            }
            GroupWrite::Inbound(msg) => {
                match self
                    .inbound_receipt_impl(&msg.id, msg.peer_country.as_str())
                    .await?
                {
                    Some(receipt) => Ok(GroupDone::Inbound(InboundOutcome::Duplicate { receipt })),
                    None => Err(StoreError::Conflict(format!(
                        "message id {} is in use by another message",
                        msg.id
                    ))),
                }
            }
            GroupWrite::Delivered(_) => Err(StoreError::Conflict(
                "a delivery met a conflict it cannot have".into(),
            )),
        }
    }

    async fn run_write(
        &self,
        conn: &mut SqliteConnection,
        write: &GroupWrite,
        events: &mut Vec<AuditEvent>,
    ) -> StoreResult<Result<GroupDone, Conflict>> {
        Ok(match write {
            GroupWrite::Accept(sub) => self.accept(conn, sub, events).await?.map(GroupDone::Accept),
            GroupWrite::Delivered(d) => {
                Ok(GroupDone::Delivered(self.delivered(conn, d, events).await?))
            }
            GroupWrite::Inbound(msg) => self
                .inbound(conn, msg, events)
                .await?
                .map(GroupDone::Inbound),
        })
    }

    /// Payload rows of new parts (one statement for all of them). Inline bytes travel
    /// hex-encoded in the JSON parameter; a payload staged as a file of the blob directory
    /// gets a row without content (the gateway promotes the file).
    async fn insert_payloads<'a>(
        &self,
        conn: &mut SqliteConnection,
        parts: impl Iterator<Item = &'a NewPart>,
        now: DateTime<Utc>,
        op: Operation,
    ) -> StoreResult<()> {
        let mut hashes: Vec<&str> = Vec::new();
        let mut rows: Vec<serde_json::Value> = Vec::new();
        for part in parts {
            if hashes.contains(&part.hash.as_str()) {
                continue;
            }
            let content = match &part.stored {
                StoredPayload::Inline(bytes) => Some(hex::encode(bytes)),
                StoredPayload::Staged(StagedPayload::File(_)) => None,
                StoredPayload::Staged(StagedPayload::Upload(id)) => {
                    return Err(StoreError::Corrupt(format!(
                        "payload {} staged as upload {id} on SQLite",
                        part.hash
                    )))
                }
            };
            hashes.push(&part.hash);
            rows.push(serde_json::json!({
                "hash": part.hash,
                "size": i64_of(part.size),
                "content": content,
            }));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let rows = to_json(&rows)?;
        // `WHERE true`: without it SQLite would read the upsert's ON as a join constraint.
        sqlx::query!(
            "INSERT INTO payloads (hash, size, content, created_at) \
             SELECT j.value ->> 'hash', j.value ->> 'size', unhex(j.value ->> 'content'), ?2 \
             FROM json_each(?1) AS j WHERE true \
             ON CONFLICT (hash) DO NOTHING",
            rows,
            now,
        )
        .execute(&mut *conn)
        .await?;
        self.count(op, 1);
        Ok(())
    }

    async fn accept(
        &self,
        conn: &mut SqliteConnection,
        sub: &Submission,
        events: &mut Vec<AuditEvent>,
    ) -> StoreResult<Result<AcceptOutcome, Conflict>> {
        self.insert_payloads(
            conn,
            sub.messages.iter().flat_map(|m| m.parts.iter()),
            sub.now,
            Operation::Intake,
        )
        .await?;
        let history = to_json(&vec![MessageEvent {
            at: sub.now,
            state: "accepted".into(),
            detail: None,
        }])?;
        let n = sub.messages.len();
        let mut rows: Vec<serde_json::Value> = Vec::with_capacity(n);
        let actor = format!("client:{}", sub.client_id);
        for (i, m) in sub.messages.iter().enumerate() {
            let sed_hash = m.parts.first().map(|p| p.hash.clone()).ok_or_else(|| {
                StoreError::Conflict("a message needs at least its SED part".into())
            })?;
            // The idempotency answer rides on the first message of the submission.
            let idem = sub.idempotency.as_ref().filter(|_| i == 0);
            rows.push(serde_json::json!({
                "id": m.id.as_str(),
                "peer": m.peer_country.as_str(),
                "case_id": m.case_id.as_str(),
                "buc": m.buc.as_str(),
                "sed": m.sed_type.as_str(),
                "cdm": m.cdm.as_str(),
                "sender": m.sender.as_str(),
                "receiver": m.receiver.as_str(),
                "sed_hash": sed_hash,
                "parts": PartRecord::of(&m.parts),
                "ikey": idem.map(|r| r.key.as_str()),
                "rhash": idem.map(|r| r.request_hash.as_str()),
                "rstatus": idem.map(|r| r.status),
                "resp": idem.map(|r| r.response.as_str()),
            }));
            events.push(message_audit(
                &actor,
                "message.accepted",
                &m.id,
                format!(
                    "{} {} {} -> {} case {}",
                    m.buc, m.sed_type, m.sender, m.receiver, m.case_id
                ),
                sub.now,
            ));
        }
        let rows = to_json(&rows)?;
        // `j.value -> 'parts'` is the parts array as JSON text. `WHERE true`: see above.
        let inserted = sqlx::query_scalar!(
            "INSERT INTO messages (id, direction, peer_country, case_id, buc, sed_type, cdm_version, \
             sender, receiver, state, sed_hash, parts, history, client_id, submission_id, \
             idempotency_key, request_hash, response_status, response, next_attempt_at, created_at, updated_at) \
             SELECT j.value ->> 'id', 'out', j.value ->> 'peer', j.value ->> 'case_id', j.value ->> 'buc', \
             j.value ->> 'sed', j.value ->> 'cdm', j.value ->> 'sender', j.value ->> 'receiver', 'accepted', \
             j.value ->> 'sed_hash', j.value -> 'parts', ?2, ?3, ?4, j.value ->> 'ikey', j.value ->> 'rhash', \
             j.value ->> 'rstatus', j.value ->> 'resp', ?5, ?5, ?5 \
             FROM json_each(?1) AS j WHERE true \
             ON CONFLICT DO NOTHING RETURNING seq",
            rows,
            history,
            sub.client_id,
            sub.submission_id,
            sub.now,
        )
        .fetch_all(&mut *conn)
        .await?;
        self.count(Operation::Intake, 1);
        if inserted.len() != n {
            return Ok(Err(Conflict));
        }
        Ok(Ok(AcceptOutcome::Accepted))
    }

    async fn delivered(
        &self,
        conn: &mut SqliteConnection,
        d: &Delivery,
        events: &mut Vec<AuditEvent>,
    ) -> StoreResult<bool> {
        let event = event_json(d.now, "delivered", Some("receipt received"))?;
        let id = d.id.as_str();
        let settled = sqlx::query_scalar!(
            "UPDATE messages SET state = 'delivered', receipt = ?2, delivered_at = ?3, updated_at = ?3, \
             next_attempt_at = NULL, claimed_by = NULL, dead = FALSE, \
             history = json_insert(history, '$[#]', json(?4)) \
             WHERE id = ?1 AND direction = 'out' AND next_attempt_at IS NOT NULL RETURNING seq",
            id,
            d.receipt,
            d.now,
            event,
        )
        .fetch_optional(&mut *conn)
        .await?;
        self.count(Operation::Settle, 1);
        if settled.is_none() {
            return Ok(false);
        }
        if let Some(evidence) = &d.evidence {
            self.upsert_evidence(conn, evidence, Operation::Settle)
                .await?;
        }
        events.push(AuditEvent::new(
            d.now,
            "outbox",
            "message.delivered",
            Some(d.id.as_str()),
            None,
        ));
        Ok(true)
    }

    async fn inbound(
        &self,
        conn: &mut SqliteConnection,
        msg: &InboundMessage,
        events: &mut Vec<AuditEvent>,
    ) -> StoreResult<Result<InboundOutcome, Conflict>> {
        self.insert_payloads(conn, msg.parts.iter(), msg.now, Operation::Inbound)
            .await?;
        let sed_hash =
            msg.parts.first().map(|p| p.hash.clone()).ok_or_else(|| {
                StoreError::Conflict("a message needs at least its SED part".into())
            })?;
        let history = to_json(&vec![MessageEvent {
            at: msg.now,
            state: "received".into(),
            detail: None,
        }])?;
        let parts = to_json(&PartRecord::of(&msg.parts))?;
        let (id, peer, case_id) = (
            msg.id.as_str(),
            msg.peer_country.as_str(),
            msg.case_id.as_str(),
        );
        let (buc, sed, cdm) = (msg.buc.as_str(), msg.sed_type.as_str(), msg.cdm.as_str());
        let (sender, receiver) = (msg.sender.as_str(), msg.receiver.as_str());
        let inserted = sqlx::query_scalar!(
            "INSERT INTO messages (id, direction, peer_country, case_id, buc, sed_type, cdm_version, \
             sender, receiver, state, sed_hash, parts, history, receipt, created_at, updated_at) \
             VALUES (?1, 'in', ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'received', ?9, ?10, ?11, ?12, ?13, ?13) \
             ON CONFLICT DO NOTHING RETURNING seq",
            id,
            peer,
            case_id,
            buc,
            sed,
            cdm,
            sender,
            receiver,
            sed_hash,
            parts,
            history,
            msg.receipt,
            msg.now,
        )
        .fetch_optional(&mut *conn)
        .await?;
        self.count(Operation::Inbound, 1);
        if inserted.is_none() {
            return Ok(Err(Conflict));
        }
        if let Some(evidence) = &msg.evidence {
            self.upsert_evidence(conn, evidence, Operation::Inbound)
                .await?;
        }
        events.push(message_audit(
            &format!("peer:{}", msg.peer_country),
            "message.received",
            &msg.id,
            format!(
                "{} {} {} -> {} case {}",
                msg.buc, msg.sed_type, msg.sender, msg.receiver, msg.case_id
            ),
            msg.now,
        ));
        Ok(Ok(InboundOutcome::Stored))
    }

    pub(crate) async fn upsert_evidence(
        &self,
        conn: &mut SqliteConnection,
        e: &Evidence,
        op: Operation,
    ) -> StoreResult<()> {
        let (id, direction, peer) = (
            e.message_id.as_str(),
            e.direction.as_str(),
            e.peer_country.as_str(),
        );
        let refs = to_json(&e.references)?;
        sqlx::query!(
            "INSERT INTO evidence (message_id, direction, peer_country, envelope, refs, receipt, peer_cert, verification, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (message_id, direction, peer_country) DO UPDATE SET envelope = excluded.envelope, \
             refs = excluded.refs, receipt = excluded.receipt, peer_cert = excluded.peer_cert, \
             verification = excluded.verification, at = excluded.at",
            id,
            direction,
            peer,
            e.envelope,
            refs,
            e.receipt,
            e.peer_cert,
            e.verification,
            e.at,
        )
        .execute(&mut *conn)
        .await?;
        self.count(op, 1);
        Ok(())
    }
}
