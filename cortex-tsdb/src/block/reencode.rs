//! Encoding a stream of samples of any kind into chunks, for compactions that cannot copy
//! chunks as they are (overlapping blocks, deletions, out-of-order data).
//!
//! Float runs become XOR chunks cut by Prometheus' head rule; histogram runs become
//! histogram or float histogram chunks, cut or recoded as the chunk encoding requires;
//! a change of sample kind starts a new chunk.

use super::{ChunkCutter, EncodedChunk};
use crate::chunkenc::{
    AppendOutcome, ByteCompat, Encoding, FloatHistogramChunk, HistogramChunk, XorChunk,
};
use crate::histogram::{FloatHistogram, Histogram};
use crate::{Error, Result};

enum Open {
    Xor(XorChunk),
    Hist(HistogramChunk),
    FloatHist(FloatHistogramChunk),
}

impl Open {
    fn encoding(&self) -> Encoding {
        match self {
            Open::Xor(_) => Encoding::Xor,
            Open::Hist(_) => Encoding::Histogram,
            Open::FloatHist(_) => Encoding::FloatHistogram,
        }
    }

    fn num_samples(&self) -> u16 {
        match self {
            Open::Xor(c) => c.num_samples(),
            Open::Hist(c) => c.num_samples(),
            Open::FloatHist(c) => c.num_samples(),
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            Open::Xor(c) => c.into_bytes(),
            Open::Hist(c) => c.into_bytes(),
            Open::FloatHist(c) => c.into_bytes(),
        }
    }
}

/// Encodes samples appended in time order into chunks.
pub struct SampleEncoder {
    chunk_range: i64,
    compat: ByteCompat,
    cutter: ChunkCutter,
    cur: Option<(Open, i64, i64)>,
    out: Vec<EncodedChunk>,
}

fn append_err(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("re-encode: {e}"))
}

impl SampleEncoder {
    /// An encoder cutting chunks at multiples of `chunk_range` ms.
    pub fn new(chunk_range: i64, compat: ByteCompat) -> SampleEncoder {
        SampleEncoder {
            chunk_range,
            compat,
            cutter: ChunkCutter::new(chunk_range),
            cur: None,
            out: Vec::new(),
        }
    }

    fn finish_chunk(&mut self) {
        if let Some((c, min, max)) = self.cur.take() {
            let n = u32::from(c.num_samples());
            if n > 0 {
                self.out.push(EncodedChunk {
                    encoding: c.encoding(),
                    data: c.into_bytes(),
                    min_time: min,
                    max_time: max,
                    num_samples: n,
                });
            }
        }
    }

    fn start(&mut self, open: Open, t: i64) {
        self.finish_chunk();
        self.cutter = ChunkCutter::new(self.chunk_range);
        self.cutter.observe(t);
        self.cur = Some((open, t, t));
    }

    /// Appends a float sample.
    pub fn push_float(&mut self, t: i64, v: f64) -> Result<()> {
        let same = matches!(self.cur, Some((Open::Xor(_), _, _)));
        if !same {
            self.start(Open::Xor(XorChunk::with_compat(self.compat)), t);
        } else if self.cutter.observe(t) {
            self.finish_chunk();
            self.cur = Some((Open::Xor(XorChunk::with_compat(self.compat)), t, t));
        }
        if let Some((Open::Xor(c), _, max)) = self.cur.as_mut() {
            c.appender()?.append(t, v).map_err(append_err)?;
            *max = t;
        }
        Ok(())
    }

    /// Appends an integer histogram sample.
    pub fn push_histogram(&mut self, t: i64, h: &Histogram) -> Result<()> {
        let range_end = t.div_euclid(self.chunk_range) * self.chunk_range;
        let cross = self
            .cur
            .as_ref()
            .is_some_and(|(_, min, _)| *min < range_end);
        if !matches!(self.cur, Some((Open::Hist(_), _, _))) || cross {
            self.start(Open::Hist(HistogramChunk::with_compat(self.compat)), t);
        }
        let Some((Open::Hist(c), _, max)) = self.cur.as_mut() else {
            return Ok(());
        };
        match c
            .appender()?
            .append_histogram(None, t, h, false)
            .map_err(append_err)?
        {
            AppendOutcome::Appended => *max = t,
            AppendOutcome::Recoded(n) => {
                *c = n;
                *max = t;
            }
            AppendOutcome::NewChunk(n) => {
                self.finish_chunk();
                self.cur = Some((Open::Hist(n), t, t));
            }
        }
        Ok(())
    }

    /// Appends a float histogram sample.
    pub fn push_float_histogram(&mut self, t: i64, h: &FloatHistogram) -> Result<()> {
        let range_end = t.div_euclid(self.chunk_range) * self.chunk_range;
        let cross = self
            .cur
            .as_ref()
            .is_some_and(|(_, min, _)| *min < range_end);
        if !matches!(self.cur, Some((Open::FloatHist(_), _, _))) || cross {
            self.start(
                Open::FloatHist(FloatHistogramChunk::with_compat(self.compat)),
                t,
            );
        }
        let Some((Open::FloatHist(c), _, max)) = self.cur.as_mut() else {
            return Ok(());
        };
        match c
            .appender()?
            .append_histogram(None, t, h, false)
            .map_err(append_err)?
        {
            AppendOutcome::Appended => *max = t,
            AppendOutcome::Recoded(n) => {
                *c = n;
                *max = t;
            }
            AppendOutcome::NewChunk(n) => {
                self.finish_chunk();
                self.cur = Some((Open::FloatHist(n), t, t));
            }
        }
        Ok(())
    }

    /// The chunks of everything appended.
    pub fn finish(mut self) -> Vec<EncodedChunk> {
        self.finish_chunk();
        self.out
    }
}
