//! Remote-write codecs across modules: round trips of 1.0 and 2.0 requests with every
//! kind of content, byte vectors assembled by hand from the .proto field numbers,
//! unknown fields, truncation at every offset, error texts, and the body entry point.

use cortex_core::remote_write::body::{ContentHeaders, decompress};
use cortex_core::remote_write::{
    DEFAULT_MAX_RECV_MSG_SIZE, DecodeError, Exemplar, HistogramSample, HistogramValue, Label,
    MetricMetadata, MetricType, Protocol, Sample, TimeSeries, WriteRequest, WrittenCounts,
    compress, decode_request, decode_v1, decode_v2, encode_v1, encode_v2,
};
use cortex_tsdb::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span,
};
use cortex_tsdb::value::STALE_NAN;

fn l<'a>(name: &'a str, value: &'a str) -> Label<'a> {
    Label { name, value }
}

fn int_histogram() -> Histogram {
    Histogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema: 3,
        zero_threshold: 1e-128,
        zero_count: 5,
        count: 27,
        sum: -12.5,
        positive_spans: vec![
            Span {
                offset: -2,
                length: 2,
            },
            Span {
                offset: 3,
                length: 1,
            },
        ],
        negative_spans: vec![Span {
            offset: -5,
            length: 3,
        }],
        positive_buckets: vec![4, -1, 2],
        negative_buckets: vec![1, 2, -3],
        custom_values: Vec::new(),
    }
}

fn float_histogram() -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Gauge,
        schema: -2,
        zero_threshold: 0.001,
        zero_count: 0.5,
        count: 10.25,
        sum: f64::NAN,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        negative_spans: vec![Span {
            offset: -1,
            length: 1,
        }],
        positive_buckets: vec![1.5, -0.0],
        negative_buckets: vec![8.75],
        custom_values: Vec::new(),
    }
}

fn custom_histogram() -> Histogram {
    Histogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 6,
        sum: 3.0,
        positive_spans: vec![Span {
            offset: 0,
            length: 3,
        }],
        positive_buckets: vec![1, 1, 1],
        custom_values: vec![0.1, 0.5, 1.0],
        ..Histogram::default()
    }
}

/// A request with every feature; `v2` shapes the parts only 2.0 carries.
fn rich(v2: bool) -> WriteRequest<'static> {
    let md = |name: &'static str, t| {
        v2.then_some(MetricMetadata {
            metric_family_name: name,
            metric_type: t,
            help: "Help text with ünïcode.",
            unit: if t == MetricType::Counter {
                "seconds"
            } else {
                ""
            },
        })
    };
    let mut series = vec![
        TimeSeries {
            labels: vec![
                l("__name__", "up"),
                l("instance", "a:9090"),
                l("job", "node"),
            ]
            .into(),
            samples: vec![
                Sample {
                    timestamp: 1_700_000_000_000,
                    value: 1.0,
                },
                Sample {
                    timestamp: 1_700_000_015_000,
                    value: STALE_NAN,
                },
                Sample {
                    timestamp: -5,
                    value: -0.0,
                },
                Sample {
                    timestamp: 0,
                    value: f64::from_bits(0x7ff8_0000_dead_beef),
                },
            ]
            .into(),
            metadata: md("up", MetricType::Gauge),
            ..TimeSeries::default()
        },
        TimeSeries {
            labels: vec![l("__name__", "requests_total"), l("path", "/api/v1/push")].into(),
            samples: vec![Sample {
                timestamp: 42,
                value: 1e300,
            }]
            .into(),
            exemplars: vec![
                Exemplar {
                    labels: vec![l("trace_id", "abc123"), l("span_id", "")],
                    value: 0.25,
                    timestamp: 41,
                },
                Exemplar {
                    labels: Vec::new(),
                    value: f64::INFINITY,
                    timestamp: -1,
                },
            ],
            metadata: md("requests_total", MetricType::Counter),
            created_timestamp: if v2 { 1_699_999_000_000 } else { 0 },
            ..TimeSeries::default()
        },
        TimeSeries {
            labels: vec![l("__name__", "latency"), l("", "empty name")].into(),
            histograms: vec![
                HistogramSample {
                    timestamp: 100,
                    value: HistogramValue::Int(Box::new(int_histogram())),
                },
                HistogramSample {
                    timestamp: 200,
                    value: HistogramValue::Float(Box::new(float_histogram())),
                },
                HistogramSample {
                    timestamp: 300,
                    value: HistogramValue::Int(Box::new(custom_histogram())),
                },
                HistogramSample {
                    timestamp: 400,
                    value: HistogramValue::Float(Box::default()),
                },
                HistogramSample {
                    timestamp: 500,
                    value: HistogramValue::Int(Box::new(Histogram {
                        sum: STALE_NAN,
                        ..Histogram::default()
                    })),
                },
            ],
            metadata: md("latency", MetricType::Histogram),
            created_timestamp: if v2 { 7 } else { 0 },
            ..TimeSeries::default()
        },
        // A series with no labels at all still decodes (validation is not our job).
        TimeSeries {
            samples: vec![Sample {
                timestamp: 1,
                value: 2.0,
            }]
            .into(),
            ..TimeSeries::default()
        },
    ];
    if v2 {
        series[3].metadata = Some(MetricMetadata::default());
    }
    WriteRequest {
        timeseries: series,
        metadata: if v2 {
            Vec::new()
        } else {
            vec![
                MetricMetadata {
                    metric_family_name: "up",
                    metric_type: MetricType::Gauge,
                    help: "1 if the target is up",
                    unit: "",
                },
                MetricMetadata {
                    metric_family_name: "latency",
                    metric_type: MetricType::StateSet,
                    help: "",
                    unit: "seconds",
                },
            ]
        },
        protocol: if v2 { Protocol::V2 } else { Protocol::V1 },
    }
}

