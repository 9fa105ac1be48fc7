//! The `ged` command line: `serve`, `verify`, `config`, `token`, `reindex`, `search`,
//! `ingest`, `bench`.

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
    /// Address the server listens on.
    #[arg(long, global = true, env = "GED_LISTEN")]
    listen: Option<SocketAddr>,
    /// Largest accepted upload, in bytes.
    #[arg(long, global = true, env = "GED_MAX_UPLOAD_BYTES")]
    max_upload_bytes: Option<u64>,
    /// Run OCR when Tesseract is installed (`--ocr false` leaves scans to other servers).
    #[arg(long, global = true, env = "GED_OCR")]
    ocr: Option<bool>,
    /// Content on an S3-compatible store, `s3://bucket/prefix` (AWS_ENDPOINT, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment).
    #[arg(long, global = true, env = "GED_STORE")]
    store: Option<String>,
    /// Catalog on PostgreSQL, `postgres://user:password@host/database`; unset, the SQLite
    /// file of the data folder.
    #[arg(long, global = true, env = "GED_CATALOG_URL", hide_env_values = true)]
    catalog: Option<String>,
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
    Search(Box<SearchArgs>),
    /// Send a batch folder (files and manifest.json or manifest.csv) to a server: checks
    /// everything locally first, uploads only what is missing, prints the report.
    Ingest(IngestArgs),
    /// Benchmarks, each beside its baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Issue, list and revoke bearer tokens (works on the data folder directly).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// `ged search`: each flag is the API criterion of the same name.
#[derive(clap::Args)]
struct SearchArgs {
    /// The server to ask (default: the configured listen address).
    #[arg(long, env = "GED_SERVER")]
    server: Option<String>,
    /// An agent's bearer token.
    #[arg(long, env = "GED_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long)]
    nir: Option<String>,
    #[arg(long)]
    client_number: Option<String>,
    /// Last and/or first name (case and accents do not matter).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    birth_date: Option<String>,
    #[arg(long)]
    siren: Option<String>,
    #[arg(long)]
    siret: Option<String>,
    #[arg(long)]
    company_number: Option<String>,
    #[arg(long)]
    company_name: Option<String>,
    #[arg(long)]
    source: Vec<String>,
    #[arg(long)]
    document_type: Vec<String>,
    #[arg(long)]
    direction: Option<String>,
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    agent: Option<String>,
    #[arg(long)]
    recipient: Option<String>,
    /// A scanning centre's batch reference.
    #[arg(long)]
    batch: Option<String>,
    /// A dossier reference (FAC-2024-000123).
    #[arg(long)]
    dossier: Option<String>,
    /// Documents in a dossier of this status.
    #[arg(long, value_enum)]
    dossier_status: Option<crate::dossiers::DossierStatus>,
    #[arg(long)]
    sensitive: Option<bool>,
    /// Document date from (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Document date to (YYYY-MM-DD, inclusive).
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    archived_from: Option<String>,
    #[arg(long)]
    archived_to: Option<String>,
    /// Words to find in titles and text.
    #[arg(long)]
    q: Option<String>,
    #[arg(long, value_enum)]
    sort: Option<crate::index::Sort>,
    #[arg(long)]
    limit: Option<usize>,
    /// The `next_cursor` of a previous page.
    #[arg(long)]
    cursor: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
}

impl SearchArgs {
    fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut add = |key: &'static str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key, value));
            }
        };
        add("nir", self.nir.clone());
        add("client_number", self.client_number.clone());
        add("name", self.name.clone());
        add("birth_date", self.birth_date.clone());
        add("siren", self.siren.clone());
        add("siret", self.siret.clone());
        add("company_number", self.company_number.clone());
        add("company_name", self.company_name.clone());
        add("direction", self.direction.clone());
        add("channel", self.channel.clone());
        add("agent", self.agent.clone());
        add("recipient", self.recipient.clone());
        add("batch", self.batch.clone());
        add("dossier", self.dossier.clone());
        add(
            "dossier_status",
            self.dossier_status.map(|s| s.as_str().to_string()),
        );
        add("sensitive", self.sensitive.map(|s| s.to_string()));
        add("from", self.from.clone());
        add("to", self.to.clone());
        add("archived_from", self.archived_from.clone());
        add("archived_to", self.archived_to.clone());
        add("q", self.q.clone());
        add("sort", self.sort.map(|s| s.as_str().to_string()));
        add("limit", self.limit.map(|l| l.to_string()));
        add("cursor", self.cursor.clone());
        for source in &self.source {
            pairs.push(("source", source.clone()));
        }
        for document_type in &self.document_type {
            pairs.push(("document_type", document_type.clone()));
        }
        pairs
    }
}

