//! Tombstones: deleted time ranges per series, and the block's `tombstones` file.
//!
//! ```text
//! ┌──────────────────────┬──────────────────┬────────────────────────────────────────┬───────────┐
//! │ magic 0x0130BA30 (4) │ version 1 (1)    │ entries: uvarint ref, varint mint,     │ CRC-32C   │
//! │ big-endian           │                  │          varint maxt (repeated)        │ (4, BE)   │
//! └──────────────────────┴──────────────────┴────────────────────────────────────────┴───────────┘
//! ```
//! The CRC covers the entries only (not the magic or version byte). This is
//! `tsdb/docs/format/tombstones.md` of Prometheus. Intervals are inclusive on both ends;
//! intervals of one series are kept sorted and merged when they overlap or touch, as
//! Prometheus does. Entries are written in series order so equal sets give equal files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::encoding::{Decoder, crc32c, put_uvarint, put_varint};
use crate::{Error, Result, fileutil};

/// The tombstones file name inside a block.
pub const FILENAME: &str = "tombstones";

const MAGIC: u32 = 0x0130_BA30;
const VERSION: u8 = 1;

/// A deleted time range, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    /// First deleted timestamp.
    pub mint: i64,
    /// Last deleted timestamp.
    pub maxt: i64,
}

impl Interval {
    /// True when `t` lies in the interval.
    pub fn contains(&self, t: i64) -> bool {
        self.mint <= t && t <= self.maxt
    }
}

/// Sorted, non-overlapping, non-adjacent intervals of one series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<Interval>);

impl Intervals {
    /// The intervals in time order.
    pub fn as_slice(&self) -> &[Interval] {
        &self.0
    }

    /// Adds `n`, merging it with the intervals it overlaps or touches.
    pub fn add(&mut self, n: Interval) {
        let v = &mut self.0;
        // First interval that ends at or after n.mint - 1 (could merge with n).
        let lo = v.partition_point(|iv| iv.maxt < n.mint.saturating_sub(1));
        // First interval at or after `lo` that starts beyond n.maxt + 1 (cannot merge).
        let hi = lo + v[lo..].partition_point(|iv| iv.mint <= n.maxt.saturating_add(1));
        if lo == hi {
            v.insert(lo, n);
            return;
        }
        let merged = Interval {
            mint: n.mint.min(v[lo].mint),
            maxt: n.maxt.max(v[hi - 1].maxt),
        };
        v[lo] = merged;
        v.drain(lo + 1..hi);
    }

    /// True when `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        let i = self.0.partition_point(|iv| iv.maxt < t);
        self.0.get(i).is_some_and(|iv| iv.mint <= t)
    }

    /// True when all of `[mint, maxt]` is deleted.
    pub fn covers(&self, mint: i64, maxt: i64) -> bool {
        self.0.iter().any(|iv| iv.mint <= mint && maxt <= iv.maxt)
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Deleted ranges of the series of one block, by series reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    by_series: BTreeMap<u64, Intervals>,
}

impl Tombstones {
    /// No tombstones.
    pub fn new() -> Tombstones {
        Tombstones::default()
    }

    /// Marks `[iv.mint, iv.maxt]` of series `series_ref` deleted.
    pub fn add(&mut self, series_ref: u64, iv: Interval) {
        self.by_series.entry(series_ref).or_default().add(iv);
    }

    /// The deleted intervals of a series, if any.
    pub fn get(&self, series_ref: u64) -> Option<&Intervals> {
        self.by_series.get(&series_ref)
    }

    /// Keeps only the series for which `keep` is true.
    pub fn retain_series(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.by_series.retain(|r, _| keep(*r));
    }

