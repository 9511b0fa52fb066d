//! Started playbooks in the fold.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartedPlaybook {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub approved_by: String,
    pub inputs: BTreeMap<String, String>,
    pub started_by: Actor,
    pub started_at: Timestamp,
}

impl IncidentState {
    /// Applies a playbook's start.
    pub(super) fn apply_playbooks(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::PlaybookStarted(started) => {
                if self.playbooks.iter().any(|p| p.id == started.playbook) {
                    return fail("the playbook was already started on this incident");
                }
                self.playbooks.push(StartedPlaybook {
                    id: started.playbook.clone(),
                    version: started.version.clone(),
                    sha256: started.sha256.clone(),
                    approved_by: started.approved_by.clone(),
                    inputs: started.inputs.clone(),
                    started_by: actor.clone(),
                    started_at: at,
                });
                for role in &started.required_roles {
                    if !self.playbook_roles.contains(role) {
                        self.playbook_roles.push(role.clone());
                    }
                }
                self.preapproving = Some(started.sha256.clone());
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
