//! Integer histogram chunks (encoding 2): the chunk and its plain appender, which appends
//! histograms of the chunk's layout. Deciding when a histogram can join a chunk and
//! recoding it when buckets appear is in `histogram_append.rs`.
//!
//! Samples after the layout section: the first as `varbit_int` timestamp, `varbit_uint`
//! count and zero count, 64 raw sum bits and a `varbit_int` per bucket (buckets are
//! delta-encoded across the bucket list, as in [`Histogram`]); every later sample as
//! `varbit_int` deltas of deltas of timestamp, count and zero count, the sum as
//! `varbit_xor`, then a `varbit_int` delta of deltas per bucket. A stale marker (StaleNaN
//! sum) writes zero count changes and no buckets. Decoding lives in `histogram_iter.rs`.

use super::bstream::BitWriter;
use super::histogram_iter::HistogramIter;
use super::layout::{
    CounterResetHeader, HEADER_SIZE, Layout, read_header, set_counter_reset_header, write_layout,
};
use super::recode::{count_spans, same_buckets};
use super::varbit::{XorWindow, put_varbit_int, put_varbit_uint, xor_write};
use super::{AppendError, ByteCompat, ChunkError};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, Histogram};
use crate::value::is_stale_nan;

/// An integer histogram chunk: its bytes and, once an appender was asked for, the state to
/// continue appending.
#[derive(Debug, Clone)]
pub struct HistogramChunk {
    w: BitWriter,
    state: Option<HistState>,
}

/// What the appender remembers between samples (mirrors the decoder's state).
#[derive(Debug, Clone, Default)]
pub(crate) struct HistState {
    pub(crate) num: u16,
    pub(crate) layout: Layout,
    pub(crate) t: i64,
    pub(crate) cnt: u64,
    pub(crate) zcnt: u64,
    pub(crate) t_delta: i64,
    pub(crate) cnt_delta: i64,
    pub(crate) zcnt_delta: i64,
    /// Last sample's buckets (delta-encoded across buckets).
    pub(crate) pos: Vec<i64>,
    pub(crate) neg: Vec<i64>,
    /// Per bucket: the change at the last sample.
    pub(crate) pos_dd: Vec<i64>,
    pub(crate) neg_dd: Vec<i64>,
    pub(crate) sum: f64,
    pub(crate) win: XorWindow,
}

impl HistState {
    fn empty() -> HistState {
        HistState {
            t: i64::MIN,
            win: XorWindow::UNSET,
            ..HistState::default()
        }
    }
}

impl Default for HistogramChunk {
    fn default() -> Self {
        HistogramChunk::new()
    }
}

impl HistogramChunk {
    /// An empty chunk (header only, zero samples, unknown counter reset).
    pub fn new() -> HistogramChunk {
        HistogramChunk::with_compat(ByteCompat::default())
    }

