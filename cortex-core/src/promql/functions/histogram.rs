//! Histogram functions: `histogram_count/sum/avg/stddev/stdvar` of native histograms,
//! and `histogram_quantile(s)`/`histogram_fraction`, which accept both native
//! histograms and classic ones (series with an `le` label, grouped by their other
//! labels). Also the anchored/smoothed rate of native histograms.

use std::collections::HashMap;
use std::sync::Arc;

use cortex_tsdb::float_format::go_g;
use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::{Labels, METRIC_NAME};

use super::{FnArgs, RangeArg};
use crate::promql::annotations::Annotations;
use crate::promql::annotations::kinds::{self, HistogramOp};
use crate::promql::engine::EvalError;
use crate::promql::engine::call::string_arg;
use crate::promql::histogram::{HistogramExt, all_buckets, kahan_inc};
use crate::promql::parser::{Expr, PosRange};
use crate::promql::quantile::{
    Bucket, bucket_fraction, bucket_quantile, histogram_fraction as native_fraction,
    histogram_quantile as native_quantile,
};
use crate::promql::value::{HPoint, Sample};

type R = Result<(), EvalError>;

/// One step's input to the classic/native histogram functions, split up.
#[derive(Default)]
pub(crate) struct ClassicCache {
    /// Classic histograms: group labels (without `le`) and their buckets.
    groups: Vec<(Labels, Vec<Bucket>)>,
    index: HashMap<Labels, usize>,
    /// Native histogram samples (with `None` for those shadowed by a classic one).
    natives: Vec<(Labels, Option<Arc<FloatHistogram>>)>,
}

fn metric_name(l: &Labels) -> &str {
    l.get(METRIC_NAME).unwrap_or("")
}

/// Splits `v` into classic bucket groups and native histograms, warning about bad
/// `le` labels and about classic and native histograms of the same series.
fn split(cache: &mut ClassicCache, v: &[Sample], arg: &Expr, annos: &mut Annotations) {
    for g in &mut cache.groups {
        g.1.clear();
    }
    cache.natives.clear();
    for s in v {
        if let Some(h) = &s.h {
            cache.natives.push((s.metric.clone(), Some(h.clone())));
            continue;
        }
        let le = s.metric.get("le").unwrap_or("");
        let Some(upper) = parse_go_float(le) else {
            annos.add(kinds::bad_bucket_label(
                metric_name(&s.metric),
                le,
                arg.pos(),
            ));
            continue;
        };
        let key = s.metric.without(&["le"]);
        let i = match cache.index.get(&key) {
            Some(&i) => i,
            None => {
                cache.index.insert(key.clone(), cache.groups.len());
                cache.groups.push((key, Vec::new()));
                cache.groups.len() - 1
            }
        };
        cache.groups[i].1.push(Bucket { upper, count: s.f });
    }
    for (labels, h) in &mut cache.natives {
        if let Some(&i) = cache.index.get(labels)
            && !cache.groups[i].1.is_empty()
        {
            annos.add(kinds::mixed_classic_native(metric_name(labels), arg.pos()));
            cache.groups[i].1.clear();
            *h = None;
        }
    }
}

/// Go's `strconv.ParseFloat` for `le` values (`+Inf`, `1e3`, `0.5`).
fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if s.is_empty() || s.contains('_') || lower.contains("0x") {
        return None;
    }
    s.parse().ok()
}

fn push(a: &mut FnArgs<'_>, metric: Labels, f: f64) {
    a.enh.out.push(Sample {
        metric,
        t: 0,
        f,
        h: None,
        drop_name: true,
    });
}

fn simple(a: &mut FnArgs<'_>, f: impl Fn(&FloatHistogram) -> f64) -> R {
    for el in &a.vals[0] {
        if let Some(h) = &el.h {
            a.enh.out.push(Sample {
                metric: el.metric.clone(),
                t: 0,
                f: f(h),
                h: None,
                drop_name: true,
            });
        }
    }
    Ok(())
}

/// `histogram_count(v)`
pub(super) fn histogram_count(a: &mut FnArgs<'_>) -> R {
    simple(a, |h| h.count)
}

/// `histogram_sum(v)`
pub(super) fn histogram_sum(a: &mut FnArgs<'_>) -> R {
    simple(a, |h| h.sum)
}

/// `histogram_avg(v)`
pub(super) fn histogram_avg(a: &mut FnArgs<'_>) -> R {
    simple(a, |h| h.sum / h.count)
}

/// The variance of a histogram's observations, estimating each bucket's observations
/// at its midpoint (geometric for exponential buckets).
fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut v, mut c) = (0.0, 0.0);
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let g = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -g } else { g }
        };
        let d = val - mean;
        (v, c) = kahan_inc(b.count * d * d, v, c);
    }
    (v + c) / h.count
}

/// `histogram_stddev(v)`
pub(super) fn histogram_stddev(a: &mut FnArgs<'_>) -> R {
    simple(a, |h| variance(h).sqrt())
}

/// `histogram_stdvar(v)`
pub(super) fn histogram_stdvar(a: &mut FnArgs<'_>) -> R {
    simple(a, variance)
}

