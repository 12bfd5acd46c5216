//! Node anti-rollback: a node keeps the last checkpoint it trusts and accepts a new one only
//! if it is signed and provably extends the trusted head (ledger-format.md §9).
//!
//! Refused: a smaller size (a rollback), the same size with another root, or a larger size that
//! no valid consistency proof connects (a fork). The state file is the trusted checkpoint note,
//! verbatim, replaced atomically.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::proof_file::verify_consistency_edge;

/// How a new checkpoint relates to the trusted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acceptance {
    /// There was no trusted checkpoint: trusted on first use.
    FirstUse,
    /// The same tree head as the trusted one.
    Unchanged,
    /// A consistent extension of the trusted head.
    Extended,
}

/// Decides whether `new` may replace `trusted`, given a consistency proof from the trusted size
/// to the new size when the new one is larger.
///
/// # Errors
/// [`Error::Failed`] saying why it is refused (older, fork, or no proof).
pub fn check(trusted: &Checkpoint, new: &Checkpoint, proof: Option<&[Hash]>) -> Result<Acceptance> {
    let (t, n) = (trusted.head, new.head);
    if trusted.origin != new.origin {
        return Err(Error::Failed(format!(
            "refused: the new checkpoint is for log '{}', the trusted one for '{}'",
            new.origin, trusted.origin
        )));
    }
    if n.size < t.size {
        return Err(Error::Failed(format!(
            "refused: the new checkpoint (size {}) is older than the trusted one (size {}): a rollback",
            n.size, t.size
        )));
    }
    if n.size == t.size {
        if n.root.ct_eq(&t.root) {
            return Ok(Acceptance::Unchanged);
        }
        return Err(Error::Failed(format!(
            "refused: a different root at the trusted size {}: the log forked",
            n.size
        )));
    }
    let proof = proof.ok_or_else(|| {
        Error::Failed(format!(
            "refused: no consistency proof from the trusted size {} to {}",
            t.size, n.size
        ))
    })?;
    verify_consistency_edge(t.size, n.size, &t.root, &n.root, proof).map_err(|e| {
        Error::Failed(format!(
            "refused: the new checkpoint (size {}) does not extend the trusted one (size {}): {e}",
            n.size, t.size
        ))
    })?;
    Ok(Acceptance::Extended)
}

/// Reads the trusted checkpoint note, if the state file exists.
///
/// # Errors
/// [`Error::Invalid`] when it cannot be read.
pub fn read_state(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Replaces the state file with `note` atomically (write, sync, rename).
///
/// # Errors
/// I/O errors.
pub fn write_state(path: &Path, note: &str) -> Result<()> {
    let io = |e: std::io::Error| Error::Io(format!("writing {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(note.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
