//! `ged reindex`: rebuild the search index from the catalog (the index is derived data), and
//! say how fast it went and how much memory it took.

use std::process::ExitCode;

use crate::config::Settings;

pub(super) async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    super::require_archive(&settings)?;
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
