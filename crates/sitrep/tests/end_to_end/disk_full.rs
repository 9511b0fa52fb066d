//! A full disk: every request is answered (507, nothing written), `/readyz` stays honest, and
//! once space is freed writes succeed again without a restart. Run against a real `sitrep
//! serve` whose data directory is on a small tmpfs, once with its log on the same filesystem
//! (where writing the log fails too) and once with the log elsewhere.
//!
//! Mounting needs root. Without it the tests print SKIPPED and pass, unless
//! `SITREP_DISK_FULL_TESTS=required` (CI sets it), when they fail.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{BIN, Server, http_get};

/// A small tmpfs, mounted for one test and unmounted when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// A fresh 16 MiB tmpfs, or `None` (having said why) when this machine will not mount one.
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(&mount)
            .output()
            .map(|output| (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned()));
        match mounted {
            Ok((true, _)) => Some(SmallDisk { mount, _dir: dir }),
            Ok((false, why)) => skip(&why),
            Err(error) => skip(&error.to_string()),
        }
    }

    /// Fills the disk: a file that grows until the filesystem refuses more.
    fn fill(&self) -> PathBuf {
        let path = self.mount.join("filler");
        let mut file = std::fs::File::create(&path).expect("the filler file");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

fn skip(why: &str) -> Option<SmallDisk> {
    let required = std::env::var("SITREP_DISK_FULL_TESTS").is_ok_and(|v| v == "required");
    assert!(!required, "SITREP_DISK_FULL_TESTS=required, but a tmpfs cannot be mounted: {why}");
    eprintln!("SKIPPED: a tmpfs cannot be mounted here ({}); run as root", why.trim());
    None
}

/// One HTTP/1.1 request over a fresh connection: `(status, body)`, or `None` when the server
/// gave no answer at all within 20 seconds.
fn send(addr: &str, method: &str, path: &str, token: &str, content_type: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}

fn post_json(server: &Server, token: &str, path: &str, body: Value) -> Option<(u16, String)> {
    send(&server.addr, "POST", path, token, "application/json", body.to_string().as_bytes())
}

fn upload(server: &Server, token: &str, name: &str, bytes: &[u8]) -> Option<(u16, String)> {
    let boundary = "sitrep-disk-full-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    send(&server.addr, "POST", "/api/v1/incidents/INC-1/evidence", token, &content_type, &body)
}

fn assert_verifies(data: &Path) {
    let output = Command::new(BIN).args(["verify", "--data"]).arg(data).output().expect("verify runs");
    assert!(output.status.success(), "the record verifies: {}", String::from_utf8_lossy(&output.stdout));
}

/// How many entries of `kind` the incident's record holds.
fn count(server: &Server, token: &str, kind: &str) -> usize {
    let (status, body) =
        send(&server.addr, "GET", "/api/v1/incidents/INC-1/record", token, "application/json", b"").expect("answers");
    assert_eq!(status, 200, "{body}");
    let record: Value = serde_json::from_str(&body).expect("the record is JSON");
    record["entries"].as_array().expect("entries").iter().filter(|entry| entry["kind"] == kind).count()
}

/// Writes while the disk is full, then frees it and writes again.
fn full_disk_story(disk: &SmallDisk, server: &mut Server, token: &str) {
    let declared = post_json(server, token, "/api/v1/incidents", json!({"title": "Full disk", "severity": "sev2"}));
    assert_eq!(declared.map(|(status, _)| status), Some(201));
    let filler = disk.fill();

    // Every write is answered, sequential or concurrent: 507, naming storage.
    let shared: &Server = server;
    let answers: Vec<Option<(u16, String)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..16)
            .map(|i| {
                scope.spawn(move || {
                    let text = format!("written while the disk is full {i} {}", "x".repeat(400));
                    post_json(shared, token, "/api/v1/incidents/INC-1/facts", json!({ "text": text }))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a writer thread")).collect()
    });
    for answer in &answers {
        let (status, body) = answer.as_ref().expect("every request gets an answer");
        assert_eq!(*status, 507, "{body}");
        assert!(body.contains("storage is full"), "{body}");
    }
    let (ready, body) = http_get(&server.addr, "/readyz").expect("readyz answers");
    assert_eq!(ready, 200, "the writer lives on: {body}");

    // Evidence: 507 naming storage, nothing registered, nothing left in incoming/.
    let (status, body) = upload(server, token, "memory.dmp", &vec![7u8; 256 * 1024]).expect("an answer");
    assert_eq!(status, 507, "{body}");
    assert!(body.contains("storage is full"), "{body}");
    let incoming = server.data.join("blobs").join("incoming");
    let left = std::fs::read_dir(&incoming).map(|dir| dir.count()).unwrap_or(0);
    assert_eq!(left, 0, "the partial upload was removed from {}", incoming.display());

    // Space is freed: writes succeed, without a restart.
    std::fs::remove_file(filler).expect("the filler is removed");
    for i in 0..5 {
        let written =
            post_json(server, token, "/api/v1/incidents/INC-1/facts", json!({ "text": format!("after {i}") }));
        assert_eq!(written.map(|(status, _)| status), Some(201), "write {i} after space was freed");
    }
    let (status, body) = upload(server, token, "memory.dmp", b"a small dump").expect("an answer");
    assert_eq!(status, 201, "{body}");

    // Exactly what was acknowledged is in the record, and it verifies.
    assert_eq!(count(server, token, "fact.logged"), 5, "the five facts written after space was freed, no others");
    assert_eq!(count(server, token, "evidence.registered"), 1);
    let status = server.terminate();
    assert!(status.success(), "a clean stop: {status:?}");
    assert_verifies(&server.data);
}

#[test]
fn a_full_disk_with_the_log_on_it_refuses_writes_and_recovers_when_space_is_freed() {
    let Some(disk) = SmallDisk::mount() else { return };
    // The logs and the data directory both on the small disk.
    let dir = tempfile::tempdir_in(&disk.mount).expect("a directory on the small disk");
    let data = dir.path().join("data");
    let (mut server, token) = Server::init_in(dir, data, "root");
    full_disk_story(&disk, &mut server, &token);
}

#[test]
fn a_full_disk_with_the_log_elsewhere_refuses_writes_and_recovers_when_space_is_freed() {
    let Some(disk) = SmallDisk::mount() else { return };
    let logs = tempfile::tempdir().expect("a directory for the logs");
    let (mut server, token) = Server::init_in(logs, disk.mount.join("data"), "root");
    full_disk_story(&disk, &mut server, &token);
}
