//! The Matrix adapter: the client-server API over `reqwest`, the incident rooms, and the bot
//! that reads commands with `/sync`.
//!
//! For each open incident the bot opens one private, invite-only room (recorded as
//! `chat.room_opened` by `system:chat`, so a restart finds it), invites the linked holders of
//! the incident's roles who may see it, removes anyone else, and keeps the SITREP headline
//! posted (edited with `m.replace` when it changes). It wakes on the ledger's commits, like
//! the action worker. Evidence never goes to a room.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sitrep_core::decide::{SystemCommand, can_see};
use sitrep_core::events::DecisionState;
use sitrep_core::incident::IncidentState;
use sitrep_core::org::OrgState;
use sitrep_core::{DecisionId, IncidentNumber, Phase, Timestamp};
use sitrep_store::Ledger;
use sitrep_store::ledger::Clock;
use tokio::sync::{Notify, watch};

use super::{LinkCodes, Origin};
use crate::config::{ConfigError, MatrixConfig};

/// The chat system's name in the record.
pub const SYSTEM: &str = "matrix";

/// Events older than this are not acted on: their idempotency key may be gone.
const STALE_HOURS: i64 = 23;

/// The reaction that marks a message as a fact.
pub const PIN: &str = "📌";

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("the homeserver could not be reached: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the homeserver answered {status}: {body}")]
    Status { status: u16, body: String },
}

/// A client of one homeserver, as the bot's account.
#[derive(Debug, Clone)]
pub struct Matrix {
    http: reqwest::Client,
    base: String,
    token: String,
    pub user_id: String,
}

fn enc(part: &str) -> String {
    form_urlencoded::byte_serialize(part.as_bytes()).collect()
}

