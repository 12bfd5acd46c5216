//! The release pipeline: JUnit reports as pytest writes them, policies and gates, fusing,
//! channels and rollback, directory hashing.

mod common;

use std::path::Path;

use provledger::kinds::{Comparator, Outcome};
use provledger::pipeline::ArtifactMeta;
use provledger::pipeline::artifact::{self, Options};
use provledger::pipeline::junit;
use provledger::pipeline::policy::{self, compare};
use provledger::pipeline::release::{FuseRequest, Fused};
use provledger::{Digest, Error, Ledger};
use serde_json::json;

fn junit_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/junit")
            .join(name),
    )
    .unwrap()
}

#[test]
fn pytest_reports_give_the_counts_pytest_printed() {
    // Each expectation is pytest's own summary line for the run that wrote the file.
    let cases = [
        ("passing.xml", (3, 0, 0, 0), Outcome::Passed), // "3 passed"
        ("mixed.xml", (5, 1, 1, 1), Outcome::Error),    // "1 failed, 2 passed, 1 skipped, 1 error"
        ("collection-error.xml", (1, 0, 1, 0), Outcome::Error), // "1 error" (collection)
        ("no-tests.xml", (0, 0, 0, 0), Outcome::Error), // "no tests ran"
        ("two-suites.xml", (8, 1, 1, 1), Outcome::Error), // both of the above runs
    ];
    for (file, (tests, failures, errors, skipped), outcome) in cases {
        let r = junit::parse(&junit_file(file)).unwrap();
        assert_eq!(
            (r.tests, r.failures, r.errors, r.skipped),
            (tests, failures, errors, skipped),
            "{file}"
        );
        assert_eq!(r.outcome(), outcome, "{file}");
    }
    assert_eq!(
        junit::parse(&junit_file("two-suites.xml")).unwrap().suites,
        2
    );
    let failed_only = junit_file("mixed.xml").replace(
        r#"<testcase classname="tests.test_fast" name="test_broken_fixture""#,
        r#"<testcase classname="tests.test_fast" name="test_broken_fixture_gone""#,
    );
    assert!(junit::parse(&failed_only).is_ok());
}

#[test]
fn malformed_or_foreign_reports_are_refused() {
    for text in [
        junit_file("truncated.xml"),
        "<html><body/></html>".into(),
        "not xml at all".into(),
        String::new(),
    ] {
        assert!(
            matches!(junit::parse(&text), Err(Error::Invalid(_))),
            "accepted {text:?}"
        );
    }
    let bad_count = junit_file("no-tests.xml").replace("tests=\"0\"", "tests=\"many\"");
    assert!(junit::parse(&bad_count).is_err());
}

#[test]
fn each_comparator_at_below_and_above_its_threshold() {
    use Comparator::*;
    // (comparator, holds at, holds below, holds above) by the definitions of <= < >= > ==.
    let table = [
        (Le, true, true, false),
        (Lt, false, true, false),
        (Ge, true, false, true),
        (Gt, false, false, true),
        (Eq, true, false, false),
    ];
    for (c, at, below, above) in table {
        assert_eq!(compare(0.5, c, 0.5), at, "{c:?} at");
        assert_eq!(compare(0.4, c, 0.5), below, "{c:?} below");
        assert_eq!(compare(0.6, c, 0.5), above, "{c:?} above");
    }
}

const POLICY: &str = r#"name = "production"
required_lanes = ["fast", "release"]

[[gates]]
name = "quality"
metric = "eval.accuracy"
comparator = ">="
threshold = 0.9

[[gates]]
name = "latency"
metric = "p95_latency_ms"
comparator = "<="
threshold = 250
artifact_kinds = ["runtime-distilled"]
"#;

