//! Who runs the incident in the fold: roles held, command handed over, the phase.

use super::*;

/// Command passing from one person to another: who, to whom, why, when and who recorded it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Handover {
    pub from: UserName,
    pub to: UserName,
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

impl IncidentState {
    /// Applies staffing, hand-overs and phase changes.
    pub(super) fn apply_roles(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::PhaseChanged(change) => {
                if change.from != self.phase {
                    return fail("'from' is not the current phase");
                }
                if change.to == Phase::Closed && self.review.completed.is_none() {
                    return fail("an incident closes only after its review is complete");
                }
                self.phase = change.to;
            }
            IncidentEvent::RoleAssigned(RoleChange { role, user, unit: Some(unit) }) => {
                if !self.scope.contains(unit) {
                    return fail("a local role is held in a unit in the incident's scope");
                }
                let holders = self.unit_roles.entry(unit.clone()).or_default().entry(role.clone()).or_default();
                if holders.contains(user) {
                    return fail("the user already holds the role in the unit");
                }
                holders.push(user.clone());
            }
            IncidentEvent::RoleReleased(RoleRelease {
                change: RoleChange { role, user, unit: Some(unit) }, ..
            }) => {
                let Some(holders) = self.unit_roles.get_mut(unit).and_then(|roles| roles.get_mut(role)) else {
                    return fail("nobody holds the role in the unit");
                };
                let before = holders.len();
                holders.retain(|u| u != user);
                if holders.len() == before {
                    return fail("the user does not hold the role in the unit");
                }
            }
            IncidentEvent::RoleAssigned(change) => {
                let holders = self.roles.entry(change.role.clone()).or_default();
                if holders.contains(&change.user) {
                    return fail("the user already holds the role");
                }
                holders.push(change.user.clone());
            }
            IncidentEvent::RoleReleased(RoleRelease { change, .. }) => {
                let Some(holders) = self.roles.get_mut(&change.role) else {
                    return fail("nobody holds the role");
                };
                let before = holders.len();
                holders.retain(|u| u != &change.user);
                if holders.len() == before {
                    return fail("the user does not hold the role");
                }
                if holders.is_empty() {
                    self.roles.remove(&change.role);
                }
            }
            IncidentEvent::CommanderHandedOver(handover) => {
                let Some(holders) = self.roles.iter_mut().find(|(role, _)| *role == "commander").map(|(_, h)| h) else {
                    return fail("nobody holds commander");
                };
                if !holders.contains(&handover.from) {
                    return fail("the one handing over does not hold commander");
                }
                if holders.contains(&handover.to) {
                    return fail("the new commander already holds commander");
                }
                holders.retain(|u| u != &handover.from);
                holders.push(handover.to.clone());
                self.handovers.push(Handover {
                    from: handover.from.clone(),
                    to: handover.to.clone(),
                    reason: handover.reason.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
