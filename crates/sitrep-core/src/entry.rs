//! The entry: one line of a record, and the hash that chains it to the line before.
//!
//! # Encoding (format version 1)
//!
//! An entry's hash is SHA-256 over the RFC 8785 (JCS) canonical JSON of every other field:
//!
//! ```text
//! {"actor":"alice","at":"2026-11-27T16:26:42.123456Z","body":{…},"kind":"fact.logged",
//!  "prev":"<64 hex>","seq":7,"v":1}
//! ```
//!
//! JCS was chosen over a bespoke binary layout so that an auditor can re-verify an export in any
//! language with an off-the-shelf canonicaliser and SHA-256. `v` names this encoding so that a
//! later format can coexist with old records. `prev` is the previous entry's hash, all zeros for
//! seq 1. Bodies are stored as canonical JSON text, so the preimage is assembled from the stored
//! text without re-parsing it; a test checks that this equals the canonicaliser's own output.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::ids::{Actor, IncidentNumber};
use crate::time::Timestamp;

/// The encoding version every entry written by this build carries.
pub const ENTRY_FORMAT: u64 = 1;

/// A SHA-256 digest, written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The `prev` of every record's first entry.
    pub const ZERO: EntryHash = EntryHash([0; 32]);

    pub fn of(bytes: &[u8]) -> Self {
        EntryHash(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        let mut digits = [0u8; 64];
        // 32 bytes always fit 64 hex digits, and hex digits are ASCII.
        let _ = hex::encode_to_slice(self.0, &mut digits);
        String::from_utf8_lossy(&digits).into_owned()
    }

    /// The first 12 hex digits, for people comparing hashes by eye.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.short())
    }
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The text was not 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hash (64 lower-case hex digits)")]
pub struct HashParseError;

/// Whether `text` spells a SHA-256 the one way the record does: 64 lower-case hex digits. Every
/// hash the record, a bundle, a token or a blob name holds is checked with this.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FromStr for EntryHash {
    type Err = HashParseError;

    /// Strict: upper-case digits are refused, so a hash has exactly one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_sha256(s) {
            return Err(HashParseError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashParseError)?;
        Ok(EntryHash(out))
    }
}

impl Serialize for EntryHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntryHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// Which record an entry belongs to: the organisation's, or one incident's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordId {
    Org,
    Incident(IncidentNumber),
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::Org => f.write_str("organisation record"),
            RecordId::Incident(number) => number.fmt(f),
        }
    }
}

/// One sealed line of a record. `body` is canonical JSON text, as hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: String,
    pub body: String,
    pub prev: EntryHash,
    pub hash: EntryHash,
}

impl Entry {
    /// Builds the entry that follows `prev` and computes its hash.
    pub fn seal(seq: u64, at: Timestamp, actor: Actor, kind: &str, body: String, prev: EntryHash) -> Entry {
        let at_text = at.to_string();
        let actor_text = actor.to_string();
        let hash = EntryHash::of(&preimage(ENTRY_FORMAT, seq, &at_text, &actor_text, kind, &body, &prev.to_hex()));
        Entry { seq, at, actor, kind: kind.to_owned(), body, prev, hash }
    }

    /// Recomputes the hash from the fields, for verifiers holding a parsed entry.
    pub fn computed_hash(&self) -> EntryHash {
        EntryHash::of(&preimage(
            ENTRY_FORMAT,
            self.seq,
            &self.at.to_string(),
            &self.actor.to_string(),
            &self.kind,
            &self.body,
            &self.prev.to_hex(),
        ))
    }

    /// The canonical JSON (RFC 8785) of the entry as the API serves it, hash included: a line
    /// of an export's `record.jsonl`. Written directly, as the preimage is: the generic
    /// canonicaliser made exporting a large record five times slower (docs/benchmarks.md).
    pub fn canonical_line_into(&self, out: &mut Vec<u8>) {
        let hash = self.hash.to_hex();
        let (at, actor) = (self.at.to_string(), self.actor.to_string());
        object_into(out, ENTRY_FORMAT, self.seq, &at, &actor, &self.kind, &self.body, &self.prev.to_hex(), Some(&hash));
    }
}

/// The bytes an entry's hash covers: the JCS encoding of the entry without its hash.
///
/// Keys are in JCS order (all ASCII, so byte order); strings are escaped by serde_json, whose
/// escaping is the one JCS prescribes; `body` must already be canonical JSON.
pub fn preimage(version: u64, seq: u64, at: &str, actor: &str, kind: &str, body: &str, prev: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + at.len() + actor.len() + kind.len() + body.len() + 64);
    preimage_into(&mut out, version, seq, at, actor, kind, body, prev);
    out
}

/// As [`preimage`], appending to a buffer the caller reuses.
#[allow(clippy::too_many_arguments)]
pub fn preimage_into(
    out: &mut Vec<u8>,
    version: u64,
    seq: u64,
    at: &str,
    actor: &str,
    kind: &str,
    body: &str,
    prev: &str,
) {
    object_into(out, version, seq, at, actor, kind, body, prev, None);
}

