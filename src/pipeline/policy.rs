//! The promotion policy: read from TOML, recorded as a `policy` record, cited by its digest
//! (SHA-256 of the policy record's bytes).
//!
//! ```toml
//! name = "production"
//! required_lanes = ["preflight", "fast", "federation-integration", "release"]
//!
//! [[gates]]
//! name = "quality"
//! metric = "eval.accuracy"
//! comparator = ">="          # one of <= < >= > ==
//! threshold = 0.90
//! artifact_kinds = ["text-adapter"]   # optional: empty means every kind
//! providers = []                      # optional: empty means every provider
//! ```

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result, invalid};
use crate::kinds::{Comparator, Gate, Policy};
use crate::ledger::{Entry, Filter};
use crate::record::{Body, Kind, RecordRef};
use crate::{Appended, Ledger};

/// The example policy (`provledger policy example`): quality, safety, latency and cost gates,
/// and the four lanes a release requires.
pub const EXAMPLE: &str = r#"# provledger promotion policy
name = "production"
required_lanes = ["preflight", "fast", "federation-integration", "release"]

[[gates]]
name = "quality"
metric = "eval.accuracy"
comparator = ">="
threshold = 0.85

[[gates]]
name = "safety"
metric = "safety.toxicity_rate"
comparator = "<="
threshold = 0.02

[[gates]]
name = "latency"
metric = "p95_latency_ms"
comparator = "<="
threshold = 250
artifact_kinds = ["runtime-distilled", "embeddings"]

[[gates]]
name = "cost"
metric = "cost_per_1k_tokens_usd"
comparator = "<="
threshold = 0.40
"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    #[serde(default)]
    required_lanes: Vec<String>,
    #[serde(default)]
    gates: Vec<GateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateFile {
    name: toml::Spanned<String>,
    metric: String,
    comparator: Comparator,
    threshold: f64,
    #[serde(default)]
    artifact_kinds: Vec<String>,
    #[serde(default)]
    providers: Vec<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses a policy TOML file into a policy body.
///
/// # Errors
/// [`Error::Invalid`] naming the line that is wrong (bad syntax or comparator, a non-numeric
/// threshold, a duplicate gate, an unknown field).
pub fn parse(text: &str) -> Result<Policy> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!("line {}: ", line_of(text, s.start)))
            .unwrap_or_default();
        invalid(format!("{line}{}", e.message()))
    })?;
    for (i, g) in file.gates.iter().enumerate() {
        if file.gates[..i]
            .iter()
            .any(|o| o.name.get_ref() == g.name.get_ref())
        {
            return Err(invalid(format!(
                "line {}: gate '{}' is defined twice",
                line_of(text, g.name.span().start),
                g.name.get_ref()
            )));
        }
        if !g.threshold.is_finite() {
            return Err(invalid(format!(
                "line {}: gate '{}': the threshold must be a finite number",
                line_of(text, g.name.span().start),
                g.name.get_ref()
            )));
        }
    }
    let policy = Policy {
        name: file.name,
        gates: file
            .gates
            .into_iter()
            .map(|g| Gate {
                name: g.name.into_inner(),
                metric: g.metric,
                comparator: g.comparator,
                threshold: g.threshold,
                artifact_kinds: g.artifact_kinds,
                providers: g.providers,
            })
            .collect(),
        required_lanes: file.required_lanes,
    };
    Body::Policy(policy.clone()).validate()?;
    Ok(policy)
}

/// Whether `observed comparator threshold` holds.
pub fn compare(observed: f64, comparator: Comparator, threshold: f64) -> bool {
    match comparator {
        Comparator::Le => observed <= threshold,
        Comparator::Lt => observed < threshold,
        Comparator::Ge => observed >= threshold,
        Comparator::Gt => observed > threshold,
        Comparator::Eq => observed == threshold,
    }
}

/// The policy in force: the latest policy record, its reference and digest.
#[derive(Clone, Debug)]
pub struct InForce {
    pub policy: Policy,
    pub record: RecordRef,
    pub digest: Digest,
    pub entry: Entry,
}

impl Ledger {
    /// Records a policy (one commit).
    ///
    /// # Errors
    /// As [`Ledger::append`].
    pub fn set_policy(&self, actor: &str, policy: Policy) -> Result<Appended> {
        self.append(actor, Body::Policy(policy))
    }

    /// The latest recorded policy.
    ///
    /// # Errors
    /// [`Error::Invalid`] when no policy was recorded yet.
    pub fn policy(&self) -> Result<InForce> {
        let mut last = None;
        self.for_each(
            &Filter {
                kind: Some(Kind::Policy),
                ..Filter::default()
            },
            |e| {
                last = Some(e);
                Ok(())
            },
        )?;
        let entry = last.ok_or_else(|| {
            invalid("no policy is recorded: run 'provledger policy set FILE.toml'")
        })?;
        let Body::Policy(policy) = entry.record.body.clone() else {
            return Err(Error::Corrupt(format!(
                "record {} is not a policy",
                entry.index
            )));
        };
        Ok(InForce {
            policy,
            record: RecordRef {
                index: entry.index,
                leaf_hash: entry.leaf_hash,
            },
            digest: Digest::sha256(&entry.bytes),
            entry,
        })
    }
}
