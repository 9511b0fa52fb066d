//! Bodies of the alert entries: a person told it is their turn, links from alerts opened, and
//! the promised update cadence.

use super::*;

/// One attempt to tell a person, on one route, about one or more things (each an alert's key,
/// such as `decision:D-2`): several owed at once go in one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertSent {
    pub person: UserName,
    pub about: Vec<String>,
    /// `email` or `webhook`.
    pub route: String,
    /// What the receiver answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertFailed {
    pub person: UserName,
    pub about: Vec<String>,
    pub route: String,
    pub reason: String,
    /// Whether it will be tried again.
    pub retryable: bool,
}

/// A person opened the review link an alert e-mailed them; each link works once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewLinkOpened {
    pub decision: DecisionId,
    /// The link's nonce: names it without being able to forge it.
    pub link: String,
}

/// The commander's promise of the next update, and how often after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateScheduled {
    pub next_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u32>,
    /// Who receives the SITREP digest besides the executives on the incident.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribers: Vec<UserName>,
}
