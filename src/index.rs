//! Index rows (ledger-format.md §6.4): which keys a record adds to the `index` table.
//!
//! Every row key ends with the record index as u64 big-endian, so a prefix scan returns
//! record indexes in ascending order. Variable-length terms carry a u16 big-endian length so
//! that no term's key is a prefix of another's. Rows are derived from the record alone and
//! written in the record's transaction: a search is complete by construction, and `verify`
//! rebuilds them to check.

use crate::digest::Digest;
use crate::record::{Body, Kind};

/// Row tag for the kind index: `'k' || kind code (u8) || index`.
pub const TAG_KIND: u8 = b'k';
/// Row tag for the digest index: `'d' || algorithm code (u8) || 32 bytes || index`.
pub const TAG_DIGEST: u8 = b'd';
/// Row tag for the release index: `'r' || u16 len || release id || index`.
pub const TAG_RELEASE: u8 = b'r';
/// Row tag for the channel index: `'c' || u16 len || channel || index`.
pub const TAG_CHANNEL: u8 = b'c';

/// The prefix of the kind index rows of `kind`.
pub fn kind_prefix(kind: Kind) -> Vec<u8> {
    vec![TAG_KIND, kind.code()]
}

/// The prefix of the digest index rows of `digest`.
pub fn digest_prefix(digest: &Digest) -> Vec<u8> {
    let mut key = vec![TAG_DIGEST, digest.algorithm as u8];
    key.extend_from_slice(&digest.value);
    key
}

fn term_prefix(tag: u8, term: &str) -> Vec<u8> {
    // Terms are record fields, which fit in a 65,535-byte record.
    let len = u16::try_from(term.len()).unwrap_or(u16::MAX);
    let mut key = vec![tag];
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(term.as_bytes());
    key
}

/// The prefix of the release index rows of `release_id`.
pub fn release_prefix(release_id: &str) -> Vec<u8> {
    term_prefix(TAG_RELEASE, release_id)
}

/// The prefix of the channel index rows of `channel`.
pub fn channel_prefix(channel: &str) -> Vec<u8> {
    term_prefix(TAG_CHANNEL, channel)
}

/// Every index row key of record `index` with `body`, sorted and without duplicates.
pub fn rows(index: u64, body: &Body) -> Vec<Vec<u8>> {
    let mut prefixes = vec![kind_prefix(body.kind())];
    prefixes.extend(body.digests().iter().map(digest_prefix));
    prefixes.extend(body.release_id().map(release_prefix));
    prefixes.extend(body.channel().map(channel_prefix));
    let mut keys: Vec<Vec<u8>> = prefixes
        .into_iter()
        .map(|mut key| {
            key.extend_from_slice(&index.to_be_bytes());
            key
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
