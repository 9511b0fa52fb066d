//! Evidence through the real `sitrep` binary against a real `sitrep serve`: uploads streamed
//! from files, the listing with its chain of custody, downloads checked against their hash,
//! `sitrep verify` re-hashing every blob, and a server killed with SIGKILL in the middle of an
//! upload.

use crate::support;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{BIN, Cli, Server, date_in, eventually};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that do not compress and are the same on every run.
fn noise(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// `sitrep user add NAME` and a token for them, as the admin: the client as that person.
fn person(server: &Server, admin: &Cli, name: &str) -> Cli {
    admin.run(&["user", "add", name]).ok();
    let created = admin.run(&["token", "create", "--user", name]);
    server.cli(created.ok().lines().last().expect("the token is printed last"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Where the blob store keeps content with this hash.
fn blob_path(server: &Server, sha256: &str) -> PathBuf {
    server.data.join("blobs").join("sha256").join(&sha256[..2]).join(sha256)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() { files_under(&path) } else { vec![path] }
        })
        .collect()
}

/// `sitrep verify --data DIR [--json]`: the exit code and stdout.
fn verify(server: &Server, json: bool) -> (Option<i32>, String) {
    let mut command = Command::new(BIN);
    command.args(["verify", "--data", path_str(&server.data)]).env_remove("SITREP_DATA");
    if json {
        command.arg("--json");
    }
    let output = command.output().expect("sitrep verify runs");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Flips one bit of a stored blob the way an operator with a shell would: blobs are read-only.
fn flip_a_byte(path: &Path, at: u64) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod u+w");
    let mut bytes = std::fs::read(path).expect("the blob reads");
    bytes[at as usize] ^= 0x01;
    std::fs::write(path, bytes).expect("the blob is rewritten");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o400)).expect("chmod back");
}

