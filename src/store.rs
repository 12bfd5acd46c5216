//! The ledger file: the only module that imports redb (ledger-format.md §6).
//!
//! Four tables, all with keys and values this crate encodes itself:
//! `meta` (u64 → bytes: header, origin, head), `records` (index → canonical record bytes),
//! `tiles` (tile key → post-order node hashes, see [`crate::tile`]) and `index`
//! (composite byte key → empty). One [`Store::write`] is one redb write transaction with
//! `Durability::Immediate`: records, tree nodes, index rows and the head commit together or not
//! at all. Readers use MVCC snapshots and never see a half-written batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Builder, ConcurrencyMode, Database, Durability, ReadOnlyDatabase, ReadOnlyTable,
    ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TransactionError,
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
const INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("index");

/// `meta` key of the header: [`MAGIC`] followed by the storage format version byte.
const META_HEADER: u64 = 0;
/// `meta` key of the origin (UTF-8): the log's name in checkpoints.
const META_ORIGIN: u64 = 1;
/// `meta` key of the head: size (u64 LE) || root (32 bytes).
const META_HEAD: u64 = 2;

/// The first bytes of the header row.
pub const MAGIC: &[u8; 10] = b"provledger";
/// The storage layout version (tables, keys, tiles). Independent of the record format.
pub const STORE_VERSION: u8 = 1;

/// How long a writer waits for another process's write transaction before "busy".
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(10);

enum Handle {
    Write(Database),
    Read(ReadOnlyDatabase),
}

/// An open ledger file.
pub struct Store {
    handle: Handle,
    path: PathBuf,
    busy_wait: Duration,
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
    let mut b = Builder::new();
    // Several processes may open the ledger; redb serializes their write transactions.
    b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
    // Bounded page cache: memory must not grow with the ledger.
    b.set_cache_size(32 << 20);
    b
}

