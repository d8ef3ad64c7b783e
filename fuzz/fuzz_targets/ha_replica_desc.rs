//! Decodes arbitrary bytes as an HA tracker entry (Cortex's `ReplicaDesc` protobuf, as
//! read from the KV store): decoding never panics, and whatever decodes encodes to
//! bytes that decode to the same entry.
#![no_main]

use cortex_ring::ha::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode(data) {
        let again = decode(&encode(&d)).expect("an encoded entry decodes");
        assert_eq!(again, d);
    }
});
