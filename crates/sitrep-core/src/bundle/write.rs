//! Making a bundle: the manifest, the checkpoint that signs it, the tar stream.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::*;
use crate::checkpoint::{self, Checkpoint, SigningKey};
use crate::entry::{Entry, EntryHash, canonical_json, sha256_hex};
use crate::ids::IncidentNumber;
use crate::merkle::{self, Hash};

/// What to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only these entries (an excerpt), each with an inclusion proof; `None` for the whole record.
    pub entries: Option<Vec<u64>>,
    /// Include a consistency proof from the tree of this many entries.
    pub since: Option<u64>,
    /// Include the evidence files the bundle's entries register.
    pub blobs: bool,
}

/// A bundle member: bytes made here, or an evidence file the writer streams from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    Bytes(Vec<u8>),
    Blob { sha256: String, size: u64 },
}

impl Member {
    pub fn size(&self) -> u64 {
        match self {
            Member::Bytes(bytes) => bytes.len() as u64,
            Member::Blob { size, .. } => *size,
        }
    }
}

/// A bundle ready to be written: its members in archive order.
#[derive(Debug, Clone)]
pub struct Contents {
    pub manifest: Manifest,
    pub checkpoint: String,
    pub members: Vec<(String, Member)>,
}

impl Contents {
    /// The size of the archive these members make.
    pub fn archive_size(&self) -> u64 {
        archive_size(self.members.iter().map(|(_, member)| member.size()))
    }
}

/// Why a bundle cannot be made as asked; `field` is the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScopeError {
    pub field: &'static str,
    pub message: String,
}

/// An entry as a line of `record.jsonl`: the canonical JSON (RFC 8785) of the entry as the API
/// serves it, hash included.
pub fn record_line(entry: &Entry) -> String {
    let mut line = Vec::new();
    entry.canonical_line_into(&mut line);
    // Every part is UTF-8: JSON strings and the body, which is canonical JSON text.
    String::from_utf8_lossy(&line).into_owned()
}

/// The evidence that `evidence.registered` entries among `entries` name, in seq order.
pub fn evidence_of<'a>(entries: impl IntoIterator<Item = &'a Entry>, included: bool) -> Vec<EvidenceListing> {
    #[derive(Deserialize)]
    struct Registered {
        sha256: String,
        size: u64,
        name: String,
    }
    entries
        .into_iter()
        .filter(|entry| entry.kind == "evidence.registered")
        .filter_map(|entry| serde_json::from_str::<Registered>(&entry.body).ok())
        .map(|r| EvidenceListing { sha256: r.sha256, size: r.size, name: r.name, included })
        .collect()
}

/// The seqs of an excerpt, sorted, each once, each in the record of `size` entries.
pub fn excerpt_seqs(requested: &[u64], size: u64) -> Result<Vec<u64>, ScopeError> {
    if requested.is_empty() {
        return Err(ScopeError { field: "entries", message: "name at least one seq, or leave it out".into() });
    }
    let seqs: BTreeSet<u64> = requested.iter().copied().collect();
    if let Some(bad) = seqs.iter().find(|&&seq| seq == 0 || seq > size) {
        return Err(ScopeError {
            field: "entries",
            message: format!("there is no seq {bad}; the record has 1 to {size}"),
        });
    }
    Ok(seqs.into_iter().collect())
}

