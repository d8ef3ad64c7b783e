//! Unit tests of the text-protocol encoder and reply parsers: every reply shape,
//! replies split at every byte, and the malformed ones (truncated, oversized, negative
//! or non-numeric lengths, unknown keys, missing terminators, over-long lines).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use super::protocol::*;
use crate::cache::CacheError;

fn parse_all(expected: &[&str], max: u64, reply: &[u8]) -> Result<Option<Vec<Value>>, CacheError> {
    let mut parser = GetReplyParser::new(expected, max);
    let mut buf = BytesMut::from(reply);
    if parser.parse(&mut buf)? {
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(Some(parser.into_values()))
    } else {
        Ok(None)
    }
}

fn malformed(expected: &[&str], reply: &[u8]) -> String {
    match parse_all(expected, 1 << 20, reply) {
        Err(CacheError::MalformedReply { reason }) => reason,
        other => panic!(
            "{:?}: expected a malformed reply, got {other:?}",
            String::from_utf8_lossy(reply)
        ),
    }
}

#[test]
fn encodes_get_and_set() {
    let mut out = Vec::new();
    encode_get(["a", "b:c"], &mut out);
    assert_eq!(out, b"get a b:c\r\n");
    out.clear();
    encode_set("k", 1, 60, &[b"ke", b"y\r\nv"], &mut out);
    assert_eq!(out, b"set k 1 60 6\r\nkey\r\nv\r\n");
}

#[test]
fn exptime_rounds_up_and_switches_to_unix_time_after_30_days() {
    assert_eq!(exptime(Duration::ZERO), 0);
    assert_eq!(exptime(Duration::from_millis(1)), 1);
    assert_eq!(exptime(Duration::from_millis(1500)), 2);
    assert_eq!(
        exptime(Duration::from_secs(MAX_RELATIVE_EXPTIME)),
        MAX_RELATIVE_EXPTIME as u32
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let abs = u64::from(exptime(Duration::from_secs(MAX_RELATIVE_EXPTIME + 1)));
    assert!(abs >= now + MAX_RELATIVE_EXPTIME && abs <= now + MAX_RELATIVE_EXPTIME + 10);
}

#[test]
fn parses_empty_reply() {
    assert_eq!(parse_all(&["a"], 10, b"END\r\n").unwrap(), Some(vec![]));
}

#[test]
fn parses_values_with_and_without_cas() {
    let reply = b"VALUE a 0 3\r\nabc\r\nVALUE b 42 5 9876\r\nx\r\ny\n\r\nVALUE e 4294967295 0\r\n\r\nEND\r\n";
    let values = parse_all(&["a", "b", "e", "missing"], 10, reply)
        .unwrap()
        .unwrap();
    assert_eq!(
        values,
        vec![
            Value {
                key: "a".into(),
                flags: 0,
                data: Bytes::from_static(b"abc")
            },
            Value {
                key: "b".into(),
                flags: 42,
                data: Bytes::from_static(b"x\r\ny\n")
            },
            Value {
                key: "e".into(),
                flags: u32::MAX,
                data: Bytes::new()
            },
        ]
    );
}

#[test]
fn parses_a_reply_fed_one_byte_at_a_time() {
    let reply = b"VALUE a 1 3\r\nabc\r\nVALUE b 2 2\r\nde\r\nEND\r\n";
    let keys = ["a", "b"];
    let mut parser = GetReplyParser::new(&keys, 10);
    let mut buf = BytesMut::new();
    for (i, &b) in reply.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        let done = parser.parse(&mut buf).unwrap();
        assert_eq!(done, i == reply.len() - 1, "at byte {i}");
    }
    let values = parser.into_values();
    assert_eq!(values.len(), 2);
    assert_eq!(values[1].data, Bytes::from_static(b"de"));
}

#[test]
fn truncated_replies_need_more_bytes() {
    let reply = b"VALUE a 0 3\r\nabc\r\nEND\r\n";
    for cut in 0..reply.len() {
        assert_eq!(
            parse_all(&["a"], 10, &reply[..cut]).unwrap(),
            None,
            "cut at {cut}"
        );
    }
}

