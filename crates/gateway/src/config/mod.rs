//! Typed configuration: a TOML file plus `SEDGATE_*` environment overrides
//! (`SEDGATE_API__LISTEN=127.0.0.1:9000` overrides `[api] listen`).
//!
//! Reading goes `RawConfig` (serde, unknown keys refused) → `validate()` → `Config`.
//! Every error names the key and where its value came from; the CLI exits with 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::data::DataDir;

use sedgate_base::domain::CountryCode;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0}")]
    Invalid(String),
    #[error("key `{key}` in {source_name}: {message}")]
    Value {
        key: String,
        source_name: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gateway: RawGateway,
    database: RawDatabase,
    api: RawApi,
    as4: RawAs4,
    tls: RawTls,
    #[serde(default)]
    outbox: RawOutbox,
    #[serde(default)]
    sed: RawSed,
    #[serde(default)]
    ir: RawIr,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    security: RawSecurity,
}

/// WS-Security of AS4 messages (one setting for every peer; see `SecurityConfig`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    #[serde(default = "default_true")]
    sign: bool,
    #[serde(default)]
    encrypt: bool,
    #[serde(default = "default_true")]
    require_signature: bool,
    #[serde(default)]
    sign_cert: Option<PathBuf>,
    #[serde(default)]
    sign_key: Option<PathBuf>,
    #[serde(default)]
    encrypt_certs: Vec<PathBuf>,
}