#[test]
fn evidence_goes_up_and_comes_back_through_the_cli_with_its_custody_trail() {
    let (server, admin_token) = Server::init("root");
    let root = server.cli(&admin_token);
    let lena = person(&server, &root, "lena");
    let eve = person(&server, &root, "eve");
    root.run(&["declare", "Ransomware on a file server", "--severity", "sev1", "--role", "legal=lena"]).ok();

    let work = tempfile::tempdir().expect("a temporary directory");
    let trail = br#"{"Records":[{"eventName":"GetObject","sourceIPAddress":"203.0.113.50"}]}"#.to_vec();
    let image = noise(5 * 1024 * 1024 + 17, 1);
    let files: [(&str, &[u8]); 3] = [("cloudtrail.json", &trail), ("empty.log", b""), ("disk.img", &image)];
    for (name, bytes) in files {
        std::fs::write(work.path().join(name), bytes).expect("the file is written");
    }
    let file = |name: &str| work.path().join(name).to_str().expect("UTF-8").to_owned();

    // Each upload prints what the server registered, which is what the file hashes to.
    let collected = date_in(-1);
    let added = root.run(&[
        "evidence",
        "add",
        "INC-1",
        &file("cloudtrail.json"),
        "--source",
        "AWS CloudTrail, us-east-1",
        "--collected-by",
        "tom",
        "--collected-at",
        &format!("{collected}T03:10:00Z"),
    ]);
    assert_eq!(
        added.ok(),
        format!("Added cloudtrail.json to INC-1: {} bytes, sha256 {}.\n", trail.len(), sha256(&trail))
    );
    let empty = root.run(&["evidence", "add", "INC-1", &file("empty.log")]);
    assert_eq!(empty.ok(), format!("Added empty.log to INC-1: 0 bytes, sha256 {}.\n", sha256(b"")));
    let item = root.run(&["--json", "evidence", "add", "INC-1", &file("disk.img"), "--source", "host fs01"]).json();
    assert_eq!(item["sha256"], sha256(&image));
    assert_eq!(item["size"], image.len());
    assert_eq!(item["name"], "disk.img");
    assert_eq!(item["source"], "host fs01");
    assert_eq!(item["registered_by"], "root");
    assert!(item["custody"].as_array().is_some_and(Vec::is_empty), "{item:#}");

    // The name recorded is metadata: a path in it names no file anywhere.
    let odd = root.run(&["evidence", "add", "INC-1", &file("cloudtrail.json"), "--name", "../../etc/passwd"]);
    let refused = odd.fails(5);
    assert!(refused.contains("already"), "identical content is registered once: {refused}");
    std::fs::write(work.path().join("notes.txt"), b"ssh from 198.51.100.7 at 02:51\n").expect("written");
    root.run(&["evidence", "add", "INC-1", &file("notes.txt"), "--name", "../../etc/passwd"]).ok();

    // Mistakes are caught before anything is sent.
    let late = root.run(&["evidence", "add", "INC-1", &file("disk.img"), "--collected-at", "yesterday"]);
    assert!(late.fails(2).contains("--collected-at yesterday"), "{}", late.stderr);
    let missing = root.run(&["evidence", "add", "INC-1", &file("no-such-file")]);
    assert!(missing.fails(2).contains("no-such-file"), "{}", missing.stderr);
    let folder = root.run(&["evidence", "add", "INC-1", path_str(work.path())]);
    assert!(folder.fails(2).contains("not a regular file"), "{}", folder.stderr);

    // The listing, with every item's provenance and (so far empty) custody trail.
    let listing = root.run(&["evidence", "list", "INC-1"]);
    let text = listing.ok();
    for (name, bytes) in files {
        let line = text.lines().find(|l| l.starts_with(&sha256(bytes))).unwrap_or_else(|| panic!("{name}:\n{text}"));
        assert!(line.contains(name) && line.contains(&format!(" {} B", bytes.len())), "{line}");
    }
    let provenance = format!("source: AWS CloudTrail, us-east-1 · collected by tom at {collected}T03:10:00");
    assert!(text.contains(&provenance), "{text}");
    assert_eq!(text.matches("custody: not accessed since it was registered").count(), 4, "{text}");

    // Downloads: each asks why, is written only when it hashes right, and joins the trail.
    let out = tempfile::tempdir().expect("a temporary directory");
    let target = out.path().join("disk.img");
    let image_sha = sha256(&image);
    let got = lena.run(&[
        "evidence",
        "get",
        "INC-1",
        &image_sha,
        "--purpose",
        "Look for the encryptor",
        "-o",
        path_str(&target),
    ]);
    assert_eq!(
        got.ok(),
        format!("Saved {image_sha} from INC-1 to {}: {} bytes, sha256 checked.\n", target.display(), image.len())
    );
    let written = std::fs::read(&target).expect("the download is there");
    assert_eq!(sha256(&written), image_sha, "the file written is the file uploaded");
    let again = lena.run(&["evidence", "get", "INC-1", &image_sha, "--purpose", "again", "-o", path_str(&target)]);
    assert!(again.fails(2).contains("--force"), "an existing file is not overwritten: {}", again.stderr);
    let forced = lena.run(&[
        "--json",
        "evidence",
        "get",
        "INC-1",
        &image_sha.to_uppercase(),
        "--purpose",
        "Hand to the forensic firm",
        "-o",
        path_str(&target),
        "--force",
    ]);
    let forced = forced.json();
    assert_eq!(forced["sha256"], image_sha);
    assert_eq!(forced["size"], image.len());
    assert_eq!(forced["verified"], true);

    // Without -o, the file is named after the item, made safe, in the current directory.
    let notes_sha = sha256(b"ssh from 198.51.100.7 at 02:51\n");
    let here = lena.in_dir(out.path()).run(&["evidence", "get", "INC-1", &notes_sha, "--purpose", "timeline"]);
    assert!(here.ok().contains(" to passwd: "), "{}", here.stdout);
    assert_eq!(std::fs::read(out.path().join("passwd")).expect("written here"), b"ssh from 198.51.100.7 at 02:51\n");
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .expect("the directory lists")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["disk.img", "passwd"], "nothing else, no leftover temporary file");

    let unknown = lena.run(&["evidence", "get", "INC-1", &"0".repeat(64), "--purpose", "x", "-o", "/nonexistent/x"]);
    assert!(unknown.fails(2).contains("/nonexistent"), "the target is checked before anything is asked");
    let unknown = lena.in_dir(out.path()).run(&["evidence", "get", "INC-1", &"0".repeat(64), "--purpose", "x"]);
    assert!(unknown.fails(4).contains("has no evidence"), "{}", unknown.stderr);
    let unknown =
        lena.in_dir(out.path()).run(&["evidence", "get", "INC-1", &"0".repeat(64), "--purpose", "x", "-o", "x"]);
    unknown.fails(4);
    lena.in_dir(out.path()).run(&["evidence", "get", "INC-1", "abc", "--purpose", "x"]).fails(2);
    lena.in_dir(out.path()).run(&["evidence", "get", "INC-1", &image_sha, "--purpose", " ", "-o", "x"]).fails(2);

    // The trail: who, when and why, in order; the refused attempt is not in it.
    let listed = root.run(&["--json", "evidence", "list", "INC-1"]).json();
    let image_item = listed["evidence"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["sha256"] == image_sha.as_str()))
        .expect("the image is listed");
    let trail_of: Vec<(&str, &str)> = image_item["custody"]
        .as_array()
        .expect("a custody array")
        .iter()
        .map(|c| (c["by"].as_str().unwrap_or_default(), c["purpose"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(trail_of, [("lena", "Look for the encryptor"), ("lena", "Hand to the forensic firm")]);
    let text = root.run(&["evidence", "list", "INC-1"]);
    assert!(text.ok().contains(" lena: Hand to the forensic firm"), "{}", text.stdout);

    // Someone without an evidence role learns nothing, names included.
    assert!(eve.run(&["evidence", "list", "INC-1"]).fails(3).contains("actions.evidence"));
    eve.in_dir(out.path())
        .run(&["evidence", "get", "INC-1", &image_sha, "--purpose", "curious", "-o", "unused"])
        .fails(3);
    eve.run(&["evidence", "add", "INC-1", &file("cloudtrail.json")]).fails(3);
    assert_eq!(std::fs::read_dir(out.path()).expect("lists").count(), 2, "the refused downloads left nothing");

    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("; 4 evidence blobs match their hashes"), "{output}");
}

#[test]
fn verify_rehashes_every_blob_and_names_the_one_that_changed() {
    let (server, admin_token) = Server::init("root");
    let root = server.cli(&admin_token);
    root.run(&["declare", "Suspicious logins", "--severity", "sev3"]).ok();
    root.run(&["declare", "Phishing wave", "--severity", "sev3"]).ok();
    let work = tempfile::tempdir().expect("a temporary directory");
    let trail = noise(300_000, 2);
    let mail = b"From: ceo@examp1e.com\nSubject: urgent wire\n".to_vec();
    std::fs::write(work.path().join("cloudtrail.json"), &trail).expect("written");
    std::fs::write(work.path().join("phish.eml"), &mail).expect("written");
    let add = |incident: &str, name: &str| {
        let path = work.path().join(name);
        root.run(&["evidence", "add", incident, path_str(&path)]).ok().to_owned()
    };
    add("INC-1", "cloudtrail.json");
    add("INC-2", "phish.eml");
    // The same content on another incident is stored once and checked once.
    add("INC-2", "cloudtrail.json");
    assert_eq!(files_under(&server.data.join("blobs").join("sha256")).len(), 2);

    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.ends_with("; 2 evidence blobs match their hashes\n"), "{output}");
    let (code, output) = verify(&server, true);
    assert_eq!(code, Some(0), "{output}");
    let answer: Value = serde_json::from_str(&output).expect("JSON");
    assert_eq!((answer["ok"].clone(), answer["blobs"].clone()), (Value::Bool(true), Value::from(2)));

    // One bit of the CloudTrail export changes on disk.
    let trail_sha = sha256(&trail);
    flip_a_byte(&blob_path(&server, &trail_sha), 4096);
    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(1), "{output}");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 2, "both registrations of the blob are named: {output}");
    for (line, incident) in lines.iter().zip(["INC-1", "INC-2"]) {
        assert!(line.starts_with(&format!("BROKEN: {incident} seq ")), "{line}");
        assert!(
            line.contains(&format!(" evidence {trail_sha} (cloudtrail.json): the stored blob does not match its hash")),
            "{line}"
        );
    }
    let (code, output) = verify(&server, true);
    assert_eq!(code, Some(1), "{output}");
    let answer: Value = serde_json::from_str(&output).expect("JSON");
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["record"], "INC-1");
    assert_eq!(answer["sha256"], trail_sha);
    assert_eq!(answer["name"], "cloudtrail.json");
    assert!(answer["reason"].as_str().is_some_and(|r| r.contains("does not match its hash")), "{answer}");

    // The server refuses to serve it, says why, and the failure joins the item's record.
    let out = tempfile::tempdir().expect("a temporary directory");
    let target = out.path().join("trail.json");
    let refused = root.run(&["evidence", "get", "INC-1", &trail_sha, "--purpose", "review", "-o", path_str(&target)]);
    assert!(refused.fails(8).contains("does not match its hash"), "{}", refused.stderr);
    assert!(!target.exists(), "nothing is written");
    let listing = root.run(&["evidence", "list", "INC-1"]);
    assert!(listing.ok().contains("INTEGRITY FAILURE"), "{}", listing.stdout);

    // A blob that goes missing, and a stray file no record names, are named too.
    let mail_sha = sha256(&mail);
    let mail_blob = blob_path(&server, &mail_sha);
    std::fs::remove_file(&mail_blob).expect("the blob is removed");
    let stray = blob_path(&server, &"ab".repeat(32));
    std::fs::create_dir_all(stray.parent().expect("a shard")).expect("the shard is made");
    std::fs::write(&stray, b"not what the name says").expect("written");
    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(1), "{output}");
    let gone = output.lines().find(|l| l.contains(&mail_sha)).unwrap_or_else(|| panic!("{output}"));
    assert!(gone.starts_with("BROKEN: INC-2 seq "), "{gone}");
    assert!(gone.ends_with(&format!(" evidence {mail_sha} (phish.eml): the blob is missing from the store")), "{gone}");
    assert!(
        output.contains(&format!(
            "BROKEN: blob store: blob {} (named by no record): the stored blob does not match",
            "ab".repeat(32)
        )),
        "{output}"
    );
}

