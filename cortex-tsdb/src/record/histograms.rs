//! Native histogram sample records: integer (types 7, 9, 12) and float (8, 10, 13).
//!
//! ```text
//! types 7, 8, 9, 10 (1) | first ref BE64 | first t BE64
//!                       | repeated: ref−first varint | t−first varint | histogram
//! types 12, 13      (1) | ref varint | t varint | st varint | histogram     (first sample)
//!                       | repeated: ref−previous ref varint | t−first t varint
//!                       |           | st marker (1) [st−first st varint] | histogram
//!
//! integer histogram: hint (1) | schema varint | zero threshold BE64 f64
//!                  | zero count uvarint | count uvarint | sum BE64 f64
//!                  | positive spans | negative spans
//!                  | uvarint n, n × varint positive bucket deltas
//!                  | uvarint n, n × varint negative bucket deltas
//!                  | [schema −53 only: uvarint n, n × BE64 f64 custom bucket bounds]
//! float histogram:   hint (1) | schema varint | zero threshold, zero count, count, sum
//!                    (4 × BE64 f64) | positive spans | negative spans
//!                  | uvarint n, n × BE64 f64 positive counts | same for negative
//!                  | [schema −53 only: custom bounds as above]
//! spans:             uvarint n, n × (offset varint, length uvarint ≤ 2³²−1)
//! ```
//! Types 9 and 10 hold the custom-bucket (schema −53) histograms that Prometheus' V1
//! encoder splits off 7 and 8, so that versions without custom buckets skip them; the
//! layout is the same, and as in current Prometheus the custom bounds are read whenever
//! the schema is −53, whatever the type. Prometheus 2.42 knows types 7 and 8 only, and
//! its histograms never carry custom bounds. The st marker is the one of `samples_v2`.
//!
//! Decoding is faithful: Prometheus' decoder also drops histograms whose schema it does
//! not know and reduces schemas 9..=52 to 8; that policy belongs to the replay.

use crate::encoding::{put_uvarint, put_varint};
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span};

use super::codec::{RecDec, put_be_u64};
use super::samples::{put_st_marker, read_st_marker};
use super::{RecordError, RecordType};

/// An integer native histogram sample of a series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefHistogramSample {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// Start timestamp in ms (0 when unknown; only V2 records carry it).
    pub st: i64,
    /// Timestamp in ms.
    pub t: i64,
    /// The histogram.
    pub h: Histogram,
}

/// A float native histogram sample of a series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefFloatHistogramSample {
    /// The head's reference of the series.
    pub series_ref: u64,
    /// Start timestamp in ms (0 when unknown; only V2 records carry it).
    pub st: i64,
    /// Timestamp in ms.
    pub t: i64,
    /// The histogram.
    pub fh: FloatHistogram,
}

