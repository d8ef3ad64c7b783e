//! Float histogram chunks (encoding 3): the chunk and its plain appender, which appends
//! histograms of the chunk's layout. Appendability and recoding are in
//! `float_histogram_append.rs`.
//!
//! Samples after the layout section: the first as `varbit_int` timestamp, then count,
//! zero count, sum and every bucket (absolute counts) as 64 raw bits; every later sample as
//! a `varbit_int` timestamp delta of deltas, then count, zero count, sum and each bucket as
//! `varbit_xor` against its own previous value with its own leading/trailing window. A
//! stale marker writes count and zero count 0 (as XORs), its sum, and no buckets.
//! Decoding lives in `float_histogram_iter.rs`.

use super::bstream::BitWriter;
use super::float_histogram_iter::FloatHistogramIter;
use super::layout::{
    CounterResetHeader, HEADER_SIZE, Layout, read_header, set_counter_reset_header, write_layout,
};
use super::recode::{count_spans, same_buckets};
use super::varbit::{XorWindow, put_varbit_int, xor_write};
use super::{AppendError, ByteCompat, ChunkError};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram};
use crate::value::is_stale_nan;

/// A float histogram chunk: its bytes and, once an appender was asked for, the state to
/// continue appending.
#[derive(Debug, Clone)]
pub struct FloatHistogramChunk {
    w: BitWriter,
    state: Option<FloatHistState>,
}

/// What the appender remembers between samples (mirrors the decoder's state).
#[derive(Debug, Clone, Default)]
pub(crate) struct FloatHistState {
    pub(crate) num: u16,
    pub(crate) layout: Layout,
    pub(crate) t: i64,
    pub(crate) t_delta: i64,
    pub(crate) cnt: f64,
    pub(crate) cnt_win: XorWindow,
    pub(crate) zcnt: f64,
    pub(crate) zcnt_win: XorWindow,
    pub(crate) sum: f64,
    pub(crate) sum_win: XorWindow,
    pub(crate) pos: Vec<f64>,
    pub(crate) pos_wins: Vec<XorWindow>,
    pub(crate) neg: Vec<f64>,
    pub(crate) neg_wins: Vec<XorWindow>,
}

impl FloatHistState {
    fn empty() -> FloatHistState {
        FloatHistState {
            t: i64::MIN,
            ..FloatHistState::default()
        }
    }
}

impl Default for FloatHistogramChunk {
    fn default() -> Self {
        FloatHistogramChunk::new()
    }
}

impl FloatHistogramChunk {
    /// An empty chunk (header only, zero samples, unknown counter reset).
    pub fn new() -> FloatHistogramChunk {
        FloatHistogramChunk::with_compat(ByteCompat::default())
    }

    /// An empty chunk whose bytes follow `compat` (see [`ByteCompat`]).
    pub fn with_compat(compat: ByteCompat) -> FloatHistogramChunk {
        FloatHistogramChunk {
            w: BitWriter::with_header(HEADER_SIZE, compat),
            state: Some(FloatHistState::empty()),
        }
    }

    /// The byte layout appends follow.
    pub fn byte_compat(&self) -> ByteCompat {
        self.w.compat()
    }

    /// Switches the byte layout appends follow from now on (chunks loaded with
    /// `from_bytes` start with [`ByteCompat::V3`]).
    pub fn set_byte_compat(&mut self, compat: ByteCompat) {
        self.w.set_compat(compat);
    }

    /// A chunk over stored bytes (without the encoding byte). Only the header's presence
    /// is checked here; iteration reports damaged sample data.
    pub fn from_bytes(data: Vec<u8>) -> Result<FloatHistogramChunk, ChunkError> {
        read_header(&data)?;
        Ok(FloatHistogramChunk {
            w: {
                let bits = data.len() as u64 * 8;
                BitWriter::resume(data, bits, ByteCompat::default())
            },
            state: None,
        })
    }

    /// The chunk's bytes, as stored in a chunk file after the encoding byte.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Gives up the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// The number of samples the header announces.
    pub fn num_samples(&self) -> u16 {
        read_header(self.w.bytes()).map_or(0, |(n, _)| n)
    }

    /// The counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        read_header(self.w.bytes()).map_or(CounterResetHeader::Unknown, |(_, h)| h)
    }

    /// Sets the counter-reset header.
    pub fn set_counter_reset_header(&mut self, h: CounterResetHeader) {
        if let Some(header) = self.w.header_mut::<HEADER_SIZE>() {
            set_counter_reset_header(header, h);
        }
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> FloatHistogramIter<'_> {
        FloatHistogramIter::new(self.w.bytes()).unwrap_or_else(|_| FloatHistogramIter::empty())
    }

    /// An appender continuing after the last sample. For a chunk made by
    /// [`from_bytes`](Self::from_bytes) the first call decodes the chunk (and fails if it is
    /// damaged) and drops any bytes after the last sample.
    pub fn appender(&mut self) -> Result<FloatHistogramAppender<'_>, ChunkError> {
        if self.state.is_none() {
            let mut it = self.iter();
            while it.next()? {}
            let (state, used) = it.resume_state();
            let used_bits = HEADER_SIZE as u64 * 8 + used;
            let compat = self.w.compat();
            let bytes = std::mem::take(&mut self.w).into_bytes();
            self.w = BitWriter::resume(bytes, used_bits, compat);
            self.state = Some(state);
        }
        let FloatHistogramChunk { w, state } = self;
        let st = state.get_or_insert_with(FloatHistState::empty);
        Ok(FloatHistogramAppender { w, st })
    }
}

