//! Walking the buckets of a float native histogram: as `(index, count)` pairs (the
//! form the arithmetic works on), optionally merged into a coarser schema, and as
//! [`Bucket`]s with their bounds (the form the quantile and fraction functions use).
//!
//! Malformed histograms (spans claiming more buckets than there are) are walked up to
//! the last real bucket, never past it.

use cortex_tsdb::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span};

use super::bounds::{get_bound, get_bound_exponential};

/// One bucket with its bounds. Negative buckets have negative bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// Number of observations.
    pub count: f64,
    /// Index within the schema (irrelevant for the zero bucket).
    pub index: i32,
}

impl Bucket {
    /// The fraction of this bucket's width at or below `v` (for `lower < v < upper`):
    /// linear interpolation for custom and zero buckets, on a log scale otherwise.
    pub fn fraction_below(&self, v: f64, linear: bool) -> f64 {
        if linear {
            return (v - self.lower) / (self.upper - self.lower);
        }
        let log_lower = self.lower.abs().log2();
        let log_upper = self.upper.abs().log2();
        let log_v = v.abs().log2();
        if v > 0.0 {
            (log_v - log_lower) / (log_upper - log_lower)
        } else {
            1.0 - ((log_v - log_upper) / (log_lower - log_upper))
        }
    }
}

/// The `(index, count)` pairs described by `spans` and `buckets`, in index order.
pub fn pairs<'a>(spans: &'a [Span], buckets: &'a [f64]) -> impl Iterator<Item = (i32, f64)> + 'a {
    let mut idx: i32 = 0;
    spans
        .iter()
        .flat_map(move |s| {
            idx = idx.wrapping_add(s.offset);
            let start = idx;
            idx = idx.wrapping_add(s.length as i32);
            (0..s.length).map(move |k| start.wrapping_add(k as i32))
        })
        .zip(buckets.iter().copied())
}

/// Collects pairs into a vector.
pub fn pair_vec(spans: &[Span], buckets: &[f64]) -> Vec<(i32, f64)> {
    pairs(spans, buckets).collect()
}

/// Builds spans and buckets from pairs in increasing index order, keeping every
/// bucket (also empty ones) and joining consecutive indexes into one span.
pub fn from_pairs(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::with_capacity(pairs.len());
    let mut next_idx: Option<i32> = None;
    for &(idx, count) in pairs {
        match (next_idx, spans.last_mut()) {
            (Some(n), Some(last)) if n == idx => last.length += 1,
            (Some(n), _) => spans.push(Span {
                offset: idx - n,
                length: 1,
            }),
            (None, _) => spans.push(Span {
                offset: idx,
                length: 1,
            }),
        }
        buckets.push(count);
        next_idx = Some(idx + 1);
    }
    (spans, buckets)
}

/// The bucket index in `target` schema that bucket `idx` of schema `origin` falls in.
pub fn target_idx(idx: i32, origin: i32, target: i32) -> i32 {
    ((idx - 1) >> (origin - target)) + 1
}

/// Merges pairs of schema `origin` into the coarser schema `target`.
pub fn reduce_pairs(pairs: &[(i32, f64)], origin: i32, target: i32) -> Vec<(i32, f64)> {
    if origin == target {
        return pairs.to_vec();
    }
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(pairs.len());
    for &(idx, count) in pairs {
        let t = target_idx(idx, origin, target);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += count,
            _ => out.push((t, count)),
        }
    }
    out
}

/// The pairs of one side of `h`, merged into `target` schema, skipping (for
/// exponential schemas) leading buckets whose absolute upper bound is at most
/// `abs_start`.
pub fn side_pairs(
    h: &FloatHistogram,
    positive: bool,
    abs_start: f64,
    target: i32,
) -> Vec<(i32, f64)> {
    let (spans, buckets) = if positive {
        (&h.positive_spans, &h.positive_buckets)
    } else {
        (&h.negative_spans, &h.negative_buckets)
    };
    let mut p = pair_vec(spans, buckets);
    if target != h.schema && h.schema != CUSTOM_BUCKETS_SCHEMA {
        p = reduce_pairs(&p, h.schema, target);
    }
    if abs_start != 0.0 && target != CUSTOM_BUCKETS_SCHEMA {
        let skip = p
            .iter()
            .take_while(|(idx, _)| get_bound_exponential(*idx, target) <= abs_start)
            .count();
        p.drain(..skip);
    }
    p
}

