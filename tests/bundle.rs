//! Release bundles verify offline with only the verifier key; any changed byte, or a missing
//! record, fails.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The demo's ledger, its v2 bundle, the verifier key; then the ledger is deleted.
fn demo_bundle() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let (code, _, err) = run(dir.path(), &["demo", "--dir", demo.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let vkey = std::fs::read_to_string(demo.join(".provledger/key.pub"))
        .unwrap()
        .trim()
        .to_string();
    let bundle = std::fs::read_to_string(demo.join("release-v2.bundle.json")).unwrap();
    std::fs::remove_dir_all(demo.join(".provledger")).unwrap();
    (dir, vkey, bundle)
}

fn verify(dir: &Path, bundle: &str, vkey: &str, extra: &[&str]) -> (i32, String, String) {
    let file = dir.join("b.json");
    std::fs::write(&file, bundle).unwrap();
    let mut args = vec!["verify", "--bundle", file.to_str().unwrap(), "--vkey", vkey];
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[test]
fn a_bundle_verifies_without_the_ledger_and_rehashes_artifacts() {
    let (dir, vkey, bundle) = demo_bundle();
    let models = dir.path().join("demo/models");
    let (code, out, err) = verify(
        dir.path(),
        &bundle,
        &vkey,
        &["--artifacts", models.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("valid: release v2"), "{out}");
    assert!(
        out.contains("re-hashed and matched: support-adapter, kb-embeddings-v2, edge-runtime-v2"),
        "{out}"
    );
    // A changed model file no longer matches.
    std::fs::write(models.join("kb-embeddings-v2"), "poisoned table").unwrap();
    let (code, _, err) = verify(
        dir.path(),
        &bundle,
        &vkey,
        &["--artifacts", models.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("kb-embeddings-v2"), "{err}");
}

#[test]
fn any_changed_byte_of_a_record_a_proof_or_the_checkpoint_fails() {
    let (dir, vkey, bundle) = demo_bundle();
    let v: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    let records = v["records"].as_array().unwrap();
    let mut cases = Vec::new();
    for (n, r) in records.iter().enumerate() {
        let mut bytes = B64.decode(r["bytes"].as_str().unwrap()).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 1;
        let mut changed = v.clone();
        changed["records"][n]["bytes"] = B64.encode(&bytes).into();
        cases.push((format!("record {n} bytes"), changed));
        if let Some(h) = r["path"][0].as_str() {
            let mut hash = B64.decode(h).unwrap();
            hash[7] ^= 0x40;
            let mut changed = v.clone();
            changed["records"][n]["path"][0] = B64.encode(&hash).into();
            cases.push((format!("record {n} path"), changed));
        }
        let mut changed = v.clone();
        changed["records"][n]["index"] = (r["index"].as_u64().unwrap() + 1).into();
        cases.push((format!("record {n} index"), changed));
    }
    let note = v["checkpoint"].as_str().unwrap();
    for (i, _) in note
        .char_indices()
        .filter(|(i, c)| *i % 7 == 0 && c.is_ascii_alphanumeric())
    {
        let mut text = note.to_string();
        let c = text.as_bytes()[i];
        text.replace_range(i..i + 1, if c == b'A' { "B" } else { "A" });
        let mut changed = v.clone();
        changed["checkpoint"] = text.into();
        cases.push((format!("checkpoint byte {i}"), changed));
    }
    assert!(cases.len() > 60);
    for (what, changed) in cases {
        let (code, out, err) = verify(dir.path(), &changed.to_string(), &vkey, &[]);
        assert_ne!(code, 0, "{what} was accepted: {out}");
        assert!(code == 1 || code == 2, "{what}: {err}");
    }
}

#[test]
fn a_bundle_without_a_record_the_manifest_needs_is_incomplete() {
    let (dir, vkey, bundle) = demo_bundle();
    let v: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    let n = v["records"].as_array().unwrap().len();
    let mut incomplete = 0;
    for drop in 0..n {
        let mut changed = v.clone();
        changed["records"].as_array_mut().unwrap().remove(drop);
        let (code, _, err) = verify(dir.path(), &changed.to_string(), &vkey, &[]);
        if code == 0 {
            continue; // a channel move of another release (v3) is not required
        }
        assert_eq!(code, 1, "{err}");
        if err.contains("incomplete") {
            incomplete += 1;
        }
    }
    // The manifest, the policy, 3 artifacts, 11 decisions, 4 lane results and the parent.
    assert!(
        incomplete >= 19,
        "{incomplete} of {n} removals reported as incomplete"
    );
}

fn python(args: &[&str]) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 (see .ci/run)");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("ModuleNotFoundError"), "{err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn the_independent_python_verifier_agrees_on_bundles() {
    let (dir, vkey, bundle) = demo_bundle();
    let file = dir.path().join("py.json");
    let f = file.to_str().unwrap();
    std::fs::write(&file, &bundle).unwrap();
    let (code, err) = python(&["bundle", f, "--vkey", &vkey]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    let n = v["records"].as_array().unwrap().len();
    // A changed path hash or checkpoint byte: both verifiers refuse.
    let mut changes = Vec::new();
    for i in (0..n).step_by(4) {
        if let Some(h) = v["records"][i]["path"][0].as_str() {
            let mut hash = B64.decode(h).unwrap();
            hash[3] ^= 0x08;
            let mut changed = v.clone();
            changed["records"][i]["path"][0] = B64.encode(&hash).into();
            changes.push(changed);
        }
    }
    let note = v["checkpoint"].as_str().unwrap().to_string();
    for at in [0, note.len() / 3, note.len() / 2, note.len() - 10] {
        let mut text = note.clone();
        let c = text.as_bytes()[at];
        if !c.is_ascii_alphanumeric() {
            continue;
        }
        text.replace_range(at..at + 1, if c == b'A' { "B" } else { "A" });
        let mut changed = v.clone();
        changed["checkpoint"] = text.into();
        changes.push(changed);
    }
    assert!(changes.len() >= 6);
    for changed in changes {
        std::fs::write(&file, changed.to_string()).unwrap();
        assert_eq!(
            python(&["bundle", f, "--vkey", &vkey]).0,
            1,
            "python accepted a changed proof or checkpoint"
        );
        assert_ne!(
            verify(dir.path(), &changed.to_string(), &vkey, &[]).0,
            0,
            "rust accepted it"
        );
    }
    for i in (0..n).step_by(3) {
        let mut changed = v.clone();
        let bytes = changed["records"][i]["bytes"].as_str().unwrap().to_string();
        let mut raw = B64.decode(bytes).unwrap();
        let at = raw.len() - 3;
        raw[at] ^= 0x10;
        changed["records"][i]["bytes"] = B64.encode(&raw).into();
        std::fs::write(&file, changed.to_string()).unwrap();
        assert_eq!(
            python(&["bundle", f, "--vkey", &vkey]).0,
            1,
            "record {i} changed was accepted"
        );
        let mut dropped = v.clone();
        let removed = dropped["records"].as_array_mut().unwrap().remove(i);
        std::fs::write(&file, dropped.to_string()).unwrap();
        let rust = verify(dir.path(), &dropped.to_string(), &vkey, &[]).0;
        assert_eq!(
            python(&["bundle", f, "--vkey", &vkey]).0,
            rust,
            "dropping {removed}: the two verifiers disagree"
        );
    }
}

#[test]
fn python_decodes_the_golden_records_as_the_spec_says() {
    // The Python decoder is written from ledger-format.md; the golden vectors come from the
    // spec encoder in tests/golden.rs.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/records.txt");
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let code = format!(
        "import sys; sys.path.insert(0, {tools:?}); import verify\n\
         for line in open({golden:?}):\n    kind, leaf, data = line.split()\n    r = verify.decode_record(bytes.fromhex(data))\n    assert r['kind'] == kind, (r['kind'], kind)\n    assert verify.leaf_hash(bytes.fromhex(data)).hex() == leaf\nprint('ok')",
        tools = tools.to_str().unwrap(),
        golden = golden.to_str().unwrap()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bundle_must_extend_the_checkpoint_a_node_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert_eq!(
        run(dir.path(), &["demo", "--dir", demo.to_str().unwrap()]).0,
        0
    );
    let l = demo.join(".provledger");
    let l = l.to_str().unwrap();
    let vkey = std::fs::read_to_string(demo.join(".provledger/key.pub"))
        .unwrap()
        .trim()
        .to_string();
    // The node trusts the head after release v1 was promoted (a stored checkpoint at size 27).
    let state = dir.path().join("node.txt");
    let (_, old, _) = run(dir.path(), &["--ledger", l, "checkpoint", "--size", "27"]);
    std::fs::write(&state, &old).unwrap();
    let s = state.to_str().unwrap();
    let with = dir.path().join("with.json");
    let without = dir.path().join("without.json");
    assert_eq!(
        run(
            dir.path(),
            &[
                "--ledger",
                l,
                "prove",
                "release",
                "v2",
                "--from-size",
                "27",
                "-o",
                with.to_str().unwrap()
            ]
        )
        .0,
        0
    );
    assert_eq!(
        run(
            dir.path(),
            &[
                "--ledger",
                l,
                "prove",
                "release",
                "v2",
                "-o",
                without.to_str().unwrap()
            ]
        )
        .0,
        0
    );
    let verify = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--bundle",
            file.to_str().unwrap(),
            "--vkey",
            &vkey,
        ];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    assert_eq!(verify(&with, &["--trusted", s]).0, 0);
    let (code, _, err) = verify(&without, &["--trusted", s]);
    assert_eq!(code, 1);
    assert!(err.contains("no consistency proof"), "{err}");
    // A node that already trusts a newer head refuses this older bundle.
    let (_, newest, _) = run(dir.path(), &["--ledger", l, "checkpoint"]);
    let body = run(dir.path(), &["append", "--example", "lane-result"]).1;
    std::fs::write(dir.path().join("lane.json"), body).unwrap();
    assert_eq!(
        run(
            dir.path(),
            &[
                "--ledger",
                l,
                "append",
                "--kind",
                "lane-result",
                "--json",
                "lane.json"
            ]
        )
        .0,
        0
    );
    let (_, newer, _) = run(dir.path(), &["--ledger", l, "checkpoint"]);
    assert_ne!(newest, newer);
    std::fs::write(&state, &newer).unwrap();
    let (code, _, err) = verify(&with, &["--trusted", s]);
    assert_eq!(code, 1);
    assert!(err.contains("rollback") || err.contains("older"), "{err}");
}
