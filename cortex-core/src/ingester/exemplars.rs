//! Exemplars of a push: each series' exemplars go through the same head appender as its
//! samples, so they are logged in the WAL and become visible at the same commit. With
//! exemplar storage disabled (`max_exemplars` 0, Cortex's default) the TSDB drops them
//! silently, as Cortex does.

use cortex_tsdb::exemplar::Exemplar as TsdbExemplar;
use cortex_tsdb::head::HeadAppender;
use cortex_tsdb::labels::Labels;

use crate::remote_write::Exemplar;

/// What happened to a series' exemplars.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExemplarOutcome {
    /// Exemplars handed to the storage.
    pub appended: u64,
    /// Exemplars refused.
    pub failed: u64,
    /// The first refusal, in Cortex's words, for the push response.
    pub first_error: Option<String>,
}

/// Appends the exemplars of the series `series_ref` (the head reference its samples were
/// appended under; `None` when no sample of the series was accepted, in which case its
/// exemplars are refused because they cannot be attached to a series).
pub fn append_exemplars(
    app: &mut HeadAppender<'_>,
    series_ref: Option<u64>,
    series: &Labels,
    exemplars: &[Exemplar<'_>],
) -> ExemplarOutcome {
    let mut out = ExemplarOutcome::default();
    for e in exemplars {
        let labels = match Labels::from_pairs(e.labels.iter().map(|l| (l.name, l.value))) {
            Ok(l) => l,
            Err(err) => {
                out.failed += 1;
                out.first_error.get_or_insert_with(|| {
                    format!("err: {err}. timestamp={}, series={series}", e.timestamp)
                });
                continue;
            }
        };
        let Some(r) = series_ref else {
            out.failed += 1;
            out.first_error.get_or_insert_with(|| {
                format!(
                    "err: exemplar for a series without accepted samples. timestamp={}, series={series}, exemplar={labels}",
                    e.timestamp
                )
            });
            continue;
        };
        let ex = TsdbExemplar {
            labels,
            value: e.value,
            ts: e.timestamp,
        };
        match app.append_exemplar(r, &ex) {
            Ok(()) => out.appended += 1,
            Err(err) => {
                out.failed += 1;
                out.first_error.get_or_insert_with(|| {
                    format!(
                        "err: {err}. timestamp={}, series={series}, exemplar={}",
                        e.timestamp, ex.labels
                    )
                });
            }
        }
    }
    out
}
