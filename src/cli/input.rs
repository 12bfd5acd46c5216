//! Reading what the user gives: files or stdin, JSON bodies, times, the ledger location.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use provledger::Error;
use provledger::ledger::{LEDGER_DIR, find_ledger_dir};
use serde_json::value::RawValue;

/// Largest input file read (bodies are at most 64 KiB each; batches can be large).
const MAX_INPUT: u64 = 256 << 20;

fn bad(message: String) -> anyhow::Error {
    Error::Invalid(message).into()
}

/// Reads a file, or standard input for `-`, as UTF-8 text.
pub fn read_text(source: &str) -> Result<String> {
    let bytes = read_bytes(source)?;
    let name = if source == "-" {
        "standard input"
    } else {
        source
    };
    String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "{name} is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a file, or standard input for `-`, as bytes.
pub fn read_bytes(source: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if source == "-" {
        std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(source)
            .map_err(|e| bad(format!("cannot read {source}: {e}")))?
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    };
    read.map_err(|e| bad(format!("cannot read {source}: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        bail!(bad(format!(
            "{source} is larger than {} MiB",
            MAX_INPUT >> 20
        )));
    }
    Ok(bytes)
}

/// The JSON texts of an append input: one object, an array of objects, or JSON Lines. Kept
/// as text so that the typed parse sees duplicate fields.
pub fn json_values(text: &str, source: &str) -> Result<Vec<Box<RawValue>>> {
    if text.trim().is_empty() {
        bail!(bad(format!("{source}: input is empty")));
    }
    let malformed = |e: serde_json::Error| bad(format!("{source}: malformed JSON: {e}"));
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_str(text).into_iter::<Box<RawValue>>() {
        values.push(value.map_err(malformed)?);
    }
    if let [only] = values.as_slice()
        && only.get().starts_with('[')
    {
        let items: Vec<Box<RawValue>> = serde_json::from_str(only.get()).map_err(malformed)?;
        if items.is_empty() {
            bail!(bad(format!("{source}: the array holds no records")));
        }
        return Ok(items);
    }
    Ok(values)
}

/// Parses an RFC 3339 time or a date (UTC midnight) into microseconds.
pub fn parse_time(text: &str, flag: &str) -> Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let t = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(t.timestamp_micros());
    }
    Err(bad(format!(
        "{flag} '{text}' is not an RFC 3339 time (2026-12-04T10:00:00Z) or a date (2026-12-04)"
    )))
}

/// Who is recording: --actor, else $PROVLEDGER_ACTOR, else $USER.
pub fn actor(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("PROVLEDGER_ACTOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The ledger directory for commands that use an existing ledger.
pub fn ledger_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag.or_else(|| std::env::var_os("PROVLEDGER_DIR").map(PathBuf::from)) {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    find_ledger_dir(&cwd).ok_or_else(|| {
        bad(format!(
            "no ledger found in {} or above it (run 'provledger init', or pass --ledger PATH)",
            cwd.display()
        ))
    })
}

/// The directory `init` creates.
pub fn new_ledger_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag.or_else(|| std::env::var_os("PROVLEDGER_DIR").map(PathBuf::from)) {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    Ok(cwd.join(LEDGER_DIR))
}

/// A default origin from the folder name and a random suffix: `<folder>-<8 hex>.provledger.local`.
pub fn default_origin(dir: &Path) -> String {
    let folder = dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ledger".to_string());
    let clean: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id())
        .unwrap_or_default();
    format!("{clean}-{nanos:08x}.provledger.local")
}
