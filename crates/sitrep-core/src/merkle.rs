//! RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.
//!
//! The incident record stays tamper-evident only if anyone can check, with a
//! few hashes, that an entry is in the log (inclusion) and that a newer log
//! still contains every entry of an older one (consistency). Using the exact
//! hashing and proof formats of RFC 6962 lets third-party transparency tools
//! check our proofs, and lets us test against their published vectors.
//!
//! All functions work on leaf hashes (see [`leaf_hash`]), not on raw entries,
//! so callers decide once how an entry is turned into bytes.

use sha2::{Digest, Sha256};

/// A SHA-256 digest. Fixed-size so a truncated or padded hash cannot reach
/// the verifiers; it is rejected when the caller converts bytes to a `Hash`.
pub type Hash = [u8; 32];

/// Domain-separation prefix for leaves, so a leaf can never be passed off as
/// an interior node (RFC 6962 section 2.1).
const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix for interior nodes.
const NODE_PREFIX: u8 = 0x01;

/// Why a proof could not be produced or did not verify.
///
/// Each message names the numbers involved so that whoever reads it can tell
/// a bad request (wrong index or size) from a bad proof or a forked log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index does not exist in a tree of this size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The number of leaves in the tree.
        size: u64,
    },
    /// The "old" tree is bigger than the "new" one, so the new tree cannot
    /// extend it.
    #[error("old tree size {old_size} is larger than the new tree size {new_size}")]
    OldSizeTooLarge {
        /// The size of the tree that should be the prefix.
        old_size: u64,
        /// The size of the tree that should extend it.
        new_size: u64,
    },
    /// A consistency proof from the empty tree proves nothing (RFC 9162 §2.1.4.2 has no such
    /// proof), so it is refused rather than accepted whatever the roots.
    #[error("a consistency proof needs an old tree of at least one leaf")]
    EmptyOldTree,
    /// An inclusion proof has the wrong number of hashes for its position.
    #[error("inclusion proof has {got} hashes; a tree of size {size} needs {want} at index {index}")]
    InclusionProofLength {
        /// Number of hashes supplied.
        got: usize,
        /// Number of hashes a correct proof has.
        want: usize,
        /// The leaf index the proof claims to be for.
        index: u64,
        /// The tree size the proof claims to be for.
        size: u64,
    },
    /// A consistency proof has the wrong number of hashes for its sizes.
    #[error("consistency proof has {got} hashes; going from tree size {old_size} to {new_size} needs {want}")]
    ConsistencyProofLength {
        /// Number of hashes supplied.
        got: usize,
        /// Number of hashes a correct proof has.
        want: usize,
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },
    /// The proof, applied to the given leaf or old root, leads to a root other
    /// than the one supplied: the leaf is not in that tree, or the proof or
    /// root is corrupt.
    #[error("computed root does not match the expected root of the tree of size {size}")]
    RootMismatch {
        /// The size of the tree whose root did not match.
        size: u64,
    },
    /// Two trees of the same size have different roots. If both roots are
    /// authentic, the log has been forked or rewritten.
    #[error("two trees of size {size} have different roots")]
    SameSizeRootsDiffer {
        /// The size of both trees.
        size: u64,
    },
}

/// Hashes one log entry as a leaf: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// Hashes two child hashes into their parent: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Returns the root of an empty tree, SHA-256 of no bytes (RFC 6962 2.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Computes the Merkle Tree Hash (RFC 6962 section 2.1) of `leaves`, which
/// must already be leaf hashes.
///
/// The tree is built bottom-up, one level at a time, carrying an unpaired last
/// node up unchanged. This gives the same result as the RFC's recursive split
/// at the largest power of two, but runs in O(n) time with no recursion, so
/// logs of millions of entries cannot exhaust the stack.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            // Pair the leaves into a new buffer, then keep halving it in place.
            let pairs = leaves.chunks_exact(2);
            let unpaired = pairs.remainder();
            let mut level: Vec<Hash> =
                pairs.map(|pair| node_hash(&pair[0], &pair[1])).chain(unpaired.iter().copied()).collect();
            let mut len = level.len();
            while len > 1 {
                let mut write = 0;
                let mut read = 0;
                while read + 1 < len {
                    level[write] = node_hash(&level[read], &level[read + 1]);
                    write += 1;
                    read += 2;
                }
                if read < len {
                    level[write] = level[read];
                    write += 1;
                }
                len = write;
            }
            level[0]
        }
    }
}

