//! Feeds arbitrary bytes to the results cache's value decoder, as they are and with a
//! valid header and checksum added so the fuzzer gets past them: nothing panics, and
//! whatever decodes encodes to a value that decodes to the same encoding again.
#![no_main]

use cortex_core::frontend::extent::{decode_extents, encode_extents};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fr:t:60000:0:300000:1:up";

fn check(bytes: &[u8]) {
    if let Ok(extents) = decode_extents(KEY, bytes) {
        let again = encode_extents(KEY, &extents);
        let decoded = decode_extents(KEY, &again).expect("an encoded value decodes");
        assert_eq!(encode_extents(KEY, &decoded), again);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut framed = b"CXRC\x01".to_vec();
    framed.extend_from_slice(&(KEY.len() as u32).to_be_bytes());
    framed.extend_from_slice(KEY.as_bytes());
    framed.extend_from_slice(data);
    let crc = crc32c::crc32c(&framed);
    framed.extend_from_slice(&crc.to_be_bytes());
    check(&framed);
});
