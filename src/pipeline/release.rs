//! Releases: fusing components into a fused manifest under the policy, the release descriptor
//! nodes ingest, channels (promote, roll back, what is current, what was live when) and
//! provenance. Every verb appends; nothing is rewritten.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::error::{Error, Result, invalid};
use crate::index;
use crate::kinds::{Component, FusedManifest, Outcome, Override, Promotion, Rollback, Verdict};
use crate::ledger::{Entry, Filter, format_time};
use crate::pipeline::gate::applies;
use crate::record::{Body, Kind, RecordRef};
use crate::{Appended, Ledger};

/// What to fuse.
#[derive(Clone, Debug, Default)]
pub struct FuseRequest {
    pub release_id: String,
    pub components: Vec<Digest>,
    pub commit: Option<String>,
    /// Fuse despite unmet requirements, recording why.
    pub override_reason: Option<String>,
}

/// The outcome of `fuse`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Fused {
    Fused {
        appended: Appended,
        descriptor: Value,
        overridden: Vec<String>,
    },
    Refused {
        unmet: Vec<String>,
    },
}

/// One move of a channel's pointer.
#[derive(Clone, Debug, Serialize)]
pub struct Move {
    pub index: u64,
    pub time: String,
    pub time_us: i64,
    pub actor: String,
    /// `promotion` or `rollback`.
    pub kind: &'static str,
    pub release_id: String,
    pub replaces: Option<String>,
    pub reason: Option<String>,
}

/// What a release needs, found or missing.
struct Requirements {
    unmet: Vec<String>,
    components: Vec<Component>,
    decisions: Vec<RecordRef>,
    lanes: Vec<RecordRef>,
}

/// The move `e` makes on `channel`, if it is one.
fn channel_move(e: &Entry, channel: &str) -> Option<Move> {
    let (kind, release_id, replaces, reason) = match &e.record.body {
        Body::Promotion(p) if p.channel == channel => {
            ("promotion", p.release_id.clone(), p.replaces.clone(), None)
        }
        Body::Rollback(r) if r.channel == channel => (
            "rollback",
            r.release_id.clone(),
            Some(r.replaces.clone()),
            Some(r.reason.clone()),
        ),
        _ => return None,
    };
    Some(Move {
        index: e.index,
        time: format_time(e.record.time_us),
        time_us: e.record.time_us,
        actor: e.record.actor.clone(),
        kind,
        release_id,
        replaces,
        reason,
    })
}

fn rref(e: &Entry) -> RecordRef {
    RecordRef {
        index: e.index,
        leaf_hash: e.leaf_hash,
    }
}

