//! Putting range query results back together: a matrix cut to a stretch of time, and
//! matrices of the same query over different stretches merged into one, series
//! sorted by labels as the engine sorts a range query's result.

use std::collections::BTreeMap;

use cortex_tsdb::labels::Labels;

use crate::promql::value::{Matrix, Series};

/// The points of `matrix` in `[start, end]`; series left without points are dropped.
pub fn slice_matrix(matrix: &Matrix, start: i64, end: i64) -> Matrix {
    matrix
        .iter()
        .filter_map(|s| {
            let floats = window(&s.floats, |p| p.t, start, end);
            let histograms = window(&s.histograms, |p| p.t, start, end);
            if floats.is_empty() && histograms.is_empty() {
                return None;
            }
            Some(Series {
                metric: s.metric.clone(),
                floats: floats.to_vec(),
                histograms: histograms.to_vec(),
                drop_name: s.drop_name,
            })
        })
        .collect()
}

/// The points of a time-sorted slice with timestamps in `[start, end]`.
fn window<T>(points: &[T], t: impl Fn(&T) -> i64, start: i64, end: i64) -> &[T] {
    let from = points.partition_point(|p| t(p) < start);
    let to = points.partition_point(|p| t(p) <= end);
    &points[from..to.max(from)]
}

/// Merges matrices into one: series with the same labels are joined, their points
/// sorted by time with one point per timestamp (the earliest matrix's wins), and the
/// series sorted by labels.
pub fn merge_matrices(parts: impl IntoIterator<Item = Matrix>) -> Matrix {
    let mut by_labels: BTreeMap<Labels, Series> = BTreeMap::new();
    for part in parts {
        for s in part {
            match by_labels.get_mut(&s.metric) {
                None => {
                    by_labels.insert(s.metric.clone(), s);
                }
                Some(have) => {
                    merge_points(&mut have.floats, s.floats, |p| p.t);
                    merge_points(&mut have.histograms, s.histograms, |p| p.t);
                }
            }
        }
    }
    by_labels.into_values().collect()
}

/// Merges time-sorted `more` into time-sorted `into`, keeping `into`'s point where
/// both have one at the same timestamp.
fn merge_points<T>(into: &mut Vec<T>, more: Vec<T>, t: impl Fn(&T) -> i64) {
    if more.is_empty() {
        return;
    }
    match (into.last(), more.first()) {
        (None, _) => {
            *into = more;
            return;
        }
        (Some(last), Some(first)) if t(last) < t(first) => {
            into.extend(more);
            return;
        }
        _ => {}
    }
    let old = std::mem::take(into);
    into.reserve(old.len() + more.len());
    let mut a = old.into_iter().peekable();
    let mut b = more.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) => {
                if t(x) == t(y) {
                    b.next();
                    true
                } else {
                    t(x) < t(y)
                }
            }
        };
        let next = if take_a { a.next() } else { b.next() };
        into.extend(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::value::FPoint;

    fn series(name: &str, points: &[(i64, f64)]) -> Series {
        let mut s = Series::new(Labels::from_pairs([("__name__", name)]).unwrap());
        s.floats = points.iter().map(|&(t, f)| FPoint { t, f }).collect();
        s
    }

    fn times(s: &Series) -> Vec<i64> {
        s.floats.iter().map(|p| p.t).collect()
    }

    #[test]
    fn slicing_keeps_the_window_and_drops_empty_series() {
        let m = vec![
            series("a", &[(0, 1.0), (10, 2.0), (20, 3.0)]),
            series("b", &[(30, 1.0)]),
        ];
        let got = slice_matrix(&m, 5, 20);
        assert_eq!(got.len(), 1);
        assert_eq!(times(&got[0]), vec![10, 20]);
        assert!(slice_matrix(&m, 21, 29).is_empty());
    }

    #[test]
    fn merging_joins_series_sorts_them_and_drops_duplicate_points() {
        let first = vec![series("b", &[(0, 1.0), (10, 2.0)])];
        let second = vec![
            series("a", &[(20, 5.0)]),
            series("b", &[(10, 99.0), (20, 3.0)]),
        ];
        let third = vec![series("b", &[(5, 0.5)])];
        let got = merge_matrices([first, second, third]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].metric.metric_name(), Some("a"));
        assert_eq!(times(&got[1]), vec![0, 5, 10, 20]);
        assert_eq!(got[1].floats[2].f, 2.0, "the first matrix's point wins");
    }
}
