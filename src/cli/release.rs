//! The release verbs: fuse, promote, rollback, and the channel and provenance queries.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use provledger::pipeline::release::{FuseRequest, Fused};
use provledger::{Digest, Error};
use serde_json::json;

use super::commands::open;
use super::input;
use super::pipeline::{digest, write_op};

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Fuse components into a release if the policy allows it (exit 1 with what is unmet).
    #[command(after_help = "Examples:
  provledger release fuse --id v3 --artifact blake3:<a> --artifact blake3:<b> --commit 9fceb02 -o v3.json
  provledger release fuse --id v3 --from hf.json --from gcp.json --commit 9fceb02
  provledger release fuse --id v3-hotfix --artifact blake3:<a> --override --reason 'CVE fix, lanes rerun later'")]
    Fuse {
        #[arg(long)]
        id: String,
        #[arg(long = "artifact")]
        artifacts: Vec<String>,
        /// A provider manifest: {\"provider\": \"gcp\", \"artifacts\": [\"blake3:…\", …]}.
        #[arg(long = "from")]
        from: Vec<PathBuf>,
        #[arg(long)]
        commit: Option<String>,
        /// Fuse despite unmet requirements; recorded with --reason and who.
        #[arg(long = "override", requires = "reason")]
        override_: bool,
        #[arg(long)]
        reason: Option<String>,
        /// Write the release descriptor to FILE.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make a fused release current on a channel.
    Promote {
        id: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        actor: Option<String>,
    },
    /// Move a channel back to a prior release (default: the one live before the current).
    Rollback {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        reason: String,
        /// Allow a target that was fused by override.
        #[arg(long = "override")]
        override_: bool,
        #[arg(long)]
        actor: Option<String>,
    },
    /// Print the descriptor of the channel's current release.
    Current {
        #[arg(long)]
        channel: String,
    },
    /// Every pointer move of a channel: when, who, from, to, why.
    History {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        json: bool,
    },
    /// What was live on a channel at a time (RFC 3339 or a date).
    At {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        time: String,
        #[arg(long)]
        json: bool,
    },
    /// Every fused release.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The provenance tree of a release.
    Provenance {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn release(flag: Option<PathBuf>, c: ReleaseCommand) -> Result<i32> {
    match c {
        ReleaseCommand::Fuse {
            id,
            artifacts,
            from,
            commit,
            override_,
            reason,
            output,
            actor,
            json,
        } => {
            let mut components: Vec<Digest> =
                artifacts.iter().map(|a| digest(a)).collect::<Result<_>>()?;
            for file in &from {
                let text = input::read_text(&file.to_string_lossy())?;
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    Error::Invalid(format!("{}: malformed JSON: {e}", file.display()))
                })?;
                let list = v
                    .get("artifacts")
                    .and_then(|a| a.as_array())
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "{}: expected {{\"provider\": …, \"artifacts\": [digest, …]}}",
                            file.display()
                        ))
                    })?;
                for a in list {
                    let text = a.as_str().ok_or_else(|| {
                        Error::Invalid(format!(
                            "{}: artifacts must be digest strings",
                            file.display()
                        ))
                    })?;
                    components.push(digest(text)?);
                }
            }
            let req = FuseRequest {
                release_id: id,
                components,
                commit,
                override_reason: if override_ { reason } else { None },
            };
            let actor = input::actor(actor);
            match write_op(flag, |l| l.fuse(&actor, &req))?.1 {
                Fused::Refused { unmet } => {
                    if json {
                        println!("{}", json!({"fused": false, "unmet": unmet}));
                    }
                    eprintln!(
                        "provledger: refused: release '{}' does not meet the policy:",
                        req.release_id
                    );
                    for u in &unmet {
                        eprintln!("  - {u}");
                    }
                    Ok(1)
                }
                Fused::Fused {
                    appended,
                    descriptor,
                    overridden,
                } => {
                    let text = descriptor.to_string();
                    if let Some(path) = output {
                        std::fs::write(&path, format!("{text}\n"))
                            .map_err(|e| Error::Io(format!("writing {}: {e}", path.display())))?;
                    }
                    if json {
                        println!(
                            "{}",
                            json!({"fused": true, "index": appended.index, "descriptor": descriptor, "overridden": overridden})
                        );
                    } else {
                        println!(
                            "release {} fused as record {}",
                            req.release_id, appended.index
                        );
                        for u in &overridden {
                            println!("  overridden: {u}");
                        }
                    }
                    Ok(0)
                }
            }
        }
        ReleaseCommand::Promote { id, channel, actor } => {
            let actor = input::actor(actor);
            let (_, a) = write_op(flag, |l| l.promote(&actor, &id, &channel))?;
            println!("release {id} is current on {channel} (record {})", a.index);
            Ok(0)
        }
        ReleaseCommand::Rollback {
            channel,
            to,
            reason,
            override_,
            actor,
        } => {
            let actor = input::actor(actor);
            let (ledger, a) = write_op(flag, |l| {
                l.rollback(&actor, &channel, to.as_deref(), &reason, override_)
            })?;
            let current = ledger.current(&channel)?.expect("just moved");
            println!(
                "channel {channel} rolled back from {} to {} (record {})",
                current.replaces.unwrap_or_default(),
                current.release_id,
                a.index
            );
            Ok(0)
        }
        ReleaseCommand::Current { channel } => {
            let ledger = open(flag)?;
            let current = ledger
                .current(&channel)?
                .ok_or_else(|| Error::Invalid(format!("channel '{channel}' has no release")))?;
            println!("{}", ledger.descriptor(&current.release_id)?);
            Ok(0)
        }
        ReleaseCommand::History { channel, json } => {
            let moves = open(flag)?.channel_history(&channel)?;
            for m in &moves {
                if json {
                    println!("{}", serde_json::to_string(m)?);
                } else {
                    println!(
                        "{:>6}  {}  {:<9}  {} -> {}  by {}{}",
                        m.index,
                        m.time,
                        m.kind,
                        m.replaces.as_deref().unwrap_or("-"),
                        m.release_id,
                        m.actor,
                        m.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        ReleaseCommand::At {
            channel,
            time,
            json,
        } => {
            let t = input::parse_time(&time, "--time")?;
            let live = open(flag)?.live_at(&channel, t)?;
            match (live, json) {
                (Some(m), true) => println!("{}", serde_json::to_string(&m)?),
                (Some(m), false) => {
                    println!("{} (since {}, record {})", m.release_id, m.time, m.index)
                }
                (None, true) => println!("null"),
                (None, false) => println!("nothing was live on {channel} at {time}"),
            }
            Ok(0)
        }
        ReleaseCommand::List { json } => {
            for (e, m) in open(flag)?.releases()? {
                if json {
                    println!("{}", e.to_json());
                } else {
                    let tag = if m.override_.is_some() {
                        "  (override)"
                    } else {
                        ""
                    };
                    println!(
                        "{:>6}  {}  {}  {} components{tag}",
                        e.index,
                        provledger::ledger::format_time(e.record.time_us),
                        m.release_id,
                        m.components.len()
                    );
                }
            }
            Ok(0)
        }
        ReleaseCommand::Provenance { id, json } => {
            let tree = open(flag)?.provenance(&id)?;
            if json {
                println!("{tree}");
            } else {
                print_tree(&tree);
            }
            Ok(0)
        }
    }
}

/// The provenance tree, indented.
fn print_tree(t: &serde_json::Value) {
    let body = |v: &serde_json::Value| v["body"].clone();
    println!(
        "release {}  (record {})",
        t["release"].as_str().unwrap_or("?"),
        t["manifest"]["index"]
    );
    println!(
        "  policy {} (record {})",
        body(&t["policy"])["name"],
        t["policy"]["index"]
    );
    println!("  artifacts:");
    fn artifact(a: &serde_json::Value, depth: usize) {
        let pad = "  ".repeat(depth + 2);
        let b = &a["record"]["body"];
        if b.is_null() {
            println!("{pad}{} (not recorded)", a["digest"]);
            return;
        }
        println!(
            "{pad}{} from {} ({}) record {}  {}",
            b["name"], b["provider"], b["artifact_kind"], a["record"]["index"], b["digests"][0]
        );
        for s in b["sources"].as_array().into_iter().flatten() {
            println!(
                "{pad}  source {} {} {}",
                s["source_kind"], s["uri"], s["digest"]
            );
        }
        for p in a["parents"].as_array().into_iter().flatten() {
            println!("{pad}  parent:");
            artifact(p, depth + 2);
        }
    }
    for a in t["artifacts"].as_array().into_iter().flatten() {
        artifact(a, 1);
    }
    println!("  gate decisions:");
    for d in t["gate_decisions"].as_array().into_iter().flatten() {
        let b = &d["body"];
        println!(
            "    record {}: {} {} = {} {} {} -> {}",
            d["index"],
            b["gate"],
            b["metric"],
            b["observed"],
            b["comparator"],
            b["threshold"],
            b["outcome"]
        );
    }
    println!("  lane results:");
    for l in t["lane_results"].as_array().into_iter().flatten() {
        let b = &l["body"];
        println!(
            "    record {}: {} {} ({} tests)",
            l["index"], b["lane"], b["outcome"], b["tests"]
        );
    }
    println!("  channel moves:");
    for m in t["channel_moves"].as_array().into_iter().flatten() {
        println!(
            "    record {}: {} {} on {} by {} at {}",
            m["index"],
            m["kind"],
            m["body"]["release_id"],
            m["body"]["channel"],
            m["actor"],
            m["time"]
        );
    }
}
