//! Regulatory clocks in the fold: determinations, deadlines, submissions and releases.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Determination {
    pub determination: String,
    pub basis: String,
    pub by: Actor,
    pub at: Timestamp,
    pub aware_at: Option<Timestamp>,
    /// Who withdrew it, when, and on what basis.
    pub withdrawn: Option<Note>,
}

/// A regulatory deadline and where it stands.
#[derive(Debug, Clone)]
pub struct Clock {
    pub clock: String,
    pub title: String,
    pub determination: String,
    /// When it started; while `waiting_for` is set, when it would have (not yet meaningful).
    pub started_at: Timestamp,
    pub deadline: Timestamp,
    pub warn_at: Timestamp,
    pub stopped_by: DecisionClass,
    pub path: Vec<String>,
    /// The clock whose submission starts this one, until that submission is recorded.
    pub waiting_for: Option<String>,
    /// When the path was told the deadline is near, who was told and who could not be.
    pub warned: Option<ClockWarning>,
    pub missed_at: Option<Timestamp>,
    /// The notification sent to the authority: the one thing that meets a clock.
    pub submission: Option<Submission>,
    /// Stopped without a submission: the determination was withdrawn, or notifying is not
    /// required; by whom and why.
    pub released: Option<ClockRelease>,
    rule: crate::policy::Deadline,
    warn_hours: u32,
}

/// A clock as answers show it.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Clock))]
struct ShownClock<'a> {
    clock: &'a str,
    title: &'a str,
    determination: &'a str,
    started_at: Option<Timestamp>,
    deadline: Option<Timestamp>,
    warn_at: Option<Timestamp>,
    stopped_by: &'a DecisionClass,
    path: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for: Option<&'a str>,
    warned: Option<&'a ClockWarning>,
    missed_at: Option<Timestamp>,
    submission: Option<&'a Submission>,
    released: Option<&'a ClockRelease>,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Clock {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ShownClock<'_> as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Clock {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <ShownClock<'_> as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A clock that waits for another's submission has no start, deadline or warning time yet: they
/// are shown as `null`, never as the placeholder counted from awareness the fold keeps.
impl Serialize for Clock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let started = self.waiting_for.is_none();
        ShownClock {
            clock: &self.clock,
            title: &self.title,
            determination: &self.determination,
            started_at: started.then_some(self.started_at),
            deadline: started.then_some(self.deadline),
            warn_at: started.then_some(self.warn_at),
            stopped_by: &self.stopped_by,
            path: &self.path,
            waiting_for: self.waiting_for.as_deref(),
            warned: self.warned.as_ref(),
            missed_at: self.missed_at,
            submission: self.submission.as_ref(),
            released: self.released.as_ref(),
        }
        .serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockWarning {
    pub at: Timestamp,
    pub told: Vec<String>,
    pub failed: Vec<String>,
}

/// A notification sent to an authority, as recorded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submission {
    pub sent_at: Timestamp,
    pub authority: String,
    pub channel: String,
    pub reference: String,
    /// The approved statement version sent, and the decision that approved it.
    pub statement: StatementRef,
    pub decision: DecisionId,
    pub recorded_by: Actor,
    pub recorded_at: Timestamp,
    /// Whether it was sent by the deadline.
    pub met: bool,
}

/// Why a clock stopped without a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// Its determination was withdrawn.
    DeterminationWithdrawn,
    /// Notifying this authority is not required.
    NotRequired,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockRelease {
    pub reason: ReleaseReason,
    pub basis: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// Where a clock stands, as reports count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClockOutcome {
    /// Starts when another clock's notification is submitted.
    Waiting,
    Running,
    /// Running past its deadline, nothing submitted.
    Missed,
    /// Submitted by the deadline.
    Met,
    /// Submitted after the deadline.
    Late,
    DeterminationWithdrawn,
    NotRequired,
}

impl ClockOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockOutcome::Waiting => "waiting",
            ClockOutcome::Running => "running",
            ClockOutcome::Missed => "missed",
            ClockOutcome::Met => "met",
            ClockOutcome::Late => "late",
            ClockOutcome::DeterminationWithdrawn => "determination withdrawn",
            ClockOutcome::NotRequired => "not required",
        }
    }
}

impl Clock {
    /// Counting down: started, and neither submitted nor released.
    pub fn is_running(&self) -> bool {
        self.is_open() && self.waiting_for.is_none()
    }

    /// Still owed: running, or waiting for the submission it runs from.
    pub fn is_open(&self) -> bool {
        self.submission.is_none() && self.released.is_none()
    }

    /// Seconds left at `now` (negative once past the deadline).
    pub fn seconds_left(&self, now: Timestamp) -> i64 {
        (self.deadline.unix_micros() - now.unix_micros()) / 1_000_000
    }

