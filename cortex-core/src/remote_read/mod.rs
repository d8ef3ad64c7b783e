//! Remote read: Prometheus' `POST /api/v1/read` protocol (`prompb/remote.proto`,
//! `storage/remote/read_handler.go` and `codec.go` in prometheus/prometheus, 2.42 and
//! later) answered from a [`Querier`](crate::querier::Querier).
//!
//! A request ([`ReadRequest`]) is a list of queries (time range, label matchers, hints)
//! and the response types the client accepts in order of preference. The server answers
//! with the first type it supports ([`negotiate`]):
//!
//! - `SAMPLES`: one snappy-compressed `prometheus.ReadResponse` holding every query's
//!   series with their float samples and native histograms ([`sampled`]).
//! - `STREAMED_XOR_CHUNKS`: a stream of frames, each a CRC-32C-checked
//!   `prometheus.ChunkedReadResponse` carrying one series (or a part of one) re-encoded
//!   into TSDB chunks ([`streamed`], [`frame`]). Frames are produced one at a time so a
//!   server can send each as soon as it exists.
//!
//! [`respond()`] does both; the HTTP handler calls it in a blocking task and maps
//! [`RemoteReadError::http_status`]. The byte layouts are drawn in `FORMAT.md` next to
//! this file.
//!
//! - [`request`]: decoding and encoding `prometheus.ReadRequest`.
//! - [`sampled`]: the `SAMPLES` response, encoding and decoding.
//! - [`chunks`]: re-encoding a series' samples into XOR and float histogram chunks.
//! - [`streamed`]: the `STREAMED_XOR_CHUNKS` frame producer.
//! - [`frame`]: the frame format, writing and checked reading.
//! - [`respond`](mod@respond): negotiation and execution.

pub mod chunks;
mod error;
pub mod frame;
pub mod request;
pub mod respond;
pub mod sampled;
mod select;
pub mod streamed;
#[cfg(test)]
mod tests;

pub use error::RemoteReadError;
pub use frame::{
    Chunk, ChunkType, ChunkedFrames, ChunkedReadResponse, ChunkedSeries,
    DEFAULT_CHUNKED_READ_LIMIT, chunked_frames, decode_chunked_frames,
};
pub use request::{
    decode_read_request, decode_read_request_message, encode_read_request,
    encode_read_request_message,
};
pub use respond::{ReadResponse, ResponseBody, negotiate, respond};
pub use sampled::{QueryResult, decode_read_response, decode_read_response_message};
pub use streamed::StreamedFrames;

use cortex_tsdb::labels::Matcher;

/// Prometheus' `decodeReadLimit`: the largest read request body it reads (32 MiB).
/// Used here as the default cap on both the compressed body and the decompressed
/// message.
pub const DEFAULT_MAX_READ_REQUEST_SIZE: usize = 32 << 20;

/// Prometheus' default `--storage.remote.read-sample-limit`: 5e7 samples per query.
pub const DEFAULT_SAMPLE_LIMIT: usize = 50_000_000;

/// Prometheus' default `--storage.remote.read-max-bytes-in-frame`: 1 MiB.
pub const DEFAULT_MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// Content-Type of a `SAMPLES` response.
pub const SAMPLES_CONTENT_TYPE: &str = "application/x-protobuf";

/// Content-Encoding of a `SAMPLES` response.
pub const SAMPLES_CONTENT_ENCODING: &str = "snappy";

/// Content-Type of a `STREAMED_XOR_CHUNKS` response (which has no Content-Encoding).
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Limits applied while answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Most samples (floats and histograms) one query of a `SAMPLES` response may
    /// return; 0 means no limit. Prometheus' `remote_read_sample_limit`.
    pub sample_limit: usize,
    /// Frame size a `STREAMED_XOR_CHUNKS` response aims at: chunks are added to a frame
    /// until its label and chunk bytes reach this many, so a frame may exceed it by at
    /// most one chunk. Prometheus' `remote_read_max_bytes_in_frame`.
    pub max_bytes_in_frame: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            sample_limit: DEFAULT_SAMPLE_LIMIT,
            max_bytes_in_frame: DEFAULT_MAX_BYTES_IN_FRAME,
        }
    }
}

/// A response type a client can accept (`ReadRequest.ResponseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseType {
    /// 0: one `ReadResponse` with raw samples.
    Samples,
    /// 1: a stream of `ChunkedReadResponse` frames.
    StreamedXorChunks,
    /// A number this protocol version does not define (kept, as proto3 keeps unknown
    /// enum values, so negotiation can name it).
    Unknown(i32),
}

impl ResponseType {
    /// The type from its enum number.
    pub fn from_i32(v: i32) -> ResponseType {
        match v {
            0 => ResponseType::Samples,
            1 => ResponseType::StreamedXorChunks,
            other => ResponseType::Unknown(other),
        }
    }

    /// The enum number.
    pub fn as_i32(self) -> i32 {
        match self {
            ResponseType::Samples => 0,
            ResponseType::StreamedXorChunks => 1,
            ResponseType::Unknown(v) => v,
        }
    }
}

/// Query hints (`prometheus.ReadHints`): how the client will use the data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadHints {
    /// Query step (ms).
    pub step_ms: i64,
    /// The surrounding function or aggregation (`rate`, `sum`), empty if none.
    pub func: String,
    /// Start of the range the function reads (ms).
    pub start_ms: i64,
    /// End of the range the function reads (ms).
    pub end_ms: i64,
    /// Grouping labels of the surrounding aggregation.
    pub grouping: Vec<String>,
    /// True for `by`, false for `without`.
    pub by: bool,
    /// Range of a range-vector selector (ms).
    pub range_ms: i64,
}

/// One query of a request (`prometheus.Query`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// First timestamp (ms, inclusive).
    pub start_timestamp_ms: i64,
    /// Last timestamp (ms, inclusive).
    pub end_timestamp_ms: i64,
    /// The label matchers, all of which a series must satisfy.
    pub matchers: Vec<Matcher>,
    /// Hints, when the client sent them.
    pub hints: Option<ReadHints>,
}

/// A decoded remote-read request (`prometheus.ReadRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadRequest {
    /// The queries, answered in this order.
    pub queries: Vec<Query>,
    /// Response types the client accepts, most preferred first; empty means `SAMPLES`.
    pub accepted_response_types: Vec<ResponseType>,
}
