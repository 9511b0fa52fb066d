//! Publishing to a configured outlet: the delivery it owes, each attempt with the hash of what
//! was sent (only ever the approved text's), retries, and a person's retry after a final
//! failure.

use crate::support;

use sitrep_core::decide::{ActionFailure, IncidentCommand as C};
use sitrep_core::entry::sha256_hex;
use sitrep_core::events::*;
use sitrep_core::ids::StatementId;
use sitrep_core::incident::DeliveryStatus;
use support::*;

const TEXT: &str = "We are investigating an incident.\nMore at 14:00 UTC.";

/// A world with ST-1 to customers approved and published on `channel`.
fn published_on(channel: &str, outlet: bool) -> World {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Customers, TEXT)).expect("drafted");
    act(&mut w, "cora", propose_statement("customer_notification", 1)).expect("proposed");
    for approver in ["lee", "exec", "cora", "cmd"] {
        if w.decision(1).state == DecisionState::Approved {
            break;
        }
        let _ = act(&mut w, approver, approve(1));
    }
    assert_eq!(w.decision(1).state, DecisionState::Approved, "{:?}", w.decision(1).progress());
    let command = if outlet { publish_to_outlet(1, channel, Audience::Customers) } else { publish(1, channel) };
    act(&mut w, "cora", command).expect("published");
    w
}

fn failure(reason: &str, retryable: bool) -> Result<Option<String>, ActionFailure> {
    Err(ActionFailure { reason: reason.into(), retryable })
}

