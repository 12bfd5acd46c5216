//! The compact range `[0, size)`: the roots of the perfect subtrees ("peaks") that make up
//! the right border of the tree, largest first — one per set bit of `size`.
//!
//! It is all an appender needs: appending a leaf merges equal-sized peaks (producing exactly
//! the nodes SPEC-NOTES §6 stores) and the root is the peaks folded from the right. This keeps
//! the append path free of storage reads after one `load` of at most log2(n) nodes.

use crate::error::Result;
use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::tree::HashReader;

/// The peaks of the tree of `size` leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty range.
    pub fn new() -> CompactRange {
        CompactRange {
            size: 0,
            peaks: Vec::new(),
        }
    }

    /// Reads the peaks of the tree of `size` leaves: node `(h, lo >> h)` for each set bit `h`
    /// of `size`, from the highest, where `lo` is the sum of the higher bits.
    ///
    /// # Errors
    /// Whatever the reader returns.
    pub fn load(reader: &mut impl HashReader, size: u64) -> Result<CompactRange> {
        let mut peaks = Vec::with_capacity(size.count_ones() as usize);
        let mut lo = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                peaks.push(reader.node(level, lo >> level)?);
                lo += 1 << level;
            }
        }
        Ok(CompactRange { size, peaks })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The peaks, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// A range from its size and peaks (largest first), as a verifier receives them.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when the number of peaks is not the number of set bits of
    /// `size`.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Result<CompactRange> {
        if peaks.len() != size.count_ones() as usize {
            return Err(crate::error::invalid(format!(
                "a tree of size {size} has {} peaks, not {}",
                size.count_ones(),
                peaks.len()
            )));
        }
        Ok(CompactRange { size, peaks })
    }

    /// Appends a whole perfect subtree of `2^level` leaves with root `hash`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when the size is not a multiple of `2^level` (the subtree
    /// would not be aligned).
    pub fn append_subtree(&mut self, level: u8, hash: Hash) -> Result<()> {
        if level >= 64 || !self.size.is_multiple_of(1u64 << level) {
            return Err(crate::error::invalid(format!(
                "a subtree of level {level} cannot follow {} leaves",
                self.size
            )));
        }
        let mut right = hash;
        let mut l = level;
        while l < 64 && self.size & (1u64 << l) != 0 {
            let left = self.peaks.pop().expect("a peak for every set bit");
            right = node_hash(&left, &right);
            l += 1;
        }
        self.peaks.push(right);
        self.size += 1u64 << level;
        Ok(())
    }

    /// The peaks of the stored tree of `size` leaves.
    ///
    /// # Errors
    /// Whatever the reader returns.
    pub fn peaks_of(reader: &mut impl HashReader, size: u64) -> Result<Vec<Hash>> {
        Ok(CompactRange::load(reader, size)?.peaks)
    }

    /// Appends a leaf; returns the nodes to store: `(0, size)` then each perfect subtree the
    /// leaf completes, bottom up.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut nodes = Vec::with_capacity(2);
        self.append_into(leaf, &mut nodes);
        nodes
    }

    /// [`CompactRange::append`], pushing the nodes onto `nodes`.
    pub fn append_into(&mut self, leaf: Hash, nodes: &mut Vec<(u8, u64, Hash)>) {
        let index = self.size;
        nodes.push((0u8, index, leaf));
        let mut right = leaf;
        // Each trailing one bit of `index` is a peak of that level that the new leaf completes.
        let merges = index.trailing_ones() as u8;
        for level in 1..=merges {
            let left = self.peaks.pop().expect("a peak for every set bit");
            right = node_hash(&left, &right);
            nodes.push((level, (index + 1) / (1u64 << level) - 1, right));
        }
        self.peaks.push(right);
        self.size += 1;
    }

    /// `MTH` of the range: the peaks folded from the right; [`EMPTY_ROOT`] when empty.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return EMPTY_ROOT;
        };
        peaks.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

impl Default for CompactRange {
    fn default() -> CompactRange {
        CompactRange::new()
    }
}
