//! The ledger on a real redb file: proofs at any size against the reference model (crossing
//! tile boundaries), the chain field, reopening, indexes and time filters.

mod common;

use std::sync::{Mutex, OnceLock};

use common::{Reference, lane_body};
use proptest::prelude::*;
use provledger::hash::leaf_hash;
use provledger::kinds::{Artifact, Source};
use provledger::ledger::Filter;
use provledger::proof::{verify_consistency, verify_inclusion};
use provledger::{Body, Digest, Kind, Ledger, record};

const BIG: u64 = 100_000;

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    reference: Mutex<Reference>,
}

/// A 100,000-record ledger (three tile levels), appended in batches of 10,000.
fn big() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::init(&dir.path().join("l"), "test.example/big").unwrap();
        for chunk in 0..BIG / 10_000 {
            let items = (chunk * 10_000..(chunk + 1) * 10_000)
                .map(|i| ("tester".to_string(), lane_body(i)))
                .collect();
            ledger.append_batch(items).unwrap();
        }
        let mut leaves = Vec::new();
        let snap = ledger.snapshot().unwrap();
        snap.for_each_record(0..BIG, |_, bytes| {
            leaves.push(leaf_hash(bytes));
            Ok(())
        })
        .unwrap();
        Fixture {
            _dir: dir,
            ledger,
            reference: Mutex::new(Reference::new(leaves)),
        }
    })
}

fn small_ledger(n: u64) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&dir.path().join("l"), "test.example/small").unwrap();
    for i in 0..n {
        ledger.append("tester", lane_body(i)).unwrap();
    }
    (dir, ledger)
}

/// Property cases: 64 in CI, `PROPTEST_CASES` in the extended lane.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn inclusion_at_random_sizes_matches_the_reference(size in 1..=BIG, seed in any::<u64>()) {
        let f = big();
        let index = seed % size;
        let p = f.ledger.prove_inclusion(index, Some(size)).unwrap();
        let mut r = f.reference.lock().unwrap();
        prop_assert_eq!(p.root, r.mth(0, size as usize));
        prop_assert_eq!(&p.path, &r.path(index as usize, 0, size as usize));
        prop_assert_eq!(p.leaf_hash, r.leaves[index as usize]);
        prop_assert!(verify_inclusion(index, size, &p.leaf_hash, &p.path, &p.root).is_ok());
    }

    #[test]
    fn consistency_at_random_sizes_matches_the_reference(a in 1..=BIG, b in 1..=BIG) {
        let (m, n) = (a.min(b), a.max(b));
        let f = big();
        let p = f.ledger.prove_consistency(m, Some(n)).unwrap();
        let mut r = f.reference.lock().unwrap();
        prop_assert_eq!(p.first.root, r.mth(0, m as usize));
        prop_assert_eq!(p.second.root, r.mth(0, n as usize));
        if m < n {
            prop_assert_eq!(&p.proof, &r.proof(m as usize, n as usize));
        } else {
            prop_assert!(p.proof.is_empty());
        }
        prop_assert!(verify_consistency(m, n, &p.first.root, &p.second.root, &p.proof).is_ok());
    }
}

#[test]
fn every_record_names_the_root_at_its_index() {
    let f = big();
    let snap = f.ledger.snapshot().unwrap();
    let mut r = f.reference.lock().unwrap();
    for i in (0..BIG)
        .step_by(97)
        .chain([0, 255, 256, 257, 65_535, 65_536, BIG - 1])
    {
        let bytes = snap.record(i).unwrap().unwrap();
        let rec = record::decode(&bytes).unwrap();
        assert_eq!(rec.prev.size, i);
        assert_eq!(rec.prev.root, r.mth(0, i as usize), "record {i}");
    }
}

#[test]
fn reopening_gives_the_same_head_and_appending_continues() {
    let (dir, ledger) = small_ledger(300);
    let before = ledger.status().unwrap();
    drop(ledger);
    let ledger = Ledger::open(&dir.path().join("l"), true).unwrap();
    let after = ledger.status().unwrap();
    assert_eq!((before.size, before.root), (after.size, after.root));
    let appended = ledger.append("tester", lane_body(300)).unwrap();
    assert_eq!(appended.index, 300);
    let rec = ledger.entry(300).unwrap().record;
    assert_eq!((rec.prev.size, rec.prev.root), (before.size, before.root));
}

