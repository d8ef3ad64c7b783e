//! [`IndexReader`]: random access to an index file, memory-mapped or in memory.
//!
//! Opening checks the header, the TOC, the symbol table and the postings offset table
//! (checksums, order, bounds) and keeps small samples of the last two in memory; series
//! entries and postings lists are checked (CRC included) each time they are read. Every
//! problem with the bytes is an [`Error::Corrupted`] naming the file and the section.
//!
//! This file holds the basic lookups (symbols, series, label names and values, postings
//! for values). Selecting postings with matchers is in `matchers.rs`; the full-file
//! consistency check is in `verify.rs`.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use crate::chunks::ChunkMeta;
use crate::labels::Labels;
use crate::{Error, Result};

use super::encoding::{Decbuf, DecodeError, framed_be32};
use super::postings::{BigEndianPostings, BoxPostings, ListPostings, Postings, SeriesRef};
use super::postings_table::{NameEntry, PostingsTable};
use super::series::{SERIES_ALIGNMENT, decode_chunks, decode_label_refs, series_body};
use super::symbols::{READER_SYMBOL_FACTOR, SymbolIter, Symbols};
use super::toc::Toc;
use super::{FORMAT_V1, FORMAT_V2, MAGIC};

/// Above this many lists, a union is built by collecting and sorting the references
/// instead of merging lazily through a heap.
const EAGER_MERGE_ABOVE: usize = 16;

/// The bytes of an index: a read-only mapping of the file or a buffer.
pub(crate) enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    /// Memory-maps the immutable file at `path` (an empty file is held as empty bytes:
    /// mapping one fails on some platforms, and it is corrupt either way).
    pub(crate) fn map_file(path: &Path) -> Result<Backing> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if len == 0 {
            return Ok(Backing::Owned(Vec::new()));
        }
        // SAFETY: the mapping is read-only, and callers only map files that are written
        // to a temporary name and renamed into place, never modified afterwards (block
        // indexes, index-headers). Another process truncating the file under us is
        // outside the contract of the directory.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("mmap", path, e))?;
        Ok(Backing::Mapped(map))
    }
}

impl Deref for Backing {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A reader of one index file (format v2).
pub struct IndexReader {
    path: PathBuf,
    data: Backing,
    toc: Toc,
    symbols: Symbols,
    postings_table: PostingsTable,
    /// Every label name by its symbol reference, sorted by reference. Names are half of all
    /// symbol lookups of a series, so they skip the sampled walk.
    name_symbols: Vec<(u32, Box<str>)>,
    /// End of the series section (start of the label indices).
    series_end: usize,
    /// Where postings lists may be: from the postings section to the next table.
    postings_range: std::ops::Range<u64>,
}

impl std::fmt::Debug for IndexReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexReader")
            .field("path", &self.path)
            .field("size", &self.data.len())
            .field("toc", &self.toc)
            .finish()
    }
}

