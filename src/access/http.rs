//! `/api/v1/tokens`: an admin issues, lists and revokes its tenant's tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tokens::TokenRecord;
use super::tokens::{self, IssuedToken, TokenError, TokenRequest};
use super::{Caller, Permission, Role};
use crate::http::error::{ErrorBody, json_body};
use crate::http::{ApiError, AppState};

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    role: Role,
    name: Option<String>,
    source: Option<String>,
    /// A duration: `90d`, `12h`.
    expires: Option<String>,
}

/// Issues a token of the admin's tenant; its secret is shown in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, body = IssuedToken),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<CreateToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let scope = caller.require(Permission::ManageTokens)?;
    let body = json_body(body)?;
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

#[derive(Serialize, utoipa::ToSchema)]
struct TokenList {
    tokens: Vec<TokenRecord>,
}

/// The tenant's tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses(
        (status = 200, body = TokenList),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
async fn list_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<TokenList>, ApiError> {
    let scope = caller.require(Permission::ManageTokens)?;
    let tokens = state.archive.catalog.tokens(Some(scope.tenant())).await?;
    Ok(Json(TokenList { tokens }))
}

/// Revokes a token of the tenant, effective on its next request.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "The token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such unrevoked token in the tenant", body = ErrorBody),
    ))]
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
