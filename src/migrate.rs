//! `provledger migrate`: storage version 1 or 2 to 3 (ledger-format.md §14). The meta rows,
//! records and checkpoints are copied byte for byte; tiles and index rows are rebuilt from the
//! records; the rebuilt root at every checkpoint's size must equal the root it signs. The new
//! file is written beside the old one and verified before it replaces it; the old one is kept
//! as `ledger.redb.v1` or `ledger.redb.v2`. A crash at any point leaves the old file in place.

use std::path::Path;

use serde::Serialize;

use crate::append::seal;
use crate::compact_range::CompactRange;
use crate::error::{Error, Result};
use crate::hash::leaf_hash;
use crate::ledger::{LEDGER_FILE, Ledger};
use crate::store::{Records, Store, older::Older};
use crate::{checkpoint, index, record};

/// Records per write transaction of the new file (a transaction holds whole commits).
const RECORDS_PER_WRITE: u64 = 50_000;

/// What a migration did.
#[derive(Clone, Debug, Serialize)]
pub struct Migrated {
    pub records: u64,
    pub checkpoints: u64,
    /// Where the old file is kept.
    pub kept: std::path::PathBuf,
}

/// Migrates the version-1 or version-2 ledger in `dir` to the current storage version.
///
/// # Errors
/// [`Error::Invalid`] when the file is not version 1 or 2; [`Error::Corrupt`] when a checkpoint
/// does not sign the root of the records before it; storage and I/O errors.
pub fn migrate(dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Migrated> {
    let file = dir.join(LEDGER_FILE);
    let old = Older::open(&file)?;
    let (origin, genesis) = old.identity()?;
    let checkpoints = old.checkpoints()?;
    let Some((0, empty)) = checkpoints.first() else {
        return Err(Error::Corrupt("the checkpoint at size 0 is missing".into()));
    };
    let total = checkpoints.last().map_or(0, |(size, _)| *size);
    let next = dir.join(format!("{LEDGER_FILE}.migrating"));
    if next.exists() {
        std::fs::remove_file(&next).map_err(|e| Error::Io(format!("{}: {e}", next.display())))?;
    }
    let new = Store::create(&next, &origin, &genesis, empty)?;
    let mut range = CompactRange::new();
    let mut rest = &checkpoints[1..];
    while !rest.is_empty() {
        let start = range.size();
        // Whole commits, up to RECORDS_PER_WRITE records (at least one commit).
        let take = 1 + rest[1..]
            .iter()
            .take_while(|(size, _)| size - start <= RECORDS_PER_WRITE)
            .count();
        let (commits, later) = rest.split_at(take);
        rest = later;
        new.write(|batch| {
            let mut rows = Vec::new();
            for (size, note) in commits {
                old.for_each_record(range.size()..*size, |i, bytes| {
                    let rec = record::decode(bytes)
                        .map_err(|e| Error::Corrupt(format!("record {i}: {e}")))?;
                    index::rows_into(i, &rec.body, &mut rows);
                    let mut record = Records::default();
                    record.push(|out, nodes| {
                        out.extend_from_slice(bytes);
                        range.append_into(leaf_hash(bytes), nodes);
                    });
                    batch.put_records(1, [Ok(record)])
                })?;
                let signed = checkpoint::Checkpoint::parse(crate::note::split(note)?.0)
                    .map_err(|e| Error::Corrupt(format!("checkpoint at size {size}: {e}")))?;
                if range.size() != *size || !signed.head.root.ct_eq(&range.root()) {
                    return Err(Error::Corrupt(format!(
                        "checkpoint at size {size} does not sign the root of the records before it"
                    )));
                }
                batch.put_checkpoint(note)?;
            }
            seal(batch, start, range.size(), rows)
        })?;
        progress(range.size(), total);
    }
    drop(new);
    // The new file must verify as a whole before it replaces the old one.
    Ledger::open_file(dir, &next)?.verify(None, &mut |_, _| {})?;
    let kept = dir.join(format!("{LEDGER_FILE}.v{}", old.version));
    drop(old);
    std::fs::rename(&file, &kept).map_err(|e| Error::Io(format!("{}: {e}", kept.display())))?;
    std::fs::rename(&next, &file).map_err(|e| Error::Io(format!("{}: {e}", file.display())))?;
    Ok(Migrated {
        records: total,
        checkpoints: checkpoints.len() as u64,
        kept,
    })
}
