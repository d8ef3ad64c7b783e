//! Cursors over a series' samples, as the engine walks them step by step: the
//! lookback cursor finds the latest sample at or before a time (instant selectors),
//! the window cursor maintains the samples in a sliding `(mint, maxt]` window (range
//! selectors), reusing the points of the previous step.

use cortex_tsdb::value::is_stale_nan;

use super::evaluator::EvalError;
use crate::promql::value::{FPoint, HPoint};
use crate::querier::{Sample, SampleIterator, SampleValue};

/// Finds, for increasing times `t`, the last sample at or before `t` within a
/// lookback window.
pub(crate) struct LookbackCursor<'a> {
    it: Box<dyn SampleIterator + 'a>,
    cur: Option<Sample>,
    last_t: i64,
    prev: Option<Sample>,
    delta: i64,
}

impl<'a> LookbackCursor<'a> {
    /// A cursor that may skip ahead by seeking when the next time is more than `delta`
    /// past the current sample.
    pub(crate) fn new(mut it: Box<dyn SampleIterator + 'a>, delta: i64) -> Result<Self, EvalError> {
        let cur = it.next().map_err(EvalError::Storage)?;
        Ok(LookbackCursor {
            it,
            cur,
            last_t: i64::MIN,
            prev: None,
            delta,
        })
    }

    /// Moves to the first sample at or after `t` (kept as the current sample), keeping
    /// the sample before it.
    fn seek(&mut self, t: i64) -> Result<(), EvalError> {
        let t0 = t.saturating_sub(self.delta);
        if let Some(c) = &self.cur
            && t0 > self.last_t
        {
            self.prev = None;
            if c.t < t0 {
                self.cur = self.it.seek(t0).map_err(EvalError::Storage)?;
            }
            match &self.cur {
                None => return Ok(()),
                Some(c) => self.last_t = c.t,
            }
        }
        if self.cur.is_some() && self.last_t >= t {
            return Ok(());
        }
        while self.cur.is_some() {
            self.prev = self.cur.take();
            self.cur = self.it.next().map_err(EvalError::Storage)?;
            if let Some(c) = &self.cur {
                self.last_t = c.t;
                if c.t >= t {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The sample an instant selector sees at `ref_t`: the latest at or before it and
    /// newer than `ref_t - lookback`, unless it is a staleness marker.
    pub(crate) fn at(&mut self, ref_t: i64, lookback: i64) -> Result<Option<Sample>, EvalError> {
        self.seek(ref_t)?;
        let s = match &self.cur {
            Some(c) if c.t == ref_t => c,
            _ => match &self.prev {
                Some(p) if p.t > ref_t - lookback && p.t <= ref_t => p,
                _ => return Ok(None),
            },
        };
        if is_stale(s) {
            return Ok(None);
        }
        Ok(Some(s.clone()))
    }
}

/// True for staleness markers.
pub(crate) fn is_stale(s: &Sample) -> bool {
    match &s.value {
        SampleValue::Float(f) => is_stale_nan(*f),
        SampleValue::Histogram(h) => is_stale_nan(h.sum),
    }
}

/// Keeps the samples of one series in a sliding `(mint, maxt]` window.
pub(crate) struct WindowCursor<'a> {
    it: Box<dyn SampleIterator + 'a>,
    pending: Option<Sample>,
    started: bool,
}

/// A window's points, with their start timestamps when requested.
#[derive(Default)]
pub(crate) struct Window {
    pub floats: Vec<FPoint>,
    pub histograms: Vec<HPoint>,
    pub float_sts: Vec<i64>,
    pub histogram_sts: Vec<i64>,
}

impl Window {
    /// Empties the window.
    pub(crate) fn clear(&mut self) {
        self.floats.clear();
        self.histograms.clear();
        self.float_sts.clear();
        self.histogram_sts.clear();
    }

    /// Points in the window, histograms weighted by size.
    pub(crate) fn samples(&self) -> usize {
        self.floats.len() + self.histograms.iter().map(HPoint::size).sum::<usize>()
    }
}

impl<'a> WindowCursor<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        WindowCursor {
            it,
            pending: None,
            started: false,
        }
    }

    /// Moves the window to `(mint, maxt]`: drops points at or before `mint`, appends
    /// newer points up to `maxt` (skipping staleness markers). Returns the change in
    /// the window's sample count as (dropped, added).
    pub(crate) fn advance(
        &mut self,
        w: &mut Window,
        mint: i64,
        maxt: i64,
        with_sts: bool,
    ) -> Result<(usize, usize), EvalError> {
        let mut dropped = 0;
        let nf = w.floats.partition_point(|p| p.t <= mint);
        if nf > 0 {
            dropped += nf;
            w.floats.drain(..nf);
            if with_sts {
                w.float_sts.drain(..nf.min(w.float_sts.len()));
            }
        }
        let nh = w.histograms.partition_point(|p| p.t <= mint);
        if nh > 0 {
            dropped += w.histograms[..nh].iter().map(HPoint::size).sum::<usize>();
            w.histograms.drain(..nh);
            if with_sts {
                w.histogram_sts.drain(..nh.min(w.histogram_sts.len()));
            }
        }
        let last = w
            .floats
            .last()
            .map(|p| p.t)
            .into_iter()
            .chain(w.histograms.last().map(|p| p.t))
            .max()
            .unwrap_or(i64::MIN);
        let lower = last.max(mint);
        if !self.started {
            self.started = true;
            self.pending = self
                .it
                .seek(lower.saturating_add(1))
                .map_err(EvalError::Storage)?;
        } else if self.pending.as_ref().is_some_and(|p| p.t <= lower) {
            self.pending = self
                .it
                .seek(lower.saturating_add(1))
                .map_err(EvalError::Storage)?;
        }
        let mut added = 0;
        while let Some(s) = self.pending.take() {
            if s.t > maxt {
                self.pending = Some(s);
                break;
            }
            if s.t > lower && !is_stale(&s) {
                match s.value {
                    SampleValue::Float(f) => {
                        w.floats.push(FPoint { t: s.t, f });
                        if with_sts {
                            w.float_sts.push(s.st);
                        }
                        added += 1;
                    }
                    SampleValue::Histogram(h) => {
                        let p = HPoint { t: s.t, h };
                        added += p.size();
                        w.histograms.push(p);
                        if with_sts {
                            w.histogram_sts.push(s.st);
                        }
                    }
                }
            }
            self.pending = self.it.next().map_err(EvalError::Storage)?;
        }
        Ok((dropped, added))
    }
}
