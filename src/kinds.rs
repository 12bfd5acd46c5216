//! The typed body of each record kind (ledger-format.md §4). Field order is the encoding
//! order: never reorder, only add kinds or versions.
//!
//! JSON input is strict: unknown fields, duplicate fields and wrong types are refused by serde;
//! `validate` adds the rules types cannot say (non-empty names, finite numbers).

use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};
use crate::error::{Result, invalid};
use crate::record::RecordRef;

/// A trained model artifact: a file, or a directory hashed file by file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    /// Who produced it: `huggingface`, `gcp`, `aws`, …
    pub provider: String,
    /// What it is: `text-adapter`, `embeddings`, `runtime-distilled`, …
    pub artifact_kind: String,
    /// Content digests: exactly one BLAKE3, at most one SHA-256.
    pub digests: Vec<Digest>,
    /// Total bytes of content.
    pub size: u64,
    /// Files hashed: 1 for a single file.
    pub file_count: u64,
    /// Where it is stored.
    pub uri: Option<String>,
    /// Training data it was made from.
    pub sources: Vec<Source>,
    /// Digests of the artifacts it derives from (a base model).
    pub parents: Vec<Digest>,
    /// Digest of the training configuration.
    pub config_digest: Option<Digest>,
}

/// A training-data source: a Notion export, a Hugging Face dataset, an S3 object, …
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `notion-export`, `hf-dataset`, `s3-object`, …
    pub source_kind: String,
    pub uri: String,
    pub digest: Digest,
}

/// The outcome of a test lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
}

/// One run of a test lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneResult {
    /// `preflight`, `fast`, `federation-integration`, `release`, `extended`, …
    pub lane: String,
    /// The git commit tested.
    pub commit: Option<String>,
    /// Digests of the artifacts tested.
    pub subjects: Vec<Digest>,
    pub outcome: Outcome,
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub duration_ms: u64,
    /// Digest of the report (JUnit XML) the result was read from.
    pub report_digest: Option<Digest>,
}

/// How a gate compares the observed metric with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

/// One promotion gate of a policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    pub metric: String,
    pub comparator: Comparator,
    pub threshold: f64,
    /// Artifact kinds it applies to; empty means all.
    pub artifact_kinds: Vec<String>,
    /// Providers it applies to; empty means all.
    pub providers: Vec<String>,
}

/// The promotion policy in force from this record on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub gates: Vec<Gate>,
    pub required_lanes: Vec<String>,
}

/// Whether a gate passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
}

/// One gate applied to one candidate artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateDecision {
    pub gate: String,
    /// The candidate artifact's digest.
    pub candidate: Digest,
    pub metric: String,
    /// The observed value; absent when the metric was missing (a failed gate).
    pub observed: Option<f64>,
    pub comparator: Comparator,
    pub threshold: f64,
    pub outcome: Verdict,
    /// The digest of the policy the gate came from.
    pub policy: Digest,
    /// Where the metric came from (report URIs or digests), free text.
    pub evidence: Vec<String>,
}

/// One component of a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub artifact: RecordRef,
    /// The artifact's BLAKE3 digest.
    pub digest: Digest,
    pub name: String,
    pub provider: String,
    pub artifact_kind: String,
}

/// A recorded decision to fuse despite unmet requirements; the envelope's actor is who.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub reason: String,
    /// The requirements that were not met.
    pub unmet: Vec<String>,
}

/// A fused release manifest: the release descriptor's recorded form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusedManifest {
    pub release_id: String,
    pub commit: Option<String>,
    pub components: Vec<Component>,
    /// The gate decisions it relies on.
    pub decisions: Vec<RecordRef>,
    /// The lane results it relies on.
    pub lane_results: Vec<RecordRef>,
    /// The policy record and its digest.
    pub policy: RecordRef,
    pub policy_digest: Digest,
    pub override_: Option<Override>,
}

/// A release made current on a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    pub channel: String,
    pub release_id: String,
    /// The fused-manifest record of the release.
    pub release: RecordRef,
    /// The release it replaces, if the channel had one.
    pub replaces: Option<String>,
}

/// A channel moved back to a prior release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub channel: String,
    /// The target release.
    pub release_id: String,
    pub release: RecordRef,
    /// The release that was current.
    pub replaces: String,
    pub reason: String,
    /// Whether policy checks on the target were overridden.
    pub overridden: bool,
}

