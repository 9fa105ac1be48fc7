//! The HTTP edge: the shared state, the routes of every resource merged in one place, and the
//! server loop that takes a bound listener and a shutdown signal (so tests run it on port 0).

pub mod error;
pub mod openapi;
pub mod representation;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

use crate::archive::Archive;
use crate::identifiers::Sha256Hex;
use crate::index::SearchIndex;
use crate::metrics::METRICS;

/// How long shutdown waits for requests in flight before it gives up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Catalog changes the index may have yet to apply while the node still says it is ready.
pub const READY_INDEX_LAG: i64 = 1_000;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub archive: Archive,
    pub index: SearchIndex,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
}

/// Every route of the service with its OpenAPI description: the only way routes are mounted.
pub fn api_routes(max_upload_bytes: u64) -> OpenApiRouter<Arc<AppState>> {
    openapi::documented()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .merge(crate::documents::http::router(max_upload_bytes))
        .merge(crate::access::http::router())
        .merge(crate::audit::http::router())
        .merge(crate::index::http::router())
        .merge(crate::content::http::router())
        .merge(crate::batches::http::router())
        .merge(crate::dossiers::http::router())
        .merge(crate::parties::http::router())
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let (routes, _) = api_routes(state.max_upload_bytes).split_for_parts();
    routes
        // After routing, so that the route's template is known.
        .route_layer(axum::middleware::from_fn(record_request))
        .fallback(|| async { ApiError::NotFound })
        .with_state(Arc::new(state))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // The route's template only: paths and query strings hold identifiers of persons.
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("-", MatchedPath::as_str);
                tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Counts the request and its latency under its route's template.
async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    METRICS.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

/// Alive and able to serve: the catalog answers a query.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The catalog does not answer", body = error::ErrorBody),
    ))]
async fn healthz(State(state): State<Arc<AppState>>) -> Result<Json<Health>, ApiError> {
    state.archive.catalog.ping().await.map_err(|error| {
        tracing::warn!(error = %error, "health check failed: catalog does not answer");
        ApiError::Unavailable
    })?;
    Ok(Json(Health { status: "ok" }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    catalog: Check,
    store: Check,
    index: IndexCheck,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Check {
    ok: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct IndexCheck {
    ok: bool,
    catalog_seq: i64,
    indexed_seq: i64,
    /// Changes the index has yet to apply; ready below 1,000.
    lag: i64,
}

/// Ready for traffic: the catalog and the content store answer, and the search index is
/// nearly up to date (a node rebuilding its index says it is not ready, so a load balancer
/// sends searches elsewhere).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready; the checks say why", body = Readiness),
    ))]
async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Readiness>) {
    let catalog_seq = state.archive.catalog.latest_seq().await;
    let catalog_ok = catalog_seq.is_ok();
    // A hash no content has: answers "absent" when the store is reachable.
    let probe = Sha256Hex::parse(&"0".repeat(64)).expect("64 hex digits");
    let store_ok = state.archive.content.stored_size(&probe).await.is_ok();
    let catalog_seq = catalog_seq.unwrap_or_default();
    let indexed_seq = state.index.indexed_seq();
    let lag = (catalog_seq - indexed_seq).max(0);
    let index_ok = catalog_ok && lag < READY_INDEX_LAG;
    let ready = catalog_ok && store_ok && index_ok;
    if !ready {
        tracing::warn!(catalog_ok, store_ok, lag, "not ready");
    }
    let readiness = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        catalog: Check { ok: catalog_ok },
        store: Check { ok: store_ok },
        index: IndexCheck {
            ok: index_ok,
            catalog_seq,
            indexed_seq,
            lag,
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

/// Prometheus metrics, text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Ok(catalog_seq) = state.archive.catalog.latest_seq().await {
        let indexed_seq = state.index.indexed_seq();
        METRICS.catalog_seq.set(catalog_seq);
        METRICS.indexed_seq.set(indexed_seq);
        METRICS.index_lag.set((catalog_seq - indexed_seq).max(0));
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        METRICS.render(),
    )
        .into_response()
}

/// Serves until `shutdown` resolves, then waits at most [`SHUTDOWN_GRACE`] for requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut stopped = stop_rx.clone();
    tokio::select! {
        result = server => result,
        _ = async {
            let _ = stopped.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("shutdown grace period over: dropping the requests still in flight");
            Ok(())
        }
    }
}
