//! Criterion benches of the ledger beside the limits measured in the same run: raw redb
//! commits of the same bytes, and raw SHA-256. `tools/bench` runs them and prints the ratios
//! that BENCHMARKS.md reports.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use provledger::kinds::{LaneResult, Outcome};
use provledger::{Body, Digest, Ledger, Record, TreeHead, record};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

const RAW: TableDefinition<u64, &[u8]> = TableDefinition::new("raw");
const MILLION: u64 = 1_000_000;

/// A realistic ~300-byte lane result naming one artifact digest.
fn body(i: u64) -> Body {
    Body::LaneResult(LaneResult {
        lane: "federation-integration".into(),
        commit: Some(format!("{:040x}", i)),
        subjects: vec![Digest::blake3(&i.to_le_bytes())],
        outcome: Outcome::Passed,
        tests: 412,
        failures: 0,
        errors: 0,
        skipped: 3,
        duration_ms: 81_250,
        report_digest: Some(Digest::sha256(&i.to_le_bytes())),
    })
}

/// The record bytes provledger would store for `body(i)`: what raw redb stores in the baseline.
fn record_bytes(i: u64) -> Vec<u8> {
    record::encode(&Record {
        version: 1,
        time_us: 1_764_806_400_000_000,
        actor: "ci@example.com".into(),
        prev: TreeHead {
            size: i,
            root: provledger::hash::EMPTY_ROOT,
        },
        body: body(i),
    })
    .unwrap()
}

fn fresh_ledger(dir: &Path) -> Ledger {
    Ledger::init(&dir.join("l"), "bench.example/ledger").unwrap()
}

fn durable_single_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_single_append");
    let dir = tempfile::tempdir().unwrap();
    let ledger = fresh_ledger(dir.path());
    let mut i = 0;
    g.bench_function("provledger", |b| {
        b.iter(|| {
            i += 1;
            ledger.append("ci@example.com", body(i)).unwrap()
        })
    });
    let raw_dir = tempfile::tempdir().unwrap();
    let db = Database::create(raw_dir.path().join("raw.redb")).unwrap();
    let bytes = record_bytes(7);
    let mut k = 0u64;
    g.bench_function("raw_redb", |b| {
        b.iter(|| {
            k += 1;
            let mut txn = db.begin_write().unwrap();
            txn.set_durability(Durability::Immediate).unwrap();
            txn.open_table(RAW)
                .unwrap()
                .insert(k, bytes.as_slice())
                .unwrap();
            txn.commit().unwrap();
        })
    });
    g.finish();
}

fn batch_append(c: &mut Criterion) {
    const BATCH: u64 = 10_000;
    let mut g = c.benchmark_group("batch_append_10k");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    let ledger = fresh_ledger(dir.path());
    let mut next = 0u64;
    g.bench_function("provledger", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                (next - BATCH..next)
                    .map(|i| ("ci@example.com".to_string(), body(i)))
                    .collect()
            },
            |items| ledger.append_batch(items).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let raw_dir = tempfile::tempdir().unwrap();
    let db = Database::create(raw_dir.path().join("raw.redb")).unwrap();
    let rows: Vec<Vec<u8>> = (0..BATCH).map(record_bytes).collect();
    let mut base = 0u64;
    g.bench_function("raw_redb", |b| {
        b.iter(|| {
            let mut txn = db.begin_write().unwrap();
            txn.set_durability(Durability::Immediate).unwrap();
            {
                let mut t = txn.open_table(RAW).unwrap();
                for (j, row) in rows.iter().enumerate() {
                    t.insert(base + j as u64, row.as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
            base += BATCH;
        })
    });
    g.finish();
}

/// A 10^6-record ledger, built once and kept under target/ between runs.
fn million() -> Ledger {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-ledger-1m");
    if let Ok(ledger) = Ledger::open(&dir, false)
        && ledger.status().unwrap().size == MILLION
    {
        return ledger;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let ledger = Ledger::init(&dir, "bench.example/million").unwrap();
    for chunk in 0..MILLION / 50_000 {
        let items = (chunk * 50_000..(chunk + 1) * 50_000)
            .map(|i| ("ci@example.com".to_string(), body(i)))
            .collect();
        ledger.append_batch(items).unwrap();
    }
    ledger
}

/// A cheap deterministic sequence for picking proof positions.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn proofs(c: &mut Criterion) {
    let ledger = million();
    let mut g = c.benchmark_group("proofs_at_1m");
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    g.bench_function("inclusion", |b| {
        b.iter(|| {
            let size = MILLION - next(&mut s) % 1000;
            let index = next(&mut s) % size;
            black_box(ledger.prove_inclusion(index, Some(size)).unwrap())
        })
    });
    g.bench_function("consistency", |b| {
        b.iter(|| {
            let n = MILLION - next(&mut s) % 1000;
            let m = 1 + next(&mut s) % (n - 1);
            black_box(ledger.prove_consistency(m, Some(n)).unwrap())
        })
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let ledger = million();
    let mut g = c.benchmark_group("verify_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MILLION));
    // As `provledger verify` runs: the integrity-checked open, then the audit.
    g.bench_function("provledger_verify", |b| {
        b.iter(|| {
            Ledger::open_checked(ledger.dir())
                .unwrap()
                .verify(None, &mut |_, _| {})
                .unwrap()
        })
    });
    // The floor: read every record and hash it once, nothing else.
    g.bench_function("read_and_leaf_hash_only", |b| {
        b.iter(|| {
            let snap = ledger.snapshot().unwrap();
            let mut acc = 0u8;
            snap.for_each_record(0..MILLION, |_, bytes| {
                acc ^= provledger::hash::leaf_hash(bytes).0[0];
                Ok(())
            })
            .unwrap();
            acc
        })
    });
    g.finish();
}

fn export(c: &mut Criterion) {
    let ledger = million();
    let out = tempfile::tempdir().unwrap();
    let query = provledger::export::Query {
        since_us: i64::MIN,
        until_us: i64::MAX,
        kinds: vec![],
        channel: None,
        format: "jsonl".into(),
    };
    let mut g = c.benchmark_group("export_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MILLION));
    g.bench_function("jsonl", |b| {
        b.iter(|| ledger.export(&query, out.path()).unwrap())
    });
    g.finish();
}

fn raw_reads_and_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("limits");
    let bytes = record_bytes(1);
    g.bench_function("sha256_record", |b| {
        b.iter(|| provledger::hash::leaf_hash(black_box(&bytes)))
    });
    // The chain field's floor: every record names root(i), so appending or verifying a record
    // at ~10^6 costs one leaf hash plus root(i), ~popcount(i) node hashes, in sequence.
    let mut range = provledger::compact_range::CompactRange::new();
    for i in 0..MILLION {
        range.append(provledger::hash::leaf_hash(&i.to_be_bytes()));
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("chain_leaf_and_root_per_record_at_1m", |b| {
        b.iter(|| {
            range.append(provledger::hash::leaf_hash(black_box(&bytes)));
            black_box(range.root())
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("raw.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(RAW).unwrap();
        for k in 0..100_000u64 {
            t.insert(k, bytes.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
    let mut s = 1u64;
    g.bench_function("raw_redb_point_read_in_fresh_txn", |b| {
        b.iter(|| {
            let t = db.begin_read().unwrap().open_table(RAW).unwrap();
            black_box(
                t.get(next(&mut s) % 100_000)
                    .unwrap()
                    .unwrap()
                    .value()
                    .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    durable_single_append,
    batch_append,
    proofs,
    verify,
    export,
    raw_reads_and_hashing
);
criterion_main!(benches);
