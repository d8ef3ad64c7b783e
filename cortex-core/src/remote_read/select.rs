//! Running one query of a request against a [`Querier`]: the select hints it implies,
//! the matching series in label order, and a scan over a series' samples clipped to
//! the query's range. Both response kinds read storage through here.

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::querier::{Querier, Sample, SelectHints, Series};

use super::Query;
use super::error::RemoteReadError;

/// Samples fetched from a series iterator at a time.
const BATCH: usize = 256;

/// The hints storage gets for `q`: the query's range as the range to cover, and the
/// client's step, range, function and grouping when it sent hints.
pub(crate) fn select_hints(q: &Query) -> SelectHints {
    let mut hints = SelectHints {
        start: q.start_timestamp_ms,
        end: q.end_timestamp_ms,
        ..SelectHints::default()
    };
    if let Some(h) = &q.hints {
        hints.step = h.step_ms;
        hints.range = h.range_ms;
        hints.func = (!h.func.is_empty()).then(|| h.func.clone());
        hints.grouping = h.grouping.clone();
        hints.by = h.by;
    }
    hints
}

/// The series matching `q`, sorted by labels as the streamed protocol requires (and
/// the sampled one then returns them in the same order).
pub(crate) fn select_sorted(
    querier: &dyn Querier,
    q: &Query,
) -> Result<Vec<Arc<dyn Series>>, RemoteReadError> {
    let mut series = querier.select(&select_hints(q), &q.matchers)?;
    if !series.is_sorted_by(|a, b| a.labels() <= b.labels()) {
        series.sort_by(|a, b| a.labels().cmp(b.labels()));
    }
    Ok(series)
}

/// Calls `f` with each sample of `series` with a timestamp in `[from, to]`, in order,
/// until `f` breaks. `batch` is scratch space reused between calls.
pub(crate) fn scan_samples(
    series: &dyn Series,
    from: i64,
    to: i64,
    batch: &mut Vec<Sample>,
    mut f: impl FnMut(&Sample) -> Result<ControlFlow<()>, RemoteReadError>,
) -> Result<(), RemoteReadError> {
    if from > to {
        return Ok(());
    }
    let mut it = series.samples();
    let Some(first) = it.seek(from)? else {
        return Ok(());
    };
    if first.t > to || f(&first)?.is_break() {
        return Ok(());
    }
    loop {
        batch.clear();
        if it.next_batch(batch, BATCH)? == 0 {
            return Ok(());
        }
        for s in batch.iter() {
            if s.t > to || f(s)?.is_break() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cortex_tsdb::labels::{Labels, Matcher};

    use super::*;
    use crate::querier::memory::MemoryQuerier;
    use crate::remote_read::ReadHints;

    #[test]
    fn scan_clips_to_the_range_and_stops_on_break() {
        let mut q = MemoryQuerier::new();
        let l = Labels::from_pairs([("__name__", "x")]).unwrap();
        for t in 0..1000 {
            q.add_float(&l, t, t as f64);
        }
        let query = Query {
            start_timestamp_ms: 10,
            end_timestamp_ms: 700,
            matchers: vec![Matcher::equal("__name__", "x")],
            hints: None,
        };
        let series = select_sorted(&q, &query).unwrap();
        let mut batch = Vec::new();
        let mut seen = Vec::new();
        scan_samples(&*series[0], 10, 700, &mut batch, |s| {
            seen.push(s.t);
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(seen, (10..=700).collect::<Vec<_>>());
        seen.clear();
        scan_samples(&*series[0], 500, 2000, &mut batch, |s| {
            seen.push(s.t);
            Ok(if s.t == 600 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .unwrap();
        assert_eq!(seen, (500..=600).collect::<Vec<_>>());
        seen.clear();
        scan_samples(&*series[0], 5, 4, &mut batch, |s| {
            seen.push(s.t);
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert!(seen.is_empty());
    }

    #[test]
    fn hints_carry_the_query_range_and_client_hints() {
        let q = Query {
            start_timestamp_ms: 1,
            end_timestamp_ms: 2,
            matchers: Vec::new(),
            hints: Some(ReadHints {
                step_ms: 3,
                func: "rate".into(),
                start_ms: 9,
                end_ms: 9,
                grouping: vec!["job".into()],
                by: true,
                range_ms: 4,
            }),
        };
        assert_eq!(
            select_hints(&q),
            SelectHints {
                start: 1,
                end: 2,
                step: 3,
                range: 4,
                func: Some("rate".into()),
                grouping: vec!["job".into()],
                by: true,
            }
        );
        let q = Query {
            hints: Some(ReadHints::default()),
            ..q
        };
        assert_eq!(select_hints(&q).func, None);
    }
}
