//! The index-header a store-gateway keeps per block: the parts of a block's index it needs
//! in memory, in the binary index-header format of Thanos and Cortex (version 1), so the
//! files are interchangeable with their store-gateways.
//!
//! A store-gateway serves blocks that stay in object storage. It copies the index's symbol
//! table and postings offset table into a small local file ([`build_index_header`], which
//! reads the index through a [`RangeReader`] and never reads all of it), memory-maps that
//! file ([`IndexHeaderReader`]) and fetches everything else of the index — postings lists,
//! series — by byte range: [`IndexHeaderReader::postings_range`] says which bytes hold the
//! postings list of a label pair, [`decode_postings`] checks and decodes them; series entries
//! and chunks fetched by range are decoded by [`decode_series`] and [`decode_chunk`].
//!
//! # Format
//!
//! Every fixed-width integer is big-endian; `CRC32` is CRC-32C (Castagnoli). The two
//! middle sections are copied byte for byte from the index (their layout is in
//! `index/FORMAT.md`, spec sections "Symbol Table", "Postings Offset Table" and "TOC").
//!
//! ```text
//!  offset 0 ┌──────────────────────────┬─────────────────┬──────────────────────┐
//!           │ magic 0xBAAAD792 <4b>    │ version 1 <1b>  │ index version 2 <1b> │
//!         6 ├──────────────────────────┴─────────────────┴──────────────────────┤
//!           │ offset of the postings offset table in the index <8b>             │
//!        14 ├───────────────────────────────────────────────────────────────────┤ ← TOC.symbols
//!           │ Symbol Table: index bytes TOC.symbols .. TOC.series               │
//!           │   len <4b> | #symbols <4b> | (len <uvarint> | str)* | CRC32 <4b>  │
//!           ├───────────────────────────────────────────────────────────────────┤ ← TOC.postings_table
//!           │ Postings Offset Table: index bytes TOC.postings_table .. end      │
//!           │   len <4b> | #entries <4b>                                        │
//!           │   | (2 <uvarint> | name <uvarint str> | value <uvarint str>       │
//!           │      | offset of the list in the index <uvarint64>)* | CRC32 <4b> │
//!           │   the index's own 52-byte TOC (it ends the copied range)          │
//!  end - 20 ├───────────────────────────────────────────────────────────────────┤
//!           │ TOC: ref(symbols) <8b> | ref(postings offset table) <8b>          │
//!           │      | CRC32 <4b> over the 16 bytes before it                     │
//!       end └───────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The TOC's references are offsets in the index-header; the offsets inside the copied
//! sections (postings list positions, the embedded index TOC) are offsets in the index.
//! Symbol references are positions in the symbol table (index v2), so they mean the same
//! in both files. Index format v1, whose symbol references are file offsets, is not read.
//!
//! A postings list `name="value"` occupies the index bytes from its offset in the table up
//! to the offset of the next entry's list (lists are written in table order, each a
//! multiple of 4 bytes, without gaps); the last one ends where the postings section ends,
//! `label_indices_table` of the embedded index TOC. So each range is exact:
//!
//! ```text
//! ┌──────────┬───────────────┬─────────────────────────────┬────────────┐
//! │ len <4b> │ #entries <4b> │ ref(series) <4b> * #entries │ CRC32 <4b> │
//! └──────────┴───────────────┴─────────────────────────────┴────────────┘
//! ```
//!
//! Thanos builds the same bytes from the same index (header, the two copied ranges, TOC),
//! so either store-gateway can open a file the other built. Its reader ignores the embedded
//! index TOC and ends the last list at the header's postings-offset-table field minus 4,
//! fetching a few bytes too many; this reader requires the embedded TOC and uses it.

mod builder;
mod postings_range;
mod range_reader;
mod reader;
mod series_entry;

pub use builder::{build_index_header, build_index_header_bytes};
pub use postings_range::{PostingsRange, decode_postings};
pub use range_reader::{FileRangeReader, RangeReader};
pub use reader::IndexHeaderReader;
pub use series_entry::{FetchedSeries, Framing, decode_chunk, decode_series, framed_len};

/// The first four bytes of every index-header file.
pub const MAGIC: u32 = 0xBAAA_D792;
/// The index-header format this module reads and writes.
pub const FORMAT_V1: u8 = 1;
/// Length of the header: magic, version, index version, index postings offset table offset.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 8;
/// Length of the TOC: two offsets and a CRC-32C.
pub const TOC_LEN: usize = 2 * 8 + 4;
/// The file name a store-gateway gives the index-header inside a block's directory.
pub const FILE_NAME: &str = "index-header";
