//! Decisions in the fold: proposals, approvals, their actions' attempts and the
//! notifications they owe.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub id: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    pub rationale: Option<String>,
    pub actions: Vec<Action>,
    pub proposer: UserName,
    pub proposed_at: Timestamp,
    pub rule: Rule,
    pub state: DecisionState,
    /// Every endorsement, the proposer's implied one first.
    pub approvals: Vec<Approval>,
    pub rejections: Vec<Approval>,
    pub decided_at: Option<Timestamp>,
    pub withdrawn: Option<Approval>,
    /// The playbook that proposed (and, if approved at once, approved) it.
    pub playbook: Option<Citation>,
    /// The class's communications path when it was proposed.
    pub path: Vec<String>,
    /// Who must be told of its proposal and outcome, and whether they have been: the outbox of
    /// notifications, kept in the record itself.
    pub notices: Vec<Notice>,
    /// The exact statement version this decision approves for publishing.
    pub statement: Option<StatementRef>,
    /// The clocks it names as the ones its execution stops.
    pub clocks: Vec<String>,
}

/// One notification a decision owes one channel.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    pub moment: Moment,
    pub channel: String,
    pub status: NoticeStatus,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoticeStatus {
    Pending,
    Delivered,
    /// Failed and will not be tried again.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Approval {
    pub user: UserName,
    pub role: Option<Role>,
    pub at: Timestamp,
    pub note: Option<String>,
    /// True for the endorsement that proposing implies.
    pub implied: bool,
    /// The rule's other roles the person held when endorsing; the endorsement may stand for
    /// any one of them instead of `role`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
    /// How the person had authenticated, when they acted from a browser session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<crate::authn::Authentication>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Action {
    pub spec: ActionSpec,
    pub status: ActionStatus,
    /// Attempts so far, across retries.
    pub attempts: u32,
    /// Failures since it was approved or a person last asked for a retry.
    pub failures: u32,
    /// Whether a failure will be tried again automatically.
    pub retryable: bool,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub detail: Option<String>,
    /// A `notify` action's channels already told by attempts that failed later on; later
    /// attempts skip them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Waiting for approval, or approved and not yet run.
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Notice {
    pub(super) fn new(moment: Moment, channel: &str) -> Notice {
        Notice {
            moment,
            channel: channel.to_owned(),
            status: NoticeStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            detail: None,
        }
    }
}

impl Decision {
    /// Owes every channel of the path a notification of this moment.
    pub(super) fn owe(&mut self, moment: Moment) {
        let owed: Vec<Notice> = self.path.iter().map(|channel| Notice::new(moment, channel)).collect();
        self.notices.extend(owed);
    }

    pub fn endorsements(&self) -> Vec<Endorsement<'_>> {
        self.approvals
            .iter()
            .filter_map(|a| a.role.as_ref().map(|role| Endorsement { user: &a.user, role, also: &a.also }))
            .collect()
    }

    pub fn progress(&self) -> Progress {
        self.rule.progress(&self.proposer, &self.endorsements())
    }

    /// Whether this person has already stood behind the decision (proposing counts).
    pub fn endorsed_by(&self, user: &UserName) -> bool {
        &self.proposer == user || self.approvals.iter().any(|a| &a.user == user)
    }
}

