//! Parses arbitrary bytes as OpenMetrics text to the end, building every label set.
#![no_main]

use cortex_tsdb::textparse::{Entry, OpenMetricsParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut p) = OpenMetricsParser::from_bytes(data) else { return };
    while let Ok(Some(e)) = p.next() {
        if let Entry::Series(s) = e {
            let _ = s.labels();
        }
    }
});
