//! Building an index-header from a block's index read by range (the layout is drawn in the
//! module doc of [`crate::index_header`]).
//!
//! The builder reads the index's header (5 bytes) and TOC (last 52 bytes), then streams the
//! symbol table and the postings offset table through a bounded buffer into the output,
//! checking each section's length and CRC on the way so a damaged index never becomes a
//! header. Series, label indices and postings lists are never read. Writing to a file goes
//! through a temporary file, fsync and rename, so a crash leaves no partial index-header.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::fileutil::{rename_durable, tmp_path};
use crate::index::toc::Toc;
use crate::index::{FORMAT_V1 as INDEX_V1, FORMAT_V2 as INDEX_V2, MAGIC as INDEX_MAGIC};
use crate::{Error, Result};

use super::range_reader::RangeReader;
use super::{FORMAT_V1, HEADER_LEN, MAGIC};

/// Largest read issued to the index: big symbol tables are copied in pieces of this size.
const COPY_CHUNK: usize = 1 << 20;

/// Builds the index-header of `index` at `path`, atomically (temporary file, fsync,
/// rename, directory fsync). Returns the header's size in bytes.
pub fn build_index_header(index: &(impl RangeReader + ?Sized), path: &Path) -> Result<u64> {
    let tmp = tmp_path(path);
    let res = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut w = BufWriter::with_capacity(64 * 1024, file);
        let size = write_index_header(index, &mut w, &tmp)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        drop(file);
        rename_durable(&tmp, path)?;
        Ok(size)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Builds the index-header of `index` in memory.
pub fn build_index_header_bytes(index: &(impl RangeReader + ?Sized)) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_index_header(index, &mut out, Path::new("index-header"))?;
    Ok(out)
}

/// Writes the index-header of `index` to `w` (`out` names it in errors); returns its size.
fn write_index_header<W: Write>(
    index: &(impl RangeReader + ?Sized),
    w: &mut W,
    out: &Path,
) -> Result<u64> {
    let mut src = Source::new(index, w, out)?;
    let size = src.size;
    let corrupt = |section: &str, offset: u64, detail: String| {
        Error::corrupted(index.name(), section, offset, detail)
    };
    let min = (crate::index::HEADER_LEN + Toc::LEN) as u64;
    if size < min {
        return Err(corrupt(
            "TOC",
            0,
            format!("index of {size} bytes is too short to hold a header and a TOC"),
        ));
    }
    let head = src.read(0, crate::index::HEADER_LEN)?;
    let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if magic != INDEX_MAGIC {
        return Err(corrupt(
            "header",
            0,
            format!("invalid magic number {magic:#010x}"),
        ));
    }
    match head[4] {
        INDEX_V2 => {}
        INDEX_V1 => {
            return Err(corrupt(
                "header",
                4,
                "index format version 1 is not supported".into(),
            ));
        }
        v => {
            return Err(corrupt(
                "header",
                4,
                format!("unknown index format version {v}"),
            ));
        }
    }
    let toc_start = size - Toc::LEN as u64;
    let toc_bytes = src.read(toc_start, Toc::LEN)?;
    let toc = Toc::decode_at(&toc_bytes, toc_start as usize)
        .map_err(|e| corrupt("TOC", e.offset, e.detail.into()))?;

    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC.to_be_bytes());
    header.push(FORMAT_V1);
    header.push(INDEX_V2);
    header.extend_from_slice(&toc.postings_table.to_be_bytes());
    src.write(&header)?;

    let symbols_at = src.written;
    src.copy_framed("symbols", toc.symbols, toc.series, false)?;
    let table_at = src.written;
    src.copy_framed("postings offset table", toc.postings_table, toc_start, true)?;
    src.write(&toc_bytes)?;

    let mut trailer = Vec::with_capacity(super::TOC_LEN);
    trailer.extend_from_slice(&symbols_at.to_be_bytes());
    trailer.extend_from_slice(&table_at.to_be_bytes());
    let crc = crc32c::crc32c(&trailer);
    trailer.extend_from_slice(&crc.to_be_bytes());
    src.write(&trailer)?;
    Ok(src.written)
}

/// The index being read and the header being written, with the position in the latter.
struct Source<'a, R: RangeReader + ?Sized, W: Write> {
    index: &'a R,
    size: u64,
    w: &'a mut W,
    out: &'a Path,
    written: u64,
}

impl<'a, R: RangeReader + ?Sized, W: Write> Source<'a, R, W> {
    fn new(index: &'a R, w: &'a mut W, out: &'a Path) -> Result<Self> {
        Ok(Source {
            size: index.len()?,
            index,
            w,
            out,
            written: 0,
        })
    }

    /// `len` bytes of the index at `offset`; a reader returning another length is an error.
    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let b = self.index.read_at(offset, len)?;
        if b.len() != len {
            return Err(Error::io(
                "read",
                self.index.name(),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("asked for {len} bytes at {offset}, got {}", b.len()),
                ),
            ));
        }
        Ok(b)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .write_all(b)
            .map_err(|e| Error::io("write", self.out, e))?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Copies index bytes `start..end`, which begin with a `len <4b> | body | CRC32 <4b>`
    /// frame, checking the CRC while streaming the body. With `exact`, the frame must fill
    /// the range; otherwise the bytes after it are copied as they are.
    fn copy_framed(&mut self, section: &str, start: u64, end: u64, exact: bool) -> Result<()> {
        let index = self.index;
        let corrupt =
            |offset: u64, detail: String| Error::corrupted(index.name(), section, offset, detail);
        if end.saturating_sub(start) < 8 {
            return Err(corrupt(
                start,
                format!(
                    "{} bytes cannot hold a length and a checksum",
                    end.saturating_sub(start)
                ),
            ));
        }
        let len_bytes = self.read(start, 4)?;
        let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let body_end = start + 4 + u64::from(len);
        let frame_end = body_end + 4;
        if frame_end > end {
            return Err(corrupt(
                start,
                format!("length {len} runs past the end of the section at {end}"),
            ));
        }
        if exact && frame_end != end {
            return Err(corrupt(
                frame_end,
                format!("{} unexpected bytes after the section", end - frame_end),
            ));
        }
        self.write(&len_bytes)?;
        let mut crc = 0u32;
        let mut at = start + 4;
        while at < body_end {
            let n = (body_end - at).min(COPY_CHUNK as u64) as usize;
            let chunk = self.read(at, n)?;
            crc = crc32c::crc32c_append(crc, &chunk);
            self.write(&chunk)?;
            at += n as u64;
        }
        let stored = self.read(body_end, 4)?;
        let want = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
        if want != crc {
            return Err(corrupt(
                body_end,
                format!("checksum mismatch: stored {want:#010x}, computed {crc:#010x}"),
            ));
        }
        self.write(&stored)?;
        let mut at = frame_end;
        while at < end {
            let n = (end - at).min(COPY_CHUNK as u64) as usize;
            let chunk = self.read(at, n)?;
            self.write(&chunk)?;
            at += n as u64;
        }
        Ok(())
    }
}
