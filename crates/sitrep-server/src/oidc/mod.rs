//! Sign-in through an OpenID Connect provider: the code flow with PKCE, by `openidconnect`.
//!
//! `GET /auth/oidc/start` remembers a pending sign-in (state, nonce, PKCE verifier, where to go
//! next; in memory, ten minutes, a bounded number) and sends the browser to the provider.
//! `GET /auth/oidc/callback` takes that pending sign-in out (so a state works once), exchanges
//! the code, verifies the ID token (`flow::verify`), maps it to a sitrep user (`flow::person`),
//! provisions them as `system:oidc` when `just_in_time` allows, and starts the session. Every
//! refusal is a page saying why, a warning in the log, and nothing written. The provider's
//! discovery document and keys are cached; a token signed with a key not in the cache fetches
//! the keys once more (the provider rotated them).

pub mod flow;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, TokenResponse as _,
};
use parking_lot::Mutex;
use serde::Deserialize;
use sitrep_core::authn::{AuthMethod, Authentication, ExternalIdentity};
use sitrep_core::{OrgCommand, Timestamp};

use crate::config::OidcConfig;
use crate::error::ApiError;
use crate::state::AppState;
use flow::{AllClaims, Expected, Refusal, TokenResponse};

/// How long a pending sign-in waits for the provider to send the person back.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Pending sign-ins held at once: a flood of starts cannot grow memory without bound.
const PENDING_MAX: usize = 10_000;
/// The connector name in the record (`system:oidc`).
const CONNECTOR: &str = "oidc";

type Client = openidconnect::Client<
    AllClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A configuration mistake found at start.
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    #[error("[oidc] {0}")]
    Config(String),
    #[error("[oidc] client_secret_file {path}: {source}")]
    SecretFile { path: std::path::PathBuf, source: std::io::Error },
    #[error("[oidc] the HTTP client cannot be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// What talking to the provider can fail with (the `openidconnect` HTTP client's error).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Reqwest(#[from] reqwest::Error),
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// `openidconnect`'s HTTP client over the workspace's reqwest (its own `reqwest` feature wants
/// another reqwest), answers capped at 1 MiB.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            const LIMIT: usize = 1024 * 1024;
            let request = reqwest::Request::try_from(request)?;
            let mut response = self.0.execute(request).await?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > LIMIT {
                    return Err(HttpError::TooLarge(LIMIT));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(builder.body(body)?)
        })
    }
}

/// The provider as configured, what it published, and the sign-ins under way.
pub struct Oidc {
    config: OidcConfig,
    issuer: IssuerUrl,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    http: Http,
    /// Discovery and keys, fetched at the first sign-in and kept.
    provider: Mutex<Option<CoreProviderMetadata>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.config.issuer).field("client_id", &self.config.client_id).finish()
    }
}

/// A sign-in sent to the provider and not yet back.
#[derive(Debug)]
struct Pending {
    nonce: Nonce,
    verifier: String,
    next: String,
    max_age: Option<u64>,
    acr: Vec<String>,
    created: Instant,
}

