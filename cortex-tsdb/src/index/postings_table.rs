//! The postings offset table (spec section "Postings Offset Table"), as the reader keeps it:
//! every label name, and for each name the position of every 32nd of its entries.
//!
//! The whole table is validated once when the index is opened (checksum, two keys per
//! entry, UTF-8, strictly increasing `(name, value)` order, offsets inside the postings
//! section). Afterwards finding a value is a binary search over the name's samples and a
//! walk of at most 31 entries in the mapped bytes; listing a name's values walks its
//! entries. Nothing here reads postings lists themselves.

use super::encoding::{DecResult, Decbuf, DecodeError, framed_be32};

/// Every how many values of a name the reader keeps a position (Prometheus' choice).
pub(crate) const POSTINGS_SAMPLE_FACTOR: usize = 32;

/// One label name of the table.
#[derive(Debug, Clone)]
pub(crate) struct NameEntry {
    name: String,
    /// Number of values of the name.
    count: usize,
    /// Offsets, relative to the table's first entry, of entries `0, 32, 64, ...` of the name.
    samples: Vec<u32>,
}

impl NameEntry {
    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many values the name has.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Offsets, relative to the table's first entry, of entries `0, 32, 64, ...` of the name.
    pub fn samples(&self) -> &[u32] {
        &self.samples
    }
}

/// The sampled postings offset table.
#[derive(Debug, Clone)]
pub(crate) struct PostingsTable {
    /// Absolute offset of the first entry.
    body_start: usize,
    /// Absolute offset just past the last entry.
    body_end: usize,
    /// Sorted by name.
    names: Vec<NameEntry>,
}

/// One decoded table entry.
pub(crate) struct Entry<'a> {
    /// The label name.
    pub name: &'a [u8],
    /// The label value.
    pub value: &'a [u8],
    /// Offset of the postings list in the index file.
    pub postings: u64,
}

impl PostingsTable {
    /// Parses and validates the table at `off` (ending by `end`), whose postings offsets
    /// must fall in `postings`.
    pub fn parse(
        data: &[u8],
        off: usize,
        end: usize,
        postings: std::ops::Range<u64>,
    ) -> DecResult<PostingsTable> {
        let mut d = framed_be32(data, off, end)?;
        let count = d.be32()?;
        let body_start = d.offset();
        let mut names: Vec<NameEntry> = Vec::new();
        let mut prev: Option<(&[u8], &[u8])> = None;
        for i in 0..count {
            let at = d.offset();
            let e = Self::decode_entry(&mut d).map_err(|e| DecodeError {
                detail: format!("entry {i}: {}", e.detail).into(),
                ..e
            })?;
            if !postings.contains(&e.postings) {
                return Err(DecodeError::new(
                    at,
                    format!(
                        "entry {i} points at offset {} outside the postings section {}..{}",
                        e.postings, postings.start, postings.end
                    ),
                ));
            }
            let name = std::str::from_utf8(e.name)
                .map_err(|_| DecodeError::new(at, format!("entry {i}: name is not UTF-8")))?;
            std::str::from_utf8(e.value)
                .map_err(|_| DecodeError::new(at, format!("entry {i}: value is not UTF-8")))?;
            if let Some(p) = prev
                && p >= (e.name, e.value)
            {
                return Err(DecodeError::new(
                    at,
                    format!("entry {i} ({name:?}) is out of order"),
                ));
            }
            prev = Some((e.name, e.value));
            let rel = (at - body_start) as u32;
            match names.last_mut() {
                Some(last) if last.name.as_bytes() == e.name => {
                    if last.count % POSTINGS_SAMPLE_FACTOR == 0 {
                        last.samples.push(rel);
                    }
                    last.count += 1;
                }
                _ => names.push(NameEntry {
                    name: name.to_string(),
                    count: 1,
                    samples: vec![rel],
                }),
            }
        }
        if !d.is_empty() {
            return Err(DecodeError::new(
                d.offset(),
                format!("{} trailing bytes after {count} entries", d.remaining()),
            ));
        }
        for n in &mut names {
            n.samples.shrink_to_fit();
        }
        Ok(PostingsTable {
            body_start,
            body_end: d.offset(),
            names,
        })
    }

