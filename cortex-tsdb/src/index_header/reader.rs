//! [`IndexHeaderReader`]: an index-header file, memory-mapped, answering what a
//! store-gateway asks before it fetches anything from the bucket.
//!
//! Opening checks the header (magic, versions), the TOC's CRC and offsets, the symbol
//! table and the postings offset table (checksums, order, UTF-8, bounds), the index TOC
//! embedded after the table, and that every label name is a symbol. Afterwards only every
//! 32nd symbol and every 32nd value of each label name are kept in memory (the same
//! sampling as [`crate::index::IndexReader`]); lookups walk the mapped bytes from there.
//! Every problem with the bytes is an [`Error::Corrupted`] naming the file and section.
//! Decoding fetched postings lists is in `postings_range.rs`.

use std::path::{Path, PathBuf};

use crate::index::encoding::{Decbuf, DecodeError};
use crate::index::postings_table::{NameEntry, POSTINGS_SAMPLE_FACTOR, PostingsTable};
use crate::index::reader::Backing;
use crate::index::symbols::{READER_SYMBOL_FACTOR, SymbolIter, Symbols};
use crate::index::toc::Toc;
use crate::index::{ALL_POSTINGS_NAME, ALL_POSTINGS_VALUE, FORMAT_V1 as INDEX_V1, FORMAT_V2};
use crate::{Error, Result};

use super::postings_range::{MIN_LIST_LEN, PostingsRange};
use super::{FORMAT_V1, HEADER_LEN, MAGIC, TOC_LEN};

/// A reader of one index-header file.
pub struct IndexHeaderReader {
    path: PathBuf,
    data: Backing,
    /// Offset of the postings offset table in the index, from the header.
    index_postings_table: u64,
    /// The index's TOC, copied after the postings offset table.
    index_toc: Toc,
    symbols: Symbols,
    table: PostingsTable,
}

impl std::fmt::Debug for IndexHeaderReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexHeaderReader")
            .field("path", &self.path)
            .field("size", &self.data.len())
            .field("index_toc", &self.index_toc)
            .finish()
    }
}

