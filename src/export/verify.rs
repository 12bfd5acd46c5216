//! Offline verification of an export directory (ledger-format.md §12): the manifest's
//! checkpoint, the range and consistency proofs, and every row against the raw records.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::Value;

use super::{
    CSV_COLUMNS, CSV_FILE, FORMAT, MANIFEST_FILE, Manifest, RAW_FILE, csv_row, data_file, json_row,
    matches, right_nodes, unb64,
};
use crate::checkpoint::{self, Checkpoint};
use crate::compact_range::CompactRange;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::ledger::Entry;
use crate::note::Verifier;
use crate::record;

/// What a verified export showed.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    pub rows: u64,
    pub covered: (u64, u64),
    pub size: u64,
    pub origin: String,
}

fn failed(message: String) -> Error {
    Error::Failed(message)
}

/// Verifies an export directory offline.
///
/// # Errors
/// [`Error::Invalid`] for a malformed export; [`Error::Failed`] naming the first row or proof
/// that does not hold.
pub fn verify(dir: &Path, verifiers: &[Verifier], trusted: Option<&Checkpoint>) -> Result<Checked> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| invalid(format!("cannot read {}: {e}", dir.join(name).display())))
    };
    let manifest: Manifest = serde_json::from_slice(&read(MANIFEST_FILE)?)
        .map_err(|e| invalid(format!("{MANIFEST_FILE}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!(
            "unknown export format '{}'",
            manifest.format
        )));
    }
    let end_cp = checkpoint::open(&manifest.checkpoint, verifiers)?.checkpoint;
    let start_cp = checkpoint::open(&manifest.start_checkpoint, verifiers)?.checkpoint;
    let proof: Vec<Hash> = manifest
        .start_consistency
        .iter()
        .map(|h| unb64(h, "start_consistency"))
        .collect::<Result<_>>()?;
    crate::proof_file::verify_consistency_edge(
        start_cp.head.size,
        end_cp.head.size,
        &start_cp.head.root,
        &end_cp.head.root,
        &proof,
    )
    .map_err(|e| failed(format!("the period's start checkpoint: {e}")))?;
    if start_cp.head.size > manifest.first || manifest.end > end_cp.head.size {
        return Err(failed(
            "the covered records are not between the two checkpoints".into(),
        ));
    }
    // Recompute the root from the left peaks, every covered record and the right subtrees.
    let raw = String::from_utf8(read(RAW_FILE)?)
        .map_err(|_| invalid(format!("{RAW_FILE} is not UTF-8")))?;
    let records: Vec<Vec<u8>> = raw
        .lines()
        .map(|l| {
            B64.decode(l)
                .map_err(|_| invalid(format!("{RAW_FILE}: a line is not base64")))
        })
        .collect::<Result<_>>()?;
    if records.len() as u64 != manifest.end - manifest.first {
        return Err(failed(format!(
            "{RAW_FILE} holds {} records, the manifest covers {}",
            records.len(),
            manifest.end - manifest.first
        )));
    }
    let left: Vec<Hash> = manifest
        .left
        .iter()
        .map(|h| unb64(h, "left"))
        .collect::<Result<_>>()?;
    let mut range =
        CompactRange::from_peaks(manifest.first, left).map_err(|e| failed(e.to_string()))?;
    let mut trusted_seen = false;
    for bytes in &records {
        check_trusted(trusted, &range, &mut trusted_seen)?;
        range.append(leaf_hash(bytes));
    }
    check_trusted(trusted, &range, &mut trusted_seen)?;
    if let Some(t) = trusted
        && !trusted_seen
    {
        let same_as =
            |c: &Checkpoint| c.head.size == t.head.size && c.head.root.ct_eq(&t.head.root);
        if !(same_as(&end_cp) || same_as(&start_cp)) {
            return Err(invalid(format!(
                "the trusted checkpoint (size {}) is outside the exported records {}..{} and is neither of the export's checkpoints",
                t.head.size, manifest.first, manifest.end
            )));
        }
    }
    for (n, h) in manifest.right.iter().enumerate() {
        let hash = unb64(h, "right")?;
        let (level, _) = *right_nodes(manifest.end, end_cp.head.size)
            .get(n)
            .ok_or_else(|| failed("too many right subtrees".into()))?;
        range
            .append_subtree(level, hash)
            .map_err(|e| failed(e.to_string()))?;
    }
    if range.size() != end_cp.head.size || !range.root().ct_eq(&end_cp.head.root) {
        return Err(failed("the covered records do not lead to the checkpoint's root: records were changed, added or removed".into()));
    }
    // The covered records are authentic. Rebuild the expected rows and compare.
    let q = &manifest.query;
    let mut expected_json = Vec::new();
    let mut expected_csv = Vec::new();
    for (n, bytes) in records.iter().enumerate() {
        let index = manifest.first + n as u64;
        let rec = record::decode(bytes).map_err(|e| failed(format!("record {index}: {e}")))?;
        let e = Entry {
            index,
            leaf_hash: leaf_hash(bytes),
            bytes: bytes.clone(),
            record: rec,
        };
        let edge = (n == 0
            && manifest.first > 0
            && e.record.time_us >= q.since_us
            && index + 1 != manifest.end)
            || (index + 1 == manifest.end
                && manifest.end < end_cp.head.size
                && e.record.time_us < q.until_us);
        if edge {
            return Err(failed(format!(
                "record {index} is inside the period but the export stops before it"
            )));
        }
        if matches(q, &e) {
            expected_json.push(json_row(&q.format, &e));
            expected_csv.push(csv_row(&e));
        }
    }
    let rows = if q.format != "csv" {
        let name = data_file(&q.format);
        let text =
            String::from_utf8(read(name)?).map_err(|_| invalid(format!("{name} is not UTF-8")))?;
        let found: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| failed(format!("{name}: {e}"))))
            .collect::<Result<_>>()?;
        compare(&found, &expected_json)?
    } else {
        let data = read(CSV_FILE)?;
        let mut reader = csv::Reader::from_reader(&data[..]);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| failed(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        if header != CSV_COLUMNS {
            return Err(failed(format!(
                "{CSV_FILE}: the columns are not {}",
                CSV_COLUMNS.join(",")
            )));
        }
        let found: Vec<Vec<String>> = reader
            .records()
            .map(|r| {
                r.map(|r| r.iter().map(str::to_string).collect())
                    .map_err(|e| failed(format!("{CSV_FILE}: {e}")))
            })
            .collect::<Result<_>>()?;
        compare(&found, &expected_csv)?
    };
    if rows != manifest.rows {
        return Err(failed(format!(
            "the manifest says {} rows, the data has {rows}",
            manifest.rows
        )));
    }
    Ok(Checked {
        rows,
        covered: (manifest.first, manifest.end),
        size: end_cp.head.size,
        origin: end_cp.origin,
    })
}