/// Makes a bundle of `record` (the whole record, seq 1 to its head), signed with `key`.
///
/// # Errors
///
/// [`ScopeError`] if the scope names seqs or a size the record does not have.
pub fn assemble(
    deployment: Uuid,
    incident: IncidentNumber,
    record: &[Entry],
    policy_source: &str,
    key: &SigningKey,
    scope: &Scope,
) -> Result<Contents, ScopeError> {
    let size = record.len() as u64;
    let leaves: Vec<Hash> = record.iter().map(|entry| merkle::leaf_hash(&entry.hash.0)).collect();
    let root = merkle::root(&leaves);
    let origin = checkpoint::origin(deployment, incident);
    let key_name = checkpoint::key_name(deployment);

    let chosen: Vec<&Entry> = match &scope.entries {
        None => record.iter().collect(),
        Some(requested) => excerpt_seqs(requested, size)?.iter().map(|&seq| &record[seq as usize - 1]).collect(),
    };
    let inclusion = match &scope.entries {
        None => Vec::new(),
        Some(_) => chosen
            .iter()
            .map(|entry| {
                let path = merkle::inclusion_proof(&leaves, entry.seq as usize - 1)
                    .map_err(|e| ScopeError { field: "entries", message: e.to_string() })?;
                Ok(InclusionProof { seq: entry.seq, path: path.into_iter().map(EntryHash).collect() })
            })
            .collect::<Result<_, ScopeError>>()?,
    };
    let consistency = match scope.since {
        None => None,
        Some(old) if old == 0 || old > size => {
            return Err(ScopeError {
                field: "since",
                message: format!("a consistency proof starts from a size of 1 to {size}, not {old}"),
            });
        }
        Some(old) => Some(ConsistencyProof {
            size: old,
            root: EntryHash(merkle::root(&leaves[..old as usize])),
            proof: merkle::consistency_proof(&leaves, old as usize)
                .map_err(|e| ScopeError { field: "since", message: e.to_string() })?
                .into_iter()
                .map(EntryHash)
                .collect(),
        }),
    };
    let evidence = evidence_of(chosen.iter().copied(), scope.blobs);
    let proofs = (!inclusion.is_empty() || consistency.is_some()).then_some(Proofs { inclusion, consistency });

    let mut record_bytes = Vec::new();
    for entry in &chosen {
        entry.canonical_line_into(&mut record_bytes);
        record_bytes.push(b'\n');
    }
    let mut files: Vec<String> = [MANIFEST, CHECKPOINT, POLICY, RECORD].map(str::to_owned).to_vec();
    if proofs.is_some() {
        files.push(PROOFS.to_owned());
    }
    files.extend(evidence.iter().filter(|item| item.included).map(|item| blob_member(&item.sha256)));
    let proofs_bytes = proofs.as_ref().map(canonical_bytes);
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        incident,
        origin: origin.clone(),
        public_key: checkpoint::encode_public_key(&key.verifying_key()),
        entries: chosen.len() as u64,
        excerpt: scope.entries.is_some(),
        files,
        evidence: evidence.clone(),
        policy_sha256: sha256_hex(policy_source.as_bytes()),
        record_sha256: Some(sha256_hex(&record_bytes)),
        proofs_sha256: proofs_bytes.as_deref().map(sha256_hex),
    };
    let manifest_bytes = canonical_bytes(&manifest);
    // The signature covers the manifest, and through its hashes every other member.
    let signed = Checkpoint { origin, size, root, manifest: Some(Sha256::digest(&manifest_bytes).into()) }
        .sign(&key_name, key)
        .map_err(|e| ScopeError { field: "incident", message: e.to_string() })?;
    let mut members = vec![
        (MANIFEST.to_owned(), Member::Bytes(manifest_bytes)),
        (CHECKPOINT.to_owned(), Member::Bytes(signed.clone().into_bytes())),
        (POLICY.to_owned(), Member::Bytes(policy_source.as_bytes().to_vec())),
        (RECORD.to_owned(), Member::Bytes(record_bytes)),
    ];
    if let Some(proofs) = proofs_bytes {
        members.push((PROOFS.to_owned(), Member::Bytes(proofs)));
    }
    for item in evidence.iter().filter(|item| item.included) {
        members.push((blob_member(&item.sha256), Member::Blob { sha256: item.sha256.clone(), size: item.size }));
    }
    Ok(Contents { manifest, checkpoint: signed, members })
}

/// Canonical JSON of the bundle's own structures, which always serialise.
pub(super) fn canonical_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    canonical_json(value).unwrap_or_else(|error| panic!("a bundle part does not serialise: {error}")).into_bytes()
}
