//! Peak memory (VmHWM) of one process that works on a ledger of 10^4 and of 10^6 records:
//! open, 1,000 single durable appends, a batch of 10,000, 2,000 inclusion and 2,000
//! consistency proofs at random sizes, a `log` of the last 1,000 records and a digest search.
//! Each measurement runs in a fresh child process (this same binary), so the numbers are not
//! polluted by building the ledger. Linux only (reads /proc/self/status).
//!
//! Run: `cargo bench --bench memory`. Prints both peaks and their ratio (limit 1.2).

use std::path::{Path, PathBuf};
use std::process::Command;

use provledger::kinds::{LaneResult, Outcome};
use provledger::ledger::Filter;
use provledger::{Body, Digest, Ledger};

fn body(i: u64) -> Body {
    Body::LaneResult(LaneResult {
        lane: "federation-integration".into(),
        commit: Some(format!("{i:040x}")),
        subjects: vec![Digest::blake3(&i.to_le_bytes())],
        outcome: Outcome::Passed,
        tests: 412,
        failures: 0,
        errors: 0,
        skipped: 3,
        duration_ms: 81_250,
        report_digest: Some(Digest::sha256(&i.to_le_bytes())),
    })
}

fn build(dir: &Path, n: u64) {
    let ledger = Ledger::init(dir, "bench.example/memory").unwrap();
    let mut i = 0;
    while i < n {
        let end = (i + 50_000).min(n);
        ledger
            .append_batch((i..end).map(|j| ("ci".to_string(), body(j))).collect())
            .unwrap();
        i = end;
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn work(dir: &Path) {
    let ledger = Ledger::open(dir, true).unwrap();
    let n = ledger.status().unwrap().size;
    for i in 0..1_000 {
        ledger.append("ci", body(n + i)).unwrap();
    }
    let batch = (0..10_000)
        .map(|i| ("ci".to_string(), body(n + 1_000 + i)))
        .collect();
    ledger.append_batch(batch).unwrap();
    let size = ledger.status().unwrap().size;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2_000 {
        let k = 1 + next(&mut s) % size;
        ledger.prove_inclusion(next(&mut s) % k, Some(k)).unwrap();
        ledger
            .prove_consistency(1 + next(&mut s) % k, Some(k))
            .unwrap();
    }
    let since = ledger.entry(size - 1_000).unwrap().record.time_us;
    let mut count = 0;
    let filter = Filter {
        since_us: Some(since),
        ..Filter::default()
    };
    ledger
        .for_each(&filter, |_| {
            count += 1;
            Ok(())
        })
        .unwrap();
    assert!(count >= 1_000);
    assert_eq!(
        ledger
            .search_digest(&Digest::blake3(&7u64.to_le_bytes()))
            .unwrap()
            .len(),
        1
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = hwm.split_whitespace().nth(1).unwrap().parse().unwrap();
    println!("{kib}");
}

fn child(args: &[&str]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--build") => return build(Path::new(&args[2]), args[3].parse().unwrap()),
        Some("--work") => return work(Path::new(&args[2])),
        _ => {}
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-memory");
    let mut peaks = Vec::new();
    for n in [10_000u64, 1_000_000] {
        let dir = root.join(n.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        child(&["--build", dir.to_str().unwrap(), &n.to_string()]);
        let kib: u64 = child(&["--work", dir.to_str().unwrap()])
            .trim()
            .parse()
            .unwrap();
        println!("memory/peak_rss_kib/{n}: {kib}");
        peaks.push(kib as f64);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "memory/ratio_1m_over_10k: {:.3} (limit 1.2)",
        peaks[1] / peaks[0]
    );
}