fn assert_same(got: &WriteRequest<'_>, want: &WriteRequest<'_>) {
    assert!(
        got.bitwise_eq(want),
        "decoded differs:\n got {got:#?}\nwant {want:#?}"
    );
}

#[test]
fn v1_round_trip_keeps_every_bit() {
    let req = rich(false);
    let mut buf = Vec::new();
    encode_v1(&req, &mut buf);
    let got = decode_v1(&buf).unwrap();
    assert_same(&got, &req);
    // Stale NaN survives exactly.
    assert_eq!(
        got.timeseries[0].samples[1].value.to_bits(),
        STALE_NAN.to_bits()
    );
    // Re-encoding is byte-identical.
    let mut again = Vec::new();
    encode_v1(&got, &mut again);
    assert_eq!(again, buf);
}

#[test]
fn v2_round_trip_keeps_every_bit() {
    let req = rich(true);
    let mut buf = Vec::new();
    encode_v2(&req, &mut buf);
    let got = decode_v2(&buf).unwrap();
    assert_same(&got, &req);
    let mut again = Vec::new();
    encode_v2(&got, &mut again);
    assert_eq!(again, buf);
}

#[test]
fn v1_encoder_drops_what_only_v2_carries() {
    let mut req = rich(true);
    req.protocol = Protocol::V1;
    let mut buf = Vec::new();
    encode_v1(&req, &mut buf);
    let got = decode_v1(&buf).unwrap();
    for (g, w) in got.timeseries.iter().zip(&req.timeseries) {
        assert_eq!(g.metadata, None);
        assert_eq!(g.created_timestamp, 0);
        assert_eq!(g.labels[..], w.labels[..]);
    }
}

#[test]
fn encoders_reuse_and_clear_the_output() {
    let req = rich(false);
    let mut buf = vec![1, 2, 3];
    encode_v1(&req, &mut buf);
    let first = buf.clone();
    encode_v1(&req, &mut buf);
    assert_eq!(buf, first);
    let mut buf2 = vec![9; 10];
    encode_v2(&rich(true), &mut buf2);
    assert!(decode_v2(&buf2).is_ok());
}

