//! One write transaction in progress ([`Batch`]): records, tiles, index rows and the
//! checkpoint of a commit, in the layout of ledger-format.md §6.

use redb::WriteTransaction;

use super::{
    INDEX, LOG, MAX_POSITION, META, ROW_CHECKPOINT, ROW_RECORD, ROW_TILE, TILES, get_bytes,
    log_key, logged_size, node_in_tile, read_tile, storage, tile_row,
};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::tile::{locate, split_key, stored_at};
use crate::tree::HashReader;

/// Records to store, each with the tree nodes its append creates (`(level, index, hash)`, in
/// creation order), packed into a few buffers: a batch hands them from the thread that hashes
/// to the one that writes in chunks, and freeing one buffer per chunk on the other thread is
/// cheap where one per record made the two threads contend in the allocator.
#[derive(Default)]
pub struct Records {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    nodes: Vec<(u8, u64, Hash)>,
    node_ends: Vec<usize>,
}

impl Records {
    /// Adds a record: `write` appends its bytes to the given buffer and returns its nodes
    /// (pushed onto the given vector).
    pub fn push(&mut self, write: impl FnOnce(&mut Vec<u8>, &mut Vec<(u8, u64, Hash)>)) {
        write(&mut self.bytes, &mut self.nodes);
        self.ends.push(self.bytes.len());
        self.node_ends.push(self.nodes.len());
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes and nodes of record `k` of these.
    fn get(&self, k: usize) -> (&[u8], &[(u8, u64, Hash)]) {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        let node_start = if k == 0 { 0 } else { self.node_ends[k - 1] };
        (
            &self.bytes[start..self.ends[k]],
            &self.nodes[node_start..self.node_ends[k]],
        )
    }
}

/// One write transaction in progress: typed access to the tables, with the tiles it has read
/// or grown.
pub struct Batch<'t> {
    txn: &'t WriteTransaction,
    log: redb::Table<'t, u64, &'static [u8]>,
    /// The size now.
    size: u64,
    /// Tiles as of `size`, by tile key.
    tiles: crate::tile::PositionMap<u64, Vec<u8>>,
}

