//! The WAL writer: appends records to the newest segment in 32 KiB pages, cuts segments,
//! deletes old ones.
//!
//! Every [`Wal::log`] call ends with the bytes of its records handed to the operating
//! system (one `write` per completed page and one for the partial page at the end), so
//! logged records survive a process kill. Surviving a machine crash needs an `fsync`:
//! segments are fsynced when they are cut or closed, and [`Wal::sync`] does it on demand.
//!
//! If a write fails, the segment is truncated back to where the failed call started (best
//! effort) and the writer refuses further work: some records of the failed call may
//! still be in earlier, completed segments. Open the directory again to continue; that
//! starts a new segment, as every open does.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::compression::{Compression, Compressor};
use super::fragment::{FragmentType, HEADER_SIZE, write_header};
use super::segment::{list_segments, segment_path, segment_range};
use super::source::SegmentData;
use super::{DEFAULT_SEGMENT_SIZE, PAGE_SIZE, SegmentRange, TornTail};
use crate::record::RecordBatch;
use crate::{Error, Result, fileutil};

/// How a [`Wal`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Size at which a segment is cut, a positive multiple of the 32 KiB page size
    /// (default 128 MiB). A record larger than a whole segment still goes into one
    /// segment, which then exceeds this size.
    pub segment_size: u64,
    /// Record compression (default snappy, as in Prometheus).
    pub compression: Compression,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compression: Compression::Snappy,
        }
    }
}

/// Counters of what a [`Wal`] has written since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records logged.
    pub records: u64,
    /// Bytes of the records as given to `log`.
    pub record_bytes: u64,
    /// Bytes saved by compression.
    pub compression_saved_bytes: u64,
    /// Fragments written.
    pub fragments: u64,
    /// Pages completed (written up to their end).
    pub pages_completed: u64,
    /// Segments created, including the one opened first.
    pub segments_created: u64,
    /// `fsync` calls on segment files.
    pub fsyncs: u64,
}

/// The segment being written and its current page.
struct Active {
    index: u64,
    path: PathBuf,
    file: File,
    page: Box<[u8]>,
    /// Bytes of the page in use.
    alloc: usize,
    /// Bytes of the page already written to the file.
    flushed: usize,
    /// Pages of the segment written completely.
    done_pages: u64,
}

impl Active {
    fn create(dir: &Path, index: u64) -> Result<Active> {
        let path = segment_path(dir, index);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create segment", &path, e))?;
        fileutil::sync_dir(dir)?;
        Ok(Active {
            index,
            path,
            file,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            alloc: 0,
            flushed: 0,
            done_pages: 0,
        })
    }

    /// True when no further fragment header fits into the page.
    fn page_full(&self) -> bool {
        PAGE_SIZE - self.alloc < HEADER_SIZE
    }

    /// True when nothing has been written to the segment.
    fn is_empty(&self) -> bool {
        self.done_pages == 0 && self.alloc == 0
    }

    /// Bytes written to the segment file so far.
    fn len(&self) -> u64 {
        self.done_pages * PAGE_SIZE as u64 + self.flushed as u64
    }

    /// Record payload bytes that still fit into the segment.
    fn free(&self, pages_per_segment: u64) -> u64 {
        if self.done_pages >= pages_per_segment {
            return 0;
        }
        let later_pages = pages_per_segment - self.done_pages - 1;
        (PAGE_SIZE - self.alloc).saturating_sub(HEADER_SIZE) as u64
            + (PAGE_SIZE - HEADER_SIZE) as u64 * later_pages
    }

    /// Writes the unwritten part of the page; with `clear`, zero-pads the page to its end
    /// first and starts a new page.
    fn flush_page(&mut self, clear: bool, stats: &mut WalStats) -> io::Result<()> {
        if clear {
            self.alloc = PAGE_SIZE;
        }
        if self.alloc > self.flushed {
            self.file.write_all(&self.page[self.flushed..self.alloc])?;
            self.flushed = self.alloc;
        }
        if clear {
            self.page.fill(0);
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
            stats.pages_completed += 1;
        }
        Ok(())
    }
}

