//! The open (still growing) chunk of a head series, of any encoding, and the rules for
//! when it is full.
//!
//! Float chunks follow Prometheus' head: a new chunk at the chunk-range boundary, when the
//! observed rate says the range will hold about 120 samples per chunk ([`ChunkCutter`]),
//! or when the chunk reaches 1 KiB. Histogram chunks are cut at the range boundary, or
//! once they hold at least 10 samples and 1 KiB, or when the chunk encoding asks for a
//! new chunk (counter reset, schema change) — Prometheus 3's rules.

use crate::block::ChunkCutter;
use crate::chunkenc::{Encoding, FloatHistogramChunk, HistogramChunk, XorChunk};

/// Largest XOR chunk before a new one is started.
pub const MAX_BYTES_PER_XOR_CHUNK: usize = 1024;
/// Size at which a histogram chunk with enough samples is closed.
pub const TARGET_BYTES_PER_HISTOGRAM_CHUNK: usize = 1024;
/// Fewest samples a histogram chunk holds before it is closed for its size.
pub const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: u16 = 10;

/// The chunk being appended to.
#[derive(Debug, Clone)]
pub enum OpenChunk {
    /// Float samples.
    Xor(XorChunk),
    /// Integer histograms.
    Histogram(HistogramChunk),
    /// Float histograms.
    FloatHistogram(FloatHistogramChunk),
}

impl OpenChunk {
    /// The chunk's encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            OpenChunk::Xor(_) => Encoding::Xor,
            OpenChunk::Histogram(_) => Encoding::Histogram,
            OpenChunk::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// The chunk's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            OpenChunk::Xor(c) => c.bytes(),
            OpenChunk::Histogram(c) => c.bytes(),
            OpenChunk::FloatHistogram(c) => c.bytes(),
        }
    }

    /// Samples in the chunk.
    pub fn num_samples(&self) -> u16 {
        match self {
            OpenChunk::Xor(c) => c.num_samples(),
            OpenChunk::Histogram(c) => c.num_samples(),
            OpenChunk::FloatHistogram(c) => c.num_samples(),
        }
    }
}

/// An open chunk with its time range and the cutting state of its series.
#[derive(Debug, Clone)]
pub struct HeadChunk {
    /// The chunk.
    pub chunk: OpenChunk,
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp.
    pub max_time: i64,
}

/// Decides when a series' open chunk is full.
#[derive(Debug, Clone)]
pub struct CutPolicy {
    cutter: ChunkCutter,
    range_end: i64,
    chunk_range: i64,
}

impl CutPolicy {
    /// A policy for chunks within windows of `chunk_range` ms.
    pub fn new(chunk_range: i64) -> CutPolicy {
        CutPolicy {
            cutter: ChunkCutter::new(chunk_range),
            range_end: i64::MIN,
            chunk_range: chunk_range.max(1),
        }
    }

    /// Records a sample at `t` about to be appended to `open` (if any) and says whether a
    /// new chunk must be started first.
    pub fn must_cut(&mut self, open: Option<&HeadChunk>, t: i64) -> bool {
        let Some(h) = open else {
            self.start(t);
            return true;
        };
        let cut = match &h.chunk {
            OpenChunk::Xor(c) => {
                let by_rule = self.cutter.observe(t);
                by_rule || c.bytes().len() >= MAX_BYTES_PER_XOR_CHUNK
            }
            OpenChunk::Histogram(_) | OpenChunk::FloatHistogram(_) => {
                t >= self.range_end
                    || (h.chunk.num_samples() >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK
                        && h.chunk.bytes().len() >= TARGET_BYTES_PER_HISTOGRAM_CHUNK)
            }
        };
        if cut {
            self.start(t);
        }
        cut
    }

    /// Notes that a chunk was started at `t` for another reason (encoding change, a
    /// histogram chunk the encoder cut).
    pub fn start(&mut self, t: i64) {
        self.cutter = ChunkCutter::new(self.chunk_range);
        self.cutter.observe(t);
        self.range_end = t.div_euclid(self.chunk_range).saturating_mul(self.chunk_range).saturating_add(self.chunk_range);
    }
}
