//! `ged bench search`: the search index against SQLite (indexed columns + FTS5) on the same
//! synthetic archive, five classes of queries, each answering total + facets + first page.

use std::path::PathBuf;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use super::percentiles;
use super::synthetic::{Synthetic, WORDS, generate};
use crate::access::{Caller, DEFAULT_TENANT, Permission, Role, Scope, TenantId};
use crate::identifiers::{Nir, Siren};
use crate::index::{SearchIndex, SearchRequest};

/// What one class of queries measured on one engine.
struct Measured {
    p50: f64,
    p99: f64,
    per_second: f64,
    mean_total: f64,
    /// The fewest documents one query found.
    fewest: u64,
}

/// One query, as both engines receive it.
#[derive(Clone)]
enum Probe {
    Nir(String),
    Siren(String),
    CompanyTypeDates {
        siren: String,
        document_type: String,
        from: String,
        to: String,
    },
    NameBirthDate {
        last_name: String,
        birth_date: String,
    },
    FullText(String),
}

const CLASSES: [&str; 5] = [
    "by NIR",
    "by SIREN",
    "company + type + dates",
    "name + birth date",
    "full text",
];

pub struct Options {
    pub documents: usize,
    pub queries: usize,
    pub data_dir: Option<PathBuf>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(|| temporary.path().join("bench"));
    let settings = crate::config::Settings {
        data_dir: data_dir.clone(),
        ..Default::default()
    };
    anyhow::ensure!(
        !settings.catalog_path().exists(),
        "{} already holds an archive",
        data_dir.display()
    );
    println!(
        "ged bench search: {} documents, {} queries per class, in {}",
        options.documents,
        options.queries,
        data_dir.display()
    );

    crate::startup::open_archive(&settings).await?; // creates the catalog with its migrations
    let mut connection = SqliteConnection::connect_with(
        &SqliteConnectOptions::new().filename(settings.catalog_path()),
    )
    .await?;
    let started = Instant::now();
    let synthetic = generate(&mut connection, options.documents, 42).await?;
    println!(
        "generated {} documents, {} persons, {} companies in {:.1} s",
        options.documents,
        synthetic.persons.len(),
        synthetic.companies.len(),
        started.elapsed().as_secs_f64()
    );

    // The index is built by `ged reindex` in its own process, so its memory is its own.
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["reindex", "--data-dir"])
        .arg(&data_dir)
        .env_remove("GED_CONFIG")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "ged reindex failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reindex_line = String::from_utf8_lossy(&output.stdout).trim().to_string();
    println!("index build: {reindex_line}");

    let started = Instant::now();
    prepare_baseline(&mut connection).await?;
    println!(
        "baseline (SQLite indexes + FTS5) built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let index = SearchIndex::open_reader(&settings.index_dir())?;
    let scope = Caller {
        token_id: "bench".into(),
        tenant: TenantId::parse(DEFAULT_TENANT).expect("valid"),
        role: Role::AgentSensitive,
        source: None,
    }
    .require(Permission::Search)?;
    let mut rng = SmallRng::seed_from_u64(7);
    println!();
    println!(
        "{:<24} | {:>9} {:>9} {:>8} | {:>9} {:>9} {:>8} | {:>8} | {:>10}",
        "class",
        "ged p50",
        "ged p99",
        "ged q/s",
        "SQL p50",
        "SQL p99",
        "SQL q/s",
        "p99 gain",
        "mean total"
    );
    println!("{}", "-".repeat(118));
    for (class, name) in CLASSES.iter().enumerate() {
        let probes: Vec<Probe> = (0..options.queries)
            .map(|_| draw(&mut rng, &synthetic, class))
            .collect();
        // One untimed pass each warms caches the way a running server's are warm.
        measure_index(&index, &scope, &probes[..probes.len().min(5)])?;
        measure_sql(&mut connection, &probes[..probes.len().min(5)]).await?;
        let ged = measure_index(&index, &scope, &probes)?;
        let sql = measure_sql(&mut connection, &probes).await?;
        // These queries name a party of an archived document: a query that finds nothing
        // would time an index that lost documents.
        if matches!(class, 0 | 1 | 3) {
            anyhow::ensure!(
                ged.fewest > 0 && sql.fewest > 0,
                "a {name} query drawn from an archived document found nothing (ged {}, SQL {})",
                ged.fewest,
                sql.fewest
            );
        }
        println!(
            "{:<24} | {:>7.2}ms {:>7.2}ms {:>8.0} | {:>7.2}ms {:>7.2}ms {:>8.0} | {:>7.1}× | {:>10.0}",
            name,
            ged.p50,
            ged.p99,
            ged.per_second,
            sql.p50,
            sql.p99,
            sql.per_second,
            sql.p99 / ged.p99.max(f64::EPSILON),
            ged.mean_total
        );
        if (ged.mean_total - sql.mean_total).abs() > ged.mean_total * 0.2 + 1.0 && class != 4 {
            println!(
                "  note: totals differ (ged {:.0}, SQL {:.0})",
                ged.mean_total, sql.mean_total
            );
        }
    }
    println!();
    // At most 20 documents: each waits for a commit of the index (a short timer).
    let freshness = measure_freshness(&settings, options.queries.min(20)).await?;
    println!(
        "freshness (archived over HTTP until found by a search without min_seq, {} documents): p50 {:.0} ms, max {:.0} ms",
        freshness.len(),
        freshness[freshness.len() / 2],
        freshness[freshness.len() - 1]
    );
    println!();
    println!(
        "targets: identifier searches p99 < 5 ms; full text p99 < 50 ms; no class slower than SQLite;"
    );
    println!(
        "         large result sets ≥ 3× faster; index build ≥ 50,000 documents/s; reindex memory < 512 MiB"
    );
    drop(temporary);
    Ok(())
}

