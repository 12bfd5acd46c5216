//! Release bundles, verified offline: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::bundle;
use provledger::note::Signer;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = Signer::from_seed("fuzz.example/log", [7; 32])
        .expect("a valid name")
        .verifier();
    let _ = bundle::verify(text, &[verifier], None, None);
});