    /// Series with deletions and their intervals, in series order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Intervals)> {
        self.by_series.iter().map(|(r, iv)| (*r, iv))
    }

    /// Total number of intervals (the `numTombstones` of a block's stats).
    pub fn num_intervals(&self) -> u64 {
        self.by_series.values().map(|iv| iv.len() as u64).sum()
    }

    /// True when nothing is deleted.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// The complete file contents.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 12 * self.by_series.len());
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.push(VERSION);
        for (r, ivs) in &self.by_series {
            for iv in ivs.as_slice() {
                put_uvarint(&mut out, *r);
                put_varint(&mut out, iv.mint);
                put_varint(&mut out, iv.maxt);
            }
        }
        let crc = crc32c(&out[5..]);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses file contents; `path` names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Tombstones> {
        let bad = |offset: usize, detail: String| {
            Error::corrupted(path, "tombstones", offset as u64, detail)
        };
        if bytes.len() < 9 {
            return Err(bad(
                0,
                format!(
                    "file is {} bytes, shorter than the 9-byte minimum",
                    bytes.len()
                ),
            ));
        }
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if magic != MAGIC {
            return Err(bad(
                0,
                format!("bad magic {magic:#010x}, want {MAGIC:#010x}"),
            ));
        }
        if bytes[4] != VERSION {
            return Err(bad(4, format!("unsupported version {}", bytes[4])));
        }
        let body_end = bytes.len() - 4;
        let body = &bytes[5..body_end];
        let want = u32::from_be_bytes([
            bytes[body_end],
            bytes[body_end + 1],
            bytes[body_end + 2],
            bytes[body_end + 3],
        ]);
        let got = crc32c(body);
        if got != want {
            return Err(bad(
                body_end,
                format!("CRC-32C mismatch: stored {want:#010x}, computed {got:#010x}"),
            ));
        }
        let mut t = Tombstones::new();
        let mut d = Decoder::new(body);
        while d.remaining() > 0 {
            let at = 5 + d.position();
            let entry = (|| {
                Ok::<_, crate::encoding::DecodeError>((d.uvarint()?, d.varint()?, d.varint()?))
            })();
            let (r, mint, maxt) = entry.map_err(|e| bad(at, format!("entry: {e}")))?;
            if mint > maxt {
                return Err(bad(
                    at,
                    format!("interval [{mint}, {maxt}] ends before it starts"),
                ));
            }
            t.add(r, Interval { mint, maxt });
        }
        Ok(t)
    }

    /// Reads `<dir>/tombstones`; a block without the file has no tombstones.
    pub fn read(dir: &Path) -> Result<Tombstones> {
        let path = dir.join(FILENAME);
        match std::fs::read(&path) {
            Ok(b) => Tombstones::decode(&b, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::new()),
            Err(e) => Err(Error::io("read", &path, e)),
        }
    }

    /// Writes `<dir>/tombstones` atomically and returns its size in bytes.
    pub fn write(&self, dir: &Path) -> Result<u64> {
        let bytes = self.encode();
        fileutil::write_atomic(&dir.join(FILENAME), &bytes)?;
        Ok(bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(mint: i64, maxt: i64) -> Interval {
        Interval { mint, maxt }
    }

    #[test]
    fn empty_file_matches_prometheus_bytes() {
        // What Prometheus writes for a block without deletions.
        assert_eq!(
            Tombstones::new().encode(),
            [0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0]
        );
    }

    #[test]
    fn intervals_merge_when_overlapping_or_touching() {
        let mut ivs = Intervals::default();
        ivs.add(iv(10, 20));
        ivs.add(iv(30, 40));
        ivs.add(iv(0, 5));
        assert_eq!(ivs.as_slice(), &[iv(0, 5), iv(10, 20), iv(30, 40)]);
        ivs.add(iv(21, 29)); // touches both neighbours
        assert_eq!(ivs.as_slice(), &[iv(0, 5), iv(10, 40)]);
        ivs.add(iv(-100, 100));
        assert_eq!(ivs.as_slice(), &[iv(-100, 100)]);
        assert!(ivs.contains(-100) && ivs.contains(100) && !ivs.contains(101));
        assert!(ivs.covers(0, 50));
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tombstones::new();
        t.add(7, iv(-5, 5));
        t.add(3, iv(100, 200));
        t.add(3, iv(300, i64::MAX));
        let size = t.write(dir.path()).unwrap();
        assert_eq!(
            size,
            std::fs::metadata(dir.path().join(FILENAME)).unwrap().len()
        );
        let back = Tombstones::read(dir.path()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.num_intervals(), 3);
    }

    #[test]
    fn missing_file_means_no_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Tombstones::read(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn every_corruption_is_an_error_naming_the_file() {
        let mut t = Tombstones::new();
        t.add(1, iv(1, 2));
        t.add(2, iv(3, 4));
        let good = t.encode();
        let p = Path::new("blk/tombstones");
        for len in 0..good.len() {
            let err = Tombstones::decode(&good[..len], p).unwrap_err();
            assert!(err.to_string().contains("blk/tombstones"), "{err}");
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                assert!(
                    Tombstones::decode(&b, p).is_err(),
                    "flip byte {i} bit {bit}"
                );
            }
        }
    }
}
