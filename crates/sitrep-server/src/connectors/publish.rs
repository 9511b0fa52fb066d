//! Publishing: delivering a published statement's approved bytes to its outlet.
//!
//! Publishing on a channel that `[outlets]` names for the statement's audience records a
//! publication that owes a delivery (`statement.published` with `outlet: true`); the fold keeps
//! it pending until the publisher (`system:publisher`) records `statement.delivered` or a final
//! `statement.delivery_failed`. Each attempt carries the SHA-256 of the text bytes it put on the
//! wire, which `decide_system` checks against the approved version's hash, so nothing but the
//! approved text can be recorded as delivered.
//!
//! What goes on the wire, and what is hashed (the statement's text as UTF-8, nothing else):
//! - a `webhook` channel gets a signed JSON body whose `text` field is the exact text (the
//!   receiver hashes the decoded string's UTF-8 bytes), beside the statement id, version,
//!   audience, title and `sha256`;
//! - a `slack` channel gets `{"text": <the exact text>}`;
//! - an `email` channel gets one `text/plain; charset=utf-8` part that is the exact text,
//!   base64-encoded so that no line ending or byte is changed in transit, with the statement's
//!   title as the subject.
//!
//! Every attempt carries one idempotency key (incident UUID, statement, version, outlet): the
//! webhook's `Idempotency-Key` header and the e-mail's `Message-ID`, so a retry causes one
//! effect at a receiver that deduplicates.

use base64::Engine;
use lettre::message::Body;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use serde_json::{Value, json};
use sitrep_core::IncidentNumber;
use sitrep_core::decide::{ActionFailure, SystemCommand};
use sitrep_core::entry::sha256_hex;
use sitrep_core::ids::StatementId;
use sitrep_core::incident::IncidentState;
use tokio::sync::Semaphore;

use super::{MAX_FAILURES, Worker, channels, dry_run};
use crate::config::Channel;

/// The key every attempt at delivering one publication carries.
pub fn publication_key(state: &IncidentState, statement: StatementId, version: u32, channel: &str) -> String {
    format!("sitrep:{}:{statement}:v{version}:{channel}", state.uuid)
}

/// One publication as the publisher sends it, read from the record before the attempt.
struct Outgoing {
    exercise: bool,
    key: String,
    title: String,
    text: String,
    document: Value,
    failures: u32,
}

impl Worker {
    /// Delivers one publication to its outlet (or, in an exercise, records what would have
    /// gone) and records the attempt with the hash of the text bytes sent.
    pub(super) async fn publication(
        &self,
        incident: IncidentNumber,
        statement: StatementId,
        version: u32,
        channel: &str,
        outside: &Semaphore,
    ) {
        let Some(out) = self
            .ledger
            .with_incident(incident, |state| {
                let found = state.statement(statement)?;
                let publication = found.publication(version, channel)?;
                let delivery = publication.delivery.as_ref().filter(|d| d.owed())?;
                let text = found.version(version)?.text.clone();
                let key = publication_key(state, statement, version, channel);
                let record = format!("{}/incidents/{}#statement-{statement}", self.config.base_url(), state.id);
                let document = json!({
                    "event": "statement.published",
                    "incident": state.id,
                    "incident_id": state.uuid,
                    "statement": statement,
                    "version": version,
                    "audience": found.audience,
                    "title": found.title,
                    "channel": channel,
                    "decision": publication.decision,
                    "sha256": publication.sha256,
                    "text": text,
                    "idempotency_key": key,
                    "exercise": state.exercise,
                    "record": record,
                });
                Some(Outgoing {
                    exercise: state.exercise,
                    key,
                    title: found.title.clone(),
                    text,
                    document,
                    failures: delivery.failures,
                })
            })
            .flatten()
        else {
            return;
        };
        // What is hashed is the text exactly as it is put on the wire.
        let sha256 = sha256_hex(out.text.as_bytes());
        let outcome = if out.exercise {
            channels::configured(&self.config, channel)
                .map(|()| Some(dry_run(&format!("delivered to {channel}"), &out.document)))
        } else {
            let Ok(_permit) = outside.acquire().await else { return };
            self.send_publication(channel, &out).await
        };
        let outcome = outcome.map_err(|mut failure| {
            if failure.retryable && out.failures + 1 >= MAX_FAILURES {
                failure.retryable = false;
                failure.reason = format!("{} (gave up after {MAX_FAILURES} attempts; retry by hand)", failure.reason);
            }
            failure
        });
        match &outcome {
            Ok(_) => tracing::info!(%incident, %statement, version, channel, "statement delivered"),
            Err(failure) => {
                tracing::warn!(%incident, %statement, version, channel, reason = %failure.reason, "statement not delivered")
            }
        }
        let command =
            SystemCommand::StatementDelivered { statement, version, channel: channel.to_owned(), sha256, outcome };
        self.record(incident, "publisher", command).await;
    }

    async fn send_publication(&self, channel: &str, out: &Outgoing) -> Result<Option<String>, ActionFailure> {
        channels::configured(&self.config, channel)?;
        match self.config.channels.get(channel) {
            Some(Channel::Email { to }) => {
                let (smtp, builder) = channels::addressed(&self.config, to, &out.title)?;
                let invalid = |reason: String| ActionFailure { reason, retryable: false };
                // Base64 keeps every byte of the text (lettre would otherwise rewrite line
                // endings of a text body), so the decoded part is exactly what was approved.
                let body = Body::new_with_encoding(out.text.as_bytes().to_vec(), ContentTransferEncoding::Base64)
                    .map_err(|_| invalid("the text cannot be encoded for mail".into()))?;
                let mail = builder
                    .message_id(Some(message_id(&out.key)))
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| invalid(e.to_string()))?;
                channels::send(smtp, mail).await
            }
            _ => {
                let message = channels::Message {
                    subject: out.title.clone(),
                    text: out.text.clone(),
                    document: out.document.clone(),
                };
                channels::deliver(&self.config, &self.http, channel, &out.key, &message).await
            }
        }
    }
}

/// A `Message-ID` made from the idempotency key, the same on every attempt.
fn message_id(key: &str) -> String {
    let local = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes());
    format!("<{local}@sitrep.publisher>")
}
