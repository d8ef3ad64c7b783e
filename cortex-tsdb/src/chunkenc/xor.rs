//! XOR chunks (encoding 1): float samples, Gorilla-compressed, byte-identical to
//! Prometheus' `XORChunk`.
//!
//! Layout: a 2-byte big-endian sample count, then a bit stream: the first timestamp as a
//! zig-zag varint and the first value as 64 raw bits; the second timestamp as a uvarint
//! delta and the value as `varbit_xor`; every later timestamp as a delta of deltas in one of
//! Prometheus' buckets (`0`, `10`+14 bits, `110`+17, `1110`+20, `1111`+64) followed by the
//! value XOR. This module owns the chunk, its appender and the fast float iterator; the
//! encoding-independent iterator lives in `iter.rs`.

use super::bstream::{BitWriter, write_uvarint, write_varint};
use super::varbit::{XorWindow, bit_range, xor_write, xor_write_after};
use super::xor_iter::XorIter;
use super::{AppendError, ByteCompat, ChunkError};

/// Bytes before the bit stream: the sample count.
const HEADER_SIZE: usize = 2;

/// An XOR chunk: its bytes and the state to continue appending (decoded from the bytes
/// when an appender is first asked for, for a chunk made from stored bytes).
#[derive(Debug, Clone)]
pub struct XorChunk {
    w: BitWriter,
    state: XorState,
}

/// What the appender must remember between samples.
#[derive(Debug, Clone, Copy)]
struct XorState {
    /// Samples in the chunk (the header's count, at most `u16::MAX`), or [`UNDECODED`].
    /// Held as a `u32`: read together with its neighbours as a wider word, a `u16` would
    /// not be served from the store that wrote it, which stalls appending.
    num: u32,
    t: i64,
    v: f64,
    t_delta: u64,
    win: XorWindow,
}

/// [`XorState::num`] of a chunk over stored bytes whose state was not decoded yet.
const UNDECODED: u32 = u32::MAX;

impl XorState {
    const EMPTY: XorState = XorState {
        num: 0,
        t: i64::MIN,
        v: 0.0,
        t_delta: 0,
        win: XorWindow::UNSET,
    };
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk (header only, zero samples).
    pub fn new() -> XorChunk {
        XorChunk::with_compat(ByteCompat::default())
    }

    /// An empty chunk whose bytes follow `compat` (see [`ByteCompat`]).
    pub fn with_compat(compat: ByteCompat) -> XorChunk {
        XorChunk {
            w: BitWriter::with_header(HEADER_SIZE, compat),
            state: XorState::EMPTY,
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
    pub fn from_bytes(data: Vec<u8>) -> Result<XorChunk, ChunkError> {
        if data.len() < HEADER_SIZE {
            return Err(ChunkError::Truncated("XOR chunk header"));
        }
        Ok(XorChunk {
            w: {
                let bits = data.len() as u64 * 8;
                BitWriter::resume(data, bits, ByteCompat::default())
            },
            state: XorState {
                num: UNDECODED,
                ..XorState::EMPTY
            },
        })
    }

    /// The chunk's bytes, as stored in a chunk file after the encoding byte.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Gives up the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// The number of samples the header announces.
    #[inline]
    pub fn num_samples(&self) -> u16 {
        num_samples(self.w.bytes())
    }

    /// The value of the last sample appended, as the appender remembers it; `None` for an
    /// empty chunk, or one over stored bytes no appender was asked for yet.
    pub fn last_value(&self) -> Option<f64> {
        (self.state.num != 0 && self.state.num != UNDECODED).then_some(self.state.v)
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> XorIter<'_> {
        let b = self.w.bytes();
        XorIter::with_header(num_samples(b).to_be_bytes(), b)
    }

    /// An appender continuing after the last sample. For a chunk made by
    /// [`from_bytes`](Self::from_bytes) the first call decodes the chunk (and fails if it is
    /// damaged); it also drops bytes after the last sample, so appending continues in the
    /// last sample's padding bits exactly as uninterrupted appending would.
    #[inline]
    pub fn appender(&mut self) -> Result<XorAppender<'_>, ChunkError> {
        if self.state.num == UNDECODED {
            self.resume()?;
        }
        let XorChunk { w, state } = self;
        Ok(XorAppender {
            w,
            st: state,
            end: i64::MAX,
        })
    }

    /// Decodes a chunk made by [`from_bytes`](Self::from_bytes) to learn the state
    /// appending continues from (kept out of line: the head's appends never need it).
    #[cold]
    #[inline(never)]
    fn resume(&mut self) -> Result<(), ChunkError> {
        let mut it = self.iter();
        while it.next()? {}
        let (t, v, t_delta, window, used) = it.resume_state();
        let state = XorState {
            num: u32::from(self.num_samples()),
            t: if self.num_samples() == 0 { i64::MIN } else { t },
            v,
            t_delta,
            win: match window {
                Some((leading, trailing)) => XorWindow { leading, trailing },
                None => XorWindow::UNSET,
            },
        };
        let used_bits = HEADER_SIZE as u64 * 8 + used;
        let compat = self.w.compat();
        let bytes = std::mem::take(&mut self.w).into_bytes();
        self.w = BitWriter::resume(bytes, used_bits, compat);
        self.state = state;
        Ok(())
    }

    /// An appender, as [`appender`](Self::appender), for a chunk that will be closed
    /// before a sample at `end` (the head's chunk window). Knowing how many samples are
    /// still to come, the appender grows the buffer in steps of half towards the size
    /// those samples need, instead of sizing it for a typical full chunk at once: a
    /// series scraped every 2 minutes fills 60 samples before its window ends, not 120,
    /// and an open chunk never holds much more than it will use.
    #[inline]
    pub fn appender_until(&mut self, end: i64) -> Result<XorAppender<'_>, ChunkError> {
        let mut app = self.appender()?;
        app.end = end;
        Ok(app)
    }
}

