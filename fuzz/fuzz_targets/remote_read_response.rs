//! Runs the remote-read response readers on arbitrary bytes: the first byte picks the
//! `SAMPLES` body (snappy, 1 MiB limit), the raw `ReadResponse` message, or a streamed
//! body of checksummed frames (1 MiB frame limit). Nothing may panic, and every frame
//! the reader accepts must have passed its checksum.
#![no_main]

use cortex_core::remote_read::{
    chunked_frames, decode_read_response, decode_read_response_message,
};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let mut scratch = Vec::new();
            let _ = decode_read_response(input, LIMIT, &mut scratch);
        }
        1 => {
            let _ = decode_read_response_message(input);
        }
        _ => {
            for frame in chunked_frames(input, LIMIT) {
                let Ok(frame) = frame else { break };
                for series in &frame.chunked_series {
                    for chunk in &series.chunks {
                        assert!(chunk.data.len() <= input.len());
                    }
                }
            }
        }
    }
});
