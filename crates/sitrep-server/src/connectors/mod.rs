//! Connectors: what approved decisions execute, who is told about decisions, and the
//! delivery of statements published on configured outlets (`publish.rs`).
//!
//! The outbox is the record itself. An approved decision's actions are in its approving entry
//! (its proposal carries them), so they become due in the same transaction that approves it;
//! the fold tracks each action's attempts and outcome, and each decision's notifications owed to
//! the channels of its class's path. This worker reads what is due from the folded state, runs
//! it, and writes every attempt and outcome back as entries (`system:worker`, `system:notifier`).
//! After a restart the fold says exactly what is still due, so pending work resumes.
//!
//! Each action carries an idempotency key built from the incident's UUID, the decision and the
//! action's index; receivers get it on every attempt, so a retry causes one effect. Failures
//! are retried with exponential backoff; after [`MAX_FAILURES`] the failure is recorded as final
//! and a person may retry it. In an exercise incident nothing leaves: what would have been sent
//! is recorded instead.
//!
//! Each due item runs as a task of its own, and the worker keeps looking for newly due work
//! while they run, so a slow receiver or a stuck command holds up nothing else: at most
//! [`CONCURRENCY`] items call out at once, while a missed deadline or a step with no outside
//! call (a task, a share link, an exercise) is recorded at once. An item is never started again
//! while it runs. A command runs under its timeout as a whole (`command`), and a receiver's
//! answer is read only as far as the record keeps it ([`read_answer`]). When the worker stops
//! it abandons what has not finished within half a second: nothing is recorded for it, so its
//! action is still due (`running`) and a restarted worker runs it again with the same key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sitrep_core::decide::{ActionFailure, SystemCommand};
use sitrep_core::events::{ActionSpec, DecisionState, Moment};
use sitrep_core::ids::StatementId;
use sitrep_core::incident::{ActionStatus, IncidentState, NoticeStatus};
use sitrep_core::{DecisionId, IncidentNumber, Timestamp};
use sitrep_store::Ledger;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Config;

pub mod alerts;
pub mod channels;
pub mod command;
pub mod publish;
pub mod webhook;

/// Automatic attempts before a failure is final (a person may still retry).
pub const MAX_FAILURES: u32 = 6;
/// Text kept from a receiver's answer or a command's output.
pub const KEEP: usize = 500;
/// Bytes read of a receiver's answer or a command's output: enough for [`KEEP`] characters of
/// UTF-8 (four bytes at most each), and one more to know whether there was more.
pub const ANSWER_BYTES: usize = KEEP * 4 + 1;
/// Actions and notifications that call out (a receiver, a command, a mail server) at once.
pub const CONCURRENCY: usize = 8;
/// How long a stopping worker waits for what is running to finish and be recorded.
const GRACE: Duration = Duration::from_millis(500);

/// Seconds to wait after `failures` failures: 2, 4, 8, … up to five minutes.
pub fn backoff(failures: u32) -> i64 {
    if failures == 0 { 0 } else { (1i64 << failures.min(8)).min(300) }
}

/// Work that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Action {
        incident: IncidentNumber,
        decision: DecisionId,
        action: u32,
    },
    Notice {
        incident: IncidentNumber,
        decision: DecisionId,
        moment: Moment,
        channel: String,
    },
    /// A regulatory clock's warning time has come: tell its path.
    ClockWarning {
        incident: IncidentNumber,
        clock: String,
    },
    /// A regulatory clock's deadline has passed while it still runs.
    ClockMissed {
        incident: IncidentNumber,
        clock: String,
    },
    /// A person is owed alerts on an incident (`alerts`).
    Alert {
        incident: IncidentNumber,
        person: sitrep_core::UserName,
    },
    /// A statement published on a configured outlet is owed its delivery there (`publish.rs`).
    Publication {
        incident: IncidentNumber,
        statement: StatementId,
        version: u32,
        channel: String,
    },
}