/// The bucket with index `idx` and `count` on the given side of a histogram with
/// `schema` and `custom_values`.
pub fn bucket_at(
    idx: i32,
    count: f64,
    schema: i32,
    positive: bool,
    custom_values: &[f64],
) -> Bucket {
    let (lower, upper) = if positive {
        (
            get_bound(idx - 1, schema, custom_values),
            get_bound(idx, schema, custom_values),
        )
    } else {
        (
            -get_bound(idx, schema, custom_values),
            -get_bound(idx - 1, schema, custom_values),
        )
    };
    let (lower_inclusive, upper_inclusive) = if schema == CUSTOM_BUCKETS_SCHEMA {
        (idx == 0, true)
    } else {
        (lower < 0.0, upper > 0.0)
    };
    Bucket {
        lower,
        upper,
        lower_inclusive,
        upper_inclusive,
        count,
        index: idx,
    }
}

/// Positive buckets from the zero bucket upwards.
pub fn positive_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    pairs(&h.positive_spans, &h.positive_buckets)
        .map(|(i, c)| bucket_at(i, c, h.schema, true, &h.custom_values))
        .collect()
}

/// Negative buckets from the zero bucket downwards.
pub fn negative_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    pairs(&h.negative_spans, &h.negative_buckets)
        .map(|(i, c)| bucket_at(i, c, h.schema, false, &[]))
        .collect()
}

/// The zero bucket `[-threshold, threshold]`.
pub fn zero_bucket(h: &FloatHistogram) -> Bucket {
    Bucket {
        lower: -h.zero_threshold,
        upper: h.zero_threshold,
        lower_inclusive: true,
        upper_inclusive: true,
        count: h.zero_count,
        index: 0,
    }
}

/// All buckets in ascending order of their bounds: negative buckets, the zero bucket
/// (if populated), positive buckets. Buckets overlapping the zero bucket are clipped
/// to its threshold.
pub fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut out = Vec::with_capacity(h.positive_buckets.len() + h.negative_buckets.len() + 1);
    let clip = |mut b: Bucket| {
        if b.upper < 0.0 && b.upper > -h.zero_threshold {
            b.upper = -h.zero_threshold;
        } else if b.lower > 0.0 && b.lower < h.zero_threshold {
            b.lower = h.zero_threshold;
        }
        b
    };
    out.extend(negative_buckets(h).into_iter().rev().map(clip));
    if h.zero_count > 0.0 {
        out.push(zero_bucket(h));
    }
    out.extend(positive_buckets(h).into_iter().map(clip));
    out
}

/// All buckets in descending order of their bounds.
pub fn all_buckets_reverse(h: &FloatHistogram) -> Vec<Bucket> {
    let mut v = all_buckets(h);
    v.reverse();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> FloatHistogram {
        FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 10.0,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            positive_buckets: vec![1.0, 2.0, 3.0],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![2.0],
            ..Default::default()
        }
    }

    #[test]
    fn pairs_follow_spans() {
        let h = h();
        assert_eq!(
            pair_vec(&h.positive_spans, &h.positive_buckets),
            vec![(0, 1.0), (1, 2.0), (3, 3.0)]
        );
        let (spans, buckets) = from_pairs(&[(0, 1.0), (1, 2.0), (3, 3.0)]);
        assert_eq!(spans, h.positive_spans);
        assert_eq!(buckets, h.positive_buckets);
    }

    #[test]
    fn reducing_schema_merges_pairs() {
        // Schema 1 buckets 1,2 fall into schema 0 bucket 1; 3,4 into 2.
        assert_eq!(
            reduce_pairs(&[(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)], 1, 0),
            vec![(1, 3.0), (2, 12.0)]
        );
    }

    #[test]
    fn all_buckets_are_ordered_with_bounds() {
        let b = all_buckets(&h());
        let bounds: Vec<(f64, f64, f64)> = b.iter().map(|b| (b.lower, b.upper, b.count)).collect();
        assert_eq!(
            bounds,
            vec![
                (-2.0, -1.0, 2.0),
                (-0.001, 0.001, 2.0),
                (0.5, 1.0, 1.0),
                (1.0, 2.0, 2.0),
                (4.0, 8.0, 3.0),
            ]
        );
        assert!(b[2].upper_inclusive && !b[2].lower_inclusive);
    }

    #[test]
    fn malformed_spans_stop_at_last_bucket() {
        let spans = [Span {
            offset: 0,
            length: 5,
        }];
        assert_eq!(pairs(&spans, &[1.0, 2.0]).count(), 2);
    }
}
