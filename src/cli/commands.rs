//! One small function per command: call the library, render, return the exit code.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use provledger::ledger::{ConsistencyProof, Filter, InclusionProof, format_time};
use provledger::proof_text::{self, ProofText};
use provledger::{Body, Digest, Error, Hash, Kind, Ledger, demo, examples, hash, proof};
use serde_json::json;

use super::{Cli, Command, Format, Prove, input};

pub fn dispatch(cli: Cli) -> Result<i32> {
    let ledger = cli.ledger;
    match cli.command {
        Command::Init { origin } => init(ledger, origin),
        Command::Append {
            kind,
            actor,
            input,
            list_kinds,
            example,
            format,
        } => {
            if list_kinds {
                for k in Kind::ALL {
                    println!("{k}");
                }
                return Ok(0);
            }
            if let Some(name) = example {
                let value = examples::example(Kind::parse(&name)?);
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(0);
            }
            let (kind, source) = (kind.unwrap_or_default(), input.unwrap_or_default());
            append(ledger, &kind, actor, &source, format)
        }
        Command::Log {
            kind,
            since,
            until,
            json,
        } => log(ledger, kind, since, until, json),
        Command::Show { index, json, raw } => show(ledger, index, json, raw),
        Command::Status { json } => status(ledger, json),
        Command::Search { digest, json } => search(ledger, &digest, json),
        Command::Prove(Prove::Inclusion { index, size, json }) => {
            let p = open(ledger)?.prove_inclusion(index, size)?;
            print_proof(&ProofText::Inclusion(p), json)
        }
        Command::Prove(Prove::Consistency { m, n, json }) => {
            let p = open(ledger)?.prove_consistency(m, n)?;
            print_proof(&ProofText::Consistency(p), json)
        }
        Command::VerifyProof {
            file,
            root,
            first_root,
            record,
            json,
        } => verify_proof(&file, &root, first_root.as_deref(), record, json),
        Command::Demo { dir } => run_demo(dir),
    }
}

fn open(flag: Option<PathBuf>) -> Result<Ledger> {
    Ok(Ledger::open(&input::ledger_dir(flag)?, false)?)
}

fn init(flag: Option<PathBuf>, origin: Option<String>) -> Result<i32> {
    let dir = input::new_ledger_dir(flag)?;
    let origin = origin.unwrap_or_else(|| input::default_origin(&dir));
    let ledger = Ledger::init(&dir, &origin)?;
    println!("created ledger {}", ledger.dir().display());
    println!("origin: {origin}");
    Ok(0)
}

fn append(
    flag: Option<PathBuf>,
    kind: &str,
    actor: Option<String>,
    source: &str,
    format: Format,
) -> Result<i32> {
    // Everything about the input is checked before the ledger is opened for writing.
    let kind = Kind::parse(kind)?;
    let text = input::read_text(source)?;
    let values = input::json_values(&text, source)?;
    let many = values.len() > 1;
    let actor = input::actor(actor);
    let mut items = Vec::with_capacity(values.len());
    for (n, value) in values.into_iter().enumerate() {
        let body = Body::parse_json(kind, value.get()).map_err(|e| {
            let at = if many {
                format!(" record {}", n + 1)
            } else {
                String::new()
            };
            Error::Invalid(format!("{source}{at}: not a valid {kind} body: {e}"))
        })?;
        items.push((actor.clone(), body));
    }
    let dir = input::ledger_dir(flag)?;
    let ledger = Ledger::open(&dir, true)?;
    let appended = ledger.append_batch(items)?;
    let head = appended.last().expect("at least one record").head;
    match format {
        Format::Json => println!("{}", json!({"appended": appended, "head": head})),
        Format::Text => {
            let (first, last) = (appended[0].index, head.size - 1);
            if first == last {
                println!("appended record {first} ({kind})");
            } else {
                println!(
                    "appended records {first}..={last} ({} {kind} records)",
                    appended.len()
                );
            }
            println!("tree head: size {}, root {}", head.size, head.root);
        }
    }
    Ok(0)
}

fn log(
    flag: Option<PathBuf>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    json: bool,
) -> Result<i32> {
    let filter = Filter {
        kind: kind.as_deref().map(Kind::parse).transpose()?,
        since_us: since
            .as_deref()
            .map(|t| input::parse_time(t, "--since"))
            .transpose()?,
        until_us: until
            .as_deref()
            .map(|t| input::parse_time(t, "--until"))
            .transpose()?,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    open(flag)?.for_each(&filter, |e| {
        let line = if json {
            e.to_json().to_string()
        } else {
            format!(
                "{:>6}  {}  {:<14}  {}",
                e.index,
                format_time(e.record.time_us),
                e.record.body.kind().name(),
                e.record.actor
            )
        };
        writeln!(out, "{line}").map_err(|e| Error::Io(format!("writing output: {e}")))
    })?;
    out.flush()?;
    Ok(0)
}

fn show(flag: Option<PathBuf>, index: u64, json: bool, raw: bool) -> Result<i32> {
    let entry = open(flag)?.entry(index)?;
    if raw {
        std::io::stdout().lock().write_all(&entry.bytes)?;
    } else if json {
        println!("{}", serde_json::to_string_pretty(&entry.to_json())?);
    } else {
        let r = &entry.record;
        println!("record {} ({})", entry.index, r.body.kind());
        println!("leaf hash: {}", entry.leaf_hash);
        println!("time:      {}", format_time(r.time_us));
        println!("actor:     {}", r.actor);
        println!("extends:   size {}, root {}", r.prev.size, r.prev.root);
        println!("{}", serde_json::to_string_pretty(&r.body.to_json())?);
    }
    Ok(0)
}

fn status(flag: Option<PathBuf>, json: bool) -> Result<i32> {
    let s = open(flag)?.status()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!("ledger:  {}", s.path.display());
        println!("origin:  {}", s.origin);
        println!("size:    {}", s.size);
        println!("root:    {}", s.root);
        println!(
            "format:  record v{}, store v{}",
            s.format_version, s.store_version
        );
    }
    Ok(0)
}

