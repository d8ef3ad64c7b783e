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
    src: Buffered<'a>,
    started: bool,
    prev: Option<Sample>,
    delta: i64,
}

impl<'a> LookbackCursor<'a> {
    /// A cursor that may skip ahead by seeking when the next time is more than `delta`
    /// past the current sample.
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>, delta: i64) -> Result<Self, EvalError> {
        Ok(LookbackCursor {
            src: Buffered::new(it),
            started: false,
            prev: None,
            delta,
        })
    }

    /// Moves to the first sample at or after `t` (kept as the current sample), keeping
    /// the sample before it.
    fn seek(&mut self, t: i64) -> Result<(), EvalError> {
        let t0 = t.saturating_sub(self.delta);
        if let Some(c) = self.src.peek()?
            && (!self.started || t0 > c.t)
        {
            self.prev = None;
            if c.t < t0 {
                self.src.seek(t0)?;
            }
        }
        self.started = true;
        while let Some(c) = self.src.peek()? {
            if c.t >= t {
                break;
            }
            self.prev = Some(c.clone());
            self.src.bump();
        }
        Ok(())
    }

    /// The sample an instant selector sees at `ref_t`: the latest at or before it and
    /// newer than `ref_t - lookback`, unless it is a staleness marker.
    pub(crate) fn at(&mut self, ref_t: i64, lookback: i64) -> Result<Option<Sample>, EvalError> {
        self.seek(ref_t)?;
        let s = match self.src.peek()? {
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

/// How many samples [`Buffered`] asks its iterator for at once.
const BATCH: usize = 64;

/// Reads a sample iterator in batches, so walking a series costs no dynamic call per
/// sample.
pub(crate) struct Buffered<'a> {
    it: Box<dyn SampleIterator + 'a>,
    buf: Vec<Sample>,
    pos: usize,
    done: bool,
}

impl<'a> Buffered<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        Buffered {
            it,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    /// The current sample, without consuming it; `None` at the end.
    pub(crate) fn peek(&mut self) -> Result<Option<&Sample>, EvalError> {
        if self.pos == self.buf.len() && !self.done {
            self.buf.clear();
            self.pos = 0;
            let n = self
                .it
                .next_batch(&mut self.buf, BATCH)
                .map_err(EvalError::Storage)?;
            self.done = n == 0;
        }
        Ok(self.buf.get(self.pos))
    }

    /// Consumes the current sample.
    pub(crate) fn bump(&mut self) {
        self.pos = (self.pos + 1).min(self.buf.len());
    }

    /// Skips to the first sample at or after `t`.
    pub(crate) fn seek(&mut self, t: i64) -> Result<(), EvalError> {
        let rest = &self.buf[self.pos..];
        if rest.last().is_some_and(|s| s.t >= t) {
            self.pos += rest.partition_point(|s| s.t < t);
            return Ok(());
        }
        self.buf.clear();
        self.pos = 0;
        if !self.done {
            match self.it.seek(t).map_err(EvalError::Storage)? {
                Some(s) => self.buf.push(s),
                None => self.done = true,
            }
        }
        Ok(())
    }
}

/// Keeps the samples of one series in a sliding `(mint, maxt]` window.
pub(crate) struct WindowCursor<'a> {
    src: Buffered<'a>,
    started: bool,
}

/// A window's points, with their start timestamps when requested. Points leaving the
/// window are skipped by advancing a start offset; the buffers are compacted only
/// when most of them is dead, so sliding costs no per-step copying.
#[derive(Default)]
pub(crate) struct Window {
    floats: Vec<FPoint>,
    histograms: Vec<HPoint>,
    float_sts: Vec<i64>,
    histogram_sts: Vec<i64>,
    f0: usize,
    h0: usize,
    /// Number of live points with a known start timestamp.
    known_sts: usize,
}

impl Window {
    /// Empties the window.
    pub(crate) fn clear(&mut self) {
        self.floats.clear();
        self.histograms.clear();
        self.float_sts.clear();
        self.histogram_sts.clear();
        self.f0 = 0;
        self.h0 = 0;
        self.known_sts = 0;
    }

