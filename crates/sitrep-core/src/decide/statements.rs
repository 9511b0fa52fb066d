//! Statements: drafting, revising and publishing exactly the text a decision approved.

use super::*;

/// Decides drafting, revising and publishing statements.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::DraftStatement { audience, title, text: body } => {
            judge.permit("statements", &rules.statements, "drafting statements")?;
            let title = text("title", title, TITLE_MAX)?;
            let body = text("text", body, TEXT_MAX)?;
            vec![IncidentEvent::StatementDrafted(StatementDrafted {
                statement: StatementId(state.statements.len() as u64 + 1),
                audience: *audience,
                title,
                sha256: sha256_hex(body.as_bytes()),
                text: body,
            })]
        }
        C::ReviseStatement { statement, text: body } => {
            judge.permit("statements", &rules.statements, "revising statements")?;
            let found = judge.statement(*statement)?;
            let body = text("text", body, TEXT_MAX)?;
            let latest = found.latest();
            if latest.text == body {
                return Err(conflict(format!("{statement} v{} already says exactly this", latest.version)));
            }
            vec![IncidentEvent::StatementRevised(StatementRevised {
                statement: *statement,
                version: latest.version + 1,
                sha256: sha256_hex(body.as_bytes()),
                text: body,
            })]
        }
        C::PublishStatement { statement, channel, sha256, outlet_for } => {
            judge.permit("publish_statements", &rules.publish_statements, "publishing statements")?;
            let found = judge.statement(*statement)?;
            let channel = text("channel", channel, TITLE_MAX)?;
            let latest = found.latest();
            if sha256.as_ref().is_some_and(|read| *read != latest.sha256) {
                return Err(conflict(format!(
                    "{statement} changed since you read it: the latest is v{}; read it again before publishing",
                    latest.version
                )));
            }
            let bound = StatementRef { statement: *statement, version: latest.version, sha256: latest.sha256.clone() };
            let Some(decision) = state.approval_of(&bound) else {
                return Err(judge.unapproved(found, &bound));
            };
            if found.publications.iter().any(|p| p.version == latest.version && p.channel == channel) {
                return Err(conflict(format!("{statement} v{} is already published on {channel}", latest.version)));
            }
            vec![IncidentEvent::StatementPublished(StatementPublished {
                statement: *statement,
                version: latest.version,
                sha256: latest.sha256.clone(),
                outlet: outlet_for.contains(&found.audience),
                channel,
                decision: decision.id,
            })]
        }
        C::RetryDelivery { statement, version, channel } => {
            judge.permit("publish_statements", &rules.publish_statements, "retrying a statement's delivery")?;
            let found = judge.statement(*statement)?;
            let delivery = found.publication(*version, channel).and_then(|p| p.delivery.as_ref()).ok_or_else(|| {
                Refusal::NotFound(format!("{statement} v{version} was not published to the outlet '{channel}'"))
            })?;
            if delivery.status != DeliveryStatus::Failed {
                return Err(conflict(format!(
                    "the delivery of {statement} v{version} to {channel} has not failed for good; only such a delivery is retried"
                )));
            }
            vec![IncidentEvent::StatementDeliveryRetryRequested(DeliveryRef {
                statement: *statement,
                version: *version,
                channel: channel.clone(),
            })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

impl Judge<'_> {
    pub(super) fn statement(&self, id: StatementId) -> Result<&crate::incident::Statement, Refusal> {
        self.state.statement(id).ok_or_else(|| Refusal::NotFound(format!("{} has no statement {id}", self.state.id)))
    }

    /// Binds a decision to a statement's latest version, through the class its audience needs.
    pub(super) fn statement_to_approve(&self, id: StatementId, class: &DecisionClass) -> Result<StatementRef, Refusal> {
        let statement = self.statement(id)?;
        let needed = statement.audience.class();
        if class.as_str() != needed {
            return Err(invalid(
                "class",
                format!("a statement to {} is approved through {needed}, not {class}", statement.audience.as_str()),
            ));
        }
        let latest = statement.latest();
        Ok(StatementRef { statement: id, version: latest.version, sha256: latest.sha256.clone() })
    }

    /// Why this statement version may not go out, and what would let it.
    pub(super) fn unapproved(&self, statement: &crate::incident::Statement, bound: &StatementRef) -> Refusal {
        let id = statement.id;
        let version = bound.version;
        let class = statement.audience.class();
        let rule = format!("classes.{class}.approve");
        let for_statement = |d: &&Decision| d.statement.as_ref().is_some_and(|s| s.statement == id);
        let pending = self
            .state
            .decisions
            .iter()
            .filter(for_statement)
            .find(|d| d.state == DecisionState::Proposed && d.statement.as_ref() == Some(bound));
        if let Some(pending) = pending {
            return forbidden(
                rule,
                format!("{id} v{version} is not approved yet: {} {}", pending.id, pending.progress().waiting_on),
            );
        }
        let earlier = self.state.decisions.iter().filter(for_statement).rfind(|d| d.state == DecisionState::Approved);
        let message = match earlier.and_then(|d| d.statement.as_ref().map(|s| (d.id, s.version))) {
            Some((decision, approved)) => format!(
                "{id} changed after {decision} approved v{approved}; v{version} needs its own {class} approval: propose one"
            ),
            None => format!("{id} v{version} has no approved {class} decision; propose one bound to it"),
        };
        forbidden(rule, message)
    }
}
