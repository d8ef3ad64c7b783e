//! The frames of a `STREAMED_XOR_CHUNKS` response (Prometheus'
//! `storage/remote/chunked.go`) and the `prometheus.ChunkedReadResponse` message they
//! carry:
//!
//! ```text
//! frame               uvarint(len(message)) | CRC-32C(message), big-endian u32 | message
//! ChunkedReadResponse chunked_series=1 (ChunkedSeries), query_index=2 (int64)
//! ChunkedSeries       labels=1 (Label), chunks=2 (Chunk)
//! Label               name=1, value=2 (strings)
//! Chunk               min_time_ms=1 (int64), max_time_ms=2 (int64),
//!                     type=3 (enum UNKNOWN=0 XOR=1 HISTOGRAM=2 FLOAT_HISTOGRAM=3),
//!                     data=4 (bytes)
//! ```
//!
//! The writer ([`FrameWriter`]) encodes a message after room reserved for the header and
//! fills the header in afterwards, so a frame is built in one buffer and handed out as
//! [`Bytes`] without copying. The reader ([`chunked_frames`]) checks each frame's size
//! against a limit before looking at it, then its checksum, then decodes the message
//! borrowing from the body; nothing in it panics on any input.

use bytes::Bytes;
use cortex_tsdb::chunkenc::Encoding;
use cortex_tsdb::encoding::crc32c;

use super::error::RemoteReadError;
use crate::remote_write::Label;
use crate::remote_write::v1::decode_label;
use crate::remote_write::wire::{
    Reader, WireType, expect, put_bytes_field, put_message, put_varint, put_varint_field,
    varint_len,
};

/// Prometheus' `DefaultChunkedReadLimit`: the largest frame its client accepts (5e7
/// bytes).
pub const DEFAULT_CHUNKED_READ_LIMIT: usize = 50_000_000;

/// Bytes reserved in front of a message for its frame header (a 10-byte varint and the
/// 4-byte checksum at most).
const HEADROOM: usize = 10 + 4;

/// A chunk's encoding as the protocol names it (`Chunk.Encoding`, equal to the TSDB
/// chunk encoding byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkType {
    /// 0: not set.
    Unknown,
    /// 1: XOR floats.
    Xor,
    /// 2: integer native histograms.
    Histogram,
    /// 3: float native histograms (named in the protocol since Prometheus 2.43; 2.42
    /// already sends the TSDB's encoding number as is).
    FloatHistogram,
    /// Any other number.
    Other(i32),
}

impl ChunkType {
    /// The type from its enum number.
    pub fn from_i32(v: i32) -> ChunkType {
        match v {
            0 => ChunkType::Unknown,
            1 => ChunkType::Xor,
            2 => ChunkType::Histogram,
            3 => ChunkType::FloatHistogram,
            other => ChunkType::Other(other),
        }
    }

    /// The enum number.
    pub fn as_i32(self) -> i32 {
        match self {
            ChunkType::Unknown => 0,
            ChunkType::Xor => 1,
            ChunkType::Histogram => 2,
            ChunkType::FloatHistogram => 3,
            ChunkType::Other(v) => v,
        }
    }

    /// The TSDB chunk encoding, when this is one.
    pub fn encoding(self) -> Option<Encoding> {
        match self {
            ChunkType::Xor => Some(Encoding::Xor),
            ChunkType::Histogram => Some(Encoding::Histogram),
            ChunkType::FloatHistogram => Some(Encoding::FloatHistogram),
            ChunkType::Unknown | ChunkType::Other(_) => None,
        }
    }

    /// The type naming a TSDB chunk encoding.
    pub fn from_encoding(e: Encoding) -> ChunkType {
        match e {
            Encoding::Xor => ChunkType::Xor,
            Encoding::Histogram => ChunkType::Histogram,
            Encoding::FloatHistogram => ChunkType::FloatHistogram,
        }
    }
}

/// One chunk of a series (`prometheus.Chunk`), borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Timestamp of the first sample (ms, inclusive).
    pub min_time_ms: i64,
    /// Timestamp of the last sample (ms, inclusive).
    pub max_time_ms: i64,
    /// The encoding.
    pub chunk_type: ChunkType,
    /// The chunk bytes (what follows the encoding byte in a TSDB chunk file).
    pub data: &'a [u8],
}

/// A series, or a part of one, with its chunks (`prometheus.ChunkedSeries`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkedSeries<'a> {
    /// The labels, sorted by name.
    pub labels: Vec<Label<'a>>,
    /// The chunks in time order.
    pub chunks: Vec<Chunk<'a>>,
}

