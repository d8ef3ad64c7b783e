//! Remote write 1.0: decoding and encoding `prometheus.WriteRequest`
//! (`prompb/remote.proto` and `prompb/types.proto` in prometheus/prometheus).
//!
//! ```text
//! WriteRequest   timeseries=1 (TimeSeries), [2 reserved], metadata=3 (MetricMetadata)
//! TimeSeries     labels=1 (Label), samples=2 (Sample), exemplars=3 (Exemplar),
//!                histograms=4 (Histogram, see histogram.rs)
//! Label          name=1 (string), value=2 (string)
//! Sample         value=1 (double), timestamp=2 (int64)
//! Exemplar       labels=1 (Label), value=2 (double), timestamp=3 (int64)
//! MetricMetadata type=1 (enum), metric_family_name=2, help=4, unit=5 (strings)
//! ```
//!
//! Strings borrow from the message bytes. Each series is scanned once to count its
//! repeated fields so its vectors are allocated at their final size. Unknown fields
//! are skipped; a known field with the wrong wire type is an error.

use smallvec::SmallVec;

use super::error::DecodeError;
use super::histogram::{decode_histogram, encode_histogram};
use super::wire::{
    Reader, WireType, count_fields, expect, put_bytes_field, put_double_field, put_message,
    put_varint_field,
};
use super::{
    Exemplar, Label, MetricMetadata, MetricType, Protocol, Sample, TimeSeries, WriteRequest,
};

/// Decodes a `prometheus.WriteRequest` (already decompressed). The request's strings
/// borrow from `buf`; `protocol` is [`Protocol::V1`] and the series have no
/// per-series metadata or created timestamp.
pub fn decode_v1(buf: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    decode_request(buf).map_err(|e| e.at_root(""))
}

fn decode_request(buf: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    let [n_series, n_metadata] = count_fields(buf, [1, 3]);
    let mut req = WriteRequest {
        timeseries: Vec::with_capacity(n_series),
        metadata: Vec::with_capacity(n_metadata),
        protocol: Protocol::V1,
    };
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = req.timeseries.len();
                let ts = decode_series(r.bytes()?).map_err(|e| e.within("timeseries", i))?;
                req.timeseries.push(ts);
            }
            3 => {
                expect(field, wt, WireType::Len)?;
                let i = req.metadata.len();
                let md = decode_metadata(r.bytes()?).map_err(|e| e.within("metadata", i))?;
                req.metadata.push(md);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(req)
}

pub(crate) fn decode_series(buf: &[u8]) -> Result<TimeSeries<'_>, DecodeError> {
    // No counting pass: labels and one sample fit inline, and the rarer longer lists
    // grow as they come.
    let mut ts = TimeSeries {
        labels: SmallVec::new(),
        samples: SmallVec::new(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
        metadata: None,
        created_timestamp: 0,
    };
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.labels.len();
                ts.labels
                    .push(decode_label(r.bytes()?).map_err(|e| e.within("labels", i))?);
            }
            2 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.samples.len();
                ts.samples
                    .push(decode_sample(r.bytes()?).map_err(|e| e.within("samples", i))?);
            }
            3 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.exemplars.len();
                let ex = decode_exemplar(r.bytes()?).map_err(|e| e.within("exemplars", i))?;
                ts.exemplars.push(ex);
            }
            4 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.histograms.len();
                let (h, _) = decode_histogram(r.bytes()?).map_err(|e| e.within("histograms", i))?;
                ts.histograms.push(h);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(ts)
}

#[inline]
pub(crate) fn decode_label(buf: &[u8]) -> Result<Label<'_>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut label = Label {
        name: "",
        value: "",
    };
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                label.name = r.str().map_err(|e| DecodeError::from(e).in_field("name"))?;
            }
            2 => {
                expect(field, wt, WireType::Len)?;
                label.value = r
                    .str()
                    .map_err(|e| DecodeError::from(e).in_field("value"))?;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(label)
}

#[inline]
fn decode_sample(buf: &[u8]) -> Result<Sample, DecodeError> {
    let mut r = Reader::new(buf);
    let mut s = Sample {
        timestamp: 0,
        value: 0.0,
    };
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Fixed64)?;
                s.value = r.double()?;
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                s.timestamp = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(s)
}

fn decode_exemplar(buf: &[u8]) -> Result<Exemplar<'_>, DecodeError> {
    let mut r = Reader::new(buf);
    let [n_labels] = count_fields(buf, [1]);
    let mut ex = Exemplar {
        labels: Vec::with_capacity(n_labels),
        value: 0.0,
        timestamp: 0,
    };
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = ex.labels.len();
                ex.labels
                    .push(decode_label(r.bytes()?).map_err(|e| e.within("labels", i))?);
            }
            2 => {
                expect(field, wt, WireType::Fixed64)?;
                ex.value = r.double()?;
            }
            3 => {
                expect(field, wt, WireType::Varint)?;
                ex.timestamp = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(ex)
}

fn decode_metadata(buf: &[u8]) -> Result<MetricMetadata<'_>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut md = MetricMetadata::default();
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                md.metric_type = MetricType::from_proto(r.varint()?);
            }
            2 | 4 | 5 => {
                expect(field, wt, WireType::Len)?;
                let (slot, name) = match field {
                    2 => (&mut md.metric_family_name, "metric_family_name"),
                    4 => (&mut md.help, "help"),
                    _ => (&mut md.unit, "unit"),
                };
                *slot = r.str().map_err(|e| DecodeError::from(e).in_field(name))?;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(md)
}

/// Encodes `req` as a `prometheus.WriteRequest` into `out` (cleared first; not
/// compressed). Fields only remote write 2.0 carries (per-series `metadata`,
/// `created_timestamp`) are not written; request-level `metadata` is. Zero values are
/// omitted as proto3 encoders do, except that every bit pattern of a float other than
/// +0.0 (NaNs, -0.0) is written as is.
pub fn encode_v1(req: &WriteRequest<'_>, out: &mut Vec<u8>) {
    out.clear();
    for ts in &req.timeseries {
        put_message(out, 1, |b| encode_series(b, ts));
    }
    for md in &req.metadata {
        put_message(out, 3, |b| {
            put_varint_field(b, 1, md.metric_type.to_proto());
            put_bytes_field(b, 2, md.metric_family_name.as_bytes());
            put_bytes_field(b, 4, md.help.as_bytes());
            put_bytes_field(b, 5, md.unit.as_bytes());
        });
    }
}

fn encode_series(b: &mut Vec<u8>, ts: &TimeSeries<'_>) {
    for l in &ts.labels {
        put_message(b, 1, |b| put_label(b, l));
    }
    for s in &ts.samples {
        put_message(b, 2, |b| {
            put_double_field(b, 1, s.value);
            put_varint_field(b, 2, s.timestamp as u64);
        });
    }
    for ex in &ts.exemplars {
        put_message(b, 3, |b| {
            for l in &ex.labels {
                put_message(b, 1, |b| put_label(b, l));
            }
            put_double_field(b, 2, ex.value);
            put_varint_field(b, 3, ex.timestamp as u64);
        });
    }
    for h in &ts.histograms {
        put_message(b, 4, |b| encode_histogram(b, h, 0));
    }
}

#[inline]
fn put_label(b: &mut Vec<u8>, l: &Label<'_>) {
    put_bytes_field(b, 1, l.name.as_bytes());
    put_bytes_field(b, 2, l.value.as_bytes());
}
