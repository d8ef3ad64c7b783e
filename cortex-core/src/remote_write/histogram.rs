//! The native-histogram message both remote-write versions share
//! (`prometheus.Histogram` in `prompb/types.proto`, `io.prometheus.write.v2.Histogram`
//! in `prompb/io/prometheus/write/v2/types.proto`): decoding into a
//! [`HistogramSample`] and encoding one.
//!
//! Field numbers: count_int=1 | count_float=2 (oneof), sum=3, schema=4 (sint32),
//! zero_threshold=5, zero_count_int=6 | zero_count_float=7 (oneof), negative_spans=8,
//! negative_deltas=9 (sint64), negative_counts=10 (double), positive_spans=11,
//! positive_deltas=12, positive_counts=13, reset_hint=14, timestamp=15,
//! custom_values=16, and in 2.0 start_timestamp=17. BucketSpan: offset=1 (sint32),
//! length=2 (uint32).
//!
//! As in Prometheus, the `count` oneof decides the kind: `count_float` makes a float
//! histogram (bucket counts from the `*_counts` fields), anything else an integer one
//! (bucket deltas from the `*_deltas` fields, kept delta-encoded as the TSDB stores
//! them). The fields of the other kind are ignored.

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

use super::error::DecodeError;
use super::wire::{
    Reader, WireError, WireType, expect, put_double_field, put_key, put_message,
    put_packed_doubles, put_packed_varints, put_varint, put_varint_field, zigzag_decode32,
    zigzag_decode64, zigzag_encode32, zigzag_encode64,
};
use super::{HistogramSample, HistogramValue};

/// A oneof of an integer and a float count; the last one on the wire wins.
#[derive(Clone, Copy)]
enum Count {
    Unset,
    Int(u64),
    Float(f64),
}

/// Decodes one Histogram message. Returns the sample and the 2.0 `start_timestamp`
/// (field 17; 0 when absent, and always ignored by the 1.0 decoder).
pub(crate) fn decode_histogram(buf: &[u8]) -> Result<(HistogramSample, i64), DecodeError> {
    let mut r = Reader::new(buf);
    let mut count = Count::Unset;
    let mut zero_count = Count::Unset;
    let mut sum = 0.0;
    let mut schema = 0;
    let mut zero_threshold = 0.0;
    let mut negative_spans = Vec::new();
    let mut negative_deltas = Vec::new();
    let mut negative_counts = Vec::new();
    let mut positive_spans = Vec::new();
    let mut positive_deltas = Vec::new();
    let mut positive_counts = Vec::new();
    let mut reset_hint = CounterResetHint::Unknown;
    let mut timestamp = 0;
    let mut custom_values = Vec::new();
    let mut start_timestamp = 0;
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                count = Count::Int(r.varint()?);
            }
            2 => {
                expect(field, wt, WireType::Fixed64)?;
                count = Count::Float(r.double()?);
            }
            3 => {
                expect(field, wt, WireType::Fixed64)?;
                sum = r.double()?;
            }
            4 => {
                expect(field, wt, WireType::Varint)?;
                schema = zigzag_decode32(r.varint()?);
            }
            5 => {
                expect(field, wt, WireType::Fixed64)?;
                zero_threshold = r.double()?;
            }
            6 => {
                expect(field, wt, WireType::Varint)?;
                zero_count = Count::Int(r.varint()?);
            }
            7 => {
                expect(field, wt, WireType::Fixed64)?;
                zero_count = Count::Float(r.double()?);
            }
            8 | 11 => {
                expect(field, wt, WireType::Len)?;
                let spans = if field == 8 {
                    &mut negative_spans
                } else {
                    &mut positive_spans
                };
                let span = decode_span(r.bytes()?).map_err(|e| {
                    let name = if field == 8 {
                        "negative_spans"
                    } else {
                        "positive_spans"
                    };
                    DecodeError::from(e).within(name, spans.len())
                })?;
                spans.push(span);
            }
            9 => r.repeated_varint(field, wt, &mut negative_deltas, zigzag_decode64)?,
            12 => r.repeated_varint(field, wt, &mut positive_deltas, zigzag_decode64)?,
            10 => r.repeated_double(field, wt, &mut negative_counts)?,
            13 => r.repeated_double(field, wt, &mut positive_counts)?,
            14 => {
                expect(field, wt, WireType::Varint)?;
                reset_hint = u8::try_from(r.varint()?)
                    .ok()
                    .and_then(CounterResetHint::from_u8)
                    .unwrap_or_default();
            }
            15 => {
                expect(field, wt, WireType::Varint)?;
                timestamp = r.varint()? as i64;
            }
            16 => r.repeated_double(field, wt, &mut custom_values)?,
            17 => {
                expect(field, wt, WireType::Varint)?;
                start_timestamp = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    let value = match count {
        Count::Float(count) => HistogramValue::Float(Box::new(FloatHistogram {
            counter_reset_hint: reset_hint,
            schema,
            zero_threshold,
            zero_count: if let Count::Float(z) = zero_count {
                z
            } else {
                0.0
            },
            count,
            sum,
            positive_spans,
            negative_spans,
            positive_buckets: positive_counts,
            negative_buckets: negative_counts,
            custom_values,
        })),
        Count::Int(_) | Count::Unset => HistogramValue::Int(Box::new(Histogram {
            counter_reset_hint: reset_hint,
            schema,
            zero_threshold,
            zero_count: if let Count::Int(z) = zero_count { z } else { 0 },
            count: if let Count::Int(c) = count { c } else { 0 },
            sum,
            positive_spans,
            negative_spans,
            positive_buckets: positive_deltas,
            negative_buckets: negative_deltas,
            custom_values,
        })),
    };
    Ok((HistogramSample { timestamp, value }, start_timestamp))
}

