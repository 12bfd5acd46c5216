//! in-toto Statement v1 for each record kind (ledger-format.md §12): artifacts as SLSA
//! Provenance v1, lane results as Test Result v0.1, gate decisions as SLSA Verification Summary
//! v1, fused manifests as Release v0.1, and the other kinds as provledger predicates.

use serde_json::{Value, json};

use crate::digest::Digest;
use crate::ledger::{Entry, format_time};
use crate::record::Body;

/// The statement type.
pub const STATEMENT: &str = "https://in-toto.io/Statement/v1";
pub const SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";
pub const TEST_RESULT: &str = "https://in-toto.io/attestation/test-result/v0.1";
pub const VSA: &str = "https://slsa.dev/verification_summary/v1";
pub const RELEASE: &str = "https://in-toto.io/attestation/release/v0.1";
pub const CHANNEL_MOVE: &str = "https://provledger.dev/attestation/channel-move/v1";
pub const POLICY: &str = "https://provledger.dev/attestation/policy/v1";
pub const KEY_EVENT: &str = "https://provledger.dev/attestation/key-event/v1";
/// The build type of training runs in SLSA provenance.
pub const TRAINING_BUILD: &str = "https://provledger.dev/training/v1";

/// A DigestSet: `{"blake3": hex, "sha256": hex}`.
fn digest_set(digests: &[Digest]) -> Value {
    let mut set = serde_json::Map::new();
    for d in digests {
        set.insert(d.algorithm.name().into(), hex::encode(d.value).into());
    }
    Value::Object(set)
}

fn descriptor(name: &str, digests: &[Digest]) -> Value {
    json!({"name": name, "digest": digest_set(digests)})
}

/// The in-toto statement of a record; `ledger` locates it (index, leaf hash) for verifiers.
pub fn statement(e: &Entry) -> Value {
    let r = &e.record;
    let time = format_time(r.time_us);
    let ledger =
        json!({"index": e.index, "leaf_hash": e.leaf_hash, "actor": r.actor, "time": time});
    let (subject, predicate_type, predicate) = match &r.body {
        Body::Artifact(a) => {
            let mut deps: Vec<Value> = a
                .sources
                .iter()
                .map(|s| {
                    json!({"uri": s.uri, "digest": digest_set(&[s.digest]),
                                "annotations": {"source_kind": s.source_kind}})
                })
                .collect();
            deps.extend(
                a.parents
                    .iter()
                    .map(|p| json!({"name": "parent", "digest": digest_set(&[*p])})),
            );
            if let Some(c) = a.config_digest {
                deps.push(json!({"name": "training-config", "digest": digest_set(&[c])}));
            }
            (
                vec![descriptor(&a.name, &a.digests)],
                SLSA_PROVENANCE,
                json!({
                    "buildDefinition": {
                        "buildType": TRAINING_BUILD,
                        "externalParameters": {"provider": a.provider, "artifact_kind": a.artifact_kind,
                                               "uri": a.uri, "size": a.size, "file_count": a.file_count},
                        "resolvedDependencies": deps,
                    },
                    "runDetails": {
                        "builder": {"id": format!("https://provledger.dev/provider/{}", a.provider)},
                        "metadata": {"finishedOn": time},
                    },
                }),
            )
        }
        Body::LaneResult(l) => {
            let result = match l.outcome {
                crate::kinds::Outcome::Passed => "PASSED",
                _ => "FAILED",
            };
            let config: Vec<Value> = l
                .report_digest
                .iter()
                .map(|d| descriptor(&format!("{}.junit.xml", l.lane), &[*d]))
                .collect();
            (
                l.subjects
                    .iter()
                    .map(|d| descriptor("subject", &[*d]))
                    .collect(),
                TEST_RESULT,
                json!({"result": result, "configuration": config, "url": null,
                       "passedTests": [], "warnedTests": [], "failedTests": [],
                       "provledger": {"lane": l.lane, "commit": l.commit, "outcome": l.outcome, "tests": l.tests,
                                      "failures": l.failures, "errors": l.errors, "skipped": l.skipped,
                                      "duration_ms": l.duration_ms}}),
            )
        }
        Body::GateDecision(d) => (
            vec![descriptor("candidate", &[d.candidate])],
            VSA,
            json!({
                "verifier": {"id": format!("https://provledger.dev/gate/{}", d.gate)},
                "timeVerified": time,
                "resourceUri": d.candidate.to_string(),
                "policy": {"uri": "https://provledger.dev/policy", "digest": digest_set(&[d.policy])},
                "inputAttestations": [],
                "verificationResult": match d.outcome { crate::kinds::Verdict::Passed => "PASSED", _ => "FAILED" },
                "verifiedLevels": [],
                "slsaVersion": "1.0",
                "provledger": {"gate": d.gate, "metric": d.metric, "observed": d.observed,
                               "comparator": d.comparator, "threshold": d.threshold, "evidence": d.evidence},
            }),
        ),
        Body::FusedManifest(m) => (
            m.components
                .iter()
                .map(|c| descriptor(&c.name, &[c.digest]))
                .collect(),
            RELEASE,
            json!({"purl": null, "releaseId": m.release_id,
                   "provledger": {"commit": m.commit, "policy_digest": m.policy_digest,
                                  "override": m.override_.as_ref().map(|o| json!({"reason": o.reason, "unmet": o.unmet}))}}),
        ),
        Body::Promotion(_) | Body::Rollback(_) => (
            vec![json!({"name": r.body.release_id().unwrap_or_default(),
                        "digest": {"sha256": hex::encode(crate::hash::sha256(r.body.release_id().unwrap_or_default().as_bytes()).0)}})],
            CHANNEL_MOVE,
            r.body.to_json(),
        ),
        Body::Policy(p) => (
            vec![descriptor(&p.name, &[Digest::sha256(&e.bytes)])],
            POLICY,
            r.body.to_json(),
        ),
        Body::KeyEvent(_) => (
            vec![descriptor("checkpoint-key", &[Digest::sha256(&e.bytes)])],
            KEY_EVENT,
            r.body.to_json(),
        ),
    };
    json!({"_type": STATEMENT, "subject": subject, "predicateType": predicate_type,
           "predicate": predicate, "provledger_record": ledger})
}
