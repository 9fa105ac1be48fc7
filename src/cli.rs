//! The `ged` command line: `serve`, `verify`, `config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::access::tokens::{self, TokenError, TokenRequest};
use crate::access::{Role, Scope, TenantId};
use crate::config::{LogFormat, Settings};

#[derive(Parser)]
#[command(
    name = "ged",
    version,
    about = "Archive of inbound and outbound mail: store, find, verify"
)]
struct Cli {
    /// Configuration file (TOML); environment variables and flags override it.
    #[arg(long, global = true, env = "GED_CONFIG")]
    config: Option<PathBuf>,
    /// Folder holding the embedded archive (catalog, content, index).
    #[arg(long, global = true, env = "GED_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, env = "GED_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the archive's HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GED_LISTEN")]
        listen: Option<SocketAddr>,
        /// Largest accepted upload, in bytes.
        #[arg(long, env = "GED_MAX_UPLOAD_BYTES")]
        max_upload_bytes: Option<u64>,
    },
    /// Re-hash every stored object, check every document's content and the audit chain;
    /// exits non-zero on any problem.
    Verify,
    /// Print the effective configuration.
    Config,
    /// Issue, list and revoke bearer tokens (works on the data folder directly).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token; prints the token alone on standard output (it is stored only as a hash).
    Create {
        /// The organisation the token belongs to (created if new).
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: Role,
        /// A label for the token's holder.
        #[arg(long)]
        name: Option<String>,
        /// The only source a scanner (required) or outbound token archives for.
        #[arg(long)]
        source: Option<String>,
        /// Lifetime, such as 90d or 12h; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
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
    let mut settings = Settings::from_file(cli.config.as_deref())?;
    if let Some(data_dir) = cli.data_dir {
        settings.data_dir = data_dir;
    }
    if let Some(log_format) = cli.log_format {
        settings.log_format = log_format;
    }
    if let Command::Serve {
        listen,
        max_upload_bytes,
    } = &cli.command
    {
        settings.listen = listen.unwrap_or(settings.listen);
        settings.max_upload_bytes = max_upload_bytes.unwrap_or(settings.max_upload_bytes);
    }
    init_logging(settings.log_format);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => serve(settings).await,
            Command::Verify => verify(settings).await,
            Command::Config => {
                print!("{}", settings.to_toml());
                Ok(ExitCode::SUCCESS)
            }
            Command::Token { command } => token(settings, command).await,
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        data_dir = %settings.data_dir.display(),
        "ged serving"
    );
    crate::startup::run(&settings, listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn verify(settings: Settings) -> anyhow::Result<ExitCode> {
    if !settings.catalog_path().exists() {
        anyhow::bail!("no archive in {}", settings.data_dir.display());
    }
    let archive = crate::startup::open_archive(&settings).await?;
    println!("ged verify: archive in {}", settings.data_dir.display());
    let report = crate::verify::verify(&archive).await?;
    println!("{report}");
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn token(settings: Settings, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let archive = crate::startup::open_archive(&settings).await?;
    let catalog = archive.catalog.as_ref();
    match command {
        TokenCommand::Create {
            tenant,
            role,
            name,
            source,
            expires,
        } => {
            let tenant = TenantId::parse(&tenant).map_err(anyhow::Error::msg)?;
            catalog.ensure_tenant(&tenant).await?;
            let request = TokenRequest {
                role,
                name,
                source,
                expires_in: expires,
            };
            match tokens::issue(catalog, &Scope::operator(tenant), request).await {
                Ok(issued) => println!("{}", issued.token),
                Err(TokenError::Invalid(errors)) => {
                    for error in errors.0 {
                        eprintln!("ged: --{} {}", error.field, error.message);
                    }
                    return Ok(ExitCode::FAILURE);
                }
                Err(TokenError::Catalog(error)) => return Err(error.into()),
            }
        }
        TokenCommand::List { tenant } => {
            let tenant = tenant
                .map(|t| TenantId::parse(&t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            println!(
                "{:<36}  {:<16}  {:<15}  {:<12}  {:<27}  {:<27}  name",
                "id", "tenant", "role", "source", "expires", "revoked"
            );
            for token in catalog.tokens(tenant.as_ref()).await? {
                println!(
                    "{:<36}  {:<16}  {:<15}  {:<12}  {:<27}  {:<27}  {}",
                    token.id,
                    token.tenant.as_str(),
                    token.role.as_str(),
                    token.source.as_deref().unwrap_or("-"),
                    token.expires_at.as_deref().unwrap_or("never"),
                    token.revoked_at.as_deref().unwrap_or("-"),
                    token.name.as_deref().unwrap_or(""),
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let Some(token) = catalog.tokens(None).await?.into_iter().find(|t| t.id == id) else {
                anyhow::bail!("no token with id {id}");
            };
            if !catalog
                .revoke_token(&Scope::operator(token.tenant), &id)
                .await?
            {
                anyhow::bail!("token {id} was already revoked");
            }
            println!("revoked {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("GED_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