/// A rotation of the ledger's checkpoint-signing key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEvent {
    /// The verifier key retired (signed-note vkey text).
    pub old_vkey: String,
    /// The verifier key in force after this record.
    pub new_vkey: String,
    /// Base64 Ed25519 signature by the old key over the rotation statement (ledger-format.md).
    pub signature: String,
}

fn require(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(format!("field '{field}' must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "field '{field}' must not contain control characters"
        )));
    }
    Ok(())
}

fn finite(field: &str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(invalid(format!("field '{field}' must be a finite number")));
    }
    Ok(())
}

impl Artifact {
    pub(crate) fn validate(&self) -> Result<()> {
        require("name", &self.name)?;
        require("provider", &self.provider)?;
        require("artifact_kind", &self.artifact_kind)?;
        let count = |a| self.digests.iter().filter(|d| d.algorithm == a).count();
        if count(Algorithm::Blake3) != 1 || count(Algorithm::Sha256) > 1 {
            return Err(invalid(
                "field 'digests' must hold exactly one blake3 digest and at most one sha256 digest",
            ));
        }
        if let Some(uri) = &self.uri {
            require("uri", uri)?;
        }
        for s in &self.sources {
            require("sources.source_kind", &s.source_kind)?;
            require("sources.uri", &s.uri)?;
        }
        Ok(())
    }

    pub(crate) fn digests(&self) -> Vec<Digest> {
        let mut all = self.digests.clone();
        all.extend(self.sources.iter().map(|s| s.digest));
        all.extend(self.parents.iter().copied());
        all.extend(self.config_digest);
        all
    }
}

impl LaneResult {
    pub(crate) fn validate(&self) -> Result<()> {
        require("lane", &self.lane)?;
        if let Some(c) = &self.commit {
            require("commit", c)?;
        }
        Ok(())
    }

    pub(crate) fn digests(&self) -> Vec<Digest> {
        let mut all = self.subjects.clone();
        all.extend(self.report_digest);
        all
    }
}

impl Policy {
    pub(crate) fn validate(&self) -> Result<()> {
        require("name", &self.name)?;
        for (i, g) in self.gates.iter().enumerate() {
            require("gates.name", &g.name)?;
            require("gates.metric", &g.metric)?;
            finite("gates.threshold", g.threshold)?;
            if self.gates[..i].iter().any(|other| other.name == g.name) {
                return Err(invalid(format!("gate '{}' is defined twice", g.name)));
            }
        }
        for lane in &self.required_lanes {
            require("required_lanes", lane)?;
        }
        Ok(())
    }
}

impl GateDecision {
    pub(crate) fn validate(&self) -> Result<()> {
        require("gate", &self.gate)?;
        require("metric", &self.metric)?;
        finite("threshold", self.threshold)?;
        if let Some(v) = self.observed {
            finite("observed", v)?;
        }
        Ok(())
    }
}

impl FusedManifest {
    pub(crate) fn validate(&self) -> Result<()> {
        require("release_id", &self.release_id)?;
        if self.components.is_empty() {
            return Err(invalid("field 'components' must not be empty"));
        }
        for c in &self.components {
            require("components.name", &c.name)?;
        }
        if let Some(o) = &self.override_ {
            require("override_.reason", &o.reason)?;
        }
        Ok(())
    }

    pub(crate) fn digests(&self) -> Vec<Digest> {
        let mut all: Vec<Digest> = self.components.iter().map(|c| c.digest).collect();
        all.push(self.policy_digest);
        all
    }
}

impl Promotion {
    pub(crate) fn validate(&self) -> Result<()> {
        require("channel", &self.channel)?;
        require("release_id", &self.release_id)
    }
}

impl Rollback {
    pub(crate) fn validate(&self) -> Result<()> {
        require("channel", &self.channel)?;
        require("release_id", &self.release_id)?;
        require("replaces", &self.replaces)?;
        require("reason", &self.reason)
    }
}

impl KeyEvent {
    pub(crate) fn validate(&self) -> Result<()> {
        require("old_vkey", &self.old_vkey)?;
        require("new_vkey", &self.new_vkey)?;
        require("signature", &self.signature)
    }
}
