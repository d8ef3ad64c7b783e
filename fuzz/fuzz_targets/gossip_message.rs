//! Decodes arbitrary bytes as a gossip message body (what a ring member reads from a
//! peer): decoding never panics, and whatever decodes encodes back to a frame whose
//! body decodes to the same message.
#![no_main]

use cortex_ring::kv::gossip::wire::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let frame = m.encode();
        let again = Message::decode(&frame[4..]).expect("an encoded message decodes");
        assert_eq!(again, m);
    }
});
