//! `ged openapi`: print the OpenAPI document of the HTTP API (the same as
//! `GET /api/v1/openapi.json`), for client generators and checks without a running server.

use std::io::Write as _;
use std::process::ExitCode;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    let document = serde_json::to_string_pretty(&*crate::http::openapi::DOCUMENT)?;
    // A closed pipe (`ged openapi | head`) is an error to report, not a panic.
    writeln!(std::io::stdout().lock(), "{document}")?;
    Ok(ExitCode::SUCCESS)
}
