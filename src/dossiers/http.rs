//! `/api/v1/dossiers`: create, read, list, close or cancel dossiers, link and unlink documents,
//! the dossier's timeline; `/api/v1/dossier-categories`: the tenant's list of categories.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{DossierInput, StatusInput};
use super::{Dossier, DossierFilter, DossierKind, DossierStatus, Linked, PartyFilter, Timeline};
use crate::access::{Caller, Permission};
use crate::dates::{format_timestamp, parse_instant_or_date};
use crate::documents::model::DocumentId;
use crate::http::error::{ErrorBody, json_body};
use crate::http::formats::DateOrInstant;
use crate::http::{ApiError, AppState};
use crate::identifiers::{Nir, Siren, Siret};
use crate::parties::ReferenceKind;
use crate::parties::{companies_as_sent, individuals_as_sent};
use crate::validation::ValidationErrors;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
pub const MAX_CATEGORIES: usize = 200;

pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(categories, set_categories))
        .routes(routes!(list, create))
        .routes(routes!(read))
        .routes(routes!(change_status))
        .routes(routes!(timeline))
        .routes(routes!(link, unlink))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Categories {
    categories: Vec<String>,
}

/// The tenant's dossier categories, in their order.
#[utoipa::path(get, path = "/api/v1/dossier-categories", tag = "dossiers",
    responses((status = 200, body = Categories), (status = 403, body = ErrorBody)))]
async fn categories(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Categories>, ApiError> {
    let scope = caller.require(Permission::ReadDossiers)?;
    let categories = state.archive.catalog.dossier_categories(&scope).await?;
    Ok(Json(Categories { categories }))
}

/// Replaces the tenant's dossier categories (admin); dossiers keep theirs.
#[utoipa::path(put, path = "/api/v1/dossier-categories", tag = "dossiers",
    request_body = Vec<String>,
    responses(
        (status = 200, body = Categories),
        (status = 403, body = ErrorBody),
        (status = 422, description = "Empty, blank, too long or repeated categories", body = ErrorBody),
    ))]
async fn set_categories(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<Vec<String>>, JsonRejection>,
) -> Result<Json<Categories>, ApiError> {
    let scope = caller.require(Permission::ConfigureTenant)?;
    let mut errors = ValidationErrors::default();
    let mut categories: Vec<String> = Vec::new();
    for (index, category) in json_body(body)?.into_iter().enumerate() {
        let category = category.trim().to_string();
        if category.is_empty() || category.chars().count() > 100 {
            errors.push(format!("[{index}]"), "must be 1 to 100 characters");
        } else if categories
            .iter()
            .any(|known| known.to_lowercase() == category.to_lowercase())
        {
            errors.push(format!("[{index}]"), "is listed twice");
        } else {
            categories.push(category);
        }
    }
    if categories.is_empty() && errors.is_empty() {
        errors.push("body", "lists no category");
    }
    if categories.len() > MAX_CATEGORIES {
        errors.push(
            "body",
            format!("lists more than {MAX_CATEGORIES} categories"),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    state
        .archive
        .catalog
        .set_dossier_categories(&scope, &categories)
        .await?;
    Ok(Json(Categories { categories }))
}

/// Opens a dossier.
#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers",
    request_body = DossierInput,
    responses(
        (status = 201, body = Dossier),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The reference is taken, or party references contradict", body = ErrorBody),
        (status = 422, description = "Every field at fault (unknown category or `follows` included)", body = ErrorBody),
    ))]
async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<DossierInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Dossier>), ApiError> {
    let scope = caller.require(Permission::ManageDossiers)?;
    let new = json_body(body)?.validate().map_err(ApiError::Invalid)?;
    let mut dossier = state.archive.catalog.create_dossier(&scope, &new).await?;
    // The parties as sent, never the shared records (src/parties/as_sent.rs).
    dossier.individuals = individuals_as_sent(dossier.individuals, &new.individuals);
    dossier.companies = companies_as_sent(dossier.companies, &new.companies);
    tracing::info!(kind = dossier.kind.as_str(), "dossier created");
    Ok((StatusCode::CREATED, Json(dossier)))
}

/// A dossier with its parties, status history and document count.
#[utoipa::path(get, path = "/api/v1/dossiers/{reference}", tag = "dossiers",
    params(("reference" = String, Path)),
    responses((status = 200, body = Dossier), (status = 404, body = ErrorBody)))]
