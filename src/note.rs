//! C2SP signed notes with Ed25519 (SPEC-NOTES §8; golang.org/x/mod/sumdb/note): keys, key IDs,
//! verifier-key and private-key texts, signing and strict opening.
//!
//! A note is `text` (one or more lines, each ending in `\n`), one blank line, then signature
//! lines `— <name> <base64(keyid || signature)>\n`. The signed message is exactly `text`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::{Error, Result, invalid};
use crate::hash::sha256;

/// The signature-type byte of Ed25519 in key IDs and encoded keys.
pub const ALG_ED25519: u8 = 0x01;
/// The em dash (U+2014) and space that open every signature line.
pub const SIG_PREFIX: &str = "\u{2014} ";
/// More signature lines than this reject the note (sumdb's limit).
pub const MAX_SIGNATURES: usize = 100;

/// `uint32_be(SHA-256(name || 0x0A || alg || pub)[0..4])`.
pub fn key_id(name: &str, alg: u8, public: &[u8]) -> u32 {
    let mut input = name.as_bytes().to_vec();
    input.push(b'\n');
    input.push(alg);
    input.extend_from_slice(public);
    let h = sha256(&input).0;
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Checks a key name: non-empty, no Unicode white space, no `+`.
///
/// # Errors
/// [`Error::Invalid`] naming the rule.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(format!(
            "key name '{name}' must be non-empty, without spaces, control characters or '+'"
        )));
    }
    Ok(())
}

/// A key that signs notes.
#[derive(Clone)]
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

/// A key that verifies notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// A new key from the operating system's random source.
    ///
    /// # Errors
    /// [`Error::Io`] when no randomness is available; [`Error::Invalid`] for a bad name.
    pub fn generate(name: &str) -> Result<Signer> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Io(format!("no random source: {e}")))?;
        Signer::from_seed(name, seed)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The Go/C2SP private-key text `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 || seed)>`.
    /// Callers write it only to a file of mode 0600 and never print it.
    pub fn to_private_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(bytes)
        )
    }

    /// Parses the private-key text (surrounding white space ignored).
    ///
    /// # Errors
    /// [`Error::Invalid`] that never repeats the key material.
    pub fn from_private_text(text: &str) -> Result<Signer> {
        let bad = |why: &str| invalid(format!("not a private key text: {why}"));
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("missing PRIVATE+KEY+ prefix"))?;
        let (name, id, bytes) =
            split_key_text(rest).ok_or_else(|| bad("expected name+hex8+base64"))?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, seed)) => seed
                .try_into()
                .map_err(|_| bad("the seed is not 32 bytes"))?,
            _ => return Err(bad("not an Ed25519 key")),
        };
        let signer = Signer::from_seed(name, seed)?;
        if signer.id != id {
            return Err(bad("the key ID does not match the key"));
        }
        Ok(signer)
    }

    /// A plain Ed25519 signature over `message` (for statements that are not notes).
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The signature line of `text` (which must end with `\n`).
    fn sign_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut bytes = self.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig.to_bytes());
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(bytes))
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        write!(f, "Signer({}+{:08x})", self.name, self.id)
    }
}

/// Splits `name+hex8+base64` into its parts (names have no `+`; base64 may).
fn split_key_text(text: &str) -> Option<(&str, u32, Vec<u8>)> {
    let mut parts = text.splitn(3, '+');
    let (name, id, b64) = (parts.next()?, parts.next()?, parts.next()?);
    if id.len() != 8
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let id = u32::from_str_radix(id, 16).ok()?;
    Some((name, id, B64.decode(b64).ok()?))
}