impl<'t> Batch<'t> {
    pub(super) fn new(txn: &'t WriteTransaction) -> Result<Batch<'t>> {
        let log = txn.open_table(LOG).map_err(storage("opening the log"))?;
        Ok(Batch {
            size: logged_size(&log)?,
            txn,
            log,
            tiles: crate::tile::PositionMap::default(),
        })
    }

    /// The number of records, as of this point of the batch.
    pub fn record_count(&self) -> u64 {
        self.size
    }

    /// Creates the tables a commit may leave untouched: readers never meet a missing one.
    pub(super) fn create_tables(&mut self) -> Result<()> {
        self.put_index(&[])?;
        self.txn
            .open_table(TILES)
            .map_err(storage("opening tiles"))?;
        Ok(())
    }

    pub(super) fn put_meta(&mut self, key: u64, value: &[u8]) -> Result<()> {
        // Opened only here: an append that does not touch `meta` does not rewrite its pages.
        let mut meta = self.txn.open_table(META).map_err(storage("opening meta"))?;
        meta.insert(key, value).map_err(storage("writing meta"))?;
        Ok(())
    }

    /// The bytes of record `index` (as of this point of the batch).
    ///
    /// # Errors
    /// Storage errors.
    pub fn record(&self, index: u64) -> Result<Option<Vec<u8>>> {
        get_bytes(&self.log, log_key(index, ROW_RECORD), "reading records")
    }

    /// Stores the next `count` records, in the chunks `chunks` yields, with their tree nodes:
    /// each tile that grows moves to its new position, and one that fills up moves to `tiles`
    /// (ledger-format.md §6.2). The `log` rows go through one cursor at its end, in key order.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a node does not follow the stored nodes of its tile, or the
    /// chunks hold other than `count` records; storage errors and whatever `chunks` yields.
    pub fn put_records(
        &mut self,
        count: u64,
        chunks: impl IntoIterator<Item = Result<Records>>,
    ) -> Result<()> {
        let (start, end) = (self.size, self.size + count);
        if end > MAX_POSITION {
            return Err(Error::Invalid(format!(
                "the ledger cannot hold more than {MAX_POSITION} records"
            )));
        }
        // The tiles that grow are the partial tiles of the right border, one per level: read
        // them, and delete their rows, which move.
        for level in 0..16u8 {
            let width_bits = u32::from(crate::tile::TILE_HEIGHT) * (u32::from(level) + 1);
            let key = crate::tile::tile_key(level, start.checked_shr(width_bits).unwrap_or(0));
            if let Some(old) = tile_row(key, start)
                && tile_row(key, end) != Some(old)
            {
                self.tile(key)?;
                self.log.remove(old).map_err(storage("writing tiles"))?;
            }
        }
        let mut full: Vec<u64> = Vec::new();
        let tiles = &mut self.tiles;
        let mut cursor = self
            .log
            .upper_bound_mut(std::ops::Bound::<u64>::Unbounded)
            .map_err(storage("writing records"))?;
        let mut insert = |key: u64, bytes: &[u8]| {
            cursor
                .insert_before(key, bytes)
                .map_err(|e| Error::Corrupt(format!("log row {key:#x} cannot be written: {e}")))
        };
        let mut index = start;
        for chunk in chunks {
            let chunk = chunk?;
            for k in 0..chunk.len() {
                if index == end {
                    return Err(Error::Corrupt("more records than announced".into()));
                }
                let (bytes, nodes) = chunk.get(k);
                insert(log_key(index, ROW_RECORD), bytes)?;
                let mut grown: Vec<u64> = Vec::with_capacity(2);
                for &(level, i, hash) in nodes {
                    let (key, position) = locate(level, i);
                    let tile = tiles.entry(key).or_default();
                    if tile.len() != position * 32 {
                        return Err(Error::Corrupt(format!(
                            "tree node ({level}, {i}) does not follow the stored nodes of its tile"
                        )));
                    }
                    tile.extend_from_slice(&hash.0);
                    if grown.last() != Some(&key) {
                        grown.push(key);
                    }
                }
                // Nodes come level by level, so tiles come in row-type order.
                for key in grown {
                    if tiles[&key].len() == crate::tile::TILE_HASHES * 32 {
                        full.push(key);
                    } else if stored_at(key, end) == Some(index) {
                        let level = split_key(key).0;
                        insert(log_key(index, ROW_TILE + level), &tiles[&key])?;
                    }
                }
                index += 1;
            }
        }
        cursor.close().map_err(storage("writing records"))?;
        if index != end {
            return Err(Error::Corrupt("fewer records than announced".into()));
        }
        if !full.is_empty() {
            let mut table = self
                .txn
                .open_table(TILES)
                .map_err(storage("opening tiles"))?;
            // After the stored full tiles of their level, through one cursor per level: an
            // insert each would copy its leaf page each time.
            full.sort_unstable();
            for run in full.chunk_by(|a, b| split_key(*a).0 == split_key(*b).0) {
                let mut cursor = table
                    .lower_bound_mut(std::ops::Bound::Included(&run[0]))
                    .map_err(storage("writing tiles"))?;
                for key in run {
                    let bytes = self.tiles.remove(key).expect("grown above");
                    cursor.insert_before(key, bytes.as_slice()).map_err(|e| {
                        Error::Corrupt(format!("tile {key:#x} cannot be written: {e}"))
                    })?;
                }
                cursor.close().map_err(storage("writing tiles"))?;
            }
        }
        self.size = end;
        Ok(())
    }

    /// Stores the signed checkpoint note of the current size: the last row of every commit.
    ///
    /// # Errors
    /// Storage errors.
    pub fn put_checkpoint(&mut self, note: &str) -> Result<()> {
        self.log
            .insert(log_key(self.size, ROW_CHECKPOINT), note.as_bytes())
            .map_err(storage("writing a checkpoint"))?;
        Ok(())
    }

    /// Adds the index rows of whole epochs that have none yet: `keys` sorted, without
    /// duplicates (ledger-format.md §6.3).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a row exists already; storage errors.
    pub fn put_index(&mut self, keys: &[crate::index::Key]) -> Result<()> {
        // Opened only here: most commits complete no epoch and leave the index as it is.
        let mut index = self
            .txn
            .open_table(INDEX)
            .map_err(storage("opening the index"))?;
        for (row, entries) in crate::index::encode_rows(keys) {
            if index
                .insert(row, entries.as_slice())
                .map_err(storage("writing the index"))?
                .is_some()
            {
                return Err(Error::Corrupt(format!("index row {row:#x} exists already")));
            }
        }
        Ok(())
    }

    fn tile(&mut self, key: u64) -> Result<&mut Vec<u8>> {
        if !self.tiles.contains_key(&key) {
            let txn = self.txn;
            let stored = read_tile(&self.log, key, self.size, || {
                let table = txn.open_table(TILES).map_err(storage("opening tiles"))?;
                get_bytes(&table, key, "reading tiles")
            })?;
            let bytes = match (stored, stored_at(key, self.size)) {
                (Some(bytes), Some(_)) => bytes,
                (None, None) => Vec::new(),
                _ => return Err(Error::Corrupt(format!("tile {key:#x} is missing"))),
            };
            self.tiles.insert(key, bytes);
        }
        Ok(self.tiles.get_mut(&key).expect("inserted above"))
    }
}

impl HashReader for Batch<'_> {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash> {
        let (key, position) = locate(level, index);
        node_in_tile(self.tile(key)?, position, level, index)
    }
}
