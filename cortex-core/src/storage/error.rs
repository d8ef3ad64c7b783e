//! [`StorageError`]: the one error type of the blocks storage — the [`super::BlockStore`]
//! operations, its configuration, markers and the bucket index. It carries the object
//! path and the operation, so a person can find the object that failed.

/// Why a blocks-storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist.
    #[error("object {path} not found")]
    NotFound {
        /// The object's path in the bucket.
        path: String,
    },
    /// The object store failed (network, permissions, a local I/O error, ...).
    #[error("bucket {op} {path}: {source}")]
    ObjectStore {
        /// What was attempted (`get`, `put`, `list`, ...).
        op: &'static str,
        /// The object or prefix.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A path is not a valid object path (empty segments, `.`/`..`, control characters).
    #[error("invalid object path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration cannot open a store.
    #[error("invalid blocks storage config: {0}")]
    BadConfig(String),
    /// The configured backend is known to Cortex but not compiled into this build.
    #[error(
        "blocks storage backend {backend:?} is not in this build (available: filesystem, s3, gcs, azure)"
    )]
    BackendNotBuilt {
        /// The backend name from the configuration.
        backend: String,
    },
    /// An object's content could not be decoded (bad JSON, bad gzip, wrong version).
    #[error("corrupted object {path}: {reason}")]
    Corrupted {
        /// The object's path in the bucket.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tenant's bucket index exists but was last updated longer ago than allowed.
    #[error(
        "bucket index of tenant {tenant} is too old: updated at {updated_at} (unix seconds), {age_secs}s ago, more than the allowed max stale period of {max_stale_secs}s"
    )]
    IndexTooOld {
        /// The tenant.
        tenant: String,
        /// The index's `updated_at`, Unix seconds.
        updated_at: i64,
        /// How old it is, in seconds.
        age_secs: u64,
        /// `bucket_index.max_stale_period`, in seconds.
        max_stale_secs: u64,
    },
}

impl StorageError {
    /// Maps an object-store error for `op` on `path`: a missing object becomes
    /// [`StorageError::NotFound`], anything else [`StorageError::ObjectStore`].
    pub fn from_store(op: &'static str, path: &str, source: object_store::Error) -> StorageError {
        match source {
            object_store::Error::NotFound { .. } => StorageError::NotFound {
                path: path.to_string(),
            },
            source => StorageError::ObjectStore {
                op,
                path: path.to_string(),
                source,
            },
        }
    }

    /// True for [`StorageError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }
}