    /// An empty chunk whose bytes follow `compat` (see [`ByteCompat`]).
    pub fn with_compat(compat: ByteCompat) -> HistogramChunk {
        HistogramChunk {
            w: BitWriter::with_header(HEADER_SIZE, compat),
            state: Some(HistState::empty()),
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
    pub fn from_bytes(data: Vec<u8>) -> Result<HistogramChunk, ChunkError> {
        read_header(&data)?;
        Ok(HistogramChunk {
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
    pub fn iter(&self) -> HistogramIter<'_> {
        HistogramIter::new(self.w.bytes()).unwrap_or_else(|_| HistogramIter::empty())
    }

    /// An appender continuing after the last sample. For a chunk made by
    /// [`from_bytes`](Self::from_bytes) the first call decodes the chunk (and fails if it is
    /// damaged) and drops any bytes after the last sample.
    pub fn appender(&mut self) -> Result<HistogramAppender<'_>, ChunkError> {
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
        let HistogramChunk { w, state } = self;
        let st = state.get_or_insert_with(HistState::empty);
        Ok(HistogramAppender { w, st })
    }
}

/// Appends integer histograms to a [`HistogramChunk`].
#[derive(Debug)]
pub struct HistogramAppender<'a> {
    pub(super) w: &'a mut BitWriter,
    pub(super) st: &'a mut HistState,
}

impl HistogramAppender<'_> {
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

    /// Appends a histogram whose layout is the chunk's: same schema, zero threshold and
    /// custom bounds, and the same buckets (spans may be split differently). The first
    /// histogram sets the layout; stale markers always fit, but after a stale marker only
    /// stale markers do. Anything else is [`AppendError::LayoutMismatch`]; use
    /// [`append_histogram`](Self::append_histogram) to cut or recode chunks instead.
    pub fn append(&mut self, t: i64, h: &Histogram) -> Result<(), AppendError> {
        check_fits(self.st, h)?;
        self.append_unchecked(t, h);
        Ok(())
    }

    /// Appends `h`, which fits the layout.
    pub(super) fn append_unchecked(&mut self, t: i64, h: &Histogram) {
        let w = &mut *self.w;
        let st = &mut *self.st;
        let stale_only;
        let h = if is_stale_nan(h.sum) {
            // A stale marker writes no buckets (and an empty layout if it comes first).
            stale_only = Histogram {
                sum: h.sum,
                ..Histogram::default()
            };
            &stale_only
        } else {
            h
        };
        let (mut t_delta, mut cnt_delta, mut zcnt_delta) = (0, 0, 0);
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
            for (v, n) in [
                (&mut st.pos, count_spans(&h.positive_spans)),
                (&mut st.neg, count_spans(&h.negative_spans)),
                (&mut st.pos_dd, count_spans(&h.positive_spans)),
                (&mut st.neg_dd, count_spans(&h.negative_spans)),
            ] {
                v.clear();
                v.resize(n, 0);
            }
            put_varbit_int(w, t);
            put_varbit_uint(w, h.count);
            put_varbit_uint(w, h.zero_count);
            w.write_bits(h.sum.to_bits(), 64);
            for &b in h.positive_buckets.iter().chain(&h.negative_buckets) {
                put_varbit_int(w, b);
            }
        } else {
            t_delta = t.wrapping_sub(st.t);
            cnt_delta = (h.count as i64).wrapping_sub(st.cnt as i64);
            zcnt_delta = (h.zero_count as i64).wrapping_sub(st.zcnt as i64);
            let (mut cnt_dod, mut zcnt_dod) = (
                cnt_delta.wrapping_sub(st.cnt_delta),
                zcnt_delta.wrapping_sub(st.zcnt_delta),
            );
            if is_stale_nan(h.sum) {
                cnt_dod = 0;
                zcnt_dod = 0;
            }
            put_varbit_int(w, t_delta.wrapping_sub(st.t_delta));
            put_varbit_int(w, cnt_dod);
            put_varbit_int(w, zcnt_dod);
            xor_write(w, h.sum, st.sum, &mut st.win);
            for (buckets, last, dd) in [
                (&h.positive_buckets, &st.pos, &mut st.pos_dd),
                (&h.negative_buckets, &st.neg, &mut st.neg_dd),
            ] {
                for ((&b, &prev), d) in buckets.iter().zip(last).zip(dd.iter_mut()) {
                    let delta = b.wrapping_sub(prev);
                    put_varbit_int(w, delta.wrapping_sub(*d));
                    *d = delta;
                }
            }
        }
        st.t = t;
        st.cnt = h.count;
        st.zcnt = h.zero_count;
        st.t_delta = t_delta;
        st.cnt_delta = cnt_delta;
        st.zcnt_delta = zcnt_delta;
        for (last, buckets) in [
            (&mut st.pos, &h.positive_buckets),
            (&mut st.neg, &h.negative_buckets),
        ] {
            for (l, &b) in last.iter_mut().zip(buckets) {
                *l = b;
            }
        }
        st.sum = h.sum;
        st.num += 1;
        if let Some(header) = w.header_mut::<2>() {
            *header = st.num.to_be_bytes();
        }
    }
}

/// Checks that `h` may be appended to a chunk in state `st` without changing its layout.
fn check_fits(st: &HistState, h: &Histogram) -> Result<(), AppendError> {
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
