//! One series of the head: its labels, its full chunks (in head chunk files), its open
//! chunk, and what appends and queries need to know about them.
//!
//! All mutable state sits behind the series' own lock (`series_lock.rs`), so appends to different series
//! never contend. Appending validates order (out of order, duplicate timestamp with a
//! different value — the same value is accepted and ignored, as Prometheus does), cuts
//! chunks by [`CutPolicy`] and writes full chunks to the head chunk files. Readers take
//! a [`SeriesSnapshot`]: the chunk list as of now, limited to what the reader's
//! isolation state may see.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::chunk::{CutPolicy, HeadChunk, OpenChunk};
use super::histogram_chunk::HeadHistogramChunk;
use super::isolation::{IsolationState, RecordHorizon};
use super::series_lock::{SeriesGuard, SeriesLock};
use crate::chunkenc::{
    AppendOutcome, ByteCompat, Encoding, FloatHistogramChunk, HistogramChunk, XorChunk,
};
use crate::chunks::{HeadChunkFiles, HeadChunkRef};
use crate::histogram::{FloatHistogram, Histogram};
use crate::labels::Labels;
use crate::{Error, Result};

/// A full chunk of a series, stored in a head chunk file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmappedChunk {
    /// Where the chunk is.
    pub chunk_ref: HeadChunkRef,
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp.
    pub max_time: i64,
    /// Samples in the chunk.
    pub num_samples: u16,
    /// The chunk's encoding.
    pub encoding: Encoding,
}

/// Why a sample was not accepted by a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Older than the series' newest sample.
    OutOfOrder {
        /// The newest timestamp the series has.
        last: i64,
    },
    /// Same timestamp as the newest sample, different value.
    Duplicate,
}

/// What the head keeps per series.
pub struct MemSeries {
    /// The head's reference of the series (also its reference in the WAL).
    pub series_ref: u64,
    /// The series' labels.
    pub labels: Labels,
    /// [`Labels::stable_hash`] of the labels, which the head's label map is keyed by.
    pub labels_hash: u64,
    /// Whether a series record for it is in the WAL.
    pub logged: AtomicBool,
    /// When a commit last stored a sample in it: the head's clock ([`Head::clock`]) in
    /// whole seconds plus one, 0 for never (replayed series count from their first new
    /// sample). Sits in what would be padding after `logged`.
    ///
    /// [`Head::clock`]: super::Head::clock
    pub(crate) touched: AtomicU32,
    pub(crate) state: SeriesLock<SeriesState>,
}

/// The mutable part of a series.
pub(crate) struct SeriesState {
    /// Full chunks in time order (exactly sized: a series gains one every hour or two).
    pub(crate) mmapped: Box<[MmappedChunk]>,
    pub(crate) head: Option<HeadChunk>,
    cut: CutPolicy,
    /// Timestamp of the newest in-order sample (`i64::MIN` when none); also the open
    /// chunk's last timestamp when there is an open chunk.
    pub(crate) max_time: i64,
    /// Samples ever appended, counting those of chunks already dropped by truncation
    /// (those are the ones the chunks held do not account for).
    pub(crate) total_samples: u64,
    /// The newest commit to this series: (append id, samples before that commit).
    last_commit: (u64, u64),
    /// What few series need: kept out of line to keep the common series small.
    extra: Option<Box<SeriesExtra>>,
    /// Samples of this series waiting in appenders for their commit.
    pub(crate) pending: u32,
    /// The newest of those samples' timestamps (`i64::MIN` when none).
    pub(crate) pending_max: i64,
    /// Set when garbage collection removed the series from the head.
    pub(crate) removed: bool,
}

enum LastHistogram {
    Int(Histogram),
    Float(FloatHistogram),
}

/// Rarely needed series state.
#[derive(Default)]
struct SeriesExtra {
    /// The newest histogram, for duplicate detection of histogram samples (boxed: most
    /// series that need this struct hold no histogram).
    last_histogram: Option<Box<LastHistogram>>,
    /// Older commits some reader may still not see.
    older_commits: Vec<(u64, u64)>,
    /// Samples accepted out of order, sorted by time (the out-of-order window).
    ooo: Vec<(i64, f64)>,
}