/// Everything due at `now`, and when the next retry falls due: what the worker starts. Tests
/// ask it to show that nothing is due, rather than sleeping and seeing nothing happen.
pub fn due(ledger: &Ledger, now: Timestamp) -> (Vec<Due>, Option<Timestamp>) {
    let mut work = Vec::new();
    let mut next: Option<Timestamp> = None;
    let mut consider = |at: Timestamp, item: Due, work: &mut Vec<Due>| {
        if at <= now {
            work.push(item);
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    };
    ledger.each_incident(|state| {
        // A closed record is final: an incident closed before submissions existed may hold a
        // clock that an approval once stopped; nobody is told of it and no miss is recorded.
        let open = state.phase != sitrep_core::Phase::Closed;
        for clock in state.clocks.iter().filter(|c| open && c.is_running()) {
            if clock.warned.is_none() && clock.missed_at.is_none() {
                let item = Due::ClockWarning { incident: state.id, clock: clock.clock.clone() };
                consider(clock.warn_at, item, &mut work);
            }
            if clock.missed_at.is_none() {
                consider(
                    clock.deadline,
                    Due::ClockMissed { incident: state.id, clock: clock.clock.clone() },
                    &mut work,
                );
            }
        }
        for decision in &state.decisions {
            if decision.state == DecisionState::Approved {
                for (index, action) in decision.actions.iter().enumerate() {
                    let item = Due::Action { incident: state.id, decision: decision.id, action: index as u32 };
                    match action.status {
                        ActionStatus::Pending | ActionStatus::Running => work.push(item),
                        ActionStatus::Failed if action.retryable => {
                            let at = action.last_attempt_at.unwrap_or(now).plus_seconds(backoff(action.failures));
                            consider(at, item, &mut work);
                        }
                        _ => {}
                    }
                }
            }
            for notice in decision.notices.iter().filter(|n| n.status == NoticeStatus::Pending) {
                let item = Due::Notice {
                    incident: state.id,
                    decision: decision.id,
                    moment: notice.moment,
                    channel: notice.channel.clone(),
                };
                let at = notice.last_attempt_at.map_or(now, |last| last.plus_seconds(backoff(notice.attempts)));
                consider(at, item, &mut work);
            }
        }
        // Publications owed a delivery to their outlet.
        for statement in &state.statements {
            for publication in &statement.publications {
                let Some(delivery) = publication.delivery.as_ref().filter(|d| d.owed()) else { continue };
                let item = Due::Publication {
                    incident: state.id,
                    statement: statement.id,
                    version: publication.version,
                    channel: publication.channel.clone(),
                };
                let at = delivery.last_attempt_at.map_or(now, |last| last.plus_seconds(backoff(delivery.failures)));
                consider(at, item, &mut work);
            }
        }
    });
    (work, next)
}

/// Runs connectors until `shutdown` turns true.
pub struct Worker {
    ledger: Arc<Ledger>,
    config: Config,
    http: reqwest::Client,
    clock: sitrep_store::ledger::Clock,
    /// Signs review links and people's alert webhooks (`alerts::derive_key`).
    review_key: [u8; 32],
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

/// The idempotency key every attempt of one action carries.
pub fn idempotency_key(state: &IncidentState, decision: DecisionId, action: u32) -> String {
    format!("sitrep:{}:{decision}:{}", state.uuid, action + 1)
}

impl Worker {
    pub fn new(ledger: Arc<Ledger>, config: Config, clock: sitrep_store::ledger::Clock) -> Worker {
        let http = reqwest::Client::builder()
            // Destinations are configured by admins; a redirect would send the signed body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sitrep/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Worker { ledger, config, http, clock, review_key: [0; 32] }
    }

    /// The key review links and alert webhooks are signed with; the server passes the one
    /// derived from the deployment's signing key, so links stay valid across restarts.
    pub fn with_review_key(mut self, key: [u8; 32]) -> Worker {
        self.review_key = key;
        self
    }

    /// Starts what is due, each item as a task of its own, and looks again on every commit and
    /// retry time while those run, until `shutdown` turns true. Then it gives what is running
    /// half a second to finish and be recorded, and abandons the rest: an abandoned command's
    /// process group is killed, and nothing of it is recorded, so its action stays due and runs
    /// again, with the same idempotency key, when a worker starts next.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let this = Arc::new(self);
        // Receivers and commands: at most CONCURRENCY at once. Recording a missed deadline or
        // a step with no outside call never waits for a permit.
        let outside = Arc::new(Semaphore::new(CONCURRENCY));
        let mut commits = this.ledger.commits();
        let mut tasks: JoinSet<()> = JoinSet::new();
        // What runs now, so that nothing is started twice at once.
        let mut running: HashMap<tokio::task::Id, Due> = HashMap::new();
        'work: loop {
            if *shutdown.borrow_and_update() {
                break;
            }
            let now = (this.clock)();
            let (mut work, next) = due(&this.ledger, now);
            let (alerts, alert_next) = alerts::due(&this.ledger, &this.config, now);
            work.extend(alerts);
            let next = match (next, alert_next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for item in work {
                if running.values().any(|other| *other == item) {
                    continue;
                }
                let (worker, outside, doing) = (this.clone(), outside.clone(), item.clone());
                let task = tasks.spawn(async move { worker.work(doing, &outside).await });
                running.insert(task.id(), item);
            }
            let wait = next
                .map(|at| Duration::from_micros((at.unix_micros() - (this.clock)().unix_micros()).max(0) as u64))
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            let look_again = tokio::time::sleep(wait);
            tokio::pin!(look_again);
            // A finished task needs no new look: its outcome is a commit, which wakes the loop
            // (and a failure to record one is retried on the next commit or retry time, not at once).
            loop {
                tokio::select! {
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow_and_update() {
                            break 'work;
                        }
                    }
                    _ = commits.changed() => continue 'work,
                    () = &mut look_again => continue 'work,
                    Some(finished) = tasks.join_next_with_id() => {
                        let id = match finished {
                            Ok((id, ())) => id,
                            Err(error) => {
                                tracing::error!(%error, "a connector task failed");
                                error.id()
                            }
                        };
                        running.remove(&id);
                    }
                }
            }
        }
        // Start nothing new: what waits for a permit gives up. Let what is about to finish be
        // recorded; abandon the rest (dropping a task kills its command's process group).
        outside.close();
        let _ = tokio::time::timeout(GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        if !tasks.is_empty() {
            tracing::warn!(abandoned = tasks.len(), "stopping: work still running is abandoned and stays due");
        }
        tasks.shutdown().await;
    }

    /// Does one item of due work.
    async fn work(&self, item: Due, outside: &Semaphore) {
        match item {
            Due::Action { incident, decision, action } => self.action(incident, decision, action, outside).await,
            Due::Notice { incident, decision, moment, channel } => {
                self.notice(incident, decision, moment, &channel, outside).await
            }
            Due::ClockWarning { incident, clock } => self.clock_warning(incident, &clock, outside).await,
            Due::Alert { incident, person } => self.alert(incident, &person, outside).await,
            Due::ClockMissed { incident, clock } => {
                self.record(incident, "clocks", SystemCommand::ClockMissed { clock }).await;
            }
            Due::Publication { incident, statement, version, channel } => {
                self.publication(incident, statement, version, &channel, outside).await
            }
        }
    }

    async fn record(&self, incident: IncidentNumber, connector: &str, command: SystemCommand) -> bool {
        match self.ledger.execute_system(incident, connector, command).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%incident, %error, "could not record a connector's result");
                false
            }
        }
    }

    async fn action(&self, incident: IncidentNumber, decision: DecisionId, index: u32, outside: &Semaphore) {
        let Some((spec, exercise)) = self
            .ledger
            .with_incident(incident, |state| {
                let action = state.decision(decision)?.actions.get(index as usize)?;
                Some((action.spec.clone(), state.exercise))
            })
            .flatten()
        else {
            return;
        };
        // Tasks and share links are sitrep's own: created in one step, with no outside call.
        match spec {
            ActionSpec::Task { .. } => {
                self.record(incident, "worker", SystemCommand::RunTaskAction { decision, action: index }).await;
                return;
            }
            ActionSpec::Share { .. } => {
                self.record(incident, "worker", SystemCommand::RunShareAction { decision, action: index }).await;
                return;
            }
            _ => {}
        }
        // An exercise calls nothing outside, so it never waits behind those that do.
        let _permit = match exercise {
            true => None,
            false => match outside.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return,
            },
        };
        if !self.record(incident, "worker", SystemCommand::StartAction { decision, action: index }).await {
            return;
        }
        // Read after the start is recorded, so the receiver is told the attempt the record holds.
        let Some((key, document, failures, told_before)) = self.ledger.with_incident(incident, |state| {
            let action = state.decision(decision).and_then(|d| d.actions.get(index as usize));
            (
                idempotency_key(state, decision, index),
                action_document(state, decision, index, self.config.base_url()),
                action.map_or(0, |a| a.failures),
                action.map(|a| a.told.clone()).unwrap_or_default(),
            )
        }) else {
            return;
        };
        let run = Run { key: &key, document: &document, incident, decision, exercise, told_before: &told_before };
        let mut told = Vec::new();
        let outcome = self.execute(&spec, &run, &mut told).await;
        let outcome = outcome.map_err(|mut failure| {
            if failure.retryable && failures + 1 >= MAX_FAILURES {
                failure.retryable = false;
                failure.reason = format!("{} (gave up after {MAX_FAILURES} attempts; retry by hand)", failure.reason);
            }
            failure
        });
        match &outcome {
            Ok(_) => tracing::info!(%incident, %decision, action = index + 1, "action succeeded"),
            Err(failure) => {
                tracing::warn!(%incident, %decision, action = index + 1, reason = %failure.reason, "action failed")
            }
        }
        // Channels told before a failure are recorded with it, so a retry skips them.
        let told = if outcome.is_err() { told } else { Vec::new() };
        self.record(incident, "worker", SystemCommand::FinishAction { decision, action: index, outcome, told }).await;
    }

    /// Runs one action, or in an exercise checks it could run and records what would be sent.
    /// A `notify` action adds each channel it tells to `told`.
    async fn execute(
        &self,
        spec: &ActionSpec,
        run: &Run<'_>,
        told: &mut Vec<String>,
    ) -> Result<Option<String>, ActionFailure> {
        let Run { key, document, incident, decision, exercise, told_before } = *run;
        match spec {
            ActionSpec::Webhook { destination, payload } => {
                let Some(config) = self.config.destinations.get(destination) else {
                    return Err(not_configured("webhook destination", destination));
                };
                let secret = crate::config::secret(&config.secret, &config.secret_env, destination)
                    .map_err(|e| ActionFailure { reason: e.to_string(), retryable: false })?;
                let mut body = document.clone();
                body["payload"] = payload.clone();
                if exercise {
                    return Ok(Some(dry_run(&format!("POSTed to {}", config.url), &body)));
                }
                webhook::post(&self.http, &config.url, &secret, key, &body, Duration::from_secs(config.timeout_secs))
                    .await
            }
            ActionSpec::Command { command: name, input } => {
                let Some(config) = self.config.commands.get(name) else {
                    return Err(not_configured("command", name));
                };
                let mut body = document.clone();
                body["input"] = input.clone();
                if exercise {
                    return Ok(Some(dry_run(&format!("run {}", config.path.display()), &body)));
                }
                command::run(config, key, &body).await
            }
            ActionSpec::Notify { message } => {
                let (class_path, text) = self
                    .ledger
                    .with_incident(incident, |state| {
                        let found = state.decision(decision);
                        let path = found.map(|d| d.path.clone()).unwrap_or_default();
                        let text = message.clone().unwrap_or_else(|| {
                            found.map(|d| format!("{} {}: {}", state.id, d.id, d.title)).unwrap_or_default()
                        });
                        (path, text)
                    })
                    .unwrap_or_default();
                if class_path.is_empty() {
                    return Ok(Some("the class's communications path names no channel".into()));
                }
                let message = channels::Message {
                    subject: format!("[sitrep] {incident} {decision}: {text}"),
                    text: format!("{text}\n\n{}", document["record"].as_str().unwrap_or_default()),
                    document: document.clone(),
                };
                let mut named = Vec::new();
                for channel in class_path.iter().filter(|channel| !told_before.contains(channel)) {
                    if exercise {
                        channels::configured(&self.config, channel)?;
                    } else {
                        channels::deliver(&self.config, &self.http, channel, key, &message).await?;
                        told.push(channel.clone());
                    }
                    named.push(channel.as_str());
                }
                let earlier = if told_before.is_empty() {
                    String::new()
                } else {
                    format!("; {} told earlier", told_before.join(", "))
                };
                Ok(Some(if exercise {
                    format!("exercise: nothing was sent; would have told {}", named.join(", "))
                } else {
                    format!("told {}{earlier}", named.join(", "))
                }))
            }
            ActionSpec::Task { .. } | ActionSpec::Share { .. } => Ok(None),
        }
    }

    /// Tells a clock's path that its deadline is near (once; who could not be told is recorded).
    async fn clock_warning(&self, incident: IncidentNumber, clock: &str, outside: &Semaphore) {
        let Some((exercise, path, message, key)) = self
            .ledger
            .with_incident(incident, |state| {
                let found = state.clocks.iter().find(|c| c.clock == clock)?;
                let record = format!("{}/incidents/{}#clocks", self.config.base_url(), state.id);
                let line = format!(
                    "{}: {} is due at {} ({} h left); it is met only by recording the notification sent (a text approved through {})",
                    state.id,
                    found.title,
                    found.deadline,
                    found.seconds_left((self.clock)()) / 3600,
                    found.stopped_by
                );
                let document = json!({
                    "event": "clock.warning",
                    "incident": state.id,
                    "incident_id": state.uuid,
                    "clock": found.clock,
                    "title": found.title,
                    "deadline": found.deadline,
                    "stopped_by": found.stopped_by,
                    "text": line,
                    "record": record,
                    "exercise": state.exercise,
                });
                let message = channels::Message {
                    subject: format!("[sitrep] {} deadline near: {}", state.id, found.title),
                    text: format!("{line}.\n\nThe record: {record}\n"),
                    document,
                };
                Some((state.exercise, found.path.clone(), message, format!("sitrep:{}:clock:{clock}", state.uuid)))
            })
            .flatten()
        else {
            return;
        };
        let _permit = match exercise {
            true => None,
            false => match outside.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return,
            },
        };
        let (mut told, mut failed) = (Vec::new(), Vec::new());
        for channel in &path {
            let outcome = if exercise {
                channels::configured(&self.config, channel).map(|()| None)
            } else {
                channels::deliver(&self.config, &self.http, channel, &format!("{key}:{channel}"), &message).await
            };
            match outcome {
                Ok(_) => told.push(channel.clone()),
                Err(failure) => failed.push(format!("{channel}: {}", failure.reason)),
            }
        }
        let command = SystemCommand::ClockWarned { clock: clock.to_owned(), told, failed };
        self.record(incident, "clocks", command).await;
    }

    async fn notice(
        &self,
        incident: IncidentNumber,
        decision: DecisionId,
        moment: Moment,
        channel: &str,
        outside: &Semaphore,
    ) {
        let Some((exercise, message, key)) = self
            .ledger
            .with_incident(incident, |state| {
                let found = state.decision(decision)?;
                let record = format!("{}/incidents/{}#decision-{}", self.config.base_url(), state.id, decision);
                let what = match moment {
                    Moment::Proposed => match found.progress().waiting_on.as_str() {
                        "" => format!("proposed by {}", found.proposer),
                        waiting => format!("proposed by {}; {waiting}", found.proposer),
                    },
                    Moment::Approved => match (&found.playbook, found.approvals.is_empty()) {
                        (Some(citation), true) => format!(
                            "pre-approved by {} in playbook {} v{} (SHA-256 {})",
                            citation.approved_by,
                            citation.playbook,
                            citation.version,
                            &citation.sha256[..12.min(citation.sha256.len())]
                        ),
                        _ => format!(
                            "approved by {}",
                            found.approvals.iter().map(|a| a.user.to_string()).collect::<Vec<_>>().join(", ")
                        ),
                    },
                    Moment::Rejected => format!(
                        "rejected by {}",
                        found
                            .rejections
                            .iter()
                            .map(|r| format!("{}: {}", r.user, r.note.clone().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                };
                let line = format!("{} {} ({}) \"{}\" was {}", state.id, decision, found.class, found.title, what);
                // Whoever is told of a statement decision reads the exact text it approves.
                let bound = sitrep_core::statement_text::bound_text(state, found);
                let document = json!({
                    "event": format!("decision.{}", moment.as_str()),
                    "incident": state.id,
                    "incident_id": state.uuid,
                    "decision": decision,
                    "class": found.class,
                    "title": found.title,
                    "state": found.state.as_str(),
                    "text": line,
                    "statement": bound,
                    "record": record,
                    "exercise": state.exercise,
                });
                let statement = bound.map(|b| format!("\n\nIt approves {}", b.to_plain())).unwrap_or_default();
                let message = channels::Message {
                    subject: format!("[sitrep] {} {} {}: {}", state.id, decision, moment.as_str(), found.title),
                    text: format!("{line}.{statement}\n\nThe record: {record}\n"),
                    document,
                };
                Some((
                    state.exercise,
                    message,
                    format!("sitrep:{}:{decision}:{}:{channel}", state.uuid, moment.as_str()),
                ))
            })
            .flatten()
        else {
            return;
        };
        let outcome = if exercise {
            channels::configured(&self.config, channel)
                .map(|()| Some(dry_run(&format!("told {channel}"), &message.document)))
        } else {
            let Ok(_permit) = outside.acquire().await else { return };
            channels::deliver(&self.config, &self.http, channel, &key, &message).await
        };
        let attempts = self
            .ledger
            .with_incident(incident, |s| {
                s.decision(decision)
                    .and_then(|d| d.notices.iter().find(|n| n.moment == moment && n.channel == channel))
                    .map_or(0, |n| n.attempts)
            })
            .unwrap_or(0);
        let outcome = outcome.map_err(|mut failure| {
            if failure.retryable && attempts + 1 >= MAX_FAILURES {
                failure.retryable = false;
                failure.reason = format!("{} (gave up after {MAX_FAILURES} attempts)", failure.reason);
            }
            failure
        });
        self.record(
            incident,
            "notifier",
            SystemCommand::Notified { decision, moment, channel: channel.to_owned(), outcome },
        )
        .await;
    }
}

/// What an exercise records instead of sending: where it would have gone, and what.
fn dry_run(what: &str, body: &Value) -> String {
    truncate(&format!("exercise: nothing was sent; a live incident would have {what}: {body}"))
}

/// One attempt at an action: what the worker read from the record before running it.
#[derive(Clone, Copy)]
struct Run<'a> {
    key: &'a str,
    document: &'a Value,
    incident: IncidentNumber,
    decision: DecisionId,
    exercise: bool,
    /// A `notify` action's channels told by earlier attempts.
    told_before: &'a [String],
}

fn not_configured(what: &str, name: &str) -> ActionFailure {
    ActionFailure { reason: format!("no {what} '{name}' is configured on this server"), retryable: false }
}

/// What a receiver or command is told about an action.
fn action_document(state: &IncidentState, decision: DecisionId, index: u32, base_url: String) -> Value {
    let found = state.decision(decision);
    json!({
        "event": "decision.action",
        "incident": state.id,
        "incident_id": state.uuid,
        "decision": decision,
        "class": found.map(|d| d.class.to_string()),
        "title": found.map(|d| d.title.clone()),
        "approved_by": found.map(|d| d.approvals.iter().map(|a| a.user.to_string()).collect::<Vec<_>>()),
        "playbook": found.and_then(|d| d.playbook.clone()),
        "action": index + 1,
        "attempt": found.and_then(|d| d.actions.get(index as usize)).map(|a| a.attempts),
        "idempotency_key": idempotency_key(state, decision, index),
        "exercise": state.exercise,
        "record": format!("{base_url}/incidents/{}#decision-{decision}", state.id),
    })
}

/// Reads the start of a receiver's answer, at most [`ANSWER_BYTES`], and keeps its first
/// [`KEEP`] characters. The rest is never read: dropping the response closes the connection.
/// Whatever arrived before an error (a timeout, a reset) is kept.
pub async fn read_answer(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = ANSWER_BYTES - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    // A character cut at the end is past the first KEEP, so `truncate` drops it.
    truncate(&String::from_utf8_lossy(&kept))
}

/// Keeps the first `KEEP` characters of a receiver's answer.
pub fn truncate(text: &str) -> String {
    let mut kept: String = text.chars().take(KEEP).collect();
    if kept.len() < text.len() {
        kept.push('…');
    }
    kept
}
