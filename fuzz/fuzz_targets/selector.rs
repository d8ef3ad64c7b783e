//! Parses arbitrary text as a series selector and matches the result against a value.
#![no_main]

use cortex_tsdb::labels::parse_selector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(ms) = parse_selector(s) {
        for m in &ms {
            let _ = m.matches("value");
            let _ = m.to_string();
        }
    }
});
