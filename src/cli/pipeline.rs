//! The release-pipeline verbs: artifact, lane, policy, gate (release is in `release.rs`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use provledger::kinds::{LaneResult, Outcome, Source};
use provledger::ledger::with_writable;
use provledger::pipeline::artifact::{self, Options};
use provledger::pipeline::{ArtifactMeta, policy as policy_file};
use provledger::{Digest, Error, Ledger};
use serde_json::json;

use super::commands::open;
use super::input;

#[derive(Subcommand)]
pub enum ArtifactCommand {
    /// Hash a file or a model directory (BLAKE3, file by file) and record it.
    #[command(after_help = "Examples:
  provledger artifact add ./adapter --name support-adapter --provider huggingface --kind text-adapter \\
      --source hf-dataset,hf://datasets/acme/tickets,blake3:<hex> --sha256")]
    Add {
        path: PathBuf,
        #[arg(long)]
        name: String,
        /// huggingface, gcp, aws, …
        #[arg(long)]
        provider: String,
        /// text-adapter, embeddings, runtime-distilled, …
        #[arg(long = "kind")]
        artifact_kind: String,
        #[arg(long)]
        uri: Option<String>,
        /// A training-data source: KIND,URI,DIGEST (for example s3-object,s3://b/k,blake3:<hex>).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// The digest of an artifact this one derives from (a base model).
        #[arg(long = "parent")]
        parents: Vec<String>,
        /// The training configuration file (its BLAKE3 digest is recorded).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also compute SHA-256 digests (model-signing "files" root for directories).
        #[arg(long)]
        sha256: bool,
        /// Hash the targets of symbolic links instead of refusing them.
        #[arg(long)]
        follow_symlinks: bool,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Re-hash PATH and compare with DIGEST (exit 1 when they differ).
    Verify {
        digest: String,
        path: PathBuf,
        #[arg(long)]
        follow_symlinks: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum LaneCommand {
    /// Record a lane run from pytest's JUnit XML, or from counts given by hand.
    #[command(after_help = "Examples:
  provledger lane record --lane fast --junit reports/fast.xml --commit 9fceb02
  provledger lane record --lane extended --outcome passed --tests 12 --commit 9fceb02")]
    Record {
        #[arg(long)]
        lane: String,
        #[arg(long, conflicts_with = "outcome")]
        junit: Option<PathBuf>,
        #[arg(long)]
        commit: Option<String>,
        /// An artifact digest the lane tested (repeatable).
        #[arg(long = "subject")]
        subjects: Vec<String>,
        /// Without JUnit: passed, failed or error.
        #[arg(long, required_unless_present = "junit")]
        outcome: Option<String>,
        #[arg(long, default_value_t = 0)]
        tests: u64,
        #[arg(long, default_value_t = 0)]
        failures: u64,
        #[arg(long, default_value_t = 0)]
        errors: u64,
        #[arg(long, default_value_t = 0)]
        skipped: u64,
        #[arg(long, default_value_t = 0)]
        duration_ms: u64,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Record the promotion policy from a TOML file.
    Set {
        file: PathBuf,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the policy in force and its digest.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Print an example policy: quality, safety, latency and cost gates and the four lanes.
    Example,
}

#[derive(Subcommand)]
pub enum GateCommand {
    /// Evaluate every gate that applies to the candidate; exit 1 if any fails.
    #[command(after_help = "Example:
  provledger gate evaluate --candidate blake3:<hex> --metrics eval/metrics.json")]
    Evaluate {
        #[arg(long)]
        candidate: String,
        /// A JSON object of metric values (flat keys or nested objects with dotted names).
        #[arg(long)]
        metrics: PathBuf,
        /// Where the metrics came from (repeatable; default: the metrics file's SHA-256).
        #[arg(long)]
        evidence: Vec<String>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Runs `op` so that the file changes only if it appends (see `with_writable`).
pub(super) fn write_op<T>(
    flag: Option<PathBuf>,
    op: impl FnMut(&mut Ledger) -> provledger::Result<T>,
) -> Result<(Ledger, T)> {
    Ok(with_writable(&input::ledger_dir(flag)?, op)?)
}

pub(super) fn digest(text: &str) -> Result<Digest> {
    Ok(Digest::parse(text)?)
}

fn source(text: &str) -> Result<Source> {
    let parts: Vec<&str> = text.splitn(3, ',').collect();
    let [kind, uri, d] = parts.as_slice() else {
        return Err(Error::Invalid(format!("--source '{text}' must be KIND,URI,DIGEST")).into());
    };
    Ok(Source {
        source_kind: kind.to_string(),
        uri: uri.to_string(),
        digest: digest(d)?,
    })
}

pub fn artifact(flag: Option<PathBuf>, c: ArtifactCommand) -> Result<i32> {
    match c {
        ArtifactCommand::Add {
            path,
            name,
            provider,
            artifact_kind,
            uri,
            sources,
            parents,
            config,
            sha256,
            follow_symlinks,
            actor,
            json,
        } => {
            let meta = ArtifactMeta {
                name,
                provider,
                artifact_kind,
                uri,
                sources: sources.iter().map(|s| source(s)).collect::<Result<_>>()?,
                parents: parents.iter().map(|p| digest(p)).collect::<Result<_>>()?,
                config_digest: config
                    .map(|c| input::read_bytes(&c.to_string_lossy()).map(|b| Digest::blake3(&b)))
                    .transpose()?,
            };
            let dir = input::ledger_dir(flag)?;
            let spinner = std::io::stderr().is_terminal().then(|| {
                let s = indicatif::ProgressBar::new_spinner();
                s.set_message(format!("hashing {}", path.display()));
                s.enable_steady_tick(std::time::Duration::from_millis(100));
                s
            });
            let hashed = artifact::hash_path(
                &path,
                Options {
                    sha256,
                    follow_symlinks,
                },
            );
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            let hashed = hashed?;
            let actor = input::actor(actor);
            let (_, added) =
                with_writable(&dir, |l| l.add_artifact(&actor, &hashed, meta.clone()))?;
            if json {
                println!(
                    "{}",
                    json!({"index": added.index, "existing": added.existing,
                    "artifact": added.artifact, "files": hashed.files})
                );
            } else {
                let what = if added.existing {
                    "already recorded as"
                } else {
                    "recorded as"
                };
                println!("{} {what} record {}", added.artifact.name, added.index);
                for d in &added.artifact.digests {
                    println!("  {d}");
                }
                println!("  {} bytes in {} file(s)", hashed.size, hashed.files.len());
            }
            Ok(0)
        }
        ArtifactCommand::Verify {
            digest: d,
            path,
            follow_symlinks,
            json,
        } => {
            let want = digest(&d)?;
            let sha256 = want.algorithm == provledger::digest::Algorithm::Sha256;
            let hashed = artifact::hash_path(
                &path,
                Options {
                    sha256,
                    follow_symlinks,
                },
            )?;
            let got = if sha256 {
                hashed.sha256.expect("asked for")
            } else {
                hashed.blake3
            };
            let same = got == want;
            if json {
                println!("{}", json!({"match": same, "expected": want, "found": got}));
            } else if same {
                println!("match: {} is {want}", path.display());
            }
            if !same {
                eprintln!(
                    "provledger: mismatch: {} is {got}, not {want}",
                    path.display()
                );
                return Ok(1);
            }
            Ok(0)
        }
    }
}

pub fn lane(flag: Option<PathBuf>, c: LaneCommand) -> Result<i32> {
    let LaneCommand::Record {
        lane,
        junit,
        commit,
        subjects,
        outcome,
        tests,
        failures,
        errors,
        skipped,
        duration_ms,
        actor,
        json,
    } = c;
    let subjects: Vec<Digest> = subjects.iter().map(|s| digest(s)).collect::<Result<_>>()?;
    let actor = input::actor(actor);
    let (index, result) = match junit {
        Some(file) => {
            let (_, (a, r)) = write_op(flag, |l| {
                l.record_lane(&actor, &lane, &file, commit.clone(), subjects.clone())
            })?;
            (a.index, r)
        }
        None => {
            let outcome: Outcome = serde_json::from_value(json!(outcome.unwrap_or_default()))
                .map_err(|_| Error::Invalid("--outcome must be passed, failed or error".into()))?;
            let result = LaneResult {
                lane,
                commit,
                subjects,
                outcome,
                tests,
                failures,
                errors,
                skipped,
                duration_ms,
                report_digest: None,
            };
            let (_, a) = write_op(flag, |l| l.record_lane_manual(&actor, result.clone()))?;
            (a.index, result)
        }
    };
    if json {
        println!("{}", json!({"index": index, "lane_result": result}));
    } else {
        println!(
            "lane {}: {} ({} tests, {} failures, {} errors, {} skipped) recorded as record {index}",
            result.lane,
            serde_json::to_value(result.outcome)?
                .as_str()
                .unwrap_or("?"),
            result.tests,
            result.failures,
            result.errors,
            result.skipped
        );
    }
    Ok(0)
}

pub fn policy(flag: Option<PathBuf>, c: PolicyCommand) -> Result<i32> {
    match c {
        PolicyCommand::Set { file, actor, json } => {
            let text = input::read_text(&file.to_string_lossy())?;
            let parsed = policy_file::parse(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?;
            let actor = input::actor(actor);
            let (ledger, appended) = write_op(flag, |l| l.set_policy(&actor, parsed.clone()))?;
            let digest = ledger.policy()?.digest;
            if json {
                println!("{}", json!({"index": appended.index, "digest": digest}));
            } else {
                println!(
                    "policy recorded as record {}, digest {digest}",
                    appended.index
                );
            }
            Ok(0)
        }
        PolicyCommand::Example => {
            print!("{}", provledger::pipeline::policy::EXAMPLE);
            Ok(0)
        }
        PolicyCommand::Show { json } => {
            let p = open(flag)?.policy()?;
            let body = json!({"record": p.record, "digest": p.digest, "policy": p.policy});
            if json {
                println!("{body}");
            } else {
                println!("{}", serde_json::to_string_pretty(&body)?);
            }
            Ok(0)
        }
    }
}

pub fn gate(flag: Option<PathBuf>, c: GateCommand) -> Result<i32> {
    let GateCommand::Evaluate {
        candidate,
        metrics,
        evidence,
        actor,
        json,
    } = c;
    let candidate = digest(&candidate)?;
    let bytes = input::read_bytes(&metrics.to_string_lossy())?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("{}: malformed JSON: {e}", metrics.display())))?;
    if !doc.is_object() {
        return Err(Error::Invalid(format!(
            "{}: metrics must be a JSON object",
            metrics.display()
        ))
        .into());
    }
    let evidence = if evidence.is_empty() {
        vec![format!("{} {}", metrics.display(), Digest::sha256(&bytes))]
    } else {
        evidence
    };
    let actor = input::actor(actor);
    let (_, eval) = write_op(flag, |l| {
        l.evaluate_gates(&actor, &candidate, &doc, evidence.clone())
    })?;
    let failures = eval.failures();
    if json {
        println!("{}", json!({"evaluation": eval, "failed": failures}));
    } else {
        for d in &eval.decisions {
            println!(
                "record {}: gate '{}' {}",
                d.appended.index,
                d.decision.gate,
                serde_json::to_value(d.decision.outcome)?
                    .as_str()
                    .unwrap_or("?")
            );
        }
    }
    if !failures.is_empty() {
        eprintln!("provledger: failed: {}", failures.join("; "));
        return Ok(1);
    }
    Ok(0)
}
