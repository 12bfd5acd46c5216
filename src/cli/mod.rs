//! Argument definitions and dispatch.

mod commands;
mod input;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A local-first, append-only, Merkle-chained audit ledger for ML model releases.
#[derive(Parser)]
#[command(name = "provledger", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// The ledger directory (the `.provledger` folder). Default: $PROVLEDGER_DIR, else the
    /// nearest `.provledger` in this folder or above it.
    #[arg(long, global = true, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  provledger init --origin example.com/ml-releases
  provledger append --example lane-result > lane.json
  provledger append --kind lane-result --actor ci@example.com --json lane.json
  provledger log --kind lane-result --since 2026-12-01 --json
  provledger prove inclusion 0 > proof.txt
  provledger verify-proof proof.txt --root $(provledger status --json | jq -r .root)
  cargo run --release -- demo";

#[derive(Subcommand)]
pub enum Command {
    /// Create a ledger (`.provledger/` in this folder, or at --ledger PATH).
    Init {
        /// The log's name in checkpoints: a schema-less URL, no spaces or '+'.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Append one record, or a batch (JSON array or JSON Lines) in one commit.
    #[command(after_help = "Examples:
  provledger append --list-kinds
  provledger append --example artifact > a.json && provledger append --kind artifact --json a.json
  cat batch.jsonl | provledger append --kind lane-result --json - --format json")]
    Append {
        /// The record kind (see --list-kinds).
        #[arg(long, required_unless_present_any = ["list_kinds", "example"])]
        kind: Option<String>,
        /// Who records it. Default: $PROVLEDGER_ACTOR, else $USER.
        #[arg(long)]
        actor: Option<String>,
        /// The body as JSON: a file, or - for standard input.
        #[arg(long = "json", value_name = "FILE|-", required_unless_present_any = ["list_kinds", "example"])]
        input: Option<String>,
        /// List the record kinds, one per line.
        #[arg(long, conflicts_with_all = ["kind", "input", "example"])]
        list_kinds: bool,
        /// Print a valid example body of KIND.
        #[arg(long, value_name = "KIND", conflicts_with_all = ["kind", "input"])]
        example: Option<String>,
        /// Output format of the receipt.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List records.
    #[command(after_help = "Examples:
  provledger log
  provledger log --kind promotion --since 2026-11-01T00:00:00Z --until 2026-12-01 --json")]
    Log {
        /// Only records of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only records at or after this time (RFC 3339, or a date YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Only records before this time.
        #[arg(long)]
        until: Option<String>,
        /// JSON Lines: one object per record.
        #[arg(long)]
        json: bool,
    },
    /// Show one record.
    Show {
        index: u64,
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Write the exact record bytes hashed into the leaf: SHA-256(0x00 || bytes).
        #[arg(long)]
        raw: bool,
    },
    /// Size, root, origin, file and format version.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Every record that names a digest.
    Search {
        /// blake3:<hex> or sha256:<hex>.
        #[arg(long)]
        digest: String,
        #[arg(long)]
        json: bool,
    },
    /// Print an inclusion or consistency proof.
    #[command(subcommand)]
    Prove(Prove),
    /// Check a printed proof against a root you trust, offline (no ledger needed).
    #[command(after_help = "Examples:
  provledger prove inclusion 3 > p.txt && provledger verify-proof p.txt --root <hex> --record rec.bin
  provledger prove consistency 10 > c.txt && provledger verify-proof c.txt --root <new-root-hex>")]
    VerifyProof {
        /// The proof text (or its --json form), or - for standard input.
        file: String,
        /// The root the proof must lead to (for consistency: the second, newer root).
        #[arg(long)]
        root: String,
        /// For consistency proofs: the older root you trust (default: the one in the proof).
        #[arg(long)]
        first_root: Option<String>,
        /// The raw record bytes (`show --raw`); its leaf hash must be the proof's.
        #[arg(long)]
        record: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run the whole pipeline on a fresh ledger in a new folder, ending with a verified proof.
    Demo {
        /// Where to create the demo ledger (default: a new folder under the system temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum Prove {
    /// The inclusion proof of record INDEX in the tree of --size records (default: all).
    Inclusion {
        index: u64,
        #[arg(long)]
        size: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// The consistency proof from size M to size N (default: the current size).
    Consistency {
        m: u64,
        n: Option<u64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Parses the arguments and runs the command; returns the exit code.
///
/// # Errors
/// Any failure, to be printed by `main`.
pub fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    commands::dispatch(cli)
}