/// A write-ahead log open for appending. See the [module docs](super) for the format.
///
/// Not internally synchronized: a head shares it behind a mutex and logs each commit's
/// records in one call.
pub struct Wal {
    dir: PathBuf,
    pages_per_segment: u64,
    compressor: Compressor,
    active: Active,
    failed: Option<String>,
    stats: WalStats,
}

impl Wal {
    /// Opens the WAL in `dir` (created if missing) and starts a new segment after the
    /// last existing one, as Prometheus does: existing segments are never appended to.
    /// Fails when the existing segments are not consecutive.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal> {
        if opts.segment_size == 0 || !opts.segment_size.is_multiple_of(PAGE_SIZE as u64) {
            return Err(Error::InvalidArgument(format!(
                "WAL segment size {} is not a positive multiple of the {PAGE_SIZE}-byte page",
                opts.segment_size
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        let next = segment_range(dir)?.map_or(0, |r| r.last + 1);
        let active = Active::create(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            pages_per_segment: opts.segment_size / PAGE_SIZE as u64,
            compressor: Compressor::new(opts.compression),
            active,
            failed: None,
            stats: WalStats {
                segments_created: 1,
                ..WalStats::default()
            },
        })
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Index of the segment being written.
    pub fn segment(&self) -> u64 {
        self.active.index
    }

    /// Bytes written to the current segment so far.
    pub fn segment_offset(&self) -> u64 {
        self.active.len()
    }

    /// The range of segments in the directory.
    pub fn segments(&self) -> Result<SegmentRange> {
        Ok(segment_range(&self.dir)?.unwrap_or(SegmentRange {
            first: self.active.index,
            last: self.active.index,
        }))
    }

    /// What has been written since opening.
    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// Appends `records` in order and hands them to the operating system before
    /// returning. A record that does not fit into the rest of the segment starts a new
    /// segment; records never span segments.
    pub fn log<R: AsRef<[u8]>>(&mut self, records: &[R]) -> Result<()> {
        self.log_iter(records.iter().map(AsRef::as_ref))
    }

    /// Appends the records of `batch`, like [`Wal::log`].
    pub fn log_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.log_iter(batch.iter())
    }

    fn log_iter<'a>(&mut self, records: impl Iterator<Item = &'a [u8]>) -> Result<()> {
        self.check_usable()?;
        let start = (self.active.index, self.active.len());
        for rec in records {
            if let Err(e) = self.log_one(rec) {
                return Err(self.fail(e, start));
            }
        }
        if let Err(e) = self.active.flush_page(false, &mut self.stats) {
            return Err(self.fail(e, start));
        }
        Ok(())
    }

    fn log_one(&mut self, rec: &[u8]) -> io::Result<()> {
        let stats = &mut self.stats;
        if self.active.page_full() {
            self.active.flush_page(true, stats)?;
        }
        let (mut rest, compression) = self.compressor.compress(rec);
        stats.records += 1;
        stats.record_bytes += rec.len() as u64;
        stats.compression_saved_bytes += (rec.len() - rest.len()) as u64;
        if rest.len() as u64 > self.active.free(self.pages_per_segment) && !self.active.is_empty() {
            cut(&self.dir, &mut self.active, stats)?;
        }
        let mut first = true;
        loop {
            let a = &mut self.active;
            let room = PAGE_SIZE - a.alloc - HEADER_SIZE;
            let (part, tail) = rest.split_at(rest.len().min(room));
            let kind = match (first, tail.is_empty()) {
                (true, true) => FragmentType::Full,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
                (false, true) => FragmentType::Last,
            };
            let at = a.alloc;
            write_header(&mut a.page[at..at + HEADER_SIZE], kind, compression, part);
            a.page[at + HEADER_SIZE..at + HEADER_SIZE + part.len()].copy_from_slice(part);
            a.alloc += HEADER_SIZE + part.len();
            stats.fragments += 1;
            if a.page_full() {
                a.flush_page(true, stats)?;
            }
            rest = tail;
            first = false;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Records the failure, truncates the segment back to `start` and returns the error.
    fn fail(&mut self, e: io::Error, (start_index, start_len): (u64, u64)) -> Error {
        let keep = if self.active.index == start_index {
            start_len
        } else {
            0
        };
        let _ = self.active.file.set_len(keep);
        self.failed = Some(e.to_string());
        Error::io("write segment", &self.active.path, e)
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(Error::io(
                "write segment",
                &self.active.path,
                io::Error::other(format!(
                    "the WAL stopped after a failed write ({why}); open it again"
                )),
            )),
        }
    }

    /// Fsyncs the segment being written.
    pub fn sync(&mut self) -> Result<()> {
        self.check_usable()?;
        self.active
            .file
            .sync_data()
            .map_err(|e| Error::io("fsync", &self.active.path, e))?;
        self.stats.fsyncs += 1;
        Ok(())
    }

    /// Completes the current segment (zero-padding its last page, fsync) and starts the
    /// next one, whose index it returns.
    pub fn next_segment(&mut self) -> Result<u64> {
        self.check_usable()?;
        let start = (self.active.index, self.active.len());
        if let Err(e) = cut(&self.dir, &mut self.active, &mut self.stats) {
            return Err(self.fail(e, start));
        }
        Ok(self.active.index)
    }

    /// Deletes the segments with an index below `before` (never the one being written).
    pub fn truncate(&mut self, before: u64) -> Result<()> {
        let before = before.min(self.active.index);
        let mut removed = false;
        for i in list_segments(&self.dir)? {
            if i >= before {
                break;
            }
            let p = segment_path(&self.dir, i);
            std::fs::remove_file(&p).map_err(|e| Error::io("remove segment", &p, e))?;
            removed = true;
        }
        if removed {
            fileutil::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Cuts a torn tail found by a replay off its segment ([`super::repair_torn_tail`]).
    /// The torn segment must be an older one: opening always starts a new segment, so
    /// repairing after opening is fine as long as nothing was logged into a segment
    /// between the torn one and the current one.
    pub fn repair_torn_tail(&mut self, tail: &TornTail) -> Result<()> {
        if tail.segment >= self.active.index || tail.path != segment_path(&self.dir, tail.segment) {
            return Err(Error::InvalidArgument(format!(
                "torn tail in {} is not an older segment of the WAL in {}",
                tail.path.display(),
                self.dir.display()
            )));
        }
        for i in tail.segment + 1..self.active.index {
            let p = segment_path(&self.dir, i);
            let f = File::open(&p).map_err(|e| Error::io("open segment", &p, e))?;
            let data = SegmentData::File(f)
                .first_non_zero(0)
                .map_err(|e| Error::io("read segment", &p, e))?;
            if let Some(at) = data {
                return Err(Error::InvalidArgument(format!(
                    "cannot repair {}: the later segment {} holds data at offset {at}",
                    tail.path.display(),
                    p.display()
                )));
            }
        }
        super::repair_torn_tail(tail)
    }

    /// Zero-pads the last page, fsyncs and closes the segment.
    pub fn close(mut self) -> Result<()> {
        self.check_usable()?;
        if self.active.alloc > 0 {
            let path = self.active.path.clone();
            self.active
                .flush_page(true, &mut self.stats)
                .map_err(|e| Error::io("write segment", &path, e))?;
        }
        self.active
            .file
            .sync_all()
            .map_err(|e| Error::io("fsync", &self.active.path, e))
    }
}

/// Completes the active segment and replaces it with the next one.
fn cut(dir: &Path, active: &mut Active, stats: &mut WalStats) -> io::Result<()> {
    if active.alloc > 0 {
        active.flush_page(true, stats)?;
    }
    active.file.sync_all()?;
    stats.fsyncs += 1;
    let next = Active::create(dir, active.index + 1).map_err(|e| match e {
        Error::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })?;
    *active = next;
    stats.segments_created += 1;
    Ok(())
}
