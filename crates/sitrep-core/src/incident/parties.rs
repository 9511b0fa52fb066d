//! Third parties in the fold: engagements and share links.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EngagedParty {
    pub party: String,
    pub reason: Option<String>,
    pub engaged_by: Actor,
    pub engaged_at: Timestamp,
}

/// An expiring, revocable link through which one party fetches exactly these items.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Share {
    pub id: ShareId,
    pub decision: DecisionId,
    pub party: String,
    pub items: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: Option<Note>,
    pub uses: u32,
}

impl Share {
    /// Whether the link works at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked.is_none() && now < self.expires_at
    }
}

impl IncidentState {
    /// Applies engagements and share links.
    pub(super) fn apply_parties(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::PartyEngaged(engaged) => {
                if self.parties.iter().any(|p| p.party == engaged.party) {
                    return fail("the party is already engaged");
                }
                self.parties.push(EngagedParty {
                    party: engaged.party.clone(),
                    reason: engaged.reason.clone(),
                    engaged_by: actor.clone(),
                    engaged_at: at,
                });
            }
            IncidentEvent::ShareCreated(created) => {
                if created.share.0 != self.shares.len() as u64 + 1 {
                    return fail("share ids must be sequential");
                }
                let action = self
                    .action_mut(created.decision, created.action)
                    .ok_or_else(|| fold_error(entry, "unknown action"))?;
                let matches_action = matches!(&action.spec, ActionSpec::Share { party, items, expires_in_hours }
                    if *party == created.party && *items == created.items && *expires_in_hours == created.expires_in_hours);
                if action.status != ActionStatus::Running || !matches_action {
                    return fail("a share is created only by its running share action");
                }
                self.shares.push(Share {
                    id: created.share,
                    decision: created.decision,
                    party: created.party.clone(),
                    items: created.items.clone(),
                    created_at: at,
                    expires_at: at.plus_seconds(i64::from(created.expires_in_hours) * 3600),
                    revoked: None,
                    uses: 0,
                });
            }
            IncidentEvent::ShareRevoked(revoked) => {
                let Some(share) = self.share_mut(revoked.share) else { return fail("unknown share") };
                if share.revoked.is_some() {
                    return fail("the share is already revoked");
                }
                share.revoked = Some(Note { by: actor.clone(), at, text: revoked.reason.clone().unwrap_or_default() });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
