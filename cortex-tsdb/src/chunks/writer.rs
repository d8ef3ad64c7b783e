//! Writes chunk segment files for a block being built.
//!
//! Chunks of one series are written together; a new segment is cut when the next chunks
//! would push the current one past the segment size, using Prometheus' batching rule so
//! the same input gives the same files and references. Files are fsynced on `finish`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::reader::RawChunk;
use super::{ChunkRef, FORMAT_V1, MAGIC, SEGMENT_HEADER_SIZE, segment_file_name};
use crate::encoding::put_uvarint;
use crate::{Error, Result, fileutil};

/// Prometheus' maximum size of one segment file: 512 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 << 20;

/// Largest size of the length field of a chunk (a 64-bit uvarint).
const MAX_LEN_FIELD: u64 = 10;

struct Segment {
    path: PathBuf,
    out: BufWriter<File>,
}

/// Writes chunks into `000001`, `000002`, ... of one directory.
pub struct ChunkWriter {
    dir: PathBuf,
    segment_size: u64,
    /// Files finished so far (flushed, not yet fsynced).
    done: Vec<PathBuf>,
    cur: Option<Segment>,
    /// Sequence number of `cur` (zero-based).
    seq: u32,
    /// Bytes written to `cur`.
    n: u64,
    scratch: Vec<u8>,
}

impl ChunkWriter {
    /// A writer into `dir` (created if missing) with 512 MiB segments.
    pub fn create(dir: &Path) -> Result<ChunkWriter> {
        ChunkWriter::with_segment_size(dir, DEFAULT_SEGMENT_SIZE)
    }

    /// A writer with a custom segment size (tests use small ones).
    pub fn with_segment_size(dir: &Path, segment_size: u64) -> Result<ChunkWriter> {
        fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(SEGMENT_HEADER_SIZE as u64 + 1),
            done: Vec::new(),
            cur: None,
            seq: 0,
            n: 0,
            scratch: Vec::with_capacity(16),
        })
    }

    /// Writes the chunks of one series and returns their references, in order.
    pub fn write_series_chunks(&mut self, chunks: &[RawChunk<'_>]) -> Result<Vec<ChunkRef>> {
        // Split into batches that fit a segment, as Prometheus' writer does: the first
        // batch continues the current segment while it fits, later ones fill new segments.
        let mut cuts = Vec::new(); // indexes where a new segment starts
        let mut batch = 0u64;
        let mut first = true;
        for (i, c) in chunks.iter().enumerate() {
            let size = MAX_LEN_FIELD + 1 + c.data.len() as u64 + 4;
            batch += size;
            let mut cut = i != 0 && batch + SEGMENT_HEADER_SIZE as u64 > self.segment_size;
            if first && self.n > SEGMENT_HEADER_SIZE as u64 {
                cut = batch + self.n > self.segment_size;
                if cut {
                    first = false;
                }
            }
            if cut {
                cuts.push(i);
                batch = size;
            }
        }
        if self.cur.is_none() {
            self.cut()?;
        }
        let mut refs = Vec::with_capacity(chunks.len());
        for (i, c) in chunks.iter().enumerate() {
            if cuts.contains(&i) {
                self.cut()?;
            }
            refs.push(self.write_chunk(c)?);
        }
        Ok(refs)
    }

    /// Flushes and fsyncs every segment written and the directory.
    pub fn finish(mut self) -> Result<()> {
        self.finish_current()?;
        for p in &self.done {
            fileutil::sync_file(p)?;
        }
        fileutil::sync_dir(&self.dir)
    }

    /// Number of segment files started.
    pub fn segments(&self) -> usize {
        self.done.len() + usize::from(self.cur.is_some())
    }

    fn write_chunk(&mut self, c: &RawChunk<'_>) -> Result<ChunkRef> {
        let offset = u32::try_from(self.n).map_err(|_| {
            Error::InvalidArgument(format!("chunk offset {} exceeds 4 GiB", self.n))
        })?;
        let r = ChunkRef::new(self.seq, offset);
        self.scratch.clear();
        put_uvarint(&mut self.scratch, c.data.len() as u64);
        let enc = c.encoding as u8;
        self.scratch.push(enc);
        let mut crc = crc32c::crc32c(&[enc]);
        crc = crc32c::crc32c_append(crc, c.data);
        let seg = self
            .cur
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("no segment".into()))?;
        let io = |e| Error::io("write", &seg.path, e);
        seg.out.write_all(&self.scratch).map_err(io)?;
        seg.out
            .write_all(c.data)
            .map_err(|e| Error::io("write", &seg.path, e))?;
        seg.out
            .write_all(&crc.to_be_bytes())
            .map_err(|e| Error::io("write", &seg.path, e))?;
        self.n += (self.scratch.len() + c.data.len() + 4) as u64;
        Ok(r)
    }

    fn cut(&mut self) -> Result<()> {
        if self.cur.is_some() {
            self.finish_current()?;
            self.seq += 1;
        }
        let path = self.dir.join(segment_file_name(self.seq));
        let f = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        let mut header = [0u8; SEGMENT_HEADER_SIZE];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = FORMAT_V1;
        out.write_all(&header)
            .map_err(|e| Error::io("write", &path, e))?;
        self.n = SEGMENT_HEADER_SIZE as u64;
        self.cur = Some(Segment { path, out });
        Ok(())
    }

    fn finish_current(&mut self) -> Result<()> {
        if let Some(mut seg) = self.cur.take() {
            seg.out
                .flush()
                .map_err(|e| Error::io("write", &seg.path, e))?;
            self.done.push(seg.path);
        }
        Ok(())
    }
}
