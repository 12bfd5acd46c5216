//! The stored-hash tree and proofs against an RFC 9162 reference model, exhaustively for small
//! sizes, plus the RFC's 7-leaf example and a second oracle (rs_merkle).

mod common;

use std::collections::HashMap;

use common::{Reference, leaves};
use provledger::compact_range::CompactRange;
use provledger::hash::{Hash, node_hash};
use provledger::proof::{prove_consistency, prove_inclusion, verify_consistency, verify_inclusion};
use provledger::tree::{self, HashReader};

/// Stored nodes kept in a map, filled exactly as an append fills the store.
#[derive(Default)]
struct MemNodes(HashMap<(u8, u64), Hash>);

impl HashReader for MemNodes {
    fn node(&mut self, level: u8, index: u64) -> provledger::Result<Hash> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or_else(|| provledger::Error::Corrupt(format!("missing ({level}, {index})")))
    }
}

fn build(leaves: &[Hash]) -> MemNodes {
    let mut nodes = MemNodes::default();
    let mut range = CompactRange::new();
    for leaf in leaves {
        for (level, index, hash) in range.append(*leaf) {
            assert!(
                nodes.0.insert((level, index), hash).is_none(),
                "({level}, {index}) twice"
            );
        }
    }
    nodes
}

#[test]
fn the_compact_range_root_and_reload_match_the_reference_at_every_size() {
    let all = leaves(300);
    let mut reference = Reference::new(all.clone());
    let mut range = CompactRange::new();
    let mut nodes = build(&all);
    assert_eq!(range.root(), reference.mth(0, 0));
    for (i, leaf) in all.iter().enumerate() {
        range.append(*leaf);
        assert_eq!(range.root(), reference.mth(0, i + 1), "size {}", i + 1);
        assert_eq!(CompactRange::load(&mut nodes, i as u64 + 1).unwrap(), range);
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

#[test]
fn stored_hashes_average_just_under_two_per_leaf() {
    let nodes = build(&leaves(1024));
    assert_eq!(nodes.0.len(), 2047);
}

#[test]
fn every_root_and_inclusion_proof_up_to_128_matches_the_reference() {
    let all = leaves(128);
    let mut nodes = build(&all);
    let mut reference = Reference::new(all.clone());
    for n in 1..=128usize {
        let root = tree::root(&mut nodes, n as u64).unwrap();
        assert_eq!(root, reference.mth(0, n), "root of size {n}");
        for (m, leaf) in all.iter().enumerate().take(n) {
            let path = prove_inclusion(&mut nodes, m as u64, n as u64).unwrap();
            assert_eq!(path, reference.path(m, 0, n), "path of {m} in {n}");
            verify_inclusion(m as u64, n as u64, leaf, &path, &root).unwrap();
        }
    }
}

#[test]
fn every_consistency_proof_up_to_128_matches_the_reference() {
    let all = leaves(128);
    let mut nodes = build(&all);
    let mut reference = Reference::new(all);
    for n in 1..=128usize {
        let second = reference.mth(0, n);
        for m in 1..=n {
            let proof = prove_consistency(&mut nodes, m as u64, n as u64).unwrap();
            assert_eq!(proof, reference.proof(m, n), "proof {m} -> {n}");
            let first = reference.mth(0, m);
            verify_consistency(m as u64, n as u64, &first, &second, &proof).unwrap();
        }
    }
}

#[test]
fn any_flipped_bit_or_wrong_position_fails_inclusion() {
    let all = leaves(60);
    let mut nodes = build(&all);
    let mut reference = Reference::new(all.clone());
    for n in [1u64, 2, 3, 7, 8, 13, 32, 40] {
        let root = tree::root(&mut nodes, n).unwrap();
        for m in 0..n {
            let path = prove_inclusion(&mut nodes, m, n).unwrap();
            let leaf = all[m as usize];
            for i in 0..path.len() {
                for bit in [0, 77, 255] {
                    let mut bad = path.clone();
                    bad[i] = flip(&bad[i], bit);
                    assert!(verify_inclusion(m, n, &leaf, &bad, &root).is_err());
                }
            }
            assert!(verify_inclusion(m, n, &flip(&leaf, 3), &path, &root).is_err());
            assert!(verify_inclusion(m, n, &leaf, &path, &flip(&root, 200)).is_err());
            // A path does not bind the size where two sizes give the same shape (the signed
            // checkpoint does); every size with a different path length must fail.
            for other_size in (m + 1)..(n + 20) {
                let shape = reference.path(m as usize, 0, other_size as usize).len();
                if other_size != n && shape != path.len() {
                    assert!(verify_inclusion(m, other_size, &leaf, &path, &root).is_err());
                }
            }
            for other in (0..n).filter(|&o| o != m) {
                assert!(verify_inclusion(other, n, &leaf, &path, &root).is_err());
            }
            assert!(verify_inclusion(n, n, &leaf, &path, &root).is_err());
            let mut longer = path.clone();
            longer.push(root);
            assert!(verify_inclusion(m, n, &leaf, &longer, &root).is_err());
            if !path.is_empty() {
                assert!(verify_inclusion(m, n, &leaf, &path[..path.len() - 1], &root).is_err());
            }
        }
    }
}

#[test]
fn any_flipped_bit_or_wrong_size_fails_consistency() {
    let all = leaves(60);
    let mut nodes = build(&all);
    let mut reference = Reference::new(all.clone());
    for n in [2u64, 3, 7, 8, 13, 32, 40] {
        let second = tree::root(&mut nodes, n).unwrap();
        for m in 1..n {
            let first = tree::root(&mut nodes, m).unwrap();
            let proof = prove_consistency(&mut nodes, m, n).unwrap();
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], 9);
                assert!(verify_consistency(m, n, &first, &second, &bad).is_err());
            }
            assert!(verify_consistency(m, n, &flip(&first, 1), &second, &proof).is_err());
            assert!(verify_consistency(m, n, &first, &flip(&second, 1), &proof).is_err());
            for other in (m + 1)..(n + 20) {
                if other != n && reference.proof(m as usize, other as usize).len() != proof.len() {
                    assert!(verify_consistency(m, other, &first, &second, &proof).is_err());
                }
            }
            for other in (1..n).filter(|&o| o != m) {
                if reference.proof(other as usize, n as usize).len() != proof.len() {
                    assert!(verify_consistency(other, n, &first, &second, &proof).is_err());
                }
            }
            assert!(verify_consistency(0, n, &first, &second, &proof).is_err());
            assert!(verify_consistency(n, m, &second, &first, &proof).is_err());
        }
    }
}

