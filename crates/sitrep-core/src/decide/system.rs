//! What connectors report: action attempts and outcomes, share-link use, clock warnings and
//! misses, integrity failures and notifications.

use super::*;

/// Decides what connectors report: the action worker's attempts and outcomes, and the
/// notifier's deliveries. They are refused only when they contradict the record (an action
/// that is not waiting to run, a notification nobody owes), which would be a defect.
///
/// `now` is the time the entries will carry, which decides whether a share link still works.
pub fn decide_system(
    state: &IncidentState,
    command: &SystemCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let events = match command {
        SystemCommand::StartAction { .. }
        | SystemCommand::FinishAction { .. }
        | SystemCommand::RunTaskAction { .. }
        | SystemCommand::RunShareAction { .. } => return run_action(state, command, now),
        SystemCommand::ShareUsed { share, sha256 } => {
            if state.phase == Phase::Closed {
                return Err(conflict(format!("{} is closed; its share links no longer work", state.id)));
            }
            let found = state
                .share(*share)
                .filter(|s| s.items.contains(sha256))
                .ok_or_else(|| Refusal::NotFound("this link does not reach that item".to_owned()))?;
            if let Some(revoked) = &found.revoked {
                return Err(conflict(format!("this link was revoked at {}", revoked.at)));
            }
            if now >= found.expires_at {
                return Err(conflict(format!("this link expired at {}", found.expires_at)));
            }
            vec![IncidentEvent::EvidenceAccessed(EvidenceAccessed {
                sha256: sha256.clone(),
                purpose: format!("fetched by {} through {share}", found.party),
                share: Some(*share),
            })]
        }
        SystemCommand::ClockWarned { clock, told, failed } => {
            let found = running_clock(state, clock)?;
            if found.warned.is_some() || now < found.warn_at {
                return Err(conflict(format!("the clock '{clock}' is not due a warning")));
            }
            vec![IncidentEvent::ClockWarned(ClockWarned {
                clock: clock.clone(),
                told: told.clone(),
                failed: failed.iter().map(|f| f.chars().take(SHORT_MAX).collect()).collect(),
            })]
        }
        SystemCommand::ClockMissed { clock } => {
            let found = running_clock(state, clock)?;
            if found.missed_at.is_some() || now < found.deadline {
                return Err(conflict(format!("the clock '{clock}' has not run out")));
            }
            vec![IncidentEvent::ClockMissed(ClockRef { clock: clock.clone() })]
        }
        SystemCommand::OpenChatRoom { system, room } => {
            if state.phase == Phase::Closed {
                return Err(conflict(format!("{} is closed; it gets no new chat room", state.id)));
            }
            if let Some(open) = state.chat_rooms.get(system) {
                return Err(conflict(format!("{} already has its {system} room {open}", state.id)));
            }
            vec![IncidentEvent::ChatRoomOpened(ChatRoomOpened {
                system: text("system", system, 32)?,
                room: text("room", room, SHORT_MAX)?,
            })]
        }
        SystemCommand::IntegrityFailed { sha256, detail } => {
            if state.evidence_item(sha256).is_none() {
                return Err(Refusal::NotFound(format!("{} has no evidence {sha256}", state.id)));
            }
            vec![IncidentEvent::EvidenceIntegrityFailed(EvidenceIntegrityFailed {
                sha256: sha256.clone(),
                detail: detail.chars().take(SHORT_MAX).collect(),
            })]
        }
        SystemCommand::Alerted { person, about, route, outcome } => {
            let told = state.alerts.people.get(person);
            if about.is_empty() || about.iter().any(|key| told.is_some_and(|t| t.keys.contains_key(key))) {
                return Err(conflict(format!("{person} is owed no alert about {}", about.join(", "))));
            }
            let (person, about, route) = (person.clone(), about.clone(), route.clone());
            vec![match outcome {
                Ok(receipt) => IncidentEvent::AlertSent(AlertSent {
                    person,
                    about,
                    route,
                    receipt: receipt.as_ref().map(|r| r.chars().take(SHORT_MAX).collect()),
                }),
                Err(failure) => IncidentEvent::AlertFailed(AlertFailed {
                    person,
                    about,
                    route,
                    reason: failure.reason.chars().take(SHORT_MAX).collect(),
                    retryable: failure.retryable,
                }),
            }]
        }
        SystemCommand::Notified { decision, moment, channel, outcome } => {
            let found = state
                .decision(*decision)
                .ok_or_else(|| Refusal::NotFound(format!("{} has no decision {decision}", state.id)))?;
            let owed = found
                .notices
                .iter()
                .any(|n| n.moment == *moment && &n.channel == channel && n.status == NoticeStatus::Pending);
            if !owed {
                return Err(conflict(format!(
                    "no {} notification of {decision} is owed to {channel}",
                    moment.as_str()
                )));
            }
            vec![match outcome {
                Ok(detail) => IncidentEvent::NotificationDelivered(NotificationDelivered {
                    decision: *decision,
                    moment: *moment,
                    channel: channel.clone(),
                    detail: detail.clone(),
                }),
                Err(failure) => IncidentEvent::NotificationFailed(NotificationFailed {
                    decision: *decision,
                    moment: *moment,
                    channel: channel.clone(),
                    reason: failure.reason.chars().take(SHORT_MAX).collect(),
                    retryable: failure.retryable,
                }),
            }]
        }
        SystemCommand::StatementDelivered { statement, version, channel, sha256, outcome } => {
            deliver_statement(state, *statement, *version, channel, sha256, outcome)?
        }
    };
    Ok(events)
}

