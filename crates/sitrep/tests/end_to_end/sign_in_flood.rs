//! A flood of sign-ins against a real `sitrep serve`: parallel guesses are checked no more
//! often than sequential ones, and however many arrive at once the server's memory grows by a
//! few password checks' worth (19 MiB each), not by one per attempt. An outside review measured
//! 120 parallel attempts taking the server to 1.6 GiB, which it kept.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::Server;

/// Posts a sign-in; the status, or 0 when the server gave no answer.
fn sign_in(addr: &str, name: &str, password: &str) -> u16 {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let attempt = || -> Option<u16> {
        let mut stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
        let request = format!(
            "POST /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.split_whitespace().nth(1)?.parse().ok()
    };
    attempt().unwrap_or(0)
}

/// Fires every attempt at once from its own thread; the statuses.
fn flood(addr: &str, attempts: Vec<(String, String)>) -> Vec<u16> {
    std::thread::scope(|scope| {
        let threads: Vec<_> =
            attempts.iter().map(|(name, password)| scope.spawn(move || sign_in(addr, name, password))).collect();
        threads.into_iter().map(|t| t.join().expect("a sign-in thread")).collect()
    })
}

#[test]
fn parallel_sign_ins_cost_bounded_memory_and_get_no_further_than_sequential_ones() {
    let (server, token) = Server::init("root");
    let args = ["user", "add", "lee", "--role", "member", "--password-stdin"];
    server.cli(&token).run_with_stdin(&args, "correct horse battery staple\n").ok();
    let before = server.resident_bytes();

    let guesses = (0..40).map(|i| ("lee".to_owned(), format!("wrong guess number {i}"))).collect();
    let statuses = flood(&server.addr, guesses);
    assert!(statuses.iter().all(|s| [401, 429].contains(s)), "every guess is answered 401 or 429: {statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 401).count() <= 5, "{statuses:?}");

    let strangers = (0..120).map(|i| (format!("stranger{i}"), "not a password anyone has".to_owned())).collect();
    let statuses = flood(&server.addr, strangers);
    assert!(statuses.iter().all(|s| [401, 429].contains(s)), "every attempt is answered 401 or 429: {statuses:?}");
    let after = server.resident_bytes();

    let grown = after.saturating_sub(before) / (1024 * 1024);
    eprintln!(
        "resident memory: {} MiB before, {} MiB after 160 parallel sign-ins (+{grown} MiB)",
        before >> 20,
        after >> 20
    );
    // Each password thread (two per core) keeps the 19 MiB a check needs and reuses it; one
    // block kept per attempt, as before, would be 3 GiB.
    let threads = 2 * std::thread::available_parallelism().map_or(1, usize::from) as u64;
    assert!(grown <= threads * 19 + 48, "memory grew by {grown} MiB with {threads} password threads");
}
