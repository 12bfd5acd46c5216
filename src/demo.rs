//! `provledger demo`: the whole release story of PRODUCT.md on a fresh ledger in a new folder.
//! Data sources and three providers' artifacts (generated files and directories), test lanes
//! from real pytest JUnit reports (one blocked by a collection error, then fixed), a policy
//! with quality, safety, latency and cost gates, a candidate failing a gate, releases v1..v3
//! fused and promoted, a rollback from v3 to v2, and the provenance of v2 with every proof
//! verified offline with only the verifier key.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::kinds::Source;
use crate::ledger::{LEDGER_DIR, Ledger};
use crate::pipeline::artifact::{self, Options};
use crate::pipeline::release::{FuseRequest, Fused};
use crate::pipeline::{ArtifactMeta, policy};
use crate::proof_file;

/// What the demo leaves behind.
pub struct Report {
    pub ledger_dir: PathBuf,
}

/// A fresh folder under the system temp directory.
pub fn default_dir() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    std::env::temp_dir().join(format!("provledger-demo-{stamp}-{}", std::process::id()))
}

use crate::pipeline::policy::EXAMPLE as POLICY;

const JUNIT_PASSING: &str = include_str!("../tests/data/junit/passing.xml");
const JUNIT_COLLECTION_ERROR: &str = include_str!("../tests/data/junit/collection-error.xml");

fn write(path: &Path, content: impl AsRef<[u8]>) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Io(format!("creating {}: {e}", parent.display())))?;
    }
    std::fs::write(path, content).map_err(|e| Error::Io(format!("writing {}: {e}", path.display())))
}

/// The demo's world: where it writes, and the ledger.
struct Story<'a> {
    dir: PathBuf,
    ledger: Ledger,
    say: &'a mut dyn FnMut(&str),
    commit: &'static str,
}

