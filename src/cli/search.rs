//! `ged search`: search the archive through a running server, with the same criteria as the
//! API (one flag per criterion), and print the answer as a table or as the API's JSON.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Settings;

/// `ged search`: each flag is the API criterion of the same name.
#[derive(clap::Args)]
pub(super) struct SearchArgs {
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

pub(super) async fn run(args: SearchArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
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
