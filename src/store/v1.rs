//! Read access to storage version 1 (separate `records`, `tiles`, `checkpoints` tables), for
//! `provledger migrate` only (ledger-format.md §14). Its tiles and index are not read: the
//! migration rebuilds them from the records.

use std::path::Path;

use redb::{ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition};

use super::{META_GENESIS_VKEY, META_ORIGIN, builder, storage};
use crate::error::{Error, Result};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// A storage-version-1 ledger file, open read-only.
pub struct V1 {
    db: ReadOnlyDatabase,
}

fn text(what: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::Corrupt(format!("the {what} is not UTF-8")))
}

impl V1 {
    /// Opens `path` if it is a version-1 ledger.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the file is another version; storage errors.
    pub fn open(path: &Path) -> Result<V1> {
        super::must_exist(path)?;
        let db = builder()
            .open_read_only(path)
            .map_err(storage("opening the ledger"))?;
        let txn = db.begin_read().map_err(storage("starting a read"))?;
        match super::snapshot::header_version(&txn)? {
            1 => Ok(V1 { db }),
            v => Err(Error::Invalid(format!(
                "{} has storage version {v}; only version 1 is migrated",
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

    /// Every stored checkpoint, by increasing size.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a note that is not UTF-8.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>> {
        let txn = self.db.begin_read().map_err(storage("starting a read"))?;
        let table = txn
            .open_table(CHECKPOINTS)
            .map_err(storage("opening checkpoints"))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage("reading checkpoints"))? {
            let (k, v) = row.map_err(storage("reading checkpoints"))?;
            out.push((k.value(), text("checkpoint", v.value().to_vec())?));
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
        let txn = self.db.begin_read().map_err(storage("starting a read"))?;
        let table = txn
            .open_table(RECORDS)
            .map_err(storage("opening records"))?;
        for row in table.range(range).map_err(storage("reading records"))? {
            let (k, v) = row.map_err(storage("reading records"))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }
}
