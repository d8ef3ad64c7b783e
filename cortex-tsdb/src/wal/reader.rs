//! The WAL reader: records in order across a sequence of segments (a checkpoint's, then
//! the WAL's), reassembled from fragments, CRC-checked and decompressed.
//!
//! The reader walks each segment page by page. Any deviation from the format is
//! *damage*; [`super::tail`] decides whether damage is a torn tail (reported through
//! [`Reader::torn_tail`], reading ends cleanly) or corruption ([`Error::Corrupted`] with
//! the segment file and the offset of the problem). The rules are in the
//! [module docs](super).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::PAGE_SIZE;
use super::compression::{Compression, Decompressor};
use super::fragment::{FragmentType, HEADER_SIZE, parse_header};
use super::segment::{list_segments, segment_path};
use super::source::{SegmentData, SegmentSource, valid_fragment_in};
use super::tail::{Damage, TornTail};
use crate::encoding::crc32c;
use crate::record::RecordError;
use crate::{Error, Result};

struct Source {
    meta: SegmentSource,
    memory: Option<Vec<u8>>,
}

/// The segment being read.
struct Cursor {
    /// Index into the reader's sources.
    src: usize,
    data: SegmentData,
    /// File length when opened.
    len: u64,
    /// File offset of the page in the buffer.
    page_start: u64,
    /// Valid bytes in the page buffer (less than a page only at the end of the file).
    page_len: usize,
    /// Next unread byte in the page.
    pos: usize,
    /// The file has no more pages.
    eof: bool,
}

/// Where the current record's bytes are.
#[derive(Clone, Copy)]
enum Out {
    Page(usize, usize),
    Fragments,
    Decompressed,
}

/// Reads records from a sequence of segments. See the [module docs](super).
pub struct Reader {
    sources: Vec<Source>,
    next: usize,
    cur: Option<Cursor>,
    tolerate_torn_tail: bool,
    page: Box<[u8]>,
    frags: Vec<u8>,
    dec: Decompressor,
    out: Out,
    rec_src: usize,
    rec_offset: u64,
    torn: Option<TornTail>,
    done: bool,
}

impl Reader {
    /// Reads `sources` in order. A torn tail is tolerated in the last of them that
    /// holds data, unless it is a checkpoint segment.
    pub fn new(sources: Vec<SegmentSource>) -> Reader {
        let sources = sources
            .into_iter()
            .map(|meta| Source { meta, memory: None })
            .collect();
        Reader {
            sources,
            next: 0,
            cur: None,
            tolerate_torn_tail: true,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            frags: Vec::new(),
            dec: Decompressor::default(),
            out: Out::Fragments,
            rec_src: 0,
            rec_offset: 0,
            torn: None,
            done: false,
        }
    }

    /// Reads every segment of the WAL directory `dir`.
    pub fn open(dir: &Path) -> Result<Reader> {
        Reader::open_range(dir, None, None)
    }

    /// Reads the segments of `dir` with indexes in `first..=last` (open ends when
    /// `None`).
    pub fn open_range(dir: &Path, first: Option<u64>, last: Option<u64>) -> Result<Reader> {
        let sources = list_segments(dir)?
            .into_iter()
            .filter(|&i| first.is_none_or(|f| i >= f) && last.is_none_or(|l| i <= l))
            .map(|index| SegmentSource {
                path: segment_path(dir, index),
                index,
                checkpoint: false,
            })
            .collect();
        Ok(Reader::new(sources))
    }

    /// Reads one segment held in memory; `path` names it in errors.
    pub fn from_bytes(path: impl Into<PathBuf>, index: u64, bytes: Vec<u8>) -> Reader {
        let mut r = Reader::new(vec![SegmentSource {
            path: path.into(),
            index,
            checkpoint: false,
        }]);
        r.sources[0].memory = Some(bytes);
        r
    }

