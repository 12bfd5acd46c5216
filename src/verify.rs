//! `provledger verify`: re-checks a whole ledger from its records, read-only.
//!
//! One pass over the `log` table, in key order (which is the order of creation), rebuilds
//! everything derived from the records and compares it with what is stored: leaf hashes and
//! every tree node (each tile where it must be stored, and no other row), the chain field of
//! every record, non-decreasing times, the index rows (epoch by epoch), every stored
//! checkpoint (signature by the key in force at its size, origin, root) and every key event
//! (signed by the retiring key). The first difference is reported with the record or
//! checkpoint it belongs to. Memory is bounded: one tile per tree stratum and one epoch of
//! index rows.

use serde::Serialize;

use crate::Ledger;
use crate::compact_range::CompactRange;
use crate::error::{Error, Result};
use crate::hash::{Hash, leaf_hash};
use crate::index::{self, EPOCH_BITS, Key};
use crate::keys::{self, KeyHistory};
use crate::kinds::KeyEvent;
use crate::note::Verifier;
use crate::record::{self, Body, TreeHead};
use crate::store::{ROW_CHECKPOINT, ROW_RECORD, ROW_TILE, Snapshot};
use crate::tile::{self, TILE_HASHES};

/// What the reading thread works out for a record ahead of the audit: everything that needs
/// only the record's own bytes (decoding, the leaf hash, the index rows).
struct Decoded {
    prev: TreeHead,
    time_us: i64,
    leaf: Hash,
    key_event: Option<KeyEvent>,
    /// Its index rows, in [`Chunk::keys`].
    rows: std::ops::Range<usize>,
}

/// A `log` row as the reading thread hands it over.
enum Row {
    /// A record, or why it does not decode.
    Record(u64, std::result::Result<Decoded, String>),
    /// A checkpoint or tile row: position, row type, its bytes in [`Chunk::data`].
    Other(u64, u8, std::ops::Range<usize>),
}

/// Rows handed from the reading thread to the audit, packed in a few buffers (freeing many
/// small ones on the other thread makes the two contend in the allocator).
#[derive(Default)]
struct Chunk {
    rows: Vec<Row>,
    keys: Vec<Key>,
    data: Vec<u8>,
}

/// Rows per hand-off.
const CHUNK_ROWS: usize = 1024;

impl Chunk {
    fn push(&mut self, position: u64, kind: u8, bytes: &[u8]) {
        if kind != ROW_RECORD {
            let start = self.data.len();
            self.data.extend_from_slice(bytes);
            self.rows
                .push(Row::Other(position, kind, start..self.data.len()));
            return;
        }
        let decoded = record::decode(bytes).map(|rec| {
            let start = self.keys.len();
            index::rows_into(position, &rec.body, &mut self.keys);
            Decoded {
                prev: rec.prev,
                time_us: rec.time_us,
                leaf: leaf_hash(bytes),
                key_event: match rec.body {
                    Body::KeyEvent(event) => Some(event),
                    _ => None,
                },
                rows: start..self.keys.len(),
            }
        });
        self.rows
            .push(Row::Record(position, decoded.map_err(|e| e.to_string())));
    }
}

/// What a successful verification covered.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub checkpoints: u64,
    pub key_events: u64,
    /// The key that signs checkpoints now.
    pub current_key: String,
}

fn bad(message: String) -> Error {
    Error::Failed(message)
}

struct Audit {
    origin: String,
    /// The size the snapshot holds.
    total: u64,
    range: CompactRange,
    history: KeyHistory,
    last_time: i64,
    /// Tiles being rebuilt from the records (one per stratum, and the ones not yet met).
    tiles: tile::PositionMap<u64, Vec<u8>>,
    /// The growing tiles that must be stored in the log right after the current record.
    tiles_due: std::collections::VecDeque<u64>,
    /// Full tiles checked (the `tiles` table must hold exactly these).
    full_tiles: u64,
    /// The stored level-0 tile of the current records, read once per 16 records.
    leaf_tile: (u64, Vec<u8>),
    epoch_rows: Vec<Key>,
    rows_checked: u64,
    checkpoints: u64,
    /// The size of the last checkpoint checked.
    last_checkpoint: Option<u64>,
}

