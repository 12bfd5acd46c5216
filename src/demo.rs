//! `provledger demo`: a small, realistic release pipeline recorded on a fresh ledger, ending
//! with an inclusion proof and a consistency proof verified the way an auditor would (from the
//! printed proof and the root alone).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::digest::Digest;
use crate::error::Result;
use crate::ledger::{LEDGER_DIR, Ledger};
use crate::proof::verify_consistency;
use crate::record::{Body, Kind, RecordRef};

/// What the demo leaves behind.
pub struct Report {
    pub ledger_dir: PathBuf,
}

/// A fresh folder under the system temp directory.
pub fn default_dir() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    std::env::temp_dir().join(format!("provledger-demo-{stamp}-{}", std::process::id()))
}

fn body(kind: Kind, value: serde_json::Value) -> Result<Body> {
    Body::from_json(kind, value)
}

fn artifact(name: &str, provider: &str, kind: &str, source: (&str, &str)) -> Result<Body> {
    let content = format!("{name} weights trained by {provider}");
    body(
        Kind::Artifact,
        json!({
            "name": name, "provider": provider, "artifact_kind": kind,
            "digests": [Digest::blake3(content.as_bytes()), Digest::sha256(content.as_bytes())],
            "size": content.len(), "file_count": 1,
            "uri": format!("{provider}://models/{name}"),
            "sources": [{"source_kind": source.0, "uri": source.1,
                         "digest": Digest::blake3(source.1.as_bytes())}],
            "parents": [], "config_digest": null
        }),
    )
}

fn lane(name: &str, outcome: &str, tests: u64, errors: u64) -> Result<Body> {
    body(
        Kind::LaneResult,
        json!({
            "lane": name, "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "subjects": [],
            "outcome": outcome, "tests": tests, "failures": 0, "errors": errors, "skipped": 0,
            "duration_ms": 1200 + tests * 10, "report_digest": null
        }),
    )
}

