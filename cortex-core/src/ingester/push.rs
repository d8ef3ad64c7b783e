//! Appending one write request to a tenant's TSDB with Cortex's ingester semantics.
//!
//! Contract with the distributor: every series' labels are valid, sorted by name and
//! unique (it validated them). A series the head knows is found by the request's label
//! pairs, without building a label set; a new one gets its `Labels` built here, and a
//! series that breaks the contract fails the whole request (`out-of-order label set
//! found when push`), as in Cortex.
//!
//! All samples go through one appender. A sample the TSDB refuses (out of bounds, out of
//! order, too old for the out-of-order window, a new value for an existing timestamp)
//! or that would create a series beyond the tenant's limits is counted per reason and
//! skipped; everything else is committed. The first refusal becomes the request's
//! error, in Cortex's words. A failed commit (WAL I/O) loses the whole request and is a
//! server error.

use std::borrow::Cow;

use cortex_tsdb::head::AppendError;
use cortex_tsdb::labels::{Labels, METRIC_NAME, stable_hash_of};

use super::error::{DiscardReason, PushError};
use super::exemplars::append_exemplars;
use super::limits::{LimitValue, TenantLimits};
use super::tenant::TenantDb;
use super::time_format::rfc3339_millis;
use crate::remote_write::{HistogramValue, Label, WriteRequest};

/// What a push stored and refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Float samples stored.
    pub samples: u64,
    /// Float samples refused.
    pub failed_samples: u64,
    /// Native histogram samples stored.
    pub histograms: u64,
    /// Native histogram samples refused.
    pub failed_histograms: u64,
    /// Exemplars stored.
    pub exemplars: u64,
    /// Exemplars refused.
    pub failed_exemplars: u64,
    /// Metadata entries accepted.
    pub metadata: u64,
    /// Metadata entries refused.
    pub failed_metadata: u64,
    /// Refused samples (floats and histograms) per [`DiscardReason::ALL`] position.
    pub discarded: [u64; DiscardReason::ALL.len()],
}

impl PushStats {
    /// Samples refused for `reason`.
    pub fn discarded(&self, reason: DiscardReason) -> u64 {
        let i = DiscardReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.discarded.get(i).copied().unwrap_or(0)
    }

    fn discard(&mut self, reason: DiscardReason, n: u64) {
        if let Some(i) = DiscardReason::ALL.iter().position(|r| *r == reason)
            && let Some(c) = self.discarded.get_mut(i)
        {
            *c += n;
        }
    }
}

/// What a push needs besides the request.
pub(crate) struct PushContext<'a> {
    pub tenant: &'a str,
    pub tdb: &'a TenantDb,
    pub limits: &'a dyn TenantLimits,
    pub admin_message: &'a str,
}

struct Rejection {
    first: Option<(Option<DiscardReason>, String)>,
}

impl Rejection {
    fn note(&mut self, reason: DiscardReason, message: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some((Some(reason), message()));
        }
    }

    fn note_exemplar(&mut self, message: String) {
        if self.first.is_none() {
            self.first = Some((None, message));
        }
    }
}