#[test]
fn malformed_policies_are_refused_with_the_line() {
    let cases = [
        (
            POLICY.replace("comparator = \">=\"", "comparator = \"=>\""),
            "line 7",
        ),
        (
            POLICY.replace("threshold = 250", "threshold = \"fast\""),
            "line 14",
        ),
        (
            POLICY.replace("name = \"latency\"", "name = \"quality\""),
            "line 11",
        ),
        (
            POLICY.replace(
                "metric = \"eval.accuracy\"",
                "metric = \"eval.accuracy\"\ncolour = 1",
            ),
            "line 7",
        ),
        (
            POLICY.replace(
                "[[gates]]\nname = \"quality\"",
                "[[gates]\nname = \"quality\"",
            ),
            "line 4",
        ),
    ];
    for (text, line) in cases {
        let err = policy::parse(&text).unwrap_err().to_string();
        assert!(err.contains(line), "expected {line} in: {err}");
    }
    let p = policy::parse(POLICY).unwrap();
    assert_eq!(p.gates.len(), 2);
    assert_eq!(p.required_lanes, vec!["fast", "release"]);
}

struct World {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    adapter: Digest,
    runtime: Digest,
}

fn add(ledger: &Ledger, dir: &Path, name: &str, kind: &str, content: &str) -> Digest {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let hashed = artifact::hash_path(&path, Options::default()).unwrap();
    let meta = ArtifactMeta {
        name: name.into(),
        provider: "aws".into(),
        artifact_kind: kind.into(),
        ..Default::default()
    };
    ledger.add_artifact("trainer", &hashed, meta).unwrap();
    hashed.blake3
}

fn lane(ledger: &Ledger, name: &str, file: &str, commit: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/junit")
        .join(file);
    ledger
        .record_lane("ci", name, &path, Some(commit.into()), vec![])
        .unwrap();
}

/// A ledger with a policy, two artifacts passing their gates and both lanes passed on "c1".
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&dir.path().join(".provledger"), "test.example/pipeline").unwrap();
    ledger
        .set_policy("rm", policy::parse(POLICY).unwrap())
        .unwrap();
    let adapter = add(
        &ledger,
        dir.path(),
        "adapter.bin",
        "text-adapter",
        "adapter weights",
    );
    let runtime = add(
        &ledger,
        dir.path(),
        "runtime.bin",
        "runtime-distilled",
        "runtime weights",
    );
    let good = json!({"eval": {"accuracy": 0.93}, "p95_latency_ms": 180});
    ledger
        .evaluate_gates("eval", &adapter, &good, vec![])
        .unwrap();
    ledger
        .evaluate_gates("eval", &runtime, &good, vec![])
        .unwrap();
    lane(&ledger, "fast", "passing.xml", "c1");
    lane(&ledger, "release", "passing.xml", "c1");
    World {
        _dir: dir,
        ledger,
        adapter,
        runtime,
    }
}

fn fuse(w: &World, id: &str, commit: Option<&str>, override_reason: Option<&str>) -> Fused {
    let req = FuseRequest {
        release_id: id.into(),
        components: vec![w.adapter, w.runtime],
        commit: commit.map(str::to_string),
        override_reason: override_reason.map(str::to_string),
    };
    w.ledger.fuse("rm", &req).unwrap()
}

fn unmet(f: Fused) -> Vec<String> {
    match f {
        Fused::Refused { unmet } => unmet,
        Fused::Fused { .. } => panic!("fused"),
    }
}

#[test]
fn gates_that_do_not_apply_are_not_evaluated_and_missing_metrics_fail() {
    let w = world();
    let e = w
        .ledger
        .evaluate_gates(
            "eval",
            &w.adapter,
            &json!({"eval": {"accuracy": 0.95}}),
            vec![],
        )
        .unwrap();
    assert_eq!(
        e.decisions.len(),
        1,
        "latency applies only to runtime-distilled"
    );
    let e = w
        .ledger
        .evaluate_gates(
            "eval",
            &w.runtime,
            &json!({"eval": {"accuracy": 0.95}}),
            vec![],
        )
        .unwrap();
    assert_eq!(e.decisions.len(), 2);
    let failures = e.failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("metric 'p95_latency_ms' is missing"),
        "{failures:?}"
    );
}

