//! `sitrep serve` as an operator runs it: stopped with SIGTERM while a live stream is open, it
//! exits cleanly, and everything it acknowledged is in a store that verifies.

use crate::support;

use std::process::Command;

use support::{Server, eventually, http_get};

#[test]
fn sigterm_ends_live_streams_and_stops_with_every_acknowledged_entry_durable() {
    let (mut server, token) = Server::init("alice");
    let cli = server.cli(&token);
    cli.run(&["declare", "Phishing wave", "--severity", "sev3"]).ok();
    cli.run(&["log", "INC-1", "Three users reported the same lure"]).ok();
    let mut watcher = cli.spawn(&["watch", "INC-1"]);
    eventually("the watcher to connect", || server.live_clients().filter(|n| *n == 1));
    cli.run(&["log", "INC-1", "The lure links to login-example.invalid"]).ok();
    assert!(watcher.next_line().contains("fact.logged"), "the watcher saw the entry before the stop");

    let status = server.terminate();
    assert!(status.success(), "the server exits 0 on SIGTERM, even with a stream open: {status}");

    let verified = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["verify", "--data", server.data.to_str().expect("utf-8 path")])
        .output()
        .expect("verify runs");
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stdout));
    let entries: u64 = String::from_utf8_lossy(&verified.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("verify names the number of entries");
    assert!(entries >= 4 + 4, "the organisation record and the incident's entries are all there: {entries}");
}

#[test]
fn the_demo_receiver_is_mounted_only_by_serve_demo() {
    let (demo, _people) = Server::demo();
    let (status, body) = http_get(&demo.addr, "/demo/receiver").expect("the demo answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"deliveries\""), "{body}");

    // Anywhere else the route does not exist at all: the answer is the router's own 404.
    let (plain, _admin) = Server::init("ada");
    let (status, body) = http_get(&plain.addr, "/demo/receiver").expect("the server answers");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("there is no such route"), "{body}");
}
