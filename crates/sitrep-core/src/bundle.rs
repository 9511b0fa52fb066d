//! Export bundles: one file an auditor can verify offline, without trusting the server.
//!
//! A bundle is a POSIX ustar archive (`docs/record-format.md`, "Export bundles") holding, in
//! this order:
//!
//! | member | what |
//! |---|---|
//! | `bundle.json` | the manifest ([`Manifest`]), canonical JSON (RFC 8785) |
//! | `checkpoint` | the deployment's signed checkpoint at the record's head ([`crate::checkpoint`]) |
//! | `policy.toml` | the authority policy in force when the bundle was made |
//! | `record.jsonl` | the entries, one canonical JSON object per line, in seq order |
//! | `proofs.json` | inclusion proofs (excerpts) and a consistency proof (when asked for) |
//! | `blobs/<sha256>` | evidence files, when asked for |
//!
//! Every byte of a bundle is checked by [`Reader`] and [`Bundle::verify`]: the archive's
//! headers must be exactly the ones [`tar_header`] makes, padding must be zeros, the JSON
//! members must be in canonical form, every manifest field must agree with the record and the
//! signed checkpoint, and every blob must hash to its name. The signature covers everything
//! else through the manifest: the checkpoint's one extension line is the SHA-256 of
//! `bundle.json`, which holds the SHA-256 of `policy.toml`, `record.jsonl` and `proofs.json`
//! and of every evidence file (its member's name). So a changed byte anywhere makes
//! verification fail, not just a changed entry. This module is pure computation: the caller
//! feeds it bytes and passes the signing key in.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::checkpoint::{self, Checkpoint, SigningKey, VerifyingKey};
use crate::entry::{Entry, EntryHash, canonical_json, preimage, sha256_hex};
use crate::ids::IncidentNumber;
use crate::merkle::{self, Hash};
use crate::time::Timestamp;

/// The manifest's `format`: this module writes version 2.
pub const FORMAT: &str = "sitrep-bundle/2";
/// The format every release before version 2 wrote, which this module still reads: its
/// checkpoint signs the record (origin, size, root) but not the manifest, so the verifier checks
/// what that signature covers and reports the rest as not vouched for
/// (`docs/record-format.md`, "Bundles of format 1").
pub const FORMAT_1: &str = "sitrep-bundle/1";
pub const MANIFEST: &str = "bundle.json";
pub const CHECKPOINT: &str = "checkpoint";
pub const POLICY: &str = "policy.toml";
pub const RECORD: &str = "record.jsonl";
pub const PROOFS: &str = "proofs.json";
/// Evidence files are members named `blobs/<sha256>`.
pub const BLOBS: &str = "blobs/";
/// The tar block size.
pub const BLOCK: usize = 512;

/// The member an evidence file is stored as.
pub fn blob_member(sha256: &str) -> String {
    format!("{BLOBS}{sha256}")
}

/// The largest member the reader keeps in memory, by name; blobs are hashed as they stream.
fn member_limit(name: &str) -> u64 {
    match name {
        MANIFEST | POLICY => 64 << 20,
        CHECKPOINT => 64 << 10,
        RECORD | PROOFS => 4 << 30,
        _ => 1 << 20,
    }
}

/// What `bundle.json` says. Every field is checked against the rest of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    pub incident: IncidentNumber,
    /// The checkpoint's origin: `sitrep/<deployment uuid>/<incident>`.
    pub origin: String,
    /// The deployment's Ed25519 public key, base64.
    pub public_key: String,
    /// Lines in `record.jsonl`.
    pub entries: u64,
    /// Whether the record holds chosen entries only, each with an inclusion proof.
    pub excerpt: bool,
    /// Every member of the archive, in archive order.
    pub files: Vec<String>,
    /// The evidence the bundle's entries register, in seq order.
    pub evidence: Vec<EvidenceListing>,
    /// SHA-256 (hex) of `policy.toml`.
    pub policy_sha256: String,
    /// SHA-256 (hex) of `record.jsonl`; always there in format 2, never in format 1.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub record_sha256: Option<String>,
    /// SHA-256 (hex) of `proofs.json`; absent (the key left out) when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub proofs_sha256: Option<String>,
}

/// One evidence item: what its `evidence.registered` entry says, and whether its file is in the
/// bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceListing {
    pub sha256: String,
    pub size: u64,
    pub name: String,
    pub included: bool,
}

/// `proofs.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proofs {
    /// One per entry of an excerpt, in seq order; empty for a full export.
    pub inclusion: Vec<InclusionProof>,
    /// From an earlier tree size to the checkpoint's, when the export asked for one. Absent is
    /// written one way only, by leaving the key out: `"consistency":null` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub consistency: Option<ConsistencyProof>,
}

/// An optional field that, when its key is there, must hold a value: `null` is not a second
/// spelling of "absent" (serde's `Option` would read it as `None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// RFC 9162 §2.1.3 audit path of entry `seq` (leaf index `seq - 1`) in the checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub seq: u64,
    pub path: Vec<EntryHash>,
}

/// RFC 9162 §2.1.4 consistency proof from the tree of the first `size` entries (root `root`) to
/// the checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub size: u64,
    pub root: EntryHash,
    pub proof: Vec<EntryHash>,
}

// ---------------------------------------------------------------------------------------------
// The archive format
// ---------------------------------------------------------------------------------------------

/// Writes `value` right-aligned as zero-padded octal, followed by a NUL, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// The one header a bundle member may have: a ustar regular file, mode 0644, owner 0:0, time 0,
/// no user or group names; the size in octal, or (from 8 GiB) base-256 as GNU tar and the `tar`
/// crate write it. `None` for a name that does not fit the 100-byte name field.
pub fn tar_header(name: &str, size: u64) -> Option<[u8; BLOCK]> {
    if name.is_empty() || name.len() > 100 || name.as_bytes().contains(&0) {
        return None;
    }
    let mut header = [0u8; BLOCK];
    header[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    if size < 1 << 33 {
        octal(&mut header[124..136], size);
    } else {
        header[128..136].copy_from_slice(&size.to_be_bytes());
        header[124] = 0x80;
    }
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum counts its own field as eight spaces.
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum::<u64>() + 8 * u64::from(b' ');
    octal(&mut header[148..156], sum);
    Some(header)
}

/// Zero bytes after a member of `size` bytes, up to the next block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The size of the whole archive: each member's header, contents and padding, then the two
/// zero blocks that end it.
pub fn archive_size(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().map(|size| BLOCK as u64 + size + padding(size) as u64).sum::<u64>() + 2 * BLOCK as u64
}

/// Reads a header's size field (octal, or base-256 when its first byte has the high bit set).
fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let bytes: [u8; 8] = field[4..12].try_into().ok()?;
        return Some(u64::from_be_bytes(bytes));
    }
    let digits = &field[..11];
    if field[11] != 0 || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

// ---------------------------------------------------------------------------------------------
// Making a bundle
// ---------------------------------------------------------------------------------------------

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
fn canonical_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    canonical_json(value).unwrap_or_else(|error| panic!("a bundle part does not serialise: {error}")).into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Reading and verifying a bundle
// ---------------------------------------------------------------------------------------------

/// What failed: the member (or `archive`, `--key`, `earlier checkpoint`), the entry if one is
/// at fault, which check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub check: &'static str,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{} seq {seq}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for Failure {}

fn fail(file: &str, check: &'static str, reason: impl Into<String>) -> Failure {
    Failure { file: file.to_owned(), seq: None, check, reason: reason.into() }
}

fn fail_at(file: &str, seq: u64, check: &'static str, reason: impl Into<String>) -> Failure {
    Failure { file: file.to_owned(), seq: Some(seq), check, reason: reason.into() }
}

const ARCHIVE: &str = "archive";

