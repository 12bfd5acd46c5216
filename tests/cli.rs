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
    child.stdin.take().unwrap().write_all(stdin).unwrap();
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
fn every_listed_kind_has_an_example_that_appends() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    let kinds = ok(dir.path(), &["append", "--list-kinds"]);
    let kinds: Vec<&str> = kinds.lines().collect();
    assert_eq!(kinds.len(), 8);
    for (i, kind) in kinds.iter().enumerate() {
        let body = ok(dir.path(), &["append", "--example", kind]);
        let r = run_in(
            dir.path(),
            &["append", "--kind", kind, "--json", "-", "--format", "json"],
            body.as_bytes(),
        );
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["appended"][0]["index"], i as u64);
        assert_eq!(v["head"]["size"], i as u64 + 1);
    }
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

#[test]
fn a_printed_proof_verifies_offline_against_the_root_and_a_tampered_one_does_not() {
    let dir = setup();
    let root = status(dir.path())["root"].as_str().unwrap().to_string();
    let proof = ok(dir.path(), &["prove", "inclusion", "1"]);
    let file = dir.path().join("p.txt");
    std::fs::write(&file, &proof).unwrap();
    let raw = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(["show", "1", "--raw"])
        .current_dir(dir.path())
        .output()
        .unwrap()
        .stdout;
    let rec = dir.path().join("r.bin");
    std::fs::write(&rec, &raw).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let args = [
        "verify-proof",
        file.to_str().unwrap(),
        "--root",
        &root,
        "--record",
        rec.to_str().unwrap(),
    ];
    assert!(ok(elsewhere.path(), &args).starts_with("valid"));

    let last_line = proof.lines().last().unwrap();
    let mut flipped = last_line.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'a' { b'b' } else { b'a' };
    std::fs::write(
        &file,
        proof.replace(last_line, std::str::from_utf8(&flipped).unwrap()),
    )
    .unwrap();
    let r = run_in(elsewhere.path(), &args, b"");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("invalid proof"));

    std::fs::write(&file, &proof).unwrap();
    let mut other = raw.clone();
    *other.last_mut().unwrap() ^= 1;
    std::fs::write(&rec, other).unwrap();
    assert_eq!(run_in(elsewhere.path(), &args, b"").code, 1);

    let consistency = ok(dir.path(), &["prove", "consistency", "1", "--json"]);
    std::fs::write(&file, consistency).unwrap();
    let r = run_in(
        elsewhere.path(),
        &["verify-proof", file.to_str().unwrap(), "--root", &root],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
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
    let append = |file: &str| -> Vec<String> {
        ["append", "--kind", "lane-result", "--json", file]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (append("bad.json"), "malformed JSON"),
        (append("wrong.json"), "invalid type"),
        (append("binary.json"), "not UTF-8"),
        (append("empty.json"), "empty"),
        (append("unknown.json"), "unknown field"),
        (append("dup.json"), "duplicate field"),
        (append("nan.json"), "malformed JSON"),
        (append("neg.json"), "invalid value"),
        (append("emptyname.json"), "must not be empty"),
        (append("array.json"), "no records"),
        (append("missing.json"), "cannot read"),
        (
            vec![
                "append".into(),
                "--kind".into(),
                "nope".into(),
                "--json".into(),
                "bad.json".into(),
            ],
            "unknown record kind",
        ),
        (vec!["show".into(), "3".into()], "out of range"),
        (
            vec!["prove".into(), "inclusion".into(), "3".into()],
            "out of range",
        ),
        (
            vec![
                "prove".into(),
                "inclusion".into(),
                "0".into(),
                "--size".into(),
                "4".into(),
            ],
            "larger than the ledger",
        ),
        (
            vec!["prove".into(), "consistency".into(), "2".into(), "9".into()],
            "larger than the ledger",
        ),
        (
            vec!["search".into(), "--digest".into(), "md5:00".into()],
            "not blake3 or sha256",
        ),
        (
            vec!["log".into(), "--since".into(), "yesterday".into()],
            "not an RFC 3339 time",
        ),
        (
            vec!["log".into(), "--kind".into(), "nope".into()],
            "unknown record kind",
        ),
        (vec!["init".into()], "already exists"),
    ];
    let before = std::fs::read(ledger_file(p)).unwrap();
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
