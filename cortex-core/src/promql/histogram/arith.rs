//! Arithmetic on float native histograms: adding and subtracting (with schema
//! reduction, zero-bucket reconciliation and custom-bound intersection), scaling,
//! schema conversion and compaction. Kahan-compensated adding is in `kahan.rs`.
//!
//! The bucket layouts are merged as sorted `(index, count)` lists, which gives the
//! same buckets as Prometheus' in-place span surgery; the span encoding of a result
//! may differ, but never the bucket each count belongs to.

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};

use super::bounds::get_bound_exponential;
use super::buckets::{from_pairs, negative_buckets, pair_vec, positive_buckets, reduce_pairs};
use super::kahan::kahan_compact;
use super::kahan_inc;

/// Histograms with exponential and with custom buckets cannot be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncompatibleSchemas;

/// Side effects of combining two histograms that callers report as annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Combined {
    /// One side said "counter reset", the other "not a counter reset".
    pub counter_reset_collision: bool,
    /// Custom bucket bounds differed and were reduced to their intersection.
    pub nhcb_bounds_reconciled: bool,
}

/// True for the custom-buckets schema.
pub fn uses_custom(h: &FloatHistogram) -> bool {
    h.uses_custom_buckets()
}

/// Sets `h`'s counter reset hint for a sum or difference with `other`; true on a
/// collision of "reset" and "not reset".
pub(super) fn adjust_counter_reset(h: &mut FloatHistogram, other: &FloatHistogram) -> bool {
    use CounterResetHint::*;
    match (h.counter_reset_hint, other.counter_reset_hint) {
        (a, b) if a == b => false,
        (Gauge, _) => false,
        (_, Gauge) => {
            h.counter_reset_hint = Gauge;
            false
        }
        (Unknown, _) => false,
        (_, Unknown) => {
            h.counter_reset_hint = Unknown;
            false
        }
        _ => {
            h.counter_reset_hint = Unknown;
            true
        }
    }
}

/// True when two custom-bound lists are identical.
pub fn custom_bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The bounds present in both sorted lists.
pub(super) fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// What `x`'s zero count would be with the larger (or equal) zero threshold
/// `threshold`, together with the Kahan compensation of that sum and the threshold
/// actually needed (moved up to a bucket boundary if it would cut a populated
/// bucket). `comp` holds the compensation buckets parallel to `x`'s buckets.
pub(super) fn zero_count_for_larger_threshold(
    x: &FloatHistogram,
    mut threshold: f64,
    comp: Option<&FloatHistogram>,
) -> (f64, f64, f64) {
    let mut c_zero = comp.map_or(0.0, |c| c.zero_count);
    if threshold == x.zero_threshold {
        return (x.zero_count, threshold, c_zero);
    }
    'outer: loop {
        let mut zc = x.zero_count;
        for (i, b) in positive_buckets(x).iter().enumerate() {
            if b.lower >= threshold {
                break;
            }
            (zc, c_zero) = kahan_inc(b.count, zc, c_zero);
            if let Some(c) = comp {
                (zc, c_zero) = kahan_inc(
                    c.positive_buckets.get(i).copied().unwrap_or(0.0),
                    zc,
                    c_zero,
                );
            }
            if b.upper > threshold {
                if b.count != 0.0 {
                    threshold = b.upper;
                }
                break;
            }
        }
        for (i, b) in negative_buckets(x).iter().enumerate() {
            if b.upper <= -threshold {
                break;
            }
            (zc, c_zero) = kahan_inc(b.count, zc, c_zero);
            if let Some(c) = comp {
                (zc, c_zero) = kahan_inc(
                    c.negative_buckets.get(i).copied().unwrap_or(0.0),
                    zc,
                    c_zero,
                );
            }
            if b.lower < -threshold {
                if b.count != 0.0 {
                    threshold = -b.lower;
                    continue 'outer;
                }
                break;
            }
        }
        return (zc, threshold, c_zero);
    }
}

/// Drops the buckets of `h` (and the parallel compensation buckets) that now lie
/// within the zero bucket, then compacts.
pub(super) fn trim_buckets_in_zero_bucket(
    h: &mut FloatHistogram,
    mut comp: Option<&mut FloatHistogram>,
) {
    for (i, b) in positive_buckets(h).iter().enumerate() {
        if b.lower >= h.zero_threshold {
            break;
        }
        h.positive_buckets[i] = 0.0;
        if let Some(c) = comp.as_deref_mut()
            && let Some(v) = c.positive_buckets.get_mut(i)
        {
            *v = 0.0;
        }
    }
    for (i, b) in negative_buckets(h).iter().enumerate() {
        if b.upper <= -h.zero_threshold {
            break;
        }
        h.negative_buckets[i] = 0.0;
        if let Some(c) = comp.as_deref_mut()
            && let Some(v) = c.negative_buckets.get_mut(i)
        {
            *v = 0.0;
        }
    }
    match comp {
        Some(c) => kahan_compact(h, c),
        None => compact(h),
    }
}

