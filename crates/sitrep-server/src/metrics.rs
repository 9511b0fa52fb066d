//! Prometheus metrics: requests by route and status, request latency, entries appended,
//! commits, live-event clients and incidents by phase.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("sitrep_http_requests", "HTTP requests by route, method and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms to about 4 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        registry.register(
            "sitrep_http_request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        Metrics { registry: Mutex::new(registry), requests, latency }
    }
}

impl Metrics {
    fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { route: route.to_owned(), method: method.to_owned(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }
}

/// Middleware that counts and times every request by its route pattern (never by raw path,
/// which would make one series per incident).
pub async fn track(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    app.metrics.observe(&route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// Resident memory of this process, from /proc (Linux).
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// `GET /metrics`.
pub async fn render(State(app): State<AppState>) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &app.metrics.registry.lock()).is_err() {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let body = text.trim_end().strip_suffix("# EOF").unwrap_or(&text).to_owned();
    let (entries, commits) = app.ledger.counters();
    let mut phases: std::collections::BTreeMap<&'static str, u64> = std::collections::BTreeMap::new();
    app.ledger.each_incident(|incident| *phases.entry(incident.phase.as_str()).or_default() += 1);
    let mut extra = format!(
        "# HELP sitrep_entries_appended Entries appended to records since the server started.\n\
         # TYPE sitrep_entries_appended counter\nsitrep_entries_appended_total {entries}\n\
         # HELP sitrep_commits Store transactions committed (each holds a batch of commands).\n\
         # TYPE sitrep_commits counter\nsitrep_commits_total {commits}\n\
         # HELP sitrep_live_clients Open live-event streams.\n\
         # TYPE sitrep_live_clients gauge\nsitrep_live_clients {}\n\
         # HELP sitrep_incidents Incidents by phase.\n# TYPE sitrep_incidents gauge\n",
        app.ledger.live_subscribers()
    );
    for (phase, count) in phases {
        extra.push_str(&format!("sitrep_incidents{{phase=\"{phase}\"}} {count}\n"));
    }
    if let Some(bytes) = resident_memory() {
        extra.push_str(&format!(
            "# HELP process_resident_memory_bytes Resident memory of the server process.\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {bytes}\n"
        ));
    }
    let mut response = format!("{body}{extra}# EOF\n").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
