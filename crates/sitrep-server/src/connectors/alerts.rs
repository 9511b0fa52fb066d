//! Alerts: telling people it is their turn, by e-mail and by their own webhook.
//!
//! What a person is owed is read off the incident's state (`IncidentState::alerts_owed`), so it
//! survives any crash and is never told twice: `alert.sent` marks each thing told. Everything
//! owed to one person on one incident goes in one message, and not within [`MIN_GAP_SECONDS`]
//! of the last one that reached them, so a busy incident does not flood anyone; what falls due
//! in between waits for the next message. A failed route is retried with the worker's backoff
//! until [`super::MAX_FAILURES`]; a person with no usable route is owed nothing (the account
//! page says so). A decision's alert by e-mail carries a review link (`review_link`) that leads
//! to its review sheet after the person signs in; it never approves anything by itself.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde_json::json;
use sitrep_core::decide::SystemCommand;
use sitrep_core::incident::{AlertKind, IncidentState, Owed};
use sitrep_core::org::{OrgState, User};
use sitrep_core::sitrep::Sitrep;
use sitrep_core::{DecisionId, IncidentNumber, Timestamp, UserName};
use tokio::sync::Semaphore;

use super::{Due, Worker, backoff, channels, webhook};
use crate::config::Config;

/// The least time between two messages to one person about one incident.
pub const MIN_GAP_SECONDS: i64 = 60;
/// How long a review link works.
pub const REVIEW_LINK_HOURS: i64 = 24;
/// How long a person's webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The review-link key, derived from the deployment's signing key seed (as share links are):
/// the record holds no secret, and a link cannot be edited to name another person or decision.
pub fn derive_key(seed: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    if let Ok(mut mac) = HmacSha256::new_from_slice(seed) {
        mac.update(b"sitrep review links v1");
        key.copy_from_slice(&mac.finalize().into_bytes());
    }
    key
}

/// The routes this server can use to reach `user`, minus nothing: `email` needs `[smtp]`.
pub fn routes(config: &Config, user: &User) -> Vec<&'static str> {
    let mut routes = Vec::new();
    if user.contact.email.is_some() && config.smtp.is_some() {
        routes.push("email");
    }
    if user.contact.webhook.is_some() {
        routes.push("webhook");
    }
    routes
}

/// What is owed to people on one incident who can be reached and have not muted it.
fn reachable(state: &IncidentState, org: &OrgState, config: &Config, now: Timestamp) -> Vec<Owed> {
    state
        .alerts_owed(org, now)
        .into_iter()
        .filter(|owed| {
            org.users.get(&owed.person).is_some_and(|user| {
                !routes(config, user).is_empty()
                    // Escalations and clock warnings are obligations: they cannot be muted.
                    && (matches!(owed.kind, AlertKind::Escalation | AlertKind::Clock)
                        || !user.contact.mute.contains(&owed.kind))
            })
        })
        .collect()
}

/// When the next message to `person` may go: after the gap since the last one that reached
/// them, and after the backoff of the failures of what it would carry.
fn ready_at(state: &IncidentState, person: &UserName, items: &[&Owed]) -> Timestamp {
    let due = items.iter().map(|o| o.due_at).min().unwrap_or(state.updated_at);
    let Some(told) = state.alerts.people.get(person) else { return due };
    let gap = told.last_told.map(|at| at.plus_seconds(MIN_GAP_SECONDS));
    let failures = items.iter().filter_map(|o| told.failures.get(&o.key)).map(|f| f.0).max().unwrap_or(0);
    let retry = told.last_attempt.filter(|_| failures > 0).map(|at| at.plus_seconds(backoff(failures)));
    [Some(due), gap, retry].into_iter().flatten().max().unwrap_or(due)
}

