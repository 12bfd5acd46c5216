//! Promotion gates: each gate of the policy in force that applies to a candidate artifact is
//! evaluated against a metrics document and recorded as one `gate-decision` record.
//! A missing metric is a failed gate, recorded with no observed value.

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Result, invalid};
use crate::kinds::{Artifact, Gate, GateDecision, Verdict};
use crate::ledger::Entry;
use crate::pipeline::policy::compare;
use crate::record::Body;
use crate::{Appended, Ledger};

/// The decisions recorded for one candidate.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub candidate: Digest,
    pub policy: Digest,
    pub decisions: Vec<Decided>,
}

/// One recorded decision.
#[derive(Clone, Debug, Serialize)]
pub struct Decided {
    pub appended: Appended,
    pub decision: GateDecision,
}

impl Evaluation {
    /// Names of the gates that failed, with why.
    pub fn failures(&self) -> Vec<String> {
        self.decisions
            .iter()
            .filter(|d| d.decision.outcome == Verdict::Failed)
            .map(|d| match d.decision.observed {
                None => format!(
                    "gate '{}': metric '{}' is missing",
                    d.decision.gate, d.decision.metric
                ),
                Some(v) => format!(
                    "gate '{}': {} = {v} does not satisfy {} {}",
                    d.decision.gate,
                    d.decision.metric,
                    serde_json::to_value(d.decision.comparator)
                        .expect("serializes")
                        .as_str()
                        .unwrap_or("?"),
                    d.decision.threshold
                ),
            })
            .collect()
    }
}

/// Whether `gate` applies to `artifact` (empty lists mean "all").
pub fn applies(gate: &Gate, artifact: &Artifact) -> bool {
    (gate.artifact_kinds.is_empty() || gate.artifact_kinds.contains(&artifact.artifact_kind))
        && (gate.providers.is_empty() || gate.providers.contains(&artifact.provider))
}

/// A metric from a JSON document: the key itself, or a dotted path into nested objects.
pub fn metric(metrics: &serde_json::Value, name: &str) -> Option<f64> {
    if let Some(v) = metrics.get(name) {
        return v.as_f64();
    }
    name.split('.')
        .try_fold(metrics, |v, part| v.get(part))
        .and_then(serde_json::Value::as_f64)
}

impl Ledger {
    /// The artifact record that names `digest` (the latest, if several do).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when no artifact record names it.
    pub fn artifact(&self, digest: &Digest) -> Result<(Entry, Artifact)> {
        self.search_digest(digest)?
            .into_iter()
            .rev()
            .find_map(|e| match &e.record.body {
                Body::Artifact(a) if a.digests.contains(digest) => Some((e.clone(), a.clone())),
                _ => None,
            })
            .ok_or_else(|| invalid(format!("no artifact record has the digest {digest}")))
    }

    /// Evaluates every gate of the policy in force that applies to `candidate` and records one
    /// decision per gate, in one commit.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when there is no policy, no such artifact, or no gate applies.
    pub fn evaluate_gates(
        &self,
        actor: &str,
        candidate: &Digest,
        metrics: &serde_json::Value,
        evidence: Vec<String>,
    ) -> Result<Evaluation> {
        let policy = self.policy()?;
        let (_, artifact) = self.artifact(candidate)?;
        let blake3 = artifact.digests[0];
        let decisions: Vec<GateDecision> = policy
            .policy
            .gates
            .iter()
            .filter(|g| applies(g, &artifact))
            .map(|g| {
                let observed = metric(metrics, &g.metric);
                let passed = observed.is_some_and(|v| compare(v, g.comparator, g.threshold));
                GateDecision {
                    gate: g.name.clone(),
                    candidate: blake3,
                    metric: g.metric.clone(),
                    observed,
                    comparator: g.comparator,
                    threshold: g.threshold,
                    outcome: if passed {
                        Verdict::Passed
                    } else {
                        Verdict::Failed
                    },
                    policy: policy.digest,
                    evidence: evidence.clone(),
                }
            })
            .collect();
        if decisions.is_empty() {
            return Err(invalid(format!(
                "no gate of policy '{}' applies to {} ({} from {})",
                policy.policy.name, artifact.name, artifact.artifact_kind, artifact.provider
            )));
        }
        let items = decisions
            .iter()
            .map(|d| (actor.to_string(), Body::GateDecision(d.clone())))
            .collect();
        let appended = self.append_batch(items)?;
        Ok(Evaluation {
            candidate: blake3,
            policy: policy.digest,
            decisions: appended
                .into_iter()
                .zip(decisions)
                .map(|(appended, decision)| Decided { appended, decision })
                .collect(),
        })
    }
}
