//! The RFC 9162 §2.1 Merkle tree over stored perfect-subtree hashes (SPEC-NOTES §6).
//!
//! Node `(level h, index i)` is the root of the perfect subtree over leaves
//! `[i * 2^h, (i + 1) * 2^h)`. Every power-of-two range the RFC recursions touch is aligned, so
//! every `MTH` of a perfect range is one stored node, and any other range is split at the
//! largest power of two below its length and recomputed: at most one "ephemeral" right-border
//! node per proof, from at most log2(n) stored nodes. Nothing here does I/O: the store answers
//! through [`HashReader`].

use crate::error::{Error, Result};
use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// The one I/O seam of the tree: returns stored perfect-subtree hashes.
pub trait HashReader {
    /// The stored hash of node `(level, index)`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a node that must exist is missing, or a storage error.
    fn node(&mut self, level: u8, index: u64) -> Result<Hash>;

    /// A previously computed `MTH(D[lo:hi])` of a range that is not a perfect subtree, if the
    /// reader keeps them (a proof and the root it leads to share their right border).
    fn computed(&self, _lo: u64, _hi: u64) -> Option<Hash> {
        None
    }

    /// Offers a computed `MTH(D[lo:hi])` to keep.
    fn remember(&mut self, _lo: u64, _hi: u64, _hash: Hash) {}
}

/// The largest power of two strictly less than `n`, for `n >= 2`.
///
/// # Panics
/// When `n < 2` (a bug in the caller: the RFC never splits a range of fewer than two leaves).
pub fn split(n: u64) -> u64 {
    assert!(n >= 2, "split of a range of {n} leaves");
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[lo:hi])` for a non-empty range.
///
/// # Errors
/// Whatever the reader returns.
pub fn subtree_root(reader: &mut impl HashReader, lo: u64, hi: u64) -> Result<Hash> {
    let len = hi - lo;
    if len.is_power_of_two() {
        let level = len.trailing_zeros() as u8;
        return reader.node(level, lo >> level);
    }
    if let Some(hash) = reader.computed(lo, hi) {
        return Ok(hash);
    }
    let k = split(len);
    let left = subtree_root(reader, lo, lo + k)?;
    let right = subtree_root(reader, lo + k, hi)?;
    let hash = node_hash(&left, &right);
    reader.remember(lo, hi, hash);
    Ok(hash)
}

/// The root of the tree of the first `size` leaves; [`EMPTY_ROOT`] for size 0.
///
/// # Errors
/// Whatever the reader returns.
pub fn root(reader: &mut impl HashReader, size: u64) -> Result<Hash> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    subtree_root(reader, 0, size)
}

/// Checks `index < size`, the precondition of every inclusion question.
///
/// # Errors
/// [`Error::Invalid`] naming both numbers.
pub fn check_index(index: u64, size: u64) -> Result<()> {
    if index >= size {
        return Err(Error::Invalid(format!(
            "index {index} is out of range: the tree has {size} records"
        )));
    }
    Ok(())
}
