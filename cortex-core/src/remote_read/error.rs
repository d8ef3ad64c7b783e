//! [`RemoteReadError`]: every way reading a request, answering it or reading a response
//! can fail, with the HTTP status the read endpoint answers each with and, where it
//! differs, what Prometheus 2.42 answers.

use crate::querier::QuerierError;
use crate::remote_write::DecodeError;
use crate::remote_write::wire::WireError;

use super::ResponseType;

/// Why a remote-read request could not be decoded or answered, or a response read.
///
/// Prometheus 2.42's handler answers 400 for anything that fails while reading the body
/// (I/O, snappy, protobuf), for a negotiation failure and for the sample limit, and 500
/// for everything else, always with the error text as a plain-text body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteReadError {
    /// The snappy block is corrupt. 400, as in Prometheus.
    #[error("snappy: corrupt input: {0}")]
    Snappy(String),
    /// The compressed body, or the decompressed length its snappy header announces, is
    /// over the size limit. 400: Prometheus reads at most 32 MiB of body and fails to
    /// decode what it cut off, which it answers with 400.
    #[error("remote read message larger than max ({size} vs {limit})")]
    TooLarge {
        /// The size found.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The protobuf bytes are malformed at `path` (for example
    /// `queries[1].matchers[0].value`). 400, as in Prometheus.
    #[error("{path}: {problem}")]
    Malformed {
        /// Where: the field path from the message's root.
        path: String,
        /// What.
        problem: WireError,
    },
    /// A label matcher type other than EQ, NEQ, RE and NRE. 400; Prometheus 2.42 builds
    /// matchers while executing and answers 500 with `invalid matcher type`.
    #[error("{path}: invalid matcher type {value}")]
    InvalidMatcherType {
        /// Where (for example `queries[0].matchers[2]`).
        path: String,
        /// The type number sent (as a Go decoder reads it: the varint's low 32 bits).
        value: i32,
    },
    /// A regular-expression matcher that does not compile. 400; Prometheus 2.42 answers
    /// 500 with the regexp compiler's message.
    #[error("{path}: invalid regular expression {pattern:?} for label {name:?}: {reason}")]
    InvalidRegex {
        /// Where (for example `queries[0].matchers[2]`).
        path: String,
        /// The label name.
        name: String,
        /// The pattern as sent.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// None of the accepted response types is supported. 400, with Prometheus' text.
    #[error(
        "server does not support any of the requested response types: [{}]; supported: \
         map[SAMPLES:{{}} STREAMED_XOR_CHUNKS:{{}}]",
        go_list(.accepted)
    )]
    UnsupportedResponseTypes {
        /// The types the client accepts.
        accepted: Vec<ResponseType>,
    },
    /// A query of a `SAMPLES` response would return more samples than the limit. 400,
    /// with Prometheus' text.
    #[error("exceeded sample limit ({limit})")]
    SampleLimitExceeded {
        /// The limit (`remote_read_sample_limit`).
        limit: usize,
    },
    /// The storage failed. 500, as in Prometheus.
    #[error("{0}")]
    Querier(#[from] QuerierError),
    /// A sample from storage could not be put into a chunk (for example a histogram
    /// whose buckets do not match its spans). 500.
    #[error("query {query}: series {series}: encoding chunk: {reason}")]
    ChunkEncoding {
        /// The query's index.
        query: usize,
        /// The series' labels.
        series: String,
        /// What went wrong.
        reason: String,
    },
    /// A response frame announces more bytes than the reader accepts (client side; the
    /// text is Prometheus' `ChunkedReader`'s).
    #[error("chunkedReader: message size exceeded the limit {limit} bytes; got: {size} bytes")]
    FrameTooLarge {
        /// The announced size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// A response frame's CRC-32C does not match its bytes (client side; Prometheus'
    /// text with the frame's offset).
    #[error("chunkedReader: corrupted frame at byte {offset}; checksum mismatch")]
    FrameChecksum {
        /// Offset of the frame's length prefix in the body.
        offset: usize,
    },
    /// A response body ends inside a frame (client side).
    #[error("chunkedReader: frame at byte {offset} is truncated")]
    FrameTruncated {
        /// Offset of the frame's length prefix in the body.
        offset: usize,
    },
    /// A time series in a `ReadResponse` could not be decoded (client side).
    #[error("{path}: {reason}")]
    InvalidSeries {
        /// Where (for example `results[0].timeseries[3]`).
        path: String,
        /// What the time-series decoder said.
        reason: String,
    },
}

impl RemoteReadError {
    /// The HTTP status the read endpoint answers with (see each variant): 500 for
    /// storage and encoding failures, 400 for everything the request is to blame for.
    /// Client-side variants (frames, response series) never come from the server path
    /// and map to 500.
    pub fn http_status(&self) -> u16 {
        match self {
            RemoteReadError::Snappy(_)
            | RemoteReadError::TooLarge { .. }
            | RemoteReadError::Malformed { .. }
            | RemoteReadError::InvalidMatcherType { .. }
            | RemoteReadError::InvalidRegex { .. }
            | RemoteReadError::UnsupportedResponseTypes { .. }
            | RemoteReadError::SampleLimitExceeded { .. } => 400,
            RemoteReadError::Querier(_)
            | RemoteReadError::ChunkEncoding { .. }
            | RemoteReadError::FrameTooLarge { .. }
            | RemoteReadError::FrameChecksum { .. }
            | RemoteReadError::FrameTruncated { .. }
            | RemoteReadError::InvalidSeries { .. } => 500,
        }
    }

    /// The same error one level further out: `name[index]` goes in front of the path.
    #[cold]
    pub(crate) fn within(self, name: &str, index: usize) -> RemoteReadError {
        self.map_path(|p| crate::remote_write::wire::path_within(p, name, index))
    }

    /// The same error inside the singular field `name`.
    #[cold]
    pub(crate) fn in_field(self, name: &str) -> RemoteReadError {
        self.map_path(|p| crate::remote_write::wire::path_in_field(p, name))
    }

    /// Finishes a path at the message's root: an empty path becomes `message`.
    #[cold]
    pub(crate) fn at_root(self, message: &str) -> RemoteReadError {
        self.map_path(|p| {
            if p.is_empty() {
                message.to_string()
            } else {
                p.to_string()
            }
        })
    }

    fn map_path(self, f: impl FnOnce(&str) -> String) -> RemoteReadError {
        match self {
            RemoteReadError::Malformed { path, problem } => RemoteReadError::Malformed {
                path: f(&path),
                problem,
            },
            RemoteReadError::InvalidMatcherType { path, value } => {
                RemoteReadError::InvalidMatcherType {
                    path: f(&path),
                    value,
                }
            }
            RemoteReadError::InvalidRegex {
                path,
                name,
                pattern,
                reason,
            } => RemoteReadError::InvalidRegex {
                path: f(&path),
                name,
                pattern,
                reason,
            },
            RemoteReadError::InvalidSeries { path, reason } => RemoteReadError::InvalidSeries {
                path: f(&path),
                reason,
            },
            other => other,
        }
    }

    /// Wraps an error of the remote-write decoders (snappy, size, or a time series
    /// inside a response).
    #[cold]
    pub(crate) fn from_decode(e: DecodeError) -> RemoteReadError {
        match e {
            DecodeError::Snappy(s) => RemoteReadError::Snappy(s),
            DecodeError::TooLarge { size, limit } => RemoteReadError::TooLarge { size, limit },
            DecodeError::Malformed { path, problem } => {
                RemoteReadError::Malformed { path, problem }
            }
            other => RemoteReadError::InvalidSeries {
                path: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

impl From<WireError> for RemoteReadError {
    #[cold]
    fn from(problem: WireError) -> Self {
        RemoteReadError::Malformed {
            path: String::new(),
            problem,
        }
    }
}

/// A list as Go's `%v` prints a slice of protobuf enums: names for known values,
/// numbers for others, separated by spaces.
fn go_list(types: &[ResponseType]) -> String {
    let names: Vec<String> = types
        .iter()
        .map(|t| match t {
            ResponseType::Samples => "SAMPLES".to_string(),
            ResponseType::StreamedXorChunks => "STREAMED_XOR_CHUNKS".to_string(),
            ResponseType::Unknown(v) => v.to_string(),
        })
        .collect();
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_failure_prints_like_prometheus() {
        let e = RemoteReadError::UnsupportedResponseTypes {
            accepted: vec![ResponseType::Unknown(5), ResponseType::Unknown(-1)],
        };
        assert_eq!(
            e.to_string(),
            "server does not support any of the requested response types: [5 -1]; \
             supported: map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]"
        );
        assert_eq!(e.http_status(), 400);
    }

    #[test]
    fn paths_are_built_from_the_inside_out() {
        let e = RemoteReadError::from(WireError::InvalidUtf8)
            .in_field("value")
            .within("matchers", 2)
            .within("queries", 1)
            .at_root("request");
        assert_eq!(e.to_string(), "queries[1].matchers[2].value: invalid UTF-8");
        let e = RemoteReadError::from(WireError::Truncated).at_root("request");
        assert_eq!(e.to_string(), "request: unexpected end of data");
    }

    #[test]
    fn statuses() {
        assert_eq!(
            RemoteReadError::SampleLimitExceeded { limit: 10 }.to_string(),
            "exceeded sample limit (10)"
        );
        assert_eq!(
            RemoteReadError::SampleLimitExceeded { limit: 10 }.http_status(),
            400
        );
        assert_eq!(
            RemoteReadError::Querier(QuerierError::Storage("disk".into())).http_status(),
            500
        );
        assert_eq!(
            RemoteReadError::TooLarge { size: 2, limit: 1 }.http_status(),
            400
        );
    }
}