impl IndexReader {
    /// Opens and memory-maps the index file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<IndexReader> {
        let path = path.as_ref();
        IndexReader::new(path.to_path_buf(), Backing::map_file(path)?)
    }

    /// A reader over `bytes` (a `Vec<u8>` is taken as is, a slice is copied); `name` is the
    /// file name used in errors.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, name: impl Into<PathBuf>) -> Result<IndexReader> {
        IndexReader::new(name.into(), Backing::Owned(bytes.into()))
    }

    fn new(path: PathBuf, data: Backing) -> Result<IndexReader> {
        let corrupt =
            |section: &str, e: DecodeError| Error::corrupted(&path, section, e.offset, e.detail);
        let mut h = Decbuf::new(&data, 0);
        let magic = h.be32().map_err(|e| corrupt("header", e))?;
        if magic != MAGIC {
            return Err(corrupt(
                "header",
                DecodeError::new(0, format!("invalid magic number {magic:#010x}")),
            ));
        }
        let version = h.byte().map_err(|e| corrupt("header", e))?;
        if version != FORMAT_V2 {
            let detail = if version == FORMAT_V1 {
                "index format version 1 is not supported".to_string()
            } else {
                format!("unknown index format version {version}")
            };
            return Err(corrupt("header", DecodeError::new(4, detail)));
        }
        let toc = Toc::decode(&data).map_err(|e| corrupt("TOC", e))?;
        let toc_start = data.len() - Toc::LEN;
        let symbols = Symbols::parse(
            &data,
            toc.symbols as usize,
            toc.series as usize,
            READER_SYMBOL_FACTOR,
        )
        .map_err(|e| corrupt("symbols", e))?;
        let postings_range = toc.postings..toc.label_indices_table;
        let postings_table = PostingsTable::parse(
            &data,
            toc.postings_table as usize,
            toc_start,
            postings_range.clone(),
        )
        .map_err(|e| corrupt("postings offset table", e))?;

        let mut name_symbols = Vec::new();
        for n in postings_table.names().filter(|n| !n.name().is_empty()) {
            let r = symbols
                .reverse_lookup(&data, n.name())
                .map_err(|e| corrupt("symbols", e))?
                .ok_or_else(|| {
                    corrupt(
                        "postings offset table",
                        DecodeError::new(
                            toc.postings_table as usize,
                            format!("label name {:?} is not in the symbol table", n.name()),
                        ),
                    )
                })?;
            name_symbols.push((r, Box::from(n.name())));
        }
        // Names are sorted and so are their symbols: the list is sorted by reference.
        Ok(IndexReader {
            series_end: toc.label_indices as usize,
            path,
            data,
            toc,
            symbols,
            postings_table,
            name_symbols,
            postings_range,
        })
    }

    pub(crate) fn corrupt(&self, section: &str, e: DecodeError) -> Error {
        Error::corrupted(&self.path, section, e.offset, e.detail)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The file this reader reads (or the name given to [`IndexReader::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table of contents.
    pub fn toc(&self) -> &Toc {
        &self.toc
    }

    /// Size of the index in bytes.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// Bytes of heap memory the reader keeps besides the file's bytes.
    pub fn memory(&self) -> usize {
        self.symbols.memory()
            + self.postings_table.memory()
            + self
                .name_symbols
                .iter()
                .map(|(_, n)| n.len() + std::mem::size_of::<(u32, Box<str>)>())
                .sum::<usize>()
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> u32 {
        self.symbols.len()
    }

    /// All symbols, sorted.
    pub fn symbols(&self) -> SymbolIter<'_> {
        self.symbols.iter(&self.data)
    }

    /// The symbol with reference `r`.
    pub fn symbol(&self, r: u32) -> Result<&str> {
        self.symbols
            .lookup(&self.data, r)
            .map_err(|e| self.corrupt("symbols", e))
    }

    /// The symbol with reference `r`, which is likely a label name.
    fn name_symbol(&self, r: u32) -> Result<&str> {
        if let Ok(i) = self.name_symbols.binary_search_by_key(&r, |(k, _)| *k)
            && let Some((_, s)) = self.name_symbols.get(i)
        {
            return Ok(s);
        }
        self.symbols
            .lookup(&self.data, r)
            .map_err(|e| self.corrupt("symbols", e))
    }

    /// The reference of symbol `s`, if the table holds it.
    pub(crate) fn symbol_ref(&self, s: &str) -> Result<Option<u32>> {
        self.symbols
            .reverse_lookup(&self.data, s)
            .map_err(|e| self.corrupt("symbols", e))
    }

    /// Where the postings list of `name="value"` is, if the index has one.
    pub(crate) fn list_offset(&self, name: &str, value: &str) -> Result<Option<u64>> {
        let Some(e) = self.postings_table.get(name) else {
            return Ok(None);
        };
        let mut found = None;
        self.postings_table
            .find(&self.data, e, &[value], |_, off| found = Some(off))
            .map_err(|e| self.corrupt("postings offset table", e))?;
        Ok(found)
    }

    /// Reads series `id`: returns its labels and puts its chunk metas into `chunks`
    /// (cleared first).
    pub fn series(&self, id: SeriesRef, chunks: &mut Vec<ChunkMeta>) -> Result<Labels> {
        let mut d = self.series_entry(id)?;
        let labels = self.decode_labels(&mut d)?;
        decode_chunks(&mut d, chunks).map_err(|e| self.corrupt("series", e))?;
        Ok(labels)
    }

    /// The CRC-checked body of series `id`.
    fn series_entry(&self, id: SeriesRef) -> Result<Decbuf<'_>> {
        let off = id
            .checked_mul(SERIES_ALIGNMENT)
            .filter(|&o| o >= self.toc.series && o < self.series_end as u64)
            .ok_or_else(|| {
                self.corrupt(
                    "series",
                    DecodeError::new(
                        self.toc.series as usize,
                        format!(
                            "series reference {id} is outside the series section {}..{}",
                            self.toc.series, self.series_end
                        ),
                    ),
                )
            })?;
        series_body(&self.data, off as usize, self.series_end)
            .map(|(d, _)| d)
            .map_err(|e| self.corrupt("series", e))
    }

    pub(crate) fn decode_labels(&self, d: &mut Decbuf<'_>) -> Result<Labels> {
        let at = d.offset();
        let count = d.uvarint64().map_err(|e| self.corrupt("series", e))?;
        let mut failed: Option<Error> = None;
        let pairs = (0..count).map_while(|_| {
            let mut step = || -> Result<(&str, &str)> {
                let n = d.uvarint32().map_err(|e| self.corrupt("series", e))?;
                let v = d.uvarint32().map_err(|e| self.corrupt("series", e))?;
                Ok((self.name_symbol(n)?, self.symbol(v)?))
            };
            match step() {
                Ok(p) => Some(p),
                Err(e) => {
                    failed.get_or_insert(e);
                    None
                }
            }
        });
        let labels = Labels::from_sorted(pairs);
        if let Some(e) = failed {
            return Err(e);
        }
        labels.map_err(|e| self.corrupt("series", DecodeError::new(at, format!("labels: {e}"))))
    }

    /// The symbol references of the label names of series `id`.
    pub(crate) fn series_name_refs(&self, id: SeriesRef, out: &mut Vec<u32>) -> Result<()> {
        let mut d = self.series_entry(id)?;
        decode_label_refs(&mut d, |n, _| {
            out.push(n);
            Ok(())
        })
        .map_err(|e| self.corrupt("series", e))
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Vec<&str> {
        self.postings_table
            .names()
            .map(NameEntry::name)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// All values of label `name`, sorted; empty when no series has the label.
    pub fn label_values(&self, name: &str) -> Result<Vec<&str>> {
        let Some(e) = self.postings_table.get(name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(e.count());
        for r in self.postings_table.values(&self.data, e) {
            let (v, _) = r.map_err(|e| self.corrupt("postings offset table", e))?;
            out.push(v);
        }
        Ok(out)
    }

    /// The postings list stored at `off`, its CRC checked.
    pub(crate) fn postings_list(&self, off: u64) -> Result<BigEndianPostings<'_>> {
        let at = off as usize;
        let mut d = framed_be32(&self.data, at, self.postings_range.end as usize)
            .map_err(|e| self.corrupt("postings", e))?;
        let n = d.be32().map_err(|e| self.corrupt("postings", e))? as usize;
        let list = d.rest();
        if Some(list.len()) != n.checked_mul(4) {
            return Err(self.corrupt(
                "postings",
                DecodeError::new(
                    at,
                    format!("{} bytes of references for {n} entries", list.len()),
                ),
            ));
        }
        Ok(BigEndianPostings::new(list))
    }

    /// The postings lists of `name` for those of `values` it has.
    pub(crate) fn lists_for(
        &self,
        name: &str,
        values: &[&str],
    ) -> Result<Vec<BigEndianPostings<'_>>> {
        let Some(e) = self.postings_table.get(name) else {
            return Ok(Vec::new());
        };
        let mut sorted: Vec<&str> = values.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut offsets = Vec::with_capacity(sorted.len());
        self.postings_table
            .find(&self.data, e, &sorted, |_, off| offsets.push(off))
            .map_err(|e| self.corrupt("postings offset table", e))?;
        offsets.into_iter().map(|o| self.postings_list(o)).collect()
    }

    /// The lists of the values of `name` for which `matches` is true (tested once each).
    pub(crate) fn lists_matching(
        &self,
        name: &str,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<Vec<BigEndianPostings<'_>>> {
        let Some(e) = self.postings_table.get(name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in self.postings_table.values(&self.data, e) {
            let (v, off) = r.map_err(|e| self.corrupt("postings offset table", e))?;
            if matches(v) {
                out.push(self.postings_list(off)?);
            }
        }
        Ok(out)
    }

    /// The series that have label `name` with any of `values`.
    pub fn postings(&self, name: &str, values: &[&str]) -> Result<BoxPostings<'_>> {
        Ok(union(self.lists_for(name, values)?))
    }

    /// Every series of the index.
    pub fn all_postings(&self) -> Result<BoxPostings<'_>> {
        self.postings(super::ALL_POSTINGS_NAME, &[super::ALL_POSTINGS_VALUE])
    }

    /// The series that have label `name` with a value for which `matches` is true. Each
    /// value is tested once.
    pub fn postings_for_label_matching(
        &self,
        name: &str,
        matches: impl FnMut(&str) -> bool,
    ) -> Result<BoxPostings<'_>> {
        Ok(union(self.lists_matching(name, matches)?))
    }

    /// The series that have label `name`, whatever its value.
    pub fn postings_for_all_label_values(&self, name: &str) -> Result<BoxPostings<'_>> {
        self.postings_for_label_matching(name, |_| true)
    }
}

/// The union of lists read from the index: lazily merged when they are few, collected and
/// sorted when many (a heap over thousands of cursors is slower than one sort).
pub(crate) fn union(mut lists: Vec<BigEndianPostings<'_>>) -> BoxPostings<'_> {
    lists.retain(|l| !l.is_empty());
    match lists.len() {
        0 => super::postings::empty(),
        1 => Box::new(lists.swap_remove(0)),
        n if n <= EAGER_MERGE_ABOVE => super::postings::merge(
            lists
                .into_iter()
                .map(|l| Box::new(l) as BoxPostings)
                .collect(),
        ),
        _ => {
            let total = lists.iter().map(BigEndianPostings::len).sum();
            let mut refs = Vec::with_capacity(total);
            for mut l in lists {
                while let Some(v) = l.next() {
                    refs.push(v);
                }
            }
            refs.sort_unstable();
            refs.dedup();
            Box::new(ListPostings::new(refs))
        }
    }
}