/// Widens the zero buckets of `h` and (virtually) `other` to a common threshold.
/// Returns the zero count `other` would have, and its compensation term.
pub(super) fn reconcile_zero_buckets(
    h: &mut FloatHistogram,
    other: &FloatHistogram,
    mut comp: Option<&mut FloatHistogram>,
) -> (f64, f64) {
    let mut other_zero = other.zero_count;
    let mut other_c_zero = 0.0;
    let mut other_threshold = other.zero_threshold;
    let mut guard = 0;
    while other_threshold != h.zero_threshold && guard < 64 {
        guard += 1;
        if h.zero_threshold > other_threshold {
            (other_zero, other_threshold, other_c_zero) =
                zero_count_for_larger_threshold(other, h.zero_threshold, None);
        }
        if other_threshold > h.zero_threshold {
            let (zc, thr, cz) =
                zero_count_for_larger_threshold(h, other_threshold, comp.as_deref());
            h.zero_count = zc;
            h.zero_threshold = thr;
            if let Some(c) = comp.as_deref_mut() {
                c.zero_count = cz;
            }
            trim_buckets_in_zero_bucket(h, comp.as_deref_mut());
        }
    }
    (other_zero, other_c_zero)
}

/// Union-merges `b` into `a` (both sorted by index), negating `b` when subtracting.
/// Leading buckets of `b` whose absolute upper bound is within `threshold` are
/// skipped (they are already part of the zero bucket).
fn merge_pairs(
    a: &[(i32, f64)],
    b: &[(i32, f64)],
    exp_schema: Option<i32>,
    threshold: f64,
    negate: bool,
) -> Vec<(i32, f64)> {
    let skip = match exp_schema {
        Some(s) => b
            .iter()
            .take_while(|(idx, _)| get_bound_exponential(*idx, s) <= threshold)
            .count(),
        None => 0,
    };
    let b = &b[skip..];
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].0 < b[j].0);
        let take_b = i >= a.len() || (j < b.len() && b[j].0 < a[i].0);
        let bv = |v: f64| if negate { -v } else { v };
        if take_a {
            out.push(a[i]);
            i += 1;
        } else if take_b {
            out.push((b[j].0, bv(b[j].1)));
            j += 1;
        } else {
            out.push((a[i].0, a[i].1 + bv(b[j].1)));
            i += 1;
            j += 1;
        }
    }
    out
}

/// Maps the buckets of two custom-bucket histograms onto the intersection of their
/// bounds and adds (or subtracts) them there, with Kahan compensation. Returns the
/// populated `(index, value, compensation)` triples.
pub(super) fn add_custom_mismatched(
    negate: bool,
    a: &FloatHistogram,
    a_comp: Option<&[f64]>,
    b: &FloatHistogram,
    bounds: &[f64],
) -> Vec<(i32, f64, f64)> {
    let mut target = vec![0.0; bounds.len() + 1];
    let mut c_target = vec![0.0; bounds.len() + 1];
    let mut map = |h: &FloatHistogram, comp: Option<&[f64]>, neg: bool| {
        let mut inter = 0;
        for (bi, (src, value)) in pair_vec(&h.positive_spans, &h.positive_buckets)
            .into_iter()
            .enumerate()
        {
            let mut t = target.len() - 1;
            if src >= 0 && (src as usize) < h.custom_values.len() {
                let src_bound = h.custom_values[src as usize];
                while inter < bounds.len() {
                    if bounds[inter] >= src_bound {
                        t = inter;
                        break;
                    }
                    inter += 1;
                }
            }
            if neg {
                (target[t], c_target[t]) = kahan_inc(-value, target[t], c_target[t]);
            } else {
                (target[t], c_target[t]) = kahan_inc(value, target[t], c_target[t]);
                if let Some(c) = comp.and_then(|c| c.get(bi)) {
                    (target[t], c_target[t]) = kahan_inc(*c, target[t], c_target[t]);
                }
            }
        }
    };
    map(a, a_comp, false);
    map(b, None, negate);
    target
        .into_iter()
        .zip(c_target)
        .enumerate()
        .filter(|(_, (v, c))| *v != 0.0 || *c != 0.0)
        .map(|(i, (v, c))| (i as i32, v, c))
        .collect()
}

