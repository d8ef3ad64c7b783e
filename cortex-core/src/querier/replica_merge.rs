//! Merging copies of the same series: the answers of replicated ingesters, or the
//! recent and older halves of a query. Copies with equal labels become one series
//! whose samples are the union of theirs, one per timestamp; where copies disagree at
//! a timestamp the earlier copy (in the order given) wins, so the choice does not
//! depend on which answer arrived first. Series come out sorted by labels.
//!
//! Exemplar answers merge the same way: one series per label set, one exemplar per
//! timestamp (Cortex keeps the first copy's at equal timestamps too, whatever its
//! labels and value).
//!
//! Also the [`Series`] the merged data is handed out as.

use cortex_tsdb::exemplar::{Exemplar, ExemplarSeries};
use cortex_tsdb::labels::Labels;

use super::memory::SliceIterator;
use super::{Sample, SampleIterator, Series};
use crate::ingester::api::SeriesData;

/// A series held in memory after merging.
#[derive(Debug, Clone)]
pub(crate) struct MergedSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(SliceIterator::new(&self.samples))
    }
}

/// The series of every copy in `copies` (each a list of series, in priority order),
/// merged by labels and sorted by labels.
pub(crate) fn merge_copies(copies: Vec<Vec<SeriesData>>) -> Vec<MergedSeries> {
    let mut all: Vec<(usize, SeriesData)> = copies
        .into_iter()
        .enumerate()
        .flat_map(|(i, list)| list.into_iter().map(move |s| (i, s)))
        .collect();
    // Stable on equal labels, and the copy index breaks ties explicitly.
    all.sort_by(|a, b| a.1.labels.cmp(&b.1.labels).then(a.0.cmp(&b.0)));
    let mut out: Vec<MergedSeries> = Vec::new();
    for (_, s) in all {
        let samples = sorted_unique(s.samples);
        match out.last_mut() {
            Some(last) if last.labels == s.labels => {
                let earlier = std::mem::take(&mut last.samples);
                last.samples = merge_samples(earlier, samples);
            }
            _ => out.push(MergedSeries {
                labels: s.labels,
                samples,
            }),
        }
    }
    out.retain(|s| !s.samples.is_empty());
    out
}

/// `samples` sorted by timestamp with one sample per timestamp (the first of equals).
/// Answers are sorted already; this guards against one that is not.
pub(crate) fn sorted_unique(samples: Vec<Sample>) -> Vec<Sample> {
    sorted_unique_by(samples, |s| s.t)
}

/// The union of two sorted, duplicate-free sample runs; at equal timestamps the sample
/// of `first` is kept.
pub(crate) fn merge_samples(first: Vec<Sample>, second: Vec<Sample>) -> Vec<Sample> {
    merge_by_time(first, second, |s| s.t)
}

/// The exemplar series of every answer in `copies` (each sorted or not, in priority
/// order), merged by labels: series sorted by labels, each with the union of its
/// copies' exemplars in time order, one per timestamp (the earliest copy's).
pub(crate) fn merge_exemplar_copies(copies: Vec<Vec<ExemplarSeries>>) -> Vec<ExemplarSeries> {
    let mut all: Vec<(usize, ExemplarSeries)> = copies
        .into_iter()
        .enumerate()
        .flat_map(|(i, list)| list.into_iter().map(move |s| (i, s)))
        .collect();
    all.sort_by(|a, b| {
        a.1.series_labels
            .cmp(&b.1.series_labels)
            .then(a.0.cmp(&b.0))
    });
    let mut out: Vec<ExemplarSeries> = Vec::new();
    for (_, s) in all {
        let exemplars = sorted_unique_by(s.exemplars, |e: &Exemplar| e.ts);
        match out.last_mut() {
            Some(last) if last.series_labels == s.series_labels => {
                let earlier = std::mem::take(&mut last.exemplars);
                last.exemplars = merge_by_time(earlier, exemplars, |e| e.ts);
            }
            _ => out.push(ExemplarSeries {
                series_labels: s.series_labels,
                exemplars,
            }),
        }
    }
    out.retain(|s| !s.exemplars.is_empty());
    out
}

/// `items` sorted by `time` with one item per time (the first of equals). Answers are
/// sorted already; this guards against one that is not.
fn sorted_unique_by<T>(mut items: Vec<T>, time: impl Fn(&T) -> i64) -> Vec<T> {
    if !items.is_sorted_by(|a, b| time(a) < time(b)) {
        items.sort_by_key(&time);
        items.dedup_by_key(|x| time(x));
    }
    items
}

/// The union of two runs sorted by `time` without duplicate times; at equal times the
/// item of `first` is kept.
fn merge_by_time<T>(first: Vec<T>, second: Vec<T>, time: impl Fn(&T) -> i64) -> Vec<T> {
    if second.is_empty() {
        return first;
    }
    if first.is_empty() {
        return second;
    }
    let mut out = Vec::with_capacity(first.len().max(second.len()));
    let mut a = first.into_iter().peekable();
    let mut b = second.into_iter().peekable();
    loop {
        let next = match (a.peek().map(&time), b.peek().map(&time)) {
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(x), Some(y)) if x > y => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => None,
        };
        match next {
            Some(x) => out.push(x),
            None => return out,
        }
    }
}

