//! The second half of [`IndexWriter`]: everything written after the last series — label
//! indices, postings lists, the label offset table, the postings offset table and the TOC —
//! in Prometheus 2.42's order and padding.
//!
//! Postings are not kept in memory while series are added. Instead the series section is
//! read back from the file once per batch of label names, a batch holding at most as many
//! (value, series) pairs as [`BATCH_BUDGET`] or the number of series allows, whichever is
//! larger (Prometheus' bound is the number of series). Memory is then about 8 bytes per
//! series in a batch plus 16 bytes per distinct label pair.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};

use crate::{Error, Result};

use super::encoding::{Decbuf, crc32c, put_be32, put_uvarint};
use super::series::{SERIES_ALIGNMENT, decode_label_refs};
use super::writer::IndexWriter;

/// (value, series) pairs a batch may hold regardless of the number of series (32 MiB).
pub(super) const BATCH_BUDGET: u64 = 4 << 20;

/// Bytes of the uvarint encoding of `v`.
fn uvarint_len(v: u64) -> u64 {
    u64::from((64 - v.max(1).leading_zeros()).div_ceil(7))
}

impl IndexWriter {
    /// Writes everything after the series section.
    pub(super) fn write_tail(&mut self) -> Result<()> {
        self.toc.label_indices = self.pos;
        let mut pairs: Vec<u64> = std::mem::take(&mut self.pairs).into_iter().collect();
        pairs.sort_unstable();

        let mut label_index_offsets = Vec::new();
        if self.options.label_indices {
            let mut buf = Vec::new();
            for group in pairs.chunk_by(|a, b| a >> 32 == b >> 32) {
                self.pad(4)?;
                label_index_offsets.push(((group[0] >> 32) as u32, self.pos));
                buf.clear();
                put_be32(&mut buf, 1);
                put_be32(&mut buf, group.len() as u32);
                for &p in group {
                    put_be32(&mut buf, p as u32);
                }
                self.write_framed(&buf)?;
            }
        }

        self.toc.postings = self.pos;
        self.pad(4)?;
        let all_postings_at = self.pos;
        let refs = std::mem::take(&mut self.series_refs);
        self.write_list(&refs)?;
        let offsets = self.write_label_postings(&pairs, refs.len() as u64)?;
        drop(refs);

        self.toc.label_indices_table = self.pos;
        if self.options.label_indices {
            let mut buf = Vec::new();
            put_be32(&mut buf, label_index_offsets.len() as u32);
            for &(name, off) in &label_index_offsets {
                put_uvarint(&mut buf, 1);
                let name = self.symbol(name);
                put_uvarint(&mut buf, name.len() as u64);
                buf.extend_from_slice(name.as_bytes());
                put_uvarint(&mut buf, off);
            }
            self.write_framed(&buf)?;
        }

        self.toc.postings_table = self.pos;
        self.write_postings_table(&pairs, &offsets, all_postings_at)?;
        let toc = self.toc.encode();
        self.write(&toc)
    }

    /// Writes `len <4b> | body | CRC32 <4b>`.
    fn write_framed(&mut self, body: &[u8]) -> Result<()> {
        let Ok(len) = u32::try_from(body.len()) else {
            return Err(Error::InvalidArgument(format!(
                "index {}: section of {} bytes exceeds 4 GiB",
                self.path.display(),
                body.len()
            )));
        };
        self.write(&len.to_be_bytes())?;
        self.write(body)?;
        self.write(&crc32c(body).to_be_bytes())
    }

    /// Writes one postings list.
    fn write_list(&mut self, refs: &[u32]) -> Result<()> {
        let mut buf = Vec::with_capacity(4 + 4 * refs.len());
        put_be32(&mut buf, refs.len() as u32);
        for &r in refs {
            put_be32(&mut buf, r);
        }
        self.write_framed(&buf)
    }

