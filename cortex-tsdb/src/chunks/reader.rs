//! Reads chunks out of a block's memory-mapped segment files, verifying each chunk's
//! CRC-32C.
//!
//! Unlike Prometheus' block reader, which skips the checksum and can hand out damaged
//! samples, every chunk read here is checked: a mismatch is an error naming the segment
//! file and offset.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::{ChunkRef, FORMAT_V1, MAGIC, SEGMENT_HEADER_SIZE};
use crate::chunkenc::Encoding;
use crate::encoding::uvarint;
use crate::{Error, Result};

/// A chunk's encoding and its encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// How `data` is encoded.
    pub encoding: Encoding,
    /// The encoded samples.
    pub data: &'a [u8],
}

struct Segment {
    path: PathBuf,
    map: Mmap,
}

/// The segment files of one block's `chunks/` directory, memory-mapped.
pub struct ChunkReader {
    segments: Vec<Segment>,
}

impl ChunkReader {
    /// Maps every segment file in `dir` (files named by six digits, in order) and checks
    /// their headers.
    pub fn open(dir: &Path) -> Result<ChunkReader> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("read dir", dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() >= 6 && name.bytes().all(|b| b.is_ascii_digit()) {
                names.push(name.to_string());
            }
        }
        names.sort();
        let mut segments = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let path = dir.join(name);
            let want = super::segment_file_name(i as u32);
            if *name != want {
                return Err(Error::corrupted(
                    &path,
                    "segment sequence",
                    0,
                    format!(
                        "expected segment file {want}: segment files must be numbered without gaps"
                    ),
                ));
            }
            let f = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            // SAFETY: block files are immutable once written; nothing in this process
            // writes them, and a block is deleted only after its readers are closed.
            let map = unsafe { Mmap::map(&f) }.map_err(|e| Error::io("mmap", &path, e))?;
            check_header(&path, &map)?;
            segments.push(Segment { path, map });
        }
        Ok(ChunkReader { segments })
    }

    /// Number of segment files.
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    /// The path of segment `seq` (zero-based), for error messages; a made-up name when
    /// the segment does not exist.
    pub fn segment_path(&self, seq: u32) -> PathBuf {
        self.segments.get(seq as usize).map_or_else(
            || PathBuf::from(super::segment_file_name(seq)),
            |s| s.path.clone(),
        )
    }

    /// Total bytes of all segment files.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.map.len() as u64).sum()
    }

    /// The chunk at `r`, with its checksum verified.
    pub fn chunk(&self, r: ChunkRef) -> Result<RawChunk<'_>> {
        let seq = r.segment() as usize;
        let Some(seg) = self.segments.get(seq) else {
            return Err(Error::NotFound(format!(
                "chunk {:#x}: segment {} does not exist ({} segments)",
                r.0,
                super::segment_file_name(r.segment()),
                self.segments.len()
            )));
        };
        read_chunk(&seg.path, &seg.map, r.offset() as usize)
    }
}

fn check_header(path: &Path, b: &[u8]) -> Result<()> {
    if b.len() < SEGMENT_HEADER_SIZE {
        return Err(Error::corrupted(
            path,
            "segment header",
            0,
            format!("file is {} bytes, shorter than the 8-byte header", b.len()),
        ));
    }
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != MAGIC {
        return Err(Error::corrupted(
            path,
            "segment header",
            0,
            format!("bad magic {magic:#010x}, want {MAGIC:#010x}"),
        ));
    }
    if b[4] != FORMAT_V1 {
        return Err(Error::corrupted(
            path,
            "segment header",
            4,
            format!("unsupported format version {}", b[4]),
        ));
    }
    Ok(())
}

