//! The series of one block that match a selector, and their samples.
//!
//! Series come in label order (the index stores them sorted); a series is skipped when
//! none of its chunks overlaps the queried range or every overlapping chunk is deleted.
//! Samples outside the range or inside a tombstone are skipped. Every sample is checked
//! against what the index says about its chunk (time range, order): a mismatch means the
//! block is damaged and is an error naming the chunk file, never a shorter answer.

use std::sync::Arc;

use crate::block::Block;
use crate::chunkenc::{ChunkIter, ValueType};
use crate::chunks::ChunkMeta;
use crate::histogram::{FloatHistogram, Histogram};
use crate::index::postings::Postings;
use crate::labels::Matcher;
use crate::tombstones::Intervals;
use crate::{Error, Result};

use super::{Part, SampleIterator, Series};

/// The series of `block` matching all `matchers` (every series when there are none) with
/// samples in `[mint, maxt]`, in label order. Chunk metas outside the block's time range mean the index or `meta.json` is
/// damaged, and are an error.
pub fn select_block(
    block: &Arc<Block>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
) -> Result<Vec<Series>> {
    if !block.overlaps(mint, maxt) {
        return Ok(Vec::new());
    }
    // No matchers selects every series (as the head does).
    let mut postings = if matchers.is_empty() {
        block.index().all_postings()?
    } else {
        block.index().postings_for_matchers(matchers)?
    };
    let mut buf: Vec<ChunkMeta> = Vec::new();
    let mut out = Vec::new();
    let meta = block.meta();
    while let Some(id) = postings.next() {
        let labels = block.index().series(id, &mut buf)?;
        let deleted = block.tombstones().get(id);
        let mut chunks = Vec::with_capacity(buf.len());
        for c in &buf {
            if c.min_time > c.max_time || c.min_time < meta.min_time || c.max_time >= meta.max_time
            {
                return Err(Error::corrupted(
                    block.index().path(),
                    "series",
                    id * crate::index::SERIES_ALIGNMENT,
                    format!(
                        "series {labels} has a chunk [{}, {}] outside the block's range [{}, {}) in {}: one of the two files is damaged",
                        c.min_time,
                        c.max_time,
                        meta.min_time,
                        meta.max_time,
                        block.dir().join(crate::block::META_FILENAME).display()
                    ),
                ));
            }
            if !c.overlaps(mint, maxt) || deleted.is_some_and(|d| d.covers(c.min_time, c.max_time))
            {
                continue;
            }
            chunks.push(*c);
        }
        if chunks.is_empty() {
            continue;
        }
        out.push(Series::from_part(
            labels,
            Part::Block {
                block: block.clone(),
                chunks,
                deleted: deleted.cloned(),
                mint,
                maxt,
            },
        ));
    }
    Ok(out)
}

/// Samples of one block series, chunk after chunk.
pub struct BlockSampleIter<'a> {
    block: &'a Block,
    chunks: &'a [ChunkMeta],
    next_chunk: usize,
    cur: Option<ChunkIter<'a>>,
    cur_meta: ChunkMeta,
    deleted: Option<&'a Intervals>,
    mint: i64,
    maxt: i64,
    last_t: i64,
    done: bool,
}

