//! Closing an incident from the command view: the pre-close checklist, proposing `close`, and
//! after close the signed bundle and the printable report.
//!
//! The checklist is the core's `CloseChecklist`, the same reading that refuses `close`, and the
//! form is offered only when a dry run of the real decision would accept it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use sitrep_core::decide::{IncidentCommand, decide_incident};
use sitrep_core::events::DecisionState;
use sitrep_core::view::IncidentView;
use sitrep_core::{DecisionClass, Phase};

use super::forms::Refused;
use super::{Fields, Path1, Viewer, act, csrf, visible_incident};
use crate::api::decisions::ProposeBody;
use crate::api::export::{ExportBody, export_bundle};
use crate::state::AppState;

/// One open item of the checklist: what it is, and where on the page it is settled.
#[derive(Debug, Clone)]
pub(super) struct CloseItem {
    /// The item's id (`T-3`, `D-2`, a clock's name).
    pub(super) id: String,
    pub(super) text: String,
    pub(super) href: String,
    /// A task this person may cancel now (with a note naming the change that carries it on).
    pub(super) can_cancel: bool,
}

/// The "Close incident" section of the command view.
#[derive(Debug, Clone)]
pub(super) struct CloseSection {
    pub(super) closed: bool,
    pub(super) tasks: Vec<CloseItem>,
    pub(super) decisions: Vec<CloseItem>,
    pub(super) clocks: Vec<CloseItem>,
    /// What the review still needs, when it is not complete.
    pub(super) review: Option<String>,
    pub(super) clear: bool,
    /// What is open, counted in one line ("3 tasks, 1 decision and the review").
    pub(super) summary: String,
    /// Show the list unfolded: closing is near (the review is complete, or the phase is recovery).
    pub(super) unfolded: bool,
    /// The policy lets this person propose `close` now (so the checklist is clear, too).
    pub(super) can_propose: bool,
    /// Who may propose closing, for the others.
    pub(super) proposers: String,
    /// A `close` decision already proposed and waiting: its id and title.
    pub(super) pending: Option<(String, String)>,
    /// The viewer may export the record (the bundle names evidence).
    pub(super) can_export: bool,
    /// The deployment's public key (base64), to compare with `deployment.pub`.
    pub(super) public_key: String,
}

impl CloseSection {
    pub(super) fn build(view: &IncidentView<'_>) -> CloseSection {
        let (state, org, user) = (view.state(), view.org(), view.viewer());
        let pending = state.decisions.iter().find(|d| d.class == "close" && d.state == DecisionState::Proposed);
        let checklist = state.close_checklist(pending.map(|d| d.id));
        let item = |id: String, text: String, href: String| CloseItem { id, text, href, can_cancel: false };
        let may = |command: IncidentCommand| decide_incident(state, org, user, &command, state.updated_at).is_ok();
        let may_propose = DecisionClass::parse("close").is_ok_and(|class| {
            let probe = IncidentCommand::Propose {
                class,
                title: "probe".into(),
                rationale: None,
                actions: Vec::new(),
                statement: None,
                clocks: Vec::new(),
            };
            may(probe)
        });
        let proposers = match org.policy.classes.iter().find(|c| c.class == "close").map(|c| &c.propose) {
            Some(sitrep_core::policy::Who::Roles(roles)) => {
                roles.iter().map(|r| r.to_string().replace('_', " ")).collect::<Vec<_>>().join(" or ")
            }
            Some(sitrep_core::policy::Who::Participants) => "any participant".to_owned(),
            None => "nobody (the policy has no close class)".to_owned(),
        };
        CloseSection {
            closed: state.phase == Phase::Closed,
            tasks: checklist
                .tasks
                .iter()
                .map(|t| {
                    let blocked = if t.blocked { " (blocked)" } else { "" };
                    let cancel = IncidentCommand::CancelTask { task: t.id, note: Some("probe".into()) };
                    CloseItem {
                        can_cancel: may(cancel),
                        ..item(t.id.to_string(), format!("{} {}{blocked}", t.id, t.title), "#tasks".into())
                    }
                })
                .collect(),
            decisions: checklist
                .decisions
                .iter()
                .map(|d| {
                    let text = format!("{} {} ({})", d.id, d.title, d.class);
                    item(d.id.to_string(), text, format!("#decision-{}", d.id))
                })
                .collect(),
            clocks: checklist
                .clocks
                .iter()
                .map(|c| {
                    let due = match &c.waiting_for {
                        Some(first) => format!("starts when '{first}' is submitted"),
                        None => format!("due {}", super::view::when(c.deadline)),
                    };
                    item(c.clock.clone(), format!("{}, {due}", c.title), "#clocks".into())
                })
                .collect(),
            review: checklist.review.clone(),
            clear: checklist.is_clear(),
            summary: summary(&checklist),
            unfolded: state.review.completed.is_some() || state.phase == Phase::Recovery,
            can_propose: pending.is_none() && may_propose,
            proposers,
            pending: pending.map(|d| (d.id.to_string(), d.title.clone())),
            can_export: view.evidence_reader(),
            public_key: org.public_key.clone(),
        }
    }
}

/// Proposes closing, with the person's reason; the approval then follows the policy.
pub(super) async fn propose_close(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields
        .body(&["title"], &["rationale"])
        .with("class", "close")
        .parse::<ProposeBody>()
        .map(ProposeBody::into_command);
    act(&app, &viewer, &id, &fields, "close", command).await
}

/// "2 tasks, 1 decision and the review": what the folded checklist holds.
fn summary(checklist: &sitrep_core::incident::CloseChecklist) -> String {
    let count = |n: usize, what: &str| match n {
        0 => None,
        1 => Some(format!("1 {what}")),
        n => Some(format!("{n} {what}s")),
    };
    let mut parts: Vec<String> = [
        count(checklist.tasks.len(), "task"),
        count(checklist.decisions.len(), "decision"),
        count(checklist.clocks.len(), "clock"),
        checklist.review.as_ref().map(|_| "the review".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    match parts.pop() {
        None => String::new(),
        Some(last) if parts.is_empty() => last,
        Some(last) => format!("{} and {last}", parts.join(", ")),
    }
}

/// The signed bundle of the whole record, as `POST /api/v1/incidents/{id}/export` answers it
/// (without evidence files, so it records nothing); a form post, so it carries the CSRF token.
pub(super) async fn download_bundle(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let number = match visible_incident(&app, &viewer, &id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    match export_bundle(&app, &viewer.user, number, ExportBody::default()).await {
        Ok(answer) => answer,
        Err(error) => {
            let status = error.status();
            super::render_command(&app, &viewer, &id, Some(Refused::of(error, &fields)), status).await.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use sitrep_core::DecisionClass;
    use sitrep_core::ids::{DecisionId, TaskId};
    use sitrep_core::incident::{CloseChecklist, OpenDecision, OpenTask};

    use super::summary;

    #[test]
    fn the_folded_checklist_counts_what_is_open_in_words() {
        let task = |n| OpenTask { id: TaskId(n), title: "t".into(), blocked: false };
        let mut checklist = CloseChecklist { review: Some("complete it".into()), ..CloseChecklist::default() };
        assert_eq!(summary(&checklist), "the review");
        checklist.tasks = vec![task(1), task(2)];
        let class = DecisionClass::parse("containment").expect("a class");
        checklist.decisions = vec![OpenDecision { id: DecisionId(1), class, title: "d".into() }];
        assert_eq!(summary(&checklist), "2 tasks, 1 decision and the review");
        assert_eq!(summary(&CloseChecklist::default()), "");
    }
}
