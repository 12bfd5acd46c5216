//! The real binary in temp dirs: the CLI contract (output, exit codes, one-line errors) and
//! that bad input leaves the ledger file byte-for-byte unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest as _, Sha256};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .env_remove("PROVLEDGER_DIR")
        .env("PROVLEDGER_ACTOR", "tester")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may refuse before it reads its input (a kind `append` does not take): the
    // pipe is then closed, which is not this harness's failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let r = run_in(dir, args, b"");
    assert_eq!(r.code, 0, "{args:?} failed: {}", r.stderr);
    r.stdout
}

fn ledger_file(dir: &Path) -> PathBuf {
    dir.join(".provledger/ledger.redb")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init", "--origin", "test.example/cli"]);
    for kind in ["artifact", "lane-result", "policy"] {
        let body = ok(dir.path(), &["append", "--example", kind]);
        let file = dir.path().join(format!("{kind}.json"));
        std::fs::write(&file, body).unwrap();
        ok(
            dir.path(),
            &["append", "--kind", kind, "--json", file.to_str().unwrap()],
        );
    }
    dir
}

fn status(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap()
}

#[test]
fn every_listed_kind_has_an_example_and_append_takes_only_the_unchecked_kinds() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    let kinds = ok(dir.path(), &["append", "--list-kinds"]);
    let kinds: Vec<&str> = kinds.lines().collect();
    assert_eq!(kinds.len(), 8);
    let before = std::fs::read(ledger_file(dir.path())).unwrap();
    let mut appended = 0u64;
    for kind in &kinds {
        let body = ok(dir.path(), &["append", "--example", kind]);
        let r = run_in(
            dir.path(),
            &["append", "--kind", kind, "--json", "-", "--format", "json"],
            body.as_bytes(),
        );
        match *kind {
            "artifact" | "lane-result" | "policy" => {
                assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
                let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
                assert_eq!(v["appended"][0]["index"], appended);
                appended += 1;
                assert_eq!(v["head"]["size"], appended);
            }
            _ => {
                // No back door: records that need checks against the ledger name their verb.
                assert_eq!(r.code, 2, "{kind} was appended");
                assert!(
                    r.stderr.contains("use 'provledger "),
                    "{kind}: {}",
                    r.stderr
                );
            }
        }
    }
    assert!(
        std::fs::read(ledger_file(dir.path())).unwrap() != before,
        "nothing was appended"
    );
}

