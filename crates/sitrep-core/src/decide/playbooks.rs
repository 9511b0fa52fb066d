//! Starting a playbook: the entries it yields, at declaration or later.

use super::*;

/// Decides starting a playbook on a running incident.
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
        C::RunPlaybook { playbook, inputs } => {
            judge.permit("run_playbooks", &rules.run_playbooks, "starting a playbook")?;
            let started: Vec<String> = state.playbooks.iter().map(|p| p.id.clone()).collect();
            let counts = (state.tasks.len() as u64, state.decisions.len() as u64, state.statements.len() as u64);
            playbook_events(org, by, playbook, inputs, &state.roles, &started, counts)?
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

/// The entries that start a playbook: the start itself, the pre-approved decisions (approved,
/// citing the playbook), a task per step for the holder of its role (else the commander), and
/// each step's decision as a proposal (bound to the statement the step drafts, if it carries one).
/// `counts` are the incident's tasks, decisions and statements so far.
pub(super) fn playbook_events(
    org: &OrgState,
    by: &UserName,
    id: &str,
    inputs: &BTreeMap<String, String>,
    roles: &BTreeMap<Role, Vec<UserName>>,
    started: &[String],
    counts: (u64, u64, u64),
) -> Result<Vec<IncidentEvent>, Refusal> {
    let record = org.playbooks.get(id).ok_or_else(|| {
        let known: Vec<&str> = org.playbooks.keys().map(String::as_str).collect();
        invalid("playbook", format!("there is no playbook '{id}'; playbooks are {}", known.join(", ")))
    })?;
    if started.iter().any(|p| p == id) {
        return Err(conflict(format!("playbook '{id}' was already started on this incident")));
    }
    let playbook = crate::playbook::Playbook::parse(&record.source, &org.policy).map_err(|error| {
        invalid("playbook", format!("playbook '{id}' does not load under the policy in force: {error}"))
    })?;
    let filled = playbook.fill(inputs).map_err(|error| invalid(&error.field, error.message))?;
    let holder = |role: &Role| roles.get(role).and_then(|users| users.first()).cloned();
    let commander = Role::parse("commander").ok().and_then(|r| holder(&r));
    let holds: Vec<Role> = roles.iter().filter(|(_, users)| users.contains(by)).map(|(role, _)| role.clone()).collect();
    let citation = playbook.citation();
    let mut events = vec![IncidentEvent::PlaybookStarted(PlaybookStarted {
        playbook: playbook.id.clone(),
        version: playbook.version.clone(),
        sha256: playbook.sha256.clone(),
        approved_by: playbook.approved_by.clone(),
        inputs: inputs.clone(),
        required_roles: playbook.required_roles.clone(),
    })];
    let (mut tasks, mut decisions, mut statements) = counts;
    let decision = |template: &crate::playbook::DecisionTemplate,
                    number: u64,
                    preapproved: bool,
                    statement: Option<StatementRef>|
     -> Result<IncidentEvent, Refusal> {
        let class = org
            .policy
            .class(&template.class)
            .ok_or_else(|| invalid("playbook", format!("unknown class {}", template.class)))?;
        check_actions(&org.policy, &template.actions)?;
        let (role, state) = if preapproved {
            (None, DecisionState::Approved)
        } else if class.rule.step_up.is_some() {
            // Starting a playbook is no fresh sign-in: such a proposal waits for approvals that
            // meet the step-up, the runner's own included.
            (None, DecisionState::Proposed)
        } else {
            let role = class.rule.endorsement_role(&holds, &[]);
            let endorsement: Vec<Endorsement<'_>> =
                role.iter().map(|role| Endorsement { user: by, role, also: &[] }).collect();
            let state =
                if class.rule.is_met(by, &endorsement) { DecisionState::Approved } else { DecisionState::Proposed };
            (role, state)
        };
        Ok(IncidentEvent::DecisionProposed(DecisionProposed {
            decision: DecisionId(number),
            class: template.class.clone(),
            title: template.title.chars().take(TITLE_MAX).collect(),
            rationale: template.rationale.clone(),
            actions: template.actions.clone(),
            rule: class.rule.clone(),
            role,
            also: Vec::new(),
            state,
            playbook: preapproved.then(|| citation.clone()),
            path: class.path.clone(),
            statement,
            clocks: Vec::new(),
            authentication: None,
        }))
    };
    for template in &filled.preapproved {
        decisions += 1;
        events.push(decision(template, decisions, true, None)?);
    }
    for (index, step) in filled.steps.iter().enumerate() {
        tasks += 1;
        events.push(IncidentEvent::TaskCreated(TaskCreated {
            task: TaskId(tasks),
            title: step.title.chars().take(TITLE_MAX).collect(),
            owner: holder(&step.role).or_else(|| commander.clone()),
            due: None,
            due_in_minutes: step.due_minutes,
            origin: TaskOrigin::Playbook {
                playbook: playbook.id.clone(),
                version: playbook.version.clone(),
                step: index as u32 + 1,
            },
        }));
        if let Some(template) = &step.decision {
            let bound = match &template.statement {
                Some(draft) => {
                    statements += 1;
                    let body = text("statement.text", &draft.text, TEXT_MAX)?;
                    let sha256 = sha256_hex(body.as_bytes());
                    events.push(IncidentEvent::StatementDrafted(StatementDrafted {
                        statement: StatementId(statements),
                        audience: draft.audience,
                        title: draft.title.chars().take(TITLE_MAX).collect(),
                        text: body,
                        sha256: sha256.clone(),
                    }));
                    Some(StatementRef { statement: StatementId(statements), version: 1, sha256 })
                }
                None => None,
            };
            decisions += 1;
            events.push(decision(template, decisions, false, bound)?);
        }
    }
    Ok(events)
}
