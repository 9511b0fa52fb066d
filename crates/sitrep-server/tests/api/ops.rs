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
