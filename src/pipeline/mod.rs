//! The release pipeline the ledger exists for (PRODUCT.md, "The world it serves"): artifacts
//! from providers, test lanes, the promotion policy and its gates, fused releases, channels.
//! Each verb appends typed records in one commit and refuses, with the list of what is
//! missing, anything the policy does not allow.

pub mod artifact;
pub mod gate;
pub mod junit;
pub mod policy;
pub mod release;

use std::path::Path;

use crate::digest::Digest;
use crate::error::{Result, invalid};
use crate::kinds::{Artifact, LaneResult, Outcome, Source};
use crate::record::{Body, Kind};
use crate::{Appended, Ledger};

/// The verb that records each kind; `append` refuses the kinds whose records need checks
/// against the ledger (the "no back door" rule).
pub fn verb_for(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Artifact | Kind::LaneResult | Kind::Policy => None,
        Kind::GateDecision => Some("provledger gate evaluate"),
        Kind::FusedManifest => Some("provledger release fuse"),
        Kind::Promotion => Some("provledger release promote"),
        Kind::Rollback => Some("provledger release rollback"),
        Kind::KeyEvent => Some("provledger key rotate"),
    }
}

/// What `artifact add` records about an artifact besides its content.
#[derive(Clone, Debug, Default)]
pub struct ArtifactMeta {
    pub name: String,
    pub provider: String,
    pub artifact_kind: String,
    pub uri: Option<String>,
    pub sources: Vec<Source>,
    pub parents: Vec<Digest>,
    pub config_digest: Option<Digest>,
}

/// Whether `add_artifact` appended a record or found the same one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Added {
    pub index: u64,
    pub existing: bool,
    pub artifact: Artifact,
}

impl Ledger {
    /// Records an artifact from its hashed content; the same content with the same metadata
    /// returns the existing record instead of appending a duplicate.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for invalid metadata; storage errors.
    pub fn add_artifact(
        &self,
        actor: &str,
        hashed: &artifact::Hashed,
        meta: ArtifactMeta,
    ) -> Result<Added> {
        let mut digests = vec![hashed.blake3];
        digests.extend(hashed.sha256);
        let artifact = Artifact {
            name: meta.name,
            provider: meta.provider,
            artifact_kind: meta.artifact_kind,
            digests,
            size: hashed.size,
            file_count: hashed.files.len() as u64,
            uri: meta.uri,
            sources: meta.sources,
            parents: meta.parents,
            config_digest: meta.config_digest,
        };
        for e in self.search_digest(&hashed.blake3)? {
            if let Body::Artifact(a) = &e.record.body
                && *a == artifact
            {
                return Ok(Added {
                    index: e.index,
                    existing: true,
                    artifact,
                });
            }
        }
        let appended = self.append(actor, Body::Artifact(artifact.clone()))?;
        Ok(Added {
            index: appended.index,
            existing: false,
            artifact,
        })
    }

    /// Records a lane's result from a JUnit report file.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for an unreadable or malformed report.
    pub fn record_lane(
        &self,
        actor: &str,
        lane: &str,
        junit: &Path,
        commit: Option<String>,
        subjects: Vec<Digest>,
    ) -> Result<(Appended, LaneResult)> {
        let bytes = std::fs::read(junit)
            .map_err(|e| invalid(format!("cannot read {}: {e}", junit.display())))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| invalid(format!("{} is not UTF-8", junit.display())))?;
        let report =
            junit::parse(text).map_err(|e| invalid(format!("{}: {e}", junit.display())))?;
        let result = LaneResult {
            lane: lane.to_string(),
            commit,
            subjects,
            outcome: report.outcome(),
            tests: report.tests,
            failures: report.failures,
            errors: report.errors,
            skipped: report.skipped,
            duration_ms: report.duration_ms,
            report_digest: Some(Digest::sha256(&bytes)),
        };
        let appended = self.append(actor, Body::LaneResult(result.clone()))?;
        Ok((appended, result))
    }

    /// Records a lane's result given by hand (for lanes without JUnit).
    ///
    /// # Errors
    /// As [`Ledger::append`].
    pub fn record_lane_manual(&self, actor: &str, result: LaneResult) -> Result<Appended> {
        if result.outcome == Outcome::Passed
            && (result.tests == 0 || result.failures + result.errors > 0)
        {
            return Err(invalid(
                "a passed lane needs at least one test and no failures or errors",
            ));
        }
        self.append(actor, Body::LaneResult(result))
    }
}
