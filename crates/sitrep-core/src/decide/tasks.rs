//! Tasks: created, assigned, blocked, completed or cancelled.

use super::*;

/// Decides the task commands.
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
        C::CreateTask { title, owner, due } => {
            judge.permit("tasks", &rules.tasks, "creating tasks")?;
            let title = text("title", title, TITLE_MAX)?;
            if let Some(owner) = owner {
                judge.participant("owner", owner)?;
            }
            let due = due.map(|due| date("due", due, now, When::Due)).transpose()?;
            let task = TaskId(state.tasks.len() as u64 + 1);
            vec![IncidentEvent::TaskCreated(TaskCreated {
                task,
                title,
                owner: owner.clone(),
                due,
                due_in_minutes: None,
                origin: TaskOrigin::Manual,
            })]
        }
        C::AssignTask { task, owner } => {
            judge.permit("tasks", &rules.tasks, "assigning tasks")?;
            let current = judge.task(*task)?;
            if !matches!(current, TaskState::Open | TaskState::Blocked) {
                return Err(conflict(format!("{task} is {}; it can no longer be assigned", task_word(current))));
            }
            judge.participant("owner", owner)?;
            if state.task(*task).and_then(|t| t.owner.as_ref()) == Some(owner) {
                return Err(conflict(format!("{task} is already assigned to {owner}")));
            }
            vec![IncidentEvent::TaskAssigned(TaskAssigned { task: *task, owner: owner.clone() })]
        }
        C::CompleteTask { task, note } | C::CancelTask { task, note } => {
            let done = matches!(command, C::CompleteTask { .. });
            judge.permit("tasks", &rules.tasks, if done { "completing tasks" } else { "cancelling tasks" })?;
            let current = judge.task(*task)?;
            if !matches!(current, TaskState::Open | TaskState::Blocked) {
                return Err(conflict(format!("{task} is already {}", task_word(current))));
            }
            let closed = TaskClosed { task: *task, note: optional_text("note", note, SHORT_MAX)? };
            vec![if done { IncidentEvent::TaskDone(closed) } else { IncidentEvent::TaskCancelled(closed) }]
        }
        C::BlockTask { task, reason } => {
            judge.permit("tasks", &rules.tasks, "blocking tasks")?;
            let current = judge.task(*task)?;
            if current != TaskState::Open {
                return Err(conflict(format!("{task} is {}; only an open task can be blocked", task_word(current))));
            }
            vec![IncidentEvent::TaskBlocked(TaskBlocked { task: *task, reason: text("reason", reason, SHORT_MAX)? })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

fn task_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "open",
        TaskState::Done => "done",
        TaskState::Blocked => "blocked",
        TaskState::Cancelled => "cancelled",
    }
}
