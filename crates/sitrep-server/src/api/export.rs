//! Signed checkpoints and export bundles.
//!
//! A checkpoint is the deployment's signature over an incident record's Merkle root and size
//! (`sitrep_core::checkpoint`); a bundle is one tar file with the record, the policy in force,
//! the evidence manifest (and, when asked, the evidence files), the signed checkpoint at the
//! record's head and the public key (`sitrep_core::bundle`). Evidence files in a bundle are
//! downloads: each gets its custody entry, and is re-hashed, before the checkpoint that covers
//! those entries is signed. The archive is streamed from a blocking task, so a bundle of many
//! gigabytes needs no more memory than its record.

use std::io::{self, Read, Write};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sitrep_core::bundle::{self, Contents, Member, Scope};
use sitrep_core::checkpoint::{self, Checkpoint};
use sitrep_core::decide::IncidentCommand;
use sitrep_core::entry::Entry;
use sitrep_core::{IncidentNumber, IncidentView, RecordId, UserName, merkle};
use sitrep_store::Request;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::evidence::{check_integrity, dry_run};
use super::incident_number;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;

/// Entries read from the store per query.
const PAGE: usize = 10_000;
/// Bytes handed to the response per chunk.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// Include the evidence files; each is recorded in its chain of custody (needs `purpose`).
    #[serde(default)]
    blobs: bool,
    /// Why the evidence files are exported: recorded as `export: <purpose>` for each.
    purpose: Option<String>,
    /// Export only these entries (an excerpt), each with an inclusion proof.
    entries: Option<Vec<u64>>,
    /// Add a consistency proof from the record's first `since` entries to its head.
    #[schema(maximum = 9007199254740991_u64)]
    since: Option<u64>,
}

