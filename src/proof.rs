//! RFC 9162 inclusion and consistency proofs: generation over a [`HashReader`] (§2.1.3.1,
//! §2.1.4.1) and pure verification (§2.1.3.2, §2.1.4.2) that touches no storage.
//!
//! Paths are ordered leaf to root: the leaf's sibling first, the root's child last. Every
//! comparison that decides a verification is constant time. Edge rules (ledger-format.md §13):
//! no inclusion in an empty tree; the RFC consistency verifier rejects `first == 0`; equal sizes
//! need an empty proof and equal roots.

use crate::error::{Error, Result};
use crate::hash::{Hash, node_hash};
use crate::tree::{HashReader, check_index, split, subtree_root};

/// The longest proof accepted: no tree below 2^64 leaves needs more than 64 hashes.
pub const MAX_PROOF_LEN: usize = 64;

/// `PATH(index, D[0:size])`: the inclusion proof of leaf `index` in the tree of `size` leaves.
///
/// # Errors
/// [`Error::Invalid`] when `index >= size`; reader errors.
pub fn prove_inclusion(reader: &mut impl HashReader, index: u64, size: u64) -> Result<Vec<Hash>> {
    check_index(index, size)?;
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0, size);
    // Walk down from the root, collecting the other side of each split; reverse at the end so
    // the leaf's sibling comes first.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            path.push(subtree_root(reader, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(subtree_root(reader, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// `PROOF(first, D[0:second])`: the consistency proof between the trees of `first` and
/// `second` leaves. Empty when `first == second` or `first == 0` (the empty tree is consistent
/// with every tree).
///
/// # Errors
/// [`Error::Invalid`] when `first > second`; reader errors.
pub fn prove_consistency(
    reader: &mut impl HashReader,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>> {
    if first > second {
        return Err(Error::Invalid(format!(
            "consistency from size {first} to the smaller size {second}"
        )));
    }
    if first == 0 || first == second {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: each step appends one hash; reversed at the end.
    let mut proof = Vec::new();
    let (mut m, mut lo, mut hi, mut whole) = (first, 0, second, true);
    while m != hi - lo {
        let k = split(hi - lo);
        if m <= k {
            proof.push(subtree_root(reader, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(subtree_root(reader, lo, lo + k)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        proof.push(subtree_root(reader, lo, hi)?);
    }
    proof.reverse();
    Ok(proof)
}

/// RFC 9162 §2.1.3.2: does `path` prove that `leaf` is leaf `index` of the tree (`size`, `root`)?
///
/// # Errors
/// [`Error::Failed`] with the reason when it does not.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<()> {
    if index >= size {
        return Err(fail(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    if path.len() > MAX_PROOF_LEN {
        return Err(fail(format!("inclusion proof has {} hashes", path.len())));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return Err(fail(
                "inclusion proof is longer than the tree is deep".into(),
            ));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
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
        return Err(fail(
            "inclusion proof is shorter than the tree is deep".into(),
        ));
    }
    if !r.ct_eq(root) {
        return Err(fail(format!(
            "inclusion proof of leaf {index} does not lead to the root of size {size}"
        )));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: does `proof` show that (`first`, `first_root`) is a prefix of
/// (`second`, `second_root`)? Sizes equal: the proof must be empty and the roots equal.
///
/// # Errors
/// [`Error::Failed`] with the reason when it does not, including `first == 0` (meaningless for
/// the RFC verifier; the checkpoint layer handles the empty tree) and `first > second`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    if first == 0 || first > second {
        return Err(fail(format!(
            "no consistency proof exists from size {first} to size {second}"
        )));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(fail(format!(
            "consistency proof has {} hashes",
            proof.len()
        )));
    }
    if first == second {
        if !proof.is_empty() || !first_root.ct_eq(second_root) {
            return Err(fail(format!(
                "two different roots at the same size {first}"
            )));
        }
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    if proof.is_empty() {
        return Err(fail(
            "empty consistency proof between different sizes".into(),
        ));
    }
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(fail("consistency proof is too long".into()));
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
    if snode != 0 {
        return Err(fail("consistency proof is too short".into()));
    }
    if !(fr.ct_eq(first_root) & sr.ct_eq(second_root)) {
        return Err(fail(format!(
            "consistency proof from size {first} to size {second} does not match the roots"
        )));
    }
    Ok(())
}

fn fail(message: String) -> Error {
    Error::Failed(message)
}
