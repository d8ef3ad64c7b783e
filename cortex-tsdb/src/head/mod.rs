//! The head: the newest samples of every series, in memory and in the write-ahead log,
//! until they are old enough to be cut into a block.
//!
//! Appends go through a [`HeadAppender`]: samples are validated when appended and
//! applied on commit, after the commit's records were written to the WAL (so an
//! acknowledged sample survives a crash). Each series keeps one open chunk in memory;
//! full chunks go to the head chunk files (`chunks_head/`) and are read back through
//! memory maps. Series are found by reference or labels in striped maps and by label
//! matchers in [`MemPostings`]. Queries see a consistent snapshot ([`isolation`]).
//! Opening a head replays its head chunk files and WAL ([`replay`]); truncation drops
//! what was moved into blocks. Exemplars live beside the series in a bounded circular
//! buffer ([`ExemplarStorage`]), logged in the WAL like samples.

mod appender;
mod appender_exemplars;
mod chunk;
mod exemplars;
mod export;
mod hash_index;
mod histogram_chunk;
pub mod isolation;
mod lookup;
mod postings;
mod read;
pub mod replay;
mod replay_workers;
mod series;
mod series_lock;
mod stripes;
mod truncate;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use appender::{AppendError, CommitStats, HeadAppender, SeriesHandle};
pub use chunk::{MAX_BYTES_PER_XOR_CHUNK, OpenChunk};
pub use exemplars::{ExemplarError, ExemplarStats, ExemplarStorage};
pub use isolation::{Isolation, IsolationState};
pub use postings::MemPostings;
pub use read::{HeadQuerier, HeadSampleIter, HeadSeries};
pub use replay::ReplayStats;
pub use series::{MemSeries, MmappedChunk, SeriesSnapshot};
pub use truncate::TruncateStats;

use crate::chunkenc::ByteCompat;
use crate::chunks::HeadChunkFiles;
use crate::labels::{Labels, Matcher};
use crate::record::{Encoder, RecordBatch, RefTombstone};
use crate::tombstones::{Interval, Tombstones};
use crate::wal::{Compression, Wal, WalOptions};
use crate::{Error, Result};
use stripes::SeriesMap;

/// Prometheus' default chunk range and block duration: 2h.
pub const DEFAULT_CHUNK_RANGE: i64 = 2 * 3_600_000;

/// How a head behaves.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Width of the windows chunks are cut at, in ms (the block duration).
    pub chunk_range: i64,
    /// How far behind a series' newest sample a sample may still be appended, in ms;
    /// 0 rejects every out-of-order sample, as Prometheus does by default.
    pub out_of_order_window: i64,
    /// Write a WAL (without one, a crash loses the head).
    pub wal: bool,
    /// WAL record compression.
    pub wal_compression: Compression,
    /// WAL segment size.
    pub wal_segment_size: u64,
    /// Chunk byte layout (both read the same).
    pub byte_compat: ByteCompat,
    /// Open for reading only: the WAL is replayed but not written or repaired, and full
    /// chunks of the replay go to a temporary directory, not `chunks_head/`.
    pub read_only: bool,
    /// Exemplars kept in memory (a circular buffer); 0 disables exemplar storage and
    /// appended exemplars are dropped silently, as in Prometheus.
    pub max_exemplars: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range: DEFAULT_CHUNK_RANGE,
            out_of_order_window: 0,
            wal: true,
            wal_compression: Compression::Snappy,
            wal_segment_size: crate::wal::DEFAULT_SEGMENT_SIZE,
            byte_compat: ByteCompat::default(),
            read_only: false,
            max_exemplars: 0,
        }
    }
}

/// Counters of what the head did, for metrics.
#[derive(Debug, Default)]
pub struct HeadStats {
    /// Samples (floats and histograms) appended.
    pub samples_appended: AtomicU64,
    /// Samples rejected as out of order.
    pub out_of_order: AtomicU64,
    /// Samples rejected as older than the head's valid range.
    pub out_of_bounds: AtomicU64,
    /// Samples rejected as duplicates with a different value.
    pub duplicates: AtomicU64,
    /// Series created.
    pub series_created: AtomicU64,
    /// Series removed by garbage collection.
    pub series_removed: AtomicU64,
}

/// The in-memory head of a TSDB.
pub struct Head {
    opts: HeadOptions,
    dir: PathBuf,
    series: SeriesMap,
    postings: MemPostings,
    next_ref: AtomicU64,
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Samples before this time are out of bounds (they belong to written blocks).
    min_valid_time: AtomicI64,
    isolation: Isolation,
    chunk_files: Arc<HeadChunkFiles>,
    wal: Option<Mutex<Wal>>,
    /// The write-behind log of out-of-order samples (`wbl/`), when a window is set.
    wbl: Option<Mutex<Wal>>,
    tombstones: RwLock<Tombstones>,
    exemplars: ExemplarStorage,
    stats: HeadStats,
    append_buffers: Mutex<Vec<appender::AppendBuffers>>,
    /// When the head was opened: the origin of [`Head::clock`].
    opened: std::time::Instant,
}

