//! Prometheus metrics: requests by route and status, request latency, entries appended,
//! commits, live-event clients and incidents by phase; and, across incidents, the figures of the
//! post-incident report (`sitrep_core::post_report`): control changes open and overdue, approval
//! latency per decision class, time to staffed roles, to the first containment decision and to
//! containment, and closed incidents whose review is incomplete. Exercises are left out of the
//! timing figures (a drill's pace is not the organisation's); their control changes count.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use sitrep_core::events::DecisionState;
use sitrep_core::incident::ControlChangeState;
use sitrep_core::post_report::{Metrics as Timings, median};
use sitrep_core::{IncidentNumber, Phase};

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
    /// Each incident's timings, with the seq and policy they were measured at. Timings are
    /// first moments, so once all are reached they never change and the record is not read
    /// again.
    timings: Mutex<HashMap<IncidentNumber, (u64, String, Timings)>>,
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
        Metrics { registry: Mutex::new(registry), requests, latency, timings: Mutex::new(HashMap::new()) }
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

/// A summary family (median, maximum, sum, count) for each label set; a label set is written
/// as `name="value"`, or empty for none.
fn summary(out: &mut String, name: &str, help: &str, series: &BTreeMap<String, Vec<f64>>) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} summary\n");
    for (labels, values) in series {
        let with = |extra: &str| {
            let all: Vec<&str> = [labels.as_str(), extra].into_iter().filter(|l| !l.is_empty()).collect();
            if all.is_empty() { String::new() } else { format!("{{{}}}", all.join(",")) }
        };
        if !values.is_empty() {
            let max = values.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(out, "{name}{} {}", with("quantile=\"0.5\""), median(values));
            let _ = writeln!(out, "{name}{} {max}", with("quantile=\"1\""));
        }
        let _ = writeln!(out, "{name}_sum{} {}", with(""), values.iter().sum::<f64>());
        let _ = writeln!(out, "{name}_count{} {}", with(""), values.len());
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The report figures across incidents, from the published states (and, for the timings that
/// need the history, each incident's record, read again only while a timing is still to come).
async fn incident_figures(app: &AppState) -> String {
    let now = app.now();
    let org = app.ledger.org();
    let policy = org.policy.clone();
    let mut changes: BTreeMap<&'static str, u64> = [("open", 0), ("done", 0), ("cancelled", 0)].into();
    let mut overdue = 0u64;
    let mut review_incomplete = 0u64;
    let mut latency: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut real: Vec<(IncidentNumber, u64)> = Vec::new();
    app.ledger.each_incident(|state| {
        for change in &state.review.control_changes {
            let name = match change.state {
                ControlChangeState::Open => "open",
                ControlChangeState::Done => "done",
                ControlChangeState::Cancelled => "cancelled",
            };
            *changes.entry(name).or_default() += 1;
            if change.state == ControlChangeState::Open && change.due < now {
                overdue += 1;
            }
        }
        if state.phase == Phase::Closed && state.review.completed.is_none() {
            review_incomplete += 1;
        }
        if state.exercise {
            return;
        }
        real.push((state.id, state.seq));
        for decision in state.decisions.iter().filter(|d| d.state == DecisionState::Approved) {
            if let Some(decided) = decision.decided_at {
                let seconds = (decided.unix_micros() - decision.proposed_at.unix_micros()) as f64 / 1e6;
                let label = format!("class=\"{}\"", label_value(decision.class.as_str()));
                latency.entry(label).or_default().push(seconds);
            }
        }
    });

    // Timings: measured again only for incidents that moved and still have one to reach.
    let stale: Vec<(IncidentNumber, u64)> = {
        let cache = app.metrics.timings.lock();
        real.iter()
            .copied()
            .filter(|(number, seq)| match cache.get(number) {
                None => true,
                Some((at, sha, t)) => {
                    *sha != policy.sha256
                        || (*at != *seq
                            && (t.staffed.is_none() || t.first_containment_decision.is_none() || t.contained.is_none()))
                }
            })
            .collect()
    };
    if !stale.is_empty() {
        let store = app.ledger.store().clone();
        let walk_policy = policy.clone();
        let measured = tokio::task::spawn_blocking(move || {
            stale
                .into_iter()
                .filter_map(|(number, seq)| {
                    let entries = crate::api::report::record_until(store.as_ref(), number, seq).ok()?;
                    Some((number, seq, Timings::walk(&entries, &walk_policy)))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut cache = app.metrics.timings.lock();
        for (number, seq, timings) in measured {
            cache.insert(number, (seq, policy.sha256.clone(), timings));
        }
    }
    let mut staffed = Vec::new();
    let mut first_containment = Vec::new();
    let mut contained = Vec::new();
    {
        let cache = app.metrics.timings.lock();
        for (number, _) in &real {
            let Some((_, _, t)) = cache.get(number) else { continue };
            staffed.extend(t.staffed.as_ref().map(|m| m.after_seconds));
            first_containment.extend(t.first_containment_decision.as_ref().map(|m| m.after_seconds));
            contained.extend(t.contained.as_ref().map(|m| m.after_seconds));
        }
    }

    let mut out = String::new();
    out.push_str(
        "# HELP sitrep_control_changes Control changes from post-incident reviews, by state.\n\
         # TYPE sitrep_control_changes gauge\n",
    );
    for (state, count) in changes {
        let _ = writeln!(out, "sitrep_control_changes{{state=\"{state}\"}} {count}");
    }
    let _ = write!(
        out,
        "# HELP sitrep_control_changes_overdue Open control changes past their due date.\n\
         # TYPE sitrep_control_changes_overdue gauge\nsitrep_control_changes_overdue {overdue}\n\
         # HELP sitrep_closed_incidents_review_incomplete Closed incidents whose post-incident review is incomplete (closing requires it, so 0).\n\
         # TYPE sitrep_closed_incidents_review_incomplete gauge\nsitrep_closed_incidents_review_incomplete {review_incomplete}\n"
    );
    summary(
        &mut out,
        "sitrep_approval_latency_seconds",
        "Proposal to approval of approved decisions, by decision class (exercises left out).",
        &latency,
    );
    let one = |values: Vec<f64>| BTreeMap::from([(String::new(), values)]);
    summary(
        &mut out,
        "sitrep_time_to_staffed_seconds",
        "Declaration to every required role staffed, over incidents that were (exercises left out).",
        &one(staffed),
    );
    summary(
        &mut out,
        "sitrep_time_to_first_containment_decision_seconds",
        "Declaration to the first approved containment-class decision, over incidents that had one (exercises left out).",
        &one(first_containment),
    );
    summary(
        &mut out,
        "sitrep_time_to_containment_seconds",
        "Declaration to the first phase past containment, over incidents that reached it (exercises left out).",
        &one(contained),
    );
    out
}

/// Whether the request carries the configured metrics token (compared by hash, so the time
/// taken says nothing of how much of it matched).
fn scrape_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = app.config.metrics_token.as_deref() else { return true };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// `GET /metrics`.
pub async fn render(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !scrape_allowed(&app, &headers) {
        let mut refused =
            (StatusCode::UNAUTHORIZED, "metrics need the bearer token configured as metrics_token\n").into_response();
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return refused;
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &app.metrics.registry.lock()).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
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
         # HELP sitrep_sign_in_checks Passwords checked (throttled sign-ins are refused before a check).\n\
         # TYPE sitrep_sign_in_checks counter\nsitrep_sign_in_checks_total {}\n\
         # HELP sitrep_connections Connections open now.\n\
         # TYPE sitrep_connections gauge\nsitrep_connections {}\n\
         # HELP sitrep_connections_refused Connections closed at once because a connection limit was reached.\n\
         # TYPE sitrep_connections_refused counter\nsitrep_connections_refused_total {}\n\
         # HELP sitrep_incidents Incidents by phase.\n# TYPE sitrep_incidents gauge\n",
        app.ledger.live_subscribers(),
        app.auth.checks(),
        app.connections.open(),
        app.connections.refused()
    );
    for (phase, count) in phases {
        extra.push_str(&format!("sitrep_incidents{{phase=\"{phase}\"}} {count}\n"));
    }
    extra.push_str(&incident_figures(&app).await);
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
