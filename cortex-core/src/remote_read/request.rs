//! Decoding and encoding `prometheus.ReadRequest` (`prompb/remote.proto`,
//! `prompb/types.proto`):
//!
//! ```text
//! ReadRequest   queries=1 (Query), accepted_response_types=2 (repeated enum, packed)
//! Query         start_timestamp_ms=1 (int64), end_timestamp_ms=2 (int64),
//!               matchers=3 (LabelMatcher), hints=4 (ReadHints)
//! LabelMatcher  type=1 (enum EQ=0 NEQ=1 RE=2 NRE=3), name=2, value=3 (strings)
//! ReadHints     step_ms=1, func=2 (string), start_ms=3, end_ms=4, grouping=5 (repeated
//!               string), by=6 (bool), range_ms=7
//! ```
//!
//! The request body is one snappy block, like a remote-write body. Matchers are built
//! here with Prometheus' semantics (anchored RE2 regular expressions), so a bad regex
//! or matcher type is a decoding error naming the matcher. Unknown fields are skipped;
//! a known field with the wrong wire type is an error; enum values are read as a Go
//! decoder reads them (the varint's low 32 bits). A singular message sent twice keeps
//! the last one.

use cortex_tsdb::labels::{LabelError, MatchType, Matcher};

use super::error::RemoteReadError;
use super::{Query, ReadHints, ReadRequest, ResponseType};
use crate::remote_write::body::{compress, decompress};
use crate::remote_write::wire::{
    Reader, WireType, expect, put_bytes_field, put_key, put_message, put_packed_varints,
    put_varint, put_varint_field,
};

/// Decodes a request body: one snappy block (checked against `max_size` before
/// anything is allocated, compressed and decompressed) holding a
/// `prometheus.ReadRequest`.
pub fn decode_read_request(body: &[u8], max_size: usize) -> Result<ReadRequest, RemoteReadError> {
    let mut scratch = Vec::new();
    let raw = decompress(body, max_size, &mut scratch).map_err(RemoteReadError::from_decode)?;
    decode_read_request_message(raw)
}

/// Decodes an uncompressed `prometheus.ReadRequest`.
pub fn decode_read_request_message(buf: &[u8]) -> Result<ReadRequest, RemoteReadError> {
    decode_request(buf).map_err(|e| e.at_root("request"))
}

fn decode_request(buf: &[u8]) -> Result<ReadRequest, RemoteReadError> {
    let mut req = ReadRequest::default();
    let mut types = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = req.queries.len();
                let q = decode_query(r.bytes()?).map_err(|e| e.within("queries", i))?;
                req.queries.push(q);
            }
            2 => r
                .repeated_varint(field, wt, &mut types, |v| v as i32)
                .map_err(|e| RemoteReadError::from(e).in_field("accepted_response_types"))?,
            _ => r.skip(field, wt)?,
        }
    }
    req.accepted_response_types = types.into_iter().map(ResponseType::from_i32).collect();
    Ok(req)
}

fn decode_query(buf: &[u8]) -> Result<Query, RemoteReadError> {
    let mut q = Query::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                q.start_timestamp_ms = r.varint()? as i64;
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                q.end_timestamp_ms = r.varint()? as i64;
            }
            3 => {
                expect(field, wt, WireType::Len)?;
                let i = q.matchers.len();
                let m = decode_matcher(r.bytes()?).map_err(|e| e.within("matchers", i))?;
                q.matchers.push(m);
            }
            4 => {
                expect(field, wt, WireType::Len)?;
                let h = decode_hints(r.bytes()?).map_err(|e| e.in_field("hints"))?;
                q.hints = Some(h);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(q)
}

fn decode_matcher(buf: &[u8]) -> Result<Matcher, RemoteReadError> {
    let mut kind = 0i32;
    let mut name = "";
    let mut value = "";
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                kind = r.varint()? as i32;
            }
            2 => {
                expect(field, wt, WireType::Len)?;
                name = r
                    .str()
                    .map_err(|e| RemoteReadError::from(e).in_field("name"))?;
            }
            3 => {
                expect(field, wt, WireType::Len)?;
                value = r
                    .str()
                    .map_err(|e| RemoteReadError::from(e).in_field("value"))?;
            }
            _ => r.skip(field, wt)?,
        }
    }
    let kind = match kind {
        0 => MatchType::Equal,
        1 => MatchType::NotEqual,
        2 => MatchType::Regexp,
        3 => MatchType::NotRegexp,
        value => {
            return Err(RemoteReadError::InvalidMatcherType {
                path: String::new(),
                value,
            });
        }
    };
    Matcher::new(kind, name, value).map_err(|e| {
        let reason = match e {
            LabelError::InvalidRegex { reason, .. } => reason,
            other => other.to_string(),
        };
        RemoteReadError::InvalidRegex {
            path: String::new(),
            name: name.to_string(),
            pattern: value.to_string(),
            reason,
        }
    })
}

