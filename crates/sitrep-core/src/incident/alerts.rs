//! Alerts: who must be told that it is their turn, and what they were told.
//!
//! Like a decision's notices, what is owed is read off the state, never queued: a role held,
//! a decision waiting on someone, a task's owner and due time, a clock's warning time, the
//! promised update. Each thing has a key (`decision:D-2`, `task:T-3:overdue`); once a person
//! was told a key they are not told it again, and the fold remembers it from `alert.sent`.
//! The connector sends what is owed to a person at once in one message, and not more often
//! than it allows, so a busy incident does not flood anyone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::*;
use crate::decide::can_see;
use crate::org::OrgState;
use crate::policy::Approve;

/// What the record says each person was told, the links opened and the promised update.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Alerts {
    pub people: BTreeMap<UserName, Told>,
    /// Nonces of the review links already opened: each works once.
    pub links_opened: BTreeSet<String>,
    pub update: Option<UpdatePromise>,
}

/// What one person was told here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Told {
    /// Each key, with when it was told (or when it needed no telling: their own doing).
    pub keys: BTreeMap<String, Timestamp>,
    /// Failed attempts per key not yet told, and whether the last failure was final.
    pub failures: BTreeMap<String, (u32, bool)>,
    /// The last message that reached them.
    pub last_told: Option<Timestamp>,
    pub last_attempt: Option<Timestamp>,
}

/// "The next update is at …": the commander's promise, and its cadence after that.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdatePromise {
    pub next_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u32>,
    pub subscribers: Vec<UserName>,
    pub set_by: Actor,
    pub set_at: Timestamp,
}

impl UpdatePromise {
    /// The promised time at or before `now` that is the latest, if one has come.
    pub fn last_due(&self, now: Timestamp) -> Option<Timestamp> {
        if now < self.next_at {
            return None;
        }
        let Some(every) = self.every_seconds() else { return Some(self.next_at) };
        let periods = (now.unix_micros() - self.next_at.unix_micros()) / (every * 1_000_000);
        Some(self.next_at.plus_seconds(periods * every))
    }

    /// The first promised time after `now`, if another is promised.
    pub fn upcoming(&self, now: Timestamp) -> Option<Timestamp> {
        match (self.last_due(now), self.every_seconds()) {
            (None, _) => Some(self.next_at),
            (Some(last), Some(every)) => Some(last.plus_seconds(every)),
            (Some(_), None) => None,
        }
    }

    fn every_seconds(&self) -> Option<i64> {
        self.every_minutes.filter(|m| *m > 0).map(|m| i64::from(m) * 60)
    }
}

/// Why a person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A role on the incident was given to you.
    Role,
    /// A decision waits on your approval.
    Decision,
    /// A decision has waited on your approval longer than the policy's reminder time.
    Reminder,
    /// An approval has waited past the policy's escalation time: told to the commander and
    /// the deputies of the roles it waits on.
    Escalation,
    /// A task was given to you, falls due soon, or is overdue.
    Task,
    /// A regulatory clock's warning time came, for a class you approve.
    Clock,
    /// The promised update falls due soon.
    Update,
    /// The SITREP digest on the promised cadence.
    Digest,
}

impl AlertKind {
    pub const ALL: [AlertKind; 8] = [
        AlertKind::Role,
        AlertKind::Decision,
        AlertKind::Reminder,
        AlertKind::Escalation,
        AlertKind::Task,
        AlertKind::Clock,
        AlertKind::Update,
        AlertKind::Digest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Role => "role",
            AlertKind::Decision => "decision",
            AlertKind::Reminder => "reminder",
            AlertKind::Escalation => "escalation",
            AlertKind::Task => "task",
            AlertKind::Clock => "clock",
            AlertKind::Update => "update",
            AlertKind::Digest => "digest",
        }
    }

    /// What the key says this is about.
    pub fn of_key(key: &str) -> Option<AlertKind> {
        let head = key.split(':').next()?;
        AlertKind::ALL.into_iter().find(|k| k.as_str() == head)
    }
}

