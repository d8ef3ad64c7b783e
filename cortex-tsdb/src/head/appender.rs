//! Appending to the head: validation when a sample is added, durability and visibility
//! on commit.
//!
//! `append` finds or creates the series and checks the sample against it (order,
//! duplicates, the head's valid time range) and against samples of the same series
//! already in this appender. `commit` writes the WAL records — series records for every
//! series the WAL does not know yet, then the samples — applies the samples under each
//! series' lock, and only then makes them visible to queries. A sample that a
//! concurrent commit made invalid in between is counted in [`CommitStats`], not
//! silently dropped. `rollback` (or dropping the appender) forgets everything.
//! Exemplars (`appender_exemplars.rs`) ride along: logged after the samples, stored
//! after the samples were applied.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Head;
use super::isolation::RecordHorizon;
use super::series::{AppendCtx, MemSeries, Rejection};
use crate::histogram::{FloatHistogram, Histogram};
use crate::labels::{LabelError, Labels};
use crate::record::{
    Encoder, RecordBatch, RefFloatHistogramSample, RefHistogramSample, RefSample, RefSeries,
};
use crate::{Error, Result};

/// Why a sample was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Older than the newest sample of its series (and outside any out-of-order window).
    #[error(
        "out of order sample: timestamp {timestamp} is before {last}, the newest sample of {series}"
    )]
    OutOfOrder {
        /// The series.
        series: Labels,
        /// The rejected timestamp.
        timestamp: i64,
        /// The series' newest timestamp.
        last: i64,
    },
    /// Older than what the head accepts (the data before it is in blocks already).
    #[error(
        "out of bounds: timestamp {timestamp} is before {min_valid}, the oldest time the head accepts"
    )]
    OutOfBounds {
        /// The rejected timestamp.
        timestamp: i64,
        /// The oldest acceptable timestamp.
        min_valid: i64,
    },
    /// Same timestamp as an existing sample, different value.
    #[error("duplicate sample for timestamp {timestamp} with a different value in {series}")]
    Duplicate {
        /// The series.
        series: Labels,
        /// The timestamp.
        timestamp: i64,
    },
    /// `append_ref` with a reference the head does not know.
    #[error("unknown series reference {0}")]
    UnknownSeries(u64),
    /// The label set is not acceptable.
    #[error("invalid series: {0}")]
    InvalidLabels(#[from] LabelError),
}

/// What a commit did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Samples applied.
    pub appended: u64,
    /// Samples that were exact duplicates of stored ones and were ignored.
    pub duplicates_ignored: u64,
    /// Samples that a concurrent commit made out of order or duplicate; not applied.
    pub rejected: u64,
}

enum Value {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

/// Why [`HeadAppender::add`] did not take a sample.
enum Added {
    /// The sample is not acceptable.
    Refused(AppendError),
    /// Garbage collection removed the series since it was looked up (only possible when
    /// it had no data left); the sample is handed back.
    Removed(Value),
}

impl Added {
    fn into_error(self, t: i64, head: &Head) -> AppendError {
        match self {
            Added::Refused(e) => e,
            // A series is only collected without data in the head's range, so a sample
            // that can no longer reach it counts as older than the head accepts.
            Added::Removed(_) => AppendError::OutOfBounds {
                timestamp: t,
                min_valid: head.min_valid_time(),
            },
        }
    }
}

struct Pending {
    series: PendingSeries,
    t: i64,
    value: Value,
    /// Goes to the out-of-order buffer.
    ooo: bool,
}

/// The series of a pending sample, held without a reference count: taking and
/// releasing one per sample cost two atomic read-modify-writes on the append path.
///
/// Valid for as long as the sample is pending, which is at most as long as its appender
/// lives: adding the sample raised the series' pending count under the series lock,
/// after checking the series had not been removed, and truncation (the only thing that
/// removes series from the head) leaves series with a pending count above zero in the
/// head's series map, whose `Arc` keeps them alive. The appender borrows the head, so
/// the map outlives it; every pending sample's count is released before it is forgotten
/// (`commit`, or the appender's `Drop`).
#[derive(Clone, Copy)]
struct PendingSeries(std::ptr::NonNull<MemSeries>);

// SAFETY: a `PendingSeries` only gives out `&MemSeries` (see `Deref`), and `MemSeries`
// is `Sync`, so moving or sharing one across threads is as safe as doing so with a
// `&MemSeries`.
unsafe impl Send for PendingSeries {}
// SAFETY: as for `Send`.
unsafe impl Sync for PendingSeries {}

impl PendingSeries {
    /// To be called only with the series lock's pending count raised for the sample
    /// (see the type's documentation).
    fn new(series: &Arc<MemSeries>) -> PendingSeries {
        PendingSeries(std::ptr::NonNull::from(&**series))
    }
}

impl std::ops::Deref for PendingSeries {
    type Target = MemSeries;