impl Story<'_> {
    fn source(&mut self, kind: &str, uri: &str, file: &str, content: &str) -> Result<Source> {
        let path = self.dir.join("data").join(file);
        write(&path, content)?;
        let digest = artifact::hash_path(&path, Options::default())?.blake3;
        (self.say)(&format!("  data source {kind:<13} {uri}  {digest}"));
        Ok(Source {
            source_kind: kind.into(),
            uri: uri.into(),
            digest,
        })
    }

    /// Writes an artifact's files (one file, or a directory) and records it.
    fn artifact(
        &mut self,
        name: &str,
        provider: &str,
        kind: &str,
        files: &[(&str, String)],
        sources: Vec<Source>,
        parents: Vec<Digest>,
    ) -> Result<Digest> {
        // models/<name> is the artifact: the file itself, or a directory of its files (the
        // layout `verify --bundle --artifacts models` re-hashes).
        let path = self.dir.join("models").join(name);
        match files {
            [(_, content)] => write(&path, content)?,
            _ => {
                for (file, content) in files {
                    write(&path.join(file), content)?;
                }
            }
        }
        let hashed = artifact::hash_path(
            &path,
            Options {
                sha256: true,
                follow_symlinks: false,
            },
        )?;
        let meta = ArtifactMeta {
            name: name.into(),
            provider: provider.into(),
            artifact_kind: kind.into(),
            uri: Some(format!("{provider}://models/{name}")),
            sources,
            parents,
            config_digest: None,
        };
        let added = self
            .ledger
            .add_artifact(&format!("trainer@{provider}"), &hashed, meta)?;
        (self.say)(&format!(
            "  #{:<3} artifact {name} ({kind}) from {provider}: {} file(s), {}",
            added.index,
            hashed.files.len(),
            hashed.blake3
        ));
        Ok(hashed.blake3)
    }

    fn lane(&mut self, lane: &str, report: &str) -> Result<()> {
        let path = self.dir.join("reports").join(format!("{lane}.xml"));
        write(&path, report)?;
        let (a, r) =
            self.ledger
                .record_lane("ci@acme", lane, &path, Some(self.commit.into()), vec![])?;
        let note = if r.errors > 0 {
            " (blocked: collection error, missing module)"
        } else {
            ""
        };
        (self.say)(&format!(
            "  #{:<3} lane {lane}: {:?} — {} tests, {} errors{note}",
            a.index,
            format!("{:?}", r.outcome).to_lowercase(),
            r.tests,
            r.errors
        ));
        Ok(())
    }

    fn gates(&mut self, name: &str, candidate: &Digest, metrics: Value) -> Result<bool> {
        let path = self.dir.join("metrics").join(format!("{name}.json"));
        write(&path, metrics.to_string())?;
        let evidence = vec![format!(
            "metrics/{name}.json {}",
            Digest::sha256(metrics.to_string().as_bytes())
        )];
        let eval = self
            .ledger
            .evaluate_gates("eval@acme", candidate, &metrics, evidence)?;
        let failures = eval.failures();
        let passed = eval.decisions.len() - failures.len();
        (self.say)(&format!(
            "  gates for {name}: {passed} passed{}",
            if failures.is_empty() {
                String::new()
            } else {
                format!(", FAILED: {}", failures.join("; "))
            }
        ));
        Ok(failures.is_empty())
    }

    fn fuse(&mut self, id: &str, components: Vec<Digest>) -> Result<bool> {
        let req = FuseRequest {
            release_id: id.into(),
            components,
            commit: Some(self.commit.into()),
            override_reason: None,
        };
        match self.ledger.fuse("release-manager@acme", &req)? {
            Fused::Fused { appended, .. } => {
                (self.say)(&format!(
                    "  #{:<3} release {id} fused: the policy is satisfied",
                    appended.index
                ));
                Ok(true)
            }
            Fused::Refused { unmet } => {
                (self.say)(&format!("  release {id} REFUSED by the policy:"));
                for u in unmet {
                    (self.say)(&format!("       - {u}"));
                }
                Ok(false)
            }
        }
    }

    fn promote(&mut self, id: &str) -> Result<()> {
        let a = self
            .ledger
            .promote("release-manager@acme", id, "production")?;
        (self.say)(&format!(
            "  #{:<3} release {id} promoted to channel production",
            a.index
        ));
        Ok(())
    }
}

fn metrics(accuracy: f64, toxicity: f64, latency: f64, cost: f64) -> Value {
    json!({"eval": {"accuracy": accuracy}, "safety": {"toxicity_rate": toxicity},
           "p95_latency_ms": latency, "cost_per_1k_tokens_usd": cost})
}

