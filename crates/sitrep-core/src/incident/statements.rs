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
    /// What sitrep owes the outlet when `channel` is one; `None` when a person published it
    /// elsewhere and the record only says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// A publication's delivery to its outlet: owed, done, or failed, with every attempt.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub status: DeliveryStatus,
    /// Failures since the delivery was last owed afresh (the backoff counts these).
    pub failures: u32,
    /// Whether a failed delivery is tried again by the publisher.
    pub retryable: bool,
    pub last_attempt_at: Option<Timestamp>,
    pub attempts: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Owed: not tried yet, or failed and waiting for its next try.
    Pending,
    Delivered,
    /// Failed for good; a person with `publish_statements` may ask for another try.
    Failed,
}

/// One try: when, the hash of what was sent, and the receipt or the failure.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub attempt: u32,
    pub at: Timestamp,
    pub delivered: bool,
    pub sha256: String,
    /// The receipt on success, the reason on failure.
    pub detail: Option<String>,
    pub retryable: bool,
}

impl Delivery {
    /// Whether the publisher should try (now or after its backoff).
    pub fn owed(&self) -> bool {
        self.status == DeliveryStatus::Pending
    }
}

impl Publication {
    pub fn is_outlet(&self) -> bool {
        self.delivery.is_some()
    }
}

impl Statement {
    /// The publication of `version` on `channel` (there is at most one).
    pub fn publication(&self, version: u32, channel: &str) -> Option<&Publication> {
        self.publications.iter().find(|p| p.version == version && p.channel == channel)
    }

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
                    delivery: published.outlet.then(|| Delivery {
                        status: DeliveryStatus::Pending,
                        failures: 0,
                        retryable: true,
                        last_attempt_at: None,
                        attempts: Vec::new(),
                    }),
                });
            }
            IncidentEvent::StatementDelivered(sent) => {
                let delivery =
                    self.delivery_mut(sent.statement, sent.version, &sent.channel, &sent.sha256, sent.attempt);
                let delivery = delivery.map_err(|reason| fold_error(entry, reason))?;
                delivery.status = DeliveryStatus::Delivered;
                delivery.last_attempt_at = Some(at);
                delivery.attempts.push(DeliveryAttempt {
                    attempt: sent.attempt,
                    at,
                    delivered: true,
                    sha256: sent.sha256.clone(),
                    detail: sent.receipt.clone(),
                    retryable: false,
                });
            }
            IncidentEvent::StatementDeliveryFailed(failed) => {
                let delivery = self.delivery_mut(
                    failed.statement,
                    failed.version,
                    &failed.channel,
                    &failed.sha256,
                    failed.attempt,
                );
                let delivery = delivery.map_err(|reason| fold_error(entry, reason))?;
                delivery.failures += 1;
                delivery.retryable = failed.retryable;
                delivery.last_attempt_at = Some(at);
                if !failed.retryable {
                    delivery.status = DeliveryStatus::Failed;
                }
                delivery.attempts.push(DeliveryAttempt {
                    attempt: failed.attempt,
                    at,
                    delivered: false,
                    sha256: failed.sha256.clone(),
                    detail: Some(failed.reason.clone()),
                    retryable: failed.retryable,
                });
            }
            IncidentEvent::StatementDeliveryRetryRequested(retry) => {
                let delivery = self
                    .statement_mut(retry.statement)
                    .and_then(|s| {
                        s.publications.iter_mut().find(|p| p.version == retry.version && p.channel == retry.channel)
                    })
                    .and_then(|p| p.delivery.as_mut())
                    .ok_or_else(|| fold_error(entry, "no delivery is owed to that outlet"))?;
                if delivery.status != DeliveryStatus::Failed {
                    return fail("only a delivery that failed for good is retried");
                }
                delivery.status = DeliveryStatus::Pending;
                delivery.failures = 0;
                delivery.retryable = true;
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }

    /// The owed delivery an attempt reports on, if the attempt could have been made: the next
    /// attempt, of exactly the published (approved) bytes.
    fn delivery_mut(
        &mut self,
        statement: StatementId,
        version: u32,
        channel: &str,
        sha256: &str,
        attempt: u32,
    ) -> Result<&mut Delivery, &'static str> {
        let publication = self
            .statement_mut(statement)
            .and_then(|s| s.publications.iter_mut().find(|p| p.version == version && p.channel == channel))
            .ok_or("no such publication")?;
        if publication.sha256 != sha256 {
            return Err("a delivery sends only the published text's bytes");
        }
        let delivery = publication.delivery.as_mut().ok_or("that publication is not owed a delivery")?;
        if !delivery.owed() || attempt as usize != delivery.attempts.len() + 1 {
            return Err("that delivery is not owed this attempt");
        }
        Ok(delivery)
    }
}