fn decode_hints(buf: &[u8]) -> Result<ReadHints, RemoteReadError> {
    let mut h = ReadHints::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 | 3 | 4 | 7 => {
                expect(field, wt, WireType::Varint)?;
                let v = r.varint()? as i64;
                match field {
                    1 => h.step_ms = v,
                    3 => h.start_ms = v,
                    4 => h.end_ms = v,
                    _ => h.range_ms = v,
                }
            }
            2 => {
                expect(field, wt, WireType::Len)?;
                h.func = r
                    .str()
                    .map_err(|e| RemoteReadError::from(e).in_field("func"))?
                    .to_string();
            }
            5 => {
                expect(field, wt, WireType::Len)?;
                let i = h.grouping.len();
                let g = r
                    .str()
                    .map_err(|e| RemoteReadError::from(e).within("grouping", i))?;
                h.grouping.push(g.to_string());
            }
            6 => {
                expect(field, wt, WireType::Varint)?;
                h.by = r.varint()? != 0;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(h)
}

/// Encodes `req` as a request body: the `prometheus.ReadRequest` message compressed as
/// one snappy block, as a remote-read client sends it.
pub fn encode_read_request(req: &ReadRequest) -> Vec<u8> {
    let mut raw = Vec::new();
    encode_read_request_message(req, &mut raw);
    let mut out = Vec::new();
    compress(&raw, &mut out);
    out
}

/// Encodes `req` as an uncompressed `prometheus.ReadRequest` into `out` (cleared
/// first). Zero values are omitted as proto3 encoders do; hints that are present but
/// all zero are still written, so their presence survives.
pub fn encode_read_request_message(req: &ReadRequest, out: &mut Vec<u8>) {
    out.clear();
    for q in &req.queries {
        put_message(out, 1, |b| encode_query(b, q));
    }
    put_packed_varints(
        out,
        2,
        req.accepted_response_types
            .iter()
            .map(|t| i64::from(t.as_i32()) as u64),
    );
}

fn encode_query(b: &mut Vec<u8>, q: &Query) {
    put_varint_field(b, 1, q.start_timestamp_ms as u64);
    put_varint_field(b, 2, q.end_timestamp_ms as u64);
    for m in &q.matchers {
        put_message(b, 3, |b| {
            let kind = match m.kind() {
                MatchType::Equal => 0,
                MatchType::NotEqual => 1,
                MatchType::Regexp => 2,
                MatchType::NotRegexp => 3,
            };
            put_varint_field(b, 1, kind);
            put_bytes_field(b, 2, m.name().as_bytes());
            put_bytes_field(b, 3, m.value().as_bytes());
        });
    }
    if let Some(h) = &q.hints {
        put_message(b, 4, |b| {
            put_varint_field(b, 1, h.step_ms as u64);
            put_bytes_field(b, 2, h.func.as_bytes());
            put_varint_field(b, 3, h.start_ms as u64);
            put_varint_field(b, 4, h.end_ms as u64);
            for g in &h.grouping {
                // Repeated strings are written even when empty.
                put_key(b, 5, WireType::Len);
                put_varint(b, g.len() as u64);
                b.extend_from_slice(g.as_bytes());
            }
            put_varint_field(b, 6, u64::from(h.by));
            put_varint_field(b, 7, h.range_ms as u64);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::wire::WireError;

    fn sample_request() -> ReadRequest {
        ReadRequest {
            queries: vec![
                Query {
                    start_timestamp_ms: -5,
                    end_timestamp_ms: 1_700_000_000_000,
                    matchers: vec![
                        Matcher::new(MatchType::Equal, "__name__", "up").unwrap(),
                        Matcher::new(MatchType::NotEqual, "job", "").unwrap(),
                        Matcher::new(MatchType::Regexp, "instance", "a|b.*").unwrap(),
                        Matcher::new(MatchType::NotRegexp, "env", "dev").unwrap(),
                    ],
                    hints: Some(ReadHints {
                        step_ms: 15_000,
                        func: "rate".into(),
                        start_ms: -300_000,
                        end_ms: 1_700_000_000_000,
                        grouping: vec!["job".into(), String::new()],
                        by: true,
                        range_ms: 300_000,
                    }),
                },
                Query {
                    hints: Some(ReadHints::default()),
                    ..Query::default()
                },
                Query::default(),
            ],
            accepted_response_types: vec![
                ResponseType::Unknown(-7),
                ResponseType::StreamedXorChunks,
                ResponseType::Samples,
            ],
        }
    }

    #[test]
    fn request_round_trips_through_body_and_message() {
        let req = sample_request();
        let body = encode_read_request(&req);
        assert_eq!(decode_read_request(&body, 1 << 20).unwrap(), req);
        let mut raw = Vec::new();
        encode_read_request_message(&req, &mut raw);
        assert_eq!(decode_read_request_message(&raw).unwrap(), req);
        assert_eq!(
            decode_read_request_message(&[]).unwrap(),
            ReadRequest::default()
        );
    }

    #[test]
    fn unpacked_response_types_and_unknown_fields_are_accepted() {
        // accepted_response_types as two unpacked varints, then an unknown field 9.
        let raw = [0x10, 0x01, 0x10, 0x00, 0x4a, 0x01, b'x'];
        let req = decode_read_request_message(&raw).unwrap();
        assert_eq!(
            req.accepted_response_types,
            vec![ResponseType::StreamedXorChunks, ResponseType::Samples]
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut raw = Vec::new();
        encode_read_request_message(&sample_request(), &mut raw);
        for n in 0..raw.len() {
            // Some prefixes end on a field boundary and decode; the rest must fail
            // cleanly.
            if let Err(e) = decode_read_request_message(&raw[..n]) {
                assert_eq!(e.http_status(), 400, "{e}");
            }
        }
        let e = decode_read_request_message(&raw[..raw.len() - 1]).unwrap_err();
        assert!(matches!(e, RemoteReadError::Malformed { .. }), "{e}");
    }

    #[test]
    fn bad_varints_and_wire_types_name_their_field() {
        let e = decode_read_request_message(&[0x0a, 0x03, 0x08, 0xff, 0xff]).unwrap_err();
        assert_eq!(
            e,
            RemoteReadError::Malformed {
                path: "queries[0]".into(),
                problem: WireError::Truncated
            }
        );
        let mut long = vec![0x08];
        long.extend([0xff; 11]);
        let mut raw = vec![0x0a, long.len() as u8];
        raw.extend(&long);
        let e = decode_read_request_message(&raw).unwrap_err();
        assert_eq!(e.to_string(), "queries[0]: varint longer than 10 bytes");
        // start_timestamp_ms as fixed64.
        let e =
            decode_read_request_message(&[0x0a, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("queries[0]: field 1: wire type 1"),
            "{e}"
        );
        // A matcher value that is not UTF-8.
        let e = decode_read_request_message(&[0x0a, 0x06, 0x1a, 0x04, 0x1a, 0x02, 0xff, 0xfe])
            .unwrap_err();
        assert_eq!(e.to_string(), "queries[0].matchers[0].value: invalid UTF-8");
        // A group in an unknown field.
        let e = decode_read_request_message(&[0x4b]).unwrap_err();
        assert!(e.to_string().starts_with("request: field 9: groups"), "{e}");
    }

    #[test]
    fn bad_matcher_type_and_regex_are_named() {
        // Query 0, matcher 0 with type 4.
        let e = decode_read_request_message(&[0x0a, 0x04, 0x1a, 0x02, 0x08, 0x04]).unwrap_err();
        assert_eq!(
            e,
            RemoteReadError::InvalidMatcherType {
                path: "queries[0].matchers[0]".into(),
                value: 4
            }
        );
        assert_eq!(e.http_status(), 400);
        // Type 2^32 reads as 0 (EQ), as in Go.
        let mut m = vec![0x08];
        put_varint(&mut m, 1 << 32);
        let mut q = Vec::new();
        put_message(&mut q, 3, |b| b.extend(&m));
        let mut raw = Vec::new();
        put_message(&mut raw, 1, |b| b.extend(&q));
        let req = decode_read_request_message(&raw).unwrap();
        assert_eq!(req.queries[0].matchers[0].kind(), MatchType::Equal);

        let mut raw = Vec::new();
        put_message(&mut raw, 1, |b| {
            put_message(b, 3, |_| {});
            put_message(b, 3, |b| {
                put_varint_field(b, 1, 2);
                put_bytes_field(b, 2, b"job");
                put_bytes_field(b, 3, b"a(b");
            });
        });
        let e = decode_read_request_message(&raw).unwrap_err();
        assert!(
            matches!(&e, RemoteReadError::InvalidRegex { path, pattern, name, .. }
                if path == "queries[0].matchers[1]" && pattern == "a(b" && name == "job"),
            "{e:?}"
        );
        assert!(e.to_string().contains("\"a(b\""), "{e}");
    }

    #[test]
    fn oversize_and_corrupt_bodies_are_refused() {
        // A snappy header announcing 1 GiB.
        let mut body = Vec::new();
        put_varint(&mut body, 1 << 30);
        body.push(0);
        assert_eq!(
            decode_read_request(&body, DEFAULT_LIMIT).unwrap_err(),
            RemoteReadError::TooLarge {
                size: 1 << 30,
                limit: DEFAULT_LIMIT
            }
        );
        let e = decode_read_request(&[10, 19 << 2, 1, 2], DEFAULT_LIMIT).unwrap_err();
        assert!(matches!(e, RemoteReadError::Snappy(_)), "{e}");
        assert_eq!(e.http_status(), 400);
        let body = encode_read_request(&sample_request());
        assert!(matches!(
            decode_read_request(&body, 10),
            Err(RemoteReadError::TooLarge { limit: 10, .. })
        ));
    }

    const DEFAULT_LIMIT: usize = super::super::DEFAULT_MAX_READ_REQUEST_SIZE;
}