/// Where the reader is in the archive.
#[derive(Debug)]
enum State {
    /// Expecting a header block (or the first zero block of the end marker).
    Header,
    /// Inside a member's contents.
    Contents { remaining: u64 },
    /// Inside the zero padding after a member.
    Padding { remaining: usize },
    /// Seen this many of the two zero blocks that end the archive.
    End { zero_blocks: u8 },
}

/// A member being read.
#[derive(Debug)]
struct Current {
    name: String,
    size: u64,
    kept: Option<Vec<u8>>,
    hasher: Sha256,
}

/// Reads a bundle's bytes as they arrive, checking the archive's structure and hashing
/// evidence files on the way, so a multi-gigabyte bundle needs no more memory than its record.
#[derive(Debug)]
pub struct Reader {
    state: State,
    block: Vec<u8>,
    current: Option<Current>,
    members: usize,
    manifest: Option<Manifest>,
    kept: Vec<(String, Vec<u8>)>,
    blobs: usize,
    offset: u64,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            state: State::Header,
            block: Vec::with_capacity(BLOCK),
            current: None,
            members: 0,
            manifest: None,
            kept: Vec::new(),
            blobs: 0,
            offset: 0,
        }
    }

    /// How many bytes were fed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Takes the next bytes of the bundle.
    ///
    /// # Errors
    ///
    /// The first [`Failure`] found; the reader must not be fed after one.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Failure> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Contents { remaining } => {
                    let take = (*remaining).min(bytes.len() as u64) as usize;
                    let (now, rest) = bytes.split_at(take);
                    *remaining -= take as u64;
                    let done = *remaining == 0;
                    self.take_contents(now)?;
                    bytes = rest;
                    if done {
                        self.end_member()?;
                    }
                }
                State::Padding { remaining } => {
                    let take = (*remaining).min(bytes.len());
                    let (now, rest) = bytes.split_at(take);
                    if now.iter().any(|&b| b != 0) {
                        let name = self.current.as_ref().map(|c| c.name.clone()).unwrap_or_default();
                        return Err(fail(ARCHIVE, "archive", format!("the padding after {name} is not zeros")));
                    }
                    *remaining -= take;
                    self.offset += take as u64;
                    bytes = rest;
                    if *remaining == 0 {
                        self.state = State::Header;
                        self.current = None;
                    }
                }
                State::End { zero_blocks: 2 } => {
                    return Err(fail(ARCHIVE, "archive", "there are bytes after the end of the archive"));
                }
                State::Header | State::End { .. } => {
                    let take = (BLOCK - self.block.len()).min(bytes.len());
                    self.block.extend_from_slice(&bytes[..take]);
                    self.offset += take as u64;
                    bytes = &bytes[take..];
                    if self.block.len() == BLOCK {
                        let block = std::mem::take(&mut self.block);
                        self.take_block(&block)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn take_contents(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.offset += bytes.len() as u64;
        let Some(current) = self.current.as_mut() else { return Ok(()) };
        match current.kept.as_mut() {
            Some(kept) => kept.extend_from_slice(bytes),
            None => current.hasher.update(bytes),
        }
        Ok(())
    }

    fn take_block(&mut self, block: &[u8]) -> Result<(), Failure> {
        let zero = block.iter().all(|&b| b == 0);
        match self.state {
            State::End { zero_blocks } => {
                if zero_blocks >= 2 {
                    return Err(fail(ARCHIVE, "archive", "there are bytes after the end of the archive"));
                }
                if !zero {
                    return Err(fail(ARCHIVE, "archive", "the end of the archive is not two zero blocks"));
                }
                self.state = State::End { zero_blocks: zero_blocks + 1 };
                Ok(())
            }
            _ if zero => {
                self.state = State::End { zero_blocks: 1 };
                Ok(())
            }
            _ => self.start_member(block),
        }
    }

    fn start_member(&mut self, block: &[u8]) -> Result<(), Failure> {
        let index = self.members;
        let not_a_header = || fail(ARCHIVE, "archive", format!("member {} has no valid tar header", index + 1));
        let name_field = &block[..100];
        let name_end = name_field.iter().position(|&b| b == 0).unwrap_or(100);
        let name = std::str::from_utf8(&name_field[..name_end]).map_err(|_| not_a_header())?.to_owned();
        let size = header_size(&block[124..136]).ok_or_else(not_a_header)?;
        if tar_header(&name, size).as_ref().map(|h| &h[..]) != Some(block) {
            return Err(fail(
                ARCHIVE,
                "archive",
                format!("the header of member {} ({}) is not the bundle's canonical ustar header", index + 1, name),
            ));
        }
        if index == 0 && name != MANIFEST {
            return Err(fail(ARCHIVE, "archive", format!("the first member is {name}, not {MANIFEST}")));
        }
        if let Some(manifest) = &self.manifest {
            match manifest.files.get(index) {
                Some(listed) if *listed == name => {}
                Some(listed) => {
                    return Err(fail(
                        ARCHIVE,
                        "archive",
                        format!("member {} is {name}, but the manifest lists {listed} there", index + 1),
                    ));
                }
                None => {
                    return Err(fail(
                        ARCHIVE,
                        "archive",
                        format!("member {} ({name}) is not in the manifest", index + 1),
                    ));
                }
            }
        }
        let is_blob = name.starts_with(BLOBS);
        if !is_blob && size > member_limit(&name) {
            return Err(fail(&name, "archive", format!("{size} bytes is more than a bundle's {name} holds")));
        }
        if is_blob {
            let sha256 = &name[BLOBS.len()..];
            let listed = self
                .manifest
                .as_ref()
                .and_then(|m| m.evidence.iter().find(|item| item.sha256 == sha256 && item.included));
            match listed {
                Some(item) if item.size == size => {}
                Some(item) => {
                    return Err(fail(&name, "blob", format!("{size} bytes, but the manifest says {}", item.size)));
                }
                None => return Err(fail(&name, "blob", "the manifest lists no included evidence with this hash")),
            }
        }
        self.members += 1;
        self.current = Some(Current { name, size, kept: (!is_blob).then(Vec::new), hasher: Sha256::new() });
        if size == 0 {
            self.end_member()
        } else {
            self.state = State::Contents { remaining: size };
            Ok(())
        }
    }

    fn end_member(&mut self) -> Result<(), Failure> {
        let Some(current) = self.current.as_mut() else { return Ok(()) };
        let name = current.name.clone();
        match current.kept.take() {
            Some(bytes) => {
                if name == MANIFEST {
                    self.manifest = Some(parse_manifest(&bytes)?);
                }
                self.kept.push((name, bytes));
            }
            None => {
                let digest = hex::encode(std::mem::take(&mut current.hasher).finalize());
                if name[BLOBS.len()..] != digest {
                    return Err(fail(&name, "blob", format!("the file hashes to {digest}, not to its name")));
                }
                self.blobs += 1;
            }
        }
        let pad = padding(current.size);
        self.state = if pad == 0 { State::Header } else { State::Padding { remaining: pad } };
        if pad == 0 {
            self.current = None;
        }
        Ok(())
    }

    /// The bundle, once every byte has been fed.
    ///
    /// # Errors
    ///
    /// A [`Failure`] if the archive stops early or lacks members the manifest lists.
    pub fn finish(self) -> Result<Bundle, Failure> {
        if !matches!(self.state, State::End { zero_blocks: 2 }) || !self.block.is_empty() {
            return Err(fail(ARCHIVE, "archive", "the archive is cut short: it does not end with two zero blocks"));
        }
        let manifest = self.manifest.ok_or_else(|| fail(ARCHIVE, "archive", "the archive has no bundle.json"))?;
        if let Some(missing) = manifest.files.get(self.members) {
            return Err(fail(ARCHIVE, "archive", format!("the manifest lists {missing}, which the archive lacks")));
        }
        let mut bundle = Bundle {
            manifest,
            manifest_bytes: Vec::new(),
            checkpoint: Vec::new(),
            policy: Vec::new(),
            record: Vec::new(),
            proofs: None,
            blobs: self.blobs,
        };
        for (name, bytes) in self.kept {
            match name.as_str() {
                MANIFEST => bundle.manifest_bytes = bytes,
                CHECKPOINT => bundle.checkpoint = bytes,
                POLICY => bundle.policy = bytes,
                RECORD => bundle.record = bytes,
                PROOFS => bundle.proofs = Some(bytes),
                _ => {}
            }
        }
        Ok(bundle)
    }
}

/// Reads `bundle.json`: canonical JSON with exactly the manifest's fields, of format 2 or 1
/// (format 1 has no `record_sha256` or `proofs_sha256`; format 2 always has `record_sha256`).
fn parse_manifest(bytes: &[u8]) -> Result<Manifest, Failure> {
    let value = canonical_value(MANIFEST, bytes)?;
    if let Some(format) = value.get("format").and_then(Value::as_str)
        && format != FORMAT
        && format != FORMAT_1
    {
        return Err(fail(MANIFEST, "manifest", format!("format '{format}' is neither {FORMAT} nor {FORMAT_1}")));
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| fail(MANIFEST, "manifest", format!("not a bundle manifest: {e}")))?;
    if manifest.format == FORMAT && manifest.record_sha256.is_none() {
        return Err(fail(MANIFEST, "manifest", "not a bundle manifest: missing field `record_sha256`"));
    }
    if manifest.format == FORMAT_1 && (manifest.record_sha256.is_some() || manifest.proofs_sha256.is_some()) {
        return Err(fail(
            MANIFEST,
            "manifest",
            "a manifest of format 1 has no record_sha256 or proofs_sha256 (those came with format 2)",
        ));
    }
    Ok(manifest)
}

/// Parses JSON that must be byte for byte in its RFC 8785 canonical form.
fn canonical_value(file: &str, bytes: &[u8]) -> Result<Value, Failure> {
    let check = if file == PROOFS { "proofs" } else { "manifest" };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| fail(file, check, format!("not JSON: {e}")))?;
    let canonical = canonical_json(&value).map_err(|e| fail(file, check, e.to_string()))?;
    if canonical.as_bytes() != bytes {
        return Err(fail(file, check, "not in canonical JSON form (RFC 8785)"));
    }
    Ok(value)
}

