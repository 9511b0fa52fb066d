//! Checks the Merkle module against the transparency-dev/merkle RFC 6962
//! vectors, against a direct transcription of the RFC's recursive
//! definitions, and against every proof for small trees.
//!
//! The vectors live in `tests/data/rfc6962` (copied unchanged with their
//! licence) so the tests run anywhere the crate is checked out.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sitrep_core::merkle::{
    Hash, ProofError, consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};

/// Number of probe files shipped in `tests/data/rfc6962`. Pinned so that a
/// missing or emptied folder fails the test instead of passing vacuously.
const EXPECTED_PROBES: usize = 196;

/// The RFC 6962 test leaves used by the vectors (leaf data, not hashes).
const TEST_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// Root of the tree over all eight `TEST_LEAVES`.
const EIGHT_LEAF_ROOT_B64: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc6962")
}

fn test_leaf_hashes() -> Vec<Hash> {
    TEST_LEAVES.iter().map(|d| leaf_hash(d)).collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProbe {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyProbe {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

/// What happened to a probe. A hash that is not 32 bytes never reaches the
/// verifier, but still counts as a rejection.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Rejected(ProofError),
    MalformedHash(String),
}

impl Outcome {
    fn rejected(&self) -> bool {
        !matches!(self, Outcome::Accepted)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Accepted => write!(f, "accepted"),
            Outcome::Rejected(e) => write!(f, "rejected: {e}"),
            Outcome::MalformedHash(e) => write!(f, "rejected before verifying: {e}"),
        }
    }
}

fn decode_hash(field: &str, b64: &str) -> Result<Hash, String> {
    let bytes = STANDARD.decode(b64).map_err(|e| format!("{field} is not base64: {e}"))?;
    Hash::try_from(bytes.as_slice()).map_err(|_| format!("{field} has {} bytes, not 32", bytes.len()))
}

fn decode_proof(proof: Option<&[String]>) -> Result<Vec<Hash>, String> {
    proof.unwrap_or_default().iter().enumerate().map(|(i, h)| decode_hash(&format!("proof[{i}]"), h)).collect()
}

fn run_inclusion(p: &InclusionProbe) -> Outcome {
    let decoded = (|| {
        Ok::<_, String>((
            decode_hash("root", &p.root)?,
            decode_hash("leafHash", &p.leaf_hash)?,
            decode_proof(p.proof.as_deref())?,
        ))
    })();
    match decoded {
        Err(e) => Outcome::MalformedHash(e),
        Ok((root, leaf, proof)) => match verify_inclusion(p.leaf_idx, p.tree_size, &leaf, &proof, &root) {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Rejected(e),
        },
    }
}

/// Roots are byte strings compared as given: a verifier need not know their length to see
/// that two of them are equal.
fn decode_root(field: &str, b64: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(b64).map_err(|e| format!("{field} is not base64: {e}"))
}

fn run_consistency(p: &ConsistencyProbe) -> Outcome {
    let decoded = (|| {
        Ok::<_, String>((
            decode_root("root1", &p.root1)?,
            decode_root("root2", &p.root2)?,
            decode_proof(p.proof.as_deref())?,
        ))
    })();
    match decoded {
        Err(e) => Outcome::MalformedHash(e),
        Ok((root1, root2, proof)) => match verify_consistency(p.size1, p.size2, &root1, &root2, &proof) {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Rejected(e),
        },
    }
}

/// Every `.json` file under `dir`, sorted so failures are listed in a stable
/// order.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(data_dir()).expect("probe is under the data folder").to_string_lossy().replace('\\', "/")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_vector_gives_the_expected_answer() {
    let dir = data_dir();
    let mut failures = Vec::new();
    let mut inclusion_count = 0;
    let mut consistency_count = 0;

    let mut check = |name: String, desc: &str, want_err: bool, outcome: Outcome| {
        if outcome.rejected() != want_err {
            failures.push(format!("{name} ({desc}): wantErr={want_err}, but {outcome}"));
        }
    };

    for path in json_files(&dir.join("inclusion")) {
        let probe: InclusionProbe = read_json(&path);
        let outcome = run_inclusion(&probe);
        check(relative(&path), &probe.desc, probe.want_err, outcome);
        inclusion_count += 1;
    }
    for path in json_files(&dir.join("consistency")) {
        let probe: ConsistencyProbe = read_json(&path);
        let outcome = run_consistency(&probe);
        check(relative(&path), &probe.desc, probe.want_err, outcome);
        consistency_count += 1;
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        inclusion_count + consistency_count,
        EXPECTED_PROBES,
        "found {inclusion_count} inclusion and {consistency_count} consistency probes under {}",
        dir.display()
    );
}

