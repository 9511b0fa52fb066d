//! Regulatory clocks: determinations that start them, submissions that meet them, and legal's
//! reasons to stop them unmet.

use super::*;

/// Decides determinations, submissions and releases: what starts, meets or stops a clock.
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
        C::RecordDetermination { determination, basis, aware_at } => {
            judge.permit("determinations", &rules.determinations, "recording determinations")?;
            let policy = &org.policy;
            if !policy.determinations.iter().any(|(name, _)| name == determination) {
                let known: Vec<&str> = policy.determinations.iter().map(|(name, _)| name.as_str()).collect();
                return Err(invalid(
                    "determination",
                    format!("unknown determination '{determination}'; the policy knows {}", list_or_none(&known)),
                ));
            }
            let aware_at = aware_at.map(|aware| date("aware_at", aware, now, When::Happened)).transpose()?;
            if let Some(earlier) = state.determinations.iter().find(|d| &d.determination == determination) {
                return Err(conflict(format!(
                    "{determination} was already determined by {} at {}",
                    earlier.by, earlier.at
                )));
            }
            let clocks = policy
                .clocks
                .iter()
                .filter(|c| &c.starts_on == determination)
                .map(|c| ClockStart {
                    clock: c.clock.clone(),
                    title: c.title.clone(),
                    deadline: c.deadline,
                    stopped_by: c.stopped_by.clone(),
                    warn_hours: c.warn_hours,
                    path: policy.class(&c.stopped_by).map(|class| class.path.clone()).unwrap_or_default(),
                    from_submission_of: c.from_submission_of.clone(),
                })
                .collect();
            vec![IncidentEvent::DeterminationRecorded(DeterminationRecorded {
                determination: determination.clone(),
                basis: text("basis", basis, SHORT_MAX)?,
                aware_at,
                clocks,
            })]
        }
        C::SubmitNotification { clock, sent_at, authority, channel, reference, statement, version } => {
            judge.permit("submissions", &rules.submissions, "recording a notification sent to an authority")?;
            vec![judge.submission(clock, *sent_at, authority, channel, reference, *statement, *version, now)?]
        }
        C::WithdrawDetermination { determination, basis } => {
            judge.permit("release_clocks", &rules.release_clocks, "withdrawing determinations")?;
            let Some(found) = state.determinations.iter().find(|d| &d.determination == determination) else {
                let known: Vec<&str> = state.determinations.iter().map(|d| d.determination.as_str()).collect();
                return Err(Refusal::NotFound(format!(
                    "{} has no determination '{determination}'; it has {}",
                    state.id,
                    list_or_none(&known)
                )));
            };
            if let Some(withdrawn) = &found.withdrawn {
                return Err(conflict(format!(
                    "{determination} was already withdrawn by {} at {}: {}",
                    withdrawn.by, withdrawn.at, withdrawn.text
                )));
            }
            vec![IncidentEvent::DeterminationWithdrawn(DeterminationWithdrawn {
                determination: determination.clone(),
                basis: required_basis(basis)?,
            })]
        }
        C::NotificationNotRequired { clock, basis } => {
            judge.permit("release_clocks", &rules.release_clocks, "recording that a notification is not required")?;
            judge.open_clock(clock)?;
            vec![IncidentEvent::ClockNotRequired(ClockNotRequired {
                clock: clock.clone(),
                basis: required_basis(basis)?,
            })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

impl Judge<'_> {
    /// The clocks a proposal names: each running and stopped by this class.
    pub(super) fn clocks_to_stop(&self, class: &DecisionClass, named: &[String]) -> Result<Vec<String>, Refusal> {
        for (index, name) in named.iter().enumerate() {
            let Some(clock) = self.state.clocks.iter().find(|c| &c.clock == name) else {
                return Err(invalid(&format!("clocks[{index}]"), format!("{} has no clock '{name}'", self.state.id)));
            };
            if !clock.is_open() {
                return Err(invalid(&format!("clocks[{index}]"), format!("the clock '{name}' has already stopped")));
            }
            if &clock.stopped_by != class {
                return Err(invalid(
                    &format!("clocks[{index}]"),
                    format!("the clock '{name}' is stopped by {}, not {class}", clock.stopped_by),
                ));
            }
        }
        Ok(named.to_vec())
    }

    /// A clock that is still owed (running, or waiting for the submission it runs from).
    pub(super) fn open_clock(&self, name: &str) -> Result<&crate::incident::Clock, Refusal> {
        let Some(clock) = self.state.clocks.iter().find(|c| c.clock == name) else {
            let known: Vec<&str> = self.state.clocks.iter().map(|c| c.clock.as_str()).collect();
            return Err(Refusal::NotFound(format!(
                "{} has no clock '{name}'; its clocks are {}",
                self.state.id,
                list_or_none(&known)
            )));
        };
        if let Some(sent) = &clock.submission {
            return Err(conflict(format!(
                "the clock '{name}' was already met by the notification to {} sent at {} (reference {}), \
                 recorded by {}",
                sent.authority, sent.sent_at, sent.reference, sent.recorded_by
            )));
        }
        if let Some(released) = &clock.released {
            return Err(conflict(format!(
                "the clock '{name}' was already stopped by {} at {} ({}): {}",
                released.by,
                released.at,
                match released.reason {
                    crate::incident::ReleaseReason::DeterminationWithdrawn => "determination withdrawn",
                    crate::incident::ReleaseReason::NotRequired => "not required",
                },
                released.basis
            )));
        }
        Ok(clock)
    }

    /// A submission of an approved statement version to an authority, checked field by field.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn submission(
        &self,
        clock: &str,
        sent_at: Timestamp,
        authority: &str,
        channel: &str,
        reference: &str,
        statement: StatementId,
        version: u32,
        now: Timestamp,
    ) -> Result<IncidentEvent, Refusal> {
        let found = self.open_clock(clock)?;
        if let Some(first) = &found.waiting_for {
            return Err(conflict(format!(
                "the clock '{clock}' runs from the submission of '{first}', which is not recorded yet; record that first"
            )));
        }
        let authority = text("authority", authority, TITLE_MAX)?;
        let channel = text("channel", channel, TITLE_MAX)?;
        let reference = text("reference", reference, TITLE_MAX).map_err(|refusal| {
            if reference.trim().is_empty() {
                invalid("reference", "give the authority's reference for the submission (case or ticket number)")
            } else {
                refusal
            }
        })?;
        let sent_at = date("sent_at", sent_at, now, When::Happened)?;
        let text_of = self.statement(statement)?;
        let Some(sent) = text_of.version(version) else {
            return Err(invalid(
                "version",
                format!("{statement} has no version {version}; it has v1 to v{}", text_of.latest().version),
            ));
        };
        let bound = StatementRef { statement, version, sha256: sent.sha256.clone() };
        let Some(decision) = self.state.approval_of(&bound) else {
            return Err(self.unapproved(text_of, &bound));
        };
        if decision.class != found.stopped_by {
            return Err(invalid(
                "statement",
                format!(
                    "{statement} v{version} was approved through {} ({}); the clock '{clock}' is met by a statement approved through {}",
                    decision.class, decision.id, found.stopped_by
                ),
            ));
        }
        if !decision.clocks.is_empty() && !decision.clocks.iter().any(|c| c == clock) {
            return Err(invalid(
                "clock",
                format!(
                    "{} approved {statement} v{version} for {}, not for '{clock}'",
                    decision.id,
                    decision.clocks.join(", ")
                ),
            ));
        }
        if let Some(approved) = decision.decided_at
            && sent_at < approved
        {
            return Err(invalid(
                "sent_at",
                format!(
                    "{sent_at} is before {} approved {statement} v{version} at {approved}; approve first, then send",
                    decision.id
                ),
            ));
        }
        Ok(IncidentEvent::ClockSubmitted(ClockSubmitted {
            clock: clock.to_owned(),
            sent_at,
            authority,
            channel,
            reference,
            statement: bound,
            decision: decision.id,
        }))
    }
}
