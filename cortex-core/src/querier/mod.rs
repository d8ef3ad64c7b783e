//! The `Querier` trait: what the PromQL engine (and later the query API and the ruler)
//! reads from storage. Select series by label matchers over a time range, with hints
//! that let storage prune; iterate each series' float and native-histogram samples;
//! list label names and values.
//!
//! Implementations: [`memory::MemoryQuerier`] (in-memory, for tests, benches and the
//! ruler's unit tests); [`tsdb::TsdbQuerier`] over one `cortex_tsdb` Db;
//! [`tenant::TenantQuerier`], one tenant's ingester Db merged with the blocks it shipped
//! to the bucket, read through store-gateways; [`federated::FederatedQuerier`], several
//! tenants at once with a `__tenant_id__` label; [`ingesters::IngestersQuerier`], the
//! recent data held by replicated ingesters reached through the ring, which
//! [`time_split::TimeSplitQuerier`] combines with an older-data querier by time range.
//! [`blocks_store::BlocksStoreQuerier`] reads a tenant's bucket blocks through the
//! store-gateways that serve them, checking that every block was queried.

pub mod blocks_store;
pub mod federated;
pub mod ingesters;
mod limits;
pub mod memory;
mod replica_merge;
pub mod replicas;
pub mod tenant;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time_split;
pub mod tsdb;

use std::sync::Arc;

pub use limits::QueryLimits;
pub use replicas::FailedIngester;

use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::{Labels, Matcher};

/// Why a querier could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuerierError {
    /// The storage failed; the message says how.
    #[error("storage error: {0}")]
    Storage(String),
    /// A block the bucket lists for the query could not be read; answering without it
    /// would silently drop its data.
    #[error("block {block} of tenant {tenant} could not be read: {reason}")]
    Block {
        /// The tenant.
        tenant: String,
        /// The block's ULID.
        block: String,
        /// What failed.
        reason: String,
    },
    /// A per-query limit was hit (an execution error for the API, HTTP 422); the
    /// message is Cortex's, e.g. "the query hit the max number of series limit (limit:
    /// 10 series)".
    #[error("{0}")]
    Limit(String),
    /// The ring could not name the ingesters to read from (an empty ring, too many
    /// unhealthy instances); the message is the ring's.
    #[error("{0}")]
    Ring(String),
    /// More ingesters of the read's replication set failed than it tolerates, so an
    /// answer from the others could miss samples.
    #[error(
        "{} of {queried} ingesters failed, more than the replication set tolerates: {}",
        failed.len(),
        failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Ingesters {
        /// How many ingesters were asked.
        queried: usize,
        /// The ingesters that failed and how, in the replication set's order.
        failed: Vec<FailedIngester>,
    },
}

impl QuerierError {
    /// True when the read stopped at a per-query limit (not a storage fault).
    pub fn is_limit(&self) -> bool {
        matches!(self, QuerierError::Limit(_))
    }
}

/// Hints about how the selected data will be used, so storage may prune. Storage may
/// ignore them and must still return every matching sample in `[start, end]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectHints {
    /// First timestamp (ms, inclusive) the engine reads.
    pub start: i64,
    /// Last timestamp (ms, inclusive) the engine reads.
    pub end: i64,
    /// Query step (ms); 0 for instant queries.
    pub step: i64,
    /// Range of the range selector (ms); 0 for instant selectors.
    pub range: i64,
    /// The function or aggregation applied to the selector, if any (`rate`, `sum`).
    pub func: Option<String>,
    /// Grouping labels of the enclosing aggregation.
    pub grouping: Vec<String>,
    /// True when `grouping` are `by` labels, false for `without`.
    pub by: bool,
}

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// A float sample (a staleness marker is the `STALE_NAN` float).
    Float(f64),
    /// A native histogram sample (a staleness marker has a `STALE_NAN` sum).
    Histogram(Arc<FloatHistogram>),
}

/// One sample of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Timestamp in milliseconds.
    pub t: i64,
    /// Start timestamp (ms) of the counter the sample belongs to; 0 when unknown.
    pub st: i64,
    /// The value.
    pub value: SampleValue,
}

/// Iterates a series' samples in increasing timestamp order.
pub trait SampleIterator: Send {
    /// The next sample, or `None` at the end.
    fn next(&mut self) -> Result<Option<Sample>, QuerierError>;

    /// The first sample at or after `t`, skipping earlier ones; `None` if there is
    /// none. Implementations with an index should override the default linear scan.
    fn seek(&mut self, t: i64) -> Result<Option<Sample>, QuerierError> {
        while let Some(s) = self.next()? {
            if s.t >= t {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// Appends up to `max` following samples to `out` and returns how many it
    /// appended; 0 means the end. The engine reads through this, so implementations
    /// that can copy a run of samples at once should override the default, which
    /// calls [`SampleIterator::next`] per sample.
    fn next_batch(&mut self, out: &mut Vec<Sample>, max: usize) -> Result<usize, QuerierError> {
        let mut n = 0;
        while n < max {
            match self.next()? {
                Some(s) => out.push(s),
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

/// A selected series.
pub trait Series: Send + Sync {
    /// The series' labels.
    fn labels(&self) -> &Labels;
    /// A fresh iterator over its samples.
    fn samples(&self) -> Box<dyn SampleIterator + '_>;
}

/// Read access to time series, as the PromQL engine needs it.
pub trait Querier: Send + Sync {
    /// The series matching all `matchers` that have samples in `[hints.start,
    /// hints.end]`. Samples outside the range may be returned too.
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError>;

    /// Label names of the series matching `matchers` (all series when empty) with
    /// samples in `[start, end]`, sorted.
    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError>;

    /// Values of label `name` among the series matching `matchers` with samples in
    /// `[start, end]`, sorted.
    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError>;
}

#[cfg(test)]
mod tests;