/// Alerts due at `now` (one item per person and incident), and when the next falls due.
pub fn due(ledger: &sitrep_store::Ledger, config: &Config, now: Timestamp) -> (Vec<Due>, Option<Timestamp>) {
    let org = ledger.org();
    let mut work = Vec::new();
    let mut next: Option<Timestamp> = None;
    ledger.each_incident(|state| {
        let owed = reachable(state, &org, config, now);
        let mut people: Vec<&UserName> = owed.iter().map(|o| &o.person).collect();
        people.sort();
        people.dedup();
        for person in people {
            let items: Vec<&Owed> = owed.iter().filter(|o| &o.person == person && o.due_at <= now).collect();
            let at = if items.is_empty() {
                owed.iter().filter(|o| &o.person == person).map(|o| o.due_at).min()
            } else {
                Some(ready_at(state, person, &items))
            };
            match at {
                Some(at) if at <= now => work.push(Due::Alert { incident: state.id, person: person.clone() }),
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
    });
    (work, next)
}

/// What one message to one person says.
struct Letter {
    about: Vec<String>,
    message: channels::Message,
    key: String,
    routes: Vec<&'static str>,
    email: Option<String>,
    webhook: Option<String>,
}

impl Worker {
    /// Tells one person everything owed to them on one incident, on each of their routes, and
    /// records each attempt.
    pub(super) async fn alert(&self, incident: IncidentNumber, person: &UserName, outside: &Semaphore) {
        let org = self.ledger.org();
        let now = (self.clock)();
        let Some(letter) = self.ledger.with_incident(incident, |state| self.letter(state, &org, person, now)).flatten()
        else {
            return;
        };
        let Ok(_permit) = outside.acquire().await else { return };
        let mut outcomes = Vec::new();
        for route in &letter.routes {
            let outcome = match *route {
                "email" => match &letter.email {
                    Some(address) => {
                        channels::email(&self.config, std::slice::from_ref(address), &letter.message).await
                    }
                    None => continue,
                },
                _ => match &letter.webhook {
                    Some(url) => {
                        let secret = webhook_secret(&self.review_key, person);
                        webhook::post(&self.http, url, &secret, &letter.key, &letter.message.document, WEBHOOK_TIMEOUT)
                            .await
                    }
                    None => continue,
                },
            };
            outcomes.push((*route, outcome));
        }
        // Failures first: once one route reached them, the things it carried are told.
        outcomes.sort_by_key(|(_, outcome)| outcome.is_ok());
        for (route, outcome) in outcomes {
            let command = SystemCommand::Alerted {
                person: person.clone(),
                about: letter.about.clone(),
                route: route.to_owned(),
                outcome,
            };
            self.record(incident, "alerts", command).await;
        }
    }

    fn letter(&self, state: &IncidentState, org: &OrgState, person: &UserName, now: Timestamp) -> Option<Letter> {
        let user = org.users.get(person)?;
        let owed: Vec<Owed> = reachable(state, org, &self.config, now)
            .into_iter()
            .filter(|o| &o.person == person && o.due_at <= now)
            .collect();
        let first = owed.first()?;
        let base = self.config.base_url();
        let incident_url = format!("{base}/incidents/{}", state.id);
        let mut lines = Vec::new();
        let mut items = Vec::new();
        let mut digest = false;
        for item in &owed {
            let link = item
                .decision
                .and_then(|d| review_link(&self.review_key, state, d, person, &item.key, now))
                .map(|path| format!("{base}{path}"));
            // Whoever must approve a statement reads its exact text in the alert too.
            let bound = item
                .decision
                .and_then(|d| state.decision(d))
                .and_then(|d| sitrep_core::statement_text::bound_text(state, d))
                .map(|b| format!("\n  It approves {}", b.to_plain().replace('\n', "\n  ")))
                .unwrap_or_default();
            lines.push(match &link {
                Some(link) => format!("- {}{bound}\n  Review it (sign-in required): {link}", item.line),
                None => format!("- {}{bound}", item.line),
            });
            digest |= item.kind == AlertKind::Digest;
            items.push(json!({"key": item.key, "kind": item.kind, "text": item.line, "review": link}));
        }
        let drill = if state.exercise { "[EXERCISE] " } else { "" };
        let subject = match owed.len() {
            1 => format!("{drill}[sitrep] {}: {}", state.id, first.line),
            n => format!("{drill}[sitrep] {}: {n} things for you", state.id),
        };
        let name = user.display_name.clone().unwrap_or_else(|| person.to_string());
        let mut text = format!(
            "{name},\n\n{} \"{}\":\n\n{}\n\nThe incident: {incident_url}\n",
            state.id,
            state.title,
            lines.join("\n")
        );
        if digest {
            text.push_str("\n---\n\n");
            text.push_str(&Sitrep::of(state, org, now).to_markdown());
        }
        text.push_str(&format!(
            "\nYou are told this because of your part in the incident. How you are told: {base}/account/contact\n"
        ));
        let about: Vec<String> = owed.iter().map(|o| o.key.clone()).collect();
        let document = json!({
            "event": "alert",
            "incident": state.id,
            "incident_id": state.uuid,
            "title": state.title,
            "person": person,
            "items": items,
            "record": incident_url,
            "exercise": state.exercise,
        });
        Some(Letter {
            key: format!("sitrep:{}:alert:{person}:{}", state.uuid, about.join(",")),
            about,
            message: channels::Message { subject, text, document },
            routes: routes(&self.config, user),
            email: user.contact.email.clone(),
            webhook: user.contact.webhook.clone(),
        })
    }
}

/// A review link's parts: the incident, the decision, the person, when it expires, its nonce
/// and the decision's content hash when it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLink {
    pub incident: IncidentNumber,
    pub decision: DecisionId,
    pub person: UserName,
    pub expires: Timestamp,
    pub nonce: String,
    pub content: String,
}

/// What a decision says, hashed: the link is bound to it, so a decision that changed (there is
/// none today: a proposal is final) or another decision cannot be reached with it.
pub fn decision_content(state: &IncidentState, decision: DecisionId) -> Option<String> {
    use sha2::Digest as _;
    let found = state.decision(decision)?;
    let bound = sitrep_core::statement_text::bound_text(state, found).map(|b| b.to_plain());
    let specs: Vec<&sitrep_core::events::ActionSpec> = found.actions.iter().map(|a| &a.spec).collect();
    let content = json!({
        "class": found.class, "title": found.title, "rationale": found.rationale,
        "actions": specs, "statement": bound,
    });
    Some(hex::encode(sha2::Sha256::digest(content.to_string().as_bytes()))[..16].to_owned())
}

/// The secret a person's alert webhook is signed with: theirs alone, shown on their account
/// page so their receiver can check the signature, and derived, so nothing is stored.
pub fn webhook_secret(key: &[u8; 32], person: &UserName) -> String {
    link_mac(key, &format!("webhook~{person}")).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default()
}

fn link_mac(key: &[u8; 32], payload: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(payload.as_bytes());
    Some(mac)
}

/// The path of a review link for `person` to `decision`, one per alert (`alert_key`), so the
/// same alert sent again carries the same link, and its reminder another.
pub fn review_link(
    key: &[u8; 32],
    state: &IncidentState,
    decision: DecisionId,
    person: &UserName,
    alert_key: &str,
    now: Timestamp,
) -> Option<String> {
    let content = decision_content(state, decision)?;
    let nonce_mac = link_mac(key, &format!("nonce~{}~{decision}~{person}~{alert_key}", state.uuid))?;
    let nonce = hex::encode(nonce_mac.finalize().into_bytes())[..20].to_owned();
    let expires = now.plus_seconds(REVIEW_LINK_HOURS * 3600).unix_micros() / 1_000_000;
    // `~` separates: it is in no user name, decision id or hex.
    let payload = format!("{}~{decision}~{person}~{expires}~{nonce}~{content}", state.id.0);
    let tag = URL_SAFE_NO_PAD.encode(link_mac(key, &payload)?.finalize().into_bytes());
    Some(format!("/r/{payload}~{tag}"))
}

/// A review link's parts, if its MAC is right.
pub fn open_review_link(key: &[u8; 32], token: &str) -> Option<ReviewLink> {
    let (payload, tag) = token.rsplit_once('~')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    link_mac(key, payload)?.verify_slice(&tag).ok()?;
    let parts: Vec<&str> = payload.split('~').collect();
    let [incident, decision, person, expires, nonce, content] = parts.as_slice() else { return None };
    Some(ReviewLink {
        incident: IncidentNumber(incident.parse().ok()?),
        decision: decision.parse().ok()?,
        person: person.parse().ok()?,
        expires: Timestamp::from_unix_micros(expires.parse::<i64>().ok()?.checked_mul(1_000_000)?)?,
        nonce: (*nonce).to_owned(),
        content: (*content).to_owned(),
    })
}
