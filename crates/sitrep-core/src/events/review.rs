//! Bodies of the post-incident review's entries.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LessonRecorded {
    pub lesson: LessonId,
    pub what_happened: String,
    pub why: String,
    /// What we change because of it.
    pub change: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlChangePlanned {
    pub change: ControlChangeId,
    pub lesson: LessonId,
    pub title: String,
    pub owner: UserName,
    pub due: Timestamp,
    /// The NIST CSF 2.0 subcategory it strengthens, e.g. `PR.AA-05`.
    pub csf: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlChangeClosed {
    pub change: ControlChangeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewCompleted {
    pub summary: String,
}
