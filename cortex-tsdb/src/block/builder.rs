//! Building a block in memory from samples, the way Prometheus' head would hold them, and
//! writing it out.
//!
//! Each series gets XOR chunks cut by Prometheus' head rule ([`ChunkCutter`]) for a chunk
//! range, so the chunks match what `promtool` produces from the same samples. Samples of
//! a series must come in time order: an earlier timestamp is an out-of-order error, a
//! repeated timestamp with a different value is a duplicate error, and a repeated
//! timestamp with the same value is ignored, exactly as Prometheus' appender behaves.

use std::collections::HashMap;
use std::path::Path;

use super::writer::{EncodedChunk, SeriesChunks, write_block};
use super::{BlockMeta, ChunkCutter};
use crate::chunkenc::{ByteCompat, Encoding, XorChunk};
use crate::labels::Labels;
use crate::ulid::Ulid;
use crate::{Error, Result};

/// Why a sample was not appended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than the series' last sample.
    #[error("out of order sample for series {series}: timestamp {timestamp} is before {last}")]
    OutOfOrder {
        /// The series.
        series: Labels,
        /// The rejected timestamp.
        timestamp: i64,
        /// The series' latest timestamp.
        last: i64,
    },
    /// A different value for a timestamp the series already has.
    #[error("duplicate sample for timestamp {timestamp} of series {series} with a different value")]
    Duplicate {
        /// The series.
        series: Labels,
        /// The timestamp.
        timestamp: i64,
    },
}

struct Series {
    labels: Labels,
    cutter: ChunkCutter,
    done: Vec<EncodedChunk>,
    cur: Option<(XorChunk, i64)>,
    last_t: i64,
    last_v: u64,
}

/// Collects float samples into per-series chunks and writes them as one block.
pub struct BlockBuilder {
    chunk_range: i64,
    compat: ByteCompat,
    ids: HashMap<Labels, usize>,
    series: Vec<Series>,
    min_time: i64,
    max_time: i64,
}