/// Runs the demo in `dir` (which must not hold a ledger yet), narrating through `say`.
///
/// # Errors
/// Any ledger or file error; [`Error::Failed`] if a proof does not verify (a bug).
pub fn run(dir: &Path, say: &mut dyn FnMut(&str)) -> Result<Report> {
    let ledger_dir = dir.join(LEDGER_DIR);
    let ledger = Ledger::init(&ledger_dir, "demo.provledger.local/ml-releases")?;
    say(&format!("created a ledger in {}", ledger_dir.display()));
    say(&format!(
        "verifier key: {}",
        ledger.current_key()?.to_text()
    ));
    let mut s = Story {
        dir: dir.to_path_buf(),
        ledger,
        say,
        commit: "9fceb02d0ae598e95dc970b74767f19372d61af8",
    };

    (s.say)("\n1. Training data and the providers' artifacts");
    let notion = s.source(
        "notion-export",
        "notion://acme/support-kb/2026-11-30",
        "notion/kb.md",
        "# Refund policy\nRefunds within 30 days.\n",
    )?;
    let hf_data = s.source(
        "hf-dataset",
        "hf://datasets/acme/support-tickets@v7",
        "hf/tickets.jsonl",
        "{\"q\": \"refund?\", \"a\": \"30 days\"}\n",
    )?;
    let s3 = s.source(
        "s3-object",
        "s3://acme-train/distill/shard-0.parquet",
        "s3/shard-0.parquet",
        "PAR1 distillation shard 0",
    )?;
    let adapter = s.artifact(
        "support-adapter",
        "huggingface",
        "text-adapter",
        &[
            ("adapter_config.json", "{\"r\": 16, \"alpha\": 32}".into()),
            ("adapter_model.safetensors", "LoRA weights v1".into()),
        ],
        vec![hf_data.clone()],
        vec![],
    )?;
    let embeddings_v1 = s.artifact(
        "kb-embeddings-v1",
        "gcp",
        "embeddings",
        &[("embeddings.bin", "embedding table v1".into())],
        vec![notion.clone()],
        vec![],
    )?;
    let runtime_v1 = s.artifact(
        "edge-runtime-v1",
        "aws",
        "runtime-distilled",
        &[
            ("model.onnx", "distilled graph v1".into()),
            ("tokenizer.json", "{\"vocab\": 32000}".into()),
        ],
        vec![s3.clone()],
        vec![adapter],
    )?;

    (s.say)("\n2. The promotion policy and the test lanes (pytest JUnit reports)");
    let p = policy::parse(POLICY)?;
    let a = s.ledger.set_policy("release-manager@acme", p)?;
    let digest = s.ledger.policy()?.digest;
    (s.say)(&format!(
        "  #{:<3} policy 'production': quality, safety, latency and cost gates; 4 required lanes ({digest})",
        a.index
    ));
    s.lane("preflight", JUNIT_PASSING)?;
    s.lane("fast", JUNIT_PASSING)?;
    s.lane("federation-integration", JUNIT_COLLECTION_ERROR)?;
    s.lane("federation-integration", JUNIT_PASSING)?;
    s.lane("release", JUNIT_PASSING)?;

    (s.say)("\n3. Gates, and release v1");
    s.gates(
        "support-adapter",
        &adapter,
        metrics(0.91, 0.004, 120.0, 0.21),
    )?;
    s.gates(
        "kb-embeddings-v1",
        &embeddings_v1,
        metrics(0.89, 0.031, 40.0, 0.05),
    )?;
    s.gates(
        "edge-runtime-v1",
        &runtime_v1,
        metrics(0.88, 0.006, 190.0, 0.12),
    )?;
    s.fuse("v1", vec![adapter, embeddings_v1, runtime_v1])?;
    let embeddings_v2 = s.artifact(
        "kb-embeddings-v2",
        "gcp",
        "embeddings",
        &[("embeddings.bin", "embedding table v2, filtered".into())],
        vec![notion.clone()],
        vec![],
    )?;
    s.gates(
        "kb-embeddings-v2",
        &embeddings_v2,
        metrics(0.9, 0.008, 42.0, 0.05),
    )?;
    s.fuse("v1", vec![adapter, embeddings_v2, runtime_v1])?;
    s.promote("v1")?;

    (s.say)("\n4. Releases v2 and v3");
    let runtime_v2 = s.artifact(
        "edge-runtime-v2",
        "aws",
        "runtime-distilled",
        &[
            ("model.onnx", "distilled graph v2".into()),
            ("tokenizer.json", "{\"vocab\": 32000}".into()),
        ],
        vec![s3.clone()],
        vec![adapter],
    )?;
    s.gates(
        "edge-runtime-v2",
        &runtime_v2,
        metrics(0.9, 0.005, 150.0, 0.10),
    )?;
    s.fuse("v2", vec![adapter, embeddings_v2, runtime_v2])?;
    s.promote("v2")?;
    let runtime_v3 = s.artifact(
        "edge-runtime-v3",
        "aws",
        "runtime-distilled",
        &[
            ("model.onnx", "distilled graph v3, int4".into()),
            ("tokenizer.json", "{\"vocab\": 32000}".into()),
        ],
        vec![s3],
        vec![adapter],
    )?;
    s.gates(
        "edge-runtime-v3",
        &runtime_v3,
        metrics(0.9, 0.005, 95.0, 0.06),
    )?;
    s.fuse("v3", vec![adapter, embeddings_v2, runtime_v3])?;
    s.promote("v3")?;

    (s.say)("\n5. A node operator rolls production back from v3 to v2");
    let rb = s.ledger.rollback(
        "oncall@acme",
        "production",
        None,
        "p95 latency regression on eu nodes",
        false,
    )?;
    (s.say)(&format!(
        "  #{:<3} rollback: production is v2 again (the rollback is a new record; nothing was rewritten)",
        rb.index
    ));
    for m in s.ledger.channel_history("production")? {
        (s.say)(&format!(
            "       {} {:<9} {} -> {} by {}",
            m.time,
            m.kind,
            m.replaces.as_deref().unwrap_or("-"),
            m.release_id,
            m.actor
        ));
    }

    (s.say)("\n6. An auditor checks the provenance of v2, offline");
    let tree = s.ledger.provenance("v2")?;
    let vkey = s.ledger.current_key()?;
    let mut indexes = vec![
        tree["manifest"]["index"].as_u64().unwrap_or_default(),
        tree["policy"]["index"].as_u64().unwrap_or_default(),
    ];
    for group in ["gate_decisions", "lane_results", "channel_moves"] {
        indexes.extend(
            tree[group]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["index"].as_u64()),
        );
    }
    for a in tree["artifacts"].as_array().into_iter().flatten() {
        collect_artifacts(a, &mut indexes);
    }
    indexes.sort_unstable();
    indexes.dedup();
    let proofs = s.dir.join("proofs-v2");
    for i in &indexes {
        let file = s.ledger.inclusion_file(*i, None)?.format();
        write(&proofs.join(format!("record-{i}.tlog-proof")), &file)?;
        proof_file::verify(&file, std::slice::from_ref(&vkey), None)?;
    }
    (s.say)(&format!(
        "  release v2: {} artifacts (with sources and parents), {} gate decisions, {} lane results, {} channel moves",
        tree["artifacts"].as_array().map_or(0, Vec::len),
        tree["gate_decisions"].as_array().map_or(0, Vec::len),
        tree["lane_results"].as_array().map_or(0, Vec::len),
        tree["channel_moves"].as_array().map_or(0, Vec::len)
    ));
    (s.say)(&format!(
        "  {} records of its provenance proved: every C2SP tlog-proof in {} verified with only the key",
        indexes.len(),
        proofs.display()
    ));
    let audit = s.ledger.verify(None, &mut |_, _| {})?;
    (s.say)(&format!(
        "  the whole ledger verified: {} records, {} signed checkpoints, root {}",
        audit.size, audit.checkpoints, audit.root
    ));
    let bundle_path = s.dir.join("release-v2.bundle.json");
    let bundle = serde_json::to_string_pretty(&s.ledger.release_bundle("v2", None)?)
        .map_err(|e| Error::Io(format!("encoding the bundle: {e}")))?;
    write(&bundle_path, &bundle)?;
    let checked = crate::bundle::verify(
        &bundle,
        std::slice::from_ref(&vkey),
        Some(&s.dir.join("models")),
        None,
    )?;
    (s.say)(&format!(
        "  provenance bundle {}: {} records verified offline, artifacts re-hashed: {}",
        bundle_path.display(),
        checked.records,
        checked.rehashed.join(", ")
    ));
    Ok(Report { ledger_dir })
}

fn collect_artifacts(a: &Value, out: &mut Vec<u64>) {
    if let Some(i) = a["record"]["index"].as_u64() {
        out.push(i);
    }
    for p in a["parents"].as_array().into_iter().flatten() {
        collect_artifacts(p, out);
    }
}
