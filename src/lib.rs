//! provledger: a local-first, append-only, Merkle-chained audit ledger for ML model releases.
//!
//! Every record (artifact, lane result, policy, gate decision, fused manifest, promotion,
//! rollback, key event) is a leaf of an RFC 9162 Merkle tree (SHA-256) stored in one redb file,
//! and names the tree head it extends. `ledger-format.md` at the repository root is the
//! normative description of every byte that is hashed, stored or exported.
//!
//! Layout: [`hash`], [`tree`], [`proof`] and [`tile`] are pure RFC 9162 math; [`record`],
//! [`kinds`] and [`digest`] are the canonical record encoding; [`store`] is the only redb
//! user; [`ledger`] is the facade the CLI calls.
#![forbid(unsafe_code)]

pub mod append;
pub mod bundle;
pub mod checkpoint;
pub mod compact_range;
pub mod demo;
pub mod digest;
pub mod error;
pub mod examples;
pub mod export;
pub mod hash;
pub mod index;
pub mod intoto;
pub mod keys;
pub mod kinds;
pub mod ledger;
pub mod migrate;
pub mod note;
pub mod pipeline;
pub mod proof;
pub mod proof_file;
pub mod record;
pub mod store;
#[cfg(test)]
mod sync_points;
pub mod tile;
pub mod tree;
pub mod trust;
pub mod verify;

pub use digest::Digest;
pub use error::{Error, Result};
pub use hash::Hash;
pub use ledger::{Appended, Entry, Filter, Ledger};
pub use record::{Body, Kind, Record, TreeHead};