impl BlockBuilder {
    /// A builder whose chunks never cross a multiple of `chunk_range` ms (promtool's block
    /// writer uses twice the block duration).
    pub fn new(chunk_range: i64) -> BlockBuilder {
        BlockBuilder {
            chunk_range,
            compat: ByteCompat::default(),
            ids: HashMap::new(),
            series: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }

    /// Writes chunk bytes as the given Prometheus generation does (both read the same).
    pub fn with_byte_compat(mut self, compat: ByteCompat) -> BlockBuilder {
        self.compat = compat;
        self
    }

    /// The id of `labels`' series, created on first use. Ids make later appends of the
    /// same series cheap.
    pub fn series_id(&mut self, labels: &Labels) -> usize {
        if let Some(id) = self.ids.get(labels) {
            return *id;
        }
        let id = self.series.len();
        self.series.push(Series {
            labels: labels.clone(),
            cutter: ChunkCutter::new(self.chunk_range),
            done: Vec::new(),
            cur: None,
            last_t: i64::MIN,
            last_v: 0,
        });
        self.ids.insert(labels.clone(), id);
        id
    }

    /// Appends a float sample to series `id` (from [`BlockBuilder::series_id`]).
    pub fn append(&mut self, id: usize, t: i64, v: f64) -> Result<(), AppendError> {
        let compat = self.compat;
        let Some(s) = self.series.get_mut(id) else {
            return Ok(());
        };
        if s.cur.is_some() || !s.done.is_empty() {
            if t < s.last_t {
                return Err(AppendError::OutOfOrder {
                    series: s.labels.clone(),
                    timestamp: t,
                    last: s.last_t,
                });
            }
            if t == s.last_t {
                if v.to_bits() == s.last_v {
                    return Ok(());
                }
                return Err(AppendError::Duplicate {
                    series: s.labels.clone(),
                    timestamp: t,
                });
            }
        }
        if s.cutter.observe(t) {
            s.finish_chunk();
            s.cur = Some((XorChunk::with_compat(compat), t));
        }
        if let Some((chunk, _)) = s.cur.as_mut() {
            // A chunk holds at most 240 samples (the cutter's cap), far below the
            // header's 65535, so the appender cannot refuse.
            if let Ok(mut app) = chunk.appender() {
                let _ = app.append(t, v);
            }
        }
        s.last_t = t;
        s.last_v = v.to_bits();
        self.min_time = self.min_time.min(t);
        self.max_time = self.max_time.max(t);
        Ok(())
    }

    /// Number of series seen.
    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Writes the block into `parent` (as Prometheus: `minTime` is the first sample,
    /// `maxTime` one past the last) and returns its meta; `None` when no sample was
    /// appended.
    pub fn write(self, parent: &Path) -> Result<Option<BlockMeta>> {
        if self.series.is_empty() {
            return Ok(None);
        }
        let (min_time, max_time) = (self.min_time, self.max_time);
        let mut series: Vec<SeriesChunks> = self
            .series
            .into_iter()
            .map(|mut s| {
                s.finish_chunk();
                SeriesChunks {
                    labels: s.labels,
                    chunks: s.done,
                }
            })
            .collect();
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        let max_time = max_time
            .checked_add(1)
            .ok_or_else(|| Error::InvalidArgument("sample timestamp at the maximum i64".into()))?;
        let meta = BlockMeta::new_level1(Ulid::now(), min_time, max_time);
        write_block(parent, meta, &series).map(Some)
    }
}

impl Series {
    fn finish_chunk(&mut self) {
        if let Some((chunk, min_time)) = self.cur.take() {
            let num_samples = u32::from(chunk.num_samples());
            self.done.push(EncodedChunk {
                encoding: Encoding::Xor,
                data: chunk.into_bytes(),
                min_time,
                max_time: self.last_t,
                num_samples,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::chunkenc::ValueType;
    use crate::labels::Matcher;
    use crate::querier::SampleIterator;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn written_block_reads_back_every_sample() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = BlockBuilder::new(4 * 3_600_000);
        let a = b.series_id(&labels(&[("__name__", "a"), ("job", "x")]));
        let z = b.series_id(&labels(&[("__name__", "0first")]));
        for i in 0..1000 {
            b.append(a, i * 15_000, i as f64 * 1.5).unwrap();
        }
        b.append(z, 7, f64::NAN).unwrap();
        let meta = b.write(dir.path()).unwrap().unwrap();
        assert_eq!((meta.min_time, meta.max_time), (0, 999 * 15_000 + 1));
        assert_eq!(meta.stats.num_samples, 1001);
        assert_eq!(meta.stats.num_series, 2);
        let block =
            std::sync::Arc::new(Block::open(&dir.path().join(meta.ulid.to_string())).unwrap());
        let set = crate::querier::select_block(
            &block,
            &[Matcher::equal("__name__", "a")],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
        assert_eq!(set.len(), 1);
        let mut it = set[0].iter();
        let mut n = 0;
        while let Some(ValueType::Float) = it.next().unwrap() {
            assert_eq!(it.at(), (n * 15_000, n as f64 * 1.5));
            n += 1;
        }
        assert_eq!(n, 1000);
        assert!(
            !dir.path()
                .join(format!("{}{}", meta.ulid, super::super::writer::TMP_SUFFIX))
                .exists()
        );
    }

    #[test]
    fn out_of_order_and_duplicates_follow_prometheus() {
        let mut b = BlockBuilder::new(1000);
        let id = b.series_id(&labels(&[("__name__", "a")]));
        b.append(id, 10, 1.0).unwrap();
        b.append(id, 10, 1.0).unwrap(); // same value: ignored
        assert!(matches!(
            b.append(id, 10, 2.0),
            Err(AppendError::Duplicate { .. })
        ));
        assert!(matches!(
            b.append(id, 9, 1.0),
            Err(AppendError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn empty_builder_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(BlockBuilder::new(1000).write(dir.path()).unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
