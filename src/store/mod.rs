//! The ledger file: the only module that imports redb (ledger-format.md §6).
//!
//! Four tables, with keys and values this crate encodes itself: `meta` (u64 → header,
//! origin, genesis key), `log` (position and row type → record bytes, signed checkpoint notes
//! and the tiles still growing, see [`crate::tile`]), `tiles` (full tiles) and `index`
//! (16-byte row key → nothing, written when an epoch of records is complete). The `log` keys
//! put everything one append writes next to each other, at the end of one B-tree: a single
//! append copies about as many pages as a raw one-row commit. A tile moves to the compact
//! `tiles` table when it is full (once per 16 appends), so proofs read it from a small tree. One [`Store::write`] is one redb write transaction
//! with `Durability::Immediate`: records, tree nodes, index rows and the checkpoint commit
//! together or not at all. The head is not stored: its size is the position of the last
//! checkpoint and its root is computed from the tiles. Readers use MVCC snapshots
//! ([`Snapshot`], in `snapshot.rs`) and never see a half-written batch.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{
    Builder, ConcurrencyMode, Database, Durability, ReadOnlyDatabase, ReadableDatabase,
    ReadableTable, TableDefinition,
};

use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::tile::stored_at;

const META: TableDefinition<u64, &[u8]> = TableDefinition::new("meta");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const TILES: TableDefinition<u64, &[u8]> = TableDefinition::new("tiles");
const INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("index");

/// Row type of a signed checkpoint note in `log`, at the tree size it signs.
pub const ROW_CHECKPOINT: u8 = 0x00;
/// Row type of a record in `log`, at its index.
pub const ROW_RECORD: u8 = 0x01;
/// Row type of a tile of level `L` that is not full, in `log`: `ROW_TILE + L`, at the record
/// that last added a node to it ([`crate::tile::stored_at`]). Full tiles are in `tiles`.
pub const ROW_TILE: u8 = 0x10;
/// Positions are below `2^56`: the row type takes the low byte of a `log` key.
pub const MAX_POSITION: u64 = (1 << 56) - 1;

/// The `log` key of the row of type `row` at `position`.
pub fn log_key(position: u64, row: u8) -> u64 {
    (position << 8) | u64::from(row)
}

/// The position and row type of a `log` key.
pub fn split_log_key(key: u64) -> (u64, u8) {
    (key >> 8, key as u8)
}

/// Where tile `key` is in a tree of `size` leaves: `Some(log key)` while it grows, `None` when
/// it is full (in `tiles`) or holds no node yet (see [`crate::tile::is_full`]).
fn tile_row(key: u64, size: u64) -> Option<u64> {
    if crate::tile::is_full(key, size) {
        return None;
    }
    let level = crate::tile::split_key(key).0;
    stored_at(key, size).map(|at| log_key(at, ROW_TILE + level))
}

/// `meta` key of the header: [`MAGIC`] followed by the storage format version byte.
const META_HEADER: u64 = 0;
/// `meta` key of the origin (UTF-8): the log's name in checkpoints.
const META_ORIGIN: u64 = 1;
/// `meta` key of the genesis verifier key (UTF-8 vkey text): the first key of the history.
const META_GENESIS_VKEY: u64 = 2;

/// The first bytes of the header row.
pub const MAGIC: &[u8; 10] = b"provledger";
/// The storage layout version (tables, keys, tiles). Independent of the record format.
pub const STORE_VERSION: u8 = 3;

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
            batch.create_tables()?;
            let mut header = MAGIC.to_vec();
            header.push(STORE_VERSION);
            batch.put_meta(META_HEADER, &header)?;
            batch.put_meta(META_ORIGIN, origin.as_bytes())?;
            batch.put_meta(META_GENESIS_VKEY, genesis_vkey.as_bytes())?;
            batch.put_checkpoint(empty_checkpoint)?;
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
        // Before any snapshot: a file of another storage version lacks their tables.
        snapshot::check_header(&store.begin_read()?)?;
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
        Snapshot::new(self.begin_read()?)
    }

    fn begin_read(&self) -> Result<redb::ReadTransaction> {
        match &self.handle {
            Handle::Write(db) | Handle::Checked { db, .. } => db.begin_read(),
            Handle::Read(db) => db.begin_read(),
        }
        .map_err(storage("starting a read"))
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
        let out = f(&mut Batch::new(&txn)?)?;
        txn.commit().map_err(storage("committing"))?;
        Ok(out)
    }
}

/// The bytes of row `key` of `table`, if there is one.
fn get_bytes(
    table: &impl ReadableTable<u64, &'static [u8]>,
    key: u64,
    context: &'static str,
) -> Result<Option<Vec<u8>>> {
    let row = table.get(key).map_err(storage(context))?;
    Ok(row.map(|v| v.value().to_vec()))
}

/// Tile `key` in a tree of `size` leaves: a `log` row while it grows, else from `full` (the
/// `tiles` table) once it is full; `None` when it holds no node yet or its row is missing.
fn read_tile(
    log: &impl ReadableTable<u64, &'static [u8]>,
    key: u64,
    size: u64,
    full: impl FnOnce() -> Result<Option<Vec<u8>>>,
) -> Result<Option<Vec<u8>>> {
    match tile_row(key, size) {
        Some(row) => get_bytes(log, row, "reading tiles"),
        None if crate::tile::is_full(key, size) => full(),
        None => Ok(None),
    }
}

/// Reads node `(level, index)` from a tile's bytes.
fn node_in_tile(tile: &[u8], position: usize, level: u8, index: u64) -> Result<Hash> {
    tile.get(position * 32..position * 32 + 32)
        .map(|s| Hash(s.try_into().expect("32 bytes")))
        .ok_or_else(|| Error::Corrupt(format!("tree node ({level}, {index}) is missing")))
}

/// The tree size the `log` table holds: the position of its last row, which is the checkpoint
/// every commit ends with.
fn logged_size(log: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    match log.last().map_err(storage("reading the log"))? {
        None => Ok(0),
        Some((k, _)) => match split_log_key(k.value()) {
            (size, ROW_CHECKPOINT) => Ok(size),
            (position, row) => Err(Error::Corrupt(format!(
                "the log ends with a row of type {row:#04x} at {position}, not a checkpoint"
            ))),
        },
    }
}

mod batch;
mod checked;
pub mod older;
mod snapshot;
pub use batch::{Batch, Records};
#[cfg(test)]
pub(crate) use checked::{Memory, write_at};
pub use snapshot::Snapshot;
