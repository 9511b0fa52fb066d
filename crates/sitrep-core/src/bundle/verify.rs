//! Reading and verifying a bundle, every byte, and saying what the signature vouches for.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;
use crate::checkpoint::VerifyingKey;
use crate::entry::canonical_json;
use crate::ids::IncidentNumber;

mod checks;
mod lines;

#[cfg(test)]
pub(super) use lines::{parse_line, parse_line_generally, well_formed_line};

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

pub(super) fn fail(file: &str, check: &'static str, reason: impl Into<String>) -> Failure {
    Failure { file: file.to_owned(), seq: None, check, reason: reason.into() }
}

pub(super) fn fail_at(file: &str, seq: u64, check: &'static str, reason: impl Into<String>) -> Failure {
    Failure { file: file.to_owned(), seq: Some(seq), check, reason: reason.into() }
}

pub(super) const ARCHIVE: &str = "archive";

/// Where the reader is in the archive.
#[derive(Debug)]
pub(super) enum State {
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
pub(super) struct Current {
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
pub(super) fn parse_manifest(bytes: &[u8]) -> Result<Manifest, Failure> {
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
pub(super) fn canonical_value(file: &str, bytes: &[u8]) -> Result<Value, Failure> {
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
