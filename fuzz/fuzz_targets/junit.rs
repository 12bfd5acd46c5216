//! JUnit XML ingestion: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::pipeline::junit;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = junit::parse(text);
    }
});
