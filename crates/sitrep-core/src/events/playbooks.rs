//! The body of a playbook's start.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybookStarted {
    pub playbook: String,
    pub version: String,
    pub sha256: String,
    pub approved_by: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// Roles the playbook needs; blockers while unfilled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_roles: Vec<Role>,
}
