//! Decisions: proposing, approving, rejecting, withdrawing, and retrying their actions.

use super::*;

/// Decides a proposal: who may propose this class, what it binds, and whether the proposer's
/// own endorsement already approves it.
pub(super) fn propose(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let (state, by) = (judge.state, judge.by);
    let IncidentCommand::Propose { class, title, rationale, actions, statement, clocks } = command else {
        return Err(misrouted());
    };
    let Some(class_policy) = org.policy.class(class) else {
        let known: Vec<&str> = org.policy.classes.iter().map(|c| c.class.as_str()).collect();
        return Err(invalid("class", format!("unknown decision class '{class}'; classes are {}", known.join(", "))));
    };
    let may_propose = judge.allowed(&class_policy.propose)
        || (class_policy.rule.scope == crate::policy::Scope::Local
            && match &class_policy.propose {
                Who::Roles(roles) => roles.iter().any(|r| judge.holds_for(crate::policy::Scope::Local).contains(r)),
                Who::Participants => !judge.holds_for(crate::policy::Scope::Local).is_empty(),
            });
    if !may_propose {
        let who = match &class_policy.propose {
            Who::Participants => format!("any participant other than {}", join_or(&org.policy.roles.read_only)),
            Who::Roles(roles) => join_or(roles),
        };
        return Err(forbidden(
            format!("classes.{class}.propose"),
            format!(
                "{}{class} may be proposed by {who}; {}",
                judge.local_words(&class_policy.rule, class),
                judge.held_words()
            ),
        ));
    }
    judge.stepped_up(class, &class_policy.rule, "propose")?;
    let title = text("title", title, TITLE_MAX)?;
    let rationale = optional_text("rationale", rationale, TEXT_MAX)?;
    check_actions(&org.policy, actions)?;
    judge.shares(class, actions, org)?;
    let statement = statement.map(|id| judge.statement_to_approve(id, class)).transpose()?;
    if class == "close" {
        judge.ready_to_close(None)?;
    }
    let rule = class_policy.rule.clone();
    let holds = judge.holds_for(rule.scope);
    let role = rule.endorsement_role(&holds, &[]);
    let also = held_rule_roles(&rule, &holds).into_iter().filter(|r| Some(r) != role.as_ref()).collect::<Vec<_>>();
    let endorsement: Vec<Endorsement<'_>> =
        role.iter().map(|role| Endorsement { user: by, role, also: &also }).collect();
    let decided = rule.is_met(by, &endorsement);
    if decided && statement.is_none() && is_statement_class(class) {
        return Err(invalid(
            "statement",
            format!(
                "{class} approves a statement's text, and proposing it approves it at once; bind the statement it approves"
            ),
        ));
    }
    let decision = DecisionId(state.decisions.len() as u64 + 1);
    let mut events = vec![IncidentEvent::DecisionProposed(DecisionProposed {
        decision,
        class: class.clone(),
        title,
        rationale,
        actions: actions.clone(),
        rule,
        role: role.clone(),
        also: also.clone(),
        state: if decided { DecisionState::Approved } else { DecisionState::Proposed },
        playbook: None,
        path: class_policy.path.clone(),
        statement,
        clocks: judge.clocks_to_stop(class, clocks)?,
        authentication: judge.authentication.cloned(),
    })];
    if decided {
        events.extend(judge.closing(class, decision));
    }
    Ok(events)
}

