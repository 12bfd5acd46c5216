//! Crash at every sync point (issue 6): a ledger is built and appended to on a redb storage
//! backend that records every write, length change and sync. Afterwards, for every sync N of
//! the run, the file as a power cut could have left it is rebuilt and opened as a real ledger:
//!
//! - everything up to and including sync N, nothing after (the writes after it were lost);
//! - that, plus every write up to the next sync (they reached the disk, the sync did not run);
//! - that, plus a pseudo-random subset of those writes (a torn commit, at write granularity).
//!
//! Each must open, pass `verify`, hold every record acknowledged by then with its exact bytes
//! (and no other bytes at any index), and take a new append. Every crash point of every commit
//! is covered, not a random sample.

use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{BackendError, StorageBackend};

use crate::examples::example;
use crate::store::{Memory, Store, write_at};
use crate::{Appended, Body, Kind, Ledger, keys, ledger};

#[derive(Clone, Debug)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Sync,
}

/// An in-memory disk that logs every operation redb makes on it.
#[derive(Clone, Debug, Default)]
struct Recorder {
    disk: Memory,
    ops: Arc<Mutex<Vec<Op>>>,
}

impl Recorder {
    fn log(&self, op: Op) {
        self.ops.lock().unwrap().push(op);
    }
}

impl StorageBackend for Recorder {
    fn len(&self) -> Result<u64, BackendError> {
        self.disk.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        self.disk.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        self.log(Op::SetLen(len));
        self.disk.set_len(len)
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        self.log(Op::Sync);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        self.log(Op::Write(offset, data.to_vec()));
        self.disk.write(offset, data)
    }
}

/// Replays one logged operation onto a file image.
fn apply(file: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write(offset, data) => write_at(file, *offset, data),
        Op::SetLen(len) => file.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// Checks the ledger left in `file`: `acked` records must be there, and every stored record
/// must be the one appended at its index.
fn check_image(file: &[u8], keys_from: &Path, acked: Option<usize>, all: &[Appended], case: &str) {
    let dir = tempfile::tempdir().unwrap();
    for name in [keys::KEY_FILE, keys::VKEY_FILE] {
        std::fs::copy(keys_from.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join(ledger::LEDGER_FILE), file).unwrap();
    let opened = Ledger::open(dir.path(), false);
    if acked.is_none() {
        // The creation itself was not acknowledged: a clean refusal is allowed.
        if let Err(e) = opened {
            assert!(!e.to_string().is_empty(), "{case}");
            return;
        }
    }
    let acked = acked.unwrap_or(0);
    let reader = opened.unwrap_or_else(|e| panic!("{case}: does not open: {e}"));
    let report = reader
        .verify(None, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{case}: verify failed: {e}"));
    let size = report.size as usize;
    assert!(
        size >= acked,
        "{case}: {acked} records acknowledged, {size} found"
    );
    for a in &all[..size] {
        let entry = reader.entry(a.index).unwrap();
        assert!(
            entry.leaf_hash == a.leaf_hash,
            "{case}: record {} changed",
            a.index
        );
    }
    drop(reader);
    // Appending continues.
    let writer = Ledger::open(dir.path(), true).unwrap_or_else(|e| panic!("{case}: {e}"));
    let next = writer
        .append("after-crash", body(Kind::LaneResult))
        .unwrap();
    assert_eq!(next.index as usize, size, "{case}");
    writer
        .verify(None, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{case}: verify after append: {e}"));
}

fn body(kind: Kind) -> Body {
    Body::from_json(kind, example(kind)).unwrap()
}

#[test]
fn every_sync_point_of_a_run_recovers_to_an_acknowledged_state() {
    let disk = Recorder::default();
    let keys_dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::init_in(keys_dir.path(), "test.example/sync", None, |f, o, v, n| {
        Store::create_on(disk.clone(), f, o, v, n)
    })
    .unwrap();
    // After each acknowledged call: (operations logged so far, records acknowledged).
    let ops_len = || disk.ops.lock().unwrap().len();
    let mut acks = vec![(ops_len(), 0)];
    let mut all = Vec::new();
    for round in 0..24 {
        if round % 4 == 3 {
            let items = (0..9).map(|_| ("ci".to_string(), body(Kind::LaneResult)));
            all.extend(ledger.append_batch(items.collect()).unwrap());
        } else {
            all.push(ledger.append("ci", body(Kind::Artifact)).unwrap());
        }
        acks.push((ops_len(), all.len()));
    }
    drop(ledger);
    let ops = disk.ops.lock().unwrap().clone();
    let syncs: Vec<usize> = (0..ops.len())
        .filter(|&i| matches!(ops[i], Op::Sync))
        .collect();
    assert!(syncs.len() >= 25, "only {} syncs", syncs.len());
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut cases = 0;
    for (n, &at) in syncs.iter().enumerate() {
        // Records acknowledged once every operation up to this sync is durable.
        // (None: not even the creation of the ledger.)
        let acked = acks
            .iter()
            .filter(|(len, _)| *len <= at + 1)
            .map(|(_, count)| *count)
            .max();
        let mut durable = Vec::new();
        for op in &ops[..=at] {
            apply(&mut durable, op);
        }
        let next = syncs.get(n + 1).copied().unwrap_or(ops.len());
        let pending = &ops[at + 1..next];
        check_image(&durable, keys_dir.path(), acked, &all, &format!("sync {n}"));
        let mut landed = durable.clone();
        for op in pending {
            apply(&mut landed, op);
        }
        check_image(
            &landed,
            keys_dir.path(),
            acked,
            &all,
            &format!("sync {n}+all"),
        );
        let mut torn = durable;
        for op in pending {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if matches!(op, Op::SetLen(_)) || seed.is_multiple_of(2) {
                apply(&mut torn, op);
            }
        }
        check_image(
            &torn,
            keys_dir.path(),
            acked,
            &all,
            &format!("sync {n}+torn"),
        );
        cases += 3;
    }
    eprintln!("{} sync points, {cases} crash images checked", syncs.len());
}