/// Appends float samples to an [`XorChunk`].
#[derive(Debug)]
pub struct XorAppender<'a> {
    w: &'a mut BitWriter,
    st: &'a mut XorState,
    /// Time before which the chunk will be closed; `i64::MAX` when not known.
    end: i64,
}

impl XorAppender<'_> {
    /// Appends a sample. Timestamps are expected to increase (Prometheus' head only
    /// appends in order), but any sequence round-trips.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), AppendError> {
        let XorAppender { w, st, end } = self;
        let num = st.num;
        // The first two samples and a full chunk take the out-of-line path.
        if num.wrapping_sub(2) >= u32::from(u16::MAX) - 2 {
            return append_head(w, st, t, v);
        }
        if w.needs_room(MAX_SAMPLE_BYTES) {
            grow(w, num, t, *end);
        }
        let t_delta = t.wrapping_sub(st.t) as u64;
        let dod = t_delta.wrapping_sub(st.t_delta);
        let delta = v.to_bits() ^ st.v.to_bits();
        st.t = t;
        st.v = v;
        st.t_delta = t_delta;
        st.num = num + 1;
        set_num_samples(w, (num + 1) as u16);
        if dod == 0 {
            // The prefix is the single bit `0`.
            xor_write_after(w, 0, 1, delta, &mut st.win);
        } else {
            write_dod_and_value(w, dod as i64, delta, &mut st.win);
        }
        Ok(())
    }

    /// The number of samples in the chunk.
    pub fn num_samples(&self) -> u16 {
        self.st.num as u16
    }
}

/// The most bytes one sample after the second takes: a 4-bit delta-of-delta prefix with
/// 64 bits, and a value with a new window (2 + 5 + 6 control bits and 64 bits).
const MAX_SAMPLE_BYTES: usize = 19;

/// Samples a head chunk usually ends with (Prometheus cuts at 120).
const TYPICAL_SAMPLES: usize = 120;

/// Most samples a head chunk takes (twice the 120 it aims for; see `head::chunk`).
const MAX_EXPECTED_SAMPLES: usize = 240;

/// Makes room for one more sample (at `t`, after `num`) in a chunk whose buffer is full.
///
/// Without a known end the buffer grows at once to the size a chunk of
/// [`TYPICAL_SAMPLES`] is predicted to reach: one reallocation per chunk. With an end,
/// the samples still to come are counted from the average interval so far, and the
/// buffer grows by half its size at a time, never past what those samples need: an open
/// head chunk is mostly full whenever it is looked at.
#[cold]
#[inline(never)]
fn grow(w: &mut BitWriter, num: u32, t: i64, end: i64) {
    let used = w.used_bytes();
    let target = if end == i64::MAX {
        predicted_size(used, num, TYPICAL_SAMPLES)
    } else {
        let expect = expected_samples(first_time(w.bytes()), t, num, end);
        let len = w.capacity();
        predicted_size(used, num, expect).min(len + len / 2)
    };
    w.reserve_for(MAX_SAMPLE_BYTES, target);
}

