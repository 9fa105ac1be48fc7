//! Logging set-up: to standard error (standard output is the commands' own), filtered by
//! `GED_LOG` when set, as text or one JSON object per line.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; `default_filter` applies when `GED_LOG` is unset or invalid.
pub(super) fn init(format: LogFormat, default_filter: &str) {
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
