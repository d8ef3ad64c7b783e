//! [`RangeFrontend`]: Cortex's query-frontend middlewares for range queries, in front
//! of a function that evaluates one range: align to the step, split at interval
//! boundaries, take what the results cache holds, run the missing stretches (several
//! at once), store them back, and merge everything into the one result the whole
//! query would have given.
//!
//! Results are cached per tenant(s), query text, step, grid phase, lookback delta and
//! interval, as [extents](super::extent). Evaluation timestamps newer than
//! `now - max_cache_freshness` (less the query's negative offsets) are always run and
//! never stored, so late samples in the last minutes are not hidden by the cache.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::extent::{Extent, decode_extents, encode_extents};
use super::merge::{merge_matrices, slice_matrix};
use super::shape::QueryShape;
use super::split::{align_to_step, grid_ceil, grid_floor, interval_of, split_by_interval};
use crate::cache::Cache;
use crate::promql::parser::Expr;
use crate::promql::value::Matrix;

/// The result of a range query (or of one stretch of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeResult {
    /// The series, sorted by labels.
    pub matrix: Matrix,
    /// Warnings, each once, in the order first seen.
    pub warnings: Vec<String>,
    /// Info notes, each once, in the order first seen.
    pub infos: Vec<String>,
}

/// One range query as the frontend sees it.
#[derive(Debug, Clone, Copy)]
pub struct RangeQuery<'a> {
    /// The tenants it reads, sorted (part of the cache key).
    pub tenants: &'a [String],
    /// The query text.
    pub query: &'a str,
    /// The parsed query.
    pub expr: &'a Expr,
    /// First evaluation timestamp (ms).
    pub start: i64,
    /// Last evaluation timestamp is at or before this (ms).
    pub end: i64,
    /// Step (ms), positive.
    pub step: i64,
    /// The lookback delta the engine uses for this query (ms); part of the cache key.
    pub lookback_ms: i64,
    /// The current time (ms).
    pub now: i64,
    /// Results newer than this (ms) are not cached.
    pub max_cache_freshness_ms: i64,
    /// The most stretches evaluated at once.
    pub parallelism: usize,
    /// False to bypass the results cache (`Cache-Control: no-store`).
    pub use_cache: bool,
}

/// What the frontend has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontendStats {
    /// Range queries run through the frontend.
    pub queries: u64,
    /// Stretches evaluated by the engine (split parts and cache gaps).
    pub evaluated: u64,
    /// Split parts answered from the cache without evaluating anything.
    pub cache_hits: u64,
    /// Split parts that needed some evaluation although they were cacheable.
    pub cache_misses: u64,
    /// Cached values that could not be read (and were treated as misses).
    pub cache_corrupt: u64,
}

/// Range query splitting, step alignment and results caching (see the module
/// documentation).
pub struct RangeFrontend {
    split_interval: i64,
    align_with_step: bool,
    cache: Option<Arc<dyn Cache>>,
    queries: AtomicU64,
    evaluated: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    cache_corrupt: AtomicU64,
}

impl std::fmt::Debug for RangeFrontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeFrontend")
            .field("split_interval", &self.split_interval)
            .field("align_with_step", &self.align_with_step)
            .field("cache", &self.cache.as_ref().map(|c| c.name().to_string()))
            .finish()
    }
}

/// A cacheable split part: its evaluation timestamps `[start, end]`, cache key and
/// the extents the cache held for the key.
struct CachedPart {
    start: i64,
    end: i64,
    key: String,
    extents: Vec<Extent>,
    /// Indexes into the evaluated jobs of the gaps this part needed.
    jobs: Vec<usize>,
}

/// How one split part is answered.
enum Part {
    /// Evaluated, not cached: the job's index.
    Fresh(usize),
    /// From the cache, gaps evaluated.
    Cached(CachedPart),
}

impl RangeFrontend {
    /// A frontend splitting at `split_interval` (zero: no splitting), aligning queries
    /// to their step when `align_with_step`, and caching results in `cache` when given.
    pub fn new(
        split_interval: Duration,
        align_with_step: bool,
        cache: Option<Arc<dyn Cache>>,
    ) -> RangeFrontend {
        RangeFrontend {
            split_interval: i64::try_from(split_interval.as_millis()).unwrap_or(i64::MAX),
            align_with_step,
            cache,
            queries: AtomicU64::new(0),
            evaluated: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            cache_corrupt: AtomicU64::new(0),
        }
    }

    /// The results cache, if any.
    pub fn cache(&self) -> Option<&Arc<dyn Cache>> {
        self.cache.as_ref()
    }

