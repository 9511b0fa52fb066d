//! Live events: Server-Sent Events, one per new entry, `id:` = seq.
//!
//! A stream subscribes to the incident's live channel *before* it reads the store, then sends
//! what the store holds after the client's `Last-Event-ID` (or `?after=`), then live entries,
//! skipping any seq it already sent: no gap, no duplicate. A client that falls behind the live
//! channel is caught up from the store; a slow client only ever holds up its own stream. The
//! stream ends when the server shuts down, or as soon as the caller's credential stops holding
//! (token revoked or expired, session signed out, user disabled) or the caller stops being
//! allowed to see a restricted incident: that is checked before every event is sent, and the
//! stream also wakes to check when the organisation record changes or a session ends.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use sitrep_core::view::is_evidence_entry;
use sitrep_core::{Entry, IncidentNumber, IncidentView, RecordId};
use sitrep_store::Committed;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use utoipa::IntoParams;

use super::incident_number;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Params, Segments};
use crate::state::AppState;
use crate::views;

/// Entries read from the store per catch-up step.
const CATCH_UP: usize = 1_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Send entries after this seq first (as `Last-Event-ID` does); `0` replays the whole
    /// record. Without either, only new entries are sent.
    #[serde(default, deserialize_with = "crate::extract::int64")]
    after: Option<u64>,
}

struct Follow {
    app: AppState,
    caller: Caller,
    number: IncidentNumber,
    live: broadcast::Receiver<Arc<Committed>>,
    /// Organisation changes (a token revoked, a user disabled) end the stream without waiting
    /// for the incident's next entry.
    org: broadcast::Receiver<Arc<Committed>>,
    sessions_ended: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// The last seq sent.
    sent: u64,
    pending: VecDeque<Entry>,
    /// Whether the store may hold entries after `sent` that the live channel will not bring.
    behind: bool,
}

/// Stream new entries of the incident as they commit. A reconnecting client's standard
/// `Last-Event-ID` header (a seq) resumes after that entry, as `after` does.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/events", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>"), EventsQuery),
    responses((status = 200, description = "text/event-stream: one event per entry, `id:` = seq, data = the entry as JSON", content_type = "text/event-stream"), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn events(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    Params(query): Params<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|seq| *seq <= i64::MAX as u64)
                .ok_or_else(|| ApiError::invalid("Last-Event-ID", "must be the seq of the last entry received"))?,
        ),
        None => query.after,
    };
    // Subscribe first, then look at the head: anything committed in between is in both and is
    // sent once, because entries at or below `sent` are skipped.
    let live = app.ledger.subscribe(RecordId::Incident(number));
    let org = app.ledger.subscribe(RecordId::Org);
    let head = super::read(&app, number, |state| state.seq)?;
    let sent = resume.unwrap_or(head).min(head);
    let follow = Follow {
        shutdown: app.shutdown.clone(),
        sessions_ended: app.auth.sessions_ended(),
        app,
        caller,
        number,
        live,
        org,
        sent,
        pending: VecDeque::new(),
        behind: sent < head,
    };
    Ok(Sse::new(stream::unfold(follow, next))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")))
}

impl Follow {
    /// Whether the caller may still receive this incident's entries.
    fn allowed(&self) -> bool {
        self.caller.still_valid(&self.app, self.app.now())
            && self
                .app
                .ledger
                .with_incident(self.number, |state| views::visible(state, &self.caller.user))
                .unwrap_or(false)
    }
}

/// The next event of a stream, or its end.
async fn next(mut follow: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    loop {
        if !follow.allowed() {
            return None;
        }
        if let Some(entry) = follow.pending.pop_front() {
            if entry.seq <= follow.sent {
                continue;
            }
            follow.sent = entry.seq;
            // Only an evidence entry depends on who reads it; whether they may is asked per
            // entry (their roles may change). Every other entry goes out without a state lookup.
            let data = if is_evidence_entry(&entry) {
                let org = follow.app.ledger.org();
                let now = follow.app.now();
                let seen = follow.app.ledger.with_incident(follow.number, |state| {
                    IncidentView::of(state, &org, &follow.caller.user, now).map(|view| views::json(view.entry(&entry)))
                });
                seen.flatten()?.to_string()
            } else {
                views::json(&entry).to_string()
            };
            return Some((Ok(Event::default().id(entry.seq.to_string()).data(data)), follow));
        }
        if follow.behind {
            let store = follow.app.ledger.store().clone();
            let (record, from) = (RecordId::Incident(follow.number), follow.sent + 1);
            let entries = tokio::task::spawn_blocking(move || store.read(record, from, CATCH_UP)).await.ok()?.ok()?;
            follow.behind = entries.len() == CATCH_UP;
            follow.pending.extend(entries);
            continue;
        }
        if *follow.shutdown.borrow() {
            return None;
        }
        tokio::select! {
            received = follow.live.recv() => match received {
                Ok(committed) => follow.pending.extend(committed.entries.iter().cloned()),
                Err(RecvError::Lagged(_)) => follow.behind = true,
                Err(RecvError::Closed) => return None,
            },
            // Only a wake-up: the check at the top of the loop decides.
            changed = follow.org.recv() => if let Err(RecvError::Closed) = changed { return None },
            changed = follow.sessions_ended.changed() => if changed.is_err() { return None },
            _ = follow.shutdown.changed() => return None,
        }
    }
}
