//! [`DecodeError`]: every way a remote-write request can fail to decode, from the HTTP
//! headers through snappy to the protobuf fields, each naming the problem and where it
//! is, and the HTTP status class each one belongs to.

use super::wire::WireError;

/// Why a remote-write request body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The snappy block is corrupt (bad length header, bad copy offsets, wrong size).
    #[error("snappy: corrupt input: {0}")]
    Snappy(String),
    /// The compressed body or the decompressed message is over the limit
    /// (`distributor.max_recv_msg_size`). The text is Cortex's.
    #[error("received message larger than max ({size} vs {limit})")]
    TooLarge {
        /// The size found (compressed body or the snappy header's decompressed length).
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The `Content-Type` is not `application/x-protobuf` (or cannot be parsed).
    #[error(
        "unsupported content type {0:?}: expected application/x-protobuf, optionally with \
         proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request"
    )]
    UnsupportedContentType(String),
    /// The `proto` parameter names a message this server does not decode.
    #[error(
        "unsupported remote write message {0:?}: accepted are prometheus.WriteRequest and \
         io.prometheus.write.v2.Request"
    )]
    UnsupportedProtoMessage(String),
    /// The `Content-Encoding` is not snappy.
    #[error("unsupported content encoding {0:?}: only snappy is accepted")]
    UnsupportedContentEncoding(String),
    /// The protobuf bytes are malformed at `path` (for example
    /// `timeseries[3].labels[1].name`; remote write 2.0 paths start with `v2`).
    #[error("{path}: {problem}")]
    Malformed {
        /// Where: the field path from the request's root.
        path: String,
        /// What.
        problem: WireError,
    },
    /// A remote write 2.0 symbol reference past the end of the symbols table.
    #[error("{path}: {kind} ref {reference} out of range of {symbols} symbols")]
    SymbolRefOutOfRange {
        /// Where (for example `v2 timeseries[2]`).
        path: String,
        /// Which reference: `label`, `exemplar label`, `help` or `unit`.
        kind: &'static str,
        /// The reference.
        reference: u32,
        /// The size of the symbols table.
        symbols: usize,
    },
    /// A remote write 2.0 `labels_refs` list with an odd number of entries.
    #[error("{path}: odd number of label refs ({count})")]
    OddLabelRefs {
        /// Where (for example `v2 timeseries[2]`).
        path: String,
        /// How many refs there were.
        count: usize,
    },
}

impl DecodeError {
    /// The HTTP status the push endpoint answers with: 413 for a body or message over
    /// the size limit, 415 for a content type, message or encoding it does not accept,
    /// 400 for everything else (the data is bad; retrying cannot help).
    pub fn http_status(&self) -> u16 {
        match self {
            DecodeError::TooLarge { .. } => 413,
            DecodeError::UnsupportedContentType(_)
            | DecodeError::UnsupportedProtoMessage(_)
            | DecodeError::UnsupportedContentEncoding(_) => 415,
            DecodeError::Snappy(_)
            | DecodeError::Malformed { .. }
            | DecodeError::SymbolRefOutOfRange { .. }
            | DecodeError::OddLabelRefs { .. } => 400,
        }
    }

    /// The same error one level further out: `name[index]` is put in front of the path.
    #[cold]
    pub(crate) fn within(self, name: &str, index: usize) -> DecodeError {
        self.map_path(|p| crate::remote_write::wire::path_within(p, name, index))
    }

    /// The same error inside the singular field `name`.
    #[cold]
    pub(crate) fn in_field(self, name: &str) -> DecodeError {
        self.map_path(|p| crate::remote_write::wire::path_in_field(p, name))
    }

    /// Finishes a path at the request's root: an empty path becomes `request`, and
    /// `prefix` (`v2 ` for remote write 2.0, empty for 1.0) goes in front.
    #[cold]
    pub(crate) fn at_root(self, prefix: &str) -> DecodeError {
        self.map_path(|p| {
            let p = if p.is_empty() { "request" } else { p };
            format!("{prefix}{p}")
        })
    }

    fn map_path(self, f: impl FnOnce(&str) -> String) -> DecodeError {
        match self {
            DecodeError::Malformed { path, problem } => DecodeError::Malformed {
                path: f(&path),
                problem,
            },
            DecodeError::SymbolRefOutOfRange {
                path,
                kind,
                reference,
                symbols,
            } => DecodeError::SymbolRefOutOfRange {
                path: f(&path),
                kind,
                reference,
                symbols,
            },
            DecodeError::OddLabelRefs { path, count } => DecodeError::OddLabelRefs {
                path: f(&path),
                count,
            },
            other => other,
        }
    }
}

impl From<WireError> for DecodeError {
    #[cold]
    fn from(problem: WireError) -> Self {
        DecodeError::Malformed {
            path: String::new(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_from_the_inside_out() {
        let e = DecodeError::from(WireError::InvalidUtf8)
            .in_field("name")
            .within("labels", 1)
            .within("timeseries", 3)
            .at_root("");
        assert_eq!(e.to_string(), "timeseries[3].labels[1].name: invalid UTF-8");
        let e = DecodeError::from(WireError::Truncated).at_root("v2 ");
        assert_eq!(e.to_string(), "v2 request: unexpected end of data");
        let e = DecodeError::SymbolRefOutOfRange {
            path: String::new(),
            kind: "label",
            reference: 17,
            symbols: 5,
        }
        .within("timeseries", 2)
        .at_root("v2 ");
        assert_eq!(
            e.to_string(),
            "v2 timeseries[2]: label ref 17 out of range of 5 symbols"
        );
    }

    #[test]
    fn statuses_follow_the_remote_write_spec() {
        assert_eq!(
            DecodeError::TooLarge { size: 2, limit: 1 }.http_status(),
            413
        );
        assert_eq!(
            DecodeError::TooLarge {
                size: 200,
                limit: 100
            }
            .to_string(),
            "received message larger than max (200 vs 100)"
        );
        assert_eq!(
            DecodeError::UnsupportedContentType("text/plain".into()).http_status(),
            415
        );
        assert_eq!(
            DecodeError::UnsupportedProtoMessage("x".into()).http_status(),
            415
        );
        assert_eq!(
            DecodeError::UnsupportedContentEncoding("gzip".into()).http_status(),
            415
        );
        assert_eq!(DecodeError::Snappy("x".into()).http_status(), 400);
        assert_eq!(DecodeError::from(WireError::Truncated).http_status(), 400);
        assert_eq!(
            DecodeError::OddLabelRefs {
                path: "p".into(),
                count: 3
            }
            .http_status(),
            400
        );
    }
}
