//! Exemplars in an appender: validated when appended, logged in the WAL at commit after
//! the samples, and stored in the head's [`ExemplarStorage`](super::ExemplarStorage)
//! after the samples were applied (Prometheus' order). Rollback forgets them with the
//! samples.
//!
//! When exemplar storage is disabled, appended exemplars are dropped without an error,
//! and so are duplicates of a series' newest exemplar. An exemplar that a concurrent
//! commit made out of order is dropped at commit, as Prometheus does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::HeadAppender;
use super::exemplars::ExemplarError;
use super::series::MemSeries;
use crate::exemplar::Exemplar;
use crate::record::{RefExemplar, RefSeries};

/// An exemplar waiting for commit.
pub(super) struct PendingExemplar {
    series: Arc<MemSeries>,
    exemplar: Exemplar,
}

impl HeadAppender<'_> {
    /// Adds an exemplar to the series with reference `series_ref` (as `append` returned
    /// it). Fails when the series is unknown, the exemplar's labels are longer than 128
    /// characters, or it is older than the newest exemplar of the series (beyond the
    /// head's out-of-order window). Duplicates of the series' newest exemplar, and every
    /// exemplar while exemplar storage is disabled, are dropped without an error.
    pub fn append_exemplar(&mut self, series_ref: u64, e: &Exemplar) -> Result<(), ExemplarError> {
        let storage = &self.head.exemplars;
        if !storage.is_enabled() {
            return Ok(());
        }
        let series = self
            .head
            .series
            .get(series_ref)
            .ok_or(ExemplarError::UnknownSeries(series_ref))?;
        match storage.validate(series_ref, e) {
            Ok(()) => {}
            Err(ExemplarError::Duplicate | ExemplarError::Disabled) => return Ok(()),
            Err(err) => return Err(err),
        }
        self.exemplars.push(PendingExemplar {
            series,
            exemplar: e.clone(),
        });
        Ok(())
    }

    /// Number of exemplars waiting for commit.
    pub fn num_exemplars(&self) -> usize {
        self.exemplars.len()
    }

    /// Stores the pending exemplars (after they were logged); those a concurrent commit
    /// made out of order, and those of series removed in the meantime, are dropped.
    pub(super) fn commit_exemplars(&mut self) {
        if self.exemplars.is_empty() {
            return;
        }
        let head = self.head;
        let live: Vec<&PendingExemplar> = self
            .exemplars
            .iter()
            .filter(|p| head.series.get(p.series.series_ref).is_some())
            .collect();
        head.exemplars.add_all(
            live.iter()
                .map(|p| (p.series.series_ref, &p.series.labels, &p.exemplar)),
        );
        self.exemplars.clear();
    }
}

/// The WAL entries of `pending`; series records for series the WAL does not know yet
/// are added to `series`.
pub(super) fn wal_entries(
    pending: &[PendingExemplar],
    series: &mut Vec<RefSeries>,
) -> Vec<RefExemplar> {
    pending
        .iter()
        .map(|p| {
            let s = &p.series;
            if !s.is_logged() {
                series.push(RefSeries {
                    series_ref: s.series_ref,
                    labels: s.labels.clone(),
                });
            }
            RefExemplar {
                series_ref: s.series_ref,
                t: p.exemplar.ts,
                v: p.exemplar.value,
                labels: p.exemplar.labels.clone(),
            }
        })
        .collect()
}

/// Marks the series of `pending` as known to the WAL, once their records were logged.
pub(super) fn mark_logged(pending: &[PendingExemplar]) {
    for p in pending {
        p.series.logged.store(true, Ordering::Release);
    }
}