/// Starts the real server on the benchmark's archive, archives documents one by one over HTTP
/// and measures how long each takes to be found by a search that does not wait (no `min_seq`).
/// Returns the latencies in milliseconds, sorted.
async fn measure_freshness(
    settings: &crate::config::Settings,
    count: usize,
) -> anyhow::Result<Vec<f64>> {
    use crate::access::tokens::{TokenRequest, issue};
    let archive = crate::startup::open_archive(settings).await?;
    let operator = Scope::operator(TenantId::parse(DEFAULT_TENANT).expect("valid"));
    let token = |role, source: Option<&str>| TokenRequest {
        role,
        name: Some("bench".into()),
        source: source.map(str::to_string),
        expires_in: Some("1h".into()),
    };
    let scanner = issue(
        archive.catalog.as_ref(),
        &operator,
        token(Role::Scanner, Some("SRC-0")),
    )
    .await?
    .token;
    let agent = issue(
        archive.catalog.as_ref(),
        &operator,
        token(Role::Agent, None),
    )
    .await?
    .token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_settings = settings.clone();
    let server = tokio::spawn(async move {
        crate::startup::run(&server_settings, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let word = format!("fraicheur{n}x{}", std::process::id());
        let metadata = serde_json::json!({
            "direction": "inbound", "channel": "postal", "source": "SRC-0",
            "document_type": "TYPE-00", "document_date": "2024-01-15", "title": word,
        });
        let pdf = format!("%PDF-1.4\n% {word}\n%%EOF\n").into_bytes();
        // Retried until the server (opening a large index) answers.
        let started = loop {
            let form = reqwest::multipart::Form::new()
                .text("metadata", metadata.to_string())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(pdf.clone()).file_name("bench.pdf"),
                );
            let begun = Instant::now();
            let response = client
                .post(format!("{address}/api/v1/documents"))
                .bearer_auth(&scanner)
                .multipart(form)
                .send()
                .await;
            match response {
                Ok(response) if response.status() == 201 => break begun,
                Ok(response) => anyhow::bail!("archiving failed: {}", response.status()),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        loop {
            let found: serde_json::Value = client
                .get(format!("{address}/api/v1/search?q={word}&limit=1"))
                .bearer_auth(&agent)
                .send()
                .await?
                .json()
                .await?;
            if found["total"].as_u64() == Some(1) {
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(
                started.elapsed().as_secs() < 30,
                "document not found after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let _ = stop.send(());
    server.await??;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// Draws query parameters the way agents ask: parties weighted by their number of documents.
fn draw(rng: &mut SmallRng, synthetic: &Synthetic, class: usize) -> Probe {
    let person = |rng: &mut SmallRng| loop {
        let p = synthetic.document_person[rng.random_range(0..synthetic.document_person.len())];
        if p != u32::MAX {
            return &synthetic.persons[p as usize];
        }
    };
    let company = |rng: &mut SmallRng| loop {
        let c = synthetic.document_company[rng.random_range(0..synthetic.document_company.len())];
        if c != u32::MAX {
            return &synthetic.companies[c as usize];
        }
    };
    match class {
        0 => Probe::Nir(person(rng).nir.clone()),
        1 => Probe::Siren(company(rng).siren.clone()),
        2 => {
            let year = rng.random_range(2016..2024);
            Probe::CompanyTypeDates {
                siren: company(rng).siren.clone(),
                document_type: synthetic.document_types[rng.random_range(0..5)].clone(),
                from: format!("{year}-01-01"),
                to: format!("{}-12-31", year + 2),
            }
        }
        3 => {
            let person = person(rng);
            Probe::NameBirthDate {
                last_name: person.last_name.to_string(),
                birth_date: person.birth_date.clone(),
            }
        }
        _ => {
            let words = rng.random_range(1..3);
            Probe::FullText(
                (0..words)
                    .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
    }
}

fn request(probe: &Probe) -> SearchRequest {
    let mut request = SearchRequest {
        limit: 20,
        ..Default::default()
    };
    match probe {
        Probe::Nir(nir) => request.nir = Nir::parse(nir).ok(),
        Probe::Siren(siren) => request.siren = Siren::parse(siren).ok(),
        Probe::CompanyTypeDates {
            siren,
            document_type,
            from,
            to,
        } => {
            request.siren = Siren::parse(siren).ok();
            request.document_types = vec![document_type.clone()];
            request.from = crate::dates::parse_date(from).ok();
            request.to = crate::dates::parse_date(to).ok();
        }
        Probe::NameBirthDate {
            last_name,
            birth_date,
        } => {
            request.name = Some(last_name.clone());
            request.birth_date = crate::dates::parse_date(birth_date).ok();
        }
        Probe::FullText(words) => request.q = Some(words.clone()),
    }
    request
}

/// The figures of one class, from each query's latency and number of documents found.
fn summarise(mut latencies: Vec<f64>, found: &[u64], elapsed: f64) -> Measured {
    let count = latencies.len().max(1) as f64;
    let (p50, p99) = percentiles(&mut latencies);
    Measured {
        p50,
        p99,
        per_second: count / elapsed.max(f64::EPSILON),
        mean_total: found.iter().sum::<u64>() as f64 / count,
        fewest: found.iter().copied().min().unwrap_or(0),
    }
}

fn measure_index(index: &SearchIndex, scope: &Scope, probes: &[Probe]) -> anyhow::Result<Measured> {
    let mut latencies = Vec::with_capacity(probes.len());
    let mut found = Vec::with_capacity(probes.len());
    let started = Instant::now();
    for probe in probes {
        let request = request(probe);
        let begun = Instant::now();
        let results = index.search(scope, &request)?;
        latencies.push(begun.elapsed().as_secs_f64() * 1000.0);
        found.push(results.total);
    }
    Ok(summarise(
        latencies,
        &found,
        started.elapsed().as_secs_f64(),
    ))
}

/// The indexes and full-text table a careful SQL implementation would add for these queries.
async fn prepare_baseline(connection: &mut SqliteConnection) -> anyhow::Result<()> {
    for statement in [
        "CREATE INDEX IF NOT EXISTS bench_documents_date ON documents (tenant_id, document_date, archived_seq)",
        "CREATE INDEX IF NOT EXISTS bench_documents_type ON documents (tenant_id, document_type, document_date)",
        "CREATE INDEX IF NOT EXISTS bench_parties_name ON parties (tenant_id, last_name COLLATE NOCASE, birth_date)",
        "CREATE INDEX IF NOT EXISTS bench_document_parties ON document_parties (party_id, document_id)",
        "CREATE VIRTUAL TABLE IF NOT EXISTS bench_fts USING fts5 (title, text, tokenize = 'unicode61 remove_diacritics 2')",
        "INSERT INTO bench_fts (rowid, title, text) SELECT d.rowid, d.title, t.text FROM documents d \
         LEFT JOIN document_texts t ON t.document_id = d.id",
        "ANALYZE",
    ] {
        sqlx::query(statement).execute(&mut *connection).await?;
    }
    Ok(())
}

/// The WHERE clause of a probe over `documents d`, and its parameters.
fn sql_filter(probe: &Probe) -> (String, Vec<String>) {
    let party = |kind: &str| {
        format!(
            "d.id IN (SELECT dp.document_id FROM party_references r JOIN document_parties dp ON dp.party_id = r.party_id \
             WHERE r.tenant_id = 'default' AND r.kind = '{kind}' AND r.value = ?)"
        )
    };
    let scope = "d.tenant_id = 'default'";
    match probe {
        Probe::Nir(nir) => (format!("{scope} AND {}", party("nir")), vec![nir.clone()]),
        Probe::Siren(siren) => (
            format!("{scope} AND {}", party("siren")),
            vec![siren.clone()],
        ),
        Probe::CompanyTypeDates {
            siren,
            document_type,
            from,
            to,
        } => (
            format!(
                "{scope} AND {} AND d.document_type = ? AND d.document_date BETWEEN ? AND ?",
                party("siren")
            ),
            vec![
                siren.clone(),
                document_type.clone(),
                from.clone(),
                to.clone(),
            ],
        ),
        Probe::NameBirthDate {
            last_name,
            birth_date,
        } => (
            format!(
                "{scope} AND d.id IN (SELECT dp.document_id FROM parties p JOIN document_parties dp ON dp.party_id = p.id \
                 WHERE p.tenant_id = 'default' AND p.last_name = ? COLLATE NOCASE AND p.birth_date = ?)"
            ),
            vec![last_name.clone(), birth_date.clone()],
        ),
        Probe::FullText(words) => (
            format!("{scope} AND d.rowid IN (SELECT rowid FROM bench_fts WHERE bench_fts MATCH ?)"),
            vec![
                words
                    .split_whitespace()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
        ),
    }
}

/// Total, four facet counts and the first page with its parties: what the API answers.
async fn measure_sql(
    connection: &mut SqliteConnection,
    probes: &[Probe],
) -> anyhow::Result<Measured> {
    let mut latencies = Vec::with_capacity(probes.len());
    let mut found = Vec::with_capacity(probes.len());
    let started = Instant::now();
    for probe in probes {
        let (filter, parameters) = sql_filter(probe);
        let begun = Instant::now();
        let total = fetch_pairs(
            connection,
            &format!("SELECT 'total', COUNT(*) FROM documents d WHERE {filter}"),
            &parameters,
        )
        .await?;
        found.push(total.first().map_or(0, |(_, count)| *count as u64));
        for facet in [
            "d.document_type",
            "d.source",
            "d.direction",
            "substr(d.document_date, 1, 4)",
        ] {
            let sql =
                format!("SELECT {facet}, COUNT(*) FROM documents d WHERE {filter} GROUP BY 1");
            fetch_pairs(connection, &sql, &parameters).await?;
        }
        let sql = format!(
            "SELECT d.id, d.archived_seq FROM documents d WHERE {filter} \
             ORDER BY d.document_date DESC, d.archived_seq DESC LIMIT 20"
        );
        let page = fetch_pairs(connection, &sql, &parameters).await?;
        if !page.is_empty() {
            let placeholders = vec!["?"; page.len()].join(", ");
            let sql = format!(
                "SELECT dp.document_id, p.id FROM document_parties dp JOIN parties p ON p.id = dp.party_id \
                 WHERE dp.document_id IN ({placeholders})"
            );
            let ids: Vec<String> = page.into_iter().map(|(id, _)| id).collect();
            fetch_pairs(connection, &sql, &ids).await?;
        }
        latencies.push(begun.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(summarise(
        latencies,
        &found,
        started.elapsed().as_secs_f64(),
    ))
}

async fn fetch_pairs(
    connection: &mut SqliteConnection,
    sql: &str,
    parameters: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut query = sqlx::query_as::<_, (String, i64)>(sql);
    for parameter in parameters {
        query = query.bind(parameter);
    }
    query.fetch_all(connection).await
}
