//! `/api/v1/tokens`: an admin issues, lists and revokes its tenant's tokens.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tokens::{self, IssuedToken, TokenError, TokenRequest};
use super::{Caller, Permission, Role};
use crate::http::{ApiError, AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    role: Role,
    name: Option<String>,
    source: Option<String>,
    /// A duration: `90d`, `12h`.
    expires: Option<String>,
}

async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<CreateToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let scope = caller.require(Permission::ManageTokens)?;
    let Json(body) = body.map_err(|rejection| ApiError::invalid("body", rejection.body_text()))?;
    let request = TokenRequest {
        role: body.role,
        name: body.name,
        source: body.source,
        expires_in: body.expires,
    };
    let issued = tokens::issue(state.archive.catalog.as_ref(), &scope, request)
        .await
        .map_err(|error| match error {
            TokenError::Invalid(errors) => ApiError::Invalid(errors),
            TokenError::Catalog(error) => error.into(),
        })?;
    Ok((StatusCode::CREATED, Json(issued)))
}

async fn list_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let scope = caller.require(Permission::ManageTokens)?;
    let tokens = state.archive.catalog.tokens(Some(scope.tenant())).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let scope = caller.require(Permission::ManageTokens)?;
    if state.archive.catalog.revoke_token(&scope, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
