//! Checking an ID token and reading who it names: pure functions over `openidconnect`'s types,
//! so every refusal can be tested with crafted tokens and no provider.

use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, EmptyExtraTokenFields, IdTokenClaims, IdTokenVerifier, Nonce,
    SignatureVerificationError, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sitrep_core::{OrgRole, UserName};

use crate::config::OidcConfig;

/// Every claim of the ID token by name, so the user name and groups can come from any claim
/// the deployment names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AllClaims {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for AllClaims {}

pub(crate) type IdToken =
    openidconnect::IdToken<AllClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub(crate) type Claims = IdTokenClaims<AllClaims, CoreGenderClaim>;
pub(crate) type TokenFields = openidconnect::IdTokenFields<
    AllClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub(crate) type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;
pub(crate) type Verifier<'a> = IdTokenVerifier<'a, CoreJsonWebKey>;

/// Why a sign-in through the provider was refused. The message is shown to the person; the
/// same words go to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The callback's `state` is missing, unknown, already used or expired.
    #[error("{0}")]
    State(String),
    /// The provider itself answered with an error, or would not exchange the code.
    #[error("{0}")]
    Provider(String),
    /// The provider cannot be reached, or answers what is not OpenID.
    #[error("{0}")]
    Unreachable(String),
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce, age).
    #[error("the identity provider's answer failed a check: {0}")]
    Token(String),
    /// The token was signed with a key the cached JWKS does not hold (fetch it again).
    #[error("the identity provider's answer is signed with a key sitrep does not know")]
    UnknownKey,
    /// The token is fine but names nobody sitrep can let in.
    #[error("{0}")]
    Person(String),
}

/// What the sign-in asked for besides the token's own validity.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub nonce: Nonce,
    /// `max_age` sent to the provider, in seconds: `auth_time` must be at most this old.
    pub max_age: Option<u64>,
    /// `acr_values` sent: the token's `acr` must be one of them.
    pub acr: Vec<String>,
    /// Unix seconds now.
    pub now: i64,
}

/// A verified ID token's facts that sitrep uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub issuer: String,
    pub subject: String,
    /// Unix seconds of `auth_time`, when the provider said.
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// Every claim by name (standard ones included) for the deployment's mapping.
    pub claims: Map<String, Value>,
}

/// The signature algorithms accepted: the asymmetric ones. Never `none`, and never HMAC keyed
/// with the client secret, which would make the secret a signing key.
const ALGORITHMS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The verifier with sitrep's accepted algorithms.
pub(crate) fn accepting(verifier: Verifier<'_>) -> Verifier<'_> {
    verifier.set_allowed_algs(ALGORITHMS)
}

/// How much later than `max_age` allows an `auth_time` may be, for clocks that differ.
const SKEW_SECS: i64 = 60;

/// Checks the ID token: signature with an allowed algorithm (never `none`), issuer, audience,
/// expiry and nonce by `openidconnect`; then the age of the authentication and its class.
pub(crate) fn verify(token: &IdToken, verifier: &Verifier<'_>, expected: &Expected) -> Result<Verified, Refusal> {
    let claims: &Claims = token.claims(verifier, &expected.nonce).map_err(|error| match error {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            Refusal::UnknownKey
        }
        other => Refusal::Token(describe(&other)),
    })?;
    let auth_time = claims.auth_time().map(|at| at.timestamp());
    if let Some(max_age) = expected.max_age {
        let Some(at) = auth_time else {
            return Err(Refusal::Token("a maximum age was asked for and the token has no auth_time".into()));
        };
        if expected.now - at > i64::try_from(max_age).unwrap_or(i64::MAX).saturating_add(SKEW_SECS) {
            return Err(Refusal::Token(format!(
                "the person last authenticated {} s ago, longer than the {max_age} s asked for",
                expected.now - at
            )));
        }
    }
    let acr = claims.auth_context_ref().map(|acr| acr.to_string());
    if !expected.acr.is_empty() && !acr.as_ref().is_some_and(|acr| expected.acr.contains(acr)) {
        return Err(Refusal::Token(format!(
            "the provider did not meet the authentication class asked for ({}); it said {}",
            expected.acr.join(", "),
            acr.as_deref().unwrap_or("nothing")
        )));
    }
    let amr = claims.auth_method_refs().map(|refs| refs.iter().map(|m| m.to_string()).collect()).unwrap_or_default();
    let mut all = claims.additional_claims().claims.clone();
    let mut standard = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            all.entry(name.to_owned()).or_insert(Value::String(value));
        }
    };
    standard("preferred_username", claims.preferred_username().map(|u| u.to_string()));
    standard("email", claims.email().map(|e| e.to_string()));
    standard("name", claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
    standard("sub", Some(claims.subject().to_string()));
    Ok(Verified {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        auth_time,
        acr,
        amr,
        claims: all,
    })
}