    /// Whether damage at the end of the last segment may be reported as a torn tail
    /// (default) or is always corruption (for reads that must see every record written,
    /// such as checkpointing).
    pub fn tolerate_torn_tail(mut self, yes: bool) -> Reader {
        self.tolerate_torn_tail = yes;
        self
    }

    /// The segments this reader reads, in order.
    pub fn sources(&self) -> impl Iterator<Item = &SegmentSource> {
        self.sources.iter().map(|s| &s.meta)
    }

    /// The next record, or `None` after the last one (or at a torn tail, see
    /// [`Reader::torn_tail`]). The slice is valid until the next call. After an error
    /// the reader returns `None`.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        match self.advance() {
            Ok(Some(out)) => {
                self.out = out;
                Ok(Some(self.record()))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.done = true;
                self.cur = None;
                Err(e)
            }
        }
    }

    fn record(&self) -> &[u8] {
        match self.out {
            Out::Page(start, len) => &self.page[start..start + len],
            Out::Fragments => &self.frags,
            Out::Decompressed => &self.dec.out,
        }
    }

    /// The torn tail where reading stopped, if it stopped at one.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The segment of the last record returned.
    pub fn record_segment(&self) -> Option<&SegmentSource> {
        self.sources.get(self.rec_src).map(|s| &s.meta)
    }

    /// Offset in its segment file of the last record returned (its first fragment).
    pub fn record_offset(&self) -> u64 {
        self.rec_offset
    }

    /// An [`Error::Corrupted`] for a record that failed to decode, naming the segment file
    /// and the record's offset.
    pub fn record_error(&self, e: RecordError) -> Error {
        let path = self
            .record_segment()
            .map(|s| s.path.clone())
            .unwrap_or_default();
        Error::corrupted(
            path,
            format!("wal record ({})", e.record),
            self.rec_offset,
            e.to_string(),
        )
    }

    fn open_source(&mut self, i: usize) -> Result<Cursor> {
        let src = &mut self.sources[i];
        let (data, len) = match src.memory.take() {
            Some(bytes) => {
                let len = bytes.len() as u64;
                (SegmentData::Memory { bytes, pos: 0 }, len)
            }
            None => {
                let path = &src.meta.path;
                let f = File::open(path).map_err(|e| Error::io("open segment", path, e))?;
                let len = f
                    .metadata()
                    .map_err(|e| Error::io("stat segment", path, e))?
                    .len();
                (SegmentData::File(f), len)
            }
        };
        Ok(Cursor {
            src: i,
            data,
            len,
            page_start: 0,
            page_len: 0,
            pos: 0,
            eof: false,
        })
    }

    fn advance(&mut self) -> Result<Option<Out>> {
        if self.done {
            return Ok(None);
        }
        // The compression of the record being assembled from fragments, if any.
        let mut in_record: Option<Compression> = None;
        self.frags.clear();
        loop {
            let Some(cur) = self.cur.as_mut() else {
                if self.next == self.sources.len() {
                    self.done = true;
                    return Ok(None);
                }
                let c = self.open_source(self.next)?;
                self.next += 1;
                self.cur = Some(c);
                continue;
            };
            if cur.pos >= cur.page_len {
                if cur.eof {
                    if in_record.is_some() {
                        let d = Damage::tear(
                            self.rec_offset,
                            cur.len,
                            cur.len,
                            format!(
                                "the segment ends inside the record that starts at offset {} (its last fragment is missing)",
                                self.rec_offset
                            ),
                        );
                        return self.damaged(d);
                    }
                    self.cur = None;
                    continue;
                }
                cur.page_start += cur.page_len as u64;
                let path = &self.sources[cur.src].meta.path;
                let n = cur
                    .data
                    .fill(&mut self.page)
                    .map_err(|e| Error::io("read segment", path, e))?;
                cur.page_len = n;
                cur.pos = 0;
                cur.eof = n < PAGE_SIZE;
                continue;
            }

            let pos = cur.pos;
            let off = cur.page_start + pos as u64;
            let page = &self.page[..cur.page_len];
            let start = if in_record.is_some() {
                self.rec_offset
            } else {
                off
            };

            if page[pos] == 0 {
                if in_record.is_some() {
                    let d = Damage::tear(
                        start,
                        off,
                        off,
                        format!(
                            "the record that starts at offset {start} is interrupted by page padding (its next fragment is missing)"
                        ),
                    );
                    return self.damaged(d);
                }
                if let Some(q) = page[pos..].iter().position(|&b| b != 0) {
                    let d = Damage::corrupt(
                        off + q as u64,
                        format!("non-zero byte in the padding that starts at offset {off}"),
                    );
                    return self.damaged(d);
                }
                cur.pos = cur.page_len;
                continue;
            }

            if pos + HEADER_SIZE > page.len() {
                let d = if cur.eof {
                    Damage::tear(
                        start,
                        off,
                        cur.len,
                        "the segment ends inside a fragment header",
                    )
                } else {
                    Damage::corrupt(
                        off,
                        format!(
                            "fragment header in the last {} bytes of a page",
                            PAGE_SIZE - pos
                        ),
                    )
                };
                return self.damaged(d);
            }
            let mut hb = [0u8; HEADER_SIZE];
            hb.copy_from_slice(&page[pos..pos + HEADER_SIZE]);
            let h = match parse_header(hb) {
                Ok(h) => h,
                Err(why) => return self.damaged(Damage::corrupt(off, why.to_string())),
            };
            let data_start = pos + HEADER_SIZE;
            let data_end = data_start + h.len;
            if data_end > PAGE_SIZE {
                let d = Damage::corrupt(
                    off,
                    format!(
                        "{} fragment of {} bytes at page offset {pos} overflows its page",
                        h.kind.name(),
                        h.len
                    ),
                );
                return self.damaged(d);
            }
            if data_end > page.len() {
                let d = Damage::tear(
                    start,
                    off,
                    cur.len,
                    format!(
                        "the segment ends inside a {} fragment of {} bytes",
                        h.kind.name(),
                        h.len
                    ),
                );
                return self.damaged(d);
            }
            let data = &page[data_start..data_end];
            let crc = crc32c(data);
            if crc != h.crc {
                let d = Damage::tear(
                    start,
                    off,
                    cur.page_start + data_end as u64,
                    format!(
                        "CRC-32C mismatch in a {} fragment of {} bytes: computed {crc:08x}, header says {:08x}",
                        h.kind.name(),
                        h.len,
                        h.crc
                    ),
                );
                return self.damaged(d);
            }
            if h.len == 0 && matches!(h.kind, FragmentType::Middle | FragmentType::Last) {
                // The writer never writes these; a header cut short and zero-filled
                // after its type byte reads as one.
                let d = Damage::tear(
                    start,
                    off,
                    off + HEADER_SIZE as u64,
                    format!("zero-length {} fragment", h.kind.name()),
                );
                return self.damaged(d);
            }
            let sequence_error = match (h.kind, in_record) {
                (FragmentType::Full | FragmentType::First, Some(_)) => Some(format!(
                    "{} fragment while the record started at offset {} is incomplete",
                    h.kind.name(),
                    self.rec_offset
                )),
                (FragmentType::Middle | FragmentType::Last, None) => Some(format!(
                    "{} fragment without a first fragment",
                    h.kind.name()
                )),
                (FragmentType::Middle | FragmentType::Last, Some(c)) if c != h.compression => {
                    Some(format!(
                        "{} fragment compressed as {:?}, its first fragment as {c:?}",
                        h.kind.name(),
                        h.compression
                    ))
                }
                _ => None,
            };
            if let Some(why) = sequence_error {
                return self.damaged(Damage::corrupt(off, why));
            }
            cur.pos = data_end;
            let src = cur.src;
            match h.kind {
                FragmentType::Full => {
                    self.rec_src = src;
                    self.rec_offset = off;
                    return self.finish(h.compression, Some((data_start, h.len)));
                }
                FragmentType::First => {
                    self.rec_src = src;
                    self.rec_offset = off;
                    in_record = Some(h.compression);
                    self.frags.extend_from_slice(data);
                }
                FragmentType::Middle => self.frags.extend_from_slice(data),
                FragmentType::Last => {
                    self.frags.extend_from_slice(data);
                    return self.finish(h.compression, None);
                }
            }
        }
    }

    /// The record just completed: in the page (`single`) or in the fragment buffer,
    /// decompressed when flagged.
    fn finish(
        &mut self,
        compression: Compression,
        single: Option<(usize, usize)>,
    ) -> Result<Option<Out>> {
        if compression == Compression::None {
            return Ok(Some(match single {
                Some((start, len)) => Out::Page(start, len),
                None => Out::Fragments,
            }));
        }
        let src = match single {
            Some((start, len)) => &self.page[start..start + len],
            None => &self.frags[..],
        };
        match self.dec.decompress(compression, src) {
            Ok(()) => Ok(Some(Out::Decompressed)),
            Err(why) => {
                let d = Damage::corrupt(
                    self.rec_offset,
                    format!("record does not decompress: {why}"),
                );
                self.damaged(d)
            }
        }
    }

    /// Ends reading at `d`: a torn tail when the rules allow, corruption otherwise.
    fn damaged(&mut self, d: Damage) -> Result<Option<Out>> {
        self.done = true;
        let Some(mut cur) = self.cur.take() else {
            return Ok(None);
        };
        let meta = self.sources[cur.src].meta.clone();
        let mut detail = d.detail.clone();
        if d.tearable && self.tolerate_torn_tail && !meta.checkpoint {
            let after = cur
                .data
                .first_non_zero(d.end)
                .map_err(|e| Error::io("read segment", &meta.path, e))?;
            let inside = match after {
                None => valid_fragment_in(&mut cur.data, cur.len, d.problem + 1, d.end)
                    .map_err(|e| Error::io("read segment", &meta.path, e))?,
                Some(_) => None,
            };
            let later = match (after, inside) {
                (None, None) => self.later_segment_with_data(cur.src + 1)?,
                _ => None,
            };
            match (after, inside, later) {
                (None, None, None) => {
                    self.torn = Some(TornTail {
                        path: meta.path,
                        segment: meta.index,
                        offset: d.record_start,
                        bytes: cur.len.saturating_sub(d.record_start),
                        detail,
                    });
                    return Ok(None);
                }
                (Some(at), _, _) => {
                    detail.push_str(&format!(
                        "; not a torn tail: non-zero bytes follow at offset {at}"
                    ));
                }
                (None, Some(at), _) => {
                    detail.push_str(&format!(
                        "; not a torn tail: a valid fragment follows at offset {at}"
                    ));
                }
                (None, None, Some(seg)) => {
                    detail.push_str(&format!(
                        "; not a torn tail: the later segment {} holds data",
                        seg.display()
                    ));
                }
            }
        } else if d.tearable && meta.checkpoint {
            detail.push_str("; checkpoint segments are complete when written");
        }
        Err(Error::corrupted(
            meta.path,
            "wal segment",
            d.problem,
            detail,
        ))
    }

    /// The first of the sources from index `from` on that holds a non-zero byte.
    fn later_segment_with_data(&self, from: usize) -> Result<Option<PathBuf>> {
        for s in self.sources.get(from..).unwrap_or_default() {
            let non_zero = match &s.memory {
                Some(bytes) => bytes.iter().any(|&b| b != 0),
                None => {
                    let path = &s.meta.path;
                    let f = File::open(path).map_err(|e| Error::io("open segment", path, e))?;
                    SegmentData::File(f)
                        .first_non_zero(0)
                        .map_err(|e| Error::io("read segment", path, e))?
                        .is_some()
                }
            };
            if non_zero {
                return Ok(Some(s.meta.path.clone()));
            }
        }
        Ok(None)
    }
}
