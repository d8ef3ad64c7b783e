//! [`IngesterApi`]: what distributors, queriers and the ruler ask of an ingester, as a
//! boundary that may cross the network — the operations of Cortex's `Ingester` gRPC
//! service: push, query (streamed in batches of series), exemplars, label names, label
//! values, series, metric metadata and user stats.
//!
//! Two implementations: the local [`Ingester`](super::Ingester) ([`local`], a thin
//! adapter) and the gRPC client in cortex-server. Both run the same conformance suite
//! (`ingester::testing`, behind the `testing` feature).
//!
//! The methods are asynchronous, because the remote implementation is, and return
//! boxed futures so the trait stays usable as `dyn IngesterApi`. The local adapter does
//! its (blocking, disk-touching) work when its future is first polled, on the polling
//! thread: callers on a runtime worker poll it from the blocking pool, as the
//! distributor already calls the ingester from `spawn_blocking` — there
//! `Handle::block_on` drives either implementation.
//!
//! Errors carry an HTTP-like status ([`IngesterApiError::status`]) so the distributor
//! can tell refusals the sender caused (4xx: do not retry) from failures a retry or
//! another replica may fix (5xx).

pub mod local;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use cortex_tsdb::exemplar::ExemplarSeries;
use cortex_tsdb::labels::{Labels, Matcher};
use futures_core::Stream;

use super::UserStats;
use super::error::PushError;
use super::metadata::{MetadataEntry, MetadataQuery};
use super::push::PushStats;
use super::rate::PushSource;
use crate::querier::{QuerierError, Sample};
use crate::remote_write::WriteRequest;

/// Series per query batch (Cortex's `queryStreamBatchSize`).
pub const QUERY_BATCH_SERIES: usize = 128;

/// The future every [`IngesterApi`] method returns.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, IngesterApiError>> + Send + 'a>>;

/// Why an ingester call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngesterApiError {
    /// The ingester refused the request because of what it holds (HTTP `status`, a 4xx):
    /// sending it again fails again. `message` is the ingester's, in Cortex's words.
    #[error("{message}")]
    Rejected {
        /// The HTTP status (400 for bad data, 422 for a query over a limit).
        status: u16,
        /// What was refused.
        message: String,
    },
    /// The ingester failed (HTTP `status`, a 5xx); a retry or another replica may succeed.
    #[error("{message}")]
    Failed {
        /// The HTTP status (500, or 503 while the ingester stops).
        status: u16,
        /// What failed.
        message: String,
    },
    /// The ingester could not be reached.
    #[error("ingester {addr} unreachable: {reason}")]
    Unavailable {
        /// The ingester's address.
        addr: String,
        /// Why the call did not get through.
        reason: String,
    },
    /// The ingester did not answer within the call's timeout.
    #[error("ingester {addr} did not answer within {timeout:?}")]
    Timeout {
        /// The ingester's address.
        addr: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The ingester's answer could not be understood.
    #[error("invalid answer from ingester {addr}: {reason}")]
    InvalidResponse {
        /// The ingester's address.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl IngesterApiError {
    /// The HTTP status the error stands for: the ingester's for [`Rejected`] and
    /// [`Failed`], 503 when unreachable, 504 on timeout, 500 for a garbled answer.
    ///
    /// [`Rejected`]: IngesterApiError::Rejected
    /// [`Failed`]: IngesterApiError::Failed
    pub fn status(&self) -> u16 {
        match self {
            IngesterApiError::Rejected { status, .. } | IngesterApiError::Failed { status, .. } => {
                *status
            }
            IngesterApiError::Unavailable { .. } => 503,
            IngesterApiError::Timeout { .. } => 504,
            IngesterApiError::InvalidResponse { .. } => 500,
        }
    }

    /// True for refusals the sender caused (4xx): do not retry.
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status())
    }

    /// The error for a refused or failed push: 400 for what the sender caused, 503
    /// while the ingester stops, 500 otherwise.
    pub fn from_push(e: &PushError) -> IngesterApiError {
        let message = e.to_string();
        if e.is_client_error() {
            IngesterApiError::Rejected {
                status: 400,
                message,
            }
        } else if matches!(e, PushError::Stopping) {
            IngesterApiError::Failed {
                status: 503,
                message,
            }
        } else {
            IngesterApiError::Failed {
                status: 500,
                message,
            }
        }
    }

    /// The error for a failed read: 422 for a per-query limit, 500 otherwise.
    pub fn from_querier(e: &QuerierError) -> IngesterApiError {
        if e.is_limit() {
            IngesterApiError::Rejected {
                status: 422,
                message: e.to_string(),
            }
        } else {
            IngesterApiError::Failed {
                status: 500,
                message: e.to_string(),
            }
        }
    }
}

/// One series a query returned: its labels and its samples in the queried range, in
/// increasing timestamp order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// The series' labels.
    pub labels: Labels,
    /// Its samples in the range.
    pub samples: Vec<Sample>,
}

type BatchStream = dyn Stream<Item = Result<Vec<SeriesData>, IngesterApiError>> + Send;

