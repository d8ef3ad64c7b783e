//! Shrinking the head after its oldest data went into a block: chunks before the new
//! minimum time are dropped, series left without data are removed (unless an appender is
//! about to write to them), old head chunk files are deleted, and the WAL is checkpointed
//! and truncated so a replay no longer reads what the blocks hold.

use std::sync::atomic::Ordering;

use super::Head;
use crate::Result;
use crate::wal::{CheckpointOptions, checkpoint, delete_checkpoints, segment_range};

/// What a truncation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TruncateStats {
    /// Series removed because they hold no data any more.
    pub series_removed: u64,
    /// Head chunk files deleted.
    pub chunk_files_deleted: u64,
    /// WAL segments folded into a checkpoint and deleted.
    pub wal_segments_deleted: u64,
}

impl Head {
    /// Drops everything before `mint` (exclusive of `mint`) and rejects appends before it
    /// from now on.
    pub fn truncate(&self, mint: i64) -> Result<TruncateStats> {
        let mut stats = TruncateStats::default();
        self.min_valid_time.fetch_max(mint, Ordering::AcqRel);
        let mut empty = Vec::new();
        let mut new_min = i64::MAX;
        self.series.for_each(|s| {
            let mut st = s.lock();
            if st.truncate_before(mint) {
                if st.pending == 0 {
                    st.removed = true;
                    empty.push(s.clone());
                }
            } else if let Some(t) = st.min_time() {
                new_min = new_min.min(t);
            }
        });
        self.series.remove(&empty);
        let removed: Vec<_> = empty
            .iter()
            .map(|s| (s.series_ref, s.labels.clone()))
            .collect();
        self.postings.remove(&removed);
        stats.series_removed = removed.len() as u64;
        self.stats
            .series_removed
            .fetch_add(stats.series_removed, Ordering::Relaxed);
        self.min_time.store(new_min, Ordering::Release);
        if new_min == i64::MAX {
            self.max_time.store(i64::MIN, Ordering::Release);
        }
        stats.chunk_files_deleted = self.chunk_files.truncate_before(mint)? as u64;
        stats.wal_segments_deleted = self.truncate_wal(mint)?;
        self.tombstones
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain_series(|r| self.series.get(r).is_some());
        Ok(stats)
    }

    /// Folds the older two thirds of the WAL segments into a checkpoint that keeps only
    /// live series and samples from `mint` on, then deletes those segments and older
    /// checkpoints (Prometheus' rule: the newest segments stay as they are).
    fn truncate_wal(&self, mint: i64) -> Result<u64> {
        let mut n = 0;
        for log in [&self.wal, &self.wbl].into_iter().flatten() {
            n += self.truncate_log(log, mint)?;
        }
        Ok(n)
    }

    fn truncate_log(&self, wal: &std::sync::Mutex<crate::wal::Wal>, mint: i64) -> Result<u64> {
        let mut wal = wal.lock().map_err(|_| super::poisoned())?;
        let dir = wal.dir().to_path_buf();
        let Some(range) = segment_range(&dir)? else {
            return Ok(0);
        };
        // Never fold the segment being written.
        let last = range.first + (range.last - range.first) * 2 / 3;
        if last <= range.first || last >= wal.segment() {
            return Ok(0);
        }
        let series = &self.series;
        checkpoint(
            &dir,
            range.first,
            last - 1,
            |r| series.get(r).is_some(),
            mint,
            CheckpointOptions {
                compression: self.opts.wal_compression,
                encoder: Default::default(),
            },
        )?;
        wal.truncate(last)?;
        delete_checkpoints(&dir, last - 1)?;
        Ok(last - range.first)
    }
}
