//! Quantiles and fractions: of a set of values (`quantile`, `quantile_over_time`),
//! of classic histograms given as cumulative `le` buckets, and of native histograms
//! (interpolating within a bucket linearly, or exponentially for exponential
//! buckets).

use std::cmp::Ordering;

use cortex_tsdb::histogram::FloatHistogram;

use super::annotations::{Annotation, kinds};
use super::histogram::{Bucket as HBucket, all_buckets, all_buckets_reverse};
use super::parser::PosRange;

/// Relative differences below this between adjacent cumulative buckets are treated
/// as float noise, not as a monotonicity violation.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Prometheus' approximate float equality (relative `epsilon`; NaN equals NaN).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Orders NaN before every number.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// The `q`-quantile of `values` (sorted in place), interpolating between ranks.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// A classic histogram bucket: upper bound (`le`) and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The `le` bound.
    pub upper: f64,
    /// Observations at or below `upper`.
    pub count: f64,
}

/// What fixing a classic histogram's buckets took.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Monotonicity {
    /// Counts had to be raised to make them non-decreasing.
    pub forced: bool,
    /// Smallest bound that was raised.
    pub min_bucket: f64,
    /// Largest bound that was raised.
    pub max_bucket: f64,
    /// Largest raise.
    pub max_diff: f64,
}

fn sort_and_coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| a.upper.partial_cmp(&b.upper).unwrap_or(Ordering::Equal));
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

fn ensure_monotonic(buckets: &mut [Bucket]) -> Monotonicity {
    let mut m = Monotonicity {
        min_bucket: f64::INFINITY,
        max_bucket: f64::NEG_INFINITY,
        ..Default::default()
    };
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if cur < prev {
            b.count = prev;
            m.forced = true;
            m.min_bucket = m.min_bucket.min(b.upper);
            m.max_bucket = m.max_bucket.max(b.upper);
            m.max_diff = m.max_diff.max(prev - cur);
            continue;
        }
        prev = cur;
    }
    m
}

/// The `q`-quantile of a classic histogram, by linear interpolation within the bucket
/// holding the rank. NaN without a `+Inf` bucket or without observations.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, Monotonicity) {
    let none = Monotonicity::default();
    if q.is_nan() {
        return (f64::NAN, none);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, none);
    }
    if q > 1.0 {
        return (f64::INFINITY, none);
    }
    if buckets.is_empty() {
        return (f64::NAN, none);
    }
    sort_and_coalesce(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, none);
    }
    let m = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, m);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, m);
    }
    let mut rank = q * observations;
    let n = buckets.len();
    let b = buckets[..n - 1].partition_point(|x| x.count < rank);
    let v = if b == n - 1 {
        buckets[n - 2].upper
    } else if b == 0 && buckets[0].upper <= 0.0 {
        buckets[0].upper
    } else {
        let end = buckets[b].upper;
        let mut count = buckets[b].count;
        let mut start = 0.0;
        if b > 0 {
            start = buckets[b - 1].upper;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    (v, m)
}

/// The fraction of a classic histogram's observations between `lower` and `upper`.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if buckets.is_empty() {
        return f64::NAN;
    }
    sort_and_coalesce(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper;
        }
        let upper_bound = b.upper;
        let interp = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// The `q`-quantile of a native histogram, with the notes Prometheus attaches when
