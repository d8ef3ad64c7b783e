//! Native histograms: the sample model shared by chunk encodings, the WAL, remote write
//! and PromQL.
//!
//! [`Histogram`] holds integer counts as Prometheus stores them (the first bucket absolute,
//! later buckets as deltas); [`FloatHistogram`] holds absolute float counts. Buckets are
//! addressed by index under an exponential `schema` (-4..=8: bucket boundaries are powers
//! of `2^(2^-schema)`) or, for schema [`CUSTOM_BUCKETS_SCHEMA`], by explicit upper bounds.
//! [`Span`]s compress runs of populated buckets. This module owns the types and the
//! conversions between them; arithmetic on histograms lives with its users.

/// The schema number that marks custom (explicit upper bound) buckets.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Smallest exponential schema.
pub const MIN_EXPONENTIAL_SCHEMA: i32 = -4;

/// Largest exponential schema.
pub const MAX_EXPONENTIAL_SCHEMA: i32 = 8;

/// Whether a histogram starts a new counter, continues one, or is a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum CounterResetHint {
    /// It cannot be said whether this sample follows a counter reset.
    #[default]
    Unknown = 0,
    /// The counter was reset right before this sample.
    CounterReset = 1,
    /// The counter was definitely not reset.
    NotCounterReset = 2,
    /// A gauge histogram: counter resets do not apply.
    Gauge = 3,
}

impl CounterResetHint {
    /// The hint from its wire number (as in remote write and the WAL); unknown numbers are
    /// `None`.
    pub fn from_u8(v: u8) -> Option<CounterResetHint> {
        Some(match v {
            0 => CounterResetHint::Unknown,
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => return None,
        })
    }
}

/// A run of consecutive buckets: `offset` is the gap to the previous span's end (for the
/// first span, the index of its first bucket), `length` the number of buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Gap to the previous span, or the first bucket index for the first span.
    pub offset: i32,
    /// Number of consecutive buckets.
    pub length: u32,
}

/// A native histogram with integer counts, as stored in histogram chunks (encoding 2).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket schema: -4..=8 exponential, or [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations (a stale marker when it is the StaleNaN bit pattern).
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts: the first absolute, the rest deltas to the previous bucket.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, delta-encoded like `positive_buckets`.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds of custom buckets (only for [`CUSTOM_BUCKETS_SCHEMA`]).
    pub custom_values: Vec<f64>,
}

/// A native histogram with float counts, as stored in float histogram chunks (encoding 3)
/// and used by PromQL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset information.
    pub counter_reset_hint: CounterResetHint,
    /// Bucket schema: -4..=8 exponential, or [`CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Absolute positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Absolute negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (only for [`CUSTOM_BUCKETS_SCHEMA`]).
    pub custom_values: Vec<f64>,
}

impl Histogram {
    /// True when the schema is [`CUSTOM_BUCKETS_SCHEMA`].
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// The same histogram with absolute float counts.
    pub fn to_float(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: deltas_to_absolute(&self.positive_buckets),
            negative_buckets: deltas_to_absolute(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    /// True when the schema is [`CUSTOM_BUCKETS_SCHEMA`].
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }
}

fn deltas_to_absolute(deltas: &[i64]) -> Vec<f64> {
    let mut cur = 0i64;
    deltas
        .iter()
        .map(|d| {
            cur = cur.wrapping_add(*d);
            cur as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_histogram_converts_deltas_to_counts() {
        let h = Histogram {
            schema: 0,
            count: 9,
            sum: 3.5,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![2, 1, -2],
            ..Default::default()
        };
        let f = h.to_float();
        assert_eq!(f.positive_buckets, vec![2.0, 3.0, 1.0]);
        assert_eq!(f.count, 9.0);
        assert_eq!(f.positive_spans, h.positive_spans);
    }

    #[test]
    fn hints_round_trip_their_numbers() {
        for v in 0..4u8 {
            assert_eq!(CounterResetHint::from_u8(v).unwrap() as u8, v);
        }
        assert_eq!(CounterResetHint::from_u8(4), None);
    }
}
