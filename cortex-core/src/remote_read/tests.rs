//! Round trips across the remote-read modules: a request is encoded and decoded, answered
//! from a [`MemoryQuerier`], and the answer decoded again must hold exactly the
//! querier's samples (float bits, stale markers and native histograms included).

use std::sync::Arc;

use bytes::Bytes;

use cortex_tsdb::chunkenc::{ChunkIter, ValueType};
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::value::{STALE_NAN, is_stale_nan};

use super::*;
use crate::querier::memory::MemoryQuerier;
use crate::querier::{Sample, SampleValue};
use crate::remote_write::HistogramValue;

type Data = Vec<(Labels, Vec<Sample>)>;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn hist(count: f64, sum: f64) -> FloatHistogram {
    FloatHistogram {
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1.0,
        count,
        sum,
        positive_spans: vec![
            Span {
                offset: -1,
                length: 2,
            },
            Span {
                offset: 3,
                length: 1,
            },
        ],
        positive_buckets: vec![1.0, count - 3.0, 1.0],
        ..FloatHistogram::default()
    }
}

fn float(t: i64, v: f64) -> Sample {
    Sample {
        t,
        st: 0,
        value: SampleValue::Float(v),
    }
}

fn histogram(t: i64, h: FloatHistogram) -> Sample {
    Sample {
        t,
        st: 0,
        value: SampleValue::Histogram(Arc::new(h)),
    }
}

/// Three float series (one with a stale marker, a NaN payload and -0.0), a histogram
/// series with a counter reset and a stale histogram, and a series switching kinds.
fn data() -> Data {
    let mut up_a: Vec<Sample> = (0..1000).map(|i| float(i * 10, i as f64 / 3.0)).collect();
    up_a[100] = float(1000, STALE_NAN);
    up_a[101] = float(1010, f64::from_bits(0x7ff8_0000_0000_1234));
    up_a[102] = float(1020, -0.0);
    let up_b: Vec<Sample> = (0..5).map(|i| float(5000 + i, i as f64)).collect();
    let other = vec![float(0, 1.0), float(9000, 2.0)];
    let mut h: Vec<Sample> = (0..300)
        .map(|i| histogram(i * 10, hist(10.0 + i as f64, i as f64 * 1.5)))
        .collect();
    h[150] = histogram(1500, hist(4.0, 1.0));
    h[200] = histogram(
        2000,
        FloatHistogram {
            sum: STALE_NAN,
            ..FloatHistogram::default()
        },
    );
    let mut mixed: Vec<Sample> = (0..10).map(|i| float(i, i as f64)).collect();
    mixed.extend((10..20).map(|i| histogram(i, hist(5.0, 2.0))));
    mixed.push(float(20, 3.0));
    vec![
        (ls(&[("__name__", "up"), ("job", "a")]), up_a),
        (ls(&[("__name__", "up"), ("job", "b")]), up_b),
        (ls(&[("__name__", "other")]), other),
        (ls(&[("__name__", "h"), ("job", "a")]), h),
        (ls(&[("__name__", "mixed")]), mixed),
    ]
}

fn querier(data: &Data) -> MemoryQuerier {
    let mut q = MemoryQuerier::new();
    for (l, s) in data {
        q.set_series(l, s.clone());
    }
    q
}

