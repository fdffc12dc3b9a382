//! `sedgate missoc …`: whole editions in and out, and MISSOC users.

use std::path::PathBuf;

use chrono::Utc;
use clap::Subcommand;
use sedgate_base::secret::{generate_token, hash_token};
use sedgate_gateway::config::Config;
use sedgate_missoc::model::{EditionId, ModelError, Role};
use sedgate_missoc::store::NewMissocUser;
use sedgate_missoc::workflow::{role_from_parts, MissocError};
use sedgate_missoc::MissocStore;

use super::{progress_bar_of, CliError};

#[derive(Subcommand, Debug)]
pub enum MissocCommand {
    /// Import an edition file (sedgate-missoc-edition/1 JSON Lines), or a built-in sample
    /// (`builtin:sample-2026-01-01.jsonl`, `builtin:sample-2026-07-01.jsonl`); nothing is
    /// imported if any line is bad (exit 2, each bad line named).
    Import { file: PathBuf },
    /// Export an edition as JSON Lines.
    Export {
        /// Edition, e.g. 2026-01-01.
        edition: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// MISSOC users.
    #[command(subcommand)]
    User(MissocUserCommand),
}

#[derive(Subcommand, Debug)]
pub enum MissocUserCommand {
    /// Create a user and print its bearer token (shown once; only a hash is stored).
    Add {
        #[arg(long)]
        name: String,
        /// secretariat, correspondent or reader.
        #[arg(long)]
        role: String,
        /// The correspondent's country.
        #[arg(long)]
        country: Option<String>,
    },
}

async fn open(config: &Config) -> Result<MissocStore, CliError> {
    crate::serve::open_missoc(config)
        .await
        .map_err(CliError::failed)
}

pub(super) async fn command(config: &Config, cmd: MissocCommand) -> Result<(), CliError> {
    match cmd {
        MissocCommand::Import { file } => {
            let text = match sedgate_missoc::samples::builtin(&file.to_string_lossy()) {
                Some(text) => text.to_owned(),
                None => {
                    let bytes = std::fs::read(&file).map_err(|e| {
                        CliError::usage(format!("cannot read {}: {e}", file.display()))
                    })?;
                    String::from_utf8(bytes).map_err(|e| {
                        CliError::usage(format!("{}: not UTF-8: {e}", file.display()))
                    })?
                }
            };
            let store = open(config).await?;
            let bar = progress_bar_of("entries");
            let progress = |done: u64, total: u64| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let result = store
                .import_missoc_edition("cli", &text, Utc::now(), &progress)
                .await;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let s = result.map_err(|e| match e {
                MissocError::Dataset(_) => CliError::usage(format!("{}: {e}", file.display())),
                other => CliError::failed(format!("{}: {other}", file.display())),
            })?;
            println!(
                "{}: edition {} ({}{}{}): {} entries of {} countries, {} categories, {} glossary terms",
                file.display(),
                s.edition,
                s.state,
                if s.sample_data { ", sample data" } else { "" },
                if s.replaced { ", replaced" } else { "" },
                s.entries,
                s.countries,
                s.categories,
                s.glossary
            );
            Ok(())
        }
        MissocCommand::Export { edition, out } => {
            let edition: EditionId = edition
                .parse()
                .map_err(|e: ModelError| CliError::usage(e.to_string()))?;
            let store = open(config).await?;
            let file = store
                .export_missoc_edition(&Role::Secretariat, edition)
                .await
                .map_err(CliError::failed)?;
            let text = sedgate_missoc::dataset::write(&file);
            std::fs::write(&out, &text)
                .map_err(|e| CliError::failed(format!("cannot write {}: {e}", out.display())))?;
            println!(
                "wrote {} (edition {}, {} entries)",
                out.display(),
                edition,
                file.entries.len()
            );
            Ok(())
        }
        MissocCommand::User(MissocUserCommand::Add {
            name,
            role,
            country,
        }) => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                return Err(CliError::usage(
                    "the user name must be 1 to 64 characters without control characters",
                ));
            }
            let role = role_from_parts(&role, country.as_deref())
                .map_err(|e| CliError::usage(e.to_string()))?;
            let store = open(config).await?;
            let token = generate_token();
            store
                .add_missoc_user(
                    &NewMissocUser {
                        id: uuid::Uuid::new_v4().to_string(),
                        name: name.clone(),
                        role,
                        token_hash: hash_token(&token),
                    },
                    "cli",
                    Utc::now(),
                )
                .await
                .map_err(CliError::failed)?;
            eprintln!("MISSOC user {name:?} created; the token is shown once:");
            println!("{token}");
            Ok(())
        }
    }
}
