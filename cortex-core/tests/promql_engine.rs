//! Behaviour of the PromQL engine through its public API: result shapes of instant
//! and range queries, lookback and staleness, errors (parse, sample limit, timeout,
//! cancellation, invalid range types), annotations, native histograms, and the
//! in-memory querier.

use std::time::Duration;

use cortex_core::promql::{CancelToken, Engine, EngineOpts, QueryError, QueryRange, Value};
use cortex_core::querier::memory::MemoryQuerier;
use cortex_core::querier::{Querier, SelectHints};
use cortex_tsdb::histogram::{FloatHistogram, Span};
use cortex_tsdb::labels::{Labels, MatchType, Matcher};
use cortex_tsdb::value::STALE_NAN;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("valid labels")
}

/// `http_requests_total` for two jobs, a sample every 15s from 0 to 10m, growing
/// by 1 (job a) and 2 (job b) per sample; `gauge` with a staleness marker at 60s.
fn store() -> MemoryQuerier {
    let mut q = MemoryQuerier::new();
    for (job, inc) in [("a", 1.0), ("b", 2.0)] {
        let l = labels(&[("__name__", "http_requests_total"), ("job", job)]);
        for i in 0..=40 {
            q.add_float(&l, i * 15_000, i as f64 * inc);
        }
    }
    let g = labels(&[("__name__", "gauge")]);
    q.add_float(&g, 0, 5.0);
    q.add_float(&g, 30_000, 7.0);
    q.add_float(&g, 60_000, STALE_NAN);
    q
}

fn vector(v: &Value) -> Vec<(String, f64)> {
    let Value::Vector(v) = v else {
        panic!("expected a vector, got {v:?}")
    };
    let mut out: Vec<(String, f64)> = v
        .iter()
        .map(|s| (s.metric.get("job").unwrap_or("").to_string(), s.f))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn instant_vector_query_returns_latest_samples() {
    let q = store();
    let r = Engine::default()
        .instant_query(&q, "http_requests_total", 100_000)
        .expect("query runs");
    // Latest samples at or before 100s are at 90s: index 6.
    assert_eq!(
        vector(&r.value),
        vec![("a".into(), 6.0), ("b".into(), 12.0)]
    );
    let Value::Vector(v) = &r.value else {
        unreachable!()
    };
    assert!(v.iter().all(|s| s.t == 100_000));
    assert!(
        v.iter()
            .all(|s| s.metric.get("__name__") == Some("http_requests_total"))
    );
}

#[test]
fn functions_drop_the_metric_name() {
    let q = store();
    let r = Engine::default()
        .instant_query(&q, "rate(http_requests_total[1m])", 300_000)
        .expect("query runs");
    let Value::Vector(v) = &r.value else {
        panic!("expected a vector")
    };
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|s| s.metric.get("__name__").is_none()));
    // 1 per 15s and 2 per 15s.
    let got = vector(&r.value);
    assert!((got[0].1 - 1.0 / 15.0).abs() < 1e-12, "{got:?}");
    assert!((got[1].1 - 2.0 / 15.0).abs() < 1e-12, "{got:?}");
}

#[test]
fn range_query_returns_a_sorted_matrix_with_one_point_per_step() {
    let q = store();
    let r = Engine::default()
        .range_query(&q, "sum by (job) (http_requests_total)", 0, 60_000, 30_000)
        .expect("query runs");
    let Value::Matrix(m) = &r.value else {
        panic!("expected a matrix")
    };
    let jobs: Vec<&str> = m
        .iter()
        .map(|s| s.metric.get("job").unwrap_or(""))
        .collect();
    assert_eq!(jobs, ["a", "b"]);
    let b: Vec<(i64, f64)> = m[1].floats.iter().map(|p| (p.t, p.f)).collect();
    assert_eq!(b, [(0, 0.0), (30_000, 4.0), (60_000, 8.0)]);
}

#[test]
fn scalar_and_string_results() {
    let q = MemoryQuerier::new();
    let e = Engine::default();
    let r = e.instant_query(&q, "1 + 2 * 3", 5_000).expect("query runs");
    assert_eq!(r.value, Value::Scalar { t: 5_000, v: 7.0 });
    let r = e.instant_query(&q, "\"hello\"", 5_000).expect("query runs");
    assert_eq!(
        r.value,
        Value::String {
            t: 5_000,
            v: "hello".into()
        }
    );
    // A scalar range query is a matrix with one label-less series.
    let r = e
        .range_query(&q, "time()", 0, 20_000, 10_000)
        .expect("runs");
    let Value::Matrix(m) = &r.value else {
        panic!("expected a matrix")
    };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].metric.len(), 0);
    let v: Vec<f64> = m[0].floats.iter().map(|p| p.f).collect();
    assert_eq!(v, [0.0, 10.0, 20.0]);
}

