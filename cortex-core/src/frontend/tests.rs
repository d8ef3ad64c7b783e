//! The frontend against a fake evaluation: split and cached answers equal the whole
//! query's, the cache is used and filled as it should be, and bad cached values,
//! recent data and unsplittable queries are handled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cortex_tsdb::labels::Labels;

use super::extent::encode_extents;
use super::*;
use crate::cache::{Cache, InMemoryCache};
use crate::promql::parser::parse_expr;
use crate::promql::value::{FPoint, Series};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// What a query evaluates to at `t`: series `a` everywhere (value `t`), series `b`
/// only on even minutes, and a warning when `t` is in the second day.
fn evaluate(s: i64, e: i64, step: i64) -> RangeResult {
    let mut a = Series::new(Labels::from_pairs([("s", "a")]).unwrap());
    let mut b = Series::new(Labels::from_pairs([("s", "b")]).unwrap());
    let mut warnings = Vec::new();
    let mut t = s;
    while t <= e {
        a.floats.push(FPoint { t, f: t as f64 });
        if (t / MIN) % 2 == 0 {
            b.floats.push(FPoint { t, f: -1.0 });
        }
        if t / DAY == 1 && warnings.is_empty() {
            warnings.push("day two".to_string());
        }
        t += step;
    }
    let matrix = [a, b].into_iter().filter(|s| !s.is_empty()).collect();
    RangeResult {
        matrix,
        warnings,
        infos: Vec::new(),
    }
}

/// Runs `query` over `[start, end]` at `step` through `fe`, recording the stretches
/// evaluated.
struct Harness {
    fe: RangeFrontend,
    calls: Arc<Mutex<Vec<(i64, i64)>>>,
    now: i64,
}

impl Harness {
    fn new(split: Duration, cache: Option<Arc<dyn Cache>>) -> Harness {
        Harness {
            fe: RangeFrontend::new(split, false, cache),
            calls: Arc::default(),
            now: 10 * DAY + 12 * HOUR,
        }
    }

    async fn run(&self, query: &str, start: i64, end: i64, step: i64) -> RangeResult {
        self.try_run(query, start, end, step, true).await.unwrap()
    }

    async fn try_run(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        use_cache: bool,
    ) -> Result<RangeResult, String> {
        let expr = parse_expr(query).unwrap();
        let tenants = vec!["t1".to_string()];
        let q = RangeQuery {
            tenants: &tenants,
            query,
            expr: &expr,
            start,
            end,
            step,
            lookback_ms: 5 * MIN,
            now: self.now,
            max_cache_freshness_ms: MIN,
            parallelism: 3,
            use_cache,
        };
        let calls = self.calls.clone();
        self.fe
            .run(&q, move |s, e| {
                calls.lock().unwrap().push((s, e));
                async move {
                    if s == 13 {
                        Err("boom".to_string())
                    } else {
                        Ok(evaluate(s, e, step))
                    }
                }
            })
            .await
    }

    fn take_calls(&self) -> Vec<(i64, i64)> {
        let mut c = std::mem::take(&mut *self.calls.lock().unwrap());
        c.sort_unstable();
        c
    }
}

fn cache() -> Arc<dyn Cache> {
    Arc::new(InMemoryCache::new("results-cache", 1 << 30, 0))
}

#[tokio::test]
async fn split_answers_equal_the_whole_query() {
    let h = Harness::new(Duration::from_secs(86_400), None);
    for (start, end, step) in [
        (0, 3 * DAY, 7 * MIN),
        (DAY - 30_000, DAY + HOUR, MIN),
        (5 * HOUR, 5 * HOUR, MIN),
    ] {
        let got = h.run("up", start, end, step).await;
        assert_eq!(got, evaluate(start, end, step), "{start} {end} {step}");
    }
    let calls = h.take_calls();
    // 7m steps: the last one before midnight is at 23:55.
    assert!(calls.contains(&(0, 205 * 7 * MIN)), "{calls:?}");
}

#[tokio::test]
async fn a_repeated_query_is_answered_from_the_cache() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    let (start, end, step) = (HOUR, 2 * DAY + HOUR, 5 * MIN);
    let first = h.run("up", start, end, step).await;
    assert_eq!(first, evaluate(start, end, step));
    assert_eq!(h.take_calls().len(), 3, "one evaluation per day");
    let second = h.run("up", start, end, step).await;
    assert_eq!(second, first);
    assert!(h.take_calls().is_empty(), "nothing evaluated again");
    let stats = h.fe.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (3, 3));
}

#[tokio::test]
async fn a_longer_query_evaluates_only_what_the_cache_lacks() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    let step = MIN;
    h.run("up", 2 * HOUR, 3 * HOUR, step).await;
    h.take_calls();
    let got = h.run("up", HOUR, 4 * HOUR, step).await;
    assert_eq!(got, evaluate(HOUR, 4 * HOUR, step));
    assert_eq!(
        h.take_calls(),
        vec![(HOUR, 2 * HOUR - step), (3 * HOUR + step, 4 * HOUR)]
    );
    // Now the whole stretch is one extent.
    assert_eq!(h.run("up", HOUR, 4 * HOUR, step).await, got);
    assert!(h.take_calls().is_empty());
}

#[tokio::test]
async fn a_shorter_query_is_cut_from_the_cached_extents() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    h.run("up", 0, 6 * HOUR, MIN).await;
    h.take_calls();
    let got = h.run("up", HOUR + 3 * MIN, 2 * HOUR, MIN).await;
    assert_eq!(got, evaluate(HOUR + 3 * MIN, 2 * HOUR, MIN));
    assert!(h.take_calls().is_empty());
}

