//! Property tests of the record codecs: encode → decode is the identity for every type
//! (floats compared bit for bit, NaN payloads included), the [`Encoder`] splits custom
//! buckets like Prometheus, histogram layouts match the byte drawing, and no decoder
//! panics on arbitrary bytes.

use proptest::prelude::*;

use super::*;
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span};
use crate::labels::Labels;
use crate::tombstones::Interval;

fn f64_bits() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(0x7ff0_0000_0000_0002)),
        -1e6..1e6f64,
    ]
}

fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,6}", "[ -~]{1,8}|\\PC{1,4}", 0..5)
        .prop_map(|m| Labels::from_pairs(m).unwrap())
}

fn hint() -> impl Strategy<Value = CounterResetHint> {
    (0u8..4).prop_map(|h| CounterResetHint::from_u8(h).unwrap())
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec(
        (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| Span { offset, length }),
        0..4,
    )
}

fn schema() -> impl Strategy<Value = i32> {
    prop_oneof![-4..=8i32, Just(CUSTOM_BUCKETS_SCHEMA), any::<i32>()]
}

fn histogram() -> impl Strategy<Value = Histogram> {
    (
        (
            hint(),
            schema(),
            f64_bits(),
            any::<u64>(),
            any::<u64>(),
            f64_bits(),
        ),
        (spans(), spans()),
        prop::collection::vec(any::<i64>(), 0..6),
        prop::collection::vec(any::<i64>(), 0..6),
        prop::collection::vec(f64_bits(), 0..4),
    )
        .prop_map(
            |((hint, schema, zt, zc, count, sum), (ps, ns), pb, nb, cv)| Histogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold: zt,
                zero_count: zc,
                count,
                sum,
                positive_spans: ps,
                negative_spans: ns,
                positive_buckets: pb,
                negative_buckets: nb,
                // Only custom-bucket histograms carry bounds on the wire.
                custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                    cv
                } else {
                    Vec::new()
                },
            },
        )
}

fn float_histogram() -> impl Strategy<Value = FloatHistogram> {
    (
        (
            hint(),
            schema(),
            f64_bits(),
            f64_bits(),
            f64_bits(),
            f64_bits(),
        ),
        (spans(), spans()),
        prop::collection::vec(f64_bits(), 0..6),
        prop::collection::vec(f64_bits(), 0..6),
        prop::collection::vec(f64_bits(), 0..4),
    )
        .prop_map(
            |((hint, schema, zt, zc, count, sum), (ps, ns), pb, nb, cv)| FloatHistogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold: zt,
                zero_count: zc,
                count,
                sum,
                positive_spans: ps,
                negative_spans: ns,
                positive_buckets: pb,
                negative_buckets: nb,
                custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                    cv
                } else {
                    Vec::new()
                },
            },
        )
}

fn hist_bits(h: &Histogram) -> (Histogram, u64, u64, Vec<u64>) {
    let mut c = h.clone();
    let (zt, sum) = (c.zero_threshold.to_bits(), c.sum.to_bits());
    let cv = c.custom_values.iter().map(|v| v.to_bits()).collect();
    (c.zero_threshold, c.sum, c.custom_values) = (0.0, 0.0, Vec::new());
    (c, zt, sum, cv)
}

fn float_hist_bits(h: &FloatHistogram) -> (String, Vec<u64>) {
    let mut c = h.clone();
    let mut all = vec![c.zero_threshold, c.zero_count, c.count, c.sum];
    all.extend(&c.positive_buckets);
    all.extend(&c.negative_buckets);
    all.extend(&c.custom_values);
    (c.zero_threshold, c.zero_count, c.count, c.sum) = (0.0, 0.0, 0.0, 0.0);
    c.positive_buckets.clear();
    c.negative_buckets.clear();
    c.custom_values.clear();
    (format!("{c:?}"), all.iter().map(|v| v.to_bits()).collect())
}

