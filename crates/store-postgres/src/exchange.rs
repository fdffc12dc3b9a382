//! The hot path of one SED: intake (payloads + messages, two statements), settlement
//! (one), inbound (payloads + message, two; evidence when signed), each with its audit
//! entries written once per transaction.

use chrono::{DateTime, Utc};
use sedgate_base::domain::{CaseId, InstitutionId, MessageId};
use sedgate_db::{StoreError, StoreResult};
use sedgate_store::rows::{event_json, message_audit, CaseRow, SavedRow};
use sedgate_store::{
    to_json, AcceptOutcome, AuditChain, AuditEvent, BatchOutcome, CaseInfo, Delivery, Evidence,
    GroupDone, GroupWrite, InboundMessage, InboundOutcome, MessageEvent, NewPart, Operation,
    PartRecord, SavedResponse, StagedPayload, StoredPayload, Submission,
};
use sqlx::PgConnection;

use crate::{i64_of, PgBackend};

/// A write ran into a row that exists (an idempotency key used before, a message received
/// before): only a transaction of its own can tell what to answer.
struct Conflict;

impl PgBackend {
    pub(crate) async fn case_info_impl(
        &self,
        case: &CaseId,
        local: &InstitutionId,
    ) -> StoreResult<Option<CaseInfo>> {
        let row = sqlx::query_as!(
            CaseRow,
            r#"SELECT (array_agg(buc ORDER BY seq))[1] AS "buc!",
                      (array_agg(direction ORDER BY seq))[1] AS "direction!",
                      COUNT(*) AS "messages!",
                      jsonb_agg(DISTINCT CASE WHEN direction = 'out' THEN receiver ELSE sender END)::text
                          AS "participants!"
               FROM messages
               WHERE case_id = $1 AND ((direction = 'out' AND sender = $2) OR (direction = 'in' AND receiver = $2))
               HAVING COUNT(*) > 0"#,
            case.as_str(),
            local.as_str(),
        )
        .fetch_optional(&self.pool)
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
            "SELECT request_hash, response_status, response FROM messages \
             WHERE client_id = $1 AND idempotency_key = $2",
            client_id,
            key
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        row.map(SavedRow::saved).transpose()
    }

    pub(crate) async fn inbound_receipt_impl(
        &self,
        id: &MessageId,
        peer_country: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let receipt = sqlx::query_scalar!(
            "SELECT receipt FROM messages WHERE id = $1 AND direction = 'in' AND peer_country = $2",
            id.as_str(),
            peer_country
        )
        .fetch_optional(&self.pool)
        .await?;
        self.count(Operation::Read, 1);
        Ok(receipt.flatten())
    }

    pub(crate) async fn write_batch_impl(
        &self,
        writes: &[GroupWrite],
        chain: &mut AuditChain,
    ) -> StoreResult<BatchOutcome> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
        conn: &mut PgConnection,
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

