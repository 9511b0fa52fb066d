//! Share links: how a third party without an account fetches exactly the items an approved
//! `evidence_sharing` decision named.
//!
//! A link is `/shares/<incident>.<share>.<mac>`, where the MAC is HMAC-SHA256 over the
//! incident's UUID and the share id, keyed by a key derived from the deployment's signing key.
//! So the record holds no secret, a link cannot be guessed or altered to reach another share,
//! and whether it still works is decided by the record alone: revoking it or passing its expiry
//! stops it at once. Every download through it is a custody entry written before the first
//! byte; looking at the list of items is not.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sitrep_core::decide::{self, Refusal, SystemCommand};
use sitrep_core::ids::ShareId;
use sitrep_core::{IncidentNumber, IncidentState};
use uuid::Uuid;

use crate::api::evidence::{check_integrity, serve_blob};
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;
use crate::web::filters;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The share-link key, derived from the deployment's signing key seed.
pub fn derive_key(seed: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    if let Ok(mut mac) = HmacSha256::new_from_slice(seed) {
        mac.update(b"sitrep share links v1");
        key.copy_from_slice(&mac.finalize().into_bytes());
    }
    key
}

fn mac(key: &[u8; 32], incident: Uuid, share: ShareId) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(incident.as_bytes());
    mac.update(share.to_string().as_bytes());
    Some(mac)
}

/// The path of a share's link.
pub fn link(key: &[u8; 32], state: &IncidentState, share: ShareId) -> String {
    let tag =
        mac(key, state.uuid, share).map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())).unwrap_or_default();
    format!("/shares/{}.{}.{tag}", state.id.0, share.0)
}

/// The incident and share a token names, if its MAC is right.
fn open(app: &AppState, token: &str) -> Result<(IncidentNumber, ShareId), ApiError> {
    let invalid = || ApiError::NotFound("this share link is not valid; ask the sender for a new one".into());
    let mut parts = token.splitn(3, '.');
    let (Some(incident), Some(share), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let number = IncidentNumber(incident.parse().map_err(|_| invalid())?);
    let share = ShareId(share.parse().map_err(|_| invalid())?);
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    let uuid = app.ledger.with_incident(number, |state| state.uuid).ok_or_else(invalid)?;
    let expected = mac(&app.share_key, uuid, share).ok_or_else(invalid)?;
    expected.verify_slice(&tag).map_err(|_| invalid())?;
    Ok((number, share))
}

/// Why a valid link no longer works, or `None` while it does.
fn gone(state: &IncidentState, share: ShareId, now: sitrep_core::Timestamp) -> Result<(), ApiError> {
    let found = state.share(share).ok_or_else(|| ApiError::NotFound("this share link is not valid".into()))?;
    if state.phase == sitrep_core::Phase::Closed {
        return Err(ApiError::Gone(format!("{} is closed; its share links no longer work", state.id)));
    }
    if let Some(revoked) = &found.revoked {
        return Err(ApiError::Gone(format!("this share link was revoked at {}", revoked.at)));
    }
    if now >= found.expires_at {
        return Err(ApiError::Gone(format!("this share link expired at {}", found.expires_at)));
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "share.html")]
struct SharePage {
    incident: String,
    party: String,
    expires_at: String,
    token: String,
    items: Vec<SharedItem>,
}

struct SharedItem {
    name: String,
    size: u64,
    sha256: String,
}

/// The list of items a link reaches.
pub async fn page(State(app): State<AppState>, Segments(token): Segments<String>) -> Result<Response, ApiError> {
    let (number, share) = open(&app, &token)?;
    let now = app.now();
    let org = app.ledger.org();
    let page = app
        .ledger
        .with_incident(number, |state| -> Result<SharePage, ApiError> {
            gone(state, share, now)?;
            let found = state.share(share).ok_or_else(|| ApiError::NotFound("this share link is not valid".into()))?;
            Ok(SharePage {
                incident: state.id.to_string(),
                party: org.parties.get(&found.party).map_or_else(|| found.party.clone(), |p| p.party.name.clone()),
                expires_at: found.expires_at.to_string(),
                token: token.clone(),
                items: found
                    .items
                    .iter()
                    .filter_map(|sha| state.evidence_item(sha))
                    .map(|item| SharedItem { name: item.name.clone(), size: item.size, sha256: item.sha256.clone() })
                    .collect(),
            })
        })
        .ok_or_else(|| ApiError::NotFound("this share link is not valid".into()))??;
    let html = page.render().map_err(|e| ApiError::Internal(format!("rendering the share page: {e}")))?;
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("default-src 'none'; style-src 'self'; form-action 'none'"),
    );
    Ok(response)
}

/// One item through a link: recorded as a custody entry, then served like any download.
pub async fn download(
    State(app): State<AppState>,
    method: axum::http::Method,
    Segments((token, sha256)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    crate::api::evidence::refuse_head(&method)?;
    let (number, share) = open(&app, &token)?;
    let now = app.now();
    let command = SystemCommand::ShareUsed { share, sha256: sha256.clone() };
    let name = app
        .ledger
        .with_incident(number, |state| -> Result<String, ApiError> {
            gone(state, share, now)?;
            decide::decide_system(state, &command, now).map_err(|refusal| match refusal {
                Refusal::Conflict(message) => ApiError::Gone(message),
                other => other.into(),
            })?;
            Ok(state.evidence_item(&sha256).map(|item| item.name.clone()).unwrap_or_default())
        })
        .ok_or_else(|| ApiError::NotFound("this share link is not valid".into()))??;
    // The failure is recorded and the incident's people see the detail; the party is only told.
    let size = check_integrity(&app, number, &sha256).await.map_err(|error| match error {
        ApiError::Integrity(_) => ApiError::Integrity(
            "this file cannot be served: it failed its integrity check; the sender has been told".into(),
        ),
        other => other,
    })?;
    app.ledger.execute_system(number, "share", command).await.map_err(|error| match error {
        sitrep_store::LedgerError::Refused(Refusal::Conflict(message)) => ApiError::Gone(message),
        other => other.into(),
    })?;
    serve_blob(&app, &sha256, &name, size).await
}
