//! Record decoding: never panics, and whatever decodes re-encodes to the same bytes (the
//! encoding is canonical: one record, one byte string, ledger-format.md §4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use provledger::record;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = record::decode(data) {
        let again = record::encode(&r).expect("a decoded record encodes");
        assert!(again == data, "decode/encode is not canonical");
    }
    let _ = record::peek_time(data);
});
