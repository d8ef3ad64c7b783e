//! Keeping a TSDB in shape: cutting head ranges into blocks, merging blocks, dropping
//! deleted data and blocks beyond retention.
//!
//! * Head → block: while the head spans more than 1.5 chunk ranges, its oldest aligned
//!   range becomes a level-1 block (minTime its first sample, maxTime the range end),
//!   then the head drops that range. Appends into the range are refused from the moment
//!   the compaction starts, and appends already committing are waited for.
//! * Block merges: overlapping blocks first (vertical compaction), then, for each larger
//!   range, two or more blocks that lie in one complete window of that range (the window
//!   holding the newest block is left alone), then single blocks with tombstones. Chunks
//!   are copied when blocks do not overlap and nothing is deleted; otherwise samples are
//!   re-encoded. The merged block lists its inputs as parents; the inputs are deleted once
//!   it is in place (an open after a crash in between deletes them).
//! * Retention: blocks whose maxTime lies more than the retention behind the newest
//!   block's are deleted.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Db, delete_block_dir};
use crate::block::{
    Block, BlockDesc, BlockMeta, EncodedChunk, SampleEncoder, SeriesChunks, write_block,
};
use crate::chunkenc::{ByteCompat, ValueType};
use crate::querier::{Part, SampleIterator, Series, merge_series, select_block};
use crate::ulid::Ulid;
use crate::{Error, Result};

/// What a compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactStats {
    /// Blocks cut from the head.
    pub head_blocks: u32,
    /// Blocks written by merging blocks.
    pub merged_blocks: u32,
    /// Blocks deleted (merged inputs and retention).
    pub deleted_blocks: u32,
}

impl Db {
    /// Runs every due maintenance step once (see the module documentation).
    pub fn compact(&self) -> Result<CompactStats> {
        if self.opts.read_only {
            return Err(Error::InvalidArgument("the TSDB is open read-only".into()));
        }
        let _m = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let mut stats = CompactStats::default();
        let range = self.opts.head.chunk_range;
        while self.head.max_time() != i64::MIN
            && self.head.max_time() - self.head.min_time() > range / 2 * 3
        {
            let mint = self.head.min_time();
            let maxt = mint.div_euclid(range) * range + range;
            self.compact_head(mint, maxt)?;
            stats.head_blocks += 1;
        }
        while let Some(group) = self.plan() {
            stats.deleted_blocks += group.len() as u32;
            self.merge_blocks(&group)?;
            stats.merged_blocks += 1;
        }
        stats.deleted_blocks += self.apply_retention()?;
        Ok(stats)
    }

    /// Writes `[mint, maxt)` of the head as a block and drops it from the head.
    pub fn compact_head(&self, mint: i64, maxt: i64) -> Result<Option<BlockMeta>> {
        self.head.raise_min_valid_time(maxt);
        let iso = self.head.isolation();
        iso.wait_for_appends_up_to(iso.last_id());
        let series = self.head.block_series(mint, maxt)?;
        let mut written = None;
        if !series.is_empty() {
            let first = series
                .iter()
                .filter_map(|s| s.chunks.first().map(|c| c.min_time))
                .min()
                .unwrap_or(mint);
            let meta = BlockMeta::new_level1(Ulid::now(), first, maxt);
            let meta = write_block(&self.dir, meta, &series)?;
            let block = Arc::new(Block::open(&self.dir.join(meta.ulid.to_string()))?);
            let mut blocks = self.blocks.write().unwrap_or_else(|e| e.into_inner());
            blocks.push(block);
            blocks.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
            written = Some(meta);
        }
        self.head.truncate(maxt)?;
        Ok(written)
    }

    /// The next group of blocks to merge, if any.
    fn plan(&self) -> Option<Vec<Arc<Block>>> {
        let blocks = self.blocks();
        // Overlapping blocks.
        let mut sorted = blocks.clone();
        sorted.sort_by_key(|b| b.meta().min_time);
        let mut group: Vec<Arc<Block>> = Vec::new();
        let mut group_max = i64::MIN;
        for b in &sorted {
            if !group.is_empty() && b.meta().min_time < group_max {
                group.push(b.clone());
                group_max = group_max.max(b.meta().max_time);
                continue;
            }
            if group.len() > 1 {
                return Some(group);
            }
            group = vec![b.clone()];
            group_max = b.meta().max_time;
        }
        if group.len() > 1 {
            return Some(group);
        }
        // Complete windows of larger ranges.
        let newest_min = sorted.last()?.meta().min_time;
        for r in self.opts.block_ranges().into_iter().skip(1) {
            let mut windows: std::collections::BTreeMap<i64, Vec<Arc<Block>>> = Default::default();
            for b in &sorted {
                let w = b.meta().min_time.div_euclid(r) * r;
                if b.meta().max_time <= w + r {
                    windows.entry(w).or_default().push(b.clone());
                }
            }
            for (w, g) in windows {
                if g.len() > 1 && w + r <= newest_min {
                    return Some(g);
                }
            }
        }
        // Blocks with deletions to apply.
        sorted
            .into_iter()
            .find(|b| !b.tombstones().is_empty())
            .map(|b| vec![b])
    }

