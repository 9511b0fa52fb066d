//! Accepting connections: how many, from whom, and for how long a client may keep one without
//! sending anything.
//!
//! sitrep serves HTTP/1.1 through hyper directly rather than `axum::serve`, because that one
//! offers no header read timeout: a client that opens connections and never finishes a request
//! would hold each forever. Here
//!
//! - a connection must deliver a request's headers within `header_timeout_secs`, and a kept-alive
//!   connection that sends no next request in that time is closed (hyper starts the same timer
//!   while it waits for the next request);
//! - a request body must keep arriving: `body_timeout_secs` without a byte ends it with 408;
//! - at most `max_connections` are open at once, and at most `max_connections_per_address` from
//!   one client address (not applied behind `trusted_proxies`, where every connection comes
//!   from the proxy); a connection past either limit is closed at once, before anything is read.
//!
//! Live event streams are not idle in this sense: the server writes to them (a heartbeat every
//! 15 seconds), and hyper reads no next request while a response is being written.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

use crate::config::Config;

/// The connections open now, per client address, within their limits.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    /// `0`: no limit per address.
    max_per_address: usize,
    open: Mutex<Open>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    connections: Arc<Connections>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

impl Connections {
    pub fn new(config: &Config) -> Connections {
        Connections {
            max: config.max_connections.max(1),
            max_per_address: if config.trusted_proxies > 0 { 0 } else { config.max_connections_per_address },
            open: Mutex::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// A place for a connection from `address`, or `None` when a limit is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock();
        let from_address = open.by_address.get(&address).copied().unwrap_or(0);
        if open.total >= self.max || (self.max_per_address > 0 && from_address >= self.max_per_address) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        open.total += 1;
        *open.by_address.entry(address).or_default() += 1;
        Some(Admitted { connections: self.clone(), address })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().total
    }

    /// Connections closed at once because a limit was reached, since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Timeouts taken from the configuration.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    body: Duration,
}

/// Accepts connections on `listener` and serves `router` on each until `stop` turns true; then
/// stops accepting, lets every connection finish its request in flight, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Arc<Connections>,
    config: &Config,
    mut stop: watch::Receiver<bool>,
) {
    let timeouts = Timeouts {
        header: Duration::from_secs(config.header_timeout_secs.max(1)),
        body: Duration::from_secs(config.body_timeout_secs.max(1)),
    };
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: back off rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(admitted) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection limit reached; closed at once");
            drop(stream);
            continue;
        };
        tracker.spawn(connection(stream, peer, router.clone(), timeouts, stop.clone(), admitted));
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
    _admitted: Admitted,
) {
    let service = router.map_request(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| Body::new(TimeoutBody::new(timeouts.body, body)));
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let service = TowerToHyperService::new(service.map_err(|never: Infallible| never));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "connection ended");
            }
        }
        _ = stopped(&mut stop) => {
            // Finish the request in flight (live streams end on the same signal), then close.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves once the server is stopping.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which happens only when the server is done anyway.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections(max: usize, per_address: usize, proxies: usize) -> Arc<Connections> {
        let config = Config {
            max_connections: max,
            max_connections_per_address: per_address,
            trusted_proxies: proxies,
            ..Config::default()
        };
        Arc::new(Connections::new(&config))
    }

    #[test]
    fn limits_hold_per_address_and_in_all_and_free_on_drop() {
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let limits = connections(3, 2, 0);
        let first = limits.admit(a).expect("admitted");
        let _second = limits.admit(a).expect("admitted");
        assert!(limits.admit(a).is_none(), "two per address");
        let _third = limits.admit(b).expect("another address is admitted");
        assert!(limits.admit(b).is_none(), "three in all");
        assert_eq!((limits.open(), limits.refused()), (3, 2));
        drop(first);
        assert!(limits.admit(a).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn behind_proxies_only_the_total_counts() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let limits = connections(3, 1, 1);
        let held: Vec<_> = (0..3).map(|_| limits.admit(proxy).expect("admitted")).collect();
        assert!(limits.admit(proxy).is_none());
        drop(held);
    }
}
