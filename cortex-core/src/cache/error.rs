//! [`CacheError`]: the one error type of the caches — bad configuration, and the
//! failures of a memcached operation (connecting, I/O, timeouts, replies that are not
//! the protocol). Fetches and stores never return these to a query; they are counted
//! and turn into misses. They surface from [`super::open_cache`] and from the protocol
//! parser.

use std::time::Duration;

/// Why a cache could not be opened or a memcached operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The configuration cannot open a cache.
    #[error("invalid cache config: {0}")]
    BadConfig(String),
    /// A memcached address in `addresses` is not `host:port`.
    #[error("invalid memcached address {address:?}: {reason}")]
    BadAddress {
        /// The address as configured.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A memcached cache was opened outside a Tokio runtime, which its connections and
    /// store workers need.
    #[error("the memcached cache {name} must be opened inside a Tokio runtime")]
    NoRuntime {
        /// The cache's name.
        name: String,
    },
    /// Connecting to, writing to or reading from a memcached server failed.
    #[error("memcached {address}: {op}: {source}")]
    Io {
        /// The server.
        address: String,
        /// What was attempted (`connect`, `write`, `read`).
        op: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The server closed the connection in the middle of a reply.
    #[error("memcached {address} closed the connection mid-reply")]
    Closed {
        /// The server.
        address: String,
    },
    /// An operation took longer than the configured `timeout`.
    #[error("memcached {address}: {op} timed out after {timeout:?}")]
    Timeout {
        /// The server.
        address: String,
        /// The operation (`get`, `set`).
        op: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The server answered `ERROR`, `CLIENT_ERROR ...` or `SERVER_ERROR ...`.
    #[error("memcached replied with an error: {line}")]
    ServerError {
        /// The reply line, without its `\r\n`.
        line: String,
    },
    /// A reply is not what the text protocol allows at this point.
    #[error("malformed memcached reply: {reason}")]
    MalformedReply {
        /// What is wrong with it.
        reason: String,
    },
    /// A reply announces a value longer than the cache accepts.
    #[error("memcached reply announces a {len}-byte value, more than the {max}-byte limit")]
    ValueTooLarge {
        /// The announced length.
        len: u64,
        /// The largest value accepted.
        max: u64,
    },
}

impl CacheError {
    /// A [`CacheError::MalformedReply`] with `reason`.
    pub(crate) fn malformed(reason: impl Into<String>) -> CacheError {
        CacheError::MalformedReply {
            reason: reason.into(),
        }
    }
}
