//! RFC 9162 §2.1.1 hashing: the one tree hash (SHA-256) with its domain-separation prefixes.
//!
//! Invariant: a [`Hash`] is always exactly 32 bytes; textual forms (hex, base64) are parsed
//! strictly into one, so a 31- or 33-byte "hash" is an error where it enters, never a mismatch.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of a leaf hash input: `leaf_hash(e) = SHA-256(0x00 || e)`.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node hash input: `node_hash(l, r) = SHA-256(0x01 || l || r)`.
pub const NODE_PREFIX: u8 = 0x01;

/// A 32-byte SHA-256 output: a leaf, node or root hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// `SHA-256("")`, the root of the empty tree (RFC 9162). Go's sumdb/tlog uses 32 zero bytes
/// instead; provledger follows the RFC.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex32(&self.0)
    }

    /// Parses exactly 64 hex digits (either case).
    ///
    /// # Errors
    /// A message naming what was wrong with the text.
    pub fn from_hex(text: &str) -> Result<Hash, String> {
        let bytes = hex::decode(text).map_err(|e| format!("not a hex hash ({e})"))?;
        Hash::from_slice(&bytes)
    }

    /// Parses standard padded base64 of exactly 32 bytes (the form of checkpoints, proof
    /// files, bundles and exports); `None` for anything else.
    pub fn from_base64(text: &str) -> Option<Hash> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?;
        Hash::from_slice(&bytes).ok()
    }

    /// Takes exactly 32 bytes.
    ///
    /// # Errors
    /// When the slice is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, String> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("a hash is 32 bytes, got {}", bytes.len()))?;
        Ok(Hash(array))
    }

    /// Constant-time equality, for every comparison that decides a verification.
    pub fn ct_eq(&self, other: &Hash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

/// JSON and other human-readable formats carry a hash as hex; the record encoding carries the
/// 32 raw bytes.
impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            Hash::from_hex(&text).map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(d).map(Hash)
        }
    }
}

/// Lower-case hex of 32 bytes, through a stack buffer (`hex::encode` builds its string one
/// `char` at a time, which showed in export profiles).
pub fn hex32(bytes: &[u8; 32]) -> String {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(bytes, &mut buf).expect("64 bytes hold 32 in hex");
    String::from_utf8(buf.to_vec()).expect("hex is ASCII")
}

/// Plain SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    if data.len() < 120 {
        return sha256_short(&[data]);
    }
    Hash(Sha256::digest(data).into())
}

/// `SHA-256(0x00 || entry)`: the leaf hash of the raw entry (record) bytes.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of the concatenation of `parts` (at most 119 bytes: two blocks), padded here
/// (FIPS 180-4 §5.1.1) for SHA-256's compression function. The chain hashes about ten nodes
/// per record and the index a digest or two: the streaming hasher's buffering cost a third of
/// each.
fn sha256_short(parts: &[&[u8]]) -> Hash {
    let mut message = [0u8; 128];
    let mut len = 0;
    for part in parts {
        message[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    message[len] = 0x80;
    let used = if len < 56 { 1 } else { 2 };
    message[used * 64 - 8..used * 64].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    let blocks: [[u8; 64]; 2] = [
        message[..64].try_into().expect("64 bytes"),
        message[64..].try_into().expect("64 bytes"),
    ];
    let mut state = SHA256_H0;
    sha2::block_api::compress256(&mut state, &blocks[..used]);
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    Hash(out)
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_short(&[&[NODE_PREFIX], &left.0, &right.0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_hash_as_the_streaming_hasher_does() {
        // Every length across the one- and two-block paddings (55/56 and 119/120 bytes).
        let data: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(31)).collect();
        for len in 0..200 {
            let expected = Hash(Sha256::digest(&data[..len]).into());
            assert!(sha256(&data[..len]) == expected, "length {len}");
        }
    }

    #[test]
    fn node_hash_equals_sha256_of_the_prefixed_pair() {
        // Against the streaming hasher over the concatenation, for varied inputs.
        let mut seed = [7u8; 32];
        for _ in 0..1000 {
            seed = Sha256::digest(seed).into();
            let left = Hash(seed);
            let right = Hash(Sha256::digest(seed).into());
            let mut message = vec![NODE_PREFIX];
            message.extend_from_slice(&left.0);
            message.extend_from_slice(&right.0);
            assert!(node_hash(&left, &right) == Hash(Sha256::digest(&message).into()));
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(sha256(b""), EMPTY_ROOT);
    }

    #[test]
    fn hex_round_trips_and_rejects_wrong_lengths() {
        let h = sha256(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex(&h.to_hex()[..62]).is_err());
        assert!(Hash::from_hex(&format!("{}00", h.to_hex())).is_err());
        assert!(Hash::from_hex("zz").is_err());
    }

    #[test]
    fn base64_takes_exactly_32_bytes() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let h = sha256(b"abc");
        assert_eq!(Hash::from_base64(&b64.encode(h.0)), Some(h));
        assert_eq!(Hash::from_base64(&b64.encode([1u8; 31])), None);
        assert_eq!(Hash::from_base64(&b64.encode([1u8; 33])), None);
        assert_eq!(Hash::from_base64("not base64!"), None);
    }
}
