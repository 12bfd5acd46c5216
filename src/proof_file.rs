//! Proof files (ledger-format.md §8): the C2SP `tlog-proof` text for inclusion, and a
//! provledger consistency-proof text of the same shape. Both end with the signed checkpoint
//! note they prove against, verbatim, so a file verifies with only the log's verifier key.
//!
//! ```text
//! c2sp.org/tlog-proof@v1             provledger/consistency-proof@v1
//! extra <base64 record bytes>        old <m>
//! index <i>                          old-root <base64 root(m)>
//! <base64 path hash>…                <base64 proof hash>…
//!                                    
//! <checkpoint note>                  <checkpoint note at size n>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Result, invalid};
use crate::hash::Hash;
use crate::proof::MAX_PROOF_LEN;

/// First line of an inclusion proof file (C2SP tlog-proof).
pub const INCLUSION_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// First line of a consistency proof file.
pub const CONSISTENCY_HEADER: &str = "provledger/consistency-proof@v1";

/// A C2SP tlog-proof: the record bytes (in `extra`), its index, its path, and the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionFile {
    /// The record bytes; unauthenticated until the proof verifies for their leaf hash.
    pub record: Option<Vec<u8>>,
    pub index: u64,
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// A consistency proof from an older tree head to the signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyFile {
    pub old_size: u64,
    pub old_root: Hash,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
}

/// Either proof file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofFile {
    Inclusion(InclusionFile),
    Consistency(ConsistencyFile),
}

fn push_hashes(out: &mut String, hashes: &[Hash]) {
    for h in hashes {
        out.push_str(&B64.encode(h.0));
        out.push('\n');
    }
}

impl ProofFile {
    /// The file's text.
    pub fn format(&self) -> String {
        match self {
            ProofFile::Inclusion(p) => {
                let mut out = format!("{INCLUSION_HEADER}\n");
                if let Some(record) = &p.record {
                    out.push_str(&format!("extra {}\n", B64.encode(record)));
                }
                out.push_str(&format!("index {}\n", p.index));
                push_hashes(&mut out, &p.path);
                out.push('\n');
                out.push_str(&p.checkpoint);
                out
            }
            ProofFile::Consistency(p) => {
                let mut out = format!(
                    "{CONSISTENCY_HEADER}\nold {}\nold-root {}\n",
                    p.old_size,
                    B64.encode(p.old_root.0)
                );
                push_hashes(&mut out, &p.proof);
                out.push('\n');
                out.push_str(&p.checkpoint);
                out
            }
        }
    }

    /// Parses either file strictly: the exact header, fields in order, base64 hashes of 32
    /// bytes (at most 64), one blank line, then the checkpoint note (checked when opened).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming the line.
    pub fn parse(text: &str) -> Result<ProofFile> {
        let at = text
            .find("\n\n")
            .ok_or_else(|| invalid("proof file has no blank line before its checkpoint"))?;
        let (head, checkpoint) = (&text[..at], text[at + 2..].to_string());
        let mut lines = head.split('\n').enumerate().peekable();
        let header = lines.next().map(|(_, l)| l).unwrap_or_default();
        let mut field = |name: &str| -> Result<(usize, String)> {
            match lines.next() {
                Some((n, line)) => line
                    .strip_prefix(name)
                    .and_then(|r| r.strip_prefix(' '))
                    .map(|v| (n + 1, v.to_string()))
                    .ok_or_else(|| invalid(format!("line {}: expected '{name} …'", n + 1))),
                None => Err(invalid(format!("proof file ends before '{name}'"))),
            }
        };
        let parsed = match header {
            INCLUSION_HEADER => {
                let record = if head
                    .split('\n')
                    .nth(1)
                    .is_some_and(|l| l.starts_with("extra "))
                {
                    let (n, v) = field("extra")?;
                    Some(
                        B64.decode(v)
                            .map_err(|_| invalid(format!("line {n}: extra is not base64")))?,
                    )
                } else {
                    None
                };
                let (n, v) = field("index")?;
                let index = parse_decimal(&v).ok_or_else(|| {
                    invalid(format!(
                        "line {n}: index must be decimal without leading zeros"
                    ))
                })?;
                ProofFile::Inclusion(InclusionFile {
                    record,
                    index,
                    path: Vec::new(),
                    checkpoint,
                })
            }
            CONSISTENCY_HEADER => {
                let (n, v) = field("old")?;
                let old_size = parse_decimal(&v).ok_or_else(|| {
                    invalid(format!(
                        "line {n}: old must be decimal without leading zeros"
                    ))
                })?;
                let (n, v) = field("old-root")?;
                let old_root = parse_b64_hash(n, &v)?;
                ProofFile::Consistency(ConsistencyFile {
                    old_size,
                    old_root,
                    proof: Vec::new(),
                    checkpoint,
                })
            }
            _ => {
                return Err(invalid(format!(
                    "line 1: not a proof file (expected '{INCLUSION_HEADER}' or '{CONSISTENCY_HEADER}')"
                )));
            }
        };
        let mut hashes = Vec::new();
        for (n, line) in lines {
            hashes.push(parse_b64_hash(n + 1, line)?);
            if hashes.len() > MAX_PROOF_LEN {
                return Err(invalid(format!("more than {MAX_PROOF_LEN} proof hashes")));
            }
        }
        Ok(match parsed {
            ProofFile::Inclusion(p) => ProofFile::Inclusion(InclusionFile { path: hashes, ..p }),
            ProofFile::Consistency(p) => {
                ProofFile::Consistency(ConsistencyFile { proof: hashes, ..p })
            }
        })
    }
}