#[test]
fn equal_sizes_with_equal_roots_and_empty_proof_verify() {
    let leaves = test_leaf_hashes();
    for size in 1..=leaves.len() {
        let r = root(&leaves[..size]);
        let size = size as u64;
        assert_eq!(verify_consistency(size, size, &r, &r, &[]), Ok(()));
    }
}

#[test]
fn happy_path_vectors_match_generated_proofs() {
    let leaves = test_leaf_hashes();
    let dir = data_dir();
    let mut checked = 0;

    for path in json_files(&dir.join("inclusion")) {
        if !path.ends_with("happy-path.json") {
            continue;
        }
        let p: InclusionProbe = read_json(&path);
        assert!(!p.want_err);
        let size = p.tree_size as usize;
        let index = p.leaf_idx as usize;
        let tree = &leaves[..size];
        let want_root = decode_hash("root", &p.root).expect("happy path root");
        let want_leaf = decode_hash("leafHash", &p.leaf_hash).expect("happy path leaf");
        let want_proof = decode_proof(p.proof.as_deref()).expect("happy path proof");
        let name = relative(&path);
        assert_eq!(root(tree), want_root, "{name}");
        assert_eq!(tree[index], want_leaf, "{name}");
        assert_eq!(inclusion_proof(tree, index).expect("index in range"), want_proof, "{name}");
        checked += 1;
    }
    for path in json_files(&dir.join("consistency")) {
        if !path.ends_with("happy-path.json") {
            continue;
        }
        let p: ConsistencyProbe = read_json(&path);
        assert!(!p.want_err);
        let tree = &leaves[..p.size2 as usize];
        let old = p.size1 as usize;
        let name = relative(&path);
        assert_eq!(root(&tree[..old]), decode_hash("root1", &p.root1).expect("happy path root1"), "{name}");
        assert_eq!(root(tree), decode_hash("root2", &p.root2).expect("happy path root2"), "{name}");
        assert_eq!(
            consistency_proof(tree, old).expect("old size in range"),
            decode_proof(p.proof.as_deref()).expect("happy path proof"),
            "{name}"
        );
        checked += 1;
    }
    // inclusion/0..4 and consistency/0..4 each hold one happy path.
    assert_eq!(checked, 10);
}

#[test]
fn eight_test_leaves_have_the_known_root() {
    let want = decode_hash("root", EIGHT_LEAF_ROOT_B64).expect("constant is a hash");
    assert_eq!(root(&test_leaf_hashes()), want);

    // The same root appears in the vectors as the size-8 tree.
    let probe: ConsistencyProbe = read_json(&data_dir().join("consistency/1/happy-path.json"));
    assert_eq!(probe.size2, 8);
    assert_eq!(probe.root2, EIGHT_LEAF_ROOT_B64);
}

