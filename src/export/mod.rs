//! Compliance exports (ledger-format.md §12): the records of a period as JSON Lines or CSV,
//! with a manifest that lets anyone check offline that nothing was missed, added, reordered or
//! changed: the raw bytes of every record of the period (and of the records just outside it),
//! the leaf-to-root range proof of those records against the signed checkpoint that covers the
//! period, and a consistency proof from the checkpoint at its start.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Ledger;
use crate::error::{Error, Result, invalid};
use crate::hash::Hash;
use crate::ledger::{Entry, format_time};
use crate::record::Kind;
use crate::tree::HashReader;

/// The `format` of every export manifest.
pub const FORMAT: &str = "provledger/export/v1";
/// The data file of a JSON Lines export.
pub const JSONL_FILE: &str = "records.jsonl";
/// The data file of an in-toto export.
pub const INTOTO_FILE: &str = "statements.jsonl";
/// The data file of a CSV export.
pub const CSV_FILE: &str = "records.csv";
/// Every record of the covered range, base64, one per line.
pub const RAW_FILE: &str = "raw-records.b64";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Records rendered at a time on all cores.
const EXPORT_CHUNK: usize = 4096;
/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 11] = [
    "index",
    "leaf_hash",
    "time",
    "time_us",
    "actor",
    "kind",
    "prev_size",
    "prev_root",
    "release_id",
    "channel",
    "body",
];

/// What to export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub since_us: i64,
    pub until_us: i64,
    /// Kind names; empty means every kind.
    pub kinds: Vec<String>,
    pub channel: Option<String>,
    /// `jsonl` or `csv`.
    pub format: String,
}

/// The manifest written beside the data.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub query: Query,
    pub rows: u64,
    /// Each output file and its SHA-256 (hex).
    pub files: Vec<(String, String)>,
    /// The covered records `[first, end)`: the period plus one record on each side.
    pub first: u64,
    pub end: u64,
    /// The checkpoint that covers the period.
    pub checkpoint: String,
    /// The peaks of the tree of size `first` (base64), largest first.
    pub left: Vec<String>,
    /// The perfect subtrees of `[end, checkpoint size)` (base64), left to right.
    pub right: Vec<String>,
    /// The latest checkpoint at or before the period's start, and a consistency proof from it.
    pub start_checkpoint: String,
    pub start_consistency: Vec<String>,
}

fn matches(q: &Query, e: &Entry) -> bool {
    let r = &e.record;
    (q.kinds.is_empty() || q.kinds.iter().any(|k| k == r.body.kind().name()))
        && q.channel
            .as_deref()
            .is_none_or(|c| r.body.channel() == Some(c))
        && q.since_us <= r.time_us
        && r.time_us < q.until_us
}

/// One row of the JSON Lines export.
pub fn jsonl_row(e: &Entry) -> Value {
    e.to_json()
}

/// A JSON Lines row serialized directly (the same fields as [`jsonl_row`]): an export of
/// 10^6 records spends its time here.
#[derive(Serialize)]
struct Row<'a> {
    index: u64,
    leaf_hash: crate::hash::Hash,
    version: u8,
    kind: &'static str,
    time: String,
    time_us: i64,
    actor: &'a str,
    prev: &'a crate::record::TreeHead,
    #[serde(serialize_with = "body_json")]
    body: &'a crate::record::Body,
}

fn body_json<S: serde::Serializer>(
    b: &&crate::record::Body,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    b.serialize_json(s)
}

/// The text of a JSON row of format `jsonl` or `intoto`.
fn json_line(format: &str, e: &Entry) -> String {
    if format == "intoto" {
        return crate::intoto::statement(e).to_string();
    }
    let r = &e.record;
    let row = Row {
        index: e.index,
        leaf_hash: e.leaf_hash,
        version: r.version,
        kind: r.body.kind().name(),
        time: format_time(r.time_us),
        time_us: r.time_us,
        actor: &r.actor,
        prev: &r.prev,
        body: &r.body,
    };
    serde_json::to_string(&row).expect("rows always serialize")
}

