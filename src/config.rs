//! Configuration: defaults that run with nothing set, then an optional TOML file, then `GED_*`
//! environment variables, then command-line flags (the last two through clap).

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

impl Settings {
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
}
