//! Starting the real app for a test, and the fixtures tests send to it.
//!
//! The same tests run on both catalogs: this binary (`tests/api`) on the SQLite file, the
//! `tests/postgres` binary on PostgreSQL, each test on a database of its own, created here
//! (`GED_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`, is where). Without
//! a PostgreSQL server the PostgreSQL binary says it was skipped and stops, unless
//! `GED_REQUIRE_POSTGRES` is set, as `.ci/run` does: there it fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use ged::access::tokens::{self, IssuedToken, TokenRequest};
use ged::access::{DEFAULT_TENANT, Role, Scope, TenantId};
use ged::archive::Archive;
use ged::config::Settings;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A valid NIR (key computed independently), and others for tests that need several people.
pub const NIR: &str = "185057800608491";
pub const NIR_2: &str = "292037512345636";
pub const NIR_CORSICA: &str = "170052A12345689";
pub const SIREN: &str = "732829320";
pub const SIRET: &str = "73282932000074";
pub const SIRET_OTHER_COMPANY: &str = "55203253400018";

static LOGGING: Once = Once::new();

/// The catalog backend a test binary runs its tests on (each binary names one of them).
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL database of each data folder, for the servers and commands started on it.
static DATABASES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
static DATABASE_NUMBER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static STALE_DATABASES_DROPPED: Once = Once::new();

fn postgres_server() -> String {
    std::env::var("GED_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs `statements` on the PostgreSQL server's maintenance database, on a thread of its own
/// (callers may be inside or outside a runtime).
fn on_postgres_server(statements: Vec<String>) -> Result<Vec<String>, String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(&postgres_server())
                .await
                .map_err(|e| e.to_string())?;
            let mut names = Vec::new();
            for statement in statements {
                let rows: Vec<String> = sqlx::query_scalar(&statement)
                    .fetch_all(&mut connection)
                    .await
                    .map_err(|e| format!("{statement}: {e}"))?;
                names.extend(rows);
            }
            let _ = connection.close().await;
            Ok(names)
        })
    })
    .join()
    .expect("PostgreSQL thread")
}

/// A new, empty PostgreSQL database; the first call of a run drops those left by runs that
/// ended (a database lives as long as its data folder, which the test harness cannot see end).
fn create_postgres_database() -> String {
    STALE_DATABASES_DROPPED.call_once(|| {
        let found = on_postgres_server(vec![
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'ged\\_test\\_%'".into(),
        ]);
        let names = match found {
            Ok(names) => names,
            Err(reason) => {
                assert!(
                    std::env::var_os("GED_REQUIRE_POSTGRES").is_none(),
                    "GED_REQUIRE_POSTGRES is set but PostgreSQL at {} cannot be reached: {reason}",
                    postgres_server()
                );
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the PostgreSQL catalog suite needs a PostgreSQL server at {} \
                     (GED_TEST_POSTGRES): {reason}\n",
                    postgres_server()
                );
                std::process::exit(0);
            }
        };
        let stale = names
            .into_iter()
            .filter(|name| {
                // `ged_test_<pid>_<n>`: left by a process that has ended.
                match name.split('_').nth(2).map(str::parse::<u32>) {
                    Some(Ok(pid)) => !Path::new(&format!("/proc/{pid}")).exists(),
                    _ => false,
                }
            })
            .map(|name| format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .collect();
        on_postgres_server(stale).expect("drop stale test databases");
    });
    let name = format!(
        "ged_test_{}_{}",
        std::process::id(),
        DATABASE_NUMBER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    on_postgres_server(vec![format!("CREATE DATABASE {name}")]).expect("create test database");
    let mut url = url::Url::parse(&postgres_server()).expect("GED_TEST_POSTGRES is a URL");
    url.set_path(&name);
    url.to_string()
}

/// The catalog URL of the data folder on this binary's backend: `None` on SQLite (the file in
/// the folder), a database of its own on PostgreSQL, created the first time.
pub fn catalog_url(data_dir: &Path) -> Option<String> {
    if crate::BACKEND == Backend::Sqlite {
        return None;
    }
    let mut databases = DATABASES.lock().unwrap();
    let databases = databases.get_or_insert_with(HashMap::new);
    Some(
        databases
            .entry(data_dir.to_path_buf())
            .or_insert_with(create_postgres_database)
            .clone(),
    )
}

/// Makes the data folder `data_dir` use the catalog of `shared` (several servers, one archive:
/// the PostgreSQL suite's nodes).
#[allow(dead_code)]
pub fn share_catalog(data_dir: &Path, shared: &Path) {
    if let Some(url) = catalog_url(shared) {
        DATABASES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(data_dir.to_path_buf(), url);
    }
}

/// Drops the data folder's PostgreSQL database, once nothing uses it any more.
fn drop_postgres_database(data_dir: &Path) {
    let url = DATABASES
        .lock()
        .unwrap()
        .as_mut()
        .and_then(|databases| databases.remove(data_dir));
    if let Some(url) = url {
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let _ = on_postgres_server(vec![format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]);
    }
}

/// The catalog URL for the `ged` command line, when `args` name a data folder.
fn catalog_of_args(args: &[&str]) -> Option<String> {
    let position = args.iter().position(|arg| *arg == "--data-dir")?;
    catalog_url(Path::new(args.get(position + 1)?))
}

/// Logs stay quiet unless `TEST_LOG=1`.
fn init_logging() {
    LOGGING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter("info,sqlx=warn")
                .with_test_writer()
                .init();
        }
    });
}

