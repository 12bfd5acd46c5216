//! Shared test helpers: a naive RFC 9162 reference model (written from the RFC's recursive
//! definitions, independent of the crate's stored-hash code), small record builders, and the
//! real binary and the raw redb tables for the tamper tests.
#![allow(dead_code)]

use std::collections::HashMap;

use provledger::Body;
use provledger::hash::{Hash, leaf_hash, node_hash, sha256};
use provledger::kinds::{LaneResult, Outcome};

/// Largest power of two strictly below n, by counting (not by bit tricks).
pub fn ref_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The reference model: leaf hashes plus a memo of MTH over ranges.
pub struct Reference {
    pub leaves: Vec<Hash>,
    memo: HashMap<(usize, usize), Hash>,
}

impl Reference {
    pub fn new(leaves: Vec<Hash>) -> Reference {
        Reference {
            leaves,
            memo: HashMap::new(),
        }
    }

    /// MTH(D[lo:hi]) per RFC 9162 §2.1.1.
    pub fn mth(&mut self, lo: usize, hi: usize) -> Hash {
        let n = hi - lo;
        if n == 0 {
            return sha256(b"");
        }
        if n == 1 {
            return self.leaves[lo];
        }
        if let Some(h) = self.memo.get(&(lo, hi)) {
            return *h;
        }
        let k = ref_split(n);
        let h = node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi));
        self.memo.insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi]) per RFC 9162 §2.1.3.1.
    pub fn path(&mut self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = ref_split(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// PROOF(m, D[0:n]) per RFC 9162 §2.1.4.1.
    pub fn proof(&mut self, m: usize, n: usize) -> Vec<Hash> {
        self.subproof(m, 0, n, true)
    }

    fn subproof(&mut self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = ref_split(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

/// Leaf hashes of `n` distinct small entries.
pub fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// A small valid lane-result body, distinct per `i`.
pub fn lane_body(i: u64) -> Body {
    Body::LaneResult(LaneResult {
        lane: format!("lane-{i}"),
        commit: None,
        subjects: vec![],
        outcome: Outcome::Passed,
        tests: i,
        failures: 0,
        errors: 0,
        skipped: 0,
        duration_ms: 1,
        report_digest: None,
    })
}

// The tables and keys as ledger-format.md §6 defines them, for changing a ledger as an
// attacker with file access would.
pub const META: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("meta");
pub const LOG: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("log");
pub const TILES: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("tiles");
pub const INDEX: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("index");

/// `log` key of the checkpoint of tree size `size` (§6.2: position << 8 | 0x00).
pub fn checkpoint_key(size: u64) -> u64 {
    size << 8
}

/// `log` key of record `index` (§6.2: position << 8 | 0x01).
pub fn record_key(index: u64) -> u64 {
    index << 8 | 1
}

/// The ledger file below a directory holding `.provledger`.
pub const LEDGER_FILE: &str = ".provledger/ledger.redb";

/// What a run of the real binary printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real binary in `dir`, which finds its ledger there.
pub fn run(dir: &std::path::Path, args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .env_remove("PROVLEDGER_DIR")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Changes the ledger in `dir` through redb directly, in one committed write transaction.
pub fn with_db(dir: &std::path::Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(dir.join(LEDGER_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 §4), written here so that tests do not reuse the crate's codec.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | B64.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