/// A read bundle's parts, before their contents are checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    /// `bundle.json` as it is in the archive, whose SHA-256 the checkpoint signs.
    pub manifest_bytes: Vec<u8>,
    pub checkpoint: Vec<u8>,
    pub policy: Vec<u8>,
    pub record: Vec<u8>,
    pub proofs: Option<Vec<u8>>,
    /// Evidence files present, each already hashed to its name.
    pub blobs: usize,
}

/// What the verifier is told besides the bundle.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The key the bundle must be signed with (else the bundle's own key is used).
    pub key: Option<VerifyingKey>,
    /// A checkpoint of the same record kept from earlier: the record must have only grown.
    pub earlier: Option<String>,
}

/// What a verified bundle shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The manifest's format: [`FORMAT`], or [`FORMAT_1`], whose signature covers the record
    /// but not the manifest (what only the manifest says is then in `not_vouched_for`).
    pub format: String,
    pub incident: IncidentNumber,
    pub origin: String,
    pub key_name: String,
    pub public_key: String,
    /// Whether the key was given by the verifier (`--key`) rather than taken from the bundle.
    pub key_given: bool,
    /// The checkpoint's tree size: entries in the record at export.
    pub size: u64,
    /// The checkpoint's root, base64.
    pub root: String,
    /// Entries in the bundle (all `size` of them unless an excerpt).
    pub entries: u64,
    pub excerpt: bool,
    /// The seqs of an excerpt's entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seqs: Vec<u64>,
    /// Evidence items listed, and files included (each matching its hash and size).
    pub evidence: usize,
    pub blobs: usize,
    pub policy_sha256: String,
    /// Whether `policy.toml` is the policy recorded at declaration (`None`: seq 1 not included).
    pub policy_as_declared: Option<bool>,
    /// The size a consistency proof in the bundle starts from, verified.
    pub consistency_from: Option<u64>,
    /// The size of the earlier checkpoint the record was shown to extend.
    pub extends_earlier: Option<u64>,
    /// What the bundle names but its signature does not vouch for, in words (empty when the
    /// signature covers everything it says). `sitrep verify-bundle` prints each.
    pub not_vouched_for: Vec<String>,
}

/// One verified line of `record.jsonl`.
#[derive(Debug)]
struct Line {
    seq: u64,
    at: String,
    kind: String,
    body: Value,
    prev: EntryHash,
    hash: EntryHash,
}

const ENTRY_FIELDS: [&str; 8] = ["actor", "at", "body", "hash", "kind", "prev", "seq", "v"];

/// A line's fields, borrowed where no escape forces a copy; the body kept as its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    at: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    hash: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    prev: std::borrow::Cow<'a, str>,
    seq: u64,
    v: u64,
}

/// Parses and checks one line: canonical JSON with exactly an entry's fields, whose hash is the
/// SHA-256 of the canonical JSON of the other fields.
///
/// The common case, a well-formed line, is checked by writing the line again from its fields
/// (as the exporter does) and comparing bytes; only the body goes through the canonicaliser.
/// Anything that differs is judged by [`parse_line_generally`], which names the fault.
fn parse_line(number: usize, line: &[u8]) -> Result<Line, Failure> {
    well_formed_line(line).map_or_else(|| parse_line_generally(number, line), Ok)
}

/// The line, if it is exactly what the exporter writes for a sound entry.
fn well_formed_line(line: &[u8]) -> Option<Line> {
    let fields: Fields = serde_json::from_slice(line).ok()?;
    if fields.v != 1 || fields.seq == 0 || !Timestamp::has_record_shape(&fields.at) {
        return None;
    }
    let body: Value = serde_json::from_str(fields.body.get()).ok()?;
    if !body.is_object() || canonical_json(&body).ok()? != fields.body.get() {
        return None;
    }
    let prev: EntryHash = fields.prev.parse().ok()?;
    let hash: EntryHash = fields.hash.parse().ok()?;
    let (prev_hex, hash_hex) = (prev.to_hex(), hash.to_hex());
    let mut written = Vec::with_capacity(line.len());
    crate::entry::object_into(
        &mut written,
        1,
        fields.seq,
        &fields.at,
        &fields.actor,
        &fields.kind,
        fields.body.get(),
        &prev_hex,
        Some(&hash_hex),
    );
    let unsigned = preimage(1, fields.seq, &fields.at, &fields.actor, &fields.kind, fields.body.get(), &prev_hex);
    if written != line || EntryHash::of(&unsigned) != hash {
        return None;
    }
    Some(Line { seq: fields.seq, at: fields.at.into_owned(), kind: fields.kind.into_owned(), body, prev, hash })
}