fn decode_span(buf: &[u8]) -> Result<Span, WireError> {
    let mut r = Reader::new(buf);
    let mut span = Span::default();
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                span.offset = zigzag_decode32(r.varint()?);
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                span.length = r.varint()? as u32;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(span)
}

/// Appends one Histogram message's fields (not its key or length) to `buf`, in field
/// order. Both oneofs are always written, as Prometheus does, so the histogram's kind
/// survives a zero count; `start_timestamp` is written as field 17 when non-zero (pass 0
/// for remote write 1.0).
pub(crate) fn encode_histogram(buf: &mut Vec<u8>, h: &HistogramSample, start_timestamp: i64) {
    let (reset_hint, custom_values) = match &h.value {
        HistogramValue::Int(h) => {
            put_varint_always(buf, 1, h.count);
            put_double_field(buf, 3, h.sum);
            put_varint_field(buf, 4, zigzag_encode32(h.schema));
            put_double_field(buf, 5, h.zero_threshold);
            put_varint_always(buf, 6, h.zero_count);
            put_spans(buf, 8, &h.negative_spans);
            put_packed_varints(
                buf,
                9,
                h.negative_buckets.iter().map(|&d| zigzag_encode64(d)),
            );
            put_spans(buf, 11, &h.positive_spans);
            put_packed_varints(
                buf,
                12,
                h.positive_buckets.iter().map(|&d| zigzag_encode64(d)),
            );
            (h.counter_reset_hint, &h.custom_values)
        }
        HistogramValue::Float(h) => {
            put_float_fields(buf, h);
            (h.counter_reset_hint, &h.custom_values)
        }
    };
    put_trailer(buf, reset_hint, h.timestamp, custom_values, start_timestamp);
}

/// Appends a float histogram's Histogram message fields (not its key or length), as
/// [`encode_histogram`] does for a [`HistogramValue::Float`] (without `start_timestamp`),
/// borrowing the histogram instead of needing an owned sample.
pub(crate) fn encode_float_histogram(buf: &mut Vec<u8>, timestamp: i64, h: &FloatHistogram) {
    put_float_fields(buf, h);
    put_trailer(buf, h.counter_reset_hint, timestamp, &h.custom_values, 0);
}

/// Fields 2 to 13 of a float histogram.
fn put_float_fields(buf: &mut Vec<u8>, h: &FloatHistogram) {
    put_double_always(buf, 2, h.count);
    put_double_field(buf, 3, h.sum);
    put_varint_field(buf, 4, zigzag_encode32(h.schema));
    put_double_field(buf, 5, h.zero_threshold);
    put_double_always(buf, 7, h.zero_count);
    put_spans(buf, 8, &h.negative_spans);
    put_packed_doubles(buf, 10, &h.negative_buckets);
    put_spans(buf, 11, &h.positive_spans);
    put_packed_doubles(buf, 13, &h.positive_buckets);
}

/// Fields 14 to 17, shared by both kinds.
fn put_trailer(
    buf: &mut Vec<u8>,
    reset_hint: CounterResetHint,
    timestamp: i64,
    custom_values: &[f64],
    start_timestamp: i64,
) {
    put_varint_field(buf, 14, reset_hint as u64);
    put_varint_field(buf, 15, timestamp as u64);
    put_packed_doubles(buf, 16, custom_values);
    put_varint_field(buf, 17, start_timestamp as u64);
}

fn put_spans(buf: &mut Vec<u8>, field: u32, spans: &[Span]) {
    for s in spans {
        put_message(buf, field, |b| {
            put_varint_field(b, 1, zigzag_encode32(s.offset));
            put_varint_field(b, 2, u64::from(s.length));
        });
    }
}

/// A varint oneof member: written even when zero.
fn put_varint_always(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, WireType::Varint);
    put_varint(buf, v);
}

/// A double oneof member: written even when zero.
fn put_double_always(buf: &mut Vec<u8>, field: u32, v: f64) {
    put_key(buf, field, WireType::Fixed64);
    buf.extend_from_slice(&v.to_bits().to_le_bytes());
}
