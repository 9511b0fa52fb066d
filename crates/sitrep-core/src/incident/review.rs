//! The post-incident review in the fold: lessons and control changes.

use super::*;

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Review {
    pub lessons: Vec<Lesson>,
    pub control_changes: Vec<ControlChange>,
    pub completed: Option<ReviewCompletion>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lesson {
    pub id: LessonId,
    pub what_happened: String,
    pub why: String,
    pub change: String,
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlChange {
    pub id: ControlChangeId,
    pub lesson: LessonId,
    pub title: String,
    pub owner: UserName,
    pub due: Timestamp,
    pub csf: String,
    pub state: ControlChangeState,
    pub planned_by: Actor,
    pub planned_at: Timestamp,
    /// Who closed it (done or cancelled), when, and their note.
    pub closed: Option<Note>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ControlChangeState {
    Open,
    Done,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewCompletion {
    pub by: Actor,
    pub at: Timestamp,
    pub summary: String,
}

impl Review {
    pub fn lesson(&self, id: LessonId) -> Option<&Lesson> {
        id.0.checked_sub(1).and_then(|i| self.lessons.get(i as usize))
    }

    pub fn control_change(&self, id: ControlChangeId) -> Option<&ControlChange> {
        id.0.checked_sub(1).and_then(|i| self.control_changes.get(i as usize))
    }

    /// Lessons not yet turned into any control change.
    pub fn unconverted(&self) -> Vec<LessonId> {
        self.lessons.iter().filter(|l| !self.control_changes.iter().any(|c| c.lesson == l.id)).map(|l| l.id).collect()
    }
}

impl IncidentState {
    /// Applies the review's lessons, control changes and completion.
    pub(super) fn apply_review(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::LessonRecorded(recorded) => {
                if self.review.completed.is_some() {
                    return fail("the review is already complete");
                }
                if recorded.lesson.0 != self.review.lessons.len() as u64 + 1 {
                    return fail("lesson ids must be sequential");
                }
                self.review.lessons.push(Lesson {
                    id: recorded.lesson,
                    what_happened: recorded.what_happened.clone(),
                    why: recorded.why.clone(),
                    change: recorded.change.clone(),
                    by: actor.clone(),
                    at,
                });
            }
            IncidentEvent::ControlChangePlanned(planned) => {
                if planned.change.0 != self.review.control_changes.len() as u64 + 1 {
                    return fail("control change ids must be sequential");
                }
                if self.review.lesson(planned.lesson).is_none() {
                    return fail("unknown lesson");
                }
                self.review.control_changes.push(ControlChange {
                    id: planned.change,
                    lesson: planned.lesson,
                    title: planned.title.clone(),
                    owner: planned.owner.clone(),
                    due: planned.due,
                    csf: planned.csf.clone(),
                    state: ControlChangeState::Open,
                    planned_by: actor.clone(),
                    planned_at: at,
                    closed: None,
                });
            }
            IncidentEvent::ControlChangeDone(closed) | IncidentEvent::ControlChangeCancelled(closed) => {
                let state = if matches!(event, IncidentEvent::ControlChangeDone(_)) {
                    ControlChangeState::Done
                } else {
                    ControlChangeState::Cancelled
                };
                let Some(change) =
                    closed.change.0.checked_sub(1).and_then(|i| self.review.control_changes.get_mut(i as usize))
                else {
                    return fail("unknown control change");
                };
                if change.state != ControlChangeState::Open {
                    return fail("the control change is already closed");
                }
                change.state = state;
                change.closed = Some(Note { by: actor.clone(), at, text: closed.note.clone().unwrap_or_default() });
            }
            IncidentEvent::ReviewCompleted(completed) => {
                if self.review.completed.is_some() {
                    return fail("the review is already complete");
                }
                if self.review.lessons.is_empty() || !self.review.unconverted().is_empty() {
                    return fail("a review completes only when every lesson has a control change");
                }
                self.review.completed =
                    Some(ReviewCompletion { by: actor.clone(), at, summary: completed.summary.clone() });
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
