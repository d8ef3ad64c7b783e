//! Reading samples back: series selected from blocks, their sample iterators, and the
//! merge of the same series across blocks.
//!
//! A [`SampleIterator`] walks one series' samples in time order, whatever their kind;
//! [`BlockSeriesSet`] yields the series of one block, [`merge_series_sets`] the union of
//! several sets with samples of equal series chained and deduplicated.

mod block_series;
mod merge;

pub use block_series::{BlockSampleIter, BlockSeries, BlockSeriesSet};
pub use merge::{MergedSampleIter, MergedSeries, merge_series_sets};

use crate::Result;
use crate::chunkenc::ValueType;
use crate::histogram::{FloatHistogram, Histogram};

/// Iterates one series' samples in increasing timestamp order.
pub trait SampleIterator {
    /// Advances to the next sample; `Ok(None)` when there are no more.
    fn next(&mut self) -> Result<Option<ValueType>>;

    /// Advances to the first sample with timestamp `>= t` (never backwards).
    fn seek(&mut self, t: i64) -> Result<Option<ValueType>>;

    /// Timestamp of the current sample.
    fn timestamp(&self) -> i64;

    /// The current float sample (valid when the last move returned `Float`).
    fn at(&self) -> (i64, f64);

    /// The current integer histogram (valid when the last move returned `Histogram`).
    fn at_histogram(&self) -> (i64, Histogram);

    /// The current histogram as a float histogram (valid for either histogram kind).
    fn at_float_histogram(&self) -> (i64, FloatHistogram);
}