impl IncidentState {
    /// Applies a proposal; `preapproving` is the playbook start it may directly follow.
    pub(super) fn apply_proposed(
        &mut self,
        entry: &Entry,
        event: &IncidentEvent,
        preapproving: Option<String>,
    ) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::DecisionProposed(proposed) => {
                if proposed.decision.0 != self.decisions.len() as u64 + 1 {
                    return fail("decision ids must be sequential");
                }
                let Some(proposer) = actor.user().cloned() else {
                    return fail("decisions are proposed by people");
                };
                let approved = proposed.state == DecisionState::Approved;
                // Re-judge what the entry claims, so a forged but re-hashed record is refused.
                let claimed: Vec<&Role> = proposed.role.iter().chain(&proposed.also).collect();
                if claimed.iter().any(|role| !self.holds_for(&proposed.rule, &proposer, role.as_str())) {
                    return fail("the proposer does not hold the role the entry claims");
                }
                match &proposed.playbook {
                    Some(citation) => {
                        if !self.playbooks.iter().any(|p| p.id == citation.playbook && p.sha256 == citation.sha256) {
                            return fail("it cites a playbook that was not started on this incident");
                        }
                        if preapproving.as_deref() != Some(citation.sha256.as_str()) {
                            return fail("a pre-approved decision must directly follow the start of its playbook");
                        }
                        self.preapproving = preapproving.clone();
                    }
                    None => {
                        let endorsement: Vec<Endorsement<'_>> = proposed
                            .role
                            .iter()
                            .map(|role| Endorsement { user: &proposer, role, also: &proposed.also })
                            .collect();
                        if proposed.rule.is_met(&proposer, &endorsement) != approved {
                            return fail("the recorded state does not follow from the decision's rule");
                        }
                    }
                }
                if proposed.actions.iter().any(|a| matches!(a, ActionSpec::Share { .. })) {
                    if proposed.class != "evidence_sharing" {
                        return fail("evidence is shared only through an evidence_sharing decision");
                    }
                    if proposed.playbook.is_some() {
                        return fail("a playbook cannot share evidence");
                    }
                }
                if let Some(bound) = &proposed.statement {
                    let Some(statement) = self.statement(bound.statement) else { return fail("unknown statement") };
                    if statement.version(bound.version).is_none_or(|v| v.sha256 != bound.sha256) {
                        return fail("the decision is bound to a statement version that does not exist");
                    }
                    if statement.audience.class() != proposed.class.as_str() {
                        return fail("a statement is approved through the class its audience requires");
                    }
                }
                let mut notices: Vec<Notice> =
                    proposed.path.iter().map(|channel| Notice::new(Moment::Proposed, channel)).collect();
                if approved {
                    notices.extend(proposed.path.iter().map(|channel| Notice::new(Moment::Approved, channel)));
                }
                self.decisions.push(Decision {
                    id: proposed.decision,
                    class: proposed.class.clone(),
                    title: proposed.title.clone(),
                    rationale: proposed.rationale.clone(),
                    actions: proposed
                        .actions
                        .iter()
                        .map(|spec| Action {
                            spec: spec.clone(),
                            status: ActionStatus::Pending,
                            attempts: 0,
                            failures: 0,
                            retryable: true,
                            last_attempt_at: None,
                            last_error: None,
                            detail: None,
                            told: Vec::new(),
                        })
                        .collect(),
                    proposer: proposer.clone(),
                    proposed_at: at,
                    rule: proposed.rule.clone(),
                    state: proposed.state,
                    approvals: proposed
                        .role
                        .iter()
                        .map(|role| Approval {
                            user: proposer.clone(),
                            role: Some(role.clone()),
                            at,
                            note: None,
                            implied: true,
                            also: proposed.also.clone(),
                            authentication: proposed.authentication.clone(),
                        })
                        .collect(),
                    rejections: Vec::new(),
                    decided_at: approved.then_some(at),
                    withdrawn: None,
                    playbook: proposed.playbook.clone(),
                    path: proposed.path.clone(),
                    notices,
                    statement: proposed.statement.clone(),
                    clocks: proposed.clocks.clone(),
                });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }

