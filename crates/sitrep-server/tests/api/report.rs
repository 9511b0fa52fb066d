//! The post-incident report (JSON and Markdown), the decision register as CSV with formula
//! cells neutralised, evidence names kept from those who may not read evidence, and the report
//! figures `/metrics` gains across incidents.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_DISPOSITION, COOKIE};
use serde_json::{Value, json};

use crate::helpers::*;

async fn propose(app: &TestApp, incident: &str, who: &str, body: Value) -> String {
    let decision =
        app.post_ok(who, &format!("/api/v1/incidents/{incident}/decisions"), body, StatusCode::CREATED).await;
    decision["id"].as_str().expect("a decision id").to_owned()
}

async fn approve(app: &TestApp, incident: &str, who: &str, decision: &str) {
    let path = format!("/api/v1/incidents/{incident}/decisions/{decision}/approve");
    app.post_ok(who, &path, json!({}), StatusCode::OK).await;
}

async fn text(app: &TestApp, who: &str, path: &str, accept: Option<&str>) -> (String, String, String) {
    let mut request = app.request(reqwest::Method::GET, Some(who), path);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK, "GET {path} as {who}");
    let headers = response.headers().clone();
    let disposition = headers.get(CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (content_type(&headers), disposition, response.text().await.expect("a body"))
}

#[tokio::test]
async fn the_report_is_generated_from_the_record_as_json_and_as_markdown() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Leaked deploy key", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    app.clock.advance(300);
    let d1 = propose(&app, &incident, TECH_LEAD, json!({"class": "containment", "title": "Revoke the key"})).await;
    app.clock.advance(120);
    approve(&app, &incident, COMMANDER, &d1).await;
    app.post_ok(COMMANDER, &at("/phase"), json!({"phase": "eradication"}), StatusCode::OK).await;

    let report = app.get_json(RESPONDER, &at("/report")).await;
    let state = app.state(RESPONDER, &incident).await;
    assert_eq!(report["summary"]["incident"], incident);
    assert_eq!(report["summary"]["as_of_seq"], state["seq"]);
    assert_eq!(report["summary"]["as_of_hash"], state["head"]);
    assert_eq!(report["summary"]["chain_verified"], true);
    assert_eq!(report["summary"]["commander"], json!([COMMANDER]));
    assert_eq!(report["timeline"].as_array().expect("a timeline").len() as u64, state["seq"].as_u64().expect("seq"));
    assert_eq!(
        report["timeline"][0]["what"].as_str().expect("words"),
        format!("declared {incident} \"Leaked deploy key\" (sev2)")
    );
    let metrics = &report["metrics"];
    assert_eq!(metrics["staffed"]["after_seconds"], 0.0, "staffed in the declaration");
    let first = metrics["first_containment_decision"]["after_seconds"].as_f64().expect("measured");
    assert!((420.0..430.0).contains(&first), "about 7 minutes after the declaration: {first}");
    assert!(metrics["contained"]["after_seconds"].as_f64().expect("contained") >= first);
    assert_eq!(metrics["approval_latency"][0]["class"], "containment");
    let latency = metrics["approval_latency"][0]["median_seconds"].as_f64().expect("a latency");
    assert!((120.0..125.0).contains(&latency), "two minutes: {latency}");
    let register = &report["decisions"][0];
    assert_eq!((register["id"].as_str(), register["state"].as_str()), (Some("D-1"), Some("approved")));
    assert_eq!(register["endorsements"][0]["user"], COMMANDER);
    assert_eq!(register["endorsements"][0]["role"], "commander");
    assert_eq!(report["deadlines"]["note"].as_str().map(|n| n.starts_with("No regulatory clocks")), Some(true));
    let csf = report["csf"]["categories"].as_array().expect("categories");
    let mitigation = csf.iter().find(|c| c["id"] == "RS.MI").expect("RS.MI is listed");
    assert_eq!(mitigation["subcategories"][0]["id"], "RS.MI-01");
    assert_eq!(mitigation["subcategories"][0]["seqs"].as_array().map(Vec::len), Some(1));

    let (content_type, _, markdown) = text(&app, RESPONDER, &at("/report"), Some("text/markdown")).await;
    assert_eq!(content_type, "text/markdown; charset=utf-8");
    assert!(markdown.starts_with(&format!("# Post-incident report {incident}: Leaked deploy key\n")), "{markdown}");
    for part in ["## Metrics", "## Decision register", "## NIST CSF 2.0", "## Timeline", "No regulatory clocks"] {
        assert!(markdown.contains(part), "the Markdown has {part}");
    }
}

