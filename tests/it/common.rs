//! Test helpers: fresh stores on both engines.

use std::path::PathBuf;

use sedgate::config::Engine;
use sedgate::store::{Store, StoreConfig};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A store on a fresh database: SQLite in a temp dir, or a new uuid-named Postgres
/// database. The returned guard keeps the temp dir alive.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub dir: tempfile::TempDir,
}

pub async fn fresh_database_url(engine: Engine, dir: &std::path::Path) -> String {
    match engine {
        Engine::Sqlite => format!("sqlite://{}", dir.join("sedgate.db").display()),
        Engine::Postgres => {
            use sqlx::Executor;
            sqlx::any::install_default_drivers();
            let name = format!("sedgate_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::AnyPool::connect(PG_ADMIN_URL)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL must be running at 127.0.0.1:5432 for these tests: {e}")
                });
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            admin.close().await;
            format!("postgres://postgres@127.0.0.1:5432/{name}")
        }
    }
}

pub async fn fresh_store(engine: Engine) -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(engine, dir.path()).await;
    let store = Store::open(&StoreConfig {
        engine,
        url: url.clone(),
        max_connections: 4,
        inline_payload_bytes: 256 * 1024,
        blob_dir: dir.path().join("blobs"),
    })
    .await
    .expect("open store");
    TestDb { store, url, dir }
}

/// The repository root, for seed data and fixtures.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs one async test body against both engines.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(sedgate::config::Engine::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$body(sedgate::config::Engine::Postgres).await;
            }
        }
    };
}
