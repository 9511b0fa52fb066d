//! How a person proved who they are when they signed in: recorded with the sign-in and, where
//! the policy asks for step-up, with each approval, so the register shows how recently and how
//! strongly the approver authenticated.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The way a session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// sitrep's own argon2id password.
    Password,
    /// An OpenID Connect provider's ID token.
    Oidc,
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthMethod::Password => "password",
            AuthMethod::Oidc => "oidc",
        })
    }
}

/// Methods of RFC 8176 that prove something other than a known secret: a device held or a
/// body feature. One of them beside any other method is a second factor.
const SECOND_FACTORS: &[&str] = &["otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "retina", "vbm", "sc"];

/// How and when a person authenticated, as the identity provider (or sitrep) reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Authentication {
    pub method: AuthMethod,
    /// When the person last actively authenticated (the ID token's `auth_time`), not when
    /// the session was made from it.
    pub at: Timestamp,
    /// The OpenID provider that vouched for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The authentication context class the provider says it met (`acr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The methods the provider says were used (`amr`, RFC 8176), such as `pwd` and `otp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Authentication {
    /// A sign-in with sitrep's own password, now.
    pub fn password(at: Timestamp) -> Authentication {
        Authentication { method: AuthMethod::Password, at, issuer: None, acr: None, amr: vec!["pwd".into()] }
    }

    /// Whether this authentication used more than one factor: `amr` says `mfa`, or names a
    /// second factor beside another method, or the `acr` is one the policy counts as MFA.
    pub fn is_multi_factor(&self, mfa_acr: &[String]) -> bool {
        let second = self.amr.iter().any(|m| SECOND_FACTORS.contains(&m.as_str()));
        self.amr.iter().any(|m| m == "mfa")
            || (second && self.amr.len() > 1)
            || self.acr.as_ref().is_some_and(|acr| mfa_acr.contains(acr))
    }

    /// One line for the register: "oidc (https://idp.example), acr urn:x, amr pwd+otp, at …".
    pub fn describe(&self) -> String {
        let mut words = self.method.to_string();
        if let Some(issuer) = &self.issuer {
            words.push_str(&format!(" ({issuer})"));
        }
        if let Some(acr) = &self.acr {
            words.push_str(&format!(", acr {acr}"));
        }
        if !self.amr.is_empty() {
            words.push_str(&format!(", amr {}", self.amr.join("+")));
        }
        words.push_str(&format!(", at {}", self.at));
        words
    }

    /// Minutes since the person last authenticated, at `now`.
    pub fn age_minutes(&self, now: Timestamp) -> i64 {
        (now.unix_micros() - self.at.unix_micros()).div_euclid(60_000_000)
    }
}

/// A person as an identity provider knows them: provisioned users carry it so the record
/// says which outside account an entry's user is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExternalIdentity {
    /// The OpenID issuer URL, or `scim` for users an identity provider provisioned.
    pub issuer: String,
    /// The person's stable id there (`sub`, or the SCIM resource id).
    pub subject: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(amr: &[&str], acr: Option<&str>) -> Authentication {
        Authentication {
            method: AuthMethod::Oidc,
            at: Timestamp::EARLIEST,
            issuer: Some("https://idp.example".into()),
            acr: acr.map(str::to_owned),
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn a_second_factor_beside_a_password_is_multi_factor() {
        assert!(with(&["pwd", "otp"], None).is_multi_factor(&[]));
        assert!(with(&["mfa"], None).is_multi_factor(&[]));
        assert!(!with(&["pwd"], None).is_multi_factor(&[]));
        assert!(!with(&["otp"], None).is_multi_factor(&[]), "one factor alone");
        assert!(!with(&["pwd", "kba"], None).is_multi_factor(&[]), "two things known are one factor");
        assert!(with(&["pwd"], Some("urn:example:mfa")).is_multi_factor(&["urn:example:mfa".into()]));
        assert!(!with(&["pwd"], Some("urn:example:mfa")).is_multi_factor(&[]), "an acr counts only if the policy says");
    }

    #[test]
    fn age_is_whole_minutes() {
        let auth = with(&["pwd"], None);
        assert_eq!(auth.age_minutes(Timestamp::EARLIEST.plus_seconds(59)), 0);
        assert_eq!(auth.age_minutes(Timestamp::EARLIEST.plus_seconds(15 * 60)), 15);
    }
}
