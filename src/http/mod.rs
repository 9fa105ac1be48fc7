//! The HTTP edge: the shared state, the routes of every resource merged in one place, and the
//! server loop that takes a bound listener and a shutdown signal (so tests run it on port 0).

pub mod connections;
pub mod error;
pub mod formats;
pub mod openapi;
pub mod representation;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

use crate::archive::Archive;
use crate::extraction::worker::Extraction;
use crate::index::SearchIndex;
use crate::metrics::METRICS;

/// How long shutdown waits for requests in flight before it gives up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Beyond this many changes behind, the index is being rebuilt: searches would miss documents.
pub const READY_INDEX_LAG: i64 = 100_000;
/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub archive: Archive,
    pub index: SearchIndex,
    /// Wakes the text extraction worker; says whether OCR runs.
    pub extraction: Extraction,
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
        .merge(crate::content::http::router(max_upload_bytes))
        .merge(crate::batches::http::router())
        .merge(crate::dossiers::http::router())
        .merge(crate::parties::http::router())
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let (routes, _) = api_routes(state.max_upload_bytes).split_for_parts();
    let state = Arc::new(state);
    routes
        // The web UI is pages, not API: outside the OpenAPI document.
        .merge(crate::ui::router())
        // Answers hold personal data: no cache keeps them, unless a route says otherwise.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ))
        // After routing, so that the route's template is known.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::refusals::record_refusals,
        ))
        .route_layer(axum::middleware::from_fn(record_request))
        .fallback(|method: axum::http::Method| async move {
            METRICS.observe_request(method_label(&method), "unmatched", 404, Duration::ZERO);
            ApiError::NotFound
        })
        .with_state(state)
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
        .layer(axum::middleware::map_request(drop_unfit_request_id))
}

/// A caller's own request id is kept only when it is a short plain identifier: it is written
/// into every log line of the request. Any other is replaced by a fresh one.
async fn drop_unfit_request_id(mut request: Request) -> Request {
    let unfit = request.headers().get("x-request-id").is_some_and(|value| {
        let bytes = value.as_bytes();
        bytes.is_empty()
            || bytes.len() > 64
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if unfit {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// The method as a metric label: the standard ones, `OTHER` for any other name a client sends
/// (each would otherwise be a new series).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts the request and its latency under its route's template.
async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    let method = method_label(request.method());
    let started = Instant::now();
    let in_flight = METRICS.request_started(method, &route);
    let response = next.run(request).await;
    drop(in_flight);
    METRICS.observe_request(
        method,
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
    /// Changes the index has yet to apply.
    lag: i64,
}

/// Ready for traffic: the catalog and the content store answer within 2 s, and the search
/// index follows the catalog — it catches up within the probe, or is applying changes and
/// fewer than 100,000 behind. A node rebuilding its index, or whose index writer is stuck,
/// says it is not ready, so a load balancer sends its traffic elsewhere.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready; the checks say why", body = Readiness),
    ))]
async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Readiness>) {
    let catalog_seq = tokio::time::timeout(PROBE_TIMEOUT, state.archive.catalog.latest_seq())
        .await
        .ok()
        .and_then(Result::ok);
    let catalog_ok = catalog_seq.is_some();
    let store_ok = tokio::time::timeout(PROBE_TIMEOUT, state.archive.content.check_reachable())
        .await
        .is_ok_and(|reached| reached.is_ok());
    let catalog_seq = catalog_seq.unwrap_or_default();
    let before = state.index.indexed_seq();
    let caught_up = state.index.wait_for(catalog_seq, PROBE_TIMEOUT).await;
    let indexed_seq = state.index.indexed_seq();
    let lag = (catalog_seq - indexed_seq).max(0);
    let index_ok = catalog_ok && (caught_up || (indexed_seq > before && lag < READY_INDEX_LAG));
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
    // The gauges are process-wide; the lock makes each answer show the values this server
    // just read, even when several servers share the process (the test suite).
    static RENDERING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let catalog_seq = state.archive.catalog.latest_seq().await.ok();
    let queue = state.archive.catalog.extraction_queue().await.ok();
    let body = {
        let _rendering = RENDERING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(catalog_seq) = catalog_seq {
            let indexed_seq = state.index.indexed_seq();
            METRICS.catalog_seq.set(catalog_seq);
            METRICS.indexed_seq.set(indexed_seq);
            METRICS.index_lag.set((catalog_seq - indexed_seq).max(0));
        }
        if let Some(queue) = queue {
            METRICS.extraction_queue.set(queue.pending as i64);
            METRICS.extraction_queue_ocr.set(queue.pending_ocr as i64);
        }
        METRICS
            .ocr_enabled
            .set(i64::from(state.extraction.ocr_off.is_none()));
        METRICS.render()
    };
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}

/// Serves until `shutdown` resolves, then waits at most [`SHUTDOWN_GRACE`] for requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    timeouts: connections::ReadTimeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = router(state);
    let server = async move {
        connections::serve_connections(listener, app, timeouts, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
        Ok(())
    };
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