/// NaN observations skew it.
pub fn histogram_quantile(
    q: f64,
    h: &FloatHistogram,
    metric: &str,
    pos: PosRange,
) -> (f64, Vec<Annotation>) {
    let mut annos = Vec::new();
    if q < 0.0 {
        return (f64::NEG_INFINITY, annos);
    }
    if q > 1.0 {
        return (f64::INFINITY, annos);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, annos);
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let buckets = if forward {
        all_buckets(h)
    } else {
        all_buckets_reverse(h)
    };
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut bucket = HBucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
        index: 0,
    };
    let mut idx = 0;
    while idx < buckets.len() {
        bucket = buckets[idx];
        idx += 1;
        if bucket.count == 0.0 {
            continue;
        }
        count += bucket.count;
        if count >= rank {
            break;
        }
    }
    let custom = h.uses_custom_buckets();
    if !custom && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            bucket.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            bucket.upper = 0.0;
        }
    } else if custom {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return (bucket.upper, annos);
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return (bucket.lower, annos);
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            annos.push(kinds::quantile_nan_result(metric, pos));
            return (f64::NAN, annos);
        }
        return (bucket.upper, annos);
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    if h.sum.is_nan() {
        while idx < buckets.len() {
            bucket = buckets[idx];
            idx += 1;
            count += bucket.count;
        }
        if count < h.count {
            annos.push(kinds::quantile_nan_skew(metric, pos));
        }
    }
    let fraction = rank / bucket.count;
    if custom || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return (
            bucket.lower + (bucket.upper - bucket.lower) * fraction,
            annos,
        );
    }
    let log_lower = bucket.lower.abs().log2();
    let log_upper = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        return (
            (log_lower + (log_upper - log_lower) * fraction).exp2(),
            annos,
        );
    }
    (
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2(),
        annos,
    )
}

/// The fraction of a native histogram's observations between `lower` and `upper`.
pub fn histogram_fraction(
    lower: f64,
    upper: f64,
    h: &FloatHistogram,
    metric: &str,
    pos: PosRange,
) -> (f64, Vec<Annotation>) {
    let mut annos = Vec::new();
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, annos);
    }
    if lower >= upper {
        return (0.0, annos);
    }
    let buckets = all_buckets(h);
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let custom = h.uses_custom_buckets();
    let mut idx = 0;
    while idx < buckets.len() {
        let mut b = buckets[idx];
        idx += 1;
        count += b.count;
        let mut zero = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let interp = |v: f64| {
            if custom || zero {
                if b.lower == f64::NEG_INFINITY {
                    return b.count;
                }
                rank + b.count * b.fraction_below(v, true)
            } else {
                rank + b.count * b.fraction_below(v, false)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    if h.sum.is_nan() {
        while idx < buckets.len() {
            count += buckets[idx].count;
            idx += 1;
        }
        if count < h.count {
            annos.push(kinds::fraction_nans(metric, pos));
        }
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    ((upper_rank - lower_rank) / h.count, annos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(upper: f64, count: f64) -> Bucket {
        Bucket { upper, count }
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(quantile(0.0, &mut [4.0, 1.0]), 1.0);
        assert!(quantile(f64::NAN, &mut [1.0]).is_nan());
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }

    #[test]
    fn classic_quantile_interpolates_within_bucket() {
        let mut bs = vec![b(1.0, 10.0), b(f64::INFINITY, 20.0), b(2.0, 20.0)];
        let (v, m) = bucket_quantile(0.5, &mut bs);
        assert_eq!(v, 1.0);
        assert!(!m.forced);
        let mut bs = vec![b(1.0, 10.0), b(2.0, 20.0), b(f64::INFINITY, 20.0)];
        assert_eq!(bucket_quantile(0.75, &mut bs).0, 1.5);
        // Without +Inf there is no answer.
        assert!(bucket_quantile(0.5, &mut vec![b(1.0, 1.0)]).0.is_nan());
    }

    #[test]
    fn non_monotonic_buckets_are_fixed_and_reported() {
        let mut bs = vec![b(1.0, 10.0), b(2.0, 8.0), b(f64::INFINITY, 12.0)];
        let (_, m) = bucket_quantile(0.5, &mut bs);
        assert!(m.forced);
        assert_eq!((m.min_bucket, m.max_bucket, m.max_diff), (2.0, 2.0, 2.0));
    }

    #[test]
    fn classic_fraction() {
        let mut bs = vec![b(1.0, 10.0), b(2.0, 20.0), b(f64::INFINITY, 20.0)];
        assert_eq!(bucket_fraction(0.0, 1.0, &mut bs), 0.5);
        assert_eq!(bucket_fraction(1.0, 1.5, &mut bs), 0.25);
    }

    #[test]
    fn almost_equal_is_relative() {
        assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
        assert!(!almost_equal(1.0, 1.1, 1e-6));
        assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
        assert!(!almost_equal(0.0, 1e-300, 1e-6));
    }
}
