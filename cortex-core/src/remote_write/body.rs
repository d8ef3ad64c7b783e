//! The HTTP-body layer of remote write: which message a request carries (from its
//! `Content-Type`, `Content-Encoding` and `X-Prometheus-Remote-Write-Version` headers,
//! per the remote write 2.0 spec), snappy *block* decompression with size limits, and
//! [`decode_request`], the one entry point the push handler calls.
//!
//! Negotiation ([`negotiate`]):
//!
//! | Content-Type                                             | message |
//! |----------------------------------------------------------|---------|
//! | `application/x-protobuf`                                 | 1.0     |
//! | `application/x-protobuf;proto=prometheus.WriteRequest`   | 1.0     |
//! | `application/x-protobuf;proto=io.prometheus.write.v2.Request` | 2.0 |
//! | absent                                                   | 1.0, or 2.0 when `X-Prometheus-Remote-Write-Version` is 2.x |
//! | another media type, or another `proto`                   | 415     |
//!
//! `Content-Encoding` must be `snappy` or absent (old 1.0 senders omit it; the body is
//! snappy anyway); anything else is 415. Media type, parameter names and the encoding
//! compare case-insensitively, the `proto` value exactly.
//!
//! Size limits follow Cortex (`distributor.max_recv_msg_size`, default 100 MiB): the
//! compressed body and the decompressed length announced in the snappy header are each
//! checked against the limit before anything is allocated.

use super::error::DecodeError;
use super::v1::decode_v1;
use super::v2::decode_v2;
use super::{Protocol, WriteRequest};

/// Cortex's default `distributor.max_recv_msg_size`: 100 MiB.
pub const DEFAULT_MAX_RECV_MSG_SIZE: usize = 100 << 20;

/// The request header carrying the sender's remote-write protocol version.
pub const REMOTE_WRITE_VERSION_HEADER: &str = "X-Prometheus-Remote-Write-Version";

/// The only media type remote write uses.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-protobuf";

/// The `proto` parameter value naming the 1.0 message.
pub const PROTO_V1: &str = "prometheus.WriteRequest";

/// The `proto` parameter value naming the 2.0 message.
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";

/// The request headers that decide how a body is decoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContentHeaders<'h> {
    /// `Content-Type`, if sent.
    pub content_type: Option<&'h str>,
    /// `Content-Encoding`, if sent.
    pub content_encoding: Option<&'h str>,
    /// `X-Prometheus-Remote-Write-Version`, if sent.
    pub remote_write_version: Option<&'h str>,
}

/// Decides which message a request carries (see the module doc's table), or why it
/// cannot be decoded here (415-class errors).
pub fn negotiate(headers: &ContentHeaders<'_>) -> Result<Protocol, DecodeError> {
    if let Some(enc) = headers.content_encoding {
        let enc = enc.trim();
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(DecodeError::UnsupportedContentEncoding(enc.to_string()));
        }
    }
    let Some(content_type) = headers.content_type.filter(|ct| !ct.trim().is_empty()) else {
        let v2 = headers
            .remote_write_version
            .is_some_and(|v| v.trim().split('.').next() == Some("2"));
        return Ok(if v2 { Protocol::V2 } else { Protocol::V1 });
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE) {
        return Err(DecodeError::UnsupportedContentType(
            content_type.to_string(),
        ));
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let Some((name, value)) = param.split_once('=') else {
            return Err(DecodeError::UnsupportedContentType(
                content_type.to_string(),
            ));
        };
        if !name.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        return match value {
            PROTO_V1 => Ok(Protocol::V1),
            PROTO_V2 => Ok(Protocol::V2),
            other => Err(DecodeError::UnsupportedProtoMessage(other.to_string())),
        };
    }
    Ok(Protocol::V1)
}

/// Decompresses a snappy block into `scratch` and returns the decompressed bytes.
/// Refuses a body longer than `max_size`, and a block whose header announces more than
/// `max_size` bytes before allocating anything. `scratch` is grown when needed and
/// never shrunk, so a handler can reuse one per connection.
pub fn decompress<'s>(
    body: &[u8],
    max_size: usize,
    scratch: &'s mut Vec<u8>,
) -> Result<&'s [u8], DecodeError> {
    if body.len() > max_size {
        return Err(DecodeError::TooLarge {
            size: body.len() as u64,
            limit: max_size,
        });
    }
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > max_size {
        return Err(DecodeError::TooLarge {
            size: len as u64,
            limit: max_size,
        });
    }
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
    let out = &mut scratch[..len];
    let n = snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    Ok(&scratch[..n])
}

/// Compresses `raw` into `out` (cleared first) as one snappy block, the body format of
/// every remote-write request.
pub fn compress(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(snap::raw::max_compress_len(raw.len()), 0);
    // Compressing into a buffer of `max_compress_len` bytes cannot fail for inputs
    // snappy can represent (under 4 GiB); a larger input yields an empty body, which
    // a receiver rejects as corrupt.
    let n = snap::raw::Encoder::new().compress(raw, out).unwrap_or(0);
    out.truncate(n);
}