impl Oidc {
    /// Checks the `[oidc]` table and reads the client secret; nothing is fetched yet.
    pub fn new(config: &OidcConfig, public_url: Option<&str>) -> Result<Oidc, OidcSetupError> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| OidcSetupError::Config(format!("issuer is not a URL: {e}")))?;
        let secret = match (&config.client_secret, &config.client_secret_file) {
            (Some(secret), None) if !secret.is_empty() => secret.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|source| OidcSetupError::SecretFile { path: path.clone(), source })?
                .trim()
                .to_owned(),
            _ => {
                return Err(OidcSetupError::Config("needs exactly one of client_secret and client_secret_file".into()));
            }
        };
        let redirect = match (&config.redirect_uri, public_url) {
            (Some(uri), _) => uri.clone(),
            (None, Some(base)) => format!("{}/auth/oidc/callback", base.trim_end_matches('/')),
            (None, None) => {
                return Err(OidcSetupError::Config("needs redirect_uri, or public_url to derive it from".into()));
            }
        };
        let redirect = RedirectUrl::new(redirect)
            .map_err(|e| OidcSetupError::Config(format!("redirect_uri is not a URL: {e}")))?;
        if config.roles.is_empty() {
            return Err(OidcSetupError::Config("[oidc.roles] maps no group to a role, so nobody could sign in".into()));
        }
        // The provider's answers are never followed elsewhere: a redirect could point the
        // server at an internal address.
        let http = Http(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()?,
        );
        Ok(Oidc {
            config: config.clone(),
            issuer,
            client_secret: ClientSecret::new(secret),
            redirect,
            http,
            provider: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The name on the sign-in button.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The provider's metadata and keys: cached, or fetched now.
    async fn provider(&self) -> Result<CoreProviderMetadata, Refusal> {
        if let Some(cached) = self.provider.lock().clone() {
            return Ok(cached);
        }
        let metadata =
            CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await.map_err(|error| {
                tracing::warn!(issuer = %self.config.issuer, %error, "OpenID discovery failed");
                Refusal::Unreachable("sitrep cannot reach the identity provider; try again shortly".into())
            })?;
        *self.provider.lock() = Some(metadata.clone());
        Ok(metadata)
    }

    /// Fetches the provider's keys again, after a token named a key the cache lacks.
    async fn refresh_keys(&self, mut metadata: CoreProviderMetadata) -> Result<CoreProviderMetadata, Refusal> {
        let keys = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http).await.map_err(|error| {
            tracing::warn!(issuer = %self.config.issuer, %error, "fetching the provider's keys failed");
            Refusal::Unreachable("sitrep cannot fetch the identity provider's keys; try again shortly".into())
        })?;
        metadata = metadata.set_jwks(keys);
        *self.provider.lock() = Some(metadata.clone());
        Ok(metadata)
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Client {
        Client::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Remembers a pending sign-in under its state. When too many are under way the oldest is
    /// dropped: a flood of starts then costs its own sign-ins, rather than refusing everyone's
    /// for ten minutes.
    fn remember(&self, state: String, pending: Pending) {
        let mut all = self.pending.lock();
        if all.len() >= PENDING_MAX {
            all.retain(|_, p| p.created.elapsed() < PENDING_TTL);
        }
        if all.len() >= PENDING_MAX
            && let Some(oldest) = all.iter().min_by_key(|(_, p)| p.created).map(|(state, _)| state.clone())
        {
            all.remove(&oldest);
        }
        all.insert(state, pending);
    }

    /// Takes the pending sign-in for `state` out, so it answers one callback only.
    fn take(&self, state: &str) -> Result<Pending, Refusal> {
        let pending = self.pending.lock().remove(state).ok_or_else(|| {
            Refusal::State("this sign-in is unknown or was already used; start again from the sign-in page".into())
        })?;
        if pending.created.elapsed() >= PENDING_TTL {
            return Err(Refusal::State("this sign-in took longer than ten minutes; start again".into()));
        }
        Ok(pending)
    }
}

/// The sign-in routes; they answer 404 when no `[oidc]` is configured.
pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/oidc/start", get(start)).route("/auth/oidc/callback", get(callback))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    #[serde(default)]
    next: String,
    max_age: Option<u64>,
    /// One or more `acr` values, space-separated.
    acr: Option<String>,
}

async fn start(
    State(app): State<AppState>,
    query: Result<Query<StartQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(oidc) = app.oidc.clone() else {
        return not_configured();
    };
    let Ok(Query(query)) = query else {
        return refused(Refusal::State("the sign-in link is malformed; start again from the sign-in page".into()));
    };
    let acr: Vec<String> = query.acr.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    // What is remembered per pending sign-in stays small.
    if acr.len() > 8 || acr.iter().any(|a| a.len() > 200) || query.next.len() > 2000 {
        return refused(Refusal::State("the sign-in link is too long; start again from the sign-in page".into()));
    }
    let metadata = match oidc.provider().await {
        Ok(metadata) => metadata,
        Err(refusal) => return refused(refusal),
    };
    let client = oidc.client(metadata);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in &oidc.config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(max_age) = query.max_age {
        request = request.set_max_age(Duration::from_secs(max_age));
    }
    for value in &acr {
        request = request.add_auth_context_value(AuthenticationContextClass::new(value.clone()));
    }
    let (url, state, nonce) = request.url();
    let pending = Pending {
        nonce,
        verifier: verifier.into_secret(),
        next: crate::web::safe_next(&query.next),
        max_age: query.max_age,
        acr,
        created: Instant::now(),
    };
    let state = state.into_secret();
    let binding = binding_cookie(&app, &state, PENDING_TTL.as_secs());
    oidc.remember(state, pending);
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().insert(header::SET_COOKIE, binding);
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(oidc) = app.oidc.clone() else {
        return not_configured();
    };
    let Ok(Query(query)) = query else {
        return refused(Refusal::State("the provider's answer is malformed; start again from the sign-in page".into()));
    };
    let bound = crate::auth::cookie(&headers, BINDING_COOKIE).map(str::to_owned);
    match sign_in(&app, &oidc, query, bound.as_deref()).await {
        Ok(mut response) => {
            // Spent. A refusal leaves it: a stray callback must not spoil a sign-in under way.
            response.headers_mut().append(header::SET_COOKIE, binding_cookie(&app, "", 0));
            response
        }
        Err(refusal) => refused(refusal),
    }
}

/// The cookie that ties a pending sign-in to the browser that started it: without it, anyone
/// could send a victim their own callback URL and sign the victim in as themselves. `Lax`,
/// because the provider's redirect back is a cross-site navigation.
const BINDING_COOKIE: &str = "sitrep_oidc_state";

fn binding_cookie(app: &AppState, state: &str, max_age: u64) -> HeaderValue {
    let secure = if app.config.behind_tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={state}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sitrep_oidc_state=; Path=/auth/oidc; Max-Age=0"))
}

async fn sign_in(app: &AppState, oidc: &Oidc, query: CallbackQuery, bound: Option<&str>) -> Result<Response, Refusal> {
    let state = query.state.filter(|s| !s.is_empty()).ok_or_else(|| {
        Refusal::State("the provider's answer names no sign-in (state); start again from the sign-in page".into())
    })?;
    let pending = oidc.take(&state)?;
    if !bound.is_some_and(|bound| crate::auth::same_secret(bound, &state)) {
        return Err(Refusal::State(
            "this sign-in was started in another browser (or this one no longer holds its cookie); start again here"
                .into(),
        ));
    }
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or_default();
        return Err(Refusal::Provider(format!("the identity provider did not sign you in: {error} {detail}")));
    }
    if query.iss.as_ref().is_some_and(|iss| iss != oidc.issuer.as_str()) {
        return Err(Refusal::Provider("the answer came from another identity provider (iss)".into()));
    }
    let code = query.code.filter(|c| !c.is_empty()).ok_or_else(|| {
        Refusal::Provider("the identity provider sent no code; start again from the sign-in page".into())
    })?;
    let metadata = oidc.provider().await?;
    let client = oidc.client(metadata.clone());
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Refusal::Provider(format!("the identity provider publishes no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()));
    let tokens = exchange.request_async(&oidc.http).await.map_err(|error| {
        tracing::warn!(%error, "the identity provider would not exchange the code");
        Refusal::Provider(
            "the identity provider would not exchange the code (it may have been used already or expired); start again"
                .into(),
        )
    })?;
    let id_token =
        tokens.id_token().ok_or_else(|| Refusal::Provider("the identity provider sent no ID token".into()))?;
    let expected = Expected {
        nonce: pending.nonce.clone(),
        max_age: pending.max_age,
        acr: pending.acr.clone(),
        now: app.now().as_jiff().as_second(),
    };
    let verified = match flow::verify(id_token, &flow::accepting(client.id_token_verifier()), &expected) {
        Err(Refusal::UnknownKey) => {
            // The provider rotated its keys: fetch them once more and check again.
            let client = oidc.client(oidc.refresh_keys(metadata).await?);
            flow::verify(id_token, &flow::accepting(client.id_token_verifier()), &expected)?
        }
        other => other?,
    };
    let person = flow::person(&verified, &oidc.config)?;
    let identity = ExternalIdentity { issuer: verified.issuer.clone(), subject: verified.subject.clone() };
    let org = app.ledger.org();
    match org.user(&person.user) {
        Some(user) if user.identity.as_ref().is_some_and(|known| known != &identity) => {
            return Err(Refusal::Person(format!(
                "'{}' is a sitrep user linked to another identity provider account, so this one may not sign in as them",
                person.user
            )));
        }
        Some(user) if !user.active => {
            return Err(Refusal::Person(format!("'{}' is disabled in sitrep; ask an admin", person.user)));
        }
        Some(_) => {}
        None if oidc.config.just_in_time => {
            let command = OrgCommand::ProvisionUser {
                user: person.user.clone(),
                display_name: person.display_name.clone(),
                org_role: person.org_role,
                identity: identity.clone(),
            };
            app.ledger.execute_org_system(CONNECTOR, command).await.map_err(|error| {
                tracing::warn!(user = %person.user, %error, "provisioning a user from the identity provider failed");
                Refusal::Person(format!("sitrep could not add '{}': {}", person.user, ApiError::from(error)))
            })?;
            tracing::info!(user = %person.user, issuer = %identity.issuer, "provisioned from the identity provider");
        }
        None => {
            return Err(Refusal::Person(format!(
                "'{}' has no sitrep account; ask an admin to add them (or turn on just_in_time)",
                person.user
            )));
        }
    }
    let at = verified
        .auth_time
        .and_then(|seconds| Timestamp::from_unix_micros(seconds.saturating_mul(1_000_000)))
        .unwrap_or_else(|| app.now());
    let authentication = Authentication {
        method: AuthMethod::Oidc,
        at,
        issuer: Some(verified.issuer.clone()),
        acr: verified.acr.clone(),
        amr: verified.amr.clone(),
    };
    let (cookie, _csrf) = crate::auth::begin_session(app, &person.user, authentication).await.map_err(|error| {
        tracing::warn!(user = %person.user, %error, "starting a session after OpenID sign-in failed");
        Refusal::Unreachable(format!("sitrep could not start your session: {error}"))
    })?;
    tracing::info!(user = %person.user, issuer = %identity.issuer, acr = ?verified.acr, "signed in through the identity provider");
    // A page that moves on by itself, not a redirect: the browser arrives here from the
    // provider's site, and a redirect would carry that cross-site origin on to `next`, where
    // the SameSite=Strict session cookie would then not be sent.
    let mut response = crate::web::render(&SignedIn { me: None, next: pending.next }, StatusCode::OK);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, crate::web::session_cookie(app, &cookie, app.config.session_hours * 3600));
    Ok(response)
}

/// The page that follows a sign-in through the provider on to where the person was going.
#[derive(askama::Template)]
#[template(path = "signed_in.html")]
struct SignedIn {
    me: Option<crate::web::view::Me>,
    next: String,
}

/// The refusal page, with its reason logged.
fn refused(refusal: Refusal) -> Response {
    let (status, heading) = match &refusal {
        Refusal::State(_) => (StatusCode::BAD_REQUEST, "This sign-in cannot be finished"),
        Refusal::Provider(_) => (StatusCode::BAD_REQUEST, "The identity provider did not sign you in"),
        Refusal::Unreachable(_) => (StatusCode::BAD_GATEWAY, "The identity provider cannot be reached"),
        Refusal::Token(_) | Refusal::UnknownKey => (StatusCode::BAD_REQUEST, "The sign-in was refused"),
        Refusal::Person(_) => (StatusCode::FORBIDDEN, "You may not sign in to sitrep"),
    };
    tracing::warn!(reason = %refusal, "OpenID sign-in refused");
    crate::web::error_page(None, status, heading, &refusal.to_string())
}

fn not_configured() -> Response {
    ApiError::NotFound("sign-in through an identity provider is not configured here".into()).into_response()
}

/// Refuses sitrep's own password routes when `[oidc] password_sign_in = false`.
pub async fn password_guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let password_route = request.method() == Method::POST
        && matches!(request.uri().path(), "/login" | "/api/v1/session" | "/api/v1/tokens");
    if password_route && !app.config.password_sign_in() {
        return ApiError::Forbidden {
            rule: "password_sign_in".into(),
            message: "passwords do not sign in here; sign in through the identity provider at /auth/oidc/start".into(),
        }
        .into_response();
    }
    next.run(request).await
}

/// Starts the OpenID state for `[oidc]`, if configured.
pub fn setup(config: &crate::Config) -> Result<Option<Arc<Oidc>>, OidcSetupError> {
    config.oidc.as_ref().map(|oidc| Oidc::new(oidc, config.public_url.as_deref()).map(Arc::new)).transpose()
}