/// A JSON row of format `jsonl` or `intoto`, as a value (for verification).
fn json_row(format: &str, e: &Entry) -> Value {
    if format == "intoto" {
        crate::intoto::statement(e)
    } else {
        jsonl_row(e)
    }
}

fn data_file(format: &str) -> &'static str {
    match format {
        "intoto" => INTOTO_FILE,
        "csv" => CSV_FILE,
        _ => JSONL_FILE,
    }
}

/// One row of the CSV export, in [`CSV_COLUMNS`] order.
pub fn csv_row(e: &Entry) -> Vec<String> {
    let r = &e.record;
    vec![
        e.index.to_string(),
        e.leaf_hash.to_hex(),
        format_time(r.time_us),
        r.time_us.to_string(),
        r.actor.clone(),
        r.body.kind().name().to_string(),
        r.prev.size.to_string(),
        r.prev.root.to_hex(),
        r.body.release_id().unwrap_or_default().to_string(),
        r.body.channel().unwrap_or_default().to_string(),
        r.body.to_json().to_string(),
    ]
}

/// Perfect subtrees decomposing `[lo, hi)` left to right: `(level, index)`.
fn right_nodes(lo: u64, hi: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    let mut pos = lo;
    while pos < hi {
        let mut h = if pos == 0 {
            63
        } else {
            pos.trailing_zeros() as u8
        };
        while (1u64 << h) > hi - pos {
            h -= 1;
        }
        out.push((h, pos >> h));
        pos += 1 << h;
    }
    out
}

fn b64(h: &Hash) -> String {
    B64.encode(h.0)
}

fn unb64(text: &str, what: &str) -> Result<Hash> {
    Hash::from_base64(text).ok_or_else(|| invalid(format!("{what}: not base64 of 32 bytes")))
}

/// One CSV line (RFC 4180 quoting, `\n` line end).
fn csv_line(fields: Vec<String>) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(&fields)
        .map_err(|e| Error::Io(format!("writing CSV: {e}")))?;
    w.into_inner()
        .map_err(|e| Error::Io(format!("writing CSV: {e}")))
}

/// A file writer that hashes what it writes (SHA-256, for the manifest) on its own thread,
/// so the hashing of a large export overlaps the rendering and writing.
struct Hashing {
    file: std::io::BufWriter<std::fs::File>,
    hasher: Option<(
        std::sync::mpsc::Sender<Vec<u8>>,
        std::thread::JoinHandle<String>,
    )>,
    path: std::path::PathBuf,
}

impl Hashing {
    fn create(path: &Path) -> Result<Hashing> {
        let file = std::fs::File::create(path)
            .map_err(|e| Error::Io(format!("creating {}: {e}", path.display())))?;
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let handle = std::thread::spawn(move || {
            let mut h: sha2::Sha256 = sha2::Digest::new();
            for buf in rx {
                sha2::Digest::update(&mut h, &buf);
            }
            hex::encode(sha2::Digest::finalize(h))
        });
        Ok(Hashing {
            file: std::io::BufWriter::new(file),
            hasher: Some((tx, handle)),
            path: path.to_path_buf(),
        })
    }

    fn write_all(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.file, &bytes)?;
        let (tx, _) = self.hasher.as_ref().expect("open until finish");
        tx.send(bytes)
            .map_err(|_| std::io::Error::other("the hashing thread stopped"))
    }

    /// Flushes and returns the SHA-256 (hex) of everything written.
    fn finish(mut self) -> Result<String> {
        std::io::Write::flush(&mut self.file)
            .map_err(|e| Error::Io(format!("writing {}: {e}", self.path.display())))?;
        let (tx, handle) = self.hasher.take().expect("finished once");
        drop(tx);
        handle
            .join()
            .map_err(|_| Error::Io("the hashing thread failed".into()))
    }
}

