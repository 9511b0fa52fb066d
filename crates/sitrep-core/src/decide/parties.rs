//! Third parties: engaging them, revoking their share links, and what a share may reach.

use super::*;

/// Decides engaging third parties and revoking their share links.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::EngageParty { party, reason } => {
            judge.permit("third_parties", &rules.third_parties, "engaging third parties")?;
            if !org.parties.contains_key(party) {
                let known: Vec<&str> = org.parties.keys().map(String::as_str).collect();
                return Err(invalid(
                    "party",
                    format!("there is no registered party '{party}'; registered parties are {}", list_or_none(&known)),
                ));
            }
            if state.is_engaged(party) {
                return Err(conflict(format!("{party} is already engaged on {}", state.id)));
            }
            vec![IncidentEvent::PartyEngaged(PartyEngaged {
                party: party.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::RevokeShare { share, reason } => {
            judge.permit("third_parties", &rules.third_parties, "revoking share links")?;
            let found =
                state.share(*share).ok_or_else(|| Refusal::NotFound(format!("{} has no share {share}", state.id)))?;
            if let Some(revoked) = &found.revoked {
                return Err(conflict(format!("{share} was already revoked by {} at {}", revoked.by, revoked.at)));
            }
            vec![IncidentEvent::ShareRevoked(ShareRevoked {
                share: *share,
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

impl Judge<'_> {
    /// A share action names an engaged party and registered items, and only an
    /// `evidence_sharing` decision carries one.
    pub(super) fn shares(&self, class: &DecisionClass, actions: &[ActionSpec], org: &OrgState) -> Result<(), Refusal> {
        for (index, action) in actions.iter().enumerate() {
            let ActionSpec::Share { party, items, .. } = action else { continue };
            let field = format!("actions[{index}]");
            if class != "evidence_sharing" {
                return Err(invalid(&field, "evidence is shared only through an evidence_sharing decision"));
            }
            if !org.parties.contains_key(party) {
                return Err(invalid(&format!("{field}.party"), format!("there is no registered party '{party}'")));
            }
            if !self.state.is_engaged(party) {
                return Err(invalid(
                    &format!("{field}.party"),
                    format!("{party} is not engaged on {}; engage them first", self.state.id),
                ));
            }
            if let Some(unknown) = items.iter().find(|item| self.state.evidence_item(item).is_none()) {
                return Err(invalid(&format!("{field}.items"), format!("{} has no evidence {unknown}", self.state.id)));
            }
        }
        Ok(())
    }
}
