//! The symbol table (spec section "Symbol Table"): every label name and value of the index,
//! sorted and deduplicated, referenced from series entries by position.
//!
//! [`Symbols`] validates the whole table once (checksum, UTF-8, strict order, no trailing
//! bytes) and remembers the offset of every `factor`-th symbol, so a lookup by reference
//! walks at most `factor - 1` entries and a lookup by string is a binary search over the
//! samples. The reader samples every 32nd symbol as Prometheus does; the writer keeps every
//! offset. The table's bytes are not owned: each call takes the file's bytes.

use super::encoding::{DecResult, Decbuf, DecodeError, framed_be32};

/// How many symbols the reader walks past at most per lookup (Prometheus' `symbolFactor`).
pub(crate) const READER_SYMBOL_FACTOR: usize = 32;

/// Sampled positions of the symbols of one table.
#[derive(Debug, Clone)]
pub(crate) struct Symbols {
    /// Absolute offset of the first symbol entry (after the count).
    body_start: usize,
    /// Absolute offset just past the last symbol entry.
    body_end: usize,
    count: u32,
    factor: usize,
    /// Offsets, relative to `body_start`, of symbols `0, factor, 2 * factor, ...`.
    samples: Vec<u32>,
}

impl Symbols {
    /// Parses and validates the table that starts at `off` and must end by `end`.
    pub fn parse(data: &[u8], off: usize, end: usize, factor: usize) -> DecResult<Symbols> {
        let factor = factor.max(1);
        let mut d = framed_be32(data, off, end)?;
        let count = d.be32()?;
        let body_start = d.offset();
        // Each entry takes at least one byte: bound the allocation by the data.
        let cap = (count as usize).min(d.remaining()) / factor + 1;
        let mut samples = Vec::with_capacity(cap);
        let mut prev: Option<&[u8]> = None;
        for i in 0..count as usize {
            let at = d.offset();
            if i % factor == 0 {
                samples.push((at - body_start) as u32);
            }
            let s = d.uvarint_str().map_err(|e| DecodeError {
                detail: format!("symbol {i}: {}", e.detail).into(),
                ..e
            })?;
            if let Some(p) = prev
                && p >= s.as_bytes()
            {
                return Err(DecodeError::new(
                    at,
                    format!("symbol {i} {s:?} is not greater than the one before"),
                ));
            }
            prev = Some(s.as_bytes());
        }
        if !d.is_empty() {
            return Err(DecodeError::new(
                d.offset(),
                format!("{} trailing bytes after {count} symbols", d.remaining()),
            ));
        }
        Ok(Symbols {
            body_start,
            body_end: d.offset(),
            count,
            factor,
            samples,
        })
    }

    /// Number of symbols.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Bytes of memory the samples take.
    pub fn memory(&self) -> usize {
        self.samples.capacity() * 4
    }

    fn decoder_at<'a>(&self, data: &'a [u8], rel: u32) -> Decbuf<'a> {
        let at = self.body_start + rel as usize;
        Decbuf::new(data.get(at..self.body_end).unwrap_or_default(), at)
    }

    /// The symbol with reference `r`.
    pub fn lookup<'a>(&self, data: &'a [u8], r: u32) -> DecResult<&'a str> {
        if r >= self.count {
            return Err(DecodeError::new(
                self.body_start,
                format!("symbol reference {r} out of range ({} symbols)", self.count),
            ));
        }
        let idx = r as usize;
        let sample = self.samples.get(idx / self.factor).copied().unwrap_or(0);
        let start = self.body_start + sample as usize;
        let at = skip_entries(data, start, self.body_end, idx % self.factor);
        Decbuf::new(data.get(at..self.body_end).unwrap_or_default(), at).uvarint_str()
    }

    /// The reference of `sym`, if the table holds it.
    pub fn reverse_lookup(&self, data: &[u8], sym: &str) -> DecResult<Option<u32>> {
        // First sample whose symbol is greater than `sym`; the one before may hold it.
        let mut err = None;
        let i =
            self.samples
                .partition_point(|&rel| match self.decoder_at(data, rel).uvarint_bytes() {
                    Ok(s) => s <= sym.as_bytes(),
                    Err(e) => {
                        err.get_or_insert(e);
                        false
                    }
                });
        if let Some(e) = err {
            return Err(e);
        }
        if i == 0 {
            return Ok(None);
        }
        let mut d = self.decoder_at(data, self.samples[i - 1]);
        let first = (i - 1) * self.factor;
        let last = (first + self.factor).min(self.count as usize);
        for r in first..last {
            let s = d.uvarint_bytes()?;
            match s.cmp(sym.as_bytes()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(r as u32)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }

    /// All symbols in order.
    pub fn iter<'a>(&self, data: &'a [u8]) -> SymbolIter<'a> {
        SymbolIter {
            d: self.decoder_at(data, 0),
            left: self.count,
        }
    }
}

