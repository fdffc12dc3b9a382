//! The two engines and their pools. SQLite: WAL, `synchronous = FULL` (a commit survives
//! power loss, which is what "acknowledge only what is committed" means), one writer
//! connection (waiting in the pool is cheaper than SQLITE_BUSY retries) and a pool of
//! readers. PostgreSQL: one pool for both, optionally in a schema of its own.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::{StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a database URL names.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

// busy_timeout covers the short overlap of the reader and writer pools.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                              PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// A store's connections: every write goes through `writer`, reads through `reader` (on
/// PostgreSQL the same pool).
#[derive(Clone)]
pub struct Pools {
    pub engine: Engine,
    pub writer: AnyPool,
    pub reader: AnyPool,
}

impl Pools {
    /// Connects to `url` (creating an SQLite file when missing). On PostgreSQL with
    /// `schema`, the schema is created if needed and every connection works in it.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        schema: Option<&'static str>,
    ) -> StoreResult<Pools> {
        sqlx::any::install_default_drivers();
        match Engine::of_url(url) {
            Some(Engine::Sqlite) => {
                let url = sqlite_create_mode(url);
                let writer = options(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) })
                    })
                    .connect(&url)
                    .await?;
                let reader = options(max_connections.max(1))
                    .after_connect(|conn, _| {
                        Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) })
                    })
                    .connect(&url)
                    .await?;
                Ok(Pools {
                    engine: Engine::Sqlite,
                    writer,
                    reader,
                })
            }
            Some(Engine::Postgres) => {
                let pool = match schema {
                    None => options(max_connections).connect(url).await?,
                    Some(schema) => {
                        // The schema must exist before a pooled connection sets its path.
                        let setup = options(1).connect(url).await?;
                        setup
                            .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                            .await?;
                        setup.close().await;
                        options(max_connections)
                            .after_connect(move |conn, _| {
                                Box::pin(async move {
                                    conn.execute(format!("SET search_path TO {schema}").as_str())
                                        .await
                                        .map(|_| ())
                                })
                            })
                            .connect(url)
                            .await?
                    }
                };
                Ok(Pools {
                    engine: Engine::Postgres,
                    writer: pool.clone(),
                    reader: pool,
                })
            }
            None => Err(StoreError::Url(url.to_owned())),
        }
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

fn options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
}

/// `sqlite://path` creates the file when missing.
fn sqlite_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_engines_from_urls() {
        assert_eq!(Engine::of_url("sqlite://x.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("postgres://h/db"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("postgresql://h/db"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("mysql://h/db"), None);
        assert_eq!(
            sqlite_create_mode("sqlite://x.db"),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_mode("sqlite://x.db?a=b"),
            "sqlite://x.db?a=b&mode=rwc"
        );
        assert_eq!(sqlite_create_mode("sqlite::memory:"), "sqlite::memory:");
    }
}