    /// Merges `group` into one block and deletes the inputs.
    fn merge_blocks(&self, group: &[Arc<Block>]) -> Result<()> {
        let mint = group.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
        let lists = group
            .iter()
            .map(|b| select_block(b, &[], mint, maxt - 1))
            .collect::<Result<Vec<_>>>()?;
        let merged = merge_series(lists);
        let compat = ByteCompat::default();
        let mut series = Vec::with_capacity(merged.len());
        for s in &merged {
            let chunks = match copyable_chunks(s)? {
                Some(c) => c,
                None => reencode(s, self.opts.head.chunk_range, compat)?,
            };
            if !chunks.is_empty() {
                series.push(SeriesChunks {
                    labels: s.labels.clone(),
                    chunks,
                });
            }
        }
        let ulid = Ulid::now();
        let mut meta = BlockMeta::new_level1(ulid, mint, maxt);
        meta.compaction.level = group
            .iter()
            .map(|b| b.meta().compaction.level)
            .max()
            .unwrap_or(1)
            + 1;
        let sources: BTreeSet<Ulid> = group
            .iter()
            .flat_map(|b| b.meta().compaction.sources.iter().copied())
            .collect();
        meta.compaction.sources = sources.into_iter().collect();
        meta.compaction.parents = group
            .iter()
            .map(|b| BlockDesc {
                ulid: b.meta().ulid,
                min_time: b.meta().min_time,
                max_time: b.meta().max_time,
            })
            .collect();
        let mut blocks = self.blocks();
        if series.is_empty() {
            // Only deletions may empty a block; anything else is a bug that must not
            // cost data.
            let had_samples = group
                .iter()
                .any(|b| b.meta().stats.num_samples > 0 && b.tombstones().is_empty());
            if had_samples {
                return Err(Error::InvalidArgument(format!(
                    "merging {} blocks produced no series; keeping the inputs",
                    group.len()
                )));
            }
        } else {
            let meta = write_block(&self.dir, meta, &series)?;
            blocks.push(Arc::new(Block::open(
                &self.dir.join(meta.ulid.to_string()),
            )?));
        }
        let gone: BTreeSet<Ulid> = group.iter().map(|b| b.meta().ulid).collect();
        blocks.retain(|b| !gone.contains(&b.meta().ulid));
        blocks.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
        *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = blocks;
        for b in group {
            delete_block_dir(b.dir())?;
        }
        Ok(())
    }

    /// Deletes blocks beyond the retention time; returns how many.
    fn apply_retention(&self) -> Result<u32> {
        let Some(retention) = self.opts.retention else {
            return Ok(0);
        };
        let blocks = self.blocks();
        let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() else {
            return Ok(0);
        };
        let (old, keep): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .partition(|b| newest - b.meta().max_time > retention);
        if old.is_empty() {
            return Ok(0);
        }
        *self.blocks.write().unwrap_or_else(|e| e.into_inner()) = keep;
        for b in &old {
            delete_block_dir(b.dir())?;
        }
        Ok(old.len() as u32)
    }
}

/// The chunks of a merged series as they are, when its parts are blocks that do not
/// overlap in time and nothing in them is deleted.
fn copyable_chunks(s: &Series) -> Result<Option<Vec<EncodedChunk>>> {
    let mut out: Vec<EncodedChunk> = Vec::new();
    for p in s.parts() {
        let Part::Block {
            block,
            chunks,
            deleted,
            ..
        } = p
        else {
            return Ok(None);
        };
        if deleted.as_ref().is_some_and(|d| !d.is_empty()) {
            return Ok(None);
        }
        for c in chunks {
            if out.last().is_some_and(|l| l.max_time >= c.min_time) {
                return Ok(None);
            }
            let raw = block.chunks().chunk(c.chunk_ref)?;
            let n = crate::chunkenc::ChunkIter::new(raw.encoding, raw.data)?.num_samples();
            out.push(EncodedChunk {
                encoding: raw.encoding,
                data: raw.data.to_vec(),
                min_time: c.min_time,
                max_time: c.max_time,
                num_samples: u32::from(n),
            });
        }
    }
    Ok(Some(out))
}

/// The samples of a merged series, encoded afresh.
fn reencode(s: &Series, chunk_range: i64, compat: ByteCompat) -> Result<Vec<EncodedChunk>> {
    let mut enc = SampleEncoder::new(chunk_range, compat);
    let mut it = s.iter();
    while let Some(vt) = it.next()? {
        match vt {
            ValueType::Float => {
                let (t, v) = it.at();
                enc.push_float(t, v)?;
            }
            ValueType::Histogram => {
                let (t, h) = it.at_histogram();
                enc.push_histogram(t, &h)?;
            }
            ValueType::FloatHistogram => {
                let (t, h) = it.at_float_histogram();
                enc.push_float_histogram(t, &h)?;
            }
        }
    }
    Ok(enc.finish())
}
