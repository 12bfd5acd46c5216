//! Records: the one envelope every ledger entry has, the typed body of each kind, and their
//! canonical bytes (ledger-format.md §3–§4).
//!
//! Canonical bytes are bincode 2 `config::legacy()` (fixed-width little-endian integers, u64
//! length prefixes, u32 enum tags, u8 option and bool tags) over the structs below, in field
//! order. That is one encoding per value: decoding is strict (trailing bytes, unknown version
//! or kind, bad tags, invalid UTF-8, over-long lengths and non-finite numbers are errors) and
//! `encode(decode(b)) == b` for every accepted `b`. Golden vectors in `tests/golden.rs` freeze it.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result, invalid};
use crate::hash::Hash;

/// The record format version this code writes and reads: the envelope's first byte.
pub const FORMAT_VERSION: u8 = 1;
/// The largest record accepted, in bytes: a C2SP tlog-tiles entry bundle holds at most 65,535.
pub const MAX_RECORD_LEN: usize = 65_535;

/// A tree head: the tree of the first `size` records has root `root`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// A reference to another record: its index and its leaf hash, so the link is checkable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    pub index: u64,
    pub leaf_hash: Hash,
}

/// The envelope: what every record has, whatever its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`FORMAT_VERSION`].
    pub version: u8,
    /// When it was recorded, UTC microseconds since the Unix epoch; never less than the time
    /// of the record before it.
    pub time_us: i64,
    /// Who recorded it.
    pub actor: String,
    /// The tree head this record extends: record `i` names `(i, root(i))`.
    pub prev: TreeHead,
    /// The kind-specific part; its enum tag is the kind code.
    pub body: Body,
}

/// The body of a record; the variant order is the kind code (0..=7) and must never change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Body {
    Artifact(crate::kinds::Artifact),
    LaneResult(crate::kinds::LaneResult),
    Policy(crate::kinds::Policy),
    GateDecision(crate::kinds::GateDecision),
    FusedManifest(crate::kinds::FusedManifest),
    Promotion(crate::kinds::Promotion),
    Rollback(crate::kinds::Rollback),
    KeyEvent(crate::kinds::KeyEvent),
}

/// The record kinds, in kind-code order, with their command-line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Artifact,
    LaneResult,
    Policy,
    GateDecision,
    FusedManifest,
    Promotion,
    Rollback,
    KeyEvent,
}

impl Kind {
    /// Every kind, in kind-code order.
    pub const ALL: [Kind; 8] = [
        Kind::Artifact,
        Kind::LaneResult,
        Kind::Policy,
        Kind::GateDecision,
        Kind::FusedManifest,
        Kind::Promotion,
        Kind::Rollback,
        Kind::KeyEvent,
    ];

    /// The kind code: the body's enum tag in the record bytes.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Artifact => "artifact",
            Kind::LaneResult => "lane-result",
            Kind::Policy => "policy",
            Kind::GateDecision => "gate-decision",
            Kind::FusedManifest => "fused-manifest",
            Kind::Promotion => "promotion",
            Kind::Rollback => "rollback",
            Kind::KeyEvent => "key-event",
        }
    }

    /// Parses a kind name.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing the known kinds.
    pub fn parse(name: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                invalid(format!(
                    "unknown record kind '{name}' (known kinds: {})",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Artifact(_) => Kind::Artifact,
            Body::LaneResult(_) => Kind::LaneResult,
            Body::Policy(_) => Kind::Policy,
            Body::GateDecision(_) => Kind::GateDecision,
            Body::FusedManifest(_) => Kind::FusedManifest,
            Body::Promotion(_) => Kind::Promotion,
            Body::Rollback(_) => Kind::Rollback,
            Body::KeyEvent(_) => Kind::KeyEvent,
        }
    }

    /// Parses a body of `kind` from JSON text, rejecting unknown and duplicate fields, then
    /// validates it.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field or rule that failed.
    pub fn parse_json(kind: Kind, text: &str) -> Result<Body> {
        fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))
        }
        let body = match kind {
            Kind::Artifact => Body::Artifact(parse(text)?),
            Kind::LaneResult => Body::LaneResult(parse(text)?),
            Kind::Policy => Body::Policy(parse(text)?),
            Kind::GateDecision => Body::GateDecision(parse(text)?),
            Kind::FusedManifest => Body::FusedManifest(parse(text)?),
            Kind::Promotion => Body::Promotion(parse(text)?),
            Kind::Rollback => Body::Rollback(parse(text)?),
            Kind::KeyEvent => Body::KeyEvent(parse(text)?),
        };
        body.validate()?;
        Ok(body)
    }

    /// [`Body::parse_json`] of a JSON value built in code.
    ///
    /// # Errors
    /// As [`Body::parse_json`].
    pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Body> {
        Body::parse_json(kind, &value.to_string())
    }

    /// The body's JSON form (the same shape `from_json` takes).
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Body::Artifact(b) => serde_json::to_value(b),
            Body::LaneResult(b) => serde_json::to_value(b),
            Body::Policy(b) => serde_json::to_value(b),
            Body::GateDecision(b) => serde_json::to_value(b),
            Body::FusedManifest(b) => serde_json::to_value(b),
            Body::Promotion(b) => serde_json::to_value(b),
            Body::Rollback(b) => serde_json::to_value(b),
            Body::KeyEvent(b) => serde_json::to_value(b),
        };
        value.expect("record bodies always serialize to JSON")
    }

    /// The body's JSON form written straight to `s`, without building a `Value`.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    pub fn serialize_json<S: serde::Serializer>(
        &self,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Body::Artifact(b) => b.serialize(s),
            Body::LaneResult(b) => b.serialize(s),
            Body::Policy(b) => b.serialize(s),
            Body::GateDecision(b) => b.serialize(s),
            Body::FusedManifest(b) => b.serialize(s),
            Body::Promotion(b) => b.serialize(s),
            Body::Rollback(b) => b.serialize(s),
            Body::KeyEvent(b) => b.serialize(s),
        }
    }

    /// Checks the rules the types alone cannot: required text is non-empty, numbers finite.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        match self {
            Body::Artifact(b) => b.validate(),
            Body::LaneResult(b) => b.validate(),
            Body::Policy(b) => b.validate(),
            Body::GateDecision(b) => b.validate(),
            Body::FusedManifest(b) => b.validate(),
            Body::Promotion(b) => b.validate(),
            Body::Rollback(b) => b.validate(),
            Body::KeyEvent(b) => b.validate(),
        }
    }

    /// Every content digest this body names, for the digest index and `search --digest`.
    pub fn digests(&self) -> Vec<Digest> {
        match self {
            Body::Artifact(b) => b.digests(),
            Body::LaneResult(b) => b.digests(),
            Body::Policy(_) => Vec::new(),
            Body::GateDecision(b) => vec![b.candidate, b.policy],
            Body::FusedManifest(b) => b.digests(),
            Body::Promotion(_) | Body::Rollback(_) | Body::KeyEvent(_) => Vec::new(),
        }
    }

    /// The release id this body is about, for the release index.
    pub fn release_id(&self) -> Option<&str> {
        match self {
            Body::FusedManifest(b) => Some(&b.release_id),
            Body::Promotion(b) => Some(&b.release_id),
            Body::Rollback(b) => Some(&b.release_id),
            _ => None,
        }
    }

    /// The channel this body moves, for the channel index.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Body::Promotion(b) => Some(&b.channel),
            Body::Rollback(b) => Some(&b.channel),
            _ => None,
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::legacy().with_limit::<MAX_RECORD_LEN>()
}

