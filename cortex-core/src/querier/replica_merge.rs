//! Merging copies of the same series: the answers of replicated ingesters, or the
//! recent and older halves of a query. Copies with equal labels become one series
//! whose samples are the union of theirs, one per timestamp; where copies disagree at
//! a timestamp the earlier copy (in the order given) wins, so the choice does not
//! depend on which answer arrived first. Series come out sorted by labels.
//!
//! Also the [`Series`] the merged data is handed out as.

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
pub(crate) fn sorted_unique(mut samples: Vec<Sample>) -> Vec<Sample> {
    if !samples.is_sorted_by(|a, b| a.t < b.t) {
        samples.sort_by_key(|s| s.t);
        samples.dedup_by_key(|s| s.t);
    }
    samples
}

/// The union of two sorted, duplicate-free sample runs; at equal timestamps the sample
/// of `first` is kept.
pub(crate) fn merge_samples(first: Vec<Sample>, second: Vec<Sample>) -> Vec<Sample> {
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
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.t < y.t => a.next(),
            (Some(x), Some(y)) if x.t > y.t => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => None,
        };
        match next {
            Some(s) => out.push(s),
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

    #[test]
    fn series_without_samples_are_dropped() {
        let got = merge_copies(vec![vec![SeriesData {
            labels: ls("x"),
            samples: vec![],
        }]]);
        assert!(got.is_empty());
    }
}
