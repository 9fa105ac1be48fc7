//! `ged verify`: re-hash every stored object, check every document's content and the audit
//! chain; the exit status says whether anything is wrong, for a scheduled check.

use std::process::ExitCode;

use crate::config::Settings;

pub(super) async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    super::require_archive(&settings)?;
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