/// Decides the publisher's report of one delivery attempt: refused unless that delivery is
/// owed, and unless what was sent hashes to exactly the approved (published) text.
fn deliver_statement(
    state: &IncidentState,
    statement: StatementId,
    version: u32,
    channel: &str,
    sha256: &str,
    outcome: &Result<Option<String>, ActionFailure>,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let found = state
        .statement(statement)
        .ok_or_else(|| Refusal::NotFound(format!("{} has no statement {statement}", state.id)))?;
    let publication = found
        .publication(version, channel)
        .ok_or_else(|| Refusal::NotFound(format!("{statement} v{version} was not published on {channel}")))?;
    let Some(delivery) = publication.delivery.as_ref().filter(|d| d.owed()) else {
        return Err(conflict(format!("no delivery of {statement} v{version} is owed to {channel}")));
    };
    if sha256 != publication.sha256 {
        return Err(invalid(
            "sha256",
            format!(
                "what was sent to {channel} hashes to {sha256}, not to the approved text of {statement} v{version} ({})",
                publication.sha256
            ),
        ));
    }
    let attempt = delivery.attempts.len() as u32 + 1;
    let channel = channel.to_owned();
    let sha256 = sha256.to_owned();
    Ok(vec![match outcome {
        Ok(receipt) => IncidentEvent::StatementDelivered(StatementDelivered {
            statement,
            version,
            channel,
            attempt,
            sha256,
            receipt: receipt.as_ref().map(|r| r.chars().take(SHORT_MAX).collect()),
        }),
        Err(failure) => IncidentEvent::StatementDeliveryFailed(StatementDeliveryFailed {
            statement,
            version,
            channel,
            attempt,
            sha256,
            reason: failure.reason.chars().take(SHORT_MAX).collect(),
            retryable: failure.retryable,
        }),
    }])
}

