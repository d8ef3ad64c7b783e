//! Decodes arbitrary bytes as a remote write 1.0 `prometheus.WriteRequest`. When that
//! succeeds, re-encodes the request and decodes it again: the result must be
//! bit-for-bit the same request, and encoding it once more must give the same bytes.
#![no_main]

use cortex_core::remote_write::{decode_v1, encode_v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_v1(data) else {
        return;
    };
    let mut bytes = Vec::new();
    encode_v1(&req, &mut bytes);
    let again = decode_v1(&bytes).expect("re-encoded request decodes");
    assert!(again.bitwise_eq(&req), "round trip changed the request");
    let mut bytes2 = Vec::new();
    encode_v1(&again, &mut bytes2);
    assert_eq!(bytes, bytes2, "encoding is not deterministic");
});