#[test]
fn basic_hashes_match_rfc_6962() {
    // SHA-256 of the empty string.
    assert_eq!(STANDARD.encode(empty_root()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_eq!(root(&[]), empty_root());
    // A single-leaf tree's root is its leaf hash.
    let one = leaf_hash(b"");
    assert_eq!(root(&[one]), one);
    assert_eq!(STANDARD.encode(one), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
    // Leaf and node hashes use different prefixes.
    assert_ne!(leaf_hash(&[one, one].concat()), node_hash(&one, &one));
}

// ---------------------------------------------------------------------------
// Reference: the RFC 6962 section 2.1 definitions, transcribed literally.
// ---------------------------------------------------------------------------

fn k_for(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn ref_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_for(n);
            node_hash(&ref_mth(&d[..k]), &ref_mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k_for(n);
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![ref_mth(d)] };
    }
    let k = k_for(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn distinct_leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn flip_bit(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}

const MAX_SMALL_TREE: usize = 70;

#[test]
fn root_matches_recursive_definition() {
    let leaves = distinct_leaves(1100);
    for n in 0..=leaves.len() {
        assert_eq!(root(&leaves[..n]), ref_mth(&leaves[..n]), "n = {n}");
    }
}

#[test]
fn every_inclusion_proof_verifies_and_tampering_fails() {
    let leaves = distinct_leaves(MAX_SMALL_TREE);
    let other_leaf = leaf_hash(b"not in the tree");
    for n in 1..=MAX_SMALL_TREE {
        let tree = &leaves[..n];
        let r = root(tree);
        let size = n as u64;
        for i in 0..n {
            let proof = inclusion_proof(tree, i).expect("index in range");
            assert_eq!(proof, ref_path(i, tree), "n={n} i={i}");
            let index = i as u64;
            assert_eq!(verify_inclusion(index, size, &tree[i], &proof, &r), Ok(()), "n={n} i={i}");

            // A different leaf hash at the same place.
            assert!(verify_inclusion(index, size, &other_leaf, &proof, &r).is_err());
            if n > 1 {
                // Another leaf of the tree, with this leaf's proof...
                let j = (i + 1) % n;
                assert!(verify_inclusion(index, size, &tree[j], &proof, &r).is_err());
                // ...or this leaf with another leaf's proof.
                let other_proof = inclusion_proof(tree, j).expect("index in range");
                assert!(verify_inclusion(index, size, &tree[i], &other_proof, &r).is_err());
                // Or the right proof at the wrong index.
                assert!(verify_inclusion(j as u64, size, &tree[i], &proof, &r).is_err());
            }
            // A flipped bit in any proof hash or in the root.
            for (pos, bit) in (0..proof.len()).flat_map(|p| [(p, 0), (p, 255), (p, 8 * p + 3)]) {
                let mut bad = proof.clone();
                bad[pos] = flip_bit(&bad[pos], bit);
                assert!(verify_inclusion(index, size, &tree[i], &bad, &r).is_err(), "n={n} i={i} pos={pos} bit={bit}");
            }
            assert!(verify_inclusion(index, size, &tree[i], &proof, &flip_bit(&r, 7)).is_err());
            // One hash too many or too few.
            let mut longer = proof.clone();
            longer.push(r);
            assert!(matches!(
                verify_inclusion(index, size, &tree[i], &longer, &r),
                Err(ProofError::InclusionProofLength { .. })
            ));
            if let Some((_, shorter)) = proof.split_last() {
                assert!(matches!(
                    verify_inclusion(index, size, &tree[i], shorter, &r),
                    Err(ProofError::InclusionProofLength { .. })
                ));
            }
        }
        assert_eq!(inclusion_proof(tree, n), Err(ProofError::IndexOutOfRange { index: size, size }));
        assert_eq!(
            verify_inclusion(size, size, &tree[0], &[], &r),
            Err(ProofError::IndexOutOfRange { index: size, size })
        );
    }
    assert!(inclusion_proof(&[], 0).is_err());
}

#[test]
fn every_consistency_proof_verifies_and_tampering_fails() {
    let leaves = distinct_leaves(MAX_SMALL_TREE);
    for n in 1..=MAX_SMALL_TREE {
        let tree = &leaves[..n];
        let new_root = root(tree);
        let new_size = n as u64;
        for m in 0..=n {
            let old_root = root(&tree[..m]);
            let old_size = m as u64;
            let proof = consistency_proof(tree, m).expect("old size in range");
            if 0 < m && m < n {
                assert_eq!(proof, ref_subproof(m, tree, true), "n={n} m={m}");
            } else {
                assert!(proof.is_empty(), "n={n} m={m}");
            }
            if m == 0 {
                // A proof from the empty tree proves nothing and is refused.
                assert_eq!(
                    verify_consistency(0, new_size, &old_root, &new_root, &proof),
                    Err(ProofError::EmptyOldTree)
                );
                continue;
            }
            assert_eq!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof), Ok(()), "n={n} m={m}");
            // Wrong roots.
            assert!(
                verify_consistency(old_size, new_size, &flip_bit(&old_root, 1), &new_root, &proof).is_err(),
                "n={n} m={m}"
            );
            assert!(
                verify_consistency(old_size, new_size, &old_root, &flip_bit(&new_root, 1), &proof).is_err(),
                "n={n} m={m}"
            );
            if m == n {
                assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &[old_root]).is_err());
                continue;
            }
            // A flipped bit in any proof hash.
            for (pos, bit) in (0..proof.len()).flat_map(|p| [(p, 0), (p, 255), (p, 8 * p + 4)]) {
                let mut bad = proof.clone();
                bad[pos] = flip_bit(&bad[pos], bit);
                assert!(
                    verify_consistency(old_size, new_size, &old_root, &new_root, &bad).is_err(),
                    "n={n} m={m} pos={pos} bit={bit}"
                );
            }
            // Missing, extra, or borrowed hashes, and wrong sizes.
            assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &[]).is_err());
            let mut longer = proof.clone();
            longer.push(new_root);
            assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &longer).is_err());
            let shorter = &proof[..proof.len() - 1];
            assert!(verify_consistency(old_size, new_size, &old_root, &new_root, shorter).is_err());
            if m + 1 < n {
                let next = consistency_proof(tree, m + 1).expect("old size in range");
                assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &next).is_err(), "n={n} m={m}");
                assert!(verify_consistency(old_size + 1, new_size, &old_root, &new_root, &proof).is_err());
            }
            assert!(verify_consistency(new_size, old_size, &new_root, &old_root, &proof).is_err());
        }
        assert_eq!(
            consistency_proof(tree, n + 1),
            Err(ProofError::OldSizeTooLarge { old_size: new_size + 1, new_size })
        );
    }
}

