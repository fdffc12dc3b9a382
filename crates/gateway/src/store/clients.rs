//! Back-office API clients: a hashed token bound to the institutions it may act for.
//!
//! A client is looked up on every request; reading it from the database each time would
//! cost a statement per SED. It is cached for `CLIENT_TTL`: a client revoked through
//! this process leaves the cache at once, one revoked by another process (a CLI command,
//! another node) within `CLIENT_TTL`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{ApiClient, NewApiClient, Store, StoreResult};

const CLIENT_TTL: Duration = Duration::from_secs(10);
/// Bounded: tokens are looked up before they are known to be valid.
const MAX_CACHED: usize = 1024;

#[derive(Default)]
pub(super) struct ClientCache {
    by_token_hash: parking_lot::Mutex<HashMap<String, (Instant, Option<ApiClient>)>>,
}

impl Store {
    pub async fn add_api_client(
        &self,
        client: &NewApiClient,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut chain = self.inner.chain.lock().await;
        self.backend().add_api_client(client, now, &mut chain).await
    }

    /// The client holding a token (by its SHA-256), cached for a few seconds. Unknown
    /// tokens are cached too, so guessing costs no statement per attempt.
    pub async fn api_client_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<ApiClient>> {
        let cache = &self.inner.clients.by_token_hash;
        if let Some((at, client)) = cache.lock().get(token_hash) {
            if at.elapsed() < CLIENT_TTL {
                return Ok(client.clone());
            }
        }
        let client = self.backend().api_client_by_token_hash(token_hash).await?;
        let mut cached = cache.lock();
        if cached.len() >= MAX_CACHED {
            cached.retain(|_, (at, _)| at.elapsed() < CLIENT_TTL);
            if cached.len() >= MAX_CACHED {
                cached.clear();
            }
        }
        cached.insert(token_hash.to_owned(), (Instant::now(), client.clone()));
        Ok(client)
    }

    pub async fn revoke_api_client(&self, name: &str, now: DateTime<Utc>) -> StoreResult<()> {
        {
            let mut chain = self.inner.chain.lock().await;
            self.backend()
                .revoke_api_client(name, now, &mut chain)
                .await?;
        };
        self.inner
            .clients
            .by_token_hash
            .lock()
            .retain(|_, (_, client)| client.as_ref().is_none_or(|c| c.name != name));
        Ok(())
    }
}
