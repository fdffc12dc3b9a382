//! Two `sedgate serve` processes (AT sends, NO receives) on loopback with a dev PKI, a
//! synthetic IR of 10,000 institutions plus the real P_BUC_01 extract, and one fresh
//! database each.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use super::procfs;
use crate::{io_error, BenchError};
use sedgate_base::domain::{CountryCode, EESSI_COUNTRIES};
use sedgate_base::secret::{generate_token, hash_token};
use sedgate_gateway::config::{Config, Engine};
use sedgate_gateway::store::NewApiClient;
use sedgate_gateway::transport::{DevPki, DevPkiFiles};

pub const SENDER: &str = "AT:9900";
pub const RECEIVER: &str = "NO:NAVAT07";
/// The administrative database used to create and drop the benchmark's databases.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Synthetic institutions added to the IR (the start-up target is set for 10,000).
pub const SYNTHETIC_INSTITUTIONS: usize = 10_000;

/// TOML that switches WS-Security signing on in a gateway config (`None` would mean signing
/// is not wired into the gateways: `--signed` then reports "not available").
pub const SIGNING_TOML: Option<&str> = Some("[security]\nsign = true\nrequire_signature = true\n");
/// TOML for an unsigned run: signing is on by default.
pub const UNSIGNED_TOML: &str = "[security]\nsign = false\nrequire_signature = false\n";

/// Settings shared by both gateways of a run.
#[derive(Debug, Clone)]
pub struct PairSettings {
    pub engine: Engine,
    pub signed: bool,
    pub max_attachment_bytes: u64,
    pub outbox_workers: usize,
    pub db_connections: u32,
    pub repo: PathBuf,
}

/// Files written once per run and shared by every pair: PKI and IR.
pub struct RunFiles {
    pub pki: DevPkiFiles,
    pub organisations_csv: PathBuf,
}

impl RunFiles {
    pub fn create(dir: &Path) -> Result<RunFiles, BenchError> {
        let countries: Vec<CountryCode> = ["AT", "NO"]
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| BenchError::Setup(format!("{e}")))?;
        let pki = DevPki::generate(&dir.join("pki"), &countries, &[])
            .map_err(|e| BenchError::Setup(format!("dev PKI: {e}")))?;
        let organisations_csv = dir.join("organisations-synthetic.csv");
        std::fs::write(
            &organisations_csv,
            synthetic_organisations(SYNTHETIC_INSTITUTIONS),
        )
        .map_err(io_error(&organisations_csv))?;
        Ok(RunFiles {
            pki,
            organisations_csv,
        })
    }

    /// Fingerprints of the TLS and signing certificates, as the IR lists them.
    pub fn cert_fingerprints(&self, country: &str) -> Result<Vec<String>, BenchError> {
        let cc: CountryCode = country
            .parse()
            .map_err(|e| BenchError::Setup(format!("{e}")))?;
        self.pki
            .gateways
            .get(&cc)
            .ok_or_else(|| BenchError::Setup(format!("no certificate for {cc}")))?
            .fingerprints()
            .map_err(|e| BenchError::Setup(format!("certificates of {cc}: {e}")))
    }
}

/// `count` institutions in the `Organisations.csv` layout (id;country;acronym;activation),
/// spread over the EESSI countries, with ids that cannot clash with real ones.
pub fn synthetic_organisations(count: usize) -> String {
    let mut out = String::with_capacity(count * 48);
    for n in 0..count {
        let cc = EESSI_COUNTRIES[n % EESSI_COUNTRIES.len()];
        out.push_str(&format!(
            "{cc}:BENCH{n:05};{cc};BENCH {n};01/01/2020 00:00:00\n"
        ));
    }
    out
}

/// A free port on 127.0.0.1 (bound, then released for the child process to take).
pub fn free_port() -> Result<u16, BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Setup(format!("no free port: {e}")))?;
    Ok(l.local_addr()
        .map_err(|e| BenchError::Setup(format!("no free port: {e}")))?
        .port())
}

/// A fresh database for one gateway: an SQLite file under `dir`, or a new PostgreSQL
/// database (dropped by [`drop_database`]).
pub async fn fresh_database(engine: Engine, dir: &Path) -> Result<String, BenchError> {
    match engine {
        Engine::Sqlite => Ok(format!("sqlite://{}", dir.join("sedgate.db").display())),
        Engine::Postgres => {
            use sqlx::Executor;
            sqlx::any::install_default_drivers();
            let name = format!("sedgate_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::AnyPool::connect(PG_ADMIN_URL).await.map_err(|e| {
                BenchError::Setup(format!(
                    "PostgreSQL must run at 127.0.0.1:5432 (user postgres) for the postgres rows: {e}"
                ))
            })?;
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .map_err(|e| BenchError::Setup(format!("CREATE DATABASE {name}: {e}")))?;
            admin.close().await;
            Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
        }
    }
}

