//! Prometheus metrics, served at `/metrics`.
//!
//! One registry per process: counters are counts of what this process did since it started, as
//! Prometheus expects (rates and sums across nodes are the query's job). Gauges that describe
//! the archive rather than the process (change sequence, index lag) are set when scraped.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's template (`/api/v1/documents/{id}`), never the concrete path: paths hold
    /// identifiers of persons and would make one series per document.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    requests_in_flight: Family<RouteLabels, Gauge>,
    request_seconds: HistogramFamily,
    pub documents_archived: Counter,
    pub bytes_archived: Counter,
    pub batch_documents: Family<OutcomeLabels, Counter>,
    pub batches_completed: Counter,
    pub verification_failures: Counter,
    pub catalog_seq: Gauge,
    pub indexed_seq: Gauge,
    pub index_lag: Gauge,
    pub text_extractions: Family<OutcomeLabels, Counter>,
    pub extraction_queue: Gauge,
    pub extraction_queue_ocr: Gauge,
    pub ocr_enabled: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// A request being answered, counted in `ged_http_requests_in_flight` while this lives.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("ged");
        let metrics = Self {
            requests: Family::default(),
            requests_in_flight: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            documents_archived: Counter::default(),
            bytes_archived: Counter::default(),
            batch_documents: Family::default(),
            batches_completed: Counter::default(),
            verification_failures: Counter::default(),
            catalog_seq: Gauge::default(),
            indexed_seq: Gauge::default(),
            index_lag: Gauge::default(),
            text_extractions: Family::default(),
            extraction_queue: Gauge::default(),
            extraction_queue_ocr: Gauge::default(),
            ocr_enabled: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            metrics.requests.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered (until their headers), by method and route",
            metrics.requests_in_flight.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its headers), by method and route",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "documents_archived",
            "Documents archived (single uploads and batches)",
            metrics.documents_archived.clone(),
        );
        registry.register(
            "bytes_archived",
            "Bytes of the documents archived",
            metrics.bytes_archived.clone(),
        );
        registry.register(
            "batch_documents",
            "Documents of completed batches, by outcome (archived, already_archived, rejected)",
            metrics.batch_documents.clone(),
        );
        registry.register(
            "batches_completed",
            "Batches completed",
            metrics.batches_completed.clone(),
        );
        registry.register(
            "content_verification_failures",
            "Stored objects that did not match their hash when read",
            metrics.verification_failures.clone(),
        );
        registry.register(
            "catalog_seq",
            "The catalog's latest change sequence number",
            metrics.catalog_seq.clone(),
        );
        registry.register(
            "index_seq",
            "The change sequence number the search index has applied",
            metrics.indexed_seq.clone(),
        );
        registry.register(
            "index_lag",
            "Catalog changes the search index has yet to apply",
            metrics.index_lag.clone(),
        );
        registry.register(
            "text_extractions",
            "Text extraction jobs finished, by outcome (text, pdf, ocr, email, failed, needs_ocr, retry)",
            metrics.text_extractions.clone(),
        );
        registry.register(
            "extraction_queue",
            "Documents whose text extraction is pending",
            metrics.extraction_queue.clone(),
        );
        registry.register(
            "extraction_queue_ocr",
            "Pending text extractions that need OCR",
            metrics.extraction_queue_ocr.clone(),
        );
        registry.register(
            "ocr_enabled",
            "1 when this server runs OCR (Tesseract with French found), else 0",
            metrics.ocr_enabled.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts a request as being answered until the returned guard is dropped: when it is
    /// answered, or abandoned (its client hung up).
    pub fn request_started(&self, method: &str, route: &str) -> InFlight {
        let gauge = self
            .requests_in_flight
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn archived(&self, documents: u64, bytes: u64) {
        self.documents_archived.inc_by(documents);
        self.bytes_archived.inc_by(bytes);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