    /// Writes the postings list of every pair of `pairs` (sorted), batching label names,
    /// and returns the offset of each list.
    fn write_label_postings(&mut self, pairs: &[u64], num_series: u64) -> Result<Vec<u64>> {
        let mut names: Vec<u32> = pairs.iter().map(|p| (p >> 32) as u32).collect();
        names.dedup();
        let budget = num_series.max(self.batch_budget);
        let mut offsets = Vec::with_capacity(pairs.len());
        let mut next_pair = 0usize;
        let mut i = 0;
        while i < names.len() {
            let start = i;
            let mut total = 0u64;
            while i < names.len() {
                let c = self.name_counts.get(&names[i]).copied().unwrap_or(0);
                if i > start && total + c > budget {
                    break;
                }
                total += c;
                i += 1;
            }
            let batch = &names[start..i];
            let slot: HashMap<u32, usize> =
                batch.iter().enumerate().map(|(k, &n)| (n, k)).collect();
            let mut per_name: Vec<Vec<u64>> = batch
                .iter()
                .map(|n| Vec::with_capacity(self.name_counts.get(n).copied().unwrap_or(0) as usize))
                .collect();
            self.scan_series(|series, name, value| {
                if let Some(&k) = slot.get(&name)
                    && let Some(v) = per_name.get_mut(k)
                {
                    v.push((u64::from(value) << 32) | u64::from(series));
                }
            })?;
            let mut buf = Vec::new();
            for (k, entries) in per_name.iter_mut().enumerate() {
                entries.sort_unstable();
                for group in entries.chunk_by(|a, b| a >> 32 == b >> 32) {
                    let value = (group[0] >> 32) as u32;
                    let want = (u64::from(batch[k]) << 32) | u64::from(value);
                    if pairs.get(next_pair) != Some(&want) {
                        return Err(self.changed_underfoot());
                    }
                    next_pair += 1;
                    offsets.push(self.pos);
                    buf.clear();
                    buf.reserve(4 * group.len());
                    for &e in group {
                        buf.push(e as u32);
                    }
                    self.write_list(&buf)?;
                }
            }
        }
        if next_pair != pairs.len() {
            return Err(self.changed_underfoot());
        }
        Ok(offsets)
    }

    fn changed_underfoot(&self) -> Error {
        Error::corrupted(
            &self.path,
            "series",
            self.toc.series,
            "series section read back differs from what was written",
        )
    }

    /// Reads the series section back from the file and calls `f(series_ref, name, value)`
    /// for every label of every series.
    fn scan_series(&mut self, mut f: impl FnMut(u32, u32, u32)) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("write", &self.path, e))?;
        let io = |e| Error::io("read", &self.path, e);
        let file = File::open(&self.path).map_err(io)?;
        let mut r = BufReader::with_capacity(super::writer::WRITE_BUFFER, file);
        r.seek(SeekFrom::Start(self.toc.series)).map_err(io)?;
        let (mut pos, end) = (self.toc.series, self.toc.label_indices);
        let mut body = Vec::new();
        while pos < end {
            let aligned = pos.next_multiple_of(SERIES_ALIGNMENT).min(end);
            r.seek_relative((aligned - pos) as i64).map_err(io)?;
            pos = aligned;
            if pos >= end {
                break;
            }
            let id = (pos / SERIES_ALIGNMENT) as u32;
            let (len, n) = read_uvarint(&mut r).map_err(io)?;
            body.resize(len as usize, 0);
            r.read_exact(&mut body).map_err(io)?;
            r.seek_relative(4).map_err(io)?; // CRC, written by us a moment ago.
            pos += n + len + 4;
            let mut d = Decbuf::new(&body, 0);
            decode_label_refs(&mut d, |name, value| {
                f(id, name, value);
                Ok(())
            })
            .map_err(|_| self.changed_underfoot())?;
        }
        Ok(())
    }

    /// Writes the postings offset table: the all-postings entry, then one per pair.
    fn write_postings_table(
        &mut self,
        pairs: &[u64],
        offsets: &[u64],
        all_postings_at: u64,
    ) -> Result<()> {
        let entry_len = |name: &str, value: &str, off: u64| {
            1 + uvarint_len(name.len() as u64)
                + name.len() as u64
                + uvarint_len(value.len() as u64)
                + value.len() as u64
                + uvarint_len(off)
        };
        let mut len = 4 + entry_len("", "", all_postings_at);
        for (&p, &off) in pairs.iter().zip(offsets) {
            len += entry_len(self.symbol((p >> 32) as u32), self.symbol(p as u32), off);
        }
        let Ok(len) = u32::try_from(len) else {
            return Err(Error::InvalidArgument(format!(
                "index {}: postings offset table of {len} bytes exceeds 4 GiB",
                self.path.display()
            )));
        };
        self.write(&len.to_be_bytes())?;
        let mut buf = Vec::with_capacity(64);
        put_be32(&mut buf, (pairs.len() + 1) as u32);
        let mut crc = 0u32;
        let mut emit = |w: &mut IndexWriter, buf: &mut Vec<u8>| {
            crc = crc32c::crc32c_append(crc, buf);
            let r = w.write(buf);
            buf.clear();
            r
        };
        entry(&mut buf, "", "", all_postings_at);
        emit(self, &mut buf)?;
        for (&p, &off) in pairs.iter().zip(offsets) {
            entry(
                &mut buf,
                self.symbol((p >> 32) as u32),
                self.symbol(p as u32),
                off,
            );
            emit(self, &mut buf)?;
        }
        self.write(&crc.to_be_bytes())
    }
}