/// [`parse_line`] for any bytes: finds and names what is wrong.
fn parse_line_generally(number: usize, line: &[u8]) -> Result<Line, Failure> {
    let at_line = |reason: String| fail(RECORD, "entry", format!("line {number}: {reason}"));
    let value: Value = serde_json::from_slice(line).map_err(|e| at_line(format!("not JSON: {e}")))?;
    let canonical = canonical_json(&value).map_err(|e| at_line(e.to_string()))?;
    if canonical.as_bytes() != line {
        return Err(at_line("not in canonical JSON form (RFC 8785)".into()));
    }
    let Value::Object(mut object) = value else { return Err(at_line("not a JSON object".into())) };
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    if keys != ENTRY_FIELDS {
        return Err(at_line(format!("the fields are {keys:?}, not those of an entry {ENTRY_FIELDS:?}")));
    }
    let seq =
        object["seq"].as_u64().filter(|&s| s > 0).ok_or_else(|| at_line("seq is not a positive integer".into()))?;
    let bad = |field: &str| fail_at(RECORD, seq, "entry", format!("field '{field}' is not valid"));
    if object["v"].as_u64() != Some(1) {
        return Err(bad("v"));
    }
    let at = object["at"].as_str().filter(|at| Timestamp::has_record_shape(at)).ok_or_else(|| bad("at"))?.to_owned();
    object["actor"].as_str().ok_or_else(|| bad("actor"))?;
    let kind = object["kind"].as_str().ok_or_else(|| bad("kind"))?.to_owned();
    if !object["body"].is_object() {
        return Err(bad("body"));
    }
    let hex = |field: &str| -> Result<EntryHash, Failure> {
        object[field].as_str().and_then(|text| text.parse().ok()).ok_or_else(|| bad(field))
    };
    let prev = hex("prev")?;
    let hash = hex("hash")?;
    object.remove("hash");
    let unsigned = canonical_json(&object).map_err(|e| fail_at(RECORD, seq, "entry", e.to_string()))?;
    let computed = EntryHash::of(unsigned.as_bytes());
    if computed != hash {
        return Err(fail_at(
            RECORD,
            seq,
            "entry",
            format!("the hash does not match the entry's contents (stored {hash}, computed {computed})"),
        ));
    }
    let body = object.remove("body").unwrap_or(Value::Null);
    Ok(Line { seq, at, kind, body, prev, hash })
}

impl Bundle {
    /// Checks everything the bundle states against everything else in it, the signature, and
    /// what `options` add.
    ///
    /// # Errors
    ///
    /// The first [`Failure`].
    pub fn verify(&self, options: &Options) -> Result<Verified, Failure> {
        let manifest = &self.manifest;
        let format_1 = manifest.format == FORMAT_1;
        if manifest.format != FORMAT && !format_1 {
            return Err(fail(
                MANIFEST,
                "manifest",
                format!("format '{}' is neither {FORMAT} nor {FORMAT_1}", manifest.format),
            ));
        }
        let key_name = checkpoint::key_name_of(&manifest.origin)
            .filter(|key_name| format!("{key_name}/{}", manifest.incident) == manifest.origin)
            .ok_or_else(|| fail(MANIFEST, "manifest", "the origin does not name the incident"))?
            .to_owned();
        let deployment = key_name.strip_prefix("sitrep/").and_then(|uuid| Uuid::try_parse(uuid).ok());
        if deployment.is_none_or(|uuid| checkpoint::key_name(uuid) != key_name) {
            return Err(fail(
                MANIFEST,
                "manifest",
                "the origin is not sitrep/<deployment UUID, lower-case, hyphenated>/<incident>",
            ));
        }
        let bundle_key = checkpoint::decode_public_key(&manifest.public_key)
            .map_err(|e| fail(MANIFEST, "key", format!("public_key: {e}")))?;
        if let Some(given) = &options.key
            && *given != bundle_key
        {
            return Err(fail(
                "--key",
                "key",
                format!("the bundle is signed with {}, not with the key given", manifest.public_key),
            ));
        }

        // The signed checkpoint.
        let text = std::str::from_utf8(&self.checkpoint).map_err(|_| fail(CHECKPOINT, "checkpoint", "not UTF-8"))?;
        let signed = checkpoint::parse(text).map_err(|e| fail(CHECKPOINT, "checkpoint", e.to_string()))?;
        if signed.signatures.len() != 1 {
            return Err(fail(CHECKPOINT, "checkpoint", "a bundle's checkpoint carries exactly one signature"));
        }
        if signed.checkpoint.origin != manifest.origin {
            return Err(fail(CHECKPOINT, "checkpoint", "its origin is not the manifest's"));
        }
        signed.verify(&key_name, &bundle_key).map_err(|e| fail(CHECKPOINT, "signature", e.to_string()))?;
        let size = signed.checkpoint.size;
        let root = signed.checkpoint.root;
        let manifest_sha256: Hash = Sha256::digest(&self.manifest_bytes).into();
        match (signed.checkpoint.manifest, format_1) {
            (Some(signed), false) if signed == manifest_sha256 => {}
            (Some(_), false) => {
                return Err(fail(MANIFEST, "manifest", "its SHA-256 is not the one the checkpoint signs"));
            }
            (None, false) => {
                return Err(fail(
                    CHECKPOINT,
                    "checkpoint",
                    "it has no 'bundle.json sha256' line: the signature does not cover the manifest",
                ));
            }
            // Format 1 was signed before checkpoints had the line; one that has it is not what
            // an exporter of format 1 wrote.
            (Some(_), true) => {
                return Err(fail(
                    CHECKPOINT,
                    "checkpoint",
                    "a bundle of format 1 has no 'bundle.json sha256' line in its checkpoint",
                ));
            }
            (None, true) => {}
        }

        // The members the manifest binds by their SHA-256 (in format 1, only the policy, and
        // unsigned: a check that the manifest is consistent, not that it is vouched for).
        if sha256_hex(&self.policy) != manifest.policy_sha256 {
            return Err(fail(POLICY, "policy", "its SHA-256 is not the manifest's policy_sha256"));
        }
        if !format_1 {
            if Some(sha256_hex(&self.record)) != manifest.record_sha256 {
                return Err(fail(RECORD, "entry", "its SHA-256 is not the manifest's record_sha256"));
            }
            if self.proofs.as_deref().map(sha256_hex) != manifest.proofs_sha256 {
                return Err(fail(
                    PROOFS,
                    "proofs",
                    "its SHA-256 is not the manifest's proofs_sha256, or one is missing",
                ));
            }
        }

        // The entries.
        let text = &self.record;
        if !text.is_empty() && !text.ends_with(b"\n") {
            return Err(fail(RECORD, "entry", "the last line does not end with a newline"));
        }
        let mut lines = Vec::new();
        if let Some(body) = text.strip_suffix(b"\n") {
            for (index, line) in body.split(|&b| b == b'\n').enumerate() {
                lines.push(parse_line(index + 1, line)?);
            }
        }
        if lines.len() as u64 != manifest.entries {
            return Err(fail(
                RECORD,
                "entry",
                format!("{} entries, but the manifest says {}", lines.len(), manifest.entries),
            ));
        }
        if lines.is_empty() {
            return Err(fail(RECORD, "entry", "the record is empty"));
        }
        let mut previous: Option<&Line> = None;
        for line in &lines {
            if line.seq > size {
                return Err(fail_at(RECORD, line.seq, "chain", format!("beyond the checkpoint's size {size}")));
            }
            if let Some(before) = previous {
                if line.seq <= before.seq {
                    return Err(fail_at(RECORD, line.seq, "chain", "the entries are not in increasing seq order"));
                }
                if line.seq == before.seq + 1 && line.prev != before.hash {
                    return Err(fail_at(RECORD, line.seq, "chain", "'prev' is not the hash of the entry before"));
                }
                if line.at < before.at {
                    return Err(fail_at(RECORD, line.seq, "chain", "the time goes backwards"));
                }
            }
            if line.seq == 1 {
                if line.prev != EntryHash::ZERO {
                    return Err(fail_at(RECORD, 1, "chain", "the first entry's 'prev' is not all zeros"));
                }
                let number = line.body.get("number").and_then(Value::as_str);
                if line.kind != "incident.declared" || number != Some(manifest.incident.to_string().as_str()) {
                    return Err(fail_at(
                        RECORD,
                        1,
                        "chain",
                        format!("the first entry does not declare {}", manifest.incident),
                    ));
                }
            }
            previous = Some(line);
        }

        // The Merkle tree and the proofs.
        let proofs = match &self.proofs {
            None => None,
            Some(bytes) => Some(
                serde_json::from_value::<Proofs>(canonical_value(PROOFS, bytes)?)
                    .map_err(|e| fail(PROOFS, "proofs", format!("not a proofs file: {e}")))?,
            ),
        };
        let leaves: Vec<Hash> = lines.iter().map(|line| merkle::leaf_hash(&line.hash.0)).collect();
        if manifest.excerpt {
            let Some(proofs) = &proofs else {
                return Err(fail(PROOFS, "inclusion", "an excerpt needs proofs.json"));
            };
            if proofs.inclusion.len() != lines.len() {
                return Err(fail(PROOFS, "inclusion", "there is not exactly one inclusion proof per entry"));
            }
            for ((line, leaf), proof) in lines.iter().zip(&leaves).zip(&proofs.inclusion) {
                if proof.seq != line.seq {
                    return Err(fail_at(PROOFS, line.seq, "inclusion", format!("the proof is for seq {}", proof.seq)));
                }
                let path: Vec<Hash> = proof.path.iter().map(|h| h.0).collect();
                merkle::verify_inclusion(line.seq - 1, size, leaf, &path, &root)
                    .map_err(|e| fail_at(RECORD, line.seq, "inclusion", format!("not in the signed tree: {e}")))?;
            }
        } else {
            if lines.len() as u64 != size || lines.last().map(|l| l.seq) != Some(size) {
                return Err(fail(
                    RECORD,
                    "root",
                    format!("{} entries, but the checkpoint signs a record of {size}", lines.len()),
                ));
            }
            if merkle::root(&leaves) != root {
                return Err(fail(RECORD, "root", "the entries' Merkle root is not the signed root"));
            }
            if proofs.as_ref().is_some_and(|p| !p.inclusion.is_empty() || p.consistency.is_none()) {
                return Err(fail(PROOFS, "proofs", "a full export's proofs.json holds only a consistency proof"));
            }
        }
        let consistency_from = match proofs.as_ref().and_then(|p| p.consistency.as_ref()) {
            None => None,
            Some(consistency) => {
                let proof: Vec<Hash> = consistency.proof.iter().map(|h| h.0).collect();
                merkle::verify_consistency(consistency.size, size, &consistency.root.0, &root, &proof)
                    .map_err(|e| fail(PROOFS, "consistency", format!("the consistency proof fails: {e}")))?;
                if !manifest.excerpt && merkle::root(&leaves[..consistency.size as usize]) != consistency.root.0 {
                    return Err(fail(PROOFS, "consistency", "its root is not the root of the record's first entries"));
                }
                Some(consistency.size)
            }
        };

        // The evidence and the member list.
        let mut evidence = Vec::new();
        for line in lines.iter().filter(|line| line.kind == "evidence.registered") {
            let field = |name: &str| line.body.get(name);
            let (Some(sha256), Some(size), Some(name)) = (
                field("sha256").and_then(Value::as_str).filter(|sha256| sha256.parse::<EntryHash>().is_ok()),
                field("size").and_then(Value::as_u64),
                field("name").and_then(Value::as_str),
            ) else {
                return Err(fail_at(
                    RECORD,
                    line.seq,
                    "evidence",
                    "the registration lacks sha256 (64 lower-case hex), size or name",
                ));
            };
            evidence.push((sha256.to_owned(), size, name.to_owned()));
        }
        let listed: Vec<(String, u64, String)> =
            manifest.evidence.iter().map(|i| (i.sha256.clone(), i.size, i.name.clone())).collect();
        if listed != evidence {
            return Err(fail(MANIFEST, "evidence", "the evidence listed is not what the entries register"));
        }
        let mut files: Vec<String> = [MANIFEST, CHECKPOINT, POLICY, RECORD].map(str::to_owned).to_vec();
        if proofs.is_some() {
            files.push(PROOFS.to_owned());
        }
        files.extend(manifest.evidence.iter().filter(|i| i.included).map(|i| blob_member(&i.sha256)));
        if files != manifest.files {
            return Err(fail(MANIFEST, "manifest", "the files listed are not the bundle's members"));
        }

        // An earlier checkpoint: the record only grew.
        let extends_earlier = match &options.earlier {
            None => None,
            Some(text) => Some(self.extends(text, &key_name, &bundle_key, size, &root, &leaves, proofs.as_ref())?),
        };

        let declared = lines.first().filter(|line| line.seq == 1);
        let policy_as_declared = declared
            .map(|line| line.body.get("policy").and_then(Value::as_str) == Some(manifest.policy_sha256.as_str()));
        let mut not_vouched_for = Vec::new();
        if format_1 {
            // The signature covers the entries only: the policy file is vouched for only where a
            // signed entry names its hash (the declaration's), and not as the policy at export.
            not_vouched_for.push(if policy_as_declared == Some(true) {
                "that policy.toml was in force at export (format 1 does not sign it; it is the policy the signed \
                 declaration names)"
                    .to_owned()
            } else {
                "policy.toml (format 1 does not sign it)".to_owned()
            });
        }
        let missing = manifest.evidence.iter().filter(|item| !item.included).count();
        if missing > 0 {
            not_vouched_for.push(format!(
                "the contents of {missing} evidence {} not in the bundle (only {} SHA-256 is signed){}",
                if missing == 1 { "file" } else { "files" },
                if missing == 1 { "its" } else { "their" },
                if format_1 { ", nor whether the export left them out (format 1 does not sign that)" } else { "" }
            ));
        }
        if format_1 && manifest.excerpt {
            not_vouched_for.push(
                "that the export held no other entries (format 1 does not sign which entries it holds: some may \
                 have been dropped with their proofs)"
                    .to_owned(),
            );
        }
        if format_1 && consistency_from.is_none() {
            not_vouched_for.push(
                "whether the export carried a consistency proof (format 1 does not sign that: one may have been \
                 dropped)"
                    .to_owned(),
            );
        }
        if options.key.is_none() {
            not_vouched_for.push("whose key signed it (give the deployment's public key with --key)".to_owned());
        }
        Ok(Verified {
            format: manifest.format.clone(),
            incident: manifest.incident,
            origin: manifest.origin.clone(),
            key_name,
            public_key: manifest.public_key.clone(),
            key_given: options.key.is_some(),
            size,
            root: STANDARD.encode(root),
            entries: lines.len() as u64,
            excerpt: manifest.excerpt,
            seqs: if manifest.excerpt { lines.iter().map(|l| l.seq).collect() } else { Vec::new() },
            evidence: manifest.evidence.len(),
            blobs: self.blobs,
            policy_sha256: manifest.policy_sha256.clone(),
            policy_as_declared,
            consistency_from,
            extends_earlier,
            not_vouched_for,
        })
    }