/// Returns the largest power of two strictly less than `n`, the RFC's `k`.
/// Callers guarantee `n >= 2`.
fn split_point(n: usize) -> usize {
    1 << (n - 1).ilog2()
}

/// Builds the audit path (RFC 6962 section 2.1.1, `PATH(m, D[n])`) proving
/// that `leaves[index]` is in the tree over `leaves`.
///
/// The hashes are ordered from the leaf's sibling up to the child of the root,
/// as [`verify_inclusion`] expects.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] if `index >= leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::IndexOutOfRange { index: index as u64, size: leaves.len() as u64 });
    }
    // Walk down from the root, remembering the sibling subtree at each
    // split; the proof lists them bottom-up, so reverse at the end.
    let mut proof = Vec::new();
    let mut subtree = leaves;
    let mut m = index;
    while subtree.len() > 1 {
        let k = split_point(subtree.len());
        let (left, right) = subtree.split_at(k);
        if m < k {
            proof.push(root(right));
            subtree = left;
        } else {
            proof.push(root(left));
            subtree = right;
            m -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Builds the consistency proof (RFC 6962 section 2.1.2, `PROOF(m, D[n])`)
/// showing that the tree over `leaves[..old_size]` is a prefix of the tree
/// over `leaves`.
///
/// An `old_size` of 0 or `leaves.len()` yields an empty proof, which is what
/// [`verify_consistency`] expects for those cases.
///
/// # Errors
///
/// [`ProofError::OldSizeTooLarge`] if `old_size > leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Result<Vec<Hash>, ProofError> {
    if old_size > leaves.len() {
        return Err(ProofError::OldSizeTooLarge { old_size: old_size as u64, new_size: leaves.len() as u64 });
    }
    if old_size == 0 || old_size == leaves.len() {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[n], b), unrolled: walk down from the root, recording the
    // sibling subtree at each split, until the old tree is a whole subtree.
    // The proof lists hashes bottom-up, so reverse at the end.
    let mut proof = Vec::new();
    let mut subtree = leaves;
    let mut m = old_size;
    let mut old_root_is_known = true;
    loop {
        if m == subtree.len() {
            // The verifier already has this subtree's hash only when it is
            // the whole old tree (b == true in the RFC).
            if !old_root_is_known {
                proof.push(root(subtree));
            }
            break;
        }
        let k = split_point(subtree.len());
        let (left, right) = subtree.split_at(k);
        if m <= k {
            proof.push(root(right));
            subtree = left;
        } else {
            proof.push(root(left));
            subtree = right;
            m -= k;
            old_root_is_known = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Number of hashes in a correct inclusion proof for `index` in a tree of
/// `size` leaves (`index < size`): the levels below the point where the paths
/// to `index` and to the last leaf split, plus one for each left sibling above
/// it. Used only to make length errors actionable.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    inner + border
}

/// Number of hashes in a correct consistency proof from `old_size` to
/// `new_size` (`0 < old_size < new_size`). Used only for error messages.
fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let shift = old_size.trailing_zeros() as usize;
    let full = inclusion_proof_len(old_size - 1, new_size);
    // Below level `shift` the old tree's last subtree is complete, so those
    // levels need no hashes; its own root is sent unless it is the old root.
    let seed = usize::from(!old_size.is_power_of_two());
    full - shift + seed
}

/// Checks that `leaf_hash` is the leaf at `leaf_index` in the tree of
/// `tree_size` leaves whose root is `root`, following RFC 9162 section
/// 2.1.3.2 step by step.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] if `leaf_index >= tree_size`,
/// [`ProofError::InclusionProofLength`] if the proof has too few or too many
/// hashes, and [`ProofError::RootMismatch`] if it leads to another root.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index: leaf_index, size: tree_size });
    }
    let wrong_length = || ProofError::InclusionProofLength {
        got: proof.len(),
        want: inclusion_proof_len(leaf_index, tree_size),
        index: leaf_index,
        size: tree_size,
    };
    let mut fnode = leaf_index;
    let mut snode = tree_size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(wrong_length());
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                // Skip the levels where this node is the last one and has no
                // right sibling; the RFC shifts until fn is odd or zero.
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(wrong_length());
    }
    if r != *root {
        return Err(ProofError::RootMismatch { size: tree_size });
    }
    Ok(())
}

