//! Decoding float histogram chunks (encoding 3).
//!
//! [`FloatHistogramIter`] keeps the current sample in one [`FloatHistogram`] with absolute
//! bucket counts, reusing its vectors from sample to sample (and from chunk to chunk with
//! [`FloatHistogramIter::reset`]). Every float field has its own XOR window. Encoding lives
//! in `float_histogram.rs`.

use super::ChunkError;
use super::bstream::BitReader;
use super::float_histogram::FloatHistState;
use super::layout::{CounterResetHeader, HEADER_SIZE, Layout, read_header, read_layout};
use super::recode::count_spans;
use super::varbit::{XorWindow, read_varbit_int, xor_read};
use crate::histogram::FloatHistogram;
use crate::value::{STALE_NAN, is_stale_nan};

/// Iterates over the samples of float histogram chunk bytes.
///
/// Call [`next`](Self::next) until it returns `Ok(false)`; if the data is damaged or ends
/// before the announced number of samples, `next` returns the error, and again on every
/// later call.
#[derive(Debug, Clone)]
pub struct FloatHistogramIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    /// The current sample.
    h: FloatHistogram,
    /// What a stale marker reads as: only the StaleNaN sum.
    stale: FloatHistogram,
    cnt_win: XorWindow,
    zcnt_win: XorWindow,
    sum_win: XorWindow,
    pos_wins: Vec<XorWindow>,
    neg_wins: Vec<XorWindow>,
    t: i64,
    t_delta: i64,
    err: Option<ChunkError>,
}

impl<'a> FloatHistogramIter<'a> {
    /// An iterator over chunk bytes (starting with the 3-byte header).
    pub fn new(data: &'a [u8]) -> Result<FloatHistogramIter<'a>, ChunkError> {
        let (total, header) = read_header(data)?;
        Ok(FloatHistogramIter::with_header(total, header, data))
    }

    /// An iterator without samples.
    pub(crate) fn empty() -> FloatHistogramIter<'a> {
        FloatHistogramIter::with_header(0, CounterResetHeader::Unknown, &[])
    }

    fn with_header(
        total: u16,
        header: CounterResetHeader,
        data: &'a [u8],
    ) -> FloatHistogramIter<'a> {
        FloatHistogramIter {
            r: BitReader::new(data.get(HEADER_SIZE..).unwrap_or_default()),
            total,
            read: 0,
            header,
            h: FloatHistogram::default(),
            stale: FloatHistogram {
                sum: STALE_NAN,
                ..FloatHistogram::default()
            },
            cnt_win: XorWindow::UNSET,
            zcnt_win: XorWindow::UNSET,
            sum_win: XorWindow::UNSET,
            pos_wins: Vec::new(),
            neg_wins: Vec::new(),
            t: i64::MIN,
            t_delta: 0,
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
        self.err = None;
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
        // Every bucket of the first sample takes 64 bits.
        if (npos as u64).saturating_add(nneg as u64).saturating_mul(64) > r.remaining_bits() {
            return Err(ChunkError::Truncated("float histogram buckets"));
        }
        let eof = ChunkError::Truncated("first float histogram sample");
        self.t = read_varbit_int(r).ok_or(eof)?;
        h.count = f64::from_bits(r.read_bits(64).ok_or(eof)?);
        h.zero_count = f64::from_bits(r.read_bits(64).ok_or(eof)?);
        h.sum = f64::from_bits(r.read_bits(64).ok_or(eof)?);
        self.cnt_win = XorWindow::UNSET;
        self.zcnt_win = XorWindow::UNSET;
        self.sum_win = XorWindow::UNSET;
        for (buckets, wins, n) in [
            (&mut h.positive_buckets, &mut self.pos_wins, npos),
            (&mut h.negative_buckets, &mut self.neg_wins, nneg),
        ] {
            buckets.clear();
            for _ in 0..n {
                buckets.push(f64::from_bits(r.read_bits(64).ok_or(eof)?));
            }
            wins.clear();
            wins.resize(n, XorWindow::UNSET);
        }
        Ok(())
    }