    pub fn outcome(&self, now: Timestamp) -> ClockOutcome {
        if let Some(submission) = &self.submission {
            return if submission.met { ClockOutcome::Met } else { ClockOutcome::Late };
        }
        if let Some(released) = &self.released {
            return match released.reason {
                ReleaseReason::DeterminationWithdrawn => ClockOutcome::DeterminationWithdrawn,
                ReleaseReason::NotRequired => ClockOutcome::NotRequired,
            };
        }
        if self.waiting_for.is_some() {
            ClockOutcome::Waiting
        } else if self.missed_at.is_some() || now >= self.deadline {
            ClockOutcome::Missed
        } else {
            ClockOutcome::Running
        }
    }
}

impl IncidentState {
    /// Applies determinations and everything that happens to their clocks.
    pub(super) fn apply_clocks(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::DeterminationRecorded(recorded) => {
                if self.determinations.iter().any(|d| d.determination == recorded.determination) {
                    return fail("the determination is already recorded");
                }
                let started_at = recorded.aware_at.unwrap_or(at);
                if started_at > at {
                    return fail("awareness cannot be later than the entry");
                }
                for start in &recorded.clocks {
                    if self.clocks.iter().any(|c| c.clock == start.clock) {
                        return fail("the clock is already running");
                    }
                    if let Some(first) = &start.from_submission_of
                        && !recorded.clocks.iter().any(|c| &c.clock == first && c.from_submission_of.is_none())
                    {
                        return fail("a clock runs from the submission of a clock the same determination starts");
                    }
                    let deadline = start.deadline.after(started_at);
                    self.clocks.push(Clock {
                        clock: start.clock.clone(),
                        title: start.title.clone(),
                        determination: recorded.determination.clone(),
                        started_at,
                        deadline,
                        warn_at: deadline.plus_seconds(-i64::from(start.warn_hours) * 3600),
                        stopped_by: start.stopped_by.clone(),
                        path: start.path.clone(),
                        waiting_for: start.from_submission_of.clone(),
                        warned: None,
                        missed_at: None,
                        submission: None,
                        released: None,
                        rule: start.deadline,
                        warn_hours: start.warn_hours,
                    });
                }
                self.determinations.push(Determination {
                    determination: recorded.determination.clone(),
                    basis: recorded.basis.clone(),
                    by: actor.clone(),
                    at,
                    aware_at: recorded.aware_at,
                    withdrawn: None,
                });
            }
            IncidentEvent::ClockSubmitted(submitted) => {
                if let Err(reason) = self.check_submission(submitted, at) {
                    return fail(reason);
                }
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == submitted.clock) else {
                    return fail("unknown clock");
                };
                clock.submission = Some(Submission {
                    sent_at: submitted.sent_at,
                    authority: submitted.authority.clone(),
                    channel: submitted.channel.clone(),
                    reference: submitted.reference.clone(),
                    statement: submitted.statement.clone(),
                    decision: submitted.decision,
                    recorded_by: actor.clone(),
                    recorded_at: at,
                    met: submitted.sent_at <= clock.deadline,
                });
                // Clocks that run from this submission start now, from when it was sent.
                for waiting in self.clocks.iter_mut().filter(|c| c.waiting_for.as_ref() == Some(&submitted.clock)) {
                    waiting.waiting_for = None;
                    waiting.started_at = submitted.sent_at;
                    waiting.deadline = waiting.rule.after(submitted.sent_at);
                    waiting.warn_at = waiting.deadline.plus_seconds(-i64::from(waiting.warn_hours) * 3600);
                }
            }
            IncidentEvent::DeterminationWithdrawn(withdrawn) => {
                let Some(found) = self.determinations.iter_mut().find(|d| d.determination == withdrawn.determination)
                else {
                    return fail("unknown determination");
                };
                if found.withdrawn.is_some() {
                    return fail("the determination is already withdrawn");
                }
                found.withdrawn = Some(Note { by: actor.clone(), at, text: withdrawn.basis.clone() });
                for clock in
                    self.clocks.iter_mut().filter(|c| c.determination == withdrawn.determination && c.is_open())
                {
                    clock.released = Some(ClockRelease {
                        reason: ReleaseReason::DeterminationWithdrawn,
                        basis: withdrawn.basis.clone(),
                        by: actor.clone(),
                        at,
                    });
                }
            }
            IncidentEvent::ClockNotRequired(exempt) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == exempt.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_open() {
                    return fail("the clock has already stopped");
                }
                clock.released = Some(ClockRelease {
                    reason: ReleaseReason::NotRequired,
                    basis: exempt.basis.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::ClockWarned(warned) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == warned.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_running() || clock.warned.is_some() || at < clock.warn_at {
                    return fail("the clock is not due a warning");
                }
                clock.warned = Some(ClockWarning { at, told: warned.told.clone(), failed: warned.failed.clone() });
            }
            IncidentEvent::ClockMissed(missed) => {
                let Some(clock) = self.clocks.iter_mut().find(|c| c.clock == missed.clock) else {
                    return fail("unknown clock");
                };
                if !clock.is_running() || clock.missed_at.is_some() || at < clock.deadline {
                    return fail("the clock has not run out");
                }
                clock.missed_at = Some(at);
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
