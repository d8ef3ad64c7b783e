//! [`TimeSplitQuerier`]: recent data from the ingesters and older data from the store
//! (bucket blocks, store-gateways) as one [`Querier`], each asked only for the part of
//! a query's range it is configured to serve — Cortex's `querier.query_ingesters_within`
//! and `querier.query_store_after`:
//!
//! * ingesters serve `[max(start, now - query_ingesters_within), end]`, and are not
//!   asked when that is empty;
//! * the store serves `[start, min(end, now - query_store_after)]`, and is not asked
//!   when that is empty.
//!
//! A duration of zero disables its cut. Series found on both sides are merged, their
//! samples unioned per timestamp (the ingesters' sample wins where both have one);
//! label names and values are unioned. `now` is fixed when the querier is built, so
//! every select of one query cuts at the same place.

use std::sync::Arc;
use std::time::Duration;

use cortex_tsdb::labels::Matcher;

use super::replica_merge::{MergedSeries, merge_samples, union_sorted};
use super::{Querier, QuerierError, Sample, SelectHints, Series};

/// Samples read per call when a series found on both sides is merged.
const READ_BATCH: usize = 1024;

/// Recent data from one querier and older data from another (see the module
/// documentation).
pub struct TimeSplitQuerier {
    ingesters: Box<dyn Querier>,
    store: Box<dyn Querier>,
    query_ingesters_within: i64,
    query_store_after: i64,
    now: i64,
}

impl TimeSplitQuerier {
    /// Combines `ingesters` (recent data) and `store` (older data) with Cortex's
    /// `query_ingesters_within` and `query_store_after` (zero: no cut), cutting
    /// relative to `now` (ms since the epoch).
    pub fn new(
        ingesters: Box<dyn Querier>,
        store: Box<dyn Querier>,
        query_ingesters_within: Duration,
        query_store_after: Duration,
        now: i64,
    ) -> TimeSplitQuerier {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        TimeSplitQuerier {
            ingesters,
            store,
            query_ingesters_within: ms(query_ingesters_within),
            query_store_after: ms(query_store_after),
            now,
        }
    }

    /// The part of `[start, end]` the ingesters serve, if any.
    fn ingesters_range(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        let start = if self.query_ingesters_within > 0 {
            start.max(self.now.saturating_sub(self.query_ingesters_within))
        } else {
            start
        };
        (start <= end).then_some((start, end))
    }

    /// The part of `[start, end]` the store serves, if any.
    fn store_range(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        let end = if self.query_store_after > 0 {
            end.min(self.now.saturating_sub(self.query_store_after))
        } else {
            end
        };
        (start <= end).then_some((start, end))
    }

    /// Runs `f` on each side that serves part of `[start, end]`, with that part.
    fn both<T>(
        &self,
        start: i64,
        end: i64,
        f: impl Fn(&dyn Querier, i64, i64) -> Result<T, QuerierError>,
    ) -> Result<(Option<T>, Option<T>), QuerierError> {
        let recent = match self.ingesters_range(start, end) {
            Some((s, e)) => Some(f(&*self.ingesters, s, e)?),
            None => None,
        };
        let old = match self.store_range(start, end) {
            Some((s, e)) => Some(f(&*self.store, s, e)?),
            None => None,
        };
        Ok((recent, old))
    }
}

fn read_all(s: &dyn Series) -> Result<Vec<Sample>, QuerierError> {
    let mut it = s.samples();
    let mut out = Vec::new();
    while it.next_batch(&mut out, READ_BATCH)? > 0 {}
    Ok(out)
}

/// Merges two selects' series by labels, sorted by labels; `first` wins ties.
pub(crate) fn merge_series(
    mut first: Vec<Arc<dyn Series>>,
    mut second: Vec<Arc<dyn Series>>,
) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
    first.sort_by(|a, b| a.labels().cmp(b.labels()));
    second.sort_by(|a, b| a.labels().cmp(b.labels()));
    let mut out = Vec::with_capacity(first.len().max(second.len()));
    let mut a = first.into_iter().peekable();
    let mut b = second.into_iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.labels().cmp(y.labels()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return Ok(out),
        };
        match (
            order,
            a.next_if(|_| order.is_le()),
            b.next_if(|_| order.is_ge()),
        ) {
            (std::cmp::Ordering::Equal, Some(x), Some(y)) => {
                let samples = merge_samples(read_all(&*x)?, read_all(&*y)?);
                out.push(Arc::new(MergedSeries {
                    labels: x.labels().clone(),
                    samples,
                }));
            }
            (_, Some(x), None) | (_, None, Some(x)) => out.push(x),
            _ => return Ok(out),
        }
    }
}

impl Querier for TimeSplitQuerier {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Arc<dyn Series>>, QuerierError> {
        let (recent, old) = self.both(hints.start, hints.end, |q, start, end| {
            let h = SelectHints {
                start,
                end,
                ..hints.clone()
            };
            q.select(&h, matchers)
        })?;
        merge_series(recent.unwrap_or_default(), old.unwrap_or_default())
    }

    fn label_names(
        &self,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let (recent, old) = self.both(start, end, |q, s, e| q.label_names(s, e, matchers))?;
        Ok(union_sorted(recent.into_iter().chain(old).collect()))
    }

