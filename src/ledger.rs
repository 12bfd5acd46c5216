//! The `Ledger` facade: open a ledger directory, query it, prove (appending is in
//! `append.rs`).
//!
//! Invariants kept here, on every append batch, inside one store transaction:
//! record `i` has `prev = (i, root(i))`; times never decrease from one record to the next;
//! the tree nodes and index rows are written with the record, and the signed checkpoint of the
//! new size with the batch.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::note::{self, Signer};
use crate::proof;
use crate::record::{self, FORMAT_VERSION, Kind, Record, TreeHead};
use crate::store::{STORE_VERSION, Snapshot, Store};
use crate::tree::{self, HashReader};
use crate::{index, keys, tile};

pub use crate::append::sign_checkpoint;

/// The ledger directory's name, found upward from the working directory like `.git`.
pub const LEDGER_DIR: &str = ".provledger";
/// The redb file inside the ledger directory.
pub const LEDGER_FILE: &str = "ledger.redb";

/// An open ledger.
pub struct Ledger {
    pub(crate) store: Store,
    pub(crate) dir: PathBuf,
    pub(crate) origin: String,
    /// The key that signs checkpoints; loaded for writable opens.
    pub(crate) signer: Option<Signer>,
    writable: bool,
    /// A read snapshot kept between queries, with its tile cache. It stays current because
    /// no other process can write while this one has the file open (redb `ExclusiveWriter`),
    /// and this process's own appends drop it.
    pub(crate) reader: std::sync::Mutex<Option<Snapshot>>,
}

/// What an append returns: where the record went and the head it produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Appended {
    pub index: u64,
    pub leaf_hash: Hash,
    pub head: TreeHead,
}

/// A stored record with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub index: u64,
    pub leaf_hash: Hash,
    pub bytes: Vec<u8>,
    pub record: Record,
}

/// The ledger's state, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub path: PathBuf,
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub format_version: u8,
    pub store_version: u8,
}

/// Which records `log` returns. Times are UTC microseconds, `until` exclusive.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Option<Kind>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
}

/// An inclusion proof with everything needed to check it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: Hash,
    pub root: Hash,
    pub path: Vec<Hash>,
}

/// A consistency proof with both tree heads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsistencyProof {
    pub first: TreeHead,
    pub second: TreeHead,
    pub proof: Vec<Hash>,
}

/// Runs `op` on the ledger in `dir` without changing the file unless `op` appends, and returns
/// the ledger it ran on with the result: first on a
/// read-only open (where refusals, bad input and already-done operations end without a write;
/// redb rewrites its header when a file is merely opened for writing), then, only if `op`
/// tried to append, again on a writable open, where it re-checks under the exclusive lock.
///
/// # Errors
/// Whatever `op` or opening returns.
pub fn with_writable<T>(
    dir: &Path,
    mut op: impl FnMut(&mut Ledger) -> Result<T>,
) -> Result<(Ledger, T)> {
    let mut reader = Ledger::open(dir, false)?;
    match op(&mut reader) {
        Err(Error::ReadOnly) => {}
        other => return other.map(|t| (reader, t)),
    }
    drop(reader);
    let mut writer = Ledger::open(dir, true)?;
    let out = op(&mut writer)?;
    Ok((writer, out))
}

/// Finds the ledger directory: `start` itself or its nearest ancestor holding [`LEDGER_DIR`].
pub fn find_ledger_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(LEDGER_DIR))
        .find(|candidate| candidate.join(LEDGER_FILE).is_file())
}

