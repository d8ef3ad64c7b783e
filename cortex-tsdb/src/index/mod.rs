//! The block index, format v2: symbols, series with their chunk metas, postings and the
//! tables that find them.
//!
//! [`IndexWriter`] writes the bytes Prometheus 2.42 writes for the same input;
//! [`IndexReader`] reads any v2 index (memory-mapped or from a buffer), selects series with
//! [`IndexReader::postings_for_matchers`] and reports damaged bytes as
//! [`crate::Error::Corrupted`] naming the section. The layout is drawn in `FORMAT.md` next
//! to this file. Postings algebra (intersect, merge, subtract) lives in [`postings`].

pub(crate) mod encoding;
mod matchers;
pub mod postings;
pub(crate) mod postings_table;
pub(crate) mod reader;
pub(crate) mod series;
pub(crate) mod symbols;
pub(crate) mod toc;
mod verify;
mod writer;
mod writer_postings;
mod writer_symbols;

pub use postings::{
    BigEndianPostings, BoxPostings, EmptyPostings, ListPostings, Postings, SeriesRef,
};
pub use reader::IndexReader;
pub use series::SERIES_ALIGNMENT;
pub use symbols::SymbolIter;
pub use toc::Toc;
pub use verify::IndexStats;
pub use writer::{IndexWriter, WriterOptions};

/// The first four bytes of every index file.
pub const MAGIC: u32 = 0xBAAA_D700;
/// The original index format, which this crate does not read.
pub const FORMAT_V1: u8 = 1;
/// The index format this module reads and writes.
pub const FORMAT_V2: u8 = 2;
/// Length of the header: magic and version.
pub const HEADER_LEN: usize = 5;
/// Label name of the postings list that holds every series.
pub const ALL_POSTINGS_NAME: &str = "";
/// Label value of the postings list that holds every series.
pub const ALL_POSTINGS_VALUE: &str = "";
