//! Evidence: registering a file and recording each access in its chain of custody.

use super::*;

/// Decides registering evidence and recording access to it.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::RegisterEvidence(registered) => {
            judge.permit("evidence", &rules.evidence, "adding evidence")?;
            if !is_sha256(&registered.sha256) {
                return Err(invalid("sha256", "must be 64 lower-case hex digits"));
            }
            if let Some(item) = state.evidence_item(&registered.sha256) {
                return Err(conflict(format!(
                    "this file is already evidence on {} (registered by {} at {})",
                    state.id, item.registered_by, item.received_at
                )));
            }
            vec![IncidentEvent::EvidenceRegistered(EvidenceRegistered {
                sha256: registered.sha256.clone(),
                size: registered.size,
                name: evidence_name(&registered.name),
                declared_type: optional_text("declared_type", &registered.declared_type, 200)?,
                sniffed_type: registered.sniffed_type.clone(),
                source: optional_text("source", &registered.source, TITLE_MAX)?,
                collected_by: optional_text("collected_by", &registered.collected_by, TITLE_MAX)?,
                collected_at: registered
                    .collected_at
                    .map(|collected| date("collected_at", collected, now, When::Happened))
                    .transpose()?,
            })]
        }
        C::AccessEvidence { sha256, purpose } => {
            judge.permit("evidence", &rules.evidence, "reading evidence")?;
            judge.evidence(sha256)?;
            let purpose = text("purpose", purpose, SHORT_MAX).map_err(|refusal| {
                if purpose.trim().is_empty() {
                    invalid("purpose", "say why you are downloading it; the purpose goes in the chain of custody")
                } else {
                    refusal
                }
            })?;
            vec![IncidentEvent::EvidenceAccessed(EvidenceAccessed { sha256: sha256.clone(), purpose, share: None })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

impl Judge<'_> {
    pub(super) fn evidence(&self, sha256: &str) -> Result<&crate::incident::EvidenceItem, Refusal> {
        self.state
            .evidence_item(sha256)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no evidence {sha256}", self.state.id)))
    }
}