/// Appends `req` (samples and histograms; metadata is the caller's) and commits.
pub(crate) fn append_request(
    ctx: &PushContext<'_>,
    req: &WriteRequest<'_>,
) -> Result<PushStats, PushError> {
    let db = ctx.tdb.db();
    let head = db.head();
    let ooo = head.options().out_of_order_window > 0;
    let head_max = head.max_time();
    let per_user = ctx.limits.max_series_per_user(ctx.tenant);
    let per_metric = ctx.limits.max_series_per_metric(ctx.tenant);
    let mut stats = PushStats::default();
    let mut rej = Rejection { first: None };
    let mut app = db.appender();
    // The hashes first, so each lookup can prefetch the ones a few series ahead.
    let hashes: Vec<u64> = req
        .timeseries
        .iter()
        .map(|ts| stable_hash_of(ts.labels.iter().map(|l| (l.name, l.value))))
        .collect();
    for (i, ts) in req.timeseries.iter().enumerate() {
        let n = (ts.samples.len() + ts.histograms.len()) as u64;
        app.prefetch_lookups(&hashes, i);
        // One lookup per series, by the request's own label pairs: a known series needs
        // no label set built (its labels are the stored ones) and later samples go
        // straight to it.
        let mut handle = if n > 0 {
            let pairs = || ts.labels.iter().map(|l| (l.name, l.value));
            app.find_with(hashes[i], |l| l.eq_pairs(pairs()))
        } else {
            None
        };
        // A known series lends its stored labels; only a new one gets a set built.
        let labels: Cow<'_, Labels> = match &handle {
            Some(h) => Cow::Borrowed(h.labels()),
            None => {
                let labels = series_labels(ctx.tenant, &ts.labels)?;
                if n > 0 {
                    // Pairs the set had to clean up (empty values) can still name a
                    // known series, which must not count against the series limits.
                    handle = app.find(&labels, labels.stable_hash());
                }
                Cow::Owned(labels)
            }
        };
        let labels = &*labels;
        let limited = if n > 0 && handle.is_none() {
            series_limit(head, labels, per_user, per_metric)
        } else {
            None
        };
        if let Some(reason) = limited {
            stats.failed_samples += ts.samples.len() as u64;
            stats.failed_histograms += ts.histograms.len() as u64;
            stats.discard(reason, n);
            rej.note(reason, || {
                limit_message(reason, labels, per_user, per_metric, ctx.admin_message)
            });
            continue;
        }
        let mut series_ref: Option<u64> = handle.as_ref().map(|h| h.series_ref());
        // The series this request creates (its first sample did).
        let mut created = None;
        for s in &ts.samples {
            let res = match handle.as_ref().or(created.as_ref()) {
                Some(h) => app.append_to(h, s.timestamp, s.value),
                None => app.append_new(labels, s.timestamp, s.value).map(|h| {
                    series_ref = Some(h.series_ref());
                    created = Some(h);
                }),
            };
            match res {
                Ok(()) => stats.samples += 1,
                Err(e) => {
                    stats.failed_samples += 1;
                    refuse(
                        &mut stats,
                        &mut rej,
                        e,
                        s.timestamp,
                        head_max,
                        ooo,
                        labels,
                        ctx,
                    )?;
                }
            }
        }
        for h in &ts.histograms {
            let res = match &h.value {
                HistogramValue::Int(v) => app.append_histogram(labels, h.timestamp, v),
                HistogramValue::Float(v) => app.append_float_histogram(labels, h.timestamp, v),
            };
            match res {
                Ok(r) => {
                    series_ref = Some(r);
                    stats.histograms += 1;
                }
                Err(e) => {
                    stats.failed_histograms += 1;
                    refuse(
                        &mut stats,
                        &mut rej,
                        e,
                        h.timestamp,
                        head_max,
                        ooo,
                        labels,
                        ctx,
                    )?;
                }
            }
        }
        if !ts.exemplars.is_empty() {
            let ex = append_exemplars(&mut app, series_ref, labels, &ts.exemplars);
            stats.exemplars += ex.appended;
            stats.failed_exemplars += ex.failed;
            if let Some(msg) = ex.first_error {
                rej.note_exemplar(msg);
            }
        }
    }
    let commit = app.commit().map_err(|e| PushError::Storage {
        tenant: ctx.tenant.to_string(),
        source: e,
    })?;
    if commit.rejected > 0 {
        // A concurrent push to the same series got there first: those samples are out
        // of order now.
        let n = commit.rejected.min(stats.samples + stats.histograms);
        let from_floats = n.min(stats.samples);
        stats.samples -= from_floats;
        stats.failed_samples += from_floats;
        stats.histograms -= n - from_floats;
        stats.failed_histograms += n - from_floats;
        stats.discard(DiscardReason::SampleOutOfOrder, n);
        rej.note(DiscardReason::SampleOutOfOrder, || {
            "err: out of order sample. a concurrent write stored newer samples first".to_string()
        });
    }
    if stats.samples + stats.histograms > 0 {
        ctx.tdb.set_last_update_ms(super::tenant::now_ms());
    }
    match rej.first {
        None => Ok(stats),
        Some((reason, message)) => Err(PushError::Partial {
            tenant: ctx.tenant.to_string(),
            message,
            reason,
            stats: Box::new(stats),
        }),
    }
}

