//! Health, readiness and metrics: what operators, load balancers and Prometheus rely on.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_200_without_credentials() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.expect("the server answers");
    assert_eq!(health.status(), StatusCode::OK, "the process is up");
    let ready = app.client.get(app.url("/readyz")).send().await.expect("the server answers");
    assert_eq!(ready.status(), StatusCode::OK, "the store answers");
}

/// The value of a sample line `name{labels} value` or `name value`.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_entries_appended() {
    let app = spawn_app().await;
    let metrics = |app: &TestApp| {
        let request = app.client.get(app.url("/metrics"));
        async move {
            let response = request.send().await.expect("the server answers");
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.expect("a body")
        }
    };
    let before = metrics(&app).await;
    let appended_before = sample(&before, "sitrep_entries_appended_total").expect("entries appended are counted");

    let incident = app.standard_incident("Metrics", false).await;
    app.post_ok(
        TECH_LEAD,
        &format!("/api/v1/incidents/{incident}/facts"),
        json!({"text": "seen"}),
        StatusCode::CREATED,
    )
    .await;
    app.get_json(TECH_LEAD, &format!("/api/v1/incidents/{incident}")).await;

    let after = metrics(&app).await;
    assert!(after.contains("sitrep_http_requests_total{"), "requests are counted: {after}");
    assert!(
        after.contains(r#"route="/api/v1/incidents/{id}/facts""#),
        "requests carry their route pattern as a label: {after}"
    );
    assert!(after.contains(r#"status="201""#), "and their status: {after}");
    assert!(!after.contains(&incident), "never the raw path, which would make one series per incident: {after}");
    assert!(after.contains("sitrep_http_request_duration_seconds"), "latency is a histogram: {after}");
    let appended_after = sample(&after, "sitrep_entries_appended_total").expect("entries appended are counted");
    // Declaring wrote the declaration and seven role assignments; the fact one more.
    assert_eq!(appended_after - appended_before, 9.0, "every appended entry is counted once");
}

#[tokio::test]
async fn with_a_metrics_token_configured_metrics_need_it() {
    let app = spawn_app_with(|config| config.metrics_token = Some("scrape-7c1f".into())).await;
    let scrape = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("the server answers") }
    };
    // Missing, a prefix, another case, and an admin's API token (the metrics token is its own).
    let admin = app.tokens[ADMIN].as_str();
    for wrong in [None, Some("scrape-7c1"), Some("Scrape-7c1f"), Some(admin)] {
        let refused = scrape(wrong).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(refused.headers()["www-authenticate"], "Bearer");
        assert!(!refused.text().await.expect("a body").contains("sitrep_incidents"), "{wrong:?}: nothing is shown");
    }
    let allowed = scrape(Some("scrape-7c1f")).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(allowed.text().await.expect("a body").contains("sitrep_incidents"));
    // Health and readiness stay open for load balancers.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.expect("answers").status(), StatusCode::OK);
}

/// A store that panics inside `commit` once armed: a stand-in for a defect on the writer's path.
struct PanicsWhenArmed {
    inner: std::sync::Arc<dyn sitrep_store::Store>,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl sitrep_store::Store for PanicsWhenArmed {
    fn commit(
        &self,
        batch: &[sitrep_store::Append<'_>],
        extras: &sitrep_store::Extras<'_>,
    ) -> Result<(), sitrep_store::StoreError> {
        assert!(!self.armed.load(std::sync::atomic::Ordering::SeqCst), "a defect on the commit path");
        self.inner.commit(batch, extras)
    }

    fn password_hash(&self, user: &str) -> Result<Option<String>, sitrep_store::StoreError> {
        self.inner.password_hash(user)
    }

    fn idempotency_since(
        &self,
        since: sitrep_core::Timestamp,
    ) -> Result<Vec<sitrep_store::IdempotencyRow>, sitrep_store::StoreError> {
        self.inner.idempotency_since(since)
    }

    fn read(
        &self,
        record: sitrep_core::RecordId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<sitrep_core::Entry>, sitrep_store::StoreError> {
        self.inner.read(record, from, limit)
    }

    fn heads(&self) -> Result<Vec<sitrep_store::Head>, sitrep_store::StoreError> {
        self.inner.heads()
    }

    fn scan(
        &self,
        visit: &mut dyn FnMut(sitrep_core::RecordId, sitrep_core::chain::RawEntry<'_>) -> std::ops::ControlFlow<()>,
    ) -> Result<(), sitrep_store::StoreError> {
        self.inner.scan(visit)
    }

    fn ping(&self) -> Result<(), sitrep_store::StoreError> {
        self.inner.ping()
    }

    fn session(&self, id: &str) -> Result<Option<sitrep_store::SessionRow>, sitrep_store::StoreError> {
        self.inner.session(id)
    }

    fn sessions_of(&self, user: &str) -> Result<Vec<sitrep_store::SessionRow>, sitrep_store::StoreError> {
        self.inner.sessions_of(user)
    }

    fn touch_session(&self, id: &str, at: sitrep_core::Timestamp) -> Result<(), sitrep_store::StoreError> {
        self.inner.touch_session(id, at)
    }

    fn purge_sessions(
        &self,
        now: sitrep_core::Timestamp,
        idle_since: sitrep_core::Timestamp,
    ) -> Result<usize, sitrep_store::StoreError> {
        self.inner.purge_sessions(now, idle_since)
    }
}

#[tokio::test]
async fn when_the_writer_cannot_go_on_readiness_says_so_and_the_server_stops() {
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let arm = armed.clone();
    let mut app = spawn_app_over(move |inner| std::sync::Arc::new(PanicsWhenArmed { inner, armed: arm }), |_| {}).await;
    let incident = app.standard_incident("Writer", false).await;
    armed.store(true, std::sync::atomic::Ordering::SeqCst);

    let path = format!("/api/v1/incidents/{incident}/facts");
    let refused = app.request(reqwest::Method::POST, Some(TECH_LEAD), &path).json(&json!({"text": "x"})).send();
    let refused = problem(refused.await.expect("the server answers"), StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("Idempotency-Key")), "{refused}");
    assert!(app.ledger.stopped().is_some_and(|reason| reason.contains("a defect")), "the ledger says why");

    // The server stops serving by itself (`sitrep serve` then exits non-zero for its
    // supervisor); until it has, readiness says it is not ready.
    if let Ok(ready) = app.client.get(app.url("/readyz")).send().await {
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    app.stopped_by_itself().await.expect("the listener ends cleanly");
    armed.store(false, std::sync::atomic::Ordering::SeqCst);
    let tech = user(TECH_LEAD);
    let later = app.ledger.execute(
        &tech,
        sitrep_store::Request::Incident {
            incident: sitrep_core::IncidentNumber(1),
            command: sitrep_core::decide::IncidentCommand::CreateTask { title: "x".into(), owner: None, due: None },
        },
    );
    assert!(matches!(later.await, Err(sitrep_store::LedgerError::Stopped(_))), "it takes no more commands");
}
