//! [`IndexWriter`]: writes an index file that is byte for byte what Prometheus 2.42 writes
//! for the same symbols and series.
//!
//! The caller adds every symbol in sorted order, then every series in label order with its
//! chunk metas, then calls [`IndexWriter::finish`]. Symbols stay in memory (they are
//! needed to resolve label strings); series go straight to the file through a buffered
//! writer. What `finish` writes — label indices, postings, the offset tables and the TOC,
//! built by re-reading the series section in batches of label names so memory stays
//! bounded — is in `writer_postings.rs`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::chunks::ChunkMeta;
use crate::labels::Labels;
use crate::{Error, Result};

use super::encoding::{crc32c, put_be32};
use super::postings::SeriesRef;
use super::series::{SERIES_ALIGNMENT, encode_series};
use super::toc::Toc;
use super::writer_symbols::SymbolTable;
use super::{FORMAT_V2, MAGIC};

/// Size of the file write buffer.
pub(super) const WRITE_BUFFER: usize = 1 << 22;

/// Choices of layout for [`IndexWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Write the label indices and the label offset table, as Prometheus 2.x does
    /// (default). Prometheus 3.x stopped writing them (its TOC then points the label
    /// sections at where the postings start and at the postings offset table); readers
    /// of both versions ignore them.
    pub label_indices: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            label_indices: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Symbols,
    Series,
}

/// Writes one index file. See the module docs for the order of calls.
pub struct IndexWriter {
    pub(super) path: PathBuf,
    pub(super) out: BufWriter<File>,
    /// Bytes written so far.
    pub(super) pos: u64,
    pub(super) options: WriterOptions,
    stage: Stage,
    pub(super) toc: Toc,

    symbols: SymbolTable,

    last_series: Option<Labels>,
    last_chunk_ref: u64,
    /// Reference of every series, in order (the all-postings list).
    pub(super) series_refs: Vec<u32>,
    /// Number of series that have each label name, by name symbol.
    pub(super) name_counts: HashMap<u32, u64>,
    /// Every label pair in use, as `name_ref << 32 | value_ref`.
    pub(super) pairs: HashSet<u64>,
    /// Most (value, series) pairs one batch of label names may collect in `finish`.
    pub(super) batch_budget: u64,
    label_refs: Vec<(u32, u32)>,
    entry: Vec<u8>,
    body: Vec<u8>,
}

impl IndexWriter {
    /// Creates (or truncates) the index file at `path`, laid out as Prometheus 2.42 does.
    pub fn create(path: impl AsRef<Path>) -> Result<IndexWriter> {
        IndexWriter::create_with(path, WriterOptions::default())
    }

