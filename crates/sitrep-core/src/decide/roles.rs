//! Who runs the incident: staffing roles, handing command over, and the phase it is in.

use super::*;

/// Decides staffing, command and phase: who runs the incident and what stage it is in.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::AssignRole { role, user, unit: Some(unit) } => {
            judge.permit("assign_roles", &rules.assign_roles, "assigning roles")?;
            check_staffing(org, &org.policy, role, user)?;
            judge.unit_in_scope(unit)?;
            if state.holds_in(unit, user, role.as_str()) {
                return Err(conflict(format!("{user} already holds {role} in {unit} on {}", state.id)));
            }
            let change = RoleChange { role: role.clone(), user: user.clone(), unit: Some(unit.clone()) };
            vec![IncidentEvent::RoleAssigned(change)]
        }
        C::ReleaseRole { role, user, unit: Some(unit), reason } => {
            judge.permit("assign_roles", &rules.assign_roles, "releasing roles")?;
            let reason = optional_text("reason", reason, TEXT_MAX)?;
            if !state.holds_in(unit, user, role.as_str()) {
                return Err(conflict(format!("{user} does not hold {role} in {unit} on {}", state.id)));
            }
            let change = RoleChange { role: role.clone(), user: user.clone(), unit: Some(unit.clone()) };
            vec![IncidentEvent::RoleReleased(RoleRelease { change, reason })]
        }
        C::AssignRole { role, user, unit: None } => {
            judge.permit("assign_roles", &rules.assign_roles, "assigning roles")?;
            check_staffing(org, &org.policy, role, user)?;
            if state.holds(user, role.as_str()) {
                return Err(conflict(format!("{user} already holds {role} on {}", state.id)));
            }
            one_commander(state, role)?;
            vec![IncidentEvent::RoleAssigned(RoleChange { role: role.clone(), user: user.clone(), unit: None })]
        }
        C::ReleaseRole { role, user, unit: None, reason } => {
            judge.permit("assign_roles", &rules.assign_roles, "releasing roles")?;
            let reason = optional_text("reason", reason, TEXT_MAX)?;
            if !state.holds(user, role.as_str()) {
                return Err(conflict(format!("{user} does not hold {role} on {}", state.id)));
            }
            if role == "commander" && state.roles.get(role).is_some_and(|holders| holders.len() == 1) {
                return Err(conflict(format!(
                    "{} must always have a commander; assign another commander before releasing {user}",
                    state.id
                )));
            }
            let change = RoleChange { role: role.clone(), user: user.clone(), unit: None };
            vec![IncidentEvent::RoleReleased(RoleRelease { change, reason })]
        }
        C::SetPhase { phase } => {
            judge.permit("set_phase", &rules.set_phase, "setting the phase")?;
            if *phase == Phase::Closed {
                let rule = org
                    .policy
                    .class(&DecisionClass::parse("close").map_err(|e| invalid("phase", e.to_string()))?)
                    .map(|c| c.rule.approve.describe())
                    .unwrap_or_default();
                return Err(forbidden(
                    "classes.close",
                    format!(
                        "an incident is closed only by an approved close decision (approved by {rule}); propose one"
                    ),
                ));
            }
            if *phase == state.phase {
                return Err(conflict(format!("{} is already in {phase}", state.id)));
            }
            vec![IncidentEvent::PhaseChanged(PhaseChanged { from: state.phase, to: *phase, decision: None })]
        }
        C::HandOverCommand { to, reason } => hand_over(judge, org, to, reason)?,
        _ => return Err(misrouted()),
    };
    Ok(events)
}

/// The rule that one person holds `commander` at a time (SPEC §2): assigning it while someone
/// holds it is refused, naming the rule and the hand-over that does it instead.
fn one_commander(state: &IncidentState, role: &Role) -> Result<(), Refusal> {
    match state.commander() {
        Some(current) if role == "commander" => Err(conflict(format!(
            "one commander at a time: {current} commands {}; hand command over instead \
             (POST /api/v1/incidents/{}/handover, or sitrep handover)",
            state.id, state.id
        ))),
        _ => Ok(()),
    }
}

/// Hands command over in one entry. The current commander hands over their own command;
/// anyone `[actions] assign_roles` lets staff roles may hand over someone else's (a commander
/// who is unreachable). The new commander must be someone who may hold the role.
fn hand_over(judge: &Judge<'_>, org: &OrgState, to: &UserName, reason: &str) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let Some(current) = state.commander() else {
        return Err(conflict(format!("{} has no commander to hand over from; assign one", state.id)));
    };
    let from = if state.holds(judge.by, "commander") {
        judge.by.clone()
    } else {
        judge.permit("assign_roles", &judge.policy.actions.assign_roles, "handing over someone else's command")?;
        current.clone()
    };
    let commander = Role::parse("commander").map_err(|e| invalid("to", e.to_string()))?;
    check_staffing(org, judge.policy, &commander, to).map_err(|refusal| match refusal {
        Refusal::Invalid { message, .. } => invalid("to", message),
        other => other,
    })?;
    if state.holds(to, "commander") {
        return Err(conflict(format!("{to} already commands {}", state.id)));
    }
    let reason = text("reason", reason, SHORT_MAX).map_err(|refusal| {
        if reason.trim().is_empty() {
            invalid("reason", "say why command changes hands; the reason goes in the record")
        } else {
            refusal
        }
    })?;
    Ok(vec![IncidentEvent::CommanderHandedOver(CommanderHandedOver { from, to: to.clone(), reason })])
}
