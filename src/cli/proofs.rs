//! Commands about proofs, checkpoints, keys and verification.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use provledger::checkpoint::{self, Checkpoint};
use provledger::ledger::{ConsistencyProof, InclusionProof};
use provledger::note::Verifier;
use provledger::proof_file::{self, ProofFile};
use provledger::trust::{self, Acceptance};
use provledger::{Error, Hash, Ledger, hash, keys, proof};
use serde_json::json;

use super::commands::open;
use super::{CheckpointAction, KeyCommand, Prove, input};

/// Writes `text` to `output`, or to standard output.
fn emit(text: &str, output: Option<PathBuf>) -> Result<i32> {
    match output {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| Error::Io(format!("writing {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(0)
}

pub fn prove(flag: Option<PathBuf>, p: Prove) -> Result<i32> {
    let ledger = open(flag)?;
    match p {
        Prove::Release {
            id,
            output,
            from_size,
        } => {
            let bundle = ledger.release_bundle(&id, from_size)?;
            emit(
                &format!("{}\n", serde_json::to_string_pretty(&bundle)?),
                output,
            )
        }
        Prove::Inclusion {
            index,
            size,
            output,
            json,
        } => {
            if json {
                let p = ledger.prove_inclusion(index, size)?;
                let v = json!({"type": "inclusion", "index": p.index, "size": p.size,
                    "leaf_hash": p.leaf_hash, "root": p.root, "path": p.path});
                return emit(&format!("{}\n", serde_json::to_string_pretty(&v)?), output);
            }
            emit(&ledger.inclusion_file(index, size)?.format(), output)
        }
        Prove::Consistency { m, n, output, json } => {
            if json {
                let p = ledger.prove_consistency(m, n)?;
                let v = json!({"type": "consistency", "first": p.first, "second": p.second,
                    "proof": p.proof});
                return emit(&format!("{}\n", serde_json::to_string_pretty(&v)?), output);
            }
            emit(&ledger.consistency_file(m, n)?.format(), output)
        }
    }
}

fn verifiers(vkeys: &[String]) -> Result<Vec<Verifier>> {
    Ok(vkeys
        .iter()
        .map(|v| keys::read_vkey(v))
        .collect::<provledger::Result<_>>()?)
}

fn read_record(record: Option<PathBuf>) -> Result<Option<Vec<u8>>> {
    record
        .map(|p| input::read_bytes(&p.to_string_lossy()))
        .transpose()
}

/// Prints a check's outcome; `Ok(1)` for a failed check, the error for anything else.
fn outcome(result: provledger::Result<String>, json: bool) -> Result<i32> {
    match result {
        Ok(message) => {
            if json {
                println!("{}", json!({"valid": true, "message": message}));
            } else {
                println!("valid: {message}");
            }
            Ok(0)
        }
        Err(Error::Failed(why)) => {
            if json {
                println!("{}", json!({"valid": false, "message": why}));
            }
            eprintln!("provledger: invalid: {why}");
            Ok(1)
        }
        Err(other) => Err(other.into()),
    }
}

pub fn verify_proof_file(
    file: &str,
    vkeys: &[String],
    record: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let verifiers = verifiers(vkeys)?;
    let record = read_record(record)?;
    let text = input::read_text(file)?;
    let result = proof_file::verify(&text, &verifiers, record.as_deref()).map(|r| match r.kind {
        "inclusion" => format!(
            "record {} (leaf {}) is in {} at size {} (root {}), checkpoint signed by {}",
            r.index.unwrap_or_default(),
            r.leaf_hash.unwrap_or_default(),
            r.origin,
            r.size,
            r.root,
            r.verified_by.join(", ")
        ),
        _ => format!(
            "{} at size {} extends size {} (root {}), checkpoint signed by {}",
            r.origin,
            r.size,
            r.old_size.unwrap_or_default(),
            r.old_root.unwrap_or_default(),
            r.verified_by.join(", ")
        ),
    });
    let result = result.map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("{file}: {m}")),
        other => other,
    });
    outcome(result, json)
}

fn parse_root(text: &str, flag: &str) -> Result<Hash> {
    Hash::from_hex(text).map_err(|e| Error::Invalid(format!("{flag}: {e}")).into())
}

