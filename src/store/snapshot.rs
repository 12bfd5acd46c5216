//! Read snapshots of the ledger file: the tables a consistent MVCC read transaction sees,
//! with bounded caches of the tiles and right-border ranges that proofs reuse.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    INDEX, LOG, MAGIC, META, META_GENESIS_VKEY, META_HEADER, META_ORIGIN, ROW_CHECKPOINT,
    ROW_RECORD, STORE_VERSION, TILES, get_bytes, log_key, logged_size, node_in_tile, read_tile,
    split_log_key, storage,
};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::record::TreeHead;
use crate::tile::locate;
use crate::tree::HashReader;

fn checkpoint_text(size: u64, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Corrupt(format!("the checkpoint at size {size} is not UTF-8")))
}

/// Opens a table in a read transaction; a missing table is corruption (init creates them all).
fn open_read<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<ReadOnlyTable<K, V>> {
    txn.open_table(table).map_err(|e| match e {
        redb::TableError::TableDoesNotExist(name) => {
            Error::Corrupt(format!("table '{name}' is missing"))
        }
        other => storage("opening a table")(other),
    })
}

/// Row `key` of `meta` (the version-1 reader shares it: `meta` did not change).
pub(super) fn meta(txn: &ReadTransaction, key: u64, name: &str) -> Result<Vec<u8>> {
    get_bytes(&open_read(txn, META)?, key, "reading meta")?
        .ok_or_else(|| Error::Corrupt(format!("the {name} row is missing")))
}

/// The storage version in the header row, after the magic.
pub(super) fn header_version(txn: &ReadTransaction) -> Result<u8> {
    let header = meta(txn, META_HEADER, "header")?;
    match header.strip_prefix(MAGIC) {
        Some(&[version]) => Ok(version),
        _ => Err(Error::Corrupt("not a provledger ledger (bad magic)".into())),
    }
}

/// Refuses a file that is not a ledger of this storage version (version 1 with a pointer to
/// `provledger migrate`).
pub(super) fn check_header(txn: &ReadTransaction) -> Result<()> {
    match header_version(txn)? {
        STORE_VERSION => Ok(()),
        version @ (1 | 2) => Err(Error::Invalid(format!(
            "the ledger file has storage version {version}: run 'provledger migrate' (ledger-format.md §14)"
        ))),
        version => Err(Error::Corrupt(format!(
            "unknown storage version {version} (this provledger reads {STORE_VERSION})"
        ))),
    }
}

/// Tiles a snapshot keeps (about 60 KiB): every tile of a proof at any size, and the right
/// border's tiles across proofs; bounded so that memory does not grow with the ledger.
const SNAPSHOT_TILE_CACHE: usize = 64;

/// A consistent read-only view of the ledger.
pub struct Snapshot {
    txn: ReadTransaction,
    log: ReadOnlyTable<u64, &'static [u8]>,
    tiles: ReadOnlyTable<u64, &'static [u8]>,
    /// The tree size: the position of the last checkpoint.
    size: u64,
    /// Tiles read by this snapshot; a proof reads a handful, so a short list beats a map.
    tile_cache: Bounded<u64, Vec<u8>>,
    /// Right-border ranges this snapshot computed (`MTH` of ranges that are not perfect).
    computed: Bounded<(u64, u64), Hash>,
}

impl Snapshot {
    /// A snapshot of `txn` (the store checked the header when it opened the file).
    pub(super) fn new(txn: ReadTransaction) -> Result<Snapshot> {
        let log = open_read(&txn, LOG)?;
        Ok(Snapshot {
            size: logged_size(&log)?,
            log,
            tiles: open_read(&txn, TILES)?,
            txn,
            tile_cache: Bounded::new(SNAPSHOT_TILE_CACHE),
            computed: Bounded::new(SNAPSHOT_TILE_CACHE),
        })
    }

    fn meta(&self, key: u64, name: &str) -> Result<Vec<u8>> {
        meta(&self.txn, key, name)
    }

    /// The genesis verifier key text.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when missing or not UTF-8.
    pub fn genesis_vkey(&self) -> Result<String> {
        String::from_utf8(self.meta(META_GENESIS_VKEY, "genesis key")?)
            .map_err(|_| Error::Corrupt("the genesis key is not UTF-8".into()))
    }

    /// The stored checkpoint note of size `size`, if that size was committed.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when not UTF-8.
    pub fn checkpoint(&self, size: u64) -> Result<Option<String>> {
        if size > self.size {
            return Ok(None);
        }
        get_bytes(
            &self.log,
            log_key(size, ROW_CHECKPOINT),
            "reading a checkpoint",
        )?
        .map(|bytes| checkpoint_text(size, &bytes))
        .transpose()
    }

