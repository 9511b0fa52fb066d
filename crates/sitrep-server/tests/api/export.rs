//! Signed checkpoints and export bundles over HTTP: what a bundle holds, who may export, the
//! custody entries an export of evidence files writes, and evidence that no longer matches its
//! hash. Bundles are verified with `sitrep_core::bundle`, the code `sitrep verify-bundle` runs.

use std::collections::BTreeMap;
use std::io::Read;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sitrep_core::bundle::{Options, Verified, verify_bytes};
use sitrep_core::checkpoint::{Checkpoint, VerifyingKey, parse, parse_public_key};

use crate::helpers::*;

/// The deployment's public key, as `sitrep init` wrote it.
fn public_key(app: &TestApp) -> VerifyingKey {
    let text = std::fs::read_to_string(app.data.join("deployment.pub")).expect("deployment.pub");
    parse_public_key(&text).expect("a public key")
}

/// POSTs an export and returns the tar bytes, asserting 200 and the headers.
async fn export(app: &TestApp, who: &str, incident: &str, body: Value) -> Vec<u8> {
    let response = app.post(who, &format!("/api/v1/incidents/{incident}/export"), body.clone()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("the bundle").to_vec();
    assert_eq!(status, StatusCode::OK, "export {body} as {who}: {}", String::from_utf8_lossy(&bytes));
    assert_eq!(headers["content-type"], "application/x-tar");
    assert_eq!(headers["content-length"].to_str().expect("a length"), bytes.len().to_string());
    let disposition = headers["content-disposition"].to_str().expect("a disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    bytes
}

/// The members of a tar archive, read with the `tar` crate, as any tar reader would.
fn members(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(bytes);
    let mut found = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a member");
        let name = entry.path().expect("a name").display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("its contents");
        found.insert(name, data);
    }
    found
}

fn verify(app: &TestApp, bytes: &[u8]) -> Verified {
    verify_bytes(bytes, &Options { key: Some(public_key(app)), earlier: None })
        .unwrap_or_else(|failure| panic!("the bundle does not verify: {failure}"))
}

/// An incident with two facts and two evidence files; returns its id and the files' hashes.
async fn incident_with_evidence(app: &TestApp, restricted: bool) -> (String, Vec<String>) {
    let id = app.standard_incident("Leaked key", restricted).await;
    for text in ["Key found in a public gist", "Key used from 203.0.113.7"] {
        app.post_ok(RESPONDER, &format!("/api/v1/incidents/{id}/facts"), json!({"text": text}), StatusCode::CREATED)
            .await;
    }
    let mut hashes = Vec::new();
    for (name, bytes) in [("gist.txt", b"AKIA... in a gist".as_slice()), ("trail.json", b"{\"events\":[1,2,3]}")] {
        hashes.push(app.evidence(RESPONDER, &id, name, bytes).await["sha256"].as_str().expect("a hash").to_owned());
    }
    (id, hashes)
}

#[tokio::test]
async fn a_bundle_holds_the_record_as_served_the_policy_and_the_checkpoint_at_its_head() {
    let app = spawn_app().await;
    let (id, hashes) = incident_with_evidence(&app, false).await;
    let bytes = export(&app, RESPONDER, &id, json!({})).await;
    let verified = verify(&app, &bytes);
    let served = app.record(RESPONDER, &id).await;
    assert_eq!((verified.size, verified.entries, verified.excerpt), (served.len() as u64, served.len() as u64, false));
    assert_eq!((verified.evidence, verified.blobs), (2, 0));
    assert_eq!(verified.policy_as_declared, Some(true));

    let files = members(&bytes);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["bundle.json", "checkpoint", "policy.toml", "record.jsonl"],
        "no evidence files unless asked for"
    );
    // Each line is the entry exactly as GET /record serves it.
    let lines: Vec<Value> = String::from_utf8(files["record.jsonl"].clone())
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines, served);
    let policy = app.get_json(RESPONDER, "/api/v1/policy").await;
    assert_eq!(files["policy.toml"], policy["source"].as_str().expect("the policy's source").as_bytes());
    let manifest: Value = serde_json::from_slice(&files["bundle.json"]).expect("JSON");
    assert_eq!(manifest["incident"], id.as_str());
    assert_eq!(manifest["entries"], served.len());
    let listed: Vec<&str> = manifest["evidence"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["sha256"].as_str().expect("a hash"))
        .collect();
    assert_eq!(listed, hashes);
    assert!(manifest["evidence"].as_array().expect("a list").iter().all(|i| i["included"] == false));

    // The checkpoint route signs the same head: the same origin, size and root, and Ed25519 is
    // deterministic, so the same text but for the bundle's one extension line (the SHA-256 of
    // its bundle.json) and the signature over it.
    let response = app.get(AUDITOR, &format!("/api/v1/incidents/{id}/checkpoint")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("a type").starts_with("text/plain"));
    let text = response.text().await.expect("the checkpoint");
    let checkpoint = parse(&text).expect("a signed note");
    checkpoint.verify(&verified.key_name, &public_key(&app)).expect("signed by the deployment's key");
    assert_eq!(checkpoint.checkpoint.size, served.len() as u64);
    assert!(checkpoint.checkpoint.origin.ends_with(&format!("/{id}")));
    assert_eq!(checkpoint.checkpoint.manifest, None, "a checkpoint on its own vouches for no manifest");
    let bundled = std::str::from_utf8(&files["checkpoint"]).expect("UTF-8");
    let manifest_line = format!("bundle.json sha256 {}", hex::encode(Sha256::digest(&files["bundle.json"])));
    let (head, signature) = text.split_once("\n\n").expect("a blank line");
    assert!(bundled.starts_with(&format!("{head}\n{manifest_line}\n\n")), "{bundled}");
    assert!(!bundled.ends_with(signature), "the bundle's signature covers its extension line too");
    let bundled = parse(bundled).expect("a signed note");
    assert_eq!(bundled.checkpoint, Checkpoint { manifest: bundled.checkpoint.manifest, ..checkpoint.checkpoint });
}

