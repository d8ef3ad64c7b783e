//! The two native histogram chunk kinds seen from the head: one trait so a series
//! appends integer and float histograms through the same cut-and-append logic
//! (`SeriesState::append_any_histogram`).

use crate::chunkenc::{AppendOutcome, ByteCompat, FloatHistogramChunk, HistogramChunk};
use crate::histogram::{FloatHistogram, Histogram};
use crate::{Error, Result};

use super::chunk::OpenChunk;

/// What the head needs of a histogram chunk kind to append to it.
pub(super) trait HeadHistogramChunk: Clone + Sized {
    /// The sample type.
    type Value;
    /// A new, empty chunk.
    fn new(compat: ByteCompat) -> Self;
    /// The open chunk if it is of this kind.
    fn of(open: &mut OpenChunk) -> Option<&mut Box<Self>>;
    /// The chunk as the series' open chunk.
    fn into_open(self) -> OpenChunk;
    /// Appends `h` at `t`, continuing from `prev` (the chunk before a cut) when given.
    fn append(
        &mut self,
        prev: Option<&mut Self>,
        t: i64,
        h: &Self::Value,
    ) -> Result<AppendOutcome<Self>>;
}

impl HeadHistogramChunk for HistogramChunk {
    type Value = Histogram;

    fn new(compat: ByteCompat) -> Self {
        HistogramChunk::with_compat(compat)
    }

    fn of(open: &mut OpenChunk) -> Option<&mut Box<Self>> {
        match open {
            OpenChunk::Histogram(c) => Some(c),
            _ => None,
        }
    }

    fn into_open(self) -> OpenChunk {
        OpenChunk::Histogram(Box::new(self))
    }

    fn append(
        &mut self,
        prev: Option<&mut Self>,
        t: i64,
        h: &Histogram,
    ) -> Result<AppendOutcome<Self>> {
        let prev_app = match prev {
            Some(p) => Some(p.appender()?),
            None => None,
        };
        self.appender()?
            .append_histogram(prev_app.as_ref(), t, h, false)
            .map_err(|e| Error::InvalidArgument(format!("append histogram: {e}")))
    }
}

impl HeadHistogramChunk for FloatHistogramChunk {
    type Value = FloatHistogram;

    fn new(compat: ByteCompat) -> Self {
        FloatHistogramChunk::with_compat(compat)
    }

    fn of(open: &mut OpenChunk) -> Option<&mut Box<Self>> {
        match open {
            OpenChunk::FloatHistogram(c) => Some(c),
            _ => None,
        }
    }

    fn into_open(self) -> OpenChunk {
        OpenChunk::FloatHistogram(Box::new(self))
    }

    fn append(
        &mut self,
        prev: Option<&mut Self>,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<AppendOutcome<Self>> {
        let prev_app = match prev {
            Some(p) => Some(p.appender()?),
            None => None,
        };
        self.appender()?
            .append_histogram(prev_app.as_ref(), t, h, false)
            .map_err(|e| Error::InvalidArgument(format!("append float histogram: {e}")))
    }
}
