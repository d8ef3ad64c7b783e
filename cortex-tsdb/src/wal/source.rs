//! Where a reader's segment bytes come from (a file or memory), and the scans the
//! torn-tail rules need: the first non-zero byte after some offset, and a valid fragment
//! inside a damaged fragment's extent.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::PAGE_SIZE;
use super::fragment::{HEADER_SIZE, is_header_type, parse_header};
use crate::encoding::crc32c;

/// One segment file for a [`super::Reader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSource {
    /// The segment file.
    pub path: PathBuf,
    /// Its index.
    pub index: u64,
    /// True for segments of a checkpoint directory: they were complete before the
    /// checkpoint became visible, so no damage in them is a torn write.
    pub checkpoint: bool,
}

/// Where a segment's bytes come from.
pub(crate) enum SegmentData {
    File(File),
    Memory { bytes: Vec<u8>, pos: usize },
}

impl SegmentData {
    /// Reads into `buf` until it is full or the data ends; returns the bytes read.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SegmentData::File(f) => {
                let mut n = 0;
                while n < buf.len() {
                    match f.read(&mut buf[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            }
            SegmentData::Memory { bytes, pos } => {
                let rest = bytes.get(*pos..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
        }
    }

    /// Moves to `offset` for the next [`SegmentData::fill`].
    pub(crate) fn seek(&mut self, offset: u64) -> io::Result<()> {
        match self {
            SegmentData::File(f) => f.seek(SeekFrom::Start(offset)).map(|_| ()),
            SegmentData::Memory { pos, .. } => {
                *pos = usize::try_from(offset).unwrap_or(usize::MAX);
                Ok(())
            }
        }
    }

    /// Offset of the first non-zero byte at or after `offset`, if any.
    pub(crate) fn first_non_zero(&mut self, offset: u64) -> io::Result<Option<u64>> {
        self.seek(offset)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = offset;
        loop {
            let n = self.fill(&mut buf)?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
                return Ok(Some(at + i as u64));
            }
            at += n as u64;
        }
    }
}

/// The offset of the first fragment starting in `from..to` whose header is valid, whose
/// data is not empty and fits its page and the file, and whose CRC matches: evidence
/// that written records follow, which a cut write cannot leave.
pub(crate) fn valid_fragment_in(
    data: &mut SegmentData,
    len: u64,
    from: u64,
    to: u64,
) -> io::Result<Option<u64>> {
    if from >= to {
        return Ok(None);
    }
    let read_end = len.min(to.saturating_add(PAGE_SIZE as u64));
    let Ok(n) = usize::try_from(read_end.saturating_sub(from)) else {
        return Ok(None);
    };
    data.seek(from)?;
    let mut buf = vec![0u8; n];
    let got = data.fill(&mut buf)?;
    buf.truncate(got);
    let span = usize::try_from(to - from).unwrap_or(usize::MAX);
    for i in 0..span.min(buf.len()) {
        let Some(hb) = buf.get(i..i + HEADER_SIZE) else {
            break;
        };
        if !is_header_type(hb[0]) {
            continue;
        }
        let mut arr = [0u8; HEADER_SIZE];
        arr.copy_from_slice(hb);
        let Ok(h) = parse_header(arr) else { continue };
        let in_page = ((from + i as u64) % PAGE_SIZE as u64) as usize;
        if h.len == 0 || in_page + HEADER_SIZE + h.len > PAGE_SIZE {
            continue;
        }
        // Cheap test first: a written fragment ends at the end of the file or its page,
        // or is followed by padding or another header.
        let end = i + HEADER_SIZE + h.len;
        let plausible_end = match buf.get(end..) {
            None => false,
            Some([]) => true,
            Some(rest) => {
                (in_page + HEADER_SIZE + h.len) == PAGE_SIZE
                    || rest[0] == 0
                    || rest.get(..HEADER_SIZE).is_some_and(|hb| {
                        parse_header(hb.try_into().unwrap_or([0; HEADER_SIZE])).is_ok()
                    })
            }
        };
        if plausible_end && crc32c(&buf[i + HEADER_SIZE..end]) == h.crc {
            return Ok(Some(from + i as u64));
        }
    }
    Ok(None)
}