/// `h += other` (or `h -= other`), as Prometheus' `FloatHistogram.Add`/`Sub`.
pub fn combine(
    h: &mut FloatHistogram,
    other: &FloatHistogram,
    negate: bool,
) -> Result<Combined, IncompatibleSchemas> {
    if uses_custom(h) != uses_custom(other) {
        return Err(IncompatibleSchemas);
    }
    let mut out = Combined {
        counter_reset_collision: adjust_counter_reset(h, other),
        ..Default::default()
    };
    let sign = if negate { -1.0 } else { 1.0 };
    if !uses_custom(h) {
        let (oz, _) = reconcile_zero_buckets(h, other, None);
        h.zero_count += sign * oz;
    }
    h.count += sign * other.count;
    h.sum += sign * other.sum;
    if uses_custom(h) {
        if custom_bounds_match(&h.custom_values, &other.custom_values) {
            let merged = merge_pairs(
                &pair_vec(&h.positive_spans, &h.positive_buckets),
                &pair_vec(&other.positive_spans, &other.positive_buckets),
                None,
                0.0,
                negate,
            );
            (h.positive_spans, h.positive_buckets) = from_pairs(&merged);
        } else {
            out.nhcb_bounds_reconciled = true;
            let bounds = intersect_bounds(&h.custom_values, &other.custom_values);
            let triples = add_custom_mismatched(negate, h, None, other, &bounds);
            let pairs: Vec<(i32, f64)> = triples.iter().map(|(i, v, _)| (*i, *v)).collect();
            (h.positive_spans, h.positive_buckets) = from_pairs(&pairs);
            h.custom_values = bounds;
        }
        return Ok(out);
    }
    let mut hp = pair_vec(&h.positive_spans, &h.positive_buckets);
    let mut hn = pair_vec(&h.negative_spans, &h.negative_buckets);
    let mut op = pair_vec(&other.positive_spans, &other.positive_buckets);
    let mut on = pair_vec(&other.negative_spans, &other.negative_buckets);
    if other.schema < h.schema {
        hp = reduce_pairs(&hp, h.schema, other.schema);
        hn = reduce_pairs(&hn, h.schema, other.schema);
        h.schema = other.schema;
    } else if other.schema > h.schema {
        op = reduce_pairs(&op, other.schema, h.schema);
        on = reduce_pairs(&on, other.schema, h.schema);
    }
    let pos = merge_pairs(&hp, &op, Some(h.schema), h.zero_threshold, negate);
    let neg = merge_pairs(&hn, &on, Some(h.schema), h.zero_threshold, negate);
    (h.positive_spans, h.positive_buckets) = from_pairs(&pos);
    (h.negative_spans, h.negative_buckets) = from_pairs(&neg);
    Ok(out)
}

/// Scales every count and the sum by `factor`; a negative factor makes it a gauge.
pub fn mul(h: &mut FloatHistogram, factor: f64) {
    h.zero_count *= factor;
    h.count *= factor;
    h.sum *= factor;
    h.positive_buckets.iter_mut().for_each(|b| *b *= factor);
    h.negative_buckets.iter_mut().for_each(|b| *b *= factor);
    if factor < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Divides every count and the sum by `d`; dividing by zero drops all buckets.
pub fn div(h: &mut FloatHistogram, d: f64) {
    h.zero_count /= d;
    h.count /= d;
    h.sum /= d;
    if d == 0.0 {
        h.positive_buckets.clear();
        h.negative_buckets.clear();
        h.positive_spans.clear();
        h.negative_spans.clear();
        return;
    }
    h.positive_buckets.iter_mut().for_each(|b| *b /= d);
    h.negative_buckets.iter_mut().for_each(|b| *b /= d);
    if d < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// A copy of `h` in the coarser exponential `schema` (the counter reset hint is not
/// carried over when the schema changes, as in Prometheus).
pub fn copy_to_schema(h: &FloatHistogram, schema: i32) -> FloatHistogram {
    if schema == h.schema || uses_custom(h) {
        return h.clone();
    }
    let pos = reduce_pairs(
        &pair_vec(&h.positive_spans, &h.positive_buckets),
        h.schema,
        schema,
    );
    let neg = reduce_pairs(
        &pair_vec(&h.negative_spans, &h.negative_buckets),
        h.schema,
        schema,
    );
    let (positive_spans, positive_buckets) = from_pairs(&pos);
    let (negative_spans, negative_buckets) = from_pairs(&neg);
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        count: h.count,
        sum: h.sum,
        positive_spans,
        positive_buckets,
        negative_spans,
        negative_buckets,
        custom_values: Vec::new(),
    }
}

/// Removes empty buckets (the layout Prometheus' `Compact(0)` produces).
pub fn compact(h: &mut FloatHistogram) {
    for positive in [true, false] {
        let (spans, buckets) = if positive {
            (&mut h.positive_spans, &mut h.positive_buckets)
        } else {
            (&mut h.negative_spans, &mut h.negative_buckets)
        };
        let kept: Vec<(i32, f64)> = pair_vec(spans, buckets)
            .into_iter()
            .filter(|(_, c)| *c != 0.0)
            .collect();
        (*spans, *buckets) = from_pairs(&kept);
    }
}
