//! Offline provenance bundles (ledger-format.md §11): every record a release depends on, with
//! its raw bytes and an inclusion proof against one signed checkpoint, in one JSON file that
//! verifies with only the log's verifier key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Ledger;
use crate::checkpoint::{self, Checkpoint};
use crate::digest::Digest;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::kinds::FusedManifest;
use crate::note::Verifier;
use crate::record::{self, Body, Record, RecordRef};

/// The first field of every bundle.
pub const FORMAT: &str = "provledger/release-bundle/v1";

/// A release's provenance, ready to verify offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub release: String,
    /// The signed checkpoint note every proof leads to.
    pub checkpoint: String,
    /// The records, by increasing index.
    pub records: Vec<Bundled>,
    /// Parent digests that no artifact record of the ledger names (external base models).
    pub external_parents: Vec<Digest>,
    /// A consistency proof to the bundle's checkpoint from an older size a node trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// A consistency proof from `old_size` to the bundle's checkpoint (base64 hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    pub old_size: u64,
    pub proof: Vec<String>,
}

/// One record: its index, its bytes (base64) and its inclusion path (base64 hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundled {
    pub index: u64,
    pub bytes: String,
    pub path: Vec<String>,
}

/// What a verified bundle shows.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub release: String,
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub records: usize,
    pub components: Vec<Value>,
    pub gates: Vec<Value>,
    pub lanes: Vec<Value>,
    pub moves: Vec<Value>,
    pub override_: Option<Value>,
    /// Artifacts re-hashed from `--artifacts`.
    pub rehashed: Vec<String>,
}

impl Ledger {
    /// The bundle of release `id` against the latest checkpoint, with a consistency proof
    /// from `from_size` (a size a node trusts) when given.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the release was never fused or `from_size` is too large.
    pub fn release_bundle(&self, id: &str, from_size: Option<u64>) -> Result<Bundle> {
        let (size, note) = self.checkpoint(None)?;
        let (entry, manifest) = self.release(id)?;
        let mut wanted: BTreeSet<u64> = BTreeSet::new();
        wanted.insert(entry.index);
        wanted.insert(manifest.policy.index);
        wanted.extend(manifest.decisions.iter().map(|r| r.index));
        wanted.extend(manifest.lane_results.iter().map(|r| r.index));
        let mut external = BTreeSet::new();
        let mut digests: Vec<Digest> = manifest.components.iter().map(|c| c.digest).collect();
        let mut seen = BTreeSet::new();
        while let Some(d) = digests.pop() {
            if !seen.insert(d) {
                continue;
            }
            match self.artifact(&d) {
                Ok((e, a)) => {
                    wanted.insert(e.index);
                    digests.extend(a.parents.iter().copied());
                }
                Err(_) => {
                    external.insert(d);
                }
            }
        }
        for e in self.moves_involving(id)? {
            if e.index < size {
                wanted.insert(e.index);
            }
        }
        let mut records = Vec::with_capacity(wanted.len());
        for i in wanted {
            let proof = self.prove_inclusion(i, Some(size))?;
            records.push(Bundled {
                index: i,
                bytes: B64.encode(self.entry(i)?.bytes),
                path: proof.path.iter().map(|h| B64.encode(h.0)).collect(),
            });
        }
        let consistency = match from_size {
            Some(old) => Some(Consistency {
                old_size: old,
                proof: self
                    .prove_consistency(old, Some(size))?
                    .proof
                    .iter()
                    .map(|h| B64.encode(h.0))
                    .collect(),
            }),
            None => None,
        };
        Ok(Bundle {
            format: FORMAT.into(),
            release: id.into(),
            checkpoint: note,
            records,
            external_parents: external.into_iter().collect(),
            consistency,
        })
    }
}

fn incomplete(what: String) -> Error {
    Error::Failed(format!("incomplete: {what}"))
}