/// The histogram payload of a sample: how it is written and read.
pub(crate) trait Body {
    fn write(&self, out: &mut Vec<u8>);
    fn read(&mut self, d: &mut RecDec<'_>) -> Result<(), RecordError>;
    fn uses_custom_buckets(&self) -> bool;
}

/// A histogram sample: reference, times and a [`Body`].
pub(crate) trait HistSample: Default {
    type B: Body;
    fn meta(&self) -> (u64, i64, i64);
    fn set_meta(&mut self, series_ref: u64, st: i64, t: i64);
    fn body(&self) -> &Self::B;
    fn body_mut(&mut self) -> &mut Self::B;
}

impl HistSample for RefHistogramSample {
    type B = Histogram;
    fn meta(&self) -> (u64, i64, i64) {
        (self.series_ref, self.st, self.t)
    }
    fn set_meta(&mut self, series_ref: u64, st: i64, t: i64) {
        (self.series_ref, self.st, self.t) = (series_ref, st, t);
    }
    fn body(&self) -> &Histogram {
        &self.h
    }
    fn body_mut(&mut self) -> &mut Histogram {
        &mut self.h
    }
}

impl HistSample for RefFloatHistogramSample {
    type B = FloatHistogram;
    fn meta(&self) -> (u64, i64, i64) {
        (self.series_ref, self.st, self.t)
    }
    fn set_meta(&mut self, series_ref: u64, st: i64, t: i64) {
        (self.series_ref, self.st, self.t) = (series_ref, st, t);
    }
    fn body(&self) -> &FloatHistogram {
        &self.fh
    }
    fn body_mut(&mut self) -> &mut FloatHistogram {
        &mut self.fh
    }
}

impl Body for Histogram {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.counter_reset_hint as u8);
        put_varint(out, i64::from(self.schema));
        put_be_u64(out, self.zero_threshold.to_bits());
        put_uvarint(out, self.zero_count);
        put_uvarint(out, self.count);
        put_be_u64(out, self.sum.to_bits());
        put_spans(out, &self.positive_spans);
        put_spans(out, &self.negative_spans);
        for buckets in [&self.positive_buckets, &self.negative_buckets] {
            put_uvarint(out, buckets.len() as u64);
            for &b in buckets {
                put_varint(out, b);
            }
        }
        put_custom_values(out, self.schema, &self.custom_values);
    }

    fn read(&mut self, d: &mut RecDec<'_>) -> Result<(), RecordError> {
        self.counter_reset_hint = read_hint(d)?;
        self.schema = d.varint_i32("schema")?;
        self.zero_threshold = d.be_f64("zero threshold")?;
        self.zero_count = d.uvarint("zero count")?;
        self.count = d.uvarint("count")?;
        self.sum = d.be_f64("sum")?;
        read_spans(d, &mut self.positive_spans, "positive span count")?;
        read_spans(d, &mut self.negative_spans, "negative span count")?;
        for (buckets, what) in [
            (&mut self.positive_buckets, "positive bucket count"),
            (&mut self.negative_buckets, "negative bucket count"),
        ] {
            buckets.clear();
            let n = d.count(what, 1)?;
            buckets.reserve(n);
            for _ in 0..n {
                buckets.push(d.varint("bucket delta")?);
            }
        }
        read_custom_values(d, self.schema, &mut self.custom_values)
    }

    fn uses_custom_buckets(&self) -> bool {
        Histogram::uses_custom_buckets(self)
    }
}

impl Body for FloatHistogram {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.counter_reset_hint as u8);
        put_varint(out, i64::from(self.schema));
        for v in [self.zero_threshold, self.zero_count, self.count, self.sum] {
            put_be_u64(out, v.to_bits());
        }
        put_spans(out, &self.positive_spans);
        put_spans(out, &self.negative_spans);
        for buckets in [&self.positive_buckets, &self.negative_buckets] {
            put_uvarint(out, buckets.len() as u64);
            for &b in buckets {
                put_be_u64(out, b.to_bits());
            }
        }
        put_custom_values(out, self.schema, &self.custom_values);
    }

    fn read(&mut self, d: &mut RecDec<'_>) -> Result<(), RecordError> {
        self.counter_reset_hint = read_hint(d)?;
        self.schema = d.varint_i32("schema")?;
        self.zero_threshold = d.be_f64("zero threshold")?;
        self.zero_count = d.be_f64("zero count")?;
        self.count = d.be_f64("count")?;
        self.sum = d.be_f64("sum")?;
        read_spans(d, &mut self.positive_spans, "positive span count")?;
        read_spans(d, &mut self.negative_spans, "negative span count")?;
        for (buckets, what) in [
            (&mut self.positive_buckets, "positive bucket count"),
            (&mut self.negative_buckets, "negative bucket count"),
        ] {
            buckets.clear();
            let n = d.count(what, 8)?;
            buckets.reserve(n);
            for _ in 0..n {
                buckets.push(d.be_f64("bucket count")?);
            }
        }
        read_custom_values(d, self.schema, &mut self.custom_values)
    }

    fn uses_custom_buckets(&self) -> bool {
        FloatHistogram::uses_custom_buckets(self)
    }
}

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_varint(out, i64::from(s.offset));
        put_uvarint(out, u64::from(s.length));
    }
}

