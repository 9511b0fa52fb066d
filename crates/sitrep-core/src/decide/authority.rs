//! Who may act: the acting user, staffing, visibility, and the `Judge` that asks the policy
//! whether the person holds a role it names.

use super::*;

pub(super) fn acting_user<'a>(org: &'a OrgState, by: &UserName) -> Result<&'a User, Refusal> {
    let user = org.user(by).ok_or_else(|| forbidden("users", format!("'{by}' is not a user of this deployment")))?;
    if !user.active {
        return Err(forbidden("users", format!("the account '{by}' is disabled")));
    }
    Ok(user)
}

pub(super) fn may_act(user: &User) -> Result<(), Refusal> {
    if user.may_act() {
        Ok(())
    } else {
        Err(forbidden(
            "org_roles",
            format!(
                "'{}' may read incidents but not act on them: acting needs the admin or member organisation role",
                user.name
            ),
        ))
    }
}

/// Checks that a staffed role goes to someone who may hold it.
pub(super) fn check_staffing(org: &OrgState, policy: &Policy, role: &Role, user: &UserName) -> Result<(), Refusal> {
    if !policy.knows_role(role) {
        let roles: Vec<&str> = policy.all_roles().map(Role::as_str).collect();
        return Err(invalid("role", format!("unknown role '{role}'; roles are {}", roles.join(", "))));
    }
    let holder = org
        .user(user)
        .filter(|u| u.active)
        .ok_or_else(|| invalid("user", format!("there is no active user '{user}'")))?;
    if !holder.may_act() && !policy.is_read_only(role) {
        return Err(invalid(
            "user",
            format!(
                "'{user}' is a viewer or auditor and may hold only read-only roles ({})",
                policy.roles.read_only.iter().map(Role::as_str).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

/// A unit an incident's scope names must be one the policy defines (`[units]`), so a typo
/// ("emae") is refused instead of leaving the incident outside every unit's local roles.
pub(super) fn check_scope_unit(policy: &Policy, unit: &str) -> Result<(), Refusal> {
    if policy.unit(unit).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = policy.units.iter().map(|(u, _)| u.as_str()).collect();
    let known = if known.is_empty() {
        "the policy defines none (add them under [units])".to_owned()
    } else {
        format!("units are {}", known.join(", "))
    };
    Err(invalid("scope", format!("unknown org unit '{unit}'; {known}")))
}

/// Whether `by` may see this incident at all.
pub fn can_see(state: &IncidentState, by: &UserName) -> bool {
    !state.restricted || state.is_participant(by)
}

/// Whether `by` may list and download this incident's evidence (`[actions] evidence`). Those
/// who may not see evidence do not learn its names either.
pub fn may_read_evidence(state: &IncidentState, policy: &Policy, by: &UserName) -> bool {
    can_see(state, by)
        && Judge { state, policy, by, authentication: None, now: state.updated_at }.allowed(&policy.actions.evidence)
}

/// Whether `by` may see share links: the evidence readers and those who manage third parties.
pub fn may_see_share_links(state: &IncidentState, policy: &Policy, by: &UserName) -> bool {
    let judge = Judge { state, policy, by, authentication: None, now: state.updated_at };
    can_see(state, by) && (judge.allowed(&policy.actions.evidence) || judge.allowed(&policy.actions.third_parties))
}

/// Who may do what on one incident, asked of the policy in force.
pub(super) struct Judge<'a> {
    pub(super) state: &'a IncidentState,
    pub(super) policy: &'a Policy,
    pub(super) by: &'a UserName,
    /// How the person signed in, when they act from a browser session; `None` for a token.
    pub(super) authentication: Option<&'a Authentication>,
    pub(super) now: Timestamp,
}

impl Judge<'_> {
    /// Refuses unless the person's sign-in meets the class's step-up, if it has one: recent
    /// enough and, where asked, with a second factor. The refusal's rule is
    /// `classes.<class>.step_up`, which the web answers with a re-authentication.
    pub(super) fn stepped_up(&self, class: &DecisionClass, rule: &Rule, verb: &str) -> Result<(), Refusal> {
        let Some(step_up) = &rule.step_up else { return Ok(()) };
        let rule = format!("classes.{class}.step_up");
        let Some(authentication) = self.authentication else {
            return Err(forbidden(
                rule,
                format!(
                    "to {verb} {} you must be {}; an API token is not a sign-in, so do it from a browser session",
                    class,
                    step_up.describe()
                ),
            ));
        };
        let age = authentication.age_minutes(self.now);
        if age >= i64::from(step_up.within_minutes) {
            return Err(forbidden(
                rule,
                format!(
                    "to {verb} {} you must be {}; you signed in {age} minutes ago, so sign in again",
                    class,
                    step_up.describe()
                ),
            ));
        }
        if step_up.mfa && !authentication.is_multi_factor(&self.policy.mfa_acr) {
            return Err(forbidden(
                rule,
                format!(
                    "to {verb} {} you must be {}; your sign-in used one factor, so sign in again with a second",
                    class,
                    step_up.describe()
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn holds(&self) -> Vec<Role> {
        self.state.roles_of(self.by)
    }

    /// The roles this person may decide with under a rule of this scope (local roles count
    /// for `local` classes).
    pub(super) fn holds_for(&self, scope: crate::policy::Scope) -> Vec<Role> {
        self.state.deciding_roles_of(self.by, scope)
    }

    /// For a `local` class, why a person with no role of it cannot decide: which units decide.
    pub(super) fn local_words(&self, rule: &Rule, class: &DecisionClass) -> String {
        let units: Vec<&str> = self.state.scope.iter().filter_map(|u| self.policy.unit(u)).collect();
        if rule.scope != crate::policy::Scope::Local || units.is_empty() {
            return String::new();
        }
        let held_there = self.state.unit_roles.values().any(|roles| roles.values().any(|h| h.contains(self.by)));
        format!(
            "{class} is local to {}{}; ",
            units.join(", "),
            if held_there { String::new() } else { format!("; you hold no role in {}", units.join(" or ")) }
        )
    }

    pub(super) fn unit_in_scope(&self, unit: &str) -> Result<(), Refusal> {
        if self.policy.unit(unit).is_none() {
            let known: Vec<&str> = self.policy.units.iter().map(|(u, _)| u.as_str()).collect();
            return Err(invalid("unit", format!("unknown unit '{unit}'; units are {}", list_or_none(&known))));
        }
        if !self.state.scope.iter().any(|s| s == unit) {
            return Err(invalid("unit", format!("{unit} is not in the scope of {}", self.state.id)));
        }
        Ok(())
    }

    /// Who currently holds any of these roles, for messages that say who could act.
    pub(super) fn holders(&self, roles: &[Role]) -> String {
        let named: Vec<String> = roles
            .iter()
            .map(|role| match self.state.roles.get(role) {
                Some(users) if !users.is_empty() => {
                    format!("{role}: {}", users.iter().map(UserName::as_str).collect::<Vec<_>>().join(", "))
                }
                _ => format!("{role}: unfilled"),
            })
            .collect();
        named.join("; ")
    }

    pub(super) fn held_words(&self) -> String {
        let held = self.holds();
        if held.is_empty() {
            "you hold no role on this incident".to_owned()
        } else {
            format!("you hold {}", held.iter().map(Role::as_str).collect::<Vec<_>>().join(", "))
        }
    }

    pub(super) fn allowed(&self, who: &Who) -> bool {
        match who {
            Who::Participants => self.holds().iter().any(|r| !self.policy.is_read_only(r)),
            Who::Roles(roles) => roles.iter().any(|r| self.state.holds(self.by, r.as_str())),
        }
    }

    /// Checks a non-decision action against `[actions]` in the policy.
    pub(super) fn permit(&self, rule: &str, who: &Who, doing: &str) -> Result<(), Refusal> {
        if self.allowed(who) {
            return Ok(());
        }
        let message = match who {
            Who::Participants => {
                format!("{doing} needs a role on {} other than a read-only one; {}", self.state.id, self.held_words())
            }
            Who::Roles(roles) => {
                format!("{doing} needs the {} role; {} ({})", join_or(roles), self.held_words(), self.holders(roles))
            }
        };
        Err(forbidden(format!("actions.{rule}"), message))
    }

    pub(super) fn decision(&self, id: DecisionId) -> Result<&Decision, Refusal> {
        self.state.decision(id).ok_or_else(|| Refusal::NotFound(format!("{} has no decision {id}", self.state.id)))
    }

    pub(super) fn open_decision(&self, id: DecisionId, doing: &str) -> Result<&Decision, Refusal> {
        let decision = self.decision(id)?;
        if decision.state != DecisionState::Proposed {
            return Err(conflict(format!("{id} is {}; it can no longer be {doing}", decision.state.as_str())));
        }
        Ok(decision)
    }

    pub(super) fn participant(&self, field: &str, user: &UserName) -> Result<(), Refusal> {
        if self.state.is_participant(user) {
            Ok(())
        } else {
            Err(invalid(field, format!("'{user}' holds no role on {}; assign them a role first", self.state.id)))
        }
    }

    pub(super) fn fact(&self, id: FactId) -> Result<FactStatus, Refusal> {
        self.state
            .fact(id)
            .map(|f| f.status)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no fact {id}", self.state.id)))
    }

    pub(super) fn task(&self, id: TaskId) -> Result<TaskState, Refusal> {
        self.state
            .task(id)
            .map(|t| t.state)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no task {id}", self.state.id)))
    }

    /// When a decision approves a `close`, the incident closes in the same step.
    pub(super) fn closing(&self, class: &DecisionClass, decision: DecisionId) -> Option<IncidentEvent> {
        (class == "close").then_some(IncidentEvent::PhaseChanged(PhaseChanged {
            from: self.state.phase,
            to: Phase::Closed,
            decision: Some(decision),
        }))
    }
}

/// The rule's roles this person holds, in the rule's order.
pub(super) fn held_rule_roles(rule: &Rule, holds: &[Role]) -> Vec<Role> {
    rule.approve.roles().iter().filter(|r| holds.contains(r)).cloned().collect()
}