/// Verifies a bundle with no ledger: the checkpoint's signature and origin, every record's
/// inclusion proof and decoding, and that the references between the records are closed.
/// With `artifacts`, files or directories named after each artifact are re-hashed.
///
/// # Errors
/// [`Error::Invalid`] for a malformed bundle; [`Error::Failed`] naming the first thing that
/// does not verify ("incomplete: …" for a missing record).
pub fn verify(
    text: &str,
    verifiers: &[Verifier],
    artifacts: Option<&Path>,
    trusted: Option<&Checkpoint>,
) -> Result<Summary> {
    let bundle: Bundle =
        serde_json::from_str(text).map_err(|e| invalid(format!("not a release bundle: {e}")))?;
    if bundle.format != FORMAT {
        return Err(invalid(format!(
            "unknown bundle format '{}'",
            bundle.format
        )));
    }
    let cp: Checkpoint = checkpoint::open(&bundle.checkpoint, verifiers)?.checkpoint;
    let head = cp.head;
    if let Some(t) = trusted {
        let proof: Vec<Hash> = match &bundle.consistency {
            Some(c) if c.old_size == t.head.size => c
                .proof
                .iter()
                .map(|h| Hash::from_base64(h))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("a consistency hash is not base64 of 32 bytes"))?,
            _ => Vec::new(),
        };
        if t.head.size < head.size
            && bundle
                .consistency
                .as_ref()
                .is_none_or(|c| c.old_size != t.head.size)
        {
            return Err(Error::Failed(format!(
                "the bundle has no consistency proof from the trusted size {} (make it with --from-size {})",
                t.head.size, t.head.size
            )));
        }
        crate::trust::check(t, &cp, Some(&proof))?;
    }
    let mut by_index: BTreeMap<u64, (Hash, Vec<u8>, Record)> = BTreeMap::new();
    for r in &bundle.records {
        let bytes = B64
            .decode(&r.bytes)
            .map_err(|_| invalid(format!("record {}: bytes are not base64", r.index)))?;
        let path: Vec<Hash> = r
            .path
            .iter()
            .map(|h| Hash::from_base64(h))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                invalid(format!(
                    "record {}: a path hash is not base64 of 32 bytes",
                    r.index
                ))
            })?;
        let leaf = leaf_hash(&bytes);
        crate::proof::verify_inclusion(r.index, head.size, &leaf, &path, &head.root)
            .map_err(|e| Error::Failed(format!("record {}: {e}", r.index)))?;
        let rec = record::decode(&bytes)
            .map_err(|e| Error::Failed(format!("record {}: {e}", r.index)))?;
        if by_index.insert(r.index, (leaf, bytes, rec)).is_some() {
            return Err(invalid(format!("record {} appears twice", r.index)));
        }
    }
    let get = |r: &RecordRef, what: &str| referenced(&by_index, r, what);
    let (manifest_index, manifest) = by_index
        .iter()
        .find_map(|(i, (_, _, rec))| match &rec.body {
            Body::FusedManifest(m) if m.release_id == bundle.release => Some((*i, m.clone())),
            _ => None,
        })
        .ok_or_else(|| {
            incomplete(format!(
                "the fused manifest of release '{}'",
                bundle.release
            ))
        })?;
    let policy_bytes = match by_index.get(&manifest.policy.index) {
        Some((leaf, bytes, _)) if leaf.ct_eq(&manifest.policy.leaf_hash) => bytes.clone(),
        _ => return Err(incomplete("the policy the release cites".into())),
    };
    let policy_digest = Digest::sha256(&policy_bytes);
    if policy_digest != manifest.policy_digest {
        return Err(Error::Failed(
            "the manifest's policy digest is not the bundled policy's".into(),
        ));
    }
    let summary_components = check_components(&manifest, &by_index, &bundle.external_parents)?;
    let mut gates = Vec::new();
    for r in &manifest.decisions {
        match &get(r, "a gate decision")?.body {
            Body::GateDecision(d) if d.policy == policy_digest => gates.push(serde_json::json!({
                "gate": d.gate, "candidate": d.candidate, "observed": d.observed, "outcome": d.outcome})),
            Body::GateDecision(_) => return Err(Error::Failed(format!("gate decision {} cites another policy", r.index))),
            _ => return Err(Error::Failed(format!("record {} is not a gate decision", r.index))),
        }
    }
    let mut lanes = Vec::new();
    for r in &manifest.lane_results {
        match &get(r, "a lane result")?.body {
            Body::LaneResult(l) => lanes
                .push(serde_json::json!({"lane": l.lane, "outcome": l.outcome, "tests": l.tests})),
            _ => {
                return Err(Error::Failed(format!(
                    "record {} is not a lane result",
                    r.index
                )));
            }
        }
    }
    let manifest_leaf = by_index[&manifest_index].0;
    let mut moves = Vec::new();
    for (i, (_, _, rec)) in &by_index {
        let (kind, channel, target, reference) = match &rec.body {
            Body::Promotion(p) => ("promotion", &p.channel, &p.release_id, &p.release),
            Body::Rollback(r) => ("rollback", &r.channel, &r.release_id, &r.release),
            _ => continue,
        };
        if *target == bundle.release
            && (reference.index != manifest_index || !reference.leaf_hash.ct_eq(&manifest_leaf))
        {
            return Err(Error::Failed(format!(
                "{kind} {i} does not reference the bundled manifest"
            )));
        }
        moves.push(
            serde_json::json!({"index": i, "kind": kind, "channel": channel, "release": target,
            "actor": rec.actor, "time": crate::ledger::format_time(rec.time_us)}),
        );
    }
    let rehashed = match artifacts {
        Some(dir) => rehash(dir, &by_index)?,
        None => Vec::new(),
    };
    Ok(Summary {
        release: bundle.release,
        origin: cp.origin,
        size: head.size,
        root: head.root,
        records: by_index.len(),
        components: summary_components,
        gates,
        lanes,
        moves,
        override_: manifest
            .override_
            .map(|o| serde_json::json!({"reason": o.reason, "unmet": o.unmet})),
        rehashed,
    })
}

