//! Read snapshots of the ledger file: the tables a consistent MVCC read transaction sees,
//! with bounded caches of the tiles and right-border ranges that proofs reuse.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    CHECKPOINTS, INDEX, MAGIC, META, META_GENESIS_VKEY, META_HEADER, META_ORIGIN, RECORDS,
    STORE_VERSION, TILES, node_in_tile, storage,
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

/// Tiles a snapshot keeps (about 60 KiB): every tile of a proof at any size, and the right
/// border's tiles across proofs; bounded so that memory does not grow with the ledger.
const SNAPSHOT_TILE_CACHE: usize = 64;

/// A consistent read-only view of the ledger.
pub struct Snapshot {
    txn: ReadTransaction,
    records: ReadOnlyTable<u64, &'static [u8]>,
    tiles: ReadOnlyTable<u64, &'static [u8]>,
    /// Tiles read by this snapshot; a proof reads a handful, so a short list beats a map.
    tile_cache: Bounded<u64, Vec<u8>>,
    /// Right-border ranges this snapshot computed (`MTH` of ranges that are not perfect).
    computed: Bounded<(u64, u64), Hash>,
}

impl Snapshot {
    pub(super) fn new(txn: ReadTransaction) -> Result<Snapshot> {
        Ok(Snapshot {
            records: open_read(&txn, RECORDS)?,
            tiles: open_read(&txn, TILES)?,
            txn,
            tile_cache: Bounded::new(SNAPSHOT_TILE_CACHE),
            computed: Bounded::new(SNAPSHOT_TILE_CACHE),
        })
    }

    fn meta(&self, key: u64, name: &str) -> Result<Vec<u8>> {
        let meta = open_read(&self.txn, META)?;
        let row = meta.get(key).map_err(storage("reading meta"))?;
        row.map(|v| v.value().to_vec())
            .ok_or_else(|| Error::Corrupt(format!("the {name} row is missing")))
    }

    pub(super) fn check_header(&self) -> Result<()> {
        let header = self.meta(META_HEADER, "header")?;
        if !header.starts_with(MAGIC) || header.len() != MAGIC.len() + 1 {
            return Err(Error::Corrupt("not a provledger ledger (bad magic)".into()));
        }
        let version = header[MAGIC.len()];
        if version != STORE_VERSION {
            return Err(Error::Corrupt(format!(
                "unknown storage version {version} (this provledger reads {STORE_VERSION})"
            )));
        }
        Ok(())
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
        let table = open_read(&self.txn, CHECKPOINTS)?;
        let row = table.get(size).map_err(storage("reading a checkpoint"))?;
        row.map(|v| checkpoint_text(size, v.value())).transpose()
    }

    /// The stored checkpoint of the largest size.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when there is none or it is not UTF-8.
    pub fn latest_checkpoint(&self) -> Result<(u64, String)> {
        let table = open_read(&self.txn, CHECKPOINTS)?;
        let last = table.last().map_err(storage("reading checkpoints"))?;
        let (k, v) = last.ok_or_else(|| Error::Corrupt("no checkpoint is stored".into()))?;
        Ok((k.value(), checkpoint_text(k.value(), v.value())?))
    }

    /// The largest size at or below `size` with a stored checkpoint (0 always has one).
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when there is none.
    pub fn checkpoint_at_or_before(&self, size: u64) -> Result<u64> {
        let table = open_read(&self.txn, CHECKPOINTS)?;
        let mut rows = table
            .range(..=size)
            .map_err(storage("reading checkpoints"))?;
        let last = rows
            .next_back()
            .transpose()
            .map_err(storage("reading checkpoints"))?;
        last.map(|(k, _)| k.value())
            .ok_or_else(|| Error::Corrupt(format!("no checkpoint at or below size {size}")))
    }