impl Audit {
    fn row(&mut self, snap: &Snapshot, chunk: &Chunk, row: &Row) -> Result<()> {
        if let Some(&key) = self.tiles_due.front()
            && !matches!(row, Row::Other(_, kind, _) if *kind >= ROW_TILE)
        {
            let (level, n) = tile::split_key(key);
            return Err(bad(format!(
                "record {}: tile {level}/{n} is missing from the log",
                self.range.size() - 1
            )));
        }
        match row {
            Row::Record(position, decoded) => {
                self.record(snap, *position, decoded.as_ref(), &chunk.keys)
            }
            Row::Other(position, ROW_CHECKPOINT, range) => {
                let position = *position;
                if position != self.range.size() {
                    return Err(bad(format!(
                        "record {} is missing (a checkpoint at size {position} follows)",
                        self.range.size()
                    )));
                }
                let note = std::str::from_utf8(&chunk.data[range.clone()])
                    .map_err(|_| bad(format!("checkpoint at size {position}: not UTF-8")))?;
                self.checkpoint(position, note)
            }
            Row::Other(position, kind, range) => {
                self.stored_tile(*position, *kind, &chunk.data[range.clone()])
            }
        }
    }

    /// A tile row (a tile not yet full): it must be the next one due, and hold exactly the
    /// rebuilt nodes.
    fn stored_tile(&mut self, position: u64, kind: u8, bytes: &[u8]) -> Result<()> {
        let due = self.tiles_due.pop_front();
        let expected = due.filter(|&key| {
            tile::split_key(key).0 == kind.wrapping_sub(ROW_TILE)
                && position + 1 == self.range.size()
        });
        let Some(key) = expected else {
            return Err(bad(format!(
                "record {position}: the log holds a row of type {kind:#04x} that the records do not make"
            )));
        };
        // A tile in the log is not full (full ones are checked in `node`), so it stays built.
        let built = self.tiles.get(&key).map_or(&[][..], Vec::as_slice);
        self.check_tile(key, bytes, built)
    }

    fn record(
        &mut self,
        snap: &Snapshot,
        index: u64,
        decoded: std::result::Result<&Decoded, &String>,
        keys: &[Key],
    ) -> Result<()> {
        let size = self.range.size();
        if index != size {
            return Err(bad(format!(
                "record {size} is missing (the next stored is {index})"
            )));
        }
        let rec = decoded.map_err(|e| bad(format!("record {index}: {e}")))?;
        let root = self.range.root();
        if rec.prev.size != index || !rec.prev.root.ct_eq(&root) {
            return Err(bad(format!(
                "record {index}: it names the tree head ({}, {}) but the head before it is ({index}, {root})",
                rec.prev.size, rec.prev.root
            )));
        }
        if rec.time_us < self.last_time {
            return Err(bad(format!(
                "record {index}: its time is before the previous record's"
            )));
        }
        // Records of one commit share its time: a new time begins a new commit, and the
        // previous commit stored its checkpoint here.
        if index > 0 && rec.time_us != self.last_time && self.last_checkpoint != Some(index) {
            return Err(bad(format!(
                "checkpoint at size {index} is missing: records {} and {index} were committed \
                 separately (their times differ) and every commit stores its checkpoint",
                index - 1
            )));
        }
        self.last_time = rec.time_us;
        if let Some(event) = &rec.key_event {
            let current = keys::key_at(&self.history, index);
            let new = keys::check_rotation(&self.origin, &rec.prev, event, current)
                .map_err(|e| bad(format!("record {index}: {e}")))?;
            self.history.push((index + 1, new));
        }
        // A changed record is named at its own index, not at the next record's chain field.
        let leaf = rec.leaf;
        let (key, position) = tile::locate(0, index);
        if self.leaf_tile.0 != key {
            self.leaf_tile = (key, snap.tile(key)?);
        }
        if self.leaf_tile.1.get(position * 32..position * 32 + 32) != Some(&leaf.0[..]) {
            return Err(bad(format!(
                "record {index}: its bytes do not hash to the stored leaf (the record or the tree was changed)"
            )));
        }
        for (level, i, hash) in self.range.append(leaf) {
            self.node(snap, level, i, hash)?;
        }
        self.epoch_rows.extend_from_slice(&keys[rec.rows.clone()]);
        if (index + 1).is_multiple_of(1 << EPOCH_BITS) {
            self.check_epoch(snap, index >> EPOCH_BITS)?;
        }
        Ok(())
    }

    fn node(&mut self, snap: &Snapshot, level: u8, i: u64, hash: Hash) -> Result<()> {
        let (key, position) = tile::locate(level, i);
        let tile = self.tiles.entry(key).or_default();
        debug_assert_eq!(tile.len(), position * 32, "nodes arrive in post-order");
        tile.extend_from_slice(&hash.0);
        if tile.len() == TILE_HASHES * 32 {
            // Full: in the `tiles` table.
            let built = self.tiles.remove(&key).expect("present");
            self.full_tiles += 1;
            return self.check_tile(key, &snap.tile(key)?, &built);
        }
        // Growing at the end of the ledger: in the log, right after this record (nodes come
        // level by level, so the due tiles are in row-type order).
        let at = self.range.size() - 1;
        if tile::stored_at(key, self.total) == Some(at)
            && !tile::is_full(key, self.total)
            && self.tiles_due.back() != Some(&key)
        {
            self.tiles_due.push_back(key);
        }
        Ok(())
    }

