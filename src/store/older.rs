//! Read access to the records and checkpoints of older storage versions, for `provledger
//! migrate` only (ledger-format.md §14): version 1 (separate `records` and `checkpoints`
//! tables) and version 2 (records and checkpoints are rows of `log`, as now). Their tiles and
//! index are not read: the migration rebuilds them from the records.

use std::path::Path;

use redb::{ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition};

use super::{
    LOG, META_GENESIS_VKEY, META_ORIGIN, ROW_CHECKPOINT, ROW_RECORD, builder, log_key,
    split_log_key, storage,
};
use crate::error::{Error, Result};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// A ledger file of an older storage version, open read-only.
pub struct Older {
    db: ReadOnlyDatabase,
    /// 1 or 2.
    pub version: u8,
}

fn text(what: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::Corrupt(format!("the {what} is not UTF-8")))
}

impl Older {
    /// Opens `path` if it has storage version 1 or 2.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the file is another version; storage errors.
    pub fn open(path: &Path) -> Result<Older> {
        super::must_exist(path)?;
        let db = builder()
            .open_read_only(path)
            .map_err(storage("opening the ledger"))?;
        let txn = db.begin_read().map_err(storage("starting a read"))?;
        match super::snapshot::header_version(&txn)? {
            version @ (1 | 2) => Ok(Older { db, version }),
            v => Err(Error::Invalid(format!(
                "{} has storage version {v}; only versions 1 and 2 are migrated",
                path.display()
            ))),
        }
    }

    fn meta(&self, key: u64, name: &str) -> Result<Vec<u8>> {
        let txn = self.db.begin_read().map_err(storage("starting a read"))?;
        super::snapshot::meta(&txn, key, name)
    }

    /// The origin and the genesis verifier key text.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when missing or not UTF-8.
    pub fn identity(&self) -> Result<(String, String)> {
        Ok((
            text("origin", self.meta(META_ORIGIN, "origin")?)?,
            text("genesis key", self.meta(META_GENESIS_VKEY, "genesis key")?)?,
        ))
    }

    /// Calls `f` with the `(key, value)` rows of `table` in `range`, in key order.
    fn rows(
        &self,
        table: TableDefinition<u64, &[u8]>,
        range: std::ops::Range<u64>,
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let txn = self.db.begin_read().map_err(storage("starting a read"))?;
        let table = txn.open_table(table).map_err(storage("opening a table"))?;
        for row in table.range(range).map_err(storage("reading rows"))? {
            let (k, v) = row.map_err(storage("reading rows"))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// Every stored checkpoint, by increasing size.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a note that is not UTF-8.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>> {
        let mut out = Vec::new();
        let mut keep = |size, note: &[u8]| {
            out.push((size, text("checkpoint", note.to_vec())?));
            Ok(())
        };
        if self.version == 1 {
            self.rows(CHECKPOINTS, 0..u64::MAX, keep)?;
        } else {
            self.rows(LOG, 0..u64::MAX, |key, value| match split_log_key(key) {
                (size, ROW_CHECKPOINT) => keep(size, value),
                _ => Ok(()),
            })?;
        }
        Ok(out)
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
        if self.version == 1 {
            return self.rows(RECORDS, range, f);
        }
        let keys = log_key(range.start, 0)..log_key(range.end, 0);
        self.rows(LOG, keys, |key, value| match split_log_key(key) {
            (index, ROW_RECORD) => f(index, value),
            _ => Ok(()),
        })
    }
}
