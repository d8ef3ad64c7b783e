//! PromQL engine benches: range queries of 1000 steps over many series.
//!
//! Reported per output point (series × steps): criterion's throughput is set to the
//! number of points a query returns or aggregates over.

use std::hint::black_box;

use cortex_benches::promql::{SCRAPE_MS, classic_histograms, counters};
use cortex_core::promql::{Engine, EngineOpts, Value};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const STEPS: i64 = 1000;
const STEP_MS: i64 = 15_000;
const START: i64 = 3_600_000;
const END: i64 = START + (STEPS - 1) * STEP_MS;

fn engine() -> Engine {
    Engine::new(EngineOpts {
        max_samples: 200_000_000,
        ..Default::default()
    })
}

fn points(v: &Value) -> usize {
    match v {
        Value::Matrix(m) => m.iter().map(|s| s.floats.len() + s.histograms.len()).sum(),
        _ => 0,
    }
}

fn bench_query(
    c: &mut Criterion,
    name: &str,
    q: &cortex_core::querier::memory::MemoryQuerier,
    query: &str,
    throughput_points: u64,
) {
    let e = engine();
    let r = e
        .range_query(q, query, START, END, STEP_MS)
        .unwrap_or_else(|err| panic!("{query}: {err}"));
    assert!(points(&r.value) > 0, "{query} returned nothing");
    let mut g = c.benchmark_group("promql");
    g.sample_size(10);
    g.throughput(Throughput::Elements(throughput_points));
    g.bench_function(name, |b| {
        b.iter(|| {
            let r = e.range_query(q, black_box(query), START, END, STEP_MS);
            black_box(r.map(|r| points(&r.value)).unwrap_or(0))
        })
    });
    g.finish();
}

fn rate(c: &mut Criterion) {
    let q = counters("x", 10_000, START - 600_000, END + SCRAPE_MS);
    bench_query(
        c,
        "rate_10k_series",
        &q,
        "rate(x[5m])",
        10_000 * STEPS as u64,
    );
    bench_query(
        c,
        "sum_by_job_rate_10k_series",
        &q,
        "sum by (job) (rate(x[5m]))",
        10_000 * STEPS as u64,
    );
}

fn histogram_quantile(c: &mut Criterion) {
    let q = classic_histograms("h", 1_000, START - 600_000, END + SCRAPE_MS);
    bench_query(
        c,
        "histogram_quantile_1k_histograms",
        &q,
        "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))",
        1_000 * STEPS as u64,
    );
}

criterion_group!(benches, rate, histogram_quantile);
criterion_main!(benches);