    fn deref(&self) -> &MemSeries {
        // SAFETY: the series lives while its sample is pending (see the type's
        // documentation), and a `PendingSeries` exists only inside a pending sample.
        unsafe { self.0.as_ref() }
    }
}

/// Buffers an appender needs, kept in a pool on the head so that appenders created per
/// scrape or per request do not allocate them again each time.
#[derive(Default)]
pub(super) struct AppendBuffers {
    pending: Vec<Pending>,
    batch: RecordBatch,
    series: Vec<RefSeries>,
    floats: Vec<RefSample>,
    late: Vec<RefSample>,
    hists: Vec<RefHistogramSample>,
    fhists: Vec<RefFloatHistogramSample>,
    horizon: RecordHorizon,
}

impl AppendBuffers {
    /// Empties the buffers for the next appender; false when they grew too large to keep.
    pub(super) fn prepare_reuse(&mut self) -> bool {
        self.pending.clear();
        self.pending.capacity() <= 1 << 16 && self.batch.byte_len() <= 16 << 20
    }
}

/// A series of the head, found by [`HeadAppender::find`] or
/// [`HeadAppender::find_with`], or returned by [`HeadAppender::append_new`]: samples added
/// with [`HeadAppender::append_to`] skip looking it up again.
#[derive(Clone)]
pub struct SeriesHandle(Arc<MemSeries>);

impl SeriesHandle {
    /// The series' reference (as [`HeadAppender::append_ref`] takes it).
    pub fn series_ref(&self) -> u64 {
        self.0.series_ref
    }

    /// The series' labels.
    pub fn labels(&self) -> &Labels {
        &self.0.labels
    }
}

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesHandle({} {})", self.0.series_ref, self.0.labels)
    }
}

/// Collects samples for one commit.
pub struct HeadAppender<'a> {
    pub(super) head: &'a Head,
    pending: Vec<Pending>,
    pub(super) exemplars: Vec<super::appender_exemplars::PendingExemplar>,
    min_valid: i64,
    bufs: AppendBuffers,
}

impl<'a> HeadAppender<'a> {
    pub(super) fn new(head: &'a Head) -> HeadAppender<'a> {
        let mut bufs = head.take_append_buffers();
        HeadAppender {
            head,
            pending: std::mem::take(&mut bufs.pending),
            exemplars: Vec::new(),
            min_valid: head.appendable_min_time(),
            bufs,
        }
    }

    /// Adds a float sample to the series with `labels`; returns the series reference,
    /// which [`HeadAppender::append_ref`] takes for later samples.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<u64, AppendError> {
        // Refused before the series exists, so a sample out of bounds creates none.
        self.check_bounds(t)?;
        let series = self.series_for(labels)?;
        let fresh = self.add_or_recreate(&series, t, Value::Float(v))?;
        Ok(fresh.unwrap_or(series).series_ref)
    }

    /// The existing series with `labels`, whose [`Labels::stable_hash`] is `hash` (the
    /// caller usually needs the hash too, so it passes it rather than have it computed
    /// again); `None` when the head has no such series.
    pub fn find(&self, labels: &Labels, hash: u64) -> Option<SeriesHandle> {
        self.head
            .series
            .get_by_labels(hash, labels)
            .map(SeriesHandle)
    }

    /// [`find`](Self::find) for a caller that has no [`Labels`] yet: the series whose
    /// labels' stable hash is `hash` and whose labels satisfy `eq` (for example
    /// [`Labels::eq_pairs`] with the label pairs of a request).
    pub fn find_with(&self, hash: u64, eq: impl Fn(&Labels) -> bool) -> Option<SeriesHandle> {
        self.head.series.get_by(hash, eq).map(SeriesHandle)
    }