    fn label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QuerierError> {
        let (recent, old) =
            self.both(start, end, |q, s, e| q.label_values(name, s, e, matchers))?;
        Ok(union_sorted(recent.into_iter().chain(old).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::querier::SampleValue;
    use crate::querier::memory::MemoryQuerier;
    use crate::querier::testing::{Fixture, run_conformance};
    use cortex_tsdb::labels::{Labels, MatchType};

    const MIN: i64 = 60_000;

    fn ls(i: &str) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("i", i)]).expect("valid labels")
    }

    fn floats(q: &dyn Querier, start: i64, end: i64) -> Vec<(String, Vec<(i64, f64)>)> {
        let hints = SelectHints {
            start,
            end,
            ..Default::default()
        };
        let m = Matcher::new(MatchType::Equal, "__name__", "m").expect("valid matcher");
        q.select(&hints, &[m])
            .expect("select succeeds")
            .iter()
            .map(|s| {
                let v = read_all(&**s)
                    .expect("read succeeds")
                    .into_iter()
                    .filter_map(|x| match x.value {
                        SampleValue::Float(v) => Some((x.t, v)),
                        SampleValue::Histogram(_) => None,
                    })
                    .collect();
                (s.labels().get("i").unwrap_or("").to_string(), v)
            })
            .collect()
    }

    /// Ingesters hold minutes 50..=60 of `a`, and `old_in_ingesters` at minute 10; the
    /// store holds minutes 0..=55 of `a` (another value, to see who wins at 50..=55)
    /// and `new_in_store` at minute 58.
    fn split(within: u64, after: u64) -> TimeSplitQuerier {
        let mut ing = MemoryQuerier::new();
        let mut store = MemoryQuerier::new();
        for m in 50..=60 {
            ing.add_float(&ls("a"), m * MIN, 1.0);
        }
        ing.add_float(&ls("old_in_ingesters"), 10 * MIN, 2.0);
        for m in 0..=55 {
            store.add_float(&ls("a"), m * MIN, 9.0);
        }
        store.add_float(&ls("new_in_store"), 58 * MIN, 3.0);
        TimeSplitQuerier::new(
            Box::new(ing),
            Box::new(store),
            Duration::from_secs(within * 60),
            Duration::from_secs(after * 60),
            60 * MIN,
        )
    }

    fn names(got: &[(String, Vec<(i64, f64)>)]) -> Vec<&str> {
        got.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn without_cuts_both_sides_merge_and_ingesters_win() {
        let got = floats(&split(0, 0), 0, 60 * MIN);
        assert_eq!(names(&got), ["a", "new_in_store", "old_in_ingesters"]);
        assert_eq!(got[0].1.len(), 61, "minutes 0..=60 once each");
        assert_eq!(got[0].1[50], (50 * MIN, 1.0), "the ingesters' sample wins");
        assert_eq!(got[0].1[49], (49 * MIN, 9.0));
    }

    #[test]
    fn query_ingesters_within_skips_ingesters_for_old_ranges() {
        assert_eq!(
            names(&floats(&split(0, 0), 0, 40 * MIN)),
            ["a", "old_in_ingesters"]
        );
        // Ingesters serve from minute 57 on: a query ending at 40 reads only the store.
        let got = floats(&split(3, 0), 0, 40 * MIN);
        assert_eq!(names(&got), ["a"]);
        assert!(got[0].1.iter().all(|(_, v)| *v == 9.0), "store values only");
    }

    #[test]
    fn query_store_after_skips_the_store_for_recent_ranges() {
        assert_eq!(
            names(&floats(&split(0, 0), 57 * MIN, 60 * MIN)),
            ["a", "new_in_store"]
        );
        // The store serves up to minute 52: a query from 57 reads only the ingesters.
        let got = floats(&split(0, 8), 57 * MIN, 60 * MIN);
        assert_eq!(names(&got), ["a"]);
        assert!(
            got[0].1.iter().all(|(_, v)| *v == 1.0),
            "ingester values only"
        );
    }

    #[test]
    fn label_apis_union_both_sides_within_their_ranges() {
        assert_eq!(
            split(0, 0)
                .label_values("i", 0, 60 * MIN, &[])
                .expect("label_values"),
            ["a", "new_in_store", "old_in_ingesters"]
        );
        // Each side is asked for its part only: the ingesters for minutes 57..=60, the
        // store for 0..=52, so the two series outside their side's part are not seen.
        assert_eq!(
            split(3, 8)
                .label_values("i", 0, 60 * MIN, &[])
                .expect("label_values"),
            ["a"]
        );
    }

    #[test]
    fn split_over_memory_queriers_passes_the_conformance_suite() {
        run_conformance(|data: &Fixture| {
            // Every series on both sides: the merge must not duplicate anything.
            let mut a = MemoryQuerier::new();
            let mut b = MemoryQuerier::new();
            for (l, samples) in data {
                a.set_series(l, samples.clone());
                b.set_series(l, samples.clone());
            }
            TimeSplitQuerier::new(Box::new(a), Box::new(b), Duration::ZERO, Duration::ZERO, 0)
        });
    }
}