fn sample_bits(s: &RefSample) -> (u64, i64, i64, u64) {
    (s.series_ref, s.st, s.t, s.v.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, rng_seed: proptest::test_runner::RngSeed::Fixed(42), ..ProptestConfig::default() })]

    #[test]
    fn series_round_trip(v in prop::collection::vec((any::<u64>(), labels()), 0..5)) {
        let series: Vec<RefSeries> = v.into_iter().map(|(series_ref, labels)| RefSeries { series_ref, labels }).collect();
        let mut rec = Vec::new();
        encode_series(&series, &mut rec);
        let mut got = Vec::new();
        decode_series(&rec, &mut got).unwrap();
        prop_assert_eq!(got, series);
    }

    #[test]
    fn samples_round_trip_in_both_layouts(
        v in prop::collection::vec((any::<u64>(), any::<i64>(), any::<i64>(), f64_bits()), 0..8),
        v2 in any::<bool>(),
    ) {
        let samples: Vec<RefSample> = v.into_iter()
            .map(|(series_ref, st, t, v)| RefSample { series_ref, st: if v2 { st } else { 0 }, t, v })
            .collect();
        let mut batch = RecordBatch::new();
        Encoder { samples_v2: v2 }.samples(&samples, &mut batch);
        prop_assert_eq!(batch.len(), usize::from(!samples.is_empty()));
        let mut got = Vec::new();
        if let Some(rec) = batch.get(0) {
            let want = if v2 { RecordType::SamplesV2 } else { RecordType::Samples };
            prop_assert_eq!(record_type(rec), Some(want));
            decode_samples(rec, &mut got).unwrap();
        }
        prop_assert_eq!(
            got.iter().map(sample_bits).collect::<Vec<_>>(),
            samples.iter().map(sample_bits).collect::<Vec<_>>()
        );
    }

    #[test]
    fn histograms_round_trip_and_split_custom_buckets(
        v in prop::collection::vec((any::<u64>(), any::<i64>(), any::<i64>(), histogram()), 0..6),
        v2 in any::<bool>(),
    ) {
        let hs: Vec<RefHistogramSample> = v.into_iter()
            .map(|(series_ref, st, t, h)| RefHistogramSample { series_ref, st: if v2 { st } else { 0 }, t, h })
            .collect();
        let mut batch = RecordBatch::new();
        Encoder { samples_v2: v2 }.histogram_samples(&hs, &mut batch);
        let mut got = Vec::new();
        let mut types = Vec::new();
        let mut buf = Vec::new();
        for rec in batch.iter() {
            types.push(record_type(rec).unwrap());
            decode_histogram_samples(rec, &mut buf).unwrap();
            got.extend(buf.iter().cloned());
        }
        let want: Vec<&RefHistogramSample> = if v2 {
            hs.iter().collect()
        } else {
            let (cb, exp): (Vec<_>, Vec<_>) = hs.iter().partition(|s| s.h.uses_custom_buckets());
            let mut want_types = Vec::new();
            if !exp.is_empty() { want_types.push(RecordType::HistogramSamples); }
            if !cb.is_empty() { want_types.push(RecordType::CustomBucketsHistogramSamples); }
            prop_assert_eq!(&types, &want_types);
            exp.into_iter().chain(cb).collect()
        };
        if v2 && !hs.is_empty() {
            prop_assert_eq!(&types, &vec![RecordType::HistogramSamplesV2]);
        }
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            prop_assert_eq!((g.series_ref, g.st, g.t), (w.series_ref, w.st, w.t));
            prop_assert_eq!(hist_bits(&g.h), hist_bits(&w.h));
        }
    }

    #[test]
    fn float_histograms_round_trip(
        v in prop::collection::vec((any::<u64>(), any::<i64>(), any::<i64>(), float_histogram()), 0..6),
        v2 in any::<bool>(),
    ) {
        let hs: Vec<RefFloatHistogramSample> = v.into_iter()
            .map(|(series_ref, st, t, fh)| RefFloatHistogramSample { series_ref, st: if v2 { st } else { 0 }, t, fh })
            .collect();
        let mut batch = RecordBatch::new();
        Encoder { samples_v2: v2 }.float_histogram_samples(&hs, &mut batch);
        let mut got = Vec::new();
        let mut buf = Vec::new();
        for rec in batch.iter() {
            let t = record_type(rec).unwrap();
            prop_assert!(matches!(t, RecordType::FloatHistogramSamples
                | RecordType::CustomBucketsFloatHistogramSamples
                | RecordType::FloatHistogramSamplesV2));
            decode_float_histogram_samples(rec, &mut buf).unwrap();
            got.extend(buf.iter().cloned());
        }
        let mut want: Vec<&RefFloatHistogramSample> = hs.iter().collect();
        if !v2 {
            want.sort_by_key(|s| s.fh.uses_custom_buckets());
        }
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            prop_assert_eq!((g.series_ref, g.st, g.t), (w.series_ref, w.st, w.t));
            prop_assert_eq!(float_hist_bits(&g.fh), float_hist_bits(&w.fh));
        }
    }

    #[test]
    fn tombstones_exemplars_markers_metadata_round_trip(
        stones in prop::collection::vec((any::<u64>(), any::<i64>(), any::<i64>()), 0..5),
        ex in prop::collection::vec((any::<u64>(), any::<i64>(), -1e9..1e9f64, labels()), 0..5),
        markers in prop::collection::vec((any::<u64>(), any::<u64>()), 0..5),
        meta in prop::collection::vec((any::<u64>(), any::<u8>(), "\\PC{0,6}", "\\PC{0,12}"), 0..5),
    ) {
        let stones: Vec<RefTombstone> = stones.into_iter()
            .map(|(series_ref, mint, maxt)| RefTombstone { series_ref, interval: Interval { mint, maxt } })
            .collect();
        let ex: Vec<RefExemplar> = ex.into_iter()
            .map(|(series_ref, t, v, labels)| RefExemplar { series_ref, t, v, labels })
            .collect();
        let markers: Vec<RefMmapMarker> = markers.into_iter()
            .map(|(series_ref, mmap_ref)| RefMmapMarker { series_ref, mmap_ref })
            .collect();
        let meta: Vec<RefMetadata> = meta.into_iter()
            .map(|(series_ref, metric_type, unit, help)| RefMetadata { series_ref, metric_type, unit, help })
            .collect();
        let mut rec = Vec::new();
        encode_tombstones(&stones, &mut rec);
        let mut s2 = Vec::new();
        decode_tombstones(&rec, &mut s2).unwrap();
        prop_assert_eq!(s2, stones);
        rec.clear();
        encode_exemplars(&ex, &mut rec);
        let mut e2 = Vec::new();
        decode_exemplars(&rec, &mut e2).unwrap();
        prop_assert_eq!(e2, ex);
        rec.clear();
        encode_mmap_markers(&markers, &mut rec);
        let mut m2 = Vec::new();
        decode_mmap_markers(&rec, &mut m2).unwrap();
        prop_assert_eq!(m2, markers);
        rec.clear();
        encode_metadata(&meta, &mut rec);
        let mut md2 = Vec::new();
        decode_metadata(&rec, &mut md2).unwrap();
        prop_assert_eq!(md2, meta);
    }

    #[test]
    fn no_decoder_panics_on_arbitrary_bytes(t in 0u8..16, body in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut rec = vec![t];
        rec.extend(body);
        let _ = decode_series(&rec, &mut Vec::new());
        let _ = decode_samples(&rec, &mut Vec::new());
        let _ = decode_tombstones(&rec, &mut Vec::new());
        let _ = decode_exemplars(&rec, &mut Vec::new());
        let _ = decode_mmap_markers(&rec, &mut Vec::new());
        let _ = decode_metadata(&rec, &mut Vec::new());
        let _ = decode_histogram_samples(&rec, &mut Vec::new());
        let _ = decode_float_histogram_samples(&rec, &mut Vec::new());
    }
}

