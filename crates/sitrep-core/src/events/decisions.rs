//! Bodies of the decision entries: proposals, approvals, actions and notifications.

use super::*;
use crate::authn::Authentication;

/// What an approved decision executes. Destinations and commands are names an admin
/// configured; a user never supplies a URL or a command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "connector", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// Creates a task, for the holder of `owner_role` (or the commander).
    Task {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner_role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_in_minutes: Option<u32>,
    },
    /// Posts a signed JSON body to a configured destination.
    Webhook {
        destination: String,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        payload: serde_json::Value,
    },
    /// Runs a registered executable with the action as JSON on stdin.
    Command {
        command: String,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        input: serde_json::Value,
    },
    /// Tells the class's communications path.
    Notify {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Shares these evidence items (SHA-256) with an engaged third party through an expiring,
    /// revocable link. Only an `evidence_sharing` decision may carry it.
    Share { party: String, items: Vec<String>, expires_in_hours: u32 },
}

impl ActionSpec {
    /// The action's free-form JSON and the name of its field: a webhook's `payload`, a
    /// command's `input`.
    pub fn free_form(&self) -> Option<(&'static str, &serde_json::Value)> {
        match self {
            ActionSpec::Webhook { payload, .. } => Some(("payload", payload)),
            ActionSpec::Command { input, .. } => Some(("input", input)),
            _ => None,
        }
    }

    pub fn connector(&self) -> &'static str {
        match self {
            ActionSpec::Task { .. } => "task",
            ActionSpec::Webhook { .. } => "webhook",
            ActionSpec::Command { .. } => "command",
            ActionSpec::Notify { .. } => "notify",
            ActionSpec::Share { .. } => "share",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionState {
    Proposed,
    Approved,
    Rejected,
    Withdrawn,
}

impl DecisionState {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionState::Proposed => "proposed",
            DecisionState::Approved => "approved",
            DecisionState::Rejected => "rejected",
            DecisionState::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionProposed {
    pub decision: DecisionId,
    pub class: DecisionClass,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
    /// The rule in force when proposed; the decision is judged by this copy.
    pub rule: Rule,
    /// The required role the proposer's own endorsement counts for, if they hold one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The rule's other roles the proposer held: their one endorsement may stand for any one of
    /// them instead, when another person endorses `role` (SPEC §3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
    /// `approved` when the proposer alone satisfies the rule, or a playbook pre-approved it.
    pub state: DecisionState,
    /// The playbook that proposed it; with `state: approved`, the playbook approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<Citation>,
    /// The class's communications path when proposed: the channels told of its proposal and
    /// its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The exact statement version (and its text's hash) this decision approves for publishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementRef>,
    /// The running clocks its execution stops; none named stops the one of its class due first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<String>,
    /// How the proposer had authenticated, when they acted from a browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionApproved {
    pub decision: DecisionId,
    pub role: Role,
    /// The rule's other roles the approver held; as for [`DecisionProposed::also`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The decision's state after this approval: `approved` when it completed the rule.
    pub state: DecisionState,
    /// How the approver had authenticated, when they acted from a browser session: the
    /// register shows it beside a step-up class's approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionRejected {
    pub decision: DecisionId,
    pub role: Role,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionWithdrawn {
    pub decision: DecisionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionStarted {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionSucceeded {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionFailed {
    pub decision: DecisionId,
    pub action: u32,
    pub attempt: u32,
    pub reason: String,
    pub retryable: bool,
    /// A `notify` action's channels that were told in this attempt before it failed: a retry
    /// tells only the others, so nobody hears of one decision twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
}

/// One action of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionRef {
    pub decision: DecisionId,
    pub action: u32,
}

/// Which moment of a decision a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    Proposed,
    Approved,
    Rejected,
}

impl Moment {
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::Proposed => "proposed",
            Moment::Approved => "approved",
            Moment::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationDelivered {
    pub decision: DecisionId,
    pub moment: Moment,
    pub channel: String,
    /// What the receiver answered, or what a dry run would have sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationFailed {
    pub decision: DecisionId,
    pub moment: Moment,
    pub channel: String,
    pub reason: String,
    /// Whether it will be tried again.
    pub retryable: bool,
}