    /// Checks that the bundle's record extends the one an earlier checkpoint signed.
    #[allow(clippy::too_many_arguments)]
    fn extends(
        &self,
        text: &str,
        key_name: &str,
        key: &VerifyingKey,
        size: u64,
        root: &Hash,
        leaves: &[Hash],
        proofs: Option<&Proofs>,
    ) -> Result<u64, Failure> {
        const EARLIER: &str = "earlier checkpoint";
        let earlier = checkpoint::parse(text).map_err(|e| fail(EARLIER, "earlier", e.to_string()))?;
        earlier.verify(key_name, key).map_err(|e| fail(EARLIER, "earlier", e.to_string()))?;
        let old = &earlier.checkpoint;
        if old.origin != self.manifest.origin {
            return Err(fail(EARLIER, "earlier", format!("it is for {}, not {}", old.origin, self.manifest.origin)));
        }
        if old.size > size {
            return Err(fail(
                EARLIER,
                "earlier",
                format!("the record shrank: the earlier checkpoint signs {} entries, this bundle {size}", old.size),
            ));
        }
        if old.size == 0 || old.size == size {
            if old.root != *root && old.size != 0 {
                return Err(fail(
                    EARLIER,
                    "earlier",
                    format!("the record was rewritten: two different roots for {size} entries"),
                ));
            }
            return Ok(old.size);
        }
        if !self.manifest.excerpt {
            if merkle::root(&leaves[..old.size as usize]) != old.root {
                return Err(fail(
                    EARLIER,
                    "earlier",
                    format!(
                        "the record was rewritten: its first {} entries are not those the earlier checkpoint signs",
                        old.size
                    ),
                ));
            }
            return Ok(old.size);
        }
        match proofs.and_then(|p| p.consistency.as_ref()) {
            Some(c) if c.size == old.size && c.root.0 == old.root => Ok(old.size),
            Some(c) if c.size == old.size => Err(fail(
                EARLIER,
                "earlier",
                format!("the record was rewritten: the bundle proves another root for its first {} entries", c.size),
            )),
            _ => Err(fail(
                EARLIER,
                "earlier",
                format!(
                    "an excerpt needs a consistency proof from size {} (export it with since {})",
                    old.size, old.size
                ),
            )),
        }
    }
}