impl Ledger {
    /// Loads the records an index term names, oldest or newest first, until `f` returns a
    /// value: a channel's current release or a release's manifest costs a few reads, not one
    /// per record of its history.
    fn find_entry<T>(
        &self,
        prefix: &index::Prefix,
        newest_first: bool,
        mut f: impl FnMut(&Entry) -> Option<T>,
    ) -> Result<Option<T>> {
        let snap = self.snapshot()?;
        let mut found = None;
        snap.walk_index(prefix, snap.record_count()?, newest_first, |i| {
            found = f(&crate::ledger::load_entry(&snap, i)?);
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// The fused manifest of release `id`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when release `id` was never fused.
    pub fn release(&self, id: &str) -> Result<(Entry, FusedManifest)> {
        self.find_entry(&index::release_prefix(id), false, |e| {
            match &e.record.body {
                Body::FusedManifest(m) if m.release_id == id => Some((e.clone(), m.clone())),
                _ => None,
            }
        })?
        .ok_or_else(|| invalid(format!("release '{id}' was never fused")))
    }

    /// Every fused release, in order.
    ///
    /// # Errors
    /// Storage errors.
    pub fn releases(&self) -> Result<Vec<(Entry, FusedManifest)>> {
        let mut out = Vec::new();
        self.for_each(
            &Filter {
                kind: Some(Kind::FusedManifest),
                ..Filter::default()
            },
            |e| {
                if let Body::FusedManifest(m) = &e.record.body {
                    out.push((e.clone(), m.clone()));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// What `fuse` would find unmet, and the records it would rely on.
    fn requirements(&self, req: &FuseRequest) -> Result<Requirements> {
        let policy = self.policy()?;
        let mut unmet = Vec::new();
        let (mut components, mut decisions, mut lanes) = (Vec::new(), Vec::new(), Vec::new());
        for digest in &req.components {
            let (entry, artifact) = match self.artifact(digest) {
                Ok(found) => found,
                Err(_) => {
                    unmet.push(format!("artifact {digest}: not recorded"));
                    continue;
                }
            };
            let blake3 = artifact.digests[0];
            let named = format!("artifact {} ({blake3})", artifact.name);
            let mut latest: BTreeMap<String, Entry> = BTreeMap::new();
            for e in self.search_digest(&blake3)? {
                if let Body::GateDecision(d) = &e.record.body
                    && d.candidate == blake3
                    && d.policy == policy.digest
                {
                    latest.insert(d.gate.clone(), e.clone());
                }
            }
            for gate in policy.policy.gates.iter().filter(|g| applies(g, &artifact)) {
                match latest.get(&gate.name).map(|e| (e, &e.record.body)) {
                    Some((e, Body::GateDecision(d))) if d.outcome == Verdict::Passed => {
                        decisions.push(rref(e))
                    }
                    Some((e, _)) => unmet.push(format!(
                        "{named}: gate '{}' failed (record {})",
                        gate.name, e.index
                    )),
                    None => unmet.push(format!(
                        "{named}: gate '{}' has no decision under the policy in force",
                        gate.name
                    )),
                }
            }
            components.push(Component {
                artifact: rref(&entry),
                digest: blake3,
                name: artifact.name,
                provider: artifact.provider,
                artifact_kind: artifact.artifact_kind,
            });
        }
        let required = &policy.policy.required_lanes;
        match (&req.commit, required.is_empty()) {
            (_, true) => {}
            (None, false) => unmet.push(format!(
                "no commit given: the required lanes ({}) are matched by commit",
                required.join(", ")
            )),
            (Some(commit), false) => {
                let mut latest: BTreeMap<String, Entry> = BTreeMap::new();
                self.for_each(
                    &Filter {
                        kind: Some(Kind::LaneResult),
                        ..Filter::default()
                    },
                    |e| {
                        if let Body::LaneResult(l) = &e.record.body
                            && l.commit.as_deref() == Some(commit.as_str())
                        {
                            latest.insert(l.lane.clone(), e);
                        }
                        Ok(())
                    },
                )?;
                for lane in required {
                    match latest.get(lane).map(|e| (e, &e.record.body)) {
                        Some((e, Body::LaneResult(l))) if l.outcome == Outcome::Passed => {
                            lanes.push(rref(e))
                        }
                        Some((e, Body::LaneResult(l))) => unmet.push(format!(
                            "lane '{lane}': the latest run for commit {commit} (record {}) is {:?}",
                            e.index, l.outcome
                        )),
                        _ => unmet.push(format!("lane '{lane}': no result for commit {commit}")),
                    }
                }
            }
        }
        Ok(Requirements {
            unmet,
            components,
            decisions,
            lanes,
        })
    }

    /// Fuses a release: appends its fused manifest if the policy is satisfied (or an override
    /// with a reason is given); otherwise returns the unmet requirements and appends nothing.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a release id already fused, no components, or no policy.
    pub fn fuse(&self, actor: &str, req: &FuseRequest) -> Result<Fused> {
        if req.components.is_empty() {
            return Err(invalid(
                "a release needs at least one component (--artifact DIGEST)",
            ));
        }
        if let Ok((e, _)) = self.release(&req.release_id) {
            return Err(invalid(format!(
                "release '{}' is already fused (record {})",
                req.release_id, e.index
            )));
        }
        let policy = self.policy()?;
        let Requirements {
            unmet,
            components,
            decisions,
            lanes: lane_results,
        } = self.requirements(req)?;
        if !unmet.is_empty() && req.override_reason.is_none() {
            return Ok(Fused::Refused { unmet });
        }
        if components.len() != req.components.len() {
            return Err(invalid(
                "an override cannot fuse an artifact that was never recorded",
            ));
        }
        let manifest = FusedManifest {
            release_id: req.release_id.clone(),
            commit: req.commit.clone(),
            components,
            decisions,
            lane_results,
            policy: policy.record,
            policy_digest: policy.digest,
            override_: req
                .override_reason
                .as_ref()
                .filter(|_| !unmet.is_empty())
                .map(|reason| Override {
                    reason: reason.clone(),
                    unmet: unmet.clone(),
                }),
        };
        let appended = self.append(actor, Body::FusedManifest(manifest))?;
        let descriptor = self.descriptor(&req.release_id)?;
        Ok(Fused::Fused {
            appended,
            descriptor,
            overridden: unmet,
        })
    }

    /// The release descriptor: the fused manifest's canonical JSON (sorted keys) with where it
    /// is in the ledger and the signed checkpoint of the commit that recorded it.
    ///
    /// # Errors
    /// [`Error::Invalid`] when release `id` was never fused.
    pub fn descriptor(&self, id: &str) -> Result<Value> {
        let (entry, _) = self.release(id)?;
        let (_, checkpoint) = self
            .checkpoint(Some(entry.index + 1))
            .or_else(|_| self.checkpoint(None))?;
        Ok(json!({
            "release": entry.record.body.to_json(),
            "ledger": {
                "origin": self.origin(),
                "index": entry.index,
                "leaf_hash": entry.leaf_hash,
                "recorded": format_time(entry.record.time_us),
                "actor": entry.record.actor,
                "checkpoint": checkpoint,
            },
        }))
    }

    /// Every move of `channel`, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn channel_history(&self, channel: &str) -> Result<Vec<Move>> {
        let mut moves = Vec::new();
        self.find_entry(&index::channel_prefix(channel), false, |e| {
            moves.extend(channel_move(e, channel));
            None::<()>
        })?;
        Ok(moves)
    }

    /// Every promotion or rollback that moves a channel to or away from release `id`, in order.
    ///
    /// # Errors
    /// Storage errors.
    pub fn moves_involving(&self, id: &str) -> Result<Vec<Entry>> {
        let mut moves = Vec::new();
        for kind in [Kind::Promotion, Kind::Rollback] {
            self.for_each(
                &Filter {
                    kind: Some(kind),
                    ..Filter::default()
                },
                |e| {
                    let involved = match &e.record.body {
                        Body::Promotion(p) => {
                            p.release_id == id || p.replaces.as_deref() == Some(id)
                        }
                        Body::Rollback(r) => r.release_id == id || r.replaces == id,
                        _ => false,
                    };
                    if involved {
                        moves.push(e);
                    }
                    Ok(())
                },
            )?;
        }
        moves.sort_by_key(|e| e.index);
        Ok(moves)
    }

    /// The channel's current release (its last move), if any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn current(&self, channel: &str) -> Result<Option<Move>> {
        self.find_entry(&index::channel_prefix(channel), true, |e| {
            channel_move(e, channel)
        })
    }

    /// What was live on `channel` at `time_us` (the last move at or before it).
    ///
    /// # Errors
    /// Storage errors.
    pub fn live_at(&self, channel: &str, time_us: i64) -> Result<Option<Move>> {
        Ok(self
            .channel_history(channel)?
            .into_iter()
            .rev()
            .find(|m| m.time_us <= time_us))
    }

    /// Makes release `id` current on `channel`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the release was never fused or is already current.
    pub fn promote(&self, actor: &str, id: &str, channel: &str) -> Result<Appended> {
        let (entry, _) = self.release(id)?;
        let current = self.current(channel)?;
        if current.as_ref().is_some_and(|m| m.release_id == id) {
            return Err(invalid(format!(
                "release '{id}' is already current on channel '{channel}'"
            )));
        }
        self.append(
            actor,
            Body::Promotion(Promotion {
                channel: channel.to_string(),
                release_id: id.to_string(),
                release: rref(&entry),
                replaces: current.map(|m| m.release_id),
            }),
        )
    }

    /// Rolls `channel` back to `to` (default: the release live before the current one). The
    /// target must be a release fused under policy (no override) unless `overridden`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty channel, no earlier release, a target never fused or
    /// already current; [`Error::Failed`] for a target fused by override without `overridden`.
    pub fn rollback(
        &self,
        actor: &str,
        channel: &str,
        to: Option<&str>,
        reason: &str,
        overridden: bool,
    ) -> Result<Appended> {
        let current = self
            .current(channel)?
            .ok_or_else(|| invalid(format!("channel '{channel}' has no release to roll back")))?;
        let target = match to {
            Some(t) => t.to_string(),
            None => self
                .find_entry(&index::channel_prefix(channel), true, |e| {
                    channel_move(e, channel)
                        .map(|m| m.release_id)
                        .filter(|r| *r != current.release_id)
                })?
                .ok_or_else(|| invalid(format!("channel '{channel}' has no earlier release")))?,
        };
        if target == current.release_id {
            return Err(invalid(format!(
                "release '{target}' is already current on channel '{channel}'"
            )));
        }
        let (entry, manifest) = self.release(&target)?;
        if manifest.override_.is_some() && !overridden {
            return Err(Error::Failed(format!(
                "refused: release '{target}' was fused by override, not under policy; pass --override to roll back to it anyway"
            )));
        }
        self.append(
            actor,
            Body::Rollback(Rollback {
                channel: channel.to_string(),
                release_id: target,
                release: rref(&entry),
                replaces: current.release_id.clone(),
                reason: reason.to_string(),
                overridden,
            }),
        )
    }

    /// The provenance tree of release `id`: its manifest, its artifacts with their sources and
    /// parents (followed transitively), the decisions and lane results it relied on, and every
    /// channel move involving it.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the release was never fused; [`Error::Corrupt`] when a reference
    /// does not match the record it names.
    pub fn provenance(&self, id: &str) -> Result<Value> {
        let (entry, manifest) = self.release(id)?;
        let follow = |r: &RecordRef| -> Result<Value> {
            let e = self.entry(r.index)?;
            if !e.leaf_hash.ct_eq(&r.leaf_hash) {
                return Err(Error::Corrupt(format!(
                    "record {} does not match its reference",
                    r.index
                )));
            }
            Ok(e.to_json())
        };
        let mut artifacts = Vec::new();
        for c in &manifest.components {
            artifacts.push(self.artifact_tree(&c.digest, 0)?);
        }
        let decisions: Vec<Value> = manifest
            .decisions
            .iter()
            .map(follow)
            .collect::<Result<_>>()?;
        let lanes: Vec<Value> = manifest
            .lane_results
            .iter()
            .map(follow)
            .collect::<Result<_>>()?;
        let moves: Vec<Value> = self
            .moves_involving(id)?
            .iter()
            .map(Entry::to_json)
            .collect();
        Ok(json!({
            "release": id,
            "manifest": entry.to_json(),
            "policy": follow(&manifest.policy)?,
            "artifacts": artifacts,
            "gate_decisions": decisions,
            "lane_results": lanes,
            "channel_moves": moves,
        }))
    }

    fn artifact_tree(&self, digest: &Digest, depth: usize) -> Result<Value> {
        if depth > 32 {
            return Err(invalid(format!(
                "artifact {digest}: parents nest deeper than 32"
            )));
        }
        let (entry, artifact) = match self.artifact(digest) {
            Ok(found) => found,
            Err(_) => return Ok(json!({"digest": digest, "recorded": false})),
        };
        let parents: Vec<Value> = artifact
            .parents
            .iter()
            .map(|p| self.artifact_tree(p, depth + 1))
            .collect::<Result<_>>()?;
        Ok(json!({"record": entry.to_json(), "parents": parents}))
    }
}
