//! Decodes arbitrary bytes as a block's tombstones file; re-encoding what decodes must
//! decode to the same tombstones.
#![no_main]

use std::path::Path;

use cortex_tsdb::tombstones::Tombstones;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tombstones::decode(data, Path::new("tombstones")) {
        let again = Tombstones::decode(&t.encode(), Path::new("tombstones")).expect("re-encoded tombstones decode");
        assert_eq!(again, t);
    }
});