/// One thing a person is owed a telling of, from `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub person: UserName,
    pub key: String,
    pub kind: AlertKind,
    pub due_at: Timestamp,
    /// What it is about, when it is one decision (for a link to its review sheet).
    pub decision: Option<DecisionId>,
    /// One line saying what it is, for the message.
    pub line: String,
}

impl IncidentState {
    /// Everything people are owed a telling of, due by `now` or later, that they were not told:
    /// the alerts connector sends those due and wakes at the earliest of the rest. A closed or
    /// failed-for-good telling is not owed again; disabled accounts are told nothing.
    pub fn alerts_owed(&self, org: &OrgState, now: Timestamp) -> Vec<Owed> {
        if self.phase == Phase::Closed {
            return Vec::new();
        }
        let times = &org.policy.alerts;
        let active = |user: &UserName| org.users.get(user).is_some_and(|u| u.active);
        let mut owed = Vec::new();
        let mut owe = |person: &UserName, key: String, kind, due_at, decision: Option<DecisionId>, line: String| {
            let told = self.alerts.people.get(person);
            let done = told.is_some_and(|t| t.keys.contains_key(&key) || t.failures.get(&key).is_some_and(|f| f.1));
            if !done && active(person) && can_see(self, person) {
                owed.push(Owed { person: person.clone(), key, kind, due_at, decision, line });
            }
        };
        for (role, holders) in &self.roles {
            for holder in holders {
                let line = format!("You hold the role {role} on {}.", self.id);
                owe(holder, format!("role:{role}"), AlertKind::Role, self.declared_at, None, line);
            }
        }
        let minutes = |m: u32| i64::from(m) * 60;
        for user in org.users.keys() {
            for decision in self.awaiting(user) {
                let id = decision.id;
                let line = format!("{id} ({}) \"{}\" waits on your approval.", decision.class, decision.title);
                owe(user, format!("decision:{id}"), AlertKind::Decision, decision.proposed_at, Some(id), line);
                let remind_at = decision.proposed_at.plus_seconds(minutes(times.remind_after_minutes));
                let line = format!("Reminder: {id} \"{}\" still waits on your approval.", decision.title);
                owe(user, format!("reminder:{id}"), AlertKind::Reminder, remind_at, Some(id), line);
            }
        }
        for decision in self.decisions.iter().filter(|d| d.state == DecisionState::Proposed) {
            let waiting_on = decision.progress().awaiting;
            if waiting_on.is_empty() {
                continue;
            }
            let id = decision.id;
            let at = decision.proposed_at.plus_seconds(minutes(times.escalate_after_minutes));
            let line = format!(
                "Escalated: {id} \"{}\" has waited on {} for over {} minutes.",
                decision.title,
                waiting_on.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "),
                times.escalate_after_minutes
            );
            let deputies = waiting_on.iter().filter_map(|role| times.deputies.get(role));
            for role in std::iter::once("commander").chain(deputies.map(|r| r.as_str())) {
                for holder in self.holders_of(role) {
                    owe(holder, format!("escalation:{id}"), AlertKind::Escalation, at, Some(id), line.clone());
                }
            }
        }
        for task in self.tasks.iter().filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked)) {
            let Some(owner) = &task.owner else { continue };
            let (id, title) = (task.id, &task.title);
            let line = format!("{id} \"{title}\" is yours.");
            owe(owner, format!("task:{id}"), AlertKind::Task, task.updated_at, None, line);
            if let Some(due) = task.due {
                let soon = due.plus_seconds(-minutes(times.task_due_soon_minutes));
                let line = format!("{id} \"{title}\" is due at {due}.");
                owe(owner, format!("task:{id}:due_soon"), AlertKind::Task, soon, None, line);
                let line = format!("{id} \"{title}\" is overdue: it was due at {due}.");
                owe(owner, format!("task:{id}:overdue"), AlertKind::Task, due, None, line);
            }
        }
        for clock in self.clocks.iter().filter(|c| c.is_running() && c.missed_at.is_none()) {
            let Some(class) = org.policy.classes.iter().find(|c| c.class == clock.stopped_by) else { continue };
            let roles = match &class.rule.approve {
                Approve::AnyOf(roles) | Approve::AllOf(roles) | Approve::Quorum { of: roles, .. } => roles,
            };
            let line = format!(
                "The clock '{}' ({}) runs out at {}; a {} decision stops it.",
                clock.clock, clock.title, clock.deadline, clock.stopped_by
            );
            for holder in roles.iter().filter_map(|r| self.roles.get(r)).flatten() {
                owe(holder, format!("clock:{}", clock.clock), AlertKind::Clock, clock.warn_at, None, line.clone());
            }
        }
        if let Some(update) = &self.alerts.update {
            // The reminder before the next promised time; the digest at the last one that came
            // (times passed while nobody could send are covered by it) and at the next.
            let next = update.upcoming(now);
            if let Some(next) = next {
                let at = next.plus_seconds(-minutes(times.update_reminder_minutes));
                let line = format!("The next update on {} is promised for {next}.", self.id);
                for holder in self.holders_of("commander") {
                    owe(holder, format!("update:{next}"), AlertKind::Update, at, None, line.clone());
                }
            }
            let mut readers: Vec<&UserName> = update.subscribers.iter().collect();
            readers.extend(self.holders_of("executive"));
            readers.sort();
            readers.dedup();
            for due in [update.last_due(now), next].into_iter().flatten() {
                let line = format!("SITREP digest of {} for {due}.", self.id);
                for reader in &readers {
                    owe(reader, format!("digest:{due}"), AlertKind::Digest, due, None, line.clone());
                }
            }
        }
        owed
    }

    pub(super) fn apply_alerts(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        match event {
            IncidentEvent::AlertSent(sent) => {
                if sent.about.is_empty() {
                    return fail("an alert is about something");
                }
                let told = self.alerts.people.entry(sent.person.clone()).or_default();
                for key in &sent.about {
                    told.keys.insert(key.clone(), entry.at);
                    told.failures.remove(key);
                }
                told.last_told = Some(entry.at);
                told.last_attempt = Some(entry.at);
            }
            IncidentEvent::AlertFailed(failed) => {
                if failed.about.is_empty() {
                    return fail("an alert is about something");
                }
                let told = self.alerts.people.entry(failed.person.clone()).or_default();
                for key in &failed.about {
                    let count = told.failures.entry(key.clone()).or_insert((0, false));
                    *count = (count.0 + 1, !failed.retryable);
                }
                told.last_attempt = Some(entry.at);
            }
            IncidentEvent::ReviewLinkOpened(opened) => {
                if self.decision(opened.decision).is_none() {
                    return fail("a review link names a decision of this incident");
                }
                if !self.alerts.links_opened.insert(opened.link.clone()) {
                    return fail("a review link opens once");
                }
            }
            IncidentEvent::UpdateScheduled(scheduled) => {
                self.alerts.update = Some(UpdatePromise {
                    next_at: scheduled.next_at,
                    every_minutes: scheduled.every_minutes,
                    subscribers: scheduled.subscribers.clone(),
                    set_by: entry.actor.clone(),
                    set_at: entry.at,
                });
            }
            _ => return fail("not an alert entry"),
        }
        Ok(())
    }

    fn holders_of<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a UserName> + 'a {
        self.roles.iter().filter(move |(r, _)| *r == role).flat_map(|(_, holders)| holders)
    }

    /// A person's own doing needs no telling: the role they took, the task they gave
    /// themselves, the decision they proposed.
    pub(super) fn seen_by_actor(&mut self, entry: &Entry, event: &IncidentEvent) {
        let Actor::User(actor) = &entry.actor else { return };
        let key = match event {
            IncidentEvent::RoleAssigned(change) if &change.user == actor => format!("role:{}", change.role),
            IncidentEvent::TaskCreated(created) if created.owner.as_ref() == Some(actor) => {
                format!("task:{}", created.task)
            }
            IncidentEvent::TaskAssigned(assigned) if &assigned.owner == actor => format!("task:{}", assigned.task),
            IncidentEvent::DecisionProposed(proposed) => format!("decision:{}", proposed.decision),
            _ => return,
        };
        self.alerts.people.entry(actor.clone()).or_default().keys.insert(key, entry.at);
    }
}
