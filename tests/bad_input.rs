//! The bad-input corpus (`tests/data/bad/`, made by tools/make-bad-corpus.py): every input the
//! CLI takes, malformed in many ways. Each case must exit 2 (bad input) or 1 (a failed check),
//! print one line starting `provledger:`, never panic, and leave the ledger file unchanged.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .env("PROVLEDGER_ACTOR", "tester")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (code, out, err) = run(dir, &args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

#[test]
fn every_bad_input_is_refused_in_one_line_without_touching_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(p, &["init", "--origin", "test.example/bad-input"]);
    std::fs::write(p.join("policy.toml"), "name = \"p\"\nrequired_lanes = [\"fast\"]\n[[gates]]\nname = \"q\"\nmetric = \"acc\"\ncomparator = \">=\"\nthreshold = 0.9\n").unwrap();
    ok(p, &["policy", "set", "policy.toml"]);
    std::fs::write(p.join("model.bin"), "weights").unwrap();
    let added: serde_json::Value = serde_json::from_str(&ok(
        p,
        &[
            "artifact",
            "add",
            "model.bin",
            "--name",
            "m",
            "--provider",
            "aws",
            "--kind",
            "k",
            "--json",
        ],
    ))
    .unwrap();
    let candidate = added["artifact"]["digests"][0]
        .as_str()
        .unwrap()
        .to_string();
    let vkey = ok(p, &["key", "show"]).trim().to_string();
    let checkpoint = ok(p, &["checkpoint"]);
    let mut lines = checkpoint.lines();
    let origin = lines.next().unwrap().to_string();
    let _size = lines.next().unwrap();
    let root = lines.next().unwrap().to_string();
    let sig = checkpoint.rsplit("\n\n").next().unwrap().to_string();
    std::fs::write(p.join("good.proof"), ok(p, &["prove", "inclusion", "0"])).unwrap();
    std::fs::write(p.join("state.txt"), &checkpoint).unwrap();

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let cases = std::fs::read_to_string(corpus.join("cases.txt")).unwrap();
    let ledger = p.join(".provledger/ledger.redb");
    let before = std::fs::read(&ledger).unwrap();
    let mut tried = 0;
    for line in cases.lines() {
        let (file, command) = line.split_once('\t').unwrap();
        let mut bytes = std::fs::read(corpus.join(file)).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let filled = text
                .replace("{origin}", &origin)
                .replace("{root}", &root)
                .replace("{sig_no_nl}", sig.trim_end())
                .replace("{sig}", &sig)
                .replace("{checkpoint}", &checkpoint);
            bytes = filled.into_bytes();
        }
        let input = p.join("input");
        std::fs::write(&input, &bytes).unwrap();
        let args: Vec<String> = command
            .split(' ')
            .map(|a| {
                a.replace("{candidate}", &candidate)
                    .replace("{vkey}", &vkey)
                    .replace("{}", input.to_str().unwrap())
            })
            .collect();
        let (code, stdout, stderr) = run(p, &args);
        let trusted_state_written = command.starts_with("checkpoint accept");
        assert!(
            code == 1 || code == 2,
            "{file}: exit {code}\n{stdout}{stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error"),
            "{file}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{file}: {stderr}");
        assert!(stderr.starts_with("provledger:"), "{file}: {stderr}");
        assert!(
            std::fs::read(&ledger).unwrap() == before,
            "{file} changed the ledger"
        );
        if trusted_state_written {
            assert_eq!(
                std::fs::read_to_string(p.join("state.txt")).unwrap(),
                checkpoint,
                "{file} changed the node state"
            );
        }
        tried += 1;
    }
    assert!(tried >= 150, "only {tried} bad inputs");
}

#[test]
fn a_100_mb_input_is_refused_without_exhausting_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(p, &["init", "--origin", "test.example/huge"]);
    let huge = p.join("huge.json");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(100 << 20).unwrap(); // 100 MiB of zero bytes
    let before = std::fs::read(p.join(".provledger/ledger.redb")).unwrap();
    for args in [
        vec!["append", "--kind", "lane-result", "--json", "huge.json"],
        vec!["lane", "record", "--lane", "fast", "--junit", "huge.json"],
        vec!["policy", "set", "huge.json"],
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (code, _, err) = run(p, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(
        std::fs::read(p.join(".provledger/ledger.redb")).unwrap() == before,
        "the ledger changed"
    );
}