    /// Before looking up series `next` of a batch whose label hashes are `hashes`: starts
    /// bringing what the lookups of the few series after it will touch (table slot,
    /// series, labels, one step each) into the cache, so that the cache misses of
    /// consecutive lookups overlap instead of following one another. Only a hint: any
    /// hashes and any `next` are fine, and lookups give the same answers without it.
    #[inline]
    pub fn prefetch_lookups(&self, hashes: &[u64], next: usize) {
        let index = &self.head.series.by_hash;
        if let Some(&h) = hashes.get(next + 6) {
            index.prefetch_slot(h);
        }
        if let Some(&h) = hashes.get(next + 4) {
            index.prefetch_series(h);
        }
        if let Some(&h) = hashes.get(next + 2) {
            index.prefetch_labels(h);
        }
    }

    /// Adds a float sample to the series with `labels` like [`append`](Self::append), and
    /// returns a handle to the series for [`append_to`](Self::append_to).
    pub fn append_new(
        &mut self,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesHandle, AppendError> {
        self.check_bounds(t)?;
        let series = self.series_for(labels)?;
        let fresh = self.add_or_recreate(&series, t, Value::Float(v))?;
        Ok(SeriesHandle(fresh.unwrap_or(series)))
    }

    /// Adds a float sample to the series of `handle`.
    pub fn append_to(&mut self, handle: &SeriesHandle, t: i64, v: f64) -> Result<(), AppendError> {
        self.add_or_recreate(&handle.0, t, Value::Float(v))
            .map(|_| ())
    }

    /// Adds a float sample to the series with reference `r`.
    pub fn append_ref(&mut self, r: u64, t: i64, v: f64) -> Result<(), AppendError> {
        let series = self
            .head
            .series
            .get(r)
            .ok_or(AppendError::UnknownSeries(r))?;
        self.add(&series, t, Value::Float(v))
            .map_err(|e| e.into_error(t, self.head))
    }

    /// Adds an integer native histogram sample.
    pub fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &Histogram,
    ) -> Result<u64, AppendError> {
        let series = self.series_for(labels)?;
        let fresh = self.add_or_recreate(&series, t, Value::Histogram(Box::new(h.clone())))?;
        Ok(fresh.unwrap_or(series).series_ref)
    }

    /// Adds a float native histogram sample.
    pub fn append_float_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<u64, AppendError> {
        let series = self.series_for(labels)?;
        let fresh = self.add_or_recreate(&series, t, Value::FloatHistogram(Box::new(h.clone())))?;
        Ok(fresh.unwrap_or(series).series_ref)
    }

