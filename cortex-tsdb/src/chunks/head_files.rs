//! Head chunk files (`<data>/chunks_head/000001`, ...): full chunks of the in-memory head,
//! written out and memory-mapped so the head does not keep them in RAM.
//!
//! ```text
//! file:   magic 0x0130BC91 (4, BE) │ version 1 (1) │ padding 0 (3) │ chunk │ chunk │ ... │ zeros
//! chunk:  series ref (8, BE) │ mint (8, BE) │ maxt (8, BE) │ encoding (1) │ uvarint len │ data │
//!         CRC-32C of everything from the series ref through the data (4, BE)
//! ```
//! This is `tsdb/docs/format/head_chunks.md` of Prometheus. A [`HeadChunkRef`] packs the
//! file's sequence number (the number in its name) and the chunk's offset. A file is
//! created at its full size (sparse) and mapped once, so a chunk is readable through the
//! map as soon as its write returns; a crashed writer therefore leaves a zero-filled
//! tail, which readers treat as the end of the file. The files are a cache of what the
//! write-ahead log also holds: damage found while replaying them is reported so the
//! caller can drop the files and replay the log instead.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use memmap2::Mmap;

use super::RawChunk;
use crate::chunkenc::Encoding;
use crate::encoding::{crc32c, put_uvarint, uvarint};
use crate::{Error, Result, fileutil};

/// Magic number of head chunk files.
pub const HEAD_MAGIC: u32 = 0x0130_BC91;
/// Largest head chunk file: 128 MiB.
pub const MAX_HEAD_FILE_SIZE: u64 = 128 << 20;
const HEADER: usize = 8;
/// Series ref, mint, maxt, encoding.
const META: usize = 25;

/// Where a head chunk lives: file sequence number (upper 32 bits), offset (lower 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HeadChunkRef(pub u64);

impl HeadChunkRef {
    /// A reference to `offset` in file number `seq`.
    pub fn new(seq: u32, offset: u32) -> HeadChunkRef {
        HeadChunkRef((u64::from(seq) << 32) | u64::from(offset))
    }

    /// The file's sequence number.
    pub fn seq(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Byte offset in the file.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// A chunk found while walking the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadChunkInfo {
    /// The series the chunk belongs to.
    pub series_ref: u64,
    /// Where it is.
    pub chunk_ref: HeadChunkRef,
    /// First sample's timestamp.
    pub min_time: i64,
    /// Last sample's timestamp.
    pub max_time: i64,
    /// Samples in the chunk.
    pub num_samples: u16,
    /// The chunk's encoding.
    pub encoding: Encoding,
}

/// A chunk read from a head chunk file; keeps the file mapped while alive.
#[derive(Clone)]
pub struct HeadChunk {
    map: Arc<Mmap>,
    start: usize,
    end: usize,
    /// The chunk's encoding.
    pub encoding: Encoding,
}

impl HeadChunk {
    /// The chunk's data bytes.
    pub fn data(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }

    /// The chunk as a raw chunk borrowing from this handle.
    pub fn raw(&self) -> RawChunk<'_> {
        RawChunk {
            encoding: self.encoding,
            data: self.data(),
        }
    }
}

struct MappedFile {
    path: PathBuf,
    map: Arc<Mmap>,
    /// Largest chunk max time in the file (for truncation).
    max_time: i64,
}

struct Active {
    seq: u32,
    file: File,
    offset: u64,
    buf: Vec<u8>,
}

/// The head chunk files of one `chunks_head/` directory.
pub struct HeadChunkFiles {
    dir: PathBuf,
    /// Delete the directory when dropped (a temporary store).
    temporary: bool,
    files: RwLock<BTreeMap<u32, MappedFile>>,
    active: Mutex<Option<Active>>,
    max_file_size: u64,
}

impl HeadChunkFiles {
    /// Opens (creating if missing) a `chunks_head` directory. Existing files are mapped
    /// for reading; new chunks go to a new file.
    pub fn open(dir: &Path) -> Result<HeadChunkFiles> {
        HeadChunkFiles::open_with_file_size(dir, MAX_HEAD_FILE_SIZE)
    }

