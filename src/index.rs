//! The index (ledger-format.md §6.3): which entries a record adds to the `index` table.
//!
//! Records are grouped in epochs of 256 (`epoch = index >> 8`). A record adds one **entry**
//! per term it names (its kind, every digest, its release id and channel): the term's
//! fingerprint (4 bytes) and the record's offset in its epoch (1 byte). The entries of an epoch
//! are stored as one row per tag, key `tag << 56 | epoch`, value the entries sorted, written by
//! the commit that completes the epoch: a few rows per 256 records, where a row per entry cost
//! a B-tree insert each. Until then a lookup computes the entries of the last, incomplete
//! epoch from its decoded records. A fingerprint may be shared by two terms, so a lookup
//! returns candidates: callers confirm each on the decoded record. Entries are derived from
//! the records alone: a search is complete by construction, and `verify` rebuilds them.

use crate::digest::Digest;
use crate::hash::sha256;
use crate::record::{Body, Kind};

/// An entry with its row: the row key (`tag << 56 | epoch`) and the entry bytes
/// (`fingerprint (4) || offset in the epoch (1)`). Sorted, entries come row by row, each row's
/// in the order they are stored.
pub type Key = (u64, [u8; ENTRY_LEN]);
/// Bytes of an entry.
pub const ENTRY_LEN: usize = 5;
/// A term: the tag and fingerprint of a row key, without epoch and index.
pub type Prefix = [u8; 5];

/// Records per epoch: `2^EPOCH_BITS`.
pub const EPOCH_BITS: u32 = 8;

/// The number of records whose rows are in the index at tree size `size`: the records of
/// complete epochs.
pub fn sealed(size: u64) -> u64 {
    size >> EPOCH_BITS << EPOCH_BITS
}

/// The record index of an entry.
pub fn record_of((row, entry): &Key) -> u64 {
    epoch_of(*row) << EPOCH_BITS | u64::from(entry[4])
}

/// The epoch of row `row`.
pub fn epoch_of(row: u64) -> u64 {
    row & ((1 << 56) - 1)
}

/// The row key of `tag` in `epoch`.
pub fn row_key(tag: u8, epoch: u64) -> u64 {
    u64::from(tag) << 56 | epoch
}

/// Tag of the kind rows; fingerprint `kind code, 0, 0, 0`.
pub const TAG_KIND: u8 = b'k';
/// Tag of the digest rows; fingerprint the first 4 bytes of SHA-256(algorithm code || value).
pub const TAG_DIGEST: u8 = b'd';
/// Tag of the release rows; fingerprint the first 4 bytes of SHA-256(release id).
pub const TAG_RELEASE: u8 = b'r';
/// Tag of the channel rows; fingerprint the first 4 bytes of SHA-256(channel).
pub const TAG_CHANNEL: u8 = b'c';

/// The term of the kind rows of `kind`.
pub fn kind_prefix(kind: Kind) -> Prefix {
    [TAG_KIND, kind.code(), 0, 0, 0]
}

fn fingerprint(tag: u8, bytes: &[u8]) -> Prefix {
    let h = sha256(bytes).0;
    [tag, h[0], h[1], h[2], h[3]]
}

/// The term of the digest rows of `digest`.
pub fn digest_prefix(digest: &Digest) -> Prefix {
    let mut bytes = [0u8; 33];
    bytes[0] = digest.algorithm as u8;
    bytes[1..].copy_from_slice(&digest.value);
    fingerprint(TAG_DIGEST, &bytes)
}

fn term_prefix(tag: u8, term: &str) -> Prefix {
    fingerprint(tag, term.as_bytes())
}

/// The prefix of the release rows of `release_id`.
pub fn release_prefix(release_id: &str) -> Prefix {
    term_prefix(TAG_RELEASE, release_id)
}

/// The prefix of the channel rows of `channel`.
pub fn channel_prefix(channel: &str) -> Prefix {
    term_prefix(TAG_CHANNEL, channel)
}

