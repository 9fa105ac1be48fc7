//! Refused attempts leave a trace: a request the caller's role does not allow (403), or one
//! naming something the caller cannot see (404 on a route that names a document, dossier or
//! person), is recorded as `access.refused` in the caller's own tenant's audit trail, where
//! its auditors read it, and logged on the `security` target for the archive's operator.
//!
//! Neither says more than the caller already knew: the entry holds what was asked (method,
//! route template, status, the document id the caller sent), never whether the thing exists,
//! in which tenant, or anything about it. A 404 for an id that names nothing is recorded the
//! same way as one for another tenant's document or a hidden sensitive one, so the trail is
//! no oracle either. Path values other than a document id (a NIR, a client number) stay out
//! of both: they are personal data the caller may have guessed.

use std::sync::{Arc, OnceLock};

use axum::RequestExt;
use axum::extract::{MatchedPath, RawPathParams, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::Caller;
use crate::documents::model::DocumentId;
use crate::http::AppState;

/// Where the [`Caller`] extractor leaves who called, for [`record_refusals`] to read once the
/// answer is known (the handler consumes the request, and with it its extensions).
#[derive(Clone, Default)]
pub(crate) struct CallerSlot(Arc<OnceLock<Caller>>);

impl CallerSlot {
    pub(crate) fn fill(&self, caller: &Caller) {
        let _ = self.0.set(caller.clone());
    }
}

/// Route layer: records the refused requests of authenticated callers.
pub async fn record_refusals(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let slot = CallerSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    let document = request
        .extract_parts::<RawPathParams>()
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "id")
                .and_then(|(_, value)| DocumentId::parse(value))
        });
    let names_something = route.contains('{');
    let response = next.run(request).await;
    let status = response.status();
    let refused =
        status == StatusCode::FORBIDDEN || (status == StatusCode::NOT_FOUND && names_something);
    let Some(caller) = slot.0.get().filter(|_| refused) else {
        return response;
    };
    tracing::warn!(
        target: "security",
        tenant = caller.tenant.as_str(),
        actor = %caller.token_id,
        role = caller.role.as_str(),
        method = %method,
        route = %route,
        status = status.as_u16(),
        "request refused"
    );
    let details = json!({
        "method": method.as_str(),
        "route": route,
        "status": status.as_u16(),
    });
    // The answer waits for the record, as every read waits for its own: a refusal is never
    // answered unrecorded.
    if let Err(error) = state
        .archive
        .catalog
        .record_access(
            &caller.scope(),
            "access.refused",
            document.as_ref(),
            &details,
        )
        .await
    {
        tracing::error!(error = %error, "cannot record a refused request in the audit log");
    }
    response
}
