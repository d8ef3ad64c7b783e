//! Prometheus' write-ahead log: records in numbered segment files, written in 32 KiB
//! pages, with torn-write detection, repair and checkpoints.
//!
//! The format is Prometheus' (`tsdb/docs/format/wal.md`; drawn byte by byte in
//! `FORMAT.md` next to this file). A WAL directory holds segment files named by their
//! index in 8 decimal digits (`00000000`, `00000001`, ...) with consecutive indexes, and
//! `checkpoint.NNNNNNNN` directories (see [`mod@checkpoint`]). A segment
//! has no header: it is a sequence of 32 KiB pages, each a sequence of fragments
//! followed by zero padding up to the page end. A fragment is a 7-byte header (type byte
//! with compression flags, BE16 data length, BE32 CRC-32C of the data) and its data. A
//! record that does not fit into the rest of a page is split into a first fragment,
//! middle fragments and a last fragment in the following pages; a record that fits is
//! one full fragment. What the records hold is [`crate::record`]'s business.
//!
//! # Writing ([`Wal`])
//!
//! * Opening a directory always starts a new segment after the last one; old segments
//!   are never appended to (Prometheus does the same).
//! * A record is compressed (snappy by default, zstd optionally) only when that makes it
//!   strictly smaller; empty records are never compressed.
//! * No fragment header starts in the last 6 bytes of a page: they are zero padding.
//! * A record never spans segments: if it does not fit into the rest of the segment, the
//!   segment is completed (last page zero-padded, fsynced) and the record goes into the
//!   next. A record larger than a whole segment makes that segment larger.
//! * [`Wal::log`] writes every completed page and the partial last page before it
//!   returns, so the records survive a process kill. Segments are fsynced when cut or
//!   closed, and by [`Wal::sync`].
//!
//! # Reading ([`Reader`])
//!
//! Records come back in order across segments; a checkpoint's segments come first when
//! reading for a replay ([`replay_reader`]). A file that ends within a page reads as if
//! zero-padded to the page end (a segment left by a killed process). Empty segment files
//! are fine. Every deviation from the rules above stops reading and is judged:
//!
//! * **Torn tail** — the end of the last segment that holds data shows what a write cut
//!   short leaves: a fragment running past the end of the file, a fragment whose CRC
//!   fails, or a record whose next fragment is missing — with only zeros (or nothing)
//!   after it. Reading ends cleanly; [`Reader::torn_tail`] says which segment, from
//!   which offset and how many bytes were dropped, and [`repair_torn_tail`] cuts them
//!   off so the segment reads cleanly (Prometheus' `Repair` for this case).
//! * **Corruption** — everything else: damage in a segment followed by a segment holding
//!   data, damage followed by non-zero bytes in the same segment (a bit flip in the
//!   middle of the last segment is not a torn write), damage in a checkpoint, invalid
//!   type bytes or reserved bits, a fragment overflowing its page or a header in a
//!   page's last 6 bytes, non-zero bytes in padding, fragments out of sequence, a record
//!   that does not decompress, a gap in the segment numbering. The reader returns
//!   [`crate::Error::Corrupted`] naming the segment file and the offset of the problem,
//!   and never skips records silently.
//!
//! Prometheus treats any corruption as repairable: it deletes everything after the
//! first damaged record. We refuse unless the damage is a torn tail, so an operator
//! decides about data loss in the middle of the log.

pub mod checkpoint;
mod compression;
mod fragment;
mod reader;
mod segment;
mod source;
mod tail;
mod writer;

pub use checkpoint::{
    CheckpointOptions, CheckpointStats, checkpoint, checkpoint_dir, delete_checkpoints,
    last_checkpoint, replay_reader,
};
pub use compression::Compression;
pub use fragment::HEADER_SIZE;
pub use reader::Reader;
pub use segment::{SegmentRange, list_segments, parse_segment_name, segment_path, segment_range};
pub use source::SegmentSource;
pub use tail::{TornTail, repair_torn_tail};
pub use writer::{Wal, WalOptions, WalStats};

/// Size of a page: segments are written and read in units of this many bytes.
pub const PAGE_SIZE: usize = 32 * 1024;

/// Default size at which segments are cut (128 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 * 1024 * 1024;
