//! An in-memory [`Querier`]: series held as sorted sample vectors. Used by the PromQL
//! conformance runner, the benches, and rule unit tests; not meant for large data.

use std::collections::BTreeMap;
use std::sync::Arc;

use cortex_tsdb::histogram::FloatHistogram;
use cortex_tsdb::labels::{Labels, Matcher};

use super::{Querier, QuerierError, Sample, SampleIterator, SampleValue, SelectHints, Series};

/// One in-memory series: labels and samples sorted by timestamp.
#[derive(Debug, Clone)]
pub struct MemorySeries {
    labels: Labels,
    samples: Vec<Sample>,
}

impl MemorySeries {
    /// The samples, sorted by timestamp.
    pub fn samples_slice(&self) -> &[Sample] {
        &self.samples
    }
}

impl Series for MemorySeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn samples(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(SliceIterator {
            samples: &self.samples,
            pos: 0,
        })
    }
}

/// Iterates a sorted slice of samples.
pub struct SliceIterator<'a> {
    samples: &'a [Sample],
    pos: usize,
}

impl<'a> SliceIterator<'a> {
    /// An iterator over `samples` (which must be sorted by timestamp).
    pub fn new(samples: &'a [Sample]) -> SliceIterator<'a> {
        SliceIterator { samples, pos: 0 }
    }
}

impl SampleIterator for SliceIterator<'_> {
    fn next(&mut self) -> Result<Option<Sample>, QuerierError> {
        let s = self.samples.get(self.pos).cloned();
        if s.is_some() {
            self.pos += 1;
        }
        Ok(s)
    }

    fn seek(&mut self, t: i64) -> Result<Option<Sample>, QuerierError> {
        let rest = &self.samples[self.pos..];
        self.pos += rest.partition_point(|s| s.t < t);
        self.next()
    }

    fn next_batch(&mut self, out: &mut Vec<Sample>, max: usize) -> Result<usize, QuerierError> {
        let end = self.samples.len().min(self.pos.saturating_add(max));
        let run = &self.samples[self.pos..end];
        out.extend_from_slice(run);
        self.pos = end;
        Ok(run.len())
    }
}

/// An in-memory store of series, queryable with PromQL.
#[derive(Debug, Default)]
pub struct MemoryQuerier {
    series: BTreeMap<Labels, Arc<MemorySeries>>,
}

impl MemoryQuerier {
    /// An empty store.
    pub fn new() -> MemoryQuerier {
        MemoryQuerier::default()
    }

    /// Adds a float sample. Samples may arrive in any order; a later sample with the
    /// same timestamp replaces the earlier one.
    pub fn add_float(&mut self, labels: &Labels, t: i64, v: f64) {
        self.add(labels, t, 0, SampleValue::Float(v));
    }

    /// Adds a native histogram sample.
    pub fn add_histogram(&mut self, labels: &Labels, t: i64, h: FloatHistogram) {
        self.add(labels, t, 0, SampleValue::Histogram(Arc::new(h)));
    }

    /// Adds a sample with a start timestamp (0: unknown).
    pub fn add(&mut self, labels: &Labels, t: i64, st: i64, value: SampleValue) {
        let entry = self.series.entry(labels.clone()).or_insert_with(|| {
            Arc::new(MemorySeries {
                labels: labels.clone(),
                samples: Vec::new(),
            })
        });
        let series = Arc::make_mut(entry);
        let sample = Sample { t, st, value };
        match series.samples.binary_search_by(|s| s.t.cmp(&t)) {
            Ok(i) => series.samples[i] = sample,
            Err(i) => series.samples.insert(i, sample),
        }
    }

    /// Replaces a series' samples (which must be sorted by timestamp); an empty list
    /// removes the series.
    pub fn set_series(&mut self, labels: &Labels, samples: Vec<Sample>) {
        if samples.is_empty() {
            self.series.remove(labels);
            return;
        }
        self.series.insert(
            labels.clone(),
            Arc::new(MemorySeries {
                labels: labels.clone(),
                samples,
            }),
        );
    }

    /// Removes all series.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when the store holds no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
    ) -> impl Iterator<Item = &'a Arc<MemorySeries>> + 'a {
        self.series.values().filter(move |s| {
            matchers
                .iter()
                .all(|m| m.matches(s.labels.get(m.name()).unwrap_or("")))
        })
    }
}

fn has_samples_in(s: &MemorySeries, start: i64, end: i64) -> bool {
    let i = s.samples.partition_point(|x| x.t < start);
    s.samples.get(i).is_some_and(|x| x.t <= end)
}

impl Querier for MemoryQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        Ok(self
            .matching(matchers)
            .filter(|s| has_samples_in(s, hints.start, hints.end))
            .map(|s| s.clone() as Arc<dyn Series>)
            .collect())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let mut names: Vec<String> = self
            .matching(matchers)
            .filter(|s| has_samples_in(s, start, end))
            .flat_map(|s| {
                s.labels
                    .iter()
                    .map(|l| l.name.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let mut values: Vec<String> = self
            .matching(matchers)
            .filter(|s| has_samples_in(s, start, end))
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use cortex_tsdb::labels::MatchType;

    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn select_filters_by_matchers_and_time() {
        let mut q = MemoryQuerier::new();
        q.add_float(&ls(&[("__name__", "up"), ("job", "a")]), 10, 1.0);
        q.add_float(&ls(&[("__name__", "up"), ("job", "b")]), 100, 1.0);
        let hints = SelectHints {
            start: 0,
            end: 50,
            ..Default::default()
        };
        let m = [Matcher::new(MatchType::Equal, "__name__", "up").unwrap()];
        let got = q.select(&hints, &m).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels().get("job"), Some("a"));
        assert_eq!(q.label_values("job", 0, 200, &m).unwrap(), vec!["a", "b"]);
        assert_eq!(q.label_names(0, 200, &[]).unwrap(), vec!["__name__", "job"]);
    }

    #[test]
    fn samples_are_sorted_and_seekable() {
        let mut q = MemoryQuerier::new();
        let l = ls(&[("__name__", "x")]);
        for t in [30, 10, 20] {
            q.add_float(&l, t, t as f64);
        }
        q.add_float(&l, 20, 99.0);
        let s = &q
            .select(
                &SelectHints {
                    start: 0,
                    end: 100,
                    ..Default::default()
                },
                &[],
            )
            .unwrap()[0];
        let mut it = s.samples();
        assert_eq!(it.next().unwrap().unwrap().t, 10);
        let s20 = it.seek(15).unwrap().unwrap();
        assert_eq!((s20.t, s20.value.clone()), (20, SampleValue::Float(99.0)));
        assert_eq!(it.next().unwrap().unwrap().t, 30);
        assert!(it.next().unwrap().is_none());
    }

    #[test]
    fn memory_querier_passes_the_querier_conformance_suite() {
        crate::querier::testing::run_conformance(|data| {
            let mut q = MemoryQuerier::new();
            for (labels, samples) in data {
                q.set_series(labels, samples.clone());
            }
            q
        });
    }
}