/// The request line, headers and opening of a multipart upload of one `length`-byte file; the
/// closing boundary that would end it.
fn upload_head(server: &Server, token: &str, length: u64) -> (String, String) {
    let boundary = "sitrep-crash-test-7f3a";
    let part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nmemory capture\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"memory.dmp\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let total = part.len() as u64 + length + tail.len() as u64;
    let head = format!(
        "POST /api/v1/incidents/INC-1/evidence HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {total}\r\n\
         Connection: close\r\n\r\n{part}",
        server.addr
    );
    (head, tail)
}

#[test]
fn sigkill_during_an_upload_leaves_no_partial_blob_registered_or_stored() {
    let (server, admin_token) = Server::init("root");
    let root = server.cli(&admin_token);
    root.run(&["declare", "Memory capture of a compromised host", "--severity", "sev2"]).ok();
    let work = tempfile::tempdir().expect("a temporary directory");
    let small = work.path().join("before.txt");
    std::fs::write(&small, b"registered before the crash\n").expect("written");
    root.run(&["evidence", "add", "INC-1", path_str(&small)]).ok();

    // 50 MiB, sent slowly from a raw socket: 64 KiB every 5 ms, so well under way but far from
    // done when the server dies.
    const LENGTH: u64 = 50 * 1024 * 1024;
    let capture = noise(LENGTH as usize, 3);
    let capture_sha = sha256(&capture);
    let (head, _tail) = upload_head(&server, &admin_token, LENGTH);
    let mut socket = TcpStream::connect(&server.addr).expect("the server accepts");
    socket.write_all(head.as_bytes()).expect("the head is sent");
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let sender = std::thread::spawn(move || {
        for chunk in capture.chunks(64 * 1024) {
            if socket.write_all(chunk).is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    // The server is writing the upload into incoming/ when it is killed.
    let incoming = server.data.join("blobs").join("incoming");
    eventually("the upload to be streaming into incoming/", || {
        let partial = files_under(&incoming).into_iter().next()?;
        (std::fs::metadata(&partial).ok()?.len() >= 4 * 1024 * 1024).then_some(())
    });
    let mut server = server;
    let killed = server.kill_hard();
    assert!(!killed.success(), "the server died of SIGKILL: {killed}");
    let _ = sender.join();
    assert!(sent.load(Ordering::SeqCst) < LENGTH, "the upload was cut off, not completed");
    assert_eq!(files_under(&incoming).len(), 1, "the killed server left its partial upload behind");
    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(0), "the dead server's data directory verifies: {output}");
    assert!(output.contains("; 1 evidence blob matches its hash"), "{output}");

    // After the restart: the partial upload is gone, nothing was stored or registered.
    let server = server.restart();
    assert_eq!(files_under(&incoming), Vec::<PathBuf>::new(), "incoming/ is emptied at start");
    let stored = files_under(&server.data.join("blobs").join("sha256"));
    assert_eq!(stored, [blob_path(&server, &sha256(b"registered before the crash\n"))], "only the earlier blob");
    let root = server.cli(&admin_token);
    let listed = root.run(&["--json", "evidence", "list", "INC-1"]).json();
    let names: Vec<&str> =
        listed["evidence"].as_array().into_iter().flatten().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["before.txt"], "{listed:#}");
    let record = root.run(&["record", "INC-1"]);
    assert_eq!(record.ok().matches("evidence.registered").count(), 1, "{}", record.stdout);
    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(0), "{output}");

    // The same content uploads completely once the server is back.
    let whole = work.path().join("memory.dmp");
    std::fs::write(&whole, noise(LENGTH as usize, 3)).expect("written");
    let added = root.run(&["evidence", "add", "INC-1", path_str(&whole)]);
    assert!(added.ok().contains(&capture_sha), "{}", added.stdout);
    let (code, output) = verify(&server, false);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("; 2 evidence blobs match their hashes"), "{output}");
}

