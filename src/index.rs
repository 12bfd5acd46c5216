//! Index rows (ledger-format.md §6.3): which keys a record adds to the `index` table.
//!
//! A row key is 16 bytes: `tag (1) || epoch (3, BE) || fingerprint (4) || record index (8, BE)`
//! where the epoch is `index >> 8`. The rows of an epoch are written together, sorted, by the
//! commit that completes its 256 records: they land in a fresh key range (a few pages), where
//! rows written record by record would copy one 4 KiB page per row per commit. Until then
//! a lookup computes the rows of the last, incomplete epoch from its decoded records. A
//! fingerprint may be shared by two terms, so a scan returns candidates: callers confirm each
//! on the decoded record. Rows are derived from the records alone: a search is complete by
//! construction, and `verify` rebuilds them.

use crate::digest::Digest;
use crate::hash::sha256;
use crate::record::{Body, Kind};

/// A row key: tag, epoch, fingerprint, record index.
pub type Key = [u8; 16];
/// A term: the tag and fingerprint of a row key, without epoch and index.
pub type Prefix = [u8; 5];

/// Records per epoch: `2^EPOCH_BITS`.
pub const EPOCH_BITS: u32 = 8;

/// The number of records whose rows are in the index at tree size `size`: the records of
/// complete epochs.
pub fn sealed(size: u64) -> u64 {
    size >> EPOCH_BITS << EPOCH_BITS
}

/// The record index of a row key.
pub fn record_of(key: &Key) -> u64 {
    u64::from_be_bytes(key[8..].try_into().expect("8 bytes"))
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

/// The row key of term `prefix` and record `index`.
pub fn key(prefix: &Prefix, index: u64) -> Key {
    key_in_epoch(prefix, index >> EPOCH_BITS, index)
}

/// The row key of term `prefix`, epoch `epoch` and record `index` (scan bounds use any index).
pub fn key_in_epoch(prefix: &Prefix, epoch: u64, index: u64) -> Key {
    let mut k = [0u8; 16];
    k[0] = prefix[0];
    k[1..4].copy_from_slice(&epoch.to_be_bytes()[5..]);
    k[4..8].copy_from_slice(&prefix[1..]);
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
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