    /// The stored checkpoint of the largest size.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when there is none or it is not UTF-8.
    pub fn latest_checkpoint(&self) -> Result<(u64, String)> {
        let note = self
            .checkpoint(self.size)?
            .ok_or_else(|| Error::Corrupt("no checkpoint is stored".into()))?;
        Ok((self.size, note))
    }

    /// The largest size at or below `size` with a stored checkpoint (0 always has one).
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when there is none.
    pub fn checkpoint_at_or_before(&self, size: u64) -> Result<u64> {
        let hi = log_key(size.min(self.size), ROW_CHECKPOINT);
        let rows = self
            .log
            .range(..=hi)
            .map_err(storage("reading checkpoints"))?;
        for row in rows.rev() {
            let (k, _) = row.map_err(storage("reading checkpoints"))?;
            if let (at, ROW_CHECKPOINT) = split_log_key(k.value()) {
                return Ok(at);
            }
        }
        Err(Error::Corrupt(format!(
            "no checkpoint at or below size {size}"
        )))
    }

    /// The smallest size at or above `size` with a stored checkpoint, if any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<u64>> {
        if size > self.size {
            return Ok(None);
        }
        let rows = self
            .log
            .range(log_key(size, ROW_CHECKPOINT)..)
            .map_err(storage("reading checkpoints"))?;
        for row in rows {
            let (k, _) = row.map_err(storage("reading checkpoints"))?;
            if let (at, ROW_CHECKPOINT) = split_log_key(k.value()) {
                return Ok(Some(at));
            }
        }
        Ok(None)
    }

    /// Calls `f` with every row of the `log` table in key order: position, row type, bytes.
    ///
    /// # Errors
    /// Storage errors and whatever `f` returns.
    pub fn for_each_row(&self, mut f: impl FnMut(u64, u8, &[u8]) -> Result<()>) -> Result<()> {
        for row in self.log.iter().map_err(storage("reading the log"))? {
            let (k, v) = row.map_err(storage("reading the log"))?;
            let (position, kind) = split_log_key(k.value());
            f(position, kind, v.value())?;
        }
        Ok(())
    }

    /// The ledger's origin.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when missing or not UTF-8.
    pub fn origin(&self) -> Result<String> {
        String::from_utf8(self.meta(META_ORIGIN, "origin")?)
            .map_err(|_| Error::Corrupt("origin is not UTF-8".into()))
    }

    /// The head: the number of records and the root computed from the tiles.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when a tree node is missing.
    pub fn head(&mut self) -> Result<TreeHead> {
        let size = self.record_count()?;
        let root = crate::tree::root(self, size)?;
        Ok(TreeHead { size, root })
    }

    /// The number of records: the size of the last checkpoint.
    ///
    /// # Errors
    /// None; a `Result` for the callers that read sizes from storage.
    pub fn record_count(&self) -> Result<u64> {
        Ok(self.size)
    }

    /// The bytes of record `index`, if stored.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record(&self, index: u64) -> Result<Option<Vec<u8>>> {
        if index >= self.size {
            return Ok(None);
        }
        get_bytes(&self.log, log_key(index, ROW_RECORD), "reading a record")
    }

    /// Calls `f` with every record in `range`, in index order.
    ///
    /// # Errors
    /// Storage errors and whatever `f` returns.
    pub fn for_each_record(
        &self,
        range: std::ops::Range<u64>,
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let (lo, hi) = (range.start.min(self.size), range.end.min(self.size));
        if lo >= hi {
            return Ok(());
        }
        let rows = self
            .log
            .range(log_key(lo, ROW_RECORD)..log_key(hi, ROW_RECORD))
            .map_err(storage("reading records"))?;
        for row in rows {
            let (k, v) = row.map_err(storage("reading records"))?;
            if let (i, ROW_RECORD) = split_log_key(k.value()) {
                f(i, v.value())?;
            }
        }
        Ok(())
    }

    /// The record indexes of every index row with `prefix`, in order: candidates, which the
    /// caller confirms on the decoded records (ledger-format.md §6.3).
    ///
    /// # Errors
    /// Storage errors.
    pub fn scan_index(&self, prefix: &crate::index::Prefix, size: u64) -> Result<Vec<u64>> {
        let mut found = Vec::new();
        self.walk_index(prefix, size, false, |i| {
            found.push(i);
            Ok(true)
        })?;
        Ok(found)
    }

    /// Calls `f` with the record index of each row with `prefix`, in ascending order or (with
    /// `newest_first`) descending, until it returns `false`: finding the latest row of a term
    /// reads only the rows after it.
    ///
    /// # Errors
    /// Storage errors and whatever `f` returns.
    pub fn walk_index(
        &self,
        prefix: &crate::index::Prefix,
        size: u64,
        newest_first: bool,
        mut f: impl FnMut(u64) -> Result<bool>,
    ) -> Result<()> {
        let size = size.min(self.size);
        let sealed = crate::index::sealed(size);
        let epochs = sealed >> crate::index::EPOCH_BITS;
        if newest_first && !self.walk_unsealed(prefix, sealed..size, true, &mut f)? {
            return Ok(());
        }
        let index = open_read(&self.txn, INDEX)?;
        let [tag, fingerprint @ ..] = *prefix;
        let first = crate::index::row_key(tag, 0);
        let rows = index
            .range(first..first + epochs)
            .map_err(storage("reading the index"))?;
        let rows: Box<dyn Iterator<Item = _>> = if newest_first {
            Box::new(rows.rev())
        } else {
            Box::new(rows)
        };
        for row in rows {
            let (k, v) = row.map_err(storage("reading the index"))?;
            let row = k.value();
            let offsets = crate::index::offsets(v.value(), &fingerprint)
                .map_err(|e| Error::Corrupt(format!("index row {row:#x}: {e}")))?;
            let offsets: Box<dyn Iterator<Item = u8>> = if newest_first {
                Box::new(offsets.rev())
            } else {
                Box::new(offsets)
            };
            for offset in offsets {
                if !f(crate::index::epoch_of(row) << crate::index::EPOCH_BITS | u64::from(offset))?
                {
                    return Ok(());
                }
            }
        }
        if !newest_first {
            self.walk_unsealed(prefix, sealed..size, false, &mut f)?;
        }
        Ok(())
    }

    /// The records of the epoch that is not yet in the index: their rows are computed from the
    /// decoded records. Returns `false` when `f` did.
    fn walk_unsealed(
        &self,
        prefix: &crate::index::Prefix,
        range: std::ops::Range<u64>,
        newest_first: bool,
        f: &mut impl FnMut(u64) -> Result<bool>,
    ) -> Result<bool> {
        let mut indexes: Vec<u64> = range.collect();
        if newest_first {
            indexes.reverse();
        }
        for i in indexes {
            let bytes = self
                .record(i)?
                .ok_or_else(|| Error::Corrupt(format!("record {i} is missing")))?;
            let record = crate::record::decode(&bytes)
                .map_err(|e| Error::Corrupt(format!("record {i}: {e}")))?;
            let wanted = crate::index::key(prefix, i);
            if crate::index::rows(i, &record.body).contains(&wanted) && !f(i)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The bytes of tile `key` (empty when absent), without caching.
    ///
    /// # Errors
    /// Storage errors.
    pub fn tile(&self, key: u64) -> Result<Vec<u8>> {
        let stored = read_tile(&self.log, key, self.size, || {
            get_bytes(&self.tiles, key, "reading tiles")
        })?;
        Ok(stored.unwrap_or_default())
    }

    /// The number of tiles in the `tiles` table (the full tiles).
    ///
    /// # Errors
    /// Storage errors.
    pub fn full_tile_count(&self) -> Result<u64> {
        self.tiles.len().map_err(storage("reading tiles"))
    }

    /// The stored entries of index row `row` (see [`crate::index::row_key`]), if it exists.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_row(&self, row: u64) -> Result<Option<Vec<u8>>> {
        let index = open_read(&self.txn, INDEX)?;
        let value = index.get(row).map_err(storage("reading the index"))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// The number of index rows.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_len(&self) -> Result<u64> {
        let index = open_read(&self.txn, INDEX)?;
        index.len().map_err(storage("reading the index"))
    }

    /// How many node hashes the tile `key` holds (0 when absent).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when its length is not a whole number of hashes; storage errors.
    pub fn tile_len(&self, key: u64) -> Result<u64> {
        let len = self.tile(key)?.len();
        if len % 32 != 0 {
            return Err(Error::Corrupt(format!("tile {key:#x} is {len} bytes long")));
        }
        Ok(len as u64 / 32)
    }
}

impl HashReader for Snapshot {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash> {
        let (key, position) = locate(level, index);
        if let Some(tile) = self.tile_cache.get(&key) {
            return node_in_tile(tile, position, level, index);
        }
        let tile = self.tile(key)?;
        let hash = node_in_tile(&tile, position, level, index);
        self.tile_cache.insert(key, tile);
        hash
    }

    fn computed(&self, lo: u64, hi: u64) -> Option<Hash> {
        self.computed.get(&(lo, hi)).copied()
    }

    fn remember(&mut self, lo: u64, hi: u64, hash: Hash) {
        self.computed.insert((lo, hi), hash);
    }
}

/// A map that forgets its oldest entry beyond `cap` entries.
struct Bounded<K, V> {
    map: crate::tile::PositionMap<K, V>,
    order: std::collections::VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V> Bounded<K, V> {
    fn new(cap: usize) -> Bounded<K, V> {
        Bounded {
            map: crate::tile::PositionMap::default(),
            order: std::collections::VecDeque::new(),
            cap,
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key, value).is_none() {
            self.order.push_back(key);
            if self.order.len() > self.cap {
                let oldest = self.order.pop_front().expect("non-empty");
                self.map.remove(&oldest);
            }
        }
    }
}