#[test]
fn equal_sizes_need_an_empty_proof_and_equal_roots() {
    let all = leaves(5);
    let mut nodes = build(&all);
    let root = tree::root(&mut nodes, 5).unwrap();
    verify_consistency(5, 5, &root, &root, &[]).unwrap();
    assert!(verify_consistency(5, 5, &root, &flip(&root, 0), &[]).is_err());
    assert!(verify_consistency(5, 5, &root, &root, &[root]).is_err());
    assert!(prove_consistency(&mut nodes, 5, 5).unwrap().is_empty());
    assert!(prove_consistency(&mut nodes, 6, 5).is_err());
    assert!(prove_inclusion(&mut nodes, 5, 5).is_err());
    assert_eq!(
        tree::root(&mut nodes, 0).unwrap(),
        provledger::hash::EMPTY_ROOT
    );
}

/// The RFC 9162 §2.1.5 example tree of seven leaves d0..d6: hashes named a..l as in the RFC.
#[test]
fn rfc_seven_leaf_example_has_the_published_shapes() {
    let d = leaves(7);
    let mut nodes = build(&d);
    let (a, b, c, dd, e, f, j) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
    let g = node_hash(&a, &b);
    let h = node_hash(&c, &dd);
    let i = node_hash(&e, &f);
    let k = node_hash(&g, &h);
    let l = node_hash(&i, &j);
    // The RFC letters j and d clash with our names: its j is leaf d6, its l is node(i, j).
    let path = |nodes: &mut MemNodes, m| prove_inclusion(nodes, m, 7).unwrap();
    assert_eq!(path(&mut nodes, 0), vec![b, h, l]);
    assert_eq!(path(&mut nodes, 3), vec![c, g, l]);
    assert_eq!(path(&mut nodes, 4), vec![f, j, k]);
    assert_eq!(path(&mut nodes, 6), vec![i, k]);
    let proof = |nodes: &mut MemNodes, m| prove_consistency(nodes, m, 7).unwrap();
    assert_eq!(proof(&mut nodes, 3), vec![c, dd, g, l]);
    assert_eq!(proof(&mut nodes, 4), vec![l]);
    assert_eq!(proof(&mut nodes, 6), vec![i, j, k]);
}

#[derive(Clone)]
struct Rfc9162;

impl rs_merkle::Hasher for Rfc9162 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        provledger::hash::sha256(data).0
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => node_hash(&Hash(*left), &Hash(*r)).0,
            None => *left,
        }
    }
}

#[test]
fn roots_and_single_leaf_proofs_match_rs_merkle() {
    let all = leaves(300);
    let mut nodes = build(&all);
    let raw: Vec<[u8; 32]> = all.iter().map(|h| h.0).collect();
    for n in 1..=300usize {
        let oracle = rs_merkle::MerkleTree::<Rfc9162>::from_leaves(&raw[..n]);
        let root = tree::root(&mut nodes, n as u64).unwrap();
        assert_eq!(root.0, oracle.root().unwrap(), "root of size {n}");
        for m in [0, n / 2, n - 1] {
            let ours: Vec<[u8; 32]> = prove_inclusion(&mut nodes, m as u64, n as u64)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect();
            assert_eq!(
                ours,
                oracle.proof(&[m]).proof_hashes(),
                "proof of {m} in {n}"
            );
        }
    }
}
