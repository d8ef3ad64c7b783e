//! The range query frontend in the server: with queries split every ten minutes and
//! results cached, every dashboard-style query answers exactly what a server without
//! splitting or caching answers, a repeated query is answered from the cache,
//! `Cache-Control: no-store` bypasses it, and the metrics count all of it.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

const TENANT: &str = "frontend";
const SCRAPE: i64 = 15_000;
const SPAN: i64 = 50 * 60_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// 50 minutes of counters (with a reset), gauges and a classic histogram, scraped
/// every 15 s up to `end`.
fn dataset(end: i64) -> Vec<OwnedSeries> {
    let times: Vec<i64> = (0..=SPAN / SCRAPE)
        .map(|k| end - SPAN + k * SCRAPE)
        .collect();
    let mut out = Vec::new();
    for (j, job) in ["api", "web", "db"].iter().enumerate() {
        for inst in 0..2 {
            let instance = format!("10.0.0.{inst}:9090");
            let rate = (j * 2 + inst + 1) as f64;
            out.push(OwnedSeries {
                labels: labels(&[
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", &instance),
                ]),
                samples: times
                    .iter()
                    .enumerate()
                    // A counter reset two thirds of the way through for one series.
                    .map(|(k, &t)| {
                        let k = if j == 1 && inst == 0 && k > 130 {
                            k - 130
                        } else {
                            k
                        };
                        (t, k as f64 * rate)
                    })
                    .collect(),
            });
            out.push(OwnedSeries {
                labels: labels(&[
                    ("__name__", "temperature_celsius"),
                    ("job", job),
                    ("instance", &instance),
                ]),
                samples: times
                    .iter()
                    .enumerate()
                    .map(|(k, &t)| (t, 20.0 + ((k as f64) * 0.3 + rate).sin() * 5.0))
                    .collect(),
            });
            for (b, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
                out.push(OwnedSeries {
                    labels: labels(&[
                        ("__name__", "request_duration_seconds_bucket"),
                        ("job", job),
                        ("instance", &instance),
                        ("le", le),
                    ]),
                    samples: times
                        .iter()
                        .enumerate()
                        .map(|(k, &t)| (t, (k * (b + 1)) as f64 * rate))
                        .collect(),
                });
            }
        }
    }
    out
}

fn query_range(
    server: &ServerProcess,
    query: &str,
    start: i64,
    end: i64,
    step: &str,
    extra: &[(&str, &str)],
) -> Value {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .append_pair("start", &format!("{:.3}", start as f64 / 1000.0))
        .append_pair("end", &format!("{:.3}", end as f64 / 1000.0))
        .append_pair("step", step)
        .finish();
    let mut headers = vec![("X-Scope-OrgID", TENANT)];
    headers.extend_from_slice(extra);
    let r = http(
        server.addr,
        "GET",
        &format!("/prometheus/api/v1/query_range?{q}"),
        &headers,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

/// The value of an unlabelled counter in `/metrics`.
fn metric(server: &ServerProcess, name: &str) -> f64 {
    let r = http(server.addr, "GET", "/metrics", &[], b"").unwrap();
    let text = r.text();
    text.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name || n == format!("{name}_total")).then(|| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

const QUERIES: &[&str] = &[
    "http_requests_total",
    "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))",
    "topk(2, avg_over_time(temperature_celsius[10m]))",
    "increase(http_requests_total{job=\"web\"}[3m])",
    "count by (job) (temperature_celsius > 20) * time()",
    "temperature_celsius offset -2m",
    "http_requests_total @ end() - http_requests_total",
    "max_over_time(rate(http_requests_total[2m])[10m:30s])",
    "rate(temperature_celsius[5m])",
];

#[test]
fn split_and_cached_answers_equal_whole_answers() {
    let end = now_ms() / 1000 * 1000;
    let body = v1_body(&dataset(end));
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = ServerProcess::start(plain_dir.path(), &["-querier.split-queries-by-interval=0"]);
    let cached_dir = tempfile::tempdir().unwrap();
    let cached = ServerProcess::start(
        cached_dir.path(),
        &[
            "-querier.split-queries-by-interval=10m",
            "-querier.cache-results=true",
        ],
    );
    for s in [&plain, &cached] {
        let r = push(s.addr, TENANT, &body).unwrap();
        assert!(matches!(r.status, 200 | 204), "{}", r.text());
    }

    let ranges = [
        (end - SPAN, end, "60s"),
        (end - SPAN + 7_000, end - 3 * 60_000, "45s"),
        (end - 30 * 60_000, end, "7s"),
        (end - 20 * 60_000, end - 19 * 60_000, "15s"),
        // Inside the first range, on its grid: answered from its cached extents.
        (end - 40 * 60_000, end - 25 * 60_000, "60s"),
    ];
    for round in 0..2 {
        for q in QUERIES {
            for &(start, stop, step) in &ranges {
                let want = query_range(&plain, q, start, stop, step, &[]);
                let got = query_range(&cached, q, start, stop, step, &[]);
                assert_eq!(
                    got, want,
                    "round {round}: {q} over [{start}, {stop}] at {step}"
                );
                let n = want["data"]["result"].as_array().map_or(0, Vec::len);
                assert!(
                    n > 0 || q.contains("offset"),
                    "{q} returned nothing: the comparison proves little"
                );
            }
        }
    }
    // The second round was answered from the cache, except the last minute.
    assert!(metric(&cached, "cortex_frontend_results_cache_hits") > 0.0);
    let evaluated = metric(&cached, "cortex_frontend_split_queries");
    assert!(evaluated > (QUERIES.len() * ranges.len()) as f64);

    // A range wholly older than the freshness window evaluates nothing the second time.
    let q = "sum(rate(http_requests_total[1m]))";
    let (start, stop) = (end - 40 * 60_000, end - 10 * 60_000);
    let first = query_range(&cached, q, start, stop, "30s", &[]);
    let before = metric(&cached, "cortex_frontend_split_queries");
    assert_eq!(query_range(&cached, q, start, stop, "30s", &[]), first);
    assert_eq!(metric(&cached, "cortex_frontend_split_queries"), before);

    // `Cache-Control: no-store` neither reads nor fills the cache.
    let fetched = metric(&cached, "cortex_frontend_results_cache_fetched_keys");
    let no_store = [("Cache-Control", "no-store")];
    assert_eq!(
        query_range(&cached, q, start, stop, "30s", &no_store),
        first
    );
    assert_eq!(
        metric(&cached, "cortex_frontend_results_cache_fetched_keys"),
        fetched
    );
    assert!(metric(&cached, "cortex_frontend_split_queries") > before);
}

#[test]
fn caching_without_splitting_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
        .current_dir(dir.path())
        .args([
            "-querier.cache-results=true",
            "-querier.split-queries-by-interval=0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("split_queries_by_interval"),
        "unexpected error: {err}"
    );
}
