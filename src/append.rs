//! Appending: the one write path. Every batch is checked (and each body encoded) before
//! anything is written, hashed and chained record by record (record `i` names `(i, root(i))`,
//! times never decrease) and committed with its tree nodes, the index rows of the epochs it
//! completes and its signed checkpoint in one durable transaction.

use crate::checkpoint::Checkpoint;
use crate::compact_range::CompactRange;
use crate::error::{Error, Result, invalid};
use crate::hash::{Hash, leaf_hash};
use crate::index;
use crate::ledger::{Appended, Ledger, now_us};
use crate::note::{self, Signer};
use crate::record::{self, Body, FORMAT_VERSION, TreeHead};
use crate::store::{Batch, Records};

/// Batches of at least this many records use the second core: chained on one thread while
/// the other checks, then writes (below it, a thread costs more than it saves).
const PIPELINE_FROM: usize = 256;
/// Records per hand-off between the two threads.
const CHUNK: usize = 256;

/// A checked item: its actor and its body's bytes.
struct Item {
    actor: String,
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

    /// Checks `items` and stores them in `batch` with their index rows; nothing is written
    /// unless every item is good. A large batch hashes its chain on a second thread while this
    /// one checks the items, a chunk at a time, then writes the index rows, then the records
    /// as they come: the chain is sequential (each record names the root before it), and so
    /// are redb's writes.
    fn store(&mut self, batch: &mut Batch, items: Vec<(String, Body)>) -> Result<Vec<Appended>> {
        let start = self.range.size();
        let count = items.len() as u64;
        // The index rows of the records whose epochs this batch completes.
        let sealed = index::sealed(start + count);
        let mut rows = Vec::new();
        let check = |(n, (actor, body)): (usize, (String, Body)), rows: &mut Vec<index::Key>| {
            let item = check_item(n, actor, &body)?;
            let i = start + n as u64;
            if i < sealed {
                index::rows_into(i, &body, rows);
            }
            Ok(item)
        };
        let mut appended = Vec::with_capacity(items.len());
        if items.len() < PIPELINE_FROM {
            let items = (items.into_iter().enumerate())
                .map(|item| check(item, &mut rows))
                .collect::<Result<Vec<_>>>()?;
            seal(batch, start, start + count, rows)?;
            let (records, a) = self.chunk(&items);
            appended.extend(a);
            batch.put_records(count, [Ok(records)])?;
            return Ok(appended);
        }
        std::thread::scope(|s| {
            let (to_chain, checked) = std::sync::mpsc::channel::<Vec<Item>>();
            let (to_writer, chained) = std::sync::mpsc::channel();
            let chain = &mut *self;
            s.spawn(move || {
                for items in checked {
                    let (records, a) = chain.chunk(&items);
                    // The items go back to be freed where they were allocated.
                    if to_writer.send((records, a, items)).is_err() {
                        return; // the writer stopped on an error
                    }
                }
            });
            let mut items = items.into_iter().enumerate().peekable();
            while items.peek().is_some() {
                let chunk = (items.by_ref().take(CHUNK))
                    .map(|item| check(item, &mut rows))
                    .collect::<Result<_>>()?;
                to_chain
                    .send(chunk)
                    .expect("the chain thread runs until the sender is dropped");
            }
            drop(to_chain);
            seal(batch, start, start + count, rows)?;
            batch.put_records(
                count,
                chained.into_iter().map(|(records, a, _items)| {
                    appended.extend(a);
                    Ok(records)
                }),
            )
        })?;
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
        match self.signer() {
            Ok(signer) => self.append_signed(items, &[signer]),
            // Bad input is named before a missing key: a read-only open (see `with_writable`)
            // must refuse bad input itself, never reach for the writable file.
            Err(e) => {
                non_empty(&items)?;
                for (n, (actor, body)) in items.into_iter().enumerate() {
                    check_item(n, actor, &body)?;
                }
                Err(e)
            }
        }
    }

    /// Appends records and stores the checkpoint of the new size signed by `signers`.
    pub(crate) fn append_signed(
        &self,
        items: Vec<(String, Body)>,
        signers: &[&Signer],
    ) -> Result<Vec<Appended>> {
        non_empty(&items)?;
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
            let appended = chain.store(batch, items)?;
            let head = TreeHead {
                size: chain.range.size(),
                root: chain.root,
            };
            batch.put_checkpoint(&sign_checkpoint(&self.origin, head, signers)?)?;
            Ok(appended)
        })
    }
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

fn non_empty(items: &[(String, Body)]) -> Result<()> {
    if items.is_empty() {
        return Err(invalid("nothing to append"));
    }
    Ok(())
}

/// Checks item `n` (counted from 0) of a batch, and encodes its body: a valid actor and body,
/// and a record within [`record::MAX_RECORD_LEN`] (`prev` and `time` have fixed widths).
fn check_item(n: usize, actor: String, body: &Body) -> Result<Item> {
    let at = |e: Error| invalid(format!("record {}: {e}", n + 1));
    check_actor(&actor).map_err(at)?;
    body.validate().map_err(at)?;
    let bytes = record::encode_body(body).map_err(at)?;
    let len = record::envelope_len(&actor) + bytes.len();
    if len > record::MAX_RECORD_LEN {
        return Err(at(invalid(format!(
            "record is {len} bytes, more than the {} allowed",
            record::MAX_RECORD_LEN
        ))));
    }
    Ok(Item { actor, bytes })
}

fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() || actor.chars().any(char::is_control) {
        return Err(invalid(
            "actor must be non-empty and without control characters",
        ));
    }
    Ok(())
}