/// Appends one postings offset table entry.
fn entry(buf: &mut Vec<u8>, name: &str, value: &str, off: u64) {
    put_uvarint(buf, 2);
    put_uvarint(buf, name.len() as u64);
    buf.extend_from_slice(name.as_bytes());
    put_uvarint(buf, value.len() as u64);
    buf.extend_from_slice(value.as_bytes());
    put_uvarint(buf, off);
}

/// Reads a uvarint from a buffered reader; returns it and its length in bytes.
fn read_uvarint(r: &mut impl BufRead) -> std::io::Result<(u64, u64)> {
    let mut x = 0u64;
    for i in 0..10u32 {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        x |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] < 0x80 {
            return Ok((x, u64::from(i) + 1));
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "series length varint too long",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::{ChunkMeta, ChunkRef};
    use crate::labels::Labels;

    /// Writes 300 series with 4 labels each and returns the file's bytes.
    fn write(dir: &std::path::Path, budget: u64) -> Vec<u8> {
        let path = dir.join(format!("index-{budget}"));
        let series: Vec<Labels> = (0..300)
            .map(|i| {
                Labels::from_pairs([
                    ("__name__", format!("m{}", i % 7)),
                    ("a", format!("{}", i % 13)),
                    ("id", format!("{i:04}")),
                    ("z", format!("{}", i % 2)),
                ])
                .unwrap()
            })
            .collect();
        let mut sorted = series.clone();
        sorted.sort();
        let mut syms: Vec<String> = sorted
            .iter()
            .flat_map(|l| {
                l.iter()
                    .flat_map(|l| [l.name.to_string(), l.value.to_string()])
            })
            .collect();
        syms.sort();
        syms.dedup();
        let mut w = IndexWriter::create(&path).unwrap();
        w.batch_budget = budget;
        for s in &syms {
            w.add_symbol(s).unwrap();
        }
        for (i, l) in sorted.iter().enumerate() {
            let c = ChunkMeta {
                min_time: 1000 * i as i64,
                max_time: 1000 * i as i64 + 999,
                chunk_ref: ChunkRef(8 + 100 * i as u64),
            };
            w.add_series(l, &[c]).unwrap();
        }
        w.finish().unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn batching_label_names_does_not_change_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // Budget 1 forces one read-back per label name (the number of series, 300, is
        // then the bound); the default budget takes all names in one pass.
        let one_pass = write(dir.path(), BATCH_BUDGET);
        let per_name = write(dir.path(), 1);
        assert_eq!(one_pass, per_name);
        let r = crate::index::IndexReader::from_bytes(one_pass, "index").unwrap();
        assert_eq!(r.verify().unwrap().series, 300);
    }

    #[test]
    fn uvarint_len_matches_encoding() {
        for v in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(uvarint_len(v), b.len() as u64, "{v}");
        }
    }
}