#[test]
fn fuse_refuses_on_each_unmet_requirement_and_lists_all_of_them() {
    // Everything met: fused.
    let w = world();
    assert!(matches!(
        fuse(&w, "v1", Some("c1"), None),
        Fused::Fused { .. }
    ));

    // A failing gate (the latest decision counts).
    let w = world();
    w.ledger
        .evaluate_gates(
            "eval",
            &w.adapter,
            &json!({"eval": {"accuracy": 0.5}}),
            vec![],
        )
        .unwrap();
    let u = unmet(fuse(&w, "v1", Some("c1"), None));
    assert_eq!(u.len(), 1, "{u:?}");
    assert!(u[0].contains("gate 'quality' failed"), "{u:?}");

    // A failing lane (the latest run counts), and a lane with no result.
    let w = world();
    lane(&w.ledger, "fast", "collection-error.xml", "c1");
    let u = unmet(fuse(&w, "v1", Some("c1"), None));
    assert_eq!(u.len(), 1, "{u:?}");
    assert!(
        u[0].contains("lane 'fast'") && u[0].contains("Error"),
        "{u:?}"
    );
    let u = unmet(fuse(&w, "v1", Some("c2"), None));
    assert_eq!(u.len(), 2, "{u:?}");
    assert!(
        u.iter().all(|x| x.contains("no result for commit c2")),
        "{u:?}"
    );

    // No commit; an artifact never evaluated; a digest never recorded.
    let w = world();
    let u = unmet(fuse(&w, "v1", None, None));
    assert_eq!(u.len(), 1);
    assert!(u[0].contains("no commit given"), "{u:?}");
    let fresh = add(
        &w.ledger,
        w._dir.path(),
        "fresh.bin",
        "embeddings",
        "new weights",
    );
    let req = FuseRequest {
        release_id: "v1".into(),
        components: vec![fresh, Digest::blake3(b"ghost")],
        commit: None,
        override_reason: None,
    };
    let u = unmet(w.ledger.fuse("rm", &req).unwrap());
    assert_eq!(u.len(), 3, "{u:?}");
    assert!(
        u.iter()
            .any(|x| x.contains("gate 'quality' has no decision"))
    );
    assert!(u.iter().any(|x| x.contains("not recorded")));

    // Nothing was appended by the refusals.
    assert!(w.ledger.releases().unwrap().is_empty());
}

#[test]
fn an_override_is_recorded_with_who_and_why() {
    let w = world();
    match fuse(&w, "v1", None, Some("hotfix for CVE-2026-1")) {
        Fused::Fused {
            appended,
            overridden,
            ..
        } => {
            assert_eq!(overridden.len(), 1);
            let e = w.ledger.entry(appended.index).unwrap();
            assert_eq!(e.record.actor, "rm");
            let body = e.record.body.to_json();
            assert_eq!(body["override_"]["reason"], "hotfix for CVE-2026-1");
            assert_eq!(
                body["override_"]["unmet"][0].as_str().unwrap(),
                overridden[0]
            );
        }
        Fused::Refused { .. } => panic!("refused"),
    }
}

