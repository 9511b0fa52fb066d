//! Evidence in the fold: items and their chain of custody.

use super::*;

/// A file registered as evidence; the blob itself lives in the store, named by its hash.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceItem {
    pub sha256: String,
    pub size: u64,
    pub name: String,
    pub declared_type: Option<String>,
    pub sniffed_type: Option<String>,
    pub source: Option<String>,
    pub collected_by: Option<String>,
    pub collected_at: Option<Timestamp>,
    pub registered_by: Actor,
    /// The server's time of receipt: the registration entry's time.
    pub received_at: Timestamp,
    /// Every download, export and share-link use, in order.
    pub custody: Vec<Custody>,
    /// Times the stored blob was found not to match its hash.
    pub integrity_failures: Vec<Note>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Custody {
    pub by: Actor,
    pub at: Timestamp,
    pub purpose: String,
    pub share: Option<ShareId>,
}

impl IncidentState {
    /// Applies evidence registration, access and integrity failures.
    pub(super) fn apply_evidence(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::EvidenceRegistered(registered) => {
                if !crate::entry::is_sha256(&registered.sha256) {
                    return fail("evidence is named by 64 lower-case hex digits");
                }
                if !crate::decide::is_kept_name(&registered.name) {
                    return fail("the name holds characters the record never keeps as they are");
                }
                if self.evidence_item(&registered.sha256).is_some() {
                    return fail("the item is already registered on this incident");
                }
                self.evidence.push(EvidenceItem {
                    sha256: registered.sha256.clone(),
                    size: registered.size,
                    name: registered.name.clone(),
                    declared_type: registered.declared_type.clone(),
                    sniffed_type: registered.sniffed_type.clone(),
                    source: registered.source.clone(),
                    collected_by: registered.collected_by.clone(),
                    collected_at: registered.collected_at,
                    registered_by: actor.clone(),
                    received_at: at,
                    custody: Vec::new(),
                    integrity_failures: Vec::new(),
                });
            }
            IncidentEvent::EvidenceAccessed(accessed) => {
                if let Some(id) = accessed.share {
                    if self.phase == Phase::Closed {
                        return fail("a closed incident's share links no longer work");
                    }
                    let Some(share) = self.share_mut(id) else { return fail("unknown share") };
                    if !share.is_live(at) || !share.items.contains(&accessed.sha256) {
                        return fail("the share does not reach this item at this time");
                    }
                    share.uses += 1;
                }
                let Some(item) = self.evidence_mut(&accessed.sha256) else { return fail("unknown evidence") };
                item.custody.push(Custody {
                    by: actor.clone(),
                    at,
                    purpose: accessed.purpose.clone(),
                    share: accessed.share,
                });
            }
            IncidentEvent::EvidenceIntegrityFailed(failed) => {
                let Some(item) = self.evidence_mut(&failed.sha256) else { return fail("unknown evidence") };
                item.integrity_failures.push(Note { by: actor.clone(), at, text: failed.detail.clone() });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
