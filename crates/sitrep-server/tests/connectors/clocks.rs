//! Regulatory clocks run by the worker: the path of the class that stops a clock is told before
//! its deadline (here a Slack-style receiver on loopback), and a missed deadline is an entry.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{EXECUTIVE, LEGAL, eventually, spawn};
use crate::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_clock_warns_its_path_then_records_the_miss_and_a_late_submission_stops_it() {
    let receiver = Receiver::start().await;
    // The regulatory_notification path is incident-channel, legal and executives: one of them
    // reaches the receiver, the others are not configured and are recorded as not told.
    let server = spawn(&format!("[channels.legal]\nkind = \"slack\"\nurl = \"{}\"\n", receiver.url("/slack"))).await;
    let state = server.declare("Invoices read by an unknown address", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id").to_owned();
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let clocks = server
        .post_ok(
            LEGAL,
            &at("/determinations"),
            json!({"determination": "personal_data_breach", "basis": "EU invoices were listed"}),
            StatusCode::CREATED,
        )
        .await;
    let gdpr = &clocks["clocks"][0];
    assert_eq!(gdpr["clock"], "gdpr_art33");
    let left = gdpr["seconds_left"].as_i64().expect("seconds left");
    assert!((72 * 3600 - 60..=72 * 3600).contains(&left), "72 hours from now: {left}");

    // Nothing is said before the warning time (60 h in: 12 h before the deadline).
    server.advance(59 * 3600).await;
    server.advance(1).await;
    assert!(receiver.deliveries("/slack").is_empty(), "no warning 59 hours in");
    server.advance(3600).await;
    let told = eventually("the legal channel to hear of the deadline", || async {
        receiver.deliveries("/slack").into_iter().next()
    })
    .await;
    let text = told.body["text"].as_str().expect("a text");
    assert!(text.contains("GDPR Art. 33") && text.contains("regulatory_notification"), "{text}");
    let warned = server.entry(&incident, "clock.warned", |e| e["kind"] == "clock.warned").await;
    assert_eq!(warned["actor"], "system:clocks");
    assert_eq!(warned["body"]["told"], json!(["legal"]));
    let failed = warned["body"]["failed"].as_array().expect("failed channels");
    assert_eq!(failed.len(), 2, "incident-channel and executives are not configured: {failed:?}");

    // The deadline passes: the miss is recorded, once.
    server.advance(12 * 3600).await;
    let missed = server.entry(&incident, "clock.missed", |e| e["kind"] == "clock.missed").await;
    assert_eq!(
        (missed["actor"].as_str(), missed["body"]["clock"].as_str()),
        (Some("system:clocks"), Some("gdpr_art33"))
    );
    let sitrep = server
        .request(reqwest::Method::GET, LEGAL, &at("/sitrep"))
        .header("accept", "text/markdown")
        .send()
        .await
        .expect("the SITREP")
        .text()
        .await
        .expect("text");
    assert!(sitrep.contains("## Regulatory clocks") && sitrep.contains("**MISSED**"), "{sitrep}");

    // Approving a notification does not stop it; recording the (late) submission does, and the
    // record says it was late.
    let draft = json!({"audience": "regulator", "title": "To the DPA", "text": "We report a breach."});
    server.post_ok(LEGAL, &at("/statements"), draft, StatusCode::CREATED).await;
    let decision = server
        .post_ok(
            LEGAL,
            &at("/decisions"),
            json!({"class": "regulatory_notification", "title": "Notify the DPA", "statement": "ST-1"}),
            StatusCode::CREATED,
        )
        .await;
    let did = decision["id"].as_str().expect("an id").to_owned();
    server.post_ok(EXECUTIVE, &at(&format!("/decisions/{did}/approve")), json!({}), StatusCode::OK).await;
    let clocks = server.get_json(LEGAL, &at("/clocks")).await;
    assert_eq!(clocks["clocks"][0]["running"], true, "approved, not sent: {clocks}");
    let approved_at = server.record(&incident).await.last().expect("entries")["at"].clone();
    let sent = json!({"sent_at": approved_at, "authority": "CNIL", "channel": "portal", "reference": "CNIL-9",
        "statement": "ST-1", "version": 1});
    let clocks = server.post_ok(LEGAL, &at("/clocks/gdpr_art33/submission"), sent, StatusCode::CREATED).await;
    assert_eq!(clocks["clocks"][0]["submission"]["met"], false);
    assert_eq!(clocks["clocks"][0]["outcome"], "late");
    assert_eq!(clocks["clocks"][0]["running"], false);
    let misses = server.record(&incident).await.into_iter().filter(|e| e["kind"] == "clock.missed").count();
    assert_eq!(misses, 1, "a miss is recorded once");
}