    fn check_tile(&self, key: u64, stored: &[u8], expected: &[u8]) -> Result<()> {
        if stored == expected {
            return Ok(());
        }
        let (level, n) = tile::split_key(key);
        let first = (0..expected.len() / 32)
            .find(|&p| stored.get(p * 32..p * 32 + 32) != Some(&expected[p * 32..p * 32 + 32]))
            .unwrap_or(expected.len() / 32);
        let record = creating_record(level, n, first).min(self.range.size().saturating_sub(1));
        Err(bad(format!(
            "record {record}: the stored tree (tile {level}/{n}, node {first}) does not match the records"
        )))
    }

    fn check_epoch(&mut self, snap: &Snapshot, epoch: u64) -> Result<()> {
        self.epoch_rows.sort_unstable();
        self.epoch_rows.dedup();
        let mut rows = index::encode_rows(&self.epoch_rows).peekable();
        for tag in [
            index::TAG_CHANNEL,
            index::TAG_DIGEST,
            index::TAG_KIND,
            index::TAG_RELEASE,
        ] {
            let row = index::row_key(tag, epoch);
            let expected = rows.next_if(|(r, _)| *r == row).map(|(_, e)| e);
            self.rows_checked += u64::from(expected.is_some());
            let stored = snap.index_row(row)?;
            if stored != expected {
                return Err(row_differs(
                    row,
                    &expected.unwrap_or_default(),
                    &stored.unwrap_or_default(),
                ));
            }
        }
        drop(rows);
        self.epoch_rows.clear();
        Ok(())
    }

    fn checkpoint(&mut self, size: u64, note: &str) -> Result<()> {
        if self.last_checkpoint.is_none() && size != 0 {
            return Err(bad(
                "checkpoint at size 0 is missing (init stores the checkpoint of the empty tree)"
                    .to_string(),
            ));
        }
        self.last_checkpoint = Some(size);
        // Every signature is by a key of this ledger and verifies (the overlap checkpoint of a
        // rotation carries the retiring key's too), and the key in force signed.
        let at = |e: crate::Error| bad(format!("checkpoint at size {size}: {e}"));
        let known: Vec<Verifier> = self.history.iter().map(|(_, k)| k.clone()).collect();
        for (name, id, _) in crate::note::split(note).map_err(at)?.1 {
            if !known.iter().any(|k| k.name() == name && k.id() == id) {
                return Err(bad(format!(
                    "checkpoint at size {size}: signed by {name}+{id:08x}, not a key of this ledger"
                )));
            }
        }
        let v = crate::checkpoint::open(note, &known).map_err(at)?;
        let key = keys::key_at(&self.history, size);
        let label = format!("{}+{:08x}", key.name(), key.id());
        if !v.verified_by.contains(&label) {
            return Err(bad(format!(
                "checkpoint at size {size}: not signed by the key in force, {label}"
            )));
        }
        let head = v.checkpoint.head;
        let root = self.range.root();
        if v.checkpoint.origin != self.origin || head.size != size || !head.root.ct_eq(&root) {
            return Err(bad(format!(
                "checkpoint at size {size}: it signs ({}, {}, {}) but the ledger has ({}, {size}, {root})",
                v.checkpoint.origin, head.size, head.root, self.origin
            )));
        }
        self.checkpoints += 1;
        Ok(())
    }

    fn finish(&mut self, snap: &Snapshot) -> Result<()> {
        let size = self.range.size();
        if let Some(&key) = self.tiles_due.front() {
            let (level, n) = tile::split_key(key);
            return Err(bad(format!(
                "record {}: tile {level}/{n} is missing from the log",
                size.saturating_sub(1)
            )));
        }
        if snap.full_tile_count()? != self.full_tiles {
            return Err(bad(format!(
                "the tiles table holds {} tiles but {size} records fill {}",
                snap.full_tile_count()?,
                self.full_tiles
            )));
        }
        if size != self.total || self.last_checkpoint != Some(size) {
            return Err(bad(format!(
                "the log ends at size {} but its records end at {size}",
                self.total
            )));
        }
        // The rows of the last, incomplete epoch are not stored yet.
        if snap.index_len()? != self.rows_checked {
            return Err(bad(format!(
                "the index holds {} rows but the records of complete epochs make {}",
                snap.index_len()?,
                self.rows_checked
            )));
        }
        Ok(())
    }
}