/// `ged ingest DIR`.
#[derive(clap::Args)]
struct IngestArgs {
    /// The batch folder: the files and their manifest.
    folder: PathBuf,
    /// The manifest (default: the folder's manifest.json or manifest.csv).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The server (default: the configured listen address).
    #[arg(long, env = "GED_SERVER")]
    server: Option<String>,
    /// A scanner (or outbound) token bound to the batch's source.
    #[arg(long, env = "GED_TOKEN", hide_env_values = true)]
    token: String,
    /// Upload requests in flight.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Attempts per request before giving up on a transient failure.
    #[arg(long, default_value_t = 8)]
    attempts: u32,
    /// Archive the valid documents and report the others, instead of refusing the batch.
    #[arg(long)]
    accept_partial: bool,
    /// Check the manifest and the files locally; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the server's report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// A batch through `ged ingest` and the HTTP protocol against the disk's raw limit
    /// (write + fsync + rename), on the same files.
    Ingest {
        /// Files in the batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        documents: u64,
        /// Bytes per file.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(16..))]
        size: u64,
        /// Upload requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// People the documents concern (client number, name, birth date), documents dealt
        /// out in turn, as a day's mail comes back to known people; by default a new person
        /// per document (client number only).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        people: Option<u64>,
        /// Where to work (a fresh temporary folder by default; must be empty).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
    },
    /// Pages per second of PDF text-layer extraction (beside poppler's pdftotext) and of
    /// French OCR with Tesseract, on generated letters.
    Extract {
        /// Pages of the text-layer PDF.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        pages: u64,
        /// Pages read by OCR (0 to skip OCR).
        #[arg(long = "ocr-pages", default_value_t = 20)]
        ocr_pages: u64,
        /// Where to work (a fresh temporary folder by default).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
    },
    /// Search latency and throughput against SQLite (indexes + FTS5) on a synthetic archive.
    Search {
        /// Documents in the synthetic archive (at least 1,000).
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..))]
        documents: u64,
        /// Queries per class.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Where to build the archive (a fresh temporary folder by default; must be empty).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
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
    if let Some(listen) = cli.listen {
        settings.listen = listen;
    }
    if let Some(max_upload_bytes) = cli.max_upload_bytes {
        settings.max_upload_bytes = max_upload_bytes;
    }
    if let Some(ocr) = cli.ocr {
        settings.ocr = ocr;
    }
    if let Some(store) = cli.store {
        settings.store = Some(store);
    }
    if let Some(catalog) = cli.catalog {
        settings.catalog = Some(catalog);
    }
    // A benchmark's table is its output: only problems are logged beside it.
    let default_filter = match cli.command {
        Command::Bench { .. } => "warn,sqlx=error",
        _ => "info,sqlx=warn,tower_http=info",
    };
    init_logging(settings.log_format, default_filter);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(settings).await,
            Command::Verify => verify(settings).await,
            Command::Config => {
                print!("{}", settings.to_toml());
                Ok(ExitCode::SUCCESS)
            }
            Command::Openapi => {
                use std::io::Write as _;
                let document = serde_json::to_string_pretty(&*crate::http::openapi::DOCUMENT)?;
                // A closed pipe (`ged openapi | head`) is an error to report, not a panic.
                writeln!(std::io::stdout().lock(), "{document}")?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Token { command } => token(settings, command).await,
            Command::Reindex => reindex(settings).await,
            Command::RetryText => retry_text(settings).await,
            Command::Bench {
                command:
                    BenchCommand::Search {
                        documents,
                        queries,
                        bench_dir,
                    },
            } => {
                crate::bench::search::run(crate::bench::search::Options {
                    documents: usize::try_from(documents)?,
                    queries,
                    data_dir: bench_dir,
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Bench {
                command:
                    BenchCommand::Ingest {
                        documents,
                        size,
                        concurrency,
                        people,
                        bench_dir,
                    },
            } => {
                crate::bench::ingest::run(crate::bench::ingest::Options {
                    documents: usize::try_from(documents)?,
                    size: usize::try_from(size)?,
                    concurrency,
                    people: people.map(usize::try_from).transpose()?,
                    bench_dir,
                    // `--store s3://…`: the server keeps content there, compared with plain PUTs.
                    store: settings.store.clone(),
                    // `--catalog postgres://…`: the server's catalog on PostgreSQL.
                    catalog: settings.catalog.clone(),
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Bench {
                command:
                    BenchCommand::Extract {
                        pages,
                        ocr_pages,
                        bench_dir,
                    },
            } => {
                crate::bench::extract::run(crate::bench::extract::Options {
                    pages: usize::try_from(pages)?,
                    ocr_pages: usize::try_from(ocr_pages)?,
                    bench_dir,
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Search(args) => search(*args, &settings).await,
            Command::Ingest(args) => ingest(args, &settings).await,
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
    if settings.archive_missing() {
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
    if settings.archive_missing() {
        // Not an error (tokens may be issued before the first start), but never silent: a
        // token issued in the wrong folder would be refused by the server.
        eprintln!(
            "ged: no archive in {}: creating a new one there",
            settings.data_dir.display()
        );
    }
    let catalog = crate::startup::open_catalog(&settings).await?;
    let catalog = catalog.as_ref();
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

async fn reindex(settings: Settings) -> anyhow::Result<ExitCode> {
    if settings.archive_missing() {
        anyhow::bail!("no archive in {}", settings.data_dir.display());
    }
    let catalog = crate::startup::open_catalog(&settings).await?;
    let report =
        crate::index::rebuild::rebuild(catalog.as_ref(), &settings.index_dir(), true).await?;
    println!(
        "reindexed {} documents in {:.1} s ({:.0} documents/s); index {:.1} MiB; peak memory {}",
        report.documents,
        report.seconds,
        report.documents_per_second(),
        report.index_bytes as f64 / 1_048_576.0,
        report
            .peak_memory_bytes
            .map_or("unknown".to_string(), |bytes| format!(
                "{:.0} MiB",
                bytes as f64 / 1_048_576.0
            )),
    );
    Ok(ExitCode::SUCCESS)
}

async fn retry_text(settings: Settings) -> anyhow::Result<ExitCode> {
    if settings.archive_missing() {
        anyhow::bail!("no archive in {}", settings.data_dir.display());
    }
    let catalog = crate::startup::open_catalog(&settings).await?;
    let queued = catalog.retry_failed_extractions().await?;
    println!("{queued} failed text extractions queued again");
    Ok(ExitCode::SUCCESS)
}

async fn search(args: SearchArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let query = serde_urlencoded::to_string(args.query_pairs())?;
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let url = format!("{}/api/v1/search?{query}", server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&args.token)
        .send()
        .await
        // The URL holds the criteria (a NIR, a name): never print it.
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("cannot reach {server}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(reqwest::Error::without_url)
        .context("the server's answer is not JSON")?;
    if !status.is_success() {
        let error = &body["error"];
        eprintln!(
            "ged: {} ({}){}",
            error["message"].as_str().unwrap_or("refused"),
            status.as_u16(),
            error["field"]
                .as_str()
                .map(|f| format!(", field {f}"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", crate::index::table::render(&body));
    Ok(ExitCode::SUCCESS)
}

async fn ingest(args: IngestArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    use crate::batches::client::{self, BatchRefused, IngestOptions};
    let options = IngestOptions {
        folder: args.folder,
        manifest: args.manifest,
        server: args
            .server
            .unwrap_or_else(|| format!("http://{}", settings.listen)),
        token: args.token,
        concurrency: usize::from(args.concurrency),
        attempts: args.attempts,
        accept_partial: args.accept_partial,
        dry_run: args.dry_run,
        progress: true,
    };
    let outcome = match client::ingest(&options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            if let Some(BatchRefused(problems)) = error.downcast_ref::<BatchRefused>() {
                eprintln!("ged: the batch is refused, nothing was sent:");
                for problem in &problems.0 {
                    eprintln!("  {}: {}", problem.field, problem.message);
                }
                return Ok(ExitCode::FAILURE);
            }
            return Err(error);
        }
    };
    let Some(report) = &outcome.report else {
        println!(
            "dry run: {} documents checked, manifest and files agree; nothing sent",
            outcome.documents
        );
        return Ok(ExitCode::SUCCESS);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        let totals = &report["totals"];
        println!(
            "batch {} ({}): {} documents: {} archived, {} already archived, {} rejected, {} pending",
            report["batch_ref"].as_str().unwrap_or(""),
            report["id"].as_str().unwrap_or(""),
            totals["documents"],
            totals["archived"],
            totals["already_archived"],
            totals["rejected"],
            totals["pending"],
        );
        println!(
            "uploaded {} files ({:.1} MB), {} already on the server",
            outcome.uploaded,
            outcome.uploaded_bytes as f64 / 1e6,
            outcome.skipped
        );
        for document in report["documents"].as_array().into_iter().flatten() {
            if document["outcome"] != "rejected" {
                continue;
            }
            for error in document["errors"].as_array().into_iter().flatten() {
                println!(
                    "  rejected {}: {} {}",
                    document["file"].as_str().unwrap_or(""),
                    error["field"].as_str().unwrap_or(""),
                    error["message"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(if outcome.rejected() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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

fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("GED_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
