//! Exemplars of a push. Exemplar storage belongs to the TSDB and is not available
//! yet, so the configuration refuses `max_exemplars > 0` and, as in Cortex with
//! exemplars disabled, exemplars in a request are neither stored nor counted as
//! failures. [`append_exemplars`] is the single place where a series' exemplars reach
//! the storage once it exists.

use cortex_tsdb::db::Db;

use crate::remote_write::Exemplar;

/// What happened to a series' exemplars.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExemplarOutcome {
    /// Exemplars stored.
    pub appended: u64,
    /// Exemplars refused.
    pub failed: u64,
}

/// Stores the exemplars of the series `series_ref` (the head reference the series'
/// samples were appended under, `None` when no sample of it was accepted) in `db`,
/// keeping at most `max_exemplars` per tenant. With `max_exemplars <= 0` (exemplars
/// disabled, the only setting the configuration accepts today) nothing is stored and
/// nothing counts as failed.
pub fn append_exemplars(
    _db: &Db,
    _series_ref: Option<u64>,
    exemplars: &[Exemplar<'_>],
    max_exemplars: i64,
) -> ExemplarOutcome {
    if max_exemplars <= 0 || exemplars.is_empty() {
        return ExemplarOutcome::default();
    }
    // Unreachable while `TsdbConfig::validate` refuses `max_exemplars > 0`; should a
    // caller skip validation, every exemplar is reported as refused, never as stored.
    ExemplarOutcome {
        appended: 0,
        failed: exemplars.len() as u64,
    }
}
