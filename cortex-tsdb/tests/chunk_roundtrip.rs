//! Property tests for the histogram codecs: what the appenders write, the iterators read
//! back exactly; and a stream of histograms whose buckets come and go, appended the way a
//! head appends (cutting and recoding chunks), reads back with the same counts per bucket.

mod chunk_common;

use std::collections::BTreeMap;

use chunk_common::{Sample, buckets_by_index, decode};
use cortex_tsdb::chunkenc::{
    AppendOutcome, ChunkIter, CounterResetHeader, Encoding, FloatHistogramChunk, HistogramChunk,
    ValueType,
};
use cortex_tsdb::histogram::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Histogram, Span,
};
use cortex_tsdb::value::{STALE_NAN, is_stale_nan};
use proptest::prelude::*;

fn spans_strategy() -> impl Strategy<Value = Vec<Span>> {
    proptest::collection::vec((-20i32..20, 0u32..5), 0..4).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (offset, length))| Span {
                offset: if i == 0 { offset } else { offset.abs() },
                length,
            })
            .collect()
    })
}

fn bucket_count(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

/// A layout and per-sample values for a chunk of integer histograms.
fn int_chunk_strategy() -> impl Strategy<Value = (Histogram, Vec<(i64, Histogram)>)> {
    (
        prop_oneof![Just(CUSTOM_BUCKETS_SCHEMA), -4i32..=8],
        prop_oneof![Just(0.0), Just(2f64.powi(-128)), 0.0f64..1.0],
        spans_strategy(),
        spans_strategy(),
        proptest::collection::vec(0.0f64..1000.0, 0..6),
        1usize..40,
    )
        .prop_flat_map(|(schema, zt, pos, neg, custom, n)| {
            let custom = if schema == CUSTOM_BUCKETS_SCHEMA {
                let mut c = custom;
                c.sort_by(f64::total_cmp);
                c
            } else {
                Vec::new()
            };
            let layout = Histogram {
                schema,
                zero_threshold: zt,
                positive_spans: pos.clone(),
                negative_spans: neg.clone(),
                custom_values: custom,
                ..Histogram::default()
            };
            let (np, nn) = (bucket_count(&pos), bucket_count(&neg));
            let sample = (
                any::<i64>(),
                any::<u64>(),
                0u64..1000,
                any::<u64>(),
                proptest::collection::vec(prop_oneof![-50i64..50, any::<i64>()], np),
                proptest::collection::vec(-50i64..50, nn),
            );
            (Just(layout), proptest::collection::vec(sample, n))
        })
        .prop_map(|(layout, samples)| {
            let hs = samples
                .into_iter()
                .map(|(t, count, zero_count, sum, pb, nb)| {
                    (
                        t,
                        Histogram {
                            count,
                            zero_count,
                            sum: f64::from_bits(sum),
                            positive_buckets: pb,
                            negative_buckets: nb,
                            ..layout.clone()
                        },
                    )
                })
                .collect();
            (layout, hs)
        })
}

/// Compares a decoded histogram with the appended one (the decoder sets the hint).
fn same_int(a: &Histogram, b: &Histogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.count == b.count
        && a.zero_count == b.zero_count
        && a.sum.to_bits() == b.sum.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.positive_buckets == b.positive_buckets
        && a.negative_buckets == b.negative_buckets
        && a.custom_values == b.custom_values
}

fn same_float(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.count.to_bits() == b.count.to_bits()
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && bits(&a.positive_buckets) == bits(&b.positive_buckets)
        && bits(&a.negative_buckets) == bits(&b.negative_buckets)
        && a.custom_values == b.custom_values
}

proptest! {
    // A fixed seed keeps the run deterministic.
    #![proptest_config(ProptestConfig {
        cases: 200,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C0_FFEE),
        ..ProptestConfig::default()
    })]

    #[test]
    fn integer_histogram_chunks_round_trip((_layout, samples) in int_chunk_strategy(), stale_tail in 0usize..3) {
        let mut chunk = HistogramChunk::new();
        let mut app = chunk.appender().unwrap();
        for (t, h) in &samples {
            app.append(*t, h).unwrap();
        }
        for i in 0..stale_tail {
            let stale = Histogram { sum: STALE_NAN, ..Histogram::default() };
            app.append(i as i64, &stale).unwrap();
        }
        app.set_counter_reset_header(CounterResetHeader::CounterReset);
        let got = decode(Encoding::Histogram, chunk.bytes()).unwrap();
        prop_assert_eq!(got.len(), samples.len() + stale_tail);
        for (i, (g, (t, h))) in got.iter().zip(&samples).enumerate() {
            let Sample::Histogram(gt, gh) = g else { panic!() };
            prop_assert_eq!(*gt, *t);
            prop_assert!(same_int(gh, h), "sample {}: {:?} vs {:?}", i, gh, h);
            let hint = if i == 0 { CounterResetHint::Unknown } else { CounterResetHint::NotCounterReset };
            prop_assert_eq!(gh.counter_reset_hint, hint);
        }
        for g in &got[samples.len()..] {
            let Sample::Histogram(_, gh) = g else { panic!() };
            prop_assert!(is_stale_nan(gh.sum));
            prop_assert!(gh.positive_buckets.is_empty());
        }
        // The float view of an integer chunk is the model's conversion.
        let mut it = ChunkIter::new(Encoding::Histogram, chunk.bytes()).unwrap();
        while it.next().unwrap() == Some(ValueType::Histogram) {
            let (_, h) = it.at_histogram();
            let want = h.to_float();
            let (_, fh) = it.at_float_histogram();
            prop_assert!(same_float(fh, &want));
        }
    }

    #[test]
    fn float_histogram_chunks_round_trip((_layout, samples) in int_chunk_strategy(), seed in any::<u64>()) {
        // The same layouts with float counts, some of them arbitrary bit patterns.
        let mut x = seed | 1;
        let mut rnd = move || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
        let floats: Vec<(i64, FloatHistogram)> = samples.iter().map(|(t, h)| {
            let mut fh = h.to_float();
            for b in fh.positive_buckets.iter_mut().chain(fh.negative_buckets.iter_mut()) {
                if rnd() % 4 == 0 { *b = f64::from_bits(rnd()); }
            }
            fh.count = f64::from_bits(rnd());
            (*t, fh)
        }).collect();
        let mut chunk = FloatHistogramChunk::new();
        let mut app = chunk.appender().unwrap();
        for (t, h) in &floats {
            app.append(*t, h).unwrap();
        }
        let got = decode(Encoding::FloatHistogram, chunk.bytes()).unwrap();
        prop_assert_eq!(got.len(), floats.len());
        for (g, (t, h)) in got.iter().zip(&floats) {
            let Sample::FloatHistogram(gt, gh) = g else { panic!() };
            prop_assert_eq!(*gt, *t);
            prop_assert!(same_float(gh, h), "{:?} vs {:?}", gh, h);
        }
    }

    #[test]
    fn evolving_integer_histograms_survive_cutting_and_recoding(
        steps in proptest::collection::vec(
            (proptest::collection::btree_map(-6i64..6, 0u64..30, 0..6),
             proptest::collection::btree_map(-3i64..3, 0u64..30, 0..3),
             0u8..20),
            1..80),
        gauge in any::<bool>(),
    ) {
        let hint = if gauge { CounterResetHint::Gauge } else { CounterResetHint::Unknown };
        let mut chunks: Vec<HistogramChunk> = Vec::new();
        let mut cur = HistogramChunk::new();
        let mut want = Vec::new();
        let mut t = 0;
        for (pos, neg, r) in &steps {
            t += 15_000;
            // Counters mostly grow: add a running offset unless this step resets.
            let h = if *r == 0 && !gauge {
                Histogram { sum: STALE_NAN, counter_reset_hint: hint, ..Histogram::default() }
            } else {
                histogram_from(pos, neg, hint)
            };
            let out = cur.appender().unwrap().append_histogram(None, t, &h, false).unwrap();
            match out {
                AppendOutcome::Appended => {}
                AppendOutcome::Recoded(c) => cur = c,
                AppendOutcome::NewChunk(c) => chunks.push(std::mem::replace(&mut cur, c)),
            }
            want.push((t, h));
        }
        chunks.push(cur);
        let mut got = Vec::new();
        for c in &chunks {
            if gauge {
                prop_assert_eq!(c.counter_reset_header(), CounterResetHeader::Gauge);
            }
            for s in decode(Encoding::Histogram, c.bytes()).unwrap() {
                let Sample::Histogram(t, h) = s else { panic!() };
                got.push((t, h));
            }
        }
        prop_assert_eq!(got.len(), want.len());
        for ((gt, gh), (wt, wh)) in got.iter().zip(&want) {
            prop_assert_eq!(gt, wt);
            if is_stale_nan(wh.sum) {
                prop_assert!(is_stale_nan(gh.sum));
                continue;
            }
            prop_assert_eq!((gh.count, gh.zero_count), (wh.count, wh.zero_count));
            prop_assert_eq!(buckets_by_index(&gh.to_float()), buckets_by_index(&wh.to_float()));
        }
    }

    #[test]
    fn evolving_float_histograms_survive_cutting_and_recoding(
        steps in proptest::collection::vec(
            (proptest::collection::btree_map(-6i64..6, 0u64..30, 0..6),
             proptest::collection::btree_map(-3i64..3, 0u64..30, 0..3),
             0u8..20),
            1..80),
        gauge in any::<bool>(),
    ) {
        let hint = if gauge { CounterResetHint::Gauge } else { CounterResetHint::Unknown };
        let mut chunks: Vec<FloatHistogramChunk> = Vec::new();
        let mut cur = FloatHistogramChunk::new();
        let mut want = Vec::new();
        let mut t = 0;
        for (pos, neg, r) in &steps {
            t += 15_000;
            let mut h = histogram_from(pos, neg, hint).to_float();
            h.sum = if *r == 0 && !gauge { STALE_NAN } else { f64::from(*r) / 3.0 };
            let out = cur.appender().unwrap().append_histogram(None, t, &h, false).unwrap();
            match out {
                AppendOutcome::Appended => {}
                AppendOutcome::Recoded(c) => cur = c,
                AppendOutcome::NewChunk(c) => chunks.push(std::mem::replace(&mut cur, c)),
            }
            want.push((t, h));
        }
        chunks.push(cur);
        let mut got = Vec::new();
        for c in &chunks {
            for s in decode(Encoding::FloatHistogram, c.bytes()).unwrap() {
                let Sample::FloatHistogram(t, h) = s else { panic!() };
                got.push((t, h));
            }
        }
        prop_assert_eq!(got.len(), want.len());
        for ((gt, gh), (wt, wh)) in got.iter().zip(&want) {
            prop_assert_eq!(gt, wt);
            if is_stale_nan(wh.sum) {
                prop_assert!(is_stale_nan(gh.sum));
                continue;
            }
            prop_assert_eq!(gh.sum.to_bits(), wh.sum.to_bits());
            prop_assert_eq!((gh.count, gh.zero_count), (wh.count, wh.zero_count));
            prop_assert_eq!(buckets_by_index(gh), buckets_by_index(wh));
        }
    }
}