    /// Decodes the entry at the decoder's position.
    pub(crate) fn decode_entry<'a>(d: &mut Decbuf<'a>) -> DecResult<Entry<'a>> {
        let at = d.offset();
        let keys = d.uvarint64()?;
        if keys != 2 {
            return Err(DecodeError::new(
                at,
                format!("entry has {keys} keys, want 2"),
            ));
        }
        Ok(Entry {
            name: d.uvarint_bytes()?,
            value: d.uvarint_bytes()?,
            postings: d.uvarint64()?,
        })
    }

    /// A decoder at offset `rel` from the table's first entry, bounded by the last entry.
    pub(crate) fn decoder_at<'a>(&self, data: &'a [u8], rel: u32) -> Decbuf<'a> {
        let at = self.body_start + rel as usize;
        Decbuf::new(data.get(at..self.body_end).unwrap_or_default(), at)
    }

    /// Absolute offset just past the last entry.
    pub fn body_end(&self) -> usize {
        self.body_end
    }

    /// All names, sorted (the all-postings name `""` first when present).
    pub fn names(&self) -> impl Iterator<Item = &NameEntry> {
        self.names.iter()
    }

    /// The entry of `name`.
    pub fn get(&self, name: &str) -> Option<&NameEntry> {
        self.names
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.names.get(i))
    }

    /// Bytes of memory the samples and names take.
    pub fn memory(&self) -> usize {
        self.names
            .iter()
            .map(|n| n.name.len() + n.samples.capacity() * 4 + std::mem::size_of::<NameEntry>())
            .sum()
    }

    /// Every value of `name` with the offset of its postings list, in order.
    pub fn values<'a>(&self, data: &'a [u8], name: &NameEntry) -> ValueIter<'a> {
        ValueIter {
            d: self.decoder_at(data, name.samples.first().copied().unwrap_or(0)),
            left: name.count,
        }
    }

    /// Calls `found(value_index, postings_offset)` for each of `values` (sorted, unique)
    /// that `name` has.
    pub fn find(
        &self,
        data: &[u8],
        name: &NameEntry,
        values: &[&str],
        mut found: impl FnMut(usize, u64),
    ) -> DecResult<()> {
        // Walk position: index of the next entry of the name and its offset.
        let mut pos: Option<(usize, u32)> = None;
        for (vi, &want) in values.iter().enumerate() {
            let mut err = None;
            let s = name.samples.partition_point(|&rel| {
                let mut d = self.decoder_at(data, rel);
                match Self::decode_entry(&mut d) {
                    Ok(e) => e.value <= want.as_bytes(),
                    Err(e) => {
                        err.get_or_insert(e);
                        false
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            if s == 0 {
                continue; // Before the name's first value.
            }
            let sample_idx = (s - 1) * POSTINGS_SAMPLE_FACTOR;
            let (mut j, mut rel) = match pos {
                Some((j, rel)) if j >= sample_idx => (j, rel),
                _ => (sample_idx, name.samples[s - 1]),
            };
            while j < name.count {
                let mut d = self.decoder_at(data, rel);
                let e = Self::decode_entry(&mut d)?;
                match e.value.cmp(want.as_bytes()) {
                    std::cmp::Ordering::Less => {
                        j += 1;
                        rel = (d.offset() - self.body_start) as u32;
                    }
                    std::cmp::Ordering::Equal => {
                        found(vi, e.postings);
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            pos = Some((j, rel));
        }
        Ok(())
    }
}

/// The values of one name in the postings offset table, with their postings offsets.
pub(crate) struct ValueIter<'a> {
    d: Decbuf<'a>,
    left: usize,
}

impl<'a> Iterator for ValueIter<'a> {
    type Item = DecResult<(&'a str, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.d.offset();
        Some(PostingsTable::decode_entry(&mut self.d).and_then(|e| {
            let v = std::str::from_utf8(e.value)
                .map_err(|_| DecodeError::new(at, "value is not UTF-8"))?;
            Ok((v, e.postings))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::encoding::{crc32c, put_be32, put_uvarint, put_uvarint_str};
    use super::*;

    /// A table over `entries`, preceded by 4 junk bytes; postings offsets are `1000 + i`.
    fn table(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        put_be32(&mut body, entries.len() as u32);
        for (i, (n, v)) in entries.iter().enumerate() {
            put_uvarint(&mut body, 2);
            put_uvarint_str(&mut body, n);
            put_uvarint_str(&mut body, v);
            put_uvarint(&mut body, 1000 + i as u64);
        }
        let mut data = vec![0u8; 4];
        put_be32(&mut data, body.len() as u32);
        data.extend_from_slice(&body);
        put_be32(&mut data, crc32c(&body));
        data
    }

    fn parse(data: &[u8]) -> DecResult<PostingsTable> {
        PostingsTable::parse(data, 4, data.len(), 1000..100_000)
    }

    #[test]
    fn finds_values_across_sample_boundaries() {
        let vals: Vec<String> = (0..200).map(|i| format!("v{i:03}")).collect();
        let mut entries = vec![("", ""), ("a", "x")];
        entries.extend(vals.iter().map(|v| ("b", v.as_str())));
        entries.push(("c", "y"));
        let data = table(&entries);
        let t = parse(&data).unwrap();
        let names: Vec<&str> = t.names().map(NameEntry::name).collect();
        assert_eq!(names, vec!["", "a", "b", "c"]);
        let b = t.get("b").unwrap();
        assert_eq!(b.count(), 200);
        let all: Vec<(&str, u64)> = t.values(&data, b).map(Result::unwrap).collect();
        assert_eq!(all.len(), 200);
        assert_eq!(all[0], ("v000", 1002));
        assert_eq!(all[199], ("v199", 1201));

        let want = [
            "a", "v000", "v031", "v032", "v033", "v100", "v1000", "v199", "zzz",
        ];
        let mut got = Vec::new();
        t.find(&data, b, &want, |i, off| got.push((want[i], off)))
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("v000", 1002),
                ("v031", 1033),
                ("v032", 1034),
                ("v033", 1035),
                ("v100", 1102),
                ("v199", 1201)
            ]
        );
        assert!(t.get("zz").is_none());
    }

    #[test]
    fn out_of_order_entries_are_corrupt() {
        let data = table(&[("a", "2"), ("a", "1")]);
        assert!(parse(&data).unwrap_err().detail.contains("out of order"));
        let data = table(&[("b", "1"), ("a", "1")]);
        assert!(parse(&data).is_err());
    }

    #[test]
    fn offsets_outside_the_postings_section_are_corrupt() {
        let data = table(&[("a", "1")]);
        let err = PostingsTable::parse(&data, 4, data.len(), 0..1000).unwrap_err();
        assert!(err.detail.contains("outside the postings section"));
    }

    #[test]
    fn wrong_key_count_is_corrupt() {
        let mut data = table(&[("a", "1")]);
        data[12] = 3; // keycount of the first entry
        let body_end = data.len() - 4;
        let crc = crc32c(&data[8..body_end]);
        data[body_end..].copy_from_slice(&crc.to_be_bytes());
        assert!(parse(&data).unwrap_err().detail.contains("3 keys"));
    }
}