impl Ledger {
    /// Writes the export of `query` into `dir` (created if missing).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad query; I/O errors.
    pub fn export(&self, query: &Query, dir: &Path) -> Result<Manifest> {
        for k in &query.kinds {
            Kind::parse(k)?;
        }
        if !["jsonl", "csv", "intoto"].contains(&query.format.as_str()) {
            return Err(invalid(format!(
                "export format '{}' is not jsonl, csv or intoto",
                query.format
            )));
        }
        let snap = self.snapshot()?;
        let current = snap.record_count()?;
        let lo = crate::ledger::first_at_or_after(&snap, current, query.since_us)?;
        let hi = crate::ledger::first_at_or_after(&snap, current, query.until_us)?.max(lo);
        let (first, end) = (lo.saturating_sub(1), (hi + 1).min(current));
        // The signed checkpoint at the end of the period: the first commit that covers it.
        let size = snap.checkpoint_at_or_after(end)?.unwrap_or(current);
        let (size, note) = self.checkpoint(Some(size))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("creating {}: {e}", dir.display())))?;
        // Streamed to the files, hashing as they are written: memory does not grow with the
        // period.
        let data_name = data_file(&query.format);
        let mut data = Hashing::create(&dir.join(data_name))?;
        let mut raw = Hashing::create(&dir.join(RAW_FILE))?;
        let is_csv = query.format == "csv";
        let io = |e: std::io::Error| Error::Io(format!("writing the export: {e}"));
        if is_csv {
            data.write_all(csv_line(
                CSV_COLUMNS.iter().map(|c| c.to_string()).collect(),
            )?)
            .map_err(io)?;
        }
        let mut rows = 0u64;
        // Records are rendered in chunks on all cores, then written in order.
        let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(EXPORT_CHUNK);
        let mut flush = |chunk: &mut Vec<(u64, Vec<u8>)>| -> Result<()> {
            use rayon::prelude::*;
            let rendered: Vec<(String, Option<Vec<u8>>)> = chunk
                .par_iter()
                .map(|(i, bytes)| {
                    let encoded = B64.encode(bytes);
                    let e = crate::ledger::decode_entry(*i, bytes)?;
                    let line = match (matches(query, &e), is_csv) {
                        (false, _) => None,
                        (true, true) => Some(csv_line(csv_row(&e))?),
                        (true, false) => {
                            let mut l = json_line(&query.format, &e).into_bytes();
                            l.push(b'\n');
                            Some(l)
                        }
                    };
                    Ok((encoded, line))
                })
                .collect::<Result<_>>()?;
            let (mut raw_buf, mut data_buf) = (Vec::new(), Vec::new());
            for (encoded, line) in rendered {
                raw_buf.extend_from_slice(encoded.as_bytes());
                raw_buf.push(b'\n');
                if let Some(line) = line {
                    rows += 1;
                    data_buf.extend_from_slice(&line);
                }
            }
            raw.write_all(raw_buf).map_err(io)?;
            data.write_all(data_buf).map_err(io)?;
            chunk.clear();
            Ok(())
        };
        snap.for_each_record(first..end, |i, bytes| {
            chunk.push((i, bytes.to_vec()));
            if chunk.len() == EXPORT_CHUNK {
                flush(&mut chunk)?;
            }
            Ok(())
        })?;
        flush(&mut chunk)?;
        let files = vec![
            (data_name.to_string(), data.finish()?),
            (RAW_FILE.to_string(), raw.finish()?),
        ];
        let mut snap = snap;
        let left = crate::compact_range::CompactRange::peaks_of(&mut snap, first)?;
        let right = right_nodes(end, size)
            .into_iter()
            .map(|(h, i)| snap.node(h, i).map(|n| b64(&n)))
            .collect::<Result<Vec<_>>>()?;
        let start_size = snap.checkpoint_at_or_before(first)?;
        let (_, start_note) = self.checkpoint(Some(start_size))?;
        let consistency = self.prove_consistency(start_size, Some(size))?;
        let manifest = Manifest {
            format: FORMAT.into(),
            query: query.clone(),
            rows,
            files,
            first,
            end,
            checkpoint: note,
            left: left.iter().map(b64).collect(),
            right,
            start_checkpoint: start_note,
            start_consistency: consistency.proof.iter().map(b64).collect(),
        };
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Io(e.to_string()))?;
        std::fs::write(dir.join(MANIFEST_FILE), format!("{text}\n"))
            .map_err(|e| Error::Io(format!("writing the manifest: {e}")))?;
        Ok(manifest)
    }
}

mod verify;
pub use verify::{Checked, verify};
