//! Appending: the one write path. Every batch is checked (and each body encoded) before
//! anything is written, then hashed and chained record by record (record `i` names
//! `(i, root(i))`, times never decrease) and committed with its tree nodes, the index rows of
//! the epochs it completes and its signed checkpoint in one durable transaction.

use crate::checkpoint::Checkpoint;
use crate::compact_range::CompactRange;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::index;
use crate::ledger::{Appended, Ledger, now_us};
use crate::note::{self, Signer};
use crate::record::{self, Body, FORMAT_VERSION, TreeHead};
use crate::store::{Batch, Records};

/// Batches of at least this many records use the second core: checked in two halves, then
/// chained on one thread while the other writes (below it, a thread costs more than it saves).
const PIPELINE_FROM: usize = 256;
/// Records per hand-off between the two threads.
const CHUNK: usize = 256;

/// A checked item: its actor, its body and the body's bytes.
struct Item {
    actor: String,
    body: Body,
    bytes: Vec<u8>,
}

/// The sequential part of appending: each record names the head before it.
struct Chain {
    range: CompactRange,
    root: Hash,
    time_us: i64,
}

impl Chain {
    /// Chains `item` onto `records`.
    fn next(&mut self, item: &Item, records: &mut Records) -> Appended {
        let index = self.range.size();
        let prev = TreeHead {
            size: index,
            root: self.root,
        };
        let mut leaf = crate::hash::EMPTY_ROOT;
        records.push(|bytes, nodes| {
            let start = bytes.len();
            record::encode_with_body_into(
                FORMAT_VERSION,
                self.time_us,
                &item.actor,
                &prev,
                &item.bytes,
                bytes,
            )
            .expect("check_items measured the record");
            leaf = leaf_hash(&bytes[start..]);
            self.range.append_into(leaf, nodes);
        });
        self.root = self.range.root();
        Appended {
            index,
            leaf_hash: leaf,
            head: TreeHead {
                size: index + 1,
                root: self.root,
            },
        }
    }

    /// Chains a chunk of items.
    fn chunk(&mut self, items: &[Item]) -> (Records, Vec<Appended>) {
        let mut records = Records::default();
        let appended = items
            .iter()
            .map(|item| self.next(item, &mut records))
            .collect();
        (records, appended)
    }

