//! Compliance exports verify offline; a removed, reordered, inserted or edited row fails.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .env("PROVLEDGER_ACTOR", "tester")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// A ledger of 40 lane results and promotions over several commits; the period covers records
/// 10..30.
fn ledger() -> (tempfile::TempDir, String, String, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    ok(p, &["init", "--origin", "test.example/export"]);
    let body: serde_json::Value =
        serde_json::from_str(&ok(p, &["append", "--example", "lane-result"])).unwrap();
    for chunk in 0..8 {
        let mut rows = Vec::new();
        for i in 0..5 {
            let mut b = body.clone();
            b["lane"] = format!("lane-{chunk}-{i}").into();
            rows.push(b);
        }
        std::fs::write(p.join("batch.json"), serde_json::to_string(&rows).unwrap()).unwrap();
        ok(
            p,
            &["append", "--kind", "lane-result", "--json", "batch.json"],
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let log: Vec<serde_json::Value> = ok(p, &["log", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let since = log[10]["time"].as_str().unwrap().to_string();
    let until = log[30]["time"].as_str().unwrap().to_string();
    (dir, since, until, log)
}

#[test]
fn an_export_verifies_and_keeps_the_recorded_times() {
    let (dir, since, until, log) = ledger();
    let p = dir.path();
    let vkey = ok(p, &["key", "show"]).trim().to_string();
    for format in ["jsonl", "csv"] {
        let out = p.join(format!("exp-{format}"));
        ok(
            p,
            &[
                "export",
                "--since",
                &since,
                "--until",
                &until,
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let away = tempfile::tempdir().unwrap();
        let msg = ok(
            away.path(),
            &["verify", "--export", out.to_str().unwrap(), "--vkey", &vkey],
        );
        assert!(msg.starts_with("valid:"), "{msg}");
    }
    let exported: Vec<serde_json::Value> =
        std::fs::read_to_string(p.join("exp-jsonl/records.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    // Records with times in [since, until): the batch boundaries decide which ones.
    let expected: Vec<&serde_json::Value> = log
        .iter()
        .filter(|r| {
            r["time"].as_str().unwrap() >= since.as_str()
                && r["time"].as_str().unwrap() < until.as_str()
        })
        .collect();
    assert_eq!(exported.len(), expected.len());
    for (e, l) in exported.iter().zip(expected) {
        assert_eq!(e["index"], l["index"]);
        assert_eq!(
            e["time"], l["time"],
            "the export must carry the recorded time"
        );
        assert_eq!(e["time_us"], l["time_us"]);
    }
}

#[test]
fn removed_reordered_inserted_or_edited_rows_fail() {
    let (dir, since, until, _) = ledger();
    let p = dir.path();
    let vkey = ok(p, &["key", "show"]).trim().to_string();
    let out = p.join("exp");
    ok(
        p,
        &[
            "export",
            "--since",
            &since,
            "--until",
            &until,
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let data = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let lines: Vec<&str> = data.lines().collect();
    assert!(lines.len() >= 5);
    let mut cases: Vec<(&str, String)> = Vec::new();
    cases.push(("removed", lines[1..].join("\n") + "\n"));
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    cases.push(("reordered", swapped.join("\n") + "\n"));
    let mut doubled = lines.clone();
    doubled.insert(2, lines[2]);
    cases.push(("inserted", doubled.join("\n") + "\n"));
    cases.push((
        "edited actor",
        data.replacen("\"actor\":\"tester", "\"actor\":\"mallory", 1),
    ));
    cases.push((
        "edited time",
        data.replacen("\"time_us\":1", "\"time_us\":2", 1),
    ));
    for (what, text) in cases {
        assert!(text != data, "{what}: the test did not change the data");
        std::fs::write(out.join("records.jsonl"), &text).unwrap();
        let (code, _, err) = run(
            p,
            &["verify", "--export", out.to_str().unwrap(), "--vkey", &vkey],
        );
        assert_eq!(code, 1, "{what} was accepted");
        assert!(err.contains("invalid"), "{what}: {err}");
    }
    std::fs::write(out.join("records.jsonl"), &data).unwrap();
    // A changed raw record breaks the range proof.
    let raw = std::fs::read_to_string(out.join("raw-records.b64")).unwrap();
    let first = raw.lines().next().unwrap();
    let flipped = format!(
        "{}{}",
        if first.starts_with('A') { "B" } else { "A" },
        &first[1..]
    );
    std::fs::write(
        out.join("raw-records.b64"),
        raw.replacen(first, &flipped, 1),
    )
    .unwrap();
    let (code, _, err) = run(
        p,
        &["verify", "--export", out.to_str().unwrap(), "--vkey", &vkey],
    );
    assert_ne!(code, 0, "{err}");
}

fn python(args: &[&str]) -> i32 {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 (see .ci/run)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("ModuleNotFoundError") && !err.contains("Traceback"),
        "{err}"
    );
    out.status.code().unwrap_or(-1)
}

#[test]
fn the_independent_python_verifier_agrees_on_exports() {
    let (dir, since, until, _) = ledger();
    let p = dir.path();
    let vkey = ok(p, &["key", "show"]).trim().to_string();
    for format in ["jsonl", "csv"] {
        let out = p.join(format!("py-{format}"));
        let o = out.to_str().unwrap();
        ok(
            p,
            &[
                "export", "--since", &since, "--until", &until, "--format", format, "-o", o,
            ],
        );
        assert_eq!(python(&["export", o, "--vkey", &vkey]), 0, "{format}");
        let file = out.join(if format == "jsonl" {
            "records.jsonl"
        } else {
            "records.csv"
        });
        let data = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = data.lines().collect();
        let mut swapped = lines.clone();
        swapped.swap(lines.len() - 1, lines.len() - 2);
        for tampered in [
            lines[..lines.len() - 1].join("\n") + "\n",
            swapped.join("\n") + "\n",
            data.replacen("tester", "mallory", 1),
        ] {
            assert!(tampered != data);
            std::fs::write(&file, &tampered).unwrap();
            assert_eq!(
                python(&["export", o, "--vkey", &vkey]),
                1,
                "{format}: a tampered export was accepted"
            );
            assert_eq!(
                run(p, &["verify", "--export", o, "--vkey", &vkey]).0,
                1,
                "{format}: rust accepted it"
            );
        }
    }
}

#[test]
fn intoto_statements_have_the_fields_of_their_predicate_types() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    ok(dir.path(), &["demo", "--dir", demo.to_str().unwrap()]);
    let ledger = demo.join(".provledger");
    let out = dir.path().join("intoto");
    let l = ledger.to_str().unwrap();
    ok(
        dir.path(),
        &[
            "--ledger",
            l,
            "export",
            "--since",
            "2000-01-01",
            "--until",
            "2100-01-01",
            "--format",
            "intoto",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let vkey = std::fs::read_to_string(ledger.join("key.pub"))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        ok(
            dir.path(),
            &["verify", "--export", out.to_str().unwrap(), "--vkey", &vkey]
        )
        .starts_with("valid")
    );
    assert_eq!(
        python(&["export", out.to_str().unwrap(), "--vkey", &vkey]),
        0
    );
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("statements.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |v: &serde_json::Value, path: &str| {
        path.split('.')
            .try_fold(v, |v, k| v.get(k))
            .is_some_and(|x| !x.is_null())
    };
    let mut seen = std::collections::BTreeSet::new();
    for s in &rows {
        // in-toto Statement v1: _type, subject (name/digest descriptors), predicateType, predicate.
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        for subject in s["subject"].as_array().unwrap() {
            assert!(
                subject["digest"].as_object().is_some_and(|d| !d.is_empty()),
                "{s}"
            );
        }
        let p = &s["predicate"];
        let t = s["predicateType"].as_str().unwrap();
        seen.insert(t.to_string());
        let required: &[&str] = match t {
            // SLSA Provenance v1: buildDefinition{buildType, externalParameters,
            // resolvedDependencies}, runDetails{builder{id}, metadata}.
            "https://slsa.dev/provenance/v1" => &[
                "buildDefinition.buildType",
                "buildDefinition.externalParameters",
                "buildDefinition.resolvedDependencies",
                "runDetails.builder.id",
                "runDetails.metadata",
            ],
            // Test Result v0.1: result, configuration, passedTests, warnedTests, failedTests.
            "https://in-toto.io/attestation/test-result/v0.1" => &[
                "result",
                "configuration",
                "passedTests",
                "warnedTests",
                "failedTests",
            ],
            // SLSA VSA v1: verifier{id}, timeVerified, resourceUri, policy, verificationResult,
            // verifiedLevels.
            "https://slsa.dev/verification_summary/v1" => &[
                "verifier.id",
                "timeVerified",
                "resourceUri",
                "policy.uri",
                "policy.digest",
                "verificationResult",
                "verifiedLevels",
            ],
            // Release v0.1: releaseId (purl is optional).
            "https://in-toto.io/attestation/release/v0.1" => &["releaseId"],
            _ => &[],
        };
        for field in required {
            assert!(has(p, field), "{t}: predicate lacks {field}: {p}");
        }
        if t.ends_with("test-result/v0.1") {
            assert!(["PASSED", "WARNED", "FAILED"].contains(&p["result"].as_str().unwrap()));
        }
        if t.ends_with("verification_summary/v1") {
            assert!(["PASSED", "FAILED"].contains(&p["verificationResult"].as_str().unwrap()));
        }
    }
    for t in [
        "https://slsa.dev/provenance/v1",
        "https://in-toto.io/attestation/test-result/v0.1",
        "https://slsa.dev/verification_summary/v1",
        "https://in-toto.io/attestation/release/v0.1",
        "https://provledger.dev/attestation/channel-move/v1",
    ] {
        assert!(seen.contains(t), "no {t} statement");
    }
}

#[test]
fn an_export_from_a_ledger_forked_after_its_start_fails_against_a_trusted_checkpoint() {
    let (dir, _, _, _) = ledger();
    let p = dir.path();
    let vkey = ok(p, &["key", "show"]).trim().to_string();
    // A fork: a copy of the ledger (key included) that takes different records from here on.
    let fork = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fork.path().join(".provledger")).unwrap();
    for entry in std::fs::read_dir(p.join(".provledger")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            fork.path().join(".provledger").join(entry.file_name()),
        )
        .unwrap();
    }
    let body = ok(p, &["append", "--example", "lane-result"]);
    std::fs::write(p.join("one.json"), &body).unwrap();
    std::fs::write(
        fork.path().join("one.json"),
        body.replace("\"fast\"", "\"forged\""),
    )
    .unwrap();
    for _ in 0..3 {
        ok(
            p,
            &["append", "--kind", "lane-result", "--json", "one.json"],
        );
        ok(
            fork.path(),
            &["append", "--kind", "lane-result", "--json", "one.json"],
        );
    }
    // The node trusts the real ledger's head.
    let state = p.join("node.txt");
    std::fs::write(&state, ok(p, &["checkpoint"])).unwrap();
    let state = state.to_str().unwrap();
    let period = ["--since", "2000-01-01", "--until", "2100-01-01"];
    for (ledger_dir, forked) in [(p, false), (fork.path(), true)] {
        let out = ledger_dir.join("exp");
        let mut args = vec!["export"];
        args.extend(period);
        args.extend(["-o", out.to_str().unwrap()]);
        ok(ledger_dir, &args);
        // Each export verifies on its own: the fork's key signed its checkpoints.
        assert_eq!(
            run(
                p,
                &["verify", "--export", out.to_str().unwrap(), "--vkey", &vkey]
            )
            .0,
            0
        );
        let (code, _, err) = run(
            p,
            &[
                "verify",
                "--export",
                out.to_str().unwrap(),
                "--vkey",
                &vkey,
                "--trusted",
                state,
            ],
        );
        if forked {
            assert_eq!(code, 1, "the fork's export was accepted");
            assert!(err.contains("forked"), "{err}");
        } else {
            assert_eq!(code, 0, "{err}");
        }
    }
}

#[test]
fn jsonl_and_csv_round_trip_every_record_kind() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    ok(dir.path(), &["demo", "--dir", demo.to_str().unwrap()]);
    let l = demo.join(".provledger");
    let l = l.to_str().unwrap();
    ok(dir.path(), &["--ledger", l, "key", "rotate"]);
    let log: Vec<serde_json::Value> = ok(dir.path(), &["--ledger", l, "log", "--json"])
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .collect();
    let kinds: std::collections::BTreeSet<&str> =
        log.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    for format in ["jsonl", "csv"] {
        let out = dir.path().join(format);
        ok(
            dir.path(),
            &[
                "--ledger",
                l,
                "export",
                "--since",
                "2000-01-01",
                "--until",
                "2100-01-01",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        if format == "jsonl" {
            let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("records.jsonl"))
                .unwrap()
                .lines()
                .map(|x| serde_json::from_str(x).unwrap())
                .collect();
            assert_eq!(rows.len(), log.len());
            let raw = std::fs::read_to_string(out.join("raw-records.b64")).unwrap();
            for ((row, rec), raw) in rows.iter().zip(&log).zip(raw.lines()) {
                for field in [
                    "index",
                    "leaf_hash",
                    "version",
                    "kind",
                    "time",
                    "time_us",
                    "actor",
                    "prev",
                    "body",
                ] {
                    assert_eq!(row[field], rec[field], "{field} of record {}", rec["index"]);
                }
                // The raw bytes hash to the leaf hash.
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap();
                assert_eq!(
                    provledger::hash::leaf_hash(&bytes).to_hex(),
                    rec["leaf_hash"].as_str().unwrap()
                );
            }
        } else {
            let text = std::fs::read_to_string(out.join("records.csv")).unwrap();
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let header: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect();
            assert_eq!(header, provledger::export::CSV_COLUMNS);
            let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            assert_eq!(rows.len(), log.len());
            for (row, rec) in rows.iter().zip(&log) {
                assert_eq!(row[0], rec["index"].to_string());
                assert_eq!(&row[1], rec["leaf_hash"].as_str().unwrap());
                assert_eq!(&row[2], rec["time"].as_str().unwrap());
                assert_eq!(row[3], rec["time_us"].to_string());
                assert_eq!(&row[4], rec["actor"].as_str().unwrap());
                assert_eq!(&row[5], rec["kind"].as_str().unwrap());
                assert_eq!(row[6], rec["prev"]["size"].to_string());
                assert_eq!(&row[7], rec["prev"]["root"].as_str().unwrap());
                let body: serde_json::Value = serde_json::from_str(&row[10]).unwrap();
                assert_eq!(body, rec["body"]);
            }
        }
    }
}