#[test]
fn error_messages_say_what_to_fix() {
    let leaves = test_leaf_hashes();
    let r = root(&leaves);
    let proof = inclusion_proof(&leaves, 5).expect("index in range");
    assert_eq!(
        verify_inclusion(9, 8, &leaves[5], &proof, &r).expect_err("index out of range").to_string(),
        "leaf index 9 is outside a tree of size 8"
    );
    assert_eq!(
        verify_inclusion(5, 8, &leaves[5], &proof[..2], &r).expect_err("short proof").to_string(),
        "inclusion proof has 2 hashes; a tree of size 8 needs 3 at index 5"
    );
    assert_eq!(
        verify_inclusion(5, 8, &leaves[4], &proof, &r).expect_err("wrong leaf").to_string(),
        "computed root does not match the expected root of the tree of size 8"
    );
    let cproof = consistency_proof(&leaves, 3).expect("old size in range");
    assert_eq!(
        verify_consistency(3, 8, &root(&leaves[..3]), &r, &cproof[1..]).expect_err("short proof").to_string(),
        format!(
            "consistency proof has {} hashes; going from tree size 3 to 8 needs {}",
            cproof.len() - 1,
            cproof.len()
        )
    );
    assert_eq!(
        verify_consistency(8, 3, &r, &r, &[]).expect_err("sizes reversed").to_string(),
        "old tree size 8 is larger than the new tree size 3"
    );
}

#[test]
fn root_of_a_million_leaves_needs_no_deep_stack() {
    const N: usize = 1_000_000;
    let leaves = distinct_leaves(N);
    // A small stack proves `root` does not recurse per leaf or per level.
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let big = root(&leaves);
            let small = root(&leaves[..100_003]);
            (big, small, leaves)
        })
        .expect("spawn thread");
    let (big, small, leaves) = handle.join().expect("root did not overflow the stack");
    assert_eq!(small, ref_mth(&leaves[..100_003]));
    assert_eq!(big, ref_mth(&leaves));
}
