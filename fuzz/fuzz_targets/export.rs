//! Export directories, verified offline: the input is the manifest; never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use provledger::export;
use provledger::note::Signer;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("provledger-fuzz-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        std::fs::write(dir.join("records.jsonl"), "").expect("writable");
        dir
    });
    std::fs::write(dir.join(export::MANIFEST_FILE), data).expect("writable");
    let verifier = Signer::from_seed("fuzz.example/log", [7; 32])
        .expect("a valid name")
        .verifier();
    let _ = export::verify(dir, &[verifier], None);
});
