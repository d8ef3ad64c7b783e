//! Decoding integer histogram chunks (encoding 2).
//!
//! [`HistogramIter`] keeps the current sample in one [`Histogram`] whose vectors are reused
//! from sample to sample (and from chunk to chunk with [`HistogramIter::reset`]): buckets
//! are stored as Prometheus stores them, the first absolute and the rest as deltas to the
//! previous bucket. A float view of the same sample is built only when asked for and also
//! reuses its vectors. Encoding lives in `histogram.rs`.

use std::cell::{Cell, OnceCell};

use super::ChunkError;
use super::bstream::BitReader;
use super::histogram::HistState;
use super::layout::{CounterResetHeader, HEADER_SIZE, Layout, read_header, read_layout};
use super::recode::count_spans;
use super::varbit::{XorWindow, read_varbit_int, read_varbit_int_fast, read_varbit_uint, xor_read};
use crate::histogram::{FloatHistogram, Histogram};
use crate::value::{STALE_NAN, is_stale_nan};

/// Iterates over the samples of integer histogram chunk bytes.
///
/// Call [`next`](Self::next) until it returns `Ok(false)`; if the data is damaged or ends
/// before the announced number of samples, `next` returns the error, and again on every
/// later call.
#[derive(Debug, Clone)]
pub struct HistogramIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    /// The current sample (layout, counts, sum, buckets).
    h: Histogram,
    /// What a stale marker reads as: only the StaleNaN sum.
    stale: Histogram,
    /// Per bucket: the change since the previous sample.
    pos_dd: Vec<i64>,
    neg_dd: Vec<i64>,
    t: i64,
    t_delta: i64,
    cnt_delta: i64,
    zcnt_delta: i64,
    win: XorWindow,
    float_view: FloatView,
    err: Option<ChunkError>,
}

/// A float copy of the current sample, built on first use and rebuilt in the same vectors
/// for the next sample.
#[derive(Default)]
struct FloatView {
    built: OnceCell<FloatHistogram>,
    spare: Cell<Option<FloatHistogram>>,
}

impl FloatView {
    fn get_or_fill(&self, h: &Histogram) -> &FloatHistogram {
        self.built.get_or_init(|| {
            let mut fh = self.spare.take().unwrap_or_default();
            fill_float(&mut fh, h);
            fh
        })
    }

    /// Forgets the built copy, keeping its vectors for the next one.
    fn invalidate(&mut self) {
        if let Some(fh) = self.built.take() {
            *self.spare.get_mut() = Some(fh);
        }
    }
}

impl Clone for FloatView {
    fn clone(&self) -> Self {
        FloatView::default()
    }
}

impl std::fmt::Debug for FloatView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatView")
            .field("built", &self.built.get())
            .finish()
    }
}

impl<'a> HistogramIter<'a> {
    /// An iterator over chunk bytes (starting with the 3-byte header).
    pub fn new(data: &'a [u8]) -> Result<HistogramIter<'a>, ChunkError> {
        let (total, header) = read_header(data)?;
        Ok(HistogramIter::with_header(total, header, data))
    }

    /// An iterator without samples.
    pub(crate) fn empty() -> HistogramIter<'a> {
        HistogramIter::with_header(0, CounterResetHeader::Unknown, &[])
    }

