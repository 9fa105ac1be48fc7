//! The HTTP edge: the shared state, the routes of every resource merged in one place, and the
//! server loop that takes a bound listener and a shutdown signal (so tests run it on port 0).

pub mod error;
pub mod representation;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::archive::Archive;
use crate::index::SearchIndex;

/// How long shutdown waits for requests in flight before it gives up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub archive: Archive,
    pub index: SearchIndex,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(healthz))
        .merge(crate::documents::http::router(state.max_upload_bytes))
        .merge(crate::access::http::router())
        .merge(crate::audit::http::router())
        .merge(crate::index::http::router())
        .merge(crate::content::http::router())
        .merge(crate::batches::http::router())
        .merge(crate::dossiers::http::router())
        .merge(crate::parties::http::router())
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
                // The path only: query strings may carry identifiers of persons.
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Alive and able to serve: the catalog answers a query.
async fn healthz(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    state.archive.catalog.ping().await.map_err(|error| {
        tracing::warn!(error = %error, "health check failed: catalog does not answer");
        ApiError::Unavailable
    })?;
    Ok((StatusCode::OK, Json(serde_json::json!({"status": "ok"}))))
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
