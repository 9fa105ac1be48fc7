//! Opening the archive a configuration describes, and running the server on it.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::catalog::SqliteCatalog;
use crate::config::Settings;
use crate::content::ContentStore;
use crate::http::{self, AppState};
use crate::ingest::Archive;

/// Opens the catalog (applying migrations) and the content store.
pub async fn open_archive(settings: &Settings) -> anyhow::Result<Archive> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            settings.data_dir.display()
        )
    })?;
    let catalog = SqliteCatalog::open(&settings.catalog_path())
        .await
        .with_context(|| {
            format!(
                "cannot open the catalog {}",
                settings.catalog_path().display()
            )
        })?;
    let content = ContentStore::open_local(&settings.objects_dir(), &settings.staging_dir())
        .context("cannot open the content store")?;
    Ok(Archive {
        catalog: Arc::new(catalog),
        content,
    })
}

/// Runs the server on `listener` until `shutdown` resolves.
pub async fn run(
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let archive = open_archive(settings).await?;
    let removed = archive
        .content
        .clean_staging()
        .context("cannot clean the staging folder")?;
    if removed > 0 {
        tracing::info!(
            removed,
            "removed uploads left unfinished by the previous run"
        );
    }
    let state = AppState {
        archive,
        max_upload_bytes: settings.max_upload_bytes,
    };
    http::serve(listener, state, shutdown)
        .await
        .context("server failed")
}
