//! Tampering through redb (as an attacker with file access would) and node anti-rollback, with
//! the real binary.

mod common;

use std::path::Path;

use common::{INDEX, LOG, TILES, checkpoint_key, record_key, run, with_db};
use provledger::Ledger;
use redb::ReadableTable;

fn ok(dir: &Path, args: &[&str]) -> String {
    let r = run(dir, args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

/// A ledger of 40 records in 10 commits, with a key rotation in the middle.
fn ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::init(&dir.path().join(".provledger"), "test.example/trust").unwrap();
    for c in 0..10u64 {
        let items = (c * 4..c * 4 + 3)
            .map(|i| ("t".to_string(), common::lane_body(i)))
            .collect();
        ledger.append_batch(items).unwrap();
        if c == 5 {
            ledger.rotate_key("t", None).unwrap();
        } else {
            ledger.append("t", common::lane_body(c * 4 + 3)).unwrap();
        }
    }
    dir
}

fn assert_verify_fails(dir: &Path, expected: &str) {
    let r = run(dir, &["verify"]);
    assert_eq!(r.code, 1, "verify passed a tampered ledger: {}", r.stdout);
    assert!(
        r.stderr.contains(expected),
        "expected '{expected}' in: {}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn an_untouched_ledger_verifies() {
    let dir = ledger();
    let out = ok(dir.path(), &["verify"]);
    assert!(out.starts_with("OK: 40 records"), "{out}");
    assert!(out.contains("1 key events"), "{out}");
}

#[test]
fn a_changed_record_is_named() {
    let dir = ledger();
    with_db(dir.path(), |txn| {
        let mut t = txn.open_table(LOG).unwrap();
        let mut bytes = t.get(record_key(17)).unwrap().unwrap().value().to_vec();
        let at = bytes.len() - 20;
        bytes[at] ^= 1;
        t.insert(record_key(17), bytes.as_slice()).unwrap();
    });
    assert_verify_fails(dir.path(), "record 17");
}

#[test]
fn a_changed_tree_hash_is_named() {
    let dir = ledger();
    with_db(dir.path(), |txn| {
        // Tile 0/1 (leaves 16..31) is full, so in the tiles table at key 0 << 56 | 1.
        let mut t = txn.open_table(TILES).unwrap();
        let mut bytes = t.get(1).unwrap().unwrap().value().to_vec();
        bytes[5 * 32] ^= 0x80; // node at post-order position 5 of that tile
        t.insert(1, bytes.as_slice()).unwrap();
    });
    let r = run(dir.path(), &["verify"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("record 1"), "{}", r.stderr); // a record of 16..31 names it
}

#[test]
fn a_changed_checkpoint_is_named() {
    let dir = ledger();
    with_db(dir.path(), |txn| {
        let mut t = txn.open_table(LOG).unwrap();
        let note = String::from_utf8(t.get(checkpoint_key(12)).unwrap().unwrap().value().to_vec())
            .unwrap();
        let forged = note.replacen("\n12\n", "\n13\n", 1);
        t.insert(checkpoint_key(12), forged.as_bytes()).unwrap();
    });
    assert_verify_fails(dir.path(), "checkpoint at size 12");
}

#[test]
fn a_deleted_index_row_is_named() {
    // Index rows are written when an epoch of 256 records is complete (ledger-format.md §6.3).
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&dir.path().join(".provledger"), "test.example/trust").unwrap();
    let items = (0..300)
        .map(|i| ("t".to_string(), common::lane_body(i)))
        .collect();
    ledger.append_batch(items).unwrap();
    drop(ledger);
    // The kind row of epoch 0 (key b'k' << 56 | 0) without its 31st entry (5 bytes each).
    with_db(dir.path(), |txn| {
        let mut t = txn.open_table(INDEX).unwrap();
        let key = u64::from(b'k') << 56;
        let mut row = t.get(key).unwrap().unwrap().value().to_vec();
        row.drain(150..155);
        t.insert(key, row.as_slice()).unwrap();
    });
    assert_verify_fails(dir.path(), "index row is missing");
}

#[test]
fn a_checkpoint_signed_by_a_retired_key_fails() {
    let dir = ledger();
    // Re-sign the checkpoint at size 40 with the genesis key, which was rotated out at 24.
    let genesis = dir.path().join("genesis.key");
    let other = ledger();
    std::fs::copy(other.path().join(".provledger/key"), &genesis).unwrap();
    let signer = provledger::keys::read_private(&genesis).unwrap();
    let l = Ledger::open(&dir.path().join(".provledger"), false).unwrap();
    let head = l.head_at(None).unwrap();
    drop(l);
    let note = provledger::ledger::sign_checkpoint("test.example/trust", head, &[&signer]).unwrap();
    with_db(dir.path(), |txn| {
        txn.open_table(LOG)
            .unwrap()
            .insert(checkpoint_key(40), note.as_bytes())
            .unwrap();
    });
    assert_verify_fails(dir.path(), "checkpoint at size 40");
}

/// The overlap checkpoint of the rotation (size 24) carries the retiring key's signature too:
/// changing it is caught, whether the change leaves the key id (a bad signature by a known
/// key) or changes it (a signature by a key the ledger never had).
#[test]
fn a_changed_retiring_signature_on_the_overlap_checkpoint_is_named() {
    for part in ["signature", "key id"] {
        let dir = ledger();
        // key.pub holds the key in force since the rotation; the other line is the retiring key's.
        let current = std::fs::read_to_string(dir.path().join(".provledger/key.pub")).unwrap();
        with_db(dir.path(), |txn| {
            let mut t = txn.open_table(LOG).unwrap();
            let note =
                String::from_utf8(t.get(checkpoint_key(24)).unwrap().unwrap().value().to_vec())
                    .unwrap();
            let lines: Vec<&str> = note.lines().collect();
            assert_eq!(
                lines.iter().filter(|l| l.starts_with('\u{2014}')).count(),
                2,
                "{note}"
            );
            // The signature lines: "— name base64(keyid || signature)"; a key's id is the 8 hex
            // digits after its name in its verifier text (name+id+key).
            let id = current.split('+').nth(1).unwrap();
            let current_id = u32::from_str_radix(id, 16).unwrap().to_be_bytes();
            let changed: Vec<String> = lines
                .iter()
                .map(|line| {
                    let Some(b64) = line
                        .strip_prefix('\u{2014}')
                        .and_then(|l| l.split(' ').nth(2))
                    else {
                        return line.to_string();
                    };
                    let mut raw = common::base64_decode(b64);
                    if raw[..4] == current_id {
                        return line.to_string();
                    }
                    let at = if part == "signature" { 40 } else { 1 };
                    raw[at] ^= 1;
                    line.replace(b64, &common::base64_encode(&raw))
                })
                .collect();
            let forged = changed.join("\n") + "\n";
            assert_ne!(forged, note);
            t.insert(checkpoint_key(24), forged.as_bytes()).unwrap();
        });
        assert_verify_fails(dir.path(), "checkpoint at size 24");
    }
}

fn save_checkpoint(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, ok(dir, &["checkpoint"])).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_node_accepts_extensions_and_refuses_rollbacks_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(p, &["init", "--origin", "test.example/node"]);
    let vkey = dir.path().join(".provledger/key.pub");
    let vkey = vkey.to_str().unwrap();
    let body = ok(p, &["append", "--example", "lane-result"]);
    std::fs::write(p.join("lane.json"), &body).unwrap();
    let append = || {
        ok(
            p,
            &["append", "--kind", "lane-result", "--json", "lane.json"],
        )
    };
    append();
    append();
    let old = save_checkpoint(p, "old.txt");
    let state = p.join("node-state.txt");
    let state_s = state.to_str().unwrap();
    let accept = |file: &str| {
        run(
            p,
            &[
                "checkpoint",
                "accept",
                file,
                "--trusted",
                state_s,
                "--vkey",
                vkey,
            ],
        )
    };

    let r = accept(&old);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("trusted on first use"), "{}", r.stdout);

    // A fork: a copy of the ledger at size 2 that takes a different third record.
    let fork = tempfile::tempdir().unwrap();
    copy_dir(&p.join(".provledger"), &fork.path().join(".provledger"));
    append();
    let new = save_checkpoint(p, "new.txt");
    let r = accept(&new);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("consistent extension"), "{}", r.stdout);
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        std::fs::read_to_string(&new).unwrap()
    );

    // An older checkpoint: refused, state unchanged, both printed as evidence.
    let r = accept(&old);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("rollback"), "{}", r.stderr);
    assert!(r.stdout.contains("trusted checkpoint:") && r.stdout.contains("new checkpoint:"));
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        std::fs::read_to_string(&new).unwrap()
    );

    // Same size, different root.
    let f = fork.path();
    let other_body = body.replace("\"fast\"", "\"release\"");
    std::fs::write(f.join("lane.json"), other_body).unwrap();
    ok(
        f,
        &["append", "--kind", "lane-result", "--json", "lane.json"],
    );
    let forked = save_checkpoint(f, "forked.txt");
    let r = accept(&forked);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("forked"), "{}", r.stderr);

    // A fork at an earlier size that has grown past the trusted size, with its own proof.
    ok(
        f,
        &["append", "--kind", "lane-result", "--json", "lane.json"],
    );
    let grown = save_checkpoint(f, "grown.txt");
    let proof = f.join("c.txt");
    ok(
        f,
        &["prove", "consistency", "3", "-o", proof.to_str().unwrap()],
    );
    let r = run(
        p,
        &[
            "checkpoint",
            "accept",
            &grown,
            "--trusted",
            state_s,
            "--vkey",
            vkey,
            "--proof",
            proof.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("does not extend"), "{}", r.stderr);

    // A valid signature, but from another key with the same name.
    let stranger = tempfile::tempdir().unwrap();
    ok(stranger.path(), &["init", "--origin", "test.example/node"]);
    let foreign = save_checkpoint(stranger.path(), "foreign.txt");
    let r = accept(&foreign);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no signature by a trusted key"),
        "{}",
        r.stderr
    );

    // A valid extension proved by a proof file, on a machine without the ledger.
    append();
    let newer = save_checkpoint(p, "newer.txt");
    let proof = p.join("c4.txt");
    ok(
        p,
        &["prove", "consistency", "3", "-o", proof.to_str().unwrap()],
    );
    let away = tempfile::tempdir().unwrap();
    let r = run(
        away.path(),
        &[
            "checkpoint",
            "accept",
            &newer,
            "--trusted",
            state_s,
            "--vkey",
            vkey,
            "--proof",
            proof.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        away.path(),
        &[
            "checkpoint",
            "accept",
            &newer,
            "--trusted",
            state_s,
            "--vkey",
            vkey,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("same tree head"), "{}", r.stdout);

    // verify --trusted: the fork does not extend what the node trusts.
    let r = run(f, &["verify", "--trusted", state_s]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    ok(p, &["verify", "--trusted", state_s]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn the_private_key_is_created_0600_and_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["init", "--origin", "test.example/keys"]);
    let key = dir.path().join(".provledger/key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = std::fs::read_to_string(&key).unwrap();
    // PRIVATE+KEY+<name>+<key id>+<base64>: the base64 itself may hold '+' (splitting at
    // the last '+' took a fragment of a few characters, which output could contain by chance).
    let secret_b64 = secret.trim().splitn(5, '+').nth(4).unwrap().to_string();
    assert!(secret_b64.len() >= 44, "not the whole key: {secret_b64}");
    let mut printed = out;
    for args in [
        &["key", "show"][..],
        &["key", "show", "--json"],
        &["key", "rotate"],
        &["status", "--json"],
    ] {
        printed.push_str(&ok(dir.path(), args));
    }
    assert!(
        !printed.contains(&secret_b64),
        "the private key was printed"
    );
    assert!(!printed.contains("PRIVATE+KEY"));
    let rotated = dir.path().join(".provledger/key");
    assert_eq!(
        std::fs::metadata(&rotated).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_go_format_private_key_can_be_imported_at_init_and_by_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("pn.key");
    std::fs::write(
        &key,
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz\n",
    )
    .unwrap();
    ok(dir.path(), &["init", "--key", key.to_str().unwrap()]);
    assert_eq!(
        ok(dir.path(), &["key", "show"]).trim(),
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    );
    let other = provledger::note::Signer::from_seed("PeterNeumann", [3; 32]).unwrap();
    let next = dir.path().join("next.key");
    std::fs::write(&next, other.to_private_text()).unwrap();
    ok(dir.path(), &["key", "import", next.to_str().unwrap()]);
    assert_eq!(
        ok(dir.path(), &["key", "show"]).trim(),
        other.verifier().to_text()
    );
    assert!(ok(dir.path(), &["verify"]).starts_with("OK: 1 records"));
}