impl Verifier {
    /// Parses a verifier key `<name>+<hex8 id>+<base64(0x01 || pub)>` (white space around it
    /// ignored).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Verifier> {
        let text = text.trim();
        let bad = |why: &str| invalid(format!("verifier key '{text}': {why}"));
        let (name, id, bytes) =
            split_key_text(text).ok_or_else(|| bad("expected name+hex8+base64"))?;
        check_name(name)?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, public)) => public
                .try_into()
                .map_err(|_| bad("the key is not 32 bytes"))?,
            _ => return Err(bad("not an Ed25519 key")),
        };
        if key_id(name, ALG_ED25519, &public) != id {
            return Err(bad("the key ID does not match the key"));
        }
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 point"))?;
        Ok(Verifier {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// The verifier-key text.
    pub fn to_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Checks an Ed25519 signature over `message` with `verify_strict`.
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// Signs `text` with every signer: the note, ready to store or print.
///
/// # Errors
/// [`Error::Invalid`] when `text` is not a valid note text (empty, no final newline, a blank
/// line at its end, or control characters).
pub fn sign(text: &str, signers: &[&Signer]) -> Result<String> {
    check_text(text)?;
    let mut note = format!("{text}\n");
    for s in signers {
        note.push_str(&s.sign_line(text));
    }
    Ok(note)
}

fn check_text(text: &str) -> Result<()> {
    if text.is_empty() || !text.ends_with('\n') || text.ends_with("\n\n") {
        return Err(invalid(
            "note text must be non-empty lines, each ending with a newline",
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("note text must not contain control characters"));
    }
    Ok(())
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The signed text, with its final newline.
    pub text: String,
    /// `name+hex8` of each known key whose signature verified.
    pub verified_by: Vec<String>,
}

/// One parsed signature line: key name, key ID, Ed25519 signature bytes.
pub type SignatureLine<'a> = (&'a str, u32, [u8; 64]);

/// Splits a note into its text and its signature lines, strictly.
///
/// # Errors
/// [`Error::Invalid`] naming what is malformed.
pub fn split(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>)> {
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("note contains control characters"));
    }
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| invalid("note has no blank line before its signatures"))?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(invalid(
            "note signatures must be lines ending with a newline",
        ));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(invalid(format!(
            "note has more than {MAX_SIGNATURES} signatures"
        )));
    }
    let mut parsed = Vec::new();
    for line in lines {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| invalid("a signature line must start with '— '"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| invalid("a signature line needs a name and a signature"))?;
        check_name(name)?;
        let bytes = B64
            .decode(b64)
            .map_err(|_| invalid(format!("signature of '{name}' is not base64")))?;
        if bytes.len() < 4 {
            return Err(invalid(format!("signature of '{name}' is too short")));
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        // Only Ed25519 signatures (4 + 64 bytes) are checked; other types are kept opaque and
        // never verify (an unknown key is ignored anyway).
        let sig: [u8; 64] = bytes[4..].try_into().unwrap_or([0; 64]);
        parsed.push((name, id, sig));
    }
    Ok((text, parsed))
}

/// Opens a note: verifies the signatures of the known keys.
///
/// Unknown keys are ignored; a known key whose signature does not verify rejects the whole
/// note; at least one known key must have signed.
///
/// # Errors
/// [`Error::Invalid`] for a malformed note; [`Error::Failed`] for a bad or missing signature.
pub fn open(note: &str, verifiers: &[Verifier]) -> Result<Opened> {
    let (text, sigs) = split(note)?;
    let mut verified_by: Vec<String> = Vec::new();
    for (name, id, sig) in sigs {
        let Some(v) = verifiers.iter().find(|v| v.name == name && v.id == id) else {
            continue;
        };
        let label = format!("{name}+{id:08x}");
        if !v.verifies(text.as_bytes(), &sig) {
            return Err(Error::Failed(format!(
                "signature by {label} does not verify"
            )));
        }
        if !verified_by.contains(&label) {
            verified_by.push(label);
        }
    }
    if verified_by.is_empty() {
        let known: Vec<String> = verifiers
            .iter()
            .map(|v| format!("{}+{:08x}", v.name, v.id))
            .collect();
        return Err(Error::Failed(format!(
            "no signature by a trusted key ({})",
            known.join(", ")
        )));
    }
    Ok(Opened {
        text: text.to_string(),
        verified_by,
    })
}
