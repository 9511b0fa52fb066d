//! Statements in the fold: versions and publications.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    pub id: StatementId,
    pub audience: Audience,
    pub title: String,
    /// Every version, the first draft first; a version's number is its index plus one.
    pub versions: Vec<StatementVersion>,
    pub publications: Vec<Publication>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementVersion {
    pub version: u32,
    pub text: String,
    pub sha256: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Publication {
    pub version: u32,
    pub sha256: String,
    pub channel: String,
    pub decision: DecisionId,
    pub by: Actor,
    pub at: Timestamp,
}

impl Statement {
    pub fn latest(&self) -> &StatementVersion {
        // Drafting creates the first version, so there is always one.
        &self.versions[self.versions.len() - 1]
    }

    pub fn version(&self, version: u32) -> Option<&StatementVersion> {
        version.checked_sub(1).and_then(|i| self.versions.get(i as usize))
    }
}

impl IncidentState {
    /// Applies statement drafts, revisions and publications.
    pub(super) fn apply_statements(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::StatementDrafted(drafted) => {
                if drafted.statement.0 != self.statements.len() as u64 + 1 {
                    return fail("statement ids must be sequential");
                }
                if crate::entry::sha256_hex(drafted.text.as_bytes()) != drafted.sha256 {
                    return fail("the recorded hash is not the text's");
                }
                self.statements.push(Statement {
                    id: drafted.statement,
                    audience: drafted.audience,
                    title: drafted.title.clone(),
                    versions: vec![StatementVersion {
                        version: 1,
                        text: drafted.text.clone(),
                        sha256: drafted.sha256.clone(),
                        by: actor.clone(),
                        at,
                    }],
                    publications: Vec::new(),
                });
            }
            IncidentEvent::StatementRevised(revised) => {
                if crate::entry::sha256_hex(revised.text.as_bytes()) != revised.sha256 {
                    return fail("the recorded hash is not the text's");
                }
                let Some(statement) = self.statement_mut(revised.statement) else { return fail("unknown statement") };
                if revised.version as usize != statement.versions.len() + 1 {
                    return fail("statement versions must be sequential");
                }
                statement.versions.push(StatementVersion {
                    version: revised.version,
                    text: revised.text.clone(),
                    sha256: revised.sha256.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::StatementPublished(published) => {
                let bound = StatementRef {
                    statement: published.statement,
                    version: published.version,
                    sha256: published.sha256.clone(),
                };
                if !self.approves(published.decision, &bound) {
                    return fail("only the text an approved decision is bound to is published");
                }
                let Some(statement) = self.statement_mut(published.statement) else { return fail("unknown statement") };
                if statement.latest().version != published.version {
                    return fail("only a statement's latest version is published");
                }
                statement.publications.push(Publication {
                    version: published.version,
                    sha256: published.sha256.clone(),
                    channel: published.channel.clone(),
                    decision: published.decision,
                    by: actor.clone(),
                    at,
                });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