/// A length-delimited field: key byte, varint length, body.
fn ld(key: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![key];
    let mut n = body.len();
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
    v.extend_from_slice(body);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn f64le(v: f64) -> [u8; 8] {
    v.to_bits().to_le_bytes()
}

#[test]
fn v1_hand_assembled_bytes_decode_and_encode_identically() {
    // Label{name=1, value=2}; Sample{value=1 double, timestamp=2 int64};
    // TimeSeries{labels=1, samples=2}; WriteRequest{timeseries=1, metadata=3}.
    let label = cat(&[&ld(0x0a, b"__name__"), &ld(0x12, b"up")]);
    let sample = cat(&[&[0x09], &f64le(1.0), &[0x10, 0xe8, 0x07]]); // ts 1000
    let series = cat(&[&ld(0x0a, &label), &ld(0x12, &sample)]);
    let metadata = cat(&[
        &[0x08, 0x01],
        &ld(0x12, b"up"),
        &ld(0x22, b"help"),
        &ld(0x2a, b"s"),
    ]);
    let bytes = cat(&[&ld(0x0a, &series), &ld(0x1a, &metadata)]);

    let req = decode_v1(&bytes).unwrap();
    let want = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![l("__name__", "up")].into(),
            samples: vec![Sample {
                timestamp: 1000,
                value: 1.0,
            }]
            .into(),
            ..TimeSeries::default()
        }],
        metadata: vec![MetricMetadata {
            metric_family_name: "up",
            metric_type: MetricType::Counter,
            help: "help",
            unit: "s",
        }],
        protocol: Protocol::V1,
    };
    assert_eq!(req, want);
    let mut out = Vec::new();
    encode_v1(&want, &mut out);
    assert_eq!(
        out, bytes,
        "the encoder writes what Prometheus' gogo encoder writes"
    );
}

#[test]
fn v1_hand_assembled_histograms_and_exemplars() {
    // Exemplar{labels=1, value=2, timestamp=3}.
    let ex = cat(&[
        &ld(0x0a, &cat(&[&ld(0x0a, b"trace_id"), &ld(0x12, b"t1")])),
        &[0x11],
        &f64le(0.5),
        &[0x18, 0x07],
    ]);
    // Int histogram: count_int=1, sum=3, schema=4 (sint32), zero_threshold=5,
    // zero_count_int=6, negative_spans=8, negative_deltas=9 (unpacked here),
    // positive_spans=11, positive_deltas=12 (packed), reset_hint=14, timestamp=15,
    // custom_values=16 (packed doubles, key 0x82 0x01).
    let int_h = cat(&[
        &[0x08, 0x09],
        &[0x19],
        &f64le(4.5),
        &[0x20, 0x05], // schema -3
        &[0x29],
        &f64le(0.25),
        &[0x30, 0x02],
        &ld(0x42, &[0x08, 0x03, 0x10, 0x02]), // span offset -2, length 2
        &[0x48, 0x04, 0x48, 0x01],            // deltas 2, -1 unpacked
        &ld(0x5a, &[0x08, 0x00, 0x10, 0x01]), // span offset 0, length 1
        &ld(0x62, &[0x06]),                   // packed delta 3
        &[0x70, 0x01],
        &[0x78, 0x64], // ts 100
        &[0x82, 0x01, 0x08],
        &f64le(2.0),
    ]);
    // Float histogram: count_float=2, zero_count_float=7, negative_counts=10 (unpacked),
    // positive_counts=13 (packed).
    let float_h = cat(&[
        &[0x11],
        &f64le(3.5),
        &[0x39],
        &f64le(0.5),
        &ld(0x42, &[0x08, 0x01, 0x10, 0x01]),
        &[0x51],
        &f64le(1.0),
        &ld(0x5a, &[0x10, 0x01]),
        &ld(0x6a, &f64le(2.0)),
        &[0x78, 0xc8, 0x01], // ts 200
    ]);
    let series = cat(&[
        &ld(0x0a, &ld(0x0a, b"h")),
        &ld(0x1a, &ex),
        &ld(0x22, &int_h),
        &ld(0x22, &float_h),
    ]);
    let bytes = ld(0x0a, &series);
    let req = decode_v1(&bytes).unwrap();
    let ts = &req.timeseries[0];
    assert_eq!(ts.labels.as_slice(), [l("h", "")]);
    assert_eq!(
        ts.exemplars,
        vec![Exemplar {
            labels: vec![l("trace_id", "t1")],
            value: 0.5,
            timestamp: 7
        }]
    );
    let want_int = Histogram {
        counter_reset_hint: CounterResetHint::CounterReset,
        schema: -3,
        zero_threshold: 0.25,
        zero_count: 2,
        count: 9,
        sum: 4.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_spans: vec![Span {
            offset: -2,
            length: 2,
        }],
        positive_buckets: vec![3],
        negative_buckets: vec![2, -1],
        custom_values: vec![2.0],
    };
    assert_eq!(
        ts.histograms[0],
        HistogramSample {
            timestamp: 100,
            value: HistogramValue::Int(Box::new(want_int))
        }
    );
    let want_float = FloatHistogram {
        zero_count: 0.5,
        count: 3.5,
        positive_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_spans: vec![Span {
            offset: -1,
            length: 1,
        }],
        positive_buckets: vec![2.0],
        negative_buckets: vec![1.0],
        ..FloatHistogram::default()
    };
    assert_eq!(
        ts.histograms[1],
        HistogramSample {
            timestamp: 200,
            value: HistogramValue::Float(Box::new(want_float))
        }
    );
}

