use provledger::kinds::{LaneResult, Outcome};
use provledger::{Body, Digest, Ledger};
fn body(i: u64) -> Body {
    Body::LaneResult(LaneResult {
        lane: "federation-integration".into(),
        commit: Some(format!("{:040x}", i)),
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
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&dir.path().join("l"), "x").unwrap();
    let mut times = vec![];
    for i in 0..20000u64 {
        let t = std::time::Instant::now();
        ledger.append("ci", body(i)).unwrap();
        times.push(t.elapsed());
    }
    let late: Vec<_> = times[15000..].to_vec();
    let mut late = late;
    late.sort();
    eprintln!("late p50 {:?}", late[2500]);
    times.sort();
    eprintln!("p50 {:?}", times[10000]);
}