/// When the range has reached the trusted size, its root must be the trusted root: otherwise
/// the export comes from a ledger that forked from the one the verifier trusts.
fn check_trusted(
    trusted: Option<&Checkpoint>,
    range: &CompactRange,
    seen: &mut bool,
) -> Result<()> {
    if let Some(t) = trusted
        && t.head.size == range.size()
    {
        *seen = true;
        if !range.root().ct_eq(&t.head.root) {
            return Err(failed(format!(
                "the export's records differ from the trusted checkpoint at size {}: the ledger forked",
                t.head.size
            )));
        }
    }
    Ok(())
}

fn compare<T: PartialEq + std::fmt::Debug>(found: &[T], expected: &[T]) -> Result<u64> {
    for (n, (f, e)) in found.iter().zip(expected).enumerate() {
        if f != e {
            return Err(failed(format!(
                "row {}: it is not the record the ledger holds (changed, reordered or inserted)",
                n + 1
            )));
        }
    }
    if found.len() != expected.len() {
        let what = if found.len() < expected.len() {
            "missing"
        } else {
            "added"
        };
        return Err(failed(format!(
            "{} rows are {what} ({} found, {} expected)",
            found.len().abs_diff(expected.len()),
            found.len(),
            expected.len()
        )));
    }
    Ok(found.len() as u64)
}
