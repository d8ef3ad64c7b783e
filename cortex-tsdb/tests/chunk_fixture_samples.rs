//! The samples our iterators decode from the chunks Prometheus 2.42 wrote, checked against
//! independent evidence: the samples as pushed (`pushed.json`), Prometheus' own API answers
//! (`expected.json`) and promtool's dump of the openmetrics blocks.

mod chunk_common;

use std::collections::BTreeMap;

use chunk_common::{
    Sample, api_buckets, api_ms, block_chunks, blocks, buckets_by_index, close, decode, fixtures,
    num, pushed,
};
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::value::is_stale_nan;

/// The head of the native-histogram fixture starts here; earlier samples are in blocks.
const HEAD_START_MS: i64 = 1795341600000;

/// Decoded samples of every series of a fixture set, blocks in time order, by series
/// labels, plus the metric name of each series.
fn decoded_series(set: &str) -> BTreeMap<String, (String, Vec<Sample>)> {
    let mut out: BTreeMap<String, (String, Vec<Sample>)> = BTreeMap::new();
    for block in blocks(set) {
        for fc in block_chunks(&block) {
            let samples = decode(fc.encoding, &fc.data).unwrap();
            assert_eq!(samples.first().map(Sample::t), Some(fc.min_time));
            assert_eq!(samples.last().map(Sample::t), Some(fc.max_time));
            let entry = out
                .entry(fc.series)
                .or_insert_with(|| (fc.name, Vec::new()));
            entry.1.extend(samples);
        }
    }
    out
}

/// A histogram sample as float counts (integer histograms converted).
fn as_float(s: &Sample) -> (i64, FloatHistogram) {
    match s {
        Sample::Histogram(t, h) => (*t, h.to_float()),
        Sample::FloatHistogram(t, h) => (*t, h.clone()),
        Sample::Float(..) => panic!("float sample where a histogram was expected"),
    }
}