impl<'a> BlockSampleIter<'a> {
    pub(crate) fn new(
        block: &'a Block,
        chunks: &'a [ChunkMeta],
        deleted: Option<&'a Intervals>,
        mint: i64,
        maxt: i64,
    ) -> BlockSampleIter<'a> {
        BlockSampleIter {
            block,
            chunks,
            next_chunk: 0,
            cur: None,
            cur_meta: ChunkMeta::default(),
            deleted,
            mint,
            maxt,
            last_t: i64::MIN,
            done: false,
        }
    }

    fn corrupt(&self, detail: String) -> Error {
        let r = self.cur_meta.chunk_ref;
        Error::corrupted(
            self.block.chunks().segment_path(r.segment()),
            "chunk",
            u64::from(r.offset()),
            detail,
        )
    }

    fn open_next_chunk(&mut self) -> Result<bool> {
        let Some(meta) = self.chunks.get(self.next_chunk).copied() else {
            return Ok(false);
        };
        self.next_chunk += 1;
        self.cur_meta = meta;
        let raw = match self.block.chunks().chunk(meta.chunk_ref) {
            Ok(raw) => raw,
            Err(e) => {
                self.cur = None;
                return Err(e);
            }
        };
        // The previous chunk's iterator, if any, starts over on this one.
        let opened = match self.cur.as_mut() {
            Some(it) => it.reset(raw.encoding, raw.data),
            None => ChunkIter::new(raw.encoding, raw.data).map(|it| self.cur = Some(it)),
        };
        if let Err(e) = opened {
            self.cur = None;
            return Err(self.corrupt(e.to_string()));
        }
        Ok(true)
    }

    /// Raw advance within the chunks, with the integrity checks but no range filter.
    fn advance(&mut self) -> Result<Option<ValueType>> {
        loop {
            if self.cur.is_none() && !self.open_next_chunk()? {
                return Ok(None);
            }
            let Some(it) = self.cur.as_mut() else {
                continue;
            };
            match it.next() {
                Err(e) => return Err(self.corrupt(e.to_string())),
                Ok(None) => {
                    if !self.open_next_chunk()? {
                        self.cur = None;
                        return Ok(None);
                    }
                }
                Ok(Some(vt)) => {
                    let t = it.timestamp();
                    let m = self.cur_meta;
                    if t < m.min_time || t > m.max_time {
                        return Err(self.corrupt(format!(
                            "sample at {t} lies outside the chunk's indexed range [{}, {}]",
                            m.min_time, m.max_time
                        )));
                    }
                    if t <= self.last_t {
                        return Err(self.corrupt(format!(
                            "sample at {t} does not follow the previous sample at {}",
                            self.last_t
                        )));
                    }
                    self.last_t = t;
                    return Ok(Some(vt));
                }
            }
        }
    }
}

impl SampleIterator for BlockSampleIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        if self.done {
            return Ok(None);
        }
        while let Some(vt) = self.advance()? {
            let t = self.timestamp();
            if t < self.mint {
                continue;
            }
            if t > self.maxt {
                break;
            }
            if self.deleted.is_some_and(|d| d.contains(t)) {
                continue;
            }
            return Ok(Some(vt));
        }
        self.done = true;
        self.cur = None;
        Ok(None)
    }

    fn seek(&mut self, t: i64) -> Result<Option<ValueType>> {
        if self.done {
            return Ok(None);
        }
        if self.cur.is_some() && self.last_t >= t.max(self.mint) {
            return Ok(Some(self.value_type()));
        }
        // Skip whole chunks that end before `t` without decoding them.
        if self.cur.is_none() || self.cur_meta.max_time < t {
            self.cur = None;
            while self
                .chunks
                .get(self.next_chunk)
                .is_some_and(|c| c.max_time < t)
            {
                self.next_chunk += 1;
            }
        }
        loop {
            match self.next()? {
                Some(vt) if self.timestamp() >= t => return Ok(Some(vt)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    fn timestamp(&self) -> i64 {
        self.cur.as_ref().map_or(self.last_t, |c| c.timestamp())
    }

    fn at(&self) -> (i64, f64) {
        self.cur.as_ref().map_or((self.last_t, 0.0), |c| c.at())
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        self.cur
            .as_ref()
            .map_or((self.last_t, Histogram::default()), |c| {
                let (t, h) = c.at_histogram();
                (t, h.clone())
            })
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        self.cur
            .as_ref()
            .map_or((self.last_t, FloatHistogram::default()), |c| {
                let (t, h) = c.at_float_histogram();
                (t, h.clone())
            })
    }
}

impl BlockSampleIter<'_> {
    fn value_type(&self) -> ValueType {
        self.cur
            .as_ref()
            .map_or(ValueType::Float, |c| c.value_type())
    }
}