fn parse_b64_hash(line: usize, text: &str) -> Result<Hash> {
    Hash::from_base64(text)
        .ok_or_else(|| invalid(format!("line {line}: a hash is base64 of 32 bytes")))
}

/// Parses an unsigned decimal that re-encodes identically (no sign, no leading zeros).
pub fn parse_decimal(text: &str) -> Option<u64> {
    let value: u64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    const NOTE: &str = "example.com/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} example.com/log AAAA\n";

    fn inclusion() -> ProofFile {
        ProofFile::Inclusion(InclusionFile {
            record: Some(b"record".to_vec()),
            index: 3,
            path: vec![sha256(b"a"), sha256(b"b")],
            checkpoint: NOTE.to_string(),
        })
    }

    #[test]
    fn both_files_round_trip() {
        let c = ProofFile::Consistency(ConsistencyFile {
            old_size: 3,
            old_root: sha256(b"old"),
            proof: vec![sha256(b"c")],
            checkpoint: NOTE.to_string(),
        });
        for p in [inclusion(), c] {
            assert_eq!(ProofFile::parse(&p.format()).unwrap(), p);
        }
        let mut bare = inclusion();
        if let ProofFile::Inclusion(p) = &mut bare {
            p.record = None;
            p.path.clear();
        }
        assert_eq!(ProofFile::parse(&bare.format()).unwrap(), bare);
    }

    #[test]
    fn malformed_files_are_refused() {
        let good = inclusion().format();
        let first_hash = B64.encode(sha256(b"a").0);
        let bad = [
            good.replace("index 3", "index 03"),
            good.replace("index 3", "index -3"),
            good.replace("index 3", "index  3"),
            good.replace(&first_hash, &first_hash[..40]),
            good.replace(&first_hash, "!!!!"),
            good.replace(INCLUSION_HEADER, "c2sp.org/tlog-proof@v2"),
            good.replacen("\n\n", "\n", 1),
            good.replace("extra ", "extra: "),
        ];
        for text in bad {
            assert!(ProofFile::parse(&text).is_err(), "accepted: {text:?}");
        }
    }
}

/// What a verified proof file showed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// `inclusion` or `consistency`.
    pub kind: &'static str,
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub verified_by: Vec<String>,
    /// Inclusion: the record's index and leaf hash.
    pub index: Option<u64>,
    pub leaf_hash: Option<Hash>,
    /// Consistency: the older head.
    pub old_size: Option<u64>,
    pub old_root: Option<Hash>,
}