impl Default for RawSecurity {
    fn default() -> Self {
        Self {
            sign: true,
            encrypt: false,
            require_signature: true,
            sign_cert: None,
            sign_key: None,
            encrypt_certs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    country: String,
    /// Domain part of generated MessageIds.
    party_domain: String,
    data_dir: PathBuf,
    /// This node's id, stable across restarts (several nodes of one country may share a
    /// PostgreSQL database). Default: an id kept in `data_dir/node-id`.
    #[serde(default)]
    node: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    #[serde(default = "default_max_connections")]
    max_connections: u32,
    /// Payloads up to this size live in the database; larger ones in the blob directory.
    #[serde(default = "default_inline_payload_bytes")]
    inline_payload_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: String,
    #[serde(default = "default_max_sed_bytes")]
    max_sed_bytes: u64,
    #[serde(default = "default_max_attachment_bytes")]
    max_attachment_bytes: u64,
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    request_timeout: Duration,
    /// The whole request body (all multipart parts); beyond it 413 request_too_large.
    #[serde(default = "default_max_request_bytes")]
    max_request_bytes: u64,
    /// Requests per second one API token may make on average; 0 turns the limit off.
    #[serde(default = "default_rate_limit_per_second")]
    rate_limit_per_second: u32,
    /// Requests a token may make at once above the average.
    #[serde(default = "default_rate_limit_burst")]
    rate_limit_burst: u32,
    /// How long a client may take to send a request's headers.
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    header_read_timeout: Duration,
    /// Connections held at once; further clients wait in the backlog.
    #[serde(default = "default_max_connections_api")]
    max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAs4 {
    listen: String,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
    #[serde(default = "default_max_connections_as4")]
    max_connections: usize,
    /// P-Mode id sent as AgreementRef/@pmode.
    #[serde(default)]
    pmode: Option<String>,
    /// How long a peer may take to send a request's headers after the TLS handshake.
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    header_read_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    trust_anchors: PathBuf,
    #[serde(default)]
    crls: Vec<PathBuf>,
    #[serde(default = "default_handshake_timeout", with = "humantime_serde")]
    handshake_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    /// Off for gateways that only receive, and for intake benchmarks.
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default = "default_workers")]
    workers: usize,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_base_backoff", with = "humantime_serde")]
    base_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    max_backoff: Duration,
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    poll_interval: Duration,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    send_timeout: Duration,
}

impl Default for RawOutbox {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: default_workers(),
            max_attempts: default_max_attempts(),
            base_backoff: default_base_backoff(),
            max_backoff: default_max_backoff(),
            poll_interval: default_poll_interval(),
            send_timeout: default_send_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSed {
    /// SED XSDs (`<cdm>/<SED>.xsd`); unset: the ones built into the binary.
    #[serde(default)]
    schema_dir: Option<PathBuf>,
    /// BUC definitions, titles and labels (`bucs/`, `catalogue/`, `labels/`); unset: built in.
    #[serde(default)]
    catalogue_dir: Option<PathBuf>,
    #[serde(default = "default_validator_threads")]
    validator_threads: usize,
}

impl Default for RawSed {
    fn default() -> Self {
        Self {
            schema_dir: None,
            catalogue_dir: None,
            validator_threads: default_validator_threads(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIr {
    /// Files imported at start when the IR is empty (CSV/JSON formats of `ir import`), or
    /// built-in seed files as `builtin:<name>`; unset: `data::DEFAULT_IR_SEED`.
    #[serde(default)]
    seed: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default = "default_log_format")]
    format: String,
    #[serde(default = "default_log_level")]
    level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_max_connections() -> u32 {
    8
}
fn default_inline_payload_bytes() -> u64 {
    256 * 1024
}
fn default_max_sed_bytes() -> u64 {
    5 * 1024 * 1024
}
fn default_max_attachment_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_max_request_bytes() -> u64 {
    512 * 1024 * 1024
}
fn default_rate_limit_per_second() -> u32 {
    50
}
fn default_rate_limit_burst() -> u32 {
    100
}
fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_connections_api() -> usize {
    1024
}
fn default_max_message_bytes() -> u64 {
    2 * 1024 * 1024 * 1024
}
fn default_max_connections_as4() -> usize {
    256
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_handshake_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_workers() -> usize {
    4
}
fn default_max_attempts() -> u32 {
    10
}
fn default_base_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(600)
}
fn default_poll_interval() -> Duration {
    Duration::from_millis(500)
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_validator_threads() -> usize {
    2
}
fn default_log_format() -> String {
    "human".into()
}
fn default_log_level() -> String {
    "info".into()
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: String,
    pub country: CountryCode,
    pub party_domain: String,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub api: ApiConfig,
    pub as4: As4Config,
    pub tls: TlsConfig,
    pub outbox: OutboxConfig,
    pub sed: SedConfig,
    pub ir_seed: Vec<SeedFile>,
    pub log: LogConfig,
    pub security: SecurityConfig,
}

/// WS-Security of AS4 messages, one setting for all peers (the P-Mode id sent in
/// AgreementRef names the agreement; per-peer security settings are not modelled).
///
/// `[security]`: `sign` (default true) signs outgoing UserMessages (RSA-SHA256) and expects a
/// signed receipt back; `encrypt` (default false, needs `sign`) encrypts their payloads for the
/// receiver's signing certificate, found among `encrypt_certs` by the fingerprints the IR
/// lists for the receiver's country; `require_signature` (default true) refuses unsigned
/// incoming messages with EBMS:0103 (a signed one is always verified). `sign_cert`/`sign_key`
/// default to `sign-cert.pem`/`sign-key.pem` next to `tls.cert`, the development PKI's layout.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub sign: bool,
    pub encrypt: bool,
    pub require_signature: bool,
    pub sign_cert: Option<PathBuf>,
    pub sign_key: Option<PathBuf>,
    pub encrypt_certs: Vec<PathBuf>,
}

impl Config {
    /// The signing certificate and key files (explicit, or next to the TLS certificate).
    pub fn signing_files(&self) -> (PathBuf, PathBuf) {
        let dir = self.tls.cert.parent().unwrap_or(Path::new("."));
        (
            self.security
                .sign_cert
                .clone()
                .unwrap_or_else(|| dir.join("sign-cert.pem")),
            self.security
                .sign_key
                .clone()
                .unwrap_or_else(|| dir.join("sign-key.pem")),
        )
    }
}

pub use sedgate_store::Engine;

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub engine: Engine,
    /// `[gateway] node`, if configured.
    pub node: Option<String>,
    pub url: String,
    pub max_connections: u32,
    pub inline_payload_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub max_sed_bytes: u64,
    pub max_attachment_bytes: u64,
    /// Whole request, body included; beyond it 408 request_timeout.
    pub request_timeout: Duration,
    pub max_request_bytes: u64,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct As4Config {
    pub listen: SocketAddr,
    pub max_message_bytes: u64,
    pub max_connections: usize,
    pub pmode: Option<String>,
    pub header_read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub trust_anchors: PathBuf,
    pub crls: Vec<PathBuf>,
    pub handshake_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub enabled: bool,
    pub workers: usize,
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub poll_interval: Duration,
    pub send_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct SedConfig {
    /// `None`: the schemas built into the binary.
    pub schema_dir: Option<PathBuf>,
    /// `None`: the BUC definitions, titles and labels built into the binary.
    pub catalogue_dir: Option<PathBuf>,
    pub validator_threads: usize,
}

impl SedConfig {
    /// BUC definitions (`bucs/`), titles (`catalogue/`) and label tables (`labels/`).
    pub fn seed(&self) -> crate::data::SubDir {
        DataDir::or_builtin(self.catalogue_dir.as_deref(), DataDir::BuiltinSeed).sub("")
    }
}

/// A file the IR is seeded from on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedFile {
    /// `builtin:<name>`, shipped in the binary.
    Builtin(String),
    File(PathBuf),
}

impl std::fmt::Display for SeedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedFile::Builtin(name) => write!(f, "{}{name}", crate::data::BUILTIN_PREFIX),
            SeedFile::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

impl Config {
    /// Reads `path` and the `SEDGATE_*` environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Missing(path.to_owned()));
        }
        let figment = Figment::new().merge(Toml::file(path)).merge(
            // Only SECTION__KEY variables: SEDGATE_CONFIG and other SEDGATE_* names are not keys.
            Env::prefixed("SEDGATE_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        Self::from_figment(&figment, path)
    }

    /// Reads configuration from TOML text (tests, generated demo configs).
    pub fn from_toml_str(toml: &str, name: &str) -> Result<Config, ConfigError> {
        let figment = Figment::new().merge(Toml::string(toml));
        Self::from_figment(&figment, Path::new(name))
    }

    fn from_figment(figment: &Figment, path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let raw: RawConfig = figment.extract().map_err(|e| describe(figment, e, &file))?;
        raw.validate(&file)
    }
}

/// Turns a figment error into one line naming the key and the source of its value.
fn describe(figment: &Figment, error: figment::Error, file: &str) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(top level)".to_owned()
            } else {
                e.path.join(".")
            };
            let source_name = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(figment::Source::File(p)) => p.display().to_string(),
                    Some(other) => format!("{} ({other})", m.name),
                    None => m.name.to_string(),
                })
                .or_else(|| {
                    figment
                        .find_metadata(&e.path.join("."))
                        .map(|m| m.name.to_string())
                })
                .unwrap_or_else(|| file.to_owned());
            let message = match &e.kind {
                figment::error::Kind::MissingField(field) => {
                    let full = if e.path.is_empty() {
                        field.to_string()
                    } else {
                        format!("{}.{field}", e.path.join("."))
                    };
                    return format!("key `{full}` in {file}: missing");
                }
                figment::error::Kind::UnknownField(field, _) => {
                    let full = if e.path.is_empty() {
                        field.to_string()
                    } else {
                        format!("{}.{field}", e.path.join("."))
                    };
                    return format!("key `{full}` in {source_name}: unknown key");
                }
                kind => kind.to_string(),
            };
            format!("key `{key}` in {source_name}: {message}")
        })
        .collect();
    ConfigError::Invalid(messages.join("; "))
}