/// What a query must return: matching series in label order, samples clipped, series
/// without samples left out. Computed from the data, not through the querier.
fn expected(data: &Data, q: &Query) -> Data {
    let mut out: Data = data
        .iter()
        .filter(|(l, _)| {
            q.matchers
                .iter()
                .all(|m| m.matches(l.get(m.name()).unwrap_or("")))
        })
        .map(|(l, s)| {
            let s: Vec<Sample> = s
                .iter()
                .filter(|s| s.t >= q.start_timestamp_ms && s.t <= q.end_timestamp_ms)
                .cloned()
                .collect();
            (l.clone(), s)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A comparable form of a sample: floats and histogram sums by bits, histogram
/// counter-reset hints dropped (chunks set them from their headers).
#[derive(Debug, PartialEq)]
enum Cmp {
    Float(i64, u64),
    Hist(i64, u64, FloatHistogram),
}

fn cmp_float_hist(t: i64, h: &FloatHistogram) -> Cmp {
    if is_stale_nan(h.sum) {
        // A stale marker is only its sum; chunks keep their layout around it.
        return Cmp::Hist(t, h.sum.to_bits(), FloatHistogram::default());
    }
    Cmp::Hist(
        t,
        h.sum.to_bits(),
        FloatHistogram {
            sum: 0.0,
            counter_reset_hint: CounterResetHint::Unknown,
            ..h.clone()
        },
    )
}

fn cmp_samples(s: &[Sample]) -> Vec<Cmp> {
    s.iter()
        .map(|s| match &s.value {
            SampleValue::Float(v) => Cmp::Float(s.t, v.to_bits()),
            SampleValue::Histogram(h) => cmp_float_hist(s.t, h),
        })
        .collect()
}

fn labels_of(l: &[crate::remote_write::Label<'_>]) -> Labels {
    Labels::from_sorted(l.iter().map(|l| (l.name, l.value))).unwrap()
}

fn queries() -> Vec<Query> {
    vec![
        Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10_000,
            matchers: vec![Matcher::new(MatchType::Regexp, "__name__", "up|h|mixed").unwrap()],
            hints: Some(ReadHints {
                step_ms: 1000,
                ..ReadHints::default()
            }),
        },
        // Clipped on both sides; `job!="b"` also matches series without `job`.
        Query {
            start_timestamp_ms: 995,
            end_timestamp_ms: 2005,
            matchers: vec![Matcher::new(MatchType::NotEqual, "job", "b").unwrap()],
            hints: None,
        },
        // Matches nothing.
        Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10,
            matchers: vec![Matcher::equal("__name__", "absent")],
            hints: None,
        },
    ]
}

fn request(accepted: Vec<ResponseType>) -> ReadRequest {
    // Every request in these tests goes through the wire first.
    let req = ReadRequest {
        queries: queries(),
        accepted_response_types: accepted,
    };
    decode_read_request(&encode_read_request(&req), DEFAULT_MAX_READ_REQUEST_SIZE).unwrap()
}

fn sampled(resp: ReadResponse<'_>) -> Bytes {
    assert_eq!(resp.content_type, "application/x-protobuf");
    assert_eq!(resp.content_encoding, Some("snappy"));
    match resp.body {
        ResponseBody::Sampled(b) => b,
        ResponseBody::Streamed(_) => panic!("expected a sampled body"),
    }
}

fn streamed(resp: ReadResponse<'_>) -> Vec<Bytes> {
    assert_eq!(
        resp.content_type,
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    assert_eq!(resp.content_encoding, None);
    match resp.body {
        ResponseBody::Streamed(frames) => frames.collect::<Result<_, _>>().unwrap(),
        ResponseBody::Sampled(_) => panic!("expected a streamed body"),
    }
}

#[test]
fn sampled_response_holds_exactly_the_querier_samples() {
    let data = data();
    let q = querier(&data);
    let req = request(vec![]);
    let body = sampled(respond(&req, &q, &ReadOptions::default()).unwrap());
    let mut scratch = Vec::new();
    let results = decode_read_response(&body, 64 << 20, &mut scratch).unwrap();
    assert_eq!(results.len(), req.queries.len());
    for (query, result) in req.queries.iter().zip(&results) {
        let want = expected(&data, query);
        assert_eq!(result.timeseries.len(), want.len());
        for (ts, (labels, samples)) in result.timeseries.iter().zip(&want) {
            assert_eq!(&labels_of(&ts.labels), labels);
            let mut got: Vec<Cmp> = ts
                .samples
                .iter()
                .map(|s| Cmp::Float(s.timestamp, s.value.to_bits()))
                .collect();
            for h in &ts.histograms {
                match &h.value {
                    HistogramValue::Float(f) => got.push(cmp_float_hist(h.timestamp, f)),
                    HistogramValue::Int(_) => panic!("histograms are sent as floats"),
                }
            }
            // Floats then histograms in the message; compare in time order.
            got.sort_by_key(|c| match c {
                Cmp::Float(t, _) | Cmp::Hist(t, ..) => *t,
            });
            assert_eq!(got, cmp_samples(samples), "{labels}");
        }
    }
    assert!(results[2].timeseries.is_empty());
}

/// Decodes a streamed body into (query index, labels, samples), one entry per frame,
/// checking each chunk's time range and size on the way.
fn decode_streamed(frames: &[Bytes]) -> Vec<(i64, Labels, Vec<Cmp>)> {
    let body: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    let mut out = Vec::new();
    for frame in decode_chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).unwrap() {
        assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
        let series = &frame.chunked_series[0];
        let mut samples = Vec::new();
        for c in &series.chunks {
            let enc = c.chunk_type.encoding().unwrap();
            let mut it = ChunkIter::new(enc, c.data).unwrap();
            assert!(it.num_samples() <= chunks::MAX_SAMPLES_PER_CHUNK);
            let mut times = Vec::new();
            while let Some(vt) = it.next().unwrap() {
                let (t, s) = match vt {
                    ValueType::Float => {
                        let (t, v) = it.at();
                        (t, Cmp::Float(t, v.to_bits()))
                    }
                    _ => {
                        let (t, h) = it.at_float_histogram();
                        (t, cmp_float_hist(t, h))
                    }
                };
                times.push(t);
                samples.push(s);
            }
            assert_eq!(times.first(), Some(&c.min_time_ms));
            assert_eq!(times.last(), Some(&c.max_time_ms));
        }
        out.push((frame.query_index, labels_of(&series.labels), samples));
    }
    out
}

/// Joins consecutive frames of the same series of the same query.
fn join_frames(frames: Vec<(i64, Labels, Vec<Cmp>)>) -> Vec<(i64, Labels, Vec<Cmp>)> {
    let mut out: Vec<(i64, Labels, Vec<Cmp>)> = Vec::new();
    for (qi, l, s) in frames {
        match out.last_mut() {
            Some((lq, ll, ls)) if *lq == qi && *ll == l => ls.extend(s),
            _ => out.push((qi, l, s)),
        }
    }
    out
}

fn want_streamed(data: &Data, req: &ReadRequest) -> Vec<(i64, Labels, Vec<Cmp>)> {
    let mut want = Vec::new();
    for (qi, query) in req.queries.iter().enumerate() {
        for (l, s) in expected(data, query) {
            want.push((qi as i64, l, cmp_samples(&s)));
        }
    }
    want
}

#[test]
fn streamed_response_holds_exactly_the_querier_samples() {
    let data = data();
    let q = querier(&data);
    let req = request(vec![ResponseType::StreamedXorChunks, ResponseType::Samples]);
    let frames = streamed(respond(&req, &q, &ReadOptions::default()).unwrap());
    let got = decode_streamed(&frames);
    // With 1 MiB frames every series fits in one frame.
    assert_eq!(got.len(), want_streamed(&data, &req).len());
    assert_eq!(got, want_streamed(&data, &req));
}

#[test]
fn small_frames_split_series_by_chunks_under_the_limit() {
    let data = data();
    let q = querier(&data);
    let req = request(vec![ResponseType::StreamedXorChunks]);
    let limit = 300;
    let opts = ReadOptions {
        max_bytes_in_frame: limit,
        ..ReadOptions::default()
    };
    let frames = streamed(respond(&req, &q, &opts).unwrap());
    let got = decode_streamed(&frames);
    assert!(
        got.len() > want_streamed(&data, &req).len(),
        "series were split"
    );
    assert_eq!(join_frames(got), want_streamed(&data, &req));
    // Every frame stays under the limit plus one chunk (Prometheus' tolerance): its
    // chunks without the last one take less than the budget.
    let body: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    for frame in decode_chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).unwrap() {
        let s = &frame.chunked_series[0];
        let labels: usize = s
            .labels
            .iter()
            .map(|l| frame::label_size(l.name, l.value))
            .sum();
        let chunk_bytes: Vec<usize> = s
            .chunks
            .iter()
            .map(|c| frame::chunk_size(c.min_time_ms, c.max_time_ms, c.chunk_type, c.data.len()))
            .collect();
        let before_last: usize = chunk_bytes[..chunk_bytes.len() - 1].iter().sum();
        assert!(labels + before_last < limit, "{labels} + {before_last}");
    }
}

#[test]
fn a_frame_limit_below_the_labels_size_sends_one_chunk_per_frame() {
    let data = data();
    let q = querier(&data);
    let req = request(vec![ResponseType::StreamedXorChunks]);
    let opts = ReadOptions {
        max_bytes_in_frame: 1,
        ..ReadOptions::default()
    };
    let frames = streamed(respond(&req, &q, &opts).unwrap());
    let body: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    let decoded = decode_chunked_frames(&body, DEFAULT_CHUNKED_READ_LIMIT).unwrap();
    assert!(
        decoded
            .iter()
            .all(|f| f.chunked_series[0].chunks.len() == 1)
    );
    assert_eq!(
        join_frames(decode_streamed(&frames)),
        want_streamed(&data, &req)
    );
}

#[test]
fn negotiation_picks_the_clients_first_supported_type() {
    let data = data();
    let q = querier(&data);
    let opts = ReadOptions::default();
    use ResponseType::{Samples, StreamedXorChunks, Unknown};
    for (accepted, want) in [
        (vec![], Samples),
        (vec![Samples, StreamedXorChunks], Samples),
        (vec![StreamedXorChunks, Samples], StreamedXorChunks),
        (vec![Unknown(7), StreamedXorChunks], StreamedXorChunks),
    ] {
        let req = request(accepted.clone());
        let resp = respond(&req, &q, &opts).unwrap();
        assert_eq!(resp.response_type, want, "{accepted:?}");
        match want {
            Samples => drop(sampled(resp)),
            _ => drop(streamed(resp)),
        }
    }
    let req = request(vec![Unknown(7)]);
    let Err(e) = respond(&req, &q, &opts) else {
        panic!("negotiation must fail")
    };
    assert_eq!(e.http_status(), 400);
    assert!(e.to_string().starts_with("server does not support"), "{e}");
}

#[test]
fn the_sample_limit_applies_per_query_with_prometheus_text() {
    let data = data();
    let q = querier(&data);
    let req = request(vec![]);
    let per_query: Vec<usize> = req
        .queries
        .iter()
        .map(|query| expected(&data, query).iter().map(|(_, s)| s.len()).sum())
        .collect();
    let max = *per_query.iter().max().unwrap();
    assert!(
        per_query.iter().sum::<usize>() > max,
        "several queries return samples"
    );
    let ok = ReadOptions {
        sample_limit: max,
        ..ReadOptions::default()
    };
    assert!(respond(&req, &q, &ok).is_ok());
    let tight = ReadOptions {
        sample_limit: max - 1,
        ..ReadOptions::default()
    };
    let Err(e) = respond(&req, &q, &tight) else {
        panic!("the limit must be enforced")
    };
    assert_eq!(e, RemoteReadError::SampleLimitExceeded { limit: max - 1 });
    assert_eq!(
        e.to_string(),
        format!("exceeded sample limit ({})", max - 1)
    );
    assert_eq!(e.http_status(), 400);
    let unlimited = ReadOptions {
        sample_limit: 0,
        ..ReadOptions::default()
    };
    assert!(respond(&req, &q, &unlimited).is_ok());
    // Streamed responses are not sample-limited, as in Prometheus.
    let req = request(vec![ResponseType::StreamedXorChunks]);
    let resp = respond(&req, &q, &tight).unwrap();
    assert!(!streamed(resp).is_empty());
}

#[test]
fn an_empty_request_gets_empty_answers() {
    let q = querier(&data());
    let req = ReadRequest::default();
    let body = sampled(respond(&req, &q, &ReadOptions::default()).unwrap());
    let mut scratch = Vec::new();
    assert!(
        decode_read_response(&body, 1 << 20, &mut scratch)
            .unwrap()
            .is_empty()
    );
    let req = ReadRequest {
        accepted_response_types: vec![ResponseType::StreamedXorChunks],
        ..ReadRequest::default()
    };
    assert!(streamed(respond(&req, &q, &ReadOptions::default()).unwrap()).is_empty());
}