/// A query's answer: batches of series (at most [`QUERY_BATCH_SERIES`] each), sorted by
/// labels across batches; an error ends the stream.
pub struct SeriesStream {
    inner: Pin<Box<BatchStream>>,
}

impl std::fmt::Debug for SeriesStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeriesStream")
    }
}

impl SeriesStream {
    /// A stream of the batches `inner` yields.
    pub fn new(
        inner: impl Stream<Item = Result<Vec<SeriesData>, IngesterApiError>> + Send + 'static,
    ) -> SeriesStream {
        SeriesStream {
            inner: Box::pin(inner),
        }
    }

    /// A stream over `series` already in memory, cut into batches of `batch` series.
    pub fn from_series(series: Vec<SeriesData>, batch: usize) -> SeriesStream {
        SeriesStream::new(Batches {
            rest: series.into_iter(),
            batch: batch.max(1),
        })
    }

    /// The next batch; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Vec<SeriesData>, IngesterApiError>> {
        std::future::poll_fn(|cx| self.inner.as_mut().poll_next(cx)).await
    }

    /// Every series of every batch, or the first error.
    pub async fn collect(mut self) -> Result<Vec<SeriesData>, IngesterApiError> {
        let mut out = Vec::new();
        while let Some(batch) = self.next().await {
            out.extend(batch?);
        }
        Ok(out)
    }
}

impl Stream for SeriesStream {
    type Item = Result<Vec<SeriesData>, IngesterApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Batches of series held in memory.
struct Batches {
    rest: std::vec::IntoIter<SeriesData>,
    batch: usize,
}

impl Stream for Batches {
    type Item = Result<Vec<SeriesData>, IngesterApiError>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let n = self.batch;
        let batch: Vec<SeriesData> = self.rest.by_ref().take(n).collect();
        Poll::Ready(if batch.is_empty() {
            None
        } else {
            Some(Ok(batch))
        })
    }
}

/// What an ingester offers over the network (Cortex's `Ingester` gRPC service). Every
/// call names the tenant; an ingester never answers with another tenant's data.
/// Time ranges are inclusive milliseconds.
pub trait IngesterApi: Send + Sync {
    /// Appends a write request whose series the distributor validated (labels sorted,
    /// unique, valid). Samples the ingester refuses (out of order, too old, over a
    /// series limit) fail the call with a 4xx [`IngesterApiError::Rejected`] after every
    /// other sample was stored; storage failures are 5xx.
    fn push<'a, 'r>(
        &'a self,
        tenant: &'a str,
        req: &'a WriteRequest<'r>,
        source: PushSource,
    ) -> ApiFuture<'a, PushStats>;

    /// The series matching all `matchers` with samples in `[start, end]`, with those
    /// samples, streamed in batches.
    fn query<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, SeriesStream>;

    /// The exemplars in `[start, end]` of the series matching any of `matcher_sets`
    /// (each set: all of its matchers), series sorted by labels and each one's
    /// exemplars in time order (Cortex's `QueryExemplars`). Empty when the tenant has
    /// no TSDB or exemplar storage is disabled.
    fn exemplars<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<ExemplarSeries>>;

    /// Label names of the series matching `matchers` (all when empty) with samples in
    /// `[start, end]`, sorted.
    fn label_names<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>>;

    /// Values of label `name` among the series matching `matchers` (all when empty)
    /// with samples in `[start, end]`, sorted.
    fn label_values<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
        start: i64,
        end: i64,
        matchers: &'a [Matcher],
    ) -> ApiFuture<'a, Vec<String>>;

    /// Label sets of the series matching any of `matcher_sets` (each set: all of its
    /// matchers) with samples in `[start, end]`, sorted and without duplicates
    /// (Cortex's `MetricsForLabelMatchers`).
    fn series<'a>(
        &'a self,
        tenant: &'a str,
        start: i64,
        end: i64,
        matcher_sets: &'a [Vec<Matcher>],
    ) -> ApiFuture<'a, Vec<Labels>>;

    /// The tenant's metric metadata that `query` asks for, by metric name.
    fn metadata<'a>(
        &'a self,
        tenant: &'a str,
        query: &'a MetadataQuery,
    ) -> ApiFuture<'a, Vec<MetadataEntry>>;

    /// The tenant's ingestion rates and series counts (zero when it has no TSDB).
    fn user_stats<'a>(&'a self, tenant: &'a str) -> ApiFuture<'a, UserStats>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_split_client_from_server_errors() {
        let rejected = IngesterApiError::Rejected {
            status: 400,
            message: "bad".into(),
        };
        assert!(rejected.is_client_error());
        let stopping = IngesterApiError::from_push(&PushError::Stopping);
        assert_eq!(stopping.status(), 503);
        assert!(!stopping.is_client_error());
        let invalid = IngesterApiError::from_push(&PushError::InvalidTenant("..".into()));
        assert_eq!(invalid.status(), 400);
        let timeout = IngesterApiError::Timeout {
            addr: "a:1".into(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(timeout.status(), 504);
        assert!(!timeout.is_client_error());
        let limit = IngesterApiError::from_querier(&QuerierError::Limit("too many".into()));
        assert_eq!(limit.status(), 422);
    }
}
