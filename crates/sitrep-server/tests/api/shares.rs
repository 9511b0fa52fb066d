//! Third parties and share links: the registry (admins only), engaging a party on an incident,
//! and the expiring, revocable links that approved `evidence_sharing` decisions create, through
//! which a party without an account fetches exactly the items named, every use recorded.

use std::os::unix::fs::PermissionsExt;

use reqwest::header::CONTENT_DISPOSITION;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sitrep_server::Config;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::helpers::*;

const PARTY: &str = "acme-msp";
/// A name with markup, to show the page escapes it.
const SHARED_NAME: &str = "edr-alert <b>42</b>.json";
const SHARED_BYTES: &[u8] = b"{\"alert\": 42, \"host\": \"laptop-17\"}";
const PRIVATE_NAME: &str = "hr-interview-notes.txt";
const PRIVATE_BYTES: &[u8] = b"not for third parties";

fn acme() -> Value {
    json!({
        "party": PARTY,
        "name": "Acme Managed Services",
        "kind": "msp",
        "contacts": [{"name": "Ann Acme", "role": "SOC lead", "email": "soc@acme.example", "phone": "+1 555 0100"}],
        "operates": "our endpoint detection agents",
        "authority": ["may suspend their integration", "may revoke their access"],
        "sharing_rule": "alerts and logs, never personal data",
    })
}

/// The connector worker, which executes approved decisions' actions (a share action creates
/// the share), running against the test server's ledger and clock until dropped.
struct RunningWorker {
    stop: watch::Sender<bool>,
    _task: JoinHandle<()>,
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn start_worker(app: &TestApp) -> RunningWorker {
    let (stop, shutdown) = watch::channel(false);
    let config = Config { data: app.data.clone(), ..Config::default() };
    let worker = sitrep_server::connectors::Worker::new(app.ledger.clone(), config, app.clock.clock());
    RunningWorker { stop, _task: tokio::spawn(worker.run(shutdown)) }
}

/// An incident with two evidence items and Acme engaged, one item shared with Acme through an
/// approved `evidence_sharing` decision.
struct Shared {
    app: TestApp,
    incident: String,
    shared: String,
    private: String,
    /// The link's path, `/shares/<token>`.
    link: String,
    _worker: RunningWorker,
}

impl Shared {
    fn at(&self, path: &str) -> String {
        format!("/api/v1/incidents/{}{path}", self.incident)
    }

    /// Anonymous GET: a share link needs no account.
    async fn open(&self, path: &str) -> Response {
        self.app.client.get(self.app.url(path)).send().await.expect("the server answers")
    }

    async fn share(&self, who: &str) -> Value {
        let state = self.app.state(who, &self.incident).await;
        state["shares"][0].clone()
    }

    async fn seq(&self) -> u64 {
        self.app.state(COMMANDER, &self.incident).await["seq"].as_u64().expect("a seq")
    }

