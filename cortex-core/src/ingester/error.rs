//! The ingester's errors: [`PushError`] for a write request, [`IngesterError`] for
//! everything else (opening TSDBs, compaction, shipping, shutdown).
//!
//! A push that rejected some samples but stored the rest fails with
//! [`PushError::Partial`], whose message is Cortex's (`user=<tenant>: err: out of order
//! sample. timestamp=..., series=...`), and is a client error (HTTP 400): the sender must
//! not retry. Storage failures are server errors (HTTP 5xx), which senders retry. The
//! mapping to status codes happens in the server; [`PushError::is_client_error`] tells
//! which side of it an error is on.

use std::path::PathBuf;

use super::push::PushStats;

/// Why samples were discarded: Cortex's `reason` label values of
/// `cortex_discarded_samples_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiscardReason {
    /// Older than the head accepts (the range is in blocks already).
    SampleOutOfBounds,
    /// Older than the series' newest sample.
    SampleOutOfOrder,
    /// Outside the out-of-order window.
    SampleTooOld,
    /// Same timestamp as a stored sample, different value.
    NewValueForTimestamp,
    /// The tenant has as many series as it may.
    PerUserSeriesLimit,
    /// The metric has as many series as it may.
    PerMetricSeriesLimit,
}

impl DiscardReason {
    /// Every reason.
    pub const ALL: [DiscardReason; 6] = [
        DiscardReason::SampleOutOfBounds,
        DiscardReason::SampleOutOfOrder,
        DiscardReason::SampleTooOld,
        DiscardReason::NewValueForTimestamp,
        DiscardReason::PerUserSeriesLimit,
        DiscardReason::PerMetricSeriesLimit,
    ];

    /// Cortex's label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::SampleOutOfBounds => "sample-out-of-bounds",
            DiscardReason::SampleOutOfOrder => "sample-out-of-order",
            DiscardReason::SampleTooOld => "sample-too-old",
            DiscardReason::NewValueForTimestamp => "new-value-for-timestamp",
            DiscardReason::PerUserSeriesLimit => "per_user_series_limit",
            DiscardReason::PerMetricSeriesLimit => "per_metric_series_limit",
        }
    }
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Some samples were rejected; every other sample was stored. `message` is Cortex's
    /// text for the first rejection.
    #[error("user={tenant}: {message}")]
    Partial {
        /// The tenant.
        tenant: String,
        /// The first rejection, as Cortex words it.
        message: String,
        /// Its reason when it was a sample (`None` for a refused exemplar).
        reason: Option<DiscardReason>,
        /// What was stored and what was rejected.
        stats: Box<PushStats>,
    },
    /// A series' labels are not sorted by name, repeat a name or are empty (the
    /// distributor guarantees sorted, unique, valid labels); nothing of the request was
    /// stored.
    #[error("user={tenant}: {message}")]
    InvalidSeries {
        /// The tenant.
        tenant: String,
        /// What is wrong, as Cortex words it.
        message: String,
    },
    /// The tenant ID cannot name a directory.
    #[error("invalid tenant ID {0:?}")]
    InvalidTenant(String),
    /// The ingester is shutting down.
    #[error("ingester stopping")]
    Stopping,
    /// The tenant's TSDB could not be opened.
    #[error("user={tenant}: {source}")]
    Open {
        /// The tenant.
        tenant: String,
        /// What went wrong.
        #[source]
        source: Box<IngesterError>,
    },
    /// Appending or committing failed in storage (WAL write, chunk file); nothing of the
    /// request is visible.
    #[error("user={tenant}: {source}")]
    Storage {
        /// The tenant.
        tenant: String,
        /// The storage error.
        #[source]
        source: cortex_tsdb::Error,
    },
}

impl PushError {
    /// True for errors the sender caused (HTTP 400: do not retry); false for errors a
    /// retry may fix (HTTP 5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            PushError::Partial { .. }
                | PushError::InvalidSeries { .. }
                | PushError::InvalidTenant(_)
        )
    }
}

/// Everything else that can fail in the ingester.
#[derive(Debug, thiserror::Error)]
pub enum IngesterError {
    /// The configuration is not acceptable.
    #[error("invalid ingester configuration: {0}")]
    Config(String),
    /// The tenant ID cannot name a directory.
    #[error("invalid tenant ID {0:?}")]
    InvalidTenant(String),
    /// A tenant's TSDB failed (open, compaction, close).
    #[error("TSDB of tenant {tenant}: {source}")]
    Tsdb {
        /// The tenant.
        tenant: String,
        /// The TSDB error.
        #[source]
        source: cortex_tsdb::Error,
    },
    /// A local file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The shipper's record of uploaded blocks (`thanos.shipper.json`) is unreadable.
    #[error("shipper meta file {}: {detail}", path.display())]
    ShipperMeta {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An object-store operation failed.
    #[error("bucket {op} {path}: {source}")]
    Bucket {
        /// What was attempted.
        op: &'static str,
        /// The object.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Some blocks of a tenant could not be uploaded (they are retried on the next ship).
    #[error("tenant {tenant}: failed to upload {failed} block(s); first error: {first}")]
    Upload {
        /// The tenant.
        tenant: String,
        /// How many blocks failed.
        failed: usize,
        /// The first failure.
        first: String,
    },
    /// A background task stopped abnormally.
    #[error("background task failed: {0}")]
    Task(String),
}

impl IngesterError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngesterError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn tsdb(tenant: &str, source: cortex_tsdb::Error) -> Self {
        IngesterError::Tsdb {
            tenant: tenant.to_string(),
            source,
        }
    }
}