    /// The counters so far.
    pub fn stats(&self) -> FrontendStats {
        FrontendStats {
            queries: self.queries.load(Ordering::Relaxed),
            evaluated: self.evaluated.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            cache_corrupt: self.cache_corrupt.load(Ordering::Relaxed),
        }
    }

    /// Answers `q`, calling `eval(start, end)` for each stretch of evaluation
    /// timestamps that must be computed (several at once, up to `q.parallelism`). The
    /// first error of an evaluation is returned; the other evaluations are dropped.
    pub async fn run<E, F, Fut>(&self, q: &RangeQuery<'_>, eval: F) -> Result<RangeResult, E>
    where
        E: Send + 'static,
        F: Fn(i64, i64) -> Fut,
        Fut: Future<Output = Result<RangeResult, E>> + Send + 'static,
    {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let (start, end) = if self.align_with_step {
            align_to_step(q.start, q.end, q.step)
        } else {
            (q.start, q.end)
        };
        let shape = QueryShape::of(q.expr);
        let parts = if shape.splittable {
            split_by_interval(start, end, q.step, self.split_interval)
        } else {
            vec![(start, end)]
        };
        let cache = self.cache.as_ref().filter(|_| q.use_cache);
        let cache_until = cache
            .and_then(|_| shape.cacheable_until(q.now.saturating_sub(q.max_cache_freshness_ms)));

        // Which parts may be cached, and the jobs for the rest.
        let mut jobs: Vec<(i64, i64)> = Vec::new();
        let mut plan: Vec<Part> = Vec::new();
        for (s, e) in parts {
            let cached_end = cache_until.and_then(|c| grid_floor(s, q.step, e.min(c)));
            match cached_end {
                Some(ce) => {
                    plan.push(Part::Cached(CachedPart {
                        start: s,
                        end: ce,
                        key: self.key(q, start.rem_euclid(q.step), s),
                        extents: Vec::new(),
                        jobs: Vec::new(),
                    }));
                    if ce < e {
                        plan.push(Part::Fresh(jobs.len()));
                        jobs.push((ce + q.step, e));
                    }
                }
                None => {
                    plan.push(Part::Fresh(jobs.len()));
                    jobs.push((s, e));
                }
            }
        }

        // What the cache holds, and the gaps left.
        if let Some(cache) = cache {
            self.fetch_extents(cache.as_ref(), &mut plan).await;
        }
        for part in &mut plan {
            if let Part::Cached(c) = part {
                for gap in gaps(c.start, c.end, q.step, &c.extents) {
                    c.jobs.push(jobs.len());
                    jobs.push(gap);
                }
                if c.jobs.is_empty() {
                    self.cache_hits.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.cache_misses.fetch_add(1, Ordering::Relaxed);
                }
            }
        }

        let mut results = self.evaluate(&jobs, q.parallelism, &eval).await?;

        // Store what was new, and assemble the answer.
        let mut to_store = Vec::new();
        let mut pieces: Vec<RangeResult> = Vec::with_capacity(plan.len());
        for part in plan {
            match part {
                Part::Fresh(i) => pieces.push(std::mem::take(&mut results[i])),
                Part::Cached(mut c) => {
                    let fresh = !c.jobs.is_empty();
                    for &i in &c.jobs {
                        let (s, e) = jobs[i];
                        let r = std::mem::take(&mut results[i]);
                        c.extents.push(Extent {
                            start: s,
                            end: e,
                            matrix: r.matrix,
                            warnings: r.warnings,
                            infos: r.infos,
                        });
                    }
                    let extents = coalesce(c.extents, q.step);
                    pieces.push(answer_from(&extents, c.start, c.end));
                    if fresh {
                        to_store
                            .push((c.key.clone(), Bytes::from(encode_extents(&c.key, &extents))));
                    }
                }
            }
        }
        if let (Some(cache), false) = (cache, to_store.is_empty()) {
            cache.store(to_store, Duration::ZERO);
        }
        Ok(combine(pieces))
    }

    /// The cache key of the part of `q` starting at `part_start`, on the grid whose
    /// timestamps are `phase` past a multiple of the step.
    fn key(&self, q: &RangeQuery<'_>, phase: i64, part_start: i64) -> String {
        let interval = if self.split_interval > 0 {
            interval_of(part_start, self.split_interval)
        } else {
            0
        };
        format!(
            "fr:{}:{}:{}:{}:{}:{}",
            q.tenants.join("|"),
            q.step,
            phase,
            q.lookback_ms,
            interval,
            q.query
        )
    }

    /// Fills in each cached part's extents from one fetch of every key.
    async fn fetch_extents(&self, cache: &dyn Cache, plan: &mut [Part]) {
        let keys: Vec<String> = plan
            .iter()
            .filter_map(|p| match p {
                Part::Cached(c) => Some(c.key.clone()),
                Part::Fresh(_) => None,
            })
            .collect();
        if keys.is_empty() {
            return;
        }
        let mut fetched = cache.fetch(&keys).await;
        for part in plan.iter_mut() {
            let Part::Cached(c) = part else { continue };
            let Some(bytes) = fetched.hits.remove(&c.key) else {
                continue;
            };
            match decode_extents(&c.key, &bytes) {
                Ok(extents) => c.extents = extents,
                Err(_) => {
                    self.cache_corrupt.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Evaluates `jobs`, up to `parallelism` at once, results in job order.
    async fn evaluate<E, F, Fut>(
        &self,
        jobs: &[(i64, i64)],
        parallelism: usize,
        eval: &F,
    ) -> Result<Vec<RangeResult>, E>
    where
        E: Send + 'static,
        F: Fn(i64, i64) -> Fut,
        Fut: Future<Output = Result<RangeResult, E>> + Send + 'static,
    {
        self.evaluated
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let mut results: Vec<RangeResult> = Vec::with_capacity(jobs.len());
        results.resize_with(jobs.len(), RangeResult::default);
        if let [(s, e)] = jobs {
            results[0] = eval(*s, *e).await?;
            return Ok(results);
        }
        let slots = Arc::new(Semaphore::new(parallelism.max(1)));
        let mut set = JoinSet::new();
        for (i, &(s, e)) in jobs.iter().enumerate() {
            let fut = eval(s, e);
            let slots = slots.clone();
            set.spawn(async move {
                let _slot = slots.acquire_owned().await;
                (i, fut.await)
            });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok((i, Ok(r))) => results[i] = r,
                Ok((_, Err(e))) => return Err(e),
                // A panicking evaluation is resumed here; an aborted one cannot be,
                // as the set is only aborted when dropped.
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        }
        Ok(results)
    }
}

/// The stretches of `[start, end]` (on the grid `start + k * step`) that no extent
/// covers.
fn gaps(start: i64, end: i64, step: i64, extents: &[Extent]) -> Vec<(i64, i64)> {
    let mut sorted: Vec<(i64, i64)> = extents.iter().map(|e| (e.start, e.end)).collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut cursor = start;
    for (es, ee) in sorted {
        if cursor > end {
            break;
        }
        if ee < cursor {
            continue;
        }
        if es > cursor
            && let Some(last) = grid_floor(start, step, es.saturating_sub(1).min(end))
            && last >= cursor
        {
            out.push((cursor, last));
        }
        cursor = cursor.max(grid_ceil(start, step, ee.saturating_add(1)));
    }
    if cursor <= end {
        out.push((cursor, end));
    }
    out
}

/// Extents sorted by start, with overlapping and adjacent ones (at most `step` apart)
/// merged.
fn coalesce(mut extents: Vec<Extent>, step: i64) -> Vec<Extent> {
    extents.sort_by_key(|e| e.start);
    let mut out: Vec<Extent> = Vec::with_capacity(extents.len());
    for e in extents {
        match out.last_mut() {
            Some(last) if e.start <= last.end.saturating_add(step) => {
                last.end = last.end.max(e.end);
                let prev = std::mem::take(&mut last.matrix);
                last.matrix = merge_matrices([prev, e.matrix]);
                union_into(&mut last.warnings, e.warnings);
                union_into(&mut last.infos, e.infos);
            }
            _ => out.push(e),
        }
    }
    out
}

/// The results of `[start, end]` from extents that cover it.
fn answer_from(extents: &[Extent], start: i64, end: i64) -> RangeResult {
    let pieces = extents
        .iter()
        .filter(|e| e.end >= start && e.start <= end)
        .map(|e| RangeResult {
            matrix: if e.start >= start && e.end <= end {
                e.matrix.clone()
            } else {
                slice_matrix(&e.matrix, start, end)
            },
            warnings: e.warnings.clone(),
            infos: e.infos.clone(),
        })
        .collect();
    combine(pieces)
}

/// The parts' results as one.
fn combine(mut pieces: Vec<RangeResult>) -> RangeResult {
    if pieces.len() == 1 {
        return pieces.pop().unwrap_or_default();
    }
    let mut out = RangeResult::default();
    let mut matrices = Vec::with_capacity(pieces.len());
    for p in pieces {
        matrices.push(p.matrix);
        union_into(&mut out.warnings, p.warnings);
        union_into(&mut out.infos, p.infos);
    }
    out.matrix = merge_matrices(matrices);
    out
}

/// Appends the strings of `more` that `into` does not hold yet.
fn union_into(into: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for s in more {
        if !into.contains(&s) {
            into.push(s);
        }
    }
}