#[test]
fn lookback_window_is_left_open_and_staleness_ends_a_series() {
    let mut q = MemoryQuerier::new();
    let l = labels(&[("__name__", "x")]);
    q.add_float(&l, 0, 1.0);
    let e = Engine::default();
    let at = |t| vector(&e.instant_query(&q, "x", t).expect("runs").value);
    assert_eq!(at(299_999).len(), 1);
    // Exactly 5m later the sample is outside the left-open lookback window.
    assert!(at(300_000).is_empty());

    let q = store();
    let at = |t| vector(&e.instant_query(&q, "gauge", t).expect("runs").value);
    assert_eq!(at(59_999), vec![(String::new(), 7.0)]);
    assert!(at(60_000).is_empty(), "a staleness marker hides the series");
    assert!(at(120_000).is_empty());
}

#[test]
fn offset_and_at_modifiers_shift_evaluation_time() {
    let q = store();
    let e = Engine::default();
    let v = |query: &str| vector(&e.instant_query(&q, query, 300_000).expect("runs").value);
    assert_eq!(v("http_requests_total{job=\"a\"} offset 1m")[0].1, 16.0);
    assert_eq!(v("http_requests_total{job=\"a\"} @ 30")[0].1, 2.0);
    // `@ end()` of a range query pins every step to the last one.
    let r = e
        .range_query(
            &q,
            "http_requests_total{job=\"a\"} @ end()",
            0,
            60_000,
            30_000,
        )
        .expect("runs");
    let Value::Matrix(m) = &r.value else {
        panic!("expected a matrix")
    };
    assert!(m[0].floats.iter().all(|p| p.f == 4.0), "{:?}", m[0].floats);
}

#[test]
fn vector_matching_and_duplicate_series_errors() {
    let q = store();
    let e = Engine::default();
    let r = e
        .instant_query(
            &q,
            "http_requests_total / on (job) group_left http_requests_total",
            300_000,
        )
        .expect("runs");
    assert_eq!(vector(&r.value), vec![("a".into(), 1.0), ("b".into(), 1.0)]);
    // Both sides lose their job label: many-to-many matching fails.
    let err = e
        .instant_query(
            &q,
            "sum without (job) (http_requests_total) + ignoring (job) http_requests_total",
            300_000,
        )
        .expect_err("many-to-many");
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed"),
        "{err}"
    );
    let err = e
        .instant_query(
            &q,
            "label_replace(http_requests_total, \"job\", \"x\", \"job\", \".*\")",
            300_000,
        )
        .expect_err("duplicate label sets");
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn parse_errors_carry_positions() {
    let q = MemoryQuerier::new();
    let err = Engine::default()
        .instant_query(&q, "sum(rate(x[5m])", 0)
        .expect_err("unbalanced");
    assert!(matches!(err, QueryError::Parse(_)));
    assert_eq!(
        err.to_string(),
        "1:16: parse error: unclosed left parenthesis"
    );
}