/// The entry (with its row) of term `prefix` for record `index`.
pub fn key(prefix: &Prefix, index: u64) -> Key {
    let [tag, f0, f1, f2, f3] = *prefix;
    (
        row_key(tag, index >> EPOCH_BITS),
        [f0, f1, f2, f3, index as u8],
    )
}

/// The stored rows of `keys` (sorted, without duplicates): each row key with its entries.
pub fn encode_rows(keys: &[Key]) -> impl Iterator<Item = (u64, Vec<u8>)> + '_ {
    keys.chunk_by(|a, b| a.0 == b.0)
        .map(|run| (run[0].0, run.iter().flat_map(|(_, e)| *e).collect()))
}

/// The offsets in its epoch of the entries with fingerprint `fingerprint` in a stored row, in
/// ascending order.
///
/// # Errors
/// When the row is not a whole number of entries.
pub fn offsets<'a>(
    row: &'a [u8],
    fingerprint: &[u8],
) -> Result<impl DoubleEndedIterator<Item = u8> + 'a, String> {
    let (entries, []) = row.as_chunks::<ENTRY_LEN>() else {
        return Err(format!("an index row is {} bytes long", row.len()));
    };
    let start = entries.partition_point(|e| &e[..4] < fingerprint);
    let end = entries.partition_point(|e| &e[..4] <= fingerprint);
    Ok(entries[start..end].iter().map(|e| e[4]))
}

/// Appends the index row keys of record `index` with `body` to `out`: its kind, every digest
/// it names, its release id and channel. A digest named twice gives its key twice: callers
/// sort and dedup.
pub fn rows_into(index: u64, body: &Body, out: &mut Vec<Key>) {
    out.push(key(&kind_prefix(body.kind()), index));
    out.extend(body.digests().iter().map(|d| key(&digest_prefix(d), index)));
    out.extend(body.release_id().map(|r| key(&release_prefix(r), index)));
    out.extend(body.channel().map(|c| key(&channel_prefix(c), index)));
}

/// Every index row key of record `index` with `body`, sorted and without duplicates.
pub fn rows(index: u64, body: &Body) -> Vec<Key> {
    let mut keys = Vec::with_capacity(4);
    rows_into(index, body, &mut keys);
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_lookup_finds_exactly_the_entries_a_linear_scan_finds() {
        // Entries of one row with fingerprints drawn from a few values, so that runs repeat.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in [0usize, 1, 2, 3, 7, 64, 255, 512] {
            let mut keys: Vec<Key> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let fp = [0, (state % 5) as u8, 0, (state >> 8) as u8 % 2];
                    key(
                        &[TAG_DIGEST, fp[0], fp[1], fp[2], fp[3]],
                        state >> 16 & 0xff,
                    )
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let rows: Vec<_> = encode_rows(&keys).collect();
            assert!(rows.len() <= 1);
            let row = rows.first().map(|(_, e)| e.clone()).unwrap_or_default();
            assert_eq!(row.len(), keys.len() * ENTRY_LEN);
            for a in 0..6u8 {
                for b in 0..3u8 {
                    let fp = [0, a, 0, b];
                    let linear: Vec<u8> = (keys.iter())
                        .filter(|(_, e)| e[..4] == fp)
                        .map(|(_, e)| e[4])
                        .collect();
                    let found: Vec<u8> = offsets(&row, &fp).unwrap().collect();
                    assert_eq!(found, linear, "len {len}, fingerprint {fp:?}");
                    let back: Vec<u8> = offsets(&row, &fp).unwrap().rev().collect();
                    assert_eq!(back, linear.iter().rev().copied().collect::<Vec<_>>());
                }
            }
        }
        assert!(offsets(&[0; 6], &[0; 4]).is_err());
    }

    #[test]
    fn an_entry_names_its_record() {
        let k = key(&[TAG_RELEASE, 1, 2, 3, 4], 0x0123_4567_89ab);
        assert_eq!(k.0, u64::from(TAG_RELEASE) << 56 | 0x0001_2345_6789);
        assert_eq!(k.1, [1, 2, 3, 4, 0xab]);
        assert_eq!(record_of(&k), 0x0123_4567_89ab);
    }
}