pub struct TestApp {
    pub address: String,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    /// A scanning centre's token for the source `SCAN-LYON` (the fixtures' source).
    pub scanner: String,
    /// An agent who sees sensitive mail: reads everything of the default tenant.
    pub reader: String,
    /// A second handle on the same catalog, for issuing tokens as the operator would.
    archive: Archive,
    _folder: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the app on a fresh data folder.
pub async fn spawn_app() -> TestApp {
    let folder = tempfile::tempdir().expect("temp folder");
    let data_dir = folder.path().join("data");
    let mut app = spawn_app_on(&data_dir, |_| {}).await;
    app._folder = Some(folder);
    app
}

/// Starts the app on `data_dir`, with settings adjusted by `configure`.
pub async fn spawn_app_on(data_dir: &Path, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let mut settings = Settings {
        data_dir: data_dir.to_path_buf(),
        catalog: catalog_url(data_dir),
        ..Settings::default()
    };
    // The server runs in this test program: its extraction process is the `ged` binary.
    settings.untrusted_files.extraction_program = Some(env!("CARGO_BIN_EXE_ged").into());
    configure(&mut settings);
    let archive = ged::startup::open_archive(&settings)
        .await
        .expect("open archive");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        ged::startup::run(&settings, listener, async {
            let _ = shutdown_rx.await;
        })
        .await
    });
    let mut app = TestApp {
        address,
        data_dir: data_dir.to_path_buf(),
        client: reqwest::Client::new(),
        scanner: String::new(),
        reader: String::new(),
        archive,
        _folder: None,
        shutdown: Some(shutdown_tx),
        server: Some(server),
    };
    app.wait_until_healthy().await;
    app.scanner = app
        .issue_token(DEFAULT_TENANT, Role::Scanner, Some("SCAN-LYON"))
        .await;
    app.reader = app
        .issue_token(DEFAULT_TENANT, Role::AgentSensitive, None)
        .await;
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    async fn wait_until_healthy(&self) {
        for _ in 0..100 {
            if let Ok(response) = self.client.get(self.url("/healthz")).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the app did not become healthy");
    }

    /// Stops the server gracefully and waits for it; the data folder stays.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Issues a token as the operator (`ged token create` does the same), creating the tenant.
    pub async fn issue_token(&self, tenant: &str, role: Role, source: Option<&str>) -> String {
        self.issue(tenant, role, source).await.token
    }

    /// Like [`Self::issue_token`], with the token's id (the actor the audit log records).
    pub async fn issue(&self, tenant: &str, role: Role, source: Option<&str>) -> IssuedToken {
        let tenant = TenantId::parse(tenant).unwrap();
        self.archive.catalog.ensure_tenant(&tenant).await.unwrap();
        let request = TokenRequest {
            role,
            name: Some(format!("test {}", role.as_str())),
            source: source.map(str::to_string),
            expires_in: None,
        };
        tokens::issue(
            self.archive.catalog.as_ref(),
            &Scope::operator(tenant),
            request,
        )
        .await
        .unwrap()
    }

    /// Archives as the scanning centre SCAN-LYON.
    pub async fn archive(&self, metadata: &Value, file: Part) -> reqwest::Response {
        self.archive_as(&self.scanner, metadata, file).await
    }

    pub async fn archive_as(&self, token: &str, metadata: &Value, file: Part) -> reqwest::Response {
        let form = Form::new()
            .text("metadata", metadata.to_string())
            .part("file", file);
        self.archive_form_as(token, form).await
    }

    pub async fn archive_form(&self, form: Form) -> reqwest::Response {
        self.archive_form_as(&self.scanner, form).await
    }

    pub async fn archive_form_as(&self, token: &str, form: Form) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/documents"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Archives and returns the 201 body.
    pub async fn archive_ok(&self, metadata: &Value, file: Part) -> Value {
        let response = self.archive(metadata, file).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// POST /api/v1/tokens as `token` with `body`.
    pub async fn request_token(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/tokens"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// GET as the reader (an agent who sees sensitive mail).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.get_with_as(token, path, &[]).await
    }

    /// GET with request headers (`Range`, `If-None-Match`, …).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.get_with_as(&self.reader, path, headers).await
    }

    pub async fn get_with_as(
        &self,
        token: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.client.get(self.url(path)).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    /// Searches as `token` and returns the 200 body.
    pub async fn search_as(&self, token: &str, query: &str) -> Value {
        let response = self.get_as(token, &format!("/api/v1/search?{query}")).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{query}: {body}");
        body
    }

    /// Searches as the reader, waiting until the index holds every change so far.
    pub async fn search(&self, query: &str) -> Value {
        let seq = self.latest_seq().await;
        self.search_as(&self.reader, &format!("min_seq={seq}&{query}"))
            .await
    }

    /// The catalog, as the server's own handle on it would be used.
    pub fn catalog(&self) -> &dyn ged::catalog::Catalog {
        self.archive.catalog.as_ref()
    }

    /// The catalog's latest change sequence number.
    pub async fn latest_seq(&self) -> i64 {
        self.archive.catalog.latest_seq().await.unwrap()
    }

    /// Audit entries of one action.
    pub async fn count_audit(&self, action: &str) -> i64 {
        self.count_rows(&format!("audit_log WHERE action = '{action}'"))
            .await
    }

    /// Rows in a catalog table (optionally followed by a WHERE clause).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let pool = catalog_pool(&self.data_dir).await;
        let count = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        count
    }

    /// Every file stored under the content store's root.
    pub fn stored_objects(&self) -> Vec<PathBuf> {
        files_under(&self.data_dir.join("objects"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // The app owns its folder: nothing starts on it again.
        if self._folder.is_some() {
            drop_postgres_database(&self.data_dir);
        }
    }
}

pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Opens a request dossier of category Facture as `token` (an agent).
pub async fn open_dossier(app: &TestApp, token: &str, reference: &str) {
    let response = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(token)
        .json(&json!({"reference": reference, "kind": "request", "category": "Facture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// Where the local content store keeps the object of this hash.
pub fn object_path(app: &TestApp, sha256: &str) -> PathBuf {
    app.data_dir
        .join("objects/sha256")
        .join(&sha256[0..2])
        .join(&sha256[2..4])
        .join(sha256)
}

/// Whether the answer to `request` fails before its body is complete.
pub async fn delivery_fails(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    }
}

/// The fields every error of a 422 body names, in order.
pub fn error_fields(body: &Value) -> Vec<&str> {
    body["error"]["details"]
        .as_array()
        .expect("a validation error lists its details")
        .iter()
        .map(|d| d["field"].as_str().expect("each detail names a field"))
        .collect()
}

/// A document's JSON without its text state, which moves on by itself in the background
/// (pending → done or failed): for comparing two reads of the same document.
pub fn without_text(document: &Value) -> Value {
    let mut document = document.clone();
    document.as_object_mut().expect("a document").remove("text");
    document
}

/// Metadata that passes validation.
pub fn metadata() -> Value {
    json!({
        "direction": "inbound",
        "channel": "postal",
        "source": "SCAN-LYON",
        "document_type": "RECLAMATION",
        "document_date": "2024-03-05",
        "received_at": "2024-03-07T09:30:00+01:00",
        "title": "Réclamation facture d'eau",
        "agent": "AG042",
        "sensitive": false,
        "individuals": [{
            "nir": "1 85 05 78 006 084 91",
            "client_number": "C-000123",
            "last_name": "LEFÈVRE",
            "first_name": "Anne",
            "birth_date": "1985-05-12",
            "role": "sender"
        }],
        "companies": [{"siret": "732 829 320 00074", "name": "Eaux de Lyon", "role": "employer"}]
    })
}

/// A small but well-formed PDF whose text makes its bytes unique.
pub fn pdf_bytes(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
         3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n\
         4 0 obj << /Length {} >> stream\n{stream}\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        stream.len()
    )
    .into_bytes()
}

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

pub fn pdf_part(text: &str) -> Part {
    Part::bytes(pdf_bytes(text))
        .file_name("courrier.pdf")
        .mime_str("application/pdf")
        .unwrap()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `ged serve` process of the binary under test, answering `/healthz`; killed on drop.
pub struct Served {
    pub process: std::process::Child,
    /// Where it listens: the port the system gave it, unless the caller named one.
    pub address: std::net::SocketAddr,
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Where servers of the tests listen: a port the system picks when the server binds, so no
/// other program can take it between a test choosing it and the server binding it.
pub const ANY_PORT: &str = "127.0.0.1:0";

/// `ged serve` on a data folder, listening on `listen` ([`ANY_PORT`], or the address of a
/// server it takes over from); returns once it answers.
pub async fn spawn_ged_serve(data_dir: &str, listen: &str, stdout: std::process::Stdio) -> Served {
    let mut command = ged_command(&["--data-dir", data_dir]);
    command
        .args(["serve", "--data-dir", data_dir])
        .stdout(stdout);
    start_serving(command, listen).await
}

/// Runs a `ged serve` command on `listen`, learns from its log where it listens (its "ged
/// serving" line) and waits until it answers.
pub async fn start_serving(mut command: std::process::Command, listen: &str) -> Served {
    command
        .args(["--listen", listen, "--log-format", "json"])
        .env("GED_LOG", "info,sqlx=warn")
        .stderr(std::process::Stdio::piped());
    let mut process = command.spawn().expect("ged serve starts");
    let log = process.stderr.take().expect("piped");
    let address = announced_address(log, "ged serve", |line| {
        let event: Value = serde_json::from_str(line).ok()?;
        if event["fields"]["message"] != "ged serving" {
            return None;
        }
        event["fields"]["address"].as_str()?.parse().ok()
    })
    .await;
    let mut served = Served { process, address };
    wait_healthy(&mut served).await;
    served
}

/// Reads a child's output until `announces` finds in a line the address the child listens
/// on. The output is read to its end on a thread of its own, so that the child never blocks
/// on a full pipe; with `TEST_LOG` set, it is shown.
pub async fn announced_address(
    output: impl std::io::Read + Send + 'static,
    program: &'static str,
    announces: fn(&str) -> Option<std::net::SocketAddr>,
) -> std::net::SocketAddr {
    use std::io::BufRead;
    let (found, address) = oneshot::channel();
    std::thread::spawn(move || {
        let show = std::env::var_os("TEST_LOG").is_some();
        let mut found = Some(found);
        let mut before = Vec::new();
        for line in std::io::BufReader::new(output)
            .lines()
            .map_while(Result::ok)
        {
            if show {
                eprintln!("{program}: {line}");
            }
            if found.is_none() {
                continue;
            }
            match announces(&line) {
                Some(address) => {
                    let _ = found.take().map(|found| found.send(Ok(address)));
                }
                None => before.push(line),
            }
        }
        if let Some(found) = found {
            let _ = found.send(Err(before.join("\n")));
        }
    });
    match tokio::time::timeout(std::time::Duration::from_secs(120), address).await {
        Ok(Ok(Ok(address))) => address,
        Ok(Ok(Err(output))) => panic!("{program} ended without listening:\n{output}"),
        Ok(Err(_)) => panic!("{program}: its output reader ended"),
        Err(_) => panic!("{program} did not say where it listens within 120 s"),
    }
}

/// Waits until the server answers `/healthz`.
async fn wait_healthy(served: &mut Served) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(response) = client.get(served.url("/healthz")).send().await
            && response.status() == 200
        {
            return;
        }
        if let Some(status) = served.process.try_wait().expect("ged serve's status") {
            panic!("ged serve exited ({status}) before answering; TEST_LOG=1 shows its log");
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("ged serve on {} did not become healthy", served.address);
}

/// A read-write pool on the data folder's catalog, for tests that inspect it or tamper with
/// it (SQL both backends read: `$1` parameters).
pub async fn catalog_pool(data_dir: &Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = catalog_url(data_dir)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("catalog.sqlite").display()));
    sqlx::AnyPool::connect(&url).await.expect("open catalog")
}

/// Removes one of the triggers that keep the audit log append-only, as someone with access to
/// the database could.
pub async fn drop_audit_trigger(pool: &sqlx::AnyPool, name: &str) {
    let statement = match crate::BACKEND {
        Backend::Sqlite => format!("DROP TRIGGER {name}"),
        Backend::Postgres => format!("DROP TRIGGER {name} ON audit_log"),
    };
    sqlx::query(&statement).execute(pool).await.unwrap();
}

/// The `ged` binary built for these tests, on the catalog of the data folder `args` name.
pub fn ged_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ged"));
    command
        .env_remove("GED_CONFIG")
        .env_remove("GED_CATALOG_URL");
    if let Some(url) = catalog_of_args(args) {
        command.env("GED_CATALOG_URL", url);
    }
    command
}

/// Runs the `ged` binary built for these tests.
pub fn ged(args: &[&str]) -> std::process::Output {
    ged_command(args).args(args).output().expect("ged runs")
}

/// Runs the `ged` binary without blocking the runtime (for tests whose server runs in-process).
pub async fn ged_async(args: &[&str]) -> std::process::Output {
    tokio::process::Command::from(ged_command(args))
        .args(args)
        .output()
        .await
        .expect("ged runs")
}

/// Issues a scanner token for the source SCAN-LYON with `ged token create` on a data folder.
pub fn ged_scanner_token(data_dir: &str) -> String {
    let output = ged(&[
        "token",
        "create",
        "--data-dir",
        data_dir,
        "--tenant",
        "default",
        "--role",
        "scanner",
        "--source",
        "SCAN-LYON",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}