fn value_error(key: &str, file: &str, message: impl ToString) -> ConfigError {
    ConfigError::Value {
        key: key.to_owned(),
        source_name: file.to_owned(),
        message: message.to_string(),
    }
}

fn socket(key: &str, file: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        value_error(
            key,
            file,
            format!("{value:?} is not an address such as 127.0.0.1:8080"),
        )
    })
}

impl RawConfig {
    fn validate(self, file: &str) -> Result<Config, ConfigError> {
        let country: CountryCode = self
            .gateway
            .country
            .parse()
            .map_err(|e| value_error("gateway.country", file, e))?;
        if self.gateway.party_domain.is_empty() || self.gateway.party_domain.contains(['@', ' ']) {
            return Err(value_error(
                "gateway.party_domain",
                file,
                "must be a domain name such as at.example.org",
            ));
        }
        let Some(engine) = Engine::of_url(&self.database.url) else {
            return Err(value_error(
                "database.url",
                file,
                "must start with sqlite: or postgres://",
            ));
        };
        if self.database.max_connections == 0 {
            return Err(value_error(
                "database.max_connections",
                file,
                "must be at least 1",
            ));
        }
        let api_listen = socket("api.listen", file, &self.api.listen)?;
        let as4_listen = socket("as4.listen", file, &self.as4.listen)?;
        if api_listen == as4_listen && api_listen.port() != 0 {
            return Err(value_error(
                "as4.listen",
                file,
                "must differ from api.listen: the AS4 listener has its own port",
            ));
        }
        let log_format = match self.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(value_error(
                    "log.format",
                    file,
                    format!("{other:?} is not one of human, json"),
                ))
            }
        };
        if self.outbox.workers == 0 {
            return Err(value_error("outbox.workers", file, "must be at least 1"));
        }
        if self.outbox.max_attempts == 0 {
            return Err(value_error(
                "outbox.max_attempts",
                file,
                "must be at least 1",
            ));
        }
        if self.security.encrypt && !self.security.sign {
            return Err(value_error(
                "security.encrypt",
                file,
                "needs security.sign = true: the AS4 profile signs, then encrypts",
            ));
        }
        if self.sed.validator_threads == 0 {
            return Err(value_error(
                "sed.validator_threads",
                file,
                "must be at least 1",
            ));
        }
        let mut ir_seed = Vec::new();
        let seed_specs = self.ir.seed.unwrap_or_else(|| {
            crate::data::DEFAULT_IR_SEED
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        });
        for spec in seed_specs {
            if let Some(name) = spec.strip_prefix(crate::data::BUILTIN_PREFIX) {
                if crate::data::builtin_seed_file(&spec).is_none() {
                    return Err(value_error(
                        "ir.seed",
                        file,
                        format!("{spec:?}: no built-in seed file {name:?}"),
                    ));
                }
                ir_seed.push(SeedFile::Builtin(name.to_owned()));
            } else {
                ir_seed.push(SeedFile::File(PathBuf::from(spec)));
            }
        }
        Ok(Config {
            source: file.to_owned(),
            country,
            party_domain: self.gateway.party_domain,
            data_dir: self.gateway.data_dir,
            database: DatabaseConfig {
                engine,
                node: self.gateway.node,
                url: self.database.url,
                max_connections: self.database.max_connections,
                inline_payload_bytes: self.database.inline_payload_bytes,
            },
            api: ApiConfig {
                listen: api_listen,
                max_sed_bytes: self.api.max_sed_bytes,
                max_attachment_bytes: self.api.max_attachment_bytes,
                request_timeout: self.api.request_timeout,
                max_request_bytes: self.api.max_request_bytes,
                rate_limit_per_second: self.api.rate_limit_per_second,
                rate_limit_burst: self.api.rate_limit_burst.max(1),
                header_read_timeout: self.api.header_read_timeout,
                max_connections: self.api.max_connections.max(1),
            },
            as4: As4Config {
                listen: as4_listen,
                max_message_bytes: self.as4.max_message_bytes,
                max_connections: self.as4.max_connections,
                pmode: self.as4.pmode,
                header_read_timeout: self.as4.header_read_timeout,
            },
            tls: TlsConfig {
                cert: self.tls.cert,
                key: self.tls.key,
                trust_anchors: self.tls.trust_anchors,
                crls: self.tls.crls,
                handshake_timeout: self.tls.handshake_timeout,
            },
            outbox: OutboxConfig {
                enabled: self.outbox.enabled,
                workers: self.outbox.workers,
                max_attempts: self.outbox.max_attempts,
                base_backoff: self.outbox.base_backoff,
                max_backoff: self.outbox.max_backoff,
                poll_interval: self.outbox.poll_interval,
                send_timeout: self.outbox.send_timeout,
            },
            sed: SedConfig {
                schema_dir: self.sed.schema_dir,
                catalogue_dir: self.sed.catalogue_dir,
                validator_threads: self.sed.validator_threads,
            },
            ir_seed,
            log: LogConfig {
                format: log_format,
                level: self.log.level,
            },
            security: SecurityConfig {
                sign: self.security.sign,
                encrypt: self.security.encrypt,
                require_signature: self.security.require_signature,
                sign_cert: self.security.sign_cert,
                sign_key: self.security.sign_key,
                encrypt_certs: self.security.encrypt_certs,
            },
        })
    }
}