#[tokio::test]
async fn different_grids_and_queries_do_not_share_results() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    h.run("up", 0, HOUR, MIN).await;
    h.take_calls();
    // Same step, other phase.
    assert_eq!(
        h.run("up", 30_000, HOUR + 30_000, MIN).await,
        evaluate(30_000, HOUR + 30_000, MIN)
    );
    // Other step, other query text.
    h.run("up", 0, HOUR, 2 * MIN).await;
    h.run("up + 0", 0, HOUR, MIN).await;
    assert_eq!(h.take_calls().len(), 3);
}

#[tokio::test]
async fn aligned_queries_share_cached_results() {
    let mut h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    h.fe = RangeFrontend::new(Duration::from_secs(86_400), true, h.fe.cache().cloned());
    let got = h.run("up", HOUR + 17_000, 2 * HOUR + 5_000, MIN).await;
    assert_eq!(got, evaluate(HOUR, 2 * HOUR, MIN));
    h.take_calls();
    // Another start within the same step lands on the same grid and cache entry.
    assert_eq!(h.run("up", HOUR + 42_000, 2 * HOUR, MIN).await, got);
    assert!(h.take_calls().is_empty());
}

#[tokio::test]
async fn recent_results_are_evaluated_every_time() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    let end = h.now;
    let start = end - 10 * MIN;
    let want = evaluate(start, end, MIN);
    assert_eq!(h.run("up", start, end, MIN).await, want);
    h.take_calls();
    assert_eq!(h.run("up", start, end, MIN).await, want);
    // The last minute (now - max_cache_freshness onwards) is run again.
    assert_eq!(h.take_calls(), vec![(end, end)]);

    // A negative offset reaches further forward: more is run again.
    h.run("up offset -5m", start, end, MIN).await;
    h.take_calls();
    h.run("up offset -5m", start, end, MIN).await;
    assert_eq!(h.take_calls(), vec![(end - 5 * MIN, end)]);
}

#[tokio::test]
async fn start_and_end_modifiers_run_the_query_whole_and_uncached() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    for _ in 0..2 {
        h.run("up @ end()", 0, 2 * DAY, HOUR).await;
        assert_eq!(h.take_calls(), vec![(0, 2 * DAY)]);
    }
}

#[tokio::test]
async fn a_corrupt_cached_value_is_a_miss() {
    let c = cache();
    let h = Harness::new(Duration::from_secs(86_400), Some(c.clone()));
    h.run("up", 0, HOUR, MIN).await;
    h.take_calls();
    let key = "fr:t1:60000:0:300000:0:up".to_string();
    let good = c.fetch(std::slice::from_ref(&key)).await;
    assert_eq!(good.hits.len(), 1, "the key format changed");
    c.store(
        vec![(key.clone(), Bytes::from_static(b"CXRC\x01junk"))],
        Duration::ZERO,
    );
    assert_eq!(h.run("up", 0, HOUR, MIN).await, evaluate(0, HOUR, MIN));
    assert_eq!(h.take_calls(), vec![(0, HOUR)]);
    assert_eq!(h.fe.stats().cache_corrupt, 1);

    // A value stored under another key (a hashed-key collision) is not used either.
    let other = encode_extents(
        "fr:t2:60000:0:300000:0:up",
        &[Extent {
            start: 0,
            end: HOUR,
            ..Default::default()
        }],
    );
    c.store(vec![(key, Bytes::from(other))], Duration::ZERO);
    assert_eq!(h.run("up", 0, HOUR, MIN).await, evaluate(0, HOUR, MIN));
    assert_eq!(h.fe.stats().cache_corrupt, 2);
}

#[tokio::test]
async fn no_store_bypasses_the_cache() {
    let c = cache();
    let h = Harness::new(Duration::from_secs(86_400), Some(c.clone()));
    h.try_run("up", 0, HOUR, MIN, false).await.unwrap();
    h.try_run("up", 0, HOUR, MIN, false).await.unwrap();
    assert_eq!(h.take_calls().len(), 2);
    assert_eq!(c.stats().requests, 0);
}

#[tokio::test]
async fn an_evaluation_error_fails_the_query() {
    let h = Harness::new(Duration::from_secs(86_400), Some(cache()));
    let err = h.try_run("up", 13, 3 * DAY, MIN, true).await.unwrap_err();
    assert_eq!(err, "boom");
}

#[tokio::test]
async fn warnings_are_kept_once_and_cached() {
    let h = Harness::new(Duration::from_secs(3_600), Some(cache()));
    let (start, end) = (DAY, DAY + 5 * HOUR);
    let first = h.run("up", start, end, MIN).await;
    assert_eq!(first.warnings, vec!["day two".to_string()]);
    assert_eq!(h.take_calls().len(), 6);
    assert_eq!(h.run("up", start, end, MIN).await, first);
    assert!(h.take_calls().is_empty());
}

#[test]
fn concurrent_evaluations_are_bounded() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fe = RangeFrontend::new(Duration::from_secs(3_600), false, None);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let expr = parse_expr("up").unwrap();
    let tenants = vec!["t".to_string()];
    let q = RangeQuery {
        tenants: &tenants,
        query: "up",
        expr: &expr,
        start: 0,
        end: 10 * HOUR,
        step: MIN,
        lookback_ms: 0,
        now: 0,
        max_cache_freshness_ms: 0,
        parallelism: 2,
        use_cache: true,
    };
    let res = rt.block_on(fe.run(&q, |s, e| {
        let (running, peak) = (running.clone(), peak.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(evaluate(s, e, MIN))
        }
    }));
    assert_eq!(res.unwrap(), evaluate(0, 10 * HOUR, MIN));
    assert_eq!(fe.stats().evaluated, 11);
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert!(peak.load(Ordering::SeqCst) >= 1);
}
