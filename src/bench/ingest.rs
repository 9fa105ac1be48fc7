//! `ged bench ingest`: a batch sent by the real client through the real HTTP protocol to a
//! `ged serve` process on the embedded default, against the raw limit of the same disk in the
//! same run: the same files written with write + fsync + rename, one stream.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::access::tokens::{self, TokenRequest};
use crate::access::{DEFAULT_TENANT, Role, Scope, TenantId};
use crate::batches::client::{IngestOptions, ingest};
use crate::index::rebuild::{process_cpu_time, process_peak_memory_bytes};

pub struct Options {
    pub documents: usize,
    /// Bytes per file.
    pub size: usize,
    /// Upload requests in flight.
    pub concurrency: usize,
    /// People the documents concern, dealt out in turn (a new person per document if `None`).
    pub people: Option<usize>,
    /// Where to work (a fresh temporary folder by default; must not exist or be empty).
    pub bench_dir: Option<PathBuf>,
    /// The server's content on this S3-compatible store (`s3://bucket/prefix`, AWS variables
    /// from the environment); the raw limit is then the same files PUT to it one by one.
    pub store: Option<String>,
    /// The server's catalog on PostgreSQL (`postgres://…`, an empty database); the SQLite file
    /// of the bench folder otherwise.
    pub catalog: Option<String>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let root = options
        .bench_dir
        .clone()
        .unwrap_or_else(|| temporary.path().join("bench"));
    std::fs::create_dir_all(&root)?;
    anyhow::ensure!(
        std::fs::read_dir(&root)?.next().is_none(),
        "{} is not empty",
        root.display()
    );
    println!(
        "ged bench ingest: {} files of {} bytes, {} upload requests in flight, {} people, in {}",
        options.documents,
        options.size,
        options.concurrency,
        options
            .people
            .unwrap_or(options.documents)
            .min(options.documents),
        root.display()
    );
    let batch_dir = root.join("batch");
    let started = Instant::now();
    let files = write_batch(&batch_dir, options.documents, options.size, options.people)?;
    // The batch folder would otherwise still be in the page cache, dirty, when the server's
    // first `syncfs` runs: ged would pay for writing the scanning centre's files.
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(std::fs::File::open(&batch_dir)?)?;
    println!(
        "generated the batch folder in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let data_dir = root.join("data");
    let settings = crate::config::Settings {
        data_dir: data_dir.clone(),
        catalog: options.catalog.clone(),
        ..Default::default()
    };
    println!("catalog: {}", settings.catalog_display());
    let token = scanner_token(&settings).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["serve", "--data-dir"])
        .arg(&data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    if let Some(store) = &options.store {
        command.args(["--store", store]);
    }
    // In the environment, not the arguments: the URL may carry a password.
    match &options.catalog {
        Some(catalog) => command.env("GED_CATALOG_URL", catalog),
        None => command.env_remove("GED_CATALOG_URL"),
    };
    let mut server = command
        .env(
            "GED_LOG",
            std::env::var("GED_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("cannot start ged serve")?;
    let server_pid = server.id().to_string();
    let measured = async {
        wait_until_healthy(port).await?;
        let ingest_options = IngestOptions {
            folder: batch_dir.clone(),
            manifest: None,
            server: format!("http://127.0.0.1:{port}"),
            token,
            concurrency: options.concurrency,
            attempts: 3,
            accept_partial: false,
            dry_run: false,
            progress: true,
        };
        let client_cpu_before = process_cpu_time("self");
        let started = Instant::now();
        let outcome = ingest(&ingest_options).await?;
        let elapsed = started.elapsed();
        // Where the processor time went: the two cores are shared by the client and the server.
        let cpu = |time: Option<Duration>| {
            time.map_or("unknown".into(), |t| format!("{:.2} s", t.as_secs_f64()))
        };
        println!(
            "processor time: server {} (since it started), client {} (during the ingest's {:.2} s)",
            cpu(process_cpu_time(&server_pid)),
            cpu(process_cpu_time("self")
                .zip(client_cpu_before)
                .map(|(after, before)| after.saturating_sub(before))),
            elapsed.as_secs_f64()
        );
        let archived = outcome
            .report
            .as_ref()
            .and_then(|report| report["totals"]["archived"].as_u64())
            .unwrap_or(0);
        anyhow::ensure!(
            archived as usize == options.documents,
            "the server archived {archived} of {} documents",
            options.documents
        );
        println!(
            "blobs uploaded in {:.2} s, manifest committed in {:.2} s",
            outcome.upload_time.as_secs_f64(),
            outcome.commit_time.as_secs_f64()
        );
        Ok::<_, anyhow::Error>((elapsed, process_peak_memory_bytes(&server_pid)))
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    let (ged_elapsed, server_peak) = measured?;

    let (raw_elapsed, raw_label) = match &options.store {
        None => (
            raw_limit(&root.join("raw"), &files)?,
            "raw limit: write + fsync + rename, one stream",
        ),
        Some(store) => (
            raw_s3_limit(store, &root.join("batch"), &files).await?,
            "raw limit: PUT to the same S3 store, one stream",
        ),
    };
    let total_bytes = (options.documents * options.size) as f64;
    let rate = |elapsed: Duration| {
        (
            options.documents as f64 / elapsed.as_secs_f64(),
            total_bytes / 1e6 / elapsed.as_secs_f64(),
        )
    };
    let (ged_documents, ged_megabytes) = rate(ged_elapsed);
    let (raw_documents, raw_megabytes) = rate(raw_elapsed);
    println!();
    println!("| | seconds | documents/s | MB/s |");
    println!("|---|---|---|---|");
    println!(
        "| ged ingest → ged serve (HTTP, blobs + manifest) | {:.2} | {:.0} | {:.1} |",
        ged_elapsed.as_secs_f64(),
        ged_documents,
        ged_megabytes
    );
    println!(
        "| {raw_label} | {:.2} | {:.0} | {:.1} |",
        raw_elapsed.as_secs_f64(),
        raw_documents,
        raw_megabytes
    );
    println!();
    println!(
        "ged / raw limit: {:.2}× (target ≥ 0.8×); documents/s target ≥ 1,000",
        ged_documents / raw_documents
    );
    println!(
        "peak server memory: {} (target < 256 MB for a 100,000-document batch)",
        server_peak.map_or("unknown".to_string(), |bytes| format!(
            "{:.0} MiB",
            bytes as f64 / 1_048_576.0
        ))
    );
    Ok(())
}

/// A file of the batch: its name and content hash.
struct GeneratedFile {
    name: String,
    sha256: String,
}

/// Writes `count` distinct PDF-looking files of `size` bytes and their `manifest.json`, the
/// documents about `people` people in turn (a new person each if `None`).
fn write_batch(
    folder: &Path,
    count: usize,
    size: usize,
    people: Option<usize>,
) -> anyhow::Result<Vec<GeneratedFile>> {
    std::fs::create_dir_all(folder)?;
    let mut rng = SmallRng::seed_from_u64(20_261_123);
    let mut files = Vec::with_capacity(count);
    let mut manifest =
        std::io::BufWriter::new(std::fs::File::create(folder.join("manifest.json"))?);
    write!(
        manifest,
        r#"{{"batch_ref":"BENCH-1","source":"BENCH","scanned_at":"2024-03-07T09:30:00Z","documents":["#
    )?;
    let mut bytes = vec![0u8; size.max(16)];
    for n in 0..count {
        rng.fill_bytes(&mut bytes);
        bytes[..9].copy_from_slice(b"%PDF-1.4\n");
        let name = format!("{n:07}.pdf");
        std::fs::write(folder.join(&name), &bytes)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let separator = if n == 0 { "" } else { "," };
        let individual = match people {
            None => format!(r#"{{"client_number":"C-{n:07}"}}"#),
            // Known people come back with their names, which the catalog already has.
            Some(people) => {
                let person = n % people;
                format!(
                    r#"{{"client_number":"C-{person:07}","last_name":"NOM{person}","first_name":"Prénom","birth_date":"1980-01-01"}}"#
                )
            }
        };
        write!(
            manifest,
            r#"{separator}{{"file":"{name}","sha256":"{sha256}","size":{},"document_type":"COURRIER","document_date":"2024-03-05","title":"Courrier {n}","individuals":[{individual}]}}"#,
            bytes.len()
        )?;
        files.push(GeneratedFile { name, sha256 });
    }
    write!(manifest, "]}}")?;
    manifest.flush()?;
    Ok(files)
}

/// Issues a scanner token for the source `BENCH` on a fresh archive.
async fn scanner_token(settings: &crate::config::Settings) -> anyhow::Result<String> {
    let catalog = crate::startup::open_catalog(settings).await?;
    let tenant = TenantId::parse(DEFAULT_TENANT).expect("the default tenant id is valid");
    let request = TokenRequest {
        role: Role::Scanner,
        name: Some("bench".into()),
        source: Some("BENCH".into()),
        expires_in: None,
    };
    Ok(
        tokens::issue(catalog.as_ref(), &Scope::operator(tenant), request)
            .await?
            .token,
    )
}

async fn wait_until_healthy(port: u16) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("ged serve did not answer /healthz within 30 s")
}

/// The S3 store's limit for these files one by one: a plain PUT of each, under a prefix of
/// its own beside the archive's, with the same client settings the server uses.
async fn raw_s3_limit(
    store: &str,
    source: &Path,
    files: &[GeneratedFile],
) -> anyhow::Result<Duration> {
    use object_store::ObjectStoreExt;

    let raw_url = format!("{}/bench-raw", store.trim_end_matches('/'));
    let scratch = tempfile::tempdir()?;
    let raw = crate::content::ContentStore::open_s3(&raw_url, scratch.path())?;
    let started = Instant::now();
    for file in files {
        let bytes = tokio::fs::read(source.join(&file.name)).await?;
        raw.object_store()
            .put(
                &object_store::path::Path::from(file.sha256.as_str()),
                object_store::PutPayload::from(bytes),
            )
            .await?;
    }
    Ok(started.elapsed())
}

/// The disk's limit for storing these files durably one by one: read, write to a temporary
/// name, fsync, rename into place (as the content store does), then fsync the folder.
fn raw_limit(folder: &Path, files: &[GeneratedFile]) -> anyhow::Result<Duration> {
    std::fs::create_dir_all(folder)?;
    let source = folder
        .parent()
        .expect("the raw folder has a parent")
        .join("batch");
    let started = Instant::now();
    for file in files {
        let bytes = std::fs::read(source.join(&file.name))?;
        let temporary = folder.join(format!("{}.tmp", file.sha256));
        let mut handle = std::fs::File::create(&temporary)?;
        handle.write_all(&bytes)?;
        handle.sync_all()?;
        std::fs::rename(&temporary, folder.join(&file.sha256))?;
    }
    std::fs::File::open(folder)?.sync_all()?;
    Ok(started.elapsed())
}
