//! Comparing float native histograms: exact equality, counter-reset detection
//! between consecutive samples, overflow, and the size used for sample limits.

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram, Span};

use super::arith::{custom_bounds_match, zero_count_for_larger_threshold};
use super::buckets::{bucket_at, pairs, side_pairs};

/// The bucket indexes a span list describes.
fn layout(spans: &[Span]) -> Vec<i32> {
    let mut idx = 0i32;
    let mut out = Vec::new();
    for s in spans {
        idx = idx.wrapping_add(s.offset);
        for _ in 0..s.length {
            out.push(idx);
            idx = idx.wrapping_add(1);
        }
    }
    out
}

fn bits_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Exact equality: same schema, bounds, layout and bit-identical counts (the counter
/// reset hint is ignored).
pub fn equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    if a.schema != b.schema
        || a.count.to_bits() != b.count.to_bits()
        || a.sum.to_bits() != b.sum.to_bits()
    {
        return false;
    }
    if a.uses_custom_buckets() && !custom_bounds_match(&a.custom_values, &b.custom_values) {
        return false;
    }
    a.zero_threshold == b.zero_threshold
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && layout(&a.negative_spans) == layout(&b.negative_spans)
        && bits_eq(&a.negative_buckets, &b.negative_buckets)
        && layout(&a.positive_spans) == layout(&b.positive_spans)
        && bits_eq(&a.positive_buckets, &b.positive_buckets)
}

/// Size in bytes as Prometheus accounts it (a float sample is 16).
pub fn size(h: &FloatHistogram) -> usize {
    168 + 8
        * (h.positive_spans.len()
            + h.negative_spans.len()
            + h.positive_buckets.len()
            + h.negative_buckets.len()
            + h.custom_values.len())
}

/// True when any count, the sum or a bound is infinite.
pub fn has_overflow(h: &FloatHistogram) -> bool {
    h.zero_count.is_infinite()
        || h.count.is_infinite()
        || h.sum.is_infinite()
        || h.positive_buckets.iter().any(|v| v.is_infinite())
        || h.negative_buckets.iter().any(|v| v.is_infinite())
        || h.custom_values.iter().any(|v| v.is_infinite())
}

/// True when `cur` cannot follow `prev` without a counter reset: a count went down,
/// a populated bucket disappeared, the resolution went up or the zero bucket shrank.
/// The "reset"/"not reset" hints of `cur` decide without looking.
pub fn detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset => return false,
        _ => {}
    }
    if cur.count < prev.count {
        return true;
    }
    if cur.uses_custom_buckets() {
        if !prev.uses_custom_buckets() {
            return true;
        }
        if !custom_bounds_match(&cur.custom_values, &prev.custom_values) {
            return reset_with_mismatched_bounds(cur, prev);
        }
    }
    if cur.schema > prev.schema {
        return true;
    }
    if cur.zero_threshold < prev.zero_threshold {
        return true;
    }
    let (prev_zero, threshold, _) = zero_count_for_larger_threshold(prev, cur.zero_threshold, None);
    if threshold != cur.zero_threshold {
        return true;
    }
    if cur.zero_count < prev_zero {
        return true;
    }
    for positive in [true, false] {
        let c = side_pairs(cur, positive, cur.zero_threshold, cur.schema);
        let p = side_pairs(prev, positive, cur.zero_threshold, cur.schema);
        if side_reset(&c, &p) {
            return true;
        }
    }
    false
}

/// A reset when a bucket of `prev` is missing from `cur` while populated, or has a
/// smaller count in `cur`.
fn side_reset(cur: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut ci = 0;
    for &(pidx, pcount) in prev {
        while ci < cur.len() && cur[ci].0 < pidx {
            ci += 1;
        }
        match cur.get(ci) {
            Some(&(cidx, ccount)) if cidx == pidx => {
                if ccount < pcount {
                    return true;
                }
            }
            _ => {
                if pcount != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

/// Counter-reset detection for custom-bucket histograms with different bounds: the
/// cumulative counts are compared at every bound both share.
fn reset_with_mismatched_bounds(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    let cumulative_at = |h: &FloatHistogram| -> Vec<(f64, f64)> {
        // (upper bound, count) of every bucket, in order.
        pairs(&h.positive_spans, &h.positive_buckets)
            .map(|(i, c)| (bucket_at(i, c, h.schema, true, &h.custom_values).upper, c))
            .collect()
    };
    let cb = cumulative_at(cur);
    let pb = cumulative_at(prev);
    let mut shared: Vec<f64> = cur
        .custom_values
        .iter()
        .copied()
        .filter(|b| prev.custom_values.contains(b))
        .collect();
    shared.push(f64::INFINITY);
    let (mut ci, mut pi) = (0, 0);
    for bound in shared {
        let mut csum = 0.0;
        while ci < cb.len() && cb[ci].0 <= bound {
            csum += cb[ci].1;
            ci += 1;
        }
        let mut psum = 0.0;
        while pi < pb.len() && pb[pi].0 <= bound {
            psum += pb[pi].1;
            pi += 1;
        }
        if csum < psum {
            return true;
        }
    }
    false
}
