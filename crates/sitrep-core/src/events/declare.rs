//! The body of an incident's first entry.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Declared {
    pub incident: Uuid,
    pub number: IncidentNumber,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    pub restricted: bool,
    pub exercise: bool,
    /// SHA-256 of the policy in force at declaration.
    pub policy: String,
}