impl Store {
    /// Creates a new ledger file at `path` with `origin`; refuses to overwrite one.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the file exists; storage errors.
    pub fn create(path: &Path, origin: &str) -> Result<Store> {
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
            busy_wait: DEFAULT_BUSY_WAIT,
        };
        store.write(|batch| {
            let mut header = MAGIC.to_vec();
            header.push(STORE_VERSION);
            batch.put_meta(META_HEADER, &header)?;
            batch.put_meta(META_ORIGIN, origin.as_bytes())?;
            batch.set_head(TreeHead {
                size: 0,
                root: crate::hash::EMPTY_ROOT,
            });
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
        let handle = if writable {
            Handle::Write(
                builder()
                    .open(path)
                    .map_err(storage("opening the ledger"))?,
            )
        } else {
            Handle::Read(
                builder()
                    .open_read_only(path)
                    .map_err(storage("opening the ledger"))?,
            )
        };
        let store = Store {
            handle,
            path: path.to_path_buf(),
            busy_wait: DEFAULT_BUSY_WAIT,
        };
        store.read()?.check_header()?;
        Ok(store)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets how long [`Store::write`] waits for another writer.
    pub fn set_busy_wait(&mut self, wait: Duration) {
        self.busy_wait = wait;
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

    /// Runs `f` in one durable write transaction; commits only if `f` returns `Ok`.
    ///
    /// # Errors
    /// [`Error::Busy`] when another writer holds the lock past the bounded wait; whatever `f`
    /// returns; storage errors.
    pub fn write<T>(&self, f: impl FnOnce(&mut Batch) -> Result<T>) -> Result<T> {
        let Handle::Write(db) = &self.handle else {
            return Err(Error::Invalid("the ledger was opened read-only".into()));
        };
        let mut txn = self.begin_write(db)?;
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

    fn begin_write(&self, db: &Database) -> Result<WriteTransaction> {
        let start = Instant::now();
        loop {
            match db.try_begin_write() {
                Ok(txn) => return Ok(txn),
                Err(TransactionError::WouldBlock) if start.elapsed() < self.busy_wait => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(TransactionError::WouldBlock) => {
                    return Err(Error::Busy(format!(
                        "another process kept writing to {} for {} ms",
                        self.path.display(),
                        self.busy_wait.as_millis()
                    )));
                }
                Err(e) => return Err(storage("starting a write")(e)),
            }
        }
    }
}

fn decode_head(bytes: &[u8]) -> Result<TreeHead> {
    if bytes.len() != 40 {
        return Err(Error::Corrupt(format!(
            "head row is {} bytes, not 40",
            bytes.len()
        )));
    }
    let size = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let root = Hash::from_slice(&bytes[8..]).map_err(Error::Corrupt)?;
    Ok(TreeHead { size, root })
}

fn encode_head(head: &TreeHead) -> Vec<u8> {
    let mut bytes = head.size.to_le_bytes().to_vec();
    bytes.extend_from_slice(&head.root.0);
    bytes
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
    meta: redb::Table<'t, u64, &'static [u8]>,
    records: redb::Table<'t, u64, &'static [u8]>,
    tiles: redb::Table<'t, u64, &'static [u8]>,
    index: redb::Table<'t, &'static [u8], &'static [u8]>,
    tile_cache: HashMap<u64, Vec<u8>>,
    head: TreeHead,
    head_dirty: bool,
}

impl<'t> Batch<'t> {
    fn new(txn: &'t WriteTransaction) -> Result<Batch<'t>> {
        let open = storage("opening a table");
        let meta = txn.open_table(META).map_err(open)?;
        let head = match meta.get(META_HEAD).map_err(storage("reading the head"))? {
            Some(bytes) => decode_head(bytes.value())?,
            None => TreeHead {
                size: 0,
                root: crate::hash::EMPTY_ROOT,
            },
        };
        Ok(Batch {
            meta,
            records: txn
                .open_table(RECORDS)
                .map_err(storage("opening records"))?,
            tiles: txn.open_table(TILES).map_err(storage("opening tiles"))?,
            index: txn
                .open_table(INDEX)
                .map_err(storage("opening the index"))?,
            tile_cache: HashMap::new(),
            head,
            head_dirty: false,
        })
    }

    /// The head as of this point of the batch.
    pub fn head(&self) -> TreeHead {
        self.head
    }

    /// Sets the head written at commit.
    pub fn set_head(&mut self, head: TreeHead) {
        self.head = head;
        self.head_dirty = true;
    }

    fn put_meta(&mut self, key: u64, value: &[u8]) -> Result<()> {
        self.meta
            .insert(key, value)
            .map_err(storage("writing meta"))?;
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

    /// Adds an index row.
    ///
    /// # Errors
    /// Storage errors.
    pub fn put_index(&mut self, key: &[u8]) -> Result<()> {
        self.index
            .insert(key, &[][..])
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
        if self.head_dirty {
            let bytes = encode_head(&self.head);
            self.put_meta(META_HEAD, &bytes)?;
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

/// Tiles a snapshot keeps: enough for any proof (three strata, two paths), bounded so that a
/// walk over the whole tree does not grow memory.
const SNAPSHOT_TILE_CACHE: usize = 16;

/// A consistent read-only view of the ledger.
pub struct Snapshot {
    meta: ReadOnlyTable<u64, &'static [u8]>,
    records: ReadOnlyTable<u64, &'static [u8]>,
    tiles: ReadOnlyTable<u64, &'static [u8]>,
    index: ReadOnlyTable<&'static [u8], &'static [u8]>,
    /// Tiles read by this snapshot; a proof reads a handful, so a short list beats a map.
    tile_cache: Vec<(u64, Vec<u8>)>,
}

impl Snapshot {
    fn new(txn: ReadTransaction) -> Result<Snapshot> {
        let open = |e: redb::TableError| match e {
            redb::TableError::TableDoesNotExist(name) => {
                Error::Corrupt(format!("table '{name}' is missing"))
            }
            other => storage("opening a table")(other),
        };
        Ok(Snapshot {
            meta: txn.open_table(META).map_err(open)?,
            records: txn.open_table(RECORDS).map_err(open)?,
            tiles: txn.open_table(TILES).map_err(open)?,
            index: txn.open_table(INDEX).map_err(open)?,
            tile_cache: Vec::new(),
        })
    }

    fn meta(&self, key: u64, name: &str) -> Result<Vec<u8>> {
        let row = self.meta.get(key).map_err(storage("reading meta"))?;
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

    /// The ledger's origin.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when missing or not UTF-8.
    pub fn origin(&self) -> Result<String> {
        String::from_utf8(self.meta(META_ORIGIN, "origin")?)
            .map_err(|_| Error::Corrupt("origin is not UTF-8".into()))
    }

    /// The stored head.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when missing or malformed.
    pub fn head(&self) -> Result<TreeHead> {
        decode_head(&self.meta(META_HEAD, "head")?)
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

    /// The record indexes of every index row starting with `prefix`, in order.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a row too short to end in an index.
    pub fn scan_index(&self, prefix: &[u8]) -> Result<Vec<u64>> {
        let rows = self
            .index
            .range(prefix..)
            .map_err(storage("reading the index"))?;
        let mut found = Vec::new();
        for row in rows {
            let (k, _) = row.map_err(storage("reading the index"))?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            let tail: [u8; 8] = key[key.len().saturating_sub(8)..]
                .try_into()
                .map_err(|_| Error::Corrupt("index row too short".into()))?;
            found.push(u64::from_be_bytes(tail));
        }
        Ok(found)
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

    /// Every index row, in key order, for verification.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_rows(&self) -> Result<Vec<Vec<u8>>> {
        let rows = self.index.iter().map_err(storage("reading the index"))?;
        rows.map(|r| {
            r.map(|(k, _)| k.value().to_vec())
                .map_err(storage("reading the index"))
        })
        .collect()
    }
}

impl HashReader for Snapshot {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash> {
        let (key, position) = locate(level, index);
        if let Some((_, tile)) = self.tile_cache.iter().find(|(k, _)| *k == key) {
            return node_in_tile(tile, position, level, index);
        }
        let row = self.tiles.get(key).map_err(storage("reading tiles"))?;
        let tile = row.map(|v| v.value().to_vec()).unwrap_or_default();
        let hash = node_in_tile(&tile, position, level, index);
        if self.tile_cache.len() == SNAPSHOT_TILE_CACHE {
            self.tile_cache.remove(0);
        }
        self.tile_cache.push((key, tile));
        hash
    }
}
