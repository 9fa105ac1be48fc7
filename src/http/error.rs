//! The one place where errors become HTTP answers.
//!
//! Every refusal has the body `{"error": {"code", "message", "field"?, "details"?}}`. Internal
//! errors are logged with their cause and answered with a generic message: their text may hold
//! paths or values the caller has no business seeing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::access::AccessError;
use crate::archive::document::ArchiveError;
use crate::archive::reads::ReadError;
use crate::archive::search::SearchError;
use crate::catalog::CatalogError;
use crate::content::{ContentError, StagingError};
use crate::validation::{FieldError, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: input refused; every field at fault is listed.
    #[error("invalid input")]
    Invalid(ValidationErrors),
    /// 400: the request itself is malformed (not JSON, not multipart, cut off).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable bearer token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403: the token's role does not allow this.
    #[error("{message}")]
    Forbidden {
        field: Option<String>,
        message: String,
    },
    /// 404: no such resource in the caller's scope.
    #[error("not found")]
    NotFound,
    /// 409: the request contradicts what is archived.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// 413: the upload exceeds the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the file's type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 416: the requested byte range lies outside the content.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    /// 503: `min_seq` asked for a change the index has not applied within the wait.
    #[error("the index has not caught up")]
    IndexBehind { wanted: i64, indexed: i64 },
    /// 503: a dependency (catalog, store) does not answer.
    #[error("service unavailable")]
    Unavailable,
    /// 500: logged with its cause, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The body of every refusal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid`, `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `range_not_satisfiable`, `index_behind`,
    /// `unavailable` or `internal`.
    pub code: &'static str,
    pub message: String,
    /// The part of the request at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field error of an `invalid` refusal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(ValidationErrors::single(field, message))
    }
}

/// The refusal of a `multipart/form-data` body that cannot be read to its end.
pub fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(error.body_text())
    } else {
        ApiError::BadRequest(format!(
            "the multipart body cannot be read: {}",
            error.body_text()
        ))
    }
}

/// A JSON body, or the refusal naming `body` with the reason it cannot be read.
pub fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|axum::Json(body)| body)
        .map_err(|rejection| ApiError::invalid("body", rejection.body_text()))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field, details): (_, _, _, _, &[FieldError]) = match &self {
            Self::Invalid(errors) => {
                let first = errors.0.first();
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    first
                        .map(|e| format!("{} {}", e.field, e.message))
                        .unwrap_or_default(),
                    first.map(|e| e.field.clone()),
                    &errors.0,
                )
            }
            Self::Unauthenticated(message) => {
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: "unauthorized",
                        message: message.to_string(),
                        field: Some("Authorization".into()),
                        details: Vec::new(),
                    },
                };
                return (
                    StatusCode::UNAUTHORIZED,
                    [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                    Json(body),
                )
                    .into_response();
            }
            Self::Forbidden { field, message } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                message.clone(),
                field.clone(),
                &[],
            ),
            Self::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                message.clone(),
                None,
                &[],
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "not found".into(),
                None,
                &[],
            ),
            Self::Conflict { field, message } => (
                StatusCode::CONFLICT,
                "conflict",
                message.clone(),
                field.clone(),
                &[],
            ),
            Self::PayloadTooLarge(message) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                message.clone(),
                Some("file".into()),
                &[],
            ),
            Self::UnsupportedMediaType(message) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message.clone(),
                Some("file".into()),
                &[],
            ),
            Self::RangeNotSatisfiable { size } => {
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: "range_not_satisfiable",
                        message: format!("the content has {size} bytes"),
                        field: Some("Range".into()),
                        details: Vec::new(),
                    },
                };
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(axum::http::header::CONTENT_RANGE, format!("bytes */{size}"))],
                    Json(body),
                )
                    .into_response();
            }
            Self::IndexBehind { wanted, indexed } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "index_behind",
                format!("the index reflects change {indexed}, not yet {wanted}; retry shortly"),
                Some("min_seq".into()),
                &[],
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the archive cannot serve right now".into(),
                None,
                &[],
            ),
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the archive logged the cause".into(),
                    None,
                    &[],
                )
            }
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
                details: details.to_vec(),
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::Conflict { field, message } => Self::Conflict {
                field: Some(field),
                message,
            },
            CatalogError::Invalid { field, message } => Self::invalid(field, message),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Unauthenticated(message) => Self::Unauthenticated(message),
            AccessError::Forbidden { field, message } => Self::Forbidden { field, message },
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Catalog(error) => error.into(),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(ValidationErrors(vec![error]))
    }
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Invalid(errors) => Self::Invalid(errors),
            SearchError::IndexBehind { wanted, indexed } => Self::IndexBehind { wanted, indexed },
            SearchError::Catalog(error) => error.into(),
            SearchError::Internal(error) => Self::Internal(error),
        }
    }
}

impl From<ContentError> for ApiError {
    fn from(error: ContentError) -> Self {
        Self::Internal(error.into())
    }
}

impl From<StagingError> for ApiError {
    fn from(error: StagingError) -> Self {
        match error {
            StagingError::TooLarge { .. } => Self::PayloadTooLarge(error.to_string()),
            StagingError::Io(_) => Self::Internal(error.into()),
        }
    }
}

impl From<ArchiveError> for ApiError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::Invalid(errors) => Self::Invalid(errors),
            ArchiveError::UnsupportedMediaType(message) => Self::UnsupportedMediaType(message),
            ArchiveError::Forbidden(error) => error.into(),
            ArchiveError::ExternalIdConflict { .. } => Self::Conflict {
                field: Some("external_id".into()),
                message: error.to_string(),
            },
            ArchiveError::Catalog(error) => error.into(),
            ArchiveError::Content(error) => error.into(),
        }
    }
}
