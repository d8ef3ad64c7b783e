//! [`GatewayError`]: why a store-gateway could not serve a block. Every variant names the
//! block (`<tenant>/<ULID>`), and damaged bytes name the bucket object and the offset in
//! it, so an operator can find what to repair or delete.

use std::path::PathBuf;

use crate::storage::StorageError;

/// Why a bucket block could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The bucket failed (or an object is missing).
    #[error("block {block}: {source}")]
    Bucket {
        /// `<tenant>/<ULID>`.
        block: String,
        /// The store's error.
        #[source]
        source: Box<StorageError>,
    },
    /// Bytes fetched from the bucket are damaged: a checksum mismatch, a truncated
    /// object, an impossible length.
    #[error("block {block}: corrupted {object} ({section}) at offset {offset}: {detail}")]
    Corrupted {
        /// `<tenant>/<ULID>`.
        block: String,
        /// The bucket object (`<tenant>/<ULID>/index`, `.../chunks/000001`) or local file.
        object: String,
        /// The part of the format (`postings`, `series`, `chunk`, ...).
        section: String,
        /// Byte offset in the object.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// `meta.json` could not be decoded.
    #[error("block {block}: meta.json: {reason}")]
    Meta {
        /// `<tenant>/<ULID>`.
        block: String,
        /// What is wrong.
        reason: String,
    },
    /// The local index-header could not be built or read (disk, permissions).
    #[error("block {block}: index-header {path}: {reason}")]
    IndexHeader {
        /// `<tenant>/<ULID>`.
        block: String,
        /// The local file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A store-gateway could not be reached or failed a call (seen by its clients).
    #[error("store-gateway {gateway}: {reason}")]
    Unavailable {
        /// The store-gateway's address.
        gateway: String,
        /// What failed.
        reason: String,
    },
    /// A remote store-gateway found damaged bytes in a block (its message names the
    /// block, object and offset).
    #[error("store-gateway {gateway}: {detail}")]
    RemoteCorrupted {
        /// The store-gateway's address.
        gateway: String,
        /// The store-gateway's error.
        detail: String,
    },
    /// The store-gateway ring has no healthy instance for a block.
    #[error("store-gateway ring: {0}")]
    Ring(String),
    /// The tokio runtime the bucket is read on went away or a blocking task panicked.
    #[error("{block}: {reason}")]
    Runtime {
        /// `<tenant>/<ULID>` (or the tenant, for calls not about one block).
        block: String,
        /// What failed.
        reason: String,
    },
}

impl GatewayError {
    /// Maps an error of `cortex_tsdb` about `block`: damaged bytes become
    /// [`GatewayError::Corrupted`], anything else (local I/O while building or reading
    /// the index-header at `path`) [`GatewayError::IndexHeader`].
    pub(crate) fn from_tsdb(block: &str, path: &std::path::Path, e: cortex_tsdb::Error) -> Self {
        match e {
            cortex_tsdb::Error::Corrupted {
                file,
                section,
                offset,
                detail,
            } => GatewayError::Corrupted {
                block: block.to_string(),
                object: file.display().to_string(),
                section,
                offset,
                detail,
            },
            e => GatewayError::IndexHeader {
                block: block.to_string(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        }
    }

    /// True for damaged data ([`GatewayError::Corrupted`], here or in a remote
    /// store-gateway): retrying elsewhere would not help.
    pub fn is_corrupted(&self) -> bool {
        matches!(
            self,
            GatewayError::Corrupted { .. } | GatewayError::RemoteCorrupted { .. }
        )
    }
}