    fn with_header(total: u16, header: CounterResetHeader, data: &'a [u8]) -> HistogramIter<'a> {
        HistogramIter {
            r: BitReader::new(data.get(HEADER_SIZE..).unwrap_or_default()),
            total,
            read: 0,
            header,
            h: Histogram::default(),
            stale: Histogram {
                sum: STALE_NAN,
                ..Histogram::default()
            },
            pos_dd: Vec::new(),
            neg_dd: Vec::new(),
            t: i64::MIN,
            t_delta: 0,
            cnt_delta: 0,
            zcnt_delta: 0,
            win: XorWindow::UNSET,
            float_view: FloatView::default(),
            err: None,
        }
    }

    /// Starts over on other chunk bytes, keeping the allocated vectors.
    pub fn reset(&mut self, data: &'a [u8]) -> Result<(), ChunkError> {
        let (total, header) = read_header(data)?;
        self.r = BitReader::new(data.get(HEADER_SIZE..).unwrap_or_default());
        self.total = total;
        self.read = 0;
        self.header = header;
        self.t = i64::MIN;
        self.t_delta = 0;
        self.cnt_delta = 0;
        self.zcnt_delta = 0;
        self.win = XorWindow::UNSET;
        self.err = None;
        self.h.count = 0;
        self.h.zero_count = 0;
        self.h.sum = 0.0;
        self.float_view.invalidate();
        Ok(())
    }

    /// The number of samples the header announces.
    pub fn num_samples(&self) -> u16 {
        self.total
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        self.header
    }

    /// Advances to the next sample: `Ok(true)` when there is one, `Ok(false)` after the
    /// last, an error if the data is damaged or ends early.
    // Not `Iterator::next`: samples are lent from buffers the next call reuses.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<bool, ChunkError> {
        if self.read >= self.total {
            return match self.err {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        self.float_view.invalidate();
        let res = if self.read == 0 {
            self.read_first()
        } else {
            self.read_later()
        };
        match res {
            Ok(()) => {
                self.read += 1;
                self.h.counter_reset_hint = self.header.hint_for_sample(self.read);
                Ok(true)
            }
            Err(e) => {
                self.err = Some(e);
                self.total = self.read;
                Err(e)
            }
        }
    }

    fn read_first(&mut self) -> Result<(), ChunkError> {
        let r = &mut self.r;
        let h = &mut self.h;
        let mut layout = Layout {
            schema: 0,
            zero_threshold: 0.0,
            positive_spans: std::mem::take(&mut h.positive_spans),
            negative_spans: std::mem::take(&mut h.negative_spans),
            custom_values: std::mem::take(&mut h.custom_values),
        };
        let res = read_layout(r, &mut layout);
        h.schema = layout.schema;
        h.zero_threshold = layout.zero_threshold;
        h.positive_spans = layout.positive_spans;
        h.negative_spans = layout.negative_spans;
        h.custom_values = layout.custom_values;
        res?;

        let npos = count_spans(&h.positive_spans);
        let nneg = count_spans(&h.negative_spans);
        // Every bucket of the first sample takes at least one bit.
        if (npos as u64).saturating_add(nneg as u64) > r.remaining_bits() {
            return Err(ChunkError::Truncated("histogram buckets"));
        }
        let eof = ChunkError::Truncated("first histogram sample");
        self.t = read_varbit_int(r).ok_or(eof)?;
        h.count = read_varbit_uint(r).ok_or(eof)?;
        h.zero_count = read_varbit_uint(r).ok_or(eof)?;
        h.sum = f64::from_bits(r.read_bits(64).ok_or(eof)?);
        for (buckets, dd, n) in [
            (&mut h.positive_buckets, &mut self.pos_dd, npos),
            (&mut h.negative_buckets, &mut self.neg_dd, nneg),
        ] {
            buckets.clear();
            for _ in 0..n {
                buckets.push(read_varbit_int(r).ok_or(eof)?);
            }
            dd.clear();
            dd.resize(n, 0);
        }
        Ok(())
    }

    fn read_later(&mut self) -> Result<(), ChunkError> {
        let r = &mut self.r;
        let h = &mut self.h;
        let eof = ChunkError::Truncated("histogram sample");
        self.t_delta = self
            .t_delta
            .wrapping_add(read_varbit_int_fast(r).ok_or(eof)?);
        self.t = self.t.wrapping_add(self.t_delta);
        self.cnt_delta = self
            .cnt_delta
            .wrapping_add(read_varbit_int_fast(r).ok_or(eof)?);
        h.count = h.count.wrapping_add(self.cnt_delta as u64);
        self.zcnt_delta = self
            .zcnt_delta
            .wrapping_add(read_varbit_int_fast(r).ok_or(eof)?);
        h.zero_count = h.zero_count.wrapping_add(self.zcnt_delta as u64);
        xor_read(r, &mut h.sum, &mut self.win).map_err(|e| e.into_chunk_error(eof))?;
        if is_stale_nan(h.sum) {
            // Stale markers carry no buckets.
            return Ok(());
        }
        for (buckets, dd) in [
            (&mut h.positive_buckets, &mut self.pos_dd),
            (&mut h.negative_buckets, &mut self.neg_dd),
        ] {
            for (b, d) in buckets.iter_mut().zip(dd.iter_mut()) {
                *d = d.wrapping_add(read_varbit_int_fast(r).ok_or(eof)?);
                *b = b.wrapping_add(*d);
            }
        }
        Ok(())
    }

    /// Advances to the first sample with timestamp `>= t`; never moves backwards. Returns
    /// `Ok(false)` if there is none.
    pub fn seek(&mut self, t: i64) -> Result<bool, ChunkError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        while self.read == 0 || t > self.t {
            if !self.next()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The current sample's timestamp.
    pub fn timestamp(&self) -> i64 {
        self.t
    }

    /// The current sample; valid after `next` or `seek` returned `true`. A stale marker is
    /// a histogram with only its StaleNaN sum set.
    pub fn at_histogram(&self) -> (i64, &Histogram) {
        if is_stale_nan(self.h.sum) {
            (self.t, &self.stale)
        } else {
            (self.t, &self.h)
        }
    }

    /// The current sample with float counts (absolute bucket counts), built on first use
    /// for each sample.
    pub fn at_float_histogram(&self) -> (i64, &FloatHistogram) {
        let (t, h) = self.at_histogram();
        (t, self.float_view.get_or_fill(h))
    }

    /// The state an appender continuing after the last decoded sample needs, and the
    /// number of bits used after the header.
    pub(crate) fn resume_state(&self) -> (HistState, u64) {
        let h = &self.h;
        let state = HistState {
            num: self.read,
            layout: Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            },
            t: self.t,
            cnt: h.count,
            zcnt: h.zero_count,
            t_delta: self.t_delta,
            cnt_delta: self.cnt_delta,
            zcnt_delta: self.zcnt_delta,
            pos: h.positive_buckets.clone(),
            neg: h.negative_buckets.clone(),
            pos_dd: self.pos_dd.clone(),
            neg_dd: self.neg_dd.clone(),
            sum: h.sum,
            win: self.win,
        };
        (state, self.r.consumed_bits())
    }
}

/// Writes `h` with float counts into `fh`, reusing its vectors.
pub(crate) fn fill_float(fh: &mut FloatHistogram, h: &Histogram) {
    fh.counter_reset_hint = h.counter_reset_hint;
    fh.schema = h.schema;
    fh.zero_threshold = h.zero_threshold;
    fh.zero_count = h.zero_count as f64;
    fh.count = h.count as f64;
    fh.sum = h.sum;
    fh.positive_spans.clone_from(&h.positive_spans);
    fh.negative_spans.clone_from(&h.negative_spans);
    fh.custom_values.clone_from(&h.custom_values);
    for (out, deltas) in [
        (&mut fh.positive_buckets, &h.positive_buckets),
        (&mut fh.negative_buckets, &h.negative_buckets),
    ] {
        out.clear();
        let mut cur = 0i64;
        out.extend(deltas.iter().map(|d| {
            cur = cur.wrapping_add(*d);
            cur as f64
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::HistogramChunk;
    use crate::histogram::{CounterResetHint, Span};

    fn h(count: u64) -> Histogram {
        Histogram {
            schema: 2,
            zero_threshold: 0.5,
            count,
            sum: count as f64 / 2.0,
            negative_spans: vec![Span {
                offset: -3,
                length: 2,
            }],
            negative_buckets: vec![count as i64, -1],
            ..Histogram::default()
        }
    }

    #[test]
    fn stale_markers_read_as_sum_only_histograms() {
        let mut c = HistogramChunk::new();
        let mut app = c.appender().unwrap();
        app.append(1, &h(4)).unwrap();
        let stale = Histogram {
            sum: STALE_NAN,
            ..Histogram::default()
        };
        app.append(2, &stale).unwrap();
        let mut it = c.iter();
        assert!(it.next().unwrap());
        assert_eq!(it.at_histogram().1.negative_buckets, vec![4, -1]);
        assert!(it.next().unwrap());
        let (t, s) = it.at_histogram();
        assert_eq!(t, 2);
        assert!(is_stale_nan(s.sum));
        assert!(s.negative_spans.is_empty() && s.negative_buckets.is_empty());
        let (_, fs) = it.at_float_histogram();
        assert!(is_stale_nan(fs.sum) && fs.negative_buckets.is_empty());
        assert!(!it.next().unwrap());
    }

    #[test]
    fn hints_follow_the_header_and_position() {
        let mut c = HistogramChunk::new();
        let mut app = c.appender().unwrap();
        for n in 1..4 {
            app.append(n, &h(n as u64)).unwrap();
        }
        app.set_counter_reset_header(CounterResetHeader::CounterReset);
        let mut it = c.iter();
        let mut hints = Vec::new();
        while it.next().unwrap() {
            hints.push(it.at_histogram().1.counter_reset_hint);
        }
        assert_eq!(
            hints,
            vec![
                CounterResetHint::Unknown,
                CounterResetHint::NotCounterReset,
                CounterResetHint::NotCounterReset
            ]
        );
        c.set_counter_reset_header(CounterResetHeader::Gauge);
        let mut it = c.iter();
        while it.next().unwrap() {
            assert_eq!(
                it.at_histogram().1.counter_reset_hint,
                CounterResetHint::Gauge
            );
        }
    }

    #[test]
    fn reset_reads_another_chunk_with_the_same_buffers() {
        let mut a = HistogramChunk::new();
        a.appender().unwrap().append(1, &h(9)).unwrap();
        let mut b = HistogramChunk::new();
        b.appender().unwrap().append(5, &h(3)).unwrap();
        let mut it = a.iter();
        assert!(it.next().unwrap());
        let _ = it.at_float_histogram();
        it.reset(b.bytes()).unwrap();
        assert!(it.next().unwrap());
        assert_eq!(it.at_histogram(), (5, &h(3)));
        assert_eq!(it.at_float_histogram().1.negative_buckets, vec![3.0, 2.0]);
    }
}
