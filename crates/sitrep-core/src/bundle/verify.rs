//! Reading and verifying a bundle, every byte, and saying what the signature vouches for.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::*;
use crate::checkpoint::{self, VerifyingKey};
use crate::entry::{EntryHash, canonical_json, preimage, sha256_hex};
use crate::ids::IncidentNumber;
use crate::merkle::{self, Hash};
use crate::time::Timestamp;

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

/// One verified line of `record.jsonl`.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) seq: u64,
    pub(super) at: String,
    pub(super) kind: String,
    pub(super) body: Value,
    pub(super) prev: EntryHash,
    pub(super) hash: EntryHash,
}

pub(super) const ENTRY_FIELDS: [&str; 8] = ["actor", "at", "body", "hash", "kind", "prev", "seq", "v"];

/// A line's fields, borrowed where no escape forces a copy; the body kept as its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Fields<'a> {
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
pub(super) fn parse_line(number: usize, line: &[u8]) -> Result<Line, Failure> {
    well_formed_line(line).map_or_else(|| parse_line_generally(number, line), Ok)
}

/// The line, if it is exactly what the exporter writes for a sound entry.
pub(super) fn well_formed_line(line: &[u8]) -> Option<Line> {
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
pub(super) fn parse_line_generally(number: usize, line: &[u8]) -> Result<Line, Failure> {
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