impl Head {
    /// Opens the head of the data directory `dir` (its `wal/` and `chunks_head/`),
    /// replaying what they hold. Samples before `min_valid_time` (the end of the newest
    /// block) are skipped during replay and rejected later.
    pub fn open(dir: &Path, opts: HeadOptions, min_valid_time: i64) -> Result<(Head, ReplayStats)> {
        let chunk_files = Arc::new(if opts.read_only {
            HeadChunkFiles::open_temporary()?
        } else {
            HeadChunkFiles::open(&dir.join("chunks_head"))?
        });
        let exemplars = ExemplarStorage::new(opts.max_exemplars, opts.out_of_order_window)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let head = Head {
            dir: dir.to_path_buf(),
            series: SeriesMap::default(),
            postings: MemPostings::default(),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(min_valid_time),
            isolation: Isolation::default(),
            chunk_files,
            wal: None,
            wbl: None,
            tombstones: RwLock::new(Tombstones::new()),
            exemplars,
            stats: HeadStats::default(),
            append_buffers: Mutex::new(Vec::new()),
            opened: std::time::Instant::now(),
            opts,
        };
        let (mut head, stats) = replay::replay(head)?;
        if head.opts.wal && !head.opts.read_only {
            let wal = Wal::open(
                &dir.join("wal"),
                WalOptions {
                    segment_size: head.opts.wal_segment_size,
                    compression: head.opts.wal_compression,
                },
            )?;
            head.wal = Some(Mutex::new(wal));
            if head.opts.out_of_order_window > 0 {
                let wbl = Wal::open(
                    &dir.join("wbl"),
                    WalOptions {
                        segment_size: head.opts.wal_segment_size,
                        compression: head.opts.wal_compression,
                    },
                )?;
                head.wbl = Some(Mutex::new(wbl));
            }
        }
        Ok((head, stats))
    }