/// Verifies a proof file offline: the checkpoint's signature and origin, then the proof against
/// its root. For inclusion the leaf is `record` when given (it must equal the bytes in
/// `extra` if both are present), else the bytes in `extra`.
///
/// # Errors
/// [`crate::Error::Invalid`] for a malformed file or a missing record; [`crate::Error::Failed`]
/// when a signature or the proof does not verify.
pub fn verify(
    text: &str,
    verifiers: &[crate::note::Verifier],
    record: Option<&[u8]>,
) -> Result<Report> {
    let file = ProofFile::parse(text)?;
    let checkpoint = match &file {
        ProofFile::Inclusion(p) => &p.checkpoint,
        ProofFile::Consistency(p) => &p.checkpoint,
    };
    let v = crate::checkpoint::open(checkpoint, verifiers)?;
    let head = v.checkpoint.head;
    let mut report = Report {
        kind: "inclusion",
        origin: v.checkpoint.origin.clone(),
        size: head.size,
        root: head.root,
        verified_by: v.verified_by.clone(),
        index: None,
        leaf_hash: None,
        old_size: None,
        old_root: None,
    };
    match &file {
        ProofFile::Inclusion(p) => {
            let bytes = match (record, &p.record) {
                (Some(given), Some(extra)) if given != extra.as_slice() => {
                    return Err(crate::Error::Failed(
                        "the record given is not the record in the proof file".into(),
                    ));
                }
                (Some(given), _) => given,
                (None, Some(extra)) => extra.as_slice(),
                (None, None) => {
                    return Err(invalid(
                        "the proof file holds no record: pass the record bytes",
                    ));
                }
            };
            let leaf = crate::hash::leaf_hash(bytes);
            crate::proof::verify_inclusion(p.index, head.size, &leaf, &p.path, &head.root)?;
            report.index = Some(p.index);
            report.leaf_hash = Some(leaf);
        }
        ProofFile::Consistency(p) => {
            verify_consistency_edge(p.old_size, head.size, &p.old_root, &head.root, &p.proof)?;
            report.kind = "consistency";
            report.old_size = Some(p.old_size);
            report.old_root = Some(p.old_root);
        }
    }
    Ok(report)
}

/// RFC 9162 consistency with the trust layer's edge rule: from the empty tree, the proof must
/// be empty and the old root must be the empty root (C2SP tlog-witness).
///
/// # Errors
/// [`crate::Error::Failed`] when the proof does not show consistency.
pub fn verify_consistency_edge(
    old_size: u64,
    size: u64,
    old_root: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    if old_size == 0 {
        if !proof.is_empty() || !old_root.ct_eq(&crate::hash::EMPTY_ROOT) {
            return Err(crate::Error::Failed(
                "from the empty tree the proof must be empty and the old root SHA-256(\"\")".into(),
            ));
        }
        return Ok(());
    }
    crate::proof::verify_consistency(old_size, size, old_root, root, proof)
}

impl crate::Ledger {
    /// The tlog-proof of record `index` against the stored checkpoint at `size` (default: the
    /// latest), carrying the record bytes in `extra`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when there is no checkpoint at `size` or `index >= size`.
    pub fn inclusion_file(&self, index: u64, size: Option<u64>) -> Result<ProofFile> {
        let (size, checkpoint) = self.checkpoint(size)?;
        let proof = self.prove_inclusion(index, Some(size))?;
        let entry = self.entry(index)?;
        Ok(ProofFile::Inclusion(InclusionFile {
            record: Some(entry.bytes),
            index,
            path: proof.path,
            checkpoint,
        }))
    }

    /// The consistency proof from size `old` to the stored checkpoint at `size` (default: the
    /// latest).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when there is no checkpoint at `size` or `old > size`.
    pub fn consistency_file(&self, old: u64, size: Option<u64>) -> Result<ProofFile> {
        let (size, checkpoint) = self.checkpoint(size)?;
        let proof = self.prove_consistency(old, Some(size))?;
        Ok(ProofFile::Consistency(ConsistencyFile {
            old_size: old,
            old_root: proof.first.root,
            proof: proof.proof,
            checkpoint,
        }))
    }
}
