//! The parts shared by histogram (encoding 2) and float histogram (encoding 3) chunks
//! that are not samples: the 3-byte header with its counter-reset bits, and the layout
//! section written before the first sample (zero threshold, schema, positive and negative
//! spans, custom bucket bounds for schema -53).
//!
//! Header: `num_samples u16 BE | flags u8`, where the top two bits of the flags byte are the
//! [`CounterResetHeader`] and the other six are zero. Layout, in the bit stream:
//! `zero_threshold` (one byte: 0 for zero, 1..=254 for 2^(b-244), 255 followed by 64 raw
//! bits), `schema` as `varbit_int`, each span list as `varbit_uint` count then
//! (`varbit_uint` length, `varbit_int` offset) pairs, and for schema -53 the custom bounds as
//! a `varbit_uint` count then each bound as `varbit_uint(bound*1000 + 1)` when that is exact
//! and at most 33554431, else a `0` bit and 64 raw bits.

use super::ChunkError;
use super::bstream::{BitReader, BitWriter};
use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Span};

/// Bytes before the bit stream of a histogram chunk: sample count and flags.
pub(crate) const HEADER_SIZE: usize = 3;

/// Position of the flags byte holding the counter-reset bits.
const FLAGS_POS: usize = 2;

/// Smallest schema some Prometheus version defines for exponential buckets.
const MIN_RESERVED_SCHEMA: i32 = -9;
/// Largest schema some Prometheus version defines for exponential buckets.
const MAX_RESERVED_SCHEMA: i32 = 52;

/// What the top two bits of a histogram chunk's flags byte say about how the chunk
/// relates to the previous chunk of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum CounterResetHeader {
    /// `00`: unknown; a reader must check for a counter reset itself.
    #[default]
    Unknown = 0b00,
    /// `01`: definitely no counter reset between the previous chunk and this one.
    NotCounterReset = 0b01,
    /// `10`: a counter reset happened right before this chunk's first sample.
    CounterReset = 0b10,
    /// `11`: a gauge histogram chunk; counter resets do not apply.
    Gauge = 0b11,
}

impl CounterResetHeader {
    /// The header encoded in a flags byte (its top two bits).
    pub fn from_flags(flags: u8) -> CounterResetHeader {
        match flags >> 6 {
            0b00 => CounterResetHeader::Unknown,
            0b01 => CounterResetHeader::NotCounterReset,
            0b10 => CounterResetHeader::CounterReset,
            _ => CounterResetHeader::Gauge,
        }
    }

    /// The header's bits in position in the flags byte.
    pub fn flag_bits(self) -> u8 {
        (self as u8) << 6
    }

    /// The header a chunk starting with a histogram with this hint gets when nothing else
    /// is known.
    pub fn from_hint(hint: CounterResetHint) -> CounterResetHeader {
        match hint {
            CounterResetHint::CounterReset => CounterResetHeader::CounterReset,
            CounterResetHint::NotCounterReset => CounterResetHeader::NotCounterReset,
            CounterResetHint::Gauge => CounterResetHeader::Gauge,
            CounterResetHint::Unknown => CounterResetHeader::Unknown,
        }
    }

