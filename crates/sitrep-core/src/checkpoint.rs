//! Signed checkpoints: the deployment's Ed25519 signature over a record's Merkle root and size.
//!
//! A checkpoint is a C2SP signed note (<https://c2sp.org/signed-note>) whose text is a C2SP
//! checkpoint (<https://c2sp.org/tlog-checkpoint>):
//!
//! ```text
//! sitrep/6f1c…-uuid/INC-1                      origin: the deployment and the record
//! 42                                           tree size: the number of entries
//! n3dS…base64 of the 32-byte root…=            the RFC 9162 root over the entries' hashes
//! bundle.json sha256 3f2a…64 hex…              only in a bundle: the manifest it vouches for
//!                                              a blank line
//! — sitrep/6f1c…-uuid AbCd…base64…             key name, base64(key id ‖ Ed25519 signature)
//! ```
//!
//! The signature covers the text up to and including the newline after the last text line,
//! exactly the bytes before the blank line. The one extension line sitrep knows (C2SP allows
//! extension lines after the root) binds an export bundle's manifest to the signature; a
//! checkpoint served on its own has none. The key name is the deployment (`sitrep/<uuid>`); the key id is
//! the first four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key), as the signed-note spec
//! recommends for Ed25519. Everything here is computation on bytes: signing takes the key as an
//! argument, and Ed25519 signing is deterministic, so no randomness is needed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::ids::IncidentNumber;
use crate::merkle::Hash;

/// The signed-note signature type of Ed25519.
pub const ED25519: u8 = 0x01;

/// The em dash and space every signature line starts with.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// More signature lines than this and the note is refused (Go's `note.Open` has the same cap).
const MAX_SIGNATURES: usize = 100;

/// The start of the one extension line: `bundle.json sha256 <64 lower-case hex>`.
pub const MANIFEST_LINE: &str = "bundle.json sha256 ";

/// Why a checkpoint could not be made, read or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not a signed note: {0}")]
    Malformed(String),
    #[error("'{0}' cannot be a key name or origin: it must be non-empty, without spaces or '+'")]
    BadName(String),
    #[error("the checkpoint has no signature by {key_name} (key id {key_id})")]
    NotSigned { key_name: String, key_id: String },
    #[error("the signature by {key_name} does not verify: the checkpoint or the signature was changed")]
    BadSignature { key_name: String },
    #[error("the checkpoint has more than one signature line by {key_name} (key id {key_id})")]
    TwiceSigned { key_name: String, key_id: String },
    #[error("not an Ed25519 public key (base64 of 32 bytes): {0}")]
    BadKey(String),
}

/// The key name of a deployment's signing key: `sitrep/<deployment uuid>`.
pub fn key_name(deployment: Uuid) -> String {
    format!("sitrep/{deployment}")
}

/// The origin line of an incident record's checkpoints: `sitrep/<deployment uuid>/INC-n`.
pub fn origin(deployment: Uuid, incident: IncidentNumber) -> String {
    format!("{}/{incident}", key_name(deployment))
}

/// The key name an origin's checkpoints are signed with: the origin without its last segment.
pub fn key_name_of(origin: &str) -> Option<&str> {
    origin.rsplit_once('/').map(|(key_name, _)| key_name).filter(|k| !k.is_empty())
}

/// The signed-note key id: SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key), first four bytes.
pub fn key_id(key_name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(key_name.as_bytes());
    hasher.update([b'\n', ED25519]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Reads a public key as a person or a file gives it (`deployment.pub`, `--key`): the base64
/// of [`decode_public_key`], with spaces, tabs and line ends around it ignored.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, CheckpointError> {
    decode_public_key(text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')))
}

/// Reads a public key written as exactly the 44 characters of canonical base64 of its 32 bytes,
/// nothing around them (as a bundle's manifest and `deployment.created` hold it).
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, CheckpointError> {
    let bytes = decode_canonical(text).ok_or_else(|| CheckpointError::BadKey("not canonical base64".into()))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| CheckpointError::BadKey(format!("{} bytes, not 32", b.len())))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| CheckpointError::BadKey(e.to_string()))
}

/// A public key as base64.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// Standard base64 with padding, accepted only in the one spelling `encode` gives, so no
/// changed character can decode to the same bytes.
pub fn decode_canonical(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text).ok()?;
    (STANDARD.encode(&bytes) == text).then_some(bytes)
}

