//! A full consistency check of an index file, for tools and tests: every byte between the
//! header and the TOC belongs to a checksummed section or is zero padding, and the
//! sections agree with each other.
//!
//! Normal reads check only what they touch; [`IndexReader::verify`] walks everything once:
//! series in label order, the label indices, every postings list (sorted, pointing at
//! series, as long as the number of series with its label pair), and the two offset
//! tables covering exactly the sections they index.

use std::collections::{HashMap, HashSet};

use crate::Result;
use crate::chunks::ChunkMeta;
use crate::labels::Labels;

use super::encoding::{Decbuf, DecodeError, framed_be32};
use super::postings::Postings;
use super::reader::IndexReader;
use super::series::{SERIES_ALIGNMENT, decode_chunks, decode_label_refs, series_body};
use super::toc::Toc;

/// What [`IndexReader::verify`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Series entries.
    pub series: u64,
    /// Chunk metas over all series.
    pub chunks: u64,
    /// Symbols.
    pub symbols: u32,
    /// Postings lists, the all-postings list included.
    pub postings_lists: u64,
    /// Label indices (0 for indexes written without them).
    pub label_indices: u64,
}

/// Checks that `data[from..to]` is all zero.
fn zeros(data: &[u8], from: usize, to: usize) -> Result<(), DecodeError> {
    let gap = data
        .get(from..to)
        .ok_or_else(|| DecodeError::new(from, format!("section ends past offset {to}")))?;
    match gap.iter().position(|&b| b != 0) {
        Some(i) => Err(DecodeError::new(from + i, "non-zero padding byte")),
        None => Ok(()),
    }
}

/// Rounds `x` up to a multiple of `align`.
fn align_up(x: usize, align: usize) -> usize {
    x.div_ceil(align) * align
}