/// The error for index row `row` stored as `stored` where the records make `expected`: it
/// names the record of the first entry in which they differ.
fn row_differs(row: u64, expected: &[u8], stored: &[u8]) -> Error {
    if !stored.len().is_multiple_of(index::ENTRY_LEN) {
        return bad(format!(
            "the index row {row:#x} is {} bytes long",
            stored.len()
        ));
    }
    let entries = |bytes: &[u8]| -> Vec<Key> {
        let (entries, _) = bytes.as_chunks::<{ index::ENTRY_LEN }>();
        entries.iter().map(|e| (row, *e)).collect()
    };
    let (expected, stored) = (entries(expected), entries(stored));
    let at = expected.iter().zip(&stored).position(|(a, b)| a != b);
    let entry = match at {
        Some(p) => expected[p].min(stored[p]),
        None => *expected
            .get(stored.len())
            .or(stored.get(expected.len()))
            .expect("the rows differ"),
    };
    let what = if expected.contains(&entry) {
        "is missing from"
    } else {
        "is not expected in"
    };
    bad(format!(
        "record {}: an index row {what} the index",
        index::record_of(&entry)
    ))
}

/// The record whose append created node `position` (post-order) of tile `(level, n)`: the
/// node exists once `m` of the tile's bottom nodes do, `2m - popcount(m) > position`, and the
/// m-th bottom node of the tile is complete at leaf `(16n + m) * 16^level - 1`.
fn creating_record(level: u8, n: u64, position: usize) -> u64 {
    let m = (1..=tile::TILE_WIDTH)
        .find(|m| 2 * m - u64::from(m.count_ones()) > position as u64)
        .unwrap_or(tile::TILE_WIDTH);
    (n * tile::TILE_WIDTH + m) * tile::TILE_WIDTH.pow(u32::from(level)) - 1
}

impl Ledger {
    /// Verifies the whole ledger; `genesis` pins the first key (default: the stored one).
    /// `progress` is called with (records done, total) now and then.
    ///
    /// # Errors
    /// [`Error::Failed`] naming the first bad record or checkpoint; storage errors.
    pub fn verify(
        &self,
        genesis: Option<&Verifier>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Report> {
        let records = self.snapshot()?;
        let stored_genesis = Verifier::parse(&records.genesis_vkey()?)
            .map_err(|e| bad(format!("the genesis key: {e}")))?;
        if let Some(pinned) = genesis
            && *pinned != stored_genesis
        {
            return Err(bad(format!(
                "the ledger's first key is {}, not the key given ({})",
                stored_genesis.to_text(),
                pinned.to_text()
            )));
        }
        let total = records.record_count()?;
        let mut audit = Audit {
            origin: records.origin()?,
            total,
            range: CompactRange::new(),
            history: vec![(0, stored_genesis)],
            last_time: i64::MIN,
            tiles: tile::PositionMap::default(),
            tiles_due: std::collections::VecDeque::new(),
            full_tiles: 0,
            leaf_tile: (u64::MAX, Vec::new()),
            epoch_rows: Vec::new(),
            rows_checked: 0,
            checkpoints: 0,
            last_checkpoint: None,
        };
        // One thread reads, decodes and hashes each record; this one audits, in order.
        let snap = &records;
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk>>(4);
            s.spawn(move || {
                let mut chunk = Chunk::default();
                let read = snap.for_each_row(|position, kind, bytes| {
                    chunk.push(position, kind, bytes);
                    if chunk.rows.len() == CHUNK_ROWS {
                        tx.send(Ok(std::mem::take(&mut chunk)))
                            .map_err(|_| Error::Failed("the audit stopped".into()))?;
                    }
                    Ok(())
                });
                // A send fails only when the audit stopped on its own error.
                let _ = tx.send(read.map(|()| chunk));
            });
            for chunk in rx {
                let chunk = chunk?;
                for row in &chunk.rows {
                    if let Row::Record(position, _) = row
                        && position % 65_536 == 0
                    {
                        progress(*position, total);
                    }
                    audit.row(&records, &chunk, row)?;
                }
            }
            Ok::<(), Error>(())
        })?;
        audit.finish(&records)?;
        progress(total, total);
        let key_events = audit.history.len() as u64 - 1;
        Ok(Report {
            origin: audit.origin,
            size: total,
            root: audit.range.root(),
            checkpoints: audit.checkpoints,
            key_events,
            current_key: audit.history.last().expect("genesis").1.to_text(),
        })
    }
}