/// The union of sorted, duplicate-free string lists, sorted and duplicate-free.
pub(crate) fn union_sorted(lists: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::querier::SampleValue;

    fn s(t: i64, v: f64) -> Sample {
        Sample {
            t,
            st: 0,
            value: SampleValue::Float(v),
        }
    }

    fn ls(v: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("i", v)]).expect("valid labels")
    }

    fn values(samples: &[Sample]) -> Vec<(i64, f64)> {
        samples
            .iter()
            .map(|x| match x.value {
                SampleValue::Float(v) => (x.t, v),
                SampleValue::Histogram(_) => (x.t, f64::NAN),
            })
            .collect()
    }

    #[test]
    fn merge_keeps_first_copy_at_equal_timestamps() {
        let got = merge_samples(vec![s(1, 1.0), s(3, 3.0)], vec![s(1, 9.0), s(2, 2.0)]);
        assert_eq!(values(&got), [(1, 1.0), (2, 2.0), (3, 3.0)]);
    }

    #[test]
    fn copies_merge_by_labels_into_sorted_series() {
        let a = vec![
            SeriesData {
                labels: ls("x"),
                samples: vec![s(1, 1.0)],
            },
            SeriesData {
                labels: ls("y"),
                samples: vec![s(1, 5.0)],
            },
        ];
        let b = vec![SeriesData {
            labels: ls("x"),
            samples: vec![s(1, 7.0), s(2, 2.0)],
        }];
        let c = vec![SeriesData {
            labels: ls("w"),
            samples: vec![s(4, 4.0)],
        }];
        let got = merge_copies(vec![b, a, c]);
        let names: Vec<_> = got.iter().map(|m| m.labels.get("i")).collect();
        assert_eq!(names, [Some("w"), Some("x"), Some("y")]);
        // `b` came first, so its value wins at t=1.
        assert_eq!(values(&got[1].samples), [(1, 7.0), (2, 2.0)]);
    }

    #[test]
    fn unsorted_answer_is_sorted_and_deduplicated() {
        let got = sorted_unique(vec![s(3, 3.0), s(1, 1.0), s(3, 4.0)]);
        assert_eq!(values(&got), [(1, 1.0), (3, 3.0)]);
    }

    fn ex(ts: i64, value: f64, trace: &str) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]).expect("valid labels"),
            value,
            ts,
        }
    }

    fn exemplar_series(i: &str, exemplars: Vec<Exemplar>) -> ExemplarSeries {
        ExemplarSeries {
            series_labels: ls(i),
            exemplars,
        }
    }

    /// Each series' `i` label and its exemplars as (timestamp, trace id).
    fn exemplar_view(got: &[ExemplarSeries]) -> Vec<(String, Vec<(i64, String)>)> {
        got.iter()
            .map(|s| {
                let es = s
                    .exemplars
                    .iter()
                    .map(|e| (e.ts, e.labels.get("trace_id").unwrap_or("").to_string()))
                    .collect();
                (s.series_labels.get("i").unwrap_or("").to_string(), es)
            })
            .collect()
    }

    #[test]
    fn exemplar_copies_merge_into_one_series_per_label_set() {
        let first = vec![
            exemplar_series("x", vec![ex(1, 1.0, "a"), ex(3, 3.0, "c")]),
            exemplar_series("z", vec![ex(5, 5.0, "z")]),
        ];
        let second = vec![
            exemplar_series("w", vec![ex(2, 2.0, "w")]),
            // Same timestamp, other labels and value: the first copy's stays.
            exemplar_series("x", vec![ex(1, 9.0, "other"), ex(2, 2.0, "b")]),
        ];
        let third = vec![exemplar_series("x", vec![ex(4, 4.0, "d")])];
        let got = merge_exemplar_copies(vec![first, second, third]);
        let want = vec![
            ("w".to_string(), vec![(2, "w".to_string())]),
            (
                "x".to_string(),
                vec![
                    (1, "a".to_string()),
                    (2, "b".to_string()),
                    (3, "c".to_string()),
                    (4, "d".to_string()),
                ],
            ),
            ("z".to_string(), vec![(5, "z".to_string())]),
        ];
        assert_eq!(exemplar_view(&got), want);
        assert_eq!(
            got[1].exemplars[0].value, 1.0,
            "the first copy's value wins"
        );
    }

    #[test]
    fn exemplar_merge_does_not_depend_on_which_replica_answered_first() {
        let a = vec![exemplar_series("x", vec![ex(1, 1.0, "a")])];
        let b = vec![exemplar_series("x", vec![ex(1, 1.0, "a"), ex(2, 2.0, "b")])];
        let ab = merge_exemplar_copies(vec![a.clone(), b.clone()]);
        let ba = merge_exemplar_copies(vec![b, a]);
        assert_eq!(exemplar_view(&ab), exemplar_view(&ba));
        assert_eq!(
            exemplar_view(&ab),
            [(
                "x".to_string(),
                vec![(1, "a".to_string()), (2, "b".to_string())]
            )]
        );
    }

    #[test]
    fn unsorted_exemplar_answer_is_sorted_and_empty_series_dropped() {
        let got = merge_exemplar_copies(vec![vec![
            exemplar_series("y", vec![ex(3, 3.0, "c"), ex(1, 1.0, "a"), ex(3, 4.0, "d")]),
            exemplar_series("x", vec![]),
        ]]);
        assert_eq!(
            exemplar_view(&got),
            [(
                "y".to_string(),
                vec![(1, "a".to_string()), (3, "c".to_string())]
            )]
        );
    }

    #[test]
    fn series_without_samples_are_dropped() {
        let got = merge_copies(vec![vec![SeriesData {
            labels: ls("x"),
            samples: vec![],
        }]]);
        assert!(got.is_empty());
    }
}
