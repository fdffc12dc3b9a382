//! Command-line interface: parses arguments, calls the library, prints what it returns.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Parser, Subcommand};

mod missoc;

use sedgate_base::domain::{InstitutionId, MessageId};
use sedgate_base::secret::{generate_password, generate_token, hash_password, hash_token};
use sedgate_gateway::app;
use sedgate_gateway::config::Config;
use sedgate_gateway::ir::importer::import_file;
use sedgate_gateway::ir::{ImportFormat, IrIndex, SearchQuery};
use sedgate_gateway::ops::telemetry;
use sedgate_gateway::store::{NewApiClient, Redrive, Store};

pub use missoc::{MissocCommand, MissocUserCommand};

#[derive(Parser, Debug)]
#[command(
    name = "sedgate",
    version,
    about = "EESSI-style access point for cross-border social-security messaging"
)]
pub struct Cli {
    /// Configuration file (TOML); SEDGATE_* environment variables override its keys.
    #[arg(
        long,
        short,
        global = true,
        env = "SEDGATE_CONFIG",
        default_value = "config/sedgate.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway: back-office API, AS4 listener, outbox.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Institution repository.
    #[command(subcommand)]
    Ir(IrCommand),
    /// Back-office API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Operator accounts of the web console (/console).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Development PKI.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Export a message's signed envelope, its receipt and a fresh re-verification of both.
    Evidence {
        /// Message id.
        id: String,
        /// Directory for envelope.xml, receipt.xml and verification.json (one subdirectory
        /// per direction); without it the verification is printed as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Two gateways (AT, NO) in one process exchange a real SED end to end.
    Demo {
        /// Working directory (wiped first).
        #[arg(long, default_value = "data/demo")]
        dir: PathBuf,
    },
    /// Benchmarks: XSD validation against Python xmlschema, intake throughput.
    #[command(subcommand)]
    Bench(sedgate_bench::BenchCommand),
    /// MISSOC comparative tables: import/export editions, users.
    #[command(subcommand)]
    Missoc(MissocCommand),
}

#[derive(Subcommand, Debug)]
pub enum PkiCommand {
    /// Create (or reuse) a development CA, a certificate per gateway, an empty CRL and
    /// an access-point list with the certificates' fingerprints (for `ir import`).
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// COUNTRY=AS4-URL of a gateway, e.g. AT=https://127.0.0.1:8443/as4; repeat.
        #[arg(long = "gateway", required = true)]
        gateways: Vec<String>,
        /// Extra host name for the certificates' SAN; repeat.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum IrCommand {
    /// Import institutions or access points (Organisations.csv, IR JSON extracts, sedgate formats).
    Import(IrImportArgs),
    /// Search the institution repository.
    Search(IrSearchArgs),
}

#[derive(Args, Debug)]
pub struct IrImportArgs {
    pub file: PathBuf,
    /// Import the good rows even when some are bad.
    #[arg(long)]
    pub skip_invalid: bool,
    /// organisations-csv, ir-json, access-points-json or access-points-csv (default: detected).
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct IrSearchArgs {
    #[arg(long)]
    pub country: Option<String>,
    #[arg(long)]
    pub buc: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    /// Id or name prefix.
    #[arg(short, long)]
    pub q: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create a client and print its token (shown once; only a hash is stored).
    Add {
        #[arg(long)]
        name: String,
        /// Institution the client may act for; repeat for several.
        #[arg(long = "institution", required = true)]
        institutions: Vec<String>,
        /// Days until the token expires.
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Revoke a client's token.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create an operator and print a new password (shown once; only an argon2 hash is stored).
    Add {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead letters.
    List,
    /// Put dead letters back in the outbox.
    Redrive {
        /// Message id to re-drive.
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain and report the first broken link.
    Verify,
}

/// Failure of a command: exit code and message.
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    pub(crate) fn failed(message: impl ToString) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto backend for the whole process: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config, CliError> {
    Config::load(&cli.config).map_err(|e| CliError::usage(e.to_string()))
}

async fn open(config: &Config) -> Result<Store, CliError> {
    app::open_store(config, sedgate_gateway::store::Role::Tool)
        .await
        .map_err(CliError::failed)
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Commands that need no configuration file.
    match &cli.command {
        Command::Pki(PkiCommand::Init {
            dir,
            gateways,
            hosts,
        }) => return pki_init(dir, gateways, hosts),
        Command::Demo { dir } => {
            telemetry::init(sedgate_gateway::config::LogFormat::Human, "warn");
            return crate::demo::run(dir).await.map_err(CliError::failed);
        }
        Command::Bench(cmd) if cmd.needs_no_config() => {
            telemetry::init(sedgate_gateway::config::LogFormat::Human, "warn");
            return sedgate_bench::run_standalone(cmd)
                .await
                .map_err(CliError::failed);
        }
        _ => {}
    }
    let config = load_config(&cli)?;
    telemetry::init(config.log.format, &config.log.level);
    match cli.command {
        Command::Pki(_) | Command::Demo { .. } => Ok(()),
        Command::Serve => {
            let sedgate = crate::serve::build(config)
                .await
                .map_err(CliError::failed)?;
            sedgate
                .gateway
                .run_until(app::shutdown_signal())
                .await
                .map_err(CliError::failed)
        }
        Command::Migrate => {
            open(&config).await?;
            println!("migrations applied ({})", config.database.url_for_display());
            Ok(())
        }
        Command::Ir(cmd) => ir_command(&config, cmd).await,
        Command::Client(cmd) => client_command(&config, cmd).await,
        Command::Dlq(cmd) => dlq_command(&config, cmd).await,
        Command::Evidence { id, out } => evidence_command(&config, &id, out.as_deref()).await,
        Command::Operator(OperatorCommand::Add { name }) => operator_add(&config, &name).await,
        Command::Missoc(cmd) => missoc::command(&config, cmd).await,
        Command::Bench(cmd) => sedgate_bench::run(&config, cmd)
            .await
            .map_err(CliError::failed),
        Command::Audit(AuditCommand::Verify) => {
            let gateway = open(&config)
                .await?
                .audit_verify()
                .await
                .map_err(CliError::failed)?;
            let missoc = crate::serve::open_missoc(&config)
                .await
                .map_err(CliError::failed)?
                .audit_verify()
                .await
                .map_err(CliError::failed)?;
            let mut broken = Vec::new();
            match (&gateway.broken_chain, gateway.first_broken) {
                (Some(chain), Some(seq)) => {
                    broken.push(format!("gateway audit chain {chain} broken at entry {seq}"))
                }
                _ => println!(
                    "gateway audit chains intact: {} chain(s), {} entries",
                    gateway.chains.len(),
                    gateway.entries
                ),
            }
            match missoc.first_broken {
                None => println!("MISSOC audit chain intact: {} entries", missoc.entries),
                Some(seq) => broken.push(format!(
                    "MISSOC audit chain broken at entry {seq} (of {})",
                    missoc.entries
                )),
            }
            if broken.is_empty() {
                Ok(())
            } else {
                Err(CliError::failed(broken.join("; ")))
            }
        }
    }
}

async fn ir_command(config: &Config, cmd: IrCommand) -> Result<(), CliError> {
    match cmd {
        IrCommand::Import(args) => {
            let format = args
                .format
                .as_deref()
                .map(str::parse::<ImportFormat>)
                .transpose()
                .map_err(CliError::usage)?;
            let store = open(config).await?;
            let bar = progress_bar();
            let progress = |done: u64, total: u64| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let summary =
                import_file(&store, &args.file, format, args.skip_invalid, &progress).await;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let summary = summary.map_err(CliError::failed)?;
            for row in &summary.skipped {
                eprintln!("skipped {row}");
            }
            println!(
                "{}: {} records ({}): added {}, updated {}, unchanged {}, rejected {}",
                summary.file,
                summary.records,
                summary.format.as_str(),
                summary.counts.added,
                summary.counts.updated,
                summary.counts.unchanged,
                summary.counts.rejected
            );
            Ok(())
        }
        IrCommand::Search(args) => {
            let store = open(config).await?;
            let index = IrIndex::build(store.load_ir().await.map_err(CliError::failed)?);
            let query = SearchQuery {
                country: args
                    .country
                    .map(|c| c.parse())
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--country: {e}")))?,
                buc: args
                    .buc
                    .map(|b| b.parse())
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--buc: {e}")))?,
                role: args
                    .role
                    .map(|r| r.parse())
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--role: {e}")))?,
                q: args.q,
                on: None,
                offset: 0,
                limit: args.limit,
            };
            let page = index.search(&query);
            for inst in &page.items {
                let name = inst.names.get("en").or_else(|| inst.names.values().next());
                println!(
                    "{}\t{}\t{}\t{}",
                    inst.id,
                    inst.acronym.as_deref().unwrap_or("-"),
                    if inst.eessi_ready {
                        "ready"
                    } else {
                        "inactive"
                    },
                    name.map(String::as_str).unwrap_or("")
                );
            }
            println!(
                "{} of {} matching institutions",
                page.items.len(),
                page.total
            );
            Ok(())
        }
    }
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    progress_bar_of("institutions")
}

/// A progress bar counting `unit` on a terminal, nothing otherwise.
pub(crate) fn progress_bar_of(unit: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}"))
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn pki_init(dir: &std::path::Path, gateways: &[String], hosts: &[String]) -> Result<(), CliError> {
    let mut parsed = Vec::new();
    for g in gateways {
        let (cc, url) = g
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--gateway {g:?}: expected COUNTRY=URL")))?;
        let cc: sedgate_base::domain::CountryCode = cc
            .parse()
            .map_err(|e| CliError::usage(format!("--gateway {g:?}: {e}")))?;
        parsed.push((cc, url.to_owned()));
    }
    let countries: Vec<_> = parsed.iter().map(|(cc, _)| cc.clone()).collect();
    let files = sedgate_gateway::transport::DevPki::generate(dir, &countries, hosts)
        .map_err(CliError::failed)?;
    let ap_file = files
        .write_access_points(&parsed)
        .map_err(CliError::failed)?;
    println!(
        "development PKI in {} (CA {}), access points in {}",
        dir.display(),
        files.ca_cert.display(),
        ap_file.display()
    );
    for path in &files.written {
        println!("  wrote {}", path.display());
    }
    Ok(())
}

async fn evidence_command(
    config: &Config,
    id: &str,
    out: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let id: MessageId = id
        .parse()
        .map_err(|e| CliError::usage(format!("message id: {e}")))?;
    let store = open(config).await?;
    let records = store.evidence(&id).await.map_err(CliError::failed)?;
    if records.is_empty() {
        return Err(CliError::failed(format!(
            "no evidence for {id} (not a signed exchange of this gateway)"
        )));
    }
    let security =
        sedgate_gateway::transport::MessageSecurity::load(config).map_err(CliError::failed)?;
    let mut all_verified = true;
    for record in &records {
        let report =
            sedgate_gateway::evidence::reverify(record, &security).map_err(CliError::failed)?;
        all_verified &= report.verified;
        match out {
            Some(dir) => {
                let dir = dir.join(record.direction.as_str());
                for path in sedgate_gateway::evidence::export(&dir, record, &report)
                    .map_err(CliError::failed)?
                {
                    println!("wrote {}", path.display());
                }
                println!(
                    "{} ({}): {}",
                    id,
                    record.direction.as_str(),
                    if report.verified {
                        "verified".to_owned()
                    } else {
                        format!("NOT verified: {}", report.error.unwrap_or_default())
                    }
                );
            }
            None => println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(CliError::failed)?
            ),
        }
    }
    if all_verified {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "the evidence of {id} does not verify"
        )))
    }
}

async fn client_command(config: &Config, cmd: ClientCommand) -> Result<(), CliError> {
    let store = open(config).await?;
    match cmd {
        ClientCommand::Add {
            name,
            institutions,
            expires_in_days,
        } => {
            let institutions = institutions
                .iter()
                .map(|s| s.parse::<InstitutionId>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::usage(e.to_string()))?;
            let token = generate_token();
            let client = NewApiClient {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.clone(),
                token_hash: hash_token(&token),
                institutions,
                expires_at: expires_in_days.map(|d| Utc::now() + chrono::Duration::days(d)),
            };
            store
                .add_api_client(&client, Utc::now())
                .await
                .map_err(CliError::failed)?;
            eprintln!("client {name:?} created; the token is shown once:");
            println!("{token}");
            Ok(())
        }
        ClientCommand::Revoke { name } => {
            store
                .revoke_api_client(&name, Utc::now())
                .await
                .map_err(CliError::failed)?;
            println!("client {name:?} revoked");
            Ok(())
        }
    }
}

async fn operator_add(config: &Config, name: &str) -> Result<(), CliError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(CliError::usage(
            "the operator name must be 1 to 64 characters without control characters",
        ));
    }
    let store = open(config).await?;
    let password = generate_password();
    let hash = hash_password(&password).map_err(CliError::failed)?;
    store
        .add_operator(&uuid::Uuid::new_v4().to_string(), name, &hash, Utc::now())
        .await
        .map_err(CliError::failed)?;
    eprintln!("operator {name:?} created; the password is shown once:");
    println!("{password}");
    Ok(())
}

async fn dlq_command(config: &Config, cmd: DlqCommand) -> Result<(), CliError> {
    let store = open(config).await?;
    match cmd {
        DlqCommand::List => {
            let dead = store.dead_letters().await.map_err(CliError::failed)?;
            if dead.is_empty() {
                println!("no dead letters");
            }
            for d in dead {
                println!(
                    "{}\t{}\t{}\tattempts={}\t{}",
                    d.id,
                    d.state.as_str(),
                    d.error_code.as_deref().unwrap_or("-"),
                    d.attempts,
                    d.error_detail.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        DlqCommand::Redrive { id, all } => {
            let which = match (id, all) {
                (Some(id), false) => Redrive::One(
                    id.parse::<MessageId>()
                        .map_err(|e| CliError::usage(e.to_string()))?,
                ),
                (None, true) => Redrive::All,
                _ => return Err(CliError::usage("give a message id or --all")),
            };
            let ids = store
                .redrive(&which, "cli", Utc::now())
                .await
                .map_err(CliError::failed)?;
            if ids.is_empty() {
                return Err(CliError::failed("no matching dead letter"));
            }
            for id in &ids {
                println!("re-driven {id}");
            }
            Ok(())
        }
    }
}
