//! `ged config`: print the effective configuration, as a TOML file would give it (the
//! catalog's password hidden), to start a configuration file from.

use std::process::ExitCode;

use crate::config::Settings;

pub(super) fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    print!("{}", settings.to_toml());
    Ok(ExitCode::SUCCESS)
}
