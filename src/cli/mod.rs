//! Argument definitions and dispatch.

mod commands;
mod input;
mod pipeline;
mod proofs;
mod release;

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
    #[command(after_help = "Examples:
  provledger init --origin example.com/ml-releases
  provledger init --key release-key.txt     # a Go/C2SP private key text; its name is the origin")]
    Init {
        /// The log's name in checkpoints and its key name: a schema-less URL, no spaces or '+'.
        /// Default: derived from the folder name with a random suffix.
        #[arg(long)]
        origin: Option<String>,
        /// Use this private key (Go/C2SP text `PRIVATE+KEY+name+hex8+base64`) instead of a new
        /// one.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
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
    /// Write an inclusion proof (C2SP tlog-proof) or a consistency proof.
    #[command(subcommand)]
    Prove(Prove),
    /// Check a proof file offline with the log's verifier key (no ledger needed); or a
    /// `prove --json` proof against a root you trust.
    #[command(after_help = "Examples:
  provledger prove inclusion 3 -o r3.tlog-proof
  provledger verify-proof r3.tlog-proof --vkey .provledger/key.pub
  provledger verify-proof r3.tlog-proof --vkey 'example.com/log+1a2b3c4d+AfE…' --record rec.bin
  provledger prove inclusion 3 --json > p.json && provledger verify-proof p.json --root <hex>")]
    VerifyProof {
        /// The proof file, or - for standard input.
        file: String,
        /// The log's verifier key: the key text or a file holding it (repeatable, for rotated
        /// keys).
        #[arg(long, required_unless_present = "root")]
        vkey: Vec<String>,
        /// For a `--json` proof: the root it must lead to (for consistency: the newer root).
        #[arg(long, conflicts_with = "vkey")]
        root: Option<String>,
        /// For a `--json` consistency proof: the older root you trust.
        #[arg(long, requires = "root")]
        first_root: Option<String>,
        /// The raw record bytes (`show --raw`); the proof must be for exactly these bytes.
        #[arg(long)]
        record: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print a signed checkpoint (default: the latest), or accept one as a node.
    #[command(after_help = "Examples:
  provledger checkpoint > head.txt
  provledger checkpoint --size 42 --json
  provledger checkpoint accept head.txt --trusted node-state.txt --vkey key.pub
  provledger checkpoint accept head.txt --trusted node-state.txt --vkey key.pub --proof c.txt")]
    Checkpoint {
        #[command(subcommand)]
        action: Option<CheckpointAction>,
        /// The tree size of a stored checkpoint (one exists where each commit ended).
        #[arg(long)]
        size: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Re-check the whole ledger: every record, tree node, index row, checkpoint and key event.
    #[command(after_help = "Examples:
  provledger verify
  provledger verify --vkey genesis.pub --trusted node-state.txt --json
  provledger verify --bundle v2.bundle.json --vkey key.pub --artifacts ./models   # no ledger needed")]
    Verify {
        /// Pin the ledger's first (genesis) verifier key: key text or file. With --bundle: the
        /// log's verifier key (required).
        #[arg(long)]
        vkey: Option<String>,
        /// Verify a release bundle offline instead of the ledger.
        #[arg(long, value_name = "FILE", requires = "vkey")]
        bundle: Option<PathBuf>,
        /// With --bundle: re-hash DIR/<artifact name> for the bundled artifacts found there.
        #[arg(long, value_name = "DIR", requires = "bundle")]
        artifacts: Option<PathBuf>,
        /// Verify an export directory offline instead of the ledger.
        #[arg(long, value_name = "DIR", requires = "vkey", conflicts_with = "bundle")]
        export: Option<PathBuf>,
        /// Also require the ledger to extend this trusted checkpoint (a node's state file).
        #[arg(long, value_name = "FILE")]
        trusted: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show, rotate or import the ledger's checkpoint-signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Record a trained artifact (a file or a model directory), or re-check one.
    #[command(subcommand)]
    Artifact(pipeline::ArtifactCommand),
    /// Record a test lane's result from JUnit XML (or by hand).
    #[command(subcommand)]
    Lane(pipeline::LaneCommand),
    /// Record or show the promotion policy (gates and required lanes).
    #[command(subcommand)]
    Policy(pipeline::PolicyCommand),
    /// Evaluate the policy's gates for a candidate artifact.
    #[command(subcommand)]
    Gate(pipeline::GateCommand),
    /// Fuse, promote and roll back releases; what is live, and the provenance of a release.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Export the records of a period with the proofs to check it offline (`verify --export`).
    #[command(after_help = "Examples:
  provledger export --since 2026-06-01 --until 2026-12-01 --format jsonl -o evidence/h2
  provledger export --since 2026-11-01 --until 2026-12-01 --kind promotion --kind rollback --format csv -o moves
  provledger verify --export evidence/h2 --vkey key.pub")]
    Export {
        /// Start of the period (RFC 3339 or a date, UTC), inclusive.
        #[arg(long)]
        since: String,
        /// End of the period, exclusive.
        #[arg(long)]
        until: String,
        /// Only these kinds (repeatable).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Only the moves of this channel.
        #[arg(long)]
        channel: Option<String>,
        /// jsonl, csv or intoto (in-toto Statement v1 JSON Lines).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// The directory to write (created if missing).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Convert a ledger file of storage version 1 or 2 to the current version (ledger-format.md §14).
    #[command(
        after_help = "Records, checkpoints, roots and proofs are unchanged; tiles and index
rows are rebuilt and the new file is verified before it replaces the old one, which is kept
as .provledger/ledger.redb.v1 or .v2.

Examples:
  provledger migrate
  provledger migrate --ledger /srv/ledger/.provledger --json"
    )]
    Migrate {
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
    /// The C2SP tlog-proof of record INDEX (with its bytes) against the checkpoint at --size
    /// (default: the latest).
    Inclusion {
        index: u64,
        #[arg(long)]
        size: Option<u64>,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The hex form (index, size, leaf hash, root, path) instead of the file.
        #[arg(long)]
        json: bool,
    },
    /// A release's provenance bundle: every record it depends on, with inclusion proofs
    /// against one signed checkpoint (verify it with `verify --bundle`).
    Release {
        id: String,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Include a consistency proof from this (trusted) tree size to the bundle's checkpoint.
        #[arg(long)]
        from_size: Option<u64>,
    },
    /// The consistency proof from size M to the checkpoint at size N (default: the latest).
    Consistency {
        m: u64,
        n: Option<u64>,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum CheckpointAction {
    /// Accept NEW as a node's trusted checkpoint only if it is signed and extends the trusted
    /// one (exit 1 and both checkpoints printed otherwise).
    Accept {
        /// The new checkpoint note (a file, or - for standard input).
        new: String,
        /// The node's state file: the checkpoint it trusts (created on first use).
        #[arg(long, value_name = "FILE")]
        trusted: PathBuf,
        /// The log's verifier key(s): key text or file.
        #[arg(long, required = true)]
        vkey: Vec<String>,
        /// A consistency proof file from the trusted size to NEW (default: from the local
        /// ledger, when there is one).
        #[arg(long, value_name = "FILE")]
        proof: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Print the verifier key of the key in force (never the private key).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Make a new signing key; the old one signs the hand-over, recorded as a key event.
    Rotate {
        #[arg(long)]
        actor: Option<String>,
    },
    /// Rotate to a given private key (Go/C2SP text `PRIVATE+KEY+name+hex8+base64`).
    Import {
        file: PathBuf,
        #[arg(long)]
        actor: Option<String>,
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
