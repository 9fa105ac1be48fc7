//! Opening the archive a configuration describes, and running the server on it.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::access::tokens::{self, TokenRequest};
use crate::access::{DEFAULT_TENANT, Role, Scope, TenantId};
use crate::archive::Archive;
use crate::audit::IdentifierHasher;
use crate::catalog::{Catalog, PostgresCatalog, SqliteCatalog};
use crate::config::Settings;
use crate::content::ContentStore;
use crate::http::{self, AppState};

/// Opens the catalog (applying migrations) and the content store.
pub async fn open_archive(settings: &Settings) -> anyhow::Result<Archive> {
    let catalog = open_catalog(settings).await?;
    // The content stays where the archive put it first: a server started without its
    // `--store` (a lost variable) must not come up reporting every document missing.
    let location = match (&settings.store, &settings.catalog) {
        (Some(url), _) => url.clone(),
        (None, None) => LOCAL_STORE.to_string(),
        // A catalog other servers may share, with the content on this server's disk: only
        // this folder holds it, and a second node elsewhere must not start on the catalog.
        (None, Some(_)) => {
            let objects = std::path::absolute(settings.objects_dir())
                .context("cannot resolve the content folder")?;
            format!("{LOCAL_STORE}:{}", objects.display())
        }
    };
    let location = location.as_str();
    let bound = catalog.bind_setting("content_store", location).await?;
    if bound != location {
        let how = if bound == LOCAL_STORE {
            "without --store".to_string()
        } else if let Some(folder) = bound.strip_prefix("local:") {
            format!("without --store, on the server whose content folder is {folder}")
        } else {
            format!("with --store {bound}")
        };
        anyhow::bail!(
            "the archive of the catalog {} keeps its content in {bound}, not {location}: \
             start it {how}",
            settings.catalog_display()
        );
    }
    let content = match &settings.store {
        Some(url) => ContentStore::open_s3(url, &settings.staging_dir()),
        None => ContentStore::open_local(&settings.objects_dir(), &settings.staging_dir()),
    }
    .context("cannot open the content store")?;
    let identifiers = IdentifierHasher::new(&catalog.archive_secret("identifier_hmac_key").await?);
    Ok(Archive {
        catalog,
        content,
        identifiers,
        max_email_attachments: settings.untrusted_files.max_email_attachments,
    })
}

/// The content store of an archive started without `--store`: its data folder.
const LOCAL_STORE: &str = "local";

/// The catalog alone, for the commands that never touch content (tokens, reindex).
pub async fn open_catalog(settings: &Settings) -> anyhow::Result<Arc<dyn Catalog>> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            settings.data_dir.display()
        )
    })?;
    let catalog: Arc<dyn Catalog> = match &settings.catalog {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                anyhow::bail!(
                    "catalog: {} is not a postgres:// URL (leave it unset for the SQLite file)",
                    settings.catalog_display()
                );
            }
            Arc::new(PostgresCatalog::open(url).await.with_context(|| {
                format!("cannot open the catalog {}", settings.catalog_display())
            })?)
        }
        None => Arc::new(
            SqliteCatalog::open(&settings.catalog_path())
                .await
                .with_context(|| {
                    format!("cannot open the catalog {}", settings.catalog_display())
                })?,
        ),
    };
    Ok(catalog)
}

/// This server's id among the nodes sharing a catalog: random, made at its first start and
/// kept in its data folder, so a restarted node knows its own extraction leases.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    let id = crate::access::session::random_hex();
    let staged = data_dir.join("node-id.new");
    std::fs::write(&staged, &id)
        .and_then(|()| std::fs::rename(&staged, &path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// On an archive without any token, issues an admin token for the default tenant and prints
/// it, once, on standard output (never in the logs): the way in for a newcomer.
async fn issue_first_admin_token(archive: &Archive) -> anyhow::Result<()> {
    if !archive.catalog.tokens(None).await?.is_empty() {
        return Ok(());
    }
    // Nodes starting together on a new shared catalog: the one whose claim is recorded first
    // issues the token, the others none.
    let claim = crate::access::session::random_hex();
    if archive
        .catalog
        .bind_setting("first_admin_token", &claim)
        .await?
        != claim
    {
        return Ok(());
    }
    let tenant = TenantId::parse(DEFAULT_TENANT).expect("the default tenant id is valid");
    let request = TokenRequest {
        role: Role::Admin,
        name: Some("first admin (created at first start)".into()),
        source: None,
        expires_in: None,
    };
    let issued = tokens::issue(archive.catalog.as_ref(), &Scope::operator(tenant), request)
        .await
        .context("cannot issue the first admin token")?;
    println!(
        "First start: an admin token for the tenant \"{DEFAULT_TENANT}\" was created. \
         It is shown this once; keep it:\n{}\n\
         Issue the other tokens with it (POST /api/v1/tokens) or with \
         `ged token create --tenant {DEFAULT_TENANT} --role agent`.",
        issued.token
    );
    Ok(())
}

/// Runs the server on `listener` until `shutdown` resolves.
pub async fn run(
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let archive = open_archive(settings).await?;
    issue_first_admin_token(&archive).await?;
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
    let (index, writer) =
        crate::index::writer::start(&settings.index_dir(), archive.catalog.clone())
            .await
            .context("cannot open the search index")?;
    let (extraction, extractor) = crate::extraction::worker::start(
        archive.clone(),
        settings.staging_dir(),
        settings.ocr,
        settings.untrusted_files.clone(),
        node_id(&settings.data_dir)?,
    )
    .await
    .context("cannot start the text extraction worker")?;
    let state = AppState {
        archive,
        index,
        extraction,
        max_upload_bytes: settings.max_upload_bytes,
    };
    let timeouts = http::connections::ReadTimeouts::from_settings(settings);
    let served = http::serve(listener, state, timeouts, shutdown)
        .await
        .context("server failed");
    extractor.stop().await;
    // The writer's last commit lands before the process ends.
    writer.stop().await;
    served
}
