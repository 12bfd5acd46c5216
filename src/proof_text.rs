//! The text form of printed proofs (ledger-format.md §7): what `prove` prints and
//! `verify-proof` reads. Line-based, strict, hashes in lower-case hex, path leaf to root.
//!
//! ```text
//! provledger/inclusion-proof/v1        provledger/consistency-proof/v1
//! index <i>                            first <m>
//! size <n>                             second <n>
//! leaf <hex>                           first-root <hex>
//! root <hex>                           second-root <hex>
//! <hex>                                <hex>
//! ...                                  ...
//! ```

use crate::error::{Result, invalid};
use crate::hash::Hash;
use crate::ledger::{ConsistencyProof, InclusionProof};
use crate::proof::MAX_PROOF_LEN;
use crate::record::TreeHead;

/// First line of an inclusion proof.
pub const INCLUSION_HEADER: &str = "provledger/inclusion-proof/v1";
/// First line of a consistency proof.
pub const CONSISTENCY_HEADER: &str = "provledger/consistency-proof/v1";

/// A parsed proof of either kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ProofText {
    Inclusion(InclusionProof),
    Consistency(ConsistencyProof),
}

fn push_hashes(out: &mut String, hashes: &[Hash]) {
    for h in hashes {
        out.push_str(&h.to_hex());
        out.push('\n');
    }
}

/// The text form of an inclusion proof.
pub fn format_inclusion(p: &InclusionProof) -> String {
    let mut out = format!(
        "{INCLUSION_HEADER}\nindex {}\nsize {}\nleaf {}\nroot {}\n",
        p.index, p.size, p.leaf_hash, p.root
    );
    push_hashes(&mut out, &p.path);
    out
}

/// The text form of a consistency proof.
pub fn format_consistency(p: &ConsistencyProof) -> String {
    let mut out = format!(
        "{CONSISTENCY_HEADER}\nfirst {}\nsecond {}\nfirst-root {}\nsecond-root {}\n",
        p.first.size, p.second.size, p.first.root, p.second.root
    );
    push_hashes(&mut out, &p.proof);
    out
}

struct Lines<'a> {
    lines: std::iter::Enumerate<std::str::Split<'a, char>>,
}

impl<'a> Lines<'a> {
    fn field(&mut self, name: &str) -> Result<(usize, &'a str)> {
        let (n, line) = self
            .lines
            .next()
            .ok_or_else(|| invalid(format!("proof ends before the '{name}' line")))?;
        let value = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| invalid(format!("line {}: expected '{name} …'", n + 1)))?;
        Ok((n + 1, value))
    }

    fn number(&mut self, name: &str) -> Result<u64> {
        let (n, text) = self.field(name)?;
        parse_decimal(text).ok_or_else(|| {
            invalid(format!(
                "line {n}: '{name}' must be a decimal number without leading zeros"
            ))
        })
    }

    fn hash(&mut self, name: &str) -> Result<Hash> {
        let (n, text) = self.field(name)?;
        parse_hex(n, text)
    }

    fn path(&mut self) -> Result<Vec<Hash>> {
        let mut path = Vec::new();
        for (n, line) in self.lines.by_ref() {
            if line.is_empty() {
                return Err(invalid(format!("line {}: empty line in the proof", n + 1)));
            }
            path.push(parse_hex(n + 1, line)?);
            if path.len() > MAX_PROOF_LEN {
                return Err(invalid(format!("more than {MAX_PROOF_LEN} proof hashes")));
            }
        }
        Ok(path)
    }
}

/// Parses an unsigned decimal that re-encodes identically (no sign, no leading zeros).
pub fn parse_decimal(text: &str) -> Option<u64> {
    let value: u64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

fn parse_hex(line: usize, text: &str) -> Result<Hash> {
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(format!(
            "line {line}: a hash is 64 lower-case hex digits"
        )));
    }
    Hash::from_hex(text).map_err(|e| invalid(format!("line {line}: {e}")))
}

/// Parses either text form strictly: exact header, fields in order, a final newline, nothing
/// else.
///
/// # Errors
/// [`crate::Error::Invalid`] naming the line that is wrong.
pub fn parse(text: &str) -> Result<ProofText> {
    let body = text
        .strip_suffix('\n')
        .ok_or_else(|| invalid("proof text must end with a newline"))?;
    let mut lines = Lines {
        lines: body.split('\n').enumerate(),
    };
    let header = lines.lines.next().map(|(_, l)| l).unwrap_or_default();
    if header == INCLUSION_HEADER {
        let index = lines.number("index")?;
        let size = lines.number("size")?;
        let leaf_hash = lines.hash("leaf")?;
        let root = lines.hash("root")?;
        let path = lines.path()?;
        Ok(ProofText::Inclusion(InclusionProof {
            index,
            size,
            leaf_hash,
            root,
            path,
        }))
    } else if header == CONSISTENCY_HEADER {
        let first = lines.number("first")?;
        let second = lines.number("second")?;
        let first_root = lines.hash("first-root")?;
        let second_root = lines.hash("second-root")?;
        let proof = lines.path()?;
        Ok(ProofText::Consistency(ConsistencyProof {
            first: TreeHead {
                size: first,
                root: first_root,
            },
            second: TreeHead {
                size: second,
                root: second_root,
            },
            proof,
        }))
    } else {
        Err(invalid(format!(
            "line 1: not a provledger proof (expected '{INCLUSION_HEADER}' or '{CONSISTENCY_HEADER}')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    fn sample() -> InclusionProof {
        InclusionProof {
            index: 3,
            size: 7,
            leaf_hash: sha256(b"leaf"),
            root: sha256(b"root"),
            path: vec![sha256(b"a"), sha256(b"b")],
        }
    }

    #[test]
    fn inclusion_text_round_trips() {
        let p = sample();
        assert_eq!(
            parse(&format_inclusion(&p)).unwrap(),
            ProofText::Inclusion(p)
        );
    }

    #[test]
    fn consistency_text_round_trips() {
        let p = ConsistencyProof {
            first: TreeHead {
                size: 3,
                root: sha256(b"1"),
            },
            second: TreeHead {
                size: 7,
                root: sha256(b"2"),
            },
            proof: vec![sha256(b"c")],
        };
        assert_eq!(
            parse(&format_consistency(&p)).unwrap(),
            ProofText::Consistency(p)
        );
    }

    #[test]
    fn malformed_texts_are_refused() {
        let good = format_inclusion(&sample());
        let bad = [
            good.trim_end().to_string(),
            good.replace("index 3", "index 03"),
            good.replace("index 3", "index +3"),
            good.replace("size 7", "size  7"),
            good.replacen(
                &sample().path[0].to_hex(),
                &sample().path[0].to_hex()[..62],
                1,
            ),
            good.replacen(
                &sample().path[0].to_hex(),
                &sample().path[0].to_hex().to_uppercase(),
                1,
            ),
            format!("{good}\n"),
            good.replace(INCLUSION_HEADER, "provledger/inclusion-proof/v2"),
        ];
        for text in bad {
            assert!(parse(&text).is_err(), "accepted: {text:?}");
        }
    }
}
