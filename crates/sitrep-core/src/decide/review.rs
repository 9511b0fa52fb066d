//! The post-incident review: lessons, the control changes they become, its completion, and
//! what closing needs.

use super::*;

/// Decides the review: lessons, control changes and its completion.
pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    let by = judge.by;
    let rules = &org.policy.actions;
    use IncidentCommand as C;
    let events = match command {
        C::RecordLesson { what_happened, why, change } => {
            judge.permit("review", &rules.review, "recording lessons")?;
            judge.review_open()?;
            vec![IncidentEvent::LessonRecorded(LessonRecorded {
                lesson: LessonId(state.review.lessons.len() as u64 + 1),
                what_happened: text("what_happened", what_happened, TEXT_MAX)?,
                why: text("why", why, TEXT_MAX)?,
                change: text("change", change, TEXT_MAX)?,
            })]
        }
        C::PlanControlChange { lesson, title, owner, due, csf } => {
            judge.permit("review", &rules.review, "planning control changes")?;
            if state.review.lesson(*lesson).is_none() {
                return Err(Refusal::NotFound(format!("{} has no lesson {lesson}", state.id)));
            }
            if !org.user(owner).is_some_and(|u| u.active) {
                return Err(invalid("owner", format!("'{owner}' is not an active user of the organisation")));
            }
            if !crate::csf::is_subcategory(csf) {
                return Err(invalid(
                    "csf",
                    format!("'{csf}' is not a NIST CSF 2.0 subcategory (like PR.AA-05 or RS.MA-01)"),
                ));
            }
            vec![IncidentEvent::ControlChangePlanned(ControlChangePlanned {
                change: ControlChangeId(state.review.control_changes.len() as u64 + 1),
                lesson: *lesson,
                title: text("title", title, TITLE_MAX)?,
                owner: owner.clone(),
                due: date("due", *due, now, When::Due)?,
                csf: csf.clone(),
            })]
        }
        C::CompleteControlChange { change, note } => {
            let found = judge.control_change(*change)?;
            if &found.owner != by {
                judge.permit("review", &rules.review, "closing someone else's control change")?;
            }
            let closed = ControlChangeClosed { change: *change, note: optional_text("note", note, SHORT_MAX)? };
            vec![IncidentEvent::ControlChangeDone(closed)]
        }
        C::CancelControlChange { change, note } => {
            judge.permit("review", &rules.review, "cancelling control changes")?;
            judge.control_change(*change)?;
            let closed = ControlChangeClosed { change: *change, note: Some(text("note", note, SHORT_MAX)?) };
            vec![IncidentEvent::ControlChangeCancelled(closed)]
        }
        C::CompleteReview { summary } => {
            judge.permit("review", &rules.review, "completing the review")?;
            judge.review_open()?;
            if state.review.lessons.is_empty() {
                return Err(conflict("record at least one lesson before completing the review"));
            }
            let unconverted = state.review.unconverted();
            if !unconverted.is_empty() {
                let ids: Vec<String> = unconverted.iter().map(ToString::to_string).collect();
                return Err(conflict(format!(
                    "every lesson becomes at least one control change; {} has none yet",
                    ids.join(", ")
                )));
            }
            vec![IncidentEvent::ReviewCompleted(ReviewCompleted { summary: text("summary", summary, TEXT_MAX)? })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

impl Judge<'_> {
    pub(super) fn review_open(&self) -> Result<(), Refusal> {
        match &self.state.review.completed {
            Some(done) => Err(conflict(format!(
                "the review of {} was completed by {} at {}; it is final",
                self.state.id, done.by, done.at
            ))),
            None => Ok(()),
        }
    }

    pub(super) fn control_change(&self, id: ControlChangeId) -> Result<&crate::incident::ControlChange, Refusal> {
        let found = self
            .state
            .review
            .control_change(id)
            .ok_or_else(|| Refusal::NotFound(format!("{} has no control change {id}", self.state.id)))?;
        if found.state != crate::incident::ControlChangeState::Open {
            return Err(conflict(format!("{id} is already closed")));
        }
        Ok(found)
    }

    /// Closing needs every task done or cancelled, every other decision settled, every
    /// regulatory clock stopped and the post-incident review complete; the refusal names each
    /// item still open, so one answer says everything that is left. `closing` is the close
    /// decision being approved.
    pub(super) fn ready_to_close(&self, closing: Option<DecisionId>) -> Result<(), Refusal> {
        let checklist = self.state.close_checklist(closing);
        if checklist.is_clear() {
            return Ok(());
        }
        Err(conflict(format!("{} cannot close yet: {}", self.state.id, checklist.items().join("; "))))
    }
}