#[test]
fn v2_hand_assembled_bytes() {
    // Request{symbols=4, timeseries=5}; TimeSeries{labels_refs=1 packed, samples=2,
    // histograms=3, exemplars=4, metadata=5, created_timestamp=6};
    // Sample{value=1, timestamp=2, start_timestamp=3}; Exemplar{labels_refs=1, value=2,
    // timestamp=3}; Metadata{type=1, help_ref=3, unit_ref=4}.
    let sample = cat(&[&[0x09], &f64le(2.5), &[0x10, 0x0a, 0x18, 0x05]]);
    let exemplar = cat(&[&ld(0x0a, &[5, 6]), &[0x11], &f64le(1.0), &[0x18, 0x09]]);
    let metadata = [0x08, 0x01, 0x18, 0x03, 0x20, 0x04];
    let series = cat(&[
        &ld(0x0a, &[1, 2]),
        &ld(0x12, &sample),
        &ld(0x22, &exemplar),
        &ld(0x2a, &metadata),
    ]);
    let bytes = cat(&[
        // The series come first: symbols may follow what uses them.
        &ld(0x2a, &series),
        &ld(0x22, b""),
        &ld(0x22, b"__name__"),
        &ld(0x22, b"x_total"),
        &ld(0x22, b"Counts x."),
        &ld(0x22, b"bytes"),
        &ld(0x22, b"trace_id"),
        &ld(0x22, b"0af7"),
    ]);
    let req = decode_v2(&bytes).unwrap();
    assert_eq!(req.protocol, Protocol::V2);
    let want = TimeSeries {
        labels: vec![l("__name__", "x_total")].into(),
        samples: vec![Sample {
            timestamp: 10,
            value: 2.5,
        }]
        .into(),
        exemplars: vec![Exemplar {
            labels: vec![l("trace_id", "0af7")],
            value: 1.0,
            timestamp: 9,
        }],
        metadata: Some(MetricMetadata {
            metric_family_name: "x_total",
            metric_type: MetricType::Counter,
            help: "Counts x.",
            unit: "bytes",
        }),
        created_timestamp: 5,
        ..TimeSeries::default()
    };
    assert_eq!(req.timeseries, vec![want]);

    // The 2.0 spec's per-series created_timestamp (field 6) wins over per-sample ones,
    // and labels_refs may come unpacked.
    let series = cat(&[&[0x08, 1, 0x08, 2], &ld(0x12, &sample), &[0x30, 0x0b]]);
    let bytes = cat(&[
        &ld(0x22, b""),
        &ld(0x22, b"a"),
        &ld(0x22, b"b"),
        &ld(0x2a, &series),
    ]);
    let req = decode_v2(&bytes).unwrap();
    assert_eq!(req.timeseries[0].labels.as_slice(), [l("a", "b")]);
    assert_eq!(req.timeseries[0].created_timestamp, 11);
    assert_eq!(req.timeseries[0].metadata, None);
}

