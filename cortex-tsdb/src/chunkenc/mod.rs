//! Chunk encodings: how a run of samples of one series is compressed into bytes.
//!
//! Byte-compatible with Prometheus' `tsdb/chunkenc`: XOR for floats (encoding 1),
//! histogram (2) and float histogram (3). Any other encoding byte is an error, never
//! misread as one of these. The layouts are drawn in `FORMAT.md` next to this file.
//!
//! * [`XorChunk`], [`HistogramChunk`], [`FloatHistogramChunk`]: the chunk bytes plus the
//!   appender state, written exactly as Prometheus writes them.
//! * [`ChunkIter`]: one iterator over any encoding; [`XorIter`] is the float fast path.
//! * Appendability and recoding of histogram chunks (new buckets, counter resets, gauge
//!   layouts) follow Prometheus' rules, so a head can cut and recode chunks as it does.
//! * [`ByteCompat`] picks Prometheus 3.x's bytes (the default) or 2.x's, which differ only
//!   by a trailing zero byte on some chunks.
//!
//! Decoders never panic on bad bytes and never end early: a chunk that ends before the
//! number of samples its header announces is [`ChunkError::Truncated`].

mod bstream;
mod float_histogram;
mod float_histogram_append;
mod float_histogram_iter;
mod histogram;
mod histogram_append;
mod histogram_iter;
mod iter;
mod layout;
mod recode;
mod varbit;
mod xor;
mod xor_iter;

pub use float_histogram::{FloatHistogramAppender, FloatHistogramChunk};
pub use float_histogram_append::{FloatHistogramAppendable, recode_float_histogram};
pub use float_histogram_iter::FloatHistogramIter;
pub use histogram::{HistogramAppender, HistogramChunk};
pub use histogram_append::{HistogramAppendable, recode_histogram};
pub use histogram_iter::HistogramIter;
pub use iter::ChunkIter;
pub use layout::CounterResetHeader;
pub use recode::{GaugeAppendable, Insert, expand_spans_both_ways};
pub use xor::{XorAppender, XorChunk};
pub use xor_iter::XorIter;

/// Which Prometheus generation's chunk bytes the appenders write.
///
/// The bit streams are identical. Prometheus 2.x's bit writer, after writing whole bytes
/// that end on a byte boundary, already holds the next byte, so a chunk whose last write
/// ended that way carries one more zero byte; Prometheus 3.0 and later do not. Readers of
/// either generation accept both, and so do ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteCompat {
    /// Byte-identical to Prometheus 2.x (up to 2.55), including its spare zero byte.
    V2,
    /// Byte-identical to Prometheus 3.x.
    #[default]
    V3,
}

/// The encoding byte stored in front of every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// Gorilla-style XOR compression of float samples.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
}

impl Encoding {
    /// The encoding for a stored byte; anything but 1, 2 or 3 is
    /// [`ChunkError::UnknownEncoding`].
    pub fn from_u8(b: u8) -> Result<Encoding, ChunkError> {
        match b {
            1 => Ok(Encoding::Xor),
            2 => Ok(Encoding::Histogram),
            3 => Ok(Encoding::FloatHistogram),
            other => Err(ChunkError::UnknownEncoding(other)),
        }
    }

    /// Prometheus' name for the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Xor => "XOR",
            Encoding::Histogram => "histogram",
            Encoding::FloatHistogram => "floathistogram",
        }
    }
}

/// The kind of sample an iterator stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A float sample.
    Float,
    /// An integer native histogram.
    Histogram,
    /// A float native histogram.
    FloatHistogram,
}

/// Why chunk bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The encoding byte is not one we know.
    #[error("unknown chunk encoding {0}")]
    UnknownEncoding(u8),
    /// The data ended before the samples it announces.
    #[error("chunk data truncated while reading {0}")]
    Truncated(&'static str),
    /// The data is structurally invalid.
    #[error("invalid chunk data: {0}")]
    Invalid(&'static str),
    /// A histogram chunk's layout names a schema no Prometheus version defines.
    #[error("histogram chunk has unknown schema {0}")]
    UnknownSchema(i32),
}

/// Why a sample could not be appended to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The chunk already holds 65535 samples, the most its header can count.
    #[error("chunk capacity exceeded")]
    ChunkFull,
    /// The histogram does not fit the chunk's layout (schema, zero threshold, spans,
    /// custom bounds), or its bucket counts do not match its spans.
    #[error("histogram does not match the chunk layout: {0}")]
    LayoutMismatch(&'static str),
    /// Appending would need a new chunk because of a counter reset, and the caller asked
    /// for appending only.
    #[error("histogram counter reset")]
    CounterReset,
    /// Appending would need a new chunk (schema, zero threshold or custom bounds changed,
    /// or a sample follows a stale marker), and the caller asked for appending only.
    #[error("histogram schema change")]
    SchemaChange,
    /// Appending would need recoding for new buckets, and the caller asked for appending
    /// only.
    #[error("histogram layout change with {positive} positive and {negative} negative inserts")]
    LayoutChange {
        /// Number of positive-bucket inserts needed.
        positive: usize,
        /// Number of negative-bucket inserts needed.
        negative: usize,
    },
    /// The chunk's existing bytes could not be decoded to resume appending.
    #[error(transparent)]
    Corrupt(#[from] ChunkError),
}

/// What appending a histogram with layout changes did, for appenders that may cut or
/// recode chunks as Prometheus' head does.
#[derive(Debug)]
pub enum AppendOutcome<C> {
    /// The sample was appended to the chunk.
    Appended,
    /// The sample could not join the chunk (counter reset, schema change, stale marker
    /// before it, gauge/counter switch); it is the first sample of the returned chunk, and
    /// the old chunk is complete.
    NewChunk(C),
    /// New buckets appeared: the returned chunk replaces the old one, holding all its
    /// samples in the widened layout followed by the new sample.
    Recoded(C),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_encodings_are_errors() {
        assert_eq!(Encoding::from_u8(1), Ok(Encoding::Xor));
        assert_eq!(Encoding::from_u8(3), Ok(Encoding::FloatHistogram));
        for b in [0u8, 4, 0x81, 255] {
            assert_eq!(Encoding::from_u8(b), Err(ChunkError::UnknownEncoding(b)));
        }
    }
}
