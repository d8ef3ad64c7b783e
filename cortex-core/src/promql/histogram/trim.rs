//! The trim operators `</` and `>/` on native histograms: drop the observations above
//! (or below) a value, interpolating within the bucket that contains it, and
//! re-estimate count and sum from the surviving buckets.

use cortex_tsdb::histogram::FloatHistogram;

use super::arith::compact;
use super::buckets::{Bucket, negative_buckets, positive_buckets, zero_bucket};

/// Trims `h` in place: with `upper`, keeps observations below `rhs` (`h </ rhs`);
/// otherwise keeps those above it (`h >/ rhs`).
pub fn trim_buckets(h: &mut FloatHistogram, rhs: f64, upper: bool) {
    let custom = h.uses_custom_buckets();
    let mut count = 0.0;
    let mut sum = 0.0;
    let mut trimmed = false;
    let mut has = [false, false];
    for (side, positive) in [true, false].into_iter().enumerate() {
        let buckets = if positive {
            positive_buckets(h)
        } else {
            negative_buckets(h)
        };
        for (i, b) in buckets.iter().enumerate() {
            if b.count == 0.0 {
                continue;
            }
            has[side] = true;
            let (keep_all, partial) = if upper {
                (b.upper <= rhs, b.lower < rhs)
            } else {
                (b.lower >= rhs, b.upper > rhs)
            };
            let slot = if positive {
                &mut h.positive_buckets[i]
            } else {
                &mut h.negative_buckets[i]
            };
            if keep_all {
                count += b.count;
                sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
            } else if partial {
                let (keep, mid) = bucket_trim(b, rhs, upper, positive, custom);
                count += keep;
                sum += mid * keep;
                if *slot != keep {
                    *slot = keep;
                    trimmed = true;
                }
            } else {
                *slot = 0.0;
                trimmed = true;
            }
        }
    }
    if h.zero_count > 0.0 {
        let (keep, mid) = zero_trim(&zero_bucket(h), rhs, has[1], has[0], upper);
        if h.zero_count != keep {
            h.zero_count = keep;
            trimmed = true;
        }
        sum += mid * keep;
        count += keep;
    }
    if trimmed {
        h.count = count;
        h.sum = sum;
        compact(h);
    }
}

fn infinity_bucket(upper: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    let zero_if_inf = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper != f64::INFINITY {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_inf(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper != f64::INFINITY {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_inf(b.upper));
    }
    if upper {
        return (0.0, zero_if_inf(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, zero_if_inf(b.lower))
}

fn split(b: &Bucket, rhs: f64, linear: bool) -> f64 {
    if rhs <= b.lower {
        return 0.0;
    }
    if rhs >= b.upper {
        return b.count;
    }
    b.count * b.fraction_below(rhs, linear)
}

fn zero_trim(
    z: &Bucket,
    rhs: f64,
    has_negative: bool,
    has_positive: bool,
    upper: bool,
) -> (f64, f64) {
    let mut lower = z.lower;
    let mut up = z.upper;
    if has_negative && !has_positive {
        up = 0.0;
    }
    if has_positive && !has_negative {
        lower = 0.0;
    }
    if upper {
        if rhs <= lower {
            return (0.0, 0.0);
        }
        if rhs >= up {
            return (z.count, (lower + up) / 2.0);
        }
        (z.count * (rhs - lower) / (up - lower), (lower + rhs) / 2.0)
    } else {
        if rhs <= lower {
            return (z.count, (lower + up) / 2.0);
        }
        if rhs >= up {
            return (0.0, 0.0);
        }
        (z.count * (up - rhs) / (up - lower), (rhs + up) / 2.0)
    }
}

fn bucket_trim(b: &Bucket, rhs: f64, upper: bool, positive: bool, custom: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinity_bucket(upper, b, rhs);
    }
    let under = split(b, rhs, custom);
    if upper {
        (under, midpoint(b.lower, rhs, positive, custom))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, custom))
    }
}

fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        if upper > 0.0 {
            return upper / 2.0;
        }
        return upper;
    } else if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let geo = (lower * upper).abs().sqrt();
    if positive { geo } else { -geo }
}
