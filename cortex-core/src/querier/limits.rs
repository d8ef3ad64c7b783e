//! Per-query limits on what storage fetches, as Cortex's query limiter counts them:
//! unique series (`max_fetched_series_per_query`) and chunks
//! (`max_fetched_chunks_per_query`) over every select of one query. 0 means unlimited.
//! The error texts are Cortex's.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use cortex_tsdb::labels::Labels;
use cortex_tsdb::querier::Series;

use super::QuerierError;

/// The per-query limits of a tenant (the `limits` options of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryLimits {
    /// Most unique series one query may fetch; 0 is unlimited.
    pub max_fetched_series_per_query: usize,
    /// Most chunks one query may fetch (a chunk read from two sources counts twice);
    /// 0 is unlimited.
    pub max_fetched_chunks_per_query: usize,
}

/// Counts what one query fetched.
#[derive(Debug, Default)]
pub(crate) struct QueryLimiter {
    limits: QueryLimits,
    /// Hashes of the series' labels (Cortex counts fingerprints alike).
    series: Mutex<HashSet<u64>>,
    chunks: AtomicUsize,
}

impl QueryLimiter {
    pub fn new(limits: QueryLimits) -> QueryLimiter {
        QueryLimiter {
            limits,
            ..Default::default()
        }
    }

    /// Adds the series of one select; an error once a limit is exceeded.
    pub fn add(&self, selected: &[Series]) -> Result<(), QuerierError> {
        self.add_series(selected.iter().map(|s| &s.labels))?;
        self.add_chunks(selected.iter().map(Series::num_chunks).sum())
    }

    /// Adds `n` fetched chunks; an error once the chunks limit is exceeded.
    pub fn add_chunks(&self, n: usize) -> Result<(), QuerierError> {
        let max_chunks = self.limits.max_fetched_chunks_per_query;
        if max_chunks > 0 {
            let total = self
                .chunks
                .fetch_add(n, Ordering::Relaxed)
                .saturating_add(n);
            if total > max_chunks {
                return Err(QuerierError::Limit(format!(
                    "the query hit the max number of chunks limit (limit: {max_chunks} chunks)"
                )));
            }
        }
        Ok(())
    }

    /// Adds series known only by their labels (answers without chunks, such as the
    /// ingesters' sample streams): only the series limit applies to them.
    pub fn add_series<'a>(
        &self,
        labels: impl IntoIterator<Item = &'a Labels>,
    ) -> Result<(), QuerierError> {
        let max_series = self.limits.max_fetched_series_per_query;
        if max_series > 0 {
            let mut seen = self.series.lock().unwrap_or_else(|e| e.into_inner());
            seen.extend(labels.into_iter().map(Labels::stable_hash));
            if seen.len() > max_series {
                return Err(QuerierError::Limit(format!(
                    "the query hit the max number of series limit (limit: {max_series} series)"
                )));
            }
        }
        Ok(())
    }
}