fn search(flag: Option<PathBuf>, digest: &str, json: bool) -> Result<i32> {
    let digest = Digest::parse(digest)?;
    let entries = open(flag)?.search_digest(&digest)?;
    for e in &entries {
        if json {
            println!("{}", e.to_json());
        } else {
            println!(
                "{:>6}  {:<14}  {}",
                e.index,
                e.record.body.kind().name(),
                e.leaf_hash
            );
        }
    }
    if !json && entries.is_empty() {
        eprintln!("no record names {digest}");
    }
    Ok(0)
}

fn proof_json(p: &ProofText) -> serde_json::Value {
    match p {
        ProofText::Inclusion(p) => json!({"type": "inclusion", "index": p.index, "size": p.size,
            "leaf_hash": p.leaf_hash, "root": p.root, "path": p.path}),
        ProofText::Consistency(p) => json!({"type": "consistency", "first": p.first,
            "second": p.second, "proof": p.proof}),
    }
}

fn print_proof(p: &ProofText, json: bool) -> Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(&proof_json(p))?);
    } else {
        match p {
            ProofText::Inclusion(p) => print!("{}", proof_text::format_inclusion(p)),
            ProofText::Consistency(p) => print!("{}", proof_text::format_consistency(p)),
        }
    }
    Ok(0)
}

fn parse_root(text: &str, flag: &str) -> Result<Hash> {
    Hash::from_hex(text).map_err(|e| Error::Invalid(format!("{flag}: {e}")).into())
}

/// Reads a proof in its text form or the `--json` form `prove` prints.
fn read_proof(file: &str) -> Result<ProofText> {
    let text = input::read_text(file)?;
    if !text.trim_start().starts_with('{') {
        return Ok(proof_text::parse(&text).map_err(|e| Error::Invalid(format!("{file}: {e}")))?);
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{file}: {e}")))?;
    let bad = |e: serde_json::Error| Error::Invalid(format!("{file}: {e}"));
    let field = |name: &str| v.get(name).cloned().unwrap_or(serde_json::Value::Null);
    Ok(match v.get("type").and_then(|t| t.as_str()) {
        Some("inclusion") => ProofText::Inclusion(InclusionProof {
            index: serde_json::from_value(field("index")).map_err(bad)?,
            size: serde_json::from_value(field("size")).map_err(bad)?,
            leaf_hash: serde_json::from_value(field("leaf_hash")).map_err(bad)?,
            root: serde_json::from_value(field("root")).map_err(bad)?,
            path: serde_json::from_value(field("path")).map_err(bad)?,
        }),
        Some("consistency") => ProofText::Consistency(ConsistencyProof {
            first: serde_json::from_value(field("first")).map_err(bad)?,
            second: serde_json::from_value(field("second")).map_err(bad)?,
            proof: serde_json::from_value(field("proof")).map_err(bad)?,
        }),
        _ => bail!(Error::Invalid(format!(
            "{file}: 'type' must be \"inclusion\" or \"consistency\""
        ))),
    })
}

fn verify_proof(
    file: &str,
    root: &str,
    first_root: Option<&str>,
    record: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let root = parse_root(root, "--root")?;
    let first_root = first_root
        .map(|r| parse_root(r, "--first-root"))
        .transpose()?;
    let parsed = read_proof(file)?;
    let record_leaf = match &record {
        Some(path) => Some(hash::leaf_hash(&input::read_bytes(
            &path.to_string_lossy(),
        )?)),
        None => None,
    };
    let outcome = match &parsed {
        ProofText::Inclusion(p) => {
            let leaf = record_leaf.unwrap_or(p.leaf_hash);
            if !leaf.ct_eq(&p.leaf_hash) {
                Err(Error::Failed(format!(
                    "the record's leaf hash {leaf} is not the proof's leaf {}",
                    p.leaf_hash
                )))
            } else {
                proof::verify_inclusion(p.index, p.size, &leaf, &p.path, &root)
            }
        }
        ProofText::Consistency(p) => {
            let first = first_root.unwrap_or(p.first.root);
            proof::verify_consistency(p.first.size, p.second.size, &first, &root, &p.proof)
        }
    };
    let what = match &parsed {
        ProofText::Inclusion(p) => format!(
            "record {} is in the tree of size {} with root {root}",
            p.index, p.size
        ),
        ProofText::Consistency(p) => format!(
            "the tree of size {} is a prefix of the tree of size {} with root {root}",
            p.first.size, p.second.size
        ),
    };
    let (ok, message) = match &outcome {
        Ok(()) => (true, what),
        Err(e) => (false, e.to_string()),
    };
    if json {
        println!("{}", json!({"valid": ok, "message": message}));
    } else if ok {
        println!("valid: {message}");
    } else {
        eprintln!("provledger: invalid proof: {message}");
    }
    if let Err(e) = outcome {
        if !matches!(e, Error::Failed(_)) {
            return Err(e.into());
        }
        return Ok(1);
    }
    Ok(0)
}

fn run_demo(dir: Option<PathBuf>) -> Result<i32> {
    let dir = dir.unwrap_or_else(demo::default_dir);
    let report = demo::run(&dir, &mut |line| println!("{line}"))?;
    println!();
    println!("The demo ledger is at {}", report.ledger_dir.display());
    println!(
        "Explore it: provledger --ledger {} log",
        report.ledger_dir.display()
    );
    Ok(0)
}
