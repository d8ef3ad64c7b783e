//! Reading samples back: series selected from blocks and the head, their sample
//! iterators, and the merge of the same series from several sources.
//!
//! A [`Series`] owns what it needs to be read later (an `Arc` of its block, handles to
//! head chunks), so it can outlive the query that selected it and cross threads. Its
//! [`Series::iter`] walks the samples in time order, whatever their kind; when a series
//! came from several sources (blocks and the head), their samples are chained and equal
//! timestamps are kept once. Selections from different sources merge with
//! [`merge_series`].

mod block_series;
mod merge;

use std::sync::Arc;

pub use block_series::{BlockSampleIter, select_block};
pub use merge::{MergedSampleIter, merge_series};

use crate::Result;
use crate::block::Block;
use crate::chunkenc::ValueType;
use crate::chunks::ChunkMeta;
use crate::head::{HeadSampleIter, HeadSeries};
use crate::histogram::{FloatHistogram, Histogram};
use crate::labels::Labels;
use crate::tombstones::Intervals;

/// Iterates one series' samples in increasing timestamp order.
pub trait SampleIterator {
    /// Advances to the next sample; `Ok(None)` when there are no more.
    fn next(&mut self) -> Result<Option<ValueType>>;

    /// Advances to the first sample with timestamp `>= t` (never backwards).
    fn seek(&mut self, t: i64) -> Result<Option<ValueType>>;

    /// Timestamp of the current sample.
    fn timestamp(&self) -> i64;

    /// The current float sample (valid when the last move returned `Float`).
    fn at(&self) -> (i64, f64);

    /// The current integer histogram (valid when the last move returned `Histogram`).
    fn at_histogram(&self) -> (i64, Histogram);

    /// The current histogram as a float histogram (valid for either histogram kind).
    fn at_float_histogram(&self) -> (i64, FloatHistogram);
}

/// A selected series: its labels and where its samples are.
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    parts: Vec<Part>,
}

pub(crate) enum Part {
    Block {
        block: Arc<Block>,
        chunks: Vec<ChunkMeta>,
        deleted: Option<Intervals>,
        mint: i64,
        maxt: i64,
    },
    Head(HeadSeries),
}

impl Series {
    pub(crate) fn from_part(labels: Labels, part: Part) -> Series {
        Series {
            labels,
            parts: vec![part],
        }
    }

    pub(crate) fn from_head(labels: Labels, head: HeadSeries) -> Series {
        Series::from_part(labels, Part::Head(head))
    }

    /// Where the series' samples are.
    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Adds the parts of `other` (the same series from another source).
    pub(crate) fn absorb(&mut self, other: Series) {
        self.parts.extend(other.parts);
    }

    /// How many chunks the series' samples are read from, summed over its sources (a
    /// chunk held by two sources counts twice): what a per-query chunk limit counts.
    pub fn num_chunks(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Block { chunks, .. } => chunks.len(),
                Part::Head(h) => h.num_chunks(),
            })
            .sum()
    }

    /// The series' samples in time order.
    pub fn iter(&self) -> SeriesIter<'_> {
        if self.parts.len() == 1 {
            SeriesIter::Part(part_iter(&self.parts[0]))
        } else {
            SeriesIter::Merged(MergedSampleIter::new(
                self.parts.iter().map(part_iter).collect(),
            ))
        }
    }
}

fn part_iter(p: &Part) -> PartIter<'_> {
    match p {
        Part::Block {
            block,
            chunks,
            deleted,
            mint,
            maxt,
        } => PartIter::Block(BlockSampleIter::new(
            block,
            chunks,
            deleted.as_ref(),
            *mint,
            *maxt,
        )),
        Part::Head(h) => PartIter::Head(h.iter()),
    }
}

/// Samples of one source of a series.
pub enum PartIter<'a> {
    /// From a block.
    Block(BlockSampleIter<'a>),
    /// From the head.
    Head(HeadSampleIter<'a>),
}

/// Samples of a series, from one source or merged from several.
// The single-source variant is large (decoded sample batches) and by far the common one;
// boxing it would cost an allocation per series read.
#[allow(clippy::large_enum_variant)]
pub enum SeriesIter<'a> {
    /// One source.
    Part(PartIter<'a>),
    /// Several sources.
    Merged(MergedSampleIter<'a>),
}

macro_rules! delegate {
    ($self:ident, $it:ident => $e:expr) => {
        match $self {
            PartIter::Block($it) => $e,
            PartIter::Head($it) => $e,
        }
    };
}

impl SampleIterator for PartIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        delegate!(self, it => it.next())
    }
    fn seek(&mut self, t: i64) -> Result<Option<ValueType>> {
        delegate!(self, it => it.seek(t))
    }
    fn timestamp(&self) -> i64 {
        delegate!(self, it => it.timestamp())
    }
    fn at(&self) -> (i64, f64) {
        delegate!(self, it => it.at())
    }
    fn at_histogram(&self) -> (i64, Histogram) {
        delegate!(self, it => it.at_histogram())
    }
    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        delegate!(self, it => it.at_float_histogram())
    }
}

macro_rules! delegate2 {
    ($self:ident, $it:ident => $e:expr) => {
        match $self {
            SeriesIter::Part($it) => $e,
            SeriesIter::Merged($it) => $e,
        }
    };
}

impl SampleIterator for SeriesIter<'_> {
    fn next(&mut self) -> Result<Option<ValueType>> {
        delegate2!(self, it => it.next())
    }
    fn seek(&mut self, t: i64) -> Result<Option<ValueType>> {
        delegate2!(self, it => it.seek(t))
    }
    fn timestamp(&self) -> i64 {
        delegate2!(self, it => it.timestamp())
    }
    fn at(&self) -> (i64, f64) {
        delegate2!(self, it => it.at())
    }
    fn at_histogram(&self) -> (i64, Histogram) {
        delegate2!(self, it => it.at_histogram())
    }
    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        delegate2!(self, it => it.at_float_histogram())
    }
}
