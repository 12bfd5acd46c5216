//! Several processes at once (PRODUCT.md promise 7): writers wait for each other (or fail
//! with "busy"), readers never see a half-written record, and the final ledger verifies with
//! exactly the acknowledged records. Writers give up after a short wait ("busy") and retry;
//! `CONCURRENCY_APPENDS` sets the appends per writer (default 500, issue 6's CI size).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const WRITERS: usize = 4;

fn provledger(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    run(dir, args, stdin, 60_000)
}

fn run(
    dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    busy_ms: u64,
) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .env("PROVLEDGER_BUSY_TIMEOUT_MS", busy_ms.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        // A refused append ("busy") may exit before it reads its input.
        if let Err(e) = child.stdin.take().unwrap().write_all(text.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn concurrent_writers_and_readers_lose_nothing_and_double_nothing() {
    let appends: usize = std::env::var("CONCURRENCY_APPENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    assert_eq!(
        provledger(&p, &["init", "--origin", "test.example/concurrency"], None).0,
        0
    );
    let body = provledger(&p, &["append", "--example", "lane-result"], None).1;
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (p, stop) = (p.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(Ordering::Relaxed) {
                    let args: &[&str] = match r {
                        0 => &["log", "--json"],
                        1 => &["prove", "inclusion", "0", "--json"],
                        _ => &["verify"],
                    };
                    let (code, out, err) = provledger(&p, args, None);
                    if r == 1 && err.contains("out of range") {
                        continue; // before the first append
                    }
                    assert_eq!(code, 0, "{args:?}: {err}");
                    if r == 0 {
                        // Every line a whole record, indexes contiguous from 0.
                        for (i, line) in out.lines().enumerate() {
                            let v: serde_json::Value = serde_json::from_str(line).unwrap();
                            assert_eq!(v["index"], i as u64);
                        }
                    }
                    runs += 1;
                    // Readers share the file; a pause lets writers in between them.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                runs
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (p, body) = (p.clone(), body.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut busy = 0;
                for n in 0..appends {
                    let mine = body.replace("\"fast\"", &format!("\"writer-{w}-{n}\""));
                    let args = [
                        "append",
                        "--kind",
                        "lane-result",
                        "--json",
                        "-",
                        "--format",
                        "json",
                    ];
                    let out = loop {
                        // A short wait, so that some appends give up with "busy" and retry.
                        let (code, out, err) = run(&p, &args, Some(&mine), 300);
                        if code == 2 && err.contains("ledger is busy") {
                            busy += 1;
                            continue;
                        }
                        assert_eq!(code, 0, "writer {w} append {n}: {err}");
                        break out;
                    };
                    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                    acknowledged.push((
                        v["appended"][0]["index"].as_u64().unwrap(),
                        format!("writer-{w}-{n}"),
                    ));
                }
                eprintln!("writer {w}: {appends} appends, {busy} busy refusals retried");
                acknowledged
            })
        })
        .collect();
    let mut acknowledged: Vec<(u64, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let runs = r.join().unwrap();
        eprintln!("reader: {runs} runs");
        assert!(runs > 0, "a reader never ran");
    }
    acknowledged.sort();
    let indexes: Vec<u64> = acknowledged.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        indexes,
        (0..(WRITERS * appends) as u64).collect::<Vec<_>>(),
        "lost or doubled"
    );
    let log = provledger(&p, &["log", "--json"], None).1;
    for (line, (index, lane)) in log.lines().zip(&acknowledged) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["index"], *index);
        assert_eq!(v["body"]["lane"], lane.as_str());
    }
    let (code, out, err) = provledger(&p, &["verify"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("OK: {} records", WRITERS * appends)),
        "{out}"
    );
}

#[test]
fn a_writer_that_cannot_get_the_file_in_time_fails_with_busy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(
        provledger(p, &["init", "--origin", "test.example/busy"], None).0,
        0
    );
    // Hold the file open for writing from this process, as a long writer would.
    let db = redb::Database::open(p.join(".provledger/ledger.redb")).unwrap();
    let body = provledger(p, &["append", "--example", "lane-result"], None).1;
    let (code, _, err) = run(
        p,
        &["append", "--kind", "lane-result", "--json", "-"],
        Some(&body),
        300,
    );
    drop(db);
    assert_eq!(code, 2);
    assert!(err.contains("ledger is busy"), "{err}");
    assert_eq!(err.lines().count(), 1);
}
