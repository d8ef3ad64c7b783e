//! Validation of a whole remote-write request, in place: invalid series and metadata are
//! removed, the rest is left ready for the ingesters (labels sorted, dropped labels and
//! empty values gone), and what was accepted and discarded is counted.
//!
//! As in Cortex's distributor, one bad series does not fail the request: the push answers
//! 400 with the first error's message after ingesting the rest. Only a series with no
//! labels at all fails the whole request. Discards are counted per reason as the number
//! of samples (float and histogram), exemplars and metadata entries dropped.

use cortex_tsdb::labels::{LabelError, Labels};

use super::ValidationError;
use super::series::{validate_metadata, validate_series};
use crate::limits::{IngestionCounts, Limits};
use crate::remote_write::{TimeSeries, WriteRequest};

/// Counts per discard reason, in the order the reasons were first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCounts(Vec<(&'static str, u64)>);

impl ReasonCounts {
    /// Adds `n` under `reason` (nothing for 0).
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, c)) => *c += n,
            None => self.0.push((reason, n)),
        }
    }

    /// The count for `reason`.
    pub fn get(&self, reason: &str) -> u64 {
        self.0
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, c)| *c)
    }

    /// Every (reason, count).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// The sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, c)| c).sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What was discarded, per reason, for the `cortex_discarded_*_total` counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discarded {
    /// Float and native histogram samples (`cortex_discarded_samples_total`).
    pub samples: ReasonCounts,
    /// Exemplars (`cortex_discarded_exemplars_total`).
    pub exemplars: ReasonCounts,
    /// Metadata entries (`cortex_discarded_metadata_total`).
    pub metadata: ReasonCounts,
}

/// The outcome of [`validate_request`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validated {
    /// Series kept.
    pub series: usize,
    /// Float samples kept.
    pub float_samples: usize,
    /// Native histogram samples kept.
    pub histogram_samples: usize,
    /// Exemplars kept.
    pub exemplars: usize,
    /// Metadata entries kept (request-level and per-series).
    pub metadata: usize,
    /// The first reported error: the push answers 400 with its message after ingesting
    /// what was kept.
    pub first_error: Option<ValidationError>,
    /// What was dropped, by reason.
    pub discarded: Discarded,
}

impl Validated {
    /// What the kept data costs against the ingestion rate limiters.
    pub fn counts(&self) -> IngestionCounts {
        IngestionCounts {
            samples: self.float_samples + self.histogram_samples,
            histograms: self.histogram_samples,
            exemplars: self.exemplars,
            metadata: self.metadata,
        }
    }

    /// True when nothing is left to ingest.
    pub fn is_empty(&self) -> bool {
        self.series == 0 && self.metadata == 0
    }

    fn note(&mut self, err: ValidationError) {
        if self.first_error.is_none() && err.is_reported() {
            self.first_error = Some(err);
        }
    }
}

/// Validates `req` against a tenant's `limits` at `now_ms` (milliseconds since the
/// epoch), removing what is invalid. Fails only when a series has no labels, which
/// refuses the whole request ([`ValidationError::EmptyLabels`]); `req` is then unchanged.
pub fn validate_request(
    req: &mut WriteRequest<'_>,
    limits: &Limits,
    now_ms: i64,
) -> Result<Validated, ValidationError> {
    if req.timeseries.iter().any(|ts| ts.labels.is_empty()) {
        return Err(ValidationError::EmptyLabels);
    }
    let mut out = Validated::default();
    req.timeseries
        .retain_mut(|ts| match validate_series(ts, limits, now_ms) {
            Ok(()) => {
                out.series += 1;
                out.float_samples += ts.samples.len();
                out.histogram_samples += ts.histograms.len();
                out.exemplars += ts.exemplars.len();
                true
            }
            Err(err) => {
                if let Some(reason) = err.reason() {
                    let samples = ts.samples.len() + ts.histograms.len();
                    out.discarded.samples.add(reason, samples as u64);
                    out.discarded
                        .exemplars
                        .add(reason, ts.exemplars.len() as u64);
                    if ts.metadata.is_some() {
                        out.discarded.metadata.add(reason, 1);
                    }
                }
                out.note(err);
                false
            }
        });
    req.metadata.retain(|m| match validate_metadata(m, limits) {
        Ok(()) => {
            out.metadata += 1;
            true
        }
        Err(err) => {
            if let Some(reason) = err.reason() {
                out.discarded.metadata.add(reason, 1);
            }
            out.note(err);
            false
        }
    });
    for ts in &mut req.timeseries {
        let Some(m) = &ts.metadata else { continue };
        match validate_metadata(m, limits) {
            Ok(()) => out.metadata += 1,
            Err(err) => {
                if let Some(reason) = err.reason() {
                    out.discarded.metadata.add(reason, 1);
                }
                out.note(err);
                ts.metadata = None;
            }
        }
    }
    Ok(out)
}

/// The labels of a validated series as a [`Labels`] set, built without sorting. Fails only
/// for a series that did not pass [`validate_series`] (unsorted or repeated names).
pub fn series_labels(ts: &TimeSeries<'_>) -> Result<Labels, LabelError> {
    Labels::from_sorted(ts.labels.iter().map(|l| (l.name, l.value)))
}