impl Matrix {
    pub fn new(config: &MatrixConfig) -> Result<Matrix, ConfigError> {
        let token = crate::config::secret(&config.access_token, &config.access_token_env, "[matrix] access_token")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.sync_timeout_secs + 30))
            .build()
            .map_err(|e| ConfigError::Env { name: "[matrix]".into(), value: String::new(), message: e.to_string() })?;
        Ok(Matrix {
            http,
            base: config.homeserver.trim_end_matches('/').to_owned(),
            token,
            user_id: config.user_id.clone(),
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, MatrixError> {
        let mut request =
            self.http.request(method, format!("{}/_matrix/client/v3{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(MatrixError::Status { status: status.as_u16(), body: text.chars().take(300).collect() });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A private, invite-only room where only the bot may invite, with `invite` invited.
    pub async fn create_room(&self, name: &str, invite: &[String]) -> Result<String, MatrixError> {
        let body = json!({
            "preset": "private_chat",
            "visibility": "private",
            "name": name,
            "invite": invite,
            "power_level_content_override": {"invite": 100, "kick": 100, "ban": 100},
        });
        let answer = self.call(reqwest::Method::POST, "/createRoom", Some(body)).await?;
        Ok(answer["room_id"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn invite(&self, room: &str, user: &str) -> Result<(), MatrixError> {
        let path = format!("/rooms/{}/invite", enc(room));
        self.call(reqwest::Method::POST, &path, Some(json!({"user_id": user}))).await.map(drop)
    }

    pub async fn kick(&self, room: &str, user: &str, reason: &str) -> Result<(), MatrixError> {
        let path = format!("/rooms/{}/kick", enc(room));
        self.call(reqwest::Method::POST, &path, Some(json!({"user_id": user, "reason": reason}))).await.map(drop)
    }

    pub async fn join(&self, room: &str) -> Result<(), MatrixError> {
        self.call(reqwest::Method::POST, &format!("/join/{}", enc(room)), Some(json!({}))).await.map(drop)
    }

    /// Who is in the room or invited to it.
    pub async fn members(&self, room: &str) -> Result<BTreeSet<String>, MatrixError> {
        let answer = self.call(reqwest::Method::GET, &format!("/rooms/{}/members", enc(room)), None).await?;
        Ok(answer["chunk"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| matches!(event["content"]["membership"].as_str(), Some("join" | "invite")))
            .filter_map(|event| event["state_key"].as_str().map(str::to_owned))
            .collect())
    }

    pub async fn send(&self, room: &str, content: Value) -> Result<String, MatrixError> {
        let path = format!("/rooms/{}/send/m.room.message/{}", enc(room), uuid::Uuid::new_v4());
        let answer = self.call(reqwest::Method::PUT, &path, Some(content)).await?;
        Ok(answer["event_id"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn say(&self, room: &str, text: &str) -> Result<String, MatrixError> {
        self.send(room, json!({"msgtype": "m.notice", "body": text})).await
    }

    /// Replaces the text of an earlier message (`m.replace`).
    pub async fn edit(&self, room: &str, event: &str, text: &str) -> Result<String, MatrixError> {
        self.send(
            room,
            json!({
                "msgtype": "m.notice",
                "body": format!("* {text}"),
                "m.new_content": {"msgtype": "m.notice", "body": text},
                "m.relates_to": {"rel_type": "m.replace", "event_id": event},
            }),
        )
        .await
    }

    pub async fn event(&self, room: &str, event: &str) -> Result<Value, MatrixError> {
        self.call(reqwest::Method::GET, &format!("/rooms/{}/event/{}", enc(room), enc(event)), None).await
    }

    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64) -> Result<Value, MatrixError> {
        let mut path = format!("/sync?timeout={timeout_ms}");
        if let Some(since) = since {
            path.push_str(&format!("&since={}", enc(since)));
        }
        self.call(reqwest::Method::GET, &path, None).await
    }
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot").field("user_id", &self.matrix.user_id).finish()
    }
}

/// The bot: the rooms loop and the `/sync` loop.
pub struct Bot {
    matrix: Matrix,
    ledger: Arc<Ledger>,
    clock: Clock,
    codes: Arc<LinkCodes>,
    sync_timeout_ms: u64,
    /// Wakes the rooms loop when a room's membership changed in Matrix.
    membership: Notify,
    base_url: String,
}

/// How many rooms are brought up to date at once.
const ROOMS_AT_ONCE: usize = 16;

/// Whether the rooms loop finished with this incident at its current state.
fn entry_ok(entry: &Seen, state: &IncidentState, org: &OrgState) -> bool {
    entry.at == (state.seq, org.seq)
}

/// What the rooms loop last did for an incident.
#[derive(Debug, Default)]
struct Seen {
    /// The incident's and the organisation's seq when last reconciled.
    at: (u64, u64),
    headline: Option<(String, String)>,
    carded: BTreeSet<DecisionId>,
    /// Who was due in the room when it was last checked against the homeserver.
    members: Option<BTreeSet<String>>,
}

impl Bot {
    pub fn new(
        config: &MatrixConfig,
        ledger: Arc<Ledger>,
        clock: Clock,
        codes: Arc<LinkCodes>,
        base_url: String,
    ) -> Result<Bot, ConfigError> {
        Ok(Bot {
            matrix: Matrix::new(config)?,
            ledger,
            clock,
            codes,
            sync_timeout_ms: config.sync_timeout_secs * 1000,
            membership: Notify::new(),
            base_url,
        })
    }

    /// Runs both loops until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let bot = Arc::new(self);
        let rooms = tokio::spawn(bot.clone().rooms(shutdown.clone()));
        let sync = tokio::spawn(bot.clone().sync_loop());
        let _ = shutdown.wait_for(|stop| *stop).await;
        rooms.abort();
        sync.abort();
    }

    async fn rooms(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut commits = self.ledger.commits();
        let mut seen: HashMap<IncidentNumber, Seen> = HashMap::new();
        loop {
            let mut failed = false;
            let org = self.ledger.org();
            let mut states = Vec::new();
            self.ledger.each_incident(|state| {
                let at = (state.seq, org.seq);
                if state.phase != Phase::Closed && seen.get(&state.id).is_none_or(|s| s.at != at) {
                    states.push(state.clone());
                }
            });
            // Rooms are brought up to date side by side: a busy homeserver's round trips
            // would otherwise add up across incidents.
            let work = states.into_iter().map(|state| {
                let mut entry = seen.remove(&state.id).unwrap_or_default();
                let (bot, org) = (&self, &org);
                async move {
                    let outcome = bot.reconcile(&state, org, &mut entry).await;
                    match outcome {
                        Ok(()) => entry.at = (state.seq, org.seq),
                        Err(error) => {
                            tracing::warn!(incident = %state.id, %error, "the Matrix room could not be brought up to date");
                        }
                    }
                    let ok = entry_ok(&entry, &state, org);
                    (state.id, entry, ok)
                }
            });
            let done: Vec<_> = futures_util::stream::iter(work).buffer_unordered(ROOMS_AT_ONCE).collect().await;
            for (id, entry, ok) in done {
                failed |= !ok;
                seen.insert(id, entry);
            }
            let retry = tokio::time::sleep(Duration::from_secs(if failed { 2 } else { 3600 }));
            tokio::select! {
                changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
                _ = commits.changed() => {}
                () = self.membership.notified() => seen.values_mut().for_each(|s| {
                    s.at = (0, 0);
                    s.members = None;
                }),
                () = retry => {}
            }
        }
    }

    /// The linked people who belong in the incident's room: its role holders who may see it.
    fn members_due(state: &IncidentState, org: &OrgState) -> BTreeSet<String> {
        let holders = state.roles.values().chain(state.unit_roles.values().flat_map(|roles| roles.values()));
        holders
            .flatten()
            .filter(|user| can_see(state, user))
            .filter_map(|user| org.user(user).filter(|u| u.active).and_then(|u| u.chat.get(SYSTEM)).cloned())
            .collect()
    }

    async fn reconcile(&self, state: &IncidentState, org: &OrgState, seen: &mut Seen) -> Result<(), MatrixError> {
        let due = Self::members_due(state, org);
        let room = match state.chat_rooms.get(SYSTEM) {
            Some(room) if seen.members.as_ref() == Some(&due) => room.clone(),
            Some(room) => {
                let present = self.matrix.members(room).await?;
                for user in due.difference(&present) {
                    self.matrix.invite(room, user).await?;
                }
                for user in present.difference(&due).filter(|u| **u != self.matrix.user_id) {
                    self.matrix.kick(room, user, "no longer holds a role on this incident, or may not see it").await?;
                }
                seen.members = Some(due);
                room.clone()
            }
            None => {
                let invite: Vec<String> = due.iter().cloned().collect();
                seen.members = Some(due);
                let room = self.matrix.create_room(&format!("{} {}", state.id, state.title), &invite).await?;
                let command = SystemCommand::OpenChatRoom { system: SYSTEM.into(), room: room.clone() };
                if let Err(error) = self.ledger.execute_system(state.id, "chat", command).await {
                    tracing::warn!(incident = %state.id, %error, "the new Matrix room could not be recorded");
                }
                room
            }
        };
        let now = (self.clock)();
        let text = super::headline(state, org, now);
        match &seen.headline {
            Some((event, old)) if *old == text => {
                let _ = event;
            }
            Some((event, _)) => {
                let event = event.clone();
                self.matrix.edit(&room, &event, &text).await?;
                seen.headline = Some((event, text));
            }
            None => {
                let event = self.matrix.say(&room, &text).await?;
                seen.headline = Some((event, text));
            }
        }
        for decision in state.decisions.iter().filter(|d| d.state == DecisionState::Proposed) {
            if seen.carded.contains(&decision.id) {
                continue;
            }
            if let Some(card) = super::approval_card(state, decision.id) {
                self.matrix.say(&room, &card).await?;
            }
            seen.carded.insert(decision.id);
        }
        Ok(())
    }

    async fn sync_loop(self: Arc<Self>) {
        let mut since: Option<String> = None;
        loop {
            let timeout = if since.is_some() { self.sync_timeout_ms } else { 0 };
            let answer = match self.matrix.sync(since.as_deref(), timeout).await {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::warn!(%error, "Matrix /sync failed; trying again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            since = answer["next_batch"].as_str().map(str::to_owned);
            if let Some(invites) = answer["rooms"]["invite"].as_object() {
                for room in invites.keys() {
                    if let Err(error) = self.matrix.join(room).await {
                        tracing::warn!(%room, %error, "could not accept a Matrix invitation");
                    }
                }
            }
            let Some(joined) = answer["rooms"]["join"].as_object() else { continue };
            for (room, data) in joined {
                for event in data["timeline"]["events"].as_array().into_iter().flatten() {
                    self.handle(room, event).await;
                }
            }
        }
    }

    /// The incident whose room this is.
    fn incident_of(&self, room: &str) -> Option<IncidentNumber> {
        let mut found = None;
        self.ledger.each_incident(|state| {
            if state.chat_rooms.get(SYSTEM).is_some_and(|r| r == room) {
                found = Some(state.id);
            }
        });
        found
    }

    /// One timeline event: a command, a 📌 reaction, or a membership change.
    pub async fn handle(&self, room: &str, event: &Value) {
        let sender = event["sender"].as_str().unwrap_or_default();
        if sender == self.matrix.user_id || sender.is_empty() {
            return;
        }
        let id = event["event_id"].as_str().unwrap_or_default().to_owned();
        let sent_at = event["origin_server_ts"].as_i64().and_then(|ms| Timestamp::from_unix_micros(ms * 1000));
        // Idempotency keys are kept for 24 hours; an older event (a first /sync after a long
        // stop) could be applied twice, so it is left alone.
        if sent_at.is_some_and(|at| at.plus_seconds(STALE_HOURS * 3600) < (self.clock)()) {
            return;
        }
        let permalink = |event: &str| format!("https://matrix.to/#/{room}/{event}");
        let (parsed, origin) = match event["type"].as_str() {
            Some("m.room.member") => {
                self.membership.notify_one();
                return;
            }
            Some("m.room.message") => {
                let body = event["content"]["body"].as_str().unwrap_or_default();
                let Some(parsed) = super::parse(body) else { return };
                let origin = Origin {
                    system: SYSTEM,
                    sender: sender.to_owned(),
                    room_incident: self.incident_of(room),
                    event: id.clone(),
                    permalink: permalink(&id),
                    sent_at,
                };
                match parsed {
                    Ok(parsed) => (parsed, origin),
                    Err(reply) => {
                        let _ = self.matrix.say(room, &reply).await;
                        return;
                    }
                }
            }
            Some("m.reaction") => {
                let relates = &event["content"]["m.relates_to"];
                if relates["key"].as_str() != Some(PIN) {
                    return;
                }
                let Some(target) = relates["event_id"].as_str() else { return };
                let marked = match self.matrix.event(room, target).await {
                    Ok(marked) => marked,
                    Err(error) => {
                        tracing::warn!(%error, "could not read a message marked with 📌");
                        return;
                    }
                };
                let org = self.ledger.org();
                if org.linked(SYSTEM, sender).is_none() {
                    let _ = self
                        .matrix
                        .say(room, &format!("{sender} is not linked to a sitrep user, so the 📌 was not recorded"))
                        .await;
                    return;
                }
                let author = marked["sender"].as_str().unwrap_or_default().to_owned();
                let text = marked["content"]["body"].as_str().unwrap_or_default().to_owned();
                let origin = Origin {
                    system: SYSTEM,
                    sender: author,
                    room_incident: self.incident_of(room),
                    // Two pins on one message make one fact.
                    event: format!("pin:{target}"),
                    permalink: permalink(target),
                    sent_at: marked["origin_server_ts"].as_i64().and_then(|ms| Timestamp::from_unix_micros(ms * 1000)),
                };
                (super::Parsed { incident: None, command: super::ChatCommand::Fact(text) }, origin)
            }
            _ => return,
        };
        let now = (self.clock)();
        if let Some(reply) = super::run(&self.ledger, &self.codes, now, &origin, parsed).await {
            let reply =
                reply.replace("the Tokens page", &format!("the Tokens page ({}/account/tokens)", self.base_url));
            if let Err(error) = self.matrix.say(room, &reply).await {
                tracing::warn!(%room, %error, "could not answer in Matrix");
            }
        }
    }
}
