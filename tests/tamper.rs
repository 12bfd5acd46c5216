//! Tampering (PRODUCT.md promise 2, issue 6): every kind of stored byte is changed through redb
//! directly, and random bytes of the file are flipped. `verify --trusted` (the node trusts the
//! ledger's last checkpoint) must never report OK on a changed ledger: it names the first bad
//! record or checkpoint, or refuses with a one-line error; never a panic.
//!
//! `TAMPER_FLIPS` sets the number of random flips (default 300; the extended lane runs more).

mod common;

use std::path::Path;

use common::{INDEX, LEDGER_FILE as FILE, LOG, META, Run, TILES, run, with_db};
use provledger::Ledger;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

/// `provledger verify --trusted` on the ledger in `dir`.
fn verify(dir: &Path) -> Run {
    run(dir, &["verify", "--trusted", "trusted.txt"])
}

/// A refusal as the product promises it: exit 1 (a failed check) or 2 (the file cannot be
/// read as a ledger), one line, no panic.
fn assert_refused(o: &Run, case: &str) {
    assert!(
        o.code != 0,
        "{case}: verify reported OK on a changed ledger"
    );
    assert!(
        o.code == 1 || o.code == 2,
        "{case}: exit {}: {}",
        o.code,
        o.stderr
    );
    assert!(
        o.stderr.starts_with("provledger: ") && o.stderr.lines().count() == 1,
        "{case}: not a one-line error: {}",
        o.stderr
    );
    assert!(!o.stderr.contains("(a bug)"), "{case}: {}", o.stderr);
}

/// A ledger of 301 records in 26 commits with a key rotation (so one epoch of index rows is
/// written, ledger-format.md §6.3), and `trusted.txt`: its last checkpoint, as a node that
/// follows it would hold.
fn ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::init(&dir.path().join(".provledger"), "test.example/tamper").unwrap();
    for c in 0..12u64 {
        let items = (c * 5..c * 5 + 4)
            .map(|i| ("t".to_string(), common::lane_body(i)))
            .collect();
        ledger.append_batch(items).unwrap();
        ledger.append("t", common::lane_body(c * 5 + 4)).unwrap();
        if c == 6 {
            ledger.rotate_key("t", None).unwrap();
        }
    }
    let items = (60..300)
        .map(|i| ("t".to_string(), common::lane_body(i)))
        .collect();
    ledger.append_batch(items).unwrap();
    let (_, note) = ledger.checkpoint(None).unwrap();
    std::fs::write(dir.path().join("trusted.txt"), note).unwrap();
    drop(ledger);
    assert_eq!(verify(dir.path()).code, 0);
    dir
}

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Every row of every table, as bytes: the ledger's logical content.
fn dump(file: &Path) -> Vec<Rows> {
    let db = Database::open(file).unwrap();
    let txn = db.begin_read().unwrap();
    let mut tables = Vec::new();
    for def in [META, LOG, TILES, INDEX] {
        let t = txn.open_table(def).unwrap();
        let rows = t.iter().unwrap().map(|r| {
            let (k, v) = r.unwrap();
            (k.value().to_be_bytes().to_vec(), v.value().to_vec())
        });
        tables.push(rows.collect());
    }
    tables
}

fn copy_ledger(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join(".provledger")).unwrap();
    for entry in std::fs::read_dir(from.join(".provledger")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(".provledger").join(entry.file_name())).unwrap();
    }
    std::fs::copy(from.join("trusted.txt"), to.join("trusted.txt")).unwrap();
}

/// A change to one row of one table: flip bit `bit` of the value, or delete the row.
#[derive(Clone, Copy, Debug)]
enum Change {
    Flip(usize),
    Delete,
}

fn change_u64_table(
    txn: &redb::WriteTransaction,
    def: TableDefinition<u64, &[u8]>,
    key: u64,
    c: Change,
) {
    let mut t = txn.open_table(def).unwrap();
    match c {
        Change::Flip(bit) => {
            let mut bytes = t.get(key).unwrap().unwrap().value().to_vec();
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            t.insert(key, bytes.as_slice()).unwrap();
        }
        Change::Delete => {
            t.remove(key).unwrap();
        }
    }
}

