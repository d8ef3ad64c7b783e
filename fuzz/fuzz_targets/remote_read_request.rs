//! Runs the remote-read request decoders on arbitrary bytes: the first byte picks the
//! entry point (the snappy body under a 1 MiB limit, or the raw message), the rest is
//! the input. Errors must be 400-class; a decoded request must survive encode and
//! decode unchanged.
#![no_main]

use cortex_core::remote_read::{
    decode_read_request, decode_read_request_message, encode_read_request,
};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let decoded = if sel % 2 == 0 {
        decode_read_request(input, LIMIT)
    } else {
        decode_read_request_message(input)
    };
    let req = match decoded {
        Ok(req) => req,
        Err(e) => {
            assert_eq!(e.http_status(), 400, "{e}");
            return;
        }
    };
    // Re-encoding can grow a message (canonical varints), so decode without a limit.
    let again = decode_read_request(&encode_read_request(&req), usize::MAX)
        .expect("re-encoded request decodes");
    assert_eq!(again, req, "round trip changed the request");
});
