//! `impl_backend!(Engine)`: the `Backend` impl of an engine that defines each operation as
//! an inherent `<name>_impl` method, so the trait's signatures are written once.

#[doc(hidden)]
pub use async_trait::async_trait as __async_trait;

#[macro_export]
macro_rules! impl_backend {
    ($engine:ty) => {
        #[$crate::forward::__async_trait]
        impl $crate::Backend for $engine {
            fn engine(&self) -> $crate::Engine {
                self.engine_impl()
            }
            fn stats(&self) -> &$crate::Stats {
                &self.stats
            }
            async fn migrations_applied(&self) -> $crate::StoreResult<bool> {
                self.migrations_applied_impl().await
            }
            async fn ping(&self) -> $crate::StoreResult<()> {
                self.ping_impl().await
            }
            fn pool_status(&self) -> (u32, u32) {
                self.pool_status_impl()
            }
            async fn close(&self) {
                self.close_impl().await
            }
            async fn start_incarnation(
                &self,
                me: &$crate::Incarnation,
                now: ::chrono::DateTime<::chrono::Utc>,
                stale_after: ::std::time::Duration,
            ) -> $crate::StoreResult<$crate::StartReport> {
                self.start_incarnation_impl(me, now, stale_after).await
            }
            async fn heartbeat(
                &self,
                me: &$crate::Incarnation,
                now: ::chrono::DateTime<::chrono::Utc>,
                head: &$crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.heartbeat_impl(me, now, head).await
            }
            async fn stop_incarnation(
                &self,
                me: &$crate::Incarnation,
                now: ::chrono::DateTime<::chrono::Utc>,
                head: &$crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.stop_incarnation_impl(me, now, head).await
            }
            async fn case_info(
                &self,
                case: &::sedgate_base::domain::CaseId,
                local: &::sedgate_base::domain::InstitutionId,
            ) -> $crate::StoreResult<Option<$crate::CaseInfo>> {
                self.case_info_impl(case, local).await
            }
            async fn saved_response(
                &self,
                client_id: &str,
                key: &str,
            ) -> $crate::StoreResult<Option<$crate::SavedResponse>> {
                self.saved_response_impl(client_id, key).await
            }
            async fn write_batch(
                &self,
                writes: &[$crate::GroupWrite],
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<$crate::BatchOutcome> {
                self.write_batch_impl(writes, chain).await
            }
            async fn write_alone(
                &self,
                write: &$crate::GroupWrite,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<$crate::GroupDone> {
                self.write_alone_impl(write, chain).await
            }
            async fn inbound_receipt(
                &self,
                id: &::sedgate_base::domain::MessageId,
                peer_country: &str,
            ) -> $crate::StoreResult<Option<Vec<u8>>> {
                self.inbound_receipt_impl(id, peer_country).await
            }
            async fn claim_due(
                &self,
                me: &$crate::Incarnation,
                now: ::chrono::DateTime<::chrono::Utc>,
                stale_after: ::std::time::Duration,
                limit: u32,
            ) -> $crate::StoreResult<Vec<$crate::OutboxItem>> {
                self.claim_due_impl(me, now, stale_after, limit).await
            }
            async fn next_due(
                &self,
            ) -> $crate::StoreResult<Option<::chrono::DateTime<::chrono::Utc>>> {
                self.next_due_impl().await
            }
            async fn record_retry(
                &self,
                id: &::sedgate_base::domain::MessageId,
                attempts: u32,
                next_attempt_at: ::chrono::DateTime<::chrono::Utc>,
                error: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> $crate::StoreResult<()> {
                self.record_retry_impl(id, attempts, next_attempt_at, error, now)
                    .await
            }
            async fn record_dead(
                &self,
                id: &::sedgate_base::domain::MessageId,
                attempts: u32,
                state: $crate::MessageState,
                code: &str,
                detail: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.record_dead_impl(id, attempts, state, code, detail, now, chain)
                    .await
            }
            async fn dead_letters(&self) -> $crate::StoreResult<Vec<$crate::DeadLetter>> {
                self.dead_letters_impl().await
            }
            async fn redrive(
                &self,
                which: &$crate::Redrive,
                actor: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<Vec<::sedgate_base::domain::MessageId>> {
                self.redrive_impl(which, actor, now, chain).await
            }
            async fn outbox_counts(&self) -> $crate::StoreResult<(u64, u64)> {
                self.outbox_counts_impl().await
            }
            async fn outbound_receipt(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Option<Vec<u8>>> {
                self.outbound_receipt_impl(id).await
            }
            async fn record_evidence(
                &self,
                evidence: &$crate::Evidence,
            ) -> $crate::StoreResult<()> {
                self.record_evidence_impl(evidence).await
            }
            async fn evidence(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Vec<$crate::Evidence>> {
                self.evidence_impl(id).await
            }
            async fn message(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Option<$crate::MessageRecord>> {
                self.message_impl(id).await
            }
            async fn message_events(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Vec<$crate::MessageEvent>> {
                self.message_events_impl(id).await
            }
            async fn message_parts(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Vec<$crate::PartRecord>> {
                self.message_parts_impl(id).await
            }
            async fn case_messages(
                &self,
                case: &::sedgate_base::domain::CaseId,
            ) -> $crate::StoreResult<Vec<$crate::MessageRecord>> {
                self.case_messages_impl(case).await
            }
            async fn message_counts(&self) -> $crate::StoreResult<Vec<(String, String, u64)>> {
                self.message_counts_impl().await
            }
            async fn message_counts_by_peer(
                &self,
            ) -> $crate::StoreResult<Vec<(String, String, u64)>> {
                self.message_counts_by_peer_impl().await
            }
            async fn search_messages(
                &self,
                q: &$crate::MessageQuery,
            ) -> $crate::StoreResult<Vec<$crate::MessageRecord>> {
                self.search_messages_impl(q).await
            }
            async fn activity_since(
                &self,
                since: ::chrono::DateTime<::chrono::Utc>,
            ) -> $crate::StoreResult<$crate::Activity> {
                self.activity_since_impl(since).await
            }
            async fn payload(
                &self,
                hash: &str,
            ) -> $crate::StoreResult<Option<$crate::PayloadData>> {
                self.payload_impl(hash).await
            }
            async fn write_upload_chunk(
                &self,
                upload_id: &str,
                incarnation: &str,
                idx: i32,
                data: &[u8],
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> $crate::StoreResult<()> {
                self.write_upload_chunk_impl(upload_id, incarnation, idx, data, now)
                    .await
            }
            async fn read_upload_chunks(
                &self,
                upload_id: &str,
                from: i32,
                count: i32,
            ) -> $crate::StoreResult<Vec<Vec<u8>>> {
                self.read_upload_chunks_impl(upload_id, from, count).await
            }
            async fn discard_upload(&self, upload_id: &str) -> $crate::StoreResult<()> {
                self.discard_upload_impl(upload_id).await
            }
            async fn sweep_uploads(
                &self,
                now: ::chrono::DateTime<::chrono::Utc>,
                stale_after: ::std::time::Duration,
            ) -> $crate::StoreResult<u64> {
                self.sweep_uploads_impl(now, stale_after).await
            }
            async fn payload_exists(&self, hash: &str) -> $crate::StoreResult<bool> {
                self.payload_exists_impl(hash).await
            }
            async fn inbox_list(
                &self,
                receivers: &[::sedgate_base::domain::InstitutionId],
                after: i64,
                limit: i64,
                include_acked: bool,
            ) -> $crate::StoreResult<Vec<$crate::InboxItem>> {
                self.inbox_list_impl(receivers, after, limit, include_acked)
                    .await
            }
            async fn inbox_item(
                &self,
                id: &::sedgate_base::domain::MessageId,
            ) -> $crate::StoreResult<Option<$crate::InboxItem>> {
                self.inbox_item_impl(id).await
            }
            async fn inbox_ack(
                &self,
                id: &::sedgate_base::domain::MessageId,
                actor: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<bool> {
                self.inbox_ack_impl(id, actor, now, chain).await
            }
            async fn add_api_client(
                &self,
                client: &$crate::NewApiClient,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.add_api_client_impl(client, now, chain).await
            }
            async fn api_client_by_token_hash(
                &self,
                token_hash: &str,
            ) -> $crate::StoreResult<Option<$crate::ApiClient>> {
                self.api_client_by_token_hash_impl(token_hash).await
            }
            async fn revoke_api_client(
                &self,
                name: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.revoke_api_client_impl(name, now, chain).await
            }
            async fn add_operator(
                &self,
                id: &str,
                name: &str,
                password_hash: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.add_operator_impl(id, name, password_hash, now, chain)
                    .await
            }
            async fn operator_by_name(
                &self,
                name: &str,
            ) -> $crate::StoreResult<Option<$crate::Operator>> {
                self.operator_by_name_impl(name).await
            }
            async fn create_operator_session(
                &self,
                operator: &$crate::Operator,
                token_hash: &str,
                csrf_token: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
                expires_at: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.create_operator_session_impl(
                    operator, token_hash, csrf_token, now, expires_at, chain,
                )
                .await
            }
            async fn operator_session(
                &self,
                token_hash: &str,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> $crate::StoreResult<Option<$crate::OperatorSession>> {
                self.operator_session_impl(token_hash, now).await
            }
            async fn delete_operator_session(&self, token_hash: &str) -> $crate::StoreResult<()> {
                self.delete_operator_session_impl(token_hash).await
            }
            async fn import_institutions(
                &self,
                batch: &[$crate::ir::InstitutionUpsert],
                source: &str,
                rejected: u64,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
                progress: &(dyn Fn(u64) + Send + Sync),
            ) -> $crate::StoreResult<$crate::ir::ImportCounts> {
                self.import_institutions_impl(batch, source, rejected, now, chain, progress)
                    .await
            }
            async fn import_access_points(
                &self,
                batch: &[$crate::ir::AccessPoint],
                source: &str,
                rejected: u64,
                now: ::chrono::DateTime<::chrono::Utc>,
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<$crate::ir::ImportCounts> {
                self.import_access_points_impl(batch, source, rejected, now, chain)
                    .await
            }
            async fn load_ir(&self) -> $crate::StoreResult<$crate::ir::IrSnapshot> {
                self.load_ir_impl().await
            }
            async fn last_import(&self) -> $crate::StoreResult<Option<$crate::LastImport>> {
                self.last_import_impl().await
            }
            async fn audit(
                &self,
                events: &[$crate::AuditEvent],
                chain: &mut $crate::AuditChain,
            ) -> $crate::StoreResult<()> {
                self.audit_alone(events, chain).await
            }
            async fn audit_verify(
                &self,
            ) -> $crate::StoreResult<Vec<(String, $crate::AuditReport)>> {
                self.audit_verify_impl().await
            }
            async fn audit_tail(&self, limit: i64) -> $crate::StoreResult<Vec<$crate::AuditEntry>> {
                self.audit_tail_impl(limit).await
            }
        }
    };
}