    /// Applies approvals, rejections and withdrawals.
    pub(super) fn apply_decisions(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::DecisionApproved(approved) => {
                let Some(user) = actor.user().cloned() else { return fail("approvals are given by people") };
                let rule = self.decision(approved.decision).map(|d| d.rule.clone());
                let Some(rule) = rule else { return fail("unknown decision") };
                if std::iter::once(&approved.role)
                    .chain(&approved.also)
                    .any(|role| !self.holds_for(&rule, &user, role.as_str()))
                {
                    return fail("the approver does not hold the role the entry claims");
                }
                let Some(decision) = self.decision_mut(approved.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                if decision.endorsed_by(&user) {
                    return fail("a person endorses a decision once");
                }
                let mut endorsements = decision.endorsements();
                endorsements.push(Endorsement { user: &user, role: &approved.role, also: &approved.also });
                if decision.rule.is_met(&decision.proposer, &endorsements)
                    != (approved.state == DecisionState::Approved)
                {
                    return fail("the recorded state does not follow from the decision's rule");
                }
                decision.approvals.push(Approval {
                    user,
                    role: Some(approved.role.clone()),
                    at,
                    note: approved.note.clone(),
                    implied: false,
                    also: approved.also.clone(),
                    authentication: approved.authentication.clone(),
                });
                decision.state = approved.state;
                if approved.state == DecisionState::Approved {
                    decision.decided_at = Some(at);
                    decision.owe(Moment::Approved);
                }
            }
            IncidentEvent::DecisionRejected(rejected) => {
                let Some(user) = actor.user().cloned() else { return fail("rejections are given by people") };
                let rule = self.decision(rejected.decision).map(|d| d.rule.clone());
                let Some(rule) = rule else { return fail("unknown decision") };
                if !self.holds_for(&rule, &user, rejected.role.as_str()) {
                    return fail("the rejecter does not hold the role the entry claims");
                }
                let Some(decision) = self.decision_mut(rejected.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                decision.rejections.push(Approval {
                    user,
                    role: Some(rejected.role.clone()),
                    at,
                    note: Some(rejected.note.clone()),
                    implied: false,
                    also: Vec::new(),
                    authentication: None,
                });
                decision.state = DecisionState::Rejected;
                decision.decided_at = Some(at);
                decision.owe(Moment::Rejected);
            }
            IncidentEvent::DecisionWithdrawn(withdrawn) => {
                let Some(user) = actor.user().cloned() else { return fail("withdrawals are made by people") };
                let Some(decision) = self.decision_mut(withdrawn.decision) else { return fail("unknown decision") };
                if decision.state != DecisionState::Proposed {
                    return fail("the decision is no longer open");
                }
                decision.withdrawn = Some(Approval {
                    user,
                    role: None,
                    at,
                    note: withdrawn.note.clone(),
                    implied: false,
                    also: Vec::new(),
                    authentication: None,
                });
                decision.state = DecisionState::Withdrawn;
                decision.decided_at = Some(at);
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }

    /// Applies the attempts and outcomes of decisions' actions and notifications.
    pub(super) fn apply_actions(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        match event {
            IncidentEvent::ActionStarted(started) => {
                let action = self
                    .action_mut(started.decision, started.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                let may_start = match action.status {
                    ActionStatus::Pending | ActionStatus::Running => true,
                    ActionStatus::Failed => action.retryable,
                    ActionStatus::Succeeded => false,
                };
                if !may_start || started.attempt != action.attempts + 1 {
                    return fail("the action cannot start this attempt");
                }
                action.status = ActionStatus::Running;
                action.attempts = started.attempt;
                action.last_attempt_at = Some(at);
            }
            IncidentEvent::ActionSucceeded(done) => {
                let action =
                    self.action_mut(done.decision, done.action).ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Running || done.attempt != action.attempts {
                    return fail("the action is not running this attempt");
                }
                action.status = ActionStatus::Succeeded;
                action.detail = done.detail.clone();
                action.last_error = None;
            }
            IncidentEvent::ActionFailed(failed) => {
                if !failed.told.is_empty() {
                    let decision = self.decision(failed.decision);
                    let notify = decision
                        .and_then(|d| d.actions.get(failed.action as usize))
                        .is_some_and(|a| matches!(a.spec, ActionSpec::Notify { .. }));
                    let in_path = decision.is_some_and(|d| failed.told.iter().all(|c| d.path.contains(c)));
                    if !(notify && in_path) {
                        return fail("only a notify action tells channels, and only those of its path");
                    }
                }
                let action = self
                    .action_mut(failed.decision, failed.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Running || failed.attempt != action.attempts {
                    return fail("the action is not running this attempt");
                }
                action.status = ActionStatus::Failed;
                action.failures += 1;
                action.retryable = failed.retryable;
                action.last_error = Some(failed.reason.clone());
                for channel in &failed.told {
                    if !action.told.contains(channel) {
                        action.told.push(channel.clone());
                    }
                }
            }
            IncidentEvent::ActionRetryRequested(retry) => {
                let action =
                    self.action_mut(retry.decision, retry.action).ok_or_else(|| fold_error(entry, "unknown action"))?;
                if action.status != ActionStatus::Failed {
                    return fail("only a failed action is retried");
                }
                action.status = ActionStatus::Pending;
                action.failures = 0;
                action.retryable = true;
            }
            IncidentEvent::NotificationDelivered(sent) => {
                let notice = self
                    .notice_mut(sent.decision, sent.moment, &sent.channel)
                    .ok_or_else(|| fold_error(entry, "no such notification is owed"))?;
                if notice.status != NoticeStatus::Pending {
                    return fail("the notification was already settled");
                }
                notice.status = NoticeStatus::Delivered;
                notice.attempts += 1;
                notice.last_attempt_at = Some(at);
                notice.detail = sent.detail.clone();
            }
            IncidentEvent::NotificationFailed(failed) => {
                let notice = self
                    .notice_mut(failed.decision, failed.moment, &failed.channel)
                    .ok_or_else(|| fold_error(entry, "no such notification is owed"))?;
                if notice.status != NoticeStatus::Pending {
                    return fail("the notification was already settled");
                }
                notice.attempts += 1;
                notice.last_attempt_at = Some(at);
                notice.detail = Some(failed.reason.clone());
                if !failed.retryable {
                    notice.status = NoticeStatus::Failed;
                }
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
