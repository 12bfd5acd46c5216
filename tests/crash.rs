//! Crashes (PRODUCT.md promise 6): the real binary appends in a loop and is killed with SIGKILL
//! at random moments; after each kill the ledger opens, verifies, holds every acknowledged
//! record with its exact bytes, and appending continues. CI runs `CRASH_KILLS` kills (default
//! 200); the extended lane runs 2,000.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn provledger(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A shell loop that appends records (single and batches) and writes each acknowledged index
/// and leaf hash to a side file only after the command returned.
const WRITER: &str = r#"
i=0
while true; do
  i=$((i+1))
  if [ $((i % 5)) -eq 0 ]; then input="$BATCH"; else input="$ONE"; fi
  out=$(printf '%s' "$input" | "$BIN" append --kind lane-result --json - --format json) || exit 1
  printf '%s\n' "$out" >> acknowledged.jsonl
done
"#;

#[test]
fn killed_appends_lose_no_acknowledged_record() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert_eq!(
        provledger(p, &["init", "--origin", "test.example/crash"]).0,
        0
    );
    let one = provledger(p, &["append", "--example", "lane-result"]).1;
    let body: serde_json::Value = serde_json::from_str(&one).unwrap();
    let batch = serde_json::to_string(&vec![body.clone(); 7]).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    // Kills that landed after a commit and before its output: the records are there, the
    // writer never heard of them.
    let (mut unacknowledged, mut after_commit) = (0, 0);
    for kill in 0..kills {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRITER)
            .current_dir(p)
            .env("BIN", env!("CARGO_BIN_EXE_provledger"))
            .env("ONE", &one)
            .env("BATCH", &batch)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // A short window: the kill lands in the first few appends, and the ledger stays small
        // enough that checking it after every kill stays cheap.
        std::thread::sleep(Duration::from_millis(2 + seed % 50));
        // Kill the whole process group: the shell and the provledger it is running.
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &child.id().to_string()])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        // After the crash: it opens, verifies, and every acknowledged record is there.
        let (code, out, err) = provledger(p, &["verify", "--json"]);
        assert_eq!(code, 0, "kill {kill}: verify failed: {out}{err}");
        let log = provledger(p, &["log", "--json"]).1;
        let rows: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let acks = std::fs::read_to_string(p.join("acknowledged.jsonl")).unwrap_or_default();
        let mut acknowledged_records = 0;
        for ack in acks.lines() {
            let v: serde_json::Value = serde_json::from_str(ack).unwrap();
            for a in v["appended"].as_array().unwrap() {
                acknowledged_records += 1;
                let i = a["index"].as_u64().unwrap() as usize;
                assert!(
                    i < rows.len(),
                    "kill {kill}: acknowledged record {i} is gone"
                );
                assert_eq!(
                    rows[i]["leaf_hash"], a["leaf_hash"],
                    "kill {kill}: record {i} changed"
                );
            }
        }
        if rows.len() - acknowledged_records > unacknowledged {
            after_commit += 1;
        }
        unacknowledged = rows.len() - acknowledged_records;
        if (kill + 1) % 250 == 0 {
            eprintln!("{} kills, {} records", kill + 1, rows.len());
        }
    }
    // Appending continues after the last crash.
    let r = Command::new(env!("CARGO_BIN_EXE_provledger"))
        .args(["append", "--kind", "lane-result", "--json", "-"])
        .current_dir(p)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(one.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let acks = std::fs::read_to_string(p.join("acknowledged.jsonl")).unwrap_or_default();
    let reader = BufReader::new(acks.as_bytes());
    let acknowledged = reader.lines().count();
    assert!(acknowledged > 0, "no append was ever acknowledged");
    eprintln!(
        "{kills} kills survived; {acknowledged} acknowledged appends, every one found; \
         {after_commit} kills landed between a commit and its output, {} before a commit was \
         durable or between appends",
        kills - after_commit
    );
}