#[test]
fn rollback_targets_and_refusals() {
    let w = world();
    let l = &w.ledger;
    assert!(
        matches!(
            l.rollback("op", "production", None, "why", false),
            Err(Error::Invalid(_))
        ),
        "empty channel"
    );
    for id in ["v1", "v2", "v3"] {
        assert!(matches!(
            fuse(&w, id, Some("c1"), None),
            Fused::Fused { .. }
        ));
        l.promote("rm", id, "production").unwrap();
    }
    assert!(matches!(
        fuse(&w, "v4-hotfix", None, Some("urgent")),
        Fused::Fused { .. }
    ));
    // Default target: the release live before the current one.
    l.rollback("op", "production", None, "latency regression", false)
        .unwrap();
    assert_eq!(l.current("production").unwrap().unwrap().release_id, "v2");
    // Explicit target.
    l.rollback("op", "production", Some("v1"), "bad embeddings", false)
        .unwrap();
    assert_eq!(l.current("production").unwrap().unwrap().release_id, "v1");
    // A target never fused; the current release; one fused only by override.
    assert!(matches!(
        l.rollback("op", "production", Some("v9"), "x", false),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        l.rollback("op", "production", Some("v1"), "x", false),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        l.rollback("op", "production", Some("v4-hotfix"), "x", false),
        Err(Error::Failed(_))
    ));
    l.rollback("op", "production", Some("v4-hotfix"), "x", true)
        .unwrap();
    let history = l.channel_history("production").unwrap();
    let path: Vec<(&str, &str)> = history
        .iter()
        .map(|m| (m.kind, m.release_id.as_str()))
        .collect();
    assert_eq!(
        path,
        vec![
            ("promotion", "v1"),
            ("promotion", "v2"),
            ("promotion", "v3"),
            ("rollback", "v2"),
            ("rollback", "v1"),
            ("rollback", "v4-hotfix")
        ]
    );
    // `release at` at every boundary: at a move's time that move is live; just before, the one
    // before it (moves in one millisecond share times only if the clock did not advance).
    for (n, m) in history.iter().enumerate() {
        let at = l.live_at("production", m.time_us).unwrap().unwrap();
        let later_same_time = history[n..]
            .iter()
            .rev()
            .find(|x| x.time_us == m.time_us)
            .unwrap();
        assert_eq!(at.index, later_same_time.index);
        let before = l.live_at("production", m.time_us - 1).unwrap();
        let expected = history[..n]
            .iter()
            .rev()
            .find(|x| x.time_us < m.time_us)
            .map(|x| x.index);
        assert_eq!(before.map(|x| x.index), expected);
    }
    assert!(
        l.live_at("production", history[0].time_us - 1)
            .unwrap()
            .is_none()
    );
    let tree = l.provenance("v2").unwrap();
    assert_eq!(tree["artifacts"].as_array().unwrap().len(), 2);
    assert_eq!(tree["lane_results"].as_array().unwrap().len(), 2);
    assert_eq!(tree["gate_decisions"].as_array().unwrap().len(), 3);
    // Every move to or away from v2: its promotion, v3's promotion that replaced it, the
    // rollback to it and the rollback away from it (a regression: the last two "away" moves
    // were missing).
    let moves: Vec<u64> = tree["channel_moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = history
        .iter()
        .filter(|m| m.release_id == "v2" || m.replaces.as_deref() == Some("v2"))
        .map(|m| m.index)
        .collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(moves, expected);
}

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

const MODEL: &[(&str, &str)] = &[
    ("config.json", "{\"dim\": 768}"),
    ("model-00001-of-00002.safetensors", "shard one"),
    ("model-00002-of-00002.safetensors", "shard two"),
    ("tokenizer/vocab.txt", "a\nb\nc\n"),
];

fn root_of(files: &[(&str, &str)]) -> artifact::Hashed {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), files);
    artifact::hash_path(
        dir.path(),
        Options {
            sha256: true,
            follow_symlinks: false,
        },
    )
    .unwrap()
}

