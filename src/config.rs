//! Configuration: defaults that run with nothing set, then an optional TOML file, then `GED_*`
//! environment variables, then command-line flags (the last two through clap, which reads a
//! flag's variable when the flag is absent). [`Settings::load`] lays them one over the other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::extraction::isolation::UntrustedFileLimits;

/// 256 MiB: a long scanned PDF, well above any letter.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The effective configuration. Unknown keys in the file are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Folder holding the embedded archive: catalog, content and index.
    pub data_dir: PathBuf,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    pub log_format: LogFormat,
    /// Run OCR on this server when Tesseract is installed; `false` leaves scans to other
    /// servers (or waiting: a document shows why its text is pending).
    pub ocr: bool,
    /// Where content is stored: `s3://bucket/prefix` on an S3-compatible store (endpoint,
    /// region and credentials from the AWS variables); unset, the `objects` folder of the
    /// data folder.
    pub store: Option<String>,
    /// The catalog: `postgres://user:password@host/database` on PostgreSQL (several servers
    /// may share it); unset, the SQLite file `catalog.sqlite` of the data folder.
    pub catalog: Option<String>,
    /// Seconds a client has to send a request's headers, counted from its first byte (or,
    /// on a kept-alive connection, from the end of the previous answer); then the connection
    /// is closed. A client that opens connections and sends headers slowly would otherwise
    /// hold them for ever.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request body may go without a byte; and past this long, a body slower than
    /// `body_min_bytes_per_second` is cut too (a byte every few seconds keeps no connection).
    pub body_read_timeout_seconds: u64,
    /// The slowest body accepted once `body_read_timeout_seconds` have passed: each byte
    /// received gives the body `1 / body_min_bytes_per_second` second more.
    pub body_min_bytes_per_second: u64,
    /// Limits on reading files from outside: the extraction process's memory and time, image
    /// sizes given to OCR, attachments split out of an email (docs/text-extraction.md).
    pub untrusted_files: UntrustedFileLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("ged-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            log_format: LogFormat::Text,
            ocr: true,
            store: None,
            catalog: None,
            header_read_timeout_seconds: 30,
            body_read_timeout_seconds: 60,
            body_min_bytes_per_second: 500,
            untrusted_files: UntrustedFileLimits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is invalid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The configuration's command-line flags (global to every subcommand), each also read from
/// its `GED_*` variable: the top layers of the configuration.
#[derive(Debug, Default, clap::Args)]
pub struct SettingsFlags {
    /// Configuration file (TOML); environment variables and flags override it.
    #[arg(long, global = true, env = "GED_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder holding the embedded archive (catalog, content, index).
    #[arg(long, global = true, env = "GED_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, env = "GED_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Address the server listens on.
    #[arg(long, global = true, env = "GED_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Largest accepted upload, in bytes.
    #[arg(long, global = true, env = "GED_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Run OCR when Tesseract is installed (`--ocr false` leaves scans to other servers).
    #[arg(long, global = true, env = "GED_OCR")]
    pub ocr: Option<bool>,
    /// Content on an S3-compatible store, `s3://bucket/prefix` (AWS_ENDPOINT, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment).
    #[arg(long, global = true, env = "GED_STORE")]
    pub store: Option<String>,
    /// Catalog on PostgreSQL, `postgres://user:password@host/database`; unset, the SQLite
    /// file of the data folder.
    #[arg(long, global = true, env = "GED_CATALOG_URL", hide_env_values = true)]
    pub catalog: Option<String>,
}

impl Settings {
    /// The effective configuration: the defaults, overlaid with the file `flags` names, then
    /// with every flag (or variable) given.
    pub fn load(flags: SettingsFlags) -> Result<Self, ConfigError> {
        let mut settings = Self::from_file(flags.config.as_deref())?;
        settings.overlay(flags);
        Ok(settings)
    }

    fn overlay(&mut self, flags: SettingsFlags) {
        let SettingsFlags {
            config: _,
            data_dir,
            log_format,
            listen,
            max_upload_bytes,
            ocr,
            store,
            catalog,
        } = flags;
        if let Some(data_dir) = data_dir {
            self.data_dir = data_dir;
        }
        if let Some(log_format) = log_format {
            self.log_format = log_format;
        }
        if let Some(listen) = listen {
            self.listen = listen;
        }
        if let Some(max_upload_bytes) = max_upload_bytes {
            self.max_upload_bytes = max_upload_bytes;
        }
        if let Some(ocr) = ocr {
            self.ocr = ocr;
        }
        if store.is_some() {
            self.store = store;
        }
        if catalog.is_some() {
            self.catalog = catalog;
        }
    }

    /// The defaults, overlaid with `file` when given.
    pub fn from_file(file: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = file else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: error.message().to_string(),
        })
    }

    /// The SQLite catalog of the embedded archive.
    pub fn catalog_path(&self) -> PathBuf {
        self.data_dir.join("catalog.sqlite")
    }

    /// Whether the configured archive does not exist yet: an embedded archive whose catalog
    /// file is missing (a PostgreSQL catalog is created by whoever runs the database).
    pub fn archive_missing(&self) -> bool {
        self.catalog.is_none() && !self.catalog_path().exists()
    }

    /// The catalog's location as it may be shown (logs, errors, `ged config`): a PostgreSQL
    /// URL without its password, the SQLite file's path otherwise.
    pub fn catalog_display(&self) -> String {
        match &self.catalog {
            Some(url) => redact_password(url),
            None => self.catalog_path().display().to_string(),
        }
    }

    /// Root of the local content store.
    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// Uploads too large for memory wait here until they are stored.
    pub fn staging_dir(&self) -> PathBuf {
        self.data_dir.join("staging")
    }

    /// The search index, derived from the catalog (safe to delete: it is rebuilt).
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }

    /// The settings as a TOML file would give them, without the catalog's password.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.catalog = self.catalog.as_deref().map(redact_password);
        toml::to_string(&shown).expect("settings serialise")
    }
}