/// One frame's message (`prometheus.ChunkedReadResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkedReadResponse<'a> {
    /// The series (Prometheus sends exactly one per frame).
    pub chunked_series: Vec<ChunkedSeries<'a>>,
    /// Index of the request's query the series answer.
    pub query_index: i64,
}

/// Protobuf size of a `Label` message body (without its key and length).
pub(crate) fn label_size(name: &str, value: &str) -> usize {
    str_field_size(name.len()) + str_field_size(value.len())
}

/// Protobuf size of a `Chunk` message body (without its key and length).
pub(crate) fn chunk_size(min_time: i64, max_time: i64, chunk_type: ChunkType, len: usize) -> usize {
    let varint = |v: u64| if v == 0 { 0 } else { 1 + varint_len(v) };
    varint(min_time as u64)
        + varint(max_time as u64)
        + varint(i64::from(chunk_type.as_i32()) as u64)
        + str_field_size(len)
}

fn str_field_size(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + varint_len(len as u64) + len
    }
}

/// Builds frames: a message is written after reserved header room, then
/// [`finish`](FrameWriter::finish) puts the length and checksum in front.
#[derive(Debug, Default)]
pub struct FrameWriter {
    buf: Vec<u8>,
}

impl FrameWriter {
    /// A writer with an empty buffer.
    pub fn new() -> FrameWriter {
        FrameWriter::default()
    }

    /// Starts a frame and returns the buffer to append the message to.
    pub fn begin(&mut self) -> &mut Vec<u8> {
        self.buf.clear();
        self.buf.resize(HEADROOM, 0);
        &mut self.buf
    }

    /// True when the message written since [`begin`](FrameWriter::begin) is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= HEADROOM
    }

    /// Finishes the frame: `uvarint(len) | crc32c BE | message`.
    pub fn finish(&mut self) -> Bytes {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < HEADROOM {
            buf.resize(HEADROOM, 0);
        }
        let len = buf.len() - HEADROOM;
        let crc = crc32c(&buf[HEADROOM..]);
        let vlen = varint_len(len as u64);
        let start = HEADROOM - vlen - 4;
        let mut header = Vec::with_capacity(vlen + 4);
        put_varint(&mut header, len as u64);
        header.extend_from_slice(&crc.to_be_bytes());
        buf[start..HEADROOM].copy_from_slice(&header);
        Bytes::from(buf).slice(start..)
    }
}

/// Appends a `ChunkedSeries` field (number 1 of `ChunkedReadResponse`) with the given
/// pre-encoded labels (a run of `labels` fields) and chunks.
pub(crate) fn put_chunked_series<'c>(
    out: &mut Vec<u8>,
    encoded_labels: &[u8],
    chunks: impl Iterator<Item = Chunk<'c>>,
) {
    put_message(out, 1, |b| {
        b.extend_from_slice(encoded_labels);
        for c in chunks {
            put_message(b, 2, |b| {
                put_varint_field(b, 1, c.min_time_ms as u64);
                put_varint_field(b, 2, c.max_time_ms as u64);
                put_varint_field(b, 3, i64::from(c.chunk_type.as_i32()) as u64);
                put_bytes_field(b, 4, c.data);
            });
        }
    });
}

/// Encodes a whole `ChunkedReadResponse` as one frame (for clients of the format and
/// tests; the server builds frames incrementally).
pub fn encode_frame(resp: &ChunkedReadResponse<'_>) -> Bytes {
    let mut w = FrameWriter::new();
    let b = w.begin();
    for s in &resp.chunked_series {
        let mut labels = Vec::new();
        for l in &s.labels {
            put_message(&mut labels, 1, |b| {
                put_bytes_field(b, 1, l.name.as_bytes());
                put_bytes_field(b, 2, l.value.as_bytes());
            });
        }
        put_chunked_series(b, &labels, s.chunks.iter().copied());
    }
    put_varint_field(b, 2, resp.query_index as u64);
    w.finish()
}

/// Reads the frames of a streamed response body, checking each against
/// `max_frame_size` and its checksum.
pub fn chunked_frames(body: &[u8], max_frame_size: usize) -> ChunkedFrames<'_> {
    ChunkedFrames {
        body,
        pos: 0,
        index: 0,
        max_frame_size,
        failed: false,
    }
}