#[test]
fn bytes_after_end_stay_in_the_buffer() {
    let mut parser = GetReplyParser::new(&["a"], 10);
    let mut buf = BytesMut::from(&b"END\r\nEND\r\n"[..]);
    assert!(parser.parse(&mut buf).unwrap());
    assert_eq!(&buf[..], b"END\r\n");
}

#[test]
fn error_lines_are_server_errors() {
    for (reply, line) in [
        (&b"ERROR\r\n"[..], "ERROR"),
        (
            b"CLIENT_ERROR bad command line format\r\n",
            "CLIENT_ERROR bad command line format",
        ),
        (
            b"VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory\r\n",
            "SERVER_ERROR out of memory",
        ),
    ] {
        match parse_all(&["a"], 10, reply) {
            Err(CacheError::ServerError { line: got }) => assert_eq!(got, line),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn oversized_values_are_refused_before_reading_them() {
    match parse_all(&["a"], 10, b"VALUE a 0 11\r\n") {
        Err(CacheError::ValueTooLarge { len: 11, max: 10 }) => {}
        other => panic!("{other:?}"),
    }
    match parse_all(&["a"], u64::MAX, b"VALUE a 0 99999999999999999999\r\n") {
        Err(CacheError::MalformedReply { .. }) => {} // overflows u64
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_headers_are_refused() {
    malformed(&["a"], b"VALUE a 0 -1\r\n");
    malformed(&["a"], b"VALUE a -1 1\r\n");
    malformed(&["a"], b"VALUE a 0 +1\r\n");
    malformed(&["a"], b"VALUE a 0 1x\r\n");
    malformed(&["a"], b"VALUE a 0  1\r\n");
    malformed(&["a"], b"VALUE a 0\r\n");
    malformed(&["a"], b"VALUE a 4294967296 1\r\n");
    malformed(&["a"], b"VALUE a 0 1 cas\r\n");
    malformed(&["a"], b"VALUE a 0 1 1 extra\r\n");
    malformed(&["a"], b"VALUE\r\n");
    malformed(&["a"], b"value a 0 1\r\n");
    malformed(&["a"], b"HELLO\r\n");
    malformed(&["a"], b"\r\n");
    malformed(&["a"], b"STORED\r\n");
    assert!(malformed(&["a"], b"VALUE b 0 1\r\nx\r\nEND\r\n").contains("not asked for"));
    assert!(malformed(&["a"], b"VALUE \xff 0 1\r\n").contains("not asked for"));
}

#[test]
fn data_block_must_end_with_crlf() {
    malformed(&["a"], b"VALUE a 0 3\r\nabcd\r\nEND\r\n");
    malformed(&["a"], b"VALUE a 0 3\r\nab\r\nEND\r\n");
}

#[test]
fn over_long_lines_are_refused() {
    let mut reply = vec![b'x'; MAX_LINE_LEN + 2];
    assert!(malformed(&["a"], &reply).contains("longer than"));
    reply.truncate(MAX_LINE_LEN);
    assert_eq!(parse_all(&["a"], 10, &reply).unwrap(), None);
}

#[test]
fn parses_store_replies() {
    let mut buf = BytesMut::from(
        &b"STORED\r\nNOT_STORED\r\nSERVER_ERROR object too large for cache\r\nEXISTS\r\nSTO"[..],
    );
    assert_eq!(
        parse_store_reply(&mut buf).unwrap(),
        Some(StoreReply::Stored)
    );
    assert_eq!(
        parse_store_reply(&mut buf).unwrap(),
        Some(StoreReply::NotStored)
    );
    assert!(matches!(
        parse_store_reply(&mut buf),
        Err(CacheError::ServerError { .. })
    ));
    assert!(matches!(
        parse_store_reply(&mut buf),
        Err(CacheError::MalformedReply { .. })
    ));
    assert_eq!(parse_store_reply(&mut buf).unwrap(), None);
}