fn check_quantile(q: f64, arg: &Expr, annos: &mut Annotations) {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        annos.add(kinds::invalid_quantile(q, arg.pos()));
    }
}

/// `histogram_quantile(q, v)`
pub(super) fn histogram_quantile(a: &mut FnArgs<'_>) -> R {
    if a.vals.len() < 2 || a.vals[0].is_empty() {
        return Ok(());
    }
    let q = a.scalar(0);
    let mut cache = std::mem::take(&mut a.enh.histogram_cache);
    check_quantile(q, &a.args[0], &mut a.enh.annos);
    split(&mut cache, &a.vals[1], &a.args[1], &mut a.enh.annos);
    quantiles_into(a, &cache, q, &a.args[1].pos(), None);
    a.enh.histogram_cache = cache;
    Ok(())
}

/// Appends the `q`-quantile of every native and classic histogram in `cache`; with
/// `label`, each result also gets `label="<q>"`.
fn quantiles_into(
    a: &mut FnArgs<'_>,
    cache: &ClassicCache,
    q: f64,
    pos: &PosRange,
    label: Option<&str>,
) {
    let with_q = |m: &Labels| -> Labels {
        match label {
            None => m.clone(),
            Some(l) => {
                let mut b = m.to_builder();
                b.set(l, &open_metrics_float(q));
                b.build().unwrap_or_else(|_| m.clone())
            }
        }
    };
    for (metric, h) in &cache.natives {
        let Some(h) = h else { continue };
        let (v, annos) = native_quantile(q, h, metric_name(metric), *pos);
        for an in annos {
            a.enh.annos.add(an);
        }
        push(a, with_q(metric), v);
    }
    for (metric, buckets) in &cache.groups {
        if buckets.is_empty() {
            continue;
        }
        let mut bs = buckets.clone();
        let (v, m) = bucket_quantile(q, &mut bs);
        if m.forced {
            a.enh.annos.add(kinds::forced_monotonicity(
                metric_name(metric),
                *pos,
                a.enh.ts,
                m.min_bucket,
                m.max_bucket,
                m.max_diff,
            ));
        }
        push(a, with_q(metric), v);
    }
}

/// Prometheus' `FormatOpenMetricsFloat`: integers get a `.0`.
fn open_metrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = go_g(f);
    if s.contains(['e', '.']) { s } else { s + ".0" }
}

/// `histogram_quantiles(v, "label", q, ...)`
pub(super) fn histogram_quantiles(a: &mut FnArgs<'_>) -> R {
    let label = string_arg(&a.args[1]).to_string();
    let qs: Vec<f64> = (2..a.vals.len()).map(|i| a.scalar(i)).collect();
    for (i, q) in qs.iter().enumerate() {
        check_quantile(*q, &a.args[i + 2], &mut a.enh.annos);
    }
    let mut cache = std::mem::take(&mut a.enh.histogram_cache);
    split(&mut cache, &a.vals[0], &a.args[0], &mut a.enh.annos);
    let pos = a.args[0].pos();
    for q in qs {
        quantiles_into(a, &cache, q, &pos, Some(&label));
    }
    a.enh.histogram_cache = cache;
    Ok(())
}

/// `histogram_fraction(lower, upper, v)`
pub(super) fn histogram_fraction(a: &mut FnArgs<'_>) -> R {
    if a.vals.len() < 3 || a.vals[0].is_empty() || a.vals[1].is_empty() {
        return Ok(());
    }
    let (lower, upper) = (a.scalar(0), a.scalar(1));
    let mut cache = std::mem::take(&mut a.enh.histogram_cache);
    split(&mut cache, &a.vals[2], &a.args[2], &mut a.enh.annos);
    let pos = a.args[2].pos();
    for (metric, h) in &cache.natives {
        let Some(h) = h else { continue };
        let (v, annos) = native_fraction(lower, upper, h, metric_name(metric), pos);
        for an in annos {
            a.enh.annos.add(an);
        }
        push(a, metric.clone(), v);
    }
    for (metric, buckets) in &cache.groups {
        if buckets.is_empty() {
            continue;
        }
        let mut bs = buckets.clone();
        push(a, metric.clone(), bucket_fraction(lower, upper, &mut bs));
    }
    a.enh.histogram_cache = cache;
    Ok(())
}

fn combine(
    h: &mut FloatHistogram,
    o: &FloatHistogram,
    sub: bool,
    annos: &mut Annotations,
    r: &RangeArg<'_>,
) -> bool {
    let res = if sub { h.sub(o) } else { h.add(o) };
    match res {
        Err(_) => {
            annos.add(kinds::mixed_exponential_custom(
                metric_name(r.metric),
                r.pos,
            ));
            false
        }
        Ok(c) => {
            if c.nhcb_bounds_reconciled {
                let op = if sub {
                    HistogramOp::Sub
                } else {
                    HistogramOp::Add
                };
                annos.add(kinds::mismatched_custom_buckets(r.pos, op));
            }
            true
        }
    }
}