/// Checks a `prove --json` proof against roots the caller trusts.
pub fn verify_json_proof(
    file: &str,
    root: &str,
    first_root: Option<&str>,
    record: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let root = parse_root(root, "--root")?;
    let first_root = first_root
        .map(|r| parse_root(r, "--first-root"))
        .transpose()?;
    let record = read_record(record)?;
    let text = input::read_text(file)?;
    let bad = |e: serde_json::Error| Error::Invalid(format!("{file}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
    let field = |name: &str| v.get(name).cloned().unwrap_or(serde_json::Value::Null);
    let result = match v.get("type").and_then(|t| t.as_str()) {
        Some("inclusion") => {
            let p = InclusionProof {
                index: serde_json::from_value(field("index")).map_err(bad)?,
                size: serde_json::from_value(field("size")).map_err(bad)?,
                leaf_hash: serde_json::from_value(field("leaf_hash")).map_err(bad)?,
                root: serde_json::from_value(field("root")).map_err(bad)?,
                path: serde_json::from_value(field("path")).map_err(bad)?,
            };
            let leaf = record.as_deref().map_or(p.leaf_hash, hash::leaf_hash);
            proof::verify_inclusion(p.index, p.size, &leaf, &p.path, &root).map(|()| {
                format!(
                    "record {} is in the tree of size {} with root {root}",
                    p.index, p.size
                )
            })
        }
        Some("consistency") => {
            let p = ConsistencyProof {
                first: serde_json::from_value(field("first")).map_err(bad)?,
                second: serde_json::from_value(field("second")).map_err(bad)?,
                proof: serde_json::from_value(field("proof")).map_err(bad)?,
            };
            let first = first_root.unwrap_or(p.first.root);
            proof::verify_consistency(p.first.size, p.second.size, &first, &root, &p.proof).map(
                |()| {
                    format!(
                        "the tree of size {} is a prefix of the tree of size {} with root {root}",
                        p.first.size, p.second.size
                    )
                },
            )
        }
        _ => bail!(Error::Invalid(format!(
            "{file}: 'type' must be \"inclusion\" or \"consistency\""
        ))),
    };
    outcome(result, json)
}

pub fn checkpoint(
    flag: Option<PathBuf>,
    action: Option<CheckpointAction>,
    size: Option<u64>,
    json: bool,
) -> Result<i32> {
    match action {
        None => {
            let (size, note) = open(flag)?.checkpoint(size)?;
            if json {
                let cp = Checkpoint::parse(provledger::note::split(&note)?.0)?;
                println!(
                    "{}",
                    json!({"size": size, "origin": cp.origin, "root": cp.head.root, "note": note})
                );
            } else {
                print!("{note}");
            }
            Ok(0)
        }
        Some(CheckpointAction::Accept {
            new,
            trusted,
            vkey,
            proof,
            json,
        }) => accept(flag, &new, &trusted, &vkey, proof, json),
    }
}

/// The consistency proof from the trusted head to `new`: from `--proof`, or the local ledger.
fn consistency_proof(
    flag: Option<PathBuf>,
    proof: Option<PathBuf>,
    trusted: &Checkpoint,
    new: &Checkpoint,
) -> Result<Option<Vec<Hash>>> {
    if let Some(path) = proof {
        let text = input::read_text(&path.to_string_lossy())?;
        let ProofFile::Consistency(p) = ProofFile::parse(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?
        else {
            bail!(Error::Invalid(format!(
                "{}: not a consistency proof",
                path.display()
            )));
        };
        if p.old_size != trusted.head.size {
            bail!(Error::Invalid(format!(
                "{}: the proof starts at size {}, the trusted checkpoint is at {}",
                path.display(),
                p.old_size,
                trusted.head.size
            )));
        }
        return Ok(Some(p.proof));
    }
    let local = input::ledger_dir(flag)
        .ok()
        .and_then(|dir| Ledger::open(&dir, false).ok());
    Ok(local
        .and_then(|l| {
            l.prove_consistency(trusted.head.size, Some(new.head.size))
                .ok()
        })
        .map(|p| p.proof))
}

fn accept(
    flag: Option<PathBuf>,
    new: &str,
    trusted_path: &Path,
    vkeys: &[String],
    proof: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let verifiers = verifiers(vkeys)?;
    let new_note = input::read_text(new)?;
    let new_cp = checkpoint::open(&new_note, &verifiers).map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("{new}: {m}")),
        Error::Failed(m) => Error::Failed(format!("refused: {new}: {m}")),
        other => other,
    });
    let new_cp = match new_cp {
        Ok(v) => v,
        Err(Error::Failed(m)) => return outcome(Err(Error::Failed(m)), json),
        Err(e) => return Err(e.into()),
    };
    let Some(trusted_note) = trust::read_state(trusted_path)? else {
        trust::write_state(trusted_path, &new_note)?;
        return report_acceptance(Acceptance::FirstUse, &new_cp.checkpoint, trusted_path, json);
    };
    let trusted_cp = checkpoint::open(&trusted_note, &verifiers).map_err(|e| {
        Error::Invalid(format!("the trusted state {}: {e}", trusted_path.display()))
    })?;
    let proof = consistency_proof(flag, proof, &trusted_cp.checkpoint, &new_cp.checkpoint)?;
    match trust::check(&trusted_cp.checkpoint, &new_cp.checkpoint, proof.as_deref()) {
        Ok(acceptance) => {
            if acceptance == Acceptance::Extended {
                trust::write_state(trusted_path, &new_note)?;
            }
            report_acceptance(acceptance, &new_cp.checkpoint, trusted_path, json)
        }
        Err(Error::Failed(why)) => {
            if json {
                println!(
                    "{}",
                    json!({"accepted": false, "reason": why,
                    "trusted": trusted_note, "new": new_note})
                );
            } else {
                println!("trusted checkpoint:\n{trusted_note}\nnew checkpoint:\n{new_note}");
            }
            eprintln!("provledger: {why}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

fn report_acceptance(a: Acceptance, cp: &Checkpoint, state: &Path, json: bool) -> Result<i32> {
    if json {
        println!(
            "{}",
            json!({"accepted": true, "how": a, "size": cp.head.size, "root": cp.head.root})
        );
        return Ok(0);
    }
    let how = match a {
        Acceptance::FirstUse => "trusted on first use (no earlier checkpoint to compare with)",
        Acceptance::Unchanged => "the same tree head as the trusted one",
        Acceptance::Extended => "a consistent extension of the trusted one",
    };
    println!(
        "accepted: size {}, root {}: {how}; state in {}",
        cp.head.size,
        cp.head.root,
        state.display()
    );
    Ok(0)
}

/// Runs `f` with a progress callback that draws a bar on a terminal (nothing otherwise).
pub fn with_progress<T>(label: &str, f: impl FnOnce(&mut dyn FnMut(u64, u64)) -> T) -> T {
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{label} {{bar:40}} {{pos}}/{{len}} records {{eta}}"
            ))
            .expect("a valid template"),
        );
        b
    });
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let out = f(&mut progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}