fn read_spans(d: &mut RecDec<'_>, spans: &mut Vec<Span>, what: &str) -> Result<(), RecordError> {
    spans.clear();
    let n = d.count(what, 2)?;
    spans.reserve(n);
    for _ in 0..n {
        let offset = d.varint_i32("span offset")?;
        let length = d.uvarint_u32("span length")?;
        spans.push(Span { offset, length });
    }
    Ok(())
}

fn put_custom_values(out: &mut Vec<u8>, schema: i32, values: &[f64]) {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        put_uvarint(out, values.len() as u64);
        for v in values {
            put_be_u64(out, v.to_bits());
        }
    }
}

fn read_custom_values(
    d: &mut RecDec<'_>,
    schema: i32,
    values: &mut Vec<f64>,
) -> Result<(), RecordError> {
    values.clear();
    if schema != CUSTOM_BUCKETS_SCHEMA {
        return Ok(());
    }
    let n = d.count("custom value count", 8)?;
    values.reserve(n);
    for _ in 0..n {
        values.push(d.be_f64("custom value")?);
    }
    Ok(())
}

fn read_hint(d: &mut RecDec<'_>) -> Result<CounterResetHint, RecordError> {
    let b = d.u8("counter reset hint")?;
    CounterResetHint::from_u8(b).ok_or_else(|| d.err(format!("unknown counter reset hint {b}")))
}

/// Appends a V1 record (`kind` 7, 8, 9 or 10) holding `samples`.
pub(crate) fn encode_v1<'a, S: HistSample + 'a>(
    kind: RecordType,
    samples: impl Iterator<Item = &'a S> + Clone,
    out: &mut Vec<u8>,
) {
    out.push(kind as u8);
    let Some(first) = samples.clone().next() else {
        return;
    };
    let (first_ref, _, first_t) = first.meta();
    put_be_u64(out, first_ref);
    put_be_u64(out, first_t as u64);
    for s in samples {
        let (r, _, t) = s.meta();
        put_varint(out, (r as i64).wrapping_sub(first_ref as i64));
        put_varint(out, t.wrapping_sub(first_t));
        s.body().write(out);
    }
}

/// Appends a V2 record (`kind` 12 or 13) holding `samples`.
pub(crate) fn encode_v2<S: HistSample>(kind: RecordType, samples: &[S], out: &mut Vec<u8>) {
    out.push(kind as u8);
    let Some(first) = samples.first() else {
        return;
    };
    let (first_ref, first_st, first_t) = first.meta();
    put_varint(out, first_ref as i64);
    put_varint(out, first_t);
    put_varint(out, first_st);
    first.body().write(out);
    for pair in samples.windows(2) {
        let ((prev_ref, prev_st, _), (r, st, t)) = (pair[0].meta(), pair[1].meta());
        put_varint(out, (r as i64).wrapping_sub(prev_ref as i64));
        put_varint(out, t.wrapping_sub(first_t));
        put_st_marker(out, st, first_st, prev_st);
        pair[1].body().write(out);
    }
}

/// Appends a type-7 record holding all of `samples`. Prometheus puts custom-bucket
/// histograms in type-9 records instead; [`super::Encoder`] splits them that way.
pub fn encode_histogram_samples(samples: &[RefHistogramSample], out: &mut Vec<u8>) {
    encode_v1(RecordType::HistogramSamples, samples.iter(), out);
}

/// Appends a type-8 record holding all of `samples` (see [`encode_histogram_samples`]).
pub fn encode_float_histogram_samples(samples: &[RefFloatHistogramSample], out: &mut Vec<u8>) {
    encode_v1(RecordType::FloatHistogramSamples, samples.iter(), out);
}