    /// Payload rows of new parts (one statement for all of them).
    async fn insert_payloads<'a>(
        &self,
        conn: &mut PgConnection,
        parts: impl Iterator<Item = &'a NewPart>,
        now: DateTime<Utc>,
        op: Operation,
    ) -> StoreResult<()> {
        let mut hashes = Vec::new();
        let mut sizes = Vec::new();
        let mut contents: Vec<Option<Vec<u8>>> = Vec::new();
        let mut uploads: Vec<Option<String>> = Vec::new();
        for part in parts {
            if hashes.contains(&part.hash) {
                continue;
            }
            let (content, upload) = match &part.stored {
                StoredPayload::Inline(bytes) => (Some(bytes.to_vec()), None),
                StoredPayload::Staged(StagedPayload::Upload(id)) => (None, Some(id.clone())),
                StoredPayload::Staged(StagedPayload::File(path)) => {
                    return Err(StoreError::Corrupt(format!(
                        "payload {} staged as a file ({}) on PostgreSQL",
                        part.hash,
                        path.display()
                    )))
                }
            };
            hashes.push(part.hash.clone());
            sizes.push(i64_of(part.size));
            contents.push(content);
            uploads.push(upload);
        }
        if hashes.is_empty() {
            return Ok(());
        }
        sqlx::query!(
            "INSERT INTO payloads (hash, size, content, upload_id, created_at) \
             SELECT t.hash, t.size, t.content, t.upload_id, $5 \
             FROM UNNEST($1::text[], $2::bigint[], $3::bytea[], $4::text[]) AS t(hash, size, content, upload_id) \
             ON CONFLICT (hash) DO NOTHING",
            &hashes,
            &sizes,
            &contents as &[Option<Vec<u8>>],
            &uploads as &[Option<String>],
            now,
        )
        .execute(&mut *conn)
        .await?;
        self.count(op, 1);
        Ok(())
    }

    async fn accept(
        &self,
        conn: &mut PgConnection,
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
        let mut ids = Vec::with_capacity(n);
        let mut peers = Vec::with_capacity(n);
        let mut cases = Vec::with_capacity(n);
        let mut bucs = Vec::with_capacity(n);
        let mut seds = Vec::with_capacity(n);
        let mut cdms = Vec::with_capacity(n);
        let mut senders = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        let mut sed_hashes = Vec::with_capacity(n);
        let mut parts = Vec::with_capacity(n);
        let mut keys: Vec<Option<String>> = Vec::with_capacity(n);
        let mut request_hashes: Vec<Option<String>> = Vec::with_capacity(n);
        let mut statuses: Vec<Option<i32>> = Vec::with_capacity(n);
        let mut responses: Vec<Option<String>> = Vec::with_capacity(n);
        let actor = format!("client:{}", sub.client_id);
        for (i, m) in sub.messages.iter().enumerate() {
            let sed_hash = m.parts.first().map(|p| p.hash.clone()).ok_or_else(|| {
                StoreError::Conflict("a message needs at least its SED part".into())
            })?;
            ids.push(m.id.to_string());
            peers.push(m.peer_country.to_string());
            cases.push(m.case_id.to_string());
            bucs.push(m.buc.to_string());
            seds.push(m.sed_type.to_string());
            cdms.push(m.cdm.to_string());
            senders.push(m.sender.to_string());
            receivers.push(m.receiver.to_string());
            sed_hashes.push(sed_hash);
            parts.push(to_json(&PartRecord::of(&m.parts))?);
            // The idempotency answer rides on the first message of the submission.
            let idem = sub.idempotency.as_ref().filter(|_| i == 0);
            keys.push(idem.map(|r| r.key.clone()));
            request_hashes.push(idem.map(|r| r.request_hash.clone()));
            statuses.push(idem.map(|r| i32::from(r.status)));
            responses.push(idem.map(|r| r.response.clone()));
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
        let inserted = sqlx::query_scalar!(
            "INSERT INTO messages (id, direction, peer_country, case_id, buc, sed_type, cdm_version, \
             sender, receiver, state, sed_hash, parts, history, client_id, submission_id, \
             idempotency_key, request_hash, response_status, response, next_attempt_at, created_at, updated_at) \
             SELECT t.id, 'out', t.peer, t.case_id, t.buc, t.sed, t.cdm, t.sender, t.receiver, 'accepted', \
             t.sed_hash, t.parts::jsonb, $15::text::jsonb, $16, $17, t.ikey, t.rhash, t.rstatus, t.resp, $18, $18, $18 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[]) \
             AS t(id, peer, case_id, buc, sed, cdm, sender, receiver, sed_hash, parts, ikey, rhash, rstatus, resp) \
             ON CONFLICT DO NOTHING RETURNING seq",
            &ids,
            &peers,
            &cases,
            &bucs,
            &seds,
            &cdms,
            &senders,
            &receivers,
            &sed_hashes,
            &parts,
            &keys as &[Option<String>],
            &request_hashes as &[Option<String>],
            &statuses as &[Option<i32>],
            &responses as &[Option<String>],
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
        conn: &mut PgConnection,
        d: &Delivery,
        events: &mut Vec<AuditEvent>,
    ) -> StoreResult<bool> {
        let event = event_json(d.now, "delivered", Some("receipt received"))?;
        let settled = sqlx::query_scalar!(
            "UPDATE messages SET state = 'delivered', receipt = $2, delivered_at = $3, updated_at = $3, \
             next_attempt_at = NULL, claimed_by = NULL, dead = FALSE, \
             history = history || jsonb_build_array($4::text::jsonb) \
             WHERE id = $1 AND direction = 'out' AND next_attempt_at IS NOT NULL RETURNING seq",
            d.id.as_str(),
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
        conn: &mut PgConnection,
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
        let inserted = sqlx::query_scalar!(
            "INSERT INTO messages (id, direction, peer_country, case_id, buc, sed_type, cdm_version, \
             sender, receiver, state, sed_hash, parts, history, receipt, created_at, updated_at) \
             VALUES ($1, 'in', $2, $3, $4, $5, $6, $7, $8, 'received', $9, $10::text::jsonb, $11::text::jsonb, $12, $13, $13) \
             ON CONFLICT DO NOTHING RETURNING seq",
            msg.id.as_str(),
            msg.peer_country.as_str(),
            msg.case_id.as_str(),
            msg.buc.as_str(),
            msg.sed_type.as_str(),
            msg.cdm.as_str(),
            msg.sender.as_str(),
            msg.receiver.as_str(),
            sed_hash,
            to_json(&PartRecord::of(&msg.parts))?,
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
        conn: &mut PgConnection,
        e: &Evidence,
        op: Operation,
    ) -> StoreResult<()> {
        sqlx::query!(
            "INSERT INTO evidence (message_id, direction, peer_country, envelope, refs, receipt, peer_cert, verification, at) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9) \
             ON CONFLICT (message_id, direction, peer_country) DO UPDATE SET envelope = excluded.envelope, \
             refs = excluded.refs, receipt = excluded.receipt, peer_cert = excluded.peer_cert, \
             verification = excluded.verification, at = excluded.at",
            e.message_id.as_str(),
            e.direction.as_str(),
            e.peer_country.as_str(),
            e.envelope,
            to_json(&e.references)?,
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