/// The whole record of an incident from `from` on, in seq order.
async fn read_record(app: &AppState, number: IncidentNumber, from: u64) -> Result<Vec<Entry>, ApiError> {
    let store = app.ledger.store().clone();
    tokio::task::spawn_blocking(move || {
        let mut entries: Vec<Entry> = Vec::new();
        let mut next = from;
        loop {
            let page = store.read(RecordId::Incident(number), next, PAGE)?;
            let full = page.len() == PAGE;
            if let Some(last) = page.last() {
                next = last.seq + 1;
            }
            entries.extend(page);
            if !full {
                return Ok(entries);
            }
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Refuses to sign a record that does not verify: a signature must never vouch for a break.
fn check_chain(number: IncidentNumber, record: &[Entry]) -> Result<(), ApiError> {
    sitrep_core::chain::verify_entries(RecordId::Incident(number), record).map_err(|broken| {
        tracing::error!(%broken, "a record to be signed does not verify");
        ApiError::Integrity(format!("{broken}; nothing was signed. Run `sitrep verify` on the data directory"))
    })
}

/// The signed checkpoint over `record`, the whole record of `number`.
pub fn sign(app: &AppState, number: IncidentNumber, record: &[Entry]) -> Result<String, ApiError> {
    let deployment = app.ledger.org().deployment;
    let leaves: Vec<merkle::Hash> = record.iter().map(|entry| merkle::leaf_hash(&entry.hash.0)).collect();
    let checkpoint = Checkpoint {
        origin: checkpoint::origin(deployment, number),
        size: record.len() as u64,
        root: merkle::root(&leaves),
        // Served on its own, a checkpoint vouches for no bundle's manifest.
        manifest: None,
    };
    checkpoint.sign(&checkpoint::key_name(deployment), &app.signing_key).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The signed checkpoint at the record's head: origin, size and Merkle root, signed by the
/// deployment's key (a C2SP signed note).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/checkpoint", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The checkpoint, `text/plain`: origin, tree size, base64 root, a blank line, `— <key name> <base64(key id ‖ Ed25519 signature)>` (docs/record-format.md)", content_type = "text/plain"),
        (status = 404, body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn checkpoint(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let record = read_record(&app, number, 1).await?;
    check_chain(number, &record)?;
    let text = sign(&app, number, &record)?;
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&record.len().to_string()) {
        headers.insert("x-sitrep-seq", value);
    }
    Ok(response)
}

/// Export the incident as one signed, offline-verifiable bundle (a tar archive): the record (or
/// chosen entries with inclusion proofs), the policy in force, the evidence manifest, the
/// signed checkpoint and the public key; with `blobs`, the evidence files too, each first
/// recorded in its chain of custody and re-hashed.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/export", tag = "incidents", request_body = Option<ExportBody>,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The bundle, `application/x-tar`, as an attachment (docs/record-format.md)", content_type = "application/x-tar"),
        (status = 403, description = "The policy's evidence rule does not allow you", body = Problem),
        (status = 404, body = Problem), (status = 422, description = "blobs without purpose, or seqs the record does not have", body = Problem),
        (status = 500, description = "An evidence file does not match its hash; nothing was exported", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    Body { value: body, .. }: Body<ExportBody>,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    export_bundle(&app, &caller.user, number, body).await
}

/// The export itself, for the API and the command view's download alike: the same checks, the
/// same custody entries, the same signed archive.
pub async fn export_bundle(
    app: &AppState,
    user: &UserName,
    number: IncidentNumber,
    body: ExportBody,
) -> Result<Response, ApiError> {
    let org = app.ledger.org();
    let now = app.now();
    let allowed = app.ledger.with_incident(number, |state| {
        IncidentView::of(state, &org, user, now).map(|view| {
            if view.evidence_reader() {
                Ok(())
            } else {
                Err(ApiError::Forbidden {
                    rule: "actions.evidence".into(),
                    message: format!(
                        "an export lists the evidence of {}, which is for {} only",
                        state.id,
                        org.policy.actions.evidence.describe()
                    ),
                })
            }
        })
    });
    allowed.flatten().ok_or_else(|| ApiError::NotFound(format!("there is no incident {number}")))??;
    let purpose = body.purpose.as_deref().map(str::trim).unwrap_or_default();
    if body.blobs && purpose.is_empty() {
        return Err(ApiError::invalid(
            "purpose",
            "say why the evidence files are exported; it goes in each file's chain of custody",
        ));
    }

    let mut record = read_record(app, number, 1).await?;
    // The scope is checked before anything is recorded; the record only grows, so it still
    // holds once the custody entries are written.
    let chosen: Option<Vec<u64>> = match &body.entries {
        None => None,
        Some(seqs) => {
            Some(bundle::excerpt_seqs(seqs, record.len() as u64).map_err(|e| ApiError::invalid(e.field, e.message))?)
        }
    };
    if let Some(since) = body.since
        && (since == 0 || since > record.len() as u64)
    {
        return Err(ApiError::invalid(
            "since",
            format!("a consistency proof starts from a size of 1 to {}, not {since}", record.len()),
        ));
    }

    let blobs = match (body.blobs, &chosen) {
        (false, _) => Vec::new(),
        (true, None) => bundle::evidence_of(&record, true),
        (true, Some(seqs)) => bundle::evidence_of(seqs.iter().filter_map(|&seq| record.get(seq as usize - 1)), true),
    };
    if !blobs.is_empty() {
        let commands: Vec<IncidentCommand> = blobs
            .iter()
            .map(|item| IncidentCommand::AccessEvidence {
                sha256: item.sha256.clone(),
                purpose: format!("export: {purpose}"),
            })
            .collect();
        for command in &commands {
            dry_run(app, user, number, command)?;
        }
        for item in &blobs {
            check_integrity(app, number, &item.sha256).await?;
        }
        for command in commands {
            app.ledger.execute(user, Request::Incident { incident: number, command }).await?;
        }
        let after = record.len() as u64 + 1;
        record.extend(read_record(app, number, after).await?);
    }
    check_chain(number, &record)?;
    let scope = Scope { entries: body.entries, since: body.since, blobs: body.blobs };
    let contents = bundle::assemble(org.deployment, number, &record, &org.policy.source, &app.signing_key, &scope)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    Ok(stream(app, number, contents))
}

/// The bundle as a streamed `application/x-tar` attachment of known length.
fn stream(app: &AppState, number: IncidentNumber, contents: Contents) -> Response {
    let length = contents.archive_size();
    let size = contents.manifest.entries;
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(4);
    let blobs = app.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let mut sink = ChannelWriter { sender: sender.clone(), buffer: Vec::with_capacity(CHUNK) };
        let open = |sha256: &str| -> io::Result<Box<dyn Read>> {
            let path = blobs.path(sha256).map_err(|e| io::Error::other(e.to_string()))?;
            Ok(Box::new(std::fs::File::open(path)?))
        };
        let written = write_tar(&contents, open, &mut sink).and_then(|()| sink.flush());
        if let Err(error) = written {
            if error.kind() != io::ErrorKind::BrokenPipe {
                tracing::error!(incident = %number, %error, "the export was cut off");
            }
            let _ = sender.blocking_send(Err(error));
        }
    });
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    }));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{number}.sitrep-bundle.tar\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&size.to_string()) {
        headers.insert("x-sitrep-entries", value);
    }
    response
}

