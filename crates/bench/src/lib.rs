//! `sedgate bench`: the figures the intake issue asks for.
//! - `validate`: XSD validations per second on one validator thread, against the same
//!   run's figure for Python `xmlschema` on the same file;
//! - `intake`: `POST /api/v1/messages` requests per second and latency, end to end through
//!   HTTP and the database, on an in-process gateway;
//! - `e2e`: two `sedgate serve` processes end to end, against baselines of the same run.

pub mod e2e;
pub mod intake;
pub mod ir;
pub mod sample;
pub mod validate;

use std::path::{Path, PathBuf};

use sedgate_gateway::config::Config;

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// XSD validations per second per core (10 KB P2000), ours against Python xmlschema.
    Validate(validate::ValidateArgs),
    /// Intake requests per second and latency through HTTP and the database.
    Intake(intake::IntakeArgs),
    /// End to end between two gateway processes: SEDs/s, latency, CPU, memory, start-up,
    /// against an mTLS echo server, RSA and database baselines. Needs no --config.
    E2e(e2e::E2eArgs),
    /// The mTLS echo server of the e2e baseline (started by `bench e2e`).
    #[command(hide = true)]
    EchoServer(e2e::baseline::EchoServerArgs),
    /// IR import, index build, lookup, routing and search times on the shipped data.
    Ir(ir::IrArgs),
}

impl BenchCommand {
    /// Commands that run without a configuration file.
    pub fn needs_no_config(&self) -> bool {
        matches!(self, BenchCommand::E2e(_) | BenchCommand::EchoServer(_))
    }
}

/// Runs a command that needs no configuration file.
pub async fn run_standalone(command: &BenchCommand) -> Result<(), BenchError> {
    match command {
        BenchCommand::E2e(args) => e2e::run(args).await,
        BenchCommand::EchoServer(args) => e2e::baseline::echo_server(args).await,
        other => Err(BenchError::Setup(format!("{other:?} needs --config"))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SED schemas: {0}")]
    Xsd(#[from] sedgate_gateway::sed::XsdError),
    #[error("the sample SED {path} is not valid: {detail}")]
    InvalidSample { path: PathBuf, detail: String },
    #[error("Python validator ({interpreter}): {detail}")]
    Python { interpreter: String, detail: String },
    #[error("starting the gateway: {0}")]
    Start(#[from] sedgate_gateway::app::StartError),
    #[error("database: {0}")]
    Store(#[from] sedgate_gateway::store::StoreError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Setup(String),
    #[error("no request succeeded; first failure: {0}")]
    NothingAccepted(String),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The measuring window: at least one second, at most ten minutes.
pub(crate) fn bounded_seconds(seconds: f64) -> f64 {
    if seconds.is_finite() {
        seconds.clamp(1.0, 600.0)
    } else {
        1.0
    }
}

pub(crate) fn write_json(path: Option<&Path>, value: &serde_json::Value) -> Result<(), BenchError> {
    let Some(path) = path else { return Ok(()) };
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| BenchError::Setup(format!("cannot serialise the result: {e}")))?;
    std::fs::write(path, text + "\n").map_err(io_error(path))?;
    println!("written to {}", path.display());
    Ok(())
}

pub async fn run(config: &Config, command: BenchCommand) -> Result<(), BenchError> {
    match command {
        BenchCommand::Ir(args) => ir::run(config, &args).await,
        BenchCommand::Validate(args) => {
            let config = config.clone();
            tokio::task::spawn_blocking(move || validate::run(&config, &args))
                .await
                .map_err(|e| BenchError::Setup(format!("the benchmark thread failed: {e}")))?
        }
        BenchCommand::Intake(args) => intake::run(config, &args).await,
        other => run_standalone(&other).await,
    }
}
