//! Bodies of the statement entries.

use super::*;

/// Who a statement speaks to; the audience decides which class must approve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Internal,
    Customers,
    Regulator,
    Press,
    Partners,
}

impl Audience {
    pub const ALL: [Audience; 5] =
        [Audience::Internal, Audience::Customers, Audience::Regulator, Audience::Press, Audience::Partners];

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Internal => "internal",
            Audience::Customers => "customers",
            Audience::Regulator => "regulator",
            Audience::Press => "press",
            Audience::Partners => "partners",
        }
    }

    /// The decision class whose approval lets a statement to this audience go out (SPEC §3).
    pub fn class(self) -> &'static str {
        match self {
            Audience::Customers => "customer_notification",
            Audience::Regulator => "regulatory_notification",
            Audience::Internal | Audience::Press | Audience::Partners => "external_statement",
        }
    }
}

/// One exact version of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementRef {
    pub statement: StatementId,
    pub version: u32,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementDrafted {
    pub statement: StatementId,
    pub audience: Audience,
    pub title: String,
    pub text: String,
    /// SHA-256 of `text`.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementRevised {
    pub statement: StatementId,
    pub version: u32,
    pub text: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementPublished {
    pub statement: StatementId,
    pub version: u32,
    pub sha256: String,
    /// Where it went out: a status page, a mail to customers, a regulator's portal.
    pub channel: String,
    /// The approved decision that let it out.
    pub decision: DecisionId,
    /// `channel` is a configured outlet of the statement's audience, so sitrep owes it a
    /// delivery of these exact bytes. False (left out) means it was recorded as published by a
    /// person elsewhere, as every publication before outlets existed was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outlet: bool,
}

/// One publication's delivery to its outlet: which publication, and which attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementDelivered {
    pub statement: StatementId,
    pub version: u32,
    /// The outlet: the publication's channel.
    pub channel: String,
    pub attempt: u32,
    /// SHA-256 of the text bytes put on the wire; always the approved version's hash.
    pub sha256: String,
    /// The receiver's answer (status and its first 500 characters), or what an exercise would
    /// have sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementDeliveryFailed {
    pub statement: StatementId,
    pub version: u32,
    pub channel: String,
    pub attempt: u32,
    /// SHA-256 of the text bytes the attempt tried to send.
    pub sha256: String,
    pub reason: String,
    /// Whether the publisher tries again by itself; if not, a person may ask it to.
    pub retryable: bool,
}

/// A publication's delivery, by statement, version and outlet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRef {
    pub statement: StatementId,
    pub version: u32,
    pub channel: String,
}
