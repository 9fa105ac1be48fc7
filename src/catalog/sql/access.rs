//! Tokens and web sessions in the catalog.

use async_trait::async_trait;

use super::audit::append_audit;
use super::{Backend, begin_write};
use crate::access::TokenRecord;
use crate::access::{Role, Scope, TenantId};
use crate::catalog::{AccessStore, CatalogError};
use crate::dates::now_timestamp;

#[async_trait]
impl AccessStore for Backend {
    async fn insert_token(
        &self,
        scope: &Scope,
        token: &TokenRecord,
        secret_sha256: &str,
    ) -> Result<(), CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, role, name, source, secret_sha256, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token.id)
        .bind(token.tenant.as_str())
        .bind(token.role.as_str())
        .bind(&token.name)
        .bind(&token.source)
        .bind(secret_sha256)
        .bind(&token.created_at)
        .bind(&token.expires_at)
        .execute(&mut *transaction)
        .await?;
        let details = serde_json::json!({
            "token_id": token.id,
            "role": token.role.as_str(),
            "source": token.source,
            "expires_at": token.expires_at,
        });
        append_audit(
            &mut transaction,
            scope,
            "token.created",
            None,
            &details.to_string(),
            &token.created_at,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn token_by_secret_hash(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<TokenRecord>, CatalogError> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_sha256 = $1"
        ))
        .bind(secret_sha256)
        .fetch_optional(&self.readers)
        .await?;
        row.map(TokenRow::into_record).transpose()
    }

    async fn revoke_token(&self, scope: &Scope, id: &str) -> Result<bool, CatalogError> {
        let mut transaction = begin_write(&self.writer).await?;
        let now = now_timestamp();
        let revoked = sqlx::query(
            "UPDATE tokens SET revoked_at = $3 WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(scope.tenant().as_str())
        .bind(&now)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if revoked {
            let details = serde_json::json!({ "token_id": id });
            append_audit(
                &mut transaction,
                scope,
                "token.revoked",
                None,
                &details.to_string(),
                &now,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(revoked)
    }

    async fn tokens(&self, tenant: Option<&TenantId>) -> Result<Vec<TokenRecord>, CatalogError> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, created_at"
        ))
        .bind(tenant.map(TenantId::as_str))
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    async fn open_session(
        &self,
        token_id: &str,
        session_sha256: &str,
        csrf: &str,
        expires_at: &str,
    ) -> Result<(), CatalogError> {
        let now = now_timestamp();
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
            .bind(&now)
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (id_sha256, token_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $5, $4)",
        )
        .bind(session_sha256)
        .bind(token_id)
        .bind(csrf)
        .bind(expires_at)
        .bind(&now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        session_sha256: &str,
        now: &str,
    ) -> Result<Option<(TokenRecord, String)>, CatalogError> {
        #[derive(sqlx::FromRow)]
        struct SessionRow {
            csrf: String,
            #[sqlx(flatten)]
            token: TokenRow,
        }
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT s.csrf, {} FROM ui_sessions s JOIN tokens t ON t.id = s.token_id \
             WHERE s.id_sha256 = $1 AND s.expires_at > $2",
            TOKEN_COLUMNS
                .split(", ")
                .map(|column| format!("t.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(session_sha256)
        .bind(now)
        .fetch_optional(&self.readers)
        .await?;
        row.map(|row| Ok((row.token.into_record()?, row.csrf)))
            .transpose()
    }

    async fn close_session(&self, session_sha256: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM ui_sessions WHERE id_sha256 = $1")
            .bind(session_sha256)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

const TOKEN_COLUMNS: &str = "id, tenant_id, role, name, source, created_at, expires_at, revoked_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    tenant_id: String,
    role: String,
    name: Option<String>,
    source: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

impl TokenRow {
    fn into_record(self) -> Result<TokenRecord, CatalogError> {
        Ok(TokenRecord {
            tenant: TenantId::parse(&self.tenant_id).map_err(CatalogError::Corrupt)?,
            role: Role::parse(&self.role)
                .ok_or_else(|| CatalogError::Corrupt(format!("token role {}", self.role)))?,
            id: self.id,
            name: self.name,
            source: self.source,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}