pub fn verify(
    flag: Option<PathBuf>,
    vkey: Option<String>,
    trusted: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let ledger = Ledger::open_checked(&input::ledger_dir(flag)?)?;
    let genesis = vkey.as_deref().map(keys::read_vkey).transpose()?;
    let result = with_progress("verifying", |progress| {
        ledger.verify(genesis.as_ref(), progress)
    });
    let result = result.and_then(|report| {
        if let Some(path) = &trusted {
            check_trusted(&ledger, path, &report)?;
        }
        Ok(report)
    });
    match result {
        Ok(r) => {
            if json {
                println!("{}", json!({"valid": true, "report": r}));
            } else {
                println!(
                    "OK: {} records, root {}, {} checkpoints and {} key events verified ({})",
                    r.size, r.root, r.checkpoints, r.key_events, r.origin
                );
            }
            Ok(0)
        }
        Err(e) => outcome(Err(e), json),
    }
}

pub fn verify_bundle(
    file: &Path,
    vkey: &str,
    artifacts: Option<PathBuf>,
    trusted: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let verifiers = verifiers(&[vkey.to_string()])?;
    let trusted = read_trusted(trusted, &verifiers)?;
    let text = input::read_text(&file.to_string_lossy())?;
    let result =
        provledger::bundle::verify(&text, &verifiers, artifacts.as_deref(), trusted.as_ref());
    let summary = match result {
        Ok(s) => s,
        Err(Error::Invalid(m)) => bail!(Error::Invalid(format!("{}: {m}", file.display()))),
        Err(e) => return outcome(Err(e), json),
    };
    if json {
        println!("{}", json!({"valid": true, "summary": summary}));
        return Ok(0);
    }
    let t = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    println!(
        "valid: release {} of {} — {} records proved against the checkpoint at size {} (root {})",
        summary.release, summary.origin, summary.records, summary.size, summary.root
    );
    for c in &summary.components {
        println!(
            "  component {} ({}, {}) {}",
            t(&c["name"]),
            t(&c["provider"]),
            t(&c["kind"]),
            t(&c["digest"])
        );
    }
    for g in &summary.gates {
        println!(
            "  gate {} for {}: {} (observed {})",
            t(&g["gate"]),
            t(&g["candidate"]),
            t(&g["outcome"]),
            t(&g["observed"])
        );
    }
    for l in &summary.lanes {
        println!(
            "  lane {}: {} ({} tests)",
            t(&l["lane"]),
            t(&l["outcome"]),
            t(&l["tests"])
        );
    }
    for m in &summary.moves {
        println!(
            "  {} of {} on {} by {} at {}",
            t(&m["kind"]),
            t(&m["release"]),
            t(&m["channel"]),
            t(&m["actor"]),
            t(&m["time"])
        );
    }
    if let Some(o) = &summary.override_ {
        println!("  fused by OVERRIDE: {}", t(&o["reason"]));
    }
    if !summary.rehashed.is_empty() {
        println!("  re-hashed and matched: {}", summary.rehashed.join(", "));
    }
    Ok(0)
}