/// A reader's view of a series' chunks.
#[derive(Debug, Clone)]
pub struct SeriesSnapshot {
    /// Full chunks in head chunk files, in time order.
    pub mmapped: Vec<MmappedChunk>,
    /// The open chunk's bytes, time range and encoding, if it is visible.
    pub open: Option<(Vec<u8>, i64, i64, Encoding)>,
    /// How many samples of each chunk (mmapped ones, then the open one) are visible.
    pub visible: Vec<u16>,
    /// Out-of-order samples in the range, sorted.
    pub ooo: Vec<(i64, f64)>,
}

impl MemSeries {
    /// A new series without samples.
    pub fn new(series_ref: u64, labels: Labels) -> MemSeries {
        let hash = labels.stable_hash();
        MemSeries::with_hash(series_ref, labels, hash)
    }

    /// A new series whose labels' stable hash is known to be `labels_hash`.
    pub(crate) fn with_hash(series_ref: u64, labels: Labels, labels_hash: u64) -> MemSeries {
        MemSeries {
            series_ref,
            labels,
            labels_hash,
            logged: AtomicBool::new(false),
            touched: AtomicU32::new(0),
            state: SeriesLock::new(SeriesState {
                mmapped: Box::default(),
                head: None,
                cut: CutPolicy::new(),
                max_time: i64::MIN,
                total_samples: 0,
                last_commit: (0, 0),
                extra: None,
                pending: 0,
                pending_max: i64::MIN,
                removed: false,
            }),
        }
    }

    pub(crate) fn lock(&self) -> SeriesGuard<'_, SeriesState> {
        self.state.lock()
    }

    /// True when a WAL series record was written for this series.
    pub fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Acquire)
    }
}

/// What appending needs besides the series: where full chunks go and how chunks look.
#[derive(Clone, Copy)]
pub(crate) struct AppendCtx<'a> {
    pub(crate) files: &'a HeadChunkFiles,
    pub(crate) compat: ByteCompat,
    pub(crate) chunk_range: i64,
}

impl SeriesState {
    fn extra_mut(&mut self) -> &mut SeriesExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Frees the rarely needed state once nothing is left in it.
    fn drop_extra_if_unused(&mut self) {
        if self.extra.as_ref().is_some_and(|e| {
            e.last_histogram.is_none() && e.older_commits.is_empty() && e.ooo.is_empty()
        }) {
            self.extra = None;
        }
    }

    /// Starts bringing the end of the open chunk, where the next sample goes, into the
    /// cache (for a commit that appends to it soon).
    #[inline]
    pub(crate) fn prefetch_open_chunk(&self) {
        if let Some(h) = &self.head {
            let b = h.chunk.bytes();
            super::hash_index::prefetch(b.as_ptr().wrapping_add(b.len().saturating_sub(1)));
        }
    }

    fn last_histogram(&self) -> Option<&LastHistogram> {
        self.extra
            .as_ref()
            .and_then(|e| e.last_histogram.as_deref())
    }

    fn set_last_histogram(&mut self, h: Option<LastHistogram>) {
        match h {
            None => {
                if let Some(e) = self.extra.as_mut()
                    && e.last_histogram.take().is_some()
                {
                    self.drop_extra_if_unused();
                }
            }
            Some(h) => match &mut self.extra_mut().last_histogram {
                Some(b) => **b = h,
                slot => *slot = Some(Box::new(h)),
            },
        }
    }

    /// The bits of the newest float value, for duplicate detection: kept by the open XOR
    /// chunk's appender (the series does not store it again). Without an open XOR chunk
    /// (no float since the newest histogram, or the chunks replayed from chunk files) no
    /// value is known and this is 0, so only a 0.0 sample at the newest timestamp counts
    /// as a duplicate to ignore.
    fn last_float_bits(&self) -> u64 {
        match self.head.as_ref().map(|h| &h.chunk) {
            Some(OpenChunk::Xor(c)) => c.last_value().map_or(0, f64::to_bits),
            _ => 0,
        }
    }