/// Decides what follows a proposal: approvals, rejections, withdrawals and retrying a failed
/// action.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let by = judge.by;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::Approve { decision: id, note } => {
            let decision = judge.open_decision(*id, "approved")?;
            let rule = &decision.rule;
            let progress = decision.progress();
            let class = &decision.class;
            if decision.endorsed_by(by) {
                let how = if &decision.proposer == by { "you proposed it" } else { "you have approved it" };
                return Err(forbidden(
                    "people",
                    format!(
                        "you already stand behind {id} ({how}) and a person counts once; {} ({})",
                        progress.waiting_on,
                        judge.holders(&progress.awaiting)
                    ),
                ));
            }
            // The approver stands for one of the rule's roles they hold that still counts; which
            // one each person stands for is settled by `Rule::progress`, not by who came first.
            let mine = held_rule_roles(rule, &judge.holds_for(rule.scope));
            let Some(first) = mine.first() else {
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "{}{class} needs approval by {}; {}; {} ({})",
                        judge.local_words(rule, class),
                        rule.approve.describe(),
                        progress.waiting_on,
                        judge.held_words(),
                        judge.holders(&progress.awaiting)
                    ),
                ));
            };
            let Some(role) = mine.iter().find(|r| progress.awaiting.contains(r)).cloned() else {
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "{id} already has {first}'s approval; {} ({})",
                        progress.waiting_on,
                        judge.holders(&progress.awaiting)
                    ),
                ));
            };
            if decision.statement.is_none() && is_statement_class(class) {
                return Err(conflict(format!(
                    "{id} ({class}) is bound to no statement, so there is no text to approve; draft the statement \
                     and propose {class} bound to it (then withdraw {id})"
                )));
            }
            judge.stepped_up(class, rule, "approve")?;
            let also: Vec<Role> = mine.iter().filter(|r| **r != role).cloned().collect();
            let mut endorsements = decision.endorsements();
            endorsements.push(Endorsement { user: by, role: &role, also: &also });
            let approved = rule.is_met(&decision.proposer, &endorsements);
            if approved && class == "close" {
                judge.ready_to_close(Some(*id))?;
            }
            let mut events = vec![IncidentEvent::DecisionApproved(DecisionApproved {
                decision: *id,
                role: role.clone(),
                also: also.clone(),
                note: optional_text("note", note, SHORT_MAX)?,
                state: if approved { DecisionState::Approved } else { DecisionState::Proposed },
                authentication: judge.authentication.cloned(),
            })];
            if approved {
                events.extend(judge.closing(class, *id));
            }
            events
        }
        C::Reject { decision: id, note } => {
            let decision = judge.open_decision(*id, "rejected")?;
            let note = text("note", note, SHORT_MAX).map_err(|refusal| {
                if note.trim().is_empty() {
                    invalid("note", "a rejection needs a reason a person can act on")
                } else {
                    refusal
                }
            })?;
            if &decision.proposer == by {
                return Err(forbidden("withdraw", format!("you proposed {id}; withdraw it instead of rejecting it")));
            }
            let rule = &decision.rule;
            let Some(role) = rule.endorsement_role(&judge.holds_for(rule.scope), &[]) else {
                let class = &decision.class;
                return Err(forbidden(
                    format!("classes.{class}.approve"),
                    format!(
                        "only a holder of {} may reject {class}; {}",
                        join_or(rule.approve.roles()),
                        judge.held_words()
                    ),
                ));
            };
            if decision.approvals.iter().any(|a| &a.user == by) {
                return Err(conflict(format!("you have approved {id}; an approval cannot be turned into a rejection")));
            }
            vec![IncidentEvent::DecisionRejected(DecisionRejected { decision: *id, role, note })]
        }
        C::Withdraw { decision: id, note } => {
            let decision = judge.open_decision(*id, "withdrawn")?;
            if &decision.proposer != by && !state.holds(by, "commander") {
                return Err(forbidden(
                    "withdraw",
                    format!("only the proposer ({}) or the commander may withdraw {id}", decision.proposer),
                ));
            }
            vec![IncidentEvent::DecisionWithdrawn(DecisionWithdrawn {
                decision: *id,
                note: optional_text("note", note, SHORT_MAX)?,
            })]
        }
        C::RetryAction { decision, action } => {
            judge.permit("retry_actions", &rules.retry_actions, "retrying actions")?;
            let found = judge.decision(*decision)?;
            let Some(current) = found.actions.get(*action as usize) else {
                return Err(Refusal::NotFound(format!("{decision} has no action {}", action + 1)));
            };
            if current.status != ActionStatus::Failed {
                return Err(conflict(format!(
                    "action {} of {decision} has not failed; only a failed action is retried",
                    action + 1
                )));
            }
            vec![IncidentEvent::ActionRetryRequested(ActionRef { decision: *decision, action: *action })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}
