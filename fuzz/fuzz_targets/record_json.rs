//! Record JSON for every kind (what `append --json` reads): never panics, and a body that
//! parses validates and survives encode/decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::record::{self, Kind, Record, TreeHead};
use provledger::{Body, Hash};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = Kind::ALL[usize::from(selector) % Kind::ALL.len()];
    if let Ok(body) = Body::parse_json(kind, text) {
        let r = Record {
            version: record::FORMAT_VERSION,
            time_us: 0,
            actor: "fuzz".into(),
            prev: TreeHead {
                size: 0,
                root: Hash([0; 32]),
            },
            body,
        };
        if let Ok(bytes) = record::encode(&r) {
            assert!(record::decode(&bytes).expect("own encoding decodes") == r);
        }
    }
});
