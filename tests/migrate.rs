//! Storage versions 1 and 2 to 3 (ledger-format.md §14), with the real binary, on ledger files
//! that earlier provledgers wrote: tests/data/v1 by the version-1 provledger (296 records in 8
//! commits with a key rotation; its checkpoint and an inclusion proof as that provledger
//! printed them), tests/data/v2 by the version-2 provledger's `migrate` of that file.

mod common;

use std::path::Path;

use common::run;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// A copy of the ledger of storage version `version` in a fresh folder.
fn old_ledger(version: u8) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".provledger");
    std::fs::create_dir(&ledger).unwrap();
    for name in ["ledger.redb", "key.pub"] {
        let from = Path::new(DATA).join(format!("v{version}")).join(name);
        std::fs::copy(from, ledger.join(name)).unwrap();
    }
    dir
}

/// What the version-1 provledger printed for its ledger.
fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(DATA).join("v1").join(name)).unwrap()
}

#[test]
fn an_older_file_is_refused_until_migrated_and_left_unchanged() {
    for version in [1, 2] {
        refused_until_migrated(version);
    }
}

fn refused_until_migrated(version: u8) {
    let dir = old_ledger(version);
    let file = dir.path().join(".provledger/ledger.redb");
    let before = std::fs::read(&file).unwrap();
    for args in [&["status"][..], &["verify"], &["log"]] {
        let r = run(dir.path(), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let said = format!("storage version {version}");
        assert!(r.stderr.contains(&said), "{}", r.stderr);
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
    for version in [1, 2] {
        migrates(version);
    }
}

fn migrates(version: u8) {
    let dir = old_ledger(version);
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
    let kept = dir
        .path()
        .join(format!(".provledger/ledger.redb.v{version}"));
    assert!(
        std::fs::read(kept).unwrap() == original,
        "the kept version-{version} file differs from the original"
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
        r.stderr.contains("only versions 1 and 2 are migrated"),
        "{}",
        r.stderr
    );
}