/// The words for a failed check, without the token's contents.
fn describe(error: &ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoSignature) => {
            "it is not signed (alg none is refused)".into()
        }
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::DisallowedAlg(alg)) => {
            format!("it is signed with an algorithm sitrep does not accept ({alg})")
        }
        ClaimsVerificationError::SignatureVerification(_) => "its signature does not verify".into(),
        ClaimsVerificationError::Expired(_) => "it has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => "it was issued for another client (aud)".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "it was issued by another provider (iss)".into(),
        ClaimsVerificationError::InvalidNonce(_) => "it answers another sign-in (nonce)".into(),
        other => other.to_string(),
    }
}

/// Who the token names, in sitrep's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub user: UserName,
    pub display_name: Option<String>,
    pub org_role: OrgRole,
}

/// Reads the user name from `username_claim` (less `@username_domain`, lower-cased) and the
/// role from `groups_claim` through `roles`.
pub(crate) fn person(verified: &Verified, config: &OidcConfig) -> Result<Person, Refusal> {
    let claim = &config.username_claim;
    let raw = verified.claims.get(claim).and_then(Value::as_str).ok_or_else(|| {
        Refusal::Person(format!("the identity provider sent no `{claim}`, which sitrep uses as the user name"))
    })?;
    let lower = raw.to_lowercase();
    let name = match &config.username_domain {
        Some(domain) => lower.strip_suffix(&format!("@{}", domain.to_lowercase())).ok_or_else(|| {
            Refusal::Person(format!("'{raw}' is not an account of {domain}, the domain sitrep takes user names from"))
        })?,
        None => lower.as_str(),
    };
    let user = UserName::parse(name).map_err(|_| {
        Refusal::Person(format!(
            "the identity provider's user name '{raw}' is not a sitrep user name (a-z, 0-9, '.', '_' or '-', starting with a letter)"
        ))
    })?;
    let groups: Vec<&str> = match verified.claims.get(&config.groups_claim) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    };
    let org_role = groups.iter().filter_map(|g| config.roles.get(*g).copied()).max_by_key(|role| strength(*role));
    let Some(org_role) = org_role else {
        // Entra ID sends a link instead of the groups when a person is in too many.
        let overage = verified.claims.get("_claim_names").and_then(|names| names.get(&config.groups_claim)).is_some();
        return Err(Refusal::Person(if overage {
            format!(
                "the identity provider left '{user}'s groups out of the token (too many groups); have it send only the groups assigned to sitrep"
            )
        } else {
            format!(
                "'{user}' is in no group that sitrep maps to a role, so they may not sign in; an admin maps groups under [oidc.roles]"
            )
        }));
    };
    let display_name = verified.claims.get("name").and_then(Value::as_str).map(str::to_owned);
    Ok(Person { user, display_name, org_role })
}