    /// The hint a reader reports for the `num_read`-th sample (1-based) of a chunk with
    /// this header: gauge chunks hold gauges; later samples of a counter chunk follow no
    /// reset; the first is unknown, because the previous chunk may be gone or may have
    /// been written later (out-of-order or backfill), as in current Prometheus.
    pub fn hint_for_sample(self, num_read: u16) -> CounterResetHint {
        match self {
            CounterResetHeader::Gauge => CounterResetHint::Gauge,
            _ if num_read > 1 => CounterResetHint::NotCounterReset,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// Reads the sample count and counter-reset header of histogram chunk bytes.
pub(crate) fn read_header(data: &[u8]) -> Result<(u16, CounterResetHeader), ChunkError> {
    match data.first_chunk::<HEADER_SIZE>() {
        Some(&[hi, lo, flags]) => Ok((
            u16::from_be_bytes([hi, lo]),
            CounterResetHeader::from_flags(flags),
        )),
        None => Err(ChunkError::Truncated("histogram chunk header")),
    }
}

/// Replaces the counter-reset bits in the flags byte of `header`.
pub(crate) fn set_counter_reset_header(header: &mut [u8; HEADER_SIZE], h: CounterResetHeader) {
    header[FLAGS_POS] = (header[FLAGS_POS] & 0b0011_1111) | h.flag_bits();
}

/// True for the schemas current Prometheus accepts when reading chunks: exponential
/// schemas it reserves (-9..=52) and custom buckets (-53).
pub(crate) fn is_known_schema(schema: i32) -> bool {
    (MIN_RESERVED_SCHEMA..=MAX_RESERVED_SCHEMA).contains(&schema) || schema == CUSTOM_BUCKETS_SCHEMA
}

/// The chunk-wide layout every sample of a histogram chunk shares.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Layout {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) positive_spans: Vec<Span>,
    pub(crate) negative_spans: Vec<Span>,
    pub(crate) custom_values: Vec<f64>,
}

/// Writes the layout section.
pub(crate) fn write_layout(
    w: &mut BitWriter,
    schema: i32,
    zero_threshold: f64,
    positive_spans: &[Span],
    negative_spans: &[Span],
    custom_values: &[f64],
) {
    put_zero_threshold(w, zero_threshold);
    put_varbit_int(w, i64::from(schema));
    put_spans(w, positive_spans);
    put_spans(w, negative_spans);
    if schema == CUSTOM_BUCKETS_SCHEMA {
        put_varbit_uint(w, custom_values.len() as u64);
        for &v in custom_values {
            put_custom_bound(w, v);
        }
    }
}

/// Reads the layout section into `out`, reusing its vectors. Counts are bounded by the
/// bits left, so damaged data cannot make it allocate more than the input could hold.
pub(crate) fn read_layout(r: &mut BitReader<'_>, out: &mut Layout) -> Result<(), ChunkError> {
    out.zero_threshold = read_zero_threshold(r)?;
    let schema =
        read_varbit_int(r).ok_or(ChunkError::Truncated("histogram chunk layout schema"))?;
    out.schema = i32::try_from(schema)
        .map_err(|_| ChunkError::Invalid("histogram schema exceeds 32 bits"))?;
    read_spans(r, &mut out.positive_spans)?;
    read_spans(r, &mut out.negative_spans)?;
    out.custom_values.clear();
    if out.schema == CUSTOM_BUCKETS_SCHEMA {
        let n = read_varbit_uint(r).ok_or(ChunkError::Truncated("custom bucket bound count"))?;
        // Each bound takes at least 5 bits.
        if n > r.remaining_bits() / 5 {
            return Err(ChunkError::Truncated("custom bucket bounds"));
        }
        out.custom_values.reserve(n as usize);
        for _ in 0..n {
            out.custom_values.push(read_custom_bound(r)?);
        }
    }
    if !is_known_schema(out.schema) {
        return Err(ChunkError::UnknownSchema(out.schema));
    }
    Ok(())
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>, out: &mut Vec<Span>) -> Result<(), ChunkError> {
    out.clear();
    let n = read_varbit_uint(r).ok_or(ChunkError::Truncated("histogram span count"))?;
    // Each span takes at least 2 bits.
    if n > r.remaining_bits() / 2 {
        return Err(ChunkError::Truncated("histogram spans"));
    }
    out.reserve(n as usize);
    for _ in 0..n {
        let length = read_varbit_uint(r).ok_or(ChunkError::Truncated("histogram span"))?;
        let offset = read_varbit_int(r).ok_or(ChunkError::Truncated("histogram span"))?;
        out.push(Span {
            offset: i32::try_from(offset)
                .map_err(|_| ChunkError::Invalid("histogram span offset exceeds 32 bits"))?,
            length: u32::try_from(length)
                .map_err(|_| ChunkError::Invalid("histogram span length exceeds 32 bits"))?,
        });
    }
    Ok(())
}

/// Writes a zero threshold: one byte for 0 and for powers of two from 2^-243 to 2^10,
/// else 255 and the 64 raw bits.
pub(crate) fn put_zero_threshold(w: &mut BitWriter, threshold: f64) {
    if threshold == 0.0 {
        w.write_byte(0);
        return;
    }
    let bits = threshold.to_bits();
    let biased_exp = ((bits >> 52) & 0x7ff) as i32;
    let is_normal_power_of_two =
        bits >> 63 == 0 && bits & ((1 << 52) - 1) == 0 && biased_exp != 0 && biased_exp != 0x7ff;
    // threshold = 2^(biased_exp - 1023) = 0.5 * 2^(biased_exp - 1022).
    let frexp_exp = biased_exp - 1022;
    if is_normal_power_of_two && (-242..=11).contains(&frexp_exp) {
        w.write_byte((frexp_exp + 243) as u8);
    } else {
        w.write_byte(255);
        w.write_bits(bits, 64);
    }
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Result<f64, ChunkError> {
    let b = r
        .read_byte()
        .ok_or(ChunkError::Truncated("histogram zero threshold"))?;
    Ok(match b {
        0 => 0.0,
        255 => f64::from_bits(
            r.read_bits(64)
                .ok_or(ChunkError::Truncated("histogram zero threshold"))?,
        ),
        // 0.5 * 2^(b - 243) = 2^(b - 244), a normal float for every b in 1..=254.
        _ => f64::from_bits(((i64::from(b) - 244 + 1023) as u64) << 52),
    })
}

/// Writes a custom bucket bound.
fn put_custom_bound(w: &mut BitWriter, f: f64) {
    let tf = f * 1000.0;
    // Go's isWholeWhenMultiplied: round(f*1000), back to f, exactly equal.
    let whole = ((f * 1000.0).round() as u64) as f64 / 1000.0 == f;
    if !(0.0..=33_554_430.0).contains(&tf) || !whole {
        w.write_bit(false);
        w.write_bits(f.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, tf.round() as u64 + 1);
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Result<f64, ChunkError> {
    match read_varbit_uint(r).ok_or(ChunkError::Truncated("custom bucket bound"))? {
        0 => Ok(f64::from_bits(
            r.read_bits(64)
                .ok_or(ChunkError::Truncated("custom bucket bound"))?,
        )),
        b => Ok((b - 1) as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn threshold_bytes(t: f64) -> Vec<u8> {
        let mut w = BitWriter::default();
        put_zero_threshold(&mut w, t);
        w.into_bytes()
    }

    #[test]
    fn zero_threshold_uses_one_byte_for_small_powers_of_two() {
        assert_eq!(threshold_bytes(0.0), vec![0]);
        // The default 2^-128 is byte 116.
        assert_eq!(threshold_bytes(2f64.powi(-128)), vec![116]);
        assert_eq!(threshold_bytes(2f64.powi(-243)), vec![1]);
        assert_eq!(threshold_bytes(1024.0), vec![254]);
        assert_eq!(threshold_bytes(2f64.powi(-244)).len(), 9);
        assert_eq!(threshold_bytes(2048.0).len(), 9);
        let odd = threshold_bytes(0.001);
        assert_eq!(odd[0], 255);
        assert_eq!(&odd[1..], &0.001f64.to_bits().to_be_bytes());
        assert_eq!(threshold_bytes(-0.5).len(), 9);
    }

    #[test]
    fn zero_thresholds_round_trip() {
        for t in [
            0.0,
            0.001,
            2f64.powi(-128),
            1024.0,
            3.0,
            1e-300,
            f64::INFINITY,
        ] {
            let b = threshold_bytes(t);
            let mut r = BitReader::new(&b);
            assert_eq!(read_zero_threshold(&mut r), Ok(t));
        }
    }

    #[test]
    fn custom_bounds_use_the_short_form_for_millis() {
        let mut w = BitWriter::default();
        put_custom_bound(&mut w, 0.25);
        // 250 + 1 = 251 -> `1110` + 9 bits.
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        assert_eq!(r.read_bits(4), Some(0b1110));
        assert_eq!(r.read_bits(9), Some(251));
        for v in [
            0.0,
            0.001,
            33554.43,
            33554.431,
            -1.0,
            0.0001,
            f64::INFINITY,
            1e10,
        ] {
            let mut w = BitWriter::default();
            put_custom_bound(&mut w, v);
            let b = w.into_bytes();
            let mut r = BitReader::new(&b);
            assert_eq!(read_custom_bound(&mut r), Ok(v), "{v}");
        }
    }

    #[test]
    fn layout_rejects_unknown_schema_and_oversized_counts() {
        let mut w = BitWriter::default();
        write_layout(&mut w, 53, 0.0, &[], &[], &[]);
        let b = w.into_bytes();
        let mut out = Layout::default();
        assert_eq!(
            read_layout(&mut BitReader::new(&b), &mut out),
            Err(ChunkError::UnknownSchema(53))
        );
        // A span count far beyond the data.
        let mut w = BitWriter::default();
        put_zero_threshold(&mut w, 0.0);
        put_varbit_int(&mut w, 0);
        put_varbit_uint(&mut w, 1 << 40);
        let b = w.into_bytes();
        assert!(matches!(
            read_layout(&mut BitReader::new(&b), &mut out),
            Err(ChunkError::Truncated(_))
        ));
    }

    #[test]
    fn header_bits_match_prometheus_constants() {
        assert_eq!(CounterResetHeader::CounterReset.flag_bits(), 0b1000_0000);
        assert_eq!(CounterResetHeader::NotCounterReset.flag_bits(), 0b0100_0000);
        assert_eq!(CounterResetHeader::Gauge.flag_bits(), 0b1100_0000);
        assert_eq!(CounterResetHeader::Unknown.flag_bits(), 0);
        let mut h = [0, 5, 0b0000_0001];
        set_counter_reset_header(&mut h, CounterResetHeader::Gauge);
        assert_eq!(h, [0, 5, 0b1100_0001]);
        assert_eq!(read_header(&h), Ok((5, CounterResetHeader::Gauge)));
    }

    proptest! {
        // A fixed seed keeps the run deterministic.
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C0_FFEE),
            ..ProptestConfig::default()
        })]

        #[test]
        fn layouts_round_trip(
            schema in prop_oneof![Just(-53i32), -9i32..=52],
            zt in prop_oneof![Just(0.0f64), Just(2f64.powi(-128)), 0.0f64..10.0],
            pos in proptest::collection::vec((any::<i32>(), any::<u32>()), 0..6),
            neg in proptest::collection::vec((-100i32..100, 0u32..10), 0..6),
            custom in proptest::collection::vec(prop_oneof![0.0f64..100.0, (0u32..100_000).prop_map(|v| f64::from(v) / 1000.0)], 0..8),
        ) {
            let pos: Vec<Span> = pos.into_iter().map(|(offset, length)| Span { offset, length }).collect();
            let neg: Vec<Span> = neg.into_iter().map(|(offset, length)| Span { offset, length }).collect();
            let custom = if schema == CUSTOM_BUCKETS_SCHEMA { custom } else { vec![] };
            let mut w = BitWriter::default();
            write_layout(&mut w, schema, zt, &pos, &neg, &custom);
            let b = w.into_bytes();
            let mut out = Layout::default();
            prop_assert_eq!(read_layout(&mut BitReader::new(&b), &mut out), Ok(()));
            prop_assert_eq!(out, Layout { schema, zero_threshold: zt, positive_spans: pos, negative_spans: neg, custom_values: custom });
        }
    }
}