    /// An appender; nothing it appends is visible or durable until it commits.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender::new(self)
    }

    /// A querier over `[mint, maxt]` that sees what was committed when it was created.
    pub fn querier(&self, mint: i64, maxt: i64) -> HeadQuerier<'_> {
        HeadQuerier::new(self, mint, maxt, self.isolation.state())
    }

    /// The options the head was opened with.
    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Timestamp of the oldest sample, `i64::MAX` when empty.
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Timestamp of the newest sample, `i64::MIN` when empty.
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Samples before this are rejected as out of bounds.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    /// Rejects appends before `t` from now on (raising, never lowering, the bound).
    pub fn raise_min_valid_time(&self, t: i64) {
        self.min_valid_time.fetch_max(t, Ordering::AcqRel);
    }

    /// The head's isolation tracker.
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// Number of series.
    pub fn num_series(&self) -> u64 {
        self.postings.len()
    }

    /// Counters.
    pub fn stats(&self) -> &HeadStats {
        &self.stats
    }

    /// The series with reference `r`.
    pub fn series(&self, r: u64) -> Option<Arc<MemSeries>> {
        self.series.get(r)
    }

    /// The exemplar storage.
    pub fn exemplars(&self) -> &ExemplarStorage {
        &self.exemplars
    }

    /// The exemplars in `[mint, maxt]` of the series matching any of `matcher_sets`,
    /// series sorted by labels, exemplars in time order (see [`ExemplarStorage::select`]).
    pub fn select_exemplars(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<crate::exemplar::ExemplarSeries> {
        self.exemplars.select(matcher_sets, mint, maxt)
    }

    /// Changes how many exemplars the head keeps (0 disables exemplar storage), keeping
    /// the newest; returns how many were kept.
    pub fn set_max_exemplars(&self, max: usize) -> Result<usize> {
        self.exemplars
            .resize(max)
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    }

    /// Label names of series matching `matchers` (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[crate::labels::Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.postings.label_names();
        }
        let mut names = std::collections::BTreeSet::new();
        for r in self.postings.for_matchers(matchers) {
            if let Some(s) = self.series.get(r) {
                names.extend(s.labels.iter().map(|l| l.name.to_string()));
            }
        }
        names.into_iter().collect()
    }

    /// Values of label `name` among series matching `matchers`, sorted.
    pub fn label_values(&self, name: &str, matchers: &[crate::labels::Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.postings.label_values(name);
        }
        let mut values = std::collections::BTreeSet::new();
        for r in self.postings.for_matchers(matchers) {
            if let Some(v) = self
                .series
                .get(r)
                .and_then(|s| s.labels.get(name).map(str::to_string))
            {
                values.insert(v);
            }
        }
        values.into_iter().collect()
    }

    /// What the WAL has written since the head was opened, and its current segment;
    /// `None` without a WAL.
    pub fn wal_stats(&self) -> Option<(crate::wal::WalStats, u64)> {
        let w = self.wal.as_ref()?.lock().ok()?;
        Some((w.stats(), w.segment()))
    }

    /// Makes the WAL durable on disk (fsync). Commits are already safe against a
    /// process crash; this also covers a machine crash.
    pub fn sync_wal(&self) -> Result<()> {
        if let Some(w) = &self.wbl {
            w.lock().map_err(|_| poisoned())?.sync()?;
        }
        if let Some(w) = &self.wal {
            w.lock().map_err(|_| poisoned())?.sync()?;
        }
        Ok(())
    }

    /// Fsyncs the WAL and the head chunk file being written.
    pub fn flush(&self) -> Result<()> {
        self.sync_wal()?;
        self.chunk_files.close()
    }

    /// Flushes and closes the WAL and head chunk files.
    pub fn close(self) -> Result<()> {
        if let Some(w) = self.wbl {
            w.into_inner().map_err(|_| poisoned())?.close()?;
        }
        if let Some(w) = self.wal {
            w.into_inner().map_err(|_| poisoned())?.close()?;
        }
        self.chunk_files.close()
    }

    /// Deletes the samples in `[mint, maxt]` of every series matching `matchers`; the
    /// deletion is logged in the WAL. Returns how many series were affected.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        let refs: Vec<u64> = self.postings.for_matchers(matchers).iter().collect();
        if refs.is_empty() {
            return Ok(0);
        }
        let interval = Interval { mint, maxt };
        if let Some(w) = &self.wal {
            let stones: Vec<RefTombstone> = refs
                .iter()
                .map(|r| RefTombstone {
                    series_ref: *r,
                    interval,
                })
                .collect();
            let mut batch = RecordBatch::new();
            Encoder::default().tombstones(&stones, &mut batch);
            w.lock().map_err(|_| poisoned())?.log_batch(&batch)?;
        }
        let mut t = self.tombstones.write().unwrap_or_else(|e| e.into_inner());
        for r in &refs {
            t.add(*r, interval);
        }
        Ok(refs.len())
    }

    /// The deleted intervals of series `r`, if any.
    pub fn deleted(&self, r: u64) -> Option<crate::tombstones::Intervals> {
        self.tombstones
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(r)
            .cloned()
    }

    /// The series with `labels`, created under reference `r` (as a WAL series record
    /// names it) if there is none, and whether it was created. An existing series keeps
    /// its reference. A new series is left out of the postings: the caller adds it
    /// (replay does so on another thread).
    fn create_unindexed(&self, r: u64, labels: &Labels) -> (Arc<MemSeries>, bool) {
        let hash = labels.stable_hash();
        self.series.get_or_create(hash, labels, || {
            Arc::new(MemSeries::with_hash(r, labels.clone(), hash))
        })
    }

    fn get_or_create(&self, labels: &Labels) -> (Arc<MemSeries>, bool) {
        let hash = labels.stable_hash();
        let (s, created) = self.series.get_or_create(hash, labels, || {
            let r = self.next_ref.fetch_add(1, Ordering::AcqRel);
            Arc::new(MemSeries::with_hash(r, labels.clone(), hash))
        });
        if created {
            self.postings.add(s.series_ref, &s.labels);
            self.stats.series_created.fetch_add(1, Ordering::Relaxed);
        }
        (s, created)
    }

    fn take_append_buffers(&self) -> appender::AppendBuffers {
        self.append_buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn return_append_buffers(&self, mut b: appender::AppendBuffers) {
        // Keep a few; an appender that grew huge gives its memory back.
        let mut pool = self
            .append_buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if pool.len() < 64 && b.prepare_reuse() {
            pool.push(b);
        }
    }

    fn note_time(&self, t: i64) {
        self.min_time.fetch_min(t, Ordering::AcqRel);
        self.max_time.fetch_max(t, Ordering::AcqRel);
    }

    /// The oldest timestamp an in-order append may have now: half a chunk range behind
    /// the newest sample (Prometheus' rule), or the out-of-order window, never before the
    /// data already in blocks.
    fn appendable_min_time(&self) -> i64 {
        let max = self.max_time();
        let floor = self.min_valid_time();
        if max == i64::MIN {
            return floor;
        }
        let back = self.opts.chunk_range / 2;
        floor.max(max.saturating_sub(back.max(self.opts.out_of_order_window)))
    }
}

fn poisoned() -> Error {
    Error::InvalidArgument("head lock poisoned by a panic".into())
}
