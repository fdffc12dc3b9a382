//! The application: start-up (opens the store, loads the IR, binds the listeners), the
//! shared `AppState`, the routers of both listeners (`routes`), and running the servers
//! and background workers until shutdown. Shared by the binary and tests. Another
//! product (the binary mounts MISSOC) adds its routes to the API listener as a `Mount`.

mod routes;
mod state;

pub use routes::{api_router, as4_router, Mount};
pub use state::AppState;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::ir::importer::import_seed;
use crate::ir::index::IrIndex;
use crate::ops::metrics::Metrics;
use crate::outbox::as4_sender::As4Sender;
use crate::outbox::Dispatcher;
use crate::sed::{Catalogue, XsdPool};
use crate::store::{Role, Store, StoreConfig, StoreError};
use crate::transport::{
    serve_plain, serve_tls, ListenerStats, MessageSecurity, OutboundClient, OutboundTimeouts,
    ServeOptions, TlsReloader, TlsSettings,
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SED schemas: {0}")]
    Schemas(#[from] crate::sed::XsdError),
    #[error("SED/BUC catalogue: {0}")]
    Catalogue(#[from] crate::sed::CatalogueError),
    #[error("IR seed: {0}")]
    Seed(#[from] crate::ir::importer::ImportFileError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::transport::TlsError),
    #[error("message security: {0}")]
    Signing(#[from] crate::transport::SigningError),
    #[error("SED rendering: {0}")]
    Render(Box<crate::render::RendererLoadError>),
    #[error("{0}")]
    Other(String),
}

pub fn store_config(config: &Config, role: Role) -> Result<StoreConfig, StartError> {
    let node = match &config.database.node {
        Some(node) => node.clone(),
        None => node_id(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?,
    };
    Ok(StoreConfig {
        max_connections: config.database.max_connections,
        inline_payload_bytes: config.database.inline_payload_bytes,
        node,
        role,
        ..StoreConfig::new(
            config.database.engine,
            config.database.url.clone(),
            config.data_dir.join("blobs"),
        )
    })
}

/// The node id kept in the data directory, made at first start.
fn node_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is empty",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// Opens the store and applies migrations (creating the data directory first); a
/// `Role::Tool` (a CLI command) never takes over the running gateway's claims.
pub async fn open_store(config: &Config, role: Role) -> Result<Store, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    Ok(Store::open(&store_config(config, role)?).await?)
}

/// The SED schemas as a directory: the configured one, or the built-in ones written under
/// the data directory (libxml2 resolves `xs:include` by path).
pub fn schema_dir(config: &Config) -> Result<std::path::PathBuf, StartError> {
    match &config.sed.schema_dir {
        Some(dir) => Ok(dir.clone()),
        None => crate::data::builtin_schemas_on_disk(&config.data_dir).map_err(|source| {
            StartError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            }
        }),
    }
}

/// Imports the configured seed files when the IR is empty (first start).
async fn seed_ir(store: &Store, config: &Config) -> Result<(), StartError> {
    if config.ir_seed.is_empty() || store.last_import().await?.is_some() {
        return Ok(());
    }
    for file in &config.ir_seed {
        let summary = import_seed(store, file).await?;
        tracing::info!(
            file = %summary.file,
            added = summary.counts.added,
            updated = summary.counts.updated,
            "IR seeded"
        );
    }
    Ok(())
}

/// Milliseconds per start-up step, for the log line `start-up steps`.
struct StartupSteps {
    last: std::time::Instant,
    done: Vec<(&'static str, std::time::Duration)>,
}

impl Default for StartupSteps {
    fn default() -> Self {
        Self {
            last: std::time::Instant::now(),
            done: Vec::new(),
        }
    }
}

impl StartupSteps {
    fn mark(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        self.done.push((step, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for StartupSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, (step, took)) in self.done.iter().enumerate() {
            let sep = if n == 0 { "" } else { " " };
            write!(f, "{sep}{step}={:.1}ms", took.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

/// A built, bound, not yet running gateway.
pub struct Application {
    state: AppState,
    api_listener: TcpListener,
    as4_listener: TcpListener,
    tls: Arc<TlsReloader>,
    listener_stats: Arc<ListenerStats>,
    mounts: Vec<Mount>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartError> {
        // How long each start-up step took, logged once (ready < 300 ms is a target).
        let mut steps = StartupSteps::default();
        // Parsing the BUC catalogue and the label tables is CPU work on files: it runs on a
        // blocking thread while the database is opened and the IR is loaded.
        let schema_dir = schema_dir(&config)?;
        let files = {
            let seed = config.sed.seed();
            let schema_dir = schema_dir.clone();
            tokio::task::spawn_blocking(move || -> Result<_, StartError> {
                let catalogue = Catalogue::load(&seed)?;
                let render = crate::render::Renderer::load(seed.sub("labels"), &schema_dir)
                    .map_err(|e| StartError::Render(Box::new(e)))?;
                Ok((catalogue, render))
            })
        };
        let store = open_store(&config, Role::Gateway).await?;
        steps.mark("store");
        let metrics = Arc::new(Metrics::new());
        let xsd = XsdPool::start(&schema_dir, config.sed.validator_threads)?;
        steps.mark("xsd");
        let security = Arc::new(MessageSecurity::load(&config)?);
        steps.mark("security");
        seed_ir(&store, &config).await?;
        steps.mark("ir_seed");
        let ir = IrIndex::build(store.load_ir().await?);
        steps.mark("ir_load");
        let (catalogue, render) = files
            .await
            .map_err(|e| StartError::Other(format!("loading the catalogue stopped: {e}")))??;
        steps.mark("catalogue_and_render_wait");
        let config_api = config.api.clone();
        let state = AppState {
            config: Arc::new(config),
            store,
            ir: Arc::new(ArcSwap::from_pointee(IrIndex::build(Default::default()))),
            metrics,
            xsd: Arc::new(xsd),
            catalogue: Arc::new(catalogue),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            security,
            render: Arc::new(render),
            rate_limit: sedgate_web::limits::TokenRateLimit::new(
                config_api.rate_limit_per_second,
                config_api.rate_limit_burst,
            )
            .map(Arc::new),
        };
        state.install_ir(ir);
        let tls = Arc::new(TlsReloader::new(tls_settings(&state.config))?);
        steps.mark("tls");
        let addr = state.config.api.listen;
        let api_listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = state.config.as4.listen;
        let as4_listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        steps.mark("bind");
        tracing::info!(steps = %steps, "start-up steps");
        Ok(Application {
            state,
            api_listener,
            as4_listener,
            tls,
            listener_stats: Arc::new(ListenerStats::default()),
            mounts: Vec::new(),
        })
    }

    pub fn as4_addr(&self) -> SocketAddr {
        self.as4_listener
            .local_addr()
            .unwrap_or(self.state.config.as4.listen)
    }

    pub fn tls(&self) -> Arc<TlsReloader> {
        self.tls.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves `mount`'s routes on the API listener too, under the same request ids,
    /// tracing and metrics, and lists its paths in `/openapi.json`.
    pub fn mount(&mut self, mount: Mount) {
        self.mounts.push(mount);
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_listener
            .local_addr()
            .unwrap_or(self.state.config.api.listen)
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and stops the
    /// outbox between two sends.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let state = self.state.clone();
        tracing::info!(
            api = %self.api_addr(),
            as4 = %self.as4_addr(),
            country = %state.config.country,
            engine = ?state.store.engine(),
            "sedgate serving"
        );

        let as4_server = {
            let mut stop = stop_rx.clone();
            let options = ServeOptions {
                max_connections: state.config.as4.max_connections,
                header_read_timeout: state.config.as4.header_read_timeout,
                stats: self.listener_stats.clone(),
            };
            tokio::spawn(serve_tls(
                self.as4_listener,
                self.tls.clone(),
                as4_router(state.clone()),
                options,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ))
        };

        let dispatcher = if state.config.outbox.enabled {
            let client = OutboundClient::new(
                self.tls.clone(),
                OutboundTimeouts {
                    connect: Duration::from_secs(10),
                    request: state.config.outbox.send_timeout,
                },
            )
            .map_err(|e| StartError::Other(format!("outbound TLS client: {e}")))?;
            let sender = As4Sender {
                client,
                store: state.store.clone(),
                ir: state.ir.clone(),
                pmode: state.config.as4.pmode.clone(),
                security: state.security.clone(),
            };
            let dispatcher = Dispatcher::new(
                state.store.clone(),
                Arc::new(sender),
                state.config.outbox.clone(),
                state.metrics.clone(),
                state.outbox_wake.clone(),
            );
            Some(tokio::spawn(dispatcher.run(stop_rx.clone())))
        } else {
            None
        };

        let reload = tokio::spawn(reload_on_sighup(self.tls.clone(), state.security.clone()));
        let api_options = ServeOptions {
            max_connections: state.config.api.max_connections,
            header_read_timeout: state.config.api.header_read_timeout,
            ..ServeOptions::default()
        };
        serve_plain(
            self.api_listener,
            api_router(state.clone(), self.mounts),
            api_options,
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            },
        )
        .await;
        reload.abort();
        let _ = as4_server.await;
        if let Some(d) = dispatcher {
            let _ = d.await;
        }
        state.store.close().await;
        Ok(())
    }
}

pub fn tls_settings(config: &Config) -> TlsSettings {
    TlsSettings {
        cert_path: config.tls.cert.clone(),
        key_path: config.tls.key.clone(),
        trust_anchors_path: config.tls.trust_anchors.clone(),
        crl_paths: config.tls.crls.clone(),
        handshake_timeout: config.tls.handshake_timeout,
    }
}

/// Re-reads certificates, CRLs and the signing key on SIGHUP, without a restart.
async fn reload_on_sighup(tls: Arc<TlsReloader>, security: Arc<MessageSecurity>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificates and CRLs reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS reload failed; keeping the previous configuration")
                }
            }
            match security.reload() {
                Ok(()) => tracing::info!("signing key and certificates reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "signing material reload failed; keeping the previous one")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (tls, security);
        std::future::pending::<()>().await;
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested, draining");
}
