//! Content digests: what records say about artifacts, reports and configs.
//!
//! A digest is an algorithm and 32 bytes. Its text form is `<algorithm>:<64 lower-case hex>`
//! (`blake3:…`, `sha256:…`, as OCI and in-toto name them); its record form is the algorithm
//! code (u8: 1 = BLAKE3, 2 = SHA-256) followed by the 32 bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, invalid};

/// A content-digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Blake3 = 1,
    Sha256 = 2,
}

impl Algorithm {
    /// The text prefix.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
        }
    }

    fn from_code(code: u8) -> Option<Algorithm> {
        match code {
            1 => Some(Algorithm::Blake3),
            2 => Some(Algorithm::Sha256),
            _ => None,
        }
    }
}

/// A content digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub algorithm: Algorithm,
    pub value: [u8; 32],
}

impl Digest {
    /// BLAKE3 of `data`.
    pub fn blake3(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Blake3,
            value: *blake3::hash(data).as_bytes(),
        }
    }

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            value: crate::hash::sha256(data).0,
        }
    }

    /// Parses `blake3:<hex>` or `sha256:<hex>`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming what is wrong with the text.
    pub fn parse(text: &str) -> Result<Digest> {
        let (name, hex_part) = text.split_once(':').ok_or_else(|| {
            invalid(format!(
                "digest '{}' has no algorithm prefix (expected blake3:<hex> or sha256:<hex>)",
                shorten(text)
            ))
        })?;
        let algorithm = match name {
            "blake3" => Algorithm::Blake3,
            "sha256" => Algorithm::Sha256,
            _ => {
                return Err(invalid(format!(
                    "digest algorithm '{}' is not blake3 or sha256",
                    shorten(name)
                )));
            }
        };
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid(format!(
                "digest '{}' must have 64 lower-case hex digits",
                shorten(text)
            )));
        }
        let mut value = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut value)
            .map_err(|e| invalid(format!("digest '{}': {e}", shorten(text))))?;
        Ok(Digest { algorithm, value })
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text.to_string()
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}",
            self.algorithm.name(),
            crate::hash::hex32(&self.value)
        )
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            (self.algorithm as u8, self.value).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        use serde::de::Error as _;
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            Digest::parse(&text).map_err(D::Error::custom)
        } else {
            let (code, value) = <(u8, [u8; 32])>::deserialize(d)?;
            let algorithm = Algorithm::from_code(code)
                .ok_or_else(|| D::Error::custom(format!("unknown digest algorithm code {code}")))?;
            Ok(Digest { algorithm, value })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_is_strict() {
        // BLAKE3("abc") from the BLAKE3 reference test vectors.
        let d = Digest::blake3(b"abc");
        assert_eq!(
            d.to_string(),
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert!(Digest::parse("md5:00").is_err());
        assert!(Digest::parse(&d.to_string().to_uppercase()).is_err());
        assert!(Digest::parse(&d.to_string()[..70]).is_err());
        assert!(Digest::parse("6437b3ac").is_err());
    }
}
