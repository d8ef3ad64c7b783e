//! Merging series from several sources: equal label sets become one series whose samples
//! are chained in time order, with duplicate timestamps (overlapping blocks, a head that
//! still holds what a block has, replicated data) kept once.

use crate::Result;
use crate::chunkenc::ValueType;
use crate::histogram::{FloatHistogram, Histogram};

use super::{PartIter, SampleIterator, Series};

/// Merges lists of series that are each in label order into one list in label order.
pub fn merge_series(lists: Vec<Vec<Series>>) -> Vec<Series> {
    let mut lists: Vec<std::vec::IntoIter<Series>> = lists
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(Vec::into_iter)
        .collect();
    if lists.len() == 1 {
        return lists.pop().map(Iterator::collect).unwrap_or_default();
    }
    let mut heads: Vec<Option<Series>> = lists.iter_mut().map(Iterator::next).collect();
    let mut out = Vec::new();
    while let Some(min) = heads.iter().flatten().map(|s| &s.labels).min().cloned() {
        let mut merged: Option<Series> = None;
        for (i, h) in heads.iter_mut().enumerate() {
            if h.as_ref().is_some_and(|s| s.labels == min) {
                if let Some(s) = h.take() {
                    match merged.as_mut() {
                        None => merged = Some(s),
                        Some(m) => m.absorb(s),
                    }
                }
                *h = lists[i].next();
            }
        }
        out.extend(merged);
    }
    out
}

/// Samples of a series that came from several sources.
pub struct MergedSampleIter<'a> {
    its: Vec<PartIter<'a>>,
    /// Per source: its current sample's timestamp and kind, or `None` when exhausted.
    state: Vec<Option<(i64, ValueType)>>,
    /// The source standing on the current sample.
    cur: Option<usize>,
    started: bool,
}

impl<'a> MergedSampleIter<'a> {
    pub(crate) fn new(its: Vec<PartIter<'a>>) -> MergedSampleIter<'a> {
        MergedSampleIter {
            its,
            state: Vec::new(),
            cur: None,
            started: false,
        }
    }

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

    fn cur(&self) -> Option<&PartIter<'a>> {
        self.cur.and_then(|i| self.its.get(i))
    }
}

impl SampleIterator for MergedSampleIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        if !self.started {
            self.started = true;
            for it in &mut self.its {
                let s = it.next()?.map(|vt| (it.timestamp(), vt));
                self.state.push(s);
            }
        } else if let Some(c) = self.cur {
            // Advance every source standing on the emitted timestamp.
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
        if !self.started {
            self.started = true;
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