/// The canonical bytes of a record: exactly what is stored and hashed into its leaf.
///
/// # Errors
/// [`Error::Invalid`] when the record is longer than [`MAX_RECORD_LEN`] bytes.
pub fn encode(record: &Record) -> Result<Vec<u8>> {
    let body = encode_body(&record.body)?;
    let mut out = Vec::with_capacity(envelope_len(&record.actor) + body.len());
    encode_with_body_into(
        record.version,
        record.time_us,
        &record.actor,
        &record.prev,
        &body,
        &mut out,
    )?;
    Ok(out)
}

/// The canonical bytes of a body: its kind code and its fields (ledger-format.md §3–§4), the
/// last part of its record's bytes. Appending encodes each body once, before the chain.
///
/// # Errors
/// [`Error::Invalid`] when the body alone is longer than [`MAX_RECORD_LEN`] bytes.
pub fn encode_body(body: &Body) -> Result<Vec<u8>> {
    // Sized for a typical body: growing from empty cost a third of the encoding.
    let mut out = Vec::with_capacity(512);
    bincode::serde::encode_into_std_write(body, &mut out, config())
        .map_err(|e| invalid(format!("record cannot be encoded: {e}")))?;
    Ok(out)
}

/// The length of the envelope before the body (§3): version, time, actor, prev.
pub fn envelope_len(actor: &str) -> usize {
    1 + 8 + 8 + actor.len() + 8 + 32
}

/// Appends to `out` the record bytes of an envelope and a body encoded by [`encode_body`]:
/// the envelope's fields in order (§3), then the body.
///
/// # Errors
/// [`Error::Invalid`] when the record is longer than [`MAX_RECORD_LEN`] bytes (nothing is
/// appended).
pub fn encode_with_body_into(
    version: u8,
    time_us: i64,
    actor: &str,
    prev: &TreeHead,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let len = envelope_len(actor) + body.len();
    if len > MAX_RECORD_LEN {
        return Err(invalid(format!(
            "record is {len} bytes, more than the {MAX_RECORD_LEN} allowed"
        )));
    }
    out.push(version);
    out.extend_from_slice(&time_us.to_le_bytes());
    out.extend_from_slice(&(actor.len() as u64).to_le_bytes());
    out.extend_from_slice(actor.as_bytes());
    out.extend_from_slice(&prev.size.to_le_bytes());
    out.extend_from_slice(&prev.root.0);
    out.extend_from_slice(body);
    Ok(())
}

/// Decodes canonical record bytes strictly.
///
/// # Errors
/// [`Error::Invalid`] naming the problem: empty input, unknown version, malformed or trailing
/// bytes, or a body that breaks its kind's rules.
pub fn decode(bytes: &[u8]) -> Result<Record> {
    match bytes.first() {
        None => return Err(invalid("record is empty")),
        Some(&FORMAT_VERSION) => {}
        Some(v) => return Err(invalid(format!("unknown record format version {v}"))),
    }
    if bytes.len() > MAX_RECORD_LEN {
        return Err(invalid(format!(
            "record is {} bytes, too long",
            bytes.len()
        )));
    }
    let (record, used): (Record, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| invalid(format!("malformed record: {e}")))?;
    if used != bytes.len() {
        return Err(invalid(format!(
            "record has {} trailing bytes",
            bytes.len() - used
        )));
    }
    record.body.validate()?;
    Ok(record)
}

/// Reads the time field of canonical record bytes without decoding the rest (bytes 1..9).
///
/// # Errors
/// [`Error::Corrupt`] when the bytes are too short to hold it.
pub fn peek_time(bytes: &[u8]) -> Result<i64> {
    let field: [u8; 8] = bytes
        .get(1..9)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Corrupt("record too short to hold a time".into()))?;
    Ok(i64::from_le_bytes(field))
}
