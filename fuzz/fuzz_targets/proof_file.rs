//! Proof files (C2SP tlog-proof and the consistency file): never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::proof_file::ProofFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ProofFile::parse(text);
    }
});