    /// Creates (or truncates) the index file at `path` with `options`.
    pub fn create_with(path: impl AsRef<Path>, options: WriterOptions) -> Result<IndexWriter> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
        let mut w = IndexWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            path,
            pos: 0,
            options,
            stage: Stage::Symbols,
            toc: Toc::default(),
            symbols: SymbolTable::default(),
            last_series: None,
            last_chunk_ref: 0,
            series_refs: Vec::new(),
            name_counts: HashMap::new(),
            batch_budget: super::writer_postings::BATCH_BUDGET,
            pairs: HashSet::new(),
            label_refs: Vec::new(),
            entry: Vec::new(),
            body: Vec::new(),
        };
        let mut header = MAGIC.to_be_bytes().to_vec();
        header.push(FORMAT_V2);
        w.write(&header)?;
        w.toc.symbols = w.pos;
        Ok(w)
    }

    /// Appends bytes to the file.
    pub(super) fn write(&mut self, b: &[u8]) -> Result<()> {
        self.out
            .write_all(b)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Writes zero bytes up to the next multiple of `align`.
    pub(super) fn pad(&mut self, align: u64) -> Result<()> {
        let rem = self.pos % align;
        if rem != 0 {
            let zeros = [0u8; 16];
            let n = (align - rem) as usize;
            let mut left = n;
            while left > 0 {
                let k = left.min(zeros.len());
                self.write(&zeros[..k])?;
                left -= k;
            }
        }
        Ok(())
    }

    fn invalid(&self, detail: String) -> Error {
        Error::InvalidArgument(format!("index {}: {detail}", self.path.display()))
    }

    /// Adds the next symbol; symbols must be added in strictly increasing byte order
    /// before any series.
    pub fn add_symbol(&mut self, sym: &str) -> Result<()> {
        if self.stage != Stage::Symbols {
            return Err(self.invalid(format!("symbol {sym:?} added after series")));
        }
        if let Some(last) = self.symbols.last()
            && last >= sym
        {
            return Err(self.invalid(format!("symbol {sym:?} out of order after {last:?}")));
        }
        if !self.symbols.push(sym) {
            return Err(self.invalid("symbol table exceeds 4 GiB".to_string()));
        }
        Ok(())
    }

    /// The symbol with reference `r`.
    pub(super) fn symbol(&self, r: u32) -> &str {
        self.symbols.get(r)
    }

    /// Writes the symbol table and moves on to series.
    fn finish_symbols(&mut self) -> Result<()> {
        self.symbols.seal();
        let mut body = Vec::with_capacity(4 + self.symbols.encoded().len());
        put_be32(&mut body, self.symbols.len() as u32);
        body.extend_from_slice(self.symbols.encoded());
        let mut frame = Vec::with_capacity(4);
        put_be32(&mut frame, body.len() as u32);
        self.write(&frame)?;
        self.write(&body)?;
        self.write(&crc32c(&body).to_be_bytes())?;
        self.toc.series = self.pos;
        self.stage = Stage::Series;
        Ok(())
    }

    /// Adds the next series with its chunk metas and returns its reference. Series must
    /// come in strictly increasing label order and use only added symbols; chunks must be
    /// in time order, not overlapping, with non-decreasing references across the index.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<SeriesRef> {
        if self.stage == Stage::Symbols {
            self.finish_symbols()?;
        }
        if labels.is_empty() || self.last_series.as_ref().is_some_and(|l| l >= labels) {
            return Err(self.invalid(format!("out-of-order series added with label set {labels}")));
        }
        self.check_chunks(chunks)?;

        self.pad(SERIES_ALIGNMENT)?;
        let id = self.pos / SERIES_ALIGNMENT;
        let Ok(id32) = u32::try_from(id) else {
            return Err(self.invalid("index exceeds 64 GiB of series".to_string()));
        };

        self.label_refs.clear();
        for l in labels.iter() {
            let name_ref = self.require_symbol(l.name)?;
            let value_ref = self.require_symbol(l.value)?;
            *self.name_counts.entry(name_ref).or_default() += 1;
            self.pairs
                .insert((u64::from(name_ref) << 32) | u64::from(value_ref));
            self.label_refs.push((name_ref, value_ref));
        }

        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        encode_series(&mut entry, &mut self.body, &self.label_refs, chunks);
        let res = self.write(&entry);
        self.entry = entry;
        res?;

        self.series_refs.push(id32);
        if let Some(last) = chunks.last() {
            self.last_chunk_ref = last.chunk_ref.0;
        }
        self.last_series = Some(labels.clone());
        Ok(id)
    }

    fn require_symbol(&self, s: &str) -> Result<u32> {
        self.symbols
            .lookup(s)
            .ok_or_else(|| self.invalid(format!("symbol entry for {s:?} does not exist")))
    }

    /// Prometheus' (3.x) rules for the chunks of one series.
    fn check_chunks(&self, chunks: &[ChunkMeta]) -> Result<()> {
        let mut last_ref = self.last_chunk_ref;
        let mut last_max: Option<i64> = None;
        for c in chunks {
            if c.chunk_ref.0 < last_ref {
                return Err(self.invalid(format!(
                    "unsorted chunk reference {}, previous {last_ref}",
                    c.chunk_ref.0
                )));
            }
            last_ref = c.chunk_ref.0;
            if let Some(m) = last_max
                && c.min_time <= m
            {
                return Err(self.invalid(format!(
                    "chunk min time {} is not after the previous chunk's max time {m}",
                    c.min_time
                )));
            }
            if c.max_time < c.min_time {
                return Err(self.invalid(format!(
                    "chunk max time {} is before its min time {}",
                    c.max_time, c.min_time
                )));
            }
            last_max = Some(c.max_time);
        }
        Ok(())
    }

    /// Bytes of heap memory the writer holds (symbols, distinct label pairs, per-series
    /// references), not counting the file write buffer.
    pub fn memory(&self) -> usize {
        self.symbols.memory()
            + self.pairs.capacity() * 9
            + self.name_counts.capacity() * 13
            + self.series_refs.capacity() * 4
    }

    /// Writes the label indices, postings, offset tables and TOC, flushes and fsyncs the
    /// file. Without this call the file is incomplete.
    pub fn finish(mut self) -> Result<()> {
        if self.stage == Stage::Symbols {
            self.finish_symbols()?;
        }
        self.write_tail()?;
        self.out
            .flush()
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io("fsync", &self.path, e))
    }
}