/// Appends float histograms to a [`FloatHistogramChunk`].
#[derive(Debug)]
pub struct FloatHistogramAppender<'a> {
    pub(super) w: &'a mut BitWriter,
    pub(super) st: &'a mut FloatHistState,
}

impl FloatHistogramAppender<'_> {
    /// The number of samples in the chunk.
    pub fn num_samples(&self) -> u16 {
        self.st.num
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        read_header(self.w.bytes()).map_or(CounterResetHeader::Unknown, |(_, h)| h)
    }

    /// Sets the chunk's counter-reset header.
    pub fn set_counter_reset_header(&mut self, h: CounterResetHeader) {
        if let Some(header) = self.w.header_mut::<HEADER_SIZE>() {
            set_counter_reset_header(header, h);
        }
    }

    /// Appends a float histogram whose layout is the chunk's (see
    /// [`HistogramAppender::append`](super::HistogramAppender::append) for the rules).
    pub fn append(&mut self, t: i64, h: &FloatHistogram) -> Result<(), AppendError> {
        check_fits(self.st, h)?;
        self.append_unchecked(t, h);
        Ok(())
    }

    pub(super) fn append_unchecked(&mut self, t: i64, h: &FloatHistogram) {
        let w = &mut *self.w;
        let st = &mut *self.st;
        let stale_only;
        let h = if is_stale_nan(h.sum) {
            stale_only = FloatHistogram {
                sum: h.sum,
                ..FloatHistogram::default()
            };
            &stale_only
        } else {
            h
        };
        let mut t_delta = 0;
        if st.num == 0 {
            write_layout(
                w,
                h.schema,
                h.zero_threshold,
                &h.positive_spans,
                &h.negative_spans,
                &h.custom_values,
            );
            st.layout = Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            };
            for (vals, wins, src) in [
                (&mut st.pos, &mut st.pos_wins, &h.positive_buckets),
                (&mut st.neg, &mut st.neg_wins, &h.negative_buckets),
            ] {
                vals.clone_from(src);
                wins.clear();
                wins.resize(src.len(), XorWindow::UNSET);
            }
            put_varbit_int(w, t);
            w.write_bits(h.count.to_bits(), 64);
            w.write_bits(h.zero_count.to_bits(), 64);
            w.write_bits(h.sum.to_bits(), 64);
            st.cnt = h.count;
            st.zcnt = h.zero_count;
            st.sum = h.sum;
            for &b in h.positive_buckets.iter().chain(&h.negative_buckets) {
                w.write_bits(b.to_bits(), 64);
            }
        } else {
            t_delta = t.wrapping_sub(st.t);
            put_varbit_int(w, t_delta.wrapping_sub(st.t_delta));
            xor_write(w, h.count, st.cnt, &mut st.cnt_win);
            st.cnt = h.count;
            xor_write(w, h.zero_count, st.zcnt, &mut st.zcnt_win);
            st.zcnt = h.zero_count;
            xor_write(w, h.sum, st.sum, &mut st.sum_win);
            st.sum = h.sum;
            for (buckets, vals, wins) in [
                (&h.positive_buckets, &mut st.pos, &mut st.pos_wins),
                (&h.negative_buckets, &mut st.neg, &mut st.neg_wins),
            ] {
                for ((&b, v), win) in buckets.iter().zip(vals.iter_mut()).zip(wins.iter_mut()) {
                    xor_write(w, b, *v, win);
                    *v = b;
                }
            }
        }
        st.t = t;
        st.t_delta = t_delta;
        st.num += 1;
        if let Some(header) = w.header_mut::<2>() {
            *header = st.num.to_be_bytes();
        }
    }
}

fn check_fits(st: &FloatHistState, h: &FloatHistogram) -> Result<(), AppendError> {
    if st.num == u16::MAX {
        return Err(AppendError::ChunkFull);
    }
    if is_stale_nan(h.sum) {
        return Ok(());
    }
    if count_spans(&h.positive_spans) != h.positive_buckets.len()
        || count_spans(&h.negative_spans) != h.negative_buckets.len()
    {
        return Err(AppendError::LayoutMismatch(
            "bucket counts do not match the spans",
        ));
    }
    if st.num == 0 {
        return Ok(());
    }
    if is_stale_nan(st.sum) {
        return Err(AppendError::LayoutMismatch(
            "only stale markers may follow a stale marker in a chunk",
        ));
    }
    if h.schema != st.layout.schema || h.zero_threshold != st.layout.zero_threshold {
        return Err(AppendError::LayoutMismatch(
            "schema or zero threshold differs",
        ));
    }
    if h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values {
        return Err(AppendError::LayoutMismatch("custom bucket bounds differ"));
    }
    if !same_buckets(&h.positive_spans, &st.layout.positive_spans)
        || !same_buckets(&h.negative_spans, &st.layout.negative_spans)
    {
        return Err(AppendError::LayoutMismatch(
            "buckets differ from the chunk's",
        ));
    }
    Ok(())
}