#[test]
fn publishing_on_a_configured_outlet_owes_a_delivery_and_elsewhere_only_records() {
    let w = published_on("status-page", true);
    let entry = w.record.last().expect("the publication");
    assert!(entry.body.contains(r#""outlet":true"#), "{}", entry.body);
    let p = &w.incident.statement(StatementId(1)).expect("exists").publications[0];
    let owed = p.delivery.as_ref().expect("a delivery is owed");
    assert_eq!((owed.status, owed.attempts.len()), (DeliveryStatus::Pending, 0));

    // Another audience's outlet, or no outlet: recorded as published by a person elsewhere,
    // with the body old records have (no `outlet` field).
    let mut w = published_on("customer email", false);
    let entry = w.record.last().expect("the publication");
    assert!(!entry.body.contains("outlet"), "{}", entry.body);
    assert!(w.incident.statements[0].publications[0].delivery.is_none());
    let elsewhere = C::PublishStatement {
        statement: StatementId(1),
        channel: "press-list".into(),
        sha256: None,
        outlet_for: vec![Audience::Press],
    };
    act(&mut w, "cora", elsewhere).expect("published");
    assert!(w.incident.statements[0].publications[1].delivery.is_none(), "press-list is not a customers outlet");
    assert_eq!(
        conflict(system(&mut w, delivery(1, 1, "press-list", TEXT, Ok(None)))),
        "no delivery of ST-1 v1 is owed to press-list"
    );
}

#[test]
fn a_delivery_must_send_exactly_the_approved_bytes() {
    let mut w = published_on("status-page", true);
    let before = w.record.len();
    let altered = "We are investigating an incident.\r\nMore at 14:00 UTC.";
    let message = invalid(system(&mut w, delivery(1, 1, "status-page", altered, Ok(None))), "sha256");
    assert!(message.contains("not to the approved text of ST-1 v1"), "{message}");
    let message = invalid(system(&mut w, delivery(1, 1, "status-page", altered, failure("HTTP 500", true))), "sha256");
    assert!(message.contains(&sha256_hex(TEXT.as_bytes())), "{message}");
    assert_eq!(w.record.len(), before, "nothing was written");
    assert_eq!(
        not_found(system(&mut w, delivery(1, 1, "elsewhere", TEXT, Ok(None)))),
        "ST-1 v1 was not published on elsewhere"
    );

    // Forged entries: a delivery of other bytes, or an attempt out of order, do not fold.
    let forged = IncidentEvent::StatementDelivered(StatementDelivered {
        statement: StatementId(1),
        version: 1,
        channel: "status-page".into(),
        attempt: 1,
        sha256: sha256_hex(altered.as_bytes()),
        receipt: None,
    });
    assert!(append(&mut w, &worker(), &[forged]).is_err());
    let honest = |attempt: u32| {
        IncidentEvent::StatementDelivered(StatementDelivered {
            statement: StatementId(1),
            version: 1,
            channel: "status-page".into(),
            attempt,
            sha256: sha256_hex(TEXT.as_bytes()),
            receipt: None,
        })
    };
    assert!(append(&mut w, &worker(), &[honest(2)]).is_err(), "attempts follow one another");
    let by_person = sitrep_core::Actor::User(sitrep_core::UserName::parse("cora").expect("a name"));
    let first = honest(1);
    assert!(append(&mut w, &by_person, &[first]).is_err(), "only the publisher records a delivery");
}

#[test]
fn failures_are_retried_until_final_then_a_person_may_retry() {
    let mut w = published_on("status-page", true);
    let retry = || C::RetryDelivery { statement: StatementId(1), version: 1, channel: "status-page".into() };
    system(&mut w, delivery(1, 1, "status-page", TEXT, failure("HTTP 500", true))).expect("a retryable failure");
    let d = w.incident.statements[0].publications[0].delivery.clone().expect("owed");
    assert_eq!((d.status, d.failures, d.attempts.len()), (DeliveryStatus::Pending, 1, 1), "still owed");
    assert_eq!(
        conflict(act(&mut w, "cora", retry())),
        "the delivery of ST-1 v1 to status-page has not failed for good; only such a delivery is retried"
    );
    system(&mut w, delivery(1, 1, "status-page", TEXT, failure("HTTP 410", false))).expect("a final failure");
    let d = w.incident.statements[0].publications[0].delivery.clone().expect("owed");
    assert_eq!((d.status, d.failures), (DeliveryStatus::Failed, 2));
    assert_eq!(
        conflict(system(&mut w, delivery(1, 1, "status-page", TEXT, Ok(None)))),
        "no delivery of ST-1 v1 is owed to status-page"
    );
    forbidden(act(&mut w, "resp", retry()), "actions.publish_statements");
    let unknown = C::RetryDelivery { statement: StatementId(1), version: 2, channel: "status-page".into() };
    assert_eq!(
        not_found(act(&mut w, "cora", unknown)),
        "ST-1 v1 was not published to the outlet 'status-page'".replace("v1", "v2")
    );
    act(&mut w, "cora", retry()).expect("a person asks for another try");
    let d = w.incident.statements[0].publications[0].delivery.clone().expect("owed");
    assert_eq!((d.status, d.failures, d.retryable), (DeliveryStatus::Pending, 0, true));
    let entries =
        system(&mut w, delivery(1, 1, "status-page", TEXT, Ok(Some("HTTP 200: ok".into())))).expect("delivered");
    assert_eq!(entries[0].kind, "statement.delivered");
    let d = w.incident.statements[0].publications[0].delivery.clone().expect("owed");
    assert_eq!(d.status, DeliveryStatus::Delivered);
    let attempts: Vec<(u32, bool, &str, Option<&str>)> =
        d.attempts.iter().map(|a| (a.attempt, a.delivered, a.sha256.as_str(), a.detail.as_deref())).collect();
    let hash = sha256_hex(TEXT.as_bytes());
    assert_eq!(
        attempts,
        [
            (1, false, hash.as_str(), Some("HTTP 500")),
            (2, false, hash.as_str(), Some("HTTP 410")),
            (3, true, hash.as_str(), Some("HTTP 200: ok")),
        ]
    );
    assert_eq!(
        conflict(system(&mut w, delivery(1, 1, "status-page", TEXT, Ok(None)))),
        "no delivery of ST-1 v1 is owed to status-page",
        "a delivered publication is not delivered twice"
    );

    // The post-incident report shows each attempt, and its timeline describes the new kinds.
    let md = report_of(&w.record, &w.incident, &w, "cmd").to_markdown();
    for line in [
        "  - attempt 1 at ",
        ": failed, tried again, sent SHA-256 ",
        ": failed for good, sent SHA-256 ",
        ": delivered, sent SHA-256 ",
        ": HTTP 200: ok",
    ] {
        assert!(md.contains(line), "the report says '{line}':\n{md}");
    }
    let described: Vec<String> =
        w.record.iter().rev().take(4).map(|e| sitrep_core::post_report::describe(e, true)).collect();
    assert!(described[0].starts_with("delivered ST-1 v1 to status-page (attempt 3, sent "), "{described:?}");
    assert!(described[1].starts_with("asked to retry delivering ST-1 v1 to status-page"), "{described:?}");
    assert!(described[2].contains("HTTP 410; not tried again unless someone asks"), "{described:?}");
}
