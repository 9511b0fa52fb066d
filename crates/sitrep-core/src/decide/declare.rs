//! Declaring an incident: its first entries, its first staff and optionally a playbook.

use super::*;

/// Declares an incident numbered `number`.
pub fn decide_declare(
    org: &OrgState,
    by: &UserName,
    command: &Declare,
    number: IncidentNumber,
    uuid: Uuid,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let user = acting_user(org, by)?;
    may_act(user)?;
    let title = text("title", &command.title, TITLE_MAX)?;
    let severity = command.severity.ok_or_else(|| invalid("severity", "is required: one of sev1, sev2, sev3, sev4"))?;
    if command.scope.len() > 20 {
        return Err(invalid("scope", "names more than 20 org units"));
    }
    let policy = &org.policy;
    for (index, unit) in command.scope.iter().enumerate() {
        text("scope", unit, 80)?;
        check_scope_unit(policy, unit)?;
        if command.scope[..index].contains(unit) {
            return Err(invalid("scope", format!("names {unit} twice")));
        }
    }
    let commander = Role::parse("commander").map_err(|e| invalid("role", e.to_string()))?;
    let mut staffing: Vec<(Role, UserName)> = Vec::new();
    if !command.roles.contains_key(&commander) {
        staffing.push((commander.clone(), by.clone()));
    }
    for (role, holder) in &command.roles {
        check_staffing(org, policy, role, holder)?;
        staffing.push((role.clone(), holder.clone()));
    }
    // The commander first, so the record reads in the order people would staff it.
    staffing.sort_by_key(|(role, _)| role != &commander);
    let mut events = vec![IncidentEvent::Declared(Declared {
        incident: uuid,
        number,
        title,
        severity,
        scope: command.scope.clone(),
        restricted: command.restricted,
        exercise: command.exercise,
        policy: policy.sha256.clone(),
    })];
    events.extend(
        staffing.iter().cloned().map(|(role, user)| IncidentEvent::RoleAssigned(RoleChange { role, user, unit: None })),
    );
    if let Some(playbook) = &command.playbook {
        let mut roles: BTreeMap<Role, Vec<UserName>> = BTreeMap::new();
        for (role, user) in staffing {
            roles.entry(role).or_default().push(user);
        }
        // Starting a playbook at declaration needs the same authority as starting it later.
        let allowed = match &policy.actions.run_playbooks {
            Who::Participants => roles.iter().any(|(role, users)| users.contains(by) && !policy.is_read_only(role)),
            Who::Roles(permitted) => {
                permitted.iter().any(|role| roles.get(role).is_some_and(|users| users.contains(by)))
            }
        };
        if !allowed {
            return Err(forbidden(
                "actions.run_playbooks",
                format!(
                    "starting a playbook needs the {} role; declare without it, or staff yourself so",
                    policy.actions.run_playbooks.describe()
                ),
            ));
        }
        events.extend(playbook_events(org, by, playbook, &command.inputs, &roles, &[], (0, 0, 0))?);
    } else if !command.inputs.is_empty() {
        return Err(invalid("inputs", "inputs are given only with a playbook"));
    }
    Ok(events)
}