type Records = BTreeMap<u64, (Hash, Vec<u8>, Record)>;

/// The bundled record `r` references, if its leaf hash matches.
fn referenced<'a>(by_index: &'a Records, r: &RecordRef, what: &str) -> Result<&'a Record> {
    match by_index.get(&r.index) {
        Some((leaf, _, rec)) if leaf.ct_eq(&r.leaf_hash) => Ok(rec),
        Some(_) => Err(Error::Failed(format!(
            "{what}: record {} is not the one referenced",
            r.index
        ))),
        None => Err(incomplete(format!(
            "{what} (record {}) is not in the bundle",
            r.index
        ))),
    }
}

fn check_components(
    manifest: &FusedManifest,
    by_index: &Records,
    external: &[Digest],
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for c in &manifest.components {
        let Body::Artifact(a) =
            &referenced(by_index, &c.artifact, &format!("artifact {}", c.name))?.body
        else {
            return Err(Error::Failed(format!(
                "record {} is not an artifact",
                c.artifact.index
            )));
        };
        if !a.digests.contains(&c.digest) {
            return Err(Error::Failed(format!(
                "artifact {} does not have the digest {}",
                c.name, c.digest
            )));
        }
        // Parents, transitively: each in the bundle or declared external.
        let mut todo: Vec<Digest> = a.parents.clone();
        let mut seen = BTreeSet::new();
        while let Some(d) = todo.pop() {
            if !seen.insert(d) || external.contains(&d) {
                continue;
            }
            let parent = by_index.values().find_map(|(_, _, r)| match &r.body {
                Body::Artifact(p) if p.digests.contains(&d) => Some(p),
                _ => None,
            });
            match parent {
                Some(p) => todo.extend(p.parents.iter().copied()),
                None => return Err(incomplete(format!("the parent {d} of artifact {}", c.name))),
            }
        }
        out.push(
            serde_json::json!({"name": c.name, "provider": c.provider, "kind": c.artifact_kind,
            "digest": c.digest, "sources": a.sources.len()}),
        );
    }
    Ok(out)
}

/// Re-hashes `dir/<artifact name>` for each bundled artifact that has one there.
fn rehash(dir: &Path, by_index: &Records) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (_, _, rec) in by_index.values() {
        let Body::Artifact(a) = &rec.body else {
            continue;
        };
        let path = dir.join(&a.name);
        if !path.exists() {
            continue;
        }
        let sha = a
            .digests
            .iter()
            .any(|d| d.algorithm == crate::digest::Algorithm::Sha256);
        let options = crate::pipeline::artifact::Options {
            sha256: sha,
            follow_symlinks: false,
        };
        let hashed = crate::pipeline::artifact::hash_path(&path, options)?;
        let found: Vec<Digest> = std::iter::once(hashed.blake3)
            .chain(hashed.sha256)
            .collect();
        for d in &a.digests {
            if !found.contains(d) {
                return Err(Error::Failed(format!(
                    "artifact {}: {} does not hash to {d}",
                    a.name,
                    path.display()
                )));
            }
        }
        done.push(a.name.clone());
    }
    if done.is_empty() {
        return Err(invalid(format!(
            "no bundled artifact has a file or directory in {}",
            dir.display()
        )));
    }
    Ok(done)
}