/// The current time in UTC microseconds.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Ledger {
    /// Creates a ledger in directory `dir` (made if missing) with `origin`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a ledger exists there or the origin is not a valid key name;
    /// I/O errors.
    pub fn init(dir: &Path, origin: &str) -> Result<Ledger> {
        Ledger::init_with_key(dir, origin, None)
    }

    /// Creates a ledger whose signing key is `key` (named `origin`), or a new random key.
    /// Writes the private key (mode 0600) and the verifier key into `dir`, and signs the
    /// checkpoint of the empty tree.
    ///
    /// # Errors
    /// As [`Ledger::init`]; [`Error::Invalid`] when the key's name is not the origin.
    pub fn init_with_key(dir: &Path, origin: &str, key: Option<Signer>) -> Result<Ledger> {
        Ledger::init_in(dir, origin, key, Store::create)
    }

    /// [`Ledger::init_with_key`] with the store made by `create(file, origin, genesis vkey,
    /// empty checkpoint)`.
    pub(crate) fn init_in(
        dir: &Path,
        origin: &str,
        key: Option<Signer>,
        create: impl FnOnce(&Path, &str, &str, &str) -> Result<Store>,
    ) -> Result<Ledger> {
        // The origin is the signing key's name (C2SP signed-note: the log's key name).
        note::check_name(origin)?;
        let signer = match key {
            Some(k) => k,
            None => Signer::generate(origin)?,
        };
        if signer.name() != origin {
            return Err(invalid(format!(
                "the key is named '{}' but the origin is '{origin}': they must be equal",
                signer.name()
            )));
        }
        let file = dir.join(LEDGER_FILE);
        if file.exists() {
            return Err(invalid(format!(
                "a ledger already exists at {}",
                file.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("creating {}: {e}", dir.display())))?;
        keys::write_private(&dir.join(keys::KEY_FILE), &signer)?;
        keys::write_public(&dir.join(keys::VKEY_FILE), &signer.verifier())?;
        let empty = TreeHead {
            size: 0,
            root: crate::hash::EMPTY_ROOT,
        };
        let note = sign_checkpoint(origin, empty, &[&signer])?;
        let store = create(&file, origin, &signer.verifier().to_text(), &note)?;
        Ok(Ledger {
            store,
            dir: dir.to_path_buf(),
            origin: origin.to_string(),
            signer: Some(signer),
            writable: true,
            reader: std::sync::Mutex::new(None),
        })
    }

    /// Opens the ledger in directory `dir` and runs the structural check.
    ///
    /// # Errors
    /// [`Error::Invalid`] when there is no ledger; [`Error::Corrupt`] when the check fails.
    pub fn open(dir: &Path, writable: bool) -> Result<Ledger> {
        Ledger::open_store(
            dir,
            Store::open(&dir.join(LEDGER_FILE), writable)?,
            writable,
        )
    }

    /// Opens the ledger read-only after redb's integrity check of the whole file, for
    /// `verify`: a file damaged outside redb is refused as [`Error::Corrupt`], and nothing is
    /// ever written to it (see [`Store::open_checked`]).
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_checked(dir: &Path) -> Result<Ledger> {
        Ledger::open_store(dir, Store::open_checked(&dir.join(LEDGER_FILE))?, false)
    }

    /// Opens the ledger file `file` read-only, with `dir` as its directory (`migrate` checks a
    /// file before it takes the usual name).
    pub(crate) fn open_file(dir: &Path, file: &Path) -> Result<Ledger> {
        Ledger::open_store(dir, Store::open(file, false)?, false)
    }

    fn open_store(dir: &Path, store: Store, writable: bool) -> Result<Ledger> {
        let origin = store.read()?.origin()?;
        let mut ledger = Ledger {
            store,
            dir: dir.to_path_buf(),
            origin,
            signer: None,
            writable,
            reader: std::sync::Mutex::new(None),
        };
        ledger.check_structure()?;
        if writable {
            ledger.finish_rotation()?;
            let key = dir.join(keys::KEY_FILE);
            if key.exists() {
                let signer = keys::read_private(&key)?;
                let current = ledger.current_key()?;
                if signer.verifier() != current {
                    return Err(invalid(format!(
                        "the signing key in {} is {}, but the key in force is {}: \
                         restore that key (or import it with 'provledger key import')",
                        key.display(),
                        signer.verifier().to_text(),
                        current.to_text()
                    )));
                }
                ledger.signer = Some(signer);
            }
        }
        Ok(ledger)
    }

    /// The ledger's origin (the checkpoint origin and key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The signing key, or an error saying where it should be.
    pub(crate) fn signer(&self) -> Result<&Signer> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        self.signer.as_ref().ok_or_else(|| {
            invalid(format!(
                "no signing key at {} (this ledger cannot sign checkpoints here)",
                self.dir.join(keys::KEY_FILE).display()
            ))
        })
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Cheap checks on open, O(log n): the tile of the last leaf holds exactly the nodes it
    /// should for the number of records, and the last record names the root that the stored
    /// nodes give for the size before it.
    fn check_structure(&self) -> Result<()> {
        let mut snap = self.store.read()?;
        let size = snap.record_count()?;
        if size == 0 {
            return Ok(());
        }
        let last = size - 1;
        let in_tile = last % tile::TILE_WIDTH + 1;
        let expected =
            (2 * in_tile - u64::from(in_tile.count_ones())).min(tile::TILE_HASHES as u64);
        let found = snap.tile_len(tile::locate(0, last).0)?;
        if found != expected {
            return Err(Error::Corrupt(format!(
                "the tile of record {last} holds {found} tree nodes, not {expected}"
            )));
        }
        let bytes = snap
            .record(last)?
            .ok_or_else(|| Error::Corrupt(format!("record {last} is missing")))?;
        let record =
            record::decode(&bytes).map_err(|e| Error::Corrupt(format!("record {last}: {e}")))?;
        let prev_root = tree::root(&mut snap, last)?;
        if record.prev.size != last || !record.prev.root.ct_eq(&prev_root) {
            return Err(Error::Corrupt(format!(
                "record {last} does not name the tree head before it"
            )));
        }
        Ok(())
    }

    /// A read snapshot, for queries that need several reads to agree.
    ///
    /// # Errors
    /// Storage errors.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.store.read()
    }

    /// Size, root, path and versions.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status(&self) -> Result<Status> {
        let mut snap = self.store.read()?;
        let head = snap.head()?;
        Ok(Status {
            path: self.store.path().to_path_buf(),
            origin: snap.origin()?,
            size: head.size,
            root: head.root,
            format_version: FORMAT_VERSION,
            store_version: STORE_VERSION,
        })
    }

    /// Record `index`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when out of range; [`Error::Corrupt`] when it does not decode.
    pub fn entry(&self, index: u64) -> Result<Entry> {
        let snap = self.store.read()?;
        tree::check_index(index, snap.record_count()?)?;
        load_entry(&snap, index)
    }

    /// The records matching `filter`, in index order.
    ///
    /// # Errors
    /// As [`Ledger::for_each`].
    pub fn log(&self, filter: &Filter) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.for_each(filter, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each record matching `filter`, in index order, one at a time (memory
    /// does not grow with the ledger).
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a record that does not decode; whatever `f`
    /// returns.
    pub fn for_each(&self, filter: &Filter, mut f: impl FnMut(Entry) -> Result<()>) -> Result<()> {
        let snap = self.store.read()?;
        let size = snap.record_count()?;
        let lo = match filter.since_us {
            Some(t) => first_at_or_after(&snap, size, t)?,
            None => 0,
        };
        let hi = match filter.until_us {
            Some(t) => first_at_or_after(&snap, size, t)?,
            None => size,
        };
        match filter.kind {
            Some(kind) => {
                for i in snap.scan_index(&index::kind_prefix(kind), size)? {
                    let entry = load_entry(&snap, i)?;
                    if (lo..hi).contains(&i) && entry.record.body.kind() == kind {
                        f(entry)?;
                    }
                }
                Ok(())
            }
            None => snap.for_each_record(lo..hi.max(lo), |i, bytes| f(decode_entry(i, bytes)?)),
        }
    }

    /// Every record that names `digest`, in index order.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a record that does not decode.
    pub fn search_digest(&self, digest: &Digest) -> Result<Vec<Entry>> {
        let snap = self.store.read()?;
        let size = snap.record_count()?;
        let mut found = Vec::new();
        for i in snap.scan_index(&index::digest_prefix(digest), size)? {
            let entry = load_entry(&snap, i)?;
            if entry.record.body.digests().contains(digest) {
                found.push(entry);
            }
        }
        Ok(found)
    }

    /// The head at `size` (the current head when `None`).
    ///
    /// # Errors
    /// [`Error::Invalid`] when `size` is beyond the current size.
    pub fn head_at(&self, size: Option<u64>) -> Result<TreeHead> {
        self.read(|snap| head_at(snap, size))
    }

    /// Runs `f` on the kept read snapshot (made on first use).
    fn read<T>(&self, f: impl FnOnce(&mut Snapshot) -> Result<T>) -> Result<T> {
        let mut kept = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if kept.is_none() {
            *kept = Some(self.store.read()?);
        }
        f(kept.as_mut().expect("made above"))
    }

    /// The inclusion proof of record `index` in the tree of `size` records (default: current).
    ///
    /// # Errors
    /// [`Error::Invalid`] when `index >= size` or `size` is beyond the ledger.
    pub fn prove_inclusion(&self, index: u64, size: Option<u64>) -> Result<InclusionProof> {
        self.read(|snap| prove_inclusion_in(snap, index, size))
    }

    /// The consistency proof from size `first` to size `second` (default: current).
    ///
    /// # Errors
    /// [`Error::Invalid`] when `first > second` or `second` is beyond the ledger.
    pub fn prove_consistency(&self, first: u64, second: Option<u64>) -> Result<ConsistencyProof> {
        self.read(|snap| prove_consistency_in(snap, first, second))
    }
}

fn prove_inclusion_in(
    snap: &mut Snapshot,
    index: u64,
    size: Option<u64>,
) -> Result<InclusionProof> {
    let size = checked_size(snap, size)?;
    tree::check_index(index, size)?;
    // The path first: the root then reuses the tiles and right-border ranges it read.
    let path = proof::prove_inclusion(snap, index, size)?;
    Ok(InclusionProof {
        index,
        size,
        leaf_hash: snap.node(0, index)?,
        root: tree::root(snap, size)?,
        path,
    })
}

fn prove_consistency_in(
    snap: &mut Snapshot,
    first: u64,
    second: Option<u64>,
) -> Result<ConsistencyProof> {
    let second = checked_size(snap, second)?;
    if first > second {
        return Err(invalid(format!(
            "first size {first} is larger than second size {second}"
        )));
    }
    // The proof first: both roots then reuse the tiles and ranges it read.
    let proof = proof::prove_consistency(snap, first, second)?;
    Ok(ConsistencyProof {
        first: TreeHead {
            size: first,
            root: tree::root(snap, first)?,
        },
        second: TreeHead {
            size: second,
            root: tree::root(snap, second)?,
        },
        proof,
    })
}

/// `size`, or the current size when `None`; refuses a size beyond the ledger.
fn checked_size(snap: &Snapshot, size: Option<u64>) -> Result<u64> {
    let current = snap.record_count()?;
    let size = size.unwrap_or(current);
    if size > current {
        return Err(invalid(format!(
            "size {size} is larger than the ledger ({current} records)"
        )));
    }
    Ok(size)
}

fn head_at(snap: &mut Snapshot, size: Option<u64>) -> Result<TreeHead> {
    let size = checked_size(snap, size)?;
    Ok(TreeHead {
        size,
        root: tree::root(snap, size)?,
    })
}

pub(crate) fn load_entry(snap: &Snapshot, index: u64) -> Result<Entry> {
    let bytes = snap
        .record(index)?
        .ok_or_else(|| Error::Corrupt(format!("record {index} is missing")))?;
    decode_entry(index, &bytes)
}

pub(crate) fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry> {
    let record =
        record::decode(bytes).map_err(|e| Error::Corrupt(format!("record {index}: {e}")))?;
    Ok(Entry {
        index,
        leaf_hash: leaf_hash(bytes),
        bytes: bytes.to_vec(),
        record,
    })
}

/// The first record index whose time is at or after `t` (binary search: times never decrease).
pub(crate) fn first_at_or_after(snap: &Snapshot, size: u64, t: i64) -> Result<u64> {
    let (mut lo, mut hi) = (0, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let bytes = snap
            .record(mid)?
            .ok_or_else(|| Error::Corrupt(format!("record {mid} is missing")))?;
        if record::peek_time(&bytes)? < t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// RFC 3339 text of a time in UTC microseconds, with microsecond precision.
pub fn format_time(time_us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(time_us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| format!("{time_us}us"))
}

impl Entry {
    /// The record's JSON form: position, leaf hash, every envelope field and the body.
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.record;
        serde_json::json!({
            "index": self.index,
            "leaf_hash": self.leaf_hash,
            "version": r.version,
            "kind": r.body.kind().name(),
            "time": format_time(r.time_us),
            "time_us": r.time_us,
            "actor": r.actor,
            "prev": {"size": r.prev.size, "root": r.prev.root},
            "body": r.body.to_json(),
        })
    }
}