#[test]
fn times_never_decrease_and_filters_select_by_time_and_kind() {
    let (_dir, ledger) = small_ledger(20);
    let all = ledger.log(&Filter::default()).unwrap();
    assert_eq!(all.len(), 20);
    for pair in all.windows(2) {
        assert!(pair[0].record.time_us <= pair[1].record.time_us);
    }
    let t = all[10].record.time_us;
    let since = ledger
        .log(&Filter {
            since_us: Some(t),
            ..Filter::default()
        })
        .unwrap();
    let expected: Vec<u64> = all
        .iter()
        .filter(|e| e.record.time_us >= t)
        .map(|e| e.index)
        .collect();
    assert_eq!(since.iter().map(|e| e.index).collect::<Vec<_>>(), expected);
    let until = ledger
        .log(&Filter {
            until_us: Some(t),
            ..Filter::default()
        })
        .unwrap();
    assert!(until.iter().all(|e| e.record.time_us < t));
    assert_eq!(until.len() + since.len(), 20);
    let policies = ledger
        .log(&Filter {
            kind: Some(Kind::Policy),
            ..Filter::default()
        })
        .unwrap();
    assert!(policies.is_empty());
    let lanes = ledger
        .log(&Filter {
            kind: Some(Kind::LaneResult),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(lanes.len(), 20);
}

fn artifact(name: &str, content: &[u8], source: Digest) -> Body {
    Body::Artifact(Artifact {
        name: name.into(),
        provider: "gcp".into(),
        artifact_kind: "embeddings".into(),
        digests: vec![Digest::blake3(content), Digest::sha256(content)],
        size: content.len() as u64,
        file_count: 1,
        uri: None,
        sources: vec![Source {
            source_kind: "s3-object".into(),
            uri: "s3://b/k".into(),
            digest: source,
        }],
        parents: vec![],
        config_digest: None,
    })
}

#[test]
fn search_finds_every_record_naming_a_digest_and_nothing_else() {
    let (_dir, ledger) = small_ledger(3);
    let shared = Digest::blake3(b"dataset");
    ledger
        .append("t", artifact("a", b"model a", shared))
        .unwrap();
    ledger
        .append("t", artifact("b", b"model b", shared))
        .unwrap();
    ledger
        .append("t", artifact("c", b"model c", Digest::blake3(b"other")))
        .unwrap();
    let hits: Vec<u64> = ledger
        .search_digest(&shared)
        .unwrap()
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(hits, vec![3, 4]);
    let by_sha: Vec<u64> = ledger
        .search_digest(&Digest::sha256(b"model c"))
        .unwrap()
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(by_sha, vec![5]);
    assert!(
        ledger
            .search_digest(&Digest::blake3(b"nothing"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_batch_with_one_invalid_body_appends_nothing() {
    let (_dir, ledger) = small_ledger(2);
    let before = ledger.status().unwrap();
    let mut bad = lane_body(9);
    if let Body::LaneResult(l) = &mut bad {
        l.lane = String::new();
    }
    let items = vec![("t".to_string(), lane_body(7)), ("t".to_string(), bad)];
    assert!(ledger.append_batch(items).is_err());
    let after = ledger.status().unwrap();
    assert_eq!((before.size, before.root), (after.size, after.root));
}

/// Large batches are checked in two halves on two threads: the error still names the first bad
/// record, in either half, and nothing is appended.
#[test]
fn a_large_batch_names_its_first_bad_record() {
    let (_dir, ledger) = small_ledger(2);
    let bad = || {
        let mut body = lane_body(9);
        if let Body::LaneResult(l) = &mut body {
            l.lane = String::new();
        }
        body
    };
    for (first, second) in [(100, 700), (500, 700), (0, 799)] {
        let items: Vec<(String, Body)> = (0..800)
            .map(|i| {
                let body = if i == first || i == second {
                    bad()
                } else {
                    lane_body(i)
                };
                ("t".to_string(), body)
            })
            .collect();
        let err = ledger.append_batch(items).unwrap_err().to_string();
        assert!(err.contains(&format!("record {}:", first + 1)), "{err}");
    }
    assert_eq!(ledger.status().unwrap().size, 2);
    // A batch large enough that redb would spill pages to the file before the commit, if
    // anything were written before the last record is checked: the file stays as it was.
    let file = ledger.dir().join(provledger::ledger::LEDGER_FILE);
    let before = std::fs::read(&file).unwrap();
    let items: Vec<(String, Body)> = (0..20_000)
        .map(|i| {
            (
                "t".to_string(),
                if i == 19_999 { bad() } else { lane_body(i) },
            )
        })
        .collect();
    let err = ledger.append_batch(items).unwrap_err().to_string();
    assert!(err.contains("record 20000:"), "{err}");
    assert!(std::fs::read(&file).unwrap() == before, "the file changed");
}