/// Which mapped role wins when a person is in several groups.
fn strength(role: OrgRole) -> u8 {
    match role {
        OrgRole::Admin => 3,
        OrgRole::Member => 2,
        OrgRole::Auditor => 1,
        OrgRole::Viewer => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use openidconnect::core::CoreRsaPrivateSigningKey;
    use openidconnect::{ClientId, IssuerUrl, JsonWebKeyId, JsonWebKeySet, PrivateSigningKey};
    use serde_json::json;

    use super::*;

    /// A 2048-bit RSA key made for these tests only.
    const KEY: &str = include_str!("test_key.pem");
    /// Another one: a token it signs is a forgery.
    const OTHER_KEY: &str = include_str!("test_key_other.pem");
    const ISSUER: &str = "https://idp.example";
    const SECRET: &str = "the-client-secret";

    fn signer(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).expect("the test key parses")
    }

    fn verifier() -> Verifier<'static> {
        let keys = JsonWebKeySet::new(vec![signer(KEY, "k1").as_verification_key()]);
        accepting(IdTokenVerifier::new_confidential_client(
            ClientId::new("sitrep".into()),
            openidconnect::ClientSecret::new(SECRET.into()),
            IssuerUrl::new(ISSUER.into()).expect("an issuer URL"),
            keys,
        ))
    }

    fn now() -> i64 {
        sitrep_store::time::now().as_jiff().as_second()
    }

    fn token(pem: &str, kid: &str, change: impl FnOnce(&mut Value)) -> IdToken {
        signed(&signer(pem, kid), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, change)
    }

    fn signed(
        key: &impl PrivateSigningKey<VerificationKey = CoreJsonWebKey>,
        alg: CoreJwsSigningAlgorithm,
        change: impl FnOnce(&mut Value),
    ) -> IdToken {
        let now = now();
        let mut claims = json!({
            "iss": ISSUER, "aud": ["sitrep"], "sub": "u-1", "exp": now + 300, "iat": now,
            "auth_time": now - 10, "nonce": "n-1", "preferred_username": "alice", "name": "Alice",
            "groups": ["sitrep-admins"], "acr": "urn:sitrep:mfa", "amr": ["pwd", "otp"],
        });
        change(&mut claims);
        let claims: Claims = serde_json::from_value(claims).expect("claims");
        IdToken::new(claims, key, alg, None, None).expect("signs")
    }

    fn expected() -> Expected {
        Expected { nonce: Nonce::new("n-1".into()), max_age: None, acr: Vec::new(), now: now() }
    }

    fn refusal(token: &IdToken, expected: &Expected) -> Refusal {
        verify(token, &verifier(), expected).expect_err("refused")
    }

    #[test]
    fn a_good_token_names_the_person() {
        let verified = verify(&token(KEY, "k1", |_| {}), &verifier(), &expected()).expect("verifies");
        assert_eq!(verified.issuer, ISSUER);
        assert_eq!(verified.subject, "u-1");
        assert_eq!(verified.amr, ["pwd", "otp"]);
        assert_eq!(verified.acr.as_deref(), Some("urn:sitrep:mfa"));
        let person = person(&verified, &mapping(&[("sitrep-admins", OrgRole::Admin)])).expect("mapped");
        assert_eq!(person.user.as_str(), "alice");
        assert_eq!(person.org_role, OrgRole::Admin);
        assert_eq!(person.display_name.as_deref(), Some("Alice"));
    }

    #[test]
    fn forged_foreign_stale_and_replayed_tokens_are_refused() {
        assert!(
            matches!(refusal(&token(OTHER_KEY, "k1", |_| {}), &expected()), Refusal::Token(m) if m.contains("signature"))
        );
        assert_eq!(refusal(&token(OTHER_KEY, "k2", |_| {}), &expected()), Refusal::UnknownKey);
        let aud = refusal(&token(KEY, "k1", |c| c["aud"] = json!(["another-app"])), &expected());
        assert!(aud.to_string().contains("another client"), "{aud}");
        let iss = refusal(&token(KEY, "k1", |c| c["iss"] = json!("https://evil.example")), &expected());
        assert!(iss.to_string().contains("another provider"), "{iss}");
        let exp = refusal(&token(KEY, "k1", |c| c["exp"] = json!(now() - 600)), &expected());
        assert!(exp.to_string().contains("expired"), "{exp}");
        let nonce = refusal(&token(KEY, "k1", |c| c["nonce"] = json!("n-other")), &expected());
        assert!(nonce.to_string().contains("nonce"), "{nonce}");
        let old = Expected { max_age: Some(5), ..expected() };
        assert!(
            refusal(&token(KEY, "k1", |c| c["auth_time"] = json!(now() - 3600)), &old).to_string().contains("longer")
        );
        let step_up = Expected { acr: vec!["urn:sitrep:mfa".into()], ..expected() };
        let weak = refusal(&token(KEY, "k1", |c| c["acr"] = json!("urn:sitrep:pwd")), &step_up);
        assert!(weak.to_string().contains("authentication class"), "{weak}");
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let signed = token(KEY, "k1", |_| {}).to_string();
        let payload = signed.split('.').nth(1).expect("a payload");
        for header in [r#"{"alg":"none"}"#, r#"{"alg":"none","typ":"JWT"}"#] {
            let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(header));
            let token = IdToken::from_str(&unsigned).expect("it parses: the verifier is what refuses it");
            let refused = refusal(&token, &expected());
            assert!(refused.to_string().contains("not signed"), "{refused}");
        }
        // Nor is one keyed with the client secret (HS256), which the client itself could forge.
        let hmac = super::tests::signed(
            &openidconnect::core::CoreHmacKey::new(SECRET.as_bytes()),
            CoreJwsSigningAlgorithm::HmacSha256,
            |_| {},
        );
        let refused = refusal(&hmac, &expected());
        assert!(refused.to_string().contains("does not accept"), "{refused}");
    }

    fn mapping(roles: &[(&str, OrgRole)]) -> OidcConfig {
        let text = format!(
            "issuer = \"{ISSUER}\"\nclient_id = \"sitrep\"\n[roles]\n{}",
            roles.iter().map(|(group, role)| format!("\"{group}\" = \"{role}\"\n")).collect::<String>()
        );
        toml::from_str(&text).expect("an [oidc] table")
    }

    #[test]
    fn groups_map_to_the_strongest_role_and_unmapped_people_are_refused() {
        let mut verified = verify(&token(KEY, "k1", |_| {}), &verifier(), &expected()).expect("verifies");
        let config = mapping(&[("staff", OrgRole::Viewer), ("sitrep-members", OrgRole::Member)]);
        verified.claims.insert("groups".into(), json!(["staff", "sitrep-members"]));
        assert_eq!(person(&verified, &config).expect("mapped").org_role, OrgRole::Member);
        verified.claims.insert("groups".into(), json!(["contractors"]));
        assert!(matches!(person(&verified, &config), Err(Refusal::Person(m)) if m.contains("no group")));
        verified.claims.remove("groups");
        verified.claims.insert("_claim_names".into(), json!({ "groups": "src1" }));
        assert!(matches!(person(&verified, &config), Err(Refusal::Person(m)) if m.contains("too many groups")));
        verified.claims.insert("groups".into(), json!("sitrep-members"));
        verified.claims.insert("preferred_username".into(), json!("Bad Name!"));
        assert!(matches!(person(&verified, &config), Err(Refusal::Person(m)) if m.contains("not a sitrep user name")));
        let upn = OidcConfig { username_claim: "upn".into(), ..config.clone() };
        assert!(person(&verified, &upn).is_err(), "a missing claim");
    }

    #[test]
    fn a_domain_is_taken_off_user_names() {
        let mut verified = verify(&token(KEY, "k1", |_| {}), &verifier(), &expected()).expect("verifies");
        let mut config = mapping(&[("example.com", OrgRole::Member)]);
        config.username_claim = "email".into();
        config.groups_claim = "hd".into();
        config.username_domain = Some("Example.com".into());
        verified.claims.insert("email".into(), json!("Alice.Smith@example.COM"));
        verified.claims.insert("hd".into(), json!("example.com"));
        let person = person(&verified, &config).expect("mapped by the hosted domain");
        assert_eq!((person.user.as_str(), person.org_role), ("alice.smith", OrgRole::Member));
        verified.claims.insert("email".into(), json!("mallory@evil.example"));
        assert!(super::person(&verified, &config).is_err(), "another domain");
    }
}