#[test]
fn directory_roots_depend_on_every_name_and_byte_and_nothing_else() {
    let a = root_of(MODEL);
    let b = root_of(MODEL);
    assert_eq!(a.blake3, b.blake3, "same tree in two places");
    let mut git = MODEL.to_vec();
    git.push((".git/HEAD", "ref: refs/heads/main"));
    assert_eq!(root_of(&git).blake3, a.blake3, ".git is ignored");
    let renamed: Vec<_> = MODEL
        .iter()
        .map(|(p, c)| {
            (
                if *p == "config.json" {
                    "config2.json"
                } else {
                    *p
                },
                *c,
            )
        })
        .collect();
    let changed: Vec<_> = MODEL
        .iter()
        .map(|(p, c)| {
            (
                *p,
                if *p == "config.json" {
                    "{\"dim\": 769}"
                } else {
                    *c
                },
            )
        })
        .collect();
    let mut added = MODEL.to_vec();
    added.push(("README.md", "hi"));
    let removed = &MODEL[1..];
    for (what, files) in [
        ("renamed", &renamed[..]),
        ("changed", &changed[..]),
        ("added", &added[..]),
        ("removed", removed),
    ] {
        let h = root_of(files);
        assert_ne!(h.blake3, a.blake3, "{what}");
        // The model-signing rule hashes digests only: a rename that keeps the order keeps it.
        if what != "renamed" {
            assert_ne!(h.sha256, a.sha256, "{what}");
        }
    }
    let reordered: Vec<_> = MODEL
        .iter()
        .map(|(p, c)| {
            (
                if *p == "config.json" {
                    "zz-config.json"
                } else {
                    *p
                },
                *c,
            )
        })
        .collect();
    assert_ne!(
        root_of(&reordered).sha256,
        a.sha256,
        "a rename that reorders the files"
    );
}

#[test]
fn the_sha256_root_is_model_signings_files_rule() {
    use sha2::{Digest as _, Sha256};
    let h = root_of(MODEL);
    // Independently: SHA-256 over the per-file SHA-256 digests in sorted relative-path order.
    let mut sorted = MODEL.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut outer = Sha256::new();
    for (_, content) in sorted {
        outer.update(Sha256::digest(content.as_bytes()));
    }
    assert_eq!(h.sha256.unwrap().value, <[u8; 32]>::from(outer.finalize()));
    assert_eq!(h.files.len(), 4);
    assert_eq!(
        h.size,
        MODEL.iter().map(|(_, c)| c.len() as u64).sum::<u64>()
    );
}

#[test]
fn symlinks_are_refused_unless_followed() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), MODEL);
    std::os::unix::fs::symlink(dir.path().join("config.json"), dir.path().join("link.json"))
        .unwrap();
    let err = artifact::hash_path(dir.path(), Options::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("symbolic link"), "{err}");
    let followed = artifact::hash_path(
        dir.path(),
        Options {
            sha256: false,
            follow_symlinks: true,
        },
    )
    .unwrap();
    assert_eq!(followed.files.len(), 5);
}

#[test]
fn adding_the_same_artifact_twice_returns_the_existing_record() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let before = w.ledger.status().unwrap().size;
    let a = add(
        &w.ledger,
        dir.path(),
        "adapter.bin",
        "text-adapter",
        "adapter weights",
    );
    assert_eq!(a, w.adapter);
    assert_eq!(w.ledger.status().unwrap().size, before);
}

