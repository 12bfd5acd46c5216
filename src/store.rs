//! The ledger file: the only module that imports redb (ledger-format.md §6).
//!
//! Four tables, all with keys and values this crate encodes itself:
//! `meta` (u64 → bytes: header, origin), `records` (index → canonical record bytes),
//! `tiles` (tile key → post-order node hashes, see [`crate::tile`]) and `index`
//! (composite byte key → empty). One [`Store::write`] is one redb write transaction with
//! `Durability::Immediate`: records, tree nodes and index rows commit together or not at all.
//! The head is not stored: its size is the records count and its root is computed from the
//! tiles, so it cannot disagree with them. Readers use MVCC snapshots and never see a half-written batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Builder, ConcurrencyMode, Database, Durability, ReadOnlyDatabase, ReadOnlyTable,
    ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::record::TreeHead;
use crate::tile::locate;
use crate::tree::HashReader;

const META: TableDefinition<u64, &[u8]> = TableDefinition::new("meta");
const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const TILES: TableDefinition<u64, &[u8]> = TableDefinition::new("tiles");
const INDEX: TableDefinition<[u8; 16], ()> = TableDefinition::new("index");
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// `meta` key of the header: [`MAGIC`] followed by the storage format version byte.
const META_HEADER: u64 = 0;
/// `meta` key of the origin (UTF-8): the log's name in checkpoints.
const META_ORIGIN: u64 = 1;
/// `meta` key of the genesis verifier key (UTF-8 vkey text): the first key of the history.
const META_GENESIS_VKEY: u64 = 2;

/// The first bytes of the header row.
pub const MAGIC: &[u8; 10] = b"provledger";
/// The storage layout version (tables, keys, tiles). Independent of the record format.
pub const STORE_VERSION: u8 = 1;

/// How long an open waits for another process to release the file before "busy".
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(10);

enum Handle {
    Write(Database),
    Read(ReadOnlyDatabase),
}

/// An open ledger file.
pub struct Store {
    handle: Handle,
    path: PathBuf,
}

fn storage<E: Into<redb::Error>>(context: &'static str) -> impl FnOnce(E) -> Error {
    move |e| match e.into() {
        redb::Error::DatabaseAlreadyOpen => {
            Error::Busy("another process has the ledger file open exclusively".into())
        }
        redb::Error::Corrupted(m) => Error::Corrupt(format!("{context}: {m}")),
        other => Error::Io(format!("{context}: {other}")),
    }
}

fn builder() -> Builder {
    // ExclusiveWriter (redb's default): a writer excludes every other process, read-only
    // handles share the file. MultiWriter mode would let processes share it, but costs about
    // 0.2 ms per durable commit here (it re-reads state under byte-range locks); short CLI
    // invocations wait for each other at open instead (`open_with_wait`).
    let mut b = Builder::new();
    b.set_concurrency_mode(ConcurrencyMode::ExclusiveWriter);
    // Bounded page cache: memory must not grow with the ledger.
    b.set_cache_size(4 << 20);
    b
}

/// Retries `open` while another process holds the file, up to `wait`.
fn open_with_wait<T>(
    path: &Path,
    wait: Duration,
    open: impl Fn() -> std::result::Result<T, redb::DatabaseError>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        match open() {
            Err(redb::DatabaseError::DatabaseAlreadyOpen) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(Error::Busy(format!(
                    "another process kept {} open for {} ms",
                    path.display(),
                    wait.as_millis()
                )));
            }
            other => return other.map_err(storage("opening the ledger")),
        }
    }
}

