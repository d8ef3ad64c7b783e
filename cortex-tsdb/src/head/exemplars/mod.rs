//! The head's exemplar storage: a bounded, circular, in-memory buffer of exemplars with
//! Prometheus' rules (`tsdb/exemplar.go`).
//!
//! [`ExemplarStorage`] holds at most `max_exemplars` exemplars (0 disables it), evicting
//! the oldest in ingestion order; it can be resized at runtime, keeping the newest. Each
//! series' exemplars are linked oldest → newest by timestamp, found by series reference.
//! An exemplar is checked against the newest of its series: the same one again is a
//! duplicate (ignored, not an error), an older one is out of order unless it falls inside
//! the head's out-of-order window, and its labels may hold at most
//! [`MAX_LABEL_SET_RUNES`] characters. One read-write lock guards the buffer: validation
//! and queries share it, commits take it once per commit.
//!
//! This module does not know the WAL or the appender; `HeadAppender::append_exemplar`
//! validates here, logs at commit and then stores here, and a replay stores what the WAL
//! holds.

mod ring;

#[cfg(test)]
mod tests;

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::exemplar::{Exemplar, ExemplarSeries, MAX_LABEL_SET_RUNES, label_set_runes};
use crate::labels::{Labels, Matcher};
use ring::{Check, Ring};

/// Why an exemplar was not stored. The messages are Prometheus' own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExemplarError {
    /// The storage holds no exemplars (`max_exemplars` is 0).
    #[error("exemplar storage is disabled or max exemplars is less than or equal to 0")]
    Disabled,
    /// The exemplar's label names and values are too long together.
    #[error("label length for exemplar exceeds maximum of {MAX_LABEL_SET_RUNES} UTF-8 characters")]
    LabelLength {
        /// Characters the labels hold.
        runes: usize,
    },
    /// The same exemplar as the newest of its series (callers ignore it).
    #[error("duplicate exemplar")]
    Duplicate,
    /// Older than the newest exemplar of its series, beyond the out-of-order window.
    #[error("out of order exemplar")]
    OutOfOrder {
        /// The series reference.
        series_ref: u64,
        /// The rejected exemplar's timestamp.
        timestamp: i64,
        /// The timestamp of the series' newest exemplar.
        newest: i64,
    },
    /// The series reference is not known to the head.
    #[error("unknown HeadSeriesRef when trying to add exemplar: {0}")]
    UnknownSeries(u64),
    /// A size the buffer cannot have.
    #[error("max exemplars {requested} is larger than the limit of {limit}")]
    TooLarge {
        /// The size asked for.
        requested: usize,
        /// The largest size supported.
        limit: usize,
    },
}

/// What the storage holds and did, for metrics (Prometheus exports the same as
/// `prometheus_tsdb_exemplar_*`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExemplarStats {
    /// Exemplars currently stored.
    pub exemplars_in_storage: u64,
    /// Series with at least one exemplar stored.
    pub series_with_exemplars: u64,
    /// The most exemplars the storage holds now.
    pub max_exemplars: u64,
    /// Exemplars stored since the storage was created (replayed ones included).
    pub appended_total: u64,
    /// Exemplars refused as out of order, at append or at commit.
    pub out_of_order_total: u64,
    /// Timestamp of the oldest exemplar in ingestion order (the next to be evicted).
    pub oldest_timestamp: Option<i64>,
}

/// The circular exemplar buffer of a head. Thread-safe.
pub struct ExemplarStorage {
    ring: RwLock<Ring>,
    /// The ring's capacity, readable without the lock (changed under the write lock).
    capacity: AtomicUsize,
    appended: AtomicU64,
    out_of_order: AtomicU64,
}

impl ExemplarStorage {
    /// A storage for up to `max_exemplars` exemplars (0 disables it); exemplars up to
    /// `ooo_window` ms older than the newest of their series are still accepted.
    pub fn new(max_exemplars: usize, ooo_window: i64) -> Result<ExemplarStorage, ExemplarError> {
        check_size(max_exemplars)?;
        Ok(ExemplarStorage {
            ring: RwLock::new(Ring::new(max_exemplars, ooo_window)),
            capacity: AtomicUsize::new(max_exemplars),
            appended: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
        })
    }