#[test]
fn integer_histogram_layout_matches_the_drawing() {
    let h = RefHistogramSample {
        series_ref: 2,
        st: 0,
        t: 1000,
        h: Histogram {
            counter_reset_hint: CounterResetHint::Gauge,
            schema: -1,
            zero_threshold: 0.5,
            zero_count: 3,
            count: 9,
            sum: 2.0,
            positive_spans: vec![Span {
                offset: -2,
                length: 2,
            }],
            negative_spans: vec![],
            positive_buckets: vec![1, -1],
            negative_buckets: vec![],
            custom_values: vec![],
        },
    };
    let mut rec = Vec::new();
    encode_histogram_samples(std::slice::from_ref(&h), &mut rec);
    let mut want = vec![7];
    want.extend_from_slice(&2u64.to_be_bytes());
    want.extend_from_slice(&1000u64.to_be_bytes());
    want.extend_from_slice(&[0, 0, 3, 1]);
    want.extend_from_slice(&0.5f64.to_bits().to_be_bytes());
    want.extend_from_slice(&[3, 9]);
    want.extend_from_slice(&2.0f64.to_bits().to_be_bytes());
    want.extend_from_slice(&[1, 3, 2, 0, 2, 2, 1, 0]);
    assert_eq!(rec, want);
}

