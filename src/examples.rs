//! A valid example body for each record kind, as `append --example KIND` prints it: users start
//! from these, and tests feed them back through `append`.

use serde_json::{Value, json};

use crate::record::Kind;

const B3_MODEL: &str = "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
const SHA_POLICY: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const B3_DATA: &str = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
const LEAF: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The example body of `kind`.
pub fn example(kind: Kind) -> Value {
    match kind {
        Kind::Artifact => json!({
            "name": "support-bot-adapter",
            "provider": "huggingface",
            "artifact_kind": "text-adapter",
            "digests": [B3_MODEL],
            "size": 1048576,
            "file_count": 3,
            "uri": "hf://acme/support-bot-adapter@main",
            "sources": [{"source_kind": "hf-dataset", "uri": "hf://datasets/acme/tickets", "digest": B3_DATA}],
            "parents": [],
            "config_digest": null
        }),
        Kind::LaneResult => json!({
            "lane": "fast",
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "subjects": [B3_MODEL],
            "outcome": "passed",
            "tests": 42, "failures": 0, "errors": 0, "skipped": 1,
            "duration_ms": 5300,
            "report_digest": null
        }),
        Kind::Policy => json!({
            "name": "production",
            "gates": [{"name": "quality", "metric": "eval.accuracy", "comparator": ">=",
                       "threshold": 0.9, "artifact_kinds": [], "providers": []}],
            "required_lanes": ["preflight", "fast", "federation-integration", "release"]
        }),
        Kind::GateDecision => json!({
            "gate": "quality",
            "candidate": B3_MODEL,
            "metric": "eval.accuracy",
            "observed": 0.93,
            "comparator": ">=",
            "threshold": 0.9,
            "outcome": "passed",
            "policy": SHA_POLICY,
            "evidence": ["s3://acme-evals/run-17/metrics.json"]
        }),
        Kind::FusedManifest => json!({
            "release_id": "v1",
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "components": [{"artifact": {"index": 0, "leaf_hash": LEAF}, "digest": B3_MODEL,
                            "name": "support-bot-adapter", "provider": "huggingface",
                            "artifact_kind": "text-adapter"}],
            "decisions": [],
            "lane_results": [],
            "policy": {"index": 0, "leaf_hash": LEAF},
            "policy_digest": SHA_POLICY,
            "override_": null
        }),
        Kind::Promotion => json!({
            "channel": "production",
            "release_id": "v1",
            "release": {"index": 0, "leaf_hash": LEAF},
            "replaces": null
        }),
        Kind::Rollback => json!({
            "channel": "production",
            "release_id": "v1",
            "release": {"index": 0, "leaf_hash": LEAF},
            "replaces": "v2",
            "reason": "latency regression on eu nodes",
            "overridden": false
        }),
        Kind::KeyEvent => json!({
            "old_vkey": "example.com/log+00000000+AQ==",
            "new_vkey": "example.com/log+00000001+AQ==",
            "signature": "AA=="
        }),
    }
}
