//! Bodies of the entries about determinations and regulatory clocks.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeterminationRecorded {
    pub determination: String,
    pub basis: String,
    /// When we became aware, if before this entry; the clocks run from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aware_at: Option<Timestamp>,
    /// The clocks it starts, copied from the policy in force, so a later policy change does
    /// not move a running deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<ClockStart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockStart {
    pub clock: String,
    pub title: String,
    pub deadline: crate::policy::Deadline,
    pub stopped_by: DecisionClass,
    pub warn_hours: u32,
    /// The stopping class's communications path, told before the deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The clock whose submission starts this one (the NIS2 final report runs from the
    /// incident notification's submission); none: it runs from awareness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_submission_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockWarned {
    pub clock: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub told: Vec<String>,
    /// Channels that could not be told, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockRef {
    pub clock: String,
}

/// What was sent to an authority, when, how, and which approved text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockSubmitted {
    pub clock: String,
    /// When it was sent (it may be before this entry, never after it).
    pub sent_at: Timestamp,
    /// To whom: the supervisory authority, CSIRT or regulator.
    pub authority: String,
    /// Through what: a portal, an email address, a form.
    pub channel: String,
    /// The authority's reference for the submission (case or ticket number).
    pub reference: String,
    /// The exact approved statement version that was sent.
    pub statement: StatementRef,
    /// The approved decision bound to that version.
    pub decision: DecisionId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeterminationWithdrawn {
    pub determination: String,
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockNotRequired {
    pub clock: String,
    pub basis: String,
}
