//! Fuzzes the memcached reply parsers with untrusted server bytes: a `get` reply fed
//! in two pieces split where the input says, and a stream of `set` replies. Must never
//! panic; a complete `get` reply holds only keys that were asked for, with values no
//! longer than the limit.

#![no_main]

use bytes::BytesMut;
use cortex_core::cache::memcached::protocol::{GetReplyParser, parse_store_reply};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 3] = ["a", "b", "key-3"];
const MAX_VALUE_LEN: u64 = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, reply)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(reply.len());
    let mut parser = GetReplyParser::new(&KEYS, MAX_VALUE_LEN);
    let mut buf = BytesMut::from(&reply[..split]);
    let mut done = matches!(parser.parse(&mut buf), Ok(true));
    if !done {
        buf.extend_from_slice(&reply[split..]);
        done = matches!(parser.parse(&mut buf), Ok(true));
    }
    if done {
        for value in parser.into_values() {
            assert!(KEYS.contains(&value.key.as_str()));
            assert!(value.data.len() as u64 <= MAX_VALUE_LEN);
        }
    }

    let mut buf = BytesMut::from(reply);
    while let Ok(Some(_)) = parse_store_reply(&mut buf) {}
});
