//! Handing a time range of the head over to a block: the series' chunks in the range,
//! as they are where possible, re-encoded where out-of-order samples or deletions must be
//! folded in.

use super::Head;
use super::isolation::IsolationState;
use crate::block::{EncodedChunk, SampleEncoder, SeriesChunks};
use crate::chunkenc::{ChunkIter, ValueType};
use crate::querier::SampleIterator;
use crate::{Error, Result};

impl Head {
    /// The series with samples in `[mint, maxt)`, sorted by labels, each with its chunks
    /// in that range, ready for [`crate::block::write_block`]. Chunks never cross a
    /// chunk-range boundary, so for an aligned range whole chunks are copied; a series
    /// with out-of-order samples or deletions in the range has its samples re-encoded.
    pub fn block_series(&self, mint: i64, maxt: i64) -> Result<Vec<SeriesChunks>> {
        let refs = self.postings.all();
        let iso = IsolationState::all();
        let mut out = Vec::new();
        for r in refs {
            let Some(s) = self.series.get(r) else {
                continue;
            };
            let snap = s.lock().snapshot(mint, maxt - 1, &iso);
            let deleted = self.deleted(r);
            let needs_rewrite = !snap.ooo.is_empty()
                || deleted.as_ref().is_some_and(|d| {
                    d.as_slice()
                        .iter()
                        .any(|iv| iv.mint < maxt && iv.maxt >= mint)
                });
            let mut chunks = Vec::new();
            if !needs_rewrite {
                for c in &snap.mmapped {
                    if c.min_time < mint || c.max_time >= maxt {
                        return Err(Error::InvalidArgument(format!(
                            "chunk [{}, {}] of {} crosses the range [{mint}, {maxt})",
                            c.min_time, c.max_time, s.labels
                        )));
                    }
                    let h = self.chunk_files.chunk(c.chunk_ref)?;
                    chunks.push(EncodedChunk {
                        encoding: c.encoding,
                        data: h.data().to_vec(),
                        min_time: c.min_time,
                        max_time: c.max_time,
                        num_samples: u32::from(c.num_samples),
                    });
                }
                if let Some((bytes, cmin, cmax, enc)) = snap.open {
                    if cmin < mint || cmax >= maxt {
                        return Err(Error::InvalidArgument(format!(
                            "open chunk [{cmin}, {cmax}] of {} crosses the range [{mint}, {maxt})",
                            s.labels
                        )));
                    }
                    let n = ChunkIter::new(enc, &bytes)
                        .map_err(Error::from)?
                        .num_samples();
                    chunks.push(EncodedChunk {
                        encoding: enc,
                        data: bytes,
                        min_time: cmin,
                        max_time: cmax,
                        num_samples: u32::from(n),
                    });
                }
            } else {
                chunks = self.reencode(r, mint, maxt)?;
            }
            if !chunks.is_empty() {
                out.push(SeriesChunks {
                    labels: s.labels.clone(),
                    chunks,
                });
            }
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Re-encodes the samples of series `r` in `[mint, maxt)`, merged with its
    /// out-of-order samples and without deleted ones.
    fn reencode(&self, r: u64, mint: i64, maxt: i64) -> Result<Vec<EncodedChunk>> {
        let q = super::HeadQuerier::unisolated(self, mint, maxt - 1);
        let Some(series) = q.select_ref(r)? else {
            return Ok(Vec::new());
        };
        let mut enc = SampleEncoder::new(self.opts.chunk_range, self.opts.byte_compat);
        let mut it = series.iter();
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
}