#[test]
fn v2_histogram_start_timestamp_is_field_17() {
    // Histogram with count_float=0 (key 0x11) and start_timestamp (field 17: key 0x88 0x01).
    let h = cat(&[&[0x11], &f64le(0.0), &[0x78, 0x03, 0x88, 0x01, 0x02]]);
    let series = cat(&[&ld(0x0a, &[1, 0]), &ld(0x1a, &h)]);
    let bytes = cat(&[&ld(0x22, b""), &ld(0x22, b"n"), &ld(0x2a, &series)]);
    let ts = &decode_v2(&bytes).unwrap().timeseries[0];
    assert_eq!(ts.created_timestamp, 2);
    assert_eq!(ts.histograms[0].timestamp, 3);
    assert!(matches!(ts.histograms[0].value, HistogramValue::Float(_)));
}

/// Unknown fields of every wire type: varint 99, fixed64 98, bytes 97, fixed32 96.
fn unknowns() -> Vec<u8> {
    let mut v = vec![0x98, 0x06, 0x2a]; // field 99 varint 42
    v.extend([0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]); // field 98 fixed64
    v.extend([0x8a, 0x06, 2, 0xff, 0xfe]); // field 97 bytes (not UTF-8: never read)
    v.extend([0x85, 0x06, 1, 2, 3, 4]); // field 96 fixed32
    v
}

#[test]
fn unknown_fields_are_skipped_at_every_level() {
    let u = unknowns();
    let label = cat(&[&u, &ld(0x0a, b"a"), &u, &ld(0x12, b"b"), &u]);
    let sample = cat(&[&u, &[0x09], &f64le(1.0), &u, &[0x10, 0x02]]);
    let span = cat(&[&u, &[0x08, 0x02, 0x10, 0x01]]);
    let hist = cat(&[&u, &[0x08, 0x01], &ld(0x5a, &span), &u, &ld(0x62, &[0x02])]);
    // Field 2 of WriteRequest is reserved (Cortex' `source`): also skipped.
    let series = cat(&[
        &u,
        &ld(0x0a, &label),
        &ld(0x12, &sample),
        &ld(0x22, &hist),
        &u,
    ]);
    let bytes = cat(&[&u, &[0x10, 0x01], &ld(0x0a, &series), &u]);
    let req = decode_v1(&bytes).unwrap();
    let ts = &req.timeseries[0];
    assert_eq!(ts.labels.as_slice(), [l("a", "b")]);
    assert_eq!(
        ts.samples.as_slice(),
        [Sample {
            timestamp: 2,
            value: 1.0
        }]
    );
    let HistogramValue::Int(h) = &ts.histograms[0].value else {
        panic!("int histogram")
    };
    assert_eq!(
        (h.count, h.positive_spans[0], h.positive_buckets.clone()),
        (
            1,
            Span {
                offset: 1,
                length: 1
            },
            vec![1]
        )
    );

    let md = cat(&[&u, &[0x08, 0x02]]);
    let series = cat(&[
        &u,
        &ld(0x0a, &[1, 1]),
        &ld(0x12, &sample),
        &ld(0x2a, &md),
        &u,
    ]);
    let bytes = cat(&[
        &u,
        &ld(0x22, b""),
        &ld(0x22, b"x"),
        &u,
        &ld(0x2a, &series),
        &ld(0x0a, b"reserved"),
    ]);
    let req = decode_v2(&bytes).unwrap();
    assert_eq!(req.timeseries[0].labels.as_slice(), [l("x", "x")]);
    assert_eq!(
        req.timeseries[0].metadata.unwrap().metric_type,
        MetricType::Gauge
    );
}

