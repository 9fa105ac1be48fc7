//! `ged ingest`: the client a scanning centre runs on a batch folder.
//!
//! It validates the manifest with the server's own code and checks every file against its
//! declared size and hash before sending anything; then uploads only the blobs the server lacks,
//! several at once, retrying transient failures; then commits the manifest. Run again after an
//! interruption, it sends nothing twice: blobs already there are skipped, and the server
//! answers a committed batch with its first report.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::CONTENT_TYPE;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Manifest, ManifestFormat, read_manifest};
use crate::content::http::{PARTS_LIMIT, SEVERAL_FILES_BYTES};
use crate::identifiers::Sha256Hex;
use crate::validation::{FieldError, ValidationErrors};

/// First wait before retrying a transient failure; doubled at each attempt, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What `ged ingest` was asked to do.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub folder: PathBuf,
    /// The manifest, when not the folder's `manifest.json` or `manifest.csv`.
    pub manifest: Option<PathBuf>,
    pub server: String,
    pub token: String,
    /// Upload requests in flight.
    pub concurrency: usize,
    /// Attempts per request before giving up on a transient failure.
    pub attempts: u32,
    pub accept_partial: bool,
    pub dry_run: bool,
    /// Draw a progress bar on standard error.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug)]
pub struct IngestOutcome {
    pub documents: usize,
    /// Blobs sent, and their bytes.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Blobs the server already held.
    pub skipped: usize,
    /// Time spent uploading blobs, then committing the manifest.
    pub upload_time: Duration,
    pub commit_time: Duration,
    /// The server's report (`None` for a dry run).
    pub report: Option<Value>,
}

impl IngestOutcome {
    /// Documents the server rejected.
    pub fn rejected(&self) -> u64 {
        self.report
            .as_ref()
            .and_then(|report| report["totals"]["rejected"].as_u64())
            .unwrap_or(0)
    }
}

/// The batch could not be sent as it is: every problem, each naming its document and field.
#[derive(Debug, thiserror::Error)]
#[error("the batch is refused: {} problem(s)", .0.0.len())]
pub struct BatchRefused(pub ValidationErrors);

pub async fn ingest(options: &IngestOptions) -> anyhow::Result<IngestOutcome> {
    let (manifest_path, format) = locate_manifest(options)?;
    let manifest_bytes = tokio::fs::read(&manifest_path)
        .await
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest = {
        let bytes = manifest_bytes.clone();
        tokio::task::spawn_blocking(move || read_manifest(&bytes, format))
            .await?
            .map_err(BatchRefused)?
    };
    let mut problems = if options.accept_partial {
        ValidationErrors::default()
    } else {
        manifest.errors()
    };
    problems
        .0
        .extend(check_files(&options.folder, &manifest).await?.0);
    if !problems.is_empty() {
        return Err(BatchRefused(problems).into());
    }
    let documents = manifest.entries.len();
    if options.dry_run {
        return Ok(IngestOutcome {
            documents,
            uploaded: 0,
            uploaded_bytes: 0,
            skipped: 0,
            upload_time: Duration::ZERO,
            commit_time: Duration::ZERO,
            report: None,
        });
    }

    let client = Client::new(options)?;
    let started = std::time::Instant::now();
    let (uploaded, uploaded_bytes, skipped) = upload_missing(&client, options, &manifest).await?;
    let upload_time = started.elapsed();
    let content_type = match format {
        ManifestFormat::Json => "application/json",
        ManifestFormat::Csv => "text/csv; charset=utf-8",
    };
    let path = if options.accept_partial {
        "/api/v1/batches?accept_partial=true"
    } else {
        "/api/v1/batches"
    };
    let report = client
        .send(Method::POST, path, |request| {
            Ok(request
                .header(CONTENT_TYPE, content_type)
                .body(manifest_bytes.clone()))
        })
        .await?;
    let report: Value = report
        .json()
        .await
        .map_err(reqwest::Error::without_url)
        .context("the server's report is not JSON")?;
    Ok(IngestOutcome {
        documents,
        uploaded,
        uploaded_bytes,
        skipped,
        upload_time,
        commit_time: started.elapsed() - upload_time,
        report: Some(report),
    })
}