    /// The most exemplars the storage holds now.
    pub fn max_exemplars(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    /// True when the storage can hold exemplars.
    pub fn is_enabled(&self) -> bool {
        self.max_exemplars() > 0
    }

    /// Checks `e` for the series `series_ref` without storing it. A duplicate of the
    /// series' newest exemplar is [`ExemplarError::Duplicate`]; callers ignore it.
    pub fn validate(&self, series_ref: u64, e: &Exemplar) -> Result<(), ExemplarError> {
        let ring = self.read();
        if ring.capacity() == 0 {
            return Err(ExemplarError::Disabled);
        }
        check_labels(e)?;
        self.verdict(series_ref, e, ring.check(series_ref, e))
    }

    /// Stores `e` for the series `series_ref` with labels `series_labels`. A duplicate is
    /// not stored and not an error; returns whether it was stored.
    pub fn add(
        &self,
        series_ref: u64,
        series_labels: &Labels,
        e: &Exemplar,
    ) -> Result<bool, ExemplarError> {
        let mut ring = self.write();
        self.add_locked(&mut ring, series_ref, series_labels, e)
    }

    /// Stores several exemplars under one lock; those refused (out of order, duplicate,
    /// too long) are skipped. Returns how many were stored.
    pub fn add_all<'a>(
        &self,
        items: impl IntoIterator<Item = (u64, &'a Labels, &'a Exemplar)>,
    ) -> u64 {
        let mut ring = self.write();
        let mut n = 0;
        for (r, l, e) in items {
            if let Ok(true) = self.add_locked(&mut ring, r, l, e) {
                n += 1;
            }
        }
        n
    }

    fn add_locked(
        &self,
        ring: &mut Ring,
        series_ref: u64,
        series_labels: &Labels,
        e: &Exemplar,
    ) -> Result<bool, ExemplarError> {
        if ring.capacity() == 0 {
            return Err(ExemplarError::Disabled);
        }
        check_labels(e)?;
        match self.verdict(series_ref, e, ring.add(series_ref, series_labels, e)) {
            Ok(()) => {
                self.appended.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(ExemplarError::Duplicate) => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn verdict(&self, series_ref: u64, e: &Exemplar, c: Check) -> Result<(), ExemplarError> {
        match c {
            Check::Accept => Ok(()),
            Check::Duplicate => Err(ExemplarError::Duplicate),
            Check::OutOfOrder { newest } => {
                self.out_of_order.fetch_add(1, Ordering::Relaxed);
                Err(ExemplarError::OutOfOrder {
                    series_ref,
                    timestamp: e.ts,
                    newest,
                })
            }
        }
    }

    /// Prometheus' `ExemplarQuerier.Select`: the exemplars in `[mint, maxt]` (inclusive)
    /// of the series matching any of `matcher_sets` (a set matches when all its matchers
    /// do; no set matches nothing), per series in time order, series sorted by labels.
    pub fn select(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<ExemplarSeries> {
        if matcher_sets.is_empty() || mint > maxt {
            return Vec::new();
        }
        self.read().select(matcher_sets, mint, maxt)
    }

    /// Changes the maximum number of exemplars, keeping the newest ones (in ingestion
    /// order) that fit; 0 drops everything and disables the storage. Returns how many
    /// exemplars were kept.
    pub fn resize(&self, max_exemplars: usize) -> Result<usize, ExemplarError> {
        check_size(max_exemplars)?;
        let mut ring = self.write();
        let kept = ring.resize(max_exemplars);
        self.capacity.store(max_exemplars, Ordering::Release);
        Ok(kept)
    }

    /// Calls `f` with the series reference, series labels and exemplar of everything
    /// stored, oldest first in ingestion order (Prometheus' `IterateExemplars`).
    pub fn for_each(&self, f: impl FnMut(u64, &Labels, Exemplar)) {
        self.read().for_each(f);
    }

    /// Counters and gauges.
    pub fn stats(&self) -> ExemplarStats {
        let ring = self.read();
        ExemplarStats {
            exemplars_in_storage: ring.len() as u64,
            series_with_exemplars: ring.num_series() as u64,
            max_exemplars: ring.capacity() as u64,
            appended_total: self.appended.load(Ordering::Relaxed),
            out_of_order_total: self.out_of_order.load(Ordering::Relaxed),
            oldest_timestamp: ring.oldest_ingested_ts(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        // The ring is consistent between calls: a panic cannot leave it half-changed in
        // a way a reader would trip over, so a poisoned lock is used as is.
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for ExemplarStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExemplarStorage")
            .field("stats", &self.stats())
            .finish()
    }
}

fn check_labels(e: &Exemplar) -> Result<(), ExemplarError> {
    let runes = label_set_runes(&e.labels);
    if runes > MAX_LABEL_SET_RUNES {
        return Err(ExemplarError::LabelLength { runes });
    }
    Ok(())
}

fn check_size(n: usize) -> Result<(), ExemplarError> {
    if n > ring::MAX_CAPACITY {
        return Err(ExemplarError::TooLarge {
            requested: n,
            limit: ring::MAX_CAPACITY,
        });
    }
    Ok(())
}