/// Reads and verifies the chunk at `offset` of a segment's bytes.
pub(crate) fn read_chunk<'a>(path: &Path, b: &'a [u8], offset: usize) -> Result<RawChunk<'a>> {
    let bad = |at: usize, detail: String| Error::corrupted(path, "chunk", at as u64, detail);
    if offset < SEGMENT_HEADER_SIZE || offset >= b.len() {
        return Err(bad(
            offset,
            format!(
                "chunk offset outside the file's {} bytes of chunk data",
                b.len()
            ),
        ));
    }
    let (len, n) = uvarint(&b[offset..]).map_err(|e| bad(offset, format!("length: {e}")))?;
    let start = offset + n;
    // encoding byte + data + CRC must fit.
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(1)?.checked_add(l))
        .filter(|e| e.checked_add(4).is_some_and(|x| x <= b.len()))
        .ok_or_else(|| {
            bad(
                offset,
                format!("chunk of {len} bytes runs past the end of the file"),
            )
        })?;
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    let got = crc32c::crc32c(&b[start..end]);
    if want != got {
        return Err(bad(
            offset,
            format!("CRC-32C mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    let encoding = Encoding::from_u8(b[start]).map_err(|e| bad(start, e.to_string()))?;
    Ok(RawChunk {
        encoding,
        data: &b[start + 1..end],
    })
}

/// Walks every chunk of a segment's bytes in file order: `(offset, chunk)`. Used by tools
/// that inspect files without an index.
pub fn walk_segment<'a>(
    path: &'a Path,
    b: &'a [u8],
) -> Result<impl Iterator<Item = Result<(usize, RawChunk<'a>)>> + 'a> {
    check_header(path, b)?;
    let mut off = SEGMENT_HEADER_SIZE;
    let mut failed = false;
    Ok(std::iter::from_fn(move || {
        if failed || off >= b.len() {
            return None;
        }
        match read_chunk(path, b, off) {
            Ok(c) => {
                let at = off;
                let (len, n) = uvarint(&b[off..]).ok()?;
                off += n + 1 + len as usize + 4;
                Some(Ok((at, c)))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::ChunkWriter;

    fn raw(enc: Encoding, data: &[u8]) -> RawChunk<'_> {
        RawChunk {
            encoding: enc,
            data,
        }
    }

    #[test]
    fn written_chunks_read_back_by_ref() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkWriter::create(dir.path()).unwrap();
        let a = w
            .write_series_chunks(&[
                raw(Encoding::Xor, b"\x00\x01abc"),
                raw(Encoding::Histogram, b""),
            ])
            .unwrap();
        let b = w
            .write_series_chunks(&[raw(Encoding::FloatHistogram, &[7; 300])])
            .unwrap();
        w.finish().unwrap();
        assert_eq!(a[0], ChunkRef::new(0, 8));
        let r = ChunkReader::open(dir.path()).unwrap();
        assert_eq!(r.chunk(a[0]).unwrap(), raw(Encoding::Xor, b"\x00\x01abc"));
        assert_eq!(r.chunk(a[1]).unwrap(), raw(Encoding::Histogram, b""));
        assert_eq!(
            r.chunk(b[0]).unwrap(),
            raw(Encoding::FloatHistogram, &[7; 300])
        );
    }

    #[test]
    fn segments_are_cut_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkWriter::with_segment_size(dir.path(), 100).unwrap();
        let data = [1u8; 40];
        let mut refs = Vec::new();
        for _ in 0..5 {
            refs.extend(w.write_series_chunks(&[raw(Encoding::Xor, &data)]).unwrap());
        }
        w.finish().unwrap();
        let r = ChunkReader::open(dir.path()).unwrap();
        assert!(r.num_segments() >= 3, "{} segments", r.num_segments());
        for x in refs {
            assert_eq!(r.chunk(x).unwrap().data, &data);
        }
    }

    #[test]
    fn damaged_chunks_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkWriter::create(dir.path()).unwrap();
        let refs = w
            .write_series_chunks(&[raw(Encoding::Xor, b"\x00\x02abcdefgh")])
            .unwrap();
        w.finish().unwrap();
        let path = dir.path().join("000001");
        let good = std::fs::read(&path).unwrap();
        // Bytes 5..8 are header padding that carries no information.
        for i in (0..good.len()).filter(|i| !(5..8).contains(i)) {
            let mut b = good.clone();
            b[i] ^= 0x10;
            std::fs::write(&path, &b).unwrap();
            let res = ChunkReader::open(dir.path())
                .and_then(|r| r.chunk(refs[0]).map(|c| c.data.to_vec()));
            let err = res.expect_err(&format!("flip at {i} went unnoticed"));
            assert!(err.to_string().contains("000001"), "{err}");
        }
        for len in 0..good.len() {
            std::fs::write(&path, &good[..len]).unwrap();
            let res = ChunkReader::open(dir.path())
                .and_then(|r| r.chunk(refs[0]).map(|c| c.data.to_vec()));
            assert!(res.is_err(), "truncation to {len} went unnoticed");
        }
    }

    #[test]
    fn refs_to_missing_segments_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkWriter::create(dir.path()).unwrap();
        w.write_series_chunks(&[raw(Encoding::Xor, b"\x00\x00")])
            .unwrap();
        w.finish().unwrap();
        let r = ChunkReader::open(dir.path()).unwrap();
        assert!(r.chunk(ChunkRef::new(5, 8)).is_err());
        assert!(r.chunk(ChunkRef::new(0, 0)).is_err());
        assert!(r.chunk(ChunkRef::new(0, 1 << 30)).is_err());
    }
}