#[test]
fn every_kind_of_stored_byte_changed_through_redb_is_caught() {
    let base = ledger();
    let db_keys = |def: TableDefinition<u64, &[u8]>| -> Vec<u64> {
        let db = Database::open(base.path().join(FILE)).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(def).unwrap();
        t.iter().unwrap().map(|r| r.unwrap().0.value()).collect()
    };
    let mut seed = 0x1234_5678_9abc_def1_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut tried = 0;
    let work = tempfile::tempdir().unwrap();
    let mut case = |name: String, f: &dyn Fn(&redb::WriteTransaction)| {
        let dir = work.path().join(tried.to_string());
        copy_ledger(base.path(), &dir);
        with_db(&dir, f);
        assert_refused(&verify(&dir), &name);
        std::fs::remove_dir_all(&dir).unwrap();
        tried += 1;
    };
    // Every meta row, checkpoint and tile, every 10th record and the index rows: each
    // case runs the binary.
    for def in [META, LOG, TILES] {
        let keys = db_keys(def).into_iter().enumerate();
        for (_, key) in
            keys.filter(|&(n, key)| def.name() != "log" || key & 0xff != 1 || n % 10 == 0)
        {
            let bit = next();
            let name = format!("{} row {key}: bit {bit} flipped", def.name());
            case(name, &|txn| {
                change_u64_table(txn, def, key, Change::Flip(bit))
            });
            let name = format!("{} row {key}: deleted", def.name());
            case(name, &|txn| change_u64_table(txn, def, key, Change::Delete));
        }
    }
    // Each index row (one per tag of a complete epoch) deleted, cut short, and a bit flipped
    // in every 4th of its 5-byte entries.
    for key in db_keys(INDEX) {
        case(format!("index row {key:#x}: deleted"), &|txn| {
            change_u64_table(txn, INDEX, key, Change::Delete)
        });
        case(format!("index row {key:#x}: cut short"), &|txn| {
            let mut t = txn.open_table(INDEX).unwrap();
            let bytes = t.get(key).unwrap().unwrap().value().to_vec();
            t.insert(key, &bytes[..bytes.len() - 1]).unwrap();
        });
        let entries = {
            let db = Database::open(base.path().join(FILE)).unwrap();
            let txn = db.begin_read().unwrap();
            let t = txn.open_table(INDEX).unwrap();
            t.get(key).unwrap().unwrap().value().len() / 5
        };
        for entry in (0..entries).step_by(4) {
            let bit = entry * 40 + next() % 40;
            let name = format!("index row {key:#x}: bit {bit} flipped");
            case(name, &|txn| {
                change_u64_table(txn, INDEX, key, Change::Flip(bit))
            });
        }
    }
    eprintln!("{tried} changes through redb, every one caught");
    assert!(tried > 200, "{tried}");
}

#[test]
fn random_byte_flips_of_the_file_are_never_reported_ok() {
    let flips: usize = std::env::var("TAMPER_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let base = ledger();
    // Compacted, so that most flips land in pages that hold ledger content.
    let mut db = Database::open(base.path().join(FILE)).unwrap();
    db.compact(redb::CompactionMode::Balanced).unwrap();
    drop(db);
    let original = std::fs::read(base.path().join(FILE)).unwrap();
    let content = dump(&base.path().join(FILE));
    let mut seed = 0xdead_beef_cafe_f00d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let (mut caught, mut harmless) = (0, 0);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    copy_ledger(base.path(), dir);
    for trial in 0..flips {
        let mut bytes = original.clone();
        let at = next() % bytes.len();
        let mask = (next() % 255 + 1) as u8;
        bytes[at] ^= mask;
        std::fs::write(dir.join(FILE), &bytes).unwrap();
        let o = verify(dir);
        let name = format!("flip {trial}: byte {at} ^ {mask:#04x}");
        assert!(
            std::fs::read(dir.join(FILE)).unwrap() == bytes,
            "{name}: verify wrote to the file"
        );
        // Any other command: its output, or a one-line refusal (never a panic report).
        let log = run(dir, &["log", "--json"]);
        if log.code != 0 {
            assert_refused(&log, &format!("{name}, log"));
        }
        if o.code == 0 {
            // Only a byte that is not part of the ledger's content may pass unnoticed.
            assert!(
                dump(&dir.join(FILE)) == content,
                "{name}: verify reported OK on a changed ledger"
            );
            harmless += 1;
        } else {
            assert_refused(&o, &name);
            caught += 1;
        }
    }
    eprintln!(
        "{flips} random byte flips: {caught} caught, {harmless} in bytes that hold no ledger \
         content (verify OK, every table row unchanged)"
    );
}

#[test]
fn a_truncated_ledger_is_caught_against_the_checkpoint_a_node_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let ledger_dir = p.join(".provledger");
    let ledger = Ledger::init(&ledger_dir, "test.example/truncate").unwrap();
    for i in 0..10 {
        ledger.append("t", common::lane_body(i)).unwrap();
    }
    drop(ledger);
    // The file as it was at size 10: what deleting the last records would leave behind.
    let older = std::fs::read(p.join(FILE)).unwrap();
    let ledger = Ledger::open(&ledger_dir, true).unwrap();
    for i in 10..15 {
        ledger.append("t", common::lane_body(i)).unwrap();
    }
    let (_, note) = ledger.checkpoint(None).unwrap();
    drop(ledger);
    std::fs::write(p.join("trusted.txt"), note).unwrap();
    assert_eq!(verify(p).code, 0);
    std::fs::write(p.join(FILE), older).unwrap();
    // On its own the older ledger is a valid ledger of 10 records...
    assert_eq!(run(p, &["verify"]).code, 0);
    // ...but not one that extends what the node trusts.
    let o = verify(p);
    assert_refused(&o, "truncated to 10 of 15 records");
    assert!(o.stderr.contains("15"), "{}", o.stderr);
}