#[test]
fn range_queries_need_vectors_or_scalars_and_a_positive_step() {
    let q = store();
    let e = Engine::default();
    let err = e
        .range_query(&q, "http_requests_total[5m]", 0, 60_000, 15_000)
        .expect_err("range vector");
    assert_eq!(
        err.to_string(),
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
    let err = e
        .range_query(&q, "\"s\"", 0, 60_000, 15_000)
        .expect_err("string");
    assert!(err.to_string().contains("\"string\""), "{err}");
    let err = e.range_query(&q, "1", 0, 60_000, 0).expect_err("zero step");
    assert!(err.to_string().contains("zero or negative"), "{err}");
}

#[test]
fn sample_limit_is_enforced() {
    let q = store();
    let small = Engine::new(EngineOpts {
        max_samples: 10,
        ..Default::default()
    });
    // 2 series x 21 samples in the window exceeds 10.
    let err = small
        .instant_query(&q, "rate(http_requests_total[5m])", 300_000)
        .expect_err("too many samples");
    assert_eq!(err, QueryError::TooManySamples);
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    // An instant selector loads one sample per series.
    assert!(
        small
            .instant_query(&q, "http_requests_total", 300_000)
            .is_ok()
    );
    // A range query holds one point per series and step.
    let err = small
        .range_query(&q, "http_requests_total", 0, 300_000, 15_000)
        .expect_err("21 steps x 2 series");
    assert_eq!(err, QueryError::TooManySamples);
}

#[test]
fn timeout_and_cancellation_stop_a_query() {
    let q = store();
    let expired = Engine::new(EngineOpts {
        timeout: Duration::ZERO,
        ..Default::default()
    });
    let err = expired
        .instant_query(&q, "sum(http_requests_total)", 300_000)
        .expect_err("timed out");
    assert_eq!(err, QueryError::Timeout);
    assert_eq!(err.to_string(), "query timed out in expression evaluation");

    let e = Engine::default();
    let expr = cortex_core::promql::parser::parse_expr("sum(http_requests_total)").expect("parses");
    let range = QueryRange {
        start: 0,
        end: 300_000,
        step: 15_000,
    };
    let token = CancelToken::new();
    assert!(
        e.exec(&q, &expr, "sum(http_requests_total)", range, Some(&token))
            .is_ok()
    );
    token.cancel();
    let err = e
        .exec(&q, &expr, "sum(http_requests_total)", range, Some(&token))
        .expect_err("canceled");
    assert_eq!(err, QueryError::Canceled);
}

#[test]
fn annotations_are_rendered_with_positions() {
    let mut q = store();
    let l = labels(&[("__name__", "temperature")]);
    for i in 0..10 {
        q.add_float(&l, i * 15_000, 20.0 + i as f64);
    }
    let e = Engine::default();
    let r = e
        .instant_query(&q, "rate(temperature[5m])", 150_000)
        .expect("runs");
    assert!(r.warnings().is_empty());
    assert_eq!(
        r.infos(),
        vec![
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\" (1:6)"
                .to_string()
        ]
    );
    let r = e
        .instant_query(&q, "quantile(2, http_requests_total)", 150_000)
        .expect("runs");
    assert_eq!(
        r.warnings(),
        vec!["PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)".to_string()]
    );
    assert!(r.infos().is_empty());
}

fn histogram(count: f64, sum: f64, buckets: [f64; 2]) -> FloatHistogram {
    FloatHistogram {
        schema: 0,
        count,
        sum,
        positive_spans: vec![Span {
            offset: 0,
            length: 2,
        }],
        positive_buckets: buckets.to_vec(),
        ..Default::default()
    }
}

#[test]
fn native_histograms_rate_and_quantile() {
    let mut q = MemoryQuerier::new();
    let l = labels(&[("__name__", "latency_seconds")]);
    // Observations in (0.5, 1] and (1, 2], growing by 1 and 3 per minute.
    for i in 0..=10 {
        let n = i as f64;
        q.add_histogram(&l, i * 60_000, histogram(4.0 * n, 6.0 * n, [n, 3.0 * n]));
    }
    let e = Engine::default();
    let r = e
        .instant_query(&q, "histogram_count(rate(latency_seconds[5m]))", 600_000)
        .expect("runs");
    let Value::Vector(v) = &r.value else {
        panic!("expected a vector")
    };
    assert_eq!(v.len(), 1);
    assert!((v[0].f - 4.0 / 60.0).abs() < 1e-12, "{}", v[0].f);
    let r = e
        .instant_query(&q, "histogram_quantile(0.5, latency_seconds)", 600_000)
        .expect("runs");
    let Value::Vector(v) = &r.value else {
        panic!("expected a vector")
    };
    // The median is the 20th of 40 observations: in the (1, 2] bucket, a third of
    // the way through it, interpolated exponentially.
    assert!((v[0].f - 2f64.powf(1.0 / 3.0)).abs() < 1e-12, "{}", v[0].f);
    let r = e
        .instant_query(&q, "latency_seconds", 600_000)
        .expect("runs");
    let Value::Vector(v) = &r.value else {
        panic!("expected a vector")
    };
    let h = v[0].h.as_ref().expect("a histogram sample");
    assert_eq!((h.count, h.sum), (40.0, 60.0));
}

#[test]
fn memory_querier_selects_and_lists_labels() {
    let q = store();
    let m = Matcher::new(MatchType::Regexp, "job", "a|c").expect("valid regex");
    let series = q.select(&SelectHints::default(), &[m]).expect("selects");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels().get("job"), Some("a"));
    let mut it = series[0].samples();
    assert_eq!(it.seek(20_000).expect("seeks").map(|s| s.t), Some(30_000));
    let names = q.label_names(0, 600_000, &[]).expect("lists names");
    assert_eq!(names, ["__name__", "job"]);
    let values = q
        .label_values("job", 0, 600_000, &[])
        .expect("lists values");
    assert_eq!(values, ["a", "b"]);
}