#[tokio::test]
async fn the_decision_register_is_csv_and_no_cell_can_start_a_formula() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Formula injection", false).await;
    let titles = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "Isolate the host"];
    for title in titles {
        let id = propose(&app, &incident, TECH_LEAD, json!({"class": "containment", "title": title})).await;
        let path = format!("/api/v1/incidents/{incident}/decisions/{id}/approve");
        app.post_ok(COMMANDER, &path, json!({"note": "=cmd|' /C calc'!A0"}), StatusCode::OK).await;
    }

    let (content_type, disposition, body) =
        text(&app, RESPONDER, &format!("/api/v1/incidents/{incident}/decisions.csv"), None).await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(disposition, format!("attachment; filename=\"{incident}-decisions.csv\""));
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().expect("a header row").clone();
    assert_eq!(headers.iter().collect::<Vec<_>>(), sitrep_server::api::report::CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    // Each decision: its proposal and the commander's approval.
    assert_eq!(rows.len(), titles.len() * 2);
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would evaluate: {cell:?}"
            );
        }
    }
    let column = |name: &str| headers.iter().position(|h| h == name).expect("a column");
    let written: Vec<&str> = rows.iter().step_by(2).map(|r| &r[column("title")]).collect();
    assert_eq!(written, ["'=HYPERLINK(\"http://x\")", "'+1", "'-1", "'@SUM(A1)", "Isolate the host"]);
    let approval = &rows[1];
    assert_eq!((&approval[column("event")], &approval[column("by")]), ("approved", COMMANDER));
    assert_eq!(&approval[column("role")], "commander");
    assert_eq!(&approval[column("note")], "'=cmd|' /C calc'!A0");
    assert_eq!(&approval[column("incident")], incident.as_str());
    assert!(!approval[column("latency_seconds")].is_empty(), "an approved decision has a latency");
    // Every cell is quoted, so no field's text can end one cell and start another.
    assert!(body.lines().all(|line| line.starts_with('"') && line.ends_with('"')), "{body}");
}

#[tokio::test]
async fn a_report_for_someone_who_may_not_read_evidence_names_no_evidence() {
    let app = spawn_app().await;
    let incident = app.standard_incident("Payroll export", false).await;
    let item = app.evidence(RESPONDER, &incident, "payroll-2026-secret.xlsx", b"salaries").await;
    let sha256 = item["sha256"].as_str().expect("a hash").to_owned();
    let download = app.download(LEGAL, &incident, &sha256, "counsel-review-for-regulator").await;
    assert_eq!(download.status(), StatusCode::OK);
    download.bytes().await.expect("the file");
    let path = format!("/api/v1/incidents/{incident}/report");
    let secrets = ["payroll-2026-secret", "counsel-review-for-regulator"];

    // Comms holds a role but not an evidence role; the viewer holds none.
    for who in [COMMS, VIEWER] {
        let (_, _, json) = text(&app, who, &path, None).await;
        let (_, _, markdown) = text(&app, who, &path, Some("text/markdown")).await;
        for secret in secrets {
            assert!(!json.contains(secret), "{who}'s JSON report names {secret}");
            assert!(!markdown.contains(secret), "{who}'s Markdown report names {secret}");
        }
        let report: Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(report["evidence"]["names_shown"], false);
        assert_eq!(report["evidence"]["items"][0]["sha256"], sha256.as_str());
        assert_eq!(report["evidence"]["items"][0]["name"], Value::Null);
        assert_eq!(report["evidence"]["downloads"], 1, "custody counts are for everyone");
    }
    // The printable page, for a signed-in non-reader, too.
    app.give_password(COMMS).await;
    let session = app.sign_in(COMMS, PASSWORD).await;
    let page = app
        .client
        .get(app.url(&format!("/incidents/{incident}/report")))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("a page");
    assert!(html.contains(&format!("Post-incident report {incident}")), "{html}");
    for secret in secrets {
        assert!(!html.contains(secret), "the page names {secret} to a non-reader");
    }

    // The responder and legal may read evidence: their report names it.
    for who in [RESPONDER, LEGAL] {
        let (_, _, json) = text(&app, who, &path, None).await;
        for secret in secrets {
            assert!(json.contains(secret), "{who}'s report names {secret}");
        }
    }
}

