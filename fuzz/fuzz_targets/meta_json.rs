//! Parses arbitrary bytes as `meta.json`; what parses must survive a write/read cycle.
#![no_main]

use std::path::Path;

use cortex_tsdb::block::BlockMeta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = BlockMeta::from_json(data, Path::new("meta.json")) {
        let again = BlockMeta::from_json(&m.to_json(), Path::new("meta.json")).expect("written meta parses");
        assert_eq!(again, m);
    }
});