    /// Like [`HeadChunkFiles::open`] with a custom file size (tests use small ones).
    pub fn open_with_file_size(dir: &Path, max_file_size: u64) -> Result<HeadChunkFiles> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        let mut found = BTreeMap::new();
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read dir", dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("read dir", dir, e))?;
            let name = entry.file_name();
            if let Some(seq) = name
                .to_str()
                .filter(|n| n.len() >= 6)
                .and_then(|n| n.parse::<u32>().ok())
            {
                found.insert(seq, entry.path());
            }
        }
        repair_last_file(dir, &mut found)?;
        let mut files = BTreeMap::new();
        for (seq, path) in found {
            let f = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            // SAFETY: head chunk files are only written by this type, by appending past the
            // end of everything already readable; mapped bytes that were written never
            // change afterwards.
            let map = unsafe { Mmap::map(&f) }.map_err(|e| Error::io("mmap", &path, e))?;
            if map.len() < HEADER
                || u32::from_be_bytes([map[0], map[1], map[2], map[3]]) != HEAD_MAGIC
                || map[4] != 1
            {
                return Err(Error::corrupted(
                    &path,
                    "head chunk file header",
                    0,
                    "bad magic or version",
                ));
            }
            files.insert(
                seq,
                MappedFile {
                    path,
                    map: Arc::new(map),
                    max_time: i64::MIN,
                },
            );
        }
        Ok(HeadChunkFiles {
            dir: dir.to_path_buf(),
            temporary: false,
            files: RwLock::new(files),
            active: Mutex::new(None),
            max_file_size: max_file_size.max(HEADER as u64 + 64),
        })
    }

    /// A store in a new directory under the system's temporary directory, deleted when
    /// dropped: for reading a data directory without writing into it.
    pub fn open_temporary() -> Result<HeadChunkFiles> {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        let dir = std::env::temp_dir().join(format!(
            "cortex-chunks-head-{:016x}",
            u64::from_le_bytes(id)
        ));
        let mut files = HeadChunkFiles::open(&dir)?;
        files.temporary = true;
        Ok(files)
    }

    /// Writes a full chunk of series `series_ref` and returns where it is.
    pub fn write_chunk(
        &self,
        series_ref: u64,
        min_time: i64,
        max_time: i64,
        encoding: Encoding,
        data: &[u8],
    ) -> Result<HeadChunkRef> {
        let mut guard = self.active.lock().map_err(|_| poisoned())?;
        let mut rec = std::mem::take(
            &mut guard
                .as_mut()
                .map(|a| std::mem::take(&mut a.buf))
                .unwrap_or_default(),
        );
        rec.clear();
        rec.extend_from_slice(&series_ref.to_be_bytes());
        rec.extend_from_slice(&min_time.to_be_bytes());
        rec.extend_from_slice(&max_time.to_be_bytes());
        rec.push(encoding as u8);
        put_uvarint(&mut rec, data.len() as u64);
        rec.extend_from_slice(data);
        let crc = crc32c(&rec);
        rec.extend_from_slice(&crc.to_be_bytes());
        let needs_cut = guard
            .as_ref()
            .is_none_or(|a| a.offset + rec.len() as u64 > self.max_file_size);
        if needs_cut {
            self.cut(&mut guard)?;
        }
        let Some(a) = guard.as_mut() else {
            return Err(Error::InvalidArgument("no active head chunk file".into()));
        };
        let path = self.dir.join(file_name(a.seq));
        a.file
            .write_all_at(&rec, a.offset)
            .map_err(|e| Error::io("write", &path, e))?;
        let r = HeadChunkRef::new(a.seq, a.offset as u32);
        a.offset += rec.len() as u64;
        a.buf = rec;
        if let Some(f) = self.files.write().map_err(|_| poisoned())?.get_mut(&a.seq) {
            f.max_time = f.max_time.max(max_time);
        }
        Ok(r)
    }

    /// Reads the chunk at `r`, verifying its checksum.
    pub fn chunk(&self, r: HeadChunkRef) -> Result<HeadChunk> {
        let files = self.files.read().map_err(|_| poisoned())?;
        let f = files.get(&r.seq()).ok_or_else(|| {
            Error::NotFound(format!(
                "head chunk file {} for chunk {:#x}",
                file_name(r.seq()),
                r.0
            ))
        })?;
        let (info, start, end) = parse_chunk(&f.path, &f.map, r.offset() as usize, r.seq())?
            .ok_or_else(|| {
                Error::corrupted(
                    &f.path,
                    "head chunk",
                    u64::from(r.offset()),
                    "no chunk at this offset",
                )
            })?;
        Ok(HeadChunk {
            map: f.map.clone(),
            start,
            end,
            encoding: info.encoding,
        })
    }

    /// Walks every chunk of every file in order. A zero-filled tail ends a file; any
    /// other damage is an error naming the file and offset.
    pub fn for_each_chunk(&self, mut f: impl FnMut(HeadChunkInfo) -> Result<()>) -> Result<()> {
        // Walk a snapshot of the file list so `f` may read chunks (which takes the lock).
        let snapshot: Vec<(u32, PathBuf, Arc<Mmap>)> = self
            .files
            .read()
            .map_err(|_| poisoned())?
            .iter()
            .map(|(seq, file)| (*seq, file.path.clone(), file.map.clone()))
            .collect();
        for (seq, path, map) in snapshot {
            let mut off = HEADER;
            let mut max_time = i64::MIN;
            while let Some((info, _, end)) = parse_chunk(&path, &map, off, seq)? {
                max_time = max_time.max(info.max_time);
                f(info)?;
                off = end + 4;
            }
            if let Some(file) = self.files.write().map_err(|_| poisoned())?.get_mut(&seq) {
                file.max_time = file.max_time.max(max_time);
            }
        }
        Ok(())
    }

    /// Deletes every file whose chunks all end before `min_time` (never the file being
    /// written). Returns how many were deleted.
    pub fn truncate_before(&self, min_time: i64) -> Result<usize> {
        let active = self
            .active
            .lock()
            .map_err(|_| poisoned())?
            .as_ref()
            .map(|a| a.seq);
        let mut files = self.files.write().map_err(|_| poisoned())?;
        let doomed: Vec<u32> = files
            .iter()
            .filter(|(seq, f)| Some(**seq) != active && f.max_time < min_time)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in &doomed {
            if let Some(f) = files.remove(seq) {
                std::fs::remove_file(&f.path).map_err(|e| Error::io("remove", &f.path, e))?;
            }
        }
        Ok(doomed.len())
    }

    /// Deletes all files (after damage was found; the log has the data).
    pub fn delete_all(&self) -> Result<()> {
        let mut active = self.active.lock().map_err(|_| poisoned())?;
        *active = None;
        let mut files = self.files.write().map_err(|_| poisoned())?;
        for (_, f) in std::mem::take(&mut *files) {
            std::fs::remove_file(&f.path).map_err(|e| Error::io("remove", &f.path, e))?;
        }
        Ok(())
    }

    /// Trims the file being written to its used length and fsyncs it.
    pub fn close(&self) -> Result<()> {
        let mut active = self.active.lock().map_err(|_| poisoned())?;
        if let Some(a) = active.take() {
            finish_file(&self.dir.join(file_name(a.seq)), &a)?;
        }
        Ok(())
    }

    fn cut(&self, active: &mut Option<Active>) -> Result<()> {
        if let Some(a) = active.take() {
            finish_file(&self.dir.join(file_name(a.seq)), &a)?;
        }
        let mut files = self.files.write().map_err(|_| poisoned())?;
        let seq = files.keys().next_back().map_or(1, |s| s + 1);
        let path = self.dir.join(file_name(seq));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&HEAD_MAGIC.to_be_bytes());
        header[4] = 1;
        file.write_all_at(&header, 0)
            .map_err(|e| Error::io("write", &path, e))?;
        file.set_len(self.max_file_size)
            .map_err(|e| Error::io("preallocate", &path, e))?;
        fileutil::sync_dir(&self.dir)?;
        // SAFETY: see `open`; this file is only appended to, through `write_chunk`.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("mmap", &path, e))?;
        files.insert(
            seq,
            MappedFile {
                path,
                map: Arc::new(map),
                max_time: i64::MIN,
            },
        );
        *active = Some(Active {
            seq,
            file,
            offset: HEADER as u64,
            buf: Vec::new(),
        });
        Ok(())
    }
}