/// An integer histogram with the given absolute counts by bucket index.
fn histogram_from(
    pos: &BTreeMap<i64, u64>,
    neg: &BTreeMap<i64, u64>,
    hint: CounterResetHint,
) -> Histogram {
    fn side(m: &BTreeMap<i64, u64>) -> (Vec<Span>, Vec<i64>) {
        let mut spans: Vec<Span> = Vec::new();
        let mut deltas = Vec::new();
        let mut next = 0i64; // index after the last span
        let mut prev = 0i64;
        for (&idx, &c) in m {
            match spans.last_mut() {
                Some(s) if idx == next => s.length += 1,
                _ => spans.push(Span {
                    offset: (idx - next) as i32,
                    length: 1,
                }),
            }
            next = idx + 1;
            deltas.push(c as i64 - prev);
            prev = c as i64;
        }
        (spans, deltas)
    }
    let (positive_spans, positive_buckets) = side(pos);
    let (negative_spans, negative_buckets) = side(neg);
    let zero_count = 3;
    Histogram {
        counter_reset_hint: hint,
        schema: 1,
        zero_threshold: 0.001,
        zero_count,
        count: zero_count + pos.values().sum::<u64>() + neg.values().sum::<u64>(),
        sum: 1.5,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values: Vec::new(),
    }
}