/// The bounded wait: $PROVLEDGER_BUSY_TIMEOUT_MS, else [`DEFAULT_BUSY_WAIT`].
fn busy_wait() -> Duration {
    std::env::var("PROVLEDGER_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DEFAULT_BUSY_WAIT, Duration::from_millis)
}

impl Store {
    /// Creates a new ledger file at `path` with `origin`, the genesis verifier key and the
    /// signed checkpoint of the empty tree; refuses to overwrite one.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the file exists; storage errors.
    pub fn create(
        path: &Path,
        origin: &str,
        genesis_vkey: &str,
        empty_checkpoint: &str,
    ) -> Result<Store> {
        if path.exists() {
            return Err(Error::Invalid(format!(
                "a ledger already exists at {}",
                path.display()
            )));
        }
        let db = builder()
            .create(path)
            .map_err(storage("creating the ledger file"))?;
        let store = Store {
            handle: Handle::Write(db),
            path: path.to_path_buf(),
        };
        store.write(|batch| {
            let mut header = MAGIC.to_vec();
            header.push(STORE_VERSION);
            batch.put_meta(META_HEADER, &header)?;
            batch.put_meta(META_ORIGIN, origin.as_bytes())?;
            batch.put_meta(META_GENESIS_VKEY, genesis_vkey.as_bytes())?;
            batch.put_checkpoint(0, empty_checkpoint)?;
            // Batch::new opened (so created) every table: readers never meet a missing one.
            Ok(())
        })?;
        Ok(store)
    }

    /// Opens an existing ledger file, for writing or read-only (a read-only open never changes
    /// the file), and runs the header check.
    ///
    /// # Errors
    /// [`Error::Invalid`] if there is no file; [`Error::Corrupt`] if it is not a provledger
    /// ledger of a known version; storage errors.
    pub fn open(path: &Path, writable: bool) -> Result<Store> {
        if !path.is_file() {
            return Err(Error::Invalid(format!(
                "no ledger file at {}",
                path.display()
            )));
        }
        let wait = busy_wait();
        let handle = if writable {
            Handle::Write(open_with_wait(path, wait, || builder().open(path))?)
        } else {
            Handle::Read(open_with_wait(path, wait, || {
                match builder().open_read_only(path) {
                    // After a crash redb must recover the file before anyone reads it, and a
                    // read-only open cannot: recover it once with a writable open (which
                    // rolls back to the last durable commit), then read.
                    Err(redb::DatabaseError::RepairAborted) => {
                        drop(builder().open(path)?);
                        builder().open_read_only(path)
                    }
                    other => other,
                }
            })?)
        };
        let store = Store {
            handle,
            path: path.to_path_buf(),
        };
        store.read()?.check_header()?;
        Ok(store)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent read snapshot.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] when a table is missing.
    pub fn read(&self) -> Result<Snapshot> {
        let txn = match &self.handle {
            Handle::Write(db) => db.begin_read(),
            Handle::Read(db) => db.begin_read(),
        }
        .map_err(storage("starting a read"))?;
        Snapshot::new(txn)
    }

    /// Runs `f` in one durable write transaction; commits only if `f` returns `Ok`. Also used
    /// by `create` for the genesis checkpoint (see `Ledger::init`).
    ///
    /// # Errors
    /// Whatever `f` returns; storage errors.
    pub fn write<T>(&self, f: impl FnOnce(&mut Batch) -> Result<T>) -> Result<T> {
        let Handle::Write(db) = &self.handle else {
            return Err(Error::ReadOnly);
        };
        // This process holds the file exclusively: no other writer can be waiting.
        let mut txn = db.begin_write().map_err(storage("starting a write"))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| Error::Io(format!("setting durability: {e}")))?;
        let out = {
            let mut batch = Batch::new(&txn)?;
            let out = f(&mut batch)?;
            batch.flush()?;
            out
        };
        txn.commit().map_err(storage("committing"))?;
        Ok(out)
    }
}

/// Reads node `(level, index)` from a tile's bytes.
fn node_in_tile(tile: &[u8], position: usize, level: u8, index: u64) -> Result<Hash> {
    tile.get(position * 32..position * 32 + 32)
        .map(|s| Hash(s.try_into().expect("32 bytes")))
        .ok_or_else(|| Error::Corrupt(format!("tree node ({level}, {index}) is missing")))
}

/// One write transaction in progress: typed access to the tables, with the tiles it touches
/// cached and written back once at the end.
pub struct Batch<'t> {
    txn: &'t WriteTransaction,
    records: redb::Table<'t, u64, &'static [u8]>,
    tiles: redb::Table<'t, u64, &'static [u8]>,
    index: redb::Table<'t, [u8; 16], ()>,
    tile_cache: HashMap<u64, Vec<u8>>,
}