    /// Number of samples waiting for commit.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing waits for commit.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn series_for(&self, labels: &Labels) -> Result<Arc<MemSeries>, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels(LabelError::MissingMetricName));
        }
        loop {
            let s = self.head.get_or_create(labels).0;
            // A series garbage-collected between the lookup and now is gone from the
            // head: look it up again, which creates a fresh one.
            if !s.lock().removed {
                return Ok(s);
            }
        }
    }

    /// [`add`](Self::add), and when the series was garbage-collected since it was looked
    /// up, add to a fresh series with the same labels instead: that series is returned
    /// (`None` when `series` took the sample).
    fn add_or_recreate(
        &mut self,
        series: &Arc<MemSeries>,
        t: i64,
        value: Value,
    ) -> Result<Option<Arc<MemSeries>>, AppendError> {
        match self.add(series, t, value) {
            Ok(()) => Ok(None),
            Err(Added::Removed(value)) => {
                let fresh = self.series_for(&series.labels)?;
                self.add(&fresh, t, value)
                    .map(|()| Some(fresh))
                    .map_err(|e| e.into_error(t, self.head))
            }
            Err(e) => Err(e.into_error(t, self.head)),
        }
    }

    /// Refuses a sample older than the head accepts.
    fn check_bounds(&self, t: i64) -> Result<(), AppendError> {
        if t < self.min_valid {
            self.head
                .stats
                .out_of_bounds
                .fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds {
                timestamp: t,
                min_valid: self.min_valid,
            });
        }
        Ok(())
    }

    fn add(&mut self, series: &Arc<MemSeries>, t: i64, value: Value) -> Result<(), Added> {
        self.check_bounds(t).map_err(Added::Refused)?;
        let mut ooo = false;
        {
            let mut st = series.lock();
            if st.removed {
                return Err(Added::Removed(value));
            }
            let verdict = if st.pending > 0 && st.pending_max != i64::MIN {
                // Samples of this series wait for a commit: order against the newest
                // of them (which is newer than anything committed). An equal timestamp
                // is sorted out by the commit (ignorable duplicate or not).
                match t.cmp(&st.pending_max) {
                    std::cmp::Ordering::Less => Err(Rejection::OutOfOrder {
                        last: st.pending_max,
                    }),
                    _ => Ok(false),
                }
            } else {
                match &value {
                    Value::Float(v) => st.check_float(t, *v),
                    Value::Histogram(h) => st.check_histogram(t, Some(h), None),
                    Value::FloatHistogram(h) => st.check_histogram(t, None, Some(h)),
                }
            };
            match verdict {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(Rejection::Duplicate) => {
                    self.head.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    return Err(Added::Refused(AppendError::Duplicate {
                        series: series.labels.clone(),
                        timestamp: t,
                    }));
                }
                Err(Rejection::OutOfOrder { last }) => {
                    let window = self.head.opts.out_of_order_window;
                    if window > 0
                        && matches!(value, Value::Float(_))
                        && t >= last.saturating_sub(window)
                    {
                        ooo = true;
                    } else {
                        self.head.stats.out_of_order.fetch_add(1, Ordering::Relaxed);
                        return Err(Added::Refused(AppendError::OutOfOrder {
                            series: series.labels.clone(),
                            timestamp: t,
                            last,
                        }));
                    }
                }
            }
            st.pending += 1;
            if !ooo {
                st.pending_max = st.pending_max.max(t);
            }
            st.prefetch_open_chunk();
        }
        self.pending.push(Pending {
            series: PendingSeries::new(series),
            t,
            value,
            ooo,
        });
        Ok(())
    }

    /// Makes every pending sample durable (WAL) and visible, in that order.
    pub fn commit(mut self) -> Result<CommitStats> {
        if self.pending.is_empty() && self.exemplars.is_empty() {
            return Ok(CommitStats::default());
        }
        let head = self.head;
        // On a WAL error the appender is dropped, which releases the series.
        self.log_to_wal()?;
        let append_id = head.isolation.open_append();
        head.isolation.record_horizon(&mut self.bufs.horizon);
        let horizon = &self.bufs.horizon;
        // Read after taking the id: a compaction that raised it waits for this commit,
        // and a commit that started later sees the raised value.
        let min_valid = head.min_valid_time();
        let mut stats = CommitStats::default();
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let ctx = AppendCtx {
            files: &head.chunk_files,
            compat: head.opts.byte_compat,
            chunk_range: head.opts.chunk_range,
        };
        // Stamped on every series that stores a sample (see `MemSeries::touched`).
        let touched = u32::try_from(head.clock().as_secs() + 1).unwrap_or(u32::MAX);
        let mut applied = 0usize;
        let result = (|| -> Result<()> {
            for p in &self.pending {
                applied += 1;
                let s = &p.series;
                let mut st = s.lock();
                st.release_pending();
                if p.t < min_valid {
                    stats.rejected += 1;
                    continue;
                }
                if p.ooo {
                    match &p.value {
                        Value::Float(v) => match st.insert_ooo(p.t, *v) {
                            Ok(()) => {
                                stats.appended += 1;
                                s.touched.store(touched, Ordering::Relaxed);
                            }
                            Err(_) => stats.rejected += 1,
                        },
                        _ => stats.rejected += 1,
                    }
                    drop(st);
                    mint = mint.min(p.t);
                    maxt = maxt.max(p.t);
                    continue;
                }
                st.note_commit(append_id, horizon);
                let checked = match &p.value {
                    Value::Float(v) => st.check_float(p.t, *v),
                    Value::Histogram(h) => st.check_histogram(p.t, Some(h), None),
                    Value::FloatHistogram(h) => st.check_histogram(p.t, None, Some(h)),
                };
                match checked {
                    Ok(true) => {
                        stats.duplicates_ignored += 1;
                        continue;
                    }
                    Ok(false) => {}
                    Err(_) => {
                        stats.rejected += 1;
                        continue;
                    }
                }
                match &p.value {
                    Value::Float(v) => st.append_float(s.series_ref, p.t, *v, ctx)?,
                    Value::Histogram(h) => st.append_histogram(s.series_ref, p.t, h, ctx)?,
                    Value::FloatHistogram(h) => {
                        st.append_float_histogram(s.series_ref, p.t, h, ctx)?
                    }
                }
                // Before the lock goes: with the pending count released, the series
                // may be truncated away as soon as it is unlocked.
                s.touched.store(touched, Ordering::Relaxed);
                drop(st);
                stats.appended += 1;
                mint = mint.min(p.t);
                maxt = maxt.max(p.t);
            }
            Ok(())
        })();
        if mint <= maxt {
            head.note_time(mint);
            head.note_time(maxt);
        }
        // Samples the loop did not reach (after an error) release their series too.
        for p in self.pending.iter().skip(applied) {
            p.series.lock().release_pending();
        }
        self.pending.clear();
        head.isolation.close_append(append_id);
        self.commit_exemplars();
        head.stats
            .samples_appended
            .fetch_add(stats.appended, Ordering::Relaxed);
        result.map(|()| stats)
    }

    /// Forgets every pending sample.
    pub fn rollback(self) {}
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        for p in self.pending.drain(..) {
            p.series.lock().release_pending();
        }
        let mut bufs = std::mem::take(&mut self.bufs);
        bufs.pending = std::mem::take(&mut self.pending);
        self.head.return_append_buffers(bufs);
    }
}

