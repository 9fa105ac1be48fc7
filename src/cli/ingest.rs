//! `ged ingest DIR`: send a batch folder to a server through `batches::client` (which checks
//! everything locally first and uploads only what is missing), then print the server's report.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::batches::client::{self, BatchRefused, IngestOptions, IngestOutcome};
use crate::config::Settings;

/// `ged ingest DIR`.
#[derive(clap::Args)]
pub(super) struct IngestArgs {
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

pub(super) async fn run(args: IngestArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
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
        print_report(report, &outcome);
    }
    Ok(if outcome.rejected() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The totals, what was uploaded, and each rejected document's reasons.
fn print_report(report: &serde_json::Value, outcome: &IngestOutcome) {
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