/// Decodes a push request body: negotiates the message from `headers`, decompresses
/// into `scratch` (see [`decompress`]) and decodes 1.0 or 2.0. The request borrows its
/// strings from `scratch`.
pub fn decode_request<'s>(
    body: &[u8],
    headers: &ContentHeaders<'_>,
    max_size: usize,
    scratch: &'s mut Vec<u8>,
) -> Result<WriteRequest<'s>, DecodeError> {
    let protocol = negotiate(headers)?;
    let raw = decompress(body, max_size, scratch)?;
    match protocol {
        Protocol::V1 => decode_v1(raw),
        Protocol::V2 => decode_v2(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct<'h>(t: Option<&'h str>, e: Option<&'h str>, v: Option<&'h str>) -> ContentHeaders<'h> {
        ContentHeaders {
            content_type: t,
            content_encoding: e,
            remote_write_version: v,
        }
    }

    #[test]
    fn negotiation_table() {
        use Protocol::{V1, V2};
        let ok = [
            (
                Some("application/x-protobuf"),
                Some("snappy"),
                Some("0.1.0"),
                V1,
            ),
            (
                Some("application/x-protobuf;proto=prometheus.WriteRequest"),
                Some("snappy"),
                None,
                V1,
            ),
            (
                Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
                Some("snappy"),
                Some("2.0.0"),
                V2,
            ),
            (
                Some("Application/X-Protobuf; Proto=\"io.prometheus.write.v2.Request\""),
                Some("SNAPPY"),
                None,
                V2,
            ),
            (
                Some("application/x-protobuf; charset=utf-8; proto=io.prometheus.write.v2.Request"),
                None,
                None,
                V2,
            ),
            // A 2.0 version header does not override the message the content type names.
            (
                Some("application/x-protobuf"),
                Some("snappy"),
                Some("2.0.0"),
                V1,
            ),
            (None, None, None, V1),
            (None, Some("snappy"), Some("0.1.0"), V1),
            (None, Some("snappy"), Some("2.0.0"), V2),
            (Some(""), None, Some("2.0.0"), V2),
        ];
        for (t, e, v, want) in ok {
            assert_eq!(negotiate(&ct(t, e, v)), Ok(want), "{t:?} {e:?} {v:?}");
        }
        let bad = [
            (
                Some("application/json"),
                Some("snappy"),
                415,
                "unsupported content type",
            ),
            (
                Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
                None,
                415,
                "unsupported remote write message",
            ),
            (
                Some("application/x-protobuf;proto"),
                None,
                415,
                "unsupported content type",
            ),
            (
                Some("application/x-protobuf"),
                Some("gzip"),
                415,
                "unsupported content encoding",
            ),
            (
                Some("application/x-protobuf"),
                Some("identity"),
                415,
                "unsupported content encoding",
            ),
        ];
        for (t, e, status, text) in bad {
            let err = negotiate(&ct(t, e, None)).unwrap_err();
            assert_eq!(err.http_status(), status, "{t:?} {e:?}");
            assert!(err.to_string().starts_with(text), "{err}");
        }
    }

    #[test]
    fn snappy_round_trip_reuses_scratch() {
        let raw: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut comp = Vec::new();
        compress(&raw, &mut comp);
        assert!(comp.len() < raw.len());
        let mut scratch = vec![9u8; 3 * raw.len()];
        assert_eq!(
            decompress(&comp, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap(),
            &raw[..]
        );
        assert_eq!(
            scratch.len(),
            3 * raw.len(),
            "scratch is reused, not shrunk"
        );
    }

    #[test]
    fn corrupt_snappy_is_400() {
        let mut scratch = Vec::new();
        // Header announces 10 bytes, then a literal of 20.
        let err = decompress(&[10, 19 << 2, 1, 2], 1000, &mut scratch).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(
            err.to_string().starts_with("snappy: corrupt input"),
            "{err}"
        );
        let err = decompress(&[0xff; 11], 1000, &mut scratch).unwrap_err();
        assert!(matches!(err, DecodeError::Snappy(_)), "{err}");
    }

    #[test]
    fn oversize_is_refused_before_allocating() {
        // A 6-byte body whose header claims 1 GiB: refused from the header alone.
        let mut body = Vec::new();
        let mut n = 1u64 << 30;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        body.push(0);
        let mut scratch = Vec::new();
        let err = decompress(&body, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                size: 1 << 30,
                limit: DEFAULT_MAX_RECV_MSG_SIZE
            }
        );
        assert_eq!(err.http_status(), 413);
        assert_eq!(scratch.capacity(), 0, "nothing was allocated");

        // A compressed body over the limit is refused before looking at it.
        let err = decompress(&[0; 101], 100, &mut scratch).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                size: 101,
                limit: 100
            }
        );

        // Exactly at the limit is accepted.
        let raw = vec![7u8; 100];
        let mut comp = Vec::new();
        compress(&raw, &mut comp);
        assert_eq!(decompress(&comp, 100, &mut scratch).unwrap(), &raw[..]);
        assert!(matches!(
            decompress(&comp, 99, &mut scratch),
            Err(DecodeError::TooLarge {
                size: 100,
                limit: 99
            })
        ));
    }
}
