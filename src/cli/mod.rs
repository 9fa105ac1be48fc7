//! The `ged` command line: `serve`, `verify`, `config`, `openapi`, `reindex`, `retry-text`,
//! `search`, `ingest`, `bench`, `token`.
//!
//! This file holds the top-level parser and the dispatch; each subcommand lives in its own
//! file with its arguments and its body. The global flags are the configuration's own
//! ([`SettingsFlags`]), laid over the file and the defaults by [`Settings::load`].

mod bench;
mod config;
mod ingest;
mod logging;
mod openapi;
mod reindex;
mod retry_text;
mod search;
mod serve;
mod token;
mod verify;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Settings, SettingsFlags};

#[derive(Parser)]
#[command(
    name = "ged",
    version,
    about = "Archive of inbound and outbound mail: store, find, verify"
)]
struct Cli {
    #[command(flatten)]
    settings: SettingsFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the archive's HTTP API.
    Serve,
    /// Re-hash every stored object, check every document's content and the audit chain;
    /// exits non-zero on any problem.
    Verify,
    /// Print the effective configuration.
    Config,
    /// Print the OpenAPI document of the HTTP API (the same as GET /api/v1/openapi.json).
    Openapi,
    /// Rebuild the search index from the catalog (stop `ged serve` first).
    Reindex,
    /// Queue again the text extractions that failed (after installing OCR or a fix); the
    /// running server takes them within seconds.
    RetryText,
    /// Search the archive through a running server, with the same criteria as the API.
    Search(Box<search::SearchArgs>),
    /// Send a batch folder (files and manifest.json or manifest.csv) to a server: checks
    /// everything locally first, uploads only what is missing, prints the report.
    Ingest(ingest::IngestArgs),
    /// Benchmarks, each beside its baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Issue, list and revoke bearer tokens (works on the data folder directly).
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
}

impl Command {
    /// What is logged when `GED_LOG` is unset.
    fn default_log_filter(&self) -> &'static str {
        match self {
            // A benchmark's table is its output: only problems are logged beside it.
            Self::Bench { .. } => "warn,sqlx=error",
            _ => "info,sqlx=warn,tower_http=info",
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ged: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.settings)?;
    logging::init(settings.log_format, cli.command.default_log_filter());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve::run(settings).await,
            Command::Verify => verify::run(settings).await,
            Command::Config => config::run(&settings),
            Command::Openapi => openapi::run(),
            Command::Reindex => reindex::run(settings).await,
            Command::RetryText => retry_text::run(settings).await,
            Command::Search(args) => search::run(*args, &settings).await,
            Command::Ingest(args) => ingest::run(args, &settings).await,
            Command::Bench { command } => bench::run(command, &settings).await,
            Command::Token { command } => token::run(settings, command).await,
        }
    })
}

/// The refusal of commands that work on the data folder when it holds no archive.
fn require_archive(settings: &Settings) -> anyhow::Result<()> {
    if settings.archive_missing() {
        anyhow::bail!("no archive in {}", settings.data_dir.display());
    }
    Ok(())
}