#[test]
fn long_range_aggregations_agree_with_instant_queries() {
    // Enough steps that aggregation works through several blocks of steps.
    let mut q = MemoryQuerier::new();
    for job in ["a", "b"] {
        for inst in 0..3 {
            let l = labels(&[
                ("__name__", "x"),
                ("job", job),
                ("instance", &inst.to_string()),
            ]);
            for i in 0..700 {
                // Gaps make some groups disappear at some steps.
                if (i + inst) % 7 != 0 {
                    let v = ((i * 31 + inst * 17) % 101) as f64 / 3.0;
                    q.add_float(&l, i * 10_000, v);
                }
            }
        }
    }
    let p = labels(&[("__name__", "p")]);
    for i in 0..700 {
        q.add_float(&p, i * 10_000, (i % 11) as f64 / 10.0);
    }
    let e = Engine::new(EngineOpts {
        lookback_delta: Duration::from_secs(5),
        ..Default::default()
    });
    for query in [
        "sum by (job) (x)",
        "avg(x)",
        "stddev without (instance) (x)",
        "quantile by (job) (scalar(p), x)",
        "count(x) - max(x) + min(x)",
        // Inputs that are not streamed: folded in blocks of steps.
        "sum by (job) (x * 1)",
        "quantile by (job) (scalar(p), -x)",
    ] {
        let r = e
            .range_query(&q, query, 0, 6_990_000, 10_000)
            .expect("range query runs");
        let Value::Matrix(m) = &r.value else {
            panic!("expected a matrix")
        };
        for step in [0, 1, 255, 256, 257, 300, 511, 512, 698, 699] {
            let t = step * 10_000;
            let inst = e.instant_query(&q, query, t).expect("instant query runs");
            let Value::Vector(v) = &inst.value else {
                panic!("expected a vector")
            };
            for s in v {
                let series = m
                    .iter()
                    .find(|x| x.metric == s.metric)
                    .unwrap_or_else(|| panic!("{query}: {:?} missing", s.metric));
                let point = series.floats.iter().find(|p| p.t == t);
                assert_eq!(
                    point.map(|p| p.f.to_bits()),
                    Some(s.f.to_bits()),
                    "{query} at step {step}"
                );
            }
            let points = m
                .iter()
                .filter(|x| x.floats.iter().any(|p| p.t == t))
                .count();
            assert_eq!(points, v.len(), "{query} at step {step}");
        }
    }
}

#[test]
fn streamed_and_materialised_aggregations_agree() {
    let mut q = MemoryQuerier::new();
    for i in 0..50 {
        let l = labels(&[
            ("__name__", "requests_total"),
            ("job", if i % 3 == 0 { "a" } else { "b" }),
            ("instance", &i.to_string()),
        ]);
        let mut v = 0.0;
        for t in 0..400 {
            // A counter with resets, so rate's corrections matter.
            v = if (t + i) % 97 == 0 {
                0.0
            } else {
                v + ((t * i) % 13) as f64
            };
            q.add_float(&l, t * 15_000, v);
        }
    }
    let e = Engine::default();
    let run = |query: &str| {
        let r = e
            .range_query(&q, query, 300_000, 5_985_000, 15_000)
            .expect("range query runs");
        let Value::Matrix(m) = r.value else {
            panic!("expected a matrix")
        };
        m.iter()
            .map(|s| {
                let bits: Vec<(i64, u64)> = s.floats.iter().map(|p| (p.t, p.f.to_bits())).collect();
                (s.metric.get("job").unwrap_or("").to_string(), bits)
            })
            .collect::<Vec<_>>()
    };
    // `rate(...)` streams into the aggregation; `rate(...) * 1` is materialised.
    for agg in [
        "sum by (job)",
        "avg by (job)",
        "stddev by (job)",
        "max by (job)",
    ] {
        let streamed = run(&format!("{agg} (rate(requests_total[5m]))"));
        let materialised = run(&format!("{agg} (rate(requests_total[5m]) * 1)"));
        assert_eq!(streamed.len(), 2, "{agg}");
        assert_eq!(streamed, materialised, "{agg}");
    }
}
