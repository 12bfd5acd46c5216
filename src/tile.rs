//! Where each stored tree node lives: the tiles of ledger-format.md §5, which the `log` table
//! stores (§6.2).
//!
//! Levels are grouped in strata of [`TILE_HEIGHT`] = 4. Tile `(L, N)` holds every stored node
//! of levels `4L .. 4L+3` that lies under level-`4L` nodes `[16N, 16N + 16)`, in the order the
//! nodes are created (post-order), so a tile only ever grows by appending 32-byte hashes.
//! An inclusion path crosses one tile per stratum: a proof at 10^6 records reads five.
//!
//! Why height 4 and not C2SP's 8: a full tile is 30 hashes (960 bytes), so the tile an append
//! rewrites fits in one redb page, and a proof copies 1 KiB per tile instead of 16 KiB; both
//! were measured faster (BENCHMARKS.md). C2SP tiles (levels 0, 8, 16, …) are rows of these
//! strata (levels 0, 4, 8, …), so tlog-tiles can be exported without recomputation.

/// Levels per tile.
pub const TILE_HEIGHT: u8 = 4;
/// Nodes of the bottom level of a full tile: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Hashes in a full tile: `2 * 16 - 2` (every level but the tile's own root).
pub const TILE_HASHES: usize = 2 * TILE_WIDTH as usize - 2;

/// The key of tile `(tile_level, tile_index)` in this crate: `tile_level << 56 | tile_index`
/// (where the file stores it: [`stored_at`]).
pub fn tile_key(tile_level: u8, tile_index: u64) -> u64 {
    (u64::from(tile_level) << 56) | tile_index
}

/// The tile level and index of tile key `key`.
pub fn split_key(key: u64) -> (u8, u64) {
    ((key >> 56) as u8, key & ((1 << 56) - 1))
}

/// How many of its 16 bottom nodes tile `key` holds in a tree of `size` leaves, and the
/// number of leaves under each: tile `(L, N)` gains a node each time a level-`4L` node under it
/// completes, at leaf `m·16^L − 1` for `m` in `16N+1 ..= 16N+16` (ledger-format.md §6.2).
fn bottom_nodes(key: u64, size: u64) -> (u128, u32) {
    let (level, n) = split_key(key);
    let unit_bits = u32::from(level) * u32::from(TILE_HEIGHT);
    if unit_bits >= 64 {
        return (0, unit_bits);
    }
    let first = u128::from(n) * 16;
    let below = (u128::from(size) >> unit_bits).clamp(first, first + 16);
    (below - first, unit_bits)
}

/// Where tile `key` is stored in a tree of `size` leaves: at the record whose append last
/// added a node to it, or `None` while it holds no node.
pub fn stored_at(key: u64, size: u64) -> Option<u64> {
    let (count, unit_bits) = bottom_nodes(key, size);
    let first = u128::from(split_key(key).1) * 16;
    (count > 0).then(|| (((first + count) << unit_bits) - 1) as u64)
}

/// Whether tile `key` holds all its nodes in a tree of `size` leaves.
pub fn is_full(key: u64, size: u64) -> bool {
    bottom_nodes(key, size).0 == 16
}

/// The tile key holding node `(level, index)`, and the node's position (in hashes) in it.
pub fn locate(level: u8, index: u64) -> (u64, usize) {
    let tile_level = level / TILE_HEIGHT;
    let k = level % TILE_HEIGHT;
    let shift = TILE_HEIGHT - k;
    let tile_index = index >> shift;
    let local = index & ((1u64 << shift) - 1);
    (tile_key(tile_level, tile_index), post_order(k, local))
}

/// Position of node `(k, j)` in the post-order of a perfect tree (sumdb `StoredHashIndex`):
/// level-k node j follows level-(k-1) node 2j+1; level-0 node n sits at n + n/2 + n/4 + ...
fn post_order(k: u8, j: u64) -> usize {
    let mut n = j;
    for _ in 0..k {
        n = 2 * n + 1;
    }
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    (i + u64::from(k)) as usize
}

/// Hashes tree positions and tile keys with one multiply per word (as rustc's FxHash) for the
/// maps of tiles and computed ranges: SipHash's protection against chosen keys buys nothing for
/// tree positions, and cost a tenth of a consistency proof.
#[derive(Default)]
pub struct PositionHasher(u64);

impl std::hash::Hasher for PositionHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type PositionMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<PositionHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_order_matches_the_creation_order_of_a_256_leaf_tree() {
        // Replay appends of 256 leaves and record the order in which nodes are created.
        let mut created = Vec::new();
        for i in 0..TILE_WIDTH {
            created.push((0u8, i));
            let mut level = 1u8;
            while level < TILE_HEIGHT && (i + 1) % (1 << level) == 0 {
                created.push((level, ((i + 1) >> level) - 1));
                level += 1;
            }
        }
        assert_eq!(created.len(), TILE_HASHES);
        for (position, (k, j)) in created.into_iter().enumerate() {
            assert_eq!(post_order(k, j), position, "node ({k}, {j})");
        }
    }

    #[test]
    fn a_tile_is_stored_at_the_last_record_that_added_a_node_to_it() {
        // Brute force from the append rule (§5): leaf i adds nodes of levels 0..=tz(i+1).
        for size in 0..600u64 {
            for key in [
                tile_key(0, 0),
                tile_key(0, 1),
                tile_key(0, 20),
                tile_key(1, 0),
                tile_key(1, 1),
                tile_key(2, 0),
            ] {
                let mut last = None;
                for i in 0..size {
                    let top = (i + 1).trailing_zeros() as u8;
                    if (0..=top).any(|level| locate(level, ((i + 1) >> level) - 1).0 == key) {
                        last = Some(i);
                    }
                }
                assert_eq!(stored_at(key, size), last, "tile {key:#x} at size {size}");
            }
        }
        assert_eq!(stored_at(tile_key(15, 0), u64::MAX), Some((15 << 60) - 1));
        assert_eq!(stored_at(tile_key(16, 0), u64::MAX), None);
    }

    #[test]
    fn nodes_of_a_stratum_share_the_tile_of_their_stratum_ancestor() {
        let h = TILE_HEIGHT;
        let w = TILE_WIDTH;
        assert_eq!(locate(0, 0), (tile_key(0, 0), 0));
        assert_eq!(locate(0, w), (tile_key(0, 1), 0));
        // The two top nodes of tile 0: the last one created is its right half.
        assert_eq!(locate(h - 1, 1), (tile_key(0, 0), TILE_HASHES - 1));
        assert_eq!(locate(h - 1, 3), (tile_key(0, 1), TILE_HASHES - 1));
        // A full tile's root is the first node of the tile above.
        assert_eq!(locate(h, 0), (tile_key(1, 0), 0));
        assert_eq!(locate(h + 1, 3), (tile_key(1, 0), post_order(1, 3)));
        assert_eq!(locate(2 * h, 5), (tile_key(2, 0), post_order(0, 5)));
        assert_eq!(locate(2 * h, w + 5), (tile_key(2, 1), post_order(0, 5)));
    }
}