    /// Float points in the window.
    pub(crate) fn floats(&self) -> &[FPoint] {
        &self.floats[self.f0..]
    }

    /// Histogram points in the window.
    pub(crate) fn histograms(&self) -> &[HPoint] {
        &self.histograms[self.h0..]
    }

    /// Start timestamps of the float points (when tracked).
    pub(crate) fn float_sts(&self) -> &[i64] {
        self.float_sts.get(self.f0..).unwrap_or(&[])
    }

    /// Start timestamps of the histogram points (when tracked).
    pub(crate) fn histogram_sts(&self) -> &[i64] {
        self.histogram_sts.get(self.h0..).unwrap_or(&[])
    }

    /// True when some point in the window has a known start timestamp.
    pub(crate) fn has_sts(&self) -> bool {
        self.known_sts > 0
    }

    /// True when the window holds no points.
    pub(crate) fn is_empty(&self) -> bool {
        self.f0 == self.floats.len() && self.h0 == self.histograms.len()
    }

    /// Points in the window, histograms weighted by size.
    pub(crate) fn samples(&self) -> usize {
        self.floats().len() + self.histograms().iter().map(HPoint::size).sum::<usize>()
    }

    /// Takes the points out of the window.
    pub(crate) fn take(mut self) -> (Vec<FPoint>, Vec<HPoint>) {
        self.floats.drain(..self.f0);
        self.histograms.drain(..self.h0);
        (self.floats, self.histograms)
    }

    fn compact(&mut self) {
        if self.f0 > 32 && self.f0 * 2 > self.floats.len() {
            self.floats.drain(..self.f0);
            if !self.float_sts.is_empty() {
                self.float_sts.drain(..self.f0.min(self.float_sts.len()));
            }
            self.f0 = 0;
        }
        if self.h0 > 32 && self.h0 * 2 > self.histograms.len() {
            self.histograms.drain(..self.h0);
            if !self.histogram_sts.is_empty() {
                self.histogram_sts
                    .drain(..self.h0.min(self.histogram_sts.len()));
            }
            self.h0 = 0;
        }
    }
}

impl<'a> WindowCursor<'a> {
    pub(crate) fn new(it: Box<dyn SampleIterator + 'a>) -> Self {
        WindowCursor {
            src: Buffered::new(it),
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
        let nf = w.floats[w.f0..].partition_point(|p| p.t <= mint);
        if nf > 0 {
            dropped += nf;
            if with_sts {
                w.known_sts -= w.float_sts[w.f0..w.f0 + nf]
                    .iter()
                    .filter(|s| **s != 0)
                    .count();
            }
            w.f0 += nf;
        }
        let nh = w.histograms[w.h0..].partition_point(|p| p.t <= mint);
        if nh > 0 {
            dropped += w.histograms[w.h0..w.h0 + nh]
                .iter()
                .map(HPoint::size)
                .sum::<usize>();
            if with_sts {
                w.known_sts -= w.histogram_sts[w.h0..w.h0 + nh]
                    .iter()
                    .filter(|s| **s != 0)
                    .count();
            }
            w.h0 += nh;
        }
        w.compact();
        let last = match (w.floats.last(), w.histograms.last()) {
            (Some(f), Some(h)) => f.t.max(h.t),
            (Some(f), None) => f.t,
            (None, Some(h)) => h.t,
            (None, None) => i64::MIN,
        };
        let lower = last.max(mint);
        if !self.started {
            self.started = true;
            self.src.seek(lower.saturating_add(1))?;
        } else if self.src.peek()?.is_some_and(|p| p.t <= lower) {
            self.src.seek(lower.saturating_add(1))?;
        }
        let mut added = 0;
        while let Some(s) = self.src.peek()? {
            if s.t > maxt {
                break;
            }
            if s.t > lower && !is_stale(s) {
                if with_sts && s.st != 0 {
                    w.known_sts += 1;
                }
                match &s.value {
                    SampleValue::Float(f) => {
                        w.floats.push(FPoint { t: s.t, f: *f });
                        if with_sts {
                            w.float_sts.push(s.st);
                        }
                        added += 1;
                    }
                    SampleValue::Histogram(h) => {
                        let p = HPoint {
                            t: s.t,
                            h: h.clone(),
                        };
                        added += p.size();
                        w.histograms.push(p);
                        if with_sts {
                            w.histogram_sts.push(s.st);
                        }
                    }
                }
            }
            self.src.bump();
        }
        Ok((dropped, added))
    }
}

#[cfg(test)]
mod tests {
    use cortex_tsdb::value::STALE_NAN;

