//! The ledger file: the only module that imports redb (ledger-format.md §6).
//!
//! Five tables, with keys and values this crate encodes itself: `meta` (u64 → header,
//! origin, genesis key), `records` (index → canonical record bytes), `tiles` (tile key →
//! post-order node hashes, see [`crate::tile`]), `index` (16-byte row key → nothing) and
//! `checkpoints` (tree size → signed note). One [`Store::write`] is one redb write transaction
//! with `Durability::Immediate`: records, tree nodes, index rows and the checkpoint commit
//! together or not at all. The head is not stored: its size is the records count and its root
//! is computed from the tiles, so they cannot disagree. Readers use MVCC snapshots
//! ([`Snapshot`], in `snapshot.rs`) and never see a half-written batch.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Builder, ConcurrencyMode, Database, Durability, ReadOnlyDatabase, ReadableDatabase,
    ReadableTable, TableDefinition, WriteTransaction,
};

use crate::error::{Error, Result};
use crate::hash::Hash;
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
    /// Integrity-checked at open, writes kept in memory, with the handle that holds the
    /// file's read locks ([`Store::open_checked`]).
    Checked {
        db: Database,
        _lock: ReadOnlyDatabase,
    },
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

fn must_exist(path: &Path) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "no ledger file at {}",
            path.display()
        )))
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
        Store::initialize(db, path, origin, genesis_vkey, empty_checkpoint)
    }

    /// [`Store::create`] on any redb storage backend: the sync-point crash tests use one that
    /// records every write and sync.
    #[cfg(test)]
    pub(crate) fn create_on(
        backend: impl redb::StorageBackend,
        path: &Path,
        origin: &str,
        genesis_vkey: &str,
        empty_checkpoint: &str,
    ) -> Result<Store> {
        let db = builder()
            .create_with_backend(backend)
            .map_err(storage("creating the ledger file"))?;
        Store::initialize(db, path, origin, genesis_vkey, empty_checkpoint)
    }

    fn initialize(
        db: Database,
        path: &Path,
        origin: &str,
        genesis_vkey: &str,
        empty_checkpoint: &str,
    ) -> Result<Store> {
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
        must_exist(path)?;
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
        Store::checked_header(handle, path)
    }

    /// Opens an existing ledger file read-only after redb's integrity check of every page (a
    /// file damaged outside redb is refused as [`Error::Corrupt`] instead of being trusted).
    /// Nothing is written to the file: the check's own commit, and the recovery after a crash,
    /// stay in memory (`checked.rs`). Used by `verify`.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_checked(path: &Path) -> Result<Store> {
        must_exist(path)?;
        let lock = open_with_wait(path, busy_wait(), || {
            let file = std::fs::File::open(path)?;
            builder().open_read_only_with_backend(checked::LockOnly::new(file)?)
        })?;
        let file = std::fs::File::open(path).map_err(storage("opening the ledger"))?;
        let mut b = builder();
        b.set_check_integrity_on_open(true);
        let db = b
            .create_with_backend(
                checked::Overlay::new(file).map_err(storage("opening the ledger"))?,
            )
            .map_err(storage("checking the ledger file"))?;
        Store::checked_header(Handle::Checked { db, _lock: lock }, path)
    }

    fn checked_header(handle: Handle, path: &Path) -> Result<Store> {
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
            Handle::Write(db) | Handle::Checked { db, .. } => db.begin_read(),
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
    tile_cache: crate::tile::PositionMap<u64, Vec<u8>>,
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
            tile_cache: crate::tile::PositionMap::default(),
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

mod checked;
mod snapshot;
#[cfg(test)]
pub(crate) use checked::{Memory, write_at};
pub use snapshot::Snapshot;