/// The real binary: pipeline errors exit 2 (bad input) or 1 (refused), print one line (plus
/// the list of unmet requirements for a refused fuse), and leave the ledger unchanged.
#[test]
fn pipeline_errors_exit_with_one_line_and_leave_the_ledger_unchanged() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
            .args(args)
            .current_dir(p)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(&["init", "--origin", "test.example/cli-pipeline"]).0, 0);
    std::fs::write(p.join("policy.toml"), POLICY).unwrap();
    std::fs::write(
        p.join("bad-policy.toml"),
        POLICY.replace("\">=\"", "\"=>\""),
    )
    .unwrap();
    std::fs::write(p.join("model.bin"), "weights").unwrap();
    std::fs::write(p.join("metrics.json"), r#"{"eval": {"accuracy": 0.5}}"#).unwrap();
    std::fs::write(p.join("not-json.json"), "{accuracy").unwrap();
    let junit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit");
    let truncated = junit.join("truncated.xml");
    assert_eq!(run(&["policy", "set", "policy.toml"]).0, 0);
    let (code, out, err) = run(&[
        "artifact",
        "add",
        "model.bin",
        "--name",
        "m",
        "--provider",
        "aws",
        "--kind",
        "runtime-distilled",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let digest = serde_json::from_str::<serde_json::Value>(&out).unwrap()["artifact"]["digests"][0]
        .as_str()
        .unwrap()
        .to_string();
    let ledger = p.join(".provledger/ledger.redb");
    let before = std::fs::read(&ledger).unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["policy", "set", "bad-policy.toml"], 2, "line 7"),
        (vec!["policy", "set", "missing.toml"], 2, "cannot read"),
        (
            vec![
                "artifact",
                "add",
                "nothing.bin",
                "--name",
                "m",
                "--provider",
                "aws",
                "--kind",
                "k",
            ],
            2,
            "cannot read",
        ),
        (
            vec![
                "artifact",
                "add",
                "model.bin",
                "--name",
                "m",
                "--provider",
                "aws",
                "--kind",
                "k",
                "--source",
                "s3",
            ],
            2,
            "KIND,URI,DIGEST",
        ),
        (
            vec![
                "artifact",
                "add",
                "model.bin",
                "--name",
                "m",
                "--provider",
                "aws",
                "--kind",
                "k",
                "--parent",
                "md5:1",
            ],
            2,
            "not blake3 or sha256",
        ),
        (
            vec!["artifact", "verify", &digest, "policy.toml"],
            1,
            "mismatch",
        ),
        (
            vec![
                "lane",
                "record",
                "--lane",
                "fast",
                "--junit",
                truncated.to_str().unwrap(),
            ],
            2,
            "malformed JUnit XML",
        ),
        (
            vec![
                "lane",
                "record",
                "--lane",
                "fast",
                "--outcome",
                "passed",
                "--tests",
                "0",
            ],
            2,
            "at least one test",
        ),
        (
            vec!["lane", "record", "--lane", "fast", "--outcome", "great"],
            2,
            "--outcome",
        ),
        (
            vec![
                "gate",
                "evaluate",
                "--candidate",
                "blake3:00",
                "--metrics",
                "metrics.json",
            ],
            2,
            "64 lower-case hex",
        ),
        (
            vec![
                "gate",
                "evaluate",
                "--candidate",
                &digest,
                "--metrics",
                "not-json.json",
            ],
            2,
            "malformed JSON",
        ),
        (
            vec!["release", "promote", "v9", "--channel", "production"],
            2,
            "never fused",
        ),
        (
            vec![
                "release",
                "rollback",
                "--channel",
                "production",
                "--reason",
                "x",
            ],
            2,
            "no release to roll back",
        ),
        (
            vec!["release", "current", "--channel", "production"],
            2,
            "has no release",
        ),
        (vec!["release", "provenance", "v9"], 2, "never fused"),
        (
            vec!["release", "at", "--channel", "production", "--time", "noon"],
            2,
            "RFC 3339",
        ),
    ];
    for (args, code, expected) in cases {
        let (got, _, err) = run(&args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected '{expected}' in {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            std::fs::read(&ledger).unwrap() == before,
            "{args:?} changed the ledger"
        );
    }
    // A refused fuse: exit 1, the unmet requirements listed, nothing appended.
    let (code, _, err) = run(&[
        "release",
        "fuse",
        "--id",
        "v1",
        "--artifact",
        &digest,
        "--commit",
        "c1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refused") && err.contains("no decision") && err.contains("lane 'fast'"),
        "{err}"
    );
    assert!(std::fs::read(&ledger).unwrap() == before);
    // A failed gate is recorded, and exits 1.
    let (code, _, err) = run(&[
        "gate",
        "evaluate",
        "--candidate",
        &digest,
        "--metrics",
        "metrics.json",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("gate 'quality'") && err.contains("metric 'p95_latency_ms' is missing"),
        "{err}"
    );
}

#[test]
fn the_example_policy_has_the_four_gates_and_the_four_lanes() {
    let p = policy::parse(policy::EXAMPLE).unwrap();
    let names: Vec<&str> = p.gates.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["quality", "safety", "latency", "cost"]);
    assert_eq!(
        p.required_lanes,
        vec!["preflight", "fast", "federation-integration", "release"]
    );
}
