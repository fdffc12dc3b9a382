//! Test helpers: fresh stores on both engines.

use std::path::PathBuf;

use sedgate_gateway::config::Engine;
use sedgate_gateway::store::{Store, StoreConfig};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A store on a fresh database: SQLite in a temp dir, or a new uuid-named Postgres
/// database. The returned guard keeps the temp dir alive.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    /// Keeps the SQLite file and blobs alive for the test.
    pub _dir: tempfile::TempDir,
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
        max_connections: 4,
        ..StoreConfig::new(engine, url.clone(), dir.path().join("blobs"))
    })
    .await
    .expect("open store");
    TestDb {
        store,
        url,
        _dir: dir,
    }
}

/// MISSOC's store on a fresh database of `engine` (on PostgreSQL in schema `missoc`, as
/// beside a gateway).
pub struct TestMissoc {
    pub store: sedgate_missoc::MissocStore,
    pub _dir: tempfile::TempDir,
}

pub async fn fresh_missoc_store(engine: Engine) -> TestMissoc {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway_url = fresh_database_url(engine, dir.path()).await;
    let url = sedgate_missoc::MissocStore::url_beside(&gateway_url, dir.path());
    let store = sedgate_missoc::MissocStore::open(&url, 4)
        .await
        .expect("open MISSOC store");
    TestMissoc { store, _dir: dir }
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
                super::$body(sedgate_gateway::config::Engine::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$body(sedgate_gateway::config::Engine::Postgres).await;
            }
        }
    };
    // On a multi-threaded runtime: for tests whose in-process helpers (a fault proxy) must
    // keep running while the test blocks on a child process.
    ($name:ident, $body:ident, multi_thread) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(sedgate_gateway::config::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(sedgate_gateway::config::Engine::Postgres).await;
            }
        }
    };
}

/// A gateway running in this process on random ports, with a fresh database, the
/// shipped schemas and catalogue, and an IR seeded from the P_BUC_01 extract plus an
/// access point for every country.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: sedgate_gateway::app::AppState,
    /// MISSOC's store, beside the gateway's.
    pub missoc: sedgate_missoc::MissocStore,
    /// Keeps the data directory alive for the test.
    pub _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct SpawnOptions {
    pub country: &'static str,
    /// Extra TOML appended to the generated config.
    pub extra_toml: String,
    /// Extra keys of the `[api]` table (a table cannot be opened twice).
    pub api_toml: String,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            country: "AT",
            extra_toml: String::new(),
            api_toml: String::new(),
        }
    }
}

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, SpawnOptions::default()).await
}

pub async fn spawn_app_with(engine: Engine, options: SpawnOptions) -> TestApp {
    install_crypto_provider();
    if std::env::var_os("TEST_LOG").is_some() {
        sedgate_gateway::ops::telemetry::init(sedgate_gateway::config::LogFormat::Human, "debug");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(engine, dir.path()).await;
    let aps: Vec<serde_json::Value> = sedgate_base::domain::EESSI_COUNTRIES
        .iter()
        .map(|cc| {
            serde_json::json!({
                "country": cc,
                "endpoint_url": "https://127.0.0.1:9/as4",
                "cert_fingerprints": ["00".repeat(32)],
            })
        })
        .collect();
    let country: sedgate_base::domain::CountryCode = options.country.parse().unwrap();
    sedgate_gateway::transport::DevPki::generate(&dir.path().join("data/pki"), &[country], &[])
        .expect("dev PKI");
    let ap_file = dir.path().join("access-points.json");
    std::fs::write(&ap_file, serde_json::to_vec(&aps).unwrap()).unwrap();
    let toml = format!(
        r#"
[gateway]
country = "{country}"
party_domain = "{lower}.sedgate.test"
data_dir = "{data}"
[database]
url = "{url}"
max_connections = 4
[api]
listen = "127.0.0.1:0"
{api_extra}
[as4]
listen = "127.0.0.1:0"
[tls]
cert = "{data}/pki/{lower}/cert.pem"
key = "{data}/pki/{lower}/key.pem"
trust_anchors = "{data}/pki/ca.pem"
crls = ["{data}/pki/crl.pem"]
[ir]
seed = ["{seed}", "{ap}"]
{extra}
"#,
        country = options.country,
        lower = options.country.to_lowercase(),
        data = dir.path().join("data").display(),
        seed = repo_path("seed/institutions/deltakere_p_buc_01_all.json").display(),
        ap = ap_file.display(),
        extra = options.extra_toml,
        api_extra = options.api_toml,
    );
    let config =
        sedgate_gateway::config::Config::from_toml_str(&toml, "test.toml").expect("test config");
    let built = sedgate::serve::build(config).await.expect("build app");
    let (app, missoc) = (built.gateway, built.missoc);
    let base = format!("http://{}", app.api_addr());
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        base,
        http: reqwest::Client::new(),
        state,
        missoc,
        _dir: dir,
        shutdown: Some(tx),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The served OpenAPI document.
    pub async fn openapi(&self) -> serde_json::Value {
        self.http
            .get(self.url("/openapi.json"))
            .send()
            .await
            .expect("GET /openapi.json")
            .json()
            .await
            .expect("the OpenAPI document is JSON")
    }

    /// Creates an API client for `institutions` and returns its token.
    pub async fn token_for(&self, name: &str, institutions: &[&str]) -> String {
        let token = sedgate_base::secret::generate_token();
        self.state
            .store
            .add_api_client(
                &sedgate_gateway::store::NewApiClient {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: name.into(),
                    token_hash: sedgate_base::secret::hash_token(&token),
                    institutions: institutions.iter().map(|i| i.parse().unwrap()).collect(),
                    expires_at: None,
                },
                chrono::Utc::now(),
            )
            .await
            .expect("add client");
        token
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
