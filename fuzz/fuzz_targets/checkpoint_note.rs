//! Checkpoints, signed notes and verifier keys: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::checkpoint::{self, Checkpoint};
use provledger::note::{self, Signer, Verifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = Signer::from_seed("fuzz.example/log", [7; 32])
        .expect("a valid name")
        .verifier();
    let _ = Checkpoint::parse(text);
    let _ = note::split(text);
    let _ = note::open(text, std::slice::from_ref(&verifier));
    let _ = checkpoint::open(text, &[verifier]);
    if let Ok(v) = Verifier::parse(text) {
        assert!(Verifier::parse(&v.to_text()).expect("round trip") == v);
    }
    let _ = Signer::from_private_text(text);
});