/// `url` with its password replaced by `***`; a value that is not a URL with a host is hidden
/// whole (it may hold a password).
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            // libpq-style URLs may also carry it as a parameter.
            if parsed.query_pairs().any(|(name, _)| name == "password") {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(name, value)| {
                        let value = if name == "password" {
                            "***".into()
                        } else {
                            value
                        };
                        (name.into_owned(), value.into_owned())
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        _ => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_passwords_are_never_shown() {
        let settings = Settings {
            catalog: Some("postgres://ged:s3cret@db.example:5432/ged".into()),
            ..Settings::default()
        };
        assert_eq!(
            settings.catalog_display(),
            "postgres://ged:***@db.example:5432/ged"
        );
        assert!(!settings.to_toml().contains("s3cret"));
        assert_eq!(
            redact_password("postgres://ged@db/ged?sslmode=require&password=s3cret"),
            "postgres://ged@db/ged?sslmode=require&password=***"
        );
        assert_eq!(redact_password("ged:s3cret@db"), "(not a URL)");
    }

    #[test]
    fn file_values_overlay_defaults_and_unknown_keys_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("ged.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\n").unwrap();
        let settings = Settings::from_file(Some(&path)).unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);

        std::fs::write(&path, "listen_address = \"0.0.0.0:9000\"\n").unwrap();
        let error = Settings::from_file(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("listen_address"), "{error}");
    }

    #[test]
    fn flags_overlay_the_file_and_absent_flags_keep_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("ged.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nocr = false\n").unwrap();
        let settings = Settings::load(SettingsFlags {
            config: Some(path),
            data_dir: Some("elsewhere".into()),
            ocr: Some(true),
            ..SettingsFlags::default()
        })
        .unwrap();
        assert_eq!(settings.listen.port(), 9000, "the file's value stays");
        assert!(settings.ocr, "the flag wins over the file");
        assert_eq!(settings.data_dir, PathBuf::from("elsewhere"));
        assert_eq!(settings.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
    }
}