/// The entry object in JCS key order (`hash` sorts between `body` and `kind`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn object_into(
    out: &mut Vec<u8>,
    version: u64,
    seq: u64,
    at: &str,
    actor: &str,
    kind: &str,
    body: &str,
    prev: &str,
    hash: Option<&str>,
) {
    out.extend_from_slice(b"{\"actor\":");
    push_json_string(out, actor);
    out.extend_from_slice(b",\"at\":");
    push_json_string(out, at);
    out.extend_from_slice(b",\"body\":");
    out.extend_from_slice(body.as_bytes());
    if let Some(hash) = hash {
        out.extend_from_slice(b",\"hash\":");
        push_json_string(out, hash);
    }
    out.extend_from_slice(b",\"kind\":");
    push_json_string(out, kind);
    out.extend_from_slice(b",\"prev\":");
    push_json_string(out, prev);
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"v\":");
    out.extend_from_slice(version.to_string().as_bytes());
    out.push(b'}');
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Most record strings need no escaping; copying them directly avoids serde's per-character
    // state machine. Anything else goes through serde_json, whose escaping is JCS's.
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// The SHA-256 of some bytes in lower-case hex: how policies, playbooks, statement texts and
/// evidence are named in the record.
pub fn sha256_hex(bytes: &[u8]) -> String {
    EntryHash::of(bytes).to_hex()
}

/// Canonical JSON (RFC 8785) of any serialisable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json_canonicalizer::to_string(value)
}

/// The wire form of an entry, as served by the API and written into exports.
#[derive(Serialize, Deserialize)]
struct WireEntry<'a> {
    v: u64,
    seq: u64,
    at: Timestamp,
    actor: Actor,
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
    prev: EntryHash,
    hash: EntryHash,
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let body: &serde_json::value::RawValue = serde_json::from_str(&self.body).map_err(S::Error::custom)?;
        WireEntry {
            v: ENTRY_FORMAT,
            seq: self.seq,
            at: self.at,
            actor: self.actor.clone(),
            kind: std::borrow::Cow::Borrowed(&self.kind),
            body,
            prev: self.prev,
            hash: self.hash,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Entry {
    /// Re-canonicalises the body, so an entry read from any JSON re-hashes as it was sealed.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Owned {
            v: u64,
            seq: u64,
            at: Timestamp,
            actor: Actor,
            kind: String,
            body: serde_json::Value,
            prev: EntryHash,
            hash: EntryHash,
        }
        let wire = Owned::deserialize(deserializer)?;
        if wire.v != ENTRY_FORMAT {
            return Err(D::Error::custom(format!(
                "entry format v{} is not known to this build (it reads v{ENTRY_FORMAT})",
                wire.v
            )));
        }
        let body = canonical_json(&wire.body).map_err(D::Error::custom)?;
        Ok(Entry {
            seq: wire.seq,
            at: wire.at,
            actor: wire.actor,
            kind: wire.kind,
            body,
            prev: wire.prev,
            hash: wire.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at() -> Timestamp {
        "2026-11-27T16:26:42.123456Z".parse().expect("valid")
    }

    #[test]
    fn preimage_is_the_canonicaliser_output() {
        let body =
            canonical_json(&serde_json::json!({"text": "a\u{1}\"<b>", "z": 1, "a": [true, null]})).expect("canonical");
        let entry =
            Entry::seal(7, at(), Actor::system("webhook").expect("valid"), "note.added", body.clone(), EntryHash::ZERO);
        let object = serde_json::json!({
            "v": 1, "seq": 7, "at": at().to_string(), "actor": "system:webhook",
            "kind": "note.added", "body": serde_json::from_str::<serde_json::Value>(&body).expect("json"),
            "prev": EntryHash::ZERO.to_hex(),
        });
        let expected = canonical_json(&object).expect("canonical");
        let got = preimage(1, 7, &at().to_string(), "system:webhook", "note.added", &body, &EntryHash::ZERO.to_hex());
        assert_eq!(String::from_utf8(got).expect("utf-8"), expected);
        assert_eq!(entry.hash, EntryHash::of(expected.as_bytes()));
    }

    proptest! {
        #[test]
        fn any_text_body_encodes_canonically(text in "\\PC*", n in 0u64..1 << 53) {
            let body = canonical_json(&serde_json::json!({"text": text, "n": n})).expect("canonical");
            let object = serde_json::json!({
                "v": 1, "seq": n, "at": at().to_string(), "actor": "alice",
                "kind": "note.added", "body": serde_json::from_str::<serde_json::Value>(&body).expect("json"),
                "prev": EntryHash::ZERO.to_hex(),
            });
            let got = preimage(1, n, &at().to_string(), "alice", "note.added", &body, &EntryHash::ZERO.to_hex());
            prop_assert_eq!(String::from_utf8(got).expect("utf-8"), canonical_json(&object).expect("canonical"));
        }
    }

    #[test]
    fn wire_round_trip_keeps_the_hash() {
        let entry = Entry::seal(
            1,
            at(),
            "alice".parse().expect("actor"),
            "note.added",
            r#"{"text":"hi"}"#.into(),
            EntryHash::ZERO,
        );
        let wire = serde_json::to_string(&entry).expect("serialises");
        assert!(wire.contains(r#""body":{"text":"hi"}"#), "{wire}");
        // Whitespace and key order in a re-typed export do not matter; content does.
        let retyped = wire.replace(r#"{"text":"hi"}"#, r#"{ "text" : "hi" }"#);
        let back: Entry = serde_json::from_str(&retyped).expect("parses");
        assert_eq!(back, entry);
        assert_eq!(back.computed_hash(), entry.hash);
    }

    #[test]
    fn hashes_have_one_spelling() {
        let text = "ab".repeat(32);
        assert!(text.parse::<EntryHash>().is_ok());
        assert!(text.to_uppercase().parse::<EntryHash>().is_err());
        assert!(text[..62].parse::<EntryHash>().is_err());
    }
}
