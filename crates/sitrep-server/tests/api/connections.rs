//! Slow and greedy clients: a request's headers and body must keep arriving, and no client
//! address may hold more than its share of connections, so one client cannot stop the server
//! answering everyone else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

fn address(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().expect("the server's address")
}

/// A connection to the server from `from` (any 127.x.y.z address is this machine).
async fn connect_from(app: &TestApp, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.bind(format!("{from}:0").parse().expect("a local address")).expect("bind");
    socket.connect(address(app)).await.expect("the server accepts")
}

/// Reads until the server closes the connection, or `wait` passes: what was read, and whether
/// the server closed it.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + wait;
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_app_with(|config| config.header_timeout_secs = 1).await;
    let mut slow = connect_from(&app, "127.0.0.1").await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: sitrep\r\nX-Slow: ").await.expect("writes");
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "the connection is closed after the header timeout");

    // An idle kept-alive connection is closed after the same time.
    let mut idle = connect_from(&app, "127.0.0.1").await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: sitrep\r\n\r\n").await.expect("writes");
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle kept-alive connection is closed");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_is_answered_and_the_connection_closed() {
    let app = spawn_app_with(|config| config.body_timeout_secs = 1).await;
    let token = app.token(COMMANDER).to_owned();
    let head = |length: u64| {
        format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: sitrep\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    // Announced larger than the limit: refused at once, without waiting for any of it.
    let mut huge = connect_from(&app, "127.0.0.1").await;
    huge.write_all(head(3_000_000_000).as_bytes()).await.expect("writes");
    let (answer, closed) = read_until_closed(&mut huge, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(closed, "the connection does not wait for three gigabytes");

    // Within the limit, but the body never comes: 408 after the body timeout.
    let mut stalled = connect_from(&app, "127.0.0.1").await;
    stalled.write_all(head(100).as_bytes()).await.expect("writes");
    stalled.write_all(b"{\"title\": ").await.expect("writes");
    let (answer, closed) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(closed);
    let incidents = app.get_json(COMMANDER, "/api/v1/incidents").await;
    assert_eq!(incidents["incidents"].as_array().map(Vec::len), Some(0), "nothing was declared");
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(|config| {
        config.max_connections_per_address = 10;
        config.header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(connect_from(&app, "127.0.0.1").await);
    }
    // The server reads nothing from an eleventh: it closes it at once.
    let mut eleventh = connect_from(&app, "127.0.0.1").await;
    let (_, closed) = read_until_closed(&mut eleventh, Duration::from_secs(5)).await;
    assert!(closed, "the eleventh connection from one address is closed");

    // Everyone else is still answered.
    let mut other = connect_from(&app, "127.0.0.2").await;
    other.write_all(b"GET /healthz HTTP/1.1\r\nHost: sitrep\r\nConnection: close\r\n\r\n").await.expect("writes");
    let (answer, _) = read_until_closed(&mut other, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "another address is served: {answer}");

    // A closed connection frees its place (once the server has seen it close).
    drop(held.pop());
    sitrep_testing::eventually("a closed connection to free its place", PATIENCE, || async {
        let mut again = connect_from(&app, "127.0.0.1").await;
        let _ = again.write_all(b"GET /healthz HTTP/1.1\r\nHost: sitrep\r\nConnection: close\r\n\r\n").await;
        let (answer, _) = read_until_closed(&mut again, Duration::from_secs(2)).await;
        if answer.starts_with("HTTP/1.1 200") { Ok(()) } else { Err(answer) }
    })
    .await;
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("answers");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("a body");
    let refused: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("sitrep_connections_refused_total "))
        .and_then(|v| v.parse().ok())
        .expect("/metrics counts refused connections");
    assert!(refused >= 1, "{text}");
}

#[tokio::test]
async fn the_server_as_a_whole_holds_at_most_its_connection_limit() {
    let app = spawn_app_with(|config| {
        config.max_connections = 5;
        config.max_connections_per_address = 0;
    })
    .await;
    let mut held = Vec::new();
    for n in 0..5 {
        held.push(connect_from(&app, &format!("127.0.0.{}", n + 1)).await);
    }
    let mut sixth = connect_from(&app, "127.0.0.9").await;
    let (_, closed) = read_until_closed(&mut sixth, Duration::from_secs(5)).await;
    assert!(closed, "a connection past the limit is closed at once");
}
