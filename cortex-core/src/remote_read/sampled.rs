//! The `SAMPLES` response: `prometheus.ReadResponse` holding one `QueryResult` per query,
//! in the request's order, compressed as one snappy block.
//!
//! ```text
//! ReadResponse  results=1 (QueryResult)
//! QueryResult   timeseries=1 (TimeSeries, as in remote write: labels=1, samples=2,
//!               histograms=4)
//! ```
//!
//! Each query's series come in label order with their samples clipped to the query's
//! `[start, end]`; series without samples there are left out. Native histograms are
//! written as float histograms (what the querier returns). A query returning more
//! samples (floats and histograms together) than the sample limit fails the whole
//! response with Prometheus' `exceeded sample limit (N)`.

use std::ops::ControlFlow;

use bytes::Bytes;

use super::error::RemoteReadError;
use super::select::{scan_samples, select_sorted};
use super::{ReadOptions, ReadRequest};
use crate::querier::{Querier, SampleValue};
use crate::remote_write::TimeSeries;
use crate::remote_write::body::{compress, decompress};
use crate::remote_write::histogram::encode_float_histogram;
use crate::remote_write::v1::decode_series;
use crate::remote_write::wire::{
    Reader, WireType, expect, put_bytes_field, put_double_field, put_message, put_varint_field,
};

/// One query's answer in a `SAMPLES` response, borrowing from the decompressed body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult<'a> {
    /// The series with their samples and histograms.
    pub timeseries: Vec<TimeSeries<'a>>,
}

/// Answers every query of `req` as a `SAMPLES` response body (snappy-compressed).
pub fn sampled_body(
    req: &ReadRequest,
    querier: &dyn Querier,
    opts: &ReadOptions,
) -> Result<Bytes, RemoteReadError> {
    let mut raw = Vec::new();
    let mut scratch = Scratch::default();
    for q in &req.queries {
        let mut result = Ok(());
        put_message(&mut raw, 1, |b| {
            result = encode_query_result(b, querier, q, opts.sample_limit, &mut scratch);
        });
        result?;
    }
    let mut out = Vec::new();
    compress(&raw, &mut out);
    Ok(Bytes::from(out))
}

/// Buffers reused across series.
#[derive(Default)]
struct Scratch {
    samples: Vec<u8>,
    histograms: Vec<u8>,
    batch: Vec<crate::querier::Sample>,
}

fn encode_query_result(
    b: &mut Vec<u8>,
    querier: &dyn Querier,
    q: &super::Query,
    limit: usize,
    scratch: &mut Scratch,
) -> Result<(), RemoteReadError> {
    let mut count = 0usize;
    for series in select_sorted(querier, q)? {
        let Scratch {
            samples,
            histograms,
            batch,
        } = scratch;
        samples.clear();
        histograms.clear();
        let before = count;
        scan_samples(
            &*series,
            q.start_timestamp_ms,
            q.end_timestamp_ms,
            batch,
            |s| {
                count += 1;
                if limit > 0 && count > limit {
                    return Err(RemoteReadError::SampleLimitExceeded { limit });
                }
                match &s.value {
                    SampleValue::Float(v) => put_message(samples, 2, |b| {
                        put_double_field(b, 1, *v);
                        put_varint_field(b, 2, s.t as u64);
                    }),
                    SampleValue::Histogram(h) => {
                        put_message(histograms, 4, |b| encode_float_histogram(b, s.t, h));
                    }
                }
                Ok(ControlFlow::Continue(()))
            },
        )?;
        if count == before {
            continue;
        }
        put_message(b, 1, |b| {
            for l in series.labels() {
                put_message(b, 1, |b| {
                    put_bytes_field(b, 1, l.name.as_bytes());
                    put_bytes_field(b, 2, l.value.as_bytes());
                });
            }
            b.extend_from_slice(samples);
            b.extend_from_slice(histograms);
        });
    }
    Ok(())
}

/// Decodes a `SAMPLES` response body: one snappy block (checked against `max_size`
/// before allocating) decompressed into `scratch`, holding a `prometheus.ReadResponse`.
/// The results borrow their strings from `scratch`.
pub fn decode_read_response<'s>(
    body: &[u8],
    max_size: usize,
    scratch: &'s mut Vec<u8>,
) -> Result<Vec<QueryResult<'s>>, RemoteReadError> {
    let raw = decompress(body, max_size, scratch).map_err(RemoteReadError::from_decode)?;
    decode_read_response_message(raw)
}

/// Decodes an uncompressed `prometheus.ReadResponse`.
pub fn decode_read_response_message(buf: &[u8]) -> Result<Vec<QueryResult<'_>>, RemoteReadError> {
    decode_response(buf).map_err(|e| e.at_root("response"))
}

fn decode_response(buf: &[u8]) -> Result<Vec<QueryResult<'_>>, RemoteReadError> {
    let mut results = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = results.len();
                let res = decode_query_result(r.bytes()?).map_err(|e| e.within("results", i))?;
                results.push(res);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(results)
}

fn decode_query_result(buf: &[u8]) -> Result<QueryResult<'_>, RemoteReadError> {
    let mut res = QueryResult::default();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Len)?;
                let i = res.timeseries.len();
                let ts = decode_series(r.bytes()?)
                    .map_err(|e| RemoteReadError::from_decode(e).within("timeseries", i))?;
                res.timeseries.push(ts);
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::wire::WireError;

    #[test]
    fn malformed_responses_name_the_field() {
        // results[0].timeseries[0].samples[0] truncated.
        let raw = [0x0a, 0x06, 0x0a, 0x04, 0x12, 0x02, 0x09, 0x00];
        let e = decode_read_response_message(&raw).unwrap_err();
        assert_eq!(
            e,
            RemoteReadError::Malformed {
                path: "results[0].timeseries[0].samples[0]".into(),
                problem: WireError::Truncated
            }
        );
        let e = decode_read_response_message(&[0x0a, 0x05]).unwrap_err();
        assert!(e.to_string().starts_with("response: length 5"), "{e}");
        assert!(decode_read_response_message(&[]).unwrap().is_empty());
        let mut scratch = Vec::new();
        assert!(matches!(
            decode_read_response(&[0xff; 11], 100, &mut scratch),
            Err(RemoteReadError::Snappy(_))
        ));
    }
}
