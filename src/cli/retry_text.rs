//! `ged retry-text`: queue again the text extractions that failed, once OCR is installed or a
//! fix deployed; a running server takes them from the queue.

use std::process::ExitCode;

use crate::config::Settings;

pub(super) async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    super::require_archive(&settings)?;
    let catalog = crate::startup::open_catalog(&settings).await?;
    let queued = catalog.retry_failed_extractions().await?;
    println!("{queued} failed text extractions queued again");
    Ok(ExitCode::SUCCESS)
}