/// The series' labels, refusing label sets that break the distributor's contract.
fn series_labels(tenant: &str, labels: &[Label<'_>]) -> Result<Labels, PushError> {
    let raw = || {
        let pairs: Vec<String> = labels
            .iter()
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    };
    let set = Labels::from_sorted(labels.iter().map(|l| (l.name, l.value))).map_err(|_| {
        PushError::InvalidSeries {
            tenant: tenant.to_string(),
            message: format!("out-of-order label set found when push: {}", raw()),
        }
    })?;
    if set.is_empty() {
        return Err(PushError::InvalidSeries {
            tenant: tenant.to_string(),
            message: format!("series without labels found when push: {}", raw()),
        });
    }
    Ok(set)
}

/// The limit creating the series `labels` would break, if any.
fn series_limit(
    head: &cortex_tsdb::head::Head,
    labels: &Labels,
    per_user: LimitValue,
    per_metric: LimitValue,
) -> Option<DiscardReason> {
    if per_user.reached(head.num_series() as usize) {
        return Some(DiscardReason::PerUserSeriesLimit);
    }
    let name = labels.metric_name().unwrap_or("");
    if per_metric.effective > 0
        && per_metric.reached(head.num_series_with_label(METRIC_NAME, name) as usize)
    {
        return Some(DiscardReason::PerMetricSeriesLimit);
    }
    None
}

fn limit_message(
    reason: DiscardReason,
    labels: &Labels,
    per_user: LimitValue,
    per_metric: LimitValue,
    advice: &str,
) -> String {
    if reason == DiscardReason::PerUserSeriesLimit {
        return format!(
            "per-user series limit of {} exceeded, {advice} (local limit: {} global limit: {} actual local limit: {})",
            per_user.configured(),
            per_user.local,
            per_user.global,
            per_user.effective
        );
    }
    format!(
        "per-metric series limit of {} exceeded for metric {}, {advice} (local limit: {} global limit: {} actual local limit: {}) for series {labels}",
        per_metric.configured(),
        labels.metric_name().unwrap_or(""),
        per_metric.local,
        per_metric.global,
        per_metric.effective
    )
}

/// Counts a refused sample; a refusal that is not the sender's fault fails the push.
#[allow(clippy::too_many_arguments)]
fn refuse(
    stats: &mut PushStats,
    rej: &mut Rejection,
    err: AppendError,
    t: i64,
    head_max: i64,
    ooo: bool,
    labels: &Labels,
    ctx: &PushContext<'_>,
) -> Result<(), PushError> {
    let (reason, text, with_head_max) = match err {
        AppendError::OutOfOrder { .. } if ooo => {
            (DiscardReason::SampleTooOld, "too old sample", true)
        }
        AppendError::OutOfBounds { .. } if ooo => {
            (DiscardReason::SampleTooOld, "too old sample", true)
        }
        AppendError::OutOfOrder { .. } => (
            DiscardReason::SampleOutOfOrder,
            "out of order sample",
            false,
        ),
        AppendError::OutOfBounds { .. } => {
            (DiscardReason::SampleOutOfBounds, "out of bounds", true)
        }
        AppendError::Duplicate { .. } => {
            stats.discard(DiscardReason::NewValueForTimestamp, 1);
            rej.note(DiscardReason::NewValueForTimestamp, || {
                format!("err: duplicate sample for timestamp. series={labels}")
            });
            return Ok(());
        }
        AppendError::InvalidLabels(e) => {
            return Err(PushError::InvalidSeries {
                tenant: ctx.tenant.to_string(),
                message: format!("{e}: {labels}"),
            });
        }
        AppendError::UnknownSeries(r) => {
            return Err(PushError::Storage {
                tenant: ctx.tenant.to_string(),
                source: cortex_tsdb::Error::NotFound(format!("series reference {r}")),
            });
        }
    };
    stats.discard(reason, 1);
    rej.note(reason, || {
        if with_head_max && head_max != i64::MIN {
            format!(
                "err: {text}. timestamp={}, tsdbHeadMaxTimestamp={}, series={labels}",
                rfc3339_millis(t),
                rfc3339_millis(head_max)
            )
        } else {
            format!(
                "err: {text}. timestamp={}, series={labels}",
                rfc3339_millis(t)
            )
        }
    });
    Ok(())
}
