//! The client view: `GET /api/v1/individuals/{nir or client number}` and
//! `GET /api/v1/companies/{siren or siret}` show a party as archived with its dossiers and
//! documents; `GET /api/v1/individuals/{ref}/export` streams a person's right-of-access zip.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ClientView, PartyKind, ReferenceKind, company_reference, individual_reference};
use crate::access::{Caller, Permission};
use crate::http::error::ErrorBody;
use crate::http::{ApiError, AppState};

const DEFAULT_DOCUMENTS: u32 = 100;
const MAX_DOCUMENTS: u32 = 1000;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(individual))
        .routes(routes!(export))
        .routes(routes!(company))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ViewQuery {
    /// Documents shown, newest first (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Everything about one person: the party as archived, their dossiers and documents.
#[utoipa::path(get, path = "/api/v1/individuals/{reference}", tag = "clients",
    params(("reference" = String, Path, description = "A NIR (key checked) or a client number"), ViewQuery),
    responses(
        (status = 200, body = ClientView),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A limit outside 1 to 1000", body = ErrorBody),
    ))]
async fn individual(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Result<Json<ClientView>, ApiError> {
    let (kind, value) = individual_reference(&reference);
    client_view(&state, &caller, PartyKind::Individual, kind, &value, query).await
}

/// Everything about one company: the party as archived, its dossiers and documents.
#[utoipa::path(get, path = "/api/v1/companies/{reference}", tag = "clients",
    params(("reference" = String, Path, description = "A SIREN or a SIRET"), ViewQuery),
    responses(
        (status = 200, body = ClientView),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Neither a SIREN nor a SIRET, or a limit outside 1 to 1000", body = ErrorBody),
    ))]
async fn company(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Result<Json<ClientView>, ApiError> {
    // The role is checked before the reference, so a refusal says nothing about the input.
    caller.require(Permission::ReadMetadata)?;
    let (kind, value) = company_reference(&reference)?;
    client_view(&state, &caller, PartyKind::Company, kind, &value, query).await
}

async fn client_view(
    state: &AppState,
    caller: &Caller,
    party_kind: PartyKind,
    kind: ReferenceKind,
    value: &str,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Result<Json<ClientView>, ApiError> {
    let scope = caller.require(Permission::ReadMetadata)?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_DOCUMENTS);
    if !(1..=MAX_DOCUMENTS).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be a number from 1 to {MAX_DOCUMENTS}"),
        ));
    }
    let view = state
        .archive
        .client_view(&scope, party_kind, kind, value, limit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// The right-of-access (RGPD) export: a zip of every document concerning the person that the
/// caller sees, with `index.json` and `index.csv`.
#[utoipa::path(get, path = "/api/v1/individuals/{reference}/export", tag = "clients",
    params(("reference" = String, Path, description = "A NIR (key checked) or a client number")),
    responses(
        (status = 200, content_type = "application/zip", body = Vec<u8>),
        (status = 404, body = ErrorBody),
    ))]
async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Permission::ReadContent)?;
    let (kind, value) = individual_reference(&reference);
    let export = state
        .archive
        .export_individual(&scope, kind, &value)
        .await?
        .ok_or(ApiError::NotFound)?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/zip")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", export.file_name),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from_stream(export.zip))
        .map_err(|e| ApiError::Internal(e.into()))
}
