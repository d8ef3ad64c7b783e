//! Walks arbitrary bytes as a chunk segment file, reading every chunk it finds.
#![no_main]

use std::path::Path;

use cortex_tsdb::chunks::walk_segment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(chunks) = walk_segment(Path::new("000001"), data) {
        for c in chunks {
            if c.is_err() {
                break;
            }
        }
    }
});