/// Verifies a whole bundle held in memory.
///
/// # Errors
///
/// The first [`Failure`].
pub fn verify_bytes(bytes: &[u8], options: &Options) -> Result<Verified, Failure> {
    let mut reader = Reader::new();
    reader.feed(bytes)?;
    reader.finish()?.verify(options)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::ids::Actor;

    const DEPLOYMENT: Uuid = Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef);
    const POLICY_TEXT: &str = "name = \"test\"\n";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn at(second: u32) -> Timestamp {
        format!("2026-11-27T16:26:{second:02}.000000Z").parse().expect("a time")
    }

    /// A record of `n` entries (at least 3): declared, evidence registered at seq 3, then notes.
    fn record(n: usize, note: &str) -> (Vec<Entry>, BTreeMap<String, Vec<u8>>) {
        let blob = b"the attacker's gist, as collected".to_vec();
        let sha = sha256_hex(&blob);
        let actor: Actor = "tess".parse().expect("an actor");
        let mut entries: Vec<Entry> = Vec::new();
        for seq in 1..=n as u64 {
            let (kind, body) = match seq {
                1 => (
                    "incident.declared",
                    json!({"incident": Uuid::from_u128(9), "number": "INC-1", "title": "Key leak", "severity": "sev2",
                           "restricted": false, "exercise": false, "policy": sha256_hex(POLICY_TEXT.as_bytes())}),
                ),
                3 => ("evidence.registered", json!({"sha256": sha, "size": blob.len(), "name": "gist \u{e9}\n.txt"})),
                _ => ("note.added", json!({"text": format!("{note} {seq} \"quoted\" \u{1}")})),
            };
            let prev = entries.last().map(|e| e.hash).unwrap_or(EntryHash::ZERO);
            let body = canonical_json(&body).expect("canonical");
            entries.push(Entry::seal(seq, at(seq as u32 % 60), actor.clone(), kind, body, prev));
        }
        (entries, BTreeMap::from([(sha, blob)]))
    }

    fn contents(record: &[Entry], scope: &Scope) -> Contents {
        assemble(DEPLOYMENT, IncidentNumber(1), record, POLICY_TEXT, &key(), scope).expect("assembles")
    }

    /// The archive, written as `tar_header` says (the server writes the same with the tar crate).
    fn archive(contents: &Contents, blobs: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, member) in &contents.members {
            let data = match member {
                Member::Bytes(bytes) => bytes.clone(),
                Member::Blob { sha256, .. } => blobs[sha256].clone(),
            };
            out.extend_from_slice(&tar_header(name, data.len() as u64).expect("a header"));
            out.extend_from_slice(&data);
            out.extend(std::iter::repeat_n(0, padding(data.len() as u64)));
        }
        out.extend([0; 2 * BLOCK]);
        assert_eq!(out.len() as u64, contents.archive_size());
        out
    }

    /// Signs `contents` again with the deployment's key after its members were changed, as
    /// someone holding the key would: the manifest's hashes and the checkpoint made to match.
    fn reseal(contents: &mut Contents) {
        let bytes = |name: &str| {
            contents.members.iter().find(|(n, _)| n == name).and_then(|(_, member)| match member {
                Member::Bytes(bytes) => Some(bytes.clone()),
                Member::Blob { .. } => None,
            })
        };
        contents.manifest.record_sha256 = Some(sha256_hex(&bytes(RECORD).expect("a record")));
        contents.manifest.proofs_sha256 = bytes(PROOFS).map(|proofs| sha256_hex(&proofs));
        let manifest = canonical_bytes(&contents.manifest);
        let old = checkpoint::parse(&contents.checkpoint).expect("a checkpoint").checkpoint;
        contents.checkpoint = Checkpoint { manifest: Some(Sha256::digest(&manifest).into()), ..old }
            .sign(&checkpoint::key_name(DEPLOYMENT), &key())
            .expect("signs");
        for (name, member) in &mut contents.members {
            match name.as_str() {
                MANIFEST => *member = Member::Bytes(manifest.clone()),
                CHECKPOINT => *member = Member::Bytes(contents.checkpoint.clone().into_bytes()),
                _ => {}
            }
        }
    }

    #[test]
    fn the_signature_covers_the_manifest_and_through_it_every_member() {
        let (entries, blobs) = record(6, "note");
        let scope = Scope { blobs: true, since: Some(3), ..Scope::default() };
        let good = contents(&entries, &scope);
        let text = checkpoint::parse(&good.checkpoint).expect("a checkpoint");
        let manifest = match &good.members[0].1 {
            Member::Bytes(bytes) => bytes.clone(),
            Member::Blob { .. } => panic!("bundle.json first"),
        };
        assert_eq!(text.checkpoint.manifest, Some(Sha256::digest(&manifest).into()));

        // The policy replaced and its hash in the manifest updated: the signature no longer fits.
        let mut replaced = good.clone();
        replaced.manifest.policy_sha256 = sha256_hex(b"anything goes\n");
        for (name, member) in &mut replaced.members {
            match name.as_str() {
                MANIFEST => *member = Member::Bytes(canonical_bytes(&replaced.manifest)),
                POLICY => *member = Member::Bytes(b"anything goes\n".to_vec()),
                _ => {}
            }
        }
        let failure = verify(&archive(&replaced, &blobs)).unwrap_err();
        assert_eq!((failure.file.as_str(), failure.check), (MANIFEST, "manifest"), "{failure}");

        // A checkpoint without the manifest line (as the checkpoint route serves it) is not a
        // bundle's, though it verifies as a checkpoint.
        let mut bare = good.clone();
        let old = text.checkpoint.clone();
        let plain =
            Checkpoint { manifest: None, ..old }.sign(&checkpoint::key_name(DEPLOYMENT), &key()).expect("signs");
        for (name, member) in &mut bare.members {
            if name == CHECKPOINT {
                *member = Member::Bytes(plain.clone().into_bytes());
            }
        }
        let failure = verify(&archive(&bare, &blobs)).unwrap_err();
        assert!(failure.reason.contains("does not cover the manifest"), "{failure}");

        // A bundle's checkpoint serves as an earlier checkpoint for a later bundle, and so does
        // one without the line.
        let (more, _) = record(8, "note");
        let later = archive(&contents(&more, &scope), &blobs);
        for earlier in [good.checkpoint.clone(), plain] {
            let options = Options { key: None, earlier: Some(earlier) };
            assert_eq!(verify_bytes(&later, &options).expect("extends").extends_earlier, Some(6));
        }
    }

    /// `contents` as the exporter of format 1 wrote them: no hashes of the record or proofs in
    /// the manifest, and a checkpoint without the manifest line.
    fn as_format_1(contents: &Contents) -> Contents {
        let mut old = contents.clone();
        old.manifest.format = FORMAT_1.to_owned();
        old.manifest.record_sha256 = None;
        old.manifest.proofs_sha256 = None;
        let head = checkpoint::parse(&old.checkpoint).expect("a checkpoint").checkpoint;
        old.checkpoint =
            Checkpoint { manifest: None, ..head }.sign(&checkpoint::key_name(DEPLOYMENT), &key()).expect("signs");
        for (name, member) in &mut old.members {
            match name.as_str() {
                MANIFEST => *member = Member::Bytes(canonical_bytes(&old.manifest)),
                CHECKPOINT => *member = Member::Bytes(old.checkpoint.clone().into_bytes()),
                _ => {}
            }
        }
        old
    }

    #[test]
    fn a_format_1_bundle_verifies_by_its_signed_record_and_vouches_for_nothing_else() {
        let (entries, blobs) = record(6, "note");
        let old = as_format_1(&contents(&entries, &Scope { blobs: true, ..Scope::default() }));
        let verified = verify(&archive(&old, &blobs)).expect("verifies");
        assert_eq!((verified.format.as_str(), verified.size, verified.blobs), (FORMAT_1, 6, 1));
        assert!(verified.not_vouched_for[0].starts_with("that policy.toml was in force at export"));
        assert!(verified.not_vouched_for.iter().any(|s| s.contains("consistency proof")));

        // The policy replaced with its hash updated: it still verifies, and says the policy is
        // vouched for by nothing.
        let mut replaced = old.clone();
        replaced.manifest.policy_sha256 = sha256_hex(b"anything goes\n");
        for (name, member) in &mut replaced.members {
            match name.as_str() {
                MANIFEST => *member = Member::Bytes(canonical_bytes(&replaced.manifest)),
                POLICY => *member = Member::Bytes(b"anything goes\n".to_vec()),
                _ => {}
            }
        }
        let verified = verify(&archive(&replaced, &blobs)).expect("verifies");
        assert_eq!(verified.not_vouched_for[0], "policy.toml (format 1 does not sign it)");
        assert_eq!(verified.policy_as_declared, Some(false));

        // An entry changed and hashed again is not in the signed tree.
        let mut forged = old.clone();
        let rewritten =
            Entry::seal(6, entries[5].at, entries[5].actor.clone(), "note.added", "{}".into(), entries[5].prev);
        let lines: String = entries[..5].iter().chain([&rewritten]).map(|e| record_line(e) + "\n").collect();
        for (name, member) in &mut forged.members {
            if name == RECORD {
                *member = Member::Bytes(lines.clone().into_bytes());
            }
        }
        assert_eq!(verify(&archive(&forged, &blobs)).unwrap_err().check, "root");

        // Format 1 with the manifest line, or with format 2's hashes, is neither format.
        let mut lined = old.clone();
        for (name, member) in &mut lined.members {
            if name == CHECKPOINT {
                *member = Member::Bytes(
                    contents(&entries, &Scope { blobs: true, ..Scope::default() }).checkpoint.into_bytes(),
                );
            }
        }
        assert!(verify(&archive(&lined, &blobs)).unwrap_err().reason.contains("format 1 has no"));
        let mut hashed = old.clone();
        hashed.manifest.record_sha256 = Some(sha256_hex(lines.as_bytes()));
        for (name, member) in &mut hashed.members {
            if name == MANIFEST {
                *member = Member::Bytes(canonical_bytes(&hashed.manifest));
            }
        }
        assert!(verify(&archive(&hashed, &blobs)).unwrap_err().reason.contains("format 1 has no"));
    }

    fn bundle(n: usize, scope: &Scope) -> Vec<u8> {
        let (entries, blobs) = record(n, "note");
        archive(&contents(&entries, scope), &blobs)
    }

    fn verify(bytes: &[u8]) -> Result<Verified, Failure> {
        verify_bytes(bytes, &Options::default())
    }

    #[test]
    fn a_full_export_verifies_and_says_what_it_holds() {
        let bytes = bundle(7, &Scope { blobs: true, ..Scope::default() });
        let verified = verify(&bytes).expect("verifies");
        assert_eq!((verified.size, verified.entries, verified.excerpt), (7, 7, false));
        assert_eq!((verified.evidence, verified.blobs), (1, 1));
        assert_eq!(verified.policy_as_declared, Some(true));
        assert_eq!(verified.origin, format!("sitrep/{DEPLOYMENT}/INC-1"));
        assert_eq!(verified.public_key, checkpoint::encode_public_key(&key().verifying_key()));

        // Without the files, the manifest still lists the evidence, as not included.
        let without = bundle(7, &Scope::default());
        let verified = verify(&without).expect("verifies");
        assert_eq!((verified.evidence, verified.blobs), (1, 0));
    }

    #[test]
    fn any_changed_byte_anywhere_fails() {
        let bytes = bundle(6, &Scope { blobs: true, since: Some(2), ..Scope::default() });
        for (index, mask) in (0..bytes.len()).step_by(7).zip([0x01u8, 0x80, 0x20, 0xff].into_iter().cycle()) {
            let mut changed = bytes.clone();
            changed[index] ^= mask;
            assert!(verify(&changed).is_err(), "byte {index} ^ {mask:#x} of {} still verifies", bytes.len());
        }
        let excerpt = bundle(6, &Scope { entries: Some(vec![2, 5]), ..Scope::default() });
        for index in (0..excerpt.len()).step_by(11) {
            let mut changed = excerpt.clone();
            changed[index] ^= 0x04;
            assert!(verify(&changed).is_err(), "excerpt byte {index} still verifies");
        }
    }

    #[test]
    fn cut_or_extended_archives_fail() {
        let bytes = bundle(4, &Scope::default());
        assert!(verify(&bytes[..bytes.len() - 1]).is_err());
        assert!(verify(&bytes[..bytes.len() - BLOCK]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(verify(&longer).unwrap_err().reason, "there are bytes after the end of the archive");
        // Fed in odd pieces, the reader gives the same answer as fed whole.
        let mut reader = Reader::new();
        for piece in bytes.chunks(333) {
            reader.feed(piece).expect("feeds");
        }
        assert!(reader.finish().expect("complete").verify(&Options::default()).is_ok());
    }

    #[test]
    fn an_excerpt_proves_each_entry_and_a_tampered_one_fails() {
        let (entries, blobs) = record(9, "note");
        let scope = Scope { entries: Some(vec![7, 3, 3]), blobs: true, ..Scope::default() };
        let good = contents(&entries, &scope);
        let verified = verify(&archive(&good, &blobs)).expect("verifies");
        assert_eq!((verified.excerpt, verified.seqs.clone(), verified.size), (true, vec![3, 7], 9));
        assert_eq!((verified.evidence, verified.blobs, verified.policy_as_declared), (1, 1, None));

        // Entry 7 rewritten and re-hashed: it is internally consistent but not in the signed tree.
        let mut forged = good.clone();
        let original = &entries[6];
        let rewritten = Entry::seal(
            7,
            original.at,
            original.actor.clone(),
            "note.added",
            r#"{"text":"nothing happened"}"#.into(),
            original.prev,
        );
        let record_bytes = format!("{}\n{}\n", record_line(&entries[2]), record_line(&rewritten)).into_bytes();
        for (name, member) in &mut forged.members {
            if name == RECORD {
                *member = Member::Bytes(record_bytes.clone());
            }
        }
        // Without the key, the manifest's hash of the record gives it away...
        let failure = verify(&archive(&forged, &blobs)).unwrap_err();
        assert_eq!((failure.file.as_str(), failure.check), (RECORD, "entry"), "{failure}");
        // ...and with it, the inclusion proof against the signed root.
        reseal(&mut forged);
        let failure = verify(&archive(&forged, &blobs)).unwrap_err();
        assert_eq!((failure.check, failure.seq), ("inclusion", Some(7)), "{failure}");

        assert!(excerpt_seqs(&[0], 9).is_err());
        assert!(excerpt_seqs(&[10], 9).is_err());
        assert!(excerpt_seqs(&[], 9).is_err());
    }

    #[test]
    fn another_key_fails_and_the_right_one_is_named() {
        let bytes = bundle(4, &Scope::default());
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let failure = verify_bytes(&bytes, &Options { key: Some(other), earlier: None }).unwrap_err();
        assert_eq!((failure.file.as_str(), failure.check), ("--key", "key"));
        let right =
            verify_bytes(&bytes, &Options { key: Some(key().verifying_key()), earlier: None }).expect("verifies");
        assert!(right.key_given);

        // Re-signed by another key but claiming ours: the signature fails.
        let (entries, blobs) = record(4, "note");
        let mut forged = contents(&entries, &Scope::default());
        let other_key = SigningKey::from_bytes(&[4; 32]);
        let resigned = assemble(DEPLOYMENT, IncidentNumber(1), &entries, POLICY_TEXT, &other_key, &Scope::default())
            .expect("assembles");
        for (name, member) in &mut forged.members {
            if name == CHECKPOINT {
                *member = Member::Bytes(resigned.checkpoint.clone().into_bytes());
            }
        }
        assert_eq!(verify(&archive(&forged, &blobs)).unwrap_err().check, "signature");
    }

    fn earlier_checkpoint(entries: &[Entry]) -> String {
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(&e.hash.0)).collect();
        Checkpoint {
            origin: checkpoint::origin(DEPLOYMENT, IncidentNumber(1)),
            size: entries.len() as u64,
            root: merkle::root(&leaves),
            manifest: None,
        }
        .sign(&checkpoint::key_name(DEPLOYMENT), &key())
        .expect("signs")
    }

    #[test]
    fn a_record_truncated_or_rewritten_and_re_signed_is_caught_by_an_earlier_checkpoint() {
        let (entries, blobs) = record(8, "note");
        let earlier = earlier_checkpoint(&entries[..6]);
        let with = |bytes: &[u8]| verify_bytes(bytes, &Options { key: None, earlier: Some(earlier.clone()) });

        // The honest record grew from 6 to 8 entries.
        let honest = archive(&contents(&entries, &Scope::default()), &blobs);
        assert_eq!(with(&honest).expect("extends").extends_earlier, Some(6));

        // Cut to 5 entries and signed again with the deployment's own key: valid on its own...
        let truncated = archive(&contents(&entries[..5], &Scope::default()), &blobs);
        assert!(verify(&truncated).is_ok());
        // ...but shorter than what was signed before.
        let failure = with(&truncated).unwrap_err();
        assert!(failure.reason.contains("the record shrank"), "{failure}");

        // Cut to 4 and grown again with other entries past the earlier size.
        let (other, _) = record(9, "rewritten");
        let mut forked: Vec<Entry> = entries[..4].to_vec();
        for entry in &other[4..] {
            let prev = forked.last().map(|e| e.hash).unwrap_or(EntryHash::ZERO);
            forked.push(Entry::seal(entry.seq, entry.at, entry.actor.clone(), &entry.kind, entry.body.clone(), prev));
        }
        let rewritten = archive(&contents(&forked, &Scope::default()), &blobs);
        assert!(verify(&rewritten).is_ok());
        assert!(with(&rewritten).unwrap_err().reason.contains("was rewritten"));

        // Excerpts carry a consistency proof when asked; without one they cannot show growth.
        let excerpt = Scope { entries: Some(vec![8]), since: Some(6), ..Scope::default() };
        assert_eq!(with(&archive(&contents(&entries, &excerpt), &blobs)).expect("extends").extends_earlier, Some(6));
        let forked_excerpt = archive(&contents(&forked, &excerpt), &blobs);
        assert!(with(&forked_excerpt).unwrap_err().reason.contains("was rewritten"));
        let bare = Scope { entries: Some(vec![8]), ..Scope::default() };
        assert!(with(&archive(&contents(&entries, &bare), &blobs)).unwrap_err().reason.contains("consistency proof"));

        // An earlier checkpoint by another key, or of another record, proves nothing.
        let stranger = Checkpoint {
            origin: checkpoint::origin(DEPLOYMENT, IncidentNumber(1)),
            size: 6,
            root: [0; 32],
            manifest: None,
        }
        .sign(&checkpoint::key_name(DEPLOYMENT), &SigningKey::from_bytes(&[5; 32]))
        .expect("signs");
        assert!(verify_bytes(&honest, &Options { key: None, earlier: Some(stranger) }).is_err());
    }

    #[test]
    fn a_consistency_proof_in_the_bundle_is_checked() {
        let (entries, blobs) = record(11, "note");
        let verified = verify(&archive(&contents(&entries, &Scope { since: Some(5), ..Scope::default() }), &blobs))
            .expect("verifies");
        assert_eq!(verified.consistency_from, Some(5));
        assert!(
            assemble(
                DEPLOYMENT,
                IncidentNumber(1),
                &entries,
                POLICY_TEXT,
                &key(),
                &Scope { since: Some(12), ..Scope::default() }
            )
            .is_err()
        );
        assert!(
            assemble(
                DEPLOYMENT,
                IncidentNumber(1),
                &entries,
                POLICY_TEXT,
                &key(),
                &Scope { since: Some(0), ..Scope::default() }
            )
            .is_err()
        );
    }

    #[test]
    fn an_absent_proof_is_written_one_way_and_keys_have_one_spelling() {
        let proofs = |text: &str| serde_json::from_str::<Proofs>(text);
        assert!(proofs(r#"{"inclusion":[]}"#).is_ok());
        assert!(proofs(r#"{"consistency":null,"inclusion":[]}"#).is_err(), "null is not how absent is written");
        let key = checkpoint::encode_public_key(&key().verifying_key());
        assert!(checkpoint::decode_public_key(&key).is_ok());
        assert!(checkpoint::decode_public_key(&format!("{key}\n")).is_err());
        assert!(checkpoint::parse_public_key(&format!("{key}\n")).is_ok(), "a key file may end in a newline");
    }

    #[test]
    fn record_lines_are_the_canonical_entry() {
        let (entries, _) = record(3, "note");
        let line = record_line(&entries[2]);
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(canonical_json(&value).expect("canonical"), line);
        assert!(line.starts_with(r#"{"actor":"tess","at":"#), "{line}");
        let parsed = parse_line(1, line.as_bytes()).expect("parses");
        assert_eq!(parsed.hash, entries[2].hash);
        // A redacted entry, as a reader without evidence access gets it, is not an export line.
        let redacted = format!("{},\"redacted\":true}}", &line[..line.len() - 1]);
        assert!(parse_line(1, redacted.as_bytes()).is_err());
    }

    #[test]
    fn the_quick_line_check_accepts_exactly_what_the_general_one_accepts() {
        let (entries, _) = record(4, "n\u{e9}e \u{2028} \\ </script>");
        for entry in &entries {
            let line = record_line(entry);
            // The exporter's own lines take the quick path and read the same as the general one.
            let quick = well_formed_line(line.as_bytes()).expect("an exported line is well formed");
            let general = parse_line_generally(1, line.as_bytes()).expect("and sound");
            assert_eq!((quick.seq, quick.hash, &quick.body), (general.seq, general.hash, &general.body));
            // serde_json's reading of the wire form, canonicalised, is the same line.
            let value = serde_json::to_value(entry).expect("serialises");
            assert_eq!(canonical_json(&value).expect("canonical"), line);

            let bytes = line.into_bytes();
            for index in 0..bytes.len() {
                for change in [0x01u8, 0x20, 0x80] {
                    let mut changed = bytes.clone();
                    changed[index] ^= change;
                    if well_formed_line(&changed).is_some() {
                        assert!(
                            parse_line_generally(1, &changed).is_ok(),
                            "byte {index} ^ {change:#x}: the quick check accepts what the general one refuses"
                        );
                    }
                    assert!(parse_line(1, &changed).is_err(), "byte {index} ^ {change:#x} of seq {} passes", entry.seq);
                }
            }
            // A line the quick check cannot take (an escape where none is needed) is still judged.
            let escaped = String::from_utf8(bytes).expect("UTF-8").replacen("\"actor\":\"t", "\"actor\":\"\\u0074", 1);
            assert!(well_formed_line(escaped.as_bytes()).is_none());
            assert!(parse_line(1, escaped.as_bytes()).is_err());
        }
    }
}