pub async fn drop_database(url: &str) {
    use sqlx::Executor;
    let Some(name) = url.strip_prefix("postgres://postgres@127.0.0.1:5432/") else {
        return;
    };
    if let Ok(admin) = sqlx::AnyPool::connect(PG_ADMIN_URL).await {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
        admin.close().await;
    }
}

/// One `sedgate serve` child process.
pub struct Gateway {
    pub country: &'static str,
    pub config: PathBuf,
    pub api: String,
    pub database_url: String,
    pub log: PathBuf,
    pub token: String,
    repo: PathBuf,
    child: Option<Child>,
}

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn memory(&self) -> Option<procfs::Memory> {
        procfs::memory(self.pid()?)
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        procfs::cpu_seconds(self.pid()?)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// Starts the process and returns how long it took until `/readyz` answered 200.
    pub async fn start(&mut self, http: &reqwest::Client) -> Result<Duration, BenchError> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::Setup(format!("cannot find the sedgate binary: {e}")))?;
        let log = std::fs::File::create(&self.log).map_err(io_error(&self.log))?;
        let began = Instant::now();
        let child = Command::new(exe)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .current_dir(&self.repo)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start sedgate serve: {e}")))?;
        self.child = Some(child);
        let deadline = began + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return Ok(began.elapsed());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(BenchError::Setup(format!(
                        "gateway {} exited ({status}) before it was ready:\n{}",
                        self.country,
                        self.log_tail()
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(BenchError::Setup(format!(
                    "gateway {} not ready within 120 s:\n{}",
                    self.country,
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not drained within 30 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGKILL, as a crash would: nothing is drained.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `sedgate --config <this gateway's config> <args>`; its success and output.
    pub fn cli(&self, args: &[&str]) -> Result<(bool, String), BenchError> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::Setup(format!("cannot find the sedgate binary: {e}")))?;
        let out = Command::new(exe)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(&self.repo)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                BenchError::Setup(format!("cannot run sedgate {}: {e}", args.join(" ")))
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// The number of institutions `/readyz` reports.
    pub async fn institutions(&self, http: &reqwest::Client) -> Option<u64> {
        let v: serde_json::Value = http
            .get(self.url("/readyz"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        v["ir"]["detail"]
            .as_str()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// AT (sender) and NO (receiver); with `--nodes`, further AT nodes on AT's database.
pub struct Pair {
    pub at: Gateway,
    pub no: Gateway,
    /// AT nodes 2..: same country, same database, own listeners and data directory.
    pub at_siblings: Vec<Gateway>,
}

/// Where a gateway keeps its data: a fresh database, or (a further node) another's.
struct Placement<'a> {
    /// The node name (`[gateway] node`) and the directory name of its data.
    node: String,
    /// The database of the first node of the country, for a further node.
    shared: Option<&'a Gateway>,
}

impl Pair {
    /// Writes configs, creates the databases and the back-office clients; starts nothing.
    pub async fn prepare(
        dir: &Path,
        files: &RunFiles,
        settings: &PairSettings,
    ) -> Result<Pair, BenchError> {
        Self::prepare_nodes(dir, files, settings, 1).await
    }

    /// As [`Pair::prepare`], with `at_nodes` AT nodes sharing AT's database.
    pub async fn prepare_nodes(
        dir: &Path,
        files: &RunFiles,
        settings: &PairSettings,
        at_nodes: usize,
    ) -> Result<Pair, BenchError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
        let aps = json!([
            {"country": "AT", "endpoint_url": format!("https://127.0.0.1:{}/as4", ports[1]),
             "cert_fingerprints": files.cert_fingerprints("AT")?},
            {"country": "NO", "endpoint_url": format!("https://127.0.0.1:{}/as4", ports[3]),
             "cert_fingerprints": files.cert_fingerprints("NO")?},
        ]);
        let ap_file = dir.join("access-points.json");
        std::fs::write(&ap_file, aps.to_string()).map_err(io_error(&ap_file))?;
        let first = |country: &str| Placement {
            node: country.to_lowercase(),
            shared: None,
        };
        let at = Self::gateway(
            dir,
            files,
            settings,
            "AT",
            [ports[0], ports[1]],
            &ap_file,
            first("AT"),
        )
        .await?;
        let no = Self::gateway(
            dir,
            files,
            settings,
            "NO",
            [ports[2], ports[3]],
            &ap_file,
            first("NO"),
        )
        .await?;
        let mut at_siblings = Vec::new();
        for n in 2..=at_nodes {
            let placement = Placement {
                node: format!("at-{n}"),
                shared: Some(&at),
            };
            let ports = [free_port()?, free_port()?];
            at_siblings
                .push(Self::gateway(dir, files, settings, "AT", ports, &ap_file, placement).await?);
        }
        Ok(Pair {
            at,
            no,
            at_siblings,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn gateway(
        dir: &Path,
        files: &RunFiles,
        settings: &PairSettings,
        country: &'static str,
        [api_port, as4_port]: [u16; 2],
        ap_file: &Path,
        placement: Placement<'_>,
    ) -> Result<Gateway, BenchError> {
        let lower = country.to_lowercase();
        let node = placement.node;
        let data = dir.join(&node);
        std::fs::create_dir_all(&data).map_err(io_error(&data))?;
        let database_url = match placement.shared {
            Some(first) => first.database_url.clone(),
            None => fresh_database(settings.engine, &data).await?,
        };
        let pki = &files.pki.dir;
        let repo = &settings.repo;
        let signing = if settings.signed {
            SIGNING_TOML.unwrap_or_default()
        } else {
            UNSIGNED_TOML
        };
        let toml = format!(
            r#"
[gateway]
country = "{country}"
node = "{node}"
party_domain = "{lower}.bench.sedgate.test"
data_dir = "{data}"
[database]
url = "{database_url}"
max_connections = {db_connections}
[api]
listen = "127.0.0.1:{api_port}"
max_attachment_bytes = {max_attachment_bytes}
# The load generator is the point: no per-token rate limit, room for the 1 GB attachment.
rate_limit_per_second = 0
max_request_bytes = 4294967296
[as4]
listen = "127.0.0.1:{as4_port}"
[tls]
cert = "{pki}/{lower}/cert.pem"
key = "{pki}/{lower}/key.pem"
trust_anchors = "{pki}/ca.pem"
crls = ["{pki}/crl.pem"]
[outbox]
workers = {workers}
base_backoff = "50ms"
max_backoff = "2s"
poll_interval = "100ms"
send_timeout = "900s"
max_attempts = 100
[ir]
seed = ["{orgs}", "builtin:deltakere_p_buc_01_all.json", "{ap}"]
[log]
format = "json"
level = "warn"
{signing}
"#,
            data = data.display(),
            db_connections = settings.db_connections,
            max_attachment_bytes = settings.max_attachment_bytes,
            pki = pki.display(),
            workers = settings.outbox_workers,
            orgs = files.organisations_csv.display(),
            ap = ap_file.display(),
        );
        let config_path = dir.join(format!("{node}.toml"));
        std::fs::write(&config_path, &toml).map_err(io_error(&config_path))?;
        let config = Config::load(&config_path)
            .map_err(|e| BenchError::Setup(format!("generated config: {e}")))?;
        let token = match placement.shared {
            // The back-office client lives in the shared database.
            Some(first) => first.token.clone(),
            None => {
                let institution = if country == "AT" { SENDER } else { RECEIVER };
                add_client(&config, institution).await?
            }
        };
        Ok(Gateway {
            country,
            config: config_path,
            api: format!("http://127.0.0.1:{api_port}"),
            database_url,
            log: dir.join(format!("{node}.log")),
            token,
            repo: repo.clone(),
            child: None,
        })
    }

    pub async fn stop(&mut self) {
        self.at.stop().await;
        for sibling in &mut self.at_siblings {
            sibling.stop().await;
        }
        self.no.stop().await;
    }

    pub async fn drop_databases(&self) {
        drop_database(&self.at.database_url).await;
        drop_database(&self.no.database_url).await;
    }
}

/// Creates (and migrates) the gateway's database and a back-office client in it.
async fn add_client(config: &Config, institution: &str) -> Result<String, BenchError> {
    let store =
        sedgate_gateway::app::open_store(config, sedgate_gateway::store::Role::Tool).await?;
    let token = generate_token();
    let result = store
        .add_api_client(
            &NewApiClient {
                id: uuid::Uuid::new_v4().to_string(),
                name: "bench-backoffice".into(),
                token_hash: hash_token(&token),
                institutions: vec![institution
                    .parse()
                    .map_err(|e| BenchError::Setup(format!("{e}")))?],
                expires_at: None,
            },
            Utc::now(),
        )
        .await;
    store.close().await;
    result?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_organisations_are_importable_rows() {
        let csv = synthetic_organisations(40);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 40);
        assert_eq!(lines[0], "AT:BENCH00000;AT;BENCH 0;01/01/2020 00:00:00");
        assert_eq!(lines[33], "AT:BENCH00033;AT;BENCH 33;01/01/2020 00:00:00");
        let parsed = sedgate_gateway::ir::parse(
            csv.as_bytes(),
            sedgate_gateway::ir::ImportFormat::OrganisationsCsv,
        )
        .unwrap();
        assert_eq!(parsed.institutions.len(), 40);
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    }
}