#[test]
fn an_upload_over_the_limit_is_refused_and_nothing_is_kept() {
    let (server, admin_token) = Server::init_with_config("root", "max_evidence_bytes = 1048576\n");
    let root = server.cli(&admin_token);
    root.run(&["declare", "Exfiltration over DNS", "--severity", "sev2"]).ok();
    let work = tempfile::tempdir().expect("a temporary directory");
    // Far over (refused from its announced length) and just over (refused as it streams).
    for (name, length) in [("pcap-far-over.pcap", 8 * 1024 * 1024), ("pcap-just-over.pcap", 1024 * 1024 + 1)] {
        let path = work.path().join(name);
        std::fs::write(&path, noise(length, 4)).expect("written");
        let refused = root.run(&["evidence", "add", "INC-1", path_str(&path)]);
        assert!(refused.fails(6).contains("limit"), "{name}: {}", refused.stderr);
    }
    let at_limit = work.path().join("at-limit.pcap");
    std::fs::write(&at_limit, noise(1024 * 1024, 5)).expect("written");
    root.run(&["evidence", "add", "INC-1", path_str(&at_limit)]).ok();

    let listed = root.run(&["--json", "evidence", "list", "INC-1"]).json();
    let names: Vec<&str> =
        listed["evidence"].as_array().into_iter().flatten().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["at-limit.pcap"]);
    assert_eq!(files_under(&server.data.join("blobs").join("sha256")).len(), 1, "only the accepted file is stored");
    assert_eq!(files_under(&server.data.join("blobs").join("incoming")), Vec::<PathBuf>::new(), "nothing left over");
}