impl Drop for HeadChunkFiles {
    fn drop(&mut self) {
        let _ = self.close();
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn finish_file(path: &Path, a: &Active) -> Result<()> {
    a.file
        .set_len(a.offset)
        .map_err(|e| Error::io("truncate", path, e))?;
    a.file.sync_all().map_err(|e| Error::io("fsync", path, e))
}

/// Removes the newest file when a crash interrupted its creation: shorter than the
/// header, or a header that was never written (zeros). Such a file holds no chunk. Any
/// other damage is left for the caller to report, as Prometheus does.
fn repair_last_file(dir: &Path, found: &mut BTreeMap<u32, PathBuf>) -> Result<()> {
    let Some((&seq, path)) = found.iter().next_back() else {
        return Ok(());
    };
    let mut head = [0u8; HEADER];
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    let read = if len >= HEADER as u64 {
        f.read_exact_at(&mut head, 0)
            .map_err(|e| Error::io("read", path, e))?;
        HEADER
    } else {
        0
    };
    if read < HEADER || head.iter().all(|b| *b == 0) {
        std::fs::remove_file(path).map_err(|e| Error::io("remove", path, e))?;
        fileutil::sync_dir(dir)?;
        found.remove(&seq);
    }
    Ok(())
}

fn poisoned() -> Error {
    Error::InvalidArgument("head chunk files lock poisoned by a panic".into())
}

/// The file name of sequence number `seq`.
pub fn file_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// Parses the chunk at `off`: `None` at the end of the file or where only zeros remain.
/// Returns the chunk, its data range, and (via the range end) where the CRC starts.
fn parse_chunk(
    path: &Path,
    b: &[u8],
    off: usize,
    seq: u32,
) -> Result<Option<(HeadChunkInfo, usize, usize)>> {
    let bad = |at: usize, detail: String| Error::corrupted(path, "head chunk", at as u64, detail);
    if off >= b.len()
        || b[off..].iter().take(META).all(|x| *x == 0) && b[off..].iter().all(|x| *x == 0)
    {
        return Ok(None);
    }
    if off < HEADER || b.len() - off < META + 1 + 4 {
        return Err(bad(
            off,
            "chunk header runs past the end of the file".into(),
        ));
    }
    let be64 = |at: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_be_bytes(a)
    };
    let series_ref = be64(off);
    let min_time = be64(off + 8) as i64;
    let max_time = be64(off + 16) as i64;
    let enc_byte = b[off + 24];
    let (len, n) = uvarint(&b[off + META..]).map_err(|e| bad(off, format!("length: {e}")))?;
    let start = off + META + n;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|e| e.checked_add(4).is_some_and(|x| x <= b.len()))
        .ok_or_else(|| {
            bad(
                off,
                format!("chunk of {len} bytes runs past the end of the file"),
            )
        })?;
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    let got = crc32c(&b[off..end]);
    if want != got {
        return Err(bad(
            off,
            format!("CRC-32C mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    // The out-of-order flag (top bit) marks chunks of the out-of-order head.
    let encoding = Encoding::from_u8(enc_byte & 0x7f).map_err(|e| bad(off + 24, e.to_string()))?;
    let num_samples = if end - start >= 2 {
        u16::from_be_bytes([b[start], b[start + 1]])
    } else {
        0
    };
    Ok(Some((
        HeadChunkInfo {
            series_ref,
            chunk_ref: HeadChunkRef::new(seq, off as u32),
            min_time,
            max_time,
            num_samples,
            encoding,
        },
        start,
        end,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_readable_right_after_writing_and_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let files = HeadChunkFiles::open_with_file_size(dir.path(), 1024).unwrap();
        let mut refs = Vec::new();
        for i in 0..100u64 {
            let data = vec![0, 1, i as u8, 7, 7, 7];
            let r = files
                .write_chunk(i, i as i64 * 10, i as i64 * 10 + 9, Encoding::Xor, &data)
                .unwrap();
            assert_eq!(files.chunk(r).unwrap().data(), &data[..]);
            refs.push(r);
        }
        assert!(
            refs.last().unwrap().seq() > 1,
            "small files should have been cut"
        );
        drop(files);
        let files = HeadChunkFiles::open_with_file_size(dir.path(), 1024).unwrap();
        let mut seen = Vec::new();
        files
            .for_each_chunk(|c| {
                seen.push((c.series_ref, c.chunk_ref, c.min_time, c.num_samples));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 100);
        for (i, (s, r, mint, n)) in seen.iter().enumerate() {
            assert_eq!((*s, *r, *mint, *n), (i as u64, refs[i], i as i64 * 10, 1));
        }
        // New chunks go to a new file after the existing ones.
        let r = files.write_chunk(1, 0, 0, Encoding::Xor, &[0, 0]).unwrap();
        assert!(r.seq() > refs.last().unwrap().seq());
    }

    #[test]
    fn zero_filled_tail_ends_a_file_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = HeadChunkFiles::open(dir.path()).unwrap();
        files
            .write_chunk(9, 1, 2, Encoding::Xor, &[0, 1, 42])
            .unwrap();
        // Simulate a crash: the file keeps its preallocated, zero-filled size.
        std::mem::forget(files);
        let path = dir.path().join("000001");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_HEAD_FILE_SIZE);
        let files = HeadChunkFiles::open(dir.path()).unwrap();
        let mut n = 0;
        files
            .for_each_chunk(|_| {
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 1);
        drop(files);
        let mut b = std::fs::read(&path).unwrap();
        b[HEADER + 30] ^= 1;
        std::fs::write(&path, &b).unwrap();
        let files = HeadChunkFiles::open(dir.path()).unwrap();
        let err = files.for_each_chunk(|_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("000001"), "{err}");
    }

    #[test]
    fn a_newest_file_whose_creation_was_interrupted_is_removed() {
        for partial in [&[][..], &[0x01, 0x30][..], &[0u8; 64][..]] {
            let dir = tempfile::tempdir().unwrap();
            let files = HeadChunkFiles::open(dir.path()).unwrap();
            files
                .write_chunk(3, 1, 2, Encoding::Xor, &[0, 1, 5])
                .unwrap();
            drop(files);
            std::fs::write(dir.path().join("000002"), partial).unwrap();
            let files = HeadChunkFiles::open(dir.path()).unwrap();
            assert!(!dir.path().join("000002").exists(), "{partial:?}");
            let mut n = 0;
            files
                .for_each_chunk(|_| {
                    n += 1;
                    Ok(())
                })
                .unwrap();
            assert_eq!(n, 1);
            // The next file takes the freed number.
            let r = files
                .write_chunk(4, 3, 4, Encoding::Xor, &[0, 1, 6])
                .unwrap();
            assert_eq!(r.seq(), 2);
        }
        // A damaged header in an older file is an error, not a silent removal.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("000001"), [0u8; 16]).unwrap();
        std::fs::write(dir.path().join("000002"), [0u8; 16]).unwrap();
        assert!(HeadChunkFiles::open(dir.path()).is_err());
    }

    #[test]
    fn reads_prometheus_head_chunk_files() {
        let fixture = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/prometheus-2.42/native-histograms"
        ));
        if !fixture.exists() {
            assert!(std::env::var("CI").is_err(), "fixtures missing under CI");
            return;
        }
        // The file Prometheus left: a header and zeros only.
        let d = tempfile::tempdir().unwrap();
        std::fs::copy(fixture.join("chunks_head/000002"), d.path().join("000002")).unwrap();
        let files = HeadChunkFiles::open(d.path()).unwrap();
        let mut n = 0;
        files
            .for_each_chunk(|_| {
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 0);
        // The file promtool's replay wrote: 16 chunks (4 XOR, 6 histogram, 6 float histogram).
        let d = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixture.join("promtool-replay-chunks_head/000003"),
            d.path().join("000003"),
        )
        .unwrap();
        let files = HeadChunkFiles::open(d.path()).unwrap();
        let mut by_enc = [0; 4];
        let mut refs = std::collections::BTreeSet::new();
        files
            .for_each_chunk(|c| {
                by_enc[c.encoding as usize] += 1;
                refs.insert(c.series_ref);
                assert!(c.min_time >= 1_795_341_600_000 && c.max_time <= 1_795_345_199_987);
                let chunk = files.chunk(c.chunk_ref)?;
                assert_eq!(chunk.encoding, c.encoding);
                Ok(())
            })
            .unwrap();
        assert_eq!(by_enc, [0, 4, 6, 6]);
        assert_eq!(refs, (1..=8).collect());
    }
}
