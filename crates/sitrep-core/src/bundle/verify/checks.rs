//! [`Bundle::verify`], one check after another, and what the signature leaves unvouched for.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::lines::{Line, record_lines};
use super::{Bundle, Failure, Options, Verified, canonical_value, fail, fail_at};
use crate::bundle::{CHECKPOINT, FORMAT, FORMAT_1, MANIFEST, Manifest, POLICY, PROOFS, Proofs, RECORD, blob_member};
use crate::checkpoint::{self, VerifyingKey};
use crate::entry::{EntryHash, sha256_hex};
use crate::merkle::{self, Hash};

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
        let (key_name, bundle_key) = self.origin_and_key(options)?;
        let (size, root) = self.signed_checkpoint(&key_name, &bundle_key, format_1)?;
        self.member_hashes(format_1)?;
        let lines = record_lines(&self.record, manifest, size)?;
        let proofs = self.proofs()?;
        let leaves: Vec<Hash> = lines.iter().map(|line| merkle::leaf_hash(&line.hash.0)).collect();
        let consistency_from = self.tree(&lines, &leaves, proofs.as_ref(), size, &root)?;
        self.evidence_and_members(&lines, proofs.is_some())?;

        // An earlier checkpoint: the record only grew.
        let extends_earlier = match &options.earlier {
            None => None,
            Some(text) => Some(self.extends(text, &key_name, &bundle_key, size, &root, &leaves, proofs.as_ref())?),
        };

        let declared = lines.first().filter(|line| line.seq == 1);
        let policy_as_declared = declared
            .map(|line| line.body.get("policy").and_then(Value::as_str) == Some(manifest.policy_sha256.as_str()));
        let not_vouched_for = not_vouched_for(manifest, options, policy_as_declared, consistency_from);
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

    /// The manifest's format, its origin (`sitrep/<deployment>/<incident>`) and its public key,
    /// which must be the one `--key` gives, if given.
    fn origin_and_key(&self, options: &Options) -> Result<(String, VerifyingKey), Failure> {
        let manifest = &self.manifest;
        if manifest.format != FORMAT && manifest.format != FORMAT_1 {
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
        Ok((key_name, bundle_key))
    }

    /// The signed checkpoint: one signature by the bundle's key over the manifest's origin and,
    /// from format 2, over the manifest's SHA-256. Its size and root.
    fn signed_checkpoint(&self, key_name: &str, key: &VerifyingKey, format_1: bool) -> Result<(u64, Hash), Failure> {
        let text = std::str::from_utf8(&self.checkpoint).map_err(|_| fail(CHECKPOINT, "checkpoint", "not UTF-8"))?;
        let signed = checkpoint::parse(text).map_err(|e| fail(CHECKPOINT, "checkpoint", e.to_string()))?;
        if signed.signatures.len() != 1 {
            return Err(fail(CHECKPOINT, "checkpoint", "a bundle's checkpoint carries exactly one signature"));
        }
        if signed.checkpoint.origin != self.manifest.origin {
            return Err(fail(CHECKPOINT, "checkpoint", "its origin is not the manifest's"));
        }
        signed.verify(key_name, key).map_err(|e| fail(CHECKPOINT, "signature", e.to_string()))?;
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
        Ok((size, root))
    }

    /// The members the manifest binds by their SHA-256 (in format 1, only the policy, and
    /// unsigned: a check that the manifest is consistent, not that it is vouched for).
    fn member_hashes(&self, format_1: bool) -> Result<(), Failure> {
        let manifest = &self.manifest;
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
        Ok(())
    }

    /// `proofs.json`, if the bundle has one.
    fn proofs(&self) -> Result<Option<Proofs>, Failure> {
        Ok(match &self.proofs {
            None => None,
            Some(bytes) => Some(
                serde_json::from_value::<Proofs>(canonical_value(PROOFS, bytes)?)
                    .map_err(|e| fail(PROOFS, "proofs", format!("not a proofs file: {e}")))?,
            ),
        })
    }

    /// The Merkle tree: an excerpt's entries each proven in the signed tree, a full record's
    /// root the signed root; and the consistency proof, whose starting size it returns.
    fn tree(
        &self,
        lines: &[Line],
        leaves: &[Hash],
        proofs: Option<&Proofs>,
        size: u64,
        root: &Hash,
    ) -> Result<Option<u64>, Failure> {
        let manifest = &self.manifest;
        if manifest.excerpt {
            let Some(proofs) = proofs else {
                return Err(fail(PROOFS, "inclusion", "an excerpt needs proofs.json"));
            };
            if proofs.inclusion.len() != lines.len() {
                return Err(fail(PROOFS, "inclusion", "there is not exactly one inclusion proof per entry"));
            }
            for ((line, leaf), proof) in lines.iter().zip(leaves).zip(&proofs.inclusion) {
                if proof.seq != line.seq {
                    return Err(fail_at(PROOFS, line.seq, "inclusion", format!("the proof is for seq {}", proof.seq)));
                }
                let path: Vec<Hash> = proof.path.iter().map(|h| h.0).collect();
                merkle::verify_inclusion(line.seq - 1, size, leaf, &path, root)
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
            if merkle::root(leaves) != *root {
                return Err(fail(RECORD, "root", "the entries' Merkle root is not the signed root"));
            }
            if proofs.is_some_and(|p| !p.inclusion.is_empty() || p.consistency.is_none()) {
                return Err(fail(PROOFS, "proofs", "a full export's proofs.json holds only a consistency proof"));
            }
        }
        Ok(match proofs.and_then(|p| p.consistency.as_ref()) {
            None => None,
            Some(consistency) => {
                let proof: Vec<Hash> = consistency.proof.iter().map(|h| h.0).collect();
                merkle::verify_consistency(consistency.size, size, &consistency.root.0, root, &proof)
                    .map_err(|e| fail(PROOFS, "consistency", format!("the consistency proof fails: {e}")))?;
                if !manifest.excerpt && merkle::root(&leaves[..consistency.size as usize]) != consistency.root.0 {
                    return Err(fail(PROOFS, "consistency", "its root is not the root of the record's first entries"));
                }
                Some(consistency.size)
            }
        })
    }

    /// The evidence the manifest lists is what the entries register, and its file list is the
    /// bundle's members.
    fn evidence_and_members(&self, lines: &[Line], has_proofs: bool) -> Result<(), Failure> {
        let manifest = &self.manifest;
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
        if has_proofs {
            files.push(PROOFS.to_owned());
        }
        files.extend(manifest.evidence.iter().filter(|i| i.included).map(|i| blob_member(&i.sha256)));
        if files != manifest.files {
            return Err(fail(MANIFEST, "manifest", "the files listed are not the bundle's members"));
        }
        Ok(())
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

/// What the bundle names but its signature does not vouch for, in words.
fn not_vouched_for(
    manifest: &Manifest,
    options: &Options,
    policy_as_declared: Option<bool>,
    consistency_from: Option<u64>,
) -> Vec<String> {
    let format_1 = manifest.format == FORMAT_1;
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
    not_vouched_for
}