async fn read(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Dossier>, ApiError> {
    let scope = caller.require(Permission::ReadDossiers)?;
    let dossier = state
        .archive
        .catalog
        .dossier(&scope, &reference)
        .await?
        .ok_or(ApiError::NotFound)?;
    let details = json!({ "reference": reference });
    state
        .archive
        .catalog
        .record_access(&scope, "dossier.viewed", None, &details)
        .await?;
    Ok(Json(dossier))
}

/// The dossier's inbound and outbound documents by document date.
#[utoipa::path(get, path = "/api/v1/dossiers/{reference}/documents", tag = "dossiers",
    params(("reference" = String, Path)),
    responses((status = 200, body = Timeline), (status = 404, body = ErrorBody)))]
async fn timeline(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let scope = caller.require(Permission::ReadDossiers)?;
    let timeline = state
        .archive
        .dossier_timeline(&scope, &reference)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(timeline))
}

#[derive(Serialize, utoipa::ToSchema)]
struct StatusChanged {
    dossier: Dossier,
    /// The change sequence number to pass as `min_seq` to see the documents re-indexed.
    seq: i64,
}

/// Closes or cancels an open dossier.
#[utoipa::path(post, path = "/api/v1/dossiers/{reference}/status", tag = "dossiers",
    params(("reference" = String, Path)),
    request_body = StatusInput,
    responses(
        (status = 200, body = StatusChanged),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The dossier is not open", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn change_status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(reference): Path<String>,
    body: Result<Json<StatusInput>, JsonRejection>,
) -> Result<Json<StatusChanged>, ApiError> {
    let scope = caller.require(Permission::ManageDossiers)?;
    let (status, reason) = json_body(body)?.validate().map_err(ApiError::Invalid)?;
    let (dossier, seq) = state
        .archive
        .catalog
        .change_dossier_status(&scope, &reference, status, reason.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(StatusChanged { dossier, seq }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct LinkAnswer {
    reference: String,
    document_id: DocumentId,
    linked: bool,
    /// The change sequence number to pass as `min_seq` to search with the link applied.
    seq: i64,
}

fn document_id(id: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(id).ok_or(ApiError::NotFound)
}

/// Links a document to the dossier.
#[utoipa::path(put, path = "/api/v1/dossiers/{reference}/documents/{id}", tag = "dossiers",
    params(("reference" = String, Path), ("id" = String, Path, description = "The document id")),
    responses(
        (status = 201, description = "Linked", body = LinkAnswer),
        (status = 200, description = "Already linked", body = LinkAnswer),
        (status = 404, description = "No such dossier or document in the caller's scope", body = ErrorBody),
        (status = 422, description = "The dossier is cancelled", body = ErrorBody),
    ))]
async fn link(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((reference, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<LinkAnswer>), ApiError> {
    let scope = caller.require(Permission::ManageDossiers)?;
    let document_id = document_id(&id)?;
    let linked = state
        .archive
        .catalog
        .link_document(&scope, &reference, document_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (status, seq) = match linked {
        Linked::Created { seq } => (StatusCode::CREATED, seq),
        Linked::Existing { seq } => (StatusCode::OK, seq),
    };
    let answer = LinkAnswer {
        reference,
        document_id,
        linked: true,
        seq,
    };
    Ok((status, Json(answer)))
}

/// Unlinks a document from the dossier.
#[utoipa::path(delete, path = "/api/v1/dossiers/{reference}/documents/{id}", tag = "dossiers",
    params(("reference" = String, Path), ("id" = String, Path, description = "The document id")),
    responses(
        (status = 200, body = LinkAnswer),
        (status = 404, description = "The document is not in the dossier", body = ErrorBody),
    ))]
async fn unlink(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Json<LinkAnswer>, ApiError> {
    let scope = caller.require(Permission::ManageDossiers)?;
    let document_id = document_id(&id)?;
    let seq = state
        .archive
        .catalog
        .unlink_document(&scope, &reference, document_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(LinkAnswer {
        reference,
        document_id,
        linked: false,
        seq,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct DossierList {
    dossiers: Vec<Dossier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The tenant's dossiers, newest opened first.
#[utoipa::path(get, path = "/api/v1/dossiers", tag = "dossiers",
    params(
        ("nir" = Option<String>, Query, description = "Dossiers concerning this person (one party reference at most)"),
        ("client_number" = Option<String>, Query),
        ("siren" = Option<String>, Query),
        ("siret" = Option<String>, Query),
        ("company_number" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "open, closed, cancelled; one or several", pattern = "^\\s*(?:(?:open|closed|cancelled)\\s*)?(?:,\\s*(?:(?:open|closed|cancelled)\\s*)?)*$"),
        ("kind" = Option<String>, Query, description = "request, complaint, internal; one or several", pattern = "^\\s*(?:(?:request|complaint|internal)\\s*)?(?:,\\s*(?:(?:request|complaint|internal)\\s*)?)*$"),
        ("category" = Option<String>, Query, description = "Repeat for several"),
        ("agent" = Option<String>, Query),
        ("opened_from" = Option<DateOrInstant>, Query),
        ("opened_to" = Option<DateOrInstant>, Query, description = "Exclusive"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Default 50"),
        ("cursor" = Option<String>, Query, pattern = r"^\s*(?:[0-9A-Fa-f]{2})*\s*$", description = "The next_cursor of the previous page"),
    ),
    responses((status = 200, body = DossierList), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<DossierList>, ApiError> {
    let scope = caller.require(Permission::ReadDossiers)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::BadRequest(format!("the query string cannot be read: {e}")))?;
    let filter = parse_filter(&pairs).map_err(ApiError::Invalid)?;
    let page = state.archive.catalog.dossiers(&scope, &filter).await?;
    let mut details = json!({ "total": page.dossiers.len() });
    if let Some(party) = &filter.party {
        details["party"] = state
            .archive
            .identifiers
            .hash(party.kind.as_str(), &party.value)
            .into();
    }
    state
        .archive
        .catalog
        .record_access(&scope, "dossier.listed", None, &details)
        .await?;
    Ok(Json(DossierList {
        dossiers: page.dossiers,
        next_cursor: page
            .next
            .map(|after| hex::encode(serde_json::to_vec(&after).expect("a cursor serialises"))),
    }))
}

fn parse_filter(pairs: &[(String, String)]) -> Result<DossierFilter, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut filter = DossierFilter {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let instant = |field: &str, value: &str, errors: &mut ValidationErrors| {
        parse_instant_or_date(value)
            .map(format_timestamp)
            .map_err(|message| errors.push(field, message))
            .ok()
    };
    for (key, raw) in pairs {
        let value = raw.trim();
        if value.is_empty() {
            continue;
        }
        let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
        let party = match key.as_str() {
            "nir" => Some(
                Nir::parse(value)
                    .map(|n| (ReferenceKind::Nir, n.as_str().to_string()))
                    .map_err(|e| e.0),
            ),
            "client_number" => Some(Ok((ReferenceKind::ClientNumber, value.to_string()))),
            "siren" => Some(
                Siren::parse(value)
                    .map(|s| (ReferenceKind::Siren, s.as_str().to_string()))
                    .map_err(|e| e.0),
            ),
            "siret" => Some(
                Siret::parse(value)
                    .map(|s| (ReferenceKind::Siret, s.as_str().to_string()))
                    .map_err(|e| e.0),
            ),
            "company_number" => Some(Ok((ReferenceKind::CompanyNumber, value.to_string()))),
            _ => None,
        };
        if let Some(party) = party {
            match party {
                Ok(_) if filter.party.is_some() => {
                    errors.push(key.as_str(), "only one party reference may be given")
                }
                Ok((kind, value)) => filter.party = Some(PartyFilter { kind, value }),
                Err(message) => errors.push(key.as_str(), message),
            }
            continue;
        }
        match key.as_str() {
            "status" => {
                for status in values() {
                    match DossierStatus::parse(status) {
                        Some(status) => filter.statuses.push(status),
                        None => errors.push("status", "must be open, closed or cancelled"),
                    }
                }
            }
            "kind" => {
                for kind in values() {
                    match DossierKind::parse(kind) {
                        Some(kind) => filter.kinds.push(kind),
                        None => errors.push("kind", "must be request, complaint or internal"),
                    }
                }
            }
            // Category names may hold commas: one per parameter.
            "category" => filter.categories.push(value.to_string()),
            "agent" => filter.agent = Some(value.to_string()),
            "opened_from" => filter.opened_from = instant("opened_from", value, &mut errors),
            "opened_to" => filter.opened_to = instant("opened_to", value, &mut errors),
            "limit" => match value.parse::<u32>() {
                Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => filter.limit = limit,
                _ => errors.push("limit", format!("must be a number from 1 to {MAX_LIMIT}")),
            },
            "cursor" => {
                filter.after = hex::decode(value)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok());
                if filter.after.is_none() {
                    errors.push("cursor", "is not a cursor this list gave");
                }
            }
            other => errors.push(other, "is not a dossier criterion"),
        }
    }
    errors.into_result(filter)
}
