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
//!
//! The manifest and its members are here; `tar.rs` is the archive format, `write.rs` makes a
//! bundle and `verify.rs` reads and checks one.

use serde::{Deserialize, Serialize};

use crate::entry::EntryHash;
use crate::ids::IncidentNumber;

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

mod tar;
mod verify;
mod write;

pub use tar::*;
pub use verify::*;
pub use write::*;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    use super::*;
    use crate::checkpoint::{self, Checkpoint, SigningKey};
    use crate::entry::{Entry, canonical_json, sha256_hex};
    use crate::ids::Actor;
    use crate::merkle::{self, Hash};
    use crate::time::Timestamp;

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