/// Whether a name can be a key name or origin: non-empty, no Unicode spaces, no '+', and no
/// control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// What a checkpoint states: this origin's log has `size` entries with this root (and, in a
/// bundle, the bundle's manifest is the one with this SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// SHA-256 of the `bundle.json` this checkpoint was signed for; `None` outside a bundle.
    pub manifest: Option<Hash>,
}

impl Checkpoint {
    /// The note text the signature covers: `origin\nsize\nbase64(root)\n`, then
    /// `bundle.json sha256 <hex>\n` when the checkpoint is a bundle's.
    pub fn body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        if let Some(manifest) = &self.manifest {
            body.push_str(&format!("{MANIFEST_LINE}{}\n", hex::encode(manifest)));
        }
        body
    }

    /// The signed note: the body, a blank line, and one signature line by `key`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::BadName`] if the origin or key name could not be read back.
    pub fn sign(&self, key_name: &str, key: &SigningKey) -> Result<String, CheckpointError> {
        use ed25519_dalek::Signer as _;
        for name in [self.origin.as_str(), key_name] {
            if !valid_name(name) {
                return Err(CheckpointError::BadName(name.to_owned()));
            }
        }
        let body = self.body();
        let signature = key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(key_name, &key.verifying_key()));
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!("{body}\n{SIGNATURE_PREFIX}{key_name} {}\n", STANDARD.encode(blob)))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_id: [u8; 4],
    /// What follows the key id: for Ed25519, the 64-byte signature.
    pub signature: Vec<u8>,
}

/// A parsed checkpoint with its signature lines, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub signatures: Vec<NoteSignature>,
    body: String,
}

/// Reads a signed checkpoint strictly: any byte out of place is an error, so a changed
/// checkpoint cannot parse to the same statement.
///
/// # Errors
///
/// [`CheckpointError::Malformed`] naming what is wrong.
pub fn parse(text: &str) -> Result<SignedCheckpoint, CheckpointError> {
    let bad = |what: &str| CheckpointError::Malformed(what.to_owned());
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(bad("it holds a control character other than newline"));
    }
    let split = text.rfind("\n\n").ok_or_else(|| bad("there is no blank line before the signatures"))?;
    let (body, signatures) = (&text[..=split], &text[split + 2..]);
    if body.contains("\n\n") {
        return Err(bad("the text has an empty line"));
    }
    let lines: Vec<&str> = body.strip_suffix('\n').unwrap_or(body).split('\n').collect();
    let (origin, size, root, extension) = match lines.as_slice() {
        [origin, size, root] => (origin, size, root, None),
        [origin, size, root, extension] => (origin, size, root, Some(*extension)),
        _ => {
            return Err(bad(
                "the text must be three lines (origin, tree size, root hash) and at most one extension line",
            ));
        }
    };
    if !valid_name(origin) {
        return Err(bad("the origin line is empty or holds a space or '+'"));
    }
    let size_is_canonical =
        !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (*size == "0" || !size.starts_with('0'));
    let size: u64 = size
        .parse()
        .ok()
        .filter(|_| size_is_canonical)
        .ok_or_else(|| bad("the tree size is not a decimal number without leading zeros"))?;
    let root: Hash = decode_canonical(root)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| bad("the root hash is not canonical base64 of 32 bytes"))?;
    let manifest = match extension {
        None => None,
        Some(line) => Some(
            line.strip_prefix(MANIFEST_LINE)
                .filter(|hex| crate::entry::is_sha256(hex))
                .and_then(|hex| {
                    let mut hash = [0u8; 32];
                    hex::decode_to_slice(hex, &mut hash).ok().map(|()| hash)
                })
                .ok_or_else(|| bad("the extension line is not 'bundle.json sha256 ' and 64 lower-case hex digits"))?,
        ),
    };

    let Some(lines) = signatures.strip_suffix('\n') else {
        return Err(bad("the signatures do not end with a newline"));
    };
    let mut parsed = Vec::new();
    for line in lines.split('\n') {
        let rest =
            line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| bad("a signature line does not start with '— '"))?;
        let (name, encoded) = rest.split_once(' ').ok_or_else(|| bad("a signature line has no key name"))?;
        if !valid_name(name) {
            return Err(bad("a signature line's key name is empty or holds '+'"));
        }
        let blob = decode_canonical(encoded)
            .filter(|blob| blob.len() > 4)
            .ok_or_else(|| bad("a signature is not canonical base64 of a key id and a signature"))?;
        parsed.push(NoteSignature {
            key_name: name.to_owned(),
            key_id: [blob[0], blob[1], blob[2], blob[3]],
            signature: blob[4..].to_vec(),
        });
        if parsed.len() > MAX_SIGNATURES {
            return Err(bad("more than 100 signature lines"));
        }
    }
    Ok(SignedCheckpoint {
        checkpoint: Checkpoint { origin: (*origin).to_owned(), size, root, manifest },
        signatures: parsed,
        body: body.to_owned(),
    })
}

