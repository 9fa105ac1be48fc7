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
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Party, PartyKind, ReferenceKind};
use crate::access::{Caller, Permission, Scope};
use crate::documents::model::Document;
use crate::dossiers::Dossier;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, AppState};
use crate::identifiers::{Nir, Siren, Siret};

const DEFAULT_DOCUMENTS: u32 = 100;
const MAX_DOCUMENTS: u32 = 1000;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(individual))
        .routes(routes!(export))
        .routes(routes!(company))
}

/// A NIR when the text is one (its key checked), a client number otherwise.
pub fn individual_reference(text: &str) -> (ReferenceKind, String) {
    match Nir::parse(text) {
        Ok(nir) => (ReferenceKind::Nir, nir.as_str().to_string()),
        Err(_) => (ReferenceKind::ClientNumber, text.trim().to_string()),
    }
}

/// A SIREN (9 digits) or SIRET (14), spaces and dots allowed; anything else is refused.
pub fn company_reference(text: &str) -> Result<(ReferenceKind, String), ApiError> {
    if let Ok(siren) = Siren::parse(text) {
        return Ok((ReferenceKind::Siren, siren.as_str().to_string()));
    }
    Siret::parse(text)
        .map(|siret| (ReferenceKind::Siret, siret.as_str().to_string()))
        .map_err(|e| {
            ApiError::invalid(
                "reference",
                format!("is neither a SIREN nor a SIRET: {}", e.0),
            )
        })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ViewQuery {
    /// Documents shown, newest first (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub party: Party,
    /// Open dossiers first, then the newest opened.
    pub dossiers: Vec<Dossier>,
    /// The newest documents first, at most `limit`.
    pub documents: Vec<Document>,
    /// Every document concerning the party that the caller sees.
    pub documents_total: u64,
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

/// The party of `kind` a reference designates in the scope, or 404.
async fn find_party(
    state: &AppState,
    scope: &Scope,
    party_kind: PartyKind,
    kind: ReferenceKind,
    value: &str,
) -> Result<Party, ApiError> {
    state
        .archive
        .catalog
        .party(scope, kind, value)
        .await?
        .filter(|party| party.kind == party_kind)
        .ok_or(ApiError::NotFound)
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
    Ok(Json(
        load_client_view(state, &scope, party_kind, kind, value, limit).await?,
    ))
}

/// A party, its dossiers and its newest documents, the reading recorded: the API's and the web
/// UI's client view.
pub async fn load_client_view(
    state: &AppState,
    scope: &Scope,
    party_kind: PartyKind,
    kind: ReferenceKind,
    value: &str,
    limit: u32,
) -> Result<ClientView, ApiError> {
    let party = find_party(state, scope, party_kind, kind, value).await?;
    let catalog = &state.archive.catalog;
    let dossiers = catalog.party_dossiers(scope, party.party_id).await?;
    let (documents, documents_total) = catalog
        .party_documents(scope, party.party_id, Some(limit))
        .await?;
    let details = json!({
        "party": state.archive.identifiers.hash(kind.as_str(), value),
        "documents": documents.len(),
    });
    catalog
        .record_access(scope, "party.viewed", None, &details)
        .await?;
    Ok(ClientView {
        party,
        dossiers,
        documents,
        documents_total,
    })
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
    let party = find_party(&state, &scope, PartyKind::Individual, kind, &value).await?;
    let catalog = &state.archive.catalog;
    let dossiers = catalog.party_dossiers(&scope, party.party_id).await?;
    let (documents, _) = catalog
        .party_documents(&scope, party.party_id, None)
        .await?;
    // Recorded before the first byte leaves: an export cut short was still an access.
    let details = json!({
        "party": state.archive.identifiers.hash(kind.as_str(), &value),
        "documents": documents.iter().map(|d| d.id.to_string()).collect::<Vec<_>>(),
    });
    catalog
        .record_access(&scope, "party.exported", None, &details)
        .await?;
    let file_name = format!("acces-rgpd-{}.zip", party.party_id);
    let stream =
        super::export::stream_zip(state.archive.content.clone(), party, dossiers, documents);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/zip")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.into()))
}
