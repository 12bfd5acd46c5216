//! Storage version 1 to 2 (ledger-format.md §14), with the real binary, on a ledger file that
//! the version-1 provledger wrote (tests/data/v1: 296 records in 8 commits with a key
//! rotation; its checkpoint and an inclusion proof as that provledger printed them).

mod common;

use std::path::Path;

use common::run;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v1");

/// A copy of the version-1 ledger in a fresh folder.
fn v1_ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".provledger");
    std::fs::create_dir(&ledger).unwrap();
    for name in ["ledger.redb", "key.pub"] {
        std::fs::copy(Path::new(FIXTURE).join(name), ledger.join(name)).unwrap();
    }
    dir
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURE).join(name)).unwrap()
}

#[test]
fn a_version_1_file_is_refused_until_migrated_and_left_unchanged() {
    let dir = v1_ledger();
    let file = dir.path().join(".provledger/ledger.redb");
    let before = std::fs::read(&file).unwrap();
    for args in [&["status"][..], &["verify"], &["log"]] {
        let r = run(dir.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("storage version 1"), "{}", r.stderr);
        assert!(r.stderr.contains("provledger migrate"), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    assert!(
        std::fs::read(&file).unwrap() == before,
        "a refused open changed the file"
    );
}

#[test]
fn migration_keeps_records_checkpoints_roots_and_proofs() {
    let dir = v1_ledger();
    let file = dir.path().join(".provledger/ledger.redb");
    let original = std::fs::read(&file).unwrap();
    let r = run(dir.path(), &["migrate"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("296 records and 8 checkpoints"),
        "{}",
        r.stdout
    );
    // The old file is kept as it was.
    let kept = std::fs::read(dir.path().join(".provledger/ledger.redb.v1")).unwrap();
    assert!(
        kept == original,
        "the kept version-1 file differs from the original"
    );

    let r = run(dir.path(), &["verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v1_checkpoint = fixture("v1-checkpoint.txt");
    let root_b64 = v1_checkpoint.lines().nth(2).unwrap();
    let root_hex = hex::encode(common::base64_decode(root_b64));
    assert!(
        r.stdout
            .starts_with(&format!("OK: 296 records, root {root_hex}")),
        "{}",
        r.stdout
    );
    // Checkpoints are copied byte for byte, and the tree is the same tree: the proof the
    // version-1 provledger printed is printed again.
    let r = run(dir.path(), &["checkpoint"]);
    assert!(r.stdout == v1_checkpoint, "{}", r.stdout);
    let r = run(dir.path(), &["prove", "inclusion", "150"]);
    assert!(r.stdout == fixture("v1-proof-150.txt"), "{}", r.stdout);
    // The index was rebuilt: one complete epoch (256 records) in the index, 40 after it.
    let r = run(dir.path(), &["log", "--kind", "lane-result", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.matches("\"index\"").count(),
        295,
        "295 lane results and a key event"
    );
    let r = run(dir.path(), &["log", "--kind", "key-event", "--json"]);
    assert_eq!(r.stdout.matches("\"index\"").count(), 1);

    // A second migration has nothing to do.
    let r = run(dir.path(), &["migrate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("only version 1 is migrated"),
        "{}",
        r.stderr
    );
}
