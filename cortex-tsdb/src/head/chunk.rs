//! The open (still growing) chunk of a head series, of any encoding, and the rules for
//! when it is full.
//!
//! Float chunks follow Prometheus' head: a new chunk at the chunk-range boundary, when the
//! observed rate says the range will hold about 120 samples per chunk ([`ChunkCutter`]),
//! or when the chunk reaches 1 KiB. Histogram chunks are cut at the range boundary, or
//! once they hold at least 10 samples and 1 KiB, or when the chunk encoding asks for a
//! new chunk (counter reset, schema change) — Prometheus 3's rules.

use crate::block::SAMPLES_PER_CHUNK;
use crate::block::chunk_cut::{compute_chunk_end, range_end};
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
    /// Integer histograms (boxed: their appender state is large and rare).
    Histogram(Box<HistogramChunk>),
    /// Float histograms.
    FloatHistogram(Box<FloatHistogramChunk>),
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
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            OpenChunk::Xor(c) => c.bytes(),
            OpenChunk::Histogram(c) => c.bytes(),
            OpenChunk::FloatHistogram(c) => c.bytes(),
        }
    }

    /// Samples in the chunk.
    #[inline]
    pub fn num_samples(&self) -> u16 {
        match self {
            OpenChunk::Xor(c) => c.num_samples(),
            OpenChunk::Histogram(c) => c.num_samples(),
            OpenChunk::FloatHistogram(c) => c.num_samples(),
        }
    }
}

/// An open chunk and its first timestamp. Its last timestamp is the series' newest
/// in-order timestamp, which the series keeps (once, for both).
#[derive(Debug, Clone)]
pub struct HeadChunk {
    /// The chunk.
    pub chunk: OpenChunk,
    /// First sample's timestamp.
    pub min_time: i64,
}

/// Decides when a series' open chunk is full: the end of the chunk's time window,
/// pulled in once the chunk holds a quarter of its target samples.
#[derive(Debug, Clone, Copy)]
pub struct CutPolicy {
    next_at: i64,
}

impl CutPolicy {
    /// A policy before the first sample.
    pub fn new() -> CutPolicy {
        CutPolicy { next_at: i64::MIN }
    }

    /// Says whether a sample at `t` must start a new chunk after `open` (if any), whose
    /// last sample is at `max_time`.
    #[inline(always)]
    pub fn must_cut(
        &mut self,
        open: Option<&HeadChunk>,
        max_time: i64,
        t: i64,
        chunk_range: i64,
    ) -> bool {
        let Some(h) = open else {
            self.start(t, chunk_range);
            return true;
        };
        let cut = match &h.chunk {
            OpenChunk::Xor(c) => {
                let n = c.num_samples();
                if u32::from(n) == SAMPLES_PER_CHUNK / 4 {
                    self.next_at = compute_chunk_end(h.min_time, max_time, self.next_at);
                }
                t >= self.next_at
                    || u32::from(n) >= SAMPLES_PER_CHUNK * 2
                    || c.bytes().len() >= MAX_BYTES_PER_XOR_CHUNK
            }
            OpenChunk::Histogram(_) | OpenChunk::FloatHistogram(_) => {
                t >= self.next_at
                    || (h.chunk.num_samples() >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK
                        && h.chunk.bytes().len() >= TARGET_BYTES_PER_HISTOGRAM_CHUNK)
            }
        };
        if cut {
            self.start(t, chunk_range);
        }
        cut
    }

    /// The time before which the open chunk will be closed, as far as it is known now
    /// (the window's end, pulled in by the observed rate once a quarter is full).
    #[inline]
    pub fn end(&self) -> i64 {
        self.next_at
    }

    /// Notes that a chunk was started at `t` for another reason (encoding change, a
    /// histogram chunk the encoder cut).
    #[inline]
    pub fn start(&mut self, t: i64, chunk_range: i64) {
        self.next_at = range_end(t, chunk_range.max(1));
    }
}

impl Default for CutPolicy {
    fn default() -> Self {
        CutPolicy::new()
    }
}
