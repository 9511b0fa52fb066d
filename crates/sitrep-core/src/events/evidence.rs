//! Bodies of the evidence entries: registration, custody, integrity.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceRegistered {
    pub sha256: String,
    pub size: u64,
    /// The name it was uploaded with: metadata only, never a storage path.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_type: Option<String>,
    /// The media type its first bytes say it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sniffed_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who collected it, when that is not the person registering it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceAccessed {
    pub sha256: String,
    pub purpose: String,
    /// The share link it went out through, when it was not a signed-in download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<ShareId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceIntegrityFailed {
    pub sha256: String,
    pub detail: String,
}
