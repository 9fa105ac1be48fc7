//! The connection loop under the router: what `axum::serve` does, plus the read timeouts it
//! lacks. Without them a client that sends its headers a byte at a time, or a body a byte
//! every few seconds, holds a connection (and a task, and a file descriptor) for as long as it
//! likes; a few thousand such clients take the server's connections away (slowloris).
//!
//! - Headers: hyper's own timer, `header_read_timeout_seconds` for the whole head.
//! - Bodies: [`TimedBody`] cuts a body that goes `body_read_timeout_seconds` without a byte,
//!   or that is slower on average than `body_min_bytes_per_second` once that long has passed
//!   (Apache's `mod_reqtimeout` rule: each byte earns the body a little more time). The
//!   handler reading it gets an error and answers; hyper then closes the connection, since the
//!   body was not read to its end.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::config::Settings;

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy)]
pub struct ReadTimeouts {
    pub headers: Duration,
    pub body_idle: Duration,
    pub body_min_bytes_per_second: u64,
}

impl ReadTimeouts {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            headers: Duration::from_secs(settings.header_read_timeout_seconds),
            body_idle: Duration::from_secs(settings.body_read_timeout_seconds),
            body_min_bytes_per_second: settings.body_min_bytes_per_second,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the connections'
/// requests in flight to be answered (the caller bounds that wait).
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    timeouts: ReadTimeouts,
    shutdown: impl Future<Output = ()>,
) {
    // Dropping `stop_rx` tells every connection to finish its request and close; each holds a
    // clone of `open_rx`, so `open_tx.closed()` resolves once they all have.
    let (stop_tx, stop_rx) = watch::channel(());
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Out of file descriptors, say: let some close before accepting again.
                        tracing::error!(error = %error, "cannot accept connections");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |request: axum::http::Request<Incoming>| {
                request.map(|body| Body::new(TimedBody::new(body, timeouts)))
            });
        let service = TowerToHyperService::new(service);
        let stop_tx = stop_tx.clone();
        let open_rx = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.headers);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = pin!(connection);
            let mut stopping = pin!(stop_tx.closed());
            let mut told = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(error = %error, "connection ended");
                        }
                        break;
                    }
                    () = &mut stopping, if !told => {
                        told = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open_rx);
        });
    }
    drop(listener);
    drop(stop_rx);
    drop(open_rx);
    open_tx.closed().await;
}

/// Errors about one connection, not the listener: the next accept works.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Why a request body was cut.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body arrived too slowly: at least {min_rate} bytes per second, and a byte every {idle_seconds} s, are needed"
)]
pub struct BodyTooSlow {
    min_rate: u64,
    idle_seconds: u64,
}

/// A request body that fails once it arrives too slowly (see the module's header).
pub struct TimedBody {
    inner: Incoming,
    timeouts: ReadTimeouts,
    started: Instant,
    received: u64,
    deadline: Pin<Box<Sleep>>,
}

impl TimedBody {
    fn new(inner: Incoming, timeouts: ReadTimeouts) -> Self {
        let started = Instant::now();
        Self {
            inner,
            timeouts,
            started,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(started + timeouts.body_idle)),
        }
    }

    /// The later of nothing for `body_idle` since now, capped by the average rate's allowance.
    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let earned = match self.timeouts.body_min_bytes_per_second {
            0 => Duration::MAX,
            rate => Duration::from_secs_f64(self.received as f64 / rate as f64),
        };
        let by_rate = self
            .started
            .checked_add(self.timeouts.body_idle.saturating_add(earned))
            .unwrap_or(now + self.timeouts.body_idle);
        (now + self.timeouts.body_idle).min(by_rate)
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let deadline = self.next_deadline();
                    self.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other.map(|result| result.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyTooSlow {
                    min_rate: self.timeouts.body_min_bytes_per_second,
                    idle_seconds: self.timeouts.body_idle.as_secs(),
                }
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