impl<'t> Batch<'t> {
    fn new(txn: &'t WriteTransaction) -> Result<Batch<'t>> {
        Ok(Batch {
            txn,
            records: txn
                .open_table(RECORDS)
                .map_err(storage("opening records"))?,
            tiles: txn.open_table(TILES).map_err(storage("opening tiles"))?,
            index: txn
                .open_table(INDEX)
                .map_err(storage("opening the index"))?,
            tile_cache: HashMap::new(),
        })
    }

    /// The number of records, as of this point of the batch.
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_count(&self) -> Result<u64> {
        let last = self.records.last().map_err(storage("reading records"))?;
        Ok(last.map_or(0, |(k, _)| k.value() + 1))
    }

    fn put_meta(&mut self, key: u64, value: &[u8]) -> Result<()> {
        // Opened only here: an append that does not touch `meta` does not rewrite its pages.
        let mut meta = self.txn.open_table(META).map_err(storage("opening meta"))?;
        meta.insert(key, value).map_err(storage("writing meta"))?;
        Ok(())
    }

    /// The bytes of the last record in the ledger (as of this point of the batch).
    ///
    /// # Errors
    /// Storage errors.
    pub fn last_record(&self) -> Result<Option<Vec<u8>>> {
        let last = self.records.last().map_err(storage("reading records"))?;
        Ok(last.map(|(_, v)| v.value().to_vec()))
    }

    /// Stores record `index`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the index is already taken; storage errors.
    pub fn put_record(&mut self, index: u64, bytes: &[u8]) -> Result<()> {
        let old = self
            .records
            .insert(index, bytes)
            .map_err(storage("writing a record"))?;
        if old.is_some() {
            return Err(Error::Corrupt(format!("record {index} already exists")));
        }
        Ok(())
    }

    /// Stores the signed checkpoint note of tree size `size`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<()> {
        let mut table = self
            .txn
            .open_table(CHECKPOINTS)
            .map_err(storage("opening checkpoints"))?;
        table
            .insert(size, note.as_bytes())
            .map_err(storage("writing a checkpoint"))?;
        Ok(())
    }

    /// Adds an index row.
    ///
    /// # Errors
    /// Storage errors.
    pub fn put_index(&mut self, key: &crate::index::Key) -> Result<()> {
        self.index
            .insert(key, ())
            .map_err(storage("writing the index"))?;
        Ok(())
    }

    /// Appends node `(level, index)` to its tile; it must be the next node of that tile.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the tile does not end where the node belongs.
    pub fn put_node(&mut self, level: u8, index: u64, hash: Hash) -> Result<()> {
        let (key, position) = locate(level, index);
        let tile = self.tile(key)?;
        if tile.len() != position * 32 {
            return Err(Error::Corrupt(format!(
                "tree node ({level}, {index}) does not follow the stored nodes of its tile"
            )));
        }
        tile.extend_from_slice(&hash.0);
        Ok(())
    }

    fn tile(&mut self, key: u64) -> Result<&mut Vec<u8>> {
        if !self.tile_cache.contains_key(&key) {
            let stored = self.tiles.get(key).map_err(storage("reading tiles"))?;
            let bytes = stored.map(|v| v.value().to_vec()).unwrap_or_default();
            self.tile_cache.insert(key, bytes);
        }
        Ok(self.tile_cache.get_mut(&key).expect("inserted above"))
    }

    fn flush(&mut self) -> Result<()> {
        for (key, bytes) in self.tile_cache.drain() {
            self.tiles
                .insert(key, bytes.as_slice())
                .map_err(storage("writing tiles"))?;
        }
        Ok(())
    }
}

impl HashReader for Batch<'_> {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash> {
        let (key, position) = locate(level, index);
        node_in_tile(self.tile(key)?, position, level, index)
    }
}

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
    fn new(txn: ReadTransaction) -> Result<Snapshot> {
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

    fn check_header(&self) -> Result<()> {
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
    map: HashMap<K, V>,
    order: std::collections::VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Copy, V> Bounded<K, V> {
    fn new(cap: usize) -> Bounded<K, V> {
        Bounded {
            map: HashMap::new(),
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