#[test]
fn custom_bounds_follow_the_schema_in_any_v1_type() {
    // A type-7 record with schema −53 carries bounds, as current Prometheus reads it.
    let h = RefFloatHistogramSample {
        series_ref: 1,
        st: 0,
        t: 5,
        fh: FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![4.0],
            custom_values: vec![0.25, 1.0],
            ..FloatHistogram::default()
        },
    };
    let mut rec = Vec::new();
    encode_float_histogram_samples(std::slice::from_ref(&h), &mut rec);
    assert_eq!(record_type(&rec), Some(RecordType::FloatHistogramSamples));
    assert_eq!(&rec[rec.len() - 17..rec.len() - 16], &[2]);
    let mut got = Vec::new();
    decode_float_histogram_samples(&rec, &mut got).unwrap();
    assert_eq!(got, vec![h]);
}

#[test]
fn histogram_decoding_reuses_the_callers_buffers() {
    let h = RefHistogramSample {
        series_ref: 1,
        st: 0,
        t: 5,
        h: Histogram {
            positive_spans: vec![Span {
                offset: 0,
                length: 4,
            }],
            positive_buckets: vec![1, 2, 3, 4],
            ..Histogram::default()
        },
    };
    let mut rec = Vec::new();
    encode_histogram_samples(&[h.clone(), h.clone()], &mut rec);
    let mut out = Vec::new();
    decode_histogram_samples(&rec, &mut out).unwrap();
    let ptrs: Vec<*const i64> = out.iter().map(|s| s.h.positive_buckets.as_ptr()).collect();
    decode_histogram_samples(&rec, &mut out).unwrap();
    assert_eq!(out, vec![h.clone(), h]);
    let again: Vec<*const i64> = out.iter().map(|s| s.h.positive_buckets.as_ptr()).collect();
    assert_eq!(ptrs, again);
}

#[test]
fn v2_histogram_record_needs_a_histogram_after_its_first_header() {
    let err = decode_histogram_samples(&[12, 2, 2, 0], &mut Vec::new()).unwrap_err();
    assert!(err.detail.contains("no histogram"), "{err}");
}

#[test]
fn unknown_record_types_are_reported_as_none() {
    assert_eq!(record_type(&[]), None);
    assert_eq!(record_type(&[0]), None);
    assert_eq!(record_type(&[14, 1, 2]), None);
    assert_eq!(record_type(&[255]), None);
    for t in 1..=13u8 {
        assert_eq!(record_type(&[t]).map(|r| r as u8), Some(t));
    }
}

#[test]
fn unknown_counter_reset_hint_is_an_error() {
    let mut rec = vec![7];
    rec.extend_from_slice(&[0; 16]);
    rec.extend_from_slice(&[0, 0, 9]);
    let err = decode_histogram_samples(&rec, &mut Vec::new()).unwrap_err();
    assert!(err.detail.contains("hint 9"), "{err}");
}