    async fn custody(&self, sha256: &str) -> Vec<Value> {
        let listing = self.app.get_json(COMMANDER, &self.at("/evidence")).await;
        let item = listing["evidence"].as_array().expect("a list").iter().find(|i| i["sha256"] == sha256).cloned();
        item.expect("the item is listed")["custody"].as_array().expect("custody").clone()
    }
}

/// Waits until the state shows a share, and returns the state.
async fn wait_for_share(app: &TestApp, incident: &str) -> Value {
    sitrep_testing::eventually("the worker to create the share", PATIENCE, || async {
        let state = app.state(COMMANDER, incident).await;
        if state["shares"].as_array().is_some_and(|s| !s.is_empty()) { Ok(state) } else { Err(state.to_string()) }
    })
    .await
}

async fn shared_setup(expires_in_hours: u32) -> Shared {
    let app = spawn_app().await;
    app.post_ok(ADMIN, "/api/v1/parties", acme(), StatusCode::CREATED).await;
    let incident = app.standard_incident("EDR alert on a laptop", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    let engaged = app
        .post_ok(LEGAL, &at("/parties"), json!({"party": PARTY, "reason": "they run the EDR"}), StatusCode::CREATED)
        .await;
    assert_eq!(engaged["parties"][0]["party"], PARTY);
    let shared = app.evidence(RESPONDER, &incident, SHARED_NAME, SHARED_BYTES).await["sha256"]
        .as_str()
        .expect("a hash")
        .to_owned();
    let private = app.evidence(RESPONDER, &incident, PRIVATE_NAME, PRIVATE_BYTES).await["sha256"]
        .as_str()
        .expect("a hash")
        .to_owned();
    let worker = start_worker(&app);

    let body = json!({
        "class": "evidence_sharing",
        "title": "Send Acme the EDR alert",
        "actions": [{"connector": "share", "party": PARTY, "items": [shared], "expires_in_hours": expires_in_hours}],
    });
    let decision = app.post_ok(RESPONDER, &at("/decisions"), body, StatusCode::CREATED).await;
    assert_eq!(decision["state"], "proposed");
    let decision = app.post_ok(LEGAL, &at("/decisions/D-1/approve"), json!({}), StatusCode::OK).await;
    assert_eq!(decision["state"], "proposed", "legal alone is not enough: the commander must approve too");
    assert_eq!(app.state(COMMANDER, &incident).await["shares"], json!([]), "no share before approval");
    let decision = app.post_ok(COMMANDER, &at("/decisions/D-1/approve"), json!({}), StatusCode::OK).await;
    assert_eq!(decision["state"], "approved");

    let state = wait_for_share(&app, &incident).await;
    let url = state["shares"][0]["url"].as_str().expect("the commander sees the link");
    let link = url[url.find("/shares/").expect("a share path")..].to_owned();
    Shared { app, incident, shared, private, link, _worker: worker }
}

#[tokio::test]
async fn an_approved_evidence_sharing_decision_creates_a_link_to_exactly_its_items() {
    let s = shared_setup(24).await;
    let share = s.share(COMMANDER).await;
    assert_eq!(share["id"], "SH-1");
    assert_eq!(share["party"], PARTY);
    assert_eq!(share["items"], json!([s.shared]), "exactly the items the decision named");
    assert_eq!(share["live"], true);
    assert_eq!(share["uses"], 0);
    assert!(share["revoked"].is_null());
    let expires: jiff::Timestamp = share["expires_at"].as_str().expect("a time").parse().expect("RFC 3339");
    let in_a_day = s.app.clock.now().as_jiff() + jiff::SignedDuration::from_hours(24);
    assert!((in_a_day - expires).as_secs().abs() < 60, "it expires in 24 hours: {expires}");
    let record = s.app.record(COMMANDER, &s.incident).await;
    let created = record.iter().find(|e| e["kind"] == "share.created").expect("a share.created entry");
    assert_eq!(created["actor"], "system:worker");

    // The link is for those who handle evidence or third parties.
    for who in [COMMANDER, LEGAL, RESPONDER, TECH_LEAD] {
        assert_eq!(s.share(who).await["url"].as_str().map(|u| u.ends_with(&s.link)), Some(true), "{who} sees the link");
    }
    for who in [EXECUTIVE, COMMS, OUTSIDER, VIEWER, AUDITOR, ADMIN] {
        let share = s.share(who).await;
        assert!(share.get("url").is_none(), "{who} does not see the link: {share}");
        assert_eq!(share["id"], "SH-1", "{who} sees that there is a share");
    }

    // The page, without an account, lists the shared item only, its name escaped.
    let page = s.open(&s.link).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(content_type(page.headers()).starts_with("text/html"));
    let html = page.text().await.expect("a page");
    assert!(!html.contains("<b>42</b>"), "the name is text, not markup: {html}");
    assert!(
        html.contains("edr-alert &#60;b&#62;42&#60;/b&#62;.json") || html.contains("edr-alert &lt;b&gt;42"),
        "{html}"
    );
    assert!(html.contains(&s.shared) && html.contains("Acme Managed Services"), "{html}");
    assert!(!html.contains(PRIVATE_NAME) && !html.contains(&s.private), "nothing else: {html}");
    assert_eq!(s.share(COMMANDER).await["uses"], 0, "looking at the list is not a use");

    // A download through the link is served like any, and recorded first.
    let seq_before = s.seq().await;
    let response = s.open(&format!("{}/{}", s.link, s.shared)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "application/octet-stream");
    let disposition = response.headers().get(CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(response.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    let record = s.app.record(COMMANDER, &s.incident).await;
    let used = record.last().expect("entries");
    assert_eq!(used["seq"], json!(seq_before + 1), "one entry, written before the body was read");
    assert_eq!(used["kind"], "evidence.accessed");
    assert_eq!(used["actor"], "system:share");
    assert_eq!(used["body"]["share"], "SH-1");
    assert_eq!(used["body"]["sha256"], s.shared);
    assert_eq!(response.bytes().await.expect("the body").as_ref(), SHARED_BYTES);
    let custody = s.custody(&s.shared).await;
    assert_eq!(custody.len(), 1);
    assert_eq!(custody[0]["by"], "system:share");
    assert_eq!(custody[0]["share"], "SH-1");
    assert!(custody[0]["purpose"].as_str().expect("a purpose").contains(PARTY), "{custody:?}");
    assert_eq!(s.share(COMMANDER).await["uses"], 1);
    s.open(&format!("{}/{}", s.link, s.shared)).await.bytes().await.expect("a second use");
    assert_eq!(s.custody(&s.shared).await.len(), 2, "every use is recorded");

    // The link reaches nothing else.
    let seq_before = s.seq().await;
    for other in [s.private.clone(), sha256_hex(b"never uploaded"), "..%2F..%2Fsitrep.db".to_owned()] {
        problem(s.open(&format!("{}/{other}", s.link)).await, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(s.seq().await, seq_before, "a refused use is not recorded");
    assert!(s.custody(&s.private).await.is_empty());
}

#[tokio::test]
async fn a_tampered_or_made_up_share_link_is_not_found() {
    let s = shared_setup(24).await;
    let token = s.link.strip_prefix("/shares/").expect("a token").to_owned();
    let (incident, rest) = token.split_once('.').expect("incident.share.mac");
    let (share, mac) = rest.split_once('.').expect("share.mac");
    let mut flipped = mac.to_owned();
    let last = flipped.pop().expect("a MAC");
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for forged in [
        format!("{incident}.{share}.{flipped}"),
        format!("{incident}.2.{mac}"),
        format!("2.{share}.{mac}"),
        format!("{incident}.{share}."),
        format!("{incident}.{share}"),
        "not-a-token".to_owned(),
        format!("{incident}.{share}.{mac}x"),
    ] {
        problem(s.open(&format!("/shares/{forged}")).await, StatusCode::NOT_FOUND).await;
        problem(s.open(&format!("/shares/{forged}/{}", s.shared)).await, StatusCode::NOT_FOUND).await;
    }
    assert!(s.custody(&s.shared).await.is_empty(), "no forged link reached the item");
    assert_eq!(s.share(COMMANDER).await["uses"], 0);
}

#[tokio::test]
async fn revoking_a_share_stops_its_link_at_once_and_is_recorded() {
    let s = shared_setup(24).await;
    let download = format!("{}/{}", s.link, s.shared);
    assert_eq!(s.open(&download).await.status(), StatusCode::OK);

    let revoke = s.at("/shares/SH-1/revoke");
    for who in [RESPONDER, EXECUTIVE, OUTSIDER, VIEWER] {
        problem(s.app.post(who, &revoke, json!({})).await, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(s.open(&download).await.status(), StatusCode::OK, "refused revocations changed nothing");
    let answer = s.app.post_ok(LEGAL, &revoke, json!({"reason": "Acme's NDA lapsed"}), StatusCode::OK).await;
    let share = &answer["shares"][0];
    assert_eq!(share["live"], false);
    assert_eq!(share["revoked"]["by"], LEGAL);

    let seq_before = s.seq().await;
    let refused = problem(s.open(&download).await, StatusCode::GONE).await;
    assert!(refused["detail"].as_str().expect("detail").contains("revoked"), "{refused}");
    let refused = problem(s.open(&s.link).await, StatusCode::GONE).await;
    assert!(refused["detail"].as_str().expect("detail").contains("revoked"), "{refused}");
    assert_eq!(s.seq().await, seq_before, "a use of a revoked link is not recorded");
    assert_eq!(s.custody(&s.shared).await.len(), 2, "only the two uses before revocation");

    problem(s.app.post(COMMANDER, &revoke, json!({})).await, StatusCode::CONFLICT).await;
    problem(s.app.post(COMMANDER, &s.at("/shares/SH-9/revoke"), json!({})).await, StatusCode::NOT_FOUND).await;
    let record = s.app.record(COMMANDER, &s.incident).await;
    let revoked = record.iter().find(|e| e["kind"] == "share.revoked").expect("a share.revoked entry");
    assert_eq!(revoked["actor"], LEGAL);
    assert_eq!(revoked["body"]["share"], "SH-1");
    assert_eq!(revoked["body"]["reason"], "Acme's NDA lapsed");
}

#[tokio::test]
async fn a_share_link_stops_working_when_it_expires() {
    let s = shared_setup(2).await;
    let download = format!("{}/{}", s.link, s.shared);
    s.app.clock.advance(2 * 3600 - 60);
    assert_eq!(s.open(&s.link).await.status(), StatusCode::OK, "a minute before expiry it works");
    assert_eq!(s.open(&download).await.status(), StatusCode::OK);
    s.app.clock.advance(60);
    let seq_before = s.seq().await;
    let refused = problem(s.open(&download).await, StatusCode::GONE).await;
    assert!(refused["detail"].as_str().expect("detail").contains("expired"), "{refused}");
    problem(s.open(&s.link).await, StatusCode::GONE).await;
    assert_eq!(s.seq().await, seq_before, "a use of an expired link is not recorded");
    let share = s.share(COMMANDER).await;
    assert_eq!(share["live"], false, "{share}");
    assert_eq!(share["uses"], 1);
}

#[tokio::test]
async fn a_share_link_never_serves_a_corrupted_blob() {
    let s = shared_setup(24).await;
    let path = s.app.blob_path(&s.shared);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("made writable");
    let mut bytes = std::fs::read(&path).expect("the blob");
    bytes[0] ^= 0x20;
    std::fs::write(&path, &bytes).expect("a byte flipped");
    let problem = problem(s.open(&format!("{}/{}", s.link, s.shared)).await, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(problem["type"], "https://sitrep.invalid/problems/evidence-integrity");
    assert!(s.custody(&s.shared).await.is_empty(), "a refused download is not a use");
    let record = s.app.record(COMMANDER, &s.incident).await;
    assert_eq!(record.last().expect("entries")["kind"], "evidence.integrity_failed");
}

#[tokio::test]
async fn evidence_is_shared_only_through_an_evidence_sharing_decision_naming_an_engaged_party_and_its_items() {
    let app = spawn_app().await;
    app.post_ok(ADMIN, "/api/v1/parties", acme(), StatusCode::CREATED).await;
    let regulator = json!({"party": "dpa", "name": "Data Protection Authority", "kind": "regulator"});
    app.post_ok(ADMIN, "/api/v1/parties", regulator, StatusCode::CREATED).await;
    let incident = app.standard_incident("Sharing rules", false).await;
    let at = |path: &str| format!("/api/v1/incidents/{incident}{path}");
    app.post_ok(COMMANDER, &at("/parties"), json!({"party": PARTY}), StatusCode::CREATED).await;
    let sha256 = app.evidence(RESPONDER, &incident, "alert.json", SHARED_BYTES).await["sha256"]
        .as_str()
        .expect("a hash")
        .to_owned();
    let share = |party: &str, items: Value, hours: u32| json!([{"connector": "share", "party": party, "items": items, "expires_in_hours": hours}]);
    let seq_before = app.state(COMMANDER, &incident).await["seq"].clone();

    for (class, actions, field) in [
        ("containment", share(PARTY, json!([sha256]), 24), "actions[0]"),
        ("evidence_sharing", share("dpa", json!([sha256]), 24), "actions[0].party"),
        ("evidence_sharing", share("nobody", json!([sha256]), 24), "actions[0].party"),
        ("evidence_sharing", share(PARTY, json!([sha256_hex(b"unknown")]), 24), "actions[0].items"),
        ("evidence_sharing", share(PARTY, json!(["not-a-hash"]), 24), "actions[0].items"),
        ("evidence_sharing", share(PARTY, json!([]), 24), "actions[0].items"),
        ("evidence_sharing", share(PARTY, json!([sha256]), 0), "actions[0].expires_in_hours"),
        ("evidence_sharing", share(PARTY, json!([sha256]), 24 * 365), "actions[0].expires_in_hours"),
    ] {
        let body = json!({"class": class, "title": "Share it", "actions": actions});
        let refused =
            problem(app.post(COMMANDER, &at("/decisions"), body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], field, "{class} {actions}: {refused}");
    }
    assert_eq!(app.state(COMMANDER, &incident).await["seq"], seq_before, "nothing was proposed");

    // A rejected sharing decision shares nothing.
    let _worker = start_worker(&app);
    let body = json!({"class": "evidence_sharing", "title": "Share it", "actions": share(PARTY, json!([sha256]), 24)});
    app.post_ok(COMMANDER, &at("/decisions"), body, StatusCode::CREATED).await;
    app.post_ok(LEGAL, &at("/decisions/D-1/reject"), json!({"note": "not without an NDA"}), StatusCode::OK).await;
    assert_eq!(app.actions_due(), vec![], "a rejected decision leaves the worker no action to run");
    assert_eq!(app.state(COMMANDER, &incident).await["shares"], json!([]));
}

#[tokio::test]
async fn engaging_a_party_needs_a_registered_party_and_the_third_party_roles() {
    let app = spawn_app().await;
    app.post_ok(ADMIN, "/api/v1/parties", acme(), StatusCode::CREATED).await;
    let incident = app.standard_incident("Engagement", false).await;
    let engage = format!("/api/v1/incidents/{incident}/parties");
    let seq_before = app.state(COMMANDER, &incident).await["seq"].clone();

    let refused =
        problem(app.post(COMMANDER, &engage, json!({"party": "ghost-corp"})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(refused["field"], "party");
    assert!(refused["detail"].as_str().expect("detail").contains(PARTY), "it names the registered parties: {refused}");
    for who in [RESPONDER, TECH_LEAD, COMMS, EXECUTIVE, OUTSIDER, ADMIN] {
        let refused = problem(app.post(who, &engage, json!({"party": PARTY})).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["rule"], "actions.third_parties", "{who}: {refused}");
    }
    assert_eq!(app.state(COMMANDER, &incident).await["seq"], seq_before, "nothing was recorded");

    let answer = app
        .post_ok(COMMANDER, &engage, json!({"party": PARTY, "reason": "their agent alerted"}), StatusCode::CREATED)
        .await;
    let engaged = &answer["parties"][0];
    assert_eq!(engaged["party"], PARTY);
    assert_eq!(engaged["reason"], "their agent alerted");
    assert_eq!(engaged["engaged_by"], COMMANDER);
    assert_eq!(engaged["registry"]["contacts"][0]["email"], "soc@acme.example", "with how to reach them");
    assert_eq!(engaged["registry"]["authority"][0], "may suspend their integration", "and our authority over them");
    problem(app.post(LEGAL, &engage, json!({"party": PARTY})).await, StatusCode::CONFLICT).await;
    let state = app.state(VIEWER, &incident).await;
    assert_eq!(state["parties"][0]["registry"]["name"], "Acme Managed Services");
    let record = app.record(COMMANDER, &incident).await;
    assert_eq!(record.last().expect("entries")["kind"], "party.engaged");

    // The SITREP lists the engaged party with its contacts and our authority over it.
    let sitrep = app.get_json(EXECUTIVE, &format!("/api/v1/incidents/{incident}/sitrep")).await;
    let party = &sitrep["third_parties"][0];
    assert_eq!(party["name"], "Acme Managed Services", "{sitrep}");
    assert_eq!(party["contacts"][0]["phone"], "+1 555 0100");
    assert_eq!(party["authority"], json!(["may suspend their integration", "may revoke their access"]));
    let markdown = app
        .request(Method::GET, Some(EXECUTIVE), &format!("/api/v1/incidents/{incident}/sitrep"))
        .header(reqwest::header::ACCEPT, "text/markdown")
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a body");
    assert!(markdown.contains("Acme Managed Services") && markdown.contains("soc@acme.example"), "{markdown}");
    assert!(markdown.contains("may suspend their integration"), "{markdown}");
}

#[tokio::test]
async fn only_admins_register_and_change_third_parties_and_every_change_is_recorded() {
    let app = spawn_app().await;
    for who in [COMMANDER, LEGAL, VIEWER, AUDITOR] {
        let refused = problem(app.post(who, "/api/v1/parties", acme()).await, StatusCode::FORBIDDEN).await;
        assert!(refused["detail"].as_str().expect("detail").contains("admin"), "{who}: {refused}");
    }
    let anonymous = app.client.post(app.url("/api/v1/parties")).json(&acme()).send().await.expect("an answer");
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.get_json(COMMANDER, "/api/v1/parties").await["parties"], json!([]));

    let party = app.post_ok(ADMIN, "/api/v1/parties", acme(), StatusCode::CREATED).await;
    assert_eq!(party["party"], PARTY);
    assert_eq!(party["kind"], "msp");
    assert_eq!(party["contacts"][0]["phone"], "+1 555 0100");
    assert_eq!(party["sharing_rule"], "alerts and logs, never personal data");
    problem(app.post(ADMIN, "/api/v1/parties", acme()).await, StatusCode::CONFLICT).await;

    for (field, value) in [("kind", json!("friend")), ("party", json!("Acme MSP!")), ("name", json!(""))] {
        let mut body = acme();
        body["party"] = json!("another");
        body[field] = value;
        let refused = problem(app.post(ADMIN, "/api/v1/parties", body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], field, "{refused}");
    }
    let mut body = acme();
    body["party"] = json!("another");
    body["website"] = json!("https://acme.example");
    problem(app.post(ADMIN, "/api/v1/parties", body).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    for kind in ["cloud_operator", "vendor", "regulator", "law_enforcement", "counsel"] {
        let body = json!({"party": kind.replace('_', "-"), "name": format!("A {kind}"), "kind": kind});
        app.post_ok(ADMIN, "/api/v1/parties", body, StatusCode::CREATED).await;
    }

    let mut update = acme();
    update.as_object_mut().expect("an object").remove("party");
    update["contacts"] = json!([{"name": "Bob Acme", "email": "bob@acme.example"}]);
    let path = format!("/api/v1/parties/{PARTY}");
    let put = |who: &'static str, body: Value| app.request(Method::PUT, Some(who), &path).json(&body).send();
    problem(put(COMMANDER, update.clone()).await.expect("an answer"), StatusCode::FORBIDDEN).await;
    let updated = json_of(put(ADMIN, update.clone()).await.expect("an answer"), StatusCode::OK).await;
    assert_eq!(updated["contacts"], json!([{"name": "Bob Acme", "email": "bob@acme.example"}]));
    assert_eq!(updated["updated_by"], ADMIN);
    problem(put(ADMIN, update.clone()).await.expect("an answer"), StatusCode::CONFLICT).await;
    let missing = app.request(Method::PUT, Some(ADMIN), "/api/v1/parties/ghost-corp").json(&update).send().await;
    problem(missing.expect("an answer"), StatusCode::NOT_FOUND).await;

    let listed = app.get_json(VIEWER, "/api/v1/parties").await;
    let ids: Vec<&str> =
        listed["parties"].as_array().expect("a list").iter().map(|p| p["party"].as_str().expect("an id")).collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert!(ids.contains(&PARTY));
    let acme = listed["parties"].as_array().expect("a list").iter().find(|p| p["party"] == PARTY).expect("acme");
    assert_eq!(acme["contacts"][0]["name"], "Bob Acme", "the list shows the update");

    let org = app.get_json(AUDITOR, "/api/v1/org/record").await;
    let kinds: Vec<&str> =
        org["entries"].as_array().expect("entries").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "party.registered").count(), 6);
    assert_eq!(kinds.iter().filter(|k| **k == "party.updated").count(), 1);
}

#[tokio::test]
async fn closing_the_incident_ends_its_share_links() {
    let s = shared_setup(24).await;
    let download = format!("{}/{}", s.link, s.shared);
    assert_eq!(s.open(&download).await.status(), StatusCode::OK);
    crate::review::ready_to_close(&s.app, &s.incident).await;
    let body = json!({"class": "close", "title": "Done; close"});
    s.app.post_ok(COMMANDER, &s.at("/decisions"), body, StatusCode::CREATED).await;
    s.app.post_ok(EXECUTIVE, &s.at("/decisions/D-2/approve"), json!({}), StatusCode::OK).await;
    assert_eq!(s.app.state(COMMANDER, &s.incident).await["phase"], "closed");

    let refused = problem(s.open(&download).await, StatusCode::GONE).await;
    assert!(refused["detail"].as_str().expect("detail").contains("closed"), "{refused}");
    problem(s.open(&s.link).await, StatusCode::GONE).await;
    let share = s.share(COMMANDER).await;
    assert_eq!(share["live"], false, "the incident shows the link as no longer live: {share}");
    assert_eq!(s.custody(&s.shared).await.len(), 1);
}