/// True when the sample must go into a custom-bucket record.
pub(crate) fn uses_custom_buckets<S: HistSample>(s: &S) -> bool {
    s.body().uses_custom_buckets()
}

/// Decodes an integer histogram record (type 7, 9 or 12) into `out`. Its previous
/// contents are replaced; the buffers of histograms already in `out` are reused, so a
/// replay that passes the same `Vec` each time does not allocate per histogram.
pub fn decode_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefHistogramSample>,
) -> Result<(), RecordError> {
    decode(
        rec,
        out,
        &[
            RecordType::HistogramSamples,
            RecordType::CustomBucketsHistogramSamples,
            RecordType::HistogramSamplesV2,
        ],
        RecordType::HistogramSamplesV2,
    )
}

/// Decodes a float histogram record (type 8, 10 or 13) into `out`, reusing its buffers
/// like [`decode_histogram_samples`].
pub fn decode_float_histogram_samples(
    rec: &[u8],
    out: &mut Vec<RefFloatHistogramSample>,
) -> Result<(), RecordError> {
    decode(
        rec,
        out,
        &[
            RecordType::FloatHistogramSamples,
            RecordType::CustomBucketsFloatHistogramSamples,
            RecordType::FloatHistogramSamplesV2,
        ],
        RecordType::FloatHistogramSamplesV2,
    )
}

fn decode<S: HistSample>(
    rec: &[u8],
    out: &mut Vec<S>,
    allowed: &[RecordType],
    v2: RecordType,
) -> Result<(), RecordError> {
    let mut n = 0;
    let res = fill(rec, out, allowed, v2, &mut n);
    out.truncate(n);
    res
}

/// The `n`-th element of `out`, appended when `out` is shorter.
fn slot<S: Default>(out: &mut Vec<S>, n: usize) -> &mut S {
    if n == out.len() {
        out.push(S::default());
    }
    &mut out[n]
}

fn fill<S: HistSample>(
    rec: &[u8],
    out: &mut Vec<S>,
    allowed: &[RecordType],
    v2: RecordType,
    n: &mut usize,
) -> Result<(), RecordError> {
    let (mut d, kind) = RecDec::start(rec, allowed)?;
    if d.is_empty() {
        return Ok(());
    }
    if kind != v2 {
        let base_ref = d.be_u64("first series ref")?;
        let base_t = d.be_i64("first timestamp")?;
        while !d.is_empty() {
            let dref = d.varint("series ref delta")?;
            let dt = d.varint("timestamp delta")?;
            let s = slot(out, *n);
            s.body_mut().read(&mut d)?;
            s.set_meta(
                base_ref.wrapping_add(dref as u64),
                0,
                base_t.wrapping_add(dt),
            );
            *n += 1;
        }
        return d.finish();
    }
    let first_ref = d.varint("first series ref")? as u64;
    let first_t = d.varint("first timestamp")?;
    let first_st = d.varint("first start time")?;
    let (mut prev_ref, mut prev_st) = (first_ref, first_st);
    let mut first = true;
    while !d.is_empty() {
        let (r, st, t) = if first {
            first = false;
            (first_ref, first_st, first_t)
        } else {
            let dref = d.varint("series ref delta")?;
            let dt = d.varint("timestamp delta")?;
            let st = read_st_marker(&mut d, first_st, prev_st)?;
            (
                (prev_ref as i64).wrapping_add(dref) as u64,
                st,
                first_t.wrapping_add(dt),
            )
        };
        let s = slot(out, *n);
        s.body_mut().read(&mut d)?;
        s.set_meta(r, st, t);
        (prev_ref, prev_st) = (r, st);
        *n += 1;
    }
    if first {
        return Err(d.err("V2 record has a first sample header but no histogram"));
    }
    d.finish()
}