/// Offset of the entry `n` entries after the one at `at`, for a table already validated.
/// Lengths below 128 (one varint byte) take the fast path; a damaged entry stops the walk
/// where it is, and decoding there reports the error.
#[inline]
fn skip_entries(data: &[u8], mut at: usize, end: usize, n: usize) -> usize {
    for _ in 0..n {
        match data.get(at) {
            Some(&len) if len < 0x80 => at += 1 + len as usize,
            Some(_) => {
                let mut d = Decbuf::new(data.get(at..end).unwrap_or_default(), at);
                if d.uvarint_bytes().is_err() {
                    return at;
                }
                at = d.offset();
            }
            None => return at,
        }
    }
    at
}

/// Iterator over the symbols of an index, in order.
#[derive(Debug, Clone)]
pub struct SymbolIter<'a> {
    d: Decbuf<'a>,
    left: u32,
}

impl<'a> Iterator for SymbolIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The table was validated when it was parsed.
        self.d.uvarint_str().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::super::encoding::{crc32c, put_be32, put_uvarint_str};
    use super::*;

    /// A file with 3 junk bytes and then a symbol table of `syms`.
    fn table(syms: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        put_be32(&mut body, syms.len() as u32);
        for s in syms {
            put_uvarint_str(&mut body, s);
        }
        let mut data = vec![9u8, 9, 9];
        put_be32(&mut data, body.len() as u32);
        data.extend_from_slice(&body);
        put_be32(&mut data, crc32c(&body));
        data
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sym{i:05}")).collect()
    }

    #[test]
    fn lookups_agree_for_every_sampling_factor() {
        let owned = names(100);
        let syms: Vec<&str> = owned.iter().map(String::as_str).collect();
        let data = table(&syms);
        for factor in [1, 2, 7, 32, 1000] {
            let t = Symbols::parse(&data, 3, data.len(), factor).unwrap();
            assert_eq!(t.len(), 100);
            for (i, s) in syms.iter().enumerate() {
                assert_eq!(t.lookup(&data, i as u32).unwrap(), *s, "factor {factor}");
                assert_eq!(t.reverse_lookup(&data, s).unwrap(), Some(i as u32));
            }
            assert_eq!(t.reverse_lookup(&data, "a").unwrap(), None);
            assert_eq!(t.reverse_lookup(&data, "sym00050x").unwrap(), None);
            assert_eq!(t.reverse_lookup(&data, "zzz").unwrap(), None);
            assert!(t.lookup(&data, 100).is_err());
            assert_eq!(t.iter(&data).collect::<Vec<_>>(), syms);
        }
    }

    #[test]
    fn empty_table_is_valid() {
        let data = table(&[]);
        let t = Symbols::parse(&data, 3, data.len(), 32).unwrap();
        assert_eq!(t.len(), 0);
        assert_eq!(t.reverse_lookup(&data, "").unwrap(), None);
        assert_eq!(t.iter(&data).count(), 0);
    }

    #[test]
    fn unsorted_or_duplicate_symbols_are_corrupt() {
        let data = table(&["b", "a"]);
        let err = Symbols::parse(&data, 3, data.len(), 32).unwrap_err();
        assert!(err.detail.contains("not greater"), "{}", err.detail);
        let data = table(&["a", "a"]);
        assert!(Symbols::parse(&data, 3, data.len(), 32).is_err());
    }

    #[test]
    fn count_larger_than_the_entries_is_corrupt() {
        let mut data = table(&["a", "b"]);
        // Claim a billion symbols, and fix the CRC so only the count is wrong.
        data[7..11].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        let body_end = data.len() - 4;
        let crc = crc32c(&data[7..body_end]);
        data[body_end..].copy_from_slice(&crc.to_be_bytes());
        let err = Symbols::parse(&data, 3, data.len(), 32).unwrap_err();
        assert!(err.detail.contains("symbol 2"), "{}", err.detail);
    }
}