/// Checks that the tree of `size1` leaves with root `root1` is a prefix of
/// the tree of `size2` leaves with root `root2`, following RFC 9162 section
/// 2.1.4.2.
///
/// The edge cases match transparency-dev/merkle's `proof.VerifyConsistency`:
/// equal sizes need an empty proof and equal roots (compared as byte strings);
/// `size1 == 0` is refused, as RFC 9162 defines no proof from the empty tree;
/// any other case needs a non-empty proof.
///
/// # Errors
///
/// [`ProofError::OldSizeTooLarge`] if `size1 > size2`,
/// [`ProofError::SameSizeRootsDiffer`] if the sizes match but the roots do
/// not, [`ProofError::ConsistencyProofLength`] if the proof has the wrong
/// number of hashes, and [`ProofError::RootMismatch`] if the proof does not
/// lead to `root1` or to `root2`.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[Hash],
) -> Result<(), ProofError> {
    let wrong_length =
        |want| ProofError::ConsistencyProofLength { got: proof.len(), want, old_size: size1, new_size: size2 };
    if size2 < size1 {
        return Err(ProofError::OldSizeTooLarge { old_size: size1, new_size: size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(wrong_length(0));
        }
        if root1 != root2 {
            return Err(ProofError::SameSizeRootsDiffer { size: size1 });
        }
        return Ok(());
    }
    let too_long_or_short = || wrong_length(consistency_proof_len(size1, size2));
    // Step 1: a non-trivial consistency proof is never empty.
    if proof.is_empty() {
        return Err(too_long_or_short());
    }
    // Step 2: when the old tree is a complete subtree, its root is the
    // starting point and is not repeated in the proof.
    let (seed, rest) = if size1.is_power_of_two() {
        let Ok(root1) = <&Hash>::try_from(root1) else {
            return Err(ProofError::RootMismatch { size: size1 });
        };
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(too_long_or_short()),
        }
    };
    // Steps 3 and 4.
    let mut fnode = size1 - 1;
    let mut snode = size2 - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    let mut fr = *seed;
    let mut sr = *seed;
    // Step 6.
    for c in rest {
        if snode == 0 {
            return Err(too_long_or_short());
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7.
    if snode != 0 {
        return Err(too_long_or_short());
    }
    if fr[..] != *root1 {
        return Err(ProofError::RootMismatch { size: size1 });
    }
    if sr[..] != *root2 {
        return Err(ProofError::RootMismatch { size: size2 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below_n() {
        let cases = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1025, 1024)];
        for (n, k) in cases {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn error_messages_name_the_numbers() {
        let err = ProofError::InclusionProofLength { got: 3, want: 2, index: 5, size: 7 };
        assert_eq!(err.to_string(), "inclusion proof has 3 hashes; a tree of size 7 needs 2 at index 5");
        let err = ProofError::IndexOutOfRange { index: 9, size: 8 };
        assert_eq!(err.to_string(), "leaf index 9 is outside a tree of size 8");
    }
}