impl DatabaseConfig {
    /// The URL without any password, for messages.
    pub fn url_for_display(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &self.url[scheme_end + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                format!(
                    "{}{}@{}",
                    &self.url[..scheme_end + 3],
                    user,
                    &self.url[at + 1..]
                )
            }
            _ => self.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[gateway]
country = "AT"
party_domain = "at.sedgate.test"
data_dir = "data/at"
[database]
url = "sqlite://data/at/sedgate.db"
[api]
listen = "127.0.0.1:8080"
[as4]
listen = "127.0.0.1:8443"
[tls]
cert = "c.pem"
key = "k.pem"
trust_anchors = "ca.pem"
"#;

    #[test]
    fn accepts_minimal_config_with_defaults() {
        let cfg = Config::from_toml_str(GOOD, "at.toml").unwrap();
        assert_eq!(cfg.country.as_str(), "AT");
        assert_eq!(cfg.database.engine, Engine::Sqlite);
        assert_eq!(cfg.api.max_attachment_bytes, 100 * 1024 * 1024);
        assert_eq!(cfg.outbox.max_attempts, 10);
        assert!(cfg.outbox.enabled);
        let off = Config::from_toml_str(&format!("{GOOD}\n[outbox]\nenabled = false\n"), "at.toml")
            .unwrap();
        assert!(!off.outbox.enabled);
    }

    #[test]
    fn security_defaults_to_signing_with_the_key_next_to_the_tls_certificate() {
        let cfg =
            Config::from_toml_str(&GOOD.replace("c.pem", "pki/at/cert.pem"), "at.toml").unwrap();
        assert!(cfg.security.sign && cfg.security.require_signature && !cfg.security.encrypt);
        assert_eq!(
            cfg.signing_files(),
            (
                PathBuf::from("pki/at/sign-cert.pem"),
                PathBuf::from("pki/at/sign-key.pem")
            )
        );
        let explicit = Config::from_toml_str(
            &format!("{GOOD}\n[security]\nencrypt = true\nsign_cert = \"s.pem\"\nsign_key = \"sk.pem\"\nrequire_signature = false\n"),
            "at.toml",
        )
        .unwrap();
        assert!(explicit.security.encrypt && !explicit.security.require_signature);
        assert_eq!(
            explicit.signing_files(),
            (PathBuf::from("s.pem"), PathBuf::from("sk.pem"))
        );
        let err = Config::from_toml_str(
            &format!("{GOOD}\n[security]\nsign = false\nencrypt = true\n"),
            "at.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("security.encrypt"), "{err}");
    }

    #[test]
    fn refuses_missing_key_naming_it_and_the_file() {
        let toml = GOOD.replace("party_domain = \"at.sedgate.test\"\n", "");
        let err = Config::from_toml_str(&toml, "at.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gateway.party_domain"), "{err}");
        assert!(err.contains("at.toml"), "{err}");
    }

    #[test]
    fn refuses_bad_values_naming_the_key() {
        let err = Config::from_toml_str(&GOOD.replace("\"AT\"", "\"XX\""), "at.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gateway.country") && err.contains("at.toml"),
            "{err}"
        );
        let err = Config::from_toml_str(&GOOD.replace("127.0.0.1:8080", "nowhere"), "at.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.listen"), "{err}");
        let err = Config::from_toml_str(&format!("{GOOD}\n[outbox]\nretries = 3\n"), "at.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outbox.retries") && err.contains("unknown"),
            "{err}"
        );
    }
}
