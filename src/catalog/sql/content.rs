//! Content in the catalog: which tenant uploaded which bytes, and where each document's
//! content should be.

use std::collections::HashSet;

use async_trait::async_trait;

use super::{Backend, Pool, json_rows};
use crate::access::Scope;
use crate::catalog::{CatalogError, ContentRecords, ContentReference};
use crate::dates::now_timestamp;

#[async_trait]
impl ContentRecords for Backend {
    async fn record_blob_uploads(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<(), CatalogError> {
        let tenant = scope.tenant().as_str();
        let uploads = sha256s
            .iter()
            .map(|sha256| (tenant.to_string(), sha256.to_string()))
            .collect();
        self.record_blob_uploads_as_backend_prefers(uploads).await
    }

    async fn content_recorded(&self, sha256: &str) -> Result<bool, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1) \
             OR EXISTS (SELECT 1 FROM tenant_blobs WHERE sha256 = $1) \
             OR EXISTS (SELECT 1 FROM documents WHERE sha256 = $1)",
        )
        .bind(sha256)
        .fetch_one(&self.readers)
        .await?)
    }

    async fn blobs_held(
        &self,
        scope: &Scope,
        sha256s: &[&str],
    ) -> Result<HashSet<String>, CatalogError> {
        let hashes: Vec<[&str; 1]> = sha256s.iter().map(|sha256| [*sha256]).collect();
        let hashes = serde_json::to_string(&hashes).expect("strings serialise");
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT j.value ->> 0 FROM {} WHERE \
             EXISTS (SELECT 1 FROM tenant_blobs WHERE tenant_id = $1 AND sha256 = j.value ->> 0) \
             OR EXISTS (SELECT 1 FROM documents WHERE tenant_id = $1 AND sha256 = j.value ->> 0)",
            json_rows(2)
        ))
        .bind(scope.tenant().as_str())
        .bind(hashes)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn content_references(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ContentReference>, CatalogError> {
        let rows: Vec<ContentReferenceRow> = sqlx::query_as(
            "SELECT id, sha256, size FROM documents WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(ContentReference::from).collect())
    }
}

/// Where a document's content should be, as stored.
#[derive(sqlx::FromRow)]
struct ContentReferenceRow {
    id: String,
    sha256: String,
    size: i64,
}

impl From<ContentReferenceRow> for ContentReference {
    fn from(row: ContentReferenceRow) -> Self {
        Self {
            id: row.id,
            sha256: row.sha256,
            size: row.size,
        }
    }
}

/// Records that each tenant uploaded each content hash (`(tenant, sha256)` pairs), in one
/// statement: concurrent uploads on SQLite share this commit.
pub(in crate::catalog) async fn record_blob_uploads(
    writer: &Pool,
    uploads: &[(String, String)],
) -> Result<(), CatalogError> {
    let pairs = serde_json::to_string(uploads).expect("string pairs serialise");
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
    sqlx::query(&format!(
        "INSERT INTO tenant_blobs (tenant_id, sha256, uploaded_at) \
         SELECT value ->> 0, value ->> 1, $2 FROM {} WHERE true \
         ON CONFLICT (tenant_id, sha256) DO NOTHING",
        json_rows(1)
    ))
    .bind(pairs)
    .bind(now_timestamp())
    .execute(writer)
    .await?;
    Ok(())
}
