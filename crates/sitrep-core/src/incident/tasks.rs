//! Tasks in the fold.

use super::*;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: TaskId,
    pub title: String,
    pub owner: Option<UserName>,
    pub due: Option<Timestamp>,
    pub state: TaskState,
    pub origin: TaskOrigin,
    pub created_by: Actor,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The note when done or cancelled, or the reason when blocked.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Done,
    Blocked,
    Cancelled,
}

impl IncidentState {
    /// Applies task entries.
    pub(super) fn apply_tasks(&mut self, entry: &Entry, event: &IncidentEvent) -> Result<(), FoldError> {
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let at = entry.at;
        let actor = &entry.actor;
        match event {
            IncidentEvent::TaskCreated(created) => {
                if created.task.0 != self.tasks.len() as u64 + 1 {
                    return fail("task ids must be sequential");
                }
                self.tasks.push(Task {
                    id: created.task,
                    title: created.title.clone(),
                    owner: created.owner.clone(),
                    due: created.due.or_else(|| created.due_in_minutes.map(|m| at.plus_seconds(i64::from(m) * 60))),
                    state: TaskState::Open,
                    origin: created.origin.clone(),
                    created_by: actor.clone(),
                    created_at: at,
                    updated_at: at,
                    note: None,
                });
            }
            IncidentEvent::TaskAssigned(assigned) => {
                let Some(task) = self.task_mut(assigned.task) else { return fail("unknown task") };
                task.owner = Some(assigned.owner.clone());
                task.updated_at = at;
            }
            IncidentEvent::TaskDone(closed) | IncidentEvent::TaskCancelled(closed) => {
                let state =
                    if matches!(event, IncidentEvent::TaskDone(_)) { TaskState::Done } else { TaskState::Cancelled };
                let Some(task) = self.task_mut(closed.task) else { return fail("unknown task") };
                task.state = state;
                task.note = closed.note.clone();
                task.updated_at = at;
            }
            IncidentEvent::TaskBlocked(blocked) => {
                let Some(task) = self.task_mut(blocked.task) else { return fail("unknown task") };
                task.state = TaskState::Blocked;
                task.note = Some(blocked.reason.clone());
                task.updated_at = at;
            }
            _ => return fail("this entry reached a part of the fold that does not apply it; this is a defect"),
        }
        Ok(())
    }
}