fn locate_manifest(options: &IngestOptions) -> anyhow::Result<(PathBuf, ManifestFormat)> {
    let path = match &options.manifest {
        Some(path) => path.clone(),
        None => {
            let json = options.folder.join("manifest.json");
            let csv = options.folder.join("manifest.csv");
            match (json.exists(), csv.exists()) {
                (true, false) => json,
                (false, true) => csv,
                (true, true) => bail!(
                    "{} holds both manifest.json and manifest.csv: choose one with --manifest",
                    options.folder.display()
                ),
                (false, false) => bail!(
                    "{} holds no manifest.json or manifest.csv (or give --manifest FILE)",
                    options.folder.display()
                ),
            }
        }
    };
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("csv") => ManifestFormat::Csv,
        _ => ManifestFormat::Json,
    };
    Ok((path, format))
}

/// Every document's file: present, of its declared size, hashing to its declared SHA-256.
/// Hashing runs on every core, each core's thread taking the next file (a task per file
/// would cost a thread hand-off per file, a sixth of the check's time for 100 KB scans).
async fn check_files(folder: &Path, manifest: &Manifest) -> anyhow::Result<ValidationErrors> {
    let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
    let named_safely = |entry: &&super::ManifestEntry| match &entry.metadata {
        Ok(_) => true,
        Err(errors) => !errors.iter().any(|e| e.field == "file"),
    };
    let files: Vec<(String, PathBuf, Sha256Hex, u64)> = manifest
        .entries
        .iter()
        .filter(named_safely)
        .filter_map(|entry| {
            let (sha256, size) = (entry.sha256.clone()?, entry.size?);
            Some((entry.locator(), folder.join(&entry.file), sha256, size))
        })
        .collect();
    let problems = tokio::task::spawn_blocking(move || {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut found: Vec<(usize, FieldError)> = std::thread::scope(|threads| {
            let workers: Vec<_> = (0..parallelism.min(files.len()).max(1))
                .map(|_| {
                    threads.spawn(|| {
                        let mut found = Vec::new();
                        loop {
                            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((locator, path, sha256, size)) = files.get(n) else {
                                return found;
                            };
                            if let Some((field, message)) = check_file(path, sha256, *size) {
                                found.push((
                                    n,
                                    FieldError::new(format!("{locator}.{field}"), message),
                                ));
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("file check does not panic"))
                .collect()
        });
        // In manifest order, whichever thread found them.
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, problem)| problem).collect()
    })
    .await?;
    Ok(ValidationErrors(problems))
}

fn check_file(path: &Path, expected: &Sha256Hex, size: u64) -> Option<(&'static str, String)> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) => return Some(("file", format!("cannot be opened: {error}"))),
    };
    let actual_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if actual_size != size {
        return Some((
            "size",
            format!("is {size} but the file has {actual_size} bytes"),
        ));
    }
    let mut hasher = Sha256::new();
    if let Err(error) = std::io::copy(&mut file, &mut hasher) {
        return Some(("file", format!("cannot be read: {error}")));
    }
    let actual = Sha256Hex::from_digest(&hasher.finalize());
    (actual != *expected).then(|| {
        (
            "sha256",
            format!("does not match the file, which hashes to {actual}"),
        )
    })
}

/// Sends the blobs the server lacks; returns (sent, bytes sent, already there).
async fn upload_missing(
    client: &Client,
    options: &IngestOptions,
    manifest: &Manifest,
) -> anyhow::Result<(usize, u64, usize)> {
    let mut seen = HashSet::new();
    let blobs: Vec<(Sha256Hex, u64, PathBuf)> = manifest
        .entries
        .iter()
        .filter(|entry| entry.metadata.is_ok())
        .filter_map(|entry| Some((entry.sha256.clone()?, entry.size?, entry.file.clone())))
        .filter(|(sha256, _, _)| seen.insert(sha256.clone()))
        .map(|(sha256, size, file)| (sha256, size, options.folder.join(file)))
        .collect();
    let total_bytes: u64 = blobs.iter().map(|(_, size, _)| size).sum();
    let bar = if options.progress {
        ProgressBar::new(total_bytes)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let files = blobs.len();
    let mut missing = HashSet::new();
    for chunk in blobs.chunks(MISSING_QUERY_SIZE) {
        missing.extend(client.missing_blobs(chunk).await?);
    }
    let (to_send, held): (Vec<_>, Vec<_>) = blobs
        .into_iter()
        .partition(|(sha256, _, _)| missing.contains(sha256.as_str()));
    bar.inc(held.iter().map(|(_, size, _)| size).sum());
    let done = std::sync::atomic::AtomicUsize::new(held.len());
    let uploaded_bytes = to_send.iter().map(|(_, size, _)| size).sum();
    let uploaded = to_send.len();
    let results = futures::stream::iter(requests(to_send).into_iter().map(|request| {
        let bar = &bar;
        let done = &done;
        async move {
            match request.as_slice() {
                [(sha256, size, path)] => client.put_blob(sha256, *size, path).await?,
                several => client.put_blobs_or_one_by_one(several).await?,
            }
            bar.inc(request.iter().map(|(_, size, _)| size).sum());
            let count =
                done.fetch_add(request.len(), std::sync::atomic::Ordering::Relaxed) + request.len();
            bar.set_message(format!("{count}/{files} files"));
            Ok::<_, anyhow::Error>(())
        }
    }))
    .buffer_unordered(options.concurrency.max(1))
    .try_collect::<Vec<_>>()
    .await;
    bar.finish_and_clear();
    results?;
    Ok((uploaded, uploaded_bytes, held.len()))
}

/// Files up to this size are read whole before they are sent; larger ones are streamed.
const WHOLE_READ_LIMIT: u64 = 8 * 1024 * 1024;
/// Files up to this size travel several to a request (`POST /api/v1/blobs`)...
const SHARED_REQUEST_FILE_LIMIT: u64 = 1024 * 1024;
/// ...up to this many bytes of files (a server takes at least `SEVERAL_FILES_BYTES`)...
const SHARED_REQUEST_BYTES: u64 = 8 * 1024 * 1024;
const _: () = assert!(SHARED_REQUEST_BYTES <= SEVERAL_FILES_BYTES);
/// ...and as many files as a server takes.
const SHARED_REQUEST_FILES: usize = PARTS_LIMIT;

/// The uploads to make, in manifest order: small files several to a request, each larger
/// one on its own.
fn requests(files: Vec<(Sha256Hex, u64, PathBuf)>) -> Vec<Vec<(Sha256Hex, u64, PathBuf)>> {
    let mut requests = Vec::new();
    let mut shared: Vec<(Sha256Hex, u64, PathBuf)> = Vec::new();
    let mut shared_bytes = 0;
    for file in files {
        if file.1 > SHARED_REQUEST_FILE_LIMIT {
            requests.push(vec![file]);
            continue;
        }
        if shared.len() == SHARED_REQUEST_FILES || shared_bytes + file.1 > SHARED_REQUEST_BYTES {
            requests.push(std::mem::take(&mut shared));
            shared_bytes = 0;
        }
        shared_bytes += file.1;
        shared.push(file);
    }
    if !shared.is_empty() {
        requests.push(shared);
    }
    requests
}

/// Files asked about per `POST /api/v1/blobs/missing` (the server takes at most 10,000).
const MISSING_QUERY_SIZE: usize = 1_000;

/// An HTTP client that retries what may succeed if tried again.
struct Client {
    http: reqwest::Client,
    server: String,
    token: String,
    attempts: u32,
}

impl Client {
    fn new(options: &IngestOptions) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            server: options.server.trim_end_matches('/').to_string(),
            token: options.token.clone(),
            attempts: options.attempts.max(1),
        })
    }

    /// Those of `blobs` the server does not hold for this tenant with their size: the files
    /// to send (`POST /api/v1/blobs/missing`, one request for many files).
    async fn missing_blobs(
        &self,
        blobs: &[(Sha256Hex, u64, PathBuf)],
    ) -> anyhow::Result<Vec<String>> {
        let query = serde_json::json!({
            "blobs": blobs
                .iter()
                .map(|(sha256, size, _)| serde_json::json!({"sha256": sha256.as_str(), "size": size}))
                .collect::<Vec<_>>(),
        });
        let body = serde_json::to_vec(&query)?;
        let response = self
            .send(Method::POST, "/api/v1/blobs/missing", |request| {
                Ok(request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone()))
            })
            .await?;
        let answer: Value = response
            .json()
            .await
            .map_err(reqwest::Error::without_url)
            .context("the server's list of missing files is not JSON")?;
        answer["missing"]
            .as_array()
            .context("the server's answer lists no missing files")?
            .iter()
            .map(|sha256| {
                sha256
                    .as_str()
                    .map(str::to_string)
                    .context("the server listed a missing file that is not a hash")
            })
            .collect()
    }

    async fn put_blob(&self, sha256: &Sha256Hex, size: u64, path: &Path) -> anyhow::Result<()> {
        let url_path = format!("/api/v1/blobs/{sha256}");
        let file_path = path.to_path_buf();
        if size <= WHOLE_READ_LIMIT {
            // A scan of a few hundred kilobytes is read in one call and sent with its length,
            // instead of streamed in pieces, each read a hop to a blocking thread.
            let bytes = tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            let bytes = bytes::Bytes::from(bytes);
            self.send(Method::PUT, &url_path, |request| {
                Ok(request
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone()))
            })
            .await?;
            return Ok(());
        }
        self.send(Method::PUT, &url_path, |request| {
            let file = std::fs::File::open(&file_path)
                .with_context(|| format!("cannot open {}", file_path.display()))?;
            let stream = tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                256 * 1024,
            );
            Ok(request
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::Body::wrap_stream(stream)))
        })
        .await?;
        Ok(())
    }

    /// Sends several small files in one `POST /api/v1/blobs`, one part each, named with its
    /// hash: the server makes them durable with one flush.
    async fn put_blobs(&self, files: &[(Sha256Hex, u64, PathBuf)]) -> anyhow::Result<()> {
        let mut contents = Vec::with_capacity(files.len());
        for (sha256, _, path) in files {
            let bytes = tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            contents.push((sha256.as_str(), name, bytes::Bytes::from(bytes)));
        }
        self.send(Method::POST, "/api/v1/blobs", |request| {
            let form = contents
                .iter()
                .fold(Form::new(), |form, (sha256, name, bytes)| {
                    let mut part = Part::stream_with_length(bytes.clone(), bytes.len() as u64);
                    if let Some(name) = name {
                        // Named in the server's errors.
                        part = part.file_name(name.clone());
                    }
                    form.part(sha256.to_string(), part)
                });
            Ok(request.multipart(form))
        })
        .await?;
        Ok(())
    }

    /// [`Client::put_blobs`], or each file on its own when the request of several is refused
    /// for what it is rather than for what it carries: a proxy's body limit (413), a server
    /// without `POST /api/v1/blobs` (404, 405).
    async fn put_blobs_or_one_by_one(
        &self,
        files: &[(Sha256Hex, u64, PathBuf)],
    ) -> anyhow::Result<()> {
        match self.put_blobs(files).await {
            Err(error)
                if error.downcast_ref::<Refused>().is_some_and(|refused| {
                    [
                        StatusCode::PAYLOAD_TOO_LARGE,
                        StatusCode::NOT_FOUND,
                        StatusCode::METHOD_NOT_ALLOWED,
                    ]
                    .contains(&refused.status)
                }) =>
            {
                tracing::warn!(error = %format!("{error:#}"), "sending these files one by one");
                for (sha256, size, path) in files {
                    self.put_blob(sha256, *size, path).await?;
                }
                Ok(())
            }
            sent => sent,
        }
    }

    /// Sends a request, retrying connection failures, timeouts, 408, 429 and 5xx with
    /// exponential backoff; `body` gives each attempt a fresh body and its content type.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: impl Fn(RequestBuilder) -> anyhow::Result<RequestBuilder>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.server);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let request = body(
                self.http
                    .request(method.clone(), &url)
                    .bearer_auth(&self.token),
            )?;
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let transient = status.is_server_error()
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::REQUEST_TIMEOUT;
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let refused = Refused { status, body };
                    if !transient {
                        return Err(refused.into());
                    }
                    anyhow::Error::from(refused)
                }
                Err(error) => anyhow::Error::from(error.without_url())
                    .context(format!("cannot reach {}", self.server)),
            };
            if attempt >= self.attempts {
                return Err(failure.context(format!("{method} {path} failed {attempt} times")));
            }
            tracing::warn!(%method, path, attempt, error = %format!("{failure:#}"), "retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }
}

/// The server refused a request.
#[derive(Debug, thiserror::Error)]
#[error("the server answered {status}: {}", describe(.body))]
pub struct Refused {
    pub status: StatusCode,
    pub body: Value,
}

fn describe(body: &Value) -> String {
    let error = &body["error"];
    let mut text = error["message"]
        .as_str()
        .unwrap_or("no reason given")
        .to_string();
    for detail in error["details"].as_array().into_iter().flatten().skip(1) {
        text.push_str(&format!(
            "; {} {}",
            detail["field"].as_str().unwrap_or(""),
            detail["message"].as_str().unwrap_or("")
        ));
    }
    text
}
