//! Sorting functions: by value (`sort`, `sort_desc`; NaN last) and by label values
//! in natural order (`sort_by_label`, `sort_by_label_desc`).

use std::cmp::Ordering;

use super::FnArgs;
use crate::promql::engine::EvalError;
use crate::promql::engine::call::string_arg;
use crate::promql::value::Sample;

type R = Result<(), EvalError>;

fn floats(a: &FnArgs<'_>) -> Vec<Sample> {
    a.vals[0]
        .iter()
        .filter(|s| s.h.is_none())
        .cloned()
        .collect()
}

/// `sort(v)`: ascending, NaN last.
pub(super) fn sort(a: &mut FnArgs<'_>) -> R {
    let mut v = floats(a);
    v.sort_by(|x, y| match (x.f.is_nan(), y.f.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.f.partial_cmp(&y.f).unwrap_or(Ordering::Equal),
    });
    a.enh.out = v;
    Ok(())
}

/// `sort_desc(v)`: descending, NaN last.
pub(super) fn sort_desc(a: &mut FnArgs<'_>) -> R {
    let mut v = floats(a);
    v.sort_by(|x, y| match (x.f.is_nan(), y.f.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => y.f.partial_cmp(&x.f).unwrap_or(Ordering::Equal),
    });
    a.enh.out = v;
    Ok(())
}

fn by_label(a: &mut FnArgs<'_>, desc: bool) -> R {
    let names: Vec<&str> = a.args[1..].iter().map(string_arg).collect();
    let mut v = a.vals[0].clone();
    v.sort_by(|x, y| {
        for n in &names {
            let (lx, ly) = (x.metric.get(n).unwrap_or(""), y.metric.get(n).unwrap_or(""));
            if lx == ly {
                continue;
            }
            let o = if natural_less(lx, ly) {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            return if desc { o.reverse() } else { o };
        }
        let o = x.metric.cmp(&y.metric);
        if desc { o.reverse() } else { o }
    });
    a.enh.out = v;
    Ok(())
}

/// `sort_by_label(v, label, ...)`
pub(super) fn sort_by_label(a: &mut FnArgs<'_>) -> R {
    by_label(a, false)
}

/// `sort_by_label_desc(v, label, ...)`
pub(super) fn sort_by_label_desc(a: &mut FnArgs<'_>) -> R {
    by_label(a, true)
}

/// Splits a string into alternating runs of digits and non-digits.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut start = 0;
    for i in 1..=b.len() {
        if i == b.len() || b[i].is_ascii_digit() != b[i - 1].is_ascii_digit() {
            out.push(&s[start..i]);
            start = i;
        }
    }
    out
}

/// Natural ordering as the `natsort` package Prometheus uses defines it: strings are
/// compared chunk by chunk; two digit chunks compare numerically, anything else
/// lexically.
pub(crate) fn natural_less(a: &str, b: &str) -> bool {
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        if x == y {
            continue;
        }
        let xd = x.bytes().all(|c| c.is_ascii_digit());
        let yd = y.bytes().all(|c| c.is_ascii_digit());
        if xd && yd {
            let xt = x.trim_start_matches('0');
            let yt = y.trim_start_matches('0');
            if xt.len() != yt.len() {
                return xt.len() < yt.len();
            }
            if xt != yt {
                return xt < yt;
            }
            continue;
        }
        return x < y;
    }
    ca.len() < cb.len()
}

#[cfg(test)]
mod tests {
    use super::natural_less;

    #[test]
    fn natural_order_compares_numbers_numerically() {
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("abc", "abd"));
        assert!(natural_less("1", "a"));
        assert!(natural_less("a", "ab"));
    }
}