/// Decides an approved decision's action as the worker runs it: started and finished, or
/// carried out inside the record (a task, a share link) in one step.
fn run_action(state: &IncidentState, command: &SystemCommand, now: Timestamp) -> Result<Vec<IncidentEvent>, Refusal> {
    let action = |decision: DecisionId, index: u32| -> Result<(&Decision, &crate::incident::Action), Refusal> {
        let found = state
            .decision(decision)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no decision {decision}", state.id)))?;
        if found.state != DecisionState::Approved {
            return Err(conflict(format!("{decision} is not approved, so its actions do not run")));
        }
        let action = found
            .actions
            .get(index as usize)
            .ok_or_else(|| Refusal::NotFound(format!("{decision} has no action {}", index + 1)))?;
        Ok((found, action))
    };
    let startable = |action: &crate::incident::Action| match action.status {
        ActionStatus::Pending | ActionStatus::Running => true,
        ActionStatus::Failed => action.retryable,
        ActionStatus::Succeeded => false,
    };
    let events = match command {
        SystemCommand::StartAction { decision, action: index } => {
            let (_, current) = action(*decision, *index)?;
            let internal = match current.spec {
                ActionSpec::Task { .. } => Some("creates a task; run it as a task action"),
                ActionSpec::Share { .. } => Some("creates a share link; run it as a share action"),
                _ => None,
            };
            if let Some(what) = internal {
                return Err(invalid("action", format!("action {} of {decision} {what}", index + 1)));
            }
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            vec![IncidentEvent::ActionStarted(ActionStarted {
                decision: *decision,
                action: *index,
                attempt: current.attempts + 1,
            })]
        }
        SystemCommand::FinishAction { decision, action: index, outcome, told } => {
            let (found, current) = action(*decision, *index)?;
            if current.status != ActionStatus::Running {
                return Err(conflict(format!("action {} of {decision} is not running", index + 1)));
            }
            let attempt = current.attempts;
            let told = channels_told(found, current, told, outcome.is_ok())?;
            vec![match outcome {
                Ok(detail) => IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: *decision,
                    action: *index,
                    attempt,
                    detail: detail.clone(),
                }),
                Err(failure) => IncidentEvent::ActionFailed(ActionFailed {
                    decision: *decision,
                    action: *index,
                    attempt,
                    reason: failure.reason.chars().take(SHORT_MAX).collect(),
                    retryable: failure.retryable,
                    told,
                }),
            }]
        }
        SystemCommand::RunTaskAction { decision, action: index } => {
            let (found, current) = action(*decision, *index)?;
            let ActionSpec::Task { title, owner_role, due_in_minutes } = &current.spec else {
                return Err(invalid("action", format!("action {} of {decision} is not a task action", index + 1)));
            };
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            let holder = |role: &Role| state.roles.get(role).and_then(|users| users.first()).cloned();
            let owner =
                owner_role.as_ref().and_then(holder).or_else(|| Role::parse("commander").ok().and_then(|r| holder(&r)));
            let task = TaskId(state.tasks.len() as u64 + 1);
            let attempt = current.attempts + 1;
            vec![
                IncidentEvent::ActionStarted(ActionStarted { decision: found.id, action: *index, attempt }),
                IncidentEvent::TaskCreated(TaskCreated {
                    task,
                    title: title.clone(),
                    owner,
                    due: None,
                    due_in_minutes: *due_in_minutes,
                    origin: TaskOrigin::Decision { decision: found.id, action: *index },
                }),
                IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: found.id,
                    action: *index,
                    attempt,
                    detail: Some(format!("created {task}")),
                }),
            ]
        }
        SystemCommand::RunShareAction { decision, action: index } => {
            let (found, current) = action(*decision, *index)?;
            let ActionSpec::Share { party, items, expires_in_hours } = &current.spec else {
                return Err(invalid("action", format!("action {} of {decision} is not a share action", index + 1)));
            };
            if !startable(current) {
                return Err(conflict(format!("action {} of {decision} is not waiting to run", index + 1)));
            }
            let share = ShareId(state.shares.len() as u64 + 1);
            let attempt = current.attempts + 1;
            let expires_at = now.plus_seconds(i64::from(*expires_in_hours) * 3600);
            vec![
                IncidentEvent::ActionStarted(ActionStarted { decision: found.id, action: *index, attempt }),
                IncidentEvent::ShareCreated(ShareCreated {
                    share,
                    decision: found.id,
                    action: *index,
                    party: party.clone(),
                    items: items.clone(),
                    expires_in_hours: *expires_in_hours,
                }),
                IncidentEvent::ActionSucceeded(ActionSucceeded {
                    decision: found.id,
                    action: *index,
                    attempt,
                    detail: Some(format!("created {share} for {party}, live until {expires_at}")),
                }),
            ]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

fn running_clock<'a>(state: &'a IncidentState, clock: &str) -> Result<&'a crate::incident::Clock, Refusal> {
    // A closed record is final. An incident closed before submissions existed may hold a clock
    // its approval once stopped, which now reads as owed: it is neither warned of nor missed.
    if state.phase == Phase::Closed {
        return Err(conflict(format!("{} is closed; its clocks are not warned of or missed", state.id)));
    }
    let found = state
        .clocks
        .iter()
        .find(|c| c.clock == clock)
        .ok_or_else(|| Refusal::NotFound(format!("{} has no clock '{clock}'", state.id)))?;
    if !found.is_running() {
        return Err(conflict(format!("the clock '{clock}' has stopped")));
    }
    Ok(found)
}

/// Checks the channels a failed `notify` attempt reports as told: channels of the decision's
/// path, not told before, each once. A success or another kind of action reports none.
fn channels_told(
    decision: &Decision,
    action: &Action,
    told: &[String],
    succeeded: bool,
) -> Result<Vec<String>, Refusal> {
    if told.is_empty() {
        return Ok(Vec::new());
    }
    if succeeded || !matches!(action.spec, ActionSpec::Notify { .. }) {
        return Err(invalid("told", "only a failed notify action reports channels told"));
    }
    let mut checked: Vec<String> = Vec::with_capacity(told.len());
    for channel in told {
        if !decision.path.contains(channel) || action.told.contains(channel) || checked.contains(channel) {
            return Err(invalid(
                "told",
                format!("'{channel}' is not a channel of the path of {} still to be told", decision.id),
            ));
        }
        checked.push(channel.clone());
    }
    Ok(checked)
}
