//! [`PostingsRange`]: where one postings list lies in the full index, and
//! [`decode_postings`]: checking and decoding the bytes fetched from there.
//!
//! A range covers the whole list frame (spec section "Postings"):
//!
//! ```text
//! range.start                                                          range.end
//! ┌──────────┬───────────────┬─────────────────────────────┬────────────┐
//! │ len <4b> │ #entries <4b> │ ref(series) <4b> * #entries │ CRC32 <4b> │
//! └──────────┴───────────────┴─────────────────────────────┴────────────┘
//!            └──────────── len bytes, covered by the CRC ────┘
//! ```
//!
//! so the decoder can verify the checksum of what came over the network. Finding the range
//! for a label pair is the index-header reader's job.

use std::path::Path;

use crate::index::BigEndianPostings;
use crate::index::encoding::{DecodeError, framed_be32};
use crate::{Error, Result};

/// Bytes of the smallest postings list: length, entry count and checksum.
pub(crate) const MIN_LIST_LEN: u64 = 12;

/// Byte range `start..end` of one postings list in the full index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostingsRange {
    /// Offset of the list's length field.
    pub start: u64,
    /// Offset just past the list's checksum.
    pub end: u64,
}

impl PostingsRange {
    /// Number of bytes to fetch.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True when the range holds no bytes (never for a range the reader returns).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes the postings list fetched from `range` of the index `index` (named in errors):
/// checks that `bytes` are as long as the range, the frame's length, checksum and entry
/// count, and that anything after the frame is zero padding. References are decoded in
/// place, lazily.
pub fn decode_postings<'a>(
    index: &Path,
    range: PostingsRange,
    bytes: &'a [u8],
) -> Result<BigEndianPostings<'a>> {
    let corrupt = |e: DecodeError| {
        Error::corrupted(
            index,
            "postings",
            range.start.saturating_add(e.offset),
            e.detail,
        )
    };
    if bytes.len() as u64 != range.len() {
        return Err(corrupt(DecodeError::new(
            0,
            format!(
                "fetched {} bytes for a range of {} bytes",
                bytes.len(),
                range.len()
            ),
        )));
    }
    let mut d = framed_be32(bytes, 0, bytes.len()).map_err(corrupt)?;
    let n = d.be32().map_err(corrupt)? as usize;
    let refs = d.rest();
    if Some(refs.len()) != n.checked_mul(4) {
        return Err(corrupt(DecodeError::new(
            4,
            format!("{} bytes of references for {n} entries", refs.len()),
        )));
    }
    // Length field, body, checksum.
    let frame_end = 4 + 4 + refs.len() + 4;
    if let Some(pos) = bytes
        .get(frame_end..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b != 0)
    {
        return Err(corrupt(DecodeError::new(
            frame_end + pos,
            "non-zero bytes after the postings list",
        )));
    }
    Ok(BigEndianPostings::new(refs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Postings;
    use crate::index::encoding::{crc32c, put_be32};

    fn list(refs: &[u32]) -> Vec<u8> {
        let mut body = Vec::new();
        put_be32(&mut body, refs.len() as u32);
        for r in refs {
            put_be32(&mut body, *r);
        }
        let mut out = Vec::new();
        put_be32(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
        put_be32(&mut out, crc32c(&body));
        out
    }

    fn range(start: u64, b: &[u8]) -> PostingsRange {
        PostingsRange {
            start,
            end: start + b.len() as u64,
        }
    }

    fn decode(start: u64, b: &[u8]) -> Result<Vec<u64>> {
        let mut p = decode_postings(Path::new("idx"), range(start, b), b)?;
        let mut out = Vec::new();
        while let Some(v) = p.next() {
            out.push(v);
        }
        Ok(out)
    }

    #[test]
    fn decodes_lists_and_tolerates_zero_padding() {
        assert_eq!(decode(100, &list(&[3, 9, 40])).unwrap(), vec![3, 9, 40]);
        assert_eq!(decode(100, &list(&[])).unwrap(), Vec::<u64>::new());
        let mut padded = list(&[7]);
        padded.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode(0, &padded).unwrap(), vec![7]);
    }

    #[test]
    fn damaged_lists_are_corrupted_at_index_offsets() {
        let good = list(&[1, 2, 3]);
        // Flipped reference: checksum mismatch reported at the CRC's offset in the index.
        let mut bad = good.clone();
        bad[10] ^= 1;
        match decode(1000, &bad).unwrap_err() {
            Error::Corrupted {
                section, offset, ..
            } => {
                assert_eq!(section, "postings");
                assert_eq!(offset, 1000 + good.len() as u64 - 4);
            }
            e => panic!("{e}"),
        }
        // Truncated fetch.
        assert!(decode(0, &good[..good.len() - 1]).is_err());
        // Bytes shorter than the range.
        let r = PostingsRange { start: 0, end: 100 };
        assert!(decode_postings(Path::new("idx"), r, &good).is_err());
        // Garbage after the frame.
        let mut trailing = good.clone();
        trailing.push(5);
        assert!(decode(0, &trailing).is_err());
        // Count disagreeing with the length (checksum fixed up so only the count is wrong).
        let mut body = Vec::new();
        put_be32(&mut body, 9);
        put_be32(&mut body, 1);
        let mut wrong = Vec::new();
        put_be32(&mut wrong, 8);
        wrong.extend_from_slice(&body);
        put_be32(&mut wrong, crc32c(&body));
        let err = decode(0, &wrong).unwrap_err().to_string();
        assert!(err.contains("for 9 entries"), "{err}");
        assert!(decode(0, &[]).is_err());
    }
}