#[tokio::test]
async fn exporting_evidence_files_is_a_recorded_download_signed_after_it() {
    let app = spawn_app().await;
    let (id, hashes) = incident_with_evidence(&app, false).await;
    let before = app.record(LEGAL, &id).await.len();
    let bytes = export(&app, LEGAL, &id, json!({"blobs": true, "purpose": "for the regulator"})).await;
    let verified = verify(&app, &bytes);
    assert_eq!((verified.evidence, verified.blobs), (2, 2));

    let record = app.record(LEGAL, &id).await;
    let custody: Vec<&Value> = record[before..].iter().collect();
    assert_eq!(custody.len(), 2, "one custody entry per exported file");
    for (entry, sha256) in custody.iter().zip(&hashes) {
        assert_eq!(entry["kind"], "evidence.accessed");
        assert_eq!(entry["actor"], LEGAL);
        assert_eq!(entry["body"]["sha256"], sha256.as_str());
        assert_eq!(entry["body"]["purpose"], "export: for the regulator");
    }
    // The checkpoint covers the custody entries the export itself wrote.
    assert_eq!(verified.size, record.len() as u64);
    let files = members(&bytes);
    assert_eq!(files[&format!("blobs/{}", hashes[0])], b"AKIA... in a gist");
    let custody_view = app.get_json(LEGAL, &format!("/api/v1/incidents/{id}/evidence")).await;
    let item = &custody_view["evidence"][0];
    assert_eq!(item["custody"][0]["purpose"], "export: for the regulator");
    assert_eq!(item["custody"][0]["by"], LEGAL);
}