impl HeadAppender<'_> {
    fn log_to_wal(&mut self) -> Result<()> {
        let Some(wal) = &self.head.wal else {
            return Ok(());
        };
        let enc = Encoder::default();
        let b = &mut self.bufs;
        b.series.clear();
        b.floats.clear();
        b.late.clear();
        b.hists.clear();
        b.fhists.clear();
        let exemplars = super::appender_exemplars::wal_entries(&self.exemplars, &mut b.series);
        for p in &self.pending {
            let s = &p.series;
            if !s.is_logged() {
                b.series.push(RefSeries {
                    series_ref: s.series_ref,
                    labels: s.labels.clone(),
                });
            }
            match &p.value {
                // Out-of-order samples go to the write-behind log, as in Prometheus.
                Value::Float(v) if p.ooo => b.late.push(RefSample {
                    series_ref: s.series_ref,
                    st: 0,
                    t: p.t,
                    v: *v,
                }),
                Value::Float(v) => b.floats.push(RefSample {
                    series_ref: s.series_ref,
                    st: 0,
                    t: p.t,
                    v: *v,
                }),
                Value::Histogram(h) => b.hists.push(RefHistogramSample {
                    series_ref: s.series_ref,
                    st: 0,
                    t: p.t,
                    h: (**h).clone(),
                }),
                Value::FloatHistogram(h) => b.fhists.push(RefFloatHistogramSample {
                    series_ref: s.series_ref,
                    st: 0,
                    t: p.t,
                    fh: (**h).clone(),
                }),
            }
        }
        if b.series.len() > 1 {
            b.series.sort_unstable_by_key(|s| s.series_ref);
            b.series.dedup_by_key(|s| s.series_ref);
        }
        b.batch.clear();
        enc.series(&b.series, &mut b.batch);
        enc.samples(&b.floats, &mut b.batch);
        enc.histogram_samples(&b.hists, &mut b.batch);
        enc.float_histogram_samples(&b.fhists, &mut b.batch);
        // After the samples, as Prometheus logs them: a reader of the WAL (remote write)
        // must not see an exemplar before its sample.
        enc.exemplars(&exemplars, &mut b.batch);
        wal.lock()
            .map_err(|_| Error::InvalidArgument("WAL lock poisoned by a panic".into()))?
            .log_batch(&b.batch)?;
        if !b.series.is_empty() {
            for p in &self.pending {
                p.series.logged.store(true, Ordering::Release);
            }
            super::appender_exemplars::mark_logged(&self.exemplars);
        }
        b.series.clear();
        if !b.late.is_empty() {
            let Some(wbl) = &self.head.wbl else {
                return Err(Error::InvalidArgument(
                    "out-of-order samples without a write-behind log".into(),
                ));
            };
            b.batch.clear();
            enc.samples(&b.late, &mut b.batch);
            wbl.lock()
                .map_err(|_| Error::InvalidArgument("WBL lock poisoned by a panic".into()))?
                .log_batch(&b.batch)?;
        }
        Ok(())
    }
}
