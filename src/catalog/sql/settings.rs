//! The archive's secrets, settings and tenants in the catalog.

use async_trait::async_trait;

use super::dossiers::replace_categories;
use super::{Backend, begin_write};
use crate::access::TenantId;
use crate::catalog::{ArchiveSettings, CatalogError};
use crate::dates::now_timestamp;

#[async_trait]
impl ArchiveSettings for Backend {
    async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn archive_secret(&self, name: &str) -> Result<Vec<u8>, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM archive_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *transaction)
                .await?;
        let secret = match existing {
            Some(secret) => secret,
            None => {
                let mut secret = vec![0u8; 32];
                getrandom::fill(&mut secret).expect("the operating system provides randomness");
                sqlx::query("INSERT INTO archive_secrets (name, value) VALUES ($1, $2)")
                    .bind(name)
                    .bind(&secret)
                    .execute(&mut *transaction)
                    .await?;
                secret
            }
        };
        transaction.commit().await?;
        Ok(secret)
    }

    async fn bind_setting(&self, name: &str, value: &str) -> Result<String, CatalogError> {
        sqlx::query(
            "INSERT INTO archive_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM archive_settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.writer)
                .await?,
        )
    }

    async fn ensure_tenant(&self, tenant: &TenantId) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let created = sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(now_timestamp())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if created {
            let categories: Vec<String> = crate::dossiers::DEFAULT_CATEGORIES
                .iter()
                .map(|c| c.to_string())
                .collect();
            replace_categories(&mut transaction, tenant.as_str(), &categories).await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}