impl IndexHeaderReader {
    /// Opens and memory-maps the index-header at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<IndexHeaderReader> {
        let path = path.as_ref();
        IndexHeaderReader::new(path.to_path_buf(), Backing::map_file(path)?)
    }

    /// A reader over `bytes`; `name` is the file name used in errors.
    pub fn from_bytes(
        bytes: impl Into<Vec<u8>>,
        name: impl Into<PathBuf>,
    ) -> Result<IndexHeaderReader> {
        IndexHeaderReader::new(name.into(), Backing::Owned(bytes.into()))
    }

    fn new(path: PathBuf, data: Backing) -> Result<IndexHeaderReader> {
        let corrupt =
            |section: &str, e: DecodeError| Error::corrupted(&path, section, e.offset, e.detail);
        let len = data.len();
        if len < HEADER_LEN + TOC_LEN {
            return Err(corrupt(
                "header",
                DecodeError::new(
                    0,
                    format!("file of {len} bytes is too short for a header and a TOC"),
                ),
            ));
        }
        let mut h = Decbuf::new(&data, 0);
        let magic = h.be32().map_err(|e| corrupt("header", e))?;
        if magic != MAGIC {
            return Err(corrupt(
                "header",
                DecodeError::new(0, format!("invalid magic number {magic:#010x}")),
            ));
        }
        let version = h.byte().map_err(|e| corrupt("header", e))?;
        if version != FORMAT_V1 {
            return Err(corrupt(
                "header",
                DecodeError::new(4, format!("unknown index-header version {version}")),
            ));
        }
        let index_version = h.byte().map_err(|e| corrupt("header", e))?;
        if index_version != FORMAT_V2 {
            let detail = if index_version == INDEX_V1 {
                "index format version 1 is not supported".to_string()
            } else {
                format!("unknown index format version {index_version}")
            };
            return Err(corrupt("header", DecodeError::new(5, detail)));
        }
        let index_postings_table = h.be64().map_err(|e| corrupt("header", e))?;

        let toc_at = len - TOC_LEN;
        let (symbols_at, table_at) = decode_toc(&data, toc_at).map_err(|e| corrupt("TOC", e))?;
        let symbols = Symbols::parse(&data, symbols_at, table_at, READER_SYMBOL_FACTOR)
            .map_err(|e| corrupt("symbols", e))?;

        // The table's frame ends where the copied index TOC starts.
        let table_len = Decbuf::new(data.get(table_at..toc_at).unwrap_or_default(), table_at)
            .be32()
            .map_err(|e| corrupt("postings offset table", e))? as usize;
        let index_toc_at = table_at + 8 + table_len;
        let index_toc =
            decode_index_toc(&data, table_at, index_toc_at, toc_at, index_postings_table)
                .map_err(|e| corrupt("index TOC", e))?;
        let table = PostingsTable::parse(
            &data,
            table_at,
            index_toc_at,
            index_toc.postings..index_toc.label_indices_table,
        )
        .map_err(|e| corrupt("postings offset table", e))?;

        for n in table.names().filter(|n| !n.name().is_empty()) {
            if symbols
                .reverse_lookup(&data, n.name())
                .map_err(|e| corrupt("symbols", e))?
                .is_none()
            {
                return Err(corrupt(
                    "postings offset table",
                    DecodeError::new(
                        table_at,
                        format!("label name {:?} is not in the symbol table", n.name()),
                    ),
                ));
            }
        }
        Ok(IndexHeaderReader {
            path,
            data,
            index_postings_table,
            index_toc,
            symbols,
            table,
        })
    }

    fn corrupt(&self, section: &str, e: DecodeError) -> Error {
        Error::corrupted(&self.path, section, e.offset, e.detail)
    }

    /// The file this reader reads (or the name given to [`IndexHeaderReader::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version of the index the header was built from (always 2).
    pub fn index_version(&self) -> u8 {
        FORMAT_V2
    }

    /// The TOC of the index the header was built from (offsets in the index).
    pub fn index_toc(&self) -> &Toc {
        &self.index_toc
    }

    /// Offset of the postings offset table in the index, as the header records it.
    pub fn index_postings_table(&self) -> u64 {
        self.index_postings_table
    }

    /// Size of the index-header in bytes.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// Bytes of heap memory the reader keeps besides the file's bytes.
    pub fn memory(&self) -> usize {
        self.symbols.memory() + self.table.memory()
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> u32 {
        self.symbols.len()
    }

    /// All symbols, sorted.
    pub fn symbols(&self) -> SymbolIter<'_> {
        self.symbols.iter(&self.data)
    }

    /// The symbol with reference `r` (a series entry's label name or value).
    pub fn symbol(&self, r: u32) -> Result<&str> {
        self.symbols
            .lookup(&self.data, r)
            .map_err(|e| self.corrupt("symbols", e))
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Vec<&str> {
        self.table
            .names()
            .map(NameEntry::name)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// All values of label `name`, sorted; empty when no series has the label.
    pub fn label_values(&self, name: &str) -> Result<Vec<&str>> {
        let Some(e) = self.table.get(name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(e.count());
        for r in self.table.values(&self.data, e) {
            let (v, _) = r.map_err(|e| self.corrupt("postings offset table", e))?;
            out.push(v);
        }
        Ok(out)
    }

    /// Where in the index the postings list of `name="value"` is, if the index has one.
    pub fn postings_range(&self, name: &str, value: &str) -> Result<Option<PostingsRange>> {
        let Some(e) = self.table.get(name) else {
            return Ok(None);
        };
        self.find(e, value)
            .map_err(|e| self.corrupt("postings offset table", e))
    }

    /// Where the list of every series is (the all-postings list).
    pub fn all_postings_range(&self) -> Result<Option<PostingsRange>> {
        self.postings_range(ALL_POSTINGS_NAME, ALL_POSTINGS_VALUE)
    }

    /// The values of `name` for which `matches` is true (tested once each, in order), with
    /// where their postings lists are.
    pub fn postings_ranges_matching(
        &self,
        name: &str,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(&str, PostingsRange)>> {
        let Some(e) = self.table.get(name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let first = e.samples().first().copied().unwrap_or(0);
        let mut d = self.table.decoder_at(&self.data, first);
        for _ in 0..e.count() {
            let at = d.offset();
            let entry = PostingsTable::decode_entry(&mut d)
                .map_err(|e| self.corrupt("postings offset table", e))?;
            let value = std::str::from_utf8(entry.value).map_err(|_| {
                self.corrupt(
                    "postings offset table",
                    DecodeError::new(at, "value is not UTF-8"),
                )
            })?;
            if matches(value) {
                let range = self
                    .range_at(entry.postings, d.clone())
                    .map_err(|e| self.corrupt("postings offset table", e))?;
                out.push((value, range));
            }
        }
        Ok(out)
    }

    /// Finds `value` among the entries of `name`: a binary search over the sampled entries
    /// and a walk of at most `POSTINGS_SAMPLE_FACTOR - 1` entries.
    fn find(&self, name: &NameEntry, value: &str) -> Result<Option<PostingsRange>, DecodeError> {
        let samples = name.samples();
        let mut err = None;
        let s = samples.partition_point(|&rel| {
            match PostingsTable::decode_entry(&mut self.table.decoder_at(&self.data, rel)) {
                Ok(e) => e.value <= value.as_bytes(),
                Err(e) => {
                    err.get_or_insert(e);
                    false
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let Some(&rel) = s.checked_sub(1).and_then(|i| samples.get(i)) else {
            return Ok(None); // Before the name's first value.
        };
        let first = (s - 1) * POSTINGS_SAMPLE_FACTOR;
        let last = (first + POSTINGS_SAMPLE_FACTOR).min(name.count());
        let mut d = self.table.decoder_at(&self.data, rel);
        for _ in first..last {
            let e = PostingsTable::decode_entry(&mut d)?;
            match e.value.cmp(value.as_bytes()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return self.range_at(e.postings, d).map(Some),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The range of the list at `start`, given a decoder positioned at the next table
    /// entry: the list ends where the next one starts, the last one where the postings
    /// section ends.
    fn range_at(&self, start: u64, mut next: Decbuf<'_>) -> Result<PostingsRange, DecodeError> {
        let at = next.offset();
        let end = if at < self.table.body_end() {
            PostingsTable::decode_entry(&mut next)?.postings
        } else {
            self.index_toc.label_indices_table
        };
        if end < start.saturating_add(MIN_LIST_LEN) {
            return Err(DecodeError::new(
                at,
                format!("postings list at {start} is followed by the next at {end}"),
            ));
        }
        Ok(PostingsRange { start, end })
    }
}

/// The two offsets of the TOC at `toc_at` (the last [`TOC_LEN`] bytes), CRC checked, and
/// in order: symbols after the header, the postings offset table after the symbols and
/// before the TOC.
fn decode_toc(data: &[u8], toc_at: usize) -> Result<(usize, usize), DecodeError> {
    let raw = data.get(toc_at..).unwrap_or_default();
    let (body, crc) = raw.split_at(raw.len().min(16));
    let mut d = Decbuf::new(crc, toc_at + 16);
    let want = d.be32()?;
    let got = crc32c::crc32c(body);
    if want != got {
        return Err(DecodeError::new(
            toc_at + 16,
            format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    let mut d = Decbuf::new(body, toc_at);
    let symbols = d.be64()?;
    let table = d.be64()?;
    if symbols < HEADER_LEN as u64 || symbols > table || table >= toc_at as u64 {
        return Err(DecodeError::new(
            toc_at,
            format!(
                "symbols at {symbols} and postings offset table at {table} are not in order \
                 between the header and the TOC at {toc_at}"
            ),
        ));
    }
    Ok((symbols as usize, table as usize))
}

/// The index's TOC copied at `at` of the header, which must end exactly at `toc_at`, and
/// agree with the header's record of where the postings offset table (copied to
/// `table_at`) is in the index.
fn decode_index_toc(
    data: &[u8],
    table_at: usize,
    at: usize,
    toc_at: usize,
    index_postings_table: u64,
) -> Result<Toc, DecodeError> {
    if toc_at.checked_sub(at) != Some(Toc::LEN) {
        return Err(DecodeError::new(
            at.min(toc_at),
            format!(
                "{} bytes between the postings offset table and the TOC, want the index's {}-byte TOC",
                toc_at as i128 - at as i128,
                Toc::LEN
            ),
        ));
    }
    // Where the copied TOC starts in the index: the table is copied from its offset there.
    let in_index = usize::try_from(index_postings_table)
        .ok()
        .and_then(|t| t.checked_add(at - table_at))
        .ok_or_else(|| {
            DecodeError::new(
                6,
                format!("postings offset table offset {index_postings_table} is out of range"),
            )
        })?;
    let raw = data.get(at..toc_at).unwrap_or_default();
    let toc = Toc::decode_at(raw, in_index).map_err(|e| DecodeError {
        offset: (e.offset + at as u64).saturating_sub(in_index as u64),
        ..e
    })?;
    if toc.postings_table != index_postings_table {
        return Err(DecodeError::new(
            at + 40,
            format!(
                "index TOC puts the postings offset table at {}, the header at {index_postings_table}",
                toc.postings_table
            ),
        ));
    }
    Ok(toc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::encoding::{crc32c, put_be32, put_be64, put_uvarint, put_uvarint_str};

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_be32(&mut out, body.len() as u32);
        out.extend_from_slice(body);
        put_be32(&mut out, crc32c(body));
        out
    }

    /// A header over a symbol table of `syms` and a postings offset table of `entries`,
    /// for an index whose postings section is `100..200` and whose table is at 200.
    fn header(syms: &[&str], entries: &[(&str, &str, u64)]) -> Vec<u8> {
        let mut body = Vec::new();
        put_be32(&mut body, syms.len() as u32);
        for s in syms {
            put_uvarint_str(&mut body, s);
        }
        let symbols = framed(&body);
        let mut body = Vec::new();
        put_be32(&mut body, entries.len() as u32);
        for (n, v, off) in entries {
            put_uvarint(&mut body, 2);
            put_uvarint_str(&mut body, n);
            put_uvarint_str(&mut body, v);
            put_uvarint(&mut body, *off);
        }
        let table = framed(&body);
        let toc = Toc {
            symbols: 5,
            series: 5 + symbols.len() as u64,
            label_indices: 96,
            label_indices_table: 200,
            postings: 96,
            postings_table: 200,
        };
        let mut out = Vec::new();
        put_be32(&mut out, MAGIC);
        out.extend_from_slice(&[FORMAT_V1, FORMAT_V2]);
        put_be64(&mut out, 200);
        out.extend_from_slice(&symbols);
        let table_at = out.len() as u64;
        out.extend_from_slice(&table);
        out.extend_from_slice(&toc.encode());
        let mut trailer = Vec::new();
        put_be64(&mut trailer, HEADER_LEN as u64);
        put_be64(&mut trailer, table_at);
        let crc = crc32c(&trailer);
        put_be32(&mut trailer, crc);
        out.extend_from_slice(&trailer);
        out
    }

    fn open(b: Vec<u8>) -> Result<IndexHeaderReader> {
        IndexHeaderReader::from_bytes(b, "ih")
    }

    #[test]
    fn ranges_end_where_the_next_list_starts_or_the_postings_section_ends() {
        let h = open(header(
            &["1", "2", "a", "b", "x"],
            &[
                ("", "", 100),
                ("a", "1", 120),
                ("a", "2", 140),
                ("b", "x", 160),
            ],
        ))
        .unwrap();
        let r = |n, v| h.postings_range(n, v).unwrap();
        assert_eq!(
            r("a", "1"),
            Some(PostingsRange {
                start: 120,
                end: 140
            })
        );
        assert_eq!(
            r("a", "2"),
            Some(PostingsRange {
                start: 140,
                end: 160
            })
        );
        assert_eq!(
            r("b", "x"),
            Some(PostingsRange {
                start: 160,
                end: 200
            })
        );
        assert_eq!(
            h.all_postings_range().unwrap(),
            Some(PostingsRange {
                start: 100,
                end: 120
            })
        );
        assert_eq!(r("a", "0"), None);
        assert_eq!(r("a", "3"), None);
        assert_eq!(h.label_names(), vec!["a", "b"]);
        assert_eq!(h.label_values("a").unwrap(), vec!["1", "2"]);
        let odd = h.postings_ranges_matching("a", |v| v == "2").unwrap();
        assert_eq!(
            odd,
            vec![(
                "2",
                PostingsRange {
                    start: 140,
                    end: 160
                }
            )]
        );
        assert_eq!(h.symbol(4).unwrap(), "x");
    }

    #[test]
    fn lists_closer_than_one_frame_are_corrupt() {
        let h = open(header(&["a", "b"], &[("a", "b", 100), ("a", "c", 104)])).unwrap();
        let err = h.postings_range("a", "b").unwrap_err().to_string();
        assert!(err.contains("followed by the next at 104"), "{err}");
    }

    #[test]
    fn label_names_missing_from_the_symbols_are_corrupt() {
        let err = open(header(&["v"], &[("a", "v", 100)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not in the symbol table"), "{err}");
    }

    #[test]
    fn unsupported_versions_are_refused() {
        let mut b = header(&["a"], &[("a", "a", 100)]);
        b[5] = 1;
        let err = open(b.clone()).unwrap_err().to_string();
        assert!(err.contains("version 1 is not supported"), "{err}");
        b[5] = 2;
        b[4] = 2;
        let err = open(b).unwrap_err().to_string();
        assert!(err.contains("index-header version 2"), "{err}");
    }

    #[test]
    fn toc_offsets_out_of_order_are_corrupt() {
        let mut b = header(&["a"], &[("a", "a", 100)]);
        let toc_at = b.len() - TOC_LEN;
        b[toc_at..toc_at + 8].copy_from_slice(&3u64.to_be_bytes());
        let crc = crc32c(&b[toc_at..toc_at + 16]);
        b[toc_at + 16..].copy_from_slice(&crc.to_be_bytes());
        match open(b).unwrap_err() {
            Error::Corrupted { section, .. } => assert_eq!(section, "TOC"),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn a_header_without_the_index_toc_is_corrupt() {
        let b = header(&["a"], &[("a", "a", 100)]);
        // Cut the copied index TOC out; the trailer's offsets stay valid.
        let toc_at = b.len() - TOC_LEN;
        let mut cut = b[..toc_at - Toc::LEN].to_vec();
        cut.extend_from_slice(&b[toc_at..]);
        let err = open(cut).unwrap_err().to_string();
        assert!(err.contains("want the index's 52-byte TOC"), "{err}");
    }
}
