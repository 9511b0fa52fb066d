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

/// One HTTP/1.1 request over a fresh connection: the status, the headers' text and the body.
fn exchange(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the server accepts");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("the server answers");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn a_browser_session_survives_a_crash_and_restart_until_it_is_signed_out() {
    let (mut server, people) = Server::demo();
    let person = &people[0];
    let credentials = format!(r#"{{"name":"{}","password":"{}"}}"#, person.name, person.password);
    let json = [("Content-Type", "application/json")];
    let (status, head, _) = exchange(&server.addr, "POST", "/api/v1/session", &json, &credentials);
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned();

    // Killed without warning: the session was acknowledged, so it is still there.
    server.kill_hard();
    let server = server.restart();
    let (status, _, body) = exchange(&server.addr, "GET", "/api/v1/session", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200, "the session outlived the process: {body}");
    let me: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(me["name"], person.name.as_str());
    assert_eq!(me["authentication"]["method"], "password");
    let csrf = me["csrf_token"].as_str().expect("the session's CSRF token").to_owned();
    let auth = format!("Bearer {}", person.token);
    let sessions_path = format!("/api/v1/users/{}/sessions", person.name);
    let sessions = |server: &Server| {
        let (_, _, body) = exchange(&server.addr, "GET", &sessions_path, &[("Authorization", &auth)], "");
        let list: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        list["sessions"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(sessions(&server), 1, "the owner sees the session");

    let signed_out = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    assert_eq!(exchange(&server.addr, "DELETE", "/api/v1/session", &signed_out, "").0, 204);
    assert_eq!(exchange(&server.addr, "GET", "/api/v1/session", &[("Cookie", &cookie)], "").0, 401);
    assert_eq!(sessions(&server), 0, "and sees it gone");
}