impl IndexReader {
    /// Checks the whole file; see the module docs of `verify.rs` for what is checked.
    pub fn verify(&self) -> Result<IndexStats> {
        let data = self.bytes();
        let toc = *self.toc();
        let toc_start = data.len() - Toc::LEN;
        let mut stats = IndexStats {
            symbols: self.num_symbols(),
            ..IndexStats::default()
        };

        // Symbols, then zero padding up to the first series.
        let sym = framed_be32(data, toc.symbols as usize, toc.series as usize)
            .map_err(|e| self.corrupt("symbols", e))?;
        let sym_end = sym.offset() + sym.remaining() + 4;
        zeros(data, sym_end, toc.series as usize).map_err(|e| self.corrupt("symbols", e))?;

        // Series: aligned, checksummed, in strictly increasing label order.
        let series_end = toc.label_indices as usize;
        let mut refs: Vec<u64> = Vec::new();
        let mut pair_counts: HashMap<(u32, u32), u64> = HashMap::new();
        let mut prev: Option<Labels> = None;
        let mut chunks: Vec<ChunkMeta> = Vec::new();
        let mut off = toc.series as usize;
        while off < series_end {
            if !(off as u64).is_multiple_of(SERIES_ALIGNMENT) {
                let next = align_up(off, SERIES_ALIGNMENT as usize).min(series_end);
                zeros(data, off, next).map_err(|e| self.corrupt("series", e))?;
                off = next;
                continue;
            }
            let (mut body, end) =
                series_body(data, off, series_end).map_err(|e| self.corrupt("series", e))?;
            decode_label_refs(&mut body.clone(), |n, v| {
                *pair_counts.entry((n, v)).or_default() += 1;
                Ok(())
            })
            .map_err(|e| self.corrupt("series", e))?;
            let labels = self.decode_labels(&mut body)?;
            decode_chunks(&mut body, &mut chunks).map_err(|e| self.corrupt("series", e))?;
            if prev.as_ref().is_some_and(|p| *p >= labels) {
                return Err(self.corrupt(
                    "series",
                    DecodeError::new(off, format!("series {labels} is out of order")),
                ));
            }
            refs.push(off as u64 / SERIES_ALIGNMENT);
            stats.chunks += chunks.len() as u64;
            prev = Some(labels);
            off = end;
        }
        stats.series = refs.len() as u64;

        // Label indices: 4-byte aligned, one name each, values are symbols.
        let mut label_index_starts = HashMap::new();
        let mut off = series_end;
        while off < toc.postings as usize {
            let start = align_up(off, 4);
            zeros(data, off, start.min(toc.postings as usize))
                .map_err(|e| self.corrupt("label indices", e))?;
            if start >= toc.postings as usize {
                break;
            }
            let mut d = framed_be32(data, start, toc.postings as usize)
                .map_err(|e| self.corrupt("label indices", e))?;
            let values = self
                .label_index_values(&mut d)
                .map_err(|e| self.corrupt("label indices", e))?;
            label_index_starts.insert(start as u64, values);
            off = d.offset() + d.remaining() + 4;
        }
        stats.label_indices = label_index_starts.len() as u64;

        // Postings lists back to back after 4-byte alignment, each referenced once by the
        // postings offset table, in the table's order.
        let all: Vec<(&str, &str)> = self
            .label_names()
            .into_iter()
            .map(|n| Ok((n, self.label_values(n)?)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flat_map(|(n, vs)| vs.into_iter().map(move |v| (n, v)))
            .collect();
        let series_set: HashSet<u64> = refs.iter().copied().collect();
        let post_start = toc.postings as usize;
        let post_end = toc.label_indices_table as usize;
        let mut off = align_up(post_start, 4).min(post_end);
        zeros(data, post_start, off).map_err(|e| self.corrupt("postings", e))?;
        let mut expected = std::iter::once((super::ALL_POSTINGS_NAME, super::ALL_POSTINGS_VALUE))
            .chain(all.iter().copied());
        while off < post_end {
            let Some((name, value)) = expected.next() else {
                return Err(self.corrupt(
                    "postings",
                    DecodeError::new(off, "postings list not referenced by the offset table"),
                ));
            };
            let mut lists = self.lists_for(name, &[value])?;
            let list_at = self.list_offset(name, value)?;
            if list_at != Some(off as u64) || lists.len() != 1 {
                return Err(self.corrupt(
                    "postings offset table",
                    DecodeError::new(
                        toc.postings_table as usize,
                        format!(
                            "entry {name:?}={value:?} points at {list_at:?}, next list is at {off}"
                        ),
                    ),
                ));
            }
            let mut list = lists.swap_remove(0);
            let len = list.len() as u64;
            let mut last = None;
            while let Some(r) = list.next() {
                if last.is_some_and(|l| l >= r) || !series_set.contains(&r) {
                    return Err(self.corrupt(
                        "postings",
                        DecodeError::new(
                            off,
                            format!("list {name:?}={value:?}: bad series reference {r}"),
                        ),
                    ));
                }
                last = Some(r);
            }
            let want = if name.is_empty() {
                stats.series
            } else {
                let n = self.symbol_ref(name)?;
                let v = self.symbol_ref(value)?;
                n.zip(v)
                    .and_then(|k| pair_counts.get(&k).copied())
                    .unwrap_or(0)
            };
            if len != want {
                return Err(self.corrupt(
                    "postings",
                    DecodeError::new(
                        off,
                        format!(
                            "list {name:?}={value:?} has {len} series, the series section {want}"
                        ),
                    ),
                ));
            }
            stats.postings_lists += 1;
            // Lists are `len | count | refs | crc`, all multiples of 4 bytes.
            off += 12 + 4 * len as usize;
        }
        if let Some((name, value)) = expected.next() {
            return Err(self.corrupt(
                "postings",
                DecodeError::new(post_end, format!("no postings list for {name:?}={value:?}")),
            ));
        }

        // The label offset table (absent in indexes that have no label indices) must
        // end where the postings offset table starts, which must end at the TOC.
        if toc.label_indices_table != toc.postings_table {
            let mut d = framed_be32(data, post_end, toc.postings_table as usize)
                .map_err(|e| self.corrupt("label offset table", e))?;
            self.check_label_offset_table(&mut d, &label_index_starts)?;
            let end = d.offset() + d.remaining() + 4;
            zeros(data, end, toc.postings_table as usize)
                .map_err(|e| self.corrupt("label offset table", e))?;
        } else if !label_index_starts.is_empty() {
            return Err(self.corrupt(
                "TOC",
                DecodeError::new(toc_start, "label indices without a label offset table"),
            ));
        }
        let d = framed_be32(data, toc.postings_table as usize, toc_start)
            .map_err(|e| self.corrupt("postings offset table", e))?;
        zeros(data, d.offset() + d.remaining() + 4, toc_start)
            .map_err(|e| self.corrupt("postings offset table", e))?;
        Ok(stats)
    }

    /// The values (symbol strings) of one label index body.
    fn label_index_values<'a>(&'a self, d: &mut Decbuf<'a>) -> Result<Vec<&'a str>, DecodeError> {
        let at = d.offset();
        let names = d.be32()?;
        if names != 1 {
            return Err(DecodeError::new(
                at,
                format!("{names} names per label index, want 1"),
            ));
        }
        let n = d.be32()?;
        let mut out = Vec::with_capacity((n as usize).min(d.remaining() / 4));
        for _ in 0..n {
            let at = d.offset();
            let r = d.be32()?;
            let s = self
                .symbol(r)
                .map_err(|_| DecodeError::new(at, format!("unknown symbol {r}")))?;
            out.push(s);
        }
        if !d.is_empty() {
            return Err(DecodeError::new(
                d.offset(),
                "trailing bytes in label index",
            ));
        }
        Ok(out)
    }

    fn check_label_offset_table(
        &self,
        d: &mut Decbuf<'_>,
        starts: &HashMap<u64, Vec<&str>>,
    ) -> Result<()> {
        let c = |e| self.corrupt("label offset table", e);
        let n = d.be32().map_err(c)?;
        if n as usize != starts.len() {
            return Err(c(DecodeError::new(
                d.offset(),
                format!("{n} entries for {} label indices", starts.len()),
            )));
        }
        let mut names = self.label_names().into_iter();
        for _ in 0..n {
            let at = d.offset();
            let keys = d.uvarint64().map_err(c)?;
            let name = d.uvarint_str().map_err(c)?;
            let off = d.uvarint64().map_err(c)?;
            let fail = |detail: String| c(DecodeError::new(at, detail));
            if keys != 1 {
                return Err(fail(format!("entry has {keys} keys, want 1")));
            }
            if names.next() != Some(name) {
                return Err(fail(format!(
                    "label index for {name:?} out of order or unknown"
                )));
            }
            let Some(values) = starts.get(&off) else {
                return Err(fail(format!("{name:?} points at {off}, not a label index")));
            };
            if *values != self.label_values(name)? {
                return Err(fail(format!(
                    "label index of {name:?} disagrees with postings"
                )));
            }
        }
        if !d.is_empty() || names.next().is_some() {
            return Err(c(DecodeError::new(
                d.offset(),
                "label offset table incomplete",
            )));
        }
        Ok(())
    }
}