/// The timestamp of a chunk's first sample: a zig-zag varint right after the header.
fn first_time(bytes: &[u8]) -> i64 {
    bytes
        .get(HEADER_SIZE..)
        .and_then(|b| crate::encoding::Decoder::new(b).varint().ok())
        .unwrap_or(i64::MIN)
}

/// How many samples a chunk that holds `num` samples from `first` on, and gets one at
/// `t`, will hold when it is closed before `end`, at the average interval so far.
fn expected_samples(first: i64, t: i64, num: u32, end: i64) -> usize {
    let num = u64::from(num);
    let span = t.saturating_sub(first);
    if span <= 0 || first == i64::MIN {
        return TYPICAL_SAMPLES;
    }
    // `num` intervals lie between the first sample and the one at `t`.
    let left = (end.saturating_sub(t).saturating_sub(1)).max(0) as u128;
    let more = left * u128::from(num) / span as u128;
    (num + 1).saturating_add(u64::try_from(more).unwrap_or(u64::MAX)) as usize
}

/// The size a chunk of `num` samples in `used` bytes is expected to reach at `expect`
/// samples: the bytes of the samples after the second (header and the first two samples
/// take about 15 bytes) extrapolated (less a tenth), plus one sample's worst case; past
/// `expect` samples, a quarter more.
fn predicted_size(used: usize, num: u32, expect: usize) -> usize {
    let num = num as usize;
    let expect = expect.min(MAX_EXPECTED_SAMPLES);
    if num >= expect {
        return used + used / 4;
    }
    let first = 15.min(used);
    let per_sample = (used - first) as f64 / num.saturating_sub(2).max(1) as f64;
    // Early samples cost more than later ones (value windows are still being found),
    // so the early rate overstates the rest a little.
    let rest = per_sample * 0.9 * (expect - num) as f64;
    used + rest as usize + MAX_SAMPLE_BYTES
}

/// Appends the first or second sample, or refuses one more than the header can count.
#[inline(never)]
fn append_head(w: &mut BitWriter, st: &mut XorState, t: i64, v: f64) -> Result<(), AppendError> {
    let num = st.num;
    let mut t_delta = 0;
    match num {
        0 => {
            write_varint(w, t);
            w.write_bits(v.to_bits(), 64);
        }
        1 => {
            t_delta = t.wrapping_sub(st.t) as u64;
            write_uvarint(w, t_delta);
            xor_write(w, v, st.v, &mut st.win);
        }
        _ => return Err(AppendError::ChunkFull),
    }
    st.t = t;
    st.v = v;
    st.t_delta = t_delta;
    st.num = num + 1;
    set_num_samples(w, (num + 1) as u16);
    Ok(())
}

/// Writes a non-zero delta of deltas in its bucket, then the value XOR `delta`.
#[inline(never)]
fn write_dod_and_value(w: &mut BitWriter, dod: i64, delta: u64, win: &mut XorWindow) {
    let d = dod as u64;
    let (code, bits) = if bit_range(dod, 14) {
        ((0b10 << 14) | (d & 0x3fff), 16)
    } else if bit_range(dod, 17) {
        ((0b110 << 17) | (d & 0x1_ffff), 20)
    } else if bit_range(dod, 20) {
        ((0b1110 << 20) | (d & 0xf_ffff), 24)
    } else {
        w.write_bits(0b1111, 4);
        w.write_bits(d, 64);
        return xor_write_after(w, 0, 0, delta, win);
    };
    xor_write_after(w, code << (64 - bits), bits, delta, win);
}

#[inline]
fn num_samples(b: &[u8]) -> u16 {
    match b.first_chunk::<2>() {
        Some(h) => u16::from_be_bytes(*h),
        None => 0,
    }
}

