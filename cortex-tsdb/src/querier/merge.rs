//! Merging the series of several blocks: equal label sets become one series whose
//! samples are chained in time order, with duplicate timestamps (overlapping blocks,
//! replicated data) kept once.

use crate::Result;
use crate::chunkenc::ValueType;
use crate::histogram::{FloatHistogram, Histogram};
use crate::labels::Labels;

use super::{BlockSampleIter, BlockSeries, BlockSeriesSet, SampleIterator};

/// The union of several series sets, in label order.
pub struct MergeSeriesSet<'a> {
    sets: Vec<BlockSeriesSet<'a>>,
    heads: Vec<Option<BlockSeries<'a>>>,
    started: bool,
}

/// Merges series sets that are each in label order.
pub fn merge_series_sets(sets: Vec<BlockSeriesSet<'_>>) -> MergeSeriesSet<'_> {
    let n = sets.len();
    MergeSeriesSet {
        sets,
        heads: (0..n).map(|_| None).collect(),
        started: false,
    }
}

/// One series of a merge, with its parts from each set that had it.
pub struct MergedSeries<'a> {
    /// The series' labels.
    pub labels: Labels,
    parts: Vec<BlockSeries<'a>>,
}

impl<'a> MergeSeriesSet<'a> {
    /// The next series; `Ok(None)` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<MergedSeries<'a>>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sets.len() {
                self.heads[i] = self.sets[i].next()?;
            }
        }
        let Some(min) = self
            .heads
            .iter()
            .flatten()
            .map(|s| &s.labels)
            .min()
            .cloned()
        else {
            return Ok(None);
        };
        let mut parts = Vec::new();
        for i in 0..self.heads.len() {
            if self.heads[i].as_ref().is_some_and(|s| s.labels == min) {
                if let Some(s) = self.heads[i].take() {
                    parts.push(s);
                }
                self.heads[i] = self.sets[i].next()?;
            }
        }
        Ok(Some(MergedSeries { labels: min, parts }))
    }
}

impl<'a> MergedSeries<'a> {
    /// The series' samples from every part, in time order, duplicates dropped.
    pub fn iter(&self) -> MergedSampleIter<'a> {
        MergedSampleIter {
            its: self.parts.iter().map(BlockSeries::iter).collect(),
            state: Vec::new(),
            cur: None,
        }
    }
}

/// Samples of a merged series.
pub struct MergedSampleIter<'a> {
    its: Vec<BlockSampleIter<'a>>,
    /// Per iterator: its current sample's timestamp and kind, or `None` when exhausted.
    state: Vec<Option<(i64, ValueType)>>,
    /// Index of the iterator standing on the current sample.
    cur: Option<usize>,
}

impl MergedSampleIter<'_> {
    fn pick(&mut self) -> Option<ValueType> {
        let (i, vt) = self
            .state
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|(t, vt)| (t, i, vt)))
            .min_by_key(|(t, i, _)| (*t, *i))
            .map(|(_, i, vt)| (i, vt))?;
        self.cur = Some(i);
        Some(vt)
    }

    fn cur(&self) -> Option<&BlockSampleIter<'_>> {
        self.cur.and_then(|i| self.its.get(i))
    }
}

impl SampleIterator for MergedSampleIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        if self.state.is_empty() {
            for it in &mut self.its {
                let s = it.next()?.map(|vt| (it.timestamp(), vt));
                self.state.push(s);
            }
        } else if let Some(c) = self.cur {
            // Advance every iterator standing on the emitted timestamp.
            let t = self.its[c].timestamp();
            for (it, s) in self.its.iter_mut().zip(self.state.iter_mut()) {
                if s.is_some_and(|(st, _)| st == t) {
                    *s = it.next()?.map(|vt| (it.timestamp(), vt));
                }
            }
        } else {
            return Ok(None);
        }
        let vt = self.pick();
        if vt.is_none() {
            self.cur = None;
        }
        Ok(vt)
    }

    fn seek(&mut self, t: i64) -> Result<Option<ValueType>> {
        if self.state.is_empty() {
            for it in &mut self.its {
                let s = it.seek(t)?.map(|vt| (it.timestamp(), vt));
                self.state.push(s);
            }
        } else {
            for (it, s) in self.its.iter_mut().zip(self.state.iter_mut()) {
                if s.is_some_and(|(st, _)| st < t) {
                    *s = it.seek(t)?.map(|vt| (it.timestamp(), vt));
                }
            }
        }
        let vt = self.pick();
        if vt.is_none() {
            self.cur = None;
        }
        Ok(vt)
    }

    fn timestamp(&self) -> i64 {
        self.cur().map_or(i64::MIN, |c| c.timestamp())
    }

    fn at(&self) -> (i64, f64) {
        self.cur().map_or((i64::MIN, 0.0), |c| c.at())
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        self.cur()
            .map_or((i64::MIN, Histogram::default()), |c| c.at_histogram())
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        self.cur()
            .map_or((i64::MIN, FloatHistogram::default()), |c| {
                c.at_float_histogram()
            })
    }
}
