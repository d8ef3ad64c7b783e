//! Damage found while reading, the torn-tail verdict, and repairing a torn tail.
//!
//! A write cut short by a crash leaves a prefix of what was being written, followed by
//! nothing (a shorter file) or by zeros (a file extended but not filled). Such a tail
//! shows up as one of four kinds of damage, which are the only ones that may be a *torn
//! tail*: a fragment (or its header) that runs past the end of the file, a fragment
//! whose CRC does not match, a record whose remaining fragments are missing (page
//! padding or the end of the segment where its next fragment should be), and a
//! zero-length middle or last fragment (a header zero-filled after its type byte; the
//! writer never writes one). Every other kind of damage — invalid type bytes, a fragment
//! overflowing its page, non-zero bytes in padding, fragments out of sequence, a record
//! that does not decompress — cannot come from a cut write and is always corruption.
//!
//! Damage of a tearable kind is a torn tail only when (1) it is in the last segment
//! that holds data (later segments are empty or all zeros), (2) that segment is not
//! part of a checkpoint, (3) every byte after the damaged fragment up to the end of the
//! file is zero, and (4) no valid fragment (known type, non-empty data inside its page
//! and the file, matching CRC) starts inside the damaged fragment's extent, which is how
//! a flipped bit in a length field that swallows the records after it is caught.
//! Otherwise data written later follows the damage, which a cut write cannot produce,
//! and it is corruption.
//!
//! One ambiguity remains: a full fragment whose header kept only its type byte (and,
//! for a short record, its zero high length byte) and was zero-filled after it reads as
//! an empty record, exactly what the writer writes for one. A head never logs empty
//! records (every record has its type byte) and a replay skips them as of unknown type.

use std::fs::OpenOptions;
use std::path::PathBuf;

use super::PAGE_SIZE;
use crate::{Error, Result};

/// Where reading stopped at the end of the last segment, and what it dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// The segment's index.
    pub segment: u64,
    /// Offset of the first fragment of the incomplete record: everything from here on
    /// was dropped.
    pub offset: u64,
    /// Bytes dropped (from `offset` to the end of the file, trailing zeros included).
    pub bytes: u64,
    /// What was found.
    pub detail: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "torn tail in {} at offset {}: dropped {} bytes ({})",
            self.path.display(),
            self.offset,
            self.bytes,
            self.detail
        )
    }
}

/// A deviation from the format found while reading one segment.
#[derive(Debug, Clone)]
pub(crate) struct Damage {
    /// Whether a cut write can produce it.
    pub(crate) tearable: bool,
    /// Offset of the problem (a fragment header, or the offending byte).
    pub(crate) problem: u64,
    /// Offset of the first fragment of the record it breaks.
    pub(crate) record_start: u64,
    /// Offset from which every byte must be zero for it to be a torn tail.
    pub(crate) end: u64,
    /// What is wrong.
    pub(crate) detail: String,
}

impl Damage {
    /// Damage a cut write can produce.
    pub(crate) fn tear(
        record_start: u64,
        problem: u64,
        end: u64,
        detail: impl Into<String>,
    ) -> Damage {
        Damage {
            tearable: true,
            problem,
            record_start,
            end,
            detail: detail.into(),
        }
    }

    /// Damage no cut write produces.
    pub(crate) fn corrupt(problem: u64, detail: impl Into<String>) -> Damage {
        Damage {
            tearable: false,
            problem,
            record_start: problem,
            end: problem,
            detail: detail.into(),
        }
    }
}

/// Cuts the torn tail off its segment: truncates the file at the start of the incomplete
/// record, zero-pads it to a page boundary and fsyncs it. Reading the segment afterwards
/// ends cleanly after its last complete record. Run this before writing new segments
/// after the torn one (a freshly opened, still empty [`super::Wal`] segment is fine).
pub fn repair_torn_tail(tail: &TornTail) -> Result<()> {
    let path = &tail.path;
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open segment", path, e))?;
    f.set_len(tail.offset)
        .map_err(|e| Error::io("truncate segment", path, e))?;
    f.set_len(tail.offset.next_multiple_of(PAGE_SIZE as u64))
        .map_err(|e| Error::io("pad segment", path, e))?;
    f.sync_all().map_err(|e| Error::io("fsync", path, e))
}