    fn read_later(&mut self) -> Result<(), ChunkError> {
        let r = &mut self.r;
        let h = &mut self.h;
        let eof = ChunkError::Truncated("float histogram sample");
        let dod = read_varbit_int(r).ok_or(eof)?;
        self.t_delta = self.t_delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.t_delta);
        let conv = |e: super::varbit::XorReadError| e.into_chunk_error(eof);
        xor_read(r, &mut h.count, &mut self.cnt_win).map_err(conv)?;
        xor_read(r, &mut h.zero_count, &mut self.zcnt_win).map_err(conv)?;
        xor_read(r, &mut h.sum, &mut self.sum_win).map_err(conv)?;
        if is_stale_nan(h.sum) {
            // Stale markers carry no buckets.
            return Ok(());
        }
        for (buckets, wins) in [
            (&mut h.positive_buckets, &mut self.pos_wins),
            (&mut h.negative_buckets, &mut self.neg_wins),
        ] {
            for (b, win) in buckets.iter_mut().zip(wins.iter_mut()) {
                xor_read(r, b, win).map_err(conv)?;
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
    pub fn at_float_histogram(&self) -> (i64, &FloatHistogram) {
        if is_stale_nan(self.h.sum) {
            (self.t, &self.stale)
        } else {
            (self.t, &self.h)
        }
    }

    /// The state an appender continuing after the last decoded sample needs, and the
    /// number of bits used after the header.
    pub(crate) fn resume_state(&self) -> (FloatHistState, u64) {
        let h = &self.h;
        let state = FloatHistState {
            num: self.read,
            layout: Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            },
            t: self.t,
            t_delta: self.t_delta,
            cnt: h.count,
            cnt_win: self.cnt_win,
            zcnt: h.zero_count,
            zcnt_win: self.zcnt_win,
            sum: h.sum,
            sum_win: self.sum_win,
            pos: h.positive_buckets.clone(),
            pos_wins: self.pos_wins.clone(),
            neg: h.negative_buckets.clone(),
            neg_wins: self.neg_wins.clone(),
        };
        (state, self.r.consumed_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::FloatHistogramChunk;
    use crate::histogram::Span;

    fn fh(v: f64) -> FloatHistogram {
        FloatHistogram {
            schema: -2,
            count: v * 3.0,
            zero_count: v,
            sum: -v,
            positive_spans: vec![Span {
                offset: 1,
                length: 2,
            }],
            positive_buckets: vec![v, v / 3.0],
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn every_field_keeps_its_own_window() {
        let mut c = FloatHistogramChunk::new();
        let mut app = c.appender().unwrap();
        let values = [1.0, 1.5, 1e300, -0.0, 2.25, f64::MIN_POSITIVE, 7.0];
        for (i, v) in values.iter().enumerate() {
            app.append(i as i64, &fh(*v)).unwrap();
        }
        let mut it = c.iter();
        for (i, v) in values.iter().enumerate() {
            assert!(it.next().unwrap());
            let (t, got) = it.at_float_histogram();
            assert_eq!(t, i as i64);
            let want = fh(*v);
            assert_eq!(got.count.to_bits(), want.count.to_bits());
            assert_eq!(got.sum.to_bits(), want.sum.to_bits());
            assert_eq!(
                got.positive_buckets[1].to_bits(),
                want.positive_buckets[1].to_bits()
            );
        }
        assert!(!it.next().unwrap());
    }

    #[test]
    fn stale_markers_read_as_sum_only_histograms() {
        let mut c = FloatHistogramChunk::new();
        let mut app = c.appender().unwrap();
        app.append(1, &fh(2.0)).unwrap();
        let stale = FloatHistogram {
            sum: STALE_NAN,
            ..FloatHistogram::default()
        };
        app.append(2, &stale).unwrap();
        let mut it = c.iter();
        assert!(it.next().unwrap() && it.next().unwrap());
        let (_, s) = it.at_float_histogram();
        assert!(is_stale_nan(s.sum) && s.positive_buckets.is_empty() && s.count == 0.0);
    }
}