#[test]
fn native_histogram_blocks_hold_exactly_the_pushed_samples() {
    let pushed = pushed();
    let decoded = decoded_series("native-histograms");
    assert_eq!(decoded.len(), 8);
    let mut compared = 0;
    for (series, (name, got)) in &decoded {
        let want: Vec<&Sample> = pushed[name]
            .iter()
            .filter(|s| s.t() < HEAD_START_MS)
            .collect();
        assert_eq!(got.len(), want.len(), "{series}: sample count");
        let gauge = name.contains("gauge_");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.t(), w.t(), "{series} sample {i}: timestamp");
            match (g, w) {
                (Sample::Float(_, a), Sample::Float(_, b)) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{series} sample {i}: value");
                }
                (Sample::Float(..), _) | (_, Sample::Float(..)) => {
                    panic!("{series} sample {i}: kind differs")
                }
                _ => {
                    let (_, a) = as_float(g);
                    let (_, b) = as_float(w);
                    assert_eq!(
                        matches!(g, Sample::Histogram(..)),
                        matches!(w, Sample::Histogram(..)),
                        "{series}: integer vs float"
                    );
                    if is_stale_nan(b.sum) {
                        assert!(
                            is_stale_nan(a.sum),
                            "{series} sample {i}: stale marker lost"
                        );
                        continue;
                    }
                    if gauge {
                        assert_eq!(
                            a.counter_reset_hint,
                            CounterResetHint::Gauge,
                            "{series} {i}"
                        );
                    }
                    assert_eq!(a.schema, b.schema, "{series} sample {i}: schema");
                    assert_eq!(a.zero_threshold, b.zero_threshold, "{series} sample {i}");
                    assert_eq!(a.count.to_bits(), b.count.to_bits(), "{series} {i}: count");
                    assert_eq!(
                        a.zero_count.to_bits(),
                        b.zero_count.to_bits(),
                        "{series} {i}"
                    );
                    assert_eq!(a.sum.to_bits(), b.sum.to_bits(), "{series} sample {i}: sum");
                    // Recoding may have added empty buckets: compare by bucket index.
                    assert_eq!(buckets_by_index(&a), buckets_by_index(&b), "{series} {i}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 4000, "only {compared} histograms compared");
}

#[test]
fn native_histogram_blocks_agree_with_prometheus_api_answers() {
    let decoded: BTreeMap<String, Vec<Sample>> =
        decoded_series("native-histograms").into_values().collect();
    let path = fixtures().join("native-histograms/expected.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut histograms = 0;
    let mut floats = 0;
    for q in v["queries"].as_array().unwrap() {
        let result = &q["response"]["data"]["result"][0];
        let name = result["metric"]["__name__"].as_str().unwrap();
        // The API leaves stale markers out.
        let ours: Vec<&Sample> = decoded[name]
            .iter()
            .filter(|s| match s {
                Sample::Float(_, v) => !is_stale_nan(*v),
                _ => !is_stale_nan(as_float(s).1.sum),
            })
            .collect();
        if let Some(values) = result["values"].as_array() {
            let values: Vec<_> = values
                .iter()
                .filter(|p| api_ms(&p[0]) < HEAD_START_MS)
                .collect();
            assert_eq!(values.len(), ours.len(), "{name}");
            for (p, s) in values.iter().zip(&ours) {
                let Sample::Float(t, v) = s else {
                    panic!("{name}: not a float")
                };
                assert_eq!(
                    (api_ms(&p[0]), num(&p[1]).to_bits()),
                    (*t, v.to_bits()),
                    "{name}"
                );
                floats += 1;
            }
            continue;
        }
        let api: Vec<_> = result["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| api_ms(&p[0]) < HEAD_START_MS)
            .collect();
        assert_eq!(api.len(), ours.len(), "{name}");
        for (p, s) in api.iter().zip(&ours) {
            let (t, h) = as_float(s);
            assert_eq!(api_ms(&p[0]), t, "{name}");
            assert_eq!(
                num(&p[1]["count"]).to_bits(),
                h.count.to_bits(),
                "{name} at {t}"
            );
            assert_eq!(
                num(&p[1]["sum"]).to_bits(),
                h.sum.to_bits(),
                "{name} at {t}"
            );
            let want: Vec<(u64, f64, f64, f64)> = p[1]["buckets"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .map(|b| (b[0].as_u64().unwrap(), num(&b[1]), num(&b[2]), num(&b[3])))
                        .collect()
                })
                .unwrap_or_default();
            let got = api_buckets(&h);
            assert_eq!(got.len(), want.len(), "{name} at {t}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    g.0 == w.0 && close(g.1, w.1) && close(g.2, w.2) && g.3 == w.3,
                    "{name} at {t}: bucket {g:?} vs API {w:?}"
                );
            }
            histograms += 1;
        }
    }
    assert!(
        histograms > 4000 && floats > 1500,
        "{histograms} histograms, {floats} floats"
    );
}

#[test]
fn openmetrics_blocks_match_promtool_dump() {
    let decoded = decoded_series("openmetrics-blocks");
    let text =
        std::fs::read_to_string(fixtures().join("openmetrics-blocks/promtool-dump.txt")).unwrap();
    let mut dumped: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.rsplitn(3, ' ');
        let t: i64 = parts.next().unwrap().parse().unwrap();
        let v: f64 = parts.next().unwrap().parse().unwrap();
        dumped
            .entry(parts.next().unwrap())
            .or_default()
            .push((t, v));
    }
    assert_eq!(decoded.len(), dumped.len());
    let mut n = 0;
    for (series, (_, samples)) in &decoded {
        let want = &dumped[series.as_str()];
        assert_eq!(samples.len(), want.len(), "{series}");
        for (s, &(t, v)) in samples.iter().zip(want) {
            let Sample::Float(st, sv) = s else {
                panic!("{series}: not a float")
            };
            assert_eq!(*st, t, "{series}");
            assert!(
                sv.to_bits() == v.to_bits() || (sv.is_nan() && v.is_nan()),
                "{series} {t}"
            );
            n += 1;
        }
    }
    assert_eq!(n, text.lines().count());
}
