//! Checkpoints and proof files written by provledger verify with an independent implementation
//! written from the specs in Python (`tools/verify.py`, using the `cryptography` package), and
//! tampered ones do not. `.ci/run` installs the package.

use std::path::Path;
use std::process::Command;

fn provledger(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python(args: &[&str]) -> (i32, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed (see .ci/run)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "install the cryptography package: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn python_verifies_checkpoints_and_proofs_and_rejects_tampered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    provledger(p, &["init", "--origin", "example.com/python-check"]);
    let body = provledger(p, &["append", "--example", "artifact"]);
    std::fs::write(p.join("a.json"), &body).unwrap();
    for _ in 0..5 {
        provledger(p, &["append", "--kind", "artifact", "--json", "a.json"]);
    }
    let genesis = provledger(p, &["key", "show"]).trim().to_string();
    provledger(p, &["key", "rotate"]);
    provledger(p, &["append", "--kind", "artifact", "--json", "a.json"]);
    let current = provledger(p, &["key", "show"]).trim().to_string();

    let cp = p.join("cp.txt");
    std::fs::write(&cp, provledger(p, &["checkpoint"])).unwrap();
    let incl = p.join("r2.tlog-proof");
    provledger(
        p,
        &["prove", "inclusion", "2", "-o", incl.to_str().unwrap()],
    );
    let cons = p.join("c3.txt");
    provledger(
        p,
        &["prove", "consistency", "3", "-o", cons.to_str().unwrap()],
    );
    let cp_s = cp.to_str().unwrap();
    assert_eq!(python(&["checkpoint", cp_s, "--vkey", &current]).0, 0);
    // The checkpoint after the rotation is not signed by the retired key alone.
    assert_eq!(python(&["checkpoint", cp_s, "--vkey", &genesis]).0, 1);
    for file in [&incl, &cons] {
        let f = file.to_str().unwrap();
        let (code, err) = python(&["proof", f, "--vkey", &current]);
        assert_eq!(code, 0, "{err}");
    }
    // An older checkpoint (size 3) was signed by the genesis key.
    let old = p.join("old.txt");
    std::fs::write(&old, provledger(p, &["checkpoint", "--size", "3"])).unwrap();
    assert_eq!(
        python(&["checkpoint", old.to_str().unwrap(), "--vkey", &genesis]).0,
        0
    );

    // Flip one character in each line of each file: every change is rejected.
    for file in [&cp, &incl, &cons] {
        let text = std::fs::read_to_string(file).unwrap();
        let what = if file == &cp { "checkpoint" } else { "proof" };
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let at = line.len() / 2;
            let c = line.as_bytes()[at];
            let replacement = if c == b'A' { 'B' } else { 'A' };
            let mut changed_line = line.to_string();
            changed_line.replace_range(at..at + 1, &replacement.to_string());
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines[n] = changed_line;
            let tampered = p.join("tampered.txt");
            std::fs::write(&tampered, lines.join("\n") + "\n").unwrap();
            let (code, err) = python(&[what, tampered.to_str().unwrap(), "--vkey", &current]);
            assert_eq!(
                code,
                1,
                "{} line {n} changed was accepted ({err})",
                file.display()
            );
        }
    }
}
