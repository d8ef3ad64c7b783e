//! Exemplar queries and runtime configuration of a [`Db`]: exemplars live only in the
//! head's circular buffer (blocks do not hold them), so these forward to it.

use super::Db;
use crate::Result;
use crate::exemplar::ExemplarSeries;
use crate::head::ExemplarStats;
use crate::labels::Matcher;

impl Db {
    /// Prometheus' `ExemplarQuerier.Select`: the exemplars in `[mint, maxt]` (inclusive)
    /// of the series matching any of `matcher_sets` (every matcher of a set must match),
    /// series sorted by labels, each series' exemplars in time order.
    pub fn exemplars(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ExemplarSeries>> {
        Ok(self.head().select_exemplars(matcher_sets, mint, maxt))
    }

    /// Changes how many exemplars are kept (0 disables exemplar storage), keeping the
    /// newest; returns how many were kept. `options().max_exemplars` keeps the value the
    /// TSDB was opened with; [`Db::exemplar_stats`] reports the current one.
    pub fn set_max_exemplars(&self, max: usize) -> Result<usize> {
        self.head().set_max_exemplars(max)
    }

    /// The exemplar storage's counters and gauges, for metrics.
    pub fn exemplar_stats(&self) -> ExemplarStats {
        self.head().exemplars().stats()
    }
}