/// Reads every frame of a streamed response body (see [`chunked_frames`]).
pub fn decode_chunked_frames(
    body: &[u8],
    max_frame_size: usize,
) -> Result<Vec<ChunkedReadResponse<'_>>, RemoteReadError> {
    chunked_frames(body, max_frame_size).collect()
}

/// Iterator over the frames of a body; stops after the first error.
#[derive(Debug, Clone)]
pub struct ChunkedFrames<'a> {
    body: &'a [u8],
    pos: usize,
    index: usize,
    max_frame_size: usize,
    failed: bool,
}

impl<'a> ChunkedFrames<'a> {
    fn frame(&mut self) -> Result<ChunkedReadResponse<'a>, RemoteReadError> {
        let offset = self.pos;
        let rest = self.body.get(offset..).unwrap_or_default();
        let mut r = Reader::new(rest);
        let size = r.varint().map_err(|e| {
            RemoteReadError::from(e).at_root(&format!("frame at byte {offset}: length"))
        })?;
        let size_ok = usize::try_from(size)
            .ok()
            .filter(|&n| n <= self.max_frame_size);
        let Some(size) = size_ok else {
            return Err(RemoteReadError::FrameTooLarge {
                size,
                limit: self.max_frame_size,
            });
        };
        let header = rest.len() - r.remaining().len();
        let crc_end = header + 4;
        let (Some(crc), Some(msg)) = (
            rest.get(header..crc_end),
            rest.get(crc_end..crc_end.saturating_add(size)),
        ) else {
            return Err(RemoteReadError::FrameTruncated { offset });
        };
        let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32c(msg) != want {
            return Err(RemoteReadError::FrameChecksum { offset });
        }
        self.pos = offset + crc_end + size;
        decode_chunked_read_response(msg)
            .map_err(|e| e.within("frames", self.index).at_root("frames"))
    }
}

impl<'a> Iterator for ChunkedFrames<'a> {
    type Item = Result<ChunkedReadResponse<'a>, RemoteReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.body.len() {
            return None;
        }
        let res = self.frame();
        self.failed = res.is_err();
        self.index += 1;
        Some(res)
    }
}

/// Decodes one `ChunkedReadResponse` message (a frame's payload).
pub fn decode_chunked_read_response(
    buf: &[u8],
) -> Result<ChunkedReadResponse<'_>, RemoteReadError> {
    let mut resp = ChunkedReadResponse::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = resp.chunked_series.len();
                let s = decode_series(r.bytes()?).map_err(|e| e.within("chunked_series", i))?;
                resp.chunked_series.push(s);
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                resp.query_index = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(resp)
}

fn decode_series(buf: &[u8]) -> Result<ChunkedSeries<'_>, RemoteReadError> {
    let mut s = ChunkedSeries::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = s.labels.len();
                let l = decode_label(r.bytes()?)
                    .map_err(|e| RemoteReadError::from_decode(e).within("labels", i))?;
                s.labels.push(l);
            }
            2 => {
                expect(field, wt, WireType::Len)?;
                let i = s.chunks.len();
                let c = decode_chunk(r.bytes()?).map_err(|e| e.within("chunks", i))?;
                s.chunks.push(c);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(s)
}

