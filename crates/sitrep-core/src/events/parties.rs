//! Bodies of the entries about third parties: engagements, share links, the registry.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyEngaged {
    pub party: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareCreated {
    pub share: ShareId,
    pub decision: DecisionId,
    pub action: u32,
    pub party: String,
    pub items: Vec<String>,
    /// The link works until the entry's time plus this many hours.
    pub expires_in_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareRevoked {
    pub share: ShareId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A third party in the organisation's registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    pub party: String,
    pub name: String,
    pub kind: PartyKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// What they operate for us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operates: Option<String>,
    /// The contractual authority we hold over them ("may suspend their integration").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority: Vec<String>,
    /// Their evidence-sharing rule, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_rule: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Msp,
    CloudOperator,
    Vendor,
    Regulator,
    LawEnforcement,
    Counsel,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Msp => "MSP",
            PartyKind::CloudOperator => "cloud operator",
            PartyKind::Vendor => "vendor",
            PartyKind::Regulator => "regulator",
            PartyKind::LawEnforcement => "law enforcement",
            PartyKind::Counsel => "counsel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}
