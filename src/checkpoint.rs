//! C2SP tlog-checkpoint texts (SPEC-NOTES §9): `origin`, tree size, base64 root, optional
//! extension lines, each ending in `\n`. Signed as notes (crate::note).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Result, invalid};
use crate::hash::Hash;
use crate::record::TreeHead;

/// A checkpoint body: the log's origin and a tree head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub head: TreeHead,
    /// Extension lines (without their newline); provledger writes none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint text: the exact bytes that are signed.
    pub fn format(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.head.size,
            B64.encode(self.head.root.0)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint text strictly: at least three lines, each ending in `\n`; a size in
    /// canonical decimal; a root that is base64 of exactly 32 bytes; non-empty extension lines.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming the line.
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| invalid("checkpoint text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(invalid("checkpoint line 1: the origin is empty"));
        }
        let size = lines
            .next()
            .and_then(crate::proof_file::parse_decimal)
            .ok_or_else(|| {
                invalid("checkpoint line 2: the tree size must be decimal without sign or leading zeros")
            })?;
        let root_text = lines
            .next()
            .ok_or_else(|| invalid("checkpoint line 3: the root hash is missing"))?;
        let root = Hash::from_base64(root_text)
            .ok_or_else(|| invalid("checkpoint line 3: the root must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(invalid("checkpoint extension lines must not be empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            head: TreeHead { size, root },
            extensions,
        })
    }
}

/// A checkpoint note whose signature and origin were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub checkpoint: Checkpoint,
    /// `name+hex8` of the keys whose signatures verified.
    pub verified_by: Vec<String>,
    /// The note, verbatim.
    pub note: String,
}

/// Opens a signed checkpoint: a trusted key must have signed it and its origin must be that
/// key's name (the log's key name is its origin).
///
/// # Errors
/// [`crate::Error::Invalid`] for a malformed note or text; [`crate::Error::Failed`] for a
/// bad or missing signature or a foreign origin.
pub fn open(note: &str, verifiers: &[crate::note::Verifier]) -> Result<Verified> {
    let opened = crate::note::open(note, verifiers)?;
    let checkpoint = Checkpoint::parse(&opened.text)?;
    let signed_by_origin = verifiers.iter().any(|v| {
        v.name() == checkpoint.origin
            && opened
                .verified_by
                .contains(&format!("{}+{:08x}", v.name(), v.id()))
    });
    if !signed_by_origin {
        return Err(crate::Error::Failed(format!(
            "the checkpoint's origin '{}' is not the name of a key that signed it",
            checkpoint.origin
        )));
    }
    Ok(Verified {
        checkpoint,
        verified_by: opened.verified_by,
        note: note.to_string(),
    })
}