    /// The smallest size at or above `size` with a stored checkpoint, if any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn checkpoint_at_or_after(&self, size: u64) -> Result<Option<u64>> {
        let table = open_read(&self.txn, CHECKPOINTS)?;
        let mut rows = table
            .range(size..)
            .map_err(storage("reading checkpoints"))?;
        let first = rows
            .next()
            .transpose()
            .map_err(storage("reading checkpoints"))?;
        Ok(first.map(|(k, _)| k.value()))
    }

    /// Calls `f` with every stored checkpoint, by increasing size.
    ///
    /// # Errors
    /// Storage errors and whatever `f` returns.
    pub fn for_each_checkpoint(&self, mut f: impl FnMut(u64, &str) -> Result<()>) -> Result<()> {
        let table = open_read(&self.txn, CHECKPOINTS)?;
        for row in table.iter().map_err(storage("reading checkpoints"))? {
            let (k, v) = row.map_err(storage("reading checkpoints"))?;
            f(k.value(), &checkpoint_text(k.value(), v.value())?)?;
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

    /// The index of the last stored record plus one: the size the records table implies.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_count(&self) -> Result<u64> {
        let last = self.records.last().map_err(storage("reading records"))?;
        Ok(last.map_or(0, |(k, _)| k.value() + 1))
    }

    /// The bytes of record `index`, if stored.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record(&self, index: u64) -> Result<Option<Vec<u8>>> {
        let row = self
            .records
            .get(index)
            .map_err(storage("reading a record"))?;
        Ok(row.map(|v| v.value().to_vec()))
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
        let rows = self
            .records
            .range(range)
            .map_err(storage("reading records"))?;
        for row in rows {
            let (k, v) = row.map_err(storage("reading records"))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// The record indexes of every index row with `prefix`, in order: candidates, which the
    /// caller confirms on the decoded records (ledger-format.md §6.4).
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
        let index = open_read(&self.txn, INDEX)?;
        let last = size >> crate::index::EPOCH_BITS;
        for n in 0..=last {
            let epoch = if newest_first { last - n } else { n };
            let lo = crate::index::key_in_epoch(prefix, epoch, 0);
            let hi = crate::index::key_in_epoch(prefix, epoch, u64::MAX);
            let rows = index.range(lo..=hi).map_err(storage("reading the index"))?;
            let rows: Box<dyn Iterator<Item = _>> = if newest_first {
                Box::new(rows.rev())
            } else {
                Box::new(rows)
            };
            for row in rows {
                let (k, _) = row.map_err(storage("reading the index"))?;
                let key = k.value();
                if !f(u64::from_be_bytes(key[8..].try_into().expect("8 bytes")))? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The bytes of tile `key` (empty when absent), without caching.
    ///
    /// # Errors
    /// Storage errors.
    pub fn tile(&self, key: u64) -> Result<Vec<u8>> {
        let row = self.tiles.get(key).map_err(storage("reading tiles"))?;
        Ok(row.map(|v| v.value().to_vec()).unwrap_or_default())
    }

    /// The number of stored tiles.
    ///
    /// # Errors
    /// Storage errors.
    pub fn tile_count(&self) -> Result<u64> {
        self.tiles.len().map_err(storage("reading tiles"))
    }

    /// The index row keys of `tag` in `epoch`, in order.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_rows_in(&self, tag: u8, epoch: u64) -> Result<Vec<crate::index::Key>> {
        let index = open_read(&self.txn, INDEX)?;
        let lo = crate::index::key_in_epoch(&[tag, 0, 0, 0, 0], epoch, 0);
        let hi = crate::index::key_in_epoch(&[tag, 0xff, 0xff, 0xff, 0xff], epoch, u64::MAX);
        let rows = index.range(lo..=hi).map_err(storage("reading the index"))?;
        rows.map(|r| {
            r.map(|(k, _)| k.value())
                .map_err(storage("reading the index"))
        })
        .collect()
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
        let row = self.tiles.get(key).map_err(storage("reading tiles"))?;
        let len = row.map_or(0, |v| v.value().len());
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
        let row = self.tiles.get(key).map_err(storage("reading tiles"))?;
        let tile = row.map(|v| v.value().to_vec()).unwrap_or_default();
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