#[tokio::test]
async fn only_evidence_readers_export_and_refusals_write_nothing() {
    let app = spawn_app().await;
    let (id, _) = incident_with_evidence(&app, false).await;
    let (hidden, _) = incident_with_evidence(&app, true).await;
    let length = app.record(COMMANDER, &id).await.len();
    let path = format!("/api/v1/incidents/{id}/export");
    let body = json!({"blobs": true, "purpose": "curious"});
    for who in [OUTSIDER, VIEWER, AUDITOR, ADMIN, COMMS] {
        let refused = problem(app.post(who, &path, body.clone()).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["rule"], "actions.evidence", "{who}: {refused}");
    }
    for who in [OUTSIDER, ADMIN, VIEWER] {
        let path = format!("/api/v1/incidents/{hidden}/export");
        problem(app.post(who, &path, json!({})).await, StatusCode::NOT_FOUND).await;
        problem(app.get(who, &format!("/api/v1/incidents/{hidden}/checkpoint")).await, StatusCode::NOT_FOUND).await;
    }
    let anonymous = app.request(reqwest::Method::POST, None, &path).json(&json!({})).send().await.expect("answers");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    for (body, field) in [
        (json!({"blobs": true}), "purpose"),
        (json!({"blobs": true, "purpose": "   "}), "purpose"),
        (json!({"entries": [0]}), "entries"),
        (json!({"entries": [length + 1]}), "entries"),
        (json!({"entries": []}), "entries"),
        (json!({"since": 0}), "since"),
        (json!({"since": length + 1}), "since"),
        (json!({"everything": true}), "everything"),
    ] {
        let refused = problem(app.post(COMMANDER, &path, body.clone()).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], field, "{body}: {refused}");
    }
    assert_eq!(app.record(COMMANDER, &id).await.len(), length, "no refused export wrote an entry");
}

#[tokio::test]
async fn evidence_that_no_longer_matches_its_hash_is_not_exported() {
    let app = spawn_app().await;
    let (id, hashes) = incident_with_evidence(&app, false).await;
    let path = app.data.join("blobs").join("sha256").join(&hashes[1][..2]).join(&hashes[1]);
    let mut permissions = std::fs::metadata(&path).expect("the blob").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&path, permissions).expect("writable");
    let mut bytes = std::fs::read(&path).expect("the blob");
    bytes[3] ^= 0x01;
    std::fs::write(&path, bytes).expect("changed");

    let before = app.record(COMMANDER, &id).await.len();
    let body = json!({"blobs": true, "purpose": "for counsel"});
    problem(
        app.post(COMMANDER, &format!("/api/v1/incidents/{id}/export"), body).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    let record = app.record(COMMANDER, &id).await;
    let kinds: Vec<&str> = record[before..].iter().map(|e| e["kind"].as_str().expect("a kind")).collect();
    assert_eq!(kinds, ["evidence.integrity_failed"], "the failure is recorded and no file was handed out");

    // Without the files, the record (with the failure in it) still exports and verifies.
    let verified = verify(&app, &export(&app, COMMANDER, &id, json!({})).await);
    assert_eq!(verified.size, record.len() as u64);
}

#[tokio::test]
async fn an_excerpt_proves_its_entries_and_a_consistency_proof_links_sizes() {
    let app = spawn_app().await;
    let (id, hashes) = incident_with_evidence(&app, false).await;
    let record = app.record(TECH_LEAD, &id).await;
    let registered = record.iter().position(|e| e["kind"] == "evidence.registered").expect("a registration") + 1;
    let body =
        json!({"entries": [registered, 2, 2], "blobs": true, "purpose": "one item for the regulator", "since": 3});
    let bytes = export(&app, TECH_LEAD, &id, body).await;
    let verified = verify(&app, &bytes);
    assert!(verified.excerpt);
    assert_eq!(verified.seqs, vec![2, registered as u64]);
    assert_eq!((verified.evidence, verified.blobs), (1, 1), "only the excerpt's evidence, and its file");
    assert_eq!(verified.consistency_from, Some(3));
    let files = members(&bytes);
    assert!(files.contains_key("proofs.json"));
    assert_eq!(files.keys().filter(|name| name.starts_with("blobs/")).count(), 1);
    assert!(files.contains_key(&format!("blobs/{}", hashes[0])));
    // One custody entry: only the excerpt's file was exported.
    let after = app.record(TECH_LEAD, &id).await;
    assert_eq!(after.len(), record.len() + 1);
    assert_eq!(verified.size, after.len() as u64);
}
