//! The gateway store on PostgreSQL: native types (timestamptz, boolean, text[], jsonb),
//! one pool, `FOR UPDATE SKIP LOCKED` claims so several nodes share one database, multi-row
//! writes through `UNNEST`, payloads over 256 KB as chunks in the database (every node
//! reads them). Every query is checked at compile time against the schema in
//! `migrations/` (offline data in `.sqlx`, see `scripts/sqlx-prepare.sh`).
#![forbid(unsafe_code)]

mod admin;
mod audit;
mod exchange;
mod ir;
mod messages;
mod nodes;
mod outbox;
mod payloads;

use std::time::Duration;

use sedgate_db::{Engine, StoreResult};
use sedgate_store::{Operation, Stats};
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The gateway store on one PostgreSQL database.
pub struct PgBackend {
    pool: PgPool,
    stats: Stats,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl PgBackend {
    /// Connects and applies the migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PgBackend> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(sedgate_store::migration_failed)?;
        Ok(PgBackend {
            pool,
            stats: Stats::default(),
        })
    }

    fn count(&self, op: Operation, n: u64) {
        self.stats.add(op, n);
    }
}

/// Milliseconds of a duration, for interval arithmetic in SQL.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgBackend {
    fn engine_impl(&self) -> Engine {
        Engine::Postgres
    }

    async fn migrations_applied_impl(&self) -> StoreResult<bool> {
        use sqlx::migrate::Migrate;
        let mut conn = self.pool.acquire().await?;
        let applied = conn.list_applied_migrations().await?;
        self.count(Operation::Read, 1);
        Ok(applied.len() >= MIGRATOR.migrations.len())
    }

    async fn ping_impl(&self) -> StoreResult<()> {
        sqlx::query!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await?;
        self.count(Operation::Read, 1);
        Ok(())
    }

    fn pool_status_impl(&self) -> (u32, u32) {
        (
            self.pool.size(),
            u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        )
    }

    async fn close_impl(&self) {
        self.pool.close().await;
    }
}

sedgate_store::impl_backend!(PgBackend);
