//! Fuzz target: arbitrary bytes as a series entry or a chunk that a store-gateway fetched
//! by byte range from a bucket object. Framing, decoding and checksum checks must return
//! a value or an error, never panic; each input is also tried with a valid CRC-32C
//! appended over its body, so mutations reach the decoders behind the checksum.

#![no_main]

use std::path::Path;

use cortex_tsdb::index_header::{Framing, decode_chunk, decode_series, framed_len};
use libfuzzer_sys::fuzz_target;

fn exercise(bytes: &[u8]) {
    let object = Path::new("tenant/01H00000000000000000000000/index");
    let offset = u64::from(bytes.first().copied().unwrap_or(0)) * 16;
    for framing in [Framing::Series, Framing::Chunk] {
        if let Ok(Some(len)) = framed_len(object, offset, bytes, framing) {
            // A whole entry is only decoded at exactly its framed length.
            if let Some(entry) = usize::try_from(len).ok().and_then(|l| bytes.get(..l)) {
                match framing {
                    Framing::Series => {
                        let _ = decode_series(object, offset, entry);
                    }
                    Framing::Chunk => {
                        let _ = decode_chunk(object, offset, entry);
                    }
                }
            }
        }
    }
    let _ = decode_series(object, offset, bytes);
    let _ = decode_chunk(object, offset, bytes);
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    // The same bytes with a checksum over everything after the first byte (where a
    // one-byte length prefix ends), so the CRC check passes for small entries.
    if data.len() > 1 {
        let mut fixed = data.to_vec();
        let crc = crc32c::crc32c(&data[1..]);
        fixed.extend_from_slice(&crc.to_be_bytes());
        exercise(&fixed);
    }
});