#[test]
fn groups_and_wrong_wire_types_are_errors() {
    // An unknown field 9 as a group.
    let err = decode_v1(&[0x4b, 0x4c]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request: field 9: groups (wire types 3 and 4) are not supported"
    );
    // A known field as a group is the wrong wire type.
    let err = decode_v1(&[0x0b, 0x0c]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request: field 1: wire type 3 (start-group) where 2 (length-delimited) was expected"
    );
    // Sample value (double) sent as a varint.
    let series = ld(0x12, &[0x08, 0x01]);
    let err = decode_v1(&ld(0x0a, &series)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "timeseries[0].samples[0]: field 1: wire type 0 (varint) where 1 (fixed64) was expected"
    );
    assert_eq!(err.http_status(), 400);
}

#[test]
fn error_messages_name_the_field() {
    let good = ld(0x0a, &ld(0x0a, &ld(0x0a, b"ok")));
    let bad_label = cat(&[&ld(0x0a, b"ok"), &ld(0x12, &[0xc3, 0x28])]);
    let series = cat(&[&ld(0x0a, &ld(0x0a, b"a")), &ld(0x0a, &bad_label)]);
    let bytes = cat(&[&good, &good, &good, &ld(0x0a, &series)]);
    let err = decode_v1(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "timeseries[3].labels[1].value: invalid UTF-8"
    );

    let symbols = cat(&[
        &ld(0x22, b""),
        &ld(0x22, b"a"),
        &ld(0x22, b"b"),
        &ld(0x22, b"c"),
        &ld(0x22, b"d"),
    ]);
    let ok_series = ld(0x2a, &ld(0x0a, &[1, 2]));
    let bad = ld(0x2a, &ld(0x0a, &[1, 17]));
    let err = decode_v2(&cat(&[&symbols, &ok_series, &ok_series, &bad])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "v2 timeseries[2]: label ref 17 out of range of 5 symbols"
    );
    assert_eq!(err.http_status(), 400);

    let odd = ld(0x2a, &ld(0x0a, &[1, 2, 3]));
    let err = decode_v2(&cat(&[&symbols, &odd])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "v2 timeseries[0]: odd number of label refs (3)"
    );

    let ex = ld(
        0x2a,
        &cat(&[&ld(0x0a, &[1, 2]), &ld(0x22, &ld(0x0a, &[3, 9]))]),
    );
    let err = decode_v2(&cat(&[&symbols, &ex])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "v2 timeseries[0].exemplars[0]: label ref 9 out of range of 5 symbols"
    );

    let md = ld(0x2a, &ld(0x2a, &[0x18, 0x07]));
    let err = decode_v2(&cat(&[&symbols, &md])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "v2 timeseries[0].metadata: help ref 7 out of range of 5 symbols"
    );

    let err = decode_v2(&cat(&[&ld(0x22, b""), &ld(0x22, &[0xff])])).unwrap_err();
    assert_eq!(err.to_string(), "v2 symbols[1]: invalid UTF-8");

    let err = decode_v1(&[0x0a, 0x05, 0x0a]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request: length 5 exceeds the 1 bytes left"
    );
}

/// Truncating a valid message at any offset either fails or yields a prefix of its
/// series; it never panics.
fn check_truncations(
    bytes: &[u8],
    full: &WriteRequest<'_>,
    decode: fn(&[u8]) -> Result<WriteRequest<'_>, DecodeError>,
) {
    let mut ok = 0;
    for cut in 0..bytes.len() {
        match decode(&bytes[..cut]) {
            Ok(got) => {
                ok += 1;
                let n = got.timeseries.len();
                assert!(
                    n < full.timeseries.len() || got.metadata.len() < full.metadata.len(),
                    "cut {cut}"
                );
                let prefix = WriteRequest {
                    timeseries: full.timeseries[..n].to_vec(),
                    metadata: full.metadata[..got.metadata.len()].to_vec(),
                    protocol: full.protocol,
                };
                assert!(got.bitwise_eq(&prefix), "cut {cut}: not a prefix");
            }
            Err(e) => assert_eq!(e.http_status(), 400, "cut {cut}: {e}"),
        }
    }
    assert!(ok > 0, "cutting at top-level field boundaries decodes");
}

