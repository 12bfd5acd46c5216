fn main() {
    let ledger =
        provledger::Ledger::open(std::path::Path::new("target/tmp/bench-ledger-1m"), false)
            .unwrap();
    let q = provledger::export::Query {
        since_us: i64::MIN,
        until_us: i64::MAX,
        kinds: vec![],
        channel: None,
        format: "jsonl".into(),
    };
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    ledger.export(&q, out.path()).unwrap();
    eprintln!("{:?}", t.elapsed());
}
