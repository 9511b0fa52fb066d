//! Bodies of the organisation record's entries.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentCreated {
    pub deployment: Uuid,
    pub name: String,
    /// The deployment's Ed25519 public key (base64), which signs checkpoints and exports.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserAdded {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub org_role: OrgRole,
    /// The identity provider's account this user was provisioned from, when a connector
    /// (`system:oidc`, `system:scim`) created them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ExternalIdentity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDisabled {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A disabled user may sign in again (their tokens stay revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserEnabled {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A user's display name changed (absent: removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserUpdated {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A browser session began. `session` is the first 12 hex digits of the SHA-256 of the
/// session's secret id: enough to name it in lists, useless to take it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    pub user: UserName,
    pub session: String,
    pub authentication: Authentication,
}

/// A browser session was ended by its owner or an admin (expiry is not recorded: it is
/// implied by the configured lifetimes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedOut {
    pub user: UserName,
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A password was set or changed. The record holds no hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPasswordSet {
    pub user: UserName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgRoleChange {
    pub user: UserName,
    pub role: OrgRole,
}

/// A token is recorded by the SHA-256 of its secret; the secret itself is shown once and never
/// stored, so the record can be read without exposing any credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenIssued {
    pub user: UserName,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The SHA-256 of the token this one was created with; revoking that one revokes this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minted_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRevoked {
    pub user: UserName,
    /// The token's id: the first 12 hex digits of its SHA-256.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyReplaced {
    pub sha256: String,
    /// The whole policy file, so the policy in force is part of the record.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybookAdded {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub source: String,
}

/// Where a user is told it is their turn, and the alerts they do not want. Set by the user
/// or an admin; the whole set is replaced each time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactSet {
    pub user: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A URL that receives each alert as a signed JSON POST (a pager, a phone bridge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute: Vec<crate::incident::AlertKind>,
}

/// A chat identity (`system`: `matrix`, `slack`; `id`: that system's user id) was linked to a
/// sitrep user through a one-time code they asked for while signed in and then sent from that
/// chat account, so the chat system vouches for the sender and sitrep for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatLinked {
    pub user: UserName,
    pub system: String,
    pub id: String,
}
