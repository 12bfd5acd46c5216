//! Pipeline benches beside their same-run limits: `artifact add` of a 1 GiB file and of a
//! directory of 1,000 files against `b3sum` (Debian package b3sum) on the same data, both as
//! whole processes; channel moves (promote / rollback) against a single durable append.

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provledger::Ledger;
use provledger::pipeline::artifact::{self, Options};
use provledger::pipeline::release::FuseRequest;
use provledger::pipeline::{ArtifactMeta, policy};

const GIB: u64 = 1 << 30;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-pipeline")
}

/// Deterministic, incompressible-looking bytes.
fn fill(buf: &mut [u8], seed: u64) {
    let mut s = seed | 1;
    for chunk in buf.chunks_mut(8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let bytes = s.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn big_file() -> PathBuf {
    let path = data_dir().join("model-1gib.bin");
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(GIB) {
        std::fs::create_dir_all(data_dir()).unwrap();
        let mut buf = vec![0u8; 64 << 20];
        let mut out = std::fs::File::create(&path).unwrap();
        for i in 0..16 {
            fill(&mut buf, i);
            std::io::Write::write_all(&mut out, &buf).unwrap();
        }
    }
    path
}

fn thousand_files() -> (PathBuf, Vec<PathBuf>) {
    let dir = data_dir().join("model-dir-1000");
    let files: Vec<PathBuf> = (0..1000)
        .map(|i| dir.join(format!("shard-{i:04}.bin")))
        .collect();
    if !files.iter().all(|f| f.exists()) {
        std::fs::create_dir_all(&dir).unwrap();
        let mut buf = vec![0u8; 64 << 10];
        for (i, f) in files.iter().enumerate() {
            fill(&mut buf, i as u64);
            std::fs::write(f, &buf).unwrap();
        }
    }
    (dir, files)
}

fn provledger(ledger: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn add_args(path: &str) -> Vec<&str> {
    vec![
        "artifact",
        "add",
        path,
        "--name",
        "m",
        "--provider",
        "aws",
        "--kind",
        "runtime-distilled",
    ]
}

fn hashing(c: &mut Criterion) {
    let ledger_dir = tempfile::tempdir().unwrap();
    let ledger = ledger_dir.path().join("l");
    Ledger::init(&ledger, "bench.example/pipeline").unwrap();
    let file = big_file();
    let file_s = file.to_str().unwrap();
    let mut g = c.benchmark_group("hash_1gib_file");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(GIB));
    g.bench_function("b3sum", |b| {
        b.iter(|| {
            assert!(
                Command::new("b3sum")
                    .arg(&file)
                    .output()
                    .unwrap()
                    .status
                    .success()
            )
        })
    });
    // The first add appends; later ones find the same record and only hash.
    g.bench_function("provledger_artifact_add", |b| {
        b.iter(|| provledger(&ledger, &add_args(file_s)))
    });
    g.finish();

    let (dir, files) = thousand_files();
    let dir_s = dir.to_str().unwrap();
    let mut g = c.benchmark_group("hash_dir_1000_files");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(1000 * (64 << 10)));
    g.bench_function("b3sum", |b| {
        b.iter(|| {
            assert!(
                Command::new("b3sum")
                    .args(&files)
                    .output()
                    .unwrap()
                    .status
                    .success()
            )
        })
    });
    g.bench_function("provledger_artifact_add", |b| {
        b.iter(|| provledger(&ledger, &add_args(dir_s)))
    });
    g.finish();
}

/// A ledger with a one-gate policy and no lanes required.
fn ledger_with_policy(dir: &Path) -> Ledger {
    let ledger = Ledger::init(&dir.join("l"), "bench.example/pipeline").unwrap();
    let text = "name = \"p\"\nrequired_lanes = []\n[[gates]]\nname = \"q\"\nmetric = \"acc\"\ncomparator = \">=\"\nthreshold = 0.5\n";
    ledger
        .set_policy("rm", policy::parse(text).unwrap())
        .unwrap();
    ledger
}

/// Records a small model artifact `name` that passes the gate; returns its digest.
fn passing_model(ledger: &Ledger, dir: &Path, name: &str) -> provledger::Digest {
    let path = dir.join(format!("{name}.bin"));
    std::fs::write(&path, format!("weights of {name}")).unwrap();
    let hashed = artifact::hash_path(&path, Options::default()).unwrap();
    let meta = ArtifactMeta {
        name: name.into(),
        provider: "aws".into(),
        artifact_kind: "k".into(),
        ..Default::default()
    };
    ledger.add_artifact("t", &hashed, meta).unwrap();
    let metrics = serde_json::json!({"acc": 0.9});
    ledger
        .evaluate_gates("e", &hashed.blake3, &metrics, vec![])
        .unwrap();
    hashed.blake3
}

fn channel_moves(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_policy(dir.path());
    let model = passing_model(&ledger, dir.path(), "m");
    for id in ["v1", "v2"] {
        let req = FuseRequest {
            release_id: id.into(),
            components: vec![model],
            ..Default::default()
        };
        ledger.fuse("rm", &req).unwrap();
        ledger.promote("rm", id, "production").unwrap();
    }
    let mut g = c.benchmark_group("channel_move");
    let mut flip = false;
    g.bench_function("promote_or_rollback", |b| {
        b.iter(|| {
            flip = !flip;
            if flip {
                ledger
                    .rollback("op", "production", Some("v1"), "bench", false)
                    .unwrap()
            } else {
                ledger.promote("rm", "v2", "production").unwrap()
            }
        })
    });
    let body = provledger::Body::Promotion(provledger::kinds::Promotion {
        channel: "bench".into(),
        release_id: "v1".into(),
        release: provledger::record::RecordRef {
            index: 0,
            leaf_hash: provledger::Hash::default(),
        },
        replaces: None,
    });
    g.bench_function("single_durable_append", |b| {
        b.iter(|| ledger.append("t", body.clone()).unwrap())
    });
    g.finish();
}

/// A release of 100 components (each with its gate decisions) and its bundle.
fn bundle_100(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_policy(dir.path());
    let components: Vec<_> = (0..100)
        .map(|i| passing_model(&ledger, dir.path(), &format!("m{i}")))
        .collect();
    let req = FuseRequest {
        release_id: "big".into(),
        components,
        ..Default::default()
    };
    ledger.fuse("rm", &req).unwrap();
    let bundle = serde_json::to_string(&ledger.release_bundle("big", None).unwrap()).unwrap();
    let vkey = ledger.current_key().unwrap();
    let mut g = c.benchmark_group("bundle_100_components");
    g.bench_function("verify", |b| {
        b.iter(|| {
            provledger::bundle::verify(&bundle, std::slice::from_ref(&vkey), None, None).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, hashing, channel_moves, bundle_100);
criterion_main!(benches);
