//! Runs the push body path on arbitrary bytes: the first byte picks the headers (1.0,
//! 2.0, a missing content type), the rest is the snappy body, decoded under a 1 MiB
//! limit. Errors must carry a 400/413/415 class; a decoded request must survive
//! encode, compress and decode unchanged.
#![no_main]

use cortex_core::remote_write::{
    ContentHeaders, Protocol, compress, decode_request, encode_v1, encode_v2,
};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let headers = match sel % 3 {
        0 => ContentHeaders {
            content_type: Some("application/x-protobuf"),
            content_encoding: Some("snappy"),
            remote_write_version: Some("0.1.0"),
        },
        1 => ContentHeaders {
            content_type: Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
            content_encoding: Some("snappy"),
            remote_write_version: Some("2.0.0"),
        },
        _ => ContentHeaders::default(),
    };
    let mut scratch = Vec::new();
    let req = match decode_request(body, &headers, LIMIT, &mut scratch) {
        Ok(req) => req,
        Err(e) => {
            assert!(matches!(e.http_status(), 400 | 413 | 415), "{e}");
            return;
        }
    };
    let mut raw = Vec::new();
    match req.protocol {
        Protocol::V1 => encode_v1(&req, &mut raw),
        Protocol::V2 => encode_v2(&req, &mut raw),
    }
    let mut compressed = Vec::new();
    compress(&raw, &mut compressed);
    let mut scratch2 = Vec::new();
    // Re-encoding can grow a message (canonical fields, both forms of the 2.0 start
    // timestamp), so the second decode runs without a limit.
    let again = decode_request(&compressed, &headers, usize::MAX, &mut scratch2)
        .expect("re-encoded body decodes");
    assert!(again.bitwise_eq(&req), "round trip changed the request");
});