/// A bundle member's header as the `tar` crate writes it; equal, byte for byte, to
/// [`bundle::tar_header`], which verifiers check.
///
/// # Errors
///
/// A name the ustar name field cannot hold.
pub fn tar_header(name: &str, size: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

/// Writes a bundle's archive to `out`, opening evidence files with `open_blob`. Each file is
/// hashed as it is copied; one that is shorter than its size or no longer hashes to its name
/// stops the archive with an error, so no bundle is completed with changed evidence.
///
/// # Errors
///
/// Whatever reading a blob or writing `out` fails with.
pub fn write_tar<W: Write>(
    contents: &Contents,
    mut open_blob: impl FnMut(&str) -> io::Result<Box<dyn Read>>,
    out: W,
) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    for (name, member) in &contents.members {
        let header = tar_header(name, member.size())?;
        match member {
            Member::Bytes(bytes) => builder.append(&header, bytes.as_slice())?,
            Member::Blob { sha256, size } => {
                let reader = Checked {
                    inner: open_blob(sha256)?.take(*size),
                    hasher: Sha256::new(),
                    read: 0,
                    size: *size,
                    sha256: sha256.clone(),
                };
                builder.append(&header, reader)?;
            }
        }
    }
    builder.into_inner()?.flush()
}

/// An evidence file being copied into a bundle: hashed, and checked at its end.
struct Checked {
    inner: io::Take<Box<dyn Read>>,
    hasher: Sha256,
    read: u64,
    size: u64,
    sha256: String,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if self.read != self.size || digest != self.sha256 {
                tracing::error!(sha256 = %self.sha256, actual = %digest, "evidence changed while it was exported");
                return Err(io::Error::other(format!("evidence {} changed while it was exported", self.sha256)));
            }
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// A blocking writer feeding the response body in chunks; fails once the client has gone.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client stopped reading the export"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() { Ok(()) } else { self.send() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tar_crate_writes_exactly_the_canonical_headers() {
        let sha = "ab".repeat(32);
        for name in ["bundle.json", "checkpoint", "record.jsonl", &format!("blobs/{sha}")] {
            for size in [0, 1, 511, 512, 513, 100 << 20, (1 << 33) - 1, 1 << 33, 5 << 40] {
                let ours = bundle::tar_header(name, size).expect("a canonical header");
                let theirs = tar_header(name, size).expect("a tar header");
                assert_eq!(theirs.as_bytes()[..], ours[..], "{name} of {size} bytes");
                assert_eq!(theirs.size().expect("a size"), size);
            }
        }
    }

    #[test]
    fn a_blob_that_changed_stops_the_archive() {
        let data = b"evidence".to_vec();
        let sha = hex::encode(Sha256::digest(&data));
        let contents = Contents {
            manifest: serde_json::from_value(serde_json::json!({
                "format": bundle::FORMAT, "incident": "INC-1", "origin": "o/INC-1", "public_key": "",
                "entries": 0, "excerpt": false, "files": [], "evidence": [], "policy_sha256": "",
                "record_sha256": "",
            }))
            .expect("a manifest"),
            checkpoint: String::new(),
            members: vec![(bundle::blob_member(&sha), Member::Blob { sha256: sha.clone(), size: data.len() as u64 })],
        };
        let mut out = Vec::new();
        let same = data.clone();
        write_tar(&contents, move |_| Ok(Box::new(io::Cursor::new(same.clone()))), &mut out).expect("writes");
        assert_eq!(out.len() as u64, contents.archive_size());
        let changed = |_: &str| -> io::Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(b"evidencE".to_vec()))) };
        assert!(write_tar(&contents, changed, Vec::new()).is_err());
        let short = |_: &str| -> io::Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(b"evid".to_vec()))) };
        assert!(write_tar(&contents, short, Vec::new()).is_err());
    }
}