    use super::*;
    use crate::querier::memory::SliceIterator;

    fn floats(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(t, f)| Sample {
                t,
                st: 0,
                value: SampleValue::Float(f),
            })
            .collect()
    }

    fn value(s: Option<Sample>) -> Option<(i64, f64)> {
        s.map(|s| match s.value {
            SampleValue::Float(f) => (s.t, f),
            SampleValue::Histogram(_) => (s.t, f64::NAN),
        })
    }

    #[test]
    fn lookback_finds_the_latest_sample_in_the_left_open_window() {
        let data = floats(&[(10, 1.0), (20, 2.0), (30, STALE_NAN), (100, 4.0)]);
        let mut c = LookbackCursor::new(Box::new(SliceIterator::new(&data)), 15).unwrap();
        assert_eq!(value(c.at(5, 15).unwrap()), None, "before the first sample");
        assert_eq!(value(c.at(10, 15).unwrap()), Some((10, 1.0)), "exact hit");
        assert_eq!(value(c.at(24, 15).unwrap()), Some((20, 2.0)));
        assert_eq!(value(c.at(35, 15).unwrap()), None, "staleness marker");
        assert_eq!(
            value(c.at(99, 15).unwrap()),
            None,
            "gap longer than lookback"
        );
        assert_eq!(value(c.at(114, 15).unwrap()), Some((100, 4.0)));
        assert_eq!(value(c.at(115, 15).unwrap()), None, "window is left-open");
    }

    #[test]
    fn buffered_reads_seek_within_and_beyond_a_batch() {
        let data = floats(&(0..200).map(|i| (i * 10, i as f64)).collect::<Vec<_>>());
        let mut b = Buffered::new(Box::new(SliceIterator::new(&data)));
        assert_eq!(b.peek().unwrap().map(|s| s.t), Some(0));
        b.seek(35).unwrap();
        assert_eq!(b.peek().unwrap().map(|s| s.t), Some(40), "inside the batch");
        b.seek(1_500).unwrap();
        assert_eq!(
            b.peek().unwrap().map(|s| s.t),
            Some(1_500),
            "past the batch"
        );
        b.bump();
        assert_eq!(b.peek().unwrap().map(|s| s.t), Some(1_510));
        b.seek(10_000).unwrap();
        assert!(b.peek().unwrap().is_none());
        b.bump();
        assert!(
            b.peek().unwrap().is_none(),
            "bumping at the end stays at the end"
        );
    }

    #[test]
    fn window_slides_without_stale_points_and_counts_changes() {
        let data = floats(&[(10, 1.0), (20, 2.0), (30, STALE_NAN), (40, 4.0), (50, 5.0)]);
        let mut c = WindowCursor::new(Box::new(SliceIterator::new(&data)));
        let mut w = Window::default();
        assert_eq!(c.advance(&mut w, 0, 20, false).unwrap(), (0, 2));
        let ts: Vec<i64> = w.floats().iter().map(|p| p.t).collect();
        assert_eq!(ts, [10, 20]);
        // (10, 40]: 10 leaves (left-open), the marker is skipped, 40 arrives.
        assert_eq!(c.advance(&mut w, 10, 40, false).unwrap(), (1, 1));
        let ts: Vec<i64> = w.floats().iter().map(|p| p.t).collect();
        assert_eq!(ts, [20, 40]);
        // A jump past everything seeks forward.
        assert_eq!(c.advance(&mut w, 45, 100, false).unwrap(), (2, 1));
        assert_eq!(w.floats().len(), 1);
        assert_eq!(w.samples(), 1);
        assert!(!w.has_sts());
    }
}