pub fn verify_export(dir: &Path, vkey: &str, trusted: Option<PathBuf>, json: bool) -> Result<i32> {
    let verifiers = verifiers(&[vkey.to_string()])?;
    let trusted = read_trusted(trusted, &verifiers)?;
    let result = provledger::export::verify(dir, &verifiers, trusted.as_ref()).map(|c| {
        format!(
            "{} rows of {} verified: records {}..{} prove against the checkpoint at size {}",
            c.rows, c.origin, c.covered.0, c.covered.1, c.size
        )
    });
    outcome(result, json)
}

/// The checkpoint in a node's state file, opened with `verifiers`.
fn read_trusted(path: Option<PathBuf>, verifiers: &[Verifier]) -> Result<Option<Checkpoint>> {
    let Some(path) = path else { return Ok(None) };
    let note = trust::read_state(&path)?
        .ok_or_else(|| Error::Invalid(format!("no trusted checkpoint at {}", path.display())))?;
    Ok(Some(checkpoint::open(&note, verifiers)?.checkpoint))
}

/// The verified ledger must extend the node's trusted checkpoint.
fn check_trusted(
    ledger: &Ledger,
    path: &Path,
    report: &provledger::verify::Report,
) -> provledger::Result<()> {
    let note = trust::read_state(path)?
        .ok_or_else(|| Error::Invalid(format!("no trusted checkpoint at {}", path.display())))?;
    let history = ledger.key_history()?;
    let verifiers: Vec<Verifier> = history.into_iter().map(|(_, v)| v).collect();
    let trusted = checkpoint::open(&note, &verifiers)?.checkpoint;
    let here = Checkpoint {
        origin: report.origin.clone(),
        head: ledger.head_at(None)?,
        extensions: Vec::new(),
    };
    let proof = if trusted.head.size <= report.size {
        Some(ledger.prove_consistency(trusted.head.size, None)?.proof)
    } else {
        None
    };
    trust::check(&trusted, &here, proof.as_deref()).map(|_| ())
}

pub fn key(flag: Option<PathBuf>, k: KeyCommand) -> Result<i32> {
    match k {
        KeyCommand::Show { json } => {
            let ledger = open(flag)?;
            let history = ledger.key_history()?;
            let (_, current) = history.last().expect("the genesis key");
            if json {
                let h: Vec<_> = history
                    .iter()
                    .map(|(from, v)| json!({"from_size": from, "vkey": v.to_text()}))
                    .collect();
                println!("{}", json!({"vkey": current.to_text(), "history": h}));
            } else {
                println!("{}", current.to_text());
            }
            Ok(0)
        }
        KeyCommand::Rotate { actor } => rotate(flag, actor, None),
        KeyCommand::Import { file, actor } => rotate(flag, actor, Some(keys::read_private(&file)?)),
    }
}

fn rotate(
    flag: Option<PathBuf>,
    actor: Option<String>,
    new: Option<provledger::note::Signer>,
) -> Result<i32> {
    let actor = input::actor(actor);
    let (ledger, appended) = provledger::ledger::with_writable(&input::ledger_dir(flag)?, |l| {
        l.rotate_key(&actor, new.clone())
    })?;
    println!("rotated the signing key in record {}", appended.index);
    println!("new verifier key: {}", ledger.current_key()?.to_text());
    Ok(0)
}
