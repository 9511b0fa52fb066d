//! Running the server: open the data directory, start the ledger, serve until a signal, then
//! finish in-flight requests, end live streams and close the store cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use sitrep_store::blobs::BlobStore;
use sitrep_store::datadir::{DataDir, DataDirError};
use sitrep_store::ledger::{Clock, system_clock};
use sitrep_store::{Ledger, LedgerError, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::{AppState, Inner};
use crate::{app, demo};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
    #[error("the record's writer stopped ({0}); exiting so that a supervisor restarts sitrep")]
    WriterStopped(String),
}

impl From<ApiError> for ServeError {
    fn from(error: ApiError) -> Self {
        ServeError::Setup(match error {
            ApiError::Internal(cause) => cause,
            other => other.to_string(),
        })
    }
}

/// Builds the shared state over an open ledger.
pub fn state(
    config: Config,
    ledger: Arc<Ledger>,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
) -> Result<AppState, ServeError> {
    let data = DataDir::inspect(&config.data)?;
    let blobs = BlobStore::open(&data.blobs_path()).map_err(|e| ServeError::Setup(e.to_string()))?;
    let signing_key = data.signing_key()?;
    let share_key = crate::shares::derive_key(&signing_key.to_bytes());
    let review_key = crate::connectors::alerts::derive_key(&signing_key.to_bytes());
    let connections = Arc::new(crate::listener::Connections::new(&config));
    let oidc = crate::oidc::setup(&config).map_err(|e| ServeError::Setup(e.to_string()))?;
    Ok(AppState::new(Inner {
        oidc,
        blobs,
        share_key,
        review_key,
        signing_key,
        ledger,
        auth: Auth::new(config.session_hours, config.session_idle_minutes)?,
        metrics: Metrics::default(),
        config,
        clock,
        shutdown,
        chain_checks: crate::web::chain_checks(),
        connections,
        link_codes: Arc::default(),
        demo_receiver: None,
    }))
}

/// Serves `state` on `listener` until `stop` completes; then tells live streams to end and
/// waits for in-flight requests.
pub async fn serve_until(
    listener: TcpListener,
    state: AppState,
    stop: impl Future<Output = ()> + Send + 'static,
    shutdown: watch::Sender<bool>,
) -> Result<(), ServeError> {
    let stopping = shutdown.subscribe();
    let mut writer = state.ledger.watch_stopped();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop => tracing::info!("shutting down: finishing in-flight requests"),
            // Nothing can be written any more: stop serving rather than answer 503 forever.
            Ok(_) = writer.wait_for(Option::is_some) => tracing::error!("the record's writer stopped; shutting down"),
        }
        let _ = shutdown.send(true);
    });
    let connections = state.connections.clone();
    let config = state.config.clone();
    // The Matrix bot runs while the server does and stops at the same signal.
    let _chat = start_chat(&state)?;
    crate::listener::serve(listener, app(state), connections, &config, stopping).await;
    Ok(())
}

/// Starts the connector worker: approved decisions' actions and decision notifications.
pub fn start_worker(state: &AppState) -> tokio::task::JoinHandle<()> {
    let worker = crate::connectors::Worker::new(state.ledger.clone(), state.config.clone(), state.clock.clone())
        .with_review_key(state.review_key);
    tokio::spawn(worker.run(state.shutdown.clone()))
}

/// Starts the Matrix bot when `[matrix]` is configured: incident rooms and chat commands.
pub fn start_chat(state: &AppState) -> Result<Option<tokio::task::JoinHandle<()>>, ServeError> {
    let Some(config) = &state.config.matrix else { return Ok(None) };
    let bot = crate::chat::matrix::Bot::new(
        config,
        state.ledger.clone(),
        state.clock.clone(),
        state.link_codes.clone(),
        state.config.base_url(),
    )
    .map_err(|e| ServeError::Setup(e.to_string()))?;
    Ok(Some(tokio::spawn(bot.run(state.shutdown.clone()))))
}

/// `sitrep serve`.
pub async fn run(mut config: Config, demo_mode: bool) -> Result<(), ServeError> {
    if demo_mode && config.database.is_some() {
        return Err(ServeError::Setup(
            "the demo keeps its record in a SQLite file of its own; leave `database` (SITREP_DATABASE) unset".into(),
        ));
    }
    let fresh_demo = demo_mode && !config.data.join("sitrep.db").exists();
    let data = if fresh_demo { demo::create(&config.data)? } else { DataDir::open(&config.data)? };
    let store = sitrep_store::open_store(&data, config.database.as_deref())?;
    let ledger = Arc::new(Ledger::open(store, system_clock())?);
    if fresh_demo {
        let blobs = BlobStore::open(&data.blobs_path()).map_err(|e| ServeError::Setup(e.to_string()))?;
        let people = demo::seed(&ledger, &blobs).await?;
        demo::print(&people, &config.base_url());
    } else if demo_mode {
        say(&format!(
            "The demo in {} was seeded earlier; its passwords were printed then. Delete the directory to start over.",
            config.data.display()
        ));
    }
    let (shutdown_sender, shutdown) = watch::channel(false);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen { address: config.listen, source })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data = %config.data.display(), "sitrep is serving");
    say(&format!("sitrep is serving on http://{address} (data in {})", config.data.display()));
    let receiver = if demo_mode { Some(demo::Receiver::configure(&mut config)?) } else { None };
    let mut state = state(config, ledger.clone(), system_clock(), shutdown)?;
    if let Some(receiver) = receiver {
        state = state.with_demo_receiver(receiver);
    }
    let worker = start_worker(&state);
    serve_until(listener, state, signal(), shutdown_sender).await?;
    // The worker stops at the shutdown signal: within half a second it has recorded what
    // finished and abandoned the rest (killing a command's process group); that stays due.
    let _ = worker.await;
    let ledger_stopped = ledger.stopped();
    // Every request has finished; close the ledger so the last batch is durable before exit.
    match Arc::try_unwrap(ledger) {
        Ok(ledger) => ledger.close(),
        Err(_) => tracing::warn!("the ledger is still in use at shutdown; it closes when the last user drops it"),
    }
    if let Some(reason) = ledger_stopped {
        return Err(ServeError::WriterStopped(reason));
    }
    tracing::info!("stopped");
    Ok(())
}

/// A line on standard output for the person who started the server. Never fails: standard
/// output may be a file on a full disk, and that must not take the server down.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Resolves on SIGTERM or SIGINT.
async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