fn decode_chunk(buf: &[u8]) -> Result<Chunk<'_>, RemoteReadError> {
    let mut c = Chunk {
        min_time_ms: 0,
        max_time_ms: 0,
        chunk_type: ChunkType::Unknown,
        data: &[],
    };
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                c.min_time_ms = r.varint()? as i64;
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                c.max_time_ms = r.varint()? as i64;
            }
            3 => {
                expect(field, wt, WireType::Varint)?;
                c.chunk_type = ChunkType::from_i32(r.varint()? as i32);
            }
            4 => {
                expect(field, wt, WireType::Len)?;
                c.data = r.bytes()?;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(query_index: i64, data: &[u8]) -> ChunkedReadResponse<'_> {
        ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![
                    Label {
                        name: "__name__",
                        value: "up",
                    },
                    Label {
                        name: "job",
                        value: "a",
                    },
                ],
                chunks: vec![
                    Chunk {
                        min_time_ms: -3,
                        max_time_ms: 1000,
                        chunk_type: ChunkType::Xor,
                        data,
                    },
                    Chunk {
                        min_time_ms: 1001,
                        max_time_ms: 1001,
                        chunk_type: ChunkType::Other(9),
                        data: &[],
                    },
                ],
            }],
            query_index,
        }
    }

    #[test]
    fn frames_are_length_crc_message() {
        let frame = encode_frame(&response(3, &[1, 2, 3]));
        let mut r = Reader::new(&frame);
        let len = r.varint().unwrap() as usize;
        let head = frame.len() - r.remaining().len();
        let crc = u32::from_be_bytes(frame[head..head + 4].try_into().unwrap());
        let msg = &frame[head + 4..];
        assert_eq!(msg.len(), len);
        assert_eq!(crc, crc32c(msg));
        assert_eq!(
            decode_chunked_read_response(msg).unwrap(),
            response(3, &[1, 2, 3])
        );
    }

    #[test]
    fn frames_round_trip_and_long_frames_get_wide_lengths() {
        let big = vec![7u8; 70_000];
        let mut body = Vec::new();
        body.extend_from_slice(&encode_frame(&response(0, &[1])));
        body.extend_from_slice(&encode_frame(&response(1, &big)));
        body.extend_from_slice(&encode_frame(&ChunkedReadResponse::default()));
        let got = decode_chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).unwrap();
        assert_eq!(
            got,
            vec![
                response(0, &[1]),
                response(1, &big),
                ChunkedReadResponse::default()
            ]
        );
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let frame = encode_frame(&response(0, &[1, 2, 3, 4]));
        for i in 0..frame.len() {
            let mut bad = frame.to_vec();
            bad[i] ^= 0x10;
            // A flip in the length prefix may also show up as a truncation or a
            // different size; everywhere else it is a checksum failure.
            assert!(
                decode_chunked_frames(&bad, DEFAULT_CHUNKED_READ_LIMIT).is_err(),
                "{i}"
            );
        }
        let mut bad = frame.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            decode_chunked_frames(&bad, DEFAULT_CHUNKED_READ_LIMIT).unwrap_err(),
            RemoteReadError::FrameChecksum { offset: 0 }
        );
    }

    #[test]
    fn frame_size_limit_and_truncation() {
        let frame = encode_frame(&response(0, &[1, 2, 3, 4]));
        let len = frame.len() - 1 - 4;
        assert!(decode_chunked_frames(&frame, len).is_ok());
        assert_eq!(
            decode_chunked_frames(&frame, len - 1).unwrap_err(),
            RemoteReadError::FrameTooLarge {
                size: len as u64,
                limit: len - 1
            }
        );
        let mut body = frame.to_vec();
        body.extend_from_slice(&frame[..frame.len() - 1]);
        let results: Vec<_> = chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).collect();
        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        assert_eq!(
            results[1],
            Err(RemoteReadError::FrameTruncated {
                offset: frame.len()
            })
        );
        // A length varint that never ends.
        let e = decode_chunked_frames(&[0xff; 12], usize::MAX).unwrap_err();
        assert!(e.to_string().starts_with("frame at byte 0: length"), "{e}");
        // A huge announced length is refused before anything else.
        let mut huge = Vec::new();
        put_varint(&mut huge, u64::MAX);
        assert!(matches!(
            decode_chunked_frames(&huge, DEFAULT_CHUNKED_READ_LIMIT),
            Err(RemoteReadError::FrameTooLarge { .. })
        ));
        assert!(decode_chunked_frames(&[], 0).unwrap().is_empty());
    }

    #[test]
    fn malformed_messages_name_the_frame_and_field() {
        let mut w = FrameWriter::new();
        let b = w.begin();
        put_message(b, 1, |b| put_message(b, 2, |b| b.push(0x22)));
        let frame = w.finish();
        let mut body = encode_frame(&response(0, &[1])).to_vec();
        body.extend_from_slice(&frame);
        let e = decode_chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "frames[1].chunked_series[0].chunks[0]: unexpected end of data"
        );
    }

    #[test]
    fn sizes_match_the_encoding() {
        for (min, max, t, len) in [(0, 0, ChunkType::Unknown, 0), (-1, 5, ChunkType::Xor, 300)] {
            let data = vec![0u8; len];
            let mut b = Vec::new();
            put_chunked_series(
                &mut b,
                &[],
                std::iter::once(Chunk {
                    min_time_ms: min,
                    max_time_ms: max,
                    chunk_type: t,
                    data: &data,
                }),
            );
            let mut r = Reader::new(&b);
            r.key().unwrap();
            let mut inner = Reader::new(r.bytes().unwrap());
            inner.key().unwrap();
            assert_eq!(inner.bytes().unwrap().len(), chunk_size(min, max, t, len));
        }
        assert_eq!(label_size("ab", ""), 4);
        assert_eq!(label_size("", ""), 0);
    }
}