impl SignedCheckpoint {
    /// The exact bytes the signatures cover.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Checks the signature by `key` under `key_name`. Lines by other keys are ignored, as the
    /// signed-note spec says; exactly one line must carry this key name and key id, and it must
    /// verify.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::NotSigned`] if no line carries this key name and key id,
    /// [`CheckpointError::TwiceSigned`] if more than one does, and
    /// [`CheckpointError::BadSignature`] if the one that does does not verify.
    pub fn verify(&self, key_name: &str, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let id = key_id(key_name, key);
        let mut lines = self.signatures.iter().filter(|s| s.key_name == key_name && s.key_id == id);
        let line = lines
            .next()
            .ok_or_else(|| CheckpointError::NotSigned { key_name: key_name.to_owned(), key_id: hex::encode(id) })?;
        if lines.next().is_some() {
            return Err(CheckpointError::TwiceSigned { key_name: key_name.to_owned(), key_id: hex::encode(id) });
        }
        let bad = || CheckpointError::BadSignature { key_name: key_name.to_owned() };
        let bytes: [u8; 64] = line.signature.as_slice().try_into().map_err(|_| bad())?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify_strict(self.body.as_bytes(), &signature).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn checkpoint() -> Checkpoint {
        let deployment = Uuid::from_u128(0x6f1c_0000_0000_4000_8000_0000_0000_0001);
        Checkpoint { origin: origin(deployment, IncidentNumber(1)), size: 42, root: [0xab; 32], manifest: None }
    }

    fn name() -> String {
        key_name(Uuid::from_u128(0x6f1c_0000_0000_4000_8000_0000_0000_0001))
    }

    #[test]
    fn a_signed_checkpoint_reads_back_and_verifies() {
        let text = checkpoint().sign(&name(), &key()).expect("signs");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "sitrep/6f1c0000-0000-4000-8000-000000000001/INC-1");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[2], STANDARD.encode([0xab; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} sitrep/6f1c0000-0000-4000-8000-000000000001 "), "{}", lines[4]);
        assert_eq!(lines.len(), 5);
        assert!(text.ends_with('\n'));

        let parsed = parse(&text).expect("parses");
        assert_eq!(parsed.checkpoint, checkpoint());
        assert_eq!(parsed.body(), checkpoint().body());
        assert_eq!(parsed.signatures.len(), 1);
        assert_eq!(parsed.signatures[0].key_id, key_id(&name(), &key().verifying_key()));
        assert_eq!(parsed.verify(&name(), &key().verifying_key()), Ok(()));
    }

    #[test]
    fn the_key_id_is_the_signed_note_one() {
        // SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), computed independently of `key_id`.
        let verifying = key().verifying_key();
        let mut preimage = b"example.com/log\n\x01".to_vec();
        preimage.extend_from_slice(verifying.as_bytes());
        assert_eq!(key_id("example.com/log", &verifying)[..], Sha256::digest(&preimage)[..4]);
    }

    #[test]
    fn the_signature_is_plain_ed25519_over_the_body() {
        use ed25519_dalek::Verifier as _;
        let text = checkpoint().sign(&name(), &key()).expect("signs");
        let line = text.lines().last().expect("a signature line");
        let blob = STANDARD.decode(line.rsplit_once(' ').expect("name and signature").1).expect("base64");
        assert_eq!(blob.len(), 68);
        let signature = ed25519_dalek::Signature::from_bytes(&blob[4..].try_into().expect("64 bytes"));
        key().verifying_key().verify(checkpoint().body().as_bytes(), &signature).expect("verifies");
    }

    #[test]
    fn every_changed_byte_is_refused_or_fails_to_verify() {
        let text = checkpoint().sign(&name(), &key()).expect("signs");
        let verifying = key().verifying_key();
        for index in 0..text.len() {
            for mask in [0x01u8, 0x20, 0x80] {
                let mut bytes = text.clone().into_bytes();
                bytes[index] ^= mask;
                let Ok(changed) = String::from_utf8(bytes) else { continue };
                let verdict = parse(&changed).and_then(|p| p.verify(&name(), &verifying).map(|()| p));
                assert!(verdict.is_err(), "byte {index} ^ {mask:#x} still verifies: {changed:?}");
            }
        }
    }

    #[test]
    fn another_key_or_name_does_not_verify() {
        let text = checkpoint().sign(&name(), &key()).expect("signs");
        let parsed = parse(&text).expect("parses");
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(matches!(parsed.verify(&name(), &other), Err(CheckpointError::NotSigned { .. })));
        assert!(matches!(
            parsed.verify("sitrep/another", &key().verifying_key()),
            Err(CheckpointError::NotSigned { .. })
        ));
        // A line that names our key and id but carries another key's signature.
        let forged = checkpoint().sign(&name(), &SigningKey::from_bytes(&[8; 32])).expect("signs");
        let mut parsed_forged = parse(&forged).expect("parses");
        parsed_forged.signatures[0].key_id = key_id(&name(), &key().verifying_key());
        assert!(matches!(
            parsed_forged.verify(&name(), &key().verifying_key()),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn other_keys_lines_are_ignored_and_shapes_are_strict() {
        let text = checkpoint().sign(&name(), &key()).expect("signs");
        let witness = format!("{text}\u{2014} witness.example {}\n", STANDARD.encode([9u8; 68]));
        let parsed = parse(&witness).expect("a second signature line parses");
        assert_eq!(parsed.signatures.len(), 2);
        assert_eq!(parsed.verify(&name(), &key().verifying_key()), Ok(()));

        let body = checkpoint().body();
        let signature = text.split_once("\n\n").expect("a blank line").1;
        for broken in [
            format!("{body}{signature}"),                         // no blank line
            format!("{body}\n{}", signature.trim_end()),          // no final newline
            format!("{}\n{body}\n{signature}", "extra"),          // four lines of text
            body.replace("\n42\n", "\n042\n") + "\n" + signature, // leading zero
            body.replace('=', "") + "\n" + signature,             // unpadded base64
            format!("{body}\n-- {}", &signature[4..]),            // not an em dash
        ] {
            assert!(parse(&broken).is_err(), "parsed: {broken:?}");
        }
        assert!(matches!(
            Checkpoint { origin: "has space".into(), size: 1, root: [0; 32], manifest: None }.sign(&name(), &key()),
            Err(CheckpointError::BadName(_))
        ));
    }

    #[test]
    fn a_bundles_checkpoint_signs_its_manifest_in_one_extension_line() {
        let bundled = Checkpoint { manifest: Some([0x3f; 32]), ..checkpoint() };
        let text = bundled.sign(&name(), &key()).expect("signs");
        assert_eq!(text.lines().nth(3), Some(format!("bundle.json sha256 {}", "3f".repeat(32)).as_str()));
        let parsed = parse(&text).expect("parses");
        assert_eq!(parsed.checkpoint, bundled);
        assert_eq!(parsed.verify(&name(), &key().verifying_key()), Ok(()));
        // The line is signed: dropping it, or changing the hash, breaks the signature.
        let without = text.replacen(&format!("bundle.json sha256 {}\n", "3f".repeat(32)), "", 1);
        assert!(parse(&without).expect("parses").verify(&name(), &key().verifying_key()).is_err());
        // Any other extension line, or the hash in another spelling, is refused.
        for line in [
            format!("bundle.json sha256 {}", "3F".repeat(32)),
            format!("bundle.json sha256 {}", "3f".repeat(31)),
            format!("bundle.json sha256:{}", "3f".repeat(32)),
            "witness.example/extension".to_owned(),
        ] {
            let changed = text.replacen(&format!("bundle.json sha256 {}", "3f".repeat(32)), &line, 1);
            assert!(parse(&changed).is_err(), "{line}");
        }
        // Two lines by the same key are refused even if both verify.
        let signature = text.split_once("\n\n").expect("a blank line").1;
        let twice = format!("{text}{signature}");
        assert!(matches!(
            parse(&twice).expect("parses").verify(&name(), &key().verifying_key()),
            Err(CheckpointError::TwiceSigned { .. })
        ));
    }

    #[test]
    fn public_keys_read_only_in_their_one_spelling() {
        let verifying = key().verifying_key();
        let text = encode_public_key(&verifying);
        assert_eq!(parse_public_key(&format!("{text}\n")), Ok(verifying));
        assert!(parse_public_key(&text[..40]).is_err());
        assert!(parse_public_key(&STANDARD.encode([1u8; 31])).is_err());
        assert_eq!(key_name_of("sitrep/abc/INC-3"), Some("sitrep/abc"));
        assert_eq!(key_name_of("INC-3"), None);
    }
}
