//! Appending: the one write path. Every batch is checked before anything is written, then
//! encoded, hashed and chained record by record (record `i` names `(i, root(i))`, times never
//! decrease) and committed with its tree nodes, index rows and signed checkpoint in one
//! durable transaction.

use crate::checkpoint::Checkpoint;
use crate::compact_range::CompactRange;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::index;
use crate::ledger::{Appended, Ledger, now_us};
use crate::note::{self, Signer};
use crate::record::{self, Body, FORMAT_VERSION, Record, TreeHead};
use crate::store::Batch;

/// The sequential part of appending: each record names the head before it.
struct Chain {
    range: CompactRange,
    root: Hash,
    time_us: i64,
}

/// One record ready to store.
struct Prepared {
    bytes: Vec<u8>,
    nodes: Vec<(u8, u64, Hash)>,
    rows: Vec<index::Key>,
    appended: Appended,
}

impl Chain {
    fn next(&mut self, actor: String, body: Body) -> Result<Prepared> {
        let index = self.range.size();
        let record = Record {
            version: FORMAT_VERSION,
            time_us: self.time_us,
            actor,
            prev: TreeHead {
                size: index,
                root: self.root,
            },
            body,
        };
        let bytes = record::encode(&record)?;
        let leaf_hash = leaf_hash(&bytes);
        let nodes = self.range.append(leaf_hash);
        self.root = self.range.root();
        Ok(Prepared {
            bytes,
            nodes,
            rows: index::rows(index, &record.body),
            appended: Appended {
                index,
                leaf_hash,
                head: TreeHead {
                    size: index + 1,
                    root: self.root,
                },
            },
        })
    }
}

/// What a batch has written so far.
#[derive(Default)]
struct Written {
    appended: Vec<Appended>,
    index_rows: Vec<index::Key>,
}

impl Written {
    fn store(&mut self, batch: &mut Batch, p: Prepared) -> Result<()> {
        for (level, i, hash) in p.nodes {
            batch.put_node(level, i, hash)?;
        }
        batch.put_record(p.appended.index, &p.bytes)?;
        self.index_rows.extend(p.rows);
        self.appended.push(p.appended);
        Ok(())
    }
}

/// The checkpoint note of `head`, signed by `signers`.
///
/// # Errors
/// [`Error::Invalid`] for an origin that cannot be a note line.
pub fn sign_checkpoint(origin: &str, head: TreeHead, signers: &[&Signer]) -> Result<String> {
    let text = Checkpoint {
        origin: origin.to_string(),
        head,
        extensions: Vec::new(),
    }
    .format();
    note::sign(&text, signers)
}

impl Ledger {
    /// Appends one record.
    ///
    /// # Errors
    /// As [`Ledger::append_batch`].
    pub fn append(&self, actor: &str, body: Body) -> Result<Appended> {
        let mut out = self.append_batch(vec![(actor.to_string(), body)])?;
        Ok(out.pop().expect("one record in, one out"))
    }

    /// Appends records in one durable commit, all or none. (Hashing on a second thread while
    /// this one writes was measured slower: the chain is sequential and hand-offs cost more
    /// than they save.)
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty actor, an invalid body or an over-long record (nothing is
    /// written); storage errors.
    pub fn append_batch(&self, items: Vec<(String, Body)>) -> Result<Vec<Appended>> {
        // Input is checked before the signing key: a read-only open (see `with_writable`)
        // must refuse bad input itself, never reach for the writable file.
        check_items(&items)?;
        self.append_signed(items, &[self.signer()?])
    }

    /// Appends records and stores the checkpoint of the new size signed by `signers`.
    pub(crate) fn append_signed(
        &self,
        items: Vec<(String, Body)>,
        signers: &[&Signer],
    ) -> Result<Vec<Appended>> {
        check_items(&items)?;
        let now = now_us();
        // The kept snapshot would no longer be the ledger.
        *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.store.write(|batch| {
            let size = batch.record_count()?;
            let range = CompactRange::load(batch, size)?;
            let last_time = match batch.last_record()? {
                Some(bytes) => record::peek_time(&bytes)?,
                None => i64::MIN,
            };
            let mut chain = Chain {
                root: range.root(),
                range,
                time_us: now.max(last_time),
            };
            let mut written = Written::default();
            for (actor, body) in items {
                written.store(batch, chain.next(actor, body)?)?;
            }
            // Index rows in key order: fewer page visits than one record at a time.
            written.index_rows.sort_unstable();
            for key in &written.index_rows {
                batch.put_index(key)?;
            }
            let head = TreeHead {
                size: chain.range.size(),
                root: chain.root,
            };
            batch.put_checkpoint(head.size, &sign_checkpoint(&self.origin, head, signers)?)?;
            Ok(written.appended)
        })
    }
}

/// Checks a batch before anything is written: non-empty, valid actors and bodies, and every
/// record within [`record::MAX_RECORD_LEN`] (measured on its real encoding: `prev` and `time`
/// have fixed widths).
fn check_items(items: &[(String, Body)]) -> Result<()> {
    if items.is_empty() {
        return Err(invalid("nothing to append"));
    }
    for (n, (actor, body)) in items.iter().enumerate() {
        let at = |e: Error| invalid(format!("record {}: {e}", n + 1));
        check_actor(actor).map_err(at)?;
        body.validate().map_err(at)?;
        let probe = Record {
            version: FORMAT_VERSION,
            time_us: 0,
            actor: actor.clone(),
            prev: TreeHead {
                size: 0,
                root: crate::hash::EMPTY_ROOT,
            },
            body: body.clone(),
        };
        record::encode(&probe).map_err(at)?;
    }
    Ok(())
}

fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() || actor.chars().any(char::is_control) {
        return Err(invalid(
            "actor must be non-empty and without control characters",
        ));
    }
    Ok(())
}