fn interpolate(
    h1: &HPoint,
    h2: &HPoint,
    t: i64,
    counter: bool,
    annos: &mut Annotations,
    r: &RangeArg<'_>,
) -> Option<FloatHistogram> {
    interpolate_histograms(h1, h2, t, counter, annos, metric_name(r.metric), r.pos)
}

/// The histogram at `t` on the straight line from `h1` to `h2` (a counter reset in
/// between restarts the line at zero).
pub(crate) fn interpolate_histograms(
    h1: &HPoint,
    h2: &HPoint,
    t: i64,
    counter: bool,
    annos: &mut Annotations,
    metric: &str,
    pos: PosRange,
) -> Option<FloatHistogram> {
    if t == h1.t {
        return Some((*h1.h).clone());
    }
    if t == h2.t {
        return Some((*h2.h).clone());
    }
    let fraction = (t - h1.t) as f64 / (h2.t - h1.t) as f64;
    let mut res = (*h2.h).clone();
    if counter && h2.h.detect_reset(&h1.h) {
        res.mul(fraction);
        return Some(res);
    }
    for sub in [true, false] {
        let r = if sub { res.sub(&h1.h) } else { res.add(&h1.h) };
        match r {
            Err(_) => {
                annos.add(kinds::mixed_exponential_custom(metric, pos));
                return None;
            }
            Ok(c) => {
                if c.nhcb_bounds_reconciled {
                    let op = if sub {
                        HistogramOp::Sub
                    } else {
                        HistogramOp::Add
                    };
                    annos.add(kinds::mismatched_custom_buckets(pos, op));
                }
            }
        }
        if sub {
            res.mul(fraction);
        }
    }
    Some(res)
}

/// Anchored/smoothed `rate`, `increase` and `delta` of native histograms.
pub(crate) fn extended_histogram_rate(
    a: &mut FnArgs<'_>,
    r: &RangeArg<'_>,
    is_counter: bool,
    is_rate: bool,
) -> R {
    let h = r.histograms;
    let range_start = a.enh.ts - (r.range_ms + r.offset_ms);
    let range_end = a.enh.ts - r.offset_ms;
    let mut last = h.len() - 1;
    let first = h[..last]
        .partition_point(|p| p.t <= range_start)
        .saturating_sub(1);
    if r.smoothed {
        last = h[..last].partition_point(|p| p.t < range_end);
    }
    if h[last].t <= range_start || (r.smoothed && h[first].t > range_end) {
        return Ok(());
    }
    let annos = &mut a.enh.annos;
    let name = metric_name(r.metric).to_string();
    let custom = h[first].h.uses_custom_buckets();
    for p in &h[first..=last] {
        if p.h.uses_custom_buckets() != custom {
            annos.add(kinds::mixed_exponential_custom(&name, r.pos));
            return Ok(());
        }
        if is_counter && p.h.counter_reset_hint == CounterResetHint::Gauge {
            annos.add(kinds::native_histogram_not_counter(&name, r.pos));
        }
    }
    let left = if r.smoothed && h[first].t < range_start && first + 1 < h.len() {
        interpolate(&h[first], &h[first + 1], range_start, is_counter, annos, r)
    } else {
        Some((*h[first].h).clone())
    };
    let right = if r.smoothed && last > 0 && h[last].t > range_end {
        interpolate(&h[last - 1], &h[last], range_end, is_counter, annos, r)
    } else {
        Some((*h[last].h).clone())
    };
    let (Some(left), Some(right)) = (left, right) else {
        return Ok(());
    };
    if !is_counter
        && (left.counter_reset_hint != CounterResetHint::Gauge
            || right.counter_reset_hint != CounterResetHint::Gauge)
    {
        annos.add(kinds::native_histogram_not_gauge(&name, r.pos));
    }
    let mut result = right.clone();
    if !combine(&mut result, &left, true, annos, r) {
        return Ok(());
    }
    if is_counter {
        let mut start = first + 1;
        let mut prev: &FloatHistogram = &left;
        if r.smoothed
            && h[first].t < range_start
            && first + 1 < h.len()
            && h[first + 1].h.detect_reset(&h[first].h)
        {
            prev = &h[first + 1].h;
            start += 1;
        }
        let mut correction: Option<FloatHistogram> = None;
        if start <= last {
            for p in &h[start..last] {
                if p.h.detect_reset(prev) {
                    match &mut correction {
                        None => correction = Some(prev.clone()),
                        Some(c) => {
                            if !combine(c, prev, false, annos, r) {
                                return Ok(());
                            }
                        }
                    }
                }
                prev = &p.h;
            }
            if right.detect_reset(prev) {
                match &mut correction {
                    None => correction = Some(prev.clone()),
                    Some(c) => {
                        if !combine(c, prev, false, annos, r) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        if let Some(c) = correction
            && !combine(&mut result, &c, false, annos, r)
        {
            return Ok(());
        }
    }
    if is_rate {
        result.div(r.range_ms as f64 / 1000.0);
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact();
    a.emit_histogram(Arc::new(result));
    Ok(())
}
