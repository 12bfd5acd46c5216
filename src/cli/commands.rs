//! One small function per command: call the library, render, return the exit code.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use provledger::ledger::{Filter, format_time, with_writable};
use provledger::{Body, Digest, Error, Kind, Ledger, demo, examples, keys};
use serde_json::json;

use super::{Cli, Command, Format, input, pipeline, proofs, release};

pub fn dispatch(cli: Cli) -> Result<i32> {
    let ledger = cli.ledger;
    match cli.command {
        Command::Init { origin, key } => init(ledger, origin, key),
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
        Command::Prove(p) => proofs::prove(ledger, p),
        Command::VerifyProof {
            file,
            vkey,
            root,
            first_root,
            record,
            json,
        } => match root {
            Some(root) => {
                proofs::verify_json_proof(&file, &root, first_root.as_deref(), record, json)
            }
            None => proofs::verify_proof_file(&file, &vkey, record, json),
        },
        Command::Checkpoint { action, size, json } => {
            proofs::checkpoint(ledger, action, size, json)
        }
        Command::Verify {
            vkey,
            export: Some(dir),
            trusted,
            json,
            ..
        } => proofs::verify_export(&dir, &vkey.unwrap_or_default(), trusted, json),
        Command::Verify {
            vkey,
            bundle: Some(bundle),
            artifacts,
            trusted,
            json,
            ..
        } => proofs::verify_bundle(&bundle, &vkey.unwrap_or_default(), artifacts, trusted, json),
        Command::Verify {
            vkey,
            trusted,
            json,
            ..
        } => proofs::verify(ledger, vkey, trusted, json),
        Command::Key(k) => proofs::key(ledger, k),
        Command::Artifact(c) => pipeline::artifact(ledger, c),
        Command::Lane(c) => pipeline::lane(ledger, c),
        Command::Policy(c) => pipeline::policy(ledger, c),
        Command::Gate(c) => pipeline::gate(ledger, c),
        Command::Release(c) => release::release(ledger, c),
        Command::Export {
            since,
            until,
            kinds,
            channel,
            format,
            output,
        } => {
            let query = provledger::export::Query {
                since_us: input::parse_time(&since, "--since")?,
                until_us: input::parse_time(&until, "--until")?,
                kinds,
                channel,
                format,
            };
            let m = open(ledger)?.export(&query, &output)?;
            println!(
                "exported {} rows (records {}..{}) to {} with the proofs to verify them offline",
                m.rows,
                m.first,
                m.end,
                output.display()
            );
            Ok(0)
        }
        Command::Migrate { json } => {
            let dir = input::ledger_dir(ledger)?;
            let m = proofs::with_progress("migrating", |progress| {
                provledger::migrate::migrate(&dir, progress)
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                println!(
                    "migrated {} records and {} checkpoints to storage version {}; the old file is kept at {}",
                    m.records,
                    m.checkpoints,
                    provledger::store::STORE_VERSION,
                    m.kept.display()
                );
            }
            Ok(0)
        }
        Command::Demo { dir } => run_demo(dir),
    }
}

pub fn open(flag: Option<PathBuf>) -> Result<Ledger> {
    Ok(Ledger::open(&input::ledger_dir(flag)?, false)?)
}

fn init(flag: Option<PathBuf>, origin: Option<String>, key: Option<PathBuf>) -> Result<i32> {
    let dir = input::new_ledger_dir(flag)?;
    let key = key.map(|path| keys::read_private(&path)).transpose()?;
    let origin = match (origin, &key) {
        (Some(o), _) => o,
        (None, Some(k)) => k.name().to_string(),
        (None, None) => input::default_origin(&dir),
    };
    let ledger = Ledger::init_with_key(&dir, &origin, key)?;
    println!("created ledger {}", ledger.dir().display());
    println!("origin:       {origin}");
    println!("verifier key: {}", ledger.current_key()?.to_text());
    println!(
        "private key:  {} (mode 0600; keep it secret)",
        ledger.dir().join(keys::KEY_FILE).display()
    );
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
    if let Some(verb) = provledger::pipeline::verb_for(kind) {
        return Err(Error::Invalid(format!(
            "{kind} records are checked against the ledger: use '{verb}', not 'append'"
        ))
        .into());
    }
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
    let (ledger, appended) = with_writable(&dir, |l| l.append_batch(items.clone()))?;
    let head = appended.last().expect("at least one record").head;
    // The receipt: the last record's inclusion proof against the checkpoint of this commit.
    let last = head.size - 1;
    let receipt = ledger.inclusion_file(last, Some(head.size))?;
    let (_, checkpoint) = ledger.checkpoint(Some(head.size))?;
    match format {
        Format::Json => {
            let proof = ledger.prove_inclusion(last, Some(head.size))?;
            let out = json!({"appended": appended, "head": head, "checkpoint": checkpoint,
                "inclusion_proof": proof, "receipt": receipt.format()});
            println!("{out}");
        }
        Format::Text => {
            let first = appended[0].index;
            if first == last {
                println!("appended record {first} ({kind})");
            } else {
                let n = appended.len();
                println!("appended records {first}..={last} ({n} {kind} records)");
            }
            println!("tree head: size {}, root {}", head.size, head.root);
            println!("receipt (inclusion of record {last}, C2SP tlog-proof):");
            print!("{}", receipt.format());
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