    /// Out-of-order samples held, sorted.
    pub(crate) fn ooo(&self) -> &[(i64, f64)] {
        self.extra.as_ref().map_or(&[], |e| &e.ooo)
    }

    /// One pending sample was committed or dropped.
    pub(crate) fn release_pending(&mut self) {
        self.pending -= 1;
        if self.pending == 0 {
            self.pending_max = i64::MIN;
        }
    }

    /// Checks a float sample against the series without appending it. `Ok(true)` means it
    /// is a duplicate of the newest sample and is to be ignored.
    pub(crate) fn check_float(&self, t: i64, v: f64) -> std::result::Result<bool, Rejection> {
        if t > self.max_time || self.max_time == i64::MIN {
            return Ok(false);
        }
        if t < self.max_time {
            return Err(Rejection::OutOfOrder {
                last: self.max_time,
            });
        }
        if self.last_histogram().is_none() && v.to_bits() == self.last_float_bits() {
            Ok(true)
        } else {
            Err(Rejection::Duplicate)
        }
    }

    /// Checks a histogram sample; `Ok(true)` for an exact duplicate.
    pub(crate) fn check_histogram(
        &self,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> std::result::Result<bool, Rejection> {
        if t > self.max_time || self.max_time == i64::MIN {
            return Ok(false);
        }
        if t < self.max_time {
            return Err(Rejection::OutOfOrder {
                last: self.max_time,
            });
        }
        let same = match (self.last_histogram(), h, fh) {
            (Some(LastHistogram::Int(a)), Some(b), _) => a == b,
            (Some(LastHistogram::Float(a)), _, Some(b)) => a == b,
            _ => false,
        };
        if same {
            Ok(true)
        } else {
            Err(Rejection::Duplicate)
        }
    }

    /// Appends a float sample that passed [`SeriesState::check_float`].
    pub(crate) fn append_float(
        &mut self,
        series_ref: u64,
        t: i64,
        v: f64,
        ctx: AppendCtx<'_>,
    ) -> Result<()> {
        let (files, compat, range) = (ctx.files, ctx.compat, ctx.chunk_range);
        let same_kind = matches!(
            self.head.as_ref().map(|h| &h.chunk),
            Some(OpenChunk::Xor(_))
        );
        let cut = !same_kind
            || self
                .cut
                .must_cut(self.head.as_ref(), self.max_time, t, range);
        if cut {
            if !same_kind {
                self.cut.start(t, range);
            }
            self.mmap_head(series_ref, files)?;
            self.head = Some(HeadChunk {
                chunk: OpenChunk::Xor(XorChunk::with_compat(compat)),
                min_time: t,
            });
        }
        if let Some(HeadChunk {
            chunk: OpenChunk::Xor(c),
            ..
        }) = self.head.as_mut()
        {
            c.appender_until(self.cut.end())?
                .append(t, v)
                .map_err(|e| Error::InvalidArgument(format!("append to chunk: {e}")))?;
        }
        self.max_time = t;
        if self.extra.is_some() {
            self.set_last_histogram(None);
        }
        self.total_samples += 1;
        Ok(())
    }

    /// Appends an integer histogram that passed [`SeriesState::check_histogram`].
    pub(crate) fn append_histogram(
        &mut self,
        series_ref: u64,
        t: i64,
        h: &Histogram,
        ctx: AppendCtx<'_>,
    ) -> Result<()> {
        self.append_any_histogram::<HistogramChunk>(series_ref, t, h, ctx)?;
        self.set_last_histogram(Some(LastHistogram::Int(h.clone())));
        Ok(())
    }

    /// Appends a float histogram that passed [`SeriesState::check_histogram`].
    pub(crate) fn append_float_histogram(
        &mut self,
        series_ref: u64,
        t: i64,
        h: &FloatHistogram,
        ctx: AppendCtx<'_>,
    ) -> Result<()> {
        self.append_any_histogram::<FloatHistogramChunk>(series_ref, t, h, ctx)?;
        self.set_last_histogram(Some(LastHistogram::Float(h.clone())));
        Ok(())
    }

    /// Appends a histogram of either kind: cuts a new chunk when the open one is of
    /// another kind or due, and follows the chunk appender's outcome (appended, recoded
    /// into a wider layout, or a new chunk for a counter reset or layout change).
    fn append_any_histogram<C: HeadHistogramChunk>(
        &mut self,
        series_ref: u64,
        t: i64,
        h: &C::Value,
        ctx: AppendCtx<'_>,
    ) -> Result<()> {
        let (files, compat, range) = (ctx.files, ctx.compat, ctx.chunk_range);
        let same_kind = self
            .head
            .as_mut()
            .is_some_and(|h| C::of(&mut h.chunk).is_some());
        let cut = !same_kind
            || self
                .cut
                .must_cut(self.head.as_ref(), self.max_time, t, range);
        if cut {
            if !same_kind {
                self.cut.start(t, range);
            }
            let mut prev = self
                .head
                .as_mut()
                .and_then(|h| C::of(&mut h.chunk))
                .map(|c| (**c).clone());
            self.mmap_head(series_ref, files)?;
            let mut c = C::new(compat);
            c.append(prev.as_mut(), t, h)?;
            self.head = Some(HeadChunk {
                chunk: c.into_open(),
                min_time: t,
            });
        } else if let Some(c) = self.head.as_mut().and_then(|h| C::of(&mut h.chunk)) {
            match c.append(None, t, h)? {
                AppendOutcome::Appended => {}
                AppendOutcome::Recoded(n) => **c = n,
                AppendOutcome::NewChunk(n) => {
                    self.cut.start(t, range);
                    self.mmap_head(series_ref, files)?;
                    self.head = Some(HeadChunk {
                        chunk: n.into_open(),
                        min_time: t,
                    });
                }
            }
        }
        self.max_time = t;
        self.total_samples += 1;
        Ok(())
    }

    /// Inserts an out-of-order sample into the series' out-of-order buffer; a sample
    /// already there with the same timestamp is a duplicate unless its value is equal.
    pub(crate) fn insert_ooo(&mut self, t: i64, v: f64) -> std::result::Result<(), Rejection> {
        let ooo = &mut self.extra_mut().ooo;
        match ooo.binary_search_by_key(&t, |(ts, _)| *ts) {
            Ok(i) if ooo[i].1.to_bits() == v.to_bits() => Ok(()),
            Ok(_) => Err(Rejection::Duplicate),
            Err(i) => {
                ooo.insert(i, (t, v));
                Ok(())
            }
        }
    }

    /// Writes the open chunk to the head chunk files and forgets its bytes.
    pub(crate) fn mmap_head(&mut self, series_ref: u64, files: &HeadChunkFiles) -> Result<()> {
        if let Some(h) = self.head.take() {
            let n = h.chunk.num_samples();
            if n == 0 {
                return Ok(());
            }
            let r = files.write_chunk(
                series_ref,
                h.min_time,
                self.max_time,
                h.chunk.encoding(),
                h.chunk.bytes(),
            )?;
            let mut mmapped = Vec::with_capacity(self.mmapped.len() + 1);
            mmapped.extend_from_slice(&self.mmapped);
            mmapped.push(MmappedChunk {
                chunk_ref: r,
                min_time: h.min_time,
                max_time: self.max_time,
                num_samples: n,
                encoding: h.chunk.encoding(),
            });
            self.mmapped = mmapped.into_boxed_slice();
        }
        Ok(())
    }

    /// Samples in chunks that truncation dropped: those counted in `total_samples` that
    /// the chunks held now do not account for.
    fn dropped_samples(&self) -> u64 {
        let held: u64 = self
            .mmapped
            .iter()
            .map(|c| u64::from(c.num_samples))
            .chain(self.head.iter().map(|h| u64::from(h.chunk.num_samples())))
            .sum();
        debug_assert!(held <= self.total_samples);
        self.total_samples.saturating_sub(held)
    }

    /// Records that the commit with `append_id` starts at the current sample count, and
    /// forgets the records of older commits that no reader needs any more.
    pub(crate) fn note_commit(&mut self, append_id: u64, horizon: &RecordHorizon) {
        if self.last_commit.0 == append_id {
            return;
        }
        if let Some(e) = self.extra.as_mut()
            && !e.older_commits.is_empty()
        {
            e.older_commits.retain(|(id, _)| horizon.needs(*id));
            if e.older_commits.is_empty() {
                e.older_commits = Vec::new();
                self.drop_extra_if_unused();
            }
        }
        if self.last_commit.0 != 0 && horizon.needs(self.last_commit.0) {
            let last = self.last_commit;
            self.extra_mut().older_commits.push(last);
        }
        self.last_commit = (append_id, self.total_samples);
    }

    /// The chunks overlapping `[mint, maxt]` that `iso` may see.
    pub(crate) fn snapshot(&self, mint: i64, maxt: i64, iso: &IsolationState) -> SeriesSnapshot {
        // Samples at or after `limit` (counted over the series' life) are invisible.
        let limit = std::iter::once(&self.last_commit)
            .filter(|(id, _)| *id != 0)
            .chain(self.extra.iter().flat_map(|e| e.older_commits.iter()))
            .filter(|(id, _)| !iso.sees(*id))
            .map(|(_, before)| *before)
            .min()
            .unwrap_or(u64::MAX);
        let mut snap = SeriesSnapshot {
            mmapped: Vec::new(),
            open: None,
            visible: Vec::new(),
            ooo: Vec::new(),
        };
        let mut first = self.dropped_samples();
        for c in &self.mmapped {
            let n = u64::from(c.num_samples);
            if first < limit && c.max_time >= mint && c.min_time <= maxt {
                snap.mmapped.push(*c);
                snap.visible.push((limit - first).min(n) as u16);
            }
            first += n;
        }
        if let Some(h) = &self.head {
            let n = u64::from(h.chunk.num_samples());
            if n > 0 && first < limit && self.max_time >= mint && h.min_time <= maxt {
                snap.open = Some((
                    h.chunk.bytes().to_vec(),
                    h.min_time,
                    self.max_time,
                    h.chunk.encoding(),
                ));
                snap.visible.push((limit - first).min(n) as u16);
            }
        }
        let ooo = self.ooo();
        let lo = ooo.partition_point(|(t, _)| *t < mint);
        let hi = ooo.partition_point(|(t, _)| *t <= maxt);
        snap.ooo.extend_from_slice(&ooo[lo..hi]);
        snap
    }

    /// The earliest timestamp the series holds, if any.
    pub(crate) fn min_time(&self) -> Option<i64> {
        let in_order = self.mmapped.first().map(|c| c.min_time).or_else(|| {
            self.head
                .as_ref()
                .filter(|h| h.chunk.num_samples() > 0)
                .map(|h| h.min_time)
        });
        match (in_order, self.ooo().first().map(|(t, _)| *t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops every chunk that ends before `mint` and out-of-order samples before it;
    /// returns true when the series holds nothing any more.
    pub(crate) fn truncate_before(&mut self, mint: i64) -> bool {
        let keep_from = self.mmapped.partition_point(|c| c.max_time < mint);
        if keep_from > 0 {
            self.mmapped = self.mmapped[keep_from..].into();
        }
        if self.mmapped.is_empty() && self.head.is_some() && self.max_time < mint {
            self.head = None;
        }
        if let Some(e) = self.extra.as_mut() {
            let lo = e.ooo.partition_point(|(t, _)| *t < mint);
            e.ooo.drain(..lo);
            if e.ooo.is_empty() {
                e.ooo = Vec::new();
                self.drop_extra_if_unused();
            }
        }
        self.mmapped.is_empty() && self.head.is_none() && self.ooo().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_series_stays_small() {
        // Memory per active series is a headline number: keep the per-series struct
        // (labels and chunk bytes are separate allocations) small. With the Arc's two
        // counters and the allocator's header it takes a 224-byte heap block.
        assert!(
            std::mem::size_of::<super::MemSeries>() <= 200,
            "{}",
            std::mem::size_of::<super::MemSeries>()
        );
        assert!(std::mem::size_of::<super::OpenChunk>() <= 64);
    }

    #[test]
    fn the_newest_float_is_known_from_the_open_chunk_for_duplicates() {
        use super::{AppendCtx, MemSeries, Rejection};
        use crate::chunkenc::ByteCompat;
        use crate::chunks::HeadChunkFiles;
        use crate::histogram::Histogram;
        use crate::labels::Labels;

        let files = HeadChunkFiles::open_temporary().unwrap();
        let ctx = AppendCtx {
            files: &files,
            compat: ByteCompat::default(),
            chunk_range: 7_200_000,
        };
        let series = MemSeries::new(1, Labels::from_pairs([("a", "1")]).unwrap());
        let mut st = series.lock();
        assert_eq!(st.check_float(10, 0.0), Ok(false));
        for t in 1..=300 {
            st.append_float(1, t * 1000, t as f64 + 0.5, ctx).unwrap();
        }
        assert!(
            !st.mmapped.is_empty(),
            "a chunk was cut: the open one is newer"
        );
        assert_eq!(st.check_float(300_000, 300.5), Ok(true));
        assert_eq!(st.check_float(300_000, 1.5), Err(Rejection::Duplicate));
        assert_eq!(
            st.check_float(299_000, 299.5),
            Err(Rejection::OutOfOrder { last: 300_000 })
        );
        st.append_histogram(1, 301_000, &Histogram::default(), ctx)
            .unwrap();
        // After a histogram no float value is the newest sample.
        assert_eq!(st.check_float(301_000, 300.5), Err(Rejection::Duplicate));
        st.append_float(1, 302_000, -1.0, ctx).unwrap();
        assert_eq!(st.check_float(302_000, -1.0), Ok(true));
    }

    #[test]
    fn commit_records_are_kept_only_while_a_reader_may_miss_the_commit() {
        use super::super::isolation::{Isolation, IsolationState, RecordHorizon};
        use super::{AppendCtx, MemSeries};
        use crate::chunkenc::ByteCompat;
        use crate::chunks::HeadChunkFiles;
        use crate::labels::Labels;

        let files = HeadChunkFiles::open_temporary().unwrap();
        let ctx = AppendCtx {
            files: &files,
            compat: ByteCompat::default(),
            chunk_range: 7_200_000,
        };
        let iso = Isolation::default();
        let mut h = RecordHorizon::default();
        let series = MemSeries::new(1, Labels::from_pairs([("a", "1")]).unwrap());
        let mut st = series.lock();
        let mut commit = |st: &mut super::SeriesState, t: i64| {
            let id = iso.open_append();
            iso.record_horizon(&mut h);
            st.note_commit(id, &h);
            st.append_float(1, t, t as f64, ctx).unwrap();
            id
        };
        let visible = |st: &super::SeriesState, iso: &IsolationState| {
            st.snapshot(i64::MIN, i64::MAX, iso)
                .visible
                .iter()
                .sum::<u16>()
        };
        let a = commit(&mut st, 1);
        iso.close_append(a);
        let b = commit(&mut st, 2);
        // `a` closed before `b` started and nobody reads: its record is gone.
        assert!(st.extra.is_none());
        let reader = iso.state();
        iso.close_append(b);
        let c = commit(&mut st, 3);
        iso.close_append(c);
        // The reader started while `b` was open: the series still stops it before `b`.
        assert_eq!(st.extra.as_ref().unwrap().older_commits, vec![(b, 1)]);
        assert_eq!(visible(&st, &reader), 1);
        let now = iso.state();
        assert_eq!(visible(&st, &now), 3);
        iso.release(&now);
        iso.release(&reader);
        let d = commit(&mut st, 4);
        iso.close_append(d);
        assert!(st.extra.is_none(), "records and their box are freed");
        assert_eq!(visible(&st, &IsolationState::all()), 4);
    }
}
