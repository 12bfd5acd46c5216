//! Promotion policy TOML: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::pipeline::policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = policy::parse(text);
    }
});