#[inline]
fn set_num_samples(w: &mut BitWriter, n: u16) {
    if let Some(h) = w.header_mut::<2>() {
        *h = n.to_be_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_to_the_predicted_size_not_by_doubling() {
        // Value steps: counters, a gauge-like walk, large jumps, a constant.
        for step in [1000.0, 0.37, 1e9 + 0.123, 0.0] {
            let mut c = XorChunk::new();
            let mut app = c.appender().unwrap();
            let (mut t, mut v) = (0i64, 123_456_789.0f64);
            let mut at_100 = 0;
            for i in 0..120 {
                t += 30_000;
                v += step * f64::from(i % 7);
                app.append(t, v).unwrap();
                if i == 99 {
                    at_100 = app.w.capacity();
                }
            }
            let used = c.bytes().len();
            let cap = c.w.capacity();
            eprintln!(
                "step {step}: {used} bytes at 120 samples; buffer {at_100} at 100, {cap} at 120"
            );
            assert!(cap >= used);
            // No doubling: the buffer ends within a fifth (plus one sample) of the bytes.
            assert!(
                cap <= (used + used / 5 + 2 * MAX_SAMPLE_BYTES).max(96),
                "step {step}: {used} bytes in a buffer of {cap}"
            );
        }
    }
    #[test]
    fn buffers_with_a_known_end_stay_close_to_their_samples() {
        // A 2-minute interval in a 2-hour window: the chunk closes at 60 samples.
        for step in [1000.0, 0.37, 1e9 + 0.123, 0.0] {
            let end = 60 * 120_000;
            let mut c = XorChunk::new();
            let mut app = c.appender_until(end).unwrap();
            let (mut t, mut v) = (0i64, 123_456_789.0f64);
            let (mut grows, mut last_cap) = (0, app.w.capacity());
            for i in 0..60 {
                app.append(t, v).unwrap();
                t += 120_000;
                v += step * f64::from(i % 7);
                let (used, cap) = (app.w.used_bytes(), app.w.capacity());
                if cap != last_cap {
                    grows += 1;
                    last_cap = cap;
                }
                // Never much more than half again what is used (or the first buffer).
                assert!(
                    cap <= (used + used / 2 + 2 * MAX_SAMPLE_BYTES + 9).max(96),
                    "step {step}, sample {i}: {used} bytes in a buffer of {cap}"
                );
            }
            assert!(t >= end);
            // Every growth but the first is by half, towards the predicted end.
            assert!(grows <= 4, "step {step}: {grows} reallocations");
            let used = c.bytes().len();
            assert!(c.w.capacity() <= (used + used / 5 + 2 * MAX_SAMPLE_BYTES).max(96));
        }
    }

    #[test]
    fn expected_samples_follow_the_average_interval() {
        // 10 samples 15 s apart so far, the 11th at 150 s, the window ends at 1800 s.
        assert_eq!(expected_samples(0, 150_000, 10, 1_800_000), 11 + 109);
        // Unknown first sample or no time passed: a typical chunk.
        assert_eq!(
            expected_samples(i64::MIN, 150_000, 10, 1_800_000),
            TYPICAL_SAMPLES
        );
        assert_eq!(expected_samples(5, 5, 3, 1_800_000), TYPICAL_SAMPLES);
        // Already past the end: just this sample more.
        assert_eq!(expected_samples(0, 2_000_000, 10, 1_800_000), 11);
        // Extreme values do not overflow.
        assert!(expected_samples(i64::MIN + 1, i64::MAX - 1, u32::MAX, i64::MAX) > 0);
        assert_eq!(first_time(&[0, 0]), i64::MIN);
    }

    use crate::chunkenc::bstream::BitReader;
    use crate::value::STALE_NAN;
    use proptest::prelude::*;

    fn encode(samples: &[(i64, f64)]) -> XorChunk {
        let mut c = XorChunk::new();
        let mut app = c.appender().unwrap();
        for &(t, v) in samples {
            app.append(t, v).unwrap();
        }
        c
    }

    fn decode(data: &[u8]) -> Result<Vec<(i64, u64)>, ChunkError> {
        let mut it = XorIter::new(data)?;
        let mut out = Vec::new();
        while it.next()? {
            let (t, v) = it.at();
            out.push((t, v.to_bits()));
        }
        Ok(out)
    }

    #[test]
    fn empty_chunk_is_just_the_header() {
        let c = XorChunk::new();
        assert_eq!(c.bytes(), &[0, 0]);
        assert_eq!(decode(c.bytes()), Ok(vec![]));
    }

    #[test]
    fn first_sample_is_varint_timestamp_and_raw_value() {
        let c = encode(&[(1, 1.0)]);
        // count 1, varint(1) = 0x02, 1.0 = 0x3ff0000000000000.
        assert_eq!(c.bytes(), &[0, 1, 0x02, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn format_md_example_bytes() {
        let c = encode(&[(1000, 42.0), (16000, 42.0), (31000, 42.0)]);
        assert_eq!(
            c.bytes(),
            &[
                0, 3, 0xd0, 0x0f, 0x40, 0x45, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00
            ]
        );
    }

    #[test]
    fn v2_chunks_keep_prometheus_2_spare_byte() {
        // One sample ends on a whole-byte write: Prometheus 2.x leaves a zero byte after.
        let mut v2 = XorChunk::with_compat(ByteCompat::V2);
        v2.appender().unwrap().append(1, 1.0).unwrap();
        assert_eq!(v2.bytes(), &[0, 1, 0x02, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0]);
        let mut v3 = XorChunk::new();
        v3.appender().unwrap().append(1, 1.0).unwrap();
        assert_eq!(v3.bytes(), &v2.bytes()[..11]);
        // The next sample (uvarint 1, then the bit `0`) fills that byte: no difference.
        v2.appender().unwrap().append(2, 1.0).unwrap();
        v3.appender().unwrap().append(2, 1.0).unwrap();
        assert_eq!(
            v2.bytes(),
            &[0, 2, 0x02, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x01, 0]
        );
        assert_eq!(v3.bytes(), v2.bytes());
    }

    #[test]
    fn constant_interval_and_value_cost_two_bits_per_sample() {
        let samples: Vec<_> = (0..120).map(|i| (1_000 + i * 15_000, 42.0)).collect();
        let c = encode(&samples);
        // header 2 + varint(1000) 2 + value 8 + uvarint(15000) 2 + 1 bit, then 118 x 2 bits.
        let bits = 14 * 8 + 1 + 118 * 2;
        assert_eq!(c.bytes().len(), (bits as usize).div_ceil(8));
        let want: Vec<_> = samples.iter().map(|&(t, v)| (t, f64::to_bits(v))).collect();
        assert_eq!(decode(c.bytes()), Ok(want));
    }

    #[test]
    fn dod_buckets_use_prometheus_bit_patterns() {
        // Third sample dod = 1 -> `10` + 14-bit value 1.
        let c = encode(&[(0, 0.0), (10, 0.0), (21, 0.0)]);
        // After uvarint(10) and the value bit `0`: `10` 00000000000001 `0`.
        let mut r = BitReader::new(&c.bytes()[2..]);
        assert_eq!(r.read_varint(), Ok(0));
        assert_eq!(r.read_bits(64), Some(0));
        assert_eq!(r.read_uvarint(), Ok(10));
        assert_eq!(r.read_bits(1), Some(0));
        assert_eq!(r.read_bits(2), Some(0b10));
        assert_eq!(r.read_bits(14), Some(1));
        assert_eq!(r.read_bits(1), Some(0));
        assert!(r.remaining_bits() < 8);
    }

    #[test]
    fn extreme_timestamps_and_values_round_trip() {
        let samples = [
            (i64::MIN, f64::MAX),
            (i64::MAX, f64::MIN_POSITIVE),
            (0, STALE_NAN),
            (-5, f64::NEG_INFINITY),
            (1 << 40, -0.0),
            (1 << 41, f64::NAN),
        ];
        let c = encode(&samples);
        let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(decode(c.bytes()), Ok(want));
    }

    #[test]
    fn truncated_chunk_errors_instead_of_ending_early() {
        let samples: Vec<_> = (0..50)
            .map(|i| (i * 1000 + (i % 3), i as f64 * 1.5))
            .collect();
        let c = encode(&samples);
        for len in 0..c.bytes().len() {
            let res = decode(&c.bytes()[..len]);
            assert!(
                res.is_err(),
                "length {len} decoded as {:?}",
                res.map(|v| v.len())
            );
        }
    }

    #[test]
    fn long_runs_of_unchanged_samples_decode_and_truncate_correctly() {
        // Runs of 0..70 samples with the same interval and value, between changes, so runs
        // straddle batch boundaries, buffer refills and the end of the data.
        let mut samples = Vec::new();
        let mut t = 0;
        for run in [0usize, 1, 3, 4, 5, 31, 32, 33, 64, 70, 2, 0, 17] {
            t += 1000 + run as i64;
            samples.push((t, run as f64));
            for _ in 0..run {
                t += 1000;
                samples.push((t, run as f64));
            }
        }
        let c = encode(&samples);
        let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(decode(c.bytes()), Ok(want));
        for len in 0..c.bytes().len() {
            assert!(decode(&c.bytes()[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn errors_are_sticky() {
        let c = encode(&[(0, 1.0), (1, 2.0), (2, 3.0)]);
        let short = &c.bytes()[..c.bytes().len() - 1];
        let mut it = XorIter::new(short).unwrap();
        let mut first_err = None;
        for _ in 0..5 {
            if let Err(e) = it.next() {
                first_err.get_or_insert(e);
                assert_eq!(it.next(), Err(e));
            }
        }
        assert!(first_err.is_some());
    }

    #[test]
    fn trailing_bytes_after_the_samples_are_ignored() {
        let c = encode(&[(0, 1.0), (15, 2.0), (30, 4.0)]);
        let mut data = c.bytes().to_vec();
        data.extend_from_slice(&[0xff, 0xee]);
        assert_eq!(decode(&data).unwrap().len(), 3);
    }

    #[test]
    fn seek_finds_first_sample_at_or_after_and_never_goes_back() {
        let c = encode(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
        let mut it = c.iter();
        assert_eq!(it.seek(15), Ok(true));
        assert_eq!(it.at(), (20, 2.0));
        assert_eq!(it.seek(5), Ok(true));
        assert_eq!(it.at(), (20, 2.0));
        assert_eq!(it.seek(30), Ok(true));
        assert_eq!(it.at(), (30, 3.0));
        assert_eq!(it.seek(31), Ok(false));
    }

    #[test]
    fn appender_resumes_a_stored_chunk_with_identical_bytes() {
        let samples: Vec<_> = (0..40)
            .map(|i| (i * 15_000 + i % 7, (i * i) as f64 / 3.0))
            .collect();
        for split in [0usize, 1, 2, 3, 17, 40] {
            let head = encode(&samples[..split]);
            let mut stored = head.bytes().to_vec();
            stored.extend_from_slice(&[0xAB; 3]); // garbage after the samples is dropped
            let mut c = XorChunk::from_bytes(stored).unwrap();
            let mut app = c.appender().unwrap();
            for &(t, v) in &samples[split..] {
                app.append(t, v).unwrap();
            }
            assert_eq!(c.bytes(), encode(&samples).bytes(), "split at {split}");
        }
    }

    #[test]
    fn resume_before_any_value_window_keeps_writing_a_new_window() {
        // All values equal: no window was ever written; the resumed appender must still
        // open a window for the next change, as an uninterrupted appender does.
        let samples = [(0, 5.0), (1, 5.0), (2, 5.0), (3, 6.0), (4, 7.0)];
        let head = encode(&samples[..3]);
        let mut c = XorChunk::from_bytes(head.bytes().to_vec()).unwrap();
        let mut app = c.appender().unwrap();
        for &(t, v) in &samples[3..] {
            app.append(t, v).unwrap();
        }
        assert_eq!(c.bytes(), encode(&samples).bytes());
    }

    #[test]
    fn full_chunk_refuses_more_samples() {
        let mut c = XorChunk::new();
        let mut app = c.appender().unwrap();
        for i in 0..u16::MAX {
            app.append(i64::from(i), 0.0).unwrap();
        }
        assert_eq!(app.append(1 << 20, 0.0), Err(AppendError::ChunkFull));
        assert_eq!(c.num_samples(), u16::MAX);
    }

    #[test]
    fn from_bytes_needs_a_header() {
        assert!(XorChunk::from_bytes(vec![0]).is_err());
        assert!(XorIter::new(&[]).is_err());
    }

    proptest! {
        // A fixed seed keeps the run deterministic.
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C0_FFEE),
            ..ProptestConfig::default()
        })]

        #[test]
        fn encode_then_decode_is_identity(
            ts in proptest::collection::vec(any::<i64>(), 0..150),
            vs in proptest::collection::vec(any::<u64>(), 150),
        ) {
            let samples: Vec<_> = ts.iter().zip(&vs).map(|(&t, &v)| (t, f64::from_bits(v))).collect();
            let c = encode(&samples);
            prop_assert_eq!(c.num_samples() as usize, samples.len());
            let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(decode(c.bytes()), Ok(want));
        }

        #[test]
        fn realistic_series_round_trip(
            start in any::<i32>(),
            jitter in proptest::collection::vec(-50i64..50, 1..200),
            steps in proptest::collection::vec(0u32..1000, 200),
        ) {
            let mut t = i64::from(start);
            let mut v = 0.0f64;
            let mut samples = Vec::new();
            for (j, s) in jitter.iter().zip(&steps) {
                t += 15_000 + j;
                v += f64::from(*s) / 8.0;
                samples.push((t, v));
            }
            let c = encode(&samples);
            let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(decode(c.bytes()), Ok(want));
        }
    }
}
