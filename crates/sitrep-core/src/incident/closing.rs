//! What still stands between an incident and closing it.
//!
//! One pure reading of the state serves both the decision (proposing or approving `close` is
//! refused while anything here is open, with each item named) and the pages (the checklist a
//! person works through before proposing), so the two can never disagree.

use super::*;

/// Everything still open that closing would leave behind; empty when the incident may close.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseChecklist {
    /// Tasks neither done nor cancelled (open or blocked).
    pub tasks: Vec<OpenTask>,
    /// Decisions still proposed: neither approved, rejected nor withdrawn.
    pub decisions: Vec<OpenDecision>,
    /// Regulatory clocks neither met by a submission nor stopped with legal's basis.
    pub clocks: Vec<OpenClock>,
    /// Why the post-incident review does not yet let the incident close; `None` once complete.
    pub review: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    pub id: TaskId,
    pub title: String,
    pub blocked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDecision {
    pub id: DecisionId,
    pub class: DecisionClass,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenClock {
    pub clock: String,
    pub title: String,
    pub deadline: Timestamp,
    /// The clock whose submission starts this one, while it waits for it.
    pub waiting_for: Option<String>,
    /// The decision class whose approved statement, once submitted, meets it.
    pub stopped_by: DecisionClass,
}

impl CloseChecklist {
    /// Whether nothing stands in the way of closing.
    pub fn is_clear(&self) -> bool {
        self.tasks.is_empty() && self.decisions.is_empty() && self.clocks.is_empty() && self.review.is_none()
    }

    /// What is open as sentences saying what it is and how it stops being open, in the order
    /// the checklist shows them: tasks, decisions, each clock, the review.
    pub fn items(&self) -> Vec<String> {
        let tasks = (!self.tasks.is_empty()).then(|| {
            let named: Vec<String> = self
                .tasks
                .iter()
                .map(|t| format!("{} '{}'{}", t.id, t.title, if t.blocked { " (blocked)" } else { "" }))
                .collect();
            format!(
                "{} open: {}; mark each done, or cancel it saying which control change carries it on",
                count(self.tasks.len(), "task"),
                named.join(", ")
            )
        });
        let decisions = (!self.decisions.is_empty()).then(|| {
            let named: Vec<String> =
                self.decisions.iter().map(|d| format!("{} '{}' ({})", d.id, d.title, d.class)).collect();
            format!(
                "{} still proposed: {}; approve, reject or withdraw each",
                count(self.decisions.len(), "decision"),
                named.join(", ")
            )
        });
        let clocks = self.clocks.iter().map(|c| {
            let due = match &c.waiting_for {
                Some(first) => format!("it starts when '{first}' is submitted"),
                None => format!("it is due {}", c.deadline),
            };
            format!(
                "the clock '{}' ({}) is open, {due}: record the notification sent (approved through {}), or legal \
                 records that it is not required",
                c.clock, c.title, c.stopped_by
            )
        });
        let review = self.review.iter().map(|missing| format!("the post-incident review is not complete: {missing}"));
        tasks.into_iter().chain(decisions).chain(clocks).chain(review).collect()
    }
}

/// "1 task", "3 tasks".
fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

impl IncidentState {
    /// What must be settled before this incident may close. `closing` is the close decision
    /// being approved, which is itself still open at that moment and so is not listed.
    pub fn close_checklist(&self, closing: Option<DecisionId>) -> CloseChecklist {
        let review = &self.review;
        let review = match (&review.completed, review.lessons.is_empty()) {
            (Some(_), _) => None,
            (None, true) => Some("record its lessons, turn each into control changes, then complete it".to_owned()),
            (None, false) => Some(format!("{} lesson(s) recorded; complete the review", review.lessons.len())),
        };
        CloseChecklist {
            tasks: self
                .tasks
                .iter()
                .filter(|t| matches!(t.state, TaskState::Open | TaskState::Blocked))
                .map(|t| OpenTask { id: t.id, title: t.title.clone(), blocked: t.state == TaskState::Blocked })
                .collect(),
            decisions: self
                .decisions
                .iter()
                .filter(|d| d.state == DecisionState::Proposed && Some(d.id) != closing)
                .map(|d| OpenDecision { id: d.id, class: d.class.clone(), title: d.title.clone() })
                .collect(),
            clocks: self
                .clocks
                .iter()
                .filter(|c| c.is_open())
                .map(|c| OpenClock {
                    clock: c.clock.clone(),
                    title: c.title.clone(),
                    deadline: c.deadline,
                    waiting_for: c.waiting_for.clone(),
                    stopped_by: c.stopped_by.clone(),
                })
                .collect(),
            review,
        }
    }
}
