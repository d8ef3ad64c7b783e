//! Decodes arbitrary bytes as a remote write 2.0 `io.prometheus.write.v2.Request`. When
//! that succeeds, re-encodes the request and decodes it again: the result must be
//! bit-for-bit the same request, and encoding it once more must give the same bytes.
#![no_main]

use cortex_core::remote_write::{decode_v2, encode_v2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_v2(data) else {
        return;
    };
    let mut bytes = Vec::new();
    encode_v2(&req, &mut bytes);
    let again = decode_v2(&bytes).expect("re-encoded request decodes");
    assert!(again.bitwise_eq(&req), "round trip changed the request");
    let mut bytes2 = Vec::new();
    encode_v2(&again, &mut bytes2);
    assert_eq!(bytes, bytes2, "encoding is not deterministic");
});