#[test]
fn truncation_at_every_offset_never_panics() {
    let req = rich(false);
    let mut buf = Vec::new();
    encode_v1(&req, &mut buf);
    check_truncations(&buf, &req, decode_v1);
    let req = rich(true);
    encode_v2(&req, &mut buf);
    check_truncations(&buf, &req, decode_v2);
}

#[test]
fn decode_request_negotiates_decompresses_and_decodes() {
    let mut raw = Vec::new();
    let mut body = Vec::new();
    let mut scratch = Vec::new();

    let req = rich(false);
    encode_v1(&req, &mut raw);
    compress(&raw, &mut body);
    let headers = ContentHeaders {
        content_type: Some("application/x-protobuf"),
        content_encoding: Some("snappy"),
        remote_write_version: Some("0.1.0"),
    };
    let got = decode_request(&body, &headers, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap();
    assert_same(&got, &req);

    let req = rich(true);
    encode_v2(&req, &mut raw);
    compress(&raw, &mut body);
    let headers = ContentHeaders {
        content_type: Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        content_encoding: Some("snappy"),
        remote_write_version: Some("2.0.0"),
    };
    drop(got);
    let got = decode_request(&body, &headers, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap();
    assert_same(&got, &req);
    assert_eq!(
        WrittenCounts::of(&got),
        WrittenCounts {
            samples: 6,
            histograms: 5,
            exemplars: 2
        }
    );
    assert_eq!(
        WrittenCounts::of(&got).headers(),
        [
            ("X-Prometheus-Remote-Write-Samples-Written", 6),
            ("X-Prometheus-Remote-Write-Histograms-Written", 5),
            ("X-Prometheus-Remote-Write-Exemplars-Written", 2),
        ]
    );

    // Over the limit: 413, whatever the content.
    drop(got);
    let err = decode_request(&body, &headers, raw.len() - 1, &mut scratch).unwrap_err();
    assert_eq!(err.http_status(), 413);
    // A v2 body declared as v1 has only fields unknown to 1.0: it decodes as an empty
    // request, as protobuf requires (the wrong declaration cannot be told from the bytes).
    let v1_headers = ContentHeaders {
        content_type: Some("application/x-protobuf"),
        ..headers
    };
    let got = decode_request(&body, &v1_headers, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap();
    assert!(got.timeseries.is_empty() && got.protocol == Protocol::V1);
    // Unsnappied protobuf is corrupt snappy.
    drop(got);
    let err = decode_request(&raw, &headers, DEFAULT_MAX_RECV_MSG_SIZE, &mut scratch).unwrap_err();
    assert!(matches!(err, DecodeError::Snappy(_)), "{err}");
    // Decompression into a reused, larger scratch yields exactly the message.
    let mut big = vec![0u8; raw.len() * 4];
    assert_eq!(
        decompress(&body, DEFAULT_MAX_RECV_MSG_SIZE, &mut big).unwrap(),
        &raw[..]
    );
}

#[test]
fn large_request_round_trips() {
    let names: Vec<String> = (0..2000).map(|i| format!("series_{i}")).collect();
    let req = WriteRequest {
        timeseries: names
            .iter()
            .enumerate()
            .map(|(i, n)| TimeSeries {
                labels: vec![
                    l("__name__", n),
                    l("job", "bench"),
                    l("instance", "host:9100"),
                ]
                .into(),
                samples: vec![Sample {
                    timestamp: i as i64,
                    value: i as f64,
                }]
                .into(),
                ..TimeSeries::default()
            })
            .collect(),
        ..WriteRequest::default()
    };
    let mut buf = Vec::new();
    encode_v1(&req, &mut buf);
    assert_same(&decode_v1(&buf).unwrap(), &req);
    let v2 = WriteRequest {
        protocol: Protocol::V2,
        ..req.clone()
    };
    encode_v2(&v2, &mut buf);
    assert_same(&decode_v2(&buf).unwrap(), &v2);
}