/// Runs the demo in `dir` (which must not hold a ledger yet), narrating through `say`.
///
/// # Errors
/// Any ledger error; [`crate::Error::Failed`] if a proof does not verify (a bug).
pub fn run(dir: &Path, say: &mut dyn FnMut(&str)) -> Result<Report> {
    let ledger_dir = dir.join(LEDGER_DIR);
    let ledger = Ledger::init(&ledger_dir, "demo.provledger.local/ml-releases")?;
    say(&format!("created a ledger in {}", ledger_dir.display()));

    let artifacts = [
        (
            "support-adapter",
            "huggingface",
            "text-adapter",
            ("hf-dataset", "hf://datasets/acme/tickets"),
        ),
        (
            "search-embeddings",
            "gcp",
            "embeddings",
            ("notion-export", "notion://acme/kb-export-2026-11"),
        ),
        (
            "edge-runtime",
            "aws",
            "runtime-distilled",
            ("s3-object", "s3://acme-train/distill/shard-0.parquet"),
        ),
    ];
    let mut refs = Vec::new();
    for (name, provider, kind, source) in artifacts {
        let a = ledger.append("trainer@acme", artifact(name, provider, kind, source)?)?;
        say(&format!(
            "  #{:<3} artifact {name} from {provider} ({kind}), trained on {}",
            a.index, source.1
        ));
        refs.push((a, name, provider, kind));
    }

    let lanes = [
        ("preflight", "passed", 12, 0),
        ("fast", "error", 0, 1),
        ("fast", "passed", 240, 0),
        ("federation-integration", "passed", 38, 0),
        ("release", "passed", 9, 0),
    ];
    let batch: Vec<(String, Body)> = lanes
        .iter()
        .map(|(n, o, t, e)| Ok(("ci@acme".to_string(), lane(n, o, *t, *e)?)))
        .collect::<Result<_>>()?;
    let lane_results = ledger.append_batch(batch)?;
    for (a, (name, outcome, ..)) in lane_results.iter().zip(lanes) {
        let note = if outcome == "error" {
            " (blocked by a collection error)"
        } else {
            ""
        };
        say(&format!("  #{:<3} lane {name}: {outcome}{note}", a.index));
    }

    let policy = ledger.append(
        "release-manager@acme",
        body(Kind::Policy, crate::examples::example(Kind::Policy))?,
    )?;
    say(&format!(
        "  #{:<3} policy 'production' with its gates and required lanes",
        policy.index
    ));
    let policy_ref = RecordRef {
        index: policy.index,
        leaf_hash: policy.leaf_hash,
    };
    let policy_digest = Digest::sha256(&ledger.entry(policy.index)?.bytes);

    let components: Vec<serde_json::Value> = refs
        .iter()
        .map(|(a, name, provider, kind)| {
            let digest = ledger.entry(a.index).map(|e| match &e.record.body {
                Body::Artifact(b) => b.digests[0],
                _ => unreachable!("artifact records hold artifacts"),
            });
            digest.map(|d| {
                json!({"artifact": {"index": a.index, "leaf_hash": a.leaf_hash},
                "digest": d, "name": name, "provider": provider, "artifact_kind": kind})
            })
        })
        .collect::<Result<_>>()?;
    let used_lanes: Vec<RecordRef> = [0, 2, 3, 4]
        .iter()
        .map(|&i| RecordRef {
            index: lane_results[i].index,
            leaf_hash: lane_results[i].leaf_hash,
        })
        .collect();
    let fused = ledger.append(
        "release-manager@acme",
        body(
            Kind::FusedManifest,
            json!({
                "release_id": "v1", "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                "components": components, "decisions": [], "lane_results": used_lanes,
                "policy": policy_ref, "policy_digest": policy_digest, "override_": null
            }),
        )?,
    )?;
    say(&format!(
        "  #{:<3} fused manifest of release v1 (3 components)",
        fused.index
    ));
    let promoted = ledger.append(
        "release-manager@acme",
        body(
            Kind::Promotion,
            json!({"channel": "production", "release_id": "v1",
            "release": {"index": fused.index, "leaf_hash": fused.leaf_hash}, "replaces": null}),
        )?,
    )?;
    say(&format!(
        "  #{:<3} promotion of v1 to channel production",
        promoted.index
    ));

    let status = ledger.status()?;
    say(&format!(
        "tree head: size {}, root {}",
        status.size, status.root
    ));
    let (_, checkpoint) = ledger.checkpoint(None)?;
    say("signed checkpoint (C2SP tlog-checkpoint):");
    for line in checkpoint.lines() {
        say(&format!("  {line}"));
    }

    // An auditor's view: only the proof file and the verifier key, no ledger.
    let vkey = ledger.current_key()?;
    let file = ledger.inclusion_file(fused.index, None)?.format();
    let proof_path = dir.join("release-v1.tlog-proof");
    std::fs::write(&proof_path, &file)
        .map_err(|e| crate::Error::Io(format!("writing {}: {e}", proof_path.display())))?;
    let report = crate::proof_file::verify(&file, std::slice::from_ref(&vkey), None)?;
    say(&format!(
        "provenance proof of the v1 manifest (record {}) written to {}",
        fused.index,
        proof_path.display()
    ));
    say(&format!(
        "verified offline with only the key {}: checkpoint signature, origin, and the {}-hash \
         inclusion path to root {}",
        vkey.to_text(),
        crate::proof_file::ProofFile::parse(&file).map(|f| match f {
            crate::proof_file::ProofFile::Inclusion(i) => i.path.len(),
            crate::proof_file::ProofFile::Consistency(c) => c.proof.len(),
        })?,
        report.root
    ));
    let c = ledger.prove_consistency(policy.index, None)?;
    verify_consistency(
        c.first.size,
        c.second.size,
        &c.first.root,
        &status.root,
        &c.proof,
    )?;
    say(&format!(
        "verified: the tree of size {} (before the policy) is a prefix of today's tree ({} hashes)",
        c.first.size,
        c.proof.len()
    ));
    let audit = ledger.verify(None, &mut |_, _| {})?;
    say(&format!(
        "verified the whole ledger: {} records, {} checkpoints, every tree node and index row",
        audit.size, audit.checkpoints
    ));
    Ok(Report { ledger_dir })
}