/// The value of the sample line that starts with `prefix`.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_carry_the_report_figures_across_incidents() {
    let app = spawn_app().await;
    let metrics = || async {
        let response = app.client.get(app.url("/metrics")).send().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("a body")
    };
    let before = metrics().await;
    assert_eq!(sample(&before, "sitrep_time_to_containment_seconds_count"), Some(0.0));
    assert_eq!(sample(&before, "sitrep_closed_incidents_review_incomplete"), Some(0.0));

    // Two incidents contained, 10 and 30 minutes after their declarations; one closed after its
    // review; an exercise that is left out of the timings.
    let mut ids = Vec::new();
    for minutes in [10, 30] {
        let incident = app.standard_incident("Contained", false).await;
        let d = propose(&app, &incident, TECH_LEAD, json!({"class": "containment", "title": "Isolate"})).await;
        app.clock.advance(minutes * 60);
        approve(&app, &incident, COMMANDER, &d).await;
        let phase = format!("/api/v1/incidents/{incident}/phase");
        app.post_ok(COMMANDER, &phase, json!({"phase": "recovery"}), StatusCode::OK).await;
        ids.push(incident);
    }
    let drill = json!({"title": "Drill", "severity": "sev3", "exercise": true});
    let drill = app.post_ok(COMMANDER, "/api/v1/incidents", drill, StatusCode::CREATED).await;
    let drill = drill["id"].as_str().expect("an id").to_owned();
    app.post_ok(COMMANDER, &format!("/api/v1/incidents/{drill}/phase"), json!({"phase": "recovery"}), StatusCode::OK)
        .await;
    crate::review::ready_to_close(&app, &ids[0]).await;
    let close = propose(&app, &ids[0], COMMANDER, json!({"class": "close", "title": "Done"})).await;
    approve(&app, &ids[0], EXECUTIVE, &close).await;

    let after = metrics().await;
    assert_eq!(sample(&after, "sitrep_time_to_containment_seconds_count"), Some(2.0), "{after}");
    let median = sample(&after, "sitrep_time_to_containment_seconds{quantile=\"0.5\"}").expect("a median");
    assert!((1200.0..1210.0).contains(&median), "the median of 10 and 30 minutes: {median}");
    let max = sample(&after, "sitrep_time_to_containment_seconds{quantile=\"1\"}").expect("a max");
    assert!((1800.0..1810.0).contains(&max), "{max}");
    assert_eq!(sample(&after, "sitrep_time_to_first_containment_decision_seconds_count"), Some(2.0));
    assert_eq!(sample(&after, "sitrep_time_to_staffed_seconds_count"), Some(2.0), "the drill is left out");
    assert_eq!(sample(&after, "sitrep_time_to_staffed_seconds_sum"), Some(0.0), "staffed in the declaration");
    assert_eq!(sample(&after, "sitrep_approval_latency_seconds_count{class=\"containment\"}"), Some(2.0));
    assert_eq!(sample(&after, "sitrep_approval_latency_seconds_count{class=\"close\"}"), Some(1.0));
    assert_eq!(sample(&after, "sitrep_control_changes{state=\"open\"}"), Some(1.0));
    assert_eq!(sample(&after, "sitrep_control_changes_overdue"), Some(0.0));
    assert_eq!(sample(&after, "sitrep_closed_incidents_review_incomplete"), Some(0.0));
    assert!(after.contains("# TYPE sitrep_approval_latency_seconds summary"), "{after}");
    assert!(after.ends_with("# EOF\n"));

    // Two years on, the open control change (due in 60 days) is overdue.
    app.clock.advance(2 * 366 * 24 * 3600);
    let later = metrics().await;
    assert_eq!(sample(&later, "sitrep_control_changes_overdue"), Some(1.0), "{later}");
    // Nothing moved, so the timings are the same figures, from the cache.
    assert_eq!(sample(&later, "sitrep_time_to_containment_seconds_count"), Some(2.0));
}
