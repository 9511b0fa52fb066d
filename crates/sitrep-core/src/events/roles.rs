//! Bodies of the entries about who runs the incident: roles, command, phase.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseChanged {
    pub from: Phase,
    pub to: Phase,
    /// The approved `close` decision that closed the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleChange {
    pub role: Role,
    pub user: UserName,
    /// The org unit the role is held in (a local role), or none for the incident's central role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A role released, with why when the one releasing said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleRelease {
    #[serde(flatten)]
    pub change: RoleChange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Command of an incident passing from one person to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommanderHandedOver {
    pub from: UserName,
    pub to: UserName,
    /// Why command changes hands (end of shift, escalation, …).
    pub reason: String,
}
