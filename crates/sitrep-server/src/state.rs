//! What every request handler shares.

use std::ops::Deref;
use std::sync::Arc;

use sitrep_core::Timestamp;
use sitrep_store::Ledger;
use sitrep_store::ledger::Clock;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub ledger: Arc<Ledger>,
    pub auth: Auth,
    pub metrics: Metrics,
    pub config: Config,
    pub clock: Clock,
    /// Turns true when the server is shutting down, so long-lived streams can end.
    pub shutdown: watch::Receiver<bool>,
    /// How much of each record the web pages have already verified.
    pub chain_checks: Arc<crate::web::ChainChecks>,
    /// Evidence files, content-addressed in the data directory.
    pub blobs: sitrep_store::blobs::BlobStore,
    /// Signs share links (derived from the deployment's key, so no secret is in the record).
    pub share_key: [u8; 32],
    /// Signs review links sent in alerts, derived the same way.
    pub review_key: [u8; 32],
    /// The deployment's Ed25519 key: signs checkpoints and export bundles.
    pub signing_key: sitrep_core::checkpoint::SigningKey,
    /// Connections open now, within their limits.
    pub connections: Arc<crate::listener::Connections>,
    /// Sign-in through an OpenID Connect provider (only with `[oidc]`).
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// One-time codes that link a chat identity to a person (this node's memory only).
    pub link_codes: Arc<crate::chat::LinkCodes>,
    /// The demo's webhook receiver (only with `serve --demo`).
    pub demo_receiver: Option<Arc<crate::demo::Receiver>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("listen", &self.config.listen).field("ledger", &self.ledger).finish()
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The same state with the demo's receiver mounted (before the server starts).
    pub fn with_demo_receiver(self, receiver: Arc<crate::demo::Receiver>) -> AppState {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.demo_receiver = Some(receiver);
                AppState(Arc::new(inner))
            }
            Err(shared) => AppState(shared),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