    /// Stores `items` in `batch` with their index rows. A large batch hashes its chain on a
    /// second thread while this one writes the index rows, then the records as they come: the
    /// chain is sequential (each record names the root before it), and so are redb's writes.
    fn store(&mut self, batch: &mut Batch, items: &[Item]) -> Result<Vec<Appended>> {
        let start = self.range.size();
        let count = items.len() as u64;
        let mut appended = Vec::with_capacity(items.len());
        let mut keep = |(records, a): (Records, Vec<Appended>)| {
            appended.extend(a);
            Ok(records)
        };
        if items.len() < PIPELINE_FROM {
            seal_epochs(batch, start, items)?;
            let chunk = self.chunk(items);
            batch.put_records(count, [keep(chunk)])?;
        } else {
            std::thread::scope(|s| {
                let (tx, rx) = std::sync::mpsc::channel();
                let chain = &mut *self;
                s.spawn(move || {
                    for chunk in items.chunks(CHUNK) {
                        if tx.send(chain.chunk(chunk)).is_err() {
                            return; // the writer stopped on an error
                        }
                    }
                });
                seal_epochs(batch, start, items)?;
                batch.put_records(count, rx.into_iter().map(&mut keep))
            })?;
        }
        Ok(appended)
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

    /// Appends records in one durable commit, all or none.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty actor, an invalid body or an over-long record (nothing is
    /// written); storage errors.
    pub fn append_batch(&self, items: Vec<(String, Body)>) -> Result<Vec<Appended>> {
        // Input is checked before the signing key: a read-only open (see `with_writable`)
        // must refuse bad input itself, never reach for the writable file.
        let items = check_items(items)?;
        self.append_checked(items, &[self.signer()?])
    }

    /// Appends records and stores the checkpoint of the new size signed by `signers`.
    pub(crate) fn append_signed(
        &self,
        items: Vec<(String, Body)>,
        signers: &[&Signer],
    ) -> Result<Vec<Appended>> {
        self.append_checked(check_items(items)?, signers)
    }

    fn append_checked(&self, items: Vec<Item>, signers: &[&Signer]) -> Result<Vec<Appended>> {
        let now = now_us();
        // The kept snapshot would no longer be the ledger.
        *self.reader.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.store.write(|batch| {
            let start = batch.record_count();
            let range = CompactRange::load(batch, start)?;
            let last_time = match start.checked_sub(1).map(|i| batch.record(i)).transpose()? {
                Some(Some(bytes)) => record::peek_time(&bytes)?,
                _ => i64::MIN,
            };
            let mut chain = Chain {
                root: range.root(),
                range,
                time_us: now.max(last_time),
            };
            let appended = chain.store(batch, &items)?;
            let head = TreeHead {
                size: chain.range.size(),
                root: chain.root,
            };
            batch.put_checkpoint(&sign_checkpoint(&self.origin, head, signers)?)?;
            Ok(appended)
        })
    }
}

/// Writes the index rows of the epochs that `items`, appended from record `start` on, complete.
fn seal_epochs(batch: &mut Batch, start: u64, items: &[Item]) -> Result<()> {
    let end = start + items.len() as u64;
    let mut rows = Vec::new();
    for (i, item) in (start..index::sealed(end)).zip(items) {
        index::rows_into(i, &item.body, &mut rows);
    }
    seal(batch, start, end, rows)
}

/// Writes the index rows of the epochs that end within records `start..end` (ledger-format.md
/// §6.3), sorted: `rows` (of the records from `start` on) and the rows of the records that
/// earlier commits added to the first of those epochs, read back from the log.
pub(crate) fn seal(
    batch: &mut Batch,
    start: u64,
    end: u64,
    mut rows: Vec<index::Key>,
) -> Result<()> {
    let (from, to) = (index::sealed(start), index::sealed(end));
    if from == to {
        return Ok(());
    }
    rows.retain(|key| index::record_of(key) < to);
    for i in from..start {
        let bytes = batch
            .record(i)?
            .ok_or_else(|| Error::Corrupt(format!("record {i} is missing")))?;
        let record =
            record::decode(&bytes).map_err(|e| Error::Corrupt(format!("record {i}: {e}")))?;
        index::rows_into(i, &record.body, &mut rows);
    }
    rows.sort_unstable();
    rows.dedup();
    batch.put_index(&rows)
}

/// Checks a batch before anything is written: non-empty, valid actors and bodies, and every
/// record within [`record::MAX_RECORD_LEN`] (`prev` and `time` have fixed widths). Each body
/// is encoded once, here.
fn check_items(items: Vec<(String, Body)>) -> Result<Vec<Item>> {
    if items.is_empty() {
        return Err(invalid("nothing to append"));
    }
    let check = |(n, (actor, body)): (usize, (String, Body))| {
        let at = |e: Error| invalid(format!("record {}: {e}", n + 1));
        check_actor(&actor).map_err(at)?;
        body.validate().map_err(at)?;
        let bytes = record::encode_body(&body).map_err(at)?;
        let len = record::envelope_len(&actor) + bytes.len();
        if len > record::MAX_RECORD_LEN {
            return Err(at(invalid(format!(
                "record is {len} bytes, more than the {} allowed",
                record::MAX_RECORD_LEN
            ))));
        }
        Ok(Item { actor, body, bytes })
    };
    if items.len() < PIPELINE_FROM {
        return items.into_iter().enumerate().map(check).collect();
    }
    // A large batch: the second half on another thread (the first error is still the first).
    let mut first = items;
    let second = first.split_off(first.len() / 2);
    let offset = first.len();
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| -> Result<Vec<Item>> {
            second
                .into_iter()
                .enumerate()
                .map(|(n, item)| check((offset + n, item)))
                .collect()
        });
        let a: Result<Vec<Item>> = first.into_iter().enumerate().map(check).collect();
        (a, b.join().expect("the check does not panic"))
    });
    let mut items = a?;
    items.extend(b?);
    Ok(items)
}

fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() || actor.chars().any(char::is_control) {
        return Err(invalid(
            "actor must be non-empty and without control characters",
        ));
    }
    Ok(())
}