#[test]
fn show_raw_bytes_hash_to_the_logged_leaf_hash() {
    let dir = setup();
    let log = ok(dir.path(), &["log", "--json"]);
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    for e in &entries {
        let index = e["index"].as_u64().unwrap().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
            .args(["show", &index, "--raw"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&out.stdout);
        assert_eq!(hex::encode(h.finalize()), e["leaf_hash"].as_str().unwrap());
    }
    assert_eq!(entries[1]["kind"], "lane-result");
    assert_eq!(entries[1]["actor"], "tester");
    assert_eq!(entries[1]["prev"]["size"], 1);
}

#[test]
fn a_json_array_and_json_lines_each_append_as_one_batch() {
    let dir = setup();
    let body = ok(dir.path(), &["append", "--example", "lane-result"]);
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    let array = serde_json::to_string(&vec![one.clone(), one.clone()]).unwrap();
    let r = run_in(
        dir.path(),
        &["append", "--kind", "lane-result", "--json", "-"],
        array.as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("appended records 3..=4"), "{}", r.stdout);
    let lines = format!("{one}\n{one}\n{one}\n");
    let r = run_in(
        dir.path(),
        &["append", "--kind", "lane-result", "--json", "-"],
        lines.as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(status(dir.path())["size"], 8);
}

#[test]
fn the_ledger_is_found_from_a_subfolder() {
    let dir = setup();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let s: serde_json::Value = serde_json::from_str(&ok(&sub, &["status", "--json"])).unwrap();
    assert_eq!(s["size"], 3);
    assert_eq!(s["origin"], "test.example/cli");
}

#[test]
fn search_lists_the_records_naming_a_digest() {
    let dir = setup();
    let digest = "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
    let out = ok(dir.path(), &["search", "--digest", digest, "--json"]);
    let kinds: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, vec!["artifact", "lane-result"]);
}

fn raw_record(dir: &Path, index: &str) -> Vec<u8> {
    Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(["show", index, "--raw"])
        .current_dir(dir)
        .output()
        .unwrap()
        .stdout
}

#[test]
fn a_proof_file_verifies_offline_with_the_key_and_a_tampered_one_does_not() {
    let dir = setup();
    let vkey = ok(dir.path(), &["key", "show"]).trim().to_string();
    let file = dir.path().join("r1.tlog-proof");
    ok(
        dir.path(),
        &["prove", "inclusion", "1", "-o", file.to_str().unwrap()],
    );
    let proof = std::fs::read_to_string(&file).unwrap();
    assert!(proof.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let rec = dir.path().join("r.bin");
    std::fs::write(&rec, raw_record(dir.path(), "1")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let args = [
        "verify-proof",
        file.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--record",
        rec.to_str().unwrap(),
    ];
    assert!(ok(elsewhere.path(), &args).starts_with("valid"));
    assert!(ok(elsewhere.path(), &args[..4]).starts_with("valid"));

    // Any changed path hash, record byte or checkpoint byte fails with exit 1.
    let path_line = proof.lines().nth(3).unwrap();
    let flipped = format!(
        "{}{}",
        if path_line.starts_with('A') { "B" } else { "A" },
        &path_line[1..]
    );
    let cases = [
        proof.replacen(path_line, &flipped, 1),
        proof.replacen("index 1", "index 0", 1),
        proof.replacen("test.example/cli\n3\n", "test.example/cli\n4\n", 1),
    ];
    for tampered in cases {
        assert_ne!(tampered, proof);
        std::fs::write(&file, &tampered).unwrap();
        let r = run_in(elsewhere.path(), &args[..4], b"");
        assert_eq!(r.code, 1, "accepted: {tampered}\n{}", r.stderr);
        assert!(r.stderr.starts_with("provledger: invalid"), "{}", r.stderr);
    }
    std::fs::write(&file, &proof).unwrap();
    let mut other = raw_record(dir.path(), "1");
    *other.last_mut().unwrap() ^= 1;
    std::fs::write(&rec, other).unwrap();
    assert_eq!(run_in(elsewhere.path(), &args, b"").code, 1);

    // The wrong key: exit 1.
    let stranger = tempfile::tempdir().unwrap();
    ok(stranger.path(), &["init", "--origin", "test.example/cli"]);
    let wrong = ok(stranger.path(), &["key", "show"]).trim().to_string();
    let r = run_in(
        elsewhere.path(),
        &["verify-proof", file.to_str().unwrap(), "--vkey", &wrong],
        b"",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn a_json_proof_verifies_against_a_given_root() {
    let dir = setup();
    let root = status(dir.path())["root"].as_str().unwrap().to_string();
    let file = dir.path().join("p.json");
    ok(
        dir.path(),
        &[
            "prove",
            "inclusion",
            "1",
            "--json",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let rec = dir.path().join("r.bin");
    std::fs::write(&rec, raw_record(dir.path(), "1")).unwrap();
    let args = [
        "verify-proof",
        file.to_str().unwrap(),
        "--root",
        &root,
        "--record",
        rec.to_str().unwrap(),
    ];
    assert!(ok(dir.path(), &args).starts_with("valid"));
    let mut bad_root = root.clone().into_bytes();
    bad_root[0] = if bad_root[0] == b'a' { b'b' } else { b'a' };
    let bad_root = String::from_utf8(bad_root).unwrap();
    let r = run_in(
        dir.path(),
        &["verify-proof", file.to_str().unwrap(), "--root", &bad_root],
        b"",
    );
    assert_eq!(r.code, 1);
    ok(
        dir.path(),
        &[
            "prove",
            "consistency",
            "1",
            "--json",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        ok(
            dir.path(),
            &["verify-proof", file.to_str().unwrap(), "--root", &root]
        )
        .starts_with("valid")
    );
}

#[test]
fn bad_input_exits_2_with_one_line_and_leaves_the_ledger_unchanged() {
    let dir = setup();
    let p = dir.path();
    std::fs::write(p.join("bad.json"), "{\"lane\": \"fast\",").unwrap();
    std::fs::write(p.join("wrong.json"), "{\"lane\": 5}").unwrap();
    std::fs::write(p.join("binary.json"), [0xffu8, 0xfe, 0x00]).unwrap();
    std::fs::write(p.join("empty.json"), "").unwrap();
    let lane = ok(p, &["append", "--example", "lane-result"]);
    let unknown = lane.replacen('{', "{\"extra\": 1,", 1);
    std::fs::write(p.join("unknown.json"), unknown).unwrap();
    let dup = lane.replacen('{', "{\"lane\": \"x\",", 1);
    std::fs::write(p.join("dup.json"), dup).unwrap();
    std::fs::write(
        p.join("nan.json"),
        lane.replace("\"tests\": 42", "\"tests\": NaN"),
    )
    .unwrap();
    std::fs::write(
        p.join("neg.json"),
        lane.replace("\"tests\": 42", "\"tests\": -1"),
    )
    .unwrap();
    std::fs::write(
        p.join("emptyname.json"),
        lane.replace("\"lane\": \"fast\"", "\"lane\": \"\""),
    )
    .unwrap();
    std::fs::write(p.join("array.json"), "[]").unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "append --kind lane-result --json bad.json",
            "malformed JSON",
        ),
        (
            "append --kind lane-result --json wrong.json",
            "invalid type",
        ),
        ("append --kind lane-result --json binary.json", "not UTF-8"),
        ("append --kind lane-result --json empty.json", "empty"),
        (
            "append --kind lane-result --json unknown.json",
            "unknown field",
        ),
        (
            "append --kind lane-result --json dup.json",
            "duplicate field",
        ),
        (
            "append --kind lane-result --json nan.json",
            "malformed JSON",
        ),
        ("append --kind lane-result --json neg.json", "invalid value"),
        (
            "append --kind lane-result --json emptyname.json",
            "must not be empty",
        ),
        ("append --kind lane-result --json array.json", "no records"),
        (
            "append --kind lane-result --json missing.json",
            "cannot read",
        ),
        ("append --kind nope --json bad.json", "unknown record kind"),
        ("show 3", "out of range"),
        ("prove inclusion 3", "out of range"),
        ("prove inclusion 0 --size 4", "no checkpoint at size 4"),
        (
            "prove inclusion 0 --size 4 --json",
            "larger than the ledger",
        ),
        ("prove consistency 2 9", "no checkpoint at size 9"),
        ("prove consistency 2 9 --json", "larger than the ledger"),
        ("checkpoint --size 7 --json", "no checkpoint at size 7"),
        (
            "verify-proof nothing.txt --vkey x+00000000+AA==",
            "verifier key",
        ),
        ("search --digest md5:00", "not blake3 or sha256"),
        ("log --since yesterday", "not an RFC 3339 time"),
        ("log --kind nope", "unknown record kind"),
        ("init", "already exists"),
    ];
    let before = std::fs::read(ledger_file(p)).unwrap();
    for (args, expected) in cases {
        let args: Vec<&str> = args.split(' ').collect();
        let r = run_in(p, &args, b"");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("provledger: "),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(expected),
            "{args:?}: expected '{expected}' in {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?} printed {}", r.stdout);
        assert_eq!(
            std::fs::read(ledger_file(p)).unwrap(),
            before,
            "{args:?} changed the ledger"
        );
    }
}

#[test]
fn commands_outside_a_ledger_say_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), &["status"], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("provledger init"), "{}", r.stderr);
}

#[test]
fn an_append_returns_a_receipt_that_verifies_offline() {
    let dir = setup();
    let body = ok(dir.path(), &["append", "--example", "lane-result"]);
    let r = run_in(
        dir.path(),
        &[
            "append",
            "--kind",
            "lane-result",
            "--json",
            "-",
            "--format",
            "json",
        ],
        body.as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["inclusion_proof"]["index"], 3);
    assert!(
        v["checkpoint"]
            .as_str()
            .unwrap()
            .starts_with("test.example/cli\n4\n")
    );
    let receipt = dir.path().join("receipt.tlog-proof");
    std::fs::write(&receipt, v["receipt"].as_str().unwrap()).unwrap();
    let vkey = ok(dir.path(), &["key", "show"]).trim().to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = ok(
        elsewhere.path(),
        &["verify-proof", receipt.to_str().unwrap(), "--vkey", &vkey],
    );
    assert!(out.starts_with("valid: record 3"), "{out}");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let dir = setup();
    // More output than a pipe buffers (64 KiB), so the writer meets the closed pipe.
    let body: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["append", "--example", "lane-result"])).unwrap();
    let batch = serde_json::to_string(&vec![body; 400]).unwrap();
    let r = run_in(
        dir.path(),
        &["append", "--kind", "lane-result", "--json", "-"],
        batch.as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // `provledger log --json | head -c 1`: the pipe closes after the first byte.
    let mut child = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(["log", "--json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    use std::io::Read;
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
